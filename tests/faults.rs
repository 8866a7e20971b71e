//! The failure modes of flows.md: each bundled fault scenario ends with the documented
//! symptom and the refusal a real admin would see, and its documented fix restores mailbox
//! access with MFA. Everything is read from the messages of the run.

use hmasim::protocol::headers;
use hmasim::protocol::Kind;
use hmasim::scenario::{self, Scenario};
use hmasim::sim::{self, Trace};
use proptest::prelude::*;

const FAULTS: [&str; 13] = [
    "fault-tls-offloading",
    "fault-stale-evosts-metadata",
    "fault-no-authorization-uri",
    "fault-no-www-authenticate",
    "fault-autodiscover-blocked",
    "fault-preauth-activesync",
    "fault-wrong-externalurl",
    "fault-exchange2010",
    "fault-entra-unreachable",
    "password-change-federated",
    "password-change-phs",
    "password-change-pta",
    "token-lifetime",
];

fn load(name: &str, sets: &[&str]) -> Scenario {
    let mut sc = scenario::load(name).unwrap_or_else(|e| panic!("{e}"));
    for s in sets {
        scenario::apply_set(&mut sc, s).unwrap_or_else(|e| panic!("{e}"));
    }
    sc
}

fn run(name: &str, sets: &[&str]) -> Trace {
    sim::run(&load(name, sets), true)
}

fn fixed(name: &str) -> Trace {
    let mut sc = load(name, &[]);
    scenario::apply_fix(&mut sc).unwrap();
    sim::run(&sc, true)
}

/// (scenario, failure code, refusing party, a piece of the diagnostics, a piece of the symptom)
const EXPECTED: [(&str, &str, &str, &str, &str); 13] = [
    ("fault-tls-offloading", "audience_mismatch", "exchange-onprem", "2000003;reason=\"The hostname component of the audience claim value is invalid. Expected 'https://mail.contoso.com'. Actual 'http://mail.contoso.com'.\";error_category=\"invalid_resource\"", "stale data"),
    ("fault-stale-evosts-metadata", "invalid_signature", "exchange-onprem", "EvoSts", "stale data"),
    ("fault-no-authorization-uri", "no_authorization_uri", "exchange-onprem", "Get-AuthServer EvoSts | fl IsDefaultAuthorizationEndpoint", "legacy Basic ActiveSync sign-in dialog"),
    ("fault-no-www-authenticate", "no_www_authenticate", "autodetect", "401 without WWW-Authenticate", "cannot discover the mailbox"),
    ("fault-autodiscover-blocked", "ip_restricted", "wap", "403.6", "cannot discover the mailbox"),
    ("fault-preauth-activesync", "preauthentication", "autodetect", "302 to https://sts.contoso.com/adfs/ls/", "cannot discover the mailbox"),
    ("fault-wrong-externalurl", "autodiscover_unreachable", "autodetect", "mail.contoso.local", "cannot discover the mailbox"),
    ("fault-exchange2010", "oauth_not_supported_by_mailbox_server", "exchange-onprem", "Exchange 2010", "stale data"),
    ("fault-entra-unreachable", "unreachable", "network", "login.windows.net", "sign-in window shows an error"),
    ("password-change-federated", "invalid_grant", "entra-id", "AADSTS50173", "sign in again"),
    ("password-change-phs", "invalid_grant", "entra-id", "AADSTS50173", "sign in again"),
    ("password-change-pta", "invalid_grant", "entra-id", "AADSTS50173", "sign in again"),
    ("token-lifetime", "invalid_grant", "entra-id", "AADSTS700082", "sign in again"),
];

