//! Web Application Proxy: the AD FS proxy, and pass-through publishing of Exchange's
//! namespaces. Requests it forwards to AD FS carry `X-MS-Proxy`, which is how AD FS tells
//! extranet sign-ins from intranet ones.
#![deny(missing_docs)]

use hmasim_kernel::{Actor, ActorId, Ctx};
use hmasim_protocol::{Directory, Fault, Kind, Message, Net, Relay};

/// The `wap` party.
#[derive(Clone, Debug)]
pub struct Wap {
    /// Published hosts and the backend that answers each (AD FS, the load balancer).
    published: Directory,
    adfs: Option<ActorId>,
    name: String,
    relay: Relay,
    net: Net,
}

impl Wap {
    /// A proxy publishing `published`; `adfs` is the federation service it proxies for.
    pub fn new(published: Directory, adfs: Option<ActorId>, name: &str) -> Self {
        Wap {
            published,
            adfs,
            name: name.to_string(),
            relay: Relay::default(),
            net: Net::default(),
        }
    }
}

impl Actor<Message> for Wap {
    fn handle(&mut self, mut msg: Message, from: ActorId, ctx: &mut Ctx<'_, Message>) {
        match msg.kind {
            Kind::Request => {
                let host = msg.url.as_ref().map(|u| u.host.clone()).unwrap_or_default();
                match self.published.resolve(&host) {
                    Some(backend) => {
                        if Some(backend) == self.adfs {
                            msg.headers.push(("X-MS-Proxy", self.name.clone()));
                        }
                        let conv = self.net.conv();
                        self.relay.forward(ctx, from, backend, msg, conv);
                    }
                    None => {
                        let fault = Fault {
                            code: "not_published".into(),
                            party: "wap",
                            message: format!(
                                "{host} is not published by the Web Application Proxy"
                            ),
                            diagnostics: "HTTP 404: the requested URL was not found on the proxy"
                                .into(),
                            symptom: None,
                        };
                        let reply = Message::response(&msg, 404, "not published")
                            .at_opt(msg.stage)
                            .with_fault(fault);
                        ctx.send(from, reply);
                    }
                }
            }
            Kind::Response | Kind::Redirect => {
                self.relay.answer(ctx, msg);
            }
            _ => {}
        }
    }
}
