//! Synced data on each backend: the sync rules (stamps, tombstones, files), the family rule, the
//! patient records read back by patient, family and date, and reads that see every completed write.

use super::*;

/// The sync rules on this backend's table, secrets and events: what the sync API relies on.
pub(super) async fn sync_rules_hold(b: &Backend) {
    use portal_core::audit::{Actor, ActorKind};
    use portal_core::sync::outbox::Outbox;
    use portal_core::sync::signing::{canonical_path_with_query, signed_headers, SecretCache, SyncKeys, SyncSignature};
    use portal_core::sync::store::{Applied, SyncStore};
    use portal_core::sync::Entity;
    let clock = SystemClock;
    let practice = new_practice();
    // A key, sealed by this backend's SecretBox, verifies a signed request once.
    let keys = SyncKeys { db: b.db_with(&clock), secrets: b.secrets.as_ref() };
    let (key, secret) = keys.create(&Actor::new(&practice, ActorKind::Staff, "staff-1", None), "Server").await.unwrap();
    let headers = signed_headers(&key.key_id, &secret, "GET", "/v1/sync/events", &[], b"", now());
    let sig = SyncSignature::from_headers(|h| headers.iter().find(|(k, _)| *k == h).map(|(_, v)| v.clone())).unwrap();
    let cache = SecretCache::default();
    let path = canonical_path_with_query("/v1/sync/events", &[]);
    assert_eq!(keys.verify(&sig, "GET", &path, &cache, None).await.unwrap().key_id, key.key_id);
    let replay = keys.verify(&sig, "GET", &path, &cache, None).await;
    assert_eq!(replay.as_ref().map_err(|e| e.code()).err(), Some(portal_core::ProblemCode::SyncReplay), "{replay:?}");
    // Upserts never go backwards; deletes leave a tombstone.
    let store = SyncStore { db: b.db_with(&clock) };
    let body = |stamp: &str, name: &str| json!({"lastModified": stamp, "abbreviation": "MC", "firstName": name, "lastName": "Chen"});
    let up = |stamp: &'static str, name: &'static str| store.upsert(&practice, Entity::Providers, "prov-1", body(stamp, name));
    assert_eq!(up("2026-01-02T00:00:00Z", "Maya").await.unwrap().applied, Applied::Applied);
    assert_eq!(up("2026-01-02T00:00:00Z", "Maya").await.unwrap().applied, Applied::Unchanged);
    assert_eq!(up("2026-01-01T00:00:00Z", "Older").await.unwrap().applied, Applied::Unchanged);
    assert_eq!(store.get(&practice, Entity::Providers, "prov-1").await.unwrap().fields.unwrap()["firstName"], "Maya");
    assert_eq!(store.delete(&practice, Entity::Providers, "prov-1", "2026-01-03T00:00:00Z").await.unwrap().applied, Applied::Applied);
    assert_eq!(up("2026-01-02T12:00:00Z", "Zombie").await.unwrap().applied, Applied::Unchanged);
    assert!(store.get(&practice, Entity::Providers, "prov-1").await.unwrap().deleted);
    // The outbox: kept in order, handed out after the acknowledgement only once.
    use portal_core::sync::events::PortalEvent;
    let outbox = Outbox { db: b.db_with(&clock), events: b.events.as_ref() };
    let (one, two) = (
        PortalEvent::WebmailSent { message_id: "m-1".into(), patient_id: "pat-1".into() },
        PortalEvent::PasswordChanged { patient_id: "pat-1".into() },
    );
    let first = outbox.record(&practice, one).await.unwrap();
    outbox.record(&practice, two).await.unwrap();
    tokio::time::sleep(Duration::from_micros(portal_core::sync::outbox::SETTLE_MICROS as u64 + 100_000)).await;
    let (events, _) = outbox.list(&practice, None, 10).await.unwrap();
    assert_eq!(events.iter().map(|e| e.kind.as_str()).collect::<Vec<_>>(), ["webmail.sent", "portal.patient.password_changed"]);
    outbox.ack(&practice, &first.id).await.unwrap();
    let (events, _) = outbox.list(&practice, None, 10).await.unwrap();
    assert_eq!(events.iter().map(|e| e.kind.as_str()).collect::<Vec<_>>(), ["portal.patient.password_changed"]);
}

/// Pushes one synced record through the store (stamped now), as the sync API would.
pub(super) async fn synced(
    b: &Backend,
    practice: &portal_core::ids::PracticeId,
    entity: portal_core::sync::Entity,
    id: &str,
    mut body: Value,
) {
    body["lastModified"] = json!("2026-01-01T00:00:00Z");
    let store = portal_core::sync::store::SyncStore { db: b.db() };
    store.upsert(practice, entity, id, body).await.unwrap();
}

pub(super) fn patient(first: &str, extra: Value) -> Value {
    let mut p = json!({"firstName": first, "lastName": "Test", "birthdate": "1980-01-01"});
    p.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
    p
}

