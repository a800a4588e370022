//! The `cxm` binary for tests: built once (it belongs to another package than this test target)
//! and run as a person would, with its output and exit code captured.

use std::path::PathBuf;
use std::process::Command;
use std::sync::Once;

/// Builds `cxm` (a no-op when it is up to date) and returns its path, next to `cxmd`.
pub fn binary() -> PathBuf {
    static BUILT: Once = Once::new();
    BUILT.call_once(|| {
        let status = Command::new(env!("CARGO"))
            .args(["build", "--quiet", "-p", "cxm-cli"])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .status()
            .expect("run cargo build");
        assert!(status.success(), "building cxm failed");
    });
    super::plugins::target_dir().join(format!("cxm{}", std::env::consts::EXE_SUFFIX))
}

/// What one run of `cxm` did.
#[derive(Debug)]
pub struct Run {
    /// The exit code (-1 when killed by a signal).
    pub code: i32,
    /// Everything on stdout.
    pub stdout: String,
    /// Everything on stderr.
    pub stderr: String,
}

/// Runs `cxm` with `args` against `addr` (as `--addr`), with no key or address from the
/// environment of the test runner.
pub fn cxm(addr: &str, args: &[&str]) -> Run {
    let output = Command::new(binary())
        .arg("--addr")
        .arg(addr)
        .args(args)
        .env_remove("CXM_ADDR")
        .env_remove("CXM_API_KEY")
        .env("NO_COLOR", "1")
        .output()
        .expect("run cxm");
    Run {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// A parsed JSON value (the e2e target has no JSON crate; this reads what `cxm --format json`
/// prints, numbers as the exact `f64` they round-trip to).
#[derive(Debug, Clone, PartialEq)]
pub enum Json {
    /// `null` (also what indexing a missing key or position gives).
    Null,
    /// `true` / `false`.
    Bool(bool),
    /// A number.
    Number(f64),
    /// A string.
    Text(String),
    /// An array.
    Array(Vec<Json>),
    /// An object, keys in their order.
    Object(Vec<(String, Json)>),
}

static NULL: Json = Json::Null;

impl Json {
    /// Parses a whole document; panics on anything malformed.
    pub fn parse(text: &str) -> Json {
        let mut chars = text.trim().chars().peekable();
        let value = Self::value(&mut chars);
        assert!(chars.next().is_none(), "trailing text after the JSON value");
        value
    }

    fn skip(chars: &mut std::iter::Peekable<std::str::Chars<'_>>) {
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
    }

    fn value(chars: &mut std::iter::Peekable<std::str::Chars<'_>>) -> Json {
        Self::skip(chars);
        let value = match chars.peek().copied().expect("a JSON value") {
            '{' => {
                chars.next();
                let mut fields = Vec::new();
                loop {
                    Self::skip(chars);
                    match chars.next() {
                        Some('}') => break,
                        Some(',') => continue,
                        Some('"') => {
                            let key = Self::string(chars);
                            Self::skip(chars);
                            assert_eq!(chars.next(), Some(':'));
                            fields.push((key, Self::value(chars)));
                        }
                        other => panic!("unexpected {other:?} in a JSON object"),
                    }
                }
                Json::Object(fields)
            }
            '[' => {
                chars.next();
                let mut items = Vec::new();
                loop {
                    Self::skip(chars);
                    match chars.peek() {
                        Some(']') => {
                            chars.next();
                            break;
                        }
                        Some(',') => {
                            chars.next();
                        }
                        _ => items.push(Self::value(chars)),
                    }
                }
                Json::Array(items)
            }
            '"' => {
                chars.next();
                Json::Text(Self::string(chars))
            }
            _ => {
                let mut word = String::new();
                while chars.peek().is_some_and(|c| !matches!(c, ',' | ']' | '}') && !c.is_whitespace()) {
                    word.extend(chars.next());
                }
                match word.as_str() {
                    "null" => Json::Null,
                    "true" => Json::Bool(true),
                    "false" => Json::Bool(false),
                    number => Json::Number(number.parse().unwrap_or_else(|_| panic!("bad JSON number {number:?}"))),
                }
            }
        };
        Self::skip(chars);
        value
    }

    fn string(chars: &mut std::iter::Peekable<std::str::Chars<'_>>) -> String {
        let mut text = String::new();
        loop {
            match chars.next().expect("a closed JSON string") {
                '"' => return text,
                '\\' => match chars.next().expect("an escape") {
                    'n' => text.push('\n'),
                    't' => text.push('\t'),
                    'u' => {
                        let hex: String = chars.by_ref().take(4).collect();
                        text.extend(u32::from_str_radix(&hex, 16).ok().and_then(char::from_u32));
                    }
                    other => text.push(other),
                },
                c => text.push(c),
            }
        }
    }

    /// The number, if it is one.
    pub fn as_f64(&self) -> Option<f64> {
        if let Json::Number(n) = self { Some(*n) } else { None }
    }

    /// The number as a whole number, if it is one.
    pub fn as_u64(&self) -> Option<u64> {
        self.as_f64().filter(|n| n.fract() == 0.0 && *n >= 0.0).map(|n| n as u64)
    }

    /// The text, if it is a string.
    pub fn as_str(&self) -> Option<&str> {
        if let Json::Text(t) = self { Some(t) } else { None }
    }

    /// The items, if it is an array.
    pub fn as_array(&self) -> Option<&Vec<Json>> {
        if let Json::Array(items) = self { Some(items) } else { None }
    }
}

impl std::ops::Index<&str> for Json {
    type Output = Json;
    fn index(&self, key: &str) -> &Json {
        match self {
            Json::Object(fields) => fields.iter().find(|(k, _)| k == key).map_or(&NULL, |(_, v)| v),
            _ => &NULL,
        }
    }
}

impl std::ops::Index<usize> for Json {
    type Output = Json;
    fn index(&self, index: usize) -> &Json {
        self.as_array().and_then(|items| items.get(index)).unwrap_or(&NULL)
    }
}

impl PartialEq<&str> for Json {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == Some(*other)
    }
}
