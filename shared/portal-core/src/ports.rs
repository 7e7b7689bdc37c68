//! The ports: what the domain needs from the outside world. `portal-aws` implements them on AWS,
//! `portal-embedded` on one machine; one conformance suite (`tests/`) holds both to the same meaning.

use crate::ids::PracticeId;
use async_trait::async_trait;
use bytes::Bytes;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::sync::Arc;
use std::time::Duration;

// ---------------------------------------------------------------------------------------------
// Table: a DynamoDB-shaped single table.
// ---------------------------------------------------------------------------------------------

/// One item of the single table. `pk`/`sk` form the primary key; `gsi1pk`/`gsi1sk` the one
/// secondary index; `expires_at` (unix seconds) is the TTL: once past, the item is gone for every
/// read and every condition, whether or not the backend has removed it yet. `version` is for
/// optimistic concurrency; `data` holds the attributes, shared (an item handed out again — a
/// cached read — shares its attributes rather than copying them, and what they were parsed into).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Item {
    pub pk: String,
    pub sk: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gsi1pk: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gsi1sk: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<i64>,
    #[serde(default)]
    pub version: u64,
    pub data: Arc<Value>,
    /// What `data` was last parsed into by [`Item::parse_kept`], shared by every copy of this item.
    #[serde(skip)]
    pub kept: Kept,
}

/// A parse result kept beside the attributes it came from. It holds those attributes too, and is
/// used only while the item's `data` is still that same allocation: an item whose `data` was
/// replaced (or copied on write) parses again, so a kept value never outlives its source.
#[derive(Clone, Default)]
pub struct Kept(Arc<std::sync::OnceLock<(Arc<Value>, Parsed)>>);

/// A parsed value of any type.
type Parsed = Arc<dyn std::any::Any + Send + Sync>;

impl std::fmt::Debug for Kept {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Kept")
    }
}

/// Not part of what an item is: two items with the same keys and attributes are equal.
impl PartialEq for Kept {
    fn eq(&self, _: &Kept) -> bool {
        true
    }
}

impl Item {
    pub fn new(pk: impl Into<String>, sk: impl Into<String>, data: Value) -> Self {
        Item {
            pk: pk.into(),
            sk: sk.into(),
            gsi1pk: None,
            gsi1sk: None,
            expires_at: None,
            version: 0,
            data: Arc::new(data),
            kept: Kept::default(),
        }
    }
    pub fn with_gsi1(mut self, pk: impl Into<String>, sk: impl Into<String>) -> Self {
        self.gsi1pk = Some(pk.into());
        self.gsi1sk = Some(sk.into());
        self
    }
    pub fn expiring_at(mut self, unix_seconds: i64) -> Self {
        self.expires_at = Some(unix_seconds);
        self
    }
    pub fn with_version(mut self, version: u64) -> Self {
        self.version = version;
        self
    }
    /// The same item (keys, index, expiry) holding `data`, one version on: what a write
    /// conditional on this item's version (`Cond::Version(self.version)`) puts.
    pub fn replaced(&self, data: Value) -> Item {
        Item { data: Arc::new(data), version: self.version + 1, kept: Kept::default(), ..self.clone() }
    }
    /// Deserialize the attributes into a domain type (straight from the stored value, no copy).
    pub fn parse<T: serde::de::DeserializeOwned>(&self) -> Result<T, TableError> {
        T::deserialize(self.data.as_ref()).map_err(|e| TableError::Backend(format!("corrupt item: {e}")))
    }
    /// [`Item::parse`], done once for all copies of this item: a read answered from a backend's
    /// cache (the local host keeps sessions, settings and records in memory) clones the value
    /// parsed the first time instead of walking the attributes again — the hot reads of every
    /// request (session, settings, the patient's records). One type is kept per item, and only
    /// when another copy of it exists (a cache's) to use it: an item read fresh from DynamoDB is
    /// just parsed.
    pub fn parse_kept<T: serde::de::DeserializeOwned + Clone + Send + Sync + 'static>(&self) -> Result<T, TableError> {
        if let Some((source, value)) = self.kept.0.get() {
            if let (true, Some(v)) = (Arc::ptr_eq(source, &self.data), value.downcast_ref::<T>()) {
                return Ok(v.clone());
            }
            return self.parse();
        }
        if Arc::strong_count(&self.kept.0) == 1 {
            return self.parse();
        }
        let value: T = self.parse()?;
        let _ = self.kept.0.set((self.data.clone(), Arc::new(value.clone())));
        Ok(value)
    }
}

