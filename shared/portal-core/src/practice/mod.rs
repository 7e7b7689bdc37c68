//! What a practice decides: which features its patients get (`features`), its settings with their
//! validation (`settings`), whose data a patient may see (`family`), and the rules for the URLs it
//! enters (`url_policy`), and names for the ids its records keep (`directory`).

pub mod directory;
pub mod family;
pub mod features;
pub mod settings;
pub mod url_policy;
