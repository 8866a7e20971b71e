//! Web Application Proxy: the AD FS proxy, and the publishing of Exchange's namespaces,
//! pass-through or with AD FS pre-authentication. Requests it forwards to AD FS carry
//! `X-MS-Proxy`, which is how AD FS tells extranet sign-ins from intranet ones. Outlook on
//! the web (and ECP), when Exchange uses AD FS claims-based authentication, is published
//! with pre-authentication: an unauthenticated request is redirected to AD FS for the OWA
//! relying party, and the browser's POST of the AD FS token goes through to Exchange,
//! which verifies it (the proxy does not check the token itself).
#![deny(missing_docs)]

use hmasim_protocol::headers;
pub mod setup;
use std::collections::BTreeSet;

use hmasim_protocol::FaultCode;
use hmasim_protocol::Wire;
use hmasim_protocol::{Directory, Fault, Kind, Message, Net, Relay, Stage, Url};
use hmasim_protocol::{Env, Route};

/// The `wap` party.
#[derive(Clone, Debug)]
pub struct Wap {
    /// Published hosts and the backend that answers each (AD FS, the load balancer).
    published: Directory,
    /// Whether it proxies the federation service at `adfs_host`.
    proxies_adfs: bool,
    adfs_host: String,
    name: String,
    preauthentication: bool,
    /// OWA and ECP are published with AD FS pre-authentication for this relying party.
    owa_preauth: Option<String>,
    /// Source addresses refused for the published applications.
    blocked_sources: BTreeSet<std::net::IpAddr>,
    relay: Relay,
    net: Net,
}

impl Wap {
    /// A proxy publishing `published`; with `proxies_adfs` it proxies for the federation
    /// service at `adfs_host` (told apart from the applications by the host asked for).
    pub fn new(published: Directory, proxies_adfs: bool, adfs_host: &str, name: &str) -> Self {
        Wap {
            published,
            proxies_adfs,
            adfs_host: adfs_host.to_string(),
            name: name.to_string(),
            preauthentication: false,
            owa_preauth: None,
            blocked_sources: BTreeSet::new(),
            relay: Relay::default(),
            net: Net::default(),
        }
    }

    /// Publishes the applications with AD FS pre-authentication instead of pass-through.
    pub fn preauthenticating(mut self, on: bool) -> Self {
        self.preauthentication = on;
        self
    }

    /// Publishes OWA and ECP with AD FS pre-authentication for the relying party `realm`
    /// (the OWA claims-based authentication trust), or pass-through with `None`.
    pub fn preauthenticating_owa(mut self, realm: Option<String>) -> Self {
        self.owa_preauth = realm;
        self
    }

    /// Refuses connections from these source addresses (IP restrictions at the edge);
    /// `net` is the network view that shows each connection's source address.
    pub fn blocking(mut self, sources: BTreeSet<std::net::IpAddr>, net: Net) -> Self {
        self.blocked_sources = sources;
        self.net = net;
        self
    }

    /// Takes the configuration of `fresh`, keeping requests in flight.
    pub fn reconfigure(&mut self, mut fresh: Wap) {
        let (relay, mut net) = (
            std::mem::take(&mut self.relay),
            std::mem::take(&mut self.net),
        );
        net.adopt(std::mem::take(&mut fresh.net));
        *self = Wap {
            relay,
            net,
            ..fresh
        };
    }
}

/// The party runs on anything that implements [`Env`] (the simulator's `SimEnv` does):
/// `hmasim-sim`'s `Party` calls these two as its `Actor` implementation.
impl Wap {
    /// Requests in flight are forgotten: their senders time out and retry.
    pub fn restart(&mut self) {
        self.relay.clear();
    }

