//! Sends the emails events call for: the notification of each WebMail message (`webmail.sent`)
//! and the receipt of each approved payment (`payment.received`). It is those events' target (an
//! EventBridge rule on AWS, with a retry policy and a dead-letter queue; the in-process bus with
//! retries locally). An error answers the invocation as failed, so the event is tried again;
//! `portal_core::webmail::notify` and `portal_core::payments::receipt` make sure no message or
//! payment gets two emails. It also takes SES's reports of mail that came back (`Email Bounced`,
//! `Email Complained` from the configuration set, on the default bus) and records them where
//! staff see them (`portal_core::mail_feedback`).

use portal_core::ids::PracticeId;
use portal_core::mail_feedback::{How, MailFeedback, Returned};
use portal_core::payments::receipt::Receipts;
use portal_core::ports::{Clock, Db, MailRef, Mailer, Ports, Table};
use portal_core::webmail::notify::Notifier;
use serde::Deserialize;
use serde_json::{json, Value};
use std::sync::Arc;

#[derive(Clone)]
pub struct Deps {
    pub table: Arc<dyn Table>,
    pub clock: Arc<dyn Clock>,
    pub mailer: Arc<dyn Mailer>,
    /// Where the portal is served, for the `[URL]` of patients' notifications.
    pub portal_base_url: String,
}

impl From<&Ports> for Deps {
    fn from(p: &Ports) -> Self {
        Deps { table: p.table.clone(), clock: p.clock.clone(), mailer: p.mailer.clone(), portal_base_url: p.site_url.clone() }
    }
}

impl Deps {
    /// The table and the clock, for building a use case.
    fn db(&self) -> Db<'_> {
        Db { table: self.table.as_ref(), clock: self.clock.as_ref() }
    }
}

/// The part of the event this function reads (EventBridge's envelope: `detail-type`, `detail`;
/// ids only).
#[derive(Deserialize)]
struct Event<D> {
    detail: D,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Detail {
    practice_id: PracticeId,
    message_id: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PaymentDetail {
    practice_id: PracticeId,
    payment_id: String,
}

/// Handles one event: `payment.received` sends the receipt, `webmail.sent` the notification, a
/// report from SES records a mail that came back.
pub async fn handle(deps: &Deps, event: Value) -> Result<Value, lambda_runtime::Error> {
    if event["source"] == "aws.ses" {
        return returned(deps, event).await;
    }
    match event["detail-type"].as_str() {
        Some("payment.received") => receipt(deps, event).await,
        _ => notification(deps, event).await,
    }
}

/// SES's event for a bounce or complaint (EventBridge envelope; the part read here). Mail the
/// portal did not tag is not the portal's and is left alone.
async fn returned(deps: &Deps, event: Value) -> Result<Value, lambda_runtime::Error> {
    let detail = &event["detail"];
    let tags = &detail["mail"]["tags"];
    let Some(about) = MailRef::from_tags(|name| tags[name][0].as_str().map(str::to_string)) else {
        return Ok(json!({ "recorded": false }));
    };
    let how = match (detail["eventType"].as_str(), detail["bounce"]["bounceType"].as_str()) {
        (Some("Bounce"), Some("Permanent")) => How::Bounced,
        (Some("Bounce"), _) => How::TransientBounce,
        (Some("Complaint"), _) => How::Complained,
        _ => return Err(format!("not a bounce or complaint: {}", detail["eventType"]).into()),
    };
    let report_id = [&detail["bounce"]["feedbackId"], &detail["complaint"]["feedbackId"], &detail["mail"]["messageId"]]
        .into_iter()
        .find_map(|v| v.as_str())
        .unwrap_or_default()
        .to_string();
    let feedback = MailFeedback { db: deps.db() };
    let recorded = feedback.record(&Returned { about, how, report_id }).await.map_err(|e| e.to_string())?;
    if recorded {
        portal_http::observe::count(if how == How::Complained { "mail.complained" } else { "mail.bounced" }, 1.0);
    }
    Ok(json!({ "recorded": recorded }))
}

/// Sends a payment's receipt; answers its state.
async fn receipt(deps: &Deps, event: Value) -> Result<Value, lambda_runtime::Error> {
    let Event::<PaymentDetail> { detail } = serde_json::from_value(event).map_err(|e| format!("not a payment.received event: {e}"))?;
    let receipts = Receipts { db: deps.db(), mailer: deps.mailer.as_ref() };
    match receipts.send(&detail.practice_id, &detail.payment_id).await {
        Ok(state) => {
            let answer = json!({ "paymentId": detail.payment_id, "receipt": state });
            count_outcome("receipts", &answer["receipt"]);
            claimed_elsewhere(&answer["receipt"])?;
            Ok(answer)
        }
        Err(e) => {
            portal_http::observe::count("receipts.failed", 1.0);
            tracing::warn!(payment = %detail.payment_id, code = %e.code(), "receipt not sent; the event will be tried again");
            Err(e.to_string().into())
        }
    }
}

/// Sends a WebMail message's notification; answers its state.
async fn notification(deps: &Deps, event: Value) -> Result<Value, lambda_runtime::Error> {
    let Event::<Detail> { detail } = serde_json::from_value(event).map_err(|e| format!("not a webmail.sent event: {e}"))?;
    let notifier = Notifier { db: deps.db(), mailer: deps.mailer.as_ref(), portal_base_url: &deps.portal_base_url };
    match notifier.notify(&detail.practice_id, &detail.message_id).await {
        Ok(state) => {
            let answer = json!({ "messageId": detail.message_id, "notification": state });
            count_outcome("notifications", &answer["notification"]);
            claimed_elsewhere(&answer["notification"])?;
            Ok(answer)
        }
        // A message deleted meanwhile has nothing to notify.
        Err(portal_core::CoreError::NotFound) => Ok(json!({ "messageId": detail.message_id, "notification": null })),
        Err(e) => {
            portal_http::observe::count("notifications.failed", 1.0);
            tracing::warn!(message = %detail.message_id, code = %e.code(), "notification not sent; the event will be tried again");
            Err(e.to_string().into())
        }
    }
}

/// Fails while another worker holds the claim to send: that worker may have died mid-send, and
/// answering "done" would end the event's retries before the claim lapses. Failing brings the
/// event back (Lambda's retries, the local bus's back-off) to find the mail sent, or to send it.
fn claimed_elsewhere(state: &Value) -> Result<(), lambda_runtime::Error> {
    match state["state"].as_str() {
        Some("sending") => Err("another worker is sending it; the event will be tried again".into()),
        _ => Ok(()),
    }
}

/// One metric per outcome (`notifications.sent`, `receipts.skipped`, …), by the state's tag.
fn count_outcome(what: &str, state: &Value) {
    if let Some(tag) = state["state"].as_str() {
        portal_http::observe::count(&format!("{what}.{tag}"), 1.0);
    }
}
