//! Workloads: sequences of store operations, exhaustive or random, and their one-line text form.
//!
//! The exhaustive source lists every sequence of up to N operations over the keys `a` and `b`
//! and every operation kind, shortest first (so the first violation found has the fewest
//! operations). The random source draws sequences from the spec's reference state machine with
//! a seeded ChaCha stream.

use std::sync::atomic::AtomicUsize;
use std::sync::Arc;

use crashsim_model::machine::{Workload as Machine, WorkloadState};
use crashsim_model::Op;
use proptest::strategy::{Strategy, ValueTree};
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
use proptest_state_machine::ReferenceStateMachine;

/// A sequence of operations run by one client.
pub type Workload = Vec<Op>;

/// The keys of exhaustive workloads.
pub const KEYS: [&str; 2] = ["a", "b"];

/// Every operation of exhaustive workloads: create (labelled, so a lost entry shows), append,
/// reset and delete on each key; rotate, prune to one entry, shutdown.
pub fn alphabet() -> Vec<Op> {
    let mut ops = Vec::new();
    for key in KEYS {
        let key = key.to_string();
        ops.push(Op::Create { key: key.clone(), label: Some("L".to_string()) });
        ops.push(Op::Append { key: key.clone(), message: "m".to_string() });
        ops.push(Op::Reset { key: key.clone() });
        ops.push(Op::Delete { key });
    }
    ops.extend([Op::Rotate, Op::Prune { max_entries: 1 }, Op::Shutdown]);
    ops
}

/// Every workload of 1 to `max_ops` operations, shortest first, then in alphabet order.
pub fn exhaustive(max_ops: usize) -> Vec<Workload> {
    let alphabet = alphabet();
    let mut all = Vec::new();
    let mut layer: Vec<Workload> = vec![Vec::new()];
    for _ in 0..max_ops {
        layer = layer
            .iter()
            .flat_map(|prefix| {
                alphabet.iter().map(move |op| {
                    let mut next = prefix.clone();
                    next.push(op.clone());
                    next
                })
            })
            .collect();
        all.extend(layer.iter().cloned());
    }
    all
}

/// `count` random workloads of 1 to `max_ops` operations from the reference state machine,
/// drawn from a ChaCha stream seeded by `seed`; each with its value tree, for shrinking.
pub fn random(seed: u64, count: usize, max_ops: usize) -> Vec<(Workload, RandomTree)> {
    assert!(max_ops >= 1, "a workload has at least one operation");
    let mut runner = runner(seed);
    let strategy = Machine::sequential_strategy(1..=max_ops);
    (0..count)
        .map(|_| {
            let tree = strategy.new_tree(&mut runner).expect("the workload strategy never rejects");
            let (_, ops, _) = tree.current();
            (ops, RandomTree(Box::new(tree)))
        })
        .collect()
}

/// What the state machine's sequential strategy generates: the initial state, the operations,
/// and a counter proptest uses internally.
type Generated = (WorkloadState, Vec<Op>, Option<Arc<AtomicUsize>>);

/// The proptest value tree of a random workload, which knows how to shrink it.
pub struct RandomTree(Box<dyn ValueTree<Value = Generated>>);

impl RandomTree {
    /// Shrinks the workload while `fails` keeps failing on it; returns the smallest failing one.
    /// At most `budget` candidates are tried.
    pub fn shrink(mut self, fails: impl Fn(&Workload) -> bool, budget: usize) -> Workload {
        let mut best = self.0.current().1;
        for _ in 0..budget {
            if !self.0.simplify() {
                break;
            }
            let candidate = self.0.current().1;
            if fails(&candidate) {
                best = candidate;
            } else if !self.0.complicate() {
                break;
            }
        }
        best
    }
}

fn runner(seed: u64) -> TestRunner {
    let mut bytes = [0u8; 32];
    bytes[..8].copy_from_slice(&seed.to_le_bytes());
    TestRunner::new_with_rng(Config::default(), TestRng::from_seed(RngAlgorithm::ChaCha, &bytes))
}

/// The one-line form: `create a L; append a m; reset a; delete a; rotate; prune 1; shutdown`.
pub fn format(workload: &[Op]) -> String {
    let parts: Vec<String> = workload
        .iter()
        .map(|op| match op {
            Op::Create { key, label: None } => format!("create {key}"),
            Op::Create { key, label: Some(label) } => format!("create {key} {label}"),
            Op::Append { key, message } => format!("append {key} {message}"),
            Op::Reset { key } => format!("reset {key}"),
            Op::Delete { key } => format!("delete {key}"),
            Op::Rotate => "rotate".to_string(),
            Op::Prune { max_entries } => format!("prune {max_entries}"),
            Op::Shutdown => "shutdown".to_string(),
        })
        .collect();
    parts.join("; ")
}

/// Parses the one-line form. Keys, labels and messages are single words.
pub fn parse(text: &str) -> Result<Workload, String> {
    let mut ops = Vec::new();
    for part in text.split(';').map(str::trim).filter(|p| !p.is_empty()) {
        let words: Vec<&str> = part.split_whitespace().collect();
        let op = match words.as_slice() {
            ["create", key] => Op::Create { key: key.to_string(), label: None },
            ["create", key, label] => Op::Create { key: key.to_string(), label: Some(label.to_string()) },
            ["append", key, message] => Op::Append { key: key.to_string(), message: message.to_string() },
            ["reset", key] => Op::Reset { key: key.to_string() },
            ["delete", key] => Op::Delete { key: key.to_string() },
            ["rotate"] => Op::Rotate,
            ["prune", n] => Op::Prune { max_entries: n.parse().map_err(|_| format!("bad prune count in {part:?}"))? },
            ["shutdown"] => Op::Shutdown,
            _ => {
                return Err(format!(
                    "cannot read operation {part:?}: expected create KEY [LABEL], append KEY MESSAGE, reset KEY, delete KEY, rotate, prune N or shutdown"
                ))
            }
        };
        ops.push(op);
    }
    if ops.is_empty() {
        return Err("the workload is empty".to_string());
    }
    Ok(ops)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exhaustive_counts_and_order() {
        let n = alphabet().len();
        assert_eq!(exhaustive(2).len(), n + n * n);
        assert!(exhaustive(3).windows(2).all(|w| w[0].len() <= w[1].len()));
    }

    #[test]
    fn text_form_round_trips() {
        for workload in exhaustive(2) {
            assert_eq!(parse(&format(&workload)).unwrap(), workload);
        }
        assert!(parse("explode a").unwrap_err().contains("cannot read"));
        assert!(parse(" ; ").is_err());
    }

    #[test]
    fn random_workloads_are_deterministic() {
        let a: Vec<Workload> = random(7, 5, 30).into_iter().map(|(w, _)| w).collect();
        let b: Vec<Workload> = random(7, 5, 30).into_iter().map(|(w, _)| w).collect();
        assert_eq!(a, b);
        assert!(a.iter().all(|w| (1..=30).contains(&w.len())));
    }
}
