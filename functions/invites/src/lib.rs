//! The automated portal invites, on a schedule: the target of an EventBridge schedule rule
//! (every 5 minutes) on AWS, of an in-process interval locally. Each run invites the patients a
//! practice's rules have come due for, exactly once each (see `portal_core::invites::run`).

use portal_core::invites::run::{InviteRun, RunReport};
use portal_core::ports::{Clock, Db, Mailer, Ports, Table};
use serde_json::Value;
use std::sync::Arc;

#[derive(Clone)]
pub struct Deps {
    pub table: Arc<dyn Table>,
    pub clock: Arc<dyn Clock>,
    pub mailer: Arc<dyn Mailer>,
    /// Where the portal is served: the login address of a practice without its own.
    pub site_url: String,
}

impl From<&Ports> for Deps {
    fn from(p: &Ports) -> Self {
        Deps { table: p.table.clone(), clock: p.clock.clone(), mailer: p.mailer.clone(), site_url: p.site_url.clone() }
    }
}

impl Deps {
    /// The table and the clock, for building a use case.
    fn db(&self) -> Db<'_> {
        Db { table: self.table.as_ref(), clock: self.clock.as_ref() }
    }
}

/// One scheduled run over every practice with a rule on; answers what it did. The event itself
/// (EventBridge's "Scheduled Event") carries nothing the run needs.
pub async fn handle(deps: &Deps, _event: Value) -> Result<RunReport, lambda_runtime::Error> {
    let run = InviteRun { db: deps.db(), mailer: deps.mailer.as_ref(), site_url: &deps.site_url };
    let report = run.run_all().await.map_err(|e| e.to_string())?;
    tracing::info!(sent = report.sent, skipped = report.skipped, failed = report.failed, "invite run");
    portal_http::observe::count("invites.sent", report.sent as f64);
    portal_http::observe::count("invites.skipped", report.skipped as f64);
    portal_http::observe::count("invites.failed", report.failed as f64);
    // One per finished run: the alarm fires when none came for 15 minutes (runs every 5).
    portal_http::observe::count("invites.runs_finished", 1.0);
    Ok(report)
}
