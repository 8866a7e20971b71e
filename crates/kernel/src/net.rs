//! The network model: per-link latency with seeded jitter, FIFO per link, and optional
//! injected faults (latency distributions, loss, duplication, reordering, partitions).

use std::collections::{BTreeMap, BTreeSet};

use rand::Rng;

use crate::rng::ActorRng;
use crate::ActorId;
use crate::{SimDuration, SimTime};

/// A latency distribution for a link with injected faults. Samples are drawn from the
/// network's own stream and clamped at zero.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Latency {
    /// Always the same latency.
    Fixed(SimDuration),
    /// Uniform between `min` and `max` (inclusive).
    Uniform {
        /// Lower bound.
        min: SimDuration,
        /// Upper bound.
        max: SimDuration,
    },
    /// Normal with this mean and standard deviation (negative samples give zero).
    Normal {
        /// Mean.
        mean: SimDuration,
        /// Standard deviation.
        sd: SimDuration,
    },
    /// Log-normal: `median * exp(sigma * z)`, `z` standard normal. Heavy-tailed, as WAN
    /// latencies are.
    LogNormal {
        /// Median (the exponential of the underlying normal's mean).
        median: SimDuration,
        /// Standard deviation of the underlying normal.
        sigma: f64,
    },
}

impl Latency {
    fn sample(&self, rng: &mut ActorRng) -> SimDuration {
        let us = |d: &SimDuration| d.as_micros() as f64;
        let v = match self {
            Latency::Fixed(d) => return *d,
            Latency::Uniform { min, max } => {
                let (a, b) = (min.as_micros(), max.as_micros());
                let (a, b) = (a.min(b), a.max(b));
                return SimDuration::from_micros(rng.random_range(a..=b));
            }
            Latency::Normal { mean, sd } => us(mean) + us(sd) * std_normal(rng),
            Latency::LogNormal { median, sigma } => us(median) * (sigma * std_normal(rng)).exp(),
        };
        // Clamped to [0, one day]: a distribution never sends a message back in time, nor
        // past the end of any run.
        SimDuration::from_micros(v.clamp(0.0, 86_400e6) as u64)
    }
}

/// A standard normal sample (Box-Muller; two uniform draws).
fn std_normal(rng: &mut ActorRng) -> f64 {
    let u1: f64 = 1.0 - rng.random::<f64>(); // (0, 1]
    let u2: f64 = rng.random::<f64>();
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

/// Faults injected on a link (or on every link, as the default).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct LinkFaults {
    /// Latency distribution replacing the link's latency and jitter (`None`: unchanged).
    pub latency: Option<Latency>,
    /// Probability that a message is lost.
    pub loss: f64,
    /// Probability that a message is delivered twice (the second time as a clone, with its
    /// own latency sample).
    pub duplicate: f64,
    /// Lift the FIFO guarantee: each message arrives after its own latency sample.
    pub reorder: bool,
}

impl LinkFaults {
    /// True when these settings change nothing.
    pub fn is_none(&self) -> bool {
        self.latency.is_none() && self.loss <= 0.0 && self.duplicate <= 0.0 && !self.reorder
    }
}

/// Where a message sent now ends up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Route {
    /// When it arrives (or, when lost, when its loss is reported).
    pub at: SimTime,
    /// Lost on the way (loss or partition).
    pub lost: bool,
    /// A duplicate arrives at this instant too.
    pub dup: Option<SimTime>,
}

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
    /// Whether any fault is configured. Until one is, sending takes the fault-free path and
    /// draws exactly what it always drew from `rng`.
    faulty: bool,
    default_faults: LinkFaults,
    faults: BTreeMap<(u32, u32), LinkFaults>,
    /// Directed links that are cut (partitions): messages on them are lost.
    cuts: BTreeSet<(u32, u32)>,
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
            faulty: false,
            default_faults: LinkFaults::default(),
            faults: BTreeMap::new(),
            cuts: BTreeSet::new(),
        }
    }

    fn refresh_faulty(&mut self) {
        self.faulty = !self.default_faults.is_none()
            || self.faults.values().any(|f| !f.is_none())
            || !self.cuts.is_empty();
    }

    /// Faults of links without their own fault settings.
    pub fn set_default_faults(&mut self, faults: LinkFaults) {
        self.default_faults = faults;
        self.refresh_faulty();
    }

    /// Faults of the directed link `from -> to` (replacing the default for that link).
    pub fn set_link_faults(&mut self, from: ActorId, to: ActorId, faults: LinkFaults) {
        self.faults.insert((from.0, to.0), faults);
        self.refresh_faulty();
    }

    /// The faults injected on `from -> to`.
    pub fn link_faults(&self, from: ActorId, to: ActorId) -> LinkFaults {
        self.faults
            .get(&(from.0, to.0))
            .copied()
            .unwrap_or(self.default_faults)
    }

    /// Cuts (`true`) or restores the directed link `from -> to`: while cut, every message
    /// sent on it is lost. A two-way partition is two cuts.
    pub fn set_cut(&mut self, from: ActorId, to: ActorId, cut: bool) {
        if cut {
            self.cuts.insert((from.0, to.0));
        } else {
            self.cuts.remove(&(from.0, to.0));
        }
        self.refresh_faulty();
    }

    /// Whether `from -> to` is cut.
    pub fn is_cut(&self, from: ActorId, to: ActorId) -> bool {
        self.cuts.contains(&(from.0, to.0))
    }

    /// Where a message sent now on `from -> to` goes. Without any fault configured this is
    /// exactly [`Self::arrival`] (same draws from the stream, so runs without faults are
    /// unchanged).
    pub(crate) fn route(&mut self, now: SimTime, from: ActorId, to: ActorId) -> Route {
        if !self.faulty || from == to {
            return Route {
                at: self.arrival(now, from, to),
                lost: false,
                dup: None,
            };
        }
        let f = self.link_faults(from, to);
        let cut = self.is_cut(from, to);
        let at = self.faulty_arrival(now, from, to, &f);
        // Draws happen only for the faults that are on, in a fixed order.
        let lost = cut || (f.loss > 0.0 && self.rng.random::<f64>() < f.loss);
        let dup = (!lost && f.duplicate > 0.0 && self.rng.random::<f64>() < f.duplicate)
            .then(|| self.faulty_arrival(now, from, to, &f));
        Route { at, lost, dup }
    }

    fn faulty_arrival(
        &mut self,
        now: SimTime,
        from: ActorId,
        to: ActorId,
        f: &LinkFaults,
    ) -> SimTime {
        match (f.latency, f.reorder) {
            (None, false) => self.arrival(now, from, to),
            (None, true) => {
                let (lat, jit) = self.link(from, to);
                let mut at = now + lat;
                if jit.as_micros() != 0 {
                    at += SimDuration::from_micros(self.rng.random_range(0..=jit.as_micros()));
                }
                at
            }
            (Some(d), reorder) => {
                let at = now + d.sample(&mut self.rng);
                if reorder {
                    at
                } else {
                    self.fifo(at, from, to)
                }
            }
        }
    }

    /// Holds `at` back behind the last arrival on `from -> to` (FIFO) and records it.
    fn fifo(&mut self, mut at: SimTime, from: ActorId, to: ActorId) -> SimTime {
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
        self.fifo(at, from, to)
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
