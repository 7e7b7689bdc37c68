//! An appointment: when, with whom, what is planned, and where its confirmation stands.

use super::rules::{check_id, datetime, minutes, opt_text, sort_key_utc, text};
use super::{Entity, Placement, Record};
use crate::CoreResult;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AppointmentStatus {
    Scheduled,
    Complete,
    Broken,
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
}

impl Record for Appointment {
    const ENTITY: Entity = Entity::Appointments;

    fn check(&self) -> CoreResult<()> {
        check_id("patientId", &self.patient_id)?;
        check_id("providerId", &self.provider_id)?;
        datetime("start", &self.start)?;
        minutes("lengthMinutes", self.length_minutes)?;
        text("procedures", &self.procedures, 0, 500)?;
        opt_text("operatory", &self.operatory, 50)
    }

    fn placement(&self, _id: &str) -> Placement {
        Placement::Patient { patient_id: self.patient_id.clone(), date: sort_key_utc(&self.start) }
    }
}
