//! The practice's side of payments: staff list them by status (unmatched guest payments apart),
//! open one, refund all or part of it through the processor (admins), and assign a guest payment
//! that matched no patient to the right one. A refund is asked of the processor first (with an
//! idempotency key, so a retry refunds once), then recorded with its `payment.refunded` event and
//! audit entry in one write; an assignment moves the payment to the patient's account with a
//! `payment.assigned` event for the practice's system.

use super::store::{self, Payment, PaymentStatus, Refund};
use super::use_cases::{processor_down, PaymentView, Payments};
use crate::audit::{Actor, AuditAction, Outcome};
use crate::clock::rfc3339;
use crate::ids::PracticeId;
use crate::ports::{Cond, PortError, Query, TableError, TxOp};
use crate::reads::{Listing, PageRequest};
use crate::sync::entities::Patient;
use crate::sync::events::PortalEvent;
use crate::sync::records::PatientRecords;
use crate::table_keys;
use crate::{CoreError, CoreResult, ProblemCode};
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::collections::BTreeMap;

const ATTEMPTS: usize = 8;

/// A payment as staff see it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OfficePayment {
    #[serde(flatten)]
    pub payment: PaymentView,
    /// Whose account it went to, by name (`None` for an unmatched guest payment).
    pub patient_name: Option<String>,
    /// `patient` (signed in) or `guest`.
    pub payer: &'static str,
    pub processor: crate::ports::ProcessorKind,
    pub processor_ref: Option<String>,
    pub refunds: Vec<RefundView>,
    /// Who a guest payer said they were (to find the patient an unmatched payment is for).
    pub guest: Option<GuestView>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GuestView {
    pub first_name: String,
    pub last_name: String,
    pub birthdate: String,
    pub email: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RefundView {
    pub processor_ref: String,
    pub amount_cents: i64,
    pub at: String,
    pub by: String,
}

/// Which payments the list shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OfficeFilter {
    All,
    Status(PaymentStatus),
    /// Guest payments that matched no patient (whatever their status).
    Unmatched,
}

impl OfficeFilter {
    pub fn parse(s: Option<&str>) -> CoreResult<Self> {
        Ok(match s.unwrap_or("") {
            "" | "all" => OfficeFilter::All,
            "pending" => OfficeFilter::Status(PaymentStatus::Pending),
            "approved" => OfficeFilter::Status(PaymentStatus::Approved),
            "declined" => OfficeFilter::Status(PaymentStatus::Declined),
            "canceled" => OfficeFilter::Status(PaymentStatus::Canceled),
            "refunded" => OfficeFilter::Status(PaymentStatus::Refunded),
            "unmatched" => OfficeFilter::Unmatched,
            _ => {
                return Err(CoreError::invalid(
                    ProblemCode::InvalidQuery,
                    "status: all, pending, approved, declined, canceled, refunded or unmatched.",
                ))
            }
        })
    }

    fn shows(self, p: &Payment) -> bool {
        match self {
            OfficeFilter::All | OfficeFilter::Unmatched => true,
            OfficeFilter::Status(s) => p.status == s,
        }
    }
}

/// `POST /v1/admin/payments/{id}/refund`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RefundRequest {
    pub amount_cents: i64,
    /// New for each refund the staff member means: the same one sent twice refunds once.
    pub idempotency_key: String,
}

