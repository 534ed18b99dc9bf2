//! Replaying a program's syscalls inside DIR on a `SimFs` started from DIR's snapshot.
//!
//! Descriptors are tracked as the kernel keeps them (`strace::processes`), and each open file
//! description keeps its own offset, so `write` becomes a `pwrite` at the offset the program
//! had. What is not simulated is counted by reason ([`super::skipped`]). A crash point is the end of a replayed syscall that logged an event (an effect
//! or a sync), or of a write to the program's stdout. A call that does not touch DIR, or that
//! failed for real, is counted, not simulated; a call that touches DIR and cannot be mapped is
//! counted as a concern the report shows first. If the simulated disk refuses what the real one
//! allowed, the replay stops with an error: the simulation no longer matches the program.

use std::collections::BTreeMap;
use std::path::Path;

use crashsim_sim::{Fd, Frame, Fs, Image, Kind, OpenOptions, SimFs, SimOptions, Site, SyncRule};
use pollster::block_on;

use super::line::{self, Entry, Ret, Syscall};
use super::processes::{Desc, Processes};
pub use super::skipped::{Reason, Skipped};
use super::skipped::{METADATA, READ_ONLY, UNSUPPORTED};

/// A syscall that touched DIR (or wrote to stdout), replayed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Replayed {
    pub line: usize,
    pub pid: u32,
    pub text: String,
    /// Steps of the simulated trace it ran as (empty for stdout).
    pub steps: std::ops::Range<usize>,
}

/// A crash point: after `steps` simulated steps, with `stdout` bytes printed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Point {
    pub steps: usize,
    /// The replayed call it follows (index into [`Replay::calls`]); none: before the program.
    pub after: Option<usize>,
    pub stdout: usize,
}

/// What a replay leaves.
pub struct Replay {
    pub fs: SimFs,
    pub calls: Vec<Replayed>,
    pub points: Vec<Point>,
    /// Everything the program wrote to stdout.
    pub stdout: Vec<u8>,
    pub skipped: BTreeMap<(Reason, String), Skipped>,
    /// Syscalls in the log, and processes (or threads) seen.
    pub syscalls: usize,
    pub processes: usize,
    /// DIR, canonical, as the program saw it: each crash image is a copy of it.
    pub dir: std::path::PathBuf,
}

impl Replay {
    /// Which replayed call the simulated step `step` belongs to.
    pub fn call_of_step(&self, step: usize) -> Option<usize> {
        self.calls.iter().position(|c| c.steps.contains(&step))
    }

    pub fn concerns(&self) -> usize {
        self.skipped.iter().filter(|((r, _), _)| r.is_concern()).map(|(_, s)| s.count).sum()
    }
}

/// Where the program ran.
pub struct Setup<'a> {
    /// DIR, canonical.
    pub dir: &'a Path,
    /// The program's first working directory, canonical.
    pub cwd: &'a Path,
    /// The file the program's stdout went to, canonical.
    pub stdout: &'a Path,
}

/// Replays `log` on a `SimFs` holding `snapshot` (DIR before the run).
pub fn replay(log: &str, snapshot: &Image, setup: &Setup) -> Result<Replay, String> {
    replay_fixed(log, snapshot, setup, Vec::new())
}

/// [`replay`], with the fsyncs of `rules` inserted after the calls at their sites (each call's
/// site is its `-k` stack, or its log line without one: [`site_of`]).
pub fn replay_fixed(log: &str, snapshot: &Image, setup: &Setup, rules: Vec<SyncRule>) -> Result<Replay, String> {
    let fs = SimFs::from_image(snapshot, SimOptions::default());
    fs.given_site(None);
    fs.insert_syncs(rules);
    let mut replayer = Replayer {
        fs,
        dir: bytes_of(setup.dir),
        stdout_path: bytes_of(setup.stdout),
        processes: Processes::new(bytes_of(setup.cwd)),
        out: Replay {
            dir: setup.dir.to_path_buf(),
            fs: SimFs::default(),
            calls: Vec::new(),
            points: vec![Point { steps: 0, after: None, stdout: 0 }],
            stdout: Vec::new(),
            skipped: BTreeMap::new(),
            syscalls: 0,
            processes: 0,
        },
    };
    for entry in line::parse(log) {
        match entry {
            Entry::Call(call) => {
                replayer.out.syscalls += 1;
                if replayer.processes.register(call.pid) {
                    replayer.out.processes += 1;
                }
                replayer
                    .call(&call)
                    .map_err(|why| format!("strace log line {}: {why}\n  {}", call.line, line::readable(&call.text)))?;
            }
            Entry::Gone { pid } => {
                let closing = replayer.processes.gone(pid);
                replayer.close_sim(closing);
            }
            Entry::Spawning { pid, head } => replayer.processes.spawning(pid, head),
            Entry::Unreadable { line, text, why } => {
                let detail = format!("unreadable line: {why}");
                replayer.skip_at(Reason::NotUnderstood, "(log line)", line, &text, &detail);
            }
        }
    }
    let Replayer { fs, mut out, .. } = replayer;
    out.fs = fs;
    Ok(out)
}

