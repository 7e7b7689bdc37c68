//! The release files of the code systems, read one record at a time, borrowing from the text
//! where it can (no copy per row): SNOMED CT RF2 snapshots (concepts, English descriptions and
//! the English language refset, tab-separated with a header), RxNorm's `RXNCONSO.RRF`
//! (pipe-delimited, no header), the CDC's `cvx.txt` (pipe-delimited, UTF-8 or UTF-16LE with a
//! byte-order mark), LOINC's `Loinc.csv` (comma-separated and quoted, its columns found by the
//! header's names, as they move between releases) and a practice's CDT list (`cdt*.txt`:
//! code, tab, description — what a spreadsheet saves as tab-separated or "Unicode text"). In
//! the two quoted formats a line break inside quotes belongs to the field. A record that is not
//! the format says why; nothing is guessed.

use super::{is_cdt, is_cvx, is_loinc, is_rxnorm, is_snomed, System};
use serde::{Deserialize, Serialize};
use std::borrow::Cow;

/// SNOMED CT's description type of a fully specified name, "Disorder (disorder)".
const SNOMED_FSN: &str = "900000000000003001";
/// SNOMED CT's description type of a synonym: the names clinicians read.
const SNOMED_SYNONYM: &str = "900000000000013009";
/// The US English language reference set: which synonym is a concept's US preferred term.
const US_ENGLISH: &str = "900000000000509007";
/// A language refset's acceptability "preferred".
const PREFERRED: &str = "900000000000548007";

/// The rank of a SNOMED CT synonym the US English language refset prefers: the name shown…
pub const SNOMED_PREFERRED_RANK: u8 = 0;
/// …of any other synonym (a batch raises it to [`SNOMED_PREFERRED_RANK`] when preferred)…
pub const SNOMED_SYNONYM_RANK: u8 = 1;
/// …and of the fully specified name, the last resort.
const SNOMED_FSN_RANK: u8 = 2;

/// RxNorm term types in the order their names are preferred for display: clinical and branded
/// drugs and packs first, then the prescribable name, drug groups, forms and components, then
/// ingredients and brand names.
const RXNORM_TTY: [&str; 17] =
    ["SCD", "SBD", "GPCK", "BPCK", "PSN", "SCDG", "SBDG", "SCDF", "SBDF", "SCDC", "SBDC", "IN", "PIN", "MIN", "BN", "SY", "TMSY"];

/// LOINC's statuses. A deprecated code keeps its name: an old result may carry it.
const LOINC_STATUS: [&str; 4] = ["ACTIVE", "TRIAL", "DISCOURAGED", "DEPRECATED"];

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FileFormat {
    /// `sct2_Concept_Snapshot_*.txt`
    SnomedConcepts,
    /// `sct2_Description_Snapshot-en_*.txt`
    SnomedDescriptions,
    /// `der2_cRefset_LanguageSnapshot-en_*.txt`
    SnomedLanguage,
    /// `RXNCONSO.RRF`
    RxnConso,
    /// `cvx.txt`
    Cvx,
    /// `Loinc.csv`
    Loinc,
    /// `cdt*.txt`
    Cdt,
}

/// What one record holds for the import.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Row<'a> {
    /// Nothing to import: an inactive row, another source or language, a definition.
    Skip,
    /// An active concept: the code is current (SNOMED CT).
    Concept { code: &'a str },
    /// A name of a code. The lowest `rank` is the preferred one; `id` tells names of one rank apart.
    Term { code: &'a str, rank: u8, id: &'a str, text: Cow<'a, str> },
    /// A description the US English language refset prefers (SNOMED CT).
    Preferred { description: &'a str },
}

/// The longest name kept (SNOMED CT allows 255 characters for a synonym, RxNorm names run longer).
const MAX_TERM: usize = 3000;

/// LOINC's column names the import reads.
const LOINC_CODE: &str = "LOINC_NUM";
const LOINC_STATUS_COLUMN: &str = "STATUS";
const LOINC_LONG_NAME: &str = "LONG_COMMON_NAME";
const LOINC_SHORT_NAME: &str = "SHORTNAME";

/// Where the columns read are in one LOINC table (its header says).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct LoincColumns {
    count: usize,
    code: usize,
    status: usize,
    long_name: usize,
    short_name: Option<usize>,
}

/// Reads the records of one file: the format, and for LOINC where its columns are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reader {
    format: FileFormat,
    loinc: Option<LoincColumns>,
}

