use portal_core::practice::url_policy::UrlRules;
use std::sync::Arc;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    portal_http::init_tracing();
    let config = portal_aws::sdk_config().await;
    let deps = portal_admin::Deps::new(
        Arc::new(portal_aws::DynamoTable::new(&config, portal_aws::env("PORTAL_TABLE"))),
        Arc::new(portal_core::ports::SystemClock),
        Arc::new(portal_aws::KmsSecretBox::new(&config, portal_aws::env("PORTAL_KMS_KEY"))),
        UrlRules { local_mode: false },
    )
    .with_mail_domains(
        std::env::var("PORTAL_MAIL_DOMAINS")
            .unwrap_or_default()
            .split(',')
            .map(str::trim)
            .filter(|d| !d.is_empty())
            .map(str::to_string)
            .collect(),
    );
    lambda_http::run(portal_admin::router(deps)).await
}
