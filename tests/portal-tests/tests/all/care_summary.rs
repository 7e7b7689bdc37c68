//! ModuleCareSummary over HTTP against portal-local: names from the imported code systems (and a
//! notice of the ones missing), the date range, download as a zip of the C-CDA document and its
//! rendering (link, SHA-256), sending by email, the activity history; the family rule and the
//! feature switch; bad input. And every demo patient's document, written out for the independent
//! C-CDA parser `tests/run` runs on it (`tests/ccda/check.mjs`).

use crate::code_systems::{import, SNOMED};
use crate::support::{client, start_local, Local};
use portal_core::ports::Db;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

const ALEX: (usize, usize) = (0, 0);
const JAMIE: (usize, usize) = (0, 2);

async fn import_demo_releases(l: &Local, practice: usize) {
    let staff = l.staff_token(practice).await;
    for (system, release) in
        [("SNOMED-CT", SNOMED), ("RxNorm", "RxNorm_full_11032025"), ("CVX", "cvx-20251001"), ("LOINC", "Loinc_2.80"), ("CDT", "cdt-2026")]
    {
        assert_eq!(import(l, &staff, system, release).await["state"], "done");
    }
}

fn section<'a>(summary: &'a Value, key: &str) -> &'a Vec<Value> {
    summary["sections"].as_array().unwrap().iter().find(|s| s["key"] == key).unwrap()["entries"].as_array().unwrap()
}

fn texts(summary: &Value, key: &str) -> Vec<String> {
    section(summary, key).iter().map(|e| e["text"].as_str().unwrap().to_string()).collect()
}

