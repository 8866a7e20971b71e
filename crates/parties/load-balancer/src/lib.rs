//! The load balancer in front of Exchange on-premises. With TLS bridging it re-encrypts
//! and Exchange sees the `https://` URL the client used; with TLS offloading it forwards in
//! clear and Exchange sees `http://`, which is what breaks the audience check of OAuth
//! tokens (flows.md, TLS offloading).
#![deny(missing_docs)]

use hmasim_protocol::headers;
use hmasim_protocol::line::session::LineProtocol;
pub mod setup;
use std::collections::BTreeSet;
use std::net::IpAddr;

use hmasim_protocol::challenge::Credentials;
use hmasim_protocol::Env;
use hmasim_protocol::Wire;
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
    intercepts_unauthenticated: bool,
    /// Source addresses refused at the edge (the connection's address, as its network
    /// shows it).
    blocked_sources: BTreeSet<IpAddr>,
    relay: Relay,
    net: Net,
}

impl LoadBalancer {
    /// A load balancer forwarding each request by the host it was addressed as, through
    /// `net`: its pool (the virtual servers' host names and the member answering each) and
    /// the source address of each connection.
    pub fn new(tls: Tls, net: Net) -> Self {
        LoadBalancer {
            tls,
            intercepts_unauthenticated: false,
            blocked_sources: BTreeSet::new(),
            relay: Relay::default(),
            net,
        }
    }

    /// Answers unauthenticated requests itself with a bare 401 (no `WWW-Authenticate`), as an
    /// authentication profile on the device does.
    pub fn intercepting_unauthenticated(mut self, on: bool) -> Self {
        self.intercepts_unauthenticated = on;
        self
    }

    /// Refuses connections from these source addresses (IP restrictions at the edge).
    pub fn blocking(mut self, sources: BTreeSet<IpAddr>) -> Self {
        self.blocked_sources = sources;
        self
    }

