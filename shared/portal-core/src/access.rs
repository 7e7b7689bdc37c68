//! Who may call which route. One table maps each route prefix to what it needs; the authorizer (on
//! AWS and, as middleware, locally) applies it, and every handler re-checks with the same context.

use crate::audit::Actor;
use crate::identity::session::{PrincipalKind, Sessions, StaffRole};
use crate::ids::PracticeId;
use crate::ports::Db;
use crate::ports::SecretBox;
use crate::practice::family::{FamilyAccess, Viewer};
use crate::practice::features::{self, Feature};
use crate::practice::settings::SettingsCache;
use crate::sync::signing::{canonical_path_with_query, practice_of_key, SecretCache, SyncKeys, SyncSignature};
use crate::{CoreError, CoreResult, ProblemCode};
use std::collections::HashMap;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// No session needed (health, logins).
    Public,
    /// Any live session, including a patient who still has to change a temporary password.
    Session,
    /// A patient's own session, whatever the practice's features (their login's settings).
    Patient,
    /// A patient of a practice that enabled this feature.
    Feature(Feature),
    /// A staff member with at least this role.
    Staff(StaffRole),
    /// A staff member with at least this role, in a practice that enabled this feature (the staff
    /// side of a patient feature, such as the practice's WebMail inbox).
    StaffFeature(StaffRole, Feature),
    /// The practice's own system, by a signed request.
    Sync,
}

/// `(method or "*", path prefix, access)`; the first match wins, so specific entries come first.
/// A prefix matches the path itself and anything below it (`/v1/me` matches `/v1/me` and
/// `/v1/me/x`, not `/v1/meow`). Anything not listed is denied.
pub const ROUTE_ACCESS: &[(&str, &str, Access)] = &[
    ("*", "/v1/health", Access::Public),
    ("*", "/v1/auth/login", Access::Public),
    ("*", "/v1/staff/login", Access::Public),
    ("*", "/v1/auth/forgot", Access::Public),
    ("*", "/v1/auth/reset", Access::Public),
    ("GET", "/v1/session", Access::Public),
    ("GET", "/v1/practices", Access::Public),
    // Paying without logging in (`payments::guest`): the guest's own key is the check.
    ("POST", "/v1/public/payments", Access::Public),
    // A processor's webhook: no session, its signature is the check (`payments::Payments::webhook`).
    ("POST", "/v1/webhooks/stripe", Access::Public),
    ("*", "/v1/auth/logout", Access::Session),
    ("*", "/v1/auth/password", Access::Session),
    ("*", "/v1/auth/mfa", Access::Patient),
    // A patient's own contact details (`patient::profile`).
    ("*", "/v1/me/profile", Access::Patient),
    ("*", "/v1/me", Access::Session),
    ("*", "/v1/admin/webmail", Access::StaffFeature(StaffRole::FrontDesk, Feature::ModuleWebMail)),
    ("*", "/v1/admin/staff", Access::Staff(StaffRole::Admin)),
    // The front desk gives patients their logins.
    ("*", "/v1/admin/patients", Access::Staff(StaffRole::FrontDesk)),
    // A sample invite reads nothing real: the front desk may look at one.
    ("POST", "/v1/admin/invites/preview", Access::Staff(StaffRole::FrontDesk)),
    ("GET", "/v1/admin", Access::Staff(StaffRole::FrontDesk)),
    ("*", "/v1/admin", Access::Staff(StaffRole::Admin)),
    ("*", "/v1/sync", Access::Sync),
    ("*", "/v1/payments", Access::Feature(Feature::MakePayments)),
    ("*", "/v1/account", Access::Feature(Feature::ModuleAccount)),
    ("*", "/v1/webmail", Access::Feature(Feature::ModuleWebMail)),
    ("*", "/v1/care-summary", Access::Feature(Feature::ModuleCareSummary)),
    ("*", "/v1/images", Access::Feature(Feature::ModuleImages)),
    ("*", "/v1/appointments", Access::Feature(Feature::MakeAppointments)),
    ("*", "/v1/treatment-plans", Access::Feature(Feature::ModuleTreatmentPlan)),
];

fn prefix_matches(path: &str, prefix: &str) -> bool {
    path.strip_prefix(prefix).is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
}

/// What a route needs; `None` when the route is not one of ours (the router answers 404).
pub fn required(method: &str, path: &str) -> Option<Access> {
    ROUTE_ACCESS
        .iter()
        .find(|(m, prefix, _)| (*m == "*" || m.eq_ignore_ascii_case(method)) && prefix_matches(path, prefix))
        .map(|(_, _, a)| *a)
}

