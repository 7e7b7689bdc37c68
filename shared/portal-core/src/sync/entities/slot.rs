//! An open slot in a provider's schedule that patients may book for a recall of a fitting type.

use super::rules::{check_id, datetime, minutes, opt_text, sort_key_utc, text};
use super::{Entity, Placement, Record};
use crate::CoreResult;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Slot {
    pub provider_id: String,
    pub start: String,
    pub length_minutes: u32,
    #[serde(default)]
    pub recall_types: Vec<String>,
    #[serde(default)]
    pub operatory: Option<String>,
}

impl Record for Slot {
    const ENTITY: Entity = Entity::Slots;

    fn check(&self) -> CoreResult<()> {
        check_id("providerId", &self.provider_id)?;
        datetime("start", &self.start)?;
        minutes("lengthMinutes", self.length_minutes)?;
        for t in &self.recall_types {
            text("recallTypes", t, 1, 50)?;
        }
        opt_text("operatory", &self.operatory, 50)
    }

    fn placement(&self, _id: &str) -> Placement {
        Placement::Practice { date: Some(sort_key_utc(&self.start)) }
    }
}
