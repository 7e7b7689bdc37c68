//! Domain events in process: appended to a JSON-lines log (`events.log` in the data folder) and
//! handed to whatever subscribed in this process (the tests do; on AWS, EventBridge rules route
//! events to their targets).

use async_trait::async_trait;
use portal_core::ports::{DomainEvent, Events, PortError};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};

pub type Subscriber = Arc<dyn Fn(&DomainEvent) + Send + Sync>;

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
        for e in events {
            for s in &subs {
                s(e);
            }
        }
        Ok(())
    }
}
