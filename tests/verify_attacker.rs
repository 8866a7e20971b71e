//! `hmasim verify` against an attacker who holds a password and writes every signal a
//! client controls (issue 10): each class of single-factor path is found, pinned to the
//! signals that open it, and the fix that closes it verifies clean.

use std::process::Command;

use hmasim::protocol::policy::{
    CaPolicy, CaState, ClientAppType, DevicePlatform, GrantControl, NamedLocation,
    REGISTER_SECURITY_INFO,
};
use hmasim::scenario::{self, Action, ActionKind, Scenario, Span};
use hmasim::sim::verify::{path_scenario, verify, verify_with, Options, Overall, Verdict};

fn load(name: &str, sets: &[&str]) -> Scenario {
    let mut sc = scenario::load(name).unwrap_or_else(|e| panic!("{e}"));
    for s in sets {
        scenario::apply_set(&mut sc, s).unwrap_or_else(|e| panic!("{s}: {e}"));
    }
    sc
}

/// secure-desktop: Conditional Access MFA for desktop clients, legacy authentication
/// blocked everywhere; its first policy is the MFA one.
fn desktop() -> Scenario {
    load("secure-desktop", &[])
}

/// Every counterexample replays as a plain one-client scenario with the same verdict.
fn replays(sc: &Scenario) {
    let v = verify(sc);
    for c in &v.counterexamples {
        let t = hmasim::sim::run(&path_scenario(sc, &c.path, c.epoch), false);
        match c.verdict {
            Verdict::MailboxWithoutMfa => {
                assert!(t.outcome.data_without_mfa, "{:?}", c.path)
            }
            _ => assert!(t.outcome.mailbox_access, "{:?}", c.path),
        }
    }
}

#[test]
fn a_platform_scoped_policy_lets_another_user_agent_in_with_a_password() {
    let mut sc = desktop();
    assert_eq!(verify(&sc).verdict(), Overall::Clean);
    // MFA only for the platform the desktop client reports: its own sign-in does MFA.
    sc.conditional_access[0].include_platforms = vec![DevicePlatform::Windows];
    let v = verify(&sc);
    assert_eq!(v.verdict(), Overall::NotClean);
    let own = v
        .paths
        .iter()
        .find(|p| p.path.method.as_str() == "modern" && p.path.signals.platform == "windows")
        .expect("the windows class is explored");
    assert_eq!(own.verdict, Verdict::MailboxWithMfa);
    let c: Vec<_> = v
        .counterexamples
        .iter()
        .filter(|c| c.path.method.as_str() == "modern")
        .collect();
    assert!(!c.is_empty());
    for c in &c {
        assert_ne!(c.path.signals.platform, "windows", "{:?}", c.path);
        assert!(c.path.signals.user_agent.is_some());
        assert!(c.trace.outcome.mailbox_access);
        assert!(c
            .trace
            .tokens
            .iter()
            .all(|t| !t.amr.iter().any(|m| m == "mfa")));
    }
    // An iOS-only policy: linux (and android) User-Agents get in.
    sc.conditional_access[0].include_platforms = vec![DevicePlatform::Ios];
    let v = verify(&sc);
    assert!(v
        .counterexamples
        .iter()
        .any(|c| c.path.signals.platform == "linux"));
    replays(&sc);
    // The fix: every platform.
    sc.conditional_access[0].include_platforms = vec![DevicePlatform::All];
    assert_eq!(verify(&sc).verdict(), Overall::Clean);
    sc.conditional_access[0].include_platforms = vec![];
    assert_eq!(verify(&sc).verdict(), Overall::Clean);
}

fn branch() -> NamedLocation {
    NamedLocation {
        id: "branch".into(),
        name: "Branch office".into(),
        trusted: false,
        ip_ranges: vec!["198.18.7.0/24".parse().unwrap()],
        ..NamedLocation::default()
    }
}

