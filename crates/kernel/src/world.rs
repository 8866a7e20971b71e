//! Actors, their context, observers and the world that runs them.

use crate::net::Network;
use crate::queue::{EventKind, EventQueue};
use crate::rng::{self, ActorRng};
use crate::{ActorId, SimDuration, SimTime, TimerId};

/// A synchronous state machine driven by the world.
///
/// `handle` must not block, sleep or read any clock: the only time is [`Ctx::now`], the only
/// randomness [`Ctx::rng`].
pub trait Actor<M> {
    /// Handles one message (or timer) from `from`. Timers arrive with `from == ctx.me()`.
    fn handle(&mut self, msg: M, from: ActorId, ctx: &mut Ctx<'_, M>);

    /// Called when the actor comes back after [`World::crash`]: it must forget its volatile
    /// state (requests in flight, in-memory sessions). Timers it set before the crash never
    /// fire; it may set new ones here. The default keeps everything (a stateless actor).
    fn restart(&mut self, ctx: &mut Ctx<'_, M>) {
        let _ = ctx;
    }
}

/// What an actor may do while handling an event.
pub struct Ctx<'a, M> {
    now: SimTime,
    me: ActorId,
    queue: &'a mut EventQueue<M>,
    net: &'a mut Network,
    rng: &'a mut ActorRng,
    notes: &'a mut Vec<M>,
    /// This actor's clock offset, microseconds.
    skew: i64,
    /// This actor's incarnation, stamped on its timers.
    epoch: u32,
    /// How a duplicated message is copied.
    dup: fn(&M) -> M,
}

impl<M> Ctx<'_, M> {
    /// The current simulated time.
    pub fn now(&self) -> SimTime {
        self.now
    }
    /// This actor's clock offset from simulated time, in microseconds (positive: its clock
    /// is ahead). Zero unless the world set one with [`World::set_skew`].
    pub fn skew_micros(&self) -> i64 {
        self.skew
    }
    /// The time on this actor's own clock: [`Self::now`] plus its skew, saturating at zero.
    /// What a party writes into, or checks against, a timestamp (`iat`, `nbf`, `exp`).
    pub fn local_now(&self) -> SimTime {
        SimTime::from_micros(self.now.as_micros().saturating_add_signed(self.skew))
    }
    /// The id of the actor being run.
    pub fn me(&self) -> ActorId {
        self.me
    }
    /// Sends `msg` to `to` over the network: it arrives after the link's latency and jitter.
    #[inline]
    pub fn send(&mut self, to: ActorId, msg: M) {
        self.send_at(self.now, to, msg);
    }
    /// Sends `msg` to `to` after `delay` of local processing, then the link's latency.
    pub fn send_after(&mut self, delay: SimDuration, to: ActorId, msg: M) {
        self.send_at(self.now + delay, to, msg);
    }
    #[inline]
    fn send_at(&mut self, t: SimTime, to: ActorId, msg: M) {
        let r = self.net.route(t, self.me, to);
        if let Some(at) = r.dup {
            let copy = (self.dup)(&msg);
            self.queue
                .push_with(r.at, self.me, to, EventKind::Message, msg, r.lost, 0);
            self.queue
                .push_with(at, self.me, to, EventKind::Message, copy, false, 0);
        } else {
            self.queue
                .push_with(r.at, self.me, to, EventKind::Message, msg, r.lost, 0);
        }
    }
    /// Delivers `msg` back to this actor at `now + delay` (unless it crashes before, or
    /// the timer is cancelled with [`Self::cancel`]); returns the timer's handle.
    pub fn timer(&mut self, delay: SimDuration, msg: M) -> TimerId {
        self.queue.push_with(
            self.now + delay,
            self.me,
            self.me,
            EventKind::Timer,
            msg,
            false,
            self.epoch,
        )
    }
    /// Cancels a pending timer this actor set: it never fires (it is discarded silently
    /// when due, as a crashed actor's timers are, and not counted). Returns `false` when
    /// the timer is no longer pending (it fired, or was cancelled). O(1).
    pub fn cancel(&mut self, id: TimerId) -> bool {
        self.queue.cancel(id)
    }
    /// Writes `msg` into the trace as a note from this actor, without delivering it.
    pub fn note(&mut self, msg: M) {
        self.notes.push(msg);
    }
    /// This actor's own seeded random stream.
    pub fn rng(&mut self) -> &mut ActorRng {
        self.rng
    }
}

