//! Conditional Access as admins export it: Microsoft Graph `conditionalAccessPolicy` JSON
//! (tests/fixtures/graph) read into hmasim's policies, in every shape Graph tools write,
//! with warnings for what hmasim does not model and located errors for what is not a
//! policy; and the policies at work in the simulation (`run --ca-policies`, scenario files).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use hmasim::protocol::apps;
use hmasim::protocol::policy::{
    CaPolicy, CaState, ClientAppType, DevicePlatform, GrantControl, InsiderRiskLevel,
    NamedLocation, Operator, RiskLevel,
};
use hmasim::scenario::graph::{self, read_graph};
use hmasim::scenario::{self, ErrorOrigin};
use hmasim::sim;

const BREAKGLASS: &str = "5b1f3c2e-7a4d-4e8b-9c61-2f0a8d3e4b57";
const PILOT: &str = "c2d7e9a1-3f48-4b6c-8d20-7e1a9b5c4f36";
const GLOBAL_ADMIN: &str = "62e90394-69f5-4237-9190-012177145e10";
const EXCHANGE_ADMIN: &str = "29232cdf-9323-42fd-ade2-1d097af3e4de";
const HQ: &str = "8a4f1d2c-6b3e-4f70-9a15-c7d2e8b0f943";
const SHAREPOINT: &str = "00000003-0000-0ff1-ce00-000000000000";

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/graph")
        .join(name)
}

fn named() -> Vec<NamedLocation> {
    vec![
        NamedLocation {
            id: HQ.into(),
            name: "Contoso HQ".into(),
            trusted: true,
            ..NamedLocation::default()
        },
        NamedLocation {
            id: "e3b9a6d1-0c52-4a87-b4f3-19d6c2a8e705".into(),
            name: "Blocked countries".into(),
            trusted: false,
            ..NamedLocation::default()
        },
    ]
}

fn names(ps: &[CaPolicy]) -> Vec<&str> {
    ps.iter()
        .map(|p| p.name.split(':').next().unwrap())
        .collect()
}

fn hmasim(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_hmasim"))
        .args(args)
        .output()
        .expect("the binary runs")
}

#[test]
fn a_single_policy_object_maps_every_supported_field() {
    let read = read_graph(&fixture("single.json"), &named()).unwrap();
    assert!(read.warnings.is_empty(), "{:?}", read.warnings);
    let mut want = CaPolicy::new(
        "CA010: Require MFA or a compliant device for Exchange Online",
        vec![
            GrantControl::Mfa,
            GrantControl::CompliantDevice,
            GrantControl::DomainJoinedDevice,
        ],
    );
    want.state = CaState::Enabled;
    want.operator = Operator::Or;
    want.include_users = vec!["All".into()];
    want.exclude_users = vec![
        "GuestsOrExternalUsers".into(),
        "breakglass@contoso.com".into(),
    ];
    want.include_groups = vec![PILOT.into()];
    want.exclude_groups = vec![BREAKGLASS.into()];
    want.include_roles = vec![EXCHANGE_ADMIN.into()];
    want.exclude_roles = vec![GLOBAL_ADMIN.into()];
    want.include_applications = vec![apps::EXCHANGE_ONLINE.into(), "Office365".into()];
    want.exclude_applications = vec![SHAREPOINT.into()];
    want.client_app_types = vec![
        ClientAppType::Browser,
        ClientAppType::MobileAppsAndDesktopClients,
        ClientAppType::EasSupported,
    ];
    want.include_platforms = vec![DevicePlatform::All];
    want.exclude_platforms = vec![DevicePlatform::Linux];
    want.include_locations = vec!["All".into()];
    // The location id resolves to the named location's name.
    want.exclude_locations = vec!["AllTrusted".into(), "Contoso HQ".into()];
    // The object id is kept: verify's Graph PATCH of the policy is addressed to it.
    want.id = Some("0c5e8a2f-6d3b-4e19-a7c4-8f2b1d9e6a30".into());
    assert_eq!(read.policies, vec![want]);
}

