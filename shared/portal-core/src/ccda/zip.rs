//! A zip archive of a few small files, stored without compression (method 0): every unzip tool
//! opens it, and the files are small text. Local headers, the central directory and its end
//! record as PKWARE's APPNOTE describes them, with each file's CRC-32.

/// MS-DOS time and date of a unix time (UTC), as zip headers carry them (years 1980–2107).
fn dos_time(unix: i64) -> (u16, u16) {
    let t = time::OffsetDateTime::from_unix_timestamp(unix).unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    let time = (u16::from(t.hour()) << 11) | (u16::from(t.minute()) << 5) | (u16::from(t.second()) / 2);
    let years = u16::try_from((t.year() - 1980).clamp(0, 127)).unwrap_or(0);
    let date = (years << 9) | (u16::from(u8::from(t.month())) << 5) | u16::from(t.day());
    (time, date)
}

/// More than a plain (not ZIP64) archive's fields hold: 4 GiB, 65,535 files or a name that long.
#[derive(Debug, PartialEq, Eq)]
pub struct TooLarge;

/// A length, offset or count as its field's width.
fn field<T: TryFrom<usize>>(n: usize) -> Result<T, TooLarge> {
    T::try_from(n).map_err(|_| TooLarge)
}

/// The archive of `files` (name, bytes), dated `unix`.
pub fn stored(files: &[(&str, &[u8])], unix: i64) -> Result<Vec<u8>, TooLarge> {
    let (time, date) = dos_time(unix);
    let mut out = Vec::new();
    let mut central = Vec::new();
    for (name, bytes) in files {
        let offset: u32 = field(out.len())?;
        let (crc, size, name_len): (u32, u32, u16) = (crc32fast::hash(bytes), field(bytes.len())?, field(name.len())?);
        // Local file header; flag bit 11: the name is UTF-8.
        out.extend(0x0403_4b50u32.to_le_bytes());
        for v in [20u16, 0x0800, 0, time, date] {
            out.extend(v.to_le_bytes());
        }
        for v in [crc, size, size] {
            out.extend(v.to_le_bytes());
        }
        out.extend(name_len.to_le_bytes());
        out.extend(0u16.to_le_bytes());
        out.extend(name.as_bytes());
        out.extend(*bytes);
        // Its central directory record.
        central.extend(0x0201_4b50u32.to_le_bytes());
        for v in [20u16, 20, 0x0800, 0, time, date] {
            central.extend(v.to_le_bytes());
        }
        for v in [crc, size, size] {
            central.extend(v.to_le_bytes());
        }
        for v in [name_len, 0, 0, 0, 0] {
            central.extend(v.to_le_bytes());
        }
        central.extend(0u32.to_le_bytes());
        central.extend(offset.to_le_bytes());
        central.extend(name.as_bytes());
    }
    let (central_at, central_len, count): (u32, u32, u16) = (field(out.len())?, field(central.len())?, field(files.len())?);
    out.extend(central);
    out.extend(0x0605_4b50u32.to_le_bytes());
    for v in [0u16, 0, count, count] {
        out.extend(v.to_le_bytes());
    }
    out.extend(central_len.to_le_bytes());
    out.extend(central_at.to_le_bytes());
    out.extend(0u16.to_le_bytes());
    Ok(out)
}

#[cfg(test)]
mod tests {
    use std::io::Read;

    #[test]
    fn a_zip_reader_reads_back_every_file_with_its_name_date_and_crc() {
        let unix = 1_767_225_600 + 13 * 3600 + 14 * 60 + 16; // 2026-01-01 13:14:16 UTC
        let files: [(&str, &[u8]); 3] =
            [("summary.xml", b"<ClinicalDocument/>"), ("résumé.html", "<p>é</p>".as_bytes()), ("empty.txt", b"")];
        let bytes = super::stored(&files, unix).unwrap();
        let mut archive = ::zip::ZipArchive::new(std::io::Cursor::new(bytes)).expect("a zip reader opens it");
        assert_eq!(archive.len(), files.len());
        for (i, (name, content)) in files.iter().enumerate() {
            let mut entry = archive.by_index(i).unwrap();
            assert_eq!(entry.name(), *name, "the UTF-8 name");
            assert_eq!(entry.compression(), ::zip::CompressionMethod::Stored);
            let modified = entry.last_modified().unwrap();
            assert_eq!((modified.year(), modified.month(), modified.day()), (2026, 1, 1));
            assert_eq!((modified.hour(), modified.minute(), modified.second()), (13, 14, 16));
            let mut read = vec![];
            // Reading to the end checks the entry's CRC-32.
            entry.read_to_end(&mut read).expect("the CRC matches");
            assert_eq!(read, *content);
        }
    }

    #[test]
    fn what_its_fields_cannot_hold_is_refused_not_cut() {
        let long = "n".repeat(65_536);
        assert_eq!(super::stored(&[(&long, b"x")], 0), Err(super::TooLarge));
        assert!(super::stored(&[(&long[1..], b"x")], 0).is_ok());
    }
}
