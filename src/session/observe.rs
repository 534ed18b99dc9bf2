//! From a disk image to what the spec compares: the view a user would see, after recovery
//! (a store booted on the image, then asked what a client would: its listing and a `get` of
//! every key it may hold) or as the running store left it (a clean point, files only).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use crashsim_model::{Observed, Recovery, Served, View, ViewEntry};
use crashsim_sim::{Clock, Fs, Image, SimFs};
use crashsim_store::layout::{classify, FileKind};
use crashsim_store::registry::Entry;
use crashsim_store::{RecoveryReport, Repair, Store, StoreOptions, Variant};

use super::reading::{read_kept, Reading};
use super::workload::KEYS;

use crate::subject::Recovered;

/// The sessions directory of every run.
pub const DIR: &str = "sessions";

/// The view of the sessions directory in `image`, as the files stand (no repair).
/// `Err` if the registry does not parse.
pub fn view_of(image: &Image) -> Result<View, String> {
    let (view, registry) = files_view(&image_files(image));
    registry.map(|()| view)
}

/// What is told each path of a disk, with what it holds (a file's bytes, `None` for a directory).
pub type Visit<'v> = &'v mut dyn FnMut(&str, Option<&[u8]>);

/// A disk's files, gone over one by one ([`Visit`]), in any order.
pub type Files<'a> = &'a dyn Fn(Visit);

/// The files of `image`.
pub fn image_files(image: &Image) -> impl Fn(Visit) + '_ {
    move |visit| image.nodes().for_each(|(path, node)| visit(path, node.bytes()))
}

/// The view of `files`, its registry empty if it does not parse, and why not.
fn files_view(files: Files) -> (View, Result<(), String>) {
    let mut view = View::default();
    let mut registry = Ok(());
    let prefix = format!("{DIR}/");
    files(&mut |path, file| {
        let Some(name) = path.strip_prefix(&prefix) else { return };
        match &*read_kept(name, file) {
            Reading::Registry(Ok(entries)) => view.registry.extend(entries.iter().cloned()),
            Reading::Registry(Err(e)) => registry = Err(e.clone()),
            Reading::Transcript(id, messages) => {
                view.transcripts.insert(id.clone(), messages.clone());
            }
            Reading::Trajectory(id, ended) => {
                view.trajectories.insert(id.clone(), *ended);
            }
            Reading::Archived(id) => {
                view.archived.insert(id.clone());
            }
            Reading::Unseen => {}
        }
    });
    (view, registry)
}

/// What a clean point shows: the running store's files, no recovery.
pub fn observe_running(image: &Image) -> Observed {
    match view_of(image) {
        Ok(view) => Observed::of_files(view, Recovery::NotRun),
        Err(error) => Observed::of_files(View::default(), Recovery::Failed(error)),
    }
}

/// A store booted on a crash image: its recovery report and what it answered a client.
pub struct Booted {
    pub report: RecoveryReport,
    pub answers: Answers,
}

/// A booted store's listing and its answer to a `get` of each key asked.
pub type Answers = (Result<BTreeMap<String, ViewEntry>, String>, BTreeMap<String, Result<Option<String>, String>>);

/// Boots a fresh store of `variant` on `fs` (a crash image; a different client, so any lock
/// found is a dead owner's), its waits measured on `clock`, and asks it what a client would:
/// what it served, or why it did not start.
pub async fn boot<F: Fs>(fs: Arc<F>, variant: Variant, clock: Arc<dyn Clock>) -> Result<Booted, String> {
    let opts = StoreOptions { variant, owner: "client-1".to_string(), seed: 1, clock, ..StoreOptions::default() };
    let store = Store::open(fs, opts).await.map_err(|e| e.to_string())?;
    let answers = ask(&store).await;
    Ok(Booted { report: store.recovery_report().clone(), answers })
}

/// What a client asks a store that just booted: its listing, then a `get` of every key it may
/// hold (the workloads' keys and the listed ones), as a client spells them.
async fn ask<F: Fs>(store: &Store<F>) -> Answers {
    let entry = |e: Entry| ViewEntry { id: e.session_id, label: e.label };
    let listing = store.list().await.map(|r| r.into_iter().map(|(k, e)| (k, entry(e))).collect::<BTreeMap<_, _>>());
    let mut keys: BTreeSet<String> = KEYS.iter().map(|k| k.to_string()).collect();
    keys.extend(listing.iter().flat_map(|l| l.keys().cloned()));
    let mut gets = BTreeMap::new();
    for key in keys {
        let answer = match store.get(&key).await {
            Ok(found) => Ok(found.map(|e| e.session_id)),
            Err(error) => Err(error.to_string()),
        };
        gets.insert(key, answer);
    }
    (listing.map_err(|e| e.to_string()), gets)
}

