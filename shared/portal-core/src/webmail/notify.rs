//! The notification of one message: an email telling the other side a secure message is waiting.
//! To a patient: from the practice's notification sender, with the practice's subject and template
//! (`[URL]` the portal's login address, `[PracticeName]`). To the office: a fixed note to the
//! practice's notify address. Never the message, its subject, attachment names or the patient's
//! name: nothing a mailbox provider should hold.
//!
//! Once per message: the notification is claimed with a conditional write before sending (a second
//! worker sees the claim and stops; a claim older than [`CLAIM_SECONDS`] counts as abandoned) and
//! recorded after. A failed send is recorded with its reason and answered as an error, so the
//! event's retry (EventBridge's retry policy, the local bus) tries again; nothing about the message
//! itself waits for it. A worker that dies after the mail left but before recording it leaves the
//! claim to lapse, and the notification goes again: at least once, twice only across a crash (no
//! mail service takes a sent mail back, so once-exactly cannot be promised there).

use super::mailbox::{Direction, Message, Notification};
use crate::ids::PracticeId;
use crate::language::{in_language, Language};
use crate::ports::{Cond, Db, Item, Mail, MailKind, MailRef, Mailer, Table, TableError};
use crate::practice::settings::{login_url, render_notification, PracticeSettings, SettingsRepo};
use crate::sync::entities::Patient;
use crate::sync::records::PatientRecords;
use crate::table_keys;
use crate::{CoreError, CoreResult, ProblemCode};

/// How long a claim to send stands before another worker may take over: three times the notify
/// function's timeout (10 s): by then a worker that still holds it has died.
pub const CLAIM_SECONDS: i64 = 30;
const ATTEMPTS: usize = 5;

const OFFICE_SUBJECT: &str = "A secure message is waiting in the patient portal";

pub struct Notifier<'a> {
    pub db: Db<'a>,
    pub mailer: &'a dyn Mailer,
    /// Where the portal is served (`https://portal.example.com`); a practice's own address is
    /// this plus its portal path, unless it set a patient-facing URL.
    pub portal_base_url: &'a str,
}

impl Notifier<'_> {
    /// Sends the notification of `message_id` unless it was sent, skipped or is being sent;
    /// answers where it stands now.
    pub async fn notify(&self, practice: &PracticeId, message_id: &str) -> CoreResult<Notification> {
        let (thread_id, stamp) = super::mailbox::split_id(message_id).ok_or(CoreError::NotFound)?;
        let key = (table_keys::thread(practice, thread_id), format!("MSG#{stamp}"));
        let message = match self.claim(&key).await? {
            Ok(message) => message,
            Err(settled) => return Ok(settled),
        };
        let settings = SettingsRepo { db: self.db }.get(practice).await?.ok_or(CoreError::NotFound)?;
        let to = match message.direction {
            Direction::ToOffice => Ok((settings.webmail.default_notify_address.clone(), Language::En)),
            Direction::ToPatient => self.patient_address(practice, &message.patient_id).await?,
        };
        let to = match to {
            _ if settings.webmail.notification_sender.is_empty() => Err("no sender address is set on Setup"),
            Ok((to, _)) if to.is_empty() => Err("no office address is set on Setup"),
            to => to,
        };
        let (to, lang) = match to {
            Ok(to) => to,
            Err(reason) => return settle(self.db.table, &key, Notification::Skipped { reason: reason.into() }).await,
        };
        let (subject, text) = match message.direction {
            Direction::ToPatient => {
                let (subject, body) = settings.webmail.template(lang);
                (
                    subject.to_string(),
                    render_notification(body, &settings.practice_name, &messages_url(&settings, practice, self.portal_base_url, lang)),
                )
            }
            Direction::ToOffice => (
                OFFICE_SUBJECT.into(),
                format!(
                    "A patient has sent {} a secure message through the patient portal. Log in to portal setup to read it.",
                    settings.practice_name
                ),
            ),
        };
        let about = MailRef::new(practice, MailKind::WebMailNotification, message_id, Some(&message.patient_id));
        let mail = Mail::text(&settings.webmail.notification_sender, to, subject, text, about);
        let attempts = match &message.notification {
            Notification::Failed { attempts, .. } => *attempts,
            _ => 0,
        };
        match self.mailer.send(&mail).await {
            Ok(_) => settle(self.db.table, &key, Notification::Sent { at: self.db.clock.now() }).await,
            Err(e) => {
                let reason = e.to_string().chars().take(300).collect();
                settle(self.db.table, &key, Notification::Failed { reason, attempts: attempts + 1 }).await?;
                Err(CoreError::Backend("the notification could not be sent; it will be tried again".into()))
            }
        }
    }

    /// Claims the message's notification for this worker (the message as it was), or answers the
    /// state that means there is nothing to do: sent, skipped, or claimed by another worker.
    async fn claim(&self, (pk, sk): &(String, String)) -> CoreResult<Result<Message, Notification>> {
        for _ in 0..ATTEMPTS {
            let item = self.db.table.get(pk, sk).await?.ok_or(CoreError::NotFound)?;
            let message: Message = item.parse()?;
            match &message.notification {
                Notification::Sent { .. } | Notification::Skipped { .. } | Notification::Bounced { .. } => {
                    return Ok(Err(message.notification))
                }
                Notification::Sending { since } if self.db.clock.now() - since < CLAIM_SECONDS => return Ok(Err(message.notification)),
                _ => {}
            }
            let claimed = with_state(&item, &message, Notification::Sending { since: self.db.clock.now() })?;
            match self.db.table.put(claimed, Cond::Version(item.version)).await {
                Ok(()) => return Ok(Ok(message)),
                // Changed meanwhile (read by the recipient, claimed by another worker): look again.
                Err(TableError::ConditionFailed) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(CoreError::Conflict { code: ProblemCode::Conflict, detail: "the message kept changing".into(), current: None })
    }

    /// The patient's address and language, or why there is none to write to.
    async fn patient_address(&self, practice: &PracticeId, patient_id: &str) -> CoreResult<Result<(String, Language), &'static str>> {
        let patient = PatientRecords { db: self.db }.get::<Patient>(practice, patient_id).await?;
        Ok(match patient {
            None => Err("the patient is no longer in the practice's records"),
            Some(p) if p.record.opt_outs.email => Err("the patient opted out of email"),
            Some(p) => {
                let lang = Language::of(p.record.preferred_language.as_deref());
                p.record.email.clone().filter(|e| !e.is_empty()).map(|e| (e, lang)).ok_or("the patient has no email address")
            }
        })
    }
}

