//! Load and crashes, against a `portal-local` process (the binary named by `PORTAL_LOAD_BIN`:
//! `tests/run load` names its debug build, `benches/run` the `server` build). The mix is what a
//! practice's day holds: patients sign in (a login given by the front desk, its temporary
//! password changed), open Home and every module, write to the office with and without
//! attachments and read its answers, race each other for a few open slots, download their care
//! summary and pay on the test processor; staff search, read and answer; the practice's system
//! syncs the same records from two workers at once.
//!
//! The load test runs 200 patients and 10 staff for a minute and then checks what a practice
//! relies on: no answer ≥ 500; every message readable exactly once, on the right side, with
//! exactly one notification; one winner per slot and one event per booking; every approved
//! payment recorded once with one event and one receipt; every synced record at the newest stamp
//! sent. It prints p50/p99 per route and the process's memory at start and end.
//!
//! The crash test runs the same mix with fewer people and kills the process (SIGKILL) at a random
//! moment, five times: after each kill the database passes `PRAGMA integrity_check`, and after
//! each restart no acknowledged write is missing or doubled; at the end the import running at
//! each kill is done and every stored message has exactly one notification.
//!
//! Ignored by a plain `cargo test`; run by `tests/run load`.

#![allow(
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    clippy::cast_possible_wrap,
    reason = "random picks below a few hundred, counts and microsecond timings of a one-minute run"
)]

use crate::support::{date_from_today, instant_from_now, now, start_host_binary, Host};
use futures_util::future::BoxFuture;
use futures_util::{FutureExt, StreamExt};
use portal_core::sync::signing::signed_headers;
use portal_local::DemoLogins;
use serde_json::{json, Value};
use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Open slots the patients race for (the demo's own slots are Lakeside's too).
const SLOTS: usize = 20;
/// The synced patients the practice's two sync workers both keep changing.
const CONTESTED: usize = 50;

/// The optimised `portal-local` the load tests run (`tests/run load` builds and names it).
fn load_binary() -> PathBuf {
    match std::env::var("PORTAL_LOAD_BIN") {
        Ok(p) if !p.is_empty() => PathBuf::from(p),
        _ => panic!("PORTAL_LOAD_BIN is not set: run tests/run load, which builds portal-local with the load profile"),
    }
}

/// A small deterministic generator per simulated person (SplitMix64): runs differ by seed only.
struct Dice(u64);

impl Dice {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        (z ^ (z >> 31)) % n
    }
}

/// What the simulated people were told was done: the writes the portal acknowledged.
#[derive(Default)]
struct Acknowledged {
    /// Patient → office: (patient index, message id).
    to_office: Vec<(usize, String)>,
    /// Office → patient: (patient index, message id).
    to_patients: Vec<(usize, String)>,
    /// Office messages the patient marked read.
    read_by_patients: HashSet<String>,
    /// (patient index, slot id, appointment id).
    bookings: Vec<(usize, String, String)>,
    /// (patient index, payment id) approved on the processor.
    payments: Vec<(usize, String)>,
    /// Synced patient id → the newest stamp the portal answered for.
    newest_stamp: HashMap<String, String>,
}

/// Latencies per route and every answer ≥ 500.
#[derive(Default)]
struct Stats {
    micros: HashMap<&'static str, Vec<u64>>,
    failures: Vec<String>,
}

/// One running portal and the people using it.
struct Portal {
    base: String,
    http: reqwest::Client,
    logins: DemoLogins,
    stats: Mutex<Stats>,
    acked: Mutex<Acknowledged>,
}

struct Person {
    index: usize,
    token: String,
}

impl Portal {
    fn new(base: &str, data_dir: &Path) -> Portal {
        let logins = serde_json::from_str(&std::fs::read_to_string(data_dir.join("demo-logins.json")).unwrap()).unwrap();
        let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
        Portal { base: base.into(), http, logins, stats: Default::default(), acked: Default::default() }
    }