    /// Handles one message (or timer) from `from`.
    pub fn handle(&mut self, mut msg: Wire, ctx: &mut impl Env) {
        let from = ctx.caller();
        match msg.kind {
            Kind::Request => {
                let host = msg.url.as_ref().map(|u| u.host.clone()).unwrap_or_default();
                let to_adfs = self.proxies_adfs && host.eq_ignore_ascii_case(&self.adfs_host);
                let to_app = self.published.resolve(&host).filter(|_| !to_adfs);
                let source = self.net.source(from);
                if source.is_some_and(|a| self.blocked_sources.contains(&a)) && to_app.is_some() {
                    let reply = Message::ip_rejected(&msg, "wap");
                    return ctx.send(from, reply);
                }
                let has_cookie = msg
                    .header_value(&headers::COOKIE)
                    .is_some_and(|c| c.contains("EdgeAccessCookie"));
                if self.preauthentication && to_app.is_some() && !has_cookie {
                    let loc = Url::https(&self.adfs_host, "/adfs/ls/")
                        .with("wa", "wsignin1.0")
                        .with("wtrealm", "urn:AppProxy:com")
                        .with(
                            "wctx",
                            msg.url.as_ref().map(|u| u.to_string()).unwrap_or_default(),
                        );
                    let reply = Message::redirect(
                        &msg,
                        loc,
                        "WAP pre-authentication: unauthenticated requests go to AD FS first",
                    )
                    .same_stage();
                    return ctx.send(from, reply);
                }
                if let (Some(realm), Some(_), Some(url)) = (&self.owa_preauth, to_app, &msg.url) {
                    let web_app = url.path_starts_with("/owa") || url.path_starts_with("/ecp");
                    let posts_token = msg.form().is_some_and(|f| f.get("wresult").is_some());
                    if web_app && !has_cookie && !posts_token {
                        let loc = Url::https(&self.adfs_host, "/adfs/ls/")
                            .with("wa", "wsignin1.0")
                            .with("wtrealm", realm.clone())
                            .with("wctx", format!("rm=0&id=passive&ru={}", url.path));
                        let reply = Message::redirect(
                            &msg,
                            loc,
                            "WAP pre-authenticates Outlook on the web: it redirects to AD FS",
                        )
                        .at(Stage::RedirectToIdp);
                        return ctx.send(from, reply);
                    }
                }
                match self.published.resolve(&host).map(Route::to_actor) {
                    Some(backend) => {
                        if to_adfs {
                            msg.headers
                                .push((headers::X_MS_PROXY.clone(), self.name.clone()));
                        }
                        let conv = self.net.conv();
                        self.relay.forward(ctx, backend, msg, conv);
                    }
                    None => {
                        let fault = Fault {
                            code: FaultCode::NotPublished,
                            party: "wap",
                            message: format!(
                                "{host} is not published by the Web Application Proxy"
                            ),
                            diagnostics: "HTTP 404: the requested URL was not found on the proxy"
                                .into(),
                            symptom: None,
                        };
                        let reply = Message::response(&msg, 404, "not published")
                            .same_stage()
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

#[cfg(test)]
mod tests {
    use hmasim_base::ActorId;
    use hmasim_protocol::env::Recording;
    use hmasim_protocol::Method;

    use super::*;

    #[test]
    fn it_marks_requests_for_the_federation_host_as_proxied_by_name() {
        let (adfs, lb, client) = (ActorId(1), ActorId(2), ActorId(9));
        let mut published = Directory::new();
        published.insert("sts.contoso.com", adfs);
        published.insert("mail.contoso.com", lb);
        let mut wap = Wap::new(published, true, "sts.contoso.com", "WAP01");
        let mut env = Recording::new(Route::to_actor(client));
        for host in ["sts.contoso.com", "mail.contoso.com"] {
            let req = Message::request(Method::GET, Url::https(host, "/adfs/ls/"), 1, "GET");
            wap.handle(req.wire, &mut env);
        }
        let seen: Vec<_> = env
            .sent
            .iter()
            .map(|(to, m)| (to.actor(), m.header_value(&headers::X_MS_PROXY).is_some()))
            .collect();
        assert_eq!(seen, vec![(adfs, true), (lb, false)]);
    }
}
