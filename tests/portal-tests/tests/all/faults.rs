//! Faults at a set rate: a second server over the local host's backends whose `Table`, `Blobs`,
//! `Mailer`, `Events`, `Workflows` and payment processor fail one call in twenty — throttled, timed out (a write sometimes
//! applied before the time-out, as DynamoDB and EventBridge can), a transaction canceled by one
//! in flight — while two patients and the front desk read, write to each other, download care
//! summaries and start payments (a payment whose start failed is started again with its key, as
//! the page does). Every answer is a success or a problem with a code, never a bare 500. Once the
//! faults stop and the outbox relay has run, every message acknowledged is stored once, every
//! stored message to the office has exactly one notification (the notifier works on the faulty
//! table and mailer too: a claim or a `sent` it failed to write neither loses nor doubles
//! one), every payment key made one
//! payment and nothing is left unpublished. The automated invites run through the same faults on
//! a clock of their own: every patient due an invite gets exactly one.

use crate::support::{client, now, pid, send, start_local, Local};
use async_trait::async_trait;
use bytes::Bytes;
use portal_core::ports::Db;
use portal_core::ports::*;
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// One call in `EVERY` fails while the faults are on; which way is picked by the same draw.
const EVERY: u64 = 20;

/// The dice all wrappers share: a counter through a mixing function, so a run is repeatable in
/// its rate if not in its interleaving.
#[derive(Default)]
struct Faults {
    on: AtomicBool,
    calls: AtomicU64,
    injected: AtomicU64,
}

/// How a call fails.
enum Fault {
    /// Refused before anything happened (throttled, rejected, unreachable).
    Before,
    /// Done, but the answer never came back (a time-out after the write applied).
    After,
    /// A transaction canceled by another in flight (nothing written).
    Canceled,
}

impl Faults {
    fn draw(&self) -> Option<Fault> {
        if !self.on.load(Ordering::SeqCst) {
            return None;
        }
        let mut x = self.calls.fetch_add(1, Ordering::SeqCst).wrapping_add(0x9E37_79B9_7F4A_7C15);
        x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        x ^= x >> 31;
        if !x.is_multiple_of(EVERY) {
            return None;
        }
        self.injected.fetch_add(1, Ordering::SeqCst);
        Some(match (x / EVERY) % 3 {
            0 => Fault::Before,
            1 => Fault::After,
            _ => Fault::Canceled,
        })
    }
}

fn throttled() -> TableError {
    TableError::Backend("ProvisionedThroughputExceededException (injected)".into())
}

fn timed_out() -> TableError {
    TableError::Backend("request timed out (injected)".into())
}

struct FaultyTable {
    inner: Arc<dyn Table>,
    faults: Arc<Faults>,
}

impl FaultyTable {
    /// A read: fails before, or answers.
    fn read(&self) -> Result<(), TableError> {
        match self.faults.draw() {
            None => Ok(()),
            Some(Fault::After) => Err(timed_out()),
            Some(_) => Err(throttled()),
        }
    }

    /// A write: fails before, or after it applied, or answers.
    async fn write<T>(&self, op: impl std::future::Future<Output = Result<T, TableError>>, canceled: TableError) -> Result<T, TableError> {
        match self.faults.draw() {
            None => op.await,
            Some(Fault::Before) => Err(throttled()),
            Some(Fault::After) => {
                let _ = op.await;
                Err(timed_out())
            }
            Some(Fault::Canceled) => Err(canceled),
        }
    }
}

fn canceled() -> TableError {
    TableError::TransactionCanceled { failed: vec![] }
}

