//! verify's findings: each fix is aimed at the object that exists in the tenant, and each is
//! proven by applying it to the scenario (as a change, not by reading the command) and
//! verifying again: none of the paths it claims to close is still open. Accepted
//! exceptions (`--accept`) turn matching findings into ACCEPTED, and expire.

use std::collections::BTreeSet;
use std::process::Command;

use hmasim::scenario::{self, accept, Date, Scenario};
use hmasim::sim::findings::{self, Change, Overall, Report, UserState};
use hmasim::sim::verify::{verify, Verification};

fn load(name: &str, sets: &[&str]) -> Scenario {
    let mut sc = scenario::load(name).unwrap_or_else(|e| panic!("{e}"));
    for s in sets {
        scenario::apply_set(&mut sc, s).unwrap_or_else(|e| panic!("{s}: {e}"));
    }
    sc
}

/// A path exactly: who, what, how, every pinned signal, and the epoch.
type Key = (String, usize, bool);

fn key(c: &hmasim::sim::verify::Counterexample) -> Key {
    (c.path.key(), c.epoch, c.path.continued)
}

fn open_paths(v: &Verification) -> BTreeSet<Key> {
    v.counterexamples.iter().map(key).collect()
}

/// Verifies `sc`, then applies each finding's change to a copy and verifies again: every
/// path of the group must be closed. Returns the report.
fn reverified(sc: &Scenario) -> (Verification, Report) {
    let v = verify(sc);
    let r = findings::report(sc, &v, &[], None);
    for f in &r.findings {
        let mut fixed = sc.clone();
        f.change.apply(&mut fixed);
        let after = open_paths(&verify(&fixed));
        for c in &f.classes {
            for &i in &c.members {
                let k = key(&v.counterexamples[i]);
                assert!(
                    !after.contains(&k),
                    "applying `{}` leaves {k:?} open",
                    f.command
                );
            }
        }
    }
    (v, r)
}

/// The secure hybrid tenant without Conditional Access's legacy block, so Exchange Online's
/// authentication policies alone decide Basic.
const NO_CA_LEGACY_BLOCK: &str = "conditional_access.2.state=disabled";

#[test]
fn a_per_user_exchange_online_policy_that_re_enables_basic_is_fixed_in_that_policy() {
    let sc = load(
        "secure-hybrid",
        &[
            NO_CA_LEGACY_BLOCK,
            "exchange_online.authentication_policies=[{name = \"Block Basic\"}, {name = \"Sales EAS\", allow_basic_auth_activesync = true}]",
            "users.0.authentication_policy=Sales EAS",
        ],
    );
    let (v, r) = reverified(&sc);
    assert_eq!(r.findings.len(), 1, "{:?}", r.findings);
    let f = &r.findings[0];
    assert_eq!(
        f.command,
        "Set-AuthenticationPolicy -Identity \"Sales EAS\" -AllowBasicAuthActiveSync:$false"
    );
    assert!(f.control.contains("cloud@contoso.com"), "{}", f.control);
    // Every single-factor path is in this one group: native mail and Outlook mobile
    // configured by hand, over every signal the explorer pins.
    assert_eq!(f.closes, v.counterexamples.len());
    let kinds: BTreeSet<(&str, &str)> = f
        .classes
        .iter()
        .map(|c| (c.client, c.method.as_str()))
        .collect();
    assert_eq!(
        kinds,
        BTreeSet::from([
            ("native-mail", "basic-activesync"),
            ("outlook-mobile", "basic-activesync-manual")
        ])
    );
    // The recommendation verify used to make (a new organization default) does not close
    // the path: the per-user policy wins over any default.
    let mut wrong = sc.clone();
    Change::ExoNewDefault {
        name: "Block Basic 2".into(),
    }
    .apply(&mut wrong);
    assert_eq!(
        verify(&wrong).counterexamples.len(),
        v.counterexamples.len()
    );
    assert_eq!(
        r.users
            .iter()
            .map(|u| (u.user.as_str(), u.verdict))
            .collect::<Vec<_>>(),
        [
            ("cloud@contoso.com", UserState::NotClean),
            ("onprem@contoso.com", UserState::Clean)
        ]
    );
}

