//! Automated portal invites: the practice's rules (`rules`), and the scheduled run (over the
//! appointments by time that sync keeps, `crate::sync::calendar`) that invites each eligible patient exactly
//! once per rule and appointment, with its log for staff (`run`); a rule's email as a sample
//! patient would get it, for staff to check before turning it on (`sample`).

pub mod rules;
pub mod run;
pub mod sample;
