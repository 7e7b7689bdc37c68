//! The single table on SQLite: one `items` table keyed (pk, sk), a partial index for the GSI, TTL
//! honoured on every read and condition. In WAL mode readers never wait for the writer: a small
//! pool of read-only connections answers gets and queries in place (a keyed read is microseconds,
//! less than handing it to a blocking thread), so concurrent requests do not queue behind each
//! other. Writes go to one writer thread that commits whatever has queued up as one transaction
//! (group commit; under load it waits a quarter of a millisecond for more): each write still
//! succeeds or fails on its own, and each caller hears back only after the commit that holds its
//! write. Items read by key (sessions, settings, patient records), and keys found absent, are
//! kept in memory until a write to their key, and small query pages (a family, a patient's
//! records) until a write that could change them: the writer drops what it committed before
//! answering, so a completed write is always seen. One process per data folder.

use async_trait::async_trait;
use portal_core::ports::{Cond, Index, Item, Page, Query, SkRange, Table, TableError, TxOp};
use rusqlite::{params, Connection, OpenFlags, OptionalExtension};
use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::Path;
use std::sync::atomic::{AtomicI64, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

/// What a write does with the writer's connection, inside the group's transaction.
type Work = Box<dyn FnOnce(&Connection) -> Result<(), TableError> + Send>;

/// One write for the writer thread: runs inside the batch's transaction, answers on `done`.
struct WriteJob {
    work: Work,
    /// The keys it writes: dropped from the read cache once the group is committed…
    keys: Vec<(String, String)>,
    /// …and the GSI partitions it writes into (their cached pages are dropped too).
    gsi1: Vec<String>,
    done: tokio::sync::oneshot::Sender<Result<(), TableError>>,
}

/// The most writes one commit takes.
const MAX_GROUP: usize = 256;
/// How long a commit under load waits for more writes to join it.
const GATHER: std::time::Duration = std::time::Duration::from_micros(250);

/// Items read by key, kept until a write to their key. A read that raced a write does not fill
/// it: every write bumps `generation` after it commits, and a fill whose read started under an
/// older generation is dropped, so the cache never holds what the table no longer does.
#[derive(Default)]
struct ReadCache {
    items: Mutex<HashMap<(String, String), Item>>,
    /// Keys read and found absent (an inbox with no unread count yet), kept apart so that
    /// lookups of keys that do not exist (a guessed session token) never push out the items.
    absent: Mutex<std::collections::HashSet<(String, String)>>,
    pages: Mutex<PageCache>,
    generation: AtomicU64,
}

/// Enough for every session, settings item and patient record a busy local host reads.
const CACHE_MAX: usize = 4096;
/// Absent keys kept.
const ABSENT_MAX: usize = 1024;
/// Query pages kept, and the most items a kept page holds (a family, a patient's records of one
/// kind; longer pages are read each time).
const PAGES_MAX: usize = 1024;
const PAGE_ITEMS_MAX: usize = 100;

/// Query pages by the partition they read. A write drops the pages of the partition it writes
/// (its pk; for the GSI, the written item's `gsi1pk`) and the GSI pages holding the item it
/// writes (it may have left their partition, or be gone), so a page never outlives what it shows.
#[derive(Default)]
struct PageCache {
    pages: HashMap<(Index, String), HashMap<Query, KeptPage>>,
    /// The GSI partitions whose kept pages hold an item (entries may outlive their pages: they
    /// then drop nothing).
    holders: HashMap<(String, String), Vec<String>>,
    count: usize,
}

struct KeptPage {
    page: Page,
    /// The first expiry among its items: from then on the page is read again.
    expires_at: Option<i64>,
}

impl ReadCache {
    fn hit(&self, pk: &str, sk: &str) -> Option<Item> {
        let mut items = self.items.lock().unwrap_or_else(|e| e.into_inner());
        let key = (pk.to_string(), sk.to_string());
        match items.get(&key) {
            Some(item) if item.expires_at.is_some_and(|t| t <= now()) => {
                items.remove(&key);
                None
            }
            other => other.cloned(),
        }
    }

    fn known_absent(&self, pk: &str, sk: &str) -> bool {
        self.absent.lock().unwrap_or_else(|e| e.into_inner()).contains(&(pk.to_string(), sk.to_string()))
    }

    fn fill_absent(&self, read_under: u64, pk: &str, sk: &str) {
        // Under the items' lock, as `fill`: `invalidate` holds it while it bumps the generation.
        let _items = self.items.lock().unwrap_or_else(|e| e.into_inner());
        let mut absent = self.absent.lock().unwrap_or_else(|e| e.into_inner());
        if self.generation.load(Ordering::SeqCst) != read_under {
            return;
        }
        if absent.len() >= ABSENT_MAX {
            absent.clear();
        }
        absent.insert((pk.to_string(), sk.to_string()));
    }

    fn fill(&self, read_under: u64, item: &Item) {
        let mut items = self.items.lock().unwrap_or_else(|e| e.into_inner());
        if self.generation.load(Ordering::SeqCst) != read_under {
            return;
        }
        if items.len() >= CACHE_MAX {
            items.clear();
        }
        items.insert((item.pk.clone(), item.sk.clone()), item.clone());
    }

    fn page(&self, q: &Query) -> Option<Page> {
        let mut cache = self.pages.lock().unwrap_or_else(|e| e.into_inner());
        let pages = cache.pages.get_mut(&(q.index, q.pk.clone()))?;
        match pages.get(q) {
            Some(kept) if kept.expires_at.is_some_and(|t| t <= now()) => {
                pages.remove(q);
                None
            }
            other => other.map(|kept| kept.page.clone()),
        }
    }

    fn fill_page(&self, read_under: u64, q: &Query, page: &Page) {
        if page.items.len() > PAGE_ITEMS_MAX {
            return;
        }
        let mut cache = self.pages.lock().unwrap_or_else(|e| e.into_inner());
        if self.generation.load(Ordering::SeqCst) != read_under {
            return;
        }
        if cache.count >= PAGES_MAX {
            *cache = PageCache::default();
        }
        if q.index == Index::Gsi1 {
            for item in &page.items {
                cache.holders.entry((item.pk.clone(), item.sk.clone())).or_default().push(q.pk.clone());
            }
        }
        let expires_at = page.items.iter().filter_map(|i| i.expires_at).min();
        cache.count += 1;
        cache.pages.entry((q.index, q.pk.clone())).or_default().insert(q.clone(), KeptPage { page: page.clone(), expires_at });
    }

    fn invalidate(&self, jobs: &[WriteJob]) {
        let mut items = self.items.lock().unwrap_or_else(|e| e.into_inner());
        let mut absent = self.absent.lock().unwrap_or_else(|e| e.into_inner());
        let mut cache = self.pages.lock().unwrap_or_else(|e| e.into_inner());
        self.generation.fetch_add(1, Ordering::SeqCst);
        for job in jobs {
            for (pk, sk) in &job.keys {
                let key = (pk.clone(), sk.clone());
                items.remove(&key);
                absent.remove(&key);
                cache.pages.remove(&(Index::Primary, pk.clone()));
                for partition in cache.holders.remove(&key).unwrap_or_default() {
                    cache.pages.remove(&(Index::Gsi1, partition));
                }
            }
            for partition in &job.gsi1 {
                cache.pages.remove(&(Index::Gsi1, partition.clone()));
            }
        }
    }
}

pub struct SqliteTable {
    cache: Arc<ReadCache>,
    /// The writer connection (and, for an in-memory table, the only one), used by the writer
    /// thread and, when there is no reader pool, by reads.
    conn: Arc<Mutex<Connection>>,
    writes: std::sync::mpsc::Sender<WriteJob>,
    /// Read-only connections to the same file; empty for an in-memory table.
    readers: Vec<Mutex<Connection>>,
    next_reader: AtomicUsize,
}

fn backend(e: impl std::fmt::Display) -> TableError {
    TableError::Backend(e.to_string())
}

use portal_core::ports::unix_now as now;

const LIVE: &str = "(expires_at IS NULL OR expires_at > ?)";

impl SqliteTable {
    /// Opens (or creates) the table in a database file.
    pub fn open(path: &Path) -> Result<Self, TableError> {
        let conn = Connection::open(path).map_err(backend)?;
        conn.pragma_update(None, "journal_mode", "WAL").map_err(backend)?;
        conn.pragma_update(None, "synchronous", "NORMAL").map_err(backend)?;
        conn.busy_timeout(std::time::Duration::from_secs(5)).map_err(backend)?;
        let mut table = Self::init(conn)?;
        let readers = std::thread::available_parallelism().map_or(2, |n| n.get()).clamp(2, 8) * 2;
        for _ in 0..readers {
            let r =
                Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX).map_err(backend)?;
            r.busy_timeout(std::time::Duration::from_secs(5)).map_err(backend)?;
            stable_plans(&r)?;
            table.readers.push(Mutex::new(r));
        }
        Ok(table)
    }

    /// A private in-memory table (tests).
    pub fn in_memory() -> Result<Self, TableError> {
        Self::init(Connection::open_in_memory().map_err(backend)?)
    }

    /// Runs a read on a free reader connection, in place; on the writer when there are none.
    fn read<T>(&self, f: impl FnOnce(&Connection) -> Result<T, TableError>) -> Result<T, TableError> {
        if self.readers.is_empty() {
            let guard = self.conn.lock().unwrap_or_else(|e| e.into_inner());
            return f(&guard);
        }
        let start = self.next_reader.fetch_add(1, Ordering::Relaxed);
        let n = self.readers.len();
        for i in 0..n {
            if let Ok(guard) = self.readers[(start + i) % n].try_lock() {
                return f(&guard);
            }
        }
        let guard = self.readers[start % n].lock().unwrap_or_else(|e| e.into_inner());
        f(&guard)
    }

    fn init(conn: Connection) -> Result<Self, TableError> {
        stable_plans(&conn)?;
        conn.execute_batch(
            "CREATE TABLE IF NOT EXISTS items (
                pk TEXT NOT NULL, sk TEXT NOT NULL,
                gsi1pk TEXT, gsi1sk TEXT,
                expires_at INTEGER, version INTEGER NOT NULL DEFAULT 0,
                data TEXT NOT NULL,
                PRIMARY KEY (pk, sk)) WITHOUT ROWID;
             CREATE INDEX IF NOT EXISTS items_gsi1 ON items (gsi1pk, gsi1sk, pk, sk) WHERE gsi1pk IS NOT NULL;",
        )
        .map_err(backend)?;
        let conn = Arc::new(Mutex::new(conn));
        let (writes, queue) = std::sync::mpsc::channel::<WriteJob>();
        let writer = conn.clone();
        let cache = Arc::new(ReadCache::default());
        let written = cache.clone();
        std::thread::Builder::new().name("sqlite-writer".into()).spawn(move || group_commit(&writer, &written, &queue)).map_err(backend)?;
        Ok(SqliteTable { cache, conn, writes, readers: vec![], next_reader: AtomicUsize::new(0) })
    }

    /// Queues a write of `keys` (items into the GSI partitions `gsi1`) for the writer thread and
    /// waits for the commit that holds it.
    async fn write(
        &self,
        keys: Vec<(String, String)>,
        gsi1: Vec<String>,
        work: impl FnOnce(&Connection) -> Result<(), TableError> + Send + 'static,
    ) -> Result<(), TableError> {
        let (done, answer) = tokio::sync::oneshot::channel();
        self.writes.send(WriteJob { work: Box::new(work), keys, gsi1, done }).map_err(|_| backend("the writer thread stopped"))?;
        answer.await.map_err(|_| backend("the writer thread stopped"))?
    }
}

