//! Shared helpers: the moto endpoint, a portal-local started in process, HTTP clients.

use portal_core::ports::Db;
use portal_local::{app, Backends, DemoLogins};
use serde_json::Value;
use std::net::SocketAddr;
use std::sync::Arc;

/// The moto server `tests/run` started. The tests that need it are `#[ignore]`d, so a plain
/// `cargo test` lists them as not run; run with `--ignored`, they fail without it.
pub fn moto_endpoint() -> String {
    match std::env::var("PORTAL_TEST_AWS_ENDPOINT") {
        Ok(e) if !e.is_empty() => e,
        _ => panic!("PORTAL_TEST_AWS_ENDPOINT is not set: run tests/run, which starts moto, or start moto_server and set it"),
    }
}

/// The `Events` port while EventBridge is down: every publish fails.
pub struct EventsDown;

#[async_trait::async_trait]
impl portal_core::ports::Events for EventsDown {
    async fn publish(&self, _: &[portal_core::ports::DomainEvent]) -> Result<(), portal_core::ports::PortError> {
        Err(portal_core::ports::PortError::Backend("EventBridge is down".into()))
    }
}

/// A practice id a test names (one the rule refuses is a mistake in the test).
pub fn pid(id: &str) -> portal_core::ids::PracticeId {
    portal_core::ids::PracticeId::parse(id).unwrap_or_else(|| panic!("{id} is not a practice id"))
}

pub fn now() -> i64 {
    portal_core::clock::unix_now()
}

/// The date `days` from today (before it when negative), `YYYY-MM-DD`. The demo is dated from
/// the day it is seeded, so whatever a test compares with it is dated the same way, never with
/// a calendar literal that the demo overtakes as time passes.
pub fn date_from_today(days: i64) -> String {
    let d = time::OffsetDateTime::now_utc().date() + time::Duration::days(days);
    d.format(&time::macros::format_description!("[year]-[month]-[day]")).unwrap()
}

/// The instant `seconds` from now (before it when negative), RFC 3339: a sync `lastModified` that
/// must be newer (or older) than the demo's, which is stamped when it is seeded.
pub fn instant_from_now(seconds: i64) -> String {
    (time::OffsetDateTime::now_utc() + time::Duration::seconds(seconds)).format(&time::format_description::well_known::Rfc3339).unwrap()
}

/// A portal-local running in this process on a free port, with its own data folder.
pub struct Local {
    pub base: String,
    pub logins: DemoLogins,
    pub data_dir: tempfile::TempDir,
    pub backends: Arc<Backends>,
    staff_logins: std::sync::atomic::AtomicUsize,
}

pub async fn start_local() -> Local {
    start_local_serving(std::path::PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../infra/web"))).await
}

/// A portal-local serving the pages from `web` (tests plant files around it).
pub async fn start_local_serving(web: std::path::PathBuf) -> Local {
    start_local_with(web, |_| {}).await
}

/// A portal-local whose Stripe processor talks to the localstripe `tests/run` started.
pub async fn start_local_with_stripe() -> Local {
    let api = stripe_endpoint();
    start_local_with(std::path::PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../infra/web")), move |b| {
        b.stripe = Arc::new(portal_stripe::StripeProcessor::new(&api, &format!("{api}/js.stripe.com/v3/")));
    })
    .await
}

/// The localstripe server `tests/run` started (the tests that need it are `#[ignore]`d, like
/// the moto ones).
pub fn stripe_endpoint() -> String {
    match std::env::var("PORTAL_TEST_STRIPE") {
        Ok(e) if !e.is_empty() => e,
        _ => panic!(
            "PORTAL_TEST_STRIPE is not set: run tests/run, which starts localstripe, or start tests/localstripe_server.py and set it"
        ),
    }
}

async fn start_local_with(web: std::path::PathBuf, configure: impl FnOnce(&mut Backends)) -> Local {
    let data_dir = tempfile::tempdir().unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr: SocketAddr = listener.local_addr().unwrap();
    let base = format!("http://{addr}");
    let mut backends = Backends::open(data_dir.path(), &base).unwrap();
    configure(&mut backends);
    let backends = Arc::new(backends);
    let logins = portal_local::ensure_demo(&backends, data_dir.path(), &base).await.unwrap();
    let router = app(backends.functions(web));
    tokio::spawn(async move {
        axum::serve(listener, router.into_make_service_with_connect_info::<SocketAddr>()).await.unwrap();
    });
    Local { base, logins, data_dir, backends, staff_logins: Default::default() }
}

impl Local {
    /// The local host's functions over the same backends, to be served with some ports swapped
    /// (a counted or faulty table) by [`Local::serve_beside`].
    pub fn functions(&self) -> portal_local::Functions {
        self.backends.functions(std::path::PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../infra/web")))
    }

    /// Serves `f` on a port of its own, its authorizer reading `f.ports.table` with a settings
    /// cache of `cache_seconds` (a warm deployed authorizer keeps them 60 s); answers its address.
    pub async fn serve_beside(&self, mut f: portal_local::Functions, cache_seconds: i64) -> String {
        f.authorizer = Arc::new(portal_authorizer::Deps {
            table: f.ports.table.clone(),
            clock: self.backends.clock.clone(),
            cache: portal_core::practice::settings::SettingsCache::new(cache_seconds),
            secrets: self.backends.secrets.clone(),
            secret_cache: Default::default(),
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr: SocketAddr = listener.local_addr().unwrap();
        f.hosts = vec![addr.to_string()];
        let router = app(f);
        tokio::spawn(async move {
            axum::serve(listener, router.into_make_service_with_connect_info::<SocketAddr>()).await.unwrap();
        });
        format!("http://{addr}")
    }
}

pub fn client() -> reqwest::Client {
    reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap()
}

/// Sends a request and answers (status, JSON body or Null, headers).
pub async fn send(req: reqwest::RequestBuilder) -> (u16, Value, reqwest::header::HeaderMap) {
    let res = req.send().await.unwrap();
    let status = res.status().as_u16();
    let headers = res.headers().clone();
    let text = res.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null), headers)
}

impl Local {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> (u16, Value) {
        let mut r = client().get(self.url(path));
        if let Some(t) = token {
            r = r.bearer_auth(t);
        }
        let (s, v, _) = send(r).await;
        (s, v)
    }

