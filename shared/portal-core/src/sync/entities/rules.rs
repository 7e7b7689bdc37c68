//! The field rules every entity's validation is built from. Each failure names the field and the
//! rule it broke (`field_invalid`), so the practice's developer can fix the record.

use crate::{CoreError, CoreResult, ProblemCode};
use time::format_description::well_known::Rfc3339;

pub(crate) fn bad(field: &str, rule: impl std::fmt::Display) -> CoreError {
    CoreError::invalid(ProblemCode::FieldInvalid, format!("{field}: {rule}"))
}

/// The one id rule for synced entities and the ids they point at: 1–64 letters, digits, `-` or
/// `_`, not starting with `-`. Ids become parts of table keys and blob keys on every backend, so
/// no dot (`.`, `..`, `x.meta` are file-system names) and nothing a path could misread.
pub fn check_id(field: &str, id: &str) -> CoreResult<()> {
    let ok =
        !id.is_empty() && id.len() <= 64 && !id.starts_with('-') && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(bad(field, "an id is 1–64 letters, digits, '-' or '_' (not starting with '-')"))
    }
}

pub(crate) fn text(field: &str, v: &str, min: usize, max: usize) -> CoreResult<()> {
    let n = v.trim().chars().count();
    if n < min || n > max || !crate::text::is_plain_text(v, true) {
        return Err(bad(field, format!("{min} to {max} characters of text")));
    }
    Ok(())
}

pub(crate) fn opt_text(field: &str, v: &Option<String>, max: usize) -> CoreResult<()> {
    v.as_deref().map_or(Ok(()), |s| text(field, s, 0, max))
}

pub(crate) fn date(field: &str, v: &str) -> CoreResult<time::Date> {
    time::Date::parse(v, &time::macros::format_description!("[year]-[month]-[day]")).map_err(|_| bad(field, "a date as YYYY-MM-DD"))
}

pub(crate) fn datetime(field: &str, v: &str) -> CoreResult<time::OffsetDateTime> {
    time::OffsetDateTime::parse(v, &Rfc3339).map_err(|_| bad(field, "a date-time as RFC 3339 (2026-11-26T09:30:00-05:00)"))
}

/// A date-time as it sorts in an index: UTC, `YYYY-MM-DDTHH:MM:SSZ`, so range bounds given as
/// plain dates (`YYYY-MM-DD`) compare correctly against it.
pub(crate) fn sort_key_utc(v: &str) -> String {
    time::OffsetDateTime::parse(v, &Rfc3339)
        .ok()
        .and_then(|t| {
            t.to_offset(time::UtcOffset::UTC)
                .format(&time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]Z"))
                .ok()
        })
        .unwrap_or_default()
}

/// Whether a stored date-time (RFC 3339, any offset) is later than `unix_seconds`, to the second
/// as its sort key orders it; `false` for one that does not parse (the sync API stores none).
/// Reading the number compares without formatting a sort key for each record.
pub(crate) fn is_after(v: &str, unix_seconds: i64) -> bool {
    time::OffsetDateTime::parse(v, &Rfc3339).is_ok_and(|t| t.unix_timestamp() > unix_seconds)
}

/// Parses `lastModified` (RFC 3339); answers milliseconds since the epoch.
pub fn last_modified_ms(v: &str) -> CoreResult<i64> {
    let t = datetime("lastModified", v)?;
    // Within i64 milliseconds: `datetime` takes years 0000–9999 only.
    i64::try_from(t.unix_timestamp_nanos() / 1_000_000).map_err(|_| bad("lastModified", "out of range"))
}

pub(crate) fn minutes(field: &str, v: u32) -> CoreResult<()> {
    if (5..=720).contains(&v) && v.is_multiple_of(5) {
        Ok(())
    } else {
        Err(bad(field, "5 to 720 minutes, in steps of 5"))
    }
}

pub(crate) fn email(field: &str, v: &Option<String>) -> CoreResult<()> {
    match v {
        Some(e) => crate::text::check_email(e, field).map(|_| ()).map_err(|_| bad(field, "an email address")),
        None => Ok(()),
    }
}

pub(crate) fn cents(field: &str, v: i64) -> CoreResult<()> {
    if v.abs() <= 100_000_000 * 100 {
        Ok(())
    } else {
        Err(bad(field, "an amount in cents within ±100,000,000.00"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_every_backend_accepts() {
        for ok in ["pat-1001", "A_1", "x"] {
            assert!(check_id("id", ok).is_ok(), "{ok}");
        }
        for bad in ["", ".", "..", "x.meta", "-x", "a/b", "a b", &"x".repeat(65)] {
            assert!(check_id("id", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn utc_sort_keys() {
        assert_eq!(sort_key_utc("2026-11-26T21:30:00-05:00"), "2026-11-27T02:30:00Z");
    }

    #[test]
    fn later_than_an_instant_to_the_second_as_sort_keys_order() {
        let at = time::macros::datetime!(2026-11-27 02:30:00 UTC).unix_timestamp();
        assert!(is_after("2026-11-26T21:30:01-05:00", at));
        assert!(!is_after("2026-11-26T21:30:00-05:00", at));
        assert!(!is_after("2026-11-27T02:30:00.900Z", at), "the same second");
        assert!(!is_after("tomorrow", at));
    }
}
