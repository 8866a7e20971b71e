//! The stateless protocol translator between Outlook mobile and Exchange Online: it turns
//! the client's device protocol into requests Exchange Online understands and relays the
//! answers back.

use hmasim_protocol::{Env, Route};
use hmasim_protocol::{Kind, Message, Net, Relay, Url};

/// The `protocol-translator` party.
#[derive(Clone, Debug)]
pub struct ProtocolTranslator {
    mrs: Route,
    relay: Relay,
    net: Net,
}

impl ProtocolTranslator {
    /// A translator passing provisioning requests to `mrs`.
    pub fn new(mrs: Route) -> Self {
        ProtocolTranslator {
            mrs,
            relay: Relay::default(),
            net: Net::default(),
        }
    }
}

impl ProtocolTranslator {
    /// Takes the configuration of `fresh`, keeping requests in flight.
    pub fn reconfigure(&mut self, fresh: ProtocolTranslator) {
        self.mrs = fresh.mrs;
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
    pub fn handle(&mut self, mut msg: Message, ctx: &mut impl Env) {
        match msg.kind {
            Kind::Request => {
                msg.url = Some(Url::https(
                    "outlook.office365.com",
                    "/ProvisioningApi/provision",
                ));
                let conv = self.net.conv();
                self.relay.forward(ctx, self.mrs, msg, conv);
            }
            Kind::Response | Kind::Redirect => {
                self.relay.answer(ctx, msg);
            }
            _ => {}
        }
    }
}
