//! The [`PaymentProcessor`] port on Stripe: a few hand-written calls of Stripe's REST API
//! (PaymentIntents, PaymentMethods, Refunds; form-encoded, `Authorization: Bearer` with the
//! practice's own secret key) over the HTTP client the portal already ships, and the webhook
//! signature check. The card is collected by Stripe.js in the patient's browser, straight to
//! Stripe: no card data passes here.
//!
//! Why not the `async-stripe` crate: it generates the whole API (hundreds of types), which grows
//! the binary and its build for four calls; these four calls and one HMAC are all the portal uses.
//! The client is built on first use, so a cold start that answers from the table pays nothing
//! for it.

use async_trait::async_trait;
use hmac::{Hmac, Mac};
use portal_core::ports::{CardSummary, Charge, ChargeRequest, ChargeStatus, PaymentProcessor, PortError, ProcessorAccount, ProcessorEvent};
use serde_json::Value;
use sha2::Sha256;
use std::sync::OnceLock;
use std::time::Duration;

/// How far a webhook's signing time may be from now (Stripe's own libraries use five minutes).
pub const WEBHOOK_TOLERANCE_SECONDS: i64 = 300;

pub struct StripeProcessor {
    /// `https://api.stripe.com`, or a stand-in such as localstripe in tests.
    api_base: String,
    /// Stripe.js, which the payment page loads (`https://js.stripe.com/v3/`).
    script_url: String,
    client: OnceLock<reqwest::Client>,
}

/// Where Stripe is: its API and Stripe.js.
pub const STRIPE_API: &str = "https://api.stripe.com";
pub const STRIPE_JS: &str = "https://js.stripe.com/v3/";

impl StripeProcessor {
    pub fn new(api_base: &str, script_url: &str) -> Self {
        StripeProcessor {
            api_base: api_base.trim_end_matches('/').to_string(),
            script_url: script_url.to_string(),
            client: OnceLock::new(),
        }
    }

    /// Stripe, unless `PORTAL_STRIPE_API` and `PORTAL_STRIPE_JS` name a stand-in (localstripe in
    /// tests serves both).
    pub fn from_env() -> Self {
        let env = |name: &str, default: &str| std::env::var(name).ok().filter(|v| !v.is_empty()).unwrap_or_else(|| default.into());
        StripeProcessor::new(&env("PORTAL_STRIPE_API", STRIPE_API), &env("PORTAL_STRIPE_JS", STRIPE_JS))
    }

    /// Where its API is (the payment page's policy names its origin).
    pub fn api_base(&self) -> &str {
        &self.api_base
    }

    fn client(&self) -> &reqwest::Client {
        self.client.get_or_init(|| {
            reqwest::Client::builder()
                .timeout(Duration::from_secs(20))
                .connect_timeout(Duration::from_secs(5))
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("an HTTP client")
        })
    }

    async fn call(
        &self,
        account: &ProcessorAccount,
        method: reqwest::Method,
        path: &str,
        form: &[(&str, &str)],
        idempotency_key: Option<&str>,
    ) -> Result<Value, PortError> {
        self.request(account, method, path, form, idempotency_key).await.map_err(Refused::into_port)
    }

    /// One API call; a refusal keeps Stripe's status and message (a card refused is 402).
    async fn request(
        &self,
        account: &ProcessorAccount,
        method: reqwest::Method,
        path: &str,
        form: &[(&str, &str)],
        idempotency_key: Option<&str>,
    ) -> Result<Value, Refused> {
        if account.secret_key.is_empty() {
            return Err(Refused::Port(PortError::Rejected("no Stripe secret key is set".into())));
        }
        let mut req = self.client().request(method, format!("{}{path}", self.api_base)).bearer_auth(&account.secret_key);
        if let Some(key) = idempotency_key {
            req = req.header("Idempotency-Key", key);
        }
        if !form.is_empty() {
            let body = url::form_urlencoded::Serializer::new(String::new()).extend_pairs(form).finish();
            req = req.header("Content-Type", "application/x-www-form-urlencoded").body(body);
        }
        let res = req.send().await.map_err(|e| Refused::Port(PortError::Backend(format!("Stripe did not answer: {}", without_url(&e)))))?;
        let status = res.status();
        let bytes =
            res.bytes().await.map_err(|e| Refused::Port(PortError::Backend(format!("Stripe's answer broke off: {}", without_url(&e)))))?;
        let body: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        if status.is_success() {
            return Ok(body);
        }
        let message = body["error"]["message"].as_str().unwrap_or("no message").chars().take(300).collect::<String>();
        Err(Refused::Stripe { status: status.as_u16(), message })
    }