#[test]
fn arrays_list_responses_and_directories_all_read() {
    let list = read_graph(&fixture("list.json"), &named()).unwrap();
    assert_eq!(
        names(&list.policies),
        ["CA001", "CA002", "CA003", "CA004", "CA005", "CA006", "CA007"]
    );
    assert!(list.warnings.is_empty(), "{:?}", list.warnings);
    let p = &list.policies;
    assert_eq!(p[4].state, CaState::ReportOnly);
    assert_eq!(p[5].state, CaState::Disabled);
    assert_eq!(p[5].include_locations, ["Blocked countries"]);
    assert_eq!(p[6].include_roles, [GLOBAL_ADMIN, EXCHANGE_ADMIN]);
    assert_eq!(
        p[2].include_platforms,
        [DevicePlatform::Android, DevicePlatform::Ios]
    );
    assert_eq!(
        p[3].client_app_types,
        [ClientAppType::ExchangeActiveSync, ClientAppType::Other]
    );
    assert_eq!(p[3].grant, [GrantControl::Block]);
    assert_eq!(
        (p[2].grant.clone(), p[2].operator),
        (
            vec![
                GrantControl::ApprovedApplication,
                GrantControl::CompliantApplication
            ],
            Operator::Or
        )
    );
    // Users included by roles only: no `All` sneaks in.
    assert!(p[6].include_users.is_empty());

    let array = read_graph(&fixture("array.json"), &named()).unwrap();
    assert_eq!(names(&array.policies), ["CA004", "CA001"]);
    assert_eq!(array.policies[1], list.policies[0]);

    // A directory: every *.json file in file-name order, other files left alone.
    let dir = read_graph(&fixture("dir"), &named()).unwrap();
    assert_eq!(names(&dir.policies), ["CA001", "CA004", "CA007"]);
    assert_eq!(dir.policies[2], list.policies[6]);
}

#[test]
fn unmodelled_fields_are_warnings_naming_the_policy_and_the_field() {
    let read = read_graph(&fixture("unmodelled.json"), &[]).unwrap();
    let lines: Vec<String> = read.warnings.iter().map(ToString::to_string).collect();
    let at = |field: &str| {
        lines
            .iter()
            .find(|l| l.contains(&format!("$.value[0].{field}: ")))
            .unwrap_or_else(|| panic!("no warning for {field} in {lines:#?}"))
            .clone()
    };
    for field in [
        "conditions.clientApplications",
        "conditions.applications.includeAuthenticationContextClassReferences",
    ] {
        assert_eq!(
            at(field),
            format!(
                "{}: $.value[0].{field}: policy \"CA020: Risky sign-ins on unmanaged devices need MFA\": \
                 not modelled: evaluated as if it matched every sign-in",
                fixture("unmodelled.json").display()
            )
        );
    }
    // The filter for devices and the authentication flows are evaluated (devices.json).
    for field in [
        "grantControls.termsOfUse",
        "grantControls.customAuthenticationFactors",
    ] {
        assert!(
            at(field).ends_with("not modelled: hmasim does not require it"),
            "{}",
            at(field)
        );
    }
    assert!(at("grantControls.builtInControls[1]")
        .ends_with("control \"passwordChange\" is not modelled: hmasim does not require it"));
    assert!(
        at("sessionControls.persistentBrowser").contains("no effect on single-factor reachability")
    );
    // Sign-in frequency is evaluated (Entra ID enforces it in runs): read, not reported;
    // switched off (`isEnabled` false), not configured.
    assert!(
        !lines.iter().any(|l| l.contains("signInFrequency")),
        "{lines:#?}"
    );
    assert_eq!(
        read.policies[0].sign_in_frequency,
        Some(hmasim::protocol::policy::SignInFrequency::Hours(4))
    );
    assert_eq!(read.policies[1].sign_in_frequency, None);
    // The built-in multifactor strength is evaluated (as MFA), not reported; session
    // controls are reported without marking the policy.
    assert!(!lines
        .iter()
        .any(|l| l.contains("grantControls.authenticationStrength")));
    assert!(!read.policies[0]
        .unmodelled
        .iter()
        .any(|u| u.starts_with("sessionControls") || u.contains("authenticationStrength")));
    // A paged list says so.
    assert!(
        lines
            .iter()
            .any(|l| l.contains("$['@odata.nextLink']: the list is one page of several")),
        "{lines:#?}"
    );
    // Switched-off and empty fields are not configured: no warning for the second policy.
    assert!(!lines.iter().any(|l| l.contains("CA021")), "{lines:#?}");
    // Risk levels are evaluated: read, not reported.
    assert!(
        !lines.iter().any(|l| l.contains("RiskLevels")),
        "{lines:#?}"
    );
    assert_eq!(lines.len(), 7, "{lines:#?}");
    // Guests are evaluated: the policy includes the guest types it names.
    assert!(!read.policies[0].include_guests.is_empty());
    // The policy keeps what it does model, and remembers what it does not.
    let p = &read.policies[0];
    assert_eq!(p.grant, [GrantControl::Mfa]);
    assert_eq!(p.sign_in_risk_levels, [RiskLevel::High, RiskLevel::Medium]);
    assert_eq!(p.user_risk_levels, [RiskLevel::High]);
    assert_eq!(p.insider_risk_levels, [InsiderRiskLevel::Elevated]);
    assert_eq!(p.unmodelled.len(), 5);
    assert!(p.unmodelled.contains(
        &"conditions.clientApplications: not modelled: evaluated as if it matched every sign-in"
            .to_string()
    ));
    assert!(read.policies[1].unmodelled.is_empty());
    assert_eq!(
        graph::unmodelled_warnings(&read.policies)[0],
        format!("policy \"{}\": {}", p.name, p.unmodelled[0])
    );
}

