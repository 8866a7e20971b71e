//! Conditional Access sign-in frequency in runs (issue 11, session controls): Entra ID
//! refuses a refresh-token redemption made longer after the user's last interactive
//! authentication than the shortest sign-in frequency of the enforced policies that apply
//! (`invalid_grant`, `AADSTS70043`), and the client must sign the user in again. The
//! scenario is `tests/fixtures/sign-in-frequency.toml`.

use hmasim::protocol::message::Kind;
use hmasim::protocol::policy::{CaState, SignInFrequency};
use hmasim::protocol::Body;
use hmasim::scenario::Scenario;
use hmasim::sim::Trace;

fn fixture() -> Scenario {
    let p = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/sign-in-frequency.toml"
    );
    hmasim::scenario::load(p).unwrap_or_else(|e| panic!("{e}"))
}

/// When Entra ID answered a refresh-token redemption, and with which AADSTS code when it
/// refused it.
fn renewals(t: &Trace) -> Vec<(u64, Option<String>)> {
    t.events
        .iter()
        .filter(|e| {
            e.msg.kind == Kind::Response
                && (e.msg.meta.summary == "Entra ID redeems the refresh token"
                    || e.msg.meta.summary == "the token endpoint refuses the grant")
        })
        .map(|e| {
            (
                e.t_ms,
                e.msg.meta.fault.as_ref().map(|f| f.diagnostics.clone()),
            )
        })
        .collect()
}

/// The instants of the interactive sign-ins (MFA prompts answered).
fn mfa_prompts(t: &Trace) -> Vec<u64> {
    t.events
        .iter()
        .filter(|e| {
            e.msg
                .meta
                .summary
                .starts_with("Conditional Access calls Entra MFA")
        })
        .map(|e| e.t_ms)
        .collect()
}

const H: u64 = 3_600_000;

#[test]
fn silent_renewal_stops_at_the_interval_and_the_user_signs_in_again() {
    let t = hmasim::sim::run(&fixture(), true);
    let r = renewals(&t);
    let refused: Vec<&(u64, Option<String>)> = r.iter().filter(|(_, c)| c.is_some()).collect();
    assert_eq!(refused.len(), 1, "{r:?}");
    let (at, code) = refused[0];
    assert_eq!(code.as_deref(), Some("AADSTS70043"));
    // Every renewal within four hours of the sign-in succeeded; the first one after was
    // refused.
    assert!(*at > 4 * H && *at < 5 * H, "refused at {at}");
    assert!(r
        .iter()
        .any(|(t, c)| c.is_none() && *t > 3 * H && *t < 4 * H));
    // The refusal says why, in the trace.
    let note = t
        .events
        .iter()
        .find(|e| e.msg.meta.summary == "Entra ID checks the Conditional Access sign-in frequency")
        .expect("a sign-in frequency note");
    let Body::Lines(lines) = &note.msg.body else {
        panic!("lines")
    };
    assert!(lines[0].contains("sign-in frequency 4h"), "{lines:?}");
    // The user signs in again at 5h: a second interactive sign-in with MFA, then silent
    // renewals again (counted from the new sign-in).
    let prompts = mfa_prompts(&t);
    assert_eq!(prompts.len(), 2, "{prompts:?}");
    assert!(prompts[1] >= 5 * H);
    assert!(r.iter().any(|(t, c)| c.is_none() && *t > 5 * H));
    let c = &t.outcome.clients[0];
    assert!(c.reached_with_mfa && c.holds_at_end, "{c:?}");
}

