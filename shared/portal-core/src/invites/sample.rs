//! A rule's invite as a patient would get it, filled in for a made-up patient (Alex, an
//! appointment a week from today at 9:00, a sample username and password) and the practice's
//! own name, phone and portal address: staff preview a rule while they edit it and may mail it to
//! themselves. The same checks and the same `render` as real invites; no real patient is read.
//! A test mail goes from the practice's sender, at most [`TESTS_PER_DAY`] a day, and is audited.

use super::rules::{check_phone, check_template, render, TagValues};
use super::run::wall_clock;
use crate::audit::{Actor, AuditAction, AuditLog, Outcome};
use crate::ids::PracticeId;
use crate::language::{in_language, Language};
use crate::ports::{Db, Mail, MailKind, MailRef, Mailer};
use crate::practice::settings::{login_url, PracticeSettings, SettingsRepo};
use crate::quota::Quota;
use crate::text::check_email;
use crate::{CoreError, CoreResult, ProblemCode};
use serde::{Deserialize, Serialize};
use serde_json::json;

/// Test invites a practice may send a day (they go to staff's own addresses; the limit keeps the
/// form from being a way to mail anyone).
pub const TESTS_PER_DAY: Quota = Quota { name: "invite-tests", limit: 20, window_seconds: 24 * 60 * 60 };

/// One language's template of a rule, as staff are editing it (not yet saved).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Draft {
    pub subject: String,
    pub body: String,
    #[serde(default)]
    pub language: Language,
    #[serde(default)]
    pub office_phone: String,
}

/// The invite as the sample patient would read it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Sample {
    pub subject: String,
    pub body: String,
}

pub struct InviteSamples<'a> {
    pub db: Db<'a>,
    pub mailer: &'a dyn Mailer,
    /// Where the portal's pages are (the login address of a practice without its own).
    pub site_url: &'a str,
}

impl InviteSamples<'_> {
    /// The draft filled in for the sample patient; a draft a save would refuse is refused alike.
    pub async fn preview(&self, practice: &PracticeId, draft: &Draft) -> CoreResult<Sample> {
        let settings = self.settings(practice).await?;
        self.fill(practice, &settings, draft)
    }

    async fn settings(&self, practice: &PracticeId) -> CoreResult<PracticeSettings> {
        SettingsRepo { db: self.db }.get(practice).await?.ok_or(CoreError::NotFound)
    }

    /// The draft filled in for the sample patient, with the practice's settings as read.
    fn fill(&self, practice: &PracticeId, settings: &PracticeSettings, draft: &Draft) -> CoreResult<Sample> {
        let which = match draft.language {
            Language::En => "The email",
            Language::Es => "The Spanish email",
        };
        let (subject, body) = check_template(&draft.subject, &draft.body, which)?;
        let phone = check_phone(&draft.office_phone)?;
        let week_later = time::OffsetDateTime::from_unix_timestamp(self.db.clock.now() + 7 * 86_400).map_err(CoreError::backend)?;
        let start = format!("{}T09:00:00Z", week_later.date());
        let (appt_date, appt_time) = wall_clock(&start, draft.language);
        let url = in_language(&login_url(settings, practice, self.site_url), draft.language);
        let (username, password) = match draft.language {
            Language::En => ("alex.sample", "(a new temporary password)"),
            Language::Es => ("alex.sample", "(una contraseña temporal nueva)"),
        };
        let values = TagValues {
            first_name: "Alex",
            office_name: &settings.practice_name,
            office_phone: phone,
            appt_date: &appt_date,
            appt_time: &appt_time,
            username,
            password,
            portal_url: &url,
        };
        Ok(Sample { subject: render(&subject, &values), body: render(&body, &values) })
    }

    /// Mails the draft's sample to `to` (the staff member's own address) from the practice's
    /// sender; answers the sample sent.
    pub async fn send_test(&self, actor: &Actor, draft: &Draft, to: &str) -> CoreResult<Sample> {
        let practice = &actor.practice;
        let to = check_email(to, "to")?;
        let settings = self.settings(practice).await?;
        let sample = self.fill(practice, &settings, draft)?;
        if settings.webmail.notification_sender.is_empty() {
            return Err(CoreError::Unprocessable {
                code: ProblemCode::SenderMissing,
                detail: "Set \"Send notifications from\" under Message notifications on Setup first: invites are sent from it.".into(),
            });
        }
        if !TESTS_PER_DAY.take(self.db.table, self.db.clock, practice, "tests").await? {
            return Err(CoreError::TooMany {
                code: ProblemCode::TestLimit,
                detail: format!("{} test invites can be sent a day; try again tomorrow.", TESTS_PER_DAY.limit),
            });
        }
        let about = MailRef::new(practice, MailKind::Invite, "test", None);
        let mail = Mail::text(&settings.webmail.notification_sender, to, sample.subject.clone(), sample.body.clone(), about);
        let sent = self.mailer.send(&mail).await;
        let outcome = if sent.is_ok() { Outcome::Success } else { Outcome::Failure };
        let detail = json!({ "language": draft.language.code() });
        AuditLog { db: self.db }.record(actor, AuditAction::InviteTest, &actor.id, outcome, detail).await?;
        match sent {
            Ok(_) => Ok(sample),
            Err(e) => {
                tracing::warn!(error = %e, "test invite not sent");
                Err(CoreError::Backend("the mail service did not take the test invite; try again in a minute".into()))
            }
        }
    }
}
