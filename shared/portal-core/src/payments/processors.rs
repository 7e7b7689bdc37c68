//! The processors one deployment can reach, by kind: Stripe in the cloud and locally, the
//! built-in test processor on one machine only. A practice picks one of them in its setup.

use crate::ports::{PaymentProcessor, ProcessorKind};
use std::sync::Arc;

#[derive(Clone, Default)]
pub struct Processors {
    pub test: Option<Arc<dyn PaymentProcessor>>,
    pub stripe: Option<Arc<dyn PaymentProcessor>>,
}

impl Processors {
    /// The processor of `kind`, when this deployment has it.
    pub fn get(&self, kind: ProcessorKind) -> Option<&dyn PaymentProcessor> {
        match kind {
            ProcessorKind::None => None,
            ProcessorKind::Test => self.test.as_deref(),
            ProcessorKind::Stripe => self.stripe.as_deref(),
        }
    }

    /// The kinds a practice may choose here (`none` always).
    pub fn offered(&self) -> Vec<ProcessorKind> {
        [ProcessorKind::None, ProcessorKind::Test, ProcessorKind::Stripe]
            .into_iter()
            .filter(|k| *k == ProcessorKind::None || self.get(*k).is_some())
            .collect()
    }
}