    /// The intent as a [`Charge`], with the card's brand and last four digits once it succeeded.
    async fn charge(&self, account: &ProcessorAccount, intent: &Value) -> Result<Charge, PortError> {
        let mut charge = charge_of(intent).ok_or_else(|| PortError::Backend("Stripe's answer is not a PaymentIntent".into()))?;
        if charge.status == ChargeStatus::Approved {
            if let Some(pm) = intent["payment_method"].as_str().filter(|pm| is_stripe_id(pm)) {
                let method = self.call(account, reqwest::Method::GET, &format!("/v1/payment_methods/{pm}"), &[], None).await?;
                charge.card = card_of(&method);
            } else {
                charge.card = card_of(&intent["payment_method"]);
            }
        }
        Ok(charge)
    }
}

/// Why a call did not succeed.
enum Refused {
    /// Stripe answered with an error status (402: the card was refused).
    Stripe {
        status: u16,
        message: String,
    },
    Port(PortError),
}

impl Refused {
    fn into_port(self) -> PortError {
        match self {
            Refused::Stripe { status: 401 | 403, .. } => PortError::Rejected("Stripe refused the secret key".into()),
            Refused::Stripe { status: 400..=499, message, .. } => PortError::Rejected(format!("Stripe: {message}")),
            Refused::Stripe { status, message } => PortError::Backend(format!("Stripe answered {status}: {message}")),
            Refused::Port(e) => e,
        }
    }
}

/// Stripe's ids are letters, digits and `_`: nothing that could change the path they go in.
fn is_stripe_id(id: &str) -> bool {
    (4..=255).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// An error's text without the URL it was sending to.
fn without_url(e: &reqwest::Error) -> String {
    let mut s = e.to_string();
    if let Some(u) = e.url() {
        s = s.replace(u.as_str(), "Stripe");
    }
    s
}

/// The brand and last four digits of a PaymentMethod (`card.brand`) or of a card object
/// (`brand`, as Stripe answers for a `card_…` id).
fn card_of(method: &Value) -> Option<CardSummary> {
    let card = if method["card"].is_object() { &method["card"] } else { method };
    Some(CardSummary { brand: card["brand"].as_str()?.to_string(), last4: card["last4"].as_str()?.to_string() })
}

/// A PaymentIntent object as a [`Charge`] (the card is filled in separately).
pub fn charge_of(intent: &Value) -> Option<Charge> {
    if intent["object"].as_str() != Some("payment_intent") {
        return None;
    }
    let status = match intent["status"].as_str()? {
        "succeeded" => ChargeStatus::Approved,
        "canceled" => ChargeStatus::Canceled,
        "requires_payment_method" if intent["last_payment_error"].is_object() => ChargeStatus::Declined {
            reason: intent["last_payment_error"]["message"].as_str().unwrap_or("The card was declined.").chars().take(200).collect(),
        },
        _ => ChargeStatus::Pending,
    };
    Some(Charge {
        processor_ref: intent["id"].as_str()?.to_string(),
        reference: intent["metadata"]["payment_id"].as_str().map(str::to_string),
        amount_cents: intent["amount"].as_i64()?,
        checkout: (status == ChargeStatus::Pending || matches!(status, ChargeStatus::Declined { .. }))
            .then(|| intent["client_secret"].as_str().map(str::to_string))
            .flatten(),
        status,
        card: None,
    })
}

/// Checks a `Stripe-Signature` header (`t=…,v1=…[,v1=…]`) over `body`: HMAC-SHA256 of
/// `{t}.{body}` with the endpoint's signing secret, compared in constant time, signed within
/// [`WEBHOOK_TOLERANCE_SECONDS`] of `now`.
pub fn verify_signature(secret: &str, header: &str, body: &[u8], now: i64) -> Result<(), PortError> {
    let reject = |why: &str| Err(PortError::Rejected(why.into()));
    if secret.is_empty() {
        return reject("no webhook secret is set");
    }
    let mut timestamp = None;
    let mut signatures = vec![];
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", t)) => timestamp = t.parse::<i64>().ok(),
            Some(("v1", s)) => signatures.extend(hex::decode(s).ok()),
            _ => {}
        }
    }
    let Some(t) = timestamp else { return reject("the signature has no timestamp") };
    if (now - t).abs() > WEBHOOK_TOLERANCE_SECONDS {
        return reject("the signature is too old or from the future");
    }
    for signature in &signatures {
        let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key");
        mac.update(t.to_string().as_bytes());
        mac.update(b".");
        mac.update(body);
        // `verify_slice` compares in constant time.
        if mac.verify_slice(signature).is_ok() {
            return Ok(());
        }
    }
    reject("no signature matches")
}

