//! ModuleAccount: the balance, the ledger and the statements of a patient's account.
//!
//! Ledger lines and statements sit on the account of the family's guarantor. Whoever holds an
//! account sees all of it (the family's balance); a member of someone else's account sees only
//! their own lines on it and no statements (those are the holder's mail). Amounts stay integer
//! cents end to end: the summary is exact sums, formatted only in the page. Payments made online
//! count at once: approved, they come off the balance as "being posted" until the practice's
//! system syncs the ledger line that carries their id.

use crate::audit::AuditAction;
use crate::payments::{being_posted, Posting};
use crate::ports::{Blobs, Db};
use crate::reads::{signed, Caller, Listing, PageRequest, Reads, SignedFile};
use crate::sync::entities::{Entity, LedgerEntry, LedgerKind, Patient, Statement};
use crate::sync::records::{DateRange, Order, Synced};
use crate::sync::service::file_key;
use crate::{CoreError, CoreResult};
use serde::Serialize;
use std::collections::HashSet;

/// Ledger lines read per query when adding up a balance (one query for all but the largest
/// families).
const SUM_PAGE: usize = 1000;

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Summary {
    pub patient_id: String,
    /// Every line but insurance estimates: charges less payments and adjustments.
    pub total_cents: i64,
    /// Claims sent and not yet paid, as estimated.
    pub insurance_estimate_cents: i64,
    /// What the patient is expected to pay: the total less the pending estimate.
    pub patient_portion_cents: i64,
    /// `account`: the whole account the patient holds; `own`: their lines on another's account.
    pub scope: Scope,
    /// Paid online and not yet on the ledger: already taken off the total and the patient
    /// portion, listed until the practice's system posts them.
    pub being_posted: Vec<Posting>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    Account,
    Own,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LedgerLine {
    pub id: String,
    pub date: String,
    pub kind: LedgerKind,
    pub description: String,
    pub amount_cents: i64,
    /// Whose visit the line is for (a family member's, on the holder's account).
    pub patient_id: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StatementView {
    pub id: String,
    pub date: String,
    pub balance_cents: i64,
    pub file_name: String,
}

/// Which lines of which account a patient sees.
struct View {
    account_id: String,
    /// `Some(patient)` when they see only their own lines.
    only: Option<String>,
}

impl View {
    fn of(p: &Synced<Patient>) -> View {
        let account_id = p.record.guarantor(&p.id).to_string();
        let only = (account_id != p.id).then(|| p.id.clone());
        View { account_id, only }
    }

    fn shows(&self, line: &LedgerEntry) -> bool {
        self.only.as_ref().is_none_or(|p| &line.patient_id == p)
    }

    fn scope(&self) -> Scope {
        if self.only.is_some() {
            Scope::Own
        } else {
            Scope::Account
        }
    }
}

/// The summary's sums: `(total, insurance estimate)`, in cents.
pub fn totals<'a>(lines: impl IntoIterator<Item = &'a LedgerEntry>) -> (i64, i64) {
    lines.into_iter().fold((0, 0), |(total, estimate), l| match l.kind {
        LedgerKind::InsuranceEstimate => (total, estimate + l.amount_cents),
        _ => (total + l.amount_cents, estimate),
    })
}

pub struct Account<'a> {
    pub db: Db<'a>,
    pub blobs: &'a dyn Blobs,
}

