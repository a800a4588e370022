//! API keys with roles.
//!
//! Keys live in `keys.json` in the data dir (mode 0600), outside the sled database, so that
//! `cxmd keys ...` can change them while the server runs; the server re-reads the file when it
//! changes, so a revoked key is refused on the next call. A secret looks like
//! `cxm_<id>_<64 hex digits>` (256 random bits); only its SHA-256 is stored, and a presented
//! secret is compared to it in constant time.

#![forbid(unsafe_code)]

use std::path::{Path, PathBuf};
use std::sync::{Mutex, RwLock};
use std::time::SystemTime;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// What a key may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Metrics and listings.
    Read,
    /// Ingest.
    Ingest,
    /// Everything.
    Admin,
}

impl Role {
    /// Whether a key of this role may call something that needs `needed`.
    pub fn allows(self, needed: Role) -> bool {
        self == Role::Admin || self == needed
    }

    /// The role's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Read => "read",
            Role::Ingest => "ingest",
            Role::Admin => "admin",
        }
    }
}

impl std::str::FromStr for Role {
    type Err = Error;
    fn from_str(text: &str) -> Result<Self, Error> {
        match text {
            "read" => Ok(Role::Read),
            "ingest" => Ok(Role::Ingest),
            "admin" => Ok(Role::Admin),
            other => Err(Error::Invalid(format!("role {other:?} is not read, ingest or admin"))),
        }
    }
}

/// The role a gRPC method needs, by its path (`/package.Service/Method`); `None` for the
/// methods anyone may call (health checks and reflection).
pub fn required_role(path: &str) -> Option<Role> {
    let (service, method) = path.trim_start_matches('/').split_once('/').unwrap_or((path, ""));
    match service {
        "grpc.health.v1.Health"
        | "grpc.reflection.v1.ServerReflection"
        | "grpc.reflection.v1alpha.ServerReflection" => None,
        "cx.v1.IngestService" => Some(Role::Ingest),
        // ListMetrics, Query, Compare, Records: all reads; so are Prioritize and AlertService.Watch.
        "cx.v1.MetricsService" | "cx.v1.InsightsService" | "cx.v1.AlertService" => Some(Role::Read),
        "cx.v1.GoalService" if matches!(method, "GetGoal" | "ListGoals") => Some(Role::Read),
        "cx.v1.ConnectorService" if matches!(method, "ListPlugins" | "ListConnectors" | "GetConnector") => {
            Some(Role::Read)
        }
        // Changing, syncing, cancelling and deleting connectors.
        "cx.v1.ConnectorService"
            if matches!(
                method,
                "CreateConnector" | "UpdateConnector" | "DeleteConnector" | "SyncConnector" | "CancelSync"
            ) =>
        {
            Some(Role::Admin)
        }
        _ => Some(Role::Admin),
    }
}

/// A stored key (the secret itself is never stored).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Key {
    /// Public id, e.g. `k3f9a1c2b`.
    pub id: String,
    /// Who or what uses it.
    pub name: String,
    /// What it may do.
    pub role: Role,
    /// Creation time, Unix nanoseconds.
    pub created_at: i64,
    /// SHA-256 of the secret, hex.
    pub hash: String,
}

/// Why a key operation failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Bad input (name, role).
    #[error("{0}")]
    Invalid(String),
    /// No key with that id.
    #[error("no key with id {0:?}")]
    NotFound(String),
    /// The key file could not be read or written.
    #[error("key file {path}: {reason}")]
    File {
        /// The file.
        path: String,
        /// What went wrong.
        reason: String,
    },
}

/// Why a call was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// No key, a malformed one, or one that is unknown or revoked.
    Unauthenticated(String),
    /// A valid key whose role does not allow the call.
    PermissionDenied(String),
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn digest(secret: &str) -> String {
    hex(&Sha256::digest(secret.as_bytes()))
}

/// Compares two strings in time that depends only on their lengths.
fn same(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn random_hex(bytes: usize) -> Result<String, Error> {
    let mut buf = vec![0u8; bytes];
    getrandom::fill(&mut buf).map_err(|e| Error::Invalid(format!("no randomness available: {e}")))?;
    Ok(hex(&buf))
}

/// The keys of one data dir.
pub struct KeyRing {
    path: PathBuf,
    /// Set once a key exists or has existed (the key file exists: only creating a key writes
    /// it): from then on an empty ring refuses every call instead of reopening the server.
    closed: std::sync::atomic::AtomicBool,
    /// The keys as last read, with the file version they were read at (`Some(None)`: no file);
    /// `None` until first read.
    cache: RwLock<(Option<Option<Stamp>>, Vec<Key>)>,
    writer: Mutex<()>,
}

/// What identifies a version of the key file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stamp {
    modified: Option<SystemTime>,
    len: u64,
    inode: u64,
}

