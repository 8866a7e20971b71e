//! The load balancer in front of Exchange on-premises. With TLS bridging it re-encrypts
//! and Exchange sees the `https://` URL the client used; with TLS offloading it forwards in
//! clear and Exchange sees `http://`, which is what breaks the audience check of OAuth
//! tokens (flows.md, TLS offloading).
#![deny(missing_docs)]

use std::collections::BTreeSet;

use hmasim_base::{ActorId, Context};
use hmasim_protocol::challenge::Credentials;
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
    backend: ActorId,
    intercepts_unauthenticated: bool,
    blocked_sources: BTreeSet<ActorId>,
    relay: Relay,
    net: Net,
}

impl LoadBalancer {
    /// A load balancer forwarding to `backend`.
    pub fn new(tls: Tls, backend: ActorId) -> Self {
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

    /// Refuses connections from these sources (IP restrictions at the edge).
    pub fn blocking(mut self, sources: BTreeSet<ActorId>) -> Self {
        self.blocked_sources = sources;
        self
    }

    /// Takes the configuration of `fresh`, keeping requests in flight.
    pub fn reconfigure(&mut self, fresh: LoadBalancer) {
        self.tls = fresh.tls;
        self.backend = fresh.backend;
        self.intercepts_unauthenticated = fresh.intercepts_unauthenticated;
        self.blocked_sources = fresh.blocked_sources;
    }
}

/// The party runs on anything that implements [`Context`] (the kernel's `Ctx` does):
/// `hmasim-sim`'s `Party` calls these two as its `Actor` implementation.
impl LoadBalancer {
    /// Requests in flight are forgotten: their senders time out and retry.
    pub fn restart(&mut self) {
        self.relay.clear();
    }

    /// Handles one message (or timer) from `from`.
    pub fn handle(&mut self, mut msg: Message, from: ActorId, ctx: &mut impl Context<Message>) {
        match msg.kind {
            Kind::Request => {
                if self.blocked_sources.contains(&from) {
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
                self.relay.forward(ctx, from, self.backend, msg, conv);
            }
            Kind::Response | Kind::Redirect => {
                self.relay.answer(ctx, msg);
            }
            _ => {}
        }
    }
}
