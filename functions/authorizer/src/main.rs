use lambda_runtime::{service_fn, LambdaEvent};
use portal_authorizer::{handle, Deps, SETTINGS_CACHE_SECONDS};
use std::sync::Arc;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    portal_http::init_tracing();
    let config = portal_aws::sdk_config().await;
    let deps = Deps {
        table: Arc::new(portal_aws::DynamoTable::new(&config, portal_aws::env("PORTAL_TABLE"))),
        clock: Arc::new(portal_core::ports::SystemClock),
        cache: portal_core::practice::settings::SettingsCache::new(SETTINGS_CACHE_SECONDS),
        secrets: Arc::new(portal_aws::KmsSecretBox::new(&config, portal_aws::env("PORTAL_KMS_KEY"))),
        secret_cache: Default::default(),
    };
    let deps = &deps;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<_>| async move { handle(deps, event.payload).await })).await
}
