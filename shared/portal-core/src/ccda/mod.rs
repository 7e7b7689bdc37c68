//! The care summary's content (`summary`) as a C-CDA R2.1 Continuity of Care Document (`document`), its human-readable
//! HTML rendering (`html`) and both in one zip (`package`). The document carries the US Realm
//! Header and CCD template ids (R2.1, `2015-08-01`), every section a CCD requires (a section with
//! nothing in it says so with `nullFlavor="NI"`), coded entries with their templates and the
//! code systems' HL7 OIDs, and a narrative table per section. Ids of patients and the practice
//! are rooted in a `2.25` OID derived from the practice id (no registry needed); each document
//! and entry has its own UUID.

pub mod html;
pub mod summary;
mod xml;
pub mod zip;

use crate::code_systems::System;
use crate::ids::PracticeId;
use crate::practice::settings::Contact;
use crate::sync::entities::{
    Address, BirthSex, Coverage, GuardianRelationship, Patient, PhoneKind, Provider, SelfReported, Sex, SubscriberRelationship,
    CDC_RACE_ETHNICITY, ETHNICITY_CATEGORIES, RACE_CATEGORIES,
};
use sha2::{Digest, Sha256};
use summary::{CodeView, Entry, SectionKey, Summary};
use xml::Xml;

const R21: &str = "2015-08-01";
const R20: &str = "2014-06-09";
const LOINC: &str = "2.16.840.1.113883.6.1";
const SNOMED: &str = "2.16.840.1.113883.6.96";
const NPI: &str = "2.16.840.1.113883.4.6";
/// NCI Thesaurus (FDA SPL routes of administration).
const NCI: &str = "2.16.840.1.113883.3.26.1.1";
/// HL7 AdministrativeGender.
const GENDER: &str = "2.16.840.1.113883.5.1";

/// A UUID (random, version 4) as an HL7 instance identifier root.
fn uuid() -> String {
    let mut b = crate::ids::random_bytes::<16>();
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = hex::encode(b);
    format!("{}-{}-{}-{}-{}", &h[..8], &h[8..12], &h[12..16], &h[16..20], &h[20..])
}

/// The practice's own OID: `2.25.` and a number from its id (ISO/IEC 9834-8 style).
pub fn practice_oid(practice: &PracticeId) -> String {
    let digest = Sha256::digest(format!("portal practice {practice}").as_bytes());
    let n = u128::from_be_bytes(digest[..16].try_into().expect("16 bytes")) >> 2;
    format!("2.25.{n}")
}

/// An HL7 TS from `YYYY-MM-DD` or an RFC 3339 date-time (`2026-11-20T09:00:00-05:00`).
pub fn hl7_time(s: &str) -> String {
    let digits: String = s.chars().take(19).filter(char::is_ascii_digit).collect();
    if s.len() <= 10 {
        return digits;
    }
    let zone = match s.get(19..).map(|z| z.trim_start_matches(|c: char| c == '.' || c.is_ascii_digit())) {
        Some("Z") | None | Some("") => "+0000".to_string(),
        Some(z) => z.replace(':', ""),
    };
    format!("{digits}{zone}")
}

fn hl7_now(unix: i64) -> String {
    hl7_time(&crate::clock::rfc3339(unix))
}

fn code_attrs(c: &CodeView) -> Vec<(&'static str, String)> {
    let (oid, name) = match System::parse(&c.system) {
        Some(s) => (s.oid(), s.title()),
        None if c.system == "NPI" => (NPI, "NPI"),
        None => ("2.16.840.1.113883.5.1008", "NullFlavor"),
    };
    vec![("code", c.code.clone()), ("codeSystem", oid.into()), ("codeSystemName", name.into()), ("displayName", c.display.clone())]
}

fn attrs<'a>(v: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    v.iter().map(|(k, v)| (*k, v.as_str())).collect()
}

fn template(x: &mut Xml, root: &str, extension: Option<&str>) {
    x.empty("templateId", &[("root", root)]);
    if let Some(e) = extension {
        x.empty("templateId", &[("root", root), ("extension", e)]);
    }
}

fn id(x: &mut Xml) {
    x.empty("id", &[("root", &uuid())]);
}

fn coded(x: &mut Xml, tag: &str, c: &CodeView, extra: &[(&str, &str)]) {
    let a = code_attrs(c);
    let mut all = extra.to_vec();
    all.extend(attrs(&a));
    x.empty(tag, &all);
}

/// `<effectiveTime>` with `low` (and `high` when ended).
fn span(x: &mut Xml, e: &Entry) {
    x.open("effectiveTime", &[]);
    match &e.date {
        Some(d) => x.empty("low", &[("value", &hl7_time(d))]),
        None => x.empty("low", &[("nullFlavor", "UNK")]),
    };
    if let Some(end) = &e.end_date {
        x.empty("high", &[("value", &hl7_time(end))]);
    }
    x.close();
}

fn when(x: &mut Xml, e: &Entry) {
    match &e.date {
        Some(d) => x.empty("effectiveTime", &[("value", &hl7_time(d))]),
        None => x.empty("effectiveTime", &[("nullFlavor", "UNK")]),
    };
}

fn ongoing(e: &Entry) -> bool {
    e.end_date.is_none() && matches!(e.status.as_deref(), Some("active") | None)
}

struct SectionCode {
    template: &'static str,
    extension: Option<&'static str>,
    loinc: &'static str,
    name: &'static str,
}

