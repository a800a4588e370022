//! Plugin libraries for tests: builds the workspace's plugin and fixture crates once, and puts
//! copies in a temporary plugin directory under the names cxmd looks for.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Once;

/// Where cargo puts this build's libraries (`target/debug`), next to the `cxmd` binary.
pub fn target_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_cxmd")).parent().expect("target dir").to_path_buf()
}

/// The crates whose libraries the tests load.
const PLUGIN_CRATES: &[&str] = &[
    "cxm-plugin-delighted",
    "cxm-plugin-typeform",
    "cxm-plugin-zendesk",
    "cxm-plugin-hubspot",
    "cxm-plugin-file",
    "cxm-fixture-misbehaving",
    "cxm-fixture-garbage",
    "cxm-fixture-wrong-abi",
    "cxm-fixture-no-entry",
];

/// Builds the plugin libraries (a no-op when they are up to date).
pub fn build() {
    static BUILT: Once = Once::new();
    BUILT.call_once(|| {
        let mut command = Command::new(env!("CARGO"));
        command.arg("build").arg("--quiet");
        for name in PLUGIN_CRATES {
            command.args(["-p", name]);
        }
        let status = command.current_dir(env!("CARGO_MANIFEST_DIR")).status().expect("run cargo build");
        assert!(status.success(), "building the plugin libraries failed");
    });
}

/// A temporary plugin directory.
pub struct PluginDir {
    dir: tempfile::TempDir,
}

impl PluginDir {
    /// An empty plugin directory.
    pub fn new() -> Self {
        build();
        Self { dir: tempfile::tempdir().expect("temp dir") }
    }

    /// Its path.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    fn plugin_path(&self, name: &str) -> PathBuf {
        self.path().join(format!("{}cxm_plugin_{name}{}", std::env::consts::DLL_PREFIX, std::env::consts::DLL_SUFFIX))
    }

    /// Copies the fixture library of crate `cxm-fixture-<fixture>` in as plugin `<name>`.
    pub fn fixture(self, fixture: &str, name: &str) -> Self {
        let lib = format!("cxm_fixture_{}", fixture.replace('-', "_"));
        let from = target_dir().join(format!("{}{lib}{}", std::env::consts::DLL_PREFIX, std::env::consts::DLL_SUFFIX));
        std::fs::copy(&from, self.plugin_path(name)).unwrap_or_else(|e| panic!("copy {}: {e}", from.display()));
        self
    }

    /// Writes a file named like a plugin that is not a library at all.
    pub fn not_a_library(self, name: &str) -> Self {
        std::fs::write(self.plugin_path(name), "this is text, not a shared library\n").expect("write");
        self
    }

    /// Compiles the C plugin of tests/fixtures/c with `cc` against the shipped header.
    pub fn c_plugin(self) -> Self {
        self.c_fixture("demo_plugin", "c_demo")
    }

    /// Compiles `tests/fixtures/c/<file>.c` with `cc` against the shipped header as plugin
    /// `<name>`.
    pub fn c_fixture(self, file: &str, name: &str) -> Self {
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
        let status = Command::new("cc")
            .args(["-shared", "-fPIC", "-Wall", "-Werror", "-I"])
            .arg(root.join("crates/plugin/include"))
            .arg("-o")
            .arg(self.plugin_path(name))
            .arg(root.join(format!("tests/fixtures/c/{file}.c")))
            .status()
            .expect("run cc");
        assert!(status.success(), "compiling the C plugin {file} failed");
        self
    }

    /// Builds the protobuf-c example plugin of examples/c-plugin with its Makefile (needs
    /// `protoc-c` and `libprotobuf-c-dev`) as plugin `c_survey`.
    pub fn c_protobuf_plugin(self) -> Self {
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
        let build = self.path().join("c-build");
        let status = Command::new("make")
            .arg("--quiet")
            .arg("-C")
            .arg(root.join("examples/c-plugin"))
            .arg(format!("BUILD={}", build.display()))
            .arg(format!("OUT={}", self.plugin_path("c_survey").display()))
            .status()
            .expect("run make");
        assert!(status.success(), "building examples/c-plugin failed (are protoc-c and libprotobuf-c-dev installed?)");
        self
    }

    /// The `--plugin-dir` flag for this directory.
    pub fn flag(&self) -> [&str; 2] {
        ["--plugin-dir", self.path().to_str().expect("utf-8 path")]
    }
}
