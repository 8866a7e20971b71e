//! The nine documented flows, in the three identity models: outcomes, step order and the
//! facts of flows.md, all read from the messages the parties exchanged.

use hmasim::protocol::headers;
use hmasim::protocol::jwt;
use hmasim::protocol::{FlowId, Kind};
use hmasim::scenario::{self, Scenario};
use hmasim::sim::{self, Trace};

const MODELS: [&str; 3] = ["federated", "phs", "pta"];

fn scenario(name: &str, sets: &[&str]) -> Scenario {
    let mut sc = scenario::load(name).unwrap_or_else(|e| panic!("{e}"));
    for s in sets {
        scenario::apply_set(&mut sc, s).unwrap_or_else(|e| panic!("{e}"));
    }
    sc
}

/// The bundled scenarios of the nine documented flows (named after them).
fn flows() -> impl Iterator<Item = &'static scenario::Bundled> {
    scenario::BUNDLED
        .iter()
        .filter(|b| FlowId::from_name(b.name).is_some())
}

fn run(name: &str, sets: &[&str]) -> Trace {
    sim::run(&scenario(name, sets), true)
}

/// The AD FS-MFA flows lose their MFA when the domain is no longer federated.
fn mfa_expected(name: &str, model: &str) -> bool {
    !(name.ends_with("adfs-mfa") && model != "federated")
}

#[test]
fn every_flow_reaches_the_mailbox_with_the_expected_mfa() {
    for b in flows() {
        for model in MODELS {
            let t = run(b.name, &[&format!("identity.model={model}")]);
            let o = &t.outcome;
            assert!(o.mailbox_access, "{} {model}: {:?}", b.name, o);
            assert_eq!(
                o.mfa_satisfied,
                mfa_expected(b.name, model),
                "{} {model}",
                b.name
            );
            assert_eq!(o.failure, None, "{} {model}", b.name);
            let expected_server = if b.name.contains("exo") {
                "exchange-online"
            } else {
                "exchange-onprem"
            };
            assert_eq!(
                o.served_by.as_deref(),
                Some(expected_server),
                "{} {model}",
                b.name
            );
        }
    }
}

#[test]
fn every_documented_step_appears_in_order() {
    for b in flows() {
        let flow = FlowId::from_name(b.name).expect("bundled scenarios are named after their flow");
        for model in MODELS {
            let t = run(b.name, &[&format!("identity.model={model}")]);
            let steps: Vec<u8> = t
                .events
                .iter()
                .filter_map(|e| t.step(&e.msg))
                .map(|(_, n)| n)
                .collect();
            assert!(
                steps.windows(2).all(|w| w[0] <= w[1]),
                "{} {model}: steps out of order: {steps:?}",
                b.name
            );
            let mut seen = steps.clone();
            seen.dedup();
            let lost_mfa = !mfa_expected(b.name, model);
            let expected: Vec<u8> = flow
                .steps()
                .iter()
                .filter(|s| model == "federated" || !s.federated_only)
                .filter(|s| {
                    !(lost_mfa
                        && s.stages
                            .iter()
                            .any(|st| matches!(st, hmasim::protocol::Stage::AdfsMfaPrompt)))
                })
                .map(|s| s.n)
                .collect();
            assert_eq!(seen, expected, "{} {model}", b.name);
        }
    }
}

#[test]
fn federated_only_steps_never_appear_in_managed_models() {
    for b in flows() {
        let flow = FlowId::from_name(b.name).unwrap();
        for model in ["phs", "pta"] {
            let t = run(b.name, &[&format!("identity.model={model}")]);
            for e in &t.events {
                if let Some((_, n)) = t.step(&e.msg) {
                    let def = flow.steps().iter().find(|s| s.n == n).unwrap();
                    assert!(
                        !def.federated_only,
                        "{} {model}: federated-only step {n} appeared",
                        b.name
                    );
                }
                // Nobody talks to AD FS or WAP on a managed domain's Entra sign-in.
                let names = (&t.names[e.from.0 as usize], &t.names[e.to.0 as usize]);
                if !b.name.starts_with("web-onprem") {
                    assert!(
                        names.0 != "adfs" && names.1 != "adfs",
                        "{} {model}: AD FS in a managed sign-in",
                        b.name
                    );
                }
            }
        }
    }
}

