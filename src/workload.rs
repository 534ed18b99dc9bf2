//! Workloads: what each client does (a sequence of store operations), which process each client
//! runs in, exhaustive or random, and their one-line text form.
//!
//! The exhaustive source lists every sequence of up to N operations over the keys `a` and `b`
//! and every operation kind, shortest first (so the first violation found has the fewest
//! operations); the concurrent one every pair of such sequences over a smaller alphabet of
//! operations that touch the same sessions. The random source draws sequences from the spec's
//! reference state machine with a seeded ChaCha stream.

use std::sync::atomic::AtomicUsize;
use std::sync::Arc;

use crashsim_model::machine::{Workload as Machine, WorkloadState};
use crashsim_model::Op;
use proptest::strategy::{Strategy, ValueTree};
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
use proptest_state_machine::ReferenceStateMachine;

/// The operations of each client, in order. Client `i` runs in process `i % processes`:
/// clients of one process share its store instance (and its in-process queue); processes
/// share only the disk. `setup` runs first, alone, in process 0 (the harness's calls, part of
/// the history); then every process reads the registry once, as a server does when it starts,
/// so that its cache holds what the setup made.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Workload {
    pub setup: Vec<Op>,
    pub clients: Vec<Vec<Op>>,
    pub processes: usize,
}

impl Workload {
    /// One client in one process.
    pub fn sequential(ops: Vec<Op>) -> Self {
        Self { setup: Vec::new(), clients: vec![ops], processes: 1 }
    }

    /// Operations over all clients.
    pub fn len(&self) -> usize {
        self.clients.iter().map(Vec::len).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The process client `client` runs in.
    pub fn process_of(&self, client: usize) -> usize {
        client % self.processes
    }

    /// Whether more than one client runs.
    pub fn is_concurrent(&self) -> bool {
        self.clients.len() > 1
    }

    /// Checks the shape: at least one client, at least one operation, 1 to `clients` processes.
    pub fn validate(&self) -> Result<(), String> {
        if self.clients.is_empty() || self.is_empty() {
            return Err("the workload is empty: give at least one operation".to_string());
        }
        if self.processes == 0 || self.processes > self.clients.len() {
            return Err(format!(
                "{} process(es) for {} client(s): each process needs a client (1 to {} processes)",
                self.processes,
                self.clients.len(),
                self.clients.len()
            ));
        }
        Ok(())
    }

    /// The workload without client `client`'s operation `op` (and without the client, if that
    /// was its last); `None` if nothing would be left.
    pub fn without(&self, client: usize, op: usize) -> Option<Workload> {
        let mut clients = self.clients.clone();
        clients[client].remove(op);
        if clients[client].is_empty() {
            clients.remove(client);
        }
        let processes = self.processes.min(clients.len());
        let shrunk = Workload { setup: self.setup.clone(), clients, processes };
        (!shrunk.is_empty()).then_some(shrunk)
    }
}

impl std::fmt::Display for Workload {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&format(self))
    }
}

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

/// Every workload of one client with 1 to `max_ops` operations, shortest first, then in
/// alphabet order.
pub fn exhaustive(max_ops: usize) -> Vec<Workload> {
    sequences(&alphabet(), max_ops).into_iter().map(Workload::sequential).collect()
}

/// The operations of concurrent workloads: the calls that race on one session (`a`) or on the
/// registry (a create of `b`): create, append, reset, delete and an unlocked lookup of `a`, a
/// create of `b`, rotate.
pub fn concurrent_alphabet() -> Vec<Op> {
    let (a, b) = ("a".to_string(), "b".to_string());
    vec![
        Op::Create { key: a.clone(), label: Some("L".to_string()) },
        Op::Create { key: b, label: Some("L".to_string()) },
        Op::Append { key: a.clone(), message: "m".to_string() },
        Op::Get { key: a.clone() },
        Op::Reset { key: a.clone() },
        Op::Delete { key: a },
        Op::Rotate,
    ]
}

/// The setup of concurrent workloads: session `a` exists, so that the clients' calls on it race.
pub fn concurrent_setup() -> Vec<Op> {
    vec![Op::Create { key: "a".to_string(), label: Some("L".to_string()) }]
}

/// Every workload of two clients in `processes` processes (1 or 2), each with 1 to `ops_max`
/// operations of the concurrent alphabet, after the [`concurrent_setup`], fewest operations
/// first. Clients are symmetric (every process warms its cache after the setup), so each
/// unordered pair comes once.
pub fn concurrent(ops_max: usize, processes: usize) -> Vec<Workload> {
    assert!((1..=2).contains(&processes), "concurrent workloads have two clients in one or two processes");
    let each = sequences(&concurrent_alphabet(), ops_max);
    let mut all = Vec::new();
    for (i, first) in each.iter().enumerate() {
        for second in &each[i..] {
            all.push(Workload { setup: concurrent_setup(), clients: vec![first.clone(), second.clone()], processes });
        }
    }
    all.sort_by_key(Workload::len);
    all
}

