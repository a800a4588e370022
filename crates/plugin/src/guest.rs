//! The plugin side of the boundary: the safe [`Plugin`] trait and the glue
//! [`export_plugin!`](crate::export_plugin) puts behind the C functions.

use std::ffi::c_void;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, PoisonError, RwLock};

use cxm_proto::v1::{ConfigKey, PluginConfig, PluginError, PluginErrorCode, PluginInfo, PullRequest, PullResponse};
use prost::Message;

use crate::abi::{self, CXM_ERROR, CXM_OK, CxmBuf, CxmHost, CxmPluginVTable, CxmSlice};

/// A connector plugin: describes itself, opens with a configuration, pulls pages from a cursor.
///
/// One instance serves one sync of one connector; the host calls it from one thread at a time.
pub trait Plugin: Sized + Send + 'static {
    /// Name, kind, version, description and configuration keys.
    fn describe() -> PluginInfo;

    /// Checks the configuration and prepares an instance. Do no network I/O here: the host
    /// also opens a plugin to validate a connector's configuration when it is created.
    fn open(config: &PluginConfig, log: Logger) -> Result<Self, PluginError>;

    /// Pulls the page after `request.cursor` (empty: from the beginning). The host stores the
    /// page's events and `next_cursor` together, so returning the same page again after a crash
    /// only yields duplicates.
    fn pull(&mut self, request: &PullRequest) -> Result<PullResponse, PluginError>;
}

/// Writes lines into the server's log, tagged with the connector's name.
///
/// Clone it freely, into other threads too: once the instance it was given to is closed, its
/// lines are dropped instead of reaching a host callback that no longer exists.
#[derive(Clone)]
pub struct Logger {
    target: Option<Arc<LogTarget>>,
}

/// The host's logging callback while the instance lives; `None` after `close`.
struct LogTarget {
    host: RwLock<Option<CxmHost>>,
}

// SAFETY: the ABI requires the host's `log` callback and its `ctx` to be callable from any thread
// until `close`; `close` clears `host` under the write lock, so no call starts afterwards and none
// is in flight when it returns.
#[allow(unsafe_code)]
unsafe impl Send for LogTarget {}
// SAFETY: as above; `log` takes its context by shared pointer and synchronises internally.
#[allow(unsafe_code)]
unsafe impl Sync for LogTarget {}

impl LogTarget {
    fn close(&self) {
        *self.host.write().unwrap_or_else(PoisonError::into_inner) = None;
    }
}

impl Logger {
    /// A logger that drops every line (for unit tests of a plugin).
    pub fn discard() -> Self {
        Self { target: None }
    }

    fn write(&self, level: u32, message: &str) {
        let Some(target) = &self.target else { return };
        let host = target.host.read().unwrap_or_else(PoisonError::into_inner);
        if let Some(host) = &*host {
            (host.log)(host.ctx, level, CxmSlice { ptr: message.as_ptr(), len: message.len() });
        }
    }

    /// Logs at error level.
    pub fn error(&self, message: &str) {
        self.write(abi::level::ERROR, message);
    }

    /// Logs at warning level.
    pub fn warn(&self, message: &str) {
        self.write(abi::level::WARN, message);
    }

    /// Logs at info level.
    pub fn info(&self, message: &str) {
        self.write(abi::level::INFO, message);
    }

    /// Logs at debug level.
    pub fn debug(&self, message: &str) {
        self.write(abi::level::DEBUG, message);
    }
}

/// A configuration key for [`Plugin::describe`].
pub fn config_key(name: &str, required: bool, secret: bool, default: &str, description: &str) -> ConfigKey {
    ConfigKey { name: name.into(), required, secret, description: description.into(), default_value: default.into() }
}

/// A `PluginError` with a code and message.
pub fn error(code: PluginErrorCode, message: impl Into<String>) -> PluginError {
    PluginError { code: code as i32, message: message.into() }
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    let text = payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".to_owned());
    format!("the plugin panicked: {text}")
}

fn into_buf(bytes: Vec<u8>) -> CxmBuf {
    let boxed = bytes.into_boxed_slice();
    let len = boxed.len();
    CxmBuf { ptr: Box::into_raw(boxed).cast::<u8>(), len }
}

