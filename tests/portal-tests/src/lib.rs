//! Test-only crate: see `tests/all`.
