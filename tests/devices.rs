//! Devices in Conditional Access (issue 11, item 4): a registered device presents its
//! credential on the wire and Entra ID looks it up in its directory; filters for devices
//! read what Entra found; the password holder can register a device of its own with the
//! Device Registration Service, and verify explores that path where a filter can tell it
//! apart.

use hmasim::protocol::device::{DeviceFilter, FilterMode, Rule, DEVICE_CREDENTIAL_HEADER};
use hmasim::protocol::policy::{GrantControl, REGISTER_DEVICE};
use hmasim::scenario::{self, graph, DeviceState, Scenario};
use hmasim::sim::verify::{
    device_registration_policy_body, path_scenario, verify, Overall, Verdict,
};

fn load(name: &str) -> Scenario {
    scenario::load(name).unwrap_or_else(|e| panic!("{e}"))
}

fn filter(mode: FilterMode, rule: &str) -> Option<DeviceFilter> {
    Some(DeviceFilter {
        mode,
        rule: Rule::parse(rule).unwrap(),
    })
}

fn hmasim(args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_hmasim"))
        .args(args)
        .output()
        .unwrap()
}

/// The device credential travels on the authorize request, and only from a registered
/// device; the device grant controls are satisfied by what Entra finds from it.
#[test]
fn a_registered_device_proves_itself_on_the_wire() {
    let mut sc = load("secure-desktop");
    sc.conditional_access[0].grant = vec![GrantControl::CompliantDevice];
    let authorize_headers = |sc: &Scenario| {
        let t = hmasim::sim::run(sc, true);
        let sent: Vec<bool> = t
            .events
            .iter()
            .filter(|e| {
                e.msg
                    .url
                    .as_ref()
                    .is_some_and(|u| u.path.ends_with("/oauth2/authorize"))
            })
            .map(|e| e.msg.header_value(DEVICE_CREDENTIAL_HEADER).is_some())
            .collect();
        (t, sent)
    };
    // Unmanaged: no credential, so compliantDevice cannot be satisfied.
    let (t, sent) = authorize_headers(&sc);
    assert!(!sent.is_empty() && sent.iter().all(|s| !s), "{sent:?}");
    assert!(!t.outcome.mailbox_access);
    assert_eq!(
        t.outcome.failure.as_ref().map(|f| f.code.as_str()),
        Some("device_not_compliant")
    );
    // Compliant: the credential is sent, Entra finds a compliant device.
    sc.clients[0].device = DeviceState::Compliant;
    let (t, sent) = authorize_headers(&sc);
    assert!(sent.iter().all(|s| *s), "{sent:?}");
    assert!(t.outcome.mailbox_access, "{:?}", t.outcome.failure);
    // A device the scenario declares with its attributes: registered, not compliant.
    let mut record = hmasim::protocol::device::DeviceRecord::new(
        "aaaaaaaa-0000-1111-2222-bbbbbbbbbbbb",
        hmasim::protocol::device::TrustType::Workplace,
    );
    record.operating_system = Some("Windows".into());
    record.extension_attributes.insert("1".into(), "SAW".into());
    sc.clients[0].device = DeviceState::Registered(Box::new(record));
    let (t, sent) = authorize_headers(&sc);
    assert!(sent.iter().all(|s| *s));
    assert!(
        !t.outcome.mailbox_access,
        "a Workplace device is not compliant"
    );
    // The filter reads it: the SAW attribute is null on an unmanaged, non-compliant
    // device, so a policy that exempts SAW devices still applies.
    sc.conditional_access[0].grant = vec![GrantControl::Block];
    sc.conditional_access[0].device_filter = filter(
        FilterMode::Exclude,
        r#"device.extensionAttribute1 -eq "SAW""#,
    );
    assert!(!hmasim::sim::run(&sc, false).outcome.mailbox_access);
    sc.conditional_access[0].device_filter = filter(
        FilterMode::Exclude,
        r#"device.operatingSystem -eq "Windows""#,
    );
    assert!(hmasim::sim::run(&sc, false).outcome.mailbox_access);
}

