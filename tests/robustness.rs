//! Robustness: whatever a user writes in a scenario file or a `--set`, hmasim either runs it
//! to an outcome or refuses it with one clean, located message. Never a panic.
//!
//! - mutated bundled scenarios (lines deleted, duplicated, swapped, values replaced by
//!   random tokens, text truncated), as TOML and as JSON, through the parser;
//! - bundled scenarios under random `--set` overrides of real keys with valid and invalid
//!   values, through the parser and a whole run, with the MFA verdict checked against the
//!   tokens that actually reached mailbox data;
//! - the minimized inputs the fuzzers found (`tests/regressions/`), replayed.
//!
//! A panic anywhere fails the property (proptest catches it, shrinks the input and reports
//! it). `PROPTEST_CASES=2000 cargo test --test robustness` for a long run; the fuzz targets
//! in `fuzz/` go further (docs/fuzzing.md).

use std::collections::BTreeMap;

use hmasim::protocol::Kind;
use hmasim::scenario::{apply_set, parse, ErrorOrigin, Format, Scenario, Span, BUNDLED};
use hmasim::sim::Trace;
use proptest::prelude::*;
use proptest::sample::Index;

/// Each run is capped like the `whole_run` fuzz target, so a generated scenario with a
/// day-long duration cannot make the suite slow.
const MAX_DURATION_MS: u64 = 3_600_000;
const MAX_EVENTS: u64 = 20_000;

/// `n` cases; the PROPTEST_CASES environment variable overrides it (proptest's rule: CI
/// sets 64, a long run 20000).
fn cases(n: u32) -> ProptestConfig {
    ProptestConfig {
        cases: n,
        // Found failures become named regression tests below, not files in the tree.
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

// ---------------------------------------------------------------------------------------
// (a) Mutated texts through the parser.

/// Values a hand edit or a bad merge could leave in a scenario file.
const TOKENS: &[&str] = &[
    "",
    "0",
    "-1",
    "1.5",
    "nan",
    "18446744073709551615",
    "18446744073709551616",
    "\"\"",
    "\"x\"",
    "\"0s\"",
    "\"1h\"",
    "\"213503982334601d\"",
    "\"18446744073709551615ms\"",
    "\"-5s\"",
    "\"5 parsecs\"",
    "true",
    "false",
    "[]",
    "[\"mfa\"]",
    "[1, 2]",
    "{}",
    "{ a = 1 }",
    "\"federated\"",
    "\"phs\"",
    "\"onprem\"",
    "\"outlook-mobile\"",
    "\"test@contoso.com\"",
    "\"contoso\"",
    "\"ü🦀é\"",
    "🦀",
    "'''",
    "\"\"\"",
    "[[",
    "]",
    "=",
    "\"\\u00e9\"",
    "\"\\x\"",
    "1979-05-27T07:32:00Z",
];

#[derive(Clone, Debug)]
enum Edit {
    Delete(Index),
    Duplicate(Index),
    Swap(Index, Index),
    /// Replaces what follows the first `=` (or `:` in JSON) of a line.
    ReplaceValue(Index, String),
    /// Inserts a random line.
    Insert(Index, String),
    /// Cuts the text at a char boundary.
    Truncate(Index),
}

fn token() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => prop::sample::select(TOKENS).prop_map(str::to_string),
        1 => "[ -~]{0,12}",
        1 => any::<String>().prop_map(|s| s.chars().take(8).collect()),
    ]
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        3 => any::<Index>().prop_map(Edit::Delete),
        2 => any::<Index>().prop_map(Edit::Duplicate),
        2 => (any::<Index>(), any::<Index>()).prop_map(|(a, b)| Edit::Swap(a, b)),
        4 => (any::<Index>(), token()).prop_map(|(i, t)| Edit::ReplaceValue(i, t)),
        1 => (any::<Index>(), prop_oneof![
                token(),
                Just("[x]".to_string()),
                Just("[[users]]".to_string()),
                Just("[tenant]".to_string()),
                Just("unknown_key = 1".to_string()),
                Just("seed = -3".to_string()),
            ]).prop_map(|(i, t)| Edit::Insert(i, t)),
        1 => any::<Index>().prop_map(Edit::Truncate),
    ]
}

