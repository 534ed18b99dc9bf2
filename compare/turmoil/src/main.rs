//! Benchmark only, outside crashsim's workspace: four of crashsim's durability protocols (the
//! session store's `rotate-rename`, `no-dir-fsync`, `no-temp-fsync` and `unregistered-create`
//! variants, reduced to a registry of session ids beside one transcript per session) written
//! against turmoil's simulated filesystem (`unstable-fs`), run seed after seed until a crash
//! exposes each, to count the seeds and the time turmoil needs.
//!
//! A seed fixes turmoil's RNG (random syncs of written data at probability 0.2, torn writes at
//! 512-byte blocks) and the crash point: the host is crashed after a seeded number of steps of
//! the simulation, one step per syscall of the protocol, then restarted to check what crashsim's
//! Durable checks: the registry exists and parses, and every acknowledged session is in it.
//!
//! `cargo run --release --manifest-path compare/turmoil/Cargo.toml [SEEDS]` (default 10000).

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use turmoil::fs::shim::std::fs::{create_dir, read, rename, sync_dir, OpenOptions};
use turmoil::Builder;

const DIR: &str = "/s";
const REGISTRY: &str = "/s/sessions.json";
const TEMP: &str = "/s/sessions.json.tmp";
/// Steps a protocol takes at most: the crash point is drawn in 0..=STEPS.
const STEPS: u64 = 8;

#[derive(Clone, Copy, Debug)]
enum Protocol {
    /// The reference: a durable transcript, then temp + fsync + rename + directory fsync, then
    /// the acknowledgement; a rotation copies to a backup. No crash may expose anything.
    Reference,
    /// openclaw #68229: rename the registry away, then write its successor.
    RotateRename,
    /// The temp file renamed over the registry, no directory fsync after.
    NoDirFsync,
    /// The temp file renamed over the registry without its own fsync.
    NoTempFsync,
    /// openclaw #3210: the transcript is created, the registry never updated.
    UnregisteredCreate,
}

impl Protocol {
    const ALL: [Protocol; 5] = [
        Protocol::Reference,
        Protocol::RotateRename,
        Protocol::NoDirFsync,
        Protocol::NoTempFsync,
        Protocol::UnregisteredCreate,
    ];

    fn name(self) -> &'static str {
        match self {
            Protocol::Reference => "reference",
            Protocol::RotateRename => "rotate-rename",
            Protocol::NoDirFsync => "no-dir-fsync",
            Protocol::NoTempFsync => "no-temp-fsync",
            Protocol::UnregisteredCreate => "unregistered-create",
        }
    }
}

type Io = std::io::Result<()>;

fn write_file(path: &str, data: &[u8], sync: bool) -> Io {
    let mut file = OpenOptions::new().write(true).create(true).truncate(true).open(path)?;
    file.write_all(data)?;
    if sync {
        file.sync_all()?;
    }
    Ok(())
}

/// One step of simulated time: a point where the host may be crashed.
async fn step() {
    tokio::time::sleep(Duration::from_millis(1)).await;
}

/// The registry's temp + rename replace, with or without its two fsyncs.
async fn replace(ids: &[&str], sync_temp: bool, sync_parent: bool) -> Io {
    write_file(TEMP, ids.join("\n").as_bytes(), sync_temp)?;
    step().await;
    rename(TEMP, REGISTRY)?;
    step().await;
    if sync_parent {
        sync_dir(DIR)?;
        step().await;
    }
    Ok(())
}

/// A session's transcript, durable (data and entry).
async fn transcript(id: &str) -> Io {
    write_file(&format!("{DIR}/{id}.jsonl"), b"{\"type\":\"session\"}\n", true)?;
    sync_dir(DIR)?;
    step().await;
    Ok(())
}

