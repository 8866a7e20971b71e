//! Conditional Access and named-location exports in the shapes admins really produce:
//! Windows PowerShell 5.1 files (UTF-16 LE with a byte-order mark, CRLF, its indentation),
//! Microsoft Graph beta objects with their OData annotations and action entries, Graph
//! Explorer list responses, a `ConvertTo-Json` export cut at its default depth, and values
//! newer than hmasim. Written from the Graph documentation of `conditionalAccessPolicy`
//! and `namedLocation`.

use std::path::PathBuf;
use std::process::Command;

use hmasim::scenario::graph::{read_graph, read_named_locations};

fn real(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/graph/real")
        .join(name)
}

fn hmasim(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_hmasim"))
        .args(args)
        .output()
        .expect("the binary runs")
}

fn temp_dir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("hmasim-graph-real-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[test]
fn windows_powershell_files_read_with_their_annotations_ignored() {
    let named = read_named_locations(&real("named-locations.json")).unwrap();
    let read = read_graph(&real("ps51"), &named.locations).unwrap();
    let names: Vec<&str> = read.policies.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "CA001: Require MFA for all users",
            "CA002: Block legacy authentication",
            "CA003: Require MFA for agent resources",
            "CA004: Block sign-ins from blocked countries",
        ]
    );
    // Metadata is metadata: no warning about @odata keys, the restore action, or the
    // beta fields left empty.
    for w in &read.warnings {
        assert!(
            !w.path.contains("odata")
                && !w.path.contains("#microsoft")
                && !w.path.contains("partialEnablement"),
            "{w}"
        );
    }
    // The one value newer than hmasim degrades its own policy only.
    assert_eq!(read.warnings.len(), 1, "{:?}", read.warnings);
    assert!(read.warnings[0]
        .message
        .starts_with("unknown application \"AllAgentIdResources\""));
    assert_eq!(
        read.warnings[0].policy.as_deref(),
        Some("CA003: Require MFA for agent resources")
    );
    assert!(read.policies[0].unmodelled.is_empty());
    assert!(read.policies[1].unmodelled.is_empty());
    assert!(!read.policies[2].unmodelled.is_empty());
    // The location id resolves through the named-location export.
    assert_eq!(read.policies[3].include_locations, ["Blocked countries"]);
}

#[test]
fn every_encoding_a_windows_tool_writes_reads_the_same() {
    let le = std::fs::read(real("ps51/CA001-Require-MFA-all-users.json")).unwrap();
    assert_eq!(
        &le[..2],
        &[0xFF, 0xFE],
        "the sample is UTF-16 LE with a BOM"
    );
    let text = String::from_utf16(
        &le[2..]
            .chunks_exact(2)
            .map(|c| u16::from_le_bytes([c[0], c[1]]))
            .collect::<Vec<_>>(),
    )
    .unwrap();
    assert!(text.contains("\r\n"), "CRLF as PowerShell writes it");
    let d = temp_dir("enc");
    let mut be = vec![0xFE, 0xFF];
    be.extend(text.encode_utf16().flat_map(u16::to_be_bytes));
    let mut bom8 = vec![0xEF, 0xBB, 0xBF];
    bom8.extend(text.as_bytes());
    let lf = text.replace("\r\n", "\n");
    let variants: [(&str, Vec<u8>); 4] = [
        ("le.json", le.clone()),
        ("be.json", be),
        ("bom8.json", bom8),
        ("lf.json", lf.into_bytes()),
    ];
    let mut first = None;
    for (name, bytes) in variants {
        let p = d.join(name);
        std::fs::write(&p, bytes).unwrap();
        let read = read_graph(&p, &[]).unwrap_or_else(|e| panic!("{name}: {e}"));
        let got = read.policies.clone();
        match &first {
            None => first = Some(got),
            Some(f) => assert_eq!(&got, f, "{name} reads differently"),
        }
    }
    // UTF-16 without its byte-order mark says what it is.
    let p = d.join("nobom.json");
    std::fs::write(&p, &le[2..]).unwrap();
    let e = read_graph(&p, &[]).unwrap_err().to_string();
    assert!(e.contains("UTF-16 without a byte-order mark"), "{e}");
}

