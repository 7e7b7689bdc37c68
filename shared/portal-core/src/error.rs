//! One error type for the domain. Every variant has a stable `code` that HTTP answers carry, so
//! clients branch on codes, not on wording.

use crate::ProblemCode;
use serde_json::Value;

pub type CoreResult<T> = Result<T, CoreError>;

#[derive(Debug, thiserror::Error)]
pub enum CoreError {
    /// Input that fails validation: `code` names the rule, `detail` says what to fix.
    #[error("{detail}")]
    Invalid { code: ProblemCode, detail: String },
    /// No session, an expired one, or failed credentials (never says which).
    #[error("{detail}")]
    Unauthorized { code: ProblemCode, detail: String },
    /// Authenticated, but this principal may not do this.
    #[error("{detail}")]
    Forbidden { code: ProblemCode, detail: String },
    /// The body is larger than the route takes.
    #[error("{detail}")]
    TooLarge { detail: String },
    /// Well-formed, but what it refers to cannot be accepted (an uploaded file of the wrong type).
    #[error("{detail}")]
    Unprocessable { code: ProblemCode, detail: String },
    /// Absent, or belongs to another patient or practice (both look the same on purpose).
    #[error("not found")]
    NotFound,
    /// A quota is used up for now (attempts, mails, uploads): wait and try again.
    #[error("{detail}")]
    TooMany { code: ProblemCode, detail: String },
    /// Someone else changed the thing first; `current` holds what is stored now.
    #[error("{detail}")]
    Conflict { code: ProblemCode, detail: String, current: Option<Value> },
    /// A backend (table, blob store, mailer, …) failed. The message is for logs and never holds PHI.
    #[error("backend failure: {0}")]
    Backend(String),
}

impl CoreError {
    pub fn invalid(code: ProblemCode, detail: impl Into<String>) -> Self {
        CoreError::Invalid { code, detail: detail.into() }
    }
    pub fn unauthorized(code: ProblemCode, detail: impl Into<String>) -> Self {
        CoreError::Unauthorized { code, detail: detail.into() }
    }
    pub fn forbidden(code: ProblemCode, detail: impl Into<String>) -> Self {
        CoreError::Forbidden { code, detail: detail.into() }
    }
    pub fn backend(e: impl std::fmt::Display) -> Self {
        CoreError::Backend(e.to_string())
    }

    /// The stable machine-readable code for this error.
    pub fn code(&self) -> ProblemCode {
        match self {
            CoreError::Invalid { code, .. }
            | CoreError::Unauthorized { code, .. }
            | CoreError::Forbidden { code, .. }
            | CoreError::Unprocessable { code, .. }
            | CoreError::TooMany { code, .. }
            | CoreError::Conflict { code, .. } => *code,
            CoreError::NotFound => ProblemCode::NotFound,
            CoreError::TooLarge { .. } => ProblemCode::BodyTooLarge,
            CoreError::Backend(_) => ProblemCode::BackendUnavailable,
        }
    }
}

impl From<crate::ports::TableError> for CoreError {
    fn from(e: crate::ports::TableError) -> Self {
        match e {
            crate::ports::TableError::ConditionFailed => {
                CoreError::Conflict { code: ProblemCode::Conflict, detail: "the item was changed by someone else".into(), current: None }
            }
            crate::ports::TableError::TransactionCanceled { failed } if !failed.is_empty() => CoreError::Conflict {
                code: ProblemCode::Conflict,
                detail: "the change conflicts with the stored data".into(),
                current: None,
            },
            // Nothing failed: other writes to the same items kept it from going through even
            // after the adapter tried again. Nothing was changed and nothing the user did was
            // wrong: the backend is busy, not in conflict with them.
            crate::ports::TableError::TransactionCanceled { .. } => CoreError::Backend("the table stayed busy with other writes".into()),
            crate::ports::TableError::BadCursor => {
                CoreError::invalid(ProblemCode::CursorInvalid, "The cursor is not valid; start again from the first page.")
            }
            other => CoreError::Backend(other.to_string()),
        }
    }
}

impl From<crate::ports::PortError> for CoreError {
    fn from(e: crate::ports::PortError) -> Self {
        CoreError::Backend(e.to_string())
    }
}
