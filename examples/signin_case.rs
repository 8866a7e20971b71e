//! One case of `benches/signin.rs`, run N times in a function of its own: the harness for
//! profilers (callgrind's `--toggle-collect`, `perf record`) and for CPU-time comparisons
//! that do not depend on wall-clock noise. `docs/perf.md` shows how it is used.
//!
//! ```sh
//! cargo build --profile bench --example signin_case
//! valgrind --tool=callgrind --toggle-collect='signin_case::one_clone' \
//!     target/release/examples/signin_case 1 50     # instructions of 50 sign-ins
//! ```
//!
//! Cases (the bench's lines): 0 build + run, 1 clone + run not recorded, 2 clone + run
//! recorded, 3 clone + run to the end not recorded, 4 the same recorded.

use std::hint::black_box;
use std::process::ExitCode;

use hmasim::kernel::{Limits, SimTime};
use hmasim::sim::{build, run_built, Built, Monitor};

/// A clone of `world` run until the data reaches the client (the bench's `one_clone`).
#[inline(never)]
fn one_clone(world: &Built, record: bool) -> bool {
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

/// A clone of `world` run for the scenario's whole duration (the bench's `to_the_end`).
#[inline(never)]
fn to_the_end(sc: &hmasim::scenario::Scenario, world: &Built, record: bool) -> bool {
    let trace = run_built(sc, world.clone(), record);
    trace.outcome.mailbox_access && (!record || !trace.events.is_empty())
}

/// The world built from the scenario and run to access.
#[inline(never)]
fn build_run(sc: &hmasim::scenario::Scenario) -> bool {
    hmasim::sim::run_until_access(sc).mailbox_access
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let parsed = match args.as_slice() {
        [case, n] => case.parse::<u8>().ok().zip(n.parse::<u64>().ok()),
        _ => None,
    };
    let Some((case @ 0..=4, n)) = parsed else {
        eprintln!("usage: signin_case CASE N   (CASE 0 to 4, see the example's docs)");
        return ExitCode::from(2);
    };
    let sc = match hmasim::scenario::load("mobile-onprem-hma") {
        Ok(sc) => sc,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    let built = build(&sc);
    for _ in 0..n {
        let reached = match case {
            0 => build_run(&sc),
            1 => one_clone(&built, false),
            2 => one_clone(&built, true),
            3 => to_the_end(&sc, &built, false),
            _ => to_the_end(&sc, &built, true),
        };
        if !black_box(reached) {
            eprintln!("the sign-in did not reach the mailbox");
            return ExitCode::FAILURE;
        }
    }
    ExitCode::SUCCESS
}
