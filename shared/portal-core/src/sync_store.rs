//! Applying what the practice's system sends: upserts and deletes stamped with the system's own
//! `lastModified`. An older stamp never overwrites a newer one, and repeating a request changes
//! nothing, so the system may resend freely (after a timeout, a crash, a restore).

use crate::keys;
use crate::ports::{Clock, Cond, Item, Table, TableError};
use crate::sync_data::{check_id, last_modified_ms, validate, Entity, FileMeta};
use crate::{CoreError, CoreResult};
use serde::Serialize;
use serde_json::{json, Value};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Applied {
    /// Stored (a new entity, or a newer version of one).
    Applied,
    /// Nothing changed: the same or a newer version is stored already.
    Unchanged,
}

/// One entity as stored.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Stored {
    pub entity: &'static str,
    pub id: String,
    pub last_modified: String,
    pub deleted: bool,
    pub data: Value,
    /// For statements and documents: `pending` until the uploaded file passed its check,
    /// then `available` (or `rejected`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file_status: Option<String>,
}

pub struct SyncStore<'a> {
    pub table: &'a dyn Table,
    pub clock: &'a dyn Clock,
}

/// Where an entity's file lives in the blob store.
pub fn file_key(practice: &str, entity: Entity, id: &str) -> String {
    format!("{practice}/{}/{id}", entity.name())
}

fn stored_from(entity: Entity, id: &str, item: &Item) -> Stored {
    let d = &item.data;
    Stored {
        entity: entity.name(),
        id: id.to_string(),
        last_modified: d["lastModified"].as_str().unwrap_or_default().to_string(),
        deleted: d["deleted"].as_bool().unwrap_or(false),
        data: d["fields"].clone(),
        file_status: d["fileStatus"].as_str().map(str::to_string),
    }
}

impl SyncStore<'_> {
    fn key(practice: &str, entity: Entity, id: &str) -> (String, String) {
        (keys::practice(practice), keys::sync_entity(entity.name(), id))
    }

    /// Validates and stores `body` (its fields plus `lastModified`) unless a version at least as
    /// new is stored. Answers what happened, the stored entity and, for a new file, its metadata.
    pub async fn upsert(
        &self,
        practice: &str,
        entity: Entity,
        id: &str,
        mut body: Value,
    ) -> CoreResult<(Applied, Stored, Option<FileMeta>)> {
        check_id("id", id)?;
        let obj = body.as_object_mut().ok_or_else(|| CoreError::invalid("field_invalid", "the body is a JSON object"))?;
        let stamp = obj
            .remove("lastModified")
            .and_then(|v| v.as_str().map(str::to_string))
            .ok_or_else(|| CoreError::invalid("field_invalid", "lastModified: required (RFC 3339)"))?;
        let stamp_ms = last_modified_ms(&stamp)?;
        let valid = validate(entity, body)?;
        let data = json!({
            "entity": entity.name(),
            "id": id,
            "lastModified": stamp,
            "lastModifiedMs": stamp_ms,
            "deleted": false,
            "fields": valid.data,
            "fileStatus": valid.file.as_ref().map(|_| "pending"),
            "receivedAt": self.clock.now(),
        });
        // A patient's data, by entity: what the modules read.
        let gsi = valid.patient_id.as_ref().map(|patient| (keys::patient_data(practice, patient), format!("{}#{id}", entity.name())));
        let (applied, item) = self.write_if_newer(practice, entity, id, stamp_ms, data, gsi).await?;
        let file = if applied == Applied::Applied { valid.file } else { None };
        Ok((applied, stored_from(entity, id, &item), file))
    }

    /// Deletes an entity as of `stamp`: a tombstone stays, so an older upsert arriving later
    /// cannot bring it back.
    pub async fn delete(&self, practice: &str, entity: Entity, id: &str, stamp: &str) -> CoreResult<Applied> {
        check_id("id", id)?;
        let stamp_ms = last_modified_ms(stamp)?;
        let data = json!({ "entity": entity.name(), "id": id, "lastModified": stamp, "lastModifiedMs": stamp_ms, "deleted": true, "fields": null, "receivedAt": self.clock.now() });
        Ok(self.write_if_newer(practice, entity, id, stamp_ms, data, None).await?.0)
    }

    /// The one rule of the sync store: write `data` unless what is stored is stamped at least as
    /// new (then answer it unchanged). Read, compare, write conditionally on the version read; a
    /// writer that got in between makes us look again.
    async fn write_if_newer(
        &self,
        practice: &str,
        entity: Entity,
        id: &str,
        stamp_ms: i64,
        data: Value,
        gsi: Option<(String, String)>,
    ) -> CoreResult<(Applied, Item)> {
        let (pk, sk) = Self::key(practice, entity, id);
        for _ in 0..3 {
            let current = self.table.get(&pk, &sk).await?;
            if let Some(cur) = current.clone().filter(|c| c.data["lastModifiedMs"].as_i64().unwrap_or(i64::MIN) >= stamp_ms) {
                return Ok((Applied::Unchanged, cur));
            }
            let mut item = Item::new(pk.clone(), sk.clone(), data.clone()).with_version(current.as_ref().map_or(1, |c| c.version + 1));
            if let Some((gpk, gsk)) = &gsi {
                item = item.with_gsi1(gpk.clone(), gsk.clone());
            }
            let cond = current.as_ref().map_or(Cond::Absent, |c| Cond::Version(c.version));
            match self.table.put(item.clone(), cond).await {
                Ok(()) => return Ok((Applied::Applied, item)),
                Err(TableError::ConditionFailed) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(CoreError::Conflict {
            code: "sync_contended",
            detail: "The entity kept changing while this was applied; send it again.".into(),
            current: None,
        })
    }

    /// What is stored, tombstones included (the system reconciles against it).
    pub async fn get(&self, practice: &str, entity: Entity, id: &str) -> CoreResult<Stored> {
        check_id("id", id)?;
        let (pk, sk) = Self::key(practice, entity, id);
        let item = self.table.get(&pk, &sk).await?.ok_or(CoreError::NotFound)?;
        Ok(stored_from(entity, id, &item))
    }

    /// Records the outcome of an uploaded file's check.
    pub async fn set_file_status(&self, practice: &str, entity: Entity, id: &str, status: &str) -> CoreResult<Stored> {
        let (pk, sk) = Self::key(practice, entity, id);
        let mut item = self.table.get(&pk, &sk).await?.ok_or(CoreError::NotFound)?;
        if item.data["deleted"].as_bool().unwrap_or(false) {
            return Err(CoreError::NotFound);
        }
        let expected = item.version;
        item.data["fileStatus"] = json!(status);
        item.version += 1;
        self.table.put(item.clone(), Cond::Version(expected)).await?;
        Ok(stored_from(entity, id, &item))
    }
}
