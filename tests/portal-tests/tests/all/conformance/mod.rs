//! The port conformance suite: the same checks against the embedded adapters and against the AWS
//! adapters talking to moto. What one backend does, the other must do too. This file builds the
//! two backends and runs every check on both (`conformance!`); the checks are by area: the ports
//! themselves (`ports`), synced data (`sync`), the patient modules and WebMail (`modules`), logins
//! and practices (`identity`), code-system imports (`imports`) and the audit seals (`audit`).

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

impl Backend {
    /// The backend's table on the system clock, for building a use case.
    fn db(&self) -> Db<'_> {
        self.db_with(&SystemClock)
    }
    /// The backend's table on a clock the test controls.
    fn db_with<'a>(&'a self, clock: &'a dyn Clock) -> Db<'a> {
        Db { table: self.table.as_ref(), clock }
    }
}

fn uid() -> String {
    portal_core::ids::new_id()[..10].to_string()
}

/// A practice id no other test uses.
fn new_practice() -> portal_core::ids::PracticeId {
    portal_core::ids::PracticeId::parse(&format!("p{}", uid())).unwrap()
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
    portal_aws::sdk_config().await.to_builder().timeout_config(MOTO_LIMITS.config()).build()
}

/// moto answers one request at a time, and some (a transaction copies whole tables) take
/// seconds: beside the other tests a request can wait its turn longer than the deployed limits
/// allow a stalled service, and a request given up there still holds moto up. Slow is not
/// stalled here; `stalls.rs` checks the limits themselves.
const MOTO_LIMITS: portal_aws::Timeouts = portal_aws::Timeouts { attempt: Duration::from_secs(120), operation: Duration::from_secs(300) };

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
    // Only the probe's own test events and password changes (the relay check's event; a few
    // elsewhere): the other tests publish hundreds (WebMail under load), and a queue they filled
    // would hide the one the probe looks for.
    let pattern = json!({"source": ["portal"], "detail-type": ["portal.test", "portal.patient.password_changed"]}).to_string();
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

mod audit;
mod identity;
mod imports;
mod modules;
mod ports;
mod stalls;
mod sync;
use audit::*;
use identity::*;
use imports::*;
use modules::*;
use ports::*;
use sync::*;

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
