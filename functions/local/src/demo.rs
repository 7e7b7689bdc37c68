//! The demo practices' data, pushed through the sync API exactly as a practice's system would:
//! signed requests, files uploaded to the presigned URLs and checked. Reproducible: the same
//! records every time, dated relative to the day of seeding (a year of history, a few upcoming).

use portal_core::sync::signing::signed_headers;
use serde_json::{json, Value};
use std::fmt::Write as _;
use time::{Date, Duration, OffsetDateTime};
use tower::ServiceExt;

/// One practice's records: (entity, id, body without lastModified), and files by (entity, id).
pub struct DemoData {
    pub records: Vec<(&'static str, String, Value)>,
    pub files: Vec<(&'static str, String, Vec<u8>)>,
}

fn d(day: Date) -> String {
    format!("{:04}-{:02}-{:02}", day.year(), day.month() as u8, day.day())
}

fn at(day: Date, hour: u8, minute: u8) -> String {
    format!("{}T{hour:02}:{minute:02}:00-05:00", d(day))
}

/// A one-page PDF (a real, minimal PDF 1.4 with a cross-reference table) saying `lines`.
pub fn pdf(lines: &[&str]) -> Vec<u8> {
    let mut text = String::from("BT /F1 12 Tf 72 720 Td 16 TL\n");
    for l in lines {
        let safe = l.replace('\\', "\\\\").replace('(', "\\(").replace(')', "\\)");
        let _ = writeln!(text, "({safe}) Tj T*");
    }
    text.push_str("ET");
    let objects = [
        "<< /Type /Catalog /Pages 2 0 R >>".to_string(),
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_string(),
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>".to_string(),
        format!("<< /Length {} >>\nstream\n{text}\nendstream", text.len()),
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>".to_string(),
    ];
    let mut out = b"%PDF-1.4\n".to_vec();
    let mut offsets = vec![];
    for (i, o) in objects.iter().enumerate() {
        offsets.push(out.len());
        out.extend(format!("{} 0 obj\n{o}\nendobj\n", i + 1).as_bytes());
    }
    let xref = out.len();
    out.extend(format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1).as_bytes());
    for off in offsets {
        out.extend(format!("{off:010} 00000 n \n").as_bytes());
    }
    out.extend(format!("trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n", objects.len() + 1).as_bytes());
    out
}

/// A small grey-scale PNG (a radiograph stand-in): stored (uncompressed) deflate blocks.
pub fn png(width: u32, height: u32, shade: impl Fn(u32, u32) -> u8) -> Vec<u8> {
    let mut raw = vec![];
    for y in 0..height {
        raw.push(0); // filter: none
        raw.extend((0..width).map(|x| shade(x, y)));
    }
    let mut zlib = vec![0x78, 0x01];
    for (i, chunk) in raw.chunks(65535).enumerate() {
        let last = (i + 1) * 65535 >= raw.len();
        zlib.push(last as u8);
        zlib.extend((chunk.len() as u16).to_le_bytes());
        zlib.extend((!(chunk.len() as u16)).to_le_bytes());
        zlib.extend(chunk);
    }
    let (mut a, mut b) = (1u32, 0u32);
    for &x in &raw {
        a = (a + x as u32) % 65521;
        b = (b + a) % 65521;
    }
    zlib.extend(((b << 16) | a).to_be_bytes());
    let chunk = |kind: &[u8], data: &[u8]| {
        let mut c = (data.len() as u32).to_be_bytes().to_vec();
        c.extend(kind);
        c.extend(data);
        c.extend(crc32fast::hash(&[kind, data].concat()).to_be_bytes());
        c
    };
    let mut ihdr = width.to_be_bytes().to_vec();
    ihdr.extend(height.to_be_bytes());
    ihdr.extend([8, 0, 0, 0, 0]); // 8-bit grey
    [b"\x89PNG\r\n\x1a\n".to_vec(), chunk(b"IHDR", &ihdr), chunk(b"IDAT", &zlib), chunk(b"IEND", &[])].concat()
}

fn file_meta(content_type: &str, bytes: &[u8], name: &str) -> Value {
    json!({ "contentType": content_type, "size": bytes.len(), "fileName": name })
}

/// Lakeside: the Morgan family (guarantor, spouse, a teenager and a child, both minors with
/// guardians), three single patients, three providers, a year of visits, a balance, two
/// statements, a crown plan, coded clinical data, shared and unshared documents.
pub fn lakeside(today: Date) -> DemoData {
    let mut r: Vec<(&'static str, String, Value)> = vec![];
    let mut files = vec![];
    let day = |offset: i64| today + Duration::days(offset);
    for (id, abbr, first, last, cred, npi, hyg, staff) in [
        ("prov-1", "MC", "Maya", "Chen", "DDS", "1234567893", false, vec!["frontdesk"]),
        ("prov-2", "SO", "Samuel", "Okafor", "DMD", "1245319599", false, vec![]),
        ("prov-3", "PR", "Priya", "Raman", "RDH", "1679576722", true, vec![]),
    ] {
        r.push(("providers", id.into(), json!({"abbreviation": abbr, "firstName": first, "lastName": last, "credentials": cred, "npi": npi, "isHygienist": hyg, "staffUsernames": staff})));
    }
    let home = json!({"line1": "41 Harbor View Rd", "city": "Lakeside", "state": "MI", "postalCode": "49116", "country": "US"});
    let family = ["pat-1001", "pat-1003", "pat-1004", "pat-1005"];
    let others = |me: &str| family.iter().filter(|f| **f != me).map(|f| f.to_string()).collect::<Vec<_>>();
    r.push(("patients", "pat-1001".into(), json!({"firstName": "Alex", "lastName": "Morgan", "birthdate": "1984-03-09", "address": home, "phones": [{"kind": "mobile", "number": "(269) 555-0143"}], "email": "alex.morgan@example.com", "preferredLanguage": "en", "familyIds": others("pat-1001"), "primaryProviderId": "prov-1",
        "sex": "male", "birthSex": "male", "race": {"categories": ["2106-3", "2028-9"], "detailed": [{"code": "2108-9", "display": "European"}, {"code": "2039-6", "display": "Japanese"}]}, "ethnicity": {"categories": ["2186-5"]}})));
    r.push(("patients", "pat-1003".into(), json!({"firstName": "Jamie", "lastName": "Morgan", "birthdate": "1986-07-22", "address": home, "phones": [{"kind": "mobile", "number": "(269) 555-0178"}], "email": "jamie.morgan@example.com", "preferredLanguage": "en", "guarantorId": "pat-1001", "familyIds": others("pat-1003"), "primaryProviderId": "prov-1", "optOuts": {"text": true},
        "sex": "female", "birthSex": "female", "race": {"categories": ["2054-5"]}, "ethnicity": {"categories": ["2135-2"], "detailed": [{"code": "2148-5", "display": "Mexican"}]}})));
    let teen_birth = format!("{}-05-14", today.year() - 16);
    let child_birth = format!("{}-10-02", today.year() - 9);
    r.push(("patients", "pat-1004".into(), json!({"firstName": "Riley", "lastName": "Morgan", "birthdate": teen_birth, "address": home, "guarantorId": "pat-1001", "familyIds": others("pat-1004"), "isMinor": true, "guardians": [{"patientId": "pat-1001", "relationship": "parent"}, {"patientId": "pat-1003", "relationship": "parent"}], "primaryProviderId": "prov-2",
        "sex": "other", "birthSex": "declined", "race": {"declined": true}, "ethnicity": {"declined": true}})));
    r.push(("patients", "pat-1005".into(), json!({"firstName": "Avery", "lastName": "Morgan", "birthdate": child_birth, "address": home, "guarantorId": "pat-1001", "familyIds": others("pat-1005"), "isMinor": true, "guardians": [{"patientId": "pat-1003", "relationship": "mother"}], "primaryProviderId": "prov-2"})));
    r.push(("patients", "pat-1002".into(), json!({"firstName": "Sam", "lastName": "Rivera", "birthdate": "1991-11-30", "address": {"line1": "12 Elm St", "line2": "Apt 4", "city": "Lakeside", "state": "MI", "postalCode": "49116"}, "phones": [{"kind": "mobile", "number": "269-555-0110"}], "email": "sam.rivera@example.com", "preferredLanguage": "es", "primaryProviderId": "prov-2",
        "race": {"detailed": [{"code": "2029-7", "display": "Asian Indian"}]}})));
    r.push(("patients", "pat-1006".into(), json!({"firstName": "Dana", "lastName": "Whitfield", "birthdate": "1958-02-17", "phones": [{"kind": "home", "number": "269-555-0199"}], "email": "dana.whitfield@example.com", "primaryProviderId": "prov-1", "optOuts": {"portalInvites": true}})));
    // Eligible for portal access and without a login yet: the one staff give access to in the demo.
    r.push(("patients", "pat-1008".into(), json!({"firstName": "Taylor", "lastName": "Brooks", "birthdate": "1990-06-14", "address": {"line1": "88 Harbor Rd", "city": "Lakeside", "state": "MI", "postalCode": "49116"}, "phones": [{"kind": "home", "number": "269-555-0122"}], "email": "taylor.brooks@example.com", "primaryProviderId": "prov-3"})));
    r.push(("patients", "pat-1007".into(), json!({"firstName": "Luis", "lastName": "Ortega", "birthdate": "1975-09-05", "email": "luis.ortega@example.com", "preferredLanguage": "es", "primaryProviderId": "prov-2"})));

    // A year of visits: cleanings every six months for the family, plus Alex's crown work.
    let mut n = 0;
    let mut appt = |r: &mut Vec<(&'static str, String, Value)>,
                    patient: &str,
                    provider: &str,
                    when: String,
                    minutes: u32,
                    procedures: &str,
                    status: &str,
                    confirmation: &str,
                    pending: bool| {
        n += 1;
        r.push(("appointments", format!("apt-{n:04}"), json!({"patientId": patient, "providerId": provider, "start": when, "lengthMinutes": minutes, "procedures": procedures, "status": status, "confirmation": confirmation, "eConfirmationPending": pending, "operatory": "OP 2"})));
    };
    for (i, p) in family.iter().enumerate() {
        let h = 8 + i as u8;
        appt(
            &mut r,
            p,
            "prov-3",
            at(day(-360 + i as i64), h, 0),
            60,
            "D0120 periodic exam, D1110 prophylaxis, D0274 bitewings",
            "complete",
            "confirmed",
            false,
        );
        appt(
            &mut r,
            p,
            "prov-3",
            at(day(-180 + i as i64), h, 30),
            60,
            "D0120 periodic exam, D1110 prophylaxis",
            "complete",
            "confirmed",
            false,
        );
    }
    appt(&mut r, "pat-1001", "prov-1", at(day(-45), 10, 0), 90, "D2950 core buildup, D2740 crown prep #30", "complete", "confirmed", false);
    appt(&mut r, "pat-1001", "prov-1", at(day(-120), 14, 0), 30, "D0140 limited exam", "broken", "confirmed", false);
    appt(&mut r, "pat-1001", "prov-1", at(day(9), 9, 0), 60, "D2740 crown seat #30", "scheduled", "unconfirmed", true);
    appt(&mut r, "pat-1003", "prov-3", at(day(12), 11, 0), 60, "D0120 periodic exam, D1110 prophylaxis", "scheduled", "confirmed", false);
    appt(
        &mut r,
        "pat-1002",
        "prov-2",
        at(day(-200), 15, 0),
        60,
        "D0150 comprehensive exam, D0210 full-mouth X-rays",
        "complete",
        "confirmed",
        false,
    );
    appt(&mut r, "pat-1006", "prov-1", at(day(21), 8, 30), 45, "D4910 periodontal maintenance", "scheduled", "unconfirmed", false);

    // Due recalls (Sam's, and Riley's for the guarantor to book) with open slots to book them in.
    r.push((
        "recalls",
        "rc-1002".into(),
        json!({"patientId": "pat-1002", "type": "Prophy", "dueDate": d(day(-10)), "status": "due", "intervalMonths": 6}),
    ));
    r.push((
        "recalls",
        "rc-1004".into(),
        json!({"patientId": "pat-1004", "type": "Prophy", "dueDate": d(day(-3)), "status": "due", "intervalMonths": 6}),
    ));
    r.push((
        "recalls",
        "rc-1001".into(),
        json!({"patientId": "pat-1001", "type": "Prophy", "dueDate": d(day(60)), "status": "scheduled", "intervalMonths": 6}),
    ));
    for (i, (offset, h)) in [(3, 9), (3, 13), (5, 10), (8, 15)].iter().enumerate() {
        r.push(("slots", format!("slot-{}", i + 1), json!({"providerId": "prov-3", "start": at(day(*offset), *h, 0), "lengthMinutes": 60, "recallTypes": ["Prophy", "Perio"], "operatory": "OP 3"})));
    }

    // The family ledger: visits, insurance, payments; a balance of $412.00.
    let mut l = 0;
    let mut ledger = |r: &mut Vec<(&'static str, String, Value)>,
                      patient: &str,
                      offset: i64,
                      kind: &str,
                      cents: i64,
                      desc: &str,
                      code: Option<&str>| {
        l += 1;
        r.push(("ledger", format!("led-{l:04}"), json!({"patientId": patient, "guarantorId": "pat-1001", "date": d(day(offset)), "kind": kind, "amountCents": cents, "description": desc, "procedureCode": code, "providerId": "prov-1"})));
    };
    ledger(&mut r, "pat-1001", -360, "charge", 11500, "Prophylaxis - adult", Some("D1110"));
    ledger(&mut r, "pat-1001", -340, "insurance-payment", -11500, "Lakeshore Mutual payment", None);
    ledger(&mut r, "pat-1004", -180, "charge", 9800, "Prophylaxis - child", Some("D1120"));
    ledger(&mut r, "pat-1004", -165, "insurance-payment", -9800, "Lakeshore Mutual payment", None);
    ledger(&mut r, "pat-1001", -45, "charge", 28500, "Core buildup", Some("D2950"));
    ledger(&mut r, "pat-1001", -45, "charge", 120000, "Crown - porcelain/ceramic #30", Some("D2740"));
    ledger(&mut r, "pat-1001", -30, "insurance-payment", -74300, "Lakeshore Mutual payment", None);
    ledger(&mut r, "pat-1001", -20, "adjustment", -3000, "Courtesy adjustment", None);
    ledger(&mut r, "pat-1001", -15, "payment", -30000, "Payment - card", None);
    ledger(&mut r, "pat-1001", -10, "insurance-estimate", 12000, "Pending claim estimate", None);

    for (i, (offset, balance)) in [(-60, 0i64), (-5, 41200)].iter().enumerate() {
        let date = d(day(*offset));
        let bytes = pdf(&[
            "Lakeside Family Dental",
            "Statement for the Morgan family",
            &format!("Statement date: {date}"),
            &format!("Balance due: ${}.{:02}", balance / 100, balance % 100),
        ]);
        let id = format!("stmt-{}", i + 1);
        r.push(("statements", id.clone(), json!({"guarantorId": "pat-1001", "date": date, "balanceCents": balance, "file": file_meta("application/pdf", &bytes, &format!("statement-{date}.pdf"))})));
        files.push(("statements", id, bytes));
    }

    r.push(("treatment-plans", "tp-1".into(), json!({"patientId": "pat-1001", "heading": "Crown #30 and cleaning", "date": d(day(-50)), "status": "active", "note": "Crown recommended after fracture of the mesial cusp.", "procedures": [
        {"cdtCode": "D2950", "description": "Core buildup, including any pins", "tooth": "30", "feeCents": 28500, "insuranceEstimateCents": 14250, "patientPortionCents": 14250, "priority": 1, "status": "complete"},
        {"cdtCode": "D2740", "description": "Crown - porcelain/ceramic", "tooth": "30", "feeCents": 120000, "insuranceEstimateCents": 60050, "patientPortionCents": 59950, "priority": 1, "status": "scheduled"},
        {"cdtCode": "D2391", "description": "Resin-based composite - one surface, posterior", "tooth": "19", "surface": "O", "feeCents": 18000, "insuranceEstimateCents": 14400, "patientPortionCents": 3600, "priority": 2, "status": "planned"},
        {"cdtCode": "D1110", "description": "Prophylaxis - adult", "feeCents": 11500, "insuranceEstimateCents": 11500, "patientPortionCents": 0, "priority": 3, "status": "planned"}]})));

    // Clinical data with real codes (SNOMED CT, RxNorm, CVX, LOINC).
    let mut c = 0;
    let mut clin = |r: &mut Vec<(&'static str, String, Value)>, patient: &str, body: Value| {
        c += 1;
        let mut b = body;
        b["patientId"] = json!(patient);
        r.push(("clinical", format!("cl-{c:04}"), b));
    };
    clin(
        &mut r,
        "pat-1001",
        json!({"kind": "problem", "code": {"system": "SNOMED-CT", "code": "38341003", "display": "Hypertensive disorder"}, "status": "active", "date": "2019-04-02"}),
    );
    clin(
        &mut r,
        "pat-1001",
        json!({"kind": "problem", "code": {"system": "SNOMED-CT", "code": "80967001", "display": "Dental caries"}, "status": "resolved", "date": d(day(-50)), "endDate": d(day(-45))}),
    );
    clin(
        &mut r,
        "pat-1001",
        json!({"kind": "medication", "code": {"system": "RxNorm", "code": "197361", "display": "Amlodipine 5 MG Oral Tablet"}, "status": "active", "date": "2019-04-02", "note": "One tablet daily",
            "dose": {"value": "1", "unit": "1"}, "route": "oral"}),
    );
    clin(
        &mut r,
        "pat-1001",
        json!({"kind": "allergy", "code": {"system": "RxNorm", "code": "7980", "display": "Penicillin G"}, "status": "active", "date": "2001-06-15", "note": "Hives"}),
    );
    clin(
        &mut r,
        "pat-1001",
        json!({"kind": "immunization", "code": {"system": "CVX", "code": "140", "display": "Influenza, seasonal, injectable, preservative free"}, "status": "completed", "date": d(day(-70)),
            "dose": {"value": "0.5", "unit": "mL"}, "route": "intramuscular"}),
    );
    clin(
        &mut r,
        "pat-1001",
        json!({"kind": "vital-sign", "code": {"system": "LOINC", "code": "8480-6", "display": "Systolic blood pressure"}, "value": "128", "unit": "mm[Hg]", "date": d(day(-45))}),
    );
    clin(
        &mut r,
        "pat-1001",
        json!({"kind": "vital-sign", "code": {"system": "LOINC", "code": "8462-4", "display": "Diastolic blood pressure"}, "value": "82", "unit": "mm[Hg]", "date": d(day(-45))}),
    );
    clin(
        &mut r,
        "pat-1003",
        json!({"kind": "problem", "code": {"system": "SNOMED-CT", "code": "195967001", "display": "Asthma"}, "status": "active", "date": "2012-09-10"}),
    );
    // A dental implant at #19, with the UDI its label prints (GS1).
    clin(
        &mut r,
        "pat-1001",
        json!({"kind": "implant", "code": {"system": "SNOMED-CT", "code": "40388003", "display": "Implant"}, "status": "active", "date": d(day(-200)),
            "udi": "(01)00844588003288(17)290630(10)ALX2024(21)SN4471902", "tooth": "19", "note": "Endosseous implant, 4.1 x 10 mm"}),
    );
    // A food allergy coded in SNOMED CT (the substance), and a lab result before the implant.
    clin(
        &mut r,
        "pat-1001",
        json!({"kind": "allergy", "code": {"system": "SNOMED-CT", "code": "256349002", "display": "Peanut"}, "status": "active", "date": "1990-05-01", "note": "Swelling of the lips"}),
    );
    clin(
        &mut r,
        "pat-1001",
        json!({"kind": "result", "code": {"system": "LOINC", "code": "4548-4", "display": "Hemoglobin A1c/Hemoglobin.total in Blood"}, "value": "5.4", "unit": "%", "date": d(day(-210))}),
    );
    // Dental insurance: Alex's own plan covers Jamie and the children through Alex.
    let mut plan = |id: &str, patient: &str, relationship: &str| {
        let mut body = json!({"patientId": patient, "payerName": "Lakeshore Mutual Dental", "payerId": "LMD01", "planType": "ppo", "planName": "Lakeshore Dental PPO",
            "memberId": "LMD448120", "groupNumber": "GRP-7730", "relationship": relationship, "order": "primary", "startDate": "2021-01-01"});
        if relationship != "self" {
            body["subscriberName"] = "Alex Morgan".into();
        }
        r.push(("coverages", id.to_string(), body));
    };
    plan("cov-1", "pat-1001", "self");
    plan("cov-2", "pat-1003", "spouse");
    plan("cov-3", "pat-1004", "child");
    plan("cov-4", "pat-1005", "child");
    // Goals and health concerns: in the dentist's words, or coded.
    clin(
        &mut r,
        "pat-1001",
        json!({"kind": "goal", "note": "Keep tooth #30 healthy after its crown", "status": "active", "date": d(day(-45))}),
    );
    clin(
        &mut r,
        "pat-1001",
        json!({"kind": "health-concern", "code": {"system": "SNOMED-CT", "code": "38341003", "display": "Hypertensive disorder"}, "status": "active", "date": d(day(-45)),
            "note": "Check blood pressure before any surgery"}),
    );
    clin(
        &mut r,
        "pat-1003",
        json!({"kind": "health-concern", "note": "Bleeding gums when brushing", "status": "active", "date": d(day(-200))}),
    );
    // Asked at the periodontal exams: a former smoker, and (now) the status of the last one.
    clin(
        &mut r,
        "pat-1001",
        json!({"kind": "smoking-status", "code": {"system": "SNOMED-CT", "code": "8517006", "display": "Ex-smoker"}, "date": d(day(-45))}),
    );
    clin(
        &mut r,
        "pat-1003",
        json!({"kind": "smoking-status", "code": {"system": "SNOMED-CT", "code": "266919005", "display": "Never smoked tobacco"}, "date": d(day(-200))}),
    );
    clin(
        &mut r,
        "pat-1003",
        json!({"kind": "medication", "code": {"system": "RxNorm", "code": "745679", "display": "Albuterol 0.09 MG/ACTUAT Metered Dose Inhaler"}, "status": "active", "date": "2012-09-10",
            "dose": {"value": "2", "unit": "1"}, "route": "inhalation"}),
    );
    clin(
        &mut r,
        "pat-1004",
        json!({"kind": "immunization", "code": {"system": "CVX", "code": "62", "display": "HPV, quadrivalent"}, "status": "completed", "date": d(day(-300))}),
    );
    clin(
        &mut r,
        "pat-1006",
        json!({"kind": "result", "code": {"system": "LOINC", "code": "4548-4", "display": "Hemoglobin A1c/Hemoglobin.total in Blood"}, "value": "6.1", "unit": "%", "date": d(day(-90))}),
    );

    // Documents: two shared to the portal, one kept in an internal folder.
    let xray = png(96, 64, |x, y| ((x * 2 + y) % 200 + 30) as u8);
    let postop = pdf(&[
        "Lakeside Family Dental",
        "After your crown preparation",
        "Avoid sticky foods on the temporary crown.",
        "Call us if it comes loose.",
    ]);
    let internal = pdf(&["Internal note: insurance narrative for tooth #30"]);
    for (id, folder, shared, title, ct, bytes, name) in [
        ("doc-1", "Patient Portal", true, "Bitewing radiographs", "image/png", xray, "bitewings.png"),
        ("doc-2", "Patient Portal", true, "After your crown preparation", "application/pdf", postop, "crown-prep-instructions.pdf"),
        ("doc-3", "Insurance", false, "Narrative for claim", "application/pdf", internal, "narrative.pdf"),
    ] {
        r.push(("documents", id.into(), json!({"patientId": "pat-1001", "folder": folder, "sharedToPortal": shared, "title": title, "date": d(day(-45)), "file": file_meta(ct, &bytes, name)})));
        files.push(("documents", id.to_string(), bytes));
    }
    DemoData { records: r, files }
}

/// Hillcrest: a smaller practice, so tenancy is visible.
pub fn hillcrest(today: Date) -> DemoData {
    let day = |offset: i64| today + Duration::days(offset);
    let records = vec![
        ("providers", "hp-1".to_string(), json!({"abbreviation": "EW", "firstName": "Elena", "lastName": "Walsh", "credentials": "DDS"})),
        (
            "patients",
            "pat-2001".to_string(),
            json!({"firstName": "Jordan", "lastName": "Lee", "birthdate": "1979-12-01", "email": "jordan.lee@example.com", "primaryProviderId": "hp-1",
                "sex": "female", "birthSex": "female", "race": {"categories": ["1002-5"]}, "ethnicity": {"categories": ["2186-5"]}}),
        ),
        (
            "patients",
            "pat-2002".to_string(),
            json!({"firstName": "Casey", "lastName": "Kim", "birthdate": "1995-04-18", "email": "casey.kim@example.com", "primaryProviderId": "hp-1"}),
        ),
        (
            "appointments",
            "hapt-1".to_string(),
            json!({"patientId": "pat-2001", "providerId": "hp-1", "start": at(day(-90), 10, 0), "lengthMinutes": 60, "procedures": "D0120, D1110", "status": "complete", "confirmation": "confirmed"}),
        ),
        (
            "appointments",
            "hapt-2".to_string(),
            json!({"patientId": "pat-2001", "providerId": "hp-1", "start": at(day(14), 10, 0), "lengthMinutes": 60, "procedures": "D0120, D1110", "status": "scheduled", "eConfirmationPending": true}),
        ),
        (
            "ledger",
            "hled-1".to_string(),
            json!({"patientId": "pat-2001", "date": d(day(-90)), "kind": "charge", "amountCents": 11500, "description": "Prophylaxis - adult", "procedureCode": "D1110"}),
        ),
        // Jordan's implant at #8 (its label's UDI is HIBCC) and smoking status.
        (
            "clinical",
            "hcl-1".to_string(),
            json!({"patientId": "pat-2001", "kind": "implant", "code": {"system": "SNOMED-CT", "code": "40388003", "display": "Implant"}, "status": "active",
                "date": d(day(-400)), "udi": "+H724IMPL4100R1/$$3290315L2291/S00417G", "tooth": "8"}),
        ),
        (
            "coverages",
            "hcov-1".to_string(),
            json!({"patientId": "pat-2001", "payerName": "State Dental Medicaid", "planType": "medicaid", "memberId": "MD-2201-883", "relationship": "self", "order": "primary"}),
        ),
        (
            "clinical",
            "hcl-3".to_string(),
            json!({"patientId": "pat-2001", "kind": "goal", "note": "Stop smoking before the implant is restored", "status": "active", "date": d(day(-90))}),
        ),
        (
            "clinical",
            "hcl-2".to_string(),
            json!({"patientId": "pat-2001", "kind": "smoking-status", "code": {"system": "SNOMED-CT", "code": "428041000124106", "display": "Occasional tobacco smoker"}, "date": d(day(-90))}),
        ),
    ];
    DemoData { records, files: vec![] }
}

/// Sends `data` through the sync API of `app` with the practice's key, addressed to `host`, as
/// the practice's system would. Any refusal is an error naming what was refused: the demo must
/// be valid, and a change that breaks it must fail the start (and the tests) loudly.
pub async fn push(app: &axum::Router, host: &str, key_id: &str, secret: &str, data: DemoData, stamp: OffsetDateTime) -> Result<(), String> {
    let last_modified = stamp.format(&time::format_description::well_known::Rfc3339).map_err(|e| e.to_string())?;
    for chunk in data.records.chunks(portal_core::sync::service::MAX_BATCH) {
        let items: Vec<Value> = chunk
            .iter()
            .map(|(entity, id, body)| {
                let mut b = body.clone();
                b["lastModified"] = json!(last_modified);
                json!({"op": "upsert", "entity": entity, "id": id, "body": b})
            })
            .collect();
        let (status, out) = call(app, host, key_id, secret, "POST", "/v1/sync/batch", Some(json!({ "items": items }))).await;
        if status != 200 || out["summary"]["rejected"] != 0 {
            return Err(format!("demo batch refused ({status}): {out}"));
        }
        // Upload each new file to its presigned URL, then have it checked.
        for r in out["results"].as_array().into_iter().flatten() {
            let Some(url) = r["upload"]["url"].as_str() else { continue };
            let (entity, id) = (r["entity"].as_str().unwrap_or(""), r["id"].as_str().unwrap_or(""));
            let bytes = data
                .files
                .iter()
                .find(|(e, i, _)| *e == entity && i == id)
                .map(|f| f.2.clone())
                .ok_or(format!("no demo file for {entity}/{id}"))?;
            let target = url.split_once("/_local/").map(|(_, rest)| format!("/_local/{rest}")).ok_or("unexpected upload URL")?;
            let ct = r["upload"]["headers"]["Content-Type"].as_str().unwrap_or("").to_string();
            let req = http::Request::put(target)
                .header("host", host)
                .header("content-type", ct)
                .body(axum::body::Body::from(bytes))
                .map_err(|e| e.to_string())?;
            let Ok(res) = app.clone().oneshot(req).await;
            if !res.status().is_success() {
                return Err(format!("demo upload of {entity}/{id} refused: {}", res.status()));
            }
            let (status, out) = call(app, host, key_id, secret, "POST", &format!("/v1/sync/{entity}/{id}/uploaded"), None).await;
            if status != 200 {
                return Err(format!("demo file {entity}/{id} refused: {out}"));
            }
        }
    }
    Ok(())
}

async fn call(app: &axum::Router, host: &str, key_id: &str, secret: &str, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
    let raw = body.map(|b| b.to_string()).unwrap_or_default();
    let mut req = http::Request::builder().method(method).uri(path).header("host", host);
    for (name, value) in signed_headers(key_id, secret, method, path, &[], raw.as_bytes(), portal_core::ports::unix_now()) {
        req = req.header(name, value);
    }
    if !raw.is_empty() {
        req = req.header("content-type", "application/json");
    }
    let Ok(req) = req.body(axum::body::Body::from(raw)) else { return (0, Value::Null) };
    let Ok(res) = app.clone().oneshot(req).await;
    let status = res.status().as_u16();
    let bytes = axum::body::to_bytes(res.into_body(), 8 << 20).await.unwrap_or_default();
    (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
}

/// The code-system releases in each demo practice's release location, ready for staff to import:
/// small files in the exact release formats (SNOMED CT RF2 with CRLF lines and the US English
/// language refset, RxNorm RRF, the CDC's CVX list in UTF-16LE with a byte-order mark, LOINC's
/// quoted `Loinc.csv` with a line break inside a field) holding real codes with valid check
/// digits, and a practice's own CDT list in its words (tab-separated, as a spreadsheet saves it).
pub const RELEASES: [(&str, &[u8]); 7] = [
    (
        "SnomedCT_InternationalRF2_PRODUCTION_20250101T120000Z/Snapshot/Terminology/sct2_Concept_Snapshot_INT_20250101.txt",
        include_bytes!("../demo-releases/SnomedCT_InternationalRF2_PRODUCTION_20250101T120000Z/Snapshot/Terminology/sct2_Concept_Snapshot_INT_20250101.txt"),
    ),
    (
        "SnomedCT_InternationalRF2_PRODUCTION_20250101T120000Z/Snapshot/Terminology/sct2_Description_Snapshot-en_INT_20250101.txt",
        include_bytes!("../demo-releases/SnomedCT_InternationalRF2_PRODUCTION_20250101T120000Z/Snapshot/Terminology/sct2_Description_Snapshot-en_INT_20250101.txt"),
    ),
    (
        "SnomedCT_InternationalRF2_PRODUCTION_20250101T120000Z/Snapshot/Refset/Language/der2_cRefset_LanguageSnapshot-en_INT_20250101.txt",
        include_bytes!("../demo-releases/SnomedCT_InternationalRF2_PRODUCTION_20250101T120000Z/Snapshot/Refset/Language/der2_cRefset_LanguageSnapshot-en_INT_20250101.txt"),
    ),
    ("RxNorm_full_11032025/rrf/RXNCONSO.RRF", include_bytes!("../demo-releases/RxNorm_full_11032025/rrf/RXNCONSO.RRF")),
    ("cvx-20251001/cvx.txt", include_bytes!("../demo-releases/cvx-20251001/cvx.txt")),
    ("Loinc_2.80/LoincTable/Loinc.csv", include_bytes!("../demo-releases/Loinc_2.80/LoincTable/Loinc.csv")),
    ("cdt-2026/cdt_codes.txt", include_bytes!("../demo-releases/cdt-2026/cdt_codes.txt")),
];

#[cfg(test)]
mod tests {
    #[test]
    fn generated_files_are_what_they_claim() {
        let pdf = super::pdf(&["Hello (world)"]);
        assert!(pdf.starts_with(b"%PDF-1.4") && pdf.ends_with(b"%%EOF\n"));
        let xref = String::from_utf8_lossy(&pdf);
        let start: usize = xref.rsplit("startxref\n").next().unwrap().lines().next().unwrap().parse().unwrap();
        assert!(pdf[start..].starts_with(b"xref"));
        let png = super::png(3, 2, |x, y| (x + y) as u8);
        assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"));
        assert!(png.ends_with(&[0, 0, 0, 0, b'I', b'E', b'N', b'D', 0xAE, 0x42, 0x60, 0x82]), "IEND and its CRC");
    }
}
