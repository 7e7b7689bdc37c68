//! Automated portal invites: the practice's rules (`rules`), its appointments by time
//! (`calendar`, kept by sync), and the scheduled run that invites each eligible patient exactly
//! once per rule and appointment, with its log for staff (`run`); a rule's email as a sample
//! patient would get it, for staff to check before turning it on (`sample`).

pub mod calendar;
pub mod rules;
pub mod run;
pub mod sample;
