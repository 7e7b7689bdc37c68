//! Seals over the audit log, one per practice and day, chained: once a day has ended (and
//! [`GRACE_SECONDS`] more, for writes in flight at midnight), the seal run reads the day's entries
//! in key order and stores each entry's digest (SHA-256 of its key and its content as canonical
//! JSON) and a head hash over the previous day's head, the day and those digests. Verifying
//! ([`AuditSeals::verify`]) reads the log again and names the first entry changed, added or
//! removed after its day was sealed, or the first seal that no longer follows the one before it
//! (rewritten or deleted to hide a change). Rewriting a seal consistently means rewriting every
//! later one, and each head also goes to the seal run's own log (a store the table's writers
//! cannot change) to hold the newest one against.
//!
//! Why seals after the fact rather than a hash chain written with each entry: audit entries are
//! written by every function at once, often inside the transaction of the change they record; a
//! chain head each write must move would make unrelated requests conflict and add a round trip
//! to every audited read. What seals leave open: the day not yet sealed (today).

use super::AuditEntry;
use crate::ids::PracticeId;
use crate::ports::{query_all, Cond, Db, Item, Query, TableError};
use crate::table_keys;
use crate::{CoreError, CoreResult, ProblemCode};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

/// How long after a day ends it is sealed: a request that stamped its entry just before midnight
/// has written it by then.
pub const GRACE_SECONDS: i64 = 600;
/// The most days one run seals per practice (the next run goes on): a first run over a long
/// log, or after the schedule was off, catches up over a few runs.
pub const DAYS_PER_RUN: usize = 31;
/// Practices a run seals at once.
const AT_ONCE: usize = 16;
/// Entry digests per stored part of a seal (≈ 110 KB, well under an item's 400 KB).
const PART: usize = 1000;
/// About how many entries one verify call reads before it answers with a cursor.
const VERIFY_BUDGET: usize = 20_000;
const DAY: i64 = 86_400;

/// A sealed day, as stored (its entries' digests are in parts of their own).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Seal {
    /// Days since 1970-01-01 (UTC).
    day: i64,
    count: usize,
    parts: usize,
    /// The head of the day before's seal ("" for a practice's first).
    previous: String,
    head: String,
    sealed_at: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct SealPart {
    /// (entry key, digest), in key order.
    entries: Vec<(String, String)>,
}

/// A day the run sealed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Sealed {
    pub day: String,
    pub entries: usize,
    pub head: String,
}

/// What verifying found wrong first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum TamperKind {
    /// An entry's content differs from what was sealed.
    Altered,
    /// An entry is in a sealed day that its seal does not hold.
    Inserted,
    /// A sealed entry is gone.
    Missing,
    /// A seal does not match its own parts.
    SealAltered,
    /// A seal is gone or does not follow the one before it.
    SealMissing,
}

/// The first thing found wrong, and where.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Tamper {
    pub kind: TamperKind,
    /// The day (yyyy-mm-dd) whose entries or seal it is in.
    pub day: String,
    /// The entry's id in the log (its key), when an entry is named.
    pub entry: Option<String>,
    /// The entry as it is in the log now (absent for a missing one).
    pub at: Option<i64>,
    pub action: Option<String>,
}

/// One call's worth of verifying.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SealCheck {
    pub days: usize,
    pub entries: usize,
    /// The last day checked and found as sealed.
    pub intact_through: Option<String>,
    /// The head of that day's seal (to hold against the seal run's log).
    pub head: Option<String>,
    pub problem: Option<Tamper>,
    /// Where the next call goes on; `None` when the whole sealed log is checked (or a problem found).
    pub cursor: Option<String>,
}

pub struct AuditSeals<'a> {
    pub db: Db<'a>,
}

