//! Session key canonicalization, as OpenClaw does it.
//!
//! Lowercase; `global` and `unknown` pass through; `main` is `agent:main:main`;
//! `agent:<id>:<rest>` stays; any other key `k` becomes `agent:main:k`. A lookup by the raw or
//! the canonical form finds the same session because every lookup canonicalizes first.

/// The canonical form of a session key.
pub fn canonical_key(raw: &str) -> String {
    let key = raw.trim().to_lowercase();
    match key.as_str() {
        "global" | "unknown" => key,
        "main" => "agent:main:main".to_string(),
        _ if is_agent_key(&key) => key,
        _ => format!("agent:main:{key}"),
    }
}

/// Whether a key is already canonical.
pub fn is_canonical(key: &str) -> bool {
    canonical_key(key) == key
}

/// `agent:<id>:<rest>` with a non-empty id. The rest may be empty, so that canonicalization is
/// idempotent: `canonical_key("")` is `agent:main:`, which must stay as it is.
fn is_agent_key(key: &str) -> bool {
    let Some(rest) = key.strip_prefix("agent:") else {
        return false;
    };
    matches!(rest.split_once(':'), Some((id, _)) if !id.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonicalizes_as_openclaw() {
        assert_eq!(canonical_key("main"), "agent:main:main");
        assert_eq!(canonical_key("Settings2"), "agent:main:settings2");
        assert_eq!(canonical_key("agent:ops:Cron"), "agent:ops:cron");
        assert_eq!(canonical_key("global"), "global");
        assert_eq!(canonical_key("UNKNOWN"), "unknown");
        assert_eq!(canonical_key("agent:main:main"), "agent:main:main");
        assert_eq!(canonical_key("agent:"), "agent:main:agent:");
        for key in ["main", "x", "agent:a:b", "global", "Agent:Q:r", "", " ", "agent:", "agent::x", "agent:main:"] {
            assert!(is_canonical(&canonical_key(key)), "{key}");
        }
    }
}
