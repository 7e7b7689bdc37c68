//! A code-system import as four kinds of step, each safe to run again: **split** reads each file
//! of the release once, in bounded pieces, counts its records and cuts it into batches of about
//! [`BATCH_BYTES`] on record boundaries; **batch** reads its byte range, parses it and writes the
//! names into the import's own version of the terms (a partition per import); **finish** checks
//! that every batch is done and switches the system's active version in one transaction with the
//! job — so readers see the old version or the new one, never half of one; **clean** then deletes
//! what is no longer read — the version replaced, or this import's own if it failed or was
//! cancelled, and the lookups only an import needs — a bounded amount per run, so storage does
//! not grow with every release. Step Functions runs them on AWS (`Map` over the batches, a loop
//! over clean); `portal-embedded` runs the same steps in-process.
//!
//! SNOMED CT's US preferred names take two passes: the batches of the language refset (which
//! [`Split::first`] lists) run before the others and record which descriptions are preferred;
//! a description batch checks that they have all finished, then looks its synonyms up in one
//! batch read per chunk.
//!
//! Guarantees: a batch records a marker when done and a batch with a marker does nothing, so a
//! retried batch never counts or writes twice (and the names are keyed by code, so even a batch
//! retried halfway writes the same items again, never duplicates); a cancelled or failed import
//! leaves the active version as it was; what an import leaves to delete is listed on the system
//! before it is deleted, so a clean that fails is finished by the next import's. A malformed
//! record fails the import with its file, line number and reason. One import per system runs at
//! a time.

use super::formats::{decode, is_utf16, records, Reader, Row, SNOMED_PREFERRED_RANK, SNOMED_SYNONYM_RANK};
use super::releases::{ReleaseFile, Releases};
use super::System;
use crate::audit::{Actor, AuditAction, AuditLog, Outcome};
use crate::ids::PracticeId;
use crate::ports::{Blobs, Cond, Db, Item, Query, TableError, TxOp, Workflows};
use crate::table_keys;
use crate::{CoreError, CoreResult, ProblemCode};
use serde::{Deserialize, Serialize};
use serde_json::json;

/// About how much of a file one batch reads (a batch ends at the first line break after it).
pub const BATCH_BYTES: u64 = 4 << 20;
/// How much of a file the split step reads at once.
const SPLIT_READ: u64 = 8 << 20;
/// A UTF-16 file (CVX) is read whole, as one batch: it must be small.
const MAX_UTF16_BYTES: u64 = 8 << 20;
/// How many items a batch hands to the table at once.
const WRITE_CHUNK: usize = 1000;
/// How many items one run of the clean step deletes at most (then it says there is more).
const CLEAN_ITEMS: usize = 20_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ImportState {
    /// Recorded; the split has not run.
    Queued,
    Running,
    Done,
    Failed,
    Cancelled,
}

impl ImportState {
    pub fn finished(self) -> bool {
        matches!(self, ImportState::Done | ImportState::Failed | ImportState::Cancelled)
    }
}

/// A byte range of one file, starting and ending on a line boundary.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Batch {
    /// Index into the job's files.
    pub file: usize,
    pub start: u64,
    pub end: u64,
    /// The line number (from 1) of its first line, for error reports.
    pub first_line: u64,
}

/// The batches of an import, by number: those to run before the others, then the others (each
/// list in any order, at once).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Split {
    pub first: Vec<usize>,
    pub rest: Vec<usize>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImportFailure {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line: Option<u64>,
    pub reason: String,
}

impl ImportFailure {
    pub fn reason(reason: impl Into<String>) -> Self {
        ImportFailure { file: None, line: None, reason: reason.into() }
    }

    /// What a workflow records when a step failed every retry (Step Functions' catch, or the
    /// in-process runner's last try).
    pub fn step_kept_failing() -> Self {
        ImportFailure::reason("A step kept failing (the storage was unavailable); start the import again.")
    }