impl AuditSeals<'_> {
    /// Seals what has ended in every practice, [`AT_ONCE`] practices at a time (a run over
    /// 10,000 practices is mostly one "newest seal" query each); one practice failing does not
    /// hold up the others.
    pub async fn seal_all(&self) -> CoreResult<usize> {
        use futures_util::StreamExt;
        let (mut sealed, mut cursor) = (0, None);
        loop {
            let page = self.db.table.query(Query::on_gsi1(table_keys::PRACTICES).limit(100).after(cursor)).await?;
            let practices: Vec<PracticeId> =
                page.items.iter().filter_map(|item| item.pk.strip_prefix("P#")).filter_map(PracticeId::parse).collect();
            let mut runs = futures_util::stream::iter(practices)
                .map(|p| async move {
                    let run = self.seal(&p).await;
                    (p, run)
                })
                .buffer_unordered(AT_ONCE);
            while let Some((practice, run)) = runs.next().await {
                match run {
                    Ok(days) => sealed += days.len(),
                    Err(e) => tracing::warn!(practice = %practice, error = %e, "audit seal failed for a practice"),
                }
            }
            match page.cursor {
                Some(c) => cursor = Some(c),
                None => return Ok(sealed),
            }
        }
    }

    /// Seals each ended day of `practice` not sealed yet, oldest first, at most [`DAYS_PER_RUN`];
    /// a practice's first seal is the day of its oldest entry. Days without entries are sealed
    /// too, so the chain has no gaps for a deleted seal to hide in.
    pub async fn seal(&self, practice: &PracticeId) -> CoreResult<Vec<Sealed>> {
        let last = (self.db.clock.now() - GRACE_SECONDS).div_euclid(DAY) - 1;
        let (mut day, mut previous) = match self.newest_seal(practice).await? {
            Some(s) => (s.day + 1, s.head),
            None => match self.oldest_entry_day(practice).await? {
                Some(d) => (d, String::new()),
                None => return Ok(vec![]),
            },
        };
        let mut out = vec![];
        while day <= last && out.len() < DAYS_PER_RUN {
            let digests = self.day_digests(practice, day).await?;
            let parts: Vec<&[(String, String)]> = digests.chunks(PART).collect();
            for (n, part) in parts.iter().enumerate() {
                let data = serde_json::to_value(SealPart { entries: part.to_vec() }).map_err(CoreError::backend)?;
                // A run that died between its parts and its seal left the same parts: overwrite them.
                self.db
                    .table
                    .put(Item::new(table_keys::audit_seal_parts(practice, &day_name(day)), format!("{n:04}"), data), Cond::None)
                    .await?;
            }
            let head = head(&previous, day, &digests);
            let seal = Seal { day, count: digests.len(), parts: parts.len(), previous, head: head.clone(), sealed_at: self.db.clock.now() };
            let item =
                Item::new(table_keys::audit_seals(practice), day_name(day), serde_json::to_value(&seal).map_err(CoreError::backend)?);
            match self.db.table.put(item, Cond::Absent).await {
                Ok(()) => {}
                // Another run sealed it first; it goes on from there next time.
                Err(TableError::ConditionFailed) => return Ok(out),
                Err(e) => return Err(e.into()),
            }
            // The head in a log the table's writers cannot rewrite: ids and a hash, nothing else.
            tracing::info!(practice = %practice, day = %day_name(day), entries = seal.count, head = %head, "audit day sealed");
            out.push(Sealed { day: day_name(day), entries: seal.count, head: head.clone() });
            previous = head;
            day += 1;
        }
        Ok(out)
    }

    /// Checks the sealed log from the first seal (or from `cursor`, a previous answer's) on,
    /// a bounded amount per call, and stops at the first thing not as sealed.
    pub async fn verify(&self, practice: &PracticeId, cursor: Option<&str>) -> CoreResult<SealCheck> {
        let (from, mut previous) = match cursor {
            Some(c) => decode_cursor(c)?,
            None => (i64::MIN, String::new()),
        };
        let mut v = SealCheck { days: 0, entries: 0, intact_through: None, head: None, problem: None, cursor: None };
        // Day names start with a digit; "0" is below them all (an empty bound is not a valid key).
        let low = if from == i64::MIN { "0".to_string() } else { day_name(from) };
        let q = Query::new(table_keys::audit_seals(practice)).between(low, "~").limit(100);
        let mut expected = (from != i64::MIN).then_some(from);
        let mut table_cursor = None;
        if cursor.is_none() {
            // An entry older than the first seal is one no seal covers.
            // (A first seal that does not parse is named by the walk below.)
            let first = self.db.table.query(q.clone().limit(1)).await?.items.into_iter().next();
            let first_day = first.and_then(|item| item.parse::<Seal>().ok()).map(|s| s.day);
            if let (Some(oldest), Some(first_day)) = (self.oldest_entry_day(practice).await?, first_day) {
                if oldest < first_day {
                    let entry = self.db.table.query(Query::new(table_keys::audit(practice)).limit(1)).await?.items.into_iter().next();
                    v.problem = Some(named(TamperKind::SealMissing, oldest, entry.as_ref(), None));
                    return Ok(v);
                }
            }
        }
        loop {
            let page = self.db.table.query(q.clone().after(table_cursor)).await?;
            for item in &page.items {
                let Ok(seal) = item.parse::<Seal>() else {
                    v.problem = Some(Tamper { kind: TamperKind::SealAltered, day: item.sk.clone(), entry: None, at: None, action: None });
                    return Ok(v);
                };
                if expected.is_some_and(|d| d != seal.day) || seal.previous != previous {
                    // The day expected next, or (at the start) the day before the first seal there is.
                    v.problem = Some(named(TamperKind::SealMissing, expected.unwrap_or(seal.day - 1), None, None));
                    return Ok(v);
                }
                let parts =
                    query_all(self.db.table, Query::new(table_keys::audit_seal_parts(practice, &day_name(seal.day))).limit(100)).await?;
                let sealed: Option<Vec<(String, String)>> =
                    parts.iter().map(|p| p.parse::<SealPart>().ok().map(|p| p.entries)).collect::<Option<Vec<_>>>().map(|p| p.concat());
                let sealed = sealed.filter(|s| s.len() == seal.count && head(&seal.previous, seal.day, s) == seal.head);
                let Some(sealed) = sealed else {
                    v.problem = Some(named(TamperKind::SealAltered, seal.day, None, None));
                    return Ok(v);
                };
                let now = self.day_entries(practice, seal.day).await?;
                if let Some(problem) = compare(seal.day, &sealed, &now) {
                    v.problem = Some(problem);
                    return Ok(v);
                }
                v.days += 1;
                v.entries += now.len();
                v.intact_through = Some(day_name(seal.day));
                v.head = Some(seal.head.clone());
                previous = seal.head;
                expected = Some(seal.day + 1);
                if v.entries >= VERIFY_BUDGET {
                    v.cursor = Some(crate::ids::b64url(format!("{}.{previous}", seal.day + 1).as_bytes()));
                    return Ok(v);
                }
            }
            match page.cursor {
                Some(c) => table_cursor = Some(c),
                None => return Ok(v),
            }
        }
    }

    async fn newest_seal(&self, practice: &PracticeId) -> CoreResult<Option<Seal>> {
        let page = self.db.table.query(Query::new(table_keys::audit_seals(practice)).newest_first().limit(1)).await?;
        Ok(page.items.first().map(|i| i.parse::<Seal>()).transpose()?)
    }

    async fn oldest_entry_day(&self, practice: &PracticeId) -> CoreResult<Option<i64>> {
        let page = self.db.table.query(Query::new(table_keys::audit(practice)).limit(1)).await?;
        Ok(page.items.first().and_then(|i| i.sk.get(..13)?.parse::<i64>().ok()).map(|ms| (ms / 1000).div_euclid(DAY)))
    }

    /// The day's entries in key order.
    async fn day_entries(&self, practice: &PracticeId, day: i64) -> CoreResult<Vec<Item>> {
        let (low, high) = (format!("{:013}", day * DAY * 1000), format!("{:013}~", (day + 1) * DAY * 1000 - 1));
        Ok(query_all(self.db.table, Query::new(table_keys::audit(practice)).between(low, high).limit(500)).await?)
    }

    async fn day_digests(&self, practice: &PracticeId, day: i64) -> CoreResult<Vec<(String, String)>> {
        Ok(self.day_entries(practice, day).await?.iter().map(|i| (i.sk.clone(), digest(i))).collect())
    }
}