impl FileFormat {
    /// The format of a release file, by its name (the path inside the release).
    pub fn of_file(path: &str) -> Option<FileFormat> {
        let name = path.rsplit('/').next().unwrap_or(path);
        let lower = name.to_ascii_lowercase();
        if name.starts_with("sct2_Concept_Snapshot_") && name.ends_with(".txt") {
            Some(FileFormat::SnomedConcepts)
        } else if name.starts_with("sct2_Description_Snapshot-en_") && name.ends_with(".txt") {
            Some(FileFormat::SnomedDescriptions)
        } else if name.starts_with("der2_cRefset_LanguageSnapshot-en_") && name.ends_with(".txt") {
            Some(FileFormat::SnomedLanguage)
        } else if lower == "rxnconso.rrf" {
            Some(FileFormat::RxnConso)
        } else if lower == "cvx.txt" {
            Some(FileFormat::Cvx)
        } else if lower == "loinc.csv" {
            Some(FileFormat::Loinc)
        } else if lower.starts_with("cdt") && lower.ends_with(".txt") {
            Some(FileFormat::Cdt)
        } else {
            None
        }
    }

    pub fn system(self) -> System {
        match self {
            FileFormat::SnomedConcepts | FileFormat::SnomedDescriptions | FileFormat::SnomedLanguage => System::SnomedCt,
            FileFormat::RxnConso => System::RxNorm,
            FileFormat::Cvx => System::Cvx,
            FileFormat::Loinc => System::Loinc,
            FileFormat::Cdt => System::Cdt,
        }
    }

    /// Whether other files' batches read what this file's batches write, so it is read first
    /// (SNOMED CT's language refset: the descriptions look up which are preferred).
    pub fn read_first(self) -> bool {
        self == FileFormat::SnomedLanguage
    }

    /// Whether a line break inside double quotes belongs to the field rather than ending the record.
    pub fn quoted(self) -> bool {
        matches!(self, FileFormat::Loinc | FileFormat::Cdt)
    }

    /// The first line, exactly, for formats that have a fixed one.
    fn header(self) -> Option<&'static str> {
        match self {
            FileFormat::SnomedConcepts => Some("id\teffectiveTime\tactive\tmoduleId\tdefinitionStatusId"),
            FileFormat::SnomedDescriptions => {
                Some("id\teffectiveTime\tactive\tmoduleId\tconceptId\tlanguageCode\ttypeId\tterm\tcaseSignificanceId")
            }
            FileFormat::SnomedLanguage => Some("id\teffectiveTime\tactive\tmoduleId\trefsetId\treferencedComponentId\tacceptabilityId"),
            _ => None,
        }
    }

    /// Whether `line` (the file's first) is a header to pass over rather than a row.
    pub fn is_header(self, line: &str) -> bool {
        let line = line.trim_start_matches('\u{feff}').trim();
        match self {
            FileFormat::Cvx => line.starts_with("CVX Code|"),
            FileFormat::Loinc => line.starts_with("\"LOINC_NUM\"") || line.starts_with("LOINC_NUM,"),
            FileFormat::Cdt => line.split('\t').next().is_some_and(|f| f.trim_matches('"').eq_ignore_ascii_case("code")),
            FileFormat::RxnConso => false,
            _ => self.header().is_some(),
        }
    }

    /// The reader of a file, from its first line: checks the header (or for a headerless format
    /// the first row) and, for LOINC, finds the columns by name.
    pub fn reader(self, first_line: &str) -> Result<Reader, String> {
        let line = first_line.trim_start_matches('\u{feff}').trim_end_matches('\r');
        let reader = Reader { format: self, loinc: None };
        match self.header() {
            Some(h) if line == h => Ok(reader),
            Some(h) => Err(format!("the first line is not the RF2 header ({} columns: {})", h.split('\t').count(), h.replace('\t', ", "))),
            None if self == FileFormat::Loinc => Ok(Reader { loinc: Some(loinc_columns(line)?), ..reader }),
            None if self.is_header(line) => Ok(reader),
            None => reader.parse(line).map(|_| reader),
        }
    }
}

