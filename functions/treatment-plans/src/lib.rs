//! ModuleTreatmentPlan: a patient's saved treatment plans with their procedures and totals. The
//! handler re-checks the feature and calls `portal_core::patient::treatment_plans`.

use axum::extract::State;
use axum::http::Method;
use portal_core::patient::treatment_plans::{PlanView, TreatmentPlans};
use portal_core::ports::{Clock, Db, Ports, Table};
use portal_core::reads::Listing;
use portal_core::Feature;
use portal_http::{Api, ApiResult, Json, Meta, PatientPage, Principal, Query};
use std::sync::Arc;

#[derive(Clone)]
pub struct Deps {
    pub table: Arc<dyn Table>,
    pub clock: Arc<dyn Clock>,
}

impl From<&Ports> for Deps {
    fn from(p: &Ports) -> Self {
        Deps { table: p.table.clone(), clock: p.clock.clone() }
    }
}

impl Deps {
    /// The table and the clock, for building a use case.
    fn db(&self) -> Db<'_> {
        Db { table: self.table.as_ref(), clock: self.clock.as_ref() }
    }
}

pub fn api() -> Api<Deps> {
    Api::new().route(Method::GET, "/v1/treatment-plans", list)
}

pub fn router(deps: Deps) -> axum::Router {
    api().into_router(deps)
}

/// The routes with their state, to merge with the other functions' (the local host).
pub fn routes(ports: &Ports) -> axum::Router {
    api().into_routes(Deps::from(ports))
}

async fn list(State(d): State<Deps>, Meta(meta): Meta, p: Principal, Query(q): Query<PatientPage>) -> ApiResult<Json<Listing<PlanView>>> {
    let caller = p.patient(Feature::ModuleTreatmentPlan, &meta)?;
    let plans = TreatmentPlans { db: d.db() };
    Ok(Json(plans.list(&caller, q.patient.as_deref(), q.page(20, 100)?).await?))
}
