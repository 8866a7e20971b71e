//! The topology table (issue 12 item 5): every party of a world in one row, with its
//! stable id, its random stream's key, where it sits, the address it connects from, the
//! name-resolution view it sends through, the host names it answers for (in which views)
//! and the function that builds it from the scenario. The world builder is a loop over
//! the rows; name resolution, latencies, faults, partitions and the `check --topology`
//! listing all read the same table, so a party is added in one row.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::net::IpAddr;
use std::sync::Arc;

use hmasim_active_directory::ActiveDirectory;
use hmasim_adfs::Adfs;
use hmasim_autodetect::AutoDetect;
use hmasim_clients::setup::{AUTODETECT_HOST, TRANSLATOR_HOST};
use hmasim_clients::Client;
use hmasim_entra_id::EntraId;
use hmasim_exchange_online::mrs::Mrs;
use hmasim_exchange_online::translator::ProtocolTranslator;
use hmasim_exchange_online::ExchangeOnline;
use hmasim_exchange_onprem::ExchangeOnprem;
use hmasim_kernel::ActorId;
use hmasim_load_balancer::LoadBalancer;
use hmasim_protocol::display::escape_control;
use hmasim_protocol::{apps, device, Directory, Net, Route};
use hmasim_scenario::{ActionKind, Location, Publishing, Scenario, TlsMode};
use hmasim_wap::Wap;
use serde_json::{json, Value};

use crate::Party;

/// Where Entra MFA's connector for the AD FS adapter answers.
const MFA_CONNECTOR_HOST: &str = "adnotifications.windowsazure.com";

/// Where a party sits, for default latencies: its latency class in the kernel.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Zone {
    /// A device on the Internet.
    Internet,
    /// A device on the corporate network.
    Intranet,
    /// A Microsoft cloud service.
    Cloud,
    /// A server on premises.
    Onprem,
}

impl Zone {
    /// The zone's latency class in the kernel's network.
    pub(crate) fn class(self) -> u16 {
        match self {
            Zone::Internet => 1,
            Zone::Intranet => 2,
            Zone::Cloud => 3,
            Zone::Onprem => 4,
        }
    }
    /// The stable name of the listing.
    pub fn as_str(self) -> &'static str {
        match self {
            Zone::Internet => "internet",
            Zone::Intranet => "intranet",
            Zone::Cloud => "cloud",
            Zone::Onprem => "onprem",
        }
    }
    /// Whether a hop between the two zones stays inside one site (2 ms ± 0.5 ms) rather
    /// than crossing the Internet (the scenario's latency).
    pub(crate) fn same_site(a: Zone, b: Zone) -> bool {
        matches!(
            (a, b),
            (Zone::Onprem, Zone::Onprem)
                | (Zone::Intranet, Zone::Onprem)
                | (Zone::Onprem, Zone::Intranet)
                | (Zone::Cloud, Zone::Cloud)
        )
    }
}

/// A view of name resolution: who answers for a host name, seen from one place. Two views
/// may resolve one name differently (split-brain DNS: from the Internet `mail.contoso.com`
/// is the front door, from the intranet the load balancer).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum View {
    /// Public DNS, as a device or a cloud service on the Internet resolves.
    Internet,
    /// The corporate network's DNS.
    Intranet,
    /// What the on-premises servers reach: the domain controller and Entra ID's endpoints.
    Onprem,
    /// What Entra ID reaches: AD FS's active endpoint through the proxy, and what the
    /// on-premises servers reach.
    Entra,
    /// The protocol translator's view of Exchange Online's provisioning API.
    Provisioning,
    /// The load balancer's pool: its virtual servers and the member behind them.
    Pool,
    /// What the Web Application Proxy publishes, and who answers behind it.
    Published,
}

impl View {
    /// Every view, in listing order.
    pub const ALL: [View; 7] = [
        View::Internet,
        View::Intranet,
        View::Onprem,
        View::Entra,
        View::Provisioning,
        View::Pool,
        View::Published,
    ];
    /// The stable name of the listing.
    pub fn as_str(self) -> &'static str {
        match self {
            View::Internet => "internet",
            View::Intranet => "intranet",
            View::Onprem => "onprem",
            View::Entra => "entra",
            View::Provisioning => "provisioning",
            View::Pool => "pool",
            View::Published => "published",
        }
    }
}

