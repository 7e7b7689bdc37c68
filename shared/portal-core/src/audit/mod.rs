//! The audit log: every PHI read/write and every auth event, append-only. The repository offers
//! `record` (an [`Actor`] did an action to a subject; put-if-absent on a fresh key, so an entry is
//! never overwritten) and reads; there is no update or delete. Entries hold ids and field names,
//! never PHI values; a PHI read names whose data was read as its subject.

mod actions;
pub mod seal;

pub use actions::{AuditAction, AuditCategory};

use crate::ids::PracticeId;
use crate::ports::{Cond, Db, Item, Query, TxOp};
use crate::table_keys;
use crate::{CoreResult, ProblemCode};
use serde::{Deserialize, Serialize};
use serde_json::Value;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    Success,
    Failure,
    Denied,
}

/// What kind of principal acted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ActorKind {
    Patient,
    Staff,
    /// The practice's own system, by a sync key.
    Sync,
    /// Nobody known yet (a failed login).
    Anonymous,
    /// The portal itself, on a schedule (automated invites).
    System,
}

/// Who acted, in which practice, from where: every audit entry starts from one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    pub practice: PracticeId,
    pub kind: ActorKind,
    /// A principal id (patient id, staff id, sync key id), or `anonymous`.
    pub id: String,
    /// The source address as the edge saw it.
    pub source_ip: Option<String>,
}

impl ActorKind {
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "patient" => ActorKind::Patient,
            "staff" => ActorKind::Staff,
            "sync" => ActorKind::Sync,
            "anonymous" => ActorKind::Anonymous,
            "system" => ActorKind::System,
            _ => return None,
        })
    }
}

impl Actor {
    pub fn new(practice: &PracticeId, kind: ActorKind, id: &str, source_ip: Option<&str>) -> Self {
        Actor { practice: practice.clone(), kind, id: id.into(), source_ip: source_ip.map(str::to_string) }
    }

    /// Someone not (yet) known, e.g. a failed login.
    pub fn anonymous(practice: &PracticeId, source_ip: Option<&str>) -> Self {
        Actor::new(practice, ActorKind::Anonymous, "anonymous", source_ip)
    }

    /// The portal acting on its own in a practice (`job` names what: `invites`).
    pub fn system(practice: &PracticeId, job: &str) -> Self {
        Actor::new(practice, ActorKind::System, job, None)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuditEntry {
    /// Who acted: a principal id, or `anonymous` for failed logins.
    pub actor: String,
    pub actor_kind: ActorKind,
    /// What happened, e.g. `auth.login`, `settings.features.update`, `account.ledger.read`.
    pub action: String,
    /// Whose data or which thing it concerns (a patient id for a PHI read or write, `settings`,
    /// an entity as `kind/id`).
    pub subject: String,
    pub outcome: Outcome,
    /// Source address as the edge saw it.
    pub source_ip: Option<String>,
    /// Unix seconds.
    pub at: i64,
    /// Extra facts (before/after of settings, a reason code). Never PHI.
    #[serde(default)]
    pub detail: Value,
}

pub struct AuditLog<'a> {
    pub db: Db<'a>,
}

impl AuditLog<'_> {
    /// Appends what `actor` did to `subject` in the actor's practice. Never overwrites: the key is
    /// time + random id, written only if absent ([`crate::ports::put_fresh`]).
    pub async fn record(&self, actor: &Actor, action: AuditAction, subject: &str, outcome: Outcome, detail: Value) -> CoreResult<()> {
        crate::ports::put_fresh(self.db.table, self.entry_item(actor, action, subject, outcome, detail)?).await?;
        Ok(())
    }

    /// The same entry as a write for the transaction of the change it records: the change and
    /// its audit entry are stored together or not at all, so a change never goes unrecorded and a
    /// failed audit write never leaves a change behind that the caller was told did not happen.
    pub fn entry(&self, actor: &Actor, action: AuditAction, subject: &str, outcome: Outcome, detail: Value) -> CoreResult<TxOp> {
        Ok(TxOp::Put(self.entry_item(actor, action, subject, outcome, detail)?, Cond::Absent))
    }

