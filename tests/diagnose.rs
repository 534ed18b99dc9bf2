//! Diagnoses pinned on the variants whose bug is one persistence property: the property, the
//! calls it names, and a fix that verifies by running the case again with the fsync inserted.
//! A fix that does not remove the failure must not verify.

use crashsim::case::{Case, Check};
use crashsim::diagnose::oracle::failing_points;
use crashsim::diagnose::{diagnose, group, Judge, Property};
use crashsim::explore::ExploreOptions;
use crashsim::session::Session;

use crashsim_sim::{Model, SyncRule, SyncTarget};
use crashsim_store::Variant;

fn crash_case(ops: &str, after: usize, image: usize) -> Case<Session> {
    Case {
        workload: crashsim::session::workload::parse(ops, 1, "").expect("a valid workload"),
        faults: crashsim_faults::Plan::none(),
        schedule: Default::default(),
        madsim: None,
        check: Check::Crash { after, image },
    }
}

#[test]
fn no_temp_fsync_is_an_ordering_fixed_by_an_fsync_of_the_temp_file() {
    let opts = ExploreOptions::default();
    let case = crash_case("create a L", 51, 0);
    let d = diagnose(&Session(Variant::ReplaceWithoutTempFsync), Model::Posix, &case, &opts).unwrap();
    assert_eq!(d.property, Property::Ordering, "{d}");
    let names: Vec<&str> = d.calls.iter().map(|c| c.call.name()).collect();
    assert_eq!(names, ["write", "rename"], "{d}");
    let temp = d.calls[0].object.clone().expect("the write's file is known");
    assert!(temp.starts_with("sessions/sessions.json.") && temp.ends_with(".tmp"), "{d}");
    assert!(d.to_string().contains(&format!("fix: fsync {temp} after syscall {}", d.calls[0].step)), "{d}");
    let fix = d.fix.as_ref().expect("an ordering has a fix");
    assert_eq!(fix.rules.len(), 1, "{d}");
    assert_eq!(fix.rules[0].target, SyncTarget::File, "{d}");
    assert!(fix.verified && fix.failing_before > 0 && fix.failing_after == 0, "{d}");
    assert!(d.to_string().contains("(verified"), "{d}");
}

#[test]
fn no_dir_fsync_is_a_durability_fixed_by_an_fsync_of_the_directory() {
    let opts = ExploreOptions::default();
    let case = crash_case("create a L", 47, 0);
    for model in [Model::Ordered, Model::Posix] {
        let d = diagnose(&Session(Variant::ReplaceWithoutDirFsync), model, &case, &opts).unwrap();
        assert_eq!(d.property, Property::Durability, "{model}: {d}");
        assert_eq!(d.calls.len(), 1);
        assert_eq!(d.calls[0].call.name(), "rename", "{d}");
        let fix = d.fix.as_ref().expect("a durability has a fix");
        assert_eq!(fix.rules.iter().map(|r| r.target).collect::<Vec<_>>(), [SyncTarget::Dir], "{d}");
        assert!(fix.verified && fix.failing_after == 0, "{d}");
    }
}

#[test]
fn rotate_rename_is_an_atomicity_window_between_its_two_renames() {
    let opts = ExploreOptions::default();
    let case = crash_case("create a L; rotate", 62, 0);
    for model in Model::ALL {
        let image = if model == Model::Process { 0 } else { 3 };
        let case = Case { check: Check::Crash { after: 62, image }, ..case.clone() };
        let d = diagnose(&Session(Variant::RotateRenamesAway), model, &case, &opts).unwrap();
        assert_eq!(d.property, Property::Atomicity, "{model}: {d}");
        let names: Vec<&str> = d.calls.iter().map(|c| c.call.name()).collect();
        assert_eq!(names, ["rename", "rename"], "{d}");
        assert!(d.calls[0].step < 62 && d.calls[1].step >= 62, "the window holds the crash point: {d}");
        assert!(d.fix.is_none() && d.to_string().contains("no fsync fixes it"), "{d}");
    }
}

