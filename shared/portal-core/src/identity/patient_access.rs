//! Portal access for patients, as the practice grants it. A patient has at most one login: an
//! access record under the patient's id (`ACCESS#{patient}`: username, when granted and by whom,
//! last visit) beside the login credential under its username, written together in one
//! transaction, each put-if-absent, so neither a username nor a patient can get two logins.
//!
//! Usernames are the first name plus random digits; the temporary password comes from the
//! CSPRNG over an alphabet without look-alikes, is stored only as its argon2id hash, must be
//! changed at first login and is shown to staff once. A new password or removed access ends the
//! patient's sessions at once. Every grant, reset, removal and print is audited.

use crate::audit::{Actor, AuditAction, AuditLog, Outcome};
use crate::identity::credentials::{Credential, Credentials, TEMPORARY_PASSWORD_SECONDS};
use crate::identity::password;
use crate::identity::session::{PrincipalKind, Sessions};
use crate::ids::{PracticeId, Username};
use crate::ports::{Cond, Db, Item, Mail, MailKind, MailRef, Mailer, TableError, TxOp};
use crate::practice::settings::{login_url, SettingsRepo};
use crate::sync::entities::Patient;
use crate::sync::records::PatientRecords;
use crate::sync::roster;
use crate::table_keys;
use crate::{CoreError, CoreResult, ProblemCode};
use serde::{Deserialize, Serialize};
use serde_json::json;

/// One patient's portal login, as staff see it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AccessRecord {
    pub username: Username,
    pub granted_at: i64,
    /// The staff id that granted it (`seed` for demo logins).
    pub granted_by: String,
    #[serde(default)]
    pub last_login_at: Option<i64>,
}

/// A login just made or given a new password: the password is in this value only.
#[derive(Debug, Clone)]
pub struct TemporaryLogin {
    pub username: Username,
    pub temporary_password: String,
}

pub struct PatientAccess<'a> {
    pub db: Db<'a>,
}

fn no_access() -> CoreError {
    CoreError::NotFound
}

/// The username offered for a first name: its letters, lower case, plus four digits.
fn username_for(first_name: &str) -> Option<Username> {
    let mut stem: String = roster::fold(first_name).chars().filter(char::is_ascii_alphanumeric).take(20).collect();
    if stem.len() < 2 {
        stem = "patient".into();
    }
    let n = u16::from_le_bytes(crate::ids::random_bytes::<2>()) % 10_000;
    Username::normalized(&format!("{stem}{n:04}"))
}

/// A patient login about to be written.
pub struct NewPatientLogin<'a> {
    pub patient_id: &'a str,
    pub username: &'a Username,
    pub display_name: &'a str,
    pub password: &'a str,
    /// The password must be changed at the first login (and stops working after a week).
    pub temporary: bool,
    /// The staff id that granted it (`seed` for demo logins).
    pub granted_by: &'a str,
}