    /// One request, timed under `route`; `None` when no answer came (the process died).
    async fn call(&self, route: &'static str, req: reqwest::RequestBuilder) -> Option<(u16, Value)> {
        let start = Instant::now();
        let res = req.send().await.ok()?;
        let status = res.status().as_u16();
        let body = res.bytes().await.ok()?;
        let took = start.elapsed().as_micros() as u64;
        let value = serde_json::from_slice(&body).unwrap_or(Value::Null);
        let mut stats = self.stats.lock().unwrap();
        stats.micros.entry(route).or_default().push(took);
        if status >= 500 {
            stats.failures.push(format!("{route}: {status} {value}"));
        }
        Some((status, value))
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    async fn get(&self, route: &'static str, path: &str, token: &str) -> Option<(u16, Value)> {
        self.call(route, self.http.get(self.url(path)).bearer_auth(token)).await
    }

    async fn send(&self, route: &'static str, method: &str, path: &str, token: &str, body: Value) -> Option<(u16, Value)> {
        self.call(route, self.http.request(method.parse().unwrap(), self.url(path)).bearer_auth(token).json(&body)).await
    }

    /// A request of the practice's system, signed with the demo's sync key.
    async fn sync(
        &self,
        route: &'static str,
        method: &str,
        path: &str,
        query: &[(&str, &str)],
        body: Option<&Value>,
    ) -> Option<(u16, Value)> {
        let key = &self.logins.practices[0].sync;
        let raw = body.map(Value::to_string).unwrap_or_default();
        let q: Vec<(String, String)> = query.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        let mut req = self.http.request(method.parse().unwrap(), self.url(path)).query(&q);
        for (name, value) in signed_headers(&key.key_id, &key.secret, method, path, &q, raw.as_bytes(), now()) {
            req = req.header(name, value);
        }
        if body.is_some() {
            req = req.header("content-type", "application/json").body(raw);
        }
        self.call(route, req).await
    }

    /// A staff login with a TOTP code of the given 30-second step from now.
    async fn staff_login(&self, username: &str, password: &str, secret: &str, step_offset: i64) -> Value {
        let step = (now() / portal_core::identity::totp::STEP + step_offset) as u64;
        let code = portal_core::identity::totp::code_at(secret, step).unwrap();
        let body = json!({"practice": "lakeside", "username": username, "password": password, "totp": code});
        let (s, v) = self.call("POST /v1/staff/login", self.http.post(self.url("/v1/staff/login")).json(&body)).await.unwrap();
        assert_eq!(s, 200, "{v}");
        v
    }

    async fn demo_admin(&self) -> String {
        let staff = &self.logins.practices[0].staff;
        self.staff_login(&staff.username, &staff.password, &staff.totp_secret, 0).await["token"].as_str().unwrap().to_string()
    }
}

fn patient_id(i: usize) -> String {
    format!("load-{i}")
}

fn email(i: usize) -> String {
    format!("load{i}@example.com")
}

/// A synced patient record whose phone number says which stamp wrote it.
fn patient_record(i: usize, stamp: &str) -> Value {
    json!({"lastModified": stamp, "firstName": "Robin", "lastName": format!("Load{i}"), "birthdate": "1985-04-12",
        "address": {"line1": format!("{i} Pier St"), "city": "Lakeside", "state": "MI", "postalCode": "49116"},
        "phones": [{"kind": "mobile", "number": phone_of(stamp)}], "email": email(i), "primaryProviderId": "prov-1"})
}

fn phone_of(stamp: &str) -> String {
    let digits: String = stamp.chars().filter(char::is_ascii_digit).collect();
    format!("269-555-{}", &digits[digits.len() - 4..])
}

fn upsert(entity: &str, id: &str, body: Value) -> Value {
    json!({"op": "upsert", "entity": entity, "id": id, "body": body})
}

/// The practice's system sends `patients` patients (each with a due recall and a charge) and the
/// open slots; the front desk gives each a login; each patient signs in and changes the
/// temporary password. Answers the patients' sessions.
async fn enrol(p: &Portal, patients: usize, admin: &str) -> Vec<Person> {
    let stamp = instant_from_now(-3600);
    let mut items = vec![];
    for i in 0..patients {
        let id = patient_id(i);
        items.push(upsert("patients", &id, patient_record(i, &stamp)));
        items.push(upsert(
            "recalls",
            &format!("load-rc-{i}"),
            json!({"lastModified": stamp, "patientId": id, "type": "Prophy", "dueDate": date_from_today(-30), "status": "due"}),
        ));
        items.push(upsert("ledger", &format!("load-led-{i}"), json!({"lastModified": stamp, "patientId": id, "guarantorId": id,
            "date": date_from_today(-10), "kind": "charge", "amountCents": 12000, "description": "Crown seat", "procedureCode": "D2740", "providerId": "prov-1"})));
    }
    for k in 0..SLOTS {
        let start = format!("{}T{:02}:00:00-05:00", date_from_today(10 + k as i64 / 4), 8 + (k % 4) * 2);
        items.push(upsert(
            "slots",
            &format!("load-slot-{k}"),
            json!({"lastModified": stamp, "providerId": "prov-3", "start": start, "lengthMinutes": 60, "recallTypes": ["Prophy"]}),
        ));
    }
    for chunk in items.chunks(portal_core::sync::service::MAX_BATCH) {
        let (s, v) = p.sync("POST /v1/sync/batch", "POST", "/v1/sync/batch", &[], Some(&json!({"items": chunk}))).await.unwrap();
        assert_eq!((s, &v["summary"]["rejected"]), (200, &json!(0)), "{v}");
    }
    let sign_in = |i: usize| async move {
        let (s, sheet) = p
            .send("POST /v1/admin/patients/{id}/access", "POST", &format!("/v1/admin/patients/{}/access", patient_id(i)), admin, json!({}))
            .await
            .unwrap();
        assert_eq!(s, 201, "{sheet}");
        let body = json!({"practice": "lakeside", "username": sheet["username"], "password": sheet["temporaryPassword"]});
        let (s, first) = p.call("POST /v1/auth/login", p.http.post(p.url("/v1/auth/login")).json(&body)).await.unwrap();
        assert_eq!((s, &first["mustChangePassword"]), (200, &json!(true)), "{first}");
        let change = json!({"currentPassword": sheet["temporaryPassword"], "newPassword": format!("harbour lights {i} at dusk")});
        let (s, v) = p.send("POST /v1/auth/password", "POST", "/v1/auth/password", first["token"].as_str().unwrap(), change).await.unwrap();
        assert_eq!(s, 200, "{v}");
        Person { index: i, token: v["token"].as_str().unwrap().to_string() }
    };
    futures_util::stream::iter(0..patients).map(sign_in).buffer_unordered(8).collect().await
}

/// Staff users made by the admin as a practice does: a temporary password, an authenticator
/// enrolled, the first login changing the password. Answers their sessions (the admin's first).
async fn staff(p: &Portal, admin: &str, count: usize) -> Vec<String> {
    let mut tokens = vec![admin.to_string()];
    for n in 1..count {
        let username = format!("load.staff{n}");
        let body = json!({"username": username, "displayName": format!("Front Desk {n}"), "role": "front-desk"});
        let (s, made) = p.send("POST /v1/admin/staff", "POST", "/v1/admin/staff", admin, body).await.unwrap();
        assert_eq!(s, 201, "{made}");
        let (_, enrol) =
            p.send("POST /v1/admin/staff/{u}/totp", "POST", &format!("/v1/admin/staff/{username}/totp"), admin, json!({})).await.unwrap();
        let secret = enrol["secret"].as_str().unwrap().to_string();
        let code = portal_core::identity::totp::code_now(&secret, now()).unwrap();
        let path = format!("/v1/admin/staff/{username}/totp/confirm");
        assert_eq!(p.send("POST /v1/admin/staff/{u}/totp/confirm", "POST", &path, admin, json!({"code": code})).await.unwrap().0, 200);
        let password = made["temporaryPassword"].as_str().unwrap();
        let first = p.staff_login(&username, password, &secret, 1).await;
        let change = json!({"currentPassword": password, "newPassword": format!("quiet morning harbour {n}")});
        let (s, v) = p.send("POST /v1/auth/password", "POST", "/v1/auth/password", first["token"].as_str().unwrap(), change).await.unwrap();
        assert_eq!(s, 200, "{v}");
        tokens.push(v["token"].as_str().unwrap().to_string());
    }
    tokens
}

const PDF: &[u8] = b"%PDF-1.4\n% an insurance card\n%%EOF\n";

/// One patient's session until `until`: mostly reads, some writes, a think time between.
async fn patient_day(p: &Portal, me: &Person, until: Instant, seed: u64) {
    let mut dice = Dice(seed);
    let mut booked = false;
    let mut attached = 0;
    let t = me.token.as_str();
    while Instant::now() < until {
        let roll = dice.below(100);
        let done = match roll {
            0..25 => p.get("GET /v1/me", "/v1/me", t).await.is_some(),
            25..35 => p.get("GET /v1/account/summary", "/v1/account/summary", t).await.is_some(),
            35..45 => p.get("GET /v1/appointments", "/v1/appointments", t).await.is_some(),
            45..58 => read_office_mail(p, t).await.is_some(),
            58..65 => p.get("GET /v1/care-summary", "/v1/care-summary", t).await.is_some(),
            65..68 => download_care_summary(p, t).await.is_some(),
            68..71 => p.get("GET /v1/treatment-plans", "/v1/treatment-plans", t).await.is_some(),
            71..74 => p.get("GET /v1/images", "/v1/images", t).await.is_some(),
            74..84 => {
                // A third with a file, within the daily quota of attachments (25 a sender).
                let attach = attached < 20 && dice.below(3) == 0;
                attached += usize::from(attach);
                write_to_office(p, me, attach).await.is_some()
            }
            84..92 if !booked => match book(p, me, &mut dice).await {
                Some(done) => {
                    booked = done;
                    true
                }
                None => false,
            },
            92..95 => pay(p, me, dice.below(4) != 0).await.is_some(),
            _ => p.get("GET /v1/account/ledger", "/v1/account/ledger", t).await.is_some(),
        };
        if !done {
            return; // the portal is gone (the crash test killed it)
        }
        tokio::time::sleep(Duration::from_millis(20 + dice.below(100))).await;
    }
}

/// The inbox; the first unread message from the office opened and marked read.
async fn read_office_mail(p: &Portal, t: &str) -> Option<()> {
    let (s, inbox) = p.get("GET /v1/webmail/messages", "/v1/webmail/messages", t).await?;
    assert_eq!(s, 200, "{inbox}");
    let Some(unread) = inbox["items"].as_array().unwrap().iter().find(|m| m["read"] == false) else { return Some(()) };
    let (s, thread) =
        p.get("GET /v1/webmail/threads/{id}", &format!("/v1/webmail/threads/{}", unread["threadId"].as_str().unwrap()), t).await?;
    assert_eq!(s, 200, "{thread}");
    let id = unread["id"].as_str().unwrap();
    let (s, v) =
        p.send("PUT /v1/webmail/messages/{id}/read", "PUT", &format!("/v1/webmail/messages/{id}/read"), t, json!({"read": true})).await?;
    assert_eq!(s, 200, "{v}");
    p.acked.lock().unwrap().read_by_patients.insert(id.to_string());
    Some(())
}

async fn download_care_summary(p: &Portal, t: &str) -> Option<()> {
    let (s, file) = p.send("POST /v1/care-summary/download", "POST", "/v1/care-summary/download", t, json!({})).await?;
    assert_eq!(s, 200, "{file}");
    let (s, _) = p.call("GET care-summary zip", p.http.get(file["url"].as_str().unwrap())).await?;
    assert_eq!(s, 200);
    Some(())
}

/// A message to the office, with a PDF attached when `attach`.
async fn write_to_office(p: &Portal, me: &Person, attach: bool) -> Option<()> {
    let t = me.token.as_str();
    let mut ids = vec![];
    if attach {
        let declare = json!({"fileName": "card.pdf", "contentType": "application/pdf", "size": PDF.len()});
        let (s, v) = p.send("POST /v1/webmail/attachments", "POST", "/v1/webmail/attachments", t, declare).await?;
        assert_eq!(s, 201, "{v}");
        let put = p.http.put(v["uploadUrl"].as_str().unwrap()).header("content-type", "application/pdf").body(PDF);
        let (s, _) = p.call("PUT upload", put).await?;
        assert!((200..300).contains(&s), "upload {s}");
        ids.push(v["id"].clone());
    }
    let body = json!({"providerId": "prov-1", "subject": "A question", "body": "Is Friday possible?", "attachmentIds": ids});
    let (s, sent) = p.send("POST /v1/webmail/messages", "POST", "/v1/webmail/messages", t, body).await?;
    assert_eq!(s, 201, "{sent}");
    p.acked.lock().unwrap().to_office.push((me.index, sent["id"].as_str().unwrap().to_string()));
    Some(())
}

/// One try at one of the slots offered for the patient's recall; `Some(true)` once booked or
/// when no slot is left.
async fn book(p: &Portal, me: &Person, dice: &mut Dice) -> Option<bool> {
    let (s, recalls) = p.get("GET /v1/appointments/recalls", "/v1/appointments/recalls", &me.token).await?;
    assert_eq!(s, 200, "{recalls}");
    let slots = recalls["items"][0]["slots"].as_array().cloned().unwrap_or_default();
    if slots.is_empty() {
        return Some(true);
    }
    let slot = slots[dice.below(slots.len() as u64) as usize]["id"].as_str().unwrap().to_string();
    let path = format!("/v1/appointments/recalls/load-rc-{}/book", me.index);
    let (s, v) = p.send("POST /v1/appointments/recalls/{id}/book", "POST", &path, &me.token, json!({"slotId": slot})).await?;
    match (s, v["code"].as_str()) {
        (201, _) => {
            p.acked.lock().unwrap().bookings.push((me.index, slot, v["appointment"]["id"].as_str().unwrap().to_string()));
            Some(true)
        }
        (409, Some("slot_taken")) => Some(false),
        _ => panic!("booking {slot}: {s} {v}"),
    }
}

/// A payment started (twice with the same key, as a retrying browser would), then approved or
/// declined on the test processor's page.
async fn pay(p: &Portal, me: &Person, approve: bool) -> Option<()> {
    let body = json!({"amountCents": 2500, "idempotencyKey": format!("load-{}", portal_core::ids::new_id())});
    let (s, started) = p.send("POST /v1/payments", "POST", "/v1/payments", &me.token, body.clone()).await?;
    assert_eq!(s, 201, "{started}");
    let (s, again) = p.send("POST /v1/payments", "POST", "/v1/payments", &me.token, body).await?;
    assert_eq!((s, &again["payment"]["id"]), (201, &started["payment"]["id"]), "the same key is the same payment");
    let action = if approve { "approve" } else { "decline" };
    let form = format!("action={action}&back=/p/lakeside/%23payments");
    let checkout = p.http.post(started["checkout"]["url"].as_str().unwrap()).header("content-type", "application/x-www-form-urlencoded");
    let (s, _) = p.call("POST test processor", checkout.body(form)).await?;
    assert_eq!(s, 303);
    let id = started["payment"]["id"].as_str().unwrap().to_string();
    let (s, paid) = p.get("GET /v1/payments/{id}", &format!("/v1/payments/{id}"), &me.token).await?;
    assert_eq!((s, paid["status"].as_str()), (200, Some(if approve { "approved" } else { "declined" })), "{paid}");
    if approve {
        p.acked.lock().unwrap().payments.push((me.index, id));
    }
    Some(())
}

/// One staff member's session: searches, the office inbox read and answered, messages to
/// patients, the payments list.
async fn staff_day(p: &Portal, token: &str, patients: usize, until: Instant, seed: u64) {
    let mut dice = Dice(seed);
    while Instant::now() < until {
        let done = match dice.below(100) {
            0..30 => {
                let q = format!("/v1/admin/patients?q=load{}", dice.below(patients as u64));
                p.get("GET /v1/admin/patients", &q, token).await.is_some()
            }
            30..55 => answer_office_mail(p, token).await.is_some(),
            55..75 => {
                let i = dice.below(patients as u64) as usize;
                let body = json!({"patientId": patient_id(i), "subject": "Your visit", "body": "Please bring your insurance card."});
                match p.send("POST /v1/admin/webmail/messages", "POST", "/v1/admin/webmail/messages", token, body).await {
                    Some((s, sent)) => {
                        assert_eq!(s, 201, "{sent}");
                        p.acked.lock().unwrap().to_patients.push((i, sent["id"].as_str().unwrap().to_string()));
                        true
                    }
                    None => false,
                }
            }
            75..85 => p.get("GET /v1/admin/payments", "/v1/admin/payments", token).await.is_some(),
            _ => p.get("GET /v1/admin/settings", "/v1/admin/settings", token).await.is_some(),
        };
        if !done {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50 + dice.below(150))).await;
    }
}

