//! What the practice's system sends, one typed read model per entity (one file each, its
//! validation beside it). A body that does not fit is refused with the field and the rule it broke;
//! nothing unknown is stored. Modules read these same types back (see `sync::records`), so no
//! module indexes JSON by string.

mod appointment;
mod clinical;
mod coverage;
mod demographics;
mod document;
mod file;
mod ledger;
mod patient;
mod provider;
mod recall;
pub(crate) mod rules;
mod slot;
mod statement;
mod treatment_plan;
pub mod udi;

pub use appointment::{Appointment, AppointmentStatus, ChangeKind, ChangeRequest, Confirmation};
pub use clinical::{ClinicalEntry, ClinicalKind, ClinicalStatus, Code, Dose, Route, SMOKING_STATUSES};
pub use coverage::{Coverage, CoverageOrder, PlanType, SubscriberRelationship};
pub use demographics::{BirthSex, DetailedCode, SelfReported, Sex, CDC_RACE_ETHNICITY, ETHNICITY_CATEGORIES, RACE_CATEGORIES};
pub use document::Document;
pub(crate) use file::check_file;
pub use file::{bytes_match_type, check_upload, FileMeta, FileStatus, FILE_TYPES, MAX_FILE_BYTES};
pub use ledger::{LedgerEntry, LedgerKind};
pub use patient::{Address, Guardian, GuardianRelationship, OptOuts, Patient, Phone, PhoneKind};
pub use provider::Provider;
pub use recall::{Recall, RecallStatus};
pub use rules::{check_id, last_modified_ms};
pub use slot::Slot;
pub use statement::Statement;
pub use treatment_plan::{PlannedProcedure, ProcedureStatus, TreatmentPlan, TreatmentPlanStatus};

use crate::{CoreError, CoreResult, ProblemCode};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Entity {
    Patients,
    Providers,
    Appointments,
    Recalls,
    Slots,
    Ledger,
    Statements,
    TreatmentPlans,
    Clinical,
    Documents,
    Coverages,
}

impl Entity {
    pub const ALL: [Entity; 11] = [
        Entity::Patients,
        Entity::Providers,
        Entity::Appointments,
        Entity::Recalls,
        Entity::Slots,
        Entity::Ledger,
        Entity::Statements,
        Entity::TreatmentPlans,
        Entity::Clinical,
        Entity::Documents,
        Entity::Coverages,
    ];

    /// The name in the URL (`/v1/sync/{entity}/{id}`) and in table keys.
    pub fn name(self) -> &'static str {
        match self {
            Entity::Patients => "patients",
            Entity::Providers => "providers",
            Entity::Appointments => "appointments",
            Entity::Recalls => "recalls",
            Entity::Slots => "slots",
            Entity::Ledger => "ledger",
            Entity::Statements => "statements",
            Entity::TreatmentPlans => "treatment-plans",
            Entity::Clinical => "clinical",
            Entity::Documents => "documents",
            Entity::Coverages => "coverages",
        }
    }

    pub fn parse(name: &str) -> CoreResult<Entity> {
        Entity::ALL.into_iter().find(|e| e.name() == name).ok_or_else(|| {
            let names: Vec<&str> = Entity::ALL.iter().map(|e| e.name()).collect();
            CoreError::invalid(
                ProblemCode::EntityUnknown,
                format!("'{}' is not a sync entity; use one of {}.", name.chars().take(40).collect::<String>(), names.join(", ")),
            )
        })
    }

    /// Entities that come with a file the system uploads to a presigned URL.
    pub fn has_file(self) -> bool {
        matches!(self, Entity::Statements | Entity::Documents)
    }
}

/// Where a record is found by the modules: the patient (or family) partition of the index and the
/// date it sorts by there. Records nobody owns (providers, slots) are read by key or by practice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Placement {
    /// A patient's own data (appointments, plans, clinical entries, documents) or an account's
    /// (ledger lines and statements sit with the guarantor), sorted by `date` (`YYYY-MM-DD…`).
    Patient { patient_id: String, date: String },
    /// A patient record, filed under its family (the guarantor), so one query reads a family.
    Family { guarantor_id: String },
    /// Read by practice: providers, and open slots sorted by their start.
    Practice { date: Option<String> },
}

/// One synced entity type: its shape, its rules and where modules find it.
pub trait Record: Serialize + DeserializeOwned + Clone + Send + Sync + 'static {
    const ENTITY: Entity;
    /// The rules beyond the shape (serde has checked the shape and refused unknown fields).
    fn check(&self) -> CoreResult<()>;
    /// The index partition and sort date modules read it by; `id` is the entity's own id.
    fn placement(&self, id: &str) -> Placement;
    /// The file that comes with it (statements, documents).
    fn file(&self) -> Option<&FileMeta> {
        None
    }
}

/// An entity as validated: its normalized fields, where it is placed and its file.
#[derive(Debug, Clone, PartialEq)]
pub struct Validated {
    pub fields: Value,
    pub placement: Placement,
    pub file: Option<FileMeta>,
}

fn validated<T: Record>(body: Value, id: &str) -> CoreResult<Validated> {
    let t: T = serde_json::from_value(body).map_err(|e| CoreError::invalid(ProblemCode::FieldInvalid, e.to_string()))?;
    t.check()?;
    Ok(Validated { fields: serde_json::to_value(&t).map_err(CoreError::backend)?, placement: t.placement(id), file: t.file().cloned() })
}

/// Validates an entity's fields (the body without `lastModified`).
pub fn validate(entity: Entity, id: &str, body: Value) -> CoreResult<Validated> {
    match entity {
        Entity::Patients => validated::<Patient>(body, id),
        Entity::Providers => validated::<Provider>(body, id),
        Entity::Appointments => validated::<Appointment>(body, id),
        Entity::Recalls => validated::<Recall>(body, id),
        Entity::Slots => validated::<Slot>(body, id),
        Entity::Ledger => validated::<LedgerEntry>(body, id),
        Entity::Statements => validated::<Statement>(body, id),
        Entity::TreatmentPlans => validated::<TreatmentPlan>(body, id),
        Entity::Clinical => validated::<ClinicalEntry>(body, id),
        Entity::Documents => validated::<Document>(body, id),
        Entity::Coverages => validated::<Coverage>(body, id),
    }
}
