//! The host side: finding, loading and calling plugin libraries (feature `host`).
//!
//! Libraries are opened with `RTLD_NOW | RTLD_LOCAL` and never unloaded. Every call result is
//! checked: a status other than OK/ERROR, or bytes that do not decode, become a [`CallError`].

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
    /// The plugin broke the ABI: bad bytes or an unknown status.
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

/// A loaded plugin library.
#[derive(Debug)]
pub struct Library {
    vtable: &'static CxmPluginVTable,
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
    let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
        return false;
    };
    let stem = name.strip_prefix(std::env::consts::DLL_PREFIX).unwrap_or(name);
    stem.starts_with("cxm_plugin_") && name.ends_with(std::env::consts::DLL_SUFFIX)
}

#[cfg(unix)]
fn open_library(path: &Path) -> Result<libloading::Library, libloading::Error> {
    use libloading::os::unix::{Library, RTLD_LOCAL, RTLD_NOW};
    // SAFETY: loading a library runs its initialisers; plugins are trusted code that the
    // operator placed in a plugin directory. RTLD_LOCAL keeps its symbols out of the global scope.
    #[allow(unsafe_code)]
    let library = unsafe { Library::open(Some(path), RTLD_NOW | RTLD_LOCAL) }?;
    Ok(library.into())
}

#[cfg(not(unix))]
fn open_library(path: &Path) -> Result<libloading::Library, libloading::Error> {
    // SAFETY: as above: plugins are trusted code placed in a plugin directory.
    #[allow(unsafe_code)]
    unsafe {
        libloading::Library::new(path)
    }
}

impl Library {
    /// Loads a plugin library and checks its ABI version and table size before using it.
    pub fn load(path: &Path) -> Result<Self, LoadError> {
        let library = open_library(path).map_err(|e| LoadError(format!("not a loadable library: {e}")))?;
        // The library is never unloaded: plugin code and statics stay valid for the process.
        let library: &'static libloading::Library = Box::leak(Box::new(library));
        let symbol = String::from_utf8_lossy(&abi::ENTRY_SYMBOL[..abi::ENTRY_SYMBOL.len() - 1]).into_owned();
        // SAFETY: the symbol, if present, has the `EntryFn` signature by the ABI's definition.
        #[allow(unsafe_code)]
        let entry = unsafe { library.get::<EntryFn>(abi::ENTRY_SYMBOL) }.map_err(|_| {
            LoadError(format!("no entry symbol `{symbol}`: not a cxm plugin of ABI {}.x", abi::ABI_MAJOR))
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
        // so it is a valid `CxmPluginVTable` in static storage of a never-unloaded library.
        #[allow(unsafe_code)]
        let vtable: &'static CxmPluginVTable = unsafe { &*table };
        let mut out = CxmBuf::EMPTY;
        let status = (vtable.info)(&mut out);
        let info: PluginInfo = take(vtable, status, out).map_err(|e| LoadError(format!("`info` failed: {e}")))?;
        if info.name.is_empty() {
            return Err(LoadError("the plugin's info has no name".to_owned()));
        }
        Ok(Self {
            vtable,
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
        let status = (self.vtable.open)(slice(&bytes), &*host, &mut handle, &mut out);
        take_empty(self.vtable, status, out)?;
        if handle.is_null() {
            return Err(CallError::Protocol("`open` succeeded but returned no instance".to_owned()));
        }
        Ok(Instance { vtable: self.vtable, handle, _host: host, _sink: sink })
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

/// Copies a returned buffer and hands it back to the plugin.
fn copy_and_free(vtable: &CxmPluginVTable, out: CxmBuf) -> Vec<u8> {
    if out.ptr.is_null() || out.len == 0 {
        if !out.ptr.is_null() {
            (vtable.free_buf)(out);
        }
        return Vec::new();
    }
    // SAFETY: the plugin returned `len` readable bytes at `ptr`, owned by it until `free_buf`.
    #[allow(unsafe_code)]
    let bytes = unsafe { std::slice::from_raw_parts(out.ptr, out.len) }.to_vec();
    (vtable.free_buf)(out);
    bytes
}

fn take<M: Message + Default>(vtable: &CxmPluginVTable, status: i32, out: CxmBuf) -> Result<M, CallError> {
    let bytes = copy_and_free(vtable, out);
    match status {
        CXM_OK => M::decode(bytes.as_slice()).map_err(|e| {
            CallError::Protocol(format!("the plugin returned {} bytes that do not decode as a reply: {e}", bytes.len()))
        }),
        CXM_ERROR => Err(error_of(&bytes)),
        other => Err(CallError::Protocol(format!("the plugin returned unknown status {other}"))),
    }
}

fn take_empty(vtable: &CxmPluginVTable, status: i32, out: CxmBuf) -> Result<(), CallError> {
    let bytes = copy_and_free(vtable, out);
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
    vtable: &'static CxmPluginVTable,
    handle: *mut c_void,
    _host: Box<CxmHost>,
    _sink: Box<LogSink>,
}

// SAFETY: the ABI requires an instance to be usable from any thread, one call at a time; `Instance`
// is not `Sync` and `pull` takes `&mut self`, so calls never overlap.
#[allow(unsafe_code)]
unsafe impl Send for Instance {}

impl Instance {
    /// Pulls one page.
    pub fn pull(&mut self, request: &PullRequest) -> Result<PullResponse, CallError> {
        let bytes = request.encode_to_vec();
        let mut out = CxmBuf::EMPTY;
        let status = (self.vtable.pull)(self.handle, slice(&bytes), &mut out);
        take(self.vtable, status, out)
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        (self.vtable.close)(self.handle);
    }
}

/// Loads every plugin file in `dirs`: the plugins, and the files that failed with why.
/// A second plugin with a name already loaded is a failure too.
pub fn discover(dirs: &[PathBuf]) -> (Vec<Library>, Vec<(PathBuf, LoadError)>) {
    let mut loaded: Vec<Library> = Vec::new();
    let mut failed = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for dir in dirs {
        let Ok(entries) = std::fs::read_dir(dir) else {
            continue;
        };
        let mut paths: Vec<PathBuf> =
            entries.filter_map(|e| e.ok().map(|e| e.path())).filter(|p| is_plugin_file(p)).collect();
        paths.sort();
        for path in paths {
            if !seen.insert(path.canonicalize().unwrap_or_else(|_| path.clone())) {
                continue;
            }
            match Library::load(&path) {
                Ok(library) => match loaded.iter().find(|l| l.info.name == library.info.name) {
                    Some(first) => failed.push((
                        path,
                        LoadError(format!(
                            "a plugin named {:?} was already loaded from {}",
                            first.info.name,
                            first.path.display()
                        )),
                    )),
                    None => {
                        tracing::info!(plugin = %library.info.name, path = %library.path.display(), "plugin loaded");
                        loaded.push(library);
                    }
                },
                Err(e) => {
                    tracing::warn!(path = %path.display(), reason = %e, "plugin not loaded");
                    failed.push((path, e));
                }
            }
        }
    }
    loaded.sort_by(|a, b| a.info.name.cmp(&b.info.name));
    (loaded, failed)
}
