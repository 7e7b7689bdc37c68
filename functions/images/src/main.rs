use std::sync::Arc;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    portal_http::init_tracing();
    let config = portal_aws::sdk_config().await;
    let deps = portal_images::Deps {
        table: Arc::new(portal_aws::DynamoTable::new(&config, portal_aws::env("PORTAL_TABLE"))),
        clock: Arc::new(portal_core::ports::SystemClock),
        blobs: Arc::new(portal_aws::S3Blobs::new(&config, portal_aws::env("PORTAL_BUCKET"))),
    };
    lambda_http::run(portal_images::router(deps)).await
}
