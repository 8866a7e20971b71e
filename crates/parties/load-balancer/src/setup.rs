//! The load balancer's configuration from its slice of the scenario (issue 12 item 5).

use std::collections::BTreeSet;
use std::net::IpAddr;

use hmasim_protocol::Net;
use hmasim_scenario::{Publishing, Scenario, TlsMode};

use crate::{LoadBalancer, Tls};

impl LoadBalancer {
    /// The load balancer as `sc` configures it. `net` is its pool (the virtual servers'
    /// hosts and the member behind them) with the peers' source addresses; `azure` the
    /// Azure addresses IP restrictions refuse, enforced here when the load balancer is
    /// the Internet's front door (`onprem.publishing = "direct"`).
    pub fn from_scenario(sc: &Scenario, azure: &BTreeSet<IpAddr>, net: Net) -> LoadBalancer {
        let tls = match sc.load_balancer.tls {
            TlsMode::Bridging => Tls::Bridging,
            TlsMode::Offloading => Tls::Offloading,
        };
        LoadBalancer::new(tls, net)
            .intercepting_unauthenticated(sc.load_balancer.intercepts_unauthenticated)
            .blocking(if sc.onprem.publishing == Publishing::Direct {
                azure.clone()
            } else {
                BTreeSet::new()
            })
    }
}
