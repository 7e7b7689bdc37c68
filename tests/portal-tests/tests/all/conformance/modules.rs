//! The patient modules and WebMail on each backend: balances, confirmations, one winner per slot,
//! messages and notifications, changes written with their audit entries, events published later,
//! payments settled once, exact counters and senders who never conflict.

use super::*;
use portal_core::ports::Db;

/// The patient modules' rules over this backend: a balance summed over the account, a
/// confirmation written once with its outbox event, and of twenty patients booking one slot at
/// once exactly one winning (the condition that decides it is the backend's).
pub(super) async fn patient_modules_hold(b: &Backend) {
    use portal_core::audit::{Actor, ActorKind};
    use portal_core::patient::account::Account;
    use portal_core::patient::appointments::AppointmentBook;
    use portal_core::patient::ProviderNames;
    use portal_core::practice::family::{FamilyAccess, Viewer};
    use portal_core::reads::Caller;
    use portal_core::sync::Entity::{Appointments, Ledger, Patients, Recalls, Slots};
    let practice = new_practice();
    let caller =
        |id: &str| Caller { actor: Actor::new(&practice, ActorKind::Patient, id, None), viewer: Viewer::new(id, FamilyAccess::Guarantor) };
    synced(b, &practice, Patients, "g", patient("Gale", json!({}))).await;
    for (id, kind, cents) in [("l1", "charge", 12000), ("l2", "payment", -5000), ("l3", "insurance-estimate", 3000)] {
        let line = json!({"patientId": "g", "date": "2026-01-10", "kind": kind, "amountCents": cents, "description": "Visit"});
        synced(b, &practice, Ledger, id, line).await;
    }
    let account = Account { db: b.db(), blobs: b.blobs.as_ref() };
    let sum = account.summary(&caller("g"), None, true).await.unwrap();
    assert_eq!((sum.total_cents, sum.insurance_estimate_cents, sum.patient_portion_cents), (7000, 3000, 4000));

    let providers = ProviderNames::new(60);
    let book = AppointmentBook { db: b.db(), events: b.events.as_ref(), providers: &providers };
    let pending = json!({"patientId": "g", "providerId": "prov-1", "start": format!("{}T10:00:00-05:00", date_from_today(40)), "lengthMinutes": 30, "status": "scheduled", "eConfirmationPending": true});
    synced(b, &practice, Appointments, "apt-1", pending).await;
    for _ in 0..2 {
        assert_eq!(book.confirm(&caller("g"), None, "apt-1").await.unwrap().id, "apt-1");
    }
    let outbox = portal_core::sync::outbox::Outbox { db: b.db(), events: b.events.as_ref() };
    tokio::time::sleep(Duration::from_micros(portal_core::sync::outbox::SETTLE_MICROS as u64 + 100_000)).await;
    let (events, _) = outbox.list(&practice, None, 100).await.unwrap();
    assert_eq!(events.iter().filter(|e| e.kind == "appointment.confirmed").count(), 1);

    synced(
        b,
        &practice,
        Slots,
        "slot-1",
        json!({"providerId": "prov-1", "start": format!("{}T09:00:00-05:00", date_from_today(20)), "lengthMinutes": 60}),
    )
    .await;
    for n in 0..20 {
        synced(b, &practice, Patients, &format!("r{n}"), patient("Racer", json!({}))).await;
        let recall = json!({"patientId": format!("r{n}"), "type": "Prophy", "dueDate": date_from_today(-30), "status": "due"});
        synced(b, &practice, Recalls, &format!("rc-{n}"), recall).await;
    }
    let attempts: Vec<_> = (0..20)
        .map(|n| {
            let (table, events, caller) = (b.table.clone(), b.events.clone(), caller(&format!("r{n}")));
            tokio::spawn(async move {
                let providers = ProviderNames::new(60);
                let book = AppointmentBook {
                    db: Db { table: table.as_ref(), clock: &SystemClock },
                    events: events.as_ref(),
                    providers: &providers,
                };
                book.book(&caller, None, &format!("rc-{n}"), "slot-1").await.map(|b| b.appointment.id).map_err(|e| e.code())
            })
        })
        .collect();
    let mut outcomes = vec![];
    for a in attempts {
        outcomes.push(a.await.unwrap());
    }
    assert_eq!(outcomes.iter().filter(|o| o.is_ok()).count(), 1, "{outcomes:?}");
    assert!(outcomes.iter().all(|o| o.is_ok() || *o == Err(portal_core::ProblemCode::SlotTaken)), "{outcomes:?}");
}

