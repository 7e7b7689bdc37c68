//! MakeAppointments: a patient's upcoming and past appointments, confirming one whose
//! eConfirmation is pending, asking the office to cancel or reschedule one (the request is the
//! practice's to act on: the appointment shows it until the system sends the appointment again),
//! and booking a due recall into an open slot.
//!
//! Both changes are written in one transaction with their outbox event and audit entry, so the
//! practice's system hears of every confirmation and booking, and of nothing that did not happen,
//! and none goes unrecorded (nor is one stored that the patient was told failed). A booking claims
//! its slot with a put-if-absent (`BOOKING#{slot}`): of any number of patients booking one slot at
//! once exactly one wins; the others are told the slot is taken. The same transaction takes the
//! slot out of the open list and marks the recall scheduled (conditional on the versions read), so
//! a double click cannot book one recall twice. The booking is listed with the patient's
//! appointments (`requested`) until the system sends the appointment it made from it
//! (`portalBookingId`).

use super::{ProviderNames, ProviderView};
use crate::audit::{AuditAction, AuditLog, Outcome};
use crate::clock::rfc3339;
use crate::ids::PracticeId;
use crate::ports::{Db, Events, TableError, TxOp};
use crate::practice::family::PatientId;
use crate::practice::settings::SettingsRepo;
use crate::reads::{Caller, PageRequest, Reads};
use crate::sync::changes::PortalBookings;
use crate::sync::entities::rules::is_after;
use crate::sync::entities::{Appointment, AppointmentStatus, ChangeKind, ChangeRequest, Confirmation, Recall, RecallStatus, Slot};
use crate::sync::events::PortalEvent;
use crate::sync::outbox::Outbox;
use crate::sync::records::{DateRange, Order, Synced};
use crate::{CoreError, CoreResult, ProblemCode};
use serde::Serialize;
use serde_json::{json, Value};
use std::collections::{HashMap, HashSet};

/// How far ahead open slots are offered, and how many per recall.
pub const SLOT_DAYS: i64 = 90;
pub const SLOTS_PER_RECALL: usize = 12;
/// How often a confirmation or booking reads again after a concurrent change before giving up.
const ATTEMPTS: usize = 5;
/// The longest note a patient may add to a request to cancel or reschedule.
const NOTE_MAX: usize = 500;

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AppointmentView {
    pub id: String,
    /// RFC 3339 with the practice's offset, as its system sent it.
    pub start: String,
    pub length_minutes: u32,
    pub provider: ProviderView,
    pub procedures: String,
    pub status: AppointmentStatus,
    pub confirmation: Confirmation,
    /// Whether the patient may confirm it now (an eConfirmation is pending).
    pub can_confirm: bool,
    /// What the patient asked the office to do with it, until the system answers.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub change_requested: Option<ChangeKind>,
}

