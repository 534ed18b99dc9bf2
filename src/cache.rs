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
//! Continuations (work after recovery) are held the same way, by image and calls.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Arc, Mutex};

use crashsim_sim::{Image, SimFs, SimOptions};

use crate::continuation::Continuation;
use crate::schedule::gate::Preempt;
use crate::subject::{recover_on_fs, Panicked, Subject};

/// Most entries of one generation of the cache. The hits that matter come from one
/// workload's crash points, which share their images: 10,000 ran the self-check, `--max-ops 5`
/// and the soaks as fast as 20,000, in 70 to 90 MB less (each entry is what a store observed,
/// some 4 KB for the small images of the exhaustive search).
pub const GENERATION: usize = 10_000;

/// Most continuations of one generation of the cache. The repeats come mostly from one
/// workload's crash points; each holds what its restart observed, kept alive past the recovery
/// cache's own generations (10,000 made the self-check's peak 50 MB higher).
pub const CONTINUATIONS: usize = 2_000;

/// Most bytes of booted images (files and paths) one generation of the cache stands for. What a
/// store observes of an image can be several times its bytes (a view of 2,000 sessions is about
/// 1 MB for 300 KB of files), so the bound is low; the small images of the exhaustive search
/// reach [`GENERATION`] first (the self-check ran as fast with 16 MB as with 64, in 30 MB less).
pub const GENERATION_BYTES: usize = 16 << 20;

/// Observed states of booted images, by subject and image fingerprint; and the continuations
/// run on them ([`crate::continuation`]), by image and calls.
pub struct RecoveryCache<S: Subject> {
    generations: Mutex<Generations<(S, u128), Observed<S>>>,
    continuations: Mutex<Generations<ContinuationKey<S>, Arc<Continuation<S>>>>,
}

/// What a store observed, or that its recovery panicked, shared by the cache and its callers.
pub type Observed<S> = Arc<Result<<S as Subject>::Observed, Panicked>>;

/// A continuation: the subject, the image's fingerprint, the calls run on it and where a client
/// may be preempted.
type ContinuationKey<S> = (S, u128, Vec<<S as Subject>::Op>, Preempt);

/// Entries with the bytes each stands for.
struct Generations<K, V> {
    /// Most entries of one generation.
    entries: usize,
    current: Generation<K, V>,
    /// Bytes the current generation stands for.
    current_bytes: usize,
    old: Generation<K, V>,
}

/// One generation's entries, each with the bytes it stands for.
type Generation<K, V> = HashMap<K, (V, usize)>;

impl<K, V> Generations<K, V> {
    fn holding(entries: usize) -> Self {
        Self { entries, current: HashMap::new(), current_bytes: 0, old: HashMap::new() }
    }
}

impl<S: Subject> Default for RecoveryCache<S> {
    fn default() -> Self {
        Self {
            generations: Mutex::new(Generations::holding(GENERATION)),
            continuations: Mutex::new(Generations::holding(CONTINUATIONS)),
        }
    }
}

impl<K: Clone + Eq + Hash, V: Clone> Generations<K, V> {
    /// The value held for `key`, and the generation moving it back to the current one dropped.
    fn get(&mut self, key: &K) -> (Option<V>, Generation<K, V>) {
        if let Some((found, _)) = self.current.get(key) {
            return (Some(found.clone()), HashMap::new());
        }
        let Some((found, bytes)) = self.old.remove(key) else {
            return (None, HashMap::new());
        };
        let dropped = self.insert(key.clone(), found.clone(), bytes);
        (Some(found), dropped)
    }

    /// Returns the generation it dropped, if any, for the caller to free once it has let go of
    /// the lock: freeing thousands of booted stores is slow, and the other workers wait on it.
    #[must_use]
    fn insert(&mut self, key: K, value: V, bytes: usize) -> Generation<K, V> {
        let mut dropped = HashMap::new();
        if self.current.len() >= self.entries || self.current_bytes.saturating_add(bytes) > GENERATION_BYTES {
            dropped = std::mem::replace(&mut self.old, std::mem::take(&mut self.current));
            self.current_bytes = 0;
        }
        self.current_bytes = self.current_bytes.saturating_add(bytes);
        self.current.insert(key, (value, bytes));
        dropped
    }
}