#[test]
fn location_ids_resolve_through_named_locations_or_warn() {
    let read = read_graph(&fixture("list.json"), &[]).unwrap();
    let lines: Vec<String> = read.warnings.iter().map(ToString::to_string).collect();
    assert_eq!(lines.len(), 2, "{lines:#?}");
    assert!(lines[0].contains(
        "$.value[5].conditions.locations.includeLocations[0]: policy \"CA006: Block sign-ins from blocked countries\": \
         location \"e3b9a6d1-0c52-4a87-b4f3-19d6c2a8e705\" is not among the scenario's named_locations: it matches no sign-in"
    ), "{}", lines[0]);
    assert!(lines[1].contains("$.value[6].conditions.locations.excludeLocations[0]"));
    // The id is kept as written.
    assert_eq!(read.policies[6].exclude_locations, [HQ]);
}

#[test]
fn every_bad_input_names_the_file_and_the_json_path() {
    let cases: &[(&str, &str)] = &[
        ("not-a-policy.json", "$: not Conditional Access policies: expected a conditionalAccessPolicy object, an array of them or a Graph list response {\"value\": [...]}, found an object"),
        ("value-not-array.json", "$.value: expected an array of conditionalAccessPolicy objects, found an object"),
        ("unknown-state.json", "$.state: unknown state \"enable\", expected one of enabled, disabled, enabledForReportingButNotEnforced"),
        ("unknown-operator.json", "$.grantControls.operator: unknown operator \"ALL\", expected one of AND, OR"),
        ("missing-displayName.json", "$[1]: missing required field \"displayName\""),
        ("missing-state.json", "$[1]: missing required field \"state\""),
        ("missing-conditions.json", "$[1]: missing required field \"conditions\""),
        ("missing-grantControls.json", "$[1]: missing required field \"grantControls\""),
        ("missing-clientAppTypes.json", "$.conditions: missing required field \"clientAppTypes\""),
        ("missing-operator.json", "$.grantControls: missing required field \"operator\""),
        ("wrong-type.json", "$.conditions.users.includeUsers: expected an array of strings, found the string \"All\""),
        ("wrong-type-name.json", "$.displayName: expected a string, found the number 42"),
        ("wrong-type-rule.json", "$.conditions.devices.deviceFilter.rule: expected a string, found an array"),
    ];
    for (file, want) in cases {
        let path = fixture(&format!("bad/{file}"));
        let e = read_graph(&path, &named()).expect_err(file);
        let shown = path.display().to_string();
        assert!(
            matches!(&e.origin, ErrorOrigin::JsonPath { file: f, .. } if *f == shown),
            "{file}: {:?}",
            e.origin
        );
        let text = e.to_string();
        assert!(
            text.starts_with(&format!("{shown}: {want}")),
            "{file}: expected `{want}` in\n{text}"
        );
        // The excerpt shows the offending place.
        assert!(e.position.is_some(), "{file}: no position");
        assert!(text.contains(" | "), "{file}: {text}");
    }
    // Near misses get a hint.
    let e = read_graph(&fixture("bad/unknown-state.json"), &[]).unwrap_err();
    assert_eq!(e.hint.as_deref(), Some("did you mean \"enabled\"?"));
    // Not JSON at all: line and column.
    let e = read_graph(&fixture("bad/syntax.json"), &[]).unwrap_err();
    assert!(
        e.to_string().starts_with(&format!(
            "{}:4:1: invalid JSON: trailing comma",
            fixture("bad/syntax.json").display()
        )),
        "{e}"
    );
    // Unreadable, and a directory without policies.
    let e = read_graph(&fixture("nope.json"), &[]).unwrap_err();
    assert!(e.to_string().contains("cannot read the policy file"), "{e}");
    let empty = std::env::temp_dir().join(format!("hmasim-graph-empty-{}", std::process::id()));
    std::fs::create_dir_all(&empty).unwrap();
    let e = read_graph(&empty, &[]).unwrap_err();
    assert!(e.to_string().contains("holds no `.json` file"), "{e}");
}

