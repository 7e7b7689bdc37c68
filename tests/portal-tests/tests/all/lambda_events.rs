//! The sample events in `events/` go through `lambda_http::request::from_str` (what the Lambda
//! runtime does with an API Gateway event) into the real handlers; the authorizer sample goes
//! through the authorizer's Lambda handler. Every served route has a sample.

use crate::support::pid;
use portal_core::ids::Username;
use portal_core::ports::{Db, Ports, SystemClock, Table};
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::Arc;
use tower::ServiceExt;

fn events_dir() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../events"))
}

/// What each sample must produce from a freshly seeded demo (the samples carry wrong passwords on
/// purpose: the answer then proves the real login code ran).
const EXPECTED: &[(&str, u16)] = &[
    ("auth/health.json", 200),
    ("auth/login.json", 401),
    ("auth/staff-login.json", 401),
    ("auth/logout.json", 200),
    ("auth/password.json", 400),
    ("auth/me.json", 200),
    ("auth/profile.json", 200),
    ("auth/profile-change.json", 200),
    ("auth/forgot.json", 202),
    ("auth/mfa-status.json", 200),
    ("auth/mfa-enrol.json", 200),
    // No app was being enrolled in this fresh state.
    ("auth/mfa-confirm.json", 400),
    ("auth/mfa-remove.json", 400),
    ("auth/reset.json", 400),
    ("auth/session.json", 200),
    ("auth/practice.json", 200),
    ("people/search.json", 200),
    ("people/grant.json", 201),
    ("people/reset.json", 200),
    ("people/remove.json", 204),
    ("people/printed.json", 204),
    ("people/staff-list.json", 200),
    ("people/staff-create.json", 201),
    // The demo's only admin: disabling them would leave the practice without one.
    ("people/staff-update.json", 409),
    ("people/staff-totp.json", 200),
    // No authenticator was being set up in this fresh state.
    ("people/staff-totp-confirm.json", 400),
    ("people/invite-rules.json", 200),
    ("people/invite-rules-put.json", 200),
    ("people/invite-log.json", 200),
    ("people/invite-preview.json", 200),
    ("people/invite-test.json", 200),
    ("admin/settings-get.json", 200),
    ("admin/settings-features.json", 200),
    ("admin/settings-urls.json", 200),
    ("admin/settings-urls-verify.json", 200),
    ("admin/settings-webmail.json", 200),
    ("admin/settings-family-access.json", 200),
    ("admin/settings-contact.json", 200),
    ("admin/audit.json", 200),
    ("admin/audit-verify.json", 200),
    ("admin/sync-keys-list.json", 200),
    ("admin/sync-keys-create.json", 201),
    ("admin/sync-keys-revoke.json", 404),
    ("admin/direct-recipients-list.json", 200),
    ("admin/direct-recipients-add.json", 201),
    // Nothing registered in this fresh state.
    ("admin/direct-recipients-remove.json", 404),
    ("sync/upsert-patient.json", 200),
    ("sync/get-entity.json", 404),
    ("sync/delete-entity.json", 200),
    ("sync/batch.json", 200),
    ("sync/events.json", 200),
    ("sync/events-ack.json", 200),
    ("sync/uploaded.json", 404),
    ("account/summary.json", 200),
    ("account/ledger.json", 200),
    ("account/statements.json", 200),
    ("account/statement-file.json", 200),
    ("treatment-plans/list.json", 200),
    ("images/list.json", 200),
    ("images/file.json", 200),
    ("appointments/list.json", 200),
    ("appointments/confirm.json", 200),
    ("appointments/change-request.json", 200),
    ("appointments/recalls.json", 200),
    // Alex's recall is scheduled already: the real booking rule answers.
    ("appointments/book.json", 409),
    ("webmail/providers.json", 200),
    ("webmail/list.json", 200),
    ("webmail/compose.json", 201),
    ("webmail/mark.json", 404),
    ("webmail/thread.json", 404),
    ("webmail/reply.json", 404),
    ("webmail/office-providers.json", 200),
    ("webmail/office-list.json", 200),
    ("webmail/office-compose.json", 201),
    ("webmail/office-mark.json", 404),
    ("webmail/office-thread.json", 404),
    ("webmail/office-reply.json", 404),
    ("webmail/attach.json", 201),
    ("webmail/attachment.json", 404),
    ("webmail/office-attach.json", 201),
    ("webmail/office-attachment.json", 404),
    ("care-summary/view.json", 200),
    ("care-summary/download.json", 200),
    ("care-summary/transmit.json", 202),
    ("care-summary/activity.json", 200),
    ("code-systems/systems.json", 200),
    ("code-systems/releases.json", 200),
    ("code-systems/import-start.json", 202),
    ("code-systems/import-status.json", 404),
    ("code-systems/import-cancel.json", 404),
    ("payments/start.json", 201),
    ("payments/history.json", 200),
    // No such payment in this fresh state.
    ("payments/payment.json", 404),
    ("payments/card.json", 404),
    // The demo practice takes payments through the test processor, not Stripe: no such webhook.
    ("payments/stripe-webhook.json", 404),
    ("payments/setup-get.json", 200),
    ("payments/setup-put.json", 200),
    // A guest payment: the demo's test processor takes it; the status and card steps of a
    // payment that does not exist are 404 like any other.
    ("payments/guest-start.json", 201),
    ("payments/guest-status.json", 404),
    ("payments/guest-card.json", 404),
    ("payments/office-list.json", 200),
    ("payments/office-payment.json", 404),
    ("payments/refund.json", 404),
    ("payments/assign.json", 404),
    ("payments/setup-test.json", 200),
];

