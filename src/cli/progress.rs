//! Progress of long commands, on stderr: a bar with a label, rate and estimate on a terminal;
//! otherwise a plain line at least every 10 s (CI kills jobs that stay silent), and one at the
//! end. Wall-clock time is read here only to pace what is printed, never to decide a run.

use std::io::IsTerminal;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};

/// Seconds between plain lines when stderr is not a terminal.
const PLAIN_EVERY: Duration = Duration::from_secs(10);

/// A progress report over `total` units.
pub struct Progress {
    unit: &'static str,
    total: u64,
    done: AtomicU64,
    started: Instant,
    /// On a terminal: the bar. Otherwise `None`, and lines are printed.
    bar: Option<ProgressBar>,
    /// The label, and when the last plain line was printed.
    plain: Mutex<(String, Instant)>,
}

impl Progress {
    /// `unit` names what is counted ("workloads", "seeds").
    pub fn new(total: u64, unit: &'static str) -> Self {
        let started = Instant::now();
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = ProgressBar::new(total);
            let template =
                format!("{{elapsed_precise}} [{{bar:30}}] {{pos}}/{{len}} {unit} {{per_sec}} eta {{eta}} {{msg}}");
            bar.set_style(ProgressStyle::with_template(&template).expect("a valid template").progress_chars("=> "));
            bar
        });
        Self { unit, total, done: AtomicU64::new(0), started, bar, plain: Mutex::new((String::new(), started)) }
    }

    /// What is being worked on now.
    pub fn set_label(&self, label: impl Into<String>) {
        let label = label.into();
        match &self.bar {
            Some(bar) => bar.set_message(label),
            None => self.plain.lock().expect("progress lock").0 = label,
        }
    }

    /// One more unit done.
    pub fn inc(&self) {
        let done = self.done.fetch_add(1, Ordering::Relaxed) + 1;
        match &self.bar {
            Some(bar) => bar.inc(1),
            None => {
                let mut plain = self.plain.lock().expect("progress lock");
                if plain.1.elapsed() >= PLAIN_EVERY {
                    plain.1 = Instant::now();
                    eprintln!("{}", self.line(done, &plain.0));
                }
            }
        }
    }

    /// Clears the bar, or prints the last plain line.
    pub fn finish(&self) {
        match &self.bar {
            Some(bar) => bar.finish_and_clear(),
            None => {
                let plain = self.plain.lock().expect("progress lock");
                if self.started.elapsed() >= PLAIN_EVERY {
                    eprintln!("{}", self.line(self.done.load(Ordering::Relaxed), &plain.0));
                }
            }
        }
    }

    fn line(&self, done: u64, label: &str) -> String {
        let secs = self.started.elapsed().as_secs_f64();
        let rate = done as f64 / secs.max(1e-9);
        let eta = if done == 0 {
            String::from("?")
        } else {
            format!("{:.0}s", (self.total.saturating_sub(done)) as f64 / rate)
        };
        format!("[{secs:>6.0}s] {done}/{} {} ({rate:.1}/s, about {eta} left) {label}", self.total, self.unit)
    }
}