/// One event as an [`Observer`] sees it.
#[derive(Debug)]
pub struct Delivery<'a, M> {
    /// When it happened.
    pub time: SimTime,
    /// Sender (the actor itself for timers and notes).
    pub from: ActorId,
    /// Receiver.
    pub to: ActorId,
    /// Message, timer or note.
    pub kind: EventKind,
    /// The payload.
    pub msg: &'a M,
}

/// Sees every event of a run, in order. Traces and outcome monitors are observers.
pub trait Observer<M> {
    /// A message or timer is about to be handled by its receiver.
    fn delivered(&mut self, ev: &Delivery<'_, M>);
    /// A message was lost: its receiver was down or crashed, the network lost it, or its
    /// link was cut by a partition. Reported at the instant it would have arrived.
    fn dropped(&mut self, ev: &Delivery<'_, M>) {
        let _ = ev;
    }
    /// An actor wrote a note while handling the last delivered event.
    fn noted(&mut self, ev: &Delivery<'_, M>) {
        let _ = ev;
    }
    /// Checked after every event: `true` ends the run with [`StopReason::Observer`].
    fn should_stop(&self) -> bool {
        false
    }
}

/// An observer that records nothing.
#[derive(Clone, Copy, Debug, Default)]
pub struct NullObserver;

impl<M> Observer<M> for NullObserver {
    fn delivered(&mut self, _: &Delivery<'_, M>) {}
}

/// Guards on a run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Stop after this many events (deliveries and drops).
    pub max_events: u64,
    /// Do not deliver events scheduled after this instant.
    pub until: SimTime,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_events: u64::MAX,
            until: SimTime::MAX,
        }
    }
}

/// Why a run stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StopReason {
    /// Nothing left to deliver.
    Quiescent,
    /// The next event lies after [`Limits::until`].
    Deadline,
    /// [`Limits::max_events`] events were processed.
    EventLimit,
    /// The observer asked to stop.
    Observer,
}

/// What a run did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RunStats {
    /// Events delivered to their receiver.
    pub delivered: u64,
    /// Messages lost (receiver down or crashed, loss, partition).
    pub dropped: u64,
    /// Why the run stopped.
    pub stop: StopReason,
}

/// A set of actors, their pending events and the network between them.
#[derive(Clone, Debug)]
pub struct World<A, M> {
    seed: u64,
    now: SimTime,
    actors: Vec<A>,
    rngs: Vec<ActorRng>,
    down: Vec<bool>,
    crashed: Vec<bool>,
    epochs: Vec<u32>,
    skews: Vec<i64>,
    queue: EventQueue<M>,
    net: Network,
    notes: Vec<M>,
    processed: u64,
}

/// Stream number of the network's jitter RNG (actors use their index or their key's
/// [`rng::key_stream`]).
const NET_STREAM: u64 = u64::MAX;

impl<A, M> World<A, M> {
    /// An empty world whose every random stream derives from `seed`.
    pub fn new(seed: u64) -> Self {
        World {
            seed,
            now: SimTime::ZERO,
            actors: Vec::new(),
            rngs: Vec::new(),
            down: Vec::new(),
            crashed: Vec::new(),
            epochs: Vec::new(),
            skews: Vec::new(),
            queue: EventQueue::default(),
            net: Network::new(rng::stream(seed, NET_STREAM)),
            notes: Vec::new(),
            processed: 0,
        }
    }