/// The views a cloud service is reached from: inside and outside alike.
const CLOUD: &[View] = &[View::Internet, View::Intranet];
/// The views of the on-premises servers (and of Entra ID, which reaches the same).
const BACKEND: &[View] = &[View::Onprem, View::Entra];

/// How a row's party is built: from the scenario, the wiring of the world (its views and
/// peers) and the row itself.
pub type Make = fn(&Scenario, &Wiring, ActorId, &Row) -> Party;

/// One row of the table: one party.
#[derive(Clone, Debug)]
pub struct Row {
    /// Its stable party id (the trace's name).
    pub name: String,
    /// The key of its random stream (`World::add_keyed`): stable whatever its position.
    pub key: String,
    /// Where it sits.
    pub zone: Zone,
    /// The source address cloud services see its connections come from.
    pub address: IpAddr,
    /// The view it resolves names through (`None`: it reaches no party by name).
    pub view: Option<View>,
    /// Whether `network.partitions` remove routes from its view (a relay's upstream is
    /// cut in the kernel instead, so its requests are lost on the wire).
    pub partitionable: bool,
    /// The host names it answers for, and in which views.
    pub answers: Vec<(String, &'static [View])>,
    /// For a client, its index in the scenario's `clients`.
    pub client: Option<usize>,
    /// For a client, its user's index in the scenario's `users` (the first of its UPN).
    pub user: Option<usize>,
    /// What a configured link says about its TLS (the load balancer's bridging or
    /// offloading of the connections it passes on).
    pub tls: Option<&'static str>,
    /// Builds the party.
    pub make: Make,
}

/// The topology of a scenario's world: its rows, in actor order.
#[derive(Clone, Debug)]
pub struct Topology {
    /// The parties, in actor order (a row's index is its `ActorId`).
    pub rows: Vec<Row>,
}

/// What a row's builder may use besides the scenario: the name resolution of every view
/// (from the table), the partitions, the peers' source addresses and run-wide settings.
pub struct Wiring {
    views: BTreeMap<View, Directory>,
    cut: Vec<(ActorId, ActorId)>,
    /// The source address of each party's connections, by actor.
    pub peers: Arc<BTreeMap<ActorId, IpAddr>>,
    /// The Azure addresses (AutoDetect's, MRS's) that IP restrictions at the edge refuse
    /// (empty when `onprem.allow_azure_ranges`).
    pub azure: BTreeSet<IpAddr>,
    /// Whether the run can lose a message (see `lossy`).
    pub lossy: bool,
    /// The routes to the clients, in file order.
    pub clients: Vec<Route>,
}

impl Wiring {
    /// The directory of `view`, as the table gives it.
    pub fn directory(&self, view: View) -> Directory {
        self.views.get(&view).cloned().unwrap_or_default()
    }
    /// The network view of the party being built: its row's view, less the parties
    /// `network.partitions` cut it from when the row is partitionable.
    pub fn net(&self, me: ActorId, row: &Row) -> Net {
        let base = row.view.map(|v| self.directory(v)).unwrap_or_default();
        if !row.partitionable || !self.cut.iter().any(|(from, _)| *from == me) {
            // Not partitioned from anyone: share the view.
            return Net::new(base);
        }
        let mut d = Directory::new();
        for (host, to) in base.routes() {
            if !self.cut.contains(&(me, to)) {
                d.insert(host, to);
            }
        }
        Net::new(d)
    }
}

/// A row of a service: keyed by its party id (unique in the world, the same whatever
/// number of clients come before it).
fn service(
    name: &str,
    zone: Zone,
    address: IpAddr,
    view: Option<View>,
    answers: Vec<(String, &'static [View])>,
    make: Make,
) -> Row {
    Row {
        name: name.to_string(),
        key: name.to_string(),
        zone,
        address,
        view,
        partitionable: true,
        answers,
        client: None,
        user: None,
        tls: None,
        make,
    }
}

fn hosts(names: &[&str], views: &'static [View]) -> Vec<(String, &'static [View])> {
    names
        .iter()
        .map(|h| (h.to_ascii_lowercase(), views))
        .collect()
}

/// The stable key of a client's random stream: its kind, its user and its id (unique
/// among the scenario's clients), never its position in the file.
pub(crate) fn client_key(c: &hmasim_scenario::Client, upn: &str) -> String {
    format!(
        "{}/{}/{}",
        c.kind.party().id(),
        upn.to_ascii_lowercase(),
        c.party_id()
    )
}

impl Topology {
    /// The table of the world `sc` describes. The scenario's clients come first, in file
    /// order, then the services in a fixed order.
    pub fn of(sc: &Scenario) -> Topology {
        let mail = sc.mail_host();
        let autodiscover = sc.autodiscover_host();
        let adfs = sc.adfs_host();
        let dc = format!("dc.{}", sc.tenant.domain.to_ascii_lowercase());
        let microsoft = |n: u8| IpAddr::V4([192, 0, 2, n].into());
        let office = sc.network.office_egress;
        let exchange = [mail.as_str(), autodiscover.as_str()];
        let direct = sc.onprem.publishing == Publishing::Direct;
        // Each client's user, found once (`Scenario::user` is a linear search: a
        // tenant-sized world would be quadratic). The first user of a UPN wins, as there.
        let mut users: BTreeMap<String, usize> = BTreeMap::new();
        for (i, u) in sc.users.iter().enumerate() {
            users.entry(u.upn.to_ascii_lowercase()).or_insert(i);
        }
        let mut rows: Vec<Row> = sc
            .clients
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let user = users.get(&c.user.to_ascii_lowercase()).copied();
                let upn = user.map(|u| sc.users[u].upn.as_str()).unwrap_or(&c.user);
                let internal = c.location == Location::Internal;
                Row {
                    name: c.party_id(),
                    key: client_key(c, upn),
                    zone: if internal {
                        Zone::Intranet
                    } else {
                        Zone::Internet
                    },
                    address: sc.client_address(c),
                    view: Some(if internal {
                        View::Intranet
                    } else {
                        View::Internet
                    }),
                    partitionable: true,
                    answers: Vec::new(),
                    client: Some(i),
                    user,
                    tls: None,
                    make: |sc, w, me, row| {
                        let c = &sc.clients[row.client.expect("a client row")];
                        let user =
                            &sc.users[row.user.expect("validated: clients name known users")];
                        Party::Client(Client::from_scenario(sc, c, user, w.lossy, w.net(me, row)))
                    },
                }
            })
            .collect();
        rows.extend([
            service(
                "autodetect",
                Zone::Cloud,
                microsoft(20),
                Some(View::Internet),
                hosts(&[AUTODETECT_HOST], CLOUD),
                |sc, w, me, row| Party::AutoDetect(AutoDetect::from_scenario(sc, w.net(me, row))),
            ),
            service(
                "exchange-online",
                Zone::Cloud,
                microsoft(10),
                Some(View::Internet),
                hosts(&["outlook.office365.com", "outlook.office.com"], CLOUD),
                |sc, w, me, row| {
                    Party::ExchangeOnline(ExchangeOnline::from_scenario(
                        sc,
                        w.net(me, row).with_peers(w.peers.clone()),
                    ))
                },
            ),
            Row {
                // Not partitionable: a partition cuts the link in the kernel (the request
                // is lost), as it did when the translator held the provisioning API's actor.
                partitionable: false,
                ..service(
                    "protocol-translator",
                    Zone::Cloud,
                    microsoft(12),
                    Some(View::Provisioning),
                    hosts(&[TRANSLATOR_HOST], CLOUD),
                    |sc, w, me, row| {
                        Party::Translator(ProtocolTranslator::from_scenario(sc, w.net(me, row)))
                    },
                )
            },
            service(
                "mrs",
                Zone::Cloud,
                microsoft(11),
                Some(View::Internet),
                // Exchange Online's provisioning API, which the translator calls by host.
                hosts(&["outlook.office365.com"], &[View::Provisioning]),
                |sc, w, me, row| Party::Mrs(Mrs::from_scenario(sc, w.lossy, w.net(me, row))),
            ),
            service(
                "exchange-onprem",
                Zone::Onprem,
                office,
                Some(View::Onprem),
                hosts(&exchange, &[View::Pool]),
                |sc, w, me, row| {
                    Party::ExchangeOnprem(ExchangeOnprem::from_scenario(sc, w.net(me, row)))
                },
            ),
            Row {
                partitionable: false,
                tls: Some(match sc.load_balancer.tls {
                    TlsMode::Bridging => "bridging",
                    TlsMode::Offloading => "offloading",
                }),
                ..service(
                    "load-balancer",
                    Zone::Onprem,
                    office,
                    Some(View::Pool),
                    hosts(
                        &exchange,
                        if direct {
                            &[View::Internet, View::Intranet, View::Published]
                        } else {
                            &[View::Intranet, View::Published]
                        },
                    ),
                    |sc, w, me, row| {
                        Party::LoadBalancer(LoadBalancer::from_scenario(
                            sc,
                            &w.azure,
                            w.net(me, row).with_peers(w.peers.clone()),
                        ))
                    },
                )
            },
            service(
                "entra-id",
                Zone::Cloud,
                microsoft(30),
                Some(View::Entra),
                [
                    hosts(&["login.windows.net", device::DRS_HOST], CLOUD),
                    hosts(
                        &["login.microsoftonline.com"],
                        &[View::Internet, View::Intranet, View::Onprem, View::Entra],
                    ),
                    hosts(
                        &[
                            MFA_CONNECTOR_HOST,
                            apps::METADATA_HOST,
                            hmasim_active_directory::SYNC_HOST,
                        ],
                        BACKEND,
                    ),
                ]
                .concat(),
                |sc, w, me, row| {
                    Party::EntraId(EntraId::from_scenario(
                        sc,
                        &w.clients,
                        w.net(me, row).with_peers(w.peers.clone()),
                    ))
                },
            ),
            service(
                "adfs",
                Zone::Onprem,
                office,
                Some(View::Onprem),
                hosts(&[adfs.as_str()], &[View::Intranet, View::Published]),
                |sc, w, me, row| Party::Adfs(Adfs::from_scenario(sc, w.net(me, row))),
            ),
            Row {
                partitionable: false,
                ..service(
                    "wap",
                    Zone::Onprem,
                    office,
                    // It forwards by the host asked for, through what it publishes.
                    Some(View::Published),
                    [
                        hosts(&[adfs.as_str()], &[View::Internet, View::Entra]),
                        if direct {
                            Vec::new()
                        } else {
                            hosts(&exchange, &[View::Internet])
                        },
                    ]
                    .concat(),
                    |sc, w, _, _| {
                        Party::Wap(Wap::from_scenario(
                            sc,
                            &w.azure,
                            w.directory(View::Published),
                            // What the proxy sees of a connection: its source address.
                            Net::default().with_peers(w.peers.clone()),
                        ))
                    },
                )
            },
            service(
                "active-directory",
                Zone::Onprem,
                office,
                Some(View::Onprem),
                hosts(&[dc.as_str()], &[View::Intranet, View::Onprem, View::Entra]),
                |sc, w, me, row| {
                    Party::ActiveDirectory(ActiveDirectory::from_scenario(sc, w.net(me, row)))
                },
            ),
        ]);
        Topology { rows }
    }