#[test]
fn named_locations_read_ip_and_country_locations_and_say_what_is_not_modelled() {
    let read = read_named_locations(&real("named-locations.json")).unwrap();
    let l = &read.locations;
    assert_eq!(l.len(), 4);
    assert_eq!(l[0].name, "Contoso offices");
    assert!(l[0].trusted);
    let ranges: Vec<String> = l[0].ip_ranges.iter().map(|r| r.to_string()).collect();
    assert_eq!(ranges, ["203.0.113.0/24", "2001:db8:1000::/48"]);
    assert_eq!(l[1].countries, ["KP", "IR"]);
    assert!(l[1].unmodelled.is_none());
    // GPS-based countries and compliant networks: kept, matching no sign-in, reported.
    assert!(l[2]
        .unmodelled
        .as_deref()
        .unwrap()
        .contains("authenticatorAppGps"));
    assert!(l[3]
        .unmodelled
        .as_deref()
        .unwrap()
        .contains("compliantNetworkNamedLocation"));
    assert_eq!(read.warnings.len(), 2, "{:?}", read.warnings);
    assert!(!l[3].contains("203.0.113.5".parse().unwrap(), None));
    // A policy that names an unmodelled location is marked not fully evaluated.
    let src = r#"{"displayName": "MFA outside GPS countries", "state": "enabled",
        "conditions": {"users": {"includeUsers": ["All"]},
          "applications": {"includeApplications": ["All"]}, "clientAppTypes": ["all"],
          "locations": {"includeLocations": ["All"],
                        "excludeLocations": ["5e5e5e5e-0000-4e5f-8a9b-222222222222"]}},
        "grantControls": {"operator": "OR", "builtInControls": ["mfa"]}}"#;
    let p = hmasim::scenario::graph::parse_graph(src, "p.json", &read.locations).unwrap();
    assert!(
        p.policies[0].unmodelled[0].contains("GPS countries"),
        "{:?}",
        p.policies[0].unmodelled
    );
}

#[test]
fn a_convertto_json_export_cut_at_its_depth_is_a_warning_naming_depth() {
    let read = read_graph(&real("truncated-depth2.json"), &[]).unwrap();
    assert_eq!(read.warnings.len(), 1);
    let w = &read.warnings[0];
    assert!(w.message.contains("-Depth"), "{w}");
    assert!(w.path.starts_with("$.conditions"), "{w}");
    let p = &read.policies[0];
    assert!(!p.unmodelled.is_empty());
    // It is not evaluated: it covers no user and no app.
    assert!(p.include_users.is_empty() && p.include_applications.is_empty());
}