/// The family rule over this backend's table: who sees whom, exactly.
pub(super) async fn family_rule_holds(b: &Backend) {
    use portal_core::practice::family::{Family, FamilyAccess, Viewer};
    use portal_core::sync::records::PatientRecords;
    use portal_core::sync::Entity::Patients;
    let (practice, other) = (new_practice(), new_practice());
    // A family: guarantor g, spouse s, minor m (guardian: s), adult child a; an unrelated u; and
    // in another practice a patient x who names g as guarantor (ids are per practice).
    let fam = json!({"familyIds": ["g", "s", "m", "a"]});
    synced(b, &practice, Patients, "g", patient("Gale", fam.clone())).await;
    synced(b, &practice, Patients, "s", patient("Sky", json!({"guarantorId": "g", "familyIds": ["g", "m", "a"]}))).await;
    let minor = json!({"guarantorId": "g", "isMinor": true, "guardians": [{"patientId": "s", "relationship": "mother"}]});
    synced(b, &practice, Patients, "m", patient("Mo", minor)).await;
    synced(b, &practice, Patients, "a", patient("Ash", json!({"guarantorId": "g"}))).await;
    synced(b, &practice, Patients, "u", patient("Uma", json!({}))).await;
    synced(b, &other, Patients, "x", patient("Xan", json!({"guarantorId": "g"}))).await;
    let family = Family { records: PatientRecords { db: b.db() } };
    let sees = |id: &str, access: FamilyAccess| {
        let viewer = Viewer::new(id, access);
        let (family, practice) = (&family, &practice);
        async move { family.members(practice, &viewer).await.unwrap().into_iter().map(|m| m.patient_id.to_string()).collect::<Vec<_>>() }
    };
    use FamilyAccess::{Guarantor, SelfOnly};
    assert_eq!(sees("g", Guarantor).await, ["g", "a", "m", "s"], "the guarantor sees the family (self first, then by name)");
    assert_eq!(sees("s", Guarantor).await, ["s", "m"], "the spouse sees themself and the minor in their care");
    assert_eq!(sees("a", Guarantor).await, ["a"], "the minor's non-guardian relative sees only themself");
    assert_eq!(sees("m", Guarantor).await, ["m"]);
    assert_eq!(sees("u", Guarantor).await, ["u"], "an unrelated patient sees only themself");
    assert_eq!(sees("g", SelfOnly).await, ["g"], "familyAccess=self: the guarantor sees only themself");
    assert_eq!(sees("s", SelfOnly).await, ["s", "m"], "guardians still see their minors");
    // Resolving a requested member: others are not found, whatever exists elsewhere.
    let g = Viewer::new("g", Guarantor);
    assert_eq!(family.resolve(&practice, &g, None).await.unwrap().as_str(), "g");
    assert_eq!(family.resolve(&practice, &g, Some("m")).await.unwrap().as_str(), "m");
    for outside in ["u", "x", "nobody"] {
        assert!(matches!(family.resolve(&practice, &g, Some(outside)).await, Err(portal_core::CoreError::NotFound)), "{outside}");
    }
    let x = Viewer::new("x", Guarantor);
    assert_eq!(family.members(&other, &x).await.unwrap().len(), 1, "another practice's patient never reaches this one's family");
}

