//! The plugin host process (feature `host`): what runs in the child process `cxmd` starts for
//! each sync, configuration check and plugin listing. It loads one plugin library and answers
//! `HostRequest`s read from stdin with `HostReply`s written to the original stdout, each
//! length-delimited ([`crate::frame`]). The plugin's own writes to stdout go to stderr, so they
//! cannot corrupt the protocol. See docs/plugins.md, "The plugin host".
//!
//! Before loading, the host asks the kernel to kill it when its parent dies
//! (`PR_SET_PDEATHSIG`, Linux) and limits its address space (`RLIMIT_AS`) to the configured
//! plugin memory.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;
use std::sync::{Arc, Mutex, PoisonError};

use cxm_proto::v1::host_reply::Reply;
use cxm_proto::v1::host_request::Request;
use cxm_proto::v1::{HostLoaded, HostLog, HostReply, HostRequest};

use crate::frame;
use crate::host::{CallError, Instance, Library, LogFn};

/// The field number of `HostReply.page`.
const PAGE_FIELD: u32 = 3;

/// The largest request cxmd sends (a configuration or a cursor), in bytes.
const MAX_REQUEST_BYTES: usize = 64 * 1024 * 1024;

type Channel = Arc<Mutex<Box<dyn Write + Send>>>;

fn send(out: &Channel, reply: Reply) -> std::io::Result<()> {
    let mut out = out.lock().unwrap_or_else(PoisonError::into_inner);
    frame::write(&mut *out, &HostReply { reply: Some(reply) })
}

fn call_reply(error: CallError) -> Reply {
    match error {
        CallError::Plugin(e) => Reply::Error(e),
        CallError::Protocol(message) => Reply::Failure(message),
    }
}

/// Runs the plugin host on this process's stdin and stdout until stdin ends. Call it first
/// thing in `main`, before any thread starts.
pub fn serve() -> ExitCode {
    os::die_with_parent();
    let out: Channel = match os::protocol_stdout() {
        Ok(out) => Arc::new(Mutex::new(out)),
        Err(e) => {
            eprintln!("plugin host: cannot set up its output: {e}");
            return ExitCode::FAILURE;
        }
    };
    let mut input = std::io::BufReader::new(std::io::stdin().lock());
    let mut library: Option<Library> = None;
    let mut instance: Option<Instance> = None;
    let mut max_page_bytes = usize::MAX;
    loop {
        let request = match frame::read::<HostRequest>(&mut input, MAX_REQUEST_BYTES) {
            Ok(Some(request)) => request,
            Ok(None) => return ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("plugin host: bad request: {e}");
                return ExitCode::FAILURE;
            }
        };
        let reply = match (request.request, &library) {
            (Some(Request::Load(load)), None) => {
                if let Err(e) = os::limit_memory(load.memory_limit_mb) {
                    eprintln!("plugin host: cannot limit memory to {} MiB: {e}", load.memory_limit_mb);
                }
                if load.max_page_bytes > 0 {
                    max_page_bytes = usize::try_from(load.max_page_bytes).unwrap_or(usize::MAX);
                }
                match Library::load(Path::new(&load.path)) {
                    Ok(loaded) => {
                        let reply = Reply::Loaded(HostLoaded {
                            info: Some(loaded.info.clone()),
                            abi_version: loaded.abi_version.clone(),
                        });
                        library = Some(loaded);
                        reply
                    }
                    Err(e) => Reply::Failure(e.0),
                }
            }
            (Some(Request::Open(config)), Some(loaded)) if instance.is_none() => {
                let log_out = Arc::clone(&out);
                let log: LogFn = Box::new(move |level, line| {
                    let _ = send(&log_out, Reply::Log(HostLog { level, line: line.to_owned() }));
                });
                match loaded.open(&config, log) {
                    Ok(opened) => {
                        instance = Some(opened);
                        Reply::Opened(loaded.info.clone())
                    }
                    Err(e) => call_reply(e),
                }
            }
            (Some(Request::Pull(pull)), Some(_)) => match &mut instance {
                // The page goes on as the plugin encoded it: cxmd decodes (and checks) it once.
                Some(open) => match open.pull_encoded(&pull, max_page_bytes) {
                    Ok(page) => {
                        let mut out = out.lock().unwrap_or_else(PoisonError::into_inner);
                        if frame::write_field(&mut *out, PAGE_FIELD, &page).is_err() {
                            return ExitCode::FAILURE;
                        }
                        continue;
                    }
                    Err(e) => call_reply(e),
                },
                None => Reply::Failure("pull before open".to_owned()),
            },
            _ => Reply::Failure("request out of order: load once, open once, then pull".to_owned()),
        };
        if send(&out, reply).is_err() {
            return ExitCode::FAILURE;
        }
    }
}

#[cfg(unix)]
mod os {
    use std::io::Write;
    use std::os::fd::FromRawFd;

    /// Asks the kernel to SIGKILL this process when the thread that started it exits (Linux).
    /// A parent gone before this call closed our stdin, so the read loop ends at once.
    pub(super) fn die_with_parent() {
        // SAFETY: prctl with PR_SET_PDEATHSIG takes a signal number and changes only this
        // process's own death signal.
        #[cfg(target_os = "linux")]
        #[allow(unsafe_code)]
        unsafe {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
        }
    }

    /// A private copy of stdout for the protocol; file descriptor 1 then points at stderr, so
    /// what the plugin prints cannot corrupt the protocol.
    pub(super) fn protocol_stdout() -> std::io::Result<Box<dyn Write + Send>> {
        // SAFETY: dup on the process's own stdout descriptor; the result is checked.
        #[allow(unsafe_code)]
        let copy = unsafe { libc::dup(libc::STDOUT_FILENO) };
        if copy < 0 {
            return Err(std::io::Error::last_os_error());
        }
        // SAFETY: dup2 of stderr onto stdout, both descriptors of this process; checked.
        #[allow(unsafe_code)]
        if unsafe { libc::dup2(libc::STDERR_FILENO, libc::STDOUT_FILENO) } < 0 {
            return Err(std::io::Error::last_os_error());
        }
        // SAFETY: `copy` is a fresh descriptor owned by nothing else; the File takes it over.
        #[allow(unsafe_code)]
        let file = unsafe { std::fs::File::from_raw_fd(copy) };
        Ok(Box::new(std::io::BufWriter::new(file)))
    }

    /// Limits this process's address space to `mb` MiB (0: no limit).
    pub(super) fn limit_memory(mb: u64) -> std::io::Result<()> {
        if mb == 0 {
            return Ok(());
        }
        let bytes = mb.saturating_mul(1024 * 1024);
        let limit = libc::rlimit { rlim_cur: bytes as libc::rlim_t, rlim_max: bytes as libc::rlim_t };
        // SAFETY: setrlimit reads the struct we pass and changes this process's own limit.
        #[allow(unsafe_code)]
        if unsafe { libc::setrlimit(libc::RLIMIT_AS, &limit) } != 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(())
    }
}

#[cfg(not(unix))]
mod os {
    use std::io::Write;

    pub(super) fn die_with_parent() {}

    pub(super) fn protocol_stdout() -> std::io::Result<Box<dyn Write + Send>> {
        Ok(Box::new(std::io::stdout()))
    }

    pub(super) fn limit_memory(_mb: u64) -> std::io::Result<()> {
        Ok(())
    }
}