#[test]
fn pta_checks_the_password_on_premises_and_phs_does_not() {
    let talks_to_ad = |t: &Trace| {
        t.events.iter().any(|e| {
            t.names[e.from.0 as usize] == "entra-id"
                && t.names[e.to.0 as usize] == "active-directory"
        })
    };
    assert!(talks_to_ad(&run("desktop-exo-ca", &["identity.model=pta"])));
    assert!(!talks_to_ad(&run(
        "desktop-exo-ca",
        &["identity.model=phs"]
    )));
}

fn event(t: &Trace, pred: impl Fn(&hmasim::sim::Event, &str, &str) -> bool) -> &hmasim::sim::Event {
    t.events
        .iter()
        .find(|e| pred(e, &t.names[e.from.0 as usize], &t.names[e.to.0 as usize]))
        .expect("event not found")
}

#[test]
fn mobile_onprem_hma_shows_the_documented_messages() {
    let t = run("mobile-onprem-hma", &[]);
    let step = |e: &hmasim::sim::Event| t.step(&e.msg).map(|s| s.1);

    // Step 4: the on-premises AutoDiscover URL and its JSON answer.
    let ad = event(&t, |e, from, _| {
        from == "autodetect"
            && e.msg.kind == Kind::Request
            && e.msg
                .url
                .as_ref()
                .is_some_and(|u| u.host == "autodiscover.contoso.com")
    });
    assert_eq!(
        ad.msg.url.as_ref().unwrap().to_string(),
        "https://autodiscover.contoso.com/autodiscover/autodiscover.json?Email=test%40contoso.com&Protocol=activesync&RedirectCount=3"
    );
    assert_eq!(step(ad), Some(4));
    let answer = event(&t, |e, from, _| {
        from == "exchange-onprem"
            && hmasim::protocol::codec::autodiscover::V2Answer::decode(e.msg.bytes()).is_ok()
    });
    assert_eq!(
        answer.msg.body.to_json().to_string(),
        r#"{"Protocol":"activesync","Url":"https://mail.contoso.com/Microsoft-Server-ActiveSync"}"#
    );

    // Step 5: the 401 with both WWW-Authenticate headers exactly as flows.md gives them.
    let challenge = event(&t, |e, from, _| {
        from == "exchange-onprem"
            && e.msg.status == Some(hmasim::protocol::StatusCode::UNAUTHORIZED)
    });
    assert_eq!(step(challenge), Some(5));
    let www: Vec<&str> = challenge
        .msg
        .header_values(&headers::WWW_AUTHENTICATE)
        .collect();
    assert_eq!(
        www,
        [
            "Bearer client_id=\"00000002-0000-0ff1-ce00-000000000000\", trusted_issuers=\"00000001-0000-0000-c000-000000000000@4b3f0b6e-9d1c-4c56-8a2e-6f0d3c1b7a92,00000004-0000-0ff1-ce00-000000000000@contoso.com\", token_types=\"app_asserted_user_v1 service_asserted_app_v1\", authorization_uri=\"https://login.windows.net/common/oauth2/authorize\"",
            "Basic realm=\"mail.contoso.com\"",
        ]
    );

    // AT1: Outlook mobile, audience Exchange Online. AT2: on behalf of AT1, Exchange Online,
    // audience the on-premises namespace. Both real JWTs carrying those claims.
    let tok = |id: &str| {
        t.tokens
            .iter()
            .find(|x| x.id == id)
            .unwrap_or_else(|| panic!("no {id}"))
    };
    let (at1, at2) = (tok("AT1"), tok("AT2"));
    assert_eq!(
        (at1.client.as_str(), at1.audience.as_str()),
        ("outlook-mobile", "https://outlook.office365.com")
    );
    assert_eq!(
        (
            at2.client.as_str(),
            at2.audience.as_str(),
            at2.obo_of.as_deref()
        ),
        ("exchange-online", "https://mail.contoso.com", Some("AT1"))
    );
    let (_, c1) = jwt::decode_unverified(&at1.jwt).unwrap();
    let (h2, c2) = jwt::decode_unverified(&at2.jwt).unwrap();
    assert_eq!(c1.appid, "27922004-5251-4030-b22d-91ecd9a37ea4");
    assert_eq!(c2.appid, "00000002-0000-0ff1-ce00-000000000000");
    assert_eq!(c2.aud, "https://mail.contoso.com");
    assert!(c2.amr.contains(&"mfa".to_string()));
    assert_eq!(c2.exp - c2.iat, 3600, "the source's one-hour access token");
    assert!(!h2.kid.is_empty());
    let obo = event(&t, |e, from, to| {
        from == "mrs" && to == "entra-id" && e.msg.kind == Kind::Request
    });
    assert_eq!(
        (step(obo), obo.msg.meta.token.as_deref()),
        (Some(17), Some("AT1"))
    );

    // Steps 16, 18, 19: provisioning with AT1, mailbox creation, the first sync with AT2
    // verified by Exchange on-premises, and data reaching the client.
    let prov = event(&t, |e, from, to| {
        from == "outlook-mobile" && to == "protocol-translator" && e.msg.kind == Kind::Request
    });
    assert_eq!(
        (step(prov), prov.msg.meta.token.as_deref()),
        (Some(16), Some("AT1"))
    );
    assert!(t
        .events
        .iter()
        .any(|e| t.names[e.from.0 as usize] == "exchange-online"
            && e.msg.status == Some(hmasim::protocol::StatusCode::CREATED)
            && step(e) == Some(18)));
    let sync = event(&t, |e, _, to| {
        to == "exchange-onprem" && e.msg.meta.token.as_deref() == Some("AT2")
    });
    assert_eq!(step(sync), Some(19));
    assert!(sync
        .msg
        .url
        .as_ref()
        .unwrap()
        .to_string()
        .contains("DeviceType=OutlookService"));
    let served = event(&t, |e, from, _| {
        from == "exchange-onprem" && e.msg.carries_mailbox()
    });
    assert!(served.seq > sync.seq);
    let delivered = event(&t, |e, _, to| {
        to == "outlook-mobile" && e.msg.carries_mailbox()
    });
    assert_eq!(step(delivered), Some(19));
}

