//! ModuleCareSummary: a patient's continuity-of-care summary over a date range — problems,
//! medications, allergies, immunizations, vital signs, results, procedures, the plan of treatment
//! (planned procedures of the saved treatment plans), encounters (completed visits) and the care
//! team — built from what the practice's system synced, with display names from the practice's
//! imported code systems (the synced name when a code is not in the active release). An
//! importable code system a summary uses that was never imported is named in
//! `missingCodeSystems`, so the page can say so. The same [`Summary`] feeds the page, the C-CDA
//! document and its HTML rendering (`crate::ccda`, which owns the summary's shape).
//!
//! Every view, download and transmission is audited (`care-summary.*`, subject the patient); a
//! transmission's entry keeps the address it went to (the patient's own choice of recipient, which
//! their activity history must show), the one address the audit log holds.
//!
//! Range rule: a condition (problem, medication, allergy) is in the range when it overlaps it (it
//! began on or before `to` and had not ended before `from`); an event (immunization, measurement,
//! procedure, visit) when it happened within it. Planned procedures are listed whatever the range.

use crate::audit::{AuditAction, AuditLog, Outcome};
use crate::ccda::summary::{CodeView, Entry, Section, SectionKey, SummaryPatient};
use crate::code_systems::terms::{Names, Terms};
use crate::code_systems::System;
use crate::ports::{Attachment, Blobs, Db, Mail, MailKind, MailRef, Mailer};
use crate::quota::Quota;
use crate::reads::{Caller, Reads};
use crate::sync::entities::udi;
use crate::sync::entities::{
    Appointment, AppointmentStatus, ClinicalEntry, ClinicalKind, Coverage, CoverageOrder, LedgerEntry, LedgerKind, Patient,
    ProcedureStatus, Provider, TreatmentPlan, TreatmentPlanStatus,
};
use crate::sync::records::{DateRange, Synced};
use crate::{CoreError, CoreResult, ProblemCode};
use serde::Serialize;
use serde_json::json;
use sha2::{Digest, Sha256};
use std::sync::Arc;

pub use crate::ccda::summary::Summary;

/// `from` and `to` as a client sent them (either open).
pub type Range<'a> = (Option<&'a str>, Option<&'a str>);

/// What a patient (or their representative) did with a summary: the activity history lists these.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    View,
    Download,
    Transmit,
}

impl Action {
    pub fn audit_action(self) -> AuditAction {
        match self {
            Action::View => AuditAction::CareSummaryView,
            Action::Download => AuditAction::CareSummaryDownload,
            Action::Transmit => AuditAction::CareSummaryTransmit,
        }
    }
}

/// The most activity entries listed, and the most audit entries looked at to find them.
pub const ACTIVITY_MAX: usize = 100;
/// Care summaries sent out per patient a day (to any addresses, by whoever may act for them). A
/// refused send is recorded in the activity, which staff see in the audit log too.
pub const TRANSMITS_PER_DAY: Quota = Quota { name: "care-summary-sends", limit: 5, window_seconds: 24 * 60 * 60 };
const ACTIVITY_SCAN: usize = 2000;

