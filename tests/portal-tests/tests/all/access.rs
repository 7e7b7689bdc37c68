//! Portal access over HTTP against portal-local: staff find patients by name, birthdate and
//! phone, see why one is not eligible, give a login, the patient must change the temporary
//! password, a new one ends the patient's sessions, removing access ends them at once; another
//! practice's patient is 404; everything is audited.

use crate::support::{pid, start_local, Local};
use portal_core::ports::Db;
use serde_json::{json, Value};

async fn search(l: &Local, staff: &str, q: &str) -> Value {
    let (s, v) = l.get(&format!("/v1/admin/patients?q={}", urlencode(q)), Some(staff)).await;
    assert_eq!(s, 200, "{q}: {v}");
    v
}

fn urlencode(q: &str) -> String {
    q.bytes().map(|b| if b.is_ascii_alphanumeric() { (b as char).to_string() } else { format!("%{b:02X}") }).collect()
}

fn ids(page: &Value) -> Vec<&str> {
    page["items"].as_array().unwrap().iter().map(|i| i["patientId"].as_str().unwrap()).collect()
}

#[tokio::test]
async fn staff_find_patients_by_name_birthdate_and_phone() {
    let l = start_local().await;
    let staff = l.staff_token(0).await;
    // Last name prefix, first name, "Last, First", "First Last", any case and punctuation.
    assert_eq!(ids(&search(&l, &staff, "MORG").await), ["pat-1001", "pat-1005", "pat-1003", "pat-1004"]);
    assert_eq!(ids(&search(&l, &staff, "taylor").await), ["pat-1008"]);
    assert_eq!(ids(&search(&l, &staff, "Morgan, Ja").await), ["pat-1003"]);
    assert_eq!(ids(&search(&l, &staff, "alex morgan").await), ["pat-1001"]);
    assert_eq!(ids(&search(&l, &staff, "morgan alex").await), ["pat-1001"]);
    // Birthdate either way; phone by its first or last digits, however it is written.
    assert_eq!(ids(&search(&l, &staff, "1991-11-30").await), ["pat-1002"]);
    assert_eq!(ids(&search(&l, &staff, "11/30/1991").await), ["pat-1002"]);
    assert_eq!(ids(&search(&l, &staff, "(269) 555-01").await).len(), 5);
    assert_eq!(ids(&search(&l, &staff, "+1 269-555-0143").await), ["pat-1001"]);
    assert_eq!(ids(&search(&l, &staff, "555-0143").await), ["pat-1001"]);
    assert_eq!(ids(&search(&l, &staff, "0143").await), ["pat-1001"]);
    // Access and eligibility as the contract says.
    let alex = &search(&l, &staff, "alex").await["items"][0];
    assert_eq!((alex["access"]["enabled"].as_bool(), alex["access"]["username"].as_str()), (Some(true), Some("alex.morgan")));
    assert_eq!(alex["eligible"], true);
    let luis = &search(&l, &staff, "ortega").await["items"][0];
    assert_eq!((luis["eligible"].as_bool(), &luis["missing"]), (Some(false), &json!(["address", "city", "state", "phone"])));
    assert_eq!(luis["access"], json!({"enabled": false}));
    // Everyone, paged by last name, each patient once.
    let (mut seen, mut cursor) = (vec![], None::<String>);
    loop {
        let path = match &cursor {
            Some(c) => format!("/v1/admin/patients?limit=3&cursor={}", urlencode(c)),
            None => "/v1/admin/patients?limit=3".into(),
        };
        let (s, page) = l.get(&path, Some(&staff)).await;
        assert_eq!(s, 200, "{page}");
        seen.extend(ids(&page).into_iter().map(String::from));
        match page["nextCursor"].as_str() {
            Some(c) => cursor = Some(c.into()),
            None => break,
        }
    }
    assert_eq!(seen.len(), 8, "{seen:?}");
    assert_eq!(seen.first().map(String::as_str), Some("pat-1008"), "Brooks first: {seen:?}");
    // Hillcrest's staff do not see Lakeside's patients.
    let other = l.staff_token(1).await;
    assert!(ids(&search(&l, &other, "morgan").await).is_empty());
    // Bad input: a clear 400, never a 500.
    for (q, code) in [("55", "search_invalid"), (&"x".repeat(101)[..], "search_invalid")] {
        let (s, v) = l.get(&format!("/v1/admin/patients?q={}", urlencode(q)), Some(&staff)).await;
        assert_eq!((s, v["code"].as_str()), (400, Some(code)), "{v}");
    }
    let (s, v) = l.get("/v1/admin/patients?cursor=9.x", Some(&staff)).await;
    assert_eq!((s, v["code"].as_str()), (400, Some("cursor_invalid")), "{v}");
    // A patient's own session may not search.
    let patient = l.patient_token(0, 0).await;
    assert_eq!(l.get("/v1/admin/patients", Some(&patient)).await.0, 403);
    // The search is audited as a read naming whom it listed.
    let (_, audit) = l.get("/v1/admin/audit?what=health-data", Some(&staff)).await;
    let entry = audit["entries"].as_array().unwrap().iter().find(|e| e["action"] == "roster.read").expect("roster read audited");
    assert!(entry["detail"]["patientIds"].as_array().is_some_and(|a| !a.is_empty()), "{entry}");
}

