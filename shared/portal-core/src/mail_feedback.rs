//! What happens to a mail after it left: the mail service reports a recipient's server refusing
//! it for good (a permanent bounce) or the recipient marking it as spam (a complaint), with the
//! ids the mail was sent with (`ports::MailRef`). Staff must see it where they would look:
//! a WebMail notification shows as bounced on the message (as a failed one does), and every
//! returned mail about a patient is an entry in that patient's activity (`mail.bounced`,
//! `mail.complained`) with the kind of mail — never the address.
//!
//! Transient bounces (a full mailbox, a server briefly away) are the mail service's to retry and
//! change nothing here. Recording the same report twice leaves the same state (one more audit
//! entry, marked with the report's id).

use crate::audit::{Actor, AuditAction, AuditLog, Outcome};
use crate::ids::PracticeId;
use crate::ports::{Db, MailKind, MailRef};
use crate::webmail::mailbox::Notification;
use crate::CoreResult;
use serde_json::json;

/// One report about one mail.
#[derive(Debug, Clone, PartialEq)]
pub struct Returned {
    pub about: MailRef,
    pub how: How,
    /// The mail service's id of the report (or of the mail), for the audit entry.
    pub report_id: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum How {
    /// Refused for good (the address does not exist, the domain takes no mail).
    Bounced,
    /// Reported as spam by the recipient.
    Complained,
    /// Refused for now: nothing to record.
    TransientBounce,
}

pub struct MailFeedback<'a> {
    pub db: Db<'a>,
}

impl MailFeedback<'_> {
    /// Records the report where staff see it; answers whether it changed anything.
    pub async fn record(&self, report: &Returned) -> CoreResult<bool> {
        let (action, reason) = match report.how {
            How::TransientBounce => return Ok(false),
            How::Bounced => (AuditAction::MailBounced, "the recipient's mail server refused it; check the patient's email address"),
            How::Complained => (AuditAction::MailComplained, "the recipient marked it as spam"),
        };
        let about = &report.about;
        let Some(practice) = PracticeId::parse(&about.practice) else { return Ok(false) };
        if about.kind == MailKind::WebMailNotification {
            let state = Notification::Bounced { at: self.db.clock.now(), reason: reason.into() };
            crate::webmail::notify::returned(self.db.table, &practice, &about.item, state).await?;
        }
        let audit = AuditLog { db: self.db };
        let detail = json!({ "mail": about.kind.as_str(), "item": about.item, "report": report.report_id });
        let subject = about.patient.as_deref().unwrap_or("practice");
        audit.record(&Actor::system(&practice, "mail"), action, subject, Outcome::Failure, detail).await?;
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_a_mail_is_about_goes_out_as_tags_and_comes_back() {
        let about = MailRef::new(&PracticeId::parse("lakeside").unwrap(), MailKind::Invite, "rule-1.appt-9", Some("pat-1001"));
        let tags = about.tags();
        assert_eq!(tags.len(), 4);
        let back = MailRef::from_tags(|name| tags.iter().find(|(n, _)| *n == name).map(|(_, v)| v.clone()));
        assert_eq!(back, Some(about));
        // A value SES would refuse is left out rather than failing the send; no kind, not ours.
        let odd = MailRef::new(&PracticeId::parse("lakeside").unwrap(), MailKind::PasswordReset, "a#b", None);
        assert_eq!(odd.tags().iter().map(|(n, _)| *n).collect::<Vec<_>>(), ["portal-practice", "portal-kind"]);
        assert_eq!(MailRef::from_tags(|name| (name == "portal-practice").then(|| "lakeside".to_string())), None);
    }
}
