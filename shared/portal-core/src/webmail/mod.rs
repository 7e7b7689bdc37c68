//! ModuleWebMail: secure messages between patients and the practice (`mailbox`), and the email
//! that tells the other side a message is waiting (`notify`). A message is stored first and its
//! notification comes after, through the event outbox: a failing mail service never loses or
//! blocks a message, and a notification never carries the message, its subject or anything else
//! about the patient.

pub mod attachments;
pub mod mailbox;
pub mod notify;
