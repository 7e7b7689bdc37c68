//! Credentials of the practice's on-site system (a program, not a person) and the signing of its
//! requests. A request carries `X-Portal-Key`, `X-Portal-Timestamp`, `X-Portal-Nonce`,
//! `X-Portal-Content-SHA256` and `X-Portal-Signature` = lowercase hex
//! HMAC-SHA256(secret, METHOD \n path-with-query \n timestamp \n nonce \n content-hash).
//! The authorizer checks the signature (it never sees the body); the sync handler checks that the
//! body matches the signed content hash.

use crate::audit::{Actor, ActorKind, AuditAction, AuditLog, Outcome};
use crate::ids::constant_time_eq;
use crate::ids::PracticeId;
use crate::ports::{Cond, Db, Item, Query, SecretBox, TableError};
use crate::table_keys;
use crate::{ids, CoreError, CoreResult, ProblemCode};
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use serde_json::json;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::Mutex;

/// How far a request's timestamp may be from the portal's clock.
pub const MAX_SKEW_SECONDS: i64 = 300;
/// A nonce is remembered while a request carrying it could still be on time.
pub const NONCE_TTL_SECONDS: i64 = 2 * MAX_SKEW_SECONDS + 60;
pub const LABEL_MAX: usize = 80;
/// The most keys a practice may have active at once (one per server, with room to rotate).
pub const MAX_ACTIVE_KEYS: usize = 10;
/// A key's "last used" time is written at most this often (seconds): one write per sync request
/// would double the authorizer's writes for a fact staff read to the minute.
pub const LAST_USED_STEP: i64 = 300;

pub const HEADER_KEY: &str = "x-portal-key";
pub const HEADER_TIMESTAMP: &str = "x-portal-timestamp";
pub const HEADER_NONCE: &str = "x-portal-nonce";
pub const HEADER_CONTENT_SHA256: &str = "x-portal-content-sha256";
pub const HEADER_SIGNATURE: &str = "x-portal-signature";

/// The signing headers of a request, as sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncSignature {
    pub key_id: String,
    pub timestamp: String,
    pub nonce: String,
    pub content_sha256: String,
    pub signature: String,
}

impl SyncSignature {
    /// Reads the five headers; `None` when the request carries none of them (not a sync request).
    pub fn from_headers(get: impl Fn(&str) -> Option<String>) -> Option<Self> {
        let key_id = get(HEADER_KEY)?;
        Some(SyncSignature {
            key_id,
            timestamp: get(HEADER_TIMESTAMP).unwrap_or_default(),
            nonce: get(HEADER_NONCE).unwrap_or_default(),
            content_sha256: get(HEADER_CONTENT_SHA256).unwrap_or_default(),
            signature: get(HEADER_SIGNATURE).unwrap_or_default(),
        })
    }
}

pub fn content_sha256(body: &[u8]) -> String {
    hex::encode(Sha256::digest(body))
}

/// RFC 3986 unreserved characters stay; everything else is percent-encoded.
fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The path and query as signed: the path as sent, then (if there is a query) `?` and the
/// parameters sorted by name and value, each percent-encoded (RFC 3986), joined with `&`. A gateway
/// hands the authorizer the query as a map, so the order a client sent cannot be the signed one.
pub fn canonical_path_with_query(path: &str, query: &[(String, String)]) -> String {
    if query.is_empty() {
        return path.to_string();
    }
    let mut pairs: Vec<(String, String)> = query.iter().map(|(k, v)| (encode(k), encode(v))).collect();
    pairs.sort();
    let q: Vec<String> = pairs.into_iter().map(|(k, v)| format!("{k}={v}")).collect();
    format!("{path}?{}", q.join("&"))
}

pub fn string_to_sign(method: &str, path_with_query: &str, timestamp: &str, nonce: &str, content_sha256: &str) -> String {
    format!("{}\n{path_with_query}\n{timestamp}\n{nonce}\n{content_sha256}", method.to_ascii_uppercase())
}

