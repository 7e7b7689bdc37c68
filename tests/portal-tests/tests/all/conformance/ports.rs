//! The ports themselves on each backend: the table's conditions, queries, index, transactions,
//! batches and expiry; blobs and presigned links; mail; events; sealed secrets; and, on moto only,
//! what only AWS does (a Step Functions execution per import, SES refusing an unverified sender).

use super::*;
use crate::support::pid;

pub(super) fn item(pk: &str, sk: &str, n: i64) -> Item {
    Item::new(pk, sk, json!({ "n": n, "text": "ünïcode ✓", "nested": { "list": [1, 2, 3], "flag": true } }))
}

pub(super) async fn conditional_put(b: &Backend) {
    let t = &b.table;
    let pk = format!("T#{}", uid());
    t.put(item(&pk, "A", 1).with_version(1), Cond::Absent).await.unwrap();
    assert!(matches!(t.put(item(&pk, "A", 2), Cond::Absent).await, Err(TableError::ConditionFailed)));
    let got = t.get(&pk, "A").await.unwrap().unwrap();
    assert_eq!((got.version, &got.data["n"], &got.data["text"]), (1, &json!(1), &json!("ünïcode ✓")));
    assert_eq!(got.data["nested"], json!({ "list": [1, 2, 3], "flag": true }));
    // Optimistic concurrency: the first writer with version 1 wins, the second conflicts.
    t.put(item(&pk, "A", 3).with_version(2), Cond::Version(1)).await.unwrap();
    assert!(matches!(t.put(item(&pk, "A", 4).with_version(2), Cond::Version(1)).await, Err(TableError::ConditionFailed)));
    assert_eq!(t.get(&pk, "A").await.unwrap().unwrap().data["n"], json!(3));
    assert!(matches!(t.put(item(&pk, "missing", 1), Cond::Exists).await, Err(TableError::ConditionFailed)));
    assert!(matches!(t.put(item(&pk, "missing", 1), Cond::Version(0)).await, Err(TableError::ConditionFailed)));
    t.put(item(&pk, "A", 5).with_version(3), Cond::Exists).await.unwrap();
    assert!(matches!(t.delete(&pk, "A", Cond::Version(9)).await, Err(TableError::ConditionFailed)));
    t.delete(&pk, "A", Cond::Version(3)).await.unwrap();
    assert!(t.get(&pk, "A").await.unwrap().is_none());
    t.delete(&pk, "A", Cond::None).await.unwrap();
}

pub(super) async fn collect(t: &dyn Table, q: Query) -> Vec<String> {
    let mut all = vec![];
    let mut cursor = None;
    for _ in 0..100 {
        let page = t.query(q.clone().after(cursor)).await.unwrap();
        assert!(page.items.len() <= q.limit);
        all.extend(page.items.into_iter().map(|i| i.sk));
        match page.cursor {
            Some(c) => cursor = Some(c),
            None => return all,
        }
    }
    panic!("paging did not end");
}

