//! The cookies: the session and the known-device token (`portal_core::identity::devices`), both
//! first-party, `__Host-` prefixed, `Secure`, `HttpOnly`, `SameSite=Strict`. `Authorization:
//! Bearer` is accepted too for the session, for API clients.

use axum::http::{header, HeaderMap, HeaderValue};

pub const SESSION_COOKIE: &str = "__Host-portal-session";
pub const DEVICE_COOKIE: &str = "__Host-portal-device";

pub fn session_cookie(token: &str, max_age_seconds: i64) -> HeaderValue {
    HeaderValue::from_str(&format!("{SESSION_COOKIE}={token}; Path=/; Secure; HttpOnly; SameSite=Strict; Max-Age={max_age_seconds}"))
        .unwrap_or_else(|_| clear_session_cookie())
}

/// The known-device cookie; it outlives sessions (logging out does not clear it).
pub fn device_cookie(token: &str, max_age_seconds: i64) -> Option<HeaderValue> {
    HeaderValue::from_str(&format!("{DEVICE_COOKIE}={token}; Path=/; Secure; HttpOnly; SameSite=Strict; Max-Age={max_age_seconds}")).ok()
}

pub fn clear_session_cookie() -> HeaderValue {
    HeaderValue::from_static("__Host-portal-session=; Path=/; Secure; HttpOnly; SameSite=Strict; Max-Age=0")
}

/// The session token of a request: the bearer token if present, else the cookie.
pub fn token_from_headers(headers: &HeaderMap) -> Option<String> {
    if let Some(auth) = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()) {
        let (scheme, token) = auth.split_once(' ')?;
        return scheme.eq_ignore_ascii_case("bearer").then(|| token.trim().to_string());
    }
    cookie(headers, SESSION_COOKIE)
}

/// The value of the cookie `name` in a request.
pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_wins_then_cookie() {
        let mut h = HeaderMap::new();
        h.insert(header::COOKIE, HeaderValue::from_static("a=b; __Host-portal-session=tok1; c=d"));
        assert_eq!(token_from_headers(&h).as_deref(), Some("tok1"));
        h.insert(header::AUTHORIZATION, HeaderValue::from_static("Bearer tok2"));
        assert_eq!(token_from_headers(&h).as_deref(), Some("tok2"));
        h.insert(header::AUTHORIZATION, HeaderValue::from_static("Basic xyz"));
        assert_eq!(token_from_headers(&h), None);
    }
}