impl Reader {
    pub fn format(&self) -> FileFormat {
        self.format
    }

    /// One record (without its final line break) of the file.
    pub fn parse<'a>(&self, record: &'a str) -> Result<Row<'a>, String> {
        let record = record.strip_suffix('\r').unwrap_or(record);
        match (self.format, self.loinc) {
            (FileFormat::SnomedConcepts, _) => snomed_concept(record),
            (FileFormat::SnomedDescriptions, _) => snomed_description(record),
            (FileFormat::SnomedLanguage, _) => snomed_language(record),
            (FileFormat::RxnConso, _) => rxnconso(record),
            (FileFormat::Cvx, _) => cvx(record),
            (FileFormat::Loinc, Some(columns)) => loinc(record, columns),
            (FileFormat::Loinc, None) => Err("the LOINC header was not read".into()),
            (FileFormat::Cdt, _) => cdt(record),
        }
    }
}

/// The records of a piece of a file, each with the number (from 0) of the line it starts on:
/// its lines, except that in a quoted format a line break inside quotes continues the record.
/// A record keeps no line break; the piece's last record may end without one.
pub fn records(text: &str, quoted: bool) -> impl Iterator<Item = (u64, &str)> {
    let (mut rest, mut line) = (text, 0u64);
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let (mut in_quotes, mut breaks, mut end) = (false, 0u64, rest.len());
        for (i, b) in rest.bytes().enumerate() {
            match b {
                b'"' if quoted => in_quotes = !in_quotes,
                b'\n' if !in_quotes => {
                    end = i;
                    break;
                }
                b'\n' => breaks += 1,
                _ => {}
            }
        }
        let record = &rest[..end];
        let at = line;
        line += breaks + 1;
        rest = rest.get(end + 1..).unwrap_or("");
        Some((at, record))
    })
}

/// The fields of one record of a delimited format whose fields may be in double quotes (a
/// separator or line break inside, `""` for a quote). Unquoted fields are borrowed.
fn quoted_fields(record: &str, sep: u8) -> Result<Vec<Cow<'_, str>>, String> {
    let bytes = record.as_bytes();
    let (mut out, mut i) = (vec![], 0);
    loop {
        if bytes.get(i) != Some(&b'"') {
            match bytes[i..].iter().position(|b| *b == sep) {
                Some(k) => {
                    out.push(Cow::Borrowed(&record[i..i + k]));
                    i += k + 1;
                    continue;
                }
                None => {
                    out.push(Cow::Borrowed(&record[i..]));
                    return Ok(out);
                }
            }
        }
        let (mut start, mut owned): (usize, Option<String>) = (i + 1, None);
        let close = loop {
            let q = start + record[start..].find('"').ok_or("a quoted field is not closed")?;
            if bytes.get(q + 1) == Some(&b'"') {
                owned.get_or_insert_with(String::new).push_str(&record[start..=q]);
                start = q + 2;
            } else {
                break q;
            }
        };
        out.push(match owned {
            Some(mut text) => {
                text.push_str(&record[start..close]);
                Cow::Owned(text)
            }
            None => Cow::Borrowed(&record[start..close]),
        });
        i = close + 1;
        match bytes.get(i) {
            None => return Ok(out),
            Some(b) if *b == sep => i += 1,
            Some(_) => return Err("text after a closing quote".into()),
        }
    }
}

