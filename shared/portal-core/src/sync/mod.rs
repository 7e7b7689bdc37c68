//! Everything about the practice's own system talking to the portal: signed requests and sync
//! keys (`signing`), the entities it sends (`entities`), how they are stored (`store`), read back
//! by modules (`records`) and changed by the portal itself (`changes`), the index entries kept
//! beside some records in the record's own transaction (`roster`: patients for staff search;
//! `calendar`: appointments by time for the invites), the use cases of the sync API (`service`),
//! and the event outbox that carries what patients did back to the practice (`outbox`), with the
//! events it carries (`events`).

pub mod calendar;
pub mod changes;
pub mod entities;
pub mod events;
pub mod outbox;
pub mod records;
pub mod roster;
pub mod service;
pub mod signing;
pub mod store;
pub mod thumbnail;

pub use entities::Entity;
