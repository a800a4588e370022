//! The on-disk base of the identity index: an immutable file of packed slots, read with
//! positional reads through the kernel's page cache, so that it costs no process memory.
//!
//! A file `identities.<token>.idx` in the data dir (mode 0600) holds every identity's slot (see
//! `index`) at one store commit, in one open-addressing table without wrap-around: a slot
//! whose probing starts at position `h` (the top bits of its tag's [`index::order`]) sits at
//! `h` or after it, and the slots are written in increasing order, so a lookup reads forward
//! from `h` until an empty slot, a slot ordered after its own, or the end of the file. That
//! order also lets a new base be written in one sequential pass that merges the old one with
//! the sorted entries of the in-memory delta, without ever holding the table in memory.
//!
//! Header (80 bytes, little-endian): magic, format, CRC-32 of everything after it (the rest of
//! the header and the body), store id, commit, token (a fresh number per file, which the
//! checkpoint naming the file also records), slots, entries, the fingerprint of a fixed
//! identity (so a build that hashes identities differently does not use the file) and the table
//! bits. The file is written to a temporary name, fsynced, renamed and the directory fsynced;
//! at open it is checked whole once (streaming) before any lookup uses it.

use std::collections::HashMap;
use std::io::{BufReader, BufWriter, Read as _, Seek as _, Write as _};
use std::os::unix::fs::FileExt as _;
use std::path::{Path, PathBuf};

use crate::Nanos;
use crate::filter::Filter;
use crate::index::{self, HOUR_BITS};
use crate::key::EventType;

const MAGIC: &[u8; 8] = b"CXMIDX\0\0";
/// Raised whenever the file's layout changes: an older file is then not used.
const FORMAT: u32 = 1;
const HEADER: u64 = 80;
/// Slots read at once by a lookup.
const CHUNK: u64 = 8;
/// The file name's start and end.
pub(crate) const PREFIX: &str = "identities.";
const SUFFIX: &str = ".idx";

/// The fingerprint of a fixed identity: equal in every build that hashes identities alike.
fn probe() -> u64 {
    index::fingerprint(EventType::SurveyResponse, b"cxm", b"identity-probe")
}

/// The name of the file with `token`.
pub(crate) fn path(dir: &Path, token: u64) -> PathBuf {
    dir.join(format!("{PREFIX}{token:016x}{SUFFIX}"))
}

/// A fresh token, for a new file.
pub(crate) fn token() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u128(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos()));
    hasher.write_u32(std::process::id());
    hasher.finish() | 1
}

/// What a base file is: which store and commit, and its token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(crate) struct Name {
    pub(crate) id: [u8; 16],
    pub(crate) commit: u64,
    pub(crate) token: u64,
}

/// An open, checked base file.
pub(crate) struct Base {
    file: std::fs::File,
    path: PathBuf,
    name: Name,
    bits: u32,
    /// Slots in the file (empty ones included).
    length: u64,
    /// Non-empty slots.
    entries: u64,
    /// The tags of those slots: a lookup of a tag it does not hold reads nothing.
    filter: Filter,
}

struct Header {
    name: Name,
    bits: u32,
    length: u64,
    entries: u64,
    probe: u64,
}

impl Header {
    /// The header after the CRC: what the CRC covers first.
    fn tail(&self) -> [u8; HEADER as usize - 16] {
        let mut out = [0; HEADER as usize - 16];
        out[..16].copy_from_slice(&self.name.id);
        out[16..24].copy_from_slice(&self.name.commit.to_le_bytes());
        out[24..32].copy_from_slice(&self.name.token.to_le_bytes());
        out[32..40].copy_from_slice(&self.length.to_le_bytes());
        out[40..48].copy_from_slice(&self.entries.to_le_bytes());
        out[48..56].copy_from_slice(&self.probe.to_le_bytes());
        out[56..60].copy_from_slice(&self.bits.to_le_bytes());
        out
    }

    fn read(tail: &[u8; HEADER as usize - 16]) -> Self {
        let word = |at: usize| u64::from_le_bytes(tail[at..at + 8].try_into().unwrap_or_default());
        let mut id = [0; 16];
        id.copy_from_slice(&tail[..16]);
        Self {
            name: Name { id, commit: word(16), token: word(24) },
            length: word(32),
            entries: word(40),
            probe: word(48),
            bits: u32::from_le_bytes(tail[56..60].try_into().unwrap_or_default()),
        }
    }
}

/// Where probing for a slot whose tag orders as `order` starts, in a table of `bits` bits.
fn home(order: u64, bits: u32) -> u64 {
    order >> (64 - bits)
}

