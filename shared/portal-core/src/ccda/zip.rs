//! A zip archive of a few small files, stored without compression (method 0): every unzip tool
//! opens it, and the files are small text. Local headers, the central directory and its end
//! record as PKWARE's APPNOTE describes them, with each file's CRC-32.

/// The CRC-32 (IEEE 802.3) of `data`: what zip records for each file (and PNG for each chunk).
pub fn crc32(data: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &b in data {
        crc ^= b as u32;
        for _ in 0..8 {
            crc = if crc & 1 != 0 { (crc >> 1) ^ 0xEDB8_8320 } else { crc >> 1 };
        }
    }
    !crc
}

/// MS-DOS time and date of a unix time (UTC), as zip headers carry them.
fn dos_time(unix: i64) -> (u16, u16) {
    let t = time::OffsetDateTime::from_unix_timestamp(unix).unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    let time = ((t.hour() as u16) << 11) | ((t.minute() as u16) << 5) | (t.second() as u16 / 2);
    let date = (((t.year() - 1980).max(0) as u16) << 9) | ((t.month() as u16) << 5) | t.day() as u16;
    (time, date)
}

/// The archive of `files` (name, bytes), dated `unix`.
pub fn stored(files: &[(&str, &[u8])], unix: i64) -> Vec<u8> {
    let (time, date) = dos_time(unix);
    let mut out = Vec::new();
    let mut central = Vec::new();
    for (name, bytes) in files {
        let offset = out.len() as u32;
        let (crc, size, name_len) = (crc32(bytes), bytes.len() as u32, name.len() as u16);
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
    let (central_at, central_len) = (out.len() as u32, central.len() as u32);
    out.extend(central);
    out.extend(0x0605_4b50u32.to_le_bytes());
    for v in [0u16, 0, files.len() as u16, files.len() as u16] {
        out.extend(v.to_le_bytes());
    }
    out.extend(central_len.to_le_bytes());
    out.extend(central_at.to_le_bytes());
    out.extend(0u16.to_le_bytes());
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn crc_of_a_known_string() {
        assert_eq!(super::crc32(b"123456789"), 0xCBF4_3926);
    }
}
