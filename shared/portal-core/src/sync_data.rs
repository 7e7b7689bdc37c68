//! What the practice's system sends: one typed, validated shape per entity. A body that does not
//! fit is refused with the field and the rule it broke; nothing unknown is stored.

use crate::codes;
use crate::{CoreError, CoreResult};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Entity {
    Patients,
    Providers,
    Appointments,
    Recalls,
    Slots,
    Ledger,
    Statements,
    TreatmentPlans,
    Clinical,
    Documents,
}

impl Entity {
    pub const ALL: [Entity; 10] = [
        Entity::Patients,
        Entity::Providers,
        Entity::Appointments,
        Entity::Recalls,
        Entity::Slots,
        Entity::Ledger,
        Entity::Statements,
        Entity::TreatmentPlans,
        Entity::Clinical,
        Entity::Documents,
    ];

    /// The name in the URL (`/v1/sync/{entity}/{id}`).
    pub fn name(self) -> &'static str {
        match self {
            Entity::Patients => "patients",
            Entity::Providers => "providers",
            Entity::Appointments => "appointments",
            Entity::Recalls => "recalls",
            Entity::Slots => "slots",
            Entity::Ledger => "ledger",
            Entity::Statements => "statements",
            Entity::TreatmentPlans => "treatment-plans",
            Entity::Clinical => "clinical",
            Entity::Documents => "documents",
        }
    }

    pub fn parse(name: &str) -> CoreResult<Entity> {
        Entity::ALL.into_iter().find(|e| e.name() == name).ok_or_else(|| {
            let names: Vec<&str> = Entity::ALL.iter().map(|e| e.name()).collect();
            CoreError::invalid(
                "entity_unknown",
                format!("'{}' is not a sync entity; use one of {}.", name.chars().take(40).collect::<String>(), names.join(", ")),
            )
        })
    }

    /// Entities that come with a file the system uploads to a presigned URL.
    pub fn has_file(self) -> bool {
        matches!(self, Entity::Statements | Entity::Documents)
    }
}

/// An entity as validated: its normalized fields, the patient it belongs to (if any) and its file.
#[derive(Debug, Clone, PartialEq)]
pub struct Validated {
    pub data: Value,
    pub patient_id: Option<String>,
    pub file: Option<FileMeta>,
}

fn bad(field: &str, rule: impl std::fmt::Display) -> CoreError {
    CoreError::invalid("field_invalid", format!("{field}: {rule}"))
}

pub fn check_id(field: &str, id: &str) -> CoreResult<()> {
    if id.is_empty() || id.len() > 64 || !id.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b)) {
        return Err(bad(field, "an id is 1–64 letters, digits, '-', '_' or '.'"));
    }
    Ok(())
}

fn text(field: &str, v: &str, min: usize, max: usize) -> CoreResult<()> {
    let n = v.trim().chars().count();
    if n < min || n > max || v.chars().any(|c| c.is_control() && c != '\n' && c != '\t') {
        return Err(bad(field, format!("{min} to {max} characters of text")));
    }
    Ok(())
}

fn opt_text(field: &str, v: &Option<String>, max: usize) -> CoreResult<()> {
    v.as_deref().map_or(Ok(()), |s| text(field, s, 0, max))
}

fn date(field: &str, v: &str) -> CoreResult<time::Date> {
    time::Date::parse(v, &time::macros::format_description!("[year]-[month]-[day]")).map_err(|_| bad(field, "a date as YYYY-MM-DD"))
}

fn datetime(field: &str, v: &str) -> CoreResult<time::OffsetDateTime> {
    time::OffsetDateTime::parse(v, &time::format_description::well_known::Rfc3339)
        .map_err(|_| bad(field, "a date-time as RFC 3339 (2026-11-26T09:30:00-05:00)"))
}

/// Parses `lastModified` (RFC 3339); answers milliseconds since the epoch.
pub fn last_modified_ms(v: &str) -> CoreResult<i64> {
    let t = datetime("lastModified", v)?;
    Ok((t.unix_timestamp_nanos() / 1_000_000) as i64)
}

fn one_of(field: &str, v: &str, allowed: &[&str]) -> CoreResult<()> {
    if allowed.contains(&v) {
        Ok(())
    } else {
        Err(bad(field, format!("one of {}", allowed.join(", "))))
    }
}

fn minutes(field: &str, v: u32) -> CoreResult<()> {
    if (5..=720).contains(&v) && v % 5 == 0 {
        Ok(())
    } else {
        Err(bad(field, "5 to 720 minutes, in steps of 5"))
    }
}

