use lambda_runtime::{service_fn, LambdaEvent};
use std::sync::Arc;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    portal_http::init_tracing();
    let config = portal_aws::sdk_config().await;
    let deps = portal_payments_reconcile::Deps {
        table: Arc::new(portal_aws::DynamoTable::new(&config, portal_aws::env("PORTAL_TABLE"))),
        clock: Arc::new(portal_core::ports::SystemClock),
        events: Arc::new(portal_aws::EventBridgeEvents::new(&config, portal_aws::env("PORTAL_EVENT_BUS"))),
        secrets: Arc::new(portal_aws::KmsSecretBox::new(&config, portal_aws::env("PORTAL_KMS_KEY"))),
        processors: portal_core::ports::Processors { test: None, stripe: Some(Arc::new(portal_stripe::StripeProcessor::from_env())) },
    };
    let deps = &deps;
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<_>| async move { portal_payments_reconcile::handle(deps, event.payload).await },
    ))
    .await
}
