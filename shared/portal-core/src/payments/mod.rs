//! MakePayments: patients pay their balance online through the practice's processor, at PCI
//! SAQ-A scope — the card is typed only into the processor's own fields, so no card number or CVC
//! ever reaches the portal.
//!
//! A payment is recorded `pending` before the processor is asked for it, and only the
//! processor's word moves it on (its signed webhook, or its API read on a poll or by the
//! reconciler): never the browser. Moving it to `approved` is one conditional write of the
//! payment with its `payment.received` outbox event and its audit entry, so however those three
//! race, a payment is approved once, announced once and (by `receipt`) mailed once.

pub mod guest;
pub mod office;
pub mod receipt;
pub mod setup;
mod store;
mod use_cases;

pub use store::{Payer, Payment, PaymentStatus, ReceiptState, Refund};
pub use use_cases::{
    being_posted, dollars, CardRequest, CardResult, Checkout, PaymentView, Payments, Posting, Reconciled, StartRequest, Started,
    ABANDONED_AFTER_SECONDS, MIN_CENTS,
};