/// The C runtime and loader: their frames stand between every program and the kernel, so a
/// call's site is the first frame outside them.
const RUNTIME: &[&str] =
    &["/libc.so", "/libc-", "/ld-linux", "/libpthread", "/libdl.", "/librt.", "/libstdc++", "/libgcc_s"];

/// Frames of a site from a `-k` stack.
const SITE_FRAMES: usize = 3;

/// Where the program made `call`: the first frames of its `-k` stack outside the C runtime
/// (`/usr/bin/git(write_in_full+0x3e)`), or, without a stack, its line in the log (then a fix
/// applies to that one call, not to every call of a code location).
pub fn site_of(call: &Syscall) -> Site {
    let frames: Vec<Frame> = call
        .stack
        .iter()
        .skip_while(|frame| RUNTIME.iter().any(|lib| frame.contains(lib)))
        .take(SITE_FRAMES)
        .map(|frame| Frame { file: frame.clone(), line: 0 })
        .collect();
    if frames.is_empty() {
        return Site { frames: vec![Frame { file: format!("strace log line {}", call.line), line: 0 }] };
    }
    Site { frames }
}

/// What a descriptor argument names.
enum Target {
    Sim(usize),
    Stdout,
    /// Inside DIR but opened before the trace (or by a call the replay skipped).
    Unknown,
    Outside,
}

struct Replayer {
    fs: SimFs,
    dir: Vec<u8>,
    stdout_path: Vec<u8>,
    processes: Processes,
    out: Replay,
}

const AT_FDCWD: i64 = -100;

impl Replayer {
    /// Closes simulated descriptors whose last reference went.
    fn close_sim(&self, fds: impl IntoIterator<Item = Fd>) {
        self.fs.given_site(None);
        for fd in fds {
            block_on(self.fs.close(fd)).expect("a simulated descriptor closes once");
        }
    }

    fn skip(&mut self, reason: Reason, call: &Syscall, detail: &str) {
        self.skip_at(reason, &call.name, call.line, &call.text, detail);
    }

    fn skip_at(&mut self, reason: Reason, name: &str, line: usize, text: &str, detail: &str) {
        let entry = self.out.skipped.entry((reason, name.to_string())).or_insert_with(|| Skipped {
            count: 0,
            line,
            example: line::readable(text),
            detail: detail.to_string(),
        });
        entry.count += 1;
    }

    /// DIR-relative path of an absolute one, if it is inside DIR. Names inside DIR that are not
    /// UTF-8 are an error: the simulated disk names files in UTF-8.
    fn inside(&self, abs: &[u8]) -> Result<Option<String>, String> {
        let Some(rest) = abs.strip_prefix(self.dir.as_slice()) else { return Ok(None) };
        let rel = match rest {
            [] => &[][..],
            [b'/', rel @ ..] => rel,
            _ => return Ok(None),
        };
        String::from_utf8(rel.to_vec()).map(Some).map_err(|_| {
            format!(
                "a name inside DIR that is not UTF-8 ({}): the simulated disk names files in UTF-8",
                String::from_utf8_lossy(rel)
            )
        })
    }

    /// The absolute, lexically normalized path of `path` as `pid` names it, relative to the
    /// directory descriptor `dirfd` (an argument) or to its working directory.
    fn absolute(&mut self, pid: u32, dirfd: Option<&str>, path: &[u8]) -> Result<Vec<u8>, String> {
        let base = if path.starts_with(b"/") {
            Vec::new()
        } else {
            match dirfd.map(line::fd).transpose()? {
                Some((AT_FDCWD, Some(cwd))) => {
                    self.processes.set_cwd(pid, cwd.clone());
                    cwd
                }
                Some((AT_FDCWD, None)) | None => self.processes.cwd(pid).to_vec(),
                Some((_, Some(dir))) => dir,
                Some((fd, None)) => return Err(format!("descriptor {fd} without a path (strace -y missing?)")),
            }
        };
        let mut parts: Vec<&[u8]> = Vec::new();
        for part in base.split(|b| *b == b'/').chain(path.split(|b| *b == b'/')) {
            match part {
                b"" | b"." => {}
                b".." => {
                    parts.pop();
                }
                name => parts.push(name),
            }
        }
        let mut out = Vec::new();
        for part in parts {
            out.push(b'/');
            out.extend_from_slice(part);
        }
        if out.is_empty() {
            out.push(b'/');
        }
        Ok(out)
    }

    /// The DIR-relative path of a path argument, or none when it is outside DIR.
    fn path_arg(&mut self, call: &Syscall, dirfd: Option<usize>, path: usize) -> Result<Option<String>, String> {
        let dirfd = dirfd.map(|i| call.arg(i)).transpose()?;
        let bytes = line::string(call.arg(path)?)?;
        let abs = self.absolute(call.pid, dirfd, &bytes)?;
        self.inside(&abs)
    }