async fn answer_office_mail(p: &Portal, token: &str) -> Option<()> {
    let (s, inbox) = p.get("GET /v1/admin/webmail/messages", "/v1/admin/webmail/messages?unread=true", token).await?;
    assert_eq!(s, 200, "{inbox}");
    let Some(first) = inbox["items"].as_array().unwrap().first() else { return Some(()) };
    let thread = format!("/v1/admin/webmail/threads/{}", first["threadId"].as_str().unwrap());
    assert_eq!(p.get("GET /v1/admin/webmail/threads/{id}", &thread, token).await?.0, 200);
    let id = first["id"].as_str().unwrap();
    let (s, v) = p
        .send(
            "PUT /v1/admin/webmail/messages/{id}/read",
            "PUT",
            &format!("/v1/admin/webmail/messages/{id}/read"),
            token,
            json!({"read": true}),
        )
        .await?;
    assert_eq!(s, 200, "{v}");
    Some(())
}

/// `lastModified` `seconds` from now, to the millisecond: the sync store orders stamps by the
/// millisecond (of two in one, the first stays), so a finer stamp could be acknowledged as newest
/// and yet not be the one stored.
fn stamp_to_the_millisecond(seconds: i64) -> String {
    let t = time::OffsetDateTime::now_utc() + time::Duration::seconds(seconds);
    let t = t.replace_millisecond(t.millisecond()).expect("a millisecond of this second");
    t.format(&time::format_description::well_known::Rfc3339).unwrap()
}