async fn seeded() -> (Arc<dyn Table>, tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    let backends = portal_local::Backends::open(dir.path(), "http://127.0.0.1:9").unwrap();
    let logins = portal_local::ensure_demo(&backends, dir.path(), "http://127.0.0.1:9").await.unwrap();
    let table: Arc<dyn Table> = backends.table.clone();
    let creds = portal_core::identity::credentials::Credentials { db: Db { table: table.as_ref(), clock: &SystemClock } };
    let (staff, _) = creds
        .get(
            &pid("lakeside"),
            portal_core::identity::session::PrincipalKind::Staff,
            &Username::parse(&logins.practices[0].staff.username).unwrap(),
        )
        .await
        .unwrap()
        .unwrap();
    (table, dir, staff.principal_id)
}

/// The route template a concrete path belongs to (`/v1/sync/patients/1` → `/v1/sync/{entity}/{id}`).
fn route_of(path: &str) -> String {
    let segs: Vec<&str> = path.split('/').collect();
    let fits = |template: &str| {
        let t: Vec<&str> = template.split('/').collect();
        t.len() == segs.len() && t.iter().zip(&segs).all(|(a, b)| a == b || a.starts_with('{'))
    };
    let routes: Vec<_> = portal_local::all_routes().into_iter().map(|(_, r)| r).collect();
    // A literal route wins over a templated one (`/v1/sync/events/ack` is not `{entity}/{id}`).
    let exact = routes.iter().find(|r| r.path == path);
    exact.or_else(|| routes.iter().find(|r| fits(r.path))).map(|r| r.path.to_string()).unwrap_or_else(|| path.to_string())
}