impl Base {
    /// Opens the base `name` in `dir` and checks it whole, building its filter (of at most
    /// `filter_bytes`) on the way; `Err(why)` when it cannot be used (missing, damaged, of
    /// another store, commit or build).
    pub(crate) fn open(dir: &Path, name: Name, filter_bytes: u64) -> Result<Self, String> {
        let path = path(dir, name.token);
        let file = std::fs::File::open(&path).map_err(|e| format!("{} cannot be read ({e})", path.display()))?;
        let damaged = |what: &str| format!("{} is {what}", path.display());
        let mut reader = BufReader::with_capacity(1 << 20, &file);
        let mut head = [0; 16];
        let mut tail = [0; HEADER as usize - 16];
        reader.read_exact(&mut head).map_err(|_| damaged("cut short"))?;
        reader.read_exact(&mut tail).map_err(|_| damaged("cut short"))?;
        if &head[..8] != MAGIC {
            return Err(damaged("not a cxm identity index"));
        }
        let format = u32::from_le_bytes([head[8], head[9], head[10], head[11]]);
        if format != FORMAT {
            return Err(damaged(&format!("of format {format}, this cxmd reads format {FORMAT}")));
        }
        let header = Header::read(&tail);
        let mut hasher = crc32fast::Hasher::new();
        hasher.update(&tail);
        let filter = Filter::new(header.entries, filter_bytes);
        let mut summed = Summed { crc: hasher, bytes: 0, filter, carry: Vec::new() };
        std::io::copy(&mut reader, &mut summed).map_err(|e| format!("{} cannot be read ({e})", path.display()))?;
        let crc = u32::from_le_bytes([head[12], head[13], head[14], head[15]]);
        if summed.crc.finalize() != crc || summed.bytes != header.length.saturating_mul(8) {
            return Err(damaged("damaged or cut short (its checksum does not match)"));
        }
        if header.name != name {
            return Err(damaged(&format!(
                "not the one the snapshot names (it is of commit {}, the snapshot needs {})",
                header.name.commit, name.commit
            )));
        }
        if header.probe != probe() {
            return Err(damaged("written by a build that fingerprints identities differently"));
        }
        if !(3..=63).contains(&header.bits) || header.length < 1 << header.bits {
            return Err(damaged("inconsistent (table size)"));
        }
        drop(reader);
        let (bits, length, entries, filter) = (header.bits, header.length, header.entries, summed.filter);
        Ok(Self { file, path, name: header.name, bits, length, entries, filter })
    }

    /// Which store, commit and token this base is.
    pub(crate) fn name(&self) -> Name {
        self.name
    }

    /// Its path.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Adds to `hours` the hours the base lists for tag `slot_tag`.
    pub(crate) fn candidates(&self, slot_tag: u64, hours: &mut Vec<Nanos>) -> std::io::Result<()> {
        if !self.filter.may_contain(slot_tag) {
            return Ok(());
        }
        let order = index::order(slot_tag);
        let mut at = home(order, self.bits);
        let mut chunk = [0_u8; CHUNK as usize * 8];
        while at < self.length {
            let n = CHUNK.min(self.length - at) as usize;
            self.file.read_exact_at(&mut chunk[..n * 8], HEADER + at * 8)?;
            for bytes in chunk[..n * 8].chunks_exact(8) {
                let slot = u64::from_le_bytes(bytes.try_into().unwrap_or_default());
                if slot == 0 {
                    return Ok(());
                }
                let other = slot >> HOUR_BITS;
                if other == slot_tag {
                    hours.push(index::unpack_hour(slot));
                } else if index::order(other) > order {
                    return Ok(());
                }
            }
            at += n as u64;
        }
        Ok(())
    }

    /// Bytes its filter takes.
    pub(crate) fn filter_bytes(&self) -> u64 {
        self.filter.bytes()
    }

    /// Every slot of the base, in its order.
    fn slots(&self) -> std::io::Result<impl Iterator<Item = std::io::Result<u64>>> {
        let mut file = std::fs::File::open(&self.path)?;
        file.seek(std::io::SeekFrom::Start(HEADER))?;
        let mut reader = BufReader::with_capacity(1 << 20, file);
        let mut left = self.length;
        Ok(std::iter::from_fn(move || {
            while left > 0 {
                left -= 1;
                let mut bytes = [0; 8];
                if let Err(e) = reader.read_exact(&mut bytes) {
                    left = 0;
                    return Some(Err(e));
                }
                let slot = u64::from_le_bytes(bytes);
                if slot != 0 {
                    return Some(Ok(slot));
                }
            }
            None
        }))
    }
}

/// A writer that counts and checksums the body of a base and adds its slots' tags to a filter.
struct Summed {
    crc: crc32fast::Hasher,
    bytes: u64,
    filter: Filter,
    /// The first bytes of a slot split between two writes.
    carry: Vec<u8>,
}

