//! Fidelity of the shims: the same generated programs run through `crashsim::fs::std` and
//! `crashsim::fs::tokio` on the simulated disk, and through each shim outside a run (which is
//! `std::fs`, and `tokio::fs` over it, on a real temporary directory). Every call must give the
//! same result, errno for errno, and the final trees must be identical.

use std::collections::BTreeSet;
use std::fs::Permissions;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crashsim::fs::{std as fs, tokio as tfs};
use crashsim_sim::{image_of_dir, SimFs, SimOptions};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

const NAMES: [&str; 6] = ["a", "b", "d", "d/x", "d/e/y", "d/e"];

/// One generated call; paths are indexes into [`NAMES`].
#[derive(Clone, Debug)]
enum Call {
    Write(usize, Vec<u8>),
    Read(usize),
    ReadToString(usize),
    Rename(usize, usize),
    RemoveFile(usize),
    CreateDir(usize),
    CreateDirAll(usize),
    RemoveDir(usize),
    HardLink(usize, usize),
    Metadata(usize),
    Copy(usize, usize),
    ReadDir(usize),
    /// `File::open(dir)?.sync_all()`: a directory fsync, as on Linux.
    SyncDir(usize),
    /// Open with these flags (read, write, append, truncate, create, create_new), write the
    /// bytes, seek to 1, read up to 8 bytes, sync the data.
    Open(usize, [bool; 6], Vec<u8>),
    /// Open read-write, write the bytes at 2, read 4 bytes at 1, set the length to 3, stat.
    Positioned(usize, Vec<u8>),
    /// `exists` (`try_exists` in tokio).
    Exists(usize),
    RemoveDirAll(usize),
    /// `set_permissions` with these bits (the owner keeps every access: the tests may run as
    /// any user).
    SetPermissions(usize, u32),
}

fn program(seed: u64) -> Vec<Call> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..40)
        .map(|_| {
            let p = rng.random_range(0..NAMES.len());
            let q = rng.random_range(0..NAMES.len());
            let data: Vec<u8> = (0..rng.random_range(0..6u8)).map(|i| b'a' + i).collect();
            match rng.random_range(0..18) {
                0 => Call::Write(p, data),
                1 => Call::Read(p),
                2 => Call::ReadToString(p),
                3 => Call::Rename(p, q),
                4 => Call::RemoveFile(p),
                5 => Call::CreateDir(p),
                6 => Call::CreateDirAll(p),
                7 => Call::RemoveDir(p),
                8 => Call::HardLink(p, q),
                9 => Call::Metadata(p),
                10 => Call::Copy(p, q),
                11 => Call::ReadDir(p),
                12 => Call::SyncDir(p),
                13 => {
                    let odds = [0.5, 0.7, 0.3, 0.3, 0.5, 0.2];
                    Call::Open(p, odds.map(|odd| rng.random_bool(odd)), data)
                }
                14 => Call::Positioned(p, data),
                15 => Call::Exists(p),
                16 => Call::SetPermissions(p, if rng.random_bool(0.5) { 0o700 } else { 0o755 }),
                _ => Call::RemoveDirAll(p),
            }
        })
        .collect()
}

/// What a call gave: its value, or its error as `std` tells it.
fn outcome<T: std::fmt::Debug>(result: std::io::Result<T>) -> String {
    match result {
        Ok(value) => format!("ok {value:?}"),
        Err(error) => format!("err {:?} {:?}", error.raw_os_error(), error.kind()),
    }
}

/// What a call compares of metadata: its kind every way it is asked, and a file's length.
fn described(m: &fs::Metadata) -> (bool, bool, bool, bool, bool, u64) {
    let kind = m.file_type();
    (m.is_dir(), m.is_file(), kind.is_dir(), kind.is_file(), kind.is_symlink(), if m.is_dir() { 0 } else { m.len() })
}

/// A listed entry: its name, and a `/` after a directory's (a `@` after a symlink's).
fn listed(name: &std::ffi::OsStr, kind: fs::FileType) -> String {
    let mark = if kind.is_dir() {
        "/"
    } else if kind.is_symlink() {
        "@"
    } else if kind.is_file() {
        ""
    } else {
        "?"
    };
    format!("{}{mark}", name.to_string_lossy())
}

