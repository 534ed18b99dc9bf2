//! The persistence models against image sets computed by hand.

use std::collections::BTreeSet;
use std::sync::Arc;

use crashsim_sim::{
    Call, Errno, Fs, Image, ImageOptions, Injection, Injector, Model, Node, OpenOptions, SimFs, SimOptions,
};
use pollster::block_on;

/// An image from `(path, contents)` pairs; a path ending in `/` is a directory.
fn image(entries: &[(&str, &str)]) -> Image {
    Image::from_nodes(entries.iter().map(|(path, data)| match path.strip_suffix('/') {
        Some(dir) => (dir.to_string(), Node::Dir),
        None => (path.to_string(), Node::File(Arc::new(data.as_bytes().to_vec()))),
    }))
}

fn set(images: &[Image]) -> BTreeSet<Image> {
    images.iter().cloned().collect()
}

fn final_images(fs: &SimFs, model: Model) -> BTreeSet<Image> {
    let result = fs.crash_images(fs.steps(), model, &ImageOptions::default());
    assert!(result.exhaustive);
    let distinct = set(&result.images());
    assert_eq!(distinct.len(), result.len(), "images are deduplicated");
    distinct
}

async fn write_file(fs: &SimFs, path: &str, data: &str, sync: bool) {
    let fd = fs.open(path, OpenOptions::create_trunc()).await.unwrap();
    assert_eq!(fs.write(fd, data.as_bytes()).await.unwrap(), data.len());
    if sync {
        fs.fsync(fd).await.unwrap();
    }
    fs.close(fd).await.unwrap();
}

async fn sync_dir(fs: &SimFs, path: &str) {
    let fd = fs.open(path, OpenOptions::dir()).await.unwrap();
    fs.fsync(fd).await.unwrap();
    fs.close(fd).await.unwrap();
}

/// Case 1: write a temp file, rename it over the target, no fsync at all.
fn replace_without_sync() -> SimFs {
    let fs = SimFs::from_image(&image(&[("target", "old")]), SimOptions::default());
    block_on(async {
        write_file(&fs, "tmp", "new", false).await;
        fs.rename("tmp", "target").await.unwrap();
    });
    fs
}

#[test]
fn replace_without_sync_process_keeps_exactly_the_running_state() {
    let fs = replace_without_sync();
    assert_eq!(final_images(&fs, Model::Process), set(&[image(&[("target", "new")])]));
}

#[test]
fn replace_without_sync_ordered_never_leaves_an_empty_target() {
    let fs = replace_without_sync();
    let expected = set(&[
        image(&[("target", "old")]),
        image(&[("target", "old"), ("tmp", "")]),
        image(&[("target", "old"), ("tmp", "new")]),
        image(&[("target", "new")]),
    ]);
    let found = final_images(&fs, Model::Ordered);
    assert_eq!(found, expected);
    assert!(found.iter().all(|img| img.file("target") != Some(b"")));
}

#[test]
fn replace_without_sync_posix_may_leave_an_empty_target() {
    let fs = replace_without_sync();
    let expected = set(&[
        image(&[("target", "old")]),
        image(&[("target", "old"), ("tmp", "")]),
        image(&[("target", "old"), ("tmp", "new")]),
        image(&[("target", "")]),
        image(&[("target", "new")]),
    ]);
    assert_eq!(final_images(&fs, Model::Posix), expected);
}

/// Case 2: the same with fsync(temp) before the rename and fsync(dir) after it.
#[test]
fn replace_with_file_and_dir_sync_leaves_only_the_new_content() {
    let fs = SimFs::from_image(&image(&[("target", "old")]), SimOptions::default());
    block_on(async {
        write_file(&fs, "tmp", "new", true).await;
        fs.rename("tmp", "target").await.unwrap();
        sync_dir(&fs, "").await;
    });
    for model in Model::ALL {
        assert_eq!(final_images(&fs, model), set(&[image(&[("target", "new")])]), "{model}");
    }
}

/// Case 3: create and fsync a file, never fsync its directory.
#[test]
fn synced_file_in_unsynced_dir_may_vanish_only_under_posix() {
    let fs = SimFs::new(SimOptions::default());
    block_on(write_file(&fs, "f", "data", true));
    let kept = set(&[image(&[("f", "data")])]);
    assert_eq!(final_images(&fs, Model::Process), kept);
    assert_eq!(final_images(&fs, Model::Ordered), kept);
    assert_eq!(final_images(&fs, Model::Posix), set(&[Image::empty(), image(&[("f", "data")])]));
}

/// Fails the syscall at one step with one errno.
struct FailAt(usize, Errno);

impl Injector for FailAt {
    fn before(&mut self, step: usize, _call: &Call) -> Injection {
        if step == self.0 {
            Injection::Fail(self.1)
        } else {
            Injection::Proceed
        }
    }
}

