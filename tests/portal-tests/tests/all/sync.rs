//! The sync API end to end: a reference client signs requests exactly as a practice's developer
//! would (README), against a portal-local on a real socket.

use crate::support::{client, now, pid, send, start_local, Local};
use portal_core::ports::Db;
use portal_core::sync::signing::signed_headers;
use serde_json::{json, Value};

/// The reference client: signs and sends one request.
pub struct SyncClient<'a> {
    pub local: &'a Local,
    pub key_id: String,
    pub secret: String,
}

impl SyncClient<'_> {
    pub async fn call(&self, method: &str, path: &str, query: &[(&str, &str)], body: Option<&Value>) -> (u16, Value) {
        let raw = body.map(|b| b.to_string()).unwrap_or_default();
        let q: Vec<(String, String)> = query.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        let mut req = client().request(method.parse().unwrap(), self.local.url(path)).query(&q);
        for (name, value) in signed_headers(&self.key_id, &self.secret, method, path, &q, raw.as_bytes(), now()) {
            req = req.header(name, value);
        }
        if body.is_some() {
            req = req.header("content-type", "application/json").body(raw);
        }
        let (s, v, _) = send(req).await;
        (s, v)
    }
}

async fn new_key(l: &Local, staff: &str) -> (String, String) {
    let (s, v) = l.json("POST", "/v1/admin/sync-keys", Some(staff), json!({"label": "Front office server"})).await;
    assert_eq!(s, 201, "{v}");
    (v["key"]["keyId"].as_str().unwrap().to_string(), v["secret"].as_str().unwrap().to_string())
}

fn patient(stamp: &str, first: &str) -> Value {
    json!({"lastModified": stamp, "firstName": first, "lastName": "Morgan", "birthdate": "1984-03-09", "email": "alex.morgan@example.com"})
}

#[tokio::test]
async fn keys_are_shown_once_and_stored_sealed() {
    let l = start_local().await;
    let staff = l.staff_token(0).await;
    let (key_id, secret) = new_key(&l, &staff).await;
    let (_, list) = l.get("/v1/admin/sync-keys", Some(&staff)).await;
    let listed = list["keys"].as_array().unwrap().iter().find(|k| k["keyId"] == key_id.as_str()).unwrap();
    assert!(listed.get("sealedSecret").is_none() && !list.to_string().contains(&secret));
    // Not in the database in clear, not in the audit log.
    let db = std::fs::read(l.data_dir.path().join("portal.db")).unwrap_or_default();
    let wal = std::fs::read(l.data_dir.path().join("portal.db-wal")).unwrap_or_default();
    assert!(!String::from_utf8_lossy(&[db, wal].concat()).contains(&secret));
    let (_, log) = l.get("/v1/admin/audit", Some(&staff)).await;
    assert!(log["entries"].as_array().unwrap().iter().any(|e| e["action"] == "sync.key.create"));
    assert!(!log.to_string().contains(&secret));
}

