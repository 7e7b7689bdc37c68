//! Which URLs the portal may store and request. Verifying a portal URL makes the server fetch it, so
//! outside local mode it must never reach loopback, private, link-local or other internal addresses
//! (that would let a staff account probe the inside of the cloud account).

use crate::{CoreError, CoreResult, ProblemCode};
use std::net::IpAddr;
use url::Url;

/// The URL rules that differ between local mode and the cloud.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UrlRules {
    /// Local mode: http allowed for the patient-facing URL, internal addresses may be verified.
    pub local_mode: bool,
}

pub const MAX_URL_LEN: usize = 2048;

/// Parses and checks a URL a staff member enters. Only http(s), no credentials in it; https unless
/// `allow_http`.
pub fn parse_portal_url(raw: &str, field: &str, allow_http: bool) -> CoreResult<Url> {
    let raw = raw.trim();
    if raw.len() > MAX_URL_LEN {
        return Err(CoreError::invalid(ProblemCode::UrlTooLong, format!("{field} is longer than {MAX_URL_LEN} characters.")));
    }
    let url = Url::parse(raw).map_err(|_| CoreError::invalid(ProblemCode::UrlInvalid, format!("{field} is not a valid URL.")))?;
    match url.scheme() {
        "https" => {}
        "http" if allow_http => {}
        "http" => return Err(CoreError::invalid(ProblemCode::UrlNotHttps, format!("{field} must start with https://."))),
        _ => return Err(CoreError::invalid(ProblemCode::UrlInvalid, format!("{field} must be an https:// address."))),
    }
    if url.host_str().is_none_or(|h| h.is_empty()) {
        return Err(CoreError::invalid(ProblemCode::UrlInvalid, format!("{field} has no host.")));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(CoreError::invalid(ProblemCode::UrlInvalid, format!("{field} must not contain a user name or password.")));
    }
    Ok(url)
}

/// True when an address is not on the public internet: loopback, private (RFC 1918, ULA),
/// link-local (including the cloud metadata service at 169.254.169.254), CGNAT, unspecified,
/// multicast, broadcast, documentation and benchmarking ranges, and IPv4-mapped forms of those.
pub fn is_internal(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_multicast()
                || v4.is_documentation()
                || o[0] == 0
                || (o[0] == 100 && (64..=127).contains(&o[1])) // CGNAT 100.64/10
                || (o[0] == 192 && o[1] == 0 && o[2] == 0) // IETF protocol assignments
                || (o[0] == 198 && (18..=19).contains(&o[1])) // benchmarking
                || o[0] >= 240 // reserved
        }
        IpAddr::V6(v6) => {
            let s = v6.segments();
            v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (s[0] & 0xfe00) == 0xfc00 // unique local
                || (s[0] & 0xffc0) == 0xfe80 // link-local
                || (s[0] & 0xffc0) == 0xfec0 // site-local (deprecated, still routed inside some networks)
                || (s[0] == 0x2001 && s[1] == 0x0db8) // documentation
                || (s[0] == 0x64 && s[1] == 0xff9b) // NAT64 (well-known and local-use) can reach IPv4 internals
                || (s[0] == 0x2001 && s[1] == 0) // Teredo tunnels to an IPv4 address
                || embedded_ipv4(&v6).is_some_and(|v4| is_internal(IpAddr::V4(v4)))
        }
    }
}

/// The IPv4 address an IPv6 address carries, in every form a resolver or a URL could hand us:
/// IPv4-mapped (`::ffff:a.b.c.d`), IPv4-compatible (`::a.b.c.d`), IPv4-translated
/// (`::ffff:0:a.b.c.d`) and 6to4 (`2002:AABB:CCDD::`).
fn embedded_ipv4(v6: &std::net::Ipv6Addr) -> Option<std::net::Ipv4Addr> {
    let s = v6.segments();
    let o = v6.octets();
    let last = || std::net::Ipv4Addr::new(o[12], o[13], o[14], o[15]);
    match s {
        [0, 0, 0, 0, 0, 0xffff, _, _] | [0, 0, 0, 0, 0, 0, _, _] | [0, 0, 0, 0, 0xffff, 0, _, _] => Some(last()),
        [0x2002, hi, lo, ..] => Some(std::net::Ipv4Addr::from((u32::from(hi) << 16) | u32::from(lo))),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_ranges() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "::1",
            "fe80::1",
            "fd00::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "::127.0.0.1",
            "::ffff:0:7f00:1",
            "2002:7f00:1::",
            "2002:a9fe:a9fe::1",
            "64:ff9b::8.8.8.8",
            "2001:0:4136:e378:8000:63bf:3fff:fdd2",
        ] {
            assert!(is_internal(ip.parse().unwrap()), "{ip}");
        }
        for ip in ["93.184.216.34", "8.8.8.8", "2606:4700::1111", "::ffff:8.8.8.8", "2002:808:808::1"] {
            assert!(!is_internal(ip.parse().unwrap()), "{ip}");
        }
    }

    #[test]
    fn portal_urls() {
        assert!(parse_portal_url("https://portal.example.com/x", "URL", false).is_ok());
        assert_eq!(parse_portal_url("http://portal.example.com", "URL", false).unwrap_err().code(), "url_not_https");
        assert!(parse_portal_url("http://portal.example.com", "URL", true).is_ok());
        assert_eq!(parse_portal_url("javascript:alert(1)", "URL", true).unwrap_err().code(), "url_invalid");
        assert_eq!(parse_portal_url("https://u:p@example.com", "URL", false).unwrap_err().code(), "url_invalid");
        assert_eq!(parse_portal_url("not a url", "URL", false).unwrap_err().code(), "url_invalid");
    }
}
