//! Every admin command hmasim prints (a diagnosis's fix, a scenario's documented fix, the
//! command verify gives for each control) is complete and runnable as printed: each cmdlet
//! is one hmasim knows the required parameters of, and has them; no placeholder stands in
//! for a value; a Microsoft Graph request carries its body as JSON that hmasim's own Graph
//! reader reads back as the policy the control describes.

use hmasim::protocol::policy::{ClientAppType, GrantControl};
use hmasim::scenario::{self, Scenario};
use hmasim::sim::{self, verify::verify};

fn load(name: &str, sets: &[&str]) -> Scenario {
    let mut sc = scenario::load(name).unwrap_or_else(|e| panic!("{e}"));
    for s in sets {
        scenario::apply_set(&mut sc, s).unwrap_or_else(|e| panic!("{s}: {e}"));
    }
    sc
}

/// The commands between backticks in a sentence (how diagnoses and fixes quote them).
fn quoted(text: &str) -> Vec<String> {
    text.split('`')
        .enumerate()
        .filter(|(i, _)| i % 2 == 1)
        .map(|(_, c)| c.to_string())
        .collect()
}

/// Splits a command line on `;` outside quotes.
fn statements(line: &str) -> Vec<String> {
    let (mut out, mut cur, mut quote) = (Vec::new(), String::new(), None::<char>);
    for c in line.chars() {
        match (c, quote) {
            ('"' | '\'', None) => {
                quote = Some(c);
                cur.push(c);
            }
            (q, Some(open)) if q == open => {
                quote = None;
                cur.push(c);
            }
            (';', None) => out.push(std::mem::take(&mut cur)),
            _ => cur.push(c),
        }
    }
    assert!(quote.is_none(), "unbalanced quotes in {line:?}");
    out.push(cur);
    out.into_iter()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect()
}