fn section_code(key: SectionKey) -> Option<SectionCode> {
    let s = |template, extension, loinc, name| Some(SectionCode { template, extension, loinc, name });
    match key {
        SectionKey::Allergies => s("2.16.840.1.113883.10.20.22.2.6.1", Some(R21), "48765-2", "Allergies and adverse reactions Document"),
        SectionKey::Medications => s("2.16.840.1.113883.10.20.22.2.1.1", Some(R20), "10160-0", "History of Medication use Narrative"),
        SectionKey::Problems => s("2.16.840.1.113883.10.20.22.2.5.1", Some(R21), "11450-4", "Problem list - Reported"),
        SectionKey::Results => {
            s("2.16.840.1.113883.10.20.22.2.3.1", Some(R21), "30954-2", "Relevant diagnostic tests/laboratory data Narrative")
        }
        SectionKey::VitalSigns => s("2.16.840.1.113883.10.20.22.2.4.1", Some(R21), "8716-3", "Vital signs"),
        SectionKey::Immunizations => s("2.16.840.1.113883.10.20.22.2.2.1", Some(R21), "11369-6", "History of Immunization Narrative"),
        SectionKey::Procedures => s("2.16.840.1.113883.10.20.22.2.7.1", Some(R20), "47519-4", "History of Procedures Document"),
        SectionKey::PlanOfTreatment => s("2.16.840.1.113883.10.20.22.2.10", Some(R20), "18776-5", "Plan of care note"),
        SectionKey::Encounters => {
            s("2.16.840.1.113883.10.20.22.2.22.1", Some(R21), "46240-8", "History of Hospitalizations+Outpatient visits Narrative")
        }
        SectionKey::SocialHistory => s("2.16.840.1.113883.10.20.22.2.17", Some(R21), "29762-2", "Social history Narrative"),
        SectionKey::ImplantedDevices => s("2.16.840.1.113883.10.20.22.2.23", Some(R20), "46264-8", "History of medical device use"),
        SectionKey::Goals => s("2.16.840.1.113883.10.20.22.2.60", None, "61146-7", "Goals"),
        SectionKey::Insurance => s("2.16.840.1.113883.10.20.22.2.18", Some(R21), "48768-6", "Payment sources"),
        SectionKey::HealthConcerns => s("2.16.840.1.113883.10.20.22.2.58", Some(R21), "75310-3", "Health concerns document"),
        // The care team is the header's serviceEvent performers.
        SectionKey::CareTeam => None,
    }
}

/// The narrative: one table of what the entries say.
fn narrative(x: &mut Xml, title: &str, entries: &[Entry]) {
    x.open("text", &[]);
    if entries.is_empty() {
        x.text("paragraph", &[], "No information");
    } else {
        x.open("table", &[("border", "1"), ("width", "100%")]);
        x.text("caption", &[], title);
        x.open("thead", &[]).open("tr", &[]);
        for h in ["Name", "Code", "Status", "Date", "Value", "Note"] {
            x.text("th", &[], h);
        }
        x.close().close().open("tbody", &[]);
        for e in entries {
            x.open("tr", &[]);
            x.text("td", &[], &e.text);
            x.text("td", &[], &e.code.as_ref().map(|c| format!("{} {}", c.system, c.code)).unwrap_or_default());
            x.text("td", &[], e.status.as_deref().unwrap_or(""));
            let date = [e.date.as_deref(), e.end_date.as_deref()].into_iter().flatten().collect::<Vec<_>>().join(" – ");
            x.text("td", &[], &date);
            let value = [e.value.as_deref(), e.unit.as_deref()].into_iter().flatten().collect::<Vec<_>>().join(" ");
            x.text("td", &[], &value);
            x.text("td", &[], &e.notes().join("; "));
            x.close();
        }
        x.close().close();
    }
    x.close();
}

/// A concern act (problem or allergy), opened down to its entryRelationship, which the caller
/// fills with the observation and closes with three `close()`s.
fn concern(x: &mut Xml, d: &Doc, e: &Entry, act: &str) {
    x.open("entry", &[("typeCode", "DRIV")]).open("act", &[("classCode", "ACT"), ("moodCode", "EVN")]);
    template(x, act, Some(R21));
    id(x);
    x.empty("code", &[("code", "CONC"), ("codeSystem", "2.16.840.1.113883.5.6"), ("displayName", "Concern")]);
    x.empty("statusCode", &[("code", if ongoing(e) { "active" } else { "completed" })]);
    span(x, e);
    author(x, d, e);
    x.open("entryRelationship", &[("typeCode", "SUBJ")]);
}

/// A Problem Observation: the condition, coded, over its dates.
fn problem_observation(x: &mut Xml, d: &Doc, e: &Entry, c: &CodeView) {
    x.open("observation", &[("classCode", "OBS"), ("moodCode", "EVN")]);
    template(x, "2.16.840.1.113883.10.20.22.4.4", Some(R21));
    id(x);
    x.empty("code", &[("code", "55607006"), ("codeSystem", SNOMED), ("codeSystemName", "SNOMED CT"), ("displayName", "Problem")]);
    x.empty("statusCode", &[("code", "completed")]);
    span(x, e);
    coded(x, "value", c, &[("xsi:type", "CD")]);
    author(x, d, e);
    x.close();
}

fn problem(x: &mut Xml, d: &Doc, e: &Entry, c: &CodeView) {
    concern(x, d, e, "2.16.840.1.113883.10.20.22.4.3");
    problem_observation(x, d, e, c);
    x.close().close().close();
}

/// A Goal Observation: what the patient and the dentist aim for, coded or in the dentist's words.
fn goal(x: &mut Xml, d: &Doc, e: &Entry) {
    x.open("entry", &[("typeCode", "DRIV")]).open("observation", &[("classCode", "OBS"), ("moodCode", "GOL")]);
    template(x, "2.16.840.1.113883.10.20.22.4.121", None);
    id(x);
    match &e.code {
        Some(c) => coded(x, "code", c, &[]),
        None => {
            x.open("code", &[("nullFlavor", "OTH")]).text("originalText", &[], &e.text).close();
        }
    }
    x.empty("statusCode", &[("code", "active")]);
    when(x, e);
    author(x, d, e);
    x.close().close();
}