#[tokio::test]
async fn signed_upserts_apply_once_and_never_go_backwards() {
    let l = start_local().await;
    let staff = l.staff_token(0).await;
    let (key_id, secret) = new_key(&l, &staff).await;
    let c = SyncClient { local: &l, key_id, secret };
    let (s, v) = c.call("PUT", "/v1/sync/patients/pat-9001", &[], Some(&patient("2026-11-20T10:00:00Z", "Alex"))).await;
    assert_eq!((s, &v["status"]), (200, &json!("applied")), "{v}");
    // The same again: nothing changes.
    let (_, v) = c.call("PUT", "/v1/sync/patients/pat-9001", &[], Some(&patient("2026-11-20T10:00:00Z", "Alex"))).await;
    assert_eq!(v["status"], "unchanged");
    // Newer wins; older after newer does not.
    let (_, v) = c.call("PUT", "/v1/sync/patients/pat-9001", &[], Some(&patient("2026-11-21T10:00:00Z", "Alexandra"))).await;
    assert_eq!(v["status"], "applied");
    let (_, v) = c.call("PUT", "/v1/sync/patients/pat-9001", &[], Some(&patient("2026-11-20T23:59:59Z", "Old"))).await;
    assert_eq!(v["status"], "unchanged");
    let (s, got) = c.call("GET", "/v1/sync/patients/pat-9001", &[], None).await;
    assert_eq!((s, &got["data"]["firstName"], &got["lastModified"]), (200, &json!("Alexandra"), &json!("2026-11-21T10:00:00Z")));
    // A delete leaves a tombstone an older upsert cannot undo.
    let (_, v) = c.call("DELETE", "/v1/sync/patients/pat-9001", &[("lastModified", "2026-11-22T00:00:00Z")], None).await;
    assert_eq!(v["status"], "applied");
    let (_, v) = c.call("PUT", "/v1/sync/patients/pat-9001", &[], Some(&patient("2026-11-21T12:00:00Z", "Zombie"))).await;
    assert_eq!(v["status"], "unchanged");
    let (_, got) = c.call("GET", "/v1/sync/patients/pat-9001", &[], None).await;
    assert_eq!(got["deleted"], true);
}

