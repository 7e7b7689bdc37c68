//! Domain events to EventBridge (`PutEvents`, 10 entries a call). Source `portal`, the event's
//! type as detail-type, its detail as JSON.

use async_trait::async_trait;
use aws_sdk_eventbridge::types::PutEventsRequestEntry;
use aws_sdk_eventbridge::Client;
use portal_core::ports::{DomainEvent, Events, PortError};

pub const SOURCE: &str = "portal";

pub struct EventBridgeEvents {
    client: crate::OnFirstUse<Client>,
    bus: String,
}

impl EventBridgeEvents {
    pub fn new(config: &aws_config::SdkConfig, bus: impl Into<String>) -> Self {
        EventBridgeEvents { client: crate::OnFirstUse::new(config, Client::new), bus: bus.into() }
    }

    pub fn client(&self) -> &Client {
        self.client.get()
    }
}

#[async_trait]
impl Events for EventBridgeEvents {
    #[tracing::instrument(level = "debug", name = "eventbridge.PutEvents", skip_all)]
    async fn publish(&self, events: &[DomainEvent]) -> Result<(), PortError> {
        for chunk in events.chunks(10) {
            let entries = chunk
                .iter()
                .map(|e| {
                    let mut detail = e.detail.clone();
                    if let Some(obj) = detail.as_object_mut() {
                        obj.insert("practiceId".into(), e.practice_id.clone().into());
                    }
                    PutEventsRequestEntry::builder()
                        .event_bus_name(&self.bus)
                        .source(SOURCE)
                        .detail_type(&e.detail_type)
                        .detail(detail.to_string())
                        .build()
                })
                .collect();
            let out = self
                .client()
                .put_events()
                .set_entries(Some(entries))
                .send()
                .await
                .map_err(|e| PortError::Backend(aws_sdk_eventbridge::error::DisplayErrorContext(e).to_string()))?;
            if out.failed_entry_count > 0 {
                return Err(PortError::Backend(format!("EventBridge refused {} of {} events", out.failed_entry_count, chunk.len())));
            }
        }
        Ok(())
    }
}
