//! The mailbox: threads between one patient and the practice (optionally one of its providers),
//! each message stored once in its thread and listed in the recipient's inbox and the sender's
//! sent folder. Everything a patient does goes through the family rule (a guardian writes about a
//! minor; anyone else's thread is 404); staff see every thread of their practice, and write as a
//! provider only when they act for that provider (`staffUsernames` on the synced provider).
//!
//! | item | pk | sk | gsi1 |
//! |---|---|---|---|
//! | thread | `P#{p}#THREAD#{t}` | `META` | – |
//! | message (in the recipient's inbox) | `P#{p}#THREAD#{t}` | `MSG#{stamp}` | a patient: `P#{p}#PATIENT#{id}` / `webmail-in#{stamp}`; the office: `P#{p}#WEBMAIL` / `in#{stamp}` |
//! | its copy in the sender's sent folder | `P#{p}#THREAD#{t}` | `SENT#{stamp}` | `…#PATIENT#{id}` / `webmail-out#{stamp}`, or `P#{p}#WEBMAIL` / `out#{stamp}` |
//! | unread count of one inbox | `P#{p}` | `UNREAD#{patient id or office}` | – |
//!
//! A message id is `{thread}-{stamp}` (stamp: microseconds, then random), so a message is found by
//! its id alone, messages sort by time within a thread, and ids never collide. Sending writes the
//! thread, the message, its copy, the recipient's unread count (an atomic count: senders never
//! conflict over it), the outbox event and the audit entry in one transaction: all of it or
//! nothing. A read mark writes the message, the count and its audit entry the same way.

use super::attachments::{AttachmentRef, Attachments, Declared};
use super::is_token;
use crate::audit::{Actor, AuditAction, AuditLog, Outcome};
use crate::ids::PracticeId;
use crate::ports::{count_of, Blobs, Clock, Cond, Db, Events, Item, Query, TableError, TxOp};
use crate::practice::family::PatientId;
use crate::practice::settings::SettingsRepo;
use crate::reads::{signed, Caller, Listing, PageRequest, Reads, SignedFile};
use crate::sync::entities::{Appointment, Patient, Provider};
use crate::sync::events::PortalEvent;
use crate::sync::outbox::Outbox;
use crate::sync::records::PatientRecords;
use crate::table_keys;
use crate::{CoreError, CoreResult, ProblemCode};
use serde::{Deserialize, Serialize};
use serde_json::json;

pub const SUBJECT_MAX: usize = 150;
pub const BODY_MAX: usize = 10_000;
/// How many times a read mark tries again when its message changed under it (another read mark).
const ATTEMPTS: usize = 5;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PartyKind {
    Patient,
    Provider,
    Office,
}

/// Who a message is from or to, with the name it was sent under.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Party {
    pub kind: PartyKind,
    /// The patient or provider id; `office` for the office.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub id: String,
    pub name: String,
    /// Who wrote it for the patient when not the patient themself (a parent for a child, a family
    /// member): shown as "Jamie Morgan (for Avery Morgan)", to the office and in the family.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub by: Option<String>,
}

/// Which way a message goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Direction {
    ToOffice,
    ToPatient,
}