fn mutate(src: &str, edits: &[Edit], sep: char) -> String {
    let mut lines: Vec<String> = src.lines().map(str::to_string).collect();
    let mut cut = None;
    for e in edits {
        if lines.is_empty() {
            break;
        }
        let n = lines.len();
        match e {
            Edit::Delete(i) => {
                lines.remove(i.index(n));
            }
            Edit::Duplicate(i) => {
                let l = lines[i.index(n)].clone();
                lines.insert(i.index(n), l);
            }
            Edit::Swap(a, b) => lines.swap(a.index(n), b.index(n)),
            Edit::ReplaceValue(i, t) => {
                let l = &mut lines[i.index(n)];
                if let Some(p) = l.find(sep) {
                    l.truncate(p + 1);
                    l.push(' ');
                    l.push_str(t);
                }
            }
            Edit::Insert(i, t) => lines.insert(i.index(n + 1), t.clone()),
            Edit::Truncate(i) => cut = Some(*i),
        }
    }
    let mut text = lines.join("\n");
    text.push('\n');
    if let Some(i) = cut {
        let mut at = i.index(text.len() + 1);
        while !text.is_char_boundary(at) {
            at -= 1;
        }
        text.truncate(at);
    }
    text
}

/// Known bug (reported, see `bug_validation_error_without_line_when_value_is_spelled_differently`):
/// a cross-reference or range error found after parsing is placed by searching the text
/// for the value as the program prints it, so a value written differently (an escape such
/// as `"\u00e9"`, `"120s"` printed as `2m`) yields a message without line:col. Only that
/// kind of error is let through here; set to `false` once fixed.
const TOLERATE_UNLOCATED_VALIDATION_ERRORS: bool = false;

/// Errors from `Scenario::validate` render as "MESSAGE (at `dotted.path`)".
fn is_validation_error(e: &hmasim::scenario::ScenarioError) -> bool {
    e.message.ends_with("`)") && e.message.contains(" (at `")
}

/// The contract's bad-input message: it names the file and, in a file, the line and column.
fn assert_clean_file_error(text: &str, origin: &str, format: Format) -> Result<(), TestCaseError> {
    match parse(text, origin, format) {
        Ok(sc) => {
            prop_assert!(sc.validate().is_ok(), "parse accepted an invalid scenario");
        }
        Err(e) => {
            let msg = e.to_string();
            prop_assert_eq!(&e.origin, &ErrorOrigin::File(origin.to_string()));
            prop_assert!(msg.starts_with(origin), "the file is not named: {}", msg);
            prop_assert!(!e.message.is_empty(), "no message: {}", msg);
            let Some((line, col)) = e.position else {
                if TOLERATE_UNLOCATED_VALIDATION_ERRORS && is_validation_error(&e) {
                    return Ok(());
                }
                return Err(TestCaseError::fail(format!(
                    "no line:col in the error of a {format:?} file:\n{msg}\n--- input ---\n{text}"
                )));
            };
            prop_assert!(
                msg.starts_with(&format!("{origin}:{line}:{col}: ")),
                "line:col not in the message: {}",
                msg
            );
            prop_assert!(line >= 1 && col >= 1);
            prop_assert!(
                line <= text.lines().count().max(1) + 1,
                "line {} past the end",
                line
            );
        }
    }
    Ok(())
}

fn bundled_source() -> impl Strategy<Value = &'static hmasim::scenario::Bundled> {
    prop::sample::select(BUNDLED.iter().collect::<Vec<_>>())
}

proptest! {
    #![proptest_config(cases(1024))]

    #[test]
    fn mutated_toml_parses_or_fails_with_a_located_message(
        b in bundled_source(),
        edits in prop::collection::vec(edit(), 1..6),
    ) {
        let text = mutate(b.source, &edits, '=');
        assert_clean_file_error(&text, "mutated.toml", Format::Toml)?;
    }

    #[test]
    fn mutated_json_parses_or_fails_with_a_located_message(
        b in bundled_source(),
        edits in prop::collection::vec(edit(), 1..6),
    ) {
        let sc = parse(b.source, b.name, Format::Toml).unwrap();
        let json = serde_json::to_string_pretty(&sc).unwrap();
        let text = mutate(&json, &edits, ':');
        assert_clean_file_error(&text, "mutated.json", Format::Json)?;
    }
}

// ---------------------------------------------------------------------------------------
// (b) Real keys, valid and invalid values, through `--set` and a whole run.

