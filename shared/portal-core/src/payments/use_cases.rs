//! The payment use cases: a patient starts a payment and follows it; the processor's word
//! (webhook, a poll's read, the reconciler's read) settles it, exactly once however they race.

use super::setup::{PaymentSetup, PaymentSetups};
use super::store::{self, Payer, Payment, PaymentStatus, ReceiptState};
use crate::audit::{Actor, AuditAction, AuditLog, Outcome};
use crate::clock::rfc3339;
use crate::ids::{is_payment_id, PracticeId};
use crate::ports::Processors;
use crate::ports::{
    CardSummary, Charge, ChargeRequest, ChargeStatus, Cond, Db, Events, Item, PaymentProcessor, PortError, ProcessorKind, Query, SecretBox,
    Table, TableError, TxOp,
};
use crate::practice::family::PatientId;
use crate::reads::{Caller, Listing, PageRequest, Reads};
use crate::sync::events::PortalEvent;
use crate::sync::outbox::Outbox;
use crate::table_keys;
use crate::{CoreError, CoreResult, ProblemCode};
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::collections::{HashMap, HashSet};

/// The least a patient may pay online ($1.00).
pub const MIN_CENTS: i64 = 100;
/// A payment still open this long after it started is canceled at the processor.
pub const ABANDONED_AFTER_SECONDS: i64 = 24 * 60 * 60;
/// How long a start's idempotency key is remembered.
const IDEMPOTENCY_SECONDS: i64 = 2 * 24 * 60 * 60;
/// How long a handled webhook event is remembered (Stripe retries for three days).
const WEBHOOK_MEMORY_SECONDS: i64 = 30 * 24 * 60 * 60;
const NOTE_MAX: usize = 200;
const ATTEMPTS: usize = 8;

/// `POST /v1/payments`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct StartRequest {
    pub amount_cents: i64,
    #[serde(default)]
    pub note: Option<String>,
    /// Made by the page once per payment attempt: the same start sent twice (a double click, a
    /// retry after a lost answer) makes one payment.
    pub idempotency_key: String,
}

/// What the page needs to show the processor's own card fields.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Checkout {
    pub processor: ProcessorKind,
    /// Stripe: the practice's publishable key and the PaymentIntent's client secret.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub publishable_key: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<String>,
    /// The test processor: its page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// The script that shows the processor's card fields (Stripe.js).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub script_url: Option<String>,
}

/// `POST /v1/payments/{id}/card`: the single-use token the processor's card fields made.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CardRequest {
    pub token: String,
}

/// Where a payment stands after its card was sent to the processor.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CardResult {
    pub payment: PaymentView,
    /// What the page must still finish with the processor (a bank's 3-D Secure check: Stripe's
    /// client secret for Stripe.js); `None` once the processor has decided.
    pub action: Option<String>,
}

/// A payment as its payer sees it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PaymentView {
    pub id: String,
    pub status: PaymentStatus,
    pub amount_cents: i64,
    pub note: Option<String>,
    pub patient_id: Option<String>,
    pub created_at: String,
    pub approved_at: Option<String>,
    pub card: Option<CardSummary>,
    pub decline_reason: Option<String>,
    pub refunded_cents: i64,
}

impl From<&Payment> for PaymentView {
    fn from(p: &Payment) -> Self {
        PaymentView {
            id: p.id.clone(),
            status: p.status,
            amount_cents: p.amount_cents,
            note: p.note.clone(),
            patient_id: p.patient_id.clone(),
            created_at: rfc3339(p.created_at),
            approved_at: p.approved_at.map(rfc3339),
            card: p.card.clone(),
            decline_reason: p.decline_reason.clone(),
            refunded_cents: p.refunded_cents,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Started {
    pub payment: PaymentView,
    /// `None` once the payment is no longer waiting for a card.
    pub checkout: Option<Checkout>,
}

/// An approved online payment the practice's system has not yet posted to its ledger.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Posting {
    pub payment_id: String,
    pub patient_id: Option<String>,
    pub approved_at: String,
    pub amount_cents: i64,
}

/// What one reconciler run did.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Reconciled {
    pub checked: usize,
    pub approved: usize,
    pub canceled: usize,
    pub failed: usize,
}

pub struct Payments<'a> {
    pub db: Db<'a>,
    pub events: &'a dyn Events,
    pub secrets: &'a dyn SecretBox,
    pub processors: &'a Processors,
}