/// The condition a write must meet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cond {
    /// Write whatever is there.
    None,
    /// Only if no live item has this key (an expired one counts as absent).
    Absent,
    /// Only if a live item exists.
    Exists,
    /// Only if the stored item's `version` equals this.
    Version(u64),
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum SkRange {
    All,
    Prefix(String),
    /// Inclusive on both ends.
    Between(String, String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Index {
    Primary,
    Gsi1,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Query {
    pub index: Index,
    pub pk: String,
    pub range: SkRange,
    pub newest_first: bool,
    pub limit: usize,
    pub cursor: Option<String>,
}

impl Query {
    pub fn new(pk: impl Into<String>) -> Self {
        Query { index: Index::Primary, pk: pk.into(), range: SkRange::All, newest_first: false, limit: 100, cursor: None }
    }
    pub fn on_gsi1(pk: impl Into<String>) -> Self {
        Query { index: Index::Gsi1, ..Query::new(pk) }
    }
    pub fn prefix(mut self, p: impl Into<String>) -> Self {
        self.range = SkRange::Prefix(p.into());
        self
    }
    pub fn between(mut self, from: impl Into<String>, to: impl Into<String>) -> Self {
        self.range = SkRange::Between(from.into(), to.into());
        self
    }
    pub fn newest_first(mut self) -> Self {
        self.newest_first = true;
        self
    }
    pub fn limit(mut self, n: usize) -> Self {
        self.limit = n;
        self
    }
    pub fn after(mut self, cursor: Option<String>) -> Self {
        self.cursor = cursor;
        self
    }
}

#[derive(Debug, Clone, Default)]
pub struct Page {
    pub items: Vec<Item>,
    /// Opaque; pass back in [`Query::after`] for the next page. `None` when there is no more.
    pub cursor: Option<String>,
}

#[derive(Debug, Clone)]
pub enum TxOp {
    Put(Item, Cond),
    Delete {
        pk: String,
        sk: String,
        cond: Cond,
    },
    Check {
        pk: String,
        sk: String,
        cond: Cond,
    },
    /// Moves the counter item (pk, sk) by `by`, creating it at `by` when there is none (expiring
    /// at `expires_at`, when given: a counter per time window names its window in its key). It
    /// has no condition, so writers that only count never conflict over the counter (DynamoDB
    /// `ADD`, a SQLite upsert): a shared count (an inbox's unread messages) never refuses a
    /// write. A counter reads back as an item whose `data` is `{"count": n}`; only `Count` writes it.
    Count {
        pk: String,
        sk: String,
        by: i64,
        expires_at: Option<i64>,
    },
}

impl TxOp {
    /// The key the operation writes or checks.
    pub fn key(&self) -> (&str, &str) {
        match self {
            TxOp::Put(item, _) => (&item.pk, &item.sk),
            TxOp::Delete { pk, sk, .. } | TxOp::Check { pk, sk, .. } | TxOp::Count { pk, sk, .. } => (pk, sk),
        }
    }
}

/// The number a counter item holds (see [`TxOp::Count`]); 0 when there is none.
pub fn count_of(item: Option<&Item>) -> i64 {
    item.and_then(|i| i.data["count"].as_i64()).unwrap_or(0)
}

#[derive(Debug, thiserror::Error)]
pub enum TableError {
    #[error("condition failed")]
    ConditionFailed,
    /// A transaction wrote nothing; `failed` lists the indexes of the operations whose condition
    /// failed (empty when it was canceled for another reason, such as a conflicting transaction in
    /// flight: trying again may succeed).
    #[error("transaction canceled (failed operations: {failed:?})")]
    TransactionCanceled { failed: Vec<usize> },
    #[error("invalid cursor")]
    BadCursor,
    #[error("table backend: {0}")]
    Backend(String),
}

/// Stores an item under a key nobody else writes (one made of fresh random bytes: an audit entry,
/// a session, a device, an upload, an outbox event): put-if-absent, so nothing is overwritten.
/// Such a key found taken can only be this write's own earlier try, stored with its answer lost
/// (DynamoDB's client tries a request that timed out again), so that counts as written, once.
pub async fn put_fresh(table: &dyn Table, item: Item) -> Result<(), TableError> {
    match table.put(item, Cond::Absent).await {
        Err(TableError::ConditionFailed) => Ok(()),
        other => other,
    }
}

/// Records on an item what happened outside the table (a mail sent): reads it, writes `change`'s
/// item on the version read — again, up to `tries` rounds, after a conflict or a failed read or
/// write, since a lost record gets the outside thing done twice by whoever takes it up next (a
/// write applied with its answer lost shows on the next read). `Ok(false)`: the item is gone.
pub async fn record_on<E: From<TableError>>(
    table: &dyn Table,
    (pk, sk): (&str, &str),
    tries: usize,
    change: impl Fn(&Item) -> Result<Item, E>,
) -> Result<bool, E> {
    let mut last = TableError::ConditionFailed;
    for _ in 0..tries {
        let item = match table.get(pk, sk).await {
            Ok(Some(item)) => item,
            Ok(None) => return Ok(false),
            Err(e) => {
                last = e;
                continue;
            }
        };
        match table.put(change(&item)?, Cond::Version(item.version)).await {
            Ok(()) => return Ok(true),
            Err(e) => last = e,
        }
    }
    Err(last.into())
}

/// Every item a query matches, page after page (for partitions known to stay small).
pub async fn query_all(table: &dyn Table, q: Query) -> Result<Vec<Item>, TableError> {
    let (mut out, mut cursor) = (vec![], None);
    loop {
        let page = table.query(q.clone().after(cursor)).await?;
        out.extend(page.items);
        match page.cursor {
            Some(c) => cursor = Some(c),
            None => return Ok(out),
        }
    }
}

/// The most items [`Table::transact`] takes at once (DynamoDB's limit).
pub const MAX_TRANSACTION_ITEMS: usize = 100;

#[async_trait]
pub trait Table: Send + Sync {
    async fn get(&self, pk: &str, sk: &str) -> Result<Option<Item>, TableError>;
    async fn put(&self, item: Item, cond: Cond) -> Result<(), TableError>;
    async fn delete(&self, pk: &str, sk: &str, cond: Cond) -> Result<(), TableError>;
    async fn query(&self, q: Query) -> Result<Page, TableError>;
    /// All or nothing: either every operation applies, or none does. A transaction canceled only
    /// because another was in flight on the same items is tried again by the adapter before it
    /// answers [`TableError::TransactionCanceled`] with nothing failed.
    async fn transact(&self, ops: Vec<TxOp>) -> Result<(), TableError>;
    /// [`TxOp::Count`] on its own, answering the count it left: of `n` adds of 1 at the same
    /// moment, each sees a different number, 1 to `n` (DynamoDB `UpdateItem … RETURNING
    /// UPDATED_NEW`, SQLite `RETURNING`). What a limit on uses counts with (`quota`).
    async fn add(&self, pk: &str, sk: &str, by: i64, expires_at: Option<i64>) -> Result<i64, TableError>;
    /// Unconditional puts of any number of items (sent in chunks, retried until all are written).
    async fn batch_put(&self, items: Vec<Item>) -> Result<(), TableError>;
    /// The live items of any number of keys, in no particular order; absent keys are left out
    /// (read in chunks, strongly consistent, what a chunk leaves unread asked again).
    async fn batch_get(&self, keys: Vec<(String, String)>) -> Result<Vec<Item>, TableError>;
    /// Unconditional deletes of any number of keys (sent in chunks, retried until all are gone).
    async fn batch_delete(&self, keys: Vec<(String, String)>) -> Result<(), TableError>;
}

// ---------------------------------------------------------------------------------------------
// Blobs: an object store with presigned URLs.
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlobMeta {
    pub size: u64,
    pub content_type: String,
}

#[derive(Debug, Clone)]
pub struct Blob {
    pub meta: BlobMeta,
    pub bytes: Bytes,
}

#[derive(Debug, thiserror::Error)]
pub enum PortError {
    #[error("{0}")]
    Backend(String),
    #[error("rejected: {0}")]
    Rejected(String),
}

/// One object found by [`Blobs::list`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed {
    pub key: String,
    pub size: u64,
}

/// The most objects [`Blobs::list`] answers (one S3 `ListObjectsV2` page).
pub const MAX_LISTED: usize = 1000;

#[async_trait]
pub trait Blobs: Send + Sync {
    async fn put(&self, key: &str, bytes: Bytes, content_type: &str) -> Result<(), PortError>;
    async fn get(&self, key: &str) -> Result<Option<Blob>, PortError>;
    async fn head(&self, key: &str) -> Result<Option<BlobMeta>, PortError>;
    /// Bytes `start..end` of an object (`end` past the object's size reads to its end): how a big
    /// file is read in bounded pieces. `None` when there is no such object.
    async fn get_range(&self, key: &str, start: u64, end: u64) -> Result<Option<Bytes>, PortError>;
    /// The objects whose keys start with `prefix`, with their sizes, in key order; at most
    /// [`MAX_LISTED`].
    async fn list(&self, prefix: &str) -> Result<Vec<Listed>, PortError>;
    async fn delete(&self, key: &str) -> Result<(), PortError>;
    /// A URL that fetches the object until `expires`; `download_name` sets `Content-Disposition`.
    async fn presign_get(&self, key: &str, expires: Duration, download_name: Option<&str>) -> Result<String, PortError>;
    /// A URL that accepts one PUT of exactly `size` bytes of `content_type` until `expires`.
    async fn presign_put(&self, key: &str, content_type: &str, size: u64, expires: Duration) -> Result<String, PortError>;
}

// ---------------------------------------------------------------------------------------------
// Mailer
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attachment {
    pub filename: String,
    pub content_type: String,
    pub bytes: Vec<u8>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mail {
    pub from: String,
    pub to: Vec<String>,
    pub subject: String,
    pub text: String,
    pub html: Option<String>,
    pub attachments: Vec<Attachment>,
    /// A recipient certificate (DER) to seal the content for, as S/MIME (`crate::smime`); `None`
    /// sends it as it is.
    pub sealed_for: Option<Vec<u8>>,
    /// What the mail is about, in ids, sent along with it (SES message tags) so that a bounce or
    /// complaint can be traced back to it (`crate::mail_feedback`).
    pub about: MailRef,
}

impl Mail {
    /// A plain-text mail to one address, nothing attached or sealed: what the portal's own
    /// notices, links and receipts are.
    pub fn text(from: &str, to: String, subject: String, text: String, about: MailRef) -> Mail {
        Mail { from: from.into(), to: vec![to], subject, text, html: None, attachments: vec![], sealed_for: None, about }
    }
}

/// What a mail is about: the practice, the kind of mail and its subject's ids. Ids only — the
/// mail service keeps these with its delivery events.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailRef {
    pub practice: String,
    pub kind: MailKind,
    /// The item the mail is for: a WebMail message id, a payment id, an invite's rule and
    /// appointment, a care-summary send; empty when the kind has none (a password reset).
    pub item: String,
    /// The patient the mail concerns, when there is one.
    pub patient: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MailKind {
    WebMailNotification,
    Invite,
    Receipt,
    PasswordReset,
    Login,
    CareSummary,
    /// A change to how a patient signs in (password changed, two-step sign-in on or off).
    SecurityNotice,
}

impl MailKind {
    const ALL: [MailKind; 7] = [
        MailKind::WebMailNotification,
        MailKind::Invite,
        MailKind::Receipt,
        MailKind::PasswordReset,
        MailKind::Login,
        MailKind::CareSummary,
        MailKind::SecurityNotice,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            MailKind::WebMailNotification => "webmail-notification",
            MailKind::Invite => "invite",
            MailKind::Receipt => "receipt",
            MailKind::PasswordReset => "password-reset",
            MailKind::Login => "login",
            MailKind::CareSummary => "care-summary",
            MailKind::SecurityNotice => "security-notice",
        }
    }

    pub fn parse(s: &str) -> Option<MailKind> {
        MailKind::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

impl MailRef {
    pub fn new(practice: &PracticeId, kind: MailKind, item: &str, patient: Option<&str>) -> Self {
        MailRef { practice: practice.into(), kind, item: item.into(), patient: patient.map(str::to_string) }
    }

    /// As message tags (`portal-practice`, `portal-kind`, `portal-item`, `portal-patient`). SES
    /// takes tag values of letters, digits and `_-.@` only; a value with anything else is left out
    /// (ids are made of those characters, so this is a safety net, not a path).
    pub fn tags(&self) -> Vec<(&'static str, String)> {
        let valid = |v: &str| !v.is_empty() && v.len() <= 256 && v.bytes().all(|b| b.is_ascii_alphanumeric() || b"_-.@".contains(&b));
        [
            ("portal-practice", Some(self.practice.clone())),
            ("portal-kind", Some(self.kind.as_str().into())),
            ("portal-item", Some(self.item.clone())),
            ("portal-patient", self.patient.clone()),
        ]
        .into_iter()
        .filter_map(|(name, value)| value.filter(|v| valid(v)).map(|v| (name, v)))
        .collect()
    }

    /// Back from the tags a delivery event carries; `None` for mail the portal did not tag.
    pub fn from_tags(tag: impl Fn(&str) -> Option<String>) -> Option<MailRef> {
        Some(MailRef {
            practice: tag("portal-practice")?,
            kind: MailKind::parse(&tag("portal-kind")?)?,
            item: tag("portal-item").unwrap_or_default(),
            patient: tag("portal-patient"),
        })
    }
}

#[async_trait]
pub trait Mailer: Send + Sync {
    /// Sends the mail; answers the backend's message id.
    async fn send(&self, mail: &Mail) -> Result<String, PortError>;
}

// ---------------------------------------------------------------------------------------------
// Workflows
// ---------------------------------------------------------------------------------------------

#[async_trait]
pub trait Workflows: Send + Sync {
    /// Starts running a code-system import that `code_systems::import` has recorded: its split,
    /// batch and finish steps, in the background. Answers once it is started, not done.
    async fn start_import(&self, practice: &crate::ids::PracticeId, import_id: &str) -> Result<(), PortError>;
}

// ---------------------------------------------------------------------------------------------
// Events
// ---------------------------------------------------------------------------------------------

/// A domain event. `detail` carries opaque ids only, never PHI.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DomainEvent {
    pub practice_id: String,
    pub detail_type: String,
    pub detail: Value,
}

#[async_trait]
pub trait Events: Send + Sync {
    async fn publish(&self, events: &[DomainEvent]) -> Result<(), PortError>;
}

// ---------------------------------------------------------------------------------------------
// Secrets: encryption of the few secrets the portal must be able to read back (sync keys)
// ---------------------------------------------------------------------------------------------

/// Encrypts secrets at rest (KMS on AWS, a local key file on one machine). `context` binds a
/// ciphertext to what it belongs to: opening it under another context fails.
#[async_trait]
pub trait SecretBox: Send + Sync {
    async fn seal(&self, plaintext: &[u8], context: &[(&str, &str)]) -> Result<Vec<u8>, PortError>;
    async fn open(&self, sealed: &[u8], context: &[(&str, &str)]) -> Result<Vec<u8>, PortError>;
}

// ---------------------------------------------------------------------------------------------
// PaymentProcessor: where card payments are taken (Stripe in the cloud, a test processor locally)
// ---------------------------------------------------------------------------------------------

/// Which processor takes a practice's payments.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum ProcessorKind {
    /// No processor: patients cannot pay online.
    #[default]
    None,
    /// The built-in test processor (local mode only): no money moves.
    Test,
    Stripe,
}

impl ProcessorKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ProcessorKind::None => "none",
            ProcessorKind::Test => "test",
            ProcessorKind::Stripe => "stripe",
        }
    }
}