/// The writer thread: takes the first queued write and everything queued behind it (up to
/// [`MAX_GROUP`]), runs them in one transaction, commits once, drops the written keys from the
/// read cache, then answers each. Ends when the table is dropped.
fn group_commit(conn: &Mutex<Connection>, cache: &ReadCache, queue: &std::sync::mpsc::Receiver<WriteJob>) {
    let mut busy = false;
    while let Ok(first) = queue.recv() {
        let mut jobs = vec![first];
        // Under load (the last group was not alone) wait a moment for the writes on their way:
        // a commit costs the same for one write as for many, so fewer, larger groups leave the
        // CPU to the requests. A lone write is committed at once. A sleep, not `recv_timeout`:
        // that waits for an absolute deadline on the kernel's clock, which a moved process clock
        // (the tests run under faketime) puts days away.
        if busy {
            std::thread::sleep(GATHER);
        }
        while jobs.len() < MAX_GROUP {
            match queue.try_recv() {
                Ok(j) => jobs.push(j),
                Err(_) => break,
            }
        }
        busy = jobs.len() > 1;
        let mut guard = conn.lock().unwrap_or_else(|e| e.into_inner());
        let results = run_group(&mut guard, &mut jobs);
        drop(guard);
        // Committed (or rolled back): what was written leaves the cache before anyone hears back.
        cache.invalidate(&jobs);
        match results {
            Ok(results) => {
                for (job, result) in jobs.into_iter().zip(results) {
                    let _ = job.done.send(result);
                }
            }
            Err(e) => {
                for job in jobs {
                    let _ = job.done.send(Err(backend(&e)));
                }
            }
        }
    }
}

