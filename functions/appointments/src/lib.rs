//! MakeAppointments: upcoming and past appointments, confirming a pending eConfirmation, asking
//! the office to cancel or reschedule, and booking a due recall into an open slot. Handlers re-check the feature and call
//! `portal_core::patient::appointments`, where the rules (and the one conditional write that
//! decides a race for a slot) live.

use axum::extract::{Path, State};
use axum::http::{Method, StatusCode};
use portal_core::patient::appointments::{AppointmentBook, AppointmentView, Appointments, Booked, Confirmed, RecallView};
use portal_core::patient::ProviderNames;
use portal_core::ports::{Clock, Db, Events, Ports, Table};
use portal_core::sync::entities::ChangeKind;
use portal_core::Feature;
use portal_http::{Api, ApiResult, ForPatient, Json, Meta, PatientPage, Principal, Query};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

#[derive(Clone)]
pub struct Deps {
    pub table: Arc<dyn Table>,
    pub clock: Arc<dyn Clock>,
    pub events: Arc<dyn Events>,
    /// Provider names, cached for a minute per container.
    pub providers: Arc<ProviderNames>,
}

impl From<&Ports> for Deps {
    fn from(p: &Ports) -> Self {
        Deps { table: p.table.clone(), clock: p.clock.clone(), events: p.events.clone(), providers: Arc::new(ProviderNames::new(60)) }
    }
}

impl Deps {
    /// The table and the clock, for building a use case.
    fn db(&self) -> Db<'_> {
        Db { table: self.table.as_ref(), clock: self.clock.as_ref() }
    }

    fn book(&self) -> AppointmentBook<'_> {
        AppointmentBook { db: self.db(), events: self.events.as_ref(), providers: &self.providers }
    }
}

pub fn api() -> Api<Deps> {
    Api::new()
        .route(Method::GET, "/v1/appointments", list)
        .route(Method::POST, "/v1/appointments/{id}/confirm", confirm)
        .route(Method::POST, "/v1/appointments/{id}/change-request", request_change)
        .route(Method::GET, "/v1/appointments/recalls", recalls)
        .route(Method::POST, "/v1/appointments/recalls/{recall_id}/book", book)
}

pub fn router(deps: Deps) -> axum::Router {
    api().into_router(deps)
}

/// The routes with their state, to merge with the other functions' (the local host).
pub fn routes(ports: &Ports) -> axum::Router {
    api().into_routes(Deps::from(ports))
}

async fn list(State(d): State<Deps>, Meta(meta): Meta, p: Principal, Query(q): Query<PatientPage>) -> ApiResult<Json<Appointments>> {
    let caller = p.patient(Feature::MakeAppointments, &meta)?;
    Ok(Json(d.book().list(&caller, q.patient.as_deref(), q.page(50, 100)?).await?))
}

async fn confirm(
    State(d): State<Deps>,
    Meta(meta): Meta,
    p: Principal,
    Path(id): Path<String>,
    Query(q): Query<ForPatient>,
) -> ApiResult<Json<Confirmed>> {
    let caller = p.patient(Feature::MakeAppointments, &meta)?;
    Ok(Json(d.book().confirm(&caller, q.patient.as_deref(), &id).await?))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct ChangeBody {
    kind: ChangeKind,
    #[serde(default, deserialize_with = "portal_core::text::present")]
    note: Option<String>,
}

async fn request_change(
    State(d): State<Deps>,
    Meta(meta): Meta,
    p: Principal,
    Path(id): Path<String>,
    Query(q): Query<ForPatient>,
    Json(b): Json<ChangeBody>,
) -> ApiResult<Json<AppointmentView>> {
    let caller = p.patient(Feature::MakeAppointments, &meta)?;
    Ok(Json(d.book().request_change(&caller, q.patient.as_deref(), &id, b.kind, b.note.as_deref()).await?))
}

#[derive(Serialize)]
struct Recalls {
    items: Vec<RecallView>,
}

async fn recalls(State(d): State<Deps>, Meta(meta): Meta, p: Principal, Query(q): Query<ForPatient>) -> ApiResult<Json<Recalls>> {
    let caller = p.patient(Feature::MakeAppointments, &meta)?;
    Ok(Json(Recalls { items: d.book().recalls(&caller, q.patient.as_deref()).await? }))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct BookBody {
    slot_id: String,
}

async fn book(
    State(d): State<Deps>,
    Meta(meta): Meta,
    p: Principal,
    Path(recall_id): Path<String>,
    Query(q): Query<ForPatient>,
    Json(b): Json<BookBody>,
) -> ApiResult<(StatusCode, Json<Booked>)> {
    let caller = p.patient(Feature::MakeAppointments, &meta)?;
    Ok((StatusCode::CREATED, Json(d.book().book(&caller, q.patient.as_deref(), &recall_id, &b.slot_id).await?)))
}