    /// Adds an actor; its id is its index, and its random stream is keyed by that index
    /// (see [`World::add_keyed`] for a stream that does not depend on the position).
    pub fn add(&mut self, actor: A) -> ActorId {
        let stream = self.actors.len() as u64;
        self.push(actor, stream)
    }

    /// Adds an actor whose random stream is keyed by `key`, a stable name of the party (its
    /// kind and the scenario's name for it), not by its index: the actor draws the same
    /// numbers whatever was added before it, so a party's run does not change when
    /// unrelated actors join the world. Its id is still its index. Two actors given the
    /// same key draw the same numbers: give each its own.
    pub fn add_keyed(&mut self, key: &str, actor: A) -> ActorId {
        self.push(actor, rng::key_stream(key))
    }

    fn push(&mut self, actor: A, stream: u64) -> ActorId {
        let id = ActorId(self.actors.len() as u32);
        self.rngs.push(rng::stream(self.seed, stream));
        self.actors.push(actor);
        self.down.push(false);
        self.crashed.push(false);
        self.epochs.push(0);
        self.skews.push(0);
        self.net.grow(self.actors.len());
        id
    }

    /// The seed the world was made with.
    pub fn seed(&self) -> u64 {
        self.seed
    }
    /// The current simulated time (the time of the last delivered event).
    pub fn now(&self) -> SimTime {
        self.now
    }
    /// Events delivered or dropped so far.
    pub fn processed(&self) -> u64 {
        self.processed
    }
    /// Number of actors.
    pub fn len(&self) -> usize {
        self.actors.len()
    }
    /// True when the world has no actor.
    pub fn is_empty(&self) -> bool {
        self.actors.is_empty()
    }
    /// The actor with id `id`.
    ///
    /// # Panics
    /// When `id` was not returned by [`World::add`] on this world.
    pub fn actor(&self, id: ActorId) -> &A {
        &self.actors[id.0 as usize]
    }
    /// The actor with id `id`, mutably.
    ///
    /// # Panics
    /// When `id` was not returned by [`World::add`] on this world.
    pub fn actor_mut(&mut self, id: ActorId) -> &mut A {
        &mut self.actors[id.0 as usize]
    }
    /// Every actor, by id.
    pub fn actors(&self) -> impl Iterator<Item = (ActorId, &A)> {
        self.actors
            .iter()
            .enumerate()
            .map(|(i, a)| (ActorId(i as u32), a))
    }
    /// The network, to set latencies.
    pub fn network_mut(&mut self) -> &mut Network {
        &mut self.net
    }
    /// Pending events.
    pub fn queue(&self) -> &EventQueue<M> {
        &self.queue
    }
    /// Reserves room for `n` more pending events.
    pub fn reserve(&mut self, n: usize) {
        self.queue.reserve(n);
    }
    /// Marks an actor down (messages to it are dropped) or up again.
    pub fn set_down(&mut self, id: ActorId, down: bool) {
        self.down[id.0 as usize] = down;
    }
    /// Whether an actor is down.
    pub fn is_down(&self, id: ActorId) -> bool {
        self.down[id.0 as usize]
    }
    /// Crashes an actor: messages to it are dropped and the timers it set never fire, until
    /// [`World::restart`].
    pub fn crash(&mut self, id: ActorId) {
        let i = id.0 as usize;
        if !self.crashed[i] {
            self.crashed[i] = true;
            self.epochs[i] = self.epochs[i].wrapping_add(1);
        }
    }
    /// Whether an actor is crashed.
    pub fn is_crashed(&self, id: ActorId) -> bool {
        self.crashed[id.0 as usize]
    }
    /// Sets an actor's clock offset in microseconds (positive: its clock is ahead); see
    /// [`Ctx::local_now`].
    pub fn set_skew(&mut self, id: ActorId, micros: i64) {
        self.skews[id.0 as usize] = micros;
    }
    /// An actor's clock offset in microseconds.
    pub fn skew(&self, id: ActorId) -> i64 {
        self.skews[id.0 as usize]
    }

