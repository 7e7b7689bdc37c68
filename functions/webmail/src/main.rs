use std::sync::Arc;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    portal_http::init_tracing();
    let config = portal_aws::sdk_config().await;
    let deps = portal_webmail::Deps {
        table: Arc::new(portal_aws::DynamoTable::new(&config, portal_aws::env("PORTAL_TABLE"))),
        clock: Arc::new(portal_core::ports::SystemClock),
        events: Arc::new(portal_aws::EventBridgeEvents::new(&config, portal_aws::env("PORTAL_EVENT_BUS"))),
        blobs: Arc::new(portal_aws::S3Blobs::new(&config, portal_aws::env("PORTAL_BUCKET"))),
    };
    lambda_http::run(portal_webmail::router(deps)).await
}
