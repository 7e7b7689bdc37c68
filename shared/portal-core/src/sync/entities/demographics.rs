//! Who a patient is beyond their name, as US health records carry it (USCDI): sex, sex assigned at
//! birth, and race and ethnicity as the patient reported them — the OMB categories, any CDC Race &
//! Ethnicity detailed codes the practice records (with their names, as the practice's system has
//! them), or "declined" when the patient chose not to say. Checked here; the care summary and its
//! document read them.

use super::rules::{bad, text};
use crate::CoreResult;
use serde::{Deserialize, Serialize};

/// The CDC Race & Ethnicity code system.
pub const CDC_RACE_ETHNICITY: &str = "2.16.840.1.113883.6.238";

/// The five OMB race categories (CDC codes).
pub const RACE_CATEGORIES: [(&str, &str); 5] = [
    ("1002-5", "American Indian or Alaska Native"),
    ("2028-9", "Asian"),
    ("2054-5", "Black or African American"),
    ("2076-8", "Native Hawaiian or Other Pacific Islander"),
    ("2106-3", "White"),
];

/// The two OMB ethnicity categories (CDC codes).
pub const ETHNICITY_CATEGORIES: [(&str, &str); 2] = [("2135-2", "Hispanic or Latino"), ("2186-5", "Not Hispanic or Latino")];

/// Sex as the practice records it (HL7 administrative gender).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Sex {
    Female,
    Male,
    Other,
    Unknown,
}

/// Sex assigned at birth, or that the patient declined to say.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum BirthSex {
    Female,
    Male,
    Unknown,
    Declined,
}

impl Sex {
    /// HL7 AdministrativeGender: the code and its name (`None`: unknown).
    pub fn hl7(self) -> Option<(&'static str, &'static str)> {
        match self {
            Sex::Female => Some(("F", "Female")),
            Sex::Male => Some(("M", "Male")),
            Sex::Other => Some(("UN", "Undifferentiated")),
            Sex::Unknown => None,
        }
    }
}

impl BirthSex {
    /// In words, for the readable copy.
    pub fn words(self) -> &'static str {
        match self {
            BirthSex::Female => "Female",
            BirthSex::Male => "Male",
            BirthSex::Unknown => "Unknown",
            BirthSex::Declined => "Declined to say",
        }
    }
}

/// A CDC Race & Ethnicity detailed code with its name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DetailedCode {
    pub code: String,
    pub display: String,
}

/// Race or ethnicity as the patient reported it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SelfReported {
    /// OMB category codes (several races; one ethnicity).
    #[serde(default)]
    pub categories: Vec<String>,
    #[serde(default)]
    pub detailed: Vec<DetailedCode>,
    /// The patient chose not to say (then nothing else is given).
    #[serde(default)]
    pub declined: bool,
}

/// How many detailed codes one patient may have of each.
const DETAILED_MAX: usize = 10;

impl SelfReported {
    /// Checks a race (`table`: [`RACE_CATEGORIES`], several allowed) or an ethnicity
    /// ([`ETHNICITY_CATEGORIES`], one at most); `field` names it in errors.
    pub fn check(&self, field: &str, table: &[(&str, &str)], categories_max: usize) -> CoreResult<()> {
        if self.declined && (!self.categories.is_empty() || !self.detailed.is_empty()) {
            return Err(bad(field, "declined, or categories and codes, not both"));
        }
        let known = |c: &String| table.iter().any(|(code, _)| code == c);
        if self.categories.len() > categories_max || !self.categories.iter().all(known) {
            let codes: Vec<&str> = table.iter().map(|(c, _)| *c).collect();
            return Err(bad(&format!("{field}.categories"), format!("at most {categories_max} of the OMB codes {}", codes.join(", "))));
        }
        if self.detailed.len() > DETAILED_MAX {
            return Err(bad(&format!("{field}.detailed"), format!("at most {DETAILED_MAX} codes")));
        }
        for d in &self.detailed {
            if !is_cdc_code(&d.code) {
                return Err(bad(&format!("{field}.detailed.code"), "a CDC Race & Ethnicity code such as 2108-9"));
            }
            text(&format!("{field}.detailed.display"), &d.display, 1, 100)?;
        }
        Ok(())
    }

    /// In words, for the readable copy: every name, or that the patient declined to say.
    pub fn words(&self, table: &[(&str, &str)]) -> String {
        if self.declined {
            return "Declined to say".into();
        }
        self.codes(table).map(|(_, name)| name).collect::<Vec<_>>().join(", ")
    }

    /// Every code with its name: the categories (named from `table`), then the detailed codes.
    pub fn codes<'a>(&'a self, table: &'a [(&'a str, &'a str)]) -> impl Iterator<Item = (&'a str, &'a str)> + 'a {
        let named = self.categories.iter().filter_map(move |c| table.iter().find(|(code, _)| code == c).copied());
        named.chain(self.detailed.iter().map(|d| (d.code.as_str(), d.display.as_str())))
    }
}

/// `NNNN-N`: four digits, a dash and the check digit, as every code of the system is written.
fn is_cdc_code(code: &str) -> bool {
    let b = code.as_bytes();
    b.len() == 6 && b[4] == b'-' && b.iter().enumerate().all(|(i, c)| i == 4 || c.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn race_and_ethnicity_take_omb_categories_and_detailed_codes_or_declined() {
        let race = SelfReported {
            categories: vec!["2106-3".into(), "2028-9".into()],
            detailed: vec![DetailedCode { code: "2108-9".into(), display: "European".into() }],
            declined: false,
        };
        assert!(race.check("race", &RACE_CATEGORIES, 5).is_ok());
        assert_eq!(race.codes(&RACE_CATEGORIES).map(|(c, _)| c).collect::<Vec<_>>(), ["2106-3", "2028-9", "2108-9"]);
        let two = SelfReported { categories: vec!["2135-2".into(), "2186-5".into()], ..Default::default() };
        assert!(two.check("ethnicity", &ETHNICITY_CATEGORIES, 1).is_err(), "one ethnicity");
        let unknown = SelfReported { categories: vec!["9999-9".into()], ..Default::default() };
        assert!(unknown.check("race", &RACE_CATEGORIES, 5).is_err());
        let both = SelfReported { categories: vec!["2106-3".into()], declined: true, ..Default::default() };
        assert!(both.check("race", &RACE_CATEGORIES, 5).is_err());
        let malformed =
            SelfReported { detailed: vec![DetailedCode { code: "2108".into(), display: "European".into() }], ..Default::default() };
        assert!(malformed.check("race", &RACE_CATEGORIES, 5).is_err());
        assert!(SelfReported { declined: true, ..Default::default() }.check("race", &RACE_CATEGORIES, 5).is_ok());
    }
}
