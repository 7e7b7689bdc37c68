//! What the portal tells its operators: one JSON line per request (request id, function, route
//! template, method, practice, status, latency, problem code) and counts of what the background
//! functions did. On Lambda the lines are CloudWatch Embedded Metric Format: CloudWatch turns their
//! numbers into metrics (namespace `PORTAL_METRICS_NAMESPACE`) with no call at run time; without the
//! namespace (portal-local, tests) they are plain JSON log lines.
//!
//! Guarantee: a line holds ids, route templates and codes only. Never a path's values or query
//! (a search can hold a name), a body, a header, a token or anything about a patient.

use axum::extract::{MatchedPath, Request};
use axum::middleware::Next;
use axum::response::Response;
use serde_json::{json, Map, Value};
use std::sync::OnceLock;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

/// The problem code of an answer, put on the response by [`crate::problem`] for the request line.
#[derive(Debug, Clone)]
pub struct ProblemCode(pub String);

/// The request id and practice of an answer, for a request line written outside the layer that
/// knew them (portal-local's gateway logs before its authorizer has put the context on the
/// request, so that its refusals get a line too).
#[derive(Debug, Clone, Default)]
pub struct Served {
    pub request_id: Option<String>,
    pub practice: Option<String>,
}

impl Served {
    /// What the request line takes from API Gateway's request context.
    pub fn from_context(ctx: Option<&lambda_http::request::RequestContext>) -> Served {
        match ctx {
            Some(lambda_http::request::RequestContext::ApiGatewayV1(ctx)) => Served {
                request_id: ctx.request_id.clone(),
                practice: ctx.authorizer.fields.get("practiceId").and_then(Value::as_str).map(str::to_string),
            },
            #[allow(unreachable_patterns)]
            _ => Served::default(),
        }
    }
}

struct Settings {
    namespace: Option<String>,
    function: String,
}

fn settings() -> &'static Settings {
    static SETTINGS: OnceLock<Settings> = OnceLock::new();
    SETTINGS.get_or_init(|| Settings {
        namespace: std::env::var("PORTAL_METRICS_NAMESPACE").ok().filter(|n| !n.is_empty()),
        function: function_name(std::env::var("AWS_LAMBDA_LOG_GROUP_NAME").ok().as_deref()),
    })
}

/// The function's short name: the last part of its log group (`/portal/{stack}/auth` → `auth`),
/// stable across deployments, unlike the generated function name; `local` for portal-local.
fn function_name(log_group: Option<&str>) -> String {
    log_group.and_then(|g| g.rsplit('/').next()).filter(|n| !n.is_empty()).unwrap_or("local").to_string()
}

/// A metric line: `fields` are logged as they are, `metrics` (name, value, unit) become metrics
/// with each of `dimension_sets` (names of string members of `fields`).
fn line(mut fields: Map<String, Value>, metrics: &[(&str, f64, &str)], dimension_sets: &[&[&str]], namespace: Option<&str>) -> String {
    for (name, value, _) in metrics {
        fields.insert((*name).into(), json!(value));
    }
    if let Some(namespace) = namespace {
        let names: Vec<(&str, &str)> = metrics.iter().map(|(name, _, unit)| (*name, *unit)).collect();
        fields.insert("_aws".into(), emf(namespace, &names, dimension_sets));
    }
    Value::Object(fields).to_string()
}

/// The `_aws` member that makes a line Embedded Metric Format: the metrics (name, unit) the line's
/// members of those names hold, by each of `dimension_sets`.
fn emf(namespace: &str, metrics: &[(&str, &str)], dimension_sets: &[&[&str]]) -> Value {
    let timestamp = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
    let definitions: Vec<Value> = metrics.iter().map(|(name, unit)| json!({ "Name": name, "Unit": unit })).collect();
    json!({
        "Timestamp": timestamp,
        "CloudWatchMetrics": [{ "Namespace": namespace, "Dimensions": dimension_sets, "Metrics": definitions }],
    })
}

/// Lines written to stdout are flushed every this often when buffered (portal-local).
const FLUSH_EVERY: std::time::Duration = std::time::Duration::from_millis(200);

