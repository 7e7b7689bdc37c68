//! Mail through SES `SendRawEmail` (the raw form carries attachments), in the practice's
//! configuration set (TLS required, see infra/template.yaml).

use async_trait::async_trait;
use aws_sdk_ses::primitives::Blob;
use aws_sdk_ses::types::RawMessage;
use aws_sdk_ses::Client;
use portal_core::ports::{Mail, Mailer, PortError};

pub struct SesMailer {
    client: Client,
    configuration_set: Option<String>,
}

impl SesMailer {
    pub fn new(config: &aws_config::SdkConfig, configuration_set: Option<String>) -> Self {
        SesMailer {
            client: Client::new(config),
            configuration_set,
        }
    }

    pub fn client(&self) -> &Client {
        &self.client
    }
}

#[async_trait]
impl Mailer for SesMailer {
    async fn send(&self, mail: &Mail) -> Result<String, PortError> {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0);
        let date = httpdate(now);
        let id = format!("{}@portal", portal_core::ids::new_id());
        let raw = portal_core::mime::render(mail, &date, &id);
        let msg = RawMessage::builder()
            .data(Blob::new(raw))
            .build()
            .map_err(|e| PortError::Backend(e.to_string()))?;
        let res = self
            .client
            .send_raw_email()
            .source(&mail.from)
            .set_destinations(Some(mail.to.clone()))
            .raw_message(msg)
            .set_configuration_set_name(self.configuration_set.clone())
            .send()
            .await;
        match res {
            Ok(out) => Ok(out.message_id),
            Err(e)
                if e.as_service_error().is_some_and(|s| {
                    s.is_message_rejected() || s.is_mail_from_domain_not_verified_exception()
                }) =>
            {
                Err(PortError::Rejected(
                    aws_sdk_ses::error::DisplayErrorContext(e).to_string(),
                ))
            }
            Err(e) => Err(PortError::Backend(
                aws_sdk_ses::error::DisplayErrorContext(e).to_string(),
            )),
        }
    }
}

/// RFC 2822 date (UTC) without pulling in a date crate here.
fn httpdate(unix: i64) -> String {
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let days = unix.div_euclid(86_400);
    let secs = unix.rem_euclid(86_400);
    // Civil-from-days (H. Hinnant).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{}, {:02} {} {} {:02}:{:02}:{:02} +0000",
        DAYS[days.rem_euclid(7) as usize],
        d,
        MONTHS[(m - 1) as usize],
        y,
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn rfc2822_dates() {
        assert_eq!(super::httpdate(0), "Thu, 01 Jan 1970 00:00:00 +0000");
        assert_eq!(
            super::httpdate(1_795_000_000),
            "Sat, 18 Nov 2026 04:26:40 +0000"
        );
    }
}
