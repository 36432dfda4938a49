//! The layers of docs/architecture.md, checked on the source (issue 16): every `crate::…`,
//! `super::…`, `self::…` and child-module path in `src/**/*.rs` (comments, strings and
//! `#[cfg(test)]` items left out) is an edge from the file's module to the module it names.
//!
//! (a) Only the front ends (`cli`, `main`, `demo`, `daemon`) reference a front end.
//! (b) The rules reference no adapter, use case or front end, nor sqlx, tokio, axum or lettre.
//! (c) No import cycle (the knot of issue 16 is undone; `KNOT` lists none that is allowed).
//!
//! Each known exception is listed with its reason; a new edge of any of these kinds fails here.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

const FRONT_ENDS: &[&str] = &["cli", "main", "demo", "daemon"];

/// The rules: no I/O, the time passed in.
const RULES: &[&str] = &[
    "calendar",
    "ids",
    "order",
    "classify",
    "timing",
    "escalation",
    "holidays",
    "report",
    "text",
    "notice",
    "tenant",
];

/// What a rule never references: the adapters, the use cases and the front ends.
const ABOVE_THE_RULES: &[&str] = &[
    "store",
    "mail",
    "chat",
    "web",
    "outbox",
    "ingest",
    "tick",
    "register",
    "survey",
    "usecase",
    "health",
    "cli",
    "demo",
    "daemon",
    "ldap",
    "directory",
];

/// Crates of I/O a rule never uses.
const IO_CRATES: &[&str] = &["sqlx", "tokio", "axum", "lettre", "async_imap"];

/// Edges into a front end from below that are still there: none since the channel seam
/// (chat::matrix delivers through `outbox::deliver_now`, not the daemon's).
const FRONT_END_EXCEPTIONS: &[(&str, &str)] = &[];

/// Rules that still name an adapter's type (issue 16): `report` takes the parsed mail
/// (`mail::parse::Incoming`) and the store's rows (`store::{Employee, OrderRow, Role}`) as
/// they are, instead of types of its own.
const RULE_EXCEPTIONS: &[(&str, &str)] = &[("report", "mail::parse"), ("report", "store")];

/// The modules of an import cycle that is still allowed: none. The knot of issue 16 (fourteen
/// files) came undone with the channel seam (`outbox::channel`): the outbox no longer names a
/// chat server, chat::matrix no longer calls the daemon, the intake answers through `Channels`.
const KNOT: &[&str] = &[];

fn src_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// `src/web/pages.rs` → `web::pages`, `src/web/mod.rs` → `web`, `src/lib.rs` → ``.
fn module_of(path: &Path) -> String {
    let rel = path.strip_prefix(src_dir()).unwrap().with_extension("");
    let mut parts: Vec<String> = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if parts.last().is_some_and(|p| p == "mod" || p == "lib") {
        parts.pop();
    }
    parts.join("::")
}

fn parent(module: &str) -> String {
    module
        .rsplit_once("::")
        .map(|(p, _)| p.to_string())
        .unwrap_or_default()
}

fn is_ident(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_'
}

