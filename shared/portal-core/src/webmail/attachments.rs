//! Attachments to WebMail messages: PDF, JPEG or PNG, at most [`MAX_BYTES`]. The sender declares
//! the file and gets a presigned PUT pinned to its type and size (under `uploads/`, which the bucket
//! expires); when the message is sent, the uploaded bytes are checked against the declared type
//! (a PDF must start like a PDF, an image like its format), copied to the attachment's own key out
//! of the upload URL's reach, and the attachment is bound to that one message. Only who may see the
//! message may download it, through a five-minute link under its own file name.
//!
//! | item | pk | sk | ttl |
//! |---|---|---|---|
//! | attachment | `P#{p}` | `ATTACH#{id}` | a day while not sent |

use crate::ids::PracticeId;
use crate::ports::{Blobs, Cond, Db, Item, TxOp};
use crate::quota::Quota;
use crate::sync::entities::{check_file, check_upload, FileMeta};
use crate::table_keys;
use crate::{CoreError, CoreResult, ProblemCode};
use serde::{Deserialize, Serialize};
use std::time::Duration;

pub const MAX_BYTES: u64 = 10 * 1024 * 1024;
pub const TYPES: [&str; 3] = ["application/pdf", "image/jpeg", "image/png"];
pub const MAX_PER_MESSAGE: usize = 5;
const UPLOAD_SECONDS: u64 = 10 * 60;
const UNSENT_TTL_SECONDS: i64 = 24 * 60 * 60;
/// Files one sender (a patient, or the office) may declare a day: five messages' worth. Unsent
/// ones expire after a day, so no more than two days' worth are ever pending.
pub const DECLARED_PER_DAY: Quota = Quota { name: "attachments", limit: 25, window_seconds: 24 * 60 * 60 };

/// An attachment as a message lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AttachmentRef {
    pub id: String,
    pub file_name: String,
    pub content_type: String,
    pub size: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
enum State {
    /// Declared; the bytes may or may not be uploaded yet.
    Pending,
    /// Checked and copied to its own key; not yet part of a message.
    Checked,
    /// Part of this message.
    Sent,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Stored {
    #[serde(flatten)]
    file: AttachmentRef,
    /// Whose mailbox it was made in: a patient id, or `office`.
    owner: String,
    state: State,
    message_id: Option<String>,
}

/// What a client needs to upload a declared attachment.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Declared {
    pub id: String,
    pub upload_url: String,
    pub expires_in_seconds: u64,
}

pub fn upload_key(practice: &PracticeId, id: &str) -> String {
    format!("uploads/{practice}/webmail/{id}")
}

pub fn file_key(practice: &PracticeId, id: &str) -> String {
    format!("{practice}/webmail/{id}")
}

pub(crate) struct Attachments<'a> {
    pub db: Db<'a>,
    pub blobs: &'a dyn Blobs,
}

