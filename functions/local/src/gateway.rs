//! What API Gateway and CloudFront do on AWS, done in process: the authorizer runs on every `/v1`
//! request and injects the same request context; each route prefix goes to the function that owns
//! it (the same mapping as `infra/template.yaml`); pages, outbox and blob URLs are served beside.

use axum::extract::{ConnectInfo, Request, State};
use axum::response::{IntoResponse, Response};
use axum::Router;
use portal_core::access::Decision;
use portal_embedded::{blob_routes, DirBlobs, OutboxMailer};
use portal_http::{api_gateway_context, api_headers, ApiError, RouteInfo};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use tower::ServiceExt;

/// Everything the functions need, built once.
pub struct Functions {
    pub authorizer: Arc<portal_authorizer::Deps>,
    pub auth: portal_auth::Deps,
    pub admin: portal_admin::Deps,
    pub sync: portal_sync::Deps,
    pub blobs: Arc<DirBlobs>,
    pub mailer: Arc<OutboxMailer>,
    pub web_dir: PathBuf,
}

/// Which function owns a route prefix (API Gateway resources → Lambda functions).
#[derive(Clone, Copy)]
enum Owner {
    Auth,
    Admin,
    Sync,
}

const OWNERS: &[(&str, Owner)] = &[
    ("/v1/health", Owner::Auth),
    ("/v1/auth/", Owner::Auth),
    ("/v1/staff/", Owner::Auth),
    ("/v1/me", Owner::Auth),
    ("/v1/admin/", Owner::Admin),
    ("/v1/sync/", Owner::Sync),
];

/// Every API route the functions serve.
pub fn all_routes() -> Vec<RouteInfo> {
    let mut routes = portal_auth::api().routes().to_vec();
    routes.extend(portal_admin::api().routes().iter().cloned());
    routes.extend(portal_sync::api().routes().iter().cloned());
    routes
}

#[derive(Clone)]
struct Gateway {
    authorizer: Arc<portal_authorizer::Deps>,
    auth: Router,
    admin: Router,
    sync: Router,
}

pub fn app(f: Functions) -> Router {
    let gateway = Gateway {
        authorizer: f.authorizer.clone(),
        auth: portal_auth::router(f.auth),
        admin: portal_admin::router(f.admin),
        sync: portal_sync::router(f.sync),
    };
    // `/v1` is dispatched from the fallback rather than a `/v1/{*rest}` route: a matched route's
    // path parameters would travel with the request into the function's router and confuse its
    // own `Path` extractors.
    Router::new()
        .fallback(front)
        .with_state(Front { gateway, web_dir: f.web_dir })
        .merge(blob_routes(f.blobs))
        .merge(crate::outbox::routes(f.mailer))
}

#[derive(Clone)]
struct Front {
    gateway: Gateway,
    web_dir: PathBuf,
}

/// API Gateway for `/v1`, CloudFront's S3 origin for everything else.
async fn front(State(f): State<Front>, req: Request) -> Response {
    let path = req.uri().path();
    if path == "/v1" || path.starts_with("/v1/") {
        api(f.gateway, req).await
    } else {
        crate::statics::serve(&f.web_dir, req).await
    }
}

async fn api(g: Gateway, mut req: Request) -> Response {
    let method = req.method().as_str().to_string();
    let path = req.uri().path().to_string();
    let ip = req.extensions().get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip().to_string()).unwrap_or_else(|| "127.0.0.1".into());
    let query = url::form_urlencoded::parse(req.uri().query().unwrap_or("").as_bytes()).into_owned().collect();
    let request = portal_authorizer::Request { headers: req.headers(), method: &method, path: &path, query, source_ip: Some(&ip) };
    let fields = match portal_authorizer::authorize(&g.authorizer, request).await {
        Ok(Decision::Public) => None,
        Ok(Decision::Allow(ctx)) => Some(ctx.to_fields()),
        Err(e) => {
            let mut res = ApiError(e).into_response();
            api_headers(res.headers_mut());
            return res;
        }
    };
    req.extensions_mut().insert(api_gateway_context(fields, &ip, &method, &path));
    let owner = OWNERS.iter().find(|(prefix, _)| path == prefix.trim_end_matches('/') || path.starts_with(prefix)).map(|(_, o)| *o);
    let router = match owner {
        Some(Owner::Auth) => g.auth,
        Some(Owner::Admin) => g.admin,
        Some(Owner::Sync) => g.sync,
        // An allowed route no function serves yet (a feature module still to come).
        None => {
            let mut res =
                portal_http::problem(axum::http::StatusCode::NOT_FOUND, "route_not_found", "Not found", "There is no such route.", None);
            api_headers(res.headers_mut());
            return res;
        }
    };
    match router.oneshot(req).await {
        Ok(res) => res,
        Err(never) => match never {},
    }
}