#[async_trait]
impl Table for FaultyTable {
    async fn get(&self, pk: &str, sk: &str) -> Result<Option<Item>, TableError> {
        self.read()?;
        self.inner.get(pk, sk).await
    }
    async fn put(&self, item: Item, cond: Cond) -> Result<(), TableError> {
        self.write(self.inner.put(item, cond), throttled()).await
    }
    async fn delete(&self, pk: &str, sk: &str, cond: Cond) -> Result<(), TableError> {
        self.write(self.inner.delete(pk, sk, cond), throttled()).await
    }
    async fn query(&self, q: Query) -> Result<Page, TableError> {
        self.read()?;
        self.inner.query(q).await
    }
    async fn transact(&self, ops: Vec<TxOp>) -> Result<(), TableError> {
        self.write(self.inner.transact(ops), canceled()).await
    }
    async fn add(&self, pk: &str, sk: &str, by: i64, expires_at: Option<i64>) -> Result<i64, TableError> {
        self.write(self.inner.add(pk, sk, by, expires_at), throttled()).await
    }
    async fn batch_put(&self, items: Vec<Item>) -> Result<(), TableError> {
        // Partly applied: the first half written, the rest not.
        if let Some(Fault::After) = self.faults.draw() {
            let half = items.len() / 2;
            self.inner.batch_put(items[..half].to_vec()).await?;
            return Err(timed_out());
        }
        self.inner.batch_put(items).await
    }
    async fn batch_get(&self, keys: Vec<(String, String)>) -> Result<Vec<Item>, TableError> {
        self.read()?;
        self.inner.batch_get(keys).await
    }
    async fn batch_delete(&self, keys: Vec<(String, String)>) -> Result<(), TableError> {
        self.write(self.inner.batch_delete(keys), throttled()).await
    }
}

fn port_down() -> PortError {
    PortError::Backend("service unavailable (injected)".into())
}

struct FaultyBlobs {
    inner: Arc<dyn Blobs>,
    faults: Arc<Faults>,
}

impl FaultyBlobs {
    fn check(&self) -> Result<(), PortError> {
        self.faults.draw().map_or(Ok(()), |_| Err(port_down()))
    }
}

#[async_trait]
impl Blobs for FaultyBlobs {
    async fn put(&self, key: &str, bytes: Bytes, content_type: &str) -> Result<(), PortError> {
        self.check()?;
        self.inner.put(key, bytes, content_type).await
    }
    async fn get(&self, key: &str) -> Result<Option<Blob>, PortError> {
        self.check()?;
        self.inner.get(key).await
    }
    async fn head(&self, key: &str) -> Result<Option<BlobMeta>, PortError> {
        self.check()?;
        self.inner.head(key).await
    }
    async fn get_range(&self, key: &str, start: u64, end: u64) -> Result<Option<Bytes>, PortError> {
        self.check()?;
        self.inner.get_range(key, start, end).await
    }
    async fn list(&self, prefix: &str) -> Result<Vec<Listed>, PortError> {
        self.check()?;
        self.inner.list(prefix).await
    }
    async fn delete(&self, key: &str) -> Result<(), PortError> {
        self.check()?;
        self.inner.delete(key).await
    }
    async fn presign_get(&self, key: &str, expires: Duration, download_name: Option<&str>) -> Result<String, PortError> {
        self.inner.presign_get(key, expires, download_name).await
    }
    async fn presign_put(&self, key: &str, content_type: &str, size: u64, expires: Duration) -> Result<String, PortError> {
        self.inner.presign_put(key, content_type, size, expires).await
    }
}

/// Mail refused or timed out before it was handed over (a time-out after SES took it would send
/// a second notice on the retry: mail is at least once, never never).
struct FaultyMailer {
    inner: Arc<dyn Mailer>,
    faults: Arc<Faults>,
}

#[async_trait]
impl Mailer for FaultyMailer {
    async fn send(&self, mail: &Mail) -> Result<String, PortError> {
        match self.faults.draw() {
            None => self.inner.send(mail).await,
            Some(Fault::Before) => Err(PortError::Rejected("Throttling: maximum sending rate exceeded (injected)".into())),
            Some(_) => Err(port_down()),
        }
    }
}

