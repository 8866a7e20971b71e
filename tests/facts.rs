//! A sign-in's facts come from what arrived at Entra ID: the source address (named
//! locations, the country), the User-Agent (the platform), the directory (groups and
//! roles), never from who the caller is. `whatif` derives them the same way, so it and a
//! run agree policy by policy.

use hmasim::protocol::headers;
use std::net::IpAddr;
use std::process::Command;

use hmasim::protocol::address::Cidr;
use hmasim::protocol::policy::{
    CaPolicy, ClientAppType, DevicePlatform, GrantControl, NamedLocation,
};
use hmasim::protocol::{Body, Kind};
use hmasim::scenario::{self, ClientKind, Platform, Scenario};
use hmasim::sim::{self, Trace};
use proptest::prelude::*;

fn load(name: &str) -> Scenario {
    scenario::load(name).unwrap_or_else(|e| panic!("{e}"))
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn cidr(s: &str) -> Cidr {
    s.parse().unwrap()
}

fn location(name: &str, range: &str, trusted: bool) -> NamedLocation {
    NamedLocation {
        id: format!("id-{}", name.to_ascii_lowercase()),
        name: name.into(),
        trusted,
        ip_ranges: vec![cidr(range)],
        ..NamedLocation::default()
    }
}

fn mfa_policy(name: &str, app_type: ClientAppType) -> CaPolicy {
    let mut p = CaPolicy::new(name, vec![GrantControl::Mfa]);
    p.include_applications = vec!["Office365".into()];
    p.client_app_types = vec![app_type];
    p
}

/// The lines of Entra ID's first Conditional Access evaluation in a run.
fn ca_lines(t: &Trace) -> Option<Vec<String>> {
    t.events.iter().find_map(|e| {
        (e.msg.kind == Kind::Note
            && e.msg
                .meta
                .summary
                .starts_with("Entra ID evaluates Conditional Access"))
        .then(|| match &e.msg.body {
            Body::Lines(l) => l.clone(),
            _ => Vec::new(),
        })
    })
}

fn mailbox_amr(t: &Trace) -> Vec<Vec<String>> {
    t.tokens
        .iter()
        .filter(|k| k.id.starts_with("AT"))
        .map(|k| k.amr.clone())
        .collect()
}

#[test]
fn a_named_location_exclusion_follows_the_source_address() {
    let mut sc = load("desktop-exo-ca");
    sc.named_locations = vec![location("Branch", "198.51.100.128/25", false)];
    let mut p = mfa_policy(
        "MFA except the branch",
        ClientAppType::MobileAppsAndDesktopClients,
    );
    p.exclude_locations = vec!["Branch".into()];
    sc.conditional_access = vec![p];
    // From the branch's range: the policy does not apply, the token rests on the password.
    sc.clients[0].source_address = Some(ip("198.51.100.130"));
    let t = sim::run(&sc, true);
    let lines = ca_lines(&t).expect("Entra evaluates CA");
    assert!(
        lines[0]
            .contains("does not apply (locations: 198.51.100.130 (location Branch) is excluded)"),
        "{lines:?}"
    );
    assert!(t.outcome.mailbox_access && !t.outcome.mfa_satisfied);
    assert_eq!(mailbox_amr(&t), vec![vec!["pwd".to_string()]]);
    // From any other address on the Internet, MFA.
    sc.clients[0].source_address = Some(ip("198.51.100.7"));
    let t = sim::run(&sc, true);
    assert!(ca_lines(&t).unwrap()[0].contains(": applies"));
    assert!(t.outcome.mailbox_access && t.outcome.mfa_satisfied);
    // Inside, the office's egress is in the MFA trusted IPs: AllTrusted matches it.
    let mut sc = load("desktop-exo-ca");
    sc.conditional_access[0].exclude_locations = vec!["AllTrusted".into()];
    sc.clients[0].location = scenario::Location::Internal;
    let t = sim::run(&sc, true);
    assert!(
        ca_lines(&t).unwrap()[0].contains(
            "comes from a trusted location: 203.0.113.10 (trusted location MFA Trusted IPs)"
        ),
        "{:?}",
        ca_lines(&t)
    );
    // Without trusted IPs, the office is an ordinary address.
    sc.network.mfa_trusted_ips.clear();
    let t = sim::run(&sc, true);
    assert!(ca_lines(&t).unwrap()[0].contains(": applies"));
}

#[test]
fn a_role_exclusion_reads_the_users_directory_roles() {
    let mut sc = load("desktop-exo-ca");
    sc.conditional_access[0].exclude_roles = vec!["Exchange Administrator".into()];
    let t = sim::run(&sc, true);
    assert!(t.outcome.mfa_satisfied, "a user without the role gets MFA");
    sc.users[0].roles = vec!["Exchange Administrator".into()];
    let t = sim::run(&sc, true);
    assert!(
        ca_lines(&t).unwrap()[0].contains("users: excluded by role Exchange Administrator"),
        "{:?}",
        ca_lines(&t)
    );
    assert!(t.outcome.mailbox_access && !t.outcome.mfa_satisfied);
}

#[test]
fn a_relayed_legacy_sign_in_is_judged_by_the_client_address_exchange_online_forwards() {
    // A native mail app with Basic against an online mailbox: Exchange Online signs it
    // in at Entra ID. A policy blocks legacy ActiveSync except from trusted locations.
    let mut sc = load("mobile-exo");
    sc.clients[0].kind = ClientKind::NativeMail;
    sc.clients[0].id = Some("outlook-mobile".into());
    sc.conditional_access = vec![{
        let mut p = CaPolicy::new("Block legacy ActiveSync outside", vec![GrantControl::Block]);
        p.include_applications = vec!["Office365".into()];
        p.client_app_types = vec![ClientAppType::ExchangeActiveSync];
        p.exclude_locations = vec!["AllTrusted".into()];
        p
    }];
    let t = sim::run(&sc, true);
    let lines = ca_lines(&t).expect("a legacy evaluation");
    assert!(lines[0].contains(": applies"), "{lines:?}");
    assert!(!t.outcome.mailbox_access);
    // From the office (trusted), the client's own address is what Entra ID judges, not
    // Exchange Online's.
    sc.clients[0].source_address = Some(ip("203.0.113.44"));
    let t = sim::run(&sc, true);
    let lines = ca_lines(&t).unwrap();
    assert!(
        lines[0].contains(
            "comes from a trusted location: 203.0.113.44 (trusted location MFA Trusted IPs)"
        ),
        "{lines:?}"
    );
    assert!(t.outcome.mailbox_access);
    let relayed = t
        .events
        .iter()
        .find(|e| {
            e.msg.kind == Kind::Request
                && t.names[e.to.0 as usize] == "entra-id"
                && t.names[e.from.0 as usize] == "exchange-online"
        })
        .expect("Exchange Online relays the sign-in");
    assert_eq!(
        relayed.msg.header_value(&headers::X_FORWARDED_FOR),
        Some("203.0.113.44")
    );
}

#[test]
fn countries_come_from_the_geolocation_table() {
    let mut sc = load("desktop-exo-ca");
    sc.named_locations = vec![NamedLocation {
        id: "id-allowed".into(),
        name: "Allowed countries".into(),
        countries: vec!["FR".into()],
        ..NamedLocation::default()
    }];
    sc.network.geo = vec![hmasim::protocol::address::GeoRange {
        range: cidr("198.51.100.0/24"),
        country: "FR".into(),
    }];
    sc.conditional_access[0].exclude_locations = vec!["Allowed countries".into()];
    let t = sim::run(&sc, true);
    assert!(
        ca_lines(&t).unwrap()[0].contains("(location Allowed countries) is excluded"),
        "{:?}",
        ca_lines(&t)
    );
    sc.network.geo[0].country = "DE".into();
    let t = sim::run(&sc, true);
    assert!(ca_lines(&t).unwrap()[0].contains(": applies"));
}

fn hmasim(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_hmasim"))
        .args(args)
        .output()
        .expect("the binary runs")
}

/// One generated sign-in: the client, its platform and address, the user's roles and
/// groups, and the tenant's policies.
#[derive(Clone, Debug)]
struct Case {
    kind: usize,
    platform: Platform,
    address: &'static str,
    roles: Vec<&'static str>,
    groups: Vec<&'static str>,
    policies: Vec<CaPolicy>,
    /// 0 unmanaged, 1 compliant, 2 domain-joined, 3 a declared Workplace device.
    device: usize,
}

/// Filters for devices the generated policies draw from: positive and negative operators,
/// system and client-reported attributes, both modes.
const FILTERS: [Option<(hmasim::protocol::device::FilterMode, &str)>; 5] = {
    use hmasim::protocol::device::FilterMode::{Exclude, Include};
    [
        None,
        Some((Exclude, r#"device.trustType -eq "ServerAD""#)),
        Some((Include, r#"device.isCompliant -ne True"#)),
        Some((
            Exclude,
            r#"device.operatingSystem -startsWith "Win" -and device.trustType -ne "Workplace""#,
        )),
        Some((
            Include,
            r#"device.extensionAttribute1 -eq "SAW" -or device.deviceOwnership -eq "Company""#,
        )),
    ]
};

const ADDRESSES: [&str; 5] = [
    "198.51.100.20",
    "198.51.100.200",
    "203.0.113.10",
    "203.0.113.200",
    "2001:db8::5",
];
const ROLES: [&str; 2] = ["Global Administrator", "Exchange Administrator"];
const GROUPS: [&str; 2] = ["Sales", "Admins"];
const LOCATIONS: [&str; 4] = ["All", "AllTrusted", "Branch", "Lab"];

fn policy_strategy(i: usize) -> impl Strategy<Value = CaPolicy> {
    (
        prop::sample::subsequence(&LOCATIONS[..], 0..=2),
        prop::sample::subsequence(&LOCATIONS[..], 0..=1),
        prop::sample::subsequence(&ROLES[..], 0..=1),
        prop::sample::subsequence(&ROLES[..], 0..=1),
        prop::sample::subsequence(&GROUPS[..], 0..=1),
        prop::sample::subsequence(&DevicePlatform::ALL[..], 0..=2),
        prop::sample::subsequence(&DevicePlatform::ALL[..], 0..=1),
        prop::sample::select(vec![
            ClientAppType::All,
            ClientAppType::Browser,
            ClientAppType::MobileAppsAndDesktopClients,
        ]),
        any::<bool>(),
        0..FILTERS.len(),
    )
        .prop_map(
            move |(
                inc_loc,
                exc_loc,
                inc_role,
                exc_role,
                exc_group,
                inc_pf,
                exc_pf,
                app,
                all_users,
                filter,
            )| {
                let mut p = CaPolicy::new(format!("P{i}"), vec![GrantControl::Mfa]);
                p.include_applications = vec!["Office365".into()];
                p.client_app_types = vec![app];
                p.include_locations = inc_loc.iter().map(|s| s.to_string()).collect();
                p.exclude_locations = exc_loc.iter().map(|s| s.to_string()).collect();
                if !all_users {
                    p.include_users = vec![];
                    p.include_roles = inc_role.iter().map(|s| s.to_string()).collect();
                    if p.include_roles.is_empty() {
                        p.include_groups = vec!["Sales".into()];
                    }
                }
                p.exclude_roles = exc_role.iter().map(|s| s.to_string()).collect();
                p.exclude_groups = exc_group.iter().map(|s| s.to_string()).collect();
                p.include_platforms = inc_pf;
                p.exclude_platforms = exc_pf;
                p.device_filter =
                    FILTERS[filter].map(|(mode, rule)| hmasim::protocol::device::DeviceFilter {
                        mode,
                        rule: hmasim::protocol::device::Rule::parse(rule).unwrap(),
                    });
                p
            },
        )
}

fn case_strategy() -> impl Strategy<Value = Case> {
    (
        0usize..3,
        prop::sample::select(vec![
            Platform::Windows,
            Platform::Macos,
            Platform::Ios,
            Platform::Android,
        ]),
        prop::sample::select(ADDRESSES.to_vec()),
        prop::sample::subsequence(&ROLES[..], 0..=2),
        prop::sample::subsequence(&GROUPS[..], 0..=2),
        (policy_strategy(0), policy_strategy(1), policy_strategy(2)),
        0usize..4,
    )
        .prop_map(
            |(kind, platform, address, roles, groups, (a, b, c), device)| Case {
                kind,
                platform,
                address,
                roles,
                groups,
                policies: vec![a, b, c],
                device,
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(48).min(48),
        ..ProptestConfig::default()
    })]

    /// whatif and a run agree, policy by policy, on every generated sign-in.
    #[test]
    fn whatif_and_a_run_agree_policy_by_policy(case in case_strategy()) {
        let (base, app_type) = [
            ("web-exo", "browser"),
            ("desktop-exo-ca", "mobileAppsAndDesktopClients"),
            ("mobile-exo", "mobileAppsAndDesktopClients"),
        ][case.kind];
        let mut sc = load(base);
        sc.identity.model = scenario::IdentityModel::Phs;
        sc.named_locations = vec![
            location("Branch", "198.51.100.128/25", false),
            location("Lab", "2001:db8::/32", true),
        ];
        sc.conditional_access = case.policies.clone();
        sc.users[0].roles = case.roles.iter().map(|s| s.to_string()).collect();
        sc.users[0].groups = case.groups.iter().map(|s| s.to_string()).collect();
        sc.clients[0].platform = case.platform;
        sc.clients[0].source_address = Some(ip(case.address));
        sc.clients[0].device = match case.device {
            0 => scenario::DeviceState::Unmanaged,
            1 => scenario::DeviceState::Compliant,
            2 => scenario::DeviceState::DomainJoined,
            _ => {
                let mut d = hmasim::protocol::device::DeviceRecord::new(
                    "aaaaaaaa-0000-1111-2222-bbbbbbbbbbbb",
                    hmasim::protocol::device::TrustType::Workplace,
                );
                d.operating_system = Some("Windows".into());
                d.extension_attributes.insert("1".into(), "SAW".into());
                scenario::DeviceState::Registered(Box::new(d))
            }
        };
        // The device the run's client presents, as whatif names it.
        let device_id = sc.clients[0]
            .device
            .record(&sc.clients[0].party_id(), sc.clients[0].platform, sc.seed)
            .map(|r| r.id);
        let t = sim::run(&sc, true);
        let Some(run_lines) = ca_lines(&t) else {
            return Err(TestCaseError::fail("no Conditional Access evaluation in the run"));
        };
        // What the client sent Entra ID: its User-Agent.
        let ua = t
            .events
            .iter()
            .find(|e| e.msg.kind == Kind::Request && t.names[e.to.0 as usize] == "entra-id")
            .and_then(|e| e.msg.header_value(&headers::USER_AGENT))
            .unwrap_or("")
            .to_string();
        let dir = std::env::temp_dir().join(format!("hmasim-facts-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("tenant.json");
        std::fs::write(&file, serde_json::to_string(&sc).unwrap()).unwrap();
        let mut args = vec![
            "whatif",
            file.to_str().unwrap(),
            "--app",
            "exchange-online",
            "--client-app",
            app_type,
            "--address",
            case.address,
            "--format",
            "json",
        ];
        if !ua.is_empty() {
            args.extend(["--user-agent", ua.as_str()]);
        }
        if let Some(id) = &device_id {
            args.extend(["--device-id", id.as_str()]);
        }
        let o = hmasim(&args);
        prop_assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        let whatif: Vec<(String, bool, String)> = v["policies"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| {
                (
                    p["name"].as_str().unwrap().to_string(),
                    p["applies"].as_bool().unwrap(),
                    p["reason"].as_str().unwrap().to_string(),
                )
            })
            .collect();
        prop_assert_eq!(run_lines.len(), whatif.len(), "{:?} / {:?}", run_lines, whatif);
        for (line, (name, applies, reason)) in run_lines.iter().zip(&whatif) {
            let verb = if *applies { "applies" } else { "does not apply" };
            let expected = format!("{name} [enabled]: {verb} ({reason})");
            prop_assert!(line.starts_with(&expected), "run: {line}\nwhatif: {expected}");
        }
    }
}