fn run_group(conn: &mut Connection, jobs: &mut [WriteJob]) -> Result<Vec<Result<(), TableError>>, TableError> {
    let mut tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate).map_err(backend)?;
    let mut results = Vec::with_capacity(jobs.len());
    for job in jobs.iter_mut() {
        let work = std::mem::replace(&mut job.work, Box::new(|_| Ok(())));
        // A write of more than one key gets a savepoint, so it fails as a whole; a single statement
        // is atomic by itself, and a failed condition writes nothing.
        let result = if job.keys.len() > 1 {
            let sp = tx.savepoint().map_err(backend)?;
            let result = work(&sp);
            if result.is_ok() {
                sp.commit().map_err(backend)?;
            } // a failed job's savepoint rolls back when dropped
            result
        } else {
            work(&tx)
        };
        results.push(result);
    }
    tx.commit().map_err(backend)?;
    Ok(results)
}

/// One plan per statement whatever its parameters (the query planner stability guarantee). The
/// bundled SQLite is built with STAT4, which otherwise re-prepares a statement with a range on an
/// indexed column every time its bound values change: for the GSI queries that was most of the
/// time a module read took. Our keys and ranges have one right plan.
fn stable_plans(c: &Connection) -> Result<(), TableError> {
    c.set_db_config(rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG, true).map_err(backend)?;
    Ok(())
}

