//! The release files of the code systems, read one line at a time, borrowing from the line (no
//! copy per row): SNOMED CT RF2 snapshots (concepts and English descriptions, tab-separated with a
//! header), RxNorm's `RXNCONSO.RRF` (pipe-delimited, no header) and the CDC's `cvx.txt`
//! (pipe-delimited, UTF-8 or UTF-16LE with a byte-order mark). A line that is not the format says
//! why; nothing is guessed.

use super::{is_cvx, is_rxnorm, is_snomed, System};
use serde::{Deserialize, Serialize};

/// SNOMED CT's description type of a fully specified name, "Disorder (disorder)".
const SNOMED_FSN: &str = "900000000000003001";
/// SNOMED CT's description type of a synonym: the names clinicians read.
const SNOMED_SYNONYM: &str = "900000000000013009";

/// RxNorm term types in the order their names are preferred for display: clinical and branded
/// drugs and packs first, then the prescribable name, drug groups, forms and components, then
/// ingredients and brand names.
const RXNORM_TTY: [&str; 17] =
    ["SCD", "SBD", "GPCK", "BPCK", "PSN", "SCDG", "SBDG", "SCDF", "SBDF", "SCDC", "SBDC", "IN", "PIN", "MIN", "BN", "SY", "TMSY"];

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FileFormat {
    /// `sct2_Concept_Snapshot_*.txt`
    SnomedConcepts,
    /// `sct2_Description_Snapshot-en_*.txt`
    SnomedDescriptions,
    /// `RXNCONSO.RRF`
    RxnConso,
    /// `cvx.txt`
    Cvx,
}