/// Where a notification's link goes: the portal's Messages view, in the patient's language, when
/// the practice uses the portal's own address (a practice's own page is linked as it is).
fn messages_url(settings: &PracticeSettings, practice: &PracticeId, site_url: &str, lang: Language) -> String {
    let url = login_url(settings, practice, site_url);
    let own = settings.urls.patient_facing_url.as_deref().is_none_or(str::is_empty);
    if own {
        format!("{}#/messages", in_language(&url, lang))
    } else {
        url
    }
}

/// Records where the notification stands on the message and on its copy in the sender's sent
/// folder (which staff list).
async fn settle(table: &dyn Table, (pk, sk): &(String, String), state: Notification) -> CoreResult<Notification> {
    set(table, (pk, sk), state.clone()).await?;
    set(table, (pk, &sk.replacen("MSG#", "SENT#", 1)), state).await
}

/// Records where the notification stands, whatever else changed on the item meanwhile (tried
/// hard: a `sent` lost would have the notification sent again).
async fn set(table: &dyn Table, key: (&str, &str), state: Notification) -> CoreResult<Notification> {
    let found = crate::ports::record_on(table, key, ATTEMPTS, |item| with_state(item, &item.parse()?, state.clone())).await?;
    found.then_some(state).ok_or(CoreError::NotFound)
}

/// The message's item with a new notification state.
fn with_state(item: &Item, message: &Message, state: Notification) -> Result<Item, TableError> {
    let mut next = message.clone();
    next.notification = state;
    let data = serde_json::to_value(&next).map_err(|e| TableError::Backend(e.to_string()))?;
    Ok(item.replaced(data))
}

/// Records that the notification of `message_id` came back — the recipient's server refused it or
/// the recipient marked it as spam (`crate::mail_feedback`) — so staff see it on the message as
/// they see a failed one. A message no longer there has nothing to show it on.
pub(crate) async fn returned(table: &dyn Table, practice: &PracticeId, message_id: &str, state: Notification) -> CoreResult<()> {
    let (thread_id, stamp) = super::mailbox::split_id(message_id).ok_or(CoreError::NotFound)?;
    match settle(table, &(table_keys::thread(practice, thread_id), format!("MSG#{stamp}")), state).await {
        Ok(_) | Err(CoreError::NotFound) => Ok(()),
        Err(e) => Err(e),
    }
}