impl Account<'_> {
    fn reads(&self) -> Reads<'_> {
        Reads { db: self.db }
    }

    /// The balance broken down. When the practice takes payments online (`online_payments`), its
    /// approved payments not yet on the ledger are taken off (one more query).
    pub async fn summary(&self, caller: &Caller, requested: Option<&str>, online_payments: bool) -> CoreResult<Summary> {
        let reads = self.reads();
        let (patient_id, patient) = reads.patient(caller, requested).await?;
        let view = View::of(&patient);
        let (mut total, mut estimate) = (0i64, 0i64);
        let mut posted: HashSet<String> = HashSet::new();
        let mut cursor = None;
        loop {
            let page = reads
                .records()
                .for_patient::<LedgerEntry>(
                    &caller.actor.practice,
                    &view.account_id,
                    &DateRange::all(),
                    Order::OldestFirst,
                    SUM_PAGE,
                    cursor,
                )
                .await?;
            posted.extend(page.records.iter().filter_map(|l| l.record.portal_payment_id.clone()));
            let (t, e) = totals(page.records.iter().map(|l| l.record.as_ref()).filter(|l| view.shows(l)));
            total += t;
            estimate += e;
            match page.cursor {
                Some(c) => cursor = Some(c),
                None => break,
            }
        }
        let posted: HashSet<&str> = posted.iter().map(String::as_str).collect();
        let posting = match online_payments {
            true => being_posted(self.db.table, &caller.actor.practice, &view.account_id, view.only.as_deref(), &posted).await?,
            false => vec![],
        };
        total -= posting.iter().map(|p| p.amount_cents).sum::<i64>();
        reads.audit(caller, &patient_id, AuditAction::AccountSummaryRead).await?;
        Ok(Summary {
            patient_id: patient.id,
            total_cents: total,
            insurance_estimate_cents: estimate,
            patient_portion_cents: total - estimate,
            scope: view.scope(),
            being_posted: posting,
        })
    }

    /// The lines the summary adds up (insurance estimates aside), newest first, within `range`.
    pub async fn ledger(
        &self,
        caller: &Caller,
        requested: Option<&str>,
        range: &DateRange,
        page: PageRequest,
    ) -> CoreResult<Listing<LedgerLine>> {
        let reads = self.reads();
        let (patient_id, patient) = reads.patient(caller, requested).await?;
        let view = View::of(&patient);
        let found = reads
            .records()
            .for_patient::<LedgerEntry>(&caller.actor.practice, &view.account_id, range, Order::NewestFirst, page.limit, page.cursor)
            .await?;
        reads.audit(caller, &patient_id, AuditAction::AccountLedgerRead).await?;
        let items = found
            .records
            .into_iter()
            .filter(|l| l.record.kind != LedgerKind::InsuranceEstimate && view.shows(&l.record))
            .map(|l| LedgerLine {
                id: l.id,
                date: l.record.date.clone(),
                kind: l.record.kind,
                description: l.record.description.clone(),
                amount_cents: l.record.amount_cents,
                patient_id: l.record.patient_id.clone(),
            })
            .collect();
        Ok(Listing { items, next_cursor: found.cursor })
    }

    /// The account holder's statements whose PDF is available, newest first.
    pub async fn statements(&self, caller: &Caller, requested: Option<&str>, page: PageRequest) -> CoreResult<Listing<StatementView>> {
        let reads = self.reads();
        let (patient_id, patient) = reads.patient(caller, requested).await?;
        if View::of(&patient).only.is_some() {
            reads.audit(caller, &patient_id, AuditAction::AccountStatementsRead).await?;
            return Ok(Listing { items: vec![], next_cursor: None });
        }
        let found = reads
            .records()
            .for_patient::<Statement>(&caller.actor.practice, &patient_id, &DateRange::all(), Order::NewestFirst, page.limit, page.cursor)
            .await?;
        reads.audit(caller, &patient_id, AuditAction::AccountStatementsRead).await?;
        let items = found
            .records
            .into_iter()
            .filter(Synced::file_available)
            .map(|s| StatementView {
                id: s.id,
                date: s.record.date.clone(),
                balance_cents: s.record.balance_cents,
                file_name: s.record.file.file_name.clone(),
            })
            .collect();
        Ok(Listing { items, next_cursor: found.cursor })
    }

    /// A short-lived link to a statement's PDF, saved under its own file name.
    pub async fn statement_file(&self, caller: &Caller, requested: Option<&str>, id: &str) -> CoreResult<SignedFile> {
        let reads = self.reads();
        let patient_id = reads.patient_id(caller, requested).await?;
        let practice = &caller.actor.practice;
        let statement = reads.records().get::<Statement>(practice, id).await?;
        let statement = statement.filter(|s| s.record.guarantor_id == patient_id && s.file_available()).ok_or(CoreError::NotFound)?;
        reads.audit(caller, &patient_id, AuditAction::AccountStatementFileRead).await?;
        signed(self.blobs, self.db.clock, &file_key(practice, Entity::Statements, id), &statement.record.file.file_name).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(kind: LedgerKind, cents: i64) -> LedgerEntry {
        LedgerEntry {
            patient_id: "p".into(),
            guarantor_id: None,
            date: "2026-01-01".into(),
            kind,
            amount_cents: cents,
            description: "x".into(),
            procedure_code: None,
            provider_id: None,
            portal_payment_id: None,
        }
    }

    #[test]
    fn estimates_are_apart_from_the_total() {
        let lines = [
            line(LedgerKind::Charge, 120_000),
            line(LedgerKind::InsurancePayment, -74_300),
            line(LedgerKind::Payment, -30_000),
            line(LedgerKind::Adjustment, -2_500),
            line(LedgerKind::InsuranceEstimate, 12_000),
        ];
        assert_eq!(totals(&lines), (13_200, 12_000));
        assert_eq!(totals(&[]), (0, 0));
    }
}
