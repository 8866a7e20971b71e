//! Turning a scenario into a world of parties.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::sync::Arc;

use hmasim_active_directory::{Account, ActiveDirectory, AdConfig};
use hmasim_adfs::{AccessPolicy, Adfs, AdfsConfig, RelyingParty};
use hmasim_autodetect::AutoDetect;
use hmasim_clients::{Auth, Client, ClientConfig, ClientKind as CK};
use hmasim_entra_id::ca::{Member, Tenant};
use hmasim_entra_id::{EntraConfig, EntraId, EntraUser};
use hmasim_exchange_online::mrs::{Mrs, MrsConfig};
use hmasim_exchange_online::translator::ProtocolTranslator;
use hmasim_exchange_online::{ExchangeOnline, ExoConfig, Home, OWA_URL};
use hmasim_exchange_onprem::{Access, ExchangeOnprem, OnpremConfig};
use hmasim_kernel::{ActorId, Latency, LinkFaults, SimDuration, SimTime, World};
use hmasim_load_balancer::{LoadBalancer, Tls};
use hmasim_protocol::jwt::{KeySet, SigningKey};
use hmasim_protocol::{apps, Body, Directory, Message, Net, Route, Stage, Url, UserAction};
use hmasim_protocol::{DeviceCharacteristic as WireCharacteristic, MailboxProtocol};
use hmasim_scenario::{
    AccessLevel, ActionKind, AdfsPolicy, AuthMethod, ClientKind, DeviceCharacteristic, DeviceState,
    ExchangeVersion, IdentityModel, LatencyDist, Location, MailProtocol, MailboxLocation,
    MetadataRefresh, OwaPublishing, Platform, Publishing, Scenario, TlsMode, TokenDefaults,
};
use hmasim_wap::Wap;

use crate::Party;

/// Hosts of the Microsoft cloud and who answers for them.
const AUTODETECT_HOST: &str = "prod-autodetect.outlookmobile.com";
const TRANSLATOR_HOST: &str = "prod-global.outlookmobile.com";
const MFA_CONNECTOR_HOST: &str = "adnotifications.windowsazure.com";

/// Where a party sits, for default latencies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Zone {
    Internet,
    Intranet,
    Cloud,
    Onprem,
}

impl Zone {
    /// The zone's latency class in the kernel's network.
    fn class(self) -> u16 {
        match self {
            Zone::Internet => 1,
            Zone::Intranet => 2,
            Zone::Cloud => 3,
            Zone::Onprem => 4,
        }
    }
}

/// The ids of the infrastructure parties, allocated after the clients.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Ids {
    pub autodetect: ActorId,
    pub exo: ActorId,
    pub translator: ActorId,
    pub mrs: ActorId,
    pub onprem: ActorId,
    pub lb: ActorId,
    pub entra: ActorId,
    pub adfs: ActorId,
    pub wap: ActorId,
    pub ad: ActorId,
}

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

fn key(name: &str, seed: u64) -> SigningKey {
    SigningKey::derive(name, 1, seed)
}