fn row_to_item(row: &rusqlite::Row<'_>) -> rusqlite::Result<Item> {
    let data: String = row.get(6)?;
    Ok(Item {
        pk: row.get(0)?,
        sk: row.get(1)?,
        gsi1pk: row.get(2)?,
        gsi1sk: row.get(3)?,
        expires_at: row.get(4)?,
        version: u64::try_from(row.get::<_, i64>(5)?)
            .map_err(|e| rusqlite::Error::FromSqlConversionFailure(5, rusqlite::types::Type::Integer, Box::new(e)))?,
        data: Arc::new(serde_json::from_str(&data).unwrap_or(serde_json::Value::Null)),
        kept: Default::default(),
    })
}

const COLUMNS: &str = "pk, sk, gsi1pk, gsi1sk, expires_at, version, data";
const GET_SQL: &str =
    "SELECT pk, sk, gsi1pk, gsi1sk, expires_at, version, data FROM items WHERE pk = ? AND sk = ? AND (expires_at IS NULL OR expires_at > ?)";

/// Whether the condition holds for the live item stored under (pk, sk).
fn check(tx: &Connection, pk: &str, sk: &str, cond: Cond) -> Result<bool, TableError> {
    if cond == Cond::None {
        return Ok(true);
    }
    let mut stmt = tx
        .prepare_cached("SELECT version FROM items WHERE pk = ? AND sk = ? AND (expires_at IS NULL OR expires_at > ?)")
        .map_err(backend)?;
    let version: Option<i64> = stmt.query_row(params![pk, sk, now()], |r| r.get(0)).optional().map_err(backend)?;
    Ok(match cond {
        Cond::None => true,
        Cond::Absent => version.is_none(),
        Cond::Exists => version.is_some(),
        Cond::Version(v) => version.is_some_and(|stored| u64::try_from(stored) == Ok(v)),
    })
}

/// Stores an item, replacing whatever is under its key.
fn write_item(tx: &Connection, item: &Item) -> Result<(), TableError> {
    store(
        tx,
        "INSERT OR REPLACE INTO items (pk, sk, gsi1pk, gsi1sk, expires_at, version, data) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        item,
        &[],
    )?;
    Ok(())
}