/// Directory listings compare as sorted names.
fn sorted(names: std::io::Result<Vec<String>>) -> std::io::Result<Vec<String>> {
    names.map(|mut names| {
        names.sort();
        names
    })
}

/// The program through the std shim, with paths under `base`.
fn run_std(calls: &[Call], base: &Path) -> Vec<String> {
    use std::io::{Read, Seek, SeekFrom, Write};
    use std::os::unix::fs::FileExt;
    let path = |i: usize| -> PathBuf { base.join(NAMES[i]) };
    calls
        .iter()
        .map(|call| match call {
            Call::Write(p, data) => outcome(fs::write(path(*p), data)),
            Call::Read(p) => outcome(fs::read(path(*p))),
            Call::ReadToString(p) => outcome(fs::read_to_string(path(*p))),
            Call::Rename(p, q) => outcome(fs::rename(path(*p), path(*q))),
            Call::RemoveFile(p) => outcome(fs::remove_file(path(*p))),
            Call::CreateDir(p) => outcome(fs::create_dir(path(*p))),
            Call::CreateDirAll(p) => outcome(fs::create_dir_all(path(*p))),
            Call::RemoveDir(p) => outcome(fs::remove_dir(path(*p))),
            Call::HardLink(p, q) => outcome(fs::hard_link(path(*p), path(*q))),
            Call::Metadata(p) => outcome(fs::metadata(path(*p)).map(|m| described(&m))),
            Call::Copy(p, q) => outcome(fs::copy(path(*p), path(*q))),
            Call::ReadDir(p) => outcome(sorted(fs::read_dir(path(*p)).and_then(|entries| {
                entries.map(|e| e.and_then(|e| Ok(listed(&e.file_name(), e.file_type()?)))).collect()
            }))),
            Call::Exists(p) => outcome(fs::exists(path(*p))),
            Call::RemoveDirAll(p) => outcome(fs::remove_dir_all(path(*p))),
            Call::SetPermissions(p, mode) => outcome(fs::set_permissions(path(*p), Permissions::from_mode(*mode))),
            Call::SyncDir(p) => outcome(fs::File::open(path(*p)).and_then(|d| d.sync_all())),
            Call::Open(p, [read, write, append, truncate, create, create_new], data) => {
                let opened = fs::OpenOptions::new()
                    .read(*read)
                    .write(*write)
                    .append(*append)
                    .truncate(*truncate)
                    .create(*create)
                    .create_new(*create_new)
                    .mode(0o600)
                    .open(path(*p));
                outcome(opened.map(|mut file| {
                    let wrote = file.write(data);
                    let seek = file.seek(SeekFrom::Start(1));
                    let mut buf = [0u8; 8];
                    let read = file.read(&mut buf).map(|n| buf[..n].to_vec());
                    let sync = file.sync_data();
                    format!("{} {} {} {}", outcome(wrote), outcome(seek), outcome(read), outcome(sync))
                }))
            }
            Call::Positioned(p, data) => {
                outcome(fs::OpenOptions::new().read(true).write(true).open(path(*p)).map(|file| {
                    let at = file.write_at(data, 2);
                    let mut buf = [0u8; 4];
                    let read = file.read_at(&mut buf, 1).map(|n| buf[..n].to_vec());
                    let len = file.set_len(3);
                    let meta = file.metadata().map(|m| m.len());
                    let chmod = file.set_permissions(Permissions::from_mode(0o644));
                    format!("{} {} {} {} {}", outcome(at), outcome(read), outcome(len), outcome(meta), outcome(chmod))
                }))
            }
        })
        .collect()
}

