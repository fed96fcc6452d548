//! The architecture, checked on the source itself, for both crates (`src/`, the module
//! Asterisk loads, and `core/src`, the host-free model):
//! - the FFI layer (bindings and safe wrappers) never reaches up into the module's logic or
//!   the exports, and the module's logic cannot write `unsafe`;
//! - no two files import each other, directly or through a longer circle, counting `use`
//!   lines and paths written inline (`crate::a::b::f()`);
//! - the folders of `src/module` form layers: none imports a folder that imports it back;
//! - no folder holds more than [`MAX_FILES`] source files, so each still reads as one concern.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

const MAX_FILES: usize = 15;

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

/// `src/module/serve/http.rs` → `module::serve::http`; `src/module/mod.rs` → `module`.
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

/// Every path a `use` tree names: `a::{b, c::{d, e as f}}` → `a::b`, `a::c::d`, `a::c::e`.
fn expand_use(tree: &str, prefix: &str, out: &mut Vec<String>) {
    let tree = tree.trim();
    let join = |p: &str| {
        if prefix.is_empty() {
            p.to_owned()
        } else if p.is_empty() {
            prefix.to_owned()
        } else {
            format!("{prefix}::{p}")
        }
    };
    match tree.find('{') {
        None => {
            let path = tree.split(" as ").next().unwrap_or("").trim();
            let path = path.trim_end_matches("::*").trim_end_matches("::self");
            if path != "self" && path != "*" {
                out.push(join(path));
            } else {
                out.push(prefix.to_owned());
            }
        }
        Some(open) => {
            let head = join(tree[..open].trim().trim_end_matches("::"));
            let inner = &tree[open + 1..tree.rfind('}').unwrap_or(tree.len())];
            // Split the group at its top-level commas.
            let (mut depth, mut start) = (0, 0);
            for (i, c) in inner.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' => depth -= 1,
                    ',' if depth == 0 => {
                        expand_use(&inner[start..i], &head, out);
                        start = i + 1;
                    }
                    _ => {}
                }
            }
            if !inner[start..].trim().is_empty() {
                expand_use(&inner[start..], &head, out);
            }
        }
    }
}

/// The path that follows `at` in `text`: identifiers joined by `::`.
fn path_at(text: &str, at: usize) -> &str {
    let rest = &text[at..];
    let mut end = 0;
    let bytes = rest.as_bytes();
    while end < bytes.len() {
        let b = bytes[end];
        if b.is_ascii_alphanumeric() || b == b'_' {
            end += 1;
        } else if rest[end..].starts_with("::")
            && rest[end + 2..]
                .bytes()
                .next()
                .is_some_and(|c| c.is_ascii_alphabetic() || c == b'_')
        {
            end += 2;
        } else {
            break;
        }
    }
    &rest[..end]
}

/// The crate modules a file names: in its top-level `use crate::…` / `use super::…` lines
/// and in paths written inline. Whole-line comments are left out (doc links name items
/// without using them); `use super::*` inside an inline test module names the file itself.
fn imports(me: &str, is_mod_root: bool, text: &str, known: &BTreeSet<String>) -> BTreeSet<String> {
    // `super` of `module::serve::http` is `module::serve`; of `module::serve` (its mod.rs)
    // `module`.
    let parent = match (is_mod_root, me.rfind("::")) {
        (true, _) => me
            .rsplit_once("::")
            .map_or(String::new(), |(p, _)| p.to_owned()),
        (false, Some(i)) => me[..i].to_owned(),
        (false, None) => String::new(),
    };
    let resolve_super = |p: &str| -> String {
        match p.strip_prefix("super::") {
            Some(rest) if parent.is_empty() => rest.to_owned(),
            Some(rest) => format!("{parent}::{rest}"),
            None => p.strip_prefix("crate::").unwrap_or(p).to_owned(),
        }
    };
    let mut names = Vec::new();
    let mut code = String::new();
    let mut statement = String::new();
    for line in text.lines() {
        let trimmed = line.trim();
        if trimmed.starts_with("//") {
            continue;
        }
        let top_level = !line.starts_with(' ');
        let bare = trimmed.strip_prefix("pub ").unwrap_or(trimmed);
        let bare = bare.strip_prefix("pub(crate) ").unwrap_or(bare);
        let starts = top_level && bare.starts_with("use ");
        if starts || !statement.is_empty() {
            statement.push_str(bare);
        } else {
            code.push_str(line);
            code.push('\n');
            continue;
        }
        if !bare.ends_with(';') {
            continue;
        }
        let tree = statement["use ".len()..].trim_end_matches(';');
        if tree.starts_with("crate::") || tree.starts_with("super::") {
            let mut paths = Vec::new();
            expand_use(tree, "", &mut paths);
            names.extend(paths.iter().map(|p| resolve_super(p)));
        }
        statement.clear();
    }
    for pat in ["crate::", "super::"] {
        let mut from = 0;
        while let Some(i) = code[from..].find(pat) {
            let at = from + i;
            from = at + pat.len();
            let before = code[..at].chars().next_back();
            if before.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':') {
                continue;
            }
            names.push(resolve_super(path_at(&code, at)));
        }
    }
    let mut found = BTreeSet::new();
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
    found
}