/// Real keys with values that are valid for them (other values come from `TOKENS` and the
/// other keys' lists, which are mostly invalid here).
const KEYS: &[(&str, &[&str])] = &[
    ("identity.model", &["federated", "phs", "pta"]),
    ("users.0.mailbox", &["online", "onprem"]),
    ("users.0.mfa_registered", &["true", "false"]),
    ("users.0.groups", &["[]", "[\"Staff\"]"]),
    (
        "users.0.upn",
        &["test@contoso.com", "TEST@contoso.com", "other@fabrikam.com"],
    ),
    ("clients.0.location", &["internal", "external"]),
    (
        "clients.0.device",
        &["unmanaged", "compliant", "domain-joined"],
    ),
    (
        "clients.0.platform",
        &["windows", "macos", "ios", "android"],
    ),
    (
        "clients.0.kind",
        &["outlook-desktop", "outlook-mobile", "browser"],
    ),
    ("load_balancer.tls", &["bridging", "offloading"]),
    (
        "onprem.evosts_default_authorization_endpoint",
        &["true", "false"],
    ),
    ("onprem.hybrid_modern_auth", &["true", "false"]),
    ("onprem.publishing", &["wap", "direct"]),
    ("onprem.owa_adfs_claims", &["true", "false"]),
    (
        "onprem.mail_host",
        &["mail.contoso.com", "owa.contoso.com", "\"\""],
    ),
    (
        "onprem.autodiscover_host",
        &["autodiscover.contoso.com", "x"],
    ),
    (
        "adfs.office365_policy",
        &[
            "permit-everyone",
            "require-mfa",
            "require-mfa-extranet",
            "require-mfa-group",
        ],
    ),
    (
        "adfs.owa_policy",
        &[
            "permit-everyone",
            "require-mfa",
            "require-mfa-extranet",
            "require-mfa-group",
        ],
    ),
    ("adfs.mfa_group", &["Staff", "Nobody"]),
    ("entra.accept_adfs_mfa", &["true", "false"]),
    (
        "entra.access_token_lifetime",
        &["1h", "1s", "10m", "18446744073709551615ms"],
    ),
    (
        "entra.refresh_token_lifetime",
        &["14d", "1h", "18446744073709551615"],
    ),
    (
        "conditional_access.0.state",
        &["enabled", "disabled", "enabledForReportingButNotEnforced"],
    ),
    (
        "conditional_access.0.grant",
        &[
            "[\"mfa\"]",
            "[]",
            "[\"block\"]",
            "[\"compliantDevice\"]",
            "[\"approvedApplication\", \"mfa\"]",
        ],
    ),
    ("conditional_access.0.operator", &["AND", "OR"]),
    (
        "conditional_access.0.client_app_types",
        &["[\"all\"]", "[\"browser\"]", "[\"other\"]"],
    ),
    (
        "network.latency_ms",
        &["0", "1", "20", "500", "100000", "18446744073709551615"],
    ),
    (
        "network.jitter_ms",
        &["0", "5", "40", "100000", "18446744073709551615"],
    ),
    ("seed", &["0", "1", "42", "18446744073709551615"]),
    ("run.duration", &["1ms", "1s", "15m", "1h", "14d"]),
    ("run.max_events", &["0", "1", "10", "100", "1000000"]),
    ("timeline.0.at", &["0s", "1m", "2h"]),
    ("tenant.domain", &["contoso.com", "fabrikam.com"]),
    ("flow", &["mobile-onprem-hma", "web-exo", "desktop-exo-ca"]),
];

/// Keys that do not exist, or do not point at a value.
const BAD_KEYS: &[&str] = &[
    "",
    ".",
    "identity..model",
    "identity.modle",
    "identity.model.x",
    "users.9.mailbox",
    "users.-1.mailbox",
    "users.x.mailbox",
    "users.00.mailbox",
    "conditional_access.7.state",
    "seed.x",
    "network",
    "users",
];

#[derive(Clone, Debug)]
struct SetArg(String);

fn set_arg() -> impl Strategy<Value = SetArg> {
    let key = (0..KEYS.len()).prop_flat_map(|k| {
        let (key, valid) = KEYS[k];
        prop_oneof![
            3 => prop::sample::select(valid).prop_map(move |v| format!("{key}={v}")),
            1 => token().prop_map(move |v| format!("{key}={v}")),
            1 => prop::sample::select(KEYS).prop_flat_map(move |(_, other)| {
                prop::sample::select(other).prop_map(move |v| format!("{key}={v}"))
            }),
            1 => any::<u64>().prop_map(move |v| format!("{key}={v}")),
        ]
    });
    prop_oneof![
        12 => key,
        1 => (prop::sample::select(BAD_KEYS), token()).prop_map(|(k, v)| format!("{k}={v}")),
        1 => token(),
        1 => prop::sample::select(KEYS).prop_map(|(k, _)| format!(" {k} = ")),
    ]
    .prop_map(SetArg)
}