#[test]
fn web_onprem_uses_iwa_inside_and_forms_outside() {
    let inside = run("web-onprem-internal", &[]);
    assert!(inside.events.iter().any(|e| e
        .msg
        .header_values(&headers::WWW_AUTHENTICATE)
        .any(|v| v == "Negotiate")));
    assert!(inside.events.iter().any(|e| e
        .msg
        .header_value(&headers::AUTHORIZATION)
        .is_some_and(|v| v.starts_with("Negotiate "))));
    assert!(!inside
        .events
        .iter()
        .any(|e| t_name(&inside, e.to.0) == "wap"));
    let outside = run("web-onprem-external", &[]);
    assert!(outside
        .events
        .iter()
        .any(|e| t_name(&outside, e.to.0) == "wap"));
    assert!(outside
        .events
        .iter()
        .any(|e| matches!(e.msg.page(), Some(hmasim::protocol::Page::SignIn { .. }))));
}

fn t_name(t: &Trace, i: u32) -> &str {
    &t.names[i as usize]
}

#[test]
fn switching_off_the_one_mfa_control_loses_mfa_through_the_messages() {
    let cases: [(&str, &str); 9] = [
        ("web-exo", "conditional_access.0.state=disabled"),
        ("web-onprem-internal", "adfs.owa_policy=permit-everyone"),
        ("web-onprem-external", "adfs.owa_policy=permit-everyone"),
        ("desktop-exo-ca", "conditional_access.0.state=disabled"),
        (
            "desktop-exo-adfs-mfa",
            "adfs.office365_policy=permit-everyone",
        ),
        ("desktop-onprem-ca", "conditional_access.0.state=disabled"),
        (
            "desktop-onprem-adfs-mfa",
            "adfs.office365_policy=permit-everyone",
        ),
        ("mobile-exo", "conditional_access.0.state=disabled"),
        ("mobile-onprem-hma", "conditional_access.0.state=disabled"),
    ];
    for (name, off) in cases {
        let t = run(name, &[off]);
        assert!(t.outcome.mailbox_access, "{name}");
        assert!(!t.outcome.mfa_satisfied, "{name} with {off}");
        assert!(
            t.tokens.iter().all(|x| !x.has_mfa()),
            "{name}: a token still claims mfa"
        );
        assert!(
            !t.events
                .iter()
                .any(|e| matches!(e.msg.page(), Some(hmasim::protocol::Page::Mfa { .. }))),
            "{name}: MFA prompted"
        );
    }
}