type Graph = BTreeMap<String, (PathBuf, BTreeSet<String>)>;

/// The import graph of the crate whose sources are below `dir` (relative to the project).
fn graph_of(dir: &str) -> Graph {
    let src = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(dir);
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

fn graph() -> Graph {
    graph_of("src")
}

/// A circle in `edges`, as the names along it, if there is one. A node may use its own
/// ancestors' items (a mod.rs wires its children), so edges to an ancestor do not count.
fn find_cycle(edges: &BTreeMap<String, BTreeSet<String>>) -> Option<String> {
    for start in edges.keys() {
        let mut stack: Vec<(String, Vec<String>)> = vec![(start.clone(), vec![start.clone()])];
        let mut seen = BTreeSet::new();
        while let Some((node, path)) = stack.pop() {
            for dep in edges.get(&node).into_iter().flatten() {
                if start.starts_with(&format!("{dep}::")) || node.starts_with(&format!("{dep}::")) {
                    continue;
                }
                if dep == start {
                    return Some(format!("{} -> {start}", path.join(" -> ")));
                }
                if seen.insert(dep.clone()) {
                    let mut p = path.clone();
                    p.push(dep.clone());
                    stack.push((dep.clone(), p));
                }
            }
        }
    }
    None
}

#[test]
fn no_import_cycles_between_files() {
    for dir in ["src", "core/src"] {
        let edges = graph_of(dir)
            .into_iter()
            .map(|(name, (_, deps))| (name, deps))
            .collect();
        if let Some(cycle) = find_cycle(&edges) {
            panic!("{dir}: import cycle: {cycle}");
        }
    }
}

/// The folder of a file of `module`: `module::serve::http` → `module::serve`.
fn folder_of(name: &str) -> Option<String> {
    let rest = name.strip_prefix("module::")?;
    let folder = rest.split("::").next()?;
    rest.contains("::").then(|| format!("module::{folder}"))
}

#[test]
fn module_folders_form_layers() {
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (name, (_, deps)) in graph() {
        let Some(from) = folder_of(&name) else {
            continue;
        };
        let entry = edges.entry(from.clone()).or_default();
        for dep in deps {
            if let Some(to) = folder_of(&dep).filter(|to| *to != from) {
                entry.insert(to);
            }
        }
    }
    assert!(edges.len() >= 4, "folders of src/module: {edges:?}");
    if let Some(cycle) = find_cycle(&edges) {
        panic!("folders of src/module import each other: {cycle}");
    }
}

#[test]
fn no_folder_holds_more_than_fifteen_files() {
    fn walk(dir: &Path) {
        let mut count = 0;
        for entry in fs::read_dir(dir).expect("source directory") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                walk(&path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                count += 1;
            }
        }
        assert!(
            count <= MAX_FILES,
            "{} holds {count} source files (at most {MAX_FILES})",
            dir.display()
        );
    }
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    for dir in ["src", "core/src"] {
        walk(&root.join(dir));
    }
}

#[test]
fn the_checker_sees_inline_paths_and_nested_groups() {
    let known: BTreeSet<String> = ["a", "a::b", "a::c", "a::c::d", "e"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let text = "use crate::a::{b::Item, c::{d::f, self}};\nfn g() { crate::e::h(); }\n\
                // crate::a::zzz in a comment\nmod tests {\n    use super::*;\n}\n";
    let found = imports("x", false, text, &known);
    let want: BTreeSet<String> = ["a::b", "a::c::d", "a::c", "e"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    assert_eq!(found, want);
    let mut cyclic: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    cyclic.insert("p".into(), ["q".to_string()].into());
    cyclic.insert("q".into(), ["r".to_string()].into());
    cyclic.insert("r".into(), ["p".to_string()].into());
    assert!(find_cycle(&cyclic).is_some());
    cyclic.remove("r");
    assert!(find_cycle(&cyclic).is_none());
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

/// Every function Asterisk calls is made by `entry!` (src/exports/mod.rs), which runs its body
/// inside the panic guard: the exports deny `unsafe_code` (which `#[no_mangle]` is), and no
/// other file names a C symbol, lifts that denial or defines an `extern "C"` function.
#[test]
fn entry_points_are_made_by_the_guarding_macro() {
    let g = graph();
    let (root, _) = &g["exports"];
    let text = fs::read_to_string(root).expect("exports root");
    assert!(
        text.contains("#![deny(unsafe_code)]"),
        "{} must deny unsafe code",
        root.display()
    );
    for (file, _) in g.values() {
        if file == root {
            continue;
        }
        let text = fs::read_to_string(file).expect("source");
        for line in text.lines().filter(|l| !l.trim_start().starts_with("//")) {
            for word in ["no_mangle", "export_name", "allow(unsafe_code)"] {
                assert!(!line.contains(word), "{}: {word}", file.display());
            }
            // A definition names the function; a function pointer type does not.
            let defines = line.match_indices("extern \"C\" fn ").any(|(i, m)| {
                line[i + m.len()..].starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
            });
            assert!(!defines, "{}: extern \"C\" fn: {line}", file.display());
        }
    }
}