#[test]
fn the_default_policy_that_allows_basic_is_the_one_fixed() {
    let sc = load(
        "secure-hybrid",
        &[
            NO_CA_LEGACY_BLOCK,
            "exchange_online.authentication_policies.0.allow_basic_auth_imap=true",
            "exchange_online.authentication_policies.0.allow_basic_auth_pop=true",
        ],
    );
    let (_, r) = reverified(&sc);
    assert_eq!(r.findings.len(), 1, "{:?}", r.findings);
    // One control, both flags, on the policy that exists.
    assert_eq!(
        r.findings[0].command,
        "Set-AuthenticationPolicy -Identity \"Block Basic\" -AllowBasicAuthImap:$false -AllowBasicAuthPop:$false"
    );
    assert!(r.findings[0].control.contains("default"));
    // Without any policy, verify creates one and makes it the default.
    let mut sc = load("secure-hybrid", &[NO_CA_LEGACY_BLOCK]);
    sc.exchange_online.authentication_policies.clear();
    sc.exchange_online.default_authentication_policy = None;
    let (_, r) = reverified(&sc);
    assert!(r.findings.iter().any(|f| f.command
        == "New-AuthenticationPolicy -Name \"Block Basic\"; Set-OrganizationConfig -DefaultAuthenticationPolicy \"Block Basic\""));
}

#[test]
fn an_on_premises_per_user_policy_is_fixed_in_that_policy() {
    let sc = load(
        "secure-hybrid",
        &[
            "onprem.imap_enabled=true",
            "onprem.authentication_policies=[{name = \"Block Legacy\", block_legacy_auth_mapi = true, block_legacy_auth_imap = true}, {name = \"Old clients\", block_legacy_auth_mapi = true}]",
            "users.1.onprem_authentication_policy=Old clients",
        ],
    );
    let (_, r) = reverified(&sc);
    let f = r
        .findings
        .iter()
        .find(|f| f.command.contains("BlockLegacyAuthImap"))
        .expect("basic IMAP on-premises is open");
    assert_eq!(
        f.command,
        "Set-AuthenticationPolicy -Identity \"Old clients\" -BlockLegacyAuthActiveSync -BlockLegacyAuthAutodiscover -BlockLegacyAuthWebServices -BlockLegacyAuthOfflineAddressBook -BlockLegacyAuthRpc -BlockLegacyAuthImap"
    );
    assert!(f.control.contains("onprem@contoso.com"), "{}", f.control);
}

#[test]
fn a_platform_scoped_mfa_policy_gets_every_platform() {
    // The desktop MFA policy covers iOS only: Outlook desktop on Windows signs in with a
    // password alone.
    let sc = load(
        "secure-hybrid",
        &[
            "conditional_access.1.include_platforms=[\"iOS\"]",
            "conditional_access.1.id=\"8c7e4a0e-2b1f-4f2a-9d3e-1a2b3c4d5e6f\"",
        ],
    );
    let (v, r) = reverified(&sc);
    assert!(!v.counterexamples.is_empty());
    assert_eq!(r.findings.len(), 1, "{:?}", r.findings);
    let f = &r.findings[0];
    // The platforms the paths claimed, all in one control.
    assert!(f.control.contains("miss android, linux"), "{}", f.control);
    assert_eq!(
        f.command,
        "Invoke-MgGraphRequest -Method PATCH -Uri \"https://graph.microsoft.com/v1.0/identity/conditionalAccess/policies/8c7e4a0e-2b1f-4f2a-9d3e-1a2b3c4d5e6f\" -ContentType \"application/json\" -Body '{\"conditions\":{\"platforms\":{\"excludePlatforms\":[],\"includePlatforms\":[\"all\"]}}}'"
    );
    // One class per user, client and method, its platforms listed compactly; none iOS.
    for c in &f.classes {
        assert!(c.signals["platform"].iter().all(|p| p != "iOS"), "{c:?}");
    }
    let classes: BTreeSet<_> = f
        .classes
        .iter()
        .map(|c| (&c.user, c.client, &c.method))
        .collect();
    assert_eq!(classes.len(), f.classes.len());
}

