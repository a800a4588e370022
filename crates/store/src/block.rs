//! Blocks: many events of one type and one hour in a single sled value.
//!
//! sled's cost is per key (each insert is a log record, and every flush writes them out), so an
//! ingest batch that lands in a few hours writes a few keys instead of one per event. A block
//! holds entries in time order: per entry the main time as an unsigned varint offset from the
//! hour's start, the payload length as a varint, and the encoded payload (e.g. a
//! `SurveyResponse`). The entries are stored zstd-compressed (level 1) after a format byte 2, or
//! as they are after a format byte 1 when that is not smaller. That is wrapped in a checked
//! block: a format byte 3 and the CRC-32 (little-endian) of everything after it, verified on
//! every read, so that damage to the bytes on disk is an error instead of fewer or other events.
//! (Blocks written before checksums, without the wrapper, are still read.) Payloads of one hour share most
//! of their strings (sources, touchpoints, attribute keys), so blocks shrink several times:
//! less disk, and less memory, since sled keeps what a scan reads (the rebuild at start reads
//! everything) in its page cache.

use crate::Nanos;

/// The width of a partition: one hour.
pub const HOUR: Nanos = 3_600 * 1_000_000_000;

/// Blocks are cut at about this many bytes, so that no sled value grows large.
pub const TARGET_BYTES: usize = 32 * 1024;

const RAW: u8 = 1;
const ZSTD: u8 = 2;
const CHECKED: u8 = 3;

/// Why a block cannot be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Damage {
    /// Its bytes do not match their checksum.
    Checksum,
    /// It does not decode (a format without a checksum, or bytes that passed the checksum
    /// but were written wrong).
    Malformed,
}

impl std::fmt::Display for Damage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Checksum => "its bytes do not match their checksum",
            Self::Malformed => "it does not decode",
        })
    }
}
/// zstd level: the fastest, which already takes most of the gain on these payloads.
const LEVEL: i32 = 1;

/// The start of the hour that holds `t` (for the first hour representable, `Nanos::MIN`).
pub fn hour(t: Nanos) -> Nanos {
    t.div_euclid(HOUR).saturating_mul(HOUR)
}

/// One stored event inside a block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The event's main time (ns since the epoch).
    pub time: Nanos,
    /// The encoded payload.
    pub bytes: Vec<u8>,
}

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// Reads a protobuf-style varint at `*at`, moving `at` past it; `None` when the bytes end first
/// or it runs over 64 bits. (Blocks frame their entries with it; readers of encoded messages use
/// it too.)
pub fn varint(bytes: &[u8], at: &mut usize) -> Option<u64> {
    let mut v = 0_u64;
    for shift in (0..64).step_by(7) {
        let b = *bytes.get(*at)?;
        *at += 1;
        v |= u64::from(b & 0x7f) << shift;
        if b < 0x80 {
            return Some(v);
        }
    }
    None
}

/// Entries of the hour starting at `start` as an unpacked block without a checksum, for blocks
/// made in memory and never stored (see [`crate::RawBlock::of_events`]); [`each`] reads it.
pub fn unpacked<'a>(start: Nanos, entries: impl IntoIterator<Item = (Nanos, &'a [u8])>) -> Vec<u8> {
    let mut raw = vec![RAW];
    for (time, bytes) in entries {
        put_varint(&mut raw, time.wrapping_sub(start) as u64);
        put_varint(&mut raw, bytes.len() as u64);
        raw.extend_from_slice(bytes);
    }
    raw
}

/// Encodes entries of the hour starting at `start` (each `time` must lie in that hour).
pub fn encode<'a>(start: Nanos, entries: impl IntoIterator<Item = (Nanos, &'a [u8])>) -> Vec<u8> {
    let raw = unpacked(start, entries);
    let inner = match pack(&raw[1..]) {
        Ok(packed) if packed.len() + 1 < raw.len() => {
            let mut out = Vec::with_capacity(packed.len() + 1);
            out.push(ZSTD);
            out.extend_from_slice(&packed);
            out
        }
        _ => raw,
    };
    let mut out = Vec::with_capacity(inner.len() + 5);
    out.push(CHECKED);
    out.extend_from_slice(&crc32fast::hash(&inner).to_le_bytes());
    out.extend_from_slice(&inner);
    out
}

