//! The releases a practice can import: folders under its release location in the blob store
//! (`{practice}/code-systems/releases/{release}/…` — an S3 prefix on AWS, a folder under the data
//! directory locally). A release is named by its folder and is of the one system its files are:
//! SNOMED CT needs the three RF2 snapshot files (concepts, English descriptions, English language
//! refset), RxNorm `RXNCONSO.RRF`, CVX `cvx.txt`, LOINC `Loinc.csv`, CDT one `cdt*.txt`. Before an import
//! starts, each file's first line is checked, so a file that is not what it claims is refused
//! at once rather than failing later.

use super::formats::{decode, FileFormat};
use super::System;
use crate::ids::PracticeId;
use crate::ports::Blobs;
use crate::{CoreError, CoreResult, ProblemCode};
use serde::{Deserialize, Serialize};

/// Where a practice's releases are.
pub fn location(practice: &PracticeId) -> String {
    format!("{practice}/code-systems/releases/")
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReleaseFile {
    /// The blob key.
    pub key: String,
    /// The path inside the release.
    pub name: String,
    pub size: u64,
    pub format: FileFormat,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Release {
    pub name: String,
    /// `None` when the folder is not a release of any system (`problem` says why).
    pub system: Option<System>,
    /// The files the import reads, in the order it reads them.
    pub files: Vec<ReleaseFile>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub problem: Option<String>,
}

/// A release name is one plain folder name.
pub fn check_name(name: &str) -> CoreResult<()> {
    let ok = !name.is_empty()
        && name.len() <= 120
        && !name.starts_with('.')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
    if ok {
        Ok(())
    } else {
        Err(CoreError::invalid(ProblemCode::ReleaseInvalid, "release: a folder name of letters, digits, '-', '_' and '.' (at most 120)."))
    }
}

pub struct Releases<'a> {
    pub blobs: &'a dyn Blobs,
}

impl Releases<'_> {
    /// Every folder in the practice's release location, recognised or not, by name.
    pub async fn list(&self, practice: &PracticeId) -> CoreResult<Vec<Release>> {
        let root = location(practice);
        let listed = self.blobs.list(&root).await.map_err(CoreError::backend)?;
        let mut folders: std::collections::BTreeMap<String, Vec<ReleaseFile>> = Default::default();
        for object in listed {
            let Some((folder, name)) = object.key[root.len()..].split_once('/') else { continue };
            let files = folders.entry(folder.to_string()).or_default();
            if let Some(format) = FileFormat::of_file(name) {
                files.push(ReleaseFile { key: object.key.clone(), name: name.to_string(), size: object.size, format });
            }
        }
        Ok(folders.into_iter().map(|(name, files)| identify(name, files)).collect())
    }

    /// One release, ready to import: recognised, and every file's first line is its format's.
    /// Unknown, not a release, or a file not its format → 422 naming which.
    pub async fn find(&self, practice: &PracticeId, name: &str) -> CoreResult<Release> {
        check_name(name)?;
        let release = self.list(practice).await?.into_iter().find(|r| r.name == name).ok_or_else(|| CoreError::Unprocessable {
            code: ProblemCode::ReleaseUnknown,
            detail: format!("There is no release '{name}' in the practice's release location."),
        })?;
        if let Some(problem) = &release.problem {
            return Err(CoreError::Unprocessable { code: ProblemCode::ReleaseNotRecognised, detail: problem.clone() });
        }
        for file in &release.files {
            let head = self.blobs.get_range(&file.key, 0, 4096).await.map_err(CoreError::backend)?.unwrap_or_default();
            let first = first_line(&head);
            let checked = first.and_then(|line| file.format.reader(&line).map(|_| ()));
            if let Err(why) = checked {
                return Err(CoreError::Unprocessable {
                    code: ProblemCode::ReleaseFormatWrong,
                    detail: format!("{} is not a {} file: {why}.", file.name, file.format.system().title()),
                });
            }
        }
        Ok(release)
    }
}

/// The first line of the start of a file, decoded.
pub(crate) fn first_line(head: &[u8]) -> Result<String, String> {
    if head.is_empty() {
        return Err("the file is empty".into());
    }
    // A piece may end inside a character or a UTF-16 unit: cut it at the first line break.
    let end = if super::formats::is_utf16(head) {
        head.windows(2).step_by(2).position(|w| w == [b'\n', 0]).map_or(head.len() & !1, |i| i * 2)
    } else {
        head.iter().position(|b| *b == b'\n').unwrap_or(head.len())
    };
    let text = decode(&head[..end])?;
    Ok(text.trim_end_matches('\r').to_string())
}

fn identify(name: String, mut files: Vec<ReleaseFile>) -> Release {
    let systems: std::collections::BTreeSet<System> = files.iter().map(|f| f.format.system()).collect();
    let problem = match systems.len() {
        0 => Some(format!(
            "'{name}' holds no release file (SNOMED CT's RF2 snapshot, RxNorm's RXNCONSO.RRF, CVX's cvx.txt, LOINC's Loinc.csv or a cdt*.txt list)."
        )),
        1 => None,
        _ => Some(format!("'{name}' holds files of more than one code system; put each release in its own folder.")),
    };
    let system = if problem.is_none() { systems.into_iter().next() } else { None };
    let problem = problem.or_else(|| match system {
        Some(System::SnomedCt) => {
            let has = |f: FileFormat| files.iter().filter(|x| x.format == f).count();
            match (has(FileFormat::SnomedConcepts), has(FileFormat::SnomedDescriptions), has(FileFormat::SnomedLanguage)) {
                (1, 1, 1) => None,
                _ => Some(format!(
                    "'{name}' needs exactly one each of sct2_Concept_Snapshot, sct2_Description_Snapshot-en and der2_cRefset_LanguageSnapshot-en (the US preferred names come from it)."
                )),
            }
        }
        _ if files.len() > 1 => Some(format!("'{name}' holds more than one {} file.", files[0].format.system().title())),
        _ => None,
    });
    // Concepts before descriptions: the order the batches are cut in.
    files.sort_by_key(|f| (f.format != FileFormat::SnomedConcepts, f.name.clone()));
    Release { name, system: if problem.is_none() { system } else { None }, files, problem }
}
