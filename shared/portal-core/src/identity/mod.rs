//! Who is who: logins and credentials (`auth`), password rules and hashing (`password`), sessions
//! (`session`), staff second factor (`totp`), slowing password guessing (`throttle`), and creating
//! practices and their logins (`provision`).

pub mod auth;
pub mod password;
pub mod provision;
pub mod session;
pub mod throttle;
pub mod totp;
