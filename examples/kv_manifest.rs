//! A key-value store with a manifest, tested with crashsim's harness API.
//!
//! Each value lives in its own data file `kv/<key>.<n>`; `kv/MANIFEST` maps each key to its
//! data file, one `key file` line each. A put writes a new data file (fsync), then a new
//! manifest beside the old one (fsync), renames it over the old one and fsyncs the directory,
//! then removes the replaced data file. Opening the store reads the manifest and every data
//! file it names, and removes what no manifest names (a temp manifest, stale data files).
//!
//! The bug variant skips the data file's fsync. Under the `ordered` model the manifest's fsync
//! is a barrier that makes the data durable anyway, and a killed process loses nothing
//! (`process`), so only `posix` (data and directory entries persist independently) catches it:
//! the manifest survives, pointing at a data file whose bytes did not.
//!
//! `cargo run --release --example kv_manifest` explores both under every model.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, Mutex};

use crashsim::subject::{Gated, Process, Recovered, Subject};
use crashsim_model::history::{Outcome, Record};
use crashsim_model::{Allowed, Property, Spec, Violation};
use crashsim_sim::{files, Errno, Fs, FsResult, OpenOptions, SimFs};

const DIR: &str = "kv";
const MANIFEST: &str = "kv/MANIFEST";
const TEMP: &str = "kv/MANIFEST.tmp";

/// The store: the manifest as last written, and the next data file number.
pub struct KvStore<F> {
    fs: Arc<F>,
    sync_data: bool,
    state: Mutex<(BTreeMap<String, String>, u64)>,
}

impl<F: Fs> KvStore<F> {
    /// Opens the store in `kv/` (created if missing), recovering what a crash left.
    pub async fn open(fs: Arc<F>, sync_data: bool) -> Result<Self, String> {
        let fail = |what: &str, e: Errno| format!("{what}: {e}");
        match fs.mkdir(DIR).await {
            Ok(()) => files::sync_dir(&*fs, "").await.map_err(|e| fail("fsync /", e))?,
            Err(Errno::EEXIST) => {}
            Err(e) => return Err(fail("mkdir kv", e)),
        }
        let text = files::read(&*fs, MANIFEST).await.map_err(|e| fail("read MANIFEST", e))?.unwrap_or_default();
        let text = String::from_utf8(text).map_err(|_| "MANIFEST is not UTF-8".to_string())?;
        let mut manifest = BTreeMap::new();
        for line in text.lines() {
            let (key, file) = line.split_once(' ').ok_or_else(|| format!("MANIFEST: malformed line {line:?}"))?;
            manifest.insert(key.to_string(), file.to_string());
        }
        let mut next = 0;
        for name in fs.readdir(DIR).await.map_err(|e| fail("readdir kv", e))? {
            let path = format!("{DIR}/{name}");
            if !manifest.values().any(|f| *f == path) && path != MANIFEST {
                fs.unlink(&path).await.map_err(|e| fail("unlink", e))?;
            }
            let number = name.rsplit_once('.').and_then(|(_, n)| n.parse::<u64>().ok());
            next = next.max(number.map_or(0, |n| n + 1));
        }
        Ok(Self { fs, sync_data, state: Mutex::new((manifest, next)) })
    }

    /// Sets `key` to `value`, durably.
    pub async fn put(&self, key: &str, value: &str) -> FsResult<()> {
        let (mut manifest, next) = self.state.lock().expect("state").clone();
        let file = format!("{DIR}/{key}.{next}");
        self.state.lock().expect("state").1 = next + 1;
        files::write(&*self.fs, &file, OpenOptions::create_new(), value.as_bytes(), self.sync_data).await?;
        let old = manifest.insert(key.to_string(), file);
        self.commit(manifest, old).await
    }

    /// Removes `key`, durably.
    pub async fn delete(&self, key: &str) -> FsResult<()> {
        let mut manifest = self.state.lock().expect("state").0.clone();
        let old = manifest.remove(key);
        self.commit(manifest, old).await
    }

    /// Every key and its value.
    pub async fn read_all(&self) -> Result<BTreeMap<String, String>, String> {
        let manifest = self.state.lock().expect("state").0.clone();
        let mut values = BTreeMap::new();
        for (key, file) in manifest {
            let bytes = files::read(&*self.fs, &file).await.map_err(|e| format!("read {file}: {e}"))?;
            let bytes = bytes.ok_or_else(|| format!("{file} of key {key} is missing"))?;
            values.insert(key, String::from_utf8_lossy(&bytes).into_owned());
        }
        Ok(values)
    }

