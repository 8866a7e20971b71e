//! Soundness of `verify` by brute force: over generated tenant configurations, the verdict
//! of every path explored by branching cloned worlds equals the verdict of simulating that
//! path on its own, from a freshly built world; so a configuration verify calls clean has no
//! simulated path to mailbox content without MFA.
//!
//! `PROPTEST_CASES=2000 cargo test --release --test soundness` for a long run.

use hmasim::scenario::{
    self, AuthMethod, Client, ClientKind, DeviceState, Location, MailProtocol, Platform, Scenario,
    Span,
};
use hmasim::sim::verify::{verify, Verdict};
use proptest::prelude::*;

/// The configuration knobs the generator turns, as `--set` overrides of secure-hybrid.
fn knobs() -> impl Strategy<Value = Vec<String>> {
    let bools = [
        "onprem.authentication_policies.0.block_legacy_auth_activesync",
        "onprem.authentication_policies.0.block_legacy_auth_mapi",
        "onprem.authentication_policies.0.block_legacy_auth_rpc",
        "exchange_online.authentication_policies.0.allow_basic_auth_activesync",
        "exchange_online.authentication_policies.0.allow_basic_auth_mapi",
        "onprem.owa_adfs_claims",
        "entra.accept_adfs_mfa",
    ];
    let states = ["enabled", "disabled", "enabledForReportingButNotEnforced"];
    (
        prop::sample::select(vec!["federated", "phs", "pta"]),
        prop::collection::vec(any::<bool>(), bools.len()),
        prop::collection::vec(prop::sample::select(states.to_vec()), 4),
        prop::sample::select(vec!["allow", "block", "quarantine"]),
        prop::sample::select(vec![
            "permit-everyone",
            "require-mfa",
            "require-mfa-extranet",
        ]),
        prop::sample::subsequence(
            vec![
                "browser",
                "outlook-desktop",
                "outlook-mobile",
                "native-mail",
            ],
            1..=2,
        ),
        any::<bool>(),
    )
        .prop_map(move |(model, flags, ca, eas, owa, scope, rules)| {
            let mut sets = vec![
                format!("identity.model={model}"),
                format!("onprem.activesync.default_access_level={eas}"),
                format!("adfs.owa_policy={owa}"),
            ];
            sets.extend(bools.iter().zip(flags).map(|(k, v)| format!("{k}={v}")));
            sets.extend(
                ca.iter()
                    .enumerate()
                    .map(|(i, s)| format!("conditional_access.{i}.state={s}")),
            );
            let scope: Vec<String> = scope.iter().map(|s| format!("\"{s}\"")).collect();
            sets.push(format!("verify.clients=[{}]", scope.join(", ")));
            if !rules {
                sets.push("onprem.activesync.device_rules=[]".into());
            }
            sets
        })
}

/// The single-client scenario of one explored path, built independently of the explorer.
fn path_scenario(base: &Scenario, path: &hmasim::sim::verify::PathSpec) -> Scenario {
    let (user, client, location, method) = (
        path.user.as_str(),
        path.client.as_str(),
        path.location.as_str(),
        path.method.as_str(),
    );
    let kind = match client {
        "browser" => ClientKind::Browser,
        "outlook-desktop" => ClientKind::OutlookDesktop,
        "outlook-mobile" => ClientKind::OutlookMobile,
        _ => ClientKind::NativeMail,
    };
    let location = if location == "internal" {
        Location::Internal
    } else {
        Location::External
    };
    let (auth, protocol, autodetect) = match method {
        "web" | "modern" | "modern-autodetect" => (AuthMethod::Modern, None, true),
        "basic-activesync-manual" => (AuthMethod::Modern, Some(MailProtocol::Activesync), false),
        "iwa-mapi" => (AuthMethod::Iwa, Some(MailProtocol::Mapi), true),
        m => {
            let p = m.trim_start_matches("basic-");
            let p = MailProtocol::ALL
                .into_iter()
                .find(|x| x.name() == p)
                .expect("a protocol");
            (AuthMethod::Basic, Some(p), true)
        }
    };
    let mut sc = base.clone();
    sc.clients = vec![Client {
        id: None,
        kind,
        user: user.to_string(),
        platform: if matches!(kind, ClientKind::OutlookMobile | ClientKind::NativeMail) {
            Platform::Ios
        } else {
            Platform::Windows
        },
        location,
        device: if path.signals.registers_device {
            DeviceState::Registers
        } else if location == Location::Internal && kind != ClientKind::NativeMail {
            DeviceState::DomainJoined
        } else {
            DeviceState::Unmanaged
        },
        sync_interval: Span(30 * 60_000),
        auth,
        protocol,
        autodetect,
        app_protection: false,
        // The signals the path pins, as the password holder writes them.
        source_address: path.signals.source_address,
        user_agent: path.signals.user_agent.clone(),
        device_type: path.signals.device_type.clone(),
        device_model: path.signals.device_model.clone(),
        device_name: path.signals.device_name.clone(),
    }];
    let action = match kind {
        ClientKind::Browser => "open-owa",
        ClientKind::OutlookDesktop => "start-outlook",
        _ => "add-account",
    };
    scenario::apply_set(
        &mut sc,
        &format!("timeline=[{{at = \"0s\", client = \"{client}\", do = \"{action}\"}}]"),
    )
    .unwrap();
    sc.run.duration = Span(10 * 60_000);
    sc
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, .. ProptestConfig::default() })]

    #[test]
    fn verify_agrees_with_simulating_every_path_alone(sets in knobs()) {
        let mut base = scenario::load("secure-hybrid").unwrap();
        base.clients.clear();
        base.timeline.clear();
        for s in &sets {
            scenario::apply_set(&mut base, s).unwrap();
        }
        let v = verify(&base);
        prop_assert!(!v.paths.is_empty());
        for p in &v.paths {
            let sc = path_scenario(&base, &p.path);
            let o = hmasim::sim::run(&sc, false).outcome;
            // docs/outcome.md: single-factor when mailbox data reached anyone without MFA.
            let brute = if o.data_without_mfa {
                Verdict::MailboxWithoutMfa
            } else if o.mailbox_access {
                Verdict::MailboxWithMfa
            } else {
                Verdict::NoAccess
            };
            prop_assert_eq!(p.holds_at_end, o.clients[0].holds_at_end, "{:?}", p.path);
            prop_assert_eq!(p.verdict, brute, "{:?} under {:?}", p.path, sets);
        }
        let clean = v.counterexamples.is_empty();
        prop_assert_eq!(clean, v.paths.iter().all(|p| p.verdict != Verdict::MailboxWithoutMfa));
    }
}
