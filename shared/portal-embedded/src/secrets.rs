//! Secrets sealed with ChaCha20-Poly1305 under a local key file; the context is the associated
//! data, so a ciphertext opens only under the context it was sealed with.

use async_trait::async_trait;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use portal_core::ports::{PortError, SecretBox};

pub struct LocalSecretBox {
    cipher: ChaCha20Poly1305,
}

const NONCE_LEN: usize = 12;

fn aad(context: &[(&str, &str)]) -> Vec<u8> {
    let mut pairs: Vec<String> = context.iter().map(|(k, v)| format!("{k}={v}")).collect();
    pairs.sort();
    pairs.join("\n").into_bytes()
}

impl LocalSecretBox {
    pub fn new(key: &[u8; 32]) -> Self {
        LocalSecretBox { cipher: ChaCha20Poly1305::new(Key::from_slice(key)) }
    }
}

#[async_trait]
impl SecretBox for LocalSecretBox {
    async fn seal(&self, plaintext: &[u8], context: &[(&str, &str)]) -> Result<Vec<u8>, PortError> {
        let nonce = portal_core::ids::random_bytes::<NONCE_LEN>();
        let aad = aad(context);
        let ct = self
            .cipher
            .encrypt(Nonce::from_slice(&nonce), Payload { msg: plaintext, aad: &aad })
            .map_err(|_| PortError::Backend("sealing failed".into()))?;
        Ok([nonce.as_slice(), &ct].concat())
    }

    async fn open(&self, sealed: &[u8], context: &[(&str, &str)]) -> Result<Vec<u8>, PortError> {
        if sealed.len() < NONCE_LEN {
            return Err(PortError::Rejected("not a sealed secret".into()));
        }
        let (nonce, ct) = sealed.split_at(NONCE_LEN);
        let aad = aad(context);
        self.cipher
            .decrypt(Nonce::from_slice(nonce), Payload { msg: ct, aad: &aad })
            .map_err(|_| PortError::Rejected("the secret does not open under this key and context".into()))
    }
}