/// The first difference between the sealed digests and the entries now, both in key order.
fn compare(day: i64, sealed: &[(String, String)], now: &[Item]) -> Option<Tamper> {
    let (mut s, mut n) = (sealed.iter().peekable(), now.iter().peekable());
    loop {
        match (s.peek(), n.peek()) {
            (None, None) => return None,
            (Some((key, _)), None) => return Some(named(TamperKind::Missing, day, None, Some(key))),
            (None, Some(item)) => return Some(named(TamperKind::Inserted, day, Some(item), None)),
            (Some((key, d)), Some(item)) => match key.as_str().cmp(item.sk.as_str()) {
                std::cmp::Ordering::Less => return Some(named(TamperKind::Missing, day, None, Some(key))),
                std::cmp::Ordering::Greater => return Some(named(TamperKind::Inserted, day, Some(item), None)),
                std::cmp::Ordering::Equal if *d != digest(item) => return Some(named(TamperKind::Altered, day, Some(item), None)),
                std::cmp::Ordering::Equal => {
                    s.next();
                    n.next();
                }
            },
        }
    }
}

/// A problem naming the entry as it is now (`item`) or, for one that is gone, by its key.
fn named(kind: TamperKind, day: i64, item: Option<&Item>, gone: Option<&str>) -> Tamper {
    let entry = item.and_then(|i| i.parse::<AuditEntry>().ok());
    Tamper {
        kind,
        day: day_name(day),
        entry: item.map(|i| i.sk.clone()).or(gone.map(str::to_string)),
        at: entry.as_ref().map(|e| e.at).or_else(|| gone.and_then(|k| k.get(..13)?.parse::<i64>().ok()).map(|ms| ms / 1000)),
        action: entry.map(|e| e.action),
    }
}

