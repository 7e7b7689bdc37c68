//! The single table's key design, in one place. Every key starts with the practice (`P#{practice}`)
//! so no query of one tenant can reach another's items.
//!
//! | item | pk | sk | gsi1pk / gsi1sk | ttl | access pattern |
//! |---|---|---|---|---|---|
//! | practice settings | `P#{p}` | `SETTINGS` | `PRACTICES` / `{p}` | – | get by practice (authorizer, cached ≤ 30 s; admin); the audit seal run lists every practice (a key not under a practice: it holds practice ids only) |
//! | login credential | `P#{p}` | `CRED#{kind}#{username}` | `P#{p}#PRINCIPAL#{id}` / `CRED` | – | get by practice + username at login; by principal for password change |
//! | patient's portal access | `P#{p}` | `ACCESS#{patient}` | – | – | get by patient (staff's roster, grant/reset/remove, last visit); put-if-absent with the credential |
//! | roster entry of a patient (one per slot: last, first, dob, phone-…, email) | `P#{p}` | `ROSTER#{patient}#{slot}` | `P#{p}#ROSTER#{LAST\|FIRST\|DOB\|PHONE\|EMAIL}` / `{folded value}#{patient}` | – | staff find patients by name, birthdate, phone prefix, email; recovery finds logins by email (see `sync::roster`) |
//! | password reset link | `P#{p}` | `RESET#{sha256(token)}` | – | 30 min | get by token (the token names its practice); deleted when used |
//! | appointment in the invite calendar | `P#{p}` | `CAL#{appointment}` | `P#{p}#CALENDAR` / `{start unix:011}#{appointment}` | – | scheduled/completed appointments by start (see `sync::calendar`) |
//! | invite rules | `P#{p}` | `INVITE_RULES` | `INVITES#ENABLED` / `{p}` while a rule is on | – | the practice's rules; the schedule lists practices with rules on (the one key not under a practice: it holds practice ids only) |
//! | invite claim and log entry | `P#{p}` | `INVITE#{rule}#{appointment}` | `P#{p}#INVITELOG` / `{created:013}#{rule}#{appointment}` | – | put-if-absent claims an invite; the log newest first |
//! | code system of a practice (active version, running import, last outcome) | `P#{p}` | `CODESYS#{system}` | `IMPORTS#RUNNING` / `{p}#{system}` while an import runs | – | the staff screen lists a practice's systems (one query); readers find the active version; a restarted local host finds running imports (see `code_systems::import`) |
//! | code-system import | `P#{p}` | `IMPORT#{id}` | `P#{p}#IMPORTS` / `{started:013}#{id}` | – | get by id (progress, steps); a practice's imports newest first |
//! | batch of an import, done | `P#{p}` | `IMPORT#{id}#B#{n:05}` | – | – | put-if-absent when a batch ends; progress sums them |
//! | name of a code in an imported version | `P#{p}#TERMS#{system}#{import id}` | `{code}#A` (active concept), `{code}#T{rank:02}#{id}` (a name, best rank first) | – | – | a code's preferred name: query `{code}#`, first two; the clean step empties a version no one reads |
//! | a description SNOMED CT's US English refset prefers, while its import runs | `P#{p}#IMPORT#{import id}#PREFERRED` | `{description id}` | – | – | description batches batch-get their synonyms; the clean step empties it |
//! | Direct (S/MIME) recipient of encrypted care summaries | `P#{p}` | `RECIPIENT#{address}` | – | – | by address when a patient sends encrypted; the practice's list (see `practice::direct_recipients`) |
//! | session | `P#{p}` | `SESSION#{sha256(token)}` | `P#{p}#PRINCIPAL#{id}` / `SESSION#{created}` | absolute expiry | get by token (the token names its practice); all of a principal's sessions, to end them |
//! | a read audited once for a session | `P#{p}` | `SESSION#{sha256(token)}#READ#{action}#{subject}` | – | the session's absolute expiry | get: already audited in this session? (see `AuditLog::phi_read_once_per_session`) |
//! | login throttle, per account | `P#{p}` | `THROTTLE#{kind}#{username}` | – | 1 day after the last attempt | conditional counter (throttle.rs) |
//! | known device (a browser a login succeeded on) | `P#{p}` | `DEVICE#{sha256(token)}` | – | 180 days | get by the cookie's token at login (see `identity::devices`) |
//! | wrong passwords typed on a known device | `P#{p}` | `DEVICE#{sha256(token)}#FAILED` | – | 180 days | atomic count |
//! | uses of a quota in one window (reset mails, attachments, care-summary sends, failed logins per address) | `P#{p}` | `QUOTA#{name}#{key}#{window}` | – | end of the window | an atomic count answering its new value (`quota.rs`) |
//! | used TOTP step | `P#{p}` | `TOTP#{kind}#{principal}#{step}` | – | 2 min | put-if-absent refuses a replayed code (by principal, never by a name another login could take) |
//! | sync key | `P#{p}` | `SYNCKEY#{keyId}` | – | – | get by key id (the id names its practice); list the practice's keys |
//! | used sync nonce | `P#{p}` | `NONCE#{keyId}#{nonce}` | – | 11 min | put-if-absent refuses a replayed request |
//! | synced entity | `P#{p}` | `SYNC#{entity}#{id}` | see the next three rows (none for a tombstone) | – | get by entity + id (sync, modules) |
//! | … a patient's or account's record | | | `P#{p}#PATIENT#{owner}` / `{entity}#{date}#{id}` | – | one patient's (or, for ledger and statements, one guarantor's) records of a kind, by date range, newest first |
//! | … a patient | | | `P#{p}#FAMILY#{guarantor}` / `patients#{id}` | – | a whole family in one query (the family rule) |
//! | … a provider or slot | | | `P#{p}#PRACTICE` / `{entity}#{date}#{id}` | – | the practice's providers; open slots by start |
//! | portal booking of a slot | `P#{p}` | `BOOKING#{slot}` | `P#{p}#PATIENT#{patient}` / `appointments#{start}#{booking}` | – | put-if-absent claims the slot; listed with the patient's appointments |
//! | WebMail thread, its messages and sent copies, unread counts, attachments | see `webmail::mailbox`, `webmail::attachments` | | | | | |
//! | payment setup (processor, sealed keys, limit) | `P#{p}` | `PAYMENT_SETUP` | – | – | get by practice when a payment starts or a webhook arrives; staff edit it (see `payments::setup`) |
//! | payment | `P#{p}#PAYMENTS` | `{id}` (the id starts with its creation time) | `P#{p}#PAYACCOUNT#{account}` (guests unmatched: `P#{p}#PAYUNMATCHED`) / `{id}` | – | get by id; the practice's payments newest first (staff); an account's payments newest first (history, amounts being posted); unmatched guest payments |
//! | open payment (pending or declined) | `PAYMENTS#OPEN` | `{id}\|{p}` | – | – | the reconciler reads them oldest first (the third key not under a practice: ids only) |
//! | payment start by idempotency key | `P#{p}` | `PAYKEY#{payer}#{key}` | – | 2 days | put-if-absent: the same start sent twice makes one payment |
//! | processor webhook event handled | `P#{p}` | `WEBHOOK#{event id}` | – | 30 days | put-if-absent after handling: a redelivered event is answered, not handled again |
//! | outbox event | `P#{p}#OUTBOX` | `{micros:016}#{id}` | until published: `OUTBOX#UNPUBLISHED` / `{micros:016}#{id}\|{p}` | 90 days | events after a cursor, oldest first; the relay finds those not yet published, oldest first (the one other key not under a practice) |
//! | outbox acknowledgement | `P#{p}` | `OUTBOX_ACK` | – | – | the highest event id the system has handled |
//! | audit entry | `P#{p}#AUDIT` | `{millis:013}#{id}` | `P#{p}#AUDIT#{subject}` / same sk | – | practice's log newest first; a patient's own history newest first |
//! | audit seal of a day (count, head hash, the previous day's head) | `P#{p}#AUDITSEAL` | `{yyyy-mm-dd}` | – | – | the newest seal (the next day to seal); seals oldest first (verify) (see `audit::seal`) |
//! | … its entries' digests, 1,000 a part | `P#{p}#AUDITSEAL#{yyyy-mm-dd}` | `{part:04}` | – | – | all parts of a day's seal |

