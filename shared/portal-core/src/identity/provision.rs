//! Creating practices and their logins (the demo seed, tests and onboarding use these).

use crate::identity::credentials::{Credential, Credentials};
use crate::identity::login::normalize_username;
use crate::identity::patient_access::PatientAccess;
use crate::identity::session::{PrincipalKind, StaffRole};
use crate::identity::{password, totp};
use crate::ids::{PracticeId, Username};
use crate::ports::{Clock, Table};
use crate::practice::features::Feature;
use crate::practice::settings::{PracticeSettings, SettingsRepo};
use crate::{ids, CoreError, CoreResult, ProblemCode};

/// Staff principal ids start with this (patients' ids are the practice system's own).
pub const STAFF_ID_PREFIX: &str = "staff-";

pub struct Provisioner<'a> {
    pub table: &'a dyn Table,
    pub clock: &'a dyn Clock,
}

/// A login just created, with the secrets shown once.
#[derive(Debug, Clone)]
pub struct NewLogin {
    pub principal_id: String,
    pub username: String,
    pub password: String,
    pub temporary: bool,
    pub totp_secret: Option<String>,
}

impl Provisioner<'_> {
    pub async fn create_practice(&self, practice: &PracticeId, name: &str, features: Vec<Feature>) -> CoreResult<()> {
        SettingsRepo { table: self.table, clock: self.clock }.create(practice, &PracticeSettings::new(name, features)).await
    }

    pub async fn create_staff(&self, practice: &PracticeId, username: &str, display_name: &str, role: StaffRole) -> CoreResult<NewLogin> {
        let password = password::generate_temporary();
        let secret = totp::generate_secret();
        let principal_id = format!("{STAFF_ID_PREFIX}{}", &ids::new_id()[..12]);
        let login = self
            .create(
                practice,
                PrincipalKind::Staff,
                &principal_id,
                username,
                display_name,
                &password,
                false,
                Some(role),
                Some(secret.clone()),
            )
            .await?;
        Ok(NewLogin { totp_secret: Some(secret), ..login })
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
        let password = password::generate_temporary();
        let username = normalize_username(username);
        if Username::parse(&username).is_none() {
            return Err(CoreError::invalid(ProblemCode::UsernameInvalid, "A username is 2–64 letters, digits, '.', '-' or '_'."));
        }
        let access = PatientAccess { table: self.table, clock: self.clock };
        if !access.create(practice, patient_id, &username, display_name, &password, temporary, "seed").await? {
            return Err(CoreError::Conflict { code: ProblemCode::Conflict, detail: "That username is taken.".into(), current: None });
        }
        Ok(NewLogin { principal_id: patient_id.into(), username, password, temporary, totp_secret: None })
    }

    #[allow(clippy::too_many_arguments)]
    async fn create(
        &self,
        practice: &PracticeId,
        kind: PrincipalKind,
        principal_id: &str,
        username: &str,
        display_name: &str,
        password: &str,
        temporary: bool,
        role: Option<StaffRole>,
        totp_secret: Option<String>,
    ) -> CoreResult<NewLogin> {
        let username = normalize_username(username);
        if Username::parse(&username).is_none() {
            return Err(CoreError::invalid(ProblemCode::UsernameInvalid, "A username is 2–64 letters, digits, '.', '-' or '_'."));
        }
        let cred = Credential {
            kind,
            username: username.clone(),
            principal_id: principal_id.into(),
            password_hash: password::hash(password)?,
            must_change_password: temporary,
            temporary_expires_at: temporary.then(|| self.clock.now() + crate::identity::credentials::TEMPORARY_PASSWORD_SECONDS),
            totp_secret,
            totp_pending: None,
            recovery_codes: vec![],
            role,
            disabled: false,
            display_name: display_name.into(),
        };
        Credentials { table: self.table }.create(practice, &cred).await?;
        Ok(NewLogin { principal_id: principal_id.into(), username, password: password.into(), temporary, totp_secret: None })
    }
}
