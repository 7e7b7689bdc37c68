//! The single table on DynamoDB. Item attributes: `pk`, `sk`, `gsi1pk`, `gsi1sk`, `ttl` (the
//! table's TTL attribute), `ver`, and `data` (a map); a counter (`TxOp::Count`) is `pk`, `sk` and
//! `cnt`, moved with `ADD` and read back as `data: {"count": cnt}`. TTL deletion is lazy, so
//! expired items are filtered on every read and treated as absent by every condition, as the
//! embedded table does. A transaction canceled by another in flight on the same items
//! (`TransactionConflict`) is tried again here, with jittered back-off, before the caller hears of it;
//! a request that goes unanswered is given up and tried again by the SDK (`crate::Timeouts`).

use async_trait::async_trait;
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::types::{
    AttributeValue, ConditionCheck, Delete, DeleteRequest, KeysAndAttributes, Put, PutRequest, TransactWriteItem, Update, WriteRequest,
};
use aws_sdk_dynamodb::Client;
use portal_core::ports::{Cond, Index, Item, Page, Query, SkRange, Table, TableError, TxOp, MAX_TRANSACTION_ITEMS};
use std::collections::HashMap;
use std::time::Duration;

type Attrs = HashMap<String, AttributeValue>;

pub struct DynamoTable {
    client: Client,
    table: String,
}

fn backend(e: impl std::fmt::Display) -> TableError {
    TableError::Backend(e.to_string())
}

fn sdk_err<E: std::error::Error + 'static, R: std::fmt::Debug>(e: SdkError<E, R>) -> TableError {
    TableError::Backend(aws_sdk_dynamodb::error::DisplayErrorContext(e).to_string())
}

use portal_core::ports::unix_now as now;

fn s(v: &str) -> AttributeValue {
    AttributeValue::S(v.to_string())
}

fn n(v: impl std::fmt::Display) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

fn to_attrs(item: &Item) -> Result<Attrs, TableError> {
    let mut a = Attrs::new();
    a.insert("pk".into(), s(&item.pk));
    a.insert("sk".into(), s(&item.sk));
    if let (Some(p), Some(k)) = (&item.gsi1pk, &item.gsi1sk) {
        a.insert("gsi1pk".into(), s(p));
        a.insert("gsi1sk".into(), s(k));
    }
    if let Some(t) = item.expires_at {
        a.insert("ttl".into(), n(t));
    }
    a.insert("ver".into(), n(item.version));
    a.insert("data".into(), serde_dynamo::to_attribute_value(&item.data).map_err(backend)?);
    Ok(a)
}

fn get_s(a: &Attrs, k: &str) -> Option<String> {
    a.get(k).and_then(|v| v.as_s().ok()).cloned()
}

fn get_n<T: std::str::FromStr>(a: &Attrs, k: &str) -> Option<T> {
    a.get(k).and_then(|v| v.as_n().ok()).and_then(|v| v.parse().ok())
}

fn from_attrs(mut a: Attrs) -> Result<Item, TableError> {
    let data = match (a.remove("data"), get_n::<i64>(&a, "cnt")) {
        (Some(v), _) => serde_dynamo::from_attribute_value(v).map_err(backend)?,
        (None, Some(count)) => serde_json::json!({ "count": count }),
        (None, None) => serde_json::Value::Null,
    };
    Ok(Item {
        pk: get_s(&a, "pk").ok_or_else(|| backend("item without pk"))?,
        sk: get_s(&a, "sk").ok_or_else(|| backend("item without sk"))?,
        gsi1pk: get_s(&a, "gsi1pk"),
        gsi1sk: get_s(&a, "gsi1sk"),
        expires_at: get_n(&a, "ttl"),
        version: get_n(&a, "ver").unwrap_or(0),
        data: data.into(),
        kept: Default::default(),
    })
}

fn live(item: &Item, now: i64) -> bool {
    item.expires_at.is_none_or(|t| t > now)
}

/// How many times a transaction canceled by a conflicting one is tried again.
const CONFLICT_RETRIES: u32 = 8;

/// Full jitter over 10 ms · 2^attempt, at most 320 ms: writers that collided spread out.
fn conflict_backoff(attempt: u32) -> Duration {
    let ceiling = 10u64 << attempt.min(5);
    let r = u64::from_le_bytes(portal_core::ids::random_bytes::<8>());
    Duration::from_millis(1 + r % ceiling)
}

/// The condition expression for a write, with its names and values (`None` for no condition).
struct Condition {
    expr: Option<String>,
    names: Option<HashMap<String, String>>,
    values: Option<Attrs>,
}