use crate::ids::{PracticeId, Username};

pub fn practice(p: &PracticeId) -> String {
    format!("P#{p}")
}

pub const SETTINGS: &str = "SETTINGS";

/// The index partition listing every practice (on its settings item).
pub const PRACTICES: &str = "PRACTICES";

/// The sort-key prefix of a practice's Direct recipients.
pub const DIRECT_RECIPIENT_PREFIX: &str = "RECIPIENT#";

pub fn direct_recipient(address: &str) -> String {
    format!("{DIRECT_RECIPIENT_PREFIX}{address}")
}

/// The sort-key prefix of a practice's code systems.
pub const CODE_SYSTEM_PREFIX: &str = "CODESYS#";

/// `system`: the code system's name (`System::name`).
pub fn code_system(system: &str) -> String {
    format!("{CODE_SYSTEM_PREFIX}{system}")
}

/// The index partition of code systems with an import running (all practices).
pub const IMPORTS_RUNNING: &str = "IMPORTS#RUNNING";

/// The index partition of outbox events not yet published (all practices).
pub const OUTBOX_UNPUBLISHED: &str = "OUTBOX#UNPUBLISHED";

/// An unpublished event's index sort key: its id first, so the oldest come first.
pub fn unpublished(event_id: &str, practice: &PracticeId) -> String {
    format!("{event_id}|{practice}")
}

