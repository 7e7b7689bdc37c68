//! A saved treatment plan: its procedures with fee, insurance estimate and patient portion in
//! integer cents, which must add up exactly for every procedure.

use super::rules::{bad, cents, check_id, date, opt_text, text};
use super::{Entity, Placement, Record};
use crate::CoreResult;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TreatmentPlanStatus {
    Active,
    Inactive,
    Signed,
    Completed,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ProcedureStatus {
    Planned,
    Scheduled,
    Complete,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PlannedProcedure {
    pub cdt_code: String,
    pub description: String,
    #[serde(default)]
    pub tooth: Option<String>,
    #[serde(default)]
    pub surface: Option<String>,
    pub fee_cents: i64,
    pub insurance_estimate_cents: i64,
    pub patient_portion_cents: i64,
    #[serde(default)]
    pub priority: u32,
    pub status: ProcedureStatus,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TreatmentPlan {
    pub patient_id: String,
    pub heading: String,
    pub date: String,
    pub status: TreatmentPlanStatus,
    #[serde(default)]
    pub note: Option<String>,
    pub procedures: Vec<PlannedProcedure>,
}

/// Universal numbering: permanent teeth 1–32, primary teeth A–T.
fn is_tooth(t: &str) -> bool {
    t.parse::<u8>().is_ok_and(|n| (1..=32).contains(&n)) || (t.len() == 1 && ('A'..='T').contains(&t.chars().next().unwrap_or(' ')))
}

impl Record for TreatmentPlan {
    const ENTITY: Entity = Entity::TreatmentPlans;

    fn check(&self) -> CoreResult<()> {
        check_id("patientId", &self.patient_id)?;
        text("heading", &self.heading, 1, 100)?;
        date("date", &self.date)?;
        opt_text("note", &self.note, 2000)?;
        if self.procedures.is_empty() || self.procedures.len() > 100 {
            return Err(bad("procedures", "1 to 100 procedures"));
        }
        for p in &self.procedures {
            if !crate::code_systems::is_cdt(&p.cdt_code) {
                return Err(bad("procedures.cdtCode", "a CDT code such as D2740"));
            }
            text("procedures.description", &p.description, 1, 200)?;
            if p.tooth.as_deref().is_some_and(|t| !is_tooth(t)) {
                return Err(bad("procedures.tooth", "1–32 or A–T (universal numbering)"));
            }
            if p.surface.as_deref().is_some_and(|s| s.is_empty() || s.len() > 5 || !s.chars().all(|c| "MODBLFI".contains(c))) {
                return Err(bad("procedures.surface", "letters of M, O, D, B, L, F, I"));
            }
            for (f, v) in [
                ("feeCents", p.fee_cents),
                ("insuranceEstimateCents", p.insurance_estimate_cents),
                ("patientPortionCents", p.patient_portion_cents),
            ] {
                cents(&format!("procedures.{f}"), v)?;
                if v < 0 {
                    return Err(bad(&format!("procedures.{f}"), "not negative"));
                }
            }
            if p.insurance_estimate_cents + p.patient_portion_cents != p.fee_cents {
                return Err(bad("procedures.patientPortionCents", "the fee less the insurance estimate"));
            }
        }
        Ok(())
    }

    fn placement(&self, _id: &str) -> Placement {
        Placement::Patient { patient_id: self.patient_id.clone(), date: self.date.clone() }
    }
}
