//! The loading side: finding, loading and calling plugin libraries (feature `host`). It runs
//! inside the plugin host process ([`crate::hosted`]), never inside `cxmd` itself.
//!
//! Libraries are opened with `RTLD_NOW | RTLD_LOCAL` and never unloaded. Every call result is
//! checked: a status other than OK/ERROR, bytes that do not decode, or a page larger than the
//! host accepts become a [`CallError`].

use std::ffi::c_void;
use std::path::{Path, PathBuf};

use cxm_proto::v1::{PluginConfig, PluginError, PluginInfo, PullRequest, PullResponse};
use prost::Message;

use crate::abi::{self, CXM_ERROR, CXM_OK, CxmBuf, CxmHost, CxmPluginHeader, CxmPluginVTable, CxmSlice, EntryFn};

/// Where a plugin instance's log lines go: `(level, line)`.
pub type LogFn = Box<dyn Fn(u32, &str) + Send + Sync>;

/// Why a library could not be used as a plugin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadError(pub String);

impl std::fmt::Display for LoadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for LoadError {}

/// Why a call into a plugin failed.
#[derive(Debug, Clone, PartialEq)]
pub enum CallError {
    /// The plugin reported an error (possibly a caught panic).
    Plugin(PluginError),
    /// The plugin broke the ABI: bad bytes, an unknown status or an oversized page.
    Protocol(String),
}

impl std::fmt::Display for CallError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Plugin(e) => f.write_str(&e.message),
            Self::Protocol(message) => f.write_str(message),
        }
    }
}

impl std::error::Error for CallError {}

/// The functions of a table, every one checked non-null at load.
#[derive(Debug, Clone, Copy)]
struct Functions {
    info: extern "C" fn(out: *mut CxmBuf) -> i32,
    open: extern "C" fn(config: CxmSlice, host: *const CxmHost, instance: *mut *mut c_void, out: *mut CxmBuf) -> i32,
    pull: extern "C" fn(instance: *mut c_void, request: CxmSlice, out: *mut CxmBuf) -> i32,
    close: extern "C" fn(instance: *mut c_void),
    free_buf: extern "C" fn(buf: CxmBuf),
}

impl Functions {
    fn of(table: &CxmPluginVTable) -> Result<Self, LoadError> {
        let missing: Vec<&str> = [
            ("info", table.info.is_none()),
            ("open", table.open.is_none()),
            ("pull", table.pull.is_none()),
            ("close", table.close.is_none()),
            ("free_buf", table.free_buf.is_none()),
        ]
        .into_iter()
        .filter_map(|(name, null)| null.then_some(name))
        .collect();
        match (table.info, table.open, table.pull, table.close, table.free_buf) {
            (Some(info), Some(open), Some(pull), Some(close), Some(free_buf)) => {
                Ok(Self { info, open, pull, close, free_buf })
            }
            _ => Err(LoadError(format!("the function table has NULL for {}", missing.join(", ")))),
        }
    }
}

/// A loaded plugin library.
#[derive(Debug)]
pub struct Library {
    functions: Functions,
    /// What the plugin says about itself.
    pub info: PluginInfo,
    /// The ABI version it was built against, `MAJOR.MINOR`.
    pub abi_version: String,
    /// The file it was loaded from.
    pub path: PathBuf,
}

/// Whether `path` is named like a plugin library: `libcxm_plugin_*.so` (or the platform's
/// equivalent). Other libraries in a plugin directory are not touched.
pub fn is_plugin_file(path: &Path) -> bool {
    file_plugin_name(path).is_some()
}

/// The plugin name a file's name announces: `libcxm_plugin_<name>.so` → `<name>`.
pub fn file_plugin_name(path: &Path) -> Option<&str> {
    let name = path.file_name()?.to_str()?;
    let stem = name.strip_prefix(std::env::consts::DLL_PREFIX).unwrap_or(name);
    stem.strip_prefix("cxm_plugin_")?.strip_suffix(std::env::consts::DLL_SUFFIX)
}

/// Every plugin file in `dirs`, in directory order then by name, each real file once.
pub fn plugin_files(dirs: &[PathBuf]) -> Vec<PathBuf> {
    let mut seen = std::collections::HashSet::new();
    let mut files = Vec::new();
    for dir in dirs {
        let Ok(entries) = std::fs::read_dir(dir) else {
            continue;
        };
        let mut paths: Vec<PathBuf> =
            entries.filter_map(|e| e.ok().map(|e| e.path())).filter(|p| is_plugin_file(p)).collect();
        paths.sort();
        for path in paths {
            if seen.insert(path.canonicalize().unwrap_or_else(|_| path.clone())) {
                files.push(path);
            }
        }
    }
    files
}

/// An error with its sources: libloading keeps the dynamic loader's text (`dlerror`) there.
fn with_sources(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(inner) = source {
        text.push_str(": ");
        text.push_str(&inner.to_string());
        source = inner.source();
    }
    text
}

