//! The event queue: data, not closures, ordered by `(time, seq)`.
//!
//! # Implementation
//! A radix heap on the event time, with the payloads in a slab:
//!
//! - `slots` holds each pending event's sender, receiver, kind and message; freed slots are
//!   reused (last freed, first reused, so the slot just popped is still in cache when the
//!   handler schedules its next event). The heap itself only moves 16-byte [`Key`]s.
//! - `last` is the time of the earliest pending event in the radix part. Bucket `b` holds the
//!   keys whose time differs from `last` first in bit `b - 1` (bucket 0: time equal to
//!   `last`). When bucket 0 runs out, the lowest non-empty bucket is split again around its
//!   minimum; every key moves to a lower bucket, so each key moves at most 64 times, and in
//!   practice a handful (the number of significant bits of the spread of pending times).
//! - Ties on time are broken by `seq` without storing it: a bucket's keys are always in
//!   `seq` order. A new key has the largest `seq` so far and is appended; splitting a bucket
//!   walks it in order into buckets that are all empty at that moment. So bucket 0, all of
//!   whose keys have time `last`, is in `seq` order and is consumed from the front.
//! - A radix heap needs keys no earlier than `last`. An event scheduled before `last` (only
//!   possible with [`crate::World::schedule`] into the past) goes to a small binary heap on
//!   `(time, seq)`, `past`. Everything in `past` is earlier than `last`, which only grows,
//!   hence earlier than everything in the radix part, so `past` is always drained first.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use crate::SimTime;
use crate::{ActorId, TimerId};

/// What a queued event is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EventKind {
    /// A message sent by one actor to another over the network.
    Message,
    /// A timer an actor set for itself.
    Timer,
    /// A note an actor wrote into the trace (never queued; reported to observers).
    Note,
}

/// An event taken off the queue.
#[derive(Clone, Debug)]
pub(crate) struct Entry<M> {
    pub(crate) time: SimTime,
    pub(crate) from: ActorId,
    pub(crate) to: ActorId,
    pub(crate) kind: EventKind,
    pub(crate) msg: M,
    /// The network lost it: it is reported as a drop at `time`, never handled.
    pub(crate) lost: bool,
    /// For timers: the incarnation of the actor that set it (see `World::crash`).
    pub(crate) epoch: u32,
    /// A cancelled timer (see [`EventQueue::cancel`]).
    pub(crate) cancelled: bool,
}

/// What the radix heap moves around: the time and where the rest of the event is.
#[derive(Clone, Copy, Debug)]
struct Key {
    time: u64,
    slot: u32,
}

/// Everything about a pending event but its time.
#[derive(Clone, Debug)]
struct Payload<M> {
    from: ActorId,
    to: ActorId,
    kind: EventKind,
    msg: M,
    lost: bool,
    epoch: u32,
    /// The event's scheduling sequence number: a [`TimerId`] names it with its slot.
    seq: u64,
    /// A timer cancelled while pending: a tombstone, discarded when it comes due.
    cancelled: bool,
}

/// Radix buckets: 0 for "equal to `last`", `b` for "first differs in bit `b - 1`".
const BUCKETS: usize = 65;

/// The bucket of `time` relative to `last`.
fn bucket(time: u64, last: u64) -> usize {
    (u64::BITS - (time ^ last).leading_zeros()) as usize
}

/// A priority queue of pending events, earliest `(time, seq)` first.
#[derive(Clone, Debug)]
pub struct EventQueue<M> {
    /// Radix buckets; bucket 0 is consumed from `head`.
    buckets: [Vec<Key>; BUCKETS],
    /// The next key to pop from bucket 0.
    head: usize,
    /// Bit `b` is set when bucket `b` (`b >= 1`) is non-empty; bit 0 means nothing.
    occupied: u128,
    /// The time of the earliest key of the radix part (when it is not empty).
    last: u64,
    /// Keys in the radix part. When non-zero, bucket 0 has a key at `head`.
    radix_len: usize,
    /// Events scheduled before `last`, earliest `(time, seq)` first.
    past: BinaryHeap<Reverse<(u64, u64, u32)>>,
    /// Payloads of pending events; `None` for a free slot.
    slots: Vec<Option<Payload<M>>>,
    /// Free slots, reused last freed first.
    free: Vec<u32>,
    next_seq: u64,
}

