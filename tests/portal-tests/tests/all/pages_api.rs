//! What the pages rely on before and around a login: a practice's own portal address, the session
//! state without an error on a first visit, feature availability that matches the deployed
//! modules, and the audit view's filters, paging and names.

use crate::support::{client, pid, send, start_local};
use portal_core::ports::Db;
use portal_core::practice::features::Feature;
use serde_json::{json, Value};

#[tokio::test]
async fn a_practice_has_its_own_portal_address() {
    let l = start_local().await;
    let (s, v) = l.get("/v1/practices/lakeside", None).await;
    let contact = json!({
        "phone": "(269) 555-0100",
        "address": "120 Harbor Drive\nLakeside, MI 49116",
        "hours": "Monday to Thursday, 8 a.m. to 5 p.m.\nFriday, 8 a.m. to noon",
        "appointmentRequests": true,
    });
    assert_eq!(
        (s, &v),
        (200, &json!({"id": "lakeside", "name": "Lakeside Family Dental", "portalPath": "/p/lakeside/", "contact": contact}))
    );
    for unknown in ["/v1/practices/nowhere", "/v1/practices/NOT%20AN%20ID"] {
        let (s, v) = l.get(unknown, None).await;
        assert_eq!((s, &v["code"]), (404, &json!("not_found")), "{unknown}: {v}");
    }
    // The address serves the patient page; without its slash it redirects to it.
    let (s, body, h) = send(client().get(l.url("/p/lakeside/"))).await;
    assert_eq!(s, 200);
    assert!(h["content-type"].to_str().unwrap().starts_with("text/html"));
    assert!(body.is_null(), "the page is HTML, not JSON");
    let (s, _, h) = send(client().get(l.url("/p/lakeside"))).await;
    assert_eq!((s, h["location"].to_str().unwrap()), (308, "/p/lakeside/"));
    assert_eq!(send(client().get(l.url("/p/lakeside/secret.txt"))).await.0, 404);
    // Staff are shown it as their portal link.
    let staff = l.staff_token(0).await;
    let (_, page) = l.get("/v1/admin/settings", Some(&staff)).await;
    assert_eq!(page["portalPath"], "/p/lakeside/");
}

#[tokio::test]
async fn session_state_is_an_answer_not_an_error() {
    let l = start_local().await;
    let (s, v) = l.get("/v1/session", None).await;
    assert_eq!((s, &v), (200, &json!({"authenticated": false})));
    let (s, v) = l.get("/v1/session", Some("lakeside.not-a-real-token-at-all-not-a-real-token-xx")).await;
    assert_eq!((s, &v), (200, &json!({"authenticated": false})));
    let patient = l.patient_token(0, 0).await;
    let (s, v) = l.get("/v1/session", Some(&patient)).await;
    let idle = portal_core::identity::session::IDLE_TIMEOUT - portal_core::identity::session::TOUCH_INTERVAL;
    assert_eq!(
        (s, &v),
        (
            200,
            &json!({"authenticated": true, "kind": "patient", "practiceId": "lakeside", "mustChangePassword": false, "idleSeconds": idle})
        )
    );
    assert_eq!(l.json("POST", "/v1/auth/logout", Some(&patient), json!({})).await.0, 200);
    assert_eq!(l.get("/v1/session", Some(&patient)).await.1, json!({"authenticated": false}), "ended at logout");
}

#[tokio::test]
async fn features_are_available_exactly_when_their_module_serves_routes() {
    let routes = portal_local::modules::all_routes();
    for f in Feature::ALL {
        let served = routes.iter().any(|(_, r)| r.path.starts_with(f.route_prefix()));
        assert_eq!(f.available(), served, "{f}: listed as available = {}, module routes served = {served}", f.available());
    }
    let l = start_local().await;
    let patient = l.patient_token(0, 0).await;
    let (_, me) = l.get("/v1/me", Some(&patient)).await;
    for f in me["features"].as_array().unwrap() {
        let key = Feature::parse(f["key"].as_str().unwrap()).unwrap();
        assert_eq!(f["available"], json!(key.available()), "{f}");
    }
}

