//! HTTP for cxm connector plugins that talk to SaaS APIs.
//!
//! [`Client`] wraps a blocking `ureq` agent with what every vendor connector needs:
//! - a configurable `base_url` (a regional host, or a local fake server in tests);
//! - bearer or basic authentication, never written to a log or an error;
//! - `429 Too Many Requests` honoured with its `Retry-After` (seconds or an HTTP date), else
//!   exponential backoff; `5xx` and connection failures retried with exponential backoff; a clear
//!   error after a bounded number of tries;
//! - JSON bodies decoded into your types, with the path named in decode errors.

#![forbid(unsafe_code)]

pub mod vendor;

use std::time::Duration;

use cxm_plugin::{Logger, error};
use cxm_proto::v1::{PluginError, PluginErrorCode};
use serde::de::DeserializeOwned;

/// How a request authenticates.
#[derive(Clone)]
pub enum Auth {
    /// No credentials.
    None,
    /// `Authorization: Bearer <token>`.
    Bearer(String),
    /// `Authorization: Basic base64(user:password)`.
    Basic {
        /// User name (or e.g. `email/token` for Zendesk).
        user: String,
        /// Password or API token.
        password: String,
    },
}

/// How often and how long to retry.
#[derive(Debug, Clone, Copy)]
pub struct Retry {
    /// Tries per request, the first included.
    pub attempts: u32,
    /// The first backoff; doubled after each failed try.
    pub base_delay: Duration,
    /// The longest single wait (also caps a server's `Retry-After`).
    pub max_delay: Duration,
}

impl Default for Retry {
    fn default() -> Self {
        Self { attempts: 5, base_delay: Duration::from_millis(250), max_delay: Duration::from_secs(60) }
    }
}

/// Why a request failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HttpError {
    /// 404: the resource does not exist (some connectors expect this, e.g. for deleted records).
    NotFound(String),
    /// 401 or 403: the credentials were refused.
    Unauthorized(String),
    /// Another status that is not retried, with the start of the body.
    Status(u16, String),
    /// Still failing (429, 5xx or no connection) after every try.
    GaveUp(String),
    /// The body is not the JSON expected.
    Decode(String),
}

impl std::fmt::Display for HttpError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::NotFound(path) => write!(f, "{path}: not found (HTTP 404)"),
            Self::Unauthorized(path) => write!(f, "{path}: credentials refused; check the token"),
            Self::Status(code, body) => write!(f, "HTTP {code}: {body}"),
            Self::GaveUp(message) | Self::Decode(message) => f.write_str(message),
        }
    }
}

impl std::error::Error for HttpError {}

impl From<HttpError> for PluginError {
    fn from(e: HttpError) -> Self {
        let code = match e {
            HttpError::Unauthorized(_) => PluginErrorCode::Unauthenticated,
            HttpError::GaveUp(_) => PluginErrorCode::Unavailable,
            HttpError::NotFound(_) | HttpError::Status(..) | HttpError::Decode(_) => PluginErrorCode::BadData,
        };
        error(code, e.to_string())
    }
}

/// A JSON API client bound to one base URL.
pub struct Client {
    agent: ureq::Agent,
    base_url: String,
    authorization: Option<String>,
    retry: Retry,
    log: Logger,
}

fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [chunk[0], chunk.get(1).copied().unwrap_or(0), chunk.get(2).copied().unwrap_or(0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for (i, shift) in [18, 12, 6, 0].into_iter().enumerate() {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[((n >> shift) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Parses a `Retry-After` value: whole seconds, or an HTTP date (then the time until it).
pub fn retry_after(value: &str) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let when = httpdate(value)?;
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).ok()?.as_secs() as i64;
    Some(Duration::from_secs(u64::try_from(when - now).unwrap_or(0)))
}

/// Parses an IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`) to Unix seconds.
fn httpdate(text: &str) -> Option<i64> {
    let parts: Vec<&str> = text.split_whitespace().collect();
    let [_, day, month, year, time, "GMT"] = parts.as_slice() else { return None };
    let month = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        .iter()
        .position(|m| m == month)? as i64
        + 1;
    let (day, year): (i64, i64) = (day.parse().ok()?, year.parse().ok()?);
    let hms: Vec<i64> = time.split(':').map(|p| p.parse().ok()).collect::<Option<_>>()?;
    let [h, m, s] = hms.as_slice() else { return None };
    // Days from civil date (Howard Hinnant's algorithm).
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (month + if month > 2 { -3 } else { 9 }) + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(days * 86_400 + h * 3_600 + m * 60 + s)
}

impl Client {
    /// A client for `base_url` (must start with `http://` or `https://`).
    pub fn new(base_url: &str, auth: Auth, log: Logger) -> Result<Self, PluginError> {
        let base_url = base_url.trim_end_matches('/').to_owned();
        if !(base_url.starts_with("https://") || base_url.starts_with("http://")) {
            return Err(error(
                PluginErrorCode::InvalidConfig,
                format!("base_url {base_url:?} must start with https:// (or http:// for a local server)"),
            ));
        }
        let authorization = match auth {
            Auth::None => None,
            Auth::Bearer(token) => Some(format!("Bearer {token}")),
            Auth::Basic { user, password } => {
                Some(format!("Basic {}", base64(format!("{user}:{password}").as_bytes())))
            }
        };
        let config = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(60)))
            .user_agent("cxm-connector/1")
            .build();
        Ok(Self { agent: config.into(), base_url, authorization, retry: Retry::default(), log })
    }

    /// Replaces the retry policy.
    pub fn with_retry(mut self, retry: Retry) -> Self {
        self.retry = retry;
        self
    }

    /// The base URL.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// GETs `path` (with its query; or an absolute URL, e.g. a vendor's `next` link) and decodes
    /// the JSON body.
    pub fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, HttpError> {
        self.send(path, None)
    }

    /// POSTs a JSON body to `path` and decodes the JSON answer.
    pub fn post<T: DeserializeOwned>(&self, path: &str, body: &serde_json::Value) -> Result<T, HttpError> {
        self.send(path, Some(body))
    }

    fn url(&self, path: &str) -> String {
        if path.starts_with("http://") || path.starts_with("https://") {
            path.to_owned()
        } else {
            format!("{}/{}", self.base_url, path.trim_start_matches('/'))
        }
    }

    fn send<T: DeserializeOwned>(&self, path: &str, body: Option<&serde_json::Value>) -> Result<T, HttpError> {
        let url = self.url(path);
        // What logs and errors show: the path only, never a header.
        let shown = url.strip_prefix(&self.base_url).unwrap_or(&url).to_owned();
        let mut delay = self.retry.base_delay;
        let mut last = String::new();
        for attempt in 1..=self.retry.attempts {
            let answer = match body {
                Some(body) => {
                    let mut request = self.agent.post(&url).header("Accept", "application/json");
                    if let Some(auth) = &self.authorization {
                        request = request.header("Authorization", auth);
                    }
                    request.header("Content-Type", "application/json").send(body.to_string())
                }
                None => {
                    let mut request = self.agent.get(&url).header("Accept", "application/json");
                    if let Some(auth) = &self.authorization {
                        request = request.header("Authorization", auth);
                    }
                    request.call()
                }
            };
            let wait = match answer {
                Ok(mut response) => {
                    let status = response.status().as_u16();
                    let text = response.body_mut().read_to_string().unwrap_or_default();
                    match status {
                        200..=299 => {
                            return serde_json::from_str(&text)
                                .map_err(|e| HttpError::Decode(format!("{shown}: unexpected JSON: {e}")));
                        }
                        404 => return Err(HttpError::NotFound(shown)),
                        401 | 403 => return Err(HttpError::Unauthorized(shown)),
                        429 => {
                            last = format!("{shown}: HTTP 429 (rate limited)");
                            let header = response.headers().get("retry-after").and_then(|v| v.to_str().ok());
                            header.and_then(retry_after).unwrap_or(delay)
                        }
                        500..=599 => {
                            last = format!("{shown}: HTTP {status}");
                            delay
                        }
                        _ => return Err(HttpError::Status(status, text.chars().take(200).collect())),
                    }
                }
                Err(e) => {
                    last = format!("{shown}: {e}");
                    delay
                }
            };
            if attempt == self.retry.attempts {
                break;
            }
            let wait = wait.min(self.retry.max_delay);
            self.log.info(&format!(
                "{last}; try {attempt} of {}, retrying in {} ms",
                self.retry.attempts,
                wait.as_millis()
            ));
            std::thread::sleep(wait);
            delay = (delay * 2).min(self.retry.max_delay);
        }
        Err(HttpError::GaveUp(format!("{last}; gave up after {} tries", self.retry.attempts)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_auth_is_standard_base64() {
        assert_eq!(base64(b"Aladdin:open sesame"), "QWxhZGRpbjpvcGVuIHNlc2FtZQ==");
        assert_eq!(base64(b"ab"), "YWI=");
        assert_eq!(base64(b""), "");
    }

    #[test]
    fn retry_after_takes_seconds_and_http_dates() {
        assert_eq!(retry_after("3"), Some(Duration::from_secs(3)));
        assert_eq!(httpdate("Sun, 06 Nov 1994 08:49:37 GMT"), Some(784_111_777));
        assert_eq!(retry_after("Sun, 06 Nov 1994 08:49:37 GMT"), Some(Duration::ZERO));
        assert_eq!(retry_after("soon"), None);
    }

    #[test]
    fn base_url_must_be_http() {
        assert!(Client::new("ftp://x", Auth::None, Logger::discard()).is_err());
        let client = Client::new("https://acme.example.com/", Auth::None, Logger::discard()).unwrap();
        assert_eq!(client.url("/api/v2/x?a=1"), "https://acme.example.com/api/v2/x?a=1");
        assert_eq!(client.url("https://other/next"), "https://other/next");
    }
}