impl<M> Default for EventQueue<M> {
    fn default() -> Self {
        EventQueue {
            buckets: std::array::from_fn(|_| Vec::new()),
            head: 0,
            occupied: 0,
            last: 0,
            radix_len: 0,
            past: BinaryHeap::new(),
            slots: Vec::new(),
            free: Vec::new(),
            next_seq: 0,
        }
    }
}

impl<M> EventQueue<M> {
    /// Pending events.
    pub fn len(&self) -> usize {
        self.radix_len + self.past.len()
    }
    /// True when nothing is pending.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// The time of the earliest pending event.
    pub fn peek_time(&self) -> Option<SimTime> {
        if let Some(Reverse((time, _, _))) = self.past.peek() {
            Some(SimTime::from_micros(*time))
        } else if self.radix_len > 0 {
            Some(SimTime::from_micros(self.buckets[0][self.head].time))
        } else {
            None
        }
    }
    /// Events scheduled so far (the next `seq`).
    pub fn scheduled(&self) -> u64 {
        self.next_seq
    }

    pub(crate) fn push(
        &mut self,
        time: SimTime,
        from: ActorId,
        to: ActorId,
        kind: EventKind,
        msg: M,
    ) {
        self.push_with(time, from, to, kind, msg, false, 0);
    }

    /// [`Self::push`] with the fault-injection fields: `lost` (reported as a drop when
    /// due) and the timer's `epoch`.
    #[allow(clippy::too_many_arguments)]
    #[inline]
    pub(crate) fn push_with(
        &mut self,
        time: SimTime,
        from: ActorId,
        to: ActorId,
        kind: EventKind,
        msg: M,
        lost: bool,
        epoch: u32,
    ) -> TimerId {
        let seq = self.next_seq;
        self.next_seq += 1;
        let slot = self.alloc(Payload {
            from,
            to,
            kind,
            msg,
            lost,
            epoch,
            seq,
            cancelled: false,
        });
        let time = time.as_micros();
        if self.radix_len == 0 && (time >= self.last || self.past.is_empty()) {
            // Anything in `past` is earlier than the old `last`, so earlier than `time`.
            self.last = time;
        }
        if time >= self.last {
            let b = bucket(time, self.last);
            self.buckets[b].push(Key { time, slot });
            self.occupied |= 1 << b;
            self.radix_len += 1;
        } else {
            self.past.push(Reverse((time, seq, slot)));
        }
        TimerId::new(slot, seq)
    }

    /// Cancels the pending timer `id`, in O(1): its payload becomes a tombstone that
    /// [`Self::pop`] still returns at its time, marked `cancelled`, for the world to
    /// discard without delivering it. Returns `false` (and changes nothing) when `id`
    /// names no pending timer: it fired, was discarded or cancelled, or is a message.
    pub(crate) fn cancel(&mut self, id: TimerId) -> bool {
        match self.slots.get_mut(id.slot() as usize) {
            Some(Some(p)) if p.seq == id.seq() && p.kind == EventKind::Timer && !p.cancelled => {
                p.cancelled = true;
                true
            }
            _ => false,
        }
    }

    #[inline]
    pub(crate) fn pop(&mut self) -> Option<Entry<M>> {
        let (time, slot) = if let Some(Reverse((time, _, slot))) = self.past.pop() {
            (time, slot)
        } else if self.radix_len > 0 {
            let key = self.buckets[0][self.head];
            self.head += 1;
            self.radix_len -= 1;
            if self.head == self.buckets[0].len() {
                self.refill();
            }
            (key.time, key.slot)
        } else {
            return None;
        };
        let p = self.slots[slot as usize]
            .take()
            .expect("a queued key points at a live slot");
        self.free.push(slot);
        Some(Entry {
            time: SimTime::from_micros(time),
            from: p.from,
            to: p.to,
            kind: p.kind,
            msg: p.msg,
            lost: p.lost,
            epoch: p.epoch,
            cancelled: p.cancelled,
        })
    }

    pub(crate) fn reserve(&mut self, n: usize) {
        self.slots.reserve(n.saturating_sub(self.free.len()));
    }

    /// Stores a payload, preferably in the slot freed last.
    #[inline]
    fn alloc(&mut self, p: Payload<M>) -> u32 {
        if let Some(slot) = self.free.pop() {
            self.slots[slot as usize] = Some(p);
            slot
        } else {
            let slot = u32::try_from(self.slots.len()).expect("fewer than 2^32 pending events");
            self.slots.push(Some(p));
            slot
        }
    }

