use std::sync::Arc;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    portal_http::init_tracing();
    let config = portal_aws::sdk_config().await;
    let deps = portal_auth::Deps {
        table: Arc::new(portal_aws::DynamoTable::new(&config, portal_aws::env("PORTAL_TABLE"))),
        clock: Arc::new(portal_core::ports::SystemClock),
        events: Arc::new(portal_aws::EventBridgeEvents::new(&config, portal_aws::env("PORTAL_EVENT_BUS"))),
        mailer: Arc::new(portal_aws::SesMailer::new(&config, std::env::var("PORTAL_SES_CONFIGURATION_SET").ok())),
        site_url: std::env::var("PORTAL_BASE_URL").unwrap_or_default(),
    };
    lambda_http::run(portal_auth::router(deps)).await
}
