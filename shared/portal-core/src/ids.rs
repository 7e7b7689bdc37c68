//! Random identifiers and secrets, always from the operating system's CSPRNG, and comparing
//! secrets in constant time; the payment id's format lives here too, since a synced ledger line
//! names a payment by it.

use base64::Engine;
use rand::RngCore;

pub fn random_bytes<const N: usize>() -> [u8; N] {
    let mut b = [0u8; N];
    // ThreadRng is a ChaCha CSPRNG seeded from the OS and reseeded periodically.
    rand::rng().fill_bytes(&mut b);
    b
}

/// A short opaque id (128 bits, hex) for items that need one.
pub fn new_id() -> String {
    hex::encode(random_bytes::<16>())
}

/// A new payment id: the creation second first (ids sort by age), then 64 random bits; 26 hex
/// digits.
pub fn new_payment_id(now: i64) -> String {
    format!("{:010x}{}", now.max(0), &new_id()[..16])
}

/// Whether `id` could be a payment id (checked before it reaches a key; a synced ledger line names one too).
pub fn is_payment_id(id: &str) -> bool {
    id.len() == 26 && id.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// URL-safe base64 without padding.
pub fn b64url(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

pub fn b64url_decode(s: &str) -> Option<Vec<u8>> {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(s).ok()
}

/// The rule for practice ids and usernames: lower-case letters, digits, `.`, `-`, `_`; 2–64
/// characters. Table keys are built from these, so nothing else may reach them.
fn is_slug(s: &str) -> bool {
    (2..=64).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-' || b == b'_')
}

/// Declares an id type that can only hold a value its rule accepts: checked once where it enters
/// (`parse`, or deserializing), then passed around as itself and read as a `&str`.
macro_rules! checked_id {
    ($(#[$doc:meta])* $name:ident, $rule:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// The value if it follows the rule.
            pub fn parse(s: &str) -> Option<Self> {
                let rule: fn(&str) -> bool = $rule;
                rule(s).then(|| $name(s.to_string()))
            }
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl std::ops::Deref for $name {
            type Target = str;
            fn deref(&self) -> &str {
                &self.0
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl From<&$name> for String {
            fn from(id: &$name) -> String {
                id.0.clone()
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                $name::parse(&s).ok_or_else(|| serde::de::Error::custom(concat!("not a valid ", stringify!($name))))
            }
        }
    };
}

checked_id!(
    /// A practice's id (`lakeside`): the first part of every table key of the practice.
    PracticeId,
    is_slug
);

checked_id!(
    /// A login's username, in its stored (lower-case) form.
    Username,
    is_slug
);

impl Username {
    /// A username as someone typed it (any case, spaces around), in its stored form, if the
    /// rule accepts it.
    pub fn normalized(typed: &str) -> Option<Username> {
        Username::parse(&typed.trim().to_lowercase())
    }
}

checked_id!(
    /// An outbox event's id, `{micros:016}#{random:16 hex}`: ordered by time, unique; also the
    /// cursor the practice's system pages with.
    EventId,
    |s| {
        s.len() == 33
            && s.as_bytes()[16] == b'#'
            && s[..16].bytes().all(|b| b.is_ascii_digit())
            && s[17..].bytes().all(|b| b.is_ascii_hexdigit())
    }
);

checked_id!(
    /// A sync key's id, `{practice}.{24 lower-case hex}`: it names the practice it belongs to.
    SyncKeyId,
    |s| {
        s.split_once('.').is_some_and(|(practice, random)| {
            is_slug(practice) && random.len() == 24 && random.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        })
    }
);

impl SyncKeyId {
    /// The practice the key belongs to.
    pub fn practice(&self) -> &str {
        self.0.split_once('.').map_or("", |(p, _)| p)
    }
}

/// Whether two secrets (codes, signatures) are equal, in time that does not depend on where they
/// first differ.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    use subtle::ConstantTimeEq;
    a.ct_eq(b).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_checked_once_where_they_enter() {
        assert!(PracticeId::parse("lakeside").is_some());
        for bad in ["L", "Lakeside", "lake side", "x/y", &"a".repeat(65)] {
            assert!(PracticeId::parse(bad).is_none(), "{bad}");
        }
        assert!(serde_json::from_str::<PracticeId>("\"a#b\"").is_err());
        let key = SyncKeyId::parse("lakeside.0123456789abcdef01234567").unwrap();
        assert_eq!(key.practice(), "lakeside");
        assert!(SyncKeyId::parse("lakeside.0123").is_none() && SyncKeyId::parse("LAKESIDE.0123456789abcdef01234567").is_none());
        assert!(EventId::parse("0001795000000000#0123456789abcdef").is_some());
        assert!(EventId::parse("garbage").is_none());
    }
}
