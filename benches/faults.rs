//! A 14-day run of `fault-stale-evosts-metadata` with MRS syncing every 5 minutes (about
//! 4,000 background syncs, each crossing WAP and the load balancer, plus token renewals),
//! trace recording off. Target: well under a second.

#![allow(clippy::disallowed_methods)] // a bench times itself
#![allow(missing_docs)] // criterion_group! generates an undocumented fn

use std::hint::black_box;
use std::time::Instant;

use criterion::{criterion_group, Criterion};

fn scenario() -> hmasim::scenario::Scenario {
    let mut sc = hmasim::scenario::load("fault-stale-evosts-metadata").expect("bundled");
    for kv in [
        "run.duration=14d",
        "exchange_online.mrs_sync_interval=5m",
        "run.max_events=10000000",
    ] {
        hmasim::scenario::apply_set(&mut sc, kv).expect("valid override");
    }
    sc
}

fn print_figure() {
    let sc = scenario();
    let smoke = std::env::args().any(|a| a == "--test");
    let n = if smoke { 1 } else { 10 };
    let start = Instant::now();
    let mut events = String::new();
    for _ in 0..n {
        let t = black_box(hmasim::sim::run(&sc, false));
        events = t.stats.clone();
        assert!(t.outcome.sync.is_some());
    }
    let secs = start.elapsed().as_secs_f64() / n as f64;
    let note = if smoke {
        " [smoke run: not a measurement]"
    } else {
        ""
    };
    eprintln!("fault-stale-evosts-metadata, 14 days, MRS sync every 5 min: {:.1} ms per run ({events}){note}", secs * 1e3);
}

fn bench(c: &mut Criterion) {
    let sc = scenario();
    let mut g = c.benchmark_group("faults");
    g.sample_size(10);
    g.bench_function("stale-evosts-metadata/14d", |b| {
        b.iter(|| black_box(hmasim::sim::run(&sc, false)))
    });
    g.finish();
}

criterion_group!(benches, bench);

fn main() {
    print_figure();
    benches();
    Criterion::default().configure_from_args().final_summary();
}