/// Where lines go: straight to stdout, a write per line (Lambda: the process may be frozen as
/// soon as it answers, so nothing may wait in a buffer), or — after [`buffer_lines`] — into a
/// buffer flushed every [`FLUSH_EVERY`] (a long-running host, where a write per request was a
/// tenth of a cheap request's time).
static BUFFER: OnceLock<std::sync::Mutex<std::io::BufWriter<std::io::Stdout>>> = OnceLock::new();

/// Buffers the lines of this process (for a long-running host; never on Lambda). At most the last
/// [`FLUSH_EVERY`] of lines are lost if the process is killed.
pub fn buffer_lines() {
    if BUFFER.set(std::sync::Mutex::new(std::io::BufWriter::with_capacity(64 << 10, std::io::stdout()))).is_ok() {
        std::thread::spawn(|| loop {
            std::thread::sleep(FLUSH_EVERY);
            flush();
        });
    }
}

/// Writes out what is buffered (a host stopping).
pub fn flush() {
    if let Some(buffer) = BUFFER.get() {
        let _ = std::io::Write::flush(&mut *buffer.lock().unwrap_or_else(|e| e.into_inner()));
    }
}

fn write_line(line: String) {
    match BUFFER.get() {
        Some(buffer) => {
            let mut out = buffer.lock().unwrap_or_else(|e| e.into_inner());
            let _ = std::io::Write::write_all(&mut *out, line.as_bytes());
            let _ = std::io::Write::write_all(&mut *out, b"\n");
        }
        None => println!("{line}"),
    }
}

/// Counts what a background function did (`invites.sent`, `outbox.published`, …), as one line
/// with the metric's name, by function. `value` may be 0: a run that sent nothing still says so.
pub fn count(name: &str, value: f64) {
    record(name, value, "Count");
}

/// A measured value of a background run (an age in seconds, a duration) by function.
pub fn record(name: &str, value: f64, unit: &str) {
    let s = settings();
    let mut fields = Map::new();
    fields.insert("kind".into(), json!("metric"));
    fields.insert("Function".into(), json!(s.function));
    write_line(line(fields, &[(name, value, unit)], &[&["Function"]], s.namespace.as_deref()));
}

/// The middleware writing each request's line (after the answer, so it has status and latency).
pub async fn log_request(req: Request, next: Next) -> Response {
    let started = Instant::now();
    let route = req.extensions().get::<MatchedPath>().cloned();
    let method = req.method().clone();
    let on_request = Served::from_context(req.extensions().get());
    let res = next.run(req).await;
    let served = match res.extensions().get::<Served>() {
        Some(handed_back) if on_request.request_id.is_none() => handed_back,
        _ => &on_request,
    };
    let latency = started.elapsed().as_secs_f64() * 1000.0;
    let s = settings();
    write_request_line(&RequestLine {
        kind: "request",
        request_id: served.request_id.as_deref(),
        function: &s.function,
        route: RouteName(&method, route.as_ref().map_or("unmatched", MatchedPath::as_str)),
        status_class: status_class(res.status().as_u16()),
        status: res.status().as_u16(),
        practice_id: served.practice.as_deref(),
        code: res.extensions().get::<ProblemCode>().map(|c| c.0.as_str()),
        requests: 1.0,
        latency: (latency * 100.0).round() / 100.0,
        aws: s.namespace.as_deref().map(|namespace| {
            emf(
                namespace,
                &[("Requests", "Count"), ("Latency", "Milliseconds")],
                &[&["Function", "StatusClass"], &["Route", "StatusClass"]],
            )
        }),
    });
    res
}

/// A request's line, serialized straight from its parts: it is written for every request, and
/// building it as a map of owned values cost more than some whole requests' work.
#[derive(serde::Serialize)]
struct RequestLine<'a> {
    kind: &'static str,
    #[serde(rename = "requestId")]
    request_id: Option<&'a str>,
    #[serde(rename = "Function")]
    function: &'a str,
    #[serde(rename = "Route")]
    route: RouteName<'a>,
    #[serde(rename = "StatusClass")]
    status_class: &'static str,
    status: u16,
    #[serde(rename = "practiceId")]
    practice_id: Option<&'a str>,
    code: Option<&'a str>,
    #[serde(rename = "Requests")]
    requests: f64,
    #[serde(rename = "Latency")]
    latency: f64,
    #[serde(rename = "_aws", skip_serializing_if = "Option::is_none")]
    aws: Option<Value>,
}