/// Writes an item only where no live one is stored: one statement, where a check and a write
/// would search the tree twice (put-if-absent is every audit entry's write). An expired item
/// still stored counts as absent, as it does for [`check`]. Answers whether it wrote.
fn insert_item(tx: &Connection, item: &Item) -> Result<bool, TableError> {
    let written = store(
        tx,
        "INSERT INTO items (pk, sk, gsi1pk, gsi1sk, expires_at, version, data) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) \
         ON CONFLICT (pk, sk) DO UPDATE SET gsi1pk = ?3, gsi1sk = ?4, expires_at = ?5, version = ?6, data = ?7 \
         WHERE items.expires_at IS NOT NULL AND items.expires_at <= ?8",
        item,
        &[&now()],
    )?;
    Ok(written == 1)
}

/// Runs `sql` with the item's columns bound as ?1–?7 (and `more` after them); answers the rows
/// it changed. Key attributes may not be empty strings, as on DynamoDB.
fn store(tx: &Connection, sql: &str, item: &Item, more: &[&dyn rusqlite::ToSql]) -> Result<usize, TableError> {
    if item.pk.is_empty() || item.sk.is_empty() || item.gsi1pk.as_deref() == Some("") || item.gsi1sk.as_deref() == Some("") {
        return Err(TableError::Backend("a key attribute value cannot be empty".into()));
    }
    let version = i64::try_from(item.version).map_err(backend)?;
    let data = item.data.to_string();
    let columns: [&dyn rusqlite::ToSql; 7] = [&item.pk, &item.sk, &item.gsi1pk, &item.gsi1sk, &item.expires_at, &version, &data];
    tx.prepare_cached(sql).map_err(backend)?.execute(rusqlite::params_from_iter(columns.iter().chain(more))).map_err(backend)
}

/// Moves a counter in place (one statement: the writer thread is the only writer anyway);
/// answers the count it left.
fn count(tx: &Connection, pk: &str, sk: &str, by: i64, expires_at: Option<i64>) -> Result<i64, TableError> {
    tx.prepare_cached(
        "INSERT INTO items (pk, sk, expires_at, version, data) VALUES (?1, ?2, ?4, 0, json_object('count', ?3)) \
         ON CONFLICT (pk, sk) DO UPDATE SET data = json_set(data, '$.count', coalesce(json_extract(data, '$.count'), 0) + ?3) \
         RETURNING json_extract(data, '$.count')",
    )
    .map_err(backend)?
    .query_row(params![pk, sk, by, expires_at], |r| r.get(0))
    .map_err(backend)
}

fn delete_item(tx: &Connection, pk: &str, sk: &str) -> Result<(), TableError> {
    tx.prepare_cached("DELETE FROM items WHERE pk = ? AND sk = ?").map_err(backend)?.execute(params![pk, sk]).map_err(backend)?;
    Ok(())
}

/// Cursor: the partition and sort position of the last item returned, JSON then base64url. A
/// cursor only continues the partition it came from.
fn encode_cursor(item: &Item, index: Index) -> String {
    let v = match index {
        Index::Primary => serde_json::json!([item.pk, item.sk]),
        Index::Gsi1 => serde_json::json!([item.gsi1pk, item.gsi1sk, item.pk, item.sk]),
    };
    portal_core::ids::b64url(v.to_string().as_bytes())
}

/// The sort position after the partition key: `[sk]` or `[gsi1sk, pk, sk]`.
fn decode_cursor(c: &str, q: &Query) -> Result<Vec<String>, TableError> {
    let bytes = portal_core::ids::b64url_decode(c).ok_or(TableError::BadCursor)?;
    let mut v: Vec<String> = serde_json::from_slice(&bytes).map_err(|_| TableError::BadCursor)?;
    let want = if q.index == Index::Primary { 2 } else { 4 };
    if v.len() != want || v[0] != q.pk {
        return Err(TableError::BadCursor);
    }
    v.remove(0);
    Ok(v)
}

#[async_trait]
impl Table for SqliteTable {
    async fn get(&self, pk: &str, sk: &str) -> Result<Option<Item>, TableError> {
        if let Some(item) = self.cache.hit(pk, sk) {
            return Ok(Some(item));
        }
        if self.cache.known_absent(pk, sk) {
            return Ok(None);
        }
        let generation = self.cache.generation.load(Ordering::SeqCst);
        let found = self.read(|c| {
            let mut stmt = c.prepare_cached(GET_SQL).map_err(backend)?;
            stmt.query_row(params![pk, sk, now()], row_to_item).optional().map_err(backend)
        })?;
        match &found {
            Some(item) => self.cache.fill(generation, item),
            None => self.cache.fill_absent(generation, pk, sk),
        }
        Ok(found)
    }