pub(super) fn check_start(req: &StartRequest, limit_cents: i64) -> CoreResult<Option<String>> {
    if req.amount_cents < MIN_CENTS || req.amount_cents > limit_cents {
        return Err(CoreError::invalid(
            ProblemCode::AmountInvalid,
            format!("Pay between $1.00 and {} online (whole cents).", dollars(limit_cents)),
        ));
    }
    let key = &req.idempotency_key;
    if !(8..=64).contains(&key.len()) || !key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') {
        return Err(CoreError::invalid(
            ProblemCode::IdempotencyKeyInvalid,
            "idempotencyKey: 8 to 64 letters, digits, '-' or '_', new for each payment.",
        ));
    }
    let note = req.note.as_deref().map(str::trim).filter(|n| !n.is_empty());
    if note.is_some_and(|n| n.chars().count() > NOTE_MAX || !crate::text::is_plain_text(n, false)) {
        return Err(CoreError::invalid(ProblemCode::NoteInvalid, format!("The note is one line of at most {NOTE_MAX} characters.")));
    }
    Ok(note.map(str::to_string))
}

/// `$1,234.56`.
pub fn dollars(cents: i64) -> String {
    let sign = if cents < 0 { "-" } else { "" };
    let (whole, rest) = (cents.abs() / 100, cents.abs() % 100);
    let digits = whole.to_string();
    let mut grouped = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(c);
    }
    format!("{sign}${grouped}.{rest:02}")
}

/// The payment after the processor's word, or `None` when that changes nothing.
fn transition(p: &Payment, charge: &Charge, now: i64) -> Option<Payment> {
    let mut next = p.clone();
    next.processor_ref = Some(charge.processor_ref.clone());
    match (p.status, &charge.status) {
        (PaymentStatus::Pending | PaymentStatus::Declined, ChargeStatus::Approved) => {
            next.status = PaymentStatus::Approved;
            next.card = charge.card.clone();
            next.approved_at = Some(now);
            next.decline_reason = None;
            next.receipt = ReceiptState::Due;
        }
        (PaymentStatus::Pending | PaymentStatus::Declined, ChargeStatus::Declined { reason }) => {
            if p.status == PaymentStatus::Declined && p.decline_reason.as_deref() == Some(reason) {
                return None;
            }
            next.status = PaymentStatus::Declined;
            next.decline_reason = Some(reason.chars().take(200).collect());
        }
        // The payer is trying again on the same payment (another card).
        (PaymentStatus::Declined, ChargeStatus::Pending) => {
            next.status = PaymentStatus::Pending;
            next.decline_reason = None;
        }
        (PaymentStatus::Pending | PaymentStatus::Declined, ChargeStatus::Canceled) => next.status = PaymentStatus::Canceled,
        _ => return None,
    }
    Some(next)
}