/// Events refused, or delivered with the answer lost (EventBridge took them; the outbox keeps
/// them marked and the relay sends them again: receivers must take an event twice).
struct FaultyEvents {
    inner: Arc<dyn Events>,
    faults: Arc<Faults>,
}

#[async_trait]
impl Events for FaultyEvents {
    async fn publish(&self, events: &[DomainEvent]) -> Result<(), PortError> {
        match self.faults.draw() {
            None => self.inner.publish(events).await,
            Some(Fault::After) => {
                let _ = self.inner.publish(events).await;
                Err(port_down())
            }
            Some(_) => Err(port_down()),
        }
    }
}

/// Workflows that fail to start (Step Functions unreachable): the import is recorded as failed.
struct FaultyWorkflows {
    inner: Arc<dyn Workflows>,
    faults: Arc<Faults>,
}

#[async_trait]
impl Workflows for FaultyWorkflows {
    async fn start_import(&self, practice_id: &portal_core::ids::PracticeId, import_id: &str) -> Result<(), PortError> {
        match self.faults.draw() {
            None => self.inner.start_import(practice_id, import_id).await,
            Some(_) => Err(port_down()),
        }
    }
}

/// The payment processor (the local test processor) refusing, or creating a payment and losing
/// the answer: the start again with its key must find the same payment there.
struct FaultyProcessor {
    inner: Arc<dyn PaymentProcessor>,
    faults: Arc<Faults>,
}

impl FaultyProcessor {
    async fn call<T>(&self, op: impl std::future::Future<Output = Result<T, PortError>>) -> Result<T, PortError> {
        match self.faults.draw() {
            None => op.await,
            Some(Fault::After) => {
                let _ = op.await;
                Err(PortError::Backend("the processor timed out (injected)".into()))
            }
            Some(_) => Err(PortError::Backend("the processor answered 503 (injected)".into())),
        }
    }
}

#[async_trait]
impl PaymentProcessor for FaultyProcessor {
    async fn create(&self, account: &ProcessorAccount, request: &ChargeRequest<'_>) -> Result<Charge, PortError> {
        self.call(self.inner.create(account, request)).await
    }
    async fn pay(&self, account: &ProcessorAccount, processor_ref: &str, card_token: &str) -> Result<Charge, PortError> {
        self.call(self.inner.pay(account, processor_ref, card_token)).await
    }
    async fn read(&self, account: &ProcessorAccount, processor_ref: &str) -> Result<Charge, PortError> {
        self.call(self.inner.read(account, processor_ref)).await
    }
    async fn cancel(&self, account: &ProcessorAccount, processor_ref: &str) -> Result<Charge, PortError> {
        self.call(self.inner.cancel(account, processor_ref)).await
    }
    async fn refund(&self, account: &ProcessorAccount, processor_ref: &str, amount_cents: i64, key: &str) -> Result<String, PortError> {
        self.call(self.inner.refund(account, processor_ref, amount_cents, key)).await
    }
    fn webhook(&self, account: &ProcessorAccount, signature: &str, body: &[u8], now: i64) -> Result<ProcessorEvent, PortError> {
        self.inner.webhook(account, signature, body, now)
    }
    async fn check(&self, account: &ProcessorAccount) -> Result<(), PortError> {
        self.call(self.inner.check(account)).await
    }
    fn script_url(&self) -> Option<String> {
        self.inner.script_url()
    }
}

