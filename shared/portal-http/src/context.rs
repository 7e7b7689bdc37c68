//! The principal, from the context the authorizer put on the request: API Gateway's
//! `requestContext.authorizer` on Lambda, the same structure injected by `portal-local`. Handlers
//! take practice and principal ids from here only, never from the path, query or body.

use crate::problem::ApiError;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use lambda_http::aws_lambda_events::apigw::ApiGatewayProxyRequestContext;
use lambda_http::request::RequestContext;
use portal_core::access::{Access, AuthContext};
use portal_core::identity::login::RequestMeta;
use portal_core::{CoreError, ProblemCode};
use std::collections::HashMap;

/// The authenticated caller. Extracting it fails with 401 when the request carries no valid
/// authorizer context.
#[derive(Debug, Clone)]
pub struct Principal(pub AuthContext);

impl Principal {
    /// The handler's own re-check of what the route needs (defence in depth behind the authorizer).
    pub fn require(&self, access: Access) -> Result<&AuthContext, ApiError> {
        self.0.allows(access)?;
        Ok(&self.0)
    }
}

fn context(parts: &Parts) -> Option<&ApiGatewayProxyRequestContext> {
    match parts.extensions.get::<RequestContext>()? {
        RequestContext::ApiGatewayV1(ctx) => Some(ctx),
        #[allow(unreachable_patterns)]
        _ => None,
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Principal {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let fields =
            &context(parts).ok_or_else(|| CoreError::unauthorized(ProblemCode::SessionRequired, "Log in to continue."))?.authorizer.fields;
        let get = |k: &str| fields.get(k).and_then(|v| v.as_str().map(str::to_string).or_else(|| (!v.is_null()).then(|| v.to_string())));
        AuthContext::from_fields(get)
            .map(Principal)
            .ok_or_else(|| CoreError::unauthorized(ProblemCode::SessionRequired, "Log in to continue.").into())
    }
}

/// The caller's address as the edge saw it.
pub fn source_ip(parts: &Parts) -> Option<String> {
    context(parts).and_then(|c| c.identity.source_ip.clone())
}

/// Facts about the request for the audit log.
pub struct Meta(pub RequestMeta);

impl<S: Send + Sync> FromRequestParts<S> for Meta {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(Meta(RequestMeta { source_ip: source_ip(parts) }))
    }
}

/// Builds the request context API Gateway (REST) gives a Lambda function behind a REQUEST
/// authorizer: `portal-local` and tests inject exactly this. (Field by field rather than through
/// JSON: the local host builds one per request.)
pub fn api_gateway_context(fields: Option<HashMap<String, String>>, source_ip: &str, method: &str, path: &str) -> RequestContext {
    let mut ctx = ApiGatewayProxyRequestContext::default();
    ctx.account_id = Some("000000000000".into());
    ctx.resource_id = Some("local".into());
    ctx.stage = Some("v1".into());
    ctx.request_id = Some(portal_core::ids::new_id());
    ctx.identity.source_ip = Some(source_ip.into());
    ctx.resource_path = Some(path.into());
    ctx.http_method = method.parse().unwrap_or_default();
    ctx.apiid = Some("local".into());
    ctx.path = Some(path.into());
    ctx.authorizer.fields = fields.unwrap_or_default().into_iter().map(|(k, v)| (k, serde_json::Value::String(v))).collect();
    RequestContext::ApiGatewayV1(ctx)
}
