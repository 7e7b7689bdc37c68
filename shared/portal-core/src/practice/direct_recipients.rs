//! The Direct addresses a practice accepts encrypted care summaries for: each registered with its
//! recipient certificate (X.509, RSA; read by `crate::smime`), one entry per email address the
//! certificate names. A patient who chooses "encrypted" may send only to an address registered
//! here whose certificate is current; the summary is sealed to that certificate (S/MIME).
//! Registering and removing are admin changes, audited.

use crate::audit::{Actor, AuditAction, AuditLog, Outcome};
use crate::clock::rfc3339;
use crate::ids::PracticeId;
use crate::ports::{Cond, Db, Item, Query};
use crate::smime::read_certificate;
use crate::table_keys;
use crate::{CoreError, CoreResult, ProblemCode};
use serde::{Deserialize, Serialize};
use serde_json::json;

/// The longest PEM taken (a certificate is 1–3 KB; a chain would be refused anyway).
pub const MAX_PEM: usize = 16 * 1024;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DirectRecipient {
    pub address: String,
    pub subject: String,
    pub not_after: String,
    /// SHA-256 of the certificate, lowercase hex: what staff compare with what the recipient gave.
    pub fingerprint: String,
    pub added_at: String,
    pub added_by: String,
    /// The certificate, DER as hex (what a message is sealed to).
    pub certificate_der: String,
    pub not_after_unix: i64,
}

impl DirectRecipient {
    pub fn certificate(&self) -> Vec<u8> {
        hex::decode(&self.certificate_der).unwrap_or_default()
    }
}

fn invalid(detail: impl Into<String>) -> CoreError {
    CoreError::invalid(ProblemCode::CertificateInvalid, detail)
}

pub struct DirectRecipients<'a> {
    pub db: Db<'a>,
}

impl DirectRecipients<'_> {
    /// Registers a certificate for every address it names (replacing an earlier one).
    pub async fn add(&self, actor: &Actor, by: &str, pem: &str) -> CoreResult<Vec<DirectRecipient>> {
        if pem.len() > MAX_PEM {
            return Err(invalid(format!("certificate: at most {MAX_PEM} bytes of PEM")));
        }
        let cert = read_certificate(pem).map_err(|why| invalid(format!("certificate: {why}")))?;
        let now = self.db.clock.now();
        if cert.addresses.is_empty() {
            return Err(CoreError::Unprocessable {
                code: ProblemCode::CertificateHasNoAddress,
                detail: "The certificate names no email address (subjectAltName rfc822Name), so it cannot be a Direct address's.".into(),
            });
        }
        if cert.not_after <= now || cert.not_before > now {
            return Err(CoreError::Unprocessable {
                code: ProblemCode::CertificateNotCurrent,
                detail: "The certificate is expired or not valid yet.".into(),
            });
        }
        let mut added = vec![];
        for address in &cert.addresses {
            let r = DirectRecipient {
                address: address.clone(),
                subject: cert.subject.clone(),
                not_after: rfc3339(cert.not_after),
                fingerprint: cert.fingerprint.clone(),
                added_at: rfc3339(now),
                added_by: by.to_string(),
                certificate_der: hex::encode(&cert.der),
                not_after_unix: cert.not_after,
            };
            let data = serde_json::to_value(&r).map_err(CoreError::backend)?;
            self.db
                .table
                .put(Item::new(table_keys::practice(&actor.practice), table_keys::direct_recipient(address), data), Cond::None)
                .await?;
            added.push(r);
        }
        let audit = AuditLog { db: self.db };
        audit
            .record(
                actor,
                AuditAction::SettingsDirectRecipientAdd,
                "settings",
                Outcome::Success,
                json!({ "addresses": cert.addresses, "fingerprint": cert.fingerprint }),
            )
            .await?;
        Ok(added)
    }

    pub async fn list(&self, practice: &PracticeId) -> CoreResult<Vec<DirectRecipient>> {
        let page =
            self.db.table.query(Query::new(table_keys::practice(practice)).prefix(table_keys::DIRECT_RECIPIENT_PREFIX).limit(500)).await?;
        page.items.iter().map(|i| i.parse().map_err(CoreError::from)).collect()
    }

    /// The registered recipient for `address`, if any.
    pub async fn for_address(&self, practice: &PracticeId, address: &str) -> CoreResult<Option<DirectRecipient>> {
        let item = self.db.table.get(&table_keys::practice(practice), &table_keys::direct_recipient(&address.to_ascii_lowercase())).await?;
        item.map(|i| i.parse().map_err(CoreError::from)).transpose()
    }

    pub async fn remove(&self, actor: &Actor, address: &str) -> CoreResult<()> {
        let address = address.to_ascii_lowercase();
        match self.db.table.delete(&table_keys::practice(&actor.practice), &table_keys::direct_recipient(&address), Cond::Exists).await {
            Err(crate::ports::TableError::ConditionFailed) => return Err(CoreError::NotFound),
            other => other?,
        }
        let audit = AuditLog { db: self.db };
        audit.record(actor, AuditAction::SettingsDirectRecipientRemove, "settings", Outcome::Success, json!({ "address": address })).await
    }
}