#[cfg(unix)]
fn open_library(path: &Path) -> Result<libloading::Library, libloading::Error> {
    use libloading::os::unix::{Library, RTLD_LOCAL, RTLD_NOW};
    // SAFETY: loading a library runs its initialisers; plugins are code the operator placed in a
    // plugin directory, and this runs inside the plugin host process, never inside cxmd.
    // RTLD_LOCAL keeps its symbols out of the global scope.
    #[allow(unsafe_code)]
    let library = unsafe { Library::open(Some(path), RTLD_NOW | RTLD_LOCAL) }?;
    Ok(library.into())
}

#[cfg(not(unix))]
fn open_library(path: &Path) -> Result<libloading::Library, libloading::Error> {
    // SAFETY: as above: plugins are code placed in a plugin directory, run in the host process.
    #[allow(unsafe_code)]
    unsafe {
        libloading::Library::new(path)
    }
}

impl Library {
    /// Loads a plugin library and checks its ABI version, table size and functions before
    /// using it. Errors carry the dynamic loader's own text (`dlerror`).
    pub fn load(path: &Path) -> Result<Self, LoadError> {
        let library =
            open_library(path).map_err(|e| LoadError(format!("not a loadable library: {}", with_sources(&e))))?;
        // The library is never unloaded: plugin code and statics stay valid for the process.
        let library: &'static libloading::Library = Box::leak(Box::new(library));
        let symbol = String::from_utf8_lossy(&abi::ENTRY_SYMBOL[..abi::ENTRY_SYMBOL.len() - 1]).into_owned();
        // SAFETY: the symbol, if present, has the `EntryFn` signature by the ABI's definition.
        #[allow(unsafe_code)]
        let entry = unsafe { library.get::<EntryFn>(abi::ENTRY_SYMBOL) }.map_err(|e| {
            LoadError(format!(
                "no entry symbol `{symbol}`: not a cxm plugin of ABI {}.x ({})",
                abi::ABI_MAJOR,
                with_sources(&e)
            ))
        })?;
        let table = entry();
        if table.is_null() {
            return Err(LoadError(format!("`{symbol}` returned no function table")));
        }
        // SAFETY: every table version starts with the header fields; reading them first is what
        // the ABI prescribes before trusting anything else.
        #[allow(unsafe_code)]
        let header = unsafe { table.cast::<CxmPluginHeader>().read() };
        if header.abi_major != abi::ABI_MAJOR {
            return Err(LoadError(format!(
                "plugin ABI {}.{} does not match this cxmd's ABI {}.{}: rebuild the plugin against ABI {}.x",
                header.abi_major,
                header.abi_minor,
                abi::ABI_MAJOR,
                abi::ABI_MINOR,
                abi::ABI_MAJOR
            )));
        }
        if header.size < std::mem::size_of::<CxmPluginVTable>() {
            return Err(LoadError(format!(
                "plugin function table is {} bytes; ABI {}.{} needs {}",
                header.size,
                header.abi_major,
                header.abi_minor,
                std::mem::size_of::<CxmPluginVTable>()
            )));
        }
        // SAFETY: the major version matches and the table is at least as large as this ABI's,
        // so it is a valid `CxmPluginVTable` in static storage of a never-unloaded library;
        // its function pointers are `Option`s, so NULL ones read as `None`.
        #[allow(unsafe_code)]
        let functions = Functions::of(unsafe { &*table })?;
        let mut out = CxmBuf::EMPTY;
        let status = (functions.info)(&mut out);
        let info: PluginInfo =
            take(functions, status, out, usize::MAX).map_err(|e| LoadError(format!("`info` failed: {e}")))?;
        if !crate::valid_name(&info.name) {
            return Err(LoadError(format!(
                "the plugin calls itself {:?}, which is not a plugin name: use 1 to 64 of a-z, 0-9, '-' and '_'",
                info.name
            )));
        }
        Ok(Self {
            functions,
            info,
            abi_version: format!("{}.{}", header.abi_major, header.abi_minor),
            path: path.to_path_buf(),
        })
    }

    /// Opens an instance for `config`; `log` receives the plugin's log lines.
    pub fn open(&self, config: &PluginConfig, log: LogFn) -> Result<Instance, CallError> {
        let sink = Box::new(LogSink(log));
        let host = Box::new(CxmHost {
            size: std::mem::size_of::<CxmHost>(),
            ctx: (&*sink as *const LogSink).cast::<c_void>(),
            log: host_log,
        });
        let bytes = config.encode_to_vec();
        let mut handle: *mut c_void = std::ptr::null_mut();
        let mut out = CxmBuf::EMPTY;
        let status = (self.functions.open)(slice(&bytes), &*host, &mut handle, &mut out);
        take_empty(self.functions, status, out)?;
        if handle.is_null() {
            return Err(CallError::Protocol("`open` succeeded but returned no instance".to_owned()));
        }
        Ok(Instance { functions: self.functions, handle, _host: host, _sink: sink })
    }
}

struct LogSink(LogFn);

