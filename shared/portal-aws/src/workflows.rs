//! The code-system import workflow on Step Functions: starting an import is one `StartExecution`
//! of the `code-import` state machine (`infra/statemachines/code-import.asl.json`), named by the
//! import id — Step Functions keeps one execution per name (a second start answers the first, or
//! `ExecutionAlreadyExists`), so an import never runs twice.

use async_trait::async_trait;
use aws_sdk_sfn::Client;
use portal_core::ports::{PortError, Workflows};

pub struct StepFunctionsWorkflows {
    client: crate::OnFirstUse<Client>,
    state_machine_arn: String,
}

impl StepFunctionsWorkflows {
    pub fn new(config: &aws_config::SdkConfig, state_machine_arn: impl Into<String>) -> Self {
        StepFunctionsWorkflows { client: crate::OnFirstUse::new(config, Client::new), state_machine_arn: state_machine_arn.into() }
    }

    pub fn client(&self) -> &Client {
        self.client.get()
    }
}

#[async_trait]
impl Workflows for StepFunctionsWorkflows {
    #[tracing::instrument(level = "debug", name = "states.StartExecution", skip_all)]
    async fn start_import(&self, practice: &portal_core::ids::PracticeId, import_id: &str) -> Result<(), PortError> {
        let input = serde_json::json!({ "practiceId": practice, "importId": import_id }).to_string();
        self.client()
            .start_execution()
            .state_machine_arn(&self.state_machine_arn)
            .name(import_id)
            .input(input)
            .send()
            .await
            .map_err(|e| PortError::Backend(aws_sdk_sfn::error::DisplayErrorContext(e).to_string()))?;
        Ok(())
    }
}