#[async_trait]
impl PaymentProcessor for StripeProcessor {
    async fn create(&self, account: &ProcessorAccount, r: &ChargeRequest<'_>) -> Result<Charge, PortError> {
        let amount = r.amount_cents.to_string();
        let form = [
            ("amount", amount.as_str()),
            ("currency", "usd"),
            ("payment_method_types[0]", "card"),
            ("metadata[payment_id]", r.reference),
            ("metadata[description]", r.description),
        ];
        let intent = self.call(account, reqwest::Method::POST, "/v1/payment_intents", &form, Some(r.idempotency_key)).await?;
        self.charge(account, &intent).await
    }

    /// Finalizes on the server, as Stripe's "card token" flow does: the token becomes a card of a
    /// new customer (a card refused when it is attached is a decline), which is set on the
    /// PaymentIntent, which is then confirmed (a card refused when charged is a decline too).
    async fn pay(&self, account: &ProcessorAccount, processor_ref: &str, card_token: &str) -> Result<Charge, PortError> {
        if !is_stripe_id(processor_ref) || !card_token.starts_with("tok_") || !is_stripe_id(card_token) {
            return Err(PortError::Rejected("not a Stripe id".into()));
        }
        let declined = |message: String| async move {
            let mut charge = self.read(account, processor_ref).await?;
            if !matches!(charge.status, ChargeStatus::Approved | ChargeStatus::Canceled | ChargeStatus::Declined { .. }) {
                charge.status = ChargeStatus::Declined { reason: message };
            }
            Ok(charge)
        };
        let key = format!("{processor_ref}-{card_token}");
        let form = [("source", card_token), ("metadata[payment_intent]", processor_ref)];
        let customer = match self.request(account, reqwest::Method::POST, "/v1/customers", &form, Some(&format!("{key}-customer"))).await {
            Ok(customer) => customer,
            Err(Refused::Stripe { status: 402, message }) => return declined(message).await,
            Err(e) => return Err(e.into_port()),
        };
        let (Some(customer_id), Some(card)) = (customer["id"].as_str(), customer["default_source"].as_str()) else {
            return Err(PortError::Backend("Stripe's answer is not a customer with a card".into()));
        };
        let path = format!("/v1/payment_intents/{processor_ref}");
        self.call(account, reqwest::Method::POST, &path, &[("customer", customer_id), ("payment_method", card)], None).await?;
        match self.request(account, reqwest::Method::POST, &format!("{path}/confirm"), &[], Some(&format!("{key}-confirm"))).await {
            Ok(intent) => self.charge(account, &intent).await,
            Err(Refused::Stripe { status: 402, message }) => declined(message).await,
            Err(e) => Err(e.into_port()),
        }
    }

    async fn read(&self, account: &ProcessorAccount, processor_ref: &str) -> Result<Charge, PortError> {
        if !is_stripe_id(processor_ref) {
            return Err(PortError::Rejected("not a Stripe id".into()));
        }
        let intent = self.call(account, reqwest::Method::GET, &format!("/v1/payment_intents/{processor_ref}"), &[], None).await?;
        self.charge(account, &intent).await
    }

    async fn cancel(&self, account: &ProcessorAccount, processor_ref: &str) -> Result<Charge, PortError> {
        let current = self.read(account, processor_ref).await?;
        if matches!(current.status, ChargeStatus::Approved | ChargeStatus::Canceled) {
            return Ok(current);
        }
        let path = format!("/v1/payment_intents/{processor_ref}/cancel");
        match self.call(account, reqwest::Method::POST, &path, &[], None).await {
            Ok(intent) => self.charge(account, &intent).await,
            // It moved on meanwhile (paid at the last moment): answer where it is.
            Err(PortError::Rejected(_)) => self.read(account, processor_ref).await,
            Err(e) => Err(e),
        }
    }

