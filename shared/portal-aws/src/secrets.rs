//! Secrets sealed by KMS (`Encrypt`/`Decrypt` with an encryption context): the plaintext never
//! leaves KMS's protection at rest, and every opening is in CloudTrail.

use async_trait::async_trait;
use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::Client;
use portal_core::ports::{PortError, SecretBox};

pub struct KmsSecretBox {
    client: crate::OnFirstUse<Client>,
    key_id: String,
}

impl KmsSecretBox {
    pub fn new(config: &aws_config::SdkConfig, key_id: impl Into<String>) -> Self {
        KmsSecretBox { client: crate::OnFirstUse::new(config, Client::new), key_id: key_id.into() }
    }

    pub fn client(&self) -> &Client {
        self.client.get()
    }
}

fn context_map(context: &[(&str, &str)]) -> std::collections::HashMap<String, String> {
    context.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

fn err(e: impl std::error::Error + 'static) -> PortError {
    PortError::Backend(aws_sdk_kms::error::DisplayErrorContext(e).to_string())
}

#[async_trait]
impl SecretBox for KmsSecretBox {
    #[tracing::instrument(level = "debug", name = "kms.Encrypt", skip_all)]
    async fn seal(&self, plaintext: &[u8], context: &[(&str, &str)]) -> Result<Vec<u8>, PortError> {
        let out = self
            .client()
            .encrypt()
            .key_id(&self.key_id)
            .plaintext(Blob::new(plaintext))
            .set_encryption_context(Some(context_map(context)))
            .send()
            .await
            .map_err(err)?;
        out.ciphertext_blob.map(Blob::into_inner).ok_or_else(|| PortError::Backend("KMS returned no ciphertext".into()))
    }

    #[tracing::instrument(level = "debug", name = "kms.Decrypt", skip_all)]
    async fn open(&self, sealed: &[u8], context: &[(&str, &str)]) -> Result<Vec<u8>, PortError> {
        let res = self
            .client()
            .decrypt()
            .key_id(&self.key_id)
            .ciphertext_blob(Blob::new(sealed))
            .set_encryption_context(Some(context_map(context)))
            .send()
            .await;
        match res {
            Ok(out) => out.plaintext.map(Blob::into_inner).ok_or_else(|| PortError::Backend("KMS returned no plaintext".into())),
            Err(e) if e.as_service_error().is_some_and(|s| s.is_invalid_ciphertext_exception()) => {
                Err(PortError::Rejected("the secret does not open under this key and context".into()))
            }
            Err(e) => Err(err(e)),
        }
    }
}
