//! The REQUEST authorizer: resolves the session from the `__Host-` cookie or `Authorization:
//! Bearer` (or, for `/v1/sync`, checks the request's signature), reads the practice's features (cached in the container ≤ 30 s) and applies the access
//! table of `portal_core::access`. On AWS it answers API Gateway with an IAM policy and a flat
//! context; `portal-local` runs the same [`authorize`] as middleware.

use axum::http::HeaderMap;
use lambda_http::aws_lambda_events::apigw::ApiGatewayCustomAuthorizerRequestTypeRequest;
use portal_core::access::{Authorizer, BrowserOrigin, Decision, RequestFacts};
use portal_core::ports::{Clock, Db, Ports, SecretBox, Table};
use portal_core::practice::settings::SettingsCache;
use portal_core::sync::signing::{SecretCache, SyncSignature};
use portal_core::{CoreError, CoreResult};
use serde_json::{json, Value};
use std::sync::Arc;

/// How long a container keeps a practice's settings (a disabled feature stops within 30 s).
pub const SETTINGS_CACHE_SECONDS: i64 = 30;

pub struct Deps {
    pub table: Arc<dyn Table>,
    pub clock: Arc<dyn Clock>,
    pub cache: SettingsCache,
    pub secrets: Arc<dyn SecretBox>,
    pub secret_cache: SecretCache,
}

/// Built from the bundle (the local host, tests): the practice's settings are read on every
/// request, not cached, so a feature turned off applies at once (on Lambda `main.rs` caches them).
impl From<&Ports> for Deps {
    fn from(p: &Ports) -> Self {
        Deps {
            table: p.table.clone(),
            clock: p.clock.clone(),
            cache: SettingsCache::new(0),
            secrets: p.secrets.clone(),
            secret_cache: SecretCache::default(),
        }
    }
}

impl Deps {
    /// The table and the clock, for building a use case.
    fn db(&self) -> Db<'_> {
        Db { table: self.table.as_ref(), clock: self.clock.as_ref() }
    }
}

/// What the authorizer reads of a request, however it arrived.
pub struct Request<'a> {
    pub headers: &'a HeaderMap,
    pub method: &'a str,
    pub path: &'a str,
    pub query: Vec<(String, String)>,
    pub source_ip: Option<&'a str>,
}

/// The authorizer's decision for a request (shared by the Lambda handler and `portal-local`).
pub async fn authorize(deps: &Deps, r: Request<'_>) -> CoreResult<Decision> {
    let header = |name: &str| r.headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_string);
    let facts = RequestFacts {
        method: r.method,
        path: r.path,
        query: r.query,
        token: portal_http::token_from_headers(r.headers),
        sync: SyncSignature::from_headers(header),
        source_ip: r.source_ip,
        origin: BrowserOrigin {
            fetch_site: header("sec-fetch-site"),
            origin: header("origin"),
            host: header("x-forwarded-host").or_else(|| header("host")),
        },
    };
    let authorizer = Authorizer { db: deps.db(), settings: &deps.cache, secrets: deps.secrets.as_ref(), secret_cache: &deps.secret_cache };
    authorizer.authorize(&facts).await
}

/// The Lambda handler. `Err("Unauthorized")` is how a REQUEST authorizer makes API Gateway answer
/// 401; a Deny policy answers 403 (the gateway responses in the template turn both into problem
/// bodies, with the `code` from the context).
pub async fn handle(deps: &Deps, event: ApiGatewayCustomAuthorizerRequestTypeRequest) -> Result<Value, lambda_runtime::Error> {
    let method = event.http_method.as_ref().map(|m| m.as_str().to_string()).unwrap_or_default();
    let path = event.path.clone().unwrap_or_default();
    let arn = event.method_arn.clone().unwrap_or_default();
    let query = event.query_string_parameters.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    let source_ip = event.request_context.identity.as_ref().and_then(|i| i.source_ip.clone());
    let request = Request { headers: &event.headers, method: &method, path: &path, query, source_ip: source_ip.as_deref() };
    match authorize(deps, request).await {
        Ok(Decision::Allow(ctx)) => Ok(policy(&ctx.principal_id, "Allow", &arn, json!(ctx.to_fields()))),
        Ok(Decision::Public) => Ok(policy("anonymous", "Allow", &arn, json!({}))),
        Err(CoreError::Unauthorized { .. }) => Err("Unauthorized".into()),
        Err(e @ CoreError::Forbidden { .. }) => {
            Ok(policy("denied", "Deny", &arn, json!({ "code": e.code(), "detail": json_escaped(&e.to_string()) })))
        }
        Err(e) => {
            tracing::error!(code = %e.code(), error = %e, "authorizer failure");
            Err("authorizer backend failure".into())
        }
    }
}

/// The text as it goes between the quotes of a JSON string: the ACCESS_DENIED gateway response
/// puts the context's `detail` there as it is, so a quote in it must not end the string.
fn json_escaped(text: &str) -> String {
    let quoted = Value::from(text).to_string();
    quoted[1..quoted.len() - 1].to_string()
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

#[cfg(test)]
mod tests {
    #[test]
    fn an_escaped_detail_reads_back_as_itself_between_quotes() {
        let detail = "say \"no\" \\ then\nstop";
        let back: String = serde_json::from_str(&format!("\"{}\"", super::json_escaped(detail))).unwrap();
        assert_eq!(back, detail);
    }
}
