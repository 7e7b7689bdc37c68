//! MakePayments over HTTP against a portal-local seeded with the demo (Lakeside takes payments
//! through the built-in test processor): a payment approved on the processor's own page, its
//! receipt, event and account line; what the portal refuses; exactly once however the poll and
//! the reconciler race; nothing lost when EventBridge fails at the commit; abandoned payments
//! canceled. Demo: Alex (pat-1001) holds the Morgan family's account, Jamie (pat-1003) is on it.

use crate::support::{client, date_from_today, instant_from_now, now, send, start_local, EventsDown, Local};
use crate::sync::SyncClient;
use portal_core::payments::Payments;
use portal_core::ports::Processors;
use portal_core::ports::{Db, ManualClock, Query, Table};
use serde_json::{json, Value};

const ALEX: (usize, usize) = (0, 0);
const JAMIE: (usize, usize) = (0, 2);
const JORDAN: (usize, usize) = (1, 0);

async fn token(l: &Local, who: (usize, usize)) -> String {
    l.patient_token(who.0, who.1).await
}

fn sync_client(l: &Local) -> SyncClient<'_> {
    let s = &l.logins.practices[0].sync;
    SyncClient { local: l, key_id: s.key_id.clone(), secret: s.secret.clone() }
}

fn key() -> String {
    format!("k-{}", portal_core::ids::new_id())
}

async fn start(l: &Local, token: &str, cents: i64) -> Value {
    let (s, v) = l.json("POST", "/v1/payments", Some(token), json!({"amountCents": cents, "idempotencyKey": key()})).await;
    assert_eq!(s, 201, "{v}");
    v
}

/// What a patient does on the test processor's page: one of its buttons.
async fn decide(started: &Value, action: &str) -> (u16, String) {
    let url = started["checkout"]["url"].as_str().unwrap();
    let res = client()
        .post(url)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("action={action}&back=/p/lakeside/%23payments"))
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    let location = res.headers().get("location").map(|h| h.to_str().unwrap().to_string()).unwrap_or_default();
    (status, location)
}

async fn outbox_events(l: &Local) -> Vec<Value> {
    tokio::time::sleep(std::time::Duration::from_micros(portal_core::sync::outbox::SETTLE_MICROS as u64 + 100_000)).await;
    let (s, v) = sync_client(l).call("GET", "/v1/sync/events", &[("limit", "500")], None).await;
    assert_eq!(s, 200, "{v}");
    v["events"].as_array().unwrap().clone()
}

fn received(events: &[Value], payment: &str) -> Vec<Value> {
    events.iter().filter(|e| e["type"] == "payment.received" && e["detail"]["paymentId"] == payment).cloned().collect()
}

