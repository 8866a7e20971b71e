//! `hmasim whatif`: one sign-in against Conditional Access, as the Entra What If tool
//! answers it, from the command line (text and JSON, exit codes).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

const EXO: &str = "00000002-0000-0ff1-ce00-000000000000";

fn hmasim(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_hmasim"))
        .args(args)
        .output()
        .expect("the binary runs")
}

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/graph")
        .join(name)
}

fn text(args: &[&str]) -> String {
    let mut all = vec!["whatif"];
    all.extend_from_slice(args);
    let o = hmasim(&all);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8(o.stdout).unwrap()
}

fn json(args: &[&str]) -> Value {
    let mut all = args.to_vec();
    all.extend_from_slice(&["--format", "json"]);
    serde_json::from_str(&text(&all)).expect("one JSON object")
}

fn bad(args: &[&str]) -> String {
    let mut all = vec!["whatif"];
    all.extend_from_slice(args);
    let o = hmasim(&all);
    assert_eq!(o.status.code(), Some(2), "{args:?}");
    assert!(o.stdout.is_empty(), "{args:?}: no output on bad input");
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn policy<'a>(v: &'a Value, prefix: &str) -> &'a Value {
    v["policies"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"].as_str().unwrap().starts_with(prefix))
        .unwrap_or_else(|| panic!("no policy {prefix}"))
}

#[test]
fn the_desktop_policy_applies_to_desktop_clients_and_requires_mfa() {
    let out = text(&[
        "desktop-exo-ca",
        "--app",
        "exchange-online",
        "--client-app",
        "mobileAppsAndDesktopClients",
    ]);
    assert_eq!(
        out,
        format!(
            "whatif desktop-exo-ca: test@contoso.com signs in to Exchange Online ({EXO})\n\
             \x20 client app mobileAppsAndDesktopClients, platform unknown, location 198.51.100.20: in no named location (untrusted), device unmanaged\n\
             \n\
             POLICIES (1)\n\
             \x20 applies         Require MFA for desktop clients [enabled]: every condition matches; requires mfa\n\
             \n\
             RESULT: grant with mfa\n\
             OUTCOME: the user is prompted for MFA; access is granted once it is done\n"
        )
    );
    let v = json(&[
        "desktop-exo-ca",
        "--app",
        "exchange-online",
        "--client-app",
        "mobileAppsAndDesktopClients",
    ]);
    assert_eq!(
        v["policies"][0],
        serde_json::json!({
            "name": "Require MFA for desktop clients",
            "state": "enabled",
            "applies": true,
            "enforced": true,
            "reason": "every condition matches",
            "controls": ["mfa"],
            "operator": "AND",
            "unmodelled": [],
        })
    );
    assert_eq!(v["result"]["block"], false);
    assert_eq!(v["result"]["controls"], serde_json::json!(["mfa"]));
    assert_eq!(v["result"]["operator"], "AND");
    assert_eq!(v["outcome"]["verdict"], "mfa");
    assert_eq!(v["warnings"], serde_json::json!([]));
}

#[test]
fn a_browser_is_not_covered_by_the_desktop_policy() {
    let out = text(&[
        "desktop-exo-ca",
        "--app",
        "exchange-online",
        "--client-app",
        "browser",
    ]);
    assert!(out.contains("  does not apply  Require MFA for desktop clients [enabled]: client apps: browser is not selected\n"), "{out}");
    assert!(out.contains("RESULT: no policy applies"), "{out}");
    let v = json(&[
        "desktop-exo-ca",
        "--app",
        "exchange-online",
        "--client-app",
        "browser",
    ]);
    assert_eq!(v["policies"][0]["applies"], false);
    assert_eq!(
        v["policies"][0]["reason"],
        "client apps: browser is not selected"
    );
    assert_eq!(
        v["result"],
        serde_json::json!({
            "block": false,
            "blocked_by": null,
            "controls": [],
            "operator": null,
            "exact": true,
            "requirements": [],
            "summary": "no policy applies: Conditional Access does not restrict this sign-in",
        })
    );
    // web-exo is the other way round.
    let v = json(&[
        "web-exo",
        "--app",
        "exchange-online",
        "--client-app",
        "browser",
    ]);
    assert_eq!(v["result"]["controls"], serde_json::json!(["mfa"]));
}