pub(super) async fn query_prefix_range_order_paging(b: &Backend) {
    let t = b.table.as_ref();
    let pk = format!("T#{}", uid());
    let sks = ["A#01", "A#02", "A#03", "A#04", "A#05", "B#01", "B#02", "AB"];
    for (i, sk) in sks.iter().enumerate() {
        t.put(item(&pk, sk, i64::try_from(i).unwrap()), Cond::None).await.unwrap();
    }
    t.put(item(&format!("{pk}X"), "A#99", 0), Cond::None).await.unwrap(); // another partition
    let page = t.query(Query::new(&pk).prefix("A#")).await.unwrap();
    assert_eq!(page.items.iter().map(|i| i.sk.as_str()).collect::<Vec<_>>(), ["A#01", "A#02", "A#03", "A#04", "A#05"]);
    let page = t.query(Query::new(&pk).prefix("A#").newest_first()).await.unwrap();
    assert_eq!(page.items.iter().map(|i| i.sk.as_str()).collect::<Vec<_>>(), ["A#05", "A#04", "A#03", "A#02", "A#01"]);
    let page = t.query(Query::new(&pk).between("A#02", "A#04")).await.unwrap();
    assert_eq!(page.items.iter().map(|i| i.sk.as_str()).collect::<Vec<_>>(), ["A#02", "A#03", "A#04"]);
    assert_eq!(collect(t, Query::new(&pk).prefix("A#").limit(2)).await, ["A#01", "A#02", "A#03", "A#04", "A#05"]);
    assert_eq!(collect(t, Query::new(&pk).prefix("A#").newest_first().limit(2)).await, ["A#05", "A#04", "A#03", "A#02", "A#01"]);
    assert_eq!(collect(t, Query::new(&pk).limit(3)).await.len(), sks.len());
    // A cursor is opaque and bound to its partition.
    assert!(matches!(t.query(Query::new(&pk).after(Some("not-a-cursor".into()))).await, Err(TableError::BadCursor)));
    let first = t.query(Query::new(&pk).limit(1)).await.unwrap();
    assert!(matches!(t.query(Query::new(format!("{pk}X")).after(first.cursor)).await, Err(TableError::BadCursor)));
}