#[tokio::test]
async fn every_sample_event_reaches_its_real_handler() {
    // As in infra/template.yaml: the stage is not part of the routes.
    std::env::set_var("AWS_LAMBDA_HTTP_IGNORE_STAGE_IN_PATH", "true");
    let mut covered = BTreeSet::new();
    for (file, want) in EXPECTED {
        let (table, dir, staff_id) = seeded().await;
        // Each function as its own Lambda would run it, built from the module registry, with
        // cloud rules (not local mode).
        let blobs: Arc<portal_embedded::DirBlobs> =
            // The seed's blob folder: it holds the demo's code-system releases.
            Arc::new(portal_embedded::DirBlobs::new(&dir.path().join("blobs"), "http://127.0.0.1:9", b"k").unwrap());
        let ports = Ports {
            table: table.clone(),
            clock: Arc::new(SystemClock),
            workflows: Arc::new(portal_embedded::InProcessWorkflows::new(table.clone(), blobs.clone(), Arc::new(SystemClock))),
            blobs,
            mailer: Arc::new(portal_embedded::OutboxMailer::new(&dir.path().join("outbox")).unwrap()),
            events: Arc::new(portal_embedded::InProcessEvents::new(&dir.path().join("e.log")).unwrap()),
            secrets: Arc::new(portal_embedded::LocalSecretBox::new(&[1; 32])),
            processors: portal_core::ports::Processors {
                test: Some(Arc::new(portal_embedded::TestProcessor::new(table.clone(), "http://127.0.0.1:9"))),
                stripe: None,
            },
            local_mode: false,
            site_url: "https://portal.example.com".into(),
        };
        let function = file.split('/').next().unwrap();
        let module = portal_local::MODULES.iter().find(|m| m.name == function).unwrap_or_else(|| panic!("no function {function}"));
        let router = portal_local::modules::lambda_router(module, &ports);
        let mut event: Value = serde_json::from_str(&std::fs::read_to_string(events_dir().join(file)).unwrap()).unwrap();
        if event["requestContext"]["authorizer"]["kind"] == "staff" {
            event["requestContext"]["authorizer"]["principalId"] = json!(staff_id);
        }
        let req = lambda_http::request::from_str(&event.to_string()).unwrap_or_else(|e| panic!("{file}: {e}"));
        covered.insert(format!("{} {}", req.method(), route_of(req.uri().path())));
        let (parts, body) = req.into_parts();
        let req = http::Request::from_parts(parts, axum::body::Body::from(body.to_vec()));
        let res = router.oneshot(req).await.unwrap();
        let status = res.status().as_u16();
        let bytes = axum::body::to_bytes(res.into_body(), 1 << 20).await.unwrap();
        assert_eq!(status, *want, "{file}: {}", String::from_utf8_lossy(&bytes));
        if status == 204 {
            assert!(bytes.is_empty(), "{file}: 204 with a body");
            continue;
        }
        let body: Value = serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("{file}: {e}"));
        if status >= 400 {
            let code = body["code"].as_str().unwrap_or_else(|| panic!("{file}: problem body expected"));
            // The handler's own answer: a 404 or 405 from the router would mean the event never
            // reached the code it samples.
            assert!(!["route_not_found", "method_not_allowed"].contains(&code), "{file}: the handler never ran: {body}");
        }
    }
    let served: BTreeSet<String> = portal_local::all_routes().iter().map(|(_, r)| format!("{} {}", r.method, r.path)).collect();
    let missing: Vec<_> = served.difference(&covered).collect();
    assert!(missing.is_empty(), "routes without a sample event in events/: {missing:?}");
}

#[tokio::test]
async fn authorizer_sample_event_through_the_lambda_handler() {
    let (table, _dir, _) = seeded().await;
    let clock = Arc::new(SystemClock);
    let deps = portal_authorizer::Deps {
        table: table.clone(),
        clock: clock.clone(),
        cache: portal_core::practice::settings::SettingsCache::new(30),
        secrets: Arc::new(portal_embedded::LocalSecretBox::new(&[1; 32])),
        secret_cache: Default::default(),
    };
    let raw = std::fs::read_to_string(events_dir().join("authorizer/request.json")).unwrap();
    let event = |cookie_token: &str, method: &str, path: &str| {
        let mut v: Value = serde_json::from_str(&raw).unwrap();
        let cookie = format!("__Host-portal-session={cookie_token}");
        v["headers"]["Cookie"] = json!(cookie);
        v["multiValueHeaders"]["Cookie"] = json!([cookie]);
        v["httpMethod"] = json!(method);
        v["path"] = json!(path);
        serde_json::from_value(v).unwrap()
    };
    // The sample's token is no live session: API Gateway must answer 401.
    let sample = serde_json::from_str(&raw).unwrap();
    let err = portal_authorizer::handle(&deps, sample).await.unwrap_err();
    assert_eq!(err.to_string(), "Unauthorized");

    let sessions = portal_core::identity::session::Sessions { db: Db { table: table.as_ref(), clock: clock.as_ref() } };
    let (token, _) = sessions
        .start(
            &pid("lakeside"),
            "pat-1001",
            portal_core::identity::session::PrincipalKind::Patient,
            None,
            &Username::parse("alex.morgan").unwrap(),
            false,
        )
        .await
        .unwrap();
    let allow = portal_authorizer::handle(&deps, event(&token, "GET", "/v1/me")).await.unwrap();
    assert_eq!(allow["policyDocument"]["Statement"][0]["Effect"], "Allow");
    assert_eq!(allow["context"]["practiceId"], "lakeside");
    assert_eq!(allow["context"]["principalId"], "pat-1001");
    assert!(allow["context"]["features"].as_str().unwrap().contains("ModuleWebMail"));
    // Every context value is a string, as API Gateway requires of a flat context.
    assert!(allow["context"].as_object().unwrap().values().all(Value::is_string));
    let deny = portal_authorizer::handle(&deps, event(&token, "GET", "/v1/admin/settings")).await.unwrap();
    assert_eq!(deny["policyDocument"]["Statement"][0]["Effect"], "Deny");
    assert_eq!(deny["context"]["code"], "staff_only");
    // The ACCESS_DENIED gateway response puts the detail between quotes as it is.
    let detail = deny["context"]["detail"].as_str().unwrap();
    let unquoted: String = serde_json::from_str(&format!("\"{detail}\"")).expect("the detail is JSON-escaped");
    assert!(!unquoted.is_empty());
    let public = portal_authorizer::handle(&deps, event("", "GET", "/v1/health")).await.unwrap();
    assert_eq!(public["policyDocument"]["Statement"][0]["Effect"], "Allow");
}