#[test]
fn an_unknown_value_degrades_its_policy_and_not_the_set() {
    // Values newer than hmasim (a new application keyword, client app type, platform or
    // grant control): a located warning for that policy, every other policy read, and
    // the policy read as applying to fewer sign-ins and requiring no more than it knows.
    let cases: &[(&str, &str, &str)] = &[
        ("unknown-client-app.json", "$.value[2].conditions.clientAppTypes[0]", "unknown client app type \"desktop\""),
        ("unknown-platform.json", "$.conditions.platforms.includePlatforms[1]", "unknown device platform \"ipados\""),
        ("unknown-control.json", "$[0].grantControls.builtInControls[1]", "unknown grant control \"requireMFA\": not modelled: the policy is read as requiring only the controls hmasim knows"),
        ("unknown-application.json", "$.conditions.applications.includeApplications[0]", "unknown application \"Exchange Online\""),
    ];
    for (file, at, what) in cases {
        let path = fixture(&format!("unknown/{file}"));
        let read = read_graph(&path, &named()).unwrap_or_else(|e| panic!("{file}: {e}"));
        let w = read
            .warnings
            .iter()
            .find(|w| w.path == *at)
            .unwrap_or_else(|| panic!("{file}: no warning at {at}: {:?}", read.warnings));
        assert!(w.message.starts_with(what), "{file}: {}", w.message);
        assert!(w.policy.is_some(), "{file}: the warning names its policy");
        let p = read
            .policies
            .iter()
            .find(|p| Some(&p.name) == w.policy.as_ref())
            .unwrap();
        assert!(!p.unmodelled.is_empty(), "{file}: the policy is marked");
    }
    // The block-legacy policy whose only client app type is unknown selects no client app
    // hmasim knows: it is not widened to every client app.
    let read = read_graph(&fixture("unknown/unknown-client-app.json"), &named()).unwrap();
    assert!(read.policies[2].client_app_types.is_empty());
    assert_eq!(read.policies.len(), 3);
    // On the command line: a warning, exit 0, and the run goes on.
    let path = fixture("unknown/unknown-application.json");
    let o = hmasim(&[
        "run",
        "desktop-exo-ca",
        "--ca-policies",
        path.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0));
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(e.contains("unknown application \"Exchange Online\""), "{e}");
}