    fn target(&mut self, call: &Syscall, arg: usize) -> Result<(Target, i64), String> {
        let (fd, path) = line::fd(call.arg(arg)?)?;
        let inside = path.as_deref().map(|p| self.inside(p)).transpose()?.map(|rel| rel.is_some());
        if let Some(slot) = self.processes.slot(call.pid, fd) {
            // A slot whose descriptor now names something outside DIR went stale through a call
            // the replay could not see (close_range with a filter, a close in a vfork child).
            if inside == Some(false) {
                let closing = self.processes.close(call.pid, fd);
                self.close_sim(closing);
            } else {
                return Ok((Target::Sim(slot.desc), fd));
            }
        }
        let target = match path {
            Some(p) if p == self.stdout_path => Target::Stdout,
            Some(_) if inside == Some(true) => Target::Unknown,
            _ => Target::Outside,
        };
        Ok((target, fd))
    }

    /// Whether any argument (or the returned descriptor) names something inside DIR.
    fn touches_dir(&mut self, call: &Syscall) -> bool {
        let mut named: Vec<Vec<u8>> = Vec::new();
        for arg in &call.args {
            if arg.starts_with('"') {
                if let Ok(bytes) = line::string(arg) {
                    if let Ok(abs) = self.absolute(call.pid, None, &bytes) {
                        named.push(abs);
                    }
                }
            } else if let Ok((fd, path)) = line::fd(arg) {
                if let Some(path) = path.filter(|_| fd != AT_FDCWD) {
                    named.push(path);
                }
            }
        }
        if let Ret::Value { path: Some(path), .. } = &call.ret {
            named.push(path.clone());
        }
        named.iter().any(|p| !matches!(self.inside(p), Ok(None)))
    }

    fn call(&mut self, call: &Syscall) -> Result<(), String> {
        let name = call.name.as_str();
        if matches!(call.ret, Ret::Error(_)) {
            let reason = if self.touches_dir(call) { Reason::Failed } else { Reason::Outside };
            self.skip(reason, call, "");
            return Ok(());
        }
        if call.ret == Ret::Unknown {
            if !matches!(name, "exit" | "exit_group") {
                self.skip(Reason::NotUnderstood, call, "did not return");
            }
            return Ok(());
        }
        self.fs.given_site(Some(site_of(call)));
        let before = (self.fs.steps(), self.fs.events(), self.out.stdout.len());
        let replayed = match name {
            "open" | "creat" | "openat" | "openat2" => self.open(call)?,
            "close" => self.close(call)?,
            "close_range" => self.close_range(call)?,
            "dup" | "dup2" | "dup3" => self.dup(call)?,
            "fcntl" | "fcntl64" => self.fcntl(call)?,
            "write" | "writev" | "pwrite64" | "pwritev" | "pwritev2" => self.write(call)?,
            "read" | "readv" | "lseek" => self.move_offset(call)?,
            "fsync" | "fdatasync" => self.fsync(call)?,
            "sync_file_range" | "sync_file_range2" => self.on_fd(call, 0, Reason::NoDurability)?,
            "sync" | "syncfs" => self.sync_all()?,
            "rename" | "renameat" | "renameat2" => self.rename(call)?,
            "link" | "linkat" => self.link(call)?,
            "unlink" | "unlinkat" | "rmdir" => self.unlink(call)?,
            "mkdir" | "mkdirat" => self.mkdir(call)?,
            "truncate" | "ftruncate" => self.truncate(call)?,
            "fallocate" => self.fallocate(call)?,
            "copy_file_range" | "sendfile" | "sendfile64" => self.copy(call)?,
            "chdir" | "fchdir" => self.chdir(call)?,
            "execve" | "execveat" => self.exec(call),
            "clone" | "clone3" | "fork" | "vfork" => self.cloned(call),
            "mmap" | "mmap2" => self.mmap(call)?,
            _ if METADATA.contains(&name) => self.classify(call, Reason::Metadata, ""),
            _ if UNSUPPORTED.contains(&name) => self.classify(call, Reason::Unsupported, ""),
            _ if READ_ONLY.contains(&name) => self.classify(call, Reason::ReadOnly, ""),
            _ => self.classify(call, Reason::NotUnderstood, ""),
        };
        let after = (self.fs.steps(), self.fs.events(), self.out.stdout.len());
        if replayed {
            self.out.calls.push(Replayed {
                line: call.line,
                pid: call.pid,
                text: line::readable(&call.text),
                steps: before.0..after.0,
            });
            if after.1 > before.1 || after.2 > before.2 {
                let after_call = Some(self.out.calls.len() - 1);
                self.out.points.push(Point { steps: after.0, after: after_call, stdout: after.2 });
            }
        }
        Ok(())
    }

