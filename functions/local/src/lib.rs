//! The local host, as a library so tests can start it in-process.

mod demo;
mod gateway;
pub mod modules;
mod outbox;
mod rules;
mod seed;
mod statics;

use portal_core::ports::{Clock, Db, Ports, SystemClock};
use portal_embedded::{DirBlobs, InProcessEvents, InProcessWorkflows, LocalSecretBox, OutboxMailer, SqliteTable, TestProcessor};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

pub use gateway::{app, Functions};
pub use modules::{all_routes, MODULES};
pub use seed::{ensure_demo, DemoLogins, DemoPatient, DemoPractice, DemoStaff, DemoSync};

#[derive(Debug, Clone)]
pub struct Config {
    pub addr: SocketAddr,
    pub data_dir: PathBuf,
    pub web_dir: PathBuf,
    pub print_routes: bool,
    pub print_audit_actions: bool,
    /// How often the automated invites run (seconds; 0: never).
    pub invite_interval: u64,
}

const USAGE: &str =
    "usage: portal-local [--addr HOST:PORT] [--data-dir DIR] [--invite-interval SECONDS] [--print-routes] [--print-audit-actions]
  --addr       where to listen (default 127.0.0.1:8080, or PORTAL_ADDR)
  --data-dir   where data lives (default .portal-local, or PORTAL_DATA_DIR)
  --invite-interval  how often automated invites run, as the EventBridge schedule does on AWS
               (default 300, or PORTAL_INVITE_INTERVAL; 0 turns the schedule off)
  --print-routes  print every API route (METHOD PATH) and exit
  --print-audit-actions  print every audited action (ACTION CATEGORY) and exit";

pub fn config_from_args(args: Vec<String>) -> Result<Config, String> {
    let mut addr = std::env::var("PORTAL_ADDR").unwrap_or_else(|_| "127.0.0.1:8080".into());
    let mut data_dir = std::env::var("PORTAL_DATA_DIR").unwrap_or_else(|_| ".portal-local".into());
    let web_dir = std::env::var("PORTAL_WEB_DIR").unwrap_or_else(|_| concat!(env!("CARGO_MANIFEST_DIR"), "/../../infra/web").into());
    let mut print_routes = false;
    let mut print_audit_actions = false;
    let mut invite_interval = std::env::var("PORTAL_INVITE_INTERVAL").unwrap_or_else(|_| "300".into());
    let mut it = args.into_iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--addr" => addr = it.next().ok_or(USAGE)?,
            "--data-dir" => data_dir = it.next().ok_or(USAGE)?,
            "--print-routes" => print_routes = true,
            "--print-audit-actions" => print_audit_actions = true,
            "--invite-interval" => invite_interval = it.next().ok_or(USAGE)?,
            "-h" | "--help" => return Err(USAGE.into()),
            other => return Err(format!("unknown argument {other}\n{USAGE}")),
        }
    }
    let addr = addr.parse().map_err(|_| format!("--addr must be HOST:PORT, got {addr}"))?;
    let invite_interval = invite_interval.parse().map_err(|_| format!("--invite-interval must be whole seconds, got {invite_interval}"))?;
    Ok(Config {
        addr,
        data_dir: PathBuf::from(data_dir),
        web_dir: PathBuf::from(web_dir),
        print_routes,
        print_audit_actions,
        invite_interval,
    })
}

/// The embedded adapters over a data folder.
pub struct Backends {
    /// Where this host is reached (`http://HOST:PORT`).
    pub base_url: String,
    pub table: Arc<SqliteTable>,
    pub blobs: Arc<DirBlobs>,
    pub mailer: Arc<OutboxMailer>,
    pub events: Arc<InProcessEvents>,
    pub secrets: Arc<LocalSecretBox>,
    pub clock: Arc<dyn Clock>,
    /// Code-system imports, run in this process.
    pub workflows: Arc<InProcessWorkflows>,
    /// The built-in test processor (its checkout page is served by this host).
    pub test_processor: Arc<TestProcessor>,
    pub stripe: Arc<portal_stripe::StripeProcessor>,
}