    /// Schedules `msg` from `from` to `to` at instant `at` (an input from outside the world,
    /// such as a user action). It is delivered as a message, without network latency.
    pub fn schedule(&mut self, at: SimTime, from: ActorId, to: ActorId, msg: M) {
        self.queue.push(at, from, to, EventKind::Message, msg);
    }

    /// Schedules a timer for actor `to` at instant `at`.
    pub fn schedule_timer(&mut self, at: SimTime, to: ActorId, msg: M) -> TimerId {
        let epoch = self.epochs[to.0 as usize];
        self.queue
            .push_with(at, to, to, EventKind::Timer, msg, false, epoch)
    }

    /// Cancels a pending timer (see [`Ctx::cancel`]). Returns `false` when it is no
    /// longer pending.
    pub fn cancel_timer(&mut self, id: TimerId) -> bool {
        self.queue.cancel(id)
    }
}

/// What [`World::step`] did with the event it took.
enum Stepped {
    Delivered,
    Dropped,
    /// A timer of an earlier incarnation of a crashed actor, or a cancelled one: gone
    /// without a trace.
    Discarded,
    Empty,
}

impl<A: Actor<M>, M: Clone> World<A, M> {
    /// Brings a crashed actor back at instant `at` (or now, if later): it is reachable again
    /// and its [`Actor::restart`] runs (its notes reach `obs`).
    pub fn restart(&mut self, id: ActorId, at: SimTime, obs: &mut impl Observer<M>) {
        let i = id.0 as usize;
        if !self.crashed[i] {
            return;
        }
        self.crashed[i] = false;
        self.now = self.now.max(at);
        let now = self.now;
        let mut ctx = Ctx {
            now,
            me: id,
            queue: &mut self.queue,
            net: &mut self.net,
            rng: &mut self.rngs[i],
            notes: &mut self.notes,
            skew: self.skews[i],
            epoch: self.epochs[i],
            dup: M::clone,
        };
        self.actors[i].restart(&mut ctx);
        self.flush_notes(now, id, obs);
    }

    fn flush_notes(&mut self, time: SimTime, id: ActorId, obs: &mut impl Observer<M>) {
        if !self.notes.is_empty() {
            for note in self.notes.drain(..) {
                obs.noted(&Delivery {
                    time,
                    from: id,
                    to: id,
                    kind: EventKind::Note,
                    msg: &note,
                });
            }
        }
    }

    /// Runs until nothing is pending or the observer stops it.
    pub fn run(&mut self, obs: &mut impl Observer<M>) -> RunStats {
        self.run_with(Limits::default(), obs)
    }

    /// Runs until nothing is pending, a limit is reached or the observer stops it.
    pub fn run_with(&mut self, limits: Limits, obs: &mut impl Observer<M>) -> RunStats {
        let mut stats = RunStats {
            delivered: 0,
            dropped: 0,
            stop: StopReason::Quiescent,
        };
        loop {
            if stats.delivered + stats.dropped >= limits.max_events {
                stats.stop = StopReason::EventLimit;
                break;
            }
            match self.queue.peek_time() {
                None => {
                    stats.stop = StopReason::Quiescent;
                    break;
                }
                Some(t) if t > limits.until => {
                    stats.stop = StopReason::Deadline;
                    break;
                }
                Some(_) => {}
            }
            match self.step_inner(obs) {
                Stepped::Delivered => stats.delivered += 1,
                Stepped::Dropped => stats.dropped += 1,
                Stepped::Discarded | Stepped::Empty => {}
            }
            if obs.should_stop() {
                stats.stop = StopReason::Observer;
                break;
            }
        }
        stats
    }

    /// Delivers the earliest pending event. Returns `false` when it was dropped (receiver
    /// down) or when nothing was pending.
    pub fn step(&mut self, obs: &mut impl Observer<M>) -> bool {
        matches!(self.step_inner(obs), Stepped::Delivered)
    }