#[test]
fn a_real_export_drives_run_and_whatif() {
    let named = real("named-locations.json");
    let policies = real("ps51");
    let (n, p) = (named.to_str().unwrap(), policies.to_str().unwrap());
    let o = hmasim(&[
        "run",
        "desktop-exo-ca",
        "--named-locations",
        n,
        "--ca-policies",
        p,
        "--format",
        "json",
    ]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(stderr.contains("AllAgentIdResources"), "{stderr}");
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["outcome"]["mailbox_access"], true);
    assert_eq!(
        v["outcome"]["mfa_satisfied"], true,
        "CA001 requires MFA of everyone"
    );
    // From an address the tenant's geolocation puts in a blocked country: CA004 blocks.
    let o = hmasim(&[
        "whatif",
        "desktop-exo-ca",
        "--named-locations",
        n,
        "--ca-policies",
        p,
        "--app",
        "exchange-online",
        "--client-app",
        "mobileAppsAndDesktopClients",
        "--address",
        "198.51.100.77",
        "--set",
        "network.geo=[{range = \"198.51.100.0/24\", country = \"KP\"}]",
        "--format",
        "json",
    ]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["sign_in"]["country"], "KP");
    assert_eq!(
        v["sign_in"]["locations"],
        serde_json::json!(["Blocked countries"])
    );
    assert_eq!(
        v["result"]["blocked_by"],
        "CA004: Block sign-ins from blocked countries"
    );
    // A named-location file that is not one: located, exit 2, nothing printed.
    let d = temp_dir("bad");
    let bad = d.join("bad.json");
    std::fs::write(
        &bad,
        r##"{"value": [{"@odata.type": "#microsoft.graph.ipNamedLocation", "id": "x", "displayName": "X",
            "ipRanges": [{"cidrAddress": "10.0.0.0/33"}]}]}"##,
    )
    .unwrap();
    let o = hmasim(&[
        "run",
        "desktop-exo-ca",
        "--named-locations",
        bad.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(o.stdout.is_empty());
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(
        e.contains("$.value[0].ipRanges[0].cidrAddress") && e.contains("prefix length"),
        "{e}"
    );
}

fn one(grant: &str, session: &str) -> hmasim::scenario::graph::GraphPolicies {
    let src = format!(
        r#"{{"displayName": "P", "state": "enabled",
        "conditions": {{"users": {{"includeUsers": ["All"]}},
          "applications": {{"includeApplications": ["All"]}}, "clientAppTypes": ["all"]}},
        "grantControls": {grant}, "sessionControls": {session}}}"#
    );
    hmasim::scenario::graph::parse_graph(&src, "p.json", &[]).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn authentication_strengths_are_evaluated_by_their_allowed_combinations() {
    use hmasim::protocol::policy::GrantControl;
    // The built-in multifactor strength, by id (v1.0 exports may leave the combinations
    // out): what hmasim's users do with Entra MFA satisfies it: it is MFA.
    let r = one(
        r#"{"operator": "OR", "builtInControls": [],
            "authenticationStrength": {"id": "00000000-0000-0000-0000-000000000002",
              "displayName": "Multifactor authentication", "policyType": "builtIn"}}"#,
        "null",
    );
    assert_eq!(r.policies[0].grant, [GrantControl::Mfa]);
    assert!(r.policies[0].unmodelled.is_empty() && r.warnings.is_empty());
    // Phishing-resistant: no simulated sign-in holds a FIDO2 key or Windows Hello.
    let r = one(
        r#"{"operator": "OR", "builtInControls": [],
            "authenticationStrength": {"id": "00000000-0000-0000-0000-000000000004",
              "displayName": "Phishing-resistant MFA",
              "allowedCombinations": ["windowsHelloForBusiness", "fido2", "x509CertificateMultiFactor"]}}"#,
        "null",
    );
    assert_eq!(r.policies[0].grant, [GrantControl::Block]);
    assert!(
        r.warnings[0].message.contains("no sign-in satisfies it"),
        "{:?}",
        r.warnings
    );
    // A custom strength that allows a single factor: a password alone satisfies it, so
    // with OR the policy requires nothing, and verify will find the path.
    let r = one(
        r#"{"operator": "OR", "builtInControls": ["mfa"],
            "authenticationStrength": {"id": "a0a0a0a0-0000-4000-8000-000000000001",
              "displayName": "Custom: password or MFA",
              "allowedCombinations": ["password", "password,microsoftAuthenticatorPush"]}}"#,
        "null",
    );
    assert!(r.policies[0].grant.is_empty(), "{:?}", r.policies[0].grant);
    assert!(r.warnings[0]
        .message
        .contains("single-factor combination \"password\""));
    assert!(
        r.policies[0].unmodelled.is_empty(),
        "evaluated, not unmodelled"
    );
    // A custom strength without its combinations cannot be evaluated: marked.
    let r = one(
        r#"{"operator": "OR", "builtInControls": [],
            "authenticationStrength": {"id": "a0a0a0a0-0000-4000-8000-000000000002",
              "displayName": "Custom"}}"#,
        "null",
    );
    assert!(!r.policies[0].unmodelled.is_empty());
}