#[test]
fn outlook_mobile_modern_to_an_online_mailbox_gets_a_conditional_access_fix() {
    // Only the desktop policy is report-only: Outlook mobile's modern path to cloud@'s
    // mailbox has no MFA. The fix is the policy's state, never an authentication policy.
    let sc = load(
        "secure-hybrid",
        &["conditional_access.1.state=enabledForReportingButNotEnforced"],
    );
    let (v, r) = reverified(&sc);
    assert!(v.counterexamples.iter().any(
        |c| c.path.user == "cloud@contoso.com" && c.path.method.as_str() == "modern-autodetect"
    ));
    for c in &v.counterexamples {
        assert!(!c.command.contains("AuthenticationPolicy"), "{}", c.command);
    }
    assert_eq!(r.findings.len(), 1);
    assert!(r.findings[0].control.contains("report-only"));
    assert!(r.findings[0]
        .command
        .starts_with("$policy = Get-MgIdentityConditionalAccessPolicy -Filter \"displayName eq 'Desktop: MFA for mobile apps and desktop clients'\"; Invoke-MgGraphRequest -Method PATCH"));
    assert!(r.findings[0]
        .command
        .ends_with("-Body '{\"state\":\"enabled\"}'"));
}

#[test]
fn a_role_exclusion_is_named_with_the_patch_that_removes_it() {
    let sc = load(
        "secure-hybrid",
        &[
            "users.0.roles=[\"Global Administrator\"]",
            "conditional_access.1.exclude_roles=[\"Global Administrator\"]",
        ],
    );
    let (_, r) = reverified(&sc);
    assert_eq!(r.findings.len(), 1, "{:?}", r.findings);
    let f = &r.findings[0];
    assert!(
        f.control.contains("role 'Global Administrator'") && f.control.contains("--accept"),
        "{}",
        f.control
    );
    assert!(f.command.contains("\"excludeRoles\":[]"), "{}", f.command);
    assert!(f.classes.iter().all(|c| c.user == "cloud@contoso.com"));
}

#[test]
fn a_named_location_exclusion_is_found_by_the_clients_address() {
    let sc = load(
        "secure-hybrid",
        &[
            "named_locations=[{id = \"1f0c2d3e-4b5a-6978-8a9b-0c1d2e3f4a5b\", name = \"Branch office\", ip_ranges = [\"192.0.2.0/24\"]}]",
            "clients.1.source_address=\"192.0.2.7\"",
            "conditional_access.1.exclude_locations=[\"Branch office\"]",
        ],
    );
    let (_, r) = reverified(&sc);
    assert_eq!(r.findings.len(), 1, "{:?}", r.findings);
    let f = &r.findings[0];
    assert!(f.control.contains("Branch office"), "{}", f.control);
    // Its only location condition gone, the policy no longer has one.
    assert!(
        f.command
            .ends_with("-Body '{\"conditions\":{\"locations\":null}}'"),
        "{}",
        f.command
    );
    // Only sign-ins from the branch's addresses are let through.
    assert!(f
        .classes
        .iter()
        .all(|c| c.signals["named_locations"] == ["Branch office"]
            && c.signals["location"] == ["external"]));
    assert_eq!(f.closes, r.findings.iter().map(|f| f.closes).sum::<usize>());
}

#[test]
fn a_spoofed_activesync_device_type_is_closed_by_blocking_basic_not_the_rule() {
    // On-premises ActiveSync: DefaultAccessLevel Block and an allow rule for DeviceType
    // OutlookService (MRS needs it). Without BlockLegacyAuthActiveSync, a Basic client that
    // claims DeviceType OutlookService syncs with a password alone.
    let sc = load(
        "secure-hybrid",
        &["onprem.authentication_policies.0.block_legacy_auth_activesync=false"],
    );
    let (v, r) = reverified(&sc);
    assert!(v
        .counterexamples
        .iter()
        .all(|c| c.path.signals.device_type.as_deref() == Some("OutlookService")));
    assert_eq!(r.findings.len(), 1, "{:?}", r.findings);
    let f = &r.findings[0];
    assert_eq!(
        f.command,
        "Set-AuthenticationPolicy -Identity \"Block Legacy\" -BlockLegacyAuthActiveSync"
    );
    assert!(
        f.control.contains("DeviceType 'OutlookService'") && f.control.contains("MRS"),
        "{}",
        f.control
    );
    // The fix leaves the rule alone.
    let mut fixed = sc.clone();
    f.change.apply(&mut fixed);
    assert_eq!(
        fixed.onprem.activesync.device_rules,
        sc.onprem.activesync.device_rules
    );
    // The minimal counterexamples pin the DeviceType, and no source address (the paths
    // that also pin one are not minimal).
    for c in &f.classes {
        assert!(c.members.len() > c.minimal.len(), "{c:?}");
        for m in &c.minimal {
            assert_eq!(m["device_type"], "OutlookService");
            assert!(!m.contains_key("source_address"), "{m:?}");
        }
    }
}