#[test]
fn every_fault_ends_with_the_documented_symptom_and_refusal() {
    for (name, code, party, diag, symptom) in EXPECTED {
        let t = run(name, &[]);
        let o = &t.outcome;
        // Access that held to the end would be no failure (access that happened and was
        // lost still counts as reached: `mailbox_access` may be true).
        assert!(o.clients.iter().any(|c| !c.holds_at_end), "{name}: {o:?}");
        let f = o
            .failure
            .as_ref()
            .unwrap_or_else(|| panic!("{name}: no failure"));
        assert_eq!(
            (f.code.as_str(), f.party.as_str()),
            (code, party),
            "{name}: {f:?}"
        );
        assert!(
            f.diagnostics.contains(diag),
            "{name}: diagnostics {:?} lack {diag:?}",
            f.diagnostics
        );
        let s = o
            .symptom
            .as_deref()
            .unwrap_or_else(|| panic!("{name}: no symptom"));
        assert!(
            s.contains(symptom),
            "{name}: symptom {s:?} lacks {symptom:?}"
        );
        // The diagnosis points at the message that carried the refusal.
        let d = o.diagnosis.as_ref().expect("a diagnosis");
        let at = t
            .events
            .iter()
            .find(|e| e.seq == d.event)
            .expect("the diagnosed event is in the trace");
        assert_eq!(
            at.msg.meta.fault.as_ref().map(|f| f.code.as_str()),
            Some(code),
            "{name}"
        );
        assert!(!d.cause.is_empty() && !d.fix.is_empty());
    }
}

#[test]
fn tls_offloading_shows_the_exact_header_and_the_fix_quotes_bridging() {
    let t = run("fault-tls-offloading", &[]);
    let e = t
        .events
        .iter()
        .find(|e| e.msg.header_value(&headers::X_MS_DIAGNOSTICS).is_some())
        .unwrap();
    assert!(e
        .msg
        .header_values(&headers::WWW_AUTHENTICATE)
        .next()
        .unwrap()
        .contains("error=\"invalid_token\""));
    assert!(t
        .outcome
        .diagnosis
        .as_ref()
        .unwrap()
        .fix
        .contains("TLS bridging"));
}

#[test]
fn a_missing_authorization_uri_never_reaches_entra() {
    let t = run("fault-no-authorization-uri", &[]);
    assert!(!t
        .events
        .iter()
        .any(|e| t.names[e.to.0 as usize] == "entra-id"));
    let challenge = t
        .events
        .iter()
        .find(|e| e.msg.status == Some(hmasim::protocol::StatusCode::UNAUTHORIZED))
        .unwrap();
    assert!(!challenge
        .msg
        .header_values(&headers::WWW_AUTHENTICATE)
        .any(|v| v.contains("authorization_uri")));
    assert!(t
        .outcome
        .diagnosis
        .as_ref()
        .unwrap()
        .fix
        .contains("Set-AuthServer EvoSts -IsDefaultAuthorizationEndpoint"));
}

#[test]
fn every_fix_restores_mailbox_access_with_mfa() {
    for name in FAULTS {
        let t = fixed(name);
        assert!(
            t.outcome.mailbox_access && t.outcome.mfa_satisfied,
            "{name} with its fix: {:?}",
            t.outcome
        );
        assert_eq!(t.outcome.failure, None, "{name}");
    }
}

#[test]
fn scenarios_without_a_fix_say_so() {
    let mut sc = load("web-exo", &[]);
    let e = scenario::apply_fix(&mut sc).unwrap_err();
    assert!(e.to_string().contains("declares no fix"));
}

fn refreshes(t: &Trace, client: &str) -> (usize, usize) {
    let mut ok = 0;
    let mut failed = 0;
    for e in &t.events {
        let is_refresh = t.names[e.from.0 as usize] == client
            && e.msg.kind == Kind::Request
            && e.msg
                .form()
                .is_some_and(|f| f.get("grant_type") == Some("refresh_token"));
        if is_refresh {
            let answer = t
                .events
                .iter()
                .find(|r| {
                    r.seq > e.seq
                        && r.to == e.from
                        && r.msg.conv == e.msg.conv
                        && r.msg.kind == Kind::Response
                })
                .unwrap();
            if answer.msg.token_answer().is_some() {
                ok += 1;
            } else {
                failed += 1;
            }
        }
    }
    (ok, failed)
}

/// The clients' renewal window (docs/outcome.md): 5 minutes.
fn hmasim_clients_margin() -> u64 {
    5 * 60_000
}

