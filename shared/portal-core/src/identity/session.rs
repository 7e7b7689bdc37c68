//! Sessions: a 256-bit random token of which only the SHA-256 is stored; idle timeout
//! 15 min, absolute 12 h. The token names its practice (`{practice}.{random}`) so the session item
//! sits under the practice's key like every other item.

use crate::ids::{PracticeId, Username};
use crate::ports::{Cond, Db, Item, Query};
use crate::table_keys;
use crate::{CoreError, CoreResult};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

pub const IDLE_TIMEOUT: i64 = 15 * 60;
pub const ABSOLUTE_TIMEOUT: i64 = 12 * 60 * 60;
/// `last_seen` is written at most this often, so a busy session costs one write a minute, not one
/// per request.
pub const TOUCH_INTERVAL: i64 = 60;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PrincipalKind {
    Patient,
    Staff,
    /// The practice's on-site system, by a signed request (no session).
    Sync,
}

/// Who the audit log says acted: the principal's kind (the audit sits below identity, so the
/// mapping lives here).
impl From<PrincipalKind> for crate::audit::ActorKind {
    fn from(k: PrincipalKind) -> Self {
        match k {
            PrincipalKind::Patient => crate::audit::ActorKind::Patient,
            PrincipalKind::Staff => crate::audit::ActorKind::Staff,
            PrincipalKind::Sync => crate::audit::ActorKind::Sync,
        }
    }
}

impl PrincipalKind {
    pub fn as_str(self) -> &'static str {
        match self {
            PrincipalKind::Patient => "patient",
            PrincipalKind::Staff => "staff",
            PrincipalKind::Sync => "sync",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "patient" => Some(PrincipalKind::Patient),
            "staff" => Some(PrincipalKind::Staff),
            "sync" => Some(PrincipalKind::Sync),
            _ => None,
        }
    }
}

/// Staff roles. `Admin` may change settings; `FrontDesk` may read them (and, in later modules,
/// answer WebMail). Patients have no role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum StaffRole {
    FrontDesk,
    Admin,
}

impl StaffRole {
    pub fn as_str(self) -> &'static str {
        match self {
            StaffRole::FrontDesk => "front-desk",
            StaffRole::Admin => "admin",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "front-desk" => Some(StaffRole::FrontDesk),
            "admin" => Some(StaffRole::Admin),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Session {
    pub practice: PracticeId,
    pub principal_id: String,
    pub kind: PrincipalKind,
    #[serde(default)]
    pub role: Option<StaffRole>,
    pub username: String,
    pub created_at: i64,
    pub last_seen: i64,
    pub must_change_password: bool,
}

impl Session {
    pub fn expires_at(&self) -> i64 {
        (self.last_seen + IDLE_TIMEOUT).min(self.created_at + ABSOLUTE_TIMEOUT)
    }
}

pub fn hash_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// The practice a token claims to belong to (checked against the stored session, which is looked
/// up under that practice, so a forged prefix finds nothing).
pub fn practice_of_token(token: &str) -> Option<PracticeId> {
    let (practice, random) = token.split_once('.')?;
    PracticeId::parse(practice).filter(|_| random.len() == 43)
}

pub struct Sessions<'a> {
    pub db: Db<'a>,
}

impl Sessions<'_> {
    /// Starts a session; answers the token (shown to the client once) and the session.
    pub async fn start(
        &self,
        practice: &PracticeId,
        principal_id: &str,
        kind: PrincipalKind,
        role: Option<StaffRole>,
        username: &Username,
        must_change_password: bool,
    ) -> CoreResult<(String, Session)> {
        let token = format!("{practice}.{}", crate::ids::b64url(&crate::ids::random_bytes::<32>()));
        let now = self.db.clock.now();
        let session = Session {
            practice: practice.clone(),
            principal_id: principal_id.into(),
            kind,
            role,
            username: username.into(),
            created_at: now,
            last_seen: now,
            must_change_password,
        };
        let item = Item::new(
            table_keys::practice(practice),
            table_keys::session(&hash_token(&token)),
            serde_json::to_value(&session).map_err(CoreError::backend)?,
        )
        .with_gsi1(table_keys::principal(practice, principal_id), format!("SESSION#{now:012}"))
        .expiring_at(now + ABSOLUTE_TIMEOUT);
        crate::ports::put_fresh(self.db.table, item).await?;
        Ok((token, session))
    }

    /// The live session for a token, touching its idle timer; `None` when unknown, ended or timed out.
    /// Costs one read, and a write at most once a minute.
    pub async fn resolve(&self, token: &str) -> CoreResult<Option<(String, Session)>> {
        let Some(practice) = practice_of_token(token) else {
            return Ok(None);
        };
        let hash = hash_token(token);
        let Some(item) = self.db.table.get(&table_keys::practice(&practice), &table_keys::session(&hash)).await? else {
            return Ok(None);
        };
        let mut session: Session = item.parse_kept()?;
        let now = self.db.clock.now();
        if session.practice != practice || now >= session.expires_at() {
            self.end(&practice, &hash).await?;
            return Ok(None);
        }
        if now - session.last_seen >= TOUCH_INTERVAL {
            session.last_seen = now;
            let mut touched = item.clone();
            touched.data = serde_json::to_value(&session).map_err(CoreError::backend)?.into();
            // Losing this race to a logout must not bring the session back.
            match self.db.table.put(touched, Cond::Exists).await {
                Ok(()) | Err(crate::ports::TableError::ConditionFailed) => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(Some((hash, session)))
    }

    pub async fn end(&self, practice: &PracticeId, token_hash: &str) -> CoreResult<()> {
        self.db.table.delete(&table_keys::practice(practice), &table_keys::session(token_hash), Cond::None).await?;
        Ok(())
    }

    /// Ends every session of a principal (password change, access revoked).
    pub async fn end_all(&self, practice: &PracticeId, principal_id: &str) -> CoreResult<usize> {
        // Page with the cursor rather than re-querying: the GSI is eventually consistent, so a
        // re-query could return the items just deleted.
        let (mut ended, mut cursor) = (0, None);
        loop {
            let q = Query::on_gsi1(table_keys::principal(practice, principal_id)).prefix("SESSION#").limit(100).after(cursor);
            let page = self.db.table.query(q).await?;
            for item in &page.items {
                self.db.table.delete(&item.pk, &item.sk, Cond::None).await?;
                ended += 1;
            }
            match page.cursor {
                Some(c) => cursor = Some(c),
                None => return Ok(ended),
            }
        }
    }
}