/// A practice's own account at its processor, opened for the calls of one request: the secrets
/// live in memory only (the table holds them sealed).
#[derive(Clone, Default)]
pub struct ProcessorAccount {
    /// Stripe: the secret API key (`sk_…`).
    pub secret_key: String,
    /// Signs the processor's webhook deliveries (Stripe: `whsec_…`).
    pub webhook_secret: String,
}

impl std::fmt::Debug for ProcessorAccount {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ProcessorAccount { .. }")
    }
}

/// A payment to create. `reference` is our payment id, carried by the processor (Stripe:
/// `metadata.payment_id`); the same `idempotency_key` twice creates one payment.
#[derive(Debug, Clone)]
pub struct ChargeRequest<'a> {
    pub reference: &'a str,
    pub amount_cents: i64,
    pub idempotency_key: &'a str,
    /// What the payer's statement and the processor's dashboard show: the practice, never
    /// anything about treatment.
    pub description: &'a str,
}

/// Where a processor's payment stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase", tag = "status")]
pub enum ChargeStatus {
    /// Waiting for the card, or being processed.
    Pending,
    /// The money is taken.
    Approved,
    /// The card was refused; `reason` is the processor's words for the payer (no card data).
    Declined { reason: String },
    /// Canceled: it can no longer be paid.
    Canceled,
}

