//! The authorization matrix, generated from `infra/openapi.yaml`: every documented route, called by
//! every kind of principal, answers as the access table designs it — and no answer to one
//! principal carries another's data. A route added to the contract is covered without touching
//! this file. Path ids name Alex's own records (Lakeside, pat-1001), and patient routes ask for
//! `?patient=pat-1001`, so anyone but Alex asking is asking for someone else's data.

use crate::support::{client, send, start_local, Local};
use crate::sync::SyncClient;
use portal_core::access::{required, Access};
use serde_json::{json, Value};

/// `(METHOD, path template)` of every route in the contract.
fn documented_routes() -> Vec<(String, String)> {
    let spec = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../infra/openapi.yaml")).unwrap();
    let mut routes = vec![];
    let mut path = None;
    for line in spec.lines() {
        if let Some(p) = line.strip_prefix("  /").and_then(|p| p.strip_suffix(':')) {
            path = Some(format!("/{p}"));
        } else if !line.starts_with("  ") {
            path = None;
        } else if let (Some(p), Some(m)) = (&path, line.strip_prefix("    ").and_then(|m| m.strip_suffix(':'))) {
            if ["get", "post", "put", "delete", "patch"].contains(&m) {
                routes.push((m.to_uppercase(), p.clone()));
            }
        }
    }
    routes
}

/// Alex's WebMail: a thread he started and the office's reply in it.
struct Mail {
    thread: String,
    to_office: String,
    to_alex: String,
    attachment: String,
}

/// A concrete request for a route template: Alex's records, and `?patient=` on patient routes.
fn concrete(method: &str, template: &str, mail: &Mail) -> (String, Option<Value>) {
    let path = template
        .replace("/v1/webmail/messages/{id}", &format!("/v1/webmail/messages/{}", mail.to_alex))
        .replace("/v1/admin/webmail/messages/{id}", &format!("/v1/admin/webmail/messages/{}", mail.to_office))
        .replace("{thread_id}", &mail.thread)
        .replace("/v1/webmail/attachments/{id}", &format!("/v1/webmail/attachments/{}", mail.attachment))
        .replace("/v1/admin/webmail/attachments/{id}", &format!("/v1/admin/webmail/attachments/{}", mail.attachment))
        .replace("/v1/sync/{entity}/{id}", "/v1/sync/patients/pat-1001")
        .replace("{practice_id}", "lakeside")
        .replace("{key_id}", "no-such-key")
        .replace("/v1/account/statements/{id}", "/v1/account/statements/stmt-2")
        .replace("/v1/images/{id}", "/v1/images/doc-1")
        .replace("/v1/payments/{id}", "/v1/payments/0069a1b2c3d4e5f60718293a4b")
        .replace("/v1/admin/payments/{id}", "/v1/admin/payments/0069a1b2c3d4e5f60718293a4b")
        .replace("/v1/public/payments/{id}", "/v1/public/payments/0069a1b2c3d4e5f60718293a4b")
        .replace("{practice}", "lakeside")
        .replace("/v1/appointments/{id}", "/v1/appointments/apt-0011")
        .replace("{recall_id}", "rc-1001")
        // Taylor has no login to begin with: granting, resetting and removing hers leaves Alex's alone.
        .replace("{patient_id}", "pat-1008")
        .replace("{username}", "frontdesk")
        .replace("/v1/admin/code-systems/imports/{id}", "/v1/admin/code-systems/imports/0f3c5a")
        .replace("{address}", "records@direct.clinic.example");
    assert!(!path.contains('{'), "no example id for {template}: add one above");
    let path = match required(method, &path) {
        Some(Access::Feature(_)) => format!("{path}?patient=pat-1001"),
        _ => path,
    };
    let body = match (method, template) {
        ("GET" | "DELETE", _) => None,
        (_, "/v1/appointments/recalls/{recall_id}/book") => Some(json!({"slotId": "slot-1"})),
        (_, "/v1/appointments/{id}/change-request") => Some(json!({"kind": "reschedule"})),
        (_, "/v1/me/profile") => Some(json!({"preferredLanguage": "es"})),
        (_, "/v1/webmail/messages") => Some(json!({"providerId": "prov-1", "subject": "Question", "body": "Hello"})),
        (_, "/v1/admin/payments/{id}/refund") => Some(json!({"amountCents": 100, "idempotencyKey": "authorization-test-1"})),
        (_, "/v1/admin/payments/{id}/assign") => Some(json!({"patientId": "pat-1001"})),
        (_, "/v1/public/payments") => Some(json!({"practice": "lakeside", "firstName": "A", "lastName": "B", "birthdate": "1990-01-01",
            "amountCents": 100, "idempotencyKey": "authorization-test-0000000000000001"})),
        (_, p) if p.starts_with("/v1/public/payments/") => {
            Some(json!({"practice": "lakeside", "idempotencyKey": "authorization-test-0000000000000001"}))
        }
        (_, "/v1/payments/{id}/card") => Some(json!({"token": "tok_authorizationtest"})),
        (_, "/v1/payments") => Some(json!({"amountCents": 1000, "idempotencyKey": "authorization-test-1"})),
        (_, "/v1/admin/invites/preview") => Some(json!({"subject": "Your portal", "body": "Log in at [URL]"})),
        (_, "/v1/admin/invites/test") => Some(json!({"subject": "Your portal", "body": "Log in at [URL]", "to": "me@lakeside.example"})),
        (_, "/v1/care-summary/transmit") => Some(json!({"to": "records@clinic.example", "encrypted": false})),
        (_, "/v1/admin/webmail/messages") => Some(json!({"patientId": "pat-1001", "subject": "Hello", "body": "Hello"})),
        (_, p) if p.ends_with("/reply") => Some(json!({"body": "Thanks"})),
        (_, p) if p.ends_with("/read") => Some(json!({"read": true})),
        (_, p) if p.ends_with("/attachments") => Some(json!({"fileName": "card.pdf", "contentType": "application/pdf", "size": 10})),
        _ => Some(json!({})),
    };
    (path, body)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Who {
    Anonymous,
    /// Alex, whose records the requests name.
    Patient,
    /// Jamie: same practice, may not see Alex.
    OtherPatient,
    /// Jordan, of Hillcrest.
    OtherPracticePatient,
    Staff,
    OtherPracticeStaff,
    SyncKey,
    /// Alex, after the practice switched every feature off.
    FeatureOff,
    /// Alex's token after logging out.
    LoggedOut,
}

/// What the design says `who` gets on a route that needs `access`.
fn allowed(who: Who, access: Access) -> Result<(), &'static [u16]> {
    use Who::*;
    match (access, who) {
        (Access::Public, _) => Ok(()),
        (_, Anonymous | LoggedOut) => Err(&[401]),
        (Access::Sync, SyncKey) => Ok(()),
        (Access::Sync, _) => Err(&[401, 403]),
        // A signature is no session: outside the sync API it logs nobody in.
        (_, SyncKey) => Err(&[401, 403]),
        (Access::Session, _) => Ok(()),
        (Access::Patient, Patient | OtherPatient | OtherPracticePatient | FeatureOff) => Ok(()),
        (Access::Patient, _) => Err(&[403]),
        (Access::Feature(_), Patient) => Ok(()),
        // Alex's records do not exist for anyone else (Hillcrest has no Images: 403 first).
        (Access::Feature(_), OtherPatient) => Err(&[404]),
        (Access::Feature(_), OtherPracticePatient) => Err(&[403, 404]),
        (Access::Feature(_), _) => Err(&[403]),
        (Access::Staff(_) | Access::StaffFeature(..), Staff | OtherPracticeStaff) => Ok(()),
        (Access::Staff(_) | Access::StaffFeature(..), _) => Err(&[403]),
    }
}

