//! "Verify" for a portal URL: really requests it, with a short timeout, and outside local mode
//! never reaches loopback, private or link-local addresses — not by an IP literal, not by a name
//! that resolves to one, not after a redirect (every hop passes the same checks, and every name is
//! resolved through [`PublicOnlyResolver`], so the address checked is the address connected to).

use portal_core::practice::url_policy::{is_internal, parse_portal_url, UrlRules};
use portal_core::{CoreError, CoreResult, ProblemCode};
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use serde::Serialize;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

pub const TIMEOUT: Duration = Duration::from_secs(5);
pub const MAX_REDIRECTS: usize = 5;

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Verification {
    pub url: String,
    /// True when the URL answered with a 2xx or 3xx status after redirects.
    pub reachable: bool,
    pub status: Option<u16>,
    pub final_url: Option<String>,
    pub elapsed_ms: u64,
    /// What went wrong, in words a staff member can act on.
    pub detail: String,
}

pub struct UrlVerifier {
    rules: UrlRules,
    /// Built at the first verification, not at start-up: building it reads the platform's root
    /// certificates, and verifying is rare (it would be most of this function's cold start).
    client: std::sync::OnceLock<reqwest::Client>,
}

/// Resolves names and drops internal addresses (outside local mode); a name with only internal
/// addresses fails to resolve.
struct PublicOnlyResolver {
    allow_internal: bool,
}

impl Resolve for PublicOnlyResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let allow_internal = self.allow_internal;
        Box::pin(async move {
            let addrs: Vec<SocketAddr> = tokio::net::lookup_host((name.as_str(), 0)).await?.collect();
            let ok: Vec<SocketAddr> = addrs.into_iter().filter(|a| allow_internal || !is_internal(a.ip())).collect();
            if ok.is_empty() {
                return Err("the name resolves only to internal addresses".into());
            }
            Ok(Box::new(ok.into_iter()) as Addrs)
        })
    }
}

/// The checks every hop must pass: http(s) only, and no internal IP literal outside local mode.
fn check_target(url: &reqwest::Url, rules: UrlRules) -> Result<(), String> {
    if !matches!(url.scheme(), "http" | "https") {
        return Err("only http and https addresses can be verified".into());
    }
    if !rules.local_mode {
        let host_ip = match url.host() {
            Some(url::Host::Ipv4(ip)) => Some(IpAddr::V4(ip)),
            Some(url::Host::Ipv6(ip)) => Some(IpAddr::V6(ip)),
            _ => None,
        };
        if host_ip.is_some_and(is_internal) {
            return Err("internal addresses cannot be verified".into());
        }
    }
    Ok(())
}

impl UrlVerifier {
    pub fn new(rules: UrlRules) -> Self {
        UrlVerifier { rules, client: std::sync::OnceLock::new() }
    }

    fn client(&self) -> &reqwest::Client {
        let rules = self.rules;
        self.client.get_or_init(|| {
            let redirect = reqwest::redirect::Policy::custom(move |attempt| {
                if attempt.previous().len() >= MAX_REDIRECTS {
                    attempt.error("too many redirects")
                } else if let Err(why) = check_target(attempt.url(), rules) {
                    attempt.error(why)
                } else {
                    attempt.follow()
                }
            });
            reqwest::Client::builder()
                // Never through a proxy from the environment: the proxy, not this check, would
                // resolve and connect, and could reach internal names.
                .no_proxy()
                .timeout(TIMEOUT)
                .connect_timeout(Duration::from_secs(3))
                .redirect(redirect)
                .dns_resolver(Arc::new(PublicOnlyResolver { allow_internal: rules.local_mode }))
                .user_agent("dental-portal-url-check/1")
                .build()
                .expect("an HTTP client with these settings")
        })
    }

