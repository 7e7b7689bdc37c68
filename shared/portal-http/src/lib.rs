//! HTTP glue every function shares: the principal from the authorizer context, problem responses,
//! a strict JSON body extractor, the session cookie, security headers, and the route list that
//! ties each router to `infra/openapi.yaml`.

mod api;
mod body;
mod context;
mod cookies;
mod headers;
pub mod observe;
mod patient;
mod problem;

pub use api::{finish, method_not_allowed, not_found, Api, RouteInfo};
pub use body::{page_limit, read_body, Json, Query, MAX_BODY_BYTES};
pub use context::{api_gateway_context, source_ip, Meta, Principal};
pub use cookies::{clear_session_cookie, cookie, device_cookie, session_cookie, token_from_headers, DEVICE_COOKIE, SESSION_COOKIE};
pub use headers::{api_headers, origin_of, page_headers, pay_page_csp, pay_page_headers, API_CSP, PAGE_CSP};
pub use patient::{ForPatient, PatientPage};
pub use problem::{problem, ApiError, ApiResult};

/// JSON logs to stdout (CloudWatch on Lambda). Level from `RUST_LOG`, default `info`. Logs carry
/// ids and codes only: never PHI, never tokens. Each call to AWS is a debug-level span
/// (`dynamodb.GetItem`, `s3.PutObject`, …, no arguments): `RUST_LOG=info,portal_aws=debug` logs
/// one line per call with its time when it closes.
pub fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        .with_target(false)
        .without_time()
        .with_current_span(true)
        .with_span_list(false)
        .with_span_events(tracing_subscriber::fmt::format::FmtSpan::CLOSE)
        .try_init();
}
