//! The practice's patient roster for staff: find a patient by name, birthdate, phone or email
//! without scanning anything (and, for password recovery, the logins an email belongs to). Each
//! synced patient has a few small index items (by last name, first name, birthdate, each phone,
//! email), written by the sync store in the same transaction as the patient itself (so the
//! roster lives with sync, and staff search reads it here), so the roster never disagrees with the record and an older sync can never leave a stale entry.
//! Each index item carries the few fields a search result shows, so a page of results is one query.
//!
//! Eligibility for portal access follows Open Dental's rule: first and last name, address, city,
//! state, birthdate, a phone and an email; [`missing`] names what is not there.

use crate::ids::PracticeId;
use crate::ports::{Db, Item, Query, TxOp};
use crate::sync::entities::Patient;
use crate::table_keys;
use crate::{CoreError, CoreResult, ProblemCode};
use serde::{Deserialize, Serialize};

/// A patient as a search result shows them (no PHI beyond what staff need to pick the right one).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RosterEntry {
    pub patient_id: String,
    pub name: String,
    pub birthdate: String,
    /// What portal access needs and this patient's record lacks; empty when eligible.
    pub missing: Vec<String>,
    pub has_email: bool,
}

/// Why a patient cannot be given portal access yet, in Open Dental's terms (field names).
pub fn missing(p: &Patient) -> Vec<&'static str> {
    let blank = |s: &str| s.trim().is_empty();
    let mut out = vec![];
    if blank(&p.first_name) {
        out.push("firstName");
    }
    if blank(&p.last_name) {
        out.push("lastName");
    }
    match &p.address {
        None => out.extend(["address", "city", "state"]),
        Some(a) => {
            if blank(&a.line1) {
                out.push("address");
            }
            if blank(&a.city) {
                out.push("city");
            }
            if blank(&a.state) {
                out.push("state");
            }
        }
    }
    if blank(&p.birthdate) {
        out.push("birthdate");
    }
    if p.phones.is_empty() {
        out.push("phone");
    }
    if p.email.as_deref().is_none_or(blank) {
        out.push("email");
    }
    out
}

/// How a search term is compared: lower case, letters and digits only ("O'Brien" → "obrien").
pub fn fold(s: &str) -> String {
    s.chars().filter(|c| c.is_alphanumeric()).flat_map(char::to_lowercase).collect()
}

/// A phone number as digits, without a leading North American `1` country code.
fn phone_digits(number: &str) -> String {
    let digits: String = number.chars().filter(char::is_ascii_digit).collect();
    match digits.strip_prefix('1') {
        Some(rest) if digits.len() == 11 => rest.to_string(),
        _ => digits,
    }
}

/// The index items of one patient. Their primary keys are fixed per patient and slot, so a newer
/// version overwrites them and a slot that no longer applies (a phone removed) is deleted.
/// Each phone is indexed twice: from its start (`269555…`) and from its end, reversed, so the
/// front desk finds "555-0143" or "0143" as well as "(269) 555".
const SLOTS: [&str; 10] =
    ["last", "first", "dob", "phone-home", "phone-mobile", "phone-work", "phone-home-end", "phone-mobile-end", "phone-work-end", "email"];

fn slot_key(patient_id: &str, slot: &str) -> String {
    format!("ROSTER#{patient_id}#{slot}")
}

/// The writes that make the roster match `patient` (`None`: the patient was deleted). They go in
/// the same transaction as the synced record.
pub fn index_ops(practice: &PracticeId, patient_id: &str, patient: Option<&Patient>) -> CoreResult<Vec<TxOp>> {
    let pk = table_keys::practice(practice);
    let Some(p) = patient else {
        return Ok(SLOTS
            .iter()
            .map(|s| TxOp::Delete { pk: pk.clone(), sk: slot_key(patient_id, s), cond: crate::ports::Cond::None })
            .collect());
    };
    let entry = RosterEntry {
        patient_id: patient_id.into(),
        name: p.display_name(),
        birthdate: p.birthdate.clone(),
        missing: missing(p).into_iter().map(String::from).collect(),
        has_email: p.email.as_deref().is_some_and(|e| !e.trim().is_empty()),
    };
    let data = serde_json::to_value(&entry).map_err(CoreError::backend)?;
    let (last, first) = (fold(&p.last_name), fold(&p.first_name));
    let phone = |kind: crate::sync::entities::PhoneKind| {
        p.phones.iter().find(|ph| ph.kind == kind).map(|ph| phone_digits(&ph.number)).filter(|d| !d.is_empty())
    };
    use crate::sync::entities::PhoneKind::*;
    let values = [
        Some((By::LastName, format!("{last}#{first}"))),
        Some((By::FirstName, format!("{first}#{last}"))),
        Some((By::Birthdate, p.birthdate.clone())),
        phone(Home).map(|d| (By::Phone, d)),
        phone(Mobile).map(|d| (By::Phone, d)),
        phone(Work).map(|d| (By::Phone, d)),
        phone(Home).map(|d| (By::PhoneEnd, reversed(&d))),
        phone(Mobile).map(|d| (By::PhoneEnd, reversed(&d))),
        phone(Work).map(|d| (By::PhoneEnd, reversed(&d))),
        p.email.as_deref().map(str::trim).filter(|e| !e.is_empty()).map(|e| (By::Email, e.to_lowercase())),
    ];
    let ops = SLOTS
        .iter()
        .zip(values)
        .map(|(slot, value)| match value {
            Some((by, v)) => TxOp::Put(
                Item::new(pk.clone(), slot_key(patient_id, slot), data.clone())
                    .with_gsi1(by.partition(practice), format!("{v}#{patient_id}")),
                crate::ports::Cond::None,
            ),
            None => TxOp::Delete { pk: pk.clone(), sk: slot_key(patient_id, slot), cond: crate::ports::Cond::None },
        })
        .collect();
    Ok(ops)
}

