//! The load balancer in front of Exchange on-premises. With TLS bridging it re-encrypts
//! and Exchange sees the `https://` URL the client used; with TLS offloading it forwards in
//! clear and Exchange sees `http://`, which is what breaks the audience check of OAuth
//! tokens (flows.md, TLS offloading).
#![deny(missing_docs)]

use std::collections::BTreeSet;
use std::net::IpAddr;

use hmasim_protocol::challenge::Credentials;
use hmasim_protocol::{Env, Route};
use hmasim_protocol::{Kind, Message, Net, Relay};

/// How TLS is handled.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tls {
    /// Terminate and re-encrypt.
    Bridging,
    /// Terminate and forward in clear.
    Offloading,
}

/// The `load-balancer` party.
#[derive(Clone, Debug)]
pub struct LoadBalancer {
    tls: Tls,
    backend: Route,
    intercepts_unauthenticated: bool,
    /// Source addresses refused at the edge (the connection's address, as its network
    /// shows it).
    blocked_sources: BTreeSet<IpAddr>,
    relay: Relay,
    net: Net,
}

impl LoadBalancer {
    /// A load balancer forwarding to `backend` (the pool member, resolved when the pool
    /// was configured).
    pub fn new(tls: Tls, backend: Route) -> Self {
        LoadBalancer {
            tls,
            backend,
            intercepts_unauthenticated: false,
            blocked_sources: BTreeSet::new(),
            relay: Relay::default(),
            net: Net::default(),
        }
    }

    /// Answers unauthenticated requests itself with a bare 401 (no `WWW-Authenticate`), as an
    /// authentication profile on the device does.
    pub fn intercepting_unauthenticated(mut self, on: bool) -> Self {
        self.intercepts_unauthenticated = on;
        self
    }

    /// Refuses connections from these source addresses (IP restrictions at the edge);
    /// `net` is the network view that shows each connection's source address.
    pub fn blocking(mut self, sources: BTreeSet<IpAddr>, net: Net) -> Self {
        self.blocked_sources = sources;
        self.net = net;
        self
    }

    /// Takes the configuration of `fresh`, keeping requests in flight.
    pub fn reconfigure(&mut self, fresh: LoadBalancer) {
        self.tls = fresh.tls;
        self.backend = fresh.backend;
        self.intercepts_unauthenticated = fresh.intercepts_unauthenticated;
        self.blocked_sources = fresh.blocked_sources;
        self.net.adopt(fresh.net);
    }
}

/// The party runs on anything that implements [`Env`] (the simulator's `SimEnv` does):
/// `hmasim-sim`'s `Party` calls these two as its `Actor` implementation.
impl LoadBalancer {
    /// Requests in flight are forgotten: their senders time out and retry.
    pub fn restart(&mut self) {
        self.relay.clear();
    }

    /// Handles one message (or timer) from `from`.
    pub fn handle(&mut self, mut msg: Message, ctx: &mut impl Env) {
        let from = ctx.caller();
        match msg.kind {
            Kind::Request => {
                let source = self.net.source(from);
                if source.is_some_and(|a| self.blocked_sources.contains(&a)) {
                    return ctx.send(from, Message::ip_rejected(&msg, "load-balancer"));
                }
                let unauthenticated = matches!(
                    msg.header_value("Authorization")
                        .and_then(Credentials::parse),
                    None | Some(Credentials::EmptyBearer)
                );
                if self.intercepts_unauthenticated && unauthenticated {
                    let reply = Message::response(
                        &msg,
                        401,
                        "the load balancer answers the unauthenticated request itself",
                    )
                    .at_opt(msg.stage)
                    .header("Server", "BigIP")
                    .header("Content-Length", "0");
                    return ctx.send(from, reply);
                }
                if self.tls == Tls::Offloading {
                    if let Some(u) = msg.url.as_mut() {
                        u.scheme = "http".into();
                    }
                }
                let conv = self.net.conv();
                self.relay.forward(ctx, self.backend, msg, conv);
            }
            Kind::Response | Kind::Redirect => {
                self.relay.answer(ctx, msg);
            }
            _ => {}
        }
    }
}
