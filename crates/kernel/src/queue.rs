//! The event queue: data, not closures, ordered by `(time, seq)`.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

use crate::world::ActorId;
use crate::SimTime;

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

#[derive(Clone, Debug)]
pub(crate) struct Entry<M> {
    pub(crate) time: SimTime,
    pub(crate) seq: u64,
    pub(crate) from: ActorId,
    pub(crate) to: ActorId,
    pub(crate) kind: EventKind,
    pub(crate) msg: M,
}

impl<M> PartialEq for Entry<M> {
    fn eq(&self, other: &Self) -> bool {
        self.time == other.time && self.seq == other.seq
    }
}
impl<M> Eq for Entry<M> {}
impl<M> PartialOrd for Entry<M> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl<M> Ord for Entry<M> {
    // Reversed: BinaryHeap is a max-heap and we want the earliest (time, seq) on top.
    fn cmp(&self, other: &Self) -> Ordering {
        (other.time, other.seq).cmp(&(self.time, self.seq))
    }
}

/// A priority queue of pending events, earliest `(time, seq)` first.
#[derive(Clone, Debug)]
pub struct EventQueue<M> {
    heap: BinaryHeap<Entry<M>>,
    next_seq: u64,
}

impl<M> Default for EventQueue<M> {
    fn default() -> Self {
        EventQueue {
            heap: BinaryHeap::new(),
            next_seq: 0,
        }
    }
}

impl<M> EventQueue<M> {
    /// Pending events.
    pub fn len(&self) -> usize {
        self.heap.len()
    }
    /// True when nothing is pending.
    pub fn is_empty(&self) -> bool {
        self.heap.is_empty()
    }
    /// The time of the earliest pending event.
    pub fn peek_time(&self) -> Option<SimTime> {
        self.heap.peek().map(|e| e.time)
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
        let seq = self.next_seq;
        self.next_seq += 1;
        self.heap.push(Entry {
            time,
            seq,
            from,
            to,
            kind,
            msg,
        });
    }

    pub(crate) fn pop(&mut self) -> Option<Entry<M>> {
        self.heap.pop()
    }

    pub(crate) fn reserve(&mut self, n: usize) {
        self.heap.reserve(n);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
