//! The demo practices' data, pushed through the sync API exactly as a practice's system would:
//! signed requests, files uploaded to the presigned URLs and checked. The records are data
//! (`functions/local/demo/*.json`, compiled in), the same every time, dated relative to the day
//! of seeding (a year of history, a few upcoming); the files are made here (a PDF, a PNG).

use portal_core::sync::signing::signed_headers;
use serde_json::{json, Value};
use std::fmt::Write as _;
use time::{Date, Duration, OffsetDateTime};
use tower::ServiceExt;

/// One practice's records: (entity, id, body without lastModified), and files by (entity, id).
pub struct DemoData {
    pub records: Vec<(String, String, Value)>,
    pub files: Vec<(String, String, Vec<u8>)>,
}

fn d(day: Date) -> String {
    format!("{:04}-{:02}-{:02}", day.year(), u8::from(day.month()), day.day())
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
    let block = usize::from(u16::MAX);
    for (i, chunk) in raw.chunks(block).enumerate() {
        let last = (i + 1) * block >= raw.len();
        zlib.push(u8::from(last));
        let len = u16::try_from(chunk.len()).expect("a stored block holds at most u16::MAX bytes");
        zlib.extend(len.to_le_bytes());
        zlib.extend((!len).to_le_bytes());
        zlib.extend(chunk);
    }
    let (mut a, mut b) = (1u32, 0u32);
    for &x in &raw {
        a = (a + u32::from(x)) % 65521;
        b = (b + a) % 65521;
    }
    zlib.extend(((b << 16) | a).to_be_bytes());
    let chunk = |kind: &[u8], data: &[u8]| {
        let mut c = u32::try_from(data.len()).expect("a demo image is kilobytes").to_be_bytes().to_vec();
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
    load(include_str!("../demo/lakeside.json"), today).expect("demo/lakeside.json")
}

/// Hillcrest: a smaller practice, so tenancy is visible.
pub fn hillcrest(today: Date) -> DemoData {
    load(include_str!("../demo/hillcrest.json"), today).expect("demo/hillcrest.json")
}

/// Reads a practice's demo records: a JSON list of `{entity, id, body}` as the sync API takes
/// them, with dates written relative to `today` — `{day:-45}` (a date), `{at:9:09:00}` (that
/// day at that wall-clock time, the practice's offset), `{year:-16}` (a year, for birthdates) —
/// and each file described, not stored: `"file": {"pdf": [lines…] | "png": "radiograph",
/// "fileName": …}` becomes the file's metadata in the body and its bytes in `files`.
fn load(json: &str, today: Date) -> Result<DemoData, String> {
    #[derive(serde::Deserialize)]
    struct Record {
        entity: String,
        id: String,
        body: Value,
    }
    let records: Vec<Record> = serde_json::from_str(json).map_err(|e| e.to_string())?;
    let mut out = DemoData { records: vec![], files: vec![] };
    for Record { entity, id, mut body } in records {
        dated(&mut body, today)?;
        if let Some(spec) = body.get("file").cloned() {
            let name = spec["fileName"].as_str().ok_or("a file without fileName")?;
            let (content_type, bytes) = match (&spec["pdf"], spec["png"].as_str()) {
                (Value::Array(lines), None) => {
                    let lines: Vec<&str> = lines.iter().filter_map(Value::as_str).collect();
                    ("application/pdf", pdf(&lines))
                }
                (Value::Null, Some("radiograph")) => {
                    ("image/png", png(96, 64, |x, y| u8::try_from((x * 2 + y) % 200 + 30).unwrap_or(u8::MAX)))
                }
                _ => return Err(format!("{entity}/{id}: a file is a pdf or the radiograph png")),
            };
            body["file"] = file_meta(content_type, &bytes, name);
            out.files.push((entity.clone(), id.clone(), bytes));
        }
        out.records.push((entity, id, body));
    }
    Ok(out)
}

/// Replaces every `{day:N}`, `{at:N:HH:MM}` and `{year:N}` in the strings of `v`.
fn dated(v: &mut Value, today: Date) -> Result<(), String> {
    match v {
        Value::String(s) => {
            while let Some(start) = s.find('{') {
                let end = start + s[start..].find('}').ok_or_else(|| format!("an unclosed {{ in {s:?}"))?;
                let token = &s[start + 1..end];
                let day = |n: &str| n.parse::<i64>().map(|n| today + Duration::days(n)).map_err(|e| format!("{token}: {e}"));
                let value = match token.split(':').collect::<Vec<_>>()[..] {
                    ["day", n] => d(day(n)?),
                    ["at", n, hour, minute] => {
                        at(day(n)?, hour.parse().map_err(|_| token.to_string())?, minute.parse().map_err(|_| token.to_string())?)
                    }
                    ["year", n] => (today.year() + n.parse::<i32>().map_err(|e| format!("{token}: {e}"))?).to_string(),
                    _ => return Err(format!("unknown {{{token}}}")),
                };
                s.replace_range(start..=end, &value);
            }
        }
        Value::Array(items) => items.iter_mut().try_for_each(|i| dated(i, today))?,
        Value::Object(map) => map.values_mut().try_for_each(|i| dated(i, today))?,
        _ => {}
    }
    Ok(())
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
    use serde_json::json;

    #[test]
    fn demo_records_are_dated_from_the_day_they_are_loaded() {
        let today = time::macros::date!(2030 - 03 - 01);
        let mut v = json!({"a": "{day:-1}", "b": ["{at:2:09:30}", "Statement date: {day:0}"], "c": "{year:-9}-10-02", "d": 7});
        super::dated(&mut v, today).unwrap();
        assert_eq!(
            v,
            json!({"a": "2030-02-28", "b": ["2030-03-03T09:30:00-05:00", "Statement date: 2030-03-01"], "c": "2021-10-02", "d": 7})
        );
        assert!(super::dated(&mut json!("{week:1}"), today).is_err());
        assert!(super::dated(&mut json!("{day:x}"), today).is_err());
        let lakeside = super::lakeside(today);
        assert_eq!(lakeside.files.len(), 5, "two statements and three documents");
        let (_, _, stmt) = lakeside.records.iter().find(|(e, i, _)| e == "statements" && i == "stmt-2").unwrap();
        assert_eq!((stmt["date"].as_str(), stmt["file"]["fileName"].as_str()), (Some("2030-02-24"), Some("statement-2030-02-24.pdf")));
        assert!(super::hillcrest(today).files.is_empty());
    }

    #[test]
    fn generated_files_are_what_they_claim() {
        let pdf = super::pdf(&["Hello (world)"]);
        assert!(pdf.starts_with(b"%PDF-1.4") && pdf.ends_with(b"%%EOF\n"));
        let xref = String::from_utf8_lossy(&pdf);
        let start: usize = xref.rsplit("startxref\n").next().unwrap().lines().next().unwrap().parse().unwrap();
        assert!(pdf[start..].starts_with(b"xref"));
        let png = super::png(3, 2, |x, y| u8::try_from(x + y).unwrap());
        assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"));
        assert!(png.ends_with(&[0, 0, 0, 0, b'I', b'E', b'N', b'D', 0xAE, 0x42, 0x60, 0x82]), "IEND and its CRC");
    }
}
