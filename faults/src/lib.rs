//! Fault plans: what happens at each syscall boundary of a run.
//!
//! # Fault model
//! At each syscall a plan says one of: go on; fail this syscall with an errno (`ENOSPC`, `EIO`,
//! `EACCES`, `EDQUOT`) and no effect (a failed fsync still drops the inode's pending data, as
//! Linux does); write at most n bytes (a short write); or crash after k syscalls (the process
//! dies; what the disk keeps is the persistence model's business, see `crashsim_sim::Model`).
//!
//! A plan may also damage one file of the disk a store restarts on, as a real disk or operator
//! does: the file emptied, cut short at a byte, or its last sector (512 B) overwritten with
//! garbage ([`Corruption`]).
//!
//! Plans come from exhaustive enumeration (every errno at every mutating syscall of a trace) or
//! from a seed (a ChaCha8 stream) with a fault budget. A plan is plain data: it prints as text
//! (`fail@12=EIO short@7=100 crash@20 corrupt@sessions/sessions.json=truncate:17`), parses back,
//! and replays exactly.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use crashsim_sim::{Call, Errno, Injection, Injector, Trace};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// The errnos plans inject.
pub const ERRNOS: [Errno; 4] = [Errno::ENOSPC, Errno::EIO, Errno::EACCES, Errno::EDQUOT];

/// A fault at one syscall.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// Fail with this errno, without effect.
    Fail(Errno),
    /// A write writes at most this many bytes.
    ShortWrite(usize),
}

/// What is done to a damaged file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Damage {
    /// Zero bytes left.
    Empty,
    /// Only the first this many bytes left.
    Truncate(usize),
    /// Its last sector ([`SECTOR`] bytes, or the whole file if shorter) overwritten with garbage.
    Garbage,
}

/// The sector a [`Damage::Garbage`] overwrites, in bytes.
pub const SECTOR: usize = 512;

/// The byte garbage is made of: not UTF-8, not JSON, not a line break.
const GARBAGE: u8 = 0xA5;

/// One damaged file of the disk a store restarts on.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Corruption {
    /// Root-relative path of the file.
    pub path: String,
    pub damage: Damage,
}

impl Corruption {
    /// Every damage to `path`, a file of `len` bytes: emptied, cut at each byte from 1 to
    /// `len - 1`, garbage in its last sector.
    pub fn each(path: &str, len: usize) -> Vec<Corruption> {
        let damaged = |damage| Corruption { path: path.to_string(), damage };
        let mut all = vec![damaged(Damage::Empty)];
        all.extend((1..len).map(|n| damaged(Damage::Truncate(n))));
        if len > 0 {
            all.push(damaged(Damage::Garbage));
        }
        all
    }

    /// `bytes` after the damage.
    pub fn apply(&self, bytes: &[u8]) -> Vec<u8> {
        match self.damage {
            Damage::Empty => Vec::new(),
            Damage::Truncate(n) => bytes[..n.min(bytes.len())].to_vec(),
            Damage::Garbage => {
                let mut out = bytes.to_vec();
                let from = out.len().saturating_sub(SECTOR);
                out[from..].fill(GARBAGE);
                out
            }
        }
    }
}

impl fmt::Display for Corruption {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.damage {
            Damage::Empty => write!(f, "corrupt@{}=empty", self.path),
            Damage::Truncate(n) => write!(f, "corrupt@{}=truncate:{n}", self.path),
            Damage::Garbage => write!(f, "corrupt@{}=garbage", self.path),
        }
    }
}

/// Faults by syscall step (0-based), where the process crashes, and a file damaged on restart.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Plan {
    pub faults: BTreeMap<usize, Fault>,
    /// Crash after this many syscalls (none: run to the end).
    pub crash_after: Option<usize>,
    /// A file damaged on the disk the store restarts on (none: every file as written).
    pub corrupt: Option<Corruption>,
}

impl Plan {
    /// No fault at all.
    pub fn none() -> Self {
        Self::default()
    }

    /// Whether the plan injects nothing: no syscall fault, no damaged file (a crash point alone
    /// is no fault).
    pub fn is_clean(&self) -> bool {
        self.faults.is_empty() && self.corrupt.is_none()
    }

    /// Only `corruption`.
    pub fn corrupting(corruption: Corruption) -> Self {
        Self { corrupt: Some(corruption), ..Self::default() }
    }

