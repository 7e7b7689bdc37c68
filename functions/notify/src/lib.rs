//! Sends the notification email of each WebMail message: the target of the `webmail.sent` event
//! (an EventBridge rule on AWS, with a retry policy and a dead-letter queue; the in-process bus
//! with retries locally). An error answers the invocation as failed, so the event is tried again;
//! `portal_core::webmail::notify` makes sure one message never gets two notifications.

use portal_core::ports::{Clock, Mailer, Table};
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

/// The part of the event this function reads (EventBridge's envelope: `detail`; ids only).
#[derive(Deserialize)]
struct Event {
    detail: Detail,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Detail {
    practice_id: String,
    message_id: String,
}

/// Handles one `webmail.sent` event; answers the notification's state.
pub async fn handle(deps: &Deps, event: Value) -> Result<Value, lambda_runtime::Error> {
    let Event { detail } = serde_json::from_value(event).map_err(|e| format!("not a webmail.sent event: {e}"))?;
    let notifier = Notifier {
        table: deps.table.as_ref(),
        clock: deps.clock.as_ref(),
        mailer: deps.mailer.as_ref(),
        portal_base_url: &deps.portal_base_url,
    };
    match notifier.notify(&detail.practice_id, &detail.message_id).await {
        Ok(state) => Ok(json!({ "messageId": detail.message_id, "notification": state })),
        // A message deleted meanwhile has nothing to notify.
        Err(portal_core::CoreError::NotFound) => Ok(json!({ "messageId": detail.message_id, "notification": null })),
        Err(e) => {
            tracing::warn!(message = %detail.message_id, code = e.code(), "notification not sent; the event will be tried again");
            Err(e.to_string().into())
        }
    }
}
