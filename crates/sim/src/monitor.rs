//! The observer that records traces and derives the outcome from the messages alone.

use std::collections::BTreeMap;

use hmasim_kernel::{ActorId, Delivery, EventKind, Observer, SimTime};
use hmasim_protocol::{Body, Fault, Kind, Message, Token};

/// Most requests the monitor remembers while they await an answer.
pub const CARRIED_BOUND: usize = 4096;

/// One recorded event.
#[derive(Clone, Debug)]
pub struct Event {
    /// Delivery order.
    pub seq: u64,
    /// Simulated ms.
    pub t_ms: u64,
    /// Sender.
    pub from: ActorId,
    /// Receiver.
    pub to: ActorId,
    /// Whether the network dropped it.
    pub dropped: bool,
    /// The message.
    pub msg: Message,
}

/// A run of faults not yet followed by mailbox data: the state "something is broken".
#[derive(Clone, Debug)]
pub struct Failing {
    /// The event where it went wrong (the first refusal of the streak).
    pub seq: u64,
    /// That refusal.
    pub fault: Fault,
    /// What the user sees, from the latest fault that says.
    pub symptom: Option<String>,
}

/// Watches a run: optionally records every event, and always tracks what the outcome needs
/// (tokens' authentication methods, which requests carried which token, mailbox data,
/// refusals, MRS synchronization).
#[derive(Debug, Default)]
pub struct Monitor {
    record: bool,
    stop_on_access: bool,
    clients: Vec<ActorId>,
    mrs: Option<ActorId>,
    seq: u64,
    /// Recorded events (when recording).
    pub events: Vec<Event>,
    /// Every token issued, in issue order.
    pub tokens: Vec<Token>,
    mfa: BTreeMap<String, bool>,
    carried: BTreeMap<(ActorId, ActorId, u64), Option<String>>,
    /// Requests answered already, with the token they carried: a duplicated answer (an
    /// injected fault) is judged against the request it answers, as the first copy was.
    answered: BTreeMap<(ActorId, ActorId, u64), Option<String>>,
    /// Insertion order of `carried` and `answered`, to forget the oldest first.
    carried_order: std::collections::VecDeque<(ActorId, ActorId, u64)>,
    answered_order: std::collections::VecDeque<(ActorId, ActorId, u64)>,
    /// Clients that received mailbox data.
    pub reached: Vec<ActorId>,
    /// The party whose data reached a client.
    pub served_by: Option<&'static str>,
    /// Mailbox data was served against a token without MFA (or no token).
    pub without_mfa: bool,
    /// Mailbox data was served at all.
    pub data_served: bool,
    /// Faults since the last mailbox data, if any.
    pub failing: Option<Failing>,
    /// The last time a client gave up, until a client gets mailbox data again: what the
    /// user saw even when a background party's success cleared `failing` afterwards.
    pub gave_up: Option<Failing>,
    /// MRS's successful synchronizations (ms).
    pub mrs_successes: Vec<u64>,
    /// MRS's failed synchronizations.
    pub mrs_failures: u64,
}

impl Monitor {
    /// A monitor for a world whose acting clients are `clients` and whose MRS is `mrs`.
    pub fn new(clients: Vec<ActorId>, mrs: Option<ActorId>, record: bool) -> Monitor {
        Monitor {
            record,
            clients,
            mrs,
            ..Monitor::default()
        }
    }

    /// Stops the run as soon as every client has reached its mailbox.
    pub fn stop_on_access(mut self) -> Monitor {
        self.stop_on_access = true;
        self
    }

    /// Records something the runner did (an outage, a configuration change) as a note.
    pub fn runner_note(&mut self, time: SimTime, actor: ActorId, msg: Message) {
        let ev = Delivery {
            time,
            from: actor,
            to: actor,
            kind: EventKind::Note,
            msg: &msg,
        };
        self.see(&ev, false);
    }