/// A Health Concern Act: the concern in words, and as a Problem Observation when it is coded.
fn health_concern(x: &mut Xml, d: &Doc, e: &Entry) {
    x.open("entry", &[("typeCode", "DRIV")]).open("act", &[("classCode", "ACT"), ("moodCode", "EVN")]);
    template(x, "2.16.840.1.113883.10.20.22.4.132", Some(R21));
    id(x);
    x.empty("code", &[("code", "75310-3"), ("codeSystem", LOINC), ("codeSystemName", "LOINC"), ("displayName", "Health concern")]);
    x.text("text", &[], &e.text);
    x.empty("statusCode", &[("code", if ongoing(e) { "active" } else { "completed" })]);
    span(x, e);
    author(x, d, e);
    if let Some(c) = &e.code {
        x.open("entryRelationship", &[("typeCode", "REFR")]);
        problem_observation(x, d, e, c);
        x.close();
    }
    x.close().close();
}

fn allergy(x: &mut Xml, d: &Doc, e: &Entry, c: &CodeView) {
    concern(x, d, e, "2.16.840.1.113883.10.20.22.4.30");
    x.open("observation", &[("classCode", "OBS"), ("moodCode", "EVN")]);
    template(x, "2.16.840.1.113883.10.20.22.4.7", Some(R20));
    id(x);
    x.empty("code", &[("code", "ASSERTION"), ("codeSystem", "2.16.840.1.113883.5.4")]);
    x.empty("statusCode", &[("code", "completed")]);
    span(x, e);
    // The observation's value is the kind of allergy; what it is to (the synced code: a drug in
    // RxNorm, any substance in SNOMED CT) is the participant, as converters read it.
    let kind = match c.system.as_str() {
        "RxNorm" => ("416098002", "Drug allergy (disorder)"),
        _ => ("419199007", "Allergy to substance (disorder)"),
    };
    coded(x, "value", &CodeView { system: "SNOMED-CT".into(), code: kind.0.into(), display: kind.1.into() }, &[("xsi:type", "CD")]);
    author(x, d, e);
    x.open("participant", &[("typeCode", "CSM")]).open("participantRole", &[("classCode", "MANU")]);
    x.open("playingEntity", &[("classCode", "MMAT")]);
    coded(x, "code", c, &[]);
    x.close().close().close();
    if let Some(note) = &e.note {
        // The reaction as the practice wrote it.
        x.open("entryRelationship", &[("typeCode", "MFST"), ("inversionInd", "true")]);
        x.open("observation", &[("classCode", "OBS"), ("moodCode", "EVN")]);
        template(x, "2.16.840.1.113883.10.20.22.4.9", Some(R20));
        id(x);
        x.empty("code", &[("code", "ASSERTION"), ("codeSystem", "2.16.840.1.113883.5.4")]);
        x.text("text", &[], note);
        x.empty("statusCode", &[("code", "completed")]);
        x.open("value", &[("xsi:type", "CD"), ("nullFlavor", "OTH")]).text("originalText", &[], note).close();
        x.close().close();
    }
    x.close().close().close().close();
}

fn medication(x: &mut Xml, d: &Doc, e: &Entry, c: &CodeView) {
    x.open("entry", &[("typeCode", "DRIV")]).open("substanceAdministration", &[("classCode", "SBADM"), ("moodCode", "EVN")]);
    template(x, "2.16.840.1.113883.10.20.22.4.16", Some(R20));
    id(x);
    if let Some(note) = &e.note {
        x.text("text", &[], note);
    }
    x.empty("statusCode", &[("code", if ongoing(e) { "active" } else { "completed" })]);
    x.open("effectiveTime", &[("xsi:type", "IVL_TS")]);
    match &e.date {
        Some(d) => x.empty("low", &[("value", &hl7_time(d))]),
        None => x.empty("low", &[("nullFlavor", "UNK")]),
    };
    match &e.end_date {
        Some(d) => x.empty("high", &[("value", &hl7_time(d))]),
        None => x.empty("high", &[("nullFlavor", "UNK")]),
    };
    x.close();
    given(x, e);
    x.open("consumable", &[]).open("manufacturedProduct", &[("classCode", "MANU")]);
    template(x, "2.16.840.1.113883.10.20.22.4.23", Some(R20));
    x.open("manufacturedMaterial", &[]);
    coded(x, "code", c, &[]);
    x.close().close().close();
    author(x, d, e);
    x.close().close();
}

fn immunization(x: &mut Xml, d: &Doc, e: &Entry, c: &CodeView) {
    x.open("entry", &[("typeCode", "DRIV")]);
    x.open("substanceAdministration", &[("classCode", "SBADM"), ("moodCode", "EVN"), ("negationInd", "false")]);
    template(x, "2.16.840.1.113883.10.20.22.4.52", Some(R21));
    id(x);
    x.empty("statusCode", &[("code", "completed")]);
    when(x, e);
    given(x, e);
    x.open("consumable", &[]).open("manufacturedProduct", &[("classCode", "MANU")]);
    template(x, "2.16.840.1.113883.10.20.22.4.54", Some(R20));
    x.open("manufacturedMaterial", &[]);
    coded(x, "code", c, &[]);
    x.close().close().close();
    author(x, d, e);
    x.close().close();
}

