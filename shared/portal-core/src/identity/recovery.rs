//! "Forgot password" for patients. Asking answers the same whatever was asked (the HTTP layer
//! also pads the time), so it never tells whether an account exists. For each login the
//! username or email names, the patient's own address gets a link with a single-use token good
//! for 30 minutes; only its SHA-256 is stored. Using it sets the new password and ends every
//! session of the patient; it does not log in. A link is bound to the login as it was when the
//! link was made: using one link, or any other change of the password, voids every other link.
//! Links are limited per login and per asking address (the answer stays the same). The link's
//! token travels in the URL's fragment, so it never reaches a server log.

use crate::audit::{Actor, AuditAction, AuditLog, Outcome};
use crate::identity::credentials::{Credentials, PASSWORD_INPUT_MAX};
use crate::identity::password;
use crate::identity::patient_access::PatientAccess;
use crate::identity::session::{hash_token, practice_of_token, PrincipalKind, Sessions};
use crate::ids::{PracticeId, Username};
use crate::language::{in_language, reset_mail, Language};
use crate::ports::{Cond, Db, Events, Item, Mail, MailKind, MailRef, Mailer, TableError};
use crate::practice::settings::{login_url, SettingsRepo};
use crate::quota::Quota;
use crate::sync::entities::Patient;
use crate::sync::events::PortalEvent;
use crate::sync::records::PatientRecords;
use crate::sync::roster::Roster;
use crate::table_keys;
use crate::{CoreError, CoreResult, ProblemCode};
use serde::{Deserialize, Serialize};
use serde_json::json;

/// How long a reset link works.
pub const RESET_SECONDS: i64 = 30 * 60;
/// The most logins one request sends links for (a family sharing an email).
const MAX_LINKS: usize = 5;
/// Reset mails one login gets in an hour, however often and from wherever it is asked.
pub const LINKS_PER_LOGIN: Quota = Quota { name: "reset-login", limit: 3, window_seconds: 3600 };
/// Requests one address may make in an hour.
pub const REQUESTS_PER_ADDRESS: Quota = Quota { name: "reset-address", limit: 10, window_seconds: 3600 };

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ResetLink {
    principal_id: String,
    username: Username,
    created_at: i64,
    /// The credential's version when the link was made: a changed password voids the link.
    #[serde(default)]
    credential_version: u64,
}

pub struct Recovery<'a> {
    pub db: Db<'a>,
    pub mailer: &'a dyn Mailer,
    /// Where the practice's system hears of a changed password.
    pub events: &'a dyn Events,
    /// Where the portal's pages are (links go to the practice's patient-facing URL, else here).
    pub site_url: &'a str,
}

fn link_invalid() -> CoreError {
    CoreError::invalid(ProblemCode::ResetLinkInvalid, "This link has expired or was used already. Ask for a new one from the login page.")
}

