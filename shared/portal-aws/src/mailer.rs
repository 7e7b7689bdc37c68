//! Mail through SES `SendRawEmail` (the raw form carries attachments), in the practice's
//! configuration set (TLS required, see infra/template.yaml), tagged with what it is about (ids) so
//! bounces and complaints find their way back (`portal_core::mail_feedback`).

use async_trait::async_trait;
use aws_sdk_ses::primitives::Blob;
use aws_sdk_ses::types::{MessageTag, RawMessage};
use aws_sdk_ses::Client;
use portal_core::ports::{Mail, Mailer, PortError};

pub struct SesMailer {
    client: crate::OnFirstUse<Client>,
    configuration_set: Option<String>,
}

impl SesMailer {
    pub fn new(config: &aws_config::SdkConfig, configuration_set: Option<String>) -> Self {
        SesMailer {
            client: crate::OnFirstUse::new(config, |c| {
                Client::from_conf(aws_sdk_ses::config::Builder::from(c).timeout_config(crate::Timeouts::none()).build())
            }),
            configuration_set,
        }
    }

    pub fn client(&self) -> &Client {
        self.client.get()
    }
}

#[async_trait]
impl Mailer for SesMailer {
    #[tracing::instrument(level = "debug", name = "ses.SendRawEmail", skip_all)]
    async fn send(&self, mail: &Mail) -> Result<String, PortError> {
        let id = format!("{}@portal", portal_core::ids::new_id());
        let raw = portal_core::mime::render(mail, portal_core::ports::unix_now(), &id).map_err(PortError::Rejected)?;
        let msg = RawMessage::builder().data(Blob::new(raw)).build().map_err(|e| PortError::Backend(e.to_string()))?;
        // What the mail is about comes back with SES's bounce and complaint events.
        let tags = mail.about.tags().into_iter().map(|(name, value)| MessageTag::builder().name(name).value(value).build());
        let tags = tags.collect::<Result<Vec<_>, _>>().map_err(|e| PortError::Backend(e.to_string()))?;
        let res = self
            .client()
            .send_raw_email()
            .source(&mail.from)
            .set_destinations(Some(mail.to.clone()))
            .raw_message(msg)
            .set_configuration_set_name(self.configuration_set.clone())
            .set_tags(Some(tags))
            .send()
            .await;
        match res {
            Ok(out) => Ok(out.message_id),
            Err(e) if e.as_service_error().is_some_and(|s| s.is_message_rejected() || s.is_mail_from_domain_not_verified_exception()) => {
                Err(PortError::Rejected(aws_sdk_ses::error::DisplayErrorContext(e).to_string()))
            }
            Err(e) => Err(PortError::Backend(aws_sdk_ses::error::DisplayErrorContext(e).to_string())),
        }
    }
}
