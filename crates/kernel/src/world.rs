//! Actors, their context, observers and the world that runs them.

use crate::net::Network;
use crate::queue::{EventKind, EventQueue};
use crate::rng::{self, ActorRng};
use crate::{SimDuration, SimTime};

/// The address of an actor in a [`World`]: its index, in the order actors were added.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ActorId(pub u32);

/// A synchronous state machine driven by the world.
///
/// `handle` must not block, sleep or read any clock: the only time is [`Ctx::now`], the only
/// randomness [`Ctx::rng`].
pub trait Actor<M> {
    /// Handles one message (or timer) from `from`. Timers arrive with `from == ctx.me()`.
    fn handle(&mut self, msg: M, from: ActorId, ctx: &mut Ctx<'_, M>);
}

/// What an actor may do while handling an event.
pub struct Ctx<'a, M> {
    now: SimTime,
    me: ActorId,
    queue: &'a mut EventQueue<M>,
    net: &'a mut Network,
    rng: &'a mut ActorRng,
    notes: &'a mut Vec<M>,
}

impl<M> Ctx<'_, M> {
    /// The current simulated time.
    pub fn now(&self) -> SimTime {
        self.now
    }
    /// The id of the actor being run.
    pub fn me(&self) -> ActorId {
        self.me
    }
    /// Sends `msg` to `to` over the network: it arrives after the link's latency and jitter.
    pub fn send(&mut self, to: ActorId, msg: M) {
        let at = self.net.arrival(self.now, self.me, to);
        self.queue.push(at, self.me, to, EventKind::Message, msg);
    }
    /// Sends `msg` to `to` after `delay` of local processing, then the link's latency.
    pub fn send_after(&mut self, delay: SimDuration, to: ActorId, msg: M) {
        let at = self.net.arrival(self.now + delay, self.me, to);
        self.queue.push(at, self.me, to, EventKind::Message, msg);
    }
    /// Delivers `msg` back to this actor at `now + delay`.
    pub fn timer(&mut self, delay: SimDuration, msg: M) {
        self.queue
            .push(self.now + delay, self.me, self.me, EventKind::Timer, msg);
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
    /// A message was lost: its receiver was down.
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
    /// Messages lost because their receiver was down.
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
    queue: EventQueue<M>,
    net: Network,
    notes: Vec<M>,
    processed: u64,
}

/// Stream number of the network's jitter RNG (actors use their index).
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
            queue: EventQueue::default(),
            net: Network::new(rng::stream(seed, NET_STREAM)),
            notes: Vec::new(),
            processed: 0,
        }
    }

    /// Adds an actor; its id is its index.
    pub fn add(&mut self, actor: A) -> ActorId {
        let id = ActorId(self.actors.len() as u32);
        self.rngs.push(rng::stream(self.seed, id.0 as u64));
        self.actors.push(actor);
        self.down.push(false);
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

    /// Schedules `msg` from `from` to `to` at instant `at` (an input from outside the world,
    /// such as a user action). It is delivered as a message, without network latency.
    pub fn schedule(&mut self, at: SimTime, from: ActorId, to: ActorId, msg: M) {
        self.queue.push(at, from, to, EventKind::Message, msg);
    }

    /// Schedules a timer for actor `to` at instant `at`.
    pub fn schedule_timer(&mut self, at: SimTime, to: ActorId, msg: M) {
        self.queue.push(at, to, to, EventKind::Timer, msg);
    }
}

impl<A: Actor<M>, M> World<A, M> {
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
            if self.step(obs) {
                stats.delivered += 1;
            } else {
                stats.dropped += 1;
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
        let Some(e) = self.queue.pop() else {
            return false;
        };
        self.now = e.time;
        self.processed += 1;
        let to = e.to.0 as usize;
        let ev = Delivery {
            time: e.time,
            from: e.from,
            to: e.to,
            kind: e.kind,
            msg: &e.msg,
        };
        if self.down[to] && e.kind == EventKind::Message {
            obs.dropped(&ev);
            return false;
        }
        obs.delivered(&ev);
        let mut ctx = Ctx {
            now: e.time,
            me: e.to,
            queue: &mut self.queue,
            net: &mut self.net,
            rng: &mut self.rngs[to],
            notes: &mut self.notes,
        };
        self.actors[to].handle(e.msg, e.from, &mut ctx);
        if !self.notes.is_empty() {
            for note in self.notes.drain(..) {
                obs.noted(&Delivery {
                    time: e.time,
                    from: e.to,
                    to: e.to,
                    kind: EventKind::Note,
                    msg: &note,
                });
            }
        }
        true
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
}