pub fn import(id: &str) -> String {
    format!("IMPORT#{id}")
}

pub fn imports(p: &PracticeId) -> String {
    format!("P#{p}#IMPORTS")
}

pub fn import_batch_prefix(id: &str) -> String {
    format!("IMPORT#{id}#B#")
}

pub fn import_batch(id: &str, n: usize) -> String {
    format!("IMPORT#{id}#B#{n:05}")
}

pub fn terms(p: &PracticeId, system: &str, import: &str) -> String {
    format!("P#{p}#TERMS#{system}#{import}")
}

pub fn preferred(p: &PracticeId, import: &str) -> String {
    format!("P#{p}#IMPORT#{import}#PREFERRED")
}

pub fn term_prefix(code: &str) -> String {
    format!("{code}#")
}

pub fn term_concept(code: &str) -> String {
    format!("{code}#A")
}

pub fn term_name(code: &str, rank: u8, id: &str) -> String {
    format!("{code}#T{rank:02}#{id}")
}

/// A practice's automated-invite rules (see `invites::rules`).
pub const INVITE_RULES: &str = "INVITE_RULES";

pub fn credential(kind: &str, username: &Username) -> String {
    format!("CRED#{kind}#{username}")
}

/// The start every credential key of `kind` shares (to list them).
pub fn credentials(kind: &str) -> String {
    format!("CRED#{kind}#")
}

pub fn principal(p: &PracticeId, principal_id: &str) -> String {
    format!("P#{p}#PRINCIPAL#{principal_id}")
}

/// A patient's portal access (see `identity::patient_access`).
pub fn access(patient_id: &str) -> String {
    format!("ACCESS#{patient_id}")
}

/// A patient's change to their contact details, waiting for the practice's system (see
/// `patient::profile`).
pub fn contact_change(patient_id: &str) -> String {
    format!("CONTACT#{patient_id}")
}

pub fn reset_link(token_hash: &str) -> String {
    format!("RESET#{token_hash}")
}

pub fn session(token_hash: &str) -> String {
    format!("SESSION#{token_hash}")
}