pub(super) async fn gsi_query(b: &Backend) {
    let t = b.table.as_ref();
    let g = format!("G#{}", uid());
    for i in 0..5 {
        let it = item(&format!("T#{}", uid()), "X", i).with_gsi1(&g, format!("S#{i:02}"));
        t.put(it, Cond::None).await.unwrap();
    }
    t.put(item(&format!("T#{}", uid()), "X", 9).with_gsi1(&g, "OTHER"), Cond::None).await.unwrap();
    let mut got = vec![];
    let mut cursor = None;
    loop {
        let page = t.query(Query::on_gsi1(&g).prefix("S#").newest_first().limit(2).after(cursor)).await.unwrap();
        got.extend(page.items.iter().map(|i| i.gsi1sk.clone().unwrap()));
        match page.cursor {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    assert_eq!(got, ["S#04", "S#03", "S#02", "S#01", "S#00"]);
}

pub(super) async fn transaction_all_or_nothing(b: &Backend) {
    let t = b.table.as_ref();
    let pk = format!("T#{}", uid());
    t.put(item(&pk, "existing", 1), Cond::None).await.unwrap();
    t.put(item(&pk, "to-delete", 1), Cond::None).await.unwrap();
    let ops = vec![
        TxOp::Put(item(&pk, "new", 1), Cond::Absent),
        TxOp::Put(item(&pk, "existing", 2), Cond::Absent), // fails
        TxOp::Delete { pk: pk.clone(), sk: "to-delete".into(), cond: Cond::Exists },
    ];
    match t.transact(ops).await {
        Err(TableError::TransactionCanceled { failed }) => assert_eq!(failed, vec![1]),
        other => panic!("expected a canceled transaction, got {other:?}"),
    }
    assert!(t.get(&pk, "new").await.unwrap().is_none(), "nothing of a failed transaction is written");
    assert!(t.get(&pk, "to-delete").await.unwrap().is_some());
    assert_eq!(t.get(&pk, "existing").await.unwrap().unwrap().data["n"], json!(1));
    let ops = vec![
        TxOp::Put(item(&pk, "new", 1), Cond::Absent),
        TxOp::Check { pk: pk.clone(), sk: "existing".into(), cond: Cond::Exists },
        TxOp::Delete { pk: pk.clone(), sk: "to-delete".into(), cond: Cond::Exists },
    ];
    t.transact(ops).await.unwrap();
    assert!(t.get(&pk, "new").await.unwrap().is_some());
    assert!(t.get(&pk, "to-delete").await.unwrap().is_none());
}

pub(super) async fn batch_put_more_than_25(b: &Backend) {
    let t = b.table.as_ref();
    let pk = format!("T#{}", uid());
    let items: Vec<Item> = (0..60).map(|i| item(&pk, &format!("I#{i:03}"), i)).collect();
    t.batch_put(items).await.unwrap();
    let all = collect(t, Query::new(&pk).limit(25)).await;
    assert_eq!(all.len(), 60);
    assert_eq!(all.first().unwrap(), "I#000");
    assert_eq!(all.last().unwrap(), "I#059");
}

/// A query answers what the table holds now, however often it was asked before: an item that
/// moves into or out of a GSI partition, a new item, a deleted one, a counter and an item that
/// expires all show on the next query (the embedded table keeps small query pages between writes).
pub(super) async fn queries_follow_every_write(b: &Backend) {
    let t = b.table.as_ref();
    let (pk, family, other) = (format!("T#{}", uid()), format!("G#{}", uid()), format!("G#{}", uid()));
    let member = |sk: &str, gsi: &str| item(&pk, sk, 1).with_gsi1(gsi, sk);
    let listed = async |partition: &str| -> Vec<String> {
        let page = t.query(Query::on_gsi1(partition)).await.unwrap();
        page.items.into_iter().map(|i| i.sk).collect()
    };
    t.put(member("a", &family), Cond::None).await.unwrap();
    t.put(member("b", &family), Cond::None).await.unwrap();
    for _ in 0..2 {
        assert_eq!(listed(&family).await, ["a", "b"]);
        assert_eq!(collect(t, Query::new(&pk)).await, ["a", "b"]);
    }
    t.put(member("b", &other), Cond::None).await.unwrap();
    assert_eq!(listed(&family).await, ["a"], "b left the partition");
    assert_eq!(listed(&other).await, ["b"]);
    t.transact(vec![TxOp::Put(member("c", &family), Cond::Absent)]).await.unwrap();
    assert_eq!(listed(&family).await, ["a", "c"], "c came in");
    t.delete(&pk, "a", Cond::None).await.unwrap();
    assert_eq!(listed(&family).await, ["c"]);
    assert_eq!(collect(t, Query::new(&pk)).await, ["b", "c"]);
    t.add(&pk, "n", 1, None).await.unwrap();
    assert_eq!(collect(t, Query::new(&pk)).await, ["b", "c", "n"], "a counter is an item of the partition");
    t.batch_put(vec![member("d", &family).expiring_at(now() + 2)]).await.unwrap();
    assert_eq!(listed(&family).await, ["c", "d"]);
    tokio::time::sleep(Duration::from_millis(2100)).await;
    assert_eq!(listed(&family).await, ["c"], "d expired");
    t.batch_delete(vec![(pk.clone(), "c".into())]).await.unwrap();
    assert!(listed(&family).await.is_empty());
}

/// Batch reads and deletes past one request's limit (100 keys, 25 deletes): absent and expired
/// keys are left out of a read; deleted keys read back as absent, the others stay.
pub(super) async fn batch_get_and_delete_many(b: &Backend) {
    let t = b.table.as_ref();
    let pk = format!("T#{}", uid());
    t.batch_put((0..230).map(|i| item(&pk, &format!("I#{i:03}"), i)).collect()).await.unwrap();
    t.put(item(&pk, "old", 1).expiring_at(now() - 10), Cond::None).await.unwrap();
    let mut keys: Vec<(String, String)> = (0..240).map(|i| (pk.clone(), format!("I#{i:03}"))).collect();
    keys.push((pk.clone(), "old".into()));
    let mut found: Vec<String> = t.batch_get(keys).await.unwrap().into_iter().map(|i| i.sk).collect();
    found.sort();
    assert_eq!(found.len(), 230, "ten absent, one expired");
    assert_eq!((found[0].as_str(), found[229].as_str()), ("I#000", "I#229"));
    assert!(t.batch_get(vec![]).await.unwrap().is_empty());
    t.batch_delete((0..200).map(|i| (pk.clone(), format!("I#{i:03}"))).collect()).await.unwrap();
    let left = collect(t, Query::new(&pk).limit(100)).await;
    assert_eq!(left.len(), 30);
    assert_eq!(left.first().unwrap(), "I#200");
    assert!(t.get(&pk, "I#000").await.unwrap().is_none());
}

pub(super) async fn expired_ttl_items_are_gone(b: &Backend) {
    let t = b.table.as_ref();
    let pk = format!("T#{}", uid());
    t.put(item(&pk, "old", 1).expiring_at(now() - 10), Cond::None).await.unwrap();
    t.put(item(&pk, "fresh", 2).expiring_at(now() + 3600), Cond::None).await.unwrap();
    assert!(t.get(&pk, "old").await.unwrap().is_none());
    assert!(t.get(&pk, "fresh").await.unwrap().is_some());
    let page = t.query(Query::new(&pk)).await.unwrap();
    assert_eq!(page.items.iter().map(|i| i.sk.as_str()).collect::<Vec<_>>(), ["fresh"]);
    // An expired item counts as absent for conditions, as it does for reads.
    t.put(item(&pk, "old", 3), Cond::Absent).await.unwrap();
    assert!(matches!(t.put(item(&pk, "fresh", 3), Cond::Absent).await, Err(TableError::ConditionFailed)));
}

pub(super) async fn blobs_and_presigned_urls(b: &Backend) {
    let key = format!("practice-x/docs/{}.pdf", uid());
    let pdf = Bytes::from_static(b"%PDF-1.4\n%test document\n%%EOF\n");
    b.blobs.put(&key, pdf.clone(), "application/pdf").await.unwrap();
    let head = b.blobs.head(&key).await.unwrap().unwrap();
    assert_eq!((head.size, head.content_type.as_str()), (pdf.len() as u64, "application/pdf"));
    assert_eq!(b.blobs.get(&key).await.unwrap().unwrap().bytes, pdf);
    assert!(b.blobs.get(&format!("{key}-missing")).await.unwrap().is_none());
    assert!(b.blobs.head(&format!("{key}-missing")).await.unwrap().is_none());

    let http = reqwest::Client::new();
    let url = b.blobs.presign_get(&key, Duration::from_secs(60), Some("statement.pdf")).await.unwrap();
    let res = http.get(&url).send().await.unwrap();
    assert_eq!(res.status(), 200, "{url}");
    match res.headers().get("content-disposition") {
        Some(v) => assert!(v.to_str().unwrap().contains("statement.pdf")),
        // moto ignores S3's response-header overrides; the signed URL must still ask for it.
        None => assert!(!b.enforces_signatures && url.contains("response-content-disposition="), "{url}"),
    }
    assert_eq!(res.bytes().await.unwrap(), pdf);

    let upload_key = format!("practice-x/uploads/{}.png", uid());
    let png = Bytes::from_static(b"\x89PNG\r\n\x1a\nnot-really-an-image");
    let url = b.blobs.presign_put(&upload_key, "image/png", png.len() as u64, Duration::from_secs(60)).await.unwrap();
    if !b.enforces_signatures {
        // The emulator does not check signatures, so check what S3 would: type and size are signed.
        let signed = url.split("X-Amz-SignedHeaders=").nth(1).unwrap().split('&').next().unwrap().to_lowercase();
        assert!(signed.contains("content-length") && signed.contains("content-type"), "{url}");
    } else {
        let wrong_type = http.put(&url).header("content-type", "text/html").body(png.clone()).send().await.unwrap();
        assert_eq!(wrong_type.status(), 403);
        let wrong_size = http.put(&url).header("content-type", "image/png").body(Bytes::from_static(b"short")).send().await.unwrap();
        assert_eq!(wrong_size.status(), 403);
        let tampered = http.get(url.replace("sig=", "sig=00")).send().await.unwrap();
        assert_eq!(tampered.status(), 403);
    }
    let res = http.put(&url).header("content-type", "image/png").body(png.clone()).send().await.unwrap();
    assert!(res.status().is_success(), "{}", res.status());
    let got = b.blobs.get(&upload_key).await.unwrap().unwrap();
    assert_eq!((got.bytes, got.meta.content_type.as_str()), (png, "image/png"));

    b.blobs.delete(&key).await.unwrap();
    assert!(b.blobs.get(&key).await.unwrap().is_none());
}

/// The sent mail whose subject holds `marker`, read back as an outsider would (waiting a little).
pub(super) async fn mail_with_subject(b: &Backend, marker: &str) -> String {
    for _ in 0..20 {
        let found = b.probe.mails().await.into_iter().find(|raw| portal_core::mime::subject(raw).is_some_and(|s| s.contains(marker)));
        if let Some(raw) = found {
            return raw;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("no mail with {marker} in its subject was sent");
}

pub(super) async fn mail_sent_and_read_back(b: &Backend) {
    let marker = uid();
    let mail = Mail {
        from: b.sender.clone(),
        to: vec!["patient@example.com".into()],
        subject: format!("You have a new secure message {marker}"),
        text: format!("Log in to read it: https://portal.example.com/ ({marker})"),
        html: Some("<p>Log in to read it.</p>".into()),
        attachments: vec![Attachment { filename: "note.txt".into(), content_type: "text/plain".into(), bytes: b"hello".to_vec() }],
        sealed_for: None,
        // Sent as message tags on SES: the service must take them as they are.
        about: portal_core::ports::MailRef::new(
            &pid("lakeside"),
            portal_core::ports::MailKind::WebMailNotification,
            &format!("t{marker}-s1"),
            Some("pat-1001"),
        ),
    };
    let id = b.mailer.send(&mail).await.unwrap();
    assert!(!id.is_empty());
    let raw = mail_with_subject(b, &marker).await;
    assert_eq!(portal_core::mime::text_part(&raw).unwrap(), mail.text);
    assert!(raw.contains("To: patient@example.com"));
    assert!(raw.contains("filename=\"note.txt\""));

    // Sealed for a recipient certificate (S/MIME): only the headers are readable; the recipient's
    // key opens the rest (openssl, an independent implementation).
    let fixtures = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/smime");
    let cert = portal_core::smime::read_certificate(&std::fs::read_to_string(fixtures.join("recipient-cert.pem")).unwrap()).unwrap();
    assert_eq!(cert.addresses, ["records@direct.clinic.example"]);
    let sealed_marker = uid();
    let sealed = Mail {
        subject: format!("Sealed {sealed_marker}"),
        to: vec!["records@direct.clinic.example".into()],
        sealed_for: Some(cert.der),
        ..mail
    };
    b.mailer.send(&sealed).await.unwrap();
    let raw = mail_with_subject(b, &sealed_marker).await;
    assert!(raw.contains("application/pkcs7-mime; smime-type=enveloped-data") && !raw.contains("note.txt"));
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), raw.replace("\r\n", "\n").replace('\n', "\r\n")).unwrap();
    let out = std::process::Command::new("openssl")
        .args(["cms", "-decrypt", "-inkey"])
        .arg(fixtures.join("recipient-key.pem"))
        .arg("-in")
        .arg(file.path())
        .output()
        .expect("openssl (tests/run installs it)");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("filename=\"note.txt\""));
}

pub(super) async fn event_published_and_received(b: &Backend) {
    let marker = uid();
    let event = DomainEvent { practice_id: "lakeside".into(), detail_type: "portal.test".into(), detail: json!({ "marker": marker }) };
    b.events.publish(std::slice::from_ref(&event)).await.unwrap();
    for _ in 0..30 {
        let got = b.probe.events().await;
        // EventBridge wraps the detail in an envelope; in process the event arrives as is.
        if let Some(e) = got.iter().find(|e| e["detail"]["marker"] == json!(marker)) {
            let practice = e.get("practice_id").or_else(|| e["detail"].get("practiceId")).unwrap();
            assert_eq!(practice, "lakeside");
            let detail_type = e.get("detail_type").or_else(|| e.get("detail-type")).unwrap();
            assert_eq!(detail_type, "portal.test");
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the published event was not received");
}

pub(super) async fn secrets_open_only_under_their_context(b: &Backend) {
    let ctx = [("practice", "lakeside"), ("keyId", "lakeside.k1")];
    let sealed = b.secrets.seal(b"a sync secret", &ctx).await.unwrap();
    assert!(!sealed.windows(13).any(|w| w == b"a sync secret"), "sealed text must not contain the secret");
    assert_eq!(b.secrets.open(&sealed, &ctx).await.unwrap(), b"a sync secret");
    let other = [("practice", "hillcrest"), ("keyId", "lakeside.k1")];
    assert!(matches!(b.secrets.open(&sealed, &other).await, Err(PortError::Rejected(_))));
    let mut tampered = sealed.clone();
    let last = tampered.len() - 1;
    tampered[last] ^= 1;
    assert!(b.secrets.open(&tampered, &ctx).await.is_err());
}

/// Starting an import on AWS is one Step Functions execution of the code-import state machine
/// (the real definition), named by the import, so the same import never runs twice.
#[tokio::test]
#[ignore = "needs the moto server: tests/run runs these (PORTAL_TEST_AWS_ENDPOINT=http://HOST:PORT cargo test -- --ignored)"]
pub(super) async fn step_functions_start_one_execution_per_import() {
    let config = sdk_config(&moto_endpoint()).await;
    let asl = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../infra/statemachines/code-import.asl.json")).unwrap();
    let definition = asl.replace("${CodeImportFunctionArn}", "arn:aws:lambda:us-east-1:123456789012:function:portal-code-import");
    let sfn = aws_sdk_sfn::Client::new(&config);
    let machine = sfn
        .create_state_machine()
        .name(format!("code-import-{}", uid()))
        .definition(definition)
        .role_arn("arn:aws:iam::123456789012:role/code-import")
        .send()
        .await
        .unwrap();
    let workflows = portal_aws::StepFunctionsWorkflows::new(&config, machine.state_machine_arn());
    let import_id = portal_core::ids::new_id();
    workflows.start_import(&pid("lakeside"), &import_id).await.unwrap();
    let listed = sfn.list_executions().state_machine_arn(machine.state_machine_arn()).send().await.unwrap();
    assert_eq!(listed.executions().len(), 1);
    let execution = sfn.describe_execution().execution_arn(listed.executions()[0].execution_arn()).send().await.unwrap();
    assert_eq!(execution.name(), Some(import_id.as_str()));
    let input: Value = serde_json::from_str(execution.input().unwrap()).unwrap();
    assert_eq!(input, json!({ "practiceId": "lakeside", "importId": import_id }));
    // Step Functions answers a second start of the same name and input with the execution it
    // has (or ExecutionAlreadyExists): either way there is still one.
    let _ = workflows.start_import(&pid("lakeside"), &import_id).await;
    let listed = sfn.list_executions().state_machine_arn(machine.state_machine_arn()).send().await.unwrap();
    assert_eq!(listed.executions().len(), 1, "one execution per import");
}

/// SES itself refusing: a practice whose notification sender is not a verified identity gets
/// `failed` with SES's reason, the message readable meanwhile; once the sender is verified the
/// retry delivers it, once. (Only SES refuses senders, so this runs on moto alone.)
#[tokio::test]
#[ignore = "needs the moto server: tests/run runs these (PORTAL_TEST_AWS_ENDPOINT=http://HOST:PORT cargo test -- --ignored)"]
pub(super) async fn ses_refuses_an_unverified_sender_until_it_is_verified() {
    use portal_core::audit::{Actor, ActorKind};
    use portal_core::webmail::mailbox::{Mailbox, Notification};
    use portal_core::webmail::notify::Notifier;
    let b = aws().await;
    let practice = new_practice();
    let sender = format!("portal@unverified-{}.example.org", uid());
    let mut settings = portal_core::practice::settings::PracticeSettings::new("Smile Dental", portal_core::Feature::ALL.to_vec());
    settings.webmail.notification_sender = sender.clone();
    settings.webmail.default_notify_address = "office@example.com".into();
    portal_core::practice::settings::SettingsRepo { db: b.db() }.create(&practice, &settings).await.unwrap();
    let email = format!("gale-{practice}@example.com");
    synced(&b, &practice, portal_core::sync::Entity::Patients, "g", patient("Gale", json!({"email": email}))).await;
    let staff = Actor::new(&practice, ActorKind::Staff, "staff-1", None);
    let mail = Mailbox { db: b.db(), events: b.events.as_ref(), blobs: b.blobs.as_ref() };
    let sent = mail
        .office_compose(
            &staff,
            "frontdesk",
            "g",
            None,
            portal_core::webmail::mailbox::Draft { subject: "Results", body: "Your results are in.", attachment_ids: &[] },
        )
        .await
        .unwrap();
    let notifier = Notifier { db: b.db(), mailer: b.mailer.as_ref(), portal_base_url: "https://portal.example.com" };
    assert!(notifier.notify(&practice, &sent.id).await.is_err(), "SES refuses the unverified sender");
    let thread = mail.office_thread(&staff, &sent.thread_id).await.unwrap();
    assert_eq!(thread.messages[0].body, "Your results are in.", "the message is there meanwhile");
    let state = thread.messages[0].summary.notification.clone().unwrap();
    assert!(matches!(&state, Notification::Failed { attempts: 1, .. }), "{state:?}");

    let config = sdk_config(&moto_endpoint()).await;
    aws_sdk_ses::Client::new(&config).verify_email_identity().email_address(&sender).send().await.unwrap();
    for _ in 0..2 {
        assert!(matches!(notifier.notify(&practice, &sent.id).await.unwrap(), Notification::Sent { .. }));
    }
    let delivered: Vec<String> = b.probe.mails().await.into_iter().filter(|raw| raw.contains(&format!("To: {email}"))).collect();
    assert_eq!(delivered.len(), 1, "one notification for one message");
    assert!(delivered[0].contains(&format!("From: {sender}")) || delivered[0].contains(&sender));
}

pub(super) async fn blob_ranges_and_listing(b: &Backend) {
    let root = format!("practice-{}/code-systems/releases/", uid());
    let body = Bytes::from_static(b"line one\nline two\nline three\n");
    for name in ["rel-b/cvx.txt", "rel-a/rrf/RXNCONSO.RRF", "rel-a/readme.txt"] {
        b.blobs.put(&format!("{root}{name}"), body.clone(), "text/plain").await.unwrap();
    }
    let key = format!("{root}rel-a/rrf/RXNCONSO.RRF");
    assert_eq!(b.blobs.get_range(&key, 9, 17).await.unwrap().unwrap(), Bytes::from_static(b"line two"));
    assert_eq!(b.blobs.get_range(&key, 20, 1000).await.unwrap().unwrap(), Bytes::from_static(b"ne three\n"), "past the end: to the end");
    assert!(b.blobs.get_range(&key, 500, 600).await.unwrap().unwrap().is_empty(), "wholly past the end: empty");
    assert!(b.blobs.get_range(&format!("{key}x"), 0, 10).await.unwrap().is_none());
    let listed = b.blobs.list(&root).await.unwrap();
    let keys: Vec<&str> = listed.iter().map(|l| &l.key[root.len()..]).collect();
    assert_eq!(keys, ["rel-a/readme.txt", "rel-a/rrf/RXNCONSO.RRF", "rel-b/cvx.txt"]);
    assert!(listed.iter().all(|l| l.size == body.len() as u64));
    assert!(b.blobs.list(&format!("{root}rel-c/")).await.unwrap().is_empty());
}
