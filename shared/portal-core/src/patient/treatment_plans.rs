//! ModuleTreatmentPlan: a patient's saved treatment plans, newest first, each with its procedures
//! and totals. Each procedure's insurance estimate and patient portion add up to its fee (checked
//! when synced), so the totals, summed in integer cents, add up exactly too.

use crate::audit::AuditAction;
use crate::ports::Db;
use crate::reads::{Caller, Listing, PageRequest, Reads};
use crate::sync::entities::{PlannedProcedure, ProcedureStatus, TreatmentPlan, TreatmentPlanStatus};
use crate::sync::records::{DateRange, Order};
use crate::CoreResult;
use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PlanView {
    pub id: String,
    pub heading: String,
    pub date: String,
    pub status: TreatmentPlanStatus,
    pub note: Option<String>,
    pub procedures: Vec<ProcedureView>,
    pub totals: Totals,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ProcedureView {
    pub cdt_code: String,
    pub description: String,
    pub tooth: Option<String>,
    pub surface: Option<String>,
    pub fee_cents: i64,
    pub insurance_estimate_cents: i64,
    pub patient_portion_cents: i64,
    pub priority: u32,
    pub status: ProcedureStatus,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Totals {
    pub fee_cents: i64,
    pub insurance_estimate_cents: i64,
    pub patient_portion_cents: i64,
}

/// A plan's totals: each column summed over its procedures.
pub fn totals(procedures: &[PlannedProcedure]) -> Totals {
    procedures.iter().fold(Totals::default(), |t, p| Totals {
        fee_cents: t.fee_cents + p.fee_cents,
        insurance_estimate_cents: t.insurance_estimate_cents + p.insurance_estimate_cents,
        patient_portion_cents: t.patient_portion_cents + p.patient_portion_cents,
    })
}

fn view(id: String, plan: &TreatmentPlan) -> PlanView {
    let totals = totals(&plan.procedures);
    let mut procedures: Vec<ProcedureView> = plan
        .procedures
        .iter()
        .map(|p| ProcedureView {
            cdt_code: p.cdt_code.clone(),
            description: p.description.clone(),
            tooth: p.tooth.clone(),
            surface: p.surface.clone(),
            fee_cents: p.fee_cents,
            insurance_estimate_cents: p.insurance_estimate_cents,
            patient_portion_cents: p.patient_portion_cents,
            priority: p.priority,
            status: p.status,
        })
        .collect();
    // In the order the practice would do them: by priority (0 = none, last), as the plan lists them.
    procedures.sort_by_key(|p| if p.priority == 0 { u32::MAX } else { p.priority });
    PlanView {
        id,
        heading: plan.heading.clone(),
        date: plan.date.clone(),
        status: plan.status,
        note: plan.note.clone(),
        procedures,
        totals,
    }
}

pub struct TreatmentPlans<'a> {
    pub db: Db<'a>,
}

impl TreatmentPlans<'_> {
    pub async fn list(&self, caller: &Caller, requested: Option<&str>, page: PageRequest) -> CoreResult<Listing<PlanView>> {
        let reads = Reads { db: self.db };
        let patient_id = reads.patient_id(caller, requested).await?;
        let found = reads
            .records()
            .for_patient::<TreatmentPlan>(
                &caller.actor.practice,
                &patient_id,
                &DateRange::all(),
                Order::NewestFirst,
                page.limit,
                page.cursor,
            )
            .await?;
        reads.audit(caller, &patient_id, AuditAction::TreatmentPlansRead).await?;
        Ok(Listing { items: found.records.into_iter().map(|p| view(p.id, &p.record)).collect(), next_cursor: found.cursor })
    }
}