/// The code without comments, string and character literals (each byte of them a space, lines
/// kept), so a path in a doc comment or a message is no edge.
fn strip_comments_and_literals(src: &str) -> String {
    let b = src.as_bytes();
    let mut out = b.to_vec();
    let blank = |out: &mut Vec<u8>, from: usize, to: usize| {
        for c in &mut out[from..to.min(b.len())] {
            if *c != b'\n' {
                *c = b' ';
            }
        }
    };
    let mut i = 0;
    while i < b.len() {
        let start = i;
        if b[i..].starts_with(b"//") {
            while i < b.len() && b[i] != b'\n' {
                i += 1;
            }
            blank(&mut out, start, i);
        } else if b[i..].starts_with(b"/*") {
            let mut depth = 0;
            while i < b.len() {
                if b[i..].starts_with(b"/*") {
                    depth += 1;
                    i += 2;
                } else if b[i..].starts_with(b"*/") {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    i += 1;
                }
            }
            blank(&mut out, start, i);
        } else if b[i] == b'r'
            && (i == 0 || !is_ident(b[i - 1]))
            && matches!(b.get(i + 1), Some(b'"' | b'#'))
        {
            // r"…", r#"…"#
            let mut j = i + 1;
            while b.get(j) == Some(&b'#') {
                j += 1;
            }
            if b.get(j) != Some(&b'"') {
                i += 1;
                continue;
            }
            let hashes = j - i - 1;
            let mut end = vec![b'"'];
            end.extend(std::iter::repeat_n(b'#', hashes));
            j += 1;
            while j < b.len() && !b[j..].starts_with(&end) {
                j += 1;
            }
            i = j + end.len();
            blank(&mut out, start, i);
        } else if b[i] == b'"' {
            i += 1;
            while i < b.len() && b[i] != b'"' {
                i += if b[i] == b'\\' { 2 } else { 1 };
            }
            i += 1;
            blank(&mut out, start, i);
        } else if b[i] == b'\'' {
            // A character literal ('a', '\n', '\u{1b}', 'あ'); a lifetime ('a) is left alone.
            if b.get(i + 1) == Some(&b'\\') {
                i += 2;
                while i < b.len() && b[i] != b'\'' {
                    i += 1;
                }
                i += 1;
                blank(&mut out, start, i);
            } else {
                let len = src[i + 1..].chars().next().map_or(1, char::len_utf8);
                if b.get(i + 1 + len) == Some(&b'\'') {
                    i += len + 2;
                    blank(&mut out, start, i);
                } else {
                    i += 1;
                }
            }
        } else {
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The code without `#[cfg(test)]` items (a test may reach anything it checks).
fn strip_test_items(code: &str) -> String {
    let mut out = code.as_bytes().to_vec();
    let b = code.as_bytes();
    let mut from = 0;
    while let Some(at) = code[from..].find("#[cfg(test)]").map(|p| p + from) {
        // The item ends at its first `;` outside braces, or with the brace its first `{` opens.
        let mut i = at + "#[cfg(test)]".len();
        let mut depth = 0;
        while i < b.len() {
            match b[i] {
                b'{' => depth += 1,
                b'}' => {
                    depth -= 1;
                    if depth == 0 {
                        i += 1;
                        break;
                    }
                }
                b';' if depth == 0 => {
                    i += 1;
                    break;
                }
                _ => {}
            }
            i += 1;
        }
        for c in &mut out[at..i.min(b.len())] {
            if *c != b'\n' {
                *c = b' ';
            }
        }
        from = i.min(b.len());
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Every path of a use tree starting at `i`: `a::b::{c, d::{e, f}}` → a::b::c, a::b::d::e, …
fn use_tree(b: &[u8], i: &mut usize, mut prefix: Vec<String>, out: &mut Vec<Vec<String>>) {
    let skip_ws = |i: &mut usize| {
        while *i < b.len() && b[*i].is_ascii_whitespace() {
            *i += 1;
        }
    };
    loop {
        skip_ws(i);
        if b.get(*i) == Some(&b'{') {
            *i += 1;
            loop {
                skip_ws(i);
                match b.get(*i) {
                    None => return,
                    Some(b'}') => {
                        *i += 1;
                        return;
                    }
                    Some(b',') => *i += 1,
                    _ => {
                        let before = *i;
                        use_tree(b, i, prefix.clone(), out);
                        if *i == before {
                            *i += 1; // something a path never holds (`*`): step over it
                        }
                    }
                }
            }
        }
        let start = *i;
        while *i < b.len() && is_ident(b[*i]) {
            *i += 1;
        }
        if start == *i {
            out.push(prefix);
            return;
        }
        prefix.push(String::from_utf8_lossy(&b[start..*i]).into_owned());
        skip_ws(i);
        if b[*i..].starts_with(b"::") {
            *i += 2;
        } else {
            out.push(prefix);
            return;
        }
    }
}

/// What one file references: modules of this crate, and crates of I/O.
#[derive(Debug, Default)]
struct Refs {
    modules: BTreeSet<String>,
    crates: BTreeSet<String>,
}

fn references(module: &str, code: &str, known: &BTreeSet<String>) -> Refs {
    let b = code.as_bytes();
    // Child modules declared here (`mod pages;`) are named without a prefix.
    let children: BTreeSet<String> = known
        .iter()
        .filter(|m| !m.is_empty() && parent(m) == module)
        .map(|m| m.rsplit("::").next().unwrap().to_string())
        .collect();
    let mut refs = Refs::default();
    let mut i = 0;
    while i < b.len() {
        if !is_ident(b[i]) || (i > 0 && (is_ident(b[i - 1]) || b[i - 1] == b':')) {
            i += 1;
            continue;
        }
        let mut end = i;
        while end < b.len() && is_ident(b[end]) {
            end += 1;
        }
        let word = &code[i..end];
        let is_path = code[end..].trim_start().starts_with("::");
        let starts = matches!(word, "crate" | "super" | "self" | "zaitaku")
            || children.contains(word)
            || IO_CRATES.contains(&word);
        if !is_path || !starts {
            i = end;
            continue;
        }
        let mut paths = vec![];
        let mut j = i;
        use_tree(b, &mut j, vec![], &mut paths);
        i = j.max(end);
        for segs in paths {
            if IO_CRATES.contains(&segs[0].as_str()) {
                refs.crates.insert(segs[0].clone());
                continue;
            }
            let mut base: Vec<String> = match segs[0].as_str() {
                "crate" | "zaitaku" => vec![],
                "self" => split(module),
                "super" => split(&parent(module)),
                _ => split(module), // a child module
            };
            let mut rest = &segs[..];
            if matches!(segs[0].as_str(), "crate" | "zaitaku" | "self" | "super") {
                rest = &rest[1..];
            }
            while rest.first().is_some_and(|s| s == "super") {
                base = split(&parent(&base.join("::")));
                rest = &rest[1..];
            }
            base.extend(rest.iter().filter(|s| *s != "self").cloned());
            // The longest prefix that is a module of this crate (the rest is an item).
            while !base.is_empty() && !known.contains(&base.join("::")) {
                base.pop();
            }
            let target = base.join("::");
            // A module split into files (`survey/` and its renderers) is one unit: a child
            // using its parent's types and a parent re-exporting its children is no knot.
            let family = |a: &str, b: &str| a.starts_with(&format!("{b}::"));
            if !target.is_empty()
                && target != module
                && !family(module, &target)
                && !family(&target, module)
            {
                refs.modules.insert(target);
            }
        }
    }
    refs
}

fn split(module: &str) -> Vec<String> {
    if module.is_empty() {
        vec![]
    } else {
        module.split("::").map(str::to_string).collect()
    }
}

fn top(module: &str) -> &str {
    module.split("::").next().unwrap()
}

/// Module → what it references, for every file of `src/` (lib.rs, only declarations, left out).
fn graph() -> BTreeMap<String, Refs> {
    let mut files = vec![];
    rust_files(&src_dir(), &mut files);
    let known: BTreeSet<String> = files.iter().map(|f| module_of(f)).collect();
    files
        .iter()
        .filter(|f| !module_of(f).is_empty())
        .map(|f| {
            let m = module_of(f);
            let code = strip_test_items(&strip_comments_and_literals(
                &std::fs::read_to_string(f).unwrap(),
            ));
            let refs = references(&m, &code, &known);
            (m, refs)
        })
        .collect()
}

/// Edges into a front end from a module that is not one.
fn front_end_violations(g: &BTreeMap<String, Refs>) -> Vec<(String, String)> {
    let mut bad = vec![];
    for (from, refs) in g {
        if FRONT_ENDS.contains(&top(from)) {
            continue;
        }
        for to in &refs.modules {
            if FRONT_ENDS.contains(&top(to)) && !FRONT_END_EXCEPTIONS.contains(&(from, to)) {
                bad.push((from.clone(), to.clone()));
            }
        }
    }
    bad
}

/// Edges from a rule to an adapter, a use case, a front end or a crate of I/O.
fn rule_violations(g: &BTreeMap<String, Refs>) -> Vec<(String, String)> {
    let mut bad = vec![];
    for (from, refs) in g {
        if !RULES.contains(&top(from)) {
            continue;
        }
        for to in &refs.modules {
            if ABOVE_THE_RULES.contains(&top(to)) && !RULE_EXCEPTIONS.contains(&(from, to)) {
                bad.push((from.clone(), to.clone()));
            }
        }
        for c in &refs.crates {
            bad.push((from.clone(), c.clone()));
        }
    }
    bad
}

/// The strongly connected components of more than one module (Tarjan's algorithm).
fn cycles(g: &BTreeMap<String, Refs>) -> Vec<BTreeSet<String>> {
    struct T<'a> {
        g: &'a BTreeMap<String, Refs>,
        index: BTreeMap<&'a str, usize>,
        low: BTreeMap<&'a str, usize>,
        stack: Vec<&'a str>,
        on_stack: BTreeSet<&'a str>,
        out: Vec<BTreeSet<String>>,
    }
    fn visit<'a>(t: &mut T<'a>, v: &'a str) {
        let n = t.index.len();
        t.index.insert(v, n);
        t.low.insert(v, n);
        t.stack.push(v);
        t.on_stack.insert(v);
        let g = t.g;
        for w in g[v].modules.iter().filter(|w| g.contains_key(*w)) {
            let w = w.as_str();
            if !t.index.contains_key(w) {
                visit(t, w);
                let lw = t.low[w];
                let lv = t.low.get_mut(v).unwrap();
                *lv = (*lv).min(lw);
            } else if t.on_stack.contains(w) {
                let iw = t.index[w];
                let lv = t.low.get_mut(v).unwrap();
                *lv = (*lv).min(iw);
            }
        }
        if t.low[v] == t.index[v] {
            let mut scc = BTreeSet::new();
            while let Some(w) = t.stack.pop() {
                t.on_stack.remove(w);
                scc.insert(w.to_string());
                if w == v {
                    break;
                }
            }
            if scc.len() > 1 {
                t.out.push(scc);
            }
        }
    }
    let mut t = T {
        g,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: vec![],
        on_stack: BTreeSet::new(),
        out: vec![],
    };
    for v in g.keys() {
        if !t.index.contains_key(v.as_str()) {
            visit(&mut t, v);
        }
    }
    t.out
}

#[test]
fn only_the_front_ends_reference_a_front_end() {
    let g = graph();
    assert!(
        g.contains_key("cli") && g.contains_key("web::pages") && g.len() > 40,
        "the source tree was read: {:?}",
        g.keys().collect::<Vec<_>>()
    );
    let bad = front_end_violations(&g);
    assert!(
        bad.is_empty(),
        "modules below the front ends reference a front end (cli, main, demo, daemon); move what \
         they need below them (docs/architecture.md): {bad:?}"
    );
    for (from, to) in FRONT_END_EXCEPTIONS {
        if !g.get(*from).is_some_and(|r| r.modules.contains(*to)) {
            eprintln!("{from} → {to} is gone: take it off FRONT_END_EXCEPTIONS");
        }
    }
}

#[test]
fn the_rules_reference_no_adapter_use_case_front_end_or_io_crate() {
    let g = graph();
    let bad = rule_violations(&g);
    assert!(
        bad.is_empty(),
        "a rule module references an adapter, a use case, a front end or an I/O crate; pass \
         the facts in as arguments instead (docs/architecture.md): {bad:?}"
    );
    for (from, to) in RULE_EXCEPTIONS {
        if !g.get(*from).is_some_and(|r| r.modules.contains(*to)) {
            eprintln!("{from} → {to} is gone: take it off RULE_EXCEPTIONS");
        }
    }
}

#[test]
fn no_modules_import_each_other_round() {
    let g = graph();
    for scc in cycles(&g) {
        let new: Vec<_> = scc.iter().filter(|m| !KNOT.contains(&m.as_str())).collect();
        assert!(
            new.is_empty(),
            "an import cycle takes in {new:?} (the whole cycle: {scc:?}); only the modules of \
             KNOT may still import each other round (issue 16)"
        );
    }
}

// ---- the checker checked: each check fails on the edge it is there to refuse ----

fn graph_of(files: &[(&str, &str)]) -> BTreeMap<String, Refs> {
    let known: BTreeSet<String> = files.iter().map(|(m, _)| m.to_string()).collect();
    files
        .iter()
        .map(|(m, code)| {
            let code = strip_test_items(&strip_comments_and_literals(code));
            (m.to_string(), references(m, &code, &known))
        })
        .collect()
}

#[test]
fn references_are_read_from_paths_and_use_trees_not_from_comments_or_strings() {
    let g = graph_of(&[
        (
            "web::api",
            "use crate::{board, store::{web::AuditRow, Store}};\n\
             use super::{App, roles::User};\n\
             // crate::cli::status_board in a comment\n\
             fn f() { let s = \"crate::daemon::X\"; let c = '\"'; crate::usecase::board::load(); }\n\
             #[cfg(test)]\nmod tests { use crate::demo::run; }",
        ),
        ("web", "pub mod api; pub mod roles; fn r() { api::status; }"),
        ("web::roles", ""),
        ("board", ""),
        ("store", ""),
        ("store::web", ""),
        ("usecase", ""),
        ("usecase::board", ""),
        ("cli", ""),
        ("daemon", ""),
        ("demo", ""),
        (
            "timing",
            "use tokio::time; fn f() -> sqlx::Any { x::tokio::y }",
        ),
    ]);
    let api: Vec<_> = g["web::api"].modules.iter().map(String::as_str).collect();
    assert_eq!(
        api,
        [
            "board",
            "store",
            "store::web",
            "usecase::board",
            "web::roles"
        ],
        "its parent `web` is family, not an edge"
    );
    // A child module named without a prefix is read as the child, and, being family, is no
    // edge either; `web`'s own references are its siblings' and the crate's.
    assert!(g["web"].modules.is_empty(), "{:?}", g["web"].modules);
    assert_eq!(
        g["timing"].crates.iter().collect::<Vec<_>>(),
        ["sqlx", "tokio"]
    );
}

#[test]
fn a_new_edge_into_a_front_end_a_rule_reaching_up_or_a_longer_cycle_is_refused() {
    let g = graph_of(&[
        ("tick", "fn f() { crate::cli::parse_instant(); }"),
        ("chat::matrix", "use crate::daemon::deliver_now;"),
        ("daemon", "use crate::cli::run;"),
        ("cli", "use crate::daemon; use crate::timing;"),
        (
            "timing",
            "use crate::store::Store; fn f() { tokio::spawn(); }",
        ),
        (
            "report",
            "use crate::store::{OrderRow}; use crate::mail::parse::Incoming;",
        ),
        ("store", "use crate::timing::Status;"),
        ("mail::parse", ""),
    ]);
    assert_eq!(
        front_end_violations(&g),
        [
            ("chat::matrix".to_string(), "daemon".to_string()),
            ("tick".to_string(), "cli".to_string())
        ],
        "the old chat::matrix → daemon is refused now that the seam is there, and a new tick → cli"
    );
    assert_eq!(
        rule_violations(&g),
        [
            ("timing".to_string(), "store".to_string()),
            ("timing".to_string(), "tokio".to_string())
        ],
        "report's known edges pass, timing's new ones do not"
    );
    let c = cycles(&g);
    assert_eq!(c.len(), 2, "{c:?}");
    assert!(
        c.iter()
            .any(|s| s.contains("timing") && s.contains("store"))
    );
    assert!(c.iter().any(|s| s.contains("cli") && s.contains("daemon")));
}
