//! The C ABI between `cxmd` and a plugin library (mirrored by `include/cxm_plugin.h`).
//!
//! A plugin exports one function per ABI major version, [`ENTRY_SYMBOL`], returning a pointer to
//! a static [`CxmPluginVTable`]. The host reads the header fields (`abi_major`, `abi_minor`,
//! `size`) first and refuses a plugin whose major differs from [`ABI_MAJOR`] or whose table is
//! smaller than this version's.
//!
//! Payloads are protobuf-encoded `cx.v1` messages:
//! - `info(out)` → `PluginInfo`;
//! - `open(config: PluginConfig, host, &instance, out)` → nothing on success;
//! - `pull(instance, request: PullRequest, out)` → `PullResponse`;
//! - on failure (status [`CXM_ERROR`]) `out` holds a `PluginError`.
//!
//! Ownership: the host passes borrowed [`CxmSlice`]s, valid only for the call. The plugin
//! returns [`CxmBuf`]s it allocated; the host hands each back to the plugin's `free_buf` exactly
//! once. An instance made by `open` is released by `close`, exactly once. The host never unloads
//! a library while the process runs.

use std::ffi::c_void;

/// The ABI major version: a plugin with another major is refused.
pub const ABI_MAJOR: u32 = 1;
/// The ABI minor version: additions that older hosts can ignore.
pub const ABI_MINOR: u32 = 0;
/// The entry symbol of ABI major 1, NUL-terminated.
pub const ENTRY_SYMBOL: &[u8] = b"cxm_plugin_entry_v1\0";

/// Success: `out` holds the call's result message.
pub const CXM_OK: i32 = 0;
/// Failure: `out` holds a `PluginError`.
pub const CXM_ERROR: i32 = 1;

/// Bytes lent by the caller for the duration of one call.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct CxmSlice {
    /// First byte; may be null when `len` is 0.
    pub ptr: *const u8,
    /// Number of bytes.
    pub len: usize,
}

/// Bytes allocated by the plugin and handed to the host, who returns them to `free_buf`.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct CxmBuf {
    /// First byte; may be null when `len` is 0.
    pub ptr: *mut u8,
    /// Number of bytes.
    pub len: usize,
}

impl CxmBuf {
    /// An empty buffer (nothing to free).
    pub const EMPTY: Self = Self { ptr: std::ptr::null_mut(), len: 0 };
}

/// Severity of a plugin log line.
pub mod level {
    /// Error.
    pub const ERROR: u32 = 1;
    /// Warning.
    pub const WARN: u32 = 2;
    /// Information.
    pub const INFO: u32 = 3;
    /// Debug detail.
    pub const DEBUG: u32 = 4;
}

/// What the host lends a plugin instance: a logging callback. Valid from `open` until `close`.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct CxmHost {
    /// `sizeof(CxmHost)` as the host knows it.
    pub size: usize,
    /// Opaque host context, passed back to `log`.
    pub ctx: *const c_void,
    /// Writes one log line (UTF-8) into the server's log under the connector's name.
    /// Callable from any thread.
    pub log: extern "C" fn(ctx: *const c_void, level: u32, message: CxmSlice),
}

/// The plugin's function table.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct CxmPluginVTable {
    /// ABI major version the plugin was built against.
    pub abi_major: u32,
    /// ABI minor version the plugin was built against.
    pub abi_minor: u32,
    /// `sizeof(CxmPluginVTable)` as the plugin knows it.
    pub size: usize,
    /// Describes the plugin: writes a `PluginInfo` to `out`. A table with any function missing
    /// (NULL) is refused at load.
    pub info: Option<extern "C" fn(out: *mut CxmBuf) -> i32>,
    /// Opens an instance with a `PluginConfig`; sets `*instance`.
    pub open: Option<
        extern "C" fn(config: CxmSlice, host: *const CxmHost, instance: *mut *mut c_void, out: *mut CxmBuf) -> i32,
    >,
    /// Pulls one page: `PullRequest` in, `PullResponse` to `out`.
    pub pull: Option<extern "C" fn(instance: *mut c_void, request: CxmSlice, out: *mut CxmBuf) -> i32>,
    /// Releases an instance.
    pub close: Option<extern "C" fn(instance: *mut c_void)>,
    /// Frees a buffer the plugin returned.
    pub free_buf: Option<extern "C" fn(buf: CxmBuf)>,
}

/// The leading fields every version of the table starts with; read before anything else.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct CxmPluginHeader {
    /// ABI major version.
    pub abi_major: u32,
    /// ABI minor version.
    pub abi_minor: u32,
    /// Size of the whole table.
    pub size: usize,
}

/// The signature of the entry symbol.
pub type EntryFn = extern "C" fn() -> *const CxmPluginVTable;
