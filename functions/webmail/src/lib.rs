//! ModuleWebMail's routes: a patient's inbox and sent folder, threads, writing to a provider,
//! replying, read marks and attachments (`/v1/webmail`, the family rule applies); and the practice's side
//! (`/v1/admin/webmail`): the inbox across patients, threads, writing to a patient as a provider the
//! staff user acts for, replies and read marks. Handlers re-check access and call
//! `portal_core::webmail::mailbox`, where the rules live; the notification email follows from the
//! `webmail.sent` event (`functions/notify`).

use axum::extract::{Path, State};
use axum::http::{Method, StatusCode};
use portal_core::access::Access;
use portal_core::audit::Actor;
use portal_core::identity::session::StaffRole;
use portal_core::ports::{Blobs, Clock, Db, Events, Ports, Table};
use portal_core::reads::{PageRequest, SignedFile};
use portal_core::webmail::attachments::Declared;
use portal_core::webmail::mailbox::{Draft, Folder, Inbox, Mailbox, OfficeProvider, Party, SentMessage, ThreadView};
use portal_core::Feature;
use portal_http::{page_limit, Api, ApiError, ApiResult, ForPatient, Json, Meta, Principal, Query};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

#[derive(Clone)]
pub struct Deps {
    pub table: Arc<dyn Table>,
    pub clock: Arc<dyn Clock>,
    pub events: Arc<dyn Events>,
    pub blobs: Arc<dyn Blobs>,
}

impl From<&Ports> for Deps {
    fn from(p: &Ports) -> Self {
        Deps { table: p.table.clone(), clock: p.clock.clone(), events: p.events.clone(), blobs: p.blobs.clone() }
    }
}

impl Deps {
    /// The table and the clock, for building a use case.
    fn db(&self) -> Db<'_> {
        Db { table: self.table.as_ref(), clock: self.clock.as_ref() }
    }

    fn mailbox(&self) -> Mailbox<'_> {
        Mailbox { db: self.db(), events: self.events.as_ref(), blobs: self.blobs.as_ref() }
    }
}

pub fn api() -> Api<Deps> {
    Api::new()
        .route(Method::GET, "/v1/webmail/providers", providers)
        .route(Method::GET, "/v1/webmail/messages", list)
        .route(Method::POST, "/v1/webmail/messages", compose)
        .route(Method::PUT, "/v1/webmail/messages/{id}/read", mark)
        .route(Method::GET, "/v1/webmail/threads/{thread_id}", thread)
        .route(Method::POST, "/v1/webmail/threads/{thread_id}/reply", reply)
        .route(Method::POST, "/v1/webmail/attachments", attach)
        .route(Method::GET, "/v1/webmail/attachments/{id}/file", attachment)
        .route(Method::GET, "/v1/admin/webmail/providers", office_providers)
        .route(Method::GET, "/v1/admin/webmail/messages", office_list)
        .route(Method::POST, "/v1/admin/webmail/messages", office_compose)
        .route(Method::PUT, "/v1/admin/webmail/messages/{id}/read", office_mark)
        .route(Method::GET, "/v1/admin/webmail/threads/{thread_id}", office_thread)
        .route(Method::POST, "/v1/admin/webmail/threads/{thread_id}/reply", office_reply)
        .route(Method::POST, "/v1/admin/webmail/attachments", office_attach)
        .route(Method::GET, "/v1/admin/webmail/attachments/{id}/file", office_attachment)
}

pub fn router(deps: Deps) -> axum::Router {
    api().into_router(deps)
}

/// The routes with their state, to merge with the other functions' (the local host).
pub fn routes(ports: &Ports) -> axum::Router {
    api().into_routes(Deps::from(ports))
}

#[derive(Serialize)]
struct Providers {
    items: Vec<Party>,
}

