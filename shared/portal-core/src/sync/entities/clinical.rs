//! One clinical fact: a problem, medication, allergy, immunization, vital sign, result, smoking
//! status, implanted device — each coded — or a goal or health concern, coded or in the
//! clinician's words (`note`). The code system fits the kind, and the code passes its system's check (a smoking status is one of the eight the C-CDA document takes); an implant
//! carries its UDI as its label prints it (read by `udi`) and, in the mouth, its tooth.

use super::rules::{bad, check_id, date, opt_text, text};
use super::{Entity, Placement, Record};
use crate::code_systems;
use crate::{CoreError, CoreResult, ProblemCode};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ClinicalKind {
    Problem,
    Medication,
    Allergy,
    Immunization,
    VitalSign,
    Result,
    /// Tobacco smoking status as asked at an exam (dentistry asks at every periodontal one).
    SmokingStatus,
    /// An implanted device (a dental implant): its kind coded, with its UDI.
    Implant,
    /// What the patient and the dentist aim for ("keep #30 after its crown").
    Goal,
    /// What worries the patient or the dentist ("bleeding gums").
    HealthConcern,
}

/// How a medication or vaccine is given, with its FDA SPL route code (NCI Thesaurus).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Route {
    Oral,
    Sublingual,
    Buccal,
    Dental,
    Topical,
    Inhalation,
    Nasal,
    Transdermal,
    Intravenous,
    Intramuscular,
    Subcutaneous,
    Intradermal,
    Infiltration,
    Intragingival,
    Periodontal,
    Subgingival,
}

impl Route {
    /// The NCI Thesaurus code and name (value set SPL Drug Route of Administration Terminology).
    pub fn nci(self) -> (&'static str, &'static str) {
        match self {
            Route::Oral => ("C38288", "Oral Route of Administration"),
            Route::Sublingual => ("C38300", "Sublingual Route of Administration"),
            Route::Buccal => ("C38193", "Buccal Route of Administration"),
            Route::Dental => ("C38197", "Dental Route of Administration"),
            Route::Topical => ("C38304", "Topical Route of Administration"),
            Route::Inhalation => ("C38216", "Inhalation Route of Administration"),
            Route::Nasal => ("C38284", "Nasal Route of Administration"),
            Route::Transdermal => ("C38305", "Transdermal Route of Administration"),
            Route::Intravenous => ("C38276", "Intravenous Route of Administration"),
            Route::Intramuscular => ("C28161", "Intramuscular Route of Administration"),
            Route::Subcutaneous => ("C38299", "Subcutaneous Route of Administration"),
            Route::Intradermal => ("C38238", "Intradermal Route of Administration"),
            Route::Infiltration => ("C38215", "Infiltration Route of Administration"),
            Route::Intragingival => ("C38247", "Intragingival Route of Administration"),
            Route::Periodontal => ("C38294", "Periodontal Route of Administration"),
            Route::Subgingival => ("C65103", "Subgingival Route of Administration"),
        }
    }
}

/// One dose: a number and its UCUM unit (`mg`, `mL`, `{tablet}`, `1` for a count).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Dose {
    pub value: String,
    pub unit: String,
}

/// The smoking statuses a care summary can carry (C-CDA value set Smoking Status,
/// 2.16.840.1.113883.11.20.9.38): SNOMED CT codes with their names.
pub const SMOKING_STATUSES: [(&str, &str); 8] = [
    ("449868002", "Smokes tobacco daily"),
    ("428041000124106", "Occasional tobacco smoker"),
    ("8517006", "Ex-smoker"),
    ("266919005", "Never smoked tobacco"),
    ("77176002", "Smoker"),
    ("266927001", "Tobacco smoking consumption unknown"),
    ("428071000124103", "Heavy tobacco smoker"),
    ("428061000124105", "Light tobacco smoker"),
];