    /// An entry on a fresh key (put-if-absent: never overwritten).
    fn entry_item(&self, actor: &Actor, action: AuditAction, subject: &str, outcome: Outcome, detail: Value) -> CoreResult<Item> {
        let entry = AuditEntry {
            actor: actor.id.clone(),
            actor_kind: actor.kind,
            action: action.as_str().into(),
            subject: subject.into(),
            outcome,
            source_ip: actor.source_ip.clone(),
            at: self.db.clock.now(),
            detail,
        };
        let sk = format!("{:013}#{}", entry.at * 1000 + subsec_millis(), crate::ids::new_id());
        let item =
            Item::new(table_keys::audit(&actor.practice), sk.clone(), serde_json::to_value(&entry).map_err(crate::CoreError::backend)?)
                .with_gsi1(table_keys::audit_subject(&actor.practice, subject), sk);
        Ok(item)
    }

    /// Records that `actor` read a patient's health data (`what`, e.g. [`AuditAction::AccountLedgerRead`]).
    pub async fn phi_read(&self, actor: &Actor, patient_id: &str, what: AuditAction) -> CoreResult<()> {
        self.record(actor, what, patient_id, Outcome::Success, Value::Null).await
    }

    /// Records that `actor` read `what` of `patient_id` once for the session `session_id` (its
    /// token's hash): the first read writes the entry together with a marker that lasts as long
    /// as a session can; later reads of the session find the marker and write nothing. For what
    /// every page of a session shows again (the family list of `/v1/me`), where one entry says all
    /// the log needs to — who read it, when the session first did — and a write per page load
    /// would only slow every page down. `session_lasts`: the longest a session can live, in seconds
    /// (the marker must outlive the session it stands for).
    pub async fn phi_read_once_per_session(
        &self,
        actor: &Actor,
        (session_id, session_lasts): (&str, i64),
        patient_id: &str,
        what: AuditAction,
    ) -> CoreResult<()> {
        if session_id.is_empty() {
            return self.phi_read(actor, patient_id, what).await;
        }
        let (pk, sk) = (table_keys::practice(&actor.practice), table_keys::session_read(session_id, what.as_str(), patient_id));
        if self.db.table.get(&pk, &sk).await?.is_some() {
            return Ok(());
        }
        let expires = self.db.clock.now() + session_lasts;
        let marker = Item::new(pk, sk, serde_json::json!({})).expiring_at(expires);
        let entry = self.entry_item(actor, what, patient_id, Outcome::Success, serde_json::json!({ "oncePerSession": true }))?;
        match self.db.table.transact(vec![TxOp::Put(entry, Cond::Absent), TxOp::Put(marker, Cond::Absent)]).await {
            // Another request of the same session recorded it first.
            Err(crate::ports::TableError::TransactionCanceled { failed }) if failed == [1] => Ok(()),
            other => Ok(other?),
        }
    }

    /// Records that staff saw a list naming patients (`what`: [`AuditAction::RosterRead`] for a
    /// patient search, …): one entry naming every patient listed.
    pub async fn patients_listed(&self, actor: &Actor, what: AuditAction, patient_ids: &[&str]) -> CoreResult<()> {
        self.record(actor, what, "patients", Outcome::Success, serde_json::json!({ "patientIds": patient_ids })).await
    }

    /// Everything that concerned one subject (a patient's own activity history), newest first.
    pub async fn for_subject(
        &self,
        practice: &PracticeId,
        subject: &str,
        limit: usize,
        cursor: Option<String>,
    ) -> CoreResult<(Vec<AuditEntry>, Option<String>)> {
        self.read(Query::on_gsi1(table_keys::audit_subject(practice, subject)), limit, cursor).await
    }

    /// One page of the practice's log that passes `filter`, newest first. The date range is a key
    /// range; who and what are checked on each entry, so a page reads at most [`SEARCH_SCAN`]
    /// entries and may come back short with a cursor to go on from. The cursor is this log's own
    /// (the key of the last entry looked at), so it can resume in the middle of a table page.
    pub async fn search(&self, practice: &PracticeId, filter: &AuditFilter, limit: usize, cursor: Option<&str>) -> CoreResult<AuditSearch> {
        let second = |t: i64| t.clamp(0, MAX_UNIX_SECONDS) * 1000;
        let low = format!("{:013}", second(filter.from.unwrap_or(0)));
        let high = match cursor {
            Some(c) => decode_search_cursor(c)?,
            None => format!("{:013}~", second(filter.to.unwrap_or(MAX_UNIX_SECONDS)) + 999),
        };
        let mut out = AuditSearch { entries: vec![], cursor: None };
        let (mut scanned, mut table_cursor) = (0, None);
        loop {
            let q = Query::new(table_keys::audit(practice))
                .between(low.clone(), high.clone())
                .newest_first()
                .limit(SEARCH_PAGE)
                .after(table_cursor);
            let page = self.db.table.query(q).await?;
            for item in &page.items {
                // The upper bound is inclusive; the cursor's own entry was on the last page.
                if cursor.is_some() && item.sk == high {
                    continue;
                }
                scanned += 1;
                let entry: AuditEntry = item.parse()?;
                if filter.admits(&entry) {
                    out.entries.push(entry);
                }
                if out.entries.len() == limit || scanned == SEARCH_SCAN {
                    out.cursor = Some(crate::ids::b64url(item.sk.as_bytes()));
                    return Ok(out);
                }
            }
            match page.cursor {
                Some(c) => table_cursor = Some(c),
                None => return Ok(out),
            }
        }
    }