#[tokio::test]
async fn invites_sample_event_through_the_lambda_handler() {
    let (table, dir, _) = seeded().await;
    let mailer = Arc::new(portal_embedded::OutboxMailer::new(&dir.path().join("mail")).unwrap());
    let deps = portal_invites::Deps {
        table: table.clone(),
        clock: Arc::new(SystemClock),
        mailer: mailer.clone(),
        site_url: "https://portal.example.com".into(),
    };
    let sample: Value = serde_json::from_str(&std::fs::read_to_string(events_dir().join("invites/scheduled.json")).unwrap()).unwrap();
    // Every rule is off in the demo: nothing is sent.
    assert_eq!(portal_invites::handle(&deps, sample.clone()).await.unwrap().sent, 0);
    // On, ten days before: the demo's visits in the next ten days are due, each invite sent once
    // however often the schedule fires.
    let repo = portal_core::invites::rules::InviteRulesRepo { db: Db { table: table.as_ref(), clock: &SystemClock } };
    let mut rules = repo.get(&pid("lakeside")).await.unwrap();
    rules.rules[0].enabled = true;
    rules.rules[0].offset_minutes = 10 * 24 * 60;
    let admin = portal_core::audit::Actor::new(&lakeside(), portal_core::audit::ActorKind::Staff, "staff-1", None);
    repo.put(&admin, 0, &rules.rules, "").await.unwrap();
    let first = portal_invites::handle(&deps, sample.clone()).await.unwrap();
    assert!(first.sent >= 1, "{first:?}");
    assert_eq!(portal_invites::handle(&deps, sample).await.unwrap().sent, 0);
    assert_eq!(mailer.list().unwrap().len(), first.sent);
}

/// The seal run's scheduled event through its Lambda handler: the seeded practice's ended days
/// are sealed once (the run lists every practice), and the sealed log verifies as intact.
#[tokio::test]
async fn audit_seal_sample_event_through_the_lambda_handler() {
    use portal_core::audit::seal::AuditSeals;
    use portal_core::ports::ManualClock;
    let (table, _dir, _) = seeded().await;
    // Three days on, the seeding's day (today) and the next have ended.
    let clock = Arc::new(ManualClock::new(crate::support::now() + 3 * 86_400));
    let deps = portal_audit_seal::Deps { table: table.clone(), clock: clock.clone() };
    let sample: Value = serde_json::from_str(&std::fs::read_to_string(events_dir().join("audit-seal/scheduled.json")).unwrap()).unwrap();
    let first = portal_audit_seal::handle(&deps, sample.clone()).await.unwrap();
    assert!(first["sealed"].as_u64().unwrap() >= 2, "at least today and tomorrow: {first}");
    assert_eq!(portal_audit_seal::handle(&deps, sample).await.unwrap(), json!({ "sealed": 0 }), "sealed once");
    let verified = AuditSeals { db: Db { table: table.as_ref(), clock: clock.as_ref() } }.verify(&pid("lakeside"), None).await.unwrap();
    assert_eq!(verified.problem, None);
    assert!(verified.entries > 0, "the seeding's audit entries are sealed: {verified:?}");
}

