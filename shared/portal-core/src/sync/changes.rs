//! What the portal itself changes in synced data, each as one write for the caller's own
//! transaction (beside its audit entry and outbox event): a record's fields replaced (an
//! appointment confirmed, a change asked for, a recall scheduled), an open slot taken out of the
//! open list, and a booking the portal made, filed where the patient's appointments are listed.
//! Modules hold a [`ForChange`] — a record with the version it was read at — and never the
//! stored form (`Envelope`, index keys): each write applies only if nobody changed the record
//! since it was read, so a sync or another patient in between makes the transaction fail and the
//! module read again.

use super::entities::rules::sort_key_utc;
use super::entities::{Appointment, Entity, Record, Slot};
use super::records::{synced, PatientRecords, Synced};
use super::store::{entity_key, Envelope};
use crate::clock::rfc3339;
use crate::ids::PracticeId;
use crate::ports::{Cond, Db, Item, TxOp};
use crate::table_keys;
use crate::{CoreError, CoreResult};
use serde::Serialize;

/// A synced record read to be changed: the record (through `Deref`) and the version it was read at.
#[derive(Debug, Clone)]
pub struct ForChange<T> {
    synced: Synced<T>,
    item: Item,
}

impl<T> std::ops::Deref for ForChange<T> {
    type Target = Synced<T>;
    fn deref(&self) -> &Synced<T> {
        &self.synced
    }
}

impl PatientRecords<'_> {
    /// One record by id, to change it; `None` when absent or deleted.
    pub async fn get_for_change<T: Record>(&self, practice: &PracticeId, id: &str) -> CoreResult<Option<ForChange<T>>> {
        if super::entities::check_id("id", id).is_err() {
            return Ok(None);
        }
        let (pk, sk) = entity_key(practice, T::ENTITY, id);
        let Some(item) = self.db.table.get(&pk, &sk).await? else { return Ok(None) };
        Ok(synced::<T>(&item)?.map(|synced| ForChange { synced, item }))
    }
}

impl<T: Serialize> ForChange<T> {
    /// The write that stores `record` as this record's fields (its stamps and place unchanged).
    pub fn replace(&self, record: &T) -> CoreResult<TxOp> {
        let mut data = self.item.data.as_ref().clone();
        data["fields"] = serde_json::to_value(record).map_err(CoreError::backend)?;
        Ok(TxOp::Put(self.item.replaced(data), Cond::Version(self.item.version)))
    }
}

impl ForChange<Slot> {
    /// Whether the slot is still in the practice's open list.
    pub fn is_open(&self) -> bool {
        self.item.gsi1pk.is_some()
    }

    /// The write that takes the slot out of the open list (the practice's system still owns it:
    /// its next sync of the slot puts it back or removes it).
    pub fn take(&self) -> TxOp {
        let mut taken = self.item.clone().with_version(self.item.version + 1);
        (taken.gsi1pk, taken.gsi1sk) = (None, None);
        TxOp::Put(taken, Cond::Version(self.item.version))
    }
}

/// The appointments the portal booked into open slots, one per slot: filed under the slot (so a
/// second booking of it fails) and listed with the patient's appointments until the practice's
/// system sends the appointment it made of it.
pub struct PortalBookings<'a> {
    pub db: Db<'a>,
}

impl PortalBookings<'_> {
    /// The write that files `appointment` as booking `booking_id` of `slot_id` at `now`; it fails
    /// when the slot has a booking already.
    pub fn file(practice: &PracticeId, booking_id: &str, slot_id: &str, appointment: &Appointment, now: i64) -> CoreResult<TxOp> {
        let envelope = Envelope {
            entity: Entity::Appointments.name().into(),
            id: booking_id.into(),
            last_modified: rfc3339(now),
            last_modified_ms: now * 1000,
            deleted: false,
            fields: Some(appointment),
            file_status: None,
            upload_id: None,
            thumbnail: false,
            received_at: now,
        };
        let data = serde_json::to_value(&envelope).map_err(CoreError::backend)?;
        let sort = table_keys::record_sort(Entity::Appointments.name(), Some(&sort_key_utc(&appointment.start)), booking_id);
        let item = Item::new(table_keys::practice(practice), table_keys::booking(slot_id), data)
            .with_gsi1(table_keys::patient_data(practice, &appointment.patient_id), sort)
            .with_version(1);
        Ok(TxOp::Put(item, Cond::Absent))
    }

    /// The booking of `slot_id` (its id and appointment), if the portal made one.
    pub async fn of_slot(&self, practice: &PracticeId, slot_id: &str) -> CoreResult<Option<(String, Appointment)>> {
        let Some(item) = self.db.table.get(&table_keys::practice(practice), &table_keys::booking(slot_id)).await? else { return Ok(None) };
        let booking: Envelope<Appointment> = item.parse()?;
        Ok(booking.fields.map(|appointment| (booking.id, appointment)))
    }
}
