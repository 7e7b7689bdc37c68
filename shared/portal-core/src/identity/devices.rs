//! Known devices (OWASP's "device cookies"): each successful login gives the browser a random
//! token for that login, kept in a cookie; only its SHA-256 is stored. A login from a known
//! device is not held back by the account's delay (`throttle`), so someone guessing at an
//! account from elsewhere slows themselves down, not its owner. A device earns that trust only by
//! a successful login, and loses it after [`MAX_FAILURES`] wrong passwords typed on it (a stolen
//! cookie buys a handful of guesses, never an unthrottled run). A token is good for one login
//! (account) and for [`DEVICE_SECONDS`].

use crate::identity::session::hash_token;
use crate::ids::PracticeId;
use crate::ports::{count_of, Db, Item};
use crate::table_keys;
use crate::CoreResult;
use serde::{Deserialize, Serialize};

/// How long a browser stays a known device after the login that made it one.
pub const DEVICE_SECONDS: i64 = 180 * 24 * 60 * 60;
/// Wrong passwords typed on a known device before it is known no more.
pub const MAX_FAILURES: i64 = 5;

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Device {
    account: String,
}

pub struct Devices<'a> {
    pub db: Db<'a>,
}

impl Devices<'_> {
    /// A new device token for `account` (e.g. `patient#alex.morgan`), for the browser's cookie.
    pub async fn issue(&self, practice: &PracticeId, account: &str) -> CoreResult<String> {
        let token = crate::ids::b64url(&crate::ids::random_bytes::<32>());
        let data = serde_json::to_value(Device { account: account.into() }).map_err(crate::CoreError::backend)?;
        let item = Item::new(table_keys::practice(practice), table_keys::device(&hash_token(&token)), data)
            .expiring_at(self.db.clock.now() + DEVICE_SECONDS);
        crate::ports::put_fresh(self.db.table, item).await?;
        Ok(token)
    }

    /// Whether `token` is a known device of `account`.
    pub async fn knows(&self, practice: &PracticeId, account: &str, token: &str) -> CoreResult<bool> {
        let pk = table_keys::practice(practice);
        let hash = hash_token(token);
        let (device_sk, failures_sk) = (table_keys::device(&hash), table_keys::device_failures(&hash));
        let (device, failures) = futures_util::future::join(self.db.table.get(&pk, &device_sk), self.db.table.get(&pk, &failures_sk)).await;
        let Some(device) = device? else { return Ok(false) };
        Ok(device.parse::<Device>()?.account == account && count_of(failures?.as_ref()) < MAX_FAILURES)
    }

    /// A wrong password typed on the device `token` (an atomic count beside the device).
    pub async fn failed(&self, practice: &PracticeId, token: &str) -> CoreResult<()> {
        let expires_at = Some(self.db.clock.now() + DEVICE_SECONDS);
        self.db.table.add(&table_keys::practice(practice), &table_keys::device_failures(&hash_token(token)), 1, expires_at).await?;
        Ok(())
    }
}
