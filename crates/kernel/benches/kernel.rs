//! Kernel throughput: a ping-pong among many actors with a steady number of pending events.
//!
//! 1,000 actors pass tokens around. Every delivered token makes its receiver send the token
//! on to an actor picked by a hash of the token, after a processing delay of 0–1,023 µs
//! (also from the hash) plus the 1 ms default link latency, with no jitter. Each delivery
//! schedules exactly one event, so the number of pending events stays at the number of
//! tokens pre-scheduled: 10,000 or 1,000,000. The pending events span about 2 ms of
//! simulated time, so many share an instant and the `(time, seq)` tie-break is exercised.
//!
//! Run with `cargo bench -p hmasim-kernel --bench kernel`. Besides criterion's report, the
//! bench prints a plain figure (kernel events per second) from a simple timed loop.
#![allow(clippy::disallowed_methods)] // a bench times itself
#![allow(missing_docs)]

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{criterion_group, BenchmarkId, Criterion, Throughput};
use hmasim_kernel::{Actor, ActorId, Ctx, Limits, NullObserver, SimDuration, SimTime, World};

const ACTORS: u32 = 1_000;
/// Events delivered per criterion iteration.
const BATCH: u64 = 100_000;

/// SplitMix64 step: the token's next state.
fn mix(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[derive(Clone)]
struct Hop {
    handled: u64,
}

impl Actor<u64> for Hop {
    fn handle(&mut self, token: u64, _from: ActorId, ctx: &mut Ctx<'_, u64>) {
        self.handled += 1;
        let next = mix(token);
        let to = ActorId((((next >> 32) * u64::from(ACTORS)) >> 32) as u32);
        let delay = SimDuration::from_micros(next & 1_023);
        ctx.send_after(delay, to, next);
    }
}

/// A world of `ACTORS` actors with `pending` tokens in flight, spread over the first 2 ms.
fn world(pending: usize) -> World<Hop, u64> {
    let mut w = World::new(42);
    for _ in 0..ACTORS {
        w.add(Hop { handled: 0 });
    }
    w.network_mut()
        .set_default_latency(SimDuration::from_millis(1));
    w.reserve(pending);
    let mut s = 7u64;
    for _ in 0..pending {
        s = mix(s);
        let from = ActorId(((s >> 40) % u64::from(ACTORS)) as u32);
        let to = ActorId(((s >> 16) % u64::from(ACTORS)) as u32);
        w.schedule(SimTime::from_micros(s & 2_047), from, to, s);
    }
    w
}

/// Delivers `n` events; the queue length is unchanged afterwards.
fn run(w: &mut World<Hop, u64>, n: u64) {
    let s = w.run_with(
        Limits {
            max_events: n,
            until: SimTime::MAX,
        },
        &mut NullObserver,
    );
    debug_assert_eq!(s.delivered, n);
    black_box(s);
}

fn label(pending: usize) -> String {
    if pending >= 1_000_000 {
        format!("{}M", pending / 1_000_000)
    } else {
        format!("{}k", pending / 1_000)
    }
}

/// The plain figure: a warm-up, then a timed loop of at least `min` of wall time.
fn plain(pending: usize, min: Duration) {
    let mut w = world(pending);
    run(&mut w, 2 * pending as u64);
    let start = Instant::now();
    let mut events = 0u64;
    while start.elapsed() < min {
        run(&mut w, 1_000_000);
        events += 1_000_000;
    }
    let secs = start.elapsed().as_secs_f64();
    assert_eq!(w.queue().len(), pending);
    eprintln!(
        "kernel ping-pong, {} pending: {:.1} M events/s ({} events in {:.2} s)",
        label(pending),
        events as f64 / secs / 1e6,
        events,
        secs
    );
}

fn ping_pong(c: &mut Criterion) {
    let mut g = c.benchmark_group("kernel_ping_pong");
    g.throughput(Throughput::Elements(BATCH));
    for pending in [10_000usize, 1_000_000] {
        let mut w = world(pending);
        run(&mut w, 2 * pending as u64);
        g.bench_with_input(
            BenchmarkId::new("pending", label(pending)),
            &pending,
            |b, _| b.iter(|| run(&mut w, BATCH)),
        );
        assert_eq!(w.queue().len(), pending);
    }
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(5));
    targets = ping_pong
}

fn main() {
    // Under `cargo bench` cargo passes `--bench`; under `cargo test` it does not, and
    // criterion runs each benchmark once as a smoke test. Only print figures when measuring.
    if std::env::args().any(|a| a == "--bench") {
        plain(10_000, Duration::from_secs(2));
        plain(1_000_000, Duration::from_secs(3));
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
}
