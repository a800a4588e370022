//! The docs run: every fenced `sh`, `python` and `js` block of README.md and docs/*.md runs, in
//! order, against one live `cxmd --demo`, and must exit 0 and print what its annotations expect.
//!
//! How a block runs (README.md, "Docs that run"):
//! - in a scratch directory that looks like a fresh clone after the build: every top-level entry
//!   of the repository linked in, `target/release` pointing at the binaries this test run built,
//!   and `node_modules` at tests/node/node_modules;
//! - with `CXM_ADDR` set to the live server (cxm and the Python and Node examples read it), the
//!   Python of `.ci/run` (`.venv/bin`) first on the PATH, `NO_COLOR=1` and `COLUMNS=100`;
//! - `sh` with `bash -e`, `python` with `python -`, `js` with `node -` (the code on stdin).
//!
//! Annotations are HTML comments on the lines just before a fence: `<!-- not run: reason -->`
//! skips the block (the reason is required), `<!-- expect: text -->` (repeatable) requires `text`
//! on its stdout. Blocks in other languages (csv, json, text…) are data and are not run.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::polyglot::{node, python, workspace};
use crate::support::Cxmd;
use crate::support::plugins::target_dir;

/// How long one block may run.
const BLOCK_DEADLINE: std::time::Duration = std::time::Duration::from_secs(120);

/// One fenced block of a markdown file.
#[derive(Debug)]
struct Block {
    /// `file:line` of the opening fence.
    place: String,
    language: String,
    code: String,
    not_run: Option<String>,
    expect: Vec<String>,
}

/// The fenced blocks of `text`, with the annotations just before each.
fn blocks(name: &str, text: &str) -> Vec<Block> {
    let lines: Vec<&str> = text.lines().collect();
    let mut found = Vec::new();
    let mut notes: Vec<String> = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i].trim();
        if let Some(info) = line.strip_prefix("```") {
            let end = (i + 1..lines.len())
                .find(|&j| lines[j].trim().starts_with("```"))
                .unwrap_or_else(|| panic!("{name}:{}: a fence that is never closed", i + 1));
            found.push(Block {
                place: format!("{name}:{}", i + 1),
                language: info.trim().to_lowercase(),
                code: lines[i + 1..end].join("\n") + "\n",
                not_run: notes.iter().find_map(|n| n.strip_prefix("not run:")).map(|r| r.trim().to_owned()),
                expect: notes.iter().filter_map(|n| n.strip_prefix("expect:")).map(|e| e.trim().to_owned()).collect(),
            });
            notes.clear();
            i = end + 1;
            continue;
        }
        match line.strip_prefix("<!--").and_then(|l| l.strip_suffix("-->")) {
            Some(comment) => notes.push(comment.trim().to_owned()),
            None if !line.is_empty() => notes.clear(),
            None => {}
        }
        i += 1;
    }
    found
}

/// README.md and docs/*.md, by their path in the repository.
fn documents() -> Vec<(String, String)> {
    let root = workspace();
    let mut names = vec![String::from("README.md")];
    let mut docs: Vec<String> = std::fs::read_dir(root.join("docs"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".md"))
        .map(|n| format!("docs/{n}"))
        .collect();
    docs.sort();
    names.extend(docs);
    names.into_iter().map(|n| (std::fs::read_to_string(root.join(&n)).unwrap(), n)).map(|(t, n)| (n, t)).collect()
}

/// A scratch directory that looks like the repository after `cargo build --release`.
fn fresh_clone(scratch: &Path) {
    use std::os::unix::fs::symlink;
    let root = workspace().canonicalize().unwrap();
    for entry in std::fs::read_dir(&root).unwrap() {
        let name = entry.unwrap().file_name();
        if [".git", "target", ".venv", "cxm-data", "node_modules"].iter().any(|skip| name == *skip) {
            continue;
        }
        symlink(root.join(&name), scratch.join(&name)).unwrap();
    }
    std::fs::create_dir(scratch.join("target")).unwrap();
    symlink(target_dir(), scratch.join("target/release")).unwrap();
    symlink(root.join("tests/node/node_modules"), scratch.join("node_modules")).unwrap();
}