/// How a medication or vaccine is given: its route (FDA SPL, NCI Thesaurus) and its dose (required
/// for a medication, CONF:1098-7516: unknown when the practice's system did not send one).
fn given(x: &mut Xml, e: &Entry) {
    if let Some(route) = e.route {
        let (code, name) = route.nci();
        x.empty("routeCode", &[("code", code), ("codeSystem", NCI), ("codeSystemName", "NCI Thesaurus"), ("displayName", name)]);
    }
    match &e.dose {
        Some(d) => x.empty("doseQuantity", &[("value", &d.value), ("unit", &d.unit)]),
        None => x.empty("doseQuantity", &[("nullFlavor", "UNK")]),
    };
}

/// A measurement: a number with its unit (UCUM), or text.
fn measured(x: &mut Xml, e: &Entry) {
    let value = e.value.as_deref().unwrap_or("");
    if value.parse::<f64>().is_ok() {
        x.empty("value", &[("xsi:type", "PQ"), ("value", value), ("unit", e.unit.as_deref().unwrap_or("1"))]);
    } else {
        x.text("value", &[("xsi:type", "ST")], [value, e.unit.as_deref().unwrap_or("")].join(" ").trim_end());
    }
}

fn observations(x: &mut Xml, d: &Doc, key: SectionKey, entries: &[(&Entry, &CodeView)]) {
    // One organizer per date: a panel of results, a set of vital signs taken together.
    let mut dates: Vec<&str> = entries.iter().filter_map(|(e, _)| e.date.as_deref()).collect();
    dates.dedup();
    dates.sort();
    dates.dedup();
    for date in dates {
        let vitals = key == SectionKey::VitalSigns;
        x.open("entry", &[("typeCode", "DRIV")]);
        x.open("organizer", &[("classCode", if vitals { "CLUSTER" } else { "BATTERY" }), ("moodCode", "EVN")]);
        template(x, if vitals { "2.16.840.1.113883.10.20.22.4.26" } else { "2.16.840.1.113883.10.20.22.4.1" }, Some(R21));
        id(x);
        if vitals {
            // SNOMED CT's "vital signs" (CONF:1198-32741), LOINC's panel as its translation.
            x.open(
                "code",
                &[("code", "46680005"), ("codeSystem", SNOMED), ("codeSystemName", "SNOMED CT"), ("displayName", "Vital signs")],
            );
            x.empty(
                "translation",
                &[("code", "74728-7"), ("codeSystem", LOINC), ("codeSystemName", "LOINC"), ("displayName", "Vital signs panel")],
            );
            x.close();
        } else {
            x.empty("code", &[("nullFlavor", "UNK")]);
        }
        x.empty("statusCode", &[("code", "completed")]);
        x.open("effectiveTime", &[]).empty("low", &[("value", &hl7_time(date))]).empty("high", &[("value", &hl7_time(date))]).close();
        // The organizer's provenance: its latest measurement's.
        let measured_together = entries.iter().filter(|(e, _)| e.date.as_deref() == Some(date)).map(|(e, _)| *e);
        if let Some(latest) = measured_together.max_by(|a, b| a.recorded_at.cmp(&b.recorded_at)) {
            author(x, d, latest);
        }
        for (e, c) in entries.iter().filter(|(e, _)| e.date.as_deref() == Some(date)) {
            x.open("component", &[]).open("observation", &[("classCode", "OBS"), ("moodCode", "EVN")]);
            template(
                x,
                if vitals { "2.16.840.1.113883.10.20.22.4.27" } else { "2.16.840.1.113883.10.20.22.4.2" },
                Some(if vitals { R20 } else { R21 }),
            );
            id(x);
            coded(x, "code", c, &[]);
            x.empty("statusCode", &[("code", "completed")]);
            when(x, e);
            measured(x, e);
            author(x, d, e);
            x.close().close();
        }
        x.close().close();
    }
}

fn procedure(x: &mut Xml, d: &Doc, e: &Entry, c: &CodeView, planned: bool) {
    x.open("entry", &[("typeCode", "DRIV")]);
    x.open("procedure", &[("classCode", "PROC"), ("moodCode", if planned { "RQO" } else { "EVN" })]);
    template(x, if planned { "2.16.840.1.113883.10.20.22.4.41" } else { "2.16.840.1.113883.10.20.22.4.14" }, Some(R20));
    id(x);
    coded(x, "code", c, &[]);
    x.empty("statusCode", &[("code", if planned { "active" } else { "completed" })]);
    when(x, e);
    if let Some(p) = &e.performed_by {
        performer(x, p, &[]);
    }
    author(x, d, e);
    x.close().close();
}

fn encounter(x: &mut Xml, d: &Doc, e: &Entry) {
    x.open("entry", &[("typeCode", "DRIV")]).open("encounter", &[("classCode", "ENC"), ("moodCode", "EVN")]);
    template(x, "2.16.840.1.113883.10.20.22.4.49", Some(R21));
    id(x);
    // Visits carry no encounter-type code: the practice's system sends the procedures done.
    x.open("code", &[("nullFlavor", "UNK")]).text("originalText", &[], &e.text).close();
    when(x, e);
    if let Some(p) = &e.performed_by {
        performer(x, p, &[]);
    }
    author(x, d, e);
    x.close().close();
}

/// A Smoking Status - Meaningful Use observation (the status as of its date).
fn smoking(x: &mut Xml, d: &Doc, e: &Entry, c: &CodeView) {
    x.open("entry", &[("typeCode", "DRIV")]).open("observation", &[("classCode", "OBS"), ("moodCode", "EVN")]);
    template(x, "2.16.840.1.113883.10.20.22.4.78", Some(R20));
    id(x);
    x.empty(
        "code",
        &[("code", "72166-2"), ("codeSystem", LOINC), ("codeSystemName", "LOINC"), ("displayName", "Tobacco smoking status NHIS")],
    );
    x.empty("statusCode", &[("code", "completed")]);
    x.empty("effectiveTime", &[("value", &hl7_time(e.date.as_deref().unwrap_or_default()))]);
    coded(x, "value", c, &[("xsi:type", "CD")]);
    author(x, d, e);
    x.close().close();
}

