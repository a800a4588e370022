//! The yardstick: how fast sled itself takes flushed batches of 1,000 keys on this disk.
//!
//! Keys and values have the size of cxm's old one-key-per-event layout (a time-ordered key of
//! about 30 bytes, a value the size of an encoded response); each batch is one `apply_batch`
//! followed by `flush`, exactly what an acknowledged ingest batch needs at the least.

use std::path::Path;
use std::time::Instant;

/// Keys per flushed batch.
pub const BATCH_KEYS: usize = 1_000;

/// The measured raw rate.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RawRate {
    /// Keys written.
    pub keys: u64,
    /// Bytes per value.
    pub value_bytes: usize,
    /// Seconds taken.
    pub seconds: f64,
    /// Keys per second.
    pub keys_per_second: f64,
}

/// Writes `batches` flushed batches of [`BATCH_KEYS`] keys with `value_bytes`-byte values into a
/// fresh sled database at `dir` (removed afterwards), with the same cache size cxmd uses.
pub fn measure(dir: &Path, batches: usize, value_bytes: usize, cache_bytes: u64) -> anyhow::Result<RawRate> {
    let db = sled::Config::new().path(dir).cache_capacity(cache_bytes).open()?;
    let tree = db.open_tree("events")?;
    // Bytes that compress like real payloads would not: sled does not compress here anyway.
    let value: Vec<u8> = (0..value_bytes).map(|i| (i * 31 % 251) as u8).collect();
    let started = Instant::now();
    let mut key = Vec::with_capacity(32);
    for b in 0..batches {
        let mut batch = sled::Batch::default();
        for k in 0..BATCH_KEYS {
            let n = (b * BATCH_KEYS + k) as u64;
            key.clear();
            key.extend_from_slice(b"e\x01");
            key.extend_from_slice(&(n * 63_072).to_be_bytes());
            key.extend_from_slice(&9_u16.to_be_bytes());
            key.extend_from_slice(b"delighted");
            key.extend_from_slice(format!("r{n:09}").as_bytes());
            batch.insert(key.as_slice(), value.as_slice());
        }
        tree.apply_batch(batch)?;
        db.flush()?;
    }
    let seconds = started.elapsed().as_secs_f64();
    drop(tree);
    drop(db);
    std::fs::remove_dir_all(dir)?;
    let keys = (batches * BATCH_KEYS) as u64;
    Ok(RawRate { keys, value_bytes, seconds, keys_per_second: keys as f64 / seconds })
}
