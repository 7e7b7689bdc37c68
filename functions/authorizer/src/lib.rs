//! The REQUEST authorizer: resolves the session from the `__Host-` cookie or `Authorization:
//! Bearer`, reads the practice's features (cached in the container ≤ 30 s) and applies the access
//! table of `portal_core::access`. On AWS it answers API Gateway with an IAM policy and a flat
//! context; `portal-local` runs the same [`authorize`] as middleware.

use axum::http::HeaderMap;
use lambda_http::aws_lambda_events::apigw::ApiGatewayCustomAuthorizerRequestTypeRequest;
use portal_core::access::{self, Decision};
use portal_core::ports::{Clock, Table};
use portal_core::settings::SettingsCache;
use portal_core::{CoreError, CoreResult};
use serde_json::{json, Value};
use std::sync::Arc;

/// How long a container keeps a practice's settings (DESIGN §2: a disabled feature stops within 30 s).
pub const SETTINGS_CACHE_SECONDS: i64 = 30;

pub struct Deps {
    pub table: Arc<dyn Table>,
    pub clock: Arc<dyn Clock>,
    pub cache: SettingsCache,
}

/// The authorizer's decision for a request (shared by the Lambda handler and `portal-local`).
pub async fn authorize(
    deps: &Deps,
    headers: &HeaderMap,
    method: &str,
    path: &str,
) -> CoreResult<Decision> {
    let token = portal_http::token_from_headers(headers);
    access::authorize(
        deps.table.as_ref(),
        deps.clock.as_ref(),
        &deps.cache,
        token.as_deref(),
        method,
        path,
    )
    .await
}

/// The Lambda handler. `Err("Unauthorized")` is how a REQUEST authorizer makes API Gateway answer
/// 401; a Deny policy answers 403 (the gateway responses in the template turn both into problem
/// bodies, with the `code` from the context).
pub async fn handle(
    deps: &Deps,
    event: ApiGatewayCustomAuthorizerRequestTypeRequest,
) -> Result<Value, lambda_runtime::Error> {
    let method = event
        .http_method
        .as_ref()
        .map(|m| m.as_str().to_string())
        .unwrap_or_default();
    let path = event.path.clone().unwrap_or_default();
    let arn = event.method_arn.clone().unwrap_or_default();
    match authorize(deps, &event.headers, &method, &path).await {
        Ok(Decision::Allow(ctx)) => Ok(policy(
            &ctx.principal_id,
            "Allow",
            &arn,
            json!(ctx.to_fields()),
        )),
        Ok(Decision::Public) => Ok(policy("anonymous", "Allow", &arn, json!({}))),
        Err(CoreError::Unauthorized { .. }) => Err("Unauthorized".into()),
        Err(e @ CoreError::Forbidden { .. }) => Ok(policy(
            "denied",
            "Deny",
            &arn,
            json!({ "code": e.code(), "detail": e.to_string() }),
        )),
        Err(e) => {
            tracing::error!(code = e.code(), error = %e, "authorizer failure");
            Err("authorizer backend failure".into())
        }
    }
}

fn policy(principal_id: &str, effect: &str, method_arn: &str, context: Value) -> Value {
    json!({
        "principalId": principal_id,
        "policyDocument": {
            "Version": "2012-10-17",
            "Statement": [{ "Action": "execute-api:Invoke", "Effect": effect, "Resource": method_arn }]
        },
        "context": context,
    })
}