    /// Replaces the manifest atomically, then removes the data file it no longer names.
    async fn commit(&self, manifest: BTreeMap<String, String>, old: Option<String>) -> FsResult<()> {
        let text: String = manifest.iter().map(|(k, f)| format!("{k} {f}\n")).collect();
        files::write(&*self.fs, TEMP, OpenOptions::create_trunc(), text.as_bytes(), true).await?;
        self.fs.rename(TEMP, MANIFEST).await?;
        files::sync_dir(&*self.fs, DIR).await?;
        self.state.lock().expect("state").0 = manifest;
        match old {
            Some(old) => self.fs.unlink(&old).await,
            None => Ok(()),
        }
    }
}

/// An operation of the store.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum KvOp {
    Put(&'static str, &'static str),
    Delete(&'static str),
}

impl fmt::Display for KvOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KvOp::Put(key, value) => write!(f, "put({key}, {value})"),
            KvOp::Delete(key) => write!(f, "delete({key})"),
        }
    }
}

/// What a user sees: every key and its value.
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Values(pub BTreeMap<String, String>);

impl fmt::Display for Values {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (key, value) in &self.0 {
            writeln!(f, "{key} = {value:?}")?;
        }
        Ok(())
    }
}

/// The spec: a map, and two invariants a user would notice.
pub struct KvSpec;

impl Spec for KvSpec {
    type Op = KvOp;
    type Reply = &'static str;
    type State = Values;

    fn init(&self) -> Values {
        Values::default()
    }

    fn step(&self, state: &Values, op: &KvOp) -> (&'static str, Values) {
        let mut next = state.clone();
        match op {
            KvOp::Put(key, value) => next.0.insert(key.to_string(), value.to_string()),
            KvOp::Delete(key) => next.0.remove(*key),
        };
        ("ok", next)
    }

    fn properties(&self) -> Vec<Property<Values>> {
        vec![
            Property {
                name: "Durable",
                failure: "an acknowledged put is lost or garbled after a crash",
                predicate: |observed, allowed| {
                    let settled = allowed[0].0.iter().filter(|(k, v)| allowed.iter().all(|s| s.0.get(*k) == Some(v)));
                    settled
                        .into_iter()
                        .find(|(k, v)| observed.0.get(*k) != Some(v))
                        .map(|(k, v)| format!("key {k} should hold {v:?}, found {:?}", observed.0.get(k)))
                },
            },
            Property {
                name: "NoPhantom",
                failure: "a deleted key comes back, or a value appears that was never written",
                predicate: |observed, allowed| {
                    observed
                        .0
                        .iter()
                        .find(|(k, v)| allowed.iter().all(|s| s.0.get(*k) != Some(v)))
                        .map(|(k, v)| format!("key {k} holds {v:?}, which no order of the operations leaves"))
                },
            },
        ]
    }
}

/// The store as crashsim tests it; `sync_data: false` is the bug variant.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Kv {
    pub sync_data: bool,
}

impl Subject for Kv {
    type Op = KvOp;
    type Reply = &'static str;
    type Store = KvStore<Gated>;
    type Observed = Result<Values, String>;
    type Expected = Allowed<Values>;

    fn name(&self) -> String {
        if self.sync_data { "kv-manifest" } else { "kv-manifest (no data fsync)" }.to_string()
    }

    fn alphabet(&self) -> Vec<KvOp> {
        vec![KvOp::Put("a", "1"), KvOp::Put("a", "2"), KvOp::Put("b", "1"), KvOp::Delete("a")]
    }

    async fn open(&self, fs: Arc<Gated>, _process: &Process) -> Result<KvStore<Gated>, String> {
        KvStore::open(fs, self.sync_data).await
    }

    async fn call(&self, store: &KvStore<Gated>, op: &KvOp) -> Outcome<&'static str> {
        let result = match op {
            KvOp::Put(key, value) => store.put(key, value).await,
            KvOp::Delete(key) => store.delete(key).await,
        };
        result.map_or_else(|e| Outcome::Failed(e.to_string()), |()| Outcome::Replied("ok"))
    }

    async fn recover(&self, fs: Arc<SimFs>) -> Recovered<Result<Values, String>> {
        let observed = match KvStore::open(fs, self.sync_data).await {
            Ok(store) => store.read_all().await.map(Values),
            Err(error) => Err(error),
        };
        Recovered { observed, report: String::new() }
    }

    fn expect(&self, history: &[Record<KvOp, &'static str>]) -> Allowed<Values> {
        Allowed::of(&KvSpec, history)
    }

    fn check(&self, allowed: &Allowed<Values>, observed: &Result<Values, String>) -> Result<(), Violation> {
        allowed.judge(&KvSpec, observed)
    }
}

fn main() {
    crashsim::testing::demo(&[Kv { sync_data: true }, Kv { sync_data: false }]);
}