/// The practice's system: batches changing the contested patients, each stamped a little before
/// or after now (so some arrive older than what is stored, and both workers change the same
/// records at the same time).
async fn practice_system(p: &Portal, until: Instant, seed: u64) {
    let mut dice = Dice(seed);
    while Instant::now() < until {
        let mut sent = vec![];
        let items: Vec<Value> = (0..20)
            .map(|_| {
                let i = dice.below(CONTESTED as u64) as usize;
                let stamp = stamp_to_the_millisecond(dice.below(240) as i64 - 120);
                sent.push((patient_id(i), stamp.clone()));
                upsert("patients", &patient_id(i), patient_record(i, &stamp))
            })
            .collect();
        let Some((s, v)) = p.sync("POST /v1/sync/batch", "POST", "/v1/sync/batch", &[], Some(&json!({"items": items}))).await else {
            return;
        };
        assert_eq!((s, &v["summary"]["rejected"]), (200, &json!(0)), "{v}");
        {
            let mut acked = p.acked.lock().unwrap();
            for (id, stamp) in sent {
                let newest = acked.newest_stamp.entry(id).or_default();
                if stamp > *newest {
                    *newest = stamp;
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(100 + dice.below(200))).await;
    }
}

/// Everyone at once until `until`.
async fn day(p: &Portal, patients: &[Person], staff: &[String], until: Instant, seed: u64) {
    let mut all: Vec<BoxFuture<'_, ()>> = vec![];
    for me in patients {
        all.push(patient_day(p, me, until, seed ^ ((me.index as u64 + 1) * 7919)).boxed());
    }
    for (n, token) in staff.iter().enumerate() {
        all.push(staff_day(p, token, patients.len(), until, seed ^ ((n as u64 + 1) * 104_729)).boxed());
    }
    for w in 0..2 {
        all.push(practice_system(p, until, seed ^ ((w + 1) * 1_299_709)).boxed());
    }
    futures_util::future::join_all(all).await;
}

/// Every outbox event of Lakeside so far (paged).
async fn outbox_events(p: &Portal) -> Vec<Value> {
    tokio::time::sleep(Duration::from_micros(portal_core::sync::outbox::SETTLE_MICROS as u64 + 100_000)).await;
    let mut all = vec![];
    let mut after = String::new();
    loop {
        let (s, v) = p.sync("GET /v1/sync/events", "GET", "/v1/sync/events", &[("limit", "500"), ("after", &after)], None).await.unwrap();
        assert_eq!(s, 200, "{v}");
        let page = v["events"].as_array().unwrap();
        all.extend(page.iter().cloned());
        // The cursor is where the system would acknowledge up to; a short page is the end.
        match v["cursor"].as_str() {
            Some(c) if page.len() == 500 => after = c.to_string(),
            _ => return all,
        }
    }
}

/// Every item of a paged staff list.
async fn all_pages(p: &Portal, path: &str, token: &str) -> Vec<Value> {
    let mut items = vec![];
    let mut cursor = String::new();
    loop {
        let sep = if path.contains('?') { '&' } else { '?' };
        let url = if cursor.is_empty() {
            path.to_string()
        } else {
            format!("{path}{sep}limit=100&cursor={}", url::form_urlencoded::byte_serialize(cursor.as_bytes()).collect::<String>())
        };
        let (s, v) = p.get("list", &url, token).await.unwrap();
        assert_eq!(s, 200, "{v}");
        items.extend(v["items"].as_array().unwrap().iter().cloned());
        match v["nextCursor"].as_str() {
            Some(c) => cursor = c.to_string(),
            None => return items,
        }
    }
}

/// The local host's outbox of mail (one `.eml` file per message sent).
fn mails(data_dir: &Path) -> Vec<String> {
    let Ok(dir) = std::fs::read_dir(data_dir.join("outbox")) else { return vec![] };
    dir.filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().ends_with(".eml"))
        .map(|e| std::fs::read_to_string(e.path()).unwrap())
        .collect()
}

fn subject_starts(mail: &str, prefix: &str) -> bool {
    portal_core::mime::subject(mail).is_some_and(|s| s.starts_with(prefix))
}

/// Waits (up to a minute) until `ready` holds.
async fn settle(mut ready: impl FnMut() -> bool) {
    let start = Instant::now();
    while !ready() && start.elapsed() < Duration::from_secs(60) {
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

fn percentile(sorted: &[u64], q: f64) -> f64 {
    sorted[((sorted.len() - 1) as f64 * q).round() as usize] as f64 / 1000.0
}

/// (route, requests, p50 ms, p99 ms), by route.
fn latencies(stats: &Stats) -> Vec<(&str, usize, f64, f64)> {
    let mut rows = vec![];
    for (route, micros) in &stats.micros {
        let mut m = micros.clone();
        m.sort_unstable();
        rows.push((*route, m.len(), percentile(&m, 0.5), percentile(&m, 0.99)));
    }
    rows.sort_by(|a, b| a.0.cmp(b.0));
    rows
}

fn report(stats: &Stats, seconds: f64) -> String {
    let mut out = String::from("| route | requests | per s | p50 ms | p99 ms |\n|---|---:|---:|---:|---:|\n");
    for (route, n, p50, p99) in latencies(stats) {
        let _ = writeln!(out, "| {route} | {n} | {:.1} | {p50:.1} | {p99:.1} |", n as f64 / seconds);
    }
    out
}

/// The run's figures as JSON, for `benches/run` (`PORTAL_LOAD_REPORT` names the file).
fn write_report(stats: &Stats, seconds: f64, rss: (u64, u64)) {
    let Ok(path) = std::env::var("PORTAL_LOAD_REPORT") else { return };
    let routes: Vec<Value> = latencies(stats)
        .into_iter()
        .map(|(route, n, p50, p99)| json!({"route": route, "requests": n, "perSecond": n as f64 / seconds, "p50Ms": p50, "p99Ms": p99}))
        .collect();
    let requests: usize = stats.micros.values().map(Vec::len).sum();
    let body = json!({"seconds": seconds, "requests": requests, "rssStartMiB": rss.0 / 1024, "rssEndMiB": rss.1 / 1024, "routes": routes});
    std::fs::write(&path, serde_json::to_string_pretty(&body).unwrap()).unwrap();
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Checks what every acknowledged write must have left, on a running portal.
async fn check_acknowledged(p: &Portal, admin: &str, people: &[Person]) {
    let acked = std::mem::take(&mut *p.acked.lock().unwrap());
    // Every message in its recipient's inbox exactly once.
    let office: Vec<String> =
        all_pages(p, "/v1/admin/webmail/messages", admin).await.iter().map(|m| m["id"].as_str().unwrap().to_string()).collect();
    let office_set: HashSet<&String> = office.iter().collect();
    assert_eq!(office_set.len(), office.len(), "a message listed twice in the office inbox");
    for (_, id) in &acked.to_office {
        assert!(office_set.contains(id), "message {id} was acknowledged but is not in the office inbox");
    }
    let mut to_patient: HashMap<usize, Vec<&String>> = HashMap::new();
    for (i, id) in &acked.to_patients {
        to_patient.entry(*i).or_default().push(id);
    }
    for me in people {
        let inbox: Vec<Value> = all_pages(p, "/v1/webmail/messages", &me.token).await;
        let ids: Vec<&str> = inbox.iter().map(|m| m["id"].as_str().unwrap()).collect();
        let unique: HashSet<&str> = ids.iter().copied().collect();
        assert_eq!(unique.len(), ids.len(), "a message listed twice in {}'s inbox", patient_id(me.index));
        for id in to_patient.get(&me.index).into_iter().flatten() {
            assert!(unique.contains(id.as_str()), "message {id} to {} is missing", patient_id(me.index));
            let read = inbox.iter().find(|m| m["id"] == id.as_str()).unwrap()["read"].as_bool();
            if acked.read_by_patients.contains(*id) {
                assert_eq!(read, Some(true), "message {id} was marked read");
            }
        }
    }
    // One winner per slot, each booking in its patient's appointments.
    let slots: HashSet<&String> = acked.bookings.iter().map(|(_, slot, _)| slot).collect();
    assert_eq!(slots.len(), acked.bookings.len(), "a slot booked twice: {:?}", acked.bookings);
    for (i, _, appointment) in &acked.bookings {
        let me = people.iter().find(|m| m.index == *i).unwrap();
        let (_, list) = p.get("GET /v1/appointments", "/v1/appointments", &me.token).await.unwrap();
        assert!(list["upcoming"].as_array().unwrap().iter().any(|a| a["id"] == appointment.as_str()), "booking {appointment} is missing");
    }
    // Every approved payment listed once.
    let listed: Vec<String> =
        all_pages(p, "/v1/admin/payments", admin).await.iter().map(|x| x["id"].as_str().unwrap().to_string()).collect();
    for (_, id) in &acked.payments {
        assert_eq!(listed.iter().filter(|x| *x == id).count(), 1, "payment {id}");
    }
    // Every synced record at least at the newest stamp acknowledged (a write in flight when the
    // process died may have landed after it).
    for (id, stamp) in &acked.newest_stamp {
        let (s, got) = p.sync("GET /v1/sync/{entity}/{id}", "GET", &format!("/v1/sync/patients/{id}"), &[], None).await.unwrap();
        assert_eq!(s, 200, "{got}");
        let stored = got["lastModified"].as_str().unwrap();
        assert!(stored >= stamp.as_str(), "{id}: stored {stored}, acknowledged {stamp}");
        assert_eq!(got["data"]["phones"][0]["number"], phone_of(stored), "{id}: the data is the stamp's");
    }
    *p.acked.lock().unwrap() = acked;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "runs a portal-local process (PORTAL_LOAD_BIN) for minutes: tests/run load"]
async fn two_hundred_patients_and_ten_staff_for_a_minute() {
    let exe = load_binary();
    let seconds: u64 = std::env::var("PORTAL_LOAD_SECONDS").ok().and_then(|s| s.parse().ok()).unwrap_or(60);
    let data = tempfile::tempdir().unwrap();
    let port = free_port();
    let host = start_host_binary(&exe, port, data.path(), None).await;
    let p = Portal::new(&format!("http://127.0.0.1:{port}"), data.path());
    let admin = p.demo_admin().await;
    let staff = staff(&p, &admin, 10).await;
    let people = enrol(&p, 200, &admin).await;
    let mails_before = mails(data.path()).len();
    p.stats.lock().unwrap().micros.clear();
    let rss_start = host.rss_kib();

    let started = Instant::now();
    day(&p, &people, &staff, started + Duration::from_secs(seconds), 20261205).await;
    let took = started.elapsed().as_secs_f64();
    let rss_end = host.rss_kib();
    let stats = std::mem::take(&mut *p.stats.lock().unwrap());
    let requests: usize = stats.micros.values().map(Vec::len).sum();
    println!("{}", report(&stats, took));
    write_report(&stats, took, (rss_start, rss_end));
    println!("{requests} requests in {took:.0} s; portal-local RSS {} MiB at start, {} MiB at end", rss_start / 1024, rss_end / 1024);
    assert!(stats.failures.is_empty(), "answers ≥ 500: {:#?}", stats.failures);

    check_acknowledged(&p, &admin, &people).await;
    let acked = std::mem::take(&mut *p.acked.lock().unwrap());
    println!(
        "{} messages to the office, {} to patients, {} bookings, {} payments approved, {} synced records",
        acked.to_office.len(),
        acked.to_patients.len(),
        acked.bookings.len(),
        acked.payments.len(),
        acked.newest_stamp.len()
    );
    assert!(!acked.to_office.is_empty() && !acked.to_patients.is_empty() && !acked.payments.is_empty(), "the mix ran");
    assert!(!acked.bookings.is_empty() && acked.bookings.len() <= SLOTS + 4, "the race had winners: {:?}", acked.bookings);
    // Exactly one event per booking, per approved payment, per message to the office.
    let events = outbox_events(&p).await;
    let count = |kind: &str, key: &str, id: &str| events.iter().filter(|e| e["type"] == kind && e["detail"][key] == id).count();
    for (_, slot, appointment) in &acked.bookings {
        assert_eq!(count("appointment.booked", "slotId", slot), 1, "{slot}");
        assert_eq!(count("appointment.booked", "bookingId", appointment), 1, "{appointment}");
    }
    for (_, id) in &acked.payments {
        assert_eq!(count("payment.received", "paymentId", id), 1, "{id}");
    }
    for (_, id) in &acked.to_office {
        assert_eq!(count("webmail.received", "messageId", id), 1, "{id}");
    }
    // Exactly one notification per message, one receipt per approved payment (sent in the
    // background: waited for, then counted once more after a pause to catch doubles).
    let office_notes = |all: &[String]| all.iter().filter(|m| m.contains("To: frontdesk@lakeside.example")).count();
    let want_office = acked.to_office.len();
    let want_patients = acked.to_patients.len();
    let want_receipts = acked.payments.len();
    let counts = |all: &[String]| {
        let to_patients =
            all.iter().filter(|m| m.contains("@example.com") && !subject_starts(m, "Payment receipt") && m.contains("To: load")).count();
        let receipts = all.iter().filter(|m| subject_starts(m, "Payment receipt")).count();
        (office_notes(all), to_patients, receipts)
    };
    settle(|| {
        let (o, t, r) = counts(&mails(data.path())[..]);
        o >= want_office && t >= want_patients && r >= want_receipts
    })
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let all = mails(data.path());
    assert!(mails_before <= all.len());
    assert_eq!(counts(&all), (want_office, want_patients, want_receipts), "(office notifications, patient notifications, receipts)");
    for (i, _) in &acked.payments {
        assert!(all.iter().any(|m| subject_starts(m, "Payment receipt") && m.contains(&format!("To: {}", email(*i)))));
    }
    assert!(rss_end < rss_start + 256 * 1024, "memory grew from {rss_start} KiB to {rss_end} KiB");
}

/// Runs the mix until the process is killed, `kill_after` from now (requests in flight then
/// simply get no answer); answers when it was killed, in the outbox's file-name time.
async fn until_killed(p: &Portal, people: &[Person], staff: &[String], host: Host, seed: u64, kill_after: Duration) -> i128 {
    let until = Instant::now() + Duration::from_secs(600);
    let kill = async move {
        tokio::time::sleep(kill_after).await;
        let at = time::OffsetDateTime::now_utc().unix_timestamp_nanos();
        drop(host); // SIGKILL, in the middle of whatever is in flight
        at
    };
    let work = day(p, people, staff, until, seed);
    futures_util::future::join(work, kill).await.1
}

/// When each notification to the office was sent (nanoseconds, from the outbox's file names).
fn office_notifications(data_dir: &Path) -> Vec<i128> {
    let Ok(dir) = std::fs::read_dir(data_dir.join("outbox")) else { return vec![] };
    dir.filter_map(Result::ok)
        .filter(|e| std::fs::read_to_string(e.path()).is_ok_and(|m| m.contains("To: frontdesk@lakeside.example")))
        .map(|e| e.file_name().to_string_lossy().split('-').next().unwrap().parse().unwrap())
        .collect()
}

fn integrity_check(db: &Path) {
    let conn = rusqlite::Connection::open(db).unwrap();
    let answer: String = conn.query_row("PRAGMA integrity_check", [], |r| r.get(0)).unwrap();
    assert_eq!(answer, "ok", "{}", db.display());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "runs a portal-local process (PORTAL_LOAD_BIN) for minutes: tests/run load"]
async fn killed_five_times_under_load_nothing_acknowledged_is_lost_or_doubled() {
    let exe = load_binary();
    let data = tempfile::tempdir().unwrap();
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let mut host = start_host_binary(&exe, port, data.path(), None).await;
    let p = Portal::new(&base, data.path());
    let admin = p.demo_admin().await;
    let staff = staff(&p, &admin, 3).await;
    let people = enrol(&p, 40, &admin).await;
    let mut dice = Dice(20261205);
    let mut imports = vec![];
    let mut kills = vec![];
    for round in 0..5 {
        // An import running when the process dies.
        let body = json!({"system": "LOINC", "release": "Loinc_2.80"});
        let (s, started) = p.send("POST imports", "POST", "/v1/admin/code-systems/imports", &admin, body).await.unwrap();
        assert!(s == 202 || (s == 409), "{started}");
        if s == 202 {
            imports.push(started["id"].as_str().unwrap().to_string());
        }
        let kill_after = Duration::from_millis(1500 + dice.below(3500));
        kills.push(until_killed(&p, &people, &staff, host, round, kill_after).await);
        integrity_check(&data.path().join("portal.db"));
        host = start_host_binary(&exe, port, data.path(), None).await;
        check_acknowledged(&p, &admin, &people).await;
        let failures = std::mem::take(&mut p.stats.lock().unwrap().failures);
        assert!(failures.is_empty(), "round {round}: answers ≥ 500: {failures:#?}");
        println!("round {round}: killed after {kill_after:?}; every acknowledged write found");
    }
    // What was pending at the kills completes: the imports, the notifications.
    for id in &imports {
        let path = format!("/v1/admin/code-systems/imports/{id}");
        let mut state = Value::Null;
        for _ in 0..240 {
            state = p.get("GET import", &path, &admin).await.unwrap().1;
            if state["state"] != "running" {
                break;
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        assert_eq!(state["state"], "done", "{state}");
    }
    // A notification whose event was being handled at a kill comes again from the outbox relay
    // (a minute after it was recorded); one whose send was claimed, once the claim lapses.
    let stored = all_pages(&p, "/v1/admin/webmail/messages", &admin).await.len();
    let start = Instant::now();
    while office_notifications(data.path()).len() < stored && start.elapsed() < Duration::from_secs(180) {
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let sent = office_notifications(data.path());
    // A kill between the mail leaving and its record being written sends it again after the
    // restart (no mail service takes back a sent mail): a second copy is only for a notification
    // sent in the moment before a kill (a quarter second: the record is
    // written milliseconds after the mail), never otherwise.
    let cut_off = sent.iter().filter(|at| kills.iter().any(|kill| (kill - 250_000_000..=*kill).contains(*at))).count();
    println!("{stored} messages to the office stored, {} notifications sent, {cut_off} in the quarter second before a kill", sent.len());
    assert!(sent.len() >= stored, "every message to the office notified: {} of {stored}", sent.len());
    assert!(sent.len() - stored <= cut_off, "{} notifications twice, only {cut_off} were sent as the process died", sent.len() - stored);
    drop(host);
    integrity_check(&data.path().join("portal.db"));
}
