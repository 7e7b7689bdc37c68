//! Display names from the imported code systems: the active version of each system (one query
//! for all of them) and a code's preferred name in it (one query per code, the best name
//! first by its sort key). A system that was never imported is reported as missing, so a page
//! can name it rather than show a code without a name.

use super::import::CodeSystemState;
use super::System;
use crate::ids::PracticeId;
use crate::ports::{Db, Query};
use crate::table_keys;
use crate::CoreResult;
use std::collections::BTreeMap;

pub struct Terms<'a> {
    pub db: Db<'a>,
}

/// Names found for a set of codes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Names {
    pub names: BTreeMap<(System, String), String>,
    /// Systems asked about that have no active version.
    pub missing: Vec<System>,
}

impl Names {
    pub fn get(&self, system: System, code: &str) -> Option<&str> {
        self.names.get(&(system, code.to_string())).map(String::as_str)
    }
}

impl Terms<'_> {
    /// The version in use of each imported system: the import that wrote its names.
    pub async fn active(&self, practice: &PracticeId) -> CoreResult<BTreeMap<System, String>> {
        let page = self.db.table.query(Query::new(table_keys::practice(practice)).prefix(table_keys::CODE_SYSTEM_PREFIX)).await?;
        let mut out = BTreeMap::new();
        for item in &page.items {
            let state: CodeSystemState = item.parse()?;
            if let Some(active) = state.active {
                out.insert(state.system, active.import_id);
            }
        }
        Ok(out)
    }

    /// The preferred name of `code` in the version an import wrote. In SNOMED CT only an active
    /// concept has one (the release's concept file says which are); the marker sorts first.
    pub async fn name(&self, practice: &PracticeId, system: System, import: &str, code: &str) -> CoreResult<Option<String>> {
        let q = Query::new(table_keys::terms(practice, system.name(), import)).prefix(table_keys::term_prefix(code)).limit(2);
        let page = self.db.table.query(q).await?;
        if system == System::SnomedCt && page.items.first().is_none_or(|i| i.sk != table_keys::term_concept(code)) {
            return Ok(None);
        }
        Ok(page.items.iter().find_map(|i| i.data.get("t").and_then(|t| t.as_str()).map(str::to_string)))
    }

    /// The names of many codes, looked up at once in the active versions.
    pub async fn names(&self, practice: &PracticeId, codes: &[(System, String)]) -> CoreResult<Names> {
        let active = self.active(practice).await?;
        let mut wanted: Vec<&(System, String)> = codes.iter().collect();
        wanted.sort();
        wanted.dedup();
        let reads = wanted.iter().filter_map(|(system, code)| {
            let version = active.get(system)?;
            Some(async move { self.name(practice, *system, version, code).await.map(|n| ((*system, code.clone()), n)) })
        });
        let mut out = Names::default();
        for found in futures_util::future::join_all(reads).await {
            if let ((system, code), Some(name)) = found? {
                out.names.insert((system, code), name);
            }
        }
        out.missing = wanted.iter().map(|(s, _)| *s).filter(|s| !active.contains_key(s)).collect();
        out.missing.dedup();
        Ok(out)
    }
}
