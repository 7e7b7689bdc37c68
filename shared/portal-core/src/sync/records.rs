//! The one read repository modules use for synced data: typed records by key, by patient (or
//! account), by family, and by practice, over the index the store placed them in — each one query,
//! with date ranges and cursor paging. Tombstones are never in an index, so a deleted record is
//! simply absent. Access checks (the family rule) happen before a module calls this. A record
//! read from the local host's cache is the cache's own parsed copy, shared, not copied.

use super::entities::{FileStatus, Patient, Record};
use super::store::{entity_key, Envelope};
use crate::ids::PracticeId;
use crate::ports::{Db, Item, Query};
use crate::table_keys;
use crate::{CoreError, CoreResult, ProblemCode};
use std::sync::Arc;

/// A live synced record with its id and stamps.
#[derive(Debug, Clone, PartialEq)]
pub struct Synced<T> {
    pub id: String,
    pub last_modified: String,
    /// For statements and documents; only `Available` files exist for patients.
    pub file_status: Option<FileStatus>,
    /// For image documents: a thumbnail was made beside the file.
    pub thumbnail: bool,
    /// Shared with the read cache's parsed copy of the item: reading a cached record copies no
    /// field (`Arc::unwrap_or_clone` or `(*record).clone()` for a copy of one's own to change).
    pub record: Arc<T>,
}

impl<T> Synced<T> {
    /// Whether its file (if it has one) passed its check.
    pub fn file_available(&self) -> bool {
        self.file_status == Some(FileStatus::Available)
    }
}

/// The live record in an item, typed in one pass over the stored value; `None` for a tombstone.
pub(super) fn synced<T: Record>(item: &Item) -> CoreResult<Option<Synced<T>>> {
    let env: Envelope<Arc<T>> = item.parse_kept().map_err(|e| CoreError::backend(format!("corrupt {} record: {e}", T::ENTITY.name())))?;
    let Some(record) = env.fields.filter(|_| !env.deleted) else { return Ok(None) };
    Ok(Some(Synced { id: env.id, last_modified: env.last_modified, file_status: env.file_status, thumbnail: env.thumbnail, record }))
}

/// An inclusive range of dates (`YYYY-MM-DD`); either end may be open. It applies to dated
/// records; undated ones (providers) are listed whole.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DateRange {
    from: Option<String>,
    to: Option<String>,
}

impl DateRange {
    pub fn all() -> Self {
        DateRange::default()
    }

    /// Checks the bounds a client sent: `from` ≤ `to`, both real dates (an empty one is refused: a
    /// client leaves out a bound it does not want).
    pub fn parse(from: Option<&str>, to: Option<&str>) -> CoreResult<Self> {
        let one = |field: &str, v: Option<&str>| -> CoreResult<Option<String>> {
            match v {
                None => Ok(None),
                Some(s) => super::entities::rules::date(field, s)
                    .map(|_| Some(s.to_string()))
                    .map_err(|_| CoreError::invalid(ProblemCode::DateInvalid, format!("{field}: a date as YYYY-MM-DD"))),
            }
        };
        let range = DateRange { from: one("from", from)?, to: one("to", to)? };
        if let (Some(f), Some(t)) = (&range.from, &range.to) {
            if f > t {
                return Err(CoreError::invalid(ProblemCode::DateRangeInvalid, "from: on or before to"));
            }
        }
        Ok(range)
    }

    /// The sort-key bounds for records of `entity` (their sort keys are `{entity}#{date…}#{id}`;
    /// `~` sorts after every character a date or date-time holds).
    fn bounds(&self, entity: &str) -> (String, String) {
        let from = format!("{entity}#{}", self.from.as_deref().unwrap_or(""));
        let to = format!("{entity}#{}~", self.to.as_deref().unwrap_or("9999-12-31"));
        (from, to)
    }
}

/// One page of records and the cursor for the next (`None` at the end).
#[derive(Debug, Clone, PartialEq)]
pub struct RecordPage<T> {
    pub records: Vec<Synced<T>>,
    pub cursor: Option<String>,
}

/// Which way a listing runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Order {
    OldestFirst,
    NewestFirst,
}