#[tokio::test]
#[allow(clippy::too_many_lines, reason = "one patient's story in order: view, download, send, then the history of all three")]
async fn a_patient_views_downloads_and_sends_their_care_summary() {
    let l = start_local().await;
    let alex = l.patient_token(ALEX.0, ALEX.1).await;
    // Before any import: the practice system's names, and the systems named as missing.
    let (s, before) = l.get("/v1/care-summary", Some(&alex)).await;
    assert_eq!(s, 200, "{before}");
    assert_eq!(before["missingCodeSystems"], json!(["SNOMED-CT", "RxNorm", "CVX", "LOINC", "CDT"]));
    assert_eq!(texts(&before, "allergies"), ["Peanut", "Penicillin G"]);
    import_demo_releases(&l, 0).await;
    let (_, summary) = l.get("/v1/care-summary", Some(&alex)).await;
    assert_eq!(summary["missingCodeSystems"], json!([]));
    assert_eq!(summary["patient"]["name"], "Alex Morgan");
    let keys: Vec<&str> = summary["sections"].as_array().unwrap().iter().map(|s| s["key"].as_str().unwrap()).collect();
    assert_eq!(
        keys,
        [
            "problems",
            "medications",
            "allergies",
            "immunizations",
            "vitalSigns",
            "results",
            "procedures",
            "planOfTreatment",
            "encounters",
            "careTeam",
            "socialHistory",
            "implantedDevices",
            "goals",
            "healthConcerns",
            "insurance"
        ]
    );
    let plan = &section(&summary, "insurance")[0]["coverage"];
    assert_eq!(
        (&plan["payerName"], &plan["memberId"], &plan["order"]),
        (&json!("Lakeshore Mutual Dental"), &json!("LMD448120"), &json!("primary"))
    );
    // A goal in the dentist's words; a concern coded, with its note.
    assert_eq!(texts(&summary, "goals"), ["Keep tooth #30 healthy after its crown"]);
    assert_eq!(section(&summary, "goals")[0]["code"], json!(null));
    assert_eq!(section(&summary, "healthConcerns")[0]["note"], "Check blood pressure before any surgery");
    // Who Alex is (USCDI): as the practice's system sent it, detailed codes with their names.
    assert_eq!((&summary["patient"]["sex"], &summary["patient"]["birthSex"]), (&json!("male"), &json!("male")));
    assert_eq!(summary["patient"]["race"]["categories"], json!(["2106-3", "2028-9"]));
    assert_eq!(summary["patient"]["race"]["detailed"][1], json!({"code": "2039-6", "display": "Japanese"}));
    assert_eq!(summary["patient"]["ethnicity"]["categories"], json!(["2186-5"]));
    assert_eq!(section(&summary, "socialHistory")[0]["code"]["code"], "8517006", "a former smoker");
    // The implant at #19: its UDI as printed, and read (GS1: the GTIN, expiry, lot, serial).
    let implant = &section(&summary, "implantedDevices")[0];
    assert_eq!((&implant["tooth"], &implant["udi"]), (&json!("19"), &json!("(01)00844588003288(17)290630(10)ALX2024(21)SN4471902")));
    assert_eq!(
        implant["device"],
        json!({"issuer": "gs1", "deviceId": "00844588003288", "expires": "2029-06-30", "lot": "ALX2024", "serial": "SN4471902"})
    );
    assert_eq!(
        texts(&summary, "allergies"),
        ["Peanut", "penicillin G"],
        "RxNorm's own name, imported; SNOMED CT's as the practice wrote it (not in the demo release)"
    );
    assert_eq!(texts(&summary, "medications"), ["amlodipine 5 MG Oral Tablet"]);
    assert_eq!(
        section(&summary, "problems")[0]["code"],
        json!({"system": "SNOMED-CT", "code": "38341003", "display": "Hypertensive disorder"})
    );
    assert_eq!(texts(&summary, "vitalSigns"), ["Systolic blood pressure", "Diastolic blood pressure"], "LOINC: the system's names");
    assert!(!section(&summary, "procedures").is_empty() && !section(&summary, "encounters").is_empty());
    // The plan's assessment in the dentist's words comes first, then its procedures.
    let plan = section(&summary, "planOfTreatment");
    assert_eq!(
        (&plan[0]["text"], &plan[0]["note"]),
        (&json!("Crown #30 and cleaning"), &json!("Crown recommended after fracture of the mesial cusp."))
    );
    // A procedure keeps the practice's words; its code is named from the practice's CDT list.
    assert_eq!(
        (&plan[1]["text"], &plan[1]["code"]),
        (&json!("Crown - porcelain/ceramic"), &json!({"system": "CDT", "code": "D2740", "display": "Porcelain crown"}))
    );
    assert_eq!(section(&summary, "careTeam")[0]["code"]["system"], "NPI");

    // A range: an old problem still active is in; last month's resolved caries only when it overlaps.
    let (_, old) = l.get("/v1/care-summary?from=2019-01-01&to=2019-12-31", Some(&alex)).await;
    assert_eq!(texts(&old, "problems"), ["Hypertensive disorder"]);
    assert!(section(&old, "vitalSigns").is_empty() && section(&old, "encounters").is_empty());
    for (q, code) in
        [("from=2026-02-01&to=2026-01-01", "date_range_invalid"), ("from=2026-02-30", "date_invalid"), ("from=yesterday", "date_invalid")]
    {
        let (s, v) = l.get(&format!("/v1/care-summary?{q}"), Some(&alex)).await;
        assert_eq!((s, v["code"].as_str()), (400, Some(code)), "{q}");
    }

    // Download: a zip with the document and its rendering, its SHA-256 as answered.
    let (s, file) = l.json("POST", "/v1/care-summary/download", Some(&alex), json!({})).await;
    assert_eq!(s, 200, "{file}");
    let res = client().get(file["url"].as_str().unwrap()).send().await.unwrap();
    assert!(res.headers()["content-disposition"].to_str().unwrap().contains("care-summary-"));
    let zip = res.bytes().await.unwrap();
    assert_eq!(hex::encode(Sha256::digest(&zip)), file["sha256"]);
    assert_eq!(&zip[..4], b"PK\x03\x04");
    let text = String::from_utf8_lossy(&zip);
    assert!(text.contains("care-summary.xml") && text.contains("care-summary.html"));
    assert!(text.contains("2.16.840.1.113883.10.20.22.1.2\" extension=\"2015-08-01\""), "the CCD template");
    let (s, v) = l.json("POST", "/v1/care-summary/download", Some(&alex), json!({"from": "2026-03-01", "to": "2026-01-01"})).await;
    assert_eq!((s, v["code"].as_str()), (400, Some("date_range_invalid")));

    // Send: refused clearly, then sent with the zip attached and no health data in the text.
    for (body, status, code) in [
        (json!({"to": "not an address", "encrypted": false}), 400, "email_invalid"),
        (json!({"to": "dr.who@clinic.example", "encrypted": true}), 422, "recipient_certificate_missing"),
        (json!({"to": "dr.who@clinic.example"}), 400, "invalid_body"),
    ] {
        let (s, v) = l.json("POST", "/v1/care-summary/transmit", Some(&alex), body.clone()).await;
        assert_eq!((s, v["code"].as_str()), (status, Some(code)), "{body}: {v}");
    }
    let (s, sent) =
        l.json("POST", "/v1/care-summary/transmit", Some(&alex), json!({"to": "dr.who@clinic.example", "encrypted": false})).await;
    assert_eq!((s, sent["status"].as_str()), (202, Some("sent")), "{sent}");
    let mail = l.backends.mailer.list().unwrap().into_iter().map(|(_, raw)| raw).find(|m| m.contains("To: dr.who@clinic.example")).unwrap();
    assert!(mail.contains("care-summary.zip") && mail.contains("application/zip"));
    let body = mail.split("care-summary.zip").next().unwrap();
    assert!(!body.contains("Alex") && !body.contains("Hypertensive"), "no health data or name outside the attachment");

    // The history: each view, download and send, newest first, by whom and to whom.
    let (s, activity) = l.get("/v1/care-summary/activity", Some(&alex)).await;
    assert_eq!(s, 200, "{activity}");
    let items = activity["items"].as_array().unwrap();
    assert_eq!(items[0]["action"], "transmit");
    assert_eq!((items[0]["to"].as_str(), items[0]["by"].as_str()), (Some("dr.who@clinic.example"), Some("self")));
    assert!(items.iter().any(|i| i["action"] == "download") && items.iter().filter(|i| i["action"] == "view").count() >= 3);
    // Only a send has a recipient: a view's or download's date range is not one.
    assert!(items.iter().filter(|i| i["action"] != "transmit").all(|i| i.get("to").is_none()), "{activity}");
}