fn email(field: &str, v: &Option<String>) -> CoreResult<()> {
    match v {
        Some(e) => crate::settings::check_email(e, field).map(|_| ()).map_err(|_| bad(field, "an email address")),
        None => Ok(()),
    }
}

fn cents(field: &str, v: i64) -> CoreResult<()> {
    if v.abs() <= 100_000_000_00 {
        Ok(())
    } else {
        Err(bad(field, "an amount in cents within ±100,000,000.00"))
    }
}

// ------------------------------------------------------------------------------------------------

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Address {
    line1: String,
    #[serde(default)]
    line2: Option<String>,
    city: String,
    state: String,
    postal_code: String,
    #[serde(default)]
    country: Option<String>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Phone {
    kind: String,
    number: String,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Guardian {
    patient_id: String,
    relationship: String,
}

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct OptOuts {
    #[serde(default)]
    email: bool,
    #[serde(default)]
    text: bool,
    #[serde(default)]
    portal_invites: bool,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Patient {
    first_name: String,
    last_name: String,
    #[serde(default)]
    preferred_name: Option<String>,
    birthdate: String,
    #[serde(default)]
    address: Option<Address>,
    #[serde(default)]
    phones: Vec<Phone>,
    #[serde(default)]
    email: Option<String>,
    #[serde(default)]
    preferred_language: Option<String>,
    /// The patient responsible for the account (themselves when absent).
    #[serde(default)]
    guarantor_id: Option<String>,
    #[serde(default)]
    family_ids: Vec<String>,
    #[serde(default)]
    guardians: Vec<Guardian>,
    #[serde(default)]
    is_minor: bool,
    #[serde(default)]
    primary_provider_id: Option<String>,
    #[serde(default)]
    opt_outs: OptOuts,
}

fn patient(p: &Patient) -> CoreResult<()> {
    text("firstName", &p.first_name, 1, 100)?;
    text("lastName", &p.last_name, 1, 100)?;
    opt_text("preferredName", &p.preferred_name, 100)?;
    let born = date("birthdate", &p.birthdate)?;
    if born.year() < 1900 || born > time::OffsetDateTime::now_utc().date() {
        return Err(bad("birthdate", "between 1900 and today"));
    }
    if let Some(a) = &p.address {
        text("address.line1", &a.line1, 1, 200)?;
        opt_text("address.line2", &a.line2, 200)?;
        text("address.city", &a.city, 1, 100)?;
        text("address.state", &a.state, 1, 50)?;
        text("address.postalCode", &a.postal_code, 1, 20)?;
        opt_text("address.country", &a.country, 60)?;
    }
    for ph in &p.phones {
        one_of("phones.kind", &ph.kind, &["home", "mobile", "work"])?;
        let digits = ph.number.chars().filter(char::is_ascii_digit).count();
        if !(7..=15).contains(&digits) || !ph.number.chars().all(|c| c.is_ascii_digit() || " +-().".contains(c)) {
            return Err(bad("phones.number", "7 to 15 digits, with + - ( ) . and spaces allowed"));
        }
    }
    email("email", &p.email)?;
    if let Some(l) = &p.preferred_language {
        if l.is_empty() || l.len() > 35 || !l.split('-').all(|s| (1..=8).contains(&s.len()) && s.chars().all(|c| c.is_ascii_alphanumeric()))
        {
            return Err(bad("preferredLanguage", "a language tag such as en, es or pt-BR"));
        }
    }
    for id in p.guarantor_id.iter().chain(&p.family_ids).chain(p.primary_provider_id.iter()) {
        check_id("guarantorId/familyIds/primaryProviderId", id)?;
    }
    for g in &p.guardians {
        check_id("guardians.patientId", &g.patient_id)?;
        one_of("guardians.relationship", &g.relationship, &["mother", "father", "parent", "guardian", "grandparent", "other"])?;
    }
    if p.is_minor && p.guardians.is_empty() {
        return Err(bad("guardians", "a minor needs at least one guardian"));
    }
    Ok(())
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Provider {
    abbreviation: String,
    first_name: String,
    last_name: String,
    #[serde(default)]
    credentials: Option<String>,
    #[serde(default)]
    npi: Option<String>,
    #[serde(default)]
    is_hygienist: bool,
    /// Staff usernames that act for this provider (answer their WebMail, see their schedule).
    #[serde(default)]
    staff_usernames: Vec<String>,
}

fn provider(p: &Provider) -> CoreResult<()> {
    text("abbreviation", &p.abbreviation, 1, 10)?;
    text("firstName", &p.first_name, 1, 100)?;
    text("lastName", &p.last_name, 1, 100)?;
    opt_text("credentials", &p.credentials, 20)?;
    if let Some(npi) = &p.npi {
        if !codes::is_npi(npi) {
            return Err(bad("npi", "a 10-digit NPI with a valid check digit"));
        }
    }
    if p.staff_usernames.iter().any(|u| !crate::ids::is_valid_slug(u)) {
        return Err(bad("staffUsernames", "portal staff usernames"));
    }
    Ok(())
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Appointment {
    patient_id: String,
    provider_id: String,
    start: String,
    length_minutes: u32,
    #[serde(default)]
    procedures: String,
    status: String,
    #[serde(default = "unconfirmed")]
    confirmation: String,
    #[serde(default)]
    e_confirmation_pending: bool,
    #[serde(default)]
    operatory: Option<String>,
}

fn unconfirmed() -> String {
    "unconfirmed".into()
}

fn appointment(a: &Appointment) -> CoreResult<()> {
    check_id("patientId", &a.patient_id)?;
    check_id("providerId", &a.provider_id)?;
    datetime("start", &a.start)?;
    minutes("lengthMinutes", a.length_minutes)?;
    text("procedures", &a.procedures, 0, 500)?;
    one_of("status", &a.status, &["scheduled", "complete", "broken"])?;
    one_of("confirmation", &a.confirmation, &["unconfirmed", "confirmed", "left-message", "declined"])?;
    opt_text("operatory", &a.operatory, 50)
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Recall {
    patient_id: String,
    #[serde(rename = "type")]
    kind: String,
    due_date: String,
    status: String,
    #[serde(default)]
    interval_months: Option<u32>,
}

fn recall(r: &Recall) -> CoreResult<()> {
    check_id("patientId", &r.patient_id)?;
    text("type", &r.kind, 1, 50)?;
    date("dueDate", &r.due_date)?;
    one_of("status", &r.status, &["due", "scheduled", "completed", "inactive"])?;
    if r.interval_months.is_some_and(|m| !(1..=60).contains(&m)) {
        return Err(bad("intervalMonths", "1 to 60"));
    }
    Ok(())
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Slot {
    provider_id: String,
    start: String,
    length_minutes: u32,
    #[serde(default)]
    recall_types: Vec<String>,
    #[serde(default)]
    operatory: Option<String>,
}

fn slot(s: &Slot) -> CoreResult<()> {
    check_id("providerId", &s.provider_id)?;
    datetime("start", &s.start)?;
    minutes("lengthMinutes", s.length_minutes)?;
    for t in &s.recall_types {
        text("recallTypes", t, 1, 50)?;
    }
    opt_text("operatory", &s.operatory, 50)
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct LedgerEntry {
    patient_id: String,
    #[serde(default)]
    guarantor_id: Option<String>,
    date: String,
    kind: String,
    amount_cents: i64,
    description: String,
    #[serde(default)]
    procedure_code: Option<String>,
    #[serde(default)]
    provider_id: Option<String>,
}

fn ledger(l: &LedgerEntry) -> CoreResult<()> {
    check_id("patientId", &l.patient_id)?;
    if let Some(g) = &l.guarantor_id {
        check_id("guarantorId", g)?;
    }
    date("date", &l.date)?;
    one_of("kind", &l.kind, &["charge", "payment", "adjustment", "insurance-payment", "insurance-estimate"])?;
    cents("amountCents", l.amount_cents)?;
    if matches!(l.kind.as_str(), "charge" | "insurance-estimate") && l.amount_cents < 0 {
        return Err(bad("amountCents", "a charge or estimate is not negative"));
    }
    text("description", &l.description, 1, 200)?;
    if l.procedure_code.as_deref().is_some_and(|c| !codes::is_cdt(c)) {
        return Err(bad("procedureCode", "a CDT code such as D1110"));
    }
    Ok(())
}

/// The file that comes with a statement or document: the upload URL pins its type and size.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FileMeta {
    pub content_type: String,
    pub size: u64,
    pub file_name: String,
}

pub const MAX_FILE_BYTES: u64 = 50 * 1024 * 1024;
pub const FILE_TYPES: [&str; 4] = ["application/pdf", "image/jpeg", "image/png", "image/tiff"];

fn file(f: &FileMeta, types: &[&str]) -> CoreResult<()> {
    one_of("file.contentType", &f.content_type, types)?;
    if f.size == 0 || f.size > MAX_FILE_BYTES {
        return Err(bad("file.size", format!("1 byte to {} MiB", MAX_FILE_BYTES / 1024 / 1024)));
    }
    text("file.fileName", &f.file_name, 1, 200)?;
    if f.file_name.contains(['/', '\\', '"']) {
        return Err(bad("file.fileName", "a plain file name"));
    }
    Ok(())
}

/// Whether the first bytes of a file are those of its declared type.
pub fn bytes_match_type(content_type: &str, head: &[u8]) -> bool {
    match content_type {
        "application/pdf" => head.starts_with(b"%PDF-"),
        "image/jpeg" => head.starts_with(&[0xFF, 0xD8, 0xFF]),
        "image/png" => head.starts_with(b"\x89PNG\r\n\x1a\n"),
        "image/tiff" => head.starts_with(b"II*\0") || head.starts_with(b"MM\0*"),
        _ => false,
    }
}

/// Whether an uploaded file may be published: present, of the declared size, and with the bytes of
/// the declared type. The error says why not, in words for the practice's developer.
pub fn check_upload(declared: &FileMeta, bytes: Option<&[u8]>) -> Result<(), &'static str> {
    match bytes {
        None => Err("no file has been uploaded yet"),
        Some(b) if b.len() as u64 != declared.size => Err("the file's size differs from the declared one"),
        Some(b) if !bytes_match_type(&declared.content_type, &b[..b.len().min(16)]) => Err("the file's bytes are not of its declared type"),
        Some(_) => Ok(()),
    }
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Statement {
    guarantor_id: String,
    date: String,
    balance_cents: i64,
    file: FileMeta,
}

fn statement(s: &Statement) -> CoreResult<()> {
    check_id("guarantorId", &s.guarantor_id)?;
    date("date", &s.date)?;
    cents("balanceCents", s.balance_cents)?;
    file(&s.file, &["application/pdf"])
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct PlannedProcedure {
    cdt_code: String,
    description: String,
    #[serde(default)]
    tooth: Option<String>,
    #[serde(default)]
    surface: Option<String>,
    fee_cents: i64,
    insurance_estimate_cents: i64,
    patient_portion_cents: i64,
    #[serde(default)]
    priority: u32,
    status: String,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct TreatmentPlan {
    patient_id: String,
    heading: String,
    date: String,
    status: String,
    #[serde(default)]
    note: Option<String>,
    procedures: Vec<PlannedProcedure>,
}

/// Universal numbering: permanent teeth 1–32, primary teeth A–T.
fn is_tooth(t: &str) -> bool {
    t.parse::<u8>().is_ok_and(|n| (1..=32).contains(&n)) || (t.len() == 1 && ('A'..='T').contains(&t.chars().next().unwrap_or(' ')))
}

fn treatment_plan(t: &TreatmentPlan) -> CoreResult<()> {
    check_id("patientId", &t.patient_id)?;
    text("heading", &t.heading, 1, 100)?;
    date("date", &t.date)?;
    one_of("status", &t.status, &["active", "inactive", "signed", "completed"])?;
    opt_text("note", &t.note, 2000)?;
    if t.procedures.is_empty() || t.procedures.len() > 100 {
        return Err(bad("procedures", "1 to 100 procedures"));
    }
    for p in &t.procedures {
        if !codes::is_cdt(&p.cdt_code) {
            return Err(bad("procedures.cdtCode", "a CDT code such as D2740"));
        }
        text("procedures.description", &p.description, 1, 200)?;
        if p.tooth.as_deref().is_some_and(|t| !is_tooth(t)) {
            return Err(bad("procedures.tooth", "1–32 or A–T (universal numbering)"));
        }
        if p.surface.as_deref().is_some_and(|s| s.is_empty() || s.len() > 5 || !s.chars().all(|c| "MODBLFI".contains(c))) {
            return Err(bad("procedures.surface", "letters of M, O, D, B, L, F, I"));
        }
        for (f, v) in [
            ("feeCents", p.fee_cents),
            ("insuranceEstimateCents", p.insurance_estimate_cents),
            ("patientPortionCents", p.patient_portion_cents),
        ] {
            cents(&format!("procedures.{f}"), v)?;
            if v < 0 {
                return Err(bad(&format!("procedures.{f}"), "not negative"));
            }
        }
        if p.insurance_estimate_cents + p.patient_portion_cents != p.fee_cents {
            return Err(bad("procedures.patientPortionCents", "the fee less the insurance estimate"));
        }
        one_of("procedures.status", &p.status, &["planned", "scheduled", "complete"])?;
    }
    Ok(())
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Code {
    system: String,
    code: String,
    display: String,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct ClinicalEntry {
    patient_id: String,
    kind: String,
    code: Code,
    #[serde(default)]
    status: Option<String>,
    /// When it was noted, started, given or measured.
    date: String,
    #[serde(default)]
    end_date: Option<String>,
    #[serde(default)]
    value: Option<String>,
    #[serde(default)]
    unit: Option<String>,
    #[serde(default)]
    note: Option<String>,
}

fn clinical(c: &ClinicalEntry) -> CoreResult<()> {
    check_id("patientId", &c.patient_id)?;
    one_of("kind", &c.kind, &["problem", "medication", "allergy", "immunization", "vital-sign", "result"])?;
    let systems: &[&str] = match c.kind.as_str() {
        "problem" => &["SNOMED-CT"],
        "medication" => &["RxNorm"],
        "allergy" => &["SNOMED-CT", "RxNorm"],
        "immunization" => &["CVX"],
        _ => &["LOINC"],
    };
    match codes::is_valid(&c.code.system, &c.code.code) {
        None => {
            return Err(CoreError::invalid(
                "code_system_unknown",
                format!(
                    "code.system: '{}' is not a known code system; use one of {}.",
                    c.code.system.chars().take(40).collect::<String>(),
                    codes::SYSTEMS.join(", ")
                ),
            ))
        }
        Some(_) if !systems.contains(&c.code.system.as_str()) => {
            return Err(bad("code.system", format!("a {} is coded in {}", c.kind, systems.join(" or "))))
        }
        Some(false) => return Err(bad("code.code", format!("not a valid {} code", c.code.system))),
        Some(true) => {}
    }
    text("code.display", &c.code.display, 1, 200)?;
    if let Some(s) = &c.status {
        one_of("status", s, &["active", "inactive", "resolved", "completed"])?;
    }
    date("date", &c.date)?;
    if let Some(e) = &c.end_date {
        date("endDate", e)?;
    }
    if matches!(c.kind.as_str(), "vital-sign" | "result") && c.value.is_none() {
        return Err(bad("value", "a vital sign or result has a value"));
    }
    opt_text("value", &c.value, 100)?;
    opt_text("unit", &c.unit, 30)?;
    opt_text("note", &c.note, 1000)
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Document {
    patient_id: String,
    folder: String,
    shared_to_portal: bool,
    title: String,
    date: String,
    file: FileMeta,
}

fn document(d: &Document) -> CoreResult<()> {
    check_id("patientId", &d.patient_id)?;
    text("folder", &d.folder, 1, 100)?;
    text("title", &d.title, 1, 200)?;
    date("date", &d.date)?;
    file(&d.file, &FILE_TYPES)
}

fn typed<T: DeserializeOwned + Serialize>(body: Value, check: impl Fn(&T) -> CoreResult<()>) -> CoreResult<(T, Value)> {
    let t: T = serde_json::from_value(body).map_err(|e| CoreError::invalid("field_invalid", e.to_string()))?;
    check(&t)?;
    let v = serde_json::to_value(&t).map_err(CoreError::backend)?;
    Ok((t, v))
}

/// Validates an entity's fields (the body without `lastModified`).
pub fn validate(entity: Entity, body: Value) -> CoreResult<Validated> {
    let v = |data: Value, patient: Option<&str>, file: Option<&FileMeta>| Validated {
        data,
        patient_id: patient.map(str::to_string),
        file: file.cloned(),
    };
    Ok(match entity {
        Entity::Patients => {
            let (_, d) = typed::<Patient>(body, patient)?;
            v(d, None, None)
        }
        Entity::Providers => v(typed::<Provider>(body, provider)?.1, None, None),
        Entity::Appointments => {
            let (t, d) = typed::<Appointment>(body, appointment)?;
            v(d, Some(&t.patient_id), None)
        }
        Entity::Recalls => {
            let (t, d) = typed::<Recall>(body, recall)?;
            v(d, Some(&t.patient_id), None)
        }
        Entity::Slots => v(typed::<Slot>(body, slot)?.1, None, None),
        Entity::Ledger => {
            let (t, d) = typed::<LedgerEntry>(body, ledger)?;
            v(d, Some(&t.patient_id), None)
        }
        Entity::Statements => {
            let (t, d) = typed::<Statement>(body, statement)?;
            v(d, Some(&t.guarantor_id), Some(&t.file))
        }
        Entity::TreatmentPlans => {
            let (t, d) = typed::<TreatmentPlan>(body, treatment_plan)?;
            v(d, Some(&t.patient_id), None)
        }
        Entity::Clinical => {
            let (t, d) = typed::<ClinicalEntry>(body, clinical)?;
            v(d, Some(&t.patient_id), None)
        }
        Entity::Documents => {
            let (t, d) = typed::<Document>(body, document)?;
            v(d, Some(&t.patient_id), Some(&t.file))
        }
    })
}