struct Principals<'a> {
    l: &'a Local,
    tokens: std::collections::HashMap<&'static str, String>,
}

impl Principals<'_> {
    /// A token for `who` (a fresh one where the route would end the session).
    async fn token(&mut self, who: Who, ends_session: bool) -> Option<String> {
        let key = match who {
            Who::Patient | Who::FeatureOff => "alex",
            Who::OtherPatient => "jamie",
            Who::OtherPracticePatient => "jordan",
            Who::Staff => "staff",
            Who::OtherPracticeStaff => "other-staff",
            Who::LoggedOut => return self.tokens.get("logged-out").cloned(),
            Who::Anonymous | Who::SyncKey => return None,
        };
        if ends_session || !self.tokens.contains_key(key) {
            let t = match key {
                "alex" => self.l.patient_token(0, 0).await,
                "jamie" => self.l.patient_token(0, 2).await,
                "jordan" => self.l.patient_token(1, 0).await,
                "staff" => self.l.staff_token(0).await,
                _ => self.l.staff_token(1).await,
            };
            if ends_session {
                return Some(t);
            }
            self.tokens.insert(key, t);
        }
        self.tokens.get(key).cloned()
    }

    async fn call(&mut self, who: Who, method: &str, path: &str, body: Option<&Value>) -> (u16, Value) {
        if who == Who::SyncKey {
            let s = &self.l.logins.practices[0].sync;
            let c = SyncClient { local: self.l, key_id: s.key_id.clone(), secret: s.secret.clone() };
            let (p, q) = path.split_once('?').unwrap_or((path, ""));
            let query: Vec<(&str, &str)> = q.split('&').filter(|kv| !kv.is_empty()).filter_map(|kv| kv.split_once('=')).collect();
            return c.call(method, p, &query, body).await;
        }
        let token = self.token(who, path == "/v1/auth/logout").await;
        let mut req = client().request(method.parse().unwrap(), self.l.url(path));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(b);
        }
        let (s, v, _) = send(req).await;
        (s, v)
    }
}