#[tokio::test]
async fn a_login_is_given_changed_renewed_and_removed() {
    let l = start_local().await;
    let staff = l.staff_token(0).await;
    // Not eligible: the answer names what is missing.
    let (s, v) = l.json("POST", "/v1/admin/patients/pat-1007/access", Some(&staff), json!({})).await;
    assert_eq!((s, v["code"].as_str()), (422, Some("patient_not_eligible")), "{v}");
    assert!(v["detail"].as_str().unwrap().contains("address"), "{v}");
    // Granted: first name + 4 digits, a temporary password without look-alikes, the login URL.
    let (s, sheet) = l.json("POST", "/v1/admin/patients/pat-1008/access", Some(&staff), json!({})).await;
    assert_eq!(s, 201, "{sheet}");
    let username = sheet["username"].as_str().unwrap().to_string();
    let username = username.as_str();
    assert!(username.starts_with("taylor") && username.len() == 10 && username[6..].bytes().all(|b| b.is_ascii_digit()), "{username}");
    let password = sheet["temporaryPassword"].as_str().unwrap().to_string();
    assert!(!password.chars().any(|c| "0Oo1lI".contains(c)), "{password}");
    assert_eq!(sheet["loginUrl"], format!("{}/p/lakeside/", l.base));
    // Twice → 409; another practice's staff → 404; an unknown patient → 404.
    let (s, v) = l.json("POST", "/v1/admin/patients/pat-1008/access", Some(&staff), json!({})).await;
    assert_eq!((s, v["code"].as_str()), (409, Some("access_exists")));
    let other = l.staff_token(1).await;
    for path in
        ["/v1/admin/patients/pat-1008/access/reset", "/v1/admin/patients/pat-1008/access/printed", "/v1/admin/patients/pat-1001/access"]
    {
        assert_eq!(l.json("POST", path, Some(&other), json!({})).await.0, 404, "{path}");
    }
    assert_eq!(l.json("DELETE", "/v1/admin/patients/pat-1001/access", Some(&other), json!({})).await.0, 404);
    assert_eq!(l.json("POST", "/v1/admin/patients/nobody/access", Some(&staff), json!({})).await.0, 404);

    // The patient logs in with it (username in any case) and must change it first.
    let login = |user: String, pw: String| {
        let l = &l;
        async move { l.json("POST", "/v1/auth/login", None, json!({"practice": "lakeside", "username": user, "password": pw})).await }
    };
    let (s, v) = login(username.to_uppercase(), password.clone()).await;
    assert_eq!((s, v["mustChangePassword"].as_bool()), (200, Some(true)), "{v}");
    let first = v["token"].as_str().unwrap().to_string();
    assert_eq!(l.get("/v1/account", Some(&first)).await.0, 403, "nothing but the change before it");
    // With the first password of their own the patient may choose a username (not a taken one).
    let change = |username: &str| json!({"currentPassword": password, "newPassword": "harbor lights at dusk", "newUsername": username});
    let (s, v) = l.json("POST", "/v1/auth/password", Some(&first), change("alex.morgan")).await;
    assert_eq!((s, v["code"].as_str()), (409, Some("username_taken")));
    let (s, v) = l.json("POST", "/v1/auth/password", Some(&first), change("no spaces")).await;
    assert_eq!((s, v["code"].as_str()), (400, Some("username_invalid")));
    let (s, v) = l.json("POST", "/v1/auth/password", Some(&first), change("Taylor.Brooks")).await;
    assert_eq!(s, 200, "{v}");
    let session = v["token"].as_str().unwrap().to_string();
    assert_eq!(login(username.into(), "harbor lights at dusk".into()).await.0, 401, "the old username is gone");
    let username = "taylor.brooks";
    assert_eq!(login(username.into(), "harbor lights at dusk".into()).await.0, 200);
    let (s, v) = l
        .json(
            "POST",
            "/v1/auth/password",
            Some(&session),
            json!({"currentPassword": "harbor lights at dusk", "newPassword": "harbor lights at dawn", "newUsername": "taylor.b"}),
        )
        .await;
    assert_eq!((s, v["code"].as_str()), (400, Some("username_change_not_allowed")), "only with the first password");
    let session = login(username.into(), "harbor lights at dusk".into()).await.1["token"].as_str().unwrap().to_string();
    assert_eq!(l.get("/v1/me", Some(&session)).await.0, 200);
    let found = &search(&l, &staff, "brooks").await["items"][0];
    assert!(found["access"]["lastLoginAt"].is_string(), "{found}");

    // A new temporary password ends the session; the old password stops working.
    let (s, renewed) = l.json("POST", "/v1/admin/patients/pat-1008/access/reset", Some(&staff), json!({})).await;
    assert_eq!((s, renewed["username"].as_str()), (200, Some(username)), "{renewed}");
    assert_eq!(l.get("/v1/me", Some(&session)).await.0, 401);
    assert_eq!(login(username.into(), "harbor lights at dusk".into()).await.0, 401);
    let (s, v) = login(username.into(), renewed["temporaryPassword"].as_str().unwrap().into()).await;
    assert_eq!((s, v["mustChangePassword"].as_bool()), (200, Some(true)));
    assert_eq!(l.json("POST", "/v1/admin/patients/pat-1008/access/printed", Some(&staff), json!({})).await.0, 204);
    // Emailed instead of printed: to the patient's own address, with the login in it.
    let (s, emailed) = l.json("POST", "/v1/admin/patients/pat-1008/access/reset?email=true", Some(&staff), json!({})).await;
    assert_eq!((s, emailed["emailed"].as_bool()), (200, Some(true)), "{emailed}");
    let mails: Vec<String> = l
        .backends
        .mailer
        .list()
        .unwrap()
        .into_iter()
        .map(|(_, raw)| raw)
        .filter(|raw| raw.contains("To: taylor.brooks@example.com"))
        .collect();
    let text = portal_core::mime::text_part(mails.last().unwrap()).unwrap();
    assert!(
        text.contains(username) && text.contains(emailed["temporaryPassword"].as_str().unwrap()) && text.contains("/p/lakeside/"),
        "{text}"
    );
    let renewed = emailed;
    let (s, v) = l.json("POST", "/v1/admin/patients/pat-1008/access/reset?email=maybe", Some(&staff), json!({})).await;
    assert_eq!((s, v["code"].as_str()), (400, Some("invalid_query")), "a malformed flag changes nothing");
    let session =
        login(username.into(), renewed["temporaryPassword"].as_str().unwrap().into()).await.1["token"].as_str().unwrap().to_string();

    // Removed: the session ends at once, the login is gone, the records stay.
    let (s, _) = l.json("DELETE", "/v1/admin/patients/pat-1008/access", Some(&staff), json!({})).await;
    assert_eq!(s, 204);
    assert_eq!(l.get("/v1/me", Some(&session)).await.0, 401);
    assert_eq!(login(username.into(), renewed["temporaryPassword"].as_str().unwrap().into()).await.0, 401);
    assert_eq!(l.json("DELETE", "/v1/admin/patients/pat-1008/access", Some(&staff), json!({})).await.0, 404);
    let found = &search(&l, &staff, "brooks").await["items"][0];
    assert_eq!(found["access"], json!({"enabled": false}));

    // Each step is in the audit log, under the patient, never with the password.
    let (_, audit) = l.get("/v1/admin/audit?what=access", Some(&staff)).await;
    // Entries of the same millisecond have no order among themselves: compare them sorted.
    let mut actions: Vec<&str> = audit["entries"].as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap()).collect();
    actions.sort_unstable();
    assert_eq!(actions, ["access.email", "access.grant", "access.print", "access.remove", "access.reset", "access.reset"], "{audit}");
    assert!(!audit.to_string().contains(&password));
}

