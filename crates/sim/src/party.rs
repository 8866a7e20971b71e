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
use hmasim_kernel::{Actor, ActorId, Ctx, SimDuration, SimTime, TimerId};
use hmasim_load_balancer::LoadBalancer;
use hmasim_protocol::{Env, Label, Message, Meta, Route};
use hmasim_wap::Wap;
use rand::RngCore;

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

    /// The timers of the background jobs the party runs from the start (Exchange's
    /// metadata refresh, Entra Connect's sync cycle).
    pub fn initial_timers(&self) -> Vec<(SimDuration, Message)> {
        match self {
            Party::ExchangeOnprem(p) => p.initial_timers(),
            Party::ActiveDirectory(p) => p.initial_timers(),
            _ => Vec::new(),
        }
    }
}

/// The simulator's [`Env`]: a party's handler running over the kernel's [`Ctx`]. The
/// return route is the sender's actor, which the party only sees as an opaque [`Route`];
/// the random stream is the party's own stable stream (`World::add_keyed`), drawn in the
/// same order as the kernel's `Ctx::rng` was, so traces stay the same.
pub struct SimEnv<'a, 'c> {
    ctx: &'a mut Ctx<'c, Message>,
    caller: ActorId,
    handled: Meta,
}

impl<'a, 'c> SimEnv<'a, 'c> {
    /// The environment of a handler called with a message from `caller`.
    pub fn new(ctx: &'a mut Ctx<'c, Message>, caller: ActorId) -> Self {
        SimEnv {
            ctx,
            caller,
            handled: Meta::default(),
        }
    }
    /// The same environment, handling a message with trace metadata `meta`: what a
    /// [`Message::same_stage`] or [`Message::relayed`] send takes, and what
    /// [`Env::label`] gives. The party never sees it.
    pub fn handling(mut self, meta: Meta) -> Self {
        self.handled = meta;
        self
    }
}

impl Env for SimEnv<'_, '_> {
    fn now(&self) -> SimTime {
        self.ctx.now()
    }
    fn skew_micros(&self) -> i64 {
        self.ctx.skew_micros()
    }
    fn next_u64(&mut self) -> u64 {
        self.ctx.rng().next_u64()
    }
    fn fill_bytes(&mut self, dst: &mut [u8]) {
        self.ctx.rng().fill_bytes(dst);
    }
    fn send(&mut self, to: Route, mut msg: Message) {
        msg.settle(&self.handled);
        self.ctx.send(to.actor(), msg);
    }
    fn caller(&self) -> Route {
        Route::to_actor(self.caller)
    }
    fn label(&self) -> Label {
        Label::of(&self.handled)
    }
    fn issued_label(&self, token: &str) -> Option<String> {
        self.handled.issued_label(token)
    }
    fn timer(&mut self, delay: SimDuration, msg: Message) -> TimerId {
        self.ctx.timer(delay, msg)
    }
    fn cancel(&mut self, id: TimerId) -> bool {
        self.ctx.cancel(id)
    }
    fn note(&mut self, msg: Message) {
        self.ctx.note(msg);
    }
}

impl Actor<Message> for Party {
    fn restart(&mut self, ctx: &mut Ctx<'_, Message>) {
        let me = ctx.me();
        let env = &mut SimEnv::new(ctx, me);
        match self {
            Party::Client(p) => p.restart(),
            Party::AutoDetect(p) => p.restart(),
            Party::ExchangeOnline(p) => p.restart(),
            Party::Translator(p) => p.restart(),
            Party::Mrs(p) => p.restart(env),
            Party::ExchangeOnprem(p) => p.restart(),
            Party::LoadBalancer(p) => p.restart(),
            Party::EntraId(p) => p.restart(),
            Party::Adfs(p) => p.restart(),
            Party::Wap(p) => p.restart(),
            Party::ActiveDirectory(p) => p.restart(),
        }
    }

    fn handle(&mut self, msg: Message, from: ActorId, ctx: &mut Ctx<'_, Message>) {
        // The party gets the wire part only; the metadata stays with its environment.
        let (msg, meta) = msg.split();
        let env = &mut SimEnv::new(ctx, from).handling(meta);
        match self {
            Party::Client(p) => p.handle(msg, env),
            Party::AutoDetect(p) => p.handle(msg, env),
            Party::ExchangeOnline(p) => p.handle(msg, env),
            Party::Translator(p) => p.handle(msg, env),
            Party::Mrs(p) => p.handle(msg, env),
            Party::ExchangeOnprem(p) => p.handle(msg, env),
            Party::LoadBalancer(p) => p.handle(msg, env),
            Party::EntraId(p) => p.handle(msg, env),
            Party::Adfs(p) => p.handle(msg, env),
            Party::Wap(p) => p.handle(msg, env),
            Party::ActiveDirectory(p) => p.handle(msg, env),
        }
    }
}