impl PatientAccess<'_> {
    fn audit(&self) -> AuditLog<'_> {
        AuditLog { db: self.db }
    }

    pub async fn get(&self, practice: &PracticeId, patient_id: &str) -> CoreResult<Option<(AccessRecord, Item)>> {
        let Some(item) = self.db.table.get(&table_keys::practice(practice), &table_keys::access(patient_id)).await? else {
            return Ok(None);
        };
        Ok(Some((item.parse()?, item)))
    }

    /// The access records of several patients at once (a page of search results).
    pub async fn of_each(&self, practice: &PracticeId, patient_ids: &[&str]) -> CoreResult<Vec<Option<AccessRecord>>> {
        let reads = patient_ids.iter().map(|id| self.get(practice, id));
        let found = futures_util::future::join_all(reads).await;
        found.into_iter().map(|r| r.map(|o| o.map(|(record, _)| record))).collect()
    }

    /// Whether a patient's login still has the temporary password staff gave (never changed).
    pub async fn is_temporary(&self, practice: &PracticeId, username: &Username) -> CoreResult<bool> {
        let cred = Credentials { db: self.db }.get(practice, PrincipalKind::Patient, username).await?;
        Ok(cred.is_some_and(|(c, _)| c.must_change_password))
    }

    /// Writes a login for a patient: the credential and the access record, both new. `Ok(false)`
    /// when the username is taken; `access_exists` when the patient has a login already.
    pub async fn create(&self, practice: &PracticeId, login: NewPatientLogin<'_>) -> CoreResult<bool> {
        let NewPatientLogin { patient_id, username, display_name, password, temporary, granted_by } = login;
        let now = self.db.clock.now();
        let cred = Credential {
            kind: PrincipalKind::Patient,
            username: username.clone(),
            principal_id: patient_id.into(),
            password_hash: password::hash(password)?,
            must_change_password: temporary,
            temporary_expires_at: temporary.then_some(now + TEMPORARY_PASSWORD_SECONDS),
            totp_secret: None,
            totp_pending: None,
            recovery_codes: vec![],
            role: None,
            disabled: false,
            display_name: display_name.into(),
        };
        let record = AccessRecord { username: username.clone(), granted_at: now, granted_by: granted_by.into(), last_login_at: None };
        let access = Item::new(
            table_keys::practice(practice),
            table_keys::access(patient_id),
            serde_json::to_value(&record).map_err(CoreError::backend)?,
        );
        let ops = vec![
            TxOp::Put(Credentials::item(practice, &cred, 0)?, Cond::Absent),
            TxOp::Put(access, Cond::Absent),
            Credentials::name_free_for_other_kinds(practice, &cred),
        ];
        match self.db.table.transact(ops).await {
            Ok(()) => Ok(true),
            Err(TableError::TransactionCanceled { failed }) if failed.contains(&1) => Err(CoreError::Conflict {
                code: ProblemCode::AccessExists,
                detail: "This patient has portal access already; give a new temporary password instead.".into(),
                current: None,
            }),
            Err(TableError::TransactionCanceled { failed }) if failed.contains(&0) || failed.contains(&2) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    /// Gives an eligible patient a login with a temporary password (shown in the answer only).
    pub async fn grant(&self, actor: &Actor, patient_id: &str) -> CoreResult<TemporaryLogin> {
        let practice = &actor.practice;
        let patient = PatientRecords { db: self.db }.get::<Patient>(practice, patient_id).await?.ok_or(CoreError::NotFound)?.record;
        let missing = roster::missing(&patient);
        if !missing.is_empty() {
            return Err(CoreError::Unprocessable {
                code: ProblemCode::PatientNotEligible,
                detail: format!("Portal access needs these in the patient's record first: {}.", missing.join(", ")),
            });
        }
        let temporary_password = password::generate_temporary();
        // Four digits leave 10,000 names per first name; a taken one just means another draw.
        for _ in 0..8 {
            let Some(username) = username_for(&patient.first_name) else { continue };
            let login = NewPatientLogin {
                patient_id,
                username: &username,
                display_name: &patient.display_name(),
                password: &temporary_password,
                temporary: true,
                granted_by: &actor.id,
            };
            if self.create(practice, login).await? {
                self.audit().record(actor, AuditAction::AccessGrant, patient_id, Outcome::Success, json!({})).await?;
                return Ok(TemporaryLogin { username, temporary_password });
            }
        }
        Err(CoreError::Conflict { code: ProblemCode::Conflict, detail: "No free username was found; try again.".into(), current: None })
    }

    /// A new temporary password; the old one and every session of the patient stop working.
    pub async fn reset(&self, actor: &Actor, patient_id: &str) -> CoreResult<TemporaryLogin> {
        let practice = &actor.practice;
        let (record, _) = self.get(practice, patient_id).await?.ok_or_else(no_access)?;
        let creds = Credentials { db: self.db };
        let (mut cred, version) = creds.get(practice, PrincipalKind::Patient, &record.username).await?.ok_or_else(no_access)?;
        let temporary_password = password::generate_temporary();
        cred.password_hash = password::hash(&temporary_password)?;
        cred.must_change_password = true;
        cred.temporary_expires_at = Some(self.db.clock.now() + TEMPORARY_PASSWORD_SECONDS);
        creds.replace(practice, &cred, version).await?;
        Sessions { db: self.db }.end_all(practice, patient_id).await?;
        self.audit().record(actor, AuditAction::AccessReset, patient_id, Outcome::Success, json!({})).await?;
        Ok(TemporaryLogin { username: cred.username, temporary_password })
    }

    /// Removes the login; the patient's sessions end at once. Their records stay.
    pub async fn remove(&self, actor: &Actor, patient_id: &str) -> CoreResult<()> {
        let practice = &actor.practice;
        let (record, item) = self.get(practice, patient_id).await?.ok_or_else(no_access)?;
        let pk = table_keys::practice(practice);
        let ops = vec![
            TxOp::Delete {
                pk: pk.clone(),
                sk: table_keys::credential(PrincipalKind::Patient.as_str(), &record.username),
                cond: Cond::None,
            },
            TxOp::Delete { pk, sk: item.sk, cond: Cond::Version(item.version) },
        ];
        match self.db.table.transact(ops).await {
            Ok(()) => {}
            Err(TableError::TransactionCanceled { .. }) => return Err(no_access()),
            Err(e) => return Err(e.into()),
        }
        Sessions { db: self.db }.end_all(practice, patient_id).await?;
        self.audit().record(actor, AuditAction::AccessRemove, patient_id, Outcome::Success, json!({})).await
    }

    /// Moves a patient's login to the username they chose (with the first password of their
    /// own): the credential under its new name, the old one gone and the access record renamed,
    /// in one transaction. A taken name is `username_taken`.
    pub async fn rename(
        &self,
        practice: &PracticeId,
        patient_id: &str,
        old_username: &Username,
        cred: &Credential,
        version: u64,
    ) -> CoreResult<()> {
        let (mut record, item) = self.get(practice, patient_id).await?.ok_or_else(no_access)?;
        record.username = cred.username.clone();
        let pk = table_keys::practice(practice);
        let ops = vec![
            TxOp::Put(Credentials::item(practice, cred, 0)?, Cond::Absent),
            TxOp::Delete { pk, sk: table_keys::credential(PrincipalKind::Patient.as_str(), old_username), cond: Cond::Version(version) },
            TxOp::Put(item.replaced(serde_json::to_value(&record).map_err(CoreError::backend)?), Cond::Version(item.version)),
            Credentials::name_free_for_other_kinds(practice, cred),
        ];
        match self.db.table.transact(ops).await {
            Ok(()) => Ok(()),
            Err(TableError::TransactionCanceled { failed }) if failed.contains(&0) || failed.contains(&3) => Err(CoreError::Conflict {
                code: ProblemCode::UsernameTaken,
                detail: "That username is taken; choose another.".into(),
                current: None,
            }),
            Err(TableError::TransactionCanceled { .. }) => Err(CoreError::Conflict {
                code: ProblemCode::Conflict,
                detail: "The login changed meanwhile; try again.".into(),
                current: None,
            }),
            Err(e) => Err(e.into()),
        }
    }

    /// Emails a login just made or renewed to the patient's own address, from the practice's
    /// notification sender; audited as `access.email`. The password is in the mail and nowhere else.
    pub async fn email_login(
        &self,
        actor: &Actor,
        patient_id: &str,
        login: &TemporaryLogin,
        mailer: &dyn Mailer,
        site_url: &str,
    ) -> CoreResult<()> {
        let practice = &actor.practice;
        let settings = SettingsRepo { db: self.db }.get(practice).await?.ok_or(CoreError::NotFound)?;
        let patient = PatientRecords { db: self.db }.get::<Patient>(practice, patient_id).await?.ok_or(CoreError::NotFound)?.record;
        let to = patient.email.clone().filter(|e| !e.trim().is_empty());
        let url = login_url(&settings, practice, site_url);
        let (Some(to), true, false) = (to, url.starts_with("http"), settings.webmail.notification_sender.is_empty()) else {
            return Err(CoreError::Conflict {
                code: ProblemCode::EmailNotPossible,
                detail: "This login cannot be emailed: the patient has no email, or the practice's sender or portal address is not set. Print it instead.".into(),
                current: None,
            });
        };
        let first = patient.preferred_name.as_deref().filter(|n| !n.trim().is_empty()).unwrap_or(&patient.first_name);
        let lang = crate::language::Language::of(patient.preferred_language.as_deref());
        let url = crate::language::in_language(&url, lang);
        let words = crate::language::login_mail(lang, &settings.practice_name, first, &url, &login.username, &login.temporary_password);
        let about = MailRef::new(practice, MailKind::Login, "", Some(patient_id));
        let mail = Mail::text(&settings.webmail.notification_sender, to, words.subject, words.text, about);
        mailer.send(&mail).await.map_err(|e| CoreError::Backend(format!("mail: {e}")))?;
        self.audit().record(actor, AuditAction::AccessEmail, patient_id, Outcome::Success, json!({})).await
    }

    /// Notes that staff printed a patient's login sheet (the password itself is not kept).
    pub async fn printed(&self, actor: &Actor, patient_id: &str) -> CoreResult<()> {
        self.get(&actor.practice, patient_id).await?.ok_or_else(no_access)?;
        self.audit().record(actor, AuditAction::AccessPrint, patient_id, Outcome::Success, json!({})).await
    }

    /// Notes a patient's visit (a login). Losing a race with another login changes nothing worth
    /// retrying: both wrote "now".
    pub async fn visited(&self, practice: &PracticeId, patient_id: &str) -> CoreResult<()> {
        let Some((mut record, item)) = self.get(practice, patient_id).await? else {
            return Ok(());
        };
        record.last_login_at = Some(self.db.clock.now());
        let next = item.replaced(serde_json::to_value(&record).map_err(CoreError::backend)?);
        match self.db.table.put(next, Cond::Version(item.version)).await {
            Ok(()) | Err(TableError::ConditionFailed) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }
}
