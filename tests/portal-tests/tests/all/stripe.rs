//! Payments through Stripe, against localstripe (a stateful fake Stripe speaking its REST API and
//! sending signed webhooks, the way moto stands in for AWS; `tests/run` starts it with Stripe's
//! idempotency added: `tests/localstripe_server.py`). The test plays the browser's part with the
//! card: Stripe.js turns the card into a single-use token at Stripe, and only that token reaches
//! the portal. Ignored by a plain `cargo test` (they need localstripe), run by `tests/run`.

use crate::support::{client, now, send, start_local_with_stripe, stripe_endpoint, Local};
use crate::sync::SyncClient;
use hmac::{Hmac, Mac};
use portal_core::ports::{ChargeRequest, ChargeStatus, Db, PaymentProcessor, ProcessorAccount};
use portal_stripe::StripeProcessor;
use serde_json::{json, Value};

const CARD: &str = "4242424242424242";
const CVC: &str = "987";
const DECLINED_WHEN_ENTERED: &str = "4000000000000002";
const DECLINED_WHEN_CHARGED: &str = "4000000000000341";

/// A practice's own Stripe keys (localstripe takes any `sk_`/`pk_` key; each test its own).
struct Keys {
    publishable: String,
    secret: String,
    webhook: String,
}

fn keys() -> Keys {
    let id = &portal_core::ids::new_id()[..16];
    Keys { publishable: format!("pk_test_{id}"), secret: format!("sk_test_{id}"), webhook: format!("whsec_{id}") }
}

/// Lakeside switched to Stripe through the staff API, and localstripe told to deliver its
/// events to Lakeside's webhook address, signed with the endpoint's secret.
async fn lakeside_on_stripe(l: &Local) -> Keys {
    let k = keys();
    let staff = l.staff_token(0).await;
    let (_, setup) = l.get("/v1/admin/payments/setup", Some(&staff)).await;
    let body = json!({"processor": "stripe", "publishableKey": k.publishable, "secretKey": k.secret, "webhookSecret": k.webhook,
        "limitCents": 500_000, "version": setup["version"]});
    let (s, v) = l.json("PUT", "/v1/admin/payments/setup", Some(&staff), body).await;
    assert_eq!(s, 200, "{v}");
    let form = [("url", l.url("/v1/webhooks/stripe/lakeside")), ("secret", k.webhook.clone())];
    let res = client()
        .post(format!("{}/_config/webhooks/{}", stripe_endpoint(), &k.secret))
        .header("content-type", FORM)
        .body(encode(&form))
        .send()
        .await
        .unwrap();
    assert!(res.status().is_success());
    k
}

/// What Stripe.js does with the card the patient typed: a single-use token, made at Stripe with
/// the publishable key.
async fn token(k: &Keys, number: &str) -> String {
    let form =
        [("card[number]", number), ("card[exp_month]", "12"), ("card[exp_year]", "2031"), ("card[cvc]", CVC), ("key", &k.publishable)];
    let (s, v, _) = send(client().post(format!("{}/v1/tokens", stripe_endpoint())).header("content-type", FORM).body(encode(&form))).await;
    assert_eq!(s, 200, "{v}");
    v["id"].as_str().unwrap().to_string()
}

const FORM: &str = "application/x-www-form-urlencoded";

fn encode<K: AsRef<str>, V: AsRef<str>>(pairs: &[(K, V)]) -> String {
    url::form_urlencoded::Serializer::new(String::new()).extend_pairs(pairs.iter().map(|(k, v)| (k.as_ref(), v.as_ref()))).finish()
}

fn sign(secret: &str, t: i64, body: &str) -> String {
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("{t}.{body}").as_bytes());
    format!("t={t},v1={}", hex::encode(mac.finalize().into_bytes()))
}

async fn deliver(l: &Local, signature: &str, body: &str) -> (u16, Value) {
    let req = client()
        .post(l.url("/v1/webhooks/stripe/lakeside"))
        .header("stripe-signature", signature)
        .header("content-type", "application/json");
    let (s, v, _) = send(req.body(body.to_string())).await;
    (s, v)
}