    /// One errno at one step.
    pub fn fail_at(step: usize, errno: Errno) -> Self {
        Self { faults: [(step, Fault::Fail(errno))].into_iter().collect(), ..Self::default() }
    }

    /// Every errno of `errnos` at every mutating syscall of `trace`, one fault per plan, in step
    /// order.
    pub fn each_errno(trace: &Trace, errnos: &[Errno]) -> Vec<Plan> {
        trace
            .steps
            .iter()
            .filter(|s| s.call.is_mutating())
            .flat_map(|s| errnos.iter().map(move |e| Plan::fail_at(s.step, *e)))
            .collect()
    }

    /// A short write of `bytes` at every `write`/`pwrite` of `trace`, one per plan, in step order.
    pub fn each_short_write(trace: &Trace, bytes: usize) -> Vec<Plan> {
        trace
            .steps
            .iter()
            .filter(|s| matches!(s.call, Call::Write { .. } | Call::Pwrite { .. }))
            .map(|s| Plan { faults: [(s.step, Fault::ShortWrite(bytes))].into_iter().collect(), ..Plan::default() })
            .collect()
    }

    /// Up to `budget` faults at distinct steps in `0..steps`, drawn from a ChaCha8 stream seeded
    /// by `seed`; a crash point too if `crash`.
    pub fn seeded(seed: u64, steps: usize, budget: usize, crash: bool) -> Self {
        assert!(steps > 0, "a plan needs at least one syscall to act on");
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut plan = Plan::none();
        for _ in 0..budget {
            let step = rng.random_range(0..steps);
            let fault = if rng.random_range(0..4) == 0 {
                Fault::ShortWrite(rng.random_range(0..64))
            } else {
                Fault::Fail(ERRNOS[rng.random_range(0..ERRNOS.len())])
            };
            plan.faults.insert(step, fault);
        }
        if crash {
            plan.crash_after = Some(rng.random_range(0..=steps));
        }
        plan
    }

    /// Checks that every fault was carried out in `trace`, the trace of a run under this plan: its
    /// step was reached, and a short write fell on a `write`/`pwrite` longer than it allows.
    pub fn check_carried_out(&self, trace: &Trace) -> Result<(), String> {
        for (&step, fault) in &self.faults {
            let Some(at) = trace.steps.get(step) else {
                return Err(format!(
                    "the fault at step {step} is past the end of the run ({} syscalls)",
                    trace.steps.len()
                ));
            };
            if let Fault::ShortWrite(bytes) = fault {
                let len = match &at.call {
                    Call::Write { data, .. } | Call::Pwrite { data, .. } => data.len(),
                    other => return Err(format!("short@{step}: syscall {step} is {other:?}, not a write")),
                };
                if *bytes >= len {
                    return Err(format!("short@{step}={bytes}: that write is {len} bytes, so it would not be short"));
                }
            }
        }
        Ok(())
    }

    /// The injector that carries out this plan's faults on a `SimFs`.
    pub fn injector(&self) -> Box<dyn Injector> {
        Box::new(PlanInjector { faults: self.faults.clone() })
    }
}

struct PlanInjector {
    faults: BTreeMap<usize, Fault>,
}

impl Injector for PlanInjector {
    fn before(&mut self, step: usize, call: &Call) -> Injection {
        match self.faults.get(&step) {
            Some(Fault::Fail(errno)) => Injection::Fail(*errno),
            Some(Fault::ShortWrite(n)) if matches!(call, Call::Write { .. } | Call::Pwrite { .. }) => {
                Injection::ShortWrite(*n)
            }
            _ => Injection::Proceed,
        }
    }
}

impl fmt::Display for Plan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts: Vec<String> = self
            .faults
            .iter()
            .map(|(step, fault)| match fault {
                Fault::Fail(errno) => format!("fail@{step}={errno:?}"),
                Fault::ShortWrite(n) => format!("short@{step}={n}"),
            })
            .collect();
        if let Some(k) = self.crash_after {
            parts.push(format!("crash@{k}"));
        }
        if let Some(corruption) = &self.corrupt {
            parts.push(corruption.to_string());
        }
        if parts.is_empty() {
            return f.write_str("none");
        }
        f.write_str(&parts.join(" "))
    }
}

