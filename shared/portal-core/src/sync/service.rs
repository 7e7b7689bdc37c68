//! The sync API's use cases: upsert, delete, read, batch and the uploaded-file check, each audited
//! (ids and codes only, never field values). Handlers parse and authenticate; everything that
//! decides what happens to the practice's data is here.

use super::entities::{check_upload, Entity, FileMeta, FileStatus};
use super::store::{Applied, Stored, SyncStore};
use super::thumbnail::thumbnail_key;
use crate::audit::{Actor, AuditAction, AuditLog, Outcome};
use crate::ids::PracticeId;
use crate::ports::{Blobs, Db};
use crate::{CoreError, CoreResult, ProblemCode};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::time::Duration;

/// The most entities one batch takes.
pub const MAX_BATCH: usize = 100;
/// How long an upload URL is good for.
pub const UPLOAD_URL_SECONDS: u64 = 10 * 60;

/// Where an entity's published file lives in the blob store. No URL ever writes here: an upload
/// goes to its own one-time key ([`upload_key`]) and is copied here once it passed its check, so
/// an accepted or deleted file cannot be overwritten through an upload URL that is still valid.
pub fn file_key(practice: &PracticeId, entity: Entity, id: &str) -> String {
    format!("{practice}/{}/{id}", entity.name())
}

/// Where one version's file is uploaded to (under `uploads/`, which the bucket expires).
pub fn upload_key(practice: &PracticeId, entity: Entity, id: &str, upload_id: &str) -> String {
    format!("uploads/{practice}/{}/{id}/{upload_id}", entity.name())
}

/// How to upload a newly declared file.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Upload {
    pub method: &'static str,
    pub url: String,
    pub headers: UploadHeaders,
    pub expires_in_seconds: u64,
    pub then: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct UploadHeaders {
    #[serde(rename = "Content-Type")]
    pub content_type: String,
    #[serde(rename = "Content-Length")]
    pub content_length: String,
}

/// What one upsert or delete answers.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ItemAnswer {
    pub entity: &'static str,
    pub id: String,
    pub status: Applied,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_modified: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub upload: Option<Upload>,
}

/// One item of a batch, as sent.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BatchItem {
    pub op: BatchOp,
    pub entity: String,
    pub id: String,
    #[serde(default)]
    pub body: Option<Value>,
    #[serde(default)]
    pub last_modified: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BatchOp {
    Upsert,
    Delete,
}

/// One item's outcome in a batch answer: applied, unchanged, or rejected with a code and reason.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum BatchResult {
    Done {
        index: usize,
        #[serde(flatten)]
        answer: ItemAnswer,
    },
    Rejected {
        index: usize,
        status: &'static str,
        code: ProblemCode,
        reason: String,
    },
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct BatchSummary {
    pub applied: usize,
    pub unchanged: usize,
    pub rejected: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BatchAnswer {
    pub results: Vec<BatchResult>,
    pub summary: BatchSummary,
}

/// What the uploaded-file check answers when the file is accepted.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FileAnswer {
    pub entity: &'static str,
    pub id: String,
    pub file_status: FileStatus,
}

pub struct SyncService<'a> {
    pub db: Db<'a>,
    pub blobs: &'a dyn Blobs,
}

