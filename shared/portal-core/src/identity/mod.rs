//! Who is who: logging in (`login`) and the stored credentials (`credentials`), password rules and
//! hashing (`password`), sessions (`session`), authenticator codes (`totp`) and patients' optional
//! second factor (`mfa`), slowing password guessing (`throttle`) without slowing owners on their
//! known devices (`devices`), forgotten passwords (`recovery`), creating practices and their
//! logins (`provision`), the logins staff give patients (`patient_access`), the practice's staff
//! users (`staff_users`), and names for the ids the audit log keeps (`display_names`).

pub mod credentials;
pub mod devices;
pub mod display_names;
pub mod login;
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
