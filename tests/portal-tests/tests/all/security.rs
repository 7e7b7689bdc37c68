//! The outside probes' findings, each as a test that failed before its fix: cross-site changes,
//! header arithmetic, audit writes from made-up keys, ids the file store cannot take, unbounded
//! sync keys, upload URLs that could overwrite accepted or deleted files, control characters in
//! email templates; and from the second probe: patient usernames that shadow staff, unlimited
//! reset mails, reset links that outlive a password change, XML-invalid characters in synced
//! names, short RSA keys for Direct, unbounded attachment declarations and care-summary sends.
//! (The device cookie and the second factor's removal are in `e2e` and `access`; the admins
//! demoting each other in the conformance suite, on both backends.)

use crate::support::{client, date_from_today, instant_from_now, now, pid, send, start_local, Local};
use crate::sync::SyncClient;
use portal_core::ports::{Blobs, Query, Table};
use portal_core::sync::signing::signed_headers;
use serde_json::{json, Value};

#[tokio::test]
async fn cookie_changes_from_another_site_are_refused() {
    let l = start_local().await;
    let p = &l.logins.practices[0];
    let alex = &p.patients[0];
    let (s, v, headers) = send(
        client().post(l.url("/v1/auth/login")).json(&json!({"practice": "lakeside", "username": alex.username, "password": alex.password})),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    let cookie = headers.get("set-cookie").unwrap().to_str().unwrap().split(';').next().unwrap().to_string();
    let logout = |extra: &[(&str, &str)]| {
        let mut r = client().post(l.url("/v1/auth/logout")).header("cookie", &cookie).header("content-type", "application/json").body("{}");
        for (k, v) in extra {
            r = r.header(*k, *v);
        }
        send(r)
    };
    let (s, v, _) = logout(&[("sec-fetch-site", "cross-site")]).await;
    assert_eq!((s, &v["code"]), (403, &json!("cross_site_request")), "{v}");
    let (s, v, _) = logout(&[("origin", "https://evil.example")]).await;
    assert_eq!((s, &v["code"]), (403, &json!("cross_site_request")), "{v}");
    // Reads are not changes, and the session survived both attempts.
    let (s, _, _) = send(client().get(l.url("/v1/me")).header("cookie", &cookie).header("sec-fetch-site", "cross-site")).await;
    assert_eq!(s, 200);
    let (s, v, _) = logout(&[("sec-fetch-site", "same-origin"), ("origin", &l.base)]).await;
    assert_eq!(s, 200, "{v}");
}

#[tokio::test]
async fn extreme_sync_timestamps_are_refused_not_panics() {
    let l = start_local().await;
    let p = &l.logins.practices[0];
    for ts in [i64::MIN, i64::MAX, -1] {
        let mut headers = signed_headers(&p.sync.key_id, &p.sync.secret, "GET", "/v1/sync/events", &[], b"", now());
        for h in headers.iter_mut().filter(|(k, _)| *k == "x-portal-timestamp") {
            h.1 = ts.to_string();
        }
        let mut r = client().get(l.url("/v1/sync/events"));
        for (k, v) in headers {
            r = r.header(k, v);
        }
        let (s, v, _) = send(r).await;
        assert_eq!((s, &v["code"]), (401, &json!("sync_timestamp_stale")), "{ts}: {v}");
    }
    assert_eq!(l.get("/v1/health", None).await.0, 200);
}

#[tokio::test]
async fn made_up_key_ids_write_nothing_to_any_audit_log() {
    let l = start_local().await;
    let staff = l.staff_token(0).await;
    for key_id in ["lakeside.0123456789abcdef01234567", "ghostpractice.0123456789abcdef01234567"] {
        let mut headers = signed_headers(key_id, "guessed", "GET", "/v1/sync/events", &[], b"", now());
        headers.push(("x-portal-extra", "<script>".into()));
        let mut r = client().get(l.url("/v1/sync/events?attacker=text-in-the-log"));
        for (k, v) in headers {
            r = r.header(k, v);
        }
        let (s, v, _) = send(r).await;
        assert_eq!(s, 401, "{v}");
    }
    let (_, log) = l.get("/v1/admin/audit?limit=200", Some(&staff)).await;
    assert!(!log.to_string().contains("0123456789abcdef01234567"), "a made-up key wrote to the log: {log}");
    let ghost = l.backends.table.query(Query::new("P#ghostpractice#AUDIT")).await.unwrap();
    assert!(ghost.items.is_empty(), "an audit partition for a practice that does not exist");
}

#[tokio::test]
async fn entity_ids_every_backend_cannot_take_are_refused_before_any_write() {
    let l = start_local().await;
    let p = &l.logins.practices[0];
    let c = SyncClient { local: &l, key_id: p.sync.key_id.clone(), secret: p.sync.secret.clone() };
    let doc = json!({"lastModified": "2026-11-20T10:00:00Z", "patientId": "pat-1001", "folder": "Portal", "sharedToPortal": true, "title": "T", "date": "2026-11-20", "file": {"contentType": "application/pdf", "size": 10, "fileName": "t.pdf"}});
    for id in ["x.meta", "a.b", "-x"] {
        let (s, v) = c.call("PUT", &format!("/v1/sync/documents/{id}"), &[], Some(&doc)).await;
        assert_eq!((s, &v["code"]), (400, &json!("field_invalid")), "{id}: {v}");
    }
    // `.` and `..` never reach a handler as ids (a URL normalises them); in a batch they are items.
    let items: Vec<Value> =
        [".", "..", "x.meta"].iter().map(|id| json!({"op": "upsert", "entity": "documents", "id": id, "body": doc})).collect();
    let (s, v) = c.call("POST", "/v1/sync/batch", &[], Some(&json!({"items": items}))).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["summary"], json!({"applied": 0, "unchanged": 0, "rejected": 3}), "{v}");
    let stored = l.backends.table.query(Query::new("P#lakeside").prefix("SYNC#documents#")).await.unwrap();
    assert!(stored.items.iter().all(|i| !i.sk.contains('.')), "an id with a dot was stored");
}

