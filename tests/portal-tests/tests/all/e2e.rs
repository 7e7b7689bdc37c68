//! End-to-end HTTP flows against a portal-local started in this process (real sockets, real
//! SQLite, the authorizer as middleware), as a patient, a staff member and an attacker would use it.

use crate::support::{client, send, start_local, Local};
use portal_core::ports::{Clock, ManualClock, Table};
use portal_core::practice::url_policy::UrlRules;
use serde_json::{json, Value};
use std::sync::Arc;

fn assert_problem(status: u16, body: &Value, want_status: u16, want_code: &str) {
    assert_eq!(status, want_status, "{body}");
    assert_eq!(body["code"], want_code, "{body}");
    for k in ["type", "title", "status", "detail", "code"] {
        assert!(!body[k].is_null(), "problem body lacks {k}: {body}");
    }
    assert_eq!(body["status"], want_status);
}

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

struct AuthBench {
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
    fn auth(&self) -> portal_core::identity::auth::AuthService<'_> {
        portal_core::identity::auth::AuthService { table: self.table.as_ref(), clock: self.clock.as_ref(), events: self.events.as_ref() }
    }
    fn prov(&self) -> portal_core::identity::provision::Provisioner<'_> {
        portal_core::identity::provision::Provisioner { table: self.table.as_ref(), clock: self.clock.as_ref() }
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
    ) -> Option<portal_core::identity::auth::LoginOk> {
        let input =
            portal_core::identity::auth::LoginInput { practice: "p1", username: user, password: pw, totp, recovery_code: None, device };
        let meta = portal_core::identity::auth::RequestMeta { source_ip: Some(ip.into()) };
        match self.auth().login(kind, input, &meta).await {
            Ok(portal_core::identity::auth::LoginResult::Session(ok)) => Some(ok),
            _ => None,
        }
    }
}

