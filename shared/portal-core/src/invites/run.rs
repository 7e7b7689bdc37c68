//! One run of the automated invites (every 5 minutes on AWS, on an interval locally): for each
//! practice with a rule on, find the appointments a rule has come due for through the calendar
//! index, and invite each eligible patient **exactly once per (rule, appointment)**.
//!
//! Exactly once: before anything else a run claims the invite with a put-if-absent
//! (`INVITE#{rule}#{appointment}`), so an overlapping run finds the claim and moves on. The claim
//! becomes `sent`, `skipped` (with the reason staff read in the log) or `failed`; a claim left
//! `claimed` by a run that died, or `failed`, is taken over by a later run (conditionally on its
//! version, so by one run only) after [`CLAIM_TIMEOUT`]. The `sent` write and the send's audit
//! entry are one write, tried again when the table fails ([`SETTLE_TRIES`]): the only window for a
//! second email is a run dying, or the table failing every try, between the mail service
//! accepting the mail and that write.
//!
//! When several rules have come due for one appointment, the one that came due last (for
//! "before" rules: the one closest to the appointment) is used; the others are passed over.

use super::rules::{render, InviteRule, InviteRules, InviteRulesRepo, Resend, RuleKind, TagValues, ENABLED_INDEX};
use crate::audit::{Actor, AuditAction, AuditLog, Outcome};
use crate::identity::patient_access::PatientAccess;
use crate::ids::PracticeId;
use crate::language::{in_language, Language};
use crate::ports::{Cond, Db, Item, Mail, MailKind, MailRef, Mailer, Query, Table, TableError, TxOp};
use crate::practice::settings::{login_url, PracticeSettings, SettingsRepo};
use crate::sync::calendar::{self, CalendarEntry};
use crate::sync::entities::{AppointmentStatus, Patient};
use crate::sync::records::PatientRecords;
use crate::sync::roster;
use crate::table_keys;
use crate::{CoreError, CoreResult};
use serde::{Deserialize, Serialize};
use serde_json::json;

/// How long a claim may stay unsettled before another run takes it over.
pub const CLAIM_TIMEOUT: i64 = 5 * 60;
/// Sending is tried this often for one invite, then it stays `failed`.
pub const MAX_ATTEMPTS: u32 = 3;
/// How often a claim's outcome is written before the run gives the invite up to a later run.
const SETTLE_TRIES: usize = 4;
/// An "after" rule is not applied to appointments completed longer ago than its time plus this
/// (turning a rule on does not invite every past patient).
pub const AFTER_WINDOW: i64 = 24 * 60 * 60;
/// The longest appointment the "after" window allows for.
const LONGEST_APPOINTMENT: i64 = 24 * 60 * 60;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", rename_all_fields = "camelCase", tag = "status")]
pub enum InviteState {
    Claimed,
    Sent { sent_at: i64 },
    Skipped { reason: String },
    Failed { reason: String },
}

/// One invite: its log entry and its claim.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InviteRecord {
    pub rule_id: String,
    pub appointment_id: String,
    pub patient_id: String,
    #[serde(default)]
    pub patient_name: Option<String>,
    #[serde(flatten)]
    pub state: InviteState,
    pub attempts: u32,
    pub created_at: i64,
    pub claimed_at: i64,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct RunReport {
    pub sent: usize,
    pub skipped: usize,
    pub failed: usize,
}

fn log_partition(practice: &PracticeId) -> String {
    format!("P#{practice}#INVITELOG")
}

fn invite_key(rule_id: &str, appointment_id: &str) -> String {
    format!("INVITE#{rule_id}#{appointment_id}")
}

/// When `rule` comes due for `entry` (unix seconds), if it applies to it at all.
fn due_at(rule: &InviteRule, entry: &CalendarEntry) -> Option<i64> {
    let offset = i64::from(rule.offset_minutes) * 60;
    match (rule.kind, entry.status) {
        (RuleKind::Before, AppointmentStatus::Scheduled) => Some(entry.start_unix - offset),
        (RuleKind::After, AppointmentStatus::Complete) => Some(entry.end_unix() + offset),
        _ => None,
    }
}

