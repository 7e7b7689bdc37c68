//! The sync API: the practice's on-site system pushes its data up (upsert, delete, batch) and
//! pulls back what patients did (the event outbox). The authorizer has checked the request's
//! signature; this function checks that the body is the one that was signed.

use axum::body::Body;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use portal_core::access::{Access, AuthContext};
use portal_core::audit::{self, AuditLog, Outcome};
use portal_core::outbox::Outbox;
use portal_core::ports::{Blobs, Clock, Events, Table};
use portal_core::sync_auth::{content_sha256, HEADER_CONTENT_SHA256};
use portal_core::sync_data::{check_upload, Entity, FileMeta};
use portal_core::sync_store::{file_key, Applied, SyncStore};
use portal_core::{CoreError, CoreResult};
use portal_http::{problem, read_body, Api, ApiError, ApiResult, Json, Meta, Principal, Query, MAX_BODY_BYTES};
use serde::Deserialize;
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;

/// The most entities one batch takes.
pub const MAX_BATCH: usize = 100;
/// How long an upload URL is good for.
pub const UPLOAD_URL_SECONDS: u64 = 15 * 60;
/// Batches are larger than other bodies.
pub const MAX_BATCH_BYTES: usize = 4 * 1024 * 1024;

#[derive(Clone)]
pub struct Deps {
    pub table: Arc<dyn Table>,
    pub clock: Arc<dyn Clock>,
    pub blobs: Arc<dyn Blobs>,
    pub events: Arc<dyn Events>,
}

impl Deps {
    fn store(&self) -> SyncStore<'_> {
        SyncStore { table: self.table.as_ref(), clock: self.clock.as_ref() }
    }
    fn outbox(&self) -> Outbox<'_> {
        Outbox { table: self.table.as_ref(), clock: self.clock.as_ref(), events: self.events.as_ref() }
    }
    fn audit(&self) -> AuditLog<'_> {
        AuditLog { table: self.table.as_ref(), clock: self.clock.as_ref() }
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

/// The caller (a sync key) and the body it signed, read up to `limit` bytes: the authorizer
/// checked the signature over the content hash header; here the body must hash to it.
async fn signed_body(p: &Principal, headers: &HeaderMap, body: Body, limit: usize) -> ApiResult<(AuthContext, Bytes)> {
    let c = p.require(Access::Sync)?.clone();
    let body = read_body(body, limit).await?;
    let declared = headers.get(HEADER_CONTENT_SHA256).and_then(|v| v.to_str().ok()).unwrap_or("");
    if declared != content_sha256(&body) {
        return Err(CoreError::unauthorized(
            "sync_body_mismatch",
            "The body is not the one that was signed (X-Portal-Content-SHA256 differs).",
        )
        .into());
    }
    Ok((c, body))
}

fn json_body(body: &Bytes) -> CoreResult<Value> {
    if body.is_empty() {
        return Err(CoreError::invalid("body_empty", "Send a JSON object."));
    }
    serde_json::from_slice(body).map_err(|e| CoreError::invalid("malformed_json", format!("The body is not valid JSON: {e}")))
}

/// What one upsert answers: the outcome and, for a new file, where to upload it.
async fn apply_upsert(d: &Deps, practice: &str, entity: &str, id: &str, body: Value) -> CoreResult<Value> {
    let entity = Entity::parse(entity)?;
    let (applied, stored, file) = d.store().upsert(practice, entity, id, body).await?;
    let mut out = json!({ "entity": entity.name(), "id": id, "status": applied, "lastModified": stored.last_modified });
    if let (Applied::Applied, Some(f)) = (applied, file) {
        out["upload"] = upload(d, practice, entity, id, &f).await?;
    }
    Ok(out)
}

/// What one delete answers. A statement's or document's file goes with it.
async fn apply_delete(d: &Deps, practice: &str, entity: &str, id: &str, stamp: &str) -> CoreResult<Value> {
    let entity = Entity::parse(entity)?;
    let applied = d.store().delete(practice, entity, id, stamp).await?;
    if applied == Applied::Applied && entity.has_file() {
        d.blobs.delete(&file_key(practice, entity, id)).await?;
    }
    Ok(json!({ "entity": entity.name(), "id": id, "status": applied }))
}