/// The card a payment was made with, as the processor reports it (never the number).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CardSummary {
    pub brand: String,
    pub last4: String,
}

/// A payment as the processor holds it.
#[derive(Debug, Clone, PartialEq)]
pub struct Charge {
    /// The processor's id for it (Stripe: the PaymentIntent id).
    pub processor_ref: String,
    /// Our payment id, as given when it was created.
    pub reference: Option<String>,
    pub amount_cents: i64,
    pub status: ChargeStatus,
    pub card: Option<CardSummary>,
    /// What the payer's page needs to show the processor's own card fields: Stripe's client
    /// secret, or the test processor's page. Never stored.
    pub checkout: Option<String>,
}

/// One webhook delivery, its signature checked.
#[derive(Debug, Clone, PartialEq)]
pub struct ProcessorEvent {
    /// The processor's event id: each is handled once.
    pub id: String,
    /// The payment it is about, as of the event; `None` for events about anything else.
    pub charge: Option<Charge>,
}

/// A payment processor. Amounts are integer cents (US dollars). Adding a processor (Open Dental's
/// PayConnect or EdgeExpress) is implementing this trait and naming it in [`ProcessorKind`].
#[async_trait]
pub trait PaymentProcessor: Send + Sync {
    /// Creates a payment waiting for the payer's card; the same idempotency key answers the
    /// payment created the first time.
    async fn create(&self, account: &ProcessorAccount, request: &ChargeRequest<'_>) -> Result<Charge, PortError>;
    /// Pays a waiting payment with a single-use card token that the processor's own fields made
    /// in the payer's browser (never card data); answers where it then stands: approved,
    /// declined, or pending (`checkout` then holds what the page needs to finish it, such as a
    /// bank's 3-D Secure check). A processor that takes cards on its own page refuses this.
    async fn pay(&self, account: &ProcessorAccount, processor_ref: &str, card_token: &str) -> Result<Charge, PortError>;
    /// Reads a payment as it stands now.
    async fn read(&self, account: &ProcessorAccount, processor_ref: &str) -> Result<Charge, PortError>;
    /// Cancels a payment that was never paid; answers it as it then stands (an approved one
    /// stays approved).
    async fn cancel(&self, account: &ProcessorAccount, processor_ref: &str) -> Result<Charge, PortError>;
    /// Gives back `amount_cents` of an approved payment; answers the processor's refund id. The
    /// same idempotency key refunds once.
    async fn refund(
        &self,
        account: &ProcessorAccount,
        processor_ref: &str,
        amount_cents: i64,
        idempotency_key: &str,
    ) -> Result<String, PortError>;
    /// Checks a webhook delivery's signature header against the account's webhook secret (and
    /// that it was signed within five minutes of `now`, unix seconds) and reads its event;
    /// [`PortError::Rejected`] when it is not the processor's.
    fn webhook(&self, account: &ProcessorAccount, signature: &str, body: &[u8], now: i64) -> Result<ProcessorEvent, PortError>;
    /// Checks that the account's keys work (the setup's "Test connection"), changing nothing.
    async fn check(&self, account: &ProcessorAccount) -> Result<(), PortError>;
    /// The script the payment page loads to show the processor's card fields (Stripe.js); `None`
    /// when the processor shows its own page instead.
    fn script_url(&self) -> Option<String> {
        None
    }
}

/// The payment processors one deployment can reach, by kind: Stripe in the cloud and locally,
/// the built-in test processor on one machine only. A practice picks one of them in its setup.
#[derive(Clone, Default)]
pub struct Processors {
    pub test: Option<std::sync::Arc<dyn PaymentProcessor>>,
    pub stripe: Option<std::sync::Arc<dyn PaymentProcessor>>,
}

impl Processors {
    /// The processor of `kind`, when this deployment has it.
    pub fn get(&self, kind: ProcessorKind) -> Option<&dyn PaymentProcessor> {
        match kind {
            ProcessorKind::None => None,
            ProcessorKind::Test => self.test.as_deref(),
            ProcessorKind::Stripe => self.stripe.as_deref(),
        }
    }

