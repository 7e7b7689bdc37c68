//! WebMail over HTTP against portal-local: the office writes, the patient is told by email (never
//! the text), reads and replies, the office is told and sees the reply; who may see what; bad input.

use crate::support::{client, start_local, Local};
use serde_json::{json, Value};
use std::time::Duration;

/// The mails portal-local's outbox holds, waiting up to a few seconds for `want` of them to `to`.
async fn mails_to(l: &Local, to: &str, want: usize) -> Vec<String> {
    let mut found = vec![];
    for _ in 0..50 {
        found =
            l.backends.mailer.list().unwrap().into_iter().map(|(_, raw)| raw).filter(|raw| raw.contains(&format!("To: {to}"))).collect();
        if found.len() >= want {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    found
}

#[tokio::test]
async fn the_office_writes_the_patient_is_told_reads_and_replies() {
    let l = start_local().await;
    let staff = l.staff_token(0).await;
    let alex = l.patient_token(0, 0).await;
    let secret = "Your crown has arrived from the lab";
    let (s, sent) = l
        .json(
            "POST",
            "/v1/admin/webmail/messages",
            Some(&staff),
            json!({"patientId": "pat-1001", "subject": "Crown update", "body": secret}),
        )
        .await;
    assert_eq!(s, 201, "{sent}");
    // The patient's notification: from the practice's template, with the portal address, and
    // nothing of the message.
    let told = mails_to(&l, "alex.morgan@example.com", 1).await;
    assert_eq!(told.len(), 1);
    let text = portal_core::mime::text_part(&told[0]).unwrap();
    assert!(text.contains(&format!("{}/p/lakeside/", l.base)), "{text}");
    assert!(!told[0].contains(secret) && !told[0].contains("Crown update"));
    // Staff see that it was sent.
    let (_, thread) = l.get(&format!("/v1/admin/webmail/threads/{}", sent["threadId"].as_str().unwrap()), Some(&staff)).await;
    assert_eq!(thread["messages"][0]["notification"]["state"], "sent", "{thread}");

    // The patient: unread in the inbox, the thread, marked read, a reply.
    let (_, inbox) = l.get("/v1/webmail/messages", Some(&alex)).await;
    assert_eq!((inbox["unread"].as_u64(), inbox["items"][0]["read"].as_bool()), (Some(1), Some(false)), "{inbox}");
    assert!(inbox["items"][0].get("notification").is_none(), "patients do not see notification states");
    let thread_id = inbox["items"][0]["threadId"].as_str().unwrap().to_string();
    let (_, thread) = l.get(&format!("/v1/webmail/threads/{thread_id}"), Some(&alex)).await;
    assert_eq!(thread["messages"][0]["body"], secret);
    let (s, _) =
        l.json("PUT", &format!("/v1/webmail/messages/{}/read", sent["id"].as_str().unwrap()), Some(&alex), json!({"read": true})).await;
    assert_eq!(s, 200);
    let (_, inbox) = l.get("/v1/webmail/messages", Some(&alex)).await;
    assert_eq!(inbox["unread"], 0);
    let (s, reply) = l
        .json("POST", &format!("/v1/webmail/threads/{thread_id}/reply"), Some(&alex), json!({"body": "Thank you! <b>Friday</b> works."}))
        .await;
    assert_eq!(s, 201, "{reply}");
    // The office is told at its notify address; it sees the reply, unread, text as sent.
    let office = mails_to(&l, "frontdesk@lakeside.example", 1).await;
    assert_eq!(office.len(), 1);
    assert!(!office[0].contains("Friday") && !office[0].contains("Alex"), "no PHI to the office mailbox");
    let (_, office_inbox) = l.get("/v1/admin/webmail/messages?unread=true", Some(&staff)).await;
    assert_eq!(office_inbox["items"][0]["id"], reply["id"]);
    let (_, thread) = l.get(&format!("/v1/admin/webmail/threads/{thread_id}"), Some(&staff)).await;
    assert_eq!(thread["messages"][1]["body"], "Thank you! <b>Friday</b> works.");
    // The practice's system hears of the patient's message.
    let events = l.backends.events.logged();
    assert!(events.iter().any(|e| e.detail_type == "webmail.received" && e.detail["messageId"] == reply["id"]));
}

#[tokio::test]
async fn nobody_reaches_anothers_mail_and_bad_input_is_refused() {
    let l = start_local().await;
    let alex = l.patient_token(0, 0).await;
    let jamie = l.patient_token(0, 2).await;
    let jordan = l.patient_token(1, 0).await;
    let (s, providers) = l.get("/v1/webmail/providers", Some(&alex)).await;
    assert_eq!(s, 200);
    // The office (by the practice's name), Alex's own dentist and the hygienist Alex has seen —
    // not the practice's other providers, whom nobody answers for and Alex has never seen.
    assert_eq!(
        providers["items"],
        json!([
            {"kind": "office", "id": "office", "name": "Lakeside Family Dental"},
            {"kind": "provider", "id": "prov-1", "name": "Maya Chen, DDS"},
            {"kind": "provider", "id": "prov-3", "name": "Priya Raman, RDH"},
        ])
    );
    let (s, to_office) = l
        .json(
            "POST",
            "/v1/webmail/messages",
            Some(&alex),
            json!({"providerId": "office", "subject": "Parking", "body": "Where do I park?"}),
        )
        .await;
    assert_eq!(s, 201, "{to_office}");
    let (_, thread) = l.get(&format!("/v1/webmail/threads/{}", to_office["threadId"].as_str().unwrap()), Some(&alex)).await;
    assert_eq!(thread["messages"][0]["to"], json!({"kind": "office", "id": "office", "name": "Lakeside Family Dental"}));
    let (_, sent) = l
        .json("POST", "/v1/webmail/messages", Some(&alex), json!({"providerId": "prov-1", "subject": "Crown", "body": "A question"}))
        .await;
    let (thread, id) = (sent["threadId"].as_str().unwrap(), sent["id"].as_str().unwrap());
    for who in [&jamie, &jordan] {
        for (method, path, body) in [
            ("GET", format!("/v1/webmail/threads/{thread}"), Value::Null),
            ("POST", format!("/v1/webmail/threads/{thread}/reply"), json!({"body": "hi"})),
            ("PUT", format!("/v1/webmail/messages/{id}/read"), json!({"read": true})),
            ("GET", "/v1/webmail/messages?patient=pat-1001".to_string(), Value::Null),
        ] {
            let (s, v) = if body.is_null() { l.get(&path, Some(who)).await } else { l.json(method, &path, Some(who), body).await };
            assert_eq!((s, &v["code"]), (404, &json!("not_found")), "{method} {path}");
        }
    }
    // Jamie writes about Avery, in her care: the thread is Avery's.
    let (s, v) = l
        .json(
            "POST",
            "/v1/webmail/messages?patient=pat-1005",
            Some(&jamie),
            json!({"providerId": "prov-1", "subject": "Avery", "body": "A bracket came off."}),
        )
        .await;
    assert_eq!(s, 201, "{v}");
    // Written by Jamie for Avery: both names, for the office and for the family; Avery's own
    // messages (and the office's) name one person.
    let thread_path = format!("/v1/webmail/threads/{}", v["threadId"].as_str().unwrap());
    let (_, for_jamie) = l.get(&format!("{thread_path}?patient=pat-1005"), Some(&jamie)).await;
    let (_, for_office) = l.get(&thread_path.replace("/v1/", "/v1/admin/"), Some(&l.staff_token(0).await)).await;
    for thread in [&for_jamie, &for_office] {
        assert_eq!(
            thread["messages"][0]["from"],
            json!({"kind": "patient", "id": "pat-1005", "name": "Avery Morgan", "by": "Jamie Morgan"})
        );
        assert!(thread["messages"][0]["to"].get("by").is_none());
    }
    for (body, code) in [
        (json!({"providerId": "prov-2", "subject": "Hi", "body": "x"}), "provider_unknown"),
        (json!({"providerId": "prov-1", "subject": "Hi", "body": "   "}), "message_empty"),
        (json!({"providerId": "prov-1", "subject": "Hi", "body": "x".repeat(10_001)}), "message_too_long"),
        (json!({"providerId": "prov-1", "subject": "", "body": "x"}), "subject_invalid"),
        (json!({"providerId": "prov-1", "subject": "a\nb", "body": "x"}), "subject_invalid"),
        (json!({"providerId": "prov-1", "subject": "Hi", "body": "x", "from": "prov-1"}), "invalid_body"),
    ] {
        let (s, v) = l.json("POST", "/v1/webmail/messages", Some(&alex), body.clone()).await;
        assert_eq!((s, v["code"].as_str()), (400, Some(code)), "{body}");
    }
    let (s, v) = l.get("/v1/webmail/messages?folder=trash", Some(&alex)).await;
    assert_eq!((s, &v["code"]), (400, &json!("folder_invalid")));
    // Staff write as a provider only when they act for them.
    let staff = l.staff_token(0).await;
    let (_, providers) = l.get("/v1/admin/webmail/providers", Some(&staff)).await;
    let listed: Vec<(&str, bool)> =
        providers["items"].as_array().unwrap().iter().map(|p| (p["id"].as_str().unwrap(), p["actsForMe"].as_bool().unwrap())).collect();
    assert_eq!(listed.len(), 3, "every provider, to filter by");
    assert!(listed.iter().all(|(_, mine)| !mine), "a new staff user acts for nobody");
    let (s, v) = l
        .json(
            "POST",
            "/v1/admin/webmail/messages",
            Some(&staff),
            json!({"patientId": "pat-1001", "providerId": "prov-1", "subject": "Hi", "body": "x"}),
        )
        .await;
    assert_eq!((s, &v["code"]), (403, &json!("not_acting_for_provider")), "test staff act for nobody");
}

/// Declares and uploads a file as a patient (or, with `admin`, the office); answers its id.
async fn attach(l: &Local, token: &str, admin: bool, name: &str, content_type: &str, bytes: &[u8]) -> String {
    let path = if admin { "/v1/admin/webmail/attachments" } else { "/v1/webmail/attachments" };
    let (s, v) = l.json("POST", path, Some(token), json!({"fileName": name, "contentType": content_type, "size": bytes.len()})).await;
    assert_eq!(s, 201, "{v}");
    let res =
        client().put(v["uploadUrl"].as_str().unwrap()).header("content-type", content_type).body(bytes.to_vec()).send().await.unwrap();
    assert!(res.status().is_success());
    v["id"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn attachments_are_checked_bound_to_one_message_and_seen_only_by_its_parties() {
    let l = start_local().await;
    let staff = l.staff_token(0).await;
    let alex = l.patient_token(0, 0).await;
    let jamie = l.patient_token(0, 2).await;
    let pdf = b"%PDF-1.4\n% Alex's insurance card\n%%EOF\n".to_vec();
    let card = attach(&l, &alex, false, "insurance-card.pdf", "application/pdf", &pdf).await;
    let body = json!({"providerId": "prov-1", "subject": "Insurance", "body": "My new card is attached.", "attachmentIds": [card]});
    let (s, sent) = l.json("POST", "/v1/webmail/messages", Some(&alex), body.clone()).await;
    assert_eq!(s, 201, "{sent}");
    // Staff see it listed and download exactly those bytes, under its name.
    let (_, thread) = l.get(&format!("/v1/admin/webmail/threads/{}", sent["threadId"].as_str().unwrap()), Some(&staff)).await;
    assert_eq!(thread["messages"][0]["attachments"][0]["fileName"], "insurance-card.pdf");
    let (s, link) = l.get(&format!("/v1/admin/webmail/attachments/{card}/file"), Some(&staff)).await;
    assert_eq!(s, 200, "{link}");
    let res = client().get(link["url"].as_str().unwrap()).send().await.unwrap();
    assert!(res.headers()["content-disposition"].to_str().unwrap().contains("insurance-card.pdf"));
    assert_eq!(res.bytes().await.unwrap().to_vec(), pdf);
    // The patient may download it; another patient may not, nor send it again.
    assert_eq!(l.get(&format!("/v1/webmail/attachments/{card}/file"), Some(&alex)).await.0, 200);
    assert_eq!(l.get(&format!("/v1/webmail/attachments/{card}/file"), Some(&jamie)).await.0, 404);
    let (s, v) = l
        .json(
            "POST",
            "/v1/webmail/messages",
            Some(&jamie),
            json!({"providerId": "prov-1", "subject": "x", "body": "x", "attachmentIds": [card]}),
        )
        .await;
    assert_eq!((s, &v["code"]), (404, &json!("not_found")), "another patient's attachment does not exist for her");
    let (s, v) = l.json("POST", "/v1/webmail/messages", Some(&alex), body).await;
    assert_eq!((s, &v["code"]), (400, &json!("attachment_used")));
    // A "PDF" that is a web page: refused before anything is sent; nothing reaches the office.
    let (_, before) = l.get("/v1/admin/webmail/messages", Some(&staff)).await;
    let fake = attach(&l, &alex, false, "scan.pdf", "application/pdf", b"<html><script>alert(1)</script></html>").await;
    let (s, v) = l
        .json(
            "POST",
            "/v1/webmail/messages",
            Some(&alex),
            json!({"providerId": "prov-1", "subject": "Scan", "body": "See scan", "attachmentIds": [fake]}),
        )
        .await;
    assert_eq!((s, &v["code"]), (422, &json!("attachment_rejected")), "{v}");
    let (_, after) = l.get("/v1/admin/webmail/messages", Some(&staff)).await;
    assert_eq!(after["items"].as_array().unwrap().len(), before["items"].as_array().unwrap().len());
    // Declared wrongly: refused at once.
    for (declared, code) in [
        (json!({"fileName": "a.exe", "contentType": "application/x-msdownload", "size": 10}), "attachment_invalid"),
        (json!({"fileName": "a.pdf", "contentType": "application/pdf", "size": 10 * 1024 * 1024 + 1}), "attachment_too_large"),
        (json!({"fileName": "../a.pdf", "contentType": "application/pdf", "size": 10}), "attachment_invalid"),
    ] {
        let (s, v) = l.json("POST", "/v1/webmail/attachments", Some(&alex), declared.clone()).await;
        assert_eq!((s, v["code"].as_str()), (400, Some(code)), "{declared}");
    }
    // The office attaches too; the patient downloads it.
    let plan = attach(&l, &staff, true, "post-op.png", "image/png", b"\x89PNG\r\n\x1a\n0000").await;
    let (s, reply) = l
        .json(
            "POST",
            &format!("/v1/admin/webmail/threads/{}/reply", sent["threadId"].as_str().unwrap()),
            Some(&staff),
            json!({"body": "Thanks; instructions attached.", "attachmentIds": [plan]}),
        )
        .await;
    assert_eq!(s, 201, "{reply}");
    assert_eq!(l.get(&format!("/v1/webmail/attachments/{plan}/file"), Some(&alex)).await.0, 200);
}
