//! Every event the portal tells the practice's system, with its detail: the contract the system
//! builds on (`GET /v1/sync/events` hands them out as `{id, type, at, detail}`; the README's
//! table and the OpenAPI enum list them, and tests hold both to this list). Details carry ids, amounts and times; the one
//! exception is what a patient asked to change about how the office reaches them, which the office
//! needs to act on. A new event is a new variant here; a changed field is a change of contract.

use super::entities::ChangeKind;
use crate::{CoreError, CoreResult};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// What a patient asked to change about how the office reaches them; a field left out is not
/// changed (the request's body, and the detail of [`PortalEvent::ContactChanged`]).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ContactChange {
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "crate::text::present")]
    pub email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "crate::text::present")]
    pub mobile_phone: Option<String>,
    /// Whether the office may email them (WebMail notifications, invites, receipts).
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "crate::text::present")]
    pub email_notices: Option<bool>,
    /// `en` or `es`.
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "crate::text::present")]
    pub preferred_language: Option<String>,
}

/// An online payment as the practice's system posts it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PaymentDetail {
    pub payment_id: String,
    /// `None` for a guest payment that matched no patient (until `payment.assigned` names one).
    pub patient_id: Option<String>,
    pub amount_cents: i64,
    /// The processor's id of the charge.
    pub processor_ref: Option<String>,
    /// RFC 3339.
    pub at: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", content = "detail", rename_all_fields = "camelCase")]
pub enum PortalEvent {
    /// A patient set a new password (changed it, or through a reset link).
    #[serde(rename = "portal.patient.password_changed")]
    PasswordChanged { patient_id: String },
    /// A patient asked to change their email, mobile phone, email notices or language.
    #[serde(rename = "patient.contact_changed")]
    ContactChanged { patient_id: String, changes: ContactChange },
    #[serde(rename = "appointment.confirmed")]
    AppointmentConfirmed { appointment_id: String, patient_id: String, start: String },
    /// A patient asked the office to cancel or move an appointment.
    #[serde(rename = "appointment.change_requested")]
    AppointmentChangeRequested { appointment_id: String, patient_id: String, start: String, kind: ChangeKind, note: Option<String> },
    /// A due recall booked into an open slot.
    #[serde(rename = "appointment.booked")]
    AppointmentBooked {
        booking_id: String,
        patient_id: String,
        recall_id: String,
        slot_id: String,
        provider_id: String,
        start: String,
        length_minutes: u32,
    },
    /// A WebMail message sent (either way).
    #[serde(rename = "webmail.sent")]
    WebmailSent { message_id: String, patient_id: String },
    /// A patient's WebMail message to the office.
    #[serde(rename = "webmail.received")]
    WebmailReceived { message_id: String, thread_id: String, patient_id: String },
    /// An online payment approved by the processor.
    #[serde(rename = "payment.received")]
    PaymentReceived(PaymentDetail),
    /// An approved guest payment put on a patient's account by staff.
    #[serde(rename = "payment.assigned")]
    PaymentAssigned(PaymentDetail),
    /// A refund of an online payment (`amountCents`: this refund).
    #[serde(rename = "payment.refunded")]
    PaymentRefunded {
        #[serde(flatten)]
        payment: PaymentDetail,
        refund_ref: String,
    },
}

