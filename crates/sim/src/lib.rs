//! hmasim's simulation layer: builds the world a scenario describes (one actor per party,
//! each with its own view of DNS and the network), runs it on the kernel, and turns what the
//! parties said into a trace and an outcome.
//!
//! The outcome is derived from the messages alone: mailbox access means a response carrying
//! mailbox data reached a client; MFA is satisfied when every request answered with mailbox
//! data carried a token whose `amr` includes `mfa`.
//!
//! ```
//! let sc = hmasim_scenario::load("mobile-onprem-hma").unwrap();
//! let trace = hmasim_sim::run(&sc, true);
//! assert!(trace.outcome.mailbox_access && trace.outcome.mfa_satisfied);
//! assert!(trace.tokens.iter().any(|t| t.id == "AT2" && t.obo_of.as_deref() == Some("AT1")));
//! ```
#![deny(missing_docs)]

mod build;
mod monitor;
mod party;
mod trace;

pub use build::{build, Built};
pub use monitor::{Event, Monitor};
pub use party::Party;
pub use trace::{Failure, Outcome, Trace, FORMAT};

use hmasim_kernel::{ActorId, Limits, SimTime, StopReason};
use hmasim_scenario::Scenario;

/// The clients that act in the scenario's timeline.
fn acting(sc: &Scenario, built: &Built) -> Vec<ActorId> {
    built
        .clients
        .iter()
        .copied()
        .filter(|c| {
            sc.timeline
                .iter()
                .any(|a| a.client == built.names[c.0 as usize])
        })
        .collect()
}

/// Runs a scenario for its duration. With `record`, the trace holds every event.
pub fn run(sc: &Scenario, record: bool) -> Trace {
    let mut built = build(sc);
    let mut mon = Monitor::new(acting(sc, &built), record);
    let limits = Limits {
        max_events: sc.run.max_events,
        until: SimTime::from_millis(sc.run.duration.ms()),
    };
    let stats = built.world.run_with(limits, &mut mon);
    let why = match stats.stop {
        StopReason::Quiescent => "nothing left to do",
        StopReason::Deadline => "run duration reached",
        StopReason::EventLimit => "event limit reached",
        StopReason::Observer => "stopped by the observer",
    };
    let outcome = outcome(&mon);
    Trace {
        scenario: sc.name.clone(),
        summary: sc.summary.clone(),
        seed: sc.seed,
        identity_model: sc.identity.model.as_str(),
        flow: sc.flow_id(),
        names: built.names,
        tokens: std::mem::take(&mut mon.tokens),
        events: std::mem::take(&mut mon.events),
        outcome,
        stats: format!(
            "{} events delivered, {} dropped, {} simulated; {why}",
            stats.delivered,
            stats.dropped,
            built.world.now()
        ),
    }
}

/// Runs a scenario only until every acting client has its mailbox (or it cannot), without
/// recording: the fast path for benchmarks and sweeps.
pub fn run_until_access(sc: &Scenario) -> Outcome {
    let mut built = build(sc);
    let mut mon = Monitor::new(acting(sc, &built), false).stop_on_access();
    let limits = Limits {
        max_events: sc.run.max_events,
        until: SimTime::from_millis(sc.run.duration.ms()),
    };
    built.world.run_with(limits, &mut mon);
    outcome(&mon)
}

fn outcome(mon: &Monitor) -> Outcome {
    let mailbox_access = mon.all_reached();
    // The client's give-up carries the symptom; otherwise a run without access reports the
    // last refusal any party made.
    let fault = match (&mon.gave_up, &mon.last_fault) {
        (Some((_, f)), _) => Some(f.clone()),
        (None, Some((_, f))) if !mailbox_access => Some(f.clone()),
        _ => None,
    };
    Outcome {
        mailbox_access,
        mfa_satisfied: mailbox_access && mon.data_served && !mon.without_mfa,
        served_by: mon.served_by.map(str::to_string),
        symptom: fault
            .as_ref()
            .and_then(|f| f.symptom.as_ref().map(|s| s.to_string())),
        failure: fault.map(|f| Failure {
            code: f.code.into_owned(),
            party: f.party.to_string(),
            message: f.message,
            diagnostics: f.diagnostics,
        }),
    }
}
