//! The care summary as a page a person reads: one self-contained HTML file (no scripts, no
//! outside resources), every value escaped.

use super::summary::Summary;
use super::xml::escape;
use crate::sync::entities::{ETHNICITY_CATEGORIES, RACE_CATEGORIES};
use std::fmt::Write as _;

pub fn render(s: &Summary, now: i64) -> String {
    let mut out = String::new();
    let range = match (&s.from, &s.to) {
        (None, None) => "All dates".to_string(),
        (f, t) => format!("{} to {}", f.as_deref().unwrap_or("the start"), t.as_deref().unwrap_or("today")),
    };
    let _ = write!(
        out,
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Care summary — {name}</title>\
         <style>body{{font:16px/1.5 system-ui,sans-serif;max-width:60rem;margin:1rem auto;padding:0 1rem}}\
         table{{border-collapse:collapse;width:100%}}th,td{{border:1px solid #ccc;padding:.3rem;text-align:left;vertical-align:top}}\
         caption{{text-align:left;font-weight:600}}</style></head><body>\n\
         <h1>Care summary</h1><p><strong>{name}</strong>, born {born}<br>{practice}<br>{range} · made {made}</p>\n",
        name = escape(&s.patient.name),
        born = escape(&s.patient.birthdate),
        practice = escape(&s.practice_name),
        range = escape(&range),
        made = escape(&crate::clock::rfc3339(now)),
    );
    let about: Vec<String> = [
        s.patient.sex.and_then(|x| x.hl7()).map(|(_, name)| format!("Sex: {name}")),
        s.patient.birth_sex.map(|b| format!("Sex assigned at birth: {}", b.words())),
        s.patient.race.as_ref().map(|r| format!("Race: {}", r.words(&RACE_CATEGORIES))),
        s.patient.ethnicity.as_ref().map(|r| format!("Ethnicity: {}", r.words(&ETHNICITY_CATEGORIES))),
    ]
    .into_iter()
    .flatten()
    .collect();
    if !about.is_empty() {
        let _ = writeln!(out, "<p>{}</p>", about.iter().map(|a| escape(a)).collect::<Vec<_>>().join("<br>"));
    }
    if !s.missing_code_systems.is_empty() {
        let names: Vec<&str> = s.missing_code_systems.iter().map(|m| m.title()).collect();
        let _ = writeln!(out, "<p>Names for {} codes are as the practice's system recorded them.</p>", escape(&names.join(", ")));
    }
    for sec in &s.sections {
        let _ = writeln!(out, "<h2>{}</h2>", escape(sec.title));
        if sec.entries.is_empty() {
            out.push_str("<p>None recorded.</p>\n");
            continue;
        }
        out.push_str(
            "<table><thead><tr><th>Name</th><th>Code</th><th>Status</th><th>Date</th><th>Value</th><th>Note</th></tr></thead><tbody>\n",
        );
        for e in &sec.entries {
            let code = e.code.as_ref().map(|c| format!("{} {}", c.system, c.code)).unwrap_or_default();
            let date = [e.date.as_deref(), e.end_date.as_deref()].into_iter().flatten().collect::<Vec<_>>().join(" – ");
            let value = [e.value.as_deref(), e.unit.as_deref()].into_iter().flatten().collect::<Vec<_>>().join(" ");
            let note = e.notes().join("; ");
            let _ = writeln!(
                out,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                escape(&e.text),
                escape(&code),
                escape(e.status.as_deref().unwrap_or("")),
                escape(&date),
                escape(&value),
                escape(&note)
            );
        }
        out.push_str("</tbody></table>\n");
    }
    out.push_str("</body></html>\n");
    out
}