    /// The kinds a practice may choose here (`none` always).
    pub fn offered(&self) -> Vec<ProcessorKind> {
        [ProcessorKind::None, ProcessorKind::Test, ProcessorKind::Stripe]
            .into_iter()
            .filter(|k| *k == ProcessorKind::None || self.get(*k).is_some())
            .collect()
    }
}

// Clock: see `crate::clock` (re-exported here with the other ports).
pub use crate::clock::{unix_now, Clock, ManualClock, SystemClock};

// ---------------------------------------------------------------------------------------------
// The bundle
// ---------------------------------------------------------------------------------------------

/// Every port, built once per process, plus the one setting that differs between the cloud and
/// one machine. Each function's `Deps` takes its share (`From<&Ports>`); the local host and the
/// tests build functions this way. On Lambda a function's `main.rs` builds only the adapters it
/// uses (cold start), so it constructs its `Deps` directly.
#[derive(Clone)]
pub struct Ports {
    pub table: std::sync::Arc<dyn Table>,
    pub clock: std::sync::Arc<dyn Clock>,
    pub blobs: std::sync::Arc<dyn Blobs>,
    pub mailer: std::sync::Arc<dyn Mailer>,
    pub events: std::sync::Arc<dyn Events>,
    pub secrets: std::sync::Arc<dyn SecretBox>,
    pub workflows: std::sync::Arc<dyn Workflows>,
    /// The processors this deployment can reach, by kind (Stripe everywhere; the test
    /// processor on one machine only).
    pub processors: Processors,
    /// One machine (`portal-local`), not the cloud: the URL rules allow http and internal hosts.
    pub local_mode: bool,
    /// Where the portal's pages are (`PORTAL_BASE_URL` on AWS, the host's address locally): the
    /// login address printed and emailed to patients, when a practice has no patient-facing URL.
    pub site_url: String,
}

/// The table and the clock, borrowed together: what every use case that keeps data holds (a
/// write is stamped with the clock's time, an expiry compared against it). A use case that needs
/// another hands its own `db` on whole (`AuditLog { db: self.db }`) and names any further port it
/// passes (`Outbox { db: self.db, events: self.events }`), so no use case is rebuilt from another's
/// fields; a function's `Deps::db()` and the tests (a fake table, a `ManualClock`) make one the
/// same way.
#[derive(Clone, Copy)]
pub struct Db<'a> {
    pub table: &'a dyn Table,
    pub clock: &'a dyn Clock,
}