    /// The actor of the party named `name`.
    pub fn id_of(&self, name: &str) -> Option<ActorId> {
        self.rows
            .iter()
            .position(|r| r.name == name)
            .map(|i| ActorId(i as u32))
    }

    /// Who answers for `host` in `view`, from the table.
    pub fn resolve(&self, view: View, host: &str) -> Option<ActorId> {
        let host = host.to_ascii_lowercase();
        self.rows
            .iter()
            .position(|r| {
                r.answers
                    .iter()
                    .any(|(h, vs)| *h == host && vs.contains(&view))
            })
            .map(|i| ActorId(i as u32))
    }

    /// The (view, host) pairs answered by more than one party: none in a valid world.
    pub fn ambiguous(&self) -> Vec<(View, String)> {
        let mut seen: BTreeMap<(View, &str), usize> = BTreeMap::new();
        for r in &self.rows {
            let mine: BTreeSet<(View, &str)> = r
                .answers
                .iter()
                .flat_map(|(h, vs)| vs.iter().map(move |v| (*v, h.as_str())))
                .collect();
            for k in mine {
                *seen.entry(k).or_default() += 1;
            }
        }
        seen.into_iter()
            .filter(|(_, n)| *n > 1)
            .map(|((v, h), _)| (v, h.to_string()))
            .collect()
    }