/// The receipts in the local outbox (the notify handler sends them in the background).
async fn receipts(l: &Local, at_least: usize) -> Vec<String> {
    for _ in 0..100 {
        let found: Vec<String> = l
            .backends
            .mailer
            .list()
            .unwrap()
            .into_iter()
            .map(|(_, raw)| raw)
            .filter(|raw| portal_core::mime::subject(raw).is_some_and(|s| s.starts_with("Payment receipt")))
            .collect();
        if found.len() >= at_least {
            return found;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    vec![]
}

#[tokio::test]
async fn a_patient_pays_on_the_test_processor_and_the_account_shows_it_until_it_is_posted() {
    let l = start_local().await;
    let alex = token(&l, ALEX).await;
    let (_, before) = l.get("/v1/account/summary", Some(&alex)).await;

    let started = start(&l, &alex, 5000).await;
    let id = started["payment"]["id"].as_str().unwrap().to_string();
    assert_eq!(started["payment"]["status"], "pending");
    assert_eq!(started["checkout"]["processor"], "test");
    // The processor's own page, clearly no real payment.
    let page = client().get(started["checkout"]["url"].as_str().unwrap()).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("Test payment — no money moves") && page.contains("$50.00"), "{page}");
    // Pending is not paid: nothing is taken off the account yet.
    let (_, pending) = l.get("/v1/account/summary", Some(&alex)).await;
    assert_eq!(pending["totalCents"], before["totalCents"]);

    // Approved on the processor's page, which sends the payer back to the portal.
    assert_eq!(decide(&started, "approve").await, (303, "/p/lakeside/#payments".into()));
    let (s, paid) = l.get(&format!("/v1/payments/{id}"), Some(&alex)).await;
    assert_eq!(s, 200, "{paid}");
    assert_eq!(paid["status"], "approved");
    assert_eq!(paid["card"], json!({"brand": "Test card", "last4": "4242"}));

    // Paid online, being posted: off the total and the patient portion at once.
    let (_, after) = l.get("/v1/account/summary", Some(&alex)).await;
    assert_eq!(after["totalCents"].as_i64().unwrap(), before["totalCents"].as_i64().unwrap() - 5000);
    assert_eq!(after["patientPortionCents"].as_i64().unwrap(), before["patientPortionCents"].as_i64().unwrap() - 5000);
    assert_eq!(after["beingPosted"][0]["paymentId"], id.as_str());
    assert_eq!(after["beingPosted"][0]["amountCents"], 5000);

    // One event for the practice's system, ids and amounts only.
    let events = received(&outbox_events(&l).await, &id);
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0]["detail"]["patientId"], "pat-1001");
    assert_eq!(events[0]["detail"]["amountCents"], 5000);
    assert!(events[0]["detail"]["processorRef"].as_str().unwrap().starts_with("tp_"));

    // One receipt, to Alex: practice, amount, date, reference, card; nothing about treatment.
    let mail = receipts(&l, 1).await;
    assert_eq!(mail.len(), 1);
    let text = portal_core::mime::text_part(&mail[0]).unwrap();
    assert!(mail[0].contains("To: alex.morgan@example.com"));
    for want in ["Lakeside Family Dental", "$50.00", &date_from_today(0), &id, "Test card ending in 4242"] {
        assert!(text.contains(want), "receipt lacks {want}: {text}");
    }

    // The history lists it.
    let (_, history) = l.get("/v1/payments", Some(&alex)).await;
    assert_eq!(history["items"][0]["id"], id.as_str());

    // The practice's system posts it: the pending line goes, the ledger's payment counts once.
    let line = json!({"lastModified": instant_from_now(0), "patientId": "pat-1001", "date": date_from_today(0), "kind": "payment",
        "amountCents": -5000, "description": "Online payment", "portalPaymentId": id});
    let (s, v) = sync_client(&l).call("PUT", "/v1/sync/ledger/led-online-1", &[], Some(&line)).await;
    assert_eq!(s, 200, "{v}");
    let (_, posted) = l.get("/v1/account/summary", Some(&alex)).await;
    assert_eq!(posted["beingPosted"], json!([]));
    assert_eq!(posted["totalCents"], after["totalCents"]);
    // A ledger line naming something that is not a payment id is refused.
    let bad = json!({"lastModified": instant_from_now(0), "patientId": "pat-1001", "date": date_from_today(0), "kind": "payment",
        "amountCents": -100, "description": "x", "portalPaymentId": "../x"});
    let (s, v) = sync_client(&l).call("PUT", "/v1/sync/ledger/led-online-2", &[], Some(&bad)).await;
    assert_eq!((s, v["code"].as_str()), (400, Some("field_invalid")), "{v}");
}

#[tokio::test]
async fn a_declined_card_records_nothing_and_the_same_start_twice_is_one_payment() {
    let l = start_local().await;
    let alex = token(&l, ALEX).await;
    let (_, before) = l.get("/v1/account/summary", Some(&alex)).await;
    let started = start(&l, &alex, 2500).await;
    let id = started["payment"]["id"].as_str().unwrap();
    decide(&started, "decline").await;
    let (_, declined) = l.get(&format!("/v1/payments/{id}"), Some(&alex)).await;
    assert_eq!(declined["status"], "declined");
    assert_eq!(declined["declineReason"], "The test card was declined.");
    let (_, after) = l.get("/v1/account/summary", Some(&alex)).await;
    assert_eq!(after["totalCents"], before["totalCents"]);
    assert!(received(&outbox_events(&l).await, id).is_empty());

    // A double click, a retry after a lost answer, at once: one payment, one processor payment.
    let body = json!({"amountCents": 1500, "idempotencyKey": key()});
    let answers = futures_util::future::join_all((0..4).map(|_| l.json("POST", "/v1/payments", Some(&alex), body.clone()))).await;
    let ids: std::collections::BTreeSet<_> =
        answers.iter().map(|(s, v)| (*s, v["payment"]["id"].to_string(), v["checkout"]["url"].to_string())).collect();
    assert_eq!(ids.len(), 1, "{answers:?}");
    assert_eq!(ids.iter().next().unwrap().0, 201);
}