/// What the authorizer hands every handler: flat string fields, as API Gateway carries them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthContext {
    /// Checked when the context is read, like every id that enters from outside.
    pub practice_id: PracticeId,
    /// The practice's display name (from the settings the authorizer read anyway).
    pub practice_name: String,
    pub principal_id: String,
    pub kind: PrincipalKind,
    pub role: Option<StaffRole>,
    pub username: String,
    pub features: Vec<Feature>,
    /// The practice's family rule setting (patients only), so modules check family access
    /// without reading the settings again.
    pub family_access: FamilyAccess,
    /// SHA-256 of the session token (to end this session at logout).
    pub session_id: String,
    pub must_change_password: bool,
}

impl AuthContext {
    pub fn to_fields(&self) -> HashMap<String, String> {
        HashMap::from([
            ("practiceId".into(), self.practice_id.to_string()),
            ("practiceName".into(), self.practice_name.clone()),
            ("principalId".into(), self.principal_id.clone()),
            ("kind".into(), self.kind.as_str().into()),
            ("role".into(), self.role.map(|r| r.as_str()).unwrap_or("").into()),
            ("username".into(), self.username.clone()),
            ("features".into(), features::join(&self.features)),
            ("familyAccess".into(), self.family_access.as_str().into()),
            ("sessionId".into(), self.session_id.clone()),
            ("mustChangePassword".into(), self.must_change_password.to_string()),
        ])
    }

    /// Reads the fields back; `None` when the context is missing or malformed.
    pub fn from_fields(get: impl Fn(&str) -> Option<String>) -> Option<Self> {
        let practice_id = PracticeId::parse(&get("practiceId")?)?;
        Some(AuthContext {
            practice_name: get("practiceName").unwrap_or_default(),
            principal_id: get("principalId").filter(|s| !s.is_empty())?,
            kind: PrincipalKind::parse(&get("kind")?)?,
            role: get("role").and_then(|r| StaffRole::parse(&r)),
            username: get("username").unwrap_or_default(),
            features: features::split(&get("features").unwrap_or_default()),
            family_access: get("familyAccess").and_then(|f| FamilyAccess::parse(&f)).unwrap_or_default(),
            session_id: get("sessionId").unwrap_or_default(),
            must_change_password: get("mustChangePassword").as_deref() == Some("true"),
            practice_id,
        })
    }

    /// This caller as the audit log records them.
    pub fn actor(&self, meta: &crate::identity::login::RequestMeta) -> Actor {
        Actor::new(&self.practice_id, self.kind.into(), &self.principal_id, meta.source_ip.as_deref())
    }

    /// The patient behind this session, for the family rule; `None` for staff and sync keys.
    pub fn viewer(&self) -> Option<Viewer> {
        (self.kind == PrincipalKind::Patient).then(|| Viewer::new(&self.principal_id, self.family_access))
    }

    pub fn has_feature(&self, f: Feature) -> bool {
        self.kind == PrincipalKind::Patient && self.features.contains(&f)
    }

    /// Checks this context against what a route needs (the handlers' re-check uses this too).
    pub fn allows(&self, access: Access) -> Result<(), CoreError> {
        match access {
            Access::Public => Ok(()),
            Access::Sync if self.kind == PrincipalKind::Sync => Ok(()),
            Access::Sync => Err(CoreError::forbidden(ProblemCode::SyncOnly, "Only the practice's own system may use the sync API.")),
            _ if self.kind == PrincipalKind::Sync => {
                Err(CoreError::forbidden(ProblemCode::SyncKeyScope, "A sync key may use only the sync API."))
            }
            Access::Session => Ok(()),
            _ if self.must_change_password => {
                Err(CoreError::forbidden(ProblemCode::PasswordChangeRequired, "Change your temporary password first."))
            }
            Access::Patient if self.kind == PrincipalKind::Patient => Ok(()),
            Access::Patient => Err(CoreError::forbidden(ProblemCode::PatientsOnly, "This is for patients' own logins.")),
            Access::Feature(f) if self.has_feature(f) => Ok(()),
            Access::Feature(f) => {
                Err(CoreError::forbidden(ProblemCode::FeatureDisabled, format!("Your practice has not enabled {}.", f.label())))
            }
            Access::Staff(min) if self.kind == PrincipalKind::Staff && self.role.is_some_and(|r| r >= min) => Ok(()),
            Access::Staff(_) => Err(CoreError::forbidden(ProblemCode::StaffOnly, "This needs a staff account with the right role.")),
            Access::StaffFeature(min, f) if self.kind == PrincipalKind::Staff && self.role.is_some_and(|r| r >= min) => {
                if self.features.contains(&f) {
                    Ok(())
                } else {
                    Err(CoreError::forbidden(ProblemCode::FeatureDisabled, format!("The practice has not enabled {}.", f.label())))
                }
            }
            Access::StaffFeature(..) => {
                Err(CoreError::forbidden(ProblemCode::StaffOnly, "This needs a staff account with the right role."))
            }
        }
    }
}