#[test]
fn the_json_has_the_documented_shape() {
    let v = json(&[
        "mobile-exo",
        "--app",
        "office365",
        "--client-app",
        "mobileAppsAndDesktopClients",
        "--platform",
        "iOS",
        "--approved-client",
    ]);
    let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
    for k in ["policies", "result", "warnings"] {
        assert!(keys.contains(&k), "{keys:?}");
    }
    for p in v["policies"].as_array().unwrap() {
        for k in ["name", "state", "applies", "reason"] {
            assert!(p.get(k).is_some(), "{k} in {p}");
        }
    }
    for k in ["block", "controls", "operator"] {
        assert!(v["result"].get(k).is_some(), "{k}");
    }
    // The Exchange Online policy does not cover "some Office 365 app".
    assert_eq!(v["policies"][0]["applies"], false);
    assert_eq!(
        v["policies"][0]["reason"],
        "applications: Office365 is not included"
    );
    assert_eq!(v["sign_in"]["platform"], "iOS");
    // Outlook mobile against Exchange Online: approved app (it is) and MFA (prompted).
    let v = json(&[
        "mobile-exo",
        "--app",
        EXO,
        "--client-app",
        "mobileAppsAndDesktopClients",
        "--approved-client",
    ]);
    assert_eq!(
        v["result"]["controls"],
        serde_json::json!(["approvedApplication", "mfa"])
    );
    assert_eq!(v["outcome"]["verdict"], "mfa");
    let v = json(&[
        "mobile-exo",
        "--app",
        EXO,
        "--client-app",
        "mobileAppsAndDesktopClients",
    ]);
    assert_eq!(v["outcome"]["verdict"], "unsatisfiable");
}

#[test]
fn report_only_policies_are_listed_but_not_in_the_result() {
    let v = json(&[
        "desktop-exo-ca",
        "--app",
        "exchange-online",
        "--client-app",
        "mobileAppsAndDesktopClients",
        "--set",
        "conditional_access.0.state=enabledForReportingButNotEnforced",
    ]);
    let p = &v["policies"][0];
    assert_eq!(
        (
            p["state"].as_str(),
            p["applies"].as_bool(),
            p["enforced"].as_bool()
        ),
        (
            Some("enabledForReportingButNotEnforced"),
            Some(true),
            Some(false)
        )
    );
    assert_eq!(v["result"]["controls"], serde_json::json!([]));
    assert_eq!(v["result"]["operator"], Value::Null);
    assert_eq!(v["outcome"]["verdict"], "grant");
    // From a Graph export: CA005 is report-only and applies to a Windows sign-in of a pilot
    // user; only CA002 is in the result.
    let tenant = fixture("tenant.toml");
    let args = [
        tenant.to_str().unwrap(),
        "--app",
        "exchange-online",
        "--client-app",
        "mobileAppsAndDesktopClients",
        "--platform",
        "windows",
    ];
    let v = json(&args);
    let ca005 = policy(&v, "CA005");
    assert_eq!(ca005["applies"], true);
    assert_eq!(ca005["state"], "enabledForReportingButNotEnforced");
    assert_eq!(
        v["result"]["requirements"],
        serde_json::json!([{"policy": "CA002: Require MFA for desktop and mobile clients", "controls": ["mfa"], "operator": "OR"}])
    );
    assert_eq!(v["result"]["controls"], serde_json::json!(["mfa"]));
    let out = text(&args);
    assert!(
        out.contains("would require compliantDevice OR domainJoinedDevice (not enforced)"),
        "{out}"
    );
}

#[test]
fn a_block_policy_wins() {
    let tenant = fixture("tenant.toml");
    let v = json(&[
        tenant.to_str().unwrap(),
        "--app",
        "exchange-online",
        "--client-app",
        "exchangeActiveSync",
    ]);
    assert_eq!(v["result"]["block"], true);
    assert_eq!(
        v["result"]["blocked_by"],
        "CA004: Block legacy authentication"
    );
    assert_eq!(v["result"]["controls"], serde_json::json!([]));
    assert_eq!(v["result"]["operator"], Value::Null);
    assert_eq!(v["outcome"]["verdict"], "block");
    assert_eq!(v["sign_in"]["legacy"], true);
    // A block alongside an MFA policy, both applying: block.
    let v = json(&[
        "desktop-exo-ca",
        "--app",
        "exchange-online",
        "--client-app",
        "mobileAppsAndDesktopClients",
        "--set",
        "conditional_access=[{name = \"mfa\", grant = [\"mfa\"]}, {name = \"block\", grant = [\"block\"]}]",
    ]);
    assert_eq!(v["result"]["block"], true);
    assert_eq!(v["result"]["blocked_by"], "block");
    // A legacy client cannot satisfy MFA: the MFA policy blocks it.
    let out = text(&[
        "desktop-exo-ca",
        "--app",
        "exchange-online",
        "--client-app",
        "other",
        "--set",
        "conditional_access.0.client_app_types=[\"all\"]",
    ]);
    assert!(out.contains("RESULT: block: a legacy-authentication client (other) cannot satisfy mfa required by policy 'Require MFA for desktop clients'"), "{out}");
}

