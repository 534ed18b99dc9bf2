//! The TLA-style spec of the session store (not built yet; see the issue "The TLA-style model"):
//! abstract state, actions, invariants (NoOrphan, NoDangling, Durable, NoPhantom, Atomic,
//! Canonical, Live) and the conformance check of an observed store against the spec.
