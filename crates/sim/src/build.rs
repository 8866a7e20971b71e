//! Turning a scenario into a world of parties: a loop over the topology table
//! (`topology.rs`), then the latencies, faults, clocks and timeline the scenario gives.

use hmasim_kernel::{ActorId, Latency, LinkFaults, SimDuration, SimTime, World};
use hmasim_protocol::{Body, Message, Url, UserAction};
use hmasim_scenario::{
    ActionKind, ClientKind, LatencyDist, MailProtocol, MailboxLocation, Scenario,
};

pub(crate) use hmasim_clients::setup::{client_auth, default_device, presented};
pub use hmasim_entra_id::setup::MICROSOFT_SERVICES;

use crate::topology::{Topology, Zone};
use crate::Party;

/// What the runner itself does at a point of the timeline (everything else is delivered
/// to the party concerned as a message).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RunnerAction {
    /// A party becomes unreachable.
    OutageStart(ActorId),
    /// It is reachable again.
    OutageEnd(ActorId),
    /// A configuration field changes (`KEY=VALUE`).
    Set(String),
    /// Messages from the first party to the second are lost from now on (`true`), or get
    /// through again (`false`).
    Cut(ActorId, ActorId, bool),
    /// A party crashes: volatile state lost, unreachable.
    Crash(ActorId),
    /// It restarts.
    Restart(ActorId),
}

/// A built world, with the names of its parties and where the clients are.
#[derive(Clone)]
pub struct Built {
    /// The world.
    pub world: World<Party, Message>,
    /// Party id strings, by actor index.
    pub names: Vec<String>,
    /// Timeline actions the runner applies itself, in time order.
    pub runner_actions: Vec<(SimTime, RunnerAction)>,
    /// Where each party sits (for latencies).
    pub(crate) zones: Vec<Zone>,
    /// Actor ids of the clients.
    pub clients: Vec<ActorId>,
}

/// Builds the world a scenario describes, seeded with `scenario.seed`: one actor per row
/// of the topology table, in its order, each keyed by its row's stable stream key.
pub fn build(sc: &Scenario) -> Built {
    let topology = Topology::of(sc);
    let mut world: World<Party, Message> = World::new(sc.seed);
    for (row, party) in topology.rows.iter().zip(topology.parties(sc)) {
        world.add_keyed(&row.key, party);
    }
    let zones: Vec<Zone> = topology.rows.iter().map(|r| r.zone).collect();
    let clients = (0..topology.rows.len())
        .filter(|i| topology.rows[*i].client.is_some())
        .map(|i| ActorId(i as u32))
        .collect();
    // Background jobs that run from the start, in actor order.
    let timers: Vec<_> = world
        .actors()
        .flat_map(|(id, p)| p.initial_timers().into_iter().map(move |t| (id, t)))
        .collect();
    for (actor, (after, msg)) in timers {
        world.schedule_timer(SimTime::ZERO + after, actor, msg);
    }
    // Then the timeline (events at one instant keep this order: the background timers,
    // then the timeline's entries).
    let runner_actions = schedule_timeline(sc, &mut world, &topology);
    // The table is done with: its names become the trace's.
    let names: Vec<String> = topology.rows.into_iter().map(|r| r.name).collect();
    apply_latencies(sc, &names, &zones, &mut world);
    for c in &sc.clocks {
        if let Some(i) = names.iter().position(|n| *n == c.party) {
            world.set_skew(ActorId(i as u32), c.skew.0.saturating_mul(1000));
        }
    }
    Built {
        world,
        names,
        clients,
        runner_actions,
        zones,
    }
}

/// Hands every running party of `built` its fresh configuration from `sc` (a scenario a
/// timeline `set` changed), derived through the table without building a world; each
/// keeps its state.
pub(crate) fn reconfigure(sc: &Scenario, built: &mut Built) {
    let table = Topology::of(sc);
    for (i, fresh) in table.parties(sc).enumerate() {
        built.world.actor_mut(ActorId(i as u32)).reconfigure(fresh);
    }
}

