//! The same seed gives byte-identical sampled image sets; the trace prints the same every run.

use crashsim_sim::{Fs, ImageOptions, Model, OpenOptions, SimFs, SimOptions};
use pollster::block_on;

/// Sixteen unsynced files of three sectors each: far more posix combinations than the cap.
fn many_pending_writes() -> SimFs {
    let fs = SimFs::new(SimOptions::default());
    block_on(async {
        fs.mkdir("d").await.unwrap();
        for i in 0..16 {
            let fd = fs.open(&format!("d/f{i}"), OpenOptions::create_trunc()).await.unwrap();
            fs.write(fd, &vec![b'a' + i as u8; 1300]).await.unwrap();
            fs.close(fd).await.unwrap();
        }
    });
    fs
}

fn render(fs: &SimFs, seed: u64) -> (bool, String) {
    let opts = ImageOptions { seed, max_images: 256, ..ImageOptions::default() };
    let set = fs.crash_images(fs.steps(), Model::Posix, &opts);
    let text: String = set.images().iter().map(|image| format!("{image}--\n")).collect();
    (set.exhaustive, text)
}

#[test]
fn same_seed_gives_byte_identical_sampled_images() {
    let (exhaustive, first) = render(&many_pending_writes(), 7);
    assert!(!exhaustive, "the workload must exceed the cap so that images are sampled");
    let (_, second) = render(&many_pending_writes(), 7);
    assert_eq!(first, second);
    let (_, other) = render(&many_pending_writes(), 8);
    assert_ne!(first, other, "a different seed samples different images");
}

#[test]
fn sampled_sets_hold_nothing_and_everything() {
    let fs = many_pending_writes();
    let opts = ImageOptions { max_images: 64, ..ImageOptions::default() };
    let set = fs.crash_images(fs.steps(), Model::Posix, &opts);
    assert!(set.len() <= 64 + 2);
    assert!(set.combinations > 64);
    assert_eq!(set.image(0), fs.crash_images(0, Model::Posix, &opts).image(0));
    assert!(set.images().contains(&fs.volatile_image()));
}

#[test]
fn trace_prints_identically_and_shows_pending_effects() {
    let a = many_pending_writes().trace().to_string();
    let b = many_pending_writes().trace().to_string();
    assert_eq!(a, b);
    let first_lines: Vec<&str> = a.lines().take(4).collect();
    assert_eq!(first_lines[0], "   0  mkdir(\"d\") = 0    pending: #0");
    assert_eq!(first_lines[1], "        #0 mkdir d (ino 2) in dir 1");
    assert_eq!(first_lines[2], "   1  open(\"d/f0\", O_WRONLY|O_CREAT|O_TRUNC) = 3    pending: #0 #1");
    assert_eq!(first_lines[3], "        #1 create f0 (ino 3) in dir 2");
}

/// Directories moved across directories (so under posix one may be reachable by two paths or
/// none) and files rewritten: every image's fingerprint, taken by walking its disk while the set
/// is enumerated, is the fingerprint of the image built from it, at every crash point.
#[test]
fn fingerprints_of_disks_and_of_their_images_agree() {
    let fs = SimFs::new(SimOptions::default());
    block_on(async {
        for dir in ["a", "b", "a/x"] {
            fs.mkdir(dir).await.unwrap();
        }
        let fd = fs.open("a/x/f", OpenOptions::create_trunc()).await.unwrap();
        fs.write(fd, b"one").await.unwrap();
        fs.close(fd).await.unwrap();
        fs.rename("a/x", "b/y").await.unwrap();
        let fd = fs.open("b/y/g", OpenOptions::create_trunc()).await.unwrap();
        fs.write(fd, &[7u8; 1500]).await.unwrap();
        fs.close(fd).await.unwrap();
        fs.rename("b/y/f", "a/f").await.unwrap();
    });
    let mut checked = 0;
    for model in Model::ALL {
        for k in 0..=fs.steps() {
            let set = fs.crash_images(k, model, &ImageOptions::default());
            for i in 0..set.len() {
                assert_eq!(set.fingerprints[i], set.image(i).fingerprint(), "{model}, crash after {k}, image {i}");
                checked += 1;
            }
        }
    }
    assert!(checked > 100, "{checked} images checked");
}