/// Words of a statement, quotes kept together (and stripped).
fn words(stmt: &str) -> Vec<String> {
    let (mut out, mut cur, mut quote) = (Vec::new(), String::new(), None::<char>);
    for c in stmt.chars() {
        match (c, quote) {
            ('"' | '\'', None) => quote = Some(c),
            (q, Some(open)) if q == open => quote = None,
            (' ', None) => {
                if !cur.is_empty() {
                    out.push(std::mem::take(&mut cur));
                }
            }
            _ => cur.push(c),
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

fn value_of<'a>(w: &'a [String], param: &str) -> Option<&'a str> {
    w.iter()
        .position(|x| x.eq_ignore_ascii_case(param))
        .and_then(|i| w.get(i + 1))
        .map(String::as_str)
}

/// Checks one command; returns the cmdlets it ran.
fn check(line: &str) -> Vec<String> {
    assert!(
        !line.contains('<') && !line.contains("..."),
        "placeholder in {line:?}"
    );
    let mut cmdlets = Vec::new();
    for stmt in statements(line) {
        // `Get-X ... | fl Property` is a read: check the part before the pipe.
        let head = stmt.split(" | ").next().unwrap_or(&stmt).to_string();
        let mut w = words(&head);
        // `$var = Cmdlet ...` assigns a cmdlet's result: check the cmdlet; the variable must
        // be one a later statement uses.
        if w.len() > 2 && w[0].starts_with('$') && w[1] == "=" {
            let var = w[0].clone();
            assert!(
                line[line.find(&stmt).unwrap() + stmt.len()..].contains(&format!("{var}.")),
                "{stmt}: {var} is assigned and never used"
            );
            w.drain(..2);
        }
        let name = w[0].clone();
        let has = |p: &str| w.iter().any(|x| x.eq_ignore_ascii_case(p));
        let positional = w.get(1).is_some_and(|x| !x.starts_with('-'));
        let required: &[&str] = match name.as_str() {
            "Set-AuthServer" | "Get-AuthServer" => {
                assert!(positional || has("-Identity"), "{stmt}: no identity");
                &[]
            }
            "Set-EcpVirtualDirectory"
            | "Set-OwaVirtualDirectory"
            | "Set-ActiveSyncVirtualDirectory"
            | "New-MoveRequest" => &["-Identity"],
            "New-AuthenticationPolicy" => &["-Name"],
            // Exchange Online: -AllowBasicAuth<Protocol>:$false; on-premises: the
            // -BlockLegacyAuth<Protocol> switches. Either way at least one flag, all known.
            "Set-AuthenticationPolicy" => {
                assert!(positional || has("-Identity"), "{stmt}: no identity");
                let flags: Vec<&String> = w
                    .iter()
                    .filter(|x| {
                        x.starts_with("-AllowBasicAuth") || x.starts_with("-BlockLegacyAuth")
                    })
                    .collect();
                assert!(!flags.is_empty(), "{stmt}: changes nothing");
                for f in flags {
                    let (name, value) = f.split_once(':').unwrap_or((f, ""));
                    assert!(
                        AUTH_POLICY_FLAGS.contains(&name),
                        "{stmt}: unknown parameter {name}"
                    );
                    if name.starts_with("-AllowBasicAuth") {
                        assert!(
                            value == "$false" || value == "$true",
                            "{stmt}: {f} has no value"
                        );
                    } else {
                        assert!(value.is_empty() || value == "$true", "{stmt}: {f}");
                    }
                }
                &["-Identity"]
            }
            "Get-MgIdentityConditionalAccessPolicy" => &["-Filter"],
            "Set-OrganizationConfig" => &["-DefaultAuthenticationPolicy"],
            "Set-ActiveSyncOrganizationSettings" => &["-DefaultAccessLevel"],
            "New-ActiveSyncDeviceAccessRule" => {
                &["-Characteristic", "-QueryString", "-AccessLevel"]
            }
            "Set-AdfsRelyingPartyTrust" => &["-TargetIdentifier", "-AccessControlPolicyName"],
            "Invoke-MgGraphRequest" => &["-Method", "-Uri", "-Body"],
            "w32tm" => &["/resync"],
            other => panic!("{other}: a command hmasim does not know how to check ({line:?})"),
        };
        for p in required {
            assert!(has(p), "{stmt}: {p} missing");
            if p.starts_with('-') && *p != "-BlockLegacyAuthImap" {
                let v = value_of(&w, p).unwrap_or("");
                assert!(
                    !v.is_empty() && !v.starts_with('-'),
                    "{stmt}: {p} has no value"
                );
            }
        }
        // Switch parameters that take $true/$false are written with a value.
        for (i, x) in w.iter().enumerate() {
            if x.ends_with("Authentication") && x.starts_with('-') {
                let v = w.get(i + 1).map(String::as_str).unwrap_or("");
                assert!(v == "$true" || v == "$false", "{stmt}: {x} {v}");
            }
        }
        if name == "New-AuthenticationPolicy" {
            for f in w
                .iter()
                .filter(|x| x.starts_with("-Block") || x.starts_with("-Allow"))
            {
                let name = f.split(':').next().unwrap_or(f);
                assert!(
                    AUTH_POLICY_FLAGS.contains(&name),
                    "{stmt}: unknown parameter {name}"
                );
            }
        }
        if name == "Invoke-MgGraphRequest" {
            let uri = value_of(&w, "-Uri").unwrap();
            assert!(
                uri.starts_with("https://graph.microsoft.com/v1.0/"),
                "{uri}"
            );
            let method = value_of(&w, "-Method").unwrap();
            let body = value_of(&w, "-Body").unwrap();
            let json: serde_json::Value =
                serde_json::from_str(body).unwrap_or_else(|e| panic!("{body}: {e}"));
            if method == "PATCH" {
                let (_, id) = uri
                    .rsplit_once("/identity/conditionalAccess/policies/")
                    .unwrap_or_else(|| panic!("{stmt}: PATCH of what? {uri}"));
                assert!(
                    id == "$($policy.Id)" || (id.len() == 36 && !id.contains('/')),
                    "{stmt}: the policy id {id}"
                );
                let o = json.as_object().unwrap_or_else(|| panic!("{body}"));
                assert!(!o.is_empty(), "{stmt}: an empty PATCH");
                for k in o.keys() {
                    assert!(
                        ["conditions", "state", "grantControls"].contains(&k.as_str()),
                        "{stmt}: {k}"
                    );
                }
            }
            if uri.ends_with("/identity/conditionalAccess/policies") {
                let read = scenario::graph::parse_graph(body, "command", &[]).unwrap();
                assert!(read.warnings.is_empty(), "{:?}", read.warnings);
                let p = &read.policies[0];
                if p.include_user_actions.is_empty() {
                    assert!(p.grant.contains(&GrantControl::Mfa), "{json}");
                    assert!(
                        p.include_applications
                            .iter()
                            .any(|a| a == hmasim::protocol::apps::EXCHANGE_ONLINE),
                        "{json}"
                    );
                } else {
                    // The registration guard: a user action, blocked outside trusted
                    // locations.
                    assert_eq!(
                        p.include_user_actions,
                        [hmasim::protocol::policy::REGISTER_SECURITY_INFO],
                        "{json}"
                    );
                    assert!(p.grant.contains(&GrantControl::Block), "{json}");
                    assert_eq!(p.exclude_locations, ["AllTrusted"], "{json}");
                }
            }
        }
        cmdlets.push(name);
    }
    cmdlets
}

/// The parameters of `New-AuthenticationPolicy` / `Set-AuthenticationPolicy` hmasim
/// prints (Exchange Online's `-AllowBasicAuth*`, Exchange Server's `-BlockLegacyAuth*`).
const AUTH_POLICY_FLAGS: [&str; 17] = [
    "-AllowBasicAuthActiveSync",
    "-AllowBasicAuthAutodiscover",
    "-AllowBasicAuthMapi",
    "-AllowBasicAuthWebServices",
    "-AllowBasicAuthOfflineAddressBook",
    "-AllowBasicAuthRpc",
    "-AllowBasicAuthImap",
    "-AllowBasicAuthPop",
    "-AllowBasicAuthOutlookService",
    "-BlockLegacyAuthActiveSync",
    "-BlockLegacyAuthAutodiscover",
    "-BlockLegacyAuthMapi",
    "-BlockLegacyAuthWebServices",
    "-BlockLegacyAuthOfflineAddressBook",
    "-BlockLegacyAuthRpc",
    "-BlockLegacyAuthImap",
    "-BlockLegacyAuthPop",
];

fn verify_commands(sc: &Scenario) -> Vec<String> {
    verify(sc)
        .counterexamples
        .iter()
        .map(|c| c.command.clone())
        .collect()
}

#[test]
fn every_printed_admin_command_is_complete() {
    let mut commands: Vec<String> = Vec::new();
    // Diagnoses and documented fixes of every bundled scenario.
    for b in scenario::BUNDLED {
        let sc = load(b.name, &[]);
        if let Some(fix) = &sc.fix {
            commands.extend(quoted(&fix.summary));
        }
        let t = sim::run(&sc, false);
        if let Some(d) = &t.outcome.diagnosis {
            commands.extend(quoted(&d.fix));
        }
    }
    // Verify's commands, on configurations that leave each kind of path open.
    for (name, sets) in [
        ("web-exo", &[][..]),
        ("web-onprem-internal", &["onprem.owa_adfs_claims=false"][..]),
        (
            "web-onprem-external",
            &["adfs.owa_policy=permit-everyone"][..],
        ),
        ("desktop-onprem-ca", &[][..]),
        ("mobile-onprem-hma", &[][..]),
        // A per-user Exchange Online policy re-enabling Basic ActiveSync.
        (
            "secure-hybrid",
            &[
                "conditional_access.2.state=disabled",
                "exchange_online.authentication_policies=[{name = \"Block Basic\"}, {name = \"Sales EAS\", allow_basic_auth_activesync = true}]",
                "users.0.authentication_policy=Sales EAS",
            ][..],
        ),
        // An on-premises per-user policy that blocks too little.
        (
            "secure-hybrid",
            &[
                "onprem.authentication_policies=[{name = \"Block Legacy\"}, {name = \"Old clients\"}]",
                "users.1.onprem_authentication_policy=Old clients",
            ][..],
        ),
        // A report-only MFA policy (looked up by name), a platform-scoped one (by id).
        (
            "secure-hybrid",
            &["conditional_access.1.state=enabledForReportingButNotEnforced"][..],
        ),
        // An unregistered user: the registration guard, and a Temporary Access Pass.
        ("secure-hybrid", &["users.0.mfa_registered=false"][..]),
        (
            "secure-hybrid",
            &[
                "conditional_access.1.include_platforms=[\"iOS\"]",
                "conditional_access.1.id=\"8c7e4a0e-2b1f-4f2a-9d3e-1a2b3c4d5e6f\"",
            ][..],
        ),
    ] {
        commands.extend(verify_commands(&load(name, sets)));
    }
    commands.sort();
    commands.dedup();
    let mut seen: Vec<String> = commands.iter().flat_map(|c| check(c)).collect();
    seen.sort();
    seen.dedup();
    // The check must see every kind of command hmasim prints, or it proves nothing.
    for expected in [
        "Get-MgIdentityConditionalAccessPolicy",
        "Invoke-MgGraphRequest",
        "Set-AuthenticationPolicy",
        // (No New-ActiveSyncDeviceAccessRule: a device access rule matches strings the
        // client writes, so verify never offers one as the control that closes a path.)
        "New-AuthenticationPolicy",
        "New-MoveRequest",
        "Set-ActiveSyncVirtualDirectory",
        "Set-AdfsRelyingPartyTrust",
        "Set-AuthServer",
        "Set-EcpVirtualDirectory",
        "Set-OrganizationConfig",
        "Set-OwaVirtualDirectory",
    ] {
        assert!(
            seen.iter().any(|s| s == expected),
            "no printed command uses {expected}: {seen:?}"
        );
    }
}

#[test]
fn the_ecp_virtual_directory_is_set_beside_owa() {
    let cmds = verify_commands(&load(
        "web-onprem-internal",
        &["onprem.owa_adfs_claims=false"],
    ));
    let owa = cmds
        .iter()
        .find(|c| c.contains("Set-OwaVirtualDirectory"))
        .expect("a path closed by AD FS claims for OWA");
    assert!(owa.contains("Set-EcpVirtualDirectory"), "{owa}");
    // ECP first: OWA sends administrators there.
    assert!(owa.find("Set-Ecp") < owa.find("Set-Owa"), "{owa}");
}

#[test]
fn the_graph_body_of_a_ca_command_closes_the_path_it_is_printed_for() {
    // A tenant without Conditional Access: Outlook desktop reaches Exchange Online with a
    // password alone. Verify's command for that path, read back with --ca-policies' reader,
    // closes the modern path.
    let mut sc = load("desktop-exo-ca", &[]);
    sc.conditional_access.clear();
    let v = verify(&sc);
    let cmd = v
        .counterexamples
        .iter()
        .find(|c| c.path.method.as_str() == "modern")
        .map(|c| c.command.clone())
        .expect("the modern path is open without a policy");
    let w = words(&statements(&cmd)[0]);
    let body = value_of(&w, "-Body").unwrap();
    let read = scenario::graph::parse_graph(body, "command", &[]).unwrap();
    assert_eq!(
        read.policies[0].client_app_types,
        vec![ClientAppType::MobileAppsAndDesktopClients]
    );
    let mut fixed = sc.clone();
    fixed.conditional_access = read.policies;
    let after = verify(&fixed);
    assert!(
        !after
            .counterexamples
            .iter()
            .any(|c| c.path.method.as_str() == "modern"),
        "the policy the command creates leaves the modern path open"
    );
}

#[test]
fn the_checker_refuses_incomplete_commands() {
    for bad in [
        "Set-OwaVirtualDirectory -AdfsAuthentication $true",
        "Set-ActiveSyncVirtualDirectory -ExternalUrl https://mail.contoso.com/Microsoft-Server-ActiveSync",
        "New-MoveRequest",
        "New-MgIdentityConditionalAccessPolicy (applications: x; grantControls: mfa)",
        "Invoke-MgGraphRequest -Method POST -Uri https://graph.microsoft.com/v1.0/identity/conditionalAccess/policies -Body 'applications: x'",
        "Set-OwaVirtualDirectory -Identity \"owa (Default Web Site)\" -AdfsAuthentication",
        "Set-AuthenticationPolicy -AllowBasicAuthActiveSync:$false",
        "Set-AuthenticationPolicy -Identity \"Sales EAS\"",
        "Set-AuthenticationPolicy -Identity \"Sales EAS\" -AllowBasicAuthActiveSync",
        "Set-AuthenticationPolicy -Identity \"Sales EAS\" -AllowBasicAuthEverything:$false",
        "New-AuthenticationPolicy -Name \"Block\" -BlockLegacyAuthFax",
        "$policy = Get-MgIdentityConditionalAccessPolicy -Filter \"displayName eq 'x'\"",
        "Invoke-MgGraphRequest -Method PATCH -Uri https://graph.microsoft.com/v1.0/identity/conditionalAccess/policies/x -Body '{\"state\":\"enabled\"}'",
        "Invoke-MgGraphRequest -Method PATCH -Uri https://graph.microsoft.com/v1.0/identity/conditionalAccess/policies/8c7e4a0e-2b1f-4f2a-9d3e-1a2b3c4d5e6f -Body '{}'",
    ] {
        let r = std::panic::catch_unwind(|| check(bad));
        assert!(r.is_err(), "accepted: {bad}");
    }
}
