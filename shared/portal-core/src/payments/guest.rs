//! Pay without logging in (Open Dental's "Pay Now"): someone gives a patient's first name, last
//! name and birthdate, an amount and, for the receipt, an email. The payment goes to the one patient
//! those details match, or — when they match none, or several — is recorded *unmatched* for staff
//! to assign or refund. Which it was is never told: every well-formed request gets the same answer
//! (the payment without whose it is, and the card step) after the same work (the same lookup and
//! the same write either way).
//!
//! The guest's page follows its payment with the start's idempotency key, a random secret only that
//! page knows (the payment keeps its SHA-256); a wrong key is the same 404 as no payment. Starts
//! and card attempts are limited per address (card testing is what guest checkouts attract), and
//! each is audited with the address.

use super::store::{GuestDetails, Payer, Payment};
use super::use_cases::{check_start, CardResult, PaymentView, Payments, StartRequest, Started};
use crate::audit::{Actor, AuditAction};
use crate::ids::{constant_time_eq, PracticeId};
use crate::practice::settings::SettingsRepo;
use crate::quota::Quota;
use crate::sync::entities::Patient;
use crate::sync::records::PatientRecords;
use crate::sync::roster::Roster;
use crate::table_keys;
use crate::{CoreError, CoreResult, ProblemCode};
use serde::Deserialize;
use sha2::{Digest, Sha256};

/// Guest payments started per address per hour.
pub const STARTS_PER_ADDRESS: Quota = Quota { name: "guest-payments", limit: 10, window_seconds: 3600 };
/// Cards tried on guest payments per address per hour.
pub const CARDS_PER_ADDRESS: Quota = Quota { name: "guest-cards", limit: 15, window_seconds: 3600 };
/// A guest's key is their page's only proof: long enough to be a secret.
const KEY_MIN: usize = 32;
const NAME_MAX: usize = 100;

/// `POST /v1/public/payments`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GuestStart {
    pub practice: String,
    pub first_name: String,
    pub last_name: String,
    pub birthdate: String,
    #[serde(default)]
    pub email: Option<String>,
    pub amount_cents: i64,
    #[serde(default)]
    pub note: Option<String>,
    /// 32 to 64 random characters made by the guest's page: the same start sent twice makes one
    /// payment, and the page follows the payment with it.
    pub idempotency_key: String,
}

/// `POST /v1/public/payments/{id}/status` and `…/card`: the practice, the guest's key, and for
/// the card step the processor's token.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GuestProof {
    pub practice: String,
    pub idempotency_key: String,
    #[serde(default)]
    pub token: Option<String>,
}

fn key_hash(key: &str) -> String {
    hex::encode(Sha256::digest(key.as_bytes()))
}

/// What a guest sees of a payment: never whose it is.
fn guest_view(p: &Payment) -> PaymentView {
    PaymentView { patient_id: None, note: None, ..PaymentView::from(p) }
}

fn name(field: &str, v: &str) -> CoreResult<String> {
    let v = v.trim();
    if v.is_empty() || v.chars().count() > NAME_MAX || !crate::text::is_plain_text(v, false) {
        return Err(CoreError::invalid(ProblemCode::FieldInvalid, format!("{field}: one line of 1 to {NAME_MAX} characters.")));
    }
    Ok(v.to_string())
}

fn practice_of(id: &str) -> CoreResult<PracticeId> {
    PracticeId::parse(id)
        .ok_or_else(|| CoreError::invalid(ProblemCode::PracticeInvalid, "practice: the id in the practice's portal address."))
}

