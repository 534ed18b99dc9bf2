//! Classifying one failing image by what-if images: the property it needs and the calls involved.

use std::collections::BTreeMap;

use crashsim_sim::{Call, EventKind, Model, Outcome, SyncRule, SyncTarget, Trace};

use super::{CallRef, Diagnosis, Oracle, Property};

/// Classifies image `image` of a crash at crash point `point` (an index into
/// [`Oracle::points`]) under `model` (see the module doc of [`super`]); the fix is left to the
/// caller. An error if that image passes.
pub fn classify(oracle: &dyn Oracle, model: Model, point: usize, image: usize) -> Result<Diagnosis, String> {
    let points = oracle.points();
    let Some(&after) = points.get(point) else {
        return Err(format!("crash point {point} is past the end of the run ({} points)", points.len()));
    };
    let fs = oracle.fs();
    let tracker = fs.tracker_noting_durable(model, after);
    let set = tracker.images(oracle.image_options());
    if image >= set.len() {
        return Err(format!("a crash after {after} leaves {} image(s) under {model}: no image {image}", set.len()));
    }
    if !oracle.fails(point, &set.image(image)) {
        return Err(format!("image {image} of a crash after {after} passes under {model}: nothing to diagnose"));
    }
    let trace = fs.trace();
    let log = fs.log();
    // What persisted: the durable effects whole, and the pending ones that survived.
    let mut persisted: BTreeMap<usize, Option<usize>> =
        tracker.durable_seqs().expect("noted").iter().map(|&seq| (seq, None)).collect();
    persisted.extend(set.survivors[image].iter().map(|s| (s.seq, s.torn)));
    let image_of = |kept: &BTreeMap<usize, Option<usize>>| fs.image_keeping(after, &|seq| kept.get(&seq).copied());
    if image_of(&persisted).fingerprint() != set.fingerprints[image] {
        return Err("this image cannot be rebuilt from the events that persisted (a rename half persisted)".into());
    }
    let fails = |kept: &BTreeMap<usize, Option<usize>>| oracle.fails(point, &image_of(kept));
    let pending = tracker.pending_seqs();
    let mut everything = persisted.clone();
    everything.extend(pending.iter().map(|&seq| (seq, None)));
    if fails(&everything) {
        return Ok(atomicity(oracle, model, point, &trace));
    }
    // The pending events that did not persist whole, in log order; adding them one by one
    // passes at the latest when all are in (the image just found to pass).
    let lost: Vec<usize> = pending.iter().copied().filter(|seq| persisted.get(seq) != Some(&None)).collect();
    let adding = |added: &[usize]| {
        let mut kept = persisted.clone();
        kept.extend(added.iter().map(|&seq| (seq, None)));
        kept
    };
    let needed = first_passing(lost.len(), |i| !fails(&adding(&lost[..=i])))
        .ok_or("no pending event explains the failure: it passes only when every one persists")?;
    let lost_seq = lost[needed];
    let call_of = |seq: usize| CallRef::of(oracle, &trace, log[seq].step);
    let effect_of = |seq: usize| match &log[seq].kind {
        EventKind::Effect(effect) => Some(effect),
        EventKind::Sync { .. } => None,
    };
    let lost_effect = effect_of(lost_seq).expect("a pending event is an effect");
    // Reordered: a later event persisted while this one did not. Named when it concerns the
    // same object (the rename of a file whose data was lost), or when leaving it out passes.
    let later: Vec<usize> = persisted.keys().copied().filter(|&seq| seq > lost_seq).collect();
    let dropping = |seq: usize| {
        let mut kept = persisted.clone();
        kept.remove(&seq);
        kept
    };
    let reordered = later
        .iter()
        .copied()
        .find(|&seq| effect_of(seq).is_some_and(|e| e.ino() == lost_effect.ino()))
        .or_else(|| later.iter().copied().take(MOST_TRIED).find(|&seq| !fails(&dropping(seq))));
    let lost_call = call_of(lost_seq);
    if let Some(rest) = reordered.filter(|&seq| is_rest_of(&trace, log[lost_seq].step, log[seq].step)) {
        // Two parts of one write of the program: an fsync after its call comes after both.
        let calls = vec![lost_call, call_of(rest)];
        return Ok(Diagnosis {
            property: Property::SplitWrite,
            model,
            calls,
            failing_points: 0,
            fix: None,
            rule: None,
        });
    }
    let target = if lost_effect.data_ino().is_some() { SyncTarget::File } else { SyncTarget::Dir };
    let rule = lost_call.site.clone().map(|after| SyncRule { syscall: lost_call.call.name(), after, target });
    let (property, calls) = match reordered {
        Some(seq) => (Property::Ordering, vec![lost_call, call_of(seq)]),
        None => (Property::Durability, vec![lost_call]),
    };
    Ok(Diagnosis { property, model, calls, failing_points: 0, fix: None, rule })
}

