//! The static pages, as CloudFront serves them from S3: `/` the patient page, `/p/{practice}/`
//! the same page at a practice's own portal address (it reads the practice from the address),
//! `/p/{practice}/pay` the payment page (its policy also names the card processor's origins),
//! `/admin/` the staff page, also at `/p/{practice}/staff/` (the practice's staff address: the
//! login knows the practice), with the page security headers. The rewrites are the template's
//! CloudFront function's.

use axum::extract::Request;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use std::path::Path;

fn content_type(path: &str) -> &'static str {
    match path.rsplit('.').next().unwrap_or("") {
        "html" => "text/html; charset=utf-8",
        "js" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "ico" => "image/x-icon",
        "json" => "application/json",
        _ => "application/octet-stream",
    }
}

/// `pay_csp`: the payment page's policy (`portal_http::pay_page_csp`).
pub async fn serve(root: &Path, pay_csp: &str, req: Request) -> Response {
    let path = req.uri().path();
    if path == "/admin" {
        return Redirect::permanent("/admin/").into_response();
    }
    if let Some(practice) = path.strip_prefix("/p/") {
        return match practice.split_once('/') {
            None if !practice.is_empty() => Redirect::permanent(&format!("{path}/")).into_response(),
            Some((id, "")) if !id.is_empty() => serve_file(root, "portal", "index.html").await,
            Some((id, "staff")) if !id.is_empty() => Redirect::permanent(&format!("{path}/")).into_response(),
            Some((id, "staff/")) if !id.is_empty() => serve_file(root, "admin", "index.html").await,
            Some((id, "pay")) if !id.is_empty() => {
                let mut res = serve_file(root, "portal", "pay.html").await;
                portal_http::pay_page_headers(res.headers_mut(), pay_csp);
                res
            }
            _ => not_found(),
        };
    }
    let rel = path.trim_start_matches('/');
    let (site, rest) = match rel.strip_prefix("admin/") {
        Some(rest) => ("admin", rest),
        None => ("portal", rel),
    };
    let rest = if rest.is_empty() || rest.ends_with('/') { format!("{rest}index.html") } else { rest.to_string() };
    serve_file(root, site, &rest).await
}

async fn serve_file(root: &Path, site: &str, rest: &str) -> Response {
    let safe = rest.split('/').all(|seg| !seg.is_empty() && seg != ".." && seg != "." && !seg.starts_with('.'));
    let body = if safe { tokio::fs::read(root.join(site).join(rest)).await.ok() } else { None };
    let mut res = match body {
        Some(bytes) => ([(header::CONTENT_TYPE, HeaderValue::from_static(content_type(rest)))], bytes).into_response(),
        None => return not_found(),
    };
    portal_http::page_headers(res.headers_mut());
    res
}

fn not_found() -> Response {
    let mut res = (StatusCode::NOT_FOUND, [(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; charset=utf-8"))], "Not found")
        .into_response();
    portal_http::page_headers(res.headers_mut());
    res
}
