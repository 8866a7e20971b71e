//! What the fuzz targets share: the bundled scenarios parsed once, turning text into
//! `--set` arguments, and the caps that keep one execution fast.

pub mod parties;

use std::sync::OnceLock;

use hmasim::scenario::{parse, Format, Scenario, Span, BUNDLED};

/// Simulated time one fuzzed run may cover.
pub const MAX_DURATION_MS: u64 = 3_600_000;
/// Events one fuzzed run may process.
pub const MAX_EVENTS: u64 = 20_000;
/// `--set` arguments taken from one input.
pub const MAX_SETS: usize = 16;

/// The bundled scenarios, parsed once.
pub fn bundled() -> &'static [Scenario] {
    static PARSED: OnceLock<Vec<Scenario>> = OnceLock::new();
    PARSED.get_or_init(|| {
        BUNDLED
            .iter()
            .map(|b| parse(b.source, b.name, Format::Toml).expect("bundled scenarios parse"))
            .collect()
    })
}

/// The bundled scenario an input picks with its first byte.
pub fn pick(data: &[u8]) -> &'static Scenario {
    let all = bundled();
    &all[data.first().map_or(0, |&x| usize::from(x)) % all.len()]
}

/// Turns the lines of a TOML-ish text into `--set` arguments: `key = value` under
/// `[table]` becomes `table.key = value`, under the n-th `[[array]]` `array.n.key = value`
/// (and, under a table, the bare line too). The bundled scenarios as seeds thus yield real
/// keys and values for the fuzzer to mutate.
pub fn set_args(text: &str) -> Vec<String> {
    let mut prefix = String::new();
    let mut arrays: Vec<(String, usize)> = Vec::new();
    let mut out = Vec::new();
    for line in text.lines() {
        if out.len() >= MAX_SETS {
            break;
        }
        let t = line.trim();
        if let Some(name) = t.strip_prefix("[[").and_then(|r| r.strip_suffix("]]")) {
            let name = name.trim().to_string();
            let n = match arrays.iter_mut().find(|(a, _)| *a == name) {
                Some((_, n)) => {
                    *n += 1;
                    *n
                }
                None => {
                    arrays.push((name.clone(), 0));
                    0
                }
            };
            prefix = format!("{name}.{n}.");
        } else if let Some(name) = t.strip_prefix('[').and_then(|r| r.strip_suffix(']')) {
            prefix = format!("{}.", name.trim());
        } else {
            out.push(format!("{prefix}{line}"));
            if !prefix.is_empty() {
                out.push(line.to_string());
            }
        }
    }
    out.truncate(MAX_SETS);
    out
}

/// The scenario with its run capped to [`MAX_DURATION_MS`] and [`MAX_EVENTS`].
pub fn capped(mut sc: Scenario) -> Scenario {
    sc.run.duration = Span(sc.run.duration.ms().min(MAX_DURATION_MS));
    sc.run.max_events = sc.run.max_events.min(MAX_EVENTS);
    sc
}

/// Events a short fuzzed run may process (the Graph and `--set` targets, which run the
/// simulator only to see that what they accepted builds and runs).
pub const SHORT_MAX_EVENTS: u64 = 2_000;
/// Simulated time a short fuzzed run may cover.
pub const SHORT_DURATION_MS: u64 = 600_000;

/// The scenario with its run capped to [`SHORT_DURATION_MS`] and [`SHORT_MAX_EVENTS`].
pub fn short(mut sc: Scenario) -> Scenario {
    sc.run.duration = Span(sc.run.duration.ms().min(SHORT_DURATION_MS));
    sc.run.max_events = sc.run.max_events.min(SHORT_MAX_EVENTS);
    sc
}

/// Runs the scenario (recorded) and checks what the contract promises of every trace:
/// events numbered in delivery order and in simulated-time order, and an outcome
/// consistent with itself. Panics (for the fuzzer) otherwise. The renderings are left to
/// `whole_run`: they cost more than the run, and these targets hunt elsewhere.
pub fn run_checked(sc: &Scenario) {
    check_trace(&hmasim::sim::run(sc, true));
}

/// What the contract promises of every trace: events numbered in delivery order and in
/// simulated-time order, and an outcome consistent with itself.
pub fn check_trace(trace: &hmasim::sim::Trace) {
    for (i, e) in trace.events.iter().enumerate() {
        assert_eq!(e.seq, i as u64, "event seq out of order");
    }
    assert!(
        trace.events.windows(2).all(|w| w[0].t_ms <= w[1].t_ms),
        "events not in simulated-time order"
    );
    let o = &trace.outcome;
    assert!(
        !o.mfa_satisfied || o.mailbox_access,
        "MFA satisfied without access"
    );
    assert!(
        !o.mailbox_access || o.served_by.is_some(),
        "access, no server"
    );
}
