//! Mail as `.eml` files in an outbox folder (listed by `portal-local` at `/_local/outbox`).

use async_trait::async_trait;
use portal_core::ports::{Mail, Mailer, PortError};
use std::path::{Path, PathBuf};

pub struct OutboxMailer {
    dir: PathBuf,
    domain: String,
}

impl OutboxMailer {
    pub fn new(dir: &Path) -> std::io::Result<Self> {
        std::fs::create_dir_all(dir)?;
        Ok(OutboxMailer { dir: dir.to_path_buf(), domain: "portal.local".into() })
    }

    /// The messages in the outbox, oldest first: (file name, raw RFC 5322 text).
    pub fn list(&self) -> std::io::Result<Vec<(String, String)>> {
        let mut names: Vec<String> = std::fs::read_dir(&self.dir)?
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".eml"))
            .collect();
        names.sort();
        names.into_iter().map(|n| std::fs::read_to_string(self.dir.join(&n)).map(|raw| (n, raw))).collect()
    }
}

#[async_trait]
impl Mailer for OutboxMailer {
    async fn send(&self, mail: &Mail) -> Result<String, PortError> {
        if mail.to.is_empty() {
            return Err(PortError::Rejected("no recipient".into()));
        }
        let now = time::OffsetDateTime::now_utc();
        let id = format!("{}@{}", portal_core::ids::new_id(), self.domain);
        let raw = portal_core::mime::render(mail, now.unix_timestamp(), &id).map_err(PortError::Rejected)?;
        // Nanoseconds in the name keep the outbox in sending order.
        let name = format!("{:020}-{}.eml", now.unix_timestamp_nanos(), &id[..12]);
        tokio::fs::write(self.dir.join(name), raw).await.map_err(|e| PortError::Backend(e.to_string()))?;
        Ok(id)
    }
}