/// The faulty server: the local host's functions on the wrapped ports, its own event bus whose
/// notifications go out on the faulty table and mailer, on `notify_clock` (the test moves it on, so
/// that claims a failed delivery left lapse); answers the bus, unwrapped, for the relay.
async fn faulty_server(l: &Local, faults: &Arc<Faults>, notify_clock: Arc<ManualClock>) -> (String, Arc<portal_embedded::InProcessEvents>) {
    let table: Arc<dyn Table> = Arc::new(FaultyTable { inner: l.backends.table.clone(), faults: faults.clone() });
    let mailer: Arc<dyn Mailer> = Arc::new(FaultyMailer { inner: l.backends.mailer.clone(), faults: faults.clone() });
    let bus = Arc::new(portal_embedded::InProcessEvents::new(&l.data_dir.path().join("faulty-events.log")).unwrap());
    let notify = portal_notify::Deps { table: table.clone(), clock: notify_clock, mailer, portal_base_url: l.base.clone() };
    bus.subscribe(Arc::new(move |e: DomainEvent| {
        let notify = notify.clone();
        Box::pin(async move {
            if e.detail_type != "webmail.sent" {
                return Ok(());
            }
            let mut detail = e.detail;
            detail["practiceId"] = json!(e.practice_id);
            let event = json!({ "source": "portal", "detail-type": e.detail_type, "detail": detail });
            portal_notify::handle(&notify, event).await.map(|_| ()).map_err(|e| e.to_string())
        })
    }));
    let mut f = l.functions();
    f.ports.table = table;
    f.ports.blobs = Arc::new(FaultyBlobs { inner: l.backends.blobs.clone(), faults: faults.clone() });
    f.ports.events = Arc::new(FaultyEvents { inner: bus.clone(), faults: faults.clone() });
    f.ports.workflows = Arc::new(FaultyWorkflows { inner: l.backends.workflows.clone(), faults: faults.clone() });
    let test_processor = f.ports.processors.test.take().expect("the local test processor");
    f.ports.processors.test = Some(Arc::new(FaultyProcessor { inner: test_processor, faults: faults.clone() }));
    (l.serve_beside(f, 0).await, bus)
}

/// What the run saw: answers by status, the messages and payments acknowledged.
#[derive(Default)]
struct Seen {
    statuses: BTreeMap<u16, usize>,
    bare: Vec<String>,
    to_office: Vec<String>,
    unsure_to_office: usize,
    to_patients: Vec<String>,
    /// The booking the guarantor made.
    booking: Option<String>,
    /// Payment key → the payment every start with it answered.
    payments: BTreeMap<String, String>,
}

struct Run {
    base: String,
    http: reqwest::Client,
    seen: Mutex<Seen>,
}

impl Run {
    /// One call; a failure must be a problem with a code, and only 503 (try again) where the
    /// portal could not finish.
    async fn call(&self, what: &str, method: &str, path: &str, token: &str, body: Option<Value>) -> (u16, Value) {
        let mut req = self.http.request(method.parse().unwrap(), format!("{}{path}", self.base)).bearer_auth(token);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let (s, v, headers) = send(req).await;
        let mut seen = self.seen.lock().unwrap();
        *seen.statuses.entry(s).or_default() += 1;
        let problem = headers.get("content-type").is_some_and(|c| c == "application/problem+json") && v["code"].is_string();
        if s >= 400 && (!problem || (s >= 500 && s != 503)) {
            seen.bare.push(format!("{what}: {s} {v}"));
        }
        (s, v)
    }
}

