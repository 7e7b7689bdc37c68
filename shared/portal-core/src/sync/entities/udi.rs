//! A Unique Device Identifier as printed on an implant's label, read into its parts: the device
//! identifier (which model) and the production identifiers (lot, serial, manufacture and expiry
//! dates). Two issuing agencies' formats: GS1 in its human-readable form, `(01)…(17)…(10)…(21)…`
//! (the GTIN's check digit checked), and HIBCC, `+LIC…/…` (its mod-43 check character checked).
//! A string that is neither, or whose check fails, is refused: a wrong UDI on a patient's record
//! is worse than none.

use serde::Serialize;

/// Who issued the identifier.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Issuer {
    Gs1,
    Hibcc,
}

/// A UDI's parts (dates as `YYYY-MM-DD`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Udi {
    pub issuer: Issuer,
    /// The device identifier (UDI-DI): the GTIN, or HIBCC's labeler, product and unit.
    pub device_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lot: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub serial: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub manufactured: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires: Option<String>,
}

/// The longest UDI taken (GS1 and HIBCC carriers hold well under this).
pub const UDI_MAX: usize = 120;

/// Reads a UDI; the error says what is wrong with it, in words for the practice's system.
pub fn parse(raw: &str) -> Result<Udi, String> {
    let s = raw.trim();
    if s.is_empty() || s.len() > UDI_MAX || !s.is_ascii() {
        return Err(format!("a UDI is 1 to {UDI_MAX} printable ASCII characters"));
    }
    match s.as_bytes()[0] {
        b'(' => gs1(s),
        b'+' => hibcc(s),
        _ => Err("a UDI starts with (01) (GS1, human-readable form) or + (HIBCC)".into()),
    }
}

fn gs1(s: &str) -> Result<Udi, String> {
    let mut udi = Udi { issuer: Issuer::Gs1, device_id: String::new(), lot: None, serial: None, manufactured: None, expires: None };
    let mut rest = s;
    while !rest.is_empty() {
        let close = rest.strip_prefix('(').and_then(|r| r.find(')')).ok_or("GS1: each part is (AI) followed by its data")?;
        let ai = &rest[1..=close];
        let after = &rest[close + 2..];
        let end = after.find('(').unwrap_or(after.len());
        let data = &after[..end];
        rest = &after[end..];
        match ai {
            "01" if data.len() == 14 && data.bytes().all(|b| b.is_ascii_digit()) && gtin_ok(data) => udi.device_id = data.into(),
            "01" => return Err("GS1: (01) is a 14-digit GTIN with its check digit".into()),
            "11" => udi.manufactured = Some(yymmdd(data).ok_or("GS1: (11) is the manufacture date as YYMMDD")?),
            "17" => udi.expires = Some(yymmdd(data).ok_or("GS1: (17) is the expiry date as YYMMDD")?),
            "10" => udi.lot = Some(alnum(data, 20).ok_or("GS1: (10) is a lot of 1 to 20 characters")?),
            "21" => udi.serial = Some(alnum(data, 20).ok_or("GS1: (21) is a serial number of 1 to 20 characters")?),
            other => {
                return Err(format!(
                    "GS1: ({}) is not one of a UDI's identifiers (01, 11, 17, 10, 21)",
                    other.chars().take(4).collect::<String>()
                ))
            }
        }
    }
    if udi.device_id.is_empty() {
        return Err("GS1: the device identifier (01) is missing".into());
    }
    Ok(udi)
}

/// GS1's mod-10 check digit: from the right, weights 3 and 1 alternating.
fn gtin_ok(digits: &str) -> bool {
    let d: Vec<u32> = digits.bytes().map(|b| u32::from(b - b'0')).collect();
    let (body, check) = d.split_at(d.len() - 1);
    let sum: u32 = body.iter().rev().enumerate().map(|(i, v)| if i % 2 == 0 { v * 3 } else { *v }).sum();
    (10 - sum % 10) % 10 == check[0]
}

