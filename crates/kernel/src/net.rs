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

/// A table keyed by directed link, holding entries only for the links that have one: the
/// network's per-link state is O(links used), never O(actors²).
///
/// A hash map with a fixed hasher: it is only ever looked up, never iterated into
/// anything that reaches output, so its order cannot leak (clippy's ban on `HashMap` is
/// about iteration order); a `BTreeMap` would make every send O(log links).
#[allow(clippy::disallowed_types)]
type LinkMap<V> = std::collections::HashMap<u64, V, std::hash::BuildHasherDefault<LinkHasher>>;

/// The key of the directed link `from -> to` in a [`LinkMap`].
fn link_key(from: ActorId, to: ActorId) -> u64 {
    (u64::from(from.0) << 32) | u64::from(to.0)
}

/// A fixed, seedless hasher for link keys (the SplitMix64 finalizer): the same on every
/// run and platform.
#[derive(Clone, Copy, Debug, Default)]
struct LinkHasher(u64);

impl std::hash::Hasher for LinkHasher {
    fn finish(&self) -> u64 {
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0 ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01B3);
        }
    }
    fn write_u64(&mut self, v: u64) {
        self.0 ^= v;
    }
}

/// Latency of every directed link, with uniform jitter drawn from the network's own stream.
///
/// Every structure is O(actors + links used): a latency class per actor and a table per
/// pair of classes (what a world builder sets for zones), per-link overrides and per-link
/// faults only for the links given one, and the FIFO arrival time only for the links a
/// message has crossed. A world of a hundred thousand actors costs a few bytes per actor
/// until its actors talk.
#[derive(Clone, Debug)]
pub struct Network {
    /// Actors in the world.
    n: usize,
    default_latency: SimDuration,
    default_jitter: SimDuration,
    /// Each actor's latency class (0 unless set), indexed by actor; shorter than `n` when
    /// the last actors have none.
    classes: Vec<u16>,
    /// `class_links[a * class_side + b]`: latency and jitter from class `a` to class `b`,
    /// `None` for the default.
    class_links: Vec<Option<(SimDuration, SimDuration)>>,
    /// Side of `class_links` (one more than the largest class with a setting).
    class_side: usize,
    /// Links with their own latency and jitter.
    links: LinkMap<(SimDuration, SimDuration)>,
    /// Last delivery time of every link a message has crossed, for FIFO.
    last: LinkMap<SimTime>,
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
            default_latency: SimDuration::from_millis(1),
            default_jitter: SimDuration::ZERO,
            classes: Vec::new(),
            class_links: Vec::new(),
            class_side: 0,
            links: LinkMap::default(),
            last: LinkMap::default(),
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

    /// Holds `at` back behind the last arrival on `from -> to` (FIFO) and records it. The
    /// link gets its entry on its first message.
    fn fifo(&mut self, at: SimTime, from: ActorId, to: ActorId) -> SimTime {
        let last = self.last.entry(link_key(from, to)).or_insert(SimTime::ZERO);
        let at = at.max(*last);
        *last = at;
        at
    }

    /// Makes room for `n` actors. Nothing is allocated per actor until one is given a
    /// latency class.
    pub(crate) fn grow(&mut self, n: usize) {
        self.n = self.n.max(n);
    }

    fn check(&self, from: ActorId, to: ActorId, what: &str) {
        assert!(
            (from.0 as usize) < self.n && (to.0 as usize) < self.n,
            "{what}({from:?}, {to:?}): no such actor (the world has {})",
            self.n
        );
    }

    /// Latency and jitter of links without their own setting.
    pub fn set_default_latency(&mut self, latency: SimDuration) {
        self.default_latency = latency;
    }

    /// Upper bound of the uniform jitter added to links without their own setting.
    pub fn set_default_jitter(&mut self, jitter: SimDuration) {
        self.default_jitter = jitter;
    }

    /// Puts `actor` in latency class `class` (every actor is in class 0 until then). Links
    /// between two distinct actors take their classes' latency ([`Self::set_class_latency`])
    /// unless the link has its own ([`Self::set_link`]).
    ///
    /// # Panics
    /// When the actor does not exist yet (a programming error of the world builder).
    pub fn set_class(&mut self, actor: ActorId, class: u16) {
        self.check(actor, actor, "set_class");
        let i = actor.0 as usize;
        if self.classes.len() <= i {
            if class == 0 {
                return;
            }
            self.classes.resize(i + 1, 0);
        }
        self.classes[i] = class;
    }

    /// The latency class of `actor`.
    pub fn class(&self, actor: ActorId) -> u16 {
        self.classes.get(actor.0 as usize).copied().unwrap_or(0)
    }

