//! The recovery cache: what a store booted on a crash image observed, by image fingerprint.
//! Recovery depends on the image alone, so identical images are booted once per subject,
//! whichever workload, crash point or model produced them.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crashsim_sim::Image;

use crate::subject::{recover_on, Subject};

/// Observed states of booted images, by subject and image fingerprint.
pub struct RecoveryCache<S: Subject> {
    #[allow(clippy::type_complexity)]
    map: Mutex<HashMap<(S, u128), Arc<S::Observed>>>,
}

impl<S: Subject> Default for RecoveryCache<S> {
    fn default() -> Self {
        Self { map: Mutex::new(HashMap::new()) }
    }
}

impl<S: Subject> RecoveryCache<S> {
    /// What `subject` observes when booted on the image whose fingerprint is `fingerprint`;
    /// `image` builds it, called only when no store was booted on it yet.
    pub(crate) fn observe(&self, subject: &S, fingerprint: u128, image: impl FnOnce() -> Image) -> Arc<S::Observed> {
        let key = (subject.clone(), fingerprint);
        if let Some(found) = self.map.lock().expect("cache lock").get(&key) {
            return found.clone();
        }
        let observed = Arc::new(recover_on(subject, &image()).0.observed);
        self.map.lock().expect("cache lock").insert(key, observed.clone());
        observed
    }
}
