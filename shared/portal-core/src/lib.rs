//! The patient portal's domain: types, rules, use cases and the ports (traits) that the adapters
//! implement. Nothing here knows about AWS or HTTP; every rule is written once, here, and called from
//! both the Lambda functions and the local host.

pub mod access;
pub mod audit;
pub mod auth;
pub mod clock;
pub mod code_systems;
pub mod error;
pub mod family;
pub mod features;
pub mod ids;
pub mod keys;
pub mod mime;
pub mod password;
pub mod ports;
pub mod problems;
pub mod provision;
pub mod session;
pub mod settings;
pub mod sync;
pub mod throttle;
pub mod totp;
pub mod url_policy;

pub use error::{CoreError, CoreResult};
pub use features::Feature;
