//! Injected faults (issue 5, item 2): each kind of fault has an observable effect in the
//! trace, runs with faults are as deterministic as runs without, and no fault ever creates
//! an MFA bypass. `PROPTEST_CASES=1000 cargo test --test netfaults` runs the long version
//! of the safety property.

use hmasim::scenario::{self, Action, ActionKind, Clock, LatencyDist, Real, Scenario, Skew, Span};
use hmasim::sim::{self, Trace};
use proptest::prelude::*;

fn load(name: &str) -> Scenario {
    scenario::load(name).unwrap_or_else(|e| panic!("{e}"))
}

fn client_id(sc: &Scenario) -> String {
    sc.clients[0].party_id()
}

fn action(at: u64, kind: ActionKind) -> Action {
    let mut a = Action::on_client(Span(at), kind, "");
    a.client = None;
    a
}

fn notes(t: &Trace, what: &str) -> usize {
    t.events
        .iter()
        .filter(|e| {
            e.msg.meta.summary.contains(what)
                || matches!(&e.msg.body, hmasim::protocol::Body::Lines(l) if l.iter().any(|x| x.contains(what)))
        })
        .count()
}

fn dropped(t: &Trace) -> usize {
    t.events.iter().filter(|e| e.dropped).count()
}

#[test]
fn total_loss_on_a_link_shows_drops_retries_then_the_users_error() {
    let mut sc = load("desktop-exo-ca");
    sc.network.faults.links.push(scenario::LinkFault {
        from: client_id(&sc),
        to: "entra-id".into(),
        latency: None,
        loss: Real(1.0),
        duplicate: Real(0.0),
        reorder: false,
    });
    let t = sim::run(&sc, true);
    assert!(dropped(&t) >= 4, "{}", t.stats);
    assert_eq!(notes(&t, "the client retries"), 3);
    let f = t.outcome.failure.clone().expect("the client gives up");
    assert_eq!(f.code.as_str(), "timeout");
    assert!(f.message.contains("no answer within 60 s"), "{}", f.message);
    assert!(t.outcome.symptom.is_some());
    assert!(!t.outcome.mailbox_access);
}

#[test]
fn partial_loss_is_survived_by_retries() {
    let mut sc = load("desktop-exo-ca");
    sc.network.faults.loss = Real(0.15);
    sc.seed = 11;
    let t = sim::run(&sc, true);
    assert!(dropped(&t) > 0);
    assert!(notes(&t, "retries") > 0, "{}", t.to_text());
    assert!(!t.outcome.data_without_mfa);
}

#[test]
fn duplicates_are_delivered_and_handled_idempotently() {
    let mut sc = load("desktop-exo-ca");
    sc.network.faults.duplicate = Real(0.5);
    let t = sim::run(&sc, true);
    let seen: Vec<_> = t
        .events
        .iter()
        .filter(|e| !e.dropped && e.from != e.to)
        .map(|e| {
            (
                e.from,
                e.to,
                e.msg.conv,
                format!("{:?}{}", e.msg.kind, e.msg.meta.summary),
            )
        })
        .collect();
    let dups = seen
        .iter()
        .enumerate()
        .filter(|(i, x)| seen[..*i].contains(x))
        .count();
    assert!(dups > 0, "some message arrives twice");
    assert!(
        t.outcome.mailbox_access && t.outcome.mfa_satisfied,
        "{:?}",
        t.outcome
    );
    assert!(!t.outcome.data_without_mfa);
}

#[test]
fn a_partition_drops_then_heals_and_the_client_recovers() {
    let mut sc = load("desktop-exo-ca");
    let mut p = action(0, ActionKind::Partition);
    p.from = Some(client_id(&sc));
    p.to = Some("entra-id".into());
    p.two_way = Some(true);
    p.until = Some(Span(90_000));
    sc.timeline.insert(0, p);
    sc.validate().unwrap();
    let t = sim::run(&sc, true);
    assert!(dropped(&t) >= 1);
    assert_eq!(notes(&t, "partition: messages from"), 2, "two-way");
    assert_eq!(notes(&t, "the partition heals"), 2);
    assert!(notes(&t, "the client retries") >= 1);
    assert!(
        t.outcome.mailbox_access && t.outcome.mfa_satisfied,
        "{:?}\n{}",
        t.outcome,
        t.to_text()
    );
}

