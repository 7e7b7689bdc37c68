//! The practice's staff users, as its admins manage them: create one with a role and a temporary
//! password (changed at first login), enrol their authenticator app (a secret shown once as a QR
//! code, kept pending until a first code confirms it; no login without it), change the role,
//! disable or enable. A disabled user or a changed role ends the user's sessions at once (a
//! session carries its role). The last active admin can be neither disabled nor demoted. Every
//! change is audited.

use crate::audit::{Actor, AuditAction, AuditLog, Outcome};
use crate::identity::credentials::{chosen_username, Credential, Credentials, TEMPORARY_PASSWORD_SECONDS};
use crate::identity::password;
use crate::identity::provision::STAFF_ID_PREFIX;
use crate::identity::session::{PrincipalKind, Sessions, StaffRole};
use crate::identity::totp::{self, Enrolment};
use crate::ids::{PracticeId, Username};
use crate::ports::{Cond, Db, Item, Query, TableError, TxOp};
use crate::table_keys;
use crate::{CoreError, CoreResult, ProblemCode};
use serde::Serialize;
use serde_json::json;

/// A staff user as admins see them (never a secret).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StaffUser {
    pub username: Username,
    pub display_name: String,
    pub role: StaffRole,
    pub disabled: bool,
    /// Whether an authenticator app is enrolled (no login without one).
    pub totp_enrolled: bool,
    /// Whether the temporary password has not been changed yet.
    pub must_change_password: bool,
}

impl From<&Credential> for StaffUser {
    fn from(c: &Credential) -> Self {
        StaffUser {
            username: c.username.clone(),
            display_name: c.display_name.clone(),
            role: c.role.unwrap_or(StaffRole::FrontDesk),
            disabled: c.disabled,
            totp_enrolled: c.totp_secret.is_some(),
            must_change_password: c.must_change_password,
        }
    }
}

/// How many times a change tries again when a staff user it depends on changed under it.
const ATTEMPTS: usize = 5;

fn is_active_admin(u: &StaffUser) -> bool {
    u.role == StaffRole::Admin && !u.disabled
}

pub struct StaffUsers<'a> {
    pub db: Db<'a>,
}