/// `YYMMDD` (day `00`: the month's last day) as `YYYY-MM-DD`, in this century.
fn yymmdd(s: &str) -> Option<String> {
    if s.len() != 6 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let (y, m, d) = (2000 + s[..2].parse::<i32>().ok()?, s[2..4].parse::<u8>().ok()?, s[4..].parse::<u8>().ok()?);
    let month = time::Month::try_from(m).ok()?;
    let day = if d == 0 { month.length(y) } else { d };
    time::Date::from_calendar_date(y, month, day).ok().map(|date| date.to_string())
}

/// `YYYYMMDD` as `YYYY-MM-DD`.
fn yyyymmdd(s: &str) -> Option<String> {
    if s.len() != 8 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let month = time::Month::try_from(s[4..6].parse::<u8>().ok()?).ok()?;
    time::Date::from_calendar_date(s[..4].parse().ok()?, month, s[6..].parse().ok()?).ok().map(|d| d.to_string())
}

fn alnum(s: &str, max: usize) -> Option<String> {
    let ok = (1..=max).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_graphic());
    ok.then(|| s.to_string())
}

/// HIBCC's characters, each worth its place here for the check character.
const HIBCC_CHARS: &[u8; 43] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ-. $/+%";

fn hibcc(s: &str) -> Result<Udi, String> {
    let values: Option<Vec<usize>> = s.bytes().map(|b| HIBCC_CHARS.iter().position(|c| *c == b)).collect();
    let values = values.ok_or("HIBCC: only digits, capital letters and - . space $ / + % are allowed")?;
    let (body, check) = values.split_at(values.len() - 1);
    if body.iter().sum::<usize>() % 43 != check[0] {
        return Err("HIBCC: the check character does not match (a character was misread or mistyped)".into());
    }
    let body = &s[1..s.len() - 1];
    let (primary, secondary) = match body.split_once('/') {
        Some((p, rest)) => (p, Some(rest)),
        None => (body, None),
    };
    // Primary: labeler (4, starting with a letter), product number (1-18), unit of measure (1 digit).
    let ok = (6..=23).contains(&primary.len())
        && primary.as_bytes()[0].is_ascii_uppercase()
        && primary.as_bytes()[primary.len() - 1].is_ascii_digit()
        && primary.bytes().all(|b| b.is_ascii_alphanumeric());
    if !ok {
        return Err("HIBCC: the primary data is a labeler code, a product number and a unit-of-measure digit".into());
    }
    let mut udi = Udi { issuer: Issuer::Hibcc, device_id: primary.into(), lot: None, serial: None, manufactured: None, expires: None };
    for field in secondary.into_iter().flat_map(|s| s.split('/')) {
        if let Some(rest) = field.strip_prefix("$$") {
            let (expires, lot) = hibcc_expiry(rest).ok_or("HIBCC: $$ is an expiry date in one of HIBCC's formats, then the lot")?;
            udi.expires = expires;
            udi.lot = (!lot.is_empty()).then(|| lot.to_string());
        } else if let Some(rest) = field.strip_prefix("$+") {
            udi.serial = Some(alnum(rest, 18).ok_or("HIBCC: $+ is a serial number")?);
        } else if let Some(rest) = field.strip_prefix('$') {
            udi.lot = Some(alnum(rest, 18).ok_or("HIBCC: $ is a lot number")?);
        } else if let Some(rest) = field.strip_prefix("14D") {
            udi.expires = Some(yyyymmdd(rest).ok_or("HIBCC: 14D is an expiry date as YYYYMMDD")?);
        } else if let Some(rest) = field.strip_prefix("16D") {
            udi.manufactured = Some(yyyymmdd(rest).ok_or("HIBCC: 16D is a manufacture date as YYYYMMDD")?);
        } else if let Some(rest) = field.strip_prefix('S') {
            udi.serial = Some(alnum(rest, 18).ok_or("HIBCC: S is a serial number")?);
        } else {
            return Err("HIBCC: a secondary field is $, $$, $+, S, 14D or 16D".into());
        }
    }
    Ok(udi)
}

