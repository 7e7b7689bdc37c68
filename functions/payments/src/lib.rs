//! MakePayments: a patient starts a payment (`POST /v1/payments`), follows it until the
//! processor approves or declines it (`GET /v1/payments/{id}`), and sees the account's payment
//! history; the processor's webhook (`POST /v1/webhooks/stripe/{practice}`, no session: its
//! signature is the check) settles payments too; staff edit the payment setup. Handlers re-check
//! access and call `portal_core::payments`, where the rules live.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, Method, StatusCode};
use portal_core::access::Access;
use portal_core::identity::session::StaffRole;
use portal_core::ids::PracticeId;
use portal_core::patient::Listing;
use portal_core::payments::setup::{PaymentSetups, SetupChange, SetupView};
use portal_core::payments::{CardRequest, CardResult, PaymentView, Payments, Processors, StartRequest, Started};
use portal_core::ports::{Clock, Events, Ports, ProcessorKind, SecretBox, Table};
use portal_core::{CoreError, Feature};
use portal_http::{read_body, Api, ApiResult, ForPatient, Json, Meta, PatientPage, Principal, Query};
use serde::Serialize;
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
    fn payments(&self) -> Payments<'_> {
        Payments {
            table: self.table.as_ref(),
            clock: self.clock.as_ref(),
            events: self.events.as_ref(),
            secrets: self.secrets.as_ref(),
            processors: &self.processors,
        }
    }

    fn setups(&self) -> PaymentSetups<'_> {
        PaymentSetups {
            table: self.table.as_ref(),
            clock: self.clock.as_ref(),
            secrets: self.secrets.as_ref(),
            processors: &self.processors,
        }
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
        .route(Method::POST, "/v1/webhooks/stripe/{practice}", stripe_webhook)
        .route(Method::GET, "/v1/admin/payments/setup", get_setup)
        .route(Method::PUT, "/v1/admin/payments/setup", put_setup)
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
    d.payments().webhook(practice.as_str(), ProcessorKind::Stripe, signature, &body).await?;
    Ok(Json(Received { received: true }))
}

async fn get_setup(State(d): State<Deps>, p: Principal) -> ApiResult<Json<SetupView>> {
    let c = p.require(Access::Staff(StaffRole::FrontDesk))?;
    Ok(Json(d.setups().view(&c.practice_id).await?))
}

async fn put_setup(State(d): State<Deps>, Meta(meta): Meta, p: Principal, Json(change): Json<SetupChange>) -> ApiResult<Json<SetupView>> {
    let c = p.require(Access::Staff(StaffRole::Admin))?;
    Ok(Json(d.setups().save(&c.actor(&meta), change).await?))
}
