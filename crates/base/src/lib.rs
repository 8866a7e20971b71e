//! The few types every layer of hmasim shares, with no dependency of its own.
//!
//! `hmasim-kernel` runs actors; `hmasim-protocol` says what parties exchange; the party
//! crates implement the parties. The protocol crate must not depend on the kernel (the
//! live emulator will run the same protocol code over sockets and a scaled clock), so what
//! both need lives here and the kernel re-exports it:
//!
//! - [`SimTime`] and [`SimDuration`]: simulated time in integer microseconds;
//! - [`ActorId`]: the address of an actor in a world (parties never see one: they hold the
//!   protocol's opaque `Route`);
//! - [`TimerId`]: a handle on a pending timer, to cancel it.
//!
//! What a party may do while handling a message is `hmasim-protocol`'s `Env` trait; the
//! simulator implements it over the kernel's `Ctx`.
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

/// A handle on a pending timer, returned when it is set and given back to cancel it. The
/// kernel fills it (the event's queue slot and its scheduling sequence number, so a handle
/// whose timer fired or was discarded never cancels the timer that reuses the slot);
/// parties only store it and hand it back.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TimerId {
    slot: u32,
    seq: u64,
}

impl TimerId {
    /// The handle of the timer scheduled as event `seq` in queue slot `slot`. For
    /// schedulers (the kernel, a test environment) only.
    pub const fn new(slot: u32, seq: u64) -> TimerId {
        TimerId { slot, seq }
    }
    /// The queue slot the timer was stored in.
    pub const fn slot(self) -> u32 {
        self.slot
    }
    /// The timer's scheduling sequence number (unique in a world).
    pub const fn seq(self) -> u64 {
        self.seq
    }
}