/// WebMail over this backend: who may write to, read and mark whom; unread counts; and each
/// message's notification sent once — recorded as failed while the mail service fails, sent once
/// it recovers, never twice, and without the message in it.
#[allow(
    clippy::too_many_lines,
    reason = "one mailbox over time: messages, marks and counts, then notifications through a failing and recovered mail service, each step on the state the one before left"
)]
pub(super) async fn webmail_holds(b: &Backend) {
    use portal_core::audit::{Actor, ActorKind};
    use portal_core::practice::family::{FamilyAccess, Viewer};
    use portal_core::reads::{Caller, PageRequest};
    use portal_core::sync::Entity::{Patients, Providers};
    use portal_core::webmail::mailbox::{Folder, Mailbox, Notification};
    use portal_core::webmail::notify::Notifier;
    struct Down;
    #[async_trait]
    impl Mailer for Down {
        async fn send(&self, _: &Mail) -> Result<String, PortError> {
            Err(PortError::Backend("the mail service is down".into()))
        }
    }
    let practice = new_practice();
    let mut settings = portal_core::practice::settings::PracticeSettings::new("Smile Dental", portal_core::Feature::ALL.to_vec());
    settings.webmail.notification_sender = b.sender.clone();
    settings.webmail.default_notify_address = format!("office-{practice}@example.com");
    portal_core::practice::settings::SettingsRepo { db: b.db() }.create(&practice, &settings).await.unwrap();
    let email = format!("gale-{practice}@example.com");
    synced(b, &practice, Patients, "g", patient("Gale", json!({"email": email}))).await;
    synced(
        b,
        &practice,
        Patients,
        "m",
        patient("Mo", json!({"guarantorId": "g", "isMinor": true, "guardians": [{"patientId": "g", "relationship": "mother"}]})),
    )
    .await;
    synced(b, &practice, Patients, "u", patient("Uma", json!({"optOuts": {"email": true}, "email": "uma@example.com"}))).await;
    synced(
        b,
        &practice,
        Providers,
        "prov-1",
        json!({"abbreviation": "MC", "firstName": "Maya", "lastName": "Chen", "credentials": "DDS", "staffUsernames": ["frontdesk"]}),
    )
    .await;
    synced(b, &practice, Providers, "prov-2", json!({"abbreviation": "SO", "firstName": "Sam", "lastName": "Okafor"})).await;
    let caller =
        |id: &str| Caller { actor: Actor::new(&practice, ActorKind::Patient, id, None), viewer: Viewer::new(id, FamilyAccess::Guarantor) };
    let staff = Actor::new(&practice, ActorKind::Staff, "staff-1", None);
    let mail = Mailbox { db: b.db(), events: b.events.as_ref(), blobs: b.blobs.as_ref() };
    let page = || PageRequest::new(20, None);

    // A patient writes to a provider someone answers for; not to one nobody does.
    let sent =
        mail.patient_compose(&caller("g"), None, "prov-1", "Crown question", "Does the crown need a second visit?", &[]).await.unwrap();
    let err = mail.patient_compose(&caller("g"), None, "prov-2", "Hello", "Hi", &[]).await.unwrap_err();
    assert_eq!(err.code(), "provider_unknown");
    assert_eq!(mail.patient_compose(&caller("g"), None, "prov-1", "Hello", "   ", &[]).await.unwrap_err().code(), "message_empty");
    let office = mail.office_list(&staff, Folder::Inbox, false, None, page()).await.unwrap();
    assert_eq!((office.listing.items.len(), office.unread), (1, 1));
    assert_eq!(office.listing.items[0].from.name, "Gale Test");
    let own_sent = mail.patient_list(&caller("g"), None, Folder::Sent, page()).await.unwrap();
    assert_eq!(own_sent.listing.items[0].id, sent.id);
    // The office answers as the provider the staff user acts for; not as another.
    let reply =
        mail.office_reply(&staff, "frontdesk", &sent.thread_id, Some("prov-1"), "Yes: the seat is in two weeks.", &[]).await.unwrap();
    let err = mail.office_reply(&staff, "someone-else", &sent.thread_id, Some("prov-1"), "Hi", &[]).await.unwrap_err();
    assert_eq!(err.code(), "not_acting_for_provider");
    mail.office_mark(&staff, &sent.id, true).await.unwrap();
    assert_eq!(mail.office_list(&staff, Folder::Inbox, true, None, page()).await.unwrap().unread, 0);
    // The patient sees it unread, reads it, and the thread oldest first.
    let inbox = mail.patient_list(&caller("g"), None, Folder::Inbox, page()).await.unwrap();
    assert_eq!((inbox.unread, inbox.listing.items[0].read, inbox.listing.items[0].from.name.as_str()), (1, false, "Maya Chen, DDS"));
    mail.patient_mark(&caller("g"), None, &reply.id, true).await.unwrap();
    mail.patient_mark(&caller("g"), None, &reply.id, true).await.unwrap();
    assert_eq!(mail.patient_list(&caller("g"), None, Folder::Inbox, page()).await.unwrap().unread, 0);
    let thread = mail.patient_thread(&caller("g"), None, &sent.thread_id).await.unwrap();
    assert_eq!(thread.messages.iter().map(|m| m.summary.id.as_str()).collect::<Vec<_>>(), [sent.id.as_str(), reply.id.as_str()]);
    assert!(thread.messages.iter().all(|m| m.summary.notification.is_none()), "patients do not see notification states");
    // Another patient: nothing of Gale's exists.
    let not_found = |e: portal_core::CoreError| assert_eq!(e.code(), "not_found");
    not_found(mail.patient_thread(&caller("u"), None, &sent.thread_id).await.unwrap_err());
    not_found(mail.patient_mark(&caller("u"), None, &reply.id, false).await.unwrap_err());
    not_found(mail.patient_reply(&caller("u"), None, &sent.thread_id, "me too", &[]).await.unwrap_err());
    not_found(mail.patient_list(&caller("u"), Some("g"), Folder::Inbox, page()).await.unwrap_err());
    // A guardian writes about her minor: the thread is the minor's.
    let about_mo = mail.patient_compose(&caller("g"), Some("m"), "prov-1", "Mo's braces", "Mo's bracket came off.", &[]).await.unwrap();
    assert_eq!(mail.office_thread(&staff, &about_mo.thread_id).await.unwrap().patient_id, "m");

    // Notifications: failing, then sent once, never twice; nothing of the message in them.
    let failing = Notifier { db: b.db(), mailer: &Down, portal_base_url: "https://portal.example.com" };
    assert!(failing.notify(&practice, &reply.id).await.is_err());
    let staff_view = mail.office_thread(&staff, &sent.thread_id).await.unwrap();
    let state = staff_view.messages[1].summary.notification.clone().unwrap();
    assert!(matches!(state, Notification::Failed { attempts: 1, .. }), "{state:?}");
    let working = Notifier { db: b.db(), mailer: b.mailer.as_ref(), portal_base_url: "https://portal.example.com" };
    for _ in 0..2 {
        assert!(matches!(working.notify(&practice, &reply.id).await.unwrap(), Notification::Sent { .. }));
    }
    let office_sent = mail.office_list(&staff, Folder::Sent, false, None, page()).await.unwrap();
    assert!(matches!(office_sent.listing.items[0].notification, Some(Notification::Sent { .. })), "staff see it in their sent folder");
    let mut to_gale = vec![];
    for _ in 0..20 {
        to_gale = b.probe.mails().await.into_iter().filter(|raw| raw.contains(&format!("To: {email}"))).collect();
        if !to_gale.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(to_gale.len(), 1, "one notification for one message");
    let text = portal_core::mime::text_part(&to_gale[0]).unwrap();
    assert!(text.contains(&format!("https://portal.example.com/p/{practice}/")) && text.contains("Smile Dental"), "{text}");
    assert!(!to_gale[0].contains("seat is in two weeks") && !to_gale[0].contains("Crown question"), "no message text in the mail");
    // The office is told at its notify address; a patient who opted out of email is skipped.
    assert!(matches!(working.notify(&practice, &sent.id).await.unwrap(), Notification::Sent { .. }));
    let to_uma = mail
        .office_compose(
            &staff,
            "frontdesk",
            "u",
            None,
            portal_core::webmail::mailbox::Draft { subject: "Your visit", body: "See you soon.", attachment_ids: &[] },
        )
        .await
        .unwrap();
    let skipped = working.notify(&practice, &to_uma.id).await.unwrap();
    assert_eq!(skipped, Notification::Skipped { reason: "the patient opted out of email".into() });
}

/// The table as it is while audit writes fail: any write to an audit partition is refused.
pub(super) struct AuditDown(Arc<dyn Table>);

pub(super) fn is_audit(pk: &str) -> bool {
    pk.ends_with("#AUDIT")
}

#[async_trait]
impl Table for AuditDown {
    async fn get(&self, pk: &str, sk: &str) -> Result<Option<Item>, TableError> {
        self.0.get(pk, sk).await
    }
    async fn put(&self, item: Item, cond: Cond) -> Result<(), TableError> {
        if is_audit(&item.pk) {
            return Err(TableError::Backend("the audit partition is throttled".into()));
        }
        self.0.put(item, cond).await
    }
    async fn delete(&self, pk: &str, sk: &str, cond: Cond) -> Result<(), TableError> {
        self.0.delete(pk, sk, cond).await
    }
    async fn query(&self, q: Query) -> Result<Page, TableError> {
        self.0.query(q).await
    }
    async fn transact(&self, ops: Vec<TxOp>) -> Result<(), TableError> {
        if ops.iter().any(|op| is_audit(op.key().0)) {
            return Err(TableError::Backend("the audit partition is throttled".into()));
        }
        self.0.transact(ops).await
    }
    async fn add(&self, pk: &str, sk: &str, by: i64, expires_at: Option<i64>) -> Result<i64, TableError> {
        self.0.add(pk, sk, by, expires_at).await
    }
    async fn batch_put(&self, items: Vec<Item>) -> Result<(), TableError> {
        self.0.batch_put(items).await
    }
    async fn batch_get(&self, keys: Vec<(String, String)>) -> Result<Vec<Item>, TableError> {
        self.0.batch_get(keys).await
    }
    async fn batch_delete(&self, keys: Vec<(String, String)>) -> Result<(), TableError> {
        self.0.batch_delete(keys).await
    }
}

/// A change and its audit entry are one write: while the audit log cannot be written, a booking,
/// a confirmation, a message and a read mark answer an error and change nothing (before, the
/// change was stored and the caller told it had failed); once it can, each goes through once.
pub(super) async fn changes_and_their_audit_entries_are_one_write(b: &Backend) {
    use portal_core::audit::{Actor, ActorKind};
    use portal_core::patient::appointments::AppointmentBook;
    use portal_core::patient::ProviderNames;
    use portal_core::practice::family::{FamilyAccess, Viewer};
    use portal_core::reads::{Caller, PageRequest};
    use portal_core::sync::Entity::{Appointments, Patients, Providers, Recalls, Slots};
    use portal_core::webmail::mailbox::{Folder, Mailbox};
    let practice = new_practice();
    let settings = portal_core::practice::settings::PracticeSettings::new("Audit Dental", portal_core::Feature::ALL.to_vec());
    portal_core::practice::settings::SettingsRepo { db: b.db() }.create(&practice, &settings).await.unwrap();
    let caller = Caller { actor: Actor::new(&practice, ActorKind::Patient, "g", None), viewer: Viewer::new("g", FamilyAccess::Guarantor) };
    synced(b, &practice, Patients, "g", patient("Gale", json!({}))).await;
    synced(
        b,
        &practice,
        Providers,
        "prov-1",
        json!({"abbreviation": "MC", "firstName": "Maya", "lastName": "Chen", "staffUsernames": ["frontdesk"]}),
    )
    .await;
    let start = |days: i64| format!("{}T10:00:00-05:00", date_from_today(days));
    let pending = json!({"patientId": "g", "providerId": "prov-1", "start": start(40), "lengthMinutes": 30, "status": "scheduled", "eConfirmationPending": true});
    synced(b, &practice, Appointments, "apt-1", pending).await;
    synced(b, &practice, Slots, "slot-1", json!({"providerId": "prov-1", "start": start(20), "lengthMinutes": 60})).await;
    synced(b, &practice, Recalls, "rc-1", json!({"patientId": "g", "type": "Prophy", "dueDate": date_from_today(-30), "status": "due"}))
        .await;

    let down: Arc<dyn Table> = Arc::new(AuditDown(b.table.clone()));
    let providers = ProviderNames::new(60);
    for (table, works) in [(&down, false), (&b.table, true)] {
        let book =
            AppointmentBook { db: Db { table: table.as_ref(), clock: &SystemClock }, events: b.events.as_ref(), providers: &providers };
        let mail = Mailbox { db: Db { table: table.as_ref(), clock: &SystemClock }, events: b.events.as_ref(), blobs: b.blobs.as_ref() };
        assert_eq!(book.book(&caller, None, "rc-1", "slot-1").await.is_ok(), works, "booking");
        assert_eq!(book.confirm(&caller, None, "apt-1").await.is_ok(), works, "confirmation");
        assert_eq!(mail.patient_compose(&caller, None, "prov-1", "Hello", "Is parking free?", &[]).await.is_ok(), works, "message");
        let office = Actor::new(&practice, ActorKind::Staff, "staff-1", None);
        let inbox = Mailbox { db: b.db(), events: b.events.as_ref(), blobs: b.blobs.as_ref() }
            .office_list(&office, Folder::Inbox, false, None, PageRequest::new(10, None))
            .await
            .unwrap();
        assert_eq!((inbox.listing.items.len(), inbox.unread), if works { (1, 1) } else { (0, 0) }, "nothing half-sent");
        if works {
            assert!(mail.office_mark(&office, &inbox.listing.items[0].id, true).await.is_ok());
        }
    }
    // Each change went through once, each with its entry.
    let audit = portal_core::audit::AuditLog { db: b.db() };
    let entries = audit.for_subject(&practice, "g", 100, None).await.unwrap().0;
    let count = |action: &str| entries.iter().filter(|e| e.action == action).count();
    assert_eq!((count("appointments.book"), count("appointments.confirm"), count("webmail.send"), count("webmail.read")), (1, 1, 1, 1));
}

/// An event whose commit could not publish it (EventBridge down at that moment) stays marked in
/// the outbox; the relay publishes it once it is a minute old, and only once.
pub(super) async fn events_a_commit_could_not_publish_go_out_later(b: &Backend) {
    use portal_core::sync::events::PortalEvent;
    use portal_core::sync::outbox::Outbox;
    let clock = ManualClock::new(now());
    let practice = new_practice();
    let (lost, fine) = (uid(), uid());
    let down = Outbox { db: b.db_with(&clock), events: &crate::support::EventsDown };
    down.record(&practice, PortalEvent::PasswordChanged { patient_id: lost.clone() }).await.unwrap();
    let up = Outbox { db: b.db_with(&clock), events: b.events.as_ref() };
    let published = up.record(&practice, PortalEvent::PasswordChanged { patient_id: fine }).await.unwrap();
    // Its own publish can fail too when the emulator is loaded (the whole suite at once): then
    // it is still marked, and the relay's as well.
    let stored = b.table.get(&portal_core::table_keys::outbox(&practice), &published.id).await.unwrap();
    let also_marked = usize::from(stored.is_some_and(|item| item.gsi1pk.is_some()));
    assert_eq!(up.relay(100).await.unwrap(), 0, "a commit may still be publishing its own events for a minute");
    clock.advance(61);
    // What the operators' alarm watches: ours (or an older one of another test) is a minute old —
    // whole seconds: the two stamps' sub-second parts come from the system clock, so 61 s on the
    // test's clock can read 60.
    assert!(up.oldest_unpublished_seconds().await.unwrap().is_some_and(|age| age >= 60));
    assert_eq!(up.relay(100).await.unwrap(), 1 + also_marked, "only what its commit could not publish");
    assert_eq!(up.relay(100).await.unwrap(), 0, "published once");
    for _ in 0..30 {
        let got = b.probe.events().await;
        if got.iter().any(|e| e["detail"]["patientId"] == json!(lost)) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the relayed event was not received");
}

/// Payments over this backend's table (the processor: the built-in test processor, keeping its
/// payments in the same table): a start sent twice is one payment; polls and reconcilers racing
/// on an approved payment approve it once, with one `payment.received`; the account's and the
/// practice's indexes list it; one abandoned for a day is canceled.
pub(super) async fn payments_are_settled_once(b: &Backend) {
    use portal_core::audit::{Actor, ActorKind};
    use portal_core::payments::setup::{PaymentSetups, SetupChange};
    use portal_core::payments::{Payments, StartRequest};
    use portal_core::ports::Processors;
    use portal_core::practice::family::{FamilyAccess, Viewer};
    use portal_core::reads::{Caller, PageRequest};
    let practice = new_practice();
    synced(b, &practice, portal_core::sync::Entity::Patients, "g", patient("Gale", json!({}))).await;
    let test = Arc::new(portal_embedded::TestProcessor::new(b.table.clone(), "http://127.0.0.1:9"));
    let processors = Processors { test: Some(test.clone()), stripe: None };
    let clock = ManualClock::new(now());
    let staff = Actor::new(&practice, ActorKind::Staff, "staff-1", None);
    let setups = PaymentSetups { db: b.db_with(&clock), secrets: b.secrets.as_ref(), processors: &processors };
    let change = SetupChange {
        processor: ProcessorKind::Test,
        publishable_key: String::new(),
        secret_key: None,
        webhook_secret: None,
        limit_cents: 500_000,
        version: 0,
    };
    setups.save(&staff, change).await.unwrap();
    let p = Payments { db: b.db_with(&clock), events: b.events.as_ref(), secrets: b.secrets.as_ref(), processors: &processors };
    let gale = Caller { actor: Actor::new(&practice, ActorKind::Patient, "g", None), viewer: Viewer::new("g", FamilyAccess::Guarantor) };
    let start = |key: &str, cents| StartRequest { amount_cents: cents, note: None, idempotency_key: key.into() };
    let first = p.start(&gale, None, start("conformance-1", 4200), "Practice").await.unwrap();
    let again = p.start(&gale, None, start("conformance-1", 4200), "Practice").await.unwrap();
    assert_eq!(first.payment.id, again.payment.id);
    let id = first.payment.id.clone();
    let url = first.checkout.unwrap().url.unwrap();
    test.decide(url.rsplit('/').next().unwrap(), "approve").await.unwrap();

    let polls = futures_util::future::join_all((0..3).map(|_| p.get(&gale, &id)));
    let runs = futures_util::future::join_all((0..3).map(|_| p.reconcile(500)));
    let (polls, _) = tokio::join!(polls, runs);
    assert!(polls.iter().all(|v| v.as_ref().unwrap().status == portal_core::payments::PaymentStatus::Approved));
    let outbox = portal_core::sync::outbox::Outbox { db: b.db(), events: b.events.as_ref() };
    tokio::time::sleep(Duration::from_micros(portal_core::sync::outbox::SETTLE_MICROS as u64 + 100_000)).await;
    let (events, _) = outbox.list(&practice, None, 100).await.unwrap();
    assert_eq!(events.iter().filter(|e| e.kind == "payment.received" && e.detail["paymentId"] == json!(id)).count(), 1);
    let history = p.history(&gale, None, PageRequest::new(10, None)).await.unwrap();
    assert_eq!(history.items.iter().map(|v| v.id.as_str()).collect::<Vec<_>>(), [id.as_str()]);
    let posting = portal_core::payments::being_posted(b.table.as_ref(), &practice, "g", None, &Default::default()).await.unwrap();
    assert_eq!(posting.iter().map(|x| x.amount_cents).sum::<i64>(), 4200);

    // Left at the card step for a day: canceled, and no longer followed up.
    let left = p.start(&gale, None, start("conformance-2", 1500), "Practice").await.unwrap();
    clock.advance(portal_core::payments::ABANDONED_AFTER_SECONDS + 1);
    p.reconcile(500).await.unwrap();
    assert_eq!(p.get(&gale, &left.payment.id).await.unwrap().status, portal_core::payments::PaymentStatus::Canceled);
}

/// Counters: adds at the same moment each see their own number (what quotas rely on), a count in
/// a transaction is all-or-nothing with it, and a counter reads back as `{"count": n}`.
pub(super) async fn counters_count_exactly(b: &Backend) {
    let pk = format!("P#c{}", uid());
    let adds: Vec<_> = (0..20)
        .map(|_| {
            let (table, pk) = (b.table.clone(), pk.clone());
            tokio::spawn(async move { table.add(&pk, "QUOTA#x", 1, Some(now() + 3600)).await.unwrap() })
        })
        .collect();
    let mut seen = vec![];
    for a in adds {
        seen.push(a.await.unwrap());
    }
    seen.sort();
    assert_eq!(seen, (1..=20).collect::<Vec<i64>>(), "each add sees its own number");
    let count = |sk: &'static str| {
        let (table, pk) = (b.table.clone(), pk.clone());
        async move { portal_core::ports::count_of(table.get(&pk, sk).await.unwrap().as_ref()) }
    };
    assert_eq!(count("QUOTA#x").await, 20);
    let op = |by| TxOp::Count { pk: pk.clone(), sk: "UNREAD".into(), by, expires_at: None };
    b.table.transact(vec![op(2)]).await.unwrap();
    let failing = vec![op(5), TxOp::Check { pk: pk.clone(), sk: "NOT-THERE".into(), cond: Cond::Exists }];
    assert!(matches!(b.table.transact(failing).await, Err(TableError::TransactionCanceled { failed }) if failed == [1]));
    b.table.transact(vec![op(-1)]).await.unwrap();
    assert_eq!(count("UNREAD").await, 1, "the canceled transaction counted nothing");
    assert_eq!(b.table.get(&pk, "UNREAD").await.unwrap().unwrap().data.as_ref(), &json!({"count": 1}));
}

/// A busy practice: 20 patients each sending 30 messages (on moto 3: see `load_rounds`) to the
/// office at the same time all get through (the office's unread count is an atomic count, not a
/// conditional write), each message is stored once, and the count is exact; read marks made at
/// the same time bring it to zero.
pub(super) async fn concurrent_senders_never_conflict(b: &Backend) {
    use portal_core::audit::{Actor, ActorKind};
    use portal_core::practice::family::{FamilyAccess, Viewer};
    use portal_core::reads::{Caller, PageRequest};
    use portal_core::sync::Entity::{Patients, Providers};
    use portal_core::webmail::mailbox::{Folder, Mailbox};
    const SENDERS: usize = 20;
    let each = b.load_rounds;
    let practice = new_practice();
    let settings = portal_core::practice::settings::PracticeSettings::new("Busy Dental", portal_core::Feature::ALL.to_vec());
    portal_core::practice::settings::SettingsRepo { db: b.db() }.create(&practice, &settings).await.unwrap();
    let provider = json!({"abbreviation": "MC", "firstName": "Maya", "lastName": "Chen", "staffUsernames": ["frontdesk"]});
    synced(b, &practice, Providers, "prov-1", provider).await;
    for n in 0..SENDERS {
        synced(b, &practice, Patients, &format!("s{n}"), patient("Sender", json!({}))).await;
    }
    let mailbox = |b: &Backend| (b.table.clone(), b.events.clone(), b.blobs.clone());
    let sends: Vec<_> = (0..SENDERS)
        .map(|n| {
            let ((table, events, blobs), practice) = (mailbox(b), practice.clone());
            tokio::spawn(async move {
                let mail =
                    Mailbox { db: Db { table: table.as_ref(), clock: &SystemClock }, events: events.as_ref(), blobs: blobs.as_ref() };
                let caller = Caller {
                    actor: Actor::new(&practice, ActorKind::Patient, &format!("s{n}"), None),
                    viewer: Viewer::new(&format!("s{n}"), FamilyAccess::Guarantor),
                };
                let mut ids = vec![];
                for m in 0..each {
                    match mail.patient_compose(&caller, None, "prov-1", "Question", &format!("Message {m}"), &[]).await {
                        Ok(sent) => ids.push(sent.id),
                        Err(e) => panic!("sender {n}, message {m}: {} {e}", e.code()),
                    }
                }
                ids
            })
        })
        .collect();
    let mut sent = vec![];
    for s in sends {
        sent.extend(s.await.unwrap());
    }
    assert_eq!(sent.len(), SENDERS * each);
    let staff = Actor::new(&practice, ActorKind::Staff, "staff-1", None);
    let mail = Mailbox { db: b.db(), events: b.events.as_ref(), blobs: b.blobs.as_ref() };
    let (mut listed, mut cursor) = (vec![], None);
    let unread = loop {
        let page = mail.office_list(&staff, Folder::Inbox, false, None, PageRequest::new(100, cursor)).await.unwrap();
        listed.extend(page.listing.items.into_iter().map(|m| m.id));
        match page.listing.next_cursor {
            Some(c) => cursor = Some(c),
            None => break page.unread,
        }
    };
    assert_eq!(unread, (SENDERS * each) as u64, "the office's unread count is exact");
    let (mut a, mut b_sorted) = (listed.clone(), sent.clone());
    a.sort();
    b_sorted.sort();
    assert_eq!(a, b_sorted, "each message is in the office's inbox once");

    // The office reads them all, from 20 screens at once.
    let marks: Vec<_> = sent
        .chunks(each)
        .map(|chunk| {
            let ((table, events, blobs), staff, chunk) = (mailbox(b), staff.clone(), chunk.to_vec());
            tokio::spawn(async move {
                let mail =
                    Mailbox { db: Db { table: table.as_ref(), clock: &SystemClock }, events: events.as_ref(), blobs: blobs.as_ref() };
                for id in chunk {
                    mail.office_mark(&staff, &id, true).await.unwrap_or_else(|e| panic!("{}: {e}", e.code()));
                }
            })
        })
        .collect();
    for m in marks {
        m.await.unwrap();
    }
    assert_eq!(mail.office_list(&staff, Folder::Inbox, false, None, PageRequest::new(1, None)).await.unwrap().unread, 0);
}