fn condition(cond: Cond) -> Condition {
    let mut names = HashMap::from([("#ttl".to_string(), "ttl".to_string())]);
    let mut values = Attrs::from([(":now".to_string(), n(now()))]);
    let live = "(attribute_not_exists(#ttl) OR #ttl > :now)";
    let expr = match cond {
        Cond::None => return Condition { expr: None, names: None, values: None },
        Cond::Absent => "attribute_not_exists(pk) OR #ttl <= :now".to_string(),
        Cond::Exists => format!("attribute_exists(pk) AND {live}"),
        Cond::Version(v) => {
            names.insert("#ver".into(), "ver".into());
            values.insert(":ver".into(), n(v));
            format!("#ver = :ver AND {live}")
        }
    };
    Condition { expr: Some(expr), names: Some(names), values: Some(values) }
}

/// Puts a write condition on any of the SDK's write builders (they share the setter names, not a
/// trait).
macro_rules! conditioned {
    ($builder:expr, $cond:expr) => {{
        let c = condition($cond);
        $builder.set_condition_expression(c.expr).set_expression_attribute_names(c.names).set_expression_attribute_values(c.values)
    }};
}

fn condition_failed<E: std::error::Error + 'static, R: std::fmt::Debug>(
    e: SdkError<E, R>,
    is_condition: impl Fn(&E) -> bool,
) -> TableError {
    if e.as_service_error().is_some_and(is_condition) {
        TableError::ConditionFailed
    } else {
        sdk_err(e)
    }
}

