//! The built-in test processor: a payment processor on one machine, where no money moves. It
//! keeps its payments in the table (partition `LOCALPAY`, apart from every practice) and serves
//! its own checkout page at `/_local/pay/{ref}`, clearly titled "Test payment — no money moves",
//! where whoever tries the portal approves, declines or walks away ("never come back": the
//! payment stays pending until the reconciler cancels it). It sends no webhooks: the portal learns
//! the outcome by reading the payment, as it does from any processor on a poll or a
//! reconciliation.

use async_trait::async_trait;
use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use portal_core::ports::{
    CardSummary, Charge, ChargeRequest, ChargeStatus, Cond, Item, PaymentProcessor, PortError, ProcessorAccount, ProcessorEvent, Table,
    TableError,
};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::sync::Arc;

const PARTITION: &str = "LOCALPAY";

/// What the processor holds of one payment.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Stored {
    reference: String,
    amount_cents: i64,
    description: String,
    status: ChargeStatus,
    #[serde(default)]
    refunded_cents: i64,
}

pub struct TestProcessor {
    table: Arc<dyn Table>,
    /// Where this host is reached: the checkout page's address starts with it.
    base_url: String,
}

fn backend(e: TableError) -> PortError {
    PortError::Backend(e.to_string())
}

fn is_ref(r: &str) -> bool {
    r.len() == 27 && r.starts_with("tp_") && r[3..].bytes().all(|b| b.is_ascii_hexdigit())
}

impl TestProcessor {
    pub fn new(table: Arc<dyn Table>, base_url: &str) -> Self {
        TestProcessor { table, base_url: base_url.trim_end_matches('/').to_string() }
    }

    async fn load(&self, processor_ref: &str) -> Result<(Stored, u64), PortError> {
        if !is_ref(processor_ref) {
            return Err(PortError::Rejected("no such payment".into()));
        }
        let item = self
            .table
            .get(PARTITION, processor_ref)
            .await
            .map_err(backend)?
            .ok_or_else(|| PortError::Rejected("no such payment".into()))?;
        Ok((item.parse().map_err(backend)?, item.version))
    }

    async fn store(&self, processor_ref: &str, stored: &Stored, version: u64) -> Result<(), PortError> {
        let item = Item::new(PARTITION, processor_ref, serde_json::to_value(stored).map_err(|e| PortError::Backend(e.to_string()))?)
            .with_version(version + 1);
        self.table.put(item, Cond::Version(version)).await.map_err(backend)
    }

    fn charge(&self, processor_ref: &str, s: &Stored) -> Charge {
        let approved = s.status == ChargeStatus::Approved;
        Charge {
            processor_ref: processor_ref.to_string(),
            reference: Some(s.reference.clone()),
            amount_cents: s.amount_cents,
            card: approved.then(|| CardSummary { brand: "Test card".into(), last4: "4242".into() }),
            checkout: (s.status == ChargeStatus::Pending).then(|| format!("{}/_local/pay/{processor_ref}", self.base_url)),
            status: s.status.clone(),
        }
    }

    /// What the checkout page's buttons do: `approve`, `decline` (only while pending).
    pub async fn decide(&self, processor_ref: &str, action: &str) -> Result<(), PortError> {
        self.decided(processor_ref, action).await.map(|_| ())
    }

    async fn decided(&self, processor_ref: &str, action: &str) -> Result<Stored, PortError> {
        let (mut stored, version) = self.load(processor_ref).await?;
        if stored.status == ChargeStatus::Pending {
            stored.status = match action {
                "approve" => ChargeStatus::Approved,
                "decline" => ChargeStatus::Declined { reason: "The test card was declined.".into() },
                _ => return Ok(stored),
            };
            self.store(processor_ref, &stored, version).await?;
        }
        Ok(stored)
    }
}

#[async_trait]
impl PaymentProcessor for TestProcessor {
    async fn create(&self, _: &ProcessorAccount, request: &ChargeRequest<'_>) -> Result<Charge, PortError> {
        // The same idempotency key names the same payment.
        let processor_ref = format!("tp_{}", &hex::encode(Sha256::digest(request.idempotency_key.as_bytes()))[..24]);
        let stored = Stored {
            reference: request.reference.to_string(),
            amount_cents: request.amount_cents,
            description: request.description.to_string(),
            status: ChargeStatus::Pending,
            refunded_cents: 0,
        };
        let item =
            Item::new(PARTITION, processor_ref.clone(), serde_json::to_value(&stored).map_err(|e| PortError::Backend(e.to_string()))?)
                .with_version(1);
        match self.table.put(item, Cond::Absent).await {
            // Created before with this key: that one is the answer.
            Ok(()) | Err(TableError::ConditionFailed) => {}
            Err(e) => return Err(backend(e)),
        }
        let (stored, _) = self.load(&processor_ref).await?;
        Ok(self.charge(&processor_ref, &stored))
    }

    async fn check(&self, _: &ProcessorAccount) -> Result<(), PortError> {
        Ok(())
    }

    async fn pay(&self, _: &ProcessorAccount, _: &str, _: &str) -> Result<Charge, PortError> {
        Err(PortError::Rejected("the test processor takes cards on its own page".into()))
    }

    async fn read(&self, _: &ProcessorAccount, processor_ref: &str) -> Result<Charge, PortError> {
        let (stored, _) = self.load(processor_ref).await?;
        Ok(self.charge(processor_ref, &stored))
    }