/// What one line holds for the import.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Row<'a> {
    /// Nothing to import: an inactive row, another source or language, a definition.
    Skip,
    /// An active concept: the code is current (SNOMED CT).
    Concept { code: &'a str },
    /// A name of a code. The lowest `rank` is the preferred one; `id` tells names of one rank apart.
    Term { code: &'a str, rank: u8, id: &'a str, text: &'a str },
}

/// The longest name kept (SNOMED CT allows 255 characters for a synonym, RxNorm names run longer).
const MAX_TERM: usize = 3000;

impl FileFormat {
    /// The format of a release file, by its name (the path inside the release).
    pub fn of_file(path: &str) -> Option<FileFormat> {
        let name = path.rsplit('/').next().unwrap_or(path);
        if name.starts_with("sct2_Concept_Snapshot_") && name.ends_with(".txt") {
            Some(FileFormat::SnomedConcepts)
        } else if name.starts_with("sct2_Description_Snapshot-en_") && name.ends_with(".txt") {
            Some(FileFormat::SnomedDescriptions)
        } else if name.eq_ignore_ascii_case("RXNCONSO.RRF") {
            Some(FileFormat::RxnConso)
        } else if name.eq_ignore_ascii_case("cvx.txt") {
            Some(FileFormat::Cvx)
        } else {
            None
        }
    }

    pub fn system(self) -> System {
        match self {
            FileFormat::SnomedConcepts | FileFormat::SnomedDescriptions => System::SnomedCt,
            FileFormat::RxnConso => System::RxNorm,
            FileFormat::Cvx => System::Cvx,
        }
    }

    /// The first line, exactly, for formats that have one.
    pub fn header(self) -> Option<&'static str> {
        match self {
            FileFormat::SnomedConcepts => Some("id\teffectiveTime\tactive\tmoduleId\tdefinitionStatusId"),
            FileFormat::SnomedDescriptions => {
                Some("id\teffectiveTime\tactive\tmoduleId\tconceptId\tlanguageCode\ttypeId\tterm\tcaseSignificanceId")
            }
            FileFormat::RxnConso | FileFormat::Cvx => None,
        }
    }

    /// Whether `line` (the file's first) is a header to pass over rather than a row.
    pub fn is_header(self, line: &str) -> bool {
        match self {
            FileFormat::Cvx => line.trim_start_matches('\u{feff}').trim().starts_with("CVX Code|"),
            _ => self.header().is_some(),
        }
    }

    /// Checks a file's first line: its header, or for a headerless format its first row.
    pub fn check_first_line(self, line: &str) -> Result<(), String> {
        let line = line.trim_start_matches('\u{feff}').trim_end_matches('\r');
        match self.header() {
            Some(h) if line == h => Ok(()),
            Some(h) => Err(format!("the first line is not the RF2 header ({} columns: {})", h.split('\t').count(), h.replace('\t', ", "))),
            None if self.is_header(line) => Ok(()),
            None => self.parse(line).map(|_| ()),
        }
    }

    /// One line (without its line break) of the file.
    pub fn parse(self, line: &str) -> Result<Row<'_>, String> {
        let line = line.strip_suffix('\r').unwrap_or(line);
        match self {
            FileFormat::SnomedConcepts => snomed_concept(line),
            FileFormat::SnomedDescriptions => snomed_description(line),
            FileFormat::RxnConso => rxnconso(line),
            FileFormat::Cvx => cvx(line),
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
    Ok(match kind {
        SNOMED_SYNONYM => Row::Term { code: concept, rank: 1, id, text },
        SNOMED_FSN => Row::Term { code: concept, rank: 2, id, text },
        _ => Row::Skip,
    })
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
        Some(rank) => Row::Term { code: rxcui, rank: rank as u8, id: rxaui, text },
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
    Ok(Row::Term { code, rank: 1, id: code, text: term(short)? })
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

    #[test]
    fn snomed_rows() {
        let f = FileFormat::SnomedDescriptions;
        assert!(f.check_first_line(f.header().unwrap()).is_ok());
        assert!(f.check_first_line("id,effectiveTime").is_err());
        let syn =
            "64176011\t20020131\t1\t900000000000207008\t38341003\ten\t900000000000013009\tHypertensive disorder\t900000000000448009\r";
        assert_eq!(f.parse(syn), Ok(Row::Term { code: "38341003", rank: 1, id: "64176011", text: "Hypertensive disorder" }));
        let inactive = syn.replacen("\t1\t", "\t0\t", 1);
        assert_eq!(f.parse(&inactive), Ok(Row::Skip));
        let wrong_check = syn.replace("38341003", "38341004");
        assert!(f.parse(&wrong_check).unwrap_err().contains("concept id"));
        assert!(f.parse("1\t2").unwrap_err().contains("2 fields where 9"));
        let c = FileFormat::SnomedConcepts;
        assert_eq!(c.parse("38341003\t20020131\t1\t900000000000207008\t900000000000074008"), Ok(Row::Concept { code: "38341003" }));
        assert_eq!(c.parse("38341003\t20020131\t0\t900000000000207008\t900000000000074008"), Ok(Row::Skip));
        assert!(c.parse("38341003\t2002\t1\tx\ty").unwrap_err().contains("YYYYMMDD"));
    }

    #[test]
    fn rxnorm_rows() {
        let scd = "197361|ENG||||||2328315|||| |RXNORM|SCD|197361|amlodipine 5 MG Oral Tablet||N|4096|";
        let row = "197361|ENG||||||2328315||||RXNORM|SCD|197361|amlodipine 5 MG Oral Tablet||N|4096|";
        assert!(FileFormat::RxnConso.parse(scd).is_err(), "20 fields");
        assert_eq!(
            FileFormat::RxnConso.parse(row),
            Ok(Row::Term { code: "197361", rank: 0, id: "2328315", text: "amlodipine 5 MG Oral Tablet" })
        );
        assert_eq!(FileFormat::RxnConso.parse(&row.replace("|N|", "|Y|")), Ok(Row::Skip));
        assert_eq!(FileFormat::RxnConso.parse(&row.replace("RXNORM", "MTHSPL")), Ok(Row::Skip));
        assert_eq!(FileFormat::RxnConso.parse(&row.replace("ENG", "SPA")), Ok(Row::Skip));
        assert!(FileFormat::RxnConso.parse("197361|ENG").is_err());
    }

    #[test]
    fn cvx_rows_in_either_encoding() {
        let line = "140|Influenza, seasonal, injectable, preservative free|Influenza, seasonal, injectable, preservative free||Active|141|False|2016/02/09";
        assert_eq!(
            FileFormat::Cvx.parse(line),
            Ok(Row::Term { code: "140", rank: 1, id: "140", text: "Influenza, seasonal, injectable, preservative free" })
        );
        assert!(FileFormat::Cvx.parse("1400|x|y||Active").is_err());
        let mut utf16 = vec![0xFF, 0xFE];
        utf16.extend(line.encode_utf16().flat_map(|u| u.to_le_bytes()));
        assert!(is_utf16(&utf16));
        assert_eq!(decode(&utf16).unwrap(), line);
        assert!(decode(&[0xC3, 0x28]).is_err());
        assert!(FileFormat::Cvx.is_header("CVX Code|CVX Short Description|Full Vaccine Name"));
    }
}