    /// Counts a call it does not simulate: under `reason` if it touches DIR, else as outside.
    fn classify(&mut self, call: &Syscall, reason: Reason, detail: &str) -> bool {
        let reason = if self.touches_dir(call) { reason } else { Reason::Outside };
        self.skip(reason, call, detail);
        false
    }

    /// A call on descriptor argument `arg` that changes nothing the model keeps.
    fn on_fd(&mut self, call: &Syscall, arg: usize, reason: Reason) -> Result<bool, String> {
        let reason = match self.target(call, arg)?.0 {
            Target::Sim(_) | Target::Unknown => reason,
            Target::Stdout | Target::Outside => Reason::Outside,
        };
        self.skip(reason, call, "");
        Ok(false)
    }

    fn sim_err(&self, what: &str, errno: crashsim_sim::Errno) -> String {
        format!(
            "the simulated disk refused {what} ({errno}) where the real one allowed it: the replay no longer \
             matches the program (a call it could not simulate came before?)"
        )
    }

    fn open(&mut self, call: &Syscall) -> Result<bool, String> {
        let (dirfd, path, flags_at) = match call.name.as_str() {
            "open" => (None, 0, Some(1)),
            "creat" => (None, 0, None),
            _ => (Some(0), 1, Some(2)),
        };
        let Some(rel) = self.path_arg(call, dirfd, path)? else {
            self.skip(Reason::Outside, call, "");
            return Ok(false);
        };
        let flags: Vec<&str> = match flags_at {
            None => vec!["O_WRONLY", "O_CREAT", "O_TRUNC"],
            Some(i) if call.name == "openat2" => {
                line::field(call.arg(i)?, "flags").map(line::flags).unwrap_or_default()
            }
            Some(i) => line::flags(call.arg(i)?),
        };
        if flags.contains(&"O_TMPFILE") || flags.contains(&"__O_TMPFILE") {
            self.skip(Reason::Unsupported, call, "O_TMPFILE: an unnamed file, linked in later by descriptor");
            return Ok(false);
        }
        let has = |f: &str| flags.contains(&f);
        let mut opts = OpenOptions {
            read: !has("O_WRONLY"),
            write: has("O_WRONLY") || has("O_RDWR"),
            append: has("O_APPEND"),
            create: has("O_CREAT"),
            excl: has("O_EXCL"),
            trunc: has("O_TRUNC"),
            directory: has("O_DIRECTORY"),
        };
        // Linux truncates on O_RDONLY|O_TRUNC too; the simulated disk wants write access for it.
        if opts.trunc && !opts.write {
            opts.write = true;
        }
        let fd = call.ok().expect("a successful call has a value");
        let sim = block_on(self.fs.open(&rel, opts)).map_err(|e| self.sim_err(&format!("open {rel:?}"), e))?;
        let desc = Desc::new(sim, opts.append, has("O_SYNC") || has("O_DSYNC"));
        let closing = self.processes.open(call.pid, fd, desc, has("O_CLOEXEC"));
        self.close_sim(closing);
        Ok(true)
    }

    fn close(&mut self, call: &Syscall) -> Result<bool, String> {
        let (fd, _) = line::fd(call.arg(0)?)?;
        let known = self.processes.slot(call.pid, fd).is_some();
        let closing = self.processes.close(call.pid, fd);
        self.close_sim(closing);
        if !known {
            self.skip(Reason::Outside, call, "");
        }
        Ok(known)
    }

    fn close_range(&mut self, call: &Syscall) -> Result<bool, String> {
        let first = line::int(call.arg(0)?).ok_or("close_range: unreadable first")?;
        let last = line::int(call.arg(1)?).unwrap_or(i64::MAX);
        let cloexec = call.arg(2).map(|f| f.contains("CLOSE_RANGE_CLOEXEC")).unwrap_or(false);
        let fds = self.processes.fds_in(call.pid, first..=last);
        for &fd in &fds {
            if cloexec {
                self.processes.set_cloexec(call.pid, fd, true);
            } else {
                let closing = self.processes.close(call.pid, fd);
                self.close_sim(closing);
            }
        }
        if fds.is_empty() {
            self.skip(Reason::Outside, call, "");
        }
        Ok(!fds.is_empty())
    }

    /// `dup`-like: the returned descriptor names the first argument's description.
    fn dup(&mut self, call: &Syscall) -> Result<bool, String> {
        let (target, _) = self.target(call, 0)?;
        let new = call.ok().expect("a successful call has a value");
        let Target::Sim(desc) = target else {
            let closing = self.processes.close(call.pid, new);
            self.close_sim(closing);
            self.skip(Reason::Outside, call, "");
            return Ok(false);
        };
        let cloexec = call.args.iter().any(|a| a.contains("O_CLOEXEC")) || call.text.contains("F_DUPFD_CLOEXEC");
        let closing = self.processes.dup(call.pid, new, desc, cloexec);
        self.close_sim(closing);
        Ok(true)
    }

