use std::sync::Arc;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    portal_http::init_tracing();
    let config = portal_aws::sdk_config().await;
    let deps = portal_appointments::Deps {
        table: Arc::new(portal_aws::DynamoTable::new(&config, portal_aws::env("PORTAL_TABLE"))),
        clock: Arc::new(portal_core::ports::SystemClock),
        events: Arc::new(portal_aws::EventBridgeEvents::new(&config, portal_aws::env("PORTAL_EVENT_BUS"))),
        providers: Arc::new(portal_core::patient::ProviderNames::new(60)),
    };
    lambda_http::run(portal_appointments::router(deps)).await
}