#[tokio::test]
async fn bad_signatures_stale_replays_revoked_and_foreign_keys_are_refused() {
    let l = start_local().await;
    let staff = l.staff_token(0).await;
    let (key_id, secret) = new_key(&l, &staff).await;
    let body = patient("2026-11-20T10:00:00Z", "Alex");
    let raw = body.to_string();
    let put = |headers: Vec<(&'static str, String)>, raw: String| {
        let mut r = client().put(l.url("/v1/sync/patients/pat-1")).header("content-type", "application/json").body(raw);
        for (k, v) in headers {
            r = r.header(k, v);
        }
        send(r)
    };
    let good = signed_headers(&key_id, &secret, "PUT", "/v1/sync/patients/pat-1", &[], raw.as_bytes(), now());
    // Wrong secret.
    let (s, v, _) =
        put(signed_headers(&key_id, "not-the-secret", "PUT", "/v1/sync/patients/pat-1", &[], raw.as_bytes(), now()), raw.clone()).await;
    assert_eq!(s, 401, "{v}");
    // Stale.
    let (s, _, _) =
        put(signed_headers(&key_id, &secret, "PUT", "/v1/sync/patients/pat-1", &[], raw.as_bytes(), now() - 600), raw.clone()).await;
    assert_eq!(s, 401);
    // Signed for another path.
    let (s, _, _) = put(signed_headers(&key_id, &secret, "PUT", "/v1/sync/patients/pat-2", &[], raw.as_bytes(), now()), raw.clone()).await;
    assert_eq!(s, 401);
    // The real one, then its replay.
    let (s, v, _) = put(good.clone(), raw.clone()).await;
    assert_eq!(s, 200, "{v}");
    let (s, _, _) = put(good.clone(), raw.clone()).await;
    assert_eq!(s, 401, "a replayed nonce is refused");
    // A body other than the signed one.
    let other = patient("2026-11-20T10:00:00Z", "Mallory").to_string();
    let (s, v, _) = put(signed_headers(&key_id, &secret, "PUT", "/v1/sync/patients/pat-1", &[], raw.as_bytes(), now()), other).await;
    assert_eq!((s, &v["code"]), (401, &json!("sync_body_mismatch")));
    // Practice B's key writes only to practice B: A's patient is not there.
    let (b_key, b_secret) = new_key(&l, &l.staff_token(1).await).await;
    let b = SyncClient { local: &l, key_id: b_key, secret: b_secret };
    let (s, _) = b.call("GET", "/v1/sync/patients/pat-1", &[], None).await;
    assert_eq!(s, 404);
    // A session token is no sync credential, and a sync key is no session.
    assert_eq!(l.get("/v1/sync/patients/pat-1", Some(&staff)).await.0, 401);
    let a = SyncClient { local: &l, key_id: key_id.clone(), secret: secret.clone() };
    assert_eq!(a.call("GET", "/v1/me", &[], None).await.0, 401);
    // Revoked: refused from then on.
    let (s, _) = l.json("DELETE", &format!("/v1/admin/sync-keys/{key_id}"), Some(&staff), json!({})).await;
    assert_eq!(s, 200);
    assert_eq!(a.call("GET", "/v1/sync/patients/pat-1", &[], None).await.0, 401);
    // Every refusal is audited under the practice.
    let (_, log) = l.get("/v1/admin/audit?limit=100", Some(&staff)).await;
    let reasons: Vec<&str> = log["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "sync.request")
        .filter_map(|e| e["detail"]["reason"].as_str())
        .collect();
    for r in ["sync_signature_invalid", "sync_timestamp_stale", "sync_replay", "sync_key_revoked"] {
        assert!(reasons.contains(&r), "{r} not audited: {reasons:?}");
    }
}

#[tokio::test]
async fn malformed_entities_are_rejected_per_item_in_a_batch() {
    let l = start_local().await;
    let staff = l.staff_token(0).await;
    let (key_id, secret) = new_key(&l, &staff).await;
    let c = SyncClient { local: &l, key_id, secret };
    let stamp = "2026-11-20T10:00:00Z";
    let items = json!({"items": [
        {"op": "upsert", "entity": "providers", "id": "prov-t1", "body": {"lastModified": stamp, "abbreviation": "MC", "firstName": "Maya", "lastName": "Chen", "npi": "1234567893"}},
        {"op": "upsert", "entity": "patients", "id": "pat-t1", "body": {"lastModified": stamp, "firstName": "Alex"}},
        {"op": "upsert", "entity": "appointments", "id": "apt-t1", "body": {"lastModified": stamp, "patientId": "pat-t1", "providerId": "prov-t1", "start": "next tuesday", "lengthMinutes": 60, "status": "scheduled"}},
        {"op": "upsert", "entity": "clinical", "id": "cl-t1", "body": {"lastModified": stamp, "patientId": "pat-t1", "kind": "problem", "code": {"system": "ICD-9", "code": "250.00", "display": "Diabetes"}, "date": "2026-01-02"}},
        {"op": "upsert", "entity": "clinical", "id": "cl-t2", "body": {"lastModified": stamp, "patientId": "pat-t1", "kind": "vital-sign", "code": {"system": "LOINC", "code": "8480-6", "display": "Systolic blood pressure"}, "value": "118", "unit": "mm[Hg]", "date": "2026-01-02"}},
        {"op": "upsert", "entity": "patients", "id": "pat-t2", "body": {"lastModified": stamp, "firstName": "x".repeat(500), "lastName": "Y", "birthdate": "1990-01-01"}},
        {"op": "upsert", "entity": "treatment-plans", "id": "tp-t1", "body": {"lastModified": stamp, "patientId": "pat-t1", "heading": "Crown", "date": "2026-11-01", "status": "active", "procedures": [{"cdtCode": "D2740", "description": "Crown - porcelain/ceramic", "tooth": "30", "feeCents": 120000, "insuranceEstimateCents": 60000, "patientPortionCents": 60000, "status": "planned"}]}},
        {"op": "upsert", "entity": "widgets", "id": "w-1", "body": {"lastModified": stamp}},
        {"op": "upsert", "entity": "recalls", "id": "rc-t1", "body": {"lastModified": "yesterday", "patientId": "pat-t1", "type": "Prophy", "dueDate": "2026-12-01", "status": "due"}},
        // A race that is not an OMB category; two ethnicities; a smoking status outside the eight.
        {"op": "upsert", "entity": "patients", "id": "pat-t3", "body": {"lastModified": stamp, "firstName": "A", "lastName": "B", "birthdate": "1990-01-01", "race": {"categories": ["2108-9"]}}},
        {"op": "upsert", "entity": "patients", "id": "pat-t4", "body": {"lastModified": stamp, "firstName": "A", "lastName": "B", "birthdate": "1990-01-01", "ethnicity": {"categories": ["2135-2", "2186-5"]}}},
        {"op": "upsert", "entity": "clinical", "id": "cl-t3", "body": {"lastModified": stamp, "patientId": "pat-t1", "kind": "smoking-status", "code": {"system": "SNOMED-CT", "code": "38341003", "display": "Hypertensive disorder"}, "date": "2026-01-02"}},
        {"op": "upsert", "entity": "patients", "id": "pat-t5", "body": {"lastModified": stamp, "firstName": "A", "lastName": "B", "birthdate": "1990-01-01", "sex": "female", "birthSex": "declined", "race": {"categories": ["2106-3"], "detailed": [{"code": "2108-9", "display": "European"}]}, "ethnicity": {"declined": true}}},
        // A problem has no dose; an implant's UDI must pass its check digit.
        {"op": "upsert", "entity": "clinical", "id": "cl-t4", "body": {"lastModified": stamp, "patientId": "pat-t1", "kind": "problem", "code": {"system": "SNOMED-CT", "code": "38341003", "display": "Hypertensive disorder"}, "date": "2026-01-02", "dose": {"value": "5", "unit": "mg"}}},
        {"op": "upsert", "entity": "clinical", "id": "cl-t5", "body": {"lastModified": stamp, "patientId": "pat-t1", "kind": "implant", "code": {"system": "SNOMED-CT", "code": "40388003", "display": "Implant"}, "date": "2026-01-02", "udi": "(01)00844588003289", "tooth": "19"}},
    ]});
    let (s, v) = c.call("POST", "/v1/sync/batch", &[], Some(&items)).await;
    assert_eq!(s, 200, "{v}");
    let statuses: Vec<&str> = v["results"].as_array().unwrap().iter().map(|r| r["status"].as_str().unwrap()).collect();
    assert_eq!(
        statuses,
        [
            "applied", "rejected", "rejected", "rejected", "applied", "rejected", "applied", "rejected", "rejected", "rejected",
            "rejected", "rejected", "applied", "rejected", "rejected"
        ],
        "{v}"
    );
    let codes: Vec<&str> = v["results"].as_array().unwrap().iter().filter_map(|r| r["code"].as_str()).collect();
    assert_eq!(
        codes,
        [
            "field_invalid",
            "field_invalid",
            "code_system_unknown",
            "field_invalid",
            "entity_unknown",
            "field_invalid",
            "field_invalid",
            "field_invalid",
            "field_invalid",
            "field_invalid",
            "field_invalid"
        ]
    );
    assert!(v["results"][14]["reason"].as_str().unwrap().contains("check digit"), "{}", v["results"][14]);
    assert!(v["results"][2]["reason"].as_str().unwrap().contains("start"));
    assert!(v["results"][9]["reason"].as_str().unwrap().contains("race.categories"), "{}", v["results"][9]);
    assert!(v["results"][11]["reason"].as_str().unwrap().contains("smoking status"), "{}", v["results"][11]);
    assert_eq!(v["summary"], json!({"applied": 4, "unchanged": 0, "rejected": 11}));
    // Repeating the batch changes nothing.
    let (_, again) = c.call("POST", "/v1/sync/batch", &[], Some(&items)).await;
    assert_eq!(again["summary"], json!({"applied": 0, "unchanged": 4, "rejected": 11}));
    // Nothing of a rejected item was stored.
    assert_eq!(c.call("GET", "/v1/sync/patients/pat-t1", &[], None).await.0, 404);
}

#[tokio::test]
async fn documents_upload_to_a_pinned_url_and_are_checked() {
    let l = start_local().await;
    let staff = l.staff_token(0).await;
    let (key_id, secret) = new_key(&l, &staff).await;
    let c = SyncClient { local: &l, key_id, secret };
    let pdf = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n".to_vec();
    let doc = |id: &str, size: usize| json!({"lastModified": "2026-11-20T10:00:00Z", "patientId": "pat-1001", "folder": "Patient Portal", "sharedToPortal": true, "title": "Post-op instructions", "date": "2026-11-20", "file": {"contentType": "application/pdf", "size": size, "fileName": format!("{id}.pdf")}});
    let (s, v) = c.call("PUT", "/v1/sync/documents/doc-t1", &[], Some(&doc("doc-t1", pdf.len()))).await;
    assert_eq!(s, 200, "{v}");
    let url = v["upload"]["url"].as_str().unwrap();
    let res = client().put(url).header("content-type", "application/pdf").body(pdf.clone()).send().await.unwrap();
    assert!(res.status().is_success());
    let (s, v) = c.call("POST", "/v1/sync/documents/doc-t1/uploaded", &[], None).await;
    assert_eq!((s, &v["fileStatus"]), (200, &json!("available")), "{v}");
    // A "PDF" that is really HTML: refused and deleted.
    let fake = b"<html><script>alert(1)</script></html>".to_vec();
    let (_, v) = c.call("PUT", "/v1/sync/documents/doc-t2", &[], Some(&doc("doc-t2", fake.len()))).await;
    let url = v["upload"]["url"].as_str().unwrap();
    client().put(url).header("content-type", "application/pdf").body(fake).send().await.unwrap();
    let (s, v) = c.call("POST", "/v1/sync/documents/doc-t2/uploaded", &[], None).await;
    assert_eq!((s, &v["code"]), (422, &json!("file_rejected")), "{v}");
    let (_, got) = c.call("GET", "/v1/sync/documents/doc-t2", &[], None).await;
    assert_eq!(got["fileStatus"], "rejected");
}

#[tokio::test]
async fn outbox_survives_event_failures_and_restarts_and_acks_stick() {
    use portal_core::sync::events::PortalEvent;
    use portal_core::sync::outbox::Outbox;
    let l = start_local().await;
    let staff = l.staff_token(0).await;
    let (key_id, secret) = new_key(&l, &staff).await;
    let c = SyncClient { local: &l, key_id, secret };
    let outbox =
        Outbox { db: Db { table: l.backends.table.as_ref(), clock: l.backends.clock.as_ref() }, events: &crate::support::EventsDown };
    let sent = PortalEvent::WebmailSent { message_id: "m-1".into(), patient_id: "pat-1001".into() };
    let first = outbox.record(&pid("lakeside"), sent).await.unwrap();
    outbox.record(&pid("lakeside"), PortalEvent::PasswordChanged { patient_id: "pat-1001".into() }).await.unwrap();
    // Another practice's events are not ours.
    outbox.record(&pid("hillcrest"), PortalEvent::PasswordChanged { patient_id: "pat-2001".into() }).await.unwrap();
    // Events are handed out once settled (see portal_core::sync::outbox::SETTLE_MICROS).
    tokio::time::sleep(std::time::Duration::from_micros(portal_core::sync::outbox::SETTLE_MICROS as u64 + 100_000)).await;
    let (s, v) = c.call("GET", "/v1/sync/events", &[], None).await;
    assert_eq!(s, 200, "{v}");
    let kinds: Vec<&str> = v["events"].as_array().unwrap().iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["webmail.sent", "portal.patient.password_changed"]);
    let (_, v) = c.call("GET", "/v1/sync/events", &[("after", first.id.as_str())], None).await;
    assert_eq!(v["events"].as_array().unwrap().len(), 1);
    // An empty `after` is no `after`: from the start.
    let (s, v) = c.call("GET", "/v1/sync/events", &[("after", "")], None).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["events"].as_array().unwrap().len(), 2);
    let (s, _) = c.call("POST", "/v1/sync/events/ack", &[], Some(&json!({"upTo": first.id}))).await;
    assert_eq!(s, 200);
    // After a restart (a new portal-local over the same data folder), the acknowledged one stays handled.
    let reopened = portal_local::Backends::open(l.data_dir.path(), &l.base).unwrap();
    let again = Outbox { db: reopened.db(), events: &crate::support::EventsDown };
    let (events, _) = again.list(&pid("lakeside"), None, 100).await.unwrap();
    assert_eq!(events.iter().map(|e| e.kind.as_str()).collect::<Vec<_>>(), ["portal.patient.password_changed"]);
    let (s, v) = c.call("GET", "/v1/sync/events", &[("after", "garbage")], None).await;
    assert_eq!((s, &v["code"]), (400, &json!("cursor_invalid")));
}

