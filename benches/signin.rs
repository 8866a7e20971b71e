//! Complete `mobile-onprem-hma` sign-ins per second: AutoDetect, AutoDiscover, the 401, the
//! federated sign-in through WAP and AD FS, Conditional Access and MFA, AT1, the
//! on-behalf-of AT2, provisioning and the first ActiveSync sync, until the data reaches
//! Outlook mobile. Issue 12's target: 50,000 per second on one core without recording.
//!
//! Five figures, each printed as sign-ins per second:
//! - `build + run`: the world built from the scenario each time, stopped at access,
//!   recording off;
//! - `clone + run, not recorded` / `clone + run, trace recorded`: a prebuilt world cloned
//!   (what an explorer that branches worlds pays), stopped once the data reaches the
//!   client, with the monitor recording the trace or not;
//! - `clone + run to the end, not recorded` / `... trace recorded`: the same clone run for
//!   the scenario's whole duration (`hmasim_sim::run_built`, what `hmasim run` does),
//!   background synchronization included.
#![allow(clippy::disallowed_methods)] // a bench times itself
#![allow(missing_docs)] // criterion_group! generates an undocumented fn

use std::hint::black_box;
use std::time::Instant;

use criterion::{criterion_group, Criterion, Throughput};
use hmasim::kernel::{Limits, SimTime};
use hmasim::sim::{build, run_built, Monitor};

fn scenario() -> hmasim::scenario::Scenario {
    hmasim::scenario::load("mobile-onprem-hma").expect("bundled")
}

/// A clone of `world` run until the data reaches the client, recording the trace or not.
fn one_clone(world: &hmasim::sim::Built, record: bool) -> bool {
    let mut w = world.world.clone();
    let mut mon = Monitor::new(world.clients.clone(), None, record).stop_on_access();
    w.run_with(
        Limits {
            max_events: 10_000,
            until: SimTime::from_millis(3_600_000),
        },
        &mut mon,
    );
    mon.all_reached()
}

/// A clone of `world` run for the scenario's whole duration.
fn to_the_end(sc: &hmasim::scenario::Scenario, world: &hmasim::sim::Built, record: bool) -> bool {
    let trace = run_built(sc, world.clone(), record);
    trace.outcome.mailbox_access && (!record || !trace.events.is_empty())
}

fn print_figures() {
    let sc = scenario();
    let built = build(&sc);
    assert!(one_clone(&built, false), "the sign-in must complete");
    assert!(
        to_the_end(&sc, &built, true),
        "the run must reach the mailbox"
    );
    type Case<'a> = (&'static str, Box<dyn Fn() -> bool + 'a>);
    let cases: [Case<'_>; 5] = [
        (
            "build + run",
            Box::new(|| hmasim::sim::run_until_access(&sc).mailbox_access),
        ),
        (
            "clone + run, not recorded",
            Box::new(|| one_clone(&built, false)),
        ),
        (
            "clone + run, trace recorded",
            Box::new(|| one_clone(&built, true)),
        ),
        (
            "clone + run to the end, not recorded",
            Box::new(|| to_the_end(&sc, &built, false)),
        ),
        (
            "clone + run to the end, trace recorded",
            Box::new(|| to_the_end(&sc, &built, true)),
        ),
    ];
    for (label, f) in cases {
        // `cargo bench` passes --bench; `cargo test --benches` (CI's smoke run) passes
        // nothing, and criterion's `--test` means the same: a smoke run, not a measurement.
        let smoke =
            !std::env::args().any(|a| a == "--bench") || std::env::args().any(|a| a == "--test");
        let n = if smoke { 20 } else { 20_000 };
        let start = Instant::now();
        for _ in 0..n {
            assert!(black_box(f()));
        }
        let secs = start.elapsed().as_secs_f64();
        eprintln!(
            "mobile-onprem-hma sign-ins ({label}): {:.0} complete sign-ins/s ({:.1} us each)",
            n as f64 / secs,
            secs * 1e6 / n as f64
        );
    }
}

fn bench(c: &mut Criterion) {
    let sc = scenario();
    let built = build(&sc);
    let mut g = c.benchmark_group("signin");
    g.throughput(Throughput::Elements(1));
    g.bench_function("mobile-onprem-hma/build+run", |b| {
        b.iter(|| black_box(hmasim::sim::run_until_access(&sc)))
    });
    g.bench_function("mobile-onprem-hma/clone+run", |b| {
        b.iter(|| black_box(one_clone(&built, false)))
    });
    g.bench_function("mobile-onprem-hma/clone+run+record", |b| {
        b.iter(|| black_box(one_clone(&built, true)))
    });
    g.bench_function("mobile-onprem-hma/clone+run-to-end+record", |b| {
        b.iter(|| black_box(to_the_end(&sc, &built, true)))
    });
    g.finish();
}

criterion_group!(benches, bench);

fn main() {
    print_figures();
    benches();
    Criterion::default().configure_from_args().final_summary();
}
