//! The staff settings API: features, portal URLs (with a real, SSRF-safe verification request),
//! WebMail notification settings, the Direct addresses care summaries may be sent encrypted to
//! (with their certificates), sync keys, the practice's audit log and its check against the
//! daily seals. Every change is audited in core.

mod verify;

use axum::extract::{Path, State};
use axum::http::Method;
use portal_core::access::Access;
use portal_core::audit::seal::{AuditSeals, SealCheck};
use portal_core::audit::{AuditEntry, AuditFilter, AuditLog};
use portal_core::identity::display_names::DisplayNames;
use portal_core::identity::session::StaffRole;
use portal_core::ports::{Clock, Db, Ports, SecretBox, Table};
use portal_core::practice::direct_recipients::{DirectRecipient, DirectRecipients};
use portal_core::practice::family::FamilyAccess;
use portal_core::practice::settings::{
    parse_features, portal_path, Change, Contact, PortalUrls, PracticeSettings, SettingsRepo, WebMailSettings,
};
use portal_core::practice::url_policy::UrlRules;
use portal_core::sync::signing::{SyncKey, SyncKeys};
use portal_core::{CoreError, Feature};
use portal_http::{Api, ApiResult, Json, Meta, Principal, Query};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

use std::sync::Arc;

pub use verify::{UrlVerifier, Verification};

#[derive(Clone)]
pub struct Deps {
    pub table: Arc<dyn Table>,
    pub clock: Arc<dyn Clock>,
    pub secrets: Arc<dyn SecretBox>,
    pub rules: UrlRules,
    pub verifier: Arc<UrlVerifier>,
    pub mail_domains: Arc<[String]>,
}

impl From<&Ports> for Deps {
    fn from(p: &Ports) -> Self {
        Deps::new(p.table.clone(), p.clock.clone(), p.secrets.clone(), UrlRules { local_mode: p.local_mode })
    }
}

impl Deps {
    /// The table and the clock, for building a use case.
    fn db(&self) -> Db<'_> {
        Db { table: self.table.as_ref(), clock: self.clock.as_ref() }
    }

    /// Local mode is set by `portal-local`; on Lambda it is always off.
    pub fn new(table: Arc<dyn Table>, clock: Arc<dyn Clock>, secrets: Arc<dyn SecretBox>, rules: UrlRules) -> Self {
        Deps { table, clock, secrets, rules, verifier: Arc::new(UrlVerifier::new(rules)), mail_domains: Arc::new([]) }
    }

    /// The domains the deployment may send mail from (`PORTAL_MAIL_DOMAINS` on AWS); none: any.
    pub fn with_mail_domains(mut self, domains: Vec<String>) -> Self {
        self.mail_domains = domains.into();
        self
    }

    fn settings(&self) -> SettingsRepo<'_> {
        SettingsRepo { db: self.db() }
    }
}

pub fn api() -> Api<Deps> {
    Api::new()
        .route(Method::GET, "/v1/admin/settings", get_settings)
        .route(Method::PUT, "/v1/admin/settings/features", put_features)
        .route(Method::PUT, "/v1/admin/settings/urls", put_urls)
        .route(Method::POST, "/v1/admin/settings/urls/verify", verify_url)
        .route(Method::PUT, "/v1/admin/settings/webmail", put_webmail)
        .route(Method::PUT, "/v1/admin/settings/family-access", put_family_access)
        .route(Method::PUT, "/v1/admin/settings/contact", put_contact)
        .route(Method::GET, "/v1/admin/audit", audit)
        .route(Method::GET, "/v1/admin/audit/verify", verify_audit)
        .route(Method::GET, "/v1/admin/sync-keys", list_sync_keys)
        .route(Method::POST, "/v1/admin/sync-keys", create_sync_key)
        .route(Method::DELETE, "/v1/admin/sync-keys/{key_id}", revoke_sync_key)
        .route(Method::GET, "/v1/admin/direct-recipients", list_recipients)
        .route(Method::POST, "/v1/admin/direct-recipients", add_recipient)
        .route(Method::DELETE, "/v1/admin/direct-recipients/{address}", remove_recipient)
}

