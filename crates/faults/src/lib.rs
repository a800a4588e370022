//! Fault injection shared by the store's tests and the end-to-end tests: bytes flipped inside
//! the event blocks sled holds on disk, and a small tmpfs that a test can fill to the last byte.
//! Only tests depend on this crate.
#![forbid(unsafe_code)]

use std::io::Write as _;
use std::path::{Path, PathBuf};

/// Every file under `dir`, recursively.
pub fn files(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            out.extend(files(&path)?);
        } else {
            out.push(path);
        }
    }
    Ok(out)
}

/// Flips a byte inside every event block found in sled's files under `sled_dir`: a block is
/// stored as format byte 3, a CRC-32, format byte 2 and a zstd frame (magic 28 b5 2f fd).
/// Returns how many blocks were hit.
pub fn flip_blocks(sled_dir: &Path) -> std::io::Result<usize> {
    let mut hit = 0;
    for path in files(sled_dir)? {
        let mut bytes = std::fs::read(&path)?;
        let mut at = 0;
        while let Some(found) = bytes[at..].windows(5).position(|w| w == [2, 0x28, 0xb5, 0x2f, 0xfd]) {
            let start = at + found;
            if start >= 5 && bytes[start - 5] == 3 && start + 40 < bytes.len() {
                bytes[start + 30] ^= 0x55;
                hit += 1;
            }
            at = start + 5;
        }
        std::fs::write(&path, bytes)?;
    }
    Ok(hit)
}

/// A small tmpfs mounted for one test, unmounted (lazily) when dropped.
#[derive(Debug)]
pub struct Tmpfs(tempfile::TempDir);

impl Tmpfs {
    /// Mounts a tmpfs of `megabytes` on a fresh temp dir; `None` where mounting is not permitted
    /// (it needs root).
    pub fn mount(megabytes: u32) -> Option<Self> {
        let dir = tempfile::tempdir().ok()?;
        let status = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={megabytes}m"), "tmpfs"])
            .arg(dir.path())
            .stderr(std::process::Stdio::null())
            .status();
        status.is_ok_and(|s| s.success()).then(|| Self(dir))
    }

    /// Where it is mounted.
    pub fn path(&self) -> &Path {
        self.0.path()
    }

    /// Writes a file `filler` until the file system is full; returns its path (remove it to free
    /// the space again).
    pub fn fill(&self) -> std::io::Result<PathBuf> {
        let path = self.path().join("filler");
        let mut file = std::fs::File::create(&path)?;
        let chunk = vec![7_u8; 64 * 1024];
        while file.write_all(&chunk).is_ok() {}
        while file.write_all(&chunk[..512]).is_ok() {}
        Ok(path)
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount").arg("-l").arg(self.0.path()).status();
    }
}

/// Flips (xor 0x55) the byte at `at` of the file `path`.
pub fn flip_byte(path: &Path, at: u64) -> std::io::Result<()> {
    let mut bytes = std::fs::read(path)?;
    let at = usize::try_from(at).map_err(std::io::Error::other)?;
    let byte =
        bytes.get_mut(at).ok_or_else(|| std::io::Error::other(format!("{} is shorter than {at}", path.display())))?;
    *byte ^= 0x55;
    std::fs::write(path, bytes)
}