    /// What finish records when some batches never finished (each kept failing).
    fn batches_kept_failing(missing: usize, total: usize) -> Self {
        ImportFailure::reason(format!("{missing} of {total} batches kept failing (the storage was unavailable); start the import again."))
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImportJob {
    pub id: String,
    pub system: System,
    pub release: String,
    pub state: ImportState,
    /// Unix seconds.
    pub started_at: i64,
    /// The staff user who started it.
    pub started_by: String,
    #[serde(default)]
    pub finished_at: Option<i64>,
    pub files: Vec<ReleaseFile>,
    #[serde(default)]
    pub batches: Vec<Batch>,
    /// Data lines in all files (known once split).
    #[serde(default)]
    pub rows_total: Option<u64>,
    #[serde(default)]
    pub error: Option<ImportFailure>,
}

/// What a finished batch leaves behind.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct BatchDone {
    /// Data lines read.
    lines: u64,
    /// Items written (active concepts and names).
    rows: u64,
}

/// The version of a system that readers use: the names its import wrote (their partition is
/// named by `import_id`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ActiveVersion {
    /// The release's name.
    pub version: String,
    /// Concepts and names imported.
    pub rows: u64,
    pub imported_at: i64,
    pub imported_by: String,
    pub import_id: String,
}

/// The last import's outcome, for the staff screen.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LastImport {
    pub id: String,
    pub release: String,
    pub state: ImportState,
    pub finished_at: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<ImportFailure>,
}

/// One code system of a practice: what is active, what is importing, how the last import ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CodeSystemState {
    pub system: System,
    pub active: Option<ActiveVersion>,
    /// The import running now.
    pub running: Option<String>,
    pub last: Option<LastImport>,
    /// What ended imports left to delete, oldest first (the clean step's list).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub leftovers: Vec<Leftover>,
}

impl CodeSystemState {
    fn new(system: System) -> Self {
        CodeSystemState { system, active: None, running: None, last: None, leftovers: vec![] }
    }
}

/// Something an ended import left to delete, by the import that wrote it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Leftover {
    /// A version no one reads (replaced, or never finished): its names and its lookups.
    Version(String),
    /// The lookups of the version in use (SNOMED CT's preferred descriptions), needed only while
    /// it was imported.
    Lookups(String),
}

impl Leftover {
    fn partitions(&self, practice: &PracticeId, system: System) -> Vec<String> {
        match self {
            Leftover::Version(id) => vec![table_keys::terms(practice, system.name(), id), table_keys::preferred(practice, id)],
            Leftover::Lookups(id) => vec![table_keys::preferred(practice, id)],
        }
    }
}

/// An import's progress, as the API answers it (times as RFC 3339).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ImportStatus {
    pub id: String,
    pub system: System,
    pub release: String,
    pub state: ImportState,
    /// Data lines read of the release's files…
    pub rows_done: u64,
    pub rows_total: Option<u64>,
    /// …and the active concepts and names they held, kept (inactive ones are left out): what the
    /// version in use will count.
    pub names_kept: u64,
    pub batches_done: usize,
    pub batches_total: usize,
    pub started_at: String,
    pub started_by: String,
    pub finished_at: Option<String>,
    /// Rows per second so far (while running).
    pub rows_per_second: Option<u64>,
    /// At that rate (while running).
    pub seconds_left: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<ImportFailure>,
}

pub struct Importer<'a> {
    db: Db<'a>,
    blobs: &'a dyn Blobs,
    batch_bytes: u64,
}

/// How long an import may stay queued before a new start takes its place: a start whose
/// transaction applied but whose answer was lost never started the workflow, and would otherwise
/// hold the system until staff cancel it.
pub const NEVER_STARTED_SECONDS: i64 = 300;

fn conflict(code: ProblemCode, detail: impl Into<String>) -> CoreError {
    CoreError::Conflict { code, detail: detail.into(), current: None }
}

impl<'a> Importer<'a> {
    pub fn new(db: Db<'a>, blobs: &'a dyn Blobs) -> Self {
        Importer { db, blobs, batch_bytes: BATCH_BYTES }
    }

    /// Cuts batches of about `bytes` instead of [`BATCH_BYTES`] (tests make many small ones).
    pub fn with_batch_bytes(self, bytes: u64) -> Self {
        Importer { batch_bytes: bytes.max(1), ..self }
    }

