//! Check digits and formats of the code systems the sync API takes: SNOMED CT (Verhoeff), LOINC
//! (mod 10), RxNorm, CVX, CDT, and NPI (Luhn). A code with a wrong check digit is a typo, not a
//! code.

/// The code systems clinical data may use.
pub const SYSTEMS: [&str; 4] = ["SNOMED-CT", "RxNorm", "CVX", "LOINC"];

const VERHOEFF_D: [[u8; 10]; 10] = [
    [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
    [1, 2, 3, 4, 0, 6, 7, 8, 9, 5],
    [2, 3, 4, 0, 1, 7, 8, 9, 5, 6],
    [3, 4, 0, 1, 2, 8, 9, 5, 6, 7],
    [4, 0, 1, 2, 3, 9, 5, 6, 7, 8],
    [5, 9, 8, 7, 6, 0, 4, 3, 2, 1],
    [6, 5, 9, 8, 7, 1, 0, 4, 3, 2],
    [7, 6, 5, 9, 8, 2, 1, 0, 4, 3],
    [8, 7, 6, 5, 9, 3, 2, 1, 0, 4],
    [9, 8, 7, 6, 5, 4, 3, 2, 1, 0],
];
const VERHOEFF_P: [[u8; 10]; 8] = [
    [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
    [1, 5, 7, 6, 2, 8, 3, 0, 9, 4],
    [5, 8, 0, 3, 7, 9, 6, 1, 4, 2],
    [8, 9, 1, 6, 0, 4, 3, 5, 2, 7],
    [9, 4, 5, 3, 1, 2, 6, 8, 7, 0],
    [4, 2, 8, 6, 5, 7, 3, 9, 0, 1],
    [2, 7, 9, 3, 8, 0, 6, 4, 1, 5],
    [7, 0, 4, 6, 9, 1, 3, 2, 5, 8],
];

fn digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

pub(super) fn verhoeff_ok(s: &str) -> bool {
    let mut c = 0u8;
    for (i, b) in s.bytes().rev().enumerate() {
        c = VERHOEFF_D[c as usize][VERHOEFF_P[i % 8][(b - b'0') as usize] as usize];
    }
    c == 0
}

const VERHOEFF_INV: [u8; 10] = [0, 4, 3, 2, 1, 5, 6, 7, 8, 9];

/// The Verhoeff check digit that completes `body` (digits): how SNOMED CT ids end.
pub fn verhoeff_check_digit(body: &str) -> char {
    let mut c = 0u8;
    for (i, b) in body.bytes().rev().enumerate() {
        c = VERHOEFF_D[c as usize][VERHOEFF_P[(i + 1) % 8][(b - b'0') as usize] as usize];
    }
    (b'0' + VERHOEFF_INV[c as usize]) as char
}

/// SNOMED CT concept id: 6–18 digits, partition digits 00 (an International concept) or 10 (an
/// extension's, such as the US Edition's smoking statuses), Verhoeff check digit.
pub fn is_snomed(code: &str) -> bool {
    digits(code) && (6..=18).contains(&code.len()) && matches!(&code[code.len() - 3..code.len() - 1], "00" | "10") && verhoeff_ok(code)
}

/// LOINC: 1–5 digits, a dash, the mod-10 (Luhn) check digit.
pub fn is_loinc(code: &str) -> bool {
    let Some((body, check)) = code.split_once('-') else {
        return false;
    };
    if !digits(body) || body.len() > 5 || check.len() != 1 || !digits(check) {
        return false;
    }
    // LOINC's mod-10 check digit is the Luhn check digit of the code.
    luhn_ok(&format!("{body}{check}"))
}

/// RxNorm concept id (RXCUI): 1–7 digits.
pub fn is_rxnorm(code: &str) -> bool {
    digits(code) && code.len() <= 7
}

/// CVX vaccine code: 1–3 digits.
pub fn is_cvx(code: &str) -> bool {
    digits(code) && code.len() <= 3
}

/// CDT procedure code: `D` and four digits.
pub fn is_cdt(code: &str) -> bool {
    code.len() == 5 && code.starts_with('D') && digits(&code[1..])
}

/// NPI: 10 digits, Luhn over `80840` (the health-industry prefix) and the number.
pub fn is_npi(npi: &str) -> bool {
    if npi.len() != 10 || !digits(npi) {
        return false;
    }
    luhn_ok(&format!("80840{npi}"))
}

/// Luhn: from the right, every second digit doubled (digits of the product summed); the total of a
/// valid number is a multiple of 10.
fn luhn_ok(number: &str) -> bool {
    let sum: u32 = number
        .bytes()
        .rev()
        .enumerate()
        .map(|(i, b)| {
            let d = u32::from(b - b'0');
            if i % 2 == 1 {
                let x = d * 2;
                x / 10 + x % 10
            } else {
                d
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

/// Whether `code` is well-formed in `system` (one of [`SYSTEMS`]).
pub fn is_valid(system: &str, code: &str) -> Option<bool> {
    Some(match system {
        "SNOMED-CT" => is_snomed(code),
        "RxNorm" => is_rxnorm(code),
        "CVX" => is_cvx(code),
        "LOINC" => is_loinc(code),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn real_codes_pass_and_typos_fail() {
        // SNOMED: 80146002 appendectomy, 22298006 myocardial infarction, 109564008 dental caries.
        for c in ["80146002", "22298006", "109564008", "38341003"] {
            assert!(is_snomed(c), "{c}");
        }
        assert!(!is_snomed("80146003"));
        assert!(is_snomed("428041000124106"), "a US Edition (extension) concept");
        assert!(!is_snomed("428041000124116"), "a description id's partition (11) is no concept");
        assert_eq!(verhoeff_check_digit("3834100"), '3');
        assert_eq!(verhoeff_check_digit("8014600"), '2');
        assert!(!is_snomed("12345"));
        // LOINC: 8480-6 systolic BP, 8462-4 diastolic, 29463-7 body weight, 2345-7 glucose.
        for c in ["8480-6", "8462-4", "29463-7", "2345-7", "8302-2"] {
            assert!(is_loinc(c), "{c}");
        }
        assert!(!is_loinc("8480-5"));
        assert!(!is_loinc("8480"));
        assert!(is_rxnorm("197361") && is_rxnorm("617314") && !is_rxnorm("12345678"));
        assert!(is_cvx("140") && is_cvx("08") && !is_cvx("1400"));
        assert!(is_cdt("D1110") && !is_cdt("D111") && !is_cdt("X1110"));
        assert!(is_npi("1234567893") && !is_npi("1234567890"));
        assert_eq!(is_valid("ICD-9", "250.00"), None);
    }
}
