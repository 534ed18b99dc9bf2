//! A counter in one file, shared by the tests whose toy stores keep one: its spec (`inc` adds
//! one, `dbl` doubles; each answers the new value), how a store reads it, and its atomic save.

use crashsim_model::{Property, Spec};
use crashsim_sim::{files, Fs, OpenOptions};

pub struct CounterSpec;

impl Spec for CounterSpec {
    type Op = String;
    type Reply = u64;
    type State = u64;

    fn init(&self) -> u64 {
        0
    }

    fn step(&self, value: &u64, op: &String) -> (u64, u64) {
        let next = if op == "inc" { value + 1 } else { value * 2 };
        (next, next)
    }

    fn properties(&self) -> Vec<Property<u64>> {
        let predicate = |value: &u64, allowed: &[u64]| (!allowed.contains(value)).then(|| format!("value {value}"));
        vec![Property { name: "Durable", failure: "a saved value is lost by a crash", predicate }]
    }
}

pub async fn read_value<F: Fs>(fs: &F) -> Result<u64, String> {
    let bytes = files::read(fs, "count").await.map_err(|e| e.to_string())?;
    match bytes {
        None => Ok(0),
        Some(bytes) => String::from_utf8_lossy(&bytes).parse().map_err(|_| format!("count holds {bytes:?}")),
    }
}

/// The atomic save: a temp file, its fsync, a rename over the count, a directory fsync.
pub async fn replace<F: Fs>(fs: &F, text: &str) -> crashsim_sim::FsResult<()> {
    files::write(fs, "count.tmp", OpenOptions::create_trunc(), text.as_bytes(), true).await?;
    fs.rename("count.tmp", "count").await?;
    files::sync_dir(fs, "").await
}