#[test]
fn classes_keep_the_minimal_counterexamples() {
    // Outlook desktop's Basic MAPI is open from anywhere: the paths that pin a source
    // address are not minimal; the two that pin only the location (inside, outside) are.
    let sc = load("mobile-onprem-hma", &[]);
    let v = verify(&sc);
    let r = findings::report(&sc, &v, &[], None);
    let mapi = r
        .findings
        .iter()
        .flat_map(|f| &f.classes)
        .find(|c| c.method.as_str() == "basic-mapi")
        .unwrap();
    assert!(mapi.members.len() > 2, "{mapi:?}");
    let minimal: Vec<&str> = mapi
        .minimal
        .iter()
        .map(|m| m["location"].as_str())
        .collect();
    assert_eq!(minimal, ["external", "internal"]);
    assert!(
        mapi.minimal.iter().all(|m| m.len() == 1),
        "{:?}",
        mapi.minimal
    );
    // A class of one path is its own minimal counterexample.
    let iwa = r
        .findings
        .iter()
        .flat_map(|f| &f.classes)
        .find(|c| c.method.as_str() == "iwa-mapi")
        .unwrap();
    assert_eq!(iwa.minimal.len(), 1);
    assert_eq!(iwa.minimal[0]["location"], "internal");
    let total: usize = r.findings.iter().map(|f| f.closes).sum();
    assert_eq!(total, v.counterexamples.len());
}

// Accepted exceptions.

const BREAK_GLASS: &str = "breakglass@contoso.com";

/// secure-hybrid with a break-glass account excluded from both MFA policies on purpose.
fn break_glass_file() -> std::path::PathBuf {
    let src = scenario::bundled("secure-hybrid").unwrap().source;
    let dir = std::env::temp_dir().join(format!("hmasim-findings-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("breakglass.toml");
    write_whole(
        &path,
        &format!("{src}\n[[users]]\nupn = \"{BREAK_GLASS}\"\nmailbox = \"online\"\n"),
    );
    path
}

/// Writes `body` to `path` through a unique temporary file and a rename: tests run in
/// parallel rewrite the shared files, and a reader must never see one half written.
fn write_whole(path: &std::path::Path, body: &str) {
    static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    let tmp = path.with_extension(format!("tmp{n}"));
    std::fs::write(&tmp, body).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

const EXCLUDED: [&str; 2] = [
    "conditional_access.0.exclude_users=[\"breakglass@contoso.com\"]",
    "conditional_access.1.exclude_users=[\"breakglass@contoso.com\"]",
];

fn accept_file(name: &str, body: &str) -> std::path::PathBuf {
    let p = break_glass_file().with_file_name(name);
    write_whole(&p, body);
    p
}

const ACCEPT: &str = "[[accept]]\nuser = \"breakglass@contoso.com\"\njustification = \"break-glass account: excluded from MFA on purpose, sign-ins alerted\"\nexpires = 2027-01-31\n";

fn hmasim(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_hmasim"))
        .args(args)
        .output()
        .unwrap()
}

fn verify_args<'a>(sc: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut a = vec!["verify", sc];
    for s in EXCLUDED {
        a.extend(["--set", s]);
    }
    a.extend(extra);
    a
}

#[test]
fn an_accepted_break_glass_exclusion_exits_0_and_is_listed() {
    let sc = break_glass_file();
    let acc = accept_file("accept.toml", ACCEPT);
    let (sc, acc) = (sc.to_str().unwrap(), acc.to_str().unwrap());
    // Without the exception: the exclusion is a finding naming itself.
    let o = hmasim(&verify_args(sc, &[]));
    assert_eq!(o.status.code(), Some(1));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.contains("excluded") || out.contains("exclusion"),
        "{out}"
    );
    // With it, on a day it holds: ACCEPTED, with its justification, exit 0.
    let o = hmasim(&verify_args(
        sc,
        &["--accept", acc, "--today", "2027-01-31"],
    ));
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(0), "{out}");
    assert!(out.contains("ACCEPTED"), "{out}");
    assert!(out.contains("break-glass account: excluded from MFA on purpose"));
    assert!(out.contains("breakglass@contoso.com") && !out.contains("FINDINGS"));
    assert!(
        out.trim_end().ends_with("except the accepted ones above"),
        "{out}"
    );
    // JSON: accepted[] apart from findings[].
    let o = hmasim(&verify_args(
        sc,
        &["--accept", acc, "--today", "2027-01-31", "--format", "json"],
    ));
    let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(j["verdict"], "clean");
    assert_eq!(j["findings"].as_array().unwrap().len(), 0);
    let a = &j["accepted"][0];
    assert_eq!(a["user"], BREAK_GLASS);
    assert_eq!(a["expires"], "2027-01-31");
    assert_eq!(a["paths"][0]["trace"]["format"], "hmasim-trace/1");
}