    /// Bucket 0 is exhausted: split the lowest non-empty bucket around its minimum.
    fn refill(&mut self) {
        self.buckets[0].clear();
        self.head = 0;
        self.occupied &= !1;
        if self.radix_len == 0 {
            return;
        }
        let i = self.occupied.trailing_zeros() as usize;
        self.occupied &= !(1 << i);
        let mut keys = std::mem::take(&mut self.buckets[i]);
        let last = keys
            .iter()
            .map(|k| k.time)
            .min()
            .expect("an occupied bucket has keys");
        self.last = last;
        for &k in &keys {
            let b = bucket(k.time, last);
            debug_assert!(b < i);
            self.buckets[b].push(k);
            self.occupied |= 1 << b;
        }
        keys.clear();
        self.buckets[i] = keys;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};
    use rand_xoshiro::Xoshiro256PlusPlus;

    #[test]
    fn pops_in_time_then_seq_order() {
        let mut q = EventQueue::default();
        let a = ActorId(0);
        q.push(SimTime::from_millis(5), a, a, EventKind::Message, "late");
        q.push(SimTime::from_millis(1), a, a, EventKind::Message, "first");
        q.push(SimTime::from_millis(1), a, a, EventKind::Message, "second");
        let order: Vec<_> = std::iter::from_fn(|| q.pop().map(|e| e.msg)).collect();
        assert_eq!(order, ["first", "second", "late"]);
    }

    /// A reference queue: a sorted list of `(time, seq)`.
    #[derive(Default)]
    struct Model(std::collections::BTreeSet<(u64, u64)>);

    /// Interleaves pushes and pops at random, with times drawn around the current time (and
    /// sometimes before it, or far after it), and checks every pop against the model.
    fn random_schedule(seed: u64, ops: usize, spread: u64) {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
        let mut q = EventQueue::default();
        let mut model = Model::default();
        let a = ActorId(0);
        let mut now = 0u64;
        for _ in 0..ops {
            let roll = rng.random_range(0..100);
            if roll < 55 || model.0.is_empty() {
                let time = match rng.random_range(0..20) {
                    0 => now.saturating_sub(rng.random_range(0..=spread)),
                    1 => now + rng.random_range(0..=spread * 1_000),
                    2 => u64::MAX - rng.random_range(0..3),
                    3 | 4 => now,
                    _ => now + rng.random_range(0..=spread),
                };
                let seq = q.scheduled();
                q.push(SimTime::from_micros(time), a, a, EventKind::Message, seq);
                model.0.insert((time, seq));
            } else {
                let want = model.0.pop_first().unwrap();
                assert_eq!(q.peek_time(), Some(SimTime::from_micros(want.0)));
                let e = q.pop().unwrap();
                assert_eq!((e.time.as_micros(), e.msg), want);
                now = want.0.min(u64::MAX / 2);
            }
            assert_eq!(q.len(), model.0.len());
        }
        while let Some(want) = model.0.pop_first() {
            let e = q.pop().unwrap();
            assert_eq!((e.time.as_micros(), e.msg), want);
        }
        assert!(q.pop().is_none());
        assert_eq!(q.peek_time(), None);
        assert!(q.is_empty());
    }

    #[test]
    fn randomized_schedule_pops_in_exact_time_seq_order() {
        for seed in 0..20 {
            random_schedule(seed, 20_000, 1 << (seed % 12));
        }
    }

    #[test]
    fn reuses_slots_and_survives_clone() {
        let mut q = EventQueue::default();
        let a = ActorId(0);
        for i in 0..100u64 {
            q.push(SimTime::from_micros(i % 7), a, a, EventKind::Timer, i);
        }
        for _ in 0..50 {
            let e = q.pop().unwrap();
            q.push(
                e.time + crate::SimDuration::from_micros(3),
                a,
                a,
                e.kind,
                e.msg,
            );
        }
        assert_eq!(q.slots.len(), 100);
        let mut fork = q.clone();
        let left: Vec<_> = std::iter::from_fn(|| q.pop().map(|e| (e.time, e.msg))).collect();
        let right: Vec<_> = std::iter::from_fn(|| fork.pop().map(|e| (e.time, e.msg))).collect();
        assert_eq!(left.len(), 100);
        assert_eq!(left, right);
    }
}