fn stamp(path: &Path) -> Option<Stamp> {
    let meta = std::fs::metadata(path).ok()?;
    #[cfg(unix)]
    let inode = std::os::unix::fs::MetadataExt::ino(&meta);
    #[cfg(not(unix))]
    let inode = 0;
    Some(Stamp { modified: meta.modified().ok(), len: meta.len(), inode })
}

impl KeyRing {
    /// The key ring of `data_dir` (the file need not exist yet).
    pub fn open(data_dir: &Path) -> Self {
        let path = data_dir.join("keys.json");
        Self {
            closed: std::sync::atomic::AtomicBool::new(path.exists()),
            path,
            cache: RwLock::new((None, Vec::new())),
            writer: Mutex::new(()),
        }
    }

    fn file_error(&self, reason: impl ToString) -> Error {
        Error::File { path: self.path.display().to_string(), reason: reason.to_string() }
    }

    fn read_file(&self) -> Result<Vec<Key>, Error> {
        match std::fs::read(&self.path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| self.file_error(e)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
            Err(e) => Err(self.file_error(e)),
        }
    }

    /// The current keys, re-read when the file changed.
    pub fn keys(&self) -> Result<Vec<Key>, Error> {
        let now = stamp(&self.path);
        if now.is_some() {
            self.closed.store(true, std::sync::atomic::Ordering::SeqCst);
        }
        {
            let cache = self.cache.read().unwrap_or_else(std::sync::PoisonError::into_inner);
            if cache.0 == Some(now) {
                return Ok(cache.1.clone());
            }
        }
        let keys = self.read_file()?;
        let mut cache = self.cache.write().unwrap_or_else(std::sync::PoisonError::into_inner);
        *cache = (Some(now), keys.clone());
        Ok(keys)
    }

    /// Whether any key exists.
    pub fn is_empty(&self) -> Result<bool, Error> {
        Ok(self.keys()?.is_empty())
    }

    /// Whether calls need no key: no key exists and none ever did in this data dir (the
    /// server then runs open, on loopback only).
    pub fn is_open(&self) -> Result<bool, Error> {
        Ok(self.keys()?.is_empty() && !self.closed.load(std::sync::atomic::Ordering::SeqCst))
    }

    fn write_file(&self, keys: &[Key]) -> Result<(), Error> {
        let dir = self.path.parent().ok_or_else(|| self.file_error("no parent directory"))?;
        std::fs::create_dir_all(dir).map_err(|e| self.file_error(e))?;
        let temp = dir.join(format!(".keys.json.{}", std::process::id()));
        let bytes = serde_json::to_vec_pretty(keys).map_err(|e| self.file_error(e))?;
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options.open(&temp).map_err(|e| self.file_error(e))?;
        std::io::Write::write_all(&mut file, &bytes).map_err(|e| self.file_error(e))?;
        file.sync_all().map_err(|e| self.file_error(e))?;
        std::fs::rename(&temp, &self.path).map_err(|e| self.file_error(e))
    }