#[test]
fn an_expired_exception_is_reported_and_accepts_nothing() {
    let sc = break_glass_file();
    let acc = accept_file("expired.toml", ACCEPT);
    let (sc, acc) = (sc.to_str().unwrap(), acc.to_str().unwrap());
    let o = hmasim(&verify_args(
        sc,
        &["--accept", acc, "--today", "2027-02-01"],
    ));
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(out.contains("EXPIRED on 2027-01-31"), "{out}");
    assert!(
        out.contains("FINDINGS") && !out.contains("ACCEPTED"),
        "{out}"
    );
    // The day may come from the scenario instead of --today.
    let o = hmasim(&verify_args(
        sc,
        &["--accept", acc, "--set", "verify.today=2027-02-01"],
    ));
    assert_eq!(o.status.code(), Some(1));
    let o = hmasim(&verify_args(
        sc,
        &["--accept", acc, "--set", "verify.today=\"2026-06-01\""],
    ));
    assert_eq!(o.status.code(), Some(0));
}

#[test]
fn an_exception_that_matches_nothing_is_reported() {
    let sc = break_glass_file();
    let acc = accept_file(
        "unmatched.toml",
        &format!("{ACCEPT}\n[[accept]]\nuser = \"cloud@contoso.com\"\nclient = \"native-mail\"\njustification = \"legacy scanner\"\nexpires = 2027-01-31\n"),
    );
    let o = hmasim(&verify_args(
        sc.to_str().unwrap(),
        &["--accept", acc.to_str().unwrap(), "--today", "2026-12-01"],
    ));
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(0), "{out}");
    assert!(
        out.contains("cloud@contoso.com (") && out.contains("matches no path without MFA"),
        "{out}"
    );
}

#[test]
fn an_exception_can_select_one_path_by_client_method_and_signals() {
    let sc = break_glass_file();
    let mut sc = scenario::load(sc.to_str().unwrap()).unwrap();
    for s in EXCLUDED {
        scenario::apply_set(&mut sc, s).unwrap();
    }
    let v = verify(&sc);
    let all = v.counterexamples.len();
    assert!(all > 1);
    let e = accept::parse_accept(
        "[[accept]]\nuser = \"BreakGlass@contoso.com\"\nclient = \"browser\"\nmethod = \"web\"\nsignals = { location = \"internal\" }\njustification = \"x\"\nexpires = 2027-01-31\n",
        "a.toml",
    )
    .unwrap();
    let today = Date::parse("2026-12-01").unwrap();
    let r = findings::report(&sc, &v, &e, Some(today));
    assert_eq!(r.accepted.len(), 1);
    let accepted: Vec<usize> = r.accepted[0].classes[0].members.clone();
    assert!(!accepted.is_empty());
    for &i in &accepted {
        let p = &v.counterexamples[i].path;
        assert_eq!(
            (p.client.as_str(), p.location.as_str(), p.method.as_str()),
            ("browser", "internal", "web")
        );
    }
    let open: usize = r.findings.iter().map(|f| f.closes).sum();
    assert_eq!(open, all - accepted.len());
    assert_eq!(r.verdict, Overall::NotClean);
}