impl std::io::Write for Summed {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.crc.update(buf);
        self.bytes += buf.len() as u64;
        let mut rest = buf;
        if !self.carry.is_empty() {
            let take = (8 - self.carry.len()).min(rest.len());
            self.carry.extend_from_slice(&rest[..take]);
            rest = &rest[take..];
            if let Ok(slot) = <[u8; 8]>::try_from(self.carry.as_slice()) {
                add_slot(&mut self.filter, u64::from_le_bytes(slot));
                self.carry.clear();
            }
        }
        let mut slots = rest.chunks_exact(8);
        for slot in &mut slots {
            add_slot(&mut self.filter, u64::from_le_bytes(slot.try_into().unwrap_or_default()));
        }
        self.carry.extend_from_slice(slots.remainder());
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Adds a non-empty slot's tag to `filter`.
fn add_slot(filter: &mut Filter, slot: u64) {
    if slot != 0 {
        filter.insert(slot >> HOUR_BITS);
    }
}

/// Writes a new base of store `id` at `commit`: the slots of `base` and of `added`, less one
/// occurrence of each slot in `superseded` (a slot may be listed several times). Returns it
/// open, with a filter of at most `filter_bytes`.
pub(crate) fn write(
    dir: &Path,
    id: [u8; 16],
    commit: u64,
    base: Option<&Base>,
    (added, superseded): (impl Iterator<Item = u64>, impl Iterator<Item = u64>),
    filter_bytes: u64,
) -> std::io::Result<Base> {
    let mut fresh: Vec<u64> = added.collect();
    fresh.sort_unstable_by_key(|slot| index::order(slot >> HOUR_BITS));
    let mut dropped: HashMap<u64, u32> = HashMap::new();
    for slot in superseded {
        *dropped.entry(slot).or_default() += 1;
    }
    let total = base.map_or(0, |b| b.entries) + fresh.len() as u64;
    // At most 70 % of the table's home positions used: short probes.
    let bits = (total.saturating_mul(10) / 7 + 1).next_power_of_two().trailing_zeros().max(3);
    let name = Name { id, commit, token: token() };
    let path = path(dir, name.token);
    let temporary = path.with_extension("idx.tmp");
    let mut filter = Filter::new(total, filter_bytes);
    let written = write_to(&temporary, (name, bits), base, fresh, dropped, &mut filter);
    let header = match written {
        Ok(header) => header,
        Err(e) => {
            let _ = std::fs::remove_file(&temporary);
            return Err(e);
        }
    };
    std::fs::rename(&temporary, &path)?;
    std::fs::File::open(dir)?.sync_all()?;
    let file = std::fs::File::open(&path)?;
    Ok(Base { file, path, name, bits, length: header.length, entries: header.entries, filter })
}

fn write_to(
    temporary: &Path,
    (name, bits): (Name, u32),
    base: Option<&Base>,
    fresh: Vec<u64>,
    mut dropped: HashMap<u64, u32>,
    filter: &mut Filter,
) -> std::io::Result<Header> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(temporary)?;
    let mut body = crc32fast::Hasher::new();
    let (mut next, mut entries) = (0_u64, 0_u64);
    {
        let mut out = BufWriter::with_capacity(1 << 20, &mut file);
        out.write_all(&[0; HEADER as usize])?;
        let mut put = |slot: u64, out: &mut BufWriter<&mut std::fs::File>| -> std::io::Result<()> {
            if let Some(n) = dropped.get_mut(&slot).filter(|n| **n > 0) {
                *n -= 1;
                return Ok(());
            }
            let at = home(index::order(slot >> HOUR_BITS), bits).max(next);
            while next < at {
                out.write_all(&[0; 8])?;
                body.update(&[0; 8]);
                next += 1;
            }
            out.write_all(&slot.to_le_bytes())?;
            body.update(&slot.to_le_bytes());
            add_slot(filter, slot);
            next += 1;
            entries += 1;
            Ok(())
        };
        let mut fresh = fresh.into_iter().peekable();
        if let Some(base) = base {
            for slot in base.slots()? {
                let slot = slot?;
                let order = index::order(slot >> HOUR_BITS);
                while let Some(new) = fresh.next_if(|new| index::order(new >> HOUR_BITS) < order) {
                    put(new, &mut out)?;
                }
                put(slot, &mut out)?;
            }
        }
        for new in fresh {
            put(new, &mut out)?;
        }
        while next < 1 << bits {
            out.write_all(&[0; 8])?;
            body.update(&[0; 8]);
            next += 1;
        }
        out.flush()?;
    }
    let header = Header { name, bits, length: next, entries, probe: probe() };
    let tail = header.tail();
    let mut crc = crc32fast::Hasher::new();
    crc.update(&tail);
    crc.combine(&body);
    let mut head = Vec::with_capacity(HEADER as usize);
    head.extend_from_slice(MAGIC);
    head.extend_from_slice(&FORMAT.to_le_bytes());
    head.extend_from_slice(&crc.finalize().to_le_bytes());
    head.extend_from_slice(&tail);
    file.seek(std::io::SeekFrom::Start(0))?;
    file.write_all(&head)?;
    file.sync_all()?;
    Ok(header)
}