/// Calls `f` with each entry of a block (time and payload bytes), in stored order, after
/// checking the block's checksum. On damage `f` may have seen some entries.
pub fn each(start: Nanos, block: &[u8], f: impl FnMut(Nanos, &[u8])) -> Result<(), Damage> {
    let block = match block.split_first() {
        Some((&CHECKED, rest)) => {
            let (sum, inner) = rest.split_at_checked(4).ok_or(Damage::Checksum)?;
            if crc32fast::hash(inner).to_le_bytes() != sum {
                return Err(Damage::Checksum);
            }
            inner
        }
        _ => block,
    };
    entries(start, block, f).ok_or(Damage::Malformed)
}

/// Largest unpacked block read with the thread's reused context (blocks are cut at
/// [`TARGET_BYTES`] packed; a larger claimed size is read by the streaming decoder).
const MAX_UNPACKED: u64 = 64 * 1024 * 1024;

thread_local! {
    /// One zstd decompression context per thread, reused: creating one for every block cost
    /// about as much as unpacking the block (scans read thousands of blocks).
    static DECOMPRESSOR: std::cell::RefCell<Option<zstd::bulk::Decompressor<'static>>> =
        const { std::cell::RefCell::new(None) };
}

thread_local! {
    /// One zstd compression context per thread, reused: creating one cost about as much as
    /// compressing a small block (an out-of-order batch writes hundreds of them).
    static COMPRESSOR: std::cell::RefCell<Option<zstd::bulk::Compressor<'static>>> =
        const { std::cell::RefCell::new(None) };
}

/// `raw` as a zstd frame (stating its size), with the thread's context.
fn pack(raw: &[u8]) -> std::io::Result<Vec<u8>> {
    let reused = COMPRESSOR.with(|cell| {
        let mut cell = cell.try_borrow_mut().ok()?;
        if cell.is_none() {
            *cell = zstd::bulk::Compressor::new(LEVEL).ok();
        }
        cell.as_mut()?.compress(raw).ok()
    });
    reused.map_or_else(|| zstd::bulk::compress(raw, LEVEL), Ok)
}

/// The unpacked bytes of a zstd frame, with the thread's context when the frame states its size.
fn unpack(packed: &[u8]) -> Option<Vec<u8>> {
    let size = zstd::zstd_safe::get_frame_content_size(packed).ok().flatten().filter(|size| *size <= MAX_UNPACKED);
    let reused = size.and_then(|size| {
        DECOMPRESSOR.with(|cell| {
            let mut cell = cell.try_borrow_mut().ok()?;
            if cell.is_none() {
                *cell = zstd::bulk::Decompressor::new().ok();
            }
            let mut out = Vec::with_capacity(usize::try_from(size).ok()?);
            cell.as_mut()?.decompress_to_buffer(packed, &mut out).ok()?;
            (out.len() as u64 == size).then_some(out)
        })
    });
    reused.or_else(|| zstd::stream::decode_all(packed).ok())
}

fn entries(start: Nanos, block: &[u8], mut f: impl FnMut(Nanos, &[u8])) -> Option<()> {
    let unpacked;
    let block = match block.split_first()? {
        (&RAW, rest) => rest,
        (&ZSTD, rest) => {
            unpacked = unpack(rest)?;
            &unpacked[..]
        }
        _ => return None,
    };
    let mut at = 0;
    while at < block.len() {
        let offset = varint(block, &mut at)?;
        let len = usize::try_from(varint(block, &mut at)?).ok()?;
        let bytes = block.get(at..at.checked_add(len)?)?;
        at += len;
        f(start.wrapping_add(offset as i64), bytes);
    }
    Some(())
}

/// Decodes every entry of a block.
pub fn decode(start: Nanos, block: &[u8]) -> Result<Vec<Entry>, Damage> {
    let mut out = Vec::new();
    each(start, block, |time, bytes| out.push(Entry { time, bytes: bytes.to_vec() }))?;
    Ok(out)
}