pub fn session_read(token_hash: &str, action: &str, subject: &str) -> String {
    format!("SESSION#{token_hash}#READ#{action}#{subject}")
}

pub fn throttle_account(account: &str) -> String {
    format!("THROTTLE#{account}")
}

pub fn device(token_hash: &str) -> String {
    format!("DEVICE#{token_hash}")
}

pub fn device_failures(token_hash: &str) -> String {
    format!("DEVICE#{token_hash}#FAILED")
}

pub fn quota(name: &str, key: &str, window: i64) -> String {
    format!("QUOTA#{name}#{key}#{window}")
}

pub fn totp_step(kind: &str, principal_id: &str, step: u64) -> String {
    format!("TOTP#{kind}#{principal_id}#{step}")
}

pub fn audit(p: &PracticeId) -> String {
    format!("P#{p}#AUDIT")
}

pub fn audit_seals(p: &PracticeId) -> String {
    format!("P#{p}#AUDITSEAL")
}

pub fn audit_seal_parts(p: &PracticeId, day: &str) -> String {
    format!("P#{p}#AUDITSEAL#{day}")
}

pub fn audit_subject(p: &PracticeId, subject: &str) -> String {
    format!("P#{p}#AUDIT#{subject}")
}

pub fn sync_key(key_id: &str) -> String {
    format!("SYNCKEY#{key_id}")
}

pub fn sync_nonce(key_id: &str, nonce: &str) -> String {
    format!("NONCE#{key_id}#{nonce}")
}

pub fn sync_entity(entity: &str, id: &str) -> String {
    format!("SYNC#{entity}#{id}")
}

pub fn patient_data(p: &PracticeId, patient: &str) -> String {
    format!("P#{p}#PATIENT#{patient}")
}

pub fn family(p: &PracticeId, guarantor: &str) -> String {
    format!("P#{p}#FAMILY#{guarantor}")
}

pub fn practice_data(p: &PracticeId) -> String {
    format!("P#{p}#PRACTICE")
}

/// The index sort key of a synced record: by kind, then date (when it has one), then id.
pub fn record_sort(entity: &str, date: Option<&str>, id: &str) -> String {
    match date {
        Some(d) => format!("{entity}#{d}#{id}"),
        None => format!("{entity}#{id}"),
    }
}

pub fn booking(slot_id: &str) -> String {
    format!("BOOKING#{slot_id}")
}

pub fn thread(p: &PracticeId, thread_id: &str) -> String {
    format!("P#{p}#THREAD#{thread_id}")
}

/// The index partition of the office's WebMail folders.
pub fn webmail_office(p: &PracticeId) -> String {
    format!("P#{p}#WEBMAIL")
}

pub fn attachment(id: &str) -> String {
    format!("ATTACH#{id}")
}

pub fn webmail_unread(recipient: &str) -> String {
    format!("UNREAD#{recipient}")
}

pub fn outbox(p: &PracticeId) -> String {
    format!("P#{p}#OUTBOX")
}

pub const OUTBOX_ACK: &str = "OUTBOX_ACK";

pub const PAYMENT_SETUP: &str = "PAYMENT_SETUP";

pub fn payments(p: &PracticeId) -> String {
    format!("P#{p}#PAYMENTS")
}

pub fn account_payments(p: &PracticeId, account: &str) -> String {
    format!("P#{p}#PAYACCOUNT#{account}")
}

/// The index of guest payments that matched no patient (until staff assign them).
pub fn unmatched_payments(p: &PracticeId) -> String {
    format!("P#{p}#PAYUNMATCHED")
}

/// The partition of open payments (all practices).
pub const PAYMENTS_OPEN: &str = "PAYMENTS#OPEN";

pub fn open_payment(id: &str, p: &PracticeId) -> String {
    format!("{id}|{p}")
}

pub fn payment_key(payer: &str, key: &str) -> String {
    format!("PAYKEY#{payer}#{key}")
}

pub fn webhook_event(event_id: &str) -> String {
    format!("WEBHOOK#{event_id}")
}