async fn patient(run: &Run, token: &str, n: usize) {
    for i in 0..40 {
        run.call("GET /v1/me", "GET", "/v1/me", token, None).await;
        run.call("GET /v1/webmail/messages", "GET", "/v1/webmail/messages", token, None).await;
        let body = json!({"providerId": "prov-1", "subject": "A question", "body": format!("Question {n}.{i}: is Friday possible?")});
        match run.call("POST /v1/webmail/messages", "POST", "/v1/webmail/messages", token, Some(body)).await {
            (201, v) => run.seen.lock().unwrap().to_office.push(v["id"].as_str().unwrap().to_string()),
            (503, _) => run.seen.lock().unwrap().unsure_to_office += 1,
            (s, v) => panic!("message: {s} {v}"),
        }
        if i % 4 == 0 {
            run.call("POST /v1/care-summary/download", "POST", "/v1/care-summary/download", token, Some(json!({}))).await;
        }
        if n == 0 && i == 10 {
            book_until_answered(run, token).await;
        }
        if i % 5 == 0 {
            // Started until it answers, with the same key each time (the page does the same).
            let key = format!("faults-{n}-{i}");
            let body = json!({"amountCents": 1500, "idempotencyKey": key});
            for attempt in 0.. {
                assert!(attempt < 30, "payment {key} never started");
                let (s, v) = run.call("POST /v1/payments", "POST", "/v1/payments", token, Some(body.clone())).await;
                match s {
                    201 => {
                        let id = v["payment"]["id"].as_str().unwrap().to_string();
                        let mut seen = run.seen.lock().unwrap();
                        let first = seen.payments.entry(key.clone()).or_insert(id.clone());
                        assert_eq!(*first, id, "the same key is the same payment");
                        break;
                    }
                    503 => tokio::time::sleep(Duration::from_millis(20)).await,
                    _ => panic!("payment start: {s} {v}"),
                }
            }
        }
    }
}

/// The guarantor books their child's recall, sending it again while it answers 503 (the page's
/// "try again"): a booking whose answer was lost is answered as booked, never as taken.
async fn book_until_answered(run: &Run, token: &str) {
    let recalls = loop {
        match run.call("GET recalls", "GET", "/v1/appointments/recalls?patient=pat-1004", token, None).await {
            (200, v) => break v,
            _ => tokio::time::sleep(Duration::from_millis(20)).await,
        }
    };
    let slot = recalls["items"][0]["slots"][0]["id"].as_str().expect("the demo's open slots").to_string();
    for attempt in 0.. {
        assert!(attempt < 30, "the booking never went through");
        let path = "/v1/appointments/recalls/rc-1004/book?patient=pat-1004";
        match run.call("POST book", "POST", path, token, Some(json!({"slotId": slot}))).await {
            (201, v) => {
                run.seen.lock().unwrap().booking = Some(v["appointment"]["id"].as_str().unwrap().to_string());
                return;
            }
            (503, _) => tokio::time::sleep(Duration::from_millis(20)).await,
            (s, v) => panic!("booking: {s} {v}"),
        }
    }
}

/// The administrator imports LOINC, starting again while it answers 503. An import a start left
/// queued (its answer lost before the workflow was started: 409 `import_running`) is canceled
/// and started again, as the screen offers. Answers the import that started.
async fn import_until_started(run: &Run, token: &str) -> String {
    let body = json!({"system": "LOINC", "release": "Loinc_2.80"});
    for attempt in 0.. {
        assert!(attempt < 40, "the import never started");
        match run.call("POST import", "POST", "/v1/admin/code-systems/imports", token, Some(body.clone())).await {
            (202, v) => return v["id"].as_str().unwrap().to_string(),
            (409, v) if v["code"] == "import_running" => {
                let (_, systems) = run.call("GET code systems", "GET", "/v1/admin/code-systems", token, None).await;
                let running =
                    systems["systems"].as_array().into_iter().flatten().find(|s| s["system"] == "LOINC").map(|s| s["running"].clone());
                if let Some(Value::String(id)) = running {
                    run.call("DELETE import", "DELETE", &format!("/v1/admin/code-systems/imports/{id}"), token, None).await;
                }
            }
            (503, _) => tokio::time::sleep(Duration::from_millis(20)).await,
            (s, v) => panic!("import start: {s} {v}"),
        }
    }
    unreachable!()
}

async fn front_desk(run: &Run, token: &str) {
    for i in 0..40 {
        run.call("GET /v1/admin/webmail/messages", "GET", "/v1/admin/webmail/messages", token, None).await;
        run.call("GET /v1/admin/patients", "GET", "/v1/admin/patients?q=morgan", token, None).await;
        let body = json!({"patientId": "pat-1001", "subject": "Your visit", "body": format!("Reminder {i}: bring your insurance card.")});
        if let (201, v) = run.call("POST /v1/admin/webmail/messages", "POST", "/v1/admin/webmail/messages", token, Some(body)).await {
            run.seen.lock().unwrap().to_patients.push(v["id"].as_str().unwrap().to_string());
        }
    }
}

