//! Logins for patients and staff: credentials, lockout, temporary passwords, TOTP, password change.
//! Every answer to a failed login is the same, so nothing tells whether an account exists.

use crate::audit::{Actor, AuditAction, AuditLog, Outcome};
use crate::identity::credentials::{chosen_username, Credential, Credentials, PASSWORD_INPUT_MAX};
use crate::identity::devices::Devices;
use crate::identity::password;
use crate::identity::patient_access::PatientAccess;
use crate::identity::session::{PrincipalKind, Session, Sessions};
use crate::identity::throttle::{Throttle, Verdict};
use crate::identity::totp;
use crate::ids::{PracticeId, Username};
use crate::ports::{Cond, Db, Events, Item, TableError};
use crate::sync::events::PortalEvent;
use crate::table_keys;
use crate::{CoreError, CoreResult, ProblemCode};
use serde_json::json;

/// Facts about the request for the audit log.
#[derive(Debug, Clone, Default)]
pub struct RequestMeta {
    pub source_ip: Option<String>,
}

#[derive(Debug, Clone)]
pub struct LoginInput<'a> {
    pub practice: &'a str,
    pub username: &'a str,
    pub password: &'a str,
    /// The authenticator's code (staff always; patients who turned it on).
    pub totp: Option<&'a str>,
    /// Patients with a second factor, instead of a code: one of their recovery codes.
    pub recovery_code: Option<&'a str>,
    /// The browser's known-device token (its cookie), if it has one (see `devices`).
    pub device: Option<&'a str>,
}

#[derive(Debug, Clone)]
pub struct LoginOk {
    pub token: String,
    pub session: Session,
    /// A new known-device token for the browser's cookie, when it was not a known device yet.
    pub device: Option<String>,
}

/// What a login with the right password comes to.
#[derive(Debug, Clone)]
pub enum LoginResult {
    Session(LoginOk),
    /// A patient with a second factor gave the right password without a code: ask for one.
    MfaRequired,
}

/// How a login's second factor went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Factor {
    Passed,
    Failed,
    /// A patient with a second factor sent no code.
    Missing,
}

pub struct Logins<'a> {
    pub db: Db<'a>,
    /// Where the practice hears of what patients did (a patient's password change).
    pub events: &'a dyn Events,
}

fn login_failed() -> CoreError {
    CoreError::unauthorized(ProblemCode::LoginFailed, "The practice, username, password or code is not right, or there were too many attempts; wait a minute and try again, or ask the practice for help.")
}