    fn step_inner(&mut self, obs: &mut impl Observer<M>) -> Stepped {
        let Some(e) = self.queue.pop() else {
            return Stepped::Empty;
        };
        self.now = e.time;
        let to = e.to.0 as usize;
        if e.kind == EventKind::Timer && (e.cancelled || e.epoch != self.epochs[to]) {
            return Stepped::Discarded;
        }
        self.processed += 1;
        let ev = Delivery {
            time: e.time,
            from: e.from,
            to: e.to,
            kind: e.kind,
            msg: &e.msg,
        };
        if e.kind == EventKind::Message && (e.lost || self.down[to] || self.crashed[to]) {
            obs.dropped(&ev);
            return Stepped::Dropped;
        }
        obs.delivered(&ev);
        let mut ctx = Ctx {
            now: e.time,
            me: e.to,
            queue: &mut self.queue,
            net: &mut self.net,
            rng: &mut self.rngs[to],
            notes: &mut self.notes,
            skew: self.skews[to],
            epoch: self.epochs[to],
            dup: M::clone,
        };
        self.actors[to].handle(e.msg, e.from, &mut ctx);
        self.flush_notes(e.time, e.to, obs);
        Stepped::Delivered
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Clone)]
    struct Pinger {
        peer: Option<ActorId>,
        log: Vec<(u64, u32)>,
    }
    impl Actor<u32> for Pinger {
        fn handle(&mut self, msg: u32, _from: ActorId, ctx: &mut Ctx<'_, u32>) {
            self.log.push((ctx.now().as_micros(), msg));
            if let Some(p) = self.peer {
                if msg < 20 {
                    ctx.send(p, msg + 1);
                }
            }
        }
    }

    struct Recorder(Vec<(u64, u32, u32, u32)>);
    impl Observer<u32> for Recorder {
        fn delivered(&mut self, ev: &Delivery<'_, u32>) {
            self.0
                .push((ev.time.as_micros(), ev.from.0, ev.to.0, *ev.msg));
        }
    }

    fn world(seed: u64) -> World<Pinger, u32> {
        let mut w = World::new(seed);
        let a = w.add(Pinger {
            peer: Some(ActorId(1)),
            log: vec![],
        });
        let b = w.add(Pinger {
            peer: Some(ActorId(0)),
            log: vec![],
        });
        w.network_mut()
            .set_default_latency(SimDuration::from_millis(3));
        w.network_mut()
            .set_default_jitter(SimDuration::from_millis(2));
        w.schedule(SimTime::ZERO, b, a, 0);
        w
    }

    #[test]
    fn same_seed_same_run() {
        let (mut r1, mut r2) = (Recorder(vec![]), Recorder(vec![]));
        world(9).run(&mut r1);
        world(9).run(&mut r2);
        assert_eq!(r1.0, r2.0);
        assert_eq!(r1.0.len(), 21);
        let mut r3 = Recorder(vec![]);
        world(10).run(&mut r3);
        assert_ne!(r1.0, r3.0, "jitter must depend on the seed");
    }

    #[test]
    fn clone_branches_identically() {
        let mut w = world(3);
        let mut obs = NullObserver;
        for _ in 0..5 {
            w.step(&mut obs);
        }
        let mut fork = w.clone();
        let (mut r1, mut r2) = (Recorder(vec![]), Recorder(vec![]));
        w.run(&mut r1);
        fork.run(&mut r2);
        assert_eq!(r1.0, r2.0);
    }

    #[test]
    fn limits_stop_the_run() {
        let mut w = world(1);
        let s = w.run_with(
            Limits {
                max_events: 4,
                until: SimTime::MAX,
            },
            &mut NullObserver,
        );
        assert_eq!((s.delivered, s.stop), (4, StopReason::EventLimit));
        let s = w.run_with(
            Limits {
                max_events: u64::MAX,
                until: w.now(),
            },
            &mut NullObserver,
        );
        assert_eq!(s.stop, StopReason::Deadline);
    }

    #[test]
    fn messages_to_a_down_actor_are_dropped() {
        let mut w = world(1);
        w.set_down(ActorId(0), true);
        let s = w.run(&mut NullObserver);
        assert_eq!((s.delivered, s.dropped), (0, 1));
    }

    #[test]
    fn links_are_fifo_despite_jitter() {
        #[derive(Clone)]
        struct Burst;
        impl Actor<u32> for Burst {
            fn handle(&mut self, msg: u32, _f: ActorId, ctx: &mut Ctx<'_, u32>) {
                if msg == 0 {
                    for i in 1..50 {
                        ctx.send(ActorId(1), i);
                    }
                }
            }
        }
        let mut w = World::new(5);
        let a = w.add(Burst);
        let b = w.add(Burst);
        w.network_mut().set_link(
            a,
            b,
            SimDuration::from_millis(1),
            SimDuration::from_millis(50),
        );
        w.schedule(SimTime::ZERO, a, a, 0);
        let mut r = Recorder(vec![]);
        w.run(&mut r);
        let order: Vec<u32> = r.0.iter().skip(1).map(|e| e.3).collect();
        assert_eq!(order, (1..50).collect::<Vec<_>>());
    }
    /// Sends 200 numbered messages from actor 0 to actor 1 when kicked.
    #[derive(Clone, Default)]
    struct Sink {
        got: Vec<u32>,
        restarts: u32,
    }
    impl Actor<u32> for Sink {
        fn handle(&mut self, msg: u32, from: ActorId, ctx: &mut Ctx<'_, u32>) {
            if from == ctx.me() && msg == 0 {
                for i in 1..=200 {
                    ctx.send(ActorId(1), i);
                }
            } else if from == ctx.me() {
                self.got.push(1000 + msg);
            } else {
                self.got.push(msg);
            }
        }
        fn restart(&mut self, _ctx: &mut Ctx<'_, u32>) {
            self.restarts += 1;
            self.got.clear();
        }
    }

    #[derive(Default)]
    struct Counter {
        delivered: u32,
        dropped: Vec<u32>,
    }
    impl Observer<u32> for Counter {
        fn delivered(&mut self, _: &Delivery<'_, u32>) {
            self.delivered += 1;
        }
        fn dropped(&mut self, ev: &Delivery<'_, u32>) {
            self.dropped.push(*ev.msg);
        }
    }

    fn burst(seed: u64, faults: Option<crate::LinkFaults>) -> (World<Sink, u32>, Counter) {
        let mut w = World::new(seed);
        let a = w.add(Sink::default());
        let b = w.add(Sink::default());
        w.network_mut().set_link(
            a,
            b,
            SimDuration::from_millis(5),
            SimDuration::from_millis(3),
        );
        if let Some(f) = faults {
            w.network_mut().set_link_faults(a, b, f);
        }
        w.schedule(SimTime::ZERO, a, a, 0);
        let mut c = Counter::default();
        w.run(&mut c);
        (w, c)
    }

    #[test]
    fn faults_that_change_nothing_leave_the_run_unchanged() {
        let (w1, _) = burst(4, None);
        let (w2, _) = burst(4, Some(crate::LinkFaults::default()));
        assert_eq!(w1.actor(ActorId(1)).got, w2.actor(ActorId(1)).got);
        assert_eq!(w1.now(), w2.now());
    }

    #[test]
    fn loss_drops_messages_and_reports_them() {
        let f = crate::LinkFaults {
            loss: 0.3,
            ..Default::default()
        };
        let (w, c) = burst(4, Some(f));
        let got = &w.actor(ActorId(1)).got;
        assert!(!c.dropped.is_empty() && got.len() + c.dropped.len() == 200);
        assert!(
            c.dropped.len() > 30 && c.dropped.len() < 90,
            "{}",
            c.dropped.len()
        );
        // Survivors still arrive in order.
        assert!(got.windows(2).all(|p| p[0] < p[1]));
        let (w2, c2) = burst(4, Some(f));
        assert_eq!((got, &c.dropped), (&w2.actor(ActorId(1)).got, &c2.dropped));
    }

    #[test]
    fn duplication_delivers_a_clone() {
        let f = crate::LinkFaults {
            duplicate: 0.5,
            ..Default::default()
        };
        let (w, _) = burst(4, Some(f));
        let got = &w.actor(ActorId(1)).got;
        assert!(got.len() > 250 && got.len() < 350, "{}", got.len());
        assert!(
            got.windows(2).all(|p| p[0] <= p[1]),
            "FIFO holds for copies"
        );
    }

    #[test]
    fn reordering_lifts_fifo_and_distributions_apply() {
        for latency in [
            crate::Latency::Uniform {
                min: SimDuration::from_millis(1),
                max: SimDuration::from_millis(40),
            },
            crate::Latency::Normal {
                mean: SimDuration::from_millis(20),
                sd: SimDuration::from_millis(10),
            },
            crate::Latency::LogNormal {
                median: SimDuration::from_millis(20),
                sigma: 0.8,
            },
        ] {
            let f = crate::LinkFaults {
                latency: Some(latency),
                reorder: true,
                ..Default::default()
            };
            let (w, _) = burst(4, Some(f));
            let got = &w.actor(ActorId(1)).got;
            assert_eq!(got.len(), 200);
            assert!(
                got.windows(2).any(|p| p[0] > p[1]),
                "{latency:?}: some overtaking"
            );
            let f = crate::LinkFaults {
                latency: Some(latency),
                ..Default::default()
            };
            let (w, _) = burst(4, Some(f));
            let got = &w.actor(ActorId(1)).got;
            assert!(got.windows(2).all(|p| p[0] < p[1]), "{latency:?}: FIFO");
        }
        let f = crate::LinkFaults {
            latency: Some(crate::Latency::Fixed(SimDuration::from_millis(70))),
            ..Default::default()
        };
        let (w, _) = burst(4, Some(f));
        assert_eq!(w.now(), SimTime::from_millis(70));
    }

    #[test]
    fn a_cut_link_drops_until_restored() {
        let mut w: World<Sink, u32> = World::new(1);
        let a = w.add(Sink::default());
        let b = w.add(Sink::default());
        w.network_mut().set_cut(a, b, true);
        w.schedule(SimTime::ZERO, a, a, 0);
        let mut c = Counter::default();
        w.run(&mut c);
        assert_eq!(c.dropped.len(), 200);
        assert!(w.actor(b).got.is_empty());
        assert!(!w.network_mut().is_cut(b, a), "one-way");
        w.network_mut().set_cut(a, b, false);
        w.schedule(w.now(), a, a, 0);
        w.run(&mut c);
        assert_eq!(w.actor(b).got.len(), 200);
    }

    #[test]
    fn a_crashed_actor_loses_messages_and_timers_then_restarts() {
        let mut w: World<Sink, u32> = World::new(1);
        let a = w.add(Sink::default());
        let b = w.add(Sink::default());
        w.schedule_timer(SimTime::from_millis(50), b, 7);
        w.schedule(SimTime::ZERO, a, a, 0);
        w.crash(b);
        let mut c = Counter::default();
        w.run_with(
            Limits {
                max_events: u64::MAX,
                until: SimTime::from_millis(100),
            },
            &mut c,
        );
        assert_eq!(c.dropped.len(), 200);
        w.restart(b, SimTime::from_millis(100), &mut c);
        assert_eq!(w.actor(b).restarts, 1);
        w.schedule_timer(SimTime::from_millis(150), b, 8);
        w.run(&mut c);
        assert_eq!(w.actor(b).got, vec![1008], "the old timer never fires");
    }

    /// Guarantee 13: a cancelled timer never fires and is not counted; a handle whose timer
    /// already fired cancels nothing, not even the timer that reuses its queue slot.
    #[test]
    fn a_cancelled_timer_never_fires_and_a_stale_handle_cancels_nothing() {
        #[derive(Clone, Default)]
        struct Timers {
            got: Vec<(u64, u32)>,
            ids: Vec<TimerId>,
            stale: Option<bool>,
        }
        impl Actor<u32> for Timers {
            fn handle(&mut self, msg: u32, _f: ActorId, ctx: &mut Ctx<'_, u32>) {
                self.got.push((ctx.now().as_micros(), msg));
                match msg {
                    // Three timers; the second is cancelled at once.
                    0 => {
                        for (ms, tag) in [(10, 1), (20, 2), (30, 3)] {
                            let id = ctx.timer(SimDuration::from_millis(ms), tag);
                            self.ids.push(id);
                        }
                        assert!(ctx.cancel(self.ids[1]), "a pending timer is cancelled");
                        assert!(!ctx.cancel(self.ids[1]), "only once");
                    }
                    // The first fired; its slot is free and reused by the next timer, which
                    // the first's handle must not cancel.
                    1 => {
                        let id = ctx.timer(SimDuration::from_millis(5), 4);
                        self.stale = Some(ctx.cancel(self.ids[0]));
                        self.ids.push(id);
                    }
                    _ => {}
                }
            }
        }
        let mut w: World<Timers, u32> = World::new(1);
        let a = w.add(Timers::default());
        w.schedule(SimTime::ZERO, a, a, 0);
        let st = w.run(&mut NullObserver);
        let got = &w.actor(a).got;
        assert_eq!(
            got,
            &vec![(0, 0), (10_000, 1), (15_000, 4), (30_000, 3)],
            "timer 2 never fires"
        );
        assert_eq!(
            w.actor(a).stale,
            Some(false),
            "a fired timer's handle cancels nothing"
        );
        assert_eq!(st.delivered, 4, "the cancelled timer is not counted");
        // From outside the world too.
        let id = w.schedule_timer(SimTime::from_millis(50), a, 9);
        assert!(w.cancel_timer(id));
        w.run(&mut NullObserver);
        assert_eq!(w.actor(a).got.len(), 4);
        assert!(!w.cancel_timer(id));
    }

    #[test]
    fn a_keyed_stream_does_not_depend_on_what_was_added_before() {
        #[derive(Clone)]
        struct Draw;
        impl Actor<u32> for Draw {
            fn handle(&mut self, _m: u32, _f: ActorId, _c: &mut Ctx<'_, u32>) {}
        }
        use rand::RngCore;
        let first = |before: usize, keyed: bool| {
            let mut w: World<Draw, u32> = World::new(5);
            for i in 0..before {
                w.add_keyed(&format!("other-{i}"), Draw);
            }
            let id = if keyed {
                w.add_keyed("entra-id", Draw)
            } else {
                w.add(Draw)
            };
            w.rngs[id.0 as usize].next_u64()
        };
        assert_eq!(first(0, true), first(3, true));
        assert_ne!(
            first(0, false),
            first(3, false),
            "an index-keyed stream moves"
        );
        assert_ne!(first(0, true), first(0, false));
    }

    #[test]
    fn skew_shifts_the_local_clock_only() {
        #[derive(Clone)]
        struct Clock(Vec<(u64, u64)>);
        impl Actor<u32> for Clock {
            fn handle(&mut self, _m: u32, _f: ActorId, ctx: &mut Ctx<'_, u32>) {
                self.0
                    .push((ctx.now().as_micros(), ctx.local_now().as_micros()));
            }
        }
        let mut w = World::new(1);
        let a = w.add(Clock(vec![]));
        w.set_skew(a, -5_000_000);
        w.schedule(SimTime::from_millis(2000), a, a, 0);
        w.schedule(SimTime::from_millis(10000), a, a, 0);
        w.run(&mut NullObserver);
        assert_eq!(w.actor(a).0, vec![(2_000_000, 0), (10_000_000, 5_000_000)]);
        assert_eq!(w.skew(a), -5_000_000);
    }
}
