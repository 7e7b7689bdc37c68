//! What a practice decides: which features its patients get (`features`), its settings with their
//! validation (`settings`), whose data a patient may see (`family`), and the rules for the URLs it
//! enters (`url_policy`), names for the ids its records keep (`directory`), and its patient roster
//! for staff (`roster`).

pub mod direct_recipients;
pub mod directory;
pub mod family;
pub mod features;
pub mod roster;
pub mod settings;
pub mod url_policy;
