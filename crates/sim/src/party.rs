//! Every party as one enum, so the world is plain, cloneable data.

use hmasim_active_directory::ActiveDirectory;
use hmasim_adfs::Adfs;
use hmasim_autodetect::AutoDetect;
use hmasim_clients::Client;
use hmasim_entra_id::EntraId;
use hmasim_exchange_online::mrs::Mrs;
use hmasim_exchange_online::translator::ProtocolTranslator;
use hmasim_exchange_online::ExchangeOnline;
use hmasim_exchange_onprem::ExchangeOnprem;
use hmasim_kernel::{Actor, ActorId, Ctx};
use hmasim_load_balancer::LoadBalancer;
use hmasim_protocol::Message;
use hmasim_wap::Wap;

/// One party of the world.
#[derive(Clone, Debug)]
#[allow(clippy::large_enum_variant)]
pub enum Party {
    /// Outlook desktop, Outlook mobile or a browser.
    Client(Client),
    /// AutoDetect.
    AutoDetect(AutoDetect),
    /// Exchange Online.
    ExchangeOnline(ExchangeOnline),
    /// The protocol translator.
    Translator(ProtocolTranslator),
    /// The MRS provisioning API.
    Mrs(Mrs),
    /// Exchange on-premises.
    ExchangeOnprem(ExchangeOnprem),
    /// The load balancer.
    LoadBalancer(LoadBalancer),
    /// Entra ID.
    EntraId(EntraId),
    /// AD FS.
    Adfs(Adfs),
    /// Web Application Proxy.
    Wap(Wap),
    /// Active Directory.
    ActiveDirectory(ActiveDirectory),
}

impl Party {
    /// Takes the configuration of `fresh` (the same party built from a changed scenario),
    /// keeping the run's state: sessions, tokens, caches, requests in flight.
    pub fn reconfigure(&mut self, fresh: Party) {
        match (self, fresh) {
            (Party::Client(p), Party::Client(f)) => p.reconfigure(f),
            (Party::AutoDetect(p), Party::AutoDetect(f)) => p.reconfigure(f),
            (Party::ExchangeOnline(p), Party::ExchangeOnline(f)) => p.reconfigure(f),
            (Party::Translator(p), Party::Translator(f)) => p.reconfigure(f),
            (Party::Mrs(p), Party::Mrs(f)) => p.reconfigure(f),
            (Party::ExchangeOnprem(p), Party::ExchangeOnprem(f)) => p.reconfigure(f),
            (Party::LoadBalancer(p), Party::LoadBalancer(f)) => p.reconfigure(f),
            (Party::EntraId(p), Party::EntraId(f)) => p.reconfigure(f),
            (Party::Adfs(p), Party::Adfs(f)) => p.reconfigure(f),
            (Party::Wap(p), Party::Wap(f)) => p.reconfigure(f),
            (Party::ActiveDirectory(p), Party::ActiveDirectory(f)) => p.reconfigure(f),
            // The world builder adds parties in a fixed order: kinds always pair up.
            _ => {}
        }
    }
}

impl Actor<Message> for Party {
    fn restart(&mut self, ctx: &mut Ctx<'_, Message>) {
        match self {
            Party::Client(p) => p.restart(ctx),
            Party::AutoDetect(p) => p.restart(),
            Party::ExchangeOnline(p) => p.restart(),
            Party::Translator(p) => p.restart(),
            Party::Mrs(p) => p.restart(ctx),
            Party::ExchangeOnprem(p) => p.restart(),
            Party::LoadBalancer(p) => p.restart(),
            Party::EntraId(p) => p.restart(ctx),
            Party::Adfs(p) => p.restart(ctx),
            Party::Wap(p) => p.restart(),
            Party::ActiveDirectory(p) => p.restart(),
        }
    }

    fn handle(&mut self, msg: Message, from: ActorId, ctx: &mut Ctx<'_, Message>) {
        match self {
            Party::Client(p) => p.handle(msg, from, ctx),
            Party::AutoDetect(p) => p.handle(msg, from, ctx),
            Party::ExchangeOnline(p) => p.handle(msg, from, ctx),
            Party::Translator(p) => p.handle(msg, from, ctx),
            Party::Mrs(p) => p.handle(msg, from, ctx),
            Party::ExchangeOnprem(p) => p.handle(msg, from, ctx),
            Party::LoadBalancer(p) => p.handle(msg, from, ctx),
            Party::EntraId(p) => p.handle(msg, from, ctx),
            Party::Adfs(p) => p.handle(msg, from, ctx),
            Party::Wap(p) => p.handle(msg, from, ctx),
            Party::ActiveDirectory(p) => p.handle(msg, from, ctx),
        }
    }
}