    /// The directory of every view, from the rows' answers (a later row wins a host a
    /// scenario makes ambiguous, as inserting into one directory did).
    fn views(&self) -> BTreeMap<View, Directory> {
        let mut views: BTreeMap<View, Directory> =
            View::ALL.iter().map(|v| (*v, Directory::new())).collect();
        for (i, r) in self.rows.iter().enumerate() {
            for (host, vs) in &r.answers {
                for v in *vs {
                    views
                        .get_mut(v)
                        .expect("every view")
                        .insert(host, ActorId(i as u32));
                }
            }
        }
        views
    }

    /// The wiring of the world the table describes: views, partitions, peers.
    pub fn wiring(&self, sc: &Scenario) -> Wiring {
        let cut = sc
            .network
            .partitions
            .iter()
            .filter_map(|p| Some((self.id_of(&p.from)?, self.id_of(&p.to)?)))
            .collect();
        let peers: BTreeMap<ActorId, IpAddr> = self
            .rows
            .iter()
            .enumerate()
            .map(|(i, r)| (ActorId(i as u32), r.address))
            .collect();
        // The Azure ranges AutoDetect and Exchange Online connect from, refused at the
        // edge when IP restrictions leave them out.
        let azure = if sc.onprem.allow_azure_ranges {
            BTreeSet::new()
        } else {
            ["autodetect", "mrs"]
                .iter()
                .filter_map(|n| self.id_of(n))
                .filter_map(|a| peers.get(&a).copied())
                .collect()
        };
        Wiring {
            views: self.views(),
            cut,
            peers: Arc::new(peers),
            azure,
            lossy: lossy(sc),
            clients: self
                .rows
                .iter()
                .enumerate()
                .filter(|(_, r)| r.client.is_some())
                .map(|(i, _)| Route::to_actor(ActorId(i as u32)))
                .collect(),
        }
    }

