//! File contents written through the files API, kept by content generation (a leaf below the
//! state): snapshots and file clones copy a file's generation, so they read the bytes of their
//! moment. The generation is derived from the bytes, so two runs writing the same files end in
//! the same state.

use std::collections::BTreeMap;

/// Generations of files written through the API start here, far above any generation a
/// scenario file or a simulated guest write reaches.
const FIRST_GENERATION: u64 = 1 << 40;

/// File contents by content generation.
#[derive(Debug, Clone, Default)]
pub struct FileData {
    blobs: BTreeMap<u64, Vec<u8>>,
}

impl FileData {
    /// Store bytes; the generation is derived from the bytes (the same content always gets the
    /// same generation, so two runs that write the same files end in the same state).
    pub fn store(&mut self, bytes: Vec<u8>) -> u64 {
        let d = ring::digest::digest(&ring::digest::SHA256, &bytes);
        let mut n = [0u8; 8];
        n[..5].copy_from_slice(&d.as_ref()[..5]);
        let generation = FIRST_GENERATION + u64::from_le_bytes(n);
        self.blobs.insert(generation, bytes);
        generation
    }

    /// The bytes of a generation (files never written through the API read as zeros).
    pub fn get(&self, generation: u64) -> &[u8] {
        self.blobs.get(&generation).map_or(&[], Vec::as_slice)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generations_follow_the_content_and_keep_the_bytes() {
        let mut d = FileData::default();
        let a = d.store(b"one".to_vec());
        let b = d.store(b"two".to_vec());
        assert!(a > FIRST_GENERATION && b > FIRST_GENERATION && a != b);
        assert_eq!(d.store(b"one".to_vec()), a);
        assert_eq!(d.get(a), b"one");
        assert_eq!(d.get(1), b"");
    }
}