#[tokio::test]
async fn invite_rules_are_checked_versioned_and_only_admins_change_them() {
    let l = start_local().await;
    let staff = l.staff_token(0).await;
    let (s, page) = l.get("/v1/admin/invites/rules", Some(&staff)).await;
    assert_eq!(s, 200, "{page}");
    assert_eq!((page["version"].as_u64(), page["rules"].as_array().map(Vec::len)), (Some(0), Some(2)), "the defaults");
    assert_eq!(
        (&page["rules"][0]["kind"], &page["rules"][0]["offsetMinutes"], &page["rules"][1]["offsetMinutes"]),
        (&json!("before"), &json!(10080), &json!(60))
    );
    assert!(page["rules"].as_array().unwrap().iter().all(|r| r["enabled"] == false), "off until a practice turns them on");
    let rule = |body: &str, offset: i64| json!({"id": "r1", "kind": "before", "offsetMinutes": offset, "resend": "untilVisited", "subject": "Portal", "body": body, "enabled": true});
    // Bad input: a clear 4xx, and nothing stored changes.
    for (rules, code) in [
        (json!([rule("Hello [NameF]", 60)]), "body_missing_url"),
        (json!([rule("[URL] [Balance]", 60)]), "body_unknown_tag"),
        (json!([rule("[URL]", 0)]), "invite_rule_invalid"),
        (json!([rule("[URL]", -5)]), "invalid_body"),
        (json!([rule(&"x".repeat(6000), 60)]), "body_too_long"),
    ] {
        let (s, v) = l.json("PUT", "/v1/admin/invites/rules", Some(&staff), json!({"rules": rules, "version": 0})).await;
        assert_eq!((s / 100, v["code"].as_str()), (4, Some(code)), "{v}");
    }
    assert_eq!(l.get("/v1/admin/invites/rules", Some(&staff)).await.1["version"], 0);
    // Saved, then a stale version is a conflict with what is stored.
    let (s, saved) = l
        .json(
            "PUT",
            "/v1/admin/invites/rules",
            Some(&staff),
            json!({"rules": [rule("Log in: [URL]", 2880)], "officePhone": "269-555-0100", "version": 0}),
        )
        .await;
    assert_eq!((s, saved["version"].as_u64()), (200, Some(1)), "{saved}");
    let (s, v) = l.json("PUT", "/v1/admin/invites/rules", Some(&staff), json!({"rules": [], "version": 0})).await;
    assert_eq!((s, v["code"].as_str(), v["current"]["rules"][0]["offsetMinutes"].as_i64()), (409, Some("settings_changed"), Some(2880)));
    // A front-desk user reads them but may not change them.
    let prov =
        portal_core::identity::provision::Provisioner { db: Db { table: l.backends.table.as_ref(), clock: l.backends.clock.as_ref() } };
    let desk = prov.create_staff(&pid("lakeside"), "desk-1", "Desk", portal_core::identity::session::StaffRole::FrontDesk).await.unwrap();
    let code = portal_core::identity::totp::code_now(desk.totp_secret.as_ref().unwrap(), crate::support::now()).unwrap();
    let (_, login) = l
        .json(
            "POST",
            "/v1/staff/login",
            None,
            json!({"practice": "lakeside", "username": "desk-1", "password": desk.password, "totp": code}),
        )
        .await;
    let desk_token = login["token"].as_str().unwrap();
    let (s, v) = l.get("/v1/admin/invites/rules", Some(desk_token)).await;
    assert_eq!((s, v["canEdit"].as_bool()), (200, Some(false)));
    let (s, _) = l.json("PUT", "/v1/admin/invites/rules", Some(desk_token), json!({"rules": [], "version": 1})).await;
    assert_eq!(s, 403);
    assert_eq!(l.get("/v1/admin/invites/log", Some(desk_token)).await.0, 200);
}