impl DynamoTable {
    pub fn new(config: &aws_config::SdkConfig, table: impl Into<String>) -> Self {
        DynamoTable { client: Client::new(config), table: table.into() }
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    fn key(pk: &str, sk: &str) -> Attrs {
        Attrs::from([("pk".to_string(), s(pk)), ("sk".to_string(), s(sk))])
    }

    /// BatchWriteItem takes 25 requests; what it leaves unprocessed is sent again with backoff.
    async fn batch_write(&self, requests: Vec<WriteRequest>) -> Result<(), TableError> {
        for chunk in requests.chunks(25) {
            let mut pending = chunk.to_vec();
            let mut attempt = 0u32;
            while !pending.is_empty() {
                if attempt > 0 {
                    tokio::time::sleep(Duration::from_millis(50u64 << attempt.min(6))).await;
                }
                if attempt > 10 {
                    return Err(backend("batch write left items unprocessed after retries"));
                }
                let out = self.client.batch_write_item().request_items(&self.table, pending).send().await.map_err(sdk_err)?;
                pending = out.unprocessed_items.and_then(|mut m| m.remove(&self.table)).unwrap_or_default();
                attempt += 1;
            }
        }
        Ok(())
    }
}

/// Cursor: DynamoDB's LastEvaluatedKey (string attributes only), JSON then base64url.
fn encode_cursor(key: &Attrs) -> String {
    let m: HashMap<&String, &String> = key.iter().filter_map(|(k, v)| v.as_s().ok().map(|s| (k, s))).collect();
    portal_core::ids::b64url(serde_json::to_string(&m).unwrap_or_default().as_bytes())
}

fn decode_cursor(c: &str, q: &Query) -> Result<Attrs, TableError> {
    let bytes = portal_core::ids::b64url_decode(c).ok_or(TableError::BadCursor)?;
    let m: HashMap<String, String> = serde_json::from_slice(&bytes).map_err(|_| TableError::BadCursor)?;
    // A cursor only continues the partition it came from.
    let pk_attr = if q.index == Index::Primary { "pk" } else { "gsi1pk" };
    if m.get(pk_attr) != Some(&q.pk) {
        return Err(TableError::BadCursor);
    }
    Ok(m.into_iter().map(|(k, v)| (k, AttributeValue::S(v))).collect())
}

#[async_trait]
impl Table for DynamoTable {
    #[tracing::instrument(level = "debug", name = "dynamodb.GetItem", skip_all)]
    async fn get(&self, pk: &str, sk: &str) -> Result<Option<Item>, TableError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(Self::key(pk, sk)))
            .consistent_read(true)
            .send()
            .await
            .map_err(sdk_err)?;
        match out.item {
            Some(a) => {
                let item = from_attrs(a)?;
                Ok(live(&item, now()).then_some(item))
            }
            None => Ok(None),
        }
    }

    #[tracing::instrument(level = "debug", name = "dynamodb.PutItem", skip_all)]
    async fn put(&self, item: Item, cond: Cond) -> Result<(), TableError> {
        let req = self.client.put_item().table_name(&self.table).set_item(Some(to_attrs(&item)?));
        conditioned!(req, cond).send().await.map_err(|e| condition_failed(e, |s| s.is_conditional_check_failed_exception()))?;
        Ok(())
    }

    #[tracing::instrument(level = "debug", name = "dynamodb.DeleteItem", skip_all)]
    async fn delete(&self, pk: &str, sk: &str, cond: Cond) -> Result<(), TableError> {
        let req = self.client.delete_item().table_name(&self.table).set_key(Some(Self::key(pk, sk)));
        conditioned!(req, cond).send().await.map_err(|e| condition_failed(e, |s| s.is_conditional_check_failed_exception()))?;
        Ok(())
    }

    #[tracing::instrument(level = "debug", name = "dynamodb.Query", skip_all)]
    async fn query(&self, q: Query) -> Result<Page, TableError> {
        let (pk_attr, sk_attr) = match q.index {
            Index::Primary => ("pk", "sk"),
            Index::Gsi1 => ("gsi1pk", "gsi1sk"),
        };
        let mut names = HashMap::from([("#pk".to_string(), pk_attr.to_string()), ("#ttl".to_string(), "ttl".to_string())]);
        let mut values = Attrs::from([(":pk".to_string(), s(&q.pk)), (":now".to_string(), n(now()))]);
        let mut key_expr = "#pk = :pk".to_string();
        match &q.range {
            SkRange::All => {}
            SkRange::Prefix(p) => {
                names.insert("#sk".into(), sk_attr.into());
                values.insert(":prefix".into(), s(p));
                key_expr.push_str(" AND begins_with(#sk, :prefix)");
            }
            SkRange::Between(a, b) => {
                names.insert("#sk".into(), sk_attr.into());
                values.insert(":lo".into(), s(a));
                values.insert(":hi".into(), s(b));
                key_expr.push_str(" AND #sk BETWEEN :lo AND :hi");
            }
        }
        let start = q.cursor.as_deref().map(|c| decode_cursor(c, &q)).transpose()?;
        let mut req = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression(key_expr)
            .filter_expression("attribute_not_exists(#ttl) OR #ttl > :now")
            .set_expression_attribute_names(Some(names))
            .set_expression_attribute_values(Some(values))
            .scan_index_forward(!q.newest_first)
            .limit(i32::try_from(q.limit.clamp(1, 1000)).unwrap_or(1000))
            .set_exclusive_start_key(start);
        if q.index == Index::Gsi1 {
            req = req.index_name("gsi1");
        } else {
            req = req.consistent_read(true);
        }
        let out = req.send().await.map_err(sdk_err)?;
        let items = out.items.unwrap_or_default().into_iter().map(from_attrs).collect::<Result<Vec<_>, _>>()?;
        Ok(Page { items, cursor: out.last_evaluated_key.as_ref().map(encode_cursor) })
    }

    #[tracing::instrument(level = "debug", name = "dynamodb.TransactWriteItems", skip_all)]
    async fn transact(&self, ops: Vec<TxOp>) -> Result<(), TableError> {
        if ops.len() > MAX_TRANSACTION_ITEMS {
            return Err(backend(format!("a transaction takes at most {MAX_TRANSACTION_ITEMS} operations")));
        }
        let mut items = Vec::with_capacity(ops.len());
        for op in &ops {
            let item = match op {
                TxOp::Put(item, cond) => {
                    let put = conditioned!(Put::builder().table_name(&self.table).set_item(Some(to_attrs(item)?)), *cond);
                    TransactWriteItem::builder().put(put.build().map_err(backend)?)
                }
                TxOp::Delete { pk, sk, cond } => {
                    let delete = conditioned!(Delete::builder().table_name(&self.table).set_key(Some(Self::key(pk, sk))), *cond);
                    TransactWriteItem::builder().delete(delete.build().map_err(backend)?)
                }
                TxOp::Check { pk, sk, cond } => {
                    let mut check = conditioned!(ConditionCheck::builder().table_name(&self.table).set_key(Some(Self::key(pk, sk))), *cond);
                    if *cond == Cond::None {
                        // A check needs an expression: with no condition, one that always holds.
                        check = check.condition_expression("attribute_exists(pk) OR attribute_not_exists(pk)");
                    }
                    TransactWriteItem::builder().condition_check(check.build().map_err(backend)?)
                }
                TxOp::Count { pk, sk, by, expires_at } => {
                    let mut update = Update::builder()
                        .table_name(&self.table)
                        .set_key(Some(Self::key(pk, sk)))
                        .update_expression("ADD #cnt :by")
                        .expression_attribute_names("#cnt", "cnt")
                        .expression_attribute_values(":by", n(*by));
                    if let Some(t) = expires_at {
                        update = update
                            .update_expression("ADD #cnt :by SET #ttl = if_not_exists(#ttl, :ttl)")
                            .expression_attribute_names("#ttl", "ttl")
                            .expression_attribute_values(":ttl", n(*t));
                    }
                    TransactWriteItem::builder().update(update.build().map_err(backend)?)
                }
            };
            items.push(item.build());
        }
        let mut attempt = 0u32;
        loop {
            let err = match self.client.transact_write_items().set_transact_items(Some(items.clone())).send().await {
                Ok(_) => return Ok(()),
                Err(e) => e,
            };
            let Some(aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError::TransactionCanceledException(tc)) =
                err.as_service_error()
            else {
                return Err(sdk_err(err));
            };
            // Only failed conditions count as failed: a `TransactionConflict` (another transaction
            // on the same items in flight) is tried again, and if it keeps happening leaves
            // `failed` empty, so the caller may try again instead of taking it for a condition.
            let failed: Vec<usize> = tc
                .cancellation_reasons()
                .iter()
                .enumerate()
                .filter(|(_, r)| r.code() == Some("ConditionalCheckFailed"))
                .map(|(i, _)| i)
                .collect();
            let conflict = tc.cancellation_reasons().iter().any(|r| r.code() == Some("TransactionConflict"));
            if !failed.is_empty() || !conflict || attempt >= CONFLICT_RETRIES {
                return Err(TableError::TransactionCanceled { failed });
            }
            attempt += 1;
            tokio::time::sleep(conflict_backoff(attempt)).await;
        }
    }

    #[tracing::instrument(level = "debug", name = "dynamodb.UpdateItem(ADD)", skip_all)]
    async fn add(&self, pk: &str, sk: &str, by: i64, expires_at: Option<i64>) -> Result<i64, TableError> {
        let mut req = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(Self::key(pk, sk)))
            .update_expression("ADD #cnt :by")
            .expression_attribute_names("#cnt", "cnt")
            .expression_attribute_values(":by", n(by))
            .return_values(aws_sdk_dynamodb::types::ReturnValue::UpdatedNew);
        if let Some(t) = expires_at {
            req = req
                .update_expression("ADD #cnt :by SET #ttl = if_not_exists(#ttl, :ttl)")
                .expression_attribute_names("#ttl", "ttl")
                .expression_attribute_values(":ttl", n(t));
        }
        let out = req.send().await.map_err(sdk_err)?;
        out.attributes.as_ref().and_then(|a| get_n(a, "cnt")).ok_or_else(|| backend("the count was not answered"))
    }

    #[tracing::instrument(level = "debug", name = "dynamodb.BatchWriteItem", skip_all)]
    async fn batch_put(&self, items: Vec<Item>) -> Result<(), TableError> {
        let requests = items
            .iter()
            .map(|i| {
                Ok(WriteRequest::builder()
                    .put_request(PutRequest::builder().set_item(Some(to_attrs(i)?)).build().map_err(backend)?)
                    .build())
            })
            .collect::<Result<Vec<_>, TableError>>()?;
        self.batch_write(requests).await
    }

    #[tracing::instrument(level = "debug", name = "dynamodb.BatchWriteItem", skip_all)]
    async fn batch_delete(&self, keys: Vec<(String, String)>) -> Result<(), TableError> {
        let requests = keys
            .iter()
            .map(|(pk, sk)| {
                Ok(WriteRequest::builder()
                    .delete_request(DeleteRequest::builder().set_key(Some(Self::key(pk, sk))).build().map_err(backend)?)
                    .build())
            })
            .collect::<Result<Vec<_>, TableError>>()?;
        self.batch_write(requests).await
    }

    #[tracing::instrument(level = "debug", name = "dynamodb.BatchGetItem", skip_all)]
    async fn batch_get(&self, keys: Vec<(String, String)>) -> Result<Vec<Item>, TableError> {
        // BatchGetItem takes 100 keys; what it leaves unprocessed is asked again with backoff.
        let (mut found, now) = (vec![], now());
        for chunk in keys.chunks(100) {
            let mut pending = Some(
                KeysAndAttributes::builder()
                    .set_keys(Some(chunk.iter().map(|(pk, sk)| Self::key(pk, sk)).collect()))
                    .consistent_read(true)
                    .build()
                    .map_err(backend)?,
            );
            let mut attempt = 0u32;
            while let Some(asked) = pending.take() {
                if attempt > 0 {
                    tokio::time::sleep(Duration::from_millis(50u64 << attempt.min(6))).await;
                }
                if attempt > 10 {
                    return Err(backend("batch get left keys unread after retries"));
                }
                let mut out = self.client.batch_get_item().request_items(&self.table, asked).send().await.map_err(sdk_err)?;
                for attrs in out.responses.as_mut().and_then(|m| m.remove(&self.table)).unwrap_or_default() {
                    let item = from_attrs(attrs)?;
                    if live(&item, now) {
                        found.push(item);
                    }
                }
                pending = out.unprocessed_keys.and_then(|mut m| m.remove(&self.table)).filter(|k| !k.keys().is_empty());
                attempt += 1;
            }
        }
        Ok(found)
    }
}