    /// Takes the configuration of `fresh`, keeping requests in flight.
    pub fn reconfigure(&mut self, fresh: LoadBalancer) {
        self.tls = fresh.tls;
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
    pub fn handle(&mut self, mut msg: Wire, ctx: &mut impl Env) {
        let from = ctx.caller();
        match msg.kind {
            Kind::Request => {
                let source = self.net.source(from);
                if source.is_some_and(|a| self.blocked_sources.contains(&a)) {
                    return ctx.send(from, Message::ip_rejected(&msg, "load-balancer"));
                }
                // An IMAP or POP session authenticates inside its lines, not in an HTTP
                // header: the HTTP interception does not apply to it.
                // (Read only when the rule is on: most requests carry a token.)
                let unauthenticated = || {
                    msg.line.is_none()
                        && matches!(
                            msg.header_value(&headers::AUTHORIZATION)
                                .and_then(Credentials::parse),
                            None | Some(Credentials::EmptyBearer)
                        )
                };
                if self.intercepts_unauthenticated && unauthenticated() {
                    let reply = Message::response(
                        &msg,
                        401,
                        "the load balancer answers the unauthenticated request itself",
                    )
                    .same_stage()
                    .header(&headers::SERVER, "BigIP")
                    .header(&headers::CONTENT_LENGTH, "0");
                    return ctx.send(from, reply);
                }
                if self.tls == Tls::Offloading {
                    if let Some(u) = msg.url.as_mut() {
                        // TLS ends here: the pool member sees the clear-text scheme.
                        u.scheme = match u.line_protocol() {
                            Some(LineProtocol::Imap) => "imap",
                            Some(LineProtocol::Pop) => "pop3",
                            None => "http",
                        }
                        .into();
                    }
                }
                if let Err(msg) = self.relay.forward_by_host(ctx, &mut self.net, msg) {
                    let host = msg.url.as_ref().map(|u| u.host.as_str()).unwrap_or("");
                    let reply = Message::response(
                        &msg,
                        503,
                        "the load balancer has no pool member for this host",
                    )
                    .same_stage()
                    .with_encoded(hmasim_protocol::codec::Encoded::new(
                        hmasim_protocol::codec::ContentType::Text,
                        format!("no virtual server for {host}").into_bytes(),
                    ));
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

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::sync::Arc;

    use hmasim_base::ActorId;
    use hmasim_protocol::env::Recording;
    use hmasim_protocol::{Directory, Method, Route, Stage, StatusCode, Url};

    use super::*;

    const MAIL: ActorId = ActorId(1);
    const AUTODISCOVER: ActorId = ActorId(2);
    const BLOCKED: ActorId = ActorId(8);
    const ALLOWED: ActorId = ActorId(9);

    /// A load balancer with two virtual servers, seeing two callers' source addresses, and
    /// refusing the first caller's.
    fn lb() -> LoadBalancer {
        let mut pool = Directory::new();
        pool.insert("mail.contoso.com", MAIL);
        pool.insert("autodiscover.contoso.com", AUTODISCOVER);
        let peers = BTreeMap::from([
            (BLOCKED, "40.0.0.1".parse().unwrap()),
            (ALLOWED, "203.0.113.5".parse().unwrap()),
        ]);
        LoadBalancer::new(Tls::Bridging, Net::new(pool).with_peers(Arc::new(peers)))
            .blocking(BTreeSet::from(["40.0.0.1".parse().unwrap()]))
    }

    fn get(host: &str) -> Message {
        Message::request(
            Method::GET,
            Url::https(host, "/EWS/Exchange.asmx"),
            5,
            "GET",
        )
    }

    #[test]
    fn it_forwards_by_the_host_asked_for_and_answers_the_caller() {
        let mut lb = lb();
        let mut env = Recording::new(Route::to_actor(ALLOWED));
        lb.handle((get("autodiscover.contoso.com")).wire, &mut env);
        lb.handle((get("mail.contoso.com")).wire, &mut env);
        let to: Vec<_> = env.sent.iter().map(|(r, _)| r.actor()).collect();
        assert_eq!(to, vec![AUTODISCOVER, MAIL]);
        // The backend's answer goes back to the caller with the caller's correlation id.
        let upstream = env.sent[1].1.clone();
        env.caller = Route::to_actor(MAIL);
        lb.handle((Message::response(&upstream, 200, "ok")).wire, &mut env);
        let (to, resp) = env.sent.last().unwrap();
        assert_eq!((to.actor(), resp.conv), (ALLOWED, 5));
    }

    #[test]
    fn it_refuses_by_the_connections_source_address() {
        let mut lb = lb();
        let mut env = Recording::new(Route::to_actor(BLOCKED));
        lb.handle((get("mail.contoso.com")).wire, &mut env);
        let (to, reply) = &env.sent[0];
        assert_eq!(
            (to.actor(), reply.status),
            (BLOCKED, Some(StatusCode::FORBIDDEN))
        );
    }

    #[test]
    fn a_host_without_a_virtual_server_is_answered_503() {
        let mut lb = lb();
        let mut env = Recording::new(Route::to_actor(ALLOWED));
        lb.handle((get("owa.fabrikam.com")).wire, &mut env);
        let (to, reply) = &env.sent[0];
        assert_eq!(
            (to.actor(), reply.status),
            (ALLOWED, Some(StatusCode::SERVICE_UNAVAILABLE))
        );
    }

    #[test]
    fn its_own_answer_takes_the_stage_the_environment_is_handling() {
        let mut lb = lb();
        let mut env = Recording::new(Route::to_actor(ALLOWED));
        env.handled.stage = Some(Stage::ClientConnects);
        lb.handle((get("owa.fabrikam.com")).wire, &mut env);
        assert_eq!(env.sent[0].1.meta.stage, Some(Stage::ClientConnects));
    }
}
