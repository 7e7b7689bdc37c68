//! The code-system import workflow in process: what the Step Functions state machine does on AWS
//! (`infra/statemachines/code-import.asl.json`), with the same core steps and the same policy —
//! split, then the batches to run first and then the rest, a few at a time, each retried with
//! back-off (a batch that still fails does not stop the others: finish counts it and ends the
//! import as failed), then finish, then clean until nothing is left; a split or finish that still
//! fails ends the import as failed. Imports left running by a host that died are picked up again
//! by [`InProcessWorkflows::resume`]: done batches are skipped, so they resume where they were.

use async_trait::async_trait;
use futures_util::StreamExt;
use portal_core::code_systems::import::{ImportFailure, Importer};
use portal_core::ids::PracticeId;
use portal_core::ports::{Blobs, Clock, Db, PortError, Table, Workflows};
use portal_core::CoreResult;
use std::sync::Arc;
use std::time::Duration;

/// Batches running at once (the state machine's `MaxConcurrency`).
const WORKERS: usize = 2;
/// Tries per step, and the first wait between them (doubling), as the state machine's `Retry`.
const ATTEMPTS: u32 = 3;
const FIRST_WAIT: Duration = Duration::from_millis(500);

#[derive(Clone)]
pub struct InProcessWorkflows {
    table: Arc<dyn Table>,
    blobs: Arc<dyn Blobs>,
    clock: Arc<dyn Clock>,
}

impl InProcessWorkflows {
    pub fn new(table: Arc<dyn Table>, blobs: Arc<dyn Blobs>, clock: Arc<dyn Clock>) -> Self {
        InProcessWorkflows { table, blobs, clock }
    }

    fn importer(&self) -> Importer<'_> {
        Importer::new(Db { table: self.table.as_ref(), clock: self.clock.as_ref() }, self.blobs.as_ref())
    }

    /// Runs an import to its end, then deletes what it left.
    pub async fn run(&self, practice: &PracticeId, id: &str) {
        let importer = self.importer();
        if let Err(e) = self.steps(&importer, practice, id).await {
            tracing::warn!(import = id, error = %e, "code-system import failed");
            let ended = async {
                importer.fail(practice, id, ImportFailure::step_kept_failing()).await?;
                importer.finish(practice, id).await
            };
            if let Err(e) = ended.await {
                tracing::error!(import = id, error = %e, "could not record the failed import");
            }
        }
        loop {
            match retried(|| importer.clean(practice, id)).await {
                Ok(true) => continue,
                Ok(false) => break,
                Err(e) => {
                    // Listed on the system still: the next import's clean deletes it.
                    tracing::warn!(import = id, error = %e, "could not clean up after the import");
                    break;
                }
            }
        }
    }

    async fn steps(&self, importer: &Importer<'_>, practice: &PracticeId, id: &str) -> CoreResult<()> {
        let split = retried(|| importer.split(practice, id)).await?;
        for batches in [split.first, split.rest] {
            let mut runs = futures_util::stream::iter(batches)
                .map(|n| async move { (n, retried(|| importer.run_batch(practice, id, n)).await) })
                .buffer_unordered(WORKERS);
            while let Some((n, done)) = runs.next().await {
                if let Err(e) = done {
                    tracing::warn!(import = id, batch = n, error = %e, "import batch kept failing");
                }
            }
        }
        retried(|| importer.finish(practice, id)).await.map(|_| ())
    }

    /// Starts again every import that was running when the host stopped; answers how many.
    pub async fn resume(&self) -> CoreResult<usize> {
        let running = self.importer().running().await?;
        for (practice, id) in &running {
            self.spawn(practice, id);
        }
        Ok(running.len())
    }

    fn spawn(&self, practice: &PracticeId, id: &str) {
        let (me, practice, id) = (self.clone(), practice.clone(), id.to_string());
        tokio::spawn(async move { me.run(&practice, &id).await });
    }
}

async fn retried<T, F: std::future::Future<Output = CoreResult<T>>>(mut step: impl FnMut() -> F) -> CoreResult<T> {
    let mut wait = FIRST_WAIT;
    for _ in 1..ATTEMPTS {
        match step().await {
            Err(portal_core::CoreError::Backend(e)) => {
                tracing::info!(error = %e, "import step failed; trying again");
                tokio::time::sleep(wait).await;
                wait *= 2;
            }
            other => return other,
        }
    }
    step().await
}

#[async_trait]
impl Workflows for InProcessWorkflows {
    async fn start_import(&self, practice: &PracticeId, import_id: &str) -> Result<(), PortError> {
        self.spawn(practice, import_id);
        Ok(())
    }
}
