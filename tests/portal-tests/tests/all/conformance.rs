//! The port conformance suite: the same checks against the embedded adapters and against the AWS
//! adapters talking to moto. What one backend does, the other must do too.

use crate::support::{date_from_today, moto_endpoint, now};
use async_trait::async_trait;
use bytes::Bytes;
use portal_core::ports::*;
use serde_json::{json, Value};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Reads back what a backend sent, the way an outside observer would.
#[async_trait]
trait Probe: Send + Sync {
    /// Raw RFC 5322 messages sent so far.
    async fn mails(&self) -> Vec<String>;
    /// Events received so far (EventBridge envelope or the domain event itself).
    async fn events(&self) -> Vec<Value>;
}

struct Backend {
    table: Arc<dyn Table>,
    blobs: Arc<dyn Blobs>,
    mailer: Arc<dyn Mailer>,
    events: Arc<dyn Events>,
    secrets: Arc<dyn SecretBox>,
    sender: String,
    /// Whether the server checks presigned URLs and honours their response overrides (the
    /// embedded server and S3 do; moto does neither).
    enforces_signatures: bool,
    /// How many rounds of a load test (each round: every writer writes once, all at once) this
    /// backend gets through in reasonable time. moto copies the whole table for every transaction:
    /// 20 senders × 30 messages took over ten minutes there, so it runs the same concurrency for
    /// fewer rounds.
    load_rounds: usize,
    probe: Box<dyn Probe>,
    _keep: Vec<Box<dyn std::any::Any + Send + Sync>>,
}

fn uid() -> String {
    portal_core::ids::new_id()[..10].to_string()
}

// -------------------------------------------------------------------------------------------
// The embedded backend
// -------------------------------------------------------------------------------------------

struct EmbeddedProbe {
    outbox: Arc<portal_embedded::OutboxMailer>,
    received: Arc<Mutex<Vec<Value>>>,
}

#[async_trait]
impl Probe for EmbeddedProbe {
    async fn mails(&self) -> Vec<String> {
        self.outbox.list().unwrap().into_iter().map(|(_, raw)| raw).collect()
    }
    async fn events(&self) -> Vec<Value> {
        self.received.lock().unwrap().clone()
    }
}

async fn embedded() -> Backend {
    let dir = tempfile::tempdir().unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let blobs = Arc::new(portal_embedded::DirBlobs::new(&dir.path().join("blobs"), &base, b"test-signing-key").unwrap());
    let routes = portal_embedded::blob_routes(blobs.clone());
    tokio::spawn(async move { axum::serve(listener, routes).await.unwrap() });
    let outbox = Arc::new(portal_embedded::OutboxMailer::new(&dir.path().join("outbox")).unwrap());
    let events = Arc::new(portal_embedded::InProcessEvents::new(&dir.path().join("events.log")).unwrap());
    let received = Arc::new(Mutex::new(vec![]));
    let sink = received.clone();
    events.subscribe(Arc::new(move |e: DomainEvent| {
        sink.lock().unwrap().push(serde_json::to_value(&e).unwrap());
        Box::pin(async { Ok(()) })
    }));
    Backend {
        table: Arc::new(portal_embedded::SqliteTable::open(&dir.path().join("t.db")).unwrap()),
        blobs,
        mailer: outbox.clone(),
        events,
        secrets: Arc::new(portal_embedded::LocalSecretBox::new(&[7u8; 32])),
        sender: "portal@example.com".into(),
        enforces_signatures: true,
        load_rounds: 30,
        probe: Box::new(EmbeddedProbe { outbox, received }),
        _keep: vec![Box::new(dir)],
    }
}

// -------------------------------------------------------------------------------------------
// The AWS backend on moto
// -------------------------------------------------------------------------------------------

const BUCKET: &str = "portal-conformance";
const BUS: &str = "portal-conformance";
const QUEUE: &str = "portal-conformance-events";
const SENDER: &str = "portal@example.com";

async fn sdk_config(endpoint: &str) -> aws_config::SdkConfig {
    std::env::set_var("AWS_ACCESS_KEY_ID", "testing");
    std::env::set_var("AWS_SECRET_ACCESS_KEY", "testing");
    std::env::set_var("AWS_REGION", "us-east-1");
    std::env::set_var("AWS_ENDPOINT_URL", endpoint);
    portal_aws::sdk_config().await
}

/// SQS through its JSON protocol, to avoid building one more SDK. moto checks no signature but
/// picks the service from the credential scope of the Authorization header.
async fn sqs(endpoint: &str, action: &str, body: Value) -> Value {
    let res = reqwest::Client::new()
        .post(endpoint)
        .header("X-Amz-Target", format!("AmazonSQS.{action}"))
        .header("Content-Type", "application/x-amz-json-1.0")
        .header(
            "Authorization",
            "AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/sqs/aws4_request, SignedHeaders=host, Signature=00",
        )
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    let text = res.text().await.unwrap();
    serde_json::from_str(&text).unwrap_or_else(|_| panic!("SQS {action}: {text}"))
}

/// A table of the portal's shape, new for each test: moto rolls back a failed transaction by
/// restoring a snapshot of the whole table, which would undo other tests' concurrent writes to a
/// shared one (DynamoDB itself does not; this isolation is for the emulator).
async fn new_table(config: &aws_config::SdkConfig) -> String {
    use aws_sdk_dynamodb::types::*;
    let ddb = aws_sdk_dynamodb::Client::new(config);
    let table = format!("portal-conformance-{}", uid());
    let attr = |n: &str| AttributeDefinition::builder().attribute_name(n).attribute_type(ScalarAttributeType::S).build().unwrap();
    let key = |n: &str, t: KeyType| KeySchemaElement::builder().attribute_name(n).key_type(t).build().unwrap();
    ddb.create_table()
        .table_name(&table)
        .billing_mode(BillingMode::PayPerRequest)
        .set_attribute_definitions(Some(vec![attr("pk"), attr("sk"), attr("gsi1pk"), attr("gsi1sk")]))
        .set_key_schema(Some(vec![key("pk", KeyType::Hash), key("sk", KeyType::Range)]))
        .global_secondary_indexes(
            GlobalSecondaryIndex::builder()
                .index_name("gsi1")
                .set_key_schema(Some(vec![key("gsi1pk", KeyType::Hash), key("gsi1sk", KeyType::Range)]))
                .projection(Projection::builder().projection_type(ProjectionType::All).build())
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    ddb.update_time_to_live()
        .table_name(&table)
        .time_to_live_specification(TimeToLiveSpecification::builder().enabled(true).attribute_name("ttl").build().unwrap())
        .send()
        .await
        .unwrap();
    table
}

/// Creates the bucket, verified sender, bus, rule, queue and KMS key once; later calls find
/// them. Answers the queue URL and the key id.
async fn ensure_moto_resources(endpoint: &str, config: &aws_config::SdkConfig) -> (String, String) {
    let s3 = aws_sdk_s3::Client::from_conf(aws_sdk_s3::config::Builder::from(config).force_path_style(true).build());
    let _ = s3.create_bucket().bucket(BUCKET).send().await;
    aws_sdk_ses::Client::new(config).verify_email_identity().email_address(SENDER).send().await.unwrap();
    let queue_url = sqs(endpoint, "CreateQueue", json!({"QueueName": QUEUE})).await["QueueUrl"].as_str().unwrap().to_string();
    let attrs = sqs(endpoint, "GetQueueAttributes", json!({"QueueUrl": queue_url, "AttributeNames": ["QueueArn"]})).await;
    let queue_arn = attrs["Attributes"]["QueueArn"].as_str().unwrap().to_string();
    let eb = aws_sdk_eventbridge::Client::new(config);
    let _ = eb.create_event_bus().name(BUS).send().await;
    // Only the probe's own test events: the other tests publish hundreds (WebMail under load), and
    // a queue they filled would hide the one the probe looks for.
    let pattern = json!({"source": ["portal"], "detail-type": ["portal.test"]}).to_string();
    eb.put_rule().name("portal-all").event_bus_name(BUS).event_pattern(pattern).send().await.unwrap();
    eb.put_targets()
        .rule("portal-all")
        .event_bus_name(BUS)
        .targets(aws_sdk_eventbridge::types::Target::builder().id("queue").arn(queue_arn).build().unwrap())
        .send()
        .await
        .unwrap();
    let kms = aws_sdk_kms::Client::new(config);
    let key_id = match kms.describe_key().key_id("alias/portal-conformance").send().await {
        Ok(k) => k.key_metadata.unwrap().key_id,
        Err(_) => {
            let key = kms.create_key().send().await.unwrap().key_metadata.unwrap().key_id;
            match kms.create_alias().alias_name("alias/portal-conformance").target_key_id(&key).send().await {
                Ok(_) => key,
                // Another test created it meanwhile: use that one.
                Err(_) => kms.describe_key().key_id("alias/portal-conformance").send().await.unwrap().key_metadata.unwrap().key_id,
            }
        }
    };
    (queue_url, key_id)
}

struct MotoProbe {
    endpoint: String,
    queue_url: String,
    seen: Mutex<Vec<Value>>,
}

#[async_trait]
impl Probe for MotoProbe {
    async fn mails(&self) -> Vec<String> {
        // moto keeps sent mail in its state dump: ses → sent messages with the raw MIME.
        let data: Value = reqwest::get(format!("{}/moto-api/data.json", self.endpoint)).await.unwrap().json().await.unwrap();
        let mut out = vec![];
        collect_raw(&data["ses"], &mut out);
        out
    }
    async fn events(&self) -> Vec<Value> {
        let got =
            sqs(&self.endpoint, "ReceiveMessage", json!({"QueueUrl": self.queue_url, "MaxNumberOfMessages": 10, "WaitTimeSeconds": 1}))
                .await;
        let mut seen = self.seen.lock().unwrap();
        for m in got["Messages"].as_array().cloned().unwrap_or_default() {
            seen.push(serde_json::from_str(m["Body"].as_str().unwrap()).unwrap());
        }
        seen.clone()
    }
}

/// Finds every `raw_data` string in moto's SES state, wherever its version nests it.
fn collect_raw(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                match x {
                    Value::String(s) if k == "raw_data" => out.push(s.clone()),
                    _ => collect_raw(x, out),
                }
            }
        }
        Value::Array(a) => a.iter().for_each(|x| collect_raw(x, out)),
        _ => {}
    }
}

async fn aws() -> Backend {
    let endpoint = moto_endpoint();
    let config = sdk_config(&endpoint).await;
    let (queue_url, key_id) = ensure_moto_resources(&endpoint, &config).await;
    Backend {
        table: Arc::new(portal_aws::DynamoTable::new(&config, new_table(&config).await)),
        blobs: Arc::new(portal_aws::S3Blobs::new(&config, BUCKET)),
        mailer: Arc::new(portal_aws::SesMailer::new(&config, None)),
        events: Arc::new(portal_aws::EventBridgeEvents::new(&config, BUS)),
        secrets: Arc::new(portal_aws::KmsSecretBox::new(&config, key_id)),
        sender: SENDER.into(),
        enforces_signatures: false,
        load_rounds: 3,
        probe: Box::new(MotoProbe { endpoint, queue_url, seen: Mutex::new(vec![]) }),
        _keep: vec![],
    }
}

// -------------------------------------------------------------------------------------------
// The checks
// -------------------------------------------------------------------------------------------

fn item(pk: &str, sk: &str, n: i64) -> Item {
    Item::new(pk, sk, json!({ "n": n, "text": "ünïcode ✓", "nested": { "list": [1, 2, 3], "flag": true } }))
}

