//! Blobs in a directory tree. Presigned URLs are local URLs signed with HMAC-SHA256 over what they
//! allow (method, key, expiry, and for PUT the content type and size), served by [`blob_routes`].

use async_trait::async_trait;
use axum::body::Bytes;
use axum::extract::{Path as UrlPath, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use hmac::{Hmac, Mac};
use portal_core::ports::{Blob, BlobMeta, Blobs, Listed, PortError, MAX_LISTED};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

pub const ROUTE_PREFIX: &str = "/_local/blobs";

pub struct DirBlobs {
    root: PathBuf,
    base_url: String,
    key: Vec<u8>,
}

#[derive(Serialize, Deserialize)]
struct Meta {
    content_type: String,
    size: u64,
}

fn err(e: impl std::fmt::Display) -> PortError {
    PortError::Backend(e.to_string())
}

use portal_core::ports::unix_now as now;

/// Keys are relative paths of plain segments; nothing can climb out of the root.
fn valid_key(key: &str) -> bool {
    !key.is_empty()
        && key.len() <= 1024
        && key.split('/').all(|seg| {
            !seg.is_empty()
                && seg != "."
                && seg != ".."
                && !seg.ends_with(".meta")
                && seg.chars().all(|c| c.is_ascii_alphanumeric() || "-_.#=".contains(c))
        })
}

/// A file being written by [`DirBlobs::put`] (renamed into place when complete).
fn is_partial(key: &str) -> bool {
    key.rsplit('/').next().and_then(|name| name.rsplit_once('.')).is_some_and(|(_, ext)| ext.starts_with("tmp") && ext.len() > 12)
}

impl DirBlobs {
    /// `root` holds the files; `base_url` is where [`blob_routes`] is served (e.g.
    /// `http://127.0.0.1:8080`); `signing_key` signs the URLs.
    pub fn new(root: &Path, base_url: &str, signing_key: &[u8]) -> std::io::Result<Self> {
        std::fs::create_dir_all(root)?;
        Ok(DirBlobs { root: root.to_path_buf(), base_url: base_url.trim_end_matches('/').to_string(), key: signing_key.to_vec() })
    }

    fn path(&self, key: &str) -> Result<PathBuf, PortError> {
        if valid_key(key) {
            Ok(self.root.join(key))
        } else {
            Err(PortError::Rejected("invalid blob key".into()))
        }
    }

    fn meta_path(p: &Path) -> PathBuf {
        let mut s = p.as_os_str().to_owned();
        s.push(".meta");
        PathBuf::from(s)
    }

    fn sign(&self, parts: &[&str]) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.key).expect("any key length works");
        mac.update(parts.join("\n").as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }

    fn verify(&self, parts: &[&str], sig: &str) -> bool {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.key).expect("any key length works");
        mac.update(parts.join("\n").as_bytes());
        hex::decode(sig).is_ok_and(|s| mac.verify_slice(&s).is_ok())
    }

    fn url(&self, key: &str, query: &[(&str, String)]) -> String {
        let q = serde_urlencoded::to_string(query).unwrap_or_default();
        format!("{}{ROUTE_PREFIX}/{key}?{q}", self.base_url)
    }
}

#[async_trait]
impl Blobs for DirBlobs {
    async fn put(&self, key: &str, bytes: Bytes, content_type: &str) -> Result<(), PortError> {
        let path = self.path(key)?;
        if let Some(dir) = path.parent() {
            tokio::fs::create_dir_all(dir).await.map_err(err)?;
        }
        let meta = serde_json::to_vec(&Meta { content_type: content_type.into(), size: bytes.len() as u64 }).map_err(err)?;
        // Write to a temporary name, then rename: a reader never sees half a file.
        let tmp = path.with_extension(format!("tmp{}", portal_core::ids::new_id()));
        tokio::fs::write(&tmp, &bytes).await.map_err(err)?;
        tokio::fs::write(Self::meta_path(&path), meta).await.map_err(err)?;
        tokio::fs::rename(&tmp, &path).await.map_err(err)
    }

    async fn get(&self, key: &str) -> Result<Option<Blob>, PortError> {
        let Some(meta) = self.head(key).await? else {
            return Ok(None);
        };
        match tokio::fs::read(self.path(key)?).await {
            Ok(bytes) => Ok(Some(Blob { meta, bytes: Bytes::from(bytes) })),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(err(e)),
        }
    }

