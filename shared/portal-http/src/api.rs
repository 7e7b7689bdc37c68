//! A router that remembers its routes, so the served routes can be compared with
//! `infra/openapi.yaml` and with the access table, and that answers unknown routes and methods with
//! problem responses.

use crate::headers::api_headers;
use crate::problem::problem;
use axum::handler::Handler;
use axum::http::{Method, StatusCode};
use axum::response::Response;
use axum::routing::{on, MethodFilter};
use axum::Router;
use portal_core::ProblemCode;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteInfo {
    pub method: Method,
    /// In axum/OpenAPI form: `/v1/things/{id}`.
    pub path: &'static str,
}

pub struct Api<S = ()> {
    router: Router<S>,
    routes: Vec<RouteInfo>,
}

impl<S: Clone + Send + Sync + 'static> Default for Api<S> {
    fn default() -> Self {
        Self::new()
    }
}

impl<S: Clone + Send + Sync + 'static> Api<S> {
    pub fn new() -> Self {
        Api { router: Router::new(), routes: vec![] }
    }

    pub fn route<H, T>(mut self, method: Method, path: &'static str, handler: H) -> Self
    where
        H: Handler<T, S>,
        T: 'static,
    {
        let filter = MethodFilter::try_from(method.clone()).expect("a standard HTTP method");
        self.router = self.router.route(path, on(filter, handler));
        self.routes.push(RouteInfo { method, path });
        self
    }

    pub fn routes(&self) -> &[RouteInfo] {
        &self.routes
    }

    /// The routes with their state and nothing else, to merge with other functions' routes (the
    /// local host finishes the merged router once).
    pub fn into_routes(self, state: S) -> Router {
        self.router.with_state(state)
    }

    /// The finished router of one function (on Lambda): see [`finish`].
    pub fn into_router(self, state: S) -> Router {
        finish(self.into_routes(state))
    }
}

/// Problem answers for unknown routes (404) and methods (405, with `Allow`), the API security
/// headers on every answer, and each request's log line (`crate::observe`).
pub fn finish(routes: Router) -> Router {
    routes
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(axum::middleware::map_response(|mut res: Response| async move {
            api_headers(res.headers_mut());
            res
        }))
        .layer(axum::middleware::from_fn(crate::observe::log_request))
}

pub async fn not_found() -> Response {
    problem(StatusCode::NOT_FOUND, ProblemCode::RouteNotFound, "Not found", "There is no such route.", None)
}

pub async fn method_not_allowed() -> Response {
    problem(
        StatusCode::METHOD_NOT_ALLOWED,
        ProblemCode::MethodNotAllowed,
        "Method not allowed",
        "This route does not take that method.",
        None,
    )
}