#[test]
fn scenario_devices_are_validated_with_located_errors() {
    let base = std::fs::read_to_string("scenarios/secure-desktop.toml").unwrap();
    let with = |device: &str| {
        base.replace(
            "location = \"external\"\n",
            &format!("location = \"external\"\ndevice = {device}\n"),
        )
    };
    let ok = scenario::parse(
        &with(
            r#"{ id = "aaaaaaaa-0000-1111-2222-bbbbbbbbbbbb", trust_type = "AzureAD", is_compliant = true }"#,
        ),
        "t.toml",
        scenario::Format::Toml,
    );
    assert!(ok.is_ok(), "{}", ok.unwrap_err());
    for (device, want) in [
        (
            r#"{ id = "laptop-1", trust_type = "AzureAD" }"#,
            "is not a GUID",
        ),
        (
            r#"{ id = "aaaaaaaa-0000-1111-2222-bbbbbbbbbbbb", trust_type = "AzureAD", extension_attributes = { 16 = "x" } }"#,
            "from 1 to 15",
        ),
        (
            r#"{ id = "aaaaaaaa-0000-1111-2222-bbbbbbbbbbbb", trust_type = "Joined" }"#,
            "unknown variant `Joined`",
        ),
        (
            r#"{ id = "aaaaaaaa-0000-1111-2222-bbbbbbbbbbbb", trust_type = "AzureAD", colour = "red" }"#,
            "unknown field `colour`",
        ),
        (r#""managed""#, "unknown variant `managed`"),
    ] {
        let e = scenario::parse(&with(device), "t.toml", scenario::Format::Toml)
            .expect_err(device)
            .to_string();
        assert!(e.contains(want), "{device}: {e}");
        assert!(e.starts_with("t.toml:"), "{e}");
    }
    // A policy's filter in a scenario is hmasim's own format: a rule that does not parse
    // is an error there, located on its line (a Graph export only warns).
    let bad_rule = base.replace(
        "grant = [\"mfa\"]\n",
        "grant = [\"mfa\"]\ndevice_filter = { mode = \"exclude\", rule = \"device.colour -eq 'red'\" }\n",
    );
    let e = scenario::parse(&bad_rule, "t.toml", scenario::Format::Toml)
        .expect_err("a bad rule")
        .to_string();
    assert!(
        e.contains("unknown device attribute \"colour\"") && e.starts_with("t.toml:"),
        "{e}"
    );
}

/// "MFA except on registered devices": the password holder cannot use the user's device,
/// but it can register one of its own, and that registration is what opens the path. A
/// policy requiring MFA for the user action `urn:user:registerdevice` closes it.
#[test]
fn a_filter_that_exempts_registered_devices_opens_a_path_through_device_registration() {
    let mut sc = load("secure-desktop");
    // Without any filter, registration is never explored (nothing can tell it apart).
    let v = verify(&sc);
    assert_eq!(v.verdict(), Overall::Clean);
    assert!(v.paths.iter().all(|p| !p.path.signals.registers_device));
    let explored_before = v.paths.len();

    sc.conditional_access[0].device_filter = filter(
        FilterMode::Exclude,
        r#"device.trustType -eq "AzureAD" -or device.trustType -eq "Workplace""#,
    );
    let v = verify(&sc);
    assert_eq!(v.verdict(), Overall::NotClean);
    assert!(v.paths.len() > explored_before);
    // Every counterexample is a registration path, and its twin without the
    // registration is closed.
    assert!(!v.counterexamples.is_empty());
    for c in &v.counterexamples {
        assert!(c.path.signals.registers_device, "{:?}", c.path);
        assert_eq!(c.verdict, Verdict::MailboxWithoutMfa);
        assert!(c.control.contains(REGISTER_DEVICE), "{}", c.control);
        assert!(
            c.command.contains("urn:user:registerdevice"),
            "{}",
            c.command
        );
        // The trace shows the registration on the wire, then the credential.
        assert!(c.trace.events.iter().any(|e| e
            .msg
            .url
            .as_ref()
            .is_some_and(|u| u.host == "enterpriseregistration.windows.net")));
        assert!(c
            .trace
            .events
            .iter()
            .any(|e| e.msg.header_value(DEVICE_CREDENTIAL_HEADER).is_some()));
        let twin = v
            .paths
            .iter()
            .find(|p| {
                p.epoch == c.epoch
                    && !p.path.signals.registers_device
                    && p.path.key() == hmasim::sim::verify::twin_key(&c.path)
            })
            .expect("the twin is explored");
        assert!(!twin.verdict.single_factor(), "{:?}", twin.path);
        // It replays as a plain scenario with the same verdict.
        let t = hmasim::sim::run(&path_scenario(&sc, &c.path, c.epoch), false);
        assert!(t.outcome.data_without_mfa, "{:?}", c.path);
    }
    // The report groups them under one control: the device registration guard.
    let fixes: Vec<_> = v
        .counterexamples
        .iter()
        .map(|c| hmasim::sim::findings::fix_for_counterexample(&sc, c).change)
        .collect();
    assert!(fixes.iter().all(|f| matches!(
        f,
        hmasim::sim::findings::Change::DeviceRegistrationGuard { .. }
    )));
    // The printed body, read back through the Graph reader, is the change; applied, it
    // closes every such path.
    let fix = graph::parse_graph(&device_registration_policy_body(), "fix.json", &[]).unwrap();
    assert!(fix.warnings.is_empty());
    assert_eq!(fix.policies[0].include_user_actions, [REGISTER_DEVICE]);
    let mut via_change = sc.clone();
    fixes[0].apply(&mut via_change);
    assert_eq!(via_change.conditional_access.last(), fix.policies.first());
    sc.conditional_access.extend(fix.policies);
    let v = verify(&sc);
    assert_eq!(
        v.verdict(),
        Overall::Clean,
        "{:#?}",
        v.counterexamples
            .iter()
            .map(|c| &c.path)
            .collect::<Vec<_>>()
    );
    assert!(v
        .paths
        .iter()
        .filter(|p| p.path.signals.registers_device)
        .all(|p| p.verdict == Verdict::NoAccess));
}

#[test]
fn whatif_reads_the_device_and_the_registration_user_action() {
    let dir = std::env::temp_dir().join(format!("hmasim-devices-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("p.json");
    std::fs::write(
        &file,
        r#"[{"displayName": "MFA except on registered devices", "state": "enabled",
            "conditions": {"clientAppTypes": ["all"], "applications": {"includeApplications": ["All"]},
              "users": {"includeUsers": ["All"]},
              "devices": {"deviceFilter": {"mode": "exclude", "rule": "device.trustType -eq \"AzureAD\" -or device.trustType -eq \"Workplace\""}}},
            "grantControls": {"operator": "OR", "builtInControls": ["mfa"]}},
           {"displayName": "Register devices with MFA", "state": "enabled",
            "conditions": {"clientAppTypes": ["all"], "applications": {"includeUserActions": ["urn:user:registerdevice"]},
              "users": {"includeUsers": ["All"]}},
            "grantControls": {"operator": "OR", "builtInControls": ["mfa"]}}]"#,
    )
    .unwrap();
    let run = |extra: &[&str]| {
        let mut a = vec![
            "whatif",
            "secure-desktop",
            "--client-app",
            "mobileAppsAndDesktopClients",
            "--ca-policies",
            file.to_str().unwrap(),
            "--format",
            "json",
        ];
        a.extend_from_slice(extra);
        let o = hmasim(&a);
        assert_eq!(
            o.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&o.stderr)
        );
        assert!(
            o.stderr.is_empty(),
            "{}",
            String::from_utf8_lossy(&o.stderr)
        );
        serde_json::from_slice::<serde_json::Value>(&o.stdout).unwrap()
    };
    let outcome =
        |v: &serde_json::Value| v["outcome"]["verdict"].as_str().unwrap_or("").to_string();
    let v = run(&["--app", "exchange-online"]);
    assert_eq!(outcome(&v), "mfa", "{v}");
    let v = run(&["--app", "exchange-online", "--device", "registered"]);
    assert_eq!(outcome(&v), "grant", "{v}");
    let v = run(&["--app", "exchange-online", "--device", "domain-joined"]);
    assert_eq!(outcome(&v), "mfa", "ServerAD is not in the exemption: {v}");
    // The registration itself is the user action; the app policy does not apply to it.
    let v = run(&["--app", "urn:user:registerdevice"]);
    assert_eq!(outcome(&v), "mfa", "{v}");
    let o = hmasim(&[
        "whatif",
        "secure-desktop",
        "--client-app",
        "browser",
        "--app",
        "exchange-online",
        "--device-id",
        "aaaaaaaa-0000-1111-2222-bbbbbbbbbbbb",
    ]);
    assert_eq!(o.status.code(), Some(2));
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(
        e.contains("--device-id") && e.contains("not a registered device"),
        "{e}"
    );
    std::fs::remove_dir_all(&dir).ok();
}

