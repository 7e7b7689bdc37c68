//! What every patient-module route takes: the caller as a patient of a practice that enabled the
//! route's feature, and the query that names whose data (`?patient=`, default oneself) and which
//! page. Unknown query parameters are refused (`invalid_query`).

use crate::body::page_limit;
use crate::context::Principal;
use crate::problem::ApiError;
use portal_core::access::Access;
use portal_core::identity::login::RequestMeta;
use portal_core::reads::{Caller, PageRequest};
use portal_core::{CoreError, Feature, ProblemCode};
use serde::Deserialize;

impl Principal {
    /// A patient of a practice that enabled `feature`: the audit's actor and the family rule's
    /// viewer, both from the authorizer context.
    pub fn patient(&self, feature: Feature, meta: &RequestMeta) -> Result<Caller, ApiError> {
        let c = self.require(Access::Feature(feature))?;
        let viewer = c.viewer().ok_or_else(|| CoreError::forbidden(ProblemCode::FeatureDisabled, "Patient features are for patients."))?;
        Ok(Caller { actor: c.actor(meta), viewer })
    }
}

/// `?patient=` alone.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ForPatient {
    pub patient: Option<String>,
}

/// `?patient=&limit=&cursor=`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PatientPage {
    pub patient: Option<String>,
    pub limit: Option<usize>,
    pub cursor: Option<String>,
}

impl PatientPage {
    /// The page asked for: `default` items when no limit was given, 1 to `max` when one was.
    pub fn page(&self, default: usize, max: usize) -> Result<PageRequest, CoreError> {
        Ok(PageRequest::new(page_limit(self.limit, default, max)?, self.cursor.clone()))
    }
}