#[tokio::test]
async fn amounts_notes_and_keys_outside_the_rules_are_refused() {
    let l = start_local().await;
    let alex = token(&l, ALEX).await;
    for (body, code) in [
        (json!({"amountCents": 0, "idempotencyKey": key()}), "amount_invalid"),
        (json!({"amountCents": -500, "idempotencyKey": key()}), "amount_invalid"),
        (json!({"amountCents": 99, "idempotencyKey": key()}), "amount_invalid"),
        // The demo practice's limit is the default $5,000.
        (json!({"amountCents": 500_001, "idempotencyKey": key()}), "amount_invalid"),
        (json!({"amountCents": 10.5, "idempotencyKey": key()}), "invalid_body"),
        (json!({"amountCents": "50", "idempotencyKey": key()}), "invalid_body"),
        (json!({"amountCents": 5000}), "invalid_body"),
        (json!({"amountCents": 5000, "idempotencyKey": "short"}), "idempotency_key_invalid"),
        (json!({"amountCents": 5000, "idempotencyKey": "has spaces in it"}), "idempotency_key_invalid"),
        (json!({"amountCents": 5000, "idempotencyKey": key(), "note": "x".repeat(201)}), "note_invalid"),
        (json!({"amountCents": 5000, "idempotencyKey": key(), "note": "two\nlines"}), "note_invalid"),
        (json!({"amountCents": 5000, "idempotencyKey": key(), "cardNumber": "4242424242424242"}), "invalid_body"),
    ] {
        let (s, v) = l.json("POST", "/v1/payments", Some(&alex), body.clone()).await;
        assert_eq!((s, v["code"].as_str()), (400, Some(code)), "{body}: {v}");
    }
    // Nothing of that was recorded.
    let (_, history) = l.get("/v1/payments", Some(&alex)).await;
    assert_eq!(history["items"], json!([]));
}

#[tokio::test]
async fn payments_are_the_familys_own_and_a_practice_without_a_processor_takes_none() {
    let l = start_local().await;
    let alex = token(&l, ALEX).await;
    let jamie = token(&l, JAMIE).await;
    let started = start(&l, &alex, 3000).await;
    let id = started["payment"]["id"].as_str().unwrap();
    // Jamie is on Alex's account but does not hold it: Alex's payment does not exist for her.
    let (s, _) = l.get(&format!("/v1/payments/{id}"), Some(&jamie)).await;
    assert_eq!(s, 404);
    let (_, hers) = l.get("/v1/payments", Some(&jamie)).await;
    assert_eq!(hers["items"], json!([]));
    // Her own payment goes toward her lines on Alex's account; Alex, who holds it, sees it.
    let own = start(&l, &jamie, 1200).await;
    assert_eq!(own["payment"]["patientId"], "pat-1003");
    let (_, family) = l.get("/v1/payments", Some(&alex)).await;
    assert_eq!(family["items"].as_array().unwrap().len(), 2);
    // Not a payment id at all, and another practice's patient: 404 / the feature is off.
    let (s, _) = l.get("/v1/payments/..%2F..%2Fsettings", Some(&alex)).await;
    assert_eq!(s, 404);
    let jordan = token(&l, JORDAN).await;
    let (s, v) = l.json("POST", "/v1/payments", Some(&jordan), json!({"amountCents": 1000, "idempotencyKey": key()})).await;
    assert_eq!((s, v["code"].as_str()), (403, Some("feature_disabled")), "{v}");

    // Lakeside turns its processor off: patients are told to call, nothing is recorded.
    let staff = l.staff_token(0).await;
    let (_, setup) = l.get("/v1/admin/payments/setup", Some(&staff)).await;
    let off = json!({"processor": "none", "limitCents": 500_000, "version": setup["version"]});
    let (s, v) = l.json("PUT", "/v1/admin/payments/setup", Some(&staff), off).await;
    assert_eq!(s, 200, "{v}");
    let (s, v) = l.json("POST", "/v1/payments", Some(&alex), json!({"amountCents": 1000, "idempotencyKey": key()})).await;
    assert_eq!((s, v["code"].as_str()), (422, Some("payments_unavailable")), "{v}");
}

