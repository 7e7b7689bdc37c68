//! Full-size SNOMED CT RF2 snapshot files in the exact format, made up: licensed releases cannot
//! ship with the portal, so the benchmark (and the resume-after-kill test) import these. Ids are
//! real SCTIDs in form (item, partition `00` for concepts and `01` for descriptions, Verhoeff
//! check digit); each concept has a fully specified name and two synonyms, and about one row in
//! ten is inactive, as in a real release.

use portal_core::code_systems::verhoeff_check_digit;
use std::io::Write;
use std::path::Path;

const WORDS: [&str; 24] = [
    "acute",
    "chronic",
    "disorder",
    "of",
    "upper",
    "lower",
    "left",
    "right",
    "molar",
    "incisor",
    "gingival",
    "periodontal",
    "abscess",
    "caries",
    "fracture",
    "lesion",
    "structure",
    "procedure",
    "tooth",
    "pulp",
    "enamel",
    "root",
    "canal",
    "crown",
];

fn sctid(item: u64, partition: &str) -> String {
    let body = format!("{item}{partition}");
    let check = verhoeff_check_digit(&body);
    format!("{body}{check}")
}

fn words(seed: u64, n: usize) -> String {
    let pick = |i: usize| (seed >> (i * 3)).wrapping_add(i as u64 * 7) % WORDS.len() as u64;
    (0..n).map(|i| WORDS[usize::try_from(pick(i)).unwrap_or(0)]).collect::<Vec<_>>().join(" ")
}

/// Writes `{dir}/Snapshot/Terminology/sct2_{Concept,Description}_…` with about `descriptions`
/// description rows (a third as many concepts) and `{dir}/Snapshot/Refset/Language/der2_…`
/// with a US English row for each (the FSN and the first synonym preferred, the second
/// acceptable); answers the data lines written.
pub fn write_snomed_release(dir: &Path, descriptions: u64) -> std::io::Result<u64> {
    let terms = dir.join("Snapshot/Terminology");
    let refsets = dir.join("Snapshot/Refset/Language");
    std::fs::create_dir_all(&terms)?;
    std::fs::create_dir_all(&refsets)?;
    let mut concepts = std::io::BufWriter::new(std::fs::File::create(terms.join("sct2_Concept_Snapshot_INT_20250101.txt"))?);
    let mut names = std::io::BufWriter::new(std::fs::File::create(terms.join("sct2_Description_Snapshot-en_INT_20250101.txt"))?);
    let mut language = std::io::BufWriter::new(std::fs::File::create(refsets.join("der2_cRefset_LanguageSnapshot-en_INT_20250101.txt"))?);
    concepts.write_all(b"id\teffectiveTime\tactive\tmoduleId\tdefinitionStatusId\r\n")?;
    names.write_all(b"id\teffectiveTime\tactive\tmoduleId\tconceptId\tlanguageCode\ttypeId\tterm\tcaseSignificanceId\r\n")?;
    language.write_all(b"id\teffectiveTime\tactive\tmoduleId\trefsetId\treferencedComponentId\tacceptabilityId\r\n")?;
    let mut lines = 0;
    for n in 0..descriptions.div_ceil(3) {
        let concept = sctid(100_000 + n, "00");
        let active = if n % 10 == 9 { 0 } else { 1 };
        writeln!(concepts, "{concept}\t20020131\t{active}\t900000000000207008\t900000000000074008\r")?;
        let name = words(n.wrapping_mul(0x9E37_79B9_7F4A_7C15), 3 + (n % 4) as usize);
        let rows = [
            ("900000000000003001", format!("{name} (disorder)")),
            ("900000000000013009", name.clone()),
            ("900000000000013009", format!("{name}, {}", words(n, 2))),
        ];
        for (i, (kind, term)) in rows.iter().enumerate() {
            let id = sctid(200_000 + n * 3 + i as u64, "01");
            let active = if (n + i as u64) % 11 == 10 { 0 } else { 1 };
            writeln!(names, "{id}\t20170731\t{active}\t900000000000207008\t{concept}\ten\t{kind}\t{term}\t900000000000448009\r")?;
            let member = n * 3 + i as u64;
            let acceptability = if i == 2 { "900000000000549004" } else { "900000000000548007" };
            writeln!(
                language,
                "{:08x}-0000-4000-8000-{member:012x}\t20170731\t1\t900000000000207008\t900000000000509007\t{id}\t{acceptability}\r",
                member >> 16
            )?;
        }
        lines += 7;
    }
    concepts.flush()?;
    names.flush()?;
    language.flush()?;
    Ok(lines)
}
