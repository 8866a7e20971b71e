//! The environment a party runs in (issue 12 item 1): everything a party may do, and
//! nothing that a real server could not do.
//!
//! A party is written against [`Env`], never against the kernel: the simulator implements
//! it over the kernel's `Ctx` (`hmasim-sim`'s `SimEnv`), and the live emulator will
//! implement it over sockets and a scaled clock. What the trait offers:
//!
//! - the time on the party's own clock ([`Env::now`], [`Env::skew_micros`], and
//!   [`crate::unix_now`] built on both);
//! - its seeded random stream ([`Env::next_u64`], [`Env::fill_bytes`]);
//! - sending a request over a [`Route`] that name resolution gave ([`crate::Net::request`]
//!   resolves a host through the party's view of the network), and answering the request
//!   being handled ([`Env::answer`]) or one held for later ([`Env::answer_to`] with the
//!   [`Env::caller`] saved when it arrived);
//! - timers ([`Env::timer`] returns a [`TimerId`] that [`Env::cancel`] takes back) and
//!   trace notes;
//! - signing and verifying tokens ([`Env::sign`], [`Env::verify`]): the simulator signs
//!   HS256 by computation ([`crate::jwt`]); an environment holding real keys overrides both
//!   to sign RS256 and check against published keys, and no party changes.
//!
//! A handler never learns the sender's actor: the route back is opaque, and what it may
//! decide from is what crossed the wire (the request's host, scheme and headers) and the
//! source address its network shows ([`crate::Net::source`]).

use hmasim_base::{ActorId, SimDuration, SimTime, TimerId};

use crate::jwt::{self, Claims, JwtError, KeySet, SigningKey};
use crate::message::{Label, Meta};
use crate::Message;

/// Where a message goes or came from: a connection's return route, or where a host name
/// resolved. Opaque to parties: they receive routes from the environment (the caller of
/// the request they handle) or from name resolution, store them and hand them back; they
/// cannot tell which party is behind one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Route(ActorId);

impl Route {
    /// The route to `actor`. For environments and world builders only: a party gets its
    /// routes from [`Env::caller`] and [`crate::Net`].
    pub const fn to_actor(actor: ActorId) -> Route {
        Route(actor)
    }
    /// The actor behind the route. For environments only (the simulator delivers through
    /// it); a party has no use for it.
    pub const fn actor(self) -> ActorId {
        self.0
    }
}

/// What a party may ask of whatever runs it. See the [module docs](self).
pub trait Env {
    /// The current time.
    fn now(&self) -> SimTime;
    /// The running party's clock offset from [`Self::now`], in microseconds (positive: its
    /// clock is ahead).
    fn skew_micros(&self) -> i64;
    /// The next value of the party's own seeded random stream.
    fn next_u64(&mut self) -> u64;
    /// Fills `dst` from the party's own seeded random stream.
    fn fill_bytes(&mut self, dst: &mut [u8]);
    /// Sends `msg` over `to` (a route from name resolution, or a caller's to answer it).
    /// An environment settles a [`Message::same_stage`] or [`Message::relayed`] request
    /// first, from the metadata of the message being handled ([`Message::settle`]).
    fn send(&mut self, to: Route, msg: Message);
    /// The return route of the message being handled: who to answer. Saved by a party
    /// that answers later (after a lookup of its own), with [`Self::answer_to`].
    fn caller(&self) -> Route;
    /// Answers the message being handled.
    fn answer(&mut self, msg: Message) {
        let to = self.caller();
        self.send(to, msg);
    }
    /// Answers a request received earlier, whose [`Self::caller`] was saved.
    fn answer_to(&mut self, caller: Route, msg: Message) {
        self.send(caller, msg);
    }
    /// The trace label of the message being handled, opaque to the party: saved with a
    /// request it answers later ([`Message::labelled`]).
    fn label(&self) -> Label;
    /// The trace's name (`AT1`, `RT1`...) of a token the message being handled issued,
    /// found by its compact serialization: how a party that receives tokens names them in
    /// the trace when it sends them on, without the names crossing the wire. `None` when
    /// the message issued no such token (or the environment keeps no trace).
    fn issued_label(&self, token: &str) -> Option<String>;
    /// Delivers `msg` back to the running party after `delay`, unless cancelled first;
    /// returns the timer's handle.
    fn timer(&mut self, delay: SimDuration, msg: Message) -> TimerId;
    /// Cancels a timer the running party set: it never fires. Returns `false` when the
    /// timer is no longer pending (it fired or was cancelled already).
    fn cancel(&mut self, id: TimerId) -> bool;
    /// Writes `msg` into the trace as a note (or a refusal, with its fault), without
    /// delivering it.
    fn note(&mut self, msg: Message);
    /// Signs `claims` with `key` into a compact JWT. The simulator computes HS256
    /// ([`jwt::sign`]).
    fn sign(&self, claims: &Claims, key: &SigningKey) -> String {
        jwt::sign(claims, key)
    }
    /// Verifies `token` against the published keys `keys` at Unix time `now`, allowing
    /// `skew_s` seconds of clock skew ([`jwt::verify`]).
    fn verify(
        &self,
        token: &str,
        keys: &KeySet,
        now: u64,
        skew_s: u64,
    ) -> Result<Claims, JwtError> {
        jwt::verify(token, keys, now, skew_s)
    }
}

