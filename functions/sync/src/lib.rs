//! The sync API: the practice's on-site system pushes its data up (upsert, delete, batch) and
//! pulls back what patients did (the event outbox). The authorizer has checked the request's
//! signature; this function checks that the body is the one that was signed, then calls the sync
//! use cases in core.

use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Method};
use portal_core::access::Access;
use portal_core::audit::Actor;
use portal_core::ports::{Blobs, Clock, Db, Events, Ports, Table};
use portal_core::sync::outbox::{Outbox, OutboxEvent};
use portal_core::sync::service::{BatchAnswer, FileAnswer, ItemAnswer, SyncService};
use portal_core::sync::signing::{content_sha256, HEADER_CONTENT_SHA256};
use portal_core::sync::store::Stored;
use portal_core::{CoreError, CoreResult, ProblemCode};
use portal_http::{read_body, Api, ApiResult, Json, Meta, Principal, Query, MAX_BODY_BYTES};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::sync::Arc;

/// Batches are larger than other bodies.
pub const MAX_BATCH_BYTES: usize = 4 * 1024 * 1024;

#[derive(Clone)]
pub struct Deps {
    pub table: Arc<dyn Table>,
    pub clock: Arc<dyn Clock>,
    pub blobs: Arc<dyn Blobs>,
    pub events: Arc<dyn Events>,
}

impl From<&Ports> for Deps {
    fn from(p: &Ports) -> Self {
        Deps { table: p.table.clone(), clock: p.clock.clone(), blobs: p.blobs.clone(), events: p.events.clone() }
    }
}

impl Deps {
    /// The table and the clock, for building a use case.
    fn db(&self) -> Db<'_> {
        Db { table: self.table.as_ref(), clock: self.clock.as_ref() }
    }

    fn sync(&self) -> SyncService<'_> {
        SyncService { db: self.db(), blobs: self.blobs.as_ref() }
    }
    fn outbox(&self) -> Outbox<'_> {
        Outbox { db: self.db(), events: self.events.as_ref() }
    }
}

pub fn api() -> Api<Deps> {
    Api::new()
        .route(Method::POST, "/v1/sync/batch", batch)
        .route(Method::GET, "/v1/sync/events", events)
        .route(Method::POST, "/v1/sync/events/ack", ack)
        .route(Method::PUT, "/v1/sync/{entity}/{id}", upsert)
        .route(Method::GET, "/v1/sync/{entity}/{id}", get_entity)
        .route(Method::DELETE, "/v1/sync/{entity}/{id}", delete)
        .route(Method::POST, "/v1/sync/{entity}/{id}/uploaded", uploaded)
}

pub fn router(deps: Deps) -> axum::Router {
    api().into_router(deps)
}

/// The routes with their state, to merge with the other functions' (the local host).
pub fn routes(ports: &Ports) -> axum::Router {
    api().into_routes(Deps::from(ports))
}

/// The caller (a sync key) and the body it signed, read up to `limit` bytes: the authorizer
/// checked the signature over the content hash header; here the body must hash to it.
async fn signed_body(p: &Principal, meta: &Meta, headers: &HeaderMap, body: Body, limit: usize) -> ApiResult<(Actor, Bytes)> {
    let c = p.require(Access::Sync)?;
    let body = read_body(body, limit).await?;
    let declared = headers.get(HEADER_CONTENT_SHA256).and_then(|v| v.to_str().ok()).unwrap_or("");
    if declared != content_sha256(&body) {
        return Err(CoreError::unauthorized(
            ProblemCode::SyncBodyMismatch,
            "The body is not the one that was signed (X-Portal-Content-SHA256 differs).",
        )
        .into());
    }
    Ok((c.actor(&meta.0), body))
}