impl Payments<'_> {
    pub(super) fn setups(&self) -> PaymentSetups<'_> {
        PaymentSetups { db: self.db, secrets: self.secrets, processors: self.processors }
    }

    pub(super) fn reads(&self) -> Reads<'_> {
        Reads { db: self.db }
    }

    pub(super) fn audit(&self) -> AuditLog<'_> {
        AuditLog { db: self.db }
    }

    pub(super) fn outbox(&self) -> Outbox<'_> {
        Outbox { db: self.db, events: self.events }
    }

    /// The practice's setup and processor, when it takes payments online.
    pub(super) async fn ready(&self, practice: &PracticeId) -> CoreResult<(PaymentSetup, &dyn PaymentProcessor)> {
        let setup = self.setups().get(practice).await?;
        match self.processors.get(setup.processor) {
            Some(processor) => Ok((setup, processor)),
            None => Err(CoreError::Unprocessable {
                code: ProblemCode::PaymentsUnavailable,
                detail: "The practice does not take payments online yet; please call the office to pay.".into(),
            }),
        }
    }

    /// A payment and its item's version; `None` when there is no such payment.
    pub(super) async fn load(&self, practice: &PracticeId, id: &str) -> CoreResult<Option<(Payment, u64)>> {
        if !is_payment_id(id) {
            return Ok(None);
        }
        match self.db.table.get(&table_keys::payments(practice), id).await? {
            Some(item) => Ok(Some((item.parse()?, item.version))),
            None => Ok(None),
        }
    }

    /// Starts a payment toward the account of the patient the caller is viewing (`requested`,
    /// default themself): recorded first, then created at the processor. Sent again with the
    /// same idempotency key it answers the same payment (and finishes a start whose processor
    /// call failed).
    pub async fn start(&self, caller: &Caller, requested: Option<&str>, req: StartRequest, practice_name: &str) -> CoreResult<Started> {
        let practice = &caller.actor.practice;
        let (setup, processor) = self.ready(practice).await?;
        let note = check_start(&req, setup.limit_cents)?;
        let (patient_id, patient) = self.reads().patient(caller, requested).await?;
        let key = (table_keys::practice(practice), table_keys::payment_key(&caller.actor.id, &req.idempotency_key));
        if let Some(existing) = self.by_key(practice, &key).await? {
            return self.resume(practice, existing, &setup, processor, practice_name).await;
        }
        let now = self.db.clock.now();
        let whose = (patient_id.to_string(), patient.record.guarantor(&patient_id).to_string());
        let payer = Payer::Patient { id: caller.actor.id.clone() };
        let payment = Payment::started(now, req.amount_cents, note, Some(whose), payer, setup.processor, None);
        let recorded = self.record_start(practice, payment, &key, &caller.actor, AuditAction::PaymentStart).await?;
        self.resume(practice, recorded, &setup, processor, practice_name).await
    }

    /// Records a new payment with its open marker, its idempotency key (`key`) and its audit
    /// entry, in one write; when the same key was recorded first (the same start sent twice at
    /// once), answers the payment recorded then.
    pub(super) async fn record_start(
        &self,
        practice: &PracticeId,
        payment: Payment,
        key: &(String, String),
        actor: &Actor,
        action: AuditAction,
    ) -> CoreResult<(Payment, u64)> {
        let subject = payment.patient_id.as_deref().unwrap_or("unmatched");
        let ops = vec![
            TxOp::Put(store::item(practice, &payment, 1)?, Cond::Absent),
            store::put_marker(practice, &payment.id),
            TxOp::Put(
                Item::new(key.0.clone(), key.1.clone(), json!({ "paymentId": payment.id }))
                    .expiring_at(payment.created_at + IDEMPOTENCY_SECONDS),
                Cond::Absent,
            ),
            self.audit().entry(
                actor,
                action,
                subject,
                Outcome::Success,
                json!({ "payment": payment.id, "amountCents": payment.amount_cents }),
            )?,
        ];
        match self.db.table.transact(ops).await {
            Ok(()) => Ok((payment, 1)),
            Err(TableError::TransactionCanceled { failed }) if failed.contains(&2) => {
                self.by_key(practice, key).await?.ok_or_else(|| CoreError::Backend("the payment start raced with itself".into()))
            }
            Err(e) => Err(e.into()),
        }
    }

    pub(super) async fn by_key(&self, practice: &PracticeId, (pk, sk): &(String, String)) -> CoreResult<Option<(Payment, u64)>> {
        let Some(item) = self.db.table.get(pk, sk).await? else { return Ok(None) };
        let id = item.data["paymentId"].as_str().unwrap_or_default().to_string();
        self.load(practice, &id).await
    }

    /// Creates the recorded payment at the processor (idempotent: keyed by our payment id) and
    /// answers what the page needs for the card.
    pub(super) async fn resume(
        &self,
        practice: &PracticeId,
        (payment, version): (Payment, u64),
        setup: &PaymentSetup,
        processor: &dyn PaymentProcessor,
        practice_name: &str,
    ) -> CoreResult<Started> {
        if !payment.status.is_open() {
            return Ok(Started { payment: PaymentView::from(&payment), checkout: None });
        }
        let account = self.setups().account(practice, setup).await?;
        let description = format!("Payment to {}", practice_name.chars().take(80).collect::<String>());
        let request = ChargeRequest {
            reference: &payment.id,
            amount_cents: payment.amount_cents,
            idempotency_key: &payment.id,
            description: &description,
        };
        let charge = processor.create(&account, &request).await.map_err(processor_down)?;
        let payment =
            if payment.processor_ref.is_none() { self.set_ref(practice, payment, version, &charge.processor_ref).await? } else { payment };
        let checkout = match payment.processor {
            ProcessorKind::Stripe => Checkout {
                processor: ProcessorKind::Stripe,
                publishable_key: Some(setup.publishable_key.clone()),
                client_secret: charge.checkout,
                url: None,
                script_url: processor.script_url(),
            },
            kind => Checkout { processor: kind, publishable_key: None, client_secret: None, url: charge.checkout, script_url: None },
        };
        Ok(Started { payment: PaymentView::from(&payment), checkout: Some(checkout) })
    }

    /// Records the processor's id on a payment (whatever else changed on it meanwhile).
    async fn set_ref(&self, practice: &PracticeId, mut payment: Payment, mut version: u64, processor_ref: &str) -> CoreResult<Payment> {
        for _ in 0..ATTEMPTS {
            if payment.processor_ref.is_some() {
                return Ok(payment);
            }
            payment.processor_ref = Some(processor_ref.to_string());
            match self.db.table.put(store::item(practice, &payment, version + 1)?, Cond::Version(version)).await {
                Ok(()) => return Ok(payment),
                Err(TableError::ConditionFailed) => {
                    (payment, version) = self.load(practice, &payment.id).await?.ok_or(CoreError::NotFound)?;
                }
                Err(e) => return Err(e.into()),
            }
        }
        Err(CoreError::Backend("the payment kept changing".into()))
    }

    /// A payment the caller may see (their family's, by the family rule) and whose it is.
    async fn visible(&self, caller: &Caller, id: &str) -> CoreResult<(Payment, PatientId)> {
        let (payment, _) = self.load(&caller.actor.practice, id).await?.ok_or(CoreError::NotFound)?;
        let patient_id = self.reads().patient_id(caller, Some(payment.patient_id.as_deref().ok_or(CoreError::NotFound)?)).await?;
        Ok((payment, patient_id))
    }

    /// A payment the caller may see, brought up to date with the processor while it is open.
    pub async fn get(&self, caller: &Caller, id: &str) -> CoreResult<PaymentView> {
        let practice = &caller.actor.practice;
        let (payment, patient_id) = self.visible(caller, id).await?;
        let reads = self.reads();
        let payment = match (&payment.processor_ref, payment.status.is_open()) {
            (Some(processor_ref), true) => {
                self.refresh(practice, payment.clone(), processor_ref, &caller.actor).await.unwrap_or_else(|e| {
                    tracing::warn!(payment = %payment.id, code = %e.code(), "payment not brought up to date; the reconciler will");
                    payment
                })
            }
            _ => payment,
        };
        reads.audit(caller, &patient_id, AuditAction::PaymentRead).await?;
        Ok(PaymentView::from(&payment))
    }

    /// Pays an open payment with the card token the processor's fields made in the payer's
    /// browser; the processor's answer settles it (a decline leaves it open for another card).
    pub async fn pay_card(&self, caller: &Caller, id: &str, token: &str) -> CoreResult<CardResult> {
        let (payment, _) = self.visible(caller, id).await?;
        self.pay_with(&caller.actor, payment, token).await
    }

    /// [`Payments::pay_card`] for a payment already found to be the actor's.
    pub(super) async fn pay_with(&self, actor: &Actor, payment: Payment, token: &str) -> CoreResult<CardResult> {
        let practice = &actor.practice;
        let token_ok = (8..=255).contains(&token.len()) && token.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
        if !token_ok {
            return Err(CoreError::invalid(ProblemCode::CardTokenInvalid, "token: the card token the processor's card fields made."));
        }
        let processor_ref = match (&payment.processor_ref, payment.status.is_open()) {
            (Some(r), true) => r.clone(),
            _ => return Ok(CardResult { payment: PaymentView::from(&payment), action: None }),
        };
        let setup = self.setups().get(practice).await?;
        let processor =
            self.processors.get(payment.processor).ok_or_else(|| CoreError::Backend("the payment's processor is gone".into()))?;
        let account = self.setups().account(practice, &setup).await?;
        let charge = processor.pay(&account, &processor_ref, token).await.map_err(|e| match e {
            PortError::Rejected(_) => CoreError::invalid(ProblemCode::CardTokenInvalid, "The card could not be read: enter it again."),
            other => processor_down(other),
        })?;
        let (payment, _) = self.settle(practice, &payment.id, &charge, actor).await?;
        let action = (payment.status == PaymentStatus::Pending).then_some(charge.checkout).flatten();
        Ok(CardResult { payment: PaymentView::from(&payment), action })
    }

    /// Reads the payment at its processor and settles it with what it says.
    pub(super) async fn refresh(&self, practice: &PracticeId, payment: Payment, processor_ref: &str, actor: &Actor) -> CoreResult<Payment> {
        let setup = self.setups().get(practice).await?;
        let processor =
            self.processors.get(payment.processor).ok_or_else(|| CoreError::Backend("the payment's processor is gone".into()))?;
        let account = self.setups().account(practice, &setup).await?;
        let charge = processor.read(&account, processor_ref).await.map_err(processor_down)?;
        Ok(self.settle(practice, &payment.id, &charge, actor).await?.0)
    }

    /// The payments toward the account of the patient the caller is viewing, newest first (a
    /// member of someone else's account sees only their own).
    pub async fn history(&self, caller: &Caller, requested: Option<&str>, page: PageRequest) -> CoreResult<Listing<PaymentView>> {
        let practice = &caller.actor.practice;
        let reads = self.reads();
        let (patient_id, patient) = reads.patient(caller, requested).await?;
        let account = patient.record.guarantor(&patient_id).to_string();
        let q = Query::on_gsi1(table_keys::account_payments(practice, &account)).newest_first().limit(page.limit).after(page.cursor);
        let found = self.db.table.query(q).await?;
        reads.audit(caller, &patient_id, AuditAction::PaymentHistoryRead).await?;
        let mut items = Vec::with_capacity(found.items.len());
        for item in &found.items {
            let p: Payment = item.parse()?;
            if account == patient.id || p.patient_id.as_deref() == Some(&patient_id) {
                items.push(PaymentView::from(&p));
            }
        }
        Ok(Listing { items, next_cursor: found.cursor })
    }

    /// Moves a payment to where the processor's `charge` says it is, once: the approval, its
    /// `payment.received` event and its audit entry are one conditional write, so of any number
    /// of settlers racing (webhook, poll, reconciler) one approves and the rest find it approved.
    /// Answers the payment as it now stands, and whether this call moved it.
    pub async fn settle(&self, practice: &PracticeId, id: &str, charge: &Charge, actor: &Actor) -> CoreResult<(Payment, bool)> {
        for _ in 0..ATTEMPTS {
            let (payment, version) = self.load(practice, id).await?.ok_or(CoreError::NotFound)?;
            // A processor's answer about another payment than the one recorded here changes nothing.
            if payment.processor_ref.as_deref().is_some_and(|r| r != charge.processor_ref) {
                tracing::warn!(payment = %id, "a processor answer named another payment; ignored");
                return Ok((payment, false));
            }
            let Some(next) = transition(&payment, charge, self.db.clock.now()) else { return Ok((payment, false)) };
            let subject = next.patient_id.as_deref().unwrap_or("unmatched");
            let mut ops = vec![TxOp::Put(store::item(practice, &next, version + 1)?, Cond::Version(version))];
            if !next.status.is_open() {
                ops.push(store::delete_marker(practice, id));
            }
            let action = match next.status {
                PaymentStatus::Approved => AuditAction::PaymentApprove,
                PaymentStatus::Declined => AuditAction::PaymentDecline,
                PaymentStatus::Canceled => AuditAction::PaymentCancel,
                _ => AuditAction::PaymentUpdate,
            };
            ops.push(self.audit().entry(
                actor,
                action,
                subject,
                Outcome::Success,
                json!({ "payment": id, "amountCents": next.amount_cents }),
            )?);
            let mut events = vec![];
            if next.status == PaymentStatus::Approved {
                let detail = store::event_detail(&next, next.amount_cents, next.approved_at.unwrap_or_default());
                events.push(PortalEvent::PaymentReceived(detail));
            }
            match self.outbox().transact(practice, ops, events).await {
                Ok(()) => return Ok((next, true)),
                Err(TableError::TransactionCanceled { failed }) if !failed.is_empty() => continue,
                Err(TableError::ConditionFailed) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(CoreError::Backend("the payment kept changing".into()))
    }

    /// A webhook delivery for the practice's processor of `kind`: its signature checked, its
    /// payment settled, each event handled once. Answers whether it was handled now (`false`
    /// for a redelivery).
    pub async fn webhook(&self, practice: &PracticeId, kind: ProcessorKind, signature: &str, body: &[u8]) -> CoreResult<bool> {
        let setup = self.setups().get(practice).await?;
        let processor = match self.processors.get(kind) {
            Some(p) if setup.processor == kind => p,
            _ => return Err(CoreError::NotFound),
        };
        let account = self.setups().account(practice, &setup).await?;
        let event = processor.webhook(&account, signature, body, self.db.clock.now()).map_err(|e| match e {
            PortError::Rejected(_) => CoreError::unauthorized(ProblemCode::WebhookSignatureInvalid, "The webhook signature is not valid."),
            other => other.into(),
        })?;
        let seen = (table_keys::practice(practice), table_keys::webhook_event(&event.id));
        if event.id.len() > 200 || self.db.table.get(&seen.0, &seen.1).await?.is_some() {
            return Ok(false);
        }
        if let Some(charge) = &event.charge {
            if let Some(reference) = charge.reference.as_deref() {
                // The event is the processor's (signed); its API adds what events leave out (the card).
                let charge = processor.read(&account, &charge.processor_ref).await.unwrap_or_else(|_| charge.clone());
                match self.settle(practice, reference, &charge, &Actor::system(practice, "payments")).await {
                    Ok(_) | Err(CoreError::NotFound) => {}
                    Err(e) => return Err(e),
                }
            }
        }
        let marker = Item::new(seen.0, seen.1, json!({})).expiring_at(self.db.clock.now() + WEBHOOK_MEMORY_SECONDS);
        match self.db.table.put(marker, Cond::Absent).await {
            Ok(()) | Err(TableError::ConditionFailed) => Ok(true),
            Err(e) => Err(e.into()),
        }
    }

    /// Follows up the open payments of every practice (at most `limit`, oldest first): each is
    /// read at its processor and settled; one open longer than a day is canceled there first.
    pub async fn reconcile(&self, limit: usize) -> CoreResult<Reconciled> {
        let page = self.db.table.query(Query::new(table_keys::PAYMENTS_OPEN).limit(limit.clamp(1, 500))).await?;
        let mut done = Reconciled::default();
        let mut setups: HashMap<PracticeId, PaymentSetup> = HashMap::new();
        for marker in &page.items {
            let Some((id, practice)) = marker.sk.split_once('|').and_then(|(id, p)| Some((id, PracticeId::parse(p)?))) else { continue };
            done.checked += 1;
            match self.follow_up(&practice, id, &mut setups).await {
                Ok(Some(PaymentStatus::Approved)) => done.approved += 1,
                Ok(Some(PaymentStatus::Canceled)) => done.canceled += 1,
                Ok(_) => {}
                Err(e) => {
                    done.failed += 1;
                    tracing::warn!(payment = %id, code = %e.code(), "payment not followed up; the next run tries again");
                }
            }
        }
        Ok(done)
    }

    async fn follow_up(
        &self,
        practice: &PracticeId,
        id: &str,
        setups: &mut HashMap<PracticeId, PaymentSetup>,
    ) -> CoreResult<Option<PaymentStatus>> {
        let actor = Actor::system(practice, "payments");
        let Some((payment, _)) = self.load(practice, id).await? else {
            let (pk, sk) = store::open_marker(practice, id);
            self.db.table.delete(&pk, &sk, Cond::None).await?;
            return Ok(None);
        };
        if !payment.status.is_open() {
            let (pk, sk) = store::open_marker(practice, id);
            self.db.table.delete(&pk, &sk, Cond::None).await?;
            return Ok(None);
        }
        let abandoned = self.db.clock.now() - payment.created_at > ABANDONED_AFTER_SECONDS;
        let charge = match (&payment.processor_ref, self.processors.get(payment.processor)) {
            (Some(processor_ref), Some(processor)) => {
                if !setups.contains_key(practice) {
                    setups.insert(practice.clone(), self.setups().get(practice).await?);
                }
                let account = self.setups().account(practice, &setups[practice]).await?;
                let charge =
                    if abandoned { processor.cancel(&account, processor_ref).await } else { processor.read(&account, processor_ref).await };
                charge.map_err(processor_down)?
            }
            // Never created at the processor (its answer never came back, so no card was
            // asked for), or its processor is gone: nothing can be paid any more.
            _ if abandoned => Charge {
                processor_ref: payment.processor_ref.clone().unwrap_or_default(),
                reference: Some(payment.id.clone()),
                amount_cents: payment.amount_cents,
                status: ChargeStatus::Canceled,
                card: None,
                checkout: None,
            },
            _ => return Ok(None),
        };
        let (payment, moved) = self.settle(practice, id, &charge, &actor).await?;
        Ok(moved.then_some(payment.status))
    }
}

/// The approved online payments toward `account` that the practice's system has not posted yet
/// (`posted`: the payment ids its ledger lines carry); only `patient`'s when given.
pub async fn being_posted(
    table: &dyn Table,
    practice: &PracticeId,
    account: &str,
    patient: Option<&str>,
    posted: &HashSet<&str>,
) -> CoreResult<Vec<Posting>> {
    // Payments are posted within days; the newest hundred cover any account.
    let page = table.query(Query::on_gsi1(table_keys::account_payments(practice, account)).newest_first().limit(100)).await?;
    let mut out = vec![];
    for item in &page.items {
        let p: Payment = item.parse()?;
        if p.status == PaymentStatus::Approved
            && !posted.contains(p.id.as_str())
            && patient.is_none_or(|x| p.patient_id.as_deref() == Some(x))
        {
            out.push(Posting {
                payment_id: p.id.clone(),
                patient_id: p.patient_id.clone(),
                approved_at: rfc3339(p.approved_at.unwrap_or(p.created_at)),
                amount_cents: p.amount_cents - p.refunded_cents,
            });
        }
    }
    Ok(out)
}

pub(super) fn processor_down(e: PortError) -> CoreError {
    CoreError::Backend(format!("payment processor: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dollars_are_grouped() {
        assert_eq!(dollars(0), "$0.00");
        assert_eq!(dollars(5), "$0.05");
        assert_eq!(dollars(41_200), "$412.00");
        assert_eq!(dollars(123_456_789), "$1,234,567.89");
        assert_eq!(dollars(-100_000), "-$1,000.00");
    }

    #[test]
    fn payment_ids_sort_by_age_and_pass_their_rule() {
        let (a, b) = (crate::ids::new_payment_id(1_700_000_000), crate::ids::new_payment_id(1_700_000_001));
        assert!(a < b && is_payment_id(&a) && is_payment_id(&b));
        assert!(!is_payment_id("../x") && !is_payment_id(&a.to_uppercase()));
    }
}