/// The orders the roster is indexed in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum By {
    LastName,
    FirstName,
    Birthdate,
    Phone,
    /// A phone's digits reversed: a search by the number's end is a prefix search here.
    PhoneEnd,
    Email,
}

fn reversed(digits: &str) -> String {
    digits.chars().rev().collect()
}

impl By {
    fn partition(self, practice: &PracticeId) -> String {
        let name = match self {
            By::LastName => "LAST",
            By::FirstName => "FIRST",
            By::Birthdate => "DOB",
            By::Phone => "PHONE",
            By::PhoneEnd => "PHONE_END",
            By::Email => "EMAIL",
        };
        format!("P#{practice}#ROSTER#{name}")
    }
}

/// The index lookups one search term needs, tried in order: an address with `@` is an email, a
/// date a birthdate, four or more digits a phone number (its start or its end), `Last, First` a
/// name in that order, one or two words a name either way.
fn plan(q: &str) -> CoreResult<Vec<(By, String)>> {
    let q = q.trim();
    if q.chars().count() > 100 {
        return Err(CoreError::invalid(ProblemCode::SearchInvalid, "A search is at most 100 characters."));
    }
    if q.contains('@') {
        return Ok(vec![(By::Email, q.to_lowercase())]);
    }
    if let Some(date) = as_date(q) {
        return Ok(vec![(By::Birthdate, date)]);
    }
    let digits = phone_digits(q);
    if q.chars().all(|c| c.is_ascii_digit() || " +-().".contains(c)) && !q.is_empty() {
        if digits.len() < 4 {
            return Err(CoreError::invalid(ProblemCode::SearchInvalid, "Search a phone number by at least 4 digits."));
        }
        // From its start ("269 555") or its end ("555-0143", "0143"), however it is typed.
        return Ok(vec![(By::Phone, digits.clone()), (By::PhoneEnd, reversed(&digits))]);
    }
    if let Some((last, first)) = q.split_once(',') {
        return Ok(vec![(By::LastName, format!("{}#{}", fold(last), fold(first)))]);
    }
    let words: Vec<String> = q.split_whitespace().map(fold).filter(|w| !w.is_empty()).collect();
    Ok(match words.as_slice() {
        [] => vec![(By::LastName, String::new())],
        [one] => vec![(By::LastName, one.clone()), (By::FirstName, one.clone())],
        // "Alex Morgan" or "Morgan Alex": staff type both.
        [a, rest @ ..] => {
            let b = rest.concat();
            vec![(By::LastName, format!("{b}#{a}")), (By::LastName, format!("{a}#{b}"))]
        }
    })
}

/// `YYYY-MM-DD` or `MM/DD/YYYY` as `YYYY-MM-DD`.
fn as_date(q: &str) -> Option<String> {
    let fmt = time::macros::format_description!("[year]-[month]-[day]");
    if let Ok(d) = time::Date::parse(q, fmt) {
        return Some(d.to_string());
    }
    let mut parts = q.split('/');
    let (m, d, y) = (parts.next()?.parse::<u8>().ok()?, parts.next()?.parse::<u8>().ok()?, parts.next()?.parse::<i32>().ok()?);
    if parts.next().is_some() || !(1000..=9999).contains(&y) {
        return None;
    }
    let date = time::Date::from_calendar_date(y, time::Month::try_from(m).ok()?, d).ok()?;
    Some(date.to_string())
}

pub struct RosterPage {
    pub entries: Vec<RosterEntry>,
    pub cursor: Option<String>,
}

pub struct Roster<'a> {
    pub db: Db<'a>,
}

