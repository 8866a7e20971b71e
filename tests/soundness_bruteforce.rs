//! Soundness of `verify` by brute force, independent of its reductions (issue 10, item 9).
//!
//! A seeded, deterministic generator builds tenants (Conditional Access policies with platform,
//! location, role, group, application and client-app conditions in every state; users with
//! groups, roles, MFA registration, mailboxes online and on-premises, per-user authentication
//! policies; organization defaults online and on-premises; ActiveSync device access rules;
//! named locations with IP ranges and the MFA trusted IPs; a timeline with one configuration
//! change). For each tenant the brute force enumerates every user x client kind in scope x
//! location x method x raw signal value (the fixed set below) x epoch, and runs each as a
//! fresh single-client scenario built here, not by `verify`. Then it asserts:
//!
//! - every path `verify` reports has the brute-force verdict of the same path under the same
//!   signals (today's `verify` pins no signal: the client's own, at the scenario's start);
//! - whenever the brute force finds a single-factor path, `verify` does not call the tenant
//!   clean.
//!
//! The raw signal values (fixed and finite; [`raw_signals`]):
//! - User-Agent: one a real client of each CA platform sends (Windows, macOS, iOS, Android,
//!   Windows Phone), one Linux, one no platform can be read from, and the kind's own (none set);
//! - source address: the client's own (office egress inside, the Internet default outside),
//!   one address in each range the tenant mentions (named locations, MFA trusted IPs), one
//!   outside everything;
//! - ActiveSync DeviceType / DeviceModel (ActiveSync methods only: no other request carries
//!   them): the kind's own, every string a device access rule names (as that characteristic),
//!   one unknown.
//!
//! Every combination of the three is run. The smoke in CI checks a few tenants
//! (`HMASIM_SOUNDNESS_TENANTS`, or `PROPTEST_CASES` up to 20; default 20); the long run, outside CI:
//!
//! ```text
//! HMASIM_SOUNDNESS_TENANTS=10000 cargo test --release --test soundness_bruteforce -- --ignored --nocapture
//! ```

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use hmasim::protocol::policy::{InsiderRiskLevel, RiskLevel};
use hmasim::scenario::{
    self, Action, ActionKind, AuthMethod, Client, ClientKind, DeviceCharacteristic, DeviceState,
    Location, MailProtocol, MailboxLocation, Platform, Scenario, Span,
};
use hmasim::sim::verify::{verify, Overall, Risk, Verdict};

/// SplitMix64: a seeded stream, so tenant `n` is the same tenant on every machine.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
    fn pick<'a>(&mut self, xs: &[&'a str]) -> &'a str {
        xs[self.below(xs.len())]
    }
    /// A subset of `xs`, each kept with probability `percent`.
    fn subset<'a>(&mut self, xs: &[&'a str], percent: u64) -> Vec<&'a str> {
        xs.iter()
            .copied()
            .filter(|_| self.chance(percent))
            .collect()
    }
}

fn list(xs: &[&str]) -> String {
    let q: Vec<String> = xs.iter().map(|x| format!("{x:?}")).collect();
    format!("[{}]", q.join(", "))
}

/// Ranges the generator draws named locations and MFA trusted IPs from: the office's
/// (203.0.113.10 is the office egress), the Internet default's (198.51.100.20), ranges holding
/// neither, IPv6.
const RANGES: [&str; 6] = [
    "203.0.113.0/24",
    "198.51.100.0/24",
    "198.51.100.128/25",
    "100.64.1.0/24",
    "100.64.0.0/16",
    "2001:db8:1::/48",
];

/// Strings device access rules name.
const DEVICE_STRINGS: [&str; 6] = [
    "OutlookService",
    "Outlook",
    "Outlook for iOS and Android",
    "iPhone",
    "Android",
    "EvilPhone",
];

