//! Logins and practices on each backend: admins demoting each other, the roster and patient
//! access, the automated invites and forgotten passwords.

use super::*;
use portal_core::ports::Db;

/// Two admins demoting each other at the same moment, again and again: the change and the count
/// of the admins who stay are one conditional transaction, so a practice is never left without
/// an admin.
pub(super) async fn admins_demoting_each_other_leave_one(b: &Backend) {
    use portal_core::audit::{Actor, ActorKind};
    use portal_core::identity::session::StaffRole::{Admin, FrontDesk};
    use portal_core::identity::staff_users::StaffUsers;
    let rounds = b.load_rounds.min(10);
    for round in 0..rounds {
        let practice = new_practice();
        let prov = portal_core::identity::provision::Provisioner { db: b.db() };
        prov.create_practice(&practice, "Two Admins", vec![]).await.unwrap();
        let (one, two) = (
            prov.create_staff(&practice, "one", "One", Admin).await.unwrap(),
            prov.create_staff(&practice, "two", "Two", Admin).await.unwrap(),
        );
        let demote = |by: &str, whom: &'static str| {
            let (table, actor) = (b.table.clone(), Actor::new(&practice, ActorKind::Staff, by, None));
            tokio::spawn(async move {
                StaffUsers { db: Db { table: table.as_ref(), clock: &SystemClock } }.update(&actor, whom, Some(FrontDesk), None).await
            })
        };
        let (a, b2) = (demote(&one.principal_id, "two"), demote(&two.principal_id, "one"));
        let outcomes = [a.await.unwrap().map_err(|e| e.code()), b2.await.unwrap().map_err(|e| e.code())];
        assert!(outcomes.iter().filter(|o| o.is_ok()).count() == 1, "round {round}: {outcomes:?}");
        assert!(outcomes.iter().all(|o| o.is_ok() || *o == Err(portal_core::ProblemCode::LastAdmin)), "round {round}: {outcomes:?}");
        let users = StaffUsers { db: b.db() }.list(&practice).await.unwrap();
        assert_eq!(users.iter().filter(|u| u.role == Admin).count(), 1, "round {round}: {users:?}");
    }
}

/// The staff roster follows each patient's newest version exactly (written in the patient's own
/// transaction); a patient gets one login and a username names one patient.
pub(super) async fn roster_and_access_hold(b: &Backend) {
    use portal_core::identity::patient_access::{NewPatientLogin, PatientAccess};
    use portal_core::ids::Username;
    use portal_core::sync::roster::Roster;
    use portal_core::sync::store::{Applied, SyncStore};
    use portal_core::sync::Entity::Patients;
    let practice = new_practice();
    let store = SyncStore { db: b.db() };
    let version = |stamp: &str, last: &str, phones: Value| {
        let mut p = patient("Avery", json!({"lastName": last, "phones": phones}));
        p["lastModified"] = json!(stamp);
        p
    };
    let roster = Roster { db: b.db() };
    let found = |q: &'static str| {
        let (roster, practice) = (&roster, &practice);
        async move { roster.search(practice, q, 10, None).await.unwrap().entries.into_iter().map(|e| e.patient_id).collect::<Vec<_>>() }
    };
    let home = json!([{"kind": "home", "number": "555-010-2000"}]);
    store.upsert(&practice, Patients, "a", version("2026-01-01T00:00:00Z", "Stone", home.clone())).await.unwrap();
    assert_eq!(
        (found("stone").await, found("avery").await, found("5550102").await),
        (vec!["a".to_string()], vec!["a".into()], vec!["a".into()])
    );
    // A newer version: renamed, the phone gone. Nothing of the old one is found.
    store.upsert(&practice, Patients, "a", version("2026-01-02T00:00:00Z", "Brook", json!([]))).await.unwrap();
    assert_eq!((found("stone").await, found("brook").await, found("5550102").await), (vec![], vec!["a".to_string()], vec![]));
    let entry = roster.get(&practice, "a").await.unwrap().unwrap();
    assert_eq!(entry.missing, ["address", "city", "state", "phone", "email"]);
    // An older version arriving late changes nothing, in the roster either.
    let late = store.upsert(&practice, Patients, "a", version("2026-01-01T12:00:00Z", "Stone", home)).await.unwrap();
    assert_eq!(late.applied, Applied::Unchanged);
    assert!(found("stone").await.is_empty());
    store.delete(&practice, Patients, "a", "2026-01-03T00:00:00Z").await.unwrap();
    assert!(found("brook").await.is_empty() && found("").await.is_empty());
    assert!(roster.get(&practice, "a").await.unwrap().is_none());

    let access = PatientAccess { db: b.db() };
    let (sam1234, sam9999) = (Username::parse("sam1234").unwrap(), Username::parse("sam9999").unwrap());
    let login = |patient_id, username| NewPatientLogin {
        patient_id,
        username,
        display_name: "Sam",
        password: "pw-one-two-three",
        temporary: true,
        granted_by: "staff-1",
    };
    assert!(access.create(&practice, login("p1", &sam1234)).await.unwrap());
    let again = access.create(&practice, login("p1", &sam9999)).await.unwrap_err();
    assert_eq!(again.code(), "access_exists");
    assert!(!access.create(&practice, login("p2", &sam1234)).await.unwrap(), "username taken");
    assert!(access.get(&practice, "p2").await.unwrap().is_none(), "nothing half-written");
    assert_eq!(access.get(&practice, "p1").await.unwrap().unwrap().0.username, sam1234);
}