#[test]
fn session_controls_do_not_decide_single_factor_reachability() {
    let r = one(
        r#"{"operator": "OR", "builtInControls": ["mfa"]}"#,
        r#"{"signInFrequency": {"value": 4, "type": "hours", "isEnabled": true},
            "persistentBrowser": {"mode": "never", "isEnabled": true},
            "continuousAccessEvaluation": null, "applicationEnforcedRestrictions": null}"#,
    );
    assert!(
        r.policies[0].unmodelled.is_empty(),
        "{:?}",
        r.policies[0].unmodelled
    );
    // Sign-in frequency is read (Entra ID enforces it in runs, tests/session.rs); the
    // persistent browser is noted.
    assert_eq!(
        r.policies[0].sign_in_frequency,
        Some(hmasim::protocol::policy::SignInFrequency::Hours(4))
    );
    assert_eq!(r.warnings.len(), 1, "{:?}", r.warnings);
    assert!(r.warnings[0].path.ends_with("persistentBrowser"));
    assert!(r.warnings[0]
        .message
        .contains("no effect on single-factor reachability"));
}

#[test]
fn sign_in_frequency_reads_every_shape_graph_writes() {
    use hmasim::protocol::policy::SignInFrequency;
    let sif = |v: &str| {
        let src = format!(
            r#"{{"displayName": "P", "state": "enabled",
            "conditions": {{"users": {{"includeUsers": ["All"]}},
              "applications": {{"includeApplications": ["All"]}}, "clientAppTypes": ["all"]}},
            "grantControls": null, "sessionControls": {{"signInFrequency": {v}}}}}"#
        );
        hmasim::scenario::graph::parse_graph(&src, "p.json", &[]).map_err(|e| e.to_string())
    };
    let ok = |v: &str| {
        let r = sif(v).unwrap_or_else(|e| panic!("{e}"));
        (r.policies[0].sign_in_frequency, r.warnings)
    };
    let every = r##"{"@odata.type": "#microsoft.graph.signInFrequencySessionControl",
        "value": null, "type": null, "authenticationType": "primaryAndSecondaryAuthentication",
        "frequencyInterval": "everyTime", "isEnabled": true}"##;
    assert_eq!(ok(every).0, Some(SignInFrequency::EveryTime));
    assert!(ok(every).1.is_empty());
    let days = r#"{"value": 7, "type": "days", "authenticationType": "secondaryAuthentication",
        "frequencyInterval": "timeBased", "isEnabled": true}"#;
    assert_eq!(ok(days).0, Some(SignInFrequency::Days(7)));
    // v1.0 exports may leave frequencyInterval out: time-based.
    assert_eq!(
        ok(r#"{"value": 12, "type": "hours", "isEnabled": true}"#).0,
        Some(SignInFrequency::Hours(12))
    );
    assert_eq!(
        ok(r#"{"value": 12, "type": "hours", "isEnabled": false}"#).0,
        None
    );
    assert_eq!(ok("null").0, None);
    // A value newer than hmasim: noted, not enforced, the policy not marked.
    let (f, w) = ok(
        r#"{"value": 1, "type": "hours", "frequencyInterval": "unknownFutureValue", "isEnabled": true}"#,
    );
    assert_eq!(f, None);
    assert!(
        w[0].message.contains("unknown sign-in frequency interval"),
        "{w:?}"
    );
    // Wrong types and out-of-range values are located errors.
    for (v, at, why) in [
        (
            r#"{"value": "4", "type": "hours", "isEnabled": true}"#,
            "$.sessionControls.signInFrequency.value",
            "whole number",
        ),
        (
            r#"{"value": 24, "type": "hours", "isEnabled": true}"#,
            "$.sessionControls.signInFrequency.value",
            "1 to 23 hours",
        ),
        (
            r#"{"type": "days", "isEnabled": true}"#,
            "$.sessionControls.signInFrequency",
            "\"value\"",
        ),
        (
            r#"{"value": 4, "type": "hours", "isEnabled": "yes"}"#,
            "$.sessionControls.signInFrequency.isEnabled",
            "true or false",
        ),
    ] {
        let e = sif(v).unwrap_err();
        assert!(e.contains(at) && e.contains(why), "{v}: {e}");
    }
}

#[test]
fn guests_and_external_users_are_matched_by_their_type() {
    let src = r##"{"displayName": "MFA for everyone but B2B guests", "state": "enabled",
        "conditions": {"users": {"includeUsers": ["All"],
            "excludeGuestsOrExternalUsers": {"guestOrExternalUserTypes": "b2bCollaborationGuest,b2bCollaborationMember",
              "externalTenants": {"@odata.type": "#microsoft.graph.conditionalAccessAllExternalTenants", "membershipKind": "all"}}},
          "applications": {"includeApplications": ["All"]}, "clientAppTypes": ["all"]},
        "grantControls": {"operator": "OR", "builtInControls": ["mfa"]}}"##;
    let read = hmasim::scenario::graph::parse_graph(src, "p.json", &[]).unwrap();
    assert!(read.warnings.is_empty(), "{:?}", read.warnings);
    let mut sc = hmasim::scenario::load("desktop-exo-ca").unwrap();
    sc.conditional_access = read.policies;
    let t = hmasim::sim::run(&sc, false);
    assert!(t.outcome.mfa_satisfied, "a member gets MFA");
    sc.users[0].guest = Some("b2bCollaborationGuest".into());
    let t = hmasim::sim::run(&sc, false);
    assert!(
        t.outcome.mailbox_access && !t.outcome.mfa_satisfied,
        "the excluded guest type reaches the mailbox with a password alone"
    );
    sc.users[0].guest = Some("internalGuest".into());
    assert!(hmasim::sim::run(&sc, false).outcome.mfa_satisfied);
    // An unknown guest type in the scenario is a located error.
    let e = hmasim::scenario::parse(
        "name = \"g\"\nclients = []\n[tenant]\ndomain = \"contoso.com\"\ntenant_id = \"t\"\n[[users]]\nupn = \"a@contoso.com\"\nmailbox = \"online\"\nguest = \"visitor\"\n",
        "g.toml",
        hmasim::scenario::Format::Toml,
    )
    .unwrap_err()
    .to_string();
    assert!(e.starts_with("g.toml:9:"), "{e}");
    assert!(e.contains("not a guest or external user type"), "{e}");
}

