//! A JSON body extractor whose every failure is a problem response: wrong media type (415), too
//! large (413), empty, invalid UTF-8, malformed JSON, or fields of the wrong type (400).

use crate::problem::problem;
use axum::extract::{FromRequest, Request};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use portal_core::ProblemCode;
use serde::de::DeserializeOwned;

/// The largest JSON body any portal route takes.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

pub struct Json<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for Json<T> {
    type Rejection = Response;

    async fn from_request(req: Request, _state: &S) -> Result<Self, Self::Rejection> {
        let is_json = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(|ct| ct.split(';').next().unwrap_or("").trim().eq_ignore_ascii_case("application/json"))
            .unwrap_or(false);
        if !is_json {
            return Err(problem(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                ProblemCode::UnsupportedMediaType,
                "Send JSON",
                "Send the body as application/json.",
                None,
            ));
        }
        let too_large = || {
            problem(
                StatusCode::PAYLOAD_TOO_LARGE,
                ProblemCode::BodyTooLarge,
                "The body is too large",
                &format!("Bodies are limited to {MAX_BODY_BYTES} bytes."),
                None,
            )
        };
        let declared = req.headers().get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<usize>().ok());
        if declared.is_some_and(|n| n > MAX_BODY_BYTES) {
            return Err(too_large());
        }
        // Reads at most the limit, whatever Content-Length claimed.
        let bytes = axum::body::to_bytes(req.into_body(), MAX_BODY_BYTES).await.map_err(|_| too_large())?;
        if bytes.is_empty() {
            return Err(problem(StatusCode::BAD_REQUEST, ProblemCode::BodyEmpty, "The body is empty", "Send a JSON object.", None));
        }
        if std::str::from_utf8(&bytes).is_err() {
            return Err(problem(
                StatusCode::BAD_REQUEST,
                ProblemCode::BodyNotUtf8,
                "The body is not UTF-8",
                "Send the JSON as UTF-8 text.",
                None,
            ));
        }
        match serde_json::from_slice::<T>(&bytes) {
            Ok(v) => Ok(Json(v)),
            Err(e) if e.is_syntax() || e.is_eof() => Err(problem(
                StatusCode::BAD_REQUEST,
                ProblemCode::MalformedJson,
                "The body is not valid JSON",
                &format!("JSON syntax error at line {} column {}.", e.line(), e.column()),
                None,
            )),
            Err(e) => Err(problem(
                StatusCode::BAD_REQUEST,
                ProblemCode::InvalidBody,
                "The body does not have the expected fields",
                &e.to_string(),
                None,
            )),
        }
    }
}

impl<T> IntoResponse for Json<T>
where
    T: serde::Serialize,
{
    fn into_response(self) -> Response {
        let mut res = axum::Json(self.0).into_response();
        res.headers_mut().insert(header::CACHE_CONTROL, header::HeaderValue::from_static("no-store"));
        res
    }
}

/// A query-string extractor whose failures (unknown or missing parameters, wrong types) are
/// problem responses.
pub struct Query<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> axum::extract::FromRequestParts<S> for Query<T> {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut axum::http::request::Parts, _state: &S) -> Result<Self, Self::Rejection> {
        serde_urlencoded::from_str(parts.uri.query().unwrap_or(""))
            .map(Query)
            .map_err(|e| problem(StatusCode::BAD_REQUEST, ProblemCode::InvalidQuery, "The query string is not valid", &e.to_string(), None))
    }
}

/// Reads a raw body of at most `limit` bytes (a 413 problem beyond it).
pub async fn read_body(body: axum::body::Body, limit: usize) -> Result<bytes::Bytes, portal_core::CoreError> {
    axum::body::to_bytes(body, limit)
        .await
        .map_err(|_| portal_core::CoreError::TooLarge { detail: format!("Bodies here are limited to {limit} bytes.") })
}

/// A page size from the query: `default` when absent, a 400 problem outside `1..=max`.
pub fn page_limit(limit: Option<usize>, default: usize, max: usize) -> Result<usize, portal_core::CoreError> {
    match limit {
        None => Ok(default),
        Some(n) if (1..=max).contains(&n) => Ok(n),
        Some(_) => Err(portal_core::CoreError::invalid(ProblemCode::LimitInvalid, format!("limit is 1 to {max}."))),
    }
}