/// The tokens that authorized mailbox data, read off the recorded events: the token of
/// each request answered with a mailbox body (None for a request that carried none).
fn tokens_that_reached_data(t: &Trace) -> Vec<Option<String>> {
    let mut carried = BTreeMap::new();
    let mut out = Vec::new();
    for e in t.events.iter().filter(|e| !e.dropped) {
        match e.msg.kind {
            Kind::Request => {
                carried.insert((e.from, e.to, e.msg.conv), e.msg.meta.token.clone());
            }
            Kind::Response | Kind::Redirect => {
                let token = carried.remove(&(e.to, e.from, e.msg.conv)).flatten();
                if e.msg.carries_mailbox() && !out.contains(&token) {
                    out.push(token);
                }
            }
            _ => {}
        }
    }
    out
}

fn capped(mut sc: Scenario) -> Scenario {
    sc.run.duration = Span(sc.run.duration.ms().min(MAX_DURATION_MS));
    sc.run.max_events = sc.run.max_events.min(MAX_EVENTS);
    sc
}

/// A whole run that must not panic, checked against the contract's trace.
fn run_and_check(sc: &Scenario) -> Result<Trace, TestCaseError> {
    let t = hmasim::sim::run(sc, true);
    for (i, e) in t.events.iter().enumerate() {
        prop_assert_eq!(e.seq, i as u64);
    }
    prop_assert!(
        t.events.windows(2).all(|w| w[0].t_ms <= w[1].t_ms),
        "events out of simulated-time order"
    );
    let o = &t.outcome;
    prop_assert!(!o.mfa_satisfied || o.mailbox_access);
    prop_assert!(
        !o.mailbox_access || o.served_by.is_some(),
        "access but no server"
    );
    if o.mailbox_access {
        let data = tokens_that_reached_data(&t);
        let mfa = |id: &Option<String>| {
            id.as_ref().is_some_and(|id| {
                t.tokens
                    .iter()
                    .any(|tk| &tk.id == id && tk.amr.iter().any(|m| m == "mfa"))
            })
        };
        prop_assert!(
            !data.is_empty(),
            "mailbox access without any mailbox data event"
        );
        if o.mfa_satisfied {
            prop_assert!(
                data.iter().any(mfa),
                "MFA satisfied but no token that reached data has amr mfa: {:?}",
                data
            );
            prop_assert!(
                data.iter().all(mfa),
                "MFA satisfied but some data went out on a token without mfa: {:?}",
                data
            );
        } else {
            prop_assert!(
                !data.iter().all(mfa),
                "MFA not satisfied though every token that reached data has mfa: {:?}",
                data
            );
        }
    }
    // The three renderings render.
    prop_assert!(t.to_json().starts_with("{\n"), "JSON is an object");
    prop_assert!(t.to_text().contains("VERDICT: "));
    prop_assert!(t.to_mermaid().starts_with("sequenceDiagram\n"));
    Ok(t)
}

proptest! {
    #![proptest_config(cases(512))]

    #[test]
    fn random_overrides_run_or_fail_cleanly(
        b in bundled_source(),
        sets in prop::collection::vec(set_arg(), 1..5),
    ) {
        let mut sc = parse(b.source, b.name, Format::Toml).unwrap();
        for SetArg(arg) in &sets {
            let before = sc.clone();
            match apply_set(&mut sc, arg) {
                Ok(()) => prop_assert!(sc.validate().is_ok(), "--set {} left an invalid scenario", arg),
                Err(e) => {
                    // One clean message naming the argument; the scenario is untouched.
                    prop_assert_eq!(&e.origin, &ErrorOrigin::Set(arg.clone()));
                    let msg = e.to_string();
                    let head = format!("--set {arg}: ");
                    prop_assert!(msg.starts_with(&head), "{}", msg);
                    prop_assert!(!e.message.is_empty());
                    prop_assert_eq!(&sc, &before, "a rejected --set changed the scenario");
                }
            }
        }
        run_and_check(&capped(sc))?;
    }
}

// ---------------------------------------------------------------------------------------
// Honest oracles: the checks above can fail.

#[test]
fn the_data_token_oracle_sees_the_tokens_of_the_default_flow() {
    let sc = hmasim::scenario::load("mobile-onprem-hma").unwrap();
    let t = run_and_check(&sc).unwrap();
    let data = tokens_that_reached_data(&t);
    assert!(data.contains(&Some("AT2".to_string())), "{data:?}");
    // Without MFA (PHS leaves the desktop AD FS MFA out), the oracle sees a token without mfa.
    let mut sc = hmasim::scenario::load("desktop-exo-adfs-mfa").unwrap();
    apply_set(&mut sc, "identity.model=phs").unwrap();
    let t = run_and_check(&sc).unwrap();
    assert!(t.outcome.mailbox_access && !t.outcome.mfa_satisfied);
}

