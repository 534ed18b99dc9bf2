//! Differential test: the same syscall scripts on SimFs and on a real directory through RealFs
//! must give the same results (values and errno) and leave the same visible tree.

use crashsim_sim::{image_of, Fd, Fs, FsResult, OpenOptions, Outcome, RealFs, SimFs, SimOptions, Stat};
use pollster::block_on;
use proptest::prelude::*;

/// A small namespace so that scripts collide often: files over dirs, missing parents, a file
/// used as a parent (`a/x`), nested dirs, and `..` that must be refused.
const PATHS: &[&str] = &["a", "b", "d", "d/a", "d/b", "e", "e/f", "e/f/g", "a/x", "", "d/../a", "d//a"];

#[derive(Clone, Debug)]
enum Op {
    Open(usize, OpenOptions),
    Write(u32, Vec<u8>),
    Pwrite(u32, u64, Vec<u8>),
    Read(u32, usize),
    Pread(u32, u64, usize),
    Truncate(u32, u64),
    Fsync(u32),
    Fdatasync(u32),
    Close(u32),
    Rename(usize, usize),
    Link(usize, usize),
    Unlink(usize),
    Mkdir(usize),
    Rmdir(usize),
    Readdir(usize),
    Stat(usize),
}

fn path() -> impl Strategy<Value = usize> {
    0..PATHS.len()
}

/// Descriptor numbers 3..=6: mostly ones a script opened, sometimes closed or never opened.
fn fd() -> impl Strategy<Value = u32> {
    3u32..7
}

fn data() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![prop::collection::vec(any::<u8>(), 0..16), (1usize..1500, any::<u8>()).prop_map(|(n, b)| vec![b; n]),]
}

fn open_options() -> impl Strategy<Value = OpenOptions> {
    (any::<[bool; 7]>()).prop_map(|[read, write, append, create, excl, trunc, directory]| OpenOptions {
        read,
        write,
        append,
        create,
        excl,
        trunc,
        directory,
    })
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (path(), open_options()).prop_map(|(p, o)| Op::Open(p, o)),
        3 => (path(), Just(OpenOptions::create_trunc())).prop_map(|(p, o)| Op::Open(p, o)),
        3 => (fd(), data()).prop_map(|(f, d)| Op::Write(f, d)),
        1 => (fd(), 0u64..2000, data()).prop_map(|(f, o, d)| Op::Pwrite(f, o, d)),
        1 => (fd(), 0usize..2000).prop_map(|(f, n)| Op::Read(f, n)),
        1 => (fd(), 0u64..2000, 0usize..2000).prop_map(|(f, o, n)| Op::Pread(f, o, n)),
        1 => (fd(), 0u64..2000).prop_map(|(f, n)| Op::Truncate(f, n)),
        1 => fd().prop_map(Op::Fsync),
        1 => fd().prop_map(Op::Fdatasync),
        2 => fd().prop_map(Op::Close),
        3 => (path(), path()).prop_map(|(a, b)| Op::Rename(a, b)),
        2 => (path(), path()).prop_map(|(a, b)| Op::Link(a, b)),
        2 => path().prop_map(Op::Unlink),
        3 => path().prop_map(Op::Mkdir),
        2 => path().prop_map(Op::Rmdir),
        1 => path().prop_map(Op::Readdir),
        1 => path().prop_map(Op::Stat),
    ]
}

fn outcome<T>(result: FsResult<T>, ok: impl FnOnce(T) -> Outcome) -> Outcome {
    match result {
        Ok(value) => ok(value),
        Err(errno) => Outcome::Err(errno),
    }
}