    /// Records an import of `release` (which must be a release of `system`) and starts it;
    /// `by` is the staff user's name as the screen shows it.
    /// Another import of the system running → 409 `import_running` (unless it never started: see
    /// [`NEVER_STARTED_SECONDS`]). When the workflow cannot be
    /// started, the import is recorded as failed with the reason (the request is not lost: it
    /// can be started again) and the error is returned.
    pub async fn start(&self, actor: &Actor, by: &str, system: System, release: &str, workflows: &dyn Workflows) -> CoreResult<ImportJob> {
        let practice = &actor.practice;
        let found = Releases { blobs: self.blobs }.find(practice, release).await?;
        if found.system != Some(system) {
            return Err(CoreError::Unprocessable {
                code: ProblemCode::ReleaseSystemMismatch,
                detail: format!("'{release}' is a {} release, not {}.", found.system.map_or("different", System::title), system.title()),
            });
        }
        let (mut state, mut state_version) = self.system_item(practice, system).await?;
        if let Some(running) = state.running.clone() {
            if !self.never_started(practice, &running).await? {
                return Err(conflict(
                    ProblemCode::ImportRunning,
                    format!("An import of {} is running ({running}); wait for it or cancel it.", system.title()),
                ));
            }
            // Recorded, but its workflow never began (the start's answer was lost): it gives way.
            self.fail(practice, &running, ImportFailure::reason("The import never started; it was started again.")).await?;
            (state, state_version) = self.system_item(practice, system).await?;
        }
        let job = ImportJob {
            id: crate::ids::new_id(),
            system,
            release: release.to_string(),
            state: ImportState::Queued,
            started_at: self.db.clock.now(),
            started_by: by.to_string(),
            finished_at: None,
            files: found.files,
            batches: vec![],
            rows_total: None,
            error: None,
        };
        let state = CodeSystemState { running: Some(job.id.clone()), ..state };
        // The import and its audit entry are one write: no import nobody is recorded starting, and
        // no audit failure after the import is recorded that would leave it queued, never started.
        let audit = AuditLog { db: self.db }.entry(
            actor,
            AuditAction::SettingsCodeSystemsImport,
            &format!("code-systems/{}", system.name()),
            Outcome::Success,
            json!({"release": release, "importId": job.id}),
        )?;
        let ops = vec![
            TxOp::Put(job_item(practice, &job)?, Cond::Absent),
            TxOp::Put(system_item(practice, &state, state_version)?, cond(state_version)),
            audit,
        ];
        self.db.table.transact(ops).await.map_err(|e| match e {
            // The system's state changed since it was read: another start got there first.
            TableError::TransactionCanceled { failed } if failed.contains(&1) => {
                conflict(ProblemCode::ImportRunning, "Another import of this system was started just now.")
            }
            other => other.into(),
        })?;
        if let Err(e) = workflows.start_import(practice, &job.id).await {
            self.fail(practice, &job.id, ImportFailure::reason("The import could not be started; try again.")).await?;
            return Err(CoreError::backend(e));
        }
        Ok(job)
    }

    /// The split step: cuts every file into batches and answers their numbers (the same numbers
    /// again when it runs twice; none once the import has ended).
    pub async fn split(&self, practice: &PracticeId, id: &str) -> CoreResult<Split> {
        let (mut job, version) = self.job(practice, id).await?;
        match job.state {
            ImportState::Running => return Ok(split_of(&job)),
            ImportState::Queued => {}
            _ => return Ok(Split::default()),
        }
        let (mut batches, mut rows) = (vec![], 0);
        for (index, file) in job.files.iter().enumerate() {
            match self.cut(index, file).await? {
                Ok((cut, records)) => {
                    batches.extend(cut);
                    rows += records;
                }
                Err(failure) => {
                    self.fail(practice, id, failure).await?;
                    return Ok(Split::default());
                }
            }
        }
        job.state = ImportState::Running;
        job.rows_total = Some(rows);
        job.batches = batches;
        match self.db.table.put(job_item(practice, &job)?.with_version(version + 1), Cond::Version(version)).await {
            Ok(()) => Ok(split_of(&job)),
            // Cancelled (or split by another run) meanwhile: go by what is stored now.
            Err(TableError::ConditionFailed) => Box::pin(self.split(practice, id)).await,
            Err(e) => Err(e.into()),
        }
    }