async fn received(l: &Local, payment: &str) -> usize {
    tokio::time::sleep(std::time::Duration::from_micros(portal_core::sync::outbox::SETTLE_MICROS as u64 + 100_000)).await;
    let s = &l.logins.practices[0].sync;
    let c = SyncClient { local: l, key_id: s.key_id.clone(), secret: s.secret.clone() };
    let (_, v) = c.call("GET", "/v1/sync/events", &[("limit", "500")], None).await;
    v["events"].as_array().unwrap().iter().filter(|e| e["type"] == "payment.received" && e["detail"]["paymentId"] == payment).count()
}

/// The receipts the local host has mailed so far.
fn receipts(l: &Local) -> usize {
    let mails = l.backends.mailer.list().unwrap();
    mails.iter().filter(|(_, m)| portal_core::mime::subject(m).is_some_and(|s| s.starts_with("Payment receipt"))).count()
}

/// The payment use cases over the local host's own backends (what its reconciler runs).
fn payments<'a>(l: &'a Local, processors: &'a portal_core::ports::Processors) -> portal_core::payments::Payments<'a> {
    portal_core::payments::Payments {
        db: Db { table: l.backends.table.as_ref(), clock: l.backends.clock.as_ref() },
        events: l.backends.events.as_ref(),
        secrets: l.backends.secrets.as_ref(),
        processors,
    }
}

async fn start(l: &Local, patient: &str, cents: i64) -> Value {
    let (s, v) = l
        .json(
            "POST",
            "/v1/payments",
            Some(patient),
            json!({"amountCents": cents, "idempotencyKey": format!("k-{}", portal_core::ids::new_id())}),
        )
        .await;
    assert_eq!(s, 201, "{v}");
    v
}

#[tokio::test]
#[ignore = "needs localstripe: tests/run runs these (PORTAL_TEST_STRIPE=http://HOST:PORT cargo test -- --ignored)"]
async fn the_same_idempotency_key_makes_one_payment_intent_and_one_refund() {
    let stripe = StripeProcessor::new(&stripe_endpoint(), "unused");
    let k = keys();
    let account = ProcessorAccount { secret_key: k.secret.clone(), webhook_secret: k.webhook.clone() };
    let request = |key: &'static str| ChargeRequest {
        reference: "0069a1b2c3d4e5f60718293a4b",
        amount_cents: 5000,
        idempotency_key: key,
        description: "Payment to Lakeside",
    };
    let first = stripe.create(&account, &request("key-one")).await.unwrap();
    let again = stripe.create(&account, &request("key-one")).await.unwrap();
    let other = stripe.create(&account, &request("key-two")).await.unwrap();
    assert_eq!(first.processor_ref, again.processor_ref);
    assert_ne!(first.processor_ref, other.processor_ref);
    assert_eq!(
        (first.status.clone(), first.amount_cents, first.reference.as_deref()),
        (ChargeStatus::Pending, 5000, Some("0069a1b2c3d4e5f60718293a4b"))
    );
    assert!(first.checkout.as_deref().is_some_and(|s| s.starts_with(&first.processor_ref)), "the client secret");

    // Paid with a token, then refunded in part, once per key.
    let paid = stripe.pay(&account, &first.processor_ref, &token(&k, CARD).await).await.unwrap();
    assert_eq!(paid.status, ChargeStatus::Approved);
    assert_eq!(paid.card.as_ref().map(|c| c.last4.as_str()), Some("4242"));
    let refund = stripe.refund(&account, &first.processor_ref, 1000, "refund-1").await.unwrap();
    assert_eq!(stripe.refund(&account, &first.processor_ref, 1000, "refund-1").await.unwrap(), refund);
    // A wrong secret key is refused, not mistaken for a decline.
    let wrong = ProcessorAccount { secret_key: "nope".into(), webhook_secret: String::new() };
    assert!(stripe.read(&wrong, &first.processor_ref).await.is_err());
}