/// The relay's scheduled event through its Lambda handler: an event whose commit could not
/// publish it goes out on the first run a minute later, and not again.
#[tokio::test]
async fn outbox_relay_sample_event_through_the_lambda_handler() {
    use portal_core::ports::{DomainEvent, ManualClock};
    let (table, dir, _) = seeded().await;
    let events = Arc::new(portal_embedded::InProcessEvents::new(&dir.path().join("relayed.log")).unwrap());
    let seen = Arc::new(std::sync::Mutex::new(vec![]));
    let sink = seen.clone();
    events.subscribe(Arc::new(move |e: DomainEvent| {
        sink.lock().unwrap().push(e.detail_type);
        Box::pin(async { Ok(()) })
    }));
    let clock = Arc::new(ManualClock::new(crate::support::now()));
    let outbox =
        portal_core::sync::outbox::Outbox { db: Db { table: table.as_ref(), clock: clock.as_ref() }, events: &crate::support::EventsDown };
    let received = portal_core::sync::events::PortalEvent::WebmailReceived {
        message_id: "m-1".into(),
        thread_id: "t-1".into(),
        patient_id: "pat-1001".into(),
    };
    outbox.record(&pid("lakeside"), received).await.unwrap();
    clock.advance(61);
    let deps = portal_outbox_relay::Deps { table, clock, events };
    let sample: Value = serde_json::from_str(&std::fs::read_to_string(events_dir().join("outbox-relay/scheduled.json")).unwrap()).unwrap();
    assert_eq!(
        portal_outbox_relay::handle(&deps, sample.clone()).await.unwrap(),
        json!({"published": 1, "oldestUnpublishedSeconds": null})
    );
    assert_eq!(portal_outbox_relay::handle(&deps, sample).await.unwrap(), json!({"published": 0, "oldestUnpublishedSeconds": null}));
    assert_eq!(*seen.lock().unwrap(), ["webmail.received"]);
}

/// The reconciler's scheduled event through its Lambda handler: a payment approved on the test
/// processor's page, whose payer never came back to the portal, is approved on the first run,
/// and only then.
#[tokio::test]
async fn payments_reconcile_sample_event_through_the_lambda_handler() {
    use portal_core::audit::{Actor, ActorKind};
    use portal_core::practice::family::{FamilyAccess, Viewer};
    use portal_core::reads::Caller;
    let (table, dir, _) = seeded().await;
    let test = Arc::new(portal_embedded::TestProcessor::new(table.clone(), "http://127.0.0.1:9"));
    let deps = portal_payments_reconcile::Deps {
        table: table.clone(),
        clock: Arc::new(SystemClock),
        events: Arc::new(portal_embedded::InProcessEvents::new(&dir.path().join("e.log")).unwrap()),
        // The seed's own secrets key: the demo's payment setup was saved with it.
        secrets: Arc::new(portal_embedded::LocalSecretBox::new(
            &std::fs::read(dir.path().join("secrets.key")).unwrap().try_into().unwrap(),
        )),
        processors: portal_core::ports::Processors { test: Some(test.clone()), stripe: None },
    };
    let payments = portal_core::payments::Payments {
        db: Db { table: table.as_ref(), clock: &SystemClock },
        events: deps.events.as_ref(),
        secrets: deps.secrets.as_ref(),
        processors: &deps.processors,
    };
    let alex = Caller {
        actor: Actor::new(&lakeside(), ActorKind::Patient, "pat-1001", None),
        viewer: Viewer::new("pat-1001", FamilyAccess::Guarantor),
    };
    let request = portal_core::payments::StartRequest { amount_cents: 2500, note: None, idempotency_key: "reconcile-sample-1".into() };
    let started = payments.start(&alex, None, request, "Lakeside Family Dental").await.unwrap();
    let url = started.checkout.unwrap().url.unwrap();
    test.decide(url.rsplit('/').next().unwrap(), "approve").await.unwrap();
    let sample: Value =
        serde_json::from_str(&std::fs::read_to_string(events_dir().join("payments-reconcile/scheduled.json")).unwrap()).unwrap();
    let first = portal_payments_reconcile::handle(&deps, sample.clone()).await.unwrap();
    assert_eq!((first["checked"].as_u64(), first["approved"].as_u64()), (Some(1), Some(1)), "{first}");
    let again = portal_payments_reconcile::handle(&deps, sample).await.unwrap();
    assert_eq!(again["checked"], 0, "nothing open any more");
}