    fn fcntl(&mut self, call: &Syscall) -> Result<bool, String> {
        let command = call.arg(1)?;
        if command.starts_with("F_DUPFD") {
            return self.dup(call);
        }
        let (target, fd) = self.target(call, 0)?;
        let Target::Sim(desc) = target else {
            self.skip(Reason::Outside, call, "");
            return Ok(false);
        };
        match command {
            "F_SETFD" => {
                let cloexec = call.arg(2)?.contains("FD_CLOEXEC");
                self.processes.set_cloexec(call.pid, fd, cloexec);
            }
            "F_SETFL" => {
                let flags = call.arg(2)?;
                self.processes.desc_mut(desc).append = flags.contains("O_APPEND");
            }
            _ => self.skip(Reason::ReadOnly, call, ""),
        }
        Ok(false)
    }

    fn write(&mut self, call: &Syscall) -> Result<bool, String> {
        let n = call.ok().expect("a successful call has a value") as usize;
        let vector = call.name.contains('v');
        let mut data = if vector { line::iovec(call.arg(1)?)? } else { line::string(call.arg(1)?)? };
        data.truncate(n);
        let offset = match call.name.as_str() {
            "pwrite64" => Some(line::int(call.arg(3)?).ok_or("pwrite64: unreadable offset")?),
            "pwritev" | "pwritev2" => Some(line::int(call.arg(3)?).ok_or("pwritev: unreadable offset")?),
            _ => None,
        }
        .filter(|o| *o >= 0)
        .map(|o| o as u64);
        let sync = call.name == "pwritev2"
            && call.arg(4).map(|f| f.contains("RWF_SYNC") || f.contains("RWF_DSYNC")).unwrap_or(false);
        let (target, _) = self.target(call, 0)?;
        self.write_to(call, target, offset, &data, sync)
    }

    /// Writes `data` at `offset` (none: the description's offset, which moves) of `target`.
    fn write_to(
        &mut self,
        call: &Syscall,
        target: Target,
        offset: Option<u64>,
        data: &[u8],
        sync: bool,
    ) -> Result<bool, String> {
        match target {
            Target::Sim(id) => {
                let desc = self.processes.desc(id);
                let (sim, at, append, sync) = (desc.sim, offset.unwrap_or(desc.offset), desc.append, sync || desc.sync);
                let written = block_on(self.fs.pwrite(sim, at, data)).map_err(|e| self.sim_err("a write", e))?;
                if written != data.len() {
                    return Err(format!("the simulated disk wrote {written} of {} bytes", data.len()));
                }
                if offset.is_none() {
                    let end = if append {
                        self.fs.size(sim).map_err(|e| self.sim_err("fstat", e))?
                    } else {
                        at + written as u64
                    };
                    self.processes.desc_mut(id).offset = end;
                }
                if sync {
                    block_on(self.fs.fdatasync(sim)).map_err(|e| self.sim_err("O_SYNC's fdatasync", e))?;
                }
                Ok(true)
            }
            Target::Stdout if offset.is_none() => {
                self.out.stdout.extend_from_slice(data);
                Ok(true)
            }
            other => self.not_in_dir(call, other),
        }
    }

    /// `read`, `readv` and `lseek`: nothing changes on the disk but the description's offset,
    /// moved by what the call returned (bytes read, or the new offset).
    fn move_offset(&mut self, call: &Syscall) -> Result<bool, String> {
        let value = call.ok().expect("a successful call has a value") as u64;
        if let (Target::Sim(id), _) = self.target(call, 0)? {
            let desc = self.processes.desc_mut(id);
            desc.offset = if call.name == "lseek" { value } else { desc.offset + value };
            self.skip(Reason::ReadOnly, call, "");
        } else {
            self.skip(Reason::Outside, call, "");
        }
        Ok(false)
    }

    fn fsync(&mut self, call: &Syscall) -> Result<bool, String> {
        match self.target(call, 0)?.0 {
            Target::Sim(id) => {
                let sim = self.processes.desc(id).sim;
                let result =
                    if call.name == "fsync" { block_on(self.fs.fsync(sim)) } else { block_on(self.fs.fdatasync(sim)) };
                result.map_err(|e| self.sim_err(&call.name, e))?;
                Ok(true)
            }
            other => self.not_in_dir(call, other),
        }
    }

    /// `sync`/`syncfs`: every file and directory inside DIR becomes durable.
    fn sync_all(&mut self) -> Result<bool, String> {
        let mut dirs = vec![String::new()];
        let mut all = Vec::new();
        while let Some(dir) = dirs.pop() {
            let names = block_on(self.fs.readdir(&dir)).map_err(|e| self.sim_err("readdir", e))?;
            for name in names {
                let path = if dir.is_empty() { name } else { format!("{dir}/{name}") };
                let kind = block_on(self.fs.stat(&path)).map_err(|e| self.sim_err("stat", e))?.kind;
                if kind == Kind::Dir {
                    dirs.push(path.clone());
                }
                all.push((path, kind));
            }
        }
        all.push((String::new(), Kind::Dir));
        for (path, kind) in all {
            let opts = if kind == Kind::Dir { OpenOptions::dir() } else { OpenOptions::read() };
            let fd = block_on(self.fs.open(&path, opts)).map_err(|e| self.sim_err("open", e))?;
            block_on(self.fs.fsync(fd)).map_err(|e| self.sim_err("fsync", e))?;
            block_on(self.fs.close(fd)).map_err(|e| self.sim_err("close", e))?;
        }
        Ok(true)
    }