/// Where a message's notification email stands (staff see it on every message).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "lowercase")]
pub enum Notification {
    Pending,
    /// A sender claimed it at `since` (unix seconds); another waits until the claim is stale.
    Sending {
        since: i64,
    },
    Sent {
        at: i64,
    },
    Failed {
        reason: String,
        attempts: u32,
    },
    Skipped {
        reason: String,
    },
    /// Sent, then came back: the recipient's server refused it for good (a bounce) or the
    /// recipient reported it as spam (a complaint). Not sent again: the address needs a look.
    Bounced {
        at: i64,
        reason: String,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Message {
    pub id: String,
    pub thread_id: String,
    /// The patient the thread is with.
    pub patient_id: String,
    pub direction: Direction,
    pub from: Party,
    pub to: Party,
    pub subject: String,
    /// Plain text, shown as text.
    pub body: String,
    pub sent_at: i64,
    /// When the recipient first read it.
    pub read_at: Option<i64>,
    pub notification: Notification,
    /// The principal who wrote it: a patient (perhaps for a family member) or a staff user.
    pub written_by: String,
    #[serde(default)]
    pub attachments: Vec<AttachmentRef>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Thread {
    pub id: String,
    pub subject: String,
    pub patient_id: String,
    pub patient_name: String,
    /// The provider the patient wrote to, or the office's choice of one.
    pub provider_id: Option<String>,
    pub created_at: i64,
}

/// A message as a list shows it (no body).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MessageSummary {
    pub id: String,
    pub thread_id: String,
    pub patient_id: String,
    pub subject: String,
    pub from: Party,
    pub to: Party,
    pub sent_at: i64,
    pub read: bool,
    pub attachments: Vec<AttachmentRef>,
    /// For staff: the notification's state.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub notification: Option<Notification>,
}

/// A message as a thread shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MessageView {
    #[serde(flatten)]
    pub summary: MessageSummary,
    pub body: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Inbox {
    #[serde(flatten)]
    pub listing: Listing<MessageSummary>,
    pub unread: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ThreadView {
    pub id: String,
    pub subject: String,
    pub patient_id: String,
    pub patient_name: String,
    /// Oldest first; staff also see each message's notification.
    pub messages: Vec<MessageView>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SentMessage {
    pub id: String,
    pub thread_id: String,
}

/// A provider as the office's page lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OfficeProvider {
    pub id: String,
    pub name: String,
    /// Whether the staff user asking acts for this provider (may write as them).
    pub acts_for_me: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Folder {
    Inbox,
    Sent,
}

impl Folder {
    /// The folder a client asked for; the inbox when it named none.
    pub fn parse(s: Option<&str>) -> CoreResult<Folder> {
        match s.unwrap_or("inbox") {
            "inbox" => Ok(Folder::Inbox),
            "sent" => Ok(Folder::Sent),
            _ => Err(CoreError::invalid(ProblemCode::FolderInvalid, "folder: inbox or sent")),
        }
    }
}

/// A new thread as staff wrote it (checked before anything is stored).
pub struct Draft<'a> {
    pub subject: &'a str,
    pub body: &'a str,
    /// Attachments declared for it beforehand.
    pub attachment_ids: &'a [String],
}

/// A message about to be stored: in a new thread (`new_thread`) or in `thread_id`.
struct Outgoing<'a> {
    new_thread: Option<&'a Thread>,
    thread_id: &'a str,
    direction: Direction,
    from: Party,
    to: Party,
    subject: String,
    body: String,
    attachment_ids: &'a [String],
}

/// Which side of the conversation asks: a patient the family rule allowed, or the office.
enum Side<'a> {
    Patient(&'a PatientId),
    Office,
}

fn check_subject(subject: &str) -> CoreResult<String> {
    let s = subject.trim();
    if s.is_empty() || s.chars().count() > SUBJECT_MAX || !crate::text::is_plain_text(s, false) {
        return Err(CoreError::invalid(ProblemCode::SubjectInvalid, format!("subject: one line of 1 to {SUBJECT_MAX} characters")));
    }
    Ok(s.to_string())
}

fn check_body(body: &str) -> CoreResult<String> {
    let b = body.trim();
    if b.is_empty() {
        return Err(CoreError::invalid(ProblemCode::MessageEmpty, "Write a message before sending."));
    }
    if b.chars().count() > BODY_MAX || !crate::text::is_plain_text(b, true) {
        return Err(CoreError::invalid(ProblemCode::MessageTooLong, format!("A message is plain text of at most {BODY_MAX} characters.")));
    }
    Ok(b.to_string())
}

/// A fresh, time-ordered message stamp.
fn stamp(clock: &dyn Clock) -> String {
    let sub = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.subsec_micros()).unwrap_or(0);
    format!("{:010}{sub:06}{}", clock.now(), &crate::ids::new_id()[..6])
}

/// The thread and stamp a message id names, when it is well formed.
pub(crate) fn split_id(id: &str) -> Option<(&str, &str)> {
    let (thread, stamp) = id.split_once('-')?;
    (is_token(thread) && is_token(stamp)).then_some((thread, stamp))
}

fn summary(m: Message, staff: bool) -> MessageSummary {
    MessageSummary {
        read: m.read_at.is_some(),
        notification: staff.then_some(m.notification),
        id: m.id,
        thread_id: m.thread_id,
        patient_id: m.patient_id,
        subject: m.subject,
        from: m.from,
        to: m.to,
        sent_at: m.sent_at,
        attachments: m.attachments,
    }
}

pub struct Mailbox<'a> {
    pub db: Db<'a>,
    pub events: &'a dyn Events,
    pub blobs: &'a dyn Blobs,
}