#[test]
fn a_named_location_exclusion_is_reached_by_address() {
    let mut sc = desktop();
    sc.named_locations.push(branch());
    sc.conditional_access[0].exclude_locations = vec!["Branch office".into()];
    let v = verify(&sc);
    assert_eq!(v.verdict(), Overall::NotClean);
    for c in &v.counterexamples {
        assert_eq!(c.path.signals.locations, ["Branch office"], "{:?}", c.path);
        assert!(c.path.signals.source_address.is_some());
        assert_eq!(c.path.location.as_str(), "external");
    }
    // From the Internet the same path does MFA.
    assert!(v
        .paths
        .iter()
        .filter(|p| p.path.method.as_str() == "modern" && p.path.signals.locations.is_empty())
        .all(|p| p.verdict == Verdict::MailboxWithMfa));
    replays(&sc);
    // The fix: no exclusion (the location alone changes nothing).
    sc.conditional_access[0].exclude_locations.clear();
    assert_eq!(verify(&sc).verdict(), Overall::Clean);
}

#[test]
fn a_directory_role_exclusion_is_a_path_for_its_members() {
    let mut sc = desktop();
    sc.users[0].roles = vec!["Directory Synchronization Accounts".into()];
    sc.conditional_access[0].exclude_roles = vec!["Directory Synchronization Accounts".into()];
    let v = verify(&sc);
    assert_eq!(v.verdict(), Overall::NotClean);
    assert!(v
        .counterexamples
        .iter()
        .all(|c| c.path.user == sc.users[0].upn));
    assert!(v
        .counterexamples
        .iter()
        .any(|c| c.path.method.as_str() == "modern"));
    // The other user does MFA.
    assert!(v
        .paths
        .iter()
        .filter(|p| p.path.user == sc.users[1].upn && p.path.method.as_str() == "modern")
        .all(|p| p.verdict == Verdict::MailboxWithMfa));
    replays(&sc);
    sc.conditional_access[0].exclude_roles.clear();
    assert_eq!(verify(&sc).verdict(), Overall::Clean);
}

fn set_at(at_ms: u64, key: &str, value: &str) -> Action {
    let mut a = Action::on_client(Span(at_ms), ActionKind::Set, "");
    a.client = None;
    a.key = Some(key.into());
    a.value = Some(value.into());
    a
}

#[test]
fn a_mid_run_federation_to_phs_change_opens_a_path_at_its_epoch() {
    // MFA by AD FS only: leaving federation after two hours loses it.
    let mut sc = load(
        "desktop-exo-adfs-mfa",
        &["verify.clients=[\"outlook-desktop\"]"],
    );
    sc.run.duration = Span(4 * 3_600_000);
    sc.timeline
        .push(set_at(2 * 3_600_000, "identity.model", "phs"));
    let v = verify(&sc);
    assert_eq!(v.epochs.len(), 2);
    assert_eq!(v.epochs[1].from_ms, 7_200_000);
    assert!(v.epochs[1].cause.contains("identity.model=phs"));
    let modern = |epoch: usize| {
        v.counterexamples
            .iter()
            .filter(|c| c.path.method.as_str() == "modern" && c.epoch == epoch)
            .count()
    };
    assert_eq!(modern(0), 0, "federated: AD FS does MFA");
    assert!(modern(1) > 0, "after the change a fresh sign-in has no MFA");
    assert!(v
        .transitions
        .iter()
        .any(|t| t.path.method.as_str() == "modern"
            && t.at_ms == 7_200_000
            && t.before == Verdict::MailboxWithMfa
            && t.after == Verdict::MailboxWithoutMfa));
    // Without the change, verify sees one epoch and no modern path without MFA.
    let mut still = sc.clone();
    still.timeline.retain(|a| a.action != ActionKind::Set);
    let s = verify(&still);
    assert_eq!(s.epochs.len(), 1);
    assert!(!s
        .counterexamples
        .iter()
        .any(|c| c.path.method.as_str() == "modern"));
    replays(&sc);
    // The fix: Conditional Access requires MFA whatever the identity model.
    let mut fixed = sc.clone();
    let mut p = CaPolicy::new("MFA for desktop clients", vec![GrantControl::Mfa]);
    p.client_app_types = vec![ClientAppType::MobileAppsAndDesktopClients];
    fixed.conditional_access.push(p);
    let f = verify(&fixed);
    assert!(
        !f.counterexamples
            .iter()
            .any(|c| c.path.method.as_str() == "modern"),
        "{:?}",
        f.counterexamples
            .iter()
            .map(|c| (&c.path, c.epoch))
            .collect::<Vec<_>>()
    );
}

