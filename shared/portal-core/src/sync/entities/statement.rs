//! A statement sent to an account's guarantor, with its PDF.

use super::file::{check_file, FileMeta};
use super::rules::{cents, check_id, date};
use super::{Entity, Placement, Record};
use crate::CoreResult;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Statement {
    pub guarantor_id: String,
    pub date: String,
    pub balance_cents: i64,
    pub file: FileMeta,
}

impl Record for Statement {
    const ENTITY: Entity = Entity::Statements;

    fn check(&self) -> CoreResult<()> {
        check_id("guarantorId", &self.guarantor_id)?;
        date("date", &self.date)?;
        cents("balanceCents", self.balance_cents)?;
        check_file(&self.file, &["application/pdf"])
    }

    fn placement(&self, _id: &str) -> Placement {
        Placement::Patient { patient_id: self.guarantor_id.clone(), date: self.date.clone() }
    }

    fn file(&self) -> Option<&FileMeta> {
        Some(&self.file)
    }
}