    /// Latency and jitter of the links from an actor of class `from` to another actor of
    /// class `to`. A message an actor sends itself keeps the default latency (or its own
    /// link's).
    pub fn set_class_latency(
        &mut self,
        from: u16,
        to: u16,
        latency: SimDuration,
        jitter: SimDuration,
    ) {
        let side = usize::from(from.max(to)) + 1;
        if side > self.class_side {
            let mut grown = vec![None; side * side];
            for a in 0..self.class_side {
                for b in 0..self.class_side {
                    grown[a * side + b] = self.class_links[a * self.class_side + b];
                }
            }
            self.class_links = grown;
            self.class_side = side;
        }
        self.class_links[usize::from(from) * self.class_side + usize::from(to)] =
            Some((latency, jitter));
    }

    /// Forgets every latency set by [`Self::set_link`] and [`Self::set_class_latency`]
    /// (actors keep their classes): what a world builder does before applying a changed
    /// configuration.
    pub fn clear_latencies(&mut self) {
        self.links.clear();
        self.class_links.clear();
        self.class_side = 0;
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
        self.check(from, to, "set_link");
        self.links.insert(link_key(from, to), (latency, jitter));
    }

    /// The `(latency, jitter bound)` of `from -> to`: its own, else its classes', else the
    /// default.
    pub fn link(&self, from: ActorId, to: ActorId) -> (SimDuration, SimDuration) {
        if !self.links.is_empty() {
            if let Some(own) = self.links.get(&link_key(from, to)) {
                return *own;
            }
        }
        if self.class_side > 0 && from != to {
            let (a, b) = (usize::from(self.class(from)), usize::from(self.class(to)));
            if a < self.class_side && b < self.class_side {
                if let Some(c) = self.class_links[a * self.class_side + b] {
                    return c;
                }
            }
        }
        (self.default_latency, self.default_jitter)
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

    /// How many links hold per-link state (a latency of their own, a FIFO arrival time):
    /// what the network's memory grows with.
    pub fn links_used(&self) -> usize {
        self.links.len() + self.last.len()
    }
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
    fn a_huge_world_keeps_state_only_for_the_links_it_uses() {
        // A million actors: an actors-squared table would need 10^12 entries.
        let mut net = Network::new(rng::stream(1, 0));
        let ms = SimDuration::from_millis;
        let n = 1_000_000u32;
        net.grow(n as usize);
        net.set_link(ActorId(0), ActorId(n - 1), ms(9), ms(0));
        for i in (0..n).step_by(1000) {
            net.set_class(ActorId(i), 1 + (i / 1000 % 2) as u16);
        }
        net.set_class_latency(1, 2, ms(4), ms(0));
        let a = net.arrival(SimTime::from_millis(1), ActorId(n - 1), ActorId(5));
        let b = net.arrival(SimTime::ZERO, ActorId(n - 1), ActorId(5));
        assert_eq!(a, b, "FIFO on a link of a huge world");
        assert_eq!(net.link(ActorId(0), ActorId(n - 1)), (ms(9), ms(0)));
        assert_eq!(net.link(ActorId(2000), ActorId(3000)), (ms(4), ms(0)));
        assert_eq!(net.link(ActorId(3000), ActorId(2000)), (ms(1), ms(0)));
        assert_eq!(
            net.link(ActorId(2000), ActorId(2000)),
            (ms(1), ms(0)),
            "self"
        );
        assert_eq!(net.link(ActorId(7), ActorId(8)), (ms(1), ms(0)));
        // One latency of its own, one link crossed.
        assert_eq!(net.links_used(), 2);
        assert!(net.classes.len() <= n as usize);
    }

    #[test]
    fn cleared_latencies_fall_back_to_the_default() {
        let mut net = Network::new(rng::stream(1, 0));
        let ms = SimDuration::from_millis;
        net.grow(3);
        net.set_class(ActorId(1), 3);
        net.set_class_latency(0, 3, ms(7), ms(0));
        net.set_link(ActorId(2), ActorId(0), ms(8), ms(0));
        assert_eq!(net.link(ActorId(0), ActorId(1)), (ms(7), ms(0)));
        net.clear_latencies();
        assert_eq!(net.link(ActorId(0), ActorId(1)), (ms(1), ms(0)));
        assert_eq!(net.link(ActorId(2), ActorId(0)), (ms(1), ms(0)));
        assert_eq!(net.class(ActorId(1)), 3, "classes stay");
    }

    #[test]
    #[should_panic(expected = "no such actor")]
    fn set_link_rejects_unknown_actors() {
        let mut net = Network::new(rng::stream(1, 0));
        net.grow(3);
        net.set_link(ActorId(0), ActorId(3), SimDuration::ZERO, SimDuration::ZERO);
    }
}