impl Payments<'_> {
    /// Starts a guest payment; answers it (without whose it is) and its card step.
    pub async fn start_guest(&self, source_ip: Option<&str>, req: GuestStart) -> CoreResult<Started> {
        let practice = &practice_of(&req.practice)?;
        let settings = SettingsRepo { db: self.db }.get(practice).await?.ok_or(CoreError::NotFound)?;
        let actor = Actor::anonymous(practice, source_ip);
        let first_name = name("firstName", &req.first_name)?;
        let last_name = name("lastName", &req.last_name)?;
        let birthdate = crate::sync::entities::rules::date("birthdate", req.birthdate.trim())?;
        if birthdate > time::OffsetDateTime::from_unix_timestamp(self.db.clock.now()).map(|t| t.date()).unwrap_or(birthdate) {
            return Err(CoreError::invalid(ProblemCode::FieldInvalid, "birthdate: a date in the past."));
        }
        let email = match req.email.as_deref().map(str::trim).filter(|e| !e.is_empty()) {
            Some(e) => Some(crate::text::check_email(e, "Email")?),
            None => None,
        };
        if req.idempotency_key.len() < KEY_MIN {
            return Err(CoreError::invalid(
                ProblemCode::IdempotencyKeyInvalid,
                "idempotencyKey: 32 to 64 random letters, digits, '-' or '_'.",
            ));
        }
        let (setup, processor) = self.ready(practice).await?;
        let start = StartRequest { amount_cents: req.amount_cents, note: req.note.clone(), idempotency_key: req.idempotency_key.clone() };
        let note = check_start(&start, setup.limit_cents)?;
        if !STARTS_PER_ADDRESS.take(self.db.table, self.db.clock, practice, source_ip.unwrap_or("unknown")).await? {
            return Err(CoreError::TooMany {
                code: ProblemCode::PaymentLimit,
                detail: "Too many payments from here this hour; please try again later or call the office.".into(),
            });
        }
        let key = (table_keys::practice(practice), table_keys::payment_key("guest", &req.idempotency_key));
        if let Some(existing) = self.by_key(practice, &key).await? {
            let mut started = self.resume(practice, existing, &setup, processor, &settings.practice_name).await?;
            started.payment.patient_id = None;
            return Ok(started);
        }
        // The one patient these details name, if exactly one does.
        let birthdate = birthdate.to_string();
        let matches = Roster { db: self.db }.matching(practice, &first_name, &last_name, &birthdate).await?;
        let patient = match matches.as_slice() {
            [one] => (PatientRecords { db: self.db }).get::<Patient>(practice, &one.patient_id).await?,
            _ => None,
        };
        let now = self.db.clock.now();
        let whose = patient.as_ref().map(|p| (p.id.clone(), p.record.guarantor(&p.id).to_string()));
        let details = GuestDetails { first_name, last_name, birthdate, email, key_hash: key_hash(&req.idempotency_key) };
        let payment = Payment::started(now, req.amount_cents, note, whose, Payer::Guest, setup.processor, Some(details));
        let existing = self.record_start(practice, payment, &key, &actor, AuditAction::GuestPaymentStart).await?;
        let mut started = self.resume(practice, existing, &setup, processor, &settings.practice_name).await?;
        started.payment.patient_id = None;
        Ok(started)
    }

    /// The guest's payment, when `proof` holds its key (a wrong key is no payment).
    async fn guest_payment(&self, id: &str, proof: &GuestProof) -> CoreResult<(Payment, PracticeId)> {
        let practice = practice_of(&proof.practice)?;
        let (payment, _) = self.load(&practice, id).await?.ok_or(CoreError::NotFound)?;
        let hash = key_hash(&proof.idempotency_key);
        match &payment.guest {
            Some(g) if constant_time_eq(g.key_hash.as_bytes(), hash.as_bytes()) => Ok((payment, practice)),
            _ => Err(CoreError::NotFound),
        }
    }

    /// Where a guest's payment stands, asked of the processor while it is open.
    pub async fn guest_status(&self, source_ip: Option<&str>, id: &str, proof: &GuestProof) -> CoreResult<PaymentView> {
        let (payment, practice) = self.guest_payment(id, proof).await?;
        let actor = Actor::anonymous(&practice, source_ip);
        let payment = match (&payment.processor_ref, payment.status.is_open()) {
            (Some(r), true) => self.refresh(&practice, payment.clone(), r, &actor).await.unwrap_or(payment),
            _ => payment,
        };
        Ok(guest_view(&payment))
    }

    /// Pays a guest's payment with the processor's card token.
    pub async fn guest_card(&self, source_ip: Option<&str>, id: &str, proof: &GuestProof) -> CoreResult<CardResult> {
        let (payment, practice) = self.guest_payment(id, proof).await?;
        if !CARDS_PER_ADDRESS.take(self.db.table, self.db.clock, &practice, source_ip.unwrap_or("unknown")).await? {
            return Err(CoreError::TooMany {
                code: ProblemCode::PaymentLimit,
                detail: "Too many cards tried from here this hour; please call the office.".into(),
            });
        }
        let actor = Actor::anonymous(&practice, source_ip);
        let mut result = self.pay_with(&actor, payment, proof.token.as_deref().unwrap_or_default()).await?;
        result.payment.patient_id = None;
        result.payment.note = None;
        Ok(result)
    }
}