impl Attachments<'_> {
    /// Declares an attachment in `owner`'s mailbox and answers where to upload it.
    pub async fn declare(
        &self,
        practice: &PracticeId,
        owner: &str,
        file_name: &str,
        content_type: &str,
        size: u64,
    ) -> CoreResult<Declared> {
        let meta = FileMeta { content_type: content_type.into(), size, file_name: file_name.trim().into() };
        check_file(&meta, &TYPES).map_err(|_| {
            CoreError::invalid(
                ProblemCode::AttachmentInvalid,
                format!("An attachment is a PDF, JPEG or PNG with a plain file name, at most {} MB.", MAX_BYTES / 1024 / 1024),
            )
        })?;
        if size > MAX_BYTES {
            return Err(CoreError::invalid(
                ProblemCode::AttachmentTooLarge,
                format!("An attachment is at most {} MB.", MAX_BYTES / 1024 / 1024),
            ));
        }
        if !DECLARED_PER_DAY.take(self.db.table, self.db.clock, practice, owner).await? {
            return Err(CoreError::TooMany {
                code: ProblemCode::AttachmentLimit,
                detail: format!("At most {} files can be attached a day; try again tomorrow.", DECLARED_PER_DAY.limit),
            });
        }
        let id = crate::ids::new_id()[..24].to_string();
        let stored = Stored {
            file: AttachmentRef { id: id.clone(), file_name: meta.file_name, content_type: meta.content_type, size },
            owner: owner.into(),
            state: State::Pending,
            message_id: None,
        };
        let item = Item::new(
            table_keys::practice(practice),
            table_keys::attachment(&id),
            serde_json::to_value(&stored).map_err(CoreError::backend)?,
        )
        .expiring_at(self.db.clock.now() + UNSENT_TTL_SECONDS)
        .with_version(1);
        crate::ports::put_fresh(self.db.table, item).await?;
        let upload_url =
            self.blobs.presign_put(&upload_key(practice, &id), content_type, size, Duration::from_secs(UPLOAD_SECONDS)).await?;
        Ok(Declared { id, upload_url, expires_in_seconds: UPLOAD_SECONDS })
    }

    /// Checks `owner`'s attachments `ids` for a message about to be sent: uploaded, of the declared
    /// size and type (a refused file is deleted and named in the answer), copied out of the upload
    /// URL's reach. Answers what the message lists and the writes that bind them to `message_id`
    /// (part of the message's transaction: an attachment goes with one message only).
    pub async fn take(
        &self,
        practice: &PracticeId,
        owner: &str,
        ids: &[String],
        message_id: &str,
    ) -> CoreResult<(Vec<AttachmentRef>, Vec<TxOp>)> {
        if ids.len() > MAX_PER_MESSAGE {
            return Err(CoreError::invalid(
                ProblemCode::AttachmentInvalid,
                format!("A message takes at most {MAX_PER_MESSAGE} attachments."),
            ));
        }
        let (mut refs, mut ops) = (vec![], vec![]);
        for id in ids {
            let mut item =
                self.db.table.get(&table_keys::practice(practice), &table_keys::attachment(id)).await?.ok_or(CoreError::NotFound)?;
            let mut stored: Stored = item.parse()?;
            if stored.owner != owner {
                return Err(CoreError::NotFound);
            }
            match stored.state {
                State::Sent => {
                    return Err(CoreError::invalid(
                        ProblemCode::AttachmentUsed,
                        "That attachment went with another message; attach the file again.",
                    ))
                }
                State::Checked => {}
                State::Pending => {
                    self.check(practice, &stored.file).await?;
                    // Recorded at once: the upload is gone now, and a retried send must not check again.
                    stored.state = State::Checked;
                    item = self.write(&item, &stored).await?;
                }
            }
            stored.state = State::Sent;
            stored.message_id = Some(message_id.into());
            let mut sent = item.replaced(serde_json::to_value(&stored).map_err(CoreError::backend)?);
            sent.expires_at = None;
            ops.push(TxOp::Put(sent, Cond::Version(item.version)));
            refs.push(stored.file);
        }
        Ok((refs, ops))
    }

    /// Writes the attachment's new state over the version read; answers the item as stored.
    async fn write(&self, item: &Item, stored: &Stored) -> CoreResult<Item> {
        let next = item.replaced(serde_json::to_value(stored).map_err(CoreError::backend)?);
        self.db.table.put(next.clone(), Cond::Version(item.version)).await?;
        Ok(next)
    }

    /// The uploaded bytes against the declaration; copied to the attachment's key when they fit.
    async fn check(&self, practice: &PracticeId, file: &AttachmentRef) -> CoreResult<()> {
        let upload = upload_key(practice, &file.id);
        let blob = self.blobs.get(&upload).await?;
        let declared = FileMeta { content_type: file.content_type.clone(), size: file.size, file_name: file.file_name.clone() };
        if let Err(why) = check_upload(&declared, blob.as_ref().map(|b| &b.bytes[..])) {
            if blob.is_some() {
                self.blobs.delete(&upload).await?;
            }
            return Err(CoreError::Unprocessable {
                code: ProblemCode::AttachmentRejected,
                detail: format!("{}: {why}. Attach the file again.", file.file_name),
            });
        }
        let blob = blob.ok_or(CoreError::NotFound)?;
        self.blobs.put(&file_key(practice, &file.id), blob.bytes, &file.content_type).await?;
        self.blobs.delete(&upload).await?;
        Ok(())
    }

    /// The sent attachment `id` and the message it went with.
    pub async fn sent(&self, practice: &PracticeId, id: &str) -> CoreResult<(AttachmentRef, String)> {
        if !super::is_token(id) {
            return Err(CoreError::NotFound);
        }
        let item = self.db.table.get(&table_keys::practice(practice), &table_keys::attachment(id)).await?.ok_or(CoreError::NotFound)?;
        let stored: Stored = item.parse()?;
        match (stored.state, stored.message_id) {
            (State::Sent, Some(message)) => Ok((stored.file, message)),
            _ => Err(CoreError::NotFound),
        }
    }
}