#[tokio::test]
async fn throttling_slows_the_guesser_and_never_locks_the_owner_out() {
    use portal_core::identity::session::PrincipalKind::Patient;
    use portal_core::identity::throttle::{FREE_FAILURES, MAX_DELAY_SECONDS};
    let b = AuthBench::new();
    b.prov().create_practice("p1", "P One", vec![]).await.unwrap();
    let login = b.prov().create_patient_login("p1", "pat-1", "pat.one", "Pat One", false).await.unwrap();
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
    let meta = portal_core::identity::auth::RequestMeta::default();
    let input = portal_core::identity::auth::LoginInput {
        practice: "p1",
        username: "pat.one",
        password: &login.password,
        totp: None,
        recovery_code: None,
        device: None,
    };
    let portal_core::identity::auth::LoginResult::Session(ok) = b.auth().login(Patient, input, &meta).await.unwrap() else {
        panic!("no second factor here")
    };
    let sessions = portal_core::identity::session::Sessions { table: b.table.as_ref(), clock: b.clock.as_ref() };
    assert!(sessions.resolve(&ok.token).await.unwrap().is_some());
    b.clock.advance(portal_core::identity::session::IDLE_TIMEOUT + 1);
    assert!(sessions.resolve(&ok.token).await.unwrap().is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn parallel_guesses_are_all_counted() {
    use portal_core::identity::session::PrincipalKind::Patient;
    let b = Arc::new(AuthBench::new());
    b.prov().create_practice("p1", "P One", vec![]).await.unwrap();
    b.prov().create_patient_login("p1", "pat-1", "pat.one", "Pat One", false).await.unwrap();
    let mut burst = tokio::task::JoinSet::new();
    for n in 0..20 {
        let b = b.clone();
        burst.spawn(async move { b.login(Patient, "pat.one", &format!("guess {n}"), None, "198.51.100.1").await });
    }
    burst.join_all().await;
    // Only the free attempts had their password checked; the rest waited unchecked.
    let audit = portal_core::audit::AuditLog { table: b.table.as_ref(), clock: b.clock.as_ref() };
    let entries = audit.search("p1", &Default::default(), 100, None).await.unwrap().entries;
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
    b.prov().create_practice("p1", "P One", vec![]).await.unwrap();
    let admin = b.prov().create_staff("p1", "admin", "Admin", portal_core::identity::session::StaffRole::Admin).await.unwrap();
    for _ in 0..10 {
        assert!(!b.login(Staff, "admin", "guess", Some("000000"), "198.51.100.1").await);
    }
    let code = portal_core::identity::totp::code_at(
        admin.totp_secret.as_ref().unwrap(),
        (b.clock.now() / portal_core::identity::totp::STEP) as u64,
    )
    .unwrap();
    assert!(!b.login(Staff, "admin", "guess", Some(&code), "198.51.100.1").await, "a valid code alone is not enough");
    let code = portal_core::identity::totp::code_at(
        admin.totp_secret.as_ref().unwrap(),
        (b.clock.now() / portal_core::identity::totp::STEP + 1) as u64,
    )
    .unwrap();
    assert!(b.login(Staff, "admin", &admin.password, Some(&code), "203.0.113.9").await, "the owner is in at once");
}

#[tokio::test]
async fn an_address_with_too_many_failures_waits_and_others_do_not() {
    use portal_core::identity::session::PrincipalKind::Patient;
    let b = AuthBench::new();
    b.prov().create_practice("p1", "P One", vec![]).await.unwrap();
    let login = b.prov().create_patient_login("p1", "pat-1", "pat.one", "Pat One", false).await.unwrap();
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

async fn settings(l: &Local, staff: &str) -> Value {
    let (s, v) = l.get("/v1/admin/settings", Some(staff)).await;
    assert_eq!(s, 200, "{v}");
    v["settings"].clone()
}

#[tokio::test]
async fn disabling_a_feature_closes_its_routes_at_once() {
    let l = start_local().await;
    let patient = l.patient_token(0, 0).await;
    let staff = l.staff_token(0).await;
    // Enabled and served; a message written now is kept while the feature is off.
    let (s, sent) =
        l.json("POST", "/v1/webmail/messages", Some(&patient), json!({"providerId": "prov-1", "subject": "Hello", "body": "Kept"})).await;
    assert_eq!(s, 201, "{sent}");
    let current = settings(&l, &staff).await;
    let keep: Vec<Value> = current["features"].as_array().unwrap().iter().filter(|f| *f != "ModuleWebMail").cloned().collect();
    let (s, v) = l
        .json("PUT", "/v1/admin/settings/features", Some(&staff), json!({"features": keep, "version": current["versions"]["features"]}))
        .await;
    assert_eq!(s, 200, "{v}");
    let (s, v) = l.get("/v1/webmail/messages", Some(&patient)).await;
    assert_problem(s, &v, 403, "feature_disabled");
    let (s, v) = l.json("POST", "/v1/webmail", Some(&patient), json!({})).await;
    assert_problem(s, &v, 403, "feature_disabled");
    let (s, v) = l.get("/v1/admin/webmail/messages", Some(&staff)).await;
    assert_problem(s, &v, 403, "feature_disabled");
    let (_, me) = l.get("/v1/me", Some(&patient)).await;
    assert!(!me["features"].as_array().unwrap().iter().any(|f| f["key"] == "ModuleWebMail"));
    // The change is audited with before and after.
    let (s, log) = l.get("/v1/admin/audit", Some(&staff)).await;
    assert_eq!(s, 200);
    let entry = log["entries"].as_array().unwrap().iter().find(|e| e["action"] == "settings.features.update").expect("audited");
    assert!(entry["detail"]["before"].as_array().unwrap().contains(&json!("ModuleWebMail")));
    assert!(!entry["detail"]["after"].as_array().unwrap().contains(&json!("ModuleWebMail")));
    assert_eq!(entry["actorKind"], "staff");
    let now = settings(&l, &staff).await;
    let (s, _) = l
        .json(
            "PUT",
            "/v1/admin/settings/features",
            Some(&staff),
            json!({"features": current["features"], "version": now["versions"]["features"]}),
        )
        .await;
    assert_eq!(s, 200);
    let (_, sent_folder) = l.get("/v1/webmail/messages?folder=sent", Some(&patient)).await;
    assert_eq!(sent_folder["items"][0]["id"], sent["id"], "switched on again, the message is there");
}

#[tokio::test]
async fn tenants_and_roles_are_walled_off() {
    let l = start_local().await;
    let staff_a = l.staff_token(0).await;
    let staff_b = l.staff_token(1).await;
    let patient_a = l.patient_token(0, 0).await;
    let before_b = settings(&l, &staff_b).await;
    let a = settings(&l, &staff_a).await;
    assert_eq!(a["practiceName"], "Lakeside Family Dental");
    // Ids in the request are not taken: unknown fields are refused, query strings ignored.
    let (s, v) = l
        .json(
            "PUT",
            "/v1/admin/settings/features",
            Some(&staff_a),
            json!({"features": [], "version": before_b["versions"]["features"], "practice": "hillcrest"}),
        )
        .await;
    assert_problem(s, &v, 400, "invalid_body");
    let (s, v) = l.get("/v1/admin/settings?practice=hillcrest", Some(&staff_a)).await;
    assert_eq!((s, &v["settings"]["practiceName"]), (200, &json!("Lakeside Family Dental")));
    // A token re-labelled with the other practice's id is no session at all.
    let forged = format!("hillcrest.{}", staff_a.split_once('.').unwrap().1);
    assert_eq!(l.get("/v1/admin/settings", Some(&forged)).await.0, 401);
    assert_eq!(settings(&l, &staff_b).await, before_b, "practice B unchanged");
    // Patients are not staff; staff are not patients.
    let (s, v) = l.get("/v1/admin/settings", Some(&patient_a)).await;
    assert_problem(s, &v, 403, "staff_only");
    let (s, v) = l.get("/v1/account", Some(&staff_a)).await;
    assert_problem(s, &v, 403, "feature_disabled");
}

#[tokio::test]
async fn concurrent_saves_conflict_per_section_and_show_current_values() {
    let l = start_local().await;
    let one = l.staff_token(0).await;
    let two = l.staff_token(0).await;
    let seen = settings(&l, &one).await;
    let v0 = seen["versions"]["features"].as_u64().unwrap();
    let (s, _) = l.json("PUT", "/v1/admin/settings/features", Some(&one), json!({"features": ["ModuleAccount"], "version": v0})).await;
    assert_eq!(s, 200);
    // Another section, opened before that save, still saves: its own version did not move.
    let urls = json!({"patientFacingUrl": "https://portal.lakeside.example/", "version": seen["versions"]["urls"]});
    let (s, v) = l.json("PUT", "/v1/admin/settings/urls", Some(&two), urls).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["settings"]["features"], json!(["ModuleAccount"]), "the other section's save is kept");
    // The same section, opened before that save, conflicts and is shown what is stored.
    let (s, v) = l.json("PUT", "/v1/admin/settings/features", Some(&two), json!({"features": ["MakePayments"], "version": v0})).await;
    assert_problem(s, &v, 409, "settings_changed");
    assert_eq!(v["current"]["features"], json!(["ModuleAccount"]));
    assert_eq!(v["current"]["versions"]["features"], json!(v0 + 1));
    assert_eq!(v["current"]["urls"]["patientFacingUrl"], "https://portal.lakeside.example/");
}

#[tokio::test]
async fn bad_input_is_refused_with_problems_and_changes_nothing() {
    let l = start_local().await;
    let staff = l.staff_token(0).await;
    let before = settings(&l, &staff).await;
    let v = before["versions"]["features"].clone();
    let http = client();
    let put = |path: &str| http.put(l.url(path)).bearer_auth(&staff);
    let cases: Vec<(reqwest::RequestBuilder, u16, &str)> = vec![
        (put("/v1/admin/settings/features").header("content-type", "application/json").body("{\"features\": [\"MakePayments\""), 400, "malformed_json"),
        (put("/v1/admin/settings/features").json(&json!({"features": ["ModuleWebmail"], "version": v})), 400, "unknown_feature"),
        (put("/v1/admin/settings/features").json(&json!({"features": "MakePayments", "version": v})), 400, "invalid_body"),
        (put("/v1/admin/settings/features").json(&json!({"features": [1, 2], "version": "one"})), 400, "invalid_body"),
        (put("/v1/admin/settings/features").header("content-type", "application/json"), 400, "body_empty"),
        (put("/v1/admin/settings/features").header("content-type", "application/json").body(vec![b'{', 0xff, 0xfe, b'}']), 400, "body_not_utf8"),
        (put("/v1/admin/settings/features").header("content-type", "application/json").body(format!("{{\"features\": [], \"version\": {v}, \"pad\": \"{}\"}}", "x".repeat(200_000))), 413, "body_too_large"),
        (put("/v1/admin/settings/features").header("content-type", "text/plain").body("features=all"), 415, "unsupported_media_type"),
        (put("/v1/admin/settings/urls").json(&json!({"patientFacingUrl": "javascript:alert(1)", "version": v})), 400, "url_invalid"),
        (put("/v1/admin/settings/webmail").json(&json!({"notificationSender": "office@example.com", "defaultNotifyAddress": "desk@example.com", "subject": "New message", "bodyTemplate": "no link here", "version": v})), 400, "body_missing_url"),
        (put("/v1/admin/settings/webmail").json(&json!({"notificationSender": "not an address", "defaultNotifyAddress": "desk@example.com", "subject": "New message", "bodyTemplate": "[URL]", "version": v})), 400, "email_invalid"),
        (http.post(l.url("/v1/auth/login")).json(&json!({"practice": "lakeside", "username": ["x"], "password": null})), 400, "invalid_body"),
        (http.post(l.url("/v1/auth/login")).json(&json!({"practice": "lakeside", "username": "x", "password": "y".repeat(5000)})), 401, "login_failed"),
    ];
    for (req, status, code) in cases {
        let (s, body, h) = send(req).await;
        assert_problem(s, &body, status, code);
        assert_eq!(h["content-type"], "application/problem+json");
    }
    assert_eq!(settings(&l, &staff).await, before, "nothing stored changed");
}

#[tokio::test]
async fn webmail_and_urls_save_and_round_trip() {
    let l = start_local().await;
    let staff = l.staff_token(0).await;
    let v = settings(&l, &staff).await["versions"]["webmail"].clone();
    let wm = json!({"notificationSender": "office@lakeside.example", "defaultNotifyAddress": "frontdesk@lakeside.example", "subject": "A message from [PracticeName]", "bodyTemplate": "You have a new secure message from [PracticeName]: [URL]", "version": v});
    let (s, out) = l.json("PUT", "/v1/admin/settings/webmail", Some(&staff), wm).await;
    assert_eq!(s, 200, "{out}");
    assert_eq!(out["settings"]["webmail"]["notificationSender"], "office@lakeside.example");
    let v = out["settings"]["versions"]["urls"].clone();
    let (s, out) = l
        .json(
            "PUT",
            "/v1/admin/settings/urls",
            Some(&staff),
            json!({"patientFacingUrl": "https://portal.lakeside.example/", "practiceWebsiteUrl": "", "version": v}),
        )
        .await;
    assert_eq!(s, 200, "{out}");
    assert_eq!(out["settings"]["urls"], json!({"patientFacingUrl": "https://portal.lakeside.example/", "practiceWebsiteUrl": null}));
}

#[tokio::test]
async fn verify_requests_the_url_for_real() {
    let l = start_local().await;
    let staff = l.staff_token(0).await;
    let (s, v) = l.json("POST", "/v1/admin/settings/urls/verify", Some(&staff), json!({"url": l.url("/v1/health")})).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!((&v["reachable"], &v["status"]), (&json!(true), &json!(200)));
    let (_, v) = l.json("POST", "/v1/admin/settings/urls/verify", Some(&staff), json!({"url": l.url("/nothing-here.html")})).await;
    assert_eq!((&v["reachable"], &v["status"]), (&json!(false), &json!(404)));
    // A closed port: connection refused, said plainly.
    let (_, v) = l.json("POST", "/v1/admin/settings/urls/verify", Some(&staff), json!({"url": "http://127.0.0.1:9/"})).await;
    assert_eq!(v["reachable"], false);
    assert!(v["detail"].as_str().unwrap().contains("no site answers at this address"), "{v}");
}

/// The admin function as it runs on Lambda (cloud rules), with the context API Gateway would pass.
async fn cloud_admin() -> (axum::Router, std::collections::HashMap<String, String>, Arc<dyn Table>) {
    let table: Arc<dyn Table> = Arc::new(portal_embedded::SqliteTable::in_memory().unwrap());
    let clock = Arc::new(portal_core::ports::SystemClock);
    let prov = portal_core::identity::provision::Provisioner { table: table.as_ref(), clock: clock.as_ref() };
    prov.create_practice("p1", "P One", vec![]).await.unwrap();
    let staff = prov.create_staff("p1", "admin", "Admin", portal_core::identity::session::StaffRole::Admin).await.unwrap();
    let ctx = portal_core::access::AuthContext {
        practice_id: portal_core::ids::PracticeId::parse("p1").unwrap(),
        practice_name: "P One".into(),
        principal_id: staff.principal_id,
        kind: portal_core::identity::session::PrincipalKind::Staff,
        role: Some(portal_core::identity::session::StaffRole::Admin),
        username: "admin".into(),
        features: vec![],
        family_access: Default::default(),
        session_id: "s".into(),
        must_change_password: false,
    };
    (
        portal_admin::router(
            portal_admin::Deps::new(
                table.clone(),
                clock,
                Arc::new(portal_embedded::LocalSecretBox::new(&[1; 32])),
                UrlRules { local_mode: false },
            )
            .with_mail_domains(vec!["smile.example".into()]),
        ),
        ctx.to_fields(),
        table,
    )
}

async fn call(
    router: &axum::Router,
    fields: &std::collections::HashMap<String, String>,
    method: &str,
    path: &str,
    body: Value,
) -> (u16, Value) {
    use tower::ServiceExt;
    let mut req = http::Request::builder()
        .method(method)
        .uri(path)
        .header("content-type", "application/json")
        .body(axum::body::Body::from(body.to_string()))
        .unwrap();
    req.extensions_mut().insert(portal_http::api_gateway_context(Some(fields.clone()), "203.0.113.9", method, path));
    let res = router.clone().oneshot(req).await.unwrap();
    let status = res.status().as_u16();
    let bytes = axum::body::to_bytes(res.into_body(), 1 << 20).await.unwrap();
    (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
}

/// On AWS the mail service sends only from the deployment's verified domains: staff cannot save
/// a sender elsewhere (every notification would fail), and are told which domains there are.
#[tokio::test]
async fn a_notification_sender_outside_the_deployments_mail_domains_is_refused_on_save() {
    let (router, fields, _) = cloud_admin().await;
    let webmail = |sender: &str| {
        json!({"notificationSender": sender, "defaultNotifyAddress": "front@smile.example", "subject": "A message is waiting",
               "bodyTemplate": "Log in at [URL] to read it. [PracticeName]", "version": 0})
    };
    let (s, v) = call(&router, &fields, "PUT", "/v1/admin/settings/webmail", webmail("office@gmail.com")).await;
    assert_problem(s, &v, 400, "sender_domain_not_allowed");
    assert!(v["detail"].as_str().unwrap().contains("smile.example"), "{v}");
    let (s, v) = call(&router, &fields, "PUT", "/v1/admin/settings/webmail", webmail("office@smile.example")).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["settings"]["webmail"]["notificationSender"], "office@smile.example");
}

#[tokio::test]
async fn outside_local_mode_urls_must_be_https_and_verify_never_reaches_inside() {
    let (router, fields, _) = cloud_admin().await;
    let (s, v) =
        call(&router, &fields, "PUT", "/v1/admin/settings/urls", json!({"patientFacingUrl": "http://portal.example.com/", "version": 1}))
            .await;
    assert_problem(s, &v, 400, "url_not_https");
    let (s, v) = call(&router, &fields, "GET", "/v1/admin/settings", json!(null)).await;
    assert_eq!((s, &v["settings"]["versions"]["urls"], &v["rules"]["httpsRequired"]), (200, &json!(0), &json!(true)));
    for url in
        ["https://127.0.0.1/", "https://169.254.169.254/latest/meta-data/", "https://[::1]/", "https://10.0.0.1/", "https://localhost/"]
    {
        let (s, v) = call(&router, &fields, "POST", "/v1/admin/settings/urls/verify", json!({"url": url})).await;
        assert_eq!(s, 200, "{url}: {v}");
        assert_eq!(v["reachable"], false, "{url}: {v}");
        assert!(v["status"].is_null(), "{url} was requested: {v}");
    }
    let (s, v) = call(&router, &fields, "POST", "/v1/admin/settings/urls/verify", json!({"url": "http://portal.example.com/"})).await;
    assert_problem(s, &v, 400, "url_not_https");
}

#[tokio::test]
async fn secrets_are_stored_only_as_hashes() {
    let l = start_local().await;
    let token = l.patient_token(0, 0).await;
    let p = &l.logins.practices[0];
    let cred = l.backends.table.get("P#lakeside", &format!("CRED#patient#{}", p.patients[0].username)).await.unwrap().unwrap();
    let hash = cred.data["passwordHash"].as_str().unwrap();
    let params = hash.strip_prefix("$argon2id$v=19$m=").unwrap();
    let m: u32 = params.split(',').next().unwrap().parse().unwrap();
    let t: u32 = params.split(",t=").nth(1).unwrap().split(',').next().unwrap().parse().unwrap();
    assert!(m >= 19456 && t >= 2, "{hash}");
    // Neither the session token nor any password appears anywhere in the database files.
    drop(cred);
    let mut raw = Vec::new();
    for entry in std::fs::read_dir(l.data_dir.path()).unwrap() {
        let path = entry.unwrap().path();
        if path.to_string_lossy().contains("portal.db") {
            raw.extend(std::fs::read(&path).unwrap());
        }
    }
    let text = String::from_utf8_lossy(&raw);
    let secret = token.split_once('.').unwrap().1;
    assert!(!text.contains(secret), "session token stored in clear");
    assert!(!text.contains(&p.patients[0].password), "password stored in clear");
    assert!(text.contains(&portal_core::identity::session::hash_token(&token)), "the session is stored under its hash");
}

#[tokio::test]
async fn pages_and_outbox_are_served_with_security_headers() {
    let l = start_local().await;
    for path in ["/", "/p/lakeside/", "/admin/", "/app.js", "/lib.js", "/admin/app.js", "/style.css", "/favicon.svg", "/_local/outbox"] {
        let res = client().get(l.url(path)).send().await.unwrap();
        assert_eq!(res.status(), 200, "{path}");
        let h = res.headers();
        assert!(h["content-security-policy"].to_str().unwrap().contains("frame-ancestors 'none'"), "{path}");
        assert_eq!(h["x-content-type-options"], "nosniff");
        assert_eq!(h["referrer-policy"], "no-referrer");
        assert!(h.contains_key("strict-transport-security"));
    }
    assert_eq!(client().get(l.url("/admin")).send().await.unwrap().status(), 308);
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

/// A local host seeded long ago (here: its clock 400 days back) dates the demo afresh when it
/// starts again: the upcoming visits, the due recall's open slots and the newest statement are
/// where the README says, not a year in the past.
#[tokio::test]
async fn a_demo_seeded_long_ago_is_dated_from_today_on_the_next_start() {
    let data = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let base = format!("http://127.0.0.1:{port}");
    drop(crate::support::start_host(port, data.path(), Some(-400)).await);
    let logins: portal_local::DemoLogins =
        serde_json::from_str(&std::fs::read_to_string(data.path().join("demo-logins.json")).unwrap()).unwrap();
    assert_eq!(logins.dated_on, Some(crate::support::date_from_today(-400)));

    let _host = crate::support::start_host(port, data.path(), None).await;
    let alex = &logins.practices[0].patients[0];
    let login = json!({"practice": "lakeside", "username": alex.username, "password": alex.password});
    let (s, v, _) = send(client().post(format!("{base}/v1/auth/login")).json(&login)).await;
    assert_eq!(s, 200, "{v}");
    let token = v["token"].as_str().unwrap().to_string();
    let get = async |path: &str| send(client().get(format!("{base}{path}")).bearer_auth(&token)).await.1;
    let visits = get("/v1/appointments").await;
    let upcoming: Vec<&str> = visits["upcoming"].as_array().unwrap().iter().map(|a| &a["start"].as_str().unwrap()[..10]).collect();
    assert_eq!(upcoming, [crate::support::date_from_today(9)], "{visits}");
    let recalls = get("/v1/appointments/recalls?patient=pat-1004").await;
    assert_eq!(recalls["items"][0]["slots"].as_array().unwrap().len(), 4, "{recalls}");
    let statements = get("/v1/account/statements").await;
    assert_eq!(statements["items"][0]["date"], crate::support::date_from_today(-5), "{statements}");
    let logins: portal_local::DemoLogins =
        serde_json::from_str(&std::fs::read_to_string(data.path().join("demo-logins.json")).unwrap()).unwrap();
    assert_eq!(logins.dated_on, Some(crate::support::date_from_today(0)));
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
    b.prov().create_practice("p1", "P One", vec![]).await.unwrap();
    let login = b.prov().create_patient_login("p1", "pat-1", "pat.one", "Pat One", false).await.unwrap();
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
    b.prov().create_patient_login("p1", "pat-2", "pat.two", "Pat Two", false).await.unwrap();
    let devices = portal_core::identity::devices::Devices { table: b.table.as_ref(), clock: b.clock.as_ref() };
    assert!(!devices.knows("p1", "patient#pat.two", &device).await.unwrap());
    // The guesser's held-back attempts counted against its address: after the account's delay it
    // is still stopped, whatever it sends.
    b.clock.advance(MAX_DELAY_SECONDS);
    assert!(!b.login(Patient, "pat.one", &login.password, None, guesser).await, "the guesser's address is stopped");
    // A stolen device token buys a handful of guesses, then it is a stranger again.
    for _ in 0..portal_core::identity::devices::MAX_FAILURES {
        assert!(b.login_on(Patient, "pat.one", "stolen cookie guess", None, "192.0.2.7", Some(&device)).await.is_none());
    }
    assert!(!devices.knows("p1", "patient#pat.one", &device).await.unwrap());
}

/// The second probe's second finding: a patient named like a staff member used up that staff
/// member's authenticator codes. Used codes are kept per principal, so even a name shared from
/// before the names were kept apart (written here straight into the table) takes nothing away.
#[tokio::test]
async fn a_patient_named_like_staff_cannot_use_up_their_codes() {
    use portal_core::identity::session::PrincipalKind::{Patient, Staff};
    use portal_core::identity::totp::{code_at, STEP};
    let b = AuthBench::new();
    b.prov().create_practice("p1", "P One", vec![]).await.unwrap();
    let admin = b.prov().create_staff("p1", "admin", "Admin", portal_core::identity::session::StaffRole::Admin).await.unwrap();
    let secret = portal_core::identity::totp::generate_secret();
    let creds = portal_core::identity::credentials::Credentials { table: b.table.as_ref() };
    let (mut shadow, _) = creds.get("p1", Staff, "admin").await.unwrap().unwrap();
    shadow.kind = Patient;
    shadow.principal_id = "pat-9".into();
    shadow.role = None;
    shadow.totp_secret = Some(secret.clone());
    shadow.password_hash = portal_core::identity::password::hash("the shadow's password").unwrap();
    creds.put("p1", &shadow, 0).await.unwrap();
    let step = (b.clock.now() / STEP) as u64;
    assert!(b.login(Patient, "admin", "the shadow's password", Some(&code_at(&secret, step).unwrap()), "198.51.100.1").await);
    let code = code_at(admin.totp_secret.as_ref().unwrap(), step).unwrap();
    assert!(b.login(Staff, "admin", &admin.password, Some(&code), "203.0.113.9").await, "the staff member's code of the same step works");
    assert!(!b.login(Staff, "admin", &admin.password, Some(&code), "203.0.113.9").await, "once");
}
