//! How a payment is stored: one item per payment in the practice's payments partition (newest
//! first for staff), indexed under the account it pays toward (the patient's history), and while
//! it is open (not yet approved, canceled or refunded) a marker in the one cross-practice
//! partition the reconciler reads. The marker is put and deleted in the same transaction as the
//! payment's state, so the two never disagree.

use crate::ids::PracticeId;
use crate::ports::{CardSummary, Cond, Item, ProcessorKind, TxOp};
use crate::sync::events::PaymentDetail;
use crate::table_keys;
use crate::{CoreError, CoreResult};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PaymentStatus {
    /// Recorded; the processor has not taken the money (yet).
    Pending,
    /// The processor took the money.
    Approved,
    /// The card was refused; the payer may try again (the processor may still approve it).
    Declined,
    /// Never paid, and now it cannot be (abandoned, or canceled).
    Canceled,
    /// All of it was given back.
    Refunded,
}

impl PaymentStatus {
    /// Open payments are the reconciler's to follow up.
    pub fn is_open(self) -> bool {
        matches!(self, PaymentStatus::Pending | PaymentStatus::Declined)
    }
}

/// Who paid.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", tag = "kind")]
pub enum Payer {
    /// A patient signed in to the portal (the principal id).
    Patient { id: String },
    /// Someone who paid without signing in.
    Guest,
}

impl Payer {
    pub fn patient_id(&self) -> Option<&str> {
        match self {
            Payer::Patient { id } => Some(id),
            Payer::Guest => None,
        }
    }
}

/// Where the payer's receipt stands (sent once per payment; see `receipt`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", tag = "state")]
pub enum ReceiptState {
    /// Nothing to send: the payment is not approved.
    NotDue,
    Due,
    Sending {
        since: i64,
    },
    Sent {
        at: i64,
    },
    Skipped {
        reason: String,
    },
    Failed {
        reason: String,
        attempts: u32,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Payment {
    pub id: String,
    pub status: PaymentStatus,
    pub amount_cents: i64,
    #[serde(default)]
    pub note: Option<String>,
    /// Whose payment it is (the patient the account is viewed as); `None` for a guest payment
    /// that matched no single patient, until staff assign it.
    pub patient_id: Option<String>,
    /// The account it pays toward (the patient's guarantor).
    pub account_id: Option<String>,
    pub payer: Payer,
    pub processor: ProcessorKind,
    #[serde(default)]
    pub processor_ref: Option<String>,
    #[serde(default)]
    pub card: Option<CardSummary>,
    #[serde(default)]
    pub decline_reason: Option<String>,
    #[serde(default)]
    pub refunded_cents: i64,
    pub created_at: i64,
    #[serde(default)]
    pub approved_at: Option<i64>,
    pub receipt: ReceiptState,
    /// What was given back, each refund once.
    #[serde(default)]
    pub refunds: Vec<Refund>,
    /// Who a guest said they were (for staff, to assign it when it matched no patient).
    #[serde(default)]
    pub guest: Option<GuestDetails>,
}

/// What a guest payer gave, and the proof that lets their page follow the payment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GuestDetails {
    pub first_name: String,
    pub last_name: String,
    pub birthdate: String,
    /// Where the receipt goes.
    pub email: Option<String>,
    /// SHA-256 of the start's idempotency key, a secret only the guest's page knows.
    pub key_hash: String,
}

/// One refund of a payment, as the processor confirmed it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Refund {
    /// The processor's id for it.
    pub processor_ref: String,
    pub amount_cents: i64,
    pub at: i64,
    /// The staff member who gave it.
    pub by: String,
}

impl Payment {
    /// A payment just started: pending, nothing from the processor yet. `patient` is whose it is
    /// and its account holder (`None` for a guest payment that matched no patient).
    pub fn started(
        now: i64,
        amount_cents: i64,
        note: Option<String>,
        patient: Option<(String, String)>,
        payer: Payer,
        processor: ProcessorKind,
        guest: Option<GuestDetails>,
    ) -> Payment {
        let (patient_id, account_id) = match patient {
            Some((p, a)) => (Some(p), Some(a)),
            None => (None, None),
        };
        Payment {
            id: crate::ids::new_payment_id(now),
            status: PaymentStatus::Pending,
            amount_cents,
            note,
            patient_id,
            account_id,
            payer,
            processor,
            processor_ref: None,
            card: None,
            decline_reason: None,
            refunded_cents: 0,
            created_at: now,
            approved_at: None,
            receipt: ReceiptState::NotDue,
            refunds: vec![],
            guest,
        }
    }
}

/// The detail of a payment event for the practice's system (`payment.received`, `.assigned`,
/// `.refunded`): ids and amounts only, never card data. The contract, written once.
pub fn event_detail(p: &Payment, amount_cents: i64, at: i64) -> PaymentDetail {
    PaymentDetail {
        payment_id: p.id.clone(),
        patient_id: p.patient_id.clone(),
        amount_cents,
        processor_ref: p.processor_ref.clone(),
        at: crate::clock::rfc3339(at),
    }
}

/// The payment's item, indexed under its account, at `version`.
pub fn item(practice: &PracticeId, p: &Payment, version: u64) -> CoreResult<Item> {
    let item =
        Item::new(table_keys::payments(practice), p.id.clone(), serde_json::to_value(p).map_err(CoreError::backend)?).with_version(version);
    Ok(match &p.account_id {
        Some(account) => item.with_gsi1(table_keys::account_payments(practice, account), p.id.clone()),
        None => item.with_gsi1(table_keys::unmatched_payments(practice), p.id.clone()),
    })
}

/// The open marker's key for the reconciler: `(pk, sk)`.
pub fn open_marker(practice: &PracticeId, id: &str) -> (String, String) {
    (table_keys::PAYMENTS_OPEN.to_string(), table_keys::open_payment(id, practice))
}

/// Puts the open marker (a new payment).
pub fn put_marker(practice: &PracticeId, id: &str) -> TxOp {
    let (pk, sk) = open_marker(practice, id);
    TxOp::Put(Item::new(pk, sk, serde_json::json!({})), Cond::Absent)
}

/// Deletes the open marker (the payment is settled for good).
pub fn delete_marker(practice: &PracticeId, id: &str) -> TxOp {
    let (pk, sk) = open_marker(practice, id);
    TxOp::Delete { pk, sk, cond: Cond::None }
}
