//! Port adapters on AWS: DynamoDB, S3, SES, EventBridge, KMS and Step Functions. A function's `main.rs` builds only the
//! clients it uses, all from one shared [`aws_config::SdkConfig`], and runs them on tokio's
//! current-thread runtime: Lambda hands a function one event at a time, so a multi-thread
//! runtime's workers would do nothing but cost their start (≈ 0.3 ms of a cold start here).

mod blobs;
mod events;
mod mailer;
mod secrets;
mod table;
mod workflows;

pub use blobs::S3Blobs;
pub use events::EventBridgeEvents;
pub use mailer::SesMailer;
pub use secrets::KmsSecretBox;
pub use table::DynamoTable;
pub use workflows::StepFunctionsWorkflows;

/// The SDK configuration every client of a function shares (built once per container).
/// Region, credentials and endpoint come from the environment (`AWS_REGION`, the Lambda role's
/// credentials, `AWS_ENDPOINT_URL` when pointing at an emulator).
///
/// On Lambda the environment holds all of it, so it is read directly: the SDK's default loader
/// first assembles every other place a setting could come from (profile files, SSO, web
/// identity, the instance metadata service), which took ≈ 0.4 ms of each cold start for
/// nothing. Without credentials in the environment (a developer's profile), the default loader
/// runs as usual.
///
/// Every client gets [`Timeouts::DEPLOYED`] but S3's and SES's.
///
/// The HTTPS client trusts only the roots AWS endpoints chain to (Amazon Trust Services, and the
/// Starfield root that cross-signs them), compiled in: the SDK's default client instead reads
/// every certificate of the platform store at start-up, which was most of our cold start
/// (`benches/cold-start.py`). It is also the narrower trust: these clients only talk to AWS.
pub async fn sdk_config() -> aws_config::SdkConfig {
    use aws_config::environment::EnvironmentVariableCredentialsProvider;
    use aws_sdk_dynamodb::config::{Region, SharedCredentialsProvider};
    let region = std::env::var("AWS_REGION").or_else(|_| std::env::var("AWS_DEFAULT_REGION"));
    let (Ok(region), true) = (region, std::env::var_os("AWS_ACCESS_KEY_ID").is_some()) else {
        return aws_config::defaults(aws_config::BehaviorVersion::latest())
            .http_client(https_client())
            .timeout_config(Timeouts::DEPLOYED.config())
            .load()
            .await;
    };
    let config = aws_config::SdkConfig::builder()
        .behavior_version(aws_config::BehaviorVersion::latest())
        .region(Region::new(region))
        .credentials_provider(SharedCredentialsProvider::new(EnvironmentVariableCredentialsProvider::new()))
        .http_client(https_client())
        .timeout_config(Timeouts::DEPLOYED.config());
    match std::env::var("AWS_ENDPOINT_URL") {
        Ok(url) => config.endpoint_url(url).build(),
        Err(_) => config.build(),
    }
}

/// How long one request to DynamoDB, EventBridge, KMS or Step Functions may go unanswered
/// before the SDK gives it up and tries again (its standard retry: three tries, backing off
/// between them), and how long all tries of one call may take before the caller hears it failed.
/// Without them a request on a connection that stalled waits for an answer that never comes,
/// until the function's own limit ends it with a bare gateway error. These services answer in
/// milliseconds, so an attempt unanswered for seconds is stalled, not slow; and the whole call
/// gives up before the functions' 10 s limit, as a 503 problem the page can explain.
///
/// A request tried again may have been applied by the try that timed out. A DynamoDB transaction
/// carries an idempotency token the SDK keeps across its tries (applied once); a single
/// conditional put then finds its own item, which a writer on a fresh key counts as written
/// (`portal_core::ports::put_fresh`); an event carries its id (events are at least once, the
/// outbox relay sends again too); a Step Functions start names its import (one execution); KMS
/// changes nothing. A counter moved alone (`Table::add`: a quota, a device's failed tries) is the one
/// write a second try can apply twice, off by one until its next change, as with any retry of an
/// answer lost on the network. S3 and SES keep the SDK's defaults: an S3 request carries documents and
/// images of megabytes, which a limit sized for milliseconds would cut (its streams have the
/// SDK's stall protection), and an SES send is not safe to repeat (the mail could go twice).
#[derive(Debug, Clone, Copy)]
pub struct Timeouts {
    pub attempt: std::time::Duration,
    pub operation: std::time::Duration,
}

impl Timeouts {
    pub const DEPLOYED: Timeouts = Timeouts { attempt: std::time::Duration::from_secs(3), operation: std::time::Duration::from_secs(9) };