/// A new practice ("Smile Dental", every feature) whose mail goes out from this backend's sender.
pub(super) async fn practice_sending_mail(b: &Backend, clock: &dyn Clock) -> portal_core::ids::PracticeId {
    let practice = new_practice();
    let mut settings = portal_core::practice::settings::PracticeSettings::new("Smile Dental", portal_core::Feature::ALL.to_vec());
    settings.webmail.notification_sender = b.sender.clone();
    portal_core::practice::settings::SettingsRepo { db: b.db_with(clock) }.create(&practice, &settings).await.unwrap();
    practice
}

/// Automated invites with a controlled clock: due once per (rule, appointment), never twice for
/// overlapping runs; a run that dies after claiming is taken over once; opted-out and ineligible
/// patients are skipped with the reason; the after-visit rule waits for completion.
#[allow(clippy::too_many_lines, reason = "the invite rules run over controlled days, each run on the claims and sends the one before left")]
pub(super) async fn invites_hold(b: &Backend) {
    use portal_core::invites::rules::{InviteRulesRepo, Resend, RuleKind};
    use portal_core::invites::run::{log, InviteRun, InviteState};
    use portal_core::sync::store::SyncStore;
    use portal_core::sync::Entity::{Appointments, Patients};
    struct Crashing;
    #[async_trait]
    impl Mailer for Crashing {
        async fn send(&self, _: &Mail) -> Result<String, PortError> {
            panic!("the run dies while sending");
        }
    }
    let clock = Arc::new(ManualClock::new(now()));
    let t0 = clock.now();
    let practice = practice_sending_mail(b, clock.as_ref()).await;
    let staff = portal_core::audit::Actor::new(&practice, portal_core::audit::ActorKind::Staff, "staff-1", None);
    let repo = InviteRulesRepo { db: b.db_with(clock.as_ref()) };
    let mut rules = repo.get(&practice).await.unwrap();
    assert_eq!((rules.version, rules.rules.len(), rules.any_enabled()), (0, 2, false), "the defaults, off");
    for r in &mut rules.rules {
        r.enabled = true;
    }
    assert_eq!(
        (rules.rules[0].kind, rules.rules[0].offset_minutes, rules.rules[0].resend),
        (RuleKind::Before, 7 * 24 * 60, Resend::UntilVisited)
    );
    let rules = repo.put(&staff, 0, &rules.rules, "269-555-0100").await.unwrap();
    assert_eq!(repo.put(&staff, 0, &rules.rules, "").await.unwrap_err().code(), "settings_changed");

    let store = SyncStore { db: b.db_with(clock.as_ref()) };
    let email = |id: &str| format!("{id}-{practice}@example.com");
    let eligible = |id: &str, extra: Value| {
        let mut p = patient(
            id,
            json!({"address": {"line1": "1 Main St", "city": "Lakeside", "state": "MI", "postalCode": "49116"},
            "phones": [{"kind": "mobile", "number": "269-555-0100"}], "email": email(id)}),
        );
        p.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        p["lastModified"] = json!("2026-01-01T00:00:00Z");
        p
    };
    let at = |t: i64| {
        let offset = time::UtcOffset::from_hms(-5, 0, 0).unwrap();
        time::OffsetDateTime::from_unix_timestamp(t)
            .unwrap()
            .to_offset(offset)
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap()
    };
    let appt = |patient: &str, start: i64, status: &str| json!({"patientId": patient, "providerId": "prov-1", "start": at(start), "lengthMinutes": 60, "status": status, "lastModified": "2026-01-01T00:00:00Z"});
    for (id, extra) in [("eve", json!({})), ("otto", json!({"optOuts": {"portalInvites": true}})), ("cid", json!({}))] {
        store.upsert(&practice, Patients, id, eligible(id, extra)).await.unwrap();
    }
    let mut nora = eligible("nora", json!({}));
    nora.as_object_mut().unwrap().remove("address");
    store.upsert(&practice, Patients, "nora", nora).await.unwrap();
    let week = 7 * 24 * 3600;
    for (id, who, start) in [
        ("a-eve", "eve", t0 + week - 60),
        ("a-otto", "otto", t0 + week - 60),
        ("a-nora", "nora", t0 + week - 60),
        ("a-later", "eve", t0 + week + 3 * 86400),
    ] {
        store.upsert(&practice, Appointments, id, appt(who, start, "scheduled")).await.unwrap();
    }
    let mails_to = |id: &'static str| {
        let (b, to) = (b, email(id));
        async move { b.probe.mails().await.into_iter().filter(|raw| raw.contains(&format!("To: {to}"))).collect::<Vec<_>>() }
    };
    let runner = |mailer: &'static str| InviteRun {
        db: b.db_with(clock.as_ref()),
        mailer: if mailer == "real" { b.mailer.as_ref() } else { &Crashing },
        site_url: "https://portal.example.com",
    };

    // 7 days out: one invite for Eve, with a login; Otto and Nora skipped with the reason.
    let (r1, r2) = (runner("real"), runner("real"));
    let (first, second) = tokio::join!(r1.run(&practice), r2.run(&practice));
    let (first, second) = (first.unwrap(), second.unwrap());
    assert_eq!((first.sent + second.sent, first.skipped + second.skipped), (1, 2), "two overlapping runs, one invite");
    assert_eq!(runner("real").run(&practice).await.unwrap().sent, 0, "and never again");
    let mut eve = vec![];
    for _ in 0..20 {
        eve = mails_to("eve").await;
        if !eve.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(eve.len(), 1);
    let text = portal_core::mime::text_part(&eve[0]).unwrap();
    let login = portal_core::identity::patient_access::PatientAccess { db: b.db_with(clock.as_ref()) };
    let username = login.get(&practice, "eve").await.unwrap().unwrap().0.username;
    assert!(
        text.contains("Dear eve")
            && text.contains(username.as_str())
            && text.contains(&format!("https://portal.example.com/p/{practice}/")),
        "{text}"
    );
    assert!(text.contains("269-555-0100") && !text.contains('['), "every tag filled: {text}");
    let (entries, _) = log(b.table.as_ref(), &practice, 10, None).await.unwrap();
    let reason = |appt: &str| entries.iter().find(|e| e.appointment_id == appt).map(|e| e.state.clone());
    assert!(matches!(reason("a-eve"), Some(InviteState::Sent { .. })));
    assert_eq!(reason("a-otto"), Some(InviteState::Skipped { reason: "opted out of portal invites".into() }));
    assert!(matches!(reason("a-nora"), Some(InviteState::Skipped { reason }) if reason.contains("address")));
    assert_eq!(reason("a-later"), None, "not due yet");

    // A run dies after claiming Cid's invite: nothing is sent; a run within 5 minutes leaves the
    // claim alone; after that, exactly one takes it over and sends once.
    store.upsert(&practice, Appointments, "a-cid", appt("cid", t0 + 3600, "scheduled")).await.unwrap();
    let practice_ref = practice.clone();
    let crashed = {
        let (table, clock) = (b.table.clone(), clock.clone());
        tokio::spawn(async move {
            let run = InviteRun {
                db: Db { table: table.as_ref(), clock: clock.as_ref() },
                mailer: &Crashing,
                site_url: "https://portal.example.com",
            };
            run.run(&practice_ref).await
        })
        .await
    };
    assert!(crashed.is_err(), "the run died");
    clock.advance(60);
    assert_eq!(runner("real").run(&practice).await.unwrap().sent, 0, "the claim is still fresh");
    clock.advance(portal_core::invites::run::CLAIM_TIMEOUT);
    let (one, two) = tokio::join!(r1.run(&practice), r2.run(&practice));
    assert_eq!(one.unwrap().sent + two.unwrap().sent, 1, "taken over once");
    assert_eq!(runner("real").run(&practice).await.unwrap().sent, 0);

    // After the visit: nothing while it is scheduled, nor before its time; once after completion.
    let start = clock.now() - 30 * 60;
    store.upsert(&practice, Appointments, "a-done", appt("otto", start, "scheduled")).await.unwrap();
    store.upsert(&practice, Appointments, "a-done2", appt("cid", start, "scheduled")).await.unwrap();
    clock.advance(2 * 3600);
    assert_eq!(runner("real").run(&practice).await.unwrap().sent, 0, "not completed");
    let mut done = appt("cid", start, "complete");
    done["lastModified"] = json!("2026-01-02T00:00:00Z");
    store.upsert(&practice, Appointments, "a-done2", done).await.unwrap();
    let report = runner("real").run(&practice).await.unwrap();
    assert_eq!(report.sent, 1, "{report:?}");
    assert_eq!(runner("real").run(&practice).await.unwrap().sent, 0);
}

