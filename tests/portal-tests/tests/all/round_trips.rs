//! Table requests per route: the routes a practice's day is made of (the load test's mix), each
//! called through the local host with the `Table` port counted — every count is one DynamoDB
//! request on AWS, the figure the cost and capacity estimate in the README starts from. Each
//! route is called twice and the second call counted (a warm function: the authorizer's
//! settings cache as deployed). The bounds are today's counts: a change that adds a round trip
//! to a route fails here and must say why in the bound it raises.

use crate::support::{start_local, Local};
use async_trait::async_trait;
use portal_core::ports::{Cond, Item, Page, Query, Table, TableError, TxOp};
use serde_json::{json, Value};
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// The table, counted: reads (get, query, batch get) and writes (put, delete, transaction,
/// counter, batch put and delete), one per request whatever its size.
struct Counted {
    inner: Arc<dyn Table>,
    reads: AtomicU64,
    writes: AtomicU64,
}

impl Counted {
    fn read(&self) {
        self.reads.fetch_add(1, Ordering::SeqCst);
    }
    fn write(&self) {
        self.writes.fetch_add(1, Ordering::SeqCst);
    }
    fn take(&self) -> (u64, u64) {
        (self.reads.swap(0, Ordering::SeqCst), self.writes.swap(0, Ordering::SeqCst))
    }
}

#[async_trait]
impl Table for Counted {
    async fn get(&self, pk: &str, sk: &str) -> Result<Option<Item>, TableError> {
        self.read();
        self.inner.get(pk, sk).await
    }
    async fn put(&self, item: Item, cond: Cond) -> Result<(), TableError> {
        self.write();
        self.inner.put(item, cond).await
    }
    async fn delete(&self, pk: &str, sk: &str, cond: Cond) -> Result<(), TableError> {
        self.write();
        self.inner.delete(pk, sk, cond).await
    }
    async fn query(&self, q: Query) -> Result<Page, TableError> {
        self.read();
        self.inner.query(q).await
    }
    async fn transact(&self, ops: Vec<TxOp>) -> Result<(), TableError> {
        self.write();
        self.inner.transact(ops).await
    }
    async fn add(&self, pk: &str, sk: &str, by: i64, expires_at: Option<i64>) -> Result<i64, TableError> {
        self.write();
        self.inner.add(pk, sk, by, expires_at).await
    }
    async fn batch_put(&self, items: Vec<Item>) -> Result<(), TableError> {
        self.write();
        self.inner.batch_put(items).await
    }
    async fn batch_get(&self, keys: Vec<(String, String)>) -> Result<Vec<Item>, TableError> {
        self.read();
        self.inner.batch_get(keys).await
    }
    async fn batch_delete(&self, keys: Vec<(String, String)>) -> Result<(), TableError> {
        self.write();
        self.inner.batch_delete(keys).await
    }
}

/// A second server over the same backends whose functions and authorizer use the counted table.
async fn counted(l: &Local) -> (String, Arc<Counted>) {
    let table = Arc::new(Counted { inner: l.backends.table.clone(), reads: AtomicU64::new(0), writes: AtomicU64::new(0) });
    let mut f = l.functions();
    f.ports.table = table.clone();
    // As deployed: a warm authorizer keeps a practice's settings for a minute.
    (l.serve_beside(f, 60).await, table)
}

/// (route, who, method, path, body, (reads, writes) at most).
type Call<'a> = (&'a str, &'a str, &'a str, &'a str, Value, (u64, u64));

#[tokio::test]
async fn each_route_of_the_day_costs_the_table_requests_it_did() {
    let l = start_local().await;
    let patient = l.patient_token(0, 0).await;
    let staff = l.staff_token(0).await;
    let (base, table) = counted(&l).await;
    let http = crate::support::client();
    let routes: Vec<Call> = vec![
        ("GET /v1/me (the guarantor)", &patient, "GET", "/v1/me", Value::Null, (4, 0)),
        ("GET /v1/account/summary", &patient, "GET", "/v1/account/summary", Value::Null, (4, 1)),
        ("GET /v1/account/ledger", &patient, "GET", "/v1/account/ledger", Value::Null, (3, 1)),
        ("GET /v1/appointments", &patient, "GET", "/v1/appointments", Value::Null, (2, 1)),
        ("GET /v1/webmail/messages", &patient, "GET", "/v1/webmail/messages", Value::Null, (3, 1)),
        ("GET /v1/care-summary", &patient, "GET", "/v1/care-summary", Value::Null, (9, 1)),
        ("GET /v1/treatment-plans", &patient, "GET", "/v1/treatment-plans", Value::Null, (2, 1)),
        ("GET /v1/images", &patient, "GET", "/v1/images", Value::Null, (2, 1)),
        ("GET /v1/payments", &patient, "GET", "/v1/payments", Value::Null, (3, 1)),
        (
            "POST /v1/webmail/messages",
            &patient,
            "POST",
            "/v1/webmail/messages",
            json!({"providerId": "prov-1", "subject": "A question", "body": "Is Friday possible?"}),
            (6, 3),
        ),
        ("GET /v1/me (staff)", &staff, "GET", "/v1/me", Value::Null, (1, 0)),
        ("GET /v1/admin/patients?q=", &staff, "GET", "/v1/admin/patients?q=morgan", Value::Null, (7, 1)),
        ("GET /v1/admin/webmail/messages", &staff, "GET", "/v1/admin/webmail/messages", Value::Null, (3, 1)),
    ];
    let mut report = String::from("| route | reads | writes |\n|---|---:|---:|\n");
    let mut over = vec![];
    for (name, token, method, path, body, (max_reads, max_writes)) in routes {
        let mut counts = (0, 0);
        for _ in 0..2 {
            table.take();
            let mut req = http.request(method.parse().unwrap(), format!("{base}{path}")).bearer_auth(token);
            if !body.is_null() {
                req = req.json(&body);
            }
            let res = req.send().await.unwrap();
            assert!(res.status().is_success(), "{name}: {}", res.status());
            counts = table.take();
        }
        let _ = writeln!(report, "| {name} | {} | {} |", counts.0, counts.1);
        if counts.0 > max_reads || counts.1 > max_writes {
            over.push(format!("{name}: {counts:?} > ({max_reads}, {max_writes})"));
        }
    }
    println!("{report}");
    assert!(over.is_empty(), "more table requests than before: {over:#?}\n{report}");
}
