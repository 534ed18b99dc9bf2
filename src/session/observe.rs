//! From a disk image to what the spec compares: the view a user would see, after recovery
//! (a store booted on the image) or as the running store left it (a clean point).

use std::collections::BTreeSet;
use std::sync::Arc;

use crashsim_model::{Observed, Recovery, View, ViewEntry};
use crashsim_sim::{Clock, Fs, Image, SimFs};
use crashsim_store::layout::{classify, FileKind, REGISTRY};
use crashsim_store::registry::parse;
use crashsim_store::transcript::{trajectory_events, Parsed};
use crashsim_store::{RecoveryReport, Repair, Store, StoreOptions, Variant};

use crate::subject::Recovered;

/// The sessions directory of every run.
pub const DIR: &str = "sessions";

/// The view of the sessions directory in `image`, as the files stand (no repair).
/// `Err` if the registry does not parse.
pub fn view_of(image: &Image) -> Result<View, String> {
    let mut view = View::default();
    let prefix = format!("{DIR}/");
    for (path, _) in image.nodes() {
        let Some(name) = path.strip_prefix(&prefix) else { continue };
        let bytes = image.file(path).unwrap_or_default();
        match classify(name) {
            FileKind::Registry => {
                let parsed = parse(bytes).map_err(|e| format!("{REGISTRY} does not parse: {e}"))?;
                for (key, entry) in parsed.entries {
                    view.registry.insert(key, ViewEntry { id: entry.session_id, label: entry.label });
                }
            }
            FileKind::Transcript(id) if image.file(path).is_some() => {
                view.transcripts.insert(id, Parsed::of(bytes).messages);
            }
            FileKind::Trajectory(id) if image.file(path).is_some() => {
                let ended = trajectory_events(bytes).iter().any(|e| e == "session.ended");
                view.trajectories.insert(id, ended);
            }
            FileKind::Archive { file, .. } => {
                if let FileKind::Transcript(id) = classify(&file) {
                    view.archived.insert(id);
                }
            }
            _ => {}
        }
    }
    Ok(view)
}

/// What a clean point shows: the running store's files, no recovery.
pub fn observe_running(image: &Image) -> Observed {
    match view_of(image) {
        Ok(view) => Observed { view, recovery: Recovery::NotRun },
        Err(error) => Observed { view: View::default(), recovery: Recovery::Failed(error) },
    }
}

/// Boots a fresh store of `variant` on `fs` (a crash image; a different client, so any lock
/// found is a dead owner's), its waits measured on `clock`: its recovery report, or why it did
/// not start.
pub async fn boot<F: Fs>(fs: Arc<F>, variant: Variant, clock: Arc<dyn Clock>) -> Result<RecoveryReport, String> {
    let opts = StoreOptions { variant, owner: "client-1".to_string(), seed: 1, clock, ..StoreOptions::default() };
    Store::open(fs, opts).await.map(|store| store.recovery_report().clone()).map_err(|e| e.to_string())
}

/// What a user sees after a boot that ended `booted`, on a disk that was `before` and is `after`.
pub fn observed_after(booted: &Result<RecoveryReport, String>, before: &Image, after: &Image) -> Recovered<Observed> {
    match booted {
        Ok(report) => {
            let adopted: BTreeSet<String> = report
                .repairs
                .iter()
                .filter_map(|r| match r {
                    Repair::AdoptedOrphan { file, .. } => match classify(file) {
                        FileKind::Transcript(id) => Some(id),
                        _ => None,
                    },
                    _ => None,
                })
                .collect();
            let observed = match view_of(after) {
                Ok(view) => Observed { view, recovery: Recovery::Ok { adopted } },
                Err(error) => Observed { view: View::default(), recovery: Recovery::Failed(error) },
            };
            Recovered { observed, report: report.to_string() }
        }
        Err(error) => {
            let view = view_of(before).unwrap_or_default();
            let recovery = Recovery::Failed(error.clone());
            Recovered { report: format!("{recovery:?}\n"), observed: Observed { view, recovery } }
        }
    }
}

/// Boots a fresh store of `variant` on `fs` (a crash image) and observes the result.
pub async fn recover(fs: Arc<SimFs>, variant: Variant) -> Recovered<Observed> {
    let before = fs.volatile_image();
    let booted = boot(fs.clone(), variant, StoreOptions::default().clock).await;
    observed_after(&booted, &before, &fs.volatile_image())
}
