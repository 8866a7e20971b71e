//! The stateless protocol translator between Outlook mobile and Exchange Online: it turns
//! the client's device protocol into requests Exchange Online understands and relays the
//! answers back.

use hmasim_kernel::{Actor, ActorId, Ctx};
use hmasim_protocol::{Kind, Message, Net, Relay, Url};

/// The `protocol-translator` party.
#[derive(Clone, Debug)]
pub struct ProtocolTranslator {
    mrs: ActorId,
    relay: Relay,
    net: Net,
}

impl ProtocolTranslator {
    /// A translator passing provisioning requests to `mrs`.
    pub fn new(mrs: ActorId) -> Self {
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

impl Actor<Message> for ProtocolTranslator {
    /// Requests in flight are forgotten: their senders time out and retry.
    fn restart(&mut self, _ctx: &mut Ctx<'_, Message>) {
        self.relay.clear();
    }

    fn handle(&mut self, mut msg: Message, from: ActorId, ctx: &mut Ctx<'_, Message>) {
        match msg.kind {
            Kind::Request => {
                msg.url = Some(Url::https(
                    "outlook.office365.com",
                    "/ProvisioningApi/provision",
                ));
                let conv = self.net.conv();
                self.relay.forward(ctx, from, self.mrs, msg, conv);
            }
            Kind::Response | Kind::Redirect => {
                self.relay.answer(ctx, msg);
            }
            _ => {}
        }
    }
}
