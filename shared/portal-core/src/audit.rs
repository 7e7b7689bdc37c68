//! The audit log: every PHI read/write and every auth event, append-only. The repository offers
//! `append` (put-if-absent on a fresh key, so an entry is never overwritten) and reads; there is no
//! update or delete. Entries hold ids and field names, never PHI values.

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

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuditEntry {
    /// Who acted: a principal id, or `anonymous` for failed logins.
    pub actor: String,
    /// `patient`, `staff`, or `anonymous`.
    pub actor_kind: String,
    /// What happened, e.g. `auth.login`, `settings.features.update`.
    pub action: String,
    /// Whose data or which thing it concerns (a patient id, `settings`, a username hash).
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
    /// Appends an entry for `practice`. Never overwrites: the key is time + random id, written only
    /// if absent.
    pub async fn append(&self, practice: &str, mut entry: AuditEntry) -> CoreResult<()> {
        entry.at = self.clock.now();
        let sk = format!("{:013}#{}", entry.at * 1000 + subsec_millis(), crate::ids::new_id());
        let subject = entry.subject.clone();
        let item = Item::new(keys::audit(practice), sk.clone(), serde_json::to_value(&entry).map_err(crate::CoreError::backend)?)
            .with_gsi1(keys::audit_subject(practice, &subject), sk);
        self.table.put(item, Cond::Absent).await?;
        Ok(())
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

/// Shorthand for building entries.
pub fn entry(
    actor: &str,
    actor_kind: &str,
    action: &str,
    subject: &str,
    outcome: Outcome,
    source_ip: Option<&str>,
    detail: Value,
) -> AuditEntry {
    AuditEntry {
        actor: actor.into(),
        actor_kind: actor_kind.into(),
        action: action.into(),
        subject: subject.into(),
        outcome,
        source_ip: source_ip.map(str::to_string),
        at: 0,
        detail,
    }
}