/// Builds the world a scenario describes, seeded with `scenario.seed`.
pub fn build(sc: &Scenario) -> Built {
    let seed = sc.seed;
    let n = sc.clients.len() as u32;
    let id = |i: u32| ActorId(n + i);
    let ids = Ids {
        autodetect: id(0),
        exo: id(1),
        translator: id(2),
        mrs: id(3),
        onprem: id(4),
        lb: id(5),
        entra: id(6),
        adfs: id(7),
        wap: id(8),
        ad: id(9),
    };
    let mut all_names: Vec<String> = sc.clients.iter().map(|c| c.party_id()).collect();
    all_names.extend(
        [
            "autodetect",
            "exchange-online",
            "protocol-translator",
            "mrs",
            "exchange-onprem",
            "load-balancer",
            "entra-id",
            "adfs",
            "wap",
            "active-directory",
        ]
        .map(String::from),
    );
    let id_of = |name: &str| {
        all_names
            .iter()
            .position(|n| n == name)
            .map(|i| ActorId(i as u32))
    };
    let cut: Vec<(ActorId, ActorId)> = sc
        .network
        .partitions
        .iter()
        .filter_map(|p| Some((id_of(&p.from)?, id_of(&p.to)?)))
        .collect();
    // The addresses cloud services see each party connect from: a client's own (the
    // office's egress inside), Microsoft's range for Microsoft's services, the office's
    // egress for the on-premises servers.
    let microsoft = |n: u8| IpAddr::V4([192, 0, 2, n].into());
    let mut cloud_peers: BTreeMap<ActorId, IpAddr> = BTreeMap::new();
    for (i, c) in sc.clients.iter().enumerate() {
        cloud_peers.insert(ActorId(i as u32), sc.client_address(c));
    }
    for (aid, addr) in [
        (ids.autodetect, microsoft(20)),
        (ids.exo, microsoft(10)),
        (ids.translator, microsoft(12)),
        (ids.mrs, microsoft(11)),
        (ids.entra, microsoft(30)),
        (ids.onprem, sc.network.office_egress),
        (ids.lb, sc.network.office_egress),
        (ids.adfs, sc.network.office_egress),
        (ids.wap, sc.network.office_egress),
        (ids.ad, sc.network.office_egress),
    ] {
        cloud_peers.insert(aid, addr);
    }
    let cloud_peers = Arc::new(cloud_peers);
    // A party's view of the network, less the parties it is partitioned from.
    let view = |me: ActorId, base: &Directory| -> Net {
        if !cut.iter().any(|(from, _)| *from == me) {
            // Not partitioned from anyone: share the base view.
            return Net::new(base.clone());
        }
        let mut d = Directory::new();
        for (host, to) in base.routes() {
            if !cut.contains(&(me, to)) {
                d.insert(host, to);
            }
        }
        Net::new(d)
    };
    let domain = sc.tenant.domain.to_ascii_lowercase();
    let mail_host = sc.mail_host();
    let ad_host = sc.autodiscover_host();
    let adfs_host = sc.adfs_host();
    let dc_host = format!("dc.{domain}");
    let entra_key = key("evosts", seed);
    let adfs_key = key("adfs-token-signing", seed);
    let krb_key = key("krbtgt", seed);
    let entra_keys = KeySet::new(vec![entra_key.clone()]);
    let adfs_trust = KeySet::new(vec![adfs_key.clone()]);

    // Name resolution as seen from the Internet and from the corporate network.
    let mut cloud = Directory::new();
    for h in ["outlook.office365.com", "outlook.office.com"] {
        cloud.insert(h, ids.exo);
    }
    for h in [
        "login.microsoftonline.com",
        "login.windows.net",
        hmasim_protocol::device::DRS_HOST,
    ] {
        cloud.insert(h, ids.entra);
    }
    cloud.insert(AUTODETECT_HOST, ids.autodetect);
    cloud.insert(TRANSLATOR_HOST, ids.translator);
    let mut internet = cloud.clone();
    let front = match sc.onprem.publishing {
        Publishing::Wap => ids.wap,
        Publishing::Direct => ids.lb,
    };
    // The Azure ranges AutoDetect and Exchange Online connect from, refused at the edge when
    // IP restrictions leave them out.
    let azure: BTreeSet<IpAddr> = if sc.onprem.allow_azure_ranges {
        BTreeSet::new()
    } else {
        [ids.autodetect, ids.mrs]
            .iter()
            .filter_map(|a| cloud_peers.get(a).copied())
            .collect()
    };
    internet.insert(&mail_host, front);
    internet.insert(&ad_host, front);
    internet.insert(&adfs_host, ids.wap);
    let mut intranet = cloud.clone();
    intranet.insert(&mail_host, ids.lb);
    intranet.insert(&ad_host, ids.lb);
    intranet.insert(&adfs_host, ids.adfs);
    intranet.insert(&dc_host, ids.ad);
    let mut onprem_dir = Directory::new();
    // Entra ID reaches AD FS's active endpoint over the Internet, through the proxy.
    let mut entra_dir = Directory::new();
    entra_dir.insert(&adfs_host, ids.wap);
    onprem_dir.insert(&dc_host, ids.ad);
    onprem_dir.insert(MFA_CONNECTOR_HOST, ids.entra);
    onprem_dir.insert("login.microsoftonline.com", ids.entra);
    onprem_dir.insert(hmasim_entra_id::METADATA_HOST, ids.entra);
    onprem_dir.insert(hmasim_active_directory::SYNC_HOST, ids.entra);
    for (host, to) in onprem_dir.routes() {
        entra_dir.insert(host, to);
    }

    let mut world: World<Party, Message> = World::new(seed);
    let mut names = Vec::new();
    let mut clients = Vec::new();
    let mut zones = Vec::new();
    let mut user_device: BTreeMap<String, ActorId> = BTreeMap::new();
    let mut app_protected = BTreeSet::new();

    // Each client's user, found once per client (`Scenario::user` is a linear search: a
    // tenant-sized world would be quadratic). The first user of a UPN wins, as there.
    let mut users_by_upn: BTreeMap<String, &hmasim_scenario::User> = BTreeMap::new();
    for u in &sc.users {
        users_by_upn.entry(u.upn.to_ascii_lowercase()).or_insert(u);
    }
    for (i, c) in sc.clients.iter().enumerate() {
        let aid = ActorId(i as u32);
        let user = *users_by_upn
            .get(&c.user.to_ascii_lowercase())
            .expect("validated: clients name known users");
        let internal = c.location == Location::Internal;
        let mailbox_url = match (c.kind, user.mailbox) {
            (ClientKind::Browser, MailboxLocation::Online) => {
                Url::parse(OWA_URL).expect("constant URL")
            }
            (ClientKind::Browser, MailboxLocation::Onprem) => Url::https(&mail_host, "/owa/"),
            (_, MailboxLocation::Online) => Url::https("outlook.office365.com", "/mapi/emsmdb/")
                .with("MailboxId", user.upn.clone()),
            (_, MailboxLocation::Onprem) => {
                Url::https(&mail_host, "/mapi/emsmdb/").with("MailboxId", user.upn.clone())
            }
        };
        let auth = client_auth(c, user.mailbox, &mail_host);
        let (presented_ua, presented_device) = presented(c);
        let cfg = ClientConfig {
            retries: lossy(sc),
            auth,
            device: presented_device,
            id: c.party_id(),
            kind: match c.kind {
                ClientKind::OutlookDesktop => CK::OutlookDesktop,
                ClientKind::OutlookMobile => CK::OutlookMobile,
                ClientKind::Browser => CK::Browser,
                ClientKind::NativeMail => CK::NativeMail,
            },
            upn: user.upn.clone(),
            password: user.password.clone(),
            user_agent: presented_ua,
            kerberos: internal && c.device.domain_joined(),
            mailbox_url,
            autodetect_url: Url::https(AUTODETECT_HOST, "/detect")
                .with("services", "office365,outlook,google,icloud,yahoo")
                .with("protocols", "eas,rest-cloud,rest-outlook")
                .with("timeout", "20"),
            translator_url: Url::https(TRANSLATOR_HOST, "/api/v1/provision"),
            domain: domain.clone(),
            approve_mfa: true,
            sync_interval: SimDuration::from_millis(c.sync_interval.ms()),
            device_credential: c
                .device
                .record(&c.party_id(), c.platform, seed)
                .map(|r| hmasim_protocol::device::credential(&r.id, &user.upn, seed)),
            register_device: c.device == DeviceState::Registers,
            device_name: c.device_name.clone(),
        };
        let net = view(aid, if internal { &intranet } else { &internet });
        world.add_keyed(
            &client_key(c, &user.upn),
            Party::Client(Client::new(cfg, net)),
        );
        names.push(c.party_id());
        clients.push(aid);
        zones.push(if internal {
            Zone::Intranet
        } else {
            Zone::Internet
        });
        user_device
            .entry(user.upn.to_ascii_lowercase())
            .or_insert(aid);
        if c.app_protection {
            app_protected.insert(Route::to_actor(aid));
        }
    }

    let homes: BTreeMap<String, Home> = sc
        .users
        .iter()
        .map(|u| {
            (
                u.upn.to_ascii_lowercase(),
                if u.mailbox == MailboxLocation::Online {
                    Home::Online
                } else {
                    Home::Onprem
                },
            )
        })
        .collect();
    let onprem_mailboxes: BTreeSet<String> = homes
        .iter()
        .filter(|(_, h)| **h == Home::Onprem)
        .map(|(u, _)| u.clone())
        .collect();

    let mut add = |party: Party, name: &str, zone: Zone, expect: ActorId| {
        // A service's stream is keyed by its party id: unique in the world, and the same
        // whatever number of clients come before it.
        let got = world.add_keyed(name, party);
        debug_assert_eq!(got, expect);
        names.push(name.to_string());
        zones.push(zone);
    };
    add(
        Party::AutoDetect(AutoDetect::new(view(ids.autodetect, &internet))),
        "autodetect",
        Zone::Cloud,
        ids.autodetect,
    );
    add(
        Party::ExchangeOnline(ExchangeOnline::new(
            ExoConfig {
                users: homes.clone(),
                onprem_autodiscover_host: ad_host.clone(),
                entra_metadata: entra_keys.clone(),
                skew_s: 300,
                basic_policy: exo_basic_policies(sc),
            },
            view(ids.exo, &internet).with_peers(cloud_peers.clone()),
        )),
        "exchange-online",
        Zone::Cloud,
        ids.exo,
    );
    add(
        Party::Translator(ProtocolTranslator::new({
            // Exchange Online's provisioning API, which the translator calls by host.
            let mut d = Directory::new();
            d.insert("outlook.office365.com", ids.mrs);
            // Not `view`: a partition cuts the link in the kernel (the request is lost), as
            // it did when the translator held the provisioning API's actor.
            Net::new(d)
        })),
        "protocol-translator",
        Zone::Cloud,
        ids.translator,
    );
    add(
        Party::Mrs(Mrs::new(
            MrsConfig {
                entra_metadata: entra_keys.clone(),
                sync_interval: SimDuration::from_millis(sc.exchange_online.mrs_sync_interval.ms()),
                refresh_margin: SimDuration::from_mins(5),
                retries: lossy(sc),
                skew_s: 300,
            },
            view(ids.mrs, &internet),
        )),
        "mrs",
        Zone::Cloud,
        ids.mrs,
    );
    add(
        Party::ExchangeOnprem(ExchangeOnprem::new(
            OnpremConfig {
                tenant_id: sc.tenant.tenant_id.clone(),
                domain: domain.clone(),
                mail_host: mail_host.clone(),
                activesync_url: sc.activesync_url(),
                hybrid_modern_auth: sc.onprem.hybrid_modern_auth,
                evosts_default: sc.onprem.evosts_default_authorization_endpoint,
                owa_adfs_claims: sc.onprem.owa_adfs_claims,
                adfs_host: adfs_host.clone(),
                evosts_metadata: entra_keys.clone(),
                adfs_trust: adfs_trust.clone(),
                metadata_refresh: match sc.onprem.auth_metadata_refresh {
                    MetadataRefresh::Healthy => hmasim_exchange_onprem::MetadataRefresh::Healthy,
                    MetadataRefresh::Failing => hmasim_exchange_onprem::MetadataRefresh::Failing,
                    MetadataRefresh::Absent => hmasim_exchange_onprem::MetadataRefresh::Absent,
                },
                scheduled_refresh: sc
                    .onprem
                    .scheduled_metadata_refresh
                    .map(|s| SimDuration::from_millis(s.ms())),
                legacy_mailboxes: sc
                    .users
                    .iter()
                    .filter(|u| {
                        u.mailbox == MailboxLocation::Onprem
                            && u.exchange_version == ExchangeVersion::V2010
                    })
                    .map(|u| u.upn.to_ascii_lowercase())
                    .collect(),
                legacy_blocked: onprem_legacy_blocks(sc).0,
                legacy_policy: onprem_legacy_blocks(sc).1,
                eas_default: access(sc.onprem.activesync.default_access_level),
                eas_rules: sc
                    .onprem
                    .activesync
                    .device_rules
                    .iter()
                    .map(|r| {
                        let ch = match r.characteristic {
                            DeviceCharacteristic::DeviceType => WireCharacteristic::DeviceType,
                            DeviceCharacteristic::DeviceModel => WireCharacteristic::DeviceModel,
                            DeviceCharacteristic::UserAgent => WireCharacteristic::UserAgent,
                        };
                        (ch, r.query.clone(), access(r.access_level))
                    })
                    .collect(),
                kerberos: KeySet::new(vec![krb_key.clone()]),
                imap_enabled: sc.onprem.imap_enabled,
                pop_enabled: sc.onprem.pop_enabled,
                mailboxes: onprem_mailboxes,
                skew_s: 300,
            },
            view(ids.onprem, &onprem_dir),
        )),
        "exchange-onprem",
        Zone::Onprem,
        ids.onprem,
    );
    let tls = match sc.load_balancer.tls {
        TlsMode::Bridging => Tls::Bridging,
        TlsMode::Offloading => Tls::Offloading,
    };
    add(
        Party::LoadBalancer(
            LoadBalancer::new(tls, {
                // The virtual servers and the pool member behind them.
                let mut pool = Directory::new();
                pool.insert(&mail_host, ids.onprem);
                pool.insert(&ad_host, ids.onprem);
                // Not `view`: a partition cuts the link in the kernel (requests are lost).
                Net::new(pool).with_peers(cloud_peers.clone())
            })
            .intercepting_unauthenticated(sc.load_balancer.intercepts_unauthenticated)
            .blocking(if front == ids.lb {
                azure.clone()
            } else {
                BTreeSet::new()
            }),
        ),
        "load-balancer",
        Zone::Onprem,
        ids.lb,
    );
    let entra_users = sc
        .users
        .iter()
        .map(|u| {
            let k = u.upn.to_ascii_lowercase();
            let dev = user_device.get(&k).copied();
            (
                k,
                EntraUser {
                    password: u.password.clone(),
                    groups: u.groups.clone(),
                    mfa_registered: u.mfa_registered,
                    mfa_device: dev.map(Route::to_actor),
                },
            )
        })
        .collect();
    add(
        Party::EntraId(EntraId::new(
            EntraConfig {
                tenant_id: sc.tenant.tenant_id.clone(),
                domain: domain.clone(),
                model: sc.identity.model,
                adfs_host: adfs_host.clone(),
                adfs_trust: adfs_trust.clone(),
                accept_adfs_mfa: sc.entra.accept_adfs_mfa,
                users: entra_users,
                policies: sc.conditional_access.clone(),
                signing_key: entra_key,
                key_seed: seed,
                sync_revokes: match sc.identity.model {
                    IdentityModel::Phs => true,
                    IdentityModel::Federated => sc.identity.password_expiry_claims,
                    IdentityModel::Pta => sc.identity.password_writeback,
                },
                randomized_access_lifetime: sc.entra.token_defaults == TokenDefaults::Current,
                access_lifetime: SimDuration::from_millis(sc.entra.access_token_lifetime.ms()),
                refresh_lifetime: match sc.entra.token_defaults {
                    TokenDefaults::Source => {
                        SimDuration::from_millis(sc.entra.refresh_token_lifetime.ms())
                    }
                    // Today's default: 90 days of inactivity.
                    TokenDefaults::Current => SimDuration::from_hours(90 * 24),
                },
                approved_apps: vec![apps::OUTLOOK_MOBILE.to_string()],
                exchange_resources: vec![
                    apps::EXO_RESOURCE.to_string(),
                    "https://outlook.office.com".to_string(),
                    format!("https://{mail_host}"),
                ],
                tenant: Arc::new(ca_tenant(sc)),
                relays: vec![MICROSOFT_SERVICES.parse().expect("constant range")],
                app_protected,
            },
            view(ids.entra, &entra_dir).with_peers(cloud_peers.clone()),
        )),
        "entra-id",
        Zone::Cloud,
        ids.entra,
    );
    let policy = |p: AdfsPolicy| match p {
        AdfsPolicy::PermitEveryone => AccessPolicy::PermitEveryone,
        AdfsPolicy::RequireMfa => AccessPolicy::RequireMfa,
        AdfsPolicy::RequireMfaExtranet => AccessPolicy::RequireMfaExtranet,
        AdfsPolicy::RequireMfaGroup => {
            AccessPolicy::RequireMfaGroup(sc.adfs.mfa_group.clone().unwrap_or_default())
        }
    };
    add(
        Party::Adfs(Adfs::new(
            AdfsConfig {
                host: adfs_host.clone(),
                signing_key: adfs_key,
                kerberos: KeySet::new(vec![krb_key.clone()]),
                relying_parties: vec![
                    RelyingParty {
                        identifier: apps::O365_REALM.to_string(),
                        reply_url: apps::ENTRA_LOGIN_SRF.to_string(),
                        policy: policy(sc.adfs.office365_policy),
                        party: "entra-id",
                        back_stage: Stage::BackToEntra,
                    },
                    RelyingParty {
                        identifier: format!("https://{mail_host}/owa/"),
                        reply_url: format!("https://{mail_host}/owa/"),
                        policy: policy(sc.adfs.owa_policy),
                        party: "exchange-onprem",
                        back_stage: Stage::AdfsClaimsBack,
                    },
                ],
                iwa_internal: true,
                token_lifetime: SimDuration::from_hours(1),
            },
            view(ids.adfs, &onprem_dir),
        )),
        "adfs",
        Zone::Onprem,
        ids.adfs,
    );
    let mut published = Directory::new();
    published.insert(&adfs_host, ids.adfs);
    published.insert(&mail_host, ids.lb);
    published.insert(&ad_host, ids.lb);
    add(
        Party::Wap(
            Wap::new(published, true, &adfs_host, "WAP01")
                .preauthenticating(sc.wap.preauthentication)
                .preauthenticating_owa(
                    (sc.onprem.owa_adfs_claims
                        && sc.wap.owa_publishing == OwaPublishing::Preauthentication)
                        .then(|| format!("https://{mail_host}/owa/")),
                )
                .blocking(
                    if front == ids.wap {
                        azure.clone()
                    } else {
                        BTreeSet::new()
                    },
                    // What the proxy sees of a connection: its source address.
                    Net::default().with_peers(cloud_peers.clone()),
                ),
        ),
        "wap",
        Zone::Onprem,
        ids.wap,
    );
    let accounts = sc
        .users
        .iter()
        .map(|u| {
            (
                u.upn.to_ascii_lowercase(),
                Account {
                    password: u.password.clone(),
                    groups: u.groups.clone(),
                },
            )
        })
        .collect();
    add(
        Party::ActiveDirectory(ActiveDirectory::new(
            AdConfig {
                accounts,
                kerberos_key: krb_key,
                realm: domain.to_ascii_uppercase(),
                sync_interval: SimDuration::from_millis(sc.identity.sync_interval.ms()),
            },
            view(ids.ad, &onprem_dir),
        )),
        "active-directory",
        Zone::Onprem,
        ids.ad,
    );

    apply_latencies(sc, &names, &zones, &mut world);
    for c in &sc.clocks {
        if let Some(i) = names.iter().position(|n| *n == c.party) {
            world.set_skew(ActorId(i as u32), c.skew.0.saturating_mul(1000));
        }
    }

    // Background jobs that run from the start.
    let mut timers = Vec::new();
    if let Party::ExchangeOnprem(x) = world.actor(ids.onprem) {
        timers.extend(x.initial_timers().into_iter().map(|t| (ids.onprem, t)));
    }
    if let Party::ActiveDirectory(x) = world.actor(ids.ad) {
        timers.extend(x.initial_timers().into_iter().map(|t| (ids.ad, t)));
    }
    for (actor, (after, msg)) in timers {
        world.schedule_timer(SimTime::ZERO + after, actor, msg);
    }

    let runner_actions = schedule_timeline(sc, &mut world, &names, &ids, &mail_host);
    Built {
        world,
        names,
        clients,
        runner_actions,
        zones,
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
    for (a, b) in [
        (Zone::Onprem, Zone::Onprem),
        (Zone::Intranet, Zone::Onprem),
        (Zone::Onprem, Zone::Intranet),
        (Zone::Cloud, Zone::Cloud),
    ] {
        net.set_class_latency(
            a.class(),
            b.class(),
            SimDuration::from_millis(2),
            SimDuration::from_micros(500),
        );
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

/// The address range of Microsoft's services in a simulated world (a documentation
/// range, RFC 5737): Entra ID takes a relayed sign-in's client address from
/// `X-Forwarded-For` only from there.
pub const MICROSOFT_SERVICES: &str = "192.0.2.0/24";

/// What Conditional Access knows of the tenant: named locations (with the MFA trusted
/// IPs), the geolocation table, and each user's groups and roles. Entra ID evaluates with
/// it, and `whatif` too, so both derive a sign-in's facts the same way.
pub fn ca_tenant(sc: &Scenario) -> Tenant {
    Tenant {
        named_locations: sc.effective_named_locations(),
        geo: sc.network.geo.clone(),
        users: sc
            .users
            .iter()
            .map(|u| {
                (
                    u.upn.to_ascii_lowercase(),
                    Member {
                        groups: u.groups.clone(),
                        roles: u.roles.clone(),
                        guest: u.guest.clone(),
                        user_risk: u.user_risk,
                        sign_in_risk: u.sign_in_risk,
                        insider_risk: u.insider_risk,
                    },
                )
            })
            .collect(),
        // The directory's devices: each client's registered device.
        devices: sc
            .clients
            .iter()
            .filter_map(|c| c.device.record(&c.party_id(), c.platform, sc.seed))
            .map(|r| (r.id.to_ascii_lowercase(), r))
            .collect(),
        device_seed: sc.seed,
    }
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
    names: &[String],
    ids: &Ids,
    mail_host: &str,
) -> Vec<(SimTime, RunnerAction)> {
    let mut runner = Vec::new();
    let id_of = |name: &str| {
        names
            .iter()
            .position(|x| x == name)
            .map(|i| ActorId(i as u32))
    };
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
                    ids.ad,
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
                ids.ad,
                UserAction::DirectorySync,
                "a directory synchronization cycle runs now".into(),
            ),
            (ActionKind::RotateEvostsKey, _) => deliver(
                ids.entra,
                UserAction::RotateKey,
                "EvoSTS rolls its signing key".into(),
            ),
            (ActionKind::RefreshAuthMetadata, _) => deliver(
                ids.onprem,
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

/// How a scenario client authenticates: modern, or legacy against its protocol's endpoint
/// at the mailbox's host.
pub(crate) fn client_auth(
    c: &hmasim_scenario::Client,
    mailbox: MailboxLocation,
    mail_host: &str,
) -> Auth {
    let protocol = c.protocol.unwrap_or(match c.kind {
        ClientKind::OutlookDesktop | ClientKind::Browser => MailProtocol::Mapi,
        _ => MailProtocol::Activesync,
    });
    let host = match mailbox {
        MailboxLocation::Online => "outlook.office365.com",
        MailboxLocation::Onprem => mail_host,
    };
    let url = Url::https(host, legacy_path(protocol));
    match (c.auth, c.kind) {
        (_, ClientKind::NativeMail) | (AuthMethod::Basic, _) => Auth::Basic { url },
        (AuthMethod::Modern, ClientKind::OutlookMobile) if !c.autodetect => Auth::Basic { url },
        (AuthMethod::Iwa, _) => Auth::Iwa { url },
        _ => Auth::Modern,
    }
}

/// Whether anything in the run can lose a message: injected faults, or an outage, a
/// partition, a crash or a configuration change in the timeline. Only then do parties keep
/// copies of their requests for retries.
fn lossy(sc: &Scenario) -> bool {
    !sc.network.faults.is_off()
        || sc.timeline.iter().any(|a| {
            matches!(
                a.action,
                ActionKind::Outage | ActionKind::Partition | ActionKind::Crash | ActionKind::Set
            )
        })
}

/// The path of a mailbox protocol's endpoint.
fn legacy_path(p: MailProtocol) -> &'static str {
    match p {
        MailProtocol::Activesync => "/Microsoft-Server-ActiveSync",
        MailProtocol::Autodiscover => "/autodiscover/autodiscover.xml",
        MailProtocol::Mapi => "/mapi/emsmdb/",
        MailProtocol::Ews => "/EWS/Exchange.asmx",
        MailProtocol::Oab => "/OAB/oab.xml",
        MailProtocol::Rpc => "/rpc/rpcproxy.dll",
        MailProtocol::Imap => "/imap",
        MailProtocol::Pop => "/pop",
    }
}

fn access(a: AccessLevel) -> Access {
    match a {
        AccessLevel::Allow => Access::Allow,
        AccessLevel::Block => Access::Block,
        AccessLevel::Quarantine => Access::Quarantine,
    }
}

/// Each user's Exchange Online authentication policy (their own, else the organization
/// default): its name and the protocols it allows Basic for.
fn exo_basic_policies(sc: &Scenario) -> BTreeMap<String, (String, BTreeSet<MailboxProtocol>)> {
    let mut out = BTreeMap::new();
    for u in &sc.users {
        let name = u
            .authentication_policy
            .as_ref()
            .or(sc.exchange_online.default_authentication_policy.as_ref());
        if let Some(p) = name.and_then(|n| {
            sc.exchange_online
                .authentication_policies
                .iter()
                .find(|p| &p.name == n)
        }) {
            let allowed = MailProtocol::ALL
                .iter()
                .filter(|x| p.allows_basic(**x))
                .map(|x| wire_protocol(*x))
                .collect();
            out.insert(u.upn.to_ascii_lowercase(), (p.name.clone(), allowed));
        }
    }
    out
}

/// The protocol a scenario's mail protocol is on the wire.
pub(crate) fn wire_protocol(p: MailProtocol) -> MailboxProtocol {
    match p {
        MailProtocol::Activesync => MailboxProtocol::Activesync,
        MailProtocol::Autodiscover => MailboxProtocol::Autodiscover,
        MailProtocol::Mapi => MailboxProtocol::Mapi,
        MailProtocol::Ews => MailboxProtocol::Ews,
        MailProtocol::Oab => MailboxProtocol::Oab,
        MailProtocol::Rpc => MailboxProtocol::Rpc,
        MailProtocol::Imap => MailboxProtocol::Imap,
        MailProtocol::Pop => MailboxProtocol::Pop,
    }
}

/// Each user's on-premises authentication policy: the protocols it blocks legacy
/// authentication for, and its name.
fn onprem_legacy_blocks(
    sc: &Scenario,
) -> (
    BTreeMap<String, BTreeSet<MailboxProtocol>>,
    BTreeMap<String, String>,
) {
    let (mut blocked, mut names) = (BTreeMap::new(), BTreeMap::new());
    for u in &sc.users {
        let name = u
            .onprem_authentication_policy
            .as_ref()
            .or(sc.onprem.default_authentication_policy.as_ref());
        if let Some(p) = name.and_then(|n| {
            sc.onprem
                .authentication_policies
                .iter()
                .find(|p| &p.name == n)
        }) {
            let upn = u.upn.to_ascii_lowercase();
            blocked.insert(
                upn.clone(),
                MailProtocol::ALL
                    .iter()
                    .filter(|x| p.blocks_legacy(**x))
                    .map(|x| wire_protocol(*x))
                    .collect(),
            );
            names.insert(upn, p.name.clone());
        }
    }
    (blocked, names)
}

/// What a client presents on the wire: its `User-Agent`, and its ActiveSync `DeviceType`
/// and device model; the scenario's values when it sets them (what a password holder
/// writes), else its kind's and platform's own. The explorer of `hmasim verify` sets the
/// same on a branched world.
pub(crate) fn presented(c: &hmasim_scenario::Client) -> (String, (String, String)) {
    let device = default_device(c.kind, c.platform);
    (
        c.user_agent
            .clone()
            .unwrap_or_else(|| user_agent(c.kind, c.platform).to_string()),
        (
            c.device_type
                .clone()
                .unwrap_or_else(|| device.0.to_string()),
            c.device_model
                .clone()
                .unwrap_or_else(|| device.1.to_string()),
        ),
    )
}

/// The ActiveSync `DeviceType` and model a client kind reports on its own.
pub(crate) fn default_device(kind: ClientKind, platform: Platform) -> (&'static str, &'static str) {
    match (kind, platform) {
        (ClientKind::OutlookMobile, _) => ("Outlook", "Outlook for iOS and Android"),
        (ClientKind::NativeMail, Platform::Android) => ("Android", "Android"),
        (ClientKind::NativeMail, _) => ("iPhone", "iPhone"),
        _ => ("", ""),
    }
}

/// The `User-Agent` a client kind sends on its own.
pub(crate) fn user_agent(kind: ClientKind, platform: Platform) -> &'static str {
    match (kind, platform) {
        (ClientKind::NativeMail, Platform::Android) => "Android-Mail/2024.11 (Android 14)",
        (ClientKind::NativeMail, _) => "Apple-iPhone15C2/2104.1 (iOS 17.6)",
        (ClientKind::OutlookMobile, Platform::Android) => "Outlook-Android/2.0",
        (ClientKind::OutlookMobile, _) => "Outlook-iOS/2.0",
        (ClientKind::OutlookDesktop, Platform::Macos) => "Outlook-Mac/16.90 (Macintosh; Mac OS X 14.6)",
        (ClientKind::OutlookDesktop, _) => "Microsoft Office/16.0 (Windows NT 10.0; Microsoft Outlook 16.0.17928; Pro)",
        (ClientKind::Browser, Platform::Macos) => "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_6) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.6 Safari/605.1.15",
        (ClientKind::Browser, Platform::Ios) => "Mozilla/5.0 (iPhone; CPU iPhone OS 17_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.6 Mobile/15E148 Safari/604.1",
        (ClientKind::Browser, Platform::Android) => "Mozilla/5.0 (Linux; Android 14) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0 Mobile Safari/537.36",
        (ClientKind::Browser, Platform::Windows) => "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36 Edg/130.0.0.0",
    }
}