#[tokio::test]
async fn sync_keys_are_capped_and_listed_active_first_newest_first_with_last_use() {
    let l = start_local().await;
    let staff = l.staff_token(0).await;
    // The demo's own key is one of the ten, and the demo seed used it.
    for n in 1..portal_core::sync::signing::MAX_ACTIVE_KEYS {
        let (s, v) = l.json("POST", "/v1/admin/sync-keys", Some(&staff), json!({"label": format!("Server {n}")})).await;
        assert_eq!(s, 201, "{v}");
    }
    let (s, v) = l.json("POST", "/v1/admin/sync-keys", Some(&staff), json!({"label": "One too many"})).await;
    assert_eq!((s, &v["code"]), (422, &json!("sync_key_limit")), "{v}");
    let (_, v) = l.get("/v1/admin/sync-keys", Some(&staff)).await;
    assert_eq!(v["keys"].as_array().unwrap().len(), portal_core::sync::signing::MAX_ACTIVE_KEYS);
    for k in v["keys"].as_array().unwrap() {
        let used = k["lastUsedAt"].as_i64().is_some();
        assert_eq!(used, k["keyId"] == l.logins.practices[0].sync.key_id.as_str(), "only the demo's key was used: {k}");
    }
    let created: Vec<i64> = v["keys"].as_array().unwrap().iter().map(|k| k["createdAt"].as_i64().unwrap()).collect();
    assert!(created.windows(2).all(|w| w[0] >= w[1]), "newest first: {created:?}");
    // Revoking one makes room, and it moves below the active ones.
    let id = v["keys"][0]["keyId"].as_str().unwrap().to_string();
    assert_eq!(l.json("DELETE", &format!("/v1/admin/sync-keys/{id}"), Some(&staff), json!({})).await.0, 200);
    assert_eq!(l.json("POST", "/v1/admin/sync-keys", Some(&staff), json!({"label": "Replacement"})).await.0, 201);
    let (_, v) = l.get("/v1/admin/sync-keys", Some(&staff)).await;
    let keys = v["keys"].as_array().unwrap();
    assert!(keys.iter().any(|k| k["label"] == "Replacement"));
    assert_eq!(keys.last().unwrap()["keyId"], id.as_str(), "revoked after active");
    assert!(keys.last().unwrap()["revokedAt"].is_i64());
}

