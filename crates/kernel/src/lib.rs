//! The deterministic discrete-event kernel of hmasim.
//!
//! The kernel knows nothing about HTTP, tokens or Exchange: it moves opaque messages `M`
//! between actors on a simulated clock. Everything a run does is a function of the actors'
//! initial state, the scheduled inputs and one `u64` seed.
//!
//! # Model
//! - [`SimTime`] is an instant in integer microseconds since the start of the run;
//!   [`SimDuration`] a span. There is no wall clock anywhere in the kernel.
//! - Actors are synchronous state machines implementing [`Actor`]. The world calls
//!   [`Actor::handle`] with the message, the sender and a [`Ctx`] that gives the current time,
//!   `send`, timers, notes and the actor's own seeded RNG stream.
//! - The [`World`] is plain data (`Clone` when its actors and messages are), so an explorer
//!   can snapshot it and branch.
//! - A [`Network`] gives each directed link a latency and a seeded jitter.
//! - An [`Observer`] sees every delivery, drop and note, in order: traces and outcome
//!   monitors are observers, and recording nothing costs nothing.
//!
//! # Ordering guarantees
//! 1. Events are delivered in ascending `(time, seq)` order, where `seq` is a global counter
//!    incremented each time an event is scheduled. Two events for the same instant are
//!    therefore delivered in the order they were scheduled.
//! 2. Messages on one directed link `(from, to)` are delivered in the order they were sent
//!    (FIFO), whatever the jitter: a later message is never delivered before an earlier one.
//! 3. A timer set for `now + d` fires at exactly `now + d`, after every event already
//!    scheduled for that instant.
//! 4. Notes emitted while an actor handles an event reach the observer right after that
//!    event's delivery and before any later delivery.
//! 5. Each actor's RNG stream depends only on the world seed and the actor's key: the
//!    stable name given to [`World::add_keyed`], or its id for [`World::add`]; the network
//!    jitter stream only on the seed. Adding an actor does not perturb the other streams,
//!    and a keyed actor draws the same numbers wherever it sits in the world.
//!
//! # Injected faults
//! The [`Network`] can inject faults ([`LinkFaults`] per link or as the default, cuts for
//! partitions) and the [`World`] can crash and restart actors and skew their clocks. Without
//! any of them configured, nothing above changes and no extra random number is drawn: a run
//! is byte-for-byte the run it was before faults existed. With them:
//!
//! 6. **Latency distributions** ([`Latency`]: fixed, uniform, normal, log-normal) replace a
//!    link's latency and jitter; samples come from the network's own stream (no new
//!    stream), clamped to `[0, 1 day]`.
//! 7. **FIFO** (guarantee 2) still holds on a link with a distribution, unless the link has
//!    `reorder`: then each message arrives after its own sample, and a later message may
//!    overtake an earlier one. Events at the same instant still follow guarantee 1.
//! 8. **Loss** and **partitions**: a lost message (drawn with the link's `loss`
//!    probability, or sent on a cut link, see [`Network::set_cut`]) stays in the queue and
//!    is reported to [`Observer::dropped`] at the instant it would have arrived; it is never
//!    handled. A partition is judged when the message is sent: one already on the wire when
//!    the link is cut still arrives. A two-way partition is two cuts.
//! 9. **Duplication**: with the link's `duplicate` probability, the receiver gets a clone of
//!    the message a second time, after its own latency sample (FIFO applies to both copies
//!    unless `reorder`). Receivers must be idempotent; both copies are ordinary deliveries.
//! 10. **Crash and restart**: while crashed ([`World::crash`]), messages to the actor are
//!     dropped (reported as drops) and the timers it set before the crash never fire (they
//!     are discarded silently and not counted). [`World::restart`] makes it reachable again
//!     and calls [`Actor::restart`], where it forgets its volatile state.
//! 11. **Clock skew**: [`World::set_skew`] gives an actor a clock offset; [`Ctx::local_now`]
//!     is its view of the time. Scheduling always uses the true [`Ctx::now`]: skew changes
//!     what a party writes into or checks against a timestamp, never when events happen.
//! 12. Draws for faults happen in a fixed order per send (latency sample, loss, duplicate,
//!     duplicate's latency), only for the faults that are on: the same seed and the same
//!     fault configuration give the same run.
//!
//! # Cancelled timers
//! 13. [`Ctx::timer`] returns a [`TimerId`]; [`Ctx::cancel`] (or [`World::cancel_timer`])
//!     makes a pending timer a tombstone in O(1): it is discarded silently when due, like
//!     a crashed actor's timer, and not counted. No event is reordered and no random
//!     number drawn, so a world that cancels nothing runs exactly as before. A handle
//!     whose timer fired, was discarded or cancelled cancels nothing (a handle names the
//!     queue slot and the event's `seq`, so a reused slot is never mistaken for it).
//!
//! # Example
//! ```
//! use hmasim_kernel::{Actor, ActorId, Ctx, SimDuration, SimTime, World, NullObserver};
//!
//! #[derive(Clone)]
//! struct Echo { seen: u32 }
//! impl Actor<u32> for Echo {
//!     fn handle(&mut self, msg: u32, from: ActorId, ctx: &mut Ctx<'_, u32>) {
//!         self.seen += 1;
//!         if msg > 0 { ctx.send(from, msg - 1); }
//!     }
//! }
//!
//! let mut world = World::new(7);
//! let a = world.add(Echo { seen: 0 });
//! let b = world.add(Echo { seen: 0 });
//! world.network_mut().set_default_latency(SimDuration::from_millis(10));
//! world.schedule(SimTime::ZERO, a, b, 3);
//! let stats = world.run(&mut NullObserver);
//! assert_eq!(stats.delivered, 4);
//! assert_eq!(world.now(), SimTime::from_millis(30));
//! assert_eq!(world.actor(a).seen + world.actor(b).seen, 4);
//! ```
#![deny(missing_docs)]

mod net;
mod queue;
mod rng;
mod world;

/// Simulated time and actor addresses live in `hmasim-base`, which the protocol crate can
/// use without the kernel; they are re-exported here so the kernel's API stays whole.
pub use hmasim_base::{ActorId, SimDuration, SimTime, TimerId};

pub use net::{Latency, LinkFaults, Network};
pub use queue::{EventKind, EventQueue};
pub use rng::{key_stream, stream_seed, ActorRng};
pub use world::{
    Actor, Ctx, Delivery, Limits, NullObserver, Observer, RunStats, StopReason, World,
};
