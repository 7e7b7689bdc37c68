//! Logins' credentials as stored: a login's kind, username, password hash, second factor and
//! state, one item per login keyed by kind and username (a username means one person in a
//! practice, whatever the kind), found by principal id through the index. Writes are conditional
//! on the version read, so two changes to one login never silently overwrite each other.

use crate::identity::session::{PrincipalKind, StaffRole};
use crate::ids::{PracticeId, Username};
use crate::ports::{Cond, Db, Item, TableError, TxOp};
use crate::table_keys;
use crate::{CoreError, CoreResult, ProblemCode};
use serde::{Deserialize, Serialize};

/// How long a temporary password (first login, reset) is good for.
pub const TEMPORARY_PASSWORD_SECONDS: i64 = 7 * 24 * 60 * 60;
/// The longest password input looked at (argon2 on megabytes would be a denial of service).
pub const PASSWORD_INPUT_MAX: usize = 1024;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Credential {
    pub kind: PrincipalKind,
    pub username: Username,
    pub principal_id: String,
    pub password_hash: String,
    pub must_change_password: bool,
    /// When a temporary password stops working.
    #[serde(default)]
    pub temporary_expires_at: Option<i64>,
    /// Base32 TOTP secret: required for staff, optional for patients.
    #[serde(default)]
    pub totp_secret: Option<String>,
    /// A secret being enrolled, until a first code confirms it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub totp_pending: Option<String>,
    /// Patients with a second factor: SHA-256 of each unused recovery code (see `mfa`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub recovery_codes: Vec<String>,
    #[serde(default)]
    pub role: Option<StaffRole>,
    /// Portal access revoked by the practice.
    #[serde(default)]
    pub disabled: bool,
    #[serde(default)]
    pub display_name: String,
}

/// A username someone chose, in its stored form; `username_invalid` when the rule refuses it.
pub fn chosen_username(typed: &str) -> CoreResult<Username> {
    Username::normalized(typed)
        .ok_or_else(|| CoreError::invalid(ProblemCode::UsernameInvalid, "A username is 2–64 letters, digits, '.', '-' or '_'."))
}

pub struct Credentials<'a> {
    pub db: Db<'a>,
}

impl Credentials<'_> {
    pub async fn get(&self, practice: &PracticeId, kind: PrincipalKind, username: &Username) -> CoreResult<Option<(Credential, u64)>> {
        let Some(item) = self.db.table.get(&table_keys::practice(practice), &table_keys::credential(kind.as_str(), username)).await? else {
            return Ok(None);
        };
        Ok(Some((item.parse()?, item.version)))
    }

    /// Writes a credential if the stored version is still `version` (0 = must not exist yet).
    pub async fn put(&self, practice: &PracticeId, c: &Credential, version: u64) -> Result<(), TableError> {
        let item = Self::item(practice, c, version)?;
        self.db.table.put(item, if version == 0 { Cond::Absent } else { Cond::Version(version) }).await
    }

    /// Writes a changed credential read at `version`; someone else's change meanwhile is a
    /// `conflict` (try again).
    pub async fn replace(&self, practice: &PracticeId, c: &Credential, version: u64) -> CoreResult<()> {
        self.put(practice, c, version).await.map_err(|e| match e {
            TableError::ConditionFailed => {
                CoreError::Conflict { code: ProblemCode::Conflict, detail: "The login changed meanwhile; try again.".into(), current: None }
            }
            other => other.into(),
        })
    }

    /// Writes a new credential. Its username must be free in the practice for every kind of
    /// login — a patient may not take a staff member's name, nor staff a patient's — so a name
    /// always means one person. `ConditionFailed` when it is taken.
    pub async fn create(&self, practice: &PracticeId, c: &Credential) -> Result<(), TableError> {
        let ops = vec![TxOp::Put(Self::item(practice, c, 0)?, Cond::Absent), Self::name_free_for_other_kinds(practice, c)];
        match self.db.table.transact(ops).await {
            Err(TableError::TransactionCanceled { failed }) if !failed.is_empty() => Err(TableError::ConditionFailed),
            other => other,
        }
    }

    /// The check, for a transaction that gives `c` its username, that no login of the other kind
    /// holds that name.
    pub fn name_free_for_other_kinds(practice: &PracticeId, c: &Credential) -> TxOp {
        let other = if c.kind == PrincipalKind::Staff { PrincipalKind::Patient } else { PrincipalKind::Staff };
        TxOp::Check { pk: table_keys::practice(practice), sk: table_keys::credential(other.as_str(), &c.username), cond: Cond::Absent }
    }

    /// The stored form of a credential replacing `version` (0 = a new one).
    pub fn item(practice: &PracticeId, c: &Credential, version: u64) -> Result<Item, TableError> {
        let data = serde_json::to_value(c).map_err(|e| TableError::Backend(e.to_string()))?;
        Ok(Item::new(table_keys::practice(practice), table_keys::credential(c.kind.as_str(), &c.username), data)
            .with_gsi1(table_keys::principal(practice, &c.principal_id), "CRED")
            .with_version(version + 1))
    }

    /// The credential of a principal (for a password change, where only the id is known).
    pub async fn by_principal(&self, practice: &PracticeId, principal_id: &str) -> CoreResult<Option<(Credential, u64)>> {
        let page = self
            .db
            .table
            .query(crate::ports::Query::on_gsi1(table_keys::principal(practice, principal_id)).prefix("CRED").limit(1))
            .await?;
        let Some(hit) = page.items.first() else {
            return Ok(None);
        };
        // The index may lag; read the item itself, strongly, by its key.
        let c: Credential = hit.parse()?;
        self.get(practice, c.kind, &c.username).await
    }
}
