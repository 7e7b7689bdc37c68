//! Quotas: at most `limit` uses of something per key in a fixed window — reset mails per login
//! per hour, care summaries sent per patient per day, attachments declared per sender per day.
//! A use is one atomic count that answers the number it left (`Table::add`): requests at the
//! same moment never conflict (no conditional write to lose), each sees its own number, so
//! exactly `limit` of them get through. Refused uses count too; the window is fixed, so it ends
//! all the same.

use crate::ids::PracticeId;
use crate::ports::{count_of, Clock, Table};
use crate::table_keys;
use crate::CoreResult;

#[derive(Debug, Clone, Copy)]
pub struct Quota {
    /// Names the quota in its counters' keys.
    pub name: &'static str,
    pub limit: i64,
    pub window_seconds: i64,
}

impl Quota {
    /// Counts one use by `key` (a login, a patient, an address) in the current window; `true`
    /// while the uses in the window, this one included, are within the limit.
    pub async fn take(&self, table: &dyn Table, clock: &dyn Clock, practice: &PracticeId, key: &str) -> CoreResult<bool> {
        Ok(self.count(table, clock, practice, key).await? <= self.limit)
    }

    /// Counts one use by `key`; answers the uses in the window so far, this one included.
    pub async fn count(&self, table: &dyn Table, clock: &dyn Clock, practice: &PracticeId, key: &str) -> CoreResult<i64> {
        let window = clock.now().div_euclid(self.window_seconds);
        let expires_at = Some((window + 1) * self.window_seconds);
        Ok(table.add(&table_keys::practice(practice), &table_keys::quota(self.name, key, window), 1, expires_at).await?)
    }

    /// Whether `key` has used up the quota in the current window (a read; counts nothing).
    pub async fn used_up(&self, table: &dyn Table, clock: &dyn Clock, practice: &PracticeId, key: &str) -> CoreResult<bool> {
        let window = clock.now().div_euclid(self.window_seconds);
        Ok(count_of(table.get(&table_keys::practice(practice), &table_keys::quota(self.name, key, window)).await?.as_ref()) >= self.limit)
    }
}