#[tokio::test]
#[ignore = "needs localstripe: tests/run runs these (PORTAL_TEST_STRIPE=http://HOST:PORT cargo test -- --ignored)"]
async fn a_card_paid_through_stripe_is_approved_once_declines_record_nothing_and_no_card_data_is_stored() {
    let l = start_local_with_stripe().await;
    let k = lakeside_on_stripe(&l).await;
    let alex = l.patient_token(0, 0).await;
    let started = start(&l, &alex, 5000).await;
    let id = started["payment"]["id"].as_str().unwrap().to_string();
    let checkout = &started["checkout"];
    assert_eq!(checkout["processor"], "stripe");
    assert_eq!(checkout["publishableKey"], k.publishable.as_str());
    assert!(checkout["clientSecret"].as_str().unwrap().starts_with("pi_"));
    assert_eq!(checkout["scriptUrl"], format!("{}/js.stripe.com/v3/", stripe_endpoint()));

    // The token, never the card, goes to the portal; Stripe approves at once.
    let (s, paid) = l.json("POST", &format!("/v1/payments/{id}/card"), Some(&alex), json!({"token": token(&k, CARD).await})).await;
    assert_eq!(s, 200, "{paid}");
    assert_eq!(paid["payment"]["status"], "approved");
    assert_eq!(paid["payment"]["card"]["last4"], "4242");
    assert_eq!(paid["action"], Value::Null);

    // Stripe's own webhook (a second after), the page's poll and the reconciler, all at once.
    let processors = l.backends.processors();
    let p = payments(&l, &processors);
    let path = format!("/v1/payments/{id}");
    let polls = futures_util::future::join_all((0..4).map(|_| l.get(&path, Some(&alex))));
    let runs = futures_util::future::join_all((0..2).map(|_| p.reconcile(50)));
    let (polls, runs) = tokio::join!(polls, runs);
    assert!(polls.iter().all(|(s, v)| *s == 200 && v["status"] == "approved"));
    assert!(runs.iter().all(|r| r.as_ref().unwrap().approved == 0), "the card step approved it already");
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    assert_eq!(received(&l, &id).await, 1);
    assert_eq!(receipts(&l), 1);

    // Cards refused when entered and when charged: a clear reason, nothing recorded. A card
    // refused when entered leaves the payment to another card (localstripe cannot charge an
    // intent again after a failed charge, which Stripe can, so that case is not retried here).
    let declined = |number: &'static str| {
        let (l, alex, k) = (&l, &alex, &k);
        async move {
            let started = start(l, alex, 2500).await;
            let id = started["payment"]["id"].as_str().unwrap().to_string();
            let (s, v) = l.json("POST", &format!("/v1/payments/{id}/card"), Some(alex), json!({"token": token(k, number).await})).await;
            assert_eq!(s, 200, "{v}");
            assert_eq!(v["payment"]["status"], "declined", "{number}: {v}");
            assert_eq!(v["payment"]["declineReason"], "Your card was declined.");
            assert_eq!(received(l, &id).await, 0);
            id
        }
    };
    declined(DECLINED_WHEN_CHARGED).await;
    let second_id = declined(DECLINED_WHEN_ENTERED).await;
    let (_, v) = l.json("POST", &format!("/v1/payments/{second_id}/card"), Some(&alex), json!({"token": token(&k, CARD).await})).await;
    assert_eq!(v["payment"]["status"], "approved", "{v}");
    // Not a token: refused before Stripe is asked.
    let (s, v) = l.json("POST", &format!("/v1/payments/{second_id}/card"), Some(&alex), json!({"token": "4242 4242"})).await;
    assert_eq!((s, v["code"].as_str()), (400, Some("card_token_invalid")));

    // After all that: no card number, CVC or secret key in any table item, mail or event.
    let mut stored = Vec::new();
    for f in std::fs::read_dir(l.data_dir.path()).unwrap().flatten() {
        if f.path().is_file() {
            stored.extend(std::fs::read(f.path()).unwrap());
        }
    }
    for (_, mail) in l.backends.mailer.list().unwrap() {
        stored.extend(mail.into_bytes());
    }
    let stored = String::from_utf8_lossy(&stored);
    for secret in [CARD, DECLINED_WHEN_CHARGED, &k.secret, &k.webhook, &format!("\"cvc\":\"{CVC}\"")] {
        assert!(!stored.contains(secret), "{secret} is stored");
    }
}

