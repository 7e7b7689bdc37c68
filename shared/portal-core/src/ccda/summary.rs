//! A care summary's content — the patient, the sections and their entries, coded with the name
//! shown for each code — as the page shows it and the C-CDA document and its HTML rendering carry
//! it. `crate::patient::care_summary` builds it from what the practice's system synced.

use crate::code_systems::System;
use crate::practice::settings::Contact;
use crate::sync::entities::udi::Udi;
use crate::sync::entities::{BirthSex, Coverage, Dose, GuardianRelationship, Patient, Provider, Route, SelfReported, Sex};
use serde::Serialize;
use std::sync::Arc;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum SectionKey {
    Problems,
    Medications,
    Allergies,
    Immunizations,
    VitalSigns,
    Results,
    Procedures,
    PlanOfTreatment,
    Encounters,
    CareTeam,
    SocialHistory,
    ImplantedDevices,
    Goals,
    HealthConcerns,
    Insurance,
}

impl SectionKey {
    pub const ALL: [SectionKey; 15] = [
        SectionKey::Problems,
        SectionKey::Medications,
        SectionKey::Allergies,
        SectionKey::Immunizations,
        SectionKey::VitalSigns,
        SectionKey::Results,
        SectionKey::Procedures,
        SectionKey::PlanOfTreatment,
        SectionKey::Encounters,
        SectionKey::CareTeam,
        SectionKey::SocialHistory,
        SectionKey::ImplantedDevices,
        SectionKey::Goals,
        SectionKey::HealthConcerns,
        SectionKey::Insurance,
    ];

    pub fn title(self) -> &'static str {
        match self {
            SectionKey::Problems => "Problems",
            SectionKey::Medications => "Medications",
            SectionKey::Allergies => "Allergies",
            SectionKey::Immunizations => "Immunizations",
            SectionKey::VitalSigns => "Vital signs",
            SectionKey::Results => "Results",
            SectionKey::Procedures => "Procedures",
            SectionKey::PlanOfTreatment => "Plan of treatment",
            SectionKey::Encounters => "Encounters",
            SectionKey::CareTeam => "Care team",
            SectionKey::SocialHistory => "Social history",
            SectionKey::ImplantedDevices => "Implanted devices",
            SectionKey::Goals => "Goals",
            SectionKey::HealthConcerns => "Health concerns",
            SectionKey::Insurance => "Insurance",
        }
    }
}

/// A code with the name shown for it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CodeView {
    /// `SNOMED-CT`, `RxNorm`, `CVX`, `LOINC`, `CDT` or `NPI`.
    pub system: String,
    pub code: String,
    pub display: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Entry {
    /// What it is, coded; `None` for a visit, which has no code.
    pub code: Option<CodeView>,
    /// How it reads: the code's name, or what the entry is when it has no code.
    pub text: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// `YYYY-MM-DD`, or a date-time with the practice's offset for a visit.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub date: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub end_date: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// Who: the provider of a visit or procedure, a care-team member's role.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub performer: Option<String>,
    /// The provider of a visit or procedure as the document names them (NPI, name parts).
    #[serde(skip)]
    pub performed_by: Option<Arc<Provider>>,
    /// An implant's UDI as its label prints it, and read into its parts.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub udi: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub device: Option<Udi>,
    /// A medication's or vaccine's dose and how it is given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dose: Option<Dose>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub route: Option<Route>,
    /// A dental plan the patient is covered by (the Insurance section).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub coverage: Option<Arc<Coverage>>,
    /// When the practice's system last sent it (the document's provenance).
    #[serde(skip)]
    pub recorded_at: Option<String>,
    /// An implant's tooth (Universal numbering).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tooth: Option<String>,
}

impl Entry {
    /// What the readable copies put under "Note": the note, an implant's tooth and UDI, who did it.
    pub fn notes(&self) -> Vec<String> {
        [
            self.note.clone(),
            self.tooth.as_ref().map(|t| format!("tooth {t}")),
            self.udi.as_ref().map(|u| format!("UDI {u}")),
            self.performer.clone(),
        ]
        .into_iter()
        .flatten()
        .collect()
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Section {
    pub key: SectionKey,
    pub title: &'static str,
    pub entries: Vec<Entry>,
}

/// The patient a summary is about, as the document's header names them.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SummaryPatient {
    pub id: String,
    pub name: String,
    pub birthdate: String,
    /// Sex, sex at birth, race and ethnicity as the practice's record has them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sex: Option<Sex>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub birth_sex: Option<BirthSex>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub race: Option<SelfReported>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ethnicity: Option<SelfReported>,
    #[serde(skip)]
    pub record: Arc<Patient>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Summary {
    pub patient: SummaryPatient,
    pub practice_name: String,
    pub from: Option<String>,
    pub to: Option<String>,
    pub sections: Vec<Section>,
    /// Code systems the summary uses that the practice has not imported (names come from the
    /// practice's system meanwhile).
    pub missing_code_systems: Vec<System>,
    /// The care team as the document's header lists them (name, NPI).
    #[serde(skip)]
    pub providers: Vec<Arc<Provider>>,
    /// A minor's guardians the practice's records know, for the document's header.
    #[serde(skip)]
    pub guardians: Vec<(GuardianRelationship, Arc<Patient>)>,
    /// How the practice is reached (its address and phone), for the document's author and
    /// custodian; read only for a document (the view on screen does not need it).
    #[serde(skip)]
    pub practice_contact: Option<Contact>,
}
