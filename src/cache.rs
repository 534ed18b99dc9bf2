//! The recovery cache: what a store booted on a crash image observed, by image fingerprint.
//! Recovery depends on the image alone, so identical images are booted once per subject,
//! whichever workload, crash point or model produced them, as long as the cache holds them.
//!
//! It is bounded: two generations of at most [`GENERATION`] entries and [`GENERATION_BYTES`]
//! bytes of booted images each (what a store observes grows with its files: a registry of
//! 2,000 sessions is some 100 KB). When the current one is full, it becomes the old one and
//! the older is dropped; an entry found in the old one moves
//! back to the current. So memory stays flat however long a run is, while the images one
//! workload's crash points share (the hits that matter) stay. What the cache holds never
//! changes a verdict: a miss boots the store again, and a boot depends on the image alone.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crashsim_sim::{Image, Node};

use crate::subject::{recover_on, Subject};

/// Most entries of one generation of the cache. The hits that matter come from one
/// workload's crash points, which share their images: 10,000 ran the self-check, `--max-ops 5`
/// and the soaks as fast as 20,000, in 70 to 90 MB less (each entry is what a store observed,
/// some 4 KB for the small images of the exhaustive search).
pub const GENERATION: usize = 10_000;

/// Most bytes of booted images (files and paths) one generation of the cache stands for. What a
/// store observes of an image can be several times its bytes (a view of 2,000 sessions is about
/// 1 MB for 300 KB of files), so the bound is low; the small images of the exhaustive search
/// reach [`GENERATION`] first (the self-check ran as fast with 16 MB as with 64, in 30 MB less).
pub const GENERATION_BYTES: usize = 16 << 20;

/// Observed states of booted images, by subject and image fingerprint.
pub struct RecoveryCache<S: Subject> {
    generations: Mutex<Generations<S>>,
}

/// Observed states with the size of the image each was booted on.
type Entries<S> = HashMap<(S, u128), (Arc<<S as Subject>::Observed>, usize)>;

struct Generations<S: Subject> {
    current: Entries<S>,
    /// Image bytes the current generation stands for.
    current_bytes: usize,
    old: Entries<S>,
}

impl<S: Subject> Default for RecoveryCache<S> {
    fn default() -> Self {
        Self { generations: Mutex::new(Generations { current: HashMap::new(), current_bytes: 0, old: HashMap::new() }) }
    }
}

impl<S: Subject> Generations<S> {
    fn get(&mut self, key: &(S, u128)) -> Option<Arc<S::Observed>> {
        if let Some((found, _)) = self.current.get(key) {
            return Some(found.clone());
        }
        let (found, bytes) = self.old.remove(key)?;
        self.insert(key.clone(), found.clone(), bytes);
        Some(found)
    }

    fn insert(&mut self, key: (S, u128), observed: Arc<S::Observed>, bytes: usize) {
        if self.current.len() >= GENERATION || self.current_bytes.saturating_add(bytes) > GENERATION_BYTES {
            self.old = std::mem::take(&mut self.current);
            self.current_bytes = 0;
        }
        self.current_bytes = self.current_bytes.saturating_add(bytes);
        self.current.insert(key, (observed, bytes));
    }
}

impl<S: Subject> RecoveryCache<S> {
    /// What `subject` observes when booted on the image whose fingerprint is `fingerprint`;
    /// `image` builds it, called only when no store was booted on it yet.
    pub(crate) fn observe(&self, subject: &S, fingerprint: u128, image: impl FnOnce() -> Image) -> Arc<S::Observed> {
        let key = (subject.clone(), fingerprint);
        if let Some(found) = self.generations.lock().expect("cache lock").get(&key) {
            return found;
        }
        let image = image();
        let bytes = image_bytes(&image);
        let observed = Arc::new(recover_on(subject, &image).0.observed);
        self.generations.lock().expect("cache lock").insert(key, observed.clone(), bytes);
        observed
    }
}

/// The size of `image`: its paths and file contents, in bytes.
fn image_bytes(image: &Image) -> usize {
    image.nodes().map(|(path, node)| path.len() + if let Node::File(bytes) = node { bytes.len() } else { 0 }).sum()
}