async fn upload(d: &Deps, practice: &str, entity: Entity, id: &str, f: &FileMeta) -> CoreResult<Value> {
    let url =
        d.blobs.presign_put(&file_key(practice, entity, id), &f.content_type, f.size, Duration::from_secs(UPLOAD_URL_SECONDS)).await?;
    Ok(json!({
        "method": "PUT",
        "url": url,
        "headers": { "Content-Type": f.content_type, "Content-Length": f.size.to_string() },
        "expiresInSeconds": UPLOAD_URL_SECONDS,
        "then": format!("POST /v1/sync/{}/{id}/uploaded", entity.name()),
    }))
}

async fn upsert(
    State(d): State<Deps>,
    meta: Meta,
    p: Principal,
    Path((entity, id)): Path<(String, String)>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<Json<Value>> {
    let (c, body) = signed_body(&p, &headers, body, MAX_BODY_BYTES).await?;
    let out = apply_upsert(&d, &c.practice_id, &entity, &id, json_body(&body)?).await;
    audit_write(&d, &c, &meta, "sync.upsert", &format!("{entity}/{id}"), &out).await?;
    Ok(Json(out?))
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
) -> ApiResult<Json<Value>> {
    let (c, _) = signed_body(&p, &headers, body, 0).await?;
    let out = apply_delete(&d, &c.practice_id, &entity, &id, &q.last_modified).await;
    audit_write(&d, &c, &meta, "sync.delete", &format!("{entity}/{id}"), &out).await?;
    Ok(Json(out?))
}

async fn get_entity(
    State(d): State<Deps>,
    meta: Meta,
    p: Principal,
    Path((entity, id)): Path<(String, String)>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<Json<Value>> {
    let (c, _) = signed_body(&p, &headers, body, 0).await?;
    let stored = d.store().get(&c.practice_id, Entity::parse(&entity)?, &id).await?;
    audit(&d, &c, &meta, "sync.read", &format!("{entity}/{id}"), Outcome::Success, json!({})).await?;
    Ok(Json(serde_json::to_value(stored).map_err(CoreError::backend)?))
}

/// After the upload: the file must be there, of the declared size, and its bytes of the declared
/// type; otherwise it is deleted and the entity's file marked rejected.
async fn uploaded(
    State(d): State<Deps>,
    meta: Meta,
    p: Principal,
    Path((entity, id)): Path<(String, String)>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<Response> {
    let (c, _) = signed_body(&p, &headers, body, 0).await?;
    let e = Entity::parse(&entity)?;
    if !e.has_file() {
        return Err(CoreError::invalid("entity_has_no_file", format!("{} have no file.", e.name())).into());
    }
    let stored = d.store().get(&c.practice_id, e, &id).await?;
    if stored.deleted {
        return Err(CoreError::NotFound.into());
    }
    let declared: FileMeta = serde_json::from_value(stored.data["file"].clone()).map_err(CoreError::backend)?;
    let key = file_key(&c.practice_id, e, &id);
    let blob = d.blobs.get(&key).await?;
    let verdict = check_upload(&declared, blob.as_ref().map(|b| &b.bytes[..]));
    match verdict {
        Ok(()) => {
            let s = d.store().set_file_status(&c.practice_id, e, &id, "available").await?;
            audit(&d, &c, &meta, "sync.file", &format!("{entity}/{id}"), Outcome::Success, json!({})).await?;
            Ok(Json(json!({ "entity": e.name(), "id": id, "fileStatus": s.file_status })).into_response())
        }
        Err(why) if blob.is_none() => Err(CoreError::invalid("file_missing", why).into()),
        Err(why) => {
            d.blobs.delete(&key).await?;
            d.store().set_file_status(&c.practice_id, e, &id, "rejected").await?;
            audit(&d, &c, &meta, "sync.file", &format!("{entity}/{id}"), Outcome::Failure, json!({ "reason": why })).await?;
            Ok(problem(
                StatusCode::UNPROCESSABLE_ENTITY,
                "file_rejected",
                "The file was refused",
                &format!("{why}; it was deleted. Upload it again with a new PUT."),
                None,
            ))
        }
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct BatchItem {
    op: String,
    entity: String,
    id: String,
    #[serde(default)]
    body: Option<Value>,
    #[serde(default)]
    last_modified: Option<String>,
}

/// Each item is applied on its own (each is one conditional write, so none is ever half-written);
/// one bad item never blocks the rest.
async fn batch(State(d): State<Deps>, meta: Meta, p: Principal, headers: HeaderMap, body: Body) -> ApiResult<Json<Value>> {
    let (c, body) = signed_body(&p, &headers, body, MAX_BATCH_BYTES).await?;
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Batch {
        items: Vec<Value>,
    }
    let batch: Batch = serde_json::from_value(json_body(&body)?)
        .map_err(|e| CoreError::invalid("invalid_body", format!("{{\"items\": [...]}} expected: {e}")))?;
    if batch.items.is_empty() || batch.items.len() > MAX_BATCH {
        return Err(CoreError::invalid("batch_size", format!("A batch holds 1 to {MAX_BATCH} items.")).into());
    }
    let mut results = Vec::with_capacity(batch.items.len());
    let (mut applied, mut unchanged, mut rejected) = (0, 0, 0);
    for (index, raw) in batch.items.into_iter().enumerate() {
        let outcome = async {
            let item: BatchItem = serde_json::from_value(raw).map_err(|e| CoreError::invalid("invalid_item", e.to_string()))?;
            match item.op.as_str() {
                "upsert" => {
                    apply_upsert(
                        &d,
                        &c.practice_id,
                        &item.entity,
                        &item.id,
                        item.body.ok_or_else(|| CoreError::invalid("invalid_item", "an upsert has a body"))?,
                    )
                    .await
                }
                "delete" => {
                    let stamp = item.last_modified.ok_or_else(|| CoreError::invalid("invalid_item", "a delete has lastModified"))?;
                    apply_delete(&d, &c.practice_id, &item.entity, &item.id, &stamp).await
                }
                _ => Err(CoreError::invalid("invalid_item", "op is upsert or delete")),
            }
        }
        .await;
        let mut r = match outcome {
            Ok(v) => v,
            Err(CoreError::Backend(m)) => return Err(CoreError::Backend(m).into()),
            Err(e) => json!({ "status": "rejected", "code": e.code(), "reason": e.to_string() }),
        };
        match r["status"].as_str() {
            Some("applied") => applied += 1,
            Some("unchanged") => unchanged += 1,
            _ => rejected += 1,
        }
        r["index"] = json!(index);
        results.push(r);
    }
    let summary = json!({ "applied": applied, "unchanged": unchanged, "rejected": rejected });
    audit(&d, &c, &meta, "sync.batch", "batch", Outcome::Success, summary.clone()).await?;
    Ok(Json(json!({ "results": results, "summary": summary })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EventsQuery {
    after: Option<String>,
    limit: Option<usize>,
}

async fn events(
    State(d): State<Deps>,
    p: Principal,
    Query(q): Query<EventsQuery>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<Json<Value>> {
    let (c, _) = signed_body(&p, &headers, body, 0).await?;
    let (events, cursor) = d.outbox().list(&c.practice_id, q.after.as_deref(), portal_http::page_limit(q.limit, 100, 500)?).await?;
    Ok(Json(json!({ "events": events, "cursor": cursor })))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct AckBody {
    up_to: String,
}

async fn ack(State(d): State<Deps>, p: Principal, headers: HeaderMap, body: Body) -> ApiResult<Json<Value>> {
    let (c, body) = signed_body(&p, &headers, body, MAX_BODY_BYTES).await?;
    let b: AckBody = serde_json::from_value(json_body(&body)?).map_err(|e| CoreError::invalid("invalid_body", e.to_string()))?;
    let acked = d.outbox().ack(&c.practice_id, &b.up_to).await?;
    Ok(Json(json!({ "acknowledgedUpTo": acked })))
}

/// Every write is audited, applied or refused (ids and codes only).
async fn audit_write(d: &Deps, c: &AuthContext, meta: &Meta, action: &str, subject: &str, out: &CoreResult<Value>) -> ApiResult<()> {
    let (outcome, detail) = match out {
        Ok(v) => (Outcome::Success, json!({ "status": v["status"] })),
        Err(e) => (Outcome::Failure, json!({ "code": e.code() })),
    };
    audit(d, c, meta, action, subject, outcome, detail).await
}

/// Appends what the sync key did to the practice's audit log (ids and codes only).
async fn audit(d: &Deps, c: &AuthContext, meta: &Meta, action: &str, subject: &str, outcome: Outcome, detail: Value) -> ApiResult<()> {
    let entry = audit::entry(&c.principal_id, "sync", action, subject, outcome, meta.0.source_ip.as_deref(), detail);
    d.audit().append(&c.practice_id, entry).await.map_err(ApiError::from)
}
