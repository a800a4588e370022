//! A Bloom filter over the tags of the identity index's on-disk base, kept in memory so that a
//! lookup of a new identity (the common case of ingest) reads nothing from the file.
//!
//! Without it every event of a batch cost one positional read of the base (a system call and a
//! copy from the page cache): at 10M stored events, a sixth of the ingest thread's time. The
//! filter is blocked (the bits of one tag are in one 512-bit block, one cache line) and sized at
//! [`BITS_PER_ENTRY`] bits per base entry, but never more than the bytes it is given — a share of
//! `Options::identity_memory_bytes` —, so past that size it answers "maybe" more often and the
//! base is read more often, but memory does not follow the stored events. It never answers "no"
//! for a tag it was given: a "no" is exact, a "maybe" is checked in the file.

/// Bits per entry when the budget allows: about 1 % false "maybe".
const BITS_PER_ENTRY: u64 = 10;
/// Bits set per tag, all in one block.
const PROBES: u32 = 5;
/// Words of a block: 512 bits.
const WORDS: usize = 8;

/// A blocked Bloom filter of identity tags.
pub(crate) struct Filter {
    blocks: Vec<[u64; WORDS]>,
}

/// The tag's bits, mixed (splitmix64's finalizer) so that every bit depends on all of the tag.
fn mix(tag: u64) -> u64 {
    let mut h = tag ^ (tag >> 30);
    h = h.wrapping_mul(0xBF58_476D_1CE4_E5B9);
    h ^= h >> 27;
    h = h.wrapping_mul(0x94D0_49BB_1331_11EB);
    h ^ (h >> 31)
}

impl Filter {
    /// An empty filter for `entries` tags, of at most `max_bytes` (at least one block).
    pub(crate) fn new(entries: u64, max_bytes: u64) -> Self {
        let wanted = entries.saturating_mul(BITS_PER_ENTRY).div_ceil(512);
        let allowed = max_bytes / (WORDS as u64 * 8);
        let count = wanted.min(allowed).max(1);
        Self { blocks: vec![[0; WORDS]; usize::try_from(count).unwrap_or(usize::MAX)] }
    }

    /// The block of a tag and the bits it sets there.
    fn place(&self, tag: u64) -> (usize, impl Iterator<Item = (usize, u64)> + use<>) {
        // The block follows the base file's order (the top bits of `index::order`, by
        // multiply-shift: any block count), so that building the filter while the file is
        // streamed walks its blocks in sequence instead of missing the cache once per slot (at
        // 100M entries that was seconds of every start); a mix of the tag picks the bits.
        let block = ((crate::index::order(tag) >> 32) * self.blocks.len() as u64) >> 32;
        let h = mix(tag ^ 0x5851_F42D_4C95_7F2D);
        let bits = (0..PROBES).map(move |i| {
            let bit = (h >> (i * 9)) & 511;
            ((bit / 64) as usize, 1_u64 << (bit % 64))
        });
        (block as usize, bits)
    }

    /// Adds a tag.
    pub(crate) fn insert(&mut self, tag: u64) {
        let (block, bits) = self.place(tag);
        if let Some(words) = self.blocks.get_mut(block) {
            for (word, bit) in bits {
                words[word] |= bit;
            }
        }
    }

    /// `false` when the tag was never added; `true` when it may have been.
    pub(crate) fn may_contain(&self, tag: u64) -> bool {
        let (block, mut bits) = self.place(tag);
        self.blocks.get(block).is_none_or(|words| bits.all(|(word, bit)| words[word] & bit != 0))
    }

    /// Bytes it takes.
    pub(crate) fn bytes(&self) -> u64 {
        (self.blocks.len() * WORDS * 8) as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Tags spread like real ones: 40 bits, the lowest set.
    fn tag(n: u64) -> u64 {
        (n.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 24) | 1
    }

    #[test]
    fn every_added_tag_is_found_and_few_others_are() {
        let mut filter = Filter::new(100_000, u64::MAX);
        for n in 0..100_000 {
            filter.insert(tag(n));
        }
        assert!((0..100_000).all(|n| filter.may_contain(tag(n))), "a Bloom filter never forgets");
        let false_maybe = (100_000..200_000).filter(|&n| filter.may_contain(tag(n))).count();
        // 10 bits per entry, 5 probes in a 512-bit block: about 1 %; a broken mix gives far more.
        assert!(false_maybe < 2_500, "{false_maybe} of 100,000 absent tags answered maybe");
    }

    #[test]
    fn a_filter_over_its_budget_stays_within_it_and_exact_for_what_it_holds() {
        let mut filter = Filter::new(1_000_000, 64 * 1024);
        assert_eq!(filter.bytes(), 64 * 1024);
        for n in 0..1_000_000 {
            filter.insert(tag(n));
        }
        assert!((0..1_000_000).all(|n| filter.may_contain(tag(n))));
        // Half a bit per entry: mostly "maybe", never a wrong "no".
        let tiny = Filter::new(10, 0);
        assert_eq!(tiny.bytes(), 64);
        assert!(!tiny.may_contain(tag(1)));
    }
}
