//! Port adapters on AWS: DynamoDB, S3, SES and EventBridge. A function's `main.rs` builds only the
//! clients it uses, all from one shared [`aws_config::SdkConfig`].

mod blobs;
mod events;
mod mailer;
mod table;

pub use blobs::S3Blobs;
pub use events::EventBridgeEvents;
pub use mailer::SesMailer;
pub use table::DynamoTable;

/// The SDK configuration every client of a function shares (loaded once per container).
/// Region, credentials and endpoint come from the environment as usual (`AWS_REGION`,
/// the Lambda role's credentials, `AWS_ENDPOINT_URL` when pointing at an emulator).
pub async fn sdk_config() -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .load()
        .await
}

/// A required setting from the environment, with a message that names it.
pub fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!("environment variable {name} must be set (see infra/template.yaml)")
    })
}