fn json_body<T: serde::de::DeserializeOwned>(body: &Bytes) -> CoreResult<T> {
    if body.is_empty() {
        return Err(CoreError::invalid(ProblemCode::BodyEmpty, "Send a JSON object."));
    }
    let value: Value = serde_json::from_slice(body)
        .map_err(|e| CoreError::invalid(ProblemCode::MalformedJson, format!("The body is not valid JSON: {e}")))?;
    serde_json::from_value(value).map_err(|e| CoreError::invalid(ProblemCode::InvalidBody, e.to_string()))
}

async fn upsert(
    State(d): State<Deps>,
    meta: Meta,
    p: Principal,
    Path((entity, id)): Path<(String, String)>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<Json<ItemAnswer>> {
    let (actor, body) = signed_body(&p, &meta, &headers, body, MAX_BODY_BYTES).await?;
    Ok(Json(d.sync().upsert(&actor, &entity, &id, json_body(&body)?).await?))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct DeleteQuery {
    last_modified: String,
}

async fn delete(
    State(d): State<Deps>,
    meta: Meta,
    p: Principal,
    Path((entity, id)): Path<(String, String)>,
    Query(q): Query<DeleteQuery>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<Json<ItemAnswer>> {
    let (actor, _) = signed_body(&p, &meta, &headers, body, 0).await?;
    Ok(Json(d.sync().delete(&actor, &entity, &id, &q.last_modified).await?))
}

async fn get_entity(
    State(d): State<Deps>,
    meta: Meta,
    p: Principal,
    Path((entity, id)): Path<(String, String)>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<Json<Stored>> {
    let (actor, _) = signed_body(&p, &meta, &headers, body, 0).await?;
    Ok(Json(d.sync().get(&actor, &entity, &id).await?))
}

async fn uploaded(
    State(d): State<Deps>,
    meta: Meta,
    p: Principal,
    Path((entity, id)): Path<(String, String)>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<Json<FileAnswer>> {
    let (actor, _) = signed_body(&p, &meta, &headers, body, 0).await?;
    Ok(Json(d.sync().uploaded(&actor, &entity, &id).await?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BatchBody {
    items: Vec<Value>,
}

async fn batch(State(d): State<Deps>, meta: Meta, p: Principal, headers: HeaderMap, body: Body) -> ApiResult<Json<BatchAnswer>> {
    let (actor, body) = signed_body(&p, &meta, &headers, body, MAX_BATCH_BYTES).await?;
    let b: BatchBody = json_body(&body).map_err(|e| match e {
        CoreError::Invalid { code: ProblemCode::InvalidBody, detail } => {
            CoreError::invalid(ProblemCode::InvalidBody, format!("{{\"items\": [...]}} expected: {detail}"))
        }
        other => other,
    })?;
    Ok(Json(d.sync().batch(&actor, b.items).await?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EventsQuery {
    after: Option<String>,
    limit: Option<usize>,
}

#[derive(Serialize)]
struct EventsAnswer {
    events: Vec<OutboxEvent>,
    cursor: Option<String>,
}

async fn events(
    State(d): State<Deps>,
    meta: Meta,
    p: Principal,
    Query(q): Query<EventsQuery>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<Json<EventsAnswer>> {
    let (actor, _) = signed_body(&p, &meta, &headers, body, 0).await?;
    // An empty `after` means what no `after` means: from the start.
    let after = q.after.as_deref().filter(|a| !a.is_empty());
    let (events, cursor) = d.outbox().list(&actor.practice, after, portal_http::page_limit(q.limit, 100, 500)?).await?;
    Ok(Json(EventsAnswer { events, cursor }))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct AckBody {
    up_to: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct AckAnswer {
    acknowledged_up_to: String,
}

async fn ack(State(d): State<Deps>, meta: Meta, p: Principal, headers: HeaderMap, body: Body) -> ApiResult<Json<AckAnswer>> {
    let (actor, body) = signed_body(&p, &meta, &headers, body, MAX_BODY_BYTES).await?;
    let b: AckBody = json_body(&body)?;
    Ok(Json(AckAnswer { acknowledged_up_to: d.outbox().ack(&actor.practice, &b.up_to).await? }))
}