    /// Creates a key; returns it and its secret (shown once).
    pub fn create(&self, name: &str, role: Role) -> Result<(Key, String), Error> {
        if name.is_empty() || name.chars().count() > 64 {
            return Err(Error::Invalid("name must be 1 to 64 characters".to_owned()));
        }
        let _writer = self.writer.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut keys = self.read_file()?;
        let id = format!("k{}", random_hex(4)?);
        let secret = format!("cxm_{id}_{}", random_hex(32)?);
        let created_at = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX));
        let key = Key { id, name: name.to_owned(), role, created_at, hash: digest(&secret) };
        keys.push(key.clone());
        self.write_file(&keys)?;
        Ok((key, secret))
    }

    /// Revokes a key by id.
    pub fn revoke(&self, id: &str) -> Result<(), Error> {
        let _writer = self.writer.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut keys = self.read_file()?;
        let before = keys.len();
        keys.retain(|k| k.id != id);
        if keys.len() == before {
            return Err(Error::NotFound(id.to_owned()));
        }
        self.write_file(&keys)
    }

    /// Checks the `authorization` header value of a call to `path`; returns the key used, or
    /// `None` when the call needs no key (open method, or no key has existed since this ring
    /// was opened). Once a key has existed, revoking every key closes the server rather than
    /// opening it.
    pub fn authorize(&self, path: &str, authorization: Option<&str>) -> Result<Option<Key>, Refusal> {
        let Some(needed) = required_role(path) else { return Ok(None) };
        let keys = self
            .keys()
            .map_err(|e| Refusal::Unauthenticated(format!("API keys cannot be read ({e}); ask the operator")))?;
        if keys.is_empty() && !self.closed.load(std::sync::atomic::Ordering::SeqCst) {
            return Ok(None);
        }
        let secret = authorization
            .and_then(|v| v.strip_prefix("Bearer "))
            .ok_or_else(|| {
                Refusal::Unauthenticated("this call needs an API key: send `authorization: Bearer <key>`".to_owned())
            })?
            .trim();
        let id = secret.strip_prefix("cxm_").and_then(|rest| rest.split_once('_')).map(|(id, _)| id);
        let presented = digest(secret);
        let key = id
            .and_then(|id| keys.iter().find(|k| k.id == id))
            .filter(|k| same(&k.hash, &presented))
            .ok_or_else(|| Refusal::Unauthenticated("the API key is unknown or revoked".to_owned()))?;
        if !key.role.allows(needed) {
            return Err(Refusal::PermissionDenied(format!(
                "key {} ({}) has role {}; {path} needs {}",
                key.id,
                key.name,
                key.role.as_str(),
                needed.as_str()
            )));
        }
        Ok(Some(key.clone()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_and_paths() {
        assert_eq!(required_role("/grpc.health.v1.Health/Check"), None);
        assert_eq!(required_role("/cx.v1.MetricsService/Query"), Some(Role::Read));
        assert_eq!(required_role("/cx.v1.MetricsService/Compare"), Some(Role::Read));
        assert_eq!(required_role("/cx.v1.MetricsService/Records"), Some(Role::Read));
        assert_eq!(required_role("/cx.v1.AlertService/Watch"), Some(Role::Read));
        assert_eq!(required_role("/cx.v1.ConnectorService/GetConnector"), Some(Role::Read));
        assert_eq!(required_role("/cx.v1.ConnectorService/SyncConnector"), Some(Role::Admin));
        assert_eq!(required_role("/cx.v1.ConnectorService/CancelSync"), Some(Role::Admin));
        assert_eq!(required_role("/cx.v1.ConnectorService/UpdateConnector"), Some(Role::Admin));
        assert_eq!(required_role("/cx.v1.IngestService/IngestStream"), Some(Role::Ingest));
        assert_eq!(required_role("/cx.v1.InsightsService/Prioritize"), Some(Role::Read));
        assert_eq!(required_role("/cx.v1.GoalService/GetGoal"), Some(Role::Read));
        assert_eq!(required_role("/cx.v1.GoalService/ListGoals"), Some(Role::Read));
        assert_eq!(required_role("/cx.v1.GoalService/CreateGoal"), Some(Role::Admin));
        assert_eq!(required_role("/cx.v1.GoalService/DeleteGoal"), Some(Role::Admin));
        assert!(Role::Admin.allows(Role::Ingest) && !Role::Read.allows(Role::Ingest));
    }

    #[test]
    fn create_verify_revoke() {
        let dir = tempfile::tempdir().unwrap();
        let ring = KeyRing::open(dir.path());
        assert_eq!(ring.authorize("/cx.v1.MetricsService/Query", None), Ok(None), "no keys: open");
        let (key, secret) = ring.create("dash", Role::Read).unwrap();
        let stored = std::fs::read_to_string(dir.path().join("keys.json")).unwrap();
        assert!(!stored.contains(&secret) && stored.contains(&key.hash));
        let bearer = format!("Bearer {secret}");
        assert_eq!(ring.authorize("/cx.v1.MetricsService/Query", Some(&bearer)).unwrap().unwrap().id, key.id);
        assert!(matches!(
            ring.authorize("/cx.v1.IngestService/Ingest", Some(&bearer)),
            Err(Refusal::PermissionDenied(_))
        ));
        let last = if secret.ends_with('0') { '1' } else { '0' };
        let forged = format!("Bearer {}{last}", &secret[..secret.len() - 1]);
        assert!(matches!(
            ring.authorize("/cx.v1.MetricsService/Query", Some(&forged)),
            Err(Refusal::Unauthenticated(_))
        ));
        // Another process revokes it through its own ring: refused at once here.
        KeyRing::open(dir.path()).revoke(&key.id).unwrap();
        ring.create("other", Role::Admin).unwrap();
        assert!(matches!(
            ring.authorize("/cx.v1.MetricsService/Query", Some(&bearer)),
            Err(Refusal::Unauthenticated(_))
        ));
        assert!(matches!(ring.revoke("nope"), Err(Error::NotFound(_))));
    }

    #[test]
    fn a_ring_opened_after_every_key_was_revoked_stays_closed() {
        let dir = tempfile::tempdir().unwrap();
        let (key, _) = KeyRing::open(dir.path()).create("ops", Role::Admin).unwrap();
        let ring = KeyRing::open(dir.path());
        KeyRing::open(dir.path()).revoke(&key.id).unwrap();
        assert!(!ring.is_open().unwrap());
        assert!(matches!(ring.authorize("/cx.v1.MetricsService/Query", None), Err(Refusal::Unauthenticated(_))));
        let reopened = KeyRing::open(dir.path());
        assert!(matches!(reopened.authorize("/cx.v1.MetricsService/Query", None), Err(Refusal::Unauthenticated(_))));
    }

    #[cfg(unix)]
    #[test]
    fn the_key_file_is_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        KeyRing::open(dir.path()).create("ops", Role::Admin).unwrap();
        let mode = std::fs::metadata(dir.path().join("keys.json")).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}
