//! The few types every layer of hmasim shares, with no dependency of its own.
//!
//! `hmasim-kernel` runs actors; `hmasim-protocol` says what parties exchange; the party
//! crates implement the parties. The protocol crate must not depend on the kernel (the
//! live emulator will run the same protocol code over sockets and a scaled clock), so what
//! both need lives here and the kernel re-exports it:
//!
//! - [`SimTime`] and [`SimDuration`]: simulated time in integer microseconds;
//! - [`ActorId`]: the address of an actor in a world;
//! - [`Context`]: what code running inside a message handler may ask of whatever runs it
//!   (the clock, sending, timers, notes). The kernel's `Ctx` implements it; the protocol's
//!   helpers (`Net`, `Relay`, `Retries`, `unix_now`) take it, so they never name the
//!   kernel. It is the part of the `Env` trait of issue 12 that exists today.
//!
//! ```
//! use hmasim_base::{SimDuration, SimTime};
//! let t = SimTime::from_millis(1_500) + SimDuration::from_secs(2);
//! assert_eq!(t.to_string(), "+00:00:03.500");
//! ```
#![deny(missing_docs)]

mod time;

pub use time::{SimDuration, SimTime};

/// The address of an actor in a world: its index, in the order actors were added.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ActorId(pub u32);

/// What code running inside a message handler may ask of whatever runs it: the time, the
/// party's clock offset, sending messages, timers and trace notes. Implemented by the
/// kernel's `Ctx`; the protocol crate's helpers are written against it.
pub trait Context<M> {
    /// The current time.
    fn now(&self) -> SimTime;
    /// The running party's clock offset from [`Self::now`], in microseconds (positive: its
    /// clock is ahead).
    fn skew_micros(&self) -> i64;
    /// Sends `msg` to `to`.
    fn send(&mut self, to: ActorId, msg: M);
    /// Delivers `msg` back to the running party after `delay`.
    fn timer(&mut self, delay: SimDuration, msg: M);
    /// Writes `msg` into the trace as a note, without delivering it.
    fn note(&mut self, msg: M);
}