#[tokio::test]
async fn every_documented_route_answers_every_principal_as_designed() {
    let l = start_local().await;
    let mut who = Principals { l: &l, tokens: Default::default() };
    let logged_out = l.patient_token(0, 0).await;
    assert_eq!(l.json("POST", "/v1/auth/logout", Some(&logged_out), json!({})).await.0, 200);
    who.tokens.insert("logged-out", logged_out);
    let routes = documented_routes();
    let alex = l.patient_token(0, 0).await;
    let pdf = b"%PDF-1.4 Alex's insurance card".to_vec();
    let card = json!({"fileName": "card.pdf", "contentType": "application/pdf", "size": pdf.len()});
    let (s, declared) = l.json("POST", "/v1/webmail/attachments", Some(&alex), card).await;
    assert_eq!(s, 201, "{declared}");
    client().put(declared["uploadUrl"].as_str().unwrap()).header("content-type", "application/pdf").body(pdf).send().await.unwrap();
    let body = json!({"providerId": "prov-1", "subject": "Crown", "body": "A question", "attachmentIds": [declared["id"]]});
    let (s, started) = l.json("POST", "/v1/webmail/messages", Some(&alex), body).await;
    assert_eq!(s, 201, "{started}");
    let thread = started["threadId"].as_str().unwrap().to_string();
    let staff = who.token(Who::Staff, false).await.unwrap();
    let (s, answered) =
        l.json("POST", &format!("/v1/admin/webmail/threads/{thread}/reply"), Some(&staff), json!({"body": "An answer"})).await;
    assert_eq!(s, 201, "{answered}");
    let mail = Mail {
        thread,
        to_office: started["id"].as_str().unwrap().into(),
        to_alex: answered["id"].as_str().unwrap().into(),
        attachment: declared["id"].as_str().unwrap().into(),
    };
    assert!(routes.len() >= 36, "{routes:?}");
    let principals = [
        Who::Anonymous,
        Who::Patient,
        Who::OtherPatient,
        Who::OtherPracticePatient,
        Who::Staff,
        Who::OtherPracticeStaff,
        Who::SyncKey,
        Who::LoggedOut,
    ];
    let mut failures = vec![];
    let mut check = |p: Who, method: &str, path: &str, access: Access, (status, body): (u16, Value)| {
        let fine = match allowed(p, access) {
            Ok(()) => !matches!(status, 401 | 403) && status < 500,
            Err(statuses) => statuses.contains(&status),
        };
        if !fine {
            failures.push(format!("{p:?} {method} {path}: {status} {body}"));
        }
        if status >= 400 && body["code"].as_str().is_none() {
            failures.push(format!("{p:?} {method} {path}: {status} without a problem body"));
        }
        // Nobody but Alex, his practice's staff and its system sees anything of Alex.
        let text = body.to_string();
        if !matches!(p, Who::Patient | Who::Staff | Who::SyncKey | Who::FeatureOff) && (text.contains("pat-1001") || text.contains("Alex"))
        {
            failures.push(format!("{p:?} {method} {path}: the answer carries Alex's data: {text}"));
        }
    };
    for (method, template) in &routes {
        let (path, body) = concrete(method, template, &mail);
        let access =
            required(method, path.split('?').next().unwrap()).unwrap_or_else(|| panic!("{method} {path} is not in the access table"));
        for p in principals {
            let answer = who.call(p, method, &path, body.as_ref()).await;
            check(p, method, &path, access, answer);
        }
    }
    // Feature off: the practice switches every feature off; Alex's own requests are refused.
    let (_, settings) = l.get("/v1/admin/settings", Some(&staff)).await;
    let (s, v) = l
        .json(
            "PUT",
            "/v1/admin/settings/features",
            Some(&staff),
            json!({"features": [], "version": settings["settings"]["versions"]["features"]}),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    for (method, template) in &routes {
        let (path, body) = concrete(method, template, &mail);
        let access = required(method, path.split('?').next().unwrap()).unwrap();
        // Alex on patient routes, the practice's staff on the staff side of a feature.
        let as_who = match access {
            Access::Feature(_) => Who::FeatureOff,
            Access::StaffFeature(..) => Who::Staff,
            _ => continue,
        };
        let (status, v) = who.call(as_who, method, &path, body.as_ref()).await;
        if (status, v["code"].as_str()) != (403, Some("feature_disabled")) {
            failures.push(format!("feature off, {as_who:?} {method} {path}: {status} {v}"));
        }
    }
    assert!(failures.is_empty(), "{} of {} answers not as designed:\n{}", failures.len(), routes.len() * 9, failures.join("\n"));
}
