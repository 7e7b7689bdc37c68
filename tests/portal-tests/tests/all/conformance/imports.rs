//! Code-system imports on each backend: split, batches, finish, the version switch, cancel, and
//! an import whose start was lost giving way.

use super::*;
use portal_core::ports::Db;

/// The demo practices' releases, as a practice would put them in its release location.
pub(super) async fn put_release(b: &Backend, practice: &portal_core::ids::PracticeId, folder: &str, as_name: &str) {
    let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../functions/local/demo-releases").join(folder);
    let mut stack = vec![src.clone()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(dir).unwrap().flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else {
                let rel = path.strip_prefix(&src).unwrap().to_str().unwrap().to_string();
                let key = format!("{}{as_name}/{rel}", portal_core::code_systems::releases::location(practice));
                b.blobs.put(&key, std::fs::read(&path).unwrap().into(), "text/plain").await.unwrap();
            }
        }
    }
}

/// Runs the workflow the way a test wants: nothing happens until the test runs the steps.
#[derive(Default)]
pub(super) struct StepByStep {
    started: Mutex<Vec<String>>,
    refuse: bool,
}

#[async_trait]
impl Workflows for StepByStep {
    async fn start_import(&self, _practice: &portal_core::ids::PracticeId, import_id: &str) -> Result<(), PortError> {
        if self.refuse {
            return Err(PortError::Backend("throttled".into()));
        }
        self.started.lock().unwrap().push(import_id.to_string());
        Ok(())
    }
}

/// A table whose next batch write stops halfway with an error, once (a batch dying mid-write).
pub(super) struct FailsOnce {
    inner: Arc<dyn Table>,
    armed: std::sync::atomic::AtomicBool,
}

#[async_trait]
impl Table for FailsOnce {
    async fn get(&self, pk: &str, sk: &str) -> Result<Option<Item>, TableError> {
        self.inner.get(pk, sk).await
    }
    async fn put(&self, item: Item, cond: Cond) -> Result<(), TableError> {
        self.inner.put(item, cond).await
    }
    async fn delete(&self, pk: &str, sk: &str, cond: Cond) -> Result<(), TableError> {
        self.inner.delete(pk, sk, cond).await
    }
    async fn query(&self, q: Query) -> Result<Page, TableError> {
        self.inner.query(q).await
    }
    async fn transact(&self, ops: Vec<TxOp>) -> Result<(), TableError> {
        self.inner.transact(ops).await
    }
    async fn add(&self, pk: &str, sk: &str, by: i64, expires_at: Option<i64>) -> Result<i64, TableError> {
        self.inner.add(pk, sk, by, expires_at).await
    }
    async fn batch_put(&self, mut items: Vec<Item>) -> Result<(), TableError> {
        if self.armed.swap(false, std::sync::atomic::Ordering::SeqCst) {
            items.truncate(items.len() / 2);
            self.inner.batch_put(items).await?;
            return Err(TableError::Backend("ProvisionedThroughputExceededException".into()));
        }
        self.inner.batch_put(items).await
    }
    async fn batch_get(&self, keys: Vec<(String, String)>) -> Result<Vec<Item>, TableError> {
        self.inner.batch_get(keys).await
    }
    async fn batch_delete(&self, keys: Vec<(String, String)>) -> Result<(), TableError> {
        self.inner.batch_delete(keys).await
    }
}

pub(super) async fn all_items(table: &dyn Table, pk: &str) -> Vec<Item> {
    let (mut out, mut cursor) = (vec![], None);
    loop {
        let page = table.query(Query::new(pk).limit(1000).after(cursor)).await.unwrap();
        out.extend(page.items);
        match page.cursor {
            Some(c) => cursor = Some(c),
            None => return out,
        }
    }
}