    /// As the SDK takes them (`SdkConfig::to_builder().timeout_config(…)` puts other limits on
    /// every client of a configuration: the tests).
    pub fn config(self) -> aws_config::timeout::TimeoutConfig {
        aws_config::timeout::TimeoutConfig::builder().operation_attempt_timeout(self.attempt).operation_timeout(self.operation).build()
    }

    /// The S3 and SES clients' limits: none but the SDK's own connect timeout (see above).
    pub(crate) fn none() -> aws_config::timeout::TimeoutConfig {
        aws_config::timeout::TimeoutConfig::builder().disable_operation_attempt_timeout().disable_operation_timeout().build()
    }
}

/// A client built on its first call. Building one costs ≈ 0.2 ms of a cold start, and most
/// first requests use only the table: a function builds its other clients (S3, SES, EventBridge,
/// KMS, Step Functions) when a request needs them.
pub(crate) struct OnFirstUse<C> {
    config: aws_config::SdkConfig,
    build: fn(&aws_config::SdkConfig) -> C,
    client: std::sync::OnceLock<C>,
}

impl<C> OnFirstUse<C> {
    pub(crate) fn new(config: &aws_config::SdkConfig, build: fn(&aws_config::SdkConfig) -> C) -> Self {
        OnFirstUse { config: config.clone(), build, client: std::sync::OnceLock::new() }
    }

    pub(crate) fn get(&self) -> &C {
        self.client.get_or_init(|| (self.build)(&self.config))
    }
}

const AWS_ROOTS: [&[u8]; 5] = [
    include_bytes!("../certs/Amazon_Root_CA_1.pem"),
    include_bytes!("../certs/Amazon_Root_CA_2.pem"),
    include_bytes!("../certs/Amazon_Root_CA_3.pem"),
    include_bytes!("../certs/Amazon_Root_CA_4.pem"),
    include_bytes!("../certs/Starfield_Services_Root_Certificate_Authority_-_G2.pem"),
];

fn https_client() -> aws_sdk_dynamodb::config::SharedHttpClient {
    use aws_smithy_http_client::tls::{rustls_provider::CryptoMode, Provider, TlsContext, TrustStore};
    let roots = AWS_ROOTS.iter().fold(TrustStore::empty().with_native_roots(false), |t, pem| t.with_pem_certificate(*pem));
    let tls = TlsContext::builder().with_trust_store(roots).build().expect("the compiled-in AWS roots are valid");
    aws_smithy_http_client::Builder::new().tls_provider(Provider::Rustls(CryptoMode::AwsLc)).tls_context(tls).build_https()
}

/// A required setting from the environment, with a message that names it.
pub fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| panic!("environment variable {name} must be set (see infra/template.yaml)"))
}

#[cfg(test)]
mod tests {
    use base64::Engine;

    #[test]
    fn compiled_in_roots_are_certificates() {
        for pem in super::AWS_ROOTS {
            let text = std::str::from_utf8(pem).unwrap();
            let body: String = text.lines().filter(|l| !l.starts_with("-----")).collect();
            assert!(text.starts_with("-----BEGIN CERTIFICATE-----"));
            let der = base64::engine::general_purpose::STANDARD.decode(body).unwrap();
            assert_eq!(der[0], 0x30, "a DER SEQUENCE");
            assert!(der.len() > 400);
        }
        super::https_client();
    }

    /// The deployed limits are on the shared configuration, and off S3's and SES's clients.
    #[tokio::test]
    async fn every_client_but_s3_and_ses_gives_a_stalled_request_up() {
        std::env::set_var("AWS_REGION", "us-east-1");
        std::env::set_var("AWS_ACCESS_KEY_ID", "testing");
        let config = super::sdk_config().await;
        let limits = config.timeout_config().expect("limits");
        assert_eq!(limits.operation_attempt_timeout(), Some(super::Timeouts::DEPLOYED.attempt));
        assert_eq!(limits.operation_timeout(), Some(super::Timeouts::DEPLOYED.operation));
        let table = super::DynamoTable::new(&config, "t");
        assert_eq!(
            table.client().config().timeout_config().and_then(|t| t.operation_attempt_timeout()),
            Some(super::Timeouts::DEPLOYED.attempt)
        );
        let s3 = super::S3Blobs::new(&config, "b");
        let ses = super::SesMailer::new(&config, None);
        for t in [s3.client().config().timeout_config(), ses.client().config().timeout_config()] {
            let t = t.expect("limits");
            assert_eq!((t.operation_attempt_timeout(), t.operation_timeout()), (None, None));
        }
    }
}