impl<S: Subject> RecoveryCache<S> {
    /// What `subject` observes when booted on the image whose fingerprint is `fingerprint` (or that
    /// its recovery panicked there); `image` builds it, called only when no store was booted on
    /// it yet.
    pub(crate) fn observe(&self, subject: &S, fingerprint: u128, image: impl FnOnce() -> Image) -> Observed<S> {
        self.observe_on(subject, fingerprint, || SimFs::from_image(&image(), SimOptions::unrecorded()))
    }

    /// [`RecoveryCache::observe`], `filesystem` making the filesystem the store boots on (one
    /// holding the image, unrecorded) instead of the image.
    pub(crate) fn observe_on(&self, subject: &S, fingerprint: u128, filesystem: impl FnOnce() -> SimFs) -> Observed<S> {
        let key = (subject.clone(), fingerprint);
        if let Some(found) = held(&self.generations, &key) {
            return found;
        }
        let fs = filesystem();
        let bytes = fs.initial_bytes();
        let observed = Arc::new(recover_on_fs(subject, fs).0.map(|recovered| recovered.observed));
        hold(&self.generations, key, observed.clone(), bytes);
        observed
    }

    /// The continuation of `ops` on the image whose fingerprint is `fingerprint`, made by `run`
    /// when it is not held: a continuation depends on the image and the calls alone (a run is
    /// deterministic), and a workload's crash points before and after a call's last syscall
    /// leave the same images with the same calls left.
    pub(crate) fn continued(
        &self,
        subject: &S,
        fingerprint: u128,
        ops: &[S::Op],
        preempt: Preempt,
        run: impl FnOnce() -> Continuation<S>,
    ) -> Arc<Continuation<S>> {
        let key = (subject.clone(), fingerprint, ops.to_vec(), preempt);
        if let Some(found) = held(&self.continuations, &key) {
            return found;
        }
        let continued = Arc::new(run());
        // The restart's observation is the recovery cache's; a history is a few records a call.
        let bytes = continued.len() * 64;
        hold(&self.continuations, key, continued.clone(), bytes);
        continued
    }
}

/// [`Generations::get`] under `generations`' lock; a generation it dropped is freed after the
/// lock is let go.
fn held<K: Clone + Eq + Hash, V: Clone>(generations: &Mutex<Generations<K, V>>, key: &K) -> Option<V> {
    let (found, dropped) = generations.lock().expect("cache lock").get(key);
    drop(dropped);
    found
}

/// [`Generations::insert`] under `generations`' lock; a generation it dropped is freed after
/// the lock is let go.
fn hold<K: Clone + Eq + Hash, V: Clone>(generations: &Mutex<Generations<K, V>>, key: K, value: V, bytes: usize) {
    let dropped = generations.lock().expect("cache lock").insert(key, value, bytes);
    drop(dropped);
}

#[cfg(all(test, feature = "cli"))]
mod tests {
    use std::cell::Cell;

    use crashsim_model::op::Op;
    use crashsim_sim::Image;
    use crashsim_store::Variant;

    use super::RecoveryCache;
    use crate::schedule::gate::Preempt;
    use crate::session::Session;

    #[test]
    fn a_continuation_is_run_once_per_image_and_calls() {
        let cache = RecoveryCache::default();
        let subject = Session(Variant::Reference);
        let runs = Cell::new(0);
        let image = Image::default();
        let continue_with = |fingerprint: u128, ops: &[Op]| {
            cache.continued(&subject, fingerprint, ops, Preempt::default(), || {
                runs.set(runs.get() + 1);
                crate::continuation::run_on(&subject, &image, ops.to_vec(), Preempt::default(), &cache).1
            })
        };
        let create = [Op::Create { key: "a".to_string(), label: None }];
        let first = continue_with(image.fingerprint(), &create);
        let again = continue_with(image.fingerprint(), &create);
        assert_eq!(runs.get(), 1, "the same image and calls are run once");
        assert!(std::sync::Arc::ptr_eq(&first, &again));
        continue_with(image.fingerprint(), &[Op::Create { key: "b".to_string(), label: None }]);
        continue_with(image.fingerprint() ^ 1, &create);
        assert_eq!(runs.get(), 3, "other calls, or another image, are run");
    }
}
