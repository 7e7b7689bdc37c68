//! The file that comes with a statement or document: declared by the system (type, size, name),
//! uploaded to a presigned URL that pins type and size, then checked before anyone may see it.

use super::rules::{bad, text};
use crate::CoreResult;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FileMeta {
    pub content_type: String,
    pub size: u64,
    pub file_name: String,
}

/// Where an entity's file stands. Only `Available` files exist for patients.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FileStatus {
    /// Declared, not uploaded or not checked yet.
    Pending,
    /// Uploaded and of the declared size and type.
    Available,
    /// Uploaded but refused (and deleted); the system must upload it again.
    Rejected,
}

pub const MAX_FILE_BYTES: u64 = 50 * 1024 * 1024;
pub const FILE_TYPES: [&str; 4] = ["application/pdf", "image/jpeg", "image/png", "image/tiff"];

pub(crate) fn check_file(f: &FileMeta, types: &[&str]) -> CoreResult<()> {
    if !types.contains(&f.content_type.as_str()) {
        return Err(bad("file.contentType", format!("one of {}", types.join(", "))));
    }
    if f.size == 0 || f.size > MAX_FILE_BYTES {
        return Err(bad("file.size", format!("1 byte to {} MiB", MAX_FILE_BYTES / 1024 / 1024)));
    }
    text("file.fileName", &f.file_name, 1, 200)?;
    if f.file_name.contains(['/', '\\', '"']) {
        return Err(bad("file.fileName", "a plain file name"));
    }
    Ok(())
}

/// Whether the first bytes of a file are those of its declared type.
pub fn bytes_match_type(content_type: &str, head: &[u8]) -> bool {
    match content_type {
        "application/pdf" => head.starts_with(b"%PDF-"),
        "image/jpeg" => head.starts_with(&[0xFF, 0xD8, 0xFF]),
        "image/png" => head.starts_with(b"\x89PNG\r\n\x1a\n"),
        "image/tiff" => head.starts_with(b"II*\0") || head.starts_with(b"MM\0*"),
        _ => false,
    }
}

/// Whether an uploaded file may be published: present, of the declared size, and with the bytes of
/// the declared type. The error says why not, in words for the practice's developer.
pub fn check_upload(declared: &FileMeta, bytes: Option<&[u8]>) -> Result<(), &'static str> {
    match bytes {
        None => Err("no file has been uploaded yet"),
        Some(b) if b.len() as u64 != declared.size => Err("the file's size differs from the declared one"),
        Some(b) if !bytes_match_type(&declared.content_type, &b[..b.len().min(16)]) => Err("the file's bytes are not of its declared type"),
        Some(_) => Ok(()),
    }
}