impl SyncService<'_> {
    fn store(&self) -> SyncStore<'_> {
        SyncStore { db: self.db }
    }

    fn audit(&self) -> AuditLog<'_> {
        AuditLog { db: self.db }
    }

    /// Every write is audited, applied or refused (ids and codes only).
    async fn audited(&self, actor: &Actor, action: AuditAction, subject: String, out: CoreResult<ItemAnswer>) -> CoreResult<ItemAnswer> {
        let (outcome, detail) = match &out {
            Ok(a) => (Outcome::Success, json!({ "status": a.status })),
            Err(e) => (Outcome::Failure, json!({ "code": e.code() })),
        };
        self.audit().record(actor, action, &subject, outcome, detail).await?;
        out
    }

    pub async fn upsert(&self, actor: &Actor, entity: &str, id: &str, body: Value) -> CoreResult<ItemAnswer> {
        let out = self.apply_upsert(&actor.practice, entity, id, body).await;
        self.audited(actor, AuditAction::SyncUpsert, format!("{entity}/{id}"), out).await
    }

    pub async fn delete(&self, actor: &Actor, entity: &str, id: &str, stamp: &str) -> CoreResult<ItemAnswer> {
        let out = self.apply_delete(&actor.practice, entity, id, stamp).await;
        self.audited(actor, AuditAction::SyncDelete, format!("{entity}/{id}"), out).await
    }

    /// What is stored, tombstones included; a read of PHI, so audited.
    pub async fn get(&self, actor: &Actor, entity: &str, id: &str) -> CoreResult<Stored> {
        let stored: Stored = self.store().get(&actor.practice, Entity::parse(entity)?, id).await?.into();
        self.audit().record(actor, AuditAction::SyncRead, &format!("{entity}/{id}"), Outcome::Success, json!({})).await?;
        Ok(stored)
    }

    /// Each item is applied on its own (each is one conditional write, so none is ever
    /// half-written); one bad item never blocks the rest. A backend failure stops the batch:
    /// what was applied stays applied, and resending the batch is harmless.
    pub async fn batch(&self, actor: &Actor, items: Vec<Value>) -> CoreResult<BatchAnswer> {
        if items.is_empty() || items.len() > MAX_BATCH {
            return Err(CoreError::invalid(ProblemCode::BatchSize, format!("A batch holds 1 to {MAX_BATCH} items.")));
        }
        let mut results = Vec::with_capacity(items.len());
        let mut summary = BatchSummary::default();
        for (index, raw) in items.into_iter().enumerate() {
            match self.apply_item(&actor.practice, raw).await {
                Ok(answer) => {
                    match answer.status {
                        Applied::Applied => summary.applied += 1,
                        Applied::Unchanged => summary.unchanged += 1,
                    }
                    results.push(BatchResult::Done { index, answer });
                }
                Err(CoreError::Backend(m)) => return Err(CoreError::Backend(m)),
                Err(e) => {
                    summary.rejected += 1;
                    results.push(BatchResult::Rejected { index, status: "rejected", code: e.code(), reason: e.to_string() });
                }
            }
        }
        let detail = serde_json::to_value(&summary).map_err(CoreError::backend)?;
        self.audit().record(actor, AuditAction::SyncBatch, "batch", Outcome::Success, detail).await?;
        Ok(BatchAnswer { results, summary })
    }

    async fn apply_item(&self, practice: &PracticeId, raw: Value) -> CoreResult<ItemAnswer> {
        let item: BatchItem = serde_json::from_value(raw).map_err(|e| CoreError::invalid(ProblemCode::InvalidItem, e.to_string()))?;
        match item.op {
            BatchOp::Upsert => {
                let body = item.body.ok_or_else(|| CoreError::invalid(ProblemCode::InvalidItem, "an upsert has a body"))?;
                self.apply_upsert(practice, &item.entity, &item.id, body).await
            }
            BatchOp::Delete => {
                let stamp = item.last_modified.ok_or_else(|| CoreError::invalid(ProblemCode::InvalidItem, "a delete has lastModified"))?;
                self.apply_delete(practice, &item.entity, &item.id, &stamp).await
            }
        }
    }

    /// Stores the entity and, for a newly declared file, hands out where to upload it.
    async fn apply_upsert(&self, practice: &PracticeId, entity: &str, id: &str, body: Value) -> CoreResult<ItemAnswer> {
        let entity = Entity::parse(entity)?;
        let done = self.store().upsert(practice, entity, id, body).await?;
        let upload = match done.new_file {
            Some((f, upload_id)) => Some(self.upload(practice, entity, id, &f, &upload_id).await?),
            None => None,
        };
        Ok(ItemAnswer {
            entity: entity.name(),
            id: id.into(),
            status: done.applied,
            last_modified: Some(done.stored.last_modified),
            upload,
        })
    }

    /// Deletes the entity; a statement's or document's file goes with it (and a pending upload).
    async fn apply_delete(&self, practice: &PracticeId, entity: &str, id: &str, stamp: &str) -> CoreResult<ItemAnswer> {
        let entity = Entity::parse(entity)?;
        let deleted = self.store().delete(practice, entity, id, stamp).await?;
        if deleted.applied == Applied::Applied && entity.has_file() {
            self.blobs.delete(&file_key(practice, entity, id)).await?;
            if deleted.replaced.as_ref().is_some_and(|r| r.thumbnail) {
                self.blobs.delete(&thumbnail_key(practice, entity, id)).await?;
            }
            if let Some(upload_id) = deleted.replaced.and_then(|b| b.upload_id) {
                self.blobs.delete(&upload_key(practice, entity, id, &upload_id)).await?;
            }
        }
        Ok(ItemAnswer { entity: entity.name(), id: id.into(), status: deleted.applied, last_modified: None, upload: None })
    }

    async fn upload(&self, practice: &PracticeId, entity: Entity, id: &str, f: &FileMeta, upload_id: &str) -> CoreResult<Upload> {
        let expires = Duration::from_secs(UPLOAD_URL_SECONDS);
        let url = self.blobs.presign_put(&upload_key(practice, entity, id, upload_id), &f.content_type, f.size, expires).await?;
        Ok(Upload {
            method: "PUT",
            url,
            headers: UploadHeaders { content_type: f.content_type.clone(), content_length: f.size.to_string() },
            expires_in_seconds: UPLOAD_URL_SECONDS,
            then: format!("POST /v1/sync/{}/{id}/uploaded", entity.name()),
        })
    }

    /// After the upload: the file must be there, of the declared size, and its bytes of the
    /// declared type. Then it is published (copied to the entity's file key, out of reach of the
    /// upload URL) and its upload deleted; otherwise the upload is deleted, the entity's file
    /// marked rejected, and the answer is `file_rejected` (422). Asking again after acceptance
    /// answers the same and changes nothing.
    pub async fn uploaded(&self, actor: &Actor, entity: &str, id: &str) -> CoreResult<FileAnswer> {
        let practice = &actor.practice;
        let e = Entity::parse(entity)?;
        if !e.has_file() {
            return Err(CoreError::invalid(ProblemCode::EntityHasNoFile, format!("{} have no file.", e.name())));
        }
        let stored = self.store().get(practice, e, id).await?;
        let accepted = FileAnswer { entity: e.name(), id: id.into(), file_status: FileStatus::Available };
        if stored.file_status == Some(FileStatus::Available) {
            return Ok(accepted);
        }
        let (Some(fields), Some(upload_id)) = (stored.fields.filter(|_| !stored.deleted), stored.upload_id) else {
            return Err(CoreError::NotFound);
        };
        #[derive(Deserialize)]
        struct WithFile {
            file: FileMeta,
        }
        let WithFile { file: declared } = serde_json::from_value::<WithFile>(fields).map_err(CoreError::backend)?;
        let upload = upload_key(practice, e, id, &upload_id);
        let blob = self.blobs.get(&upload).await?;
        let subject = format!("{entity}/{id}");
        let Some(blob) = blob else {
            return Err(CoreError::invalid(ProblemCode::FileMissing, "no file has been uploaded yet"));
        };
        match check_upload(&declared, Some(&blob.bytes[..])) {
            Ok(()) => {
                // The thumbnail first: a file is listed only once it is available, and then with it.
                let thumbnail = match super::thumbnail::make(&declared.content_type, &blob.bytes) {
                    Some(png) => {
                        self.blobs.put(&thumbnail_key(practice, e, id), png.into(), "image/png").await?;
                        true
                    }
                    None => false,
                };
                self.blobs.put(&file_key(practice, e, id), blob.bytes, &declared.content_type).await?;
                self.blobs.delete(&upload).await?;
                self.store().set_file_status(practice, e, id, FileStatus::Available, thumbnail).await?;
                self.audit().record(actor, AuditAction::SyncFile, &subject, Outcome::Success, json!({})).await?;
                Ok(accepted)
            }
            Err(why) => {
                self.blobs.delete(&upload).await?;
                self.store().set_file_status(practice, e, id, FileStatus::Rejected, false).await?;
                self.audit().record(actor, AuditAction::SyncFile, &subject, Outcome::Failure, json!({ "reason": why })).await?;
                Err(CoreError::Unprocessable {
                    code: ProblemCode::FileRejected,
                    detail: format!(
                        "{why}; it was deleted. Upload it again to the same URL while it is valid, or send the entity again for a new one."
                    ),
                })
            }
        }
    }
}
