//! A practice's payment setup: which processor takes its payments, the processor's keys, and the
//! most a patient may pay online at once. The secret key and the webhook secret are sealed by the
//! [`SecretBox`] (bound to the practice and what they are) and write-only: staff see only whether
//! each is set, never the value again.

use crate::audit::{Actor, AuditAction, AuditLog, Outcome};
use crate::ids::PracticeId;
use crate::ports::Processors;
use crate::ports::{Cond, Db, Item, ProcessorAccount, ProcessorKind, SecretBox};
use crate::table_keys;
use crate::{CoreError, CoreResult, ProblemCode};
use serde::{Deserialize, Serialize};
use serde_json::json;

/// The most a patient may pay at once unless the practice sets another limit.
pub const DEFAULT_LIMIT_CENTS: i64 = 500_000;
/// The highest limit a practice may set ($100,000).
pub const MAX_LIMIT_CENTS: i64 = 10_000_000;

/// The setup as the table holds it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PaymentSetup {
    pub processor: ProcessorKind,
    /// Stripe's publishable key (`pk_…`): public by design, the page hands it to Stripe.js.
    #[serde(default)]
    pub publishable_key: String,
    /// Sealed, base64url; empty when not set.
    #[serde(default)]
    pub sealed_secret_key: String,
    #[serde(default)]
    pub sealed_webhook_secret: String,
    pub limit_cents: i64,
    #[serde(default)]
    pub version: u64,
    #[serde(default)]
    pub updated_at: i64,
    #[serde(default)]
    pub updated_by: String,
}

impl Default for PaymentSetup {
    fn default() -> Self {
        PaymentSetup {
            processor: ProcessorKind::None,
            publishable_key: String::new(),
            sealed_secret_key: String::new(),
            sealed_webhook_secret: String::new(),
            limit_cents: DEFAULT_LIMIT_CENTS,
            version: 0,
            updated_at: 0,
            updated_by: String::new(),
        }
    }
}

/// What staff see of the setup.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SetupView {
    pub processor: ProcessorKind,
    pub publishable_key: String,
    pub secret_key_set: bool,
    pub webhook_secret_set: bool,
    pub limit_cents: i64,
    pub version: u64,
    /// The processors this deployment offers.
    pub processors: Vec<ProcessorKind>,
}

/// What "Test connection" found.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Connection {
    pub ok: bool,
    pub detail: String,
}

/// A change staff submitted. A secret left out (`None`) keeps the one stored.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SetupChange {
    pub processor: ProcessorKind,
    #[serde(default)]
    pub publishable_key: String,
    pub secret_key: Option<String>,
    pub webhook_secret: Option<String>,
    pub limit_cents: i64,
    /// The version the change was made from (0 when nothing was saved yet).
    pub version: u64,
}

pub struct PaymentSetups<'a> {
    pub db: Db<'a>,
    pub secrets: &'a dyn SecretBox,
    pub processors: &'a Processors,
}

fn context<'a>(practice: &'a str, what: &'a str) -> [(&'a str, &'a str); 3] {
    [("purpose", "portal-payment-secret"), ("practice", practice), ("secret", what)]
}