/// Logs a staff user in with a code from their authenticator; answers the login's JSON.
async fn staff_login(l: &Local, practice: &str, username: &str, password: &str, secret: &str, step_offset: i64) -> (u16, Value) {
    let at = crate::support::now() + step_offset * portal_core::identity::totp::STEP;
    let code = portal_core::identity::totp::code_now(secret, at).unwrap();
    l.json("POST", "/v1/staff/login", None, json!({"practice": practice, "username": username, "password": password, "totp": code})).await
}

#[tokio::test]
async fn admins_make_staff_users_who_enrol_an_authenticator_and_get_their_role_only() {
    let l = start_local().await;
    let admin = l.staff_token(0).await;
    let (s, made) = l
        .json(
            "POST",
            "/v1/admin/staff",
            Some(&admin),
            json!({"username": "Desk.Two", "displayName": "Front Desk Two", "role": "front-desk"}),
        )
        .await;
    assert_eq!(s, 201, "{made}");
    assert_eq!((made["user"]["username"].as_str(), made["user"]["totpEnrolled"].as_bool()), (Some("desk.two"), Some(false)));
    let password = made["temporaryPassword"].as_str().unwrap().to_string();
    // Same name again, a bad name, an unknown role: 4xx, nothing made.
    let (s, v) =
        l.json("POST", "/v1/admin/staff", Some(&admin), json!({"username": "desk.two", "displayName": "X", "role": "front-desk"})).await;
    assert_eq!((s, v["code"].as_str()), (409, Some("username_taken")));
    let (s, v) =
        l.json("POST", "/v1/admin/staff", Some(&admin), json!({"username": "a b", "displayName": "X", "role": "front-desk"})).await;
    assert_eq!((s, v["code"].as_str()), (400, Some("username_invalid")));
    assert_eq!(
        l.json("POST", "/v1/admin/staff", Some(&admin), json!({"username": "zed", "displayName": "X", "role": "owner"})).await.0,
        400
    );

    // No authenticator yet: no login, whatever the code.
    let (s, _) = staff_login(&l, "lakeside", "desk.two", &password, "AAAAAAAAAAAAAAAA", 0).await;
    assert_eq!(s, 401);
    // Enrolment: a pending secret (URI and QR); a wrong code refused; the right one confirms.
    let (s, enrol) = l.json("POST", "/v1/admin/staff/desk.two/totp", Some(&admin), json!({})).await;
    assert_eq!(s, 200, "{enrol}");
    let secret = enrol["secret"].as_str().unwrap().to_string();
    assert!(enrol["otpauthUri"].as_str().unwrap().starts_with("otpauth://totp/"));
    assert!(enrol["qr"].as_array().unwrap().len() >= 21);
    let (s, v) = l.json("POST", "/v1/admin/staff/desk.two/totp/confirm", Some(&admin), json!({"code": "000000"})).await;
    assert_eq!((s, v["code"].as_str()), (400, Some("totp_code_wrong")));
    let code = portal_core::identity::totp::code_now(&secret, crate::support::now()).unwrap();
    let (s, v) = l.json("POST", "/v1/admin/staff/desk.two/totp/confirm", Some(&admin), json!({"code": code})).await;
    assert_eq!((s, v["user"]["totpEnrolled"].as_bool()), (200, Some(true)), "{v}");

    // First login: the temporary password must be changed first; then front-desk rights only.
    let (s, v) = staff_login(&l, "lakeside", "desk.two", &password, &secret, 1).await;
    assert_eq!((s, v["mustChangePassword"].as_bool()), (200, Some(true)), "{v}");
    let first = v["token"].as_str().unwrap().to_string();
    assert_eq!(l.get("/v1/admin/settings", Some(&first)).await.0, 403);
    let (s, v) = l
        .json("POST", "/v1/auth/password", Some(&first), json!({"currentPassword": password, "newPassword": "quiet morning harbour 42"}))
        .await;
    assert_eq!(s, 200, "{v}");
    let desk = v["token"].as_str().unwrap().to_string();
    let (s, settings) = l.get("/v1/admin/settings", Some(&desk)).await;
    assert_eq!((s, settings["canEdit"].as_bool()), (200, Some(false)));
    assert_eq!(l.get("/v1/admin/patients?q=morgan", Some(&desk)).await.0, 200, "the front desk manages patients' access");
    for path in ["/v1/admin/staff", "/v1/admin/sync-keys", "/v1/admin/audit"] {
        assert_eq!(l.get(path, Some(&desk)).await.0, 403, "{path}");
    }
    let (s, _) = l.json("PUT", "/v1/admin/settings/features", Some(&desk), json!({"features": [], "version": 1})).await;
    assert_eq!(s, 403);

    // A change gives values or leaves fields out; null is no value.
    assert_eq!(l.json("PUT", "/v1/admin/staff/desk.two", Some(&admin), json!({"disabled": null})).await.0, 400);
    // Made admin: the session ends (it carried the old role). Disabled: refused at once.
    let (s, v) = l.json("PUT", "/v1/admin/staff/desk.two", Some(&admin), json!({"role": "admin"})).await;
    assert_eq!((s, v["user"]["role"].as_str()), (200, Some("admin")));
    assert_eq!(l.get("/v1/me", Some(&desk)).await.0, 401);
    let (_, v) = staff_login(&l, "lakeside", "desk.two", "quiet morning harbour 42", &secret, -1).await;
    let desk = v["token"].as_str().unwrap().to_string();
    assert_eq!(l.get("/v1/admin/staff", Some(&desk)).await.0, 200);
    let (s, _) = l.json("PUT", "/v1/admin/staff/desk.two", Some(&admin), json!({"disabled": true})).await;
    assert_eq!(s, 200);
    assert_eq!(l.get("/v1/me", Some(&desk)).await.0, 401);
    let (s, _) = staff_login(&l, "lakeside", "desk.two", "quiet morning harbour 42", &secret, 0).await;
    assert_eq!(s, 401, "a disabled user cannot log in");

    // The last active admin cannot be disabled or demoted; another practice's users are not found.
    let (_, list) = l.get("/v1/admin/staff", Some(&admin)).await;
    let admins: Vec<String> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|u| u["role"] == "admin" && u["disabled"] == false)
        .map(|u| u["username"].as_str().unwrap().to_string())
        .collect();
    let me = l.get("/v1/me", Some(&admin)).await.1["username"].as_str().unwrap().to_string();
    for other in admins.iter().filter(|a| **a != me) {
        assert_eq!(l.json("PUT", &format!("/v1/admin/staff/{other}"), Some(&admin), json!({"role": "front-desk"})).await.0, 200);
    }
    let (s, v) = l.json("PUT", &format!("/v1/admin/staff/{me}"), Some(&admin), json!({"disabled": true})).await;
    assert_eq!((s, v["code"].as_str()), (409, Some("last_admin")));
    let other = l.staff_token(1).await;
    assert_eq!(l.json("PUT", "/v1/admin/staff/desk.two", Some(&other), json!({"disabled": false})).await.0, 404);
    let (_, audit) = l.get("/v1/admin/audit?what=access", Some(&other)).await;
    assert!(!audit.to_string().contains("desk.two"), "another practice's log says nothing of it");
}

