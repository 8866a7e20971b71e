//! The load balancer in front of Exchange on-premises. With TLS bridging it re-encrypts
//! and Exchange sees the `https://` URL the client used; with TLS offloading it forwards in
//! clear and Exchange sees `http://`, which is what breaks the audience check of OAuth
//! tokens (flows.md, TLS offloading).
#![deny(missing_docs)]

use hmasim_kernel::{Actor, ActorId, Ctx};
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
    relay: Relay,
    net: Net,
}

impl LoadBalancer {
    /// A load balancer forwarding to `backend`.
    pub fn new(tls: Tls, backend: ActorId) -> Self {
        LoadBalancer {
            tls,
            backend,
            relay: Relay::default(),
            net: Net::default(),
        }
    }
}

impl Actor<Message> for LoadBalancer {
    fn handle(&mut self, mut msg: Message, from: ActorId, ctx: &mut Ctx<'_, Message>) {
        match msg.kind {
            Kind::Request => {
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