/// An implanted device: a Non-Medicinal Supply Activity whose product is the device itself
/// (Product Instance), identified by its UDI under the FDA's root, as the UDI guidance has it.
fn implant(x: &mut Xml, d: &Doc, e: &Entry, c: &CodeView) {
    const FDA_UDI: &str = "2.16.840.1.113883.3.3719";
    x.open("entry", &[("typeCode", "DRIV")]).open("supply", &[("classCode", "SPLY"), ("moodCode", "EVN")]);
    template(x, "2.16.840.1.113883.10.20.22.4.50", Some(R20));
    id(x);
    x.empty("statusCode", &[("code", "completed")]);
    when(x, e);
    author(x, d, e);
    x.open("participant", &[("typeCode", "PRD")]).open("participantRole", &[("classCode", "MANU")]);
    template(x, "2.16.840.1.113883.10.20.22.4.37", None);
    match &e.udi {
        Some(udi) => x.empty("id", &[("root", FDA_UDI), ("extension", udi)]),
        None => x.empty("id", &[("nullFlavor", "UNK")]),
    };
    x.open("playingDevice", &[]);
    coded(x, "code", c, &[]);
    x.close();
    x.open("scopingEntity", &[]).empty("id", &[("root", FDA_UDI)]).close();
    x.close().close().close().close();
}

/// The Payers section's one Coverage Activity: each plan a Policy Activity, in order (primary
/// first). The payer performs; the patient is the covered party (themself, or a dependent of the
/// subscriber, who then holds the policy); the plan itself is described by name and group.
fn payers(x: &mut Xml, d: &Doc, entries: &[Entry]) {
    let plans: Vec<(&Entry, &Coverage)> = entries.iter().filter_map(|e| e.coverage.as_deref().map(|c| (e, c))).collect();
    if plans.is_empty() {
        return;
    }
    x.open("entry", &[("typeCode", "DRIV")]).open("act", &[("classCode", "ACT"), ("moodCode", "EVN")]);
    template(x, "2.16.840.1.113883.10.20.22.4.60", Some(R21));
    id(x);
    x.empty("code", &[("code", "48768-6"), ("codeSystem", LOINC), ("codeSystemName", "LOINC"), ("displayName", "Payment sources")]);
    x.empty("statusCode", &[("code", "completed")]);
    for (n, (e, c)) in plans.iter().enumerate() {
        x.open("entryRelationship", &[("typeCode", "COMP")]).empty("sequenceNumber", &[("value", &(n + 1).to_string())]);
        policy(x, d, e, c);
        x.close();
    }
    x.close().close();
}

fn policy(x: &mut Xml, d: &Doc, e: &Entry, c: &Coverage) {
    let ((insurance, insurance_name), (payment, payment_name)) = c.plan_type.codes();
    // Arcs under the practice's root: .1 its patients' member ids, .2 the plans they are in.
    let member = format!("{}.1", d.root);
    x.open("act", &[("classCode", "ACT"), ("moodCode", "EVN")]);
    template(x, "2.16.840.1.113883.10.20.22.4.61", Some(R21));
    x.empty("id", &[("root", &member), ("extension", &c.member_id)]);
    x.open(
        "code",
        &[
            ("code", insurance),
            ("codeSystem", "2.16.840.1.113883.6.255.1336"),
            ("codeSystemName", "X12N-1336"),
            ("displayName", insurance_name),
        ],
    );
    x.empty(
        "translation",
        &[
            ("code", payment),
            ("codeSystem", "2.16.840.1.113883.3.221.5"),
            ("codeSystemName", "Source of Payment Typology"),
            ("displayName", payment_name),
        ],
    );
    x.close();
    x.empty("statusCode", &[("code", "completed")]);
    x.open("performer", &[("typeCode", "PRF")]);
    template(x, "2.16.840.1.113883.10.20.22.4.87", None);
    x.open("assignedEntity", &[]);
    match &c.payer_id {
        Some(id) => x.empty("id", &[("root", "2.16.840.1.113883.6.300"), ("extension", id)]),
        None => x.empty("id", &[("nullFlavor", "UNK")]),
    };
    x.empty(
        "code",
        &[
            ("code", "PAYOR"),
            ("codeSystem", "2.16.840.1.113883.5.110"),
            ("codeSystemName", "HL7 RoleClassRelationship"),
            ("displayName", "invoice payor"),
        ],
    );
    x.open("representedOrganization", &[]).text("name", &[], &c.payer_name).close();
    x.close().close();
    author(x, d, e);
    let (role, role_name) =
        if c.relationship == SubscriberRelationship::Myself { ("SELF", "self") } else { ("FAMDEP", "family dependent") };
    x.open("participant", &[("typeCode", "COV")]);
    template(x, "2.16.840.1.113883.10.20.22.4.89", None);
    x.open("participantRole", &[]).empty("id", &[("root", &member), ("extension", &c.member_id)]);
    x.empty(
        "code",
        &[("code", role), ("codeSystem", "2.16.840.1.113883.5.111"), ("codeSystemName", "RoleCode"), ("displayName", role_name)],
    );
    x.close().close();
    if c.relationship != SubscriberRelationship::Myself {
        x.open("participant", &[("typeCode", "HLD")]);
        template(x, "2.16.840.1.113883.10.20.22.4.90", None);
        x.open("participantRole", &[]).empty("id", &[("root", &member), ("extension", &c.member_id)]).close();
        x.close();
    }
    let plan = [
        c.plan_name.clone(),
        c.group_number.as_ref().map(|g| format!("group {g}")),
        c.subscriber_name.as_ref().map(|s| format!("subscriber {s}")),
    ]
    .into_iter()
    .flatten()
    .collect::<Vec<_>>()
    .join(", ");
    x.open("entryRelationship", &[("typeCode", "REFR")]).open("act", &[("classCode", "ACT"), ("moodCode", "DEF")]);
    x.empty("id", &[("root", &format!("{}.2", d.root)), ("extension", &c.member_id)]);
    x.empty("code", &[("nullFlavor", "NI")]);
    x.text("text", &[], if plan.is_empty() { &c.payer_name } else { &plan });
    x.close().close();
    x.close();
}