/// One generated tenant: `--set` overrides of secure-hybrid (clients and timeline emptied),
/// and the configuration changes of its timeline (`(at, key, value)`).
#[derive(Clone, Debug)]
struct Tenant {
    sets: Vec<String>,
    changes: Vec<(&'static str, String, String)>,
}

fn generate(seed: u64) -> Tenant {
    let mut r = Rng(seed);
    let mut sets = vec![format!(
        "identity.model={}",
        r.pick(&["federated", "phs", "pta"])
    )];
    // Authentication policies, online (Basic blocked unless re-enabled) and on-premises.
    sets.push(
        "exchange_online.authentication_policies=[{name = \"Block Basic\"}, {name = \"Allow EAS\", allow_basic_auth_activesync = true}, {name = \"Allow IMAP\", allow_basic_auth_imap = true, allow_basic_auth_pop = true}, {name = \"Allow MAPI\", allow_basic_auth_mapi = true, allow_basic_auth_autodiscover = true}]".into(),
    );
    let exo = ["", "Block Basic", "Allow EAS", "Allow IMAP", "Allow MAPI"];
    match r.pick(&exo) {
        "" => sets.push("exchange_online.default_authentication_policy=<none>".into()),
        p => sets.push(format!(
            "exchange_online.default_authentication_policy={p:?}"
        )),
    }
    sets.push(
        "onprem.authentication_policies=[{name = \"Block Legacy\", block_legacy_auth_activesync = true, block_legacy_auth_autodiscover = true, block_legacy_auth_mapi = true, block_legacy_auth_web_services = true, block_legacy_auth_offline_address_book = true, block_legacy_auth_rpc = true, block_legacy_auth_imap = true, block_legacy_auth_pop = true}, {name = \"Allow EAS\", block_legacy_auth_autodiscover = true, block_legacy_auth_mapi = true, block_legacy_auth_web_services = true, block_legacy_auth_offline_address_book = true, block_legacy_auth_rpc = true}, {name = \"Open\"}]".into(),
    );
    let onp = ["", "Block Legacy", "Allow EAS", "Open"];
    match r.pick(&onp) {
        "" => sets.push("onprem.default_authentication_policy=<none>".into()),
        p => sets.push(format!("onprem.default_authentication_policy={p:?}")),
    }
    sets.push(format!("onprem.imap_enabled={}", r.chance(30)));
    sets.push(format!("onprem.pop_enabled={}", r.chance(20)));
    sets.push(format!("onprem.owa_adfs_claims={}", r.chance(70)));
    sets.push(format!("entra.accept_adfs_mfa={}", r.chance(70)));
    let adfs = [
        "permit-everyone",
        "require-mfa",
        "require-mfa-extranet",
        "require-mfa-group",
    ];
    sets.push("adfs.mfa_group=\"admins\"".into());
    sets.push(format!("adfs.office365_policy={}", r.pick(&adfs)));
    sets.push(format!("adfs.owa_policy={}", r.pick(&adfs)));

    // Users: one or two.
    let mut users = Vec::new();
    for i in 0..1 + r.below(2) {
        let mailbox = r.pick(&["online", "onprem"]);
        let groups = r.subset(&["admins", "sales"], 40);
        let roles = r.subset(&["Global Administrator", "Exchange Administrator"], 25);
        let mut u = format!(
            "{{upn = \"u{i}@contoso.com\", mailbox = \"{mailbox}\", groups = {}, roles = {}, mfa_registered = {}",
            list(&groups),
            list(&roles),
            r.chance(80)
        );
        if r.chance(25) {
            u += &format!(
                ", authentication_policy = {:?}",
                r.pick(&["Block Basic", "Allow EAS", "Allow IMAP", "Allow MAPI"])
            );
        }
        if r.chance(25) {
            u += &format!(
                ", onprem_authentication_policy = {:?}",
                r.pick(&["Block Legacy", "Allow EAS", "Open"])
            );
        }
        u += "}";
        users.push(u);
    }
    sets.push(format!("users=[{}]", users.join(", ")));

    // Named locations and the MFA trusted IPs.
    let mut locations = Vec::new();
    let mut names = Vec::new();
    for i in 0..r.below(3) {
        let name = ["Office", "Branch", "Partner"][i];
        names.push(name);
        let ranges = r.subset(&RANGES, 30);
        let ranges = if ranges.is_empty() {
            vec![r.pick(&RANGES)]
        } else {
            ranges
        };
        locations.push(format!(
            "{{id = \"loc-{i}\", name = \"{name}\", trusted = {}, ip_ranges = {}}}",
            r.chance(50),
            list(&ranges)
        ));
    }
    sets.push(format!("named_locations=[{}]", locations.join(", ")));
    let trusted = match r.below(3) {
        0 => vec![],
        1 => vec!["203.0.113.0/24"],
        _ => vec![r.pick(&RANGES)],
    };
    sets.push(format!("network.mfa_trusted_ips={}", list(&trusted)));

    // Conditional Access: one to four policies.
    let mut loc_values = vec!["All", "AllTrusted"];
    loc_values.extend(names.iter().copied());
    let platforms = [
        "android",
        "iOS",
        "windows",
        "windowsPhone",
        "macOS",
        "linux",
    ];
    // Filters for devices come from a stream of their own, so the other draws (and so the
    // tenants of every seed) are those they were before filters existed.
    let mut rd = Rng(seed ^ 0xD5A1_CE00_F11E_0000);
    const FILTERS: [(&str, &str); 5] = [
        (
            "exclude",
            r#"device.trustType -eq "Workplace" -or device.trustType -eq "AzureAD""#,
        ),
        ("exclude", r#"device.trustType -eq "ServerAD""#),
        ("include", r#"device.trustType -ne "Workplace""#),
        (
            "include",
            r#"device.isCompliant -ne True -and device.operatingSystem -notStartsWith "Win""#,
        ),
        ("exclude", r#"device.displayName -startsWith "CONTOSO-""#),
    ];
    let mut policies = Vec::new();
    // Risk conditions come from a stream of their own, so the tenants drawn before risk
    // was modelled stay the same tenants.
    let mut rr = Rng(seed ^ 0x5249_534b);
    for i in 0..1 + r.below(4) {
        let state = r.pick(&[
            "enabled",
            "enabled",
            "enabled",
            "enabledForReportingButNotEnforced",
            "disabled",
        ]);
        let mut p = format!("{{name = \"P{i}\", state = \"{state}\"");
        if r.chance(30) {
            let by = r.pick(&["groups", "roles"]);
            let v = if by == "groups" {
                r.pick(&["admins", "sales"])
            } else {
                r.pick(&["Global Administrator", "Exchange Administrator"])
            };
            p += &format!(", include_users = [], include_{by} = [{v:?}]");
        }
        if r.chance(25) {
            p += &format!(", exclude_users = [\"u{}@contoso.com\"]", r.below(2));
        }
        if r.chance(25) {
            p += &format!(", exclude_groups = [{:?}]", r.pick(&["admins", "sales"]));
        }
        if r.chance(25) {
            p += &format!(
                ", exclude_roles = [{:?}]",
                r.pick(&["Global Administrator", "Exchange Administrator"])
            );
        }
        p += &format!(
            ", include_applications = [{:?}]",
            r.pick(&["All", "Office365", "00000002-0000-0ff1-ce00-000000000000"])
        );
        let apps = r.subset(
            &[
                "browser",
                "mobileAppsAndDesktopClients",
                "exchangeActiveSync",
                "other",
            ],
            40,
        );
        if !apps.is_empty() {
            p += &format!(", client_app_types = {}", list(&apps));
        }
        if r.chance(40) {
            let inc = r.subset(&platforms, 40);
            let inc = if inc.is_empty() || r.chance(20) {
                vec!["all"]
            } else {
                inc
            };
            p += &format!(", include_platforms = {}", list(&inc));
            if r.chance(30) {
                p += &format!(", exclude_platforms = [{:?}]", r.pick(&platforms));
            }
        }
        if r.chance(40) {
            p += &format!(", include_locations = [{:?}]", r.pick(&loc_values));
            if r.chance(50) {
                p += &format!(", exclude_locations = [{:?}]", r.pick(&loc_values[1..]));
            }
        }
        let grant = match r.below(6) {
            0 => vec!["block"],
            1 => vec!["approvedApplication"],
            2 => vec!["compliantDevice"],
            3 => vec!["mfa", "compliantDevice"],
            _ => vec!["mfa"],
        };
        p += &format!(", grant = {}", list(&grant));
        if grant.len() > 1 {
            p += &format!(", operator = {:?}", r.pick(&["AND", "OR"]));
        }
        if rr.chance(25) {
            let (key, levels): (&str, &[&str]) = match rr.below(5) {
                0 | 1 => ("sign_in_risk_levels", &["low", "medium", "high"]),
                2 | 3 => ("user_risk_levels", &["low", "medium", "high"]),
                _ => ("insider_risk_levels", &["minor", "moderate", "elevated"]),
            };
            let mut l = rr.subset(levels, 50);
            if l.is_empty() {
                l.push(levels[2]);
            }
            // Rarely the level "none" too: then a detected risk can also open a path.
            if rr.chance(15) {
                l.push("none");
            }
            p += &format!(", {key} = {}", list(&l));
        }
        if rd.chance(30) {
            let (mode, rule) = FILTERS[rd.below(FILTERS.len())];
            p += &format!(", device_filter = {{ mode = {mode:?}, rule = {rule:?} }}");
        }
        p += "}";
        policies.push(p);
    }
    let n_policies = policies.len();
    sets.push(format!("conditional_access=[{}]", policies.join(", ")));

    // ActiveSync device access.
    sets.push(format!(
        "onprem.activesync.default_access_level={}",
        r.pick(&["allow", "block", "quarantine"])
    ));
    let mut rules = Vec::new();
    for _ in 0..r.below(3) {
        rules.push(format!(
            "{{characteristic = {:?}, query = {:?}, access_level = {:?}}}",
            r.pick(&["DeviceType", "DeviceModel"]),
            r.pick(&DEVICE_STRINGS),
            r.pick(&["allow", "block", "quarantine"])
        ));
    }
    let n_rules = rules.len();
    sets.push(format!(
        "onprem.activesync.device_rules=[{}]",
        rules.join(", ")
    ));

    // The client kinds in scope: one or two, so a tenant stays small.
    let kinds = [
        "browser",
        "outlook-desktop",
        "outlook-mobile",
        "native-mail",
    ];
    let a = r.below(4);
    let scope = if r.chance(50) {
        vec![kinds[a]]
    } else {
        vec![kinds[a], kinds[(a + 1 + r.below(3)) % 4]]
    };
    sets.push(format!("verify.clients={}", list(&scope)));

    // A timeline with one configuration change, for a third of the tenants.
    let mut changes = Vec::new();
    if r.chance(33) {
        let change = match r.below(4) {
            0 => (
                "identity.model".to_string(),
                r.pick(&["federated", "phs", "pta"]).to_string(),
            ),
            1 => (
                format!("conditional_access.{}.state", r.below(n_policies)),
                r.pick(&["enabled", "disabled", "enabledForReportingButNotEnforced"])
                    .to_string(),
            ),
            2 => (
                "onprem.activesync.default_access_level".to_string(),
                r.pick(&["allow", "block", "quarantine"]).to_string(),
            ),
            _ if n_rules > 0 => (
                format!(
                    "onprem.activesync.device_rules.{}.access_level",
                    r.below(n_rules)
                ),
                r.pick(&["allow", "block", "quarantine"]).to_string(),
            ),
            _ => (
                "exchange_online.default_authentication_policy".to_string(),
                r.pick(&["Block Basic", "Allow EAS"]).to_string(),
            ),
        };
        changes.push(("5m", change.0, change.1));
    }
    Tenant { sets, changes }
}

/// The tenant's scenario with its timeline (its configuration changes only: no client).
fn tenant_scenario(t: &Tenant) -> Result<Scenario, String> {
    let mut sc = scenario::load("secure-hybrid").map_err(|e| format!("{e:?}"))?;
    sc.clients.clear();
    sc.timeline.clear();
    sc.fix = None;
    for s in &t.sets {
        // No organization default (an override cannot unset a field).
        if s == "exchange_online.default_authentication_policy=<none>" {
            sc.exchange_online.default_authentication_policy = None;
            continue;
        }
        if s == "onprem.default_authentication_policy=<none>" {
            sc.onprem.default_authentication_policy = None;
            continue;
        }
        scenario::apply_set(&mut sc, s).map_err(|e| format!("{s}: {e:?}"))?;
    }
    if !t.changes.is_empty() {
        let entries: Vec<String> = t
            .changes
            .iter()
            .map(|(at, k, v)| format!("{{at = {at:?}, do = \"set\", key = {k:?}, value = {v:?}}}"))
            .collect();
        let s = format!("timeline=[{}]", entries.join(", "));
        scenario::apply_set(&mut sc, &s).map_err(|e| format!("{s}: {e:?}"))?;
    }
    Ok(sc)
}

/// One raw choice of what the client writes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct Signals {
    user_agent: Option<String>,
    source_address: Option<IpAddr>,
    device_type: Option<String>,
    device_model: Option<String>,
    /// The password holder registers a device of its own first (modern methods).
    registers_device: bool,
    /// The display name it reports for that device (`None`: the client's default).
    device_name: Option<String>,
    /// The risk levels Identity Protection holds (`None`: the user's own).
    risk: Option<Risk>,
}

/// Every risk combination of the dimensions a policy of the tenant (in any state) has a
/// condition on: four levels each; `[None]` when no policy has one.
fn raw_risks(sc: &Scenario) -> Vec<Option<Risk>> {
    let ps = &sc.conditional_access;
    let sign_in: &[RiskLevel] = if ps.iter().any(|p| !p.sign_in_risk_levels.is_empty()) {
        &RiskLevel::ALL
    } else {
        &[RiskLevel::None]
    };
    let user: &[RiskLevel] = if ps.iter().any(|p| !p.user_risk_levels.is_empty()) {
        &RiskLevel::ALL
    } else {
        &[RiskLevel::None]
    };
    let insider: &[InsiderRiskLevel] = if ps.iter().any(|p| !p.insider_risk_levels.is_empty()) {
        &InsiderRiskLevel::ALL
    } else {
        &[InsiderRiskLevel::None]
    };
    if sign_in.len() + user.len() + insider.len() == 3 {
        return vec![None];
    }
    let mut out = Vec::new();
    for &s in sign_in {
        for &u in user {
            for &i in insider {
                out.push(Some(Risk {
                    sign_in: s,
                    user: u,
                    insider: i,
                }));
            }
        }
    }
    out
}

/// User-Agents: one per CA platform, Linux, and one no platform reads from.
const USER_AGENTS: [&str; 7] = [
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) Microsoft Outlook 16.0",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_0) Outlook-Mac/16.0",
    "Outlook-iOS/2.0",
    "Outlook-Android/2.0",
    "Mozilla/5.0 (Windows Phone 10.0; Android 6.0.1)",
    "Mozilla/5.0 (X11; Linux x86_64) Firefox/130.0",
    "curl/8.5.0",
];

/// An address in no range the generator uses.
const OUTSIDE: &str = "198.18.0.1";

/// The first host of a CIDR range (one address inside it).
fn inside(range: &str) -> IpAddr {
    let base: IpAddr = range.split('/').next().unwrap().parse().unwrap();
    match base {
        IpAddr::V4(a) => IpAddr::V4(std::net::Ipv4Addr::from(u32::from(a) | 1)),
        IpAddr::V6(a) => IpAddr::V6(std::net::Ipv6Addr::from(u128::from(a) | 1)),
    }
}

/// The raw signal values of one path (see the crate docs). Inside, connections leave by
/// the office's egress: the address is the client's own. Outside: the office egress, the
/// Internet default, one address in each range the tenant mentions, one outside all.
fn raw_signals(sc: &Scenario, location: Location, activesync: bool, modern: bool) -> Vec<Signals> {
    let mut addrs: Vec<Option<IpAddr>> = vec![None];
    if location == Location::External {
        addrs.push(Some(sc.network.office_egress));
        addrs.push(Some(sc.network.internet_address));
        let ranges = sc
            .named_locations
            .iter()
            .flat_map(|l| l.ip_ranges.iter())
            .chain(&sc.network.mfa_trusted_ips);
        addrs.extend(ranges.map(|r| Some(inside(&r.to_string()))));
        addrs.push(Some(OUTSIDE.parse().unwrap()));
        addrs.sort();
        addrs.dedup();
    }
    // DeviceType x DeviceModel: the kind's own (`None`), every string a rule names, one
    // unknown.
    let mut types: Vec<Option<String>> = vec![None];
    let mut models: Vec<Option<String>> = vec![None];
    if activesync {
        for rule in &sc.onprem.activesync.device_rules {
            let q = Some(rule.query.clone());
            match rule.characteristic {
                DeviceCharacteristic::DeviceType => types.push(q),
                DeviceCharacteristic::DeviceModel => models.push(q),
                // A rule on the User-Agent: its string is one more User-Agent to send.
                DeviceCharacteristic::UserAgent => {}
            }
        }
        types.push(Some("UnknownType".into()));
        models.push(Some("Unknown Model".into()));
        types.dedup();
        models.dedup();
    }
    let mut uas: Vec<String> = USER_AGENTS.iter().map(|u| u.to_string()).collect();
    uas.extend(
        sc.onprem
            .activesync
            .device_rules
            .iter()
            .filter(|r| activesync && r.characteristic == DeviceCharacteristic::UserAgent)
            .map(|r| r.query.clone()),
    );
    // The registration: none, or one with the client's default display name and one with
    // each string a filter for devices compares `displayName` with (the client chooses it).
    let mut registrations: Vec<(bool, Option<String>)> = vec![(false, None), (true, None)];
    for p in &sc.conditional_access {
        if let Some(f) = &p.device_filter {
            for l in f.rule.literals(hmasim::protocol::device::Attr::DisplayName) {
                registrations.push((true, Some(l)));
            }
        }
    }
    registrations.dedup();
    let mut out = Vec::new();
    for risk in raw_risks(sc) {
        for ua in &uas {
            for a in &addrs {
                for t in &types {
                    for m in &models {
                        // Every modern path also with a device registration, whatever the
                        // policies say: verify's pruning of it is what this checks.
                        for (registers_device, device_name) in &registrations {
                            if *registers_device && !modern {
                                continue;
                            }
                            out.push(Signals {
                                user_agent: Some(ua.clone()),
                                source_address: *a,
                                device_type: t.clone(),
                                device_model: m.clone(),
                                risk,
                                registers_device: *registers_device,
                                device_name: device_name.clone(),
                            });
                        }
                    }
                }
            }
        }
    }
    out
}

fn kind_of(name: &str) -> ClientKind {
    match name {
        "browser" => ClientKind::Browser,
        "outlook-desktop" => ClientKind::OutlookDesktop,
        "outlook-mobile" => ClientKind::OutlookMobile,
        _ => ClientKind::NativeMail,
    }
}

fn kind_name(k: ClientKind) -> &'static str {
    match k {
        ClientKind::Browser => "browser",
        ClientKind::OutlookDesktop => "outlook-desktop",
        ClientKind::OutlookMobile => "outlook-mobile",
        ClientKind::NativeMail => "native-mail",
    }
}

type Method = (String, AuthMethod, Option<MailProtocol>, bool);

/// The ways each client kind authenticates (the documented methods of `hmasim verify`,
/// written out here again): `(name, auth, protocol, autodetect)`.
fn methods(kind: ClientKind, location: Location, mailbox: MailboxLocation) -> Vec<Method> {
    let basic = |p: MailProtocol| {
        (
            format!("basic-{}", p.name()),
            AuthMethod::Basic,
            Some(p),
            true,
        )
    };
    match kind {
        ClientKind::Browser => vec![("web".into(), AuthMethod::Modern, None, true)],
        ClientKind::OutlookDesktop => {
            let mut m = vec![("modern".into(), AuthMethod::Modern, None, true)];
            m.extend(
                [
                    MailProtocol::Autodiscover,
                    MailProtocol::Mapi,
                    MailProtocol::Ews,
                    MailProtocol::Oab,
                    MailProtocol::Rpc,
                ]
                .map(basic),
            );
            if location == Location::Internal && mailbox == MailboxLocation::Onprem {
                m.push((
                    "iwa-mapi".into(),
                    AuthMethod::Iwa,
                    Some(MailProtocol::Mapi),
                    true,
                ));
            }
            m
        }
        ClientKind::OutlookMobile => vec![
            ("modern-autodetect".into(), AuthMethod::Modern, None, true),
            (
                "basic-activesync-manual".into(),
                AuthMethod::Modern,
                Some(MailProtocol::Activesync),
                false,
            ),
        ],
        ClientKind::NativeMail => [
            MailProtocol::Activesync,
            MailProtocol::Imap,
            MailProtocol::Pop,
        ]
        .map(basic)
        .to_vec(),
    }
}

/// The configuration epochs, read here from the timeline: the start, and each instant
/// within the run at which a `set` changes the configuration.
fn epoch_starts(sc: &Scenario) -> Vec<u64> {
    let mut v = vec![0];
    v.extend(
        sc.timeline
            .iter()
            .filter(|a| a.action == ActionKind::Set && a.at.0 > 0 && a.at.0 < sc.run.duration.0)
            .map(|a| a.at.0),
    );
    v.sort();
    v.dedup();
    v
}

/// One raw path: a user, a client kind, a location, a method, the signals, an epoch, and
/// whether the session was signed in at the previous epoch's start and followed across the
/// change.
#[derive(Clone, Debug)]
struct RawPath {
    user: String,
    kind: ClientKind,
    location: Location,
    method: Method,
    signals: Signals,
    epoch: usize,
    continued: bool,
}

/// How long a fresh sign-in is followed, and a session continued across a change after
/// it (docs/verify.md; longer than the 30-minute background sync).
const FRESH: u64 = 10 * 60_000;
const CONTINUED: u64 = 40 * 60_000;

/// The plain one-client scenario of a raw path: the tenant's timeline kept, the client's
/// action at the epoch's start (the previous epoch's for a continued session).
fn raw_scenario(tenant: &Scenario, starts: &[u64], p: &RawPath) -> Scenario {
    let mut sc = tenant.clone();
    if let Some(r) = p.signals.risk {
        for u in sc
            .users
            .iter_mut()
            .filter(|u| u.upn.eq_ignore_ascii_case(&p.user))
        {
            u.sign_in_risk = r.sign_in;
            u.user_risk = r.user;
            u.insider_risk = r.insider;
        }
    }
    let internal = p.location == Location::Internal;
    sc.clients = vec![Client {
        id: None,
        kind: p.kind,
        user: p.user.clone(),
        platform: if matches!(p.kind, ClientKind::OutlookMobile | ClientKind::NativeMail) {
            Platform::Ios
        } else {
            Platform::Windows
        },
        location: p.location,
        device: if p.signals.registers_device {
            DeviceState::Registers
        } else if internal && p.kind != ClientKind::NativeMail {
            DeviceState::DomainJoined
        } else {
            DeviceState::Unmanaged
        },
        sync_interval: Span(30 * 60_000),
        auth: p.method.1,
        protocol: p.method.2,
        autodetect: p.method.3,
        app_protection: false,
        source_address: p.signals.source_address,
        user_agent: p.signals.user_agent.clone(),
        device_type: p.signals.device_type.clone(),
        device_model: p.signals.device_model.clone(),
        device_name: p.signals.device_name.clone(),
    }];
    let action = match p.kind {
        ClientKind::Browser => ActionKind::OpenOwa,
        ClientKind::OutlookDesktop => ActionKind::StartOutlook,
        _ => ActionKind::AddAccount,
    };
    let (start, until) = if p.continued {
        (starts[p.epoch - 1], starts[p.epoch] + CONTINUED)
    } else {
        (starts[p.epoch], starts[p.epoch] + FRESH)
    };
    // A change at an instant comes before the sign-in that starts its epoch.
    let at = sc.timeline.partition_point(|a| a.at.0 <= start);
    sc.timeline.insert(
        at,
        Action::on_client(Span(start), action, kind_name(p.kind)),
    );
    sc.run.duration = Span(until);
    sc.fix = None;
    sc
}

/// The verdict of a fresh run, read from its outcome: single-factor when mailbox data
/// reached anyone without MFA (docs/outcome.md); mailbox data with MFA for a user who had
/// no method registered rests on a method the password holder registered.
fn brute_verdict(tenant: &Scenario, sc: &Scenario) -> Verdict {
    let o = hmasim::sim::run(sc, false).outcome;
    let registered = tenant
        .user(&sc.clients[0].user)
        .is_none_or(|u| u.mfa_registered);
    if o.data_without_mfa {
        Verdict::MailboxWithoutMfa
    } else if o.mailbox_access && !registered {
        Verdict::RegistersMfaWithPassword
    } else if o.mailbox_access {
        Verdict::MailboxWithMfa
    } else {
        Verdict::NoAccess
    }
}

/// What checking tenants found.
#[derive(Default, Debug)]
struct Tally {
    tenants: u64,
    /// Tenants verify calls clean, not clean, not proven.
    clean: u64,
    not_clean: u64,
    not_proven: u64,
    /// Paths verify explored (each replayed here as a fresh run).
    verify_paths: u64,
    /// Raw paths: user x kind x location x method x epoch (x continued).
    raw_paths: u64,
    /// Fresh runs of raw signal values.
    raw_runs: u64,
    single_factor_runs: u64,
    disagreements: Vec<String>,
}

/// The key of a path up to its signals: the user (class representative), kind, location,
/// method, epoch, continued.
type Group = (String, &'static str, &'static str, String, usize, bool);

fn check_tenant(seed: u64, t: &Tenant, tally: &mut Tally) {
    let sc = tenant_scenario(t).unwrap_or_else(|e| panic!("tenant {seed} does not load: {e}"));
    tally.tenants += 1;
    let v = verify(&sc);
    match v.verdict() {
        Overall::Clean => tally.clean += 1,
        Overall::NotClean => tally.not_clean += 1,
        Overall::NotProven => tally.not_proven += 1,
    }
    let starts = epoch_starts(&sc);
    let mut bad = |s: String| tally.disagreements.push(format!("tenant {seed}: {s}"));
    if v.epochs.iter().map(|e| e.from_ms).collect::<Vec<_>>() != starts {
        bad(format!("epochs {:?}, brute force {starts:?}", v.epochs));
    }
    // 1. Every path verify reports, replayed as a fresh run built here.
    // By group: the verdicts with no risk detected, and those at a detected risk.
    let mut reported: BTreeMap<Group, BTreeSet<Verdict>> = BTreeMap::new();
    let mut reported_at_risk: BTreeMap<Group, BTreeSet<Verdict>> = BTreeMap::new();
    // The paths whose device registration verify explored.
    let mut registered_explored: BTreeSet<Group> = BTreeSet::new();
    for p in &v.paths {
        let kind = kind_of(p.path.client.as_str());
        let location = if p.path.location.as_str() == "internal" {
            Location::Internal
        } else {
            Location::External
        };
        let mailbox = sc.user(&p.path.user).map(|u| u.mailbox).unwrap();
        let Some(method) = methods(kind, location, mailbox)
            .into_iter()
            .find(|m| m.0 == p.path.method.as_str())
        else {
            bad(format!("verify explored an unknown method {:?}", p.path));
            continue;
        };
        let raw = RawPath {
            user: p.path.user.clone(),
            kind,
            location,
            method,
            signals: Signals {
                user_agent: p.path.signals.user_agent.clone(),
                source_address: p.path.signals.source_address,
                device_type: p.path.signals.device_type.clone(),
                device_model: p.path.signals.device_model.clone(),
                risk: p.path.signals.risk,
                registers_device: p.path.signals.registers_device,
                device_name: p.path.signals.device_name.clone(),
            },
            epoch: p.epoch,
            continued: p.path.continued,
        };
        let brute = brute_verdict(&sc, &raw_scenario(&sc, &starts, &raw));
        tally.verify_paths += 1;
        if brute != p.verdict {
            bad(format!(
                "verify path {} epoch {}{}: verify {:?}, fresh run {brute:?}",
                p.path.key(),
                p.epoch,
                if p.path.continued { " continued" } else { "" },
                p.verdict
            ));
        }
        let detected = p.path.signals.risk.is_some_and(|r| r.detected());
        let group = (
            p.path.user.to_ascii_lowercase(),
            p.path.client.as_str(),
            p.path.location.as_str(),
            p.path.method.as_str().to_string(),
            p.epoch,
            p.path.continued,
        );
        if p.path.signals.registers_device {
            registered_explored.insert(group.clone());
        }
        if detected {
            &mut reported_at_risk
        } else {
            &mut reported
        }
        .entry(group)
        .or_default()
        .insert(p.verdict);
    }
    // 2. Every raw path and signal value: the verdicts it reaches equal those verify
    // reports for the user's class on that path.
    let mut single_factor = None;
    for user in &sc.users {
        let Some(class) = v
            .user_classes
            .iter()
            .find(|c| c.members.iter().any(|m| m.eq_ignore_ascii_case(&user.upn)))
        else {
            bad(format!("user {} is in no class", user.upn));
            continue;
        };
        for &kind in &sc.verify.clients {
            for location in [Location::External, Location::Internal] {
                let loc = if location == Location::Internal {
                    "internal"
                } else {
                    "external"
                };
                for method in methods(kind, location, user.mailbox) {
                    let activesync = method.2 == Some(MailProtocol::Activesync);
                    for epoch in 0..starts.len() {
                        for continued in [false, true] {
                            if continued && epoch == 0 {
                                continue;
                            }
                            tally.raw_paths += 1;
                            let mut found: BTreeMap<Verdict, Signals> = BTreeMap::new();
                            let mut found_at_risk: BTreeMap<Verdict, Signals> = BTreeMap::new();
                            let mut registering: BTreeMap<Verdict, Signals> = BTreeMap::new();
                            let modern =
                                method.1 == AuthMethod::Modern && kind != ClientKind::NativeMail;
                            for signals in raw_signals(&sc, location, activesync, modern) {
                                let p = RawPath {
                                    user: user.upn.clone(),
                                    kind,
                                    location,
                                    method: method.clone(),
                                    signals,
                                    epoch,
                                    continued,
                                };
                                let verdict = brute_verdict(&sc, &raw_scenario(&sc, &starts, &p));
                                tally.raw_runs += 1;
                                if verdict.single_factor() {
                                    tally.single_factor_runs += 1;
                                    single_factor.get_or_insert_with(|| p.clone());
                                }
                                if p.signals.risk.is_some_and(|r| r.detected()) {
                                    found_at_risk.entry(verdict).or_insert(p.signals);
                                } else if p.signals.registers_device {
                                    registering.entry(verdict).or_insert(p.signals);
                                } else {
                                    found.entry(verdict).or_insert(p.signals);
                                }
                            }
                            let key: Group = (
                                class.representative.to_ascii_lowercase(),
                                kind_name(kind),
                                loc,
                                method.0.clone(),
                                epoch,
                                continued,
                            );
                            // At a detected risk verify runs only the paths that can
                            // differ there: each single-factor verdict the brute force
                            // reaches at some detected risk is one verify reports.
                            let all: BTreeSet<Verdict> = reported
                                .get(&key)
                                .into_iter()
                                .chain(reported_at_risk.get(&key))
                                .flatten()
                                .copied()
                                .collect();
                            for (v, sig) in &found_at_risk {
                                if v.single_factor() && !all.contains(v) {
                                    bad(format!(
                                        "{} {} {loc} {} epoch {epoch}{}: brute force {v:?} at {sig:?}, verify {all:?}",
                                        user.upn,
                                        kind_name(kind),
                                        method.0,
                                        if continued { " continued" } else { "" },
                                    ));
                                }
                            }
                            let theirs = reported.get(&key).cloned().unwrap_or_default();
                            // Where verify explored the registration, its verdicts must
                            // match like any signal's. Where it pruned it (no filter for
                            // devices), the registration must open nothing: a registered
                            // Workplace device satisfies no more than an unregistered one, and
                            // the registration's own sign-in can only add refusals, so it may
                            // end in fewer accesses (no access where the domain-joined machine
                            // inside got in) but never single-factor where verify saw no
                            // single-factor verdict.
                            if registered_explored.contains(&key) {
                                for (v, s) in std::mem::take(&mut registering) {
                                    found.entry(v).or_insert(s);
                                }
                            } else if let Some((v, s)) =
                                registering.iter().find(|(v, _)| v.single_factor())
                            {
                                if !theirs.iter().any(|t| t.single_factor()) {
                                    bad(format!(
                                        "{} {} {loc} {} epoch {epoch}{}: the device registration verify pruned is {v:?} with {s:?}, verify {theirs:?}",
                                        user.upn,
                                        kind_name(kind),
                                        method.0,
                                        if continued { " continued" } else { "" },
                                    ));
                                }
                            }
                            registering.clear();
                            let ours: BTreeSet<Verdict> = found.keys().copied().collect();
                            // Single-factor verdicts must match exactly; other verdicts too
                            // (a class whose members end differently is not one class).
                            if theirs != ours {
                                bad(format!(
                                    "{} {} {loc} {} epoch {epoch}{} (class of {}): verify {theirs:?}, brute force {:?}",
                                    user.upn,
                                    kind_name(kind),
                                    method.0,
                                    if continued { " continued" } else { "" },
                                    class.representative,
                                    found
                                ));
                            }
                        }
                    }
                }
            }
        }
    }
    // 3. A single-factor path found by brute force: verify is not clean.
    if let Some(p) = single_factor {
        if v.verdict() == Overall::Clean {
            bad(format!("verify is CLEAN, brute force: {p:?} single-factor"));
        }
    }
}

/// How many tenants: `HMASIM_SOUNDNESS_TENANTS`, else `PROPTEST_CASES` capped at
/// `default` (one tenant costs a few hundred runs, a proptest case one), else `default`.
fn tenants_from_env(default: u64) -> u64 {
    let var = |k: &str| std::env::var(k).ok().and_then(|s| s.parse::<u64>().ok());
    var("HMASIM_SOUNDNESS_TENANTS")
        .or_else(|| var("PROPTEST_CASES").map(|n| n.min(default)))
        .unwrap_or(default)
}

/// Checks tenants `first..first + n`; with `progress`, prints the tally every 50 tenants
/// (a long run stopped early still says exactly how many it checked).
fn run_batch(first: u64, n: u64, progress: bool) -> Tally {
    let mut tally = Tally::default();
    for seed in first..first + n {
        check_tenant(seed, &generate(seed), &mut tally);
        if progress && (seed + 1 - first) % 50 == 0 {
            report(&tally);
        }
    }
    tally
}

fn report(t: &Tally) {
    eprintln!(
        "soundness by brute force: {} tenants (verify: {} clean, {} not clean, {} not proven), {} verify paths replayed, {} raw paths, {} raw signal runs ({} single-factor), {} disagreements",
        t.tenants,
        t.clean,
        t.not_clean,
        t.not_proven,
        t.verify_paths,
        t.raw_paths,
        t.raw_runs,
        t.single_factor_runs,
        t.disagreements.len(),
    );
    for d in t.disagreements.iter().take(20) {
        eprintln!("  disagreement: {d}");
    }
}

#[test]
fn every_generated_tenant_loads() {
    for seed in 0..200 {
        let t = generate(seed);
        tenant_scenario(&t).unwrap_or_else(|e| panic!("tenant {seed}: {e}"));
    }
}

#[test]
fn verify_agrees_with_brute_force_smoke() {
    let t = run_batch(0, tenants_from_env(20), false);
    report(&t);
    assert!(t.disagreements.is_empty(), "{:#?}", t.disagreements);
}

/// The long run (outside CI): `HMASIM_SOUNDNESS_TENANTS=10000` tenants from
/// `HMASIM_SOUNDNESS_FIRST` (default 0).
#[test]
#[ignore]
fn verify_agrees_with_brute_force_long() {
    let first = std::env::var("HMASIM_SOUNDNESS_FIRST")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let t = run_batch(first, tenants_from_env(10_000), true);
    report(&t);
    assert!(t.disagreements.is_empty(), "{:#?}", t.disagreements);
}

/// Prints one tenant's overrides and what checking it finds (`HMASIM_SOUNDNESS_SEED`).
#[test]
#[ignore]
fn explain_tenant() {
    let seed = std::env::var("HMASIM_SOUNDNESS_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let t = generate(seed);
    for s in &t.sets {
        eprintln!("--set '{s}'");
    }
    eprintln!("changes: {:?}", t.changes);
    let mut tally = Tally::default();
    check_tenant(seed, &t, &mut tally);
    for d in &tally.disagreements {
        eprintln!("disagreement: {d}");
    }
}

/// Checks one hand-written tenant (overrides of secure-hybrid) that has a single-factor
/// path, and returns the disagreements.
fn check_sets(sets: &[&str]) -> Vec<String> {
    let t = Tenant {
        sets: sets.iter().map(|s| s.to_string()).collect(),
        changes: Vec::new(),
    };
    let mut tally = Tally::default();
    check_tenant(0, &t, &mut tally);
    assert!(
        tally.single_factor_runs > 0,
        "no single-factor path: {tally:?}"
    );
    tally.disagreements
}

/// Generated tenant 53, minimized: the Internet default address (198.51.100.20) lies in a
/// named location that a policy requiring MFA includes, so every address verify tries is in
/// some named location; an address outside every range is in none, the policy does not
/// apply, and the browser reads the cloud mailbox with the password alone. verify must try
/// an address in no named location.
#[test]

fn an_address_outside_every_named_location_is_explored() {
    let d = check_sets(&[
        "identity.model=phs",
        "users=[{upn = \"u0@contoso.com\", mailbox = \"online\"}]",
        "named_locations=[{id = \"loc-0\", name = \"Office\", ip_ranges = [\"198.51.100.0/24\"]}]",
        "network.mfa_trusted_ips=[]",
        "conditional_access=[{name = \"MFA at the office\", include_locations = [\"Office\"], grant = [\"mfa\"]}]",
        "verify.clients=[\"browser\"]",
    ]);
    assert!(d.is_empty(), "{d:#?}");
}

/// What the explorer of fixed signals (one device per user, kind and location: before
/// issue 10) called CLEAN, minimized from generated tenants 38 and 61: a native mail app
/// claiming the DeviceType an allow rule names, where the default level blocks; Outlook
/// mobile sending a Windows User-Agent past an MFA policy scoped to iOS and Android.
#[test]
fn spoofed_device_strings_and_platforms_are_explored() {
    let d = check_sets(&[
        "users=[{upn = \"u0@contoso.com\", mailbox = \"onprem\"}]",
        "onprem.default_authentication_policy=<none>",
        "onprem.activesync.default_access_level=block",
        "onprem.activesync.device_rules=[{characteristic = \"DeviceType\", query = \"OutlookService\", access_level = \"allow\"}]",
        "verify.clients=[\"native-mail\"]",
    ]);
    assert!(d.is_empty(), "{d:#?}");
    let d = check_sets(&[
        "identity.model=phs",
        "users=[{upn = \"u0@contoso.com\", mailbox = \"online\"}]",
        "conditional_access=[{name = \"Mobile MFA\", client_app_types = [\"mobileAppsAndDesktopClients\"], include_platforms = [\"iOS\", \"android\"], grant = [\"mfa\"]}, {name = \"Block legacy\", client_app_types = [\"exchangeActiveSync\", \"other\"], grant = [\"block\"]}]",
        "verify.clients=[\"outlook-mobile\"]",
    ]);
    assert!(d.is_empty(), "{d:#?}");
}

/// Generated tenant 163, minimized: a policy naming a platform is disabled at the start and
/// enabled by the timeline at 5m. verify draws its platform classes from the policies
/// enabled at the start only, so in the second epoch it tries one User-Agent, and its class
/// holds platforms that end differently (an iOS User-Agent is blocked there, a Windows one
/// is not). The classes must cover every epoch's configuration.
#[test]

fn platform_classes_cover_a_policy_the_timeline_enables() {
    let t = Tenant {
        sets: [
            "identity.model=phs",
            "users=[{upn = \"u0@contoso.com\", mailbox = \"online\"}]",
            "exchange_online.default_authentication_policy=<none>",
            "conditional_access=[{name = \"Block legacy iOS\", state = \"disabled\", include_platforms = [\"iOS\"], client_app_types = [\"other\"], grant = [\"block\"]}]",
            "verify.clients=[\"outlook-desktop\"]",
        ]
        .map(String::from)
        .to_vec(),
        changes: vec![("5m", "conditional_access.0.state".into(), "enabled".into())],
    };
    let mut tally = Tally::default();
    check_tenant(0, &t, &mut tally);
    assert!(tally.disagreements.is_empty(), "{:#?}", tally.disagreements);
}

/// Generated tenant 242, minimized: a named location holds two ranges, the first also in
/// the MFA trusted IPs; a policy blocking ActiveSync includes the location and excludes
/// trusted ones. verify samples one address per location (in its first range), trusted, so
/// it never tries the second range, where the policy applies. It must try an address in
/// every range a location holds.
#[test]

fn every_range_of_a_named_location_is_explored() {
    let d = check_sets(&[
        "identity.model=phs",
        "users=[{upn = \"u0@contoso.com\", mailbox = \"online\"}]",
        "exchange_online.default_authentication_policy=<none>",
        "named_locations=[{id = \"loc-0\", name = \"Office\", ip_ranges = [\"203.0.113.0/24\", \"2001:db8:1::/48\"]}]",
        "network.mfa_trusted_ips=[\"203.0.113.0/24\"]",
        "conditional_access=[{name = \"Block ActiveSync at the office\", client_app_types = [\"exchangeActiveSync\"], include_locations = [\"Office\"], exclude_locations = [\"AllTrusted\"], grant = [\"block\"]}]",
        "onprem.activesync.device_rules=[]",
        "verify.clients=[\"native-mail\"]",
    ]);
    assert!(d.is_empty(), "{d:#?}");
}

/// A filter for devices that exempts registered devices: the password holder cannot present
/// the user's device, but can register one of its own; the brute force tries that on every
/// modern path, and verify must not call the tenant clean. With a policy requiring MFA to
/// register devices, it is closed again.
#[test]
fn a_device_the_password_holder_registers_is_explored() {
    let sets = [
        "identity.model=phs",
        "users=[{upn = \"u0@contoso.com\", mailbox = \"online\"}]",
        "conditional_access=[{name = \"MFA except on registered devices\", grant = [\"mfa\"], device_filter = { mode = \"exclude\", rule = \"device.trustType -eq \\\"Workplace\\\"\" }}]",
        "verify.clients=[\"browser\"]",
    ];
    let d = check_sets(&sets);
    assert!(d.is_empty(), "{d:#?}");
    let t = Tenant {
        sets: sets.iter().map(|s| s.to_string()).collect(),
        changes: Vec::new(),
    };
    let sc = tenant_scenario(&t).unwrap();
    assert_eq!(verify(&sc).verdict(), Overall::NotClean);
    let mut guarded: Vec<String> = sets.iter().map(|s| s.to_string()).collect();
    guarded[2] = guarded[2].replace(
        "}}]",
        "}}, {name = \"Register devices with MFA\", include_applications = [], include_user_actions = [\"urn:user:registerdevice\"], grant = [\"mfa\"]}]",
    );
    let t = Tenant {
        sets: guarded,
        changes: Vec::new(),
    };
    let sc = tenant_scenario(&t).unwrap();
    assert_eq!(verify(&sc).verdict(), Overall::Clean);
    let mut tally = Tally::default();
    check_tenant(0, &t, &mut tally);
    assert!(tally.disagreements.is_empty(), "{:#?}", tally.disagreements);
}