/// The durable start (session `a`), then the protocol; `acked` gets each acknowledged session.
async fn run(protocol: Protocol, acked: Arc<Mutex<Vec<String>>>) -> Io {
    create_dir(DIR)?;
    sync_dir("/")?;
    write_file(&format!("{DIR}/a.jsonl"), b"{}\n", true)?;
    write_file(REGISTRY, b"a", true)?;
    sync_dir(DIR)?;
    acked.lock().unwrap().push("a".to_string());
    step().await;
    match protocol {
        Protocol::Reference => {
            write_file("/s/sessions.json.bak.1", b"a", true)?;
            sync_dir(DIR)?;
            step().await;
            transcript("b").await?;
            replace(&["a", "b"], true, true).await?;
            acked.lock().unwrap().push("b".to_string());
        }
        Protocol::RotateRename => {
            rename(REGISTRY, "/s/sessions.json.bak.1")?;
            step().await;
            replace(&["a"], true, true).await?;
        }
        Protocol::NoDirFsync | Protocol::NoTempFsync => {
            transcript("b").await?;
            let dir_fsync = matches!(protocol, Protocol::NoTempFsync);
            let temp_fsync = matches!(protocol, Protocol::NoDirFsync);
            replace(&["a", "b"], temp_fsync, dir_fsync).await?;
            acked.lock().unwrap().push("b".to_string());
        }
        Protocol::UnregisteredCreate => {
            transcript("b").await?;
            acked.lock().unwrap().push("b".to_string());
        }
    }
    std::future::pending::<()>().await;
    Ok(())
}

/// What a restarted store would see: `Err` names the broken invariant.
fn check(acked: &[String]) -> Result<(), String> {
    let registry = read(REGISTRY).map_err(|_| "Durable: the registry is gone".to_string())?;
    let text = String::from_utf8(registry).map_err(|_| "Durable: the registry does not parse".to_string())?;
    let ids: Vec<&str> = text.lines().collect();
    if ids.is_empty() {
        return Err("Durable: the registry is empty".to_string());
    }
    // A transcript of a create still in flight may lack its entry (recovery adopts it); an
    // acknowledged session may not.
    match acked.iter().find(|id| !ids.contains(&id.as_str())) {
        Some(lost) => Err(format!("Durable: acknowledged session {lost} is not in the registry")),
        None => Ok(()),
    }
}

/// One seed: run, crash after a seeded number of steps, restart and check.
fn seed_run(protocol: Protocol, seed: u64) -> Result<(), String> {
    let mut builder = Builder::new();
    builder.rng_seed(seed).tick_duration(Duration::from_millis(1));
    builder.fs().sync_probability(0.2).block_size(512);
    let mut sim = builder.build();
    let restarted = Arc::new(AtomicBool::new(false));
    let acked = Arc::new(Mutex::new(Vec::new()));
    let verdict: Arc<Mutex<Option<Result<(), String>>>> = Arc::new(Mutex::new(None));
    let (r, a, v) = (restarted.clone(), acked.clone(), verdict.clone());
    sim.host("store", move || {
        let (restarted, acked, verdict) = (r.clone(), a.clone(), v.clone());
        async move {
            if restarted.load(Ordering::SeqCst) {
                let acked = acked.lock().unwrap().clone();
                *verdict.lock().unwrap() = Some(check(&acked));
                std::future::pending::<()>().await;
            }
            run(protocol, acked).await?;
            Ok(())
        }
    });
    // A splitmix step of the seed picks the crash point, independent of turmoil's own stream.
    let crash_after = 1 + (seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 32) % STEPS;
    for _ in 0..crash_after {
        sim.step().map_err(|e| e.to_string())?;
    }
    sim.crash("store");
    restarted.store(true, Ordering::SeqCst);
    sim.bounce("store");
    while verdict.lock().unwrap().is_none() {
        sim.step().map_err(|e| e.to_string())?;
    }
    let result = verdict.lock().unwrap().take().expect("checked");
    result
}

fn main() {
    let seeds: u64 = std::env::args().nth(1).map_or(10_000, |s| s.parse().expect("SEEDS is a number"));
    println!(
        "turmoil 0.7.2 fs, sync_probability 0.2, block_size 512, crash after 1..={STEPS} steps; {seeds} seeds each"
    );
    println!("{:<22} {:>14} {:>16} {:>12} {:>10}", "protocol", "first exposed", "seeds exposing", "seeds/s", "time");
    for protocol in Protocol::ALL {
        let started = Instant::now();
        let mut first = None;
        let mut exposing = 0u64;
        let mut example = String::new();
        for seed in 0..seeds {
            if let Err(why) = seed_run(protocol, seed) {
                exposing += 1;
                if first.is_none() {
                    first = Some(seed);
                    example = why;
                }
            }
        }
        let elapsed = started.elapsed();
        let first = first.map_or("never".to_string(), |s| format!("seed {s}"));
        println!(
            "{:<22} {:>14} {:>16} {:>12.0} {:>9.2}s  {example}",
            protocol.name(),
            first,
            format!("{exposing} of {seeds}"),
            seeds as f64 / elapsed.as_secs_f64(),
            elapsed.as_secs_f64()
        );
    }
}