/// The code-import state machine's task payloads through the real step handler: split answers
/// the batches for the two Maps, each batch runs, finish switches the version, clean answers
/// whether there is more; the catch's `fail` ends an import, leaves the version as it was, and
/// what the failed import wrote is cleaned away.
#[tokio::test]
async fn code_import_step_events_through_the_lambda_handler() {
    use portal_core::code_systems::{import::Importer, terms::Terms, System};
    use portal_core::ports::{PortError, Query, Workflows};
    struct Recorded;
    #[async_trait::async_trait]
    impl Workflows for Recorded {
        async fn start_import(&self, _: &portal_core::ids::PracticeId, _: &str) -> Result<(), PortError> {
            Ok(())
        }
    }
    let (table, dir, _) = seeded().await;
    let blobs: Arc<dyn portal_core::ports::Blobs> =
        Arc::new(portal_embedded::DirBlobs::new(&dir.path().join("blobs"), "http://127.0.0.1:9", b"k").unwrap());
    let deps = portal_code_import::Deps { table: table.clone(), clock: Arc::new(SystemClock), blobs: blobs.clone() };
    let staff = portal_core::audit::Actor::new(&lakeside(), portal_core::audit::ActorKind::Staff, "staff-1", None);
    let importer = Importer::new(Db { table: table.as_ref(), clock: &SystemClock }, blobs.as_ref());
    let step = |name: &str, id: &str| -> portal_code_import::Step {
        let raw = std::fs::read_to_string(events_dir().join(format!("code-import/{name}.json"))).unwrap();
        serde_json::from_str(&raw.replace("5d1f0c2ab3e94a7f8c6b2d10e9a4f371", id)).unwrap()
    };
    let run = |name: &'static str, id: String| {
        let deps = deps.clone();
        async move { serde_json::to_value(portal_code_import::handle(&deps, step(name, &id)).await.unwrap()).unwrap() }
    };
    let job = importer.start(&staff, "Front Desk", System::Cvx, "cvx-20251001", &Recorded).await.unwrap();
    assert_eq!(run("split", job.id.clone()).await, json!({"first": [], "rest": [0]}), "the Maps' items");
    assert_eq!(run("batch", job.id.clone()).await, json!({}));
    assert_eq!(run("finish", job.id.clone()).await, json!({"state": "done"}));
    assert_eq!(run("clean", job.id.clone()).await, json!({"more": false}));
    let names = Terms { db: Db { table: table.as_ref(), clock: &SystemClock } }
        .names(&pid("lakeside"), &[(System::Cvx, "140".into())])
        .await
        .unwrap();
    assert_eq!(names.get(System::Cvx, "140"), Some("Influenza, seasonal, injectable, preservative free"));
    // The catch: a second import, split and one batch in, ends failed; the first stays active
    // and the clean empties what the second wrote.
    let second = importer.start(&staff, "Front Desk", System::Cvx, "cvx-20251001", &Recorded).await.unwrap();
    run("split", second.id.clone()).await;
    run("batch", second.id.clone()).await;
    let written = portal_core::table_keys::terms(&pid("lakeside"), System::Cvx.name(), &second.id);
    assert!(!table.query(Query::new(&written)).await.unwrap().items.is_empty());
    assert_eq!(run("fail", second.id.clone()).await, json!({"state": "failed"}));
    assert_eq!(importer.status(&pid("lakeside"), &second.id).await.unwrap().state, portal_core::code_systems::import::ImportState::Failed);
    assert_eq!(
        Terms { db: Db { table: table.as_ref(), clock: &SystemClock } }.active(&pid("lakeside")).await.unwrap()[&System::Cvx],
        job.id
    );
    assert_eq!(run("clean", second.id.clone()).await, json!({"more": false}));
    assert!(table.query(Query::new(&written)).await.unwrap().items.is_empty(), "the failed version is gone");
    assert!(!table
        .query(Query::new(portal_core::table_keys::terms(&pid("lakeside"), System::Cvx.name(), &job.id)))
        .await
        .unwrap()
        .items
        .is_empty());
    // Anything else is refused before it runs.
    assert!(serde_json::from_value::<portal_code_import::Step>(json!({"step": "drop", "practiceId": "lakeside"})).is_err());
}