impl PortalEvent {
    /// Its type and detail as the outbox stores and hands them out.
    pub fn into_parts(self) -> CoreResult<(String, Value)> {
        let mut tagged = serde_json::to_value(&self).map_err(CoreError::backend)?;
        let kind = tagged["type"].as_str().unwrap_or_default().to_string();
        Ok((kind, tagged["detail"].take()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn payment() -> PaymentDetail {
        PaymentDetail { payment_id: "p1".into(), patient_id: None, amount_cents: 1, processor_ref: None, at: "t".into() }
    }

    /// One of each event. A new variant makes the `match` below fail to compile until it is added
    /// here (and so to the README check).
    fn one_of_each() -> Vec<PortalEvent> {
        let s = || String::from("x");
        let all = vec![
            PortalEvent::PasswordChanged { patient_id: s() },
            PortalEvent::ContactChanged { patient_id: s(), changes: ContactChange { email: Some(s()), ..Default::default() } },
            PortalEvent::AppointmentConfirmed { appointment_id: s(), patient_id: s(), start: s() },
            PortalEvent::AppointmentChangeRequested {
                appointment_id: s(),
                patient_id: s(),
                start: s(),
                kind: ChangeKind::Cancel,
                note: None,
            },
            PortalEvent::AppointmentBooked {
                booking_id: s(),
                patient_id: s(),
                recall_id: s(),
                slot_id: s(),
                provider_id: s(),
                start: s(),
                length_minutes: 30,
            },
            PortalEvent::WebmailSent { message_id: s(), patient_id: s() },
            PortalEvent::WebmailReceived { message_id: s(), thread_id: s(), patient_id: s() },
            PortalEvent::PaymentReceived(payment()),
            PortalEvent::PaymentAssigned(payment()),
            PortalEvent::PaymentRefunded { payment: payment(), refund_ref: s() },
        ];
        for e in &all {
            match e {
                PortalEvent::PasswordChanged { .. }
                | PortalEvent::ContactChanged { .. }
                | PortalEvent::AppointmentConfirmed { .. }
                | PortalEvent::AppointmentChangeRequested { .. }
                | PortalEvent::AppointmentBooked { .. }
                | PortalEvent::WebmailSent { .. }
                | PortalEvent::WebmailReceived { .. }
                | PortalEvent::PaymentReceived(_)
                | PortalEvent::PaymentAssigned(_)
                | PortalEvent::PaymentRefunded { .. } => {}
            }
        }
        all
    }

    /// The README's table of events (`| \`type\` | \`field\`, … |` rows) is this list: every event
    /// with exactly its detail's fields, and nothing else.
    #[test]
    fn the_readme_lists_every_event_with_its_fields() {
        let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md")).unwrap();
        let section = readme.split("### Events to the practice's system").nth(1).expect("the README has the events section");
        let listed: Vec<(String, Vec<String>)> = section
            .lines()
            .skip_while(|l| !l.starts_with('|'))
            .take_while(|l| l.starts_with('|'))
            .skip(2)
            .map(|row| {
                let cells: Vec<&str> = row.split('|').map(str::trim).collect();
                let fields = cells[2].split(", ").map(|f| f.trim_matches('`').to_string()).collect();
                (cells[1].trim_matches('`').to_string(), fields)
            })
            .collect();
        let ours: Vec<(String, Vec<String>)> = one_of_each()
            .into_iter()
            .map(|e| {
                let (kind, detail) = e.into_parts().unwrap();
                let mut fields: Vec<String> = detail.as_object().unwrap().keys().cloned().collect();
                fields.sort();
                (kind, fields)
            })
            .collect();
        let mut listed_sorted = listed.clone();
        for (_, f) in &mut listed_sorted {
            f.sort();
        }
        assert_eq!(listed_sorted, ours, "README rows (in this order): {listed:?}");
    }

    /// The API contract's enum of event types is the same list.
    #[test]
    fn openapi_lists_every_event_type() {
        let spec = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../infra/openapi.yaml")).unwrap();
        let line = spec.lines().find(|l| l.trim_start().starts_with("events: { type: array")).expect("the events' schema");
        let enumerated = line.split("enum: [").nth(1).and_then(|rest| rest.split(']').next()).expect("the type's enum");
        let listed: Vec<&str> = enumerated.split(", ").collect();
        let ours: Vec<String> = one_of_each().into_iter().map(|e| e.into_parts().unwrap().0).collect();
        assert_eq!(listed, ours);
    }

    #[test]
    fn a_detail_is_the_fields_as_sent() {
        let (kind, detail) = PortalEvent::PaymentRefunded { payment: payment(), refund_ref: "re_1".into() }.into_parts().unwrap();
        assert_eq!(kind, "payment.refunded");
        assert_eq!(
            detail,
            serde_json::json!({"paymentId": "p1", "patientId": null, "amountCents": 1, "processorRef": null, "at": "t", "refundRef": "re_1"})
        );
    }
}