    fn rename(&mut self, call: &Syscall) -> Result<bool, String> {
        let at = call.name != "rename";
        let (from, to) = if at {
            (self.path_arg(call, Some(0), 1)?, self.path_arg(call, Some(2), 3)?)
        } else {
            (self.path_arg(call, None, 0)?, self.path_arg(call, None, 1)?)
        };
        if call.name == "renameat2"
            && call.arg(4).map(|f| f.contains("RENAME_EXCHANGE") || f.contains("RENAME_WHITEOUT")).unwrap_or(false)
        {
            return Ok(self.classify(call, Reason::Unsupported, "RENAME_EXCHANGE and RENAME_WHITEOUT"));
        }
        match (from, to) {
            (Some(from), Some(to)) => {
                block_on(self.fs.rename(&from, &to))
                    .map_err(|e| self.sim_err(&format!("rename {from:?} -> {to:?}"), e))?;
                Ok(true)
            }
            (Some(from), None) => {
                // Moved out of DIR: for DIR, the name is gone.
                let kind = block_on(self.fs.stat(&from)).map_err(|e| self.sim_err("stat", e))?.kind;
                let gone =
                    if kind == Kind::Dir { block_on(self.fs.rmdir(&from)) } else { block_on(self.fs.unlink(&from)) };
                if gone.is_err() {
                    self.skip(Reason::Unsupported, call, "a non-empty directory moved out of DIR");
                    return Ok(false);
                }
                Ok(true)
            }
            (None, Some(_)) => {
                self.skip(Reason::Unsupported, call, "moved into DIR from outside: its contents are unknown");
                Ok(false)
            }
            (None, None) => {
                self.skip(Reason::Outside, call, "");
                Ok(false)
            }
        }
    }

    fn link(&mut self, call: &Syscall) -> Result<bool, String> {
        let (from, to) = if call.name == "linkat" {
            if call.arg(4).map(|f| f.contains("AT_EMPTY_PATH")).unwrap_or(false) {
                return Ok(self.classify(call, Reason::Unsupported, "linkat(AT_EMPTY_PATH): a link by descriptor"));
            }
            (self.path_arg(call, Some(0), 1)?, self.path_arg(call, Some(2), 3)?)
        } else {
            (self.path_arg(call, None, 0)?, self.path_arg(call, None, 1)?)
        };
        match (from, to) {
            (Some(from), Some(to)) => {
                block_on(self.fs.link(&from, &to)).map_err(|e| self.sim_err(&format!("link {from:?} -> {to:?}"), e))?;
                Ok(true)
            }
            (None, None) => {
                self.skip(Reason::Outside, call, "");
                Ok(false)
            }
            _ => {
                self.skip(Reason::Unsupported, call, "a link across DIR's boundary");
                Ok(false)
            }
        }
    }

    fn unlink(&mut self, call: &Syscall) -> Result<bool, String> {
        let (rel, dir) = match call.name.as_str() {
            "unlinkat" => (self.path_arg(call, Some(0), 1)?, call.arg(2)?.contains("AT_REMOVEDIR")),
            "rmdir" => (self.path_arg(call, None, 0)?, true),
            _ => (self.path_arg(call, None, 0)?, false),
        };
        let Some(rel) = rel else {
            self.skip(Reason::Outside, call, "");
            return Ok(false);
        };
        let result = if dir { block_on(self.fs.rmdir(&rel)) } else { block_on(self.fs.unlink(&rel)) };
        result.map_err(|e| self.sim_err(&format!("removing {rel:?}"), e))?;
        Ok(true)
    }

    fn mkdir(&mut self, call: &Syscall) -> Result<bool, String> {
        let rel = if call.name == "mkdirat" { self.path_arg(call, Some(0), 1)? } else { self.path_arg(call, None, 0)? };
        let Some(rel) = rel else {
            self.skip(Reason::Outside, call, "");
            return Ok(false);
        };
        block_on(self.fs.mkdir(&rel)).map_err(|e| self.sim_err(&format!("mkdir {rel:?}"), e))?;
        Ok(true)
    }

