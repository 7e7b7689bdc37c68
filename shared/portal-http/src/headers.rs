//! Security headers for API answers and for the static pages.

use axum::http::{header, HeaderMap, HeaderName, HeaderValue};

/// API answers are data, never a document to render.
pub const API_CSP: &str = "default-src 'none'; frame-ancestors 'none'";
/// The static pages load only their own scripts and styles and talk only to their own origin.
pub const PAGE_CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

fn common(h: &mut HeaderMap, csp: &'static str) {
    h.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(csp));
    h.insert(header::STRICT_TRANSPORT_SECURITY, HeaderValue::from_static("max-age=63072000; includeSubDomains"));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    h.insert(HeaderName::from_static("permissions-policy"), HeaderValue::from_static("camera=(), microphone=(), geolocation=()"));
}

/// Headers every API answer carries. PHI answers must not be cached anywhere.
pub fn api_headers(h: &mut HeaderMap) {
    common(h, API_CSP);
    h.entry(header::CACHE_CONTROL).or_insert(HeaderValue::from_static("no-store"));
}

/// Headers for the static pages.
pub fn page_headers(h: &mut HeaderMap) {
    common(h, PAGE_CSP);
    h.entry(header::CACHE_CONTROL).or_insert(HeaderValue::from_static("no-cache"));
}
