//! The import order of `portal-core`, checked: the README's "Layers of `portal-core`" block lists
//! the crate's top-level modules lowest first, and these tests read that block and every source
//! file (their test code left out) and fail when
//! - a module names one of a higher line (`crate::…` or `super::…`, in a `use` or inline),
//! - a top-level module is not placed in the block (a new one must take its place there),
//! - top-level modules import each other in a circle (the modules of one line may use each other),
//! - files import each other in a circle, anywhere (a child naming its parent counts; a parent's
//!   own `mod` and `pub use` of its children do not).
//!
//! The reading is textual, on purpose: no parser to keep in step with the compiler. A path in a
//! string or a comment is skipped; a module named through a `use` alias is seen at the `use`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// The README's layer block: one line per layer, lowest first, each `label: modules…` or a module.
fn layers() -> Vec<Vec<String>> {
    let readme = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../README.md")).unwrap();
    let section = readme.split("## Layers of `portal-core`").nth(1).expect("the README has its layers section");
    let block = section.split("```text\n").nth(1).and_then(|b| b.split("```").next()).expect("a ```text block in it");
    block
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.rsplit(':').next().unwrap().split_whitespace().map(str::to_string).collect())
        .collect()
}

/// Every source file by module path (`identity::auth`; `patient` for `patient/mod.rs`), its code
/// without comments, string literals and the test module.
fn sources() -> BTreeMap<String, String> {
    fn walk(dir: &Path, out: &mut BTreeMap<String, String>, root: &Path) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, out, root);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let rel = path.strip_prefix(root).unwrap().with_extension("");
                let mut parts: Vec<String> = rel.iter().map(|p| p.to_string_lossy().into_owned()).collect();
                if parts.last().is_some_and(|l| l == "mod") {
                    parts.pop();
                }
                match parts.as_slice() {
                    [root] if root == "lib" => parts.clear(),
                    [me] if me == "layers" => continue, // this check, test code only
                    _ => {}
                }
                out.insert(parts.join("::"), code_only(&std::fs::read_to_string(&path).unwrap()));
            }
        }
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut out = BTreeMap::new();
    walk(&root, &mut out, &root);
    out
}

/// `src` without comments, the contents of string and char literals, and anything from the
/// unit-test module on (tests may use the whole crate).
fn code_only(src: &str) -> String {
    let src = src.split("#[cfg(test)]\nmod tests").next().unwrap();
    let (b, mut out, mut i) = (src.as_bytes(), String::new(), 0);
    while i < b.len() {
        match b[i] {
            b'/' if b.get(i + 1) == Some(&b'/') => {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
            }
            // A raw string: r"…", r#"…"#.
            b'r' if !b[i.saturating_sub(1)].is_ascii_alphanumeric() && matches!(b.get(i + 1), Some(b'"' | b'#')) => {
                let hashes = b[i + 1..].iter().take_while(|c| **c == b'#').count();
                let close = format!("\"{}", "#".repeat(hashes));
                let body = i + 2 + hashes;
                i = src[body..].find(&close).map_or(b.len(), |at| body + at + close.len());
                out.push_str("\"\"");
            }
            b'"' => {
                i += 1;
                while i < b.len() && b[i] != b'"' {
                    i += if b[i] == b'\\' { 2 } else { 1 };
                }
                i += 1;
                out.push_str("\"\"");
            }
            // A char literal ('x', '\n', '"'), not a lifetime ('a).
            b'\'' if b.get(i + 2) == Some(&b'\'') || b.get(i + 1) == Some(&b'\\') => {
                i += if b[i + 1] == b'\\' { 4 } else { 3 };
                while i < b.len() && b[i - 1] != b'\'' {
                    i += 1;
                }
                out.push_str("' '");
            }
            c => {
                out.push(c as char);
                i += 1;
            }
        }
    }
    out
}

/// The full paths named in `code` from the crate root: `crate::a::b`, `super::c` (from module
/// `here`), and each leaf of a `crate::{a::b, c::{d, e}}` tree.
fn paths_named(code: &str, here: &str) -> Vec<Vec<String>> {
    let mut out = vec![];
    for (start, _) in code.match_indices("crate::").chain(code.match_indices("super::")) {
        let before = code[..start].chars().last();
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':') {
            continue; // `portal_crate::`, or the second `super` of `super::super::` (taken from the first)
        }
        // The path or use tree, without the spaces and line breaks a formatted tree has.
        let squeezed: String = code[start..].split(';').next().unwrap().chars().filter(|c| !c.is_whitespace()).collect();
        let mut base: Vec<String> = vec![];
        let mut rest = squeezed.as_str();
        if let Some(r) = rest.strip_prefix("crate::") {
            rest = r;
        } else {
            base = here.split("::").filter(|s| !s.is_empty()).map(str::to_string).collect();
            while let Some(r) = rest.strip_prefix("super::") {
                base.pop();
                rest = r;
            }
        }
        expand(rest, base, &mut out);
    }
    out
}

/// Expands the use tree at the start of `rest` under `base`.
fn expand(rest: &str, base: Vec<String>, out: &mut Vec<Vec<String>>) {
    let ident_end = |s: &str| s.find(|c: char| !(c.is_alphanumeric() || c == '_')).unwrap_or(s.len());
    let mut path = base;
    let mut rest = rest;
    loop {
        if let Some(group) = rest.strip_prefix('{') {
            let mut depth = 1;
            let mut item_start = 0;
            for (i, c) in group.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' | ',' if depth == 1 => {
                        if i > item_start {
                            expand(&group[item_start..i], path.clone(), out);
                        }
                        item_start = i + 1;
                        if c == '}' {
                            return;
                        }
                    }
                    '}' => depth -= 1,
                    _ => {}
                }
            }
            return;
        }
        let end = ident_end(rest);
        if end == 0 {
            break;
        }
        if &rest[..end] != "self" {
            path.push(rest[..end].to_string());
        }
        match rest[end..].strip_prefix("::") {
            Some(r) => rest = r,
            None => break,
        }
    }
    out.push(path);
}