    /// Every party of the table, built from `sc`, in actor order: the world's actors, or
    /// the fresh configurations a timeline `set` hands the running parties.
    /// Built one at a time, so a tenant-sized world never holds two copies of its parties.
    pub fn parties<'a>(&'a self, sc: &'a Scenario) -> impl Iterator<Item = Party> + 'a {
        let w = self.wiring(sc);
        self.rows
            .iter()
            .enumerate()
            .map(move |(i, r)| (r.make)(sc, &w, ActorId(i as u32), r))
    }

    /// The links a party's requests take: for every party with a view, each party its
    /// view resolves a host to (less its partitions), with those hosts, in actor order.
    pub fn links(&self, sc: &Scenario) -> Vec<Link> {
        let w = self.wiring(sc);
        let faults_by_default = {
            let mut f = sc.network.faults.clone();
            f.links.clear();
            !f.is_off()
        };
        let mut out = Vec::new();
        for (i, r) in self.rows.iter().enumerate() {
            let me = ActorId(i as u32);
            if r.view.is_none() {
                continue;
            }
            let dir = w.net(me, r).directory;
            // One link per party reached, with every host it is reached by.
            let mut by_party: BTreeMap<ActorId, Vec<String>> = BTreeMap::new();
            for (host, to) in dir.routes() {
                by_party.entry(to).or_default().push(host.to_string());
            }
            for (to, hosts) in by_party {
                let t = &self.rows[to.0 as usize];
                let own = sc
                    .network
                    .links
                    .iter()
                    .find(|l| l.from == r.name && l.to == t.name);
                let (latency_ms, jitter_ms) = match own {
                    Some(l) => (l.latency_ms as f64, l.jitter_ms as f64),
                    None if Zone::same_site(r.zone, t.zone) => (2.0, 0.5),
                    None => (sc.network.latency_ms as f64, sc.network.jitter_ms as f64),
                };
                out.push(Link {
                    from: r.name.clone(),
                    to: t.name.clone(),
                    hosts,
                    latency_ms,
                    jitter_ms,
                    faults: sc
                        .network
                        .faults
                        .links
                        .iter()
                        .any(|l| l.from == r.name && l.to == t.name)
                        || faults_by_default,
                    tls: r.tls,
                });
            }
        }
        out
    }