#[test]
fn a_crash_loses_requests_in_flight_and_the_client_retries_after_the_restart() {
    let mut sc = load("desktop-exo-ca");
    let mut c = action(0, ActionKind::Crash);
    c.party = Some("entra-id".into());
    c.until = Some(Span(90_000));
    sc.timeline.insert(0, c);
    sc.validate().unwrap();
    let t = sim::run(&sc, true);
    assert!(dropped(&t) >= 1);
    assert_eq!(notes(&t, "crash: the party stops"), 1);
    assert_eq!(notes(&t, "the party restarts"), 1);
    assert!(notes(&t, "the client retries") >= 1);
    assert!(
        t.outcome.mailbox_access && t.outcome.mfa_satisfied,
        "{:?}",
        t.outcome
    );
}

fn skewed(skew_ms: i64) -> Trace {
    let mut sc = load("desktop-exo-ca");
    sc.clocks.push(Clock {
        party: "entra-id".into(),
        skew: Skew(skew_ms),
    });
    sc.validate().unwrap();
    sim::run(&sc, true)
}

#[test]
fn skew_beyond_five_minutes_gets_tokens_rejected_within_it_accepted() {
    for ms in [-240_000, 240_000] {
        let t = skewed(ms);
        assert!(
            t.outcome.mailbox_access && t.outcome.mfa_satisfied,
            "{ms}: {:?}",
            t.outcome
        );
    }
    let ahead = skewed(10 * 60_000);
    let text = ahead.to_text();
    assert!(!ahead.outcome.mailbox_access);
    assert!(text.contains("not valid before"), "{text}");
    let behind = skewed(-2 * 3_600_000);
    let text = behind.to_text();
    assert!(!behind.outcome.mailbox_access);
    // Entra ID, two hours behind, judges AD FS's fresh SAML token as from its future.
    assert!(
        text.contains("does not verify: the token is not valid before"),
        "{text}"
    );
}

fn faulty(name: &str, seed: u64) -> Scenario {
    let mut sc = load(name);
    sc.seed = seed;
    sc.network.faults.loss = Real(0.05);
    sc.network.faults.duplicate = Real(0.05);
    sc.network.faults.reorder = true;
    sc.network.faults.latency = Some(LatencyDist::LogNormal {
        median_ms: 30,
        sigma: Real(0.7),
    });
    sc
}

#[test]
fn same_seed_and_faults_give_byte_identical_json() {
    let a = sim::run(&faulty("mobile-onprem-hma", 5), true).to_json();
    let b = sim::run(&faulty("mobile-onprem-hma", 5), true).to_json();
    assert_eq!(a, b);
    let c = sim::run(&faulty("mobile-onprem-hma", 6), true).to_json();
    assert_ne!(a, c, "the faults depend on the seed");
}

#[test]
fn faults_parse_from_a_scenario_file_and_bad_ones_are_located() {
    let base = scenario::bundled("desktop-exo-ca").unwrap().source;
    let good = format!(
        "{base}\n[network.faults]\nloss = 0.1\nlatency = {{ dist = \"normal\", mean_ms = 40, sd_ms = 10 }}\n\n[[network.faults.links]]\nfrom = \"entra-id\"\nto = \"exchange-online\"\nreorder = true\n\n[[clocks]]\nparty = \"entra-id\"\nskew = \"-6m\"\n"
    );
    let sc =
        scenario::parse(&good, "x.toml", scenario::Format::Toml).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(sc.clocks[0].skew, Skew(-360_000));
    assert_eq!(sc.network.faults.loss, Real(0.1));
    for (extra, want) in [
        ("[network.faults]\nloss = 1.5\n", "probability"),
        ("[[clocks]]\nparty = \"entra-idd\"\nskew = \"6m\"\n", "unknown party `entra-idd`"),
        ("[[timeline]]\nat = \"1h\"\ndo = \"crash\"\nparty = \"mrs\"\nuntil = \"30m\"\n", "before it starts"),
        ("[[timeline]]\nat = \"1h\"\ndo = \"partition\"\nfrom = \"wap\"\nto = \"nobody\"\nuntil = \"2h\"\n", "unknown party `nobody`"),
        ("[[timeline]]\nat = \"1h\"\ndo = \"crash\"\nparty = \"mrs\"\n", "`crash` needs `until`"),
    ] {
        let text = format!("{base}\n{extra}");
        let e = scenario::parse(&text, "x.toml", scenario::Format::Toml).unwrap_err().to_string();
        assert!(e.contains(want), "{extra}: {e}");
    }
}

#[test]
fn the_event_limit_is_a_failure_not_a_silent_stop() {
    let mut sc = load("desktop-exo-ca");
    sc.run.max_events = 10;
    let t = sim::run(&sc, true);
    let f = t.outcome.failure.expect("event_limit");
    assert_eq!(f.code.as_str(), "event_limit");
    assert!(f.message.contains("run.max_events = 10"), "{}", f.message);
}