/// Runs `body`, catching panics, and writes its result or error to `out`.
fn guard(out: *mut CxmBuf, body: impl FnOnce() -> Result<Vec<u8>, PluginError>) -> i32 {
    let (status, bytes) = match catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(bytes)) => (CXM_OK, bytes),
        Ok(Err(e)) => (CXM_ERROR, e.encode_to_vec()),
        Err(payload) => (CXM_ERROR, error(PluginErrorCode::Panic, panic_message(&*payload)).encode_to_vec()),
    };
    if out.is_null() {
        return CXM_ERROR;
    }
    // SAFETY: the host passes a valid, writable `CxmBuf` for the duration of the call.
    #[allow(unsafe_code)]
    unsafe {
        out.write(into_buf(bytes));
    }
    status
}

fn borrowed<'a>(slice: CxmSlice) -> &'a [u8] {
    if slice.ptr.is_null() || slice.len == 0 {
        return &[];
    }
    // SAFETY: the host lends `len` readable bytes at `ptr` for the duration of the call, and the
    // returned slice does not outlive it (callers decode it immediately).
    #[allow(unsafe_code)]
    unsafe {
        std::slice::from_raw_parts(slice.ptr, slice.len)
    }
}

fn decode<M: Message + Default>(slice: CxmSlice, what: &str) -> Result<M, PluginError> {
    M::decode(borrowed(slice))
        .map_err(|e| error(PluginErrorCode::Internal, format!("the host sent a {what} that does not decode: {e}")))
}

/// An open instance: the plugin and the logging target its loggers share.
struct Hosted<P> {
    plugin: P,
    log: Arc<LogTarget>,
}

extern "C" fn info<P: Plugin>(out: *mut CxmBuf) -> i32 {
    guard(out, || Ok(P::describe().encode_to_vec()))
}

extern "C" fn open<P: Plugin>(
    config: CxmSlice,
    host: *const CxmHost,
    instance: *mut *mut c_void,
    out: *mut CxmBuf,
) -> i32 {
    guard(out, || {
        let config: PluginConfig = decode(config, "PluginConfig")?;
        // SAFETY: the host passes either null or a `CxmHost` valid until `close`; we copy it.
        #[allow(unsafe_code)]
        let host = unsafe { host.as_ref() }.copied();
        let target = Arc::new(LogTarget { host: RwLock::new(host) });
        let plugin = match P::open(&config, Logger { target: Some(Arc::clone(&target)) }) {
            Ok(plugin) => plugin,
            Err(e) => {
                target.close();
                return Err(e);
            }
        };
        if instance.is_null() {
            return Err(error(PluginErrorCode::Internal, "the host passed no instance slot"));
        }
        // SAFETY: `instance` is a valid, writable pointer slot for the call (checked non-null).
        #[allow(unsafe_code)]
        unsafe {
            instance.write(Box::into_raw(Box::new(Hosted { plugin, log: target })).cast::<c_void>());
        }
        Ok(Vec::new())
    })
}

extern "C" fn pull<P: Plugin>(instance: *mut c_void, request: CxmSlice, out: *mut CxmBuf) -> i32 {
    guard(out, || {
        let request: PullRequest = decode(request, "PullRequest")?;
        // SAFETY: `instance` came from `open::<P>` (a `Box<Hosted<P>>`), is not yet closed, and the
        // host calls it from one thread at a time, so this is the only reference.
        #[allow(unsafe_code)]
        let hosted = unsafe { instance.cast::<Hosted<P>>().as_mut() }
            .ok_or_else(|| error(PluginErrorCode::Internal, "the host passed a null instance"))?;
        Ok(hosted.plugin.pull(&request)?.encode_to_vec())
    })
}

extern "C" fn close<P: Plugin>(instance: *mut c_void) {
    if instance.is_null() {
        return;
    }
    // SAFETY: `instance` came from `Box::into_raw` in `open::<P>` and the host closes it exactly
    // once.
    #[allow(unsafe_code)]
    let Hosted { plugin, log } = *unsafe { Box::from_raw(instance.cast::<Hosted<P>>()) };
    let _ = catch_unwind(AssertUnwindSafe(|| drop(plugin)));
    // Loggers the plugin kept (in other threads, say) go quiet from here on.
    log.close();
}

