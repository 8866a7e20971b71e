//! Complete `mobile-onprem-hma` sign-ins per second, trace recording off: AutoDetect,
//! AutoDiscover, the 401, the federated sign-in through WAP and AD FS, Conditional Access
//! and MFA, AT1, the on-behalf-of AT2, provisioning and the first ActiveSync sync, until the
//! data reaches Outlook mobile. Target: at least 20,000 per second on one core.
//!
//! Two figures: building the world from the scenario each time, and cloning a prebuilt
//! world (what an explorer that branches worlds pays).
#![allow(clippy::disallowed_methods)] // a bench times itself
#![allow(missing_docs)] // criterion_group! generates an undocumented fn

use std::hint::black_box;
use std::time::Instant;

use criterion::{criterion_group, Criterion, Throughput};
use hmasim::kernel::{Limits, SimTime};
use hmasim::sim::{build, Monitor};

fn scenario() -> hmasim::scenario::Scenario {
    hmasim::scenario::load("mobile-onprem-hma").expect("bundled")
}

fn one_clone(world: &hmasim::sim::Built) -> bool {
    let mut w = world.world.clone();
    let mut mon = Monitor::new(world.clients.clone(), None, false).stop_on_access();
    w.run_with(
        Limits {
            max_events: 10_000,
            until: SimTime::from_millis(3_600_000),
        },
        &mut mon,
    );
    mon.all_reached()
}

fn print_figures() {
    let sc = scenario();
    let built = build(&sc);
    assert!(one_clone(&built), "the sign-in must complete");
    for (label, f) in [
        (
            "build + run",
            Box::new(|| hmasim::sim::run_until_access(&sc).mailbox_access) as Box<dyn Fn() -> bool>,
        ),
        ("clone + run", Box::new(|| one_clone(&built))),
    ] {
        // `cargo test --benches` passes --test: a smoke run, not a measurement.
        let n = if std::env::args().any(|a| a == "--test") {
            20
        } else {
            20_000
        };
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
        b.iter(|| black_box(one_clone(&built)))
    });
    g.finish();
}

criterion_group!(benches, bench);

fn main() {
    print_figures();
    benches();
    Criterion::default().configure_from_args().final_summary();
}