#[test]
fn report_only_policies_are_reported_not_enforced() {
    let t = run(
        "desktop-exo-ca",
        &["conditional_access.0.state=enabledForReportingButNotEnforced"],
    );
    assert!(t.outcome.mailbox_access && !t.outcome.mfa_satisfied);
    let note = event(&t, |e, from, _| {
        from == "entra-id" && e.msg.kind == Kind::Note
    });
    assert!(note.msg.body.to_json().to_string().contains("report-only"));
}

#[test]
fn a_blocking_policy_stops_the_user_with_the_entra_error() {
    let t = run(
        "desktop-exo-ca",
        &["conditional_access.0.grant=[\"block\"]"],
    );
    assert!(!t.outcome.mailbox_access);
    let f = t.outcome.failure.as_ref().expect("failure");
    assert_eq!(
        (f.code.as_str(), f.party.as_str(), f.diagnostics.as_str()),
        ("blocked_by_conditional_access", "entra-id", "AADSTS53003")
    );
    assert!(t.outcome.symptom.is_some());
}

#[test]
fn tls_offloading_breaks_the_audience_check_by_computation() {
    let t = run("mobile-onprem-hma", &["load_balancer.tls=offloading"]);
    let refusal = event(&t, |e, from, _| {
        from == "exchange-onprem"
            && e.msg.status == Some(hmasim::protocol::StatusCode::UNAUTHORIZED)
            && e.msg.header_value(&headers::X_MS_DIAGNOSTICS).is_some()
    });
    assert_eq!(
        refusal.msg.header_value(&headers::X_MS_DIAGNOSTICS).unwrap(),
        "2000003;reason=\"The hostname component of the audience claim value is invalid. Expected 'https://mail.contoso.com'. Actual 'http://mail.contoso.com'.\";error_category=\"invalid_resource\""
    );
    assert!(refusal
        .msg
        .header_values(&headers::WWW_AUTHENTICATE)
        .next()
        .unwrap()
        .ends_with("error=\"invalid_token\""));
    assert!(!t.outcome.mailbox_access);
}

#[test]
fn same_scenario_and_seed_give_byte_identical_json() {
    for b in flows() {
        let a = run(b.name, &[]).to_json();
        let c = run(b.name, &[]).to_json();
        assert_eq!(a, c, "{}", b.name);
    }
    let other = run("mobile-onprem-hma", &["seed=2"]).to_json();
    assert_ne!(
        other,
        run("mobile-onprem-hma", &[]).to_json(),
        "the seed must matter (jitter, keys)"
    );
}

#[test]
fn json_trace_has_every_contract_field() {
    let t = run("mobile-onprem-hma", &[]);
    let v: serde_json::Value = serde_json::from_str(&t.to_json()).unwrap();
    assert_eq!(v["format"], "hmasim-trace/1");
    assert_eq!(v["scenario"], "mobile-onprem-hma");
    assert_eq!(v["seed"], 1);
    assert_eq!(v["identity_model"], "federated");
    for e in v["events"].as_array().unwrap() {
        for k in [
            "seq", "t_ms", "from", "to", "kind", "method", "url", "status", "headers", "body",
            "token", "step", "summary",
        ] {
            assert!(e.get(k).is_some(), "event lacks {k}: {e}");
        }
        assert!(
            ["request", "response", "redirect", "timer", "dropped", "note"]
                .contains(&e["kind"].as_str().unwrap())
        );
    }
    let seqs: Vec<u64> = v["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["seq"].as_u64().unwrap())
        .collect();
    assert_eq!(seqs, (0..seqs.len() as u64).collect::<Vec<_>>());
    let times: Vec<u64> = v["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["t_ms"].as_u64().unwrap())
        .collect();
    assert!(times.windows(2).all(|w| w[0] <= w[1]));
    for tok in v["tokens"].as_array().unwrap() {
        for k in [
            "id",
            "kind",
            "issuer",
            "client",
            "audience",
            "obo_of",
            "amr",
            "issued_ms",
            "expires_ms",
            "jwt",
        ] {
            assert!(tok.get(k).is_some(), "token lacks {k}");
        }
    }
    for k in [
        "mailbox_access",
        "mfa_satisfied",
        "served_by",
        "failure",
        "symptom",
    ] {
        assert!(v["outcome"].get(k).is_some(), "outcome lacks {k}");
    }
    let ids: Vec<&str> = v["tokens"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_str().unwrap())
        .collect();
    let mut dedup = ids.clone();
    dedup.sort();
    dedup.dedup();
    assert_eq!(dedup.len(), ids.len(), "token ids are unique: {ids:?}");
}