/// The Birth Sex Observation (HL7 AdministrativeGender F or M; unknown or declined as a null).
fn birth_sex(x: &mut Xml, b: BirthSex) {
    x.open("entry", &[("typeCode", "DRIV")]).open("observation", &[("classCode", "OBS"), ("moodCode", "EVN")]);
    template(x, "2.16.840.1.113883.10.20.22.4.200", Some("2016-06-01"));
    x.empty("code", &[("code", "76689-9"), ("codeSystem", LOINC), ("codeSystemName", "LOINC"), ("displayName", "Sex Assigned At Birth")]);
    x.empty("statusCode", &[("code", "completed")]);
    match b {
        BirthSex::Female | BirthSex::Male => {
            let (code, name) = if b == BirthSex::Female { ("F", "Female") } else { ("M", "Male") };
            x.empty("value", &[("xsi:type", "CD"), ("code", code), ("codeSystem", GENDER), ("displayName", name)])
        }
        BirthSex::Unknown => x.empty("value", &[("xsi:type", "CD"), ("nullFlavor", "UNK")]),
        BirthSex::Declined => x.empty("value", &[("xsi:type", "CD"), ("nullFlavor", "ASKU")]),
    };
    x.close().close();
}

/// Race (`raceCode`, then `sdtc:raceCode`) or ethnicity: the first OMB category is the element
/// itself; the other categories and every detailed code are the SDTC extension's repeats.
fn self_reported(x: &mut Xml, tags: (&str, &str), reported: Option<&SelfReported>, table: &[(&str, &str)]) {
    let cdc = |x: &mut Xml, tag: &str, (code, name): (&str, &str)| {
        x.empty(
            tag,
            &[("code", code), ("codeSystem", CDC_RACE_ETHNICITY), ("codeSystemName", "CDC Race and Ethnicity"), ("displayName", name)],
        );
    };
    let Some(r) = reported.filter(|r| !r.declined) else {
        let null = if reported.is_some() { "ASKU" } else { "UNK" };
        x.empty(tags.0, &[("nullFlavor", null)]);
        return;
    };
    let mut codes = r.codes(table);
    // Only detailed codes: the element itself is unknown, and they all follow it.
    match if r.categories.is_empty() { None } else { codes.next() } {
        Some(first) => cdc(x, tags.0, first),
        None => {
            x.empty(tags.0, &[("nullFlavor", "UNK")]);
        }
    }
    for more in codes {
        cdc(x, tags.1, more);
    }
}

fn section(x: &mut Xml, d: &Doc, code: &SectionCode, title: &str, key: SectionKey, entries: &[Entry], born: Option<BirthSex>) {
    x.open("component", &[]);
    if entries.is_empty() {
        x.open("section", &[("nullFlavor", "NI")]);
    } else {
        x.open("section", &[]);
    }
    template(x, code.template, code.extension);
    x.empty("code", &[("code", code.loinc), ("codeSystem", LOINC), ("codeSystemName", "LOINC"), ("displayName", code.name)]);
    x.text("title", &[], title);
    narrative(x, title, entries);
    let coded: Vec<(&Entry, &CodeView)> = entries.iter().filter_map(|e| e.code.as_ref().map(|c| (e, c))).collect();
    match key {
        SectionKey::Problems => coded.iter().for_each(|(e, c)| problem(x, d, e, c)),
        SectionKey::Allergies => coded.iter().for_each(|(e, c)| allergy(x, d, e, c)),
        SectionKey::Medications => coded.iter().for_each(|(e, c)| medication(x, d, e, c)),
        SectionKey::Immunizations => coded.iter().for_each(|(e, c)| immunization(x, d, e, c)),
        SectionKey::VitalSigns | SectionKey::Results => observations(x, d, key, &coded),
        SectionKey::Procedures => coded.iter().for_each(|(e, c)| procedure(x, d, e, c, false)),
        SectionKey::PlanOfTreatment => coded.iter().for_each(|(e, c)| procedure(x, d, e, c, true)),
        SectionKey::Encounters => entries.iter().for_each(|e| encounter(x, d, e)),
        SectionKey::ImplantedDevices => coded.iter().for_each(|(e, c)| implant(x, d, e, c)),
        SectionKey::Goals => entries.iter().for_each(|e| goal(x, d, e)),
        SectionKey::Insurance => payers(x, d, entries),
        SectionKey::HealthConcerns => entries.iter().for_each(|e| health_concern(x, d, e)),
        SectionKey::SocialHistory => {
            coded.iter().for_each(|(e, c)| smoking(x, d, e, c));
            if let Some(b) = born {
                birth_sex(x, b);
            }
        }
        SectionKey::CareTeam => {}
    }
    x.close().close();
}

/// A person's legal name in parts (a provider's credentials as the suffix).
fn name(x: &mut Xml, given: &str, family: &str, suffix: Option<&str>) {
    x.open("name", &[("use", "L")]).text("given", &[], given).text("family", &[], family);
    if let Some(s) = suffix.filter(|s| !s.trim().is_empty()) {
        x.text("suffix", &[], s);
    }
    x.close();
}

/// What every entry's provenance names: the practice, whose system recorded it.
struct Doc<'a> {
    root: &'a str,
    practice_name: &'a str,
}

