//! The payment reconciler, on a schedule: the target of an EventBridge schedule rule (every five
//! minutes) on AWS, of an in-process interval locally. Each run reads every open payment (of
//! every practice) at its processor and settles it — so a payment whose webhook never came and
//! whose payer closed the page is still approved, announced and receipted — and cancels those
//! open longer than a day (see `portal_core::payments`).

use portal_core::payments::Payments;
use portal_core::ports::{Clock, Db, Events, Ports, Processors, SecretBox, Table};
use serde_json::{json, Value};
use std::sync::Arc;

/// How often the schedule runs it.
pub const EVERY_SECONDS: u64 = 300;
/// The most payments one run follows up (the next run takes the rest).
pub const PER_RUN: usize = 200;

#[derive(Clone)]
pub struct Deps {
    pub table: Arc<dyn Table>,
    pub clock: Arc<dyn Clock>,
    pub events: Arc<dyn Events>,
    pub secrets: Arc<dyn SecretBox>,
    pub processors: Processors,
}

impl From<&Ports> for Deps {
    fn from(p: &Ports) -> Self {
        Deps {
            table: p.table.clone(),
            clock: p.clock.clone(),
            events: p.events.clone(),
            secrets: p.secrets.clone(),
            processors: p.processors.clone(),
        }
    }
}

impl Deps {
    /// The table and the clock, for building a use case.
    fn db(&self) -> Db<'_> {
        Db { table: self.table.as_ref(), clock: self.clock.as_ref() }
    }
}

/// One scheduled run; answers what it did. The event (EventBridge's "Scheduled Event") carries
/// nothing the run needs.
pub async fn handle(deps: &Deps, _event: Value) -> Result<Value, lambda_runtime::Error> {
    let payments = Payments { db: deps.db(), events: deps.events.as_ref(), secrets: deps.secrets.as_ref(), processors: &deps.processors };
    let done = payments.reconcile(PER_RUN).await.map_err(|e| e.to_string())?;
    if done.approved + done.canceled + done.failed > 0 {
        tracing::info!(
            checked = done.checked,
            approved = done.approved,
            canceled = done.canceled,
            failed = done.failed,
            "payments reconciled"
        );
    }
    Ok(json!(done))
}
