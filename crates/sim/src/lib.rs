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
pub mod topology;
mod trace;

pub use build::RunnerAction;
pub use build::{build, ca_tenant, Built, MICROSOFT_SERVICES};
pub use monitor::{ClientView, Event, Failing, Monitor};
pub use party::Party;
pub use topology::Topology;
pub use trace::{ClientOutcome, Diagnosis, Failure, Lost, Outcome, SyncStats, Trace, FORMAT};

mod diagnosis;
pub mod findings;
pub mod verify;

use hmasim_kernel::{ActorId, Limits, SimTime, StopReason};
use hmasim_protocol::{Body, FaultCode, Message};
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
                .any(|a| a.client.as_deref() == Some(built.names[c.0 as usize].as_str()))
        })
        .collect()
}

fn mrs_id(built: &Built) -> Option<ActorId> {
    built
        .names
        .iter()
        .position(|n| n == "mrs")
        .map(|i| ActorId(i as u32))
}

/// The mailbox servers of the world, by actor, with their party ids.
fn servers(built: &Built) -> Vec<(ActorId, &'static str)> {
    ["exchange-online", "exchange-onprem"]
        .into_iter()
        .filter_map(|name| {
            let i = built.names.iter().position(|n| n == name)?;
            Some((ActorId(i as u32), name))
        })
        .collect()
}

/// What a run did, before it is turned into a trace.
struct Ran {
    built: Built,
    mon: Monitor,
    stop: StopReason,
    delivered: u64,
    dropped: u64,
}

/// Runs the world, applying the runner's own timeline actions (outages, configuration
/// changes) at their instants.
fn drive(sc: &Scenario, record: bool, stop_on_access: bool) -> Ran {
    drive_built(sc, build(sc), record, stop_on_access)
}

/// Runs an already built world of `sc` (possibly a branch of another).
fn drive_built(sc: &Scenario, mut built: Built, record: bool, stop_on_access: bool) -> Ran {
    let mut mon =
        Monitor::new(acting(sc, &built), mrs_id(&built), record).with_servers(servers(&built));
    if stop_on_access {
        mon = mon.stop_on_access();
    }
    let end = SimTime::from_millis(sc.run.duration.ms());
    // The scenario as timeline `set` actions have changed it, copied on the first one.
    let mut changed: Option<Scenario> = None;
    let (mut delivered, mut dropped) = (0, 0);
    let mut stop;
    let actions = std::mem::take(&mut built.runner_actions);
    let segment = |built: &mut Built,
                   mon: &mut Monitor,
                   until: SimTime,
                   delivered: &mut u64,
                   dropped: &mut u64| {
        let budget = sc.run.max_events.saturating_sub(*delivered + *dropped);
        let st = built.world.run_with(
            Limits {
                max_events: budget,
                until,
            },
            mon,
        );
        *delivered += st.delivered;
        *dropped += st.dropped;
        st.stop
    };
    for (at, action) in actions {
        if at > end {
            break;
        }
        if at > SimTime::ZERO {
            stop = segment(
                &mut built,
                &mut mon,
                SimTime::from_micros(at.as_micros() - 1),
                &mut delivered,
                &mut dropped,
            );
            if matches!(stop, StopReason::EventLimit | StopReason::Observer) {
                return Ran {
                    built,
                    mon,
                    stop,
                    delivered,
                    dropped,
                };
            }
        }
        match action {
            RunnerAction::OutageStart(p) => {
                built.world.set_down(p, true);
                mon.runner_note(
                    at,
                    p,
                    Message::note("outage: the party is unreachable from now on"),
                );
            }
            RunnerAction::OutageEnd(p) => {
                built.world.set_down(p, false);
                mon.runner_note(
                    at,
                    p,
                    Message::note("the outage ends: the party is reachable again"),
                );
            }
            RunnerAction::Cut(from, to, cut) => {
                built.world.network_mut().set_cut(from, to, cut);
                let (f, t) = (&built.names[from.0 as usize], &built.names[to.0 as usize]);
                let note = if cut {
                    format!("partition: messages from {f} to {t} are lost from now on")
                } else {
                    format!("the partition heals: {f} reaches {t} again")
                };
                mon.runner_note(
                    at,
                    from,
                    Message::note("the network changes").with_body(Body::Lines(vec![note])),
                );
            }
            RunnerAction::Crash(p) => {
                built.world.crash(p);
                mon.runner_note(
                    at,
                    p,
                    Message::note("crash: the party stops and loses its volatile state"),
                );
            }
            RunnerAction::Restart(p) => {
                mon.runner_note(
                    at,
                    p,
                    Message::note("the party restarts: reachable again, with empty memory"),
                );
                built.world.restart(p, at, &mut mon);
            }
            RunnerAction::Set(kv) => {
                let current = changed.get_or_insert_with(|| sc.clone());
                let note = match hmasim_scenario::apply_set(current, &kv) {
                    Ok(()) => {
                        // Only the configurations are derived again, from the same table:
                        // no world is built.
                        build::reconfigure(current, &mut built);
                        build::apply_latencies(
                            current,
                            &built.names,
                            &built.zones,
                            &mut built.world,
                        );
                        // A note is output: a new password set here is shown masked.
                        format!(
                            "configuration change: {}",
                            hmasim_scenario::secret::mask_set(&kv)
                        )
                    }
                    Err(e) => format!("configuration change refused: {e}"),
                };
                let who = ActorId(0);
                mon.runner_note(
                    at,
                    who,
                    Message::note("the configuration changes").with_body(Body::Lines(vec![note])),
                );
            }
        }
    }
    stop = segment(&mut built, &mut mon, end, &mut delivered, &mut dropped);
    Ran {
        built,
        mon,
        stop,
        delivered,
        dropped,
    }
}

