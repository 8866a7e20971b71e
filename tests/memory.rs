//! A run that reaches `run.max_events` stops within the memory bound docs/outcome.md
//! documents (issue 9, item 8), with recording on and off. The workspace forbids `unsafe`
//! code, so instead of a counting allocator the test reads the process's peak resident set
//! (`VmHWM` in `/proc/self/status`, reset through `/proc/self/clear_refs`): an upper bound
//! of the heap's peak. This file is its own test binary, so no other test allocates at the
//! same time, and its one test runs the cases one after the other. Off Linux (or where
//! `/proc` cannot be written) it only checks that the run stops at the limit.

use hmasim::scenario::{self, Real, Span};
use hmasim::sim;

/// The peak resident set of this process (`VmHWM`), in bytes.
fn high_water_mark() -> Option<usize> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: usize = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib << 10)
}

/// Resets the peak to the current resident set (Linux 4.0 and later).
fn reset_high_water_mark() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

/// The documented bound (docs/outcome.md, "Memory"): what a run adds to the resident set,
/// per event of `run.max_events`, with recording off and on, plus a fixed part (the
/// world, the allocator's slack).
const BASE: usize = 16 << 20;
const PER_EVENT_UNRECORDED: usize = 256;
const PER_EVENT_RECORDED: usize = 2 << 10;

/// What `f` adds to the peak resident set, when it can be measured.
fn peak_of<T>(f: impl FnOnce() -> T) -> (Option<usize>, T) {
    let before = reset_high_water_mark().then(high_water_mark).flatten();
    let out = f();
    let peak = before.and_then(|b| Some(high_water_mark()?.saturating_sub(b)));
    (peak, out)
}

#[test]
fn a_run_that_reaches_max_events_stays_within_the_documented_bound() {
    let max_events = 200_000;
    // A long lossy run of the richest flow: many requests in flight, retries, duplicates.
    let mut sc = scenario::load("mobile-onprem-hma").unwrap();
    sc.run.duration = Span(365 * 24 * 3_600_000);
    sc.run.max_events = max_events;
    sc.network.faults.loss = Real(0.05);
    sc.network.faults.duplicate = Real(0.1);
    sc.network.faults.reorder = true;
    for (record, per_event) in [(false, PER_EVENT_UNRECORDED), (true, PER_EVENT_RECORDED)] {
        let (peak, t) = peak_of(|| sim::run(&sc, record));
        assert!(
            t.stats.ends_with("event limit reached"),
            "the run reaches run.max_events: {}",
            t.stats
        );
        let bound = BASE + per_event * max_events as usize;
        let Some(peak) = peak else {
            eprintln!("the peak resident set cannot be measured here");
            continue;
        };
        eprintln!(
            "record {record}: peak {} KiB for {max_events} events ({} B/event), bound {} KiB",
            peak >> 10,
            peak / max_events as usize,
            bound >> 10
        );
        assert!(
            peak <= bound,
            "record {record}: peak {peak} B > bound {bound} B"
        );
        drop(t);
    }
}
