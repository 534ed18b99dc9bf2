//! The spec's own key canonicalization. Deliberately written apart from the store's: the spec
//! states the rule, the store implements it, and a disagreement shows up as a `Canonical`
//! violation instead of being shared silently.
//!
//! Rule (OpenClaw's): trim and lowercase; `global` and `unknown` stay; `main` is
//! `agent:main:main`; `agent:<id>:<rest>` (non-empty id) stays; any other `k` is `agent:main:k`.

pub fn canonical(raw: &str) -> String {
    let key = raw.trim().to_lowercase();
    let agent_key = key.strip_prefix("agent:").and_then(|rest| rest.find(':')).is_some_and(|colon| colon > 0);
    if key == "global" || key == "unknown" || agent_key {
        key
    } else if key == "main" {
        "agent:main:main".to_string()
    } else {
        format!("agent:main:{key}")
    }
}

pub fn is_canonical(key: &str) -> bool {
    canonical(key) == key
}