    async fn cancel(&self, _: &ProcessorAccount, processor_ref: &str) -> Result<Charge, PortError> {
        let (mut stored, version) = self.load(processor_ref).await?;
        if matches!(stored.status, ChargeStatus::Pending | ChargeStatus::Declined { .. }) {
            stored.status = ChargeStatus::Canceled;
            self.store(processor_ref, &stored, version).await?;
        }
        Ok(self.charge(processor_ref, &stored))
    }

    async fn refund(
        &self,
        _: &ProcessorAccount,
        processor_ref: &str,
        amount_cents: i64,
        idempotency_key: &str,
    ) -> Result<String, PortError> {
        let refund_ref = format!("tpr_{}", &hex::encode(Sha256::digest(idempotency_key.as_bytes()))[..24]);
        let marker = Item::new(PARTITION, refund_ref.clone(), serde_json::json!({ "payment": processor_ref, "amountCents": amount_cents }));
        match self.table.put(marker, Cond::Absent).await {
            Ok(()) => {}
            Err(TableError::ConditionFailed) => return Ok(refund_ref),
            Err(e) => return Err(backend(e)),
        }
        let (mut stored, version) = self.load(processor_ref).await?;
        if stored.status != ChargeStatus::Approved || stored.refunded_cents + amount_cents > stored.amount_cents {
            let _ = self.table.delete(PARTITION, &refund_ref, Cond::None).await;
            return Err(PortError::Rejected("more than the payment's unrefunded amount".into()));
        }
        stored.refunded_cents += amount_cents;
        self.store(processor_ref, &stored, version).await?;
        Ok(refund_ref)
    }

    fn webhook(&self, _: &ProcessorAccount, _: &str, _: &[u8], _: i64) -> Result<ProcessorEvent, PortError> {
        Err(PortError::Rejected("the test processor sends no webhooks".into()))
    }
}

/// The checkout page's routes.
pub fn test_processor_routes(processor: Arc<TestProcessor>) -> Router {
    Router::new().route("/_local/pay/{processor_ref}", get(page).post(decide)).with_state(processor)
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

fn html(status: StatusCode, body: String) -> Response {
    let mut res = (
        status,
        Html(format!(
            "<!doctype html><html lang=en><meta charset=utf-8><meta name=viewport content=\"width=device-width, initial-scale=1\">\
             <title>Test payment — no money moves</title><main><h1>Test payment — no money moves</h1>{body}</main></html>"
        )),
    )
        .into_response();
    portal_http_headers(res.headers_mut());
    res
}

/// The same headers the portal's pages carry (a page of its own: no script, forms to itself).
fn portal_http_headers(h: &mut axum::http::HeaderMap) {
    let set = |h: &mut axum::http::HeaderMap, k: &'static str, v: &'static str| {
        h.insert(k, axum::http::HeaderValue::from_static(v));
    };
    set(
        h,
        "content-security-policy",
        "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    );
    set(h, "x-content-type-options", "nosniff");
    set(h, "referrer-policy", "no-referrer");
    set(h, "cache-control", "no-store");
    h.insert(header::X_FRAME_OPTIONS, axum::http::HeaderValue::from_static("DENY"));
}

/// `?back=`: where the portal asked to come back to; only a path on this host.
#[derive(Deserialize)]
struct Back {
    back: Option<String>,
}

fn back_path(back: Option<&str>) -> Option<&str> {
    back.filter(|b| b.starts_with("/p/") && !b.contains("//") && !b.contains('\\') && b.len() < 300)
}

async fn page(
    State(p): State<Arc<TestProcessor>>,
    Path(processor_ref): Path<String>,
    axum::extract::Query(back): axum::extract::Query<Back>,
) -> Response {
    let Ok((stored, _)) = p.load(&processor_ref).await else {
        return html(StatusCode::NOT_FOUND, "<p>There is no such test payment.</p>".into());
    };
    let back = back_path(back.back.as_deref()).map(esc).unwrap_or_default();
    let amount = portal_core::payments::dollars(stored.amount_cents);
    let body = match stored.status {
        ChargeStatus::Pending => format!(
            "<p>This is the portal's built-in test processor. Nothing is charged: choose what the card does.</p>\
             <p><strong>{amount}</strong> — {}</p>\
             <form method=post><input type=hidden name=back value=\"{back}\">\
             <button name=action value=approve>Approve</button> <button name=action value=decline>Decline</button> \
             <button name=action value=abandon>Never come back</button></form>",
            esc(&stored.description)
        ),
        ref s => format!(
            "<p>This test payment of {amount} is {}.</p>",
            match s {
                ChargeStatus::Approved => "approved",
                ChargeStatus::Canceled => "canceled",
                _ => "declined",
            }
        ),
    };
    html(StatusCode::OK, body)
}

#[derive(Deserialize)]
struct Decision {
    action: String,
    back: Option<String>,
}

async fn decide(State(p): State<Arc<TestProcessor>>, Path(processor_ref): Path<String>, body: axum::body::Bytes) -> Response {
    let Ok(d) = serde_urlencoded::from_bytes::<Decision>(&body) else {
        return html(StatusCode::BAD_REQUEST, "<p>Choose one of the buttons.</p>".into());
    };
    if p.decided(&processor_ref, &d.action).await.is_err() {
        return html(StatusCode::NOT_FOUND, "<p>There is no such test payment.</p>".into());
    }
    if d.action == "abandon" {
        return html(StatusCode::OK, "<p>You walked away: the payment stays pending until the portal gives up on it.</p>".into());
    }
    match back_path(d.back.as_deref()) {
        Some(back) => (StatusCode::SEE_OTHER, [(header::LOCATION, back.to_string())]).into_response(),
        None => html(StatusCode::OK, "<p>Done. Go back to the portal to see the payment.</p>".into()),
    }
}
