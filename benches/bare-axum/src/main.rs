//! The baseline for `benches/throughput.py`: what axum alone does on this machine, answering
//! a `GET /v1/me` of the same size as `portal-local`'s, with no session, settings or table.

use axum::routing::get;
use axum::{Json, Router};

#[tokio::main]
async fn main() {
    let addr = std::env::args().nth(1).unwrap_or_else(|| "127.0.0.1:8090".into());
    let me = serde_json::json!({
        "kind": "patient", "principalId": "pat-1001", "username": "alex.morgan", "role": null,
        "practice": { "id": "lakeside", "name": "Lakeside Family Dental" },
        "features": [{ "key": "ModuleAccount", "label": "Account", "path": "/v1/account" }],
        "family": [{ "patientId": "pat-1001", "name": "Alex Morgan", "relationship": "self" }],
        "mustChangePassword": false,
    });
    let app = Router::new().route("/v1/me", get(move || async move { Json(me.clone()) }));
    let listener = tokio::net::TcpListener::bind(&addr).await.expect("a free address");
    axum::serve(listener, app).await.expect("serving");
}
