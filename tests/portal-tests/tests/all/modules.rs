//! The patient modules (account, treatment plans, images, appointments) over HTTP against a
//! portal-local seeded with the demo: what each answers, the family rule, data synced after login,
//! the race for a slot, and bad input. Demo: at Lakeside, Alex (pat-1001) holds the Morgan
//! family's account and guards Riley (pat-1004); Jamie (pat-1003) guards Riley and Avery; Jordan
//! is a patient of Hillcrest.

use crate::support::{client, date_from_today, instant_from_now, pid, send, start_local, Local};
use crate::sync::SyncClient;
use portal_core::ports::Db;
use serde_json::{json, Value};
use std::collections::BTreeSet;

const ALEX: (usize, usize) = (0, 0);
const JAMIE: (usize, usize) = (0, 2);
const JORDAN: (usize, usize) = (1, 0);

async fn token(l: &Local, who: (usize, usize)) -> String {
    l.patient_token(who.0, who.1).await
}

fn sync_client(l: &Local, practice: usize) -> SyncClient<'_> {
    let s = &l.logins.practices[practice].sync;
    SyncClient { local: l, key_id: s.key_id.clone(), secret: s.secret.clone() }
}

fn ids(list: &Value) -> Vec<String> {
    list.as_array().unwrap().iter().map(|i| i["id"].as_str().unwrap().to_string()).collect()
}

/// Uploads a statement or document's file as the practice's system does, and has it checked.
async fn upload(c: &SyncClient<'_>, entity: &str, id: &str, body: Value, bytes: Vec<u8>) {
    let (s, v) = c.call("PUT", &format!("/v1/sync/{entity}/{id}"), &[], Some(&body)).await;
    assert_eq!(s, 200, "{v}");
    let ct = body["file"]["contentType"].as_str().unwrap().to_string();
    let res = client().put(v["upload"]["url"].as_str().unwrap()).header("content-type", ct).body(bytes).send().await.unwrap();
    assert!(res.status().is_success());
    let (s, v) = c.call("POST", &format!("/v1/sync/{entity}/{id}/uploaded"), &[], None).await;
    assert_eq!(s, 200, "{v}");
}

async fn outbox_events(c: &SyncClient<'_>) -> Vec<Value> {
    // Events are handed out once settled (see portal_core::sync::outbox::SETTLE_MICROS).
    tokio::time::sleep(std::time::Duration::from_micros(portal_core::sync::outbox::SETTLE_MICROS as u64 + 100_000)).await;
    let (s, v) = c.call("GET", "/v1/sync/events", &[("limit", "500")], None).await;
    assert_eq!(s, 200, "{v}");
    v["events"].as_array().unwrap().clone()
}