/// The read repository: typed records by patient and account, date ranges, newest first, paging,
/// and deletes that vanish from every listing.
pub(super) async fn patient_records_read_back(b: &Backend) {
    use portal_core::sync::entities::{Appointment, AppointmentStatus, LedgerEntry};
    use portal_core::sync::records::{DateRange, Order, PatientRecords};
    use portal_core::sync::Entity::{Appointments, Ledger};
    let practice = new_practice();
    for (id, start) in [("a1", "2026-01-05T09:00:00-05:00"), ("a2", "2026-02-05T21:30:00-05:00"), ("a3", "2026-03-05T09:00:00-05:00")] {
        let body = json!({"patientId": "p1", "providerId": "prov-1", "start": start, "lengthMinutes": 60, "status": "scheduled"});
        synced(b, &practice, Appointments, id, body).await;
    }
    synced(
        b,
        &practice,
        Appointments,
        "other",
        json!({"patientId": "p2", "providerId": "prov-1", "start": "2026-02-01T09:00:00Z", "lengthMinutes": 30, "status": "complete"}),
    )
    .await;
    let records = PatientRecords { db: b.db() };
    let all = records.for_patient::<Appointment>(&practice, "p1", &DateRange::all(), Order::NewestFirst, 10, None).await.unwrap();
    assert_eq!(all.records.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(), ["a3", "a2", "a1"]);
    assert_eq!(all.records[0].record.status, AppointmentStatus::Scheduled);
    // 21:30 at -05:00 on Feb 5 is Feb 6 in UTC: ranges compare in UTC.
    let feb = DateRange::parse(Some("2026-02-06"), Some("2026-02-28")).unwrap();
    let got = records.for_patient::<Appointment>(&practice, "p1", &feb, Order::OldestFirst, 10, None).await.unwrap();
    assert_eq!(got.records.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(), ["a2"]);
    // Paging: two pages of two and one.
    let p1 = records.for_patient::<Appointment>(&practice, "p1", &DateRange::all(), Order::OldestFirst, 2, None).await.unwrap();
    assert_eq!(p1.records.len(), 2);
    let p2 = records.for_patient::<Appointment>(&practice, "p1", &DateRange::all(), Order::OldestFirst, 2, p1.cursor).await.unwrap();
    assert_eq!(p2.records.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(), ["a3"]);
    // Ledger lines sit on the account (the guarantor), whoever the visit was for.
    let line = |patient: &str| json!({"patientId": patient, "guarantorId": "g", "date": "2026-01-10", "kind": "charge", "amountCents": 1000, "description": "Exam"});
    synced(b, &practice, Ledger, "l1", line("g")).await;
    synced(b, &practice, Ledger, "l2", line("kid")).await;
    let ledger = records.for_patient::<LedgerEntry>(&practice, "g", &DateRange::all(), Order::NewestFirst, 10, None).await.unwrap();
    assert_eq!(ledger.records.len(), 2);
    // A delete takes the record out of every listing and out of reach by id.
    let store = portal_core::sync::store::SyncStore { db: b.db() };
    store.delete(&practice, Appointments, "a2", "2026-06-01T00:00:00Z").await.unwrap();
    let after = records.for_patient::<Appointment>(&practice, "p1", &DateRange::all(), Order::OldestFirst, 10, None).await.unwrap();
    assert_eq!(after.records.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(), ["a1", "a3"]);
    assert!(records.get::<Appointment>(&practice, "a2").await.unwrap().is_none());
    assert!(records.get::<Appointment>(&practice, "a1").await.unwrap().is_some());
    assert!(DateRange::parse(Some("2026-03-01"), Some("2026-02-01")).is_err());
    // The practice's own records: providers by id, open slots by start.
    use portal_core::sync::entities::{Provider, Slot};
    use portal_core::sync::Entity::{Providers, Slots};
    for id in ["prov-2", "prov-1", "z-9"] {
        synced(b, &practice, Providers, id, json!({"abbreviation": "AB", "firstName": "A", "lastName": "B"})).await;
    }
    for (id, start) in [("slot-b", "2026-03-02T09:00:00Z"), ("slot-a", "2026-03-01T09:00:00Z")] {
        synced(b, &practice, Slots, id, json!({"providerId": "prov-1", "start": start, "lengthMinutes": 60})).await;
    }
    let providers = records.for_practice::<Provider>(&practice, &DateRange::all(), 10, None).await.unwrap();
    assert_eq!(providers.records.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(), ["prov-1", "prov-2", "z-9"]);
    let slots = records.for_practice::<Slot>(&practice, &DateRange::all(), 10, None).await.unwrap();
    assert_eq!(slots.records.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(), ["slot-a", "slot-b"]);
}

/// Read-your-writes under concurrent readers: once a write returns, every read sees it (the
/// embedded table answers reads from a cache that writes must invalidate, keys found absent
/// included).
pub(super) async fn reads_see_every_completed_write(b: &Backend) {
    let pk = format!("rw{}", uid());
    let t = b.table.clone();
    // A key read while absent, then written by each kind of write, is found at once.
    assert!(t.get(&pk, "counter").await.unwrap().is_none());
    assert!(t.get(&pk, "tally").await.unwrap().is_none());
    t.transact(vec![TxOp::Count { pk: pk.clone(), sk: "tally".into(), by: 2, expires_at: None }]).await.unwrap();
    assert_eq!(t.get(&pk, "tally").await.unwrap().expect("a counted key is found").data["count"], 2);
    assert!(t.get(&pk, "batched").await.unwrap().is_none());
    t.batch_put(vec![item(&pk, "batched", 1)]).await.unwrap();
    assert!(t.get(&pk, "batched").await.unwrap().is_some(), "a batch-written key read before as absent");
    let readers: Vec<_> = (0..4)
        .map(|_| {
            let (t, pk) = (t.clone(), pk.clone());
            tokio::spawn(async move {
                let mut last = 0;
                for _ in 0..40 {
                    if let Some(i) = t.get(&pk, "counter").await.unwrap() {
                        let n = i.data["n"].as_i64().unwrap();
                        assert!(n >= last, "a read went back in time: {n} after {last}");
                        last = n;
                    }
                }
            })
        })
        .collect();
    for n in 1..=20 {
        b.table.put(item(&pk, "counter", n), Cond::None).await.unwrap();
        let seen = b.table.get(&pk, "counter").await.unwrap().unwrap().data["n"].as_i64().unwrap();
        assert_eq!(seen, n, "a completed write is not visible to the next read");
    }
    b.table.delete(&pk, "counter", Cond::None).await.unwrap();
    assert!(b.table.get(&pk, "counter").await.unwrap().is_none(), "a deleted item is still read");
    for r in readers {
        r.await.unwrap();
    }
}
