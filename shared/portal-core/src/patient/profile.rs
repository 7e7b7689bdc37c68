//! A patient's own contact details and notice choices — email, mobile phone, whether they are
//! emailed, language — as "My account" shows and changes them. The practice's record stays the
//! source of truth: a change goes to the practice's system as an outbox event
//! (`patient.contact_changed`, only what changed) in one transaction with the pending change and
//! its audit entry, and shows as pending until the system sends the patient's record again (then
//! the record says what the office decided). Only one's own: not a family member's.

use crate::audit::{AuditAction, AuditLog, Outcome};
use crate::language::Language;
use crate::ports::{Cond, Db, Events, Item, TableError, TxOp};
use crate::reads::{Caller, Reads};
use crate::sync::entities::{Patient, PhoneKind};
use crate::sync::events::PortalEvent;
use crate::sync::outbox::Outbox;
use crate::sync::records::Synced;
use crate::table_keys;
use crate::text::check_email;
use crate::{CoreError, CoreResult, ProblemCode};
use serde::{Deserialize, Serialize};
use serde_json::json;

pub use crate::sync::events::ContactChange;

impl ContactChange {
    fn is_empty(&self) -> bool {
        *self == ContactChange::default()
    }
}

/// A change waiting for the practice's system, with the record it was asked against.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Pending {
    change: ContactChange,
    asked_at: i64,
    /// The record's `lastModified` when asked: once the system sends another, it has answered.
    record_modified: String,
}

/// My account's contact section: the record's values, and what waits for the office.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Profile {
    pub email: Option<String>,
    pub mobile_phone: Option<String>,
    pub email_notices: bool,
    pub preferred_language: &'static str,
    /// Asked for, not yet in the practice's record.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pending: Option<ContactChange>,
}

fn mobile(p: &Patient) -> Option<String> {
    p.phones.iter().find(|ph| ph.kind == PhoneKind::Mobile).map(|ph| ph.number.clone())
}

/// The change checked and narrowed to what differs from the record.
fn narrowed(p: &Patient, wanted: ContactChange) -> CoreResult<ContactChange> {
    let email = match wanted.email {
        Some(e) => Some(check_email(&e, "Email")?),
        None => None,
    };
    let mobile_phone = match wanted.mobile_phone.map(|m| m.trim().to_string()) {
        Some(m)
            if m.chars().count() > 40
                || !m.chars().all(|c| c.is_ascii_digit() || " ()+-.".contains(c))
                || m.chars().filter(char::is_ascii_digit).count() < 7 =>
        {
            return Err(CoreError::invalid(
                ProblemCode::PhoneInvalid,
                "A mobile phone is digits with spaces, ( ) + - or . — at least 7 digits.",
            ));
        }
        m => m,
    };
    let preferred_language = match wanted.preferred_language.as_deref() {
        None => None,
        Some(l @ ("en" | "es")) => Some(l.to_string()),
        Some(_) => return Err(CoreError::invalid(ProblemCode::InvalidBody, "preferredLanguage is en or es.")),
    };
    let current_lang = Language::of(p.preferred_language.as_deref()).code();
    Ok(ContactChange {
        email: email.filter(|e| Some(e) != p.email.as_ref()),
        mobile_phone: mobile_phone.filter(|m| Some(m) != mobile(p).as_ref()),
        email_notices: wanted.email_notices.filter(|on| *on == p.opt_outs.email),
        preferred_language: preferred_language.filter(|l| l != current_lang),
    })
}

pub struct Profiles<'a> {
    pub db: Db<'a>,
    pub events: &'a dyn Events,
}

impl Profiles<'_> {
    fn reads(&self) -> Reads<'_> {
        Reads { db: self.db }
    }

    /// The caller's own contact details, with what waits for the office.
    pub async fn get(&self, caller: &Caller) -> CoreResult<Profile> {
        let (patient_id, patient) = self.reads().patient(caller, None).await?;
        let pending = self.pending(caller, &patient).await?.0.map(|p| p.change);
        self.reads().audit(caller, &patient_id, AuditAction::ProfileRead).await?;
        Ok(view(&patient, pending))
    }

    /// Asks the practice to change the caller's contact details: only what differs from its record
    /// is sent; asking for what the record already says clears a pending change.
    pub async fn change(&self, caller: &Caller, wanted: ContactChange) -> CoreResult<Profile> {
        let practice = &caller.actor.practice;
        let (patient_id, patient) = self.reads().patient(caller, None).await?;
        let change = narrowed(&patient.record, wanted)?;
        let key = (table_keys::practice(practice), table_keys::contact_change(&patient_id));
        let (stored, version) = self.pending(caller, &patient).await?;
        let cond = version.map_or(Cond::Absent, Cond::Version);
        if stored.as_ref().is_some_and(|p| p.change == change) {
            return Ok(view(&patient, Some(change)));
        }
        if change.is_empty() {
            if version.is_some() {
                self.db.table.delete(&key.0, &key.1, Cond::None).await?;
            }
            return Ok(view(&patient, None));
        }
        let pending = Pending { change: change.clone(), asked_at: self.db.clock.now(), record_modified: patient.last_modified.clone() };
        let version = version.unwrap_or(0) + 1;
        let item =
            Item::new(key.0.clone(), key.1.clone(), serde_json::to_value(&pending).map_err(CoreError::backend)?).with_version(version);
        let outbox = Outbox { db: self.db, events: self.events };
        let changed = PortalEvent::ContactChanged { patient_id: patient_id.to_string(), changes: change.clone() };
        let fields: Vec<&str> = [
            change.email.as_ref().map(|_| "email"),
            change.mobile_phone.as_ref().map(|_| "mobilePhone"),
            change.email_notices.map(|_| "emailNotices"),
            change.preferred_language.as_ref().map(|_| "preferredLanguage"),
        ]
        .into_iter()
        .flatten()
        .collect();
        let audit = AuditLog { db: self.db }.entry(
            &caller.actor,
            AuditAction::ProfileChange,
            &patient_id,
            Outcome::Success,
            json!({ "fields": fields }),
        )?;
        match outbox.transact(practice, vec![TxOp::Put(item, cond), audit], vec![changed]).await {
            Ok(()) => {}
            Err(TableError::TransactionCanceled { .. } | TableError::ConditionFailed) => {
                return Err(CoreError::Conflict {
                    code: ProblemCode::Conflict,
                    detail: "Your details changed meanwhile; look and save again.".into(),
                    current: None,
                })
            }
            Err(e) => return Err(e.into()),
        }
        Ok(view(&patient, Some(change)))
    }

    /// The change waiting for the office — none once the system has sent the record again (it
    /// has answered: the record says what the office decided) — and the stored item's version.
    async fn pending(&self, caller: &Caller, patient: &Synced<Patient>) -> CoreResult<(Option<Pending>, Option<u64>)> {
        let item = self.db.table.get(&table_keys::practice(&caller.actor.practice), &table_keys::contact_change(&patient.id)).await?;
        let Some(item) = item else { return Ok((None, None)) };
        let pending: Pending = item.parse()?;
        Ok(((pending.record_modified == patient.last_modified).then_some(pending), Some(item.version)))
    }
}

fn view(patient: &Synced<Patient>, pending: Option<ContactChange>) -> Profile {
    let p = &patient.record;
    Profile {
        email: p.email.clone(),
        mobile_phone: mobile(p),
        email_notices: !p.opt_outs.email,
        preferred_language: Language::of(p.preferred_language.as_deref()).code(),
        pending: pending.filter(|c| !c.is_empty()),
    }
}