/// Code-system imports, step by step as the state machine runs them: many small batches, one of
/// which dies halfway and is retried; line numbers across batches; the version switch; cancel and
/// failure leave the active version; a re-import changes nothing; bad releases are refused.
#[allow(clippy::too_many_lines, reason = "the state machine's steps in its order, each on the versions the one before left")]
pub(super) async fn code_system_imports_hold(b: &Backend) {
    use portal_core::code_systems::import::{ImportState, Importer, Leftover};
    use portal_core::code_systems::terms::Terms;
    use portal_core::code_systems::System;
    use portal_core::table_keys;
    let clock = SystemClock;
    let practice = new_practice();
    let staff = portal_core::audit::Actor::new(&practice, portal_core::audit::ActorKind::Staff, "staff-1", None);
    let snomed = "SnomedCT_InternationalRF2_PRODUCTION_20250101T120000Z";
    put_release(b, &practice, snomed, snomed).await;
    let flaky = Arc::new(FailsOnce { inner: b.table.clone(), armed: false.into() });
    // Batches of ~300 bytes: the three SNOMED files make about 25.
    let importer = Importer::new(Db { table: flaky.as_ref(), clock: &clock }, b.blobs.as_ref()).with_batch_bytes(300);
    let workflows = StepByStep::default();
    // Every step in the workflow's order: split, the batches read first, the rest, finish, clean.
    let run_all = |id: String| {
        let importer = &importer;
        let practice = &practice;
        async move {
            let split = importer.split(practice, &id).await.unwrap();
            for n in split.first.iter().chain(&split.rest) {
                importer.run_batch(practice, &id, *n).await.unwrap();
            }
            let state = importer.finish(practice, &id).await.unwrap().state;
            while importer.clean(practice, &id).await.unwrap() {}
            state
        }
    };

    let job = importer.start(&staff, "Pat Admin", System::SnomedCt, snomed, &workflows).await.unwrap();
    assert_eq!(*workflows.started.lock().unwrap(), std::slice::from_ref(&job.id));
    assert_eq!(importer.start(&staff, "x", System::SnomedCt, snomed, &workflows).await.unwrap_err().code(), "import_running");
    let split = importer.split(&practice, &job.id).await.unwrap();
    assert!(split.first.len() > 3 && split.rest.len() > 8, "{split:?}");
    assert_eq!(importer.split(&practice, &job.id).await.unwrap(), split, "a split run twice answers the same");
    let status = importer.status(&practice, &job.id).await.unwrap();
    assert_eq!((status.state, status.rows_total, status.batches_done), (ImportState::Running, Some(15 + 33 + 32), 0));
    // A description batch waits for the language refset's batches: the workflow tries it again.
    let descriptions = *split.rest.last().unwrap();
    assert!(importer.run_batch(&practice, &job.id, descriptions).await.is_err(), "the refset is not read yet");
    for n in split.first.iter().chain(&split.rest) {
        if *n == split.rest[3] {
            flaky.armed.store(true, std::sync::atomic::Ordering::SeqCst);
            assert!(importer.run_batch(&practice, &job.id, *n).await.is_err(), "the batch dies halfway");
        }
        importer.run_batch(&practice, &job.id, *n).await.unwrap();
    }
    importer.run_batch(&practice, &job.id, split.rest[3]).await.unwrap();
    let status = importer.status(&practice, &job.id).await.unwrap();
    assert_eq!((status.rows_done, status.batches_done), (15 + 33 + 32, split.first.len() + split.rest.len()), "each row counted once");
    assert_eq!(importer.finish(&practice, &job.id).await.unwrap().state, ImportState::Done);
    let lookups = table_keys::preferred(&practice, &job.id);
    assert_eq!(all_items(b.table.as_ref(), &lookups).await.len(), 30, "the US-preferred descriptions, while importing");
    assert!(!importer.clean(&practice, &job.id).await.unwrap(), "nothing more");
    assert!(all_items(b.table.as_ref(), &lookups).await.is_empty(), "cleaned once the version is in use");
    let terms_pk = table_keys::terms(&practice, System::SnomedCt.name(), &job.id);
    let stored = all_items(b.table.as_ref(), &terms_pk).await;
    // 15 active concepts, 16 synonyms, 15 fully specified names; no inactive name, no definition.
    assert_eq!(stored.len(), 46);
    let terms = Terms { db: b.db() };
    let names = terms
        .names(&practice, &[(System::SnomedCt, "38341003".into()), (System::SnomedCt, "80967001".into()), (System::Cvx, "140".into())])
        .await
        .unwrap();
    assert_eq!(
        names.get(System::SnomedCt, "38341003"),
        Some("Hypertensive disorder"),
        "the US preferred synonym, not the first synonym (HBP - High blood pressure) or the FSN"
    );
    assert_eq!(names.get(System::SnomedCt, "80967001"), Some("Dental caries"));
    assert_eq!(names.missing, [System::Cvx]);
    let systems = importer.systems(&practice).await.unwrap();
    let active = systems[0].active.clone().unwrap();
    assert_eq!(
        (systems[0].system, active.version.as_str(), active.rows, active.imported_by.as_str()),
        (System::SnomedCt, snomed, 46, "Pat Admin")
    );
    assert_eq!(systems.iter().map(|s| s.system).collect::<Vec<_>>(), System::IMPORTABLE);

    // The same release again: the same names in a new version; the one it replaced is deleted.
    let again = importer.start(&staff, "Pat Admin", System::SnomedCt, snomed, &workflows).await.unwrap();
    assert_eq!(run_all(again.id.clone()).await, ImportState::Done);
    let sorted = |items: Vec<Item>| items.into_iter().map(|i| (i.sk, i.data)).collect::<Vec<_>>();
    assert_eq!(
        sorted(all_items(b.table.as_ref(), &table_keys::terms(&practice, System::SnomedCt.name(), &again.id)).await),
        sorted(stored)
    );
    assert!(all_items(b.table.as_ref(), &terms_pk).await.is_empty(), "the replaced version is gone");
    assert_eq!(terms.active(&practice).await.unwrap()[&System::SnomedCt], again.id);
    assert!(importer.systems(&practice).await.unwrap()[0].leftovers.is_empty());

    // A newer release, cancelled halfway: the first stays active; what it wrote is deleted once
    // its workflow has finished.
    let newer = "SnomedCT_InternationalRF2_PRODUCTION_20250701T120000Z";
    put_release(b, &practice, snomed, newer).await;
    let job = importer.start(&staff, "Pat Admin", System::SnomedCt, newer, &workflows).await.unwrap();
    let split = importer.split(&practice, &job.id).await.unwrap();
    importer.run_batch(&practice, &job.id, split.first[0]).await.unwrap();
    assert_eq!(importer.cancel(&practice, &job.id).await.unwrap().state, ImportState::Cancelled);
    importer.run_batch(&practice, &job.id, split.first[1]).await.unwrap();
    assert_eq!(importer.cancel(&practice, &job.id).await.unwrap_err().code(), "import_finished");
    let half = table_keys::preferred(&practice, &job.id);
    assert!(!all_items(b.table.as_ref(), &half).await.is_empty(), "half an import, never read");
    assert_eq!(importer.finish(&practice, &job.id).await.unwrap().state, ImportState::Cancelled, "finish after cancel switches nothing");
    assert_eq!(importer.systems(&practice).await.unwrap()[0].leftovers, [Leftover::Version(job.id.clone())]);
    while importer.clean(&practice, &job.id).await.unwrap() {}
    assert!(all_items(b.table.as_ref(), &half).await.is_empty());
    assert_eq!(terms.active(&practice).await.unwrap()[&System::SnomedCt], again.id);
    let systems = importer.systems(&practice).await.unwrap();
    assert_eq!((systems[0].running.as_ref(), systems[0].last.as_ref().map(|l| l.state)), (None, Some(ImportState::Cancelled)));

    // A concept the release marks inactive has no name from it (its descriptions may be active).
    let retired = "SnomedCT_retired";
    put_release(b, &practice, snomed, retired).await;
    let concepts = format!(
        "{}{retired}/Snapshot/Terminology/sct2_Concept_Snapshot_INT_20250101.txt",
        portal_core::code_systems::releases::location(&practice)
    );
    let text = String::from_utf8(b.blobs.get(&concepts).await.unwrap().unwrap().bytes.to_vec()).unwrap();
    b.blobs.put(&concepts, text.replace("66383009\t20020131\t1", "66383009\t20020131\t0").into_bytes().into(), "text/plain").await.unwrap();
    let job = importer.start(&staff, "Pat Admin", System::SnomedCt, retired, &workflows).await.unwrap();
    assert_eq!(run_all(job.id.clone()).await, ImportState::Done);
    assert_eq!(terms.name(&practice, System::SnomedCt, &job.id, "66383009").await.unwrap(), None, "inactive: no name");
    assert_eq!(terms.name(&practice, System::SnomedCt, &job.id, "80967001").await.unwrap().as_deref(), Some("Dental caries"));
    let again = importer.start(&staff, "Pat Admin", System::SnomedCt, snomed, &workflows).await.unwrap();
    run_all(again.id.clone()).await;
    assert_eq!(terms.name(&practice, System::SnomedCt, &again.id, "66383009").await.unwrap().as_deref(), Some("Gingivitis"));

    // A malformed line deep in the file: reported by file and line; the version in use stays.
    let broken = "SnomedCT_broken";
    put_release(b, &practice, snomed, broken).await;
    let key = |f: &str| format!("{}{broken}/Snapshot/Terminology/{f}", portal_core::code_systems::releases::location(&practice));
    let descriptions = key("sct2_Description_Snapshot-en_INT_20250101.txt");
    let text = String::from_utf8(b.blobs.get(&descriptions).await.unwrap().unwrap().bytes.to_vec()).unwrap();
    let mut lines: Vec<String> = text.split("\r\n").map(str::to_string).collect();
    lines[24] = lines[24].replace("\t1\t", "\tyes\t");
    b.blobs.put(&descriptions, lines.join("\r\n").into_bytes().into(), "text/plain").await.unwrap();
    let job = importer.start(&staff, "Pat Admin", System::SnomedCt, broken, &workflows).await.unwrap();
    assert_eq!(run_all(job.id.clone()).await, ImportState::Failed);
    let status = importer.status(&practice, &job.id).await.unwrap();
    let error = status.error.unwrap();
    assert_eq!(
        (error.file.as_deref(), error.line, error.reason.as_str()),
        (Some("Snapshot/Terminology/sct2_Description_Snapshot-en_INT_20250101.txt"), Some(25), "active is 'yes', not 0 or 1")
    );
    assert_eq!(terms.active(&practice).await.unwrap()[&System::SnomedCt], again.id);
    assert!(
        all_items(b.table.as_ref(), &table_keys::terms(&practice, System::SnomedCt.name(), &job.id)).await.is_empty(),
        "the failed version is gone"
    );

    // Refused before anything starts: unknown, wrong system, a file not its format, a busy workflow.
    let refused = |e: portal_core::CoreError| e.code();
    assert_eq!(refused(importer.start(&staff, "x", System::SnomedCt, "nope", &workflows).await.unwrap_err()), "release_unknown");
    assert_eq!(refused(importer.start(&staff, "x", System::RxNorm, snomed, &workflows).await.unwrap_err()), "release_system_mismatch");
    let fake = "SnomedCT_fake";
    put_release(b, &practice, snomed, fake).await;
    let concepts = format!(
        "{}{fake}/Snapshot/Terminology/sct2_Concept_Snapshot_INT_20250101.txt",
        portal_core::code_systems::releases::location(&practice)
    );
    b.blobs.put(&concepts, Bytes::from_static(b"\x89PNG\r\n\x1a\n not a concept file"), "text/plain").await.unwrap();
    let e = importer.start(&staff, "x", System::SnomedCt, fake, &workflows).await.unwrap_err();
    assert_eq!(refused(e), "release_format_wrong");
    let busy = StepByStep { refuse: true, ..Default::default() };
    assert!(importer.start(&staff, "x", System::SnomedCt, snomed, &busy).await.is_err());
    let systems = importer.systems(&practice).await.unwrap();
    let last = systems[0].last.clone().unwrap();
    assert_eq!((systems[0].running.as_ref(), last.state), (None, ImportState::Failed), "not started: recorded as failed, system free");

    // RxNorm by term-type priority; CVX in UTF-16; LOINC's quoted table; a practice's CDT list.
    for release in ["RxNorm_full_11032025", "cvx-20251001", "Loinc_2.80", "cdt-2026"] {
        put_release(b, &practice, release, release).await;
    }
    for (system, release) in
        [(System::RxNorm, "RxNorm_full_11032025"), (System::Cvx, "cvx-20251001"), (System::Loinc, "Loinc_2.80"), (System::Cdt, "cdt-2026")]
    {
        let job = importer.start(&staff, "Pat Admin", system, release, &workflows).await.unwrap();
        assert_eq!(run_all(job.id.clone()).await, ImportState::Done, "{release}");
    }
    let wanted: Vec<(System, String)> = [
        (System::RxNorm, "197361"),
        (System::RxNorm, "310965"),
        (System::Cvx, "140"),
        (System::Cvx, "08"),
        (System::Loinc, "4548-4"),
        (System::Loinc, "8480-6"),
        (System::Cdt, "D2391"),
    ]
    .into_iter()
    .map(|(s, c)| (s, c.to_string()))
    .collect();
    let names = terms.names(&practice, &wanted).await.unwrap();
    assert_eq!(names.get(System::RxNorm, "197361"), Some("amlodipine 5 MG Oral Tablet"), "SCD over TMSY and SY, not MTHSPL's");
    assert_eq!(names.get(System::RxNorm, "310965"), Some("ibuprofen 200 MG Oral Tablet"), "not the suppressed name");
    assert_eq!(names.get(System::Cvx, "140"), Some("Influenza, seasonal, injectable, preservative free"));
    assert_eq!(names.get(System::Cvx, "08"), Some("Hep B, adolescent or pediatric"));
    assert_eq!(
        names.get(System::Loinc, "4548-4"),
        Some("Hemoglobin A1c/Hemoglobin.total in Blood"),
        "the record with a line break in a field"
    );
    assert_eq!(names.get(System::Loinc, "8480-6"), Some("Systolic blood pressure"));
    assert_eq!(names.get(System::Cdt, "D2391"), Some("Filling, tooth-colored, one surface (back tooth)"), "a quoted field");
    assert!(names.missing.is_empty());
}