impl Recovery<'_> {
    fn audit(&self) -> AuditLog<'_> {
        AuditLog { db: self.db }
    }

    /// Refuses only what no account could match by its length (the contract's limits); anything
    /// else gets the same answer.
    pub fn check_request(practice: &str, username_or_email: &str) -> CoreResult<()> {
        if practice.chars().count() > 64 || username_or_email.chars().count() > 254 {
            return Err(CoreError::invalid(ProblemCode::InvalidBody, "practice is at most 64 characters, usernameOrEmail at most 254."));
        }
        Ok(())
    }

    /// Sends a reset link to each login `username_or_email` names in the practice. Answers `Ok`
    /// whether or not any did; only a backend failure is an error.
    pub async fn request(&self, practice: &str, username_or_email: &str, source_ip: Option<&str>) -> CoreResult<()> {
        Self::check_request(practice, username_or_email)?;
        let practice = practice.trim().to_lowercase();
        let asked = username_or_email.trim();
        let Some(practice) = PracticeId::parse(&practice).filter(|_| !asked.is_empty()) else {
            return Ok(());
        };
        let Some(settings) = (SettingsRepo { db: self.db }).get(&practice).await? else {
            return Ok(());
        };
        let patients = if asked.contains('@') {
            Roster { db: self.db }.with_email(&practice, asked).await?
        } else {
            let cred = match Username::normalized(asked) {
                Some(username) => Credentials { db: self.db }.get(&practice, PrincipalKind::Patient, &username).await?,
                None => None,
            };
            cred.map(|(c, _)| vec![c.principal_id]).unwrap_or_default()
        };
        let anonymous = Actor::anonymous(&practice, source_ip);
        let limited = json!({"reason": "rate_limited"});
        if let Some(address) = source_ip {
            if !REQUESTS_PER_ADDRESS.take(self.db.table, self.db.clock, &practice, address).await? {
                return self
                    .audit()
                    .record(&anonymous, AuditAction::AuthPasswordResetRequested, "unknown-account", Outcome::Denied, limited)
                    .await;
            }
        }
        let access = PatientAccess { db: self.db };
        let creds = Credentials { db: self.db };
        let mut sent = 0;
        for patient_id in patients.iter().take(MAX_LINKS) {
            let Some((login, _)) = access.get(&practice, patient_id).await? else { continue };
            let Some((_, credential_version)) = creds.get(&practice, PrincipalKind::Patient, &login.username).await? else { continue };
            let patient = PatientRecords { db: self.db }.get::<Patient>(&practice, patient_id).await?;
            let lang = Language::of(patient.as_ref().and_then(|p| p.record.preferred_language.as_deref()));
            let Some(to) = patient.and_then(|p| p.record.email.clone()).filter(|e| !e.trim().is_empty()) else { continue };
            let base = login_url(&settings, &practice, self.site_url);
            if !base.starts_with("http") || settings.webmail.notification_sender.is_empty() {
                let detail = json!({"reason": "the portal's address or sender is not configured"});
                self.audit().record(&anonymous, AuditAction::AuthPasswordResetRequested, patient_id, Outcome::Failure, detail).await?;
                continue;
            }
            if !LINKS_PER_LOGIN.take(self.db.table, self.db.clock, &practice, patient_id).await? {
                self.audit()
                    .record(&anonymous, AuditAction::AuthPasswordResetRequested, patient_id, Outcome::Denied, limited.clone())
                    .await?;
                continue;
            }
            let token = format!("{practice}.{}", crate::ids::b64url(&crate::ids::random_bytes::<32>()));
            let now = self.db.clock.now();
            let link =
                ResetLink { principal_id: patient_id.clone(), username: login.username.clone(), created_at: now, credential_version };
            let item = Item::new(
                table_keys::practice(&practice),
                table_keys::reset_link(&hash_token(&token)),
                serde_json::to_value(&link).map_err(CoreError::backend)?,
            )
            .expiring_at(now + RESET_SECONDS);
            crate::ports::put_fresh(self.db.table, item).await?;
            // The page opens in the patient's language: the link says which (not health data).
            let link = format!("{}#reset={token}", in_language(&base, lang));
            let words = reset_mail(lang, &settings.practice_name, &login.username, &link);
            let about = MailRef::new(&practice, MailKind::PasswordReset, "", Some(patient_id));
            let mail = Mail::text(&settings.webmail.notification_sender, to, words.subject, words.text, about);
            let outcome = match self.mailer.send(&mail).await {
                Ok(_) => {
                    sent += 1;
                    Outcome::Success
                }
                Err(e) => {
                    tracing::warn!(error = %e, "reset link not sent");
                    Outcome::Failure
                }
            };
            self.audit().record(&anonymous, AuditAction::AuthPasswordResetRequested, patient_id, outcome, json!({})).await?;
        }
        if sent == 0 && patients.is_empty() {
            let detail = json!({"reason": "unknown_account"});
            self.audit().record(&anonymous, AuditAction::AuthPasswordResetRequested, "unknown-account", Outcome::Failure, detail).await?;
        }
        Ok(())
    }

    /// Sets a new password with a reset link's token; ends the patient's sessions.
    pub async fn reset(&self, token: &str, new_password: &str, source_ip: Option<&str>) -> CoreResult<()> {
        let practice = practice_of_token(token).ok_or_else(link_invalid)?;
        let key = (table_keys::practice(&practice), table_keys::reset_link(&hash_token(token)));
        let item = self.db.table.get(&key.0, &key.1).await?.ok_or_else(link_invalid)?;
        let link: ResetLink = item.parse()?;
        if self.db.clock.now() >= link.created_at + RESET_SECONDS {
            return Err(link_invalid());
        }
        if new_password.len() > PASSWORD_INPUT_MAX {
            return Err(CoreError::invalid(ProblemCode::PasswordTooLong, "A password is at most 128 characters."));
        }
        password::check_policy(new_password)?;
        // Single use: whoever deletes it uses it.
        match self.db.table.delete(&key.0, &key.1, Cond::Exists).await {
            Ok(()) => {}
            Err(TableError::ConditionFailed) => return Err(link_invalid()),
            Err(e) => return Err(e.into()),
        }
        let creds = Credentials { db: self.db };
        let (mut cred, version) = creds.get(&practice, PrincipalKind::Patient, &link.username).await?.ok_or_else(link_invalid)?;
        if cred.principal_id != link.principal_id || version != link.credential_version {
            return Err(link_invalid());
        }
        cred.password_hash = password::hash(new_password)?;
        cred.must_change_password = false;
        cred.temporary_expires_at = None;
        // Over the version the link was made for: a password changed meanwhile voids it.
        match creds.put(&practice, &cred, version).await {
            Ok(()) => {}
            Err(TableError::ConditionFailed) => return Err(link_invalid()),
            Err(e) => return Err(e.into()),
        }
        Sessions { db: self.db }.end_all(&practice, &link.principal_id).await?;
        let outbox = crate::sync::outbox::Outbox { db: self.db, events: self.events };
        outbox.record(&practice, PortalEvent::PasswordChanged { patient_id: link.principal_id.clone() }).await?;
        let actor = Actor::anonymous(&practice, source_ip);
        self.audit().record(&actor, AuditAction::AuthPasswordReset, &link.principal_id, Outcome::Success, json!({})).await
    }
}
