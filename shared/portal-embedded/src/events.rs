//! Domain events in process: appended to a JSON-lines log (`events.log` in the data folder) and
//! handed to whatever subscribed in this process (on AWS, EventBridge rules route events to their
//! targets). A publish answers once every subscriber has handled its events, and fails when one
//! failed: the outbox then keeps the events marked unpublished and its relay hands them over again
//! later — what EventBridge's retry policy does on AWS, and it outlives a process that dies
//! mid-way (an event handed to a task in the background would die with it).

use async_trait::async_trait;
use futures_util::future::BoxFuture;
use portal_core::ports::{DomainEvent, Events, PortError};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};

/// Handles one event; an `Err` says why it failed (the event will come again).
pub type Subscriber = Arc<dyn Fn(DomainEvent) -> BoxFuture<'static, Result<(), String>> + Send + Sync>;

pub struct InProcessEvents {
    log: Mutex<PathBuf>,
    subscribers: RwLock<Vec<Subscriber>>,
}

impl InProcessEvents {
    pub fn new(log_path: &Path) -> std::io::Result<Self> {
        if let Some(dir) = log_path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        Ok(InProcessEvents { log: Mutex::new(log_path.to_path_buf()), subscribers: RwLock::new(vec![]) })
    }

    pub fn subscribe(&self, s: Subscriber) {
        self.subscribers.write().unwrap_or_else(|e| e.into_inner()).push(s);
    }

    /// Every event published so far, oldest first.
    pub fn logged(&self) -> Vec<DomainEvent> {
        let path = self.log.lock().unwrap_or_else(|e| e.into_inner()).clone();
        std::fs::read_to_string(path).unwrap_or_default().lines().filter_map(|l| serde_json::from_str(l).ok()).collect()
    }
}

#[async_trait]
impl Events for InProcessEvents {
    async fn publish(&self, events: &[DomainEvent]) -> Result<(), PortError> {
        {
            let path = self.log.lock().unwrap_or_else(|e| e.into_inner());
            let mut f =
                std::fs::OpenOptions::new().create(true).append(true).open(&*path).map_err(|e| PortError::Backend(e.to_string()))?;
            for e in events {
                writeln!(f, "{}", serde_json::to_string(e).map_err(|e| PortError::Backend(e.to_string()))?)
                    .map_err(|e| PortError::Backend(e.to_string()))?;
            }
        }
        let subs = self.subscribers.read().unwrap_or_else(|e| e.into_inner()).clone();
        let mut failed = vec![];
        for e in events {
            for s in &subs {
                if let Err(why) = s(e.clone()).await {
                    failed.push(format!("{}: {why}", e.detail_type));
                }
            }
        }
        match failed.is_empty() {
            true => Ok(()),
            false => Err(PortError::Backend(failed.join("; "))),
        }
    }
}
