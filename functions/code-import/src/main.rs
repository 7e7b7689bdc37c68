use lambda_runtime::{service_fn, LambdaEvent};
use std::sync::Arc;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    portal_http::init_tracing();
    let config = portal_aws::sdk_config().await;
    let deps = portal_code_import::Deps {
        table: Arc::new(portal_aws::DynamoTable::new(&config, portal_aws::env("PORTAL_TABLE"))),
        clock: Arc::new(portal_core::ports::SystemClock),
        blobs: Arc::new(portal_aws::S3Blobs::new(&config, portal_aws::env("PORTAL_BUCKET"))),
    };
    let deps = &deps;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<_>| async move { portal_code_import::handle(deps, event.payload).await })).await
}