/// An [`Env`] that records what a party does, for tests of one party without a world:
/// the clock stands where it is set, the random stream is a fixed SplitMix64 sequence, and
/// sends, timers and notes are kept in order.
#[derive(Clone, Debug)]
pub struct Recording {
    /// The current time.
    pub now: SimTime,
    /// The return route of the message being handled.
    pub caller: Route,
    /// The trace metadata of the message being handled (what [`Message::same_stage`] and
    /// [`Message::relayed`] sends take from).
    pub handled: Meta,
    /// Messages sent, with their routes, in order.
    pub sent: Vec<(Route, Message)>,
    /// Timers set, in order; a timer's [`TimerId`] is its index here.
    pub timers: Vec<(SimDuration, Message)>,
    /// Timers cancelled while pending, in order.
    pub cancelled: Vec<TimerId>,
    /// Notes written, in order.
    pub notes: Vec<Message>,
    rng: u64,
}

impl Recording {
    /// A recording environment at time zero, handling a message from `caller`.
    pub fn new(caller: Route) -> Recording {
        Recording {
            now: SimTime::ZERO,
            caller,
            handled: Meta::default(),
            sent: Vec::new(),
            timers: Vec::new(),
            cancelled: Vec::new(),
            notes: Vec::new(),
            rng: 0,
        }
    }
}

impl Env for Recording {
    fn now(&self) -> SimTime {
        self.now
    }
    fn skew_micros(&self) -> i64 {
        0
    }
    fn next_u64(&mut self) -> u64 {
        // SplitMix64.
        self.rng = self.rng.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.rng;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn fill_bytes(&mut self, dst: &mut [u8]) {
        for chunk in dst.chunks_mut(8) {
            let v = self.next_u64().to_le_bytes();
            chunk.copy_from_slice(&v[..chunk.len()]);
        }
    }
    fn send(&mut self, to: Route, mut msg: Message) {
        msg.settle(&self.handled);
        self.sent.push((to, msg));
    }
    fn caller(&self) -> Route {
        self.caller
    }
    fn issued_label(&self, token: &str) -> Option<String> {
        self.handled.issued_label(token)
    }
    fn label(&self) -> Label {
        Label::of(&self.handled)
    }
    fn timer(&mut self, delay: SimDuration, msg: Message) -> TimerId {
        let n = self.timers.len() as u64;
        self.timers.push((delay, msg));
        TimerId::new(n as u32, n)
    }
    fn cancel(&mut self, id: TimerId) -> bool {
        let pending = (id.seq() as usize) < self.timers.len() && !self.cancelled.contains(&id);
        if pending {
            self.cancelled.push(id);
        }
        pending
    }
    fn note(&mut self, msg: Message) {
        self.notes.push(msg);
    }
}

impl Recording {
    /// The timers set and not cancelled, in order: what would fire.
    pub fn live_timers(&self) -> impl Iterator<Item = &(SimDuration, Message)> {
        self.timers
            .iter()
            .enumerate()
            .filter(|(i, _)| !self.cancelled.iter().any(|c| c.seq() as usize == *i))
            .map(|(_, t)| t)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flows::Stage;
    use crate::{Method, Url};

    #[test]
    fn answer_goes_back_over_the_callers_route_and_answer_to_over_a_saved_one() {
        let (a, b) = (Route::to_actor(ActorId(3)), Route::to_actor(ActorId(7)));
        let mut env = Recording::new(a);
        let req = Message::request(Method::GET, Url::https("x.test", "/"), 1, "r");
        env.answer(Message::response(&req, 200, "ok"));
        env.answer_to(b, Message::response(&req, 204, "later"));
        let to: Vec<_> = env
            .sent
            .iter()
            .map(|(r, m)| (*r, m.status_number()))
            .collect();
        assert_eq!(to, vec![(a, 200), (b, 204)]);
    }

    #[test]
    fn a_same_stage_reply_takes_the_handled_messages_stage_and_others_keep_theirs() {
        let mut env = Recording::new(Route::to_actor(ActorId(1)));
        env.handled.stage = Some(Stage::EntraSignIn);
        let req = Message::request(Method::GET, Url::https("x.test", "/"), 1, "r");
        env.answer(Message::response(&req, 401, "same").same_stage());
        env.answer(Message::response(&req, 200, "own").at(Stage::TokensIssued));
        env.answer(Message::response(&req, 200, "none"));
        let stages: Vec<_> = env
            .sent
            .iter()
            .map(|(_, m)| (m.meta.stage, m.meta.same_stage))
            .collect();
        assert_eq!(
            stages,
            vec![
                (Some(Stage::EntraSignIn), false),
                (Some(Stage::TokensIssued), false),
                (None, false)
            ]
        );
    }

    #[test]
    fn a_recorded_timer_is_cancelled_once_and_an_unknown_handle_cancels_nothing() {
        let mut env = Recording::new(Route::to_actor(ActorId(0)));
        let a = env.timer(SimDuration::from_secs(1), Message::timer("a"));
        let b = env.timer(SimDuration::from_secs(2), Message::timer("b"));
        assert_ne!(a, b);
        assert!(env.cancel(a));
        assert!(!env.cancel(a), "only once");
        assert!(!env.cancel(TimerId::new(9, 9)), "never set");
        let live: Vec<_> = env.live_timers().map(|(d, _)| d.as_secs()).collect();
        assert_eq!(live, vec![2]);
    }

    #[test]
    fn the_recording_stream_is_seeded_and_fills_bytes_from_it() {
        let mut one = Recording::new(Route::to_actor(ActorId(0)));
        let mut two = one.clone();
        let mut bytes = [0u8; 12];
        one.fill_bytes(&mut bytes);
        let (x, y) = (two.next_u64(), two.next_u64());
        assert_eq!(bytes[..8], x.to_le_bytes());
        assert_eq!(bytes[8..], y.to_le_bytes()[..4]);
        assert_ne!(x, y);
    }
}