/// Lowercase hex HMAC-SHA256 of `string_to_sign` under the secret (its text, as shown once).
pub fn sign(secret: &str, string_to_sign: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key length");
    mac.update(string_to_sign.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// The headers a client sends for one request (the reference client: tests and the demo seed use
/// it; README shows it for other languages).
pub fn signed_headers(
    key_id: &str,
    secret: &str,
    method: &str,
    path: &str,
    query: &[(String, String)],
    body: &[u8],
    now: i64,
) -> Vec<(&'static str, String)> {
    let timestamp = now.to_string();
    let nonce = hex::encode(ids::random_bytes::<16>());
    let hash = content_sha256(body);
    let sts = string_to_sign(method, &canonical_path_with_query(path, query), &timestamp, &nonce, &hash);
    vec![
        (HEADER_KEY, key_id.to_string()),
        (HEADER_TIMESTAMP, timestamp),
        (HEADER_NONCE, nonce),
        (HEADER_CONTENT_SHA256, hash),
        (HEADER_SIGNATURE, sign(secret, &sts)),
    ]
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SyncKey {
    pub key_id: String,
    pub label: String,
    pub created_at: i64,
    pub created_by: String,
    #[serde(default)]
    pub revoked_at: Option<i64>,
    #[serde(default)]
    pub revoked_by: Option<String>,
    /// When a correctly signed request last used it (kept to within [`LAST_USED_STEP`]).
    #[serde(default)]
    pub last_used_at: Option<i64>,
    /// The secret, sealed by the [`SecretBox`] under (practice, key id); base64url.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub sealed_secret: String,
}

impl SyncKey {
    /// What staff see: never the secret, sealed or not.
    pub fn public(&self) -> SyncKey {
        SyncKey { sealed_secret: String::new(), ..self.clone() }
    }
}

/// The practice a key id names (`{practice}.{random}`).
pub fn practice_of_key(key_id: &str) -> Option<&str> {
    ids::SyncKeyId::parse(key_id).map(|_| key_id.split_once('.').map_or("", |(p, _)| p))
}

fn is_lower_hex(s: &str, len: usize) -> bool {
    s.len() == len && s.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// Opened secrets kept in the container, so a warm authorizer does not ask KMS on every request.
/// Keyed by the sealed text: a new key or a rotated secret is a miss.
#[derive(Default)]
pub struct SecretCache(Mutex<HashMap<String, String>>);

pub struct SyncKeys<'a> {
    pub db: Db<'a>,
    pub secrets: &'a dyn SecretBox,
}

fn context<'k>(practice: &'k str, key_id: &'k str) -> [(&'static str, &'k str); 3] {
    [("purpose", "portal-sync-key"), ("practice", practice), ("keyId", key_id)]
}

impl SyncKeys<'_> {
    fn audit(&self) -> AuditLog<'_> {
        AuditLog { db: self.db }
    }

    /// Creates a key; answers it and its secret, which is shown this once and stored only sealed.
    pub async fn create(&self, actor: &Actor, label: &str) -> CoreResult<(SyncKey, String)> {
        let practice = &actor.practice;
        let label = label.trim();
        if label.is_empty() || label.chars().count() > LABEL_MAX || label.chars().any(char::is_control) {
            return Err(CoreError::invalid(
                ProblemCode::LabelInvalid,
                format!("Give the key a name of 1 to {LABEL_MAX} characters (e.g. the server it is for)."),
            ));
        }
        let active = self.list(practice).await?.iter().filter(|k| k.revoked_at.is_none()).count();
        if active >= MAX_ACTIVE_KEYS {
            return Err(CoreError::Unprocessable {
                code: ProblemCode::SyncKeyLimit,
                detail: format!("A practice may have {MAX_ACTIVE_KEYS} active keys; revoke one it no longer uses first."),
            });
        }
        let key_id = format!("{practice}.{}", hex::encode(ids::random_bytes::<12>()));
        let secret = hex::encode(ids::random_bytes::<32>());
        let sealed = self.secrets.seal(secret.as_bytes(), &context(practice, &key_id)).await?;
        let key = SyncKey {
            key_id: key_id.clone(),
            label: label.into(),
            created_at: self.db.clock.now(),
            created_by: actor.id.clone(),
            revoked_at: None,
            revoked_by: None,
            last_used_at: None,
            sealed_secret: ids::b64url(&sealed),
        };
        let item = Item::new(
            table_keys::practice(practice),
            table_keys::sync_key(&key_id),
            serde_json::to_value(&key).map_err(CoreError::backend)?,
        )
        .with_version(1);
        crate::ports::put_fresh(self.db.table, item).await?;
        self.audit().record(actor, AuditAction::SyncKeyCreate, &key_id, Outcome::Success, json!({ "label": key.label })).await?;
        Ok((key.public(), secret))
    }

    /// Every key of the practice (secrets left out): active before revoked, newest first.
    pub async fn list(&self, practice: &PracticeId) -> CoreResult<Vec<SyncKey>> {
        let (mut out, mut cursor) = (vec![], None);
        loop {
            let page = self.db.table.query(Query::new(table_keys::practice(practice)).prefix("SYNCKEY#").limit(100).after(cursor)).await?;
            for item in &page.items {
                out.push(item.parse::<SyncKey>()?.public());
            }
            match page.cursor {
                Some(c) => cursor = Some(c),
                None => break,
            }
        }
        out.sort_by_key(|k| (k.revoked_at.is_some(), std::cmp::Reverse(k.created_at)));
        Ok(out)
    }

    /// Revokes a key (a second revoke changes nothing). Retried when a request's "last used"
    /// write got in between the read and the write.
    pub async fn revoke(&self, actor: &Actor, key_id: &str) -> CoreResult<SyncKey> {
        let practice = &actor.practice;
        for _ in 0..5 {
            let item =
                self.db.table.get(&table_keys::practice(practice), &table_keys::sync_key(key_id)).await?.ok_or(CoreError::NotFound)?;
            let mut key: SyncKey = item.parse()?;
            if key.revoked_at.is_some() {
                return Ok(key.public());
            }
            key.revoked_at = Some(self.db.clock.now());
            key.revoked_by = Some(actor.id.clone());
            match self.db.table.put(key_item(&item, &key)?, Cond::Version(item.version)).await {
                Ok(()) => {
                    self.audit().record(actor, AuditAction::SyncKeyRevoke, key_id, Outcome::Success, json!({})).await?;
                    return Ok(key.public());
                }
                Err(TableError::ConditionFailed) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(CoreError::backend("the key kept changing while it was being revoked"))
    }

    /// Checks a signed request; answers the key (whose practice is the only one it may touch).
    /// Every refusal of a request naming a known practice is audited there.
    pub async fn verify(
        &self,
        sig: &SyncSignature,
        method: &str,
        path_with_query: &str,
        cache: &SecretCache,
        source_ip: Option<&str>,
    ) -> CoreResult<SyncKey> {
        let refuse =
            |code: ProblemCode| CoreError::unauthorized(code, "The sync request is not signed by a valid key, or is stale or replayed.");
        let practice = practice_of_key(&sig.key_id).and_then(ids::PracticeId::parse).ok_or_else(|| refuse(ProblemCode::SyncKeyUnknown))?;
        let result = self.check(&practice, sig, method, path_with_query, cache).await;
        // Refusals are audited under keys that exist only: a made-up key id must not write into a
        // practice's log (or create logs for practices that don't exist). What is recorded is
        // bounded: the method is one of ours by then, the path is cut short.
        match &result {
            Err(CoreError::Unauthorized { code, .. }) if *code != ProblemCode::SyncKeyUnknown => {
                let actor = Actor::new(&practice, ActorKind::Sync, &sig.key_id, source_ip);
                let path: String = path_with_query.chars().take(200).collect();
                let detail = json!({ "reason": code, "method": method, "path": path });
                self.audit().record(&actor, AuditAction::SyncRequestRefused, &sig.key_id, Outcome::Denied, detail).await?;
            }
            _ => {}
        }
        result
    }

    async fn check(
        &self,
        practice: &PracticeId,
        sig: &SyncSignature,
        method: &str,
        path_with_query: &str,
        cache: &SecretCache,
    ) -> CoreResult<SyncKey> {
        let refuse =
            |code: ProblemCode| CoreError::unauthorized(code, "The sync request is not signed by a valid key, or is stale or replayed.");
        // The key first: a refusal is audited only under a key that exists (see `verify`).
        let item = self
            .db
            .table
            .get(&table_keys::practice(practice), &table_keys::sync_key(&sig.key_id))
            .await?
            .ok_or_else(|| refuse(ProblemCode::SyncKeyUnknown))?;
        let key: SyncKey = item.parse()?;
        if key.revoked_at.is_some() {
            return Err(refuse(ProblemCode::SyncKeyRevoked));
        }
        let ts: i64 = sig.timestamp.parse().map_err(|_| refuse(ProblemCode::SyncSignatureMalformed))?;
        if !is_lower_hex(&sig.nonce, 32) || !is_lower_hex(&sig.content_sha256, 64) || !is_lower_hex(&sig.signature, 64) {
            return Err(refuse(ProblemCode::SyncSignatureMalformed));
        }
        let now = self.db.clock.now();
        // Checked: a timestamp near i64::MIN must be refused, not overflow.
        if now.checked_sub(ts).is_none_or(|skew| skew.unsigned_abs() > MAX_SKEW_SECONDS as u64) {
            return Err(refuse(ProblemCode::SyncTimestampStale));
        }
        let cached = cache.0.lock().unwrap_or_else(|e| e.into_inner()).get(&key.sealed_secret).cloned();
        let secret = match cached {
            Some(s) => s,
            None => {
                let sealed = ids::b64url_decode(&key.sealed_secret).ok_or_else(|| CoreError::backend("corrupt sealed secret"))?;
                let plain = self.secrets.open(&sealed, &context(practice, &key.key_id)).await?;
                let s = String::from_utf8(plain).map_err(CoreError::backend)?;
                cache.0.lock().unwrap_or_else(|e| e.into_inner()).insert(key.sealed_secret.clone(), s.clone());
                s
            }
        };
        let expected = sign(&secret, &string_to_sign(method, path_with_query, &sig.timestamp, &sig.nonce, &sig.content_sha256));
        if !constant_time_eq(expected.as_bytes(), sig.signature.as_bytes()) {
            return Err(refuse(ProblemCode::SyncSignatureInvalid));
        }
        // Last, so that only a correctly signed request can use up a nonce.
        let nonce = Item::new(table_keys::practice(practice), table_keys::sync_nonce(&sig.key_id, &sig.nonce), json!({}))
            .expiring_at(now + NONCE_TTL_SECONDS);
        match self.db.table.put(nonce, Cond::Absent).await {
            Ok(()) => {}
            Err(TableError::ConditionFailed) => return Err(refuse(ProblemCode::SyncReplay)),
            Err(e) => return Err(e.into()),
        }
        if key.last_used_at.is_none_or(|at| now - at >= LAST_USED_STEP) {
            let used = SyncKey { last_used_at: Some(now), ..key.clone() };
            // Losing this race (to a revoke, or to another request) loses nothing worth a retry.
            match self.db.table.put(key_item(&item, &used)?, Cond::Version(item.version)).await {
                Ok(()) | Err(TableError::ConditionFailed) => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(key.public())
    }
}

/// The next version of a stored key item.
fn key_item(stored: &Item, key: &SyncKey) -> CoreResult<Item> {
    Ok(Item::new(stored.pk.clone(), stored.sk.clone(), serde_json::to_value(key).map_err(CoreError::backend)?)
        .with_version(stored.version + 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_query_and_signature() {
        let q = vec![("b".to_string(), "2 3".to_string()), ("a".to_string(), "x/y".to_string())];
        assert_eq!(canonical_path_with_query("/v1/sync/events", &q), "/v1/sync/events?a=x%2Fy&b=2%203");
        assert_eq!(canonical_path_with_query("/v1/sync/events", &[]), "/v1/sync/events");
        assert_eq!(content_sha256(b""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
        // A fixed vector, so an implementation in another language can check itself.
        let sts = string_to_sign("put", "/v1/sync/patients/1001", "1795000000", "00112233445566778899aabbccddeeff", &content_sha256(b"{}"));
        assert_eq!(sts, "PUT\n/v1/sync/patients/1001\n1795000000\n00112233445566778899aabbccddeeff\n44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a");
        // The same value from Python: hmac.new(b"secret", sts.encode(), hashlib.sha256).hexdigest()
        assert_eq!(sign("secret", &sts), "0b943c289f8acb928b829073a45731526c26a463642cb4740b35e7ca606d6d87");
        assert_ne!(sign("secret", &sts), sign("secret2", &sts));
    }

    #[test]
    fn key_ids_name_their_practice() {
        assert_eq!(practice_of_key("lakeside.0123456789abcdef01234567"), Some("lakeside"));
        assert_eq!(practice_of_key("lakeside.0123"), None);
        assert_eq!(practice_of_key("LAKESIDE.0123456789abcdef01234567"), None);
    }
}