/// Splits into exactly `N` fields, or says how many there were.
fn fields<const N: usize>(line: &str, sep: char) -> Result<[&str; N], String> {
    let mut out = [""; N];
    let mut parts = line.split(sep);
    for (i, slot) in out.iter_mut().enumerate() {
        *slot = parts.next().ok_or_else(|| format!("{} fields where {N} were expected", i.max(1)))?;
    }
    match parts.next() {
        None => Ok(out),
        Some(_) => Err(format!("{} fields where {N} were expected", N + 1 + parts.count())),
    }
}

fn active(flag: &str) -> Result<bool, String> {
    match flag {
        "1" => Ok(true),
        "0" => Ok(false),
        other => Err(format!("active is '{}', not 0 or 1", clip(other))),
    }
}

fn effective_time(t: &str) -> Result<(), String> {
    if t.len() == 8 && t.bytes().all(|b| b.is_ascii_digit()) {
        Ok(())
    } else {
        Err(format!("effectiveTime '{}' is not YYYYMMDD", clip(t)))
    }
}

fn term(text: &str) -> Result<&str, String> {
    let text = text.trim();
    if text.is_empty() {
        Err("the name is empty".into())
    } else if text.len() > MAX_TERM {
        Err(format!("the name is longer than {MAX_TERM} bytes"))
    } else {
        Ok(text)
    }
}

/// A value quoted in an error, cut short (a broken line may be anything).
fn clip(s: &str) -> String {
    let cut: String = s.chars().take(40).collect();
    if cut.len() < s.len() {
        format!("{cut}…")
    } else {
        cut
    }
}

fn snomed_concept(line: &str) -> Result<Row<'_>, String> {
    let [id, time, flag, _module, _definition] = fields::<5>(line, '\t')?;
    if !is_snomed(id) {
        return Err(format!("'{}' is not a SNOMED CT concept id (check digit or partition)", clip(id)));
    }
    effective_time(time)?;
    Ok(if active(flag)? { Row::Concept { code: id } } else { Row::Skip })
}

/// A description id: digits, partition `01` (or `11` in an extension), Verhoeff check digit.
fn is_description_id(id: &str) -> bool {
    let n = id.len();
    (6..=18).contains(&n)
        && id.bytes().all(|b| b.is_ascii_digit())
        && matches!(&id[n - 3..n - 1], "01" | "11")
        && super::checks::verhoeff_ok(id)
}

fn snomed_description(line: &str) -> Result<Row<'_>, String> {
    let [id, time, flag, _module, concept, language, kind, text, _case] = fields::<9>(line, '\t')?;
    if !is_description_id(id) {
        return Err(format!("'{}' is not a SNOMED CT description id (check digit or partition)", clip(id)));
    }
    effective_time(time)?;
    if !is_snomed(concept) {
        return Err(format!("conceptId '{}' is not a SNOMED CT concept id", clip(concept)));
    }
    let text = term(text)?;
    if !active(flag)? || language != "en" {
        return Ok(Row::Skip);
    }
    let text = Cow::Borrowed(text);
    Ok(match kind {
        SNOMED_SYNONYM => Row::Term { code: concept, rank: SNOMED_SYNONYM_RANK, id, text },
        SNOMED_FSN => Row::Term { code: concept, rank: SNOMED_FSN_RANK, id, text },
        _ => Row::Skip,
    })
}

/// A UUID as RF2 writes a refset member's id: 8-4-4-4-12 hexadecimal digits.
fn is_uuid(id: &str) -> bool {
    let parts: Vec<&str> = id.split('-').collect();
    parts.iter().map(|p| p.len()).eq([8, 4, 4, 4, 12]) && parts.iter().all(|p| p.bytes().all(|b| b.is_ascii_hexdigit()))
}