extern "C" fn host_log(ctx: *const c_void, level: u32, message: CxmSlice) {
    let _ = std::panic::catch_unwind(|| {
        // SAFETY: `ctx` is the `LogSink` owned by the `Instance` this host struct belongs to,
        // alive until after `close`.
        #[allow(unsafe_code)]
        let Some(sink) = (unsafe { ctx.cast::<LogSink>().as_ref() }) else {
            return;
        };
        let bytes = if message.ptr.is_null() {
            &[][..]
        } else {
            // SAFETY: the plugin lends `len` readable bytes for the duration of the call.
            #[allow(unsafe_code)]
            unsafe {
                std::slice::from_raw_parts(message.ptr, message.len)
            }
        };
        (sink.0)(level, &String::from_utf8_lossy(bytes));
    });
}

fn slice(bytes: &[u8]) -> CxmSlice {
    CxmSlice { ptr: bytes.as_ptr(), len: bytes.len() }
}

/// Copies a returned buffer of at most `max_bytes` and hands it back to the plugin.
fn copy_and_free(functions: Functions, out: CxmBuf, max_bytes: usize) -> Result<Vec<u8>, CallError> {
    if out.ptr.is_null() || out.len == 0 {
        if !out.ptr.is_null() {
            (functions.free_buf)(out);
        }
        return Ok(Vec::new());
    }
    if out.len > max_bytes {
        (functions.free_buf)(out);
        return Err(CallError::Protocol(format!(
            "the plugin returned a page of {} bytes ({:.1} MiB); a page may be at most {} bytes ({} MiB)",
            out.len,
            out.len as f64 / 1_048_576.0,
            max_bytes,
            max_bytes / 1_048_576
        )));
    }
    // SAFETY: the plugin returned `len` readable bytes at `ptr`, owned by it until `free_buf`.
    #[allow(unsafe_code)]
    let bytes = unsafe { std::slice::from_raw_parts(out.ptr, out.len) }.to_vec();
    (functions.free_buf)(out);
    Ok(bytes)
}

fn take<M: Message + Default>(functions: Functions, status: i32, out: CxmBuf, max: usize) -> Result<M, CallError> {
    let bytes = copy_and_free(functions, out, max)?;
    match status {
        CXM_OK => M::decode(bytes.as_slice()).map_err(|e| {
            CallError::Protocol(format!("the plugin returned {} bytes that do not decode as a reply: {e}", bytes.len()))
        }),
        CXM_ERROR => Err(error_of(&bytes)),
        other => Err(CallError::Protocol(format!("the plugin returned unknown status {other}"))),
    }
}

fn take_empty(functions: Functions, status: i32, out: CxmBuf) -> Result<(), CallError> {
    let bytes = copy_and_free(functions, out, usize::MAX)?;
    match status {
        CXM_OK => Ok(()),
        CXM_ERROR => Err(error_of(&bytes)),
        other => Err(CallError::Protocol(format!("the plugin returned unknown status {other}"))),
    }
}

fn error_of(bytes: &[u8]) -> CallError {
    match PluginError::decode(bytes) {
        Ok(e) => CallError::Plugin(e),
        Err(e) => CallError::Protocol(format!("the plugin reported an error that does not decode: {e}")),
    }
}

/// An open plugin instance; closed when dropped.
pub struct Instance {
    functions: Functions,
    handle: *mut c_void,
    _host: Box<CxmHost>,
    _sink: Box<LogSink>,
}

// SAFETY: the ABI requires an instance to be usable from any thread, one call at a time; `Instance`
// is not `Sync` and `pull` takes `&mut self`, so calls never overlap.
#[allow(unsafe_code)]
unsafe impl Send for Instance {}

impl Instance {
    /// Pulls one page of at most `max_bytes` encoded bytes (a larger one is a
    /// [`CallError::Protocol`] naming both sizes).
    pub fn pull(&mut self, request: &PullRequest, max_bytes: usize) -> Result<PullResponse, CallError> {
        let bytes = self.pull_encoded(request, max_bytes)?;
        PullResponse::decode(bytes.as_slice()).map_err(|e| {
            CallError::Protocol(format!("the plugin returned {} bytes that do not decode as a reply: {e}", bytes.len()))
        })
    }

    /// Pulls one page and returns it as the plugin encoded it, not decoded (the plugin host
    /// passes it on as is; `cxmd` decodes it once).
    pub fn pull_encoded(&mut self, request: &PullRequest, max_bytes: usize) -> Result<Vec<u8>, CallError> {
        let bytes = request.encode_to_vec();
        let mut out = CxmBuf::EMPTY;
        let status = (self.functions.pull)(self.handle, slice(&bytes), &mut out);
        let bytes = copy_and_free(self.functions, out, max_bytes)?;
        match status {
            CXM_OK => Ok(bytes),
            CXM_ERROR => Err(error_of(&bytes)),
            other => Err(CallError::Protocol(format!("the plugin returned unknown status {other}"))),
        }
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        (self.functions.close)(self.handle);
    }
}