#[tokio::test]
async fn the_demo_practices_came_in_through_the_sync_api() {
    let l = start_local().await;
    let p = &l.logins.practices[0];
    let c = SyncClient { local: &l, key_id: p.sync.key_id.clone(), secret: p.sync.secret.clone() };
    let (s, minor) = c.call("GET", "/v1/sync/patients/pat-1004", &[], None).await;
    assert_eq!(s, 200, "{minor}");
    assert_eq!((&minor["data"]["isMinor"], &minor["data"]["guardians"][0]["patientId"]), (&json!(true), &json!("pat-1001")));
    for (entity, id) in [("statements", "stmt-1"), ("statements", "stmt-2"), ("documents", "doc-1"), ("documents", "doc-3")] {
        let (s, v) = c.call("GET", &format!("/v1/sync/{entity}/{id}"), &[], None).await;
        assert_eq!((s, &v["fileStatus"]), (200, &json!("available")), "{entity}/{id}: {v}");
    }
    let (_, doc3) = c.call("GET", "/v1/sync/documents/doc-3", &[], None).await;
    assert_eq!(doc3["data"]["sharedToPortal"], false);
    let (_, med) = c.call("GET", "/v1/sync/clinical/cl-0003", &[], None).await;
    assert_eq!(med["data"]["code"], json!({"system": "RxNorm", "code": "197361", "display": "Amlodipine 5 MG Oral Tablet"}));
    // The other practice's key sees none of it.
    let h = &l.logins.practices[1];
    let other = SyncClient { local: &l, key_id: h.sync.key_id.clone(), secret: h.sync.secret.clone() };
    assert_eq!(other.call("GET", "/v1/sync/patients/pat-1004", &[], None).await.0, 404);
    assert_eq!(other.call("GET", "/v1/sync/patients/pat-2001", &[], None).await.0, 200);
}