impl Payments<'_> {
    fn office_view(&self, p: &Payment, names: &BTreeMap<String, String>) -> OfficePayment {
        OfficePayment {
            payment: PaymentView::from(p),
            patient_name: p.patient_id.as_ref().and_then(|id| names.get(id).cloned()),
            payer: match p.payer {
                store::Payer::Patient { .. } => "patient",
                store::Payer::Guest => "guest",
            },
            processor: p.processor,
            processor_ref: p.processor_ref.clone(),
            refunds: p
                .refunds
                .iter()
                .map(|r| RefundView {
                    processor_ref: r.processor_ref.clone(),
                    amount_cents: r.amount_cents,
                    at: rfc3339(r.at),
                    by: r.by.clone(),
                })
                .collect(),
            guest: p.guest.as_ref().map(|g| GuestView {
                first_name: g.first_name.clone(),
                last_name: g.last_name.clone(),
                birthdate: g.birthdate.clone(),
                email: g.email.clone(),
            }),
        }
    }

    async fn names(&self, practice: &PracticeId, payments: &[Payment]) -> CoreResult<BTreeMap<String, String>> {
        let mut names = BTreeMap::new();
        for id in payments.iter().filter_map(|p| p.patient_id.as_deref()) {
            if !names.contains_key(id) {
                if let Some(p) = (PatientRecords { db: self.db }).get::<Patient>(practice, id).await? {
                    names.insert(id.to_string(), p.record.display_name());
                }
            }
        }
        Ok(names)
    }

    /// The practice's payments, newest first, as `filter` picks them (a page looks at `limit`
    /// payments, so a filtered page may be short and still have a cursor). Audited: staff saw
    /// whose payments these are.
    pub async fn office_list(&self, actor: &Actor, filter: OfficeFilter, page: PageRequest) -> CoreResult<Listing<OfficePayment>> {
        let practice = &actor.practice;
        let q = match filter {
            OfficeFilter::Unmatched => Query::on_gsi1(table_keys::unmatched_payments(practice)),
            _ => Query::new(table_keys::payments(practice)),
        };
        let found = self.db.table.query(q.newest_first().limit(page.limit).after(page.cursor)).await?;
        let mut payments = Vec::with_capacity(found.items.len());
        for item in &found.items {
            let p: Payment = item.parse()?;
            if filter.shows(&p) {
                payments.push(p);
            }
        }
        let ids: Vec<&str> = payments.iter().filter_map(|p| p.patient_id.as_deref()).collect();
        self.audit().patients_listed(actor, AuditAction::PaymentsListRead, &ids).await?;
        let names = self.names(practice, &payments).await?;
        Ok(Listing { items: payments.iter().map(|p| self.office_view(p, &names)).collect(), next_cursor: found.cursor })
    }

    /// One payment, for staff; audited as a read of its patient's data.
    pub async fn office_get(&self, actor: &Actor, id: &str) -> CoreResult<OfficePayment> {
        let (payment, _) = self.load(&actor.practice, id).await?.ok_or(CoreError::NotFound)?;
        self.audit().phi_read(actor, payment.patient_id.as_deref().unwrap_or("unmatched"), AuditAction::PaymentRead).await?;
        let names = self.names(&actor.practice, std::slice::from_ref(&payment)).await?;
        Ok(self.office_view(&payment, &names))
    }

    /// Gives back part or all of an approved payment through its processor.
    pub async fn refund(&self, actor: &Actor, id: &str, req: RefundRequest) -> CoreResult<OfficePayment> {
        let practice = &actor.practice;
        let (payment, _) = self.load(practice, id).await?.ok_or(CoreError::NotFound)?;
        let key = &req.idempotency_key;
        if !(8..=64).contains(&key.len()) || !key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') {
            return Err(CoreError::invalid(
                ProblemCode::IdempotencyKeyInvalid,
                "idempotencyKey: 8 to 64 letters, digits, '-' or '_', new for each refund.",
            ));
        }
        let (PaymentStatus::Approved, Some(processor_ref)) = (payment.status, payment.processor_ref.clone()) else {
            return Err(CoreError::Unprocessable {
                code: ProblemCode::PaymentNotRefundable,
                detail: "Only an approved payment can be refunded.".into(),
            });
        };
        let left = payment.amount_cents - payment.refunded_cents;
        if req.amount_cents < 1 || req.amount_cents > left {
            return Err(CoreError::invalid(
                ProblemCode::RefundInvalid,
                format!("Refund between $0.01 and {} (what is left of the payment).", super::dollars(left)),
            ));
        }
        let setup = self.setups().get(practice).await?;
        let processor =
            self.processors.get(payment.processor).ok_or_else(|| CoreError::Backend("the payment's processor is gone".into()))?;
        let account = self.setups().account(practice, &setup).await?;
        let refund_ref =
            processor.refund(&account, &processor_ref, req.amount_cents, &format!("{id}-{key}")).await.map_err(|e| match e {
                PortError::Rejected(why) => CoreError::Unprocessable {
                    code: ProblemCode::RefundRefused,
                    detail: format!("The processor refused the refund: {why}"),
                },
                other => processor_down(other),
            })?;
        let refund = Refund { processor_ref: refund_ref, amount_cents: req.amount_cents, at: self.db.clock.now(), by: actor.id.clone() };
        let payment = self.record_refund(actor, id, refund).await?;
        let names = self.names(practice, std::slice::from_ref(&payment)).await?;
        Ok(self.office_view(&payment, &names))
    }

    /// Records a refund the processor made (once, however often it is recorded).
    async fn record_refund(&self, actor: &Actor, id: &str, refund: Refund) -> CoreResult<Payment> {
        let practice = &actor.practice;
        for _ in 0..ATTEMPTS {
            let (mut payment, version) = self.load(practice, id).await?.ok_or(CoreError::NotFound)?;
            if payment.refunds.iter().any(|r| r.processor_ref == refund.processor_ref) {
                return Ok(payment);
            }
            payment.refunded_cents += refund.amount_cents;
            payment.refunds.push(refund.clone());
            if payment.refunded_cents >= payment.amount_cents {
                payment.status = PaymentStatus::Refunded;
            }
            let refunded = PortalEvent::PaymentRefunded {
                payment: store::event_detail(&payment, refund.amount_cents, refund.at),
                refund_ref: refund.processor_ref.clone(),
            };
            let subject = payment.patient_id.clone().unwrap_or_else(|| "unmatched".into());
            let ops = vec![
                TxOp::Put(store::item(practice, &payment, version + 1)?, Cond::Version(version)),
                self.audit().entry(
                    actor,
                    AuditAction::PaymentRefund,
                    &subject,
                    Outcome::Success,
                    json!({ "payment": id, "amountCents": refund.amount_cents }),
                )?,
            ];
            match self.outbox().transact(practice, ops, vec![refunded]).await {
                Ok(()) => return Ok(payment),
                Err(TableError::TransactionCanceled { failed }) if !failed.is_empty() => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(CoreError::Backend("the payment kept changing".into()))
    }

    /// Puts a guest payment that matched no patient on `patient_id`'s account.
    pub async fn assign(&self, actor: &Actor, id: &str, patient_id: &str) -> CoreResult<OfficePayment> {
        let practice = &actor.practice;
        let patient = (PatientRecords { db: self.db }).get::<Patient>(practice, patient_id).await?.ok_or(CoreError::NotFound)?;
        for _ in 0..ATTEMPTS {
            let (mut payment, version) = self.load(practice, id).await?.ok_or(CoreError::NotFound)?;
            if payment.patient_id.is_some() {
                return Err(CoreError::Conflict {
                    code: ProblemCode::PaymentAssigned,
                    detail: "This payment is on a patient's account already.".into(),
                    current: None,
                });
            }
            payment.patient_id = Some(patient.id.clone());
            payment.account_id = Some(patient.record.guarantor(&patient.id).to_string());
            let ops = vec![
                TxOp::Put(store::item(practice, &payment, version + 1)?, Cond::Version(version)),
                self.audit().entry(actor, AuditAction::PaymentAssign, &patient.id, Outcome::Success, json!({ "payment": id }))?,
            ];
            // The practice's system posts approved payments: it hears whose this one is.
            let mut events = vec![];
            if payment.status == PaymentStatus::Approved {
                let detail = store::event_detail(&payment, payment.amount_cents - payment.refunded_cents, self.db.clock.now());
                events.push(PortalEvent::PaymentAssigned(detail));
            }
            match self.outbox().transact(practice, ops, events).await {
                Ok(()) => {
                    let names = BTreeMap::from([(patient.id.clone(), patient.record.display_name())]);
                    return Ok(self.office_view(&payment, &names));
                }
                Err(TableError::TransactionCanceled { failed }) if !failed.is_empty() => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(CoreError::Backend("the payment kept changing".into()))
    }
}
