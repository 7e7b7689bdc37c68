//! ModuleImages: the documents and images a practice shares to the portal, with thumbnails, and a
//! short-lived link to each file. Handlers re-check the feature and call
//! `portal_core::patient::images`.

use axum::extract::{Path, State};
use axum::http::Method;
use portal_core::patient::images::{ImageView, Images};
use portal_core::ports::{Blobs, Clock, Db, Ports, Table};
use portal_core::reads::{Listing, SignedFile};
use portal_core::Feature;
use portal_http::{Api, ApiResult, ForPatient, Json, Meta, PatientPage, Principal, Query};
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

    fn images(&self) -> Images<'_> {
        Images { db: self.db(), blobs: self.blobs.as_ref() }
    }
}

pub fn api() -> Api<Deps> {
    Api::new().route(Method::GET, "/v1/images", list).route(Method::GET, "/v1/images/{id}/file", file)
}

pub fn router(deps: Deps) -> axum::Router {
    api().into_router(deps)
}

/// The routes with their state, to merge with the other functions' (the local host).
pub fn routes(ports: &Ports) -> axum::Router {
    api().into_routes(Deps::from(ports))
}

async fn list(State(d): State<Deps>, Meta(meta): Meta, p: Principal, Query(q): Query<PatientPage>) -> ApiResult<Json<Listing<ImageView>>> {
    let caller = p.patient(Feature::ModuleImages, &meta)?;
    Ok(Json(d.images().list(&caller, q.patient.as_deref(), q.page(50, 100)?).await?))
}

async fn file(
    State(d): State<Deps>,
    Meta(meta): Meta,
    p: Principal,
    Path(id): Path<String>,
    Query(q): Query<ForPatient>,
) -> ApiResult<Json<SignedFile>> {
    let caller = p.patient(Feature::ModuleImages, &meta)?;
    Ok(Json(d.images().file(&caller, q.patient.as_deref(), &id).await?))
}