#[tokio::test]
async fn the_stripe_setup_is_sealed_write_only_and_checked() {
    let l = start_local().await;
    let staff = l.staff_token(0).await;
    let (s, setup) = l.get("/v1/admin/payments/setup", Some(&staff)).await;
    assert_eq!(s, 200, "{setup}");
    assert_eq!(setup["processor"], "test");
    assert_eq!(setup["processors"], json!(["none", "test", "stripe"]));
    let version = setup["version"].as_u64().unwrap();
    let stripe = |pk: &str, sk: Option<&str>, wh: Option<&str>, v: u64| json!({"processor": "stripe", "publishableKey": pk, "secretKey": sk, "webhookSecret": wh, "limitCents": 250_000, "version": v});
    for body in [
        stripe("pk_test_abcdefgh", None, None, version),
        stripe("nope", Some("sk_test_abcdefgh12345678"), Some("whsec_abcdefgh12345678"), version),
        stripe("pk_test_abcdefgh", Some("pk_test_wrongkind"), Some("whsec_abcdefgh12345678"), version),
        json!({"processor": "test", "limitCents": 50, "version": version}),
    ] {
        let (s, v) = l.json("PUT", "/v1/admin/payments/setup", Some(&staff), body.clone()).await;
        assert_eq!((s, v["code"].as_str()), (400, Some("payment_setup_invalid")), "{body}: {v}");
    }
    let (s, saved) = l
        .json(
            "PUT",
            "/v1/admin/payments/setup",
            Some(&staff),
            stripe("pk_test_abcdefgh", Some("sk_test_secret12345678"), Some("whsec_signing12345678"), version),
        )
        .await;
    assert_eq!(s, 200, "{saved}");
    assert_eq!(
        (saved["secretKeySet"].as_bool(), saved["webhookSecretSet"].as_bool(), saved["limitCents"].as_i64()),
        (Some(true), Some(true), Some(250_000))
    );
    // Write-only: never answered again, and only sealed in the table.
    let (_, read) = l.get("/v1/admin/payments/setup", Some(&staff)).await;
    assert!(!read.to_string().contains("sk_test_secret") && !read.to_string().contains("whsec_signing"));
    let items = l.backends.table.query(Query::new("P#lakeside").limit(1000)).await.unwrap();
    assert!(items.items.iter().all(|i| !i.data.to_string().contains("sk_test_secret12345678")));
    // A save from the old version is a conflict; the front desk cannot save at all.
    let (s, v) = l.json("PUT", "/v1/admin/payments/setup", Some(&staff), stripe("pk_test_abcdefgh", None, None, version)).await;
    assert_eq!((s, v["code"].as_str()), (409, Some("settings_changed")), "{v}");
    // The webhook of a practice on Stripe now exists, and refuses what Stripe did not sign.
    let res = client()
        .post(l.url("/v1/webhooks/stripe/lakeside"))
        .header("stripe-signature", format!("t={},v1={}", now(), "00".repeat(32)))
        .body(r#"{"id":"evt_1","type":"payment_intent.succeeded","data":{"object":{}}}"#);
    let (s, v, _) = send(res).await;
    assert_eq!((s, v["code"].as_str()), (401, Some("webhook_signature_invalid")), "{v}");
    // Hillcrest takes no payments through Stripe: its webhook address does not exist.
    let (s, _, _) = send(client().post(l.url("/v1/webhooks/stripe/hillcrest")).body("{}")).await;
    assert_eq!(s, 404);
}

fn payments<'a>(
    l: &'a Local,
    clock: &'a dyn portal_core::ports::Clock,
    events: &'a dyn portal_core::ports::Events,
    processors: &'a Processors,
) -> Payments<'a> {
    Payments { db: Db { table: l.backends.table.as_ref(), clock }, events, secrets: l.backends.secrets.as_ref(), processors }
}

#[tokio::test]
async fn polls_and_reconcilers_racing_on_one_approved_payment_approve_it_once() {
    let l = start_local().await;
    let alex = token(&l, ALEX).await;
    let started = start(&l, &alex, 4200).await;
    let id = started["payment"]["id"].as_str().unwrap().to_string();
    decide(&started, "approve").await;
    let processors = l.backends.processors();
    let p = payments(&l, l.backends.clock.as_ref(), l.backends.events.as_ref(), &processors);
    let polls = (0..6).map(|_| async { l.get(&format!("/v1/payments/{id}"), Some(&alex)).await.1["status"].clone() });
    let runs = (0..3).map(|_| async { p.reconcile(50).await.unwrap().approved });
    let (statuses, approvals) = tokio::join!(futures_util::future::join_all(polls), futures_util::future::join_all(runs));
    assert!(statuses.iter().all(|s| s == "approved"), "{statuses:?}");
    assert!(approvals.iter().sum::<usize>() <= 1, "{approvals:?}");
    assert_eq!(received(&outbox_events(&l).await, &id).len(), 1);
    assert_eq!(receipts(&l, 1).await.len(), 1);
    // Give a second receipt every chance to appear: none does.
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(receipts(&l, 1).await.len(), 1);
}