impl Mailbox<'_> {
    fn reads(&self) -> Reads<'_> {
        Reads { db: self.db }
    }

    fn records(&self) -> PatientRecords<'_> {
        PatientRecords { db: self.db }
    }

    fn audit(&self) -> AuditLog<'_> {
        AuditLog { db: self.db }
    }

    fn attachments(&self) -> Attachments<'_> {
        Attachments { db: self.db, blobs: self.blobs }
    }

    // -----------------------------------------------------------------------------------------
    // Patients
    // -----------------------------------------------------------------------------------------

    /// A patient's inbox or sent folder, newest first, with the inbox's unread count.
    pub async fn patient_list(&self, caller: &Caller, requested: Option<&str>, folder: Folder, page: PageRequest) -> CoreResult<Inbox> {
        let practice = &caller.actor.practice;
        let patient_id = self.reads().patient_id(caller, requested).await?;
        let prefix = match folder {
            Folder::Inbox => "webmail-in#",
            Folder::Sent => "webmail-out#",
        };
        let q = Query::on_gsi1(table_keys::patient_data(practice, &patient_id))
            .prefix(prefix)
            .newest_first()
            .limit(page.limit)
            .after(page.cursor);
        let (found, unread) = (self.db.table.query(q).await?, self.unread(practice, &patient_id).await?);
        self.reads().audit(caller, &patient_id, AuditAction::MessagesRead).await?;
        let items = found.items.iter().map(|i| i.parse::<Message>().map(|m| summary(m, false))).collect::<Result<_, _>>()?;
        Ok(Inbox { listing: Listing { items, next_cursor: found.cursor }, unread })
    }

    /// A thread, oldest message first.
    pub async fn patient_thread(&self, caller: &Caller, requested: Option<&str>, thread_id: &str) -> CoreResult<ThreadView> {
        let patient_id = self.reads().patient_id(caller, requested).await?;
        let view = self.thread(&caller.actor.practice, thread_id, Side::Patient(&patient_id)).await?;
        self.reads().audit(caller, &patient_id, AuditAction::ThreadRead).await?;
        Ok(view)
    }

    /// A new thread from a patient to the office or one of the providers [`Self::providers`] lists.
    pub async fn patient_compose(
        &self,
        caller: &Caller,
        requested: Option<&str>,
        provider_id: &str,
        subject: &str,
        body: &str,
        attachment_ids: &[String],
    ) -> CoreResult<SentMessage> {
        let (subject, body) = (check_subject(subject)?, check_body(body)?);
        let to = self.providers(caller, requested).await?.into_iter().find(|p| p.id == provider_id);
        let to = to.ok_or_else(|| CoreError::invalid(ProblemCode::ProviderUnknown, "Choose one of the providers listed for messages."))?;
        let (patient_id, patient) = self.reads().patient(caller, requested).await?;
        let thread = Thread {
            id: crate::ids::new_id()[..20].to_string(),
            subject: subject.clone(),
            patient_id: patient_id.to_string(),
            patient_name: patient.record.display_name(),
            provider_id: (to.kind == PartyKind::Provider).then(|| to.id.clone()),
            created_at: self.db.clock.now(),
        };
        let from = self.patient_side(caller, &patient_id, &thread.patient_name).await?;
        let out = Outgoing {
            new_thread: Some(&thread),
            thread_id: &thread.id,
            direction: Direction::ToOffice,
            from,
            to,
            subject,
            body,
            attachment_ids,
        };
        self.send(&caller.actor, out).await
    }

    /// A patient's reply in one of their threads (to whoever wrote last from the office).
    pub async fn patient_reply(
        &self,
        caller: &Caller,
        requested: Option<&str>,
        thread_id: &str,
        body: &str,
        attachment_ids: &[String],
    ) -> CoreResult<SentMessage> {
        let practice = &caller.actor.practice;
        let body = check_body(body)?;
        let patient_id = self.reads().patient_id(caller, requested).await?;
        let view = self.thread(practice, thread_id, Side::Patient(&patient_id)).await?;
        // To whoever wrote last from the office, else whom the patient first wrote to.
        let last_office =
            view.messages.iter().rev().map(|m| &m.summary).find(|m| m.from.kind != PartyKind::Patient).map(|m| m.from.clone());
        let to = match last_office {
            Some(office_side) => office_side,
            None => view.messages.first().map(|m| m.summary.to.clone()).ok_or(CoreError::NotFound)?,
        };
        let from = self.patient_side(caller, &patient_id, &view.patient_name).await?;
        let subject = reply_subject(&view.subject);
        let out = Outgoing { new_thread: None, thread_id, direction: Direction::ToOffice, from, to, subject, body, attachment_ids };
        self.send(&caller.actor, out).await
    }

    /// The patient a message is from, and who wrote it when that is someone else in the family
    /// (one more read: the writer's own record, for their name).
    async fn patient_side(&self, caller: &Caller, patient_id: &PatientId, patient_name: &str) -> CoreResult<Party> {
        let writer = &caller.viewer.patient_id;
        let by = if writer == patient_id {
            None
        } else {
            let record = self.records().get::<Patient>(&caller.actor.practice, writer).await?;
            Some(record.map(|r| r.record.display_name()).ok_or(CoreError::NotFound)?)
        };
        Ok(Party { kind: PartyKind::Patient, id: patient_id.to_string(), name: patient_name.into(), by })
    }

    /// Declares an attachment for a message the patient is about to send.
    pub async fn patient_attach(
        &self,
        caller: &Caller,
        requested: Option<&str>,
        file_name: &str,
        content_type: &str,
        size: u64,
    ) -> CoreResult<Declared> {
        let patient_id = self.reads().patient_id(caller, requested).await?;
        self.attachments().declare(&caller.actor.practice, &patient_id, file_name, content_type, size).await
    }

    /// A short-lived link to an attachment of a message in one of the patient's threads.
    pub async fn patient_attachment(&self, caller: &Caller, requested: Option<&str>, id: &str) -> CoreResult<SignedFile> {
        let patient_id = self.reads().patient_id(caller, requested).await?;
        self.attachment_file(&caller.actor, id, Side::Patient(&patient_id)).await
    }

    /// Marks a message to the patient read or unread.
    pub async fn patient_mark(&self, caller: &Caller, requested: Option<&str>, message_id: &str, read: bool) -> CoreResult<()> {
        let patient_id = self.reads().patient_id(caller, requested).await?;
        self.mark(&caller.actor, message_id, read, Side::Patient(&patient_id)).await
    }

    /// Whom a patient (writing for `requested`) may write to: the office itself (first), their own
    /// dentist and the providers they have seen (a hygienist), and any provider a staff user
    /// answers for — by name. Every message lands in the office's inbox whoever it is to.
    pub async fn providers(&self, caller: &Caller, requested: Option<&str>) -> CoreResult<Vec<Party>> {
        let (patient_id, patient) = self.reads().patient(caller, requested).await?;
        let practice = &caller.actor.practice;
        let all = crate::sync::records::DateRange::all();
        let found = self.records().for_practice::<Provider>(practice, &all, 500, None).await?;
        let seen: Vec<String> = self
            .records()
            .all_for_patient::<Appointment>(practice, &patient_id, &all)
            .await?
            .into_iter()
            .map(|a| a.record.provider_id.clone())
            .collect();
        let own = |id: &str| patient.record.primary_provider_id.as_deref() == Some(id) || seen.iter().any(|s| s == id);
        let mut providers: Vec<Party> = found
            .records
            .into_iter()
            .filter(|p| !p.record.staff_usernames.is_empty() || own(&p.id))
            .map(|p| Party { kind: PartyKind::Provider, name: p.record.display_name(), id: p.id, by: None })
            .collect();
        providers.sort_by(|a, b| a.name.cmp(&b.name));
        providers.insert(0, self.office(practice).await?);
        Ok(providers)
    }

    // -----------------------------------------------------------------------------------------
    // The office
    // -----------------------------------------------------------------------------------------

    /// The practice's inbox (or sent folder) across patients, newest first; `unread_only` and
    /// `provider_id` filter the page.
    pub async fn office_list(
        &self,
        actor: &Actor,
        folder: Folder,
        unread_only: bool,
        provider_id: Option<&str>,
        page: PageRequest,
    ) -> CoreResult<Inbox> {
        let practice = &actor.practice;
        let prefix = match folder {
            Folder::Inbox => "in#",
            Folder::Sent => "out#",
        };
        let q = Query::on_gsi1(table_keys::webmail_office(practice)).prefix(prefix).newest_first().limit(page.limit).after(page.cursor);
        let (found, unread) = (self.db.table.query(q).await?, self.unread(practice, OFFICE).await?);
        let mut items = vec![];
        for i in &found.items {
            let m: Message = i.parse()?;
            let provider = match m.direction {
                Direction::ToOffice => &m.to,
                Direction::ToPatient => &m.from,
            };
            if (unread_only && m.read_at.is_some()) || provider_id.is_some_and(|p| provider.id != p) {
                continue;
            }
            items.push(summary(m, true));
        }
        self.audit().record(actor, AuditAction::OfficeMessagesRead, "office", Outcome::Success, json!({"count": items.len()})).await?;
        Ok(Inbox { listing: Listing { items, next_cursor: found.cursor }, unread })
    }

    /// The practice's providers for the office's page: every one (to filter the inbox by), and
    /// whether this staff user acts for it (may write as it).
    pub async fn office_providers(&self, actor: &Actor, staff_username: &str) -> CoreResult<Vec<OfficeProvider>> {
        let found = self.records().for_practice::<Provider>(&actor.practice, &crate::sync::records::DateRange::all(), 500, None).await?;
        let mut providers: Vec<OfficeProvider> = found
            .records
            .into_iter()
            .map(|p| OfficeProvider {
                acts_for_me: p.record.staff_usernames.iter().any(|u| u.eq_ignore_ascii_case(staff_username)),
                name: p.record.display_name(),
                id: p.id,
            })
            .collect();
        providers.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(providers)
    }

    pub async fn office_thread(&self, actor: &Actor, thread_id: &str) -> CoreResult<ThreadView> {
        let view = self.thread(&actor.practice, thread_id, Side::Office).await?;
        self.audit().phi_read(actor, &view.patient_id, AuditAction::ThreadRead).await?;
        Ok(view)
    }

    /// A new thread from the office to a patient, as a provider the staff user acts for, or as
    /// the office.
    pub async fn office_compose(
        &self,
        actor: &Actor,
        staff_username: &str,
        patient_id: &str,
        provider_id: Option<&str>,
        draft: Draft<'_>,
    ) -> CoreResult<SentMessage> {
        let practice = &actor.practice;
        let (subject, body, attachment_ids) = (check_subject(draft.subject)?, check_body(draft.body)?, draft.attachment_ids);
        let patient = self.records().get::<Patient>(practice, patient_id).await?.ok_or(CoreError::NotFound)?;
        let from = self.office_sender(practice, staff_username, provider_id).await?;
        let thread = Thread {
            id: crate::ids::new_id()[..20].to_string(),
            subject: subject.clone(),
            patient_id: patient.id.clone(),
            patient_name: patient.record.display_name(),
            provider_id: provider_id.map(str::to_string),
            created_at: self.db.clock.now(),
        };
        let to = Party { kind: PartyKind::Patient, id: patient.id.clone(), name: thread.patient_name.clone(), by: None };
        let out = Outgoing {
            new_thread: Some(&thread),
            thread_id: &thread.id,
            direction: Direction::ToPatient,
            from,
            to,
            subject,
            body,
            attachment_ids,
        };
        self.send(actor, out).await
    }

    pub async fn office_reply(
        &self,
        actor: &Actor,
        staff_username: &str,
        thread_id: &str,
        provider_id: Option<&str>,
        body: &str,
        attachment_ids: &[String],
    ) -> CoreResult<SentMessage> {
        let practice = &actor.practice;
        let body = check_body(body)?;
        let view = self.thread(practice, thread_id, Side::Office).await?;
        let from = self.office_sender(practice, staff_username, provider_id).await?;
        let to = Party { kind: PartyKind::Patient, id: view.patient_id.clone(), name: view.patient_name.clone(), by: None };
        let subject = reply_subject(&view.subject);
        let out = Outgoing { new_thread: None, thread_id, direction: Direction::ToPatient, from, to, subject, body, attachment_ids };
        self.send(actor, out).await
    }

    pub async fn office_mark(&self, actor: &Actor, message_id: &str, read: bool) -> CoreResult<()> {
        self.mark(actor, message_id, read, Side::Office).await
    }

    pub async fn office_attach(&self, actor: &Actor, file_name: &str, content_type: &str, size: u64) -> CoreResult<Declared> {
        self.attachments().declare(&actor.practice, OFFICE, file_name, content_type, size).await
    }

    pub async fn office_attachment(&self, actor: &Actor, id: &str) -> CoreResult<SignedFile> {
        self.attachment_file(actor, id, Side::Office).await
    }

    /// A link to a sent attachment for whoever may see its message (anyone else: 404); audited.
    async fn attachment_file(&self, actor: &Actor, id: &str, side: Side<'_>) -> CoreResult<SignedFile> {
        let practice = &actor.practice;
        let (file, message_id) = self.attachments().sent(practice, id).await?;
        let (thread_id, stamp) = split_id(&message_id).ok_or(CoreError::NotFound)?;
        let item =
            self.db.table.get(&table_keys::thread(practice, thread_id), &format!("MSG#{stamp}")).await?.ok_or(CoreError::NotFound)?;
        let message: Message = item.parse()?;
        if let Side::Patient(p) = side {
            if message.patient_id != *p {
                return Err(CoreError::NotFound);
            }
        }
        self.audit().phi_read(actor, &message.patient_id, AuditAction::AttachmentRead).await?;
        signed(self.blobs, self.db.clock, &super::attachments::file_key(practice, id), &file.file_name).await
    }

    /// The office itself as a party, under the practice's name.
    async fn office(&self, practice: &PracticeId) -> CoreResult<Party> {
        let settings = SettingsRepo { db: self.db }.get(practice).await?;
        let name = settings.map(|s| s.practice_name).unwrap_or_else(|| "The office".into());
        Ok(Party { kind: PartyKind::Office, id: OFFICE.into(), name, by: None })
    }

    /// Who the office writes as: a provider the staff user acts for, or the office itself.
    async fn office_sender(&self, practice: &PracticeId, staff_username: &str, provider_id: Option<&str>) -> CoreResult<Party> {
        let Some(provider_id) = provider_id else {
            return self.office(practice).await;
        };
        let provider = self.records().get::<Provider>(practice, provider_id).await?;
        match provider {
            Some(p) if p.record.staff_usernames.iter().any(|u| u.eq_ignore_ascii_case(staff_username)) => {
                Ok(Party { kind: PartyKind::Provider, id: p.id, name: p.record.display_name(), by: None })
            }
            Some(_) => {
                Err(CoreError::forbidden(ProblemCode::NotActingForProvider, "You may write as a provider only when you act for them."))
            }
            None => Err(CoreError::invalid(ProblemCode::ProviderUnknown, "There is no such provider.")),
        }
    }

    // -----------------------------------------------------------------------------------------
    // Shared steps
    // -----------------------------------------------------------------------------------------

    /// A thread as `side` may see it: a patient only their own (anything else is 404).
    async fn thread(&self, practice: &PracticeId, thread_id: &str, side: Side<'_>) -> CoreResult<ThreadView> {
        if !is_token(thread_id) {
            return Err(CoreError::NotFound);
        }
        let page = self.db.table.query(Query::new(table_keys::thread(practice, thread_id)).limit(1000)).await?;
        let meta = page.items.iter().find(|i| i.sk == "META").ok_or(CoreError::NotFound)?;
        let thread: Thread = meta.parse()?;
        if let Side::Patient(p) = side {
            if thread.patient_id != *p {
                return Err(CoreError::NotFound);
            }
        }
        let staff = matches!(side, Side::Office);
        let mut messages = vec![];
        for i in page.items.iter().filter(|i| i.sk.starts_with("MSG#")) {
            let mut m: Message = i.parse()?;
            let body = std::mem::take(&mut m.body);
            messages.push(MessageView { summary: summary(m, staff), body });
        }
        Ok(ThreadView {
            id: thread.id,
            subject: thread.subject,
            patient_id: thread.patient_id,
            patient_name: thread.patient_name,
            messages,
        })
    }

    /// Stores a message (and a new thread) with its copy, the recipient's unread count and the
    /// `webmail.sent` event (plus `webmail.received` for the practice's system when a patient
    /// wrote), in one transaction; then publishes the events.
    async fn send(&self, actor: &Actor, out: Outgoing<'_>) -> CoreResult<SentMessage> {
        let Outgoing { new_thread, thread_id, direction, from, to, subject, body, attachment_ids } = out;
        let practice = &actor.practice;
        let patient_id = match direction {
            Direction::ToOffice => from.id.clone(),
            Direction::ToPatient => to.id.clone(),
        };
        let stamp = stamp(self.db.clock);
        let id = format!("{thread_id}-{stamp}");
        // The files are checked before anything is sent; each is bound to this message in its transaction.
        let owner = if direction == Direction::ToOffice { patient_id.as_str() } else { OFFICE };
        let (attachments, bind) = self.attachments().take(practice, owner, attachment_ids, &id).await?;
        let message = Message {
            id: id.clone(),
            thread_id: thread_id.into(),
            patient_id: patient_id.clone(),
            direction,
            from,
            to,
            subject,
            body,
            sent_at: self.db.clock.now(),
            read_at: None,
            notification: Notification::Pending,
            written_by: actor.id.clone(),
            attachments,
        };
        let data = serde_json::to_value(&message).map_err(CoreError::backend)?;
        let (inbox, outbox_folder, recipient) = match direction {
            Direction::ToOffice => (
                (table_keys::webmail_office(practice), format!("in#{stamp}")),
                (table_keys::patient_data(practice, &patient_id), format!("webmail-out#{stamp}")),
                OFFICE.to_string(),
            ),
            Direction::ToPatient => (
                (table_keys::patient_data(practice, &patient_id), format!("webmail-in#{stamp}")),
                (table_keys::webmail_office(practice), format!("out#{stamp}")),
                patient_id.clone(),
            ),
        };
        let pk = table_keys::thread(practice, thread_id);
        let outbox = Outbox { db: self.db, events: self.events };
        let mut events = vec![PortalEvent::WebmailSent { message_id: id.clone(), patient_id: patient_id.clone() }];
        if direction == Direction::ToOffice {
            events.push(PortalEvent::WebmailReceived {
                message_id: id.clone(),
                thread_id: thread_id.into(),
                patient_id: patient_id.clone(),
            });
        }
        let mut ops = vec![];
        if let Some(t) = new_thread {
            let meta = Item::new(pk.clone(), "META", serde_json::to_value(t).map_err(CoreError::backend)?);
            ops.push(TxOp::Put(meta, Cond::Absent));
        } else {
            ops.push(TxOp::Check { pk: pk.clone(), sk: "META".into(), cond: Cond::Exists });
        }
        ops.push(TxOp::Put(Item::new(pk.clone(), format!("MSG#{stamp}"), data.clone()).with_gsi1(inbox.0, inbox.1), Cond::Absent));
        ops.push(TxOp::Put(Item::new(pk.clone(), format!("SENT#{stamp}"), data).with_gsi1(outbox_folder.0, outbox_folder.1), Cond::Absent));
        // The recipient's unread count is an atomic count: senders never conflict over it.
        ops.push(unread_change(practice, &recipient, 1));
        let first_bind = ops.len();
        ops.extend(bind);
        let files: Vec<&str> = message.attachments.iter().map(|a| a.id.as_str()).collect();
        let detail = json!({"thread": thread_id, "message": id, "direction": direction, "attachments": files});
        ops.push(self.audit().entry(actor, AuditAction::MessageSend, &patient_id, Outcome::Success, detail)?);
        match outbox.transact(practice, ops, events).await {
            Ok(()) => {}
            Err(TableError::TransactionCanceled { failed }) if failed.contains(&0) => return Err(CoreError::NotFound),
            // Two messages sent at once with the same file: it goes with the one that got it.
            Err(TableError::TransactionCanceled { failed })
                if failed.iter().any(|&i| i >= first_bind && i < first_bind + attachment_ids.len()) =>
            {
                return Err(CoreError::invalid(
                    ProblemCode::AttachmentUsed,
                    "That attachment went with another message; attach the file again.",
                ))
            }
            Err(e) => return Err(e.into()),
        }
        Ok(SentMessage { id, thread_id: thread_id.into() })
    }

    /// Marks a message read or unread by its recipient (only the recipient's side may).
    async fn mark(&self, actor: &Actor, message_id: &str, read: bool, side: Side<'_>) -> CoreResult<()> {
        let practice = &actor.practice;
        let (thread_id, stamp) = split_id(message_id).ok_or(CoreError::NotFound)?;
        for _ in 0..ATTEMPTS {
            let item =
                self.db.table.get(&table_keys::thread(practice, thread_id), &format!("MSG#{stamp}")).await?.ok_or(CoreError::NotFound)?;
            let mut m: Message = item.parse()?;
            let recipient = match (&side, m.direction) {
                (Side::Patient(p), Direction::ToPatient) if m.patient_id == **p => p.to_string(),
                (Side::Office, Direction::ToOffice) => OFFICE.to_string(),
                _ => return Err(CoreError::NotFound),
            };
            if m.read_at.is_some() == read {
                return Ok(());
            }
            m.read_at = read.then(|| self.db.clock.now());
            let next = item.replaced(serde_json::to_value(&m).map_err(CoreError::backend)?);
            let action = if read { AuditAction::MessageMarkRead } else { AuditAction::MessageMarkUnread };
            let ops = vec![
                TxOp::Put(next, Cond::Version(item.version)),
                unread_change(practice, &recipient, if read { -1 } else { 1 }),
                self.audit().entry(actor, action, &m.patient_id, Outcome::Success, json!({"message": message_id}))?,
            ];
            match self.db.table.transact(ops).await {
                Ok(()) => return Ok(()),
                Err(TableError::TransactionCanceled { .. }) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(CoreError::Conflict { code: ProblemCode::Conflict, detail: "The mailbox kept changing; try again.".into(), current: None })
    }

    async fn unread(&self, practice: &PracticeId, recipient: &str) -> CoreResult<u64> {
        let item = self.db.table.get(&table_keys::practice(practice), &table_keys::webmail_unread(recipient)).await?;
        // A count below zero (a mark lost to a crash between writes) reads as none unread.
        Ok(u64::try_from(count_of(item.as_ref())).unwrap_or(0))
    }
}

/// The write that moves an inbox's unread count by `delta`: an atomic count, so messages sent
/// and read at the same time by different people never conflict over it. It moves only with a
/// message that changed state in the same transaction, so it never goes below zero.
fn unread_change(practice: &PracticeId, recipient: &str, delta: i64) -> TxOp {
    TxOp::Count { pk: table_keys::practice(practice), sk: table_keys::webmail_unread(recipient), by: delta, expires_at: None }
}

/// The office's inbox, as an unread-count key.
const OFFICE: &str = "office";

fn reply_subject(subject: &str) -> String {
    if subject.starts_with("Re: ") {
        subject.to_string()
    } else {
        format!("Re: {subject}").chars().take(SUBJECT_MAX).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_name_their_thread() {
        assert_eq!(split_id("abc123-00017000000000000001f2e3d4"), Some(("abc123", "00017000000000000001f2e3d4")));
        for bad in ["", "abc", "-x", "x-", "a/b-c", "a-b-c", &format!("{}-x", "a".repeat(41))] {
            assert_eq!(split_id(bad), None, "{bad}");
        }
    }

    #[test]
    fn text_rules() {
        assert!(check_body("  ").is_err());
        assert!(check_body(&"x".repeat(BODY_MAX + 1)).is_err());
        assert_eq!(check_body(" <script>alert(1)</script> ").unwrap(), "<script>alert(1)</script>", "stored as text, shown as text");
        assert!(check_subject("two\nlines").is_err());
        assert_eq!(reply_subject("Re: Crown"), "Re: Crown");
        assert_eq!(reply_subject("Crown"), "Re: Crown");
    }
}
