//! The EventBridge rules, locally: a `webmail.sent` or `payment.received` event goes to
//! `functions/notify`'s handler as it is published; when the handler fails, the publish fails,
//! and the outbox relay hands the event over again a minute later, as EventBridge's retry policy
//! would (nothing waits in memory, so a host that dies loses no event). The schedule rules run
//! `functions/invites`', `functions/outbox-relay`'s, `functions/payments-reconcile`'s and
//! `functions/audit-seal`'s handlers on intervals.

use crate::Backends;
use futures_util::FutureExt;
use portal_core::ports::DomainEvent;
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;

pub fn route_events(b: &Backends) {
    let deps = portal_notify::Deps::from(&b.ports());
    b.events.subscribe(Arc::new(move |e: DomainEvent| {
        let deps = deps.clone();
        async move {
            if e.detail_type != "webmail.sent" && e.detail_type != "payment.received" {
                return Ok(());
            }
            // The event as EventBridge delivers it: the practice in the detail.
            let mut detail = e.detail;
            detail["practiceId"] = json!(e.practice_id);
            let event = json!({ "source": "portal", "detail-type": e.detail_type, "detail": detail });
            portal_notify::handle(&deps, event).await.map(|_| ()).map_err(|e| e.to_string())
        }
        .boxed()
    }));
}

/// Runs the outbox relay every minute, as its schedule rule does: events a commit could not
/// publish (the in-process dispatch failed) go out then.
pub fn schedule_relay(b: &Backends) {
    let deps = portal_outbox_relay::Deps::from(&b.ports());
    every(60, "outbox relay", move |event| {
        let deps = deps.clone();
        async move { portal_outbox_relay::handle(&deps, event).await.map(|_| ()) }
    });
}

/// Follows up open payments every five minutes, as the reconciler's schedule rule does.
pub fn schedule_reconcile(b: &Backends) {
    let deps = portal_payments_reconcile::Deps::from(&b.ports());
    every(portal_payments_reconcile::EVERY_SECONDS, "payment reconciliation", move |event| {
        let deps = deps.clone();
        async move { portal_payments_reconcile::handle(&deps, event).await.map(|_| ()) }
    });
}

/// Seals the audit log's ended days every hour (and at start), as the seal run's schedule rule does.
pub fn schedule_audit_seal(b: &Backends) {
    let deps = portal_audit_seal::Deps::from(&b.ports());
    every(portal_audit_seal::EVERY_SECONDS, "audit seal run", move |event| {
        let deps = deps.clone();
        async move { portal_audit_seal::handle(&deps, event).await.map(|_| ()) }
    });
}

/// Runs the automated invites every `interval_seconds` (0: never), as the schedule rule does.
pub fn schedule_invites(b: &Backends, interval_seconds: u64) {
    if interval_seconds == 0 {
        return;
    }
    let deps = portal_invites::Deps::from(&b.ports());
    every(interval_seconds, "invite run", move |event| {
        let deps = deps.clone();
        async move { portal_invites::handle(&deps, event).await.map(|_| ()) }
    });
}

/// A schedule rule in process: `run` gets EventBridge's "Scheduled Event" every
/// `interval_seconds`; a failed run is logged and the next one tries again.
fn every<F, Fut>(interval_seconds: u64, what: &'static str, run: F)
where
    F: Fn(serde_json::Value) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = Result<(), Box<dyn std::error::Error + Send + Sync>>> + Send,
{
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(interval_seconds));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            if let Err(e) = run(json!({ "source": "aws.events", "detail-type": "Scheduled Event", "detail": {} })).await {
                tracing::warn!(error = %e, "{what} failed; the next one tries again");
            }
        }
    });
}