#[tokio::test]
async fn eventbridge_down_at_the_approval_delays_the_event_and_the_receipt_never_loses_them() {
    let l = start_local().await;
    let alex = token(&l, ALEX).await;
    let started = start(&l, &alex, 6100).await;
    let id = started["payment"]["id"].as_str().unwrap().to_string();
    decide(&started, "approve").await;
    // The reconciler approves it while the Events port fails: the commit holds the event.
    let clock = ManualClock::new(now());
    let processors = l.backends.processors();
    let done = payments(&l, &clock, &EventsDown, &processors).reconcile(50).await.unwrap();
    assert_eq!(done.approved, 1, "{done:?}");
    assert_eq!(received(&outbox_events(&l).await, &id).len(), 1, "the practice's system sees it at once");
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert!(receipts(&l, 0).await.is_empty(), "no receipt while the event is unpublished");
    // A minute on, the relay publishes it: the receipt goes out.
    clock.advance(61);
    let outbox = portal_core::sync::outbox::Outbox {
        db: Db { table: l.backends.table.as_ref(), clock: &clock },
        events: l.backends.events.as_ref(),
    };
    assert_eq!(outbox.relay(100).await.unwrap(), 1);
    assert_eq!(receipts(&l, 1).await.len(), 1);
}

#[tokio::test]
async fn a_payment_abandoned_for_a_day_is_canceled_and_can_no_longer_be_paid() {
    let l = start_local().await;
    let alex = token(&l, ALEX).await;
    let started = start(&l, &alex, 7000).await;
    let id = started["payment"]["id"].as_str().unwrap().to_string();
    let clock = ManualClock::new(now());
    let processors = l.backends.processors();
    let p = payments(&l, &clock, l.backends.events.as_ref(), &processors);
    // Still waiting after an hour: followed up, left alone.
    clock.advance(3600);
    assert_eq!(p.reconcile(50).await.unwrap().canceled, 0);
    clock.advance(portal_core::payments::ABANDONED_AFTER_SECONDS);
    assert_eq!(p.reconcile(50).await.unwrap().canceled, 1);
    let (_, v) = l.get(&format!("/v1/payments/{id}"), Some(&alex)).await;
    assert_eq!(v["status"], "canceled");
    // The processor's page no longer takes it, and the next run has nothing open.
    decide(&started, "approve").await;
    let (_, v) = l.get(&format!("/v1/payments/{id}"), Some(&alex)).await;
    assert_eq!(v["status"], "canceled");
    assert_eq!(p.reconcile(50).await.unwrap().checked, 0);
}

fn guest(first: &str, last: &str, email: &str, cents: i64) -> Value {
    json!({"practice": "lakeside", "firstName": first, "lastName": last, "birthdate": "1984-03-09", "email": email,
        "amountCents": cents, "idempotencyKey": format!("{}{}", portal_core::ids::new_id(), portal_core::ids::new_id())})
}

/// The shape of an answer with its values blanked: what a guest could compare.
fn shape(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(m.iter().map(|(k, v)| (k.clone(), shape(v))).collect()),
        Value::Array(a) => Value::Array(a.iter().map(shape).collect()),
        Value::Null => Value::Null,
        _ => json!("…"),
    }
}

