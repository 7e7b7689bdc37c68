//! The audit log: every PHI read/write and every auth event, append-only. The repository offers
//! `record` (an [`Actor`] did an action to a subject; put-if-absent on a fresh key, so an entry is
//! never overwritten) and reads; there is no update or delete. Entries hold ids and field names,
//! never PHI values; a PHI read names whose data was read as its subject.

use crate::keys;
use crate::ports::{Clock, Cond, Item, Query, Table};
use crate::CoreResult;
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
}

/// Who acted, in which practice, from where: every audit entry starts from one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    pub practice: String,
    pub kind: ActorKind,
    /// A principal id (patient id, staff id, sync key id), or `anonymous`.
    pub id: String,
    /// The source address as the edge saw it.
    pub source_ip: Option<String>,
}

impl From<crate::identity::session::PrincipalKind> for ActorKind {
    fn from(k: crate::identity::session::PrincipalKind) -> Self {
        match k {
            crate::identity::session::PrincipalKind::Patient => ActorKind::Patient,
            crate::identity::session::PrincipalKind::Staff => ActorKind::Staff,
            crate::identity::session::PrincipalKind::Sync => ActorKind::Sync,
        }
    }
}

impl Actor {
    pub fn new(practice: &str, kind: ActorKind, id: &str, source_ip: Option<&str>) -> Self {
        Actor { practice: practice.into(), kind, id: id.into(), source_ip: source_ip.map(str::to_string) }
    }

    /// Someone not (yet) known, e.g. a failed login.
    pub fn anonymous(practice: &str, source_ip: Option<&str>) -> Self {
        Actor::new(practice, ActorKind::Anonymous, "anonymous", source_ip)
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
    pub table: &'a dyn Table,
    pub clock: &'a dyn Clock,
}

impl AuditLog<'_> {
    /// Appends what `actor` did to `subject` in the actor's practice. Never overwrites: the key is
    /// time + random id, written only if absent.
    pub async fn record(&self, actor: &Actor, action: &str, subject: &str, outcome: Outcome, detail: Value) -> CoreResult<()> {
        let entry = AuditEntry {
            actor: actor.id.clone(),
            actor_kind: actor.kind,
            action: action.into(),
            subject: subject.into(),
            outcome,
            source_ip: actor.source_ip.clone(),
            at: self.clock.now(),
            detail,
        };
        let sk = format!("{:013}#{}", entry.at * 1000 + subsec_millis(), crate::ids::new_id());
        let item = Item::new(keys::audit(&actor.practice), sk.clone(), serde_json::to_value(&entry).map_err(crate::CoreError::backend)?)
            .with_gsi1(keys::audit_subject(&actor.practice, subject), sk);
        self.table.put(item, Cond::Absent).await?;
        Ok(())
    }

    /// Records that `actor` read a patient's health data (`what`, e.g. `account.ledger`).
    pub async fn phi_read(&self, actor: &Actor, patient_id: &str, what: &str) -> CoreResult<()> {
        self.record(actor, &format!("{what}.read"), patient_id, Outcome::Success, Value::Null).await
    }

    /// The practice's log, newest first.
    pub async fn recent(&self, practice: &str, limit: usize, cursor: Option<String>) -> CoreResult<(Vec<AuditEntry>, Option<String>)> {
        self.read(Query::new(keys::audit(practice)), limit, cursor).await
    }

    /// Everything that concerned one subject (a patient's own activity history), newest first.
    pub async fn for_subject(
        &self,
        practice: &str,
        subject: &str,
        limit: usize,
        cursor: Option<String>,
    ) -> CoreResult<(Vec<AuditEntry>, Option<String>)> {
        self.read(Query::on_gsi1(keys::audit_subject(practice, subject)), limit, cursor).await
    }

    async fn read(&self, q: Query, limit: usize, cursor: Option<String>) -> CoreResult<(Vec<AuditEntry>, Option<String>)> {
        let page = self.table.query(q.newest_first().limit(limit).after(cursor)).await?;
        let entries = page.items.iter().map(|i| i.parse()).collect::<Result<Vec<_>, _>>()?;
        Ok((entries, page.cursor))
    }
}

fn subsec_millis() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.subsec_millis() as i64).unwrap_or(0)
}