/// The decision for one request.
#[derive(Debug)]
pub enum Decision {
    /// A public route (or none of ours): no session looked at, no context.
    Public,
    Allow(AuthContext),
}

/// What the authorizer knows of a request (it never sees the body).
#[derive(Debug, Clone, Default)]
pub struct RequestFacts<'a> {
    pub method: &'a str,
    pub path: &'a str,
    /// The query parameters, in any order.
    pub query: Vec<(String, String)>,
    /// A session token from the cookie or `Authorization: Bearer`.
    pub token: Option<String>,
    /// The signing headers of a sync request.
    pub sync: Option<SyncSignature>,
    pub source_ip: Option<&'a str>,
    /// What the browser says of where the request comes from.
    pub origin: BrowserOrigin,
}

/// The headers a browser sets about a request's origin (absent from API clients).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BrowserOrigin {
    /// `Sec-Fetch-Site`: `same-origin`, `same-site`, `cross-site` or `none`.
    pub fetch_site: Option<String>,
    /// `Origin`: `scheme://host[:port]`.
    pub origin: Option<String>,
    /// The host the request was sent to (`X-Forwarded-Host`, else `Host`).
    pub host: Option<String>,
}

impl BrowserOrigin {
    /// Defence in depth behind `SameSite=Strict` cookies and JSON-only bodies: a state-changing
    /// request a browser sends from another site is refused. `Sec-Fetch-Site` decides when the
    /// browser sends it; otherwise an `Origin` must name the host the request went to. API clients
    /// send neither and are not affected.
    pub fn check(&self, method: &str) -> CoreResult<()> {
        if matches!(method.to_ascii_uppercase().as_str(), "GET" | "HEAD" | "OPTIONS") {
            return Ok(());
        }
        let refuse = || CoreError::forbidden(ProblemCode::CrossSiteRequest, "Changes can be made only from the portal's own pages.");
        match (self.fetch_site.as_deref(), self.origin.as_deref()) {
            (Some("same-origin" | "none"), _) | (None, None) => Ok(()),
            (Some(_), _) => Err(refuse()),
            (None, Some(origin)) => {
                let origin_host = origin.split_once("://").map(|(_, h)| h).unwrap_or("");
                if self.host.as_deref().is_some_and(|h| h.eq_ignore_ascii_case(origin_host)) {
                    Ok(())
                } else {
                    Err(refuse())
                }
            }
        }
    }
}

/// The authorizer's rule, with what it needs to apply it.
pub struct Authorizer<'a> {
    pub db: Db<'a>,
    pub settings: &'a SettingsCache,
    pub secrets: &'a dyn SecretBox,
    pub secret_cache: &'a SecretCache,
}

