//! MakePayments: a patient starts a payment (`POST /v1/payments`), follows it until the
//! processor approves or declines it (`GET /v1/payments/{id}`), and sees the account's payment
//! history; the processor's webhook (`POST /v1/webhooks/stripe/{practice}`, no session: its
//! signature is the check) settles payments too; staff list payments, refund (admins) and assign
//! unmatched guest payments, and edit and test the payment setup. Handlers re-check
//! access and call `portal_core::payments`, where the rules live.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, Method, StatusCode};
use portal_core::access::Access;
use portal_core::identity::session::StaffRole;
use portal_core::ids::PracticeId;
use portal_core::payments::guest::{GuestProof, GuestStart};
use portal_core::payments::office::{OfficeFilter, OfficePayment, RefundRequest};
use portal_core::payments::setup::{Connection, PaymentSetups, SetupChange, SetupView};
use portal_core::payments::{CardRequest, CardResult, PaymentView, Payments, StartRequest, Started};
use portal_core::ports::Processors;
use portal_core::ports::{Clock, Db, Events, Ports, ProcessorKind, SecretBox, Table};
use portal_core::reads::Listing;
use portal_core::reads::PageRequest;
use portal_core::{CoreError, Feature};
use portal_http::{page_limit, read_body, Api, ApiResult, ForPatient, Json, Meta, PatientPage, Principal, Query};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

#[derive(Clone)]
pub struct Deps {
    pub table: Arc<dyn Table>,
    pub clock: Arc<dyn Clock>,
    pub events: Arc<dyn Events>,
    pub secrets: Arc<dyn SecretBox>,
    pub processors: Processors,
}

impl From<&Ports> for Deps {
    fn from(p: &Ports) -> Self {
        Deps {
            table: p.table.clone(),
            clock: p.clock.clone(),
            events: p.events.clone(),
            secrets: p.secrets.clone(),
            processors: p.processors.clone(),
        }
    }
}

impl Deps {
    /// The table and the clock, for building a use case.
    fn db(&self) -> Db<'_> {
        Db { table: self.table.as_ref(), clock: self.clock.as_ref() }
    }

    fn payments(&self) -> Payments<'_> {
        Payments { db: self.db(), events: self.events.as_ref(), secrets: self.secrets.as_ref(), processors: &self.processors }
    }

    fn setups(&self) -> PaymentSetups<'_> {
        PaymentSetups { db: self.db(), secrets: self.secrets.as_ref(), processors: &self.processors }
    }
}

/// A webhook delivery is at most this large (Stripe's events are a few kilobytes).
const WEBHOOK_MAX_BYTES: usize = 256 * 1024;

pub fn api() -> Api<Deps> {
    Api::new()
        .route(Method::POST, "/v1/payments", start)
        .route(Method::GET, "/v1/payments", history)
        .route(Method::GET, "/v1/payments/{id}", one)
        .route(Method::POST, "/v1/payments/{id}/card", card)
        .route(Method::POST, "/v1/public/payments", guest_start)
        .route(Method::POST, "/v1/public/payments/{id}/status", guest_status)
        .route(Method::POST, "/v1/public/payments/{id}/card", guest_card)
        .route(Method::POST, "/v1/webhooks/stripe/{practice}", stripe_webhook)
        .route(Method::GET, "/v1/admin/payments", office_list)
        .route(Method::GET, "/v1/admin/payments/{id}", office_get)
        .route(Method::POST, "/v1/admin/payments/{id}/refund", refund)
        .route(Method::POST, "/v1/admin/payments/{id}/assign", assign)
        .route(Method::GET, "/v1/admin/payments/setup", get_setup)
        .route(Method::PUT, "/v1/admin/payments/setup", put_setup)
        .route(Method::POST, "/v1/admin/payments/setup/test", test_setup)
}

pub fn router(deps: Deps) -> axum::Router {
    api().into_router(deps)
}

/// The routes with their state, to merge with the other functions' (the local host).
pub fn routes(ports: &Ports) -> axum::Router {
    api().into_routes(Deps::from(ports))
}

async fn start(
    State(d): State<Deps>,
    Meta(meta): Meta,
    p: Principal,
    Query(q): Query<ForPatient>,
    Json(body): Json<StartRequest>,
) -> ApiResult<(StatusCode, Json<Started>)> {
    let caller = p.patient(Feature::MakePayments, &meta)?;
    let started = d.payments().start(&caller, q.patient.as_deref(), body, &p.0.practice_name).await?;
    Ok((StatusCode::CREATED, Json(started)))
}

async fn history(
    State(d): State<Deps>,
    Meta(meta): Meta,
    p: Principal,
    Query(q): Query<PatientPage>,
) -> ApiResult<Json<Listing<PaymentView>>> {
    let caller = p.patient(Feature::MakePayments, &meta)?;
    Ok(Json(d.payments().history(&caller, q.patient.as_deref(), q.page(20, 100)?).await?))
}

async fn one(State(d): State<Deps>, Meta(meta): Meta, p: Principal, Path(id): Path<String>) -> ApiResult<Json<PaymentView>> {
    let caller = p.patient(Feature::MakePayments, &meta)?;
    Ok(Json(d.payments().get(&caller, &id).await?))
}