/// Every sequence of 1 to `max_ops` operations of `alphabet`, shortest first.
fn sequences(alphabet: &[Op], max_ops: usize) -> Vec<Vec<Op>> {
    let mut all = Vec::new();
    let mut layer: Vec<Vec<Op>> = vec![Vec::new()];
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
            (Workload::sequential(ops), RandomTree(Box::new(tree)))
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
        let mut best = Workload::sequential(self.0.current().1);
        for _ in 0..budget {
            if !self.0.simplify() {
                break;
            }
            let candidate = Workload::sequential(self.0.current().1);
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

/// The one-line form: `create a L; append a m; reset a; delete a; rotate; prune 1; shutdown;
/// get a`, clients separated by `||` (their processes and the setup are given apart:
/// `--processes`, `--setup`).
pub fn format(workload: &Workload) -> String {
    let clients: Vec<String> = workload.clients.iter().map(|ops| format_ops(ops)).collect();
    clients.join(" || ")
}

/// The one-line form of a list of operations (a client's, or a setup).
pub fn format_ops(ops: &[Op]) -> String {
    let parts: Vec<String> = ops
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
            Op::Get { key } => format!("get {key}"),
        })
        .collect();
    parts.join("; ")
}

/// Parses the one-line form, with the clients spread over `processes` processes, after the
/// `setup` operations (the same form, one client; empty for none). Keys, labels and messages
/// are single words.
pub fn parse(text: &str, processes: usize, setup: &str) -> Result<Workload, String> {
    let clients = text.split("||").map(parse_ops).collect::<Result<Vec<_>, _>>()?;
    let setup = if setup.trim().is_empty() { Vec::new() } else { parse_ops(setup)? };
    let workload = Workload { setup, clients, processes };
    workload.validate()?;
    Ok(workload)
}

fn parse_ops(text: &str) -> Result<Vec<Op>, String> {
    let mut ops = Vec::new();
    for part in text.split(';').map(str::trim).filter(|p| !p.is_empty()) {
        let words: Vec<&str> = part.split_whitespace().collect();
        let op = match words.as_slice() {
            ["create", key] => Op::Create { key: key.to_string(), label: None },
            ["create", key, label] => Op::Create { key: key.to_string(), label: Some(label.to_string()) },
            ["append", key, message] => Op::Append { key: key.to_string(), message: message.to_string() },
            ["reset", key] => Op::Reset { key: key.to_string() },
            ["delete", key] => Op::Delete { key: key.to_string() },
            ["get", key] => Op::Get { key: key.to_string() },
            ["rotate"] => Op::Rotate,
            ["prune", n] => Op::Prune { max_entries: n.parse().map_err(|_| format!("bad prune count in {part:?}"))? },
            ["shutdown"] => Op::Shutdown,
            _ => {
                return Err(format!(
                    "cannot read operation {part:?}: expected create KEY [LABEL], append KEY MESSAGE, reset KEY, delete KEY, get KEY, rotate, prune N or shutdown; clients are separated by ||"
                ))
            }
        };
        ops.push(op);
    }
    if ops.is_empty() {
        return Err("a client of the workload has no operation".to_string());
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
            assert_eq!(parse(&format(&workload), 1, "").unwrap(), workload);
        }
        for workload in concurrent(2, 2) {
            assert_eq!(parse(&format(&workload), 2, &format_ops(&workload.setup)).unwrap(), workload);
        }
        assert!(parse("explode a", 1, "").unwrap_err().contains("cannot read"));
        assert!(parse(" ; ", 1, "").is_err());
        assert!(parse("create a || ", 1, "").is_err());
        assert!(parse("create a", 2, "").unwrap_err().contains("each process needs a client"));
    }

    #[test]
    fn concurrent_workloads_are_unordered_pairs_fewest_operations_first() {
        let n = concurrent_alphabet().len();
        assert_eq!(concurrent(1, 1).len(), n * (n + 1) / 2);
        let all = concurrent(2, 2);
        assert!(all.windows(2).all(|w| w[0].len() <= w[1].len()));
        assert!(all.iter().all(|w| w.clients.len() == 2 && w.processes == 2));
    }

    #[test]
    fn random_workloads_are_deterministic() {
        let a: Vec<Workload> = random(7, 5, 30).into_iter().map(|(w, _)| w).collect();
        let b: Vec<Workload> = random(7, 5, 30).into_iter().map(|(w, _)| w).collect();
        assert_eq!(a, b);
        assert!(a.iter().all(|w| !w.is_concurrent()));
        assert!(a.iter().all(|w| (1..=30).contains(&w.len())));
    }
}