#[test]
fn verify_reads_the_exports_too() {
    let named = real("named-locations.json");
    let policies = real("ps51");
    let o = hmasim(&[
        "verify",
        "desktop-exo-ca",
        "--named-locations",
        named.to_str().unwrap(),
        "--ca-policies",
        policies.to_str().unwrap(),
        "--format",
        "json",
    ]);
    assert!(
        matches!(o.status.code(), Some(0 | 1)),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["format"], "hmasim-verify/2");
    // The break-glass exclusion aside (its id names no scenario user), every path of the
    // scenario's user meets CA001's MFA or CA002's block: nothing single-factor. CA003's
    // unknown application keyword could matter only to a path that is otherwise open.
    assert_ne!(
        v["verdict"],
        "not_clean",
        "{}",
        serde_json::to_string_pretty(&v["findings"]).unwrap()
    );
}

/// The policy a file holds, once read, and what the reader said about it.
fn only(name: &str) -> (hmasim::protocol::policy::CaPolicy, Vec<String>) {
    let r = read_graph(&real(name), &[]).unwrap_or_else(|e| panic!("{name}: {e}"));
    assert_eq!(r.policies.len(), 1, "{name}");
    let w = r.warnings.iter().map(ToString::to_string).collect();
    (r.policies[0].clone(), w)
}

