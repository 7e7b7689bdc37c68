//! Port adapters for one machine (local mode and tests): a SQLite table, a directory of blobs with
//! HMAC-signed URLs, an `.eml` outbox, in-process events and the import workflow run in process. Same semantics as `portal-aws`; the
//! conformance suite holds both to it.

mod blobs;
mod events;
mod mailer;
mod secrets;
mod table;
mod test_processor;
mod workflows;

pub use blobs::{blob_routes, DirBlobs};
pub use events::InProcessEvents;
pub use mailer::OutboxMailer;
pub use secrets::LocalSecretBox;
pub use table::SqliteTable;
pub use test_processor::{test_processor_routes, TestProcessor};
pub use workflows::InProcessWorkflows;