/// The program through the tokio shim, with paths under `base` (positioned calls as seeks).
async fn run_tokio(calls: &[Call], base: &Path) -> Vec<String> {
    use tokio::io::{AsyncReadExt, AsyncSeekExt, AsyncWriteExt};
    let path = |i: usize| -> PathBuf { base.join(NAMES[i]) };
    let mut log = Vec::new();
    for call in calls {
        log.push(match call {
            Call::Write(p, data) => outcome(tfs::write(path(*p), data).await),
            Call::Read(p) => outcome(tfs::read(path(*p)).await),
            Call::ReadToString(p) => outcome(tfs::read_to_string(path(*p)).await),
            Call::Rename(p, q) => outcome(tfs::rename(path(*p), path(*q)).await),
            Call::RemoveFile(p) => outcome(tfs::remove_file(path(*p)).await),
            Call::CreateDir(p) => outcome(tfs::create_dir(path(*p)).await),
            Call::CreateDirAll(p) => outcome(tfs::create_dir_all(path(*p)).await),
            Call::RemoveDir(p) => outcome(tfs::remove_dir(path(*p)).await),
            Call::HardLink(p, q) => outcome(tfs::hard_link(path(*p), path(*q)).await),
            Call::Metadata(p) => outcome(tfs::metadata(path(*p)).await.map(|m| described(&m))),
            Call::Exists(p) => outcome(tfs::try_exists(path(*p)).await),
            Call::RemoveDirAll(p) => outcome(tfs::remove_dir_all(path(*p)).await),
            Call::SetPermissions(p, mode) => {
                outcome(tfs::set_permissions(path(*p), Permissions::from_mode(*mode)).await)
            }
            Call::Copy(p, q) => outcome(tfs::copy(path(*p), path(*q)).await),
            Call::ReadDir(p) => {
                let listed = async {
                    let mut entries = tfs::read_dir(path(*p)).await?;
                    let mut names = Vec::new();
                    while let Some(entry) = entries.next_entry().await? {
                        names.push(listed(&entry.file_name(), entry.file_type().await?));
                    }
                    Ok(names)
                };
                outcome(sorted(listed.await))
            }
            Call::SyncDir(p) => outcome(async { tfs::File::open(path(*p)).await?.sync_all().await }.await),
            Call::Open(p, [read, write, append, truncate, create, create_new], data) => {
                let opened = tfs::OpenOptions::new()
                    .read(*read)
                    .write(*write)
                    .append(*append)
                    .truncate(*truncate)
                    .create(*create)
                    .create_new(*create_new)
                    .mode(0o600)
                    .open(path(*p))
                    .await;
                let used = match opened {
                    Ok(mut file) => {
                        let wrote = file.write(data).await;
                        let seek = file.seek(std::io::SeekFrom::Start(1)).await;
                        let mut buf = [0u8; 8];
                        let read = file.read(&mut buf).await.map(|n| buf[..n].to_vec());
                        let sync = file.sync_data().await;
                        Ok(format!("{} {} {} {}", outcome(wrote), outcome(seek), outcome(read), outcome(sync)))
                    }
                    Err(error) => Err(error),
                };
                outcome(used)
            }
            Call::Positioned(p, data) => {
                // FileExt's write_at and read_at, as a seek then a write or a read.
                let used = match tfs::OpenOptions::new().read(true).write(true).open(path(*p)).await {
                    Ok(mut file) => {
                        let at = match file.seek(std::io::SeekFrom::Start(2)).await {
                            Ok(_) => file.write(data).await,
                            Err(error) => Err(error),
                        };
                        let mut buf = [0u8; 4];
                        let read = match file.seek(std::io::SeekFrom::Start(1)).await {
                            Ok(_) => file.read(&mut buf).await.map(|n| buf[..n].to_vec()),
                            Err(error) => Err(error),
                        };
                        let len = file.set_len(3).await;
                        let meta = file.metadata().await.map(|m| m.len());
                        let chmod = file.set_permissions(Permissions::from_mode(0o644)).await;
                        Ok(format!(
                            "{} {} {} {} {}",
                            outcome(at),
                            outcome(read),
                            outcome(len),
                            outcome(meta),
                            outcome(chmod)
                        ))
                    }
                    Err(error) => Err(error),
                };
                outcome(used)
            }
        });
    }
    log
}

/// Holds a simulated run's log and tree to the real one's.
fn assert_same(seed: u64, simulated: &[String], real: &[String], sim: &SimFs, dir: &Path) {
    for (i, (s, r)) in simulated.iter().zip(real).enumerate() {
        assert_eq!(s, r, "seed {seed}, call {i}: simulated vs real\n{}", simulated[..=i].join("\n"));
    }
    assert_eq!(sim.volatile_image(), image_of_dir(dir).unwrap(), "seed {seed}: the final trees");
}