#[tokio::test]
async fn a_guest_pays_without_logging_in_and_is_never_told_whether_the_details_matched() {
    let l = start_local().await;
    // Alex's own details, and a name no patient has: the same answer.
    let (matched, unmatched) =
        (guest("Alex", "Morgan", "alex.morgan@example.com", 2000), guest("Alexa", "Morgen", "payer@example.com", 3000));
    let (s1, a) = l.json("POST", "/v1/public/payments", None, matched.clone()).await;
    let (s2, b) = l.json("POST", "/v1/public/payments", None, unmatched.clone()).await;
    assert_eq!((s1, s2), (201, 201), "{a} {b}");
    assert_eq!(shape(&a), shape(&b));
    assert_eq!((&a["payment"]["patientId"], &b["payment"]["patientId"]), (&Value::Null, &Value::Null));
    // The same start again is the same payment.
    let (_, again) = l.json("POST", "/v1/public/payments", None, matched.clone()).await;
    assert_eq!(again["payment"]["id"], a["payment"]["id"]);
    for started in [&a, &b] {
        decide(started, "approve").await;
    }
    // The guest's page follows its payment with its key; another key is no payment.
    let l = &l;
    let status = |v: &Value, key: &Value| {
        let path = format!("/v1/public/payments/{}/status", v["payment"]["id"].as_str().unwrap());
        let body = json!({"practice": "lakeside", "idempotencyKey": key});
        async move { l.json("POST", &path, None, body).await }
    };
    let (s, paid) = status(&a, &matched["idempotencyKey"]).await;
    assert_eq!((s, paid["status"].as_str(), &paid["patientId"]), (200, Some("approved"), &Value::Null), "{paid}");
    let (s, _) = status(&a, &unmatched["idempotencyKey"]).await;
    assert_eq!(s, 404);
    assert_eq!(status(&b, &unmatched["idempotencyKey"]).await.1["status"], "approved");

    // The matched one is on Alex's account; the other waits for staff, with what the guest said.
    let alex = token(l, ALEX).await;
    let (_, history) = l.get("/v1/payments", Some(&alex)).await;
    assert!(history["items"].as_array().unwrap().iter().any(|p| p["id"] == a["payment"]["id"]));
    let staff = l.staff_token(0).await;
    let (s, waiting) = l.get("/v1/admin/payments?status=unmatched", Some(&staff)).await;
    assert_eq!(s, 200, "{waiting}");
    let items = waiting["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{waiting}");
    assert_eq!(items[0]["id"], b["payment"]["id"]);
    assert_eq!(items[0]["guest"]["lastName"], "Morgen");
    assert_eq!(items[0]["payer"], "guest");
    let (_, all) = l.get("/v1/admin/payments?status=approved", Some(&staff)).await;
    let alexs = all["items"].as_array().unwrap().iter().find(|p| p["id"] == a["payment"]["id"]).unwrap().clone();
    assert_eq!(alexs["patientName"], "Alex Morgan");
    // Receipts go to the addresses the guests gave.
    let mails = receipts(l, 2).await;
    assert!(mails.iter().any(|m| m.contains("To: payer@example.com")));

    // Staff assign the unmatched payment to Sam: the practice's system hears whose it is.
    let id = b["payment"]["id"].as_str().unwrap();
    let (s, assigned) = l.json("POST", &format!("/v1/admin/payments/{id}/assign"), Some(&staff), json!({"patientId": "pat-1002"})).await;
    assert_eq!(s, 200, "{assigned}");
    assert_eq!(assigned["patientName"], "Sam Rivera");
    let (s, v) = l.json("POST", &format!("/v1/admin/payments/{id}/assign"), Some(&staff), json!({"patientId": "pat-1001"})).await;
    assert_eq!((s, v["code"].as_str()), (409, Some("payment_assigned")));
    let events = outbox_events(l).await;
    assert_eq!(
        events
            .iter()
            .filter(|e| e["type"] == "payment.assigned" && e["detail"]["paymentId"] == id && e["detail"]["patientId"] == "pat-1002")
            .count(),
        1
    );
    let (_, waiting) = l.get("/v1/admin/payments?status=unmatched", Some(&staff)).await;
    assert_eq!(waiting["items"], json!([]));

    // Bad details are refused, and an address that starts too many is told to wait.
    for (body, code) in [
        (
            json!({"practice": "lakeside", "firstName": "", "lastName": "X", "birthdate": "1984-03-09", "amountCents": 100, "idempotencyKey": "x".repeat(40)}),
            "field_invalid",
        ),
        (
            json!({"practice": "lakeside", "firstName": "A", "lastName": "X", "birthdate": "2999-01-01", "amountCents": 100, "idempotencyKey": "x".repeat(40)}),
            "field_invalid",
        ),
        (
            json!({"practice": "lakeside", "firstName": "A", "lastName": "X", "birthdate": "1984-03-09", "amountCents": 100, "idempotencyKey": "short-key-123"}),
            "idempotency_key_invalid",
        ),
        (
            json!({"practice": "lakeside", "firstName": "A", "lastName": "X", "birthdate": "1984-03-09", "amountCents": 50, "idempotencyKey": "x".repeat(40)}),
            "amount_invalid",
        ),
        (
            json!({"practice": "lakeside", "firstName": "A", "lastName": "X", "birthdate": "1984-03-09", "email": "not mail", "amountCents": 500, "idempotencyKey": "x".repeat(40)}),
            "email_invalid",
        ),
    ] {
        let (s, v) = l.json("POST", "/v1/public/payments", None, body).await;
        assert_eq!((s, v["code"].as_str()), (400, Some(code)), "{v}");
    }
    let mut last = 0;
    for _ in 0..portal_core::payments::guest::STARTS_PER_ADDRESS.limit {
        last = l.json("POST", "/v1/public/payments", None, guest("Pat", "Doe", "p@example.com", 100)).await.0;
    }
    assert_eq!(last, 429, "the quota counted the two starts above too");
    let (s, v) = l.json("POST", "/v1/public/payments", None, guest("Pat", "Doe", "p@example.com", 100)).await;
    assert_eq!((s, v["code"].as_str()), (429, Some("payment_limit")));
}