extern "C" fn free_buf(buf: CxmBuf) {
    if buf.ptr.is_null() {
        return;
    }
    // SAFETY: `buf` was made by `into_buf` (a leaked `Box<[u8]>` of `len` bytes) and the host
    // returns each buffer exactly once.
    #[allow(unsafe_code)]
    drop(unsafe { Box::from_raw(std::ptr::slice_from_raw_parts_mut(buf.ptr, buf.len)) });
}

/// The function table of plugin `P` (used by [`export_plugin!`](crate::export_plugin)).
pub const fn vtable<P: Plugin>() -> CxmPluginVTable {
    CxmPluginVTable {
        abi_major: abi::ABI_MAJOR,
        abi_minor: abi::ABI_MINOR,
        size: std::mem::size_of::<CxmPluginVTable>(),
        info: Some(info::<P>),
        open: Some(open::<P>),
        pull: Some(pull::<P>),
        close: Some(close::<P>),
        free_buf: Some(free_buf),
    }
}

/// Exports a [`Plugin`] as a cxm plugin library: defines the entry symbol
/// `cxm_plugin_entry_v1` returning its function table. Use once, in a `cdylib` crate.
#[macro_export]
macro_rules! export_plugin {
    ($plugin:ty) => {
        /// The cxm plugin entry point (ABI major 1).
        #[allow(unsafe_code)]
        #[unsafe(no_mangle)]
        pub extern "C" fn cxm_plugin_entry_v1() -> *const $crate::abi::CxmPluginVTable {
            static VTABLE: $crate::abi::CxmPluginVTable = $crate::guest::vtable::<$plugin>();
            &VTABLE
        }
    };
}

#[cfg(test)]
mod tests {
    use std::ffi::c_void;
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use cxm_proto::v1::{PluginConfig, PluginError, PluginInfo, PullRequest, PullResponse};

    use super::{Logger, Plugin, vtable};
    use crate::abi::{CXM_OK, CxmBuf, CxmHost, CxmSlice};

    static LINES: AtomicUsize = AtomicUsize::new(0);
    static KEPT: Mutex<Option<Logger>> = Mutex::new(None);

    /// A plugin that keeps a clone of its logger beyond its own life.
    struct Keeper;

    impl Plugin for Keeper {
        fn describe() -> PluginInfo {
            PluginInfo::default()
        }

        fn open(_: &PluginConfig, log: Logger) -> Result<Self, PluginError> {
            log.info("opened");
            *KEPT.lock().unwrap() = Some(log);
            Ok(Self)
        }

        fn pull(&mut self, _: &PullRequest) -> Result<PullResponse, PluginError> {
            Ok(PullResponse::default())
        }
    }

    extern "C" fn count(_: *const c_void, _: u32, _: CxmSlice) {
        LINES.fetch_add(1, Ordering::SeqCst);
    }

    #[test]
    fn a_logger_kept_after_close_goes_quiet_instead_of_calling_the_host() {
        let table = vtable::<Keeper>();
        let host = CxmHost { size: std::mem::size_of::<CxmHost>(), ctx: std::ptr::null(), log: count };
        let mut instance: *mut c_void = std::ptr::null_mut();
        let mut out = CxmBuf::EMPTY;
        let config = CxmSlice { ptr: std::ptr::null(), len: 0 };
        assert_eq!(table.open.unwrap()(config, &host, &mut instance, &mut out), CXM_OK);
        table.free_buf.unwrap()(out);
        assert_eq!(LINES.load(Ordering::SeqCst), 1);
        let kept = KEPT.lock().unwrap().take().unwrap();
        let clone = kept.clone();
        std::thread::spawn(move || clone.info("from another thread while open")).join().unwrap();
        assert_eq!(LINES.load(Ordering::SeqCst), 2);
        table.close.unwrap()(instance);
        std::thread::spawn(move || kept.info("after close")).join().unwrap();
        assert_eq!(LINES.load(Ordering::SeqCst), 2, "a line after close must not reach the host");
    }
}