/// What a user sees after a boot that ended `booted`, on a disk that was `before` and whose
/// files are now `after`: the registry the store serves, and the rest of the files. A boot that
/// succeeded is never taken for a refusal, whatever its files hold.
pub fn observed_after(
    booted: Result<Booted, String>,
    before: impl FnOnce() -> Image,
    after: Files,
) -> Recovered<Observed> {
    match booted {
        Ok(Booted { report, answers: (listing, gets) }) => {
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
            let (mut view, registry) = files_view(after);
            let served = Served::new(listing, gets, registry.map(|()| std::mem::take(&mut view.registry)));
            // What a user sees is what the store lists, or what its files hold when it cannot list.
            view.registry = match (&served.listing, &served.files) {
                (Ok(registry), _) | (Err(_), Ok(registry)) => registry.clone(),
                (Err(_), Err(_)) => BTreeMap::new(),
            };
            let report = format!("{report}the booted store answers:\n{served}");
            let observed = Observed { view, recovery: Recovery::Ok { adopted }, served: Some(served) };
            Recovered { observed, report }
        }
        Err(error) => {
            let view = view_of(&before()).unwrap_or_default();
            let recovery = Recovery::Failed(error);
            Recovered { report: format!("{recovery:?}\n"), observed: Observed::of_files(view, recovery) }
        }
    }
}

/// Boots a fresh store of `variant` on `fs` (a crash image) and observes the result.
pub async fn recover(fs: Arc<SimFs>, variant: Variant) -> Recovered<Observed> {
    let before = fs.volatile_frozen();
    let booted = boot(fs.clone(), variant, StoreOptions::default().clock).await;
    observed_after(booted, || before.image(), &|visit| fs.visit_volatile(visit))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use crashsim_sim::{Image, Node, SimFs, SimOptions};
    use crashsim_store::transcript::{message_line, trajectory_ended, Header};

    use super::{files_view, image_files};

    /// Going over a filesystem's files as it stands gives what its image holds, and the same view.
    #[test]
    fn the_files_of_a_filesystem_are_those_of_its_image() {
        let file = |path: &str, bytes: Vec<u8>| (path.to_string(), Node::File(Arc::new(bytes)));
        let dir = |path: &str| (path.to_string(), Node::Dir);
        let mut transcript = Header::new("a1", "agent:main:a", 3, None).line();
        transcript.extend(message_line("hi"));
        transcript.extend(vec![b'x'; 9000]);
        let registry = br#"{"agent:main:a": {"sessionId": "a1", "sessionFile": "a1.jsonl", "updatedAt": 3}}"#.to_vec();
        let image = Image::from_nodes([
            dir("sessions"),
            file("sessions/sessions.json", registry),
            file("sessions/a1.jsonl", transcript),
            file("sessions/a1.trajectory.jsonl", trajectory_ended()),
            file("sessions/b2.jsonl.deleted.5", b"{}\n".to_vec()),
            dir("sessions/c3.jsonl"),
            dir("sessions/sub"),
            file("sessions/sub/d4.jsonl", b"{}\n".to_vec()),
            file("elsewhere.jsonl", b"{}\n".to_vec()),
        ]);
        let fs = SimFs::from_image(&image, SimOptions::default());
        let mut visited = Vec::new();
        fs.visit_volatile(|path, file| visited.push((path.to_string(), file.map(<[u8]>::to_vec))));
        visited.sort();
        let mut held = Vec::new();
        image_files(&image)(&mut |path, file| held.push((path.to_string(), file.map(<[u8]>::to_vec))));
        assert_eq!(visited, held);
        let (view, registry) = files_view(&|visit| fs.visit_volatile(visit));
        assert_eq!((view.clone(), registry.clone()), files_view(&image_files(&image)));
        assert_eq!((view.transcripts.len(), view.trajectories.len(), view.archived.len(), registry), (1, 1, 1, Ok(())));
    }
}