/// A reset link with a controlled clock: it works once, and not after 30 minutes.
pub(super) async fn recovery_holds(b: &Backend) {
    use portal_core::identity::recovery::{Recovery, RESET_SECONDS};
    let clock = Arc::new(ManualClock::new(now()));
    let practice = practice_sending_mail(b, clock.as_ref()).await;
    let email = format!("gale-{practice}@example.com");
    synced(b, &practice, portal_core::sync::Entity::Patients, "g", patient("Gale", json!({"email": email}))).await;
    let prov = portal_core::identity::provision::Provisioner { db: b.db_with(clock.as_ref()) };
    prov.create_patient_login(&practice, "g", "gale", "Gale Test", false).await.unwrap();
    let recovery = Recovery {
        db: b.db_with(clock.as_ref()),
        mailer: b.mailer.as_ref(),
        events: b.events.as_ref(),
        site_url: "https://portal.example.com",
    };
    let token = || async {
        for _ in 0..20 {
            let mails: Vec<String> = b.probe.mails().await.into_iter().filter(|raw| raw.contains(&format!("To: {email}"))).collect();
            if let Some(text) = mails.last().and_then(|m| portal_core::mime::text_part(m)) {
                let at = text.find("#reset=").unwrap() + 7;
                return (mails.len(), text[at..].split_whitespace().next().unwrap().to_string());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("no reset mail");
    };
    recovery.request(&practice, "GALE", None).await.unwrap();
    let (_, first) = token().await;
    clock.advance(RESET_SECONDS);
    assert_eq!(recovery.reset(&first, "a lighthouse at low tide", None).await.unwrap_err().code(), "reset_link_invalid", "30 minutes on");
    recovery.request(&practice, &email.to_uppercase(), None).await.unwrap();
    let mut second = first.clone();
    for _ in 0..20 {
        let (count, t) = token().await;
        if count >= 2 {
            second = t;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_ne!(first, second, "a new link");
    clock.advance(RESET_SECONDS - 1);
    recovery.reset(&second, "a lighthouse at low tide", None).await.unwrap();
    assert_eq!(recovery.reset(&second, "another long passphrase", None).await.unwrap_err().code(), "reset_link_invalid", "once");
    let auth = portal_core::identity::login::Logins { db: b.db_with(clock.as_ref()), events: b.events.as_ref() };
    let input = portal_core::identity::login::LoginInput {
        practice: &practice,
        username: "gale",
        password: "a lighthouse at low tide",
        totp: None,
        recovery_code: None,
        device: None,
    };
    let answer = auth.login(portal_core::identity::session::PrincipalKind::Patient, input, &Default::default()).await.unwrap();
    assert!(matches!(answer, portal_core::identity::login::LoginResult::Session(_)));
}
