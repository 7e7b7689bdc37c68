//! `cargo run --release -p code-import-bench [DESCRIPTIONS]` (default 1,600,000, a full SNOMED CT
//! International release). Generates the release once (under `target/code-import-bench/`), then
//! in separate processes, so each reports its own peak memory: a plain line scan of the files
//! (read every line, nothing else) and the portal's import of them into a SQLite table (the
//! local backend), through the same split/batch/finish steps Step Functions runs — once with the
//! names stored and once with them dropped (what reading and parsing alone cost). Prints each
//! rate and peak resident memory.

use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::time::Instant;

const RELEASE: &str = "SnomedCT_Generated";

fn peak_rss_mb() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kb: f64 = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0);
    kb / 1024.0
}

fn root() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../target/code-import-bench"))
}

fn release_dir(root: &Path) -> PathBuf {
    root.join("blobs/bench/code-systems/releases").join(RELEASE)
}

fn files(root: &Path) -> Vec<PathBuf> {
    let (t, r) = (release_dir(root).join("Snapshot/Terminology"), release_dir(root).join("Snapshot/Refset/Language"));
    vec![
        t.join("sct2_Concept_Snapshot_INT_20250101.txt"),
        t.join("sct2_Description_Snapshot-en_INT_20250101.txt"),
        r.join("der2_cRefset_LanguageSnapshot-en_INT_20250101.txt"),
    ]
}

fn scan(root: &Path) {
    let start = Instant::now();
    let mut lines = 0u64;
    for f in files(root) {
        let reader = std::io::BufReader::with_capacity(1 << 16, std::fs::File::open(f).unwrap());
        for line in reader.split(b'\n') {
            line.unwrap();
            lines += 1;
        }
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "{}",
        serde_json::json!({"case": "plain line scan", "rows": lines, "seconds": secs, "rowsPerSecond": lines as f64 / secs, "peakRssMb": peak_rss_mb()})
    );
}

/// The table, except that batch writes (the names) are dropped: the steps and parser alone.
struct NamesDropped(std::sync::Arc<dyn portal_core::ports::Table>);

#[async_trait::async_trait]
impl portal_core::ports::Table for NamesDropped {
    async fn get(&self, pk: &str, sk: &str) -> Result<Option<portal_core::ports::Item>, portal_core::ports::TableError> {
        self.0.get(pk, sk).await
    }
    async fn put(&self, item: portal_core::ports::Item, cond: portal_core::ports::Cond) -> Result<(), portal_core::ports::TableError> {
        self.0.put(item, cond).await
    }
    async fn delete(&self, pk: &str, sk: &str, cond: portal_core::ports::Cond) -> Result<(), portal_core::ports::TableError> {
        self.0.delete(pk, sk, cond).await
    }
    async fn query(&self, q: portal_core::ports::Query) -> Result<portal_core::ports::Page, portal_core::ports::TableError> {
        self.0.query(q).await
    }
    async fn transact(&self, ops: Vec<portal_core::ports::TxOp>) -> Result<(), portal_core::ports::TableError> {
        self.0.transact(ops).await
    }
    async fn add(&self, pk: &str, sk: &str, by: i64, expires_at: Option<i64>) -> Result<i64, portal_core::ports::TableError> {
        self.0.add(pk, sk, by, expires_at).await
    }
    async fn batch_put(&self, _: Vec<portal_core::ports::Item>) -> Result<(), portal_core::ports::TableError> {
        Ok(())
    }
    async fn batch_get(&self, keys: Vec<(String, String)>) -> Result<Vec<portal_core::ports::Item>, portal_core::ports::TableError> {
        self.0.batch_get(keys).await
    }
    async fn batch_delete(&self, keys: Vec<(String, String)>) -> Result<(), portal_core::ports::TableError> {
        self.0.batch_delete(keys).await
    }
}

async fn import(root: &Path, store_names: bool) {
    use portal_core::code_systems::import::{ImportState, Importer};
    use portal_core::ports::{SystemClock, Workflows};
    use std::sync::Arc;
    let db = root.join("bench.db");
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", db.display()));
    }
    let sqlite: Arc<dyn portal_core::ports::Table> = Arc::new(portal_embedded::SqliteTable::open(&db).unwrap());
    let table: Arc<dyn portal_core::ports::Table> = if store_names { sqlite } else { Arc::new(NamesDropped(sqlite)) };
    let blobs = Arc::new(portal_embedded::DirBlobs::new(&root.join("blobs"), "http://127.0.0.1:9", b"bench").unwrap());
    let clock = Arc::new(SystemClock);
    let workflows = portal_embedded::InProcessWorkflows::new(table.clone(), blobs.clone(), clock.clone());
    struct Later;
    #[async_trait::async_trait]
    impl Workflows for Later {
        async fn start_import(&self, _: &portal_core::ids::PracticeId, _: &str) -> Result<(), portal_core::ports::PortError> {
            Ok(())
        }
    }
    let practice = portal_core::ids::PracticeId::parse("bench").expect("a practice id");
    let staff = portal_core::audit::Actor::new(&practice, portal_core::audit::ActorKind::Staff, "bench", None);
    let importer = Importer::new(portal_core::ports::Db { table: table.as_ref(), clock: clock.as_ref() }, blobs.as_ref());
    let job = importer.start(&staff, "bench", portal_core::code_systems::System::SnomedCt, RELEASE, &Later).await.unwrap();
    let start = Instant::now();
    workflows.run(&practice, &job.id).await;
    let secs = start.elapsed().as_secs_f64();
    let status = importer.status(&practice, &job.id).await.unwrap();
    assert_eq!(status.state, ImportState::Done, "{:?}", status.error);
    let rows = status.rows_done;
    println!(
        "{}",
        serde_json::json!({"case": if store_names { "import (split, batches, finish into SQLite)" } else { "import, names not stored (read, parse, steps)" }, "rows": rows, "batches": status.batches_total, "seconds": secs, "rowsPerSecond": rows as f64 / secs, "peakRssMb": peak_rss_mb()})
    );
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let root = root();
    match args.get(1).map(String::as_str) {
        Some("scan") => scan(&root),
        Some("import") => tokio::runtime::Runtime::new().unwrap().block_on(import(&root, true)),
        Some("parse") => tokio::runtime::Runtime::new().unwrap().block_on(import(&root, false)),
        other => {
            let descriptions: u64 = other.and_then(|n| n.parse().ok()).unwrap_or(1_600_000);
            // Named by the generator's version: a release made before the language refset is made again.
            let marker = root.join(format!("generated-with-language-{descriptions}"));
            if !marker.exists() {
                let _ = std::fs::remove_dir_all(&root);
                let start = Instant::now();
                let lines = code_import_bench::write_snomed_release(&release_dir(&root), descriptions).unwrap();
                std::fs::write(&marker, lines.to_string()).unwrap();
                eprintln!("generated {lines} lines in {:.1} s", start.elapsed().as_secs_f64());
            }
            let size: u64 = files(&root).iter().map(|f| std::fs::metadata(f).unwrap().len()).sum();
            eprintln!("release: {:.0} MB", size as f64 / 1e6);
            let me = std::env::current_exe().unwrap();
            for case in ["scan", "parse", "import"] {
                let status = std::process::Command::new(&me).arg(case).status().unwrap();
                assert!(status.success(), "{case} failed");
            }
        }
    }
}
