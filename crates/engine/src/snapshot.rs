//! Rollup snapshots: restart time set by the rollups, not by the stored events.
//!
//! A snapshot file (`rollups.snapshot` in the data dir) holds every rollup (survey, support and
//! revenue, with their dimension views) and the store's checkpoint (identity index, next block
//! sequence, event count, store id and the commit they are at; see `cxm_store::Store::checkpoint`).
//! It is written whole to a temporary file, fsynced, then renamed over the last one, so a crash
//! leaves the old or the new snapshot, never a mix; its header carries a format number and a
//! CRC-32 of the body.
//!
//! At start the snapshot is used only when it reads back whole (checksum), was written by this
//! format with the same index budget and reporting currency, is of this store and not ahead of
//! it; the store then catches it up with the changes committed after it (versions replaced
//! since leave the rollups once, versions stored since enter). Anything else is logged, the
//! file removed, and the rollups rebuilt from every stored event, as without snapshots.
//! Goal states and alerts are stored records, not derived in memory, so they need no snapshot.
//!
//! Before a snapshot, the store may merge its identity index's in-memory delta into a new base
//! file (see `cxm_store::Store::merge_identities`); the store's part of a snapshot names the base
//! file it needs, older ones are removed once it is durable, and a start whose base file is
//! missing or damaged rebuilds.

use std::io::{Read as _, Seek as _, Write as _};
use std::path::{Path, PathBuf};
use std::time::Instant;

use bincode::Options as _;
use cxm_store::Store;
use serde::{Deserialize, Serialize};

use crate::revenue::RevenueIndex;
use crate::support::SupportIndex;
use crate::survey::SurveyIndex;
use crate::{Engine, Error, IndexBudget, Result, Rollups, Settings};

/// The snapshot's file name in the data dir.
pub const FILE: &str = "rollups.snapshot";
const MAGIC: &[u8; 8] = b"CXMROLL\0";
/// Raised whenever the rollups' stored form changes: an older snapshot is then rebuilt.
const FORMAT: u32 = 5;
/// Magic, format, CRC-32 and body length.
const HEADER: usize = 8 + 4 + 4 + 8;

/// The settings the rollups were built with: a snapshot built with others is not used.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Built {
    budget: IndexBudget,
    currency: String,
}

impl Built {
    pub(crate) fn of(settings: &Settings) -> Self {
        Self { budget: settings.index, currency: settings.rules.reporting_currency.clone() }
    }
}

/// What the engine keeps for taking snapshots.
pub(crate) struct Snapshots {
    built: Built,
    /// Held while one is written: one at a time.
    taking: std::sync::Mutex<()>,
}

impl Snapshots {
    pub(crate) fn new(settings: &Settings) -> Self {
        Self { built: Built::of(settings), taking: std::sync::Mutex::new(()) }
    }
}

/// The rollups part of a snapshot, as written; the store's checkpoint follows it.
#[derive(Serialize)]
struct SnapshotRef<'a> {
    built: &'a Built,
    surveys: &'a SurveyIndex,
    revenue: &'a RevenueIndex,
    support: &'a SupportIndex,
}

/// The rollups part of a snapshot, as read back.
#[derive(Deserialize)]
struct Snapshot {
    built: Built,
    surveys: SurveyIndex,
    revenue: RevenueIndex,
    support: SupportIndex,
}

/// What one snapshot wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Taken {
    /// The store commit it covers.
    pub commit: u64,
    /// Its size in bytes.
    pub bytes: u64,
    /// How long it took, in milliseconds (taking the rollups, writing and syncing the file).
    pub millis: u64,
}

fn path(dir: &Path) -> PathBuf {
    dir.join(FILE)
}

/// A snapshot file whose checksum matched, its rollups read; the reader is at the store's part.
type Read = (Snapshot, std::io::BufReader<std::fs::File>);

/// Reads the snapshot in `dir`: `None` (logged) when there is none or it cannot be used.
fn read(dir: &Path, built: &Built) -> Option<Read> {
    let path = path(dir);
    match decode(&path, built) {
        Ok(snapshot) => snapshot,
        Err(why) => {
            tracing::warn!(path = %path.display(), "the rollup snapshot is not used: {why}; rebuilding the rollups");
            None
        }
    }
}