/// The reset link in the newest mail to `to` (from the mail's text part).
fn reset_token(l: &Local, to: &str) -> Option<String> {
    let mails: Vec<String> =
        l.backends.mailer.list().unwrap().into_iter().map(|(_, raw)| raw).filter(|raw| raw.contains(&format!("To: {to}"))).collect();
    let text = portal_core::mime::text_part(mails.last()?)?;
    let at = text.find("#reset=")? + "#reset=".len();
    Some(text[at..].split_whitespace().next()?.to_string())
}

#[tokio::test]
async fn a_forgotten_password_is_reset_once_by_a_link_only_the_patient_gets() {
    let l = start_local().await;
    let alex = &l.logins.practices[0].patients[0];
    let session = l.patient_token(0, 0).await;
    // Known and unknown accounts: the same answer, after about the same time.
    let mut answers = vec![];
    for who in ["alex.morgan", "nobody.here", "ALEX.MORGAN@example.com", "x@nowhere.example"] {
        let started = std::time::Instant::now();
        let (s, v) = l.json("POST", "/v1/auth/forgot", None, json!({"practice": "lakeside", "usernameOrEmail": who})).await;
        answers.push((s, v, started.elapsed()));
    }
    assert!(answers.iter().all(|(s, v, _)| *s == 202 && *v == answers[0].1), "{answers:?}");
    let times: Vec<u128> = answers.iter().map(|(_, _, t)| t.as_millis()).collect();
    assert!(times.iter().all(|t| (800..1500).contains(t)), "{times:?}");
    let (s, _) = l.json("POST", "/v1/auth/forgot", None, json!({"practice": "no-such-practice", "usernameOrEmail": "alex.morgan"})).await;
    assert_eq!(s, 202);
    // The link went to Alex's own address (two requests named him: two links).
    let token = reset_token(&l, "alex.morgan@example.com").expect("a reset link");
    assert!(token.starts_with("lakeside."), "{token}");
    // Using it: the password rules apply (the link survives a refused password); it does not log in.
    let (s, v) = l.json("POST", "/v1/auth/reset", None, json!({"token": token, "newPassword": "password123"})).await;
    assert_eq!((s, v["code"].as_str()), (400, Some("password_too_common")));
    let (s, v) = l.json("POST", "/v1/auth/reset", None, json!({"token": token, "newPassword": "a lighthouse at low tide"})).await;
    assert_eq!(s, 204, "{v}");
    // Old sessions end; the old password is gone; the new one works; the link works once.
    assert_eq!(l.get("/v1/me", Some(&session)).await.0, 401);
    let login =
        |pw: &str| l.json("POST", "/v1/auth/login", None, json!({"practice": "lakeside", "username": alex.username, "password": pw}));
    assert_eq!(login(&alex.password).await.0, 401);
    assert_eq!(login("a lighthouse at low tide").await.0, 200);
    let (s, v) = l.json("POST", "/v1/auth/reset", None, json!({"token": token, "newPassword": "another long passphrase"})).await;
    assert_eq!((s, v["code"].as_str()), (400, Some("reset_link_invalid")));
    for bad in ["", "lakeside.short", "hillcrest.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"] {
        let (s, v) = l.json("POST", "/v1/auth/reset", None, json!({"token": bad, "newPassword": "another long passphrase"})).await;
        assert_eq!((s, v["code"].as_str()), (400, Some("reset_link_invalid")), "{bad}");
    }
    // Audited, without the token or any password.
    let staff = l.staff_token(0).await;
    let (_, audit) = l.get("/v1/admin/audit?what=logins", Some(&staff)).await;
    let text = audit.to_string();
    assert!(text.contains("auth.password.reset_requested") && text.contains("auth.password.reset"));
    assert!(!text.contains(&token) && !text.contains("lighthouse"));
}

