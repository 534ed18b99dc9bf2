//! Call sites: where in the program under test a syscall was made.
//!
//! A site is the chain of the program's own frames around the call, innermost first, read off a
//! backtrace taken at the call. Frames of the standard library, of registry crates (executors,
//! `pollster`) and of the directories a harness names as its own (this crate, shims, schedulers)
//! are skipped, so the innermost frame left is the line that asked for the syscall, and the
//! next ones say which caller it served (`store/src/io.rs:30 (from store/src/registry.rs:83)`).
//!
//! Capturing is slow (a backtrace resolved against the debug line tables per call), so a
//! `SimFs` records sites only when asked ([`crate::SimFs::record_sites`]): for a diagnosis,
//! never while exploring. Without line tables (a build with `debug = false`) no frame has a file
//! and every site is `None`; sites are what is printed and what a fix is keyed by, never what
//! decides an exploration.

use std::fmt;

/// How many of the program's own frames a site keeps: enough to tell two callers of one helper
/// apart, few enough to stay readable.
const FRAMES: usize = 3;

/// One frame: a source file, absolute (a backtrace names files under the working directory
/// relative to it; they are made absolute so a site is the same from any directory), and a line.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Frame {
    pub file: String,
    /// 0 when unknown: a frame of a traced binary (`git(xopen+0x2d)`) has none.
    pub line: u32,
}

/// A call site: the program's own frames around a call, innermost first (never empty).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Site {
    pub frames: Vec<Frame>,
}

impl Site {
    /// The site of the call being made now: the innermost frames whose file is not under one of
    /// `library` (absolute path prefixes), the standard library or a registry crate. `None` when
    /// no frame qualifies (no line tables).
    pub fn capture(library: &[String]) -> Option<Site> {
        let backtrace = format!("{:?}", std::backtrace::Backtrace::force_capture());
        let frames: Vec<Frame> = parse_frames(&backtrace)
            .into_iter()
            .skip_while(|frame| is_library(&frame.file, library))
            .take_while(|frame| !is_library(&frame.file, library))
            .take(FRAMES)
            .collect();
        (!frames.is_empty()).then_some(Site { frames })
    }

    /// The innermost frame: the line that made the call.
    pub fn line(&self) -> &Frame {
        &self.frames[0]
    }
}

thread_local! {
    /// The site of the calls made now on this thread for code on another ([`made_at`]).
    static MADE_AT: std::cell::RefCell<Option<Option<Site>>> = const { std::cell::RefCell::new(None) };
}

/// Runs `f` with `site` as the site of every call it makes on this thread: the calls a thread
/// makes on behalf of code running on another, whose stack is where the call really comes from
/// (the site was captured there, [`Site::capture`]). Nests; restored even if `f` panics.
pub fn made_at<R>(site: Option<Site>, f: impl FnOnce() -> R) -> R {
    struct Restore(Option<Option<Site>>);
    impl Drop for Restore {
        fn drop(&mut self) {
            let outer = self.0.take();
            MADE_AT.with(|made_at| *made_at.borrow_mut() = outer);
        }
    }
    let _restore = Restore(MADE_AT.with(|made_at| made_at.borrow_mut().replace(site)));
    f()
}

/// The site [`made_at`] gives the calls made now on this thread, if any.
pub(crate) fn handed_over() -> Option<Option<Site>> {
    MADE_AT.with(|made_at| made_at.borrow().clone())
}

/// The directory of this crate's sources, absolute: frames in it are the simulator's, never
/// the program's.
pub fn own_sources() -> String {
    concat!(env!("CARGO_MANIFEST_DIR"), "/src/").to_string()
}

/// Frames not in Rust sources (the C library's) are never the program's call site either.
fn is_library(file: &str, library: &[String]) -> bool {
    !file.ends_with(".rs")
        || file == concat!(env!("CARGO_MANIFEST_DIR"), "/src/site.rs")
        || file.starts_with("/rustc/")
        || file.contains("/.cargo/registry/")
        || file.contains("/.cargo/git/")
        || file.contains("/library/std/")
        || file.contains("/library/core/")
        || library.iter().any(|dir| !dir.is_empty() && file.starts_with(dir.as_str()))
}

/// The frames of a backtrace printed with `{:?}` (`[{ fn: "..", file: "..", line: N }, ..]`)
/// that name a file; frames without one (no line tables) are dropped.
fn parse_frames(text: &str) -> Vec<Frame> {
    let mut frames = Vec::new();
    let mut rest = text;
    while let Some(at) = rest.find("file: \"") {
        rest = &rest[at + "file: \"".len()..];
        let Some(end) = rest.find('"') else { break };
        let file = &rest[..end];
        rest = &rest[end..];
        let line = rest
            .strip_prefix("\", line: ")
            .and_then(|tail| tail.split(|c: char| !c.is_ascii_digit()).next())
            .and_then(|digits| digits.parse().ok());
        if let Some(line) = line {
            frames.push(Frame { file: absolute(file), line });
        }
    }
    frames
}

fn absolute(file: &str) -> String {
    let file = file.strip_prefix("./").unwrap_or(file);
    if file.starts_with('/') {
        return file.to_string();
    }
    match std::env::current_dir() {
        Ok(dir) => format!("{}/{file}", dir.display()),
        Err(_) => file.to_string(),
    }
}

/// The file relative to the working directory when it lies under it (as a backtrace prints it).
impl fmt::Display for Frame {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let cwd = std::env::current_dir().map(|dir| format!("{}/", dir.display())).unwrap_or_default();
        let file = self.file.strip_prefix(cwd.as_str()).unwrap_or(&self.file);
        match self.line {
            // A traced binary's frame, `/usr/bin/git(xopen+0x2d)`: its file name is enough.
            0 => match file.split_once('(') {
                Some((path, symbol)) => write!(f, "{}({symbol}", path.rsplit('/').next().unwrap_or(path)),
                None => write!(f, "{file}"),
            },
            line => write!(f, "{file}:{line}"),
        }
    }
}

/// `store/src/io.rs:30 (from store/src/registry.rs:83, store/src/lib.rs:120)`.
impl fmt::Display for Site {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.frames[0])?;
        if self.frames.len() > 1 {
            let callers: Vec<String> = self.frames[1..].iter().map(Frame::to_string).collect();
            write!(f, " (from {})", callers.join(", "))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_are_read_off_a_printed_backtrace() {
        let text = r#"Backtrace [{ fn: "inner", file: "./store/src/io.rs", line: 30 }, { fn: "x" }, { fn: "y", file: "/rustc/abc/library/core/src/ops.rs", line: 250 }]"#;
        let frames = parse_frames(text);
        let cwd = std::env::current_dir().unwrap();
        assert_eq!(
            frames,
            vec![
                Frame { file: format!("{}/store/src/io.rs", cwd.display()), line: 30 },
                Frame { file: "/rustc/abc/library/core/src/ops.rs".into(), line: 250 }
            ]
        );
        assert_eq!(frames[0].to_string(), "store/src/io.rs:30");
    }
}
