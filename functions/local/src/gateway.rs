//! What API Gateway and CloudFront do on AWS, done in process: every function's routes merged
//! into one router (from the module registry), the authorizer as a middleware layer that injects
//! the same request context on every `/v1` request, and pages, outbox and blob URLs beside.

use axum::extract::{ConnectInfo, Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Router;
use portal_core::access::Decision;
use portal_core::ports::Ports;
use portal_core::ProblemCode;
use portal_embedded::{blob_routes, test_processor_routes, DirBlobs, OutboxMailer, TestProcessor};
use portal_http::observe::Served;
use portal_http::{api_gateway_context, api_headers, ApiError};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

/// Everything the local host serves, built once.
pub struct Functions {
    /// The `Host` values this server answers to (its own address, by IP and as `localhost`).
    pub hosts: Vec<String>,
    pub authorizer: Arc<portal_authorizer::Deps>,
    pub ports: Ports,
    pub blobs: Arc<DirBlobs>,
    pub mailer: Arc<OutboxMailer>,
    pub test_processor: Arc<TestProcessor>,
    pub web_dir: PathBuf,
    /// The payment page's policy, naming the Stripe this host talks to.
    pub pay_csp: String,
}

fn is_api(path: &str) -> bool {
    path == "/v1" || path.starts_with("/v1/")
}

pub fn app(f: Functions) -> Router {
    let api = crate::modules::MODULES.iter().fold(Router::new(), |r, m| r.merge((m.mount)(&f.ports)));
    api.method_not_allowed_fallback(portal_http::method_not_allowed)
        .fallback(front)
        .layer(axum::middleware::from_fn_with_state(f.authorizer, authorizer))
        // Outside the authorizer, so its refusals get a line too (it hands back the request id and practice).
        .layer(axum::middleware::from_fn(portal_http::observe::log_request))
        .layer(axum::Extension(Statics { root: f.web_dir, pay_csp: f.pay_csp }))
        .merge(blob_routes(f.blobs))
        .merge(crate::outbox::routes(f.mailer))
        .merge(test_processor_routes(f.test_processor))
        .layer(axum::middleware::from_fn_with_state(Arc::new(f.hosts), edge))
}

/// The edge every request passes (one layer: each layer costs every request a boxed future).
/// Answers only requests addressed to this server: a page on another site can point a name it
/// controls at 127.0.0.1 (DNS rebinding) and then read what this host serves; the `Host` header
/// still names the attacker's domain, so it is refused. Every answer carries the security
/// headers: API answers have theirs already; pages, redirects, the outbox and signed blob
/// downloads get the page set.
async fn edge(State(hosts): State<Arc<Vec<String>>>, req: Request, next: Next) -> Response {
    let host = req.headers().get(axum::http::header::HOST).and_then(|h| h.to_str().ok()).unwrap_or("");
    if hosts.iter().any(|h| h.eq_ignore_ascii_case(host)) {
        let mut res = next.run(req).await;
        if !res.headers().contains_key(axum::http::header::CONTENT_SECURITY_POLICY) {
            portal_http::page_headers(res.headers_mut());
        }
        return res;
    }
    let mut res = portal_http::problem(
        StatusCode::MISDIRECTED_REQUEST,
        ProblemCode::MisdirectedRequest,
        "Not this server",
        "This server answers only to its own address.",
        None,
    );
    portal_http::page_headers(res.headers_mut());
    res
}

/// Where the pages are, and the payment page's policy.
#[derive(Clone)]
struct Statics {
    root: PathBuf,
    pay_csp: String,
}

/// CloudFront's S3 origin for pages; an unknown `/v1` route is API Gateway's 404.
async fn front(axum::Extension(statics): axum::Extension<Statics>, req: Request) -> Response {
    if is_api(req.uri().path()) {
        portal_http::not_found().await
    } else {
        crate::statics::serve(&statics.root, &statics.pay_csp, req).await
    }
}

/// API Gateway's REQUEST authorizer in front of every `/v1` request: deny with a problem, or put
/// the authorizer context on the request exactly as API Gateway hands it to a function.
async fn authorizer(State(deps): State<Arc<portal_authorizer::Deps>>, mut req: Request, next: Next) -> Response {
    if !is_api(req.uri().path()) {
        return next.run(req).await;
    }
    let method = req.method().as_str().to_string();
    let path = req.uri().path().to_string();
    let ip = req.extensions().get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip().to_string()).unwrap_or_else(|| "127.0.0.1".into());
    let query = url::form_urlencoded::parse(req.uri().query().unwrap_or("").as_bytes()).into_owned().collect();
    let request = portal_authorizer::Request { headers: req.headers(), method: &method, path: &path, query, source_ip: Some(&ip) };
    let mut res = match portal_authorizer::authorize(&deps, request).await {
        Ok(decision) => {
            let fields = match decision {
                Decision::Public => None,
                Decision::Allow(ctx) => Some(ctx.to_fields()),
            };
            let context = api_gateway_context(fields, &ip, &method, &path);
            let served = Served::from_context(Some(&context));
            req.extensions_mut().insert(context);
            let mut res = next.run(req).await;
            res.extensions_mut().insert(served);
            res
        }
        Err(e) => ApiError(e).into_response(),
    };
    api_headers(res.headers_mut());
    res
}