/// SHA-256 of the entry's key and its content as canonical JSON (keys sorted, no spaces), so the
/// same entry digests the same on either backend and after any number of reads.
fn digest(item: &Item) -> String {
    let mut text = item.sk.clone();
    text.push('\n');
    canonical(&item.data, &mut text);
    hex::encode(Sha256::digest(text.as_bytes()))
}

fn head(previous: &str, day: i64, digests: &[(String, String)]) -> String {
    let mut h = Sha256::new();
    h.update(format!("{previous}\n{}\n", day_name(day)));
    for (key, d) in digests {
        h.update(format!("{key} {d}\n"));
    }
    hex::encode(h.finalize())
}

fn canonical(v: &Value, out: &mut String) {
    match v {
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            out.push('{');
            for (i, k) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(k.clone()).to_string());
                out.push(':');
                canonical(&m[k], out);
            }
            out.push('}');
        }
        Value::Array(a) => {
            out.push('[');
            for (i, x) in a.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                canonical(x, out);
            }
            out.push(']');
        }
        other => out.push_str(&other.to_string()),
    }
}

/// `yyyy-mm-dd` of a day number (UTC).
fn day_name(day: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(day * DAY).map(|t| t.date().to_string()).unwrap_or_default()
}

fn decode_cursor(c: &str) -> CoreResult<(i64, String)> {
    crate::ids::b64url_decode(c)
        .and_then(|b| String::from_utf8(b).ok())
        .and_then(|s| {
            let (day, previous) = s.split_once('.')?;
            Some((day.parse().ok()?, previous.to_string()))
        })
        .filter(|(_, previous)| previous.len() == 64 && previous.bytes().all(|b| b.is_ascii_hexdigit()))
        .ok_or_else(|| CoreError::invalid(ProblemCode::CursorInvalid, "The cursor is not one this check gave out."))
}
