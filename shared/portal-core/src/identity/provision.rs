//! Creating practices and their logins (the demo seed, tests and onboarding use these).

use crate::identity::credentials::{chosen_username, Credential, Credentials};
use crate::identity::patient_access::{NewPatientLogin, PatientAccess};
use crate::identity::session::{PrincipalKind, StaffRole};
use crate::identity::{password, totp};
use crate::ids::{PracticeId, Username};
use crate::ports::Db;
use crate::practice::features::Feature;
use crate::practice::settings::{PracticeSettings, SettingsRepo};
use crate::{ids, CoreError, CoreResult, ProblemCode};

/// Staff principal ids start with this (patients' ids are the practice system's own).
pub const STAFF_ID_PREFIX: &str = "staff-";

pub struct Provisioner<'a> {
    pub db: Db<'a>,
}

/// A login just created, with the secrets shown once.
#[derive(Debug, Clone)]
pub struct NewLogin {
    pub principal_id: String,
    pub username: Username,
    pub password: String,
    pub temporary: bool,
    pub totp_secret: Option<String>,
}

impl Provisioner<'_> {
    pub async fn create_practice(&self, practice: &PracticeId, name: &str, features: Vec<Feature>) -> CoreResult<()> {
        SettingsRepo { db: self.db }.create(practice, &PracticeSettings::new(name, features)).await
    }

    /// A staff login with its authenticator enrolled (the secret answered once), so it can log
    /// in at once.
    pub async fn create_staff(&self, practice: &PracticeId, username: &str, display_name: &str, role: StaffRole) -> CoreResult<NewLogin> {
        let username = chosen_username(username)?;
        let password = password::generate_temporary();
        let secret = totp::generate_secret();
        let cred = Credential {
            kind: PrincipalKind::Staff,
            username: username.clone(),
            principal_id: format!("{STAFF_ID_PREFIX}{}", &ids::new_id()[..12]),
            password_hash: password::hash(&password)?,
            must_change_password: false,
            temporary_expires_at: None,
            totp_secret: Some(secret.clone()),
            totp_pending: None,
            recovery_codes: vec![],
            role: Some(role),
            disabled: false,
            display_name: display_name.into(),
        };
        Credentials { db: self.db }.create(practice, &cred).await?;
        Ok(NewLogin { principal_id: cred.principal_id, username, password, temporary: false, totp_secret: Some(secret) })
    }

    /// A patient login with a random password; `temporary` forces a change at first login. The
    /// principal id of a patient is the practice system's patient id.
    pub async fn create_patient_login(
        &self,
        practice: &PracticeId,
        patient_id: &str,
        username: &str,
        display_name: &str,
        temporary: bool,
    ) -> CoreResult<NewLogin> {
        let username = chosen_username(username)?;
        let password = password::generate_temporary();
        let access = PatientAccess { db: self.db };
        let login = NewPatientLogin { patient_id, username: &username, display_name, password: &password, temporary, granted_by: "seed" };
        if !access.create(practice, login).await? {
            return Err(CoreError::Conflict { code: ProblemCode::Conflict, detail: "That username is taken.".into(), current: None });
        }
        Ok(NewLogin { principal_id: patient_id.into(), username, password, temporary, totp_secret: None })
    }
}