pub fn router(deps: Deps) -> axum::Router {
    api().into_router(deps)
}

/// The routes with their state, to merge with the other functions' (the local host).
pub fn routes(ports: &Ports) -> axum::Router {
    api().into_routes(Deps::from(ports))
}

#[derive(Serialize)]
struct FeatureEntry {
    key: &'static str,
    label: &'static str,
    /// Whether its module is deployed yet.
    available: bool,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SettingsRules {
    https_required: bool,
    template_tags: [&'static str; 2],
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SettingsPage {
    settings: PracticeSettings,
    feature_catalog: Vec<FeatureEntry>,
    rules: SettingsRules,
    can_edit: bool,
    /// The practice's own portal address on this site; the patient-facing URL when none is set.
    portal_path: String,
}

#[derive(Serialize)]
struct Saved {
    settings: PracticeSettings,
}

async fn get_settings(State(d): State<Deps>, p: Principal) -> ApiResult<Json<SettingsPage>> {
    let c = p.require(Access::Staff(StaffRole::FrontDesk))?;
    let settings = d.settings().get(&c.practice_id).await?.ok_or(CoreError::NotFound)?;
    Ok(Json(SettingsPage {
        settings,
        feature_catalog: Feature::ALL.iter().map(|f| FeatureEntry { key: f.key(), label: f.label(), available: f.available() }).collect(),
        rules: SettingsRules { https_required: !d.rules.local_mode, template_tags: portal_core::practice::settings::TEMPLATE_TAGS },
        can_edit: c.role == Some(StaffRole::Admin),
        portal_path: portal_path(&c.practice_id),
    }))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct FeaturesBody {
    features: Vec<String>,
    version: u64,
}

async fn change(d: &Deps, p: &Principal, meta: &Meta, version: u64, change: Change) -> ApiResult<Json<Saved>> {
    let c = p.require(Access::Staff(StaffRole::Admin))?;
    Ok(Json(Saved { settings: d.settings().change(&c.actor(&meta.0), version, change, d.rules, &d.mail_domains).await? }))
}

async fn put_features(State(d): State<Deps>, meta: Meta, p: Principal, Json(b): Json<FeaturesBody>) -> ApiResult<Json<Saved>> {
    let features = parse_features(&b.features)?;
    change(&d, &p, &meta, b.version, Change::Features(features)).await
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct UrlsBody {
    #[serde(default)]
    patient_facing_url: Option<String>,
    #[serde(default)]
    practice_website_url: Option<String>,
    version: u64,
}

async fn put_urls(State(d): State<Deps>, meta: Meta, p: Principal, Json(b): Json<UrlsBody>) -> ApiResult<Json<Saved>> {
    let urls = PortalUrls { patient_facing_url: b.patient_facing_url, practice_website_url: b.practice_website_url };
    change(&d, &p, &meta, b.version, Change::Urls(urls)).await
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct WebMailBody {
    notification_sender: String,
    default_notify_address: String,
    subject: String,
    body_template: String,
    /// The Spanish subject and body; their defaults when a client leaves them out.
    #[serde(default, deserialize_with = "portal_core::text::present")]
    subject_es: Option<String>,
    #[serde(default, deserialize_with = "portal_core::text::present")]
    body_template_es: Option<String>,
    version: u64,
}

async fn put_webmail(State(d): State<Deps>, meta: Meta, p: Principal, Json(b): Json<WebMailBody>) -> ApiResult<Json<Saved>> {
    let w = WebMailSettings {
        notification_sender: b.notification_sender,
        default_notify_address: b.default_notify_address,
        subject: b.subject,
        body_template: b.body_template,
        subject_es: b.subject_es.unwrap_or_else(|| portal_core::language::WEBMAIL_SUBJECT_ES.into()),
        body_template_es: b.body_template_es.unwrap_or_else(|| portal_core::language::WEBMAIL_BODY_ES.into()),
    };
    change(&d, &p, &meta, b.version, Change::WebMail(w)).await
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct FamilyAccessBody {
    family_access: FamilyAccess,
    version: u64,
}

async fn put_family_access(State(d): State<Deps>, meta: Meta, p: Principal, Json(b): Json<FamilyAccessBody>) -> ApiResult<Json<Saved>> {
    change(&d, &p, &meta, b.version, Change::FamilyAccess(b.family_access)).await
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct ContactBody {
    phone: String,
    address: String,
    hours: String,
    /// Whether patients may ask online to cancel or reschedule; on when left out.
    #[serde(default, deserialize_with = "portal_core::text::present")]
    appointment_requests: Option<bool>,
    version: u64,
}

async fn put_contact(State(d): State<Deps>, meta: Meta, p: Principal, Json(b): Json<ContactBody>) -> ApiResult<Json<Saved>> {
    change(
        &d,
        &p,
        &meta,
        b.version,
        Change::Contact(Contact {
            phone: b.phone,
            address: b.address,
            hours: b.hours,
            appointment_requests: b.appointment_requests.unwrap_or(true),
        }),
    )
    .await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct VerifyBody {
    url: String,
}

async fn verify_url(State(d): State<Deps>, p: Principal, Json(b): Json<VerifyBody>) -> ApiResult<Json<Verification>> {
    p.require(Access::Staff(StaffRole::Admin))?;
    Ok(Json(d.verifier.verify(&b.url).await?))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct AuditQuery {
    cursor: Option<String>,
    limit: Option<usize>,
    /// Unix seconds, inclusive.
    from: Option<i64>,
    to: Option<i64>,
    /// `patient`, `staff`, `sync` or `anonymous`.
    actor_kind: Option<String>,
    actor: Option<String>,
    /// A category of `AuditCategory` (`logins`, `health-data`, `requests`, …).
    what: Option<String>,
}

#[derive(Serialize)]
struct AuditPage {
    entries: Vec<AuditEntry>,
    /// Names of the people and keys the entries mention, by id (ids the practice cannot name are
    /// left out).
    names: BTreeMap<String, String>,
    cursor: Option<String>,
}

async fn audit(State(d): State<Deps>, p: Principal, Query(q): Query<AuditQuery>) -> ApiResult<Json<AuditPage>> {
    let c = p.require(Access::Staff(StaffRole::Admin))?;
    let filter = AuditFilter::parse(q.from, q.to, q.actor_kind.as_deref(), q.actor, q.what.as_deref())?;
    let log = AuditLog { db: d.db() };
    let found = log.search(&c.practice_id, &filter, portal_http::page_limit(q.limit, 50, 200)?, q.cursor.as_deref()).await?;
    let names = DisplayNames { db: d.db() }.names(&c.practice_id, &found.entries).await?;
    Ok(Json(AuditPage { entries: found.entries, names, cursor: found.cursor }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct VerifyQuery {
    cursor: Option<String>,
}

/// Checks the sealed log against its seals, a bounded part per call: the page follows `cursor`
/// until it is gone or a change is named. Nothing of a patient is read out, only entries' times
/// and actions.
async fn verify_audit(State(d): State<Deps>, p: Principal, Query(q): Query<VerifyQuery>) -> ApiResult<Json<SealCheck>> {
    let c = p.require(Access::Staff(StaffRole::Admin))?;
    let seals = AuditSeals { db: d.db() };
    Ok(Json(seals.verify(&c.practice_id, q.cursor.as_deref()).await?))
}

impl Deps {
    fn sync_keys(&self) -> SyncKeys<'_> {
        SyncKeys { db: self.db(), secrets: self.secrets.as_ref() }
    }
}

#[derive(Serialize)]
struct KeysPage {
    keys: Vec<SyncKey>,
}

#[derive(Serialize)]
struct NewKey {
    key: SyncKey,
    /// Shown in this answer only.
    secret: String,
}

#[derive(Serialize)]
struct OneKey {
    key: SyncKey,
}

async fn list_sync_keys(State(d): State<Deps>, p: Principal) -> ApiResult<Json<KeysPage>> {
    let c = p.require(Access::Staff(StaffRole::Admin))?;
    Ok(Json(KeysPage { keys: d.sync_keys().list(&c.practice_id).await? }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewSyncKey {
    label: String,
}

/// The secret is in this answer only; the portal keeps it sealed and never shows it again.
async fn create_sync_key(
    State(d): State<Deps>,
    meta: Meta,
    p: Principal,
    Json(b): Json<NewSyncKey>,
) -> ApiResult<(axum::http::StatusCode, Json<NewKey>)> {
    let c = p.require(Access::Staff(StaffRole::Admin))?;
    let (key, secret) = d.sync_keys().create(&c.actor(&meta.0), &b.label).await?;
    Ok((axum::http::StatusCode::CREATED, Json(NewKey { key, secret })))
}

async fn revoke_sync_key(State(d): State<Deps>, meta: Meta, p: Principal, Path(key_id): Path<String>) -> ApiResult<Json<OneKey>> {
    let c = p.require(Access::Staff(StaffRole::Admin))?;
    // A key of another practice is simply not found under this one.
    let key = d.sync_keys().revoke(&c.actor(&meta.0), &key_id).await?;
    Ok(Json(OneKey { key }))
}

// ------------------------------------------------------------------ Direct recipients

/// A registered Direct address as staff see it (the certificate itself stays stored).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct RecipientView {
    address: String,
    subject: String,
    not_after: String,
    fingerprint: String,
    added_at: String,
    added_by: String,
}

impl From<DirectRecipient> for RecipientView {
    fn from(r: DirectRecipient) -> Self {
        RecipientView {
            address: r.address,
            subject: r.subject,
            not_after: r.not_after,
            fingerprint: r.fingerprint,
            added_at: r.added_at,
            added_by: r.added_by,
        }
    }
}

#[derive(Serialize)]
struct Recipients {
    items: Vec<RecipientView>,
}

impl Deps {
    fn recipients(&self) -> DirectRecipients<'_> {
        DirectRecipients { db: self.db() }
    }
}

async fn list_recipients(State(d): State<Deps>, p: Principal) -> ApiResult<Json<Recipients>> {
    let c = p.require(Access::Staff(StaffRole::FrontDesk))?;
    let items = d.recipients().list(&c.practice_id).await?;
    Ok(Json(Recipients { items: items.into_iter().map(RecipientView::from).collect() }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewRecipient {
    /// The recipient's certificate, PEM.
    certificate: String,
}

async fn add_recipient(
    State(d): State<Deps>,
    meta: Meta,
    p: Principal,
    Json(b): Json<NewRecipient>,
) -> ApiResult<(axum::http::StatusCode, Json<Recipients>)> {
    let c = p.require(Access::Staff(StaffRole::Admin))?;
    let added = d.recipients().add(&c.actor(&meta.0), &c.username, &b.certificate).await?;
    Ok((axum::http::StatusCode::CREATED, Json(Recipients { items: added.into_iter().map(RecipientView::from).collect() })))
}

async fn remove_recipient(
    State(d): State<Deps>,
    meta: Meta,
    p: Principal,
    Path(address): Path<String>,
) -> ApiResult<axum::http::StatusCode> {
    let c = p.require(Access::Staff(StaffRole::Admin))?;
    d.recipients().remove(&c.actor(&meta.0), &address).await?;
    Ok(axum::http::StatusCode::NO_CONTENT)
}
