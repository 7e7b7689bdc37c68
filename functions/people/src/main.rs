use std::sync::Arc;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    portal_http::init_tracing();
    let config = portal_aws::sdk_config().await;
    let deps = portal_people::Deps {
        table: Arc::new(portal_aws::DynamoTable::new(&config, portal_aws::env("PORTAL_TABLE"))),
        clock: Arc::new(portal_core::ports::SystemClock),
        mailer: Arc::new(portal_aws::SesMailer::new(&config, std::env::var("PORTAL_SES_CONFIGURATION_SET").ok())),
        // Not set by the template (see PeopleFunction there): login addresses are then site paths.
        site_url: std::env::var("PORTAL_BASE_URL").unwrap_or_default(),
    };
    lambda_http::run(portal_people::router(deps)).await
}