const FLOWS: [&str; 13] = [
    "desktop-exo-adfs-mfa",
    "desktop-exo-ca",
    "desktop-onprem-adfs-mfa",
    "desktop-onprem-ca",
    "mobile-exo",
    "mobile-onprem-hma",
    "web-exo",
    "web-onprem-external",
    "web-onprem-internal",
    "secure-desktop",
    "secure-hybrid",
    "secure-mobile",
    "secure-web",
];

fn party() -> impl Strategy<Value = String> {
    prop::sample::select(vec![
        "autodetect",
        "exchange-online",
        "mrs",
        "exchange-onprem",
        "load-balancer",
        "entra-id",
        "adfs",
        "wap",
    ])
    .prop_map(str::to_string)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    /// Faults never create an MFA bypass: with any mix of loss, duplication, reordering,
    /// partitions, crashes and skew, mailbox data reaches a client without MFA only if it
    /// does without the faults.
    ///
    /// It once found `web-onprem-internal` with loss and duplication: the monitor forgot a
    /// request when its answer was dropped, so the duplicate of that answer matched no
    /// request and counted as served without a token. Every request carried SAML1 with
    /// `mfa`; the monitor now remembers dropped answers too (regression test below).
    #[test]
    fn safety_holds_under_every_fault(
        seed in 0u64..1000,
        loss in 0.0f64..0.3,
        dup in 0.0f64..0.3,
        reorder in any::<bool>(),
        cut in prop::option::of((party(), 0u64..600_000, 1u64..600_000, any::<bool>())),
        crash in prop::option::of((party(), 0u64..600_000, 1u64..600_000)),
        skew in prop::option::of((party(), -900_000i64..900_000)),
    ) {
        for name in FLOWS {
            let base = load(name);
            let bypass_without_faults = sim::run(&base, false).outcome.data_without_mfa;
            let mut sc = base.clone();
            sc.seed = seed;
            sc.network.faults.loss = Real(loss);
            sc.network.faults.duplicate = Real(dup);
            sc.network.faults.reorder = reorder;
            if let Some((p, at, len, two_way)) = &cut {
                let mut a = action(*at, ActionKind::Partition);
                a.from = Some(sc.clients[0].party_id());
                a.to = Some(p.clone());
                a.two_way = Some(*two_way);
                a.until = Some(Span(at + len));
                let i = sc.timeline.partition_point(|x| x.at.ms() <= *at);
                sc.timeline.insert(i, a);
            }
            if let Some((p, at, len)) = &crash {
                let mut a = action(*at, ActionKind::Crash);
                a.party = Some(p.clone());
                a.until = Some(Span(at + len));
                let i = sc.timeline.partition_point(|x| x.at.ms() <= *at);
                sc.timeline.insert(i, a);
            }
            if let Some((p, ms)) = &skew {
                sc.clocks.push(Clock { party: p.clone(), skew: Skew(*ms) });
            }
            let out = sim::run(&sc, false).outcome;
            prop_assert!(
                !out.data_without_mfa || bypass_without_faults,
                "{name}: faults created an MFA bypass: {out:?}"
            );
        }
    }
}

/// The counterexample the safety property found: a monitor mistake, now a regression test.
#[test]
fn counterexample_web_onprem_internal_loss_and_duplication() {
    let mut sc = load("web-onprem-internal");
    sc.seed = 579;
    sc.network.faults.loss = Real(0.24075183246395762);
    sc.network.faults.duplicate = Real(0.1507170421560287);
    let t = sim::run(&sc, true);
    println!("{}", t.to_text());
    assert!(!t.outcome.data_without_mfa, "{:?}", t.outcome);
}

#[test]
fn a_skewed_exchange_clock_is_reported_and_diagnosed_even_after_mrs_recovers() {
    // Exchange's clock 6 minutes behind: AT2 is "not valid before" its iat there, the first
    // sync fails and Outlook mobile gives up; later syncs succeed once the token has aged
    // past the skew. What the user saw must still be the run's failure, with its cause.
    let mut sc = load("mobile-onprem-hma");
    sc.clocks.push(Clock {
        party: "exchange-onprem".into(),
        skew: Skew(-360_000),
    });
    let t = sim::run(&sc, true);
    assert!(!t.outcome.mailbox_access);
    let f = t.outcome.failure.as_ref().expect("a failure is reported");
    assert_eq!(f.code.as_str(), "invalid_token");
    assert!(f.message.contains("not valid before"), "{}", f.message);
    let d = t.outcome.diagnosis.as_ref().expect("a diagnosis");
    assert!(
        d.cause.contains("clock skew") && d.fix.contains("NTP"),
        "{d:?}"
    );
    assert!(t.outcome.symptom.is_some());
}
