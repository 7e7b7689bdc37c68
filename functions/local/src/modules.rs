//! The module registry: which function serves which routes, stated once. The local host merges
//! these routers behind the authorizer, `--print-routes` lists them per function (checked against
//! `infra/openapi.yaml` and each function's `Events` in `infra/template.yaml`), and the Lambda
//! sample-event test builds each function from here. Adding a module adds one line below.

use axum::Router;
use portal_core::ports::Ports;
use portal_http::RouteInfo;

/// One Lambda function that serves API routes.
pub struct Module {
    /// `portal-{name}` is its crate and binary (`BuildProperties.Binary` in the template);
    /// `events/{name}/` holds its sample events.
    pub name: &'static str,
    /// The routes it serves.
    pub routes: fn() -> Vec<RouteInfo>,
    /// Its routes with their state, built from the shared ports (no fallback: merged first).
    pub mount: fn(&Ports) -> Router,
}

pub const MODULES: &[Module] = &[
    Module { name: "auth", routes: || portal_auth::api().routes().to_vec(), mount: portal_auth::routes },
    Module { name: "admin", routes: || portal_admin::api().routes().to_vec(), mount: portal_admin::routes },
    Module { name: "people", routes: || portal_people::api().routes().to_vec(), mount: portal_people::routes },
    Module { name: "sync", routes: || portal_sync::api().routes().to_vec(), mount: portal_sync::routes },
    Module { name: "payments", routes: || portal_payments::api().routes().to_vec(), mount: portal_payments::routes },
    Module { name: "account", routes: || portal_account::api().routes().to_vec(), mount: portal_account::routes },
    Module { name: "treatment-plans", routes: || portal_treatment_plans::api().routes().to_vec(), mount: portal_treatment_plans::routes },
    Module { name: "images", routes: || portal_images::api().routes().to_vec(), mount: portal_images::routes },
    Module { name: "appointments", routes: || portal_appointments::api().routes().to_vec(), mount: portal_appointments::routes },
    Module { name: "webmail", routes: || portal_webmail::api().routes().to_vec(), mount: portal_webmail::routes },
    Module { name: "care-summary", routes: || portal_care_summary::api().routes().to_vec(), mount: portal_care_summary::routes },
    Module { name: "code-systems", routes: || portal_code_systems::api().routes().to_vec(), mount: portal_code_systems::routes },
];

/// The function that serves as one Lambda would: its routes, finished with problem answers for
/// unknown routes and methods.
pub fn lambda_router(module: &Module, ports: &Ports) -> Router {
    portal_http::finish((module.mount)(ports))
}

/// Every API route, with the function that serves it.
pub fn all_routes() -> Vec<(&'static str, RouteInfo)> {
    MODULES.iter().flat_map(|m| (m.routes)().into_iter().map(move |r| (m.name, r))).collect()
}