/// A page of a patient's appointments, read newest first: the first page starts with every
/// upcoming one; later pages (`nextCursor`) go further into the past.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Appointments {
    /// Soonest first.
    pub upcoming: Vec<AppointmentView>,
    /// Most recent first.
    pub past: Vec<AppointmentView>,
    pub next_cursor: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Confirmed {
    pub id: String,
    pub confirmation: Confirmation,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SlotView {
    pub id: String,
    pub start: String,
    pub length_minutes: u32,
    pub provider: ProviderView,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RecallView {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub due_date: String,
    /// Open slots that fit its type, soonest first.
    pub slots: Vec<SlotView>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Booked {
    pub appointment: AppointmentView,
}

fn can_confirm(a: &Appointment) -> bool {
    a.e_confirmation_pending && a.status == AppointmentStatus::Scheduled && a.confirmation != Confirmation::Confirmed
}

/// Whether a slot may take a recall: it names the recall's type (or takes any), and is ahead.
fn fits(slot: &Slot, recall: &Recall, now: i64) -> bool {
    let type_fits = slot.recall_types.is_empty() || slot.recall_types.iter().any(|t| t.eq_ignore_ascii_case(&recall.kind));
    type_fits && is_after(&slot.start, now)
}

fn appointment_view(id: String, a: &Appointment, names: &HashMap<String, String>) -> AppointmentView {
    AppointmentView {
        can_confirm: can_confirm(a),
        change_requested: a.change_requested.as_ref().map(|r| r.kind),
        provider: ProviderNames::view(names, &a.provider_id),
        id,
        start: a.start.clone(),
        length_minutes: a.length_minutes,
        procedures: a.procedures.clone(),
        status: a.status,
        confirmation: a.confirmation,
    }
}

pub struct AppointmentBook<'a> {
    pub db: Db<'a>,
    pub events: &'a dyn Events,
    pub providers: &'a ProviderNames,
}

impl AppointmentBook<'_> {
    fn reads(&self) -> Reads<'_> {
        Reads { db: self.db }
    }

    /// Upcoming (soonest first) and past (latest first) appointments, with portal bookings the
    /// practice's system has not answered yet.
    pub async fn list(&self, caller: &Caller, requested: Option<&str>, page: PageRequest) -> CoreResult<Appointments> {
        let reads = self.reads();
        let practice = &caller.actor.practice;
        let patient_id = reads.patient_id(caller, requested).await?;
        let found = reads
            .records()
            .for_patient::<Appointment>(practice, &patient_id, &DateRange::all(), Order::NewestFirst, page.limit, page.cursor)
            .await?;
        let names = self.providers.get(self.db, practice).await?;
        reads.audit(caller, &patient_id, AuditAction::AppointmentsRead).await?;
        let fulfilled: HashSet<String> = found.records.iter().filter_map(|a| a.record.portal_booking_id.clone()).collect();
        let now = self.db.clock.now();
        let (mut upcoming, mut past) = (vec![], vec![]);
        for a in found.records.into_iter().filter(|a| !fulfilled.contains(&a.id)) {
            let ahead = is_after(&a.record.start, now);
            // A request whose time has passed unanswered is no appointment the patient had.
            if a.record.status == AppointmentStatus::Requested && !ahead {
                continue;
            }
            let view = appointment_view(a.id, &a.record, &names);
            if ahead {
                upcoming.push(view)
            } else {
                past.push(view)
            }
        }
        upcoming.reverse();
        Ok(Appointments { upcoming, past, next_cursor: found.cursor })
    }

    /// Confirms an appointment whose eConfirmation is pending. Confirming a confirmed one answers
    /// the same and changes nothing.
    pub async fn confirm(&self, caller: &Caller, requested: Option<&str>, id: &str) -> CoreResult<Confirmed> {
        let reads = self.reads();
        let practice = &caller.actor.practice;
        let patient_id = reads.patient_id(caller, requested).await?;
        for _ in 0..ATTEMPTS {
            let found = reads.records().get_for_change::<Appointment>(practice, id).await?;
            let appt = found.filter(|a| a.record.patient_id == patient_id).ok_or(CoreError::NotFound)?;
            if appt.record.confirmation == Confirmation::Confirmed {
                return Ok(Confirmed { id: id.into(), confirmation: Confirmation::Confirmed });
            }
            if !can_confirm(&appt.record) {
                return Err(CoreError::Conflict {
                    code: ProblemCode::ConfirmationNotPending,
                    detail: "This appointment is not waiting for a confirmation; call the office to change it.".into(),
                    current: None,
                });
            }
            let mut record = (*appt.record).clone();
            record.confirmation = Confirmation::Confirmed;
            record.e_confirmation_pending = false;
            let updated = appt.replace(&record)?;
            let outbox = Outbox { db: self.db, events: self.events };
            let confirmed = PortalEvent::AppointmentConfirmed {
                appointment_id: id.into(),
                patient_id: patient_id.to_string(),
                start: appt.record.start.clone(),
            };
            let ops = vec![updated, self.audit_entry(caller, AuditAction::AppointmentConfirm, &patient_id, json!({"appointment": id}))?];
            match outbox.transact(practice, ops, vec![confirmed]).await {
                Ok(()) => return Ok(Confirmed { id: id.into(), confirmation: Confirmation::Confirmed }),
                // Changed since we read it (another confirm, a sync): look again.
                Err(TableError::TransactionCanceled { .. } | TableError::ConditionFailed) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(contended())
    }

    /// Asks the office to cancel or reschedule an upcoming scheduled appointment, with an optional
    /// note: the `appointment.change_requested` event tells the practice's system, and the
    /// appointment shows the request until the system sends it again. Asking again answers the
    /// same and sends nothing more. Refused when the practice has turned such requests off.
    pub async fn request_change(
        &self,
        caller: &Caller,
        requested: Option<&str>,
        id: &str,
        kind: ChangeKind,
        note: Option<&str>,
    ) -> CoreResult<AppointmentView> {
        let reads = self.reads();
        let practice = &caller.actor.practice;
        let note = note.map(str::trim).filter(|n| !n.is_empty());
        if note.is_some_and(|n| n.chars().count() > NOTE_MAX || !crate::text::is_plain_text(n, true)) {
            return Err(CoreError::invalid(ProblemCode::NoteInvalid, format!("A note is plain text of at most {NOTE_MAX} characters.")));
        }
        let settings = SettingsRepo { db: self.db }.get(practice).await?.ok_or(CoreError::NotFound)?;
        if !settings.contact.appointment_requests {
            return Err(CoreError::forbidden(
                ProblemCode::AppointmentRequestsOff,
                "Your dental office takes these requests by phone: call the office.",
            ));
        }
        let patient_id = reads.patient_id(caller, requested).await?;
        let names = self.providers.get(self.db, practice).await?;
        for _ in 0..ATTEMPTS {
            let found = reads.records().get_for_change::<Appointment>(practice, id).await?;
            let appt = found.filter(|a| a.record.patient_id == patient_id).ok_or(CoreError::NotFound)?;
            if appt.record.change_requested.as_ref().is_some_and(|r| r.kind == kind) {
                return Ok(appointment_view(appt.id.clone(), &appt.record, &names));
            }
            if appt.record.status != AppointmentStatus::Scheduled || !is_after(&appt.record.start, self.db.clock.now()) {
                return Err(CoreError::Conflict {
                    code: ProblemCode::AppointmentNotChangeable,
                    detail: "Only an upcoming scheduled appointment can be cancelled or moved here; call the office.".into(),
                    current: None,
                });
            }
            let mut record = (*appt.record).clone();
            record.change_requested = Some(ChangeRequest { kind, at: rfc3339(self.db.clock.now()) });
            let updated = appt.replace(&record)?;
            let outbox = Outbox { db: self.db, events: self.events };
            let asked = PortalEvent::AppointmentChangeRequested {
                appointment_id: id.into(),
                patient_id: patient_id.to_string(),
                start: appt.record.start.clone(),
                kind,
                note: note.map(str::to_string),
            };
            let ops = vec![
                updated,
                self.audit_entry(caller, AuditAction::AppointmentChangeRequest, &patient_id, json!({"appointment": id, "kind": kind}))?,
            ];
            match outbox.transact(practice, ops, vec![asked]).await {
                Ok(()) => return Ok(appointment_view(appt.id.clone(), &record, &names)),
                Err(TableError::TransactionCanceled { .. } | TableError::ConditionFailed) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(contended())
    }

    /// Due recalls, each with the open slots that fit it.
    pub async fn recalls(&self, caller: &Caller, requested: Option<&str>) -> CoreResult<Vec<RecallView>> {
        let reads = self.reads();
        let practice = &caller.actor.practice;
        let patient_id = reads.patient_id(caller, requested).await?;
        let recalls = reads.records().for_patient::<Recall>(practice, &patient_id, &DateRange::all(), Order::OldestFirst, 50, None).await?;
        let due: Vec<Synced<Recall>> = recalls.records.into_iter().filter(|r| r.record.status == RecallStatus::Due).collect();
        let slots = if due.is_empty() { vec![] } else { self.open_slots(practice).await? };
        let names = self.providers.get(self.db, practice).await?;
        reads.audit(caller, &patient_id, AuditAction::RecallsRead).await?;
        let now = self.db.clock.now();
        Ok(due
            .into_iter()
            .map(|r| RecallView {
                slots: slots
                    .iter()
                    .filter(|s| fits(&s.record, &r.record, now))
                    .take(SLOTS_PER_RECALL)
                    .map(|s| SlotView {
                        id: s.id.clone(),
                        start: s.record.start.clone(),
                        length_minutes: s.record.length_minutes,
                        provider: ProviderNames::view(&names, &s.record.provider_id),
                    })
                    .collect(),
                kind: r.record.kind.clone(),
                due_date: r.record.due_date.clone(),
                id: r.id,
            })
            .collect())
    }

    /// The practice's open slots from today on, soonest first.
    async fn open_slots(&self, practice: &PracticeId) -> CoreResult<Vec<Synced<Slot>>> {
        let now = self.db.clock.now();
        let (from, to) = (rfc3339(now), rfc3339(now + SLOT_DAYS * 86_400));
        let range = DateRange::parse(Some(&from[..10]), Some(&to[..10]))?;
        Ok(self.reads().records().for_practice::<Slot>(practice, &range, 500, None).await?.records)
    }

    /// Books a due recall into an open slot that fits it.
    pub async fn book(&self, caller: &Caller, requested: Option<&str>, recall_id: &str, slot_id: &str) -> CoreResult<Booked> {
        let reads = self.reads();
        let practice = &caller.actor.practice;
        let patient_id = reads.patient_id(caller, requested).await?;
        for _ in 0..ATTEMPTS {
            let recall = reads.records().get_for_change::<Recall>(practice, recall_id).await?;
            let recall = recall.filter(|r| r.record.patient_id == patient_id).ok_or(CoreError::NotFound)?;
            if recall.record.status != RecallStatus::Due {
                // Booked by this very request before its answer was lost (a time-out, a dropped
                // connection): the same booking again, not a conflict the patient cannot resolve.
                if let Some(booked) = self.booked_by(practice, slot_id, &patient_id).await? {
                    return Ok(booked);
                }
                return Err(CoreError::Conflict {
                    code: ProblemCode::RecallNotDue,
                    detail: "This recall is already scheduled or no longer due.".into(),
                    current: None,
                });
            }
            let slot = reads.records().get_for_change::<Slot>(practice, slot_id).await?.ok_or(CoreError::NotFound)?;
            if !slot.is_open() {
                return match self.booked_by(practice, slot_id, &patient_id).await? {
                    Some(booked) => Ok(booked),
                    None => Err(slot_taken()),
                };
            }
            if !fits(&slot.record, &recall.record, self.db.clock.now()) {
                return Err(CoreError::Unprocessable {
                    code: ProblemCode::SlotUnfit,
                    detail: "This slot is not open for this kind of visit, or it has passed; choose another.".into(),
                });
            }
            let booking_id = format!("bk-{}", &crate::ids::new_id()[..20]);
            let appointment = Appointment {
                patient_id: patient_id.to_string(),
                provider_id: slot.record.provider_id.clone(),
                start: slot.record.start.clone(),
                length_minutes: slot.record.length_minutes,
                procedures: recall.record.kind.clone(),
                status: AppointmentStatus::Requested,
                confirmation: Confirmation::Unconfirmed,
                e_confirmation_pending: false,
                operatory: slot.record.operatory.clone(),
                portal_booking_id: None,
                change_requested: None,
            };
            let booking = PortalBookings::file(practice, &booking_id, slot_id, &appointment, self.db.clock.now())?;
            let mut scheduled = (*recall.record).clone();
            scheduled.status = RecallStatus::Scheduled;
            let outbox = Outbox { db: self.db, events: self.events };
            let booked = PortalEvent::AppointmentBooked {
                booking_id: booking_id.clone(),
                patient_id: patient_id.to_string(),
                recall_id: recall_id.into(),
                slot_id: slot_id.into(),
                provider_id: slot.record.provider_id.clone(),
                start: slot.record.start.clone(),
                length_minutes: slot.record.length_minutes,
            };
            let ops = vec![
                booking,
                recall.replace(&scheduled)?,
                slot.take(),
                self.audit_entry(
                    caller,
                    AuditAction::AppointmentBook,
                    &patient_id,
                    json!({"recall": recall_id, "slot": slot_id, "booking": booking_id}),
                )?,
            ];
            match outbox.transact(practice, ops, vec![booked]).await {
                Ok(()) => {
                    let names = self.providers.get(self.db, practice).await?;
                    return Ok(Booked { appointment: appointment_view(booking_id, &appointment, &names) });
                }
                Err(TableError::TransactionCanceled { failed }) if failed.contains(&0) => {
                    return match self.booked_by(practice, slot_id, &patient_id).await? {
                        Some(booked) => Ok(booked),
                        None => Err(slot_taken()),
                    };
                }
                // The recall or the slot changed since we read them: look again.
                Err(TableError::TransactionCanceled { .. }) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(contended())
    }

    /// The portal booking of `slot_id`, when `patient_id` holds it.
    async fn booked_by(&self, practice: &PracticeId, slot_id: &str, patient_id: &PatientId) -> CoreResult<Option<Booked>> {
        let bookings = PortalBookings { db: self.db };
        match bookings.of_slot(practice, slot_id).await? {
            Some((id, appointment)) if appointment.patient_id == *patient_id => {
                let names = self.providers.get(self.db, practice).await?;
                Ok(Some(Booked { appointment: appointment_view(id, &appointment, &names) }))
            }
            _ => Ok(None),
        }
    }

    /// The audit entry of a change, written in the change's own transaction.
    fn audit_entry(&self, caller: &Caller, action: AuditAction, patient_id: &PatientId, detail: Value) -> CoreResult<TxOp> {
        AuditLog { db: self.db }.entry(&caller.actor, action, patient_id, Outcome::Success, detail)
    }
}

fn slot_taken() -> CoreError {
    CoreError::Conflict { code: ProblemCode::SlotTaken, detail: "Someone has just booked this slot; choose another.".into(), current: None }
}

fn contended() -> CoreError {
    CoreError::Conflict { code: ProblemCode::Conflict, detail: "The appointment book kept changing; try again.".into(), current: None }
}
