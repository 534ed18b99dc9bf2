//! `crashsim check-dir`: renders a check or a fix of a real sessions directory.

use std::path::Path;
use std::process::ExitCode;

use serde_json::json;

use crate::check_dir::scan::Class;
use crate::check_dir::{
    check_acknowledged, expected_after_crash, fix, wall_clock_ms, Acknowledged, FixError, FixOptions, Fixed, Report,
};

/// What `check-dir` was asked.
pub struct Request<'a> {
    pub path: &'a Path,
    pub fix: bool,
    pub archive_orphans: bool,
    /// What a program printed (see [`Acknowledged`]): nothing it acknowledged may be lost.
    pub acknowledged: Option<&'a Path>,
    /// Judge the directory as a crash image: the debris a crash may leave is expected.
    pub crash_image: bool,
    /// The directory the crash image was taken of.
    pub image_of: Option<&'a Path>,
    pub json: bool,
}

/// Checks (or with `fix`, repairs) the directory; exit 0 when nothing is (left) wrong (as a
/// crash image: nothing but what a crash may leave), 1 when something is, 2 when the directory
/// or the acknowledgements cannot be read.
pub fn run(request: Request) -> ExitCode {
    let Request { path, fix: fix_it, archive_orphans, json, .. } = request;
    let acknowledged = match request.acknowledged {
        None => Acknowledged::default(),
        Some(file) => match std::fs::read(file) {
            Ok(bytes) => Acknowledged::parse(&String::from_utf8_lossy(&bytes)),
            Err(e) => return super::error(&format!("--acknowledged {}: {e}", file.display())),
        },
    };
    if !fix_it {
        return match check_acknowledged(path, wall_clock_ms(), &acknowledged, request.image_of) {
            Ok(report) => {
                let expected: Vec<bool> = report
                    .problems
                    .iter()
                    .map(|p| request.crash_image && expected_after_crash(p, &acknowledged))
                    .collect();
                let failing = expected.iter().filter(|e| !**e).count();
                render(&report, None, json, &expected);
                if request.crash_image && !json {
                    println!(
                        "as a crash image: {failing} failing, {} expected after a crash",
                        report.problems.len() - failing
                    );
                }
                super::exit(failing == 0)
            }
            Err(error) => super::error(&error.0),
        };
    }
    let now_ms = wall_clock_ms();
    match fix(path, FixOptions { archive_orphans, now_ms }) {
        Ok(fixed) => {
            render(&fixed.before, Some(&fixed), json, &[]);
            super::exit(fixed.left() == 0)
        }
        Err(FixError::Unreadable(error)) => super::error(&error.0),
        Err(FixError::Refused { before, why }) => {
            render(&before, None, json, &[]);
            eprintln!("error: --fix refused, {why}");
            ExitCode::from(1)
        }
        Err(error @ FixError::Failed { .. }) => {
            eprintln!("error: {error}");
            ExitCode::from(1)
        }
    }
}

/// Prints the report; `expected[i]` marks problem i as what a crash may leave (crash-image mode).
fn render(report: &Report, fixed: Option<&Fixed>, json: bool, expected: &[bool]) {
    let expected = |i: usize| expected.get(i).copied().unwrap_or(false);
    let scan = &report.scan;
    let transcripts = scan.files.values().filter(|f| matches!(f.class, Class::Transcript { .. })).count();
    let done = |i: usize| fixed.map(|f| &f.outcomes[i]);
    if json {
        let problems: Vec<_> = report
            .problems
            .iter()
            .enumerate()
            .map(|(i, p)| {
                json!({
                    "kind": p.kind.name(),
                    "subject": p.subject,
                    "detail": p.detail,
                    "failure": p.kind.failure(),
                    "fix": p.repair.as_ref().map(|r| r.describe()).ok(),
                    "left_because": p.repair.as_ref().err(),
                    "done": done(i).map(|d| d.as_ref().ok()),
                    "expected_after_crash": expected(i),
                })
            })
            .collect();
        let ok = match fixed {
            Some(fixed) => fixed.left() == 0,
            None => (0..report.problems.len()).all(expected),
        };
        let value = json!({
            "command": "check-dir",
            "ok": ok,
            "path": scan.path.display().to_string(),
            "layout": scan.layout.name(),
            "entries": scan.entries().len(),
            "transcripts": transcripts,
            "problems": problems,
            "fixed": fixed.map(|f| json!({"backup": f.backup, "side_file": f.side_file, "left": f.left()})),
        });
        println!("{}", serde_json::to_string_pretty(&value).expect("JSON serializes"));
        return;
    }
    println!(
        "check-dir {}: {} layout, {} entries, {} transcripts",
        scan.path.display(),
        scan.layout.name(),
        scan.entries().len(),
        transcripts
    );
    if report.problems.is_empty() {
        println!("no problems: every transcript has its entry and every entry its transcript");
        return;
    }
    let width = |f: &dyn Fn(usize) -> usize| (0..report.problems.len()).map(f).max().unwrap_or(0);
    let kind_w = width(&|i| report.problems[i].kind.name().len()).max(7);
    let subject_w = width(&|i| report.problems[i].subject.len()).min(48);
    println!();
    println!(
        "{:<kind_w$}  {:<subject_w$}  what, and {}",
        "problem",
        "file or key",
        if fixed.is_some() { "what --fix did" } else { "what --fix does" }
    );
    for (i, p) in report.problems.iter().enumerate() {
        let mark = if expected(i) { " (expected after a crash)" } else { "" };
        println!("{:<kind_w$}  {:<subject_w$}  {}{mark}", p.kind.name(), p.subject, p.detail);
        let action = match done(i) {
            Some(Ok(did)) => format!("fixed: {did}"),
            Some(Err(why)) => format!("left: {why}"),
            None => match &p.archive {
                Some(archive) => match &p.repair {
                    Ok(repair) => {
                        format!("--fix: {}; --fix --archive-orphans: {}", repair.describe(), archive.describe())
                    }
                    Err(why) => format!("{why}; --fix --archive-orphans: {}", archive.describe()),
                },
                None => match &p.repair {
                    Ok(repair) => format!("--fix: {}", repair.describe()),
                    Err(why) => format!("--fix leaves it: {why}"),
                },
            },
        };
        println!("{:<kind_w$}  {:<subject_w$}  -> {action}", "", "");
    }
    println!();
    match fixed {
        Some(fixed) => {
            let count = report.problems.len();
            println!("{} of {count} problem(s) fixed, {} left", count - fixed.left(), fixed.left());
            if let Some(backup) = &fixed.backup {
                println!("the registry as it was: {backup}");
            }
            if let Some(side) = &fixed.side_file {
                println!("entries taken out of the registry: {side}");
            }
        }
        None => {
            let fixable = report.problems.iter().filter(|p| p.repair.is_ok()).count();
            println!(
                "{} problem(s): {fixable} repaired by --fix (nothing is deleted; sessions.json is backed up first), {} to look at by hand",
                report.problems.len(),
                report.problems.len() - fixable
            );
        }
    }
}
