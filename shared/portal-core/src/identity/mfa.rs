//! A patient's optional second factor: an authenticator app (TOTP), enrolled with a QR code and
//! confirmed with a first code, plus ten one-time recovery codes for a lost phone, shown once and
//! stored only as SHA-256 (they are random, so a fast hash is enough). Login asks for a code once
//! the password is right (`login`); a recovery code works once.

use crate::audit::{Actor, AuditAction, AuditLog, Outcome};
use crate::identity::credentials::{Credential, Credentials};
use crate::identity::password;
use crate::identity::session::PrincipalKind;
use crate::identity::totp::{self, Enrolment};
use crate::ids::PracticeId;
use crate::ports::{Db, TableError};
use crate::quota::Quota;
use crate::{CoreError, CoreResult, ProblemCode};
use serde::Serialize;
use serde_json::json;
use sha2::{Digest, Sha256};

pub const RECOVERY_CODES: usize = 10;
/// Tries at proving who one is (to turn the second factor off) per login per hour.
const PROOFS_PER_LOGIN: Quota = Quota { name: "mfa-proof", limit: 5, window_seconds: 3600 };

/// What proves the person at a session is its owner: the password, or a current code.
#[derive(Debug, Default, Clone, Copy)]
pub struct Proof<'a> {
    pub password: Option<&'a str>,
    pub code: Option<&'a str>,
}

/// What a patient's security settings show.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MfaStatus {
    pub enabled: bool,
    pub recovery_codes_left: usize,
}

/// The stored form of a recovery code: case, spaces and dashes do not matter when typed.
pub fn recovery_hash(code: &str) -> String {
    let typed: String = code.chars().filter(|c| c.is_ascii_alphanumeric()).flat_map(|c| c.to_lowercase()).collect();
    hex::encode(Sha256::digest(typed.as_bytes()))
}

fn new_recovery_code() -> String {
    // The temporary-password alphabet (no look-alikes), 8 characters: about 40 bits, once each.
    let p = crate::identity::password::generate_temporary();
    p.split('-').take(2).collect::<Vec<_>>().join("-")
}

pub struct Mfa<'a> {
    pub db: Db<'a>,
}

impl Mfa<'_> {
    async fn patient(&self, actor: &Actor) -> CoreResult<(Credential, u64)> {
        let found = Credentials { db: self.db }.by_principal(&actor.practice, &actor.id).await?;
        match found {
            Some((c, v)) if c.kind == PrincipalKind::Patient => Ok((c, v)),
            Some(_) => Err(CoreError::forbidden(ProblemCode::StaffMfaRequired, "Staff always use an authenticator; an admin manages it.")),
            None => Err(CoreError::NotFound),
        }
    }

    pub async fn status(&self, actor: &Actor) -> CoreResult<MfaStatus> {
        let (c, _) = self.patient(actor).await?;
        Ok(MfaStatus { enabled: c.totp_secret.is_some(), recovery_codes_left: c.recovery_codes.len() })
    }

    /// Starts enrolling an app: a new secret, pending until a first code confirms it.
    pub async fn enrol(&self, actor: &Actor, practice_name: &str) -> CoreResult<Enrolment> {
        let (mut c, version) = self.patient(actor).await?;
        let secret = totp::generate_secret();
        c.totp_pending = Some(secret.clone());
        Credentials { db: self.db }.replace(&actor.practice, &c, version).await?;
        totp::enrolment(practice_name, &actor.practice, &c.username, &secret).ok_or_else(|| CoreError::backend("QR code"))
    }

    /// Confirms the pending app with a code; answers the ten recovery codes (shown this once).
    pub async fn confirm(&self, actor: &Actor, code: &str) -> CoreResult<Vec<String>> {
        let (mut c, version) = self.patient(actor).await?;
        let pending =
            c.totp_pending.clone().ok_or_else(|| CoreError::invalid(ProblemCode::TotpNotStarted, "Start setting up the app first."))?;
        if totp::verify(&pending, code.trim(), self.db.clock.now()).is_none() {
            return Err(CoreError::invalid(
                ProblemCode::TotpCodeWrong,
                "That code does not match; check the app and try the current code.",
            ));
        }
        let codes: Vec<String> = (0..RECOVERY_CODES).map(|_| new_recovery_code()).collect();
        c.totp_secret = Some(pending);
        c.totp_pending = None;
        c.recovery_codes = codes.iter().map(|r| recovery_hash(r)).collect();
        Credentials { db: self.db }.replace(&actor.practice, &c, version).await?;
        AuditLog { db: self.db }.record(actor, AuditAction::AuthMfaEnrol, &actor.id, Outcome::Success, json!({})).await?;
        Ok(codes)
    }

    /// Turns the second factor off, with the password or a current code from the app as proof:
    /// a session alone (a stolen one) cannot take the second factor away. Wrong proofs are
    /// limited per login like any other guessing.
    pub async fn remove(&self, actor: &Actor, proof: &Proof<'_>) -> CoreResult<()> {
        let (mut c, version) = self.patient(actor).await?;
        if !PROOFS_PER_LOGIN.take(self.db.table, self.db.clock, &actor.practice, &actor.id).await? {
            return Err(CoreError::TooMany {
                code: ProblemCode::TooManyAttempts,
                detail: "Too many tries for now; wait an hour, or ask the practice for help.".into(),
            });
        }
        let password_ok = proof
            .password
            .is_some_and(|p| p.len() <= crate::identity::credentials::PASSWORD_INPUT_MAX && password::verify(p, &c.password_hash));
        let code_ok = match (proof.code, &c.totp_secret) {
            (Some(code), Some(secret)) => totp::verify(secret, code.trim(), self.db.clock.now()).is_some(),
            _ => false,
        };
        if !password_ok && !code_ok {
            let audit = AuditLog { db: self.db };
            audit.record(actor, AuditAction::AuthMfaRemove, &actor.id, Outcome::Failure, json!({"reason": "proof_wrong"})).await?;
            return Err(CoreError::invalid(
                ProblemCode::ReauthenticationFailed,
                "Type your password, or a current code from your app, to turn two-step sign-in off.",
            ));
        }
        c.totp_secret = None;
        c.totp_pending = None;
        c.recovery_codes.clear();
        Credentials { db: self.db }.replace(&actor.practice, &c, version).await?;
        AuditLog { db: self.db }.record(actor, AuditAction::AuthMfaRemove, &actor.id, Outcome::Success, json!({})).await
    }
}

/// Uses a recovery code of `c` (stored at `version`): `true` when it was one, now spent.
pub async fn use_recovery_code(db: Db<'_>, practice: &PracticeId, c: &Credential, version: u64, code: &str) -> CoreResult<bool> {
    let hash = recovery_hash(code);
    let Some(at) = c.recovery_codes.iter().position(|h| crate::ids::constant_time_eq(h.as_bytes(), hash.as_bytes())) else {
        return Ok(false);
    };
    let mut spent = c.clone();
    spent.recovery_codes.remove(at);
    let written = Credentials { db }.put(practice, &spent, version).await;
    match written {
        Ok(()) => Ok(true),
        // Used at the same moment by another login: only one of them gets in.
        Err(TableError::ConditionFailed) => Ok(false),
        Err(e) => Err(e.into()),
    }
}
