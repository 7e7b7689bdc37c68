//! Password rules: argon2id with m = 19 MiB, t = 2, p = 1 and a per-user salt; 8–128
//! characters, no composition rules, the most common passwords refused.

use crate::{CoreError, CoreResult, ProblemCode};
use argon2::{Algorithm, Argon2, Params, PasswordHash, PasswordHasher, PasswordVerifier, Version};

pub const MIN_LEN: usize = 8;
pub const MAX_LEN: usize = 128;
pub const ARGON2_M_KIB: u32 = 19 * 1024;
pub const ARGON2_T: u32 = 2;
pub const ARGON2_P: u32 = 1;

fn argon2() -> Argon2<'static> {
    let params = Params::new(ARGON2_M_KIB, ARGON2_T, ARGON2_P, None).expect("valid argon2 parameters");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// The most common passwords of at least 8 characters (from public breach frequency lists) and
/// words a dental practice's patients are likely to try. Compared case-insensitively.
const COMMON: &[&str] = &[
    "password",
    "password1",
    "password12",
    "password123",
    "password!",
    "passw0rd",
    "p@ssw0rd",
    "p@ssword",
    "12345678",
    "123456789",
    "1234567890",
    "12341234",
    "11111111",
    "00000000",
    "87654321",
    "88888888",
    "qwertyuiop",
    "qwerty123",
    "qwerty12",
    "qwertyui",
    "1q2w3e4r",
    "1qaz2wsx",
    "zaq12wsx",
    "asdfghjkl",
    "iloveyou",
    "iloveyou1",
    "sunshine",
    "princess",
    "football",
    "baseball",
    "superman",
    "starwars",
    "welcome1",
    "welcome123",
    "letmein1",
    "trustno1",
    "abc12345",
    "abcd1234",
    "aa123456",
    "changeme",
    "dentist1",
    "dental123",
    "toothbrush",
    "smile123",
    "patient1",
    "portal123",
    "mypassword",
    "computer",
    "whatever",
    "michelle",
    "jennifer",
    "charlie1",
    "master12",
    "monkey12",
    "dragon12",
    "shadow12",
    "123qweasd",
    "q1w2e3r4",
    "1234qwer",
    "admin123",
    "administrator",
    "secret12",
    "temp1234",
    "test1234",
];

/// Checks a new password against the policy.
pub fn check_policy(password: &str) -> CoreResult<()> {
    let chars = password.chars().count();
    if chars < MIN_LEN {
        return Err(CoreError::invalid(ProblemCode::PasswordTooShort, format!("Use at least {MIN_LEN} characters.")));
    }
    if chars > MAX_LEN {
        return Err(CoreError::invalid(ProblemCode::PasswordTooLong, format!("Use at most {MAX_LEN} characters.")));
    }
    let lower = password.to_lowercase();
    if COMMON.contains(&lower.as_str()) || lower.chars().all(|c| c == lower.chars().next().unwrap_or(' ')) {
        return Err(CoreError::invalid(ProblemCode::PasswordTooCommon, "This password is too common; choose another."));
    }
    Ok(())
}

/// An argon2id PHC string with a fresh random salt.
pub fn hash(password: &str) -> CoreResult<String> {
    let salt = crate::ids::random_bytes::<16>();
    argon2().hash_password_with_salt(password.as_bytes(), &salt).map(|h| h.to_string()).map_err(CoreError::backend)
}

/// Constant-time verification against a stored PHC string (parameters are read from it).
pub fn verify(password: &str, phc: &str) -> bool {
    match PasswordHash::new(phc) {
        Ok(parsed) => argon2().verify_password(password.as_bytes(), &parsed).is_ok(),
        Err(_) => false,
    }
}

/// Spends the same time as a real verification, for logins of unknown accounts (so timing does not
/// reveal whether an account exists).
pub fn verify_dummy(password: &str) {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let phc = DUMMY.get_or_init(|| hash("dummy-password-for-timing").unwrap_or_default());
    let _ = verify(password, phc);
}

/// A readable random password for initial/temporary credentials: 4 groups of 4 from an alphabet
/// without look-alikes (~80 bits).
pub fn generate_temporary() -> String {
    // No look-alikes (0 O o 1 l I i): it is read off paper and typed on a phone.
    const ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyz23456789";
    // Bytes past the last whole multiple of the alphabet's size are drawn again, so every
    // character is equally likely (16 of 31 letters: about 79 bits).
    let limit = 256 - 256 % ALPHABET.len();
    let mut chars = Vec::with_capacity(16);
    while chars.len() < 16 {
        for b in crate::ids::random_bytes::<32>() {
            if (b as usize) < limit && chars.len() < 16 {
                chars.push(ALPHABET[b as usize % ALPHABET.len()] as char);
            }
        }
    }
    chars.chunks(4).map(|c| c.iter().collect::<String>()).collect::<Vec<_>>().join("-")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy_length_and_common() {
        assert_eq!(check_policy("short").unwrap_err().code(), "password_too_short");
        assert_eq!(check_policy(&"x".repeat(129)).unwrap_err().code(), "password_too_long");
        assert_eq!(check_policy("Password123").unwrap_err().code(), "password_too_common");
        assert_eq!(check_policy("aaaaaaaaaa").unwrap_err().code(), "password_too_common");
        assert!(check_policy("correct horse battery").is_ok());
        assert!(check_policy("ünïcødé pass").is_ok());
    }

    #[test]
    fn hash_is_argon2id_with_required_cost_and_verifies() {
        let h = hash("correct horse battery").unwrap();
        assert!(h.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{h}");
        assert!(verify("correct horse battery", &h));
        assert!(!verify("wrong horse battery", &h));
        assert_ne!(h, hash("correct horse battery").unwrap(), "salts differ");
    }

    #[test]
    fn temporary_passwords_pass_the_policy() {
        let p = generate_temporary();
        assert_eq!(p.len(), 19);
        assert!(check_policy(&p).is_ok());
    }
}
