//! The people who use the portal, as the practice's staff manage them (hence `people`: "access"
//! names the route access table): find patients (name, birthdate, phone) with
//! their access and why they are not eligible, give a patient a login with a temporary password,
//! give a new one, remove access, and note that a login was printed; the automated invites' rules
//! and their log; the practice's staff users (admins only). Rules and audit are in core
//! (`identity::patient_access`, `identity::staff_users`, `sync::roster`, `invites`); each
//! handler re-checks the staff role.

use axum::extract::{Path, State};
use axum::http::{Method, StatusCode};
use portal_core::access::Access;
use portal_core::audit::{Actor, AuditAction, AuditLog};
use portal_core::identity::patient_access::{AccessRecord, PatientAccess, TemporaryLogin};
use portal_core::identity::session::StaffRole;
use portal_core::identity::staff_users::{StaffUser, StaffUsers};
use portal_core::identity::totp::Enrolment;
use portal_core::ids::Username;
use portal_core::invites::rules::{InviteRule, InviteRules, InviteRulesRepo, TAGS};
use portal_core::invites::run::{self, InviteRecord};
use portal_core::invites::sample::{Draft, InviteSamples, Sample};
use portal_core::language::{in_language, Language};
use portal_core::ports::{Clock, Db, Mailer, Ports, Table};
use portal_core::practice::settings::{login_url, SettingsRepo};
use portal_core::sync::entities::Patient;
use portal_core::sync::records::PatientRecords;
use portal_core::sync::roster::{Roster, RosterEntry};
use portal_core::CoreError;
use portal_http::{Api, ApiResult, Json, Meta, Principal, Query};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

#[derive(Clone)]
pub struct Deps {
    pub table: Arc<dyn Table>,
    pub clock: Arc<dyn Clock>,
    /// Logins emailed to patients.
    pub mailer: Arc<dyn Mailer>,
    /// Where the portal's pages are (the login address of a practice without its own).
    pub site_url: String,
}

impl From<&Ports> for Deps {
    fn from(p: &Ports) -> Self {
        Deps { table: p.table.clone(), clock: p.clock.clone(), mailer: p.mailer.clone(), site_url: p.site_url.clone() }
    }
}

impl Deps {
    /// The table and the clock, for building a use case.
    fn db(&self) -> Db<'_> {
        Db { table: self.table.as_ref(), clock: self.clock.as_ref() }
    }

    fn access(&self) -> PatientAccess<'_> {
        PatientAccess { db: self.db() }
    }

    fn samples(&self) -> InviteSamples<'_> {
        InviteSamples { db: self.db(), mailer: self.mailer.as_ref(), site_url: &self.site_url }
    }

    async fn login_url(&self, practice: &portal_core::ids::PracticeId) -> ApiResult<String> {
        let settings = SettingsRepo { db: self.db() }.get(practice).await?;
        Ok(login_url(&settings.ok_or(CoreError::NotFound)?, practice, &self.site_url))
    }
}

pub fn api() -> Api<Deps> {
    Api::new()
        .route(Method::GET, "/v1/admin/patients", search)
        .route(Method::POST, "/v1/admin/patients/{patient_id}/access", grant)
        .route(Method::DELETE, "/v1/admin/patients/{patient_id}/access", remove)
        .route(Method::POST, "/v1/admin/patients/{patient_id}/access/reset", reset)
        .route(Method::POST, "/v1/admin/patients/{patient_id}/access/printed", printed)
        .route(Method::GET, "/v1/admin/staff", list_staff)
        .route(Method::POST, "/v1/admin/staff", create_staff)
        .route(Method::PUT, "/v1/admin/staff/{username}", update_staff)
        .route(Method::POST, "/v1/admin/staff/{username}/totp", start_totp)
        .route(Method::POST, "/v1/admin/staff/{username}/totp/confirm", confirm_totp)
        .route(Method::GET, "/v1/admin/invites/rules", get_rules)
        .route(Method::PUT, "/v1/admin/invites/rules", put_rules)
        .route(Method::GET, "/v1/admin/invites/log", invite_log)
        .route(Method::POST, "/v1/admin/invites/preview", preview_invite)
        .route(Method::POST, "/v1/admin/invites/test", test_invite)
}

pub fn router(deps: Deps) -> axum::Router {
    api().into_router(deps)
}

/// The routes with their state, to merge with the other functions' (the local host).
pub fn routes(ports: &Ports) -> axum::Router {
    api().into_routes(Deps::from(ports))
}

