//! Logins and the session: patient login, staff login with TOTP, logout, password change, `/v1/me`,
//! the health check, and what a page needs before anyone logs in: the practice a portal address
//! names, and whether the browser holds a live session (a 200 either way, so a first visit is not
//! an error).

use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, Method};
use axum::response::{IntoResponse, Response};
use portal_core::access::Access;
use portal_core::audit::{AuditAction, AuditLog};
use portal_core::clock::rfc3339;
use portal_core::identity::login::{LoginInput, LoginOk, LoginResult, Logins, RequestMeta};
use portal_core::identity::mfa::{Mfa, MfaStatus, Proof};
use portal_core::identity::notices::Notices;
use portal_core::identity::recovery::Recovery;
use portal_core::identity::session::{self, PrincipalKind, Sessions};
use portal_core::identity::totp::Enrolment;
use portal_core::ids::PracticeId;
use portal_core::language::SecurityNotice;
use portal_core::patient::profile::{ContactChange, Profile, Profiles};
use portal_core::ports::{Clock, Db, Events, Mailer, Ports, Table};
use portal_core::practice::family::{Family, Member};
use portal_core::practice::settings::{portal_path, Contact, SettingsRepo};
use portal_core::reads::Caller;
use portal_core::sync::records::PatientRecords;
use portal_core::{CoreError, Feature, ProblemCode};
use portal_http::{clear_session_cookie, cookie, device_cookie, session_cookie, Api, ApiResult, Json, Meta, Principal, DEVICE_COOKIE};
use serde::{Deserialize, Serialize};

use std::sync::Arc;

#[derive(Clone)]
pub struct Deps {
    pub table: Arc<dyn Table>,
    pub clock: Arc<dyn Clock>,
    pub events: Arc<dyn Events>,
    /// Password-reset links and security notices.
    pub mailer: Arc<dyn Mailer>,
    /// Where the portal's pages are (reset links of a practice without its own address).
    pub site_url: String,
}

impl From<&Ports> for Deps {
    fn from(p: &Ports) -> Self {
        Deps {
            table: p.table.clone(),
            clock: p.clock.clone(),
            events: p.events.clone(),
            mailer: p.mailer.clone(),
            site_url: p.site_url.clone(),
        }
    }
}

/// "Forgot password" answers after at least this long, found or not, so its timing does not tell
/// whether an account exists.
const FORGOT_ANSWER_AFTER: std::time::Duration = std::time::Duration::from_millis(800);

impl Deps {
    /// The table and the clock, for building a use case.
    fn db(&self) -> Db<'_> {
        Db { table: self.table.as_ref(), clock: self.clock.as_ref() }
    }

    fn recovery(&self) -> Recovery<'_> {
        Recovery { db: self.db(), mailer: self.mailer.as_ref(), events: self.events.as_ref(), site_url: &self.site_url }
    }
    fn profiles(&self) -> Profiles<'_> {
        Profiles { db: self.db(), events: self.events.as_ref() }
    }
    fn notices(&self) -> Notices<'_> {
        Notices { db: self.db(), mailer: self.mailer.as_ref(), site_url: &self.site_url }
    }
    fn logins(&self) -> Logins<'_> {
        Logins { db: self.db(), events: self.events.as_ref() }
    }
    fn family(&self) -> Family<'_> {
        Family { records: PatientRecords { db: self.db() } }
    }
    fn audit(&self) -> AuditLog<'_> {
        AuditLog { db: self.db() }
    }
}

pub fn api() -> Api<Deps> {
    Api::new()
        .route(Method::GET, "/v1/health", health)
        .route(Method::POST, "/v1/auth/login", patient_login)
        .route(Method::POST, "/v1/staff/login", staff_login)
        .route(Method::POST, "/v1/auth/logout", logout)
        .route(Method::POST, "/v1/auth/password", change_password)
        .route(Method::GET, "/v1/auth/mfa", mfa_status)
        .route(Method::POST, "/v1/auth/mfa/enrol", mfa_enrol)
        .route(Method::POST, "/v1/auth/mfa/confirm", mfa_confirm)
        .route(Method::DELETE, "/v1/auth/mfa", mfa_remove)
        .route(Method::POST, "/v1/auth/forgot", forgot)
        .route(Method::POST, "/v1/auth/reset", reset)
        .route(Method::GET, "/v1/me", me)
        .route(Method::GET, "/v1/me/profile", profile)
        .route(Method::PUT, "/v1/me/profile", change_profile)
        .route(Method::GET, "/v1/session", session)
        .route(Method::GET, "/v1/practices/{practice_id}", practice_portal)
}

