//! The server's side of a plugin host: a child process (`cxmd` re-executed with
//! [`HOST_ARG`]) that loads one plugin library and answers length-delimited `cx.v1` messages
//! over its stdin and stdout (docs/plugins.md, "The plugin host"). Whatever the plugin does —
//! crash, abort, run out of memory, hang — happens in the child; here it becomes a
//! [`HostError`] naming what happened.

use std::collections::VecDeque;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

use cxm_plugin::frame;
use cxm_proto::v1::host_reply::Reply;
use cxm_proto::v1::host_request::Request;
use cxm_proto::v1::{
    HostLoad, HostLoaded, HostReply, HostRequest, PluginConfig, PluginError, PullRequest, PullResponse,
};
use prost::Message as _;

use crate::lock;

/// The argument that turns `cxmd` into a plugin host (hidden; see `cxm_plugin::hosted`).
pub const HOST_ARG: &str = "__plugin-host";

/// The largest encoded page a plugin may return, in bytes (16 MiB, like an `Ingest` request).
pub const MAX_PAGE_BYTES: u64 = 16 * 1024 * 1024;

/// Room for the reply's own framing around a page of [`MAX_PAGE_BYTES`].
const FRAME_SLACK: usize = 64 * 1024;

/// Lines of the host's stderr kept to explain a crash.
const STDERR_LINES: usize = 20;

/// The end of a host's stderr, kept to explain a crash.
#[derive(Default)]
struct Tail {
    lines: VecDeque<String>,
    /// A line said an allocation failed — remembered even when a long backtrace
    /// (`RUST_BACKTRACE=1`) pushed it out of `lines`.
    out_of_memory: bool,
}

impl Tail {
    /// Keeps `line` (dropping the oldest past [`STDERR_LINES`]) and notes an allocation failure.
    fn push(&mut self, line: String) {
        self.out_of_memory |= says_out_of_memory(&line);
        if self.lines.len() == STDERR_LINES {
            self.lines.pop_front();
        }
        self.lines.push_back(line);
    }
}

/// Whether a line of stderr says that an allocation failed.
fn says_out_of_memory(line: &str) -> bool {
    line.contains("memory allocation of") || line.contains("out of memory") || line.contains("Cannot allocate memory")
}

/// Where a plugin host's log lines go: `(level, line)`; level 0 is a line of its stderr.
pub(crate) type HostLog = Arc<dyn Fn(u32, &str) + Send + Sync>;

/// How plugin hosts are started.
#[derive(Debug, Clone)]
pub struct HostSettings {
    /// The program to run: `cxmd` itself (`std::env::current_exe()`).
    pub program: PathBuf,
    /// The address-space limit of each plugin host, in MiB (`--plugin-memory-mb`; 0 = none).
    pub memory_mb: u64,
}

/// Why a call into a plugin host failed.
#[derive(Debug, Clone)]
pub(crate) enum HostError {
    /// The plugin returned an error.
    Plugin(PluginError),
    /// The plugin broke the ABI or did not load: the host's explanation.
    Failure(String),
    /// The host process died: what happened, e.g. `crashed (SIGSEGV)`.
    Died(String),
    /// No answer within the timeout; the host was killed.
    TimedOut(Duration),
    /// The host was stopped on purpose: why (a cancel, cxmd stopping).
    Stopped(String),
}

/// Stops a plugin host from another thread, saying why.
#[derive(Clone)]
pub(crate) struct Killer {
    child: Arc<Mutex<Child>>,
    reason: Arc<Mutex<Option<String>>>,
}

impl Killer {
    /// Kills the host; its pending call ends with [`HostError::Stopped`]`(reason)`.
    pub(crate) fn kill(&self, reason: &str) {
        lock(&self.reason).get_or_insert_with(|| reason.to_owned());
        let _ = lock(&self.child).kill();
    }
}

/// A running plugin host; killed when dropped.
pub(crate) struct HostProcess {
    killer: Killer,
    stdin: Option<ChildStdin>,
    replies: mpsc::Receiver<Reply>,
    stderr: Arc<Mutex<Tail>>,
    /// Disconnects when the host's stderr has been read to its end.
    stderr_done: mpsc::Receiver<()>,
    memory_mb: u64,
}

fn signal_name(signal: i32) -> String {
    let name = match signal {
        4 => "SIGILL",
        6 => "SIGABRT",
        7 => "SIGBUS",
        8 => "SIGFPE",
        9 => "SIGKILL",
        11 => "SIGSEGV",
        13 => "SIGPIPE",
        15 => "SIGTERM",
        31 => "SIGSYS",
        _ => return format!("signal {signal}"),
    };
    name.to_owned()
}

