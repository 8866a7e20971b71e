//! Building a tenant-sized world (issue 12 item 6): 100,000 Outlook mobile clients, each
//! with its own user, sharing one set of services, built by `hmasim_sim::build` from a
//! scenario made in code (the `mobile-onprem-hma` tenant with its one user and client
//! repeated; the input caps of docs/limits.md apply to files, not to this). Targets: under
//! 1 s and under 500 MiB peak.
//!
//! Printed: the time `build` takes, and the process's peak resident memory (`VmHWM` from
//! `/proc/self/status`, Linux) before and after it: the difference is what the world
//! costs beyond the scenario it is built from. The world is built, not run: a run's
//! memory is bounded by `run.max_events` (`tests/memory.rs`).
#![allow(clippy::disallowed_methods)] // a bench times itself
#![allow(missing_docs)] // criterion_group! generates an undocumented fn

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{criterion_group, Criterion};
use hmasim::scenario::Scenario;

/// The `mobile-onprem-hma` tenant with `n` users, each with an Outlook mobile client.
fn tenant(n: usize) -> Scenario {
    let base = hmasim::scenario::load("mobile-onprem-hma").expect("bundled");
    let mut sc = base.clone();
    sc.users.reserve(n);
    sc.clients.reserve(n);
    for i in 1..n {
        let mut user = base.users[0].clone();
        user.upn = format!("user{i}@{}", base.tenant.domain);
        let mut client = base.clients[0].clone();
        client.id = Some(format!("phone-{i}"));
        client.user = user.upn.clone();
        sc.users.push(user);
        sc.clients.push(client);
    }
    sc
}

/// The process's peak resident set (`VmHWM`), in MiB, where Linux reports it.
fn peak_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

fn smoke() -> bool {
    // `cargo bench` passes --bench; `cargo test --benches` (CI's smoke run) passes nothing
    // (and criterion's own `--test` means the same): a smaller run, not a measurement.
    !std::env::args().any(|a| a == "--bench") || std::env::args().any(|a| a == "--test")
}

fn clients() -> usize {
    if smoke() {
        10_000
    } else {
        100_000
    }
}

fn print_figures() {
    let n = clients();
    let sc = tenant(n);
    let before = peak_mib();
    let start = Instant::now();
    let built = hmasim::sim::build(&sc);
    let secs = start.elapsed().as_secs_f64();
    let after = peak_mib();
    assert_eq!(built.clients.len(), n);
    assert_eq!(built.world.len(), n + 10, "one set of services");
    let mib = |m: Option<f64>| m.map_or("unknown".to_string(), |m| format!("{m:.0} MiB"));
    eprintln!(
        "world of {n} clients: built in {:.3} s; peak memory {} (the scenario alone: {}, so \
         the world: {})",
        secs,
        mib(after),
        mib(before),
        mib(after.zip(before).map(|(a, b)| a - b)),
    );
    black_box(built);
}

fn bench(c: &mut Criterion) {
    let n = clients();
    let sc = tenant(n);
    let mut g = c.benchmark_group("world");
    g.sample_size(10);
    g.measurement_time(Duration::from_secs(15));
    g.bench_function(format!("build {n} clients"), |b| {
        b.iter(|| black_box(hmasim::sim::build(&sc)))
    });
    g.finish();
}

criterion_group!(benches, bench);

fn main() {
    print_figures();
    benches();
    Criterion::default().configure_from_args().final_summary();
}
