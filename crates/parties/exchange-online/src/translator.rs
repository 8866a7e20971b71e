//! The stateless protocol translator between Outlook mobile and Exchange Online: it turns
//! the client's device protocol into requests Exchange Online understands and relays the
//! answers back.

use hmasim_protocol::Env;
use hmasim_protocol::Wire;
use hmasim_protocol::{Kind, Message, Net, Relay, Url};

/// The `protocol-translator` party.
#[derive(Clone, Debug)]
pub struct ProtocolTranslator {
    relay: Relay,
    net: Net,
}

impl ProtocolTranslator {
    /// A translator passing provisioning requests to Exchange Online's provisioning API,
    /// found through `net` (its view of the network).
    pub fn new(net: Net) -> Self {
        ProtocolTranslator {
            relay: Relay::default(),
            net,
        }
    }
}

impl ProtocolTranslator {
    /// Takes the configuration of `fresh`, keeping requests in flight.
    pub fn reconfigure(&mut self, fresh: ProtocolTranslator) {
        self.net.adopt(fresh.net);
    }
}

/// The party runs on anything that implements [`Env`] (the simulator's `SimEnv` does):
/// `hmasim-sim`'s `Party` calls these two as its `Actor` implementation.
impl ProtocolTranslator {
    /// Requests in flight are forgotten: their senders time out and retry.
    pub fn restart(&mut self) {
        self.relay.clear();
    }

    /// Handles one message (or timer) from `from`.
    pub fn handle(&mut self, mut msg: Wire, ctx: &mut impl Env) {
        match msg.kind {
            Kind::Request => {
                msg.url = Some(Url::https(
                    "outlook.office365.com",
                    "/ProvisioningApi/provision",
                ));
                if let Err(msg) = self.relay.forward_by_host(ctx, &mut self.net, msg) {
                    let reply =
                        Message::response(&msg, 502, "the provisioning API does not resolve")
                            .same_stage();
                    ctx.answer(reply);
                }
            }
            Kind::Response | Kind::Redirect => {
                self.relay.answer(ctx, msg);
            }
            _ => {}
        }
    }
}