/// `GET /v1/me`: the method and the route's template (never the path's values).
struct RouteName<'a>(&'a axum::http::Method, &'a str);

impl serde::Serialize for RouteName<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&format_args!("{} {}", self.0, self.1))
    }
}

fn status_class(status: u16) -> &'static str {
    match status / 100 {
        1 => "1xx",
        2 => "2xx",
        3 => "3xx",
        4 => "4xx",
        _ => "5xx",
    }
}

fn write_request_line(line: &RequestLine<'_>) {
    match BUFFER.get() {
        Some(buffer) => {
            let mut out = buffer.lock().unwrap_or_else(|e| e.into_inner());
            if serde_json::to_writer(&mut *out, line).is_ok() {
                let _ = std::io::Write::write_all(&mut *out, b"\n");
            }
        }
        None => write_line(serde_json::to_string(line).unwrap_or_default()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_metric_line_is_embedded_metric_format_with_a_namespace_and_plain_json_without() {
        let mut fields = Map::new();
        fields.insert("Function".into(), json!("notify"));
        let emf: Value =
            serde_json::from_str(&line(fields.clone(), &[("notifications.sent", 2.0, "Count")], &[&["Function"]], Some("Portal/test")))
                .unwrap();
        assert_eq!(emf["notifications.sent"], 2.0);
        let spec = &emf["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(spec["Namespace"], "Portal/test");
        assert_eq!(spec["Dimensions"], json!([["Function"]]));
        assert_eq!(spec["Metrics"], json!([{ "Name": "notifications.sent", "Unit": "Count" }]));
        assert!(emf["_aws"]["Timestamp"].as_u64().unwrap() > 1_700_000_000_000);
        // Every dimension names a string member of the line, as CloudWatch requires.
        assert!(emf["Function"].is_string());

        let plain: Value = serde_json::from_str(&line(fields, &[("notifications.sent", 2.0, "Count")], &[&["Function"]], None)).unwrap();
        assert!(plain.get("_aws").is_none());
        assert_eq!(plain["notifications.sent"], 2.0);
    }

    #[test]
    fn a_request_line_names_route_template_status_and_code_and_is_emf_with_a_namespace() {
        let method = axum::http::Method::POST;
        let mut request = RequestLine {
            kind: "request",
            request_id: Some("r-1"),
            function: "webmail",
            route: RouteName(&method, "/v1/webmail/messages/{id}/read"),
            status_class: status_class(404),
            status: 404,
            practice_id: Some("lakeside"),
            code: Some("message_not_found"),
            requests: 1.0,
            latency: 1.25,
            aws: None,
        };
        let plain: Value = serde_json::from_str(&serde_json::to_string(&request).unwrap()).unwrap();
        assert_eq!(plain["Route"], "POST /v1/webmail/messages/{id}/read");
        assert_eq!((&plain["StatusClass"], &plain["status"], &plain["code"]), (&json!("4xx"), &json!(404), &json!("message_not_found")));
        assert_eq!((&plain["requestId"], &plain["practiceId"], &plain["Latency"]), (&json!("r-1"), &json!("lakeside"), &json!(1.25)));
        assert!(plain.get("_aws").is_none());

        request.aws = Some(emf("Portal/test", &[("Requests", "Count"), ("Latency", "Milliseconds")], &[&["Route", "StatusClass"]]));
        let line: Value = serde_json::from_str(&serde_json::to_string(&request).unwrap()).unwrap();
        let spec = &line["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(spec["Metrics"][1], json!({ "Name": "Latency", "Unit": "Milliseconds" }));
        for dimension in spec["Dimensions"][0].as_array().unwrap() {
            assert!(line[dimension.as_str().unwrap()].is_string(), "{dimension} is a string member");
        }
        assert_eq!(line["Requests"], 1.0);
        assert_eq!([status_class(200), status_class(302), status_class(503)], ["2xx", "3xx", "5xx"]);
    }

    #[test]
    fn the_function_is_named_by_its_log_group() {
        assert_eq!(function_name(Some("/portal/prod-portal/care-summary")), "care-summary");
        assert_eq!(function_name(None), "local");
    }
}