/// The tokens of the base files (finished or temporary) in `dir`, with their paths.
pub(crate) fn files(dir: &Path) -> std::io::Result<Vec<(Option<u64>, PathBuf)>> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        let Some(file) = path.file_name().and_then(|n| n.to_str()) else { continue };
        let Some(rest) = file.strip_prefix(PREFIX) else { continue };
        let token = rest.strip_suffix(SUFFIX).and_then(|hex| u64::from_str_radix(hex, 16).ok());
        found.push((token, path));
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::block::HOUR;

    /// A filter of a few bits per entry at most: most absent identities skip the file, and the
    /// ones that do not are still found exactly.
    const FILTER: u64 = 1024;

    /// Fingerprints spread like real ones (the tag is taken from bits 6..46).
    fn fp(n: u64) -> u64 {
        n.wrapping_mul(0x9E37_79B9_7F4A_7C15).rotate_left(17)
    }

    fn found(base: &Base, fp: u64) -> Vec<Nanos> {
        let mut hours = Vec::new();
        base.candidates(index::tag(fp), &mut hours).unwrap();
        hours
    }

    #[test]
    fn slots_split_between_writes_still_reach_the_filter() {
        let slots: Vec<u64> = (1..=1_000_u64).map(|n| index::pack(fp(n), n as i64 * HOUR)).collect();
        let body: Vec<u8> = slots.iter().flat_map(|slot| slot.to_le_bytes()).collect();
        let filter = Filter::new(1_000, u64::MAX);
        let mut summed = Summed { crc: crc32fast::Hasher::new(), bytes: 0, filter, carry: Vec::new() };
        // Pieces of 1 to 12 bytes: a slot is split across two or three writes.
        let mut at = 0;
        for size in (1..=12).cycle() {
            if at >= body.len() {
                break;
            }
            let end = (at + size).min(body.len());
            std::io::Write::write_all(&mut summed, &body[at..end]).unwrap();
            at = end;
        }
        assert_eq!(summed.bytes, body.len() as u64);
        assert!(summed.carry.is_empty());
        assert!(slots.iter().all(|slot| summed.filter.may_contain(slot >> HOUR_BITS)));
    }

    #[test]
    fn a_merged_base_finds_every_slot_and_drops_the_superseded_ones() {
        let dir = tempfile::tempdir().unwrap();
        let id = [7; 16];
        let first = (0..3_000_u64).map(|n| index::pack(fp(n), n as i64 % 50 * HOUR));
        let one = write(dir.path(), id, 1, None, (first, std::iter::empty()), FILTER).unwrap();
        assert!((0..3_000).all(|n| found(&one, fp(n)) == vec![n as i64 % 50 * HOUR]));
        // Identities 0..1,000 move to hour 99; 3,000..5,000 are new.
        let moved = (0..1_000_u64).map(|n| index::pack(fp(n), 99 * HOUR));
        let new = (3_000..5_000_u64).map(|n| index::pack(fp(n), 7 * HOUR));
        let superseded = (0..1_000_u64).map(|n| index::pack(fp(n), n as i64 % 50 * HOUR));
        let two = write(dir.path(), id, 2, Some(&one), (moved.chain(new), superseded), FILTER).unwrap();
        assert_eq!(two.entries, 5_000);
        for n in 0..5_000_u64 {
            let expected = match n {
                0..1_000 => 99 * HOUR,
                1_000..3_000 => n as i64 % 50 * HOUR,
                _ => 7 * HOUR,
            };
            assert_eq!(found(&two, fp(n)), vec![expected], "identity {n}");
        }
        assert!(found(&two, fp(123_456)).is_empty());
        // Opened again, it is checked whole and must be the one asked for.
        let name = two.name();
        let again = Base::open(dir.path(), name, FILTER).unwrap();
        assert!((0..5_000_u64).all(|n| !found(&again, fp(n)).is_empty()), "the filter built at open holds every slot");
        let other = Name { commit: 3, ..name };
        assert!(Base::open(dir.path(), other, FILTER).err().unwrap().contains("not the one"));
    }
}