    /// The table as text: the parties, then the links.
    pub fn to_text(&self, sc: &Scenario) -> String {
        let mut s = String::new();
        let _ = writeln!(s, "parties:");
        for (i, r) in self.rows.iter().enumerate() {
            let view = r.view.map(View::as_str).unwrap_or("-");
            let _ = writeln!(
                s,
                "  {i:>3}  {}  zone {}, address {}, resolves through {view}",
                escape_control(&r.name),
                r.zone.as_str(),
                r.address
            );
            for (h, vs) in &r.answers {
                let vs: Vec<_> = vs.iter().map(|v| v.as_str()).collect();
                let _ = writeln!(
                    s,
                    "       answers {} ({})",
                    escape_control(h),
                    vs.join(", ")
                );
            }
        }
        let _ = writeln!(s, "links:");
        for l in self.links(sc) {
            let mut extra = String::new();
            if l.faults {
                extra.push_str(", faults");
            }
            if let Some(t) = l.tls {
                let _ = write!(extra, ", TLS {t}");
            }
            let _ = writeln!(
                s,
                "  {} -> {}  {} ms ± {} ms{extra}: {}",
                escape_control(&l.from),
                escape_control(&l.to),
                l.latency_ms,
                l.jitter_ms,
                escape_control(&l.hosts.join(", "))
            );
        }
        s
    }

    /// The table as JSON (`hmasim-topology/1`).
    pub fn to_json(&self, sc: &Scenario) -> Value {
        let parties: Vec<Value> = self
            .rows
            .iter()
            .enumerate()
            .map(|(i, r)| {
                json!({
                    "index": i,
                    "id": r.name,
                    "zone": r.zone.as_str(),
                    "address": r.address.to_string(),
                    "view": r.view.map(View::as_str),
                    "answers": r.answers.iter().map(|(h, vs)| json!({
                        "host": h,
                        "views": vs.iter().map(|v| v.as_str()).collect::<Vec<_>>(),
                    })).collect::<Vec<_>>(),
                })
            })
            .collect();
        let links: Vec<Value> = self
            .links(sc)
            .into_iter()
            .map(|l| {
                json!({
                    "from": l.from,
                    "to": l.to,
                    "hosts": l.hosts,
                    "latency_ms": l.latency_ms,
                    "jitter_ms": l.jitter_ms,
                    "faults": l.faults,
                    "tls": l.tls,
                })
            })
            .collect();
        json!({
            "format": TOPOLOGY_FORMAT,
            "scenario": sc.name,
            "parties": parties,
            "links": links,
        })
    }
}

/// The `format` of `check --topology --format json`.
pub const TOPOLOGY_FORMAT: &str = "hmasim-topology/1";

/// One link of the table: a party another reaches by name, and the names it is reached by.
#[derive(Clone, Debug, PartialEq)]
pub struct Link {
    /// The sending party.
    pub from: String,
    /// The party answering.
    pub to: String,
    /// The host names the sender resolves to it, sorted.
    pub hosts: Vec<String>,
    /// The link's latency: its own (`network.links`), 2 ms inside one site, else the
    /// scenario's.
    pub latency_ms: f64,
    /// Its jitter.
    pub jitter_ms: f64,
    /// Whether faults are injected on it (`network.faults`).
    pub faults: bool,
    /// The TLS handling of the connections the sender passes on (the load balancer).
    pub tls: Option<&'static str>,
}

/// Whether anything in the run can lose a message: injected faults, or an outage, a
/// partition, a crash or a configuration change in the timeline. Only then do parties keep
/// copies of their requests for retries.
pub(crate) fn lossy(sc: &Scenario) -> bool {
    !sc.network.faults.is_off()
        || sc.timeline.iter().any(|a| {
            matches!(
                a.action,
                ActionKind::Outage | ActionKind::Partition | ActionKind::Crash | ActionKind::Set
            )
        })
}
