//! Slowing password guessing without slowing the owner (ASVS 2.2.1). Two counters:
//! - per account: every attempt from an unknown device is counted *before* its password is
//!   checked, with a conditional write so parallel attempts cannot slip past it (a success resets
//!   the count); after [`FREE_FAILURES`] the account waits 1 s, 2 s, 4 s … up to
//!   [`MAX_DELAY_SECONDS`] between such attempts, so a burst gets at most the free attempts
//!   through and a guesser at most one a minute. The owner's known devices (`devices`) skip this
//!   delay: a guesser elsewhere holds back only other unknown devices, and for a minute at most;
//! - per address: [`ADDRESS_MAX_FAILURES`] failed *or held-back* attempts in a
//!   [`ADDRESS_WINDOW_SECONDS`] window stop that address (the attacker's, not the owner's) until
//!   the window ends — an atomic count, so no attempt goes uncounted.
//!
//! Nothing here locks an account: there is no state an attacker can put an account in that keeps
//! its owner out of a known device at all, or out of a new one for longer than the delay.

use crate::ids::PracticeId;
use crate::ports::{Cond, Db, Item, TableError};
use crate::quota::Quota;
use crate::table_keys;
use crate::CoreResult;
use serde::{Deserialize, Serialize};

pub const FREE_FAILURES: u32 = 5;
pub const MAX_DELAY_SECONDS: i64 = 60;
pub const ADDRESS_WINDOW_SECONDS: i64 = 15 * 60;
pub const ADDRESS_MAX_FAILURES: u32 = 30;
/// Failed and held-back attempts per address.
const PER_ADDRESS: Quota = Quota { name: "login-address", limit: ADDRESS_MAX_FAILURES as i64, window_seconds: ADDRESS_WINDOW_SECONDS };
/// How long an account's count is remembered after its last attempt.
const ACCOUNT_MEMORY_SECONDS: i64 = 24 * 60 * 60;

/// Whether an attempt may be checked now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Go,
    /// Too soon after failures on this account, or too many from this address.
    Wait,
}

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Counter {
    count: u32,
    last_at: i64,
}

/// The wait after `failures` counted attempts.
pub fn delay_after(failures: u32) -> i64 {
    if failures < FREE_FAILURES {
        0
    } else {
        1i64.checked_shl(failures - FREE_FAILURES).unwrap_or(i64::MAX).min(MAX_DELAY_SECONDS)
    }
}

pub struct Throttle<'a> {
    pub db: Db<'a>,
}

impl Throttle<'_> {
    /// Takes an attempt on `account` (e.g. `patient#alex.morgan`) from `address`, on a known
    /// device of the account or not: refused ([`Verdict::Wait`]) while the address's limit holds,
    /// or — from an unknown device — while the account's delay does (and then counted against the
    /// address); otherwise counted on the account (unknown devices only) and let through.
    pub async fn begin(&self, practice: &PracticeId, account: &str, address: Option<&str>, known_device: bool) -> CoreResult<Verdict> {
        if let Some(a) = address {
            if PER_ADDRESS.used_up(self.db.table, self.db.clock, practice, a).await? {
                return Ok(Verdict::Wait);
            }
        }
        if known_device {
            return Ok(Verdict::Go);
        }
        let key = table_keys::throttle_account(account);
        let now = self.db.clock.now();
        for _ in 0..8 {
            let (c, version) = self.read(practice, &key).await?;
            if c.count >= FREE_FAILURES && now < c.last_at.saturating_add(delay_after(c.count)) {
                // Held back: it counts against the address it came from all the same.
                self.failed(practice, address).await?;
                return Ok(Verdict::Wait);
            }
            let next = Counter { count: c.count.saturating_add(1), last_at: now };
            if self.write(practice, &key, &next, version, now + ACCOUNT_MEMORY_SECONDS).await? {
                return Ok(Verdict::Go);
            }
        }
        // Contended beyond reason: many attempts at the same instant are an attack.
        Ok(Verdict::Wait)
    }

    /// The attempt succeeded: the account starts afresh.
    pub async fn succeeded(&self, practice: &PracticeId, account: &str) -> CoreResult<()> {
        self.db.table.delete(&table_keys::practice(practice), &table_keys::throttle_account(account), Cond::None).await?;
        Ok(())
    }

    /// The attempt failed (or was held back): counted against its address.
    pub async fn failed(&self, practice: &PracticeId, address: Option<&str>) -> CoreResult<()> {
        let Some(a) = address else { return Ok(()) };
        PER_ADDRESS.count(self.db.table, self.db.clock, practice, a).await?;
        Ok(())
    }

    async fn read(&self, practice: &PracticeId, sk: &str) -> CoreResult<(Counter, u64)> {
        Ok(match self.db.table.get(&table_keys::practice(practice), sk).await? {
            Some(item) => (item.parse().unwrap_or_default(), item.version),
            None => (Counter::default(), 0),
        })
    }

    /// A conditional write on the version read; `false` when another attempt wrote first.
    async fn write(&self, practice: &PracticeId, sk: &str, c: &Counter, version: u64, expires: i64) -> CoreResult<bool> {
        let data = serde_json::to_value(c).map_err(crate::CoreError::backend)?;
        let item = Item::new(table_keys::practice(practice), sk, data).with_version(version + 1).expiring_at(expires);
        let cond = if version == 0 { Cond::Absent } else { Cond::Version(version) };
        match self.db.table.put(item, cond).await {
            Ok(()) => Ok(true),
            Err(TableError::ConditionFailed) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_grow_and_stop_at_a_minute() {
        assert_eq!((0..FREE_FAILURES).map(delay_after).sum::<i64>(), 0);
        assert_eq!(delay_after(FREE_FAILURES), 1);
        assert_eq!(delay_after(FREE_FAILURES + 3), 8);
        assert_eq!(delay_after(FREE_FAILURES + 20), MAX_DELAY_SECONDS);
        assert_eq!(delay_after(u32::MAX), MAX_DELAY_SECONDS);
    }
}