#[tokio::test]
async fn a_patient_turns_on_an_authenticator_and_logs_in_with_it_or_a_recovery_code() {
    let l = start_local().await;
    let jamie = l.logins.practices[0].patients[2].clone();
    let session = l.patient_token(0, 2).await;
    let (s, v) = l.get("/v1/auth/mfa", Some(&session)).await;
    assert_eq!((s, v["enabled"].as_bool()), (200, Some(false)));
    let (s, enrol) = l.json("POST", "/v1/auth/mfa/enrol", Some(&session), json!({})).await;
    assert_eq!(s, 200, "{enrol}");
    let secret = enrol["secret"].as_str().unwrap().to_string();
    assert!(enrol["otpauthUri"].as_str().unwrap().contains("jamie.morgan"));
    let (s, v) = l.json("POST", "/v1/auth/mfa/confirm", Some(&session), json!({"code": "123"})).await;
    assert_eq!((s, v["code"].as_str()), (400, Some("totp_code_wrong")));
    let step = crate::support::now() / 30;
    let code = |offset: i64| portal_core::identity::totp::code_at(&secret, u64::try_from(step + offset).unwrap()).unwrap();
    let (s, v) = l.json("POST", "/v1/auth/mfa/confirm", Some(&session), json!({"code": code(0)})).await;
    assert_eq!(s, 200, "{v}");
    let recovery: Vec<String> = v["recoveryCodes"].as_array().unwrap().iter().map(|c| c.as_str().unwrap().to_string()).collect();
    assert_eq!(recovery.len(), 10);

    let login = |extra: Value| {
        let mut body = json!({"practice": "lakeside", "username": jamie.username, "password": jamie.password});
        body.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        let l = &l;
        async move { l.json("POST", "/v1/auth/login", None, body).await }
    };
    // The password alone: a code is asked for, no session is given.
    let (s, v) = login(json!({})).await;
    assert_eq!((s, &v), (200, &json!({"mfaRequired": true})));
    // A wrong password never says so.
    let (s, _) =
        l.json("POST", "/v1/auth/login", None, json!({"practice": "lakeside", "username": jamie.username, "password": "wrong one"})).await;
    assert_eq!(s, 401);
    assert_eq!(login(json!({"totp": "000000"})).await.0, 401);
    let (s, v) = login(json!({"totp": code(1)})).await;
    assert_eq!(s, 200, "{v}");
    assert!(v["token"].is_string());
    assert_eq!(login(json!({"totp": code(1)})).await.0, 401, "a code works once");
    // A recovery code, typed loosely, once.
    let loose = recovery[3].to_uppercase().replace('-', " ");
    assert_eq!(login(json!({"recoveryCode": loose})).await.0, 200);
    assert_eq!(login(json!({"recoveryCode": recovery[3]})).await.0, 401);
    let token = login(json!({"recoveryCode": recovery[4]})).await.1["token"].as_str().unwrap().to_string();
    let (_, v) = l.get("/v1/auth/mfa", Some(&token)).await;
    assert_eq!((v["enabled"].as_bool(), v["recoveryCodesLeft"].as_u64()), (Some(true), Some(8)));
    // Staff have their own (required) second factor, not this one.
    let staff = l.staff_token(0).await;
    assert_eq!(l.get("/v1/auth/mfa", Some(&staff)).await.0, 403);
    // Off again, but not with the session alone (a stolen one must not remove the second
    // factor): the password or a current code proves the owner is there.
    let (s, v) = l.json("DELETE", "/v1/auth/mfa", Some(&token), json!({})).await;
    assert_eq!((s, &v["code"]), (400, &json!("reauthentication_failed")), "{v}");
    let (s, v) = l.json("DELETE", "/v1/auth/mfa", Some(&token), json!({"password": "not the password"})).await;
    assert_eq!((s, &v["code"]), (400, &json!("reauthentication_failed")), "{v}");
    let (_, still) = l.get("/v1/auth/mfa", Some(&token)).await;
    assert_eq!(still["enabled"], true);
    let (s, _) = l.json("DELETE", "/v1/auth/mfa", Some(&token), json!({"password": jamie.password})).await;
    assert_eq!(s, 204);
    assert!(login(json!({})).await.1["token"].is_string());
    // Jamie was told of both changes, by email (a refused attempt changed nothing: no notice).
    let told: Vec<String> =
        texts_to(&l, "jamie.morgan@example.com").into_iter().filter(|m| m.contains("Two-step sign-in was turned")).collect();
    assert_eq!(told.len(), 2, "{told:?}");
    assert!(told[0].starts_with("Two-step sign-in was turned on — Lakeside Family Dental") && told[1].contains("turned off"));
    assert!(told[1].contains("If it was not you, reset your password now"));
}