/// The rule to use for `entry` at `now`: of those due (and, for "before", with the appointment
/// still ahead; for "after", within the window), the one that came due last.
fn rule_for<'r>(rules: &'r [InviteRule], entry: &CalendarEntry, now: i64) -> Option<&'r InviteRule> {
    rules
        .iter()
        .filter(|r| r.enabled)
        .filter_map(|r| due_at(r, entry).map(|at| (r, at)))
        .filter(|(r, at)| {
            *at <= now
                && match r.kind {
                    RuleKind::Before => now < entry.start_unix,
                    RuleKind::After => now < at + AFTER_WINDOW,
                }
        })
        .max_by_key(|(_, at)| *at)
        .map(|(r, _)| r)
}

/// The appointment's date and time on the practice's wall clock (its own offset).
pub(super) fn wall_clock(start: &str, lang: Language) -> (String, String) {
    let Ok(t) = time::OffsetDateTime::parse(start, &time::format_description::well_known::Rfc3339) else {
        return (start.into(), String::new());
    };
    let date = t.format(time::macros::format_description!("[month]/[day]/[year]")).unwrap_or_default();
    let clock = t.format(time::macros::format_description!("[hour repr:12 padding:none]:[minute] [period]")).unwrap_or_default();
    // US Spanish writes the period "a. m." / "p. m."; the date is month/day/year in both.
    let clock = match lang {
        Language::En => clock,
        Language::Es => clock.replace("AM", "a. m.").replace("PM", "p. m."),
    };
    (date, clock)
}

/// What `[Password]` says to a patient who chose their own.
fn chosen_password(lang: Language) -> &'static str {
    match lang {
        Language::En => "(the password you chose)",
        Language::Es => "(la contraseña que usted eligió)",
    }
}

pub struct InviteRun<'a> {
    pub db: Db<'a>,
    pub mailer: &'a dyn Mailer,
    /// Where the portal's pages are (the login address of a practice without its own).
    pub site_url: &'a str,
}

