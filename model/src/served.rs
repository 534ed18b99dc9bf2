//! What a store booted on a crash image answers a client, judged with its files.
//!
//! A store may start on a disk and serve something other than what its files hold: a loader
//! that falls back to `{}` on a parse error starts fine, answers every `get` with "no such
//! session" and leaves the damaged file as it found it. Its files alone look like a store that
//! refused to start. So after every recovery the harness also asks the booted store what a
//! client would (a listing, and a `get` of every key it may hold), the view a user sees is the
//! registry the store serves, and the answers must agree with each other and with the files.

use std::collections::BTreeMap;
use std::fmt;

use crate::invariant::{Invariant, ViewEntry};
use crate::keys::canonical;

/// A booted store's answers.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Served {
    /// Its listing (canonical key -> entry), or the error it answered.
    pub listing: Result<BTreeMap<String, ViewEntry>, String>,
    /// A `get` of each key asked (as a client spells it): the session id, `None` for "no such
    /// session", or the error it answered.
    pub gets: BTreeMap<String, Result<Option<String>, String>>,
    /// The registry its files hold after the boot, or why it does not parse.
    pub files: Result<BTreeMap<String, ViewEntry>, String>,
    /// The first way the answers disagree with each other or with the files (the invariant a
    /// user finds broken, and how), decided once: it depends on them alone.
    pub disagreement: Option<(Invariant, String)>,
}

impl Served {
    /// The answers and the files, judged against each other.
    pub fn new(
        listing: Result<BTreeMap<String, ViewEntry>, String>,
        gets: BTreeMap<String, Result<Option<String>, String>>,
        files: Result<BTreeMap<String, ViewEntry>, String>,
    ) -> Self {
        let mut served = Self { listing, gets, files, disagreement: None };
        served.disagreement = served.first_disagreement();
        served
    }

    fn first_disagreement(&self) -> Option<(Invariant, String)> {
        let listing = match &self.listing {
            Ok(listing) => listing,
            Err(error) => {
                return Some((Invariant::Live, format!("the store started but cannot list its sessions: {error}")))
            }
        };
        for (key, answer) in &self.gets {
            let listed = listing.get(&canonical(key)).map(|e| &e.id);
            match answer {
                Err(error) => {
                    return Some((Invariant::Live, format!("the store started but get {key:?} fails: {error}")))
                }
                Ok(None) if listed.is_some() => {
                    let id = listed.expect("listed");
                    return Some((
                        Invariant::Durable,
                        format!("get {key:?} answers no such session; the listing shows {id}"),
                    ));
                }
                Ok(Some(id)) if listed != Some(id) => {
                    let listed = listed.map_or("nothing".to_string(), |l| format!("session {l}"));
                    return Some((
                        Invariant::NoPhantom,
                        format!("get {key:?} answers session {id}; the listing shows {listed}"),
                    ));
                }
                Ok(_) => {}
            }
        }
        match &self.files {
            Err(error) => Some((
                Invariant::Live,
                format!("the store started and serves {} session(s), but its registry does not parse ({error}): the next process to read it fails", listing.len()),
            )),
            Ok(files) => {
                let missing = files.keys().find(|k| !listing.contains_key(*k));
                let extra = listing.iter().find(|(k, e)| files.get(*k) != Some(*e));
                if let Some(key) = missing {
                    Some((Invariant::Durable, format!("the registry file holds {key} but the store does not serve it")))
                } else {
                    extra.map(|(key, entry)| {
                        (Invariant::NoPhantom, format!("the store serves {key} -> {} but the registry file does not hold it", entry.id))
                    })
                }
            }
        }
    }
}

impl fmt::Display for Served {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.listing {
            Ok(listing) => {
                let entries: Vec<String> = listing.iter().map(|(k, e)| format!("{k} -> {}", e.id)).collect();
                writeln!(f, "  list: [{}]", entries.join(", "))?;
            }
            Err(error) => writeln!(f, "  list: error: {error}")?,
        }
        for (key, answer) in &self.gets {
            match answer {
                Ok(Some(id)) => writeln!(f, "  get {key}: session {id}")?,
                Ok(None) => writeln!(f, "  get {key}: no such session")?,
                Err(error) => writeln!(f, "  get {key}: error: {error}")?,
            }
        }
        Ok(())
    }
}