impl Backends {
    /// The table and the clock, for building a use case.
    pub fn db(&self) -> Db<'_> {
        Db { table: self.table.as_ref(), clock: self.clock.as_ref() }
    }

    pub fn open(data_dir: &std::path::Path, base_url: &str) -> std::io::Result<Self> {
        create_private_dir(data_dir)?;
        let io = |e: portal_core::ports::TableError| std::io::Error::other(e.to_string());
        let table = SqliteTable::open(&data_dir.join("portal.db")).map_err(io)?;
        // The database holds PHI and sealed secrets: readable by this user only.
        for f in ["portal.db", "portal.db-wal", "portal.db-shm"] {
            let path = data_dir.join(f);
            if path.exists() {
                set_private(&path)?;
            }
        }
        let table = Arc::new(table);
        let blobs = Arc::new(DirBlobs::new(&data_dir.join("blobs"), base_url, &local_key(data_dir, "local.key")?)?);
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        let backends = Backends {
            base_url: base_url.to_string(),
            workflows: Arc::new(InProcessWorkflows::new(table.clone(), blobs.clone(), clock.clone())),
            test_processor: Arc::new(TestProcessor::new(table.clone(), base_url)),
            stripe: Arc::new(portal_stripe::StripeProcessor::from_env()),
            table,
            blobs,
            mailer: Arc::new(OutboxMailer::new(&data_dir.join("outbox"))?),
            events: Arc::new(InProcessEvents::new(&data_dir.join("events.log"))?),
            secrets: Arc::new(LocalSecretBox::new(&local_key(data_dir, "secrets.key")?)),
            clock,
        };
        rules::route_events(&backends);
        Ok(backends)
    }

    /// The ports every function is built from.
    pub fn ports(&self) -> Ports {
        Ports {
            table: self.table.clone(),
            clock: self.clock.clone(),
            blobs: self.blobs.clone(),
            mailer: self.mailer.clone(),
            events: self.events.clone(),
            secrets: self.secrets.clone(),
            workflows: self.workflows.clone(),
            processors: self.processors(),
            local_mode: true,
            site_url: self.base_url.clone(),
        }
    }

    /// The test processor, and Stripe (at `PORTAL_STRIPE_API` when set: localstripe in tests).
    pub fn processors(&self) -> portal_core::ports::Processors {
        portal_core::ports::Processors { test: Some(self.test_processor.clone()), stripe: Some(self.stripe.clone()) }
    }

    /// The payment page's policy: Stripe.js's origin and Stripe's API (localstripe's, in tests).
    fn pay_csp(&self) -> String {
        use portal_core::ports::PaymentProcessor;
        let script = self.stripe.script_url().and_then(|u| portal_http::origin_of(&u)).unwrap_or_default();
        let api = portal_http::origin_of(self.stripe.api_base()).unwrap_or_default();
        portal_http::pay_page_csp(&script, &api)
    }

    pub fn functions(&self, web_dir: PathBuf) -> Functions {
        Functions {
            hosts: own_hosts(&self.base_url),
            authorizer: Arc::new(portal_authorizer::Deps::from(&self.ports())),
            ports: self.ports(),
            blobs: self.blobs.clone(),
            mailer: self.mailer.clone(),
            test_processor: self.test_processor.clone(),
            web_dir,
            pay_csp: self.pay_csp(),
        }
    }
}

/// The `Host` values a browser or client uses for `base_url`: as given, and for a loopback
/// address also as `localhost`, `127.0.0.1` and `[::1]` with the same port.
fn own_hosts(base_url: &str) -> Vec<String> {
    let authority = base_url.split_once("://").map_or(base_url, |(_, a)| a).trim_end_matches('/');
    let mut hosts = vec![authority.to_string()];
    if let Ok(addr) = authority.parse::<SocketAddr>() {
        if addr.ip().is_loopback() || addr.ip().is_unspecified() {
            let port = addr.port();
            hosts.extend([format!("localhost:{port}"), format!("127.0.0.1:{port}"), format!("[::1]:{port}")]);
        }
    }
    hosts
}

fn set_private(path: &std::path::Path) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
}

fn create_private_dir(dir: &std::path::Path) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::create_dir_all(dir)?;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
}

/// Writes a file only this user can read (keys, demo logins), created that way from the start.
pub(crate) fn write_private(path: &std::path::Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(path)?;
    f.write_all(bytes)?;
    set_private(path)
}

/// A random 256-bit key of local mode, made once per data folder: `local.key` signs presigned
/// URLs, `secrets.key` seals secrets (what KMS does on AWS).
fn local_key(data_dir: &std::path::Path, name: &str) -> std::io::Result<[u8; 32]> {
    let path = data_dir.join(name);
    match std::fs::read(&path).map(<[u8; 32]>::try_from) {
        Ok(Ok(k)) => Ok(k),
        _ => {
            let k = portal_core::ids::random_bytes::<32>();
            write_private(&path, &k)?;
            Ok(k)
        }
    }
}

pub async fn run(config: Config) -> Result<(), Box<dyn std::error::Error>> {
    if config.print_routes {
        for (function, r) in all_routes() {
            println!("portal-{function} {} {}", r.method, r.path);
        }
        return Ok(());
    }
    if config.print_audit_actions {
        for a in portal_core::audit::AuditAction::ALL {
            println!("{} {}", a.as_str(), a.category().as_str());
        }
        return Ok(());
    }
    let base_url = format!("http://{}", config.addr);
    let backends = Backends::open(&config.data_dir, &base_url)?;
    let logins = seed::ensure_demo(&backends, &config.data_dir, &base_url).await?;
    let listener = tokio::net::TcpListener::bind(config.addr).await.map_err(|e| format!("cannot listen on {}: {e}", config.addr))?;
    let app = app(backends.functions(config.web_dir.clone()));
    rules::schedule_invites(&backends, config.invite_interval);
    rules::schedule_relay(&backends);
    rules::schedule_reconcile(&backends);
    rules::schedule_audit_seal(&backends);
    // Imports the last run of this host left unfinished go on where they were.
    match backends.workflows.resume().await {
        Ok(0) => {}
        Ok(n) => println!("resuming {n} code-system import(s)"),
        Err(e) => eprintln!("could not look for unfinished code-system imports: {e}"),
    }
    println!("{}", logins.banner());
    println!("portal-local listening on {base_url} (data in {})", config.data_dir.display());
    axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>())
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    Ok(())
}
