//! Code-system imports over HTTP: staff list systems and releases, start imports that run in the
//! local host's own workflow, follow them to the end, and are refused clearly on bad input; and a
//! real `portal-local` process killed with SIGKILL in the middle of an import resumes it when it
//! starts again, the previous version answering meanwhile.

use crate::support::{start_host, start_local, Local};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

pub const SNOMED: &str = "SnomedCT_InternationalRF2_PRODUCTION_20250101T120000Z";

/// Polls an import until it has ended (or `deadline` passes).
async fn until_ended(get: impl AsyncFn() -> Value, deadline: Duration) -> Value {
    let start = Instant::now();
    loop {
        let status = get().await;
        if !matches!(status["state"].as_str(), Some("queued" | "running")) || start.elapsed() > deadline {
            return status;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

pub async fn import(l: &Local, staff: &str, system: &str, release: &str) -> Value {
    let (s, started) = l.json("POST", "/v1/admin/code-systems/imports", Some(staff), json!({"system": system, "release": release})).await;
    assert_eq!(s, 202, "{started}");
    let path = format!("/v1/admin/code-systems/imports/{}", started["id"].as_str().unwrap());
    until_ended(async || l.get(&path, Some(staff)).await.1, Duration::from_secs(30)).await
}

#[tokio::test]
async fn staff_import_code_systems_and_follow_progress() {
    let l = start_local().await;
    let staff = l.staff_token(0).await;
    let (s, systems) = l.get("/v1/admin/code-systems", Some(&staff)).await;
    assert_eq!(s, 200, "{systems}");
    let names: Vec<&str> = systems["systems"].as_array().unwrap().iter().map(|s| s["system"].as_str().unwrap()).collect();
    assert_eq!(names, ["SNOMED-CT", "RxNorm", "CVX", "LOINC", "CDT"]);
    assert!(systems["systems"].as_array().unwrap().iter().all(|s| s["active"].is_null()));
    let (s, releases) = l.get("/v1/admin/code-systems/releases", Some(&staff)).await;
    assert_eq!(s, 200, "{releases}");
    assert_eq!(releases["location"], "lakeside/code-systems/releases/");
    let found: Vec<(&str, &str)> =
        releases["releases"].as_array().unwrap().iter().map(|r| (r["name"].as_str().unwrap(), r["system"].as_str().unwrap())).collect();
    assert_eq!(
        found,
        [("Loinc_2.80", "LOINC"), ("RxNorm_full_11032025", "RxNorm"), (SNOMED, "SNOMED-CT"), ("cdt-2026", "CDT"), ("cvx-20251001", "CVX")]
    );

    // Refused, clearly, before anything starts.
    for (body, status, code) in [
        (json!({"system": "CVX"}), 400, "invalid_body"),
        (json!({"system": "ICD-9", "release": "x"}), 400, "code_system_unknown"),
        (json!({"system": "CVX", "release": "../../etc"}), 400, "release_invalid"),
        (json!({"system": "CVX", "release": "cvx-19990101"}), 422, "release_unknown"),
        (json!({"system": "RxNorm", "release": "cvx-20251001"}), 422, "release_system_mismatch"),
    ] {
        let (s, v) = l.json("POST", "/v1/admin/code-systems/imports", Some(&staff), body.clone()).await;
        assert_eq!((s, v["code"].as_str()), (status, Some(code)), "{body}: {v}");
        assert_eq!(v["status"], status, "a problem body");
    }

    let snomed = import(&l, &staff, "SNOMED-CT", SNOMED).await;
    assert_eq!(snomed["state"], "done", "{snomed}");
    assert_eq!((snomed["rowsDone"].as_u64(), snomed["rowsTotal"].as_u64()), (Some(80), Some(80)));
    assert_eq!(snomed["batchesDone"], snomed["batchesTotal"]);
    assert_eq!(snomed["startedBy"], "test-admin-0");
    assert!(snomed.get("error").is_none());
    for (system, release) in [("RxNorm", "RxNorm_full_11032025"), ("CVX", "cvx-20251001"), ("LOINC", "Loinc_2.80"), ("CDT", "cdt-2026")] {
        assert_eq!(import(&l, &staff, system, release).await["state"], "done", "{release}");
    }
    let (_, systems) = l.get("/v1/admin/code-systems", Some(&staff)).await;
    let snomed_state = &systems["systems"][0];
    assert_eq!(snomed_state["active"]["version"], SNOMED);
    assert_eq!(snomed_state["active"]["rows"], 46);
    assert_eq!(snomed_state["active"]["importedBy"], "test-admin-0");
    assert_eq!((snomed_state["running"].clone(), snomed_state["last"]["state"].clone()), (Value::Null, json!("done")));
    assert_eq!(systems["systems"][2]["active"]["rows"], 14, "CVX from UTF-16");
    assert_eq!(systems["systems"][3]["active"]["rows"], 10, "LOINC, a record with a line break in a field among them");
    assert_eq!(systems["systems"][4]["active"]["rows"], 14, "CDT");
    assert!(systems["systems"].as_array().unwrap().iter().all(|s| s.get("leftovers").is_none()), "cleaned up");

    // An ended import cannot be cancelled; an unknown one, or another practice's, is not there.
    let id = snomed["id"].as_str().unwrap();
    let (s, v) = l.json("DELETE", &format!("/v1/admin/code-systems/imports/{id}"), Some(&staff), Value::Null).await;
    assert_eq!((s, v["code"].as_str()), (409, Some("import_finished")));
    assert_eq!(l.get("/v1/admin/code-systems/imports/0000", Some(&staff)).await.0, 404);
    let other = l.staff_token(1).await;
    assert_eq!(l.get(&format!("/v1/admin/code-systems/imports/{id}"), Some(&other)).await.0, 404);
    let (_, theirs) = l.get("/v1/admin/code-systems", Some(&other)).await;
    assert!(theirs["systems"][0]["active"].is_null(), "one practice's import is not another's");
}

/// The demo's staff login of a data folder, as a person would use it.
async fn staff_login(base: &str, data_dir: &std::path::Path) -> String {
    let logins: Value = serde_json::from_str(&std::fs::read_to_string(data_dir.join("demo-logins.json")).unwrap()).unwrap();
    let staff = &logins["practices"][0]["staff"];
    let step = crate::support::now() / portal_core::identity::totp::STEP;
    let code = portal_core::identity::totp::code_at(staff["totpSecret"].as_str().unwrap(), u64::try_from(step).unwrap()).unwrap();
    let body = json!({"practice": "lakeside", "username": staff["username"], "password": staff["password"], "totp": code});
    let res = crate::support::client().post(format!("{base}/v1/staff/login")).json(&body).send().await.unwrap();
    let v: Value = res.json().await.unwrap();
    v["token"].as_str().unwrap_or_else(|| panic!("{v}")).to_string()
}

#[tokio::test]
async fn an_import_killed_midway_resumes_when_the_host_starts_again() {
    let data = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let base = format!("http://127.0.0.1:{port}");
    let host = start_host(port, data.path(), None).await;
    let token = staff_login(&base, data.path()).await;
    let get = async |path: &str| -> Value {
        let res = crate::support::client().get(format!("{base}{path}")).bearer_auth(&token).send().await.unwrap();
        res.json().await.unwrap()
    };
    let post = async |body: Value| -> Value {
        let res = crate::support::client()
            .post(format!("{base}/v1/admin/code-systems/imports"))
            .bearer_auth(&token)
            .json(&body)
            .send()
            .await
            .unwrap();
        res.json().await.unwrap()
    };
    // The version that must keep answering.
    let first = post(json!({"system": "SNOMED-CT", "release": SNOMED})).await;
    let path = format!("/v1/admin/code-systems/imports/{}", first["id"].as_str().unwrap());
    assert_eq!(until_ended(async || get(&path).await, Duration::from_secs(30)).await["state"], "done");

    // A full-size-like release put in the folder by hand, imported, and the host killed midway.
    let folder = data.path().join("blobs/lakeside/code-systems/releases/SnomedCT_Generated");
    let lines = code_import_bench::write_snomed_release(&folder, 150_000).unwrap();
    let big = post(json!({"system": "SNOMED-CT", "release": "SnomedCT_Generated"})).await;
    let path = format!("/v1/admin/code-systems/imports/{}", big["id"].as_str().unwrap());
    let start = Instant::now();
    let midway = loop {
        let status = get(&path).await;
        if status["batchesDone"].as_u64() >= Some(1) || start.elapsed() > Duration::from_secs(60) {
            break status;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(midway["state"], "running", "{midway}");
    assert!(midway["batchesDone"].as_u64() < midway["batchesTotal"].as_u64(), "{midway}");
    drop(host); // SIGKILL: no shutdown of any kind

    let _host = start_host(port, data.path(), None).await;
    let systems = get("/v1/admin/code-systems").await;
    assert_eq!(systems["systems"][0]["active"]["version"], SNOMED, "the previous version answers meanwhile");
    let ended = until_ended(async || get(&path).await, Duration::from_secs(120)).await;
    assert_eq!(ended["state"], "done", "{ended}");
    assert_eq!((ended["rowsDone"].as_u64(), ended["rowsTotal"].as_u64()), (Some(lines), Some(lines)));
    assert_eq!(ended["batchesDone"], ended["batchesTotal"]);
    let systems = get("/v1/admin/code-systems").await;
    assert_eq!(systems["systems"][0]["active"]["version"], "SnomedCT_Generated");
}
