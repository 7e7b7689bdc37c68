//! Who is who: logins and credentials (`auth`), password rules and hashing (`password`), sessions
//! (`session`), authenticator codes (`totp`) and patients' optional second factor (`mfa`),
//! slowing password guessing (`throttle`) without slowing owners on their known devices
//! (`devices`), forgotten passwords (`recovery`), creating practices
//! and their logins (`provision`), the logins staff give patients (`patient_access`), and the
//! practice's staff users (`staff_users`).

pub mod auth;
pub mod devices;
pub mod mfa;
pub mod notices;
pub mod password;
pub mod patient_access;
pub mod provision;
pub mod recovery;
pub mod session;
pub mod staff_users;
pub mod throttle;
pub mod totp;