    /// One file's batches and its number of data records; or why the file cannot be imported.
    async fn cut(&self, index: usize, file: &ReleaseFile) -> CoreResult<Result<(Vec<Batch>, u64), ImportFailure>> {
        let failure = |reason: String| ImportFailure { file: Some(file.name.clone()), line: None, reason };
        let first = self.range(&file.key, 0, SPLIT_READ).await?;
        if is_utf16(&first) {
            if file.size > MAX_UTF16_BYTES {
                return Ok(Err(failure(format!("a UTF-16 file may be at most {} MB; save it as UTF-8", MAX_UTF16_BYTES >> 20))));
            }
            let text = match decode(&first) {
                Ok(t) => t,
                Err(why) => return Ok(Err(failure(why))),
            };
            let mut all = records(&text, file.format.quoted()).filter(|(_, r)| !r.trim_end_matches('\r').is_empty()).peekable();
            let header = u64::from(all.peek().is_some_and(|(at, r)| *at == 0 && file.format.is_header(r)));
            let count = all.count() as u64;
            return Ok(Ok((vec![Batch { file: index, start: 0, end: file.size, first_line: 1 }], count - header)));
        }
        let header = match first.split(|b| *b == b'\n').next().map(std::str::from_utf8) {
            Some(Ok(line)) => u64::from(file.format.is_header(line)),
            _ => 0,
        };
        // A record ends at a line break, except inside quotes in a quoted format.
        let quoted = file.format.quoted();
        let (mut batches, mut lines, mut records_seen, mut batch_start, mut batch_line) = (vec![], 0u64, 0u64, 0u64, 1u64);
        let (mut offset, mut piece, mut last_byte, mut in_quotes) = (0u64, first, b'\n', false);
        loop {
            for (i, b) in piece.iter().enumerate() {
                match *b {
                    b'"' if quoted => in_quotes = !in_quotes,
                    b'\n' => {
                        lines += 1;
                        if in_quotes {
                            continue;
                        }
                        records_seen += 1;
                        let end = offset + i as u64 + 1;
                        if end - batch_start >= self.batch_bytes {
                            batches.push(Batch { file: index, start: batch_start, end, first_line: batch_line });
                            (batch_start, batch_line) = (end, lines + 1);
                        }
                    }
                    _ => {}
                }
            }
            if let Some(b) = piece.last() {
                last_byte = *b;
            }
            offset += piece.len() as u64;
            if piece.is_empty() || offset >= file.size {
                break;
            }
            piece = self.range(&file.key, offset, offset + SPLIT_READ).await?;
        }
        if in_quotes {
            return Ok(Err(failure("the file ends inside a quoted field (a quote is not closed)".into())));
        }
        if last_byte != b'\n' {
            records_seen += 1;
        }
        if batch_start < offset {
            batches.push(Batch { file: index, start: batch_start, end: offset, first_line: batch_line });
        }
        Ok(Ok((batches, records_seen.saturating_sub(header))))
    }

    async fn range(&self, key: &str, start: u64, end: u64) -> CoreResult<bytes::Bytes> {
        self.blobs
            .get_range(key, start, end)
            .await
            .map_err(CoreError::backend)?
            .ok_or_else(|| CoreError::Backend(format!("release file {key} is gone")))
    }

