//! Logins and sessions end to end: a patient's login, `/v1/me` with the family it lists, logout
//! and the cookie; failed logins that look alike and are slowed, never locking the owner out;
//! temporary passwords; staff codes.

use super::practice::settings;
use super::*;
use crate::support::pid;
use portal_core::ports::Db;

#[tokio::test]
async fn health_is_public_and_unknown_routes_are_problems() {
    let l = start_local().await;
    let (s, v) = l.get("/v1/health", None).await;
    assert_eq!((s, &v["status"]), (200, &json!("ok")));
    let (s, v) = l.get("/v1/no-such-thing", None).await;
    assert_problem(s, &v, 404, "route_not_found");
    let (s, v, h) = send(client().delete(l.url("/v1/health"))).await;
    assert_problem(s, &v, 405, "method_not_allowed");
    assert!(h.get("allow").is_some());
    let (s, v) = l.get("/v1/me", None).await;
    assert_problem(s, &v, 401, "session_required");
}

#[tokio::test]
async fn patient_login_me_logout_and_cookie() {
    let l = start_local().await;
    let p = &l.logins.practices[0];
    let pat = &p.patients[0];
    let (s, v, h) = send(
        client()
            .post(l.url("/v1/auth/login"))
            .json(&json!({"practice": p.practice_id, "username": pat.username, "password": pat.password})),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["mustChangePassword"], false);
    assert!(v["expiresAt"].as_str().unwrap().ends_with('Z'));
    let cookie = h["set-cookie"].to_str().unwrap();
    for part in ["__Host-portal-session=", "Path=/", "Secure", "HttpOnly", "SameSite=Strict"] {
        assert!(cookie.contains(part), "{cookie}");
    }
    let token = v["token"].as_str().unwrap();
    // The cookie alone authenticates too.
    let cookie_pair = cookie.split(';').next().unwrap();
    let (s, me, h) = send(client().get(l.url("/v1/me")).header("cookie", cookie_pair)).await;
    assert_eq!(s, 200, "{me}");
    assert_eq!(h["cache-control"], "no-store");
    assert_eq!(me["kind"], "patient");
    assert_eq!(me["practice"]["id"], p.practice_id);
    let keys: Vec<&str> = me["features"].as_array().unwrap().iter().map(|f| f["key"].as_str().unwrap()).collect();
    assert_eq!(
        keys,
        ["MakePayments", "ModuleAccount", "ModuleWebMail", "ModuleCareSummary", "ModuleImages", "MakeAppointments", "ModuleTreatmentPlan"]
    );
    let (s, _) = l.json("POST", "/v1/auth/logout", Some(token), json!({})).await;
    assert_eq!(s, 200);
    let (s, v) = l.get("/v1/me", Some(token)).await;
    assert_problem(s, &v, 401, "session_required");
}

#[tokio::test]
async fn failed_logins_look_the_same_and_are_slowed_per_account() {
    let l = start_local().await;
    let p = &l.logins.practices[0];
    let pat = &p.patients[0];
    let attempt = |practice: &str, user: &str, pw: &str| json!({"practice": practice, "username": user, "password": pw});
    let (s1, wrong_pw) = l.json("POST", "/v1/auth/login", None, attempt(&p.practice_id, &pat.username, "wrong password")).await;
    let (s2, unknown_user) = l.json("POST", "/v1/auth/login", None, attempt(&p.practice_id, "nobody.here", "wrong password")).await;
    let (s3, unknown_practice) = l.json("POST", "/v1/auth/login", None, attempt("no-such-practice", &pat.username, "wrong password")).await;
    assert_problem(s1, &wrong_pw, 401, "login_failed");
    assert_eq!((s1, &wrong_pw), (s2, &unknown_user));
    assert_eq!((s1, &wrong_pw), (s3, &unknown_practice));
    // The rest of the free attempts; then, once the first delay (1 s) is over, one more failure
    // makes the next wait 2 s — at least a whole second, whichever way the clock's seconds fall,
    // longer than a slow machine takes between these requests.
    for _ in 1..portal_core::identity::throttle::FREE_FAILURES {
        l.json("POST", "/v1/auth/login", None, attempt(&p.practice_id, &pat.username, "wrong password")).await;
    }
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let (s, _) = l.json("POST", "/v1/auth/login", None, attempt(&p.practice_id, &pat.username, "wrong password")).await;
    assert_eq!(s, 401);
    // Right after them even the right password waits, with the same answer.
    let (s, v) = l.json("POST", "/v1/auth/login", None, attempt(&p.practice_id, &pat.username, &pat.password)).await;
    assert_eq!((s, &v), (s1, &wrong_pw));
    // The other patient is not affected.
    let other = &p.patients[1];
    let (s, _) = l.json("POST", "/v1/auth/login", None, attempt(&p.practice_id, &other.username, &other.password)).await;
    assert_eq!(s, 200);
}