/// "MFA on Windows devices" written with a positive operator in include mode: a device
/// without a registration has every attribute null, so the filter never matches the
/// password holder's sign-in and the policy does not apply. The fix patches the filter
/// away, and the patched tenant verifies clean.
#[test]
fn an_include_filter_with_a_positive_operator_leaves_the_unregistered_device_out() {
    let mut sc = load("secure-desktop");
    sc.conditional_access[0].device_filter = filter(
        FilterMode::Include,
        r#"device.operatingSystem -eq "Windows""#,
    );
    let v = verify(&sc);
    assert_eq!(v.verdict(), Overall::NotClean);
    let c = v
        .counterexamples
        .iter()
        .find(|c| c.path.location.as_str() == "external" && !c.path.signals.registers_device)
        .expect("the unregistered sign-in gets in");
    assert!(
        c.control.contains("filter for devices") && c.command.contains("\"deviceFilter\":null"),
        "{}\n{}",
        c.control,
        c.command
    );
    // A device the password holder registers reports the operating system of its
    // User-Agent: reporting Windows, the filter matches it, the policy applies, and that
    // path is closed; reporting macOS, it stays open (as its twin without the
    // registration is, so it is not a registration finding).
    let registering = |platform: &str| {
        v.paths
            .iter()
            .filter(|p| {
                p.path.signals.registers_device
                    && p.path.location.as_str() == "external"
                    && p.path.signals.platform == platform
            })
            .map(|p| p.verdict.single_factor())
            .collect::<Vec<_>>()
    };
    let windows = registering("windows");
    assert!(!windows.is_empty() && windows.iter().all(|open| !open));
    let mac = registering("macOS");
    assert!(!mac.is_empty() && mac.iter().all(|open| *open));
    assert!(v
        .counterexamples
        .iter()
        .filter(|c| c.path.location.as_str() == "external")
        .all(|c| !c.path.signals.registers_device));
    let fix = hmasim::sim::findings::fix_for_counterexample(&sc, c);
    fix.change.apply(&mut sc);
    assert_eq!(sc.conditional_access[0].device_filter, None);
    assert_eq!(verify(&sc).verdict(), Overall::Clean);
}

/// A naming convention is no device identity: the registering client reports the display
/// name it likes, so verify tries every string a filter compares `displayName` with.
#[test]
fn a_display_name_exemption_is_met_by_a_device_the_password_holder_names() {
    let mut sc = load("secure-desktop");
    sc.conditional_access[0].device_filter = filter(
        FilterMode::Exclude,
        r#"device.displayName -startsWith "CONTOSO-LT-""#,
    );
    let v = verify(&sc);
    assert_eq!(v.verdict(), Overall::NotClean);
    assert!(!v.counterexamples.is_empty());
    for c in &v.counterexamples {
        assert!(c.path.signals.registers_device);
        assert_eq!(c.path.signals.device_name.as_deref(), Some("CONTOSO-LT-"));
        let t = hmasim::sim::run(&path_scenario(&sc, &c.path, c.epoch), false);
        assert!(t.outcome.data_without_mfa, "{:?}", c.path);
    }
    // The default name does not match: that registration is closed.
    assert!(v
        .paths
        .iter()
        .filter(|p| p.path.signals.registers_device && p.path.signals.device_name.is_none())
        .all(|p| !p.verdict.single_factor()));
}
