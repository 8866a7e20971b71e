//! The network model: per-link latency with seeded jitter, FIFO per link.

use rand::Rng;

use crate::rng::ActorRng;
use crate::world::ActorId;
use crate::{SimDuration, SimTime};

/// Latency of every directed link, with uniform jitter drawn from the network's own stream.
#[derive(Clone, Debug)]
pub struct Network {
    /// Actors in the world.
    n: usize,
    /// Side of the square per-link tables (`>= n` once they are fitted; see [`Self::fit`]).
    stride: usize,
    default_latency: SimDuration,
    default_jitter: SimDuration,
    /// Whether any link has its own setting. Until one has, `links` is left empty.
    custom: bool,
    /// `links[from * stride + to]`, `None` for the default (`stride * stride` long when
    /// `custom`).
    links: Vec<Option<(SimDuration, SimDuration)>>,
    /// Last delivery time per link, for FIFO.
    last: Vec<SimTime>,
    rng: ActorRng,
}

impl Network {
    pub(crate) fn new(rng: ActorRng) -> Self {
        Network {
            n: 0,
            stride: 0,
            default_latency: SimDuration::from_millis(1),
            default_jitter: SimDuration::ZERO,
            custom: false,
            links: Vec::new(),
            last: Vec::new(),
            rng,
        }
    }

    /// Makes room for `n` actors. The tables are resized lazily, on the first
    /// [`Self::set_link`] or send after actors were added, so adding actors one by one
    /// costs nothing.
    pub(crate) fn grow(&mut self, n: usize) {
        self.n = self.n.max(n);
    }

    /// Resizes the per-link tables to fit every actor. Grows by at least half, so worlds
    /// that alternate adding actors and sending stay quadratic in total, not cubic.
    #[cold]
    fn fit(&mut self) {
        let stride = self.n.max(self.stride + self.stride / 2);
        self.last = regrid(&self.last, self.stride, stride, SimTime::ZERO);
        if self.custom {
            self.links = regrid(&self.links, self.stride, stride, None);
        }
        self.stride = stride;
    }

    /// Latency and jitter of links without their own setting.
    pub fn set_default_latency(&mut self, latency: SimDuration) {
        self.default_latency = latency;
    }

    /// Upper bound of the uniform jitter added to links without their own setting.
    pub fn set_default_jitter(&mut self, jitter: SimDuration) {
        self.default_jitter = jitter;
    }

    /// Latency and jitter of the directed link `from -> to`.
    ///
    /// # Panics
    /// When either actor does not exist yet (a programming error of the world builder).
    pub fn set_link(
        &mut self,
        from: ActorId,
        to: ActorId,
        latency: SimDuration,
        jitter: SimDuration,
    ) {
        assert!(
            (from.0 as usize) < self.n && (to.0 as usize) < self.n,
            "set_link({from:?}, {to:?}): no such actor (the world has {})",
            self.n
        );
        if self.stride < self.n {
            self.fit();
        }
        if !self.custom {
            self.custom = true;
            self.links = vec![None; self.stride * self.stride];
        }
        let i = from.0 as usize * self.stride + to.0 as usize;
        self.links[i] = Some((latency, jitter));
    }

    /// The `(latency, jitter bound)` of `from -> to`.
    pub fn link(&self, from: ActorId, to: ActorId) -> (SimDuration, SimDuration) {
        let (f, t) = (from.0 as usize, to.0 as usize);
        let own = if self.custom && f < self.stride && t < self.stride {
            self.links[f * self.stride + t]
        } else {
            None
        };
        own.unwrap_or((self.default_latency, self.default_jitter))
    }

    /// When a message sent now on `from -> to` arrives.
    pub(crate) fn arrival(&mut self, now: SimTime, from: ActorId, to: ActorId) -> SimTime {
        let (lat, jit) = self.link(from, to);
        let mut at = now + lat;
        if jit.as_micros() != 0 {
            at += SimDuration::from_micros(self.rng.random_range(0..=jit.as_micros()));
        }
        let (f, t) = (from.0 as usize, to.0 as usize);
        if f < self.n && t < self.n {
            if self.stride < self.n {
                self.fit();
            }
            let last = &mut self.last[f * self.stride + t];
            if at < *last {
                at = *last;
            }
            *last = at;
        }
        at
    }
}

/// A copy of the square table `old` (side `old_stride`) in a square of side `stride`, the new
/// cells set to `fill`.
fn regrid<T: Copy>(old: &[T], old_stride: usize, stride: usize, fill: T) -> Vec<T> {
    let mut new = vec![fill; stride * stride];
    for (row, cells) in old.chunks_exact(old_stride.max(1)).enumerate() {
        new[row * stride..row * stride + old_stride].copy_from_slice(cells);
    }
    new
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng;

    #[test]
    fn links_keep_their_settings_as_actors_are_added() {
        let mut net = Network::new(rng::stream(1, 0));
        let ms = SimDuration::from_millis;
        net.grow(2);
        net.set_link(ActorId(0), ActorId(1), ms(5), ms(0));
        net.set_link(ActorId(1), ActorId(0), ms(6), ms(1));
        let t = net.arrival(SimTime::from_millis(10), ActorId(1), ActorId(0));
        for n in 3..40 {
            net.grow(n);
            if n % 7 == 0 {
                net.set_link(ActorId(n as u32 - 1), ActorId(0), ms(n as u64), ms(0));
            }
            // Sending to the new actor fits the tables; FIFO state must survive.
            net.arrival(SimTime::ZERO, ActorId(0), ActorId(n as u32 - 1));
        }
        assert_eq!(net.link(ActorId(0), ActorId(1)), (ms(5), ms(0)));
        assert_eq!(net.link(ActorId(1), ActorId(0)), (ms(6), ms(1)));
        assert_eq!(net.link(ActorId(34), ActorId(0)), (ms(35), ms(0)));
        assert_eq!(net.link(ActorId(2), ActorId(3)), (ms(1), ms(0)));
        // A message sent earlier on 1 -> 0 still holds back a later one.
        assert_eq!(net.arrival(SimTime::ZERO, ActorId(1), ActorId(0)), t);
    }

    #[test]
    #[should_panic(expected = "no such actor")]
    fn set_link_rejects_unknown_actors() {
        let mut net = Network::new(rng::stream(1, 0));
        net.grow(3);
        net.set_link(ActorId(0), ActorId(3), SimDuration::ZERO, SimDuration::ZERO);
    }
}
