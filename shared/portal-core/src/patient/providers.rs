//! The practice's provider names, cached per container. Appointments and open slots name their
//! provider; the provider list is the practice's (not PHI) and changes seldom, so it is read once a
//! minute per container instead of once per request — reads stay within three table requests.

use crate::ids::PracticeId;
use crate::ports::Db;
use crate::sync::entities::Provider;
use crate::sync::records::PatientRecords;
use crate::CoreResult;
use serde::Serialize;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// A provider as patients see them.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProviderView {
    pub id: String,
    /// `None` when the practice's system has not sent this provider.
    pub name: Option<String>,
}

type Names = Arc<HashMap<String, String>>;

pub struct ProviderNames {
    ttl_seconds: i64,
    entries: Mutex<HashMap<String, (i64, Names)>>,
}

impl ProviderNames {
    pub fn new(ttl_seconds: i64) -> Self {
        ProviderNames { ttl_seconds, entries: Mutex::new(HashMap::new()) }
    }

    /// Every provider's display name in the practice ("Maya Chen, DDS").
    pub async fn get(&self, db: Db<'_>, practice: &PracticeId) -> CoreResult<Names> {
        let now = db.clock.now();
        if let Some((at, names)) = self.entries.lock().unwrap_or_else(|e| e.into_inner()).get(practice.as_str()) {
            if now - at < self.ttl_seconds {
                return Ok(names.clone());
            }
        }
        let providers = PatientRecords { db }.all_for_practice::<Provider>(practice).await?;
        let names: HashMap<String, String> = providers.into_iter().map(|p| (p.id, p.record.display_name())).collect();
        let names = Arc::new(names);
        self.entries.lock().unwrap_or_else(|e| e.into_inner()).insert(practice.to_string(), (now, names.clone()));
        Ok(names)
    }

    /// The provider `id` as patients see them.
    pub fn view(names: &HashMap<String, String>, id: &str) -> ProviderView {
        ProviderView { id: id.to_string(), name: names.get(id).cloned() }
    }
}
