//! Every problem `code` the API answers with, listed once with what it means. Clients branch on
//! these codes, so they are a contract: a test below finds every code the source builds an error
//! with, and each gateway response in `infra/template.yaml` answers with, and fails if one is
//! missing here (or listed but never used); another checks that `infra/openapi.yaml` lists the
//! same codes as the `Problem.code` enum.

/// `(code, when it is answered)`, by area.
pub const PROBLEM_CODES: &[(&str, &str)] = &[
    // Requests in general
    ("route_not_found", "No such route"),
    ("misdirected_request", "Local mode: the `Host` is not this server's (DNS rebinding)"),
    ("method_not_allowed", "The route does not take that method (the answer has `Allow`)"),
    ("not_found", "Absent, or another patient's or practice's (the two look the same on purpose)"),
    ("malformed_json", "The body is not JSON"),
    ("invalid_body", "The JSON does not have the expected shape"),
    ("body_empty", "A body is required"),
    ("body_not_utf8", "The body is not UTF-8 text"),
    ("body_too_large", "The body is larger than the route takes"),
    ("unsupported_media_type", "The body is not `application/json`"),
    ("invalid_query", "The query string has unknown or malformed parameters"),
    ("limit_invalid", "A page size outside its range"),
    ("cursor_invalid", "A paging cursor that was not handed out"),
    ("date_invalid", "A date that is not YYYY-MM-DD"),
    ("date_range_invalid", "`from` after `to`"),
    ("conflict", "Someone changed the item first"),
    ("backend_unavailable", "A backend did not answer; nothing was changed"),
    // Answered by API Gateway itself (its gateway responses in infra/template.yaml)
    ("rate_limited", "Too many requests: the stage's throttle or a firewall rate rule (429)"),
    ("request_blocked", "The firewall (AWS WAF) blocked the request (403)"),
    ("request_refused", "Any other request the gateway refused before a function saw it (400)"),
    ("gateway_timeout", "The function did not answer within the gateway's 29 s (504)"),
    // Sessions and logins
    ("session_required", "No valid session"),
    ("login_failed", "Wrong practice, username, password or code (never says which)"),
    ("temporary_password_expired", "The temporary password is too old"),
    ("password_change_required", "A temporary password must be changed first"),
    ("current_password_wrong", "Password change: the current password is not right"),
    ("password_unchanged", "Password change: the new password is the current one"),
    ("password_too_short", "Password rules"),
    ("password_too_long", "Password rules"),
    ("password_too_common", "Password rules: on the common-password list"),
    ("practice_invalid", "A practice id outside the id rule"),
    ("username_invalid", "A username outside the username rule"),
    ("username_change_not_allowed", "A username is chosen only with the first password of one's own (patients)"),
    ("staff_mfa_required", "A staff login reached a patient's second-factor setting (staff always use one)"),
    ("patients_only", "A patient-login route (the second factor) called with a staff session"),
    ("reauthentication_failed", "Turning the second factor off: neither the password nor a current code was right"),
    ("too_many_attempts", "Turning the second factor off: too many tries this hour (429)"),
    ("attachment_limit", "WebMail: more files declared today than a sender may (429)"),
    ("transmit_limit", "Care summary: sent as often today as a patient may (429)"),
    ("test_limit", "Invites: as many test invites sent today as a practice may (429)"),
    ("sender_missing", "The practice has not set the address its email goes from (Setup), so this email cannot go (422)"),
    ("reset_link_invalid", "Password reset: the link's token is unknown, used or older than 30 minutes"),
    // Access
    ("patient_not_eligible", "Portal access: the patient's record lacks what a login needs (the detail names it)"),
    ("email_not_possible", "Portal access: the login cannot be emailed (no patient email, sender or portal address); print it"),
    ("access_exists", "Portal access: the patient has a login already"),
    ("username_taken", "Staff users: that username exists in the practice"),
    ("last_admin", "Staff users: the practice's last active admin cannot be disabled or demoted"),
    ("totp_not_started", "Staff users: confirming an authenticator that was not started"),
    ("totp_code_wrong", "Staff users: the first code does not match the new authenticator"),
    ("invite_rule_invalid", "Invite rules: an id, time, resend setting or office phone outside its rule (the detail says which)"),
    ("search_invalid", "Patient search: too long, or a phone number of fewer than 4 digits"),
    ("feature_disabled", "The practice has not enabled the feature"),
    ("staff_only", "A staff route called by a patient, or by staff without the role it needs"),
    ("sync_only", "A sync route called without a sync key"),
    ("sync_key_scope", "A sync key used outside the sync API"),
    ("cross_site_request", "A cookie-authenticated change sent from another site"),
    // Settings
    ("settings_changed", "A settings save from a stale version (the answer carries `current`)"),
    ("unknown_feature", "A feature key that is not one of the seven"),
    ("url_invalid", "Not a URL"),
    ("url_too_long", "A URL over the length limit"),
    ("url_not_https", "Outside local mode a portal URL is https"),
    ("sender_domain_not_allowed", "The notification sender is not at a domain the deployment may send from"),
    ("email_invalid", "Not a plain email address"),
    ("subject_invalid", "A subject (of notifications or of a message) that is not one line of text within its limit"),
    ("body_too_long", "The notification body is too long"),
    ("body_missing_url", "A notification or invite body lacks [URL]"),
    ("body_unknown_tag", "A notification or invite uses a tag it does not know"),
    ("text_invalid", "Control characters in text that goes into email or onto a page, or text over its limit"),
    ("phone_invalid", "A phone number that is not digits with the usual punctuation"),
    ("label_invalid", "A sync key's name"),
    ("sync_key_limit", "The practice has as many active sync keys as it may"),
    // Patient modules
    ("confirmation_not_pending", "Confirming an appointment that is not waiting for a confirmation"),
    ("appointment_not_changeable", "Asking to cancel or reschedule an appointment that is not upcoming and scheduled"),
    ("appointment_requests_off", "The practice takes requests to cancel or reschedule by phone only"),
    ("recall_not_due", "Booking a recall that is already scheduled or no longer due"),
    ("slot_taken", "Booking a slot someone else has just booked"),
    ("slot_unfit", "Booking a slot that is not open for the recall's type, or has passed"),
    // Payments
    ("payments_unavailable", "Payments: the practice takes no payments online (no processor set up)"),
    ("amount_invalid", "Payments: an amount under $1.00 or over the practice's online limit"),
    ("idempotency_key_invalid", "Payments: the start's idempotencyKey is not 8 to 64 letters, digits, '-' or '_'"),
    ("card_token_invalid", "Payments: not a card token the processor's card fields made, or the processor could not read it"),
    ("payment_limit", "Guest payments: too many started, or cards tried, from one address this hour (429)"),
    ("refund_invalid", "Payment refunds: an amount under $0.01 or over what is left of the payment"),
    ("payment_not_refundable", "Payment refunds: the payment is not approved (pending, declined, canceled or refunded already)"),
    ("refund_refused", "Payment refunds: the processor refused the refund (the detail gives its reason)"),
    ("payment_assigned", "Assigning a guest payment that is on a patient's account already"),
    ("note_invalid", "A note (to a payment, with a request to the office) that is too long or not plain text"),
    ("payment_setup_invalid", "Payment setup: a processor not offered, a key of the wrong form, or a limit out of range"),
    ("webhook_signature_invalid", "A processor webhook whose signature does not verify or is over 5 minutes old"),
    // WebMail
    ("folder_invalid", "A folder other than inbox and sent"),
    ("message_empty", "A message without text"),
    ("message_too_long", "A message over its length limit, or not plain text"),
    ("provider_unknown", "A provider who is not one the practice lists for messages"),
    ("not_acting_for_provider", "Staff writing as a provider they do not act for"),
    ("attachment_invalid", "An attachment that is not a PDF, JPEG or PNG with a plain file name, or too many"),
    ("attachment_too_large", "An attachment over its size limit"),
    ("attachment_used", "An attachment that already went with another message"),
    ("attachment_rejected", "Uploaded bytes that are missing, of another size or not of the declared type (deleted)"),
    // Sync API
    ("sync_signature_missing", "A sync request without the signature headers"),
    ("sync_signature_malformed", "Signature headers of the wrong form"),
    ("sync_signature_invalid", "The signature does not verify"),
    ("sync_timestamp_stale", "The timestamp is more than 5 minutes off"),
    ("sync_key_unknown", "No such sync key"),
    ("sync_key_revoked", "The sync key was revoked"),
    ("sync_replay", "The nonce was used before"),
    ("sync_body_mismatch", "The body is not the one that was signed"),
    ("entity_unknown", "Not a sync entity"),
    ("field_invalid", "A field breaks its rule (the detail names it)"),
    ("code_system_unknown", "A clinical code system the portal does not know"),
    // Code-system imports
    ("release_invalid", "A release name that is not one plain folder name"),
    ("release_unknown", "No such release in the practice's release location"),
    ("release_not_recognised", "The folder is not a release of one code system (the detail says why)"),
    ("release_format_wrong", "A file of the release is not the format its name claims (the detail names it)"),
    ("release_system_mismatch", "The release is of another code system than the one named"),
    ("import_running", "An import of that code system is running already"),
    ("import_finished", "The import has ended: nothing to cancel"),
    // Care summary
    ("recipient_certificate_missing", "Encrypted sending to an address the practice has not registered as a Direct recipient"),
    ("recipient_certificate_expired", "The certificate registered for that Direct address has expired"),
    ("certificate_invalid", "Not a PEM X.509 certificate with an RSA key"),
    ("certificate_has_no_address", "The certificate names no email address"),
    ("certificate_not_current", "The certificate is expired or not valid yet"),
    ("batch_size", "A batch of no items or too many"),
    ("invalid_item", "A batch item of the wrong shape"),
    ("entity_has_no_file", "`…/uploaded` for an entity without a file"),
    ("file_missing", "`…/uploaded` before the file was uploaded"),
    ("file_rejected", "The uploaded file is not of its declared size or type (it was deleted)"),
    ("sync_contended", "The entity kept changing while it was applied"),
    ("ack_contended", "Acknowledgements raced"),
];

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;
    use std::path::Path;

    /// The string literal right after `at` (skipping whitespace), if it looks like a code.
    fn literal_after(s: &str) -> Option<&str> {
        let s = s.trim_start().strip_prefix('"')?;
        let end = s.find('"')?;
        let code = &s[..end];
        // A code starts with a letter (a quoted number is a clinical code, not a problem code).
        let word = code.starts_with(|c: char| c.is_ascii_lowercase());
        (word && code.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')).then_some(code)
    }

    /// The codes a source file builds errors with: `invalid(`/`unauthorized(`/`forbidden(`/
    /// `refuse(`/`conflict(` with a literal first argument, `code: "…"` fields, and `problem(StatusCode::X, "…"`.
    fn codes_in(text: &str, out: &mut BTreeSet<String>) {
        for marker in ["invalid(", "unauthorized(", "forbidden(", "refuse(", "conflict(", "code: "] {
            for (i, _) in text.match_indices(marker) {
                let before = text[..i].chars().last().unwrap_or(' ');
                if before.is_alphanumeric() || before == '_' {
                    continue; // part of a longer name (`is_invalid(`)
                }
                out.extend(literal_after(&text[i + marker.len()..]).map(str::to_string));
            }
        }
        for (i, _) in text.match_indices("problem(") {
            let rest = text[i + "problem(".len()..].trim_start();
            if let Some(after_status) = rest.strip_prefix("StatusCode::").and_then(|r| r.split_once(',')) {
                out.extend(literal_after(after_status.1).map(str::to_string));
            }
        }
    }

    fn walk(dir: &Path, out: &mut BTreeSet<String>) {
        for entry in std::fs::read_dir(dir).unwrap().flatten() {
            let path = entry.path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") && !path.ends_with("problems.rs") {
                codes_in(&std::fs::read_to_string(&path).unwrap(), out);
            }
        }
    }

    #[test]
    fn every_code_used_is_listed_and_every_listed_code_is_used() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let mut used = BTreeSet::new();
        for dir in ["shared", "functions"] {
            walk(&root.join(dir), &mut used);
        }
        // The answers API Gateway makes itself: `"code":"…"` in each gateway response.
        let template = std::fs::read_to_string(root.join("infra/template.yaml")).unwrap();
        for (i, _) in template.match_indices("\"code\":") {
            used.extend(literal_after(&template[i + "\"code\":".len()..]).map(str::to_string));
        }
        for e in
            [crate::CoreError::NotFound, crate::CoreError::TooLarge { detail: String::new() }, crate::CoreError::Backend(String::new())]
        {
            used.insert(e.code().to_string());
        }
        let listed: BTreeSet<String> = PROBLEM_CODES.iter().map(|(c, _)| c.to_string()).collect();
        assert_eq!(listed.len(), PROBLEM_CODES.len(), "a code is listed twice");
        let unlisted: Vec<_> = used.difference(&listed).collect();
        assert!(unlisted.is_empty(), "codes used but not listed in problems.rs: {unlisted:?}");
        let unused: Vec<_> = listed.difference(&used).collect();
        assert!(unused.is_empty(), "codes listed in problems.rs but never used: {unused:?}");
    }

    #[test]
    fn openapi_problem_code_enum_is_this_list() {
        let spec = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../infra/openapi.yaml")).unwrap();
        let line = spec.lines().find(|l| l.trim_start().starts_with("code: { type: string, enum: [")).expect("Problem.code enum");
        let inner = &line[line.find('[').unwrap() + 1..line.find(']').unwrap()];
        let documented: BTreeSet<&str> = inner.split(',').map(str::trim).collect();
        let listed: BTreeSet<&str> = PROBLEM_CODES.iter().map(|(c, _)| *c).collect();
        assert_eq!(documented, listed, "infra/openapi.yaml Problem.code enum differs from PROBLEM_CODES");
    }
}
