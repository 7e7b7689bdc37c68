//! ModuleAccount: the account's balance broken down, its ledger by date range, and statements
//! with a short-lived link to each PDF. Handlers re-check the feature and call
//! `portal_core::patient::account`, where the rules live.

use axum::extract::{Path, State};
use axum::http::Method;
use portal_core::patient::account::{Account, LedgerLine, StatementView, Summary};
use portal_core::ports::{Blobs, Clock, Db, Ports, Table};
use portal_core::reads::{Listing, PageRequest, SignedFile};
use portal_core::sync::records::DateRange;
use portal_core::Feature;
use portal_http::{page_limit, Api, ApiResult, ForPatient, Json, Meta, PatientPage, Principal, Query};
use serde::Deserialize;
use std::sync::Arc;

#[derive(Clone)]
pub struct Deps {
    pub table: Arc<dyn Table>,
    pub clock: Arc<dyn Clock>,
    pub blobs: Arc<dyn Blobs>,
}

impl From<&Ports> for Deps {
    fn from(p: &Ports) -> Self {
        Deps { table: p.table.clone(), clock: p.clock.clone(), blobs: p.blobs.clone() }
    }
}

impl Deps {
    /// The table and the clock, for building a use case.
    fn db(&self) -> Db<'_> {
        Db { table: self.table.as_ref(), clock: self.clock.as_ref() }
    }

    fn account(&self) -> Account<'_> {
        Account { db: self.db(), blobs: self.blobs.as_ref() }
    }
}

pub fn api() -> Api<Deps> {
    Api::new()
        .route(Method::GET, "/v1/account/summary", summary)
        .route(Method::GET, "/v1/account/ledger", ledger)
        .route(Method::GET, "/v1/account/statements", statements)
        .route(Method::GET, "/v1/account/statements/{id}/file", statement_file)
}

pub fn router(deps: Deps) -> axum::Router {
    api().into_router(deps)
}

/// The routes with their state, to merge with the other functions' (the local host).
pub fn routes(ports: &Ports) -> axum::Router {
    api().into_routes(Deps::from(ports))
}

async fn summary(State(d): State<Deps>, Meta(meta): Meta, p: Principal, Query(q): Query<ForPatient>) -> ApiResult<Json<Summary>> {
    let caller = p.patient(Feature::ModuleAccount, &meta)?;
    let online_payments = p.0.features.contains(&Feature::MakePayments);
    Ok(Json(d.account().summary(&caller, q.patient.as_deref(), online_payments).await?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LedgerQuery {
    patient: Option<String>,
    from: Option<String>,
    to: Option<String>,
    limit: Option<usize>,
    cursor: Option<String>,
}

async fn ledger(
    State(d): State<Deps>,
    Meta(meta): Meta,
    p: Principal,
    Query(q): Query<LedgerQuery>,
) -> ApiResult<Json<Listing<LedgerLine>>> {
    let caller = p.patient(Feature::ModuleAccount, &meta)?;
    let range = DateRange::parse(q.from.as_deref(), q.to.as_deref())?;
    let page = PageRequest::new(page_limit(q.limit, 50, 200)?, q.cursor);
    Ok(Json(d.account().ledger(&caller, q.patient.as_deref(), &range, page).await?))
}

async fn statements(
    State(d): State<Deps>,
    Meta(meta): Meta,
    p: Principal,
    Query(q): Query<PatientPage>,
) -> ApiResult<Json<Listing<StatementView>>> {
    let caller = p.patient(Feature::ModuleAccount, &meta)?;
    Ok(Json(d.account().statements(&caller, q.patient.as_deref(), q.page(24, 100)?).await?))
}

async fn statement_file(
    State(d): State<Deps>,
    Meta(meta): Meta,
    p: Principal,
    Path(id): Path<String>,
    Query(q): Query<ForPatient>,
) -> ApiResult<Json<SignedFile>> {
    let caller = p.patient(Feature::ModuleAccount, &meta)?;
    Ok(Json(d.account().statement_file(&caller, q.patient.as_deref(), &id).await?))
}