fn key_like(value: &str, prefixes: &[&str]) -> bool {
    prefixes.iter().any(|p| value.starts_with(p))
        && (8..=255).contains(&value.len())
        && value.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

impl PaymentSetups<'_> {
    /// The practice's setup (the default, no processor, when it never saved one).
    pub async fn get(&self, practice: &PracticeId) -> CoreResult<PaymentSetup> {
        match self.db.table.get(&table_keys::practice(practice), table_keys::PAYMENT_SETUP).await? {
            Some(item) => item.parse().map_err(Into::into),
            None => Ok(PaymentSetup::default()),
        }
    }

    pub async fn view(&self, practice: &PracticeId) -> CoreResult<SetupView> {
        Ok(self.view_of(self.get(practice).await?))
    }

    fn view_of(&self, s: PaymentSetup) -> SetupView {
        SetupView {
            processor: s.processor,
            publishable_key: s.publishable_key,
            secret_key_set: !s.sealed_secret_key.is_empty(),
            webhook_secret_set: !s.sealed_webhook_secret.is_empty(),
            limit_cents: s.limit_cents,
            version: s.version,
            processors: self.processors.offered(),
        }
    }

    /// Saves a change made from `change.version`; a change from an older version is a conflict
    /// carrying what is stored now.
    pub async fn save(&self, actor: &Actor, change: SetupChange) -> CoreResult<SetupView> {
        let practice = &actor.practice;
        if change.processor != ProcessorKind::None && self.processors.get(change.processor).is_none() {
            return Err(CoreError::invalid(
                ProblemCode::PaymentSetupInvalid,
                format!("The {} processor is not offered here.", change.processor.as_str()),
            ));
        }
        if !(super::MIN_CENTS..=MAX_LIMIT_CENTS).contains(&change.limit_cents) {
            return Err(CoreError::invalid(
                ProblemCode::PaymentSetupInvalid,
                format!("The online payment limit must be between $1.00 and ${}.", MAX_LIMIT_CENTS / 100),
            ));
        }
        let current = self.get(practice).await?;
        if change.version != current.version {
            return Err(CoreError::Conflict {
                code: ProblemCode::SettingsChanged,
                detail: "Someone else saved the payment setup first; review it and save again.".into(),
                current: serde_json::to_value(self.view_of(current)).ok(),
            });
        }
        let mut next = PaymentSetup {
            processor: change.processor,
            publishable_key: change.publishable_key.trim().to_string(),
            limit_cents: change.limit_cents,
            version: current.version + 1,
            updated_at: self.db.clock.now(),
            updated_by: actor.id.clone(),
            ..current.clone()
        };
        if let Some(secret) = change.secret_key.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
            if !key_like(secret, &["sk_", "rk_"]) {
                return Err(CoreError::invalid(
                    ProblemCode::PaymentSetupInvalid,
                    "The secret key is Stripe's sk_… (or restricted rk_…) key.",
                ));
            }
            next.sealed_secret_key = crate::ids::b64url(&self.secrets.seal(secret.as_bytes(), &context(practice, "secret-key")).await?);
        }
        if let Some(secret) = change.webhook_secret.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
            if !key_like(secret, &["whsec_"]) {
                return Err(CoreError::invalid(ProblemCode::PaymentSetupInvalid, "The webhook signing secret is Stripe's whsec_… value."));
            }
            next.sealed_webhook_secret =
                crate::ids::b64url(&self.secrets.seal(secret.as_bytes(), &context(practice, "webhook-secret")).await?);
        }
        if next.processor == ProcessorKind::Stripe {
            if !key_like(&next.publishable_key, &["pk_"]) {
                return Err(CoreError::invalid(ProblemCode::PaymentSetupInvalid, "The publishable key is Stripe's pk_… key."));
            }
            if next.sealed_secret_key.is_empty() || next.sealed_webhook_secret.is_empty() {
                return Err(CoreError::invalid(
                    ProblemCode::PaymentSetupInvalid,
                    "Stripe needs its secret key and its webhook signing secret.",
                ));
            }
        }
        let item =
            Item::new(table_keys::practice(practice), table_keys::PAYMENT_SETUP, serde_json::to_value(&next).map_err(CoreError::backend)?)
                .with_version(next.version);
        let cond = if current.version == 0 { Cond::Absent } else { Cond::Version(current.version) };
        let audit = AuditLog { db: self.db }.entry(
            actor,
            AuditAction::SettingsPayments,
            practice,
            Outcome::Success,
            json!({
                "processor": next.processor.as_str(),
                "limitCents": next.limit_cents,
                "secretKeyChanged": change.secret_key.is_some_and(|s| !s.trim().is_empty()),
                "webhookSecretChanged": change.webhook_secret.is_some_and(|s| !s.trim().is_empty()),
            }),
        )?;
        self.db.table.transact(vec![crate::ports::TxOp::Put(item, cond), audit]).await?;
        Ok(self.view_of(next))
    }

    /// Tries the saved keys at the processor (changing nothing); answers whether they work and,
    /// when not, the processor's words. Audited.
    pub async fn test_connection(&self, actor: &Actor) -> CoreResult<Connection> {
        let practice = &actor.practice;
        let setup = self.get(practice).await?;
        let Some(processor) = self.processors.get(setup.processor) else {
            return Ok(Connection { ok: false, detail: "No processor is chosen.".into() });
        };
        let account = self.account(practice, &setup).await?;
        let answer = match processor.check(&account).await {
            Ok(()) => Connection { ok: true, detail: format!("The {} keys work.", setup.processor.as_str()) },
            Err(e) => Connection { ok: false, detail: e.to_string().chars().take(300).collect() },
        };
        AuditLog { db: self.db }
            .record(
                actor,
                AuditAction::SettingsPaymentsTest,
                practice,
                if answer.ok { Outcome::Success } else { Outcome::Failure },
                serde_json::Value::Null,
            )
            .await?;
        Ok(answer)
    }

    /// The practice's account at its processor, its secrets opened for this request.
    pub async fn account(&self, practice: &PracticeId, setup: &PaymentSetup) -> CoreResult<ProcessorAccount> {
        Ok(ProcessorAccount {
            secret_key: self.open(practice, &setup.sealed_secret_key, "secret-key").await?,
            webhook_secret: self.open(practice, &setup.sealed_webhook_secret, "webhook-secret").await?,
        })
    }

    async fn open(&self, practice: &PracticeId, sealed: &str, what: &str) -> CoreResult<String> {
        if sealed.is_empty() {
            return Ok(String::new());
        }
        let bytes = crate::ids::b64url_decode(sealed).ok_or_else(|| CoreError::backend("corrupt sealed secret"))?;
        let plain = self.secrets.open(&bytes, &context(practice, what)).await?;
        String::from_utf8(plain).map_err(|_| CoreError::backend("corrupt sealed secret"))
    }
}