#[tokio::test]
async fn the_audit_view_filters_pages_and_names() {
    let l = start_local().await;
    let staff = l.staff_token(0).await;
    let alex = l.patient_token(0, 0).await;
    l.get("/v1/me", Some(&alex)).await;
    let (s, v) = l.get("/v1/admin/audit?what=health-data&limit=5", Some(&staff)).await;
    assert_eq!(s, 200, "{v}");
    let entries = v["entries"].as_array().unwrap();
    assert!(!entries.is_empty());
    assert!(entries.iter().all(|e| e["action"].as_str().unwrap().ends_with(".read")), "{v}");
    assert_eq!(v["names"]["pat-1001"], "Alex Morgan", "patients are named: {}", v["names"]);
    // Who: staff only, and one person; the staff member is named by their login.
    let (_, v) = l.get("/v1/admin/audit?actorKind=staff&what=logins", Some(&staff)).await;
    let entries = v["entries"].as_array().unwrap();
    assert!(!entries.is_empty() && entries.iter().all(|e| e["actorKind"] == "staff" && e["action"].as_str().unwrap().starts_with("auth.")));
    let someone = entries[0]["actor"].as_str().unwrap().to_string();
    assert!(v["names"][&someone].is_string(), "staff named: {}", v["names"]);
    let (_, v) = l.get(&format!("/v1/admin/audit?actor={someone}"), Some(&staff)).await;
    assert!(v["entries"].as_array().unwrap().iter().all(|e| e["actor"] == someone.as_str()));
    // Date range: nothing before the epoch's first day; everything up to now.
    let (_, v) = l.get("/v1/admin/audit?from=0&to=86400", Some(&staff)).await;
    assert_eq!(v["entries"], json!([]));
    // Paging: pages of two follow each other without overlap, newest first.
    let mut seen: Vec<Value> = vec![];
    let mut cursor: Option<String> = None;
    for _ in 0..3 {
        let mut q = vec![("limit", "2".to_string())];
        q.extend(cursor.clone().map(|c| ("cursor", c)));
        let (s, v, _) = send(client().get(l.url("/v1/admin/audit")).query(&q).bearer_auth(&staff)).await;
        assert_eq!(s, 200, "{v}");
        seen.extend(v["entries"].as_array().unwrap().iter().cloned());
        cursor = v["cursor"].as_str().map(str::to_string);
    }
    let (_, all) = l.get("/v1/admin/audit?limit=6", Some(&staff)).await;
    assert_eq!(&seen, all["entries"].as_array().unwrap(), "three pages of two are the first six");
    // Bad filters are problems.
    for bad in [
        "what=everything",
        "actorKind=robot",
        "cursor=bm90LWEtY3Vyc29y",
        "from=yesterday",
        "to=10000000000",
        "from=-1",
        &format!("actor={}", "x".repeat(201)),
    ] {
        let (s, v) = l.get(&format!("/v1/admin/audit?{bad}"), Some(&staff)).await;
        assert_eq!(s, 400, "{bad}: {v}");
    }
}

/// "Verify log" over HTTP: once the demo's day is sealed, the log checks as intact up to it; an
/// entry rewritten afterwards is named; only an administrator may check; a made-up cursor is a
/// problem.
#[tokio::test]
async fn verify_log_names_an_entry_changed_after_its_day_was_sealed() {
    use crate::support::now;
    use portal_core::audit::seal::AuditSeals;
    use portal_core::ports::{query_all, Cond, ManualClock, Query, Table};
    let l = start_local().await;
    let admin = l.staff_token(0).await;
    let front_desk = l.staff_token_as(0, portal_core::identity::session::StaffRole::FrontDesk).await;
    let table = l.backends.table.clone();
    let (s, v) = l.get("/v1/admin/audit/verify", Some(&admin)).await;
    assert_eq!((s, &v["days"], &v["problem"], &v["cursor"]), (200, &json!(0), &Value::Null, &Value::Null), "nothing sealed yet: {v}");
    // Three days on, today (the demo's seeding, these logins) has been sealed.
    let later = ManualClock::new(now() + 3 * 86_400);
    let sealed = AuditSeals { db: Db { table: table.as_ref(), clock: &later } }.seal(&pid("lakeside")).await.unwrap();
    let (s, v) = l.get("/v1/admin/audit/verify", Some(&admin)).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["problem"], Value::Null, "{v}");
    assert_eq!(v["intactThrough"], sealed.last().unwrap().day.as_str());
    assert_eq!(v["entries"], json!(sealed.iter().map(|s| s.entries).sum::<usize>()));
    // An administrator's login rewritten as a failure is named.
    let entries = query_all(table.as_ref(), Query::new(portal_core::table_keys::audit(&pid("lakeside")))).await.unwrap();
    let login = entries.iter().find(|e| e.data["action"] == "auth.staff.login").unwrap().clone();
    let mut rewritten = login.clone();
    std::sync::Arc::make_mut(&mut rewritten.data)["outcome"] = json!("failure");
    table.put(rewritten, Cond::None).await.unwrap();
    let (_, v) = l.get("/v1/admin/audit/verify", Some(&admin)).await;
    assert_eq!(v["problem"]["kind"], "altered", "{v}");
    assert_eq!(v["problem"]["entry"], login.sk.as_str());
    assert_eq!(v["problem"]["action"], "auth.staff.login");
    let (s, v) = l.get("/v1/admin/audit/verify", Some(&front_desk)).await;
    assert_eq!(s, 403, "{v}");
    let (s, v) = l.get("/v1/admin/audit/verify?cursor=bm90LWEtY3Vyc29y", Some(&admin)).await;
    assert_eq!((s, &v["code"]), (400, &json!("cursor_invalid")), "{v}");
}