    pub async fn json(&self, method: &str, path: &str, token: Option<&str>, body: Value) -> (u16, Value) {
        let mut r = client().request(method.parse().unwrap(), self.url(path)).json(&body);
        if let Some(t) = token {
            r = r.bearer_auth(t);
        }
        let (s, v, _) = send(r).await;
        (s, v)
    }

    pub async fn patient_token(&self, practice: usize, patient: usize) -> String {
        let p = &self.logins.practices[practice];
        let pat = &p.patients[patient];
        let (s, v) = self
            .json(
                "POST",
                "/v1/auth/login",
                None,
                serde_json::json!({"practice": p.practice_id, "username": pat.username, "password": pat.password}),
            )
            .await;
        assert_eq!(s, 200, "{v}");
        v["token"].as_str().unwrap().to_string()
    }

    /// A staff login (admin role) through the real password + TOTP route. Each TOTP code is good
    /// once per user, so every call logs in a staff user of its own, made for it: a test may log
    /// in as often as it likes within one 30-second step.
    pub async fn staff_token(&self, practice: usize) -> String {
        self.staff_token_as(practice, portal_core::identity::session::StaffRole::Admin).await
    }

    /// [`Local::staff_token`] for a staff user of the given role.
    pub async fn staff_token_as(&self, practice: usize, role: portal_core::identity::session::StaffRole) -> String {
        let p = &self.logins.practices[practice];
        let n = self.staff_logins.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let prov = portal_core::identity::provision::Provisioner {
            db: Db { table: self.backends.table.as_ref(), clock: self.backends.clock.as_ref() },
        };
        let username = format!("test-admin-{n}");
        let login = prov.create_staff(&pid(&p.practice_id), &username, "Test Admin", role).await.unwrap();
        let secret = login.totp_secret.unwrap();
        let code = portal_core::identity::totp::code_now(&secret, now()).unwrap();
        let (s, v) = self
            .json(
                "POST",
                "/v1/staff/login",
                None,
                serde_json::json!({"practice": p.practice_id, "username": username, "password": login.password, "totp": code}),
            )
            .await;
        assert_eq!(s, 200, "{v}");
        v["token"].as_str().unwrap().to_string()
    }
}

/// A `portal-local` process of its own (killed when dropped: no shutdown of any kind).
pub struct Host(std::process::Child);

impl Host {
    /// Its resident memory now, in KiB (`VmRSS` of `/proc/PID/status`).
    pub fn rss_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.0.id())).unwrap_or_default();
        let line = status.lines().find_map(|l| l.strip_prefix("VmRSS:")).unwrap_or("0");
        line.trim().trim_end_matches("kB").trim().parse().unwrap_or(0)
    }
}

impl Drop for Host {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts the `portal-local` binary on `port` with `data_dir`; with `days_ahead` (negative: back)
/// its clock runs that many days from this process's own (libfaketime, preloaded into the process
/// itself — the `faketime` command would run it as a child that outlives a kill — and given an
/// absolute start, so it composes with a test run that is itself under `faketime`).
pub async fn start_host(port: u16, data_dir: &std::path::Path, days_ahead: Option<i64>) -> Host {
    // `tests/run` builds every binary before the tests run, and installs libfaketime.
    let exe = std::env::current_exe().unwrap().parent().unwrap().parent().unwrap().join("portal-local");
    assert!(exe.exists(), "{} is missing: cargo build -p portal-local", exe.display());
    start_host_binary(&exe, port, data_dir, days_ahead).await
}

/// [`start_host`] with a `portal-local` binary of another build (the load tests' optimised one).
pub async fn start_host_binary(exe: &std::path::Path, port: u16, data_dir: &std::path::Path, days_ahead: Option<i64>) -> Host {
    let mut command = std::process::Command::new(exe);
    if let Some(days) = days_ahead {
        let lib = format!("/usr/lib/{}-linux-gnu/faketime/libfaketimeMT.so.1", std::env::consts::ARCH);
        assert!(std::path::Path::new(&lib).exists(), "{lib} is missing: apt-get install faketime");
        let start = time::OffsetDateTime::now_utc() + time::Duration::days(days);
        let start = start.format(&time::macros::format_description!("@[year]-[month]-[day] [hour]:[minute]:[second]")).unwrap();
        command.env("LD_PRELOAD", lib).env("FAKETIME", start).env("TZ", "UTC");
    }
    let child = command
        .args(["--addr", &format!("127.0.0.1:{port}"), "--data-dir", data_dir.to_str().unwrap(), "--invite-interval", "0"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let host = Host(child);
    for _ in 0..300 {
        if client().get(format!("http://127.0.0.1:{port}/v1/health")).send().await.is_ok() {
            return host;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("portal-local did not start");
}