/// Latencies: a hop inside one site is fast; crossing the Internet costs the scenario's
/// latency. Scenario links override. Each party's zone is its latency class in the
/// kernel, so the network holds one entry per party and per pair of zones, not per pair
/// of parties.
pub(crate) fn apply_latencies(
    sc: &Scenario,
    names: &[String],
    zones: &[Zone],
    world: &mut World<Party, Message>,
) {
    let net = world.network_mut();
    net.clear_latencies();
    net.set_default_latency(SimDuration::from_millis(sc.network.latency_ms));
    net.set_default_jitter(SimDuration::from_millis(sc.network.jitter_ms));
    for (i, z) in zones.iter().enumerate() {
        net.set_class(ActorId(i as u32), z.class());
    }
    // Between two sites (and from a party to itself) the default: the Internet's.
    let all = [Zone::Internet, Zone::Intranet, Zone::Cloud, Zone::Onprem];
    for a in all {
        for b in all {
            if Zone::same_site(a, b) {
                net.set_class_latency(
                    a.class(),
                    b.class(),
                    SimDuration::from_millis(2),
                    SimDuration::from_micros(500),
                );
            }
        }
    }
    for l in &sc.network.links {
        let (Some(a), Some(b)) = (
            names.iter().position(|x| *x == l.from),
            names.iter().position(|x| *x == l.to),
        ) else {
            continue;
        };
        net.set_link(
            ActorId(a as u32),
            ActorId(b as u32),
            SimDuration::from_millis(l.latency_ms),
            SimDuration::from_millis(l.jitter_ms),
        );
    }
    // Injected faults (none configured: the network stays on its fault-free path).
    let f = &sc.network.faults;
    net.set_default_faults(link_faults(&f.defaults()));
    for l in &f.links {
        let (Some(a), Some(b)) = (
            names.iter().position(|x| *x == l.from),
            names.iter().position(|x| *x == l.to),
        ) else {
            continue;
        };
        net.set_link_faults(ActorId(a as u32), ActorId(b as u32), link_faults(&l.spec()));
    }
}

/// The kernel's view of a scenario's link faults.
fn link_faults(s: &hmasim_scenario::LinkFaultSpec) -> LinkFaults {
    let ms = SimDuration::from_millis;
    LinkFaults {
        latency: s.latency.map(|d| match d {
            LatencyDist::Fixed { ms: v } => Latency::Fixed(ms(v)),
            LatencyDist::Uniform { min_ms, max_ms } => Latency::Uniform {
                min: ms(min_ms),
                max: ms(max_ms),
            },
            LatencyDist::Normal { mean_ms, sd_ms } => Latency::Normal {
                mean: ms(mean_ms),
                sd: ms(sd_ms),
            },
            LatencyDist::LogNormal { median_ms, sigma } => Latency::LogNormal {
                median: ms(median_ms),
                sigma: sigma.0,
            },
        }),
        loss: s.loss.0,
        duplicate: s.duplicate.0,
        reorder: s.reorder,
    }
}

/// What Conditional Access knows of the tenant: named locations (with the MFA trusted
/// IPs), the geolocation table, and each user's groups and roles. Entra ID evaluates with
/// it, and `whatif` too, so both derive a sign-in's facts the same way.
pub fn ca_tenant(sc: &Scenario) -> hmasim_entra_id::ca::Tenant {
    hmasim_entra_id::setup::ca_tenant(sc)
}

/// How notes name a client's app.
fn app_name(kind: ClientKind) -> &'static str {
    match kind {
        ClientKind::OutlookDesktop => "Outlook desktop",
        ClientKind::OutlookMobile => "Outlook mobile",
        ClientKind::Browser => "the browser",
        ClientKind::NativeMail => "the mail app",
    }
}

