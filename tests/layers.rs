//! The layers of src/, checked on the source itself: the FFI layer (bindings and safe
//! wrappers) never reaches up into the module's logic or the exports; the module's logic
//! cannot write `unsafe`; no two files import each other, directly or in a longer cycle.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).expect("source directory") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// `src/module/http.rs` → `module::http`; `src/module/mod.rs` → `module`.
fn module_path(src: &Path, file: &Path) -> String {
    let rel = file.strip_prefix(src).expect("below src");
    let mut parts: Vec<String> = rel
        .iter()
        .map(|p| p.to_string_lossy().trim_end_matches(".rs").to_owned())
        .collect();
    if parts.last().is_some_and(|p| p == "mod" || p == "lib") {
        parts.pop();
    }
    parts.join("::")
}

/// The crate paths a file's `use crate::…` and `use super::…` lines name, as the longest
/// known module each starts with (`use crate::module::{state, templates}` names both).
fn imports(me: &str, is_mod_root: bool, text: &str, known: &BTreeSet<String>) -> BTreeSet<String> {
    // `super` of `module::http` is `module`; of `module` (its mod.rs) the crate root.
    let parent = match (is_mod_root, me.rfind("::")) {
        (true, _) => me
            .rsplit_once("::")
            .map_or(String::new(), |(p, _)| p.to_owned()),
        (false, Some(i)) => me[..i].to_owned(),
        (false, None) => String::new(),
    };
    let mut found = BTreeSet::new();
    let mut statement = String::new();
    for line in text.lines() {
        let line = line.trim();
        let line = line.strip_prefix("pub ").unwrap_or(line);
        let starts = line.starts_with("use crate::") || line.starts_with("use super::");
        if statement.is_empty() && !starts {
            continue;
        }
        statement.push_str(line);
        if !line.ends_with(';') {
            continue;
        }
        let resolved = match statement.strip_prefix("use super::") {
            Some(rest) if parent.is_empty() => rest.to_owned(),
            Some(rest) => format!("{parent}::{rest}"),
            None => statement
                .split_once("crate::")
                .map_or("", |(_, b)| b)
                .to_owned(),
        };
        let body = resolved.as_str();
        let (prefix, rest) = match body.find('{') {
            Some(i) => (&body[..i], &body[i + 1..]),
            None => (body, ""),
        };
        let prefix = prefix.trim_end_matches("::").trim_end_matches(';');
        let mut names = vec![prefix.to_owned()];
        for item in rest.split([',', '}', ';']) {
            let item = item.trim().split(" as ").next().unwrap_or("").trim();
            if !item.is_empty() {
                names.push(format!("{prefix}::{item}"));
            }
        }
        for name in names {
            let mut path = name.as_str();
            loop {
                if known.contains(path) {
                    found.insert(path.to_owned());
                    break;
                }
                match path.rfind("::") {
                    Some(i) => path = &path[..i],
                    None => break,
                }
            }
        }
        statement.clear();
    }
    found
}

fn graph() -> BTreeMap<String, (PathBuf, BTreeSet<String>)> {
    let src = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let known: BTreeSet<String> = files.iter().map(|f| module_path(&src, f)).collect();
    files
        .iter()
        .map(|f| {
            let text = fs::read_to_string(f).expect("source");
            let me = module_path(&src, f);
            let root = f.file_name().is_some_and(|n| n == "mod.rs");
            let mut deps = imports(&me, root, &text, &known);
            deps.remove(&me);
            (me, (f.clone(), deps))
        })
        .collect()
}

#[test]
fn ffi_never_imports_the_layers_above() {
    for (name, (file, deps)) in graph() {
        if name.starts_with("ffi") {
            let up: Vec<_> = deps.iter().filter(|d| !d.starts_with("ffi")).collect();
            assert!(up.is_empty(), "{} imports {up:?}", file.display());
        }
    }
}

#[test]
fn module_logic_cannot_write_unsafe() {
    let g = graph();
    let (root, _) = &g["module"];
    let text = fs::read_to_string(root).expect("module root");
    assert!(
        text.contains("#![forbid(unsafe_code)]"),
        "{} must forbid unsafe",
        root.display()
    );
    for (name, (file, _)) in &g {
        if name.starts_with("module") {
            let text = fs::read_to_string(file).expect("source");
            for word in ["unsafe {", "unsafe fn", "unsafe impl", "unsafe extern"] {
                assert!(!text.contains(word), "{}: {word}", file.display());
            }
        }
    }
}

#[test]
fn no_import_cycles_between_files() {
    let g = graph();
    // Depth-first search for a path back to the start, from every file.
    for start in g.keys() {
        let mut stack: Vec<(String, Vec<String>)> = vec![(start.clone(), vec![start.clone()])];
        let mut seen = BTreeSet::new();
        while let Some((node, path)) = stack.pop() {
            for dep in g.get(&node).map(|(_, d)| d.iter()).into_iter().flatten() {
                // A file may use its own parent module's items (mod.rs wires its children).
                if start.starts_with(&format!("{dep}::")) {
                    continue;
                }
                if dep == start {
                    panic!("import cycle: {} -> {start}", path.join(" -> "));
                }
                if seen.insert(dep.clone()) {
                    let mut p = path.clone();
                    p.push(dep.clone());
                    stack.push((dep.clone(), p));
                }
            }
        }
    }
}

#[test]
fn functions_that_take_raw_pointers_are_unsafe() {
    for (name, (file, _)) in graph() {
        let text = fs::read_to_string(&file).expect("source");
        let mut signature = String::new();
        for line in text.lines() {
            let t = line.trim_start();
            if signature.is_empty()
                && !(t.starts_with("pub") || t.starts_with("fn") || t.starts_with("unsafe"))
            {
                continue;
            }
            if signature.is_empty() && !t.contains("fn ") {
                continue;
            }
            signature.push_str(t);
            signature.push(' ');
            if !(t.contains('{') || t.ends_with(';')) {
                continue;
            }
            let header = signature.split('{').next().unwrap_or("");
            let params = header.split_once('(').map_or("", |(_, p)| p);
            let params = params.rsplit_once(')').map_or(params, |(p, _)| p);
            let takes_raw = params.contains("*const") || params.contains("*mut");
            if takes_raw && !header.contains("unsafe ") {
                panic!("{name}: safe fn takes a raw pointer: {header}");
            }
            signature.clear();
        }
    }
}