    async fn head(&self, key: &str) -> Result<Option<BlobMeta>, PortError> {
        let path = self.path(key)?;
        match tokio::fs::read(Self::meta_path(&path)).await {
            Ok(raw) if path.exists() => {
                let m: Meta = serde_json::from_slice(&raw).map_err(err)?;
                Ok(Some(BlobMeta { size: m.size, content_type: m.content_type }))
            }
            Ok(_) => Ok(None),
            // A file put in the folder by hand (a code-system release) has no metadata: it is an
            // object all the same.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => match tokio::fs::metadata(&path).await {
                Ok(m) if m.is_file() => Ok(Some(BlobMeta { size: m.len(), content_type: "application/octet-stream".into() })),
                _ => Ok(None),
            },
            Err(e) => Err(err(e)),
        }
    }

    async fn get_range(&self, key: &str, start: u64, end: u64) -> Result<Option<Bytes>, PortError> {
        if self.head(key).await?.is_none() {
            return Ok(None);
        }
        let path = self.path(key)?;
        tokio::task::spawn_blocking(move || {
            use std::os::unix::fs::FileExt;
            let file = match std::fs::File::open(path) {
                Ok(f) => f,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
                Err(e) => return Err(err(e)),
            };
            let size = file.metadata().map_err(err)?.len();
            let (start, end) = (start.min(size), end.min(size));
            let mut buf = vec![0u8; usize::try_from(end.saturating_sub(start)).map_err(err)?];
            file.read_exact_at(&mut buf, start).map_err(err)?;
            Ok(Some(Bytes::from(buf)))
        })
        .await
        .map_err(err)?
    }

    async fn list(&self, prefix: &str) -> Result<Vec<Listed>, PortError> {
        // The folder that holds the prefix, walked below; keys compared as strings, like S3's.
        let dir = match prefix.rfind('/') {
            Some(i) => self.path(&prefix[..i])?,
            None => self.root.clone(),
        };
        let root = self.root.clone();
        let prefix = prefix.to_string();
        tokio::task::spawn_blocking(move || {
            let mut out = vec![];
            let mut stack = vec![dir];
            while let Some(d) = stack.pop() {
                let Ok(entries) = std::fs::read_dir(&d) else { continue };
                for entry in entries.flatten() {
                    let path = entry.path();
                    let Ok(meta) = entry.metadata() else { continue };
                    let Some(key) = path.strip_prefix(&root).ok().and_then(|k| k.to_str()).map(str::to_string) else { continue };
                    if meta.is_dir() {
                        stack.push(path);
                    } else if key.starts_with(&prefix) && valid_key(&key) && !is_partial(&key) {
                        out.push(Listed { key, size: meta.len() });
                    }
                }
            }
            out.sort_by(|a, b| a.key.cmp(&b.key));
            out.truncate(MAX_LISTED);
            out
        })
        .await
        .map_err(err)
    }

    async fn delete(&self, key: &str) -> Result<(), PortError> {
        let path = self.path(key)?;
        for p in [Self::meta_path(&path), path] {
            match tokio::fs::remove_file(&p).await {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(err(e)),
            }
        }
        Ok(())
    }

    async fn presign_get(&self, key: &str, expires: Duration, download_name: Option<&str>) -> Result<String, PortError> {
        self.path(key)?;
        let exp = now().saturating_add(portal_core::clock::seconds(expires)).to_string();
        let dn = download_name.unwrap_or("").to_string();
        let sig = self.sign(&["GET", key, &exp, &dn]);
        Ok(self.url(key, &[("exp", exp), ("dn", dn), ("sig", sig)]))
    }

    async fn presign_put(&self, key: &str, content_type: &str, size: u64, expires: Duration) -> Result<String, PortError> {
        self.path(key)?;
        let exp = now().saturating_add(portal_core::clock::seconds(expires)).to_string();
        let sig = self.sign(&["PUT", key, &exp, content_type, &size.to_string()]);
        Ok(self.url(key, &[("exp", exp), ("ct", content_type.to_string()), ("size", size.to_string()), ("sig", sig)]))
    }
}

#[derive(Deserialize)]
struct Signed {
    exp: String,
    sig: String,
    #[serde(default)]
    dn: String,
    #[serde(default)]
    ct: String,
    #[serde(default)]
    size: String,
}

fn denied(status: StatusCode, why: &str) -> Response {
    (status, [(header::CONTENT_TYPE, "text/plain")], why.to_string()).into_response()
}

fn live(exp: &str) -> bool {
    exp.parse::<i64>().is_ok_and(|e| e > now())
}

/// The HTTP side of presigned URLs: `GET` and `PUT` on `/_local/blobs/{key}`.
pub fn blob_routes(blobs: Arc<DirBlobs>) -> Router {
    Router::new().route(&format!("{ROUTE_PREFIX}/{{*key}}"), get(fetch).put(upload)).with_state(blobs)
}

async fn fetch(State(b): State<Arc<DirBlobs>>, UrlPath(key): UrlPath<String>, Query(s): Query<Signed>) -> Response {
    if !live(&s.exp) || !b.verify(&["GET", &key, &s.exp, &s.dn], &s.sig) {
        return denied(StatusCode::FORBIDDEN, "signature invalid or expired");
    }
    match b.get(&key).await {
        Ok(Some(blob)) => {
            let mut headers = HeaderMap::new();
            headers.insert(
                header::CONTENT_TYPE,
                blob.meta.content_type.parse().unwrap_or(header::HeaderValue::from_static("application/octet-stream")),
            );
            headers.insert(header::CACHE_CONTROL, header::HeaderValue::from_static("private, no-store"));
            if !s.dn.is_empty() {
                if let Ok(v) = portal_core::mime::attachment_disposition(&s.dn).parse() {
                    headers.insert(header::CONTENT_DISPOSITION, v);
                }
            }
            (headers, blob.bytes).into_response()
        }
        Ok(None) => denied(StatusCode::NOT_FOUND, "no such object"),
        Err(_) => denied(StatusCode::INTERNAL_SERVER_ERROR, "storage failure"),
    }
}

async fn upload(
    State(b): State<Arc<DirBlobs>>,
    UrlPath(key): UrlPath<String>,
    Query(s): Query<Signed>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if !live(&s.exp) || !b.verify(&["PUT", &key, &s.exp, &s.ct, &s.size], &s.sig) {
        return denied(StatusCode::FORBIDDEN, "signature invalid or expired");
    }
    let ct = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    if ct != s.ct || s.size != body.len().to_string() {
        return denied(StatusCode::FORBIDDEN, "content type or size differs from the signed ones");
    }
    match b.put(&key, body, ct).await {
        Ok(()) => StatusCode::OK.into_response(),
        Err(_) => denied(StatusCode::INTERNAL_SERVER_ERROR, "storage failure"),
    }
}
