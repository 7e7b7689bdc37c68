//! Applying what the practice's system sends: upserts and deletes stamped with the system's own
//! `lastModified`. An older stamp never overwrites a newer one, and repeating a request changes
//! nothing, so the system may resend freely (after a timeout, a crash, a restore). Every record is
//! stored in one typed [`Envelope`]; where modules find it is decided by its [`Placement`].

use super::calendar;
use super::entities::{check_id, last_modified_ms, validate, Appointment, Entity, FileMeta, FileStatus, Patient, Placement};
use super::roster;
use crate::ids::PracticeId;
use crate::ports::{Cond, Db, Item, TableError, TxOp};
use crate::table_keys;
use crate::{CoreError, CoreResult, ProblemCode};
use serde::{Deserialize, Serialize};
use serde_json::Value;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Applied {
    /// Stored (a new entity, or a newer version of one).
    Applied,
    /// Nothing changed: the same or a newer version is stored already.
    Unchanged,
}

/// One synced entity as the table holds it. `fields` is the validated record (`None` for a
/// tombstone); modules parse it into the entity's typed read model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Envelope<F = Value> {
    pub entity: String,
    pub id: String,
    /// The system's own stamp, as sent (RFC 3339).
    pub last_modified: String,
    pub last_modified_ms: i64,
    pub deleted: bool,
    pub fields: Option<F>,
    /// For statements and documents: `pending` until the uploaded file passed its check.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_status: Option<FileStatus>,
    /// Where this version's file is uploaded to (a fresh random name per version, never the
    /// published file: see `sync::service`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upload_id: Option<String>,
    /// For an image document: whether a thumbnail was made when its file was published.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub thumbnail: bool,
    /// When the portal received it (unix seconds).
    pub received_at: i64,
}

/// What the sync API answers for a stored entity (tombstones included).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Stored {
    pub entity: String,
    pub id: String,
    pub last_modified: String,
    pub deleted: bool,
    pub data: Value,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file_status: Option<FileStatus>,
}

impl From<Envelope> for Stored {
    fn from(e: Envelope) -> Self {
        Stored {
            entity: e.entity,
            id: e.id,
            last_modified: e.last_modified,
            deleted: e.deleted,
            data: e.fields.unwrap_or(Value::Null),
            file_status: e.file_status,
        }
    }
}

/// What an upsert did: the outcome, what is stored now and, for a newly stored file, its metadata
/// and upload id (the caller hands out an upload URL for it).
#[derive(Debug, Clone)]
pub struct Upserted {
    pub applied: Applied,
    pub stored: Stored,
    pub new_file: Option<(FileMeta, String)>,
}

/// What a delete did, and the version it replaced when it applied.
#[derive(Debug, Clone)]
pub struct Deleted {
    pub applied: Applied,
    pub replaced: Option<Envelope>,
}

/// The outcome of [`SyncStore::write_if_newer`]: what is stored now and what it replaced.
struct Written {
    applied: Applied,
    now: Envelope,
    replaced: Option<Envelope>,
}

pub struct SyncStore<'a> {
    pub db: Db<'a>,
}

/// The table key of a synced entity.
pub fn entity_key(practice: &PracticeId, entity: Entity, id: &str) -> (String, String) {
    (table_keys::practice(practice), table_keys::sync_entity(entity.name(), id))
}

/// The index key that puts a record where modules read it.
fn index_key(practice: &PracticeId, entity: Entity, id: &str, placement: &Placement) -> (String, String) {
    match placement {
        Placement::Patient { patient_id, date } => {
            (table_keys::patient_data(practice, patient_id), table_keys::record_sort(entity.name(), Some(date), id))
        }
        Placement::Family { guarantor_id } => {
            (table_keys::family(practice, guarantor_id), table_keys::record_sort(entity.name(), None, id))
        }
        Placement::Practice { date } => (table_keys::practice_data(practice), table_keys::record_sort(entity.name(), date.as_deref(), id)),
    }
}

/// The index entries some entities keep beside their record, written in the record's own
/// transaction: patients in the staff roster, appointments in the invite calendar. `fields`:
/// the validated record, `None` for a delete.
fn derived_index_ops(practice: &PracticeId, entity: Entity, id: &str, fields: Option<&Value>) -> CoreResult<Vec<TxOp>> {
    fn typed<T: serde::de::DeserializeOwned>(fields: Option<&Value>) -> CoreResult<Option<T>> {
        fields.map(|f| serde_json::from_value(f.clone()).map_err(CoreError::backend)).transpose()
    }
    match entity {
        Entity::Patients => roster::index_ops(practice, id, typed::<Patient>(fields)?.as_ref()),
        Entity::Appointments => calendar::index_ops(practice, id, typed::<Appointment>(fields)?.as_ref()),
        _ => Ok(vec![]),
    }
}

