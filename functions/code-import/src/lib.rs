//! The steps of the code-system import state machine (`infra/statemachines/code-import.asl.json`):
//! one function, told which step by the state's parameters — `split` (answers the batches for the
//! two `Map`s: those to run first, then the rest), `batch`, `finish`, `clean` (answers whether
//! there is more to delete, for the loop) and `fail` (the state machine's catch: records the
//! failure and ends the import as finish would). Each step is core's (`code_systems::import`),
//! safe to run again; a storage error fails the step so the state machine retries it with back-off.

use portal_core::code_systems::import::{ImportFailure, ImportState, Importer, Split};
use portal_core::ids::PracticeId;
use portal_core::ports::{Blobs, Clock, Db, Ports, Table};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

#[derive(Clone)]
pub struct Deps {
    pub table: Arc<dyn Table>,
    pub clock: Arc<dyn Clock>,
    /// The release files.
    pub blobs: Arc<dyn Blobs>,
}

impl From<&Ports> for Deps {
    fn from(p: &Ports) -> Self {
        Deps { table: p.table.clone(), clock: p.clock.clone(), blobs: p.blobs.clone() }
    }
}

impl Deps {
    /// The table and the clock, for building a use case.
    fn db(&self) -> Db<'_> {
        Db { table: self.table.as_ref(), clock: self.clock.as_ref() }
    }
}

/// What a state hands the function.
#[derive(Debug, Deserialize)]
#[serde(tag = "step", rename_all = "lowercase", deny_unknown_fields)]
pub enum Step {
    Split {
        #[serde(rename = "practiceId")]
        practice_id: PracticeId,
        #[serde(rename = "importId")]
        import_id: String,
    },
    Batch {
        #[serde(rename = "practiceId")]
        practice_id: PracticeId,
        #[serde(rename = "importId")]
        import_id: String,
        batch: usize,
    },
    Finish {
        #[serde(rename = "practiceId")]
        practice_id: PracticeId,
        #[serde(rename = "importId")]
        import_id: String,
    },
    Clean {
        #[serde(rename = "practiceId")]
        practice_id: PracticeId,
        #[serde(rename = "importId")]
        import_id: String,
    },
    /// The state machine caught an error a step kept failing with (`Error`, `Cause`).
    Fail {
        #[serde(rename = "practiceId")]
        practice_id: PracticeId,
        #[serde(rename = "importId")]
        import_id: String,
        #[serde(default)]
        error: serde_json::Value,
    },
}

/// What a step answers: the split its batch numbers, the finish and fail the import's state,
/// the clean whether there is more to delete.
#[derive(Debug, Default, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct StepResult {
    #[serde(flatten)]
    pub split: Option<Split>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state: Option<ImportState>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub more: Option<bool>,
}

pub async fn handle(deps: &Deps, step: Step) -> Result<StepResult, lambda_runtime::Error> {
    let importer = Importer::new(deps.db(), deps.blobs.as_ref());
    match step {
        Step::Split { practice_id, import_id } => {
            let split = importer.split(&practice_id, &import_id).await?;
            tracing::info!(import = import_id, first = split.first.len(), rest = split.rest.len(), "split");
            Ok(StepResult { split: Some(split), ..Default::default() })
        }
        Step::Batch { practice_id, import_id, batch } => {
            importer.run_batch(&practice_id, &import_id, batch).await?;
            portal_http::observe::count("imports.batches", 1.0);
            Ok(StepResult::default())
        }
        Step::Finish { practice_id, import_id } => {
            let job = importer.finish(&practice_id, &import_id).await?;
            tracing::info!(import = import_id, state = ?job.state, "finished");
            portal_http::observe::count("imports.finished", 1.0);
            Ok(StepResult { state: Some(job.state), ..Default::default() })
        }
        Step::Clean { practice_id, import_id } => {
            let more = importer.clean(&practice_id, &import_id).await?;
            Ok(StepResult { more: Some(more), ..Default::default() })
        }
        Step::Fail { practice_id, import_id, error } => {
            // The cause is the step's error text: storage errors, never file contents.
            tracing::warn!(import = import_id, error = %error, "import step kept failing");
            importer.fail(&practice_id, &import_id, ImportFailure::step_kept_failing()).await?;
            let job = importer.finish(&practice_id, &import_id).await?;
            portal_http::observe::count("imports.failed", 1.0);
            Ok(StepResult { state: Some(job.state), ..Default::default() })
        }
    }
}