pub(super) struct AuthBench {
    table: Arc<portal_embedded::SqliteTable>,
    clock: Arc<ManualClock>,
    events: Arc<portal_embedded::InProcessEvents>,
}

impl AuthBench {
    fn new() -> Self {
        let log = std::env::temp_dir().join(format!("ev-{}.log", portal_core::ids::new_id()));
        AuthBench {
            table: Arc::new(portal_embedded::SqliteTable::in_memory().unwrap()),
            // The table honours TTLs by the system clock, so the controlled clock starts at today.
            clock: Arc::new(ManualClock::new(crate::support::now())),
            events: Arc::new(portal_embedded::InProcessEvents::new(&log).unwrap()),
        }
    }
    fn db(&self) -> Db<'_> {
        Db { table: self.table.as_ref(), clock: self.clock.as_ref() }
    }
    fn auth(&self) -> portal_core::identity::login::Logins<'_> {
        portal_core::identity::login::Logins { db: self.db(), events: self.events.as_ref() }
    }
    fn prov(&self) -> portal_core::identity::provision::Provisioner<'_> {
        portal_core::identity::provision::Provisioner { db: self.db() }
    }
    async fn login(&self, kind: portal_core::identity::session::PrincipalKind, user: &str, pw: &str, totp: Option<&str>, ip: &str) -> bool {
        self.login_on(kind, user, pw, totp, ip, None).await.is_some()
    }
    /// A login from `ip` on the browser holding the known-device token `device`; the session.
    async fn login_on(
        &self,
        kind: portal_core::identity::session::PrincipalKind,
        user: &str,
        pw: &str,
        totp: Option<&str>,
        ip: &str,
        device: Option<&str>,
    ) -> Option<portal_core::identity::login::LoginOk> {
        let input =
            portal_core::identity::login::LoginInput { practice: "p1", username: user, password: pw, totp, recovery_code: None, device };
        let meta = portal_core::identity::login::RequestMeta { source_ip: Some(ip.into()) };
        match self.auth().login(kind, input, &meta).await {
            Ok(portal_core::identity::login::LoginResult::Session(ok)) => Some(ok),
            _ => None,
        }
    }
}