async fn card(
    State(d): State<Deps>,
    Meta(meta): Meta,
    p: Principal,
    Path(id): Path<String>,
    Json(body): Json<CardRequest>,
) -> ApiResult<Json<CardResult>> {
    let caller = p.patient(Feature::MakePayments, &meta)?;
    Ok(Json(d.payments().pay_card(&caller, &id, &body.token).await?))
}

/// Pay without logging in: no session, so the practice comes from the body (like a login), and
/// the answer never says whether the details matched a patient.
async fn guest_start(State(d): State<Deps>, Meta(meta): Meta, Json(body): Json<GuestStart>) -> ApiResult<(StatusCode, Json<Started>)> {
    let started = d.payments().start_guest(meta.source_ip.as_deref(), body).await?;
    Ok((StatusCode::CREATED, Json(started)))
}

async fn guest_status(
    State(d): State<Deps>,
    Meta(meta): Meta,
    Path(id): Path<String>,
    Json(body): Json<GuestProof>,
) -> ApiResult<Json<PaymentView>> {
    Ok(Json(d.payments().guest_status(meta.source_ip.as_deref(), &id, &body).await?))
}

async fn guest_card(
    State(d): State<Deps>,
    Meta(meta): Meta,
    Path(id): Path<String>,
    Json(body): Json<GuestProof>,
) -> ApiResult<Json<CardResult>> {
    Ok(Json(d.payments().guest_card(meta.source_ip.as_deref(), &id, &body).await?))
}

#[derive(Serialize)]
struct Received {
    received: bool,
}

/// Stripe's delivery: the raw body, as signed. An unknown practice, or one that does not take
/// payments through Stripe, answers 404 like any unknown address.
async fn stripe_webhook(
    State(d): State<Deps>,
    Path(practice): Path<String>,
    headers: HeaderMap,
    body: axum::body::Body,
) -> ApiResult<Json<Received>> {
    let practice = PracticeId::parse(&practice).ok_or(CoreError::NotFound)?;
    let signature = headers.get("stripe-signature").and_then(|v| v.to_str().ok()).unwrap_or_default();
    let body = read_body(body, WEBHOOK_MAX_BYTES).await?;
    d.payments().webhook(&practice, ProcessorKind::Stripe, signature, &body).await?;
    Ok(Json(Received { received: true }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct OfficeQuery {
    status: Option<String>,
    limit: Option<usize>,
    cursor: Option<String>,
}

async fn office_list(
    State(d): State<Deps>,
    Meta(meta): Meta,
    p: Principal,
    Query(q): Query<OfficeQuery>,
) -> ApiResult<Json<Listing<OfficePayment>>> {
    let c = p.require(Access::Staff(StaffRole::FrontDesk))?;
    let filter = OfficeFilter::parse(q.status.as_deref())?;
    let page = PageRequest::new(page_limit(q.limit, 50, 200)?, q.cursor);
    Ok(Json(d.payments().office_list(&c.actor(&meta), filter, page).await?))
}

async fn office_get(State(d): State<Deps>, Meta(meta): Meta, p: Principal, Path(id): Path<String>) -> ApiResult<Json<OfficePayment>> {
    let c = p.require(Access::Staff(StaffRole::FrontDesk))?;
    Ok(Json(d.payments().office_get(&c.actor(&meta), &id).await?))
}

async fn refund(
    State(d): State<Deps>,
    Meta(meta): Meta,
    p: Principal,
    Path(id): Path<String>,
    Json(body): Json<RefundRequest>,
) -> ApiResult<Json<OfficePayment>> {
    let c = p.require(Access::Staff(StaffRole::Admin))?;
    Ok(Json(d.payments().refund(&c.actor(&meta), &id, body).await?))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct AssignBody {
    patient_id: String,
}

async fn assign(
    State(d): State<Deps>,
    Meta(meta): Meta,
    p: Principal,
    Path(id): Path<String>,
    Json(body): Json<AssignBody>,
) -> ApiResult<Json<OfficePayment>> {
    let c = p.require(Access::Staff(StaffRole::Admin))?;
    Ok(Json(d.payments().assign(&c.actor(&meta), &id, &body.patient_id).await?))
}

async fn test_setup(State(d): State<Deps>, Meta(meta): Meta, p: Principal) -> ApiResult<Json<Connection>> {
    let c = p.require(Access::Staff(StaffRole::Admin))?;
    Ok(Json(d.setups().test_connection(&c.actor(&meta)).await?))
}

async fn get_setup(State(d): State<Deps>, p: Principal) -> ApiResult<Json<SetupView>> {
    let c = p.require(Access::Staff(StaffRole::FrontDesk))?;
    Ok(Json(d.setups().view(&c.practice_id).await?))
}

async fn put_setup(State(d): State<Deps>, Meta(meta): Meta, p: Principal, Json(change): Json<SetupChange>) -> ApiResult<Json<SetupView>> {
    let c = p.require(Access::Staff(StaffRole::Admin))?;
    Ok(Json(d.setups().save(&c.actor(&meta), change).await?))
}
