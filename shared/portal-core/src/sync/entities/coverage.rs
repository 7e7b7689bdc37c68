//! A patient's dental insurance as the practice's system has it: the plan that pays (its payer,
//! its kind and name), the member id, whose plan it is (the subscriber: the patient, or a family
//! member they are covered through) and its order (primary, secondary). The care summary lists
//! it; the C-CDA carries it as the Payers section.

use super::rules::{bad, check_id, date, opt_text, text};
use super::{Entity, Placement, Record};
use crate::CoreResult;
use serde::{Deserialize, Serialize};

/// The kind of plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PlanType {
    Ppo,
    Hmo,
    Indemnity,
    Medicaid,
    Other,
}

impl PlanType {
    /// The C-CDA codes: Health Insurance Type (X12), then Source of Payment Typology.
    pub fn codes(self) -> ((&'static str, &'static str), (&'static str, &'static str)) {
        match self {
            PlanType::Ppo => (("PR", "Preferred Provider Organization (PPO)"), ("512", "Commercial Managed Care - PPO")),
            PlanType::Hmo => (("HM", "Health Maintenance Organization (HMO)"), ("511", "Commercial Managed Care - HMO")),
            PlanType::Indemnity => (("C1", "Commercial"), ("52", "Private Health Insurance - Indemnity")),
            PlanType::Medicaid => (("MC", "Medicaid"), ("2", "MEDICAID")),
            PlanType::Other => (("OT", "Other"), ("59", "Other Private Insurance")),
        }
    }
}

/// How the patient is related to the subscriber.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SubscriberRelationship {
    #[serde(rename = "self")]
    Myself,
    Spouse,
    Child,
    OtherDependent,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CoverageOrder {
    Primary,
    Secondary,
    Tertiary,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Coverage {
    pub patient_id: String,
    /// Who pays, as the card names them ("Lakeshore Mutual Dental").
    pub payer_name: String,
    /// The payer's electronic (EDI) id, when the practice has it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payer_id: Option<String>,
    pub plan_type: PlanType,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan_name: Option<String>,
    pub member_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group_number: Option<String>,
    pub relationship: SubscriberRelationship,
    /// The subscriber's name when it is not the patient.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subscriber_name: Option<String>,
    pub order: CoverageOrder,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_date: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_date: Option<String>,
}

impl Record for Coverage {
    const ENTITY: Entity = Entity::Coverages;

    fn check(&self) -> CoreResult<()> {
        check_id("patientId", &self.patient_id)?;
        text("payerName", &self.payer_name, 1, 100)?;
        opt_text("payerId", &self.payer_id, 40)?;
        opt_text("planName", &self.plan_name, 100)?;
        text("memberId", &self.member_id, 1, 40)?;
        opt_text("groupNumber", &self.group_number, 40)?;
        opt_text("subscriberName", &self.subscriber_name, 100)?;
        if self.relationship == SubscriberRelationship::Myself && self.subscriber_name.is_some() {
            return Err(bad("subscriberName", "only when the patient is covered through someone else"));
        }
        if let Some(d) = &self.start_date {
            date("startDate", d)?;
        }
        if let Some(d) = &self.end_date {
            date("endDate", d)?;
        }
        Ok(())
    }

    fn placement(&self, _id: &str) -> Placement {
        // Sorted by when it starts; one without a start sorts first.
        Placement::Patient { patient_id: self.patient_id.clone(), date: self.start_date.clone().unwrap_or_else(|| "0000-00-00".into()) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(extra: serde_json::Value) -> CoreResult<()> {
        let mut body = serde_json::json!({"patientId": "pat-1", "payerName": "Lakeshore Mutual Dental", "planType": "ppo", "memberId": "LMD1",
            "relationship": "self", "order": "primary"});
        body.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        serde_json::from_value::<Coverage>(body)
            .map_err(|e| crate::CoreError::invalid(crate::ProblemCode::FieldInvalid, e.to_string()))?
            .check()
    }

    #[test]
    fn a_plan_names_its_payer_member_and_whose_it_is() {
        assert!(plan(serde_json::json!({})).is_ok());
        assert!(plan(serde_json::json!({"relationship": "child", "subscriberName": "Alex Morgan"})).is_ok());
        assert!(plan(serde_json::json!({"subscriberName": "Alex Morgan"})).is_err(), "one's own plan has no other subscriber");
        assert!(plan(serde_json::json!({"memberId": ""})).is_err());
        assert!(plan(serde_json::json!({"planType": "vision"})).is_err());
        assert!(plan(serde_json::json!({"startDate": "2021-13-01"})).is_err());
    }
}