fn snomed_language(line: &str) -> Result<Row<'_>, String> {
    let [id, time, flag, _module, refset, description, acceptability] = fields::<7>(line, '\t')?;
    if !is_uuid(id) {
        return Err(format!("'{}' is not a refset member id (a UUID)", clip(id)));
    }
    effective_time(time)?;
    if !is_description_id(description) {
        return Err(format!("referencedComponentId '{}' is not a SNOMED CT description id", clip(description)));
    }
    let preferred = active(flag)? && refset == US_ENGLISH && acceptability == PREFERRED;
    Ok(if preferred { Row::Preferred { description } } else { Row::Skip })
}

fn rxnconso(line: &str) -> Result<Row<'_>, String> {
    // RXCUI|LAT|TS|LUI|STT|SUI|ISPREF|RXAUI|SAUI|SCUI|SDUI|SAB|TTY|CODE|STR|SRL|SUPPRESS|CVF| — the
    // line ends with a bar, so splitting gives an 19th, empty field.
    let f = fields::<19>(line, '|')?;
    let [rxcui, lat, rxaui, sab, tty, text, suppress, last] = [f[0], f[1], f[7], f[11], f[12], f[14], f[16], f[18]];
    if !last.is_empty() {
        return Err("the line does not end with '|'".into());
    }
    if !is_rxnorm(rxcui) {
        return Err(format!("RXCUI '{}' is not an RxNorm concept id", clip(rxcui)));
    }
    if rxaui.is_empty() || !rxaui.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("RXAUI '{}' is not a number", clip(rxaui)));
    }
    let text = term(text)?;
    if sab != "RXNORM" || lat != "ENG" || suppress == "Y" {
        return Ok(Row::Skip);
    }
    Ok(match RXNORM_TTY.iter().position(|t| *t == tty) {
        // The list has a dozen entries: a position always fits.
        Some(rank) => Row::Term { code: rxcui, rank: u8::try_from(rank).unwrap_or(u8::MAX), id: rxaui, text: Cow::Borrowed(text) },
        None => Row::Skip,
    })
}

fn cvx(line: &str) -> Result<Row<'_>, String> {
    // CVX Code|CVX Short Description|Full Vaccine Name|Notes|VaccineStatus|internalID|nonvaccine|update_date
    let mut f = line.split('|');
    let code = f.next().unwrap_or("").trim();
    let short = f.next().ok_or("no '|' between the code and its name")?;
    let rest = f.count();
    if rest < 3 {
        return Err(format!("{} fields where at least 5 were expected", rest + 2));
    }
    if !is_cvx(code) {
        return Err(format!("'{}' is not a CVX code (1–3 digits)", clip(code)));
    }
    Ok(Row::Term { code, rank: 1, id: code, text: Cow::Borrowed(term(short)?) })
}

/// Finds the columns read in a LOINC table's header.
fn loinc_columns(header: &str) -> Result<LoincColumns, String> {
    let names = quoted_fields(header, b',')?;
    let find = |name: &str| names.iter().position(|n| n == name);
    let need = |name: &str| find(name).ok_or_else(|| format!("the header has no {name} column (is this the LoincTable's Loinc.csv?)"));
    Ok(LoincColumns {
        count: names.len(),
        code: need(LOINC_CODE)?,
        status: need(LOINC_STATUS_COLUMN)?,
        long_name: need(LOINC_LONG_NAME)?,
        short_name: find(LOINC_SHORT_NAME),
    })
}

fn loinc(record: &str, columns: LoincColumns) -> Result<Row<'_>, String> {
    let mut fields = quoted_fields(record, b',')?;
    if fields.len() != columns.count {
        return Err(format!("{} fields where {} were expected", fields.len(), columns.count));
    }
    let code = borrowed(std::mem::take(&mut fields[columns.code]), "LOINC_NUM")?;
    if !is_loinc(code) {
        return Err(format!("'{}' is not a LOINC code (digits, a dash, the check digit)", clip(code)));
    }
    let status = &fields[columns.status];
    if !LOINC_STATUS.contains(&status.as_ref()) {
        return Err(format!("STATUS '{}' is not one of {}", clip(status), LOINC_STATUS.join(", ")));
    }
    let long = std::mem::take(&mut fields[columns.long_name]);
    let short = columns.short_name.map(|i| std::mem::take(&mut fields[i])).filter(|s| !s.trim().is_empty());
    let name = match (long, short) {
        (long, _) if !long.trim().is_empty() => long,
        (_, Some(short)) => short,
        _ => return Err("the code has neither a LONG_COMMON_NAME nor a SHORTNAME".into()),
    };
    Ok(Row::Term { code, rank: 1, id: code, text: owned_term(name)? })
}