/// Usernames are compared case-insensitively; this is the stored form.
impl<'a> Logins<'a> {
    fn audit(&self) -> AuditLog<'a> {
        AuditLog { db: self.db }
    }
    fn sessions(&self) -> Sessions<'a> {
        Sessions { db: self.db }
    }

    pub async fn login(&self, kind: PrincipalKind, input: LoginInput<'_>, meta: &RequestMeta) -> CoreResult<LoginResult> {
        let practice = input.practice.trim().to_lowercase();
        let ip = meta.source_ip.as_deref();
        let action = match kind {
            PrincipalKind::Patient => AuditAction::AuthPatientLogin,
            // Sync keys sign requests; they never log in (no credentials of that kind exist).
            PrincipalKind::Staff | PrincipalKind::Sync => AuditAction::AuthStaffLogin,
        };
        let (practice, username) = match (PracticeId::parse(&practice), Username::normalized(input.username)) {
            (Some(practice), Some(username)) if input.password.len() <= PASSWORD_INPUT_MAX => (practice, username),
            _ => {
                password::verify_dummy(input.password.get(..PASSWORD_INPUT_MAX).unwrap_or("x"));
                return Err(login_failed());
            }
        };
        let now = self.db.clock.now();
        let found = Credentials { db: self.db }.get(&practice, kind, &username).await?;
        let throttle = Throttle { db: self.db };
        let Some((cred, cred_version)) = found else {
            password::verify_dummy(input.password);
            throttle.failed(&practice, ip).await?;
            // Attempts on unknown accounts are audited under the practice, without the name tried.
            let settings = crate::practice::settings::SettingsRepo { db: self.db };
            if settings.get(&practice).await?.is_some() {
                let detail = json!({"reason": "unknown_account"});
                self.audit().record(&Actor::anonymous(&practice, ip), action, "unknown-account", Outcome::Failure, detail).await?;
            }
            return Err(login_failed());
        };
        let anonymous = Actor::anonymous(&practice, ip);
        let subject = cred.principal_id.clone();
        let audit = self.audit();
        let fail = |reason: &'static str| audit.record(&anonymous, action, &subject, Outcome::Failure, json!({"reason": reason}));

        let account = format!("{}#{username}", kind.as_str());
        let devices = Devices { db: self.db };
        let known_device = match input.device {
            Some(token) => devices.knows(&practice, &account, token).await?,
            None => false,
        };
        let verdict = throttle.begin(&practice, &account, ip, known_device).await?;
        // A patient's attempt waits its turn unchecked. Staff have a second factor, so a right
        // password with a valid code is let in even while guessers are being slowed.
        if verdict == Verdict::Wait && kind != PrincipalKind::Staff {
            password::verify_dummy(input.password);
            fail("throttled").await?;
            return Err(login_failed());
        }
        let password_ok = password::verify(input.password, &cred.password_hash);
        let factor = self.second_factor(kind, (&cred, cred_version), &practice, &input, password_ok, now).await?;
        if password_ok && factor == Factor::Missing && !cred.disabled {
            return Ok(LoginResult::MfaRequired);
        }
        let totp_ok = factor == Factor::Passed;
        if !password_ok || !totp_ok || cred.disabled {
            let reason = if cred.disabled {
                "disabled"
            } else if !password_ok {
                "bad_password"
            } else {
                "bad_totp"
            };
            throttle.failed(&practice, ip).await?;
            // A wrong password typed on a known device counts against the device's trust.
            match input.device {
                Some(token) if known_device && !password_ok => devices.failed(&practice, token).await?,
                _ => {}
            }
            fail(reason).await?;
            return Err(login_failed());
        }
        if cred.must_change_password && cred.temporary_expires_at.is_some_and(|t| now >= t) {
            fail("temporary_password_expired").await?;
            return Err(CoreError::unauthorized(
                ProblemCode::TemporaryPasswordExpired,
                "This temporary password has expired. Ask the practice for a new one.",
            ));
        }
        throttle.succeeded(&practice, &account).await?;
        let device = if known_device { None } else { Some(devices.issue(&practice, &account).await?) };
        let (token, session) =
            self.sessions().start(&practice, &cred.principal_id, kind, cred.role, &username, cred.must_change_password).await?;
        let actor = Actor::new(&practice, kind.into(), &cred.principal_id, ip);
        self.audit().record(&actor, action, &cred.principal_id, Outcome::Success, json!({})).await?;
        if kind == PrincipalKind::Patient {
            // Staff see when a patient last visited; invites "until the patient visits" read it.
            PatientAccess { db: self.db }.visited(&practice, &cred.principal_id).await?;
        }
        Ok(LoginResult::Session(LoginOk { token, session, device }))
    }

    /// The second factor of a login: an authenticator code (good once) or, for a patient, a
    /// recovery code (used up); missing when a patient with one set up sent neither. Spent only
    /// with the right password, so a guesser cannot use up a code.
    async fn second_factor(
        &self,
        kind: PrincipalKind,
        (cred, cred_version): (&Credential, u64),
        practice: &PracticeId,
        input: &LoginInput<'_>,
        password_ok: bool,
        now: i64,
    ) -> CoreResult<Factor> {
        Ok(match (kind, &cred.totp_secret) {
            (PrincipalKind::Patient, None) => Factor::Passed,
            (PrincipalKind::Sync, _) | (PrincipalKind::Staff, None) => Factor::Failed,
            (_, Some(secret)) => match (input.totp, input.recovery_code) {
                (Some(code), _) => match totp::verify(secret, code.trim(), now) {
                    // A code is good once: remember the step until it can no longer verify. Kept
                    // by the principal, not the name: whoever logs in under another name (even
                    // one that was this one's) cannot use up this principal's codes.
                    Some(step) if password_ok => {
                        let item = Item::new(
                            table_keys::practice(practice),
                            table_keys::totp_step(kind.as_str(), &cred.principal_id, step),
                            json!({}),
                        )
                        .expiring_at(now + 3 * totp::STEP);
                        match self.db.table.put(item, Cond::Absent).await {
                            Ok(()) => Factor::Passed,
                            Err(TableError::ConditionFailed) => Factor::Failed,
                            Err(e) => return Err(e.into()),
                        }
                    }
                    Some(_) => Factor::Passed,
                    None => Factor::Failed,
                },
                (None, Some(recovery)) if kind == PrincipalKind::Patient && password_ok => {
                    if crate::identity::mfa::use_recovery_code(self.db, practice, cred, cred_version, recovery).await? {
                        Factor::Passed
                    } else {
                        Factor::Failed
                    }
                }
                (None, None) if kind == PrincipalKind::Patient => Factor::Missing,
                _ => Factor::Failed,
            },
        })
    }

    pub async fn logout(&self, actor: &Actor, token_hash: &str) -> CoreResult<()> {
        self.sessions().end(&actor.practice, token_hash).await?;
        self.audit().record(actor, AuditAction::AuthLogout, &actor.id, Outcome::Success, json!({})).await
    }

    /// Changes the password after checking the current one; ends every session of the principal
    /// and answers a fresh one for the caller.
    /// A patient changing a temporary password may also choose their own username (`new_username`).
    pub async fn change_password(&self, actor: &Actor, current: &str, new: &str, new_username: Option<&str>) -> CoreResult<LoginOk> {
        let (practice, principal_id) = (&actor.practice, actor.id.as_str());
        let (mut cred, version) = Credentials { db: self.db }.by_principal(practice, principal_id).await?.ok_or(CoreError::NotFound)?;
        if current.len() > PASSWORD_INPUT_MAX || !password::verify(current, &cred.password_hash) {
            let detail = json!({"reason": "bad_password"});
            self.audit().record(actor, AuditAction::AuthPasswordChange, principal_id, Outcome::Failure, detail).await?;
            return Err(CoreError::invalid(ProblemCode::CurrentPasswordWrong, "The current password is not right."));
        }
        password::check_policy(new)?;
        if new == current {
            return Err(CoreError::invalid(ProblemCode::PasswordUnchanged, "Choose a password different from the current one."));
        }
        let wanted = new_username.filter(|u| Username::normalized(u).as_ref() != Some(&cred.username));
        let rename = match wanted {
            None => None,
            Some(_) if cred.kind != PrincipalKind::Patient || !cred.must_change_password => {
                return Err(CoreError::invalid(
                    ProblemCode::UsernameChangeNotAllowed,
                    "A username can be chosen only with the first new password.",
                ));
            }
            Some(u) => Some(chosen_username(u)?),
        };
        cred.password_hash = password::hash(new)?;
        cred.must_change_password = false;
        cred.temporary_expires_at = None;
        match rename {
            None => Credentials { db: self.db }.replace(practice, &cred, version).await?,
            Some(username) => {
                let old = std::mem::replace(&mut cred.username, username);
                crate::identity::patient_access::PatientAccess { db: self.db }.rename(practice, principal_id, &old, &cred, version).await?;
            }
        }
        self.sessions().end_all(practice, principal_id).await?;
        let (token, session) = self.sessions().start(practice, principal_id, cred.kind, cred.role, &cred.username, false).await?;
        if cred.kind == PrincipalKind::Patient {
            let outbox = crate::sync::outbox::Outbox { db: self.db, events: self.events };
            outbox.record(practice, PortalEvent::PasswordChanged { patient_id: principal_id.into() }).await?;
        }
        self.audit().record(actor, AuditAction::AuthPasswordChange, principal_id, Outcome::Success, json!({})).await?;
        Ok(LoginOk { token, session, device: None })
    }
}
