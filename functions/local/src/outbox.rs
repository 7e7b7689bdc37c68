//! `/_local/outbox`: the mail `portal-local` would have sent, newest first (`.json` for tests).

use axum::extract::State;
use axum::http::header;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use portal_embedded::OutboxMailer;
use serde_json::json;
use std::sync::Arc;

pub fn routes(mailer: Arc<OutboxMailer>) -> Router {
    Router::new().route("/_local/outbox", get(page)).route("/_local/outbox.json", get(list)).with_state(mailer)
}

struct Message {
    to: String,
    subject: String,
    text: String,
    raw: String,
}

fn messages(m: &OutboxMailer) -> Vec<Message> {
    let mut all: Vec<Message> = m
        .list()
        .unwrap_or_default()
        .into_iter()
        .map(|(_, raw)| Message {
            to: raw.lines().find_map(|l| l.strip_prefix("To: ")).unwrap_or("").to_string(),
            subject: portal_core::mime::subject(&raw).unwrap_or_default(),
            text: portal_core::mime::text_part(&raw).unwrap_or_default(),
            raw,
        })
        .collect();
    all.reverse();
    all
}

async fn list(State(m): State<Arc<OutboxMailer>>) -> Response {
    let body: Vec<_> =
        messages(&m).into_iter().map(|x| json!({ "to": x.to, "subject": x.subject, "text": x.text, "raw": x.raw })).collect();
    ([(header::CACHE_CONTROL, "no-store")], axum::Json(body)).into_response()
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

async fn page(State(m): State<Arc<OutboxMailer>>) -> Response {
    let items: String = messages(&m)
        .iter()
        .map(|x| format!("<article><h2>{}</h2><p>To: {}</p><pre>{}</pre></article>", esc(&x.subject), esc(&x.to), esc(&x.text)))
        .collect();
    let empty = if items.is_empty() { "<p>No mail yet.</p>" } else { "" };
    let mut res = Html(format!(
        "<!doctype html><html lang=en><meta charset=utf-8><title>Local outbox</title><h1>Local outbox</h1>{empty}{items}</html>"
    ))
    .into_response();
    portal_http::page_headers(res.headers_mut());
    res
}