/// Case 4: an fsync fails, the next one succeeds: the data of the failed one never lands.
#[test]
fn data_of_a_failed_fsync_is_not_made_durable_by_a_later_fsync() {
    let fs = SimFs::from_image(&image(&[("f", "")]), SimOptions::default());
    fs.set_injector(Box::new(FailAt(2, Errno::EIO)));
    block_on(async {
        let fd = fs.open("f", OpenOptions::write()).await.unwrap();
        fs.write(fd, b"data").await.unwrap();
        assert_eq!(fs.fsync(fd).await, Err(Errno::EIO));
        fs.fsync(fd).await.unwrap();
        // The running process still reads what it wrote.
        assert_eq!(fs.volatile_image().file("f"), Some(&b"data"[..]));
        fs.close(fd).await.unwrap();
    });
    assert_eq!(final_images(&fs, Model::Process), set(&[image(&[("f", "data")])]));
    for model in [Model::Ordered, Model::Posix] {
        assert_eq!(final_images(&fs, model), set(&[image(&[("f", "")])]), "{model}");
    }
    assert!(fs.trace().steps[2].injected);
}

#[test]
fn a_write_spanning_sectors_may_persist_torn() {
    let fs = SimFs::from_image(&image(&[("f", "")]), SimOptions::default());
    let data = "x".repeat(1200);
    block_on(async {
        let fd = fs.open("f", OpenOptions::write()).await.unwrap();
        fs.write(fd, data.as_bytes()).await.unwrap();
    });
    let expected = set(&[
        image(&[("f", "")]),
        image(&[("f", &data[..512])]),
        image(&[("f", &data[..1024])]),
        image(&[("f", &data)]),
    ]);
    assert_eq!(final_images(&fs, Model::Ordered), expected);
    assert_eq!(final_images(&fs, Model::Posix), expected);
    let small = ImageOptions { sector_size: 4096, ..ImageOptions::default() };
    let whole = fs.crash_images(fs.steps(), Model::Posix, &small);
    assert_eq!(set(&whole.images()), set(&[image(&[("f", "")]), image(&[("f", &data)])]));
}

#[test]
fn cross_directory_rename_halves_persist_independently_under_posix() {
    let start = image(&[("a/", ""), ("a/f", "v"), ("b/", "")]);
    let fs = SimFs::from_image(&start, SimOptions::default());
    block_on(fs.rename("a/f", "b/f")).unwrap();
    let expected = set(&[
        start.clone(),
        image(&[("a/", ""), ("b/", "")]),
        image(&[("a/", ""), ("a/f", "v"), ("b/", ""), ("b/f", "v")]),
        image(&[("a/", ""), ("b/", ""), ("b/f", "v")]),
    ]);
    assert_eq!(final_images(&fs, Model::Posix), expected);
    // Ordered keeps the rename atomic.
    let atomic = set(&[start, image(&[("a/", ""), ("b/", ""), ("b/f", "v")])]);
    assert_eq!(final_images(&fs, Model::Ordered), atomic);
    // Syncing only the target directory makes the new name durable, the old one may linger.
    block_on(sync_dir(&fs, "b"));
    let after = final_images(&fs, Model::Posix);
    assert_eq!(
        after,
        set(&[
            image(&[("a/", ""), ("a/f", "v"), ("b/", ""), ("b/f", "v")]),
            image(&[("a/", ""), ("b/", ""), ("b/f", "v")]),
        ])
    );
}

/// A hard link then an unlink of the old name (how git publishes an object): two entry
/// operations of one directory, kept in order under ordered, each on its own under posix.
#[test]
fn link_then_unlink_persists_as_entry_operations_of_the_directory() {
    let start = image(&[("tmp", "obj")]);
    let fs = SimFs::from_image(&start, SimOptions::default());
    block_on(async {
        fs.link("tmp", "final").await.unwrap();
        fs.unlink("tmp").await.unwrap();
    });
    let linked = image(&[("tmp", "obj"), ("final", "obj")]);
    let done = image(&[("final", "obj")]);
    assert_eq!(final_images(&fs, Model::Process), set(std::slice::from_ref(&done)));
    assert_eq!(final_images(&fs, Model::Ordered), set(&[start.clone(), linked.clone(), done.clone()]));
    // Posix keeps each directory's entry operations as a prefix: the unlink never without the link.
    assert_eq!(final_images(&fs, Model::Posix), set(&[start, linked, done]));
    // Both names reach one inode: a write through either shows under the other.
    let fs = SimFs::from_image(&image(&[("a", "1")]), SimOptions::default());
    let both = block_on(async {
        fs.link("a", "b").await.unwrap();
        let fd = fs.open("b", OpenOptions::write()).await.unwrap();
        fs.write(fd, b"2").await.unwrap();
        fs.close(fd).await.unwrap();
        fs.volatile_image()
    });
    assert_eq!(both, image(&[("a", "2"), ("b", "2")]));
}

