//! Every action the audit log records, each with its name in the log and the category the
//! Activity screen's "what" filter finds it under. The list is the one place an action is
//! declared: a new audited action is a new line here (the compiler then asks for nothing else,
//! and the pages' words are checked against [`AuditAction::ALL`] by a browser test).

/// Kinds of activity, for the Activity screen's "what" filter. Every action is in exactly one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuditCategory {
    /// Logins, logouts, password changes, two-step sign-in.
    Logins,
    /// Portal settings changes.
    Settings,
    /// Reads of a patient's health data (a record, a list naming patients, a care summary).
    HealthData,
    /// What patients asked or told the office: messages, appointment requests, contact details.
    Requests,
    /// Card payments, refunds and payments matched to a patient.
    Payments,
    /// Email the portal sent on its own (invites, sign-in notices) and email that came back.
    Email,
    /// Portal access given, renewed, removed or handed out to patients; staff users made or changed.
    Access,
    /// Sync keys made or revoked.
    SyncKeys,
    /// The practice system's own traffic (uploads, reads, refused requests).
    Sync,
}

impl AuditCategory {
    pub const ALL: [AuditCategory; 9] = [
        AuditCategory::Logins,
        AuditCategory::Settings,
        AuditCategory::HealthData,
        AuditCategory::Requests,
        AuditCategory::Payments,
        AuditCategory::Email,
        AuditCategory::Access,
        AuditCategory::SyncKeys,
        AuditCategory::Sync,
    ];

    /// The name in the audit query (`?what=`).
    pub fn as_str(self) -> &'static str {
        match self {
            AuditCategory::Logins => "logins",
            AuditCategory::Settings => "settings",
            AuditCategory::HealthData => "health-data",
            AuditCategory::Requests => "requests",
            AuditCategory::Payments => "payments",
            AuditCategory::Email => "email",
            AuditCategory::Access => "access",
            AuditCategory::SyncKeys => "sync-keys",
            AuditCategory::Sync => "sync",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.as_str() == s)
    }

    /// The category of an action as the log stores it (`None` for a name no longer recorded).
    pub fn of(action: &str) -> Option<Self> {
        AuditAction::parse(action).map(AuditAction::category)
    }
}

