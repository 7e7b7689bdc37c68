//! Security notices: a patient is emailed, in their language, when their password changes or
//! two-step sign-in is turned on or off — so a change they did not make (someone with their
//! password) does not go unnoticed. The email says what changed and what to do; nothing else. A
//! notice that cannot be sent (no address, no sender configured, the mail service down) never
//! undoes the change: it is an audit entry (`security.notice`, failed) and a warning in the log.

use crate::audit::{Actor, AuditAction, AuditLog, Outcome};
use crate::language::{in_language, notice_mail, Language, SecurityNotice};
use crate::ports::{Db, Mail, MailKind, MailRef, Mailer};
use crate::practice::settings::{login_url, SettingsRepo};
use crate::sync::entities::Patient;
use crate::sync::records::PatientRecords;
use crate::CoreResult;
use serde_json::json;

pub struct Notices<'a> {
    pub db: Db<'a>,
    pub mailer: &'a dyn Mailer,
    /// Where the portal's pages are (the login address of a practice without its own).
    pub site_url: &'a str,
}

impl Notices<'_> {
    /// Tells patient `actor.id` of `notice` by email; answers whether it was sent.
    pub async fn tell(&self, actor: &Actor, notice: SecurityNotice) -> CoreResult<bool> {
        let practice = &actor.practice;
        let patient = PatientRecords { db: self.db }.get::<Patient>(practice, &actor.id).await?.map(|p| p.record);
        let settings = SettingsRepo { db: self.db }.get(practice).await?;
        let (Some(patient), Some(settings)) = (patient, settings) else { return Ok(false) };
        let to = patient.email.clone().filter(|e| !e.trim().is_empty());
        let sent = match to {
            Some(to) if !settings.webmail.notification_sender.is_empty() => {
                let lang = Language::of(patient.preferred_language.as_deref());
                let url = in_language(&login_url(&settings, practice, self.site_url), lang);
                let words = notice_mail(lang, notice, &settings.practice_name, &url);
                let about = MailRef::new(practice, MailKind::SecurityNotice, "", Some(&actor.id));
                let mail = Mail::text(&settings.webmail.notification_sender, to, words.subject, words.text, about);
                match self.mailer.send(&mail).await {
                    Ok(_) => true,
                    Err(e) => {
                        tracing::warn!(error = %e, "security notice not sent");
                        false
                    }
                }
            }
            _ => false,
        };
        let what = match notice {
            SecurityNotice::PasswordChanged => "password-changed",
            SecurityNotice::TwoStepOn => "two-step-on",
            SecurityNotice::TwoStepOff => "two-step-off",
        };
        let outcome = if sent { Outcome::Success } else { Outcome::Failure };
        AuditLog { db: self.db }.record(actor, AuditAction::SecurityNotice, &actor.id, outcome, json!({ "notice": what })).await?;
        Ok(sent)
    }
}
