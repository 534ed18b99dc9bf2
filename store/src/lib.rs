//! The session store under test (not built yet; see the issue "The reference session store").