/// Checks the header and checksum in one pass, then decodes in a second: neither holds the
/// file in memory.
fn decode(path: &Path, built: &Built) -> std::result::Result<Option<Read>, String> {
    let open = || std::fs::File::open(path).map(std::io::BufReader::new);
    let mut file = match open() {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("it cannot be read ({e})")),
    };
    let mut header = [0; HEADER];
    file.read_exact(&mut header).map_err(|_| "it is cut short".to_owned())?;
    if &header[..8] != MAGIC {
        return Err("it is not a cxm rollup snapshot".to_owned());
    }
    let word = |at: usize| u32::from_le_bytes([header[at], header[at + 1], header[at + 2], header[at + 3]]);
    let format = word(8);
    if format != FORMAT {
        return Err(format!("it has format {format}, this cxmd reads format {FORMAT}"));
    }
    let mut length = [0; 8];
    length.copy_from_slice(&header[16..24]);
    let mut summed = Summed::new(std::io::sink());
    std::io::copy(&mut file, &mut summed).map_err(|e| format!("it cannot be read ({e})"))?;
    if summed.length != u64::from_le_bytes(length) || summed.hasher.finalize() != word(12) {
        return Err("its checksum does not match (damaged or cut short)".to_owned());
    }
    let mut file = open().map_err(|e| format!("it cannot be read ({e})"))?;
    file.read_exact(&mut header).map_err(|_| "it is cut short".to_owned())?;
    let snapshot: Snapshot =
        encoding().deserialize_from(&mut file).map_err(|e| format!("it cannot be decoded ({e})"))?;
    if snapshot.built != *built {
        return Err(format!("it was built with other settings ({:?}, now {built:?})", snapshot.built));
    }
    Ok(Some((snapshot, file)))
}

/// A writer that counts and checksums what passes through.
struct Summed<W> {
    inner: W,
    hasher: crc32fast::Hasher,
    length: u64,
}

impl<W> Summed<W> {
    fn new(inner: W) -> Self {
        Self { inner, hasher: crc32fast::Hasher::new(), length: 0 }
    }
}

impl<W: std::io::Write> std::io::Write for Summed<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.length += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// The encoding of the rollups: variable-length integers (their counts are mostly small).
fn encoding() -> impl bincode::Options {
    bincode::DefaultOptions::new()
}

/// Removes an unusable snapshot, so that it is never taken for a later state of the store.
fn discard(dir: &Path) {
    match std::fs::remove_file(path(dir)) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => tracing::error!(path = %path(dir).display(), error = %e, "cannot remove the unused rollup snapshot"),
    }
}

/// Opens the store in `dir` and the rollups: from the snapshot caught up with the changes
/// after it, else rebuilt from every stored event.
pub(crate) fn open(dir: &Path, settings: &Settings) -> Result<(Store, Rollups)> {
    let started = Instant::now();
    let built = Built::of(settings);
    let asked = settings.store.allow_empty || settings.store.discard_damaged;
    if asked && path(dir).exists() {
        tracing::info!("the rollup snapshot is not used: --allow-empty or --discard-damaged reads every block");
    }
    let (snapshot, mut file) = match if asked { None } else { read(dir, &built) } {
        Some((snapshot, file)) => (Some(snapshot), Some(file)),
        None => (None, None),
    };
    let checkpoint = file.as_mut().map(|file| file as &mut dyn std::io::Read);
    let (store, catch) = Store::open_at(dir, &settings.store, checkpoint)?;
    drop(file);
    if let (Some(snapshot), Some(catch)) = (snapshot, catch) {
        let mut rollups = Rollups::new(settings.index);
        rollups.surveys = snapshot.surveys.restored();
        rollups.support = snapshot.support.restored();
        rollups.revenue = snapshot.revenue;
        let mut followed = 0_u64;
        store.catch_up(&catch, |payload, add| {
            rollups.follow(payload, add);
            followed += 1;
        })?;
        rollups.commit = store.commit();
        let (from, to) = catch.commits();
        tracing::info!(
            snapshot_commit = from,
            store_commit = to,
            changes_caught_up = followed,
            elapsed_ms = started.elapsed().as_millis() as u64,
            "rollups read from the snapshot and caught up"
        );
        return Ok((store, rollups));
    }
    discard(dir);
    let rollups = Rollups::rebuild(&store, settings.index)?;
    Ok((store, rollups))
}