    async fn put(&self, item: Item, cond: Cond) -> Result<(), TableError> {
        let keys = vec![(item.pk.clone(), item.sk.clone())];
        self.write(keys, item.gsi1pk.iter().cloned().collect(), move |tx| {
            if cond == Cond::Absent {
                return match insert_item(tx, &item)? {
                    true => Ok(()),
                    false => Err(TableError::ConditionFailed),
                };
            }
            if !check(tx, &item.pk, &item.sk, cond)? {
                return Err(TableError::ConditionFailed);
            }
            write_item(tx, &item)
        })
        .await
    }

    async fn delete(&self, pk: &str, sk: &str, cond: Cond) -> Result<(), TableError> {
        let (pk, sk) = (pk.to_string(), sk.to_string());
        self.write(vec![(pk.clone(), sk.clone())], vec![], move |tx| {
            if !check(tx, &pk, &sk, cond)? {
                return Err(TableError::ConditionFailed);
            }
            delete_item(tx, &pk, &sk)?;
            Ok(())
        })
        .await
    }

    async fn query(&self, q: Query) -> Result<Page, TableError> {
        let empty_bound = match &q.range {
            SkRange::All => false,
            SkRange::Prefix(p) => p.is_empty(),
            SkRange::Between(a, b) => a.is_empty() || b.is_empty(),
        };
        if q.pk.is_empty() || empty_bound {
            // As DynamoDB: a key value in a condition may not be empty.
            return Err(TableError::Backend("a key attribute value cannot be empty".into()));
        }
        if let Some(page) = self.cache.page(&q) {
            return Ok(page);
        }
        let generation = self.cache.generation.load(Ordering::SeqCst);
        let asked = q.clone();
        let page = self.read(move |c| {
            let (pk_col, sk_col) = match q.index {
                Index::Primary => ("pk", "sk"),
                Index::Gsi1 => ("gsi1pk", "gsi1sk"),
            };
            let mut sql = format!("SELECT {COLUMNS} FROM items WHERE {pk_col} = ?1 AND {LIVE}", LIVE = LIVE.replace('?', "?2"));
            let mut args: Vec<String> = vec![q.pk.clone(), now().to_string()];
            let arg = |v: String, args: &mut Vec<String>| {
                args.push(v);
                format!("?{}", args.len())
            };
            match &q.range {
                SkRange::All => {}
                SkRange::Prefix(p) => {
                    // Prefix as a range: [p, p + U+10FFFF) keeps the index usable and the match exact.
                    let lo = arg(p.clone(), &mut args);
                    let hi = arg(format!("{p}\u{10FFFF}"), &mut args);
                    let _ = write!(sql, " AND {sk_col} >= {lo} AND {sk_col} < {hi}");
                }
                SkRange::Between(a, b) => {
                    let lo = arg(a.clone(), &mut args);
                    let hi = arg(b.clone(), &mut args);
                    let _ = write!(sql, " AND {sk_col} >= {lo} AND {sk_col} <= {hi}");
                }
            }
            let op = if q.newest_first { "<" } else { ">" };
            if let Some(cursor) = &q.cursor {
                let pos = decode_cursor(cursor, &q)?;
                match q.index {
                    Index::Primary => {
                        let s = arg(pos[0].clone(), &mut args);
                        let _ = write!(sql, " AND sk {op} {s}");
                    }
                    Index::Gsi1 => {
                        let (a, b, d) = (arg(pos[0].clone(), &mut args), arg(pos[1].clone(), &mut args), arg(pos[2].clone(), &mut args));
                        let _ = write!(sql, " AND (gsi1sk, pk, sk) {op} ({a}, {b}, {d})");
                    }
                }
            }
            let dir = if q.newest_first { "DESC" } else { "ASC" };
            let order = match q.index {
                Index::Primary => format!("sk {dir}"),
                Index::Gsi1 => format!("gsi1sk {dir}, pk {dir}, sk {dir}"),
            };
            let limit = q.limit.clamp(1, 1000);
            let _ = write!(sql, " ORDER BY {order} LIMIT {}", limit + 1);
            let mut stmt = c.prepare_cached(&sql).map_err(backend)?;
            let mut items = stmt
                .query_map(rusqlite::params_from_iter(args.iter()), row_to_item)
                .map_err(backend)?
                .collect::<Result<Vec<_>, _>>()
                .map_err(backend)?;
            let more = items.len() > limit;
            items.truncate(limit);
            let cursor = if more { items.last().map(|i| encode_cursor(i, q.index)) } else { None };
            Ok(Page { items, cursor })
        })?;
        self.cache.fill_page(generation, &asked, &page);
        Ok(page)
    }