#[test]
fn without_the_sign_in_again_the_client_is_lost_with_the_code_and_why() {
    let mut sc = fixture();
    sc.timeline.retain(|a| a.at.0 == 0);
    let t = hmasim::sim::run(&sc, false);
    let c = &t.outcome.clients[0];
    assert!(c.reached_with_mfa && !c.holds_at_end);
    let lost = c.lost.as_ref().expect("lost");
    assert!(lost.t_ms > 4 * H && lost.t_ms < 5 * H);
    assert_eq!(lost.code.as_str(), "invalid_grant");
    assert!(lost.why.contains("sign-in frequency"), "{}", lost.why);
    let d = t.outcome.diagnosis.as_ref().expect("a diagnosis");
    assert!(d.cause.contains("sign-in frequency 4h"), "{}", d.cause);
    assert_eq!(
        t.outcome.failure.as_ref().map(|f| f.diagnostics.as_str()),
        Some("AADSTS70043")
    );
}

#[test]
fn only_an_enforced_policy_that_applies_shortens_the_session() {
    // Without the control, the session lasts the whole run.
    let mut sc = fixture();
    sc.timeline.retain(|a| a.at.0 == 0);
    sc.conditional_access[0].sign_in_frequency = None;
    let t = hmasim::sim::run(&sc, true);
    assert!(renewals(&t).iter().all(|(_, c)| c.is_none()));
    assert!(t.outcome.clients[0].holds_at_end);
    // A report-only policy enforces nothing, its session control neither.
    let mut sc = fixture();
    sc.timeline.retain(|a| a.at.0 == 0);
    let mut p = sc.conditional_access[0].clone();
    p.name = "Report-only: sign in again every hour".into();
    p.state = CaState::ReportOnly;
    p.sign_in_frequency = Some(SignInFrequency::Hours(1));
    sc.conditional_access.push(p.clone());
    let t = hmasim::sim::run(&sc, false);
    assert!(t.outcome.clients[0].lost.as_ref().unwrap().t_ms > 4 * H);
    // A policy for another app does not apply to Exchange Online's renewals.
    let last = sc.conditional_access.last_mut().unwrap();
    last.state = CaState::Enabled;
    last.include_applications = vec!["00000003-0000-0ff1-ce00-000000000000".into()];
    let t = hmasim::sim::run(&sc, false);
    assert!(t.outcome.clients[0].lost.as_ref().unwrap().t_ms > 4 * H);
    // Enforced and applying: the shortest wins.
    let last = sc.conditional_access.last_mut().unwrap();
    last.include_applications = vec!["All".into()];
    let t = hmasim::sim::run(&sc, false);
    let lost = t.outcome.clients[0].lost.clone().unwrap();
    assert!(lost.t_ms > H && lost.t_ms < 2 * H, "{lost:?}");
    assert!(lost.why.contains("sign-in frequency 1h"), "{}", lost.why);
}

#[test]
fn every_time_refuses_the_first_renewal() {
    let mut sc = fixture();
    sc.timeline.retain(|a| a.at.0 == 0);
    sc.conditional_access[0].sign_in_frequency = Some(SignInFrequency::EveryTime);
    let t = hmasim::sim::run(&sc, true);
    let r = renewals(&t);
    assert_eq!(r[0].1.as_deref(), Some("AADSTS70043"), "{r:?}");
    assert!(r[0].0 < H);
}

#[test]
fn a_scenario_states_it_and_a_wrong_value_is_a_located_error() {
    assert_eq!(
        fixture().conditional_access[0].sign_in_frequency,
        Some(SignInFrequency::Hours(4))
    );
    let src = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/sign-in-frequency.toml"
    ))
    .unwrap();
    for (bad, why) in [
        ("\"25h\"", "out of range (1 to 23 hours)"),
        ("\"0d\"", "out of range (1 to 365 days)"),
        ("\"4 hours\"", "not a sign-in frequency"),
    ] {
        let s = src.replace(
            "sign_in_frequency = \"4h\"",
            &format!("sign_in_frequency = {bad}"),
        );
        let e = hmasim::scenario::parse(&s, "f.toml", hmasim::scenario::Format::Toml)
            .unwrap_err()
            .to_string();
        let line = src
            .lines()
            .position(|l| l.starts_with("sign_in_frequency"))
            .unwrap()
            + 1;
        assert!(e.starts_with(&format!("f.toml:{line}:")), "{e}");
        assert!(e.contains(why), "{e}");
    }
    // The CLI: exit 2, nothing on stdout.
    let d = std::env::temp_dir().join(format!("hmasim-sif-{}.toml", std::process::id()));
    std::fs::write(&d, src.replace("\"4h\"", "\"25h\"")).unwrap();
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_hmasim"))
        .arg("run")
        .arg(&d)
        .output()
        .unwrap();
    let _ = std::fs::remove_file(&d);
    assert_eq!(o.status.code(), Some(2));
    assert!(o.stdout.is_empty());
}