    fn see(&mut self, ev: &Delivery<'_, Message>, dropped: bool) {
        let m = ev.msg;
        if m.quiet {
            return;
        }
        let seq = self.seq;
        self.seq += 1;
        for t in &m.issued {
            if self.mfa.insert(t.id.clone(), t.has_mfa()).is_none() {
                self.tokens.push(t.clone());
            }
        }
        if self.record {
            self.events.push(Event {
                seq,
                t_ms: ev.time.as_millis(),
                from: ev.from,
                to: ev.to,
                dropped,
                msg: m.clone(),
            });
        }
        if dropped {
            // The answer will never come: forget the request it would have answered.
            // A duplicate of it may still arrive: remember the request as answered.
            if matches!(m.kind, Kind::Response | Kind::Redirect) {
                let key = (ev.to, ev.from, m.conv);
                if let Some(t) = self.carried.remove(&key) {
                    self.remember_answered(key, t);
                }
            }
            return;
        }
        if let Some(f) = &m.fault {
            if Some(ev.from) == self.mrs {
                self.mrs_failures += 1;
            }
            let symptom = f.symptom.as_ref().map(|s| s.to_string());
            if self.clients.contains(&ev.from) && symptom.is_some() {
                self.gave_up = Some(Failing {
                    seq,
                    fault: (**f).clone(),
                    symptom: symptom.clone(),
                });
            }
            match &mut self.failing {
                Some(streak) => {
                    if symptom.is_some() {
                        streak.symptom = symptom;
                    }
                }
                None => {
                    self.failing = Some(Failing {
                        seq,
                        fault: (**f).clone(),
                        symptom,
                    })
                }
            }
        }
        match m.kind {
            Kind::Request => {
                // Requests that are never answered (their server crashed, a relay forgot
                // them) would pile up on long faulty runs: past the bound, the oldest are
                // forgotten first. A duplicate of a request already answered changes
                // nothing: its answer is matched in `answered`.
                let key = (ev.from, ev.to, m.conv);
                if !self.answered.contains_key(&key)
                    && self.carried.insert(key, m.token.clone()).is_none()
                {
                    self.carried_order.push_back(key);
                }
                while self.carried_order.len() > CARRIED_BOUND {
                    if let Some(old) = self.carried_order.pop_front() {
                        self.carried.remove(&old);
                    }
                }
            }
            Kind::Response | Kind::Redirect => {
                let key = (ev.to, ev.from, m.conv);
                let token = match self.carried.remove(&key) {
                    Some(t) => {
                        self.remember_answered(key, t.clone());
                        t
                    }
                    None => self.answered.get(&key).cloned().flatten(),
                };
                if let Body::Mailbox(mb) = &m.body {
                    self.data_served = true;
                    self.failing = None;
                    let mfa = token
                        .as_ref()
                        .and_then(|t| self.mfa.get(t))
                        .copied()
                        .unwrap_or(false);
                    if !mfa {
                        self.without_mfa = true;
                    }
                    if Some(ev.to) == self.mrs {
                        self.mrs_successes.push(ev.time.as_millis());
                    }
                    if self.clients.contains(&ev.to) {
                        self.gave_up = None;
                    }
                    if self.clients.contains(&ev.to) && !self.reached.contains(&ev.to) {
                        self.reached.push(ev.to);
                        self.served_by = Some(mb.source);
                    }
                }
            }
            _ => {}
        }
    }

    /// Requests awaiting an answer that the monitor remembers (bounded by
    /// [`CARRIED_BOUND`]).
    pub fn in_flight(&self) -> usize {
        self.carried.len()
    }

    /// Remembers an answered request (bounded: the oldest are forgotten first).
    fn remember_answered(&mut self, key: (ActorId, ActorId, u64), token: Option<String>) {
        if self.answered.insert(key, token).is_none() {
            self.answered_order.push_back(key);
        }
        while self.answered_order.len() > CARRIED_BOUND {
            if let Some(old) = self.answered_order.pop_front() {
                self.answered.remove(&old);
            }
        }
    }

    /// Whether every client has reached its mailbox.
    pub fn all_reached(&self) -> bool {
        !self.clients.is_empty() && self.clients.iter().all(|c| self.reached.contains(c))
    }
}

impl Observer<Message> for Monitor {
    fn delivered(&mut self, ev: &Delivery<'_, Message>) {
        if ev.kind == EventKind::Timer && !self.record {
            if !ev.msg.quiet {
                self.seq += 1;
            }
            return;
        }
        self.see(ev, false);
    }
    fn dropped(&mut self, ev: &Delivery<'_, Message>) {
        self.see(ev, true);
    }
    fn noted(&mut self, ev: &Delivery<'_, Message>) {
        self.see(ev, false);
    }
    fn should_stop(&self) -> bool {
        self.stop_on_access && self.all_reached()
    }
}