#[tokio::test]
async fn notify_sample_event_through_the_lambda_handler() {
    let (table, dir, _) = seeded().await;
    let mailer = Arc::new(portal_embedded::OutboxMailer::new(&dir.path().join("mail")).unwrap());
    let deps = portal_notify::Deps {
        table: table.clone(),
        clock: Arc::new(SystemClock),
        mailer: mailer.clone(),
        portal_base_url: "https://portal.example.com".into(),
    };
    let sample: Value = serde_json::from_str(&std::fs::read_to_string(events_dir().join("notify/webmail-sent.json")).unwrap()).unwrap();
    // The sample names no stored message: nothing to notify, and no error (no retries).
    assert_eq!(portal_notify::handle(&deps, sample.clone()).await.unwrap()["notification"], Value::Null);
    // A real message: its notification is sent, once.
    let mailbox = portal_core::webmail::mailbox::Mailbox {
        db: Db { table: table.as_ref(), clock: &SystemClock },
        events: &portal_embedded::InProcessEvents::new(&dir.path().join("e.log")).unwrap(),
        blobs: &portal_embedded::DirBlobs::new(&dir.path().join("b"), "http://127.0.0.1:9", b"k").unwrap(),
    };
    let staff = portal_core::audit::Actor::new(&lakeside(), portal_core::audit::ActorKind::Staff, "staff-1", None);
    let sent = mailbox
        .office_compose(
            &staff,
            "frontdesk",
            "pat-1001",
            Some("prov-1"),
            portal_core::webmail::mailbox::Draft { subject: "Your crown", body: "It has arrived.", attachment_ids: &[] },
        )
        .await
        .unwrap();
    let mut event = sample;
    event["detail"]["messageId"] = json!(sent.id);
    for _ in 0..2 {
        assert_eq!(portal_notify::handle(&deps, event.clone()).await.unwrap()["notification"]["state"], "sent");
    }
    assert_eq!(mailer.list().unwrap().len(), 1);
    assert!(portal_notify::handle(&deps, json!({"detail": {}})).await.is_err(), "a malformed event is an error");

    // SES reports that notification bounced: staff see it on the message, the patient's activity
    // has it, and a redelivered webmail.sent does not send it again.
    let mut bounce: Value = serde_json::from_str(&std::fs::read_to_string(events_dir().join("notify/ses-bounce.json")).unwrap()).unwrap();
    bounce["detail"]["mail"]["tags"]["portal-item"] = json!([sent.id]);
    assert_eq!(portal_notify::handle(&deps, bounce.clone()).await.unwrap(), json!({"recorded": true}));
    let page = portal_core::reads::PageRequest::new(10, None);
    let office = mailbox.office_list(&staff, portal_core::webmail::mailbox::Folder::Sent, false, None, page).await.unwrap();
    let shown = serde_json::to_value(&office.listing.items[0].notification).unwrap();
    assert_eq!(shown["state"], "bounced", "{shown}");
    assert_eq!(portal_notify::handle(&deps, event).await.unwrap()["notification"]["state"], "bounced");
    assert_eq!(mailer.list().unwrap().len(), 1);
    let audit = portal_core::audit::AuditLog { db: Db { table: table.as_ref(), clock: &SystemClock } };
    let entries = audit.for_subject(&pid("lakeside"), "pat-1001", 20, None).await.unwrap().0;
    let entry = entries.iter().find(|e| e.action == "mail.bounced").expect("the bounce is in the patient's activity");
    assert_eq!(entry.detail["mail"], "webmail-notification");
    assert!(!entry.detail.to_string().contains("nobody@example.com"), "no address in the audit");
    // A transient bounce changes nothing; mail the portal did not tag is not the portal's.
    bounce["detail"]["bounce"]["bounceType"] = json!("Transient");
    assert_eq!(portal_notify::handle(&deps, bounce.clone()).await.unwrap(), json!({"recorded": false}));
    bounce["detail"]["mail"]["tags"] = json!({ "ses:configuration-set": ["portal-mail"] });
    assert_eq!(portal_notify::handle(&deps, bounce).await.unwrap(), json!({"recorded": false}));
}

/// The demo practice's id.
fn lakeside() -> portal_core::ids::PracticeId {
    portal_core::ids::PracticeId::parse("lakeside").unwrap()
}