impl InviteRun<'_> {
    /// Every practice with a rule on.
    pub async fn run_all(&self) -> CoreResult<RunReport> {
        let (mut total, mut cursor) = (RunReport::default(), None);
        loop {
            let page = self.db.table.query(Query::on_gsi1(ENABLED_INDEX).limit(100).after(cursor)).await?;
            for item in &page.items {
                let Some(practice) = item.pk.strip_prefix("P#").and_then(PracticeId::parse) else { continue };
                // One practice failing (its table items, its mail) does not hold up the others.
                match self.run(&practice).await {
                    Ok(r) => {
                        total.sent += r.sent;
                        total.skipped += r.skipped;
                        total.failed += r.failed;
                    }
                    Err(e) => tracing::warn!(practice = %practice, error = %e, "invite run failed for a practice"),
                }
            }
            match page.cursor {
                Some(c) => cursor = Some(c),
                None => return Ok(total),
            }
        }
    }

    /// One practice: what is due now, each invite claimed, then sent or skipped.
    pub async fn run(&self, practice: &PracticeId) -> CoreResult<RunReport> {
        let rules = InviteRulesRepo { db: self.db }.get(practice).await?;
        let mut report = RunReport::default();
        if !rules.any_enabled() {
            return Ok(report);
        }
        let Some(settings) = (SettingsRepo { db: self.db }).get(practice).await? else {
            return Ok(report);
        };
        let now = self.db.clock.now();
        let longest =
            |kind| rules.rules.iter().filter(|r| r.enabled && r.kind == kind).map(|r| i64::from(r.offset_minutes) * 60).max().unwrap_or(0);
        let mut entries = calendar::between(self.db.table, practice, now, now + longest(RuleKind::Before)).await?;
        if longest(RuleKind::After) > 0 {
            let from = now - longest(RuleKind::After) - AFTER_WINDOW - LONGEST_APPOINTMENT;
            entries.extend(calendar::between(self.db.table, practice, from, now - 1).await?);
        }
        for entry in &entries {
            let Some(rule) = rule_for(&rules.rules, entry, now) else { continue };
            let Some(claim) = self.claim(practice, rule, entry).await? else { continue };
            match self.invite(practice, rule, &rules, &settings, entry, claim).await? {
                InviteState::Sent { .. } => report.sent += 1,
                InviteState::Skipped { .. } => report.skipped += 1,
                InviteState::Failed { .. } => report.failed += 1,
                InviteState::Claimed => {}
            }
        }
        Ok(report)
    }

    /// Claims the invite of `rule` for `entry`: a new claim, or one a dead or failed run left
    /// behind. `None` when it is settled or another run holds it.
    async fn claim(&self, practice: &PracticeId, rule: &InviteRule, entry: &CalendarEntry) -> CoreResult<Option<(InviteRecord, Item)>> {
        let now = self.db.clock.now();
        let (pk, sk) = (table_keys::practice(practice), invite_key(&rule.id, &entry.appointment_id));
        let fresh = InviteRecord {
            rule_id: rule.id.clone(),
            appointment_id: entry.appointment_id.clone(),
            patient_id: entry.patient_id.clone(),
            patient_name: None,
            state: InviteState::Claimed,
            attempts: 0,
            created_at: now,
            claimed_at: now,
        };
        let item = Item::new(pk.clone(), sk.clone(), serde_json::to_value(&fresh).map_err(CoreError::backend)?)
            .with_gsi1(log_partition(practice), format!("{:013}#{}#{}", now, rule.id, entry.appointment_id))
            .with_version(1);
        match self.db.table.put(item.clone(), Cond::Absent).await {
            Ok(()) => return Ok(Some((fresh, item))),
            Err(TableError::ConditionFailed) => {}
            Err(e) => return Err(e.into()),
        }
        let Some(existing) = self.db.table.get(&pk, &sk).await? else { return Ok(None) };
        let record: InviteRecord = existing.parse()?;
        let abandoned = now - record.claimed_at >= CLAIM_TIMEOUT;
        let retry = match record.state {
            InviteState::Claimed => abandoned,
            InviteState::Failed { .. } => abandoned && record.attempts < MAX_ATTEMPTS,
            _ => false,
        };
        if !retry {
            return Ok(None);
        }
        let taken = InviteRecord { state: InviteState::Claimed, claimed_at: now, ..record };
        let next = existing.replaced(serde_json::to_value(&taken).map_err(CoreError::backend)?);
        match self.db.table.put(next.clone(), Cond::Version(existing.version)).await {
            Ok(()) => Ok(Some((taken, next))),
            Err(TableError::ConditionFailed) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// Checks the patient, gives them credentials when needed, sends the invite; settles the
    /// claim (the record as claimed and its item).
    async fn invite(
        &self,
        practice: &PracticeId,
        rule: &InviteRule,
        rules: &InviteRules,
        settings: &PracticeSettings,
        entry: &CalendarEntry,
        claim: (InviteRecord, Item),
    ) -> CoreResult<InviteState> {
        let (mut record, item) = claim;
        let skip = |reason: &str| InviteState::Skipped { reason: reason.into() };
        let patient = PatientRecords { db: self.db }.get::<Patient>(practice, &entry.patient_id).await?.map(|p| p.record);
        let Some(patient) = patient else {
            return self.settle(item, record, skip("the patient is no longer in the practice's records"), None).await;
        };
        record.patient_name = Some(patient.display_name());
        let missing = roster::missing(&patient);
        let now = self.db.clock.now();
        let access = PatientAccess { db: self.db };
        let current = access.get(practice, &entry.patient_id).await?.map(|(a, _)| a);
        let last_visit = current.as_ref().and_then(|a| a.last_login_at);
        let why_not = if !missing.is_empty() {
            Some(format!("not eligible: the record lacks {}", missing.join(", ")))
        } else if patient.opt_outs.portal_invites {
            Some("opted out of portal invites".into())
        } else if patient.opt_outs.email {
            Some("opted out of email".into())
        } else if settings.webmail.notification_sender.is_empty() {
            Some("no sender address: set the notification sender under WebMail settings".into())
        } else {
            match (rule.resend, last_visit) {
                (Resend::UntilVisited, Some(_)) => Some("has visited the portal".into()),
                (Resend::NoVisitWithin, Some(t)) if now - t < i64::from(rule.resend_days.unwrap_or(0)) * 86_400 => {
                    Some(format!("visited the portal within {} days", rule.resend_days.unwrap_or(0)))
                }
                _ => None,
            }
        };
        if let Some(reason) = why_not {
            return self.settle(item, record, InviteState::Skipped { reason }, None).await;
        }
        // Credentials: new ones for a patient without a login, a fresh temporary password for one
        // whose temporary password was never changed (the one they were given is not kept); a
        // patient with a password of their own keeps it.
        let actor = Actor::system(practice, "invites");
        let lang = Language::of(patient.preferred_language.as_deref());
        let (username, password) = match &current {
            None => match access.grant(&actor, &entry.patient_id).await {
                Ok(l) => (l.username, l.temporary_password),
                Err(e) if e.code() == crate::ProblemCode::AccessExists => {
                    return self.settle(item, record, skip("a login was made meanwhile"), None).await
                }
                Err(e) => return Err(e),
            },
            Some(a) if access.is_temporary(practice, &a.username).await? => {
                let l = access.reset(&actor, &entry.patient_id).await?;
                (l.username, l.temporary_password)
            }
            Some(a) => (a.username.clone(), chosen_password(lang).to_string()),
        };
        let (appt_date, appt_time) = wall_clock(&entry.start, lang);
        let url = in_language(&login_url(settings, practice, self.site_url), lang);
        let values = TagValues {
            first_name: patient.preferred_name.as_deref().filter(|n| !n.trim().is_empty()).unwrap_or(&patient.first_name),
            office_name: &settings.practice_name,
            office_phone: &rules.office_phone,
            appt_date: &appt_date,
            appt_time: &appt_time,
            username: &username,
            password: &password,
            portal_url: &url,
        };
        let (subject, body) = rule.template(lang);
        let about = MailRef::new(practice, MailKind::Invite, &format!("{}.{}", rule.id, entry.appointment_id), Some(&entry.patient_id));
        let to = patient.email.clone().unwrap_or_default();
        let mail = Mail::text(&settings.webmail.notification_sender, to, render(subject, &values), render(body, &values), about);
        record.attempts += 1;
        let outcome = match self.mailer.send(&mail).await {
            Ok(_) => InviteState::Sent { sent_at: self.db.clock.now() },
            Err(e) => InviteState::Failed { reason: e.to_string().chars().take(200).collect() },
        };
        let audit_outcome = if matches!(outcome, InviteState::Sent { .. }) { Outcome::Success } else { Outcome::Failure };
        let detail = json!({"ruleId": rule.id, "appointmentId": entry.appointment_id});
        let audit = AuditLog { db: self.db }.entry(&actor, AuditAction::InviteSend, &entry.patient_id, audit_outcome, detail)?;
        self.settle(item, record, outcome, Some(audit)).await
    }

    /// Writes the claim's outcome, with the send's audit entry when there was a send (together or
    /// not at all), conditionally: a run that took the claim over meanwhile wins. A failed write
    /// is tried again — once the mail has left, a claim left unsettled would be taken over after
    /// [`CLAIM_TIMEOUT`] and the patient written to twice — and a condition found failed on a
    /// later try is the earlier try's own write, its answer lost.
    async fn settle(&self, item: Item, mut record: InviteRecord, state: InviteState, audit: Option<TxOp>) -> CoreResult<InviteState> {
        record.state = state.clone();
        let next = item.replaced(serde_json::to_value(&record).map_err(CoreError::backend)?);
        let mut tries = 0;
        loop {
            tries += 1;
            let written = match &audit {
                None => self.db.table.put(next.clone(), Cond::Version(item.version)).await,
                Some(entry) => self.db.table.transact(vec![TxOp::Put(next.clone(), Cond::Version(item.version)), entry.clone()]).await,
            };
            match written {
                Ok(()) | Err(TableError::ConditionFailed) => return Ok(state),
                Err(TableError::TransactionCanceled { failed }) if !failed.is_empty() => {
                    // Taken over meanwhile, or written by an earlier try: the send is logged either way.
                    if let Some(TxOp::Put(entry, _)) = audit {
                        crate::ports::put_fresh(self.db.table, entry).await?;
                    }
                    return Ok(state);
                }
                Err(_) if tries < SETTLE_TRIES => {}
                Err(e) => return Err(e.into()),
            }
        }
    }
}

/// The invite log for staff, newest first.
pub async fn log(
    table: &dyn Table,
    practice: &PracticeId,
    limit: usize,
    cursor: Option<String>,
) -> CoreResult<(Vec<InviteRecord>, Option<String>)> {
    let page = table.query(Query::on_gsi1(log_partition(practice)).newest_first().limit(limit).after(cursor)).await?;
    let records = page.items.iter().map(|i| i.parse()).collect::<Result<Vec<InviteRecord>, _>>()?;
    Ok((records, page.cursor))
}