#[test]
fn a_mutation_that_breaks_the_syntax_is_located() {
    let text = format!("[[\n{}", BUNDLED[0].source);
    let e = parse(&text, "m.toml", Format::Toml).unwrap_err();
    assert_eq!(e.position.map(|p| p.0), Some(1), "{e}");
    assert!(e.to_string().starts_with("m.toml:1:"), "{e}");
}

// ---------------------------------------------------------------------------------------
// Bugs found by the properties above, minimized.

/// A tenant whose domain is written with an escape (`"\u00e9"` is `é`, not a DNS domain).
const ESCAPED_DOMAIN: &str = include_str!("regressions/escaped-domain.toml");

/// A timeline out of order, the later entry written `60s` (printed `1m`).
const TIMELINE_60S: &str = include_str!("regressions/timeline-60s.toml");

#[test]
fn validation_errors_are_located_when_the_value_is_written_as_printed() {
    // The same two errors, with the values spelled as the program prints them: located.
    let plain = ESCAPED_DOMAIN.replace("\\u00e9", "é");
    assert_ne!(plain, ESCAPED_DOMAIN);
    let e = parse(&plain, "d.toml", Format::Toml).unwrap_err();
    assert_eq!(e.position.map(|p| p.0), Some(6), "{e}");
    let plain = TIMELINE_60S.replace("\"60s\"", "\"1m\"");
    assert_ne!(plain, TIMELINE_60S);
    let e = parse(&plain, "t.toml", Format::Toml).unwrap_err();
    assert!(e.message.contains("out of order"), "{e}");
    assert_eq!(e.position.map(|p| p.0), Some(16), "{e}");
}

#[test]
fn bug_validation_error_without_line_when_value_is_spelled_differently() {
    // Contract: bad input is one message naming the file, line and column.
    let e = parse(ESCAPED_DOMAIN, "d.toml", Format::Toml).unwrap_err();
    assert!(e.message.contains("not a DNS domain"), "{e}");
    assert_eq!(e.position.map(|p| p.0), Some(6), "{e}");
    let e = parse(TIMELINE_60S, "t.toml", Format::Toml).unwrap_err();
    assert!(e.message.contains("out of order"), "{e}");
    assert_eq!(e.position.map(|p| p.0), Some(16), "{e}");
}

/// Found by `mutated_json_parses_or_fails_with_a_located_message`: a JSON value written with
/// an escape (`"\u00e9"`) reads as `é`, which the text search for the value cannot find.
#[test]
fn a_json_validation_error_is_located_by_its_path_whatever_the_escapes() {
    let src = r#"{
  "name": "x",
  "tenant": {"domain": "contoso.com", "tenant_id": "4b3f0b6e-9d1c-4c56-8a2e-6f0d3c1b7a92"},
  "identity": {"model": "phs"},
  "users": [{"upn": "test@contoso.com", "mailbox": "online"}],
  "clients": [{"kind": "browser", "user": "test@contoso.com"}],
  "timeline": [{"at": "0ms", "do": "open-owa", "client": "\u00e9"}]
}"#;
    let e = parse(src, "e.json", Format::Json).unwrap_err();
    assert!(e.message.contains("unknown client `é`"), "{e}");
    assert_eq!(e.position, Some((7, 58)), "{e}");
}

// ---------------------------------------------------------------------------------------
// Minimized inputs that once broke something (tests/regressions/, see docs/fuzzing.md):
// crashes the fuzzers find go there, and so do the inputs of the bugs above.

#[test]
fn regression_inputs_parse_or_fail_cleanly_and_run() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/regressions");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .map(|d| d.filter_map(Result::ok).map(|e| e.path()).collect())
        .unwrap_or_default();
    files.sort();
    assert!(
        files.len() >= 2,
        "the regression inputs are missing from {}",
        dir.display()
    );
    for f in files {
        let bytes = std::fs::read(&f).unwrap();
        let text = String::from_utf8_lossy(&bytes);
        let name = f.file_name().unwrap().to_string_lossy().into_owned();
        for format in [Format::Toml, Format::Json] {
            if let Ok(sc) = parse(&text, &name, format) {
                run_and_check(&capped(sc)).unwrap_or_else(|e| panic!("{name}: {e}"));
            } else {
                let e = parse(&text, &name, format).unwrap_err();
                assert!(e.to_string().starts_with(&name), "{name}: {e}");
            }
        }
    }
}
