//! A document or image from the practice's imaging folders; only folders shared to the portal are
//! ever shown to the patient.

use super::file::{check_file, FileMeta, FILE_TYPES};
use super::rules::{check_id, date, text};
use super::{Entity, Placement, Record};
use crate::CoreResult;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Document {
    pub patient_id: String,
    pub folder: String,
    pub shared_to_portal: bool,
    pub title: String,
    pub date: String,
    pub file: FileMeta,
}

impl Record for Document {
    const ENTITY: Entity = Entity::Documents;

    fn check(&self) -> CoreResult<()> {
        check_id("patientId", &self.patient_id)?;
        text("folder", &self.folder, 1, 100)?;
        text("title", &self.title, 1, 200)?;
        date("date", &self.date)?;
        check_file(&self.file, &FILE_TYPES)
    }

    fn placement(&self, _id: &str) -> Placement {
        Placement::Patient { patient_id: self.patient_id.clone(), date: self.date.clone() }
    }

    fn file(&self) -> Option<&FileMeta> {
        Some(&self.file)
    }
}