pub fn router(deps: Deps) -> axum::Router {
    api().into_router(deps)
}

/// The routes with their state, to merge with the other functions' (the local host).
pub fn routes(ports: &Ports) -> axum::Router {
    api().into_routes(Deps::from(ports))
}

#[derive(Serialize)]
struct Health {
    status: &'static str,
}

async fn health() -> Json<Health> {
    Json(Health { status: "ok" })
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct LoggedOut {
    logged_out: bool,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct LoginBody {
    practice: String,
    username: String,
    password: String,
    /// Patients who turned on a second factor: the app's code, or one of their recovery codes.
    totp: Option<String>,
    recovery_code: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct MfaRequired {
    mfa_required: bool,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct StaffLoginBody {
    practice: String,
    username: String,
    password: String,
    totp: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SessionAnswer {
    token: String,
    expires_at: String,
    must_change_password: bool,
}

/// The session as the client gets it: the token in the body (API clients) and in the cookie
/// (pages); a browser that just became a known device gets that cookie too.
fn session_response(ok: LoginOk) -> Response {
    let expires = ok.session.expires_at();
    let max_age = portal_core::identity::session::ABSOLUTE_TIMEOUT;
    let mut headers = HeaderMap::new();
    headers.append(header::SET_COOKIE, session_cookie(&ok.token, max_age));
    if let Some(device) = ok.device.as_deref().and_then(|d| device_cookie(d, portal_core::identity::devices::DEVICE_SECONDS)) {
        headers.append(header::SET_COOKIE, device);
    }
    let body = SessionAnswer { token: ok.token, expires_at: rfc3339(expires), must_change_password: ok.session.must_change_password };
    (headers, Json(body)).into_response()
}

/// A session, or (the password right, a second factor on, no code given) `{mfaRequired: true}`.
async fn patient_login(State(d): State<Deps>, Meta(meta): Meta, headers: HeaderMap, Json(b): Json<LoginBody>) -> ApiResult<Response> {
    let device = cookie(&headers, DEVICE_COOKIE);
    let input = LoginInput {
        practice: &b.practice,
        username: &b.username,
        password: &b.password,
        totp: b.totp.as_deref(),
        recovery_code: b.recovery_code.as_deref(),
        device: device.as_deref(),
    };
    Ok(match d.logins().login(PrincipalKind::Patient, input, &meta).await? {
        LoginResult::Session(ok) => session_response(ok),
        LoginResult::MfaRequired => Json(MfaRequired { mfa_required: true }).into_response(),
    })
}

async fn staff_login(State(d): State<Deps>, Meta(meta): Meta, headers: HeaderMap, Json(b): Json<StaffLoginBody>) -> ApiResult<Response> {
    let device = cookie(&headers, DEVICE_COOKIE);
    let input = LoginInput {
        practice: &b.practice,
        username: &b.username,
        password: &b.password,
        totp: Some(&b.totp),
        recovery_code: None,
        device: device.as_deref(),
    };
    let ok = d.logins().login(PrincipalKind::Staff, input, &meta).await?;
    match ok {
        LoginResult::Session(ok) => Ok(session_response(ok)),
        // Staff always give a code; this cannot come back for them.
        LoginResult::MfaRequired => Err(CoreError::unauthorized(ProblemCode::LoginFailed, "The code is missing.").into()),
    }
}

async fn logout(State(d): State<Deps>, Meta(meta): Meta, p: Principal) -> ApiResult<Response> {
    let c = p.require(Access::Session)?;
    d.logins().logout(&c.actor(&meta), &c.session_id).await?;
    Ok(([(header::SET_COOKIE, clear_session_cookie())], Json(LoggedOut { logged_out: true })).into_response())
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct PasswordBody {
    current_password: String,
    new_password: String,
    /// A patient replacing a temporary password may choose their own username too.
    new_username: Option<String>,
}

async fn change_password(State(d): State<Deps>, Meta(meta): Meta, p: Principal, Json(b): Json<PasswordBody>) -> ApiResult<Response> {
    let c = p.require(Access::Session)?;
    let ok = d.logins().change_password(&c.actor(&meta), &b.current_password, &b.new_password, b.new_username.as_deref()).await?;
    // A patient choosing their first password (from a temporary one) changed nothing to warn of.
    if c.kind == PrincipalKind::Patient && !c.must_change_password {
        d.notices().tell(&c.actor(&meta), SecurityNotice::PasswordChanged).await?;
    }
    Ok(session_response(ok))
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SessionState {
    authenticated: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    kind: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    practice_id: Option<PracticeId>,
    #[serde(skip_serializing_if = "Option::is_none")]
    must_change_password: Option<bool>,
    /// Seconds after any request that the session is sure to stay alive (the idle timeout less
    /// the interval its idle timer is written at): the page warns before this runs out.
    #[serde(skip_serializing_if = "Option::is_none")]
    idle_seconds: Option<i64>,
}

/// Whether the request carries a live session, and whose kind and practice (the page then asks
/// `/v1/me`). Public: no session is an answer, not an error.
async fn session(State(d): State<Deps>, headers: HeaderMap) -> ApiResult<Json<SessionState>> {
    let sessions = Sessions { db: d.db() };
    let live = match portal_http::token_from_headers(&headers) {
        Some(token) => sessions.resolve(&token).await?,
        None => None,
    };
    Ok(Json(match live {
        Some((_, s)) => SessionState {
            authenticated: true,
            kind: Some(s.kind.as_str()),
            practice_id: Some(s.practice),
            must_change_password: Some(s.must_change_password),
            idle_seconds: Some(session::IDLE_TIMEOUT - session::TOUCH_INTERVAL),
        },
        None => SessionState { authenticated: false, kind: None, practice_id: None, must_change_password: None, idle_seconds: None },
    }))
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct PracticePortal {
    id: PracticeId,
    name: String,
    portal_path: String,
    /// How to reach the office: on every page ("Contact us"), signed in or not.
    contact: Contact,
}

/// The practice a portal address names, for its login page. Public, and nothing about patients.
async fn practice_portal(State(d): State<Deps>, Path(practice_id): Path<String>) -> ApiResult<Json<PracticePortal>> {
    let id = PracticeId::parse(&practice_id).ok_or(CoreError::NotFound)?;
    let repo = SettingsRepo { db: d.db() };
    let settings = repo.get(&id).await?.ok_or(CoreError::NotFound)?;
    Ok(Json(PracticePortal { portal_path: portal_path(&id), name: settings.practice_name, contact: settings.contact, id }))
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct FeatureView {
    key: &'static str,
    label: &'static str,
    path: &'static str,
    /// Whether its module is deployed; an unavailable feature's tab says it is coming.
    available: bool,
}

#[derive(Serialize)]
struct PracticeView {
    id: PracticeId,
    name: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct MeAnswer {
    kind: &'static str,
    principal_id: String,
    username: String,
    role: Option<&'static str>,
    practice: PracticeView,
    features: Vec<FeatureView>,
    /// The family members this patient may see, themself first (empty for staff).
    family: Vec<Member>,
    must_change_password: bool,
}

async fn me(State(d): State<Deps>, Meta(meta): Meta, p: Principal) -> ApiResult<Json<MeAnswer>> {
    let c = p.require(Access::Session)?;
    // Patients see the features of their practice (as the authorizer read them); staff see none.
    let features: Vec<FeatureView> = c
        .features
        .iter()
        .filter(|_| c.kind == PrincipalKind::Patient)
        .map(|f: &Feature| FeatureView { key: f.key(), label: f.label(), path: f.route_prefix(), available: f.available() })
        .collect();
    let family = match c.viewer() {
        Some(viewer) => {
            // Names of family members are PHI: reading them is audited, once a session (every
            // page asks again). The audit's check runs beside the read.
            let (audit, actor) = (d.audit(), c.actor(&meta));
            let audited = audit.phi_read_once_per_session(
                &actor,
                (&c.session_id, session::ABSOLUTE_TIMEOUT),
                &c.principal_id,
                AuditAction::FamilyRead,
            );
            let (members, ()) = futures_util::future::try_join(d.family().members(&c.practice_id, &viewer), audited).await?;
            members
        }
        None => vec![],
    };
    Ok(Json(MeAnswer {
        kind: c.kind.as_str(),
        principal_id: c.principal_id.clone(),
        username: c.username.clone(),
        role: c.role.map(|r| r.as_str()),
        practice: PracticeView { id: c.practice_id.clone(), name: c.practice_name.clone() },
        features,
        family,
        must_change_password: c.must_change_password,
    }))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct ForgotBody {
    practice: String,
    username_or_email: String,
}

#[derive(Serialize)]
struct Accepted {
    /// The same words whatever was asked.
    detail: &'static str,
}

/// 202 whatever was asked, after the same minimum time; a backend failure is logged, not told.
/// Only input no account could match is refused (the lengths the contract sets).
async fn forgot(State(d): State<Deps>, Meta(meta): Meta, Json(b): Json<ForgotBody>) -> ApiResult<(axum::http::StatusCode, Json<Accepted>)> {
    Recovery::check_request(&b.practice, &b.username_or_email)?;
    let started = tokio::time::Instant::now();
    if let Err(e) = d.recovery().request(&b.practice, &b.username_or_email, meta.source_ip.as_deref()).await {
        tracing::warn!(code = %e.code(), "password reset request not completed");
    }
    tokio::time::sleep_until(started + FORGOT_ANSWER_AFTER).await;
    let detail = "If that login or email is known to the practice, a link to choose a new password is on its way to the patient's email. It works once, for 30 minutes.";
    Ok((axum::http::StatusCode::ACCEPTED, Json(Accepted { detail })))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct ResetBody {
    token: String,
    new_password: String,
}

/// Sets the new password; does not log in (the patient logs in with it next).
async fn reset(State(d): State<Deps>, Meta(meta): Meta, Json(b): Json<ResetBody>) -> ApiResult<axum::http::StatusCode> {
    d.recovery().reset(&b.token, &b.new_password, meta.source_ip.as_deref()).await?;
    Ok(axum::http::StatusCode::NO_CONTENT)
}

impl Deps {
    fn mfa(&self) -> Mfa<'_> {
        Mfa { db: self.db() }
    }
}

async fn mfa_status(State(d): State<Deps>, Meta(meta): Meta, p: Principal) -> ApiResult<Json<MfaStatus>> {
    let c = p.require(Access::Patient)?;
    Ok(Json(d.mfa().status(&c.actor(&meta)).await?))
}

async fn mfa_enrol(State(d): State<Deps>, Meta(meta): Meta, p: Principal) -> ApiResult<Json<Enrolment>> {
    let c = p.require(Access::Patient)?;
    Ok(Json(d.mfa().enrol(&c.actor(&meta), &c.practice_name).await?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MfaCode {
    code: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct RecoveryCodes {
    /// Shown in this answer only.
    recovery_codes: Vec<String>,
}

async fn mfa_confirm(State(d): State<Deps>, Meta(meta): Meta, p: Principal, Json(b): Json<MfaCode>) -> ApiResult<Json<RecoveryCodes>> {
    let c = p.require(Access::Patient)?;
    let recovery_codes = d.mfa().confirm(&c.actor(&meta), &b.code).await?;
    d.notices().tell(&c.actor(&meta), SecurityNotice::TwoStepOn).await?;
    Ok(Json(RecoveryCodes { recovery_codes }))
}

/// The caller as a patient reading or changing their own details.
fn own(p: &Principal, meta: &RequestMeta) -> ApiResult<Caller> {
    let c = p.require(Access::Patient)?;
    let viewer = c.viewer().ok_or_else(|| CoreError::forbidden(ProblemCode::PatientsOnly, "Only patients have contact details here."))?;
    Ok(Caller { actor: c.actor(meta), viewer })
}

async fn profile(State(d): State<Deps>, Meta(meta): Meta, p: Principal) -> ApiResult<Json<Profile>> {
    Ok(Json(d.profiles().get(&own(&p, &meta)?).await?))
}

async fn change_profile(State(d): State<Deps>, Meta(meta): Meta, p: Principal, Json(b): Json<ContactChange>) -> ApiResult<Json<Profile>> {
    Ok(Json(d.profiles().change(&own(&p, &meta)?, b).await?))
}

/// The proof that turning the second factor off asks for: the password or a current code.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MfaProof {
    password: Option<String>,
    code: Option<String>,
}

async fn mfa_remove(State(d): State<Deps>, Meta(meta): Meta, p: Principal, Json(b): Json<MfaProof>) -> ApiResult<axum::http::StatusCode> {
    let c = p.require(Access::Patient)?;
    let proof = Proof { password: b.password.as_deref(), code: b.code.as_deref() };
    d.mfa().remove(&c.actor(&meta), &proof).await?;
    d.notices().tell(&c.actor(&meta), SecurityNotice::TwoStepOff).await?;
    Ok(axum::http::StatusCode::NO_CONTENT)
}