    /// The batch step: parses batch `n` and writes its names. Does nothing when the batch is
    /// already done or the import has ended; a storage error when the batches to run first have
    /// not all finished (the workflow tries again).
    pub async fn run_batch(&self, practice: &PracticeId, id: &str, n: usize) -> CoreResult<()> {
        if self.db.table.get(&table_keys::practice(practice), &table_keys::import_batch(id, n)).await?.is_some() {
            return Ok(());
        }
        let (job, _) = self.job(practice, id).await?;
        if job.state != ImportState::Running {
            return Ok(());
        }
        let batch = job.batches.get(n).ok_or(CoreError::NotFound)?;
        let file = &job.files[batch.file];
        let failure = |line: Option<u64>, reason: String| ImportFailure { file: Some(file.name.clone()), line, reason };
        let first = split_of(&job).first;
        if !file.format.read_first() && !first.is_empty() {
            let markers = first.iter().map(|n| (table_keys::practice(practice), table_keys::import_batch(id, *n))).collect();
            if self.db.table.batch_get(markers).await?.len() < first.len() {
                return Err(CoreError::Backend(format!("batch {n} waits for the batches of the files read first")));
            }
        }
        let head = self.range(&file.key, 0, 4096).await?;
        let reader = match super::releases::first_line(&head).and_then(|line| file.format.reader(&line)) {
            Ok(reader) => reader,
            Err(why) => return self.fail(practice, id, failure(Some(1), why)).await,
        };
        let bytes = self.range(&file.key, batch.start, batch.end).await?;
        let text = match decode(&bytes) {
            Ok(t) => t,
            Err(why) => return self.fail(practice, id, failure(None, why)).await,
        };
        let out = Destination {
            terms: table_keys::terms(practice, job.system.name(), id),
            preferred: table_keys::preferred(practice, id),
            reader,
        };
        let (mut rows, mut lines, mut kept) = (Vec::with_capacity(WRITE_CHUNK), 0u64, 0u64);
        for (at, record) in records(&text, file.format.quoted()) {
            let number = batch.first_line + at;
            if record.trim_end_matches('\r').is_empty() || (number == 1 && file.format.is_header(record)) {
                continue;
            }
            lines += 1;
            match reader.parse(record) {
                Ok(Row::Skip) => continue,
                Ok(row) => rows.push(row),
                Err(why) => return self.fail(practice, id, failure(Some(number), why)).await,
            }
            if rows.len() == WRITE_CHUNK {
                kept += self.write(&out, std::mem::replace(&mut rows, Vec::with_capacity(WRITE_CHUNK))).await?;
            }
        }
        kept += self.write(&out, rows).await?;
        let done = serde_json::to_value(BatchDone { lines, rows: kept }).map_err(CoreError::backend)?;
        match self.db.table.put(Item::new(table_keys::practice(practice), table_keys::import_batch(id, n), done), Cond::Absent).await {
            Ok(()) | Err(TableError::ConditionFailed) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// Writes one chunk of rows; answers how many were names and concepts (the lookups a
    /// language refset writes are not kept). A SNOMED CT synonym the language refset prefers is
    /// written at the preferred rank.
    async fn write(&self, out: &Destination, mut rows: Vec<Row<'_>>) -> CoreResult<u64> {
        if out.reader.format() == super::formats::FileFormat::SnomedDescriptions {
            let synonyms: Vec<(String, String)> = rows
                .iter()
                .filter_map(|r| match r {
                    Row::Term { rank: SNOMED_SYNONYM_RANK, id, .. } => Some((out.preferred.clone(), id.to_string())),
                    _ => None,
                })
                .collect();
            if !synonyms.is_empty() {
                let preferred: std::collections::HashSet<String> =
                    self.db.table.batch_get(synonyms).await?.into_iter().map(|i| i.sk).collect();
                for row in &mut rows {
                    if let Row::Term { rank, id, .. } = row {
                        if *rank == SNOMED_SYNONYM_RANK && preferred.contains(*id) {
                            *rank = SNOMED_PREFERRED_RANK;
                        }
                    }
                }
            }
        }
        let mut kept = 0;
        let items: Vec<Item> = rows
            .into_iter()
            .filter_map(|row| match row {
                Row::Skip => None,
                Row::Concept { code } => Some(Item::new(&out.terms, table_keys::term_concept(code), json!({}))),
                Row::Term { code, rank, id, text } => {
                    Some(Item::new(&out.terms, table_keys::term_name(code, rank, id), json!({ "t": text })))
                }
                Row::Preferred { description } => Some(Item::new(&out.preferred, description, json!({}))),
            })
            .inspect(|item| kept += u64::from(item.pk == out.terms))
            .collect();
        if !items.is_empty() {
            self.db.table.batch_put(items).await?;
        }
        Ok(kept)
    }

    /// The finish step: once every batch is done, makes the release the active version and
    /// lists the version it replaced to be deleted; an import that had ended (failed or
    /// cancelled) lists its own. Answers the import as it ends. Runs after every batch has
    /// returned, so nothing writes to what it lists.
    pub async fn finish(&self, practice: &PracticeId, id: &str) -> CoreResult<ImportJob> {
        let (mut job, version) = self.job(practice, id).await?;
        match job.state {
            ImportState::Running => {}
            ImportState::Failed | ImportState::Cancelled => {
                self.leave(practice, job.system, Leftover::Version(job.id.clone())).await?;
                return Ok(job);
            }
            ImportState::Queued | ImportState::Done => return Ok(job),
        }
        let done = self.batches_done(practice, id).await?;
        if done.len() < job.batches.len() {
            self.fail(practice, id, ImportFailure::batches_kept_failing(job.batches.len() - done.len(), job.batches.len())).await?;
            return Box::pin(self.finish(practice, id)).await;
        }
        let now = self.db.clock.now();
        job.state = ImportState::Done;
        job.finished_at = Some(now);
        let (mut state, state_version) = self.system_item(practice, job.system).await?;
        let replaced = state.active.take().map(|a| a.import_id).filter(|old| *old != job.id);
        state.leftovers.extend(replaced.map(Leftover::Version));
        state.leftovers.push(Leftover::Lookups(job.id.clone()));
        let active = ActiveVersion {
            version: job.release.clone(),
            rows: done.iter().map(|d| d.rows).sum(),
            imported_at: now,
            imported_by: job.started_by.clone(),
            import_id: job.id.clone(),
        };
        let state = CodeSystemState { active: Some(active), running: None, last: Some(last(&job)), ..state };
        self.db
            .table
            .transact(vec![
                TxOp::Put(job_item(practice, &job)?.with_version(version + 1), Cond::Version(version)),
                TxOp::Put(system_item(practice, &state, state_version)?, cond(state_version)),
            ])
            .await?;
        Ok(job)
    }

    /// Lists something to delete on the system (once).
    async fn leave(&self, practice: &PracticeId, system: System, leftover: Leftover) -> CoreResult<()> {
        loop {
            let (mut state, version) = self.system_item(practice, system).await?;
            if state.leftovers.contains(&leftover)
                || state.active.as_ref().is_some_and(|a| Leftover::Version(a.import_id.clone()) == leftover)
            {
                return Ok(());
            }
            state.leftovers.push(leftover.clone());
            match self.db.table.put(system_item(practice, &state, version)?, cond(version)).await {
                Ok(()) => return Ok(()),
                // Changed meanwhile (an import started, another clean): look again.
                Err(TableError::ConditionFailed) => continue,
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// The clean step: deletes what ended imports of the system left (see [`Leftover`]), oldest
    /// first, at most [`CLEAN_ITEMS`] items a run; answers whether there is more. What it has
    /// emptied leaves the list, so a clean cut short is picked up by the next run or import.
    pub async fn clean(&self, practice: &PracticeId, id: &str) -> CoreResult<bool> {
        let (job, _) = self.job(practice, id).await?;
        let mut budget = CLEAN_ITEMS;
        loop {
            let (mut state, version) = self.system_item(practice, job.system).await?;
            let Some(leftover) = state.leftovers.first().cloned() else { return Ok(false) };
            let in_use = state.active.as_ref().is_some_and(|a| Leftover::Version(a.import_id.clone()) == leftover);
            if !in_use {
                for partition in leftover.partitions(practice, job.system) {
                    budget = self.empty(&partition, budget).await?;
                    if budget == 0 {
                        return Ok(true);
                    }
                }
            }
            state.leftovers.retain(|l| *l != leftover);
            match self.db.table.put(system_item(practice, &state, version)?, cond(version)).await {
                Ok(()) | Err(TableError::ConditionFailed) => continue,
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// Deletes up to `budget` items of a partition; answers the budget left (0: maybe more).
    async fn empty(&self, partition: &str, mut budget: usize) -> CoreResult<usize> {
        while budget > 0 {
            let page = self.db.table.query(Query::new(partition).limit(budget.min(1000))).await?;
            if page.items.is_empty() {
                break;
            }
            budget -= page.items.len();
            self.db.table.batch_delete(page.items.into_iter().map(|i| (i.pk, i.sk)).collect()).await?;
        }
        Ok(budget)
    }

    /// Ends an import as failed (the active version stays). Nothing when it has already ended.
    pub async fn fail(&self, practice: &PracticeId, id: &str, failure: ImportFailure) -> CoreResult<()> {
        self.end(practice, id, ImportState::Failed, Some(failure)).await.map(|_| ())
    }

    /// Staff cancel a queued or running import; the active version stays. An ended one → 409.
    pub async fn cancel(&self, practice: &PracticeId, id: &str) -> CoreResult<ImportStatus> {
        if !self.end(practice, id, ImportState::Cancelled, None).await? {
            return Err(conflict(ProblemCode::ImportFinished, "This import has already ended."));
        }
        self.status(practice, id).await
    }

    /// Moves a queued or running import to `state` and frees its system; false when it had ended.
    async fn end(&self, practice: &PracticeId, id: &str, state: ImportState, error: Option<ImportFailure>) -> CoreResult<bool> {
        loop {
            let (mut job, version) = self.job(practice, id).await?;
            if job.state.finished() {
                return Ok(false);
            }
            job.state = state;
            job.finished_at = Some(self.db.clock.now());
            job.error = error.clone();
            let (system, system_version) = self.system_item(practice, job.system).await?;
            let mut ops = vec![TxOp::Put(job_item(practice, &job)?.with_version(version + 1), Cond::Version(version))];
            if system.running.as_deref() == Some(id) {
                let freed = CodeSystemState { running: None, last: Some(last(&job)), ..system };
                ops.push(TxOp::Put(system_item(practice, &freed, system_version)?, cond(system_version)));
            }
            match self.db.table.transact(ops).await {
                Ok(()) => return Ok(true),
                // A batch or staff changed it meanwhile: look again.
                Err(TableError::TransactionCanceled { .. }) => continue,
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// An import's progress.
    pub async fn status(&self, practice: &PracticeId, id: &str) -> CoreResult<ImportStatus> {
        let (job, _) = self.job(practice, id).await?;
        let done = if job.batches.is_empty() { vec![] } else { self.batches_done(practice, id).await? };
        let rows_done: u64 = done.iter().map(|d| d.lines).sum();
        let running = job.state == ImportState::Running;
        let elapsed = u64::try_from(self.db.clock.now() - job.started_at).unwrap_or(0).max(1);
        let rate = (running && rows_done > 0).then(|| rows_done / elapsed);
        let left = match (rate, job.rows_total) {
            (Some(r), Some(total)) if r > 0 => Some(total.saturating_sub(rows_done).div_ceil(r)),
            _ => None,
        };
        Ok(ImportStatus {
            id: job.id,
            system: job.system,
            release: job.release,
            state: job.state,
            rows_done,
            rows_total: job.rows_total,
            names_kept: done.iter().map(|d| d.rows).sum(),
            batches_done: done.len(),
            batches_total: job.batches.len(),
            started_at: crate::clock::rfc3339(job.started_at),
            started_by: job.started_by,
            finished_at: job.finished_at.map(crate::clock::rfc3339),
            rows_per_second: rate,
            seconds_left: left,
            error: job.error,
        })
    }

    /// Every importable system of the practice, imported or not.
    pub async fn systems(&self, practice: &PracticeId) -> CoreResult<Vec<CodeSystemState>> {
        let page = self.db.table.query(Query::new(table_keys::practice(practice)).prefix(table_keys::CODE_SYSTEM_PREFIX)).await?;
        let mut stored = page.items.iter().map(|i| i.parse::<CodeSystemState>()).collect::<Result<Vec<_>, _>>()?;
        for system in System::IMPORTABLE {
            if !stored.iter().any(|s| s.system == system) {
                stored.push(CodeSystemState::new(system));
            }
        }
        stored.sort_by_key(|s| s.system);
        Ok(stored)
    }

    /// Imports running in any practice, as (practice, import id): what a restarted local host
    /// resumes.
    pub async fn running(&self) -> CoreResult<Vec<(PracticeId, String)>> {
        let page = self.db.table.query(Query::on_gsi1(table_keys::IMPORTS_RUNNING).limit(1000)).await?;
        Ok(page
            .items
            .iter()
            .filter_map(|i| {
                let state: CodeSystemState = i.parse().ok()?;
                Some((PracticeId::parse(i.pk.strip_prefix("P#")?)?, state.running?))
            })
            .collect())
    }

    /// Whether import `id` is still queued [`NEVER_STARTED_SECONDS`] after it was recorded: its
    /// split (which runs within seconds of a start) never ran, so nothing is working on it.
    async fn never_started(&self, practice: &PracticeId, id: &str) -> CoreResult<bool> {
        let (job, _) = self.job(practice, id).await?;
        Ok(job.state == ImportState::Queued && self.db.clock.now() - job.started_at >= NEVER_STARTED_SECONDS)
    }

    async fn job(&self, practice: &PracticeId, id: &str) -> CoreResult<(ImportJob, u64)> {
        if id.is_empty() || id.len() > 64 || !id.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(CoreError::NotFound);
        }
        let item = self.db.table.get(&table_keys::practice(practice), &table_keys::import(id)).await?.ok_or(CoreError::NotFound)?;
        Ok((item.parse()?, item.version))
    }

    async fn system_item(&self, practice: &PracticeId, system: System) -> CoreResult<(CodeSystemState, Option<u64>)> {
        Ok(match self.db.table.get(&table_keys::practice(practice), &table_keys::code_system(system.name())).await? {
            Some(item) => (item.parse()?, Some(item.version)),
            None => (CodeSystemState::new(system), None),
        })
    }

    async fn batches_done(&self, practice: &PracticeId, id: &str) -> CoreResult<Vec<BatchDone>> {
        let q = Query::new(table_keys::practice(practice)).prefix(table_keys::import_batch_prefix(id)).limit(1000);
        Ok(crate::ports::query_all(self.db.table, q).await?.iter().map(Item::parse).collect::<Result<_, _>>()?)
    }
}

/// Where a batch writes, and how it reads its file.
struct Destination {
    /// The import's version of the terms.
    terms: String,
    /// The import's lookups (SNOMED CT's preferred descriptions).
    preferred: String,
    reader: Reader,
}

/// A running import's batches: those of files read first, then the rest.
fn split_of(job: &ImportJob) -> Split {
    let (first, rest) = (0..job.batches.len()).partition(|n| job.files[job.batches[*n].file].format.read_first());
    Split { first, rest }
}

fn last(job: &ImportJob) -> LastImport {
    LastImport {
        id: job.id.clone(),
        release: job.release.clone(),
        state: job.state,
        finished_at: job.finished_at,
        error: job.error.clone(),
    }
}

fn cond(version: Option<u64>) -> Cond {
    version.map_or(Cond::Absent, Cond::Version)
}

fn job_item(practice: &PracticeId, job: &ImportJob) -> CoreResult<Item> {
    let data = serde_json::to_value(job).map_err(CoreError::backend)?;
    Ok(Item::new(table_keys::practice(practice), table_keys::import(&job.id), data)
        .with_gsi1(table_keys::imports(practice), format!("{:013}#{}", job.started_at, job.id)))
}

/// The system's item, one version on from `version`; listed as running while an import runs.
fn system_item(practice: &PracticeId, state: &CodeSystemState, version: Option<u64>) -> CoreResult<Item> {
    let data = serde_json::to_value(state).map_err(CoreError::backend)?;
    let item = Item::new(table_keys::practice(practice), table_keys::code_system(state.system.name()), data)
        .with_version(version.map_or(0, |v| v + 1));
    Ok(match state.running {
        Some(_) => item.with_gsi1(table_keys::IMPORTS_RUNNING, format!("{practice}#{}", state.system.name())),
        None => item,
    })
}