    async fn read(&self, q: Query, limit: usize, cursor: Option<String>) -> CoreResult<(Vec<AuditEntry>, Option<String>)> {
        let page = self.db.table.query(q.newest_first().limit(limit).after(cursor)).await?;
        let entries = page.items.iter().map(|i| i.parse()).collect::<Result<Vec<_>, _>>()?;
        Ok((entries, page.cursor))
    }
}

/// How many entries one search page looks at, at most, and how many it asks the table for at once.
pub const SEARCH_SCAN: usize = 1000;
const SEARCH_PAGE: usize = 200;

/// Which entries the audit view wants; every field optional.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    /// Unix seconds, inclusive.
    pub from: Option<i64>,
    pub to: Option<i64>,
    pub actor_kind: Option<ActorKind>,
    /// One principal (patient id, staff id, sync key id).
    pub actor: Option<String>,
    pub category: Option<AuditCategory>,
}

/// The last second the log's keys can hold (they start with 13 digits of milliseconds).
pub const MAX_UNIX_SECONDS: i64 = 9_999_999_999;
/// The longest principal id the filter takes (ids are far shorter).
pub const ACTOR_MAX: usize = 200;

impl AuditFilter {
    /// The filter from its query-string form (`actorKind` and `what` by name); anything out of
    /// range or unknown is an `invalid_query` problem naming the parameter.
    pub fn parse(
        from: Option<i64>,
        to: Option<i64>,
        actor_kind: Option<&str>,
        actor: Option<String>,
        what: Option<&str>,
    ) -> CoreResult<Self> {
        let bad = |name: &str| {
            crate::CoreError::invalid(ProblemCode::InvalidQuery, format!("The audit filter '{name}' has a value this log does not know."))
        };
        let time = |t: Option<i64>, name| t.map(|t| if (0..=MAX_UNIX_SECONDS).contains(&t) { Ok(t) } else { Err(bad(name)) }).transpose();
        Ok(AuditFilter {
            from: time(from, "from")?,
            to: time(to, "to")?,
            actor_kind: actor_kind.map(|k| ActorKind::parse(k).ok_or_else(|| bad("actorKind"))).transpose()?,
            actor: match actor.filter(|a| !a.is_empty()) {
                Some(a) if a.chars().count() > ACTOR_MAX => return Err(bad("actor")),
                a => a,
            },
            category: what.map(|w| AuditCategory::parse(w).ok_or_else(|| bad("what"))).transpose()?,
        })
    }

    fn admits(&self, e: &AuditEntry) -> bool {
        self.actor_kind.is_none_or(|k| k == e.actor_kind)
            && self.actor.as_deref().is_none_or(|a| a == e.actor)
            && self.category.is_none_or(|c| AuditCategory::of(&e.action) == Some(c))
    }
}

#[derive(Debug, Clone)]
pub struct AuditSearch {
    pub entries: Vec<AuditEntry>,
    /// Where the next page starts; `None` at the end of the log.
    pub cursor: Option<String>,
}

fn decode_search_cursor(c: &str) -> CoreResult<String> {
    crate::ids::b64url_decode(c)
        .and_then(|b| String::from_utf8(b).ok())
        .filter(|sk| sk.len() > 13 && sk.as_bytes()[..13].iter().all(u8::is_ascii_digit))
        .ok_or_else(|| crate::CoreError::invalid(ProblemCode::CursorInvalid, "The cursor is not one this log gave out."))
}

fn subsec_millis() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| i64::from(d.subsec_millis())).unwrap_or(0)
}