#[test]
fn a_bad_accept_file_is_refused_before_exploring() {
    let sc = break_glass_file();
    for (name, body, at) in [
        ("bad-date.toml", "[[accept]]\nuser = \"a@contoso.com\"\njustification = \"x\"\nexpires = \"2027-02-30\"\n", ":4:11:"),
        ("bad-key.toml", "[[accept]]\nuser = \"a@contoso.com\"\nreason = \"x\"\n", ":3:1:"),
    ] {
        let acc = accept_file(name, body);
        let o = hmasim(&["verify", sc.to_str().unwrap(), "--accept", acc.to_str().unwrap()]);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{err}");
        assert!(err.contains(&format!("{}{at}", acc.display())), "{err}");
        assert!(!err.contains("explored"), "explored before refusing: {err}");
        assert!(o.stdout.is_empty());
    }
    let o = hmasim(&[
        "verify",
        "secure-web",
        "--accept",
        "/nonexistent/accept.toml",
    ]);
    assert_eq!(o.status.code(), Some(2));
    let o = hmasim(&["verify", "secure-web", "--accept", "/dev/zero"]);
    assert_eq!(o.status.code(), Some(2));
    let o = hmasim(&["verify", "secure-web", "--today", "2027-13-01"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("--today 2027-13-01"));
}

#[test]
fn an_unregistered_user_gets_the_registration_guard_and_a_registration_from_trusted_places() {
    let sc = load("secure-hybrid", &["users.0.mfa_registered=false"]);
    // Every finding re-verified: the guard closes the paths from the Internet; from a
    // trusted location (where the guard lets registration through) only the user's own
    // registration does.
    let (_, r) = reverified(&sc);
    let guard = r
        .findings
        .iter()
        .find(|f| matches!(f.change, Change::RegistrationGuard { .. }))
        .expect("the registration interrupt is a finding");
    assert!(
        guard.command.contains("urn:user:registersecurityinfo"),
        "{}",
        guard.command
    );
    let registered = r
        .findings
        .iter()
        .find(|f| matches!(f.change, Change::Registered { .. }))
        .expect("registration from the trusted IPs is a finding of its own");
    assert!(
        registered.control.contains("MFA Trusted IPs"),
        "{}",
        registered.control
    );
    assert!(registered
        .command
        .contains("/users/cloud@contoso.com/authentication/temporaryAccessPassMethods"));
}

#[test]
fn an_activesync_allow_rule_on_the_user_agent_is_named_too() {
    let sc = load(
        "secure-hybrid",
        &[
            "onprem.authentication_policies.0.block_legacy_auth_activesync=false",
            "onprem.activesync.device_rules=[{characteristic = \"UserAgent\", query = \"Apple-iPhone14C2/2102.1\", access_level = \"allow\"}]",
        ],
    );
    let (_, r) = reverified(&sc);
    assert_eq!(r.findings.len(), 1, "{:?}", r.findings);
    let f = &r.findings[0];
    assert!(
        f.control.contains("UserAgent 'Apple-iPhone14C2/2102.1'"),
        "{}",
        f.control
    );
    assert_eq!(
        f.command,
        "Set-AuthenticationPolicy -Identity \"Block Legacy\" -BlockLegacyAuthActiveSync"
    );
}

#[test]
fn an_exclusion_from_two_policies_is_fixed_in_the_policy_each_path_needs() {
    // Excluded from both MFA policies: the evaluation note names the exclusion first for
    // both, but only the desktop policy would apply to Outlook once the exclusion is gone
    // (the web one selects browsers). Each path's fix is the policy that then applies.
    let mut sc = load("secure-hybrid", &EXCLUDED);
    sc.users.push(scenario::User {
        upn: BREAK_GLASS.into(),
        ..sc.users[0].clone()
    });
    let (v, r) = reverified(&sc);
    assert_eq!(r.findings.len(), 2, "{:?}", r.findings);
    for f in &r.findings {
        let web = f.control.contains("'Web: MFA");
        for c in &f.classes {
            assert_eq!(c.client == "browser", web, "{} for {}", f.control, c.client);
        }
    }
    assert_eq!(
        r.findings.iter().map(|f| f.closes).sum::<usize>(),
        v.counterexamples.len()
    );
}

#[test]
fn a_user_class_is_judged_and_accepted_member_by_member() {
    // cloud2@ is cloud@'s twin: one class, explored once for both.
    let mut sc = load(
        "secure-hybrid",
        &[
            NO_CA_LEGACY_BLOCK,
            "exchange_online.authentication_policies.0.allow_basic_auth_imap=true",
        ],
    );
    sc.users.push(scenario::User {
        upn: "cloud2@contoso.com".into(),
        ..sc.users[0].clone()
    });
    let v = verify(&sc);
    assert!(v
        .user_classes
        .iter()
        .any(|c| c.members.len() == 2 && c.representative == "cloud@contoso.com"));
    let r = findings::report(&sc, &v, &[], None);
    let verdicts: Vec<_> = r
        .users
        .iter()
        .map(|u| (u.user.as_str(), u.verdict, u.open))
        .collect();
    let open = v.counterexamples.len();
    assert_eq!(
        verdicts,
        [
            ("cloud@contoso.com", UserState::NotClean, open),
            ("onprem@contoso.com", UserState::Clean, 0),
            ("cloud2@contoso.com", UserState::NotClean, open)
        ]
    );
    // An exception for one member accepts the path for that member only: the finding
    // stays, for the other.
    let today = Some(Date::parse("2026-12-01").unwrap());
    let one = accept::parse_accept(
        "[[accept]]\nuser = \"cloud2@contoso.com\"\njustification = \"x\"\nexpires = 2027-01-31\n",
        "a.toml",
    )
    .unwrap();
    let r = findings::report(&sc, &v, &one, today);
    assert_eq!(r.verdict, Overall::NotClean);
    assert!(r.accepted.is_empty() && r.stale.is_empty(), "{:?}", r.stale);
    assert_eq!(r.users[2].verdict, UserState::Clean);
    assert_eq!(r.users[2].accepted, open);
    assert_eq!(r.users[0].verdict, UserState::NotClean);
    // Both members accepted: the tenant is clean.
    let both = accept::parse_accept(
        "[[accept]]\nuser = \"cloud2@contoso.com\"\njustification = \"x\"\nexpires = 2027-01-31\n[[accept]]\nuser = \"cloud@contoso.com\"\njustification = \"y\"\nexpires = 2027-01-31\n",
        "a.toml",
    )
    .unwrap();
    let r = findings::report(&sc, &v, &both, today);
    assert_eq!(r.verdict, Overall::Clean);
    assert!(!r.accepted.is_empty());
}

#[test]
fn with_one_user_only_that_user_gets_a_verdict() {
    let sc = load(
        "secure-hybrid",
        &[
            "users.0.roles=[\"Global Administrator\"]",
            "conditional_access.1.exclude_roles=[\"Global Administrator\"]",
        ],
    );
    let v = hmasim::sim::verify::verify_with(
        &sc,
        &hmasim::sim::verify::Options {
            user: Some("onprem@contoso.com".into()),
            ..Default::default()
        },
    );
    let r = findings::report(&sc, &v, &[], None);
    let users: Vec<_> = r
        .users
        .iter()
        .map(|u| (u.user.as_str(), u.verdict))
        .collect();
    assert_eq!(users, [("onprem@contoso.com", UserState::Clean)]);
    assert_eq!(r.verdict, Overall::Clean);
}

#[test]
fn an_exceptions_method_selects_that_method_only() {
    // IMAP and POP both open for the on-premises user: two methods of one client.
    let sc = load(
        "secure-mobile",
        &["onprem.imap_enabled=true", "onprem.pop_enabled=true"],
    );
    let v = verify(&sc);
    let methods: BTreeSet<&str> = v
        .counterexamples
        .iter()
        .map(|c| c.path.method.as_str())
        .collect();
    assert!(
        methods.contains("basic-imap") && methods.contains("basic-pop"),
        "{methods:?}"
    );
    let today = Date::parse("2026-12-01").unwrap();
    // The method as an accept file written before the enum spelled it (spaces trimmed).
    let e = accept::parse_accept(
        "[[accept]]\nuser = \"onprem@contoso.com\"\nclient = \"native-mail\"\nmethod = \" basic-imap \"\njustification = \"x\"\nexpires = 2027-01-31\n",
        "a.toml",
    )
    .unwrap();
    let r = findings::report(&sc, &v, &e, Some(today));
    assert_eq!(r.accepted.len(), 1);
    let accepted: Vec<usize> = r.accepted[0]
        .classes
        .iter()
        .flat_map(|c| c.members.clone())
        .collect();
    assert!(!accepted.is_empty());
    for &i in &accepted {
        assert_eq!(v.counterexamples[i].path.method.as_str(), "basic-imap");
    }
    let open: usize = r.findings.iter().map(|f| f.closes).sum();
    assert_eq!(open, v.counterexamples.len() - accepted.len());
    assert!(open > 0, "the POP paths stay open");
    // A method verify does not know selects nothing.
    let e = accept::parse_accept(
        "[[accept]]\nuser = \"onprem@contoso.com\"\nmethod = \"basic-smtp\"\njustification = \"x\"\nexpires = 2027-01-31\n",
        "a.toml",
    )
    .unwrap();
    let r = findings::report(&sc, &v, &e, Some(today));
    assert!(r.accepted.is_empty());
}
