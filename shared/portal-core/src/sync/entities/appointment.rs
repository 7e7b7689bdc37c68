//! An appointment: when, with whom, what is planned, and where its confirmation stands.

use super::rules::{bad, check_id, datetime, minutes, opt_text, sort_key_utc, text};
use super::{Entity, Placement, Record};
use crate::CoreResult;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AppointmentStatus {
    Scheduled,
    Complete,
    Broken,
    /// Booked by a patient through the portal (a recall slot); the practice's system has not
    /// scheduled it yet. Only the portal writes these (see `patient::appointments`).
    Requested,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Confirmation {
    #[default]
    Unconfirmed,
    Confirmed,
    LeftMessage,
    Declined,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Appointment {
    pub patient_id: String,
    pub provider_id: String,
    /// RFC 3339 with the practice's offset.
    pub start: String,
    pub length_minutes: u32,
    #[serde(default)]
    pub procedures: String,
    pub status: AppointmentStatus,
    #[serde(default)]
    pub confirmation: Confirmation,
    #[serde(default)]
    pub e_confirmation_pending: bool,
    #[serde(default)]
    pub operatory: Option<String>,
    /// The portal booking this appointment fulfils (from the `appointment.booked` event): once
    /// the system sends it, the booking is no longer listed beside it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub portal_booking_id: Option<String>,
    /// The patient asked through the portal to cancel or reschedule it (the portal's own field,
    /// like `requested`): it lasts until the practice's system sends the appointment again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub change_requested: Option<ChangeRequest>,
}

/// What a patient asked the office to do with an appointment, and when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChangeRequest {
    pub kind: ChangeKind,
    /// RFC 3339, UTC.
    pub at: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ChangeKind {
    Cancel,
    Reschedule,
}

impl Record for Appointment {
    const ENTITY: Entity = Entity::Appointments;

    fn check(&self) -> CoreResult<()> {
        check_id("patientId", &self.patient_id)?;
        check_id("providerId", &self.provider_id)?;
        datetime("start", &self.start)?;
        minutes("lengthMinutes", self.length_minutes)?;
        if self.status == AppointmentStatus::Requested {
            return Err(bad("status", "scheduled, complete or broken (requested is the portal's own)"));
        }
        text("procedures", &self.procedures, 0, 500)?;
        if let Some(b) = &self.portal_booking_id {
            check_id("portalBookingId", b)?;
        }
        if self.change_requested.is_some() {
            return Err(bad("changeRequested", "the portal's own (a patient's request to cancel or reschedule)"));
        }
        opt_text("operatory", &self.operatory, 50)
    }

    fn placement(&self, _id: &str) -> Placement {
        Placement::Patient { patient_id: self.patient_id.clone(), date: sort_key_utc(&self.start) }
    }
}