#[tokio::test]
#[ignore = "needs localstripe: tests/run runs these (PORTAL_TEST_STRIPE=http://HOST:PORT cargo test -- --ignored)"]
async fn webhooks_are_refused_unless_signed_lately_and_webhook_poll_and_reconciler_racing_approve_once() {
    let l = start_local_with_stripe().await;
    let k = lakeside_on_stripe(&l).await;
    let alex = l.patient_token(0, 0).await;
    let started = start(&l, &alex, 3000).await;
    let id = started["payment"]["id"].as_str().unwrap().to_string();
    let intent = started["checkout"]["clientSecret"].as_str().unwrap().split("_secret_").next().unwrap().to_string();
    // The payment is approved at Stripe behind the portal's back (as if its answer had been lost).
    let stripe = StripeProcessor::new(&stripe_endpoint(), "unused");
    let account = ProcessorAccount { secret_key: k.secret.clone(), webhook_secret: k.webhook.clone() };
    stripe.pay(&account, &intent, &token(&k, CARD).await).await.unwrap();
    let event = json!({"id": format!("evt_{}", &portal_core::ids::new_id()[..20]), "object": "event", "type": "payment_intent.succeeded",
        "data": {"object": {"object": "payment_intent", "id": intent, "status": "succeeded", "amount": 3000, "metadata": {"payment_id": id}}}})
    .to_string();

    // A forged signature, another endpoint's secret, and a replay older than five minutes.
    for signature in
        [format!("t={},v1={}", now(), "ab".repeat(32)), sign("whsec_someone_else", now(), &event), sign(&k.webhook, now() - 400, &event)]
    {
        let (s, v) = deliver(&l, &signature, &event).await;
        assert_eq!((s, v["code"].as_str()), (401, Some("webhook_signature_invalid")), "{v}");
    }
    let (_, v) = l.get(&format!("/v1/payments/{id}"), None).await;
    assert_eq!(v["code"], "session_required");
    assert_eq!(received(&l, &id).await, 0, "nothing recorded from a refused delivery");
    // Stripe's delivery twice, the page's polls and the reconciler, all at once: one approval,
    // one event, one receipt.
    let processors = l.backends.processors();
    let p = payments(&l, &processors);
    let signature = sign(&k.webhook, now(), &event);
    let path = format!("/v1/payments/{id}");
    let deliveries = futures_util::future::join_all((0..2).map(|_| deliver(&l, &signature, &event)));
    let polls = futures_util::future::join_all((0..3).map(|_| l.get(&path, Some(&alex))));
    let runs = futures_util::future::join_all((0..2).map(|_| p.reconcile(500)));
    let (deliveries, polls, runs) = tokio::join!(deliveries, polls, runs);
    assert!(deliveries.iter().all(|(s, _)| *s == 200), "{deliveries:?}");
    assert!(polls.iter().all(|(s, v)| *s == 200 && v["status"] == "approved"), "{polls:?}");
    assert!(runs.iter().all(Result::is_ok));
    assert_eq!(received(&l, &id).await, 1);
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert_eq!(receipts(&l), 1);
    // Delivered once more later: answered, not handled again.
    let (s, _) = deliver(&l, &sign(&k.webhook, now(), &event), &event).await;
    assert_eq!(s, 200);
    assert_eq!(received(&l, &id).await, 1);
    let (_, v) = l.get(&format!("/v1/payments/{id}"), Some(&alex)).await;
    assert_eq!(v["status"], "approved");
    assert_eq!(v["card"]["last4"], "4242", "the webhook's payment is read back from Stripe with its card");
}