#[test]
fn users_locations_platforms_and_roles_decide_who_is_covered() {
    let tenant = fixture("tenant.toml");
    let t = tenant.to_str().unwrap();
    // The first user is the default.
    let v = json(&[t, "--app", "exchange-online", "--client-app", "browser"]);
    assert_eq!(v["sign_in"]["user"], "test@contoso.com");
    assert_eq!(policy(&v, "CA001")["applies"], true);
    // The break-glass group is excluded.
    let v = json(&[
        t,
        "--user",
        "BreakGlass@contoso.com",
        "--app",
        "exchange-online",
        "--client-app",
        "browser",
    ]);
    assert_eq!(
        policy(&v, "CA001")["reason"],
        "users: excluded by group 5b1f3c2e-7a4d-4e8b-9c61-2f0a8d3e4b57"
    );
    // Inside the corporate network (trusted), CA002 is out of scope.
    let args = |loc: &'static str| {
        vec![
            t,
            "--app",
            "exchange-online",
            "--client-app",
            "mobileAppsAndDesktopClients",
            "--location",
            loc,
        ]
    };
    let v = json(&args("internal"));
    assert_eq!(
        policy(&v, "CA002")["reason"],
        "locations: the sign-in comes from a trusted location: 203.0.113.10 (trusted location Contoso HQ, MFA Trusted IPs)"
    );
    // A named location by name (or id): trusted Contoso HQ also exempts administrators.
    let mut a = args("Contoso HQ");
    a.extend(["--role", "62e90394-69f5-4237-9190-012177145e10"]);
    let v = json(&a);
    assert_eq!(v["sign_in"]["address"], "203.0.113.1");
    assert_eq!(
        v["sign_in"]["locations"],
        serde_json::json!(["Contoso HQ", "MFA Trusted IPs"])
    );
    assert_eq!(
        policy(&v, "CA007")["reason"],
        "locations: 203.0.113.1 (trusted location Contoso HQ, MFA Trusted IPs) is excluded"
    );
    let mut a = args("external");
    a.extend(["--role", "62e90394-69f5-4237-9190-012177145e10"]);
    let v = json(&a);
    assert_eq!(policy(&v, "CA007")["applies"], true);
    // Platforms: CA003 covers Outlook on Android and iOS only.
    let mut a = args("external");
    a.extend(["--platform", "android", "--device", "compliant"]);
    let v = json(&a);
    assert_eq!(policy(&v, "CA003")["applies"], true);
    assert_eq!(
        v["result"]["summary"],
        "grant when every policy is satisfied: 'CA002: Require MFA for desktop and mobile clients' (mfa) AND 'CA003: Outlook mobile needs an approved client app or app protection' (approvedApplication OR compliantApplication)"
    );
    assert_eq!(v["result"]["exact"], false);
    let v = json(&args("external"));
    assert_eq!(
        policy(&v, "CA003")["reason"],
        "device platforms: unknown is not included"
    );
}

#[test]
fn ca_policies_replace_the_scenarios_and_their_warnings_are_reported() {
    let v = json(&[
        "desktop-exo-ca",
        "--app",
        "exchange-online",
        "--client-app",
        "mobileAppsAndDesktopClients",
        "--ca-policies",
        fixture("unmodelled.json").to_str().unwrap(),
    ]);
    let names: Vec<&str> = v["policies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "CA020: Risky sign-ins on unmanaged devices need MFA",
            "CA021: Nothing unmodelled here"
        ]
    );
    // (Its sign-in frequency, device filter, authentication flows and risk levels are
    // evaluated, so not among them.)
    assert_eq!(v["warnings"].as_array().unwrap().len(), 7);
    assert_eq!(v["policies"][0]["unmodelled"].as_array().unwrap().len(), 5);
    let out = text(&[
        "desktop-exo-ca",
        "--app",
        "exchange-online",
        "--client-app",
        "mobileAppsAndDesktopClients",
        "--ca-policies",
        fixture("unmodelled.json").to_str().unwrap(),
    ]);
    assert!(
        out.contains("\nWARNINGS (what the policies say that hmasim does not model)\n"),
        "{out}"
    );
    assert!(out.contains("$.value[0].conditions.clientApplications: policy \"CA020: Risky sign-ins on unmanaged devices need MFA\": not modelled"), "{out}");
    // Policies read through the scenario's conditional_access_files carry their warnings.
    let v = json(&[
        fixture("tenant.toml").to_str().unwrap(),
        "--app",
        "exchange-online",
        "--client-app",
        "browser",
        "--ca-policies",
        fixture("dir").to_str().unwrap(),
    ]);
    assert_eq!(v["policies"].as_array().unwrap().len(), 3);
    assert_eq!(v["warnings"], serde_json::json!([]));
}