#[tokio::test]
async fn only_the_patient_and_their_representatives_see_a_summary() {
    let l = start_local().await;
    let alex = l.patient_token(ALEX.0, ALEX.1).await;
    let jamie = l.patient_token(JAMIE.0, JAMIE.1).await;
    // Alex guards Riley: viewing Riley's is a representative's view in Riley's history.
    let (s, riley) = l.get("/v1/care-summary?patient=pat-1004", Some(&alex)).await;
    assert_eq!((s, riley["patient"]["id"].as_str()), (200, Some("pat-1004")));
    let (_, history) = l.get("/v1/care-summary/activity?patient=pat-1004", Some(&jamie)).await;
    let by = &history["items"][0];
    assert_eq!((by["by"].as_str(), by["byName"].as_str()), (Some("representative"), Some("Alex Morgan")));
    // Anyone else's: 404, for the summary, its download and its history alike.
    for (token, path) in [
        (&jamie, "/v1/care-summary?patient=pat-1001"),
        (&alex, "/v1/care-summary?patient=pat-1002"),
        (&alex, "/v1/care-summary/activity?patient=pat-1002"),
    ] {
        assert_eq!(l.get(path, Some(token)).await.0, 404, "{path}");
    }
    assert_eq!(l.json("POST", "/v1/care-summary/download?patient=pat-1002", Some(&alex), json!({})).await.0, 404);
    let jordan = l.patient_token(1, 0).await;
    assert_eq!(l.get("/v1/care-summary?patient=pat-1001", Some(&jordan)).await.0, 403, "Hillcrest has not turned the care summary on");
    // The feature off: 403 for everyone.
    let staff = l.staff_token(0).await;
    let (_, settings) = l.get("/v1/admin/settings", Some(&staff)).await;
    let features: Vec<Value> =
        settings["settings"]["features"].as_array().unwrap().iter().filter(|f| *f != "ModuleCareSummary").cloned().collect();
    let (s, v) = l
        .json(
            "PUT",
            "/v1/admin/settings/features",
            Some(&staff),
            json!({"features": features, "version": settings["settings"]["versions"]["features"]}),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(l.get("/v1/care-summary", Some(&alex)).await.0, 403);
}

/// Every demo patient's document (both practices), written where `tests/run` has the independent
/// parser read them, with what it must find; here: the templates and every code are in it.
#[tokio::test]
async fn every_demo_patients_document_carries_their_codes() {
    use portal_core::audit::{Actor, ActorKind};
    use portal_core::code_systems::{terms::Terms, System};
    use portal_core::patient::care_summary::CareSummaries;
    use portal_core::practice::family::{FamilyAccess, Viewer};
    use portal_core::reads::Caller;
    use portal_core::sync::entities::{ClinicalEntry, ClinicalKind};
    use portal_core::sync::records::{DateRange, Order, PatientRecords};
    let l = start_local().await;
    import_demo_releases(&l, 0).await;
    let out = match std::env::var("PORTAL_CCDA_DIR") {
        Ok(d) if !d.is_empty() => std::path::PathBuf::from(d),
        _ => l.data_dir.path().join("ccda"),
    };
    std::fs::create_dir_all(&out).unwrap();
    let table = l.backends.table.as_ref();
    let mut documents = 0;
    for practice in ["lakeside", "hillcrest"].map(|p| portal_core::ids::PracticeId::parse(p).unwrap()) {
        let practice = &practice;
        let roster = portal_core::sync::roster::Roster { db: Db { table, clock: l.backends.clock.as_ref() } }
            .search(practice, "", 50, None)
            .await
            .unwrap();
        for patient in roster.entries {
            let id = patient.patient_id;
            let caller =
                Caller { actor: Actor::new(practice, ActorKind::Patient, &id, None), viewer: Viewer::new(&id, FamilyAccess::default()) };
            let summaries = CareSummaries { db: Db { table, clock: l.backends.clock.as_ref() } };
            let mut summary = summaries.view(&caller, "Demo", None, (None, None)).await.unwrap();
            // As a download or a send reads it: the practice's address and phone for the header.
            let settings = portal_core::practice::settings::SettingsRepo { db: Db { table, clock: l.backends.clock.as_ref() } };
            summary.practice_contact = settings.get(practice).await.unwrap().map(|s| s.contact);
            let xml = portal_core::ccda::document(&summary, practice, portal_core::clock::unix_now());
            if practice.as_str() == "lakeside" {
                let office = "<telecom value=\"tel:2695550100\" use=\"WP\"/><addr use=\"WP\"><streetAddressLine>120 Harbor Drive</streetAddressLine><city>Lakeside</city><state>MI</state><postalCode>49116</postalCode>";
                assert!(xml.contains(office), "the custodian's address and phone from the practice's contact settings");
            }
            // What was synced, read on its own, named as the practice's imported releases name it.
            let records = PatientRecords { db: Db { table, clock: l.backends.clock.as_ref() } };
            let page = records.for_patient::<ClinicalEntry>(practice, &id, &DateRange::all(), Order::OldestFirst, 500, None).await.unwrap();
            let synced: Vec<std::sync::Arc<ClinicalEntry>> = page.records.into_iter().map(|r| r.record).collect();
            let codes: Vec<(System, String)> =
                synced.iter().filter_map(|c| c.code.as_ref()).filter_map(|c| Some((System::parse(&c.system)?, c.code.clone()))).collect();
            let names = Terms { db: Db { table, clock: l.backends.clock.as_ref() } }.names(practice, &codes).await.unwrap();
            let mut expected = json!({"problems": [], "medications": [], "allergies": [], "immunizations": []});
            for c in &synced {
                let key = match c.kind {
                    ClinicalKind::Problem => "problems",
                    ClinicalKind::Medication => "medications",
                    ClinicalKind::Allergy => "allergies",
                    ClinicalKind::Immunization => "immunizations",
                    _ => continue,
                };
                let code = c.code.as_ref().expect("these kinds are coded");
                let name = System::parse(&code.system).and_then(|s| names.get(s, &code.code)).unwrap_or(&code.display);
                assert!(xml.contains(&format!("code=\"{}\"", code.code)), "{practice}/{id}: {} missing", code.code);
                expected[key].as_array_mut().unwrap().push(json!({"code": code.code, "name": name}));
            }
            for template in ["2.16.840.1.113883.10.20.22.1.1", "2.16.840.1.113883.10.20.22.1.2"] {
                assert!(xml.contains(&format!("<templateId root=\"{template}\" extension=\"2015-08-01\"/>")), "{id}");
            }
            // Who did what, by NPI and name in parts; a minor's guardians from the family's records.
            if id == "pat-1001" {
                let maya = "<id root=\"2.16.840.1.113883.4.6\" extension=\"1234567893\"/><assignedPerson><name use=\"L\"><given>Maya</given><family>Chen</family><suffix>DDS</suffix></name>";
                assert!(xml.matches(maya).count() >= 3, "the care team, the visit and the procedures name Maya Chen by NPI");
            }
            if id == "pat-1001" {
                let udi = "<id root=\"2.16.840.1.113883.3.3719\" extension=\"(01)00844588003288(17)290630(10)ALX2024(21)SN4471902\"/>";
                assert!(xml.contains(udi), "the implant's Product Instance carries its UDI");
            }
            if id == "pat-1002" {
                assert!(
                    xml.contains("<raceCode nullFlavor=\"UNK\"/><sdtc:raceCode code=\"2029-7\""),
                    "a detailed code alone follows an unknown category"
                );
            }
            if id == "pat-1005" {
                assert!(
                    xml.contains("<code code=\"FAMDEP\"") && xml.contains("<participant typeCode=\"HLD\">"),
                    "a child covered through a parent"
                );
                assert!(
                    xml.contains("<guardian><code code=\"MTH\"") && xml.contains("<guardianPerson><name use=\"L\"><given>Jamie</given>")
                );
            }
            std::fs::write(out.join(format!("{practice}-{id}.xml")), &xml).unwrap();
            std::fs::write(out.join(format!("{practice}-{id}.expected.json")), expected.to_string()).unwrap();
            documents += 1;
        }
    }
    assert!(documents >= 10, "{documents} documents");
}

/// Encrypted sending: an admin registers a Direct recipient's certificate (refused when it is not
/// one); a patient sends encrypted to that address only; the message is S/MIME enveloped data
/// that `openssl cms -decrypt` opens with the recipient's key, and holds the summary's zip.
#[tokio::test]
async fn a_summary_sent_encrypted_opens_only_with_the_recipients_key() {
    let l = start_local().await;
    let staff = l.staff_token(0).await;
    let alex = l.patient_token(ALEX.0, ALEX.1).await;
    let fixtures = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/smime");
    let pem = std::fs::read_to_string(fixtures.join("recipient-cert.pem")).unwrap();
    let (s, v) = l
        .json(
            "POST",
            "/v1/admin/direct-recipients",
            Some(&staff),
            json!({"certificate": "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----"}),
        )
        .await;
    assert_eq!((s, v["code"].as_str()), (400, Some("certificate_invalid")));
    let before = json!({"to": "records@direct.clinic.example", "encrypted": true});
    let (s, v) = l.json("POST", "/v1/care-summary/transmit", Some(&alex), before.clone()).await;
    assert_eq!((s, v["code"].as_str()), (422, Some("recipient_certificate_missing")));
    let (s, added) = l.json("POST", "/v1/admin/direct-recipients", Some(&staff), json!({"certificate": pem})).await;
    assert_eq!(s, 201, "{added}");
    assert_eq!(added["items"][0]["address"], "records@direct.clinic.example");
    assert!(added["items"][0].get("certificateDer").is_none(), "the certificate stays stored");
    let (_, list) = l.get("/v1/admin/direct-recipients", Some(&staff)).await;
    assert_eq!(list["items"].as_array().unwrap().len(), 1);
    assert_eq!(
        l.json("POST", "/v1/care-summary/transmit", Some(&alex), json!({"to": "someone@else.example", "encrypted": true})).await.0,
        422
    );

    let (s, sent) = l.json("POST", "/v1/care-summary/transmit", Some(&alex), before).await;
    assert_eq!((s, sent["status"].as_str()), (202, Some("sent")), "{sent}");
    let (_, raw) =
        l.backends.mailer.list().unwrap().into_iter().find(|(_, raw)| raw.contains("To: records@direct.clinic.example")).unwrap();
    let path = l.data_dir.path().join("sealed.eml");
    std::fs::write(&path, &raw).unwrap();
    assert!(raw.contains("Content-Type: application/pkcs7-mime; smime-type=enveloped-data"));
    assert!(!raw.contains("care-summary.zip") && !raw.contains("UEsDB"), "nothing of the content outside the envelope");
    let out = std::process::Command::new("openssl")
        .args(["cms", "-decrypt", "-inkey"])
        .arg(fixtures.join("recipient-key.pem"))
        .arg("-in")
        .arg(&path)
        .output()
        .expect("openssl (tests/run installs it)");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let inner = String::from_utf8_lossy(&out.stdout);
    assert!(inner.contains("Content-Type: application/zip; name=\"care-summary.zip\""), "{inner}");
    let (_, activity) = l.get("/v1/care-summary/activity", Some(&alex)).await;
    assert_eq!(activity["items"][0]["to"], "records@direct.clinic.example");

    assert_eq!(l.json("DELETE", "/v1/admin/direct-recipients/records@direct.clinic.example", Some(&staff), Value::Null).await.0, 204);
    assert_eq!(l.json("DELETE", "/v1/admin/direct-recipients/records@direct.clinic.example", Some(&staff), Value::Null).await.0, 404);
}
