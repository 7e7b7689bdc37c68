//! The rules for text people and systems send that travels on (into email, onto pages, into the
//! practice's records): plain text without control characters, plain email addresses, and the
//! `[Tag]`s templates may use. Written once; settings, invite rules and synced entities use them.
//! Also how an optional field of a request body is read: left out, or a value — never `null`.

use crate::{CoreError, CoreResult, ProblemCode};

/// For `#[serde(default, deserialize_with = "present")]` on an `Option`: a field a request may
/// leave out, but not send as `null` (the contract gives a value or leaves the field out).
pub fn present<'de, D: serde::Deserializer<'de>, T: serde::Deserialize<'de>>(d: D) -> Result<Option<T>, D::Error> {
    T::deserialize(d).map(Some)
}

/// The longest email address (RFC 5321).
pub const EMAIL_MAX: usize = 254;

/// Whether `s` is plain text: no control characters (NUL, VT, FF, NEL, …), no Unicode line or
/// paragraph separators, and no noncharacters (U+FFFE, U+FFFF, U+FDD0–U+FDEF, …: never text, and
/// U+FFFE/U+FFFF cannot stand in XML at all, so a care summary holding them would not be a
/// document); with `multiline`, line breaks and tabs are allowed.
pub fn is_plain_text(s: &str, multiline: bool) -> bool {
    !s.chars().any(|c| {
        let line_break = matches!(c, '\n' | '\r' | '\t');
        (c.is_control() && !(multiline && line_break)) || matches!(c, '\u{2028}' | '\u{2029}') || is_noncharacter(c)
    })
}

/// Unicode's noncharacters: U+FDD0–U+FDEF and the last two code points of every plane.
fn is_noncharacter(c: char) -> bool {
    let n = c as u32;
    (0xFDD0..=0xFDEF).contains(&n) || n & 0xFFFE == 0xFFFE
}

/// A plain email address (`local@domain.tld`), trimmed; `field` names it in the error.
pub fn check_email(raw: &str, field: &str) -> CoreResult<String> {
    let s = raw.trim();
    let ok = s.len() <= EMAIL_MAX
        && s.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty()
                && local.len() <= 64
                && !local.starts_with('.')
                && !local.ends_with('.')
                && local.bytes().all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-/=?^_`{|}~.".contains(&b))
                && domain.contains('.')
                && domain.split('.').all(|l| {
                    !l.is_empty()
                        && l.len() <= 63
                        && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                        && !l.starts_with('-')
                        && !l.ends_with('-')
                })
        });
    if ok {
        Ok(s.to_string())
    } else {
        Err(CoreError::invalid(ProblemCode::EmailInvalid, format!("{field} is not a valid email address (name@example.com).")))
    }
}

/// The first `[Tag]` in `template` that is not one of `allowed` (an unclosed `[` counts as one).
pub fn unknown_tag<'a>(template: &'a str, allowed: &[&str]) -> Option<&'a str> {
    let mut rest = template;
    while let Some(open) = rest.find('[') {
        let close = rest[open..].find(']').map(|c| open + c + 1).unwrap_or(rest.len());
        let tag = &rest[open..close];
        if !allowed.contains(&tag) {
            return Some(tag);
        }
        rest = &rest[close..];
    }
    None
}
