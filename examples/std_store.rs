//! A store written on plain `std::fs`, tested by changing one import: `use std::fs;` becomes
//! `use crashsim::fs::std as fs;`. Outside a harness run the shim is `std::fs`; inside one it is
//! the simulated disk, so every call below is a crash point.
//!
//! The store keeps key-value pairs in `db/table`, one `key=value` line each, replaced atomically
//! on every put: a temp file, its fsync, a rename over the table, an fsync of `db`. The bug
//! variant skips that last fsync, so an acknowledged put may be lost on power loss (`ordered`,
//! `posix`) but never when only the process dies.
//!
//! Its `main` is a command line for both ([`crashsim::cli::run`]): `explore`, `repro` and `soak`,
//! and every reproducer ends with the command that replays it through this program:
//!
//! ```text
//! cargo run --release --features runner --example std_store                 # explore both
//! cargo run --release --features runner --example std_store -- repro --variant std-table-no-dir-fsync
//! ```

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use crashsim::fs::std as fs;

/// The store, as its users call it: nothing here knows about crashsim.
pub struct Table {
    dir: PathBuf,
    rows: BTreeMap<String, String>,
    sync_dir: bool,
}

impl Table {
    /// Opens (creating) the table in `dir`.
    pub fn open(dir: &Path, sync_dir: bool) -> std::io::Result<Table> {
        fs::create_dir_all(dir)?;
        // The directory's own entry is durable only once its parent is synced.
        let parent = dir.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
        fs::File::open(parent)?.sync_all()?;
        let rows = match fs::read_to_string(dir.join("table")) {
            Ok(text) => text.lines().filter_map(|l| l.split_once('=')).map(|(k, v)| (k.into(), v.into())).collect(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => BTreeMap::new(),
            Err(e) => return Err(e),
        };
        Ok(Table { dir: dir.to_path_buf(), rows, sync_dir })
    }

    pub fn put(&mut self, key: &str, value: &str) -> std::io::Result<()> {
        let mut rows = self.rows.clone();
        rows.insert(key.into(), value.into());
        let text: String = rows.iter().map(|(k, v)| format!("{k}={v}\n")).collect();
        let temp = self.dir.join("table.tmp");
        let mut file = fs::File::create(&temp)?;
        file.write_all(text.as_bytes())?;
        file.sync_all()?;
        fs::rename(&temp, self.dir.join("table"))?;
        if self.sync_dir {
            fs::File::open(&self.dir)?.sync_all()?;
        }
        self.rows = rows;
        Ok(())
    }

    pub fn rows(&self) -> &BTreeMap<String, String> {
        &self.rows
    }
}

/// The harness glue: a spec (the table is every put so far) and a `Subject` that runs the store
/// as it is. `open` and `recover` need no filesystem argument: the shim finds the run's disk.
pub mod harness {
    use std::collections::BTreeMap;
    use std::path::Path;
    use std::sync::Mutex;

    use crashsim::subject::{Gated, Process, Recovered, Subject};
    use crashsim_model::history::{Outcome, Record};
    use crashsim_model::{Allowed, Property, Spec, Violation};
    use crashsim_sim::SimFs;
    use std::sync::Arc;

    use super::Table;

    /// The table's rows, as the spec and a recovered store show them.
    #[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
    pub struct Rows(pub BTreeMap<String, String>);

    impl std::fmt::Display for Rows {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            let rows: Vec<String> = self.0.iter().map(|(k, v)| format!("{k}={v}")).collect();
            write!(f, "{{{}}}", rows.join(", "))
        }
    }

    /// `put(key, value)`.
    #[derive(Clone, Debug, PartialEq, Eq, Hash)]
    pub struct Put(pub String, pub String);

    impl std::fmt::Display for Put {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "put({}, {})", self.0, self.1)
        }
    }

    struct TableSpec;

    impl Spec for TableSpec {
        type Op = Put;
        type Reply = &'static str;
        type State = Rows;

        fn init(&self) -> Rows {
            Rows::default()
        }

        fn step(&self, rows: &Self::State, Put(key, value): &Put) -> (&'static str, Self::State) {
            let mut rows = rows.clone();
            rows.0.insert(key.clone(), value.clone());
            ("ok", rows)
        }

        fn properties(&self) -> Vec<Property<Self::State>> {
            let predicate = |rows: &Self::State, allowed: &[Self::State]| {
                (!allowed.contains(rows)).then(|| format!("the table holds {rows}"))
            };
            vec![Property { name: "Durable", failure: "an acknowledged put is lost", predicate }]
        }
    }

    /// The table on `db/`; `sync_dir: false` is the bug variant.
    #[derive(Clone, Debug, PartialEq, Eq, Hash)]
    pub struct StdTable {
        pub sync_dir: bool,
    }

    type Observed = Result<Rows, String>;

    impl Subject for StdTable {
        type Op = Put;
        type Reply = &'static str;
        type Store = Arc<Mutex<Table>>;
        type Observed = Observed;
        type Expected = Allowed<Rows>;

        fn name(&self) -> String {
            if self.sync_dir { "std-table" } else { "std-table-no-dir-fsync" }.to_string()
        }

        fn program(&self) -> Option<String> {
            Some("cargo run --release --features runner --example std_store --".to_string())
        }

        fn alphabet(&self) -> Vec<Put> {
            vec![Put("a".into(), "1".into()), Put("a".into(), "2".into()), Put("b".into(), "1".into())]
        }

        async fn open(&self, _fs: Arc<Gated>, _process: &Process) -> Result<Arc<Mutex<Table>>, String> {
            Table::open(Path::new("db"), self.sync_dir).map(|t| Arc::new(Mutex::new(t))).map_err(|e| e.to_string())
        }

        /// The put runs on a thread the harness schedules at each of its syscalls (sync code,
        /// awaited as a tokio call would be), and the diagnosis of a failure names the store's
        /// own lines. The table has one client at a time, so its lock is never contended.
        async fn call(&self, table: &Arc<Mutex<Table>>, Put(key, value): &Put) -> Outcome<&'static str> {
            let (table, key, value) = (table.clone(), key.clone(), value.clone());
            let put = crashsim::fs::std::scheduled(move || table.lock().expect("one call at a time").put(&key, &value));
            put.await.map_or_else(|e| Outcome::Failed(e.to_string()), |()| Outcome::Replied("ok"))
        }

        async fn recover(&self, _fs: Arc<SimFs>) -> Recovered<Observed> {
            let rows = Table::open(Path::new("db"), self.sync_dir).map(|t| Rows(t.rows().clone()));
            Recovered { observed: rows.map_err(|e| e.to_string()), report: String::new() }
        }

        fn expect(&self, history: &[Record<Put, &'static str>]) -> Self::Expected {
            Allowed::of(&TableSpec, history)
        }

        fn check(&self, allowed: &Self::Expected, observed: &Observed) -> Result<(), Violation> {
            allowed.judge(&TableSpec, observed)
        }
    }
}

// The command line needs crashsim's `runner` feature; this file is also compiled without it, as
// a module of the tests.
#[cfg(feature = "runner")]
fn main() -> std::process::ExitCode {
    crashsim::cli::run(&[harness::StdTable { sync_dir: true }, harness::StdTable { sync_dir: false }])
}
