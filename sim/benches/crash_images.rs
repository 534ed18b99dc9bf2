//! Crash images produced per second for a 200-syscall trace under each persistence model, and
//! the cost of cloning a disk image. Run: `cargo bench -p crashsim-sim`.

use crashsim_sim::{Fs, Image, ImageOptions, Model, OpenOptions, SimFs, SimOptions};
use divan::counter::ItemsCount;
use divan::Bencher;
use pollster::block_on;

fn main() {
    divan::main();
}

/// Exactly 200 syscalls shaped like a session store: registry replaces (temp, fsync, rename,
/// dir fsync), transcript appends with and without fsync.
fn store_like_trace() -> SimFs {
    let fs = SimFs::new(SimOptions::default());
    block_on(async {
        fs.mkdir("s").await.unwrap();
        let mut round = 0;
        while fs.steps() < 200 {
            let tmp = format!("s/reg.{round}.tmp");
            let fd = fs.open(&tmp, OpenOptions::create_trunc()).await.unwrap();
            fs.write(fd, format!("{{\"round\":{round}}}").repeat(40).as_bytes()).await.unwrap();
            fs.fsync(fd).await.unwrap();
            fs.close(fd).await.unwrap();
            fs.rename(&tmp, "s/reg.json").await.unwrap();
            let dir = fs.open("s", OpenOptions::dir()).await.unwrap();
            fs.fsync(dir).await.unwrap();
            fs.close(dir).await.unwrap();
            let log = fs.open(&format!("s/t{}.jsonl", round % 3), OpenOptions::append()).await.unwrap();
            fs.write(log, b"{\"role\":\"user\",\"text\":\"hello\"}\n").await.unwrap();
            fs.write(log, b"{\"role\":\"assistant\",\"text\":\"hi\"}\n").await.unwrap();
            if round % 2 == 0 {
                fs.fsync(log).await.unwrap();
            }
            fs.close(log).await.unwrap();
            round += 1;
        }
    });
    fs
}

fn count_images(fs: &SimFs, model: Model, opts: &ImageOptions) -> usize {
    let mut total = 0;
    fs.each_crash_point(model, opts, |_, set| total += set.len());
    total
}

#[divan::bench(args = ["process", "ordered", "posix"], sample_count = 10)]
fn images_of_200_syscalls(bencher: Bencher, model: &str) {
    let model: Model = model.parse().unwrap();
    let fs = store_like_trace();
    let opts = ImageOptions::default();
    let total = count_images(&fs, model, &opts);
    bencher.counter(ItemsCount::new(total)).bench(|| count_images(&fs, model, &opts));
}

#[divan::bench]
fn clone_image(bencher: Bencher) {
    let image: Image = store_like_trace().volatile_image();
    bencher.bench(|| divan::black_box(&image).clone());
}
