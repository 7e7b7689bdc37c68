//! A patient as the practice's system knows them, with the family links the family rule reads
//! (`crate::practice::family`): the guarantor, the family members, and a minor's guardians.

use super::demographics::{BirthSex, SelfReported, Sex, ETHNICITY_CATEGORIES, RACE_CATEGORIES};
use super::rules::{bad, check_id, date, email, opt_text, text};
use super::{Entity, Placement, Record};
use crate::CoreResult;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Address {
    pub line1: String,
    #[serde(default)]
    pub line2: Option<String>,
    pub city: String,
    pub state: String,
    pub postal_code: String,
    #[serde(default)]
    pub country: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Phone {
    pub kind: PhoneKind,
    pub number: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PhoneKind {
    Home,
    Mobile,
    Work,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Guardian {
    pub patient_id: String,
    pub relationship: GuardianRelationship,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum GuardianRelationship {
    Mother,
    Father,
    Parent,
    Guardian,
    Grandparent,
    Other,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct OptOuts {
    #[serde(default)]
    pub email: bool,
    #[serde(default)]
    pub text: bool,
    #[serde(default)]
    pub portal_invites: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Patient {
    pub first_name: String,
    pub last_name: String,
    #[serde(default)]
    pub preferred_name: Option<String>,
    pub birthdate: String,
    #[serde(default)]
    pub address: Option<Address>,
    #[serde(default)]
    pub phones: Vec<Phone>,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub preferred_language: Option<String>,
    /// The patient responsible for the account (themselves when absent).
    #[serde(default)]
    pub guarantor_id: Option<String>,
    #[serde(default)]
    pub family_ids: Vec<String>,
    #[serde(default)]
    pub guardians: Vec<Guardian>,
    #[serde(default)]
    pub is_minor: bool,
    #[serde(default)]
    pub primary_provider_id: Option<String>,
    #[serde(default)]
    pub opt_outs: OptOuts,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sex: Option<Sex>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub birth_sex: Option<BirthSex>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub race: Option<SelfReported>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ethnicity: Option<SelfReported>,
}

impl Patient {
    /// The guarantor of this patient's account; `own_id` when they are their own.
    pub fn guarantor<'a>(&'a self, own_id: &'a str) -> &'a str {
        self.guarantor_id.as_deref().unwrap_or(own_id)
    }

    /// The name the portal shows: the preferred first name when there is one.
    pub fn display_name(&self) -> String {
        let first = self.preferred_name.as_deref().filter(|n| !n.trim().is_empty()).unwrap_or(&self.first_name);
        format!("{} {}", first.trim(), self.last_name.trim())
    }
}

impl Record for Patient {
    const ENTITY: Entity = Entity::Patients;

    fn check(&self) -> CoreResult<()> {
        text("firstName", &self.first_name, 1, 100)?;
        text("lastName", &self.last_name, 1, 100)?;
        opt_text("preferredName", &self.preferred_name, 100)?;
        let born = date("birthdate", &self.birthdate)?;
        if born.year() < 1900 || born > time::OffsetDateTime::now_utc().date() {
            return Err(bad("birthdate", "between 1900 and today"));
        }
        if let Some(a) = &self.address {
            text("address.line1", &a.line1, 1, 200)?;
            opt_text("address.line2", &a.line2, 200)?;
            text("address.city", &a.city, 1, 100)?;
            text("address.state", &a.state, 1, 50)?;
            text("address.postalCode", &a.postal_code, 1, 20)?;
            opt_text("address.country", &a.country, 60)?;
        }
        for ph in &self.phones {
            let digits = ph.number.chars().filter(char::is_ascii_digit).count();
            if !(7..=15).contains(&digits) || !ph.number.chars().all(|c| c.is_ascii_digit() || " +-().".contains(c)) {
                return Err(bad("phones.number", "7 to 15 digits, with + - ( ) . and spaces allowed"));
            }
        }
        email("email", &self.email)?;
        if let Some(l) = &self.preferred_language {
            let tag_ok = !l.is_empty()
                && l.len() <= 35
                && l.split('-').all(|s| (1..=8).contains(&s.len()) && s.chars().all(|c| c.is_ascii_alphanumeric()));
            if !tag_ok {
                return Err(bad("preferredLanguage", "a language tag such as en, es or pt-BR"));
            }
        }
        for id in self.guarantor_id.iter().chain(&self.family_ids).chain(self.primary_provider_id.iter()) {
            check_id("guarantorId/familyIds/primaryProviderId", id)?;
        }
        for g in &self.guardians {
            check_id("guardians.patientId", &g.patient_id)?;
        }
        if self.is_minor && self.guardians.is_empty() {
            return Err(bad("guardians", "a minor needs at least one guardian"));
        }
        if let Some(race) = &self.race {
            race.check("race", &RACE_CATEGORIES, RACE_CATEGORIES.len())?;
        }
        if let Some(ethnicity) = &self.ethnicity {
            ethnicity.check("ethnicity", &ETHNICITY_CATEGORIES, 1)?;
        }
        Ok(())
    }

    fn placement(&self, id: &str) -> Placement {
        Placement::Family { guarantor_id: self.guarantor(id).to_string() }
    }
}
