//! Fidelity of `crashsim::fs::std`: the same generated programs run through the shim on the
//! simulated disk and through it outside a run (which is `std::fs` on a real temporary
//! directory). Every call must give the same result, errno for errno, and the final trees must
//! be identical.

use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crashsim::fs::std as fs;
use crashsim_sim::{image_of_dir, SimFs, SimOptions};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

const NAMES: [&str; 6] = ["a", "b", "d", "d/x", "d/e/y", "d/e"];

/// What a call gave: its value, or its error as `std` tells it.
fn outcome<T: std::fmt::Debug>(result: std::io::Result<T>) -> String {
    match result {
        Ok(value) => format!("ok {value:?}"),
        Err(error) => format!("err {:?} {:?}", error.raw_os_error(), error.kind()),
    }
}

/// One generated call on paths under `base`; the log line of its outcome.
fn step(rng: &mut ChaCha8Rng, base: &Path) -> String {
    let path = |rng: &mut ChaCha8Rng| -> PathBuf { base.join(NAMES[rng.random_range(0..NAMES.len())]) };
    let p = path(rng);
    let shown = p.strip_prefix(base).unwrap().display().to_string();
    let data: Vec<u8> = (0..rng.random_range(0..6u8)).map(|i| b'a' + i).collect();
    match rng.random_range(0..15) {
        0 => format!("write {shown}: {}", outcome(fs::write(&p, &data))),
        1 => format!("read {shown}: {}", outcome(fs::read(&p))),
        2 => format!("read_to_string {shown}: {}", outcome(fs::read_to_string(&p))),
        3 => {
            let q = path(rng);
            format!("rename {shown}: {}", outcome(fs::rename(&p, &q)))
        }
        4 => format!("remove_file {shown}: {}", outcome(fs::remove_file(&p))),
        5 => format!("create_dir {shown}: {}", outcome(fs::create_dir(&p))),
        6 => format!("create_dir_all {shown}: {}", outcome(fs::create_dir_all(&p))),
        7 => format!("remove_dir {shown}: {}", outcome(fs::remove_dir(&p))),
        8 => {
            let q = path(rng);
            format!("hard_link {shown}: {}", outcome(fs::hard_link(&p, &q)))
        }
        9 => format!(
            "metadata {shown}: {}",
            outcome(fs::metadata(&p).map(|m| (m.is_dir(), if m.is_dir() { 0 } else { m.len() })))
        ),
        10 => {
            let q = path(rng);
            format!("copy {shown}: {}", outcome(fs::copy(&p, &q)))
        }
        11 => {
            let listed = fs::read_dir(&p).and_then(|entries| {
                let mut names: Vec<String> = entries
                    .map(|e| e.map(|e| e.file_name().to_string_lossy().into_owned()))
                    .collect::<Result<_, _>>()?;
                names.sort();
                Ok(names)
            });
            format!("read_dir {shown}: {}", outcome(listed))
        }
        12 => {
            // A directory fsync, as on Linux.
            format!("sync dir {shown}: {}", outcome(fs::File::open(&p).and_then(|d| d.sync_all())))
        }
        13 => {
            let (read, write, append, truncate, create, create_new) = (
                rng.random_bool(0.5),
                rng.random_bool(0.7),
                rng.random_bool(0.3),
                rng.random_bool(0.3),
                rng.random_bool(0.5),
                rng.random_bool(0.2),
            );
            let opened = fs::OpenOptions::new()
                .read(read)
                .write(write)
                .append(append)
                .truncate(truncate)
                .create(create)
                .create_new(create_new)
                .open(&p);
            let used = opened.map(|mut file| {
                let wrote = file.write(&data);
                let seek = file.seek(SeekFrom::Start(1));
                let mut buf = [0u8; 8];
                let read = file.read(&mut buf).map(|n| buf[..n].to_vec());
                let sync = file.sync_data();
                format!("{} {} {} {}", outcome(wrote), outcome(seek), outcome(read), outcome(sync))
            });
            format!("open {shown} r{read} w{write} a{append} t{truncate} c{create} n{create_new}: {}", outcome(used))
        }
        _ => {
            let used = fs::OpenOptions::new().read(true).write(true).open(&p).map(|file| {
                let at = file.write_at(&data, 2);
                let mut buf = [0u8; 4];
                let read = file.read_at(&mut buf, 1).map(|n| buf[..n].to_vec());
                let len = file.set_len(3);
                let meta = file.metadata().map(|m| m.len());
                format!("{} {} {} {}", outcome(at), outcome(read), outcome(len), outcome(meta))
            });
            format!("positioned {shown}: {}", outcome(used))
        }
    }
}

fn program(seed: u64, base: &Path) -> Vec<String> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..40).map(|_| step(&mut rng, base)).collect()
}

#[test]
fn the_std_shim_on_the_simulated_disk_matches_std_fs_on_a_real_one() {
    for seed in 0..1000 {
        let sim = Arc::new(SimFs::new(SimOptions::default()));
        let simulated = crashsim::fs::on(sim.clone(), || program(seed, Path::new("")));
        let dir = tempfile::tempdir().unwrap();
        assert!(crashsim::fs::current().is_none(), "outside a run, the shim is std::fs");
        let real = program(seed, dir.path());
        for (i, (s, r)) in simulated.iter().zip(&real).enumerate() {
            assert_eq!(s, r, "seed {seed}, call {i}: simulated vs real\n{}", simulated[..=i].join("\n"));
        }
        assert_eq!(sim.volatile_image(), image_of_dir(dir.path()).unwrap(), "seed {seed}: the final trees");
    }
}

#[test]
fn a_shim_call_on_the_simulated_disk_is_a_syscall_of_its_trace() {
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
    assert!(calls.len() >= 7, "{calls:?}");
    assert_eq!(sim.volatile_image().file("note"), Some(&b"hello"[..]));
    assert!(!Path::new("note").exists(), "nothing reached the real disk");
}
