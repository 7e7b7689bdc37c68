//! Security headers for API answers and for the static pages.

use axum::http::{header, HeaderMap, HeaderName, HeaderValue};

/// API answers are data, never a document to render.
pub const API_CSP: &str = "default-src 'none'; frame-ancestors 'none'";
/// The static pages load only their own scripts and styles and talk only to their own origin.
pub const PAGE_CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

/// The payment page's policy: the page's own, plus the card processor's script, its frames (the
/// card fields, a bank's 3-D Secure check) and its API, named by their origins — the only page
/// that may load anything from elsewhere. Stripe: `pay_page_csp("https://js.stripe.com",
/// "https://api.stripe.com")` (what `infra/template.yaml`'s `PayPageHeaders` sets).
pub fn pay_page_csp(script_origin: &str, api_origin: &str) -> String {
    let frames = if script_origin == "https://js.stripe.com" {
        format!("{script_origin} https://hooks.stripe.com")
    } else {
        script_origin.to_string()
    };
    format!(
        "default-src 'none'; script-src 'self' {script_origin}; frame-src {frames}; connect-src 'self' {api_origin}; style-src 'self'; img-src 'self' data:; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
    )
}

/// The origin (`scheme://host[:port]`) of an absolute URL; `None` for anything else.
pub fn origin_of(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    let host = rest.split(['/', '?', '#']).next().filter(|h| !h.is_empty() && !h.contains('@'))?;
    matches!(scheme, "https" | "http").then(|| format!("{scheme}://{host}"))
}

fn common(h: &mut HeaderMap, csp: HeaderValue) {
    h.insert(header::CONTENT_SECURITY_POLICY, csp);
    h.insert(header::STRICT_TRANSPORT_SECURITY, HeaderValue::from_static("max-age=63072000; includeSubDomains"));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    h.insert(HeaderName::from_static("permissions-policy"), HeaderValue::from_static("camera=(), microphone=(), geolocation=()"));
}

/// Headers every API answer carries. PHI answers must not be cached anywhere.
pub fn api_headers(h: &mut HeaderMap) {
    common(h, HeaderValue::from_static(API_CSP));
    h.entry(header::CACHE_CONTROL).or_insert(HeaderValue::from_static("no-store"));
}

/// Headers for the static pages.
pub fn page_headers(h: &mut HeaderMap) {
    common(h, HeaderValue::from_static(PAGE_CSP));
    h.entry(header::CACHE_CONTROL).or_insert(HeaderValue::from_static("no-cache"));
}

/// Headers for the payment page (`csp` from [`pay_page_csp`]).
pub fn pay_page_headers(h: &mut HeaderMap, csp: &str) {
    common(h, HeaderValue::from_str(csp).unwrap_or(HeaderValue::from_static(PAGE_CSP)));
    h.entry(header::CACHE_CONTROL).or_insert(HeaderValue::from_static("no-cache"));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pay_page_policy_names_only_the_processors_origins() {
        assert_eq!(origin_of("https://js.stripe.com/v3/").as_deref(), Some("https://js.stripe.com"));
        assert_eq!(origin_of("http://127.0.0.1:8420/js.stripe.com/v3/").as_deref(), Some("http://127.0.0.1:8420"));
        assert_eq!(origin_of("javascript:alert(1)"), None);
        assert_eq!(origin_of("https://user@evil.example/"), None);
        let stripe = pay_page_csp("https://js.stripe.com", "https://api.stripe.com");
        assert!(stripe.contains("script-src 'self' https://js.stripe.com;"));
        assert!(stripe.contains("frame-src https://js.stripe.com https://hooks.stripe.com;"));
        assert!(stripe.contains("connect-src 'self' https://api.stripe.com;"));
        // The template sets the same policy on the page at CloudFront.
        let template = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../infra/template.yaml")).unwrap();
        assert!(template.contains(&format!("ContentSecurityPolicy: \"{stripe}\"")), "PayPageHeaders differs from pay_page_csp");
        assert!(template.contains(&format!("ContentSecurityPolicy: \"{PAGE_CSP}\"")), "PageHeaders differs from PAGE_CSP");
    }
}
