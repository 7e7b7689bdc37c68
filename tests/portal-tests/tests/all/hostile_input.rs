//! Property tests of every parser of outside input, with random and mutated input: code-system
//! release records (all seven formats, either encoding), UDI strings, synced entities (a valid
//! entity with one field replaced by anything), invite templates, mail parsing, cookies and bearer
//! headers, table and audit cursors, Stripe webhook signatures and payloads. Each must answer —
//! a value or an error, an error with a stable code where the API shows it — and never panic.
//! Bounded (a few hundred cases each) so the suite stays fast.

use crate::support::pid;
use portal_core::code_systems::formats::{decode, records, FileFormat};
use portal_core::ports::Db;
use portal_core::sync::entities::{validate, Entity};
use portal_core::{CoreError, ProblemCode};
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use serde_json::{json, Value};

const FORMATS: [FileFormat; 7] = [
    FileFormat::SnomedConcepts,
    FileFormat::SnomedDescriptions,
    FileFormat::SnomedLanguage,
    FileFormat::RxnConso,
    FileFormat::Cvx,
    FileFormat::Loinc,
    FileFormat::Cdt,
];

/// The first line of each format as a release has it, to read records with.
const HEADERS: [&str; 7] = [
    "id\teffectiveTime\tactive\tmoduleId\tdefinitionStatusId",
    "id\teffectiveTime\tactive\tmoduleId\tconceptId\tlanguageCode\ttypeId\tterm\tcaseSignificanceId",
    "id\teffectiveTime\tactive\tmoduleId\trefsetId\treferencedComponentId\tacceptabilityId",
    "197361|ENG||||||2328315||||RXNORM|SCD|197361|amlodipine 5 MG Oral Tablet||N|4096|",
    "CVX Code|CVX Short Description|Full Vaccine Name",
    "\"LOINC_NUM\",\"COMPONENT\",\"STATUS\",\"SHORTNAME\",\"LONG_COMMON_NAME\"",
    "Code\tDescription",
];

/// Text made of what release files are made of (separators, quotes, digits, line breaks) and
/// anything else.
fn release_text() -> impl Strategy<Value = String> {
    prop_oneof![
        "[0-9A-Za-z\t|,\"\r\n -]{0,200}",
        any::<String>(),
        "(\"[^\"]{0,10}\"?,?){0,12}",
        "[0-9]{6,18}\t[0-9]{8}\t[01]\t[0-9]{0,18}\t[0-9]{0,18}(\t[^\t\n]{0,20}){0,6}",
    ]
}

/// Any JSON value, a few levels deep.
fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<f64>().prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        ".{0,40}".prop_map(Value::String),
        "[0-9]{4}-[0-9]{2}-[0-9]{2}(T[0-9]{2}:[0-9]{2}:[0-9]{2}Z)?".prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 24, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map("[a-zA-Z]{1,12}", inner, 0..6).prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// A valid body of each entity kind, to mutate.