/// The module a path names: its longest prefix that is a file (the root's re-exports followed).
fn module_of(path: &[String], files: &BTreeMap<String, String>, reexports: &BTreeMap<String, Vec<String>>) -> Option<String> {
    let path: Vec<String> = match path.first().and_then(|first| reexports.get(first)) {
        Some(target) => target.iter().chain(&path[1..]).cloned().collect(),
        None => path.to_vec(),
    };
    (1..=path.len()).rev().map(|n| path[..n].join("::")).find(|m| files.contains_key(m))
}

fn top(module: &str) -> &str {
    module.split("::").next().unwrap()
}

/// Module → the modules it names (itself, its ancestors and the crate root left out).
fn graph() -> (BTreeMap<String, BTreeSet<String>>, BTreeMap<String, String>) {
    let files = sources();
    // `pub use error::{CoreError, CoreResult};` at the root: `crate::CoreError` is `error`'s.
    let mut reexports = BTreeMap::new();
    for path in paths_named(&files[""].replace("pub use ", "pub use crate::"), "") {
        if let Some(last) = path.last() {
            reexports.insert(last.clone(), path);
        }
    }
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (module, code) in files.iter().filter(|(m, _)| !m.is_empty()) {
        for path in paths_named(code, module) {
            if let Some(target) = module_of(&path, &files, &reexports) {
                let ancestor = module.starts_with(&format!("{target}::"));
                if target != *module && !ancestor {
                    edges.entry(module.clone()).or_default().insert(target);
                }
            }
        }
    }
    (edges, files)
}

/// The circles of `edges` (each one's members, sorted).
fn circles(edges: &BTreeMap<String, BTreeSet<String>>) -> Vec<Vec<String>> {
    let mut found = BTreeSet::new();
    for start in edges.keys() {
        // Every node reachable from `start`; a circle through `start` when `start` is among them,
        // and its members are the nodes that also reach `start` back.
        let reach = |from: &String| {
            let (mut seen, mut todo) = (BTreeSet::new(), vec![from.clone()]);
            while let Some(n) = todo.pop() {
                for next in edges.get(&n).into_iter().flatten() {
                    if seen.insert(next.clone()) {
                        todo.push(next.clone());
                    }
                }
            }
            seen
        };
        let from_start = reach(start);
        if from_start.contains(start) {
            let members: Vec<String> = from_start.iter().filter(|n| reach(n).contains(start)).cloned().collect();
            found.insert(members);
        }
    }
    found.into_iter().collect()
}

#[test]
fn every_import_follows_the_readme_layers() {
    let layers = layers();
    let layer_of: BTreeMap<&str, usize> =
        layers.iter().enumerate().flat_map(|(i, mods)| mods.iter().map(move |m| (m.as_str(), i))).collect();
    let (edges, files) = graph();
    let tops: BTreeSet<&str> = files.keys().filter(|m| !m.is_empty()).map(|m| top(m)).collect();
    let unplaced: Vec<&&str> = tops.iter().filter(|m| !layer_of.contains_key(**m)).collect();
    assert!(unplaced.is_empty(), "modules not in the README's layers block: {unplaced:?}");
    let gone: Vec<&&str> = layer_of.keys().filter(|m| !tops.contains(**m)).collect();
    assert!(gone.is_empty(), "the README's layers block names modules that do not exist: {gone:?}");
    let mut against = vec![];
    for (from, targets) in &edges {
        for to in targets {
            if layer_of[top(from)] < layer_of[top(to)] {
                against.push(format!("{from} uses {to} (a higher layer)"));
            }
        }
    }
    assert!(against.is_empty(), "imports against the layers:\n{}", against.join("\n"));
}

#[test]
fn no_modules_or_files_import_each_other_in_a_circle() {
    let (edges, _) = graph();
    let mut tops: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (from, targets) in &edges {
        for to in targets.iter().filter(|t| top(t) != top(from)) {
            tops.entry(top(from).to_string()).or_default().insert(top(to).to_string());
        }
    }
    assert_eq!(circles(&tops), Vec::<Vec<String>>::new(), "top-level modules in a circle");
    assert_eq!(circles(&edges), Vec::<Vec<String>>::new(), "files in a circle");
}

#[test]
fn the_reading_finds_what_a_file_names() {
    let code = code_only(
            "use crate::{ids::new_id, sync::{store::{self, X}, records}};\n// crate::audit\nlet s = \"crate::table_keys\"; let r = r#\"a \"crate::clock\" b\"#; super::super::ports::Item::new();",
        );
    let named = paths_named(&code, "patient::account");
    let joined: Vec<String> = named.iter().map(|p| p.join("::")).collect();
    assert_eq!(joined, ["ids::new_id", "sync::store", "sync::store::X", "sync::records", "ports::Item::new"]);
    let mut edges = BTreeMap::new();
    edges.insert("a".to_string(), BTreeSet::from(["b".to_string()]));
    edges.insert("b".to_string(), BTreeSet::from(["c".to_string()]));
    assert!(circles(&edges).is_empty());
    edges.insert("c".to_string(), BTreeSet::from(["a".to_string()]));
    assert_eq!(circles(&edges), [["a", "b", "c"]]);
}