/// Runs a scenario for its duration. With `record`, the trace holds every event.
pub fn run(sc: &Scenario, record: bool) -> Trace {
    trace_of(sc, drive(sc, record, false))
}

/// Runs a world built from `sc` (a branch an explorer made) for the scenario's duration.
pub fn run_built(sc: &Scenario, built: Built, record: bool) -> Trace {
    trace_of(sc, drive_built(sc, built, record, false))
}

fn trace_of(sc: &Scenario, ran: Ran) -> Trace {
    let Ran {
        built,
        mut mon,
        stop,
        delivered,
        dropped,
    } = ran;
    let why = match stop {
        StopReason::Quiescent => "nothing left to do",
        StopReason::Deadline => "run duration reached",
        StopReason::EventLimit => "event limit reached",
        StopReason::Observer => "stopped by the observer",
    };
    // The run covers its whole duration unless a guard cut it short.
    let end_ms = match stop {
        StopReason::Quiescent | StopReason::Deadline => sc.run.duration.ms(),
        _ => built.world.now().as_millis(),
    };
    let mut outcome = outcome(sc, &built, &mon, end_ms);
    if stop == StopReason::EventLimit {
        // A guard cut the run short: say so rather than pass a partial run off as complete.
        let f = Failure {
            code: FaultCode::EventLimit,
            party: "hmasim".into(),
            message: format!(
                "the run stopped after {} events (run.max_events = {}) at {} of {}: the outcome covers only that part",
                delivered + dropped,
                sc.run.max_events,
                built.world.now(),
                hmasim_scenario::Span(sc.run.duration.ms()),
            ),
            diagnostics: "raise run.max_events or shorten run.duration; a loop between parties also ends here".into(),
        };
        if outcome.failure.is_none() {
            outcome.failure = Some(f);
        }
    }
    // The footer counts what is printed (recording on) and says what is left out; its
    // time is what the run covered.
    let covered = SimTime::from_millis(end_ms);
    let stats = if mon.events.is_empty() && delivered + dropped > 0 {
        format!("{delivered} events delivered, {dropped} dropped, not recorded; {covered} simulated; {why}")
    } else {
        let hidden = match mon.quiet {
            0 => String::new(),
            1 => "; 1 bookkeeping timer (request timeout or retry) not shown".into(),
            n => format!("; {n} bookkeeping timers (request timeouts and retries) not shown"),
        };
        format!(
            "{} events shown, {} of them dropped{hidden}; {covered} simulated; {why}",
            mon.events.len(),
            mon.shown.1
        )
    };
    Trace {
        scenario: sc.name.clone(),
        summary: sc.summary.clone(),
        seed: sc.seed,
        identity_model: sc.identity.model.as_str(),
        flow: sc.flow_id(),
        names: built.names,
        tokens: mon.take_tokens(),
        events: std::mem::take(&mut mon.events),
        outcome,
        reproduce: None,
        stats,
    }
}

