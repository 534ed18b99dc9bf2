//! Crash points judged once per workload. The interleavings of a concurrent workload reach the
//! same crash state again and again: a read or a stat moved before or after another client's
//! write changes the schedule but not one logged event, and every model's crash images after a
//! syscall are made of the log's events alone
//! ([`SimFs::crash_point_fingerprints`](crashsim_sim::SimFs::crash_point_fingerprints)).
//! A crash point with the same events so far, the same model and a history the spec expects
//! alike ([`Subject::expected_fingerprint`](crate::subject::Subject::expected_fingerprint)) as a
//! point judged before it in the same workload takes that point's verdicts image by image: every
//! count and finding is what judging it would give, and no image is built, no store booted.
//! A clean point (the running store's files after a call) is reused the same way.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Arc, Mutex};

use crashsim_model::Violation;
use crashsim_sim::Model;

use crate::subject::{History, Subject};

/// The verdict of one image of a crash point, with what a finding there reports.
#[derive(Clone, Debug)]
pub(super) struct ImageVerdict {
    pub(super) fingerprint: u128,
    pub(super) violation: Option<Violation>,
    /// Pending events that survive in the image.
    pub(super) survivors: usize,
}

/// The crash points of one workload judged so far, by key ([`SeenPoints::crash_key`],
/// [`SeenPoints::clean_key`]). The threads that judge one run's segments read it and add to it
/// only once all are done, so which points are reused (and counted so) never depends on the
/// threads; a reused point records exactly what judging it records.
#[derive(Default)]
pub(crate) struct SeenPoints {
    verdicts: Mutex<HashMap<u128, Arc<Vec<ImageVerdict>>>>,
    /// The spec's fingerprint of what it expects of each history met so far, by the history's
    /// own fingerprint: interleavings repeat histories as they repeat crash states, and the
    /// spec's replay of one is most of what a reused point would still cost.
    expected: Mutex<HashMap<u128, Option<u128>>>,
}

impl SeenPoints {
    /// A crash point's key: the model, the fingerprint of the log events before it
    /// ([`SimFs::crash_point_fingerprints`](crashsim_sim::SimFs::crash_point_fingerprints)), and
    /// the spec's fingerprint of what it expects of the history there.
    pub(super) fn crash_key(model: Model, events: u128, expected: u128) -> u128 {
        let tag = match model {
            Model::Process => 0,
            Model::Ordered => 1,
            Model::Posix => 2,
        };
        key(tag, events, expected)
    }

    /// A clean point's key: the running store's files after the events before it, and the
    /// spec's fingerprint of what it expects of the history there.
    pub(super) fn clean_key(events: u128, expected: u128) -> u128 {
        key(3, events, expected)
    }

    /// [`Subject::expected_fingerprint`] of what the spec expects of `history`: `expect` makes
    /// it, called only for a history not met before in this workload.
    pub(super) fn expected<S: Subject>(
        &self,
        history: &History<S>,
        expect: impl FnOnce() -> Option<u128>,
    ) -> Option<u128> {
        let mut hasher = xxhash_rust::xxh3::Xxh3::new();
        history.hash(&mut hasher);
        let key = hasher.digest128();
        if let Some(&known) = self.expected.lock().expect("seen points lock").get(&key) {
            return known;
        }
        let fingerprint = expect();
        self.expected.lock().expect("seen points lock").insert(key, fingerprint);
        fingerprint
    }

    /// The verdicts of the point judged with `key`, if one was.
    pub(super) fn get(&self, key: u128) -> Option<Arc<Vec<ImageVerdict>>> {
        self.verdicts.lock().expect("seen points lock").get(&key).cloned()
    }

    /// Keeps the verdicts of a point judged with `key` (the first kept stays: any other is equal).
    pub(super) fn insert(&self, key: u128, verdicts: Arc<Vec<ImageVerdict>>) {
        self.verdicts.lock().expect("seen points lock").entry(key).or_insert(verdicts);
    }
}

fn key(tag: u8, events: u128, expected: u128) -> u128 {
    let mut bytes = [0u8; 33];
    bytes[0] = tag;
    bytes[1..17].copy_from_slice(&events.to_le_bytes());
    bytes[17..].copy_from_slice(&expected.to_le_bytes());
    xxhash_rust::xxh3::xxh3_128(&bytes)
}