/// Runs one block; `Err` says what went wrong.
fn run(block: &Block, scratch: &Path, addr: &str, path: &str) -> Result<(), String> {
    let (program, args): (PathBuf, &[&str]) = match block.language.as_str() {
        "sh" | "bash" | "shell" => (PathBuf::from("bash"), &["-e", "-s"]),
        "python" | "py" => (PathBuf::from("python"), &["-"]),
        "js" | "javascript" => (node(), &["-"]),
        _ => return Ok(()),
    };
    let mut child = Command::new(&program)
        .args(args)
        .current_dir(scratch)
        .env("CXM_ADDR", addr)
        .env("PATH", path)
        .env("NO_COLOR", "1")
        .env("COLUMNS", "100")
        .env_remove("CXM_API_KEY")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", program.display()))?;
    child.stdin.take().unwrap().write_all(block.code.as_bytes()).unwrap();
    // A block that hangs fails after BLOCK_DEADLINE instead of holding the test run.
    let id = child.id();
    let (done, waited) = std::sync::mpsc::channel();
    let reaper = std::thread::spawn(move || {
        if waited.recv_timeout(BLOCK_DEADLINE).is_err() {
            let _ = Command::new("kill").args(["-KILL", &id.to_string()]).status();
        }
    });
    let out = child.wait_with_output().unwrap();
    let _ = done.send(());
    reaper.join().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let report = || {
        format!("\n--- code\n{}--- stdout\n{stdout}--- stderr\n{}", block.code, String::from_utf8_lossy(&out.stderr))
    };
    if !out.status.success() {
        return Err(format!("exited with {}{}", out.status, report()));
    }
    match block.expect.iter().find(|e| !stdout.contains(e.as_str())) {
        Some(missing) => Err(format!("printed no {missing:?}{}", report())),
        None => Ok(()),
    }
}

#[tokio::test]
async fn every_block_of_the_readme_and_docs_runs_against_a_live_cxmd() {
    let data = tempfile::tempdir().unwrap();
    let server = Cxmd::start_with(data.path(), &["--demo"], &[]);
    let scratch = tempfile::tempdir().unwrap();
    fresh_clone(scratch.path());
    let python_dir = python().parent().unwrap().to_path_buf();
    let path = std::env::join_paths(
        std::iter::once(python_dir).chain(std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())),
    )
    .unwrap();
    let path = path.to_string_lossy().into_owned();

    let mut failures = Vec::new();
    let mut ran = std::collections::BTreeSet::new();
    for (name, text) in documents() {
        for block in blocks(&name, &text) {
            if let Some(reason) = &block.not_run {
                assert!(!reason.is_empty(), "{}: `not run:` needs a reason", block.place);
                continue;
            }
            match run(&block, scratch.path(), &server.addr, &path) {
                Ok(()) => {
                    ran.insert(block.language.clone());
                }
                Err(why) => failures.push(format!("{} ({}) {why}", block.place, block.language)),
            }
        }
    }
    assert!(failures.is_empty(), "{} block(s) failed:\n\n{}", failures.len(), failures.join("\n\n"));
    for language in ["sh", "python", "js"] {
        assert!(ran.contains(language), "no {language} block ran: {ran:?}");
    }
}

#[test]
fn annotations_belong_to_the_next_fence_only() {
    let text = "<!-- not run: slow -->\n```sh\nsleep 100\n```\n\n<!-- expect: 1 -->\n<!-- expect: 2 -->\n\n```python\nprint(12)\n```\nA sentence.\n<!-- expect: x -->\nMore prose.\n```js\n1\n```\n";
    let found = blocks("t.md", text);
    assert_eq!(found.len(), 3);
    assert_eq!(found[0].not_run.as_deref(), Some("slow"));
    assert_eq!((found[1].not_run.as_deref(), found[1].expect.clone()), (None, vec!["1".to_owned(), "2".to_owned()]));
    assert_eq!(found[1].place, "t.md:9");
    assert!(found[2].expect.is_empty(), "prose between an annotation and a fence ends it");
}