    fn truncate(&mut self, call: &Syscall) -> Result<bool, String> {
        let len = line::int(call.arg(1)?).ok_or("truncate: unreadable length")? as u64;
        if call.name == "ftruncate" {
            return match self.target(call, 0)?.0 {
                Target::Sim(id) => {
                    let sim = self.processes.desc(id).sim;
                    block_on(self.fs.truncate(sim, len)).map_err(|e| self.sim_err("ftruncate", e))?;
                    Ok(true)
                }
                other => self.not_in_dir(call, other),
            };
        }
        let Some(rel) = self.path_arg(call, None, 0)? else {
            self.skip(Reason::Outside, call, "");
            return Ok(false);
        };
        let fd = block_on(self.fs.open(&rel, OpenOptions::write())).map_err(|e| self.sim_err("truncate's open", e))?;
        block_on(self.fs.truncate(fd, len)).map_err(|e| self.sim_err("truncate", e))?;
        block_on(self.fs.close(fd)).map_err(|e| self.sim_err("close", e))?;
        Ok(true)
    }

    /// A descriptor call whose descriptor is not a replayed one inside DIR.
    fn not_in_dir(&mut self, call: &Syscall, target: Target) -> Result<bool, String> {
        match target {
            Target::Unknown => {
                self.skip(Reason::Unsupported, call, "a descriptor inside DIR opened before the trace began")
            }
            _ => self.skip(Reason::Outside, call, ""),
        }
        Ok(false)
    }

    /// `fallocate`: mode 0 extends the file with zeros, KEEP_SIZE changes nothing visible,
    /// PUNCH_HOLE and ZERO_RANGE write zeros; other modes are unsupported.
    fn fallocate(&mut self, call: &Syscall) -> Result<bool, String> {
        let mode = call.arg(1)?.to_string();
        let offset = line::int(call.arg(2)?).ok_or("fallocate: unreadable offset")? as u64;
        let len = line::int(call.arg(3)?).ok_or("fallocate: unreadable length")? as u64;
        let id = match self.target(call, 0)?.0 {
            Target::Sim(id) => id,
            other => return self.not_in_dir(call, other),
        };
        let sim = self.processes.desc(id).sim;
        let size = self.fs.size(sim).map_err(|e| self.sim_err("fstat", e))?;
        let keep_size = mode.contains("FALLOC_FL_KEEP_SIZE");
        let zeros = mode.contains("FALLOC_FL_PUNCH_HOLE") || mode.contains("FALLOC_FL_ZERO_RANGE");
        let known = mode == "0"
            || mode
                .split('|')
                .all(|f| ["FALLOC_FL_KEEP_SIZE", "FALLOC_FL_PUNCH_HOLE", "FALLOC_FL_ZERO_RANGE"].contains(&f));
        if !known {
            self.skip(Reason::Unsupported, call, "a fallocate mode that moves data (collapse or insert range)");
            return Ok(false);
        }
        let end = offset + len;
        if zeros {
            let stop = if keep_size { end.min(size) } else { end };
            if stop > offset {
                let data = vec![0u8; (stop - offset) as usize];
                block_on(self.fs.pwrite(sim, offset, &data)).map_err(|e| self.sim_err("fallocate's zeros", e))?;
            }
        } else if !keep_size && end > size {
            block_on(self.fs.truncate(sim, end)).map_err(|e| self.sim_err("fallocate's extension", e))?;
        }
        Ok(true)
    }

    /// `copy_file_range` and `sendfile`: the bytes come from the simulated source.
    fn copy(&mut self, call: &Syscall) -> Result<bool, String> {
        let n = call.ok().expect("a successful call has a value") as usize;
        let (out_arg, in_arg, in_off, out_off) =
            if call.name == "copy_file_range" { (2, 0, Some(1), Some(3)) } else { (0, 1, Some(2), None) };
        let pointer = |arg: Option<usize>| -> Result<Option<u64>, String> {
            let Some(i) = arg else { return Ok(None) };
            let text = call.arg(i)?;
            // `[0]`, or `[0] => [4]` (the value before and after the call): the first is used.
            let first = text.strip_prefix('[').and_then(|t| t.split(']').next());
            Ok(first.and_then(line::int).map(|v| v as u64))
        };
        let (source, _) = self.target(call, in_arg)?;
        let (sink, _) = self.target(call, out_arg)?;
        let (from_off, to_off) = (pointer(in_off)?, pointer(out_off)?);
        let Target::Sim(from) = source else {
            if matches!(sink, Target::Sim(_) | Target::Unknown) {
                self.skip(Reason::Unsupported, call, "copied into DIR from outside: the bytes are not in the trace");
            } else {
                self.skip(Reason::Outside, call, "");
            }
            return Ok(false);
        };
        let desc = self.processes.desc(from);
        let (sim, at) = (desc.sim, from_off.unwrap_or(desc.offset));
        let data = block_on(self.fs.pread(sim, at, n)).map_err(|e| self.sim_err("the copy's read", e))?;
        if from_off.is_none() {
            self.processes.desc_mut(from).offset += data.len() as u64;
        }
        if data.len() != n {
            return Err(format!("{}: the simulated source holds {} of the {n} bytes copied", call.name, data.len()));
        }
        self.write_to(call, sink, to_off, &data, false)
    }

