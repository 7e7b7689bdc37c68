//! Names for the ids the practice's records keep (the audit log stores ids only, never names):
//! a patient by their synced record, a staff member by their login, a sync key by its label. For
//! staff eyes only; one read per distinct id, and an id it cannot name is simply left out.

use crate::audit::{ActorKind, AuditEntry};
use crate::identity::credentials::Credentials;
use crate::ids::PracticeId;
use crate::ports::Db;
use crate::sync::entities::Patient;
use crate::sync::records::PatientRecords;
use crate::sync::signing::{practice_of_key, SyncKey};
use crate::table_keys;
use crate::CoreResult;
use std::collections::BTreeMap;

/// Subjects that are words, not ids.
const NOT_IDS: [&str; 5] = ["settings", "batch", "unknown-account", "anonymous", "patients"];

pub struct DisplayNames<'a> {
    pub db: Db<'a>,
}

impl DisplayNames<'_> {
    /// Display names for the actors and subjects of these entries, by id.
    pub async fn names(&self, practice: &PracticeId, entries: &[AuditEntry]) -> CoreResult<BTreeMap<String, String>> {
        let mut wanted: BTreeMap<&str, ActorKind> = BTreeMap::new();
        for e in entries {
            wanted.insert(&e.actor, e.actor_kind);
            if !NOT_IDS.contains(&e.subject.as_str()) && !e.subject.contains('/') {
                wanted.entry(&e.subject).or_insert_with(|| kind_of(&e.subject));
            }
        }
        let mut names = BTreeMap::new();
        for (id, kind) in wanted {
            if let Some(name) = self.name(practice, id, kind).await? {
                names.insert(id.to_string(), name);
            }
        }
        Ok(names)
    }

    async fn name(&self, practice: &PracticeId, id: &str, kind: ActorKind) -> CoreResult<Option<String>> {
        Ok(match kind {
            ActorKind::Anonymous | ActorKind::System => None,
            ActorKind::Patient => PatientRecords { db: self.db }.get::<Patient>(practice, id).await?.map(|p| p.record.display_name()),
            ActorKind::Staff => Credentials { db: self.db }.by_principal(practice, id).await?.map(|(c, _)| {
                if c.display_name.trim().is_empty() {
                    c.username.to_string()
                } else {
                    c.display_name
                }
            }),
            ActorKind::Sync if practice_of_key(id) == Some(practice) => {
                let item = self.db.table.get(&table_keys::practice(practice), &table_keys::sync_key(id)).await?;
                item.map(|i| i.parse::<SyncKey>()).transpose()?.map(|k| k.label)
            }
            ActorKind::Sync => None,
        })
    }
}

/// What an audit subject names, from its shape: staff ids and sync key ids are recognisable;
/// anything else is taken for a patient id.
fn kind_of(subject: &str) -> ActorKind {
    if subject.starts_with(crate::identity::provision::STAFF_ID_PREFIX) {
        ActorKind::Staff
    } else if practice_of_key(subject).is_some() {
        ActorKind::Sync
    } else {
        ActorKind::Patient
    }
}
