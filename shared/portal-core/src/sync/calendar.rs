//! The practice's appointments by time, for the invite schedule: one small index entry per
//! scheduled or completed appointment (`CAL#{appointment}`, by start in unix seconds), written in
//! the appointment's own sync transaction (so it lives with sync; the invites run reads it), so a run finds what is due with one range query and no
//! scan. A broken or deleted appointment leaves the calendar.

use crate::ids::PracticeId;
use crate::ports::{Cond, Item, Query, Table, TxOp};
use crate::sync::entities::{Appointment, AppointmentStatus};
use crate::table_keys;
use crate::{CoreError, CoreResult};
use serde::{Deserialize, Serialize};
use time::format_description::well_known::Rfc3339;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CalendarEntry {
    pub appointment_id: String,
    pub patient_id: String,
    /// As the practice's system sent it (with the practice's offset: the wall clock invites show).
    pub start: String,
    pub start_unix: i64,
    pub length_minutes: u32,
    pub status: AppointmentStatus,
}

impl CalendarEntry {
    pub fn end_unix(&self) -> i64 {
        self.start_unix + i64::from(self.length_minutes) * 60
    }
}

fn partition(practice: &PracticeId) -> String {
    format!("P#{practice}#CALENDAR")
}

fn entry_key(appointment_id: &str) -> String {
    format!("CAL#{appointment_id}")
}

/// The writes that make the calendar match `appointment` (`None`: deleted).
pub fn index_ops(practice: &PracticeId, appointment_id: &str, appointment: Option<&Appointment>) -> CoreResult<Vec<TxOp>> {
    let pk = table_keys::practice(practice);
    let listed = appointment.filter(|a| matches!(a.status, AppointmentStatus::Scheduled | AppointmentStatus::Complete));
    let Some(a) = listed else {
        return Ok(vec![TxOp::Delete { pk, sk: entry_key(appointment_id), cond: Cond::None }]);
    };
    let start_unix = time::OffsetDateTime::parse(&a.start, &Rfc3339).map_err(CoreError::backend)?.unix_timestamp();
    let entry = CalendarEntry {
        appointment_id: appointment_id.into(),
        patient_id: a.patient_id.clone(),
        start: a.start.clone(),
        start_unix,
        length_minutes: a.length_minutes,
        status: a.status,
    };
    let item = Item::new(pk, entry_key(appointment_id), serde_json::to_value(&entry).map_err(CoreError::backend)?)
        .with_gsi1(partition(practice), format!("{start_unix:011}#{appointment_id}"));
    Ok(vec![TxOp::Put(item, Cond::None)])
}

/// Appointments starting in `[from, to]` (unix seconds), soonest first.
pub async fn between(table: &dyn Table, practice: &PracticeId, from: i64, to: i64) -> CoreResult<Vec<CalendarEntry>> {
    let (mut out, mut cursor) = (vec![], None);
    loop {
        let q = Query::on_gsi1(partition(practice))
            .between(format!("{:011}", from.max(0)), format!("{:011}~", to.max(0)))
            .limit(200)
            .after(cursor);
        let page = table.query(q).await?;
        for item in &page.items {
            out.push(item.parse()?);
        }
        match page.cursor {
            Some(c) => cursor = Some(c),
            None => return Ok(out),
        }
    }
}
