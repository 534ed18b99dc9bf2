//! Fsyncs a proposed fix inserts: after every call made at a site, sync what that call changed.
//!
//! A diagnosis proposes a fix as a set of rules and re-runs the program with them, as if its
//! code had the fsync after that line: the inserted calls are real calls of the trace (marked
//! `inserted`), crash points lie between them, and they cost what they would cost.

use std::fmt;

use crate::Site;

/// What to sync after the call.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SyncTarget {
    /// `fsync` of the file the call wrote, truncated or opened (its descriptor): its data.
    File,
    /// `open(O_DIRECTORY)`, `fsync`, `close` of the directory (or both, for a rename across two)
    /// whose entries the call changed: the entries.
    Dir,
}

/// After each successful `syscall` made at `after`, sync its `target`. (One line of a program
/// may make several syscalls, `fs::write` an open, a write and a close: the rule names which.)
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SyncRule {
    pub syscall: &'static str,
    pub after: Site,
    pub target: SyncTarget,
}

impl SyncRule {
    /// The rule as a person applies it, its call named `call` (a program's `write` that a
    /// replay made a `pwrite` is still its `write`).
    pub fn describe(&self, call: &str) -> String {
        let what = match self.target {
            SyncTarget::File => "fsync the file",
            SyncTarget::Dir => "fsync the directory",
        };
        format!("{what} after the {call} at {}", self.after)
    }
}

impl fmt::Display for SyncRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.describe(self.syscall))
    }
}

#[cfg(test)]
mod tests {
    use crate::{files, ImageOptions, Model, OpenOptions, SimFs, SimOptions, SyncRule, SyncTarget};

    /// Writes a temp file without fsync and renames it over `data`: the rename may persist
    /// before the write under posix. One function, so both runs make their calls at one site.
    fn replace(fs: &SimFs) {
        pollster::block_on(async {
            files::write(fs, "data", OpenOptions::create_trunc(), b"old", true).await.unwrap();
            files::write(fs, "tmp", OpenOptions::create_trunc(), b"new", false).await.unwrap();
            crate::Fs::rename(fs, "tmp", "data").await.unwrap();
        });
    }

    /// The simulator's own files, without this test's: here the test is the program.
    fn library() -> Vec<String> {
        ["/src/files.rs", "/src/simfs.rs"].map(|file| format!("{}{file}", env!("CARGO_MANIFEST_DIR"))).to_vec()
    }

    fn empty_data_possible(fs: &SimFs) -> bool {
        let set = fs.crash_images(fs.steps(), Model::Posix, &ImageOptions::default());
        set.images().iter().any(|image| image.file("data") == Some(&b""[..]))
    }

    #[test]
    fn an_inserted_fsync_after_the_write_orders_it_before_the_rename() {
        let plain = SimFs::new(SimOptions::default());
        plain.record_sites(library());
        replace(&plain);
        assert!(empty_data_possible(&plain), "the bug this fix is for");
        let trace = plain.trace();
        let write = trace.steps.iter().filter(|s| s.call.name() == "write").nth(1).expect("the temp file's write");
        let site = write.site.clone().expect("tests have line tables");
        assert!(site.line().file.ends_with("sync_rule.rs"), "{site}");

        let fixed = SimFs::new(SimOptions::default());
        fixed.record_sites(library());
        fixed.insert_syncs(vec![SyncRule { syscall: "write", after: site, target: SyncTarget::File }]);
        replace(&fixed);
        let inserted: Vec<String> =
            fixed.trace().steps.iter().filter(|s| s.inserted).map(|s| s.call.to_string()).collect();
        assert_eq!(inserted, ["fsync(3)"], "one fsync after the temp write alone:\n{}", fixed.trace());
        assert!(!empty_data_possible(&fixed), "the fsync removed the reordering");
        assert_eq!(fixed.steps(), plain.steps() + 1);
    }
}
