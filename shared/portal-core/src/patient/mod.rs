//! The patient modules' use cases — account, treatment plans, images, appointments — over what
//! the practice's system synced. Every read goes the same way (`crate::reads::Reads`): the family rule picks
//! the patient the request is about (no table read for oneself, one for a family member), the
//! records come in one query, and the read is audited with whose data it was: three table requests
//! at most (a family member's due recalls need a fourth, the practice's open slots). Provider names
//! come from a per-container cache ([`ProviderNames`]).

pub mod account;
pub mod appointments;
pub mod care_summary;
pub mod images;
pub mod profile;
mod providers;
pub mod treatment_plans;

pub use providers::{ProviderNames, ProviderView};
