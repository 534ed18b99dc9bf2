//! Session ids and timestamps from a seeded source: never the wall clock, never OS randomness.
//!
//! Ids are 8 hex digits drawn from a ChaCha8 stream. The clock is a counter of milliseconds that
//! starts at a fixed epoch and only moves forward: recovery advances it past every timestamp it
//! finds on disk, so archives and entries written after a restart sort after those before it.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

#[derive(Clone, Debug)]
pub struct IdSource {
    rng: ChaCha8Rng,
    now_ms: u64,
}

impl IdSource {
    pub fn new(seed: u64, clock_start_ms: u64) -> Self {
        Self { rng: ChaCha8Rng::seed_from_u64(seed), now_ms: clock_start_ms }
    }

    /// A fresh session id (the caller checks it against files that exist).
    pub fn session_id(&mut self) -> String {
        format!("{:08x}", self.rng.next_u32())
    }

    /// The next timestamp: strictly after every earlier one.
    pub fn tick(&mut self) -> u64 {
        self.now_ms += 1;
        self.now_ms
    }

    /// Where the source is: ids drawn (as a position in the stream) and the clock. Two sources
    /// of one seed at one position give the same ids and timestamps from here on.
    pub fn position(&self) -> (u128, u64) {
        (self.rng.get_word_pos(), self.now_ms)
    }

    /// Moves the clock past a timestamp seen on disk.
    pub fn observe(&mut self, ts: u64) {
        self.now_ms = self.now_ms.max(ts);
    }
}