impl FromStr for Plan {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let mut plan = Plan::none();
        for part in text.split_whitespace().filter(|p| *p != "none") {
            let bad = || {
                format!(
                    "bad fault {part:?}: expected fail@STEP=ERRNO, short@STEP=BYTES, crash@STEP or \
                     corrupt@PATH=empty|truncate:BYTES|garbage"
                )
            };
            let (kind, rest) = part.split_once('@').ok_or_else(bad)?;
            if kind == "crash" {
                plan.crash_after = Some(rest.parse().map_err(|_| bad())?);
                continue;
            }
            if kind == "corrupt" {
                let (path, damage) = rest.rsplit_once('=').ok_or_else(bad)?;
                let damage = match damage.split_once(':') {
                    None if damage == "empty" => Damage::Empty,
                    None if damage == "garbage" => Damage::Garbage,
                    Some(("truncate", n)) => Damage::Truncate(n.parse().map_err(|_| bad())?),
                    _ => return Err(bad()),
                };
                if path.is_empty() || plan.corrupt.is_some() {
                    return Err(format!("{part:?}: a plan damages one file, named by its path"));
                }
                plan.corrupt = Some(Corruption { path: path.to_string(), damage });
                continue;
            }
            let (step, value) = rest.split_once('=').ok_or_else(bad)?;
            let step: usize = step.parse().map_err(|_| bad())?;
            let fault = match kind {
                "fail" => Fault::Fail(ERRNOS.into_iter().find(|e| format!("{e:?}") == value).ok_or_else(|| {
                    format!("unknown errno {value:?} in {part:?}: expected ENOSPC, EIO, EACCES or EDQUOT")
                })?),
                "short" => Fault::ShortWrite(value.parse().map_err(|_| bad())?),
                _ => return Err(bad()),
            };
            if plan.faults.insert(step, fault).is_some() {
                return Err(format!("two faults at step {step}: a syscall fails at most one way"));
            }
        }
        Ok(plan)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plans_print_parse_and_replay_exactly() {
        for seed in 0..50 {
            let plan = Plan::seeded(seed, 40, 3, true);
            assert_eq!(plan.to_string().parse::<Plan>().unwrap(), plan);
            assert_eq!(Plan::seeded(seed, 40, 3, true), plan, "same seed, same plan");
        }
        assert_eq!("none".parse::<Plan>().unwrap(), Plan::none());
        for corruption in Corruption::each("d/registry.json", 3) {
            let plan = Plan { crash_after: Some(4), ..Plan::corrupting(corruption) };
            assert_eq!(plan.to_string().parse::<Plan>().unwrap(), plan);
        }
        assert!("corrupt@f=melt".parse::<Plan>().is_err());
        assert!("corrupt@f=empty corrupt@g=empty".parse::<Plan>().unwrap_err().contains("one file"));
        assert_eq!(Plan::fail_at(3, Errno::EIO).to_string(), "fail@3=EIO");
        assert!("fail@3=EPERM".parse::<Plan>().unwrap_err().contains("unknown errno"));
        assert!("boom".parse::<Plan>().is_err());
    }

    #[test]
    fn damage_empties_cuts_and_garbles_the_last_sector() {
        let all = Corruption::each("f", 4);
        assert_eq!(all.len(), 1 + 3 + 1, "empty, cut at 1, 2 and 3, garbage");
        let bytes = b"{\"a\"}";
        assert_eq!(all[0].apply(bytes), b"");
        assert_eq!(all[2].apply(bytes), b"{\"");
        assert_eq!(all[4].apply(bytes), vec![GARBAGE; bytes.len()]);
        let long = vec![b'x'; SECTOR + 3];
        let garbled = Corruption { path: "f".into(), damage: Damage::Garbage }.apply(&long);
        assert_eq!(&garbled[..3], b"xxx", "only the last sector is overwritten");
        assert!(garbled[3..].iter().all(|b| *b == GARBAGE));
        assert!(Corruption::each("f", 0).len() == 1, "an empty file can only stay empty");
    }

    #[test]
    fn injector_fails_and_shortens_at_its_steps() {
        let plan: Plan = "fail@1=ENOSPC short@2=5".parse().unwrap();
        let mut injector = plan.injector();
        let write = Call::Write { fd: crashsim_sim::Fd(3), data: std::sync::Arc::new(vec![0; 10]) };
        assert_eq!(injector.before(0, &write), Injection::Proceed);
        assert_eq!(injector.before(1, &write), Injection::Fail(Errno::ENOSPC));
        assert_eq!(injector.before(2, &write), Injection::ShortWrite(5));
        assert_eq!(injector.before(2, &Call::Fsync { fd: crashsim_sim::Fd(3) }), Injection::Proceed);
    }
}