const STAFF: Access = Access::Staff(StaffRole::FrontDesk);

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SearchQuery {
    q: Option<String>,
    cursor: Option<String>,
    limit: Option<usize>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct AccessView {
    enabled: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    username: Option<Username>,
    #[serde(skip_serializing_if = "Option::is_none")]
    granted_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    last_login_at: Option<String>,
}

impl From<Option<AccessRecord>> for AccessView {
    fn from(a: Option<AccessRecord>) -> Self {
        let at = |t: i64| portal_core::clock::rfc3339(t);
        AccessView {
            enabled: a.is_some(),
            granted_at: a.as_ref().map(|a| at(a.granted_at)),
            last_login_at: a.as_ref().and_then(|a| a.last_login_at).map(at),
            username: a.map(|a| a.username),
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Found {
    patient_id: String,
    name: String,
    birthdate: String,
    access: AccessView,
    eligible: bool,
    missing: Vec<String>,
    has_email: bool,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SearchPage {
    items: Vec<Found>,
    next_cursor: Option<String>,
}

async fn search(State(d): State<Deps>, meta: Meta, p: Principal, Query(q): Query<SearchQuery>) -> ApiResult<Json<SearchPage>> {
    let c = p.require(STAFF)?;
    let limit = portal_http::page_limit(q.limit, 20, 50)?;
    let page = Roster { db: d.db() }.search(&c.practice_id, q.q.as_deref().unwrap_or(""), limit, q.cursor.as_deref()).await?;
    let ids: Vec<&str> = page.entries.iter().map(|e| e.patient_id.as_str()).collect();
    let access = d.access().of_each(&c.practice_id, &ids).await?;
    AuditLog { db: d.db() }.patients_listed(&c.actor(&meta.0), AuditAction::RosterRead, &ids).await?;
    let items = page
        .entries
        .into_iter()
        .zip(access)
        .map(|(e, a): (RosterEntry, _)| Found {
            eligible: e.missing.is_empty(),
            patient_id: e.patient_id,
            name: e.name,
            birthdate: e.birthdate,
            access: a.into(),
            missing: e.missing,
            has_email: e.has_email,
        })
        .collect();
    Ok(Json(SearchPage { items, next_cursor: page.cursor }))
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct LoginSheet {
    username: Username,
    /// Shown in this answer only; the portal keeps its hash.
    temporary_password: String,
    /// Opens the portal in the patient's language.
    login_url: String,
    /// The patient's language (`en`, `es`): the printed sheet is in it.
    language: &'static str,
    /// Whether it was also emailed to the patient (`?email=true`).
    emailed: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SendQuery {
    /// Also email the login to the patient's own address.
    email: Option<bool>,
}

impl Deps {
    /// The login as staff get it, emailed first when asked (a failed email fails the request;
    /// the login stays made and can be printed or renewed).
    async fn sheet(&self, actor: &Actor, patient_id: &str, login: TemporaryLogin, email: bool) -> ApiResult<Json<LoginSheet>> {
        if email {
            self.access().email_login(actor, patient_id, &login, self.mailer.as_ref(), &self.site_url).await?;
        }
        let patient = PatientRecords { db: self.db() }.get::<Patient>(&actor.practice, patient_id).await?;
        let lang = Language::of(patient.as_ref().and_then(|p| p.record.preferred_language.as_deref()));
        let login_url = in_language(&self.login_url(&actor.practice).await?, lang);
        Ok(Json(LoginSheet {
            username: login.username,
            temporary_password: login.temporary_password,
            login_url,
            language: lang.code(),
            emailed: email,
        }))
    }
}

async fn grant(
    State(d): State<Deps>,
    meta: Meta,
    p: Principal,
    Path(patient_id): Path<String>,
    Query(q): Query<SendQuery>,
) -> ApiResult<(StatusCode, Json<LoginSheet>)> {
    let c = p.require(STAFF)?;
    let actor = c.actor(&meta.0);
    let login = d.access().grant(&actor, &patient_id).await?;
    Ok((StatusCode::CREATED, d.sheet(&actor, &patient_id, login, q.email == Some(true)).await?))
}

async fn reset(
    State(d): State<Deps>,
    meta: Meta,
    p: Principal,
    Path(patient_id): Path<String>,
    Query(q): Query<SendQuery>,
) -> ApiResult<Json<LoginSheet>> {
    let c = p.require(STAFF)?;
    let actor = c.actor(&meta.0);
    let login = d.access().reset(&actor, &patient_id).await?;
    d.sheet(&actor, &patient_id, login, q.email == Some(true)).await
}

async fn remove(State(d): State<Deps>, meta: Meta, p: Principal, Path(patient_id): Path<String>) -> ApiResult<StatusCode> {
    let c = p.require(STAFF)?;
    d.access().remove(&c.actor(&meta.0), &patient_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn printed(State(d): State<Deps>, meta: Meta, p: Principal, Path(patient_id): Path<String>) -> ApiResult<StatusCode> {
    let c = p.require(STAFF)?;
    d.access().printed(&c.actor(&meta.0), &patient_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct RulesPage {
    #[serde(flatten)]
    rules: InviteRules,
    tags: [&'static str; 8],
    can_edit: bool,
}

async fn get_rules(State(d): State<Deps>, p: Principal) -> ApiResult<Json<RulesPage>> {
    let c = p.require(STAFF)?;
    let rules = InviteRulesRepo { db: d.db() }.get(&c.practice_id).await?;
    Ok(Json(RulesPage { rules, tags: TAGS, can_edit: c.role == Some(StaffRole::Admin) }))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RulesBody {
    rules: Vec<InviteRule>,
    #[serde(default)]
    office_phone: String,
    version: u64,
}

async fn put_rules(State(d): State<Deps>, meta: Meta, p: Principal, Json(b): Json<RulesBody>) -> ApiResult<Json<InviteRules>> {
    let c = p.require(Access::Staff(StaffRole::Admin))?;
    let repo = InviteRulesRepo { db: d.db() };
    Ok(Json(repo.put(&c.actor(&meta.0), b.version, &b.rules, &b.office_phone).await?))
}

/// A rule's email as the sample patient would get it (front desk too: it shows nothing real).
async fn preview_invite(State(d): State<Deps>, p: Principal, Json(draft): Json<Draft>) -> ApiResult<Json<Sample>> {
    let c = p.require(STAFF)?;
    Ok(Json(d.samples().preview(&c.practice_id, &draft).await?))
}

/// The preview's draft and the staff member's own address to mail it to.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct TestBody {
    subject: String,
    body: String,
    #[serde(default)]
    language: Language,
    #[serde(default)]
    office_phone: String,
    to: String,
}

async fn test_invite(State(d): State<Deps>, meta: Meta, p: Principal, Json(b): Json<TestBody>) -> ApiResult<Json<Sample>> {
    let c = p.require(ADMIN)?;
    let draft = Draft { subject: b.subject, body: b.body, language: b.language, office_phone: b.office_phone };
    Ok(Json(d.samples().send_test(&c.actor(&meta.0), &draft, &b.to).await?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LogQuery {
    cursor: Option<String>,
    limit: Option<usize>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct LogPage {
    items: Vec<InviteRecord>,
    next_cursor: Option<String>,
}

async fn invite_log(State(d): State<Deps>, meta: Meta, p: Principal, Query(q): Query<LogQuery>) -> ApiResult<Json<LogPage>> {
    let c = p.require(STAFF)?;
    let (items, next_cursor) = run::log(d.table.as_ref(), &c.practice_id, portal_http::page_limit(q.limit, 50, 200)?, q.cursor).await?;
    let ids: Vec<&str> = items.iter().map(|i| i.patient_id.as_str()).collect();
    AuditLog { db: d.db() }.patients_listed(&c.actor(&meta.0), AuditAction::InvitesLogRead, &ids).await?;
    Ok(Json(LogPage { items, next_cursor }))
}

const ADMIN: Access = Access::Staff(StaffRole::Admin);

impl Deps {
    fn staff(&self) -> StaffUsers<'_> {
        StaffUsers { db: self.db() }
    }
}

#[derive(Serialize)]
struct StaffPage {
    items: Vec<StaffUser>,
}

async fn list_staff(State(d): State<Deps>, p: Principal) -> ApiResult<Json<StaffPage>> {
    let c = p.require(ADMIN)?;
    Ok(Json(StaffPage { items: d.staff().list(&c.practice_id).await? }))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct NewStaff {
    username: String,
    display_name: String,
    role: StaffRole,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct CreatedStaff {
    user: StaffUser,
    /// Shown in this answer only.
    temporary_password: String,
}

async fn create_staff(
    State(d): State<Deps>,
    meta: Meta,
    p: Principal,
    Json(b): Json<NewStaff>,
) -> ApiResult<(StatusCode, Json<CreatedStaff>)> {
    let c = p.require(ADMIN)?;
    let (user, temporary_password) = d.staff().create(&c.actor(&meta.0), &b.username, &b.display_name, b.role).await?;
    Ok((StatusCode::CREATED, Json(CreatedStaff { user, temporary_password })))
}

/// Each field optional, but never `null` (the contract gives a value or leaves the field out).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StaffChange {
    #[serde(default, deserialize_with = "portal_core::text::present")]
    role: Option<StaffRole>,
    #[serde(default, deserialize_with = "portal_core::text::present")]
    disabled: Option<bool>,
}

#[derive(Serialize)]
struct OneStaff {
    user: StaffUser,
}

async fn update_staff(
    State(d): State<Deps>,
    meta: Meta,
    p: Principal,
    Path(username): Path<String>,
    Json(b): Json<StaffChange>,
) -> ApiResult<Json<OneStaff>> {
    let c = p.require(ADMIN)?;
    Ok(Json(OneStaff { user: d.staff().update(&c.actor(&meta.0), &username, b.role, b.disabled).await? }))
}

async fn start_totp(State(d): State<Deps>, meta: Meta, p: Principal, Path(username): Path<String>) -> ApiResult<Json<Enrolment>> {
    let c = p.require(ADMIN)?;
    Ok(Json(d.staff().start_totp(&c.actor(&meta.0), &c.practice_name, &username).await?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TotpCode {
    code: String,
}

async fn confirm_totp(
    State(d): State<Deps>,
    meta: Meta,
    p: Principal,
    Path(username): Path<String>,
    Json(b): Json<TotpCode>,
) -> ApiResult<Json<OneStaff>> {
    let c = p.require(ADMIN)?;
    Ok(Json(OneStaff { user: d.staff().confirm_totp(&c.actor(&meta.0), &username, &b.code).await? }))
}