/// Every page of a list route (items under `items`, `nextCursor` to go on).
async fn all_items(l: &Local, path: &str, token: &str) -> Vec<Value> {
    let (mut out, mut cursor) = (vec![], None::<String>);
    loop {
        let sep = if path.contains('?') { '&' } else { '?' };
        let url = match &cursor {
            Some(c) => format!("{path}{sep}limit=100&cursor={}", url::form_urlencoded::byte_serialize(c.as_bytes()).collect::<String>()),
            None => format!("{path}{sep}limit=100"),
        };
        let (s, v) = l.get(&url, Some(token)).await;
        assert_eq!(s, 200, "{path}: {v}");
        out.extend(v["items"].as_array().unwrap().iter().cloned());
        match v["nextCursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => return out,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_call_in_twenty_fails_and_nothing_is_lost_or_done_twice() {
    let l = start_local().await;
    let alex = l.patient_token(0, 0).await;
    let jamie = l.patient_token(0, 2).await;
    let admin = l.staff_token(0).await;
    let office_mail =
        |l: &Local| l.backends.mailer.list().unwrap().iter().filter(|(_, raw)| raw.contains("To: frontdesk@lakeside.example")).count();
    let office_before = all_items(&l, "/v1/admin/webmail/messages", &admin).await.len();
    let notified_before = office_mail(&l);
    let faults = Arc::new(Faults::default());
    let notify_clock = Arc::new(ManualClock::new(now()));
    let (base, bus) = faulty_server(&l, &faults, notify_clock.clone()).await;
    let run = Run { base, http: client(), seen: Mutex::new(Seen::default()) };

    faults.on.store(true, Ordering::SeqCst);
    let (_, _, _, import) =
        tokio::join!(patient(&run, &alex, 0), patient(&run, &jamie, 1), front_desk(&run, &admin), import_until_started(&run, &admin));
    faults.on.store(false, Ordering::SeqCst);
    let seen = run.seen.into_inner().unwrap();
    println!(
        "answers by status {:?}; {} faults injected in {} port calls; messages to the office acknowledged {}, answered 503 {}; to the patient {}; payment keys {}",
        seen.statuses,
        faults.injected.load(Ordering::SeqCst),
        faults.calls.load(Ordering::SeqCst),
        seen.to_office.len(),
        seen.unsure_to_office,
        seen.to_patients.len(),
        seen.payments.len()
    );
    assert!(seen.bare.is_empty(), "answers that were not a success or a problem with a code: {:#?}", seen.bare);
    assert!(seen.statuses.get(&503).copied().unwrap_or(0) >= 10, "the faults reached the callers: {:?}", seen.statuses);

    // The relay, a few minutes on, sends what a failed publish left marked; the bus, no longer
    // faulty, hands each event to the notifier again, whose claims a failed delivery left have lapsed.
    let later = Arc::new(ManualClock::new(now() + 300));
    notify_clock.advance(300);
    let relay = portal_outbox_relay::Deps { table: l.backends.table.clone(), clock: later.clone(), events: bus.clone() };
    for _ in 0..20 {
        let ran = portal_outbox_relay::handle(&relay, json!({})).await.unwrap();
        if ran["published"] == 0 {
            break;
        }
    }
    let outbox =
        portal_core::sync::outbox::Outbox { db: Db { table: l.backends.table.as_ref(), clock: later.as_ref() }, events: bus.as_ref() };
    assert_eq!(outbox.oldest_unpublished_seconds().await.unwrap(), None, "nothing left unpublished");

    // Messages: each acknowledged one stored once; those answered 503 stored at most once.
    let office = all_items(&l, "/v1/admin/webmail/messages", &admin).await;
    let ids: Vec<&str> = office.iter().map(|m| m["id"].as_str().unwrap()).collect();
    let unique: BTreeSet<&str> = ids.iter().copied().collect();
    assert_eq!(unique.len(), ids.len(), "no message listed twice");
    for id in &seen.to_office {
        assert!(unique.contains(id.as_str()), "acknowledged message {id} is in the office inbox");
    }
    let stored = office.len() - office_before;
    assert!(stored >= seen.to_office.len() && stored <= seen.to_office.len() + seen.unsure_to_office, "{stored} stored");
    let alex_inbox = all_items(&l, "/v1/webmail/messages", &alex).await;
    for id in &seen.to_patients {
        assert_eq!(alex_inbox.iter().filter(|m| m["id"] == id.as_str()).count(), 1, "message {id} in the patient's inbox once");
    }
    // One notification per stored message to the office: none lost to a failed send or publish,
    // none twice for an event delivered twice.
    assert_eq!(office_mail(&l) - notified_before, stored, "one office notification per stored message");
    // The booking: on the child's appointments once; the recall scheduled.
    let booking = seen.booking.clone().expect("booked");
    let (_, riley) = l.get("/v1/appointments?patient=pat-1004", Some(&alex)).await;
    let listed = riley["upcoming"].as_array().unwrap().iter().filter(|a| a["id"] == booking.as_str()).count();
    assert_eq!(listed, 1, "{riley}");
    let (events, _) = outbox.list(&pid("lakeside"), None, 1000).await.unwrap();
    assert_eq!(events.iter().filter(|e| e.kind == "appointment.booked").count(), 1, "the practice hears of the booking once");
    // The import that started runs to its end.
    let mut state = Value::Null;
    for _ in 0..240 {
        state = l.get(&format!("/v1/admin/code-systems/imports/{import}"), Some(&admin)).await.1;
        if state["state"] != "running" && state["state"] != "queued" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert_eq!(state["state"], "done", "{state}");
    // Payments: one per key (the two patients are one family: their payments are one account's).
    let mut history: BTreeMap<String, Value> = BTreeMap::new();
    for token in [&alex, &jamie] {
        for p in all_items(&l, "/v1/payments", token).await {
            history.insert(p["id"].as_str().unwrap().to_string(), p);
        }
    }
    for id in seen.payments.values() {
        assert!(history.contains_key(id), "payment {id} recorded");
    }
    let started = history.values().filter(|p| p["amountCents"] == 1500).count();
    assert_eq!(started, seen.payments.len(), "one payment per key, none from a retried start");
}

/// The automated invites through the same faults, on a clock moved a claim's timeout between
/// rounds: a run stops at its first failure (the next one goes on), a claim a failed run left is
/// taken over, a failed send is tried again. Once the faults stop, every patient due an invite has
/// exactly one email — none lost, none twice (a second one would also have replaced the first
/// one's temporary password) — the log shows it sent, and the audit log holds one send.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invites_through_faults_go_out_once_each() {
    use portal_core::audit::{Actor, ActorKind, AuditLog, Outcome};
    use portal_core::invites::rules::InviteRulesRepo;
    use portal_core::invites::run::{log, InviteRun, InviteState, CLAIM_TIMEOUT};
    use portal_core::sync::store::SyncStore;
    use portal_core::sync::Entity::{Appointments, Patients};
    const PATIENTS: usize = 30;
    let l = start_local().await;
    let clock = ManualClock::new(now());
    let db = Db { table: l.backends.table.as_ref(), clock: &clock };
    let practice = pid("inviteswithfaults");
    let mut settings = portal_core::practice::settings::PracticeSettings::new("Smile Dental", portal_core::Feature::ALL.to_vec());
    settings.webmail.notification_sender = "office@smile.example".into();
    portal_core::practice::settings::SettingsRepo { db }.create(&practice, &settings).await.unwrap();
    let repo = InviteRulesRepo { db };
    let mut rules = repo.get(&practice).await.unwrap();
    rules.rules.iter_mut().for_each(|r| r.enabled = true);
    repo.put(&Actor::new(&practice, ActorKind::Staff, "staff-1", None), 0, &rules.rules, "269-555-0100").await.unwrap();
    // Each patient with a visit a week out, less a minute: the "a week before" rule is due.
    let store = SyncStore { db };
    let email = |n: usize| format!("patient{n}@smile.example");
    let at = |t: i64| time::OffsetDateTime::from_unix_timestamp(t).unwrap().format(&time::format_description::well_known::Rfc3339).unwrap();
    let (start, stamp) = (at(clock.now() + 7 * 24 * 3600 - 60), at(clock.now() - 60));
    for n in 0..PATIENTS {
        let patient = json!({"firstName": format!("Pat{n}"), "lastName": "Test", "birthdate": "1980-01-01", "email": email(n),
            "address": {"line1": "1 Main St", "city": "Lakeside", "state": "MI", "postalCode": "49116"},
            "phones": [{"kind": "mobile", "number": "269-555-0100"}], "lastModified": stamp});
        store.upsert(&practice, Patients, &format!("p{n}"), patient).await.unwrap();
        let visit = json!({"patientId": format!("p{n}"), "providerId": "prov-1", "start": start, "lengthMinutes": 60,
            "status": "scheduled", "lastModified": stamp});
        store.upsert(&practice, Appointments, &format!("a{n}"), visit).await.unwrap();
    }

    let faults = Arc::new(Faults::default());
    let table = FaultyTable { inner: l.backends.table.clone(), faults: faults.clone() };
    let mailer = FaultyMailer { inner: l.backends.mailer.clone(), faults: faults.clone() };
    let run = InviteRun { db: Db { table: &table, clock: &clock }, mailer: &mailer, site_url: &l.base };
    // Two rounds with faults (each invite's send tried at most twice, under MAX_ATTEMPTS), then
    // rounds without until nothing is left.
    let (mut failed_runs, mut sent_under_faults) = (0, 0);
    for round in 0..6 {
        faults.on.store(round < 2, Ordering::SeqCst);
        for _ in 0..100 {
            match run.run(&practice).await {
                Ok(_) => break,
                Err(_) => failed_runs += 1,
            }
        }
        if round == 1 {
            sent_under_faults = l.backends.mailer.list().unwrap().len();
        }
        clock.advance(CLAIM_TIMEOUT);
    }
    println!(
        "invite runs stopped by a fault: {failed_runs}; {} faults injected; {sent_under_faults} of {PATIENTS} invites sent while they were on",
        faults.injected.load(Ordering::SeqCst)
    );
    assert!(failed_runs >= 5 && sent_under_faults >= PATIENTS / 2, "the faults reached the runs, and the runs went on through them");

    let mails = l.backends.mailer.list().unwrap();
    let (entries, _) = log(l.backends.table.as_ref(), &practice, 100, None).await.unwrap();
    let audit = AuditLog { db };
    for n in 0..PATIENTS {
        let to = format!("To: {}", email(n));
        assert_eq!(mails.iter().filter(|(_, raw)| raw.contains(&to)).count(), 1, "one invite to patient {n}");
        let state = entries.iter().find(|e| e.patient_id == format!("p{n}")).map(|e| &e.state);
        assert!(matches!(state, Some(InviteState::Sent { .. })), "patient {n}: {state:?}");
        let (logged, _) = audit.for_subject(&practice, &format!("p{n}"), 100, None).await.unwrap();
        let sends = logged.iter().filter(|e| e.action == "invites.send" && e.outcome == Outcome::Success).count();
        assert_eq!(sends, 1, "patient {n}: one send on the audit log");
    }
}