#[test]
fn a_fix_at_the_wrong_call_does_not_verify() {
    // Another fsync of the directory after the rename (the store has one already) changes
    // nothing the rename needs: the same crash points fail. The right rule removes them all.
    let opts = ExploreOptions::default();
    let subject = Session(Variant::ReplaceWithoutTempFsync);
    let case = crash_case("create a L", 51, 0);
    let d = diagnose(&subject, Model::Posix, &case, &opts).unwrap();
    let right = d.fix.unwrap().rules[0].clone();
    let rename_site = d.calls[1].site.clone().expect("sites are recorded");
    let wrong = SyncRule { syscall: "rename", after: rename_site, target: SyncTarget::Dir };
    let unfixed = failing_points(&Judge::new(&subject, &case, &opts, Vec::new()).unwrap(), Model::Posix);
    let with_wrong = Judge::new(&subject, &case, &opts, vec![wrong]).unwrap();
    assert_eq!(failing_points(&with_wrong, Model::Posix).len(), unfixed.len());
    assert!(with_wrong.run.fs.trace().steps.iter().any(|s| s.inserted), "the wrong fsync was inserted all the same");
    let with_right = Judge::new(&subject, &case, &opts, vec![right]).unwrap();
    assert!(failing_points(&with_right, Model::Posix).is_empty());
}

#[test]
fn diagnoses_of_one_bug_under_several_models_are_one_vulnerability() {
    let opts = ExploreOptions::default();
    let case = crash_case("create a L", 47, 0);
    let subject = Session(Variant::ReplaceWithoutDirFsync);
    let diagnoses: Vec<_> =
        [Model::Ordered, Model::Posix].iter().map(|&m| diagnose(&subject, m, &case, &opts).unwrap()).collect();
    let vulnerabilities = group(&diagnoses);
    assert_eq!(vulnerabilities.len(), 1);
    let v = &vulnerabilities[0];
    assert_eq!(v.models, [Model::Ordered, Model::Posix]);
    assert_eq!(v.failing_points, diagnoses.iter().map(|d| d.failing_points).sum::<usize>());
    let json = v.to_json();
    for field in ["kind", "calls", "sites", "failing_points", "models", "fix", "verified"] {
        assert!(json.get(field).is_some(), "{field} missing from {json}");
    }
    assert_eq!(json["kind"], "durability");
    assert_eq!(json["verified"], true);
    assert!(json["sites"][0].as_str().unwrap().starts_with("store/src/"), "{json}");
}

#[test]
fn the_reference_has_nothing_to_diagnose_at_the_same_point() {
    let opts = ExploreOptions::default();
    let case = crash_case("create a L", 51, 0);
    let error = diagnose(&Session(Variant::Reference), Model::Posix, &case, &opts).unwrap_err();
    assert!(error.contains("nothing to diagnose"), "{error}");
}

/// A log on `crashsim::fs::std`, each record a line, its complete lines read back as they are.
/// `Log { buffered: false }` appends with `write_all` and an fsync: a short write splits an
/// append in two, and under posix the second part may persist without the first, leaving a hole
/// of zeros in a complete line. The fsync is already after the call: the diagnosis must say no
/// fsync fixes it, not propose one between the two parts, which no program can write.
/// `Log { buffered: true }` appends through a `BufWriter` it syncs before flushing: the write
/// happens when the writer is dropped, and a failure there is dropped with it.
mod log {
    use std::io::Write;
    use std::sync::Arc;

    use crashsim::fs::std as fs;
    use crashsim::subject::{Gated, Process, Recovered, Subject};
    use crashsim_model::history::{Outcome, Record};
    use crashsim_model::{Allowed, Property as Invariant, Spec, Violation};
    use crashsim_sim::SimFs;

    struct LogSpec;

    impl Spec for LogSpec {
        type Op = String;
        type Reply = &'static str;
        type State = String;

        fn init(&self) -> String {
            String::new()
        }

        fn step(&self, log: &String, record: &String) -> (&'static str, String) {
            ("ok", format!("{log}{record}\n"))
        }

        fn properties(&self) -> Vec<Invariant<String>> {
            let predicate = |log: &String, allowed: &[String]| (!allowed.contains(log)).then(|| format!("log {log:?}"));
            vec![Invariant { name: "Durable", failure: "an appended record is lost or garbled", predicate }]
        }
    }

    fn append(record: &str) -> std::io::Result<()> {
        let mut file = fs::OpenOptions::new().create(true).append(true).open("log")?;
        file.write_all(format!("{record}\n").as_bytes())?;
        file.sync_all()?;
        fs::File::open(".")?.sync_all()
    }

    /// The line that drops the `BufWriter` of [`append_buffered`], where its write is made.
    pub const DROPPED_AT: u32 = line!() + 7;

    fn append_buffered(record: &str) -> std::io::Result<()> {
        let file = fs::OpenOptions::new().create(true).append(true).open("log")?;
        let mut writer = std::io::BufWriter::new(file);
        writer.write_all(format!("{record}\n").as_bytes())?;
        writer.get_ref().sync_all()?;
        drop(writer);
        fs::File::open(".")?.sync_all()
    }