#[test]
fn an_unregistered_user_registers_mfa_with_only_the_password() {
    let mut sc = desktop();
    sc.users[0].mfa_registered = false;
    let v = verify(&sc);
    assert_eq!(v.verdict(), Overall::NotClean);
    let c: Vec<_> = v
        .counterexamples
        .iter()
        .filter(|c| c.verdict == Verdict::RegistersMfaWithPassword)
        .collect();
    assert!(!c.is_empty());
    for c in &c {
        assert_eq!(c.path.user, sc.users[0].upn);
        assert!(!c.path.signals.mfa_registered);
        assert!(c.command.contains(REGISTER_SECURITY_INFO), "{}", c.command);
        // The trace shows the interrupt and the registration.
        assert!(c
            .trace
            .events
            .iter()
            .any(|e| e.msg.meta.summary.contains("AADSTS50079")));
    }
    replays(&sc);
    // Registration only from a trusted location: from the Internet it is blocked; from a
    // trusted address (the office, the MFA trusted IPs) the password holder can still
    // register, and verify says so.
    let mut guarded = sc.clone();
    guarded.named_locations.push(NamedLocation {
        id: "office".into(),
        name: "Office".into(),
        trusted: true,
        ip_ranges: vec![format!("{}/32", sc.network.office_egress).parse().unwrap()],
        ..NamedLocation::default()
    });
    let mut p = CaPolicy::new(
        "Register security info from trusted locations",
        vec![GrantControl::Block],
    );
    p.include_applications = vec![];
    p.include_user_actions = vec![REGISTER_SECURITY_INFO.into()];
    p.include_locations = vec!["All".into()];
    p.exclude_locations = vec!["AllTrusted".into()];
    guarded.conditional_access.push(p.clone());
    let g = verify(&guarded);
    assert!(!g.counterexamples.is_empty());
    assert!(
        g.counterexamples
            .iter()
            .all(|c| !c.path.signals.locations.is_empty()),
        "only from a trusted address: {:?}",
        g.counterexamples
            .iter()
            .map(|c| (&c.path, c.verdict))
            .collect::<Vec<_>>()
    );
    let from_internet: Vec<_> = g
        .paths
        .iter()
        .filter(|p| {
            !p.path.signals.mfa_registered
                && p.path.signals.locations.is_empty()
                && p.path.method.as_str() == "modern"
        })
        .collect();
    assert!(!from_internet.is_empty());
    assert!(from_internet.iter().all(|p| p.verdict == Verdict::NoAccess
        && p.stopped_by.as_deref() == Some("mfa_registration_blocked at entra-id")));
    // The fix that closes it everywhere: no registration without a Temporary Access Pass
    // (which hmasim does not model: nobody without one registers).
    let mut fixed = sc.clone();
    p.exclude_locations.clear();
    fixed.conditional_access.push(p);
    assert_eq!(verify(&fixed).verdict(), Overall::Clean);
}

#[test]
fn a_report_only_policy_never_enforces() {
    let mut sc = desktop();
    sc.conditional_access[0].state = CaState::ReportOnly;
    let v = verify(&sc);
    assert_eq!(v.verdict(), Overall::NotClean);
    assert!(v
        .counterexamples
        .iter()
        .any(|c| c.path.method.as_str() == "modern"));
    // Unmodelled fields of a report-only or disabled policy decide nothing.
    let mut ro = desktop();
    let mut p = CaPolicy::new("risky sign-ins (report-only)", vec![GrantControl::Block]);
    p.state = CaState::ReportOnly;
    p.unmodelled = vec!["conditions.signInRiskLevels".into()];
    ro.conditional_access.push(p.clone());
    p.state = CaState::Disabled;
    ro.conditional_access.push(p);
    assert_eq!(verify(&ro).verdict(), Overall::Clean);
    sc.conditional_access[0].state = CaState::Enabled;
    assert_eq!(verify(&sc).verdict(), Overall::Clean);
}

