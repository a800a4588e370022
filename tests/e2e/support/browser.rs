//! A real headless Chromium (Debian's `chromium`, installed by `.ci/run`) and a bare HTTP/1.1
//! client, to look at the dashboard the way a browser and a program do.

use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::plugins::target_dir;

/// How long one Chromium run may take.
const CHROMIUM_DEADLINE: Duration = Duration::from_secs(90);

/// The Chromium binary: `CXM_CHROMIUM`, else `/usr/bin/chromium`.
fn chromium() -> PathBuf {
    let path = std::env::var_os("CXM_CHROMIUM").map_or_else(|| PathBuf::from("/usr/bin/chromium"), PathBuf::from);
    assert!(path.exists(), "{} is missing: .ci/run installs it (apt-get install -y chromium)", path.display());
    path
}

/// Runs headless Chromium on `url` with `extra` flags; returns its stdout.
fn run(url: &str, extra: &[String]) -> String {
    let profile = tempfile::tempdir().expect("profile dir");
    let mut child = Command::new(chromium())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--hide-scrollbars",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .args(extra)
        .arg(url)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("chromium starts");
    let mut stdout = child.stdout.take().expect("stdout");
    let reader = std::thread::spawn(move || {
        let mut text = String::new();
        stdout.read_to_string(&mut text).expect("chromium output");
        text
    });
    let deadline = Instant::now() + CHROMIUM_DEADLINE;
    loop {
        if let Some(status) = child.try_wait().expect("wait for chromium") {
            assert!(status.success(), "chromium failed on {url}: {status}");
            break;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("chromium did not finish {url} within {CHROMIUM_DEADLINE:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    reader.join().expect("reader")
}

/// The DOM of `url` after Chromium rendered it.
pub fn dump_dom(url: &str) -> String {
    run(url, &["--dump-dom".to_owned()])
}

/// The DOM of `url` once its network is quiet and `virtual_ms` of virtual time have passed:
/// Chromium does not advance virtual time while a fetch is open, so a page that streams
/// (server-sent events) is dumped only after its stream response ended.
pub fn dump_dom_when_quiet(url: &str, virtual_ms: u32) -> String {
    run(url, &["--dump-dom".to_owned(), format!("--virtual-time-budget={virtual_ms}")])
}

/// Saves a 1280×900 screenshot of `url` as `target/dashboard-screenshots/<name>.png`.
pub fn screenshot(url: &str, name: &str) -> PathBuf {
    let profile_dir = target_dir();
    let dir = profile_dir.parent().unwrap_or(&profile_dir).join("dashboard-screenshots");
    std::fs::create_dir_all(&dir).expect("screenshot dir");
    let path = dir.join(format!("{name}.png"));
    let _ = std::fs::remove_file(&path);
    run(url, &[format!("--screenshot={}", path.display()), "--window-size=1280,900".to_owned()]);
    let size = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
    assert!(size > 10_000, "screenshot {} has {size} bytes", path.display());
    path
}

/// An HTTP answer.
#[derive(Debug)]
pub struct Answer {
    /// Status code.
    pub status: u16,
    /// The header block, as sent.
    pub head: String,
    /// The body.
    pub body: String,
}

impl Answer {
    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.head.lines().find_map(|line| {
            let (key, value) = line.split_once(':')?;
            key.eq_ignore_ascii_case(name).then(|| value.trim())
        })
    }
}

/// One HTTP/1.1 request to `addr`, with extra header lines and an optional form body.
pub fn http(addr: &str, method: &str, path: &str, headers: &[(&str, &str)], form: Option<&str>) -> Answer {
    let mut stream = std::net::TcpStream::connect(addr).expect("connect to the dashboard");
    stream.set_read_timeout(Some(Duration::from_secs(30))).expect("timeout");
    let mut request = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    let body = form.unwrap_or("");
    if form.is_some() {
        request.push_str(&format!(
            "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n",
            body.len()
        ));
    }
    request.push_str("\r\n");
    request.push_str(body);
    stream.write_all(request.as_bytes()).expect("send");
    let mut raw = String::new();
    stream.read_to_string(&mut raw).expect("read answer");
    let (head, body) = raw.split_once("\r\n\r\n").unwrap_or((&raw, ""));
    let status = head.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or_else(|| panic!("no status: {head}"));
    Answer { status, head: head.to_owned(), body: body.to_owned() }
}
