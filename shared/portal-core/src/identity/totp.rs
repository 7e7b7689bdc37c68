//! TOTP (RFC 6238: HMAC-SHA1, 30 s steps, 6 digits) for the staff second factor, and enrolling an
//! authenticator app: the `otpauth://` URI and its QR code (as module rows the page draws itself,
//! so no image service ever sees the secret).

use crate::ids::constant_time_eq;
use hmac::{Hmac, Mac};

pub const STEP: i64 = 30;

/// A fresh 160-bit secret in base32 (what authenticator apps take).
pub fn generate_secret() -> String {
    data_encoding::BASE32_NOPAD.encode(&crate::ids::random_bytes::<20>())
}

/// The 6-digit code for `secret_b32` at time step `counter`.
pub fn code_at(secret_b32: &str, counter: u64) -> Option<String> {
    let key = data_encoding::BASE32_NOPAD.decode(secret_b32.trim_end_matches('=').as_bytes()).ok()?;
    let mut mac = Hmac::<sha1::Sha1>::new_from_slice(&key).ok()?;
    mac.update(&counter.to_be_bytes());
    let digest = mac.finalize().into_bytes();
    let offset = usize::from(digest[19] & 0x0f);
    let bin = u32::from_be_bytes([digest[offset] & 0x7f, digest[offset + 1], digest[offset + 2], digest[offset + 3]]);
    Some(format!("{:06}", bin % 1_000_000))
}

pub fn code_now(secret_b32: &str, now: i64) -> Option<String> {
    code_at(secret_b32, step_at(now)?)
}

/// The time step `now` (unix seconds) falls in; none before 1970.
pub fn step_at(now: i64) -> Option<u64> {
    u64::try_from(now / STEP).ok()
}

/// Accepts the code of the current step or one step either side (clock drift). Answers the step
/// that matched, so a caller can refuse a code used before (replay).
pub fn verify(secret_b32: &str, code: &str, now: i64) -> Option<u64> {
    if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let current = step_at(now)?;
    (current.saturating_sub(1)..=current + 1)
        .find(|s| code_at(secret_b32, *s).is_some_and(|c| constant_time_eq(c.as_bytes(), code.as_bytes())))
}

/// An authenticator enrolment to show once: the URI, the key for typing in, and its QR code.
#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Enrolment {
    pub otpauth_uri: String,
    pub secret: String,
    /// The QR code as rows of `0`/`1`.
    pub qr: Vec<String>,
}

/// The enrolment of `secret` for `account`, issued by the practice (its id when it has no name).
pub fn enrolment(practice_name: &str, practice_id: &str, account: &str, secret: &str) -> Option<Enrolment> {
    let issuer = if practice_name.trim().is_empty() { practice_id } else { practice_name.trim() };
    let otpauth_uri = otpauth_uri(issuer, account, secret);
    let qr = qr_rows(&otpauth_uri)?;
    Some(Enrolment { otpauth_uri, secret: secret.into(), qr })
}

/// The `otpauth://totp/…` URI authenticator apps scan: the issuer (the practice) and account name.
pub fn otpauth_uri(issuer: &str, account: &str, secret_b32: &str) -> String {
    let enc = |s: &str| -> String {
        s.bytes()
            .map(|b| if b.is_ascii_alphanumeric() || b"-._~".contains(&b) { (b as char).to_string() } else { format!("%{b:02X}") })
            .collect()
    };
    format!(
        "otpauth://totp/{}:{}?secret={secret_b32}&issuer={}&algorithm=SHA1&digits=6&period={STEP}",
        enc(issuer),
        enc(account),
        enc(issuer)
    )
}

/// The QR code of `text` as rows of `0`/`1` (dark = 1), quiet zone not included.
pub fn qr_rows(text: &str) -> Option<Vec<String>> {
    let qr = qrcodegen::QrCode::encode_text(text, qrcodegen::QrCodeEcc::Medium).ok()?;
    let n = qr.size();
    Some((0..n).map(|y| (0..n).map(|x| if qr.get_module(x, y) { '1' } else { '0' }).collect()).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc6238_sha1_vectors() {
        // RFC 6238 appendix B, secret "12345678901234567890", 8-digit codes truncated to 6.
        let secret = data_encoding::BASE32_NOPAD.encode(b"12345678901234567890");
        assert_eq!(code_at(&secret, 59 / 30).unwrap(), "287082");
        assert_eq!(code_at(&secret, 1111111109 / 30).unwrap(), "081804");
        assert_eq!(code_at(&secret, 1234567890 / 30).unwrap(), "005924");
        assert_eq!(code_at(&secret, 2000000000 / 30).unwrap(), "279037");
    }

    #[test]
    fn enrolment_uri_and_qr() {
        let uri = otpauth_uri("Lakeside Dental", "desk@lakeside", "ABC");
        assert_eq!(
            uri,
            "otpauth://totp/Lakeside%20Dental:desk%40lakeside?secret=ABC&issuer=Lakeside%20Dental&algorithm=SHA1&digits=6&period=30"
        );
        let rows = qr_rows(&uri).unwrap();
        assert!(rows.len() >= 21 && rows.iter().all(|r| r.len() == rows.len()));
        assert!(rows[0].starts_with("1111111"), "a finder pattern in the corner");
    }

    #[test]
    fn verify_allows_one_step_of_drift_only() {
        let s = generate_secret();
        let now = 1_700_000_000;
        let code = code_now(&s, now).unwrap();
        assert!(verify(&s, &code, now).is_some());
        assert!(verify(&s, &code, now + 30).is_some());
        assert!(verify(&s, &code, now + 90).is_none());
        assert!(verify(&s, "12345", now).is_none());
    }
}
