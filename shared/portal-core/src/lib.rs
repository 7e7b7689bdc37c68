//! The patient portal's domain: types, rules, use cases and the ports (traits) that the adapters
//! implement. Nothing here knows about AWS or HTTP; every rule is written once, here, and called from
//! both the Lambda functions and the local host.

pub mod access;
pub mod audit;
pub mod ccda;
pub mod clock;
pub mod code_systems;
pub mod error;
pub mod identity;
pub mod ids;
pub mod invites;
pub mod language;
#[cfg(test)]
mod layers;
pub mod mail_feedback;
pub mod mime;
pub mod patient;
pub mod payments;
pub mod ports;
pub mod practice;
pub mod problems;
pub mod quota;
pub mod reads;
pub mod smime;
pub mod sync;
pub mod table_keys;
pub mod text;
pub mod webmail;

pub use error::{CoreError, CoreResult};
pub use practice::features::Feature;
pub use problems::ProblemCode;