async fn providers(State(d): State<Deps>, Meta(meta): Meta, p: Principal, Query(q): Query<ForPatient>) -> ApiResult<Json<Providers>> {
    let caller = p.patient(Feature::ModuleWebMail, &meta)?;
    Ok(Json(Providers { items: d.mailbox().providers(&caller, q.patient.as_deref()).await? }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    patient: Option<String>,
    folder: Option<String>,
    limit: Option<usize>,
    cursor: Option<String>,
}

async fn list(State(d): State<Deps>, Meta(meta): Meta, p: Principal, Query(q): Query<ListQuery>) -> ApiResult<Json<Inbox>> {
    let caller = p.patient(Feature::ModuleWebMail, &meta)?;
    let page = PageRequest::new(page_limit(q.limit, 25, 100)?, q.cursor);
    Ok(Json(d.mailbox().patient_list(&caller, q.patient.as_deref(), Folder::parse(q.folder.as_deref())?, page).await?))
}

async fn thread(
    State(d): State<Deps>,
    Meta(meta): Meta,
    p: Principal,
    Path(id): Path<String>,
    Query(q): Query<ForPatient>,
) -> ApiResult<Json<ThreadView>> {
    let caller = p.patient(Feature::ModuleWebMail, &meta)?;
    Ok(Json(d.mailbox().patient_thread(&caller, q.patient.as_deref(), &id).await?))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct ComposeBody {
    provider_id: String,
    subject: String,
    body: String,
    #[serde(default)]
    attachment_ids: Vec<String>,
}

async fn compose(
    State(d): State<Deps>,
    Meta(meta): Meta,
    p: Principal,
    Query(q): Query<ForPatient>,
    Json(b): Json<ComposeBody>,
) -> ApiResult<(StatusCode, Json<SentMessage>)> {
    let caller = p.patient(Feature::ModuleWebMail, &meta)?;
    let sent = d.mailbox().patient_compose(&caller, q.patient.as_deref(), &b.provider_id, &b.subject, &b.body, &b.attachment_ids).await?;
    Ok((StatusCode::CREATED, Json(sent)))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct ReplyBody {
    body: String,
    #[serde(default)]
    attachment_ids: Vec<String>,
}

async fn reply(
    State(d): State<Deps>,
    Meta(meta): Meta,
    p: Principal,
    Path(id): Path<String>,
    Query(q): Query<ForPatient>,
    Json(b): Json<ReplyBody>,
) -> ApiResult<(StatusCode, Json<SentMessage>)> {
    let caller = p.patient(Feature::ModuleWebMail, &meta)?;
    Ok((StatusCode::CREATED, Json(d.mailbox().patient_reply(&caller, q.patient.as_deref(), &id, &b.body, &b.attachment_ids).await?)))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct MarkBody {
    read: bool,
}

#[derive(Serialize)]
struct Marked {
    id: String,
    read: bool,
}

async fn mark(
    State(d): State<Deps>,
    Meta(meta): Meta,
    p: Principal,
    Path(id): Path<String>,
    Query(q): Query<ForPatient>,
    Json(b): Json<MarkBody>,
) -> ApiResult<Json<Marked>> {
    let caller = p.patient(Feature::ModuleWebMail, &meta)?;
    d.mailbox().patient_mark(&caller, q.patient.as_deref(), &id, b.read).await?;
    Ok(Json(Marked { id, read: b.read }))
}

// ------------------------------------------------------------------------------ the office

/// A staff member of a practice with WebMail on: the audit's actor and their username (which
/// providers they act for).
fn office(p: &Principal, meta: &portal_core::identity::login::RequestMeta) -> Result<(Actor, String), ApiError> {
    let c = p.require(Access::StaffFeature(StaffRole::FrontDesk, Feature::ModuleWebMail))?;
    Ok((c.actor(meta), c.username.clone()))
}

#[derive(Serialize)]
struct OfficeProviders {
    items: Vec<OfficeProvider>,
}

async fn office_providers(State(d): State<Deps>, Meta(meta): Meta, p: Principal) -> ApiResult<Json<OfficeProviders>> {
    let (actor, username) = office(&p, &meta)?;
    Ok(Json(OfficeProviders { items: d.mailbox().office_providers(&actor, &username).await? }))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct OfficeListQuery {
    folder: Option<String>,
    unread: Option<bool>,
    provider_id: Option<String>,
    limit: Option<usize>,
    cursor: Option<String>,
}

async fn office_list(State(d): State<Deps>, Meta(meta): Meta, p: Principal, Query(q): Query<OfficeListQuery>) -> ApiResult<Json<Inbox>> {
    let (actor, _) = office(&p, &meta)?;
    let page = PageRequest::new(page_limit(q.limit, 25, 100)?, q.cursor);
    let folder = Folder::parse(q.folder.as_deref())?;
    Ok(Json(d.mailbox().office_list(&actor, folder, q.unread.unwrap_or(false), q.provider_id.as_deref(), page).await?))
}

async fn office_thread(State(d): State<Deps>, Meta(meta): Meta, p: Principal, Path(id): Path<String>) -> ApiResult<Json<ThreadView>> {
    let (actor, _) = office(&p, &meta)?;
    Ok(Json(d.mailbox().office_thread(&actor, &id).await?))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct OfficeComposeBody {
    patient_id: String,
    provider_id: Option<String>,
    subject: String,
    body: String,
    #[serde(default)]
    attachment_ids: Vec<String>,
}

async fn office_compose(
    State(d): State<Deps>,
    Meta(meta): Meta,
    p: Principal,
    Json(b): Json<OfficeComposeBody>,
) -> ApiResult<(StatusCode, Json<SentMessage>)> {
    let (actor, username) = office(&p, &meta)?;
    let sent = d
        .mailbox()
        .office_compose(
            &actor,
            &username,
            &b.patient_id,
            b.provider_id.as_deref(),
            Draft { subject: &b.subject, body: &b.body, attachment_ids: &b.attachment_ids },
        )
        .await?;
    Ok((StatusCode::CREATED, Json(sent)))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct OfficeReplyBody {
    provider_id: Option<String>,
    body: String,
    #[serde(default)]
    attachment_ids: Vec<String>,
}

async fn office_reply(
    State(d): State<Deps>,
    Meta(meta): Meta,
    p: Principal,
    Path(id): Path<String>,
    Json(b): Json<OfficeReplyBody>,
) -> ApiResult<(StatusCode, Json<SentMessage>)> {
    let (actor, username) = office(&p, &meta)?;
    Ok((
        StatusCode::CREATED,
        Json(d.mailbox().office_reply(&actor, &username, &id, b.provider_id.as_deref(), &b.body, &b.attachment_ids).await?),
    ))
}

async fn office_mark(
    State(d): State<Deps>,
    Meta(meta): Meta,
    p: Principal,
    Path(id): Path<String>,
    Json(b): Json<MarkBody>,
) -> ApiResult<Json<Marked>> {
    let (actor, _) = office(&p, &meta)?;
    d.mailbox().office_mark(&actor, &id, b.read).await?;
    Ok(Json(Marked { id, read: b.read }))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct AttachBody {
    file_name: String,
    content_type: String,
    size: u64,
}

async fn attach(
    State(d): State<Deps>,
    Meta(meta): Meta,
    p: Principal,
    Query(q): Query<ForPatient>,
    Json(b): Json<AttachBody>,
) -> ApiResult<(StatusCode, Json<Declared>)> {
    let caller = p.patient(Feature::ModuleWebMail, &meta)?;
    Ok((StatusCode::CREATED, Json(d.mailbox().patient_attach(&caller, q.patient.as_deref(), &b.file_name, &b.content_type, b.size).await?)))
}

async fn attachment(
    State(d): State<Deps>,
    Meta(meta): Meta,
    p: Principal,
    Path(id): Path<String>,
    Query(q): Query<ForPatient>,
) -> ApiResult<Json<SignedFile>> {
    let caller = p.patient(Feature::ModuleWebMail, &meta)?;
    Ok(Json(d.mailbox().patient_attachment(&caller, q.patient.as_deref(), &id).await?))
}

async fn office_attach(
    State(d): State<Deps>,
    Meta(meta): Meta,
    p: Principal,
    Json(b): Json<AttachBody>,
) -> ApiResult<(StatusCode, Json<Declared>)> {
    let (actor, _) = office(&p, &meta)?;
    Ok((StatusCode::CREATED, Json(d.mailbox().office_attach(&actor, &b.file_name, &b.content_type, b.size).await?)))
}

async fn office_attachment(State(d): State<Deps>, Meta(meta): Meta, p: Principal, Path(id): Path<String>) -> ApiResult<Json<SignedFile>> {
    let (actor, _) = office(&p, &meta)?;
    Ok(Json(d.mailbox().office_attachment(&actor, &id).await?))
}