    fn chdir(&mut self, call: &Syscall) -> Result<bool, String> {
        let cwd = if call.name == "fchdir" {
            line::fd(call.arg(0)?)?.1.ok_or("fchdir: descriptor without a path")?
        } else {
            let path = line::string(call.arg(0)?)?;
            self.absolute(call.pid, None, &path)?
        };
        self.processes.set_cwd(call.pid, cwd);
        self.skip(Reason::Outside, call, "");
        Ok(false)
    }

    fn exec(&mut self, call: &Syscall) -> bool {
        for fd in self.processes.cloexec_fds(call.pid) {
            let closing = self.processes.close(call.pid, fd);
            self.close_sim(closing);
        }
        self.skip(Reason::Outside, call, "");
        false
    }

    /// A clone-like call returned: its child is registered if it has not run yet.
    fn cloned(&mut self, call: &Syscall) -> bool {
        if let Some(child) = call.ok().filter(|c| *c > 0) {
            let child = child as u32;
            if self.processes.cloned(call.pid, child, &call.text) {
                self.out.processes += 1;
            }
        }
        self.skip(Reason::Outside, call, "");
        false
    }

    fn mmap(&mut self, call: &Syscall) -> Result<bool, String> {
        let shared_write = call.arg(2)?.contains("PROT_WRITE") && call.arg(3)?.contains("MAP_SHARED");
        let (target, _) = self.target(call, 4)?;
        let reason = match target {
            Target::Sim(_) | Target::Unknown if shared_write => Reason::Unsupported,
            Target::Sim(_) | Target::Unknown => Reason::ReadOnly,
            _ => Reason::Outside,
        };
        self.skip(reason, call, "writes through a shared mapping are invisible to strace");
        Ok(false)
    }
}

fn bytes_of(path: &Path) -> Vec<u8> {
    use std::os::unix::ffi::OsStrExt;
    path.as_os_str().as_bytes().to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `-xx` escaping, as strace prints strings and paths.
    fn x(text: &str) -> String {
        text.bytes().map(|b| format!("\\x{b:02x}")).collect()
    }

    fn run(log: &str, snapshot: &Image) -> Result<Replay, String> {
        let setup = Setup { dir: Path::new("/d"), cwd: Path::new("/d"), stdout: Path::new("/out") };
        replay(log, snapshot, &setup)
    }

    #[test]
    fn a_forked_child_writes_through_the_descriptor_it_inherited_before_the_fork_returned() {
        let (a, d, out) = (x("/d/a"), x("/d"), x("/out"));
        let log = [
            format!("10 openat(AT_FDCWD<{d}>, \"{}\", O_WRONLY|O_CREAT|O_APPEND, 0644) = 3<{a}>", x("a")),
            format!("10 write(3<{a}>, \"{}\", 3) = 3", x("one")),
            "10 clone(child_stack=NULL, flags=SIGCHLD <unfinished ...>".to_string(),
            format!("11 write(3<{a}>, \"{}\", 3) = 3", x("two")),
            "11 exit_group(0) = ?".to_string(),
            "11 +++ exited with 0 +++".to_string(),
            "10 <... clone resumed>) = 11".to_string(),
            format!("10 write(3<{a}>, \"{}\", 5) = 5", x("three")),
            format!("10 write(1<{out}>, \"{}\", 5) = 5", x("done\n")),
            format!("10 rename(\"{}\", \"{}\") = 0", x("a"), x("/elsewhere/a")),
            "10 +++ exited with 0 +++".to_string(),
        ]
        .join("\n");
        let replay = run(&log, &Image::empty()).unwrap();
        assert_eq!(replay.processes, 2);
        assert_eq!(replay.stdout, b"done\n");
        let pids: Vec<u32> = replay.calls.iter().map(|c| c.pid).collect();
        assert_eq!(pids, [10, 10, 11, 10, 10, 10]);
        // Before the rename out of DIR, `a` held all three writes, appended in order.
        let before_rename = replay.points[replay.points.len() - 2];
        let images = replay.fs.crash_images(before_rename.steps, crashsim_sim::Model::Process, &Default::default());
        assert_eq!(images.image(0).file("a"), Some(&b"onetwothree"[..]));
        assert_eq!(before_rename.stdout, 5, "the crash point after the stdout write");
        // Moved out of DIR: gone from it.
        assert!(!replay.fs.volatile_image().contains("a"));
        assert!(replay.skipped.keys().all(|(reason, _)| !reason.is_concern()), "{:?}", replay.skipped);
    }

    #[test]
    fn a_replay_the_simulated_disk_refuses_stops_with_the_line_that_diverged() {
        let log = format!("10 unlink(\"{}\") = 0", x("/d/missing"));
        let error = run(&log, &Image::empty()).err().expect("the file was never there");
        assert!(
            error.contains("line 1") && error.contains("refused") && error.contains("unlink(\"/d/missing\")"),
            "{error}"
        );
    }
}