#[test]
fn a_v1_object_with_full_odata_metadata_reads_as_the_bare_object() {
    // odata.metadata=full: @odata.type/id/editLink, every property's *@odata.type,
    // navigation and association links, the restore action; none is a policy field.
    let (p, w) = only("v1-full-metadata.json");
    assert!(w.is_empty(), "{w:#?}");
    assert!(p.unmodelled.is_empty(), "{:?}", p.unmodelled);
    // The same text without any annotation reads to the same policy.
    fn strip(v: &mut serde_json::Value) {
        match v {
            serde_json::Value::Object(m) => {
                m.retain(|k, _| !k.contains('@') && !k.starts_with('#'));
                m.values_mut().for_each(strip);
            }
            serde_json::Value::Array(a) => a.iter_mut().for_each(strip),
            _ => {}
        }
    }
    let mut v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(real("v1-full-metadata.json")).unwrap())
            .unwrap();
    strip(&mut v);
    let bare = hmasim::scenario::graph::parse_graph(&v.to_string(), "bare.json", &[]).unwrap();
    assert_eq!(bare.policies[0], p);
    // And what it says is read: guests excluded by type, the trusted-location exclusion,
    // the daily sign-in frequency.
    assert_eq!(
        p.exclude_guests,
        ["b2bCollaborationGuest", "b2bCollaborationMember"]
    );
    assert_eq!(p.exclude_locations, ["AllTrusted"]);
    assert_eq!(
        p.sign_in_frequency,
        Some(hmasim::protocol::policy::SignInFrequency::Days(1))
    );
}

#[test]
fn v1_and_beta_exports_of_one_policy_read_the_same() {
    // Beta adds fields (partialEnablementStrategy, insiderRiskLevels, times, networkAccess,
    // secureSignInSession...) that are empty here: not configured, not reported.
    let (v1, _) = only("v1-full-metadata.json");
    let (beta, w) = only("beta-same-policy.json");
    assert!(w.is_empty(), "{w:#?}");
    assert_eq!(beta, v1);
}

#[test]
fn a_graph_explorer_page_reads_and_says_it_is_one_page_of_several() {
    let r = read_graph(&real("graph-explorer-beta-page.json"), &[]).unwrap();
    let names: Vec<&str> = r.policies.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "CA030: Require MFA for Exchange Online, guests excluded, sign in again daily",
            "CA031: Block legacy authentication"
        ]
    );
    // Graph Explorer's own annotation (@microsoft.graph.tips) is metadata; the next link
    // is the one thing worth saying: the export is incomplete.
    assert_eq!(r.warnings.len(), 1, "{:?}", r.warnings);
    assert!(r.warnings[0].path.contains("@odata.nextLink"));
    assert!(r.warnings[0].message.contains("one page of several"));
    assert_eq!(r.policies[0], only("v1-full-metadata.json").0);
}

#[test]
fn windows_powershell_aligned_indentation_reads_as_its_compact_json() {
    // Windows PowerShell 5.1's ConvertTo-Json aligns nested members past their key and
    // writes an empty array over two lines, in UTF-16 LE with CRLF (the baseline's files).
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/baseline/policies");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    let f = files
        .iter()
        .find(|f| f.to_string_lossy().contains("CA102-"))
        .unwrap();
    let bytes = std::fs::read(f).unwrap();
    let text = String::from_utf16(
        &bytes[2..]
            .chunks_exact(2)
            .map(|c| u16::from_le_bytes([c[0], c[1]]))
            .collect::<Vec<_>>(),
    )
    .unwrap();
    assert!(text.contains("\"userRiskLevels\":  [\r\n\r\n"));
    let compact: serde_json::Value = serde_json::from_str(&text).unwrap();
    let a = read_graph(f, &[]).unwrap();
    let b = hmasim::scenario::graph::parse_graph(&compact.to_string(), "c.json", &[]).unwrap();
    assert_eq!(a.policies, b.policies);
    assert_eq!(
        a.policies[0].sign_in_frequency,
        Some(hmasim::protocol::policy::SignInFrequency::Hours(4))
    );
}