fn cdt(record: &str) -> Result<Row<'_>, String> {
    let mut fields = quoted_fields(record, b'\t')?.into_iter();
    let (Some(code), Some(name)) = (fields.next(), fields.next()) else {
        return Err("no tab between the code and its description".into());
    };
    let code = borrowed(code, "the code")?.trim();
    if !is_cdt(code) {
        return Err(format!("'{}' is not a CDT code (D and four digits)", clip(code)));
    }
    Ok(Row::Term { code, rank: 1, id: code, text: owned_term(name)? })
}

/// A field that is a code: never has a quote to undo, so it borrows from the record.
fn borrowed<'a>(field: Cow<'a, str>, what: &str) -> Result<&'a str, String> {
    match field {
        Cow::Borrowed(code) => Ok(code),
        Cow::Owned(_) => Err(format!("{what} has a quote in it")),
    }
}

/// [`term`] of a field that may have been unquoted.
fn owned_term(name: Cow<'_, str>) -> Result<Cow<'_, str>, String> {
    Ok(match name {
        Cow::Borrowed(text) => Cow::Borrowed(term(text)?),
        Cow::Owned(text) => Cow::Owned(term(&text)?.to_string()),
    })
}

/// Text of a file that may be UTF-16LE with a byte-order mark (what `cvx.txt` sometimes is) or
/// UTF-8 (with or without a mark).
pub fn decode(bytes: &[u8]) -> Result<std::borrow::Cow<'_, str>, String> {
    if let Some(body) = bytes.strip_prefix(&[0xFF, 0xFE]) {
        if body.len() % 2 != 0 {
            return Err("UTF-16 text with an odd number of bytes".into());
        }
        let units = body.chunks_exact(2).map(|c| u16::from_le_bytes([c[0], c[1]]));
        return char::decode_utf16(units)
            .collect::<Result<String, _>>()
            .map(std::borrow::Cow::Owned)
            .map_err(|_| "not valid UTF-16 text".into());
    }
    let body = bytes.strip_prefix(&[0xEF, 0xBB, 0xBF]).unwrap_or(bytes);
    std::str::from_utf8(body).map(std::borrow::Cow::Borrowed).map_err(|e| format!("not UTF-8 text (byte {})", e.valid_up_to()))
}