impl Authorizer<'_> {
    /// Resolves the caller — a session (patients, staff) or a signed sync request — reads a
    /// patient's practice features (through the cache), and checks the route. Errors:
    /// `Unauthorized` (no valid session or signature) or `Forbidden`.
    pub async fn authorize(&self, r: &RequestFacts<'_>) -> CoreResult<Decision> {
        // A route that is not ours has nothing to protect: it goes on to the router, which answers 404.
        let Some(access) = required(r.method, r.path) else {
            return Ok(Decision::Public);
        };
        if access != Access::Sync {
            r.origin.check(r.method)?;
        }
        let ctx = match access {
            Access::Public => return Ok(Decision::Public),
            Access::Sync => self.sync_principal(r).await?,
            _ => self.session_principal(r).await?,
        };
        ctx.allows(access)?;
        Ok(Decision::Allow(ctx))
    }

    async fn session_principal(&self, r: &RequestFacts<'_>) -> CoreResult<AuthContext> {
        let unauthorized = || CoreError::unauthorized(ProblemCode::SessionRequired, "Log in to continue.");
        let token = r.token.as_deref().filter(|t| !t.is_empty() && t.len() <= 200).ok_or_else(unauthorized)?;
        let (session_id, session) = Sessions { db: self.db }.resolve(token).await?.ok_or_else(unauthorized)?;
        let settings = self.settings.get(self.db.table, self.db.clock, &session.practice).await?.unwrap_or_default();
        // The family rule is for patients; features gate patients' routes and the staff side of a
        // feature (the practice's WebMail inbox).
        let (features, family_access) = match session.kind {
            PrincipalKind::Patient => (settings.features, settings.family_access),
            PrincipalKind::Staff => (settings.features, Default::default()),
            PrincipalKind::Sync => Default::default(),
        };
        Ok(AuthContext {
            practice_name: settings.practice_name,
            practice_id: PracticeId::parse(&session.practice).ok_or_else(unauthorized)?,
            principal_id: session.principal_id,
            kind: session.kind,
            role: session.role,
            username: session.username,
            features,
            family_access,
            session_id,
            must_change_password: session.must_change_password,
        })
    }

    async fn sync_principal(&self, r: &RequestFacts<'_>) -> CoreResult<AuthContext> {
        let sig = r.sync.as_ref().ok_or_else(|| {
            CoreError::unauthorized(
                ProblemCode::SyncSignatureMissing,
                "Sync requests must be signed (X-Portal-Key, X-Portal-Signature, …).",
            )
        })?;
        let keys = SyncKeys { db: self.db, secrets: self.secrets };
        let path_with_query = canonical_path_with_query(r.path, &r.query);
        let key = keys.verify(sig, r.method, &path_with_query, self.secret_cache, r.source_ip).await?;
        let practice = practice_of_key(&key.key_id)
            .and_then(PracticeId::parse)
            .ok_or_else(|| CoreError::backend("a stored sync key id names no practice"))?;
        Ok(AuthContext {
            practice_name: String::new(),
            practice_id: practice,
            principal_id: key.key_id,
            kind: PrincipalKind::Sync,
            role: None,
            username: key.label,
            features: vec![],
            family_access: FamilyAccess::default(),
            session_id: String::new(),
            must_change_password: false,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn route_table() {
        assert_eq!(required("GET", "/v1/health"), Some(Access::Public));
        assert_eq!(required("GET", "/v1/me"), Some(Access::Session));
        assert_eq!(required("GET", "/v1/meow"), None);
        assert_eq!(required("GET", "/v1/admin/settings"), Some(Access::Staff(StaffRole::FrontDesk)));
        assert_eq!(required("PUT", "/v1/admin/settings/features"), Some(Access::Staff(StaffRole::Admin)));
        assert_eq!(required("POST", "/v1/webmail/messages"), Some(Access::Feature(Feature::ModuleWebMail)));
        assert_eq!(required("GET", "/v1/webmail"), Some(Access::Feature(Feature::ModuleWebMail)));
        assert_eq!(required("GET", "/v2/anything"), None);
        for f in Feature::ALL {
            assert_eq!(required("GET", f.route_prefix()), Some(Access::Feature(f)));
        }
    }

    #[test]
    fn cross_site_changes_are_refused() {
        let o = |site: Option<&str>, origin: Option<&str>| BrowserOrigin {
            fetch_site: site.map(str::to_string),
            origin: origin.map(str::to_string),
            host: Some("portal.example.com".into()),
        };
        assert!(o(Some("same-origin"), Some("https://portal.example.com")).check("POST").is_ok());
        assert!(o(None, None).check("PUT").is_ok(), "API clients send neither header");
        assert!(o(Some("cross-site"), None).check("GET").is_ok(), "reads are not changes");
        for bad in [o(Some("cross-site"), None), o(Some("same-site"), None), o(None, Some("https://evil.example"))] {
            assert_eq!(bad.check("POST").unwrap_err().code(), "cross_site_request");
        }
        assert!(o(None, Some("https://portal.example.com")).check("DELETE").is_ok());
    }

    #[test]
    fn context_round_trips_and_checks() {
        let ctx = AuthContext {
            practice_id: PracticeId::parse("lakeside").unwrap(),
            practice_name: "Lakeside".into(),
            principal_id: "pat-1".into(),
            kind: PrincipalKind::Patient,
            role: None,
            username: "pat".into(),
            features: vec![Feature::ModuleAccount],
            family_access: FamilyAccess::SelfOnly,
            session_id: "abc".into(),
            must_change_password: false,
        };
        let fields = ctx.to_fields();
        let back = AuthContext::from_fields(|k| fields.get(k).cloned()).unwrap();
        assert_eq!(back, ctx);
        assert!(ctx.allows(Access::Feature(Feature::ModuleAccount)).is_ok());
        assert_eq!(ctx.allows(Access::Feature(Feature::ModuleWebMail)).unwrap_err().code(), "feature_disabled");
        assert_eq!(ctx.allows(Access::Staff(StaffRole::FrontDesk)).unwrap_err().code(), "staff_only");
        let temp = AuthContext { must_change_password: true, ..ctx };
        assert_eq!(temp.allows(Access::Feature(Feature::ModuleAccount)).unwrap_err().code(), "password_change_required");
        assert!(temp.allows(Access::Session).is_ok());
    }
}
