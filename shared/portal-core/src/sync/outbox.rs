//! The way back to the practice: everything patients do that the practice must act on is recorded
//! in a per-practice outbox **first**, then published through the `Events` port. The on-site
//! system pulls the outbox (`GET /v1/sync/events?after=`) and acknowledges what it has handled;
//! nothing is lost when EventBridge is down, nothing is handed out again after an acknowledgement.
//!
//! An event is also marked *unpublished* (an entry in the `OUTBOX#UNPUBLISHED` index) when it is
//! recorded, and the mark is cleared once the `Events` port took it. The relay ([`Outbox::relay`],
//! on a schedule) publishes whatever is still marked a minute later, so a failed `PutEvents` at
//! commit delays a notification but never loses it. Subscribers handle an event twice harmlessly
//! (a WebMail notification goes out once per message).

use super::events::PortalEvent;
use crate::ids::EventId;
use crate::ids::PracticeId;
use crate::ports::{Clock, Cond, Db, DomainEvent, Events, Item, Query, TableError, TxOp};
use crate::table_keys;
use crate::{CoreError, CoreResult, ProblemCode};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// How long an event waits in the outbox before it expires unhandled.
pub const RETENTION_SECONDS: i64 = 90 * 24 * 60 * 60;
/// An event still unpublished this long after it was recorded is the relay's to publish (the
/// commit that recorded it publishes it itself, at once, when it can).
pub const RELAY_AFTER_MICROS: i64 = 60_000_000;
/// Events are handed out only once this old. Ids carry the writer's time, and a write in flight
/// on another container could land with an id just before one already handed out; waiting a
/// moment means a cursor never skips past it.
pub const SETTLE_MICROS: i64 = 2_000_000;

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OutboxEvent {
    /// Also the cursor: events come in the order of their ids.
    pub id: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub at: i64,
    pub detail: Value,
}

/// An event as the table holds it (its id is the sort key).
#[derive(Debug, Serialize, Deserialize)]
struct StoredEvent {
    #[serde(rename = "type")]
    kind: String,
    at: i64,
    detail: Value,
}

/// The practice system's acknowledgement as the table holds it.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct StoredAck {
    up_to: String,
    at: i64,
}

pub struct Outbox<'a> {
    pub db: Db<'a>,
    pub events: &'a dyn Events,
}

/// An event as the outbox holds it, without the unpublished mark.
fn stored_item(practice: &PracticeId, event: &OutboxEvent) -> CoreResult<Item> {
    let stored = StoredEvent { kind: event.kind.clone(), at: event.at, detail: event.detail.clone() };
    Ok(Item::new(table_keys::outbox(practice), event.id.clone(), serde_json::to_value(&stored).map_err(CoreError::backend)?)
        .expiring_at(event.at + RETENTION_SECONDS))
}

/// Microseconds since the epoch: the clock's seconds, the system's sub-second part (tests move
/// the clock by whole seconds).
fn micros(clock: &dyn Clock) -> i64 {
    let sub = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| i64::from(d.subsec_micros())).unwrap_or(0);
    clock.now() * 1_000_000 + sub
}