impl StaffUsers<'_> {
    fn creds(&self) -> Credentials<'_> {
        Credentials { db: self.db }
    }
    fn audit(&self) -> AuditLog<'_> {
        AuditLog { db: self.db }
    }

    /// Every staff user of the practice, by username.
    pub async fn list(&self, practice: &PracticeId) -> CoreResult<Vec<StaffUser>> {
        Ok(self.credentials(practice).await?.iter().map(StaffUser::from).collect())
    }

    async fn credentials(&self, practice: &PracticeId) -> CoreResult<Vec<Credential>> {
        Ok(self.credential_items(practice).await?.into_iter().map(|(c, _)| c).collect())
    }

    /// Every staff credential with the item it is stored in (for checks at its version).
    async fn credential_items(&self, practice: &PracticeId) -> CoreResult<Vec<(Credential, Item)>> {
        let q = Query::new(table_keys::practice(practice)).prefix(table_keys::credentials(PrincipalKind::Staff.as_str())).limit(200);
        let items = crate::ports::query_all(self.db.table, q).await?;
        Ok(items.into_iter().map(|i| Ok((i.parse()?, i))).collect::<Result<_, TableError>>()?)
    }

    async fn get(&self, practice: &PracticeId, username: &str) -> CoreResult<(Credential, u64)> {
        let username = Username::normalized(username).ok_or(CoreError::NotFound)?;
        self.creds().get(practice, PrincipalKind::Staff, &username).await?.ok_or(CoreError::NotFound)
    }

    /// A new staff user with a temporary password (answered here only); they cannot log in until
    /// an authenticator is enrolled.
    pub async fn create(&self, actor: &Actor, username: &str, display_name: &str, role: StaffRole) -> CoreResult<(StaffUser, String)> {
        let username = chosen_username(username)?;
        let display_name = display_name.trim();
        if display_name.is_empty() || display_name.chars().count() > 100 || !crate::text::is_plain_text(display_name, false) {
            return Err(CoreError::invalid(ProblemCode::TextInvalid, "The name is one line of 1 to 100 characters."));
        }
        let temporary = password::generate_temporary();
        let cred = Credential {
            kind: PrincipalKind::Staff,
            username: username.clone(),
            principal_id: format!("{STAFF_ID_PREFIX}{}", &crate::ids::new_id()[..12]),
            password_hash: password::hash(&temporary)?,
            must_change_password: true,
            temporary_expires_at: Some(self.db.clock.now() + TEMPORARY_PASSWORD_SECONDS),
            totp_secret: None,
            totp_pending: None,
            recovery_codes: vec![],
            role: Some(role),
            disabled: false,
            display_name: display_name.into(),
        };
        self.creds().create(&actor.practice, &cred).await.map_err(|e| match e {
            TableError::ConditionFailed => {
                CoreError::Conflict { code: ProblemCode::UsernameTaken, detail: "That username is taken.".into(), current: None }
            }
            other => other.into(),
        })?;
        let detail = json!({"username": username, "role": role.as_str()});
        self.audit().record(actor, AuditAction::StaffCreate, &cred.principal_id, Outcome::Success, detail).await?;
        Ok((StaffUser::from(&cred), temporary))
    }

    /// Changes the role and/or disables or enables; the user's sessions end when either changes.
    /// Taking away an active admin writes the change together with a check of every other active
    /// admin at the version counted: two admins demoting each other at the same moment cannot
    /// both go through, so the practice always keeps one.
    pub async fn update(&self, actor: &Actor, username: &str, role: Option<StaffRole>, disabled: Option<bool>) -> CoreResult<StaffUser> {
        let practice = &actor.practice;
        let mut attempts = 0;
        let (cred, before, after) = loop {
            attempts += 1;
            let (mut cred, version) = self.get(practice, username).await?;
            let before = StaffUser::from(&cred);
            cred.role = role.or(cred.role);
            cred.disabled = disabled.unwrap_or(cred.disabled);
            let after = StaffUser::from(&cred);
            if after == before {
                return Ok(after);
            }
            let mut ops = vec![TxOp::Put(Credentials::item(practice, &cred, version)?, Cond::Version(version))];
            if is_active_admin(&before) && !is_active_admin(&after) {
                let others: Vec<TxOp> = self
                    .credential_items(practice)
                    .await?
                    .into_iter()
                    .filter(|(c, _)| c.principal_id != cred.principal_id && is_active_admin(&StaffUser::from(c)))
                    .map(|(_, item)| TxOp::Check { pk: item.pk, sk: item.sk, cond: Cond::Version(item.version) })
                    .collect();
                if others.is_empty() {
                    return Err(CoreError::Conflict {
                        code: ProblemCode::LastAdmin,
                        detail: "This is the practice's last admin: make someone else an admin first.".into(),
                        current: None,
                    });
                }
                ops.extend(others);
            }
            match self.db.table.transact(ops).await {
                Ok(()) => break (cred, before, after),
                // The user or one of the admins counted changed meanwhile: count again.
                Err(TableError::TransactionCanceled { .. }) if attempts < ATTEMPTS => continue,
                Err(TableError::TransactionCanceled { .. }) => {
                    return Err(CoreError::Conflict {
                        code: ProblemCode::Conflict,
                        detail: "The staff list kept changing; try again.".into(),
                        current: None,
                    })
                }
                Err(e) => return Err(e.into()),
            }
        };
        Sessions { db: self.db }.end_all(practice, &cred.principal_id).await?;
        let detail = json!({"before": {"role": before.role.as_str(), "disabled": before.disabled}, "after": {"role": after.role.as_str(), "disabled": after.disabled}});
        self.audit().record(actor, AuditAction::StaffUpdate, &cred.principal_id, Outcome::Success, detail).await?;
        Ok(after)
    }

    /// Starts (or restarts) enrolling an authenticator: a new secret, pending until confirmed.
    pub async fn start_totp(&self, actor: &Actor, practice_name: &str, username: &str) -> CoreResult<Enrolment> {
        let practice = &actor.practice;
        let (mut cred, version) = self.get(practice, username).await?;
        let secret = totp::generate_secret();
        cred.totp_pending = Some(secret.clone());
        self.creds().replace(practice, &cred, version).await?;
        let enrolment = totp::enrolment(practice_name, practice, &format!("{}@{practice}", cred.username), &secret)
            .ok_or_else(|| CoreError::backend("QR code"))?;
        self.audit().record(actor, AuditAction::StaffTotpStart, &cred.principal_id, Outcome::Success, json!({})).await?;
        Ok(enrolment)
    }

    /// Confirms the pending secret with a code from the app; it replaces any earlier one.
    pub async fn confirm_totp(&self, actor: &Actor, username: &str, code: &str) -> CoreResult<StaffUser> {
        let practice = &actor.practice;
        let (mut cred, version) = self.get(practice, username).await?;
        let Some(pending) = cred.totp_pending.clone() else {
            return Err(CoreError::invalid(ProblemCode::TotpNotStarted, "Start setting up the authenticator first."));
        };
        if totp::verify(&pending, code.trim(), self.db.clock.now()).is_none() {
            self.audit().record(actor, AuditAction::StaffTotpConfirm, &cred.principal_id, Outcome::Failure, json!({})).await?;
            return Err(CoreError::invalid(
                ProblemCode::TotpCodeWrong,
                "That code does not match; check the app and try the current code.",
            ));
        }
        cred.totp_secret = Some(pending);
        cred.totp_pending = None;
        self.creds().replace(practice, &cred, version).await?;
        self.audit().record(actor, AuditAction::StaffTotpConfirm, &cred.principal_id, Outcome::Success, json!({})).await?;
        Ok(StaffUser::from(&cred))
    }
}
