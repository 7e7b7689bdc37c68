//! The audit seal run, on a schedule: the target of an EventBridge schedule rule (every hour) on
//! AWS, of an in-process interval locally. Each run seals, in every practice, the days of the
//! audit log that have ended and are not sealed yet (see `portal_core::audit::seal`); a failed
//! run is retried by the next one, an hour on, well before anyone could have changed an entry
//! unnoticed for long.

use portal_core::audit::seal::AuditSeals;
use portal_core::ports::{Clock, Db, Ports, Table};
use serde_json::{json, Value};
use std::sync::Arc;

/// How often the schedule runs it (the template's rule says the same).
pub const EVERY_SECONDS: u64 = 3600;

#[derive(Clone)]
pub struct Deps {
    pub table: Arc<dyn Table>,
    pub clock: Arc<dyn Clock>,
}

impl From<&Ports> for Deps {
    fn from(p: &Ports) -> Self {
        Deps { table: p.table.clone(), clock: p.clock.clone() }
    }
}

impl Deps {
    /// The table and the clock, for building a use case.
    fn db(&self) -> Db<'_> {
        Db { table: self.table.as_ref(), clock: self.clock.as_ref() }
    }
}

/// One scheduled run; answers how many days it sealed. The event itself (EventBridge's
/// "Scheduled Event") carries nothing the run needs.
pub async fn handle(deps: &Deps, _event: Value) -> Result<Value, lambda_runtime::Error> {
    let sealed = AuditSeals { db: deps.db() }.seal_all().await.map_err(|e| e.to_string())?;
    portal_http::observe::count("audit.days_sealed", sealed as f64);
    Ok(json!({ "sealed": sealed }))
}
