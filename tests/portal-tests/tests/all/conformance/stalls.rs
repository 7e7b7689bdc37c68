//! On moto only: how the AWS adapters live with a service that stalls, through a
//! proxy that holds a request or drops its answer — an attempt is given up after its limit and
//! tried again, a call nothing answers fails within its limit as a backend problem, and an audit
//! entry whose answer was lost is recorded once; EventBridge has the same limits (every client
//! of `portal_aws::sdk_config` but S3's and SES's). `tests/run` runs these on their own, after the
//! rest of the moto suite: moto answers one request at a time, so beside other tests a request
//! that passes the proxy could wait its turn longer than the short limits used here.

use super::*;

/// What the stalling proxy does with a connection it stalls.
#[derive(Clone, Copy)]
enum Stall {
    /// Takes the request and never passes it on: lost on its way.
    Request,
    /// Passes the request on but drops moto's answer: applied, the answer lost.
    Answer,
}

/// A TCP proxy in front of moto that stalls its first `stalled` connections as `stall` says and
/// passes later ones through; answers its endpoint. A connection the client gives up is closed.
async fn stalling_proxy(stall: Stall, stalled: usize) -> String {
    use tokio::io::AsyncReadExt;
    let upstream = moto_endpoint().trim_start_matches("http://").trim_end_matches('/').to_string();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        for n in 1.. {
            let Ok((mut client, _)) = listener.accept().await else { return };
            let upstream = upstream.clone();
            tokio::spawn(async move {
                let drain = |mut from: tokio::net::tcp::OwnedReadHalf| async move {
                    let mut buf = vec![0u8; 64 * 1024];
                    while matches!(from.read(&mut buf).await, Ok(k) if k > 0) {}
                };
                if n <= stalled {
                    if let Stall::Request = stall {
                        return drain(client.into_split().0).await;
                    }
                }
                let Ok(mut server) = tokio::net::TcpStream::connect(&upstream).await else { return };
                if n <= stalled {
                    let (mut from_client, _keep_open) = client.into_split();
                    let (from_server, mut to_server) = server.into_split();
                    tokio::spawn(drain(from_server));
                    let _ = tokio::io::copy(&mut from_client, &mut to_server).await;
                } else {
                    let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                }
            });
        }
    });
    endpoint
}

/// Short limits, so that the stalls below take a second, not the deployed limits' nine.
const STALL_LIMITS: portal_aws::Timeouts =
    portal_aws::Timeouts { attempt: Duration::from_millis(300), operation: Duration::from_millis(2500) };

/// The call's answer, or a failed test if it has none in ten seconds (a stall nobody gives up).
async fn bounded<T>(call: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(10), call).await.expect("the call hung: nothing gave the stalled request up")
}

/// The moto configuration with the short limits, reaching moto through a stalling proxy.
async fn stalled_config(stall: Stall, stalled: usize) -> aws_config::SdkConfig {
    let config = sdk_config(&moto_endpoint()).await;
    config.to_builder().endpoint_url(stalling_proxy(stall, stalled).await).timeout_config(STALL_LIMITS.config()).build()
}

/// A table on moto, and the same table reached through a stalling proxy.
async fn table_behind(stall: Stall, stalled: usize) -> (portal_aws::DynamoTable, portal_aws::DynamoTable) {
    let config = sdk_config(&moto_endpoint()).await;
    let name = new_table(&config).await;
    (portal_aws::DynamoTable::new(&config, &name), portal_aws::DynamoTable::new(&stalled_config(stall, stalled).await, &name))
}

/// A DynamoDB request that goes unanswered is given up after the attempt's limit and tried
/// again: the read answers, a moment late, instead of waiting for the function's end.
#[tokio::test]
#[ignore = "needs the moto server: tests/run runs these (PORTAL_TEST_AWS_ENDPOINT=http://HOST:PORT cargo test -- --ignored)"]
async fn a_stalled_dynamodb_request_is_tried_again() {
    let (direct, stalled) = table_behind(Stall::Request, 1).await;
    direct.put(item("p", "a", 1), Cond::None).await.unwrap();
    let started = std::time::Instant::now();
    let got = bounded(stalled.get("p", "a")).await.unwrap().expect("read on the second try");
    assert_eq!(got.data["n"], 1);
    let took = started.elapsed();
    assert!(took >= STALL_LIMITS.attempt && took < STALL_LIMITS.operation, "{took:?}");
}

/// A DynamoDB that never answers fails the call within the operation's limit, as a backend
/// problem (503 for the caller), not a hang.
#[tokio::test]
#[ignore = "needs the moto server: tests/run runs these (PORTAL_TEST_AWS_ENDPOINT=http://HOST:PORT cargo test -- --ignored)"]
async fn a_dynamodb_that_never_answers_fails_in_time() {
    let (_, stalled) = table_behind(Stall::Request, usize::MAX).await;
    let started = std::time::Instant::now();
    let err = bounded(stalled.get("p", "a")).await.expect_err("nothing answers");
    let took = started.elapsed();
    assert!(took >= STALL_LIMITS.attempt * 2 && took < STALL_LIMITS.operation + Duration::from_secs(1), "{took:?}");
    assert!(matches!(err, TableError::Backend(_)), "{err:?}");
    assert_eq!(portal_core::CoreError::from(err).code(), portal_core::ProblemCode::BackendUnavailable);
}

/// An audit entry whose write was stored but whose answer was lost: the SDK's second try finds
/// the entry there, the read it records goes on, and the log holds the entry once.
#[tokio::test]
#[ignore = "needs the moto server: tests/run runs these (PORTAL_TEST_AWS_ENDPOINT=http://HOST:PORT cargo test -- --ignored)"]
async fn an_audit_entry_whose_answer_was_lost_is_recorded_once() {
    use portal_core::audit::{Actor, ActorKind, AuditAction, AuditLog};
    let (direct, stalled) = table_behind(Stall::Answer, 1).await;
    let practice = new_practice();
    let actor = Actor::new(&practice, ActorKind::Patient, "p-1", None);
    let log = AuditLog { db: Db { table: &stalled, clock: &SystemClock } };
    let started = std::time::Instant::now();
    bounded(log.phi_read(&actor, "p-1", AuditAction::AccountLedgerRead)).await.expect("recorded");
    assert!(started.elapsed() >= STALL_LIMITS.attempt, "the first try's answer was lost");
    let (entries, _) = AuditLog { db: Db { table: &direct, clock: &SystemClock } }.for_subject(&practice, "p-1", 10, None).await.unwrap();
    assert_eq!(entries.len(), 1, "{entries:?}");
}

/// The same limits on EventBridge: a publish whose first request was lost goes out on the
/// second (the outbox publishes inline, so a stall would otherwise hold the request that wrote).
#[tokio::test]
#[ignore = "needs the moto server: tests/run runs these (PORTAL_TEST_AWS_ENDPOINT=http://HOST:PORT cargo test -- --ignored)"]
async fn a_stalled_eventbridge_request_is_tried_again() {
    let config = sdk_config(&moto_endpoint()).await;
    ensure_moto_resources(&moto_endpoint(), &config).await;
    let events = portal_aws::EventBridgeEvents::new(&stalled_config(Stall::Request, 1).await, BUS);
    let event = DomainEvent { practice_id: "lakeside".into(), detail_type: "portal.test".into(), detail: json!({ "n": 1 }) };
    let started = std::time::Instant::now();
    bounded(events.publish(&[event])).await.expect("published on the second try");
    assert!(started.elapsed() >= STALL_LIMITS.attempt, "{:?}", started.elapsed());
}
