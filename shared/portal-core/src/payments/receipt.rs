//! The payer's receipt: one email per approved payment, sent by the target of the
//! `payment.received` event. It names the practice, the amount, the date, the reference and the
//! card's brand and last four digits — nothing about treatment.
//!
//! Once per payment, the way WebMail notifications are: the receipt is claimed on the payment with
//! a conditional write before sending (a claim older than [`CLAIM_SECONDS`] counts as abandoned)
//! and recorded after; a failed send is recorded and answered as an error, so the event is tried
//! again.

use super::store::{self, Payer, Payment, ReceiptState};
use super::use_cases::dollars;
use crate::ids::PracticeId;
use crate::language::{receipt_mail, Language, Words};
use crate::ports::{Cond, Db, Mail, MailKind, MailRef, Mailer, TableError};
use crate::practice::settings::SettingsRepo;
use crate::sync::entities::Patient;
use crate::sync::records::PatientRecords;
use crate::table_keys;
use crate::{CoreError, CoreResult};

/// How long a claim to send stands before another worker may take over: three times the notify
/// function's timeout (10 s): by then a worker that still holds it has died.
pub const CLAIM_SECONDS: i64 = 30;
const ATTEMPTS: usize = 6;

pub struct Receipts<'a> {
    pub db: Db<'a>,
    pub mailer: &'a dyn Mailer,
}

/// The receipt, in the payer's language.
pub fn receipt_words(lang: Language, practice_name: &str, p: &Payment) -> Words {
    let date = crate::clock::rfc3339(p.approved_at.unwrap_or(p.created_at));
    let card = p.card.as_ref().map(|c| (c.brand.as_str(), c.last4.as_str()));
    receipt_mail(lang, practice_name, &dollars(p.amount_cents), &date[..10], &p.id, card)
}

impl Receipts<'_> {
    /// Sends the receipt of `payment_id` unless it was sent, skipped, is being sent or is not
    /// due; answers where it stands now.
    pub async fn send(&self, practice: &PracticeId, payment_id: &str) -> CoreResult<ReceiptState> {
        let payment = match self.claim(practice, payment_id).await? {
            Ok(claimed) => claimed,
            Err(settled) => return Ok(settled),
        };
        let settings = SettingsRepo { db: self.db }.get(practice).await?.ok_or(CoreError::NotFound)?;
        // A patient's receipt in their language; a guest's in English (the portal knows no more).
        let (to, lang) = match &payment.payer {
            Payer::Patient { id } => match (PatientRecords { db: self.db }).get::<Patient>(practice, id).await? {
                Some(p) => (
                    p.record.email.clone().filter(|e| !e.is_empty()).ok_or("the payer has no email address"),
                    Language::of(p.record.preferred_language.as_deref()),
                ),
                None => (Err("the payer is no longer in the practice's records"), Language::En),
            },
            Payer::Guest => (payment.guest.as_ref().and_then(|g| g.email.clone()).ok_or("the guest gave no email address"), Language::En),
        };
        let to = match to {
            _ if settings.webmail.notification_sender.is_empty() => Err("no sender address is set on Setup"),
            to => to,
        };
        let to = match to {
            Ok(to) => to,
            Err(reason) => return self.set(practice, payment_id, ReceiptState::Skipped { reason: reason.into() }).await,
        };
        let words = receipt_words(lang, &settings.practice_name, &payment);
        let about = MailRef::new(practice, MailKind::Receipt, payment_id, payment.payer.patient_id());
        let mail = Mail::text(&settings.webmail.notification_sender, to, words.subject, words.text, about);
        let attempts = match &payment.receipt {
            ReceiptState::Failed { attempts, .. } => *attempts,
            _ => 0,
        };
        match self.mailer.send(&mail).await {
            Ok(_) => self.set(practice, payment_id, ReceiptState::Sent { at: self.db.clock.now() }).await,
            Err(e) => {
                let reason = e.to_string().chars().take(300).collect();
                self.set(practice, payment_id, ReceiptState::Failed { reason, attempts: attempts + 1 }).await?;
                Err(CoreError::Backend("the receipt could not be sent; it will be tried again".into()))
            }
        }
    }

    /// Claims the receipt for this worker (the payment as it was), or answers
    /// the state that means there is nothing to do.
    async fn claim(&self, practice: &PracticeId, id: &str) -> CoreResult<Result<Payment, ReceiptState>> {
        for _ in 0..ATTEMPTS {
            let item = self.db.table.get(&table_keys::payments(practice), id).await?.ok_or(CoreError::NotFound)?;
            let mut payment: Payment = item.parse()?;
            match &payment.receipt {
                ReceiptState::Due | ReceiptState::Failed { .. } => {}
                ReceiptState::Sending { since } if self.db.clock.now() - since >= CLAIM_SECONDS => {}
                other => return Ok(Err(other.clone())),
            }
            let previous = payment.receipt.clone();
            payment.receipt = ReceiptState::Sending { since: self.db.clock.now() };
            match self.db.table.put(store::item(practice, &payment, item.version + 1)?, Cond::Version(item.version)).await {
                Ok(()) => {
                    payment.receipt = previous;
                    return Ok(Ok(payment));
                }
                Err(TableError::ConditionFailed) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(CoreError::Backend("the payment kept changing".into()))
    }

    /// Records where the receipt stands, whatever else changed on the payment meanwhile (tried
    /// hard: a `sent` lost would have the receipt sent again).
    async fn set(&self, practice: &PracticeId, id: &str, state: ReceiptState) -> CoreResult<ReceiptState> {
        let found = crate::ports::record_on(self.db.table, (&table_keys::payments(practice), id), ATTEMPTS, |item| {
            let mut payment: Payment = item.parse()?;
            payment.receipt = state.clone();
            store::item(practice, &payment, item.version + 1)
        })
        .await?;
        found.then_some(state).ok_or(CoreError::NotFound)
    }
}
