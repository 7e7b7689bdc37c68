//! ModuleCareSummary: a patient's care summary — view it over a date range, download it as a
//! C-CDA document with its readable rendering (one zip, a short-lived link and its SHA-256),
//! send it by email, and see the history of all three. Each handler re-checks the feature and
//! calls `portal_core::patient::care_summary`.

use axum::extract::State;
use axum::http::{Method, StatusCode};
use portal_core::access::Access;
use portal_core::patient::care_summary::{ActivityEntry, CareSummaries, Download, Summary, Transmission};
use portal_core::ports::{Blobs, Clock, Db, Mailer, Ports, Table};
use portal_core::Feature;
use portal_http::{Api, ApiResult, ForPatient, Json, Meta, Principal, Query};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

#[derive(Clone)]
pub struct Deps {
    pub table: Arc<dyn Table>,
    pub clock: Arc<dyn Clock>,
    /// Downloads are stored here and served by signed link.
    pub blobs: Arc<dyn Blobs>,
    /// Summaries sent at the patient's request.
    pub mailer: Arc<dyn Mailer>,
}

impl From<&Ports> for Deps {
    fn from(p: &Ports) -> Self {
        Deps { table: p.table.clone(), clock: p.clock.clone(), blobs: p.blobs.clone(), mailer: p.mailer.clone() }
    }
}

impl Deps {
    /// The table and the clock, for building a use case.
    fn db(&self) -> Db<'_> {
        Db { table: self.table.as_ref(), clock: self.clock.as_ref() }
    }

    fn summaries(&self) -> CareSummaries<'_> {
        CareSummaries { db: self.db() }
    }
}

pub fn api() -> Api<Deps> {
    Api::new()
        .route(Method::GET, "/v1/care-summary", view)
        .route(Method::POST, "/v1/care-summary/download", download)
        .route(Method::POST, "/v1/care-summary/transmit", transmit)
        .route(Method::GET, "/v1/care-summary/activity", activity)
}

pub fn router(deps: Deps) -> axum::Router {
    api().into_router(deps)
}

/// The routes with their state, to merge with the other functions' (the local host).
pub fn routes(ports: &Ports) -> axum::Router {
    api().into_routes(Deps::from(ports))
}

/// The caller and their practice's name (the document names its custodian).
fn caller(
    p: &Principal,
    meta: &portal_core::identity::login::RequestMeta,
) -> Result<(portal_core::reads::Caller, String), portal_http::ApiError> {
    let caller = p.patient(Feature::ModuleCareSummary, meta)?;
    let practice_name = p.require(Access::Feature(Feature::ModuleCareSummary))?.practice_name.clone();
    Ok((caller, practice_name))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RangeQuery {
    patient: Option<String>,
    from: Option<String>,
    to: Option<String>,
}

async fn view(State(d): State<Deps>, Meta(meta): Meta, p: Principal, Query(q): Query<RangeQuery>) -> ApiResult<Json<Summary>> {
    let (caller, practice_name) = caller(&p, &meta)?;
    let range = (q.from.as_deref(), q.to.as_deref());
    Ok(Json(d.summaries().view(&caller, &practice_name, q.patient.as_deref(), range).await?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DownloadBody {
    from: Option<String>,
    to: Option<String>,
}

async fn download(
    State(d): State<Deps>,
    Meta(meta): Meta,
    p: Principal,
    Query(q): Query<ForPatient>,
    Json(body): Json<DownloadBody>,
) -> ApiResult<Json<Download>> {
    let (caller, practice_name) = caller(&p, &meta)?;
    let range = (body.from.as_deref(), body.to.as_deref());
    Ok(Json(d.summaries().download(&caller, &practice_name, q.patient.as_deref(), range, d.blobs.as_ref()).await?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TransmitBody {
    to: String,
    encrypted: bool,
}

async fn transmit(
    State(d): State<Deps>,
    Meta(meta): Meta,
    p: Principal,
    Query(q): Query<ForPatient>,
    Json(body): Json<TransmitBody>,
) -> ApiResult<(StatusCode, Json<Transmission>)> {
    let (caller, practice_name) = caller(&p, &meta)?;
    let sent = d.summaries().transmit(&caller, &practice_name, q.patient.as_deref(), (&body.to, body.encrypted), d.mailer.as_ref()).await?;
    Ok((StatusCode::ACCEPTED, Json(sent)))
}

#[derive(Serialize)]
struct Activity {
    items: Vec<ActivityEntry>,
}

async fn activity(State(d): State<Deps>, Meta(meta): Meta, p: Principal, Query(q): Query<ForPatient>) -> ApiResult<Json<Activity>> {
    let (caller, _) = caller(&p, &meta)?;
    Ok(Json(Activity { items: d.summaries().activity(&caller, q.patient.as_deref()).await? }))
}
