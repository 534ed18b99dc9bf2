//! What every check of an exploration is made against: the subject, the models judged in one
//! pass, the options and the recovery cache. The explorer, the soak and the shrinker hand one
//! scope down through every check instead of the four each.

use crashsim_sim::Model;

use super::result::WorkloadResult;
use crate::bounds::ExploreOptions;
use crate::cache::RecoveryCache;
use crate::subject::Subject;

/// A subject explored under `models` (one result each, in this order) with `opts`, its boots
/// taken from `cache`.
pub(crate) struct Scope<'a, S: Subject> {
    pub(crate) subject: &'a S,
    pub(crate) models: &'a [Model],
    pub(crate) opts: &'a ExploreOptions,
    pub(crate) cache: &'a RecoveryCache<S>,
}

impl<'a, S: Subject> Scope<'a, S> {
    pub(crate) fn new(
        subject: &'a S,
        models: &'a [Model],
        opts: &'a ExploreOptions,
        cache: &'a RecoveryCache<S>,
    ) -> Self {
        assert!(!models.is_empty(), "a check is made under at least one model");
        Self { subject, models, opts, cache }
    }

    /// A scope of the one model `model`.
    pub(crate) fn one(subject: &'a S, model: &'a Model, opts: &'a ExploreOptions, cache: &'a RecoveryCache<S>) -> Self {
        Self::new(subject, std::slice::from_ref(model), opts, cache)
    }

    /// An empty result for each model, in order.
    pub(crate) fn results(&self) -> Vec<WorkloadResult<S>> {
        self.models.iter().map(|_| WorkloadResult::default()).collect()
    }
}
