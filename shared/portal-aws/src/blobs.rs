//! Blobs in S3. Encryption at rest (SSE-KMS) is the bucket's default (infra/template.yaml), so
//! every object gets it without each call having to ask.

use async_trait::async_trait;
use aws_sdk_s3::presigning::PresigningConfig;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::Client;
use bytes::Bytes;
use portal_core::ports::{Blob, BlobMeta, Blobs, Listed, PortError, MAX_LISTED};
use std::time::Duration;

pub struct S3Blobs {
    /// Built on first use: most functions' first request reads only the table.
    client: crate::OnFirstUse<Client>,
    bucket: String,
}

fn err(e: impl std::error::Error + 'static) -> PortError {
    PortError::Backend(aws_sdk_s3::error::DisplayErrorContext(e).to_string())
}

impl S3Blobs {
    pub fn new(config: &aws_config::SdkConfig, bucket: impl Into<String>) -> Self {
        // Path-style addressing works with every endpoint, emulators included.
        let build = |c: &aws_config::SdkConfig| {
            Client::from_conf(aws_sdk_s3::config::Builder::from(c).force_path_style(true).timeout_config(crate::Timeouts::none()).build())
        };
        S3Blobs { client: crate::OnFirstUse::new(config, build), bucket: bucket.into() }
    }

    pub fn client(&self) -> &Client {
        self.client.get()
    }

    fn presigning(expires: Duration) -> Result<PresigningConfig, PortError> {
        PresigningConfig::expires_in(expires).map_err(|e| PortError::Backend(e.to_string()))
    }
}

#[async_trait]
impl Blobs for S3Blobs {
    #[tracing::instrument(level = "debug", name = "s3.PutObject", skip_all)]
    async fn put(&self, key: &str, bytes: Bytes, content_type: &str) -> Result<(), PortError> {
        self.client()
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_type(content_type)
            .body(ByteStream::from(bytes))
            .send()
            .await
            .map_err(err)?;
        Ok(())
    }

    #[tracing::instrument(level = "debug", name = "s3.GetObject", skip_all)]
    async fn get(&self, key: &str) -> Result<Option<Blob>, PortError> {
        match self.client().get_object().bucket(&self.bucket).key(key).send().await {
            Ok(out) => {
                let content_type = out.content_type.clone().unwrap_or_else(|| "application/octet-stream".into());
                let bytes = out.body.collect().await.map_err(|e| PortError::Backend(e.to_string()))?.into_bytes();
                Ok(Some(Blob { meta: BlobMeta { size: bytes.len() as u64, content_type }, bytes }))
            }
            Err(e) if e.as_service_error().is_some_and(|s| s.is_no_such_key()) => Ok(None),
            Err(e) => Err(err(e)),
        }
    }

    #[tracing::instrument(level = "debug", name = "s3.HeadObject", skip_all)]
    async fn head(&self, key: &str) -> Result<Option<BlobMeta>, PortError> {
        match self.client().head_object().bucket(&self.bucket).key(key).send().await {
            Ok(out) => Ok(Some(BlobMeta {
                size: u64::try_from(out.content_length.unwrap_or(0)).unwrap_or(0),
                content_type: out.content_type.unwrap_or_else(|| "application/octet-stream".into()),
            })),
            Err(e) if e.as_service_error().is_some_and(|s| s.is_not_found()) => Ok(None),
            Err(e) => Err(err(e)),
        }
    }

    #[tracing::instrument(level = "debug", name = "s3.GetObject(range)", skip_all)]
    async fn get_range(&self, key: &str, start: u64, end: u64) -> Result<Option<Bytes>, PortError> {
        if end <= start {
            return Ok(self.head(key).await?.map(|_| Bytes::new()));
        }
        let range = format!("bytes={start}-{}", end - 1);
        match self.client().get_object().bucket(&self.bucket).key(key).range(range).send().await {
            Ok(out) => Ok(Some(out.body.collect().await.map_err(|e| PortError::Backend(e.to_string()))?.into_bytes())),
            Err(e) if e.as_service_error().is_some_and(|s| s.is_no_such_key()) => Ok(None),
            // A range that starts at or past the end: the object is there, the piece is empty.
            Err(e) if e.raw_response().is_some_and(|r| r.status().as_u16() == 416) => Ok(Some(Bytes::new())),
            Err(e) => Err(err(e)),
        }
    }

    #[tracing::instrument(level = "debug", name = "s3.ListObjectsV2", skip_all)]
    async fn list(&self, prefix: &str) -> Result<Vec<Listed>, PortError> {
        let out = self
            .client()
            .list_objects_v2()
            .bucket(&self.bucket)
            .prefix(prefix)
            .max_keys(i32::try_from(MAX_LISTED).unwrap_or(i32::MAX))
            .send()
            .await
            .map_err(err)?;
        Ok(out
            .contents()
            .iter()
            .filter_map(|o| Some(Listed { key: o.key()?.to_string(), size: u64::try_from(o.size().unwrap_or(0)).unwrap_or(0) }))
            .collect())
    }

    #[tracing::instrument(level = "debug", name = "s3.DeleteObject", skip_all)]
    async fn delete(&self, key: &str) -> Result<(), PortError> {
        self.client().delete_object().bucket(&self.bucket).key(key).send().await.map_err(err)?;
        Ok(())
    }

    #[tracing::instrument(level = "debug", name = "s3.presign(GET)", skip_all)]
    async fn presign_get(&self, key: &str, expires: Duration, download_name: Option<&str>) -> Result<String, PortError> {
        let mut req = self.client().get_object().bucket(&self.bucket).key(key).response_cache_control("private, no-store");
        if let Some(name) = download_name {
            req = req.response_content_disposition(portal_core::mime::attachment_disposition(name));
        }
        Ok(req.presigned(Self::presigning(expires)?).await.map_err(err)?.uri().to_string())
    }

    #[tracing::instrument(level = "debug", name = "s3.presign(PUT)", skip_all)]
    async fn presign_put(&self, key: &str, content_type: &str, size: u64, expires: Duration) -> Result<String, PortError> {
        // Content-Type and Content-Length are signed headers: an upload with others is refused.
        let req = self
            .client()
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_type(content_type)
            .content_length(i64::try_from(size).unwrap_or(i64::MAX));
        Ok(req.presigned(Self::presigning(expires)?).await.map_err(err)?.uri().to_string())
    }
}
