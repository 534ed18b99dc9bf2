//! The session store's workloads: the alphabets of exhaustive and concurrent workloads (keys `a`
//! and `b`, every operation kind), its random source (the spec's reference state machine with a
//! seeded ChaCha stream), and the one-line text form the CLI reads and prints.

use crashsim_model::machine::Workload as Machine;
use crashsim_model::Op;
use proptest::strategy::{Strategy, ValueTree};
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
use proptest_state_machine::ReferenceStateMachine;

use crate::workload::Workload;

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

/// A random sequence of 1 to `max_ops` operations from the spec's reference state machine
/// (which draws only operations that make sense in the state so far), from a ChaCha stream
/// seeded by `seed`.
pub fn random_ops(seed: u64, max_ops: usize) -> Vec<Op> {
    assert!(max_ops >= 1, "a workload has at least one operation");
    let mut runner = runner(seed);
    let tree = Machine::sequential_strategy(1..=max_ops).new_tree(&mut runner).expect("the strategy never rejects");
    tree.current().1
}

fn runner(seed: u64) -> TestRunner {
    let mut bytes = [0u8; 32];
    bytes[..8].copy_from_slice(&seed.to_le_bytes());
    TestRunner::new_with_rng(Config::default(), TestRng::from_seed(RngAlgorithm::ChaCha, &bytes))
}

/// The one-line form of a workload: `create a L; append a m; reset a; delete a; rotate; prune 1;
/// shutdown; get a`, clients separated by `||` (their processes and the setup are given apart:
/// `--processes`, `--setup`).
pub fn format(workload: &Workload) -> String {
    crate::case_text::format_workload(&any_variant(), workload)
}

/// Reads the one-line form, with the clients spread over `processes` processes, after the
/// `setup` operations (the same form, one client; empty for none). Keys, labels and messages
/// are single words.
pub fn parse(text: &str, processes: usize, setup: &str) -> Result<Workload, String> {
    crate::case_text::parse_workload(&any_variant(), text, processes, setup)
}

/// Every variant writes and reads operations alike.
fn any_variant() -> super::Session {
    super::Session(crashsim_store::Variant::Reference)
}

/// How an operation is written on the command line (`create a L`, `rotate`).
pub fn format_op(op: &Op) -> String {
    match op {
        Op::Create { key, label: None } => format!("create {key}"),
        Op::Create { key, label: Some(label) } => format!("create {key} {label}"),
        Op::Append { key, message } => format!("append {key} {message}"),
        Op::Reset { key } => format!("reset {key}"),
        Op::Delete { key } => format!("delete {key}"),
        Op::Rotate => "rotate".to_string(),
        Op::Prune { max_entries } => format!("prune {max_entries}"),
        Op::Shutdown => "shutdown".to_string(),
        Op::Get { key } => format!("get {key}"),
    }
}

/// Reads an operation written by [`format_op`].
pub fn parse_op(part: &str) -> Result<Op, String> {
    let words: Vec<&str> = part.split_whitespace().collect();
    Ok(match words.as_slice() {
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
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workload::{concurrent, exhaustive};

    #[test]
    fn exhaustive_counts_and_order() {
        let n = alphabet().len();
        assert_eq!(exhaustive(&alphabet(), 2).len(), n + n * n);
        assert!(exhaustive(&alphabet(), 3).windows(2).all(|w| w[0].len() <= w[1].len()));
    }

    #[test]
    fn text_form_round_trips() {
        for workload in exhaustive(&alphabet(), 2) {
            assert_eq!(parse(&format(&workload), 1, "").unwrap(), workload);
        }
        for workload in concurrent(&concurrent_alphabet(), &concurrent_setup(), 2, 2) {
            let setup = crate::case_text::format_ops(&any_variant(), &workload.setup);
            assert_eq!(parse(&format(&workload), 2, &setup).unwrap(), workload);
        }
        assert!(parse("explode a", 1, "").unwrap_err().contains("cannot read"));
        assert!(parse(" ; ", 1, "").is_err());
        assert!(parse("create a || ", 1, "").is_err());
        assert!(parse("create a", 2, "").unwrap_err().contains("each process needs a client"));
    }

    #[test]
    fn concurrent_workloads_are_unordered_pairs_fewest_operations_first() {
        let n = concurrent_alphabet().len();
        assert_eq!(concurrent(&concurrent_alphabet(), &concurrent_setup(), 1, 1).len(), n * (n + 1) / 2);
        let all = concurrent(&concurrent_alphabet(), &concurrent_setup(), 2, 2);
        assert!(all.windows(2).all(|w| w[0].len() <= w[1].len()));
        assert!(all.iter().all(|w| w.clients.len() == 2 && w.processes == 2));
    }

    #[test]
    fn random_workloads_are_deterministic() {
        let a: Vec<Vec<Op>> = (0..5).map(|seed| random_ops(seed, 30)).collect();
        let b: Vec<Vec<Op>> = (0..5).map(|seed| random_ops(seed, 30)).collect();
        assert_eq!(a, b);
        assert!(a.iter().all(|ops| (1..=30).contains(&ops.len())));
        assert!(a.windows(2).any(|w| w[0] != w[1]), "seeds draw different workloads");
    }
}
