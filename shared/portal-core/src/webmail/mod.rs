//! ModuleWebMail: secure messages between patients and the practice (`mailbox`), and the email
//! that tells the other side a message is waiting (`notify`). A message is stored first and its
//! notification comes after, through the event outbox: a failing mail service never loses or
//! blocks a message, and a notification never carries the message, its subject or anything else
//! about the patient.

/// The one rule for the ids WebMail makes (threads, message stamps, attachments): 1–40 letters
/// and digits. Anything else a client sends is no id of ours (404).
pub(crate) fn is_token(s: &str) -> bool {
    !s.is_empty() && s.len() <= 40 && s.bytes().all(|b| b.is_ascii_alphanumeric())
}

pub mod attachments;
pub mod mailbox;
pub mod notify;