async fn conditional_put(b: &Backend) {
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

async fn collect(t: &dyn Table, q: Query) -> Vec<String> {
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

async fn query_prefix_range_order_paging(b: &Backend) {
    let t = b.table.as_ref();
    let pk = format!("T#{}", uid());
    let sks = ["A#01", "A#02", "A#03", "A#04", "A#05", "B#01", "B#02", "AB"];
    for (i, sk) in sks.iter().enumerate() {
        t.put(item(&pk, sk, i as i64), Cond::None).await.unwrap();
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

async fn gsi_query(b: &Backend) {
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

async fn transaction_all_or_nothing(b: &Backend) {
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

async fn batch_put_more_than_25(b: &Backend) {
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
async fn queries_follow_every_write(b: &Backend) {
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
async fn batch_get_and_delete_many(b: &Backend) {
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

async fn expired_ttl_items_are_gone(b: &Backend) {
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

async fn blobs_and_presigned_urls(b: &Backend) {
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
async fn mail_with_subject(b: &Backend, marker: &str) -> String {
    for _ in 0..20 {
        let found = b.probe.mails().await.into_iter().find(|raw| portal_core::mime::subject(raw).is_some_and(|s| s.contains(marker)));
        if let Some(raw) = found {
            return raw;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("no mail with {marker} in its subject was sent");
}

async fn mail_sent_and_read_back(b: &Backend) {
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
            "lakeside",
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

async fn event_published_and_received(b: &Backend) {
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

async fn secrets_open_only_under_their_context(b: &Backend) {
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

/// The sync rules on this backend's table, secrets and events: what the sync API relies on.
async fn sync_rules_hold(b: &Backend) {
    use portal_core::audit::{Actor, ActorKind};
    use portal_core::sync::auth::{canonical_path_with_query, signed_headers, SecretCache, SyncKeys, SyncSignature};
    use portal_core::sync::outbox::Outbox;
    use portal_core::sync::store::{Applied, SyncStore};
    use portal_core::sync::Entity;
    let clock = SystemClock;
    let practice = format!("p{}", uid());
    // A key, sealed by this backend's SecretBox, verifies a signed request once.
    let keys = SyncKeys { table: b.table.as_ref(), clock: &clock, secrets: b.secrets.as_ref() };
    let (key, secret) = keys.create(&Actor::new(&practice, ActorKind::Staff, "staff-1", None), "Server").await.unwrap();
    let headers = signed_headers(&key.key_id, &secret, "GET", "/v1/sync/events", &[], b"", now());
    let sig = SyncSignature::from_headers(|h| headers.iter().find(|(k, _)| *k == h).map(|(_, v)| v.clone())).unwrap();
    let cache = SecretCache::default();
    let path = canonical_path_with_query("/v1/sync/events", &[]);
    assert_eq!(keys.verify(&sig, "GET", &path, &cache, None).await.unwrap().key_id, key.key_id);
    let replay = keys.verify(&sig, "GET", &path, &cache, None).await;
    assert_eq!(replay.as_ref().map_err(|e| e.code()).err(), Some("sync_replay"), "{replay:?}");
    // Upserts never go backwards; deletes leave a tombstone.
    let store = SyncStore { table: b.table.as_ref(), clock: &clock };
    let body = |stamp: &str, name: &str| json!({"lastModified": stamp, "abbreviation": "MC", "firstName": name, "lastName": "Chen"});
    let up = |stamp: &'static str, name: &'static str| store.upsert(&practice, Entity::Providers, "prov-1", body(stamp, name));
    assert_eq!(up("2026-01-02T00:00:00Z", "Maya").await.unwrap().applied, Applied::Applied);
    assert_eq!(up("2026-01-02T00:00:00Z", "Maya").await.unwrap().applied, Applied::Unchanged);
    assert_eq!(up("2026-01-01T00:00:00Z", "Older").await.unwrap().applied, Applied::Unchanged);
    assert_eq!(store.get(&practice, Entity::Providers, "prov-1").await.unwrap().fields.unwrap()["firstName"], "Maya");
    assert_eq!(store.delete(&practice, Entity::Providers, "prov-1", "2026-01-03T00:00:00Z").await.unwrap().applied, Applied::Applied);
    assert_eq!(up("2026-01-02T12:00:00Z", "Zombie").await.unwrap().applied, Applied::Unchanged);
    assert!(store.get(&practice, Entity::Providers, "prov-1").await.unwrap().deleted);
    // The outbox: kept in order, handed out after the acknowledgement only once.
    let outbox = Outbox { table: b.table.as_ref(), clock: &clock, events: b.events.as_ref() };
    let first = outbox.record(&practice, "portal.test.one", json!({})).await.unwrap();
    outbox.record(&practice, "portal.test.two", json!({})).await.unwrap();
    tokio::time::sleep(Duration::from_micros(portal_core::sync::outbox::SETTLE_MICROS as u64 + 100_000)).await;
    let (events, _) = outbox.list(&practice, None, 10).await.unwrap();
    assert_eq!(events.iter().map(|e| e.kind.as_str()).collect::<Vec<_>>(), ["portal.test.one", "portal.test.two"]);
    outbox.ack(&practice, &first.id).await.unwrap();
    let (events, _) = outbox.list(&practice, None, 10).await.unwrap();
    assert_eq!(events.iter().map(|e| e.kind.as_str()).collect::<Vec<_>>(), ["portal.test.two"]);
}

/// Pushes one synced record through the store (stamped now), as the sync API would.
async fn synced(b: &Backend, practice: &str, entity: portal_core::sync::Entity, id: &str, mut body: Value) {
    body["lastModified"] = json!("2026-01-01T00:00:00Z");
    let store = portal_core::sync::store::SyncStore { table: b.table.as_ref(), clock: &SystemClock };
    store.upsert(practice, entity, id, body).await.unwrap();
}

fn patient(first: &str, extra: Value) -> Value {
    let mut p = json!({"firstName": first, "lastName": "Test", "birthdate": "1980-01-01"});
    p.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
    p
}

/// The family rule over this backend's table: who sees whom, exactly.
async fn family_rule_holds(b: &Backend) {
    use portal_core::practice::family::{Family, FamilyAccess, Viewer};
    use portal_core::sync::records::PatientRecords;
    use portal_core::sync::Entity::Patients;
    let (practice, other) = (format!("p{}", uid()), format!("p{}", uid()));
    // A family: guarantor g, spouse s, minor m (guardian: s), adult child a; an unrelated u; and
    // in another practice a patient x who names g as guarantor (ids are per practice).
    let fam = json!({"familyIds": ["g", "s", "m", "a"]});
    synced(b, &practice, Patients, "g", patient("Gale", fam.clone())).await;
    synced(b, &practice, Patients, "s", patient("Sky", json!({"guarantorId": "g", "familyIds": ["g", "m", "a"]}))).await;
    let minor = json!({"guarantorId": "g", "isMinor": true, "guardians": [{"patientId": "s", "relationship": "mother"}]});
    synced(b, &practice, Patients, "m", patient("Mo", minor)).await;
    synced(b, &practice, Patients, "a", patient("Ash", json!({"guarantorId": "g"}))).await;
    synced(b, &practice, Patients, "u", patient("Uma", json!({}))).await;
    synced(b, &other, Patients, "x", patient("Xan", json!({"guarantorId": "g"}))).await;
    let family = Family { records: PatientRecords { table: b.table.as_ref() } };
    let sees = |id: &str, access: FamilyAccess| {
        let viewer = Viewer { patient_id: id.into(), family_access: access };
        let (family, practice) = (&family, &practice);
        async move { family.members(practice, &viewer).await.unwrap().into_iter().map(|m| m.patient_id).collect::<Vec<_>>() }
    };
    use FamilyAccess::{Guarantor, SelfOnly};
    assert_eq!(sees("g", Guarantor).await, ["g", "a", "m", "s"], "the guarantor sees the family (self first, then by name)");
    assert_eq!(sees("s", Guarantor).await, ["s", "m"], "the spouse sees themself and the minor in their care");
    assert_eq!(sees("a", Guarantor).await, ["a"], "the minor's non-guardian relative sees only themself");
    assert_eq!(sees("m", Guarantor).await, ["m"]);
    assert_eq!(sees("u", Guarantor).await, ["u"], "an unrelated patient sees only themself");
    assert_eq!(sees("g", SelfOnly).await, ["g"], "familyAccess=self: the guarantor sees only themself");
    assert_eq!(sees("s", SelfOnly).await, ["s", "m"], "guardians still see their minors");
    // Resolving a requested member: others are not found, whatever exists elsewhere.
    let g = Viewer { patient_id: "g".into(), family_access: Guarantor };
    assert_eq!(family.resolve(&practice, &g, None).await.unwrap(), "g");
    assert_eq!(family.resolve(&practice, &g, Some("m")).await.unwrap(), "m");
    for outside in ["u", "x", "nobody"] {
        assert!(matches!(family.resolve(&practice, &g, Some(outside)).await, Err(portal_core::CoreError::NotFound)), "{outside}");
    }
    let x = Viewer { patient_id: "x".into(), family_access: Guarantor };
    assert_eq!(family.members(&other, &x).await.unwrap().len(), 1, "another practice's patient never reaches this one's family");
}

/// The read repository: typed records by patient and account, date ranges, newest first, paging,
/// and deletes that vanish from every listing.
async fn patient_records_read_back(b: &Backend) {
    use portal_core::sync::entities::{Appointment, AppointmentStatus, LedgerEntry};
    use portal_core::sync::records::{DateRange, Order, PatientRecords};
    use portal_core::sync::Entity::{Appointments, Ledger};
    let practice = format!("p{}", uid());
    for (id, start) in [("a1", "2026-01-05T09:00:00-05:00"), ("a2", "2026-02-05T21:30:00-05:00"), ("a3", "2026-03-05T09:00:00-05:00")] {
        let body = json!({"patientId": "p1", "providerId": "prov-1", "start": start, "lengthMinutes": 60, "status": "scheduled"});
        synced(b, &practice, Appointments, id, body).await;
    }
    synced(
        b,
        &practice,
        Appointments,
        "other",
        json!({"patientId": "p2", "providerId": "prov-1", "start": "2026-02-01T09:00:00Z", "lengthMinutes": 30, "status": "complete"}),
    )
    .await;
    let records = PatientRecords { table: b.table.as_ref() };
    let all = records.for_patient::<Appointment>(&practice, "p1", &DateRange::all(), Order::NewestFirst, 10, None).await.unwrap();
    assert_eq!(all.records.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(), ["a3", "a2", "a1"]);
    assert_eq!(all.records[0].record.status, AppointmentStatus::Scheduled);
    // 21:30 at -05:00 on Feb 5 is Feb 6 in UTC: ranges compare in UTC.
    let feb = DateRange::parse(Some("2026-02-06"), Some("2026-02-28")).unwrap();
    let got = records.for_patient::<Appointment>(&practice, "p1", &feb, Order::OldestFirst, 10, None).await.unwrap();
    assert_eq!(got.records.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(), ["a2"]);
    // Paging: two pages of two and one.
    let p1 = records.for_patient::<Appointment>(&practice, "p1", &DateRange::all(), Order::OldestFirst, 2, None).await.unwrap();
    assert_eq!(p1.records.len(), 2);
    let p2 = records.for_patient::<Appointment>(&practice, "p1", &DateRange::all(), Order::OldestFirst, 2, p1.cursor).await.unwrap();
    assert_eq!(p2.records.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(), ["a3"]);
    // Ledger lines sit on the account (the guarantor), whoever the visit was for.
    let line = |patient: &str| json!({"patientId": patient, "guarantorId": "g", "date": "2026-01-10", "kind": "charge", "amountCents": 1000, "description": "Exam"});
    synced(b, &practice, Ledger, "l1", line("g")).await;
    synced(b, &practice, Ledger, "l2", line("kid")).await;
    let ledger = records.for_patient::<LedgerEntry>(&practice, "g", &DateRange::all(), Order::NewestFirst, 10, None).await.unwrap();
    assert_eq!(ledger.records.len(), 2);
    // A delete takes the record out of every listing and out of reach by id.
    let store = portal_core::sync::store::SyncStore { table: b.table.as_ref(), clock: &SystemClock };
    store.delete(&practice, Appointments, "a2", "2026-06-01T00:00:00Z").await.unwrap();
    let after = records.for_patient::<Appointment>(&practice, "p1", &DateRange::all(), Order::OldestFirst, 10, None).await.unwrap();
    assert_eq!(after.records.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(), ["a1", "a3"]);
    assert!(records.get::<Appointment>(&practice, "a2").await.unwrap().is_none());
    assert!(records.get::<Appointment>(&practice, "a1").await.unwrap().is_some());
    assert!(DateRange::parse(Some("2026-03-01"), Some("2026-02-01")).is_err());
    // The practice's own records: providers by id, open slots by start.
    use portal_core::sync::entities::{Provider, Slot};
    use portal_core::sync::Entity::{Providers, Slots};
    for id in ["prov-2", "prov-1", "z-9"] {
        synced(b, &practice, Providers, id, json!({"abbreviation": "AB", "firstName": "A", "lastName": "B"})).await;
    }
    for (id, start) in [("slot-b", "2026-03-02T09:00:00Z"), ("slot-a", "2026-03-01T09:00:00Z")] {
        synced(b, &practice, Slots, id, json!({"providerId": "prov-1", "start": start, "lengthMinutes": 60})).await;
    }
    let providers = records.for_practice::<Provider>(&practice, &DateRange::all(), 10, None).await.unwrap();
    assert_eq!(providers.records.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(), ["prov-1", "prov-2", "z-9"]);
    let slots = records.for_practice::<Slot>(&practice, &DateRange::all(), 10, None).await.unwrap();
    assert_eq!(slots.records.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(), ["slot-a", "slot-b"]);
}

/// Read-your-writes under concurrent readers: once a write returns, every read sees it (the
/// embedded table answers reads from a cache that writes must invalidate, keys found absent
/// included).
async fn reads_see_every_completed_write(b: &Backend) {
    let pk = format!("rw{}", uid());
    let t = b.table.clone();
    // A key read while absent, then written by each kind of write, is found at once.
    assert!(t.get(&pk, "counter").await.unwrap().is_none());
    assert!(t.get(&pk, "tally").await.unwrap().is_none());
    t.transact(vec![TxOp::Count { pk: pk.clone(), sk: "tally".into(), by: 2, expires_at: None }]).await.unwrap();
    assert_eq!(t.get(&pk, "tally").await.unwrap().expect("a counted key is found").data["count"], 2);
    assert!(t.get(&pk, "batched").await.unwrap().is_none());
    t.batch_put(vec![item(&pk, "batched", 1)]).await.unwrap();
    assert!(t.get(&pk, "batched").await.unwrap().is_some(), "a batch-written key read before as absent");
    let readers: Vec<_> = (0..4)
        .map(|_| {
            let (t, pk) = (t.clone(), pk.clone());
            tokio::spawn(async move {
                let mut last = 0;
                for _ in 0..40 {
                    if let Some(i) = t.get(&pk, "counter").await.unwrap() {
                        let n = i.data["n"].as_i64().unwrap();
                        assert!(n >= last, "a read went back in time: {n} after {last}");
                        last = n;
                    }
                }
            })
        })
        .collect();
    for n in 1..=20 {
        b.table.put(item(&pk, "counter", n), Cond::None).await.unwrap();
        let seen = b.table.get(&pk, "counter").await.unwrap().unwrap().data["n"].as_i64().unwrap();
        assert_eq!(seen, n, "a completed write is not visible to the next read");
    }
    b.table.delete(&pk, "counter", Cond::None).await.unwrap();
    assert!(b.table.get(&pk, "counter").await.unwrap().is_none(), "a deleted item is still read");
    for r in readers {
        r.await.unwrap();
    }
}

/// The patient modules' rules over this backend: a balance summed over the account, a
/// confirmation written once with its outbox event, and of twenty patients booking one slot at
/// once exactly one winning (the condition that decides it is the backend's).
async fn patient_modules_hold(b: &Backend) {
    use portal_core::audit::{Actor, ActorKind};
    use portal_core::patient::account::Account;
    use portal_core::patient::appointments::AppointmentBook;
    use portal_core::patient::ProviderNames;
    use portal_core::practice::family::{FamilyAccess, Viewer};
    use portal_core::reads::Caller;
    use portal_core::sync::Entity::{Appointments, Ledger, Patients, Recalls, Slots};
    let practice = format!("p{}", uid());
    let caller = |id: &str| Caller {
        actor: Actor::new(&practice, ActorKind::Patient, id, None),
        viewer: Viewer { patient_id: id.into(), family_access: FamilyAccess::Guarantor },
    };
    synced(b, &practice, Patients, "g", patient("Gale", json!({}))).await;
    for (id, kind, cents) in [("l1", "charge", 12000), ("l2", "payment", -5000), ("l3", "insurance-estimate", 3000)] {
        let line = json!({"patientId": "g", "date": "2026-01-10", "kind": kind, "amountCents": cents, "description": "Visit"});
        synced(b, &practice, Ledger, id, line).await;
    }
    let account = Account { table: b.table.as_ref(), clock: &SystemClock, blobs: b.blobs.as_ref() };
    let sum = account.summary(&caller("g"), None, true).await.unwrap();
    assert_eq!((sum.total_cents, sum.insurance_estimate_cents, sum.patient_portion_cents), (7000, 3000, 4000));

    let providers = ProviderNames::new(60);
    let book = AppointmentBook { table: b.table.as_ref(), clock: &SystemClock, events: b.events.as_ref(), providers: &providers };
    let pending = json!({"patientId": "g", "providerId": "prov-1", "start": format!("{}T10:00:00-05:00", date_from_today(40)), "lengthMinutes": 30, "status": "scheduled", "eConfirmationPending": true});
    synced(b, &practice, Appointments, "apt-1", pending).await;
    for _ in 0..2 {
        assert_eq!(book.confirm(&caller("g"), None, "apt-1").await.unwrap().id, "apt-1");
    }
    let outbox = portal_core::sync::outbox::Outbox { table: b.table.as_ref(), clock: &SystemClock, events: b.events.as_ref() };
    tokio::time::sleep(Duration::from_micros(portal_core::sync::outbox::SETTLE_MICROS as u64 + 100_000)).await;
    let (events, _) = outbox.list(&practice, None, 100).await.unwrap();
    assert_eq!(events.iter().filter(|e| e.kind == "appointment.confirmed").count(), 1);

    synced(
        b,
        &practice,
        Slots,
        "slot-1",
        json!({"providerId": "prov-1", "start": format!("{}T09:00:00-05:00", date_from_today(20)), "lengthMinutes": 60}),
    )
    .await;
    for n in 0..20 {
        synced(b, &practice, Patients, &format!("r{n}"), patient("Racer", json!({}))).await;
        let recall = json!({"patientId": format!("r{n}"), "type": "Prophy", "dueDate": date_from_today(-30), "status": "due"});
        synced(b, &practice, Recalls, &format!("rc-{n}"), recall).await;
    }
    let attempts: Vec<_> = (0..20)
        .map(|n| {
            let (table, events, caller) = (b.table.clone(), b.events.clone(), caller(&format!("r{n}")));
            tokio::spawn(async move {
                let providers = ProviderNames::new(60);
                let book = AppointmentBook { table: table.as_ref(), clock: &SystemClock, events: events.as_ref(), providers: &providers };
                book.book(&caller, None, &format!("rc-{n}"), "slot-1").await.map(|b| b.appointment.id).map_err(|e| e.code())
            })
        })
        .collect();
    let mut outcomes = vec![];
    for a in attempts {
        outcomes.push(a.await.unwrap());
    }
    assert_eq!(outcomes.iter().filter(|o| o.is_ok()).count(), 1, "{outcomes:?}");
    assert!(outcomes.iter().all(|o| o.is_ok() || *o == Err("slot_taken")), "{outcomes:?}");
}

/// WebMail over this backend: who may write to, read and mark whom; unread counts; and each
/// message's notification sent once — recorded as failed while the mail service fails, sent once
/// it recovers, never twice, and without the message in it.
async fn webmail_holds(b: &Backend) {
    use portal_core::audit::{Actor, ActorKind};
    use portal_core::practice::family::{FamilyAccess, Viewer};
    use portal_core::reads::{Caller, PageRequest};
    use portal_core::sync::Entity::{Patients, Providers};
    use portal_core::webmail::mailbox::{Folder, Mailbox, Notification};
    use portal_core::webmail::notify::Notifier;
    struct Down;
    #[async_trait]
    impl Mailer for Down {
        async fn send(&self, _: &Mail) -> Result<String, PortError> {
            Err(PortError::Backend("the mail service is down".into()))
        }
    }
    let practice = format!("p{}", uid());
    let mut settings = portal_core::practice::settings::PracticeSettings::new("Smile Dental", portal_core::Feature::ALL.to_vec());
    settings.webmail.notification_sender = b.sender.clone();
    settings.webmail.default_notify_address = format!("office-{practice}@example.com");
    portal_core::practice::settings::SettingsRepo { table: b.table.as_ref(), clock: &SystemClock }
        .create(&practice, &settings)
        .await
        .unwrap();
    let email = format!("gale-{practice}@example.com");
    synced(b, &practice, Patients, "g", patient("Gale", json!({"email": email}))).await;
    synced(
        b,
        &practice,
        Patients,
        "m",
        patient("Mo", json!({"guarantorId": "g", "isMinor": true, "guardians": [{"patientId": "g", "relationship": "mother"}]})),
    )
    .await;
    synced(b, &practice, Patients, "u", patient("Uma", json!({"optOuts": {"email": true}, "email": "uma@example.com"}))).await;
    synced(
        b,
        &practice,
        Providers,
        "prov-1",
        json!({"abbreviation": "MC", "firstName": "Maya", "lastName": "Chen", "credentials": "DDS", "staffUsernames": ["frontdesk"]}),
    )
    .await;
    synced(b, &practice, Providers, "prov-2", json!({"abbreviation": "SO", "firstName": "Sam", "lastName": "Okafor"})).await;
    let caller = |id: &str| Caller {
        actor: Actor::new(&practice, ActorKind::Patient, id, None),
        viewer: Viewer { patient_id: id.into(), family_access: FamilyAccess::Guarantor },
    };
    let staff = Actor::new(&practice, ActorKind::Staff, "staff-1", None);
    let mail = Mailbox { table: b.table.as_ref(), clock: &SystemClock, events: b.events.as_ref(), blobs: b.blobs.as_ref() };
    let page = || PageRequest::new(20, None);

    // A patient writes to a provider someone answers for; not to one nobody does.
    let sent =
        mail.patient_compose(&caller("g"), None, "prov-1", "Crown question", "Does the crown need a second visit?", &[]).await.unwrap();
    let err = mail.patient_compose(&caller("g"), None, "prov-2", "Hello", "Hi", &[]).await.unwrap_err();
    assert_eq!(err.code(), "provider_unknown");
    assert_eq!(mail.patient_compose(&caller("g"), None, "prov-1", "Hello", "   ", &[]).await.unwrap_err().code(), "message_empty");
    let office = mail.office_list(&staff, Folder::Inbox, false, None, page()).await.unwrap();
    assert_eq!((office.listing.items.len(), office.unread), (1, 1));
    assert_eq!(office.listing.items[0].from.name, "Gale Test");
    let own_sent = mail.patient_list(&caller("g"), None, Folder::Sent, page()).await.unwrap();
    assert_eq!(own_sent.listing.items[0].id, sent.id);
    // The office answers as the provider the staff user acts for; not as another.
    let reply =
        mail.office_reply(&staff, "frontdesk", &sent.thread_id, Some("prov-1"), "Yes: the seat is in two weeks.", &[]).await.unwrap();
    let err = mail.office_reply(&staff, "someone-else", &sent.thread_id, Some("prov-1"), "Hi", &[]).await.unwrap_err();
    assert_eq!(err.code(), "not_acting_for_provider");
    mail.office_mark(&staff, &sent.id, true).await.unwrap();
    assert_eq!(mail.office_list(&staff, Folder::Inbox, true, None, page()).await.unwrap().unread, 0);
    // The patient sees it unread, reads it, and the thread oldest first.
    let inbox = mail.patient_list(&caller("g"), None, Folder::Inbox, page()).await.unwrap();
    assert_eq!((inbox.unread, inbox.listing.items[0].read, inbox.listing.items[0].from.name.as_str()), (1, false, "Maya Chen, DDS"));
    mail.patient_mark(&caller("g"), None, &reply.id, true).await.unwrap();
    mail.patient_mark(&caller("g"), None, &reply.id, true).await.unwrap();
    assert_eq!(mail.patient_list(&caller("g"), None, Folder::Inbox, page()).await.unwrap().unread, 0);
    let thread = mail.patient_thread(&caller("g"), None, &sent.thread_id).await.unwrap();
    assert_eq!(thread.messages.iter().map(|m| m.summary.id.as_str()).collect::<Vec<_>>(), [sent.id.as_str(), reply.id.as_str()]);
    assert!(thread.messages.iter().all(|m| m.summary.notification.is_none()), "patients do not see notification states");
    // Another patient: nothing of Gale's exists.
    let not_found = |e: portal_core::CoreError| assert_eq!(e.code(), "not_found");
    not_found(mail.patient_thread(&caller("u"), None, &sent.thread_id).await.unwrap_err());
    not_found(mail.patient_mark(&caller("u"), None, &reply.id, false).await.unwrap_err());
    not_found(mail.patient_reply(&caller("u"), None, &sent.thread_id, "me too", &[]).await.unwrap_err());
    not_found(mail.patient_list(&caller("u"), Some("g"), Folder::Inbox, page()).await.unwrap_err());
    // A guardian writes about her minor: the thread is the minor's.
    let about_mo = mail.patient_compose(&caller("g"), Some("m"), "prov-1", "Mo's braces", "Mo's bracket came off.", &[]).await.unwrap();
    assert_eq!(mail.office_thread(&staff, &about_mo.thread_id).await.unwrap().patient_id, "m");

    // Notifications: failing, then sent once, never twice; nothing of the message in them.
    let failing = Notifier { table: b.table.as_ref(), clock: &SystemClock, mailer: &Down, portal_base_url: "https://portal.example.com" };
    assert!(failing.notify(&practice, &reply.id).await.is_err());
    let staff_view = mail.office_thread(&staff, &sent.thread_id).await.unwrap();
    let state = staff_view.messages[1].summary.notification.clone().unwrap();
    assert!(matches!(state, Notification::Failed { attempts: 1, .. }), "{state:?}");
    let working =
        Notifier { table: b.table.as_ref(), clock: &SystemClock, mailer: b.mailer.as_ref(), portal_base_url: "https://portal.example.com" };
    for _ in 0..2 {
        assert!(matches!(working.notify(&practice, &reply.id).await.unwrap(), Notification::Sent { .. }));
    }
    let office_sent = mail.office_list(&staff, Folder::Sent, false, None, page()).await.unwrap();
    assert!(matches!(office_sent.listing.items[0].notification, Some(Notification::Sent { .. })), "staff see it in their sent folder");
    let mut to_gale = vec![];
    for _ in 0..20 {
        to_gale = b.probe.mails().await.into_iter().filter(|raw| raw.contains(&format!("To: {email}"))).collect();
        if !to_gale.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(to_gale.len(), 1, "one notification for one message");
    let text = portal_core::mime::text_part(&to_gale[0]).unwrap();
    assert!(text.contains(&format!("https://portal.example.com/p/{practice}/")) && text.contains("Smile Dental"), "{text}");
    assert!(!to_gale[0].contains("seat is in two weeks") && !to_gale[0].contains("Crown question"), "no message text in the mail");
    // The office is told at its notify address; a patient who opted out of email is skipped.
    assert!(matches!(working.notify(&practice, &sent.id).await.unwrap(), Notification::Sent { .. }));
    let to_uma = mail.office_compose(&staff, "frontdesk", "u", None, "Your visit", "See you soon.", &[]).await.unwrap();
    let skipped = working.notify(&practice, &to_uma.id).await.unwrap();
    assert_eq!(skipped, Notification::Skipped { reason: "the patient opted out of email".into() });
}

/// The table as it is while audit writes fail: any write to an audit partition is refused.
struct AuditDown(Arc<dyn Table>);

fn is_audit(pk: &str) -> bool {
    pk.ends_with("#AUDIT")
}

#[async_trait]
impl Table for AuditDown {
    async fn get(&self, pk: &str, sk: &str) -> Result<Option<Item>, TableError> {
        self.0.get(pk, sk).await
    }
    async fn put(&self, item: Item, cond: Cond) -> Result<(), TableError> {
        if is_audit(&item.pk) {
            return Err(TableError::Backend("the audit partition is throttled".into()));
        }
        self.0.put(item, cond).await
    }
    async fn delete(&self, pk: &str, sk: &str, cond: Cond) -> Result<(), TableError> {
        self.0.delete(pk, sk, cond).await
    }
    async fn query(&self, q: Query) -> Result<Page, TableError> {
        self.0.query(q).await
    }
    async fn transact(&self, ops: Vec<TxOp>) -> Result<(), TableError> {
        if ops.iter().any(|op| is_audit(op.key().0)) {
            return Err(TableError::Backend("the audit partition is throttled".into()));
        }
        self.0.transact(ops).await
    }
    async fn add(&self, pk: &str, sk: &str, by: i64, expires_at: Option<i64>) -> Result<i64, TableError> {
        self.0.add(pk, sk, by, expires_at).await
    }
    async fn batch_put(&self, items: Vec<Item>) -> Result<(), TableError> {
        self.0.batch_put(items).await
    }
    async fn batch_get(&self, keys: Vec<(String, String)>) -> Result<Vec<Item>, TableError> {
        self.0.batch_get(keys).await
    }
    async fn batch_delete(&self, keys: Vec<(String, String)>) -> Result<(), TableError> {
        self.0.batch_delete(keys).await
    }
}

/// A change and its audit entry are one write: while the audit log cannot be written, a booking,
/// a confirmation, a message and a read mark answer an error and change nothing (before, the
/// change was stored and the caller told it had failed); once it can, each goes through once.
async fn changes_and_their_audit_entries_are_one_write(b: &Backend) {
    use portal_core::audit::{Actor, ActorKind};
    use portal_core::patient::appointments::AppointmentBook;
    use portal_core::patient::ProviderNames;
    use portal_core::practice::family::{FamilyAccess, Viewer};
    use portal_core::reads::{Caller, PageRequest};
    use portal_core::sync::Entity::{Appointments, Patients, Providers, Recalls, Slots};
    use portal_core::webmail::mailbox::{Folder, Mailbox};
    let practice = format!("p{}", uid());
    let settings = portal_core::practice::settings::PracticeSettings::new("Audit Dental", portal_core::Feature::ALL.to_vec());
    portal_core::practice::settings::SettingsRepo { table: b.table.as_ref(), clock: &SystemClock }
        .create(&practice, &settings)
        .await
        .unwrap();
    let caller = Caller {
        actor: Actor::new(&practice, ActorKind::Patient, "g", None),
        viewer: Viewer { patient_id: "g".into(), family_access: FamilyAccess::Guarantor },
    };
    synced(b, &practice, Patients, "g", patient("Gale", json!({}))).await;
    synced(
        b,
        &practice,
        Providers,
        "prov-1",
        json!({"abbreviation": "MC", "firstName": "Maya", "lastName": "Chen", "staffUsernames": ["frontdesk"]}),
    )
    .await;
    let start = |days: i64| format!("{}T10:00:00-05:00", date_from_today(days));
    let pending = json!({"patientId": "g", "providerId": "prov-1", "start": start(40), "lengthMinutes": 30, "status": "scheduled", "eConfirmationPending": true});
    synced(b, &practice, Appointments, "apt-1", pending).await;
    synced(b, &practice, Slots, "slot-1", json!({"providerId": "prov-1", "start": start(20), "lengthMinutes": 60})).await;
    synced(b, &practice, Recalls, "rc-1", json!({"patientId": "g", "type": "Prophy", "dueDate": date_from_today(-30), "status": "due"}))
        .await;

    let down: Arc<dyn Table> = Arc::new(AuditDown(b.table.clone()));
    let providers = ProviderNames::new(60);
    for (table, works) in [(&down, false), (&b.table, true)] {
        let book = AppointmentBook { table: table.as_ref(), clock: &SystemClock, events: b.events.as_ref(), providers: &providers };
        let mail = Mailbox { table: table.as_ref(), clock: &SystemClock, events: b.events.as_ref(), blobs: b.blobs.as_ref() };
        assert_eq!(book.book(&caller, None, "rc-1", "slot-1").await.is_ok(), works, "booking");
        assert_eq!(book.confirm(&caller, None, "apt-1").await.is_ok(), works, "confirmation");
        assert_eq!(mail.patient_compose(&caller, None, "prov-1", "Hello", "Is parking free?", &[]).await.is_ok(), works, "message");
        let office = Actor::new(&practice, ActorKind::Staff, "staff-1", None);
        let inbox = Mailbox { table: b.table.as_ref(), clock: &SystemClock, events: b.events.as_ref(), blobs: b.blobs.as_ref() }
            .office_list(&office, Folder::Inbox, false, None, PageRequest::new(10, None))
            .await
            .unwrap();
        assert_eq!((inbox.listing.items.len(), inbox.unread), if works { (1, 1) } else { (0, 0) }, "nothing half-sent");
        if works {
            assert!(mail.office_mark(&office, &inbox.listing.items[0].id, true).await.is_ok());
        }
    }
    // Each change went through once, each with its entry.
    let audit = portal_core::audit::AuditLog { table: b.table.as_ref(), clock: &SystemClock };
    let entries = audit.for_subject(&practice, "g", 100, None).await.unwrap().0;
    let count = |action: &str| entries.iter().filter(|e| e.action == action).count();
    assert_eq!((count("appointments.book"), count("appointments.confirm"), count("webmail.send"), count("webmail.read")), (1, 1, 1, 1));
}

/// An event whose commit could not publish it (EventBridge down at that moment) stays marked in
/// the outbox; the relay publishes it once it is a minute old, and only once.
async fn events_a_commit_could_not_publish_go_out_later(b: &Backend) {
    use portal_core::sync::outbox::Outbox;
    let clock = ManualClock::new(now());
    let practice = format!("p{}", uid());
    let (lost, fine) = (uid(), uid());
    let down = Outbox { table: b.table.as_ref(), clock: &clock, events: &crate::support::EventsDown };
    down.record(&practice, "portal.test", json!({ "marker": lost })).await.unwrap();
    let up = Outbox { table: b.table.as_ref(), clock: &clock, events: b.events.as_ref() };
    up.record(&practice, "portal.test", json!({ "marker": fine })).await.unwrap();
    assert_eq!(up.relay(100).await.unwrap(), 0, "a commit may still be publishing its own events for a minute");
    clock.advance(61);
    // What the operators' alarm watches: ours (or an older one of another test) is a minute old.
    assert!(up.oldest_unpublished_seconds().await.unwrap().is_some_and(|age| age >= 61));
    assert_eq!(up.relay(100).await.unwrap(), 1, "only the one its commit could not publish");
    assert_eq!(up.relay(100).await.unwrap(), 0, "published once");
    for _ in 0..30 {
        let got = b.probe.events().await;
        if got.iter().any(|e| e["detail"]["marker"] == json!(lost)) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the relayed event was not received");
}

/// Payments over this backend's table (the processor: the built-in test processor, keeping its
/// payments in the same table): a start sent twice is one payment; polls and reconcilers racing
/// on an approved payment approve it once, with one `payment.received`; the account's and the
/// practice's indexes list it; one abandoned for a day is canceled.
async fn payments_are_settled_once(b: &Backend) {
    use portal_core::audit::{Actor, ActorKind};
    use portal_core::payments::setup::{PaymentSetups, SetupChange};
    use portal_core::payments::{Payments, StartRequest};
    use portal_core::ports::Processors;
    use portal_core::practice::family::{FamilyAccess, Viewer};
    use portal_core::reads::{Caller, PageRequest};
    let practice = format!("p{}", uid());
    synced(b, &practice, portal_core::sync::Entity::Patients, "g", patient("Gale", json!({}))).await;
    let test = Arc::new(portal_embedded::TestProcessor::new(b.table.clone(), "http://127.0.0.1:9"));
    let processors = Processors { test: Some(test.clone()), stripe: None };
    let clock = ManualClock::new(now());
    let staff = Actor::new(&practice, ActorKind::Staff, "staff-1", None);
    let setups = PaymentSetups { table: b.table.as_ref(), clock: &clock, secrets: b.secrets.as_ref(), processors: &processors };
    let change = SetupChange {
        processor: ProcessorKind::Test,
        publishable_key: String::new(),
        secret_key: None,
        webhook_secret: None,
        limit_cents: 500_000,
        version: 0,
    };
    setups.save(&staff, change).await.unwrap();
    let p = Payments {
        table: b.table.as_ref(),
        clock: &clock,
        events: b.events.as_ref(),
        secrets: b.secrets.as_ref(),
        processors: &processors,
    };
    let gale = Caller {
        actor: Actor::new(&practice, ActorKind::Patient, "g", None),
        viewer: Viewer { patient_id: "g".into(), family_access: FamilyAccess::Guarantor },
    };
    let start = |key: &str, cents| StartRequest { amount_cents: cents, note: None, idempotency_key: key.into() };
    let first = p.start(&gale, None, start("conformance-1", 4200), "Practice").await.unwrap();
    let again = p.start(&gale, None, start("conformance-1", 4200), "Practice").await.unwrap();
    assert_eq!(first.payment.id, again.payment.id);
    let id = first.payment.id.clone();
    let url = first.checkout.unwrap().url.unwrap();
    test.decide(url.rsplit('/').next().unwrap(), "approve").await.unwrap();

    let polls = futures_util::future::join_all((0..3).map(|_| p.get(&gale, &id)));
    let runs = futures_util::future::join_all((0..3).map(|_| p.reconcile(500)));
    let (polls, _) = tokio::join!(polls, runs);
    assert!(polls.iter().all(|v| v.as_ref().unwrap().status == portal_core::payments::PaymentStatus::Approved));
    let outbox = portal_core::sync::outbox::Outbox { table: b.table.as_ref(), clock: &SystemClock, events: b.events.as_ref() };
    tokio::time::sleep(Duration::from_micros(portal_core::sync::outbox::SETTLE_MICROS as u64 + 100_000)).await;
    let (events, _) = outbox.list(&practice, None, 100).await.unwrap();
    assert_eq!(events.iter().filter(|e| e.kind == "payment.received" && e.detail["paymentId"] == json!(id)).count(), 1);
    let history = p.history(&gale, None, PageRequest::new(10, None)).await.unwrap();
    assert_eq!(history.items.iter().map(|v| v.id.as_str()).collect::<Vec<_>>(), [id.as_str()]);
    let posting = portal_core::payments::being_posted(b.table.as_ref(), &practice, "g", None, &Default::default()).await.unwrap();
    assert_eq!(posting.iter().map(|x| x.amount_cents).sum::<i64>(), 4200);

    // Left at the card step for a day: canceled, and no longer followed up.
    let left = p.start(&gale, None, start("conformance-2", 1500), "Practice").await.unwrap();
    clock.advance(portal_core::payments::ABANDONED_AFTER_SECONDS + 1);
    p.reconcile(500).await.unwrap();
    assert_eq!(p.get(&gale, &left.payment.id).await.unwrap().status, portal_core::payments::PaymentStatus::Canceled);
}

/// Counters: adds at the same moment each see their own number (what quotas rely on), a count in
/// a transaction is all-or-nothing with it, and a counter reads back as `{"count": n}`.
async fn counters_count_exactly(b: &Backend) {
    let pk = format!("P#c{}", uid());
    let adds: Vec<_> = (0..20)
        .map(|_| {
            let (table, pk) = (b.table.clone(), pk.clone());
            tokio::spawn(async move { table.add(&pk, "QUOTA#x", 1, Some(now() + 3600)).await.unwrap() })
        })
        .collect();
    let mut seen = vec![];
    for a in adds {
        seen.push(a.await.unwrap());
    }
    seen.sort();
    assert_eq!(seen, (1..=20).collect::<Vec<i64>>(), "each add sees its own number");
    let count = |sk: &'static str| {
        let (table, pk) = (b.table.clone(), pk.clone());
        async move { portal_core::ports::count_of(table.get(&pk, sk).await.unwrap().as_ref()) }
    };
    assert_eq!(count("QUOTA#x").await, 20);
    let op = |by| TxOp::Count { pk: pk.clone(), sk: "UNREAD".into(), by, expires_at: None };
    b.table.transact(vec![op(2)]).await.unwrap();
    let failing = vec![op(5), TxOp::Check { pk: pk.clone(), sk: "NOT-THERE".into(), cond: Cond::Exists }];
    assert!(matches!(b.table.transact(failing).await, Err(TableError::TransactionCanceled { failed }) if failed == [1]));
    b.table.transact(vec![op(-1)]).await.unwrap();
    assert_eq!(count("UNREAD").await, 1, "the canceled transaction counted nothing");
    assert_eq!(b.table.get(&pk, "UNREAD").await.unwrap().unwrap().data.as_ref(), &json!({"count": 1}));
}

/// A busy practice: 20 patients each sending 30 messages (on moto 3: see `load_rounds`) to the
/// office at the same time all get through (the office's unread count is an atomic count, not a
/// conditional write), each message is stored once, and the count is exact; read marks made at
/// the same time bring it to zero.
async fn concurrent_senders_never_conflict(b: &Backend) {
    use portal_core::audit::{Actor, ActorKind};
    use portal_core::practice::family::{FamilyAccess, Viewer};
    use portal_core::reads::{Caller, PageRequest};
    use portal_core::sync::Entity::{Patients, Providers};
    use portal_core::webmail::mailbox::{Folder, Mailbox};
    const SENDERS: usize = 20;
    let each = b.load_rounds;
    let practice = format!("p{}", uid());
    let settings = portal_core::practice::settings::PracticeSettings::new("Busy Dental", portal_core::Feature::ALL.to_vec());
    portal_core::practice::settings::SettingsRepo { table: b.table.as_ref(), clock: &SystemClock }
        .create(&practice, &settings)
        .await
        .unwrap();
    let provider = json!({"abbreviation": "MC", "firstName": "Maya", "lastName": "Chen", "staffUsernames": ["frontdesk"]});
    synced(b, &practice, Providers, "prov-1", provider).await;
    for n in 0..SENDERS {
        synced(b, &practice, Patients, &format!("s{n}"), patient("Sender", json!({}))).await;
    }
    let mailbox = |b: &Backend| (b.table.clone(), b.events.clone(), b.blobs.clone());
    let sends: Vec<_> = (0..SENDERS)
        .map(|n| {
            let ((table, events, blobs), practice) = (mailbox(b), practice.clone());
            tokio::spawn(async move {
                let mail = Mailbox { table: table.as_ref(), clock: &SystemClock, events: events.as_ref(), blobs: blobs.as_ref() };
                let caller = Caller {
                    actor: Actor::new(&practice, ActorKind::Patient, &format!("s{n}"), None),
                    viewer: Viewer { patient_id: format!("s{n}"), family_access: FamilyAccess::Guarantor },
                };
                let mut ids = vec![];
                for m in 0..each {
                    match mail.patient_compose(&caller, None, "prov-1", "Question", &format!("Message {m}"), &[]).await {
                        Ok(sent) => ids.push(sent.id),
                        Err(e) => panic!("sender {n}, message {m}: {} {e}", e.code()),
                    }
                }
                ids
            })
        })
        .collect();
    let mut sent = vec![];
    for s in sends {
        sent.extend(s.await.unwrap());
    }
    assert_eq!(sent.len(), SENDERS * each);
    let staff = Actor::new(&practice, ActorKind::Staff, "staff-1", None);
    let mail = Mailbox { table: b.table.as_ref(), clock: &SystemClock, events: b.events.as_ref(), blobs: b.blobs.as_ref() };
    let (mut listed, mut cursor) = (vec![], None);
    let unread = loop {
        let page = mail.office_list(&staff, Folder::Inbox, false, None, PageRequest::new(100, cursor)).await.unwrap();
        listed.extend(page.listing.items.into_iter().map(|m| m.id));
        match page.listing.next_cursor {
            Some(c) => cursor = Some(c),
            None => break page.unread,
        }
    };
    assert_eq!(unread, (SENDERS * each) as u64, "the office's unread count is exact");
    let (mut a, mut b_sorted) = (listed.clone(), sent.clone());
    a.sort();
    b_sorted.sort();
    assert_eq!(a, b_sorted, "each message is in the office's inbox once");

    // The office reads them all, from 20 screens at once.
    let marks: Vec<_> = sent
        .chunks(each)
        .map(|chunk| {
            let ((table, events, blobs), staff, chunk) = (mailbox(b), staff.clone(), chunk.to_vec());
            tokio::spawn(async move {
                let mail = Mailbox { table: table.as_ref(), clock: &SystemClock, events: events.as_ref(), blobs: blobs.as_ref() };
                for id in chunk {
                    mail.office_mark(&staff, &id, true).await.unwrap_or_else(|e| panic!("{}: {e}", e.code()));
                }
            })
        })
        .collect();
    for m in marks {
        m.await.unwrap();
    }
    assert_eq!(mail.office_list(&staff, Folder::Inbox, false, None, PageRequest::new(1, None)).await.unwrap().unread, 0);
}

/// Two admins demoting each other at the same moment, again and again: the change and the count
/// of the admins who stay are one conditional transaction, so a practice is never left without
/// an admin.
async fn admins_demoting_each_other_leave_one(b: &Backend) {
    use portal_core::audit::{Actor, ActorKind};
    use portal_core::identity::session::StaffRole::{Admin, FrontDesk};
    use portal_core::identity::staff_users::StaffUsers;
    let rounds = b.load_rounds.min(10);
    for round in 0..rounds {
        let practice = format!("p{}", uid());
        let prov = portal_core::identity::provision::Provisioner { table: b.table.as_ref(), clock: &SystemClock };
        prov.create_practice(&practice, "Two Admins", vec![]).await.unwrap();
        let (one, two) = (
            prov.create_staff(&practice, "one", "One", Admin).await.unwrap(),
            prov.create_staff(&practice, "two", "Two", Admin).await.unwrap(),
        );
        let demote = |by: &str, whom: &'static str| {
            let (table, actor) = (b.table.clone(), Actor::new(&practice, ActorKind::Staff, by, None));
            tokio::spawn(async move {
                StaffUsers { table: table.as_ref(), clock: &SystemClock }.update(&actor, whom, Some(FrontDesk), None).await
            })
        };
        let (a, b2) = (demote(&one.principal_id, "two"), demote(&two.principal_id, "one"));
        let outcomes = [a.await.unwrap().map_err(|e| e.code()), b2.await.unwrap().map_err(|e| e.code())];
        assert!(outcomes.iter().filter(|o| o.is_ok()).count() == 1, "round {round}: {outcomes:?}");
        assert!(outcomes.iter().all(|o| o.is_ok() || *o == Err("last_admin")), "round {round}: {outcomes:?}");
        let users = StaffUsers { table: b.table.as_ref(), clock: &SystemClock }.list(&practice).await.unwrap();
        assert_eq!(users.iter().filter(|u| u.role == Admin).count(), 1, "round {round}: {users:?}");
    }
}

/// The staff roster follows each patient's newest version exactly (written in the patient's own
/// transaction); a patient gets one login and a username names one patient.
async fn roster_and_access_hold(b: &Backend) {
    use portal_core::identity::patient_access::PatientAccess;
    use portal_core::sync::roster::Roster;
    use portal_core::sync::store::{Applied, SyncStore};
    use portal_core::sync::Entity::Patients;
    let practice = format!("p{}", uid());
    let store = SyncStore { table: b.table.as_ref(), clock: &SystemClock };
    let version = |stamp: &str, last: &str, phones: Value| {
        let mut p = patient("Avery", json!({"lastName": last, "phones": phones}));
        p["lastModified"] = json!(stamp);
        p
    };
    let roster = Roster { table: b.table.as_ref() };
    let found = |q: &'static str| {
        let (roster, practice) = (&roster, &practice);
        async move { roster.search(practice, q, 10, None).await.unwrap().entries.into_iter().map(|e| e.patient_id).collect::<Vec<_>>() }
    };
    let home = json!([{"kind": "home", "number": "555-010-2000"}]);
    store.upsert(&practice, Patients, "a", version("2026-01-01T00:00:00Z", "Stone", home.clone())).await.unwrap();
    assert_eq!(
        (found("stone").await, found("avery").await, found("5550102").await),
        (vec!["a".to_string()], vec!["a".into()], vec!["a".into()])
    );
    // A newer version: renamed, the phone gone. Nothing of the old one is found.
    store.upsert(&practice, Patients, "a", version("2026-01-02T00:00:00Z", "Brook", json!([]))).await.unwrap();
    assert_eq!((found("stone").await, found("brook").await, found("5550102").await), (vec![], vec!["a".to_string()], vec![]));
    let entry = roster.get(&practice, "a").await.unwrap().unwrap();
    assert_eq!(entry.missing, ["address", "city", "state", "phone", "email"]);
    // An older version arriving late changes nothing, in the roster either.
    let late = store.upsert(&practice, Patients, "a", version("2026-01-01T12:00:00Z", "Stone", home)).await.unwrap();
    assert_eq!(late.applied, Applied::Unchanged);
    assert!(found("stone").await.is_empty());
    store.delete(&practice, Patients, "a", "2026-01-03T00:00:00Z").await.unwrap();
    assert!(found("brook").await.is_empty() && found("").await.is_empty());
    assert!(roster.get(&practice, "a").await.unwrap().is_none());

    let access = PatientAccess { table: b.table.as_ref(), clock: &SystemClock };
    assert!(access.create(&practice, "p1", "sam1234", "Sam", "pw-one-two-three", true, "staff-1").await.unwrap());
    let again = access.create(&practice, "p1", "sam9999", "Sam", "pw-one-two-three", true, "staff-1").await.unwrap_err();
    assert_eq!(again.code(), "access_exists");
    assert!(!access.create(&practice, "p2", "sam1234", "Sam", "pw-one-two-three", true, "staff-1").await.unwrap(), "username taken");
    assert!(access.get(&practice, "p2").await.unwrap().is_none(), "nothing half-written");
    assert_eq!(access.get(&practice, "p1").await.unwrap().unwrap().0.username, "sam1234");
}

/// A new practice ("Smile Dental", every feature) whose mail goes out from this backend's sender.
async fn practice_sending_mail(b: &Backend, clock: &dyn Clock) -> String {
    let practice = format!("p{}", uid());
    let mut settings = portal_core::practice::settings::PracticeSettings::new("Smile Dental", portal_core::Feature::ALL.to_vec());
    settings.webmail.notification_sender = b.sender.clone();
    portal_core::practice::settings::SettingsRepo { table: b.table.as_ref(), clock }.create(&practice, &settings).await.unwrap();
    practice
}

/// Automated invites with a controlled clock: due once per (rule, appointment), never twice for
/// overlapping runs; a run that dies after claiming is taken over once; opted-out and ineligible
/// patients are skipped with the reason; the after-visit rule waits for completion.
async fn invites_hold(b: &Backend) {
    use portal_core::invites::rules::{InviteRulesRepo, Resend, RuleKind};
    use portal_core::invites::run::{log, InviteRun, InviteState};
    use portal_core::sync::store::SyncStore;
    use portal_core::sync::Entity::{Appointments, Patients};
    struct Crashing;
    #[async_trait]
    impl Mailer for Crashing {
        async fn send(&self, _: &Mail) -> Result<String, PortError> {
            panic!("the run dies while sending");
        }
    }
    let clock = Arc::new(ManualClock::new(now()));
    let t0 = clock.now();
    let practice = practice_sending_mail(b, clock.as_ref()).await;
    let staff = portal_core::audit::Actor::new(&practice, portal_core::audit::ActorKind::Staff, "staff-1", None);
    let repo = InviteRulesRepo { table: b.table.as_ref(), clock: clock.as_ref() };
    let mut rules = repo.get(&practice).await.unwrap();
    assert_eq!((rules.version, rules.rules.len(), rules.any_enabled()), (0, 2, false), "the defaults, off");
    for r in &mut rules.rules {
        r.enabled = true;
    }
    assert_eq!(
        (rules.rules[0].kind, rules.rules[0].offset_minutes, rules.rules[0].resend),
        (RuleKind::Before, 7 * 24 * 60, Resend::UntilVisited)
    );
    let rules = repo.put(&staff, 0, &rules.rules, "269-555-0100").await.unwrap();
    assert_eq!(repo.put(&staff, 0, &rules.rules, "").await.unwrap_err().code(), "settings_changed");

    let store = SyncStore { table: b.table.as_ref(), clock: clock.as_ref() };
    let email = |id: &str| format!("{id}-{practice}@example.com");
    let eligible = |id: &str, extra: Value| {
        let mut p = patient(
            id,
            json!({"address": {"line1": "1 Main St", "city": "Lakeside", "state": "MI", "postalCode": "49116"},
            "phones": [{"kind": "mobile", "number": "269-555-0100"}], "email": email(id)}),
        );
        p.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        p["lastModified"] = json!("2026-01-01T00:00:00Z");
        p
    };
    let at = |t: i64| {
        let offset = time::UtcOffset::from_hms(-5, 0, 0).unwrap();
        time::OffsetDateTime::from_unix_timestamp(t)
            .unwrap()
            .to_offset(offset)
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap()
    };
    let appt = |patient: &str, start: i64, status: &str| json!({"patientId": patient, "providerId": "prov-1", "start": at(start), "lengthMinutes": 60, "status": status, "lastModified": "2026-01-01T00:00:00Z"});
    for (id, extra) in [("eve", json!({})), ("otto", json!({"optOuts": {"portalInvites": true}})), ("cid", json!({}))] {
        store.upsert(&practice, Patients, id, eligible(id, extra)).await.unwrap();
    }
    let mut nora = eligible("nora", json!({}));
    nora.as_object_mut().unwrap().remove("address");
    store.upsert(&practice, Patients, "nora", nora).await.unwrap();
    let week = 7 * 24 * 3600;
    for (id, who, start) in [
        ("a-eve", "eve", t0 + week - 60),
        ("a-otto", "otto", t0 + week - 60),
        ("a-nora", "nora", t0 + week - 60),
        ("a-later", "eve", t0 + week + 3 * 86400),
    ] {
        store.upsert(&practice, Appointments, id, appt(who, start, "scheduled")).await.unwrap();
    }
    let mails_to = |id: &'static str| {
        let (b, to) = (b, email(id));
        async move { b.probe.mails().await.into_iter().filter(|raw| raw.contains(&format!("To: {to}"))).collect::<Vec<_>>() }
    };
    let runner = |mailer: &'static str| InviteRun {
        table: b.table.as_ref(),
        clock: clock.as_ref(),
        mailer: if mailer == "real" { b.mailer.as_ref() } else { &Crashing },
        site_url: "https://portal.example.com",
    };

    // 7 days out: one invite for Eve, with a login; Otto and Nora skipped with the reason.
    let (r1, r2) = (runner("real"), runner("real"));
    let (first, second) = tokio::join!(r1.run(&practice), r2.run(&practice));
    let (first, second) = (first.unwrap(), second.unwrap());
    assert_eq!((first.sent + second.sent, first.skipped + second.skipped), (1, 2), "two overlapping runs, one invite");
    assert_eq!(runner("real").run(&practice).await.unwrap().sent, 0, "and never again");
    let mut eve = vec![];
    for _ in 0..20 {
        eve = mails_to("eve").await;
        if !eve.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(eve.len(), 1);
    let text = portal_core::mime::text_part(&eve[0]).unwrap();
    let login = portal_core::identity::patient_access::PatientAccess { table: b.table.as_ref(), clock: clock.as_ref() };
    let username = login.get(&practice, "eve").await.unwrap().unwrap().0.username;
    assert!(
        text.contains("Dear eve") && text.contains(&username) && text.contains(&format!("https://portal.example.com/p/{practice}/")),
        "{text}"
    );
    assert!(text.contains("269-555-0100") && !text.contains('['), "every tag filled: {text}");
    let (entries, _) = log(b.table.as_ref(), &practice, 10, None).await.unwrap();
    let reason = |appt: &str| entries.iter().find(|e| e.appointment_id == appt).map(|e| e.state.clone());
    assert!(matches!(reason("a-eve"), Some(InviteState::Sent { .. })));
    assert_eq!(reason("a-otto"), Some(InviteState::Skipped { reason: "opted out of portal invites".into() }));
    assert!(matches!(reason("a-nora"), Some(InviteState::Skipped { reason }) if reason.contains("address")));
    assert_eq!(reason("a-later"), None, "not due yet");

    // A run dies after claiming Cid's invite: nothing is sent; a run within 5 minutes leaves the
    // claim alone; after that, exactly one takes it over and sends once.
    store.upsert(&practice, Appointments, "a-cid", appt("cid", t0 + 3600, "scheduled")).await.unwrap();
    let practice_ref = practice.clone();
    let crashed = {
        let (table, clock) = (b.table.clone(), clock.clone());
        tokio::spawn(async move {
            let run = InviteRun { table: table.as_ref(), clock: clock.as_ref(), mailer: &Crashing, site_url: "https://portal.example.com" };
            run.run(&practice_ref).await
        })
        .await
    };
    assert!(crashed.is_err(), "the run died");
    clock.advance(60);
    assert_eq!(runner("real").run(&practice).await.unwrap().sent, 0, "the claim is still fresh");
    clock.advance(portal_core::invites::run::CLAIM_TIMEOUT);
    let (one, two) = tokio::join!(r1.run(&practice), r2.run(&practice));
    assert_eq!(one.unwrap().sent + two.unwrap().sent, 1, "taken over once");
    assert_eq!(runner("real").run(&practice).await.unwrap().sent, 0);

    // After the visit: nothing while it is scheduled, nor before its time; once after completion.
    let start = clock.now() - 30 * 60;
    store.upsert(&practice, Appointments, "a-done", appt("otto", start, "scheduled")).await.unwrap();
    store.upsert(&practice, Appointments, "a-done2", appt("cid", start, "scheduled")).await.unwrap();
    clock.advance(2 * 3600);
    assert_eq!(runner("real").run(&practice).await.unwrap().sent, 0, "not completed");
    let mut done = appt("cid", start, "complete");
    done["lastModified"] = json!("2026-01-02T00:00:00Z");
    store.upsert(&practice, Appointments, "a-done2", done).await.unwrap();
    let report = runner("real").run(&practice).await.unwrap();
    assert_eq!(report.sent, 1, "{report:?}");
    assert_eq!(runner("real").run(&practice).await.unwrap().sent, 0);
}

/// A reset link with a controlled clock: it works once, and not after 30 minutes.
async fn recovery_holds(b: &Backend) {
    use portal_core::identity::recovery::{Recovery, RESET_SECONDS};
    let clock = Arc::new(ManualClock::new(now()));
    let practice = practice_sending_mail(b, clock.as_ref()).await;
    let email = format!("gale-{practice}@example.com");
    synced(b, &practice, portal_core::sync::Entity::Patients, "g", patient("Gale", json!({"email": email}))).await;
    let prov = portal_core::identity::provision::Provisioner { table: b.table.as_ref(), clock: clock.as_ref() };
    prov.create_patient_login(&practice, "g", "gale", "Gale Test", false).await.unwrap();
    let recovery = Recovery {
        table: b.table.as_ref(),
        clock: clock.as_ref(),
        mailer: b.mailer.as_ref(),
        events: b.events.as_ref(),
        site_url: "https://portal.example.com",
    };
    let token = || async {
        for _ in 0..20 {
            let mails: Vec<String> = b.probe.mails().await.into_iter().filter(|raw| raw.contains(&format!("To: {email}"))).collect();
            if let Some(text) = mails.last().and_then(|m| portal_core::mime::text_part(m)) {
                let at = text.find("#reset=").unwrap() + 7;
                return (mails.len(), text[at..].split_whitespace().next().unwrap().to_string());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("no reset mail");
    };
    recovery.request(&practice, "GALE", None).await.unwrap();
    let (_, first) = token().await;
    clock.advance(RESET_SECONDS);
    assert_eq!(recovery.reset(&first, "a lighthouse at low tide", None).await.unwrap_err().code(), "reset_link_invalid", "30 minutes on");
    recovery.request(&practice, &email.to_uppercase(), None).await.unwrap();
    let mut second = first.clone();
    for _ in 0..20 {
        let (count, t) = token().await;
        if count >= 2 {
            second = t;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_ne!(first, second, "a new link");
    clock.advance(RESET_SECONDS - 1);
    recovery.reset(&second, "a lighthouse at low tide", None).await.unwrap();
    assert_eq!(recovery.reset(&second, "another long passphrase", None).await.unwrap_err().code(), "reset_link_invalid", "once");
    let auth = portal_core::identity::auth::AuthService { table: b.table.as_ref(), clock: clock.as_ref(), events: b.events.as_ref() };
    let input = portal_core::identity::auth::LoginInput {
        practice: &practice,
        username: "gale",
        password: "a lighthouse at low tide",
        totp: None,
        recovery_code: None,
        device: None,
    };
    let answer = auth.login(portal_core::identity::session::PrincipalKind::Patient, input, &Default::default()).await.unwrap();
    assert!(matches!(answer, portal_core::identity::auth::LoginResult::Session(_)));
}

/// Starting an import on AWS is one Step Functions execution of the code-import state machine
/// (the real definition), named by the import, so the same import never runs twice.
#[tokio::test]
#[ignore = "needs the moto server: tests/run runs these (PORTAL_TEST_AWS_ENDPOINT=http://HOST:PORT cargo test -- --ignored)"]
async fn step_functions_start_one_execution_per_import() {
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
    workflows.start_import("lakeside", &import_id).await.unwrap();
    let listed = sfn.list_executions().state_machine_arn(machine.state_machine_arn()).send().await.unwrap();
    assert_eq!(listed.executions().len(), 1);
    let execution = sfn.describe_execution().execution_arn(listed.executions()[0].execution_arn()).send().await.unwrap();
    assert_eq!(execution.name(), Some(import_id.as_str()));
    let input: Value = serde_json::from_str(execution.input().unwrap()).unwrap();
    assert_eq!(input, json!({ "practiceId": "lakeside", "importId": import_id }));
    // Step Functions answers a second start of the same name and input with the execution it
    // has (or ExecutionAlreadyExists): either way there is still one.
    let _ = workflows.start_import("lakeside", &import_id).await;
    let listed = sfn.list_executions().state_machine_arn(machine.state_machine_arn()).send().await.unwrap();
    assert_eq!(listed.executions().len(), 1, "one execution per import");
}

/// SES itself refusing: a practice whose notification sender is not a verified identity gets
/// `failed` with SES's reason, the message readable meanwhile; once the sender is verified the
/// retry delivers it, once. (Only SES refuses senders, so this runs on moto alone.)
#[tokio::test]
#[ignore = "needs the moto server: tests/run runs these (PORTAL_TEST_AWS_ENDPOINT=http://HOST:PORT cargo test -- --ignored)"]
async fn ses_refuses_an_unverified_sender_until_it_is_verified() {
    use portal_core::audit::{Actor, ActorKind};
    use portal_core::webmail::mailbox::{Mailbox, Notification};
    use portal_core::webmail::notify::Notifier;
    let b = aws().await;
    let practice = format!("p{}", uid());
    let sender = format!("portal@unverified-{}.example.org", uid());
    let mut settings = portal_core::practice::settings::PracticeSettings::new("Smile Dental", portal_core::Feature::ALL.to_vec());
    settings.webmail.notification_sender = sender.clone();
    settings.webmail.default_notify_address = "office@example.com".into();
    portal_core::practice::settings::SettingsRepo { table: b.table.as_ref(), clock: &SystemClock }
        .create(&practice, &settings)
        .await
        .unwrap();
    let email = format!("gale-{practice}@example.com");
    synced(&b, &practice, portal_core::sync::Entity::Patients, "g", patient("Gale", json!({"email": email}))).await;
    let staff = Actor::new(&practice, ActorKind::Staff, "staff-1", None);
    let mail = Mailbox { table: b.table.as_ref(), clock: &SystemClock, events: b.events.as_ref(), blobs: b.blobs.as_ref() };
    let sent = mail.office_compose(&staff, "frontdesk", "g", None, "Results", "Your results are in.", &[]).await.unwrap();
    let notifier =
        Notifier { table: b.table.as_ref(), clock: &SystemClock, mailer: b.mailer.as_ref(), portal_base_url: "https://portal.example.com" };
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

async fn blob_ranges_and_listing(b: &Backend) {
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

/// The demo practices' releases, as a practice would put them in its release location.
async fn put_release(b: &Backend, practice: &str, folder: &str, as_name: &str) {
    let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../functions/local/demo-releases").join(folder);
    let mut stack = vec![src.clone()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(dir).unwrap().flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else {
                let rel = path.strip_prefix(&src).unwrap().to_str().unwrap().to_string();
                let key = format!("{}{as_name}/{rel}", portal_core::code_systems::releases::location(practice));
                b.blobs.put(&key, std::fs::read(&path).unwrap().into(), "text/plain").await.unwrap();
            }
        }
    }
}

/// Runs the workflow the way a test wants: nothing happens until the test runs the steps.
#[derive(Default)]
struct StepByStep {
    started: Mutex<Vec<String>>,
    refuse: bool,
}

#[async_trait]
impl Workflows for StepByStep {
    async fn start_import(&self, _practice: &str, import_id: &str) -> Result<(), PortError> {
        if self.refuse {
            return Err(PortError::Backend("throttled".into()));
        }
        self.started.lock().unwrap().push(import_id.to_string());
        Ok(())
    }
}

/// A table whose next batch write stops halfway with an error, once (a batch dying mid-write).
struct FailsOnce {
    inner: Arc<dyn Table>,
    armed: std::sync::atomic::AtomicBool,
}

#[async_trait]
impl Table for FailsOnce {
    async fn get(&self, pk: &str, sk: &str) -> Result<Option<Item>, TableError> {
        self.inner.get(pk, sk).await
    }
    async fn put(&self, item: Item, cond: Cond) -> Result<(), TableError> {
        self.inner.put(item, cond).await
    }
    async fn delete(&self, pk: &str, sk: &str, cond: Cond) -> Result<(), TableError> {
        self.inner.delete(pk, sk, cond).await
    }
    async fn query(&self, q: Query) -> Result<Page, TableError> {
        self.inner.query(q).await
    }
    async fn transact(&self, ops: Vec<TxOp>) -> Result<(), TableError> {
        self.inner.transact(ops).await
    }
    async fn add(&self, pk: &str, sk: &str, by: i64, expires_at: Option<i64>) -> Result<i64, TableError> {
        self.inner.add(pk, sk, by, expires_at).await
    }
    async fn batch_put(&self, mut items: Vec<Item>) -> Result<(), TableError> {
        if self.armed.swap(false, std::sync::atomic::Ordering::SeqCst) {
            items.truncate(items.len() / 2);
            self.inner.batch_put(items).await?;
            return Err(TableError::Backend("ProvisionedThroughputExceededException".into()));
        }
        self.inner.batch_put(items).await
    }
    async fn batch_get(&self, keys: Vec<(String, String)>) -> Result<Vec<Item>, TableError> {
        self.inner.batch_get(keys).await
    }
    async fn batch_delete(&self, keys: Vec<(String, String)>) -> Result<(), TableError> {
        self.inner.batch_delete(keys).await
    }
}

async fn all_items(table: &dyn Table, pk: &str) -> Vec<Item> {
    let (mut out, mut cursor) = (vec![], None);
    loop {
        let page = table.query(Query::new(pk).limit(1000).after(cursor)).await.unwrap();
        out.extend(page.items);
        match page.cursor {
            Some(c) => cursor = Some(c),
            None => return out,
        }
    }
}

/// Code-system imports, step by step as the state machine runs them: many small batches, one of
/// which dies halfway and is retried; line numbers across batches; the version switch; cancel and
/// failure leave the active version; a re-import changes nothing; bad releases are refused.
async fn code_system_imports_hold(b: &Backend) {
    use portal_core::code_systems::import::{ImportState, Importer, Leftover};
    use portal_core::code_systems::terms::Terms;
    use portal_core::code_systems::System;
    use portal_core::keys;
    let clock = SystemClock;
    let practice = format!("p{}", uid());
    let staff = portal_core::audit::Actor::new(&practice, portal_core::audit::ActorKind::Staff, "staff-1", None);
    let snomed = "SnomedCT_InternationalRF2_PRODUCTION_20250101T120000Z";
    put_release(b, &practice, snomed, snomed).await;
    let flaky = Arc::new(FailsOnce { inner: b.table.clone(), armed: false.into() });
    // Batches of ~300 bytes: the three SNOMED files make about 25.
    let importer = Importer::new(flaky.as_ref(), b.blobs.as_ref(), &clock).with_batch_bytes(300);
    let workflows = StepByStep::default();
    // Every step in the workflow's order: split, the batches read first, the rest, finish, clean.
    let run_all = |id: String| {
        let importer = &importer;
        let practice = &practice;
        async move {
            let split = importer.split(practice, &id).await.unwrap();
            for n in split.first.iter().chain(&split.rest) {
                importer.run_batch(practice, &id, *n).await.unwrap();
            }
            let state = importer.finish(practice, &id).await.unwrap().state;
            while importer.clean(practice, &id).await.unwrap() {}
            state
        }
    };

    let job = importer.start(&staff, "Pat Admin", System::SnomedCt, snomed, &workflows).await.unwrap();
    assert_eq!(*workflows.started.lock().unwrap(), std::slice::from_ref(&job.id));
    assert_eq!(importer.start(&staff, "x", System::SnomedCt, snomed, &workflows).await.unwrap_err().code(), "import_running");
    let split = importer.split(&practice, &job.id).await.unwrap();
    assert!(split.first.len() > 3 && split.rest.len() > 8, "{split:?}");
    assert_eq!(importer.split(&practice, &job.id).await.unwrap(), split, "a split run twice answers the same");
    let status = importer.status(&practice, &job.id).await.unwrap();
    assert_eq!((status.state, status.rows_total, status.batches_done), (ImportState::Running, Some(15 + 33 + 32), 0));
    // A description batch waits for the language refset's batches: the workflow tries it again.
    let descriptions = *split.rest.last().unwrap();
    assert!(importer.run_batch(&practice, &job.id, descriptions).await.is_err(), "the refset is not read yet");
    for n in split.first.iter().chain(&split.rest) {
        if *n == split.rest[3] {
            flaky.armed.store(true, std::sync::atomic::Ordering::SeqCst);
            assert!(importer.run_batch(&practice, &job.id, *n).await.is_err(), "the batch dies halfway");
        }
        importer.run_batch(&practice, &job.id, *n).await.unwrap();
    }
    importer.run_batch(&practice, &job.id, split.rest[3]).await.unwrap();
    let status = importer.status(&practice, &job.id).await.unwrap();
    assert_eq!((status.rows_done, status.batches_done), (15 + 33 + 32, split.first.len() + split.rest.len()), "each row counted once");
    assert_eq!(importer.finish(&practice, &job.id).await.unwrap().state, ImportState::Done);
    let lookups = keys::preferred(&practice, &job.id);
    assert_eq!(all_items(b.table.as_ref(), &lookups).await.len(), 30, "the US-preferred descriptions, while importing");
    assert!(!importer.clean(&practice, &job.id).await.unwrap(), "nothing more");
    assert!(all_items(b.table.as_ref(), &lookups).await.is_empty(), "cleaned once the version is in use");
    let terms_pk = keys::terms(&practice, System::SnomedCt.name(), &job.id);
    let stored = all_items(b.table.as_ref(), &terms_pk).await;
    // 15 active concepts, 16 synonyms, 15 fully specified names; no inactive name, no definition.
    assert_eq!(stored.len(), 46);
    let terms = Terms { table: b.table.as_ref() };
    let names = terms
        .names(&practice, &[(System::SnomedCt, "38341003".into()), (System::SnomedCt, "80967001".into()), (System::Cvx, "140".into())])
        .await
        .unwrap();
    assert_eq!(
        names.get(System::SnomedCt, "38341003"),
        Some("Hypertensive disorder"),
        "the US preferred synonym, not the first synonym (HBP - High blood pressure) or the FSN"
    );
    assert_eq!(names.get(System::SnomedCt, "80967001"), Some("Dental caries"));
    assert_eq!(names.missing, [System::Cvx]);
    let systems = importer.systems(&practice).await.unwrap();
    let active = systems[0].active.clone().unwrap();
    assert_eq!(
        (systems[0].system, active.version.as_str(), active.rows, active.imported_by.as_str()),
        (System::SnomedCt, snomed, 46, "Pat Admin")
    );
    assert_eq!(systems.iter().map(|s| s.system).collect::<Vec<_>>(), System::IMPORTABLE);

    // The same release again: the same names in a new version; the one it replaced is deleted.
    let again = importer.start(&staff, "Pat Admin", System::SnomedCt, snomed, &workflows).await.unwrap();
    assert_eq!(run_all(again.id.clone()).await, ImportState::Done);
    let sorted = |items: Vec<Item>| items.into_iter().map(|i| (i.sk, i.data)).collect::<Vec<_>>();
    assert_eq!(sorted(all_items(b.table.as_ref(), &keys::terms(&practice, System::SnomedCt.name(), &again.id)).await), sorted(stored));
    assert!(all_items(b.table.as_ref(), &terms_pk).await.is_empty(), "the replaced version is gone");
    assert_eq!(terms.active(&practice).await.unwrap()[&System::SnomedCt], again.id);
    assert!(importer.systems(&practice).await.unwrap()[0].leftovers.is_empty());

    // A newer release, cancelled halfway: the first stays active; what it wrote is deleted once
    // its workflow has finished.
    let newer = "SnomedCT_InternationalRF2_PRODUCTION_20250701T120000Z";
    put_release(b, &practice, snomed, newer).await;
    let job = importer.start(&staff, "Pat Admin", System::SnomedCt, newer, &workflows).await.unwrap();
    let split = importer.split(&practice, &job.id).await.unwrap();
    importer.run_batch(&practice, &job.id, split.first[0]).await.unwrap();
    assert_eq!(importer.cancel(&practice, &job.id).await.unwrap().state, ImportState::Cancelled);
    importer.run_batch(&practice, &job.id, split.first[1]).await.unwrap();
    assert_eq!(importer.cancel(&practice, &job.id).await.unwrap_err().code(), "import_finished");
    let half = keys::preferred(&practice, &job.id);
    assert!(!all_items(b.table.as_ref(), &half).await.is_empty(), "half an import, never read");
    assert_eq!(importer.finish(&practice, &job.id).await.unwrap().state, ImportState::Cancelled, "finish after cancel switches nothing");
    assert_eq!(importer.systems(&practice).await.unwrap()[0].leftovers, [Leftover::Version(job.id.clone())]);
    while importer.clean(&practice, &job.id).await.unwrap() {}
    assert!(all_items(b.table.as_ref(), &half).await.is_empty());
    assert_eq!(terms.active(&practice).await.unwrap()[&System::SnomedCt], again.id);
    let systems = importer.systems(&practice).await.unwrap();
    assert_eq!((systems[0].running.as_ref(), systems[0].last.as_ref().map(|l| l.state)), (None, Some(ImportState::Cancelled)));

    // A concept the release marks inactive has no name from it (its descriptions may be active).
    let retired = "SnomedCT_retired";
    put_release(b, &practice, snomed, retired).await;
    let concepts = format!(
        "{}{retired}/Snapshot/Terminology/sct2_Concept_Snapshot_INT_20250101.txt",
        portal_core::code_systems::releases::location(&practice)
    );
    let text = String::from_utf8(b.blobs.get(&concepts).await.unwrap().unwrap().bytes.to_vec()).unwrap();
    b.blobs.put(&concepts, text.replace("66383009\t20020131\t1", "66383009\t20020131\t0").into_bytes().into(), "text/plain").await.unwrap();
    let job = importer.start(&staff, "Pat Admin", System::SnomedCt, retired, &workflows).await.unwrap();
    assert_eq!(run_all(job.id.clone()).await, ImportState::Done);
    assert_eq!(terms.name(&practice, System::SnomedCt, &job.id, "66383009").await.unwrap(), None, "inactive: no name");
    assert_eq!(terms.name(&practice, System::SnomedCt, &job.id, "80967001").await.unwrap().as_deref(), Some("Dental caries"));
    let again = importer.start(&staff, "Pat Admin", System::SnomedCt, snomed, &workflows).await.unwrap();
    run_all(again.id.clone()).await;
    assert_eq!(terms.name(&practice, System::SnomedCt, &again.id, "66383009").await.unwrap().as_deref(), Some("Gingivitis"));

    // A malformed line deep in the file: reported by file and line; the version in use stays.
    let broken = "SnomedCT_broken";
    put_release(b, &practice, snomed, broken).await;
    let key = |f: &str| format!("{}{broken}/Snapshot/Terminology/{f}", portal_core::code_systems::releases::location(&practice));
    let descriptions = key("sct2_Description_Snapshot-en_INT_20250101.txt");
    let text = String::from_utf8(b.blobs.get(&descriptions).await.unwrap().unwrap().bytes.to_vec()).unwrap();
    let mut lines: Vec<String> = text.split("\r\n").map(str::to_string).collect();
    lines[24] = lines[24].replace("\t1\t", "\tyes\t");
    b.blobs.put(&descriptions, lines.join("\r\n").into_bytes().into(), "text/plain").await.unwrap();
    let job = importer.start(&staff, "Pat Admin", System::SnomedCt, broken, &workflows).await.unwrap();
    assert_eq!(run_all(job.id.clone()).await, ImportState::Failed);
    let status = importer.status(&practice, &job.id).await.unwrap();
    let error = status.error.unwrap();
    assert_eq!(
        (error.file.as_deref(), error.line, error.reason.as_str()),
        (Some("Snapshot/Terminology/sct2_Description_Snapshot-en_INT_20250101.txt"), Some(25), "active is 'yes', not 0 or 1")
    );
    assert_eq!(terms.active(&practice).await.unwrap()[&System::SnomedCt], again.id);
    assert!(
        all_items(b.table.as_ref(), &keys::terms(&practice, System::SnomedCt.name(), &job.id)).await.is_empty(),
        "the failed version is gone"
    );

    // Refused before anything starts: unknown, wrong system, a file not its format, a busy workflow.
    let refused = |e: portal_core::CoreError| e.code();
    assert_eq!(refused(importer.start(&staff, "x", System::SnomedCt, "nope", &workflows).await.unwrap_err()), "release_unknown");
    assert_eq!(refused(importer.start(&staff, "x", System::RxNorm, snomed, &workflows).await.unwrap_err()), "release_system_mismatch");
    let fake = "SnomedCT_fake";
    put_release(b, &practice, snomed, fake).await;
    let concepts = format!(
        "{}{fake}/Snapshot/Terminology/sct2_Concept_Snapshot_INT_20250101.txt",
        portal_core::code_systems::releases::location(&practice)
    );
    b.blobs.put(&concepts, Bytes::from_static(b"\x89PNG\r\n\x1a\n not a concept file"), "text/plain").await.unwrap();
    let e = importer.start(&staff, "x", System::SnomedCt, fake, &workflows).await.unwrap_err();
    assert_eq!(refused(e), "release_format_wrong");
    let busy = StepByStep { refuse: true, ..Default::default() };
    assert!(importer.start(&staff, "x", System::SnomedCt, snomed, &busy).await.is_err());
    let systems = importer.systems(&practice).await.unwrap();
    let last = systems[0].last.clone().unwrap();
    assert_eq!((systems[0].running.as_ref(), last.state), (None, ImportState::Failed), "not started: recorded as failed, system free");

    // RxNorm by term-type priority; CVX in UTF-16; LOINC's quoted table; a practice's CDT list.
    for release in ["RxNorm_full_11032025", "cvx-20251001", "Loinc_2.80", "cdt-2026"] {
        put_release(b, &practice, release, release).await;
    }
    for (system, release) in
        [(System::RxNorm, "RxNorm_full_11032025"), (System::Cvx, "cvx-20251001"), (System::Loinc, "Loinc_2.80"), (System::Cdt, "cdt-2026")]
    {
        let job = importer.start(&staff, "Pat Admin", system, release, &workflows).await.unwrap();
        assert_eq!(run_all(job.id.clone()).await, ImportState::Done, "{release}");
    }
    let wanted: Vec<(System, String)> = [
        (System::RxNorm, "197361"),
        (System::RxNorm, "310965"),
        (System::Cvx, "140"),
        (System::Cvx, "08"),
        (System::Loinc, "4548-4"),
        (System::Loinc, "8480-6"),
        (System::Cdt, "D2391"),
    ]
    .into_iter()
    .map(|(s, c)| (s, c.to_string()))
    .collect();
    let names = terms.names(&practice, &wanted).await.unwrap();
    assert_eq!(names.get(System::RxNorm, "197361"), Some("amlodipine 5 MG Oral Tablet"), "SCD over TMSY and SY, not MTHSPL's");
    assert_eq!(names.get(System::RxNorm, "310965"), Some("ibuprofen 200 MG Oral Tablet"), "not the suppressed name");
    assert_eq!(names.get(System::Cvx, "140"), Some("Influenza, seasonal, injectable, preservative free"));
    assert_eq!(names.get(System::Cvx, "08"), Some("Hep B, adolescent or pediatric"));
    assert_eq!(
        names.get(System::Loinc, "4548-4"),
        Some("Hemoglobin A1c/Hemoglobin.total in Blood"),
        "the record with a line break in a field"
    );
    assert_eq!(names.get(System::Loinc, "8480-6"), Some("Systolic blood pressure"));
    assert_eq!(names.get(System::Cdt, "D2391"), Some("Filling, tooth-colored, one surface (back tooth)"), "a quoted field");
    assert!(names.missing.is_empty());
}

/// The audit log's seals on either backend: ended days are sealed once (an empty day too), the
/// sealed log verifies as intact, and an entry altered, deleted or added after its day was sealed,
/// or a seal deleted, is named by the check; put back, the log is intact again.
async fn audit_seals_name_what_changed(b: &Backend) {
    use portal_core::audit::seal::{AuditSeals, TamperKind};
    use portal_core::audit::{Actor, ActorKind, AuditAction, AuditLog, Outcome};
    let practice = format!("p{}", uid());
    let settings = portal_core::practice::settings::PracticeSettings::new("Seal Dental", vec![]);
    portal_core::practice::settings::SettingsRepo { table: b.table.as_ref(), clock: &SystemClock }
        .create(&practice, &settings)
        .await
        .unwrap();
    // Noon today (UTC): three days back has five entries, two days back three, yesterday none.
    let noon = now().div_euclid(86_400) * 86_400 + 43_200;
    let clock = ManualClock::new(noon - 3 * 86_400);
    let log = AuditLog { table: b.table.as_ref(), clock: &clock };
    let actor = Actor::new(&practice, ActorKind::Patient, "g", Some("192.0.2.1"));
    for (days_ago, n) in [(3, 5), (2, 3), (0, 1)] {
        clock.set(noon - days_ago * 86_400);
        for i in 0..n {
            clock.advance(i);
            log.record(&actor, AuditAction::AccountLedgerRead, "g", Outcome::Success, json!({ "n": i })).await.unwrap();
        }
    }
    let seals = AuditSeals { table: b.table.as_ref(), clock: &clock };
    let sealed = seals.seal(&practice).await.unwrap();
    assert_eq!(sealed.iter().map(|s| s.entries).collect::<Vec<_>>(), [5, 3, 0], "three ended days, today not yet");
    assert!(seals.seal(&practice).await.unwrap().is_empty(), "a day is sealed once");
    let intact = seals.verify(&practice, None).await.unwrap();
    assert_eq!((intact.problem, intact.days, intact.entries), (None, 3, 8));
    assert_eq!(intact.intact_through.as_deref(), Some(sealed[2].day.as_str()));
    assert_eq!(intact.head.as_deref(), Some(sealed[2].head.as_str()));

    let entries = query_all(b.table.as_ref(), Query::new(portal_core::keys::audit(&practice))).await.unwrap();
    let problem = || async { seals.verify(&practice, None).await.unwrap().problem.expect("a change is found") };
    // Altered: a reason written into a sealed entry two days back.
    let original = entries[6].clone();
    let mut altered = original.clone();
    Arc::make_mut(&mut altered.data)["outcome"] = json!("denied");
    b.table.put(altered, Cond::None).await.unwrap();
    let found = problem().await;
    assert_eq!(
        (found.kind, found.day.as_str(), found.entry.as_deref()),
        (TamperKind::Altered, sealed[1].day.as_str(), Some(original.sk.as_str()))
    );
    assert_eq!(found.action.as_deref(), Some("account.ledger.read"));
    b.table.put(original.clone(), Cond::None).await.unwrap();
    assert_eq!(seals.verify(&practice, None).await.unwrap().problem, None, "put back, intact again");
    // Missing: an entry three days back deleted.
    b.table.delete(&entries[2].pk, &entries[2].sk, Cond::None).await.unwrap();
    let found = problem().await;
    assert_eq!(
        (found.kind, found.day.as_str(), found.entry.as_deref()),
        (TamperKind::Missing, sealed[0].day.as_str(), Some(entries[2].sk.as_str()))
    );
    assert_eq!(found.at, Some(noon - 3 * 86_400 + 1 + 2), "named by when it was written");
    b.table.put(entries[2].clone(), Cond::None).await.unwrap();
    // Inserted: an entry slipped into yesterday, which was sealed empty.
    clock.set(noon - 86_400);
    log.record(&actor, AuditAction::ProfileRead, "g", Outcome::Success, json!({})).await.unwrap();
    let found = problem().await;
    assert_eq!(
        (found.kind, found.day.as_str(), found.action.as_deref()),
        (TamperKind::Inserted, sealed[2].day.as_str(), Some("profile.read"))
    );
    let slipped = found.entry.unwrap();
    b.table.delete(&portal_core::keys::audit(&practice), &slipped, Cond::None).await.unwrap();
    // A seal deleted to hide a change: the chain names the day whose seal is gone.
    let seal_of = |day: &str| (portal_core::keys::audit_seals(&practice), day.to_string());
    let (pk, sk) = seal_of(&sealed[1].day);
    let seal = b.table.get(&pk, &sk).await.unwrap().unwrap();
    b.table.delete(&pk, &sk, Cond::None).await.unwrap();
    let found = problem().await;
    assert_eq!((found.kind, found.day.as_str()), (TamperKind::SealMissing, sealed[1].day.as_str()));
    // … or rewritten with another head: it no longer matches its own digests.
    let mut forged = seal.clone();
    Arc::make_mut(&mut forged.data)["head"] = json!("0".repeat(64));
    b.table.put(forged, Cond::None).await.unwrap();
    let found = problem().await;
    assert_eq!((found.kind, found.day.as_str()), (TamperKind::SealAltered, sealed[1].day.as_str()));
    b.table.put(seal, Cond::None).await.unwrap();
    assert_eq!(seals.verify(&practice, None).await.unwrap().problem, None);
}

/// A start whose transaction applied but whose answer was lost never started its workflow: the
/// import stays queued. A new start is refused while it could still begin, and once it has been
/// queued [`NEVER_STARTED_SECONDS`] the new start takes its place and the old one is failed.
async fn an_import_that_never_started_gives_way(b: &Backend) {
    use portal_core::code_systems::import::{ImportState, Importer, NEVER_STARTED_SECONDS};
    use portal_core::code_systems::System;
    let clock = ManualClock::new(now());
    let practice = format!("p{}", uid());
    let staff = portal_core::audit::Actor::new(&practice, portal_core::audit::ActorKind::Staff, "staff-1", None);
    let release = "Loinc_2.80";
    put_release(b, &practice, release, release).await;
    let importer = Importer::new(b.table.as_ref(), b.blobs.as_ref(), &clock);
    let workflows = StepByStep::default();
    let lost = importer.start(&staff, "Pat Admin", System::Loinc, release, &workflows).await.unwrap();
    clock.advance(NEVER_STARTED_SECONDS - 1);
    assert_eq!(importer.start(&staff, "Pat Admin", System::Loinc, release, &workflows).await.unwrap_err().code(), "import_running");
    clock.advance(1);
    let again = importer.start(&staff, "Pat Admin", System::Loinc, release, &workflows).await.unwrap();
    assert_ne!(again.id, lost.id);
    let old = importer.status(&practice, &lost.id).await.unwrap();
    assert_eq!(old.state, ImportState::Failed, "{old:?}");
    assert_eq!(importer.status(&practice, &again.id).await.unwrap().state, ImportState::Queued);
    // A running one (its split ran) is never taken over, however long it runs.
    importer.split(&practice, &again.id).await.unwrap();
    clock.advance(10 * NEVER_STARTED_SECONDS);
    assert_eq!(importer.start(&staff, "Pat Admin", System::Loinc, release, &workflows).await.unwrap_err().code(), "import_running");
}

macro_rules! conformance {
    ($($name:ident),* $(,)?) => {
        mod embedded {
            $(#[tokio::test] async fn $name() { super::$name(&super::embedded().await).await; })*
        }
        /// Ignored by a plain `cargo test`, so they show as not run rather than passing without
        /// moto; `tests/run` starts moto and runs them with `--ignored`.
        mod aws_on_moto {
            $(#[tokio::test]
            #[ignore = "needs the moto server: tests/run runs these (PORTAL_TEST_AWS_ENDPOINT=http://HOST:PORT cargo test -- --ignored)"]
            async fn $name() { super::$name(&super::aws().await).await; })*
        }
    };
}

conformance!(
    conditional_put,
    query_prefix_range_order_paging,
    gsi_query,
    transaction_all_or_nothing,
    batch_put_more_than_25,
    batch_get_and_delete_many,
    queries_follow_every_write,
    expired_ttl_items_are_gone,
    blobs_and_presigned_urls,
    mail_sent_and_read_back,
    event_published_and_received,
    secrets_open_only_under_their_context,
    sync_rules_hold,
    family_rule_holds,
    patient_records_read_back,
    reads_see_every_completed_write,
    patient_modules_hold,
    webmail_holds,
    counters_count_exactly,
    events_a_commit_could_not_publish_go_out_later,
    payments_are_settled_once,
    changes_and_their_audit_entries_are_one_write,
    concurrent_senders_never_conflict,
    admins_demoting_each_other_leave_one,
    roster_and_access_hold,
    invites_hold,
    recovery_holds,
    blob_ranges_and_listing,
    code_system_imports_hold,
    audit_seals_name_what_changed,
    an_import_that_never_started_gives_way,
);
