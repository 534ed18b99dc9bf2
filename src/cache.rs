//! The recovery cache: what a store booted on a crash image observed, by variant and image
//! fingerprint. Recovery depends on the image alone, so identical images are booted once per
//! variant, whichever workload, crash point or model produced them.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crashsim_model::Observed;
use crashsim_sim::Image;
use crashsim_store::Variant;

use crate::observe::recover;

/// Observed states of booted images, by variant and image fingerprint.
#[derive(Default)]
pub struct RecoveryCache {
    #[allow(clippy::type_complexity)]
    map: Mutex<HashMap<(Variant, u128), Arc<Observed>>>,
}

impl RecoveryCache {
    pub(crate) fn observe(&self, variant: Variant, image: &Image, fingerprint: u128) -> Arc<Observed> {
        if let Some(found) = self.map.lock().expect("cache lock").get(&(variant, fingerprint)) {
            return found.clone();
        }
        let observed = Arc::new(recover(image, variant).observed);
        self.map.lock().expect("cache lock").insert((variant, fingerprint), observed.clone());
        observed
    }
}