#[test]
fn a_fifteen_day_token_lifetime_run_refreshes_hourly_then_needs_a_sign_in() {
    let sc = load("token-lifetime", &[]);
    let t = sim::run(&sc, true);
    // Outlook renews the one-hour access token when 5 minutes of it remain (its renewal
    // window, whatever its 30-minute sync interval): every 55 minutes while open (it
    // closes at 1d). At 15d the refresh token has gone unused for 14 days: the one renewal
    // then fails.
    let lifetime = sc.entra.access_token_lifetime.ms();
    let per_token = lifetime - hmasim_clients_margin();
    let open_until = 86_400_000;
    let expected = (open_until - 1) / per_token;
    assert_eq!(refreshes(&t, "outlook-desktop"), (expected as usize, 1));
    // With today's defaults (90-day refresh tokens, 60 to 90 minute access tokens) the
    // renewal at 15d succeeds.
    let fixed = fixed("token-lifetime");
    let (ok, failed) = refreshes(&fixed, "outlook-desktop");
    assert!(ok > 0 && failed == 0, "{ok} {failed}");
}

#[test]
fn refresh_tokens_survive_a_password_change_unless_the_model_lets_entra_act() {
    // Federated without password-expiry claims, PTA without writeback: Entra ID cannot act.
    for (name, off) in [
        (
            "password-change-federated",
            "identity.password_expiry_claims=false",
        ),
        ("password-change-pta", "identity.password_writeback=false"),
    ] {
        let t = run(name, &[off]);
        assert!(
            t.outcome.mailbox_access,
            "{name} with {off}: {:?}",
            t.outcome
        );
        assert_eq!(refreshes(&t, "outlook-desktop").1, 0);
    }
    // The access token stays valid after the change: the revocation shows at the next renewal.
    let t = run("password-change-phs", &[]);
    let revoked = t
        .events
        .iter()
        .find(|e| {
            e.msg
                .meta
                .fault
                .as_ref()
                .is_some_and(|f| f.diagnostics == "AADSTS50173")
        })
        .unwrap();
    let synced = t
        .events
        .iter()
        .find(|e| {
            t.names[e.to.0 as usize] == "entra-id"
                && matches!(e.msg.body, hmasim::protocol::Body::DirectorySync(_))
        })
        .expect("the change is synchronized");
    assert!(synced.t_ms >= 2 * 3_600_000, "the change happens at 2h");
    assert!(
        revoked.seq > synced.seq,
        "no revocation before the change has synced"
    );
}

#[test]
fn stale_metadata_window_depends_on_the_refresh() {
    let gap = |sets: &[&str]| {
        run("fault-stale-evosts-metadata", sets)
            .outcome
            .sync
            .expect("MRS path")
            .longest_gap_ms
    };
    let h = 3_600_000;
    let failing = gap(&["run.duration=2d"]);
    let manual = gap(&["run.duration=2d", "onprem.scheduled_metadata_refresh=24h"]);
    let healthy = gap(&["run.duration=2d", "onprem.auth_metadata_refresh=healthy"]);
    assert!(
        failing > 40 * h,
        "failing refresh: stale until the end ({failing} ms)"
    );
    assert!(
        manual > 20 * h && manual < 24 * h,
        "a 24-hour scheduled refresh closes the window at 24h ({manual} ms)"
    );
    assert!(
        healthy < 8 * h,
        "the healthy 8-hour cycle bounds the window ({healthy} ms)"
    );
    let t = fixed("fault-stale-evosts-metadata");
    let s = t.outcome.sync.unwrap();
    assert!(s.longest_gap_ms < 3 * h && s.failed > 0, "{s:?}");
}

#[test]
fn an_outage_is_survived_by_the_background_sync() {
    let t = run("mobile-onprem-hma", &["run.duration=2h", "timeline=[{at = \"0s\", client = \"outlook-mobile\", do = \"add-account\"}, {at = \"20m\", do = \"outage\", party = \"exchange-onprem\", until = \"40m\"}]"]);
    let s = t.outcome.sync.clone().unwrap();
    assert!(s.failed >= 2, "{s:?}");
    assert!(t.events.iter().any(|e| e.dropped));
    assert!(
        t.outcome.mailbox_access,
        "the sync recovers after the outage: {:?}",
        t.outcome
    );
}

