//! ModuleImages: the documents and images a practice shares to the portal. A document exists for
//! the patient only when its folder is shared and its file passed its check: anything else is not
//! listed and its file answers 404, exactly like an id that was never synced.

use crate::audit::AuditAction;
use crate::ports::{Blobs, Db};
use crate::reads::{signed, Caller, Listing, PageRequest, Reads, SignedFile, FILE_URL_SECONDS};
use crate::sync::entities::{Document, Entity};
use crate::sync::records::{DateRange, Order, Synced};
use crate::sync::service::file_key;
use crate::sync::thumbnail::thumbnail_key;
use crate::{CoreError, CoreResult};
use serde::Serialize;
use std::time::Duration;

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageView {
    pub id: String,
    pub folder: String,
    pub title: String,
    pub date: String,
    pub content_type: String,
    pub size: u64,
    /// A short-lived link to a small PNG of an image (`None` for documents).
    pub thumbnail: Option<String>,
}

/// Whether a synced document exists for its patient.
fn visible(d: &Synced<Document>) -> bool {
    d.record.shared_to_portal && d.file_available()
}

pub struct Images<'a> {
    pub db: Db<'a>,
    pub blobs: &'a dyn Blobs,
}

impl Images<'_> {
    /// Shared documents, newest first (the page groups them by folder).
    pub async fn list(&self, caller: &Caller, requested: Option<&str>, page: PageRequest) -> CoreResult<Listing<ImageView>> {
        let reads = Reads { db: self.db };
        let patient_id = reads.patient_id(caller, requested).await?;
        let practice = &caller.actor.practice;
        let found = reads
            .records()
            .for_patient::<Document>(practice, &patient_id, &DateRange::all(), Order::NewestFirst, page.limit, page.cursor)
            .await?;
        reads.audit(caller, &patient_id, AuditAction::ImagesRead).await?;
        let mut items = vec![];
        for d in found.records.into_iter().filter(visible) {
            let thumbnail = match d.thumbnail {
                true => Some(
                    self.blobs
                        .presign_get(&thumbnail_key(practice, Entity::Documents, &d.id), Duration::from_secs(FILE_URL_SECONDS), None)
                        .await?,
                ),
                false => None,
            };
            items.push(ImageView {
                id: d.id,
                folder: d.record.folder.clone(),
                title: d.record.title.clone(),
                date: d.record.date.clone(),
                content_type: d.record.file.content_type.clone(),
                size: d.record.file.size,
                thumbnail,
            });
        }
        Ok(Listing { items, next_cursor: found.cursor })
    }

    /// A short-lived link to a shared document's file, saved under its own file name.
    pub async fn file(&self, caller: &Caller, requested: Option<&str>, id: &str) -> CoreResult<SignedFile> {
        let reads = Reads { db: self.db };
        let patient_id = reads.patient_id(caller, requested).await?;
        let practice = &caller.actor.practice;
        let doc = reads.records().get::<Document>(practice, id).await?;
        let doc = doc.filter(|d| d.record.patient_id == patient_id && visible(d)).ok_or(CoreError::NotFound)?;
        reads.audit(caller, &patient_id, AuditAction::ImageFileRead).await?;
        signed(self.blobs, self.db.clock, &file_key(practice, Entity::Documents, id), &doc.record.file.file_name).await
    }
}