#[tokio::test]
async fn an_upload_url_cannot_overwrite_an_accepted_or_deleted_file() {
    let l = start_local().await;
    let p = &l.logins.practices[0];
    let c = SyncClient { local: &l, key_id: p.sync.key_id.clone(), secret: p.sync.secret.clone() };
    let pdf = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n".to_vec();
    let evil = {
        let mut e = b"%PDF-1.4\n% replaced by someone holding the URL".to_vec();
        e.resize(pdf.len(), b' ');
        e
    };
    let doc = json!({"lastModified": "2026-11-20T10:00:00Z", "patientId": "pat-1001", "folder": "Patient Portal", "sharedToPortal": true, "title": "Consent", "date": "2026-11-20", "file": {"contentType": "application/pdf", "size": pdf.len(), "fileName": "consent.pdf"}});
    let (_, v) = c.call("PUT", "/v1/sync/documents/doc-u1", &[], Some(&doc)).await;
    let url = v["upload"]["url"].as_str().unwrap().to_string();
    let put = |bytes: Vec<u8>| client().put(&url).header("content-type", "application/pdf").body(bytes).send();
    assert!(put(pdf.clone()).await.unwrap().status().is_success());
    let (s, v) = c.call("POST", "/v1/sync/documents/doc-u1/uploaded", &[], None).await;
    assert_eq!((s, &v["fileStatus"]), (200, &json!("available")), "{v}");
    let published = portal_core::sync::service::file_key(&pid("lakeside"), portal_core::sync::Entity::Documents, "doc-u1");
    // The same URL, still valid, with other bytes: the published file does not change, even
    // when the check is asked for again.
    let _ = put(evil.clone()).await.unwrap();
    let (s, _) = c.call("POST", "/v1/sync/documents/doc-u1/uploaded", &[], None).await;
    assert_eq!(s, 200);
    assert_eq!(l.backends.blobs.get(&published).await.unwrap().unwrap().bytes.as_ref(), &pdf[..]);
    // Deleted: its file is gone, and the old URL cannot bring it back.
    let (s, _) = c.call("DELETE", "/v1/sync/documents/doc-u1", &[("lastModified", "2026-11-21T10:00:00Z")], None).await;
    assert_eq!(s, 200);
    let _ = put(pdf.clone()).await.unwrap();
    assert!(l.backends.blobs.get(&published).await.unwrap().is_none());
    assert_eq!(c.call("POST", "/v1/sync/documents/doc-u1/uploaded", &[], None).await.0, 404);
}

#[tokio::test]
async fn email_templates_refuse_control_characters() {
    let l = start_local().await;
    let staff = l.staff_token(0).await;
    let (_, page) = l.get("/v1/admin/settings", Some(&staff)).await;
    let version = page["settings"]["versions"]["webmail"].clone();
    for (subject, body) in [("Hi\u{0}", "[URL]"), ("Hi", "[URL]\u{b}"), ("Hi", "[URL]\u{85}"), ("Hi\u{2028}there", "[URL]")] {
        let req = json!({"notificationSender": "a@b.example", "defaultNotifyAddress": "c@d.example", "subject": subject, "bodyTemplate": body, "version": version});
        let (s, v) = l.json("PUT", "/v1/admin/settings/webmail", Some(&staff), req).await;
        assert_eq!((s, &v["code"]), (400, &json!("text_invalid")), "{subject:?} {body:?}: {v}");
    }
}

/// Sends `raw` as it is (no client normalises the path) and answers the status line and body.
async fn raw_http(base: &str, raw: String) -> (String, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut sock = tokio::net::TcpStream::connect(base.trim_start_matches("http://")).await.unwrap();
    sock.write_all(raw.as_bytes()).await.unwrap();
    let mut out = vec![];
    sock.read_to_end(&mut out).await.unwrap();
    let text = String::from_utf8_lossy(&out).to_string();
    let status = text.lines().next().unwrap_or("").to_string();
    (status, text)
}

