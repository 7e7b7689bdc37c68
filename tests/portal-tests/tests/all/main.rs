//! One test binary for the cross-crate suites (fewer, larger test binaries keep link time and disk
//! in check with the AWS SDK).

mod access;
mod authorization;
mod care_summary;
mod code_systems;
mod conformance;
mod e2e;
mod faults;
mod hostile_input;
mod lambda_events;
mod load;
mod modules;
mod pages_api;
mod payments;
mod round_trips;
mod security;
mod stripe;
mod support;
mod sync;
mod webmail;