#[tokio::test]
async fn a_password_change_ends_other_sessions_and_the_patient_is_told() {
    let l = start_local().await;
    let alex = l.logins.practices[0].patients[0].clone();
    let (here, elsewhere) = (l.patient_token(0, 0).await, l.patient_token(0, 0).await);
    let change = json!({"currentPassword": alex.password, "newPassword": "a quiet harbour at dawn"});
    let (s, _) = l.json("POST", "/v1/auth/password", Some(&here), change).await;
    assert_eq!(s, 200);
    assert_eq!(l.get("/v1/me", Some(&elsewhere)).await.0, 401, "the other session ended");
    let told = texts_to(&l, "alex.morgan@example.com");
    assert_eq!(told.len(), 1, "{told:?}");
    assert!(told[0].starts_with("Your patient portal password was changed — Lakeside Family Dental"), "{}", told[0]);
    assert!(!told[0].contains("a quiet harbour"), "never the password");
    // A patient choosing their first password from a temporary one is not warned of it.
    let sam = l.logins.practices[0].patients[1].clone();
    let first =
        l.json("POST", "/v1/auth/login", None, json!({"practice": "lakeside", "username": sam.username, "password": sam.password})).await;
    let token = first.1["token"].as_str().unwrap().to_string();
    let (s, v) = l
        .json(
            "POST",
            "/v1/auth/password",
            Some(&token),
            json!({"currentPassword": sam.password, "newPassword": "blue harbour morning tide"}),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    assert!(texts_to(&l, "sam.rivera@example.com").iter().all(|m| !m.contains("Se cambió la contraseña")));
}

/// Every mail to `to`, oldest first, as text.
fn texts_to(l: &Local, to: &str) -> Vec<String> {
    l.backends
        .mailer
        .list()
        .unwrap()
        .into_iter()
        .map(|(_, raw)| raw)
        .filter(|raw| raw.contains(&format!("To: {to}")))
        .map(|raw| format!("{}\n{}", portal_core::mime::subject(&raw).unwrap_or_default(), portal_core::mime::text_part(&raw).unwrap()))
        .collect()
}

#[tokio::test]
async fn a_patient_who_prefers_spanish_gets_every_email_in_spanish() {
    let l = start_local().await;
    let staff = l.staff_token(0).await;
    // Sam Rivera's preferred language is Spanish ("es" from the practice's system).
    let (s, _) = l.json("POST", "/v1/admin/patients/pat-1002/access/reset?email=true", Some(&staff), json!({})).await;
    assert_eq!(s, 200);
    let (s, _) = l
        .json(
            "POST",
            "/v1/admin/webmail/messages",
            Some(&staff),
            json!({"patientId": "pat-1002", "subject": "Hola", "body": "¿Cómo está?"}),
        )
        .await;
    assert_eq!(s, 201);
    let sam = &l.logins.practices[0].patients[1];
    l.json("POST", "/v1/auth/forgot", None, json!({"practice": "lakeside", "usernameOrEmail": sam.username})).await;
    let mut mails = vec![];
    for _ in 0..50 {
        mails = texts_to(&l, "sam.rivera@example.com");
        if mails.len() >= 3 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let find =
        |start: &str| mails.iter().find(|m| m.starts_with(start)).unwrap_or_else(|| panic!("no mail {start:?} in {mails:#?}")).clone();
    let login = find("Su acceso al portal del paciente de Lakeside Family Dental");
    assert!(login.contains("Contraseña temporal:") && login.contains("/p/lakeside/?lang=es"), "{login}");
    let told = find("Tiene un mensaje seguro nuevo");
    // The link opens the portal in Spanish, at the messages; nothing of the message.
    assert!(told.contains("/p/lakeside/?lang=es#/messages") && !told.contains("Cómo"), "{told}");
    let reset = find("Restablezca su contraseña");
    assert!(reset.contains("funciona una sola vez") && reset.contains("?lang=es#reset=lakeside."), "{reset}");
    // An English-speaking patient's are in English, and their links add no language.
    l.json("POST", "/v1/admin/webmail/messages", Some(&staff), json!({"patientId": "pat-1001", "subject": "Hi", "body": "x"})).await;
    for _ in 0..50 {
        if !texts_to(&l, "alex.morgan@example.com").is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let alex = texts_to(&l, "alex.morgan@example.com");
    assert!(alex[0].starts_with("You have a new secure message") && alex[0].contains("/p/lakeside/#/messages"), "{alex:?}");
}