#[tokio::test]
async fn unnormalised_paths_never_reach_files_beside_the_pages() {
    let root = tempfile::tempdir().unwrap();
    let web = root.path().join("web");
    for site in ["portal", "admin"] {
        std::fs::create_dir_all(web.join(site)).unwrap();
        std::fs::write(web.join(site).join("index.html"), "<!doctype html><title>ok</title>").unwrap();
    }
    std::fs::write(web.join("planted.txt"), "PLANTED-ONE").unwrap();
    std::fs::write(root.path().join("planted.txt"), "PLANTED-TWO").unwrap();
    std::fs::write(web.join("portal").join(".hidden"), "PLANTED-THREE").unwrap();
    let l = crate::support::start_local_serving(web).await;
    let host = l.base.trim_start_matches("http://").to_string();
    let (status, _) = raw_http(&l.base, format!("GET / HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n")).await;
    assert!(status.contains(" 200 "), "the planted site serves: {status}");
    for path in
        ["/../planted.txt", "/admin/../../planted.txt", "/./../planted.txt", "/admin/../planted.txt", "/.hidden", "/..%2fplanted.txt"]
    {
        let (status, text) = raw_http(&l.base, format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n")).await;
        assert!(!text.contains("PLANTED"), "{path} reached a planted file: {status}");
        assert!(!status.contains(" 200 "), "{path}: {status}");
    }
}

#[tokio::test]
async fn the_local_host_answers_only_to_its_own_address() {
    let l = start_local().await;
    let port = l.base.rsplit(':').next().unwrap();
    for path in ["/_local/outbox.json", "/v1/health", "/"] {
        let (status, _) =
            raw_http(&l.base, format!("GET {path} HTTP/1.1\r\nHost: rebind.attacker.example:{port}\r\nConnection: close\r\n\r\n")).await;
        assert!(status.contains(" 421 "), "{path}: {status}");
        let (status, _) = raw_http(&l.base, format!("GET {path} HTTP/1.1\r\nHost: localhost:{port}\r\nConnection: close\r\n\r\n")).await;
        assert!(status.contains(" 200 "), "{path}: {status}");
    }
    // Redirects and local answers carry the security headers too.
    for path in ["/admin", "/_local/outbox.json"] {
        let res = client().get(l.url(path)).send().await.unwrap();
        assert!(res.headers().contains_key("content-security-policy"), "{path}");
        assert_eq!(res.headers()["x-content-type-options"], "nosniff", "{path}");
    }
}

#[tokio::test]
async fn local_secrets_and_the_database_are_private_to_their_user() {
    use std::os::unix::fs::PermissionsExt;
    let l = start_local().await;
    for f in ["portal.db", "local.key", "secrets.key", "demo-logins.json"] {
        let mode = std::fs::metadata(l.data_dir.path().join(f)).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{f} is {mode:o}");
    }
    let dir = std::fs::metadata(l.data_dir.path()).unwrap().permissions().mode() & 0o777;
    assert_eq!(dir, 0o700);
}

/// Every route the module registry serves is guarded exactly as the access table says: nothing
/// but a public route answers without credentials, a patient cannot reach staff routes, staff
/// cannot reach patient features. A new route is covered the day it is registered.
#[tokio::test]
async fn every_served_route_is_guarded_as_the_access_table_says() {
    use portal_core::access::{required, Access};
    let l = start_local().await;
    let patient = l.patient_token(0, 0).await;
    let staff = l.staff_token(0).await;
    let routes = portal_local::all_routes();
    assert!(routes.len() > 20);
    for (function, route) in routes {
        let path = route.path.split('/').map(|seg| if seg.starts_with('{') { "x-1" } else { seg }).collect::<Vec<_>>().join("/");
        let method = route.method.as_str();
        let access =
            required(method, &path).unwrap_or_else(|| panic!("{function} serves {method} {path}, which the access table does not list"));
        let call = |token: Option<&str>| {
            let mut r = client().request(route.method.clone(), l.url(&path)).header("content-type", "application/json").body("{}");
            if let Some(t) = token {
                r = r.bearer_auth(t);
            }
            send(r)
        };
        let (anonymous, v, _) = call(None).await;
        match access {
            Access::Public => assert_ne!(anonymous, 401, "{method} {path} is public: {v}"),
            _ => assert_eq!(anonymous, 401, "{method} {path} answered without credentials: {v}"),
        }
        if let Access::Staff(_) | Access::StaffFeature(..) = access {
            let (s, v, _) = call(Some(&patient)).await;
            assert_eq!((s, &v["code"]), (403, &json!("staff_only")), "{method} {path} as a patient");
        }
        if let Access::Feature(_) = access {
            let (s, v, _) = call(Some(&staff)).await;
            assert_eq!((s, &v["code"]), (403, &json!("feature_disabled")), "{method} {path} as staff");
        }
    }
}

/// The reset links in the mails to `to`, oldest first.
fn reset_links(l: &Local, to: &str) -> Vec<String> {
    let mails = l.backends.mailer.list().unwrap().into_iter().map(|(_, raw)| raw).filter(|raw| raw.contains(&format!("To: {to}")));
    mails
        .filter_map(|raw| {
            let text = portal_core::mime::text_part(&raw)?;
            let at = text.find("#reset=")? + "#reset=".len();
            Some(text[at..].split_whitespace().next()?.to_string())
        })
        .collect()
}

#[tokio::test]
async fn a_patient_cannot_take_a_staff_username() {
    let l = start_local().await;
    let sam = l.logins.practices[0].patients[1].clone();
    assert!(sam.temporary);
    let (s, v) =
        l.json("POST", "/v1/auth/login", None, json!({"practice": "lakeside", "username": sam.username, "password": sam.password})).await;
    assert_eq!(s, 200, "{v}");
    let token = v["token"].as_str().unwrap().to_string();
    let body = |name: &str| json!({"currentPassword": sam.password, "newPassword": "a harbour full of boats", "newUsername": name});
    // `frontdesk` is the practice's staff login: a patient under that name would look like them.
    let (s, v) = l.json("POST", "/v1/auth/password", Some(&token), body("FrontDesk")).await;
    assert_eq!((s, &v["code"]), (409, &json!("username_taken")), "{v}");
    let (s, v) = l.json("POST", "/v1/auth/password", Some(&token), body("sam.r")).await;
    assert_eq!(s, 200, "{v}");
    // Nor may a new staff user take a patient's name.
    let staff = l.staff_token(0).await;
    let (s, v) =
        l.json("POST", "/v1/admin/staff", Some(&staff), json!({"username": "sam.r", "displayName": "Sam R", "role": "front-desk"})).await;
    assert_eq!((s, &v["code"]), (409, &json!("username_taken")), "{v}");
}

#[tokio::test]
async fn reset_mails_are_limited_and_a_used_or_changed_password_voids_every_other_link() {
    let l = start_local().await;
    let alex = l.logins.practices[0].patients[0].clone();
    let ask = || l.json("POST", "/v1/auth/forgot", None, json!({"practice": "lakeside", "usernameOrEmail": "alex.morgan"}));
    // Asked five times in a row: every answer the same, three mails.
    let answers = futures_util::future::join_all((0..5).map(|_| ask())).await;
    assert!(answers.iter().all(|a| *a == answers[0] && a.0 == 202), "{answers:?}");
    let links = reset_links(&l, "alex.morgan@example.com");
    assert_eq!(links.len(), usize::try_from(portal_core::identity::recovery::LINKS_PER_LOGIN.limit).unwrap());
    // One link used: the others are void.
    let reset = |token: &str, pw: &str| l.json("POST", "/v1/auth/reset", None, json!({"token": token, "newPassword": pw}));
    assert_eq!(reset(&links[1], "a lighthouse at low tide").await.0, 204);
    for other in [&links[0], &links[2]] {
        let (s, v) = reset(other, "another long passphrase").await;
        assert_eq!((s, &v["code"]), (400, &json!("reset_link_invalid")), "{v}");
    }
    let login =
        |pw: &str| l.json("POST", "/v1/auth/login", None, json!({"practice": "lakeside", "username": alex.username, "password": pw}));
    assert_eq!(login("a lighthouse at low tide").await.0, 200);

    // Jamie asks, then changes the password while logged in: the link is void.
    let jamie = l.logins.practices[0].patients[2].clone();
    let (s, _) = l.json("POST", "/v1/auth/forgot", None, json!({"practice": "lakeside", "usernameOrEmail": jamie.username})).await;
    assert_eq!(s, 202);
    let link = reset_links(&l, "jamie.morgan@example.com").pop().expect("a link");
    let session = l.patient_token(0, 2).await;
    let change = json!({"currentPassword": jamie.password, "newPassword": "a quiet street in autumn"});
    assert_eq!(l.json("POST", "/v1/auth/password", Some(&session), change).await.0, 200);
    let (s, v) = reset(&link, "another long passphrase").await;
    assert_eq!((s, &v["code"]), (400, &json!("reset_link_invalid")), "{v}");
}

#[tokio::test]
async fn one_address_asking_for_many_logins_gets_ten_answers_worth_of_mail() {
    let l = start_local().await;
    let before = l.backends.mailer.list().unwrap().len();
    let asks = (0..12).map(|n| {
        let who = if n % 2 == 0 { "alex.morgan" } else { "jamie.morgan" };
        l.json("POST", "/v1/auth/forgot", None, json!({"practice": "lakeside", "usernameOrEmail": who}))
    });
    let answers = futures_util::future::join_all(asks).await;
    assert!(answers.iter().all(|a| *a == answers[0] && a.0 == 202), "{answers:?}");
    let sent = l.backends.mailer.list().unwrap().len() - before;
    assert_eq!(sent, 6, "three per login; the address's limit of ten requests holds too");
    // The eleventh and twelfth request from this address sent nothing, whoever they named.
    let (_, audit) = l.get("/v1/admin/audit?what=logins", Some(&l.staff_token(0).await)).await;
    let denied = audit["entries"].as_array().unwrap().iter().filter(|e| e["outcome"] == "denied").count();
    assert_eq!(denied, 12 - 6, "each request that sent nothing is on record");
}

#[tokio::test]
async fn xml_invalid_characters_are_refused_at_sync() {
    let l = start_local().await;
    let p = &l.logins.practices[0];
    let c = SyncClient { local: &l, key_id: p.sync.key_id.clone(), secret: p.sync.secret.clone() };
    for bad in ["\u{FFFE}", "\u{FFFF}", "\u{FDD0}", "\u{1FFFF}"] {
        let body = json!({"lastModified": instant_from_now(0), "patientId": "pat-1001", "kind": "problem",
            "code": {"system": "SNOMED-CT", "code": "80967001", "display": format!("Dental caries{bad}")}, "status": "active", "date": date_from_today(-1)});
        let (s, v) = c.call("PUT", "/v1/sync/clinical/cl-bad", &[], Some(&body)).await;
        assert_eq!((s, &v["code"]), (400, &json!("field_invalid")), "{bad:?}: {v}");
    }
}

#[tokio::test]
async fn direct_certificates_need_an_rsa_key_of_at_least_2048_bits() {
    let l = start_local().await;
    let staff = l.staff_token(0).await;
    let dir = tempfile::tempdir().unwrap();
    let (key, cert) = (dir.path().join("key.pem"), dir.path().join("cert.pem"));
    let made = std::process::Command::new("openssl")
        .args(["req", "-x509", "-newkey", "rsa:1024", "-nodes", "-days", "30", "-subj", "/CN=Short Key"])
        .args(["-addext", "subjectAltName=email:short@direct.clinic.example", "-keyout"])
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .expect("openssl (tests/run installs it)");
    assert!(made.status.success(), "{}", String::from_utf8_lossy(&made.stderr));
    let pem = std::fs::read_to_string(&cert).unwrap();
    let (s, v) = l.json("POST", "/v1/admin/direct-recipients", Some(&staff), json!({"certificate": pem})).await;
    assert_eq!((s, &v["code"]), (400, &json!("certificate_invalid")), "{v}");
    assert!(v["detail"].as_str().unwrap().contains("2048"), "{v}");
}

#[tokio::test]
async fn attachment_declarations_and_care_summary_sends_are_limited_per_day() {
    let l = start_local().await;
    let alex = l.patient_token(0, 0).await;
    let declare = json!({"fileName": "x-ray.png", "contentType": "image/png", "size": 10 * 1024 * 1024});
    let limit = portal_core::webmail::attachments::DECLARED_PER_DAY.limit;
    for n in 0..limit {
        let (s, v) = l.json("POST", "/v1/webmail/attachments", Some(&alex), declare.clone()).await;
        assert_eq!(s, 201, "{n}: {v}");
    }
    let (s, v) = l.json("POST", "/v1/webmail/attachments", Some(&alex), declare.clone()).await;
    assert_eq!((s, &v["code"]), (429, &json!("attachment_limit")), "{v}");
    // Another patient is not held back by Alex's uploads.
    let jamie = l.patient_token(0, 2).await;
    assert_eq!(l.json("POST", "/v1/webmail/attachments", Some(&jamie), declare).await.0, 201);

    let limit = portal_core::patient::care_summary::TRANSMITS_PER_DAY.limit;
    for n in 0..limit {
        let to = json!({"to": format!("clinic{n}@outside.example"), "encrypted": false});
        let (s, v) = l.json("POST", "/v1/care-summary/transmit", Some(&alex), to).await;
        assert_eq!((s, &v["status"]), (202, &json!("sent")), "{n}: {v}");
    }
    let (s, v) =
        l.json("POST", "/v1/care-summary/transmit", Some(&alex), json!({"to": "one.more@outside.example", "encrypted": false})).await;
    assert_eq!((s, &v["code"]), (429, &json!("transmit_limit")), "{v}");
    assert!(!l.backends.mailer.list().unwrap().iter().any(|(_, raw)| raw.contains("To: one.more@outside.example")));
    // Staff see the refused send in the activity log.
    let (_, audit) = l.get("/v1/admin/audit", Some(&l.staff_token(0).await)).await;
    let refused = audit["entries"].as_array().unwrap().iter().find(|e| e["action"] == "care-summary.transmit" && e["outcome"] == "denied");
    assert!(refused.is_some_and(|e| e["detail"]["reason"] == "daily_limit"), "{audit}");
}