/// A start whose transaction applied but whose answer was lost never started its workflow: the
/// import stays queued. A new start is refused while it could still begin, and once it has been
/// queued [`NEVER_STARTED_SECONDS`] the new start takes its place and the old one is failed.
pub(super) async fn an_import_that_never_started_gives_way(b: &Backend) {
    use portal_core::code_systems::import::{ImportState, Importer, NEVER_STARTED_SECONDS};
    use portal_core::code_systems::System;
    let clock = ManualClock::new(now());
    let practice = new_practice();
    let staff = portal_core::audit::Actor::new(&practice, portal_core::audit::ActorKind::Staff, "staff-1", None);
    let release = "Loinc_2.80";
    put_release(b, &practice, release, release).await;
    let importer = Importer::new(b.db_with(&clock), b.blobs.as_ref());
    let workflows = StepByStep::default();
    let lost = importer.start(&staff, "Pat Admin", System::Loinc, release, &workflows).await.unwrap();
    clock.advance(NEVER_STARTED_SECONDS - 1);
    assert_eq!(importer.start(&staff, "Pat Admin", System::Loinc, release, &workflows).await.unwrap_err().code(), "import_running");
    clock.advance(1);
    let again = importer.start(&staff, "Pat Admin", System::Loinc, release, &workflows).await.unwrap();
    assert_ne!(again.id, lost.id);
    let old = importer.status(&practice, &lost.id).await.unwrap();
    assert_eq!(old.state, ImportState::Failed, "{old:?}");
    assert_eq!(importer.status(&practice, &again.id).await.unwrap().state, ImportState::Queued);
    // A running one (its split ran) is never taken over, however long it runs.
    importer.split(&practice, &again.id).await.unwrap();
    clock.advance(10 * NEVER_STARTED_SECONDS);
    assert_eq!(importer.start(&staff, "Pat Admin", System::Loinc, release, &workflows).await.unwrap_err().code(), "import_running");
}