/// One thing done with a patient's summary.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ActivityEntry {
    pub at: String,
    /// `view`, `download` or `transmit`.
    pub action: String,
    /// `self` (the patient) or `representative` (a guardian or guarantor).
    pub by: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub by_name: Option<String>,
    /// Where a transmission went (the address the patient typed).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
    pub outcome: Outcome,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Download {
    pub url: String,
    pub expires_at: String,
    pub sha256: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TransmitStatus {
    Sent,
    Failed,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Transmission {
    pub id: String,
    pub status: TransmitStatus,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

pub struct CareSummaries<'a> {
    pub db: Db<'a>,
}

fn in_range(date: &str, from: Option<&str>, to: Option<&str>) -> bool {
    let day = &date[..date.len().min(10)];
    from.is_none_or(|f| day >= f) && to.is_none_or(|t| day <= t)
}

fn overlaps(start: &str, end: Option<&str>, from: Option<&str>, to: Option<&str>) -> bool {
    to.is_none_or(|t| &start[..start.len().min(10)] <= t) && from.is_none_or(|f| end.is_none_or(|e| e >= f))
}

fn kebab<T: Serialize>(v: T) -> Option<String> {
    serde_json::to_value(v).ok().and_then(|v| v.as_str().map(str::to_string))
}

impl CareSummaries<'_> {
    /// The summary of the patient a request is about (`requested`, default the caller) between
    /// `from` and `to` (either open), audited as viewed.
    pub async fn view(&self, caller: &Caller, practice_name: &str, requested: Option<&str>, range: Range<'_>) -> CoreResult<Summary> {
        let summary = self.build(caller, practice_name, requested, range).await?;
        self.record(caller, &summary.patient.id, Action::View, Outcome::Success, json!({ "from": range.0, "to": range.1 })).await?;
        Ok(summary)
    }

    /// The summary as a zip (the C-CDA document and its HTML rendering), stored and answered as
    /// a short-lived link with the zip's SHA-256; audited as downloaded.
    pub async fn download(
        &self,
        caller: &Caller,
        practice_name: &str,
        requested: Option<&str>,
        range: Range<'_>,
        blobs: &dyn Blobs,
    ) -> CoreResult<Download> {
        let mut summary = self.build(caller, practice_name, requested, range).await?;
        let settings = crate::practice::settings::SettingsRepo { db: self.db }.get(&caller.actor.practice).await?;
        summary.practice_contact = settings.map(|s| s.contact);
        let now = self.db.clock.now();
        let zip = crate::ccda::package(&summary, &caller.actor.practice, now)?;
        let sha256 = hex::encode(Sha256::digest(&zip));
        // Under one prefix for every practice, so one bucket rule expires them (a day on).
        let key = format!("care-summaries/{}/{}/{}.zip", caller.actor.practice, summary.patient.id, crate::ids::new_id());
        blobs.put(&key, zip.into(), "application/zip").await.map_err(CoreError::backend)?;
        let day = crate::clock::rfc3339(now)[..10].to_string();
        let file = crate::reads::signed(blobs, self.db.clock, &key, &format!("care-summary-{day}.zip")).await?;
        self.record(
            caller,
            &summary.patient.id,
            Action::Download,
            Outcome::Success,
            json!({ "from": range.0, "to": range.1, "sha256": sha256 }),
        )
        .await?;
        Ok(Download { url: file.url, expires_at: file.expires_at, sha256 })
    }

    /// Sends the summary's zip to the address the patient typed, from the practice's sender;
    /// `encrypted`: sealed (S/MIME) to the certificate the practice registered for that address,
    /// which must be current. The outcome is recorded (and answered) whether or not the mail
    /// service took it.
    pub async fn transmit(
        &self,
        caller: &Caller,
        practice_name: &str,
        requested: Option<&str>,
        (to, encrypted): (&str, bool),
        mailer: &dyn Mailer,
    ) -> CoreResult<Transmission> {
        let to = crate::text::check_email(to, "to")?;
        let sealed_for = if encrypted {
            let recipients = crate::practice::direct_recipients::DirectRecipients { db: self.db };
            let recipient = recipients.for_address(&caller.actor.practice, &to).await?.ok_or_else(|| CoreError::Unprocessable {
                code: ProblemCode::RecipientCertificateMissing,
                detail: "Encrypted sending works for the Direct addresses your practice has registered; this is not one of them.".into(),
            })?;
            if recipient.not_after_unix <= self.db.clock.now() {
                return Err(CoreError::Unprocessable {
                    code: ProblemCode::RecipientCertificateExpired,
                    detail: "The certificate registered for this address has expired; the practice must register a current one.".into(),
                });
            }
            Some(recipient.certificate())
        } else {
            None
        };
        let settings =
            crate::practice::settings::SettingsRepo { db: self.db }.get(&caller.actor.practice).await?.ok_or(CoreError::NotFound)?;
        let sender = settings.webmail.notification_sender.clone();
        if sender.is_empty() {
            return Err(CoreError::Unprocessable {
                code: ProblemCode::SenderMissing,
                detail: "The office has not set up sending email from the portal yet. Download the summary instead, or ask the office."
                    .into(),
            });
        }
        let patient_id = Reads { db: self.db }.patient_id(caller, requested).await?;
        if !TRANSMITS_PER_DAY.take(self.db.table, self.db.clock, &caller.actor.practice, &patient_id).await? {
            let detail = json!({ "to": to, "encrypted": encrypted, "reason": "daily_limit" });
            self.record(caller, &patient_id, Action::Transmit, Outcome::Denied, detail).await?;
            return Err(CoreError::TooMany {
                code: ProblemCode::TransmitLimit,
                detail: format!("A care summary can be sent {} times a day; try again tomorrow.", TRANSMITS_PER_DAY.limit),
            });
        }
        let mut summary = self.build(caller, practice_name, requested, (None, None)).await?;
        summary.practice_contact = Some(settings.contact.clone());
        let id = crate::ids::new_id();
        let now = self.db.clock.now();
        let zip = crate::ccda::package(&summary, &caller.actor.practice, now)?;
        let mail = Mail {
            from: sender,
            to: vec![to.clone()],
            subject: format!("Care summary from {practice_name}"),
            // The summary is in the attachment only, as the patient asked; the text says no more.
            text: format!("{practice_name} sends the care summary a patient asked to be sent to this address. It is attached as a zip: care-summary.xml (C-CDA) and care-summary.html (to read).\n"),
            html: None,
            attachments: vec![Attachment { filename: "care-summary.zip".into(), content_type: "application/zip".into(), bytes: zip }],
            sealed_for,
            about: MailRef::new(&caller.actor.practice, MailKind::CareSummary, &id, Some(&patient_id)),
        };
        let (status, outcome, reason) = match mailer.send(&mail).await {
            Ok(_) => (TransmitStatus::Sent, Outcome::Success, None),
            Err(e) => {
                tracing::warn!(error = %e, "care summary not sent");
                (TransmitStatus::Failed, Outcome::Failure, Some("The mail service did not accept it; try again later.".to_string()))
            }
        };
        let detail = json!({ "id": id, "to": to, "encrypted": encrypted, "reason": reason });
        self.record(caller, &summary.patient.id, Action::Transmit, outcome, detail).await?;
        Ok(Transmission { id, status, reason })
    }

    /// What was done with the patient's summaries, newest first (at most [`ACTIVITY_MAX`]): each
    /// view, download and transmission, when, by whom (the patient, or a representative by
    /// name) and to whom. Reading it is audited too.
    pub async fn activity(&self, caller: &Caller, requested: Option<&str>) -> CoreResult<Vec<ActivityEntry>> {
        let reads = Reads { db: self.db };
        let patient = reads.patient_id(caller, requested).await?;
        let log = AuditLog { db: self.db };
        let (mut found, mut cursor, mut scanned) = (vec![], None, 0);
        while found.len() < ACTIVITY_MAX && scanned < ACTIVITY_SCAN {
            let (entries, next) = log.for_subject(&caller.actor.practice, &patient, 200, cursor).await?;
            scanned += entries.len();
            found.extend(entries.into_iter().filter(|e| e.action.starts_with("care-summary.")));
            match next {
                Some(c) => cursor = Some(c),
                None => break,
            }
        }
        found.truncate(ACTIVITY_MAX);
        let mut names = std::collections::HashMap::new();
        for e in &found {
            if e.actor != patient && !names.contains_key(&e.actor) {
                let who = reads.records().get::<Patient>(&caller.actor.practice, &e.actor).await?.map(|p| p.record.display_name());
                names.insert(e.actor.clone(), who);
            }
        }
        reads.audit(caller, &patient, AuditAction::CareSummaryActivityRead).await?;
        Ok(found
            .into_iter()
            .map(|e| {
                let action = e.action.trim_start_matches("care-summary.").to_string();
                // A transmission's `to` is the address it went to; a view's or download's is the
                // end of the date range, not a recipient.
                let to = if action == "transmit" { e.detail.get("to").and_then(|t| t.as_str()).map(str::to_string) } else { None };
                ActivityEntry {
                    at: crate::clock::rfc3339(e.at),
                    action,
                    by: if e.actor == patient { "self".into() } else { "representative".into() },
                    by_name: names.get(&e.actor).cloned().flatten(),
                    to,
                    outcome: e.outcome,
                }
            })
            .collect())
    }

    async fn record(
        &self,
        caller: &Caller,
        patient_id: &str,
        action: Action,
        outcome: Outcome,
        detail: serde_json::Value,
    ) -> CoreResult<()> {
        AuditLog { db: self.db }.record(&caller.actor, action.audit_action(), patient_id, outcome, detail).await
    }

    async fn build(&self, caller: &Caller, practice_name: &str, requested: Option<&str>, range: Range<'_>) -> CoreResult<Summary> {
        let (from, to) = range;
        let events = DateRange::parse(from, to)?;
        let reads = Reads { db: self.db };
        let (patient_id, patient) = reads.patient(caller, requested).await?;
        let practice = &caller.actor.practice;
        let records = reads.records();
        let guarantor = patient.record.guarantor(&patient_id).to_string();
        let every = DateRange::all();
        let ((clinical, visits, plans, ledger, providers), coverages) = futures_util::future::try_join(
            futures_util::future::try_join5(
                records.all_for_patient::<ClinicalEntry>(practice, &patient_id, &every),
                records.all_for_patient::<Appointment>(practice, &patient_id, &events),
                records.all_for_patient::<TreatmentPlan>(practice, &patient_id, &every),
                records.all_for_patient::<LedgerEntry>(practice, &guarantor, &events),
                records.all_for_practice::<Provider>(practice),
            ),
            records.all_for_patient::<Coverage>(practice, &patient_id, &every),
        )
        .await?;
        // Every code shown: the clinical entries', and the CDT codes of procedures done and planned
        // (their code's name from the practice's CDT list; the entry keeps the practice's words).
        let procedures = ledger.iter().filter_map(|l| l.record.procedure_code.clone());
        let planned = plans.iter().flat_map(|p| p.record.procedures.iter().map(|p| p.cdt_code.clone()));
        let codes: Vec<(System, String)> = clinical
            .iter()
            .filter_map(|c| c.record.code.as_ref())
            .filter_map(|c| System::parse(&c.system).map(|s| (s, c.code.clone())))
            .chain(procedures.chain(planned).map(|code| (System::Cdt, code)))
            .collect();
        let names = Terms { db: self.db }.names(practice, &codes).await?;
        let mut guardians = Vec::with_capacity(patient.record.guardians.len());
        for g in &patient.record.guardians {
            if let Some(found) = records.get::<Patient>(practice, &g.patient_id).await? {
                guardians.push((g.relationship, found.record));
            }
        }

        let mut sections = Sections::new();
        clinical_entries(&mut sections, clinical, &names, range);
        procedures_done(&mut sections, &ledger, &patient_id, &names, &providers);
        planned_treatment(&mut sections, &plans, &names);
        let today = crate::clock::rfc3339(self.db.clock.now())[..10].to_string();
        insurance(&mut sections, &coverages, &today);
        encounters(&mut sections, &visits, &providers);
        let team = care_team(&mut sections, patient.record.primary_provider_id.as_deref(), &visits, &providers);
        Ok(Summary {
            patient: SummaryPatient {
                id: patient_id.to_string(),
                name: patient.record.display_name(),
                birthdate: patient.record.birthdate.clone(),
                sex: patient.record.sex,
                birth_sex: patient.record.birth_sex,
                race: patient.record.race.clone(),
                ethnicity: patient.record.ethnicity.clone(),
                record: patient.record,
            },
            practice_name: practice_name.to_string(),
            from: from.map(str::to_string),
            to: to.map(str::to_string),
            sections: sections.0,
            missing_code_systems: names.missing.into_iter().filter(|s| System::IMPORTABLE.contains(s)).collect(),
            providers: team,
            guardians,
            practice_contact: None,
        })
    }
}

/// The summary's sections, every one present (an empty section says "none recorded"), in order.
struct Sections(Vec<Section>);

impl Sections {
    fn new() -> Self {
        Sections(SectionKey::ALL.iter().map(|k| Section { key: *k, title: k.title(), entries: vec![] }).collect())
    }

    fn push(&mut self, key: SectionKey, entry: Entry) {
        if let Some(section) = self.0.iter_mut().find(|s| s.key == key) {
            section.entries.push(entry);
        }
    }
}

/// The synced clinical entries in their sections: conditions overlapping the range, events in it.
fn clinical_entries(sections: &mut Sections, clinical: Vec<Synced<ClinicalEntry>>, names: &Names, (from, to): Range<'_>) {
    for c in clinical {
        let e = c.record.as_ref();
        let key = match e.kind {
            ClinicalKind::Problem => SectionKey::Problems,
            ClinicalKind::Medication => SectionKey::Medications,
            ClinicalKind::Allergy => SectionKey::Allergies,
            ClinicalKind::Immunization => SectionKey::Immunizations,
            ClinicalKind::VitalSign => SectionKey::VitalSigns,
            ClinicalKind::Result => SectionKey::Results,
            ClinicalKind::SmokingStatus => SectionKey::SocialHistory,
            ClinicalKind::Implant => SectionKey::ImplantedDevices,
            ClinicalKind::Goal => SectionKey::Goals,
            ClinicalKind::HealthConcern => SectionKey::HealthConcerns,
        };
        let condition = matches!(
            e.kind,
            ClinicalKind::Problem | ClinicalKind::Medication | ClinicalKind::Allergy | ClinicalKind::Goal | ClinicalKind::HealthConcern
        );
        let shown = if condition { overlaps(&e.date, e.end_date.as_deref(), from, to) } else { in_range(&e.date, from, to) };
        if !shown {
            continue;
        }
        let code = e.code.as_ref().map(|c| named(names, &c.system, &c.code, &c.display));
        // An entry in words (a goal, a concern) reads as its note.
        let (text, note) = match &code {
            Some(c) => (c.display.clone(), e.note.clone()),
            None => (e.note.clone().unwrap_or_default(), None),
        };
        sections.push(
            key,
            Entry {
                text,
                code,
                status: e.status.and_then(kebab),
                date: Some(e.date.clone()),
                end_date: e.end_date.clone(),
                value: e.value.clone(),
                unit: e.unit.clone(),
                note,
                device: e.udi.as_deref().and_then(|u| udi::parse(u).ok()),
                udi: e.udi.clone(),
                tooth: e.tooth.clone(),
                dose: e.dose.clone(),
                route: e.route,
                recorded_at: Some(c.last_modified),
                ..blank()
            },
        );
    }
}

/// The patient's completed procedures: charges on the account with a CDT code (the account's
/// ledger is the guarantor's, so another family member's are left out).
fn procedures_done(
    sections: &mut Sections,
    ledger: &[Synced<LedgerEntry>],
    patient_id: &str,
    names: &Names,
    providers: &[Synced<Provider>],
) {
    for l in ledger.iter().filter(|l| l.record.patient_id == patient_id && l.record.kind == LedgerKind::Charge) {
        let Some(cdt) = &l.record.procedure_code else { continue };
        let performer = l.record.provider_id.as_deref().and_then(|id| provider(providers, id));
        sections.push(
            SectionKey::Procedures,
            Entry {
                text: l.record.description.clone(),
                code: Some(named(names, "CDT", cdt, &l.record.description)),
                status: Some("completed".into()),
                date: Some(l.record.date.clone()),
                performer: performer.map(|p| p.display_name()),
                performed_by: performer.cloned(),
                recorded_at: Some(l.last_modified.clone()),
                ..blank()
            },
        );
    }
}

/// The plan of treatment: each plan in force's assessment, then its procedures not yet done.
fn planned_treatment(sections: &mut Sections, plans: &[Synced<TreatmentPlan>], names: &Names) {
    for plan in plans.iter().filter(|p| matches!(p.record.status, TreatmentPlanStatus::Active | TreatmentPlanStatus::Signed)) {
        // The dentist's assessment behind the plan, in their words, ahead of its procedures.
        if let Some(assessment) = plan.record.note.as_ref().filter(|n| !n.trim().is_empty()) {
            sections.push(
                SectionKey::PlanOfTreatment,
                Entry {
                    text: plan.record.heading.clone(),
                    note: Some(assessment.clone()),
                    date: Some(plan.record.date.clone()),
                    recorded_at: Some(plan.last_modified.clone()),
                    ..blank()
                },
            );
        }
        for p in plan.record.procedures.iter().filter(|p| p.status != ProcedureStatus::Complete) {
            let tooth =
                p.tooth.as_deref().map(|t| format!("tooth {t}{}", p.surface.as_deref().map(|s| format!(" {s}")).unwrap_or_default()));
            sections.push(
                SectionKey::PlanOfTreatment,
                Entry {
                    text: p.description.clone(),
                    code: Some(named(names, "CDT", &p.cdt_code, &p.description)),
                    status: kebab(p.status),
                    date: Some(plan.record.date.clone()),
                    note: tooth,
                    recorded_at: Some(plan.last_modified.clone()),
                    ..blank()
                },
            );
        }
    }
}

/// The insurance plans in force on `today` (ended ones are history), primary first.
fn insurance(sections: &mut Sections, coverages: &[Synced<Coverage>], today: &str) {
    let mut in_force: Vec<_> = coverages.iter().filter(|c| c.record.end_date.as_deref().is_none_or(|e| e >= today)).collect();
    in_force.sort_by_key(|c| match c.record.order {
        CoverageOrder::Primary => 0,
        CoverageOrder::Secondary => 1,
        CoverageOrder::Tertiary => 2,
    });
    for c in in_force {
        sections.push(
            SectionKey::Insurance,
            Entry {
                text: c.record.payer_name.clone(),
                date: c.record.start_date.clone(),
                end_date: c.record.end_date.clone(),
                coverage: Some(c.record.clone()),
                recorded_at: Some(c.last_modified.clone()),
                ..blank()
            },
        );
    }
}

/// The completed visits in the range, with who saw the patient.
fn encounters(sections: &mut Sections, visits: &[Synced<Appointment>], providers: &[Synced<Provider>]) {
    for v in visits.iter().filter(|v| v.record.status == AppointmentStatus::Complete) {
        let performer = provider(providers, &v.record.provider_id);
        let procedures = v.record.procedures.trim();
        sections.push(
            SectionKey::Encounters,
            Entry {
                text: if procedures.is_empty() { "Dental visit".into() } else { format!("Dental visit: {procedures}") },
                status: Some("completed".into()),
                date: Some(v.record.start.clone()),
                performer: performer.map(|p| p.display_name()),
                performed_by: performer.cloned(),
                recorded_at: Some(v.last_modified.clone()),
                ..blank()
            },
        );
    }
}

/// The care team: the primary dentist first, then everyone who saw the patient at a completed
/// visit, each once with their role. Answers the team (the document lists them as performers).
fn care_team(
    sections: &mut Sections,
    primary: Option<&str>,
    visits: &[Synced<Appointment>],
    providers: &[Synced<Provider>],
) -> Vec<Arc<Provider>> {
    let mut ids: Vec<&str> = primary.into_iter().collect();
    for v in visits.iter().filter(|v| v.record.status == AppointmentStatus::Complete) {
        if !ids.contains(&v.record.provider_id.as_str()) {
            ids.push(&v.record.provider_id);
        }
    }
    let team: Vec<Arc<Provider>> = ids.iter().filter_map(|id| provider(providers, id)).cloned().collect();
    for (i, p) in team.iter().enumerate() {
        let role = if i == 0 && primary.is_some() {
            "Primary dentist"
        } else if p.is_hygienist {
            "Hygienist"
        } else {
            "Dentist"
        };
        sections.push(
            SectionKey::CareTeam,
            Entry {
                code: p.npi.as_ref().map(|npi| CodeView { system: "NPI".into(), code: npi.clone(), display: p.display_name() }),
                text: p.display_name(),
                performer: Some(role.into()),
                ..blank()
            },
        );
    }
    team
}

fn blank() -> Entry {
    Entry::default()
}

/// The provider synced under `id`.
fn provider<'a>(providers: &'a [Synced<Provider>], id: &str) -> Option<&'a Arc<Provider>> {
    providers.iter().find(|p| p.id == id).map(|p| &p.record)
}

/// A synced code with the imported name when its system's active release has it.
fn named(names: &Names, system: &str, code: &str, synced: &str) -> CodeView {
    let display = System::parse(system).and_then(|s| names.get(s, code)).unwrap_or(synced);
    CodeView { system: system.to_string(), code: code.to_string(), display: display.to_string() }
}
