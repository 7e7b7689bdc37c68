//! What every patient-facing use case shares, in the patient modules and beside them (payments,
//! WebMail): who is asking ([`Caller`]), the steps of a read — the family rule picks the patient
//! the request is about (no table read for oneself, one for a family member), the records, and the
//! audit entry naming whose data it was ([`Reads`]) — a page of a listing ([`Listing`],
//! [`PageRequest`]) and a short-lived download link ([`SignedFile`]).

use crate::audit::{Actor, AuditAction, AuditLog};
use crate::clock::rfc3339;
use crate::ports::{Blobs, Clock, Db};
use crate::practice::family::{Family, PatientId, Viewer};
use crate::sync::entities::Patient;
use crate::sync::records::{PatientRecords, Synced};
use crate::CoreResult;
use serde::Serialize;
use std::time::Duration;

/// How long a download link works: long enough to start a download, short enough that a link
/// that leaks (a shared screen, a proxy log) is soon useless.
pub const FILE_URL_SECONDS: u64 = 300;

/// Who is asking: the audit's actor and the family rule's viewer (both from the authorizer
/// context, never from the request).
#[derive(Debug, Clone)]
pub struct Caller {
    pub actor: Actor,
    pub viewer: Viewer,
}

/// A short-lived download link.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SignedFile {
    pub url: String,
    pub expires_at: String,
}

/// One page of a listing and the opaque cursor for the next (`null` on the last page).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Listing<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

/// A page request as a client sent it: a page size already checked, and a cursor from an earlier
/// answer for the same patient and listing (another one is refused by the table: `cursor_invalid`).
#[derive(Debug, Clone, Default)]
pub struct PageRequest {
    pub limit: usize,
    pub cursor: Option<String>,
}

impl PageRequest {
    pub fn new(limit: usize, cursor: Option<String>) -> Self {
        PageRequest { limit, cursor: cursor.filter(|c| !c.is_empty()) }
    }
}

/// The steps every patient read shares.
pub(crate) struct Reads<'a> {
    pub db: Db<'a>,
}

impl Reads<'_> {
    pub fn records(&self) -> PatientRecords<'_> {
        PatientRecords { db: self.db }
    }

    fn family(&self) -> Family<'_> {
        Family { records: self.records() }
    }

    /// The id of the patient a request is about (`?patient=`, default the caller).
    pub async fn patient_id(&self, caller: &Caller, requested: Option<&str>) -> CoreResult<PatientId> {
        self.family().resolve(&caller.actor.practice, &caller.viewer, requested).await
    }

    /// The record of the patient a request is about and their id (one read, also for oneself).
    pub async fn patient(&self, caller: &Caller, requested: Option<&str>) -> CoreResult<(PatientId, Synced<Patient>)> {
        self.family().member(&caller.actor.practice, &caller.viewer, requested).await
    }

    /// Records that the caller read `what` of `patient_id`'s data.
    pub async fn audit(&self, caller: &Caller, patient_id: &PatientId, what: AuditAction) -> CoreResult<()> {
        AuditLog { db: self.db }.phi_read(&caller.actor, patient_id, what).await
    }
}

/// A download link for a published file, saved under `download_name`.
pub(crate) async fn signed(blobs: &dyn Blobs, clock: &dyn Clock, key: &str, download_name: &str) -> CoreResult<SignedFile> {
    let lasts = Duration::from_secs(FILE_URL_SECONDS);
    let url = blobs.presign_get(key, lasts, Some(download_name)).await?;
    Ok(SignedFile { url, expires_at: rfc3339(clock.now().saturating_add(crate::clock::seconds(lasts))) })
}