    async fn refund(
        &self,
        account: &ProcessorAccount,
        processor_ref: &str,
        amount_cents: i64,
        idempotency_key: &str,
    ) -> Result<String, PortError> {
        if !is_stripe_id(processor_ref) {
            return Err(PortError::Rejected("not a Stripe id".into()));
        }
        let amount = amount_cents.to_string();
        let form = [("payment_intent", processor_ref), ("amount", amount.as_str())];
        let refund = self.call(account, reqwest::Method::POST, "/v1/refunds", &form, Some(idempotency_key)).await?;
        refund["id"].as_str().map(str::to_string).ok_or_else(|| PortError::Backend("Stripe's answer is not a refund".into()))
    }

    /// Lists one PaymentIntent: works with any key that may take payments, changes nothing.
    async fn check(&self, account: &ProcessorAccount) -> Result<(), PortError> {
        self.call(account, reqwest::Method::GET, "/v1/payment_intents?limit=1", &[], None).await.map(|_| ())
    }

    fn script_url(&self) -> Option<String> {
        Some(self.script_url.clone())
    }

    fn webhook(&self, account: &ProcessorAccount, signature: &str, body: &[u8], now: i64) -> Result<ProcessorEvent, PortError> {
        verify_signature(&account.webhook_secret, signature, body, now)?;
        let event: Value = serde_json::from_slice(body).map_err(|_| PortError::Rejected("the event is not JSON".into()))?;
        let id = event["id"].as_str().filter(|id| is_stripe_id(id)).ok_or_else(|| PortError::Rejected("the event has no id".into()))?;
        Ok(ProcessorEvent { id: id.to_string(), charge: charge_of(&event["data"]["object"]) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sign(secret: &str, t: i64, body: &[u8]) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
        mac.update(format!("{t}.").as_bytes());
        mac.update(body);
        format!("t={t},v1={}", hex::encode(mac.finalize().into_bytes()))
    }

    #[test]
    fn a_signature_is_checked_over_time_and_body() {
        let body = br#"{"id":"evt_1"}"#;
        let now = 1_800_000_000;
        assert!(verify_signature("whsec_x", &sign("whsec_x", now - 10, body), body, now).is_ok());
        // Another secret, another body, too old, from the future, no timestamp.
        assert!(verify_signature("whsec_y", &sign("whsec_x", now, body), body, now).is_err());
        assert!(verify_signature("whsec_x", &sign("whsec_x", now, body), b"{}", now).is_err());
        assert!(verify_signature("whsec_x", &sign("whsec_x", now - 301, body), body, now).is_err());
        assert!(verify_signature("whsec_x", &sign("whsec_x", now + 301, body), body, now).is_err());
        assert!(verify_signature("whsec_x", "v1=00", body, now).is_err());
        // A rotated secret: any of the signatures may match.
        let both = format!("{},v1=deadbeef", sign("whsec_x", now, body));
        assert!(verify_signature("whsec_x", &both, body, now).is_ok());
        assert!(verify_signature("", &sign("", now, body), body, now).is_err());
    }

    #[test]
    fn intents_map_to_charges() {
        let intent = |status: &str, error: Value| {
            serde_json::json!({"object": "payment_intent", "id": "pi_1", "status": status, "amount": 5000,
                "metadata": {"payment_id": "p1"}, "client_secret": "pi_1_secret_x", "last_payment_error": error})
        };
        assert_eq!(charge_of(&intent("succeeded", Value::Null)).unwrap().status, ChargeStatus::Approved);
        assert_eq!(charge_of(&intent("requires_payment_method", Value::Null)).unwrap().status, ChargeStatus::Pending);
        let declined = charge_of(&intent("requires_payment_method", serde_json::json!({"message": "Your card was declined."}))).unwrap();
        assert_eq!(declined.status, ChargeStatus::Declined { reason: "Your card was declined.".into() });
        assert_eq!(declined.reference.as_deref(), Some("p1"));
        assert_eq!(charge_of(&intent("canceled", Value::Null)).unwrap().checkout, None);
        assert!(charge_of(&serde_json::json!({"object": "charge"})).is_none());
    }
}
