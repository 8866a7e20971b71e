//! `verify` of the largest bundled scenario (`secure-hybrid`: every client kind, two users,
//! mailboxes online and on-premises) in each of the three identity models. Target: under one
//! second for all three.

#![allow(clippy::disallowed_methods)] // a bench times itself
#![allow(missing_docs)] // criterion_group! generates an undocumented fn

use std::hint::black_box;
use std::time::Instant;

use criterion::{criterion_group, Criterion};
use hmasim::sim::verify::verify;

fn scenarios() -> Vec<hmasim::scenario::Scenario> {
    ["federated", "phs", "pta"]
        .iter()
        .map(|m| {
            let mut sc = hmasim::scenario::load("secure-hybrid").expect("bundled");
            hmasim::scenario::apply_set(&mut sc, &format!("identity.model={m}")).expect("valid");
            sc
        })
        .collect()
}

fn print_figure() {
    let scs = scenarios();
    let smoke = std::env::args().any(|a| a == "--test");
    let start = Instant::now();
    let (mut paths, mut events) = (0, 0);
    for sc in &scs {
        let v = black_box(verify(sc));
        assert!(v.counterexamples.is_empty());
        paths += v.paths.len();
        events += v.events;
    }
    let note = if smoke {
        " [smoke run: not a measurement]"
    } else {
        ""
    };
    eprintln!("verify secure-hybrid, 3 identity models: {paths} paths, {events} events explored in {:.1} ms{note}", start.elapsed().as_secs_f64() * 1e3);
}

fn bench(c: &mut Criterion) {
    let scs = scenarios();
    c.bench_function("verify/secure-hybrid/3-models", |b| {
        b.iter(|| {
            scs.iter()
                .map(|s| black_box(verify(s)).paths.len())
                .sum::<usize>()
        })
    });
}

criterion_group!(benches, bench);

fn main() {
    print_figure();
    benches();
    Criterion::default().configure_from_args().final_summary();
}