/// Author Participation: who recorded the entry (the practice's system) and when it last did.
fn author(x: &mut Xml, d: &Doc, e: &Entry) {
    let Some(at) = &e.recorded_at else { return };
    x.open("author", &[]);
    template(x, "2.16.840.1.113883.10.20.22.4.119", None);
    x.empty("time", &[("value", &hl7_time(at))]);
    x.open("assignedAuthor", &[]).empty("id", &[("root", d.root)]);
    x.open("representedOrganization", &[]).empty("id", &[("root", d.root)]).text("name", &[], d.practice_name).close();
    x.close().close();
}

/// A provider who did something: their NPI (unknown when the practice has none on file) and name.
fn performer(x: &mut Xml, p: &Provider, attrs: &[(&str, &str)]) {
    x.open("performer", attrs).open("assignedEntity", &[]);
    match &p.npi {
        Some(npi) => x.empty("id", &[("root", NPI), ("extension", npi)]),
        None => x.empty("id", &[("nullFlavor", "UNK")]),
    };
    x.open("assignedPerson", &[]);
    name(x, &p.first_name, &p.last_name, p.credentials.as_deref());
    x.close().close().close();
}

/// A person's home address, or that it is not known.
fn address(x: &mut Xml, a: Option<&Address>) {
    let Some(a) = a else {
        x.empty("addr", &[("nullFlavor", "UNK")]);
        return;
    };
    x.open("addr", &[("use", "HP")]).text("streetAddressLine", &[], &a.line1);
    if let Some(l2) = &a.line2 {
        x.text("streetAddressLine", &[], l2);
    }
    x.text("city", &[], &a.city).text("state", &[], &a.state).text("postalCode", &[], &a.postal_code);
    x.text("country", &[], a.country.as_deref().unwrap_or("US")).close();
}

/// The practice's address from its Contact settings (street lines, then "City, ST 12345"), or
/// unknown when the office has not written one in that shape.
fn office_address(x: &mut Xml, contact: Option<&Contact>) {
    let lines: Vec<&str> = contact.map(|c| c.address.lines().map(str::trim).filter(|l| !l.is_empty()).collect()).unwrap_or_default();
    let parsed = lines.split_last().and_then(|(last, street)| {
        let (city, rest) = last.rsplit_once(',')?;
        let mut parts = rest.split_whitespace();
        let (state, zip) = (parts.next()?, parts.next()?);
        let zip_ok = zip.len() >= 5 && zip.chars().all(|c| c.is_ascii_digit() || c == '-');
        let state_ok = state.len() == 2 && state.chars().all(|c| c.is_ascii_alphabetic());
        (!street.is_empty() && zip_ok && state_ok && parts.next().is_none()).then_some((street, city.trim(), state, zip))
    });
    let Some((street, city, state, zip)) = parsed else {
        x.empty("addr", &[("nullFlavor", "UNK")]);
        return;
    };
    x.open("addr", &[("use", "WP")]);
    for line in street {
        x.text("streetAddressLine", &[], line);
    }
    x.text("city", &[], city)
        .text("state", &[], &state.to_ascii_uppercase())
        .text("postalCode", &[], zip)
        .text("country", &[], "US")
        .close();
}

/// The practice's phone from its Contact settings, or unknown.
fn office_phone(x: &mut Xml, contact: Option<&Contact>) {
    let digits: String = contact.map(|c| c.phone.chars().filter(|c| c.is_ascii_digit() || *c == '+').collect()).unwrap_or_default();
    if digits.len() >= 7 {
        x.empty("telecom", &[("value", &format!("tel:{digits}")), ("use", "WP")]);
    } else {
        x.empty("telecom", &[("nullFlavor", "UNK")]);
    }
}

/// A person's phones (with their use) and email, or that none is known.
fn telecoms(x: &mut Xml, p: &Patient) {
    for ph in &p.phones {
        let digits: String = ph.number.chars().filter(|c| c.is_ascii_digit() || *c == '+').collect();
        let usage = match ph.kind {
            PhoneKind::Home => "HP",
            PhoneKind::Mobile => "MC",
            PhoneKind::Work => "WP",
        };
        x.empty("telecom", &[("value", &format!("tel:{digits}")), ("use", usage)]);
    }
    if let Some(email) = &p.email {
        x.empty("telecom", &[("value", &format!("mailto:{email}")), ("use", "HP")]);
    }
    if p.phones.is_empty() && p.email.is_none() {
        x.empty("telecom", &[("nullFlavor", "UNK")]);
    }
}

/// A minor's guardian: how they are related (HL7 RoleCode) and who they are.
fn guardian(x: &mut Xml, relationship: GuardianRelationship, g: &Patient) {
    let role = match relationship {
        GuardianRelationship::Mother => Some(("MTH", "mother")),
        GuardianRelationship::Father => Some(("FTH", "father")),
        GuardianRelationship::Parent => Some(("PRN", "parent")),
        GuardianRelationship::Grandparent => Some(("GRPRN", "grandparent")),
        GuardianRelationship::Guardian => Some(("GUARD", "guardian")),
        GuardianRelationship::Other => None,
    };
    x.open("guardian", &[]);
    if let Some((code, display)) = role {
        x.empty(
            "code",
            &[("code", code), ("codeSystem", "2.16.840.1.113883.5.111"), ("codeSystemName", "RoleCode"), ("displayName", display)],
        );
    }
    address(x, g.address.as_ref());
    telecoms(x, g);
    x.open("guardianPerson", &[]);
    name(x, &g.first_name, &g.last_name, None);
    x.close().close();
}

