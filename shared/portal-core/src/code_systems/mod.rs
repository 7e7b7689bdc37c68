//! Code systems: the check digits of the codes clinical data may use (`checks`), the release files
//! a practice imports for their display names (`formats`, `releases`), the import itself as
//! split → batches → finish (`import`), and looking names up in the active version (`terms`).

mod checks;
pub mod formats;
pub mod import;
pub mod releases;
pub mod terms;

pub use checks::*;

use crate::ProblemCode;
use serde::{Deserialize, Serialize};

/// A code system the portal names (its sync spelling is the serde name).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum System {
    #[serde(rename = "SNOMED-CT")]
    SnomedCt,
    #[serde(rename = "RxNorm")]
    RxNorm,
    #[serde(rename = "CVX")]
    Cvx,
    #[serde(rename = "LOINC")]
    Loinc,
    #[serde(rename = "CDT")]
    Cdt,
}

impl System {
    /// The systems a practice can import a release of.
    pub const IMPORTABLE: [System; 5] = [System::SnomedCt, System::RxNorm, System::Cvx, System::Loinc, System::Cdt];

    /// The spelling in synced data and the API (`SNOMED-CT`).
    pub fn name(self) -> &'static str {
        match self {
            System::SnomedCt => "SNOMED-CT",
            System::RxNorm => "RxNorm",
            System::Cvx => "CVX",
            System::Loinc => "LOINC",
            System::Cdt => "CDT",
        }
    }

    /// A system a release can be imported of, by its name; anything else is refused.
    pub fn importable(name: &str) -> crate::CoreResult<System> {
        System::parse(name)
            .filter(|s| System::IMPORTABLE.contains(s))
            .ok_or_else(|| crate::CoreError::invalid(ProblemCode::CodeSystemUnknown, "system: one of SNOMED-CT, RxNorm, CVX, LOINC, CDT."))
    }

    pub fn parse(s: &str) -> Option<System> {
        [System::SnomedCt, System::RxNorm, System::Cvx, System::Loinc, System::Cdt].into_iter().find(|x| x.name() == s)
    }

    /// Its HL7 OID, as a C-CDA `codeSystem`.
    pub fn oid(self) -> &'static str {
        match self {
            System::SnomedCt => "2.16.840.1.113883.6.96",
            System::RxNorm => "2.16.840.1.113883.6.88",
            System::Cvx => "2.16.840.1.113883.12.292",
            System::Loinc => "2.16.840.1.113883.6.1",
            System::Cdt => "2.16.840.1.113883.6.13",
        }
    }

    /// How people write it.
    pub fn title(self) -> &'static str {
        match self {
            System::SnomedCt => "SNOMED CT",
            System::RxNorm => "RxNorm",
            System::Cvx => "CVX",
            System::Loinc => "LOINC",
            System::Cdt => "CDT",
        }
    }
}
