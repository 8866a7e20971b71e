//! Sending HTTP-shaped messages: name resolution, correlation ids, relaying.

use std::collections::BTreeMap;

use hmasim_base::{ActorId, SimDuration};

use crate::Body;

use crate::{Directory, Env, Message, Route, Wire};

/// A party's view of the network: its directory, the addresses its peers connect from,
/// and a correlation-id counter.
#[derive(Clone, Debug, Default)]
pub struct Net {
    /// Who answers for which host, from this party.
    pub directory: Directory,
    /// The source address each peer's connections arrive from, as this party sees them
    /// (what a socket's peer address tells a real server; behind NAT, the egress).
    /// Shared between the parties that see the same addresses.
    peers: std::sync::Arc<BTreeMap<ActorId, std::net::IpAddr>>,
    next_conv: u64,
}

/// A host name this party cannot reach.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Unreachable(pub String);

impl Net {
    /// A view of the network through `directory`.
    pub fn new(directory: Directory) -> Net {
        Net {
            directory,
            peers: Default::default(),
            next_conv: 0,
        }
    }

    /// This view with the peers' source addresses `peers`.
    pub fn with_peers(mut self, peers: std::sync::Arc<BTreeMap<ActorId, std::net::IpAddr>>) -> Net {
        self.peers = peers;
        self
    }

    /// Takes the directory and peer addresses of `fresh` (a reconfigured world), keeping
    /// this view's correlation ids.
    pub fn adopt(&mut self, fresh: Net) {
        self.directory = fresh.directory;
        self.peers = fresh.peers;
    }

    /// The source address of the connection `from` (an [`Env::caller`]) as this party's
    /// network shows it, when it shows one: what a socket's peer address tells a server.
    pub fn source(&self, from: Route) -> Option<std::net::IpAddr> {
        self.peers.get(&from.actor()).copied()
    }

    /// Where `host` resolves from this party, if it does.
    pub fn resolve(&self, host: &str) -> Option<Route> {
        self.directory.resolve(host).map(Route::to_actor)
    }

    /// A fresh correlation id.
    pub fn conv(&mut self) -> u64 {
        self.next_conv += 1;
        self.next_conv
    }

    /// Sends request `msg` to the actor answering for its URL's host. Gives `msg` a fresh
    /// correlation id and returns it, or the host when it does not resolve.
    pub fn request(&mut self, ctx: &mut impl Env, mut msg: Message) -> Result<u64, Unreachable> {
        let host = msg.url.as_ref().map(|u| u.host.as_str()).unwrap_or("");
        let Some(to) = self.resolve(host) else {
            return Err(Unreachable(host.to_string()));
        };
        let conv = self.conv();
        msg.conv = conv;
        ctx.send(to, msg);
        Ok(conv)
    }
}

/// The bookkeeping of a relay (reverse proxy, load balancer, protocol translator): which
/// downstream request each upstream request stands for.
#[derive(Clone, Debug, Default)]
pub struct Relay {
    pending: BTreeMap<u64, (Route, u64)>,
}

impl Relay {
    /// Forwards request `req` (the one `ctx` is handling) to `upstream`; remembers where
    /// the answer goes. `next_conv` is the relay's fresh correlation id for the upstream leg.
    pub fn forward(&mut self, ctx: &mut impl Env, upstream: Route, mut req: Wire, next_conv: u64) {
        self.pending.insert(next_conv, (ctx.caller(), req.conv));
        req.conv = next_conv;
        ctx.send(upstream, Message::relayed(req));
    }

    /// Forwards request `req` (the one `ctx` is handling) to whoever answers for its URL's
    /// host in `net`, the relay's view of the network (a reverse proxy forwards by host);
    /// gives the request back when its host does not resolve.
    pub fn forward_by_host(
        &mut self,
        ctx: &mut impl Env,
        net: &mut Net,
        req: Wire,
    ) -> Result<(), Box<Wire>> {
        let host = req.url.as_ref().map(|u| u.host.as_str()).unwrap_or("");
        let Some(upstream) = net.resolve(host) else {
            return Err(Box::new(req));
        };
        let conv = net.conv();
        self.forward(ctx, upstream, req, conv);
        Ok(())
    }

    /// Relays a response from upstream (the one `ctx` is handling, with its metadata) back to whoever asked. Returns `false` when the
    /// response answers nothing pending (it is then dropped).
    pub fn answer(&mut self, ctx: &mut impl Env, mut resp: Wire) -> bool {
        match self.pending.remove(&resp.conv) {
            Some((to, conv)) => {
                resp.conv = conv;
                // The relay passes the tokens on; it did not mint them
                // (`Message::settle` issues none on a relayed answer).
                ctx.send(to, Message::relayed(resp));
                true
            }
            None => false,
        }
    }

    /// Requests awaiting an answer.
    pub fn in_flight(&self) -> usize {
        self.pending.len()
    }

    /// Forgets every request in flight (the relay restarted).
    pub fn clear(&mut self) {
        self.pending.clear();
    }
}