async fn run<F: Fs>(fs: &F, op: &Op) -> Outcome {
    match op {
        Op::Open(p, o) => outcome(fs.open(PATHS[*p], *o).await, Outcome::Fd),
        Op::Write(f, d) => outcome(fs.write(Fd(*f), d).await, Outcome::Count),
        Op::Pwrite(f, o, d) => outcome(fs.pwrite(Fd(*f), *o, d).await, Outcome::Count),
        Op::Read(f, n) => outcome(fs.read(Fd(*f), *n).await, Outcome::Bytes),
        Op::Pread(f, o, n) => outcome(fs.pread(Fd(*f), *o, *n).await, Outcome::Bytes),
        Op::Truncate(f, n) => outcome(fs.truncate(Fd(*f), *n).await, |_| Outcome::Unit),
        Op::Fsync(f) => outcome(fs.fsync(Fd(*f)).await, |_| Outcome::Unit),
        Op::Fdatasync(f) => outcome(fs.fdatasync(Fd(*f)).await, |_| Outcome::Unit),
        Op::Close(f) => outcome(fs.close(Fd(*f)).await, |_| Outcome::Unit),
        Op::Rename(a, b) => outcome(fs.rename(PATHS[*a], PATHS[*b]).await, |_| Outcome::Unit),
        Op::Link(a, b) => outcome(fs.link(PATHS[*a], PATHS[*b]).await, |_| Outcome::Unit),
        Op::Unlink(p) => outcome(fs.unlink(PATHS[*p]).await, |_| Outcome::Unit),
        Op::Mkdir(p) => outcome(fs.mkdir(PATHS[*p]).await, |_| Outcome::Unit),
        Op::Rmdir(p) => outcome(fs.rmdir(PATHS[*p]).await, |_| Outcome::Unit),
        Op::Readdir(p) => outcome(fs.readdir(PATHS[*p]).await, Outcome::Names),
        // Inode numbers and mtimes are the filesystem's own: kind and size are compared.
        Op::Stat(p) => outcome(fs.stat(PATHS[*p]).await.map(|s| Stat { ino: 0, mtime_ms: 0, ..s }), Outcome::Stat),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 500, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn simfs_matches_the_real_filesystem(script in prop::collection::vec(op(), 1..40)) {
        let dir = tempfile::tempdir().unwrap();
        let real = RealFs::new(dir.path()).unwrap();
        let sim = SimFs::new(SimOptions::default());
        block_on(async {
            for (step, op) in script.iter().enumerate() {
                let expected = run(&real, op).await;
                let found = run(&sim, op).await;
                prop_assert_eq!(&found, &expected, "step {}: {:?}\n{}", step, op, sim.trace());
            }
            let real_tree = image_of(&real).await.unwrap();
            prop_assert_eq!(&image_of(&sim).await.unwrap(), &real_tree);
            // The image the harness would crash from shows the same tree.
            prop_assert_eq!(sim.volatile_image(), real_tree);
            Ok(())
        })?;
    }
}

#[test]
fn realfs_refuses_paths_that_escape_its_root() {
    let outer = tempfile::tempdir().unwrap();
    let root = outer.path().join("root");
    std::fs::create_dir(&root).unwrap();
    std::fs::write(outer.path().join("secret"), b"s").unwrap();
    std::os::unix::fs::symlink(outer.path(), root.join("link")).unwrap();
    std::os::unix::fs::symlink("/etc/passwd", root.join("abs")).unwrap();
    let fs = RealFs::new(&root).unwrap();
    block_on(async {
        assert_eq!(fs.open("../secret", OpenOptions::read()).await, Err(nix::errno::Errno::EXDEV));
        assert_eq!(fs.open("link/secret", OpenOptions::read()).await, Err(nix::errno::Errno::ELOOP));
        assert_eq!(fs.open("abs", OpenOptions::read()).await, Err(nix::errno::Errno::ELOOP));
        assert_eq!(fs.unlink("link/secret").await, Err(nix::errno::Errno::ELOOP));
        assert_eq!(fs.rename("link/secret", "x").await, Err(nix::errno::Errno::ELOOP));
    });
    assert!(outer.path().join("secret").exists());
}