/// Whether the bytes start with a UTF-16LE byte-order mark.
pub fn is_utf16(bytes: &[u8]) -> bool {
    bytes.starts_with(&[0xFF, 0xFE])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn term<'a>(code: &'a str, rank: u8, id: &'a str, text: &'a str) -> Row<'a> {
        Row::Term { code, rank, id, text: Cow::Borrowed(text) }
    }

    #[test]
    fn snomed_rows() {
        let f = FileFormat::SnomedDescriptions;
        let r = f.reader(f.header().unwrap()).unwrap();
        assert!(f.reader("id,effectiveTime").is_err());
        let syn =
            "64176011\t20020131\t1\t900000000000207008\t38341003\ten\t900000000000013009\tHypertensive disorder\t900000000000448009\r";
        assert_eq!(r.parse(syn), Ok(term("38341003", SNOMED_SYNONYM_RANK, "64176011", "Hypertensive disorder")));
        let inactive = syn.replacen("\t1\t", "\t0\t", 1);
        assert_eq!(r.parse(&inactive), Ok(Row::Skip));
        let wrong_check = syn.replace("38341003", "38341004");
        assert!(r.parse(&wrong_check).unwrap_err().contains("concept id"));
        assert!(r.parse("1\t2").unwrap_err().contains("2 fields where 9"));
        let c = FileFormat::SnomedConcepts.reader(FileFormat::SnomedConcepts.header().unwrap()).unwrap();
        assert_eq!(c.parse("38341003\t20020131\t1\t900000000000207008\t900000000000074008"), Ok(Row::Concept { code: "38341003" }));
        assert_eq!(c.parse("38341003\t20020131\t0\t900000000000207008\t900000000000074008"), Ok(Row::Skip));
        assert!(c.parse("38341003\t2002\t1\tx\ty").unwrap_err().contains("YYYYMMDD"));
    }

    #[test]
    fn us_preferred_terms_from_the_language_refset() {
        let f = FileFormat::SnomedLanguage;
        assert_eq!(FileFormat::of_file("Snapshot/Refset/Language/der2_cRefset_LanguageSnapshot-en_US1000124_20250301.txt"), Some(f));
        let r = f.reader(f.header().unwrap()).unwrap();
        let row = "80e9ba6d-6a68-5b4d-ba5d-1a0d1e6d26c5\t20020131\t1\t900000000000207008\t900000000000509007\t64176011\t900000000000548007";
        assert_eq!(r.parse(row), Ok(Row::Preferred { description: "64176011" }));
        assert_eq!(r.parse(&row.replace("900000000000509007", "900000000000508004")), Ok(Row::Skip), "GB English");
        assert_eq!(r.parse(&row.replace("900000000000548007", "900000000000549004")), Ok(Row::Skip), "acceptable only");
        assert_eq!(r.parse(&row.replacen("\t1\t", "\t0\t", 1)), Ok(Row::Skip), "inactive");
        assert!(r.parse(&row.replace("64176011", "64176012")).unwrap_err().contains("description id"));
        assert!(r.parse(&row.replace("80e9ba6d-", "80e9ba6d")).unwrap_err().contains("UUID"));
    }

    #[test]
    fn rxnorm_rows() {
        let r = FileFormat::RxnConso.reader("197361|ENG||||||2328315||||RXNORM|SCD|197361|amlodipine 5 MG Oral Tablet||N|4096|").unwrap();
        let scd = "197361|ENG||||||2328315|||| |RXNORM|SCD|197361|amlodipine 5 MG Oral Tablet||N|4096|";
        let row = "197361|ENG||||||2328315||||RXNORM|SCD|197361|amlodipine 5 MG Oral Tablet||N|4096|";
        assert!(r.parse(scd).is_err(), "20 fields");
        assert_eq!(r.parse(row), Ok(term("197361", 0, "2328315", "amlodipine 5 MG Oral Tablet")));
        assert_eq!(r.parse(&row.replace("|N|", "|Y|")), Ok(Row::Skip));
        assert_eq!(r.parse(&row.replace("RXNORM", "MTHSPL")), Ok(Row::Skip));
        assert_eq!(r.parse(&row.replace("ENG", "SPA")), Ok(Row::Skip));
        assert!(r.parse("197361|ENG").is_err());
        assert!(FileFormat::RxnConso.reader("197361|ENG").is_err(), "a headerless file's first row is checked");
    }

    #[test]
    fn cvx_rows_in_either_encoding() {
        let line = "140|Influenza, seasonal, injectable, preservative free|Influenza, seasonal, injectable, preservative free||Active|141|False|2016/02/09";
        let r = FileFormat::Cvx.reader("CVX Code|CVX Short Description|Full Vaccine Name").unwrap();
        assert_eq!(r.parse(line), Ok(term("140", 1, "140", "Influenza, seasonal, injectable, preservative free")));
        assert!(r.parse("1400|x|y||Active").is_err());
        let mut utf16 = vec![0xFF, 0xFE];
        utf16.extend(line.encode_utf16().flat_map(|u| u.to_le_bytes()));
        assert!(is_utf16(&utf16));
        assert_eq!(decode(&utf16).unwrap(), line);
        assert!(decode(&[0xC3, 0x28]).is_err());
    }

    #[test]
    fn loinc_columns_by_name_and_quoted_fields() {
        let header = "\"LOINC_NUM\",\"COMPONENT\",\"STATUS\",\"SHORTNAME\",\"LONG_COMMON_NAME\"";
        let r = FileFormat::Loinc.reader(header).unwrap();
        assert!(FileFormat::Loinc.is_header(header));
        let row = "\"8480-6\",\"Intravascular systolic\",\"ACTIVE\",\"BP sys\",\"Systolic blood pressure\"";
        assert_eq!(r.parse(row), Ok(term("8480-6", 1, "8480-6", "Systolic blood pressure")));
        let quoted =
            "\"4548-4\",\"Hemoglobin A1c, \"\"total\"\"\nper line\",\"DEPRECATED\",\"HbA1c\",\"Hemoglobin A1c/Hemoglobin.total in Blood\"";
        assert_eq!(
            r.parse(quoted),
            Ok(term("4548-4", 1, "4548-4", "Hemoglobin A1c/Hemoglobin.total in Blood")),
            "a deprecated code keeps its name"
        );
        assert_eq!(
            r.parse(&row.replace("\"Systolic blood pressure\"", "\"\"")),
            Ok(term("8480-6", 1, "8480-6", "BP sys")),
            "the short name when no long one"
        );
        assert!(r.parse(&row.replace("8480-6", "8480-5")).unwrap_err().contains("LOINC code"));
        assert!(r.parse(&row.replace("ACTIVE", "GONE")).unwrap_err().contains("STATUS"));
        assert!(r.parse("\"8480-6\",\"x\"").unwrap_err().contains("2 fields where 5"));
        assert!(r.parse("\"8480-6\",\"x").unwrap_err().contains("not closed"));
        assert!(FileFormat::Loinc.reader("\"LOINC_NUM\",\"COMPONENT\"").unwrap_err().contains("STATUS"));
        let moved = FileFormat::Loinc.reader("LONG_COMMON_NAME,STATUS,LOINC_NUM").unwrap();
        assert_eq!(moved.parse("\"Body weight\",ACTIVE,29463-7"), Ok(term("29463-7", 1, "29463-7", "Body weight")));
        // A line break inside quotes continues the record.
        let text = "\"a\",\"one\ntwo\"\r\nb,c\n\nd,\"e\"";
        let got: Vec<(u64, &str)> = records(text, true).collect();
        assert_eq!(got, [(0, "\"a\",\"one\ntwo\"\r"), (2, "b,c"), (3, ""), (4, "d,\"e\"")]);
        assert_eq!(records("x\"y\nz", false).count(), 2);
    }

    #[test]
    fn cdt_lists_as_a_spreadsheet_saves_them() {
        assert_eq!(FileFormat::of_file("cdt-2026/CDT_2026.txt"), Some(FileFormat::Cdt));
        let r = FileFormat::Cdt.reader("Code\tDescription").unwrap();
        assert_eq!(r.parse("D0120\tPeriodic exam"), Ok(term("D0120", 1, "D0120", "Periodic exam")));
        assert_eq!(
            r.parse("\"D2740\"\t\"Crown, \"\"porcelain\"\" on #30\"\tother"),
            Ok(Row::Term { code: "D2740", rank: 1, id: "D2740", text: Cow::Owned("Crown, \"porcelain\" on #30".into()) })
        );
        assert!(r.parse("D012\tExam").unwrap_err().contains("CDT code"));
        assert!(r.parse("D0120 Exam").unwrap_err().contains("no tab"));
        assert!(r.parse("D0120\t ").unwrap_err().contains("empty"));
        assert!(FileFormat::Cdt.reader("D0120\tPeriodic exam").is_ok(), "a first row, no header");
    }
}
