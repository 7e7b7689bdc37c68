//! A recall: the next visit of a kind (cleaning, perio) a patient is due for.

use super::rules::{bad, check_id, date, text};
use super::{Entity, Placement, Record};
use crate::CoreResult;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RecallStatus {
    Due,
    Scheduled,
    Completed,
    Inactive,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Recall {
    pub patient_id: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub due_date: String,
    pub status: RecallStatus,
    #[serde(default)]
    pub interval_months: Option<u32>,
}

impl Record for Recall {
    const ENTITY: Entity = Entity::Recalls;

    fn check(&self) -> CoreResult<()> {
        check_id("patientId", &self.patient_id)?;
        text("type", &self.kind, 1, 50)?;
        date("dueDate", &self.due_date)?;
        if self.interval_months.is_some_and(|m| !(1..=60).contains(&m)) {
            return Err(bad("intervalMonths", "1 to 60"));
        }
        Ok(())
    }

    fn placement(&self, _id: &str) -> Placement {
        Placement::Patient { patient_id: self.patient_id.clone(), date: self.due_date.clone() }
    }
}