impl Roster<'_> {
    /// Patients matching `q` (empty: everyone, by last name), `limit` at a time. The cursor names
    /// the lookup it stopped in and the table's cursor within it.
    pub async fn search(&self, practice: &PracticeId, q: &str, limit: usize, cursor: Option<&str>) -> CoreResult<RosterPage> {
        let lookups = plan(q)?;
        let (mut step, mut inner) = match cursor {
            None => (0, None),
            Some(c) => {
                let (s, rest) =
                    c.split_once('.').ok_or(CoreError::invalid(ProblemCode::CursorInvalid, "This cursor is not one we gave out."))?;
                let step = s.parse::<usize>().ok().filter(|s| *s < lookups.len());
                let step = step.ok_or(CoreError::invalid(ProblemCode::CursorInvalid, "This cursor is not one we gave out."))?;
                (step, (!rest.is_empty()).then(|| rest.to_string()))
            }
        };
        let mut entries: Vec<RosterEntry> = vec![];
        while step < lookups.len() && entries.len() < limit {
            let (by, prefix) = &lookups[step];
            let mut q = Query::on_gsi1(by.partition(practice)).limit(limit - entries.len()).after(inner.take());
            if !prefix.is_empty() {
                q = q.prefix(prefix.clone());
            }
            let page = self.db.table.query(q).await?;
            for item in &page.items {
                let e: RosterEntry = item.parse()?;
                // The same patient twice (their first and last names both match): once is enough.
                if !entries.iter().any(|x| x.patient_id == e.patient_id) {
                    entries.push(e);
                }
            }
            match page.cursor {
                Some(c) => inner = Some(c),
                None => step += 1,
            }
        }
        let cursor = (step < lookups.len()).then(|| format!("{step}.{}", inner.unwrap_or_default()));
        Ok(RosterPage { entries, cursor })
    }

    /// The patients with exactly this first name, last name (as folded for search) and
    /// birthdate: one query of the last-name index.
    pub async fn matching(
        &self,
        practice: &PracticeId,
        first_name: &str,
        last_name: &str,
        birthdate: &str,
    ) -> CoreResult<Vec<RosterEntry>> {
        let (last, first) = (fold(last_name), fold(first_name));
        if last.is_empty() || first.is_empty() {
            return Ok(vec![]);
        }
        let q = Query::on_gsi1(By::LastName.partition(practice)).prefix(format!("{last}#{first}#")).limit(50);
        let page = self.db.table.query(q).await?;
        let mut out = vec![];
        for item in &page.items {
            let e: RosterEntry = item.parse()?;
            if e.birthdate == birthdate {
                out.push(e);
            }
        }
        Ok(out)
    }

    /// The patients whose email is exactly `email` (a family may share one).
    pub async fn with_email(&self, practice: &PracticeId, email: &str) -> CoreResult<Vec<String>> {
        let q = Query::on_gsi1(By::Email.partition(practice)).prefix(format!("{}#", email.trim().to_lowercase())).limit(20);
        let page = self.db.table.query(q).await?;
        page.items.iter().map(|i| i.parse::<RosterEntry>().map(|e| e.patient_id).map_err(Into::into)).collect()
    }

    /// One patient's entry (`None` when no such live patient).
    pub async fn get(&self, practice: &PracticeId, patient_id: &str) -> CoreResult<Option<RosterEntry>> {
        let item = self.db.table.get(&table_keys::practice(practice), &slot_key(patient_id, SLOTS[0])).await?;
        Ok(item.map(|i| i.parse()).transpose()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn search_terms_pick_their_index() {
        assert_eq!(plan("1990-04-02").unwrap(), vec![(By::Birthdate, "1990-04-02".into())]);
        assert_eq!(plan("4/2/1990").unwrap(), vec![(By::Birthdate, "1990-04-02".into())]);
        let phone = |digits: &str| vec![(By::Phone, digits.to_string()), (By::PhoneEnd, reversed(digits))];
        assert_eq!(plan("(555) 010-1234").unwrap(), phone("5550101234"));
        assert_eq!(plan("1 555 010 1234").unwrap(), phone("5550101234"));
        assert_eq!(plan("010-1234").unwrap(), vec![(By::Phone, "0101234".into()), (By::PhoneEnd, "4321010".into())]);
        assert_eq!(plan("55").unwrap_err().code(), "search_invalid");
        assert_eq!(plan("Morgan, Al").unwrap(), vec![(By::LastName, "morgan#al".into())]);
        assert_eq!(plan("O'Brien").unwrap(), vec![(By::LastName, "obrien".into()), (By::FirstName, "obrien".into())]);
        assert_eq!(plan("alex morgan").unwrap(), vec![(By::LastName, "morgan#alex".into()), (By::LastName, "alex#morgan".into())]);
        assert_eq!(plan("  ").unwrap(), vec![(By::LastName, String::new())]);
        assert_eq!(plan(" Sam.Rivera@Example.com ").unwrap(), vec![(By::Email, "sam.rivera@example.com".into())]);
        assert_eq!(plan(&"x".repeat(101)).unwrap_err().code(), "search_invalid");
    }
}