#[test]
fn an_unmodelled_policy_decides_only_the_paths_that_are_open_without_it() {
    // Another, evaluated, policy requires MFA for every modern path: the unmodelled
    // policy that also applies to them decides nothing, since a policy can only close.
    // (The rule before issue 11 called this NOT PROVEN.)
    let mut sc = desktop();
    let mut p = CaPolicy::new("MFA on unmanaged devices", vec![GrantControl::Mfa]);
    p.unmodelled =
        vec!["conditions.devices: not modelled: evaluated as if it matched every sign-in".into()];
    sc.conditional_access.push(p);
    let v = verify(&sc);
    assert!(v.counterexamples.is_empty());
    assert!(v.paths.iter().all(|p| p.not_proven.is_empty()));
    assert_eq!(v.verdict(), Overall::Clean);
    // Without the evaluated MFA policy the unmodelled one alone closes the modern paths:
    // they are NOT PROVEN, and only they (legacy ones stay blocked without it).
    let mut alone = sc.clone();
    alone.conditional_access.remove(0);
    let a = verify(&alone);
    assert!(a.counterexamples.is_empty());
    assert_eq!(a.verdict(), Overall::NotProven);
    assert_eq!(a.not_proven[0].policy, "MFA on unmanaged devices");
    assert_eq!(a.not_proven[0].field, "conditions.devices");
    let flagged: Vec<&str> = a
        .paths
        .iter()
        .filter(|p| !p.not_proven.is_empty())
        .map(|p| p.path.method.as_str())
        .collect();
    assert!(
        !flagged.is_empty() && flagged.iter().all(|m| *m == "modern"),
        "{flagged:?}"
    );
    // A control missing from an AND only requires more than hmasim does: it cannot open
    // a path, so it decides nothing even alone.
    let mut and = alone.clone();
    and.conditional_access.last_mut().unwrap().unmodelled =
        vec!["grantControls.termsOfUse: not modelled: hmasim does not require it".into()];
    assert_eq!(verify(&and).verdict(), Overall::Clean);
    // In an OR, a control hmasim does not know may be the one the password holder meets.
    let mut or = and.clone();
    or.conditional_access.last_mut().unwrap().operator = hmasim::protocol::policy::Operator::Or;
    assert_eq!(verify(&or).verdict(), Overall::NotProven);
    // A `verify.unmodelled` fact about a policy is judged like the policy's own fields.
    let mut fact = sc.clone();
    fact.conditional_access
        .last_mut()
        .unwrap()
        .unmodelled
        .clear();
    fact.verify.unmodelled.push(scenario::UnmodelledFact {
        object: "MFA on unmanaged devices".into(),
        field: "authentication context".into(),
        why: String::new(),
    });
    assert_eq!(verify(&fact).verdict(), Overall::Clean);
    fact.conditional_access.remove(0);
    let f = verify(&fact);
    assert_eq!(f.verdict(), Overall::NotProven);
    assert_eq!(f.not_proven[0].field, "authentication context");
    // Precedence: a single-factor path makes it NOT CLEAN.
    let mut worse = alone.clone();
    worse.conditional_access[0].include_users = vec!["onprem@contoso.com".into()];
    worse.conditional_access[1].include_users = vec!["onprem@contoso.com".into()];
    let w = verify(&worse);
    assert!(!w.not_proven.is_empty());
    assert_eq!(w.verdict(), Overall::NotClean);
    // A fact outside Conditional Access the scenario marks unmodelled decides every path.
    let mut fact = desktop();
    fact.verify.unmodelled.push(scenario::UnmodelledFact {
        object: "adfs".into(),
        field: "additional authentication provider".into(),
        why: String::new(),
    });
    let f = verify(&fact);
    assert_eq!(f.verdict(), Overall::NotProven);
    assert_eq!(f.not_proven[0].policy, "adfs");
}

#[test]
fn users_with_identical_facts_form_one_class() {
    let mut sc = desktop();
    let mut twin = sc.users[0].clone();
    twin.upn = "twin@contoso.com".into();
    sc.users.push(twin);
    let v = verify(&sc);
    assert_eq!(v.explored.classes, 2);
    let class = v
        .user_classes
        .iter()
        .find(|c| c.members.len() == 2)
        .expect("cloud and twin");
    assert_eq!(class.members, ["cloud@contoso.com", "twin@contoso.com"]);
    assert!(!v.paths.iter().any(|p| p.path.user == "twin@contoso.com"));
    assert!(v.explored.pruned > 0);
    // A role that a policy excludes sets the twin apart.
    sc.users[2].roles = vec!["Global Reader".into()];
    sc.conditional_access[0].exclude_roles = vec!["Global Reader".into()];
    let v = verify(&sc);
    assert_eq!(v.explored.classes, 3);
    assert!(v
        .counterexamples
        .iter()
        .all(|c| c.path.user == "twin@contoso.com"));
    // --user limits the exploration to one user.
    let one = verify_with(
        &sc,
        &Options {
            user: Some("TWIN@contoso.com".into()),
            ..Options::default()
        },
    );
    assert!(one.paths.iter().all(|p| p.path.user == "twin@contoso.com"));
    assert!(!one.paths.is_empty());
}