#[tokio::test]
async fn admins_refund_in_part_and_in_full_each_refund_once() {
    let l = start_local().await;
    let alex = token(&l, ALEX).await;
    let started = start(&l, &alex, 5000).await;
    let id = started["payment"]["id"].as_str().unwrap().to_string();
    decide(&started, "approve").await;
    l.get(&format!("/v1/payments/{id}"), Some(&alex)).await;
    let admin = l.staff_token(0).await;
    let desk = l.staff_token_as(0, portal_core::identity::session::StaffRole::FrontDesk).await;
    let refund = |who: &str, cents: i64, key: &str| {
        let (path, body, who) =
            (format!("/v1/admin/payments/{id}/refund"), json!({"amountCents": cents, "idempotencyKey": key}), who.to_string());
        let l = &l;
        async move { l.json("POST", &path, Some(&who), body).await }
    };
    // The front desk sees payments but does not refund them.
    let (s, one) = l.get(&format!("/v1/admin/payments/{id}"), Some(&desk)).await;
    assert_eq!((s, one["patientName"].as_str()), (200, Some("Alex Morgan")), "{one}");
    assert_eq!(refund(&desk, 1000, "refund-part-1").await.0, 403);
    // $10 back, sent twice: refunded once.
    let (s, first) = refund(&admin, 1000, "refund-part-1").await;
    assert_eq!(s, 200, "{first}");
    let (_, again) = refund(&admin, 1000, "refund-part-1").await;
    assert_eq!((first["refundedCents"].as_i64(), again["refundedCents"].as_i64()), (Some(1000), Some(1000)));
    assert_eq!(again["refunds"].as_array().unwrap().len(), 1);
    assert_eq!(again["status"], "approved");
    // More than is left, and nothing: refused.
    assert_eq!(refund(&admin, 4001, "refund-too-much").await.1["code"], "refund_invalid");
    assert_eq!(refund(&admin, 0, "refund-nothing").await.1["code"], "refund_invalid");
    // The rest: refunded in full; nothing more can be.
    let (_, full) = refund(&admin, 4000, "refund-rest-1").await;
    assert_eq!((full["status"].as_str(), full["refundedCents"].as_i64()), (Some("refunded"), Some(5000)));
    assert_eq!(refund(&admin, 1, "refund-after-1").await.1["code"], "payment_not_refundable");
    let events = outbox_events(&l).await;
    let refunded: Vec<_> = events.iter().filter(|e| e["type"] == "payment.refunded" && e["detail"]["paymentId"] == id.as_str()).collect();
    assert_eq!(refunded.iter().map(|e| e["detail"]["amountCents"].as_i64().unwrap()).collect::<Vec<_>>(), [1000, 4000]);
    // A refunded payment is not "being posted" any more.
    let (_, sum) = l.get("/v1/account/summary", Some(&alex)).await;
    assert_eq!(sum["beingPosted"], json!([]));
    // The saved keys work (the test processor's always do).
    let (s, v) = l.json("POST", "/v1/admin/payments/setup/test", Some(&admin), json!(null)).await;
    assert_eq!((s, v["ok"].as_bool()), (200, Some(true)), "{v}");
}