/// `$$` data: an expiry date in the format its first digit names (none: `MMYY`), then the lot.
fn hibcc_expiry(s: &str) -> Option<(Option<String>, &str)> {
    let month_end = |yy: &str, mm: &str| yymmdd(&format!("{yy}{mm}00"));
    match s.as_bytes().first()? {
        b'2' => Some((Some(yymmdd(&format!("{}{}{}", s.get(5..7)?, s.get(1..3)?, s.get(3..5)?))?), s.get(7..)?)),
        b'3' => Some((Some(yymmdd(s.get(1..7)?)?), s.get(7..)?)),
        b'4' => Some((Some(yymmdd(s.get(1..7)?)?), s.get(9..)?)),
        b'5' | b'6' => {
            let (yy, jjj) = (s.get(1..3)?, s.get(3..6)?.parse::<u16>().ok()?);
            let date = time::Date::from_ordinal_date(2000 + yy.parse::<i32>().ok()?, jjj).ok()?;
            Some((Some(date.to_string()), s.get(if s.as_bytes()[0] == b'5' { 6 } else { 8 }..)?))
        }
        b'7' => Some((None, &s[1..])),
        b'0' | b'1' => Some((Some(month_end(s.get(2..4)?, s.get(0..2)?)?), s.get(4..)?)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Appends HIBCC's check character.
    fn hibcc_label(body: &str) -> String {
        let sum: usize = body.bytes().map(|b| HIBCC_CHARS.iter().position(|c| *c == b).unwrap()).sum();
        format!("{body}{}", HIBCC_CHARS[sum % 43] as char)
    }

    #[test]
    fn gs1_human_readable_labels_are_read_into_their_parts() {
        let u = parse("(01)00844588003288(17)141120(10)7654321D(21)10987654d321").unwrap();
        assert_eq!(u.issuer, Issuer::Gs1);
        assert_eq!(u.device_id, "00844588003288");
        assert_eq!(
            (u.expires.as_deref(), u.lot.as_deref(), u.serial.as_deref()),
            (Some("2014-11-20"), Some("7654321D"), Some("10987654d321"))
        );
        assert_eq!(parse("(01)00844588003288(11)250200").unwrap().manufactured.as_deref(), Some("2025-02-28"), "day 00: the month's end");
        assert!(parse("(01)00844588003289").unwrap_err().contains("check digit"));
        assert!(parse("(01)00844588003288(99)x").unwrap_err().contains("(99)"));
        assert!(parse("(17)141120").unwrap_err().contains("missing"));
        assert!(parse("00844588003288").is_err());
    }

    #[test]
    fn hibcc_labels_are_checked_and_read() {
        let label = hibcc_label("+H123PARTNO12345671/$$3261231LOT42/S0007/16D20250115");
        let u = parse(&label).unwrap();
        assert_eq!(u.issuer, Issuer::Hibcc);
        assert_eq!(u.device_id, "H123PARTNO12345671");
        assert_eq!(u.expires.as_deref(), Some("2026-12-31"));
        assert_eq!((u.lot.as_deref(), u.serial.as_deref(), u.manufactured.as_deref()), (Some("LOT42"), Some("0007"), Some("2025-01-15")));
        let mut misread = label.clone();
        misread.replace_range(3..4, "4");
        assert!(parse(&misread).unwrap_err().contains("check character"));
        assert!(parse(&hibcc_label("+1234X1")).is_err(), "a labeler starts with a letter");
        assert_eq!(parse(&hibcc_label("+H123AB1/$$0626LOT7")).unwrap().expires.as_deref(), Some("2026-06-30"), "MMYY: the month's end");
    }
}
