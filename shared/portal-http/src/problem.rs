//! Every error leaves as `application/problem+json` (RFC 9457) with a stable `code`.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use portal_core::{CoreError, ProblemCode};
use serde_json::{json, Value};

pub type ApiResult<T> = Result<T, ApiError>;

/// An error on its way to becoming a problem response.
#[derive(Debug)]
pub struct ApiError(pub CoreError);

impl From<CoreError> for ApiError {
    fn from(e: CoreError) -> Self {
        ApiError(e)
    }
}

impl From<portal_core::ports::PortError> for ApiError {
    fn from(e: portal_core::ports::PortError) -> Self {
        ApiError(e.into())
    }
}

impl From<portal_core::ports::TableError> for ApiError {
    fn from(e: portal_core::ports::TableError) -> Self {
        ApiError(e.into())
    }
}

/// A problem response. `extra` members are merged into the body (e.g. `current` on a conflict).
pub fn problem(status: StatusCode, code: ProblemCode, title: &str, detail: &str, extra: Option<Value>) -> Response {
    let mut body = json!({
        "type": format!("urn:portal:problem:{code}"),
        "title": title,
        "status": status.as_u16(),
        "detail": detail,
        "code": code,
    });
    if let (Some(Value::Object(extra)), Some(obj)) = (extra, body.as_object_mut()) {
        obj.extend(extra);
    }
    let mut res = (status, body.to_string()).into_response();
    res.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/problem+json"));
    res.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res.extensions_mut().insert(crate::observe::ProblemCode(code.as_str().to_string()));
    res
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let e = self.0;
        let code = e.code();
        match e {
            CoreError::Invalid { detail, .. } => problem(StatusCode::BAD_REQUEST, code, "The request is not valid", &detail, None),
            CoreError::Unauthorized { detail, .. } => problem(StatusCode::UNAUTHORIZED, code, "Not logged in", &detail, None),
            CoreError::Forbidden { detail, .. } => problem(StatusCode::FORBIDDEN, code, "Not allowed", &detail, None),
            CoreError::TooLarge { detail } => problem(StatusCode::PAYLOAD_TOO_LARGE, code, "The body is too large", &detail, None),
            CoreError::Unprocessable { detail, .. } => {
                problem(StatusCode::UNPROCESSABLE_ENTITY, code, "The request could not be carried out", &detail, None)
            }
            CoreError::NotFound => problem(StatusCode::NOT_FOUND, code, "Not found", "There is nothing here.", None),
            CoreError::TooMany { detail, .. } => problem(StatusCode::TOO_MANY_REQUESTS, code, "Too many for now", &detail, None),
            CoreError::Conflict { detail, current, .. } => {
                problem(StatusCode::CONFLICT, code, "Changed by someone else", &detail, current.map(|c| json!({ "current": c })))
            }
            CoreError::Backend(msg) => {
                // The message may name a backend resource; it goes to the log, not to the client.
                tracing::error!(code = %code, error = %msg, "backend failure");
                problem(
                    StatusCode::SERVICE_UNAVAILABLE,
                    code,
                    "Temporarily unavailable",
                    "A service the portal depends on did not answer. Nothing was changed; try again shortly.",
                    None,
                )
            }
        }
    }
}
