//! Who is who: logins and credentials (`auth`), password rules and hashing (`password`), sessions
//! (`session`), staff second factor (`totp`), slowing password guessing (`throttle`), creating
//! practices and their logins (`provision`), and the logins staff give patients (`patient_access`).

pub mod auth;
pub mod password;
pub mod patient_access;
pub mod provision;
pub mod session;
pub mod throttle;
pub mod totp;