#[tokio::test]
async fn oversize_and_malformed_requests_get_problems() {
    let l = start_local().await;
    let p = &l.logins.practices[0];
    let c = SyncClient { local: &l, key_id: p.sync.key_id.clone(), secret: p.sync.secret.clone() };
    let huge = json!({"items": [{"op": "upsert", "entity": "patients", "id": "x", "body": {"pad": "x".repeat(5 * 1024 * 1024)}}]});
    let (s, v) = c.call("POST", "/v1/sync/batch", &[], Some(&huge)).await;
    assert_eq!((s, &v["code"]), (413, &json!("body_too_large")), "{v}");
    let (s, v) = c.call("GET", "/v1/sync/events", &[("after", "x"), ("colour", "blue")], None).await;
    assert_eq!((s, &v["code"]), (400, &json!("invalid_query")), "{v}");
    let (s, v) = c.call("DELETE", "/v1/sync/patients/pat-1001", &[], None).await;
    assert_eq!((s, &v["code"]), (400, &json!("invalid_query")), "{v}");
    let (s, v) = c.call("POST", "/v1/sync/batch", &[], Some(&json!({"items": []}))).await;
    assert_eq!((s, &v["code"]), (400, &json!("batch_size")), "{v}");
    let (s, v) = c.call("PUT", "/v1/sync/patients/bad%20id", &[], Some(&json!({"lastModified": "2026-01-01T00:00:00Z"}))).await;
    assert_eq!(s, 400, "{v}");
}
