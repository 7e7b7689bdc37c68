//! Random identifiers and secrets, always from the operating system's CSPRNG, and comparing
//! secrets in constant time.

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

/// URL-safe base64 without padding.
pub fn b64url(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

pub fn b64url_decode(s: &str) -> Option<Vec<u8>> {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(s).ok()
}

/// A practice id or username: lower-case letters, digits, `.`, `-`, `_`; 2–64 characters. Keys of
/// the table are built from these, so nothing else may reach them.
pub fn is_valid_slug(s: &str) -> bool {
    (2..=64).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-' || b == b'_')
}

/// Whether two secrets (codes, signatures) are equal, in time that does not depend on where they
/// first differ.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
