//! Renders a [`Mail`] as an RFC 5322 / MIME message (S/MIME enveloped data when it is sealed for
//! a certificate): what SES `SendRawEmail` takes and what the local outbox stores as `.eml`.

use crate::ports::Mail;
use base64::Engine;
use std::fmt::Write as _;

fn b64(bytes: &[u8]) -> String {
    let s = base64::engine::general_purpose::STANDARD.encode(bytes);
    // MIME wants lines of at most 76 characters.
    s.as_bytes().chunks(76).map(|c| std::str::from_utf8(c).unwrap_or_default()).collect::<Vec<_>>().join("\r\n")
}

/// RFC 2047 encoded-word for non-ASCII header text; header injection is impossible since CR/LF are
/// removed first.
fn header_text(s: &str) -> String {
    let s: String = s.chars().filter(|c| *c != '\r' && *c != '\n').collect();
    if s.is_ascii() {
        s
    } else {
        format!("=?UTF-8?B?{}?=", base64::engine::general_purpose::STANDARD.encode(s.as_bytes()))
    }
}

fn address(s: &str) -> String {
    s.chars().filter(|c| !c.is_control()).collect()
}

/// RFC 2822 date of a unix time, for the Date header.
pub fn rfc2822(unix_seconds: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(unix_seconds)
        .ok()
        .and_then(|t| t.format(&time::format_description::well_known::Rfc2822).ok())
        .unwrap_or_default()
}

/// The message as bytes: `sent_at` (unix seconds) gives the Date header, `message_id` the
/// Message-ID. A mail sealed for a certificate ([`Mail::sealed_for`]) goes out as S/MIME
/// enveloped data: its whole content (text and attachments) is inside, only the headers outside.
pub fn render(mail: &Mail, sent_at: i64, message_id: &str) -> Result<Vec<u8>, String> {
    let mut out = String::new();
    let _ = write!(out, "From: {}\r\n", address(&mail.from));
    let _ = write!(out, "To: {}\r\n", mail.to.iter().map(|a| address(a)).collect::<Vec<_>>().join(", "));
    let _ = write!(out, "Subject: {}\r\n", header_text(&mail.subject));
    let _ = write!(out, "Date: {}\r\n", rfc2822(sent_at));
    let _ = write!(out, "Message-ID: <{message_id}>\r\n");
    out.push_str("MIME-Version: 1.0\r\n");
    match &mail.sealed_for {
        None => out.push_str(&entity(mail)),
        Some(certificate) => {
            let sealed = crate::smime::seal(entity(mail).as_bytes(), certificate)?;
            out.push_str("Content-Type: application/pkcs7-mime; smime-type=enveloped-data; name=\"smime.p7m\"\r\n");
            out.push_str("Content-Disposition: attachment; filename=\"smime.p7m\"\r\nContent-Transfer-Encoding: base64\r\n\r\n");
            out.push_str(&b64(&sealed));
            out.push_str("\r\n");
        }
    }
    Ok(out.into_bytes())
}

/// The mail's content as one MIME entity: its Content-Type header, a blank line, the body.
fn entity(mail: &Mail) -> String {
    let boundary_mixed = format!("mixed-{}", crate::ids::new_id());
    let boundary_alt = format!("alt-{}", crate::ids::new_id());
    let mut out = String::new();
    let _ = write!(out, "Content-Type: multipart/mixed; boundary=\"{boundary_mixed}\"\r\n\r\n");
    let _ = write!(out, "--{boundary_mixed}\r\n");
    let _ = write!(out, "Content-Type: multipart/alternative; boundary=\"{boundary_alt}\"\r\n\r\n");
    let _ = write!(out, "--{boundary_alt}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n");
    out.push_str(&b64(mail.text.as_bytes()));
    out.push_str("\r\n");
    if let Some(html) = &mail.html {
        let _ = write!(out, "--{boundary_alt}\r\nContent-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n");
        out.push_str(&b64(html.as_bytes()));
        out.push_str("\r\n");
    }
    let _ = write!(out, "--{boundary_alt}--\r\n");
    for a in &mail.attachments {
        let name = header_text(&a.filename).replace('"', "");
        let _ = write!(
            out,
            "--{boundary_mixed}\r\nContent-Type: {}; name=\"{name}\"\r\nContent-Disposition: attachment; filename=\"{name}\"\r\nContent-Transfer-Encoding: base64\r\n\r\n",
            address(&a.content_type)
        );
        out.push_str(&b64(&a.bytes));
        out.push_str("\r\n");
    }
    let _ = write!(out, "--{boundary_mixed}--\r\n");
    out
}

/// Reads the decoded text/plain part back out of a message rendered by [`render`] (for outbox
/// views and tests).
pub fn text_part(raw: &str) -> Option<String> {
    let start = raw.find("Content-Type: text/plain")?;
    let body_start = raw[start..].find("\r\n\r\n")? + start + 4;
    let body_end = raw[body_start..].find("\r\n--")? + body_start;
    let joined: String = raw[body_start..body_end].split("\r\n").collect();
    let bytes = base64::engine::general_purpose::STANDARD.decode(joined).ok()?;
    String::from_utf8(bytes).ok()
}

/// The decoded Subject header.
pub fn subject(raw: &str) -> Option<String> {
    let line = raw.lines().find(|l| l.starts_with("Subject: "))?;
    let v = &line["Subject: ".len()..];
    if let Some(enc) = v.strip_prefix("=?UTF-8?B?").and_then(|r| r.strip_suffix("?=")) {
        let bytes = base64::engine::general_purpose::STANDARD.decode(enc).ok()?;
        return String::from_utf8(bytes).ok();
    }
    Some(v.to_string())
}

/// The `Content-Disposition` that makes a browser save a blob under `download_name`. Quotes,
/// backslashes and anything outside printable ASCII are dropped, so the name cannot break out of
/// the header.
pub fn attachment_disposition(download_name: &str) -> String {
    let safe: String = download_name.chars().filter(|c| (c.is_ascii_graphic() && *c != '"' && *c != '\\') || *c == ' ').collect();
    format!("attachment; filename=\"{safe}\"")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ports::Attachment;

    #[test]
    fn renders_parts_and_reads_them_back() {
        let mail = Mail {
            from: "Office <office@example.com>".into(),
            to: vec!["pat@example.com".into()],
            subject: "Nouveau message\r\nBcc: evil@example.com é".into(),
            text: "Hello, you have a message. ".repeat(10),
            html: Some("<p>Hello</p>".into()),
            attachments: vec![Attachment { filename: "a.pdf".into(), content_type: "application/pdf".into(), bytes: b"%PDF-1.4".to_vec() }],
            sealed_for: None,
            about: crate::ports::MailRef::new(
                &crate::ids::PracticeId::parse("lakeside").unwrap(),
                crate::ports::MailKind::WebMailNotification,
                "t1-s1",
                Some("pat-1001"),
            ),
        };
        let raw = String::from_utf8(render(&mail, 1_795_000_000, "x@portal").unwrap()).unwrap();
        assert!(raw.contains("Date: Wed, 18 Nov 2026 11:06:40 +0000\r\n"));
        assert!(!raw.contains("\r\nBcc:"));
        assert_eq!(subject(&raw).unwrap(), "Nouveau messageBcc: evil@example.com é");
        assert_eq!(text_part(&raw).unwrap(), mail.text);
        assert!(raw.contains("filename=\"a.pdf\""));
        assert!(raw.lines().all(|l| l.len() <= 998));
    }
}