impl SyncStore<'_> {
    /// Validates and stores `body` (its fields plus `lastModified`) unless a version at least as
    /// new is stored.
    pub async fn upsert(&self, practice: &PracticeId, entity: Entity, id: &str, mut body: Value) -> CoreResult<Upserted> {
        check_id("id", id)?;
        let obj = body.as_object_mut().ok_or_else(|| CoreError::invalid(ProblemCode::FieldInvalid, "the body is a JSON object"))?;
        let stamp = obj
            .remove("lastModified")
            .and_then(|v| v.as_str().map(str::to_string))
            .ok_or_else(|| CoreError::invalid(ProblemCode::FieldInvalid, "lastModified: required (RFC 3339)"))?;
        let stamp_ms = last_modified_ms(&stamp)?;
        let valid = validate(entity, id, body)?;
        let also = derived_index_ops(practice, entity, id, Some(&valid.fields))?;
        let envelope = Envelope {
            entity: entity.name().into(),
            id: id.into(),
            last_modified: stamp,
            last_modified_ms: stamp_ms,
            deleted: false,
            fields: Some(valid.fields),
            file_status: valid.file.as_ref().map(|_| FileStatus::Pending),
            upload_id: valid.file.as_ref().map(|_| crate::ids::new_id()),
            thumbnail: false,
            received_at: self.db.clock.now(),
        };
        let index = index_key(practice, entity, id, &valid.placement);
        let Written { applied, now, .. } = self.write_if_newer(practice, entity, id, envelope, Some(index), also).await?;
        let new_file = match (applied, valid.file, now.upload_id.clone()) {
            (Applied::Applied, Some(file), Some(upload_id)) => Some((file, upload_id)),
            _ => None,
        };
        Ok(Upserted { applied, stored: now.into(), new_file })
    }

    /// Deletes an entity as of `stamp`: a tombstone stays (out of every index), so an older
    /// upsert arriving later cannot bring it back. Answers what happened and, when applied, the
    /// version it replaced (its file and pending upload go with it).
    pub async fn delete(&self, practice: &PracticeId, entity: Entity, id: &str, stamp: &str) -> CoreResult<Deleted> {
        check_id("id", id)?;
        let envelope = Envelope {
            entity: entity.name().into(),
            id: id.into(),
            last_modified: stamp.into(),
            last_modified_ms: last_modified_ms(stamp)?,
            deleted: true,
            fields: None,
            file_status: None,
            upload_id: None,
            thumbnail: false,
            received_at: self.db.clock.now(),
        };
        let also = derived_index_ops(practice, entity, id, None)?;
        let written = self.write_if_newer(practice, entity, id, envelope, None, also).await?;
        Ok(Deleted { applied: written.applied, replaced: written.replaced })
    }

    /// The one rule of the sync store: write `next` unless what is stored is stamped at least as
    /// new (then answer it unchanged). Read, compare, write conditionally on the version read; a
    /// writer that got in between makes us look again. `also` (derived index entries) is written
    /// in the same transaction, so it follows exactly the versions that win.
    async fn write_if_newer(
        &self,
        practice: &PracticeId,
        entity: Entity,
        id: &str,
        next: Envelope,
        index: Option<(String, String)>,
        also: Vec<TxOp>,
    ) -> CoreResult<Written> {
        let (pk, sk) = entity_key(practice, entity, id);
        let data = serde_json::to_value(&next).map_err(CoreError::backend)?;
        for _ in 0..3 {
            let current = self.db.table.get(&pk, &sk).await?;
            let replaced = match current.as_ref().map(Item::parse::<Envelope>).transpose()? {
                Some(cur) if cur.last_modified_ms >= next.last_modified_ms => {
                    return Ok(Written { applied: Applied::Unchanged, now: cur, replaced: None })
                }
                other => other,
            };
            let mut item = Item::new(pk.clone(), sk.clone(), data.clone()).with_version(current.as_ref().map_or(1, |c| c.version + 1));
            if let Some((gpk, gsk)) = &index {
                item = item.with_gsi1(gpk.clone(), gsk.clone());
            }
            let cond = current.as_ref().map_or(Cond::Absent, |c| Cond::Version(c.version));
            let written = if also.is_empty() {
                self.db.table.put(item, cond).await
            } else {
                self.db.table.transact([TxOp::Put(item, cond)].into_iter().chain(also.iter().cloned()).collect()).await
            };
            match written {
                Ok(()) => return Ok(Written { applied: Applied::Applied, now: next, replaced }),
                // Someone wrote in between (or a transaction was in flight): look again.
                Err(TableError::ConditionFailed | TableError::TransactionCanceled { .. }) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(CoreError::Conflict {
            code: ProblemCode::SyncContended,
            detail: "The entity kept changing while this was applied; send it again.".into(),
            current: None,
        })
    }

    /// What is stored, tombstones included (the system reconciles against it).
    pub async fn get(&self, practice: &PracticeId, entity: Entity, id: &str) -> CoreResult<Envelope> {
        check_id("id", id)?;
        let (pk, sk) = entity_key(practice, entity, id);
        let item = self.db.table.get(&pk, &sk).await?.ok_or(CoreError::NotFound)?;
        Ok(item.parse()?)
    }

    /// Records the outcome of an uploaded file's check (a live entity only), and whether a
    /// thumbnail was made for it.
    pub async fn set_file_status(
        &self,
        practice: &PracticeId,
        entity: Entity,
        id: &str,
        status: FileStatus,
        thumbnail: bool,
    ) -> CoreResult<Envelope> {
        let (pk, sk) = entity_key(practice, entity, id);
        let mut item = self.db.table.get(&pk, &sk).await?.ok_or(CoreError::NotFound)?;
        let mut env = item.parse::<Envelope>()?;
        if env.deleted {
            return Err(CoreError::NotFound);
        }
        let expected = item.version;
        env.file_status = Some(status);
        env.thumbnail = thumbnail;
        item.data = serde_json::to_value(&env).map_err(CoreError::backend)?.into();
        item.version += 1;
        self.db.table.put(item, Cond::Version(expected)).await?;
        Ok(env)
    }
}
