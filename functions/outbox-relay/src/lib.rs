//! The outbox relay, on a schedule: the target of an EventBridge schedule rule (every minute) on
//! AWS, of an in-process interval locally. Each run publishes the outbox events, of every
//! practice, that their commit could not publish (EventBridge failed at that moment): a
//! notification is late, never lost (see `portal_core::sync::outbox`).

use portal_core::ports::{Clock, Db, Events, Ports, Table};
use portal_core::sync::outbox::Outbox;
use serde_json::{json, Value};
use std::sync::Arc;

/// The most events one run publishes (the next run takes the rest).
pub const PER_RUN: usize = 500;

#[derive(Clone)]
pub struct Deps {
    pub table: Arc<dyn Table>,
    pub clock: Arc<dyn Clock>,
    pub events: Arc<dyn Events>,
}

impl From<&Ports> for Deps {
    fn from(p: &Ports) -> Self {
        Deps { table: p.table.clone(), clock: p.clock.clone(), events: p.events.clone() }
    }
}

impl Deps {
    /// The table and the clock, for building a use case.
    fn db(&self) -> Db<'_> {
        Db { table: self.table.as_ref(), clock: self.clock.as_ref() }
    }
}

/// One scheduled run; answers how many events it published. The event itself (EventBridge's
/// "Scheduled Event") carries nothing the run needs.
pub async fn handle(deps: &Deps, _event: Value) -> Result<Value, lambda_runtime::Error> {
    let outbox = Outbox { db: deps.db(), events: deps.events.as_ref() };
    let published = outbox.relay(PER_RUN).await.map_err(|e| e.to_string())?;
    if published > 0 {
        tracing::info!(published, "outbox relay published events their commit could not");
    }
    let oldest = outbox.oldest_unpublished_seconds().await.map_err(|e| e.to_string())?;
    portal_http::observe::count("outbox.published", published as f64);
    // 0 when all are out, so the alarm on it sees a value every run (none: the relay is not running).
    portal_http::observe::record("outbox.oldest_unpublished_age", oldest.unwrap_or(0) as f64, "Seconds");
    Ok(json!({ "published": published, "oldestUnpublishedSeconds": oldest }))
}