#[test]
fn every_crash_point_is_covered_and_agrees_with_single_points() {
    let fs = replace_without_sync();
    for model in Model::ALL {
        let mut seen = 0;
        fs.each_crash_point(model, &ImageOptions::default(), |k, images| {
            assert_eq!(images, fs.crash_images(k, model, &ImageOptions::default()), "{model} at {k}");
            seen += 1;
        });
        assert_eq!(seen, fs.steps() + 1);
    }
    // A crash before anything ran leaves the initial image under every model.
    for model in Model::ALL {
        let images = fs.crash_images(0, model, &ImageOptions::default()).images();
        assert_eq!(images, vec![image(&[("target", "old")])]);
    }
}

#[test]
fn unlinked_open_file_keeps_its_data_for_the_process_only() {
    let fs = SimFs::new(SimOptions::default());
    block_on(async {
        let fd = fs.open("f", OpenOptions { read: true, ..OpenOptions::create_new() }).await.unwrap();
        fs.unlink("f").await.unwrap();
        fs.write(fd, b"ghost").await.unwrap();
        assert_eq!(fs.pread(fd, 0, 10).await.unwrap(), b"ghost");
        fs.close(fd).await.unwrap();
    });
    assert_eq!(final_images(&fs, Model::Process), set(&[Image::empty()]));
}

#[test]
fn capacity_limit_gives_short_writes_then_enospc() {
    let fs = SimFs::new(SimOptions { capacity: Some(10), ..SimOptions::default() });
    block_on(async {
        let fd = fs.open("f", OpenOptions::create_trunc()).await.unwrap();
        assert_eq!(fs.write(fd, b"12345678").await, Ok(8));
        assert_eq!(fs.write(fd, b"abcd").await, Ok(2));
        assert_eq!(fs.write(fd, b"z").await, Err(Errno::ENOSPC));
        // Overwriting in place needs no new space.
        assert_eq!(fs.pwrite(fd, 0, b"AB").await, Ok(2));
        fs.truncate(fd, 4).await.unwrap();
        assert_eq!(fs.pwrite(fd, 4, b"xyz").await, Ok(3));
    });
    assert_eq!(fs.volatile_image().file("f"), Some(&b"AB34xyz"[..]));
}

#[test]
fn writes_to_files_whose_removal_is_durable_are_not_enumerated() {
    // The lock-file pattern: create, write (never fsynced), unlink, fsync the directory.
    let fs = SimFs::new(SimOptions::default());
    block_on(async {
        for _ in 0..40 {
            let fd = fs.open("lock", OpenOptions::create_new()).await.unwrap();
            fs.write(fd, b"owner").await.unwrap();
            fs.close(fd).await.unwrap();
            fs.unlink("lock").await.unwrap();
            sync_dir(&fs, "").await;
        }
    });
    let set = fs.crash_images(fs.steps(), Model::Posix, &ImageOptions::default());
    assert!(set.exhaustive, "{} combinations", set.combinations);
    assert_eq!(set.images(), vec![Image::empty()]);
}

#[test]
fn pending_data_of_a_file_in_a_directory_not_yet_linked_is_kept() {
    // d/f's entry is durable inside d, but d's own entry in the root is not: f's unsynced data
    // can still show up once d's entry persists.
    let fs = SimFs::new(SimOptions::default());
    block_on(async {
        fs.mkdir("d").await.unwrap();
        let fd = fs.open("d/f", OpenOptions::create_new()).await.unwrap();
        fs.write(fd, b"x").await.unwrap();
        fs.close(fd).await.unwrap();
        sync_dir(&fs, "d").await;
    });
    let expected = set(&[Image::empty(), image(&[("d/", ""), ("d/f", "")]), image(&[("d/", ""), ("d/f", "x")])]);
    assert_eq!(final_images(&fs, Model::Posix), expected);
}

/// Past `max_images` combinations the ordered model samples, as posix does: nothing and
/// everything are always there, every sampled image is a prefix of the log, and the set says
/// it was sampled.
#[test]
fn ordered_images_past_the_bound_are_sampled_prefixes() {
    let fs = SimFs::new(SimOptions::default());
    pollster::block_on(async {
        let fd = fs.open("log", OpenOptions::create_trunc()).await.unwrap();
        for i in 0..40u8 {
            fs.write(fd, &[b'a' + (i % 26)]).await.unwrap();
        }
    });
    let all = fs.crash_images(fs.steps(), Model::Ordered, &ImageOptions::default());
    assert!(all.exhaustive);
    let bounded = ImageOptions { max_images: 8, ..ImageOptions::default() };
    let sampled = fs.crash_images(fs.steps(), Model::Ordered, &bounded);
    assert!(!sampled.exhaustive, "41 cuts > 8: sampled");
    assert!(sampled.len() >= 2 && sampled.len() <= 10, "{} images", sampled.len());
    let every = set(&all.images());
    let some = sampled.images();
    assert!(some.iter().all(|image| every.contains(image)), "every sample is a prefix image");
    assert_eq!(some.first(), all.images().first(), "nothing pending first");
    assert!(some.contains(all.images().last().unwrap()), "everything pending is kept");
    assert_eq!(sampled.images(), fs.crash_images(fs.steps(), Model::Ordered, &bounded).images(), "deterministic");
}