#[tokio::test]
async fn throttling_slows_the_guesser_and_never_locks_the_owner_out() {
    use portal_core::identity::session::PrincipalKind::Patient;
    use portal_core::identity::throttle::{FREE_FAILURES, MAX_DELAY_SECONDS};
    let b = AuthBench::new();
    b.prov().create_practice(&pid("p1"), "P One", vec![]).await.unwrap();
    let login = b.prov().create_patient_login(&pid("p1"), "pat-1", "pat.one", "Pat One", false).await.unwrap();
    for _ in 0..FREE_FAILURES {
        assert!(!b.login(Patient, "pat.one", "not the password", None, "198.51.100.1").await);
    }
    assert!(!b.login(Patient, "pat.one", &login.password, None, "203.0.113.9").await, "waits its turn");
    b.clock.advance(1);
    assert!(b.login(Patient, "pat.one", &login.password, None, "203.0.113.9").await, "one second later the owner is in");
    // However long a guesser keeps at it, the owner never waits more than the longest delay.
    for _ in 0..40 {
        b.login(Patient, "pat.one", "guess", None, &format!("198.51.100.{}", portal_core::ids::random_bytes::<1>()[0])).await;
        b.clock.advance(MAX_DELAY_SECONDS);
    }
    assert!(!b.login(Patient, "pat.one", "guess", None, "198.51.100.77").await);
    assert!(!b.login(Patient, "pat.one", &login.password, None, "203.0.113.9").await, "right after a guess, the owner waits too");
    b.clock.advance(MAX_DELAY_SECONDS);
    assert!(b.login(Patient, "pat.one", &login.password, None, "203.0.113.9").await);
    // Sessions time out when idle.
    let meta = portal_core::identity::login::RequestMeta::default();
    let input = portal_core::identity::login::LoginInput {
        practice: "p1",
        username: "pat.one",
        password: &login.password,
        totp: None,
        recovery_code: None,
        device: None,
    };
    let portal_core::identity::login::LoginResult::Session(ok) = b.auth().login(Patient, input, &meta).await.unwrap() else {
        panic!("no second factor here")
    };
    let sessions = portal_core::identity::session::Sessions { db: b.db() };
    assert!(sessions.resolve(&ok.token).await.unwrap().is_some());
    b.clock.advance(portal_core::identity::session::IDLE_TIMEOUT + 1);
    assert!(sessions.resolve(&ok.token).await.unwrap().is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn parallel_guesses_are_all_counted() {
    use portal_core::identity::session::PrincipalKind::Patient;
    let b = Arc::new(AuthBench::new());
    b.prov().create_practice(&pid("p1"), "P One", vec![]).await.unwrap();
    b.prov().create_patient_login(&pid("p1"), "pat-1", "pat.one", "Pat One", false).await.unwrap();
    let mut burst = tokio::task::JoinSet::new();
    for n in 0..20 {
        let b = b.clone();
        burst.spawn(async move { b.login(Patient, "pat.one", &format!("guess {n}"), None, "198.51.100.1").await });
    }
    burst.join_all().await;
    // Only the free attempts had their password checked; the rest waited unchecked.
    let audit = portal_core::audit::AuditLog { db: b.db() };
    let entries = audit.search(&pid("p1"), &Default::default(), 100, None).await.unwrap().entries;
    let checked = entries.iter().filter(|e| e.detail["reason"] == "bad_password").count();
    let throttled = entries.iter().filter(|e| e.detail["reason"] == "throttled").count();
    assert_eq!(
        (checked, throttled),
        (portal_core::identity::throttle::FREE_FAILURES as usize, 20 - portal_core::identity::throttle::FREE_FAILURES as usize)
    );
}

#[tokio::test]
async fn staff_with_the_right_password_and_code_are_let_in_while_guessers_are_slowed() {
    use portal_core::identity::session::PrincipalKind::Staff;
    let b = AuthBench::new();
    b.prov().create_practice(&pid("p1"), "P One", vec![]).await.unwrap();
    let admin = b.prov().create_staff(&pid("p1"), "admin", "Admin", portal_core::identity::session::StaffRole::Admin).await.unwrap();
    for _ in 0..10 {
        assert!(!b.login(Staff, "admin", "guess", Some("000000"), "198.51.100.1").await);
    }
    let code = portal_core::identity::totp::code_at(
        admin.totp_secret.as_ref().unwrap(),
        portal_core::identity::totp::step_at(b.clock.now()).unwrap(),
    )
    .unwrap();
    assert!(!b.login(Staff, "admin", "guess", Some(&code), "198.51.100.1").await, "a valid code alone is not enough");
    let code = portal_core::identity::totp::code_at(
        admin.totp_secret.as_ref().unwrap(),
        portal_core::identity::totp::step_at(b.clock.now()).unwrap() + 1,
    )
    .unwrap();
    assert!(b.login(Staff, "admin", &admin.password, Some(&code), "203.0.113.9").await, "the owner is in at once");
}

#[tokio::test]
async fn an_address_with_too_many_failures_waits_and_others_do_not() {
    use portal_core::identity::session::PrincipalKind::Patient;
    let b = AuthBench::new();
    b.prov().create_practice(&pid("p1"), "P One", vec![]).await.unwrap();
    let login = b.prov().create_patient_login(&pid("p1"), "pat-1", "pat.one", "Pat One", false).await.unwrap();
    for n in 0..portal_core::identity::throttle::ADDRESS_MAX_FAILURES {
        b.login(Patient, &format!("sprayed.{n}"), "Summer2026!", None, "198.51.100.1").await;
    }
    assert!(!b.login(Patient, "pat.one", &login.password, None, "198.51.100.1").await, "the spraying address waits");
    assert!(b.login(Patient, "pat.one", &login.password, None, "203.0.113.9").await, "the owner's address does not");
    b.clock.advance(portal_core::identity::throttle::ADDRESS_WINDOW_SECONDS);
    assert!(b.login(Patient, "pat.one", &login.password, None, "198.51.100.1").await, "the window ends");
}

#[tokio::test]
async fn temporary_password_must_be_changed_first() {
    let l = start_local().await;
    let p = &l.logins.practices[0];
    let temp = p.patients.iter().find(|x| x.temporary).unwrap();
    let (s, v) = l
        .json("POST", "/v1/auth/login", None, json!({"practice": p.practice_id, "username": temp.username, "password": temp.password}))
        .await;
    assert_eq!((s, &v["mustChangePassword"]), (200, &json!(true)));
    let token = v["token"].as_str().unwrap().to_string();
    let (s, v) = l.get("/v1/account", Some(&token)).await;
    assert_problem(s, &v, 403, "password_change_required");
    let (s, me) = l.get("/v1/me", Some(&token)).await;
    assert_eq!((s, &me["mustChangePassword"]), (200, &json!(true)));
    let (s, v) =
        l.json("POST", "/v1/auth/password", Some(&token), json!({"currentPassword": temp.password, "newPassword": "password123"})).await;
    assert_problem(s, &v, 400, "password_too_common");
    let (s, v) = l
        .json("POST", "/v1/auth/password", Some(&token), json!({"currentPassword": "wrong", "newPassword": "a long new passphrase"}))
        .await;
    assert_problem(s, &v, 400, "current_password_wrong");
    let (s, v) = l
        .json("POST", "/v1/auth/password", Some(&token), json!({"currentPassword": temp.password, "newPassword": "a long new passphrase"}))
        .await;
    assert_eq!(s, 200, "{v}");
    let fresh = v["token"].as_str().unwrap();
    assert_eq!(v["mustChangePassword"], false);
    // The password change ended the old session and started a fresh one.
    assert_eq!(l.get("/v1/me", Some(&token)).await.0, 401);
    assert_eq!(l.get("/v1/me", Some(fresh)).await.0, 200);
    // The practice hears of it through the event outbox (and the Events port).
    let logged = l.backends.events.logged();
    assert!(
        logged.iter().any(|e| e.detail_type == "portal.patient.password_changed" && e.detail["patientId"] == temp.patient_id.as_str()),
        "{logged:?}"
    );
    let (s, v) = l
        .json(
            "POST",
            "/v1/auth/login",
            None,
            json!({"practice": p.practice_id, "username": temp.username, "password": "a long new passphrase"}),
        )
        .await;
    assert_eq!((s, &v["mustChangePassword"]), (200, &json!(false)));
}

#[tokio::test]
async fn me_lists_the_family_the_rule_allows_and_the_setting_changes_it() {
    let l = start_local().await;
    let family = |me: &Value| -> Vec<(String, String)> {
        me["family"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| (m["patientId"].as_str().unwrap().to_string(), m["relationship"].as_str().unwrap().to_string()))
            .collect()
    };
    let pairs = |v: &[(&str, &str)]| v.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect::<Vec<_>>();
    // Alex holds the Morgan account: the whole family, self first; Riley is a minor in Alex's care.
    let alex = l.patient_token(0, 0).await;
    let (s, me) = l.get("/v1/me", Some(&alex)).await;
    assert_eq!(s, 200, "{me}");
    assert_eq!(me["family"][0]["name"], "Alex Morgan");
    assert_eq!(family(&me), pairs(&[("pat-1001", "self"), ("pat-1005", "family"), ("pat-1003", "family"), ("pat-1004", "minor")]));
    // Jamie (spouse, guardian of both minors) sees themself and the minors, not Alex.
    let jamie = l.patient_token(0, 2).await;
    let (_, me) = l.get("/v1/me", Some(&jamie)).await;
    assert_eq!(family(&me), pairs(&[("pat-1003", "self"), ("pat-1005", "minor"), ("pat-1004", "minor")]));
    // Sam is on an account of their own; Jordan is in another practice.
    let sam = l.patient_token(0, 1).await;
    let (_, me) = l.get("/v1/me", Some(&sam)).await;
    assert_eq!(family(&me), pairs(&[("pat-1002", "self")]));
    let jordan = l.patient_token(1, 0).await;
    let (_, me) = l.get("/v1/me", Some(&jordan)).await;
    assert_eq!(family(&me)[0], ("pat-2001".to_string(), "self".to_string()));
    assert!(family(&me).iter().all(|(id, _)| id.starts_with("pat-2")));
    // Staff have no family.
    let staff = l.staff_token(0).await;
    let (_, me) = l.get("/v1/me", Some(&staff)).await;
    assert_eq!(me["family"], json!([]));
    // familyAccess=self: the guarantor sees only themself and the minors in their care, at once.
    let current = settings(&l, &staff).await;
    assert_eq!(current["familyAccess"], "guarantor");
    let body = json!({"familyAccess": "self", "version": current["versions"]["familyAccess"]});
    let (s, v) = l.json("PUT", "/v1/admin/settings/family-access", Some(&staff), body).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["settings"]["familyAccess"], "self");
    let (_, me) = l.get("/v1/me", Some(&alex)).await;
    assert_eq!(family(&me), pairs(&[("pat-1001", "self"), ("pat-1004", "minor")]));
    // A stale version conflicts; an unknown value is refused.
    let (s, v) = l
        .json(
            "PUT",
            "/v1/admin/settings/family-access",
            Some(&staff),
            json!({"familyAccess": "guarantor", "version": current["versions"]["familyAccess"]}),
        )
        .await;
    assert_problem(s, &v, 409, "settings_changed");
    let (s, v) = l.json("PUT", "/v1/admin/settings/family-access", Some(&staff), json!({"familyAccess": "everyone", "version": 99})).await;
    assert_eq!(s, 400, "{v}");
    // Reading the family is a PHI read, audited under the patient: once a session, however many
    // pages ask again; a new session is audited again.
    let family_reads = async || {
        let (_, log) = l.get("/v1/admin/audit?limit=200", Some(&staff)).await;
        log["entries"].as_array().unwrap().iter().filter(|e| e["action"] == "me.family.read" && e["subject"] == "pat-1001").count()
    };
    let before = family_reads().await;
    assert!(before >= 1);
    for _ in 0..3 {
        assert_eq!(l.get("/v1/me", Some(&alex)).await.0, 200);
    }
    assert_eq!(family_reads().await, before, "the session's first read was the one recorded");
    let again = l.patient_token(0, 0).await;
    assert_eq!(l.get("/v1/me", Some(&again)).await.0, 200);
    assert_eq!(family_reads().await, before + 1, "a new session");
}

/// The second probe's first finding: 537 wrong passwords from one address kept the owner out
/// (the account's delay held everyone back, and the held-back attempts never counted against the
/// guesser's address). Now the owner's known device is let in at once, a new browser waits at
/// most the delay, and the guesser's address is stopped by its own attempts.
#[tokio::test]
async fn a_guesser_never_keeps_the_owner_out_of_a_known_device() {
    use portal_core::identity::session::PrincipalKind::Patient;
    use portal_core::identity::throttle::{ADDRESS_MAX_FAILURES, ADDRESS_WINDOW_SECONDS, MAX_DELAY_SECONDS};
    let b = AuthBench::new();
    // At the start of an address window, so the minute waited below stays inside it.
    b.clock.advance(ADDRESS_WINDOW_SECONDS - b.clock.now().rem_euclid(ADDRESS_WINDOW_SECONDS));
    b.prov().create_practice(&pid("p1"), "P One", vec![]).await.unwrap();
    let login = b.prov().create_patient_login(&pid("p1"), "pat-1", "pat.one", "Pat One", false).await.unwrap();
    let (owner, guesser) = ("203.0.113.9", "198.51.100.1");
    let first = b.login_on(Patient, "pat.one", &login.password, None, owner, None).await.expect("the owner logs in");
    let device = first.device.expect("the browser becomes a known device");
    for _ in 0..(2 * ADDRESS_MAX_FAILURES) {
        b.login(Patient, "pat.one", "a guess", None, guesser).await;
    }
    // A browser the account has never seen waits its turn, as any unknown device does...
    assert!(!b.login(Patient, "pat.one", &login.password, None, "203.0.113.10").await);
    // ...the owner's known device does not, however often the guesser goes on.
    for _ in 0..3 {
        b.login(Patient, "pat.one", "another guess", None, guesser).await;
        let again = b.login_on(Patient, "pat.one", &login.password, None, owner, Some(&device)).await;
        assert!(again.is_some_and(|ok| ok.device.is_none()), "the owner on a known device is in at once");
    }
    // A device token is one account's: it does nothing for another.
    b.prov().create_patient_login(&pid("p1"), "pat-2", "pat.two", "Pat Two", false).await.unwrap();
    let devices = portal_core::identity::devices::Devices { db: b.db() };
    assert!(!devices.knows(&pid("p1"), "patient#pat.two", &device).await.unwrap());
    // The guesser's held-back attempts counted against its address: after the account's delay it
    // is still stopped, whatever it sends.
    b.clock.advance(MAX_DELAY_SECONDS);
    assert!(!b.login(Patient, "pat.one", &login.password, None, guesser).await, "the guesser's address is stopped");
    // A stolen device token buys a handful of guesses, then it is a stranger again.
    for _ in 0..portal_core::identity::devices::MAX_FAILURES {
        assert!(b.login_on(Patient, "pat.one", "stolen cookie guess", None, "192.0.2.7", Some(&device)).await.is_none());
    }
    assert!(!devices.knows(&pid("p1"), "patient#pat.one", &device).await.unwrap());
}

/// The second probe's second finding: a patient named like a staff member used up that staff
/// member's authenticator codes. Used codes are kept per principal, so even a name shared from
/// before the names were kept apart (written here straight into the table) takes nothing away.
#[tokio::test]
async fn a_patient_named_like_staff_cannot_use_up_their_codes() {
    use portal_core::identity::session::PrincipalKind::{Patient, Staff};
    use portal_core::identity::totp::code_at;
    let b = AuthBench::new();
    b.prov().create_practice(&pid("p1"), "P One", vec![]).await.unwrap();
    let admin = b.prov().create_staff(&pid("p1"), "admin", "Admin", portal_core::identity::session::StaffRole::Admin).await.unwrap();
    let secret = portal_core::identity::totp::generate_secret();
    let creds = portal_core::identity::credentials::Credentials { db: b.db() };
    let (mut shadow, _) = creds.get(&pid("p1"), Staff, &portal_core::ids::Username::parse("admin").unwrap()).await.unwrap().unwrap();
    shadow.kind = Patient;
    shadow.principal_id = "pat-9".into();
    shadow.role = None;
    shadow.totp_secret = Some(secret.clone());
    shadow.password_hash = portal_core::identity::password::hash("the shadow's password").unwrap();
    creds.put(&pid("p1"), &shadow, 0).await.unwrap();
    let step = portal_core::identity::totp::step_at(b.clock.now()).unwrap();
    assert!(b.login(Patient, "admin", "the shadow's password", Some(&code_at(&secret, step).unwrap()), "198.51.100.1").await);
    let code = code_at(admin.totp_secret.as_ref().unwrap(), step).unwrap();
    assert!(b.login(Staff, "admin", &admin.password, Some(&code), "203.0.113.9").await, "the staff member's code of the same step works");
    assert!(!b.login(Staff, "admin", &admin.password, Some(&code), "203.0.113.9").await, "once");
}