    async fn transact(&self, ops: Vec<TxOp>) -> Result<(), TableError> {
        if ops.len() > portal_core::ports::MAX_TRANSACTION_ITEMS {
            return Err(TableError::Backend(format!(
                "a transaction takes at most {} operations",
                portal_core::ports::MAX_TRANSACTION_ITEMS
            )));
        }
        let keys = ops.iter().map(|op| op.key()).map(|(pk, sk)| (pk.to_string(), sk.to_string())).collect();
        let gsi1 = ops
            .iter()
            .filter_map(|op| match op {
                TxOp::Put(item, _) => item.gsi1pk.clone(),
                _ => None,
            })
            .collect();
        self.write(keys, gsi1, move |tx| {
            let mut failed = vec![];
            for (i, op) in ops.iter().enumerate() {
                let ok = match op {
                    TxOp::Put(item, cond) => check(tx, &item.pk, &item.sk, *cond)?,
                    TxOp::Delete { pk, sk, cond } | TxOp::Check { pk, sk, cond } => check(tx, pk, sk, *cond)?,
                    TxOp::Count { .. } => true,
                };
                if !ok {
                    failed.push(i);
                }
            }
            if !failed.is_empty() {
                return Err(TableError::TransactionCanceled { failed });
            }
            for op in &ops {
                match op {
                    TxOp::Put(item, _) => write_item(tx, item)?,
                    TxOp::Delete { pk, sk, .. } => {
                        delete_item(tx, pk, sk)?;
                    }
                    TxOp::Count { pk, sk, by, expires_at } => {
                        count(tx, pk, sk, *by, *expires_at)?;
                    }
                    TxOp::Check { .. } => {}
                }
            }
            Ok(())
        })
        .await
    }

    async fn add(&self, pk: &str, sk: &str, by: i64, expires_at: Option<i64>) -> Result<i64, TableError> {
        let left = Arc::new(AtomicI64::new(0));
        let (key, answer) = ((pk.to_string(), sk.to_string()), left.clone());
        self.write(vec![key.clone()], vec![], move |tx| {
            answer.store(count(tx, &key.0, &key.1, by, expires_at)?, Ordering::SeqCst);
            Ok(())
        })
        .await?;
        Ok(left.load(Ordering::SeqCst))
    }

    async fn batch_put(&self, items: Vec<Item>) -> Result<(), TableError> {
        let keys = items.iter().map(|i| (i.pk.clone(), i.sk.clone())).collect();
        let gsi1 = items.iter().filter_map(|i| i.gsi1pk.clone()).collect();
        self.write(keys, gsi1, move |tx| {
            for item in &items {
                write_item(tx, item)?;
            }
            Ok(())
        })
        .await
    }

    async fn batch_get(&self, keys: Vec<(String, String)>) -> Result<Vec<Item>, TableError> {
        self.read(move |c| {
            let mut stmt = c.prepare_cached(GET_SQL).map_err(backend)?;
            let now = now();
            let mut found = Vec::with_capacity(keys.len());
            for (pk, sk) in &keys {
                if let Some(item) = stmt.query_row(params![pk, sk, now], row_to_item).optional().map_err(backend)? {
                    found.push(item);
                }
            }
            Ok(found)
        })
    }

    async fn batch_delete(&self, keys: Vec<(String, String)>) -> Result<(), TableError> {
        let gone = keys.clone();
        self.write(keys, vec![], move |tx| {
            for (pk, sk) in &gone {
                delete_item(tx, pk, sk)?;
            }
            Ok(())
        })
        .await
    }
}