impl ClinicalKind {
    /// The code systems a fact of this kind is coded in.
    pub fn systems(self) -> &'static [&'static str] {
        match self {
            ClinicalKind::Problem
            | ClinicalKind::SmokingStatus
            | ClinicalKind::Implant
            | ClinicalKind::Goal
            | ClinicalKind::HealthConcern => &["SNOMED-CT"],
            ClinicalKind::Medication => &["RxNorm"],
            ClinicalKind::Allergy => &["SNOMED-CT", "RxNorm"],
            ClinicalKind::Immunization => &["CVX"],
            ClinicalKind::VitalSign | ClinicalKind::Result => &["LOINC"],
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ClinicalStatus {
    Active,
    Inactive,
    Resolved,
    Completed,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Code {
    pub system: String,
    pub code: String,
    pub display: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ClinicalEntry {
    pub patient_id: String,
    pub kind: ClinicalKind,
    /// What it is, coded; a goal or health concern may be the `note` alone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<Code>,
    #[serde(default)]
    pub status: Option<ClinicalStatus>,
    /// When it was noted, started, given or measured.
    pub date: String,
    #[serde(default)]
    pub end_date: Option<String>,
    #[serde(default)]
    pub value: Option<String>,
    #[serde(default)]
    pub unit: Option<String>,
    #[serde(default)]
    pub note: Option<String>,
    /// An implant's Unique Device Identifier as its label prints it (GS1 or HIBCC).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub udi: Option<String>,
    /// Where in the mouth: a tooth by the Universal numbering (1-32, A-T).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tooth: Option<String>,
    /// A medication's or vaccine's dose, and how it is given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dose: Option<Dose>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub route: Option<Route>,
}

impl ClinicalEntry {
    /// The rules past the code: dates, values, an implant's UDI and tooth, a dose and route.
    fn check_rest(&self) -> CoreResult<()> {
        date("date", &self.date)?;
        if let Some(e) = &self.end_date {
            date("endDate", e)?;
        }
        if matches!(self.kind, ClinicalKind::VitalSign | ClinicalKind::Result) && self.value.is_none() {
            return Err(bad("value", "a vital sign or result has a value"));
        }
        match (self.kind, &self.udi) {
            (ClinicalKind::Implant, Some(udi)) => {
                super::udi::parse(udi).map_err(|why| bad("udi", why))?;
            }
            (ClinicalKind::Implant, None) => return Err(bad("udi", "an implant carries its UDI")),
            (_, Some(_)) => return Err(bad("udi", "only an implant carries a UDI")),
            (_, None) => {}
        }
        let given = matches!(self.kind, ClinicalKind::Medication | ClinicalKind::Immunization);
        if !given && (self.dose.is_some() || self.route.is_some()) {
            return Err(bad("dose/route", "only a medication or immunization has a dose and route"));
        }
        if let Some(d) = &self.dose {
            let number = d.value.len() <= 12 && d.value.parse::<f64>().is_ok_and(|v| v.is_finite() && v > 0.0);
            if !number {
                return Err(bad("dose.value", "a positive number such as 5 or 0.5"));
            }
            if !(1..=20).contains(&d.unit.len()) || !d.unit.bytes().all(|b| b.is_ascii_graphic()) {
                return Err(bad("dose.unit", "a UCUM unit such as mg, mL, {tablet} or 1"));
            }
        }
        if let Some(t) = &self.tooth {
            let universal = t.parse::<u8>().is_ok_and(|n| (1..=32).contains(&n)) || (t.len() == 1 && ("A"..="T").contains(&t.as_str()));
            if !universal {
                return Err(bad("tooth", "a tooth by the Universal numbering: 1 to 32, or A to T"));
            }
        }
        opt_text("value", &self.value, 100)?;
        opt_text("unit", &self.unit, 30)?;
        opt_text("note", &self.note, 1000)
    }
}

impl Record for ClinicalEntry {
    const ENTITY: Entity = Entity::Clinical;

    fn check(&self) -> CoreResult<()> {
        check_id("patientId", &self.patient_id)?;
        let systems = self.kind.systems();
        let kind = serde_json::to_value(self.kind).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default();
        let in_words = matches!(self.kind, ClinicalKind::Goal | ClinicalKind::HealthConcern);
        let code = match &self.code {
            Some(code) => code,
            None if in_words && self.note.as_deref().is_some_and(|n| !n.trim().is_empty()) => return self.check_rest(),
            None if in_words => return Err(bad("code/note", format!("a {kind} is coded, or in words as its note"))),
            None => return Err(bad("code", format!("a {kind} is coded"))),
        };
        match code_systems::is_valid(&code.system, &code.code) {
            None => {
                return Err(CoreError::invalid(
                    ProblemCode::CodeSystemUnknown,
                    format!(
                        "code.system: '{}' is not a known code system; use one of {}.",
                        code.system.chars().take(40).collect::<String>(),
                        code_systems::SYSTEMS.join(", ")
                    ),
                ))
            }
            Some(_) if !systems.contains(&code.system.as_str()) => {
                return Err(bad("code.system", format!("a {kind} is coded in {}", systems.join(" or "))))
            }
            Some(false) => return Err(bad("code.code", format!("not a valid {} code", code.system))),
            Some(true) => {}
        }
        if self.kind == ClinicalKind::SmokingStatus && !SMOKING_STATUSES.iter().any(|(c, _)| *c == code.code) {
            let codes: Vec<&str> = SMOKING_STATUSES.iter().map(|(c, _)| *c).collect();
            return Err(bad("code.code", format!("a smoking status is one of {}", codes.join(", "))));
        }
        text("code.display", &code.display, 1, 200)?;
        self.check_rest()
    }

    fn placement(&self, _id: &str) -> Placement {
        Placement::Patient { patient_id: self.patient_id.clone(), date: self.date.clone() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(kind: &str, code: Option<serde_json::Value>, note: Option<&str>) -> CoreResult<()> {
        let mut body = serde_json::json!({"patientId": "pat-1", "kind": kind, "date": "2026-01-02"});
        if let Some(c) = code {
            body["code"] = c;
        }
        if let Some(n) = note {
            body["note"] = n.into();
        }
        serde_json::from_value::<ClinicalEntry>(body).unwrap().check()
    }

    #[test]
    fn goals_and_concerns_may_be_words_alone_everything_else_is_coded() {
        let caries = serde_json::json!({"system": "SNOMED-CT", "code": "80967001", "display": "Dental caries"});
        assert!(entry("goal", None, Some("Keep #30 after its crown")).is_ok());
        assert!(entry("health-concern", Some(caries.clone()), None).is_ok());
        assert!(entry("goal", None, Some("  ")).is_err(), "words, not blanks");
        assert!(entry("problem", None, Some("Caries")).is_err(), "a problem is coded");
        assert!(entry("problem", Some(caries), None).is_ok());
    }
}