pub struct PatientRecords<'a> {
    pub db: Db<'a>,
}

impl PatientRecords<'_> {
    /// One record by id; `None` when absent or deleted.
    pub async fn get<T: Record>(&self, practice: &PracticeId, id: &str) -> CoreResult<Option<Synced<T>>> {
        if super::entities::check_id("id", id).is_err() {
            return Ok(None);
        }
        let (pk, sk) = entity_key(practice, T::ENTITY, id);
        let Some(item) = self.db.table.get(&pk, &sk).await? else { return Ok(None) };
        synced::<T>(&item)
    }

    /// A patient's records of one kind (for ledger lines and statements: an account's, by its
    /// guarantor), within `range`, in `order`, a page at a time.
    pub async fn for_patient<T: Record>(
        &self,
        practice: &PracticeId,
        patient_id: &str,
        range: &DateRange,
        order: Order,
        limit: usize,
        cursor: Option<String>,
    ) -> CoreResult<RecordPage<T>> {
        self.page::<T>(Query::on_gsi1(table_keys::patient_data(practice, patient_id)), range, order, limit, cursor).await
    }

    /// The practice's own records of one kind (providers; open slots by start).
    pub async fn for_practice<T: Record>(
        &self,
        practice: &PracticeId,
        range: &DateRange,
        limit: usize,
        cursor: Option<String>,
    ) -> CoreResult<RecordPage<T>> {
        self.page::<T>(Query::on_gsi1(table_keys::practice_data(practice)), range, Order::OldestFirst, limit, cursor).await
    }

    /// Every record of a kind of a patient (or account) within `range`, oldest first, all pages.
    pub async fn all_for_patient<T: Record>(&self, practice: &PracticeId, owner: &str, range: &DateRange) -> CoreResult<Vec<Synced<T>>> {
        let (mut out, mut cursor) = (vec![], None);
        loop {
            let page = self.for_patient::<T>(practice, owner, range, Order::OldestFirst, 500, cursor).await?;
            out.extend(page.records);
            match page.cursor {
                Some(c) => cursor = Some(c),
                None => return Ok(out),
            }
        }
    }

    /// Every record of a kind of the practice's own (providers), all pages.
    pub async fn all_for_practice<T: Record>(&self, practice: &PracticeId) -> CoreResult<Vec<Synced<T>>> {
        let (mut out, mut cursor) = (vec![], None);
        loop {
            let page = self.for_practice::<T>(practice, &DateRange::all(), 500, cursor).await?;
            out.extend(page.records);
            match page.cursor {
                Some(c) => cursor = Some(c),
                None => return Ok(out),
            }
        }
    }

    /// Every patient of the family whose guarantor is `guarantor_id` (the guarantor included).
    pub async fn family(&self, practice: &PracticeId, guarantor_id: &str) -> CoreResult<Vec<Synced<Patient>>> {
        let mut out = vec![];
        let mut cursor = None;
        loop {
            let q = Query::on_gsi1(table_keys::family(practice, guarantor_id)).prefix("patients#").limit(100).after(cursor);
            let page = self.db.table.query(q).await?;
            for item in &page.items {
                out.extend(synced::<Patient>(item)?);
            }
            match page.cursor {
                Some(c) => cursor = Some(c),
                None => return Ok(out),
            }
        }
    }

    async fn page<T: Record>(
        &self,
        q: Query,
        range: &DateRange,
        order: Order,
        limit: usize,
        cursor: Option<String>,
    ) -> CoreResult<RecordPage<T>> {
        // Undated records (providers) sort by id: a whole listing is a prefix, not a date range.
        let q = if *range == DateRange::all() {
            q.prefix(format!("{}#", T::ENTITY.name()))
        } else {
            let (from, to) = range.bounds(T::ENTITY.name());
            q.between(from, to)
        };
        let mut q = q.limit(limit).after(cursor);
        if order == Order::NewestFirst {
            q = q.newest_first();
        }
        let page = self.db.table.query(q).await?;
        let mut records = Vec::with_capacity(page.items.len());
        for item in &page.items {
            records.extend(synced::<T>(item)?);
        }
        Ok(RecordPage { records, cursor: page.cursor })
    }
}