#[test]
fn a_configuration_change_in_the_timeline_takes_effect_at_its_instant() {
    let t = run("mobile-onprem-hma", &["run.duration=1h", "timeline=[{at = \"0s\", client = \"outlook-mobile\", do = \"add-account\"}, {at = \"10m\", do = \"set\", key = \"load_balancer.tls\", value = \"offloading\"}]"]);
    let first_fault = t
        .events
        .iter()
        .find(|e| e.msg.meta.fault.is_some())
        .unwrap();
    assert!(first_fault.t_ms > 10 * 60_000);
    assert_eq!(
        t.outcome.failure.as_ref().unwrap().code.as_str(),
        "audience_mismatch"
    );
}

#[test]
fn bad_timelines_are_located_errors() {
    let base = include_str!("../scenarios/mobile-onprem-hma.toml");
    let cases = [
        ("[[timeline]]\nat = \"5m\"\ndo = \"rotate-evosts-key\"\n[[timeline]]\nat = \"1m\"\ndo = \"directory-sync\"\n", "timeline entries out of order"),
        ("[[timeline]]\nat = \"-1h\"\ndo = \"rotate-evosts-key\"\n", "a duration such as"),
        ("[[timeline]]\nat = \"1h\"\ndo = \"outage\"\nparty = \"exchange-onprme\"\nuntil = \"2h\"\n", "unknown party `exchange-onprme`"),
        ("[[timeline]]\nat = \"1h\"\ndo = \"outage\"\nparty = \"exchange-onprem\"\nuntil = \"30m\"\n", "the outage ends (30m) before it starts (1h)"),
        ("[[timeline]]\nat = \"1h\"\ndo = \"rotate-evosts-key\"\nparti = \"x\"\n", "unknown field `parti`"),
        ("[[timeline]]\nat = \"1h\"\ndo = \"set\"\nkey = \"load_balancer.tsl\"\nvalue = \"bridging\"\n", "unknown key `tsl`"),
        ("[[timeline]]\nat = \"1h\"\ndo = \"outage\"\nparty = \"wap\"\n", "`outage` needs `until`"),
        ("[[timeline]]\nat = \"1h\"\ndo = \"teleport\"\n", "unknown variant `teleport`"),
    ];
    for (extra, want) in cases {
        let src = format!("{base}\n{extra}");
        let e = scenario::parse(&src, "t.toml", scenario::Format::Toml).unwrap_err();
        let msg = e.to_string();
        assert!(msg.contains(want), "{extra:?}: {msg}");
        let (line, _) = e.position.unwrap_or_else(|| panic!("no position: {msg}"));
        assert!(
            line > base.lines().count(),
            "{extra:?}: located in the added lines, not line {line}: {msg}"
        );
    }
}

#[test]
fn golden_text_of_every_fault_scenario() {
    for name in FAULTS {
        let t = run(name, &[]);
        insta::assert_snapshot!(format!("{name}.txt"), t.to_text());
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 26, .. ProptestConfig::default() })]

    #[test]
    fn the_documented_fix_restores_access_with_mfa_over_seeds(name in prop::sample::select(FAULTS.to_vec()), seed in any::<u64>()) {
        let mut sc = load(name, &[]);
        sc.seed = seed;
        let broken = sim::run_until_access(&sc);
        let t = sim::run(&sc, false);
        prop_assert!(!t.outcome.clients.iter().all(|c| c.holds_at_end), "{} seed {} should fail", name, seed);
        prop_assert!(t.outcome.failure.is_some());
        let _ = broken;
        scenario::apply_fix(&mut sc).unwrap();
        let t = sim::run(&sc, false);
        prop_assert!(t.outcome.mailbox_access && t.outcome.mfa_satisfied && t.outcome.clients.iter().all(|c| c.holds_at_end), "{} seed {} with the fix: {:?}", name, seed, t.outcome);
    }
}
