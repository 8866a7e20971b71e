//! The observer that records traces and derives the outcome from the messages alone.

use std::collections::BTreeMap;

use hmasim_kernel::{ActorId, Delivery, EventKind, Observer};
use hmasim_protocol::{Body, Fault, Kind, Message, Token};

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

/// Watches a run: optionally records every event, and always tracks what the outcome needs
/// (tokens' authentication methods, which requests carried which token, mailbox data).
#[derive(Debug, Default)]
pub struct Monitor {
    record: bool,
    stop_on_access: bool,
    clients: Vec<ActorId>,
    seq: u64,
    /// Recorded events (when recording).
    pub events: Vec<Event>,
    /// Every token issued, in issue order.
    pub tokens: Vec<Token>,
    mfa: BTreeMap<String, bool>,
    carried: BTreeMap<(ActorId, ActorId, u64), Option<String>>,
    /// Clients that received mailbox data.
    pub reached: Vec<ActorId>,
    /// The party whose data reached a client.
    pub served_by: Option<&'static str>,
    /// Mailbox data was served against a token without MFA (or no token).
    pub without_mfa: bool,
    /// Mailbox data was served at all.
    pub data_served: bool,
    /// The tokens that authorized mailbox data, in order.
    pub data_tokens: Vec<Option<String>>,
    /// The last refusal reported by a party.
    pub last_fault: Option<(u64, Fault)>,
    /// A client's give-up (with the symptom).
    pub gave_up: Option<(u64, Fault)>,
    /// Last time mailbox data was served (ms).
    pub last_data_ms: Option<u64>,
}

impl Monitor {
    /// A monitor for a world whose clients are `clients`.
    pub fn new(clients: Vec<ActorId>, record: bool) -> Monitor {
        Monitor {
            record,
            clients,
            ..Monitor::default()
        }
    }

    /// Stops the run as soon as every client has reached its mailbox.
    pub fn stop_on_access(mut self) -> Monitor {
        self.stop_on_access = true;
        self
    }

    fn see(&mut self, ev: &Delivery<'_, Message>, dropped: bool) {
        let m = ev.msg;
        let seq = self.seq;
        self.seq += 1;
        for t in &m.issued {
            self.mfa.insert(t.id.clone(), t.has_mfa());
        }
        if self.record {
            self.tokens.extend(m.issued.iter().cloned());
            self.events.push(Event {
                seq,
                t_ms: ev.time.as_millis(),
                from: ev.from,
                to: ev.to,
                dropped,
                msg: m.clone(),
            });
        } else if !m.issued.is_empty() {
            self.tokens.extend(m.issued.iter().cloned());
        }
        if dropped {
            return;
        }
        if let Some(f) = &m.fault {
            if f.symptom.is_some() {
                self.gave_up = Some((seq, (**f).clone()));
            } else {
                self.last_fault = Some((seq, (**f).clone()));
            }
        }
        match m.kind {
            Kind::Request => {
                self.carried
                    .insert((ev.from, ev.to, m.conv), m.token.clone());
            }
            Kind::Response | Kind::Redirect => {
                let token = self.carried.remove(&(ev.to, ev.from, m.conv)).flatten();
                if let Body::Mailbox(mb) = &m.body {
                    self.data_served = true;
                    self.last_data_ms = Some(ev.time.as_millis());
                    let mfa = token
                        .as_ref()
                        .and_then(|t| self.mfa.get(t))
                        .copied()
                        .unwrap_or(false);
                    if !mfa {
                        self.without_mfa = true;
                    }
                    if !self.data_tokens.contains(&token) {
                        self.data_tokens.push(token);
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

    /// Whether every client has reached its mailbox.
    pub fn all_reached(&self) -> bool {
        !self.clients.is_empty() && self.clients.iter().all(|c| self.reached.contains(c))
    }
}

impl Observer<Message> for Monitor {
    fn delivered(&mut self, ev: &Delivery<'_, Message>) {
        if ev.kind == EventKind::Timer && !self.record {
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
