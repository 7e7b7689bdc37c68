//! The audit log's seals on each backend: what was changed, added or removed after a day was
//! sealed is named.

use super::*;

/// The audit log's seals on either backend: ended days are sealed once (an empty day too), the
/// sealed log verifies as intact, and an entry altered, deleted or added after its day was sealed,
/// or a seal deleted, is named by the check; put back, the log is intact again.
pub(super) async fn audit_seals_name_what_changed(b: &Backend) {
    use portal_core::audit::seal::{AuditSeals, TamperKind};
    use portal_core::audit::{Actor, ActorKind, AuditAction, AuditLog, Outcome};
    let practice = new_practice();
    let settings = portal_core::practice::settings::PracticeSettings::new("Seal Dental", vec![]);
    portal_core::practice::settings::SettingsRepo { db: b.db() }.create(&practice, &settings).await.unwrap();
    // Noon today (UTC): three days back has five entries, two days back three, yesterday none.
    let noon = now().div_euclid(86_400) * 86_400 + 43_200;
    let clock = ManualClock::new(noon - 3 * 86_400);
    let log = AuditLog { db: b.db_with(&clock) };
    let actor = Actor::new(&practice, ActorKind::Patient, "g", Some("192.0.2.1"));
    for (days_ago, n) in [(3, 5), (2, 3), (0, 1)] {
        clock.set(noon - days_ago * 86_400);
        for i in 0..n {
            clock.advance(i);
            log.record(&actor, AuditAction::AccountLedgerRead, "g", Outcome::Success, json!({ "n": i })).await.unwrap();
        }
    }
    let seals = AuditSeals { db: b.db_with(&clock) };
    let sealed = seals.seal(&practice).await.unwrap();
    assert_eq!(sealed.iter().map(|s| s.entries).collect::<Vec<_>>(), [5, 3, 0], "three ended days, today not yet");
    assert!(seals.seal(&practice).await.unwrap().is_empty(), "a day is sealed once");
    let intact = seals.verify(&practice, None).await.unwrap();
    assert_eq!((intact.problem, intact.days, intact.entries), (None, 3, 8));
    assert_eq!(intact.intact_through.as_deref(), Some(sealed[2].day.as_str()));
    assert_eq!(intact.head.as_deref(), Some(sealed[2].head.as_str()));

    let entries = query_all(b.table.as_ref(), Query::new(portal_core::table_keys::audit(&practice))).await.unwrap();
    let problem = || async { seals.verify(&practice, None).await.unwrap().problem.expect("a change is found") };
    // Altered: a reason written into a sealed entry two days back.
    let original = entries[6].clone();
    let mut altered = original.clone();
    Arc::make_mut(&mut altered.data)["outcome"] = json!("denied");
    b.table.put(altered, Cond::None).await.unwrap();
    let found = problem().await;
    assert_eq!(
        (found.kind, found.day.as_str(), found.entry.as_deref()),
        (TamperKind::Altered, sealed[1].day.as_str(), Some(original.sk.as_str()))
    );
    assert_eq!(found.action.as_deref(), Some("account.ledger.read"));
    b.table.put(original.clone(), Cond::None).await.unwrap();
    assert_eq!(seals.verify(&practice, None).await.unwrap().problem, None, "put back, intact again");
    // Missing: an entry three days back deleted.
    b.table.delete(&entries[2].pk, &entries[2].sk, Cond::None).await.unwrap();
    let found = problem().await;
    assert_eq!(
        (found.kind, found.day.as_str(), found.entry.as_deref()),
        (TamperKind::Missing, sealed[0].day.as_str(), Some(entries[2].sk.as_str()))
    );
    assert_eq!(found.at, Some(noon - 3 * 86_400 + 1 + 2), "named by when it was written");
    b.table.put(entries[2].clone(), Cond::None).await.unwrap();
    // Inserted: an entry slipped into yesterday, which was sealed empty.
    clock.set(noon - 86_400);
    log.record(&actor, AuditAction::ProfileRead, "g", Outcome::Success, json!({})).await.unwrap();
    let found = problem().await;
    assert_eq!(
        (found.kind, found.day.as_str(), found.action.as_deref()),
        (TamperKind::Inserted, sealed[2].day.as_str(), Some("profile.read"))
    );
    let slipped = found.entry.unwrap();
    b.table.delete(&portal_core::table_keys::audit(&practice), &slipped, Cond::None).await.unwrap();
    // A seal deleted to hide a change: the chain names the day whose seal is gone.
    let seal_of = |day: &str| (portal_core::table_keys::audit_seals(&practice), day.to_string());
    let (pk, sk) = seal_of(&sealed[1].day);
    let seal = b.table.get(&pk, &sk).await.unwrap().unwrap();
    b.table.delete(&pk, &sk, Cond::None).await.unwrap();
    let found = problem().await;
    assert_eq!((found.kind, found.day.as_str()), (TamperKind::SealMissing, sealed[1].day.as_str()));
    // … or rewritten with another head: it no longer matches its own digests.
    let mut forged = seal.clone();
    Arc::make_mut(&mut forged.data)["head"] = json!("0".repeat(64));
    b.table.put(forged, Cond::None).await.unwrap();
    let found = problem().await;
    assert_eq!((found.kind, found.day.as_str()), (TamperKind::SealAltered, sealed[1].day.as_str()));
    b.table.put(seal, Cond::None).await.unwrap();
    assert_eq!(seals.verify(&practice, None).await.unwrap().problem, None);
}