/// Delivers each timeline action to the party it concerns; returns those the runner
/// applies itself (outages, configuration changes).
fn schedule_timeline(
    sc: &Scenario,
    world: &mut World<Party, Message>,
    topology: &Topology,
) -> Vec<(SimTime, RunnerAction)> {
    let mut runner = Vec::new();
    let mail_host = &sc.mail_host();
    let id_of = |name: &str| topology.id_of(name);
    let service = |name: &str| topology.id_of(name).expect("every world has its services");
    for a in &sc.timeline {
        let at = SimTime::from_millis(a.at.ms());
        let mut deliver = |to: ActorId, action: UserAction, summary: String| {
            world.schedule(
                at,
                to,
                to,
                Message::note(summary).with_body(Body::Action(action)),
            );
        };
        let client = a.client.as_deref().and_then(id_of);
        // Notes name the app the client is: Outlook mobile, Outlook desktop, the browser
        // or the device's own mail app.
        let app = client
            .and_then(|c| sc.clients.get(c.0 as usize))
            .map(|cl| app_name(cl.kind))
            .unwrap_or("the app");
        match (a.action, client) {
            (ActionKind::AddAccount, Some(c)) => deliver(
                c,
                UserAction::AddAccount,
                format!("the user adds the account in {app}"),
            ),
            (ActionKind::StartOutlook, Some(c)) => {
                deliver(c, UserAction::StartOutlook, format!("the user opens {app}"))
            }
            (ActionKind::OpenOwa, Some(c)) => {
                let user = sc
                    .clients
                    .get(c.0 as usize)
                    .and_then(|cl| sc.user(&cl.user));
                let url = match user.map(|u| u.mailbox) {
                    Some(MailboxLocation::Onprem) => Url::https(mail_host, "/owa/"),
                    _ => Url::https("outlook.office.com", "/owa/"),
                };
                deliver(
                    c,
                    UserAction::OpenOwa(url),
                    "the user opens Outlook on the web".into(),
                );
            }
            (ActionKind::SyncNow, Some(c)) => deliver(
                c,
                UserAction::SyncNow,
                format!("the user asks {app} to synchronize now"),
            ),
            (ActionKind::CloseOutlook, Some(c)) => deliver(
                c,
                UserAction::CloseOutlook,
                format!("the user closes {app}"),
            ),
            (ActionKind::SignIn, Some(c)) => deliver(
                c,
                UserAction::SignIn,
                format!("the user answers the sign-in prompt of {app}"),
            ),
            (ActionKind::ChangePassword, _) => {
                let upn = a.user.clone().unwrap_or_default();
                let password = a
                    .password
                    .clone()
                    .unwrap_or_else(|| format!("Changed@{}", a.at.ms()));
                deliver(
                    service("active-directory"),
                    UserAction::ChangePassword {
                        upn: upn.clone(),
                        password: password.clone(),
                    },
                    "the user's password is changed in Active Directory".into(),
                );
                for (i, c) in sc.clients.iter().enumerate() {
                    if c.user.eq_ignore_ascii_case(&upn) {
                        deliver(
                            ActorId(i as u32),
                            UserAction::NewPassword(password.clone()),
                            "the user now types the new password".into(),
                        );
                    }
                }
            }
            (ActionKind::DirectorySync, _) => deliver(
                service("active-directory"),
                UserAction::DirectorySync,
                "a directory synchronization cycle runs now".into(),
            ),
            (ActionKind::RotateEvostsKey, _) => deliver(
                service("entra-id"),
                UserAction::RotateKey,
                "EvoSTS rolls its signing key".into(),
            ),
            (ActionKind::RefreshAuthMetadata, _) => deliver(
                service("exchange-onprem"),
                UserAction::RefreshAuthMetadata,
                "the admin runs Set-AuthServer EvoSts -RefreshAuthMetadata".into(),
            ),
            (ActionKind::Outage, _) => {
                if let Some(p) = a.party.as_deref().and_then(id_of) {
                    runner.push((at, RunnerAction::OutageStart(p)));
                    if let Some(until) = a.until {
                        runner.push((SimTime::from_millis(until.ms()), RunnerAction::OutageEnd(p)));
                    }
                }
            }
            (ActionKind::Partition, _) => {
                if let (Some(from), Some(to)) = (
                    a.from.as_deref().and_then(id_of),
                    a.to.as_deref().and_then(id_of),
                ) {
                    let two_way = a.two_way.unwrap_or(false);
                    let end = a.until.map(|u| SimTime::from_millis(u.ms()));
                    runner.push((at, RunnerAction::Cut(from, to, true)));
                    if two_way {
                        runner.push((at, RunnerAction::Cut(to, from, true)));
                    }
                    if let Some(end) = end {
                        runner.push((end, RunnerAction::Cut(from, to, false)));
                        if two_way {
                            runner.push((end, RunnerAction::Cut(to, from, false)));
                        }
                    }
                }
            }
            (ActionKind::Crash, _) => {
                if let Some(p) = a.party.as_deref().and_then(id_of) {
                    runner.push((at, RunnerAction::Crash(p)));
                    if let Some(until) = a.until {
                        runner.push((SimTime::from_millis(until.ms()), RunnerAction::Restart(p)));
                    }
                }
            }
            (ActionKind::Set, _) => runner.push((
                at,
                RunnerAction::Set(format!(
                    "{}={}",
                    a.key.clone().unwrap_or_default(),
                    a.value.clone().unwrap_or_default()
                )),
            )),
            _ => {}
        }
    }
    runner.sort_by_key(|(t, _)| *t);
    runner
}

/// The protocol a scenario's mail protocol is on the wire.
pub(crate) fn wire_protocol(p: MailProtocol) -> hmasim_protocol::MailboxProtocol {
    p.wire()
}
