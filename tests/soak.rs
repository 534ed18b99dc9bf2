//! Soak: the reference store under seeded random workloads with a seeded fault each (an errno
//! or a short write), every persistence model. CI runs a few hundred seeds; a soak run sets its
//! own range:
//!
//! ```sh
//! CRASHSIM_SOAK_SEEDS=100000 CRASHSIM_SOAK_FIRST_SEED=0 cargo test --release --all-features --test soak -- --nocapture
//! ```
//!
//! (`crashsim soak --seeds N --shard i/n` does the same from the command line.)

use crashsim::cache::RecoveryCache;
use crashsim::session::Session;
use crashsim::soak::{soak, SoakOptions};
use crashsim::subject::Subject;
use crashsim_sim::Model;
use crashsim_store::Variant;

fn env_or(name: &str, default: u64) -> u64 {
    match std::env::var(name) {
        Ok(text) => text.parse().unwrap_or_else(|_| panic!("{name}={text:?} is not a number")),
        Err(_) => default,
    }
}

/// Soaks the reference under every model with `opts`; panics with the seed and the replay
/// command on a violation. Returns the crash states checked under each model.
fn assert_clean(opts: &SoakOptions) -> Vec<u64> {
    let cache = RecoveryCache::default();
    let mut states = Vec::new();
    for model in Model::ALL {
        let soaked = soak(&Session(Variant::Reference), model, opts, &cache, &|| {});
        let result = &soaked.result;
        eprintln!(
            "soak {model} ({} clients): seeds {}..{}, {} crash states ({} distinct)",
            opts.clients,
            opts.first_seed,
            opts.first_seed + opts.seeds,
            result.crash_states,
            result.distinct_states
        );
        if let Some(finding) = &result.first {
            panic!(
                "seed {:?}: {}\nreplay: {}",
                soaked.failing_seed,
                finding.violation,
                Session(Variant::Reference).replay(model, &finding.case, &opts.explore).unwrap_or_default()
            );
        }
        assert_eq!((soaked.seeds_run, soaked.seeds_planned, soaked.cut_short), (opts.seeds, opts.seeds, false));
        states.push(result.crash_states);
    }
    states
}

#[test]
fn reference_store_survives_seeded_faults() {
    let (first_seed, seeds) = (env_or("CRASHSIM_SOAK_FIRST_SEED", 0), env_or("CRASHSIM_SOAK_SEEDS", 300));
    assert_clean(&SoakOptions { first_seed, seeds, ..SoakOptions::default() });
}

/// Seeds that once found bugs in the reference store: a delete whose registry update failed
/// after its files were archived (now put back), and resets that failed after switching (the
/// old transcript is now archived at once or at the next call, instead of coming back).
#[test]
fn seeds_that_found_bugs_stay_fixed() {
    for seed in [131, 1734, 2379] {
        assert_clean(&SoakOptions { first_seed: seed, seeds: 1, ..SoakOptions::default() });
    }
}

/// Races: `clients` clients over `processes` processes, each seed a madsim run (seeded
/// interleaving and simulated time, a process killed at a seeded time in three seeds of four).
fn races(first_seed: u64, seeds: u64) -> SoakOptions {
    SoakOptions { first_seed, seeds, clients: 3, processes: 2, ..SoakOptions::default() }
}

#[test]
fn reference_store_survives_races_and_kills() {
    let opts = races(env_or("CRASHSIM_RACE_FIRST_SEED", 0), env_or("CRASHSIM_RACE_SEEDS", 100));
    for states in assert_clean(&opts) {
        assert!(states > 10 * opts.seeds, "every seed is crashed at many points: {states} crash states");
    }
}

/// The race variants are found by a soak from seed 0 within 200 seeds, and their findings
/// shrink to at most 2 clients and 4 operations that replay the violation.
#[test]
fn race_variants_are_found_within_200_seeds() {
    for variant in [Variant::UpdateWithoutLock, Variant::CreateRegistersAfterAck, Variant::ProcessLocalLock] {
        let opts = races(0, 200);
        let cache = RecoveryCache::default();
        let soaked = soak(&Session(variant), Model::Process, &opts, &cache, &|| {});
        let seed = soaked.failing_seed.unwrap_or_else(|| panic!("{variant}: no violation in 200 seeds"));
        let finding = soaked.result.first.expect("a finding");
        let workload = &finding.case.workload;
        assert!(workload.clients.len() <= 2 && workload.len() <= 4, "{variant} seed {seed}: {workload}");
        let replay =
            crashsim::report::reproduce(&Session(variant), Model::Process, &finding.case, &opts.explore).unwrap();
        assert!(replay.violation.is_some(), "{variant}: the shrunk case replays:\n{}", replay.text);
        eprintln!("{variant}: first violation at seed {seed}, shrunk to {workload}");
    }
}

/// The same seed gives the same run, byte for byte: madsim's own check (it replays the seed
/// and compares every random draw) and the rendered trace of two runs.
#[cfg(madsim)]
#[test]
fn a_race_seed_replays_byte_for_byte() {
    use crashsim::execute::{Kill, MadsimRun};
    fn run() -> impl std::future::Future<Output = usize> {
        let workload = crashsim::soak::race_workload(&Session(Variant::Reference), 7, 3, 2, 30);
        async move {
            let kill = Some(Kill { process: 1, at_us: 300 });
            crashsim::on_madsim::execute_here(Session(Variant::Reference), workload, kill).await.fs.steps()
        }
    }
    let steps = madsim::runtime::Runtime::check_determinism(7, madsim::Config::default(), run);
    assert!(steps > 50, "{steps} syscalls");
    let opts = races(7, 1);
    let case = crashsim::soak::race_case(&Session(Variant::Reference), 7, &opts);
    assert!(matches!(case.madsim, Some(MadsimRun { seed: 7, .. })));
    let case = crashsim::case::Case { check: crashsim::case::Check::Restart, ..case };
    let first =
        crashsim::report::reproduce(&Session(Variant::Reference), Model::Posix, &case, &opts.explore).unwrap().text;
    let again =
        crashsim::report::reproduce(&Session(Variant::Reference), Model::Posix, &case, &opts.explore).unwrap().text;
    assert_eq!(first, again);
}

/// A soak names two seeds: the first that failed (where `states_to_detection` stops counting)
/// and the one whose finding it shows (the smallest); each seed alone shows what it says.
#[test]
fn a_soak_names_its_first_failing_seed_and_the_seed_of_the_finding_shown() {
    let cache = RecoveryCache::default();
    let subject = Session(Variant::ReplaceWithoutTempFsync);
    let soak_of = |first_seed, seeds| {
        soak(&subject, Model::Posix, &SoakOptions { first_seed, seeds, ..SoakOptions::default() }, &cache, &|| {})
    };
    let soaked = soak_of(0, 200);
    let first = soaked.first_failing_seed.expect("no-temp-fsync fails under posix");
    let shown = soaked.failing_seed.expect("a finding is shown");
    assert_ne!(first, shown, "these seeds once differed: the test no longer shows the two apart");
    assert!(soak_of(first, 1).first_failing_seed == Some(first), "seed {first} fails alone");
    if first > 0 {
        assert!(soak_of(0, first).first_failing_seed.is_none(), "no seed before {first} fails");
    }
    let alone = soak_of(shown, 1);
    assert_eq!(alone.failing_seed, Some(shown));
    let rank = |s: &crashsim::soak::SoakResult<Session>| s.result.first.as_ref().map(|f| f.case.workload.len());
    assert!(rank(&alone) <= rank(&soak_of(first, 1)), "the finding shown is no larger than the first seed's");
}