#[tokio::test]
async fn the_account_adds_up_and_follows_what_is_synced() {
    let l = start_local().await;
    let alex = token(&l, ALEX).await;
    let (s, sum) = l.get("/v1/account/summary", Some(&alex)).await;
    assert_eq!(s, 200, "{sum}");
    assert_eq!(
        sum,
        json!({"patientId": "pat-1001", "totalCents": 41200, "insuranceEstimateCents": 12000, "patientPortionCents": 29200, "scope": "account", "beingPosted": []})
    );

    // The ledger: the same lines but the estimate, newest first, paged without gaps or repeats.
    let (_, all) = l.get("/v1/account/ledger?limit=200", Some(&alex)).await;
    let lines = all["items"].as_array().unwrap();
    assert_eq!(lines.len(), 9);
    assert!(lines.iter().all(|i| i["kind"] != "insurance-estimate"));
    assert_eq!(lines.iter().map(|i| i["amountCents"].as_i64().unwrap()).sum::<i64>(), 41200);
    let dates: Vec<&str> = lines.iter().map(|i| i["date"].as_str().unwrap()).collect();
    assert!(dates.windows(2).all(|w| w[0] >= w[1]), "newest first: {dates:?}");
    assert!(lines.iter().any(|i| i["patientId"] == "pat-1004"), "the family's lines are on the holder's account");
    let mut paged = vec![];
    let mut cursor: Option<String> = None;
    loop {
        let q = cursor.as_ref().map(|c| format!("&cursor={c}")).unwrap_or_default();
        let (s, page) = l.get(&format!("/v1/account/ledger?limit=4{q}"), Some(&alex)).await;
        assert_eq!(s, 200, "{page}");
        paged.extend(ids(&page["items"]));
        match page["nextCursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
    }
    assert_eq!(paged, ids(&all["items"]));
    // A date range.
    let oldest = dates.last().unwrap();
    let (_, first_day) = l.get(&format!("/v1/account/ledger?from={oldest}&to={oldest}"), Some(&alex)).await;
    assert_eq!(first_day["items"].as_array().unwrap().len(), 1);

    // A line synced after login changes the summary by exactly its amount; its tombstone undoes it.
    let c = sync_client(&l, 0);
    let line = json!({"lastModified": instant_from_now(0), "patientId": "pat-1003", "guarantorId": "pat-1001", "date": date_from_today(0), "kind": "charge", "amountCents": 1234, "description": "Fluoride varnish", "procedureCode": "D1206"});
    let (s, v) = c.call("PUT", "/v1/sync/ledger/led-new", &[], Some(&line)).await;
    assert_eq!(s, 200, "{v}");
    let (_, after) = l.get("/v1/account/summary", Some(&alex)).await;
    assert_eq!(after["totalCents"], 41200 + 1234);
    assert_eq!(after["patientPortionCents"], 29200 + 1234);
    let (s, _) = c.call("DELETE", "/v1/sync/ledger/led-new", &[("lastModified", &instant_from_now(60))], None).await;
    assert_eq!(s, 200);
    let (_, back) = l.get("/v1/account/summary", Some(&alex)).await;
    assert_eq!(back["totalCents"], 41200);

    // Jamie is on Alex's account: her own lines only, and no statements (they are Alex's mail).
    let jamie = token(&l, JAMIE).await;
    let (_, own) = l.get("/v1/account/summary", Some(&jamie)).await;
    assert_eq!(
        own,
        json!({"patientId": "pat-1003", "totalCents": 0, "insuranceEstimateCents": 0, "patientPortionCents": 0, "scope": "own", "beingPosted": []})
    );
    let (_, statements) = l.get("/v1/account/statements", Some(&jamie)).await;
    assert_eq!(statements["items"], json!([]));
    let (s, _) = l.get("/v1/account/statements/stmt-2/file", Some(&jamie)).await;
    assert_eq!(s, 404);
}

#[tokio::test]
async fn a_statement_downloads_as_the_pdf_that_was_synced() {
    let l = start_local().await;
    let c = sync_client(&l, 0);
    let pdf = b"%PDF-1.4\n% statement for the Morgan family\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n".to_vec();
    // Dated today: newer than the demo's statements, which are dated from the day it was seeded.
    let today = date_from_today(0);
    let name = format!("statement-{today}.pdf");
    let body = json!({"lastModified": instant_from_now(0), "guarantorId": "pat-1001", "date": today, "balanceCents": 41200, "file": {"contentType": "application/pdf", "size": pdf.len(), "fileName": name}});
    upload(&c, "statements", "stmt-new", body, pdf.clone()).await;
    let alex = token(&l, ALEX).await;
    let (_, list) = l.get("/v1/account/statements", Some(&alex)).await;
    assert_eq!(list["items"][0], json!({"id": "stmt-new", "date": today, "balanceCents": 41200, "fileName": name}));
    assert_eq!(ids(&list["items"]).len(), 3);
    let (s, link) = l.get("/v1/account/statements/stmt-new/file", Some(&alex)).await;
    assert_eq!(s, 200, "{link}");
    let expires = time::OffsetDateTime::parse(link["expiresAt"].as_str().unwrap(), &time::format_description::well_known::Rfc3339).unwrap();
    let left = expires - time::OffsetDateTime::now_utc();
    assert!(left.whole_seconds() > 0 && left.whole_seconds() <= 300, "{left}");
    let res = client().get(link["url"].as_str().unwrap()).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let disposition = res.headers()["content-disposition"].to_str().unwrap().to_string();
    assert!(disposition.starts_with("attachment") && disposition.contains(&name), "{disposition}");
    assert_eq!(res.bytes().await.unwrap().to_vec(), pdf);
}

#[tokio::test]
async fn treatment_plan_totals_add_up_exactly() {
    let l = start_local().await;
    let alex = token(&l, ALEX).await;
    let (s, plans) = l.get("/v1/treatment-plans", Some(&alex)).await;
    assert_eq!(s, 200, "{plans}");
    let plan = &plans["items"][0];
    assert_eq!(plan["heading"], "Crown #30 and cleaning");
    assert_eq!(plan["totals"], json!({"feeCents": 178000, "insuranceEstimateCents": 100200, "patientPortionCents": 77800}));
    let procedures = plan["procedures"].as_array().unwrap();
    for column in ["feeCents", "insuranceEstimateCents", "patientPortionCents"] {
        assert_eq!(procedures.iter().map(|p| p[column].as_i64().unwrap()).sum::<i64>(), plan["totals"][column].as_i64().unwrap());
    }
    assert_eq!(
        procedures[2],
        json!({"cdtCode": "D2391", "description": "Resin-based composite - one surface, posterior", "tooth": "19", "surface": "O", "feeCents": 18000, "insuranceEstimateCents": 14400, "patientPortionCents": 3600, "priority": 2, "status": "planned"})
    );
    // Riley has none: an empty list, not an error.
    let (s, none) = l.get("/v1/treatment-plans?patient=pat-1004", Some(&alex)).await;
    assert_eq!((s, &none["items"]), (200, &json!([])));
}

#[tokio::test]
async fn only_shared_checked_documents_exist_for_the_patient() {
    let l = start_local().await;
    let alex = token(&l, ALEX).await;
    let (s, list) = l.get("/v1/images", Some(&alex)).await;
    assert_eq!(s, 200, "{list}");
    let items = list["items"].as_array().unwrap();
    assert_eq!(BTreeSet::from_iter(ids(&list["items"])), BTreeSet::from(["doc-1".to_string(), "doc-2".to_string()]));
    // The image has a thumbnail, made once when it was published: a small PNG.
    let image = items.iter().find(|i| i["id"] == "doc-1").unwrap();
    let thumb = client().get(image["thumbnail"].as_str().unwrap()).send().await.unwrap().bytes().await.unwrap();
    assert!(thumb.starts_with(b"\x89PNG"));
    assert_eq!(items.iter().find(|i| i["id"] == "doc-2").unwrap()["thumbnail"], Value::Null);
    // Not shared (doc-3), declared but never uploaded, or unknown: 404 alike.
    let c = sync_client(&l, 0);
    let pending = json!({"lastModified": instant_from_now(0), "patientId": "pat-1001", "folder": "Patient Portal", "sharedToPortal": true, "title": "Not uploaded", "date": date_from_today(0), "file": {"contentType": "image/png", "size": 100, "fileName": "x.png"}});
    let (s, _) = c.call("PUT", "/v1/sync/documents/doc-pending", &[], Some(&pending)).await;
    assert_eq!(s, 200);
    for id in ["doc-3", "doc-pending", "doc-unknown"] {
        let (s, v) = l.get(&format!("/v1/images/{id}/file"), Some(&alex)).await;
        assert_eq!((s, &v["code"]), (404, &json!("not_found")), "{id}");
    }
    let (_, again) = l.get("/v1/images", Some(&alex)).await;
    assert_eq!(again["items"].as_array().unwrap().len(), 2);
    // The file downloads under its own name.
    let (_, link) = l.get("/v1/images/doc-2/file", Some(&alex)).await;
    let res = client().get(link["url"].as_str().unwrap()).send().await.unwrap();
    assert!(res.headers()["content-disposition"].to_str().unwrap().contains("crown-prep-instructions.pdf"));
    assert!(res.bytes().await.unwrap().starts_with(b"%PDF-"));
    // A tombstoned document disappears.
    let (s, _) = c.call("DELETE", "/v1/sync/documents/doc-2", &[("lastModified", &instant_from_now(60))], None).await;
    assert_eq!(s, 200);
    let (_, after) = l.get("/v1/images", Some(&alex)).await;
    assert_eq!(ids(&after["items"]), ["doc-1"]);
}

#[tokio::test]
async fn the_family_rule_decides_whose_data_on_every_module() {
    let l = start_local().await;
    let alex = token(&l, ALEX).await;
    let jamie = token(&l, JAMIE).await;
    let jordan = token(&l, JORDAN).await;
    // Alex sees Riley's appointments, through ?patient=.
    let (s, riley) = l.get("/v1/appointments?patient=pat-1004", Some(&alex)).await;
    assert_eq!(s, 200, "{riley}");
    let past = riley["past"].as_array().unwrap();
    assert_eq!(past.len(), 2);
    assert!(past.iter().all(|a| a["provider"]["name"] == "Priya Raman, RDH"));
    // Alex's own appointments, two at a time: upcoming first, then ever further into the past.
    let (_, whole) = l.get("/v1/appointments", Some(&alex)).await;
    let mut seen = vec![];
    let mut cursor = String::new();
    loop {
        let (s, page) = l.get(&format!("/v1/appointments?limit=2&cursor={cursor}"), Some(&alex)).await;
        assert_eq!(s, 200, "{page}");
        seen.extend(ids(&page["upcoming"]).into_iter().rev());
        seen.extend(ids(&page["past"]));
        match page["nextCursor"].as_str() {
            Some(c) => cursor = c.to_string(),
            None => break,
        }
    }
    let newest_first: Vec<String> = ids(&whole["upcoming"]).into_iter().rev().chain(ids(&whole["past"])).collect();
    assert_eq!(seen, newest_first);
    // Jamie guards Avery (on Alex's account) but may not see Alex; Jordan is of another practice.
    let (s, _) = l.get("/v1/appointments?patient=pat-1005", Some(&jamie)).await;
    assert_eq!(s, 200);
    for (who, path) in [
        (&jamie, "/v1/appointments?patient=pat-1001"),
        (&jamie, "/v1/treatment-plans?patient=pat-1001"),
        (&jamie, "/v1/images?patient=pat-1001"),
        (&jamie, "/v1/account/summary?patient=pat-1001"),
        (&alex, "/v1/appointments?patient=pat-1002"),
        (&alex, "/v1/account/ledger?patient=pat-9999"),
        (&jordan, "/v1/appointments?patient=pat-1001"),
        (&jordan, "/v1/account/summary?patient=pat-1001"),
    ] {
        let (s, v) = l.get(path, Some(who)).await;
        assert_eq!((s, &v["code"]), (404, &json!("not_found")), "{path}");
    }
    // Every read is audited with whose data it was.
    let staff = l.staff_token(0).await;
    let (_, log) = l.get("/v1/admin/audit?what=health-data&actor=pat-1001", Some(&staff)).await;
    let entries = log["entries"].as_array().unwrap();
    assert!(entries.iter().any(|e| e["action"] == "appointments.read" && e["subject"] == "pat-1004"), "{log}");
    // Answers are never cached.
    let res = client().get(l.url("/v1/appointments")).bearer_auth(&alex).send().await.unwrap();
    assert_eq!(res.headers()["cache-control"], "no-store");
}

#[tokio::test]
async fn confirming_is_harmless_twice_and_reaches_the_practice_once() {
    let l = start_local().await;
    let alex = token(&l, ALEX).await;
    let (_, appts) = l.get("/v1/appointments", Some(&alex)).await;
    let pending: Vec<&Value> = appts["upcoming"].as_array().unwrap().iter().filter(|a| a["canConfirm"] == true).collect();
    assert_eq!(pending.len(), 1, "{appts}");
    let id = pending[0]["id"].as_str().unwrap().to_string();
    for _ in 0..2 {
        let (s, v) = l.json("POST", &format!("/v1/appointments/{id}/confirm"), Some(&alex), json!({})).await;
        assert_eq!((s, v), (200, json!({"id": id, "confirmation": "confirmed"})));
    }
    let (_, after) = l.get("/v1/appointments", Some(&alex)).await;
    let now = after["upcoming"].as_array().unwrap().iter().find(|a| a["id"] == id.as_str()).unwrap().clone();
    assert_eq!((&now["confirmation"], &now["canConfirm"]), (&json!("confirmed"), &json!(false)));
    let events = outbox_events(&sync_client(&l, 0)).await;
    let confirmed: Vec<&Value> = events.iter().filter(|e| e["type"] == "appointment.confirmed").collect();
    assert_eq!(confirmed.len(), 1);
    assert_eq!(confirmed[0]["detail"]["appointmentId"], id.as_str());
    assert_eq!(confirmed[0]["detail"]["patientId"], "pat-1001");
    assert!(confirmed[0]["detail"]["start"].is_string());
    // One the office has not asked to confirm is not the patient's to confirm; Jamie's is not
    // Alex's to confirm unasked.
    let quiet = json!({"lastModified": instant_from_now(0), "patientId": "pat-1001", "providerId": "prov-1", "start": format!("{}T10:00:00-05:00", date_from_today(40)), "lengthMinutes": 30, "status": "scheduled"});
    assert_eq!(sync_client(&l, 0).call("PUT", "/v1/sync/appointments/apt-quiet", &[], Some(&quiet)).await.0, 200);
    let (s, v) = l.json("POST", "/v1/appointments/apt-quiet/confirm", Some(&alex), json!({})).await;
    assert_eq!((s, &v["code"]), (409, &json!("confirmation_not_pending")));
    let (s, _) = l.json("POST", "/v1/appointments/apt-0012/confirm", Some(&alex), json!({})).await;
    assert_eq!(s, 404);
}

#[tokio::test]
async fn a_patient_asks_to_reschedule_once_and_the_practice_answers_by_syncing() {
    let l = start_local().await;
    let alex = token(&l, ALEX).await;
    let staff = l.staff_token(0).await;
    let (_, appts) = l.get("/v1/appointments", Some(&alex)).await;
    let upcoming = appts["upcoming"].as_array().unwrap().iter().find(|a| a["status"] == "scheduled").unwrap().clone();
    let id = upcoming["id"].as_str().unwrap().to_string();
    let path = format!("/v1/appointments/{id}/change-request");
    for (body, status, code) in [
        (json!({"kind": "move it"}), 400, "invalid_body"),
        (json!({"kind": "cancel", "note": "x".repeat(501)}), 400, "note_invalid"),
        (json!({"kind": "cancel", "note": "a\u{0}b"}), 400, "note_invalid"),
    ] {
        let (s, v) = l.json("POST", &path, Some(&alex), body.clone()).await;
        assert_eq!((s, v["code"].as_str()), (status, Some(code)), "{body}: {v}");
    }
    // Asked twice (a double click): one request reaches the practice.
    for _ in 0..2 {
        let (s, v) = l.json("POST", &path, Some(&alex), json!({"kind": "reschedule", "note": "Mornings suit me better."})).await;
        assert_eq!((s, &v["changeRequested"]), (200, &json!("reschedule")), "{v}");
    }
    let (_, listed) = l.get("/v1/appointments", Some(&alex)).await;
    assert!(listed["upcoming"].as_array().unwrap().iter().any(|a| a["id"] == id.as_str() && a["changeRequested"] == "reschedule"));
    let events = outbox_events(&sync_client(&l, 0)).await;
    let asked: Vec<&Value> = events.iter().filter(|e| e["type"] == "appointment.change_requested").collect();
    assert_eq!(asked.len(), 1, "{events:?}");
    assert_eq!((&asked[0]["detail"]["kind"], &asked[0]["detail"]["note"]), (&json!("reschedule"), &json!("Mornings suit me better.")));
    // Not someone else's, not a past one.
    assert_eq!(l.json("POST", "/v1/appointments/apt-0012/change-request", Some(&alex), json!({"kind": "cancel"})).await.0, 404);
    let past = appts["past"][0]["id"].as_str().unwrap();
    let (s, v) = l.json("POST", &format!("/v1/appointments/{past}/change-request"), Some(&alex), json!({"kind": "cancel"})).await;
    assert_eq!((s, v["code"].as_str()), (409, Some("appointment_not_changeable")));
    // The practice's system answers by sending the appointment again (moved): the request is done.
    let moved = json!({"lastModified": instant_from_now(0), "patientId": "pat-1001", "providerId": "prov-1", "start": format!("{}T08:00:00-05:00", date_from_today(12)), "lengthMinutes": 60, "status": "scheduled"});
    assert_eq!(sync_client(&l, 0).call("PUT", &format!("/v1/sync/appointments/{id}"), &[], Some(&moved)).await.0, 200);
    let (_, after) = l.get("/v1/appointments", Some(&alex)).await;
    let now = after["upcoming"].as_array().unwrap().iter().find(|a| a["id"] == id.as_str()).unwrap().clone();
    assert!(now.get("changeRequested").is_none(), "{now}");
    // A practice that takes these by phone: refused, with what to do instead.
    let (_, settings) = l.get("/v1/admin/settings", Some(&staff)).await;
    let version = settings["settings"]["versions"]["contact"].clone();
    let off = json!({"phone": "(269) 555-0100", "address": "", "hours": "", "appointmentRequests": false, "version": version});
    assert_eq!(l.json("PUT", "/v1/admin/settings/contact", Some(&staff), off).await.0, 200);
    let (s, v) = l.json("POST", &path, Some(&alex), json!({"kind": "cancel"})).await;
    assert_eq!((s, v["code"].as_str()), (403, Some("appointment_requests_off")));
}

#[tokio::test]
async fn a_guarantor_books_a_childs_recall_once() {
    let l = start_local().await;
    let alex = token(&l, ALEX).await;
    let (s, recalls) = l.get("/v1/appointments/recalls?patient=pat-1004", Some(&alex)).await;
    assert_eq!(s, 200, "{recalls}");
    let recall = &recalls["items"][0];
    assert_eq!((&recall["id"], &recall["type"]), (&json!("rc-1004"), &json!("Prophy")));
    let slots = recall["slots"].as_array().unwrap();
    assert_eq!(slots.len(), 4);
    let slot = slots[0]["id"].as_str().unwrap();
    let (s, booked) = l.json("POST", "/v1/appointments/recalls/rc-1004/book?patient=pat-1004", Some(&alex), json!({"slotId": slot})).await;
    assert_eq!(s, 201, "{booked}");
    assert_eq!(booked["appointment"]["status"], "requested");
    assert_eq!(booked["appointment"]["start"], slots[0]["start"]);
    // Riley's appointments list it; the recall is no longer due; a second booking is refused.
    let (_, riley) = l.get("/v1/appointments?patient=pat-1004", Some(&alex)).await;
    assert_eq!(riley["upcoming"][0]["id"], booked["appointment"]["id"]);
    let (_, left) = l.get("/v1/appointments/recalls?patient=pat-1004", Some(&alex)).await;
    assert_eq!(left["items"], json!([]));
    let (s, v) =
        l.json("POST", "/v1/appointments/recalls/rc-1004/book?patient=pat-1004", Some(&alex), json!({"slotId": slots[1]["id"]})).await;
    assert_eq!((s, &v["code"]), (409, &json!("recall_not_due")));
    // The same booking sent again (its answer lost on the way) is the same booking, not a conflict.
    let (s, again) = l.json("POST", "/v1/appointments/recalls/rc-1004/book?patient=pat-1004", Some(&alex), json!({"slotId": slot})).await;
    assert_eq!((s, &again["appointment"]["id"]), (201, &booked["appointment"]["id"]), "{again}");
    // The practice hears of it with what it needs to act.
    let events = outbox_events(&sync_client(&l, 0)).await;
    let booked_events: Vec<&Value> = events.iter().filter(|e| e["type"] == "appointment.booked").collect();
    assert_eq!(booked_events.len(), 1);
    let d = &booked_events[0]["detail"];
    assert_eq!((&d["patientId"], &d["recallId"], &d["slotId"]), (&json!("pat-1004"), &json!("rc-1004"), &json!(slot)));
    assert_eq!(d["bookingId"], booked["appointment"]["id"]);
    // When the system sends the appointment it made from the booking, the booking gives way to it.
    let made = json!({"lastModified": instant_from_now(0), "patientId": "pat-1004", "providerId": "prov-3", "start": slots[0]["start"], "lengthMinutes": 60, "procedures": "D1120 prophylaxis - child", "status": "scheduled", "portalBookingId": d["bookingId"]});
    let (s, v) = sync_client(&l, 0).call("PUT", "/v1/sync/appointments/apt-9001", &[], Some(&made)).await;
    assert_eq!(s, 200, "{v}");
    let (_, riley) = l.get("/v1/appointments?patient=pat-1004", Some(&alex)).await;
    assert_eq!(ids(&riley["upcoming"]), ["apt-9001"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn twenty_patients_racing_for_one_slot_one_wins() {
    let l = start_local().await;
    let c = sync_client(&l, 0);
    let prov =
        portal_core::identity::provision::Provisioner { db: Db { table: l.backends.table.as_ref(), clock: l.backends.clock.as_ref() } };
    let slot = json!({"lastModified": instant_from_now(0), "providerId": "prov-3", "start": format!("{}T09:00:00-05:00", date_from_today(20)), "lengthMinutes": 60, "recallTypes": ["Prophy"]});
    let (s, _) = c.call("PUT", "/v1/sync/slots/slot-race", &[], Some(&slot)).await;
    assert_eq!(s, 200);
    let mut tokens = vec![];
    for n in 0..20 {
        let id = format!("pat-race-{n}");
        let patient =
            json!({"lastModified": instant_from_now(0), "firstName": format!("Racer{n}"), "lastName": "Test", "birthdate": "1990-01-01"});
        assert_eq!(c.call("PUT", &format!("/v1/sync/patients/{id}"), &[], Some(&patient)).await.0, 200);
        let recall = json!({"lastModified": instant_from_now(0), "patientId": id, "type": "Prophy", "dueDate": date_from_today(-30), "status": "due"});
        assert_eq!(c.call("PUT", &format!("/v1/sync/recalls/rc-race-{n}"), &[], Some(&recall)).await.0, 200);
        let login = prov.create_patient_login(&pid("lakeside"), &id, &format!("racer{n}"), &format!("Racer{n} Test"), false).await.unwrap();
        let (s, v) = l
            .json("POST", "/v1/auth/login", None, json!({"practice": "lakeside", "username": login.username, "password": login.password}))
            .await;
        assert_eq!(s, 200, "{v}");
        tokens.push((n, v["token"].as_str().unwrap().to_string()));
    }
    // All twenty at once, on several threads.
    let start = std::sync::Arc::new(tokio::sync::Barrier::new(tokens.len()));
    let attempts: Vec<_> = tokens
        .iter()
        .map(|(n, t)| {
            let req = client()
                .post(l.url(&format!("/v1/appointments/recalls/rc-race-{n}/book")))
                .bearer_auth(t)
                .json(&json!({"slotId": "slot-race"}));
            let start = start.clone();
            tokio::spawn(async move {
                start.wait().await;
                let (s, v, _) = send(req).await;
                (s, v)
            })
        })
        .collect();
    let mut answers = vec![];
    for a in attempts {
        answers.push(a.await.unwrap());
    }
    let won = answers.iter().filter(|(s, _)| *s == 201).count();
    let taken = answers.iter().filter(|(s, v)| *s == 409 && v["code"] == "slot_taken").count();
    assert_eq!((won, taken), (1, 19), "{answers:?}");
    let events = outbox_events(&c).await;
    assert_eq!(events.iter().filter(|e| e["type"] == "appointment.booked" && e["detail"]["slotId"] == "slot-race").count(), 1);
    // The losers' recalls are still due, and the slot is no longer offered to them.
    let (_, still) = l.get("/v1/appointments/recalls", Some(&tokens.iter().find(|(n, _)| answers[*n].0 == 409).unwrap().1)).await;
    assert_eq!(still["items"].as_array().unwrap().len(), 1);
    assert!(!still.to_string().contains("slot-race"));
}

#[tokio::test]
async fn bad_input_is_a_problem_never_a_500() {
    let l = start_local().await;
    let alex = token(&l, ALEX).await;
    let jamie = token(&l, JAMIE).await;
    let (_, page) = l.get("/v1/images?limit=1", Some(&alex)).await;
    let foreign_cursor = page["nextCursor"].as_str().unwrap().to_string();
    for (path, status, code) in [
        ("/v1/account/ledger?from=2026-13-01", 400, "date_invalid"),
        ("/v1/account/ledger?from=yesterday", 400, "date_invalid"),
        ("/v1/account/ledger?to=", 400, "date_invalid"),
        ("/v1/account/ledger?from=2026-02-01&to=2026-01-01", 400, "date_range_invalid"),
        ("/v1/account/ledger?limit=0", 400, "limit_invalid"),
        ("/v1/account/ledger?limit=100000", 400, "limit_invalid"),
        ("/v1/account/ledger?limit=99999999999999999999999", 400, "invalid_query"),
        ("/v1/account/ledger?limit=ten", 400, "invalid_query"),
        ("/v1/account/ledger?cursor=not-a-cursor", 400, "cursor_invalid"),
        ("/v1/images?cursor=eyJ4IjoxfQ", 400, "cursor_invalid"),
        ("/v1/treatment-plans?sort=asc", 400, "invalid_query"),
        ("/v1/images/..%2F..%2Fetc/file", 404, "not_found"),
        ("/v1/account/statements/nope/file", 404, "not_found"),
        ("/v1/appointments?patient=", 404, "not_found"),
        ("/v1/appointments?patient=a%2Fb", 404, "not_found"),
    ] {
        let (s, v) = l.get(path, Some(&alex)).await;
        assert_eq!((s, v["code"].as_str()), (status, Some(code)), "{path}: {v}");
    }
    // A cursor handed to Alex for his images is not Jamie's to use.
    let (s, v) = l.get(&format!("/v1/images?cursor={foreign_cursor}"), Some(&jamie)).await;
    assert_eq!((s, &v["code"]), (400, &json!("cursor_invalid")), "{v}");
    for (body, status, code) in [
        (json!({}), 400, "invalid_body"),
        (json!({"slotId": 7}), 400, "invalid_body"),
        (json!({"slotId": "slot-1", "extra": true}), 400, "invalid_body"),
        (json!({"slotId": "slot-nope"}), 404, "not_found"),
    ] {
        let (s, v) = l.json("POST", "/v1/appointments/recalls/rc-1004/book?patient=pat-1004", Some(&alex), body.clone()).await;
        assert_eq!((s, v["code"].as_str()), (status, Some(code)), "{body}: {v}");
    }
    let (s, v) = l.json("POST", "/v1/appointments/recalls/rc-nope/book", Some(&alex), json!({"slotId": "slot-1"})).await;
    assert_eq!((s, &v["code"]), (404, &json!("not_found")));
}

/// The `Table` port, counting every request made through it.
struct CountingTable {
    inner: std::sync::Arc<dyn portal_core::ports::Table>,
    requests: std::sync::atomic::AtomicUsize,
}

#[async_trait::async_trait]
impl portal_core::ports::Table for CountingTable {
    async fn get(&self, pk: &str, sk: &str) -> Result<Option<portal_core::ports::Item>, portal_core::ports::TableError> {
        self.requests.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        self.inner.get(pk, sk).await
    }
    async fn put(&self, item: portal_core::ports::Item, cond: portal_core::ports::Cond) -> Result<(), portal_core::ports::TableError> {
        self.requests.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        self.inner.put(item, cond).await
    }
    async fn delete(&self, pk: &str, sk: &str, cond: portal_core::ports::Cond) -> Result<(), portal_core::ports::TableError> {
        self.requests.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        self.inner.delete(pk, sk, cond).await
    }
    async fn query(&self, q: portal_core::ports::Query) -> Result<portal_core::ports::Page, portal_core::ports::TableError> {
        self.requests.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        self.inner.query(q).await
    }
    async fn transact(&self, ops: Vec<portal_core::ports::TxOp>) -> Result<(), portal_core::ports::TableError> {
        self.requests.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        self.inner.transact(ops).await
    }
    async fn add(&self, pk: &str, sk: &str, by: i64, expires_at: Option<i64>) -> Result<i64, portal_core::ports::TableError> {
        self.requests.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        self.inner.add(pk, sk, by, expires_at).await
    }
    async fn batch_put(&self, items: Vec<portal_core::ports::Item>) -> Result<(), portal_core::ports::TableError> {
        self.requests.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        self.inner.batch_put(items).await
    }
    async fn batch_get(&self, keys: Vec<(String, String)>) -> Result<Vec<portal_core::ports::Item>, portal_core::ports::TableError> {
        self.requests.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        self.inner.batch_get(keys).await
    }
    async fn batch_delete(&self, keys: Vec<(String, String)>) -> Result<(), portal_core::ports::TableError> {
        self.requests.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        self.inner.batch_delete(keys).await
    }
}

/// Every read of the four modules, as its own Lambda function runs it (the authorizer's reads are
/// its own and cached by API Gateway), for oneself and for a family member: at most three table
/// requests — the member's record (for a family member), the records, the audit entry. One read
/// needs a fourth: a family member's due recalls, whose open slots are the practice's (a second
/// query). Provider names come from a per-container cache, warm after the first request.
#[tokio::test]
async fn every_read_makes_at_most_three_table_requests() {
    use portal_core::access::AuthContext;
    use portal_core::identity::session::PrincipalKind;
    use portal_core::practice::family::FamilyAccess;
    use std::sync::atomic::Ordering;
    use std::sync::Arc;
    use tower::ServiceExt;
    let l = start_local().await;
    let counting = Arc::new(CountingTable { inner: l.backends.table.clone(), requests: Default::default() });
    let mut ports = l.backends.ports();
    ports.table = counting.clone();
    let context = AuthContext {
        practice_id: portal_core::ids::PracticeId::parse("lakeside").unwrap(),
        practice_name: "Lakeside Family Dental".into(),
        principal_id: "pat-1001".into(),
        kind: PrincipalKind::Patient,
        role: None,
        username: "alex.morgan".into(),
        features: portal_core::Feature::ALL.to_vec(),
        family_access: FamilyAccess::Guarantor,
        session_id: "s".into(),
        must_change_password: false,
    };
    let reads = [
        ("account", "/v1/account/summary", "/v1/account/summary?patient=pat-1004"),
        ("account", "/v1/account/ledger", "/v1/account/ledger?patient=pat-1004"),
        ("account", "/v1/account/statements", "/v1/account/statements?patient=pat-1004"),
        ("account", "/v1/account/statements/stmt-2/file", "/v1/account/statements/stmt-2/file?patient=pat-1001"),
        ("treatment-plans", "/v1/treatment-plans", "/v1/treatment-plans?patient=pat-1004"),
        ("images", "/v1/images", "/v1/images?patient=pat-1004"),
        ("images", "/v1/images/doc-1/file", "/v1/images/doc-1/file?patient=pat-1001"),
        ("appointments", "/v1/appointments", "/v1/appointments?patient=pat-1004"),
        ("appointments", "/v1/appointments/recalls", "/v1/appointments/recalls?patient=pat-1004"),
    ];
    let mut routers = std::collections::HashMap::new();
    let mut report = vec![];
    for (function, own, member) in reads {
        let module = portal_local::MODULES.iter().find(|m| m.name == function).unwrap();
        let router = routers.entry(function).or_insert_with(|| portal_local::modules::lambda_router(module, &ports)).clone();
        let mut counts = vec![];
        for path in [own, own, member] {
            let mut req = http::Request::get(path).body(axum::body::Body::empty()).unwrap();
            let route = path.split('?').next().unwrap();
            req.extensions_mut().insert(portal_http::api_gateway_context(Some(context.to_fields()), "203.0.113.9", "GET", route));
            counting.requests.store(0, Ordering::SeqCst);
            let res = router.clone().oneshot(req).await.unwrap();
            assert_eq!(res.status(), 200, "{path}");
            counts.push(counting.requests.load(Ordering::SeqCst));
        }
        report.push(format!("{own}: first {}, then {} for oneself, {} for a family member", counts[0], counts[1], counts[2]));
        // A family member's due recalls need the practice's open slots; the summary of a practice
        // taking payments online, the payments not yet posted.
        let (own_limit, member_limit) = match own {
            "/v1/appointments/recalls" => (3, 4),
            "/v1/account/summary" => (4, 4),
            _ => (3, 3),
        };
        assert!(counts[1] <= own_limit && counts[2] <= member_limit, "{own}: {counts:?}");
    }
    println!("table requests per read:\n{}", report.join("\n"));
}

#[tokio::test]
async fn a_patients_change_of_contact_details_goes_to_the_practice_and_waits_for_its_record() {
    let l = start_local().await;
    let alex = token(&l, ALEX).await;
    let (s, mine) = l.get("/v1/me/profile", Some(&alex)).await;
    assert_eq!(s, 200, "{mine}");
    assert_eq!(
        mine,
        json!({"email": "alex.morgan@example.com", "mobilePhone": "(269) 555-0143", "emailNotices": true, "preferredLanguage": "en"})
    );
    for (body, code) in [
        (json!({"mobilePhone": "call me"}), "phone_invalid"),
        (json!({"email": "not an address"}), "email_invalid"),
        (json!({"preferredLanguage": "fr"}), "invalid_body"),
        (json!({"address": "elsewhere"}), "invalid_body"),
    ] {
        let (s, v) = l.json("PUT", "/v1/me/profile", Some(&alex), body.clone()).await;
        assert_eq!((s, v["code"].as_str()), (400, Some(code)), "{body}: {v}");
    }
    // Only what differs is asked for; asked twice (a double click), it reaches the practice once.
    let change =
        json!({"email": "alex.morgan@example.com", "mobilePhone": "269-555-0199", "preferredLanguage": "es", "emailNotices": true});
    for _ in 0..2 {
        let (s, v) = l.json("PUT", "/v1/me/profile", Some(&alex), change.clone()).await;
        assert_eq!((s, &v["pending"]), (200, &json!({"mobilePhone": "269-555-0199", "preferredLanguage": "es"})), "{v}");
        assert_eq!(v["mobilePhone"], "(269) 555-0143", "the record is the practice's until it says otherwise");
    }
    let events = outbox_events(&sync_client(&l, 0)).await;
    let asked: Vec<&Value> = events.iter().filter(|e| e["type"] == "patient.contact_changed").collect();
    assert_eq!(asked.len(), 1, "{events:?}");
    assert_eq!(asked[0]["detail"], json!({"patientId": "pat-1001", "changes": {"mobilePhone": "269-555-0199", "preferredLanguage": "es"}}));
    // Staff have no contact details here.
    assert_eq!(l.get("/v1/me/profile", Some(&l.staff_token(0).await)).await.0, 403);
    // The practice's system sends Alex's record again, changed: nothing is pending any more.
    let (_, record) = sync_client(&l, 0).call("GET", "/v1/sync/patients/pat-1001", &[], None).await;
    let mut fields = record["data"].clone();
    fields["phones"] = json!([{"kind": "mobile", "number": "269-555-0199"}]);
    fields["preferredLanguage"] = json!("es");
    fields["lastModified"] = json!(instant_from_now(0));
    let (s, v) = sync_client(&l, 0).call("PUT", "/v1/sync/patients/pat-1001", &[], Some(&fields)).await;
    assert_eq!(s, 200, "{v}");
    let (_, now) = l.get("/v1/me/profile", Some(&alex)).await;
    assert_eq!((now.get("pending"), &now["preferredLanguage"], &now["mobilePhone"]), (None, &json!("es"), &json!("269-555-0199")));
}