fn valid_bodies() -> Vec<(Entity, Value)> {
    let today = time::OffsetDateTime::now_utc().date();
    let day = |d: i64| (today + time::Duration::days(d)).to_string();
    vec![
        (
            Entity::Patients,
            json!({"firstName": "Gale", "lastName": "Stone", "birthdate": "1980-04-02", "email": "gale@example.com", "guarantorId": "g"}),
        ),
        (
            Entity::Providers,
            json!({"abbreviation": "DDS1", "firstName": "Ann", "lastName": "Lee", "credentials": "DDS", "npi": "1234567893", "isHygienist": false}),
        ),
        (
            Entity::Appointments,
            json!({"patientId": "g", "providerId": "p", "start": format!("{}T09:00:00-05:00", day(3)), "lengthMinutes": 60, "procedures": "D1110 prophylaxis", "status": "scheduled", "confirmation": "unconfirmed"}),
        ),
        (
            Entity::Ledger,
            json!({"patientId": "g", "guarantorId": "g", "date": day(-3), "kind": "charge", "amountCents": 12000, "description": "Cleaning", "procedureCode": "D1110"}),
        ),
        (
            Entity::Clinical,
            json!({"patientId": "g", "kind": "problem", "code": {"system": "SNOMED-CT", "code": "38341003", "display": "Hypertension"}, "status": "active", "date": day(-30)}),
        ),
        (
            Entity::Clinical,
            json!({"patientId": "g", "kind": "implant", "code": {"system": "SNOMED-CT", "code": "40388003", "display": "Implant"}, "status": "active", "udi": "(01)00844588003288(17)141120(10)7654321D(21)10987654d321", "tooth": "19", "date": day(-60)}),
        ),
        (
            Entity::Coverages,
            json!({"patientId": "g", "payerName": "Lakeshore Mutual", "planType": "ppo", "memberId": "LMD1", "relationship": "self", "order": "primary"}),
        ),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn release_records_answer_or_say_why(text in release_text(), which in 0usize..7) {
        let format = FORMATS[which];
        let _ = format.reader(&text);
        let _ = format.is_header(&text);
        let reader = format.reader(HEADERS[which]).expect("each format's own first line");
        for quoted in [false, true] {
            let mut last = 0;
            for (line, record) in records(&text, quoted) {
                prop_assert!(line >= last, "line numbers only go forward");
                last = line;
                if let Err(why) = reader.parse(record) {
                    prop_assert!(!why.is_empty());
                }
            }
        }
    }

    #[test]
    fn release_bytes_decode_or_say_why(bytes in prop::collection::vec(any::<u8>(), 0..200), bom in 0usize..3) {
        let mut raw = [vec![], vec![0xFF, 0xFE], vec![0xEF, 0xBB, 0xBF]][bom].clone();
        raw.extend(bytes);
        if let Err(why) = decode(&raw) {
            prop_assert!(!why.is_empty());
        }
    }

    #[test]
    fn udi_strings_parse_or_say_why(raw in prop_oneof![any::<String>(), "(\\(0[0-9]\\)|\\(1[0-9]\\)|\\(2[0-9]\\))?[0-9A-Za-z/$+%]{0,40}", "\\+[A-Z][0-9A-Z]{3}[0-9A-Z/$+%.-]{0,30}"]) {
        if let Err(why) = portal_core::sync::entities::udi::parse(&raw) {
            prop_assert!(!why.is_empty());
        }
    }

    #[test]
    fn synced_entities_with_any_field_replaced_answer_with_a_code(which in 0usize..7, field in 0usize..8, value in any_json()) {
        let (entity, mut body) = valid_bodies().swap_remove(which);
        let keys: Vec<String> = body.as_object().unwrap().keys().cloned().collect();
        let key = keys.get(field).cloned().unwrap_or_else(|| "unexpected".into());
        body[&key] = value;
        if let Err(e) = validate(entity, "id-1", body) {
            prop_assert!(matches!(e, CoreError::Invalid { .. }), "refused as bad input, not as a failure: {e:?}");
        }
    }

    #[test]
    fn whole_entities_of_anything_answer_with_a_code(which in 0usize..7, body in any_json()) {
        let (entity, _) = valid_bodies().swap_remove(which);
        if let Err(e) = validate(entity, "id-1", body) {
            prop_assert!(matches!(e, CoreError::Invalid { .. }), "refused as bad input, not as a failure: {e:?}");
        }
    }

    #[test]
    fn invite_templates_are_checked_and_filled_without_panic(subject in ".{0,120}", body in "(.{0,20}(\\[NameF\\]|\\[PracticeName\\]|\\[URL\\]|\\[ApptDate\\]|\\[Password\\]|\\[|\\]|\\[\\[))*.{0,20}") {
        match portal_core::invites::rules::check_template(&subject, &body, "rule 1") {
            Ok((s, b)) => {
                let v = portal_core::invites::rules::TagValues {
                    first_name: "Gale", office_name: "Lakeside [URL]", office_phone: "555-0100", appt_date: "Monday",
                    appt_time: "9:00", username: "gale", password: "[Password]", portal_url: "https://portal.example.com",
                };
                let _ = portal_core::invites::rules::render(&s, &v);
                let _ = portal_core::invites::rules::render(&b, &v);
            }
            Err(e) => prop_assert!(matches!(e, CoreError::Invalid { .. }), "refused as bad input: {e:?}"),
        }
    }

    #[test]
    fn mail_is_read_without_panic(raw in prop_oneof![any::<String>(), "(Subject: .{0,30}\r\n)?(Content-Type: (text/plain|multipart/mixed; boundary=\"?b\"?)[^\r\n]{0,20}\r\n)?(Content-Transfer-Encoding: (base64|quoted-printable)\r\n)?\r\n(--b\r\n)?[ -~\r\n=]{0,200}"]) {
        let _ = portal_core::mime::text_part(&raw);
        let _ = portal_core::mime::subject(&raw);
    }

    #[test]
    fn cookies_and_bearer_headers_are_read_without_panic(cookie in "[ -~]{0,120}", auth in "[ -~]{0,120}") {
        let mut headers = http::HeaderMap::new();
        if let Ok(v) = http::HeaderValue::from_str(&cookie) {
            headers.insert(http::header::COOKIE, v);
        }
        let _ = portal_http::token_from_headers(&headers);
        if let Ok(v) = http::HeaderValue::from_str(&auth) {
            headers.insert(http::header::AUTHORIZATION, v);
        }
        let _ = portal_http::token_from_headers(&headers);
        let _ = portal_http::cookie(&headers, portal_http::DEVICE_COOKIE);
    }

    #[test]
    fn stripe_webhooks_of_anything_are_refused_without_panic(header in "[ -~]{0,160}", body in prop::collection::vec(any::<u8>(), 0..200), payload in any_json()) {
        prop_assert!(portal_stripe::verify_signature("whsec_test", &header, &body, 1_700_000_000).is_err());
        let _ = portal_stripe::charge_of(&payload);
    }
}

/// Cursors come back from clients: anything that is not one the table or the audit log gave is
/// refused as a bad cursor, never a panic or a backend error.
#[tokio::test]
async fn cursors_of_anything_are_refused() {
    use portal_core::ports::{Query, Table, TableError};
    let table = portal_embedded::SqliteTable::in_memory().unwrap();
    let audit = portal_core::audit::AuditLog { db: Db { table: &table, clock: &portal_core::ports::SystemClock } };
    let mut runner =
        proptest::test_runner::TestRunner::new(ProptestConfig { cases: 300, failure_persistence: None, ..ProptestConfig::default() });
    let cursors: Vec<String> =
        (0..300).map(|_| prop_oneof!["[A-Za-z0-9_-]{0,60}", any::<String>()].new_tree(&mut runner).unwrap().current()).collect();
    for cursor in cursors {
        for q in [Query::new("P#x"), Query::on_gsi1("P#x#FAMILY#g")] {
            match table.query(q.after(Some(cursor.clone()))).await {
                Ok(_) | Err(TableError::BadCursor) => {}
                Err(e) => panic!("{cursor:?}: {e}"),
            }
        }
        if let Err(e) = audit.search(&pid("lakeside"), &Default::default(), 10, Some(&cursor)).await {
            assert_eq!(e.code(), ProblemCode::CursorInvalid, "{cursor:?}");
        }
    }
}

/// The bodies the mutations start from are valid, so a mutation is one wrong field in an
/// otherwise good entity (what reaches the deeper checks), not a body refused at the door.
#[test]
fn the_bodies_mutated_are_valid() {
    for (entity, body) in valid_bodies() {
        if let Err(e) = validate(entity, "id-1", body.clone()) {
            panic!("{entity:?} {body}: {e}");
        }
    }
}