/// Whether syscall `later` wrote part of what syscall `first` was asked to write and did not
/// (it returned short): the same descriptor, each write in between asked for the rest of the one
/// before, as `write_all` and every retry loop do. Both are then one call of the program.
fn is_rest_of(trace: &Trace, first: usize, later: usize) -> bool {
    let asked = |step: usize| match &trace.steps[step].call {
        Call::Write { fd, data } | Call::Pwrite { fd, data, .. } => Some((*fd, data.clone())),
        _ => None,
    };
    let Some((fd, mut unwritten)) = asked(first) else { return false };
    let mut at = first;
    while at < later {
        let written = match trace.steps[at].outcome {
            Outcome::Count(written) if written < unwritten.len() => written,
            _ => return false,
        };
        let on_fd = |s: usize| asked(s).filter(|(other, _)| *other == fd).map(|(_, data)| (s, data));
        let Some((next, data)) = (at + 1..=later).find_map(on_fd) else { return false };
        if data[..] != unwritten[written..] {
            return false;
        }
        (at, unwritten) = (next, data);
    }
    at == later
}

/// Most later events left out one at a time in search of the one a failure needs.
const MOST_TRIED: usize = 64;

/// The window of crash points around `point` whose kill -9 image (everything completed
/// survives) fails: the call that opens it, and the one that closes it. A window the run never
/// closes is no crash's doing: the run's own end state fails.
fn atomicity(oracle: &dyn Oracle, model: Model, point: usize, trace: &Trace) -> Diagnosis {
    let points = oracle.points();
    let last = points.last().copied().unwrap_or(0);
    let trackers = oracle.fs().trackers(Model::Process, 0..=last);
    let killed: Vec<bool> =
        points.iter().enumerate().map(|(p, &steps)| oracle.fails(p, &trackers[steps].durable_image())).collect();
    let first = (0..=point).rev().take_while(|&p| killed[p]).last().unwrap_or(point);
    let end = (point..points.len()).find(|&p| !killed[p]);
    let mut calls = vec![CallRef::of(oracle, trace, points[first].saturating_sub(1))];
    let property = match end {
        Some(end) => {
            calls.push(CallRef::of(oracle, trace, points[end].saturating_sub(1)));
            Property::Atomicity
        }
        None => Property::EndState,
    };
    Diagnosis { property, model, calls, failing_points: 0, fix: None, rule: None }
}

/// The first `i` in `0..n` whose prefix passes, found by galloping then bisection: a handful of
/// checks where a scan would take one per lost event (a database's page writes are hundreds,
/// and each check runs a checker). The prefixes usually fail up to some `i` and pass from it
/// (the full one passes); where they do not, the `i` found still has a failing prefix before it
/// and a passing one at it, so its event is one the failure needs.
fn first_passing(n: usize, passes: impl Fn(usize) -> bool) -> Option<usize> {
    let (mut failing_below, mut high) = (0, 0);
    loop {
        if high >= n {
            return None;
        }
        if passes(high) {
            break;
        }
        failing_below = high + 1;
        high = if high + 1 == n { n } else { (2 * high + 1).min(n - 1) };
    }
    while failing_below < high {
        let middle = (failing_below + high) / 2;
        if passes(middle) {
            high = middle;
        } else {
            failing_below = middle + 1;
        }
    }
    Some(high)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use crashsim_sim::{Call, Fd, Outcome, Trace, TraceStep};

    use super::{first_passing, is_rest_of};

    /// A trace of writes on descriptors: (fd, bytes asked, bytes written).
    fn writes(calls: &[(u32, &[u8], usize)]) -> Trace {
        let steps = calls
            .iter()
            .enumerate()
            .map(|(step, &(fd, data, written))| TraceStep {
                step,
                call: Call::Write { fd: Fd(fd), data: Arc::new(data.to_vec()) },
                outcome: Outcome::Count(written),
                injected: written < data.len(),
                events: Vec::new(),
                pending: Vec::new(),
                site: None,
                inserted: false,
                forgotten: false,
            })
            .collect();
        Trace { steps }
    }

    #[test]
    fn a_later_write_is_the_rest_of_a_short_one_only_when_it_asks_for_what_was_not_written() {
        let split = writes(&[(3, b"abcd", 1), (4, b"zz", 2), (3, b"bcd", 2), (3, b"d", 1)]);
        assert!(is_rest_of(&split, 0, 2), "the rest, past another descriptor's write");
        assert!(is_rest_of(&split, 0, 3), "the rest of the rest");
        assert!(is_rest_of(&split, 2, 3));
        assert!(!is_rest_of(&split, 0, 1), "another descriptor");
        assert!(!is_rest_of(&split, 1, 2), "a write that was whole has no rest");
        let ignored = writes(&[(3, b"abcd", 1), (3, b"next", 4)]);
        assert!(!is_rest_of(&ignored, 0, 1), "a program that goes on with other bytes did not write the rest");
        let whole = writes(&[(3, b"ab", 2), (3, b"cd", 2)]);
        assert!(!is_rest_of(&whole, 0, 1), "two whole writes are two calls");
    }

    #[test]
    fn the_first_passing_prefix_is_found_with_few_checks() {
        for n in 1..40 {
            for first in 0..n {
                let checks = std::cell::Cell::new(0);
                let found = first_passing(n, |i| {
                    checks.set(checks.get() + 1);
                    i >= first
                });
                assert_eq!(found, Some(first), "n {n}");
                assert!(
                    checks.get() <= 2 * (usize::BITS - n.leading_zeros()) as usize + 1,
                    "n {n}: {} checks",
                    checks.get()
                );
            }
            assert_eq!(first_passing(n, |_| false), None);
        }
        assert_eq!(first_passing(0, |_| true), None);
    }
}
