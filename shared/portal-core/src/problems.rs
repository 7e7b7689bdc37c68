//! Every problem `code` the API answers with, listed once with what it means ([`ProblemCode`]).
//! Clients branch on these codes, so they are a contract: errors are built with a `ProblemCode`
//! (a code not listed here does not compile); a test below fails on a listed code that nothing
//! answers with (no `ProblemCode::X` in the source, no gateway response in `infra/template.yaml`)
//! and another when `infra/openapi.yaml`'s `Problem.code` enum is not this list.

macro_rules! problem_codes {
    ($($variant:ident = $code:literal: $meaning:literal,)*) => {
        /// A problem `code`: what the API answers with, so clients can branch on it.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum ProblemCode {
            $($variant,)*
        }

        impl ProblemCode {
            pub const ALL: &'static [ProblemCode] = &[$(ProblemCode::$variant,)*];

            /// The code as answers carry it.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(ProblemCode::$variant => $code,)*
                }
            }

            /// When it is answered.
            pub fn meaning(self) -> &'static str {
                match self {
                    $(ProblemCode::$variant => $meaning,)*
                }
            }
        }
    };
}

impl std::fmt::Display for ProblemCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl serde::Serialize for ProblemCode {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// So a test can say `assert_eq!(error.code(), "slot_taken")`, as a client reads it.
impl PartialEq<&str> for ProblemCode {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

// By area: `Variant = "code": "when it is answered",`.
problem_codes! {
    // Requests in general
    RouteNotFound = "route_not_found": "No such route",
    MisdirectedRequest = "misdirected_request": "Local mode: the `Host` is not this server's (DNS rebinding)",
    MethodNotAllowed = "method_not_allowed": "The route does not take that method (the answer has `Allow`)",
    NotFound = "not_found": "Absent, or another patient's or practice's (the two look the same on purpose)",
    MalformedJson = "malformed_json": "The body is not JSON",
    InvalidBody = "invalid_body": "The JSON does not have the expected shape",
    BodyEmpty = "body_empty": "A body is required",
    BodyNotUtf8 = "body_not_utf8": "The body is not UTF-8 text",
    BodyTooLarge = "body_too_large": "The body is larger than the route takes",
    UnsupportedMediaType = "unsupported_media_type": "The body is not `application/json`",
    InvalidQuery = "invalid_query": "The query string has unknown or malformed parameters",
    LimitInvalid = "limit_invalid": "A page size outside its range",
    CursorInvalid = "cursor_invalid": "A paging cursor that was not handed out",
    DateInvalid = "date_invalid": "A date that is not YYYY-MM-DD",
    DateRangeInvalid = "date_range_invalid": "`from` after `to`",
    Conflict = "conflict": "Someone changed the item first",
    BackendUnavailable = "backend_unavailable": "A backend did not answer; nothing was changed",
    // Answered by API Gateway itself (its gateway responses in infra/template.yaml)
    RateLimited = "rate_limited": "Too many requests: the stage's throttle or a firewall rate rule (429)",
    RequestBlocked = "request_blocked": "The firewall (AWS WAF) blocked the request (403)",
    RequestRefused = "request_refused": "Any other request the gateway refused before a function saw it (400)",
    GatewayTimeout = "gateway_timeout": "The function did not answer within the gateway's 29 s (504)",
    // Sessions and logins
    SessionRequired = "session_required": "No valid session",
    LoginFailed = "login_failed": "Wrong practice, username, password or code (never says which)",
    TemporaryPasswordExpired = "temporary_password_expired": "The temporary password is too old",
    PasswordChangeRequired = "password_change_required": "A temporary password must be changed first",
    CurrentPasswordWrong = "current_password_wrong": "Password change: the current password is not right",
    PasswordUnchanged = "password_unchanged": "Password change: the new password is the current one",
    PasswordTooShort = "password_too_short": "Password rules",
    PasswordTooLong = "password_too_long": "Password rules",
    PasswordTooCommon = "password_too_common": "Password rules: on the common-password list",
    PracticeInvalid = "practice_invalid": "A practice id outside the id rule",
    UsernameInvalid = "username_invalid": "A username outside the username rule",
    UsernameChangeNotAllowed = "username_change_not_allowed": "A username is chosen only with the first password of one's own (patients)",
    StaffMfaRequired = "staff_mfa_required": "A staff login reached a patient's second-factor setting (staff always use one)",
    PatientsOnly = "patients_only": "A patient-login route (the second factor) called with a staff session",
    ReauthenticationFailed = "reauthentication_failed": "Turning the second factor off: neither the password nor a current code was right",
    TooManyAttempts = "too_many_attempts": "Turning the second factor off: too many tries this hour (429)",
    AttachmentLimit = "attachment_limit": "WebMail: more files declared today than a sender may (429)",
    TransmitLimit = "transmit_limit": "Care summary: sent as often today as a patient may (429)",
    TestLimit = "test_limit": "Invites: as many test invites sent today as a practice may (429)",
    SenderMissing = "sender_missing": "The practice has not set the address its email goes from (Setup), so this email cannot go (422)",
    ResetLinkInvalid = "reset_link_invalid": "Password reset: the link's token is unknown, used or older than 30 minutes",
    // Access
    PatientNotEligible = "patient_not_eligible": "Portal access: the patient's record lacks what a login needs (the detail names it)",
    EmailNotPossible = "email_not_possible": "Portal access: the login cannot be emailed (no patient email, sender or portal address); print it",
    AccessExists = "access_exists": "Portal access: the patient has a login already",
    UsernameTaken = "username_taken": "Staff users: that username exists in the practice",
    LastAdmin = "last_admin": "Staff users: the practice's last active admin cannot be disabled or demoted",
    TotpNotStarted = "totp_not_started": "Staff users: confirming an authenticator that was not started",
    TotpCodeWrong = "totp_code_wrong": "Staff users: the first code does not match the new authenticator",
    InviteRuleInvalid = "invite_rule_invalid": "Invite rules: an id, time, resend setting or office phone outside its rule (the detail says which)",
    SearchInvalid = "search_invalid": "Patient search: too long, or a phone number of fewer than 4 digits",
    FeatureDisabled = "feature_disabled": "The practice has not enabled the feature",
    StaffOnly = "staff_only": "A staff route called by a patient, or by staff without the role it needs",
    SyncOnly = "sync_only": "A sync route called without a sync key",
    SyncKeyScope = "sync_key_scope": "A sync key used outside the sync API",
    CrossSiteRequest = "cross_site_request": "A cookie-authenticated change sent from another site",
    // Settings
    SettingsChanged = "settings_changed": "A settings save from a stale version (the answer carries `current`)",
    UnknownFeature = "unknown_feature": "A feature key that is not one of the seven",
    UrlInvalid = "url_invalid": "Not a URL",
    UrlTooLong = "url_too_long": "A URL over the length limit",
    UrlNotHttps = "url_not_https": "Outside local mode a portal URL is https",
    SenderDomainNotAllowed = "sender_domain_not_allowed": "The notification sender is not at a domain the deployment may send from",
    EmailInvalid = "email_invalid": "Not a plain email address",
    SubjectInvalid = "subject_invalid": "A subject (of notifications or of a message) that is not one line of text within its limit",
    BodyTooLong = "body_too_long": "The notification body is too long",
    BodyMissingUrl = "body_missing_url": "A notification or invite body lacks [URL]",
    BodyUnknownTag = "body_unknown_tag": "A notification or invite uses a tag it does not know",
    TextInvalid = "text_invalid": "Control characters in text that goes into email or onto a page, or text over its limit",
    PhoneInvalid = "phone_invalid": "A phone number that is not digits with the usual punctuation",
    LabelInvalid = "label_invalid": "A sync key's name",
    SyncKeyLimit = "sync_key_limit": "The practice has as many active sync keys as it may",
    // Patient modules
    ConfirmationNotPending = "confirmation_not_pending": "Confirming an appointment that is not waiting for a confirmation",
    AppointmentNotChangeable = "appointment_not_changeable": "Asking to cancel or reschedule an appointment that is not upcoming and scheduled",
    AppointmentRequestsOff = "appointment_requests_off": "The practice takes requests to cancel or reschedule by phone only",
    RecallNotDue = "recall_not_due": "Booking a recall that is already scheduled or no longer due",
    SlotTaken = "slot_taken": "Booking a slot someone else has just booked",
    SlotUnfit = "slot_unfit": "Booking a slot that is not open for the recall's type, or has passed",
    // Payments
    PaymentsUnavailable = "payments_unavailable": "Payments: the practice takes no payments online (no processor set up)",
    AmountInvalid = "amount_invalid": "Payments: an amount under $1.00 or over the practice's online limit",
    IdempotencyKeyInvalid = "idempotency_key_invalid": "Payments: the start's idempotencyKey is not 8 to 64 letters, digits, '-' or '_'",
    CardTokenInvalid = "card_token_invalid": "Payments: not a card token the processor's card fields made, or the processor could not read it",
    PaymentLimit = "payment_limit": "Guest payments: too many started, or cards tried, from one address this hour (429)",
    RefundInvalid = "refund_invalid": "Payment refunds: an amount under $0.01 or over what is left of the payment",
    PaymentNotRefundable = "payment_not_refundable": "Payment refunds: the payment is not approved (pending, declined, canceled or refunded already)",
    RefundRefused = "refund_refused": "Payment refunds: the processor refused the refund (the detail gives its reason)",
    PaymentAssigned = "payment_assigned": "Assigning a guest payment that is on a patient's account already",
    NoteInvalid = "note_invalid": "A note (to a payment, with a request to the office) that is too long or not plain text",
    PaymentSetupInvalid = "payment_setup_invalid": "Payment setup: a processor not offered, a key of the wrong form, or a limit out of range",
    WebhookSignatureInvalid = "webhook_signature_invalid": "A processor webhook whose signature does not verify or is over 5 minutes old",
    // WebMail
    FolderInvalid = "folder_invalid": "A folder other than inbox and sent",
    MessageEmpty = "message_empty": "A message without text",
    MessageTooLong = "message_too_long": "A message over its length limit, or not plain text",
    ProviderUnknown = "provider_unknown": "A provider who is not one the practice lists for messages",
    NotActingForProvider = "not_acting_for_provider": "Staff writing as a provider they do not act for",
    AttachmentInvalid = "attachment_invalid": "An attachment that is not a PDF, JPEG or PNG with a plain file name, or too many",
    AttachmentTooLarge = "attachment_too_large": "An attachment over its size limit",
    AttachmentUsed = "attachment_used": "An attachment that already went with another message",
    AttachmentRejected = "attachment_rejected": "Uploaded bytes that are missing, of another size or not of the declared type (deleted)",
    // Sync API
    SyncSignatureMissing = "sync_signature_missing": "A sync request without the signature headers",
    SyncSignatureMalformed = "sync_signature_malformed": "Signature headers of the wrong form",
    SyncSignatureInvalid = "sync_signature_invalid": "The signature does not verify",
    SyncTimestampStale = "sync_timestamp_stale": "The timestamp is more than 5 minutes off",
    SyncKeyUnknown = "sync_key_unknown": "No such sync key",
    SyncKeyRevoked = "sync_key_revoked": "The sync key was revoked",
    SyncReplay = "sync_replay": "The nonce was used before",
    SyncBodyMismatch = "sync_body_mismatch": "The body is not the one that was signed",
    EntityUnknown = "entity_unknown": "Not a sync entity",
    FieldInvalid = "field_invalid": "A field breaks its rule (the detail names it)",
    CodeSystemUnknown = "code_system_unknown": "A clinical code system the portal does not know",
    // Code-system imports
    ReleaseInvalid = "release_invalid": "A release name that is not one plain folder name",
    ReleaseUnknown = "release_unknown": "No such release in the practice's release location",
    ReleaseNotRecognised = "release_not_recognised": "The folder is not a release of one code system (the detail says why)",
    ReleaseFormatWrong = "release_format_wrong": "A file of the release is not the format its name claims (the detail names it)",
    ReleaseSystemMismatch = "release_system_mismatch": "The release is of another code system than the one named",
    ImportRunning = "import_running": "An import of that code system is running already",
    ImportFinished = "import_finished": "The import has ended: nothing to cancel",
    // Care summary
    RecipientCertificateMissing = "recipient_certificate_missing": "Encrypted sending to an address the practice has not registered as a Direct recipient",
    RecipientCertificateExpired = "recipient_certificate_expired": "The certificate registered for that Direct address has expired",
    CertificateInvalid = "certificate_invalid": "Not a PEM X.509 certificate with an RSA key",
    CertificateHasNoAddress = "certificate_has_no_address": "The certificate names no email address",
    CertificateNotCurrent = "certificate_not_current": "The certificate is expired or not valid yet",
    BatchSize = "batch_size": "A batch of no items or too many",
    InvalidItem = "invalid_item": "A batch item of the wrong shape",
    EntityHasNoFile = "entity_has_no_file": "`…/uploaded` for an entity without a file",
    FileMissing = "file_missing": "`…/uploaded` before the file was uploaded",
    FileRejected = "file_rejected": "The uploaded file is not of its declared size or type (it was deleted)",
    SyncContended = "sync_contended": "The entity kept changing while it was applied",
    AckContended = "ack_contended": "Acknowledgements raced",
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;
    use std::path::Path;

    /// The variants a source file names (`ProblemCode::X`).
    fn named_in(text: &str, out: &mut BTreeSet<String>) {
        for (i, _) in text.match_indices("ProblemCode::") {
            let rest = &text[i + "ProblemCode::".len()..];
            let end = rest.find(|c: char| !c.is_ascii_alphanumeric()).unwrap_or(rest.len());
            out.insert(rest[..end].to_string());
        }
    }

    fn walk(dir: &Path, out: &mut BTreeSet<String>) {
        for entry in std::fs::read_dir(dir).unwrap().flatten() {
            let path = entry.path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") && !path.ends_with("problems.rs") {
                named_in(&std::fs::read_to_string(&path).unwrap(), out);
            }
        }
    }

