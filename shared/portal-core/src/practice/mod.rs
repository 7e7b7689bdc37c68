//! What a practice decides: which features its patients get (`features`), its settings with their
//! validation (`settings`), whose data a patient may see (`family`), the rules for the URLs it
//! enters (`url_policy`), and the addresses care summaries may be sent to (`direct_recipients`).

pub mod direct_recipients;
pub mod family;
pub mod features;
pub mod settings;
pub mod url_policy;