impl Outbox<'_> {
    /// Records an event, then publishes it. A publishing failure
    /// is logged, not returned: the outbox already holds the event.
    pub async fn record(&self, practice: &PracticeId, event: PortalEvent) -> CoreResult<OutboxEvent> {
        let (item, event) = self.prepare(practice, event)?;
        crate::ports::put_fresh(self.db.table, item).await?;
        self.publish(practice, &event).await;
        Ok(event)
    }

    /// Writes `ops` and the events that report them in one transaction (the change and its events
    /// are stored together or not at all), then publishes the events. The table's answer comes back
    /// as it is, so a caller can retry a conflict: the events go after `ops`, so the index of a
    /// failed condition is the caller's own.
    pub async fn transact(&self, practice: &PracticeId, mut ops: Vec<TxOp>, events: Vec<PortalEvent>) -> Result<(), TableError> {
        let mut recorded = Vec::with_capacity(events.len());
        for event in events {
            let (item, event) = self.prepare(practice, event).map_err(|e| TableError::Backend(e.to_string()))?;
            ops.push(TxOp::Put(item, Cond::Absent));
            recorded.push(event);
        }
        self.db.table.transact(ops).await?;
        for event in &recorded {
            self.publish(practice, event).await;
        }
        Ok(())
    }

    /// An event and the item that records it (unpublished until [`Outbox::publish`] clears its mark).
    fn prepare(&self, practice: &PracticeId, event: PortalEvent) -> CoreResult<(Item, OutboxEvent)> {
        let (kind, detail) = event.into_parts()?;
        let at = self.db.clock.now();
        let id = format!("{:016}#{}", micros(self.db.clock), &crate::ids::new_id()[..16]);
        let event = OutboxEvent { id: id.clone(), kind, at, detail };
        let item = stored_item(practice, &event)?.with_gsi1(table_keys::OUTBOX_UNPUBLISHED, table_keys::unpublished(&id, practice));
        Ok((item, event))
    }

    /// Publishes a recorded event and clears its unpublished mark; a failure is logged (the
    /// outbox holds the event, and the relay publishes it later).
    pub async fn publish(&self, practice: &PracticeId, event: &OutboxEvent) {
        let published = self
            .events
            .publish(&[DomainEvent { practice_id: practice.into(), detail_type: event.kind.clone(), detail: event.detail.clone() }])
            .await;
        let cleared = match published {
            Ok(()) => match stored_item(practice, event) {
                // The same item without its index entry; gone already (expired) is fine.
                Ok(item) => match self.db.table.put(item, Cond::Exists).await {
                    Ok(()) | Err(TableError::ConditionFailed) => Ok(()),
                    Err(e) => Err(e.to_string()),
                },
                Err(e) => Err(e.to_string()),
            },
            Err(e) => Err(e.to_string()),
        };
        if let Err(e) = cleared {
            tracing::warn!(event = %event.id, kind = %event.kind, error = %e, "event left to the relay; publishing failed");
        }
    }

    /// Publishes every event, of any practice, still unpublished a minute after it was recorded
    /// (at most `limit` of the oldest); answers how many it published.
    pub async fn relay(&self, limit: usize) -> CoreResult<usize> {
        let before = format!("{:016}", micros(self.db.clock) - RELAY_AFTER_MICROS);
        let q = Query::on_gsi1(table_keys::OUTBOX_UNPUBLISHED).between("0", before).limit(limit.clamp(1, 500));
        let page = self.db.table.query(q).await?;
        let mut published = 0;
        for item in &page.items {
            // The index may lag behind a clear: read the event itself before publishing it again.
            let Some(current) = self.db.table.get(&item.pk, &item.sk).await? else { continue };
            let Some(practice) = current.gsi1sk.as_deref().and_then(|sk| sk.split_once('|')).and_then(|(_, p)| PracticeId::parse(p)) else {
                continue;
            };
            let e: StoredEvent = current.parse()?;
            self.publish(&practice, &OutboxEvent { id: current.sk.clone(), kind: e.kind, at: e.at, detail: e.detail }).await;
            published += 1;
        }
        Ok(published)
    }

    /// How long ago the oldest event still unpublished was recorded, in seconds (`None`: all are
    /// published). Operators are alarmed when it passes 15 minutes: the relay is not keeping up.
    pub async fn oldest_unpublished_seconds(&self) -> CoreResult<Option<i64>> {
        let page = self.db.table.query(Query::on_gsi1(table_keys::OUTBOX_UNPUBLISHED).between("0", "9").limit(1)).await?;
        // The sort key starts with the event id, whose first part is when it was recorded (µs).
        let recorded = page.items.first().and_then(|i| i.gsi1sk.as_deref()?.split(['#', '|']).next()?.parse::<i64>().ok());
        Ok(recorded.map(|at| ((micros(self.db.clock) - at) / 1_000_000).max(0)))
    }

    /// Events after `after` (and after the last acknowledgement), oldest first.
    pub async fn list(&self, practice: &PracticeId, after: Option<&str>, limit: usize) -> CoreResult<(Vec<OutboxEvent>, Option<String>)> {
        if after.is_some_and(|a| EventId::parse(a).is_none()) {
            return Err(CoreError::invalid(ProblemCode::CursorInvalid, "after: an event id from an earlier answer"));
        }
        let acked = self.acked(practice).await?;
        let from = match (after, acked.as_deref()) {
            (Some(a), Some(k)) => Some(a.max(k).to_string()),
            (a, k) => a.or(k).map(str::to_string),
        };
        // Keys sort by id: from just past `from` up to what has settled.
        let settled = format!("{:016}#", micros(self.db.clock) - SETTLE_MICROS);
        // Ids start with a digit, so "0" is before them all (a key bound may not be empty).
        let start = from.as_ref().map(|f| format!("{f}\u{0}")).unwrap_or_else(|| "0".into());
        let q = Query::new(table_keys::outbox(practice)).limit(limit.clamp(1, 500)).between(start, settled);
        let page = self.db.table.query(q).await?;
        let mut events = Vec::with_capacity(page.items.len());
        for i in &page.items {
            let e: StoredEvent = i.parse()?;
            events.push(OutboxEvent { id: i.sk.clone(), kind: e.kind, at: e.at, detail: e.detail });
        }
        let next = events.last().map(|e| e.id.clone()).or(from);
        Ok((events, next))
    }

    /// Acknowledges every event up to and including `up_to`; they are not handed out again.
    pub async fn ack(&self, practice: &PracticeId, up_to: &str) -> CoreResult<String> {
        if EventId::parse(up_to).is_none() {
            return Err(CoreError::invalid(ProblemCode::CursorInvalid, "upTo: an event id from an earlier answer"));
        }
        for _ in 0..3 {
            let current = self.db.table.get(&table_keys::practice(practice), table_keys::OUTBOX_ACK).await?;
            let (acked, version) = match &current {
                Some(i) => (i.parse::<StoredAck>()?.up_to, i.version),
                None => (String::new(), 0),
            };
            if acked.as_str() >= up_to {
                return Ok(acked);
            }
            let ack = StoredAck { up_to: up_to.to_string(), at: self.db.clock.now() };
            let item =
                Item::new(table_keys::practice(practice), table_keys::OUTBOX_ACK, serde_json::to_value(&ack).map_err(CoreError::backend)?)
                    .with_version(version + 1);
            let cond = if version == 0 { Cond::Absent } else { Cond::Version(version) };
            match self.db.table.put(item, cond).await {
                Ok(()) => return Ok(up_to.to_string()),
                Err(TableError::ConditionFailed) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(CoreError::Conflict { code: ProblemCode::AckContended, detail: "Acknowledgements raced; send it again.".into(), current: None })
    }

    async fn acked(&self, practice: &PracticeId) -> CoreResult<Option<String>> {
        match self.db.table.get(&table_keys::practice(practice), table_keys::OUTBOX_ACK).await? {
            Some(i) => Ok(Some(i.parse::<StoredAck>()?.up_to)),
            None => Ok(None),
        }
    }
}