/// How long a party waits for an answer before it retries.
pub const REQUEST_TIMEOUT: SimDuration = SimDuration::from_secs(60);
/// The back-off before the first retry; it doubles with each retry (1 s, 2 s, 4 s).
pub const RETRY_BACKOFF: SimDuration = SimDuration::from_secs(1);
/// Retries after the first attempt.
pub const MAX_RETRIES: u32 = 3;

/// The retry bookkeeping of a party that resends timed-out requests with exponential
/// back-off (clients, MRS): copies of requests in flight, and requests waiting out their
/// back-off with what they were for (`P`).
#[derive(Clone, Debug)]
pub struct Retries<P> {
    keep_copies: bool,
    timeout_tag: &'static str,
    retry_tag: &'static str,
    sent: BTreeMap<u64, (Message, u32)>,
    waiting: BTreeMap<u64, (Message, P, u32)>,
    next_id: u64,
}

impl<P> Retries<P> {
    /// Bookkeeping whose timers carry these tags. Without `keep_copies` nothing is resent
    /// (a world that loses no message never needs a copy, and copying every request costs).
    pub fn new(keep_copies: bool, timeout_tag: &'static str, retry_tag: &'static str) -> Self {
        Retries {
            keep_copies,
            timeout_tag,
            retry_tag,
            sent: BTreeMap::new(),
            waiting: BTreeMap::new(),
            next_id: 0,
        }
    }

    /// A copy of `msg` to keep, if copies are kept.
    pub fn copy(&self, msg: &Message) -> Option<Message> {
        self.keep_copies.then(|| msg.clone())
    }

    /// Tracks request `conv` (attempt `attempt`, 0 for the first) and arms its timeout.
    pub fn track(&mut self, ctx: &mut impl Env, conv: u64, copy: Option<Message>, attempt: u32) {
        if let Some(copy) = copy {
            self.sent.insert(conv, (copy, attempt));
        }
        ctx.timer(REQUEST_TIMEOUT, Message::timer_for(self.timeout_tag, conv));
    }

    /// Request `conv` was answered.
    pub fn answered(&mut self, conv: u64) {
        self.sent.remove(&conv);
    }

    /// Request `conv` timed out. When a copy is kept and retries remain, schedules the
    /// retry after its back-off, notes it as `who` and returns `None`; otherwise hands
    /// `purpose` back to the caller, who gives up.
    pub fn timed_out(
        &mut self,
        ctx: &mut impl Env,
        conv: u64,
        purpose: P,
        who: &'static str,
    ) -> Option<P> {
        match self.sent.remove(&conv).filter(|(_, a)| *a < MAX_RETRIES) {
            Some((m, attempt)) => {
                let wait = SimDuration::from_micros(RETRY_BACKOFF.as_micros() << attempt);
                self.next_id += 1;
                ctx.note(Message::note(who).with_body(Body::Lines(vec![format!(
                    "attempt {} of {} in {} s",
                    attempt + 2,
                    MAX_RETRIES + 1,
                    wait.as_secs()
                )])));
                self.waiting.insert(self.next_id, (m, purpose, attempt + 1));
                ctx.timer(wait, Message::timer_for(self.retry_tag, self.next_id));
                None
            }
            None => Some(purpose),
        }
    }

    /// The request whose back-off ended (the retry timer's argument), to send again.
    pub fn due(&mut self, id: u64) -> Option<(Message, P, u32)> {
        self.waiting.remove(&id)
    }

    /// Forgets everything (the party restarted).
    pub fn clear(&mut self) {
        self.sent.clear();
        self.waiting.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::env::Recording;
    use crate::{Method, Stage, Url};

    /// A relay gets the wire part only; what it sends on carries the handled message's
    /// metadata, which its environment holds, with the relay's own correlation ids.
    #[test]
    fn a_relay_passes_on_metadata_it_never_reads() {
        let (client, upstream) = (Route::to_actor(ActorId(1)), Route::to_actor(ActorId(2)));
        let mut relay = Relay::default();
        let mut env = Recording::new(client);
        let req = Message::request(Method::GET, Url::https("x.test", "/"), 9, "the client asks")
            .at(Stage::UseToken)
            .carrying("AT2");
        let (wire, meta) = req.split();
        env.handled = meta.clone();
        relay.forward(&mut env, upstream, wire, 40);
        let (to, sent) = env.sent.pop().expect("forwarded");
        assert_eq!((to, sent.conv), (upstream, 40));
        assert_eq!(sent.meta, meta);

        let answer = Message::response(&sent.wire, 200, "served").at(Stage::Sync);
        let (wire, meta) = answer.split();
        env.handled = meta.clone();
        env.caller = upstream;
        assert!(relay.answer(&mut env, wire));
        let (to, back) = env.sent.pop().expect("answered");
        assert_eq!((to, back.conv), (client, 9));
        assert_eq!(back.meta, meta);
    }
}
