//! The network model: per-link latency with seeded jitter, FIFO per link.

use rand::Rng;

use crate::rng::ActorRng;
use crate::world::ActorId;
use crate::{SimDuration, SimTime};

/// Latency of every directed link, with uniform jitter drawn from the network's own stream.
#[derive(Clone, Debug)]
pub struct Network {
    n: usize,
    default_latency: SimDuration,
    default_jitter: SimDuration,
    /// `latency[from * n + to]`, `None` for the default.
    links: Vec<Option<(SimDuration, SimDuration)>>,
    /// Last delivery time per link, for FIFO.
    last: Vec<SimTime>,
    rng: ActorRng,
}

impl Network {
    pub(crate) fn new(rng: ActorRng) -> Self {
        Network {
            n: 0,
            default_latency: SimDuration::from_millis(1),
            default_jitter: SimDuration::ZERO,
            links: Vec::new(),
            last: Vec::new(),
            rng,
        }
    }

    pub(crate) fn grow(&mut self, n: usize) {
        if n <= self.n {
            return;
        }
        let mut links = vec![None; n * n];
        let mut last = vec![SimTime::ZERO; n * n];
        for f in 0..self.n {
            for t in 0..self.n {
                links[f * n + t] = self.links[f * self.n + t];
                last[f * n + t] = self.last[f * self.n + t];
            }
        }
        self.n = n;
        self.links = links;
        self.last = last;
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
        let i = self.index(from, to);
        self.links[i] = Some((latency, jitter));
    }

    /// The `(latency, jitter bound)` of `from -> to`.
    pub fn link(&self, from: ActorId, to: ActorId) -> (SimDuration, SimDuration) {
        self.links
            .get(self.index(from, to))
            .copied()
            .flatten()
            .unwrap_or((self.default_latency, self.default_jitter))
    }

    fn index(&self, from: ActorId, to: ActorId) -> usize {
        from.0 as usize * self.n + to.0 as usize
    }

    /// When a message sent now on `from -> to` arrives.
    pub(crate) fn arrival(&mut self, now: SimTime, from: ActorId, to: ActorId) -> SimTime {
        let (lat, jit) = self.link(from, to);
        let jitter = if jit.as_micros() == 0 {
            0
        } else {
            self.rng.random_range(0..=jit.as_micros())
        };
        let mut at = now + lat + SimDuration::from_micros(jitter);
        let i = self.index(from, to);
        if let Some(last) = self.last.get_mut(i) {
            if at < *last {
                at = *last;
            }
            *last = at;
        }
        at
    }
}