#[test]
fn the_std_shim_on_the_simulated_disk_matches_std_fs_on_a_real_one() {
    // What the calls made of several syscalls gave on the real disk, over every program.
    let mut seen: BTreeSet<(&str, String)> = BTreeSet::new();
    for seed in 0..1000 {
        let calls = program(seed);
        let sim = Arc::new(SimFs::new(SimOptions::default()));
        let simulated = crashsim::fs::on(sim.clone(), || run_std(&calls, Path::new("")));
        let dir = tempfile::tempdir().unwrap();
        assert!(!crashsim::fs::simulated(), "outside a run, the shim is std::fs");
        let real = run_std(&calls, dir.path());
        assert_same(seed, &simulated, &real, &sim, dir.path());
        for (call, outcome) in calls.iter().zip(real) {
            match call {
                Call::Exists(_) => seen.insert(("exists", outcome)),
                Call::RemoveDirAll(_) => seen.insert(("remove_dir_all", outcome)),
                Call::CreateDirAll(_) => seen.insert(("create_dir_all", outcome)),
                Call::SetPermissions(..) => seen.insert(("set_permissions", outcome)),
                _ => false,
            };
        }
    }
    // The programs reach each way these calls end: found, absent, a path through a file; a tree
    // removed, a file refused, nothing there.
    for expected in [
        ("exists", "ok true"),
        ("exists", "ok false"),
        ("exists", "err Some(20) NotADirectory"),
        ("remove_dir_all", "ok ()"),
        ("remove_dir_all", "err Some(2) NotFound"),
        ("remove_dir_all", "err Some(20) NotADirectory"),
        ("create_dir_all", "ok ()"),
        ("create_dir_all", "err Some(17) AlreadyExists"),
        ("set_permissions", "ok ()"),
        ("set_permissions", "err Some(2) NotFound"),
    ] {
        assert!(seen.contains(&(expected.0, expected.1.to_string())), "no program reached {expected:?}: {seen:?}");
    }
}

/// Against `std::fs`, not `tokio::fs`: tokio's `File` writes behind (a write answers at once
/// and its error comes with a later call), which the shim does not imitate.
#[test]
fn the_tokio_shim_on_the_simulated_disk_matches_std_fs_on_a_real_one() {
    for seed in 0..1000 {
        let calls = program(seed);
        let sim = Arc::new(SimFs::new(SimOptions::default()));
        let simulated = crashsim::fs::on(sim.clone(), || pollster::block_on(run_tokio(&calls, Path::new(""))));
        let dir = tempfile::tempdir().unwrap();
        let real = run_std(&calls, dir.path());
        assert_same(seed, &simulated, &real, &sim, dir.path());
    }
}

/// Outside a run the tokio shim is `tokio::fs`: the same programs, on a real directory, leave
/// the tree `std::fs` leaves.
#[test]
fn the_tokio_shim_outside_a_run_is_tokio_fs() {
    let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
    for seed in 0..100 {
        let calls = program(seed);
        let (tokio_dir, std_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        runtime.block_on(run_tokio(&calls, tokio_dir.path()));
        run_std(&calls, std_dir.path());
        assert_eq!(image_of_dir(tokio_dir.path()).unwrap(), image_of_dir(std_dir.path()).unwrap(), "seed {seed}");
    }
}

#[test]
fn a_shim_call_on_the_simulated_disk_is_a_syscall_of_its_trace() {
    use std::io::Write;
    let sim = Arc::new(SimFs::new(SimOptions::default()));
    crashsim::fs::on(sim.clone(), || {
        let mut file = fs::File::create("note.tmp").unwrap();
        file.write_all(b"hello").unwrap();
        file.sync_all().unwrap();
        drop(file);
        fs::rename("note.tmp", "note").unwrap();
        fs::File::open(".").unwrap().sync_all().unwrap();
    });
    let calls: Vec<String> = sim.trace().steps.iter().map(|s| format!("{:?}", s.call)).collect();
    assert_eq!(calls.len(), 8, "open, pwrite, fsync, close, rename, open, fsync, close: {calls:?}");
    assert_eq!(sim.volatile_image().file("note"), Some(&b"hello"[..]));
    assert!(!Path::new("note").exists(), "nothing reached the real disk");
}
