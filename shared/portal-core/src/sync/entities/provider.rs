//! A provider (dentist or hygienist) and the staff users who act for them.

use super::rules::{bad, opt_text, text};
use super::{Entity, Placement, Record};
use crate::CoreResult;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Provider {
    pub abbreviation: String,
    pub first_name: String,
    pub last_name: String,
    #[serde(default)]
    pub credentials: Option<String>,
    #[serde(default)]
    pub npi: Option<String>,
    #[serde(default)]
    pub is_hygienist: bool,
    /// Staff usernames that act for this provider (answer their WebMail, see their schedule).
    #[serde(default)]
    pub staff_usernames: Vec<String>,
}

impl Provider {
    /// How patients see the provider's name: "Maya Chen, DDS".
    pub fn display_name(&self) -> String {
        match &self.credentials {
            Some(c) if !c.is_empty() => format!("{} {}, {c}", self.first_name, self.last_name),
            _ => format!("{} {}", self.first_name, self.last_name),
        }
    }
}

impl Record for Provider {
    const ENTITY: Entity = Entity::Providers;

    fn check(&self) -> CoreResult<()> {
        text("abbreviation", &self.abbreviation, 1, 10)?;
        text("firstName", &self.first_name, 1, 100)?;
        text("lastName", &self.last_name, 1, 100)?;
        opt_text("credentials", &self.credentials, 20)?;
        if self.npi.as_deref().is_some_and(|npi| !crate::code_systems::is_npi(npi)) {
            return Err(bad("npi", "a 10-digit NPI with a valid check digit"));
        }
        if self.staff_usernames.iter().any(|u| crate::ids::Username::parse(u).is_none()) {
            return Err(bad("staffUsernames", "portal staff usernames"));
        }
        Ok(())
    }

    fn placement(&self, _id: &str) -> Placement {
        Placement::Practice { date: None }
    }
}