impl HostProcess {
    /// Starts a plugin host; `log(level, line)` receives the plugin's log lines and the host's
    /// stderr (level 0).
    pub(crate) fn spawn(settings: &HostSettings, log: HostLog) -> std::io::Result<Self> {
        // The host is started by, and lives no longer than, the thread that runs this call: the
        // host's PR_SET_PDEATHSIG fires when that thread ends.
        let mut child = Command::new(&settings.program)
            .arg(HOST_ARG)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .env_remove("CXM_CONFIG")
            .spawn()?;
        let stdin = child.stdin.take();
        match Self::listen(&mut child, log) {
            Ok((replies, stderr, stderr_done)) => Ok(Self {
                killer: Killer { child: Arc::new(Mutex::new(child)), reason: Arc::new(Mutex::new(None)) },
                stdin,
                replies,
                stderr,
                stderr_done,
                memory_mb: settings.memory_mb,
            }),
            Err(e) => {
                let _ = child.kill();
                let _ = child.wait();
                Err(e)
            }
        }
    }

    /// Starts the threads that read the host's stdout (replies and log lines) and stderr.
    #[allow(clippy::type_complexity)]
    fn listen(
        child: &mut Child,
        log: HostLog,
    ) -> std::io::Result<(mpsc::Receiver<Reply>, Arc<Mutex<Tail>>, mpsc::Receiver<()>)> {
        let stdout = child.stdout.take().ok_or_else(|| std::io::Error::other("no stdout"))?;
        let stderr = child.stderr.take().ok_or_else(|| std::io::Error::other("no stderr"))?;
        let (send, replies) = mpsc::channel();
        let reader_log = Arc::clone(&log);
        std::thread::Builder::new().name("plugin-host-out".into()).spawn(move || {
            let mut stdout = BufReader::new(stdout);
            let max = usize::try_from(MAX_PAGE_BYTES).unwrap_or(usize::MAX) + FRAME_SLACK;
            loop {
                let bytes = match frame::read_bytes(&mut stdout, max) {
                    Ok(Some(bytes)) => bytes,
                    Ok(None) => return,
                    Err(e) => {
                        let _ = send.send(Reply::Failure(format!("the plugin host's reply is unreadable: {e}")));
                        return;
                    }
                };
                // Pages arrive as the plugin encoded them: this is where they are decoded.
                let reply = match HostReply::decode(bytes.as_slice()) {
                    Ok(HostReply { reply: Some(Reply::Log(line)) }) => {
                        reader_log(line.level, &line.line);
                        continue;
                    }
                    Ok(HostReply { reply: Some(reply) }) => reply,
                    Ok(HostReply { reply: None }) => Reply::Failure("the plugin host sent an empty reply".into()),
                    Err(e) => Reply::Failure(format!(
                        "the plugin returned {} bytes that do not decode as a reply: {e}",
                        bytes.len()
                    )),
                };
                if send.send(reply).is_err() {
                    return;
                }
            }
        })?;
        let tail = Arc::new(Mutex::new(Tail::default()));
        let stderr_tail = Arc::clone(&tail);
        let (stderr_end, stderr_done) = mpsc::channel::<()>();
        std::thread::Builder::new().name("plugin-host-err".into()).spawn(move || {
            let _end = stderr_end;
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                log(0, &line);
                lock(&stderr_tail).push(line);
            }
        })?;
        Ok((replies, tail, stderr_done))
    }

    /// A handle that kills this host from another thread.
    pub(crate) fn killer(&self) -> Killer {
        self.killer.clone()
    }

    /// Sends one request and waits up to `timeout` for its reply.
    fn call(&mut self, request: Request, timeout: Duration) -> Result<Reply, HostError> {
        let sent = match &mut self.stdin {
            Some(stdin) => frame::write(stdin, &HostRequest { request: Some(request) }).is_ok(),
            None => false,
        };
        if !sent {
            return Err(self.died());
        }
        match self.replies.recv_timeout(timeout) {
            Ok(Reply::Failure(message)) => Err(HostError::Failure(message)),
            Ok(Reply::Error(e)) => Err(HostError::Plugin(e)),
            Ok(reply) => Ok(reply),
            Err(mpsc::RecvTimeoutError::Timeout) => {
                let _ = lock(&self.killer.child).kill();
                match lock(&self.killer.reason).clone() {
                    Some(reason) => Err(HostError::Stopped(reason)),
                    None => Err(HostError::TimedOut(timeout)),
                }
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => Err(self.died()),
        }
    }

    /// What became of a host that stopped answering.
    fn died(&mut self) -> HostError {
        if let Some(reason) = lock(&self.killer.reason).clone() {
            return HostError::Stopped(reason);
        }
        // A host that closed its output is exiting; SIGKILL does not change the status of a
        // process already exiting, and ends one that merely closed the pipe.
        let status = {
            let mut child = lock(&self.killer.child);
            let _ = child.kill();
            child.wait()
        };
        // The stderr reader may still be draining the host's last lines.
        let _ = self.stderr_done.recv_timeout(Duration::from_secs(1));
        let (tail, out_of_memory) = {
            let kept = lock(&self.stderr);
            (kept.lines.iter().cloned().collect::<Vec<String>>(), kept.out_of_memory)
        };
        let what = match status {
            Err(e) => format!("vanished ({e})"),
            Ok(status) => {
                #[cfg(unix)]
                let signal = std::os::unix::process::ExitStatusExt::signal(&status);
                #[cfg(not(unix))]
                let signal: Option<i32> = None;
                match (signal, status.code()) {
                    (Some(signal), _) if out_of_memory => {
                        format!("ran out of memory (limit {} MiB; {})", self.memory_mb, signal_name(signal))
                    }
                    (Some(signal), _) => format!("crashed ({})", signal_name(signal)),
                    (None, Some(code)) => format!("exited with status {code}"),
                    (None, None) => "exited".to_owned(),
                }
            }
        };
        let last = tail.iter().rev().find(|l| !l.trim().is_empty());
        HostError::Died(match last {
            Some(line) if !what.starts_with("ran out of memory") => format!("{what}; its last words: {line}"),
            _ => what,
        })
    }

    /// Loads the plugin library.
    pub(crate) fn load(&mut self, path: &Path, timeout: Duration) -> Result<HostLoaded, HostError> {
        let request = Request::Load(HostLoad {
            path: path.display().to_string(),
            memory_limit_mb: self.memory_mb,
            max_page_bytes: MAX_PAGE_BYTES,
        });
        match self.call(request, timeout)? {
            Reply::Loaded(loaded) => Ok(loaded),
            other => Err(unexpected(&other)),
        }
    }

    /// Opens an instance with `config`.
    pub(crate) fn open(&mut self, config: PluginConfig, timeout: Duration) -> Result<(), HostError> {
        match self.call(Request::Open(config), timeout)? {
            Reply::Opened(_) => Ok(()),
            other => Err(unexpected(&other)),
        }
    }

    /// Pulls one page.
    pub(crate) fn pull(&mut self, request: PullRequest, timeout: Duration) -> Result<PullResponse, HostError> {
        match self.call(Request::Pull(request), timeout)? {
            Reply::Page(page) => Ok(page),
            other => Err(unexpected(&other)),
        }
    }
}