impl Engine {
    /// Writes a snapshot of the rollups and the store's checkpoint, durably (temporary file,
    /// fsync, rename, fsync of the directory), then drops the store's change records it covers.
    /// Ingest waits while the rollups are copied out, not while the file is written.
    /// Only the sled store keeps snapshots: on another store this is an error, and
    /// [`Engine::keeps_snapshots`] is false.
    pub fn write_snapshot(&self) -> Result<Taken> {
        let Some(store) = self.store.sled() else {
            return Err(Error::Rollups("rollup snapshots are kept with the sled store only".to_owned()));
        };
        let _one = self.snapshots.taking.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let temporary = store.dir().join(format!("{FILE}.tmp"));
        let written = self.write_snapshot_to(store, &temporary);
        if written.is_err() {
            // Never leave a partial file taking space (the disk may be full).
            let _ = std::fs::remove_file(&temporary);
        }
        written
    }

    fn write_snapshot_to(&self, store: &Store, temporary: &Path) -> Result<Taken> {
        let started = Instant::now();
        let dir = store.dir();
        // A large identity delta goes into a new base file first, which this snapshot then names.
        if let Err(e) = store.merge_identities() {
            tracing::error!(error = %e, "cannot write the identity index base file; its delta stays in memory");
        }
        let failed = |e: &dyn std::fmt::Display| Error::Rollups(format!("writing {}: {e}", path(dir).display()));
        let mut file = create(temporary).map_err(|e| failed(&e))?;
        let (commit, summed) = {
            file.write_all(&[0; HEADER]).map_err(|e| failed(&e))?;
            let mut summed = Summed::new(std::io::BufWriter::with_capacity(1 << 20, &mut file));
            // The store's write lock first, then the rollups': the order a write takes them in.
            let (rollups_commit, commit) = store.checkpoint_after(&mut summed, |out| -> Result<u64> {
                let rollups = self.read()?;
                let snapshot = SnapshotRef {
                    built: &self.snapshots.built,
                    surveys: &rollups.surveys,
                    revenue: &rollups.revenue,
                    support: &rollups.support,
                };
                encoding().serialize_into(out, &snapshot).map_err(|e| failed(&e))?;
                Ok(rollups.commit)
            })?;
            let rollups_commit = rollups_commit?;
            if commit != rollups_commit {
                return Err(Error::Rollups(format!(
                    "the rollups are at commit {rollups_commit}, the store at {commit}: snapshot skipped"
                )));
            }
            summed.flush().map_err(|e| failed(&e))?;
            (commit, (summed.hasher.finalize(), summed.length))
        };
        let (crc, length) = summed;
        let mut header = Vec::with_capacity(HEADER);
        header.extend_from_slice(MAGIC);
        header.extend_from_slice(&FORMAT.to_le_bytes());
        header.extend_from_slice(&crc.to_le_bytes());
        header.extend_from_slice(&length.to_le_bytes());
        finish(file, &header, temporary, &path(dir)).map_err(|e| failed(&e))?;
        store.trim_changes(commit)?;
        let bytes = HEADER as u64 + length;
        let taken = Taken { commit, bytes, millis: started.elapsed().as_millis() as u64 };
        tracing::info!(commit, bytes, elapsed_ms = taken.millis, "rollup snapshot written");
        Ok(taken)
    }

    /// Whether this engine's store keeps rollup snapshots (sled does; on PostgreSQL every node
    /// loads its rollups from the database at start).
    pub fn keeps_snapshots(&self) -> bool {
        self.store.sled().is_some()
    }

    /// How many stored changes (new and replaced versions) the rollups followed since start.
    pub fn changes(&self) -> Result<u64> {
        Ok(self.read()?.changed)
    }
}

/// Creates the temporary file, private to the owner like the rest of the data dir.
fn create(path: &Path) -> std::io::Result<std::fs::File> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)
}

/// Writes the header, syncs the file, renames it over the snapshot and syncs the directory.
fn finish(mut file: std::fs::File, header: &[u8], temporary: &Path, path: &Path) -> std::io::Result<()> {
    file.seek(std::io::SeekFrom::Start(0))?;
    file.write_all(header)?;
    file.sync_all()?;
    drop(file);
    std::fs::rename(temporary, path)?;
    if let Some(dir) = path.parent() {
        std::fs::File::open(dir)?.sync_all()?;
    }
    Ok(())
}