#[test]
fn every_bundled_scenario_answers_and_output_is_deterministic() {
    for b in hmasim::scenario::BUNDLED {
        for client in [
            "browser",
            "mobileAppsAndDesktopClients",
            "exchangeActiveSync",
            "other",
        ] {
            let args = [b.name, "--app", "exchange-online", "--client-app", client];
            assert_eq!(text(&args), text(&args), "{} {client}", b.name);
        }
    }
}

#[test]
fn bad_input_exits_2_with_one_message() {
    let base = [
        "desktop-exo-ca",
        "--app",
        "exchange-online",
        "--client-app",
        "browser",
    ];
    let with = |extra: &[&str]| {
        let mut a = base.to_vec();
        a.extend_from_slice(extra);
        bad(&a)
    };
    let e = with(&["--user", "nobody@contoso.com"]);
    assert!(
        e.starts_with("error: --user nobody@contoso.com: not a user of the scenario"),
        "{e}"
    );
    assert!(e.contains("one of test@contoso.com"), "{e}");
    let e = with(&["--location", "Paris"]);
    assert!(
        e.starts_with("error: --location Paris: not a location of the scenario"),
        "{e}"
    );
    let e = bad(&[
        "desktop-exo-ca",
        "--app",
        "sharepoint",
        "--client-app",
        "browser",
    ]);
    assert!(
        e.starts_with("error: --app sharepoint: unknown cloud app"),
        "{e}"
    );
    let e = bad(&[
        "desktop-exo-ca",
        "--app",
        "exchange-online",
        "--client-app",
        "desktop",
    ]);
    assert!(
        e.contains("invalid value 'desktop' for '--client-app <TYPE>'"),
        "{e}"
    );
    let e = bad(&["desktop-exo-ca", "--client-app", "browser"]);
    assert!(e.contains("--app <APP>"), "{e}");
    let e = with(&["--platform", "ipados"]);
    assert!(e.contains("invalid value 'ipados'"), "{e}");
    let e = bad(&[
        "desktop-exo-cb",
        "--app",
        "exchange-online",
        "--client-app",
        "browser",
    ]);
    assert!(e.contains("did you mean `desktop-exo-ca`?"), "{e}");
    let f = fixture("bad/missing-displayName.json");
    let e = with(&["--ca-policies", f.to_str().unwrap()]);
    assert!(
        e.starts_with(&format!(
            "error: {}: $[1]: missing required field \"displayName\"",
            f.display()
        )),
        "{e}"
    );
}

#[test]
fn risk_levels_are_what_if_facts() {
    // CA020 requires MFA at high user risk, high or medium sign-in risk, elevated insider
    // risk: with the scenario's users (no risk) it does not apply.
    let base = [
        "desktop-exo-ca",
        "--app",
        "exchange-online",
        "--client-app",
        "mobileAppsAndDesktopClients",
        "--ca-policies",
        "tests/fixtures/graph/unmodelled.json",
    ];
    let v = json(&base);
    assert_eq!(
        policy(&v, "CA020")["reason"],
        "sign-in risk: none is not included"
    );
    assert_eq!(v["sign_in"]["sign_in_risk"], "none");
    let mut args = base.to_vec();
    args.extend([
        "--sign-in-risk",
        "medium",
        "--user-risk",
        "high",
        "--insider-risk",
        "elevated",
    ]);
    let v = json(&args);
    assert_eq!(policy(&v, "CA020")["applies"], true);
    assert_eq!(v["outcome"]["verdict"], "mfa");
    assert_eq!(v["sign_in"]["user_risk"], "high");
    let out = text(&args);
    assert!(
        out.contains(", sign-in risk medium, user risk high, insider risk elevated\n"),
        "{out}"
    );
    // Only the one level short: the policy names the level that is missing.
    let mut one = base.to_vec();
    one.extend(["--sign-in-risk", "high", "--user-risk", "high"]);
    assert_eq!(
        policy(&json(&one), "CA020")["reason"],
        "insider risk: none is not included"
    );
    let mut wrong = base.to_vec();
    wrong.extend(["--user-risk", "severe"]);
    let e = bad(&wrong);
    assert!(
        e.contains("--user-risk severe") && e.contains("none, low, medium or high"),
        "{e}"
    );
}