#[test]
fn verify_keeps_its_verdicts_a_sign_in_frequency_only_shortens_sessions() {
    use hmasim::scenario::{Action, ActionKind, Span};
    use hmasim::sim::verify::verify;
    // Two epochs: the MFA policy is turned off at 3h, so the continued session (signed
    // in at 0 and followed to 3h40m) outlives a 1-hour sign-in frequency.
    let mut sc = fixture();
    sc.timeline.retain(|a| a.at.0 == 0);
    let mut off = Action::on_client(Span(3 * H), ActionKind::Set, "");
    off.client = None;
    off.key = Some("conditional_access.0.state".into());
    off.value = Some("disabled".into());
    sc.timeline.push(off);
    sc.verify.clients = vec![hmasim::scenario::ClientKind::OutlookDesktop];
    let mut with = sc.clone();
    with.conditional_access[0].sign_in_frequency = Some(SignInFrequency::Hours(1));
    let mut without = sc.clone();
    without.conditional_access[0].sign_in_frequency = None;
    let (a, b) = (verify(&with), verify(&without));
    assert_eq!(a.epochs.len(), 2);
    assert_eq!(a.verdict(), b.verdict());
    let verdicts = |v: &hmasim::sim::verify::Verification| {
        v.paths
            .iter()
            .map(|p| (p.path.clone(), p.epoch, p.verdict))
            .collect::<Vec<_>>()
    };
    assert_eq!(verdicts(&a), verdicts(&b));
    assert!(a.paths.iter().any(|p| p.path.continued));
    // The continued session really was cut short: its run shows the refusal.
    let c = a
        .paths
        .iter()
        .find(|p| p.path.continued && p.path.method.as_str() == "modern")
        .expect("a continued modern path");
    let t = hmasim::sim::run(
        &hmasim::sim::verify::path_scenario(&with, &c.path, c.epoch),
        true,
    );
    assert!(
        renewals(&t)
            .iter()
            .any(|(_, c)| c.as_deref() == Some("AADSTS70043")),
        "{:?}",
        renewals(&t)
    );
}

#[test]
fn whatif_shows_the_sign_in_frequency_of_the_policies_that_apply() {
    let p = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/sign-in-frequency.toml"
    );
    let run = |extra: &[&str]| {
        let o = std::process::Command::new(env!("CARGO_BIN_EXE_hmasim"))
            .args(["whatif", p, "--app", "exchange-online"])
            .args(extra)
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(0));
        String::from_utf8(o.stdout).unwrap()
    };
    let text = run(&["--client-app", "mobileAppsAndDesktopClients"]);
    assert!(
        text.contains("; requires mfa; session: sign-in frequency 4h\n"),
        "{text}"
    );
    let v: serde_json::Value = serde_json::from_str(&run(&[
        "--client-app",
        "mobileAppsAndDesktopClients",
        "--format",
        "json",
    ]))
    .unwrap();
    assert_eq!(v["policies"][0]["sign_in_frequency"], "4h");
    // A policy that does not apply shortens nothing: no session line.
    let text = run(&["--client-app", "browser"]);
    assert!(!text.contains("session:"), "{text}");
}