impl Ports {
    /// The table and the clock, for building a use case.
    pub fn db(&self) -> Db<'_> {
        Db { table: self.table.as_ref(), clock: self.clock.as_ref() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Clone, Deserialize)]
    struct Named {
        name: String,
    }

    #[test]
    fn a_kept_parse_is_shared_by_copies_and_never_outlives_its_attributes() {
        let item = Item::new("pk", "sk", serde_json::json!({"name": "Ann"}));
        assert_eq!(item.parse_kept::<Named>().unwrap().name, "Ann");
        assert!(item.kept.0.get().is_none(), "a lone item has no copy to share a parse with");
        let copy = item.clone();
        assert_eq!(item.parse_kept::<Named>().unwrap().name, "Ann");
        assert!(copy.kept.0.get().is_some(), "a copy shares what was parsed");
        assert_eq!(copy.parse_kept::<Named>().unwrap().name, "Ann");
        // Attributes replaced (as a write back does) or changed in place: parsed again.
        let mut replaced = item.clone();
        replaced.data = Arc::new(serde_json::json!({"name": "Bea"}));
        assert_eq!(replaced.parse_kept::<Named>().unwrap().name, "Bea");
        let mut changed = item.clone();
        Arc::make_mut(&mut changed.data)["name"] = serde_json::json!("Cy");
        assert_eq!(changed.parse_kept::<Named>().unwrap().name, "Cy");
        assert_eq!(item.parse_kept::<Named>().unwrap().name, "Ann");
        // Another type is parsed, not taken from the kept one.
        assert_eq!(item.parse_kept::<serde_json::Value>().unwrap()["name"], "Ann");
    }
}
