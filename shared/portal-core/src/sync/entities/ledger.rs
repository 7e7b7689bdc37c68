//! One line of an account's ledger. Amounts are integer cents end to end; a payment, an
//! adjustment or an insurance payment is negative, a charge or a pending estimate is not.

use super::rules::{bad, cents, check_id, date, text};
use super::{Entity, Placement, Record};
use crate::CoreResult;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LedgerKind {
    Charge,
    Payment,
    Adjustment,
    InsurancePayment,
    InsuranceEstimate,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LedgerEntry {
    /// Whose visit it was.
    pub patient_id: String,
    /// Whose account it is on (the patient's own when absent).
    #[serde(default)]
    pub guarantor_id: Option<String>,
    pub date: String,
    pub kind: LedgerKind,
    pub amount_cents: i64,
    pub description: String,
    #[serde(default)]
    pub procedure_code: Option<String>,
    #[serde(default)]
    pub provider_id: Option<String>,
    /// The portal payment this line posts (a `payment.received` event's `paymentId`): the
    /// account stops showing that payment as being posted.
    #[serde(default)]
    pub portal_payment_id: Option<String>,
}

impl Record for LedgerEntry {
    const ENTITY: Entity = Entity::Ledger;

    fn check(&self) -> CoreResult<()> {
        check_id("patientId", &self.patient_id)?;
        if let Some(g) = &self.guarantor_id {
            check_id("guarantorId", g)?;
        }
        date("date", &self.date)?;
        cents("amountCents", self.amount_cents)?;
        if matches!(self.kind, LedgerKind::Charge | LedgerKind::InsuranceEstimate) && self.amount_cents < 0 {
            return Err(bad("amountCents", "a charge or estimate is not negative"));
        }
        text("description", &self.description, 1, 200)?;
        if self.portal_payment_id.as_deref().is_some_and(|id| !crate::ids::is_payment_id(id)) {
            return Err(bad("portalPaymentId", "the paymentId of a payment.received event"));
        }
        if self.procedure_code.as_deref().is_some_and(|c| !crate::code_systems::is_cdt(c)) {
            return Err(bad("procedureCode", "a CDT code such as D1110"));
        }
        Ok(())
    }

    /// On the account's partition: the account module reads a family's ledger in one query.
    fn placement(&self, _id: &str) -> Placement {
        let account = self.guarantor_id.as_ref().unwrap_or(&self.patient_id);
        Placement::Patient { patient_id: account.clone(), date: self.date.clone() }
    }
}
