//! Name resolution: which actor answers for a host name, as seen from one party's network.

use std::collections::BTreeMap;
use std::sync::Arc;

use hmasim_base::ActorId;

/// The host names a party can reach and the actor that answers for each: its view of DNS
/// and routing. Two parties may resolve the same name differently (split-brain DNS: inside,
/// `mail.contoso.com` is the load balancer; outside, the Web Application Proxy).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Directory {
    // Shared between the many parties that see the same network, copied on write: cloning
    // a world (an explorer's branch) or building one does not copy every table.
    hosts: Arc<BTreeMap<String, ActorId>>,
}

impl Directory {
    /// An empty directory: nothing resolves.
    pub fn new() -> Self {
        Self::default()
    }
    /// Routes `host` (case-insensitive) to `actor`.
    pub fn insert(&mut self, host: &str, actor: ActorId) {
        Arc::make_mut(&mut self.hosts).insert(host.to_ascii_lowercase(), actor);
    }
    /// The actor answering for `host`, if reachable.
    pub fn resolve(&self, host: &str) -> Option<ActorId> {
        self.hosts.get(host).copied().or_else(|| {
            if host.bytes().any(|b| b.is_ascii_uppercase()) {
                self.hosts.get(&host.to_ascii_lowercase()).copied()
            } else {
                None
            }
        })
    }
    /// Every (host, actor) route, sorted by host.
    pub fn routes(&self) -> impl Iterator<Item = (&str, ActorId)> {
        self.hosts.iter().map(|(h, a)| (h.as_str(), *a))
    }
}
