//! Sending HTTP-shaped messages: name resolution, correlation ids, relaying.

use std::collections::BTreeMap;

use hmasim_kernel::{ActorId, Ctx};

use crate::{Directory, Message};

/// A party's view of the network: its directory and a correlation-id counter.
#[derive(Clone, Debug, Default)]
pub struct Net {
    /// Who answers for which host, from this party.
    pub directory: Directory,
    next_conv: u64,
}

/// A host name this party cannot reach.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Unreachable(pub String);

impl Net {
    /// A view of the network through `directory`.
    pub fn new(directory: Directory) -> Net {
        Net {
            directory,
            next_conv: 0,
        }
    }

    /// A fresh correlation id.
    pub fn conv(&mut self) -> u64 {
        self.next_conv += 1;
        self.next_conv
    }

    /// Sends request `msg` to the actor answering for its URL's host. Gives `msg` a fresh
    /// correlation id and returns it, or the host when it does not resolve.
    pub fn request(
        &mut self,
        ctx: &mut Ctx<'_, Message>,
        mut msg: Message,
    ) -> Result<u64, Unreachable> {
        let host = msg.url.as_ref().map(|u| u.host.as_str()).unwrap_or("");
        let Some(to) = self.directory.resolve(host) else {
            return Err(Unreachable(host.to_string()));
        };
        let conv = self.conv();
        msg.conv = conv;
        ctx.send(to, msg);
        Ok(conv)
    }
}

/// The bookkeeping of a relay (reverse proxy, load balancer, protocol translator): which
/// downstream request each upstream request stands for.
#[derive(Clone, Debug, Default)]
pub struct Relay {
    pending: BTreeMap<u64, (ActorId, u64)>,
}

impl Relay {
    /// Forwards request `req` (received from `from`) to `upstream`; remember where the answer
    /// goes. `next_conv` is the relay's fresh correlation id for the upstream leg.
    pub fn forward(
        &mut self,
        ctx: &mut Ctx<'_, Message>,
        from: ActorId,
        upstream: ActorId,
        mut req: Message,
        next_conv: u64,
    ) {
        self.pending.insert(next_conv, (from, req.conv));
        req.conv = next_conv;
        ctx.send(upstream, req);
    }

    /// Relays a response from upstream back to whoever asked. Returns `false` when the
    /// response answers nothing pending (it is then dropped).
    pub fn answer(&mut self, ctx: &mut Ctx<'_, Message>, mut resp: Message) -> bool {
        match self.pending.remove(&resp.conv) {
            Some((to, conv)) => {
                resp.conv = conv;
                // The relay passes the tokens on; it did not mint them.
                resp.issued.clear();
                ctx.send(to, resp);
                true
            }
            None => false,
        }
    }

    /// Requests awaiting an answer.
    pub fn in_flight(&self) -> usize {
        self.pending.len()
    }

    /// Forgets every request in flight (the relay restarted).
    pub fn clear(&mut self) {
        self.pending.clear();
    }
}
