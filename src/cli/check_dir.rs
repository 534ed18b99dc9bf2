//! `crashsim check-dir`: renders a check or a fix of a real sessions directory.

use std::path::Path;
use std::process::ExitCode;

use serde_json::json;

use crate::check_dir::scan::Class;
use crate::check_dir::{check, fix, FixError, FixOptions, Fixed, Report};

/// Checks (or with `fix`, repairs) the directory; exit 0 when nothing is (left) wrong, 1 when
/// something is, 2 when the directory cannot be read.
pub fn run(path: &Path, fix_it: bool, archive_orphans: bool, json: bool) -> ExitCode {
    if !fix_it {
        return match check(path) {
            Ok(report) => {
                render(&report, None, json);
                super::exit(report.problems.is_empty())
            }
            Err(error) => super::error(&error.0),
        };
    }
    let now_ms = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64);
    match fix(path, FixOptions { archive_orphans, now_ms }) {
        Ok(fixed) => {
            render(&fixed.before, Some(&fixed), json);
            super::exit(fixed.left() == 0)
        }
        Err(FixError::Unreadable(error)) => super::error(&error.0),
        Err(FixError::Refused { before, why }) => {
            render(&before, None, json);
            eprintln!("error: --fix refused, {why}");
            ExitCode::from(1)
        }
        Err(error @ FixError::Failed { .. }) => {
            eprintln!("error: {error}");
            ExitCode::from(1)
        }
    }
}

fn render(report: &Report, fixed: Option<&Fixed>, json: bool) {
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
                })
            })
            .collect();
        let ok = match fixed {
            Some(fixed) => fixed.left() == 0,
            None => report.problems.is_empty(),
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
        println!("{:<kind_w$}  {:<subject_w$}  {}", p.kind.name(), p.subject, p.detail);
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