/// The document, for `practice` at unix time `now`.
pub fn document(s: &Summary, practice: &PracticeId, now: i64) -> String {
    let root = practice_oid(practice);
    let p = &s.patient.record;
    let mut x = Xml::new();
    x.open(
        "ClinicalDocument",
        &[("xmlns", "urn:hl7-org:v3"), ("xmlns:xsi", "http://www.w3.org/2001/XMLSchema-instance"), ("xmlns:sdtc", "urn:hl7-org:sdtc")],
    );
    x.empty("realmCode", &[("code", "US")]);
    x.empty("typeId", &[("root", "2.16.840.1.113883.1.3"), ("extension", "POCD_HD000040")]);
    template(&mut x, "2.16.840.1.113883.10.20.22.1.1", Some(R21));
    template(&mut x, "2.16.840.1.113883.10.20.22.1.2", Some(R21));
    id(&mut x);
    x.empty(
        "code",
        &[("code", "34133-9"), ("codeSystem", LOINC), ("codeSystemName", "LOINC"), ("displayName", "Summarization of Episode Note")],
    );
    x.text("title", &[], &format!("Continuity of Care Document — {}", s.practice_name));
    x.empty("effectiveTime", &[("value", &hl7_now(now))]);
    x.empty("confidentialityCode", &[("code", "N"), ("codeSystem", "2.16.840.1.113883.5.25")]);
    x.empty("languageCode", &[("code", "en-US")]);

    x.open("recordTarget", &[]).open("patientRole", &[]);
    x.empty("id", &[("root", &root), ("extension", &s.patient.id)]);
    address(&mut x, p.address.as_ref());
    telecoms(&mut x, p);
    x.open("patient", &[]);
    name(&mut x, p.preferred_name.as_deref().filter(|n| !n.trim().is_empty()).unwrap_or(&p.first_name), &p.last_name, None);
    match p.sex.and_then(Sex::hl7) {
        Some((code, name)) => x.empty("administrativeGenderCode", &[("code", code), ("codeSystem", GENDER), ("displayName", name)]),
        None => x.empty("administrativeGenderCode", &[("nullFlavor", "UNK")]),
    };
    x.empty("birthTime", &[("value", &hl7_time(&p.birthdate))]);
    // Required (CONF:1198-5322/5323): unknown when the record does not say, asked-but-unknown
    // when the patient declined.
    self_reported(&mut x, ("raceCode", "sdtc:raceCode"), p.race.as_ref(), &RACE_CATEGORIES);
    self_reported(&mut x, ("ethnicGroupCode", "sdtc:ethnicGroupCode"), p.ethnicity.as_ref(), &ETHNICITY_CATEGORIES);
    for (relationship, g) in &s.guardians {
        guardian(&mut x, *relationship, g);
    }
    if let Some(lang) = &p.preferred_language {
        x.open("languageCommunication", &[]).empty("languageCode", &[("code", lang)]).empty("preferenceInd", &[("value", "true")]).close();
    }
    x.close().close().close();

    // The practice as the author's and custodian's organization: where and how it is reached.
    let office = s.practice_contact.as_ref();
    x.open("author", &[]).empty("time", &[("value", &hl7_now(now))]).open("assignedAuthor", &[]);
    x.empty("id", &[("root", &root)]);
    office_address(&mut x, office);
    office_phone(&mut x, office);
    x.open("assignedAuthoringDevice", &[])
        .text("manufacturerModelName", &[], "Patient portal")
        .text("softwareName", &[], "Patient portal")
        .close();
    x.open("representedOrganization", &[]).empty("id", &[("root", &root)]).text("name", &[], &s.practice_name);
    office_phone(&mut x, office);
    office_address(&mut x, office);
    x.close().close().close();

    x.open("custodian", &[]).open("assignedCustodian", &[]).open("representedCustodianOrganization", &[]);
    x.empty("id", &[("root", &root)]).text("name", &[], &s.practice_name);
    office_phone(&mut x, office);
    office_address(&mut x, office);
    x.close().close().close();

    x.open("documentationOf", &[]).open("serviceEvent", &[("classCode", "PCPR")]).open("effectiveTime", &[]);
    match &s.from {
        Some(f) => x.empty("low", &[("value", &hl7_time(f))]),
        None => x.empty("low", &[("value", &hl7_time(&p.birthdate))]),
    };
    x.empty("high", &[("value", &s.to.as_deref().map(hl7_time).unwrap_or_else(|| hl7_now(now)))]);
    x.close();
    for provider in &s.providers {
        performer(&mut x, provider, &[("typeCode", "PRF")]);
    }
    x.close().close();

    x.open("component", &[]).open("structuredBody", &[]);
    let d = Doc { root: &root, practice_name: &s.practice_name };
    for sec in &s.sections {
        let Some(code) = section_code(sec.key) else { continue };
        if sec.key == SectionKey::SocialHistory {
            // Sex assigned at birth is told in the social history (its own observation).
            let mut entries = sec.entries.clone();
            if let Some(b) = p.birth_sex {
                entries.push(Entry { text: format!("Sex assigned at birth: {}", b.words()), ..Entry::default() });
            }
            section(&mut x, &d, &code, sec.title, sec.key, &entries, p.birth_sex);
        } else {
            section(&mut x, &d, &code, sec.title, sec.key, &sec.entries, None);
        }
    }
    x.close().close();
    x.close();
    x.finish()
}

/// The zip a patient downloads or sends: the document and its rendering.
pub fn package(s: &Summary, practice: &PracticeId, now: i64) -> crate::CoreResult<Vec<u8>> {
    let xml = document(s, practice, now);
    let html = html::render(s, now);
    zip::stored(&[("care-summary.xml", xml.as_bytes()), ("care-summary.html", html.as_bytes())], now)
        .map_err(|_| crate::CoreError::backend("the care summary is larger than a zip archive holds"))
}