macro_rules! actions {
    ($($(#[$doc:meta])* $variant:ident = $name:literal in $category:ident,)*) => {
        /// One kind of audited event; its name is what the log stores.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum AuditAction {
            $($(#[$doc])* $variant,)*
        }

        impl AuditAction {
            pub const ALL: &'static [AuditAction] = &[$(AuditAction::$variant,)*];

            pub fn as_str(self) -> &'static str {
                match self {
                    $(AuditAction::$variant => $name,)*
                }
            }

            pub fn category(self) -> AuditCategory {
                match self {
                    $(AuditAction::$variant => AuditCategory::$category,)*
                }
            }
        }
    };
}

actions! {
    AuthPatientLogin = "auth.patient.login" in Logins,
    AuthStaffLogin = "auth.staff.login" in Logins,
    AuthLogout = "auth.logout" in Logins,
    AuthPasswordChange = "auth.password.change" in Logins,
    AuthPasswordResetRequested = "auth.password.reset_requested" in Logins,
    AuthPasswordReset = "auth.password.reset" in Logins,
    AuthMfaEnrol = "auth.mfa.enrol" in Logins,
    AuthMfaRemove = "auth.mfa.remove" in Logins,

    SettingsFeatures = "settings.features.update" in Settings,
    SettingsUrls = "settings.urls.update" in Settings,
    SettingsWebmail = "settings.webmail.update" in Settings,
    SettingsFamilyAccess = "settings.family-access.update" in Settings,
    SettingsContact = "settings.contact.update" in Settings,
    SettingsInvites = "settings.invites" in Settings,
    SettingsPayments = "settings.payments" in Settings,
    SettingsPaymentsTest = "settings.payments.test" in Settings,
    SettingsDirectRecipientAdd = "settings.direct-recipient.add" in Settings,
    SettingsDirectRecipientRemove = "settings.direct-recipient.remove" in Settings,
    SettingsCodeSystemsImport = "settings.code-systems.import" in Settings,

    /// The family list `/v1/me` answers with.
    FamilyRead = "me.family.read" in HealthData,
    ProfileRead = "profile.read" in HealthData,
    AccountSummaryRead = "account.summary.read" in HealthData,
    AccountLedgerRead = "account.ledger.read" in HealthData,
    AccountStatementsRead = "account.statements.read" in HealthData,
    AccountStatementFileRead = "account.statement-file.read" in HealthData,
    ImagesRead = "images.read" in HealthData,
    ImageFileRead = "images.file.read" in HealthData,
    TreatmentPlansRead = "treatment-plans.read" in HealthData,
    AppointmentsRead = "appointments.read" in HealthData,
    RecallsRead = "appointments.recalls.read" in HealthData,
    MessagesRead = "webmail.messages.read" in HealthData,
    ThreadRead = "webmail.thread.read" in HealthData,
    AttachmentRead = "webmail.attachment.read" in HealthData,
    /// The office's shared inbox (names patients).
    OfficeMessagesRead = "webmail.office.messages.read" in HealthData,
    PaymentRead = "payments.payment.read" in HealthData,
    PaymentHistoryRead = "payments.history.read" in HealthData,
    CareSummaryActivityRead = "care-summary-activity.read" in HealthData,
    CareSummaryView = "care-summary.view" in HealthData,
    CareSummaryDownload = "care-summary.download" in HealthData,
    CareSummaryTransmit = "care-summary.transmit" in HealthData,
    /// A patient search's result list.
    RosterRead = "roster.read" in HealthData,
    /// The automatic invites' log (names patients).
    InvitesLogRead = "invites.log.read" in HealthData,
    /// The office's payments list (names patients).
    PaymentsListRead = "payments.read" in HealthData,

    MessageSend = "webmail.send" in Requests,
    MessageMarkRead = "webmail.read" in Requests,
    MessageMarkUnread = "webmail.unread" in Requests,
    AppointmentConfirm = "appointments.confirm" in Requests,
    AppointmentBook = "appointments.book" in Requests,
    AppointmentChangeRequest = "appointments.request_change" in Requests,
    ProfileChange = "profile.change" in Requests,

    PaymentStart = "payments.start" in Payments,
    GuestPaymentStart = "payments.guest.start" in Payments,
    PaymentApprove = "payments.approve" in Payments,
    PaymentDecline = "payments.decline" in Payments,
    PaymentCancel = "payments.cancel" in Payments,
    PaymentUpdate = "payments.update" in Payments,
    PaymentRefund = "payments.refund" in Payments,
    PaymentAssign = "payments.assign" in Payments,

    InviteSend = "invites.send" in Email,
    /// A rule's sample invite mailed to a staff member.
    InviteTest = "invites.test" in Email,
    SecurityNotice = "security.notice" in Email,
    MailBounced = "mail.bounced" in Email,
    MailComplained = "mail.complained" in Email,

    AccessGrant = "access.grant" in Access,
    AccessReset = "access.reset" in Access,
    AccessRemove = "access.remove" in Access,
    AccessEmail = "access.email" in Access,
    AccessPrint = "access.print" in Access,
    StaffCreate = "staff.create" in Access,
    StaffUpdate = "staff.update" in Access,
    StaffTotpStart = "staff.totp.start" in Access,
    StaffTotpConfirm = "staff.totp.confirm" in Access,

    SyncKeyCreate = "sync.key.create" in SyncKeys,
    SyncKeyRevoke = "sync.key.revoke" in SyncKeys,

    SyncRequestRefused = "sync.request" in Sync,
    SyncBatch = "sync.batch" in Sync,
    SyncUpsert = "sync.upsert" in Sync,
    SyncDelete = "sync.delete" in Sync,
    SyncRead = "sync.read" in Sync,
    SyncFile = "sync.file" in Sync,
}

impl AuditAction {
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|a| a.as_str() == s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_every_category_has_actions() {
        let mut names: Vec<_> = AuditAction::ALL.iter().map(|a| a.as_str()).collect();
        names.sort_unstable();
        let before = names.len();
        names.dedup();
        assert_eq!(names.len(), before, "two actions share a name");
        for c in AuditCategory::ALL {
            assert!(AuditAction::ALL.iter().any(|a| a.category() == c), "{c:?} has no actions");
            assert_eq!(AuditCategory::parse(c.as_str()), Some(c));
        }
        for a in AuditAction::ALL {
            assert_eq!(AuditCategory::of(a.as_str()), Some(a.category()));
        }
    }
}