    #[derive(Clone, Debug, PartialEq, Eq, Hash)]
    pub struct Log {
        pub buffered: bool,
    }

    impl Subject for Log {
        type Op = String;
        type Reply = &'static str;
        type Store = ();
        type Observed = Result<String, String>;
        type Expected = Allowed<String>;

        fn alphabet(&self) -> Vec<String> {
            vec!["record".to_string()]
        }

        async fn open(&self, _fs: Arc<Gated>, _process: &Process) -> Result<(), String> {
            Ok(())
        }

        async fn call(&self, _store: &(), record: &String) -> Outcome<&'static str> {
            let appended = if self.buffered { append_buffered(record) } else { append(record) };
            appended.map_or_else(|e| Outcome::Failed(e.to_string()), |()| Outcome::Replied("ok"))
        }

        async fn recover(&self, _fs: Arc<SimFs>) -> Recovered<Result<String, String>> {
            let log = match fs::read_to_string("log") {
                Ok(text) => Ok(text[..text.rfind('\n').map_or(0, |end| end + 1)].to_string()),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(String::new()),
                Err(e) => Err(e.to_string()),
            };
            Recovered { observed: log, report: String::new() }
        }

        fn expect(&self, history: &[Record<String, &'static str>]) -> Allowed<String> {
            Allowed::of(&LogSpec, history)
        }

        fn check(&self, allowed: &Allowed<String>, log: &Result<String, String>) -> Result<(), Violation> {
            allowed.judge(&LogSpec, log)
        }
    }
}

#[test]
fn parts_of_one_split_write_persisting_out_of_order_are_a_split_write_with_no_fsync_proposed() {
    let opts = ExploreOptions { max_ops: 1, random_workloads: 0, ..ExploreOptions::default() };
    let subject = log::Log { buffered: false };
    let results = crashsim::testing::explore_models(&subject, &[Model::Process, Model::Posix], &opts);
    assert!(results[0].first.is_none(), "a killed process leaves whole appends");
    let case = &results[1].first.as_ref().expect("posix loses the first part of a split append").case;
    assert!(case.faults.to_string().contains("short@"), "the failure needs a short write: {}", case.faults);
    let d = diagnose(&subject, Model::Posix, case, &opts).unwrap();
    assert_eq!(d.property, Property::SplitWrite, "{d}");
    let names: Vec<&str> = d.calls.iter().map(|c| c.call.name()).collect();
    assert_eq!(names, ["write", "write"], "{d}");
    let sites: Vec<String> = d.calls.iter().map(|c| c.site.as_ref().expect("line tables").line().to_string()).collect();
    assert_eq!(sites[0], sites[1], "one line of the program made both: {d}");
    assert!(sites[0].starts_with("tests/diagnose.rs:"), "{d}");
    assert!(d.fix.is_none() && d.rule.is_none(), "no fsync is proposed: {d}");
    assert!(d.to_string().contains("no fsync fixes it"), "{d}");
    assert_eq!(d.key().1.len(), 2, "keyed by both parts");
}

#[test]
fn a_call_acknowledged_though_its_write_failed_is_reproduced_and_diagnosed_where_the_error_is_dropped() {
    let opts = ExploreOptions { max_ops: 1, random_workloads: 0, ..ExploreOptions::default() };
    let subject = log::Log { buffered: true };
    let results = crashsim::testing::explore_models(&subject, &[Model::Process], &opts);
    let finding = results[0].first.as_ref().expect("a failed write acknowledged");
    assert_eq!(finding.case.check, Check::Clean { op: 0 }, "{}", finding.violation);
    let replayed = crashsim::report::reproduce(&subject, Model::Process, &finding.case, &opts)
        .expect("a subject without a clean-point check of its own still reproduces it");
    let violation = replayed.violation.expect("the replay finds the violation again");
    assert_eq!(violation.summary, finding.violation.summary);
    assert!(violation.summary.contains("was acknowledged"), "{violation}");
    let d = replayed.diagnosis.expect("diagnosed");
    assert_eq!(d.property, Property::ErrorDropped, "{d}");
    assert_eq!(d.calls.len(), 1, "{d}");
    assert_eq!(d.calls[0].call.name(), "write", "the buffered write, made at the drop: {d}");
    let site = d.calls[0].site.as_ref().expect("line tables").line().to_string();
    assert_eq!(site, format!("tests/diagnose.rs:{}", log::DROPPED_AT), "{d}");
    assert!(d.fix.is_none() && d.to_string().contains("no fsync fixes it"), "{d}");
}
