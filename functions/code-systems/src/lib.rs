//! Code systems, as the practice's staff import them: each system's active version, the releases
//! in the practice's release location, starting an import (admins), following its progress and
//! cancelling it. The import itself runs as a workflow (`portal-code-import` on Step Functions,
//! in process locally); the rules are in core (`code_systems`).

use axum::extract::{Path, State};
use axum::http::{Method, StatusCode};
use portal_core::access::Access;
use portal_core::clock::rfc3339;
use portal_core::code_systems::import::{CodeSystemState, ImportFailure, ImportState, ImportStatus, Importer};
use portal_core::code_systems::releases::{Release, Releases};
use portal_core::code_systems::System;
use portal_core::identity::session::StaffRole;
use portal_core::ports::{Blobs, Clock, Db, Ports, Table, Workflows};
use portal_http::{Api, ApiResult, Json, Meta, Principal};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

#[derive(Clone)]
pub struct Deps {
    pub table: Arc<dyn Table>,
    pub clock: Arc<dyn Clock>,
    /// The release location.
    pub blobs: Arc<dyn Blobs>,
    pub workflows: Arc<dyn Workflows>,
}

impl From<&Ports> for Deps {
    fn from(p: &Ports) -> Self {
        Deps { table: p.table.clone(), clock: p.clock.clone(), blobs: p.blobs.clone(), workflows: p.workflows.clone() }
    }
}

impl Deps {
    /// The table and the clock, for building a use case.
    fn db(&self) -> Db<'_> {
        Db { table: self.table.as_ref(), clock: self.clock.as_ref() }
    }

    fn importer(&self) -> Importer<'_> {
        Importer::new(self.db(), self.blobs.as_ref())
    }
}

pub fn api() -> Api<Deps> {
    Api::new()
        .route(Method::GET, "/v1/admin/code-systems", systems)
        .route(Method::GET, "/v1/admin/code-systems/releases", releases)
        .route(Method::POST, "/v1/admin/code-systems/imports", start)
        .route(Method::GET, "/v1/admin/code-systems/imports/{id}", status)
        .route(Method::DELETE, "/v1/admin/code-systems/imports/{id}", cancel)
}

pub fn router(deps: Deps) -> axum::Router {
    api().into_router(deps)
}

/// The routes with their state, to merge with the other functions' (the local host).
pub fn routes(ports: &Ports) -> axum::Router {
    api().into_routes(Deps::from(ports))
}

const VIEW: Access = Access::Staff(StaffRole::FrontDesk);
const IMPORT: Access = Access::Staff(StaffRole::Admin);

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ActiveView {
    version: String,
    rows: u64,
    imported_at: String,
    imported_by: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct LastView {
    id: String,
    release: String,
    state: ImportState,
    finished_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<ImportFailure>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SystemView {
    system: System,
    title: &'static str,
    active: Option<ActiveView>,
    /// The import running now.
    running: Option<String>,
    last: Option<LastView>,
}

impl From<CodeSystemState> for SystemView {
    fn from(s: CodeSystemState) -> Self {
        SystemView {
            system: s.system,
            title: s.system.title(),
            active: s.active.map(|a| ActiveView {
                version: a.version,
                rows: a.rows,
                imported_at: rfc3339(a.imported_at),
                imported_by: a.imported_by,
            }),
            running: s.running,
            last: s.last.map(|l| LastView {
                id: l.id,
                release: l.release,
                state: l.state,
                finished_at: l.finished_at.map(rfc3339),
                error: l.error,
            }),
        }
    }
}

#[derive(Serialize)]
struct SystemList {
    systems: Vec<SystemView>,
}

async fn systems(State(d): State<Deps>, p: Principal) -> ApiResult<Json<SystemList>> {
    let c = p.require(VIEW)?;
    let systems = d.importer().systems(&c.practice_id).await?;
    Ok(Json(SystemList { systems: systems.into_iter().map(SystemView::from).collect() }))
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ReleaseList {
    /// Where to put releases (the folder or S3 prefix, relative to the store).
    location: String,
    releases: Vec<Release>,
}

async fn releases(State(d): State<Deps>, p: Principal) -> ApiResult<Json<ReleaseList>> {
    let c = p.require(VIEW)?;
    let releases = Releases { blobs: d.blobs.as_ref() }.list(&c.practice_id).await?;
    let location = portal_core::code_systems::releases::location(&c.practice_id);
    Ok(Json(ReleaseList { location, releases }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StartImport {
    system: String,
    release: String,
}

#[derive(Serialize)]
struct Started {
    id: String,
}

async fn start(State(d): State<Deps>, meta: Meta, p: Principal, Json(body): Json<StartImport>) -> ApiResult<(StatusCode, Json<Started>)> {
    let c = p.require(IMPORT)?;
    let system = System::importable(&body.system)?;
    let job = d.importer().start(&c.actor(&meta.0), &c.username, system, &body.release, d.workflows.as_ref()).await?;
    Ok((StatusCode::ACCEPTED, Json(Started { id: job.id })))
}

async fn status(State(d): State<Deps>, p: Principal, Path(id): Path<String>) -> ApiResult<Json<ImportStatus>> {
    let c = p.require(VIEW)?;
    Ok(Json(d.importer().status(&c.practice_id, &id).await?))
}

async fn cancel(State(d): State<Deps>, p: Principal, Path(id): Path<String>) -> ApiResult<Json<ImportStatus>> {
    let c = p.require(IMPORT)?;
    Ok(Json(d.importer().cancel(&c.practice_id, &id).await?))
}