fn hmasim(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_hmasim"))
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn the_cli_refuses_bad_input_before_exploring() {
    let o = hmasim(&["verify", "secure-desktop", "--user", "nobody@contoso.com"]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("--user nobody@contoso.com"), "{err}");
    assert!(!err.contains("explored"), "refused before exploring: {err}");
    let dir = std::env::temp_dir();
    for flag in ["--dot", "--out"] {
        let o = hmasim(&["verify", "secure-desktop", flag, dir.to_str().unwrap()]);
        assert_eq!(o.status.code(), Some(2), "{flag}");
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(
            err.contains("is a directory") && !err.contains("explored"),
            "{err}"
        );
    }
    let out = dir.join(format!("hmasim-verify-out-{}.json", std::process::id()));
    let o = hmasim(&[
        "verify",
        "secure-desktop",
        "--user",
        "cloud@contoso.com",
        "--format",
        "json",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0));
    assert!(o.stdout.is_empty());
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    let _ = std::fs::remove_file(&out);
    assert_eq!(v["format"], "hmasim-verify/2");
    assert_eq!(v["verdict"], "clean");
    assert!(v["epochs"][0]["paths"]
        .as_array()
        .unwrap()
        .iter()
        .all(|p| p["user"] == "cloud@contoso.com"));
    for k in ["paths", "classes", "pruned"] {
        assert!(v["explored"][k].is_u64(), "{k}");
    }
}

#[test]
fn the_graph_reader_reads_the_registration_user_action() {
    let body = hmasim::sim::verify::registration_policy_body();
    let read = scenario::graph::parse_graph(&body, "policy.json", &[]).unwrap();
    let p = &read.policies[0];
    assert_eq!(p.include_user_actions, [REGISTER_SECURITY_INFO]);
    assert!(p.unmodelled.is_empty(), "{:?}", p.unmodelled);
    // Registering devices is modelled too; another user action is read but not modelled.
    let device = body.replace(REGISTER_SECURITY_INFO, "urn:user:registerdevice");
    let read = scenario::graph::parse_graph(&device, "policy.json", &[]).unwrap();
    assert_eq!(
        read.policies[0].include_user_actions,
        ["urn:user:registerdevice"]
    );
    assert!(read.policies[0].unmodelled.is_empty());
    let other = body.replace(REGISTER_SECURITY_INFO, "urn:user:registerfuturething");
    let read = scenario::graph::parse_graph(&other, "policy.json", &[]).unwrap();
    assert!(read.policies[0].include_user_actions.is_empty());
    assert!(read.policies[0]
        .unmodelled
        .iter()
        .any(|u| u.contains("includeUserActions")));
    // The printed fix closes the path it is printed for: the policy it creates, read back,
    // makes the unregistered user's scenario clean.
    let mut sc = desktop();
    sc.users[0].mfa_registered = false;
    let mut fixed = sc.clone();
    let mut p = scenario::graph::parse_graph(&body, "policy.json", &[])
        .unwrap()
        .policies
        .remove(0);
    p.exclude_locations.clear();
    fixed.conditional_access.push(p);
    assert_eq!(verify(&fixed).verdict(), Overall::Clean);
}

#[test]
fn sessions_carry_across_a_configuration_change() {
    // A block for desktop clients is enabled after an hour: a fresh sign-in is refused from
    // then on, and the session signed in before the change is followed across it.
    let mut sc = load("secure-desktop", &["verify.clients=[\"outlook-desktop\"]"]);
    let mut block = CaPolicy::new("Block desktop clients", vec![GrantControl::Block]);
    block.state = CaState::Disabled;
    block.client_app_types = vec![ClientAppType::MobileAppsAndDesktopClients];
    sc.conditional_access.push(block);
    sc.run.duration = Span(3 * 3_600_000);
    sc.timeline
        .push(set_at(3_600_000, "conditional_access.2.state", "enabled"));
    let v = verify(&sc);
    assert_eq!(v.epochs.len(), 2);
    let modern = |epoch: usize, continued: bool| -> Vec<_> {
        v.paths
            .iter()
            .filter(|p| {
                p.epoch == epoch
                    && p.path.continued == continued
                    && p.path.method.as_str() == "modern"
                    && p.path.signals.source_address.is_none()
            })
            .collect()
    };
    assert!(modern(0, false)
        .iter()
        .all(|p| p.verdict == Verdict::MailboxWithMfa));
    assert!(modern(1, false)
        .iter()
        .all(|p| p.verdict == Verdict::NoAccess
            && p.stopped_by.as_deref() == Some("blocked_by_conditional_access at entra-id")));
    let continued = modern(1, true);
    assert!(!continued.is_empty());
    // The session had the mailbox with MFA before the change.
    assert!(continued
        .iter()
        .all(|p| p.verdict == Verdict::MailboxWithMfa));
    assert!(v.transitions.iter().any(|t| t.at_ms == 3_600_000
        && t.before == Verdict::MailboxWithMfa
        && t.after == Verdict::NoAccess));
    // A continued path replays from the previous epoch's start, across the change.
    let p = &continued[0].path;
    let replay = path_scenario(&sc, p, 1);
    let start = replay
        .timeline
        .iter()
        .find(|a| a.action.is_client_action())
        .unwrap();
    assert_eq!(start.at.ms(), 0);
    assert!(replay.run.duration.ms() > 3_600_000);
    assert!(replay
        .timeline
        .iter()
        .any(|a| a.action == ActionKind::Set && a.at.ms() == 3_600_000));
    assert_eq!(verify(&sc).verdict(), Overall::Clean);
}

#[test]
fn a_spoofed_user_agent_matches_an_activesync_user_agent_rule() {
    // Devices are blocked by default and only MRS's User-Agent is allowed; without
    // BlockLegacyAuthActiveSync, a Basic client that sends that User-Agent gets in.
    let rule = "onprem.activesync.device_rules=[{characteristic = \"UserAgent\", query = \"Outlook-iOS-Android/1.0 (OutlookService)\", access_level = \"allow\"}]";
    let open = load(
        "secure-mobile",
        &[
            rule,
            "onprem.authentication_policies.0.block_legacy_auth_activesync=false",
        ],
    );
    let v = verify(&open);
    assert_eq!(v.verdict(), Overall::NotClean);
    for c in &v.counterexamples {
        assert!(
            c.path.method.as_str().contains("activesync"),
            "{:?}",
            c.path
        );
        assert_eq!(
            c.path.signals.user_agent.as_deref(),
            Some("Outlook-iOS-Android/1.0 (OutlookService)")
        );
    }
    // Its own User-Agent is refused by the default level.
    assert!(v
        .paths
        .iter()
        .filter(|p| p.path.method.as_str().contains("activesync")
            && p.path.signals.user_agent.is_none())
        .all(|p| p.verdict == Verdict::NoAccess));
    replays(&open);
    // The fix: BlockLegacyAuthActiveSync back on.
    assert_eq!(
        verify(&load("secure-mobile", &[rule])).verdict(),
        Overall::Clean
    );
}

/// secure-desktop with its desktop MFA policy narrowed to high sign-in risk.
fn risk_only_desktop() -> Scenario {
    let mut sc = desktop();
    sc.conditional_access[0].sign_in_risk_levels = vec![hmasim::protocol::policy::RiskLevel::High];
    sc
}

#[test]
fn without_a_risk_condition_no_risk_level_is_explored() {
    let v = verify(&desktop());
    assert!(v.paths.iter().all(|p| p.path.signals.risk.is_none()));
    assert!(v.counterexamples.iter().all(|c| c.closed_at_risk.is_none()));
}

#[test]
fn mfa_only_at_high_sign_in_risk_is_its_own_finding_class() {
    use hmasim::protocol::policy::RiskLevel;
    let sc = risk_only_desktop();
    let v = verify(&sc);
    assert_eq!(v.verdict(), Overall::NotClean);
    // The modern sign-in with no risk detected gets in with the password; at high
    // sign-in risk the same path is closed: "MFA only if risk is detected".
    let modern: Vec<_> = v
        .counterexamples
        .iter()
        .filter(|c| c.path.method.as_str() == "modern")
        .collect();
    assert!(!modern.is_empty());
    for c in &modern {
        assert_eq!(c.verdict, Verdict::MailboxWithoutMfa);
        assert_eq!(
            c.path.signals.risk.map(|r| r.sign_in),
            Some(RiskLevel::None)
        );
        assert_eq!(c.closed_at_risk.map(|r| r.sign_in), Some(RiskLevel::High));
    }
    assert!(v.paths.iter().any(|p| p.path.method.as_str() == "modern"
        && p.path
            .signals
            .risk
            .is_some_and(|r| r.sign_in == RiskLevel::High)
        && p.verdict == Verdict::MailboxWithMfa));
    // Only the classes the policy tells apart are explored (none, and high standing for
    // high alone), and a path closed with no risk detected is not run again at high.
    assert!(v.paths.iter().all(|p| matches!(
        p.path.signals.risk.map(|r| r.sign_in),
        Some(RiskLevel::None | RiskLevel::High)
    )));
    let at_high = v
        .paths
        .iter()
        .filter(|p| p.path.signals.risk.is_some_and(|r| r.detected()))
        .count();
    let open = v
        .paths
        .iter()
        .filter(|p| p.path.signals.risk.is_some_and(|r| !r.detected()) && p.verdict.single_factor())
        .count();
    assert_eq!(at_high, open);
    let r = hmasim::sim::findings::report(&sc, &v, &[], None);
    let f = &r.findings[0];
    assert_eq!(
        f.class,
        hmasim::sim::findings::FindingClass::MfaOnlyIfRiskDetected
    );
    assert!(f.closed_at_risk.contains("sign-in risk high"));
    // Its fix does not depend on risk, and it closes the paths at every level.
    let mut fixed = sc.clone();
    for f in &r.findings {
        f.change.apply(&mut fixed);
    }
    assert_eq!(verify(&fixed).verdict(), Overall::Clean);
    // A policy for every risk level is the ordinary finding class again when it does not
    // close the path either: here, the policy gone altogether.
    let mut none = sc.clone();
    none.conditional_access.remove(0);
    let v = verify(&none);
    assert!(v.counterexamples.iter().all(|c| c.closed_at_risk.is_none()));
}

#[test]
fn a_policy_naming_no_risk_is_explored_at_every_level() {
    use hmasim::protocol::policy::RiskLevel;
    // MFA when no risk is detected only: at a detected risk the path opens. The
    // exploration cannot stop at "no risk detected" then.
    let mut sc = desktop();
    sc.conditional_access[0].sign_in_risk_levels = vec![RiskLevel::None];
    let v = verify(&sc);
    let c: Vec<_> = v
        .counterexamples
        .iter()
        .filter(|c| c.path.method.as_str() == "modern")
        .collect();
    assert!(!c.is_empty());
    assert!(c
        .iter()
        .all(|c| c.path.signals.risk.is_some_and(|r| r.detected()) && c.closed_at_risk.is_none()));
}

#[test]
fn a_run_takes_the_risk_the_scenario_states() {
    // onprem@ (users.1) signs in with Outlook desktop: with no risk detected the policy
    // for high sign-in risk does not apply; at high it does, and the user does MFA.
    let mut sc = risk_only_desktop();
    let t = hmasim::sim::run(&sc, false);
    assert!(
        t.outcome.mailbox_access && !t.outcome.mfa_satisfied,
        "{:?}",
        t.outcome
    );
    scenario::apply_set(&mut sc, "users.1.sign_in_risk=high").unwrap();
    let t = hmasim::sim::run(&sc, false);
    assert!(
        t.outcome.mailbox_access && t.outcome.mfa_satisfied,
        "{:?}",
        t.outcome
    );
    // User risk is its own fact: high user risk does not meet a sign-in risk condition.
    let mut sc = risk_only_desktop();
    scenario::apply_set(&mut sc, "users.1.user_risk=high").unwrap();
    assert!(!hmasim::sim::run(&sc, false).outcome.mfa_satisfied);
    // A user without an MFA method cannot register one in a risky session: blocked.
    let mut sc = risk_only_desktop();
    scenario::apply_set(&mut sc, "users.1.sign_in_risk=high").unwrap();
    scenario::apply_set(&mut sc, "users.1.mfa_registered=false").unwrap();
    let o = hmasim::sim::run(&sc, false).outcome;
    assert!(!o.mailbox_access);
    assert_eq!(
        o.failure.map(|f| f.code.as_str().to_string()),
        Some("mfa_registration_blocked_by_risk".to_string())
    );
    // A level that is not one is bad input, located.
    let e = scenario::apply_set(&mut sc, "users.1.user_risk=severe").unwrap_err();
    assert!(e.to_string().contains("user_risk"), "{e}");
}

#[test]
fn the_coverage_table_says_how_much_of_each_policy_is_evaluated() {
    let mut sc = desktop();
    let mut partly = CaPolicy::new("partly", vec![GrantControl::Mfa]);
    partly.unmodelled =
        vec!["conditions.devices: not modelled: evaluated as if it matched every sign-in".into()];
    partly.state = CaState::ReportOnly;
    let mut nothing = CaPolicy::new("nothing", vec![]);
    nothing.unmodelled =
        vec!["grantControls.termsOfUse: not modelled: hmasim does not require it".into()];
    // Its only location is one hmasim does not model: it matches no sign-in.
    let mut compliant = CaPolicy::new("compliant network", vec![GrantControl::Block]);
    compliant.include_locations = vec!["Compliant network".into()];
    compliant.unmodelled = vec![
        "conditions.locations.includeLocations[0]: location \"Compliant network\": not modelled"
            .into(),
    ];
    sc.named_locations.push(NamedLocation {
        id: "cn".into(),
        name: "Compliant network".into(),
        unmodelled: Some("a compliant network location is not modelled".into()),
        ..NamedLocation::default()
    });
    let mut off = CaPolicy::new("off", vec![GrantControl::Mfa]);
    off.state = CaState::Disabled;
    let mut groups = CaPolicy::new("groups", vec![GrantControl::Mfa]);
    groups.include_users = vec![];
    groups.include_groups = vec!["nobody-holds-this".into()];
    groups.exclude_roles = vec!["Global Reader".into()];
    sc.conditional_access
        .extend([partly, nothing, compliant, off, groups]);
    let c = hmasim::sim::verify::coverage(&sc);
    use hmasim::sim::verify::Evaluated;
    let got: Vec<(&str, Evaluated)> = c
        .policies
        .iter()
        .map(|p| (p.name.as_str(), p.evaluated))
        .collect();
    assert_eq!(
        got,
        [
            (
                "Desktop: MFA for mobile apps and desktop clients",
                Evaluated::Fully
            ),
            ("Block legacy authentication", Evaluated::Fully),
            ("partly", Evaluated::Partly),
            ("nothing", Evaluated::NotAtAll),
            ("compliant network", Evaluated::NotAtAll),
            ("groups", Evaluated::Fully),
        ]
    );
    assert_eq!(c.policies[2].fields, ["conditions.devices"]);
    assert_eq!(c.policies[2].state, "enabledForReportingButNotEnforced");
    assert_eq!(
        c.totals_line(),
        "3 of 6 policies evaluated fully, 1 partly, 2 not at all (1 disabled, ignored)"
    );
    let unheld: Vec<(&str, &str)> = c.unheld.iter().map(|u| (u.kind, u.id.as_str())).collect();
    assert_eq!(
        unheld,
        [("group", "nobody-holds-this"), ("role", "Global Reader")]
    );
}

#[test]
fn an_unmodelled_policy_the_timeline_enables_is_judged_in_its_epoch() {
    // At 5 minutes the evaluated MFA policy is turned off and a report-only policy with a
    // field hmasim does not model is turned on: from then on it alone closes the modern
    // paths, which are NOT PROVEN (not CLEAN: the state at the start is not what decides).
    let mut sc = desktop();
    let mut p = CaPolicy::new("MFA on unmanaged devices", vec![GrantControl::Mfa]);
    p.state = CaState::ReportOnly;
    p.unmodelled =
        vec!["conditions.devices: not modelled: evaluated as if it matched every sign-in".into()];
    sc.conditional_access.push(p);
    scenario::apply_set(
        &mut sc,
        "timeline=[{at = \"5m\", do = \"set\", key = \"conditional_access.0.state\", value = \"disabled\"}, {at = \"5m\", do = \"set\", key = \"conditional_access.2.state\", value = \"enabled\"}]",
    )
    .unwrap();
    let v = verify(&sc);
    assert!(
        v.counterexamples.is_empty(),
        "{:?}",
        v.counterexamples
            .iter()
            .map(|c| c.path.key())
            .collect::<Vec<_>>()
    );
    assert_eq!(v.verdict(), Overall::NotProven);
    assert!(v
        .paths
        .iter()
        .filter(|p| !p.not_proven.is_empty())
        .all(|p| p.epoch == 1));
}