/// The `source` (field 2) and `id` (field 1) of an encoded payload, read without decoding the
/// rest: every event type carries them under those numbers. Missing fields read as "".
pub fn names(payload: &[u8]) -> Option<(&[u8], &[u8])> {
    let (mut id, mut source): (&[u8], &[u8]) = (b"", b"");
    let mut at = 0;
    while at < payload.len() {
        let tag = varint(payload, &mut at)?;
        match tag & 7 {
            0 => {
                varint(payload, &mut at)?;
            }
            1 => at = at.checked_add(8)?,
            2 => {
                let len = usize::try_from(varint(payload, &mut at)?).ok()?;
                let value = payload.get(at..at.checked_add(len)?)?;
                at += len;
                match tag >> 3 {
                    1 => id = value,
                    2 => source = value,
                    _ => {}
                }
            }
            5 => at = at.checked_add(4)?,
            _ => return None,
        }
    }
    (at == payload.len()).then_some((source, id))
}

#[cfg(test)]
mod tests {
    use super::*;
    use cxm_proto::v1::SurveyResponse;
    use prost::Message;

    #[test]
    fn entries_round_trip_across_the_epoch() {
        for start in [hour(-1), 0, hour(1_767_225_599_000_000_000)] {
            let entries = [(start, b"a".as_slice()), (start + HOUR - 1, b"".as_slice()), (start + 5, &[7; 300])];
            let block = encode(start, entries);
            let back = decode(start, &block).unwrap();
            let expected: Vec<Entry> = entries.iter().map(|(t, b)| Entry { time: *t, bytes: b.to_vec() }).collect();
            assert_eq!(back, expected);
        }
        assert_eq!(decode(0, &[9]), Err(Damage::Malformed));
        assert_eq!(decode(0, &[RAW, 1, 5, 0]), Err(Damage::Malformed));
        assert_eq!(decode(0, &[ZSTD, 1, 5, 0]), Err(Damage::Malformed));
        // Repetitive payloads are stored compressed.
        let payload = b"source=delighted touchpoint=onboarding channel=email".repeat(4);
        let block = encode(0, (0..100).map(|i| (i, payload.as_slice())));
        assert_eq!((block[0], block[5]), (CHECKED, ZSTD));
        assert!(block.len() < 100 * payload.len() / 5);
        assert_eq!(decode(0, &block).map(|e| e.len()), Ok(100));
        // The thread's reused context unpacks blocks one after the other, each to its own bytes.
        let other = b"touchpoint=renewal channel=in_app".repeat(5);
        let second = encode(HOUR, (0..70).map(|i| (HOUR + i, other.as_slice())));
        for _ in 0..3 {
            assert!(decode(0, &block).unwrap().iter().all(|e| e.bytes == payload));
            assert!(decode(HOUR, &second).unwrap().iter().all(|e| e.bytes == other));
        }
        // Blocks written before checksums still read.
        let legacy = [RAW, 0, 1, b'x'];
        assert_eq!(decode(0, &legacy), Ok(vec![Entry { time: 0, bytes: b"x".to_vec() }]));
    }

    #[test]
    fn any_flipped_bit_fails_the_checksum() {
        let payload = b"source=delighted touchpoint=onboarding".repeat(3);
        let block = encode(HOUR, (0..20).map(|i| (HOUR + i, payload.as_slice())));
        for at in 1..block.len() {
            for bit in [0, 3, 7] {
                let mut bad = block.clone();
                bad[at] ^= 1 << bit;
                assert_eq!(decode(HOUR, &bad), Err(Damage::Checksum), "byte {at} bit {bit}");
            }
        }
        assert_eq!(decode(HOUR, &block[..block.len() - 1]), Err(Damage::Checksum));
    }

    #[test]
    fn names_are_read_from_the_encoded_payload() {
        let r = SurveyResponse {
            id: "r-1".into(),
            source: "delighted".into(),
            score: 9,
            comment: "x".repeat(200),
            ..Default::default()
        };
        let bytes = r.encode_to_vec();
        assert_eq!(names(&bytes), Some((b"delighted".as_slice(), b"r-1".as_slice())));
        assert_eq!(names(&[0x0a, 9]), None);
    }
}