fn unexpected(reply: &Reply) -> HostError {
    let what = match reply {
        Reply::Loaded(_) => "loaded",
        Reply::Opened(_) => "opened",
        Reply::Page(_) => "page",
        Reply::Error(_) => "error",
        Reply::Failure(_) => "failure",
        Reply::Log(_) => "log",
    };
    HostError::Failure(format!("the plugin host answered out of turn ({what})"))
}

impl Drop for HostProcess {
    fn drop(&mut self) {
        // Closing stdin lets an idle host close the instance and exit; one that has not exited
        // within half a second is killed.
        drop(self.stdin.take());
        let mut child = lock(&self.killer.child);
        let deadline = std::time::Instant::now() + Duration::from_millis(500);
        while matches!(child.try_wait(), Ok(None)) && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(2));
        }
        let _ = child.kill();
        let _ = child.wait();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_allocation_failure_is_remembered_after_a_long_backtrace() {
        let mut tail = Tail::default();
        tail.push("memory allocation of 67108864 bytes failed".to_owned());
        for frame in 0..40 {
            tail.push(format!("  {frame}: some::frame"));
        }
        assert_eq!(tail.lines.len(), STDERR_LINES);
        assert!(!tail.lines.iter().any(|l| says_out_of_memory(l)), "the line itself scrolled out");
        assert!(tail.out_of_memory);
        let mut quiet = Tail::default();
        quiet.push("thread 'main' panicked at src/lib.rs:1:1".to_owned());
        assert!(!quiet.out_of_memory);
    }
}