/// Runs a scenario only until every acting client has its mailbox (or it cannot), without
/// recording: the fast path for benchmarks and sweeps.
pub fn run_until_access(sc: &Scenario) -> Outcome {
    let ran = drive(sc, false, true);
    outcome(sc, &ran.built, &ran.mon, ran.built.world.now().as_millis())
}

fn outcome(sc: &Scenario, built: &Built, mon: &Monitor, end_ms: u64) -> Outcome {
    // Why access was lost, in the admin's words: the diagnosis's cause (which falls back
    // on the refusal's own message when the runbook knows no better).
    let lost = |f: &monitor::Failing| Lost {
        t_ms: f.t_ms,
        code: f.fault.code,
        why: diagnosis::diagnose(sc, f).cause,
    };
    let clients: Vec<ClientOutcome> = mon
        .clients
        .iter()
        .map(|v| {
            let i = v.id.0 as usize;
            let reached = v.reached_ms.is_some();
            let holds = v.holds();
            ClientOutcome {
                client: built.names[i].clone(),
                user: sc
                    .clients
                    .get(i)
                    .map(|c| c.user.clone())
                    .unwrap_or_default(),
                reached,
                reached_with_mfa: v.with_mfa,
                reached_without_mfa: v.without_mfa,
                holds_at_end: holds,
                lost: if reached && !holds {
                    v.broken().map(lost)
                } else {
                    None
                },
                stopped: if reached { None } else { v.broken().map(lost) },
                served_by: v.served_by.map(str::to_string),
            }
        })
        .collect();
    // The top-level fields are the first acting client's verdict. A run with no acting
    // client falls back on every fault seen.
    let first = mon.clients.first();
    let mailbox_access = first.is_some_and(|v| v.reached_ms.is_some());
    let failing = match first {
        Some(v) if v.holds() => None,
        Some(v) => v.broken().or(mon.failing.as_ref()),
        None => mon.failing.as_ref(),
    };
    let failure = failing.map(|f| Failure {
        code: f.fault.code,
        party: f.fault.party.to_string(),
        message: f.fault.message.clone(),
        diagnostics: f.fault.diagnostics.clone(),
    });
    let sync = (!mon.mrs_successes.is_empty() || mon.mrs_failures > 0).then(|| {
        let mut longest = 0;
        let mut prev = mon.mrs_successes.first().copied().unwrap_or(0);
        for t in &mon.mrs_successes {
            longest = longest.max(t - prev);
            prev = *t;
        }
        longest = longest.max(end_ms.saturating_sub(prev));
        SyncStats {
            last_success_ms: mon.mrs_successes.last().copied(),
            longest_gap_ms: longest,
            failed: mon.mrs_failures,
        }
    });
    Outcome {
        data_without_mfa: mon.data_served && mon.without_mfa,
        mailbox_access,
        mfa_satisfied: first
            .is_some_and(|v| v.reached_ms.is_some() && v.with_mfa && !v.without_mfa),
        served_by: first.and_then(|v| v.served_by).map(str::to_string),
        symptom: failing.and_then(|f| f.symptom.clone()),
        diagnosis: failing.map(|f| diagnosis::diagnose(sc, f)),
        failure,
        sync,
        clients,
    }
}