    #[test]
    fn every_listed_code_is_answered_somewhere() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let mut named = BTreeSet::new();
        for dir in ["shared", "functions"] {
            walk(&root.join(dir), &mut named);
        }
        let mut used: BTreeSet<&str> = ProblemCode::ALL.iter().filter(|c| named.contains(&format!("{c:?}"))).map(|c| c.as_str()).collect();
        // The answers API Gateway makes itself: `"code":"…"` in each gateway response.
        let template = std::fs::read_to_string(root.join("infra/template.yaml")).unwrap();
        for (i, _) in template.match_indices("\"code\":\"") {
            let rest = &template[i + "\"code\":\"".len()..];
            let code = &rest[..rest.find('"').unwrap()];
            if code.starts_with('$') {
                continue; // the authorizer's own code, passed through
            }
            let listed = ProblemCode::ALL.iter().find(|c| c.as_str() == code);
            used.insert(listed.unwrap_or_else(|| panic!("the template answers with {code}, not a ProblemCode")).as_str());
        }
        let unused: Vec<&str> = ProblemCode::ALL.iter().map(|c| c.as_str()).filter(|c| !used.contains(c)).collect();
        assert!(unused.is_empty(), "codes listed in problems.rs but never answered with: {unused:?}");
        let distinct: BTreeSet<&str> = ProblemCode::ALL.iter().map(|c| c.as_str()).collect();
        assert_eq!(distinct.len(), ProblemCode::ALL.len(), "a code is listed twice");
    }

    #[test]
    fn openapi_problem_code_enum_is_this_list() {
        let spec = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../infra/openapi.yaml")).unwrap();
        let line = spec.lines().find(|l| l.trim_start().starts_with("code: { type: string, enum: [")).expect("Problem.code enum");
        let inner = &line[line.find('[').unwrap() + 1..line.find(']').unwrap()];
        let documented: BTreeSet<&str> = inner.split(',').map(str::trim).collect();
        let listed: BTreeSet<&str> = ProblemCode::ALL.iter().map(|c| c.as_str()).collect();
        assert_eq!(documented, listed, "infra/openapi.yaml Problem.code enum differs from ProblemCode");
    }
}