#[test]
fn bad_policy_files_exit_2_with_the_json_path_and_no_output() {
    let path = fixture("bad/unknown-state.json");
    let o = hmasim(&[
        "run",
        "desktop-exo-ca",
        "--ca-policies",
        path.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(o.stdout.is_empty());
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(
        e.starts_with(&format!(
            "error: {}: $.state: unknown state \"enable\"",
            path.display()
        )),
        "{e}"
    );
}

#[test]
fn a_scenario_names_policy_files_relative_to_itself() {
    let sc = scenario::load(fixture("tenant.toml").to_str().unwrap()).unwrap();
    assert_eq!(sc.conditional_access_files, ["list.json"]);
    assert_eq!(sc.conditional_access.len(), 7);
    assert_eq!(sc.conditional_access[6].exclude_locations, ["Contoso HQ"]);
    // CA002 requires MFA of desktop clients outside trusted locations.
    let t = sim::run(&sc, false);
    assert!(
        t.outcome.mailbox_access && t.outcome.mfa_satisfied,
        "{:?}",
        t.outcome
    );
    // `check` validates the whole, files included.
    let o = hmasim(&["check", fixture("tenant.toml").to_str().unwrap()]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
}

#[test]
fn scenario_file_errors_point_at_the_scenario_line() {
    let d = std::env::temp_dir().join(format!("hmasim-graph-sc-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    let src = std::fs::read_to_string(fixture("tenant.toml")).unwrap();
    // A missing file.
    let p = d.join("missing.toml");
    std::fs::write(
        &p,
        src.replace("[\"list.json\"]", "[\"policies/export.json\"]"),
    )
    .unwrap();
    let e = scenario::load(p.to_str().unwrap()).unwrap_err().to_string();
    let line = src
        .lines()
        .position(|l| l.starts_with("conditional_access_files"))
        .unwrap()
        + 1;
    assert!(
        e.starts_with(&format!("{}:{line}:", p.display())) && e.contains("no file or directory"),
        "{e}"
    );
    // A bad file: the error names the policy file.
    std::fs::copy(fixture("bad/unknown-state.json"), d.join("bad.json")).unwrap();
    let p = d.join("bad.toml");
    std::fs::write(&p, src.replace("[\"list.json\"]", "[\"bad.json\"]")).unwrap();
    let e = scenario::load(p.to_str().unwrap()).unwrap_err().to_string();
    assert!(
        e.starts_with(&format!(
            "{}: $.state: unknown state",
            d.join("bad.json").display()
        )),
        "{e}"
    );
    // A scenario's own policy naming an unknown location, or a named location by id.
    let own = |loc: &str| {
        format!(
            "{}\n[[conditional_access]]\nname = \"own\"\nexclude_locations = [\"{loc}\"]\ngrant = [\"mfa\"]\n",
            src.replace("conditional_access_files = [\"list.json\"]\n", "")
        )
    };
    let p = d.join("loc.toml");
    std::fs::write(&p, own("Contoso HQ")).unwrap();
    scenario::load(p.to_str().unwrap()).unwrap();
    std::fs::write(&p, own("Contoso Branch")).unwrap();
    let e = scenario::load(p.to_str().unwrap()).unwrap_err().to_string();
    assert!(e.contains("unknown location `Contoso Branch`"), "{e}");
    assert!(
        e.contains("`All`, `AllTrusted`, `Contoso HQ`, `Blocked countries`"),
        "{e}"
    );
    std::fs::write(&p, own(HQ)).unwrap();
    let e = scenario::load(p.to_str().unwrap()).unwrap_err().to_string();
    assert!(e.contains("name it `Contoso HQ`"), "{e}");
}

#[test]
fn scenario_files_written_before_still_read_and_new_fields_work_in_toml_and_set() {
    // Every bundled scenario parses (they predate the new fields) and keeps its policies.
    for b in scenario::BUNDLED {
        let sc = scenario::load(b.name).unwrap();
        assert!(sc
            .conditional_access
            .iter()
            .all(|p| p.unmodelled.is_empty()));
    }
    // The new fields by --set, with Graph's spelling.
    let mut sc = scenario::load("mobile-exo").unwrap();
    scenario::apply_set(
        &mut sc,
        "conditional_access.0.include_platforms=[\"android\"]",
    )
    .unwrap();
    assert_eq!(
        sc.conditional_access[0].include_platforms,
        [DevicePlatform::Android]
    );
    let e = scenario::apply_set(&mut sc, "conditional_access.0.include_platforms=[\"ipad\"]")
        .unwrap_err()
        .to_string();
    assert!(e.contains("unknown variant `ipad`"), "{e}");
}

#[test]
fn run_with_ca_policies_replaces_the_scenarios_policies() {
    // CA010 (MFA, or a compliant or hybrid joined device) covers the desktop sign-in.
    let o = hmasim(&[
        "run",
        "desktop-exo-ca",
        "--format",
        "json",
        "--ca-policies",
        fixture("single.json").to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["outcome"]["mfa_satisfied"], true, "{}", v["outcome"]);
    // The directory (browsers, legacy clients, administrators) replaces the desktop policy.
    let o = hmasim(&[
        "run",
        "desktop-exo-ca",
        "--set",
        "identity.model=phs",
        "--ca-policies",
        fixture("dir").to_str().unwrap(),
        "--format",
        "json",
    ]);
    assert_eq!(o.status.code(), Some(0));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    // Nothing there covers a desktop client of a user who is not an administrator: no MFA.
    assert_eq!(v["outcome"]["mailbox_access"], true);
    assert_eq!(v["outcome"]["mfa_satisfied"], false, "{}", v["outcome"]);
    // desktop-exo-ca has no named locations: CA007's location id cannot resolve.
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(
        e.starts_with("warning: ")
            && e.contains("10-require-mfa-admins.json: $.conditions.locations.excludeLocations[0]")
            && e.contains("is not among the scenario's named_locations"),
        "{e}"
    );
    // Warnings for what is not modelled go to stderr; the trace is unchanged in form.
    let o = hmasim(&[
        "run",
        "desktop-exo-ca",
        "--ca-policies",
        fixture("unmodelled.json").to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0));
    let e = String::from_utf8_lossy(&o.stderr);
    assert_eq!(e.lines().count(), 7, "{e}");
    assert!(e.lines().all(|l| l.starts_with("warning: ")), "{e}");
    assert!(String::from_utf8_lossy(&o.stdout).contains("VERDICT: mailbox access YES"));
}

#[test]
fn report_only_policies_are_never_enforced_in_a_run() {
    let mut sc = scenario::load("desktop-exo-ca").unwrap();
    scenario::apply_set(&mut sc, "identity.model=phs").unwrap();
    let read = read_graph(&fixture("list.json"), &named()).unwrap();
    // CA005 alone (report-only: compliant or hybrid joined device for Windows).
    sc.conditional_access = vec![read.policies[4].clone()];
    sc.conditional_access[0].include_groups.clear();
    sc.conditional_access[0].include_users = vec!["All".into()];
    let t = sim::run(&sc, false);
    assert!(
        t.outcome.mailbox_access && !t.outcome.mfa_satisfied,
        "{:?}",
        t.outcome
    );
    // Enforced, it stops the unmanaged Windows device.
    sc.conditional_access[0].state = CaState::Enabled;
    let t = sim::run(&sc, false);
    assert!(!t.outcome.mailbox_access, "{:?}", t.outcome);
    assert_eq!(
        t.outcome.failure.as_ref().map(|f| f.code.as_str()),
        Some("device_not_compliant")
    );
}

#[test]
fn the_platform_from_the_user_agent_reaches_conditional_access() {
    // Outlook mobile on iOS; a policy requiring MFA on Android only.
    let policy = |platform: &str| {
        format!(
            "conditional_access=[{{name = \"Android needs MFA\", client_app_types = [\"mobileAppsAndDesktopClients\"], include_platforms = [\"{platform}\"], grant = [\"mfa\"]}}]"
        )
    };
    for (client, platform, mfa) in [
        ("ios", "android", false),
        ("android", "android", true),
        ("ios", "iOS", true),
        ("ios", "all", true),
    ] {
        let mut sc = scenario::load("mobile-exo").unwrap();
        scenario::apply_set(&mut sc, "identity.model=phs").unwrap();
        scenario::apply_set(&mut sc, &format!("clients.0.platform={client}")).unwrap();
        scenario::apply_set(&mut sc, &policy(platform)).unwrap();
        let t = sim::run(&sc, false);
        assert!(
            t.outcome.mailbox_access,
            "{client} {platform}: {:?}",
            t.outcome
        );
        assert_eq!(t.outcome.mfa_satisfied, mfa, "{client} {platform}");
    }
}

#[test]
fn device_filters_user_actions_and_authentication_flows_are_read() {
    use hmasim::protocol::device::FilterMode;
    let read = read_graph(&fixture("devices.json"), &[]).unwrap();
    let lines: Vec<String> = read.warnings.iter().map(ToString::to_string).collect();
    let p = &read.policies;
    // A filter with its mode; annotations are metadata.
    let f = p[0].device_filter.as_ref().unwrap();
    assert_eq!(f.mode, FilterMode::Exclude);
    assert!(f.rule.text().contains("-or device.isCompliant -eq True"));
    assert!(p[0].unmodelled.is_empty(), "{:?}", p[0].unmodelled);
    // Both transfer methods, split at the comma.
    assert_eq!(
        p[1].transfer_methods,
        ["deviceCodeFlow", "authenticationTransfer"]
    );
    assert!(p[1].unmodelled.is_empty(), "{:?}", p[1].unmodelled);
    // The user action is modelled.
    assert_eq!(p[2].include_user_actions, ["urn:user:registerdevice"]);
    assert!(p[2].unmodelled.is_empty(), "{:?}", p[2].unmodelled);
    // A rule that does not parse: a located warning for that policy only, saying where.
    assert_eq!(p[3].device_filter, None);
    assert_eq!(p[3].unmodelled.len(), 1);
    let w = lines
        .iter()
        .find(|l| l.contains("CA104"))
        .expect("a warning for CA104");
    assert!(
        w.contains("$.value[3].conditions.devices.deviceFilter.rule: ")
            && w.contains("at character 8: unknown device attribute \"operatingSytem\"")
            && w.contains("not modelled"),
        "{w}"
    );
    // The deprecated device states are the filter they stand for; an unknown flow warns
    // and is kept (it matches no modelled sign-in).
    let legacy = p[4].device_filter.as_ref().unwrap();
    assert_eq!(legacy.mode, FilterMode::Exclude);
    assert_eq!(
        legacy.rule.text(),
        r#"device.isCompliant -eq True -or device.trustType -eq "ServerAD""#
    );
    assert_eq!(p[4].transfer_methods, ["deviceCodeFlow", "quantumTeleport"]);
    assert_eq!(p[4].unmodelled.len(), 1, "{:?}", p[4].unmodelled);
    assert!(p[4].unmodelled[0].contains("unknown authentication flow \"quantumTeleport\""));
    // Every other policy is read without a warning.
    assert_eq!(lines.len(), 2, "{lines:#?}");
}

#[test]
fn risk_levels_are_read_and_levels_no_sign_in_has_are_reported() {
    let policy = |conditions: &str| {
        format!(
            r#"{{"displayName": "Risk", "state": "enabled",
              "conditions": {{"users": {{"includeUsers": ["All"]}},
                "applications": {{"includeApplications": ["All"]}},
                "clientAppTypes": ["all"], {conditions}}},
              "grantControls": {{"operator": "OR", "builtInControls": ["mfa"]}}}}"#
        )
    };
    let read = graph::parse_graph(
        &policy(
            r#""signInRiskLevels": ["low", "HIGH"], "insiderRiskLevels": ["minor", "moderate"]"#,
        ),
        "p.json",
        &[],
    )
    .unwrap();
    let p = &read.policies[0];
    assert!(read.warnings.is_empty(), "{:?}", read.warnings);
    assert_eq!(p.sign_in_risk_levels, [RiskLevel::Low, RiskLevel::High]);
    assert_eq!(
        p.insider_risk_levels,
        [InsiderRiskLevel::Minor, InsiderRiskLevel::Moderate]
    );
    assert!(p.exclude_platforms.is_empty());
    // `hidden` is no level a sign-in is scored at: reported, and a list of nothing else
    // applies to no sign-in (not to every one, as an empty list would).
    let read =
        graph::parse_graph(&policy(r#""userRiskLevels": ["hidden"]"#), "p.json", &[]).unwrap();
    let p = &read.policies[0];
    assert_eq!(
        read.warnings[0].to_string(),
        "p.json: $.conditions.userRiskLevels[0]: policy \"Risk\": risk level \"hidden\" is not a level hmasim scores a sign-in at: not modelled: it matches no sign-in"
    );
    assert!(p.user_risk_levels.is_empty());
    assert_eq!(p.exclude_platforms, [DevicePlatform::All]);
    // An unknown level is a located warning, never an error for the set.
    let read = graph::parse_graph(
        &policy(r#""signInRiskLevels": ["high", "severe"]"#),
        "p.json",
        &[],
    )
    .unwrap();
    assert_eq!(read.policies[0].sign_in_risk_levels, [RiskLevel::High]);
    assert!(read.warnings[0].to_string().contains(
        "$.conditions.signInRiskLevels[1]: policy \"Risk\": unknown risk level \"severe\""
    ));
    // A wrong type is bad input.
    assert!(graph::parse_graph(&policy(r#""signInRiskLevels": "high""#), "p.json", &[]).is_err());
}
