//! Quickstart (README, "Test your own store"): a store that keeps one note in a file,
//! replaced atomically, and a bug variant that skips the temp file's fsync.

use std::sync::Arc;

use crashsim::subject::{Gated, Process, Recovered, Subject};
use crashsim_model::history::{Outcome, Record};
use crashsim_model::{Allowed, Property, Spec, Violation};
use crashsim_sim::{files, Fs, FsResult, OpenOptions, SimFs};

/// Saves `text` as the note: a temp file, its fsync (skipped if `buggy`), a rename over the
/// note, a directory fsync.
async fn save<F: Fs>(fs: &F, text: &str, buggy: bool) -> FsResult<()> {
    files::write(fs, "note.tmp", OpenOptions::create_trunc(), text.as_bytes(), !buggy).await?;
    fs.rename("note.tmp", "note").await?;
    files::sync_dir(fs, "").await
}

/// The spec: the note is the last text saved.
struct NoteSpec;

impl Spec for NoteSpec {
    type Op = String;
    type Reply = &'static str;
    type State = String;

    fn init(&self) -> String {
        String::new()
    }

    fn step(&self, _note: &String, text: &String) -> (&'static str, String) {
        ("ok", text.clone())
    }

    fn properties(&self) -> Vec<Property<String>> {
        let predicate = |note: &String, allowed: &[String]| (!allowed.contains(note)).then(|| format!("note {note:?}"));
        vec![Property { name: "Durable", failure: "a saved note is lost or garbled by a crash", predicate }]
    }
}

/// The store as crashsim runs it: saves go straight to the filesystem.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Note {
    pub buggy: bool,
}

impl Subject for Note {
    type Op = String;
    type Reply = &'static str;
    type Store = Arc<Gated>;
    type Observed = Result<String, String>;
    type Expected = Allowed<String>;

    fn alphabet(&self) -> Vec<String> {
        vec!["hello".to_string(), "bye".to_string()]
    }

    async fn open(&self, fs: Arc<Gated>, _process: &Process) -> Result<Arc<Gated>, String> {
        Ok(fs)
    }

    async fn call(&self, fs: &Arc<Gated>, text: &String) -> Outcome<&'static str> {
        save(&**fs, text, self.buggy).await.map_or_else(|e| Outcome::Failed(e.to_string()), |()| Outcome::Replied("ok"))
    }

    /// What a user reads after a crash ("" if there is no note).
    async fn recover(&self, fs: Arc<SimFs>) -> Recovered<Result<String, String>> {
        let note = files::read(&*fs, "note").await.map(|n| String::from_utf8_lossy(&n.unwrap_or_default()).into());
        Recovered { observed: note.map_err(|e| e.to_string()), report: String::new() }
    }

    fn expect(&self, history: &[Record<String, &'static str>]) -> Allowed<String> {
        Allowed::of(&NoteSpec, history)
    }

    fn check(&self, allowed: &Allowed<String>, note: &Result<String, String>) -> Result<(), Violation> {
        allowed.judge(&NoteSpec, note)
    }
}

fn main() {
    crashsim::testing::demo(&[Note { buggy: false }, Note { buggy: true }]);
}