    pub async fn verify(&self, raw: &str) -> CoreResult<Verification> {
        let url = parse_portal_url(raw, "The URL", self.rules.local_mode)?;
        let url = reqwest::Url::parse(url.as_str()).map_err(|_| CoreError::invalid(ProblemCode::UrlInvalid, "The URL is not valid."))?;
        let started = Instant::now();
        let mut v =
            Verification { url: url.to_string(), reachable: false, status: None, final_url: None, elapsed_ms: 0, detail: String::new() };
        if let Err(why) = check_target(&url, self.rules) {
            v.detail = format!("Not checked: {why}.");
            return Ok(v);
        }
        match self.client().get(url).send().await {
            Ok(res) => {
                let status = res.status();
                v.status = Some(status.as_u16());
                v.final_url = Some(res.url().to_string());
                v.reachable = status.is_success() || status.is_redirection();
                v.detail = answer_words(status.as_u16());
            }
            Err(e) => {
                v.detail = if e.is_timeout() {
                    format!("The link does not work: the site did not answer within {} seconds.", TIMEOUT.as_secs())
                } else if e.is_redirect() {
                    "The link could not be checked: it forwards to another address too many times, or to one that cannot be checked.".into()
                } else if e.is_connect() {
                    "The link does not work: no site answers at this address. Check the spelling, or ask whoever runs your website.".into()
                } else {
                    "The link could not be checked; try again in a minute.".into()
                };
            }
        }
        v.elapsed_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        Ok(v)
    }
}

/// What a site's answer means for patients who follow the link (the code last, for a web person).
fn answer_words(code: u16) -> String {
    let words = match code {
        200..=399 => "The link works: it opens a page.",
        404 | 410 => "The link does not work: the site says there is no such page.",
        401 | 403 => "The link does not work for patients: the site asks for a login or turns visitors away.",
        500..=599 => "The link does not work right now: the site has a problem on its side.",
        _ => "The link does not work: the site refuses the request.",
    };
    format!("{words} (HTTP {code})")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hops_to_internal_literals_are_refused_outside_local_mode() {
        let cloud = UrlRules { local_mode: false };
        for u in [
            "http://127.0.0.1/",
            "https://169.254.169.254/latest/meta-data",
            "http://[::1]:8080/",
            "http://10.0.0.5/",
            "http://[::ffff:192.168.0.1]/",
        ] {
            assert!(check_target(&reqwest::Url::parse(u).unwrap(), cloud).is_err(), "{u}");
        }
        assert!(check_target(&reqwest::Url::parse("https://portal.example.com/").unwrap(), cloud).is_ok());
        assert!(check_target(&reqwest::Url::parse("ftp://example.com/").unwrap(), cloud).is_err());
        assert!(check_target(&reqwest::Url::parse("http://127.0.0.1/").unwrap(), UrlRules { local_mode: true }).is_ok());
    }

    /// A proxy in the environment is ignored: the check connects itself, so its rules hold.
    #[tokio::test]
    async fn environment_proxies_are_never_used() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        let proxy = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let proxy_url = format!("http://{}", proxy.local_addr().unwrap());
        let proxied = Arc::new(AtomicUsize::new(0));
        let seen = proxied.clone();
        tokio::spawn(async move {
            while let Ok((_sock, _)) = proxy.accept().await {
                seen.fetch_add(1, Ordering::SeqCst);
            }
        });
        let target = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let target_url = format!("http://{}/", target.local_addr().unwrap());
        tokio::spawn(async move {
            use tokio::io::{AsyncReadExt, AsyncWriteExt};
            while let Ok((mut sock, _)) = target.accept().await {
                let mut buf = [0u8; 1024];
                let _ = sock.read(&mut buf).await;
                let _ = sock.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n").await;
            }
        });
        for var in ["HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"] {
            std::env::set_var(var, &proxy_url);
        }
        std::env::remove_var("NO_PROXY");
        std::env::remove_var("no_proxy");
        let v = UrlVerifier::new(UrlRules { local_mode: true }).verify(&target_url).await.unwrap();
        assert!(v.reachable, "{v:?}");
        assert_eq!(proxied.load(Ordering::SeqCst), 0, "the check went through the environment's proxy");
    }

    #[tokio::test]
    async fn names_resolving_only_inside_are_refused_outside_local_mode() {
        let cloud = PublicOnlyResolver { allow_internal: false };
        assert!(cloud.resolve("localhost".parse().unwrap()).await.is_err());
        let local = PublicOnlyResolver { allow_internal: true };
        let addrs: Vec<SocketAddr> = local.resolve("localhost".parse().unwrap()).await.unwrap().collect();
        assert!(addrs.iter().all(|a| a.ip().is_loopback()) && !addrs.is_empty());
    }
}
