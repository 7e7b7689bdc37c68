//! A practice's setup end to end: settings and their conflicts, features closing their routes at
//! once, tenants and roles walled off, URLs verified (and never inside on AWS), secrets stored as
//! hashes, security headers, and the demo dated from today.

use super::*;
use crate::support::pid;
use portal_core::ports::Db;

pub(super) async fn settings(l: &Local, staff: &str) -> Value {
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
pub(super) async fn cloud_admin() -> (axum::Router, std::collections::HashMap<String, String>, Arc<dyn Table>) {
    let table: Arc<dyn Table> = Arc::new(portal_embedded::SqliteTable::in_memory().unwrap());
    let clock = Arc::new(portal_core::ports::SystemClock);
    let prov = portal_core::identity::provision::Provisioner { db: Db { table: table.as_ref(), clock: clock.as_ref() } };
    prov.create_practice(&pid("p1"), "P One", vec![]).await.unwrap();
    let staff = prov.create_staff(&pid("p1"), "admin", "Admin", portal_core::identity::session::StaffRole::Admin).await.unwrap();
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

pub(super) async fn call(
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
