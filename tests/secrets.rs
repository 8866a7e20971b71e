//! No secret in any output. Every output of every bundled scenario (run in the three
//! formats, with and without its fix, verify text, JSON and --dot, whatif, diff, check, the
//! logs at -vv and RUST_LOG=trace) is scanned for each password the scenario holds, in
//! clear, percent-encoded and in base64 (of the password at every alignment, and of
//! `upn:password`). A scenario file and `--set`s with distinctive passwords (a user's, a
//! timeline password change, a timeline `set`, a bad value echoed by an error) check the
//! paths bundled scenarios do not take, and the scan is shown to find those passwords in
//! the messages themselves, which keep the real credentials.

use std::path::PathBuf;
use std::process::Command;

use base64::Engine as _;
use hmasim::scenario::{self, secret, Scenario, BUNDLED};
use hmasim::sim;

mod common;

fn b64(s: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(s)
}

/// What a secret looks like wherever it could leak: in clear, percent-encoded, and the
/// part of a base64 text that encodes it whatever comes before it (three alignments), and
/// base64 of `upn:password` for each user.
fn needles(secrets: &[String], upns: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    for s in secrets {
        out.push(s.clone());
        let pct: String = s
            .bytes()
            .map(|b| {
                if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                    (b as char).to_string()
                } else {
                    format!("%{b:02X}")
                }
            })
            .collect();
        out.push(pct);
        for k in 0..3 {
            let enc = b64(&format!("{}{s}", "x".repeat(k)));
            // Drop the groups that mix in the prefix or the padding: what is left encodes
            // only the secret, whatever surrounds it.
            let start = if k == 0 { 0 } else { 4 };
            let end = enc.len().saturating_sub(4);
            if end > start + 4 {
                out.push(enc[start..end].to_string());
            }
        }
        for u in upns {
            out.push(b64(&format!("{u}:{s}")).trim_end_matches('=').to_string());
        }
    }
    out.sort();
    out.dedup();
    out
}

fn leaks(what: &str, text: &str, needles: &[String]) -> Vec<String> {
    needles
        .iter()
        .filter(|n| text.contains(n.as_str()))
        .map(|n| format!("{what}: contains `{n}`"))
        .collect()
}

fn hmasim(args: &[&str], env: &[(&str, &str)]) -> String {
    let mut c = Command::new(env!("CARGO_BIN_EXE_hmasim"));
    c.args(args).env_remove("RUST_LOG");
    for (k, v) in env {
        c.env(k, v);
    }
    let o = c.output().expect("the binary runs");
    assert!(
        matches!(o.status.code(), Some(0..=2)),
        "hmasim {args:?}: {:?}",
        o.status
    );
    format!(
        "{}\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn tmpdir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("hmasim-secrets-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Environment variables of one command.
type Env = Vec<(&'static str, &'static str)>;

/// Every output of the binary for `scenario` with `sets`, concatenated, labelled.
fn every_output(
    scenario: &str,
    sets: &[&str],
    fix: bool,
    dir: &std::path::Path,
) -> Vec<(String, String)> {
    let mut set_args: Vec<&str> = Vec::new();
    for s in sets {
        set_args.extend(["--set", s]);
    }
    let with = |base: &[&str]| -> Vec<String> {
        base.iter()
            .map(|s| s.to_string())
            .chain(set_args.iter().map(|s| s.to_string()))
            .collect()
    };
    let dot = dir.join("tree.dot");
    let dot_s = dot.to_str().unwrap().to_string();
    let mut runs: Vec<(Vec<String>, Env)> = vec![
        (with(&["run", scenario]), vec![]),
        (with(&["run", scenario, "--format", "json"]), vec![]),
        (with(&["run", scenario, "--format", "mermaid"]), vec![]),
        (with(&["run", scenario, "-vv"]), vec![]),
        (with(&["run", scenario]), vec![("RUST_LOG", "trace")]),
        (with(&["verify", scenario, "--dot", &dot_s]), vec![]),
        (
            with(&["verify", scenario, "--format", "json", "-vv"]),
            vec![],
        ),
        (with(&["check", scenario]), vec![]),
        (
            with(&[
                "whatif",
                scenario,
                "--app",
                "exchange-online",
                "--client-app",
                "other",
            ]),
            vec![],
        ),
        (
            with(&[
                "whatif",
                scenario,
                "--app",
                "office365",
                "--client-app",
                "browser",
                "--format",
                "json",
            ]),
            vec![],
        ),
    ];
    if fix {
        runs.push((with(&["run", scenario, "--apply-fix"]), vec![]));
        runs.push((
            with(&["run", scenario, "--apply-fix", "--format", "json"]),
            vec![],
        ));
        runs.push((
            with(&["run", scenario, "--apply-fix", "--format", "mermaid"]),
            vec![],
        ));
    }
    // diff takes its overrides as --set-after.
    let mut diff: Vec<String> = vec!["diff".into(), scenario.into()];
    for s in sets {
        diff.extend(["--set-after".to_string(), s.to_string()]);
    }
    let mut diff_json = diff.clone();
    diff_json.extend(["--format".to_string(), "json".to_string()]);
    runs.push((diff, vec![]));
    runs.push((diff_json, vec![]));
    let mut out = Vec::new();
    for (args, env) in runs {
        let a: Vec<&str> = args.iter().map(String::as_str).collect();
        let text = hmasim(&a, &env);
        out.push((format!("hmasim {}", args.join(" ")), text));
        if args[0] == "verify" && dot.exists() {
            out.push(("--dot".into(), std::fs::read_to_string(&dot).unwrap()));
            let _ = std::fs::remove_file(&dot);
        }
    }
    out
}

/// The library's views of every counterexample verify finds (their traces go through the
/// paths that send Basic credentials).
fn counterexample_views(sc: &Scenario) -> Vec<(String, String)> {
    let v = sim::verify::verify(sc);
    let mut out = Vec::new();
    for c in &v.counterexamples {
        let what = format!("{} {} {}", sc.name, c.path.client.as_str(), c.path.method);
        out.push((format!("{what} text"), c.trace.to_text()));
        out.push((format!("{what} json"), c.trace.to_json()));
        out.push((format!("{what} mermaid"), c.trace.to_mermaid()));
    }
    out
}

fn secrets_and_upns(sc: &Scenario) -> (Vec<String>, Vec<String>) {
    let mut s = secret::secret_values(sc);
    if let Some(f) = &sc.fix {
        let mut fixed = sc.clone();
        fixed.fix = Some(f.clone());
        if scenario::apply_fix(&mut fixed).is_ok() {
            s.extend(secret::secret_values(&fixed));
        }
    }
    s.sort();
    s.dedup();
    (s, sc.users.iter().map(|u| u.upn.clone()).collect())
}

#[test]
fn no_bundled_scenario_output_shows_a_password() {
    let dir = tmpdir("bundled");
    let mut found = Vec::new();
    let mut basic_masked = false;
    let mut basic_text = false;
    for b in BUNDLED {
        let sc = scenario::load(b.name).unwrap();
        let (secrets, upns) = secrets_and_upns(&sc);
        assert!(!secrets.is_empty(), "{}: every user has a password", b.name);
        let needles = needles(&secrets, &upns);
        for (what, text) in every_output(b.name, &[], sc.fix.is_some(), &dir)
            .into_iter()
            .chain(counterexample_views(&sc))
        {
            basic_masked |= text.contains("Basic <masked credentials of test@contoso.com>");
            basic_text |= what.ends_with(" text")
                && text.contains("Authorization: Basic <masked credentials of test@contoso.com>");
            found.extend(leaks(&what, &text, &needles));
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    assert!(found.is_empty(), "secrets in output:\n{}", found.join("\n"));
    assert!(
        basic_masked,
        "a Basic path was rendered with its credentials masked and its user named"
    );
    assert!(
        basic_text,
        "the text view names the user of masked Basic credentials"
    );
}

const USER_PW: &str = "Zq7!Distinct-User-pw";
const CHANGE_PW: &str = "Tl8#Distinct-Change";
const SET_PW: &str = "Ts9-Distinct-Set";
const SECOND_PW: &str = "Sd4-Distinct-Second";

/// A tenant whose passwords all differ and reach every path a password takes: two users,
/// a password change, a timeline `set` of a password, Basic authentication on ActiveSync.
fn distinctive_scenario(dir: &std::path::Path) -> PathBuf {
    let src = BUNDLED
        .iter()
        .find(|b| b.name == "password-change-phs")
        .unwrap()
        .source
        .replace("N3w-Passw0rd!", CHANGE_PW)
        .replace(
            "[[users]]\nupn = \"test@contoso.com\"\nmailbox = \"online\"\n",
            &format!(
                "[[users]]\nupn = \"test@contoso.com\"\nmailbox = \"online\"\n\n[[users]]\nupn = \"second@contoso.com\"\npassword = \"{SECOND_PW}\"\nmailbox = \"online\"\n"
            ),
        )
        .replace(
            "[fix]",
            &format!(
                "[[timeline]]\nat = \"3h\"\ndo = \"set\"\nkey = \"users.1.password\"\nvalue = \"{SET_PW}\"\n\n[fix]"
            ),
        );
    assert!(src.contains(SECOND_PW) && src.contains(SET_PW) && src.contains(CHANGE_PW));
    let f = dir.join("distinct.toml");
    std::fs::write(&f, src).unwrap();
    f
}

#[test]
fn distinctive_passwords_from_files_sets_and_the_timeline_never_show() {
    let dir = tmpdir("distinct");
    let file = distinctive_scenario(&dir);
    let path = file.to_str().unwrap();
    let set = format!("users.0.password={USER_PW}");
    let all = [USER_PW, CHANGE_PW, SET_PW, SECOND_PW].map(String::from);
    let upns = [
        "test@contoso.com".to_string(),
        "second@contoso.com".to_string(),
    ];
    let needles = needles(&all, &upns);
    let mut outputs = every_output(path, &[&set], true, &dir);
    // The same through the library, with a Basic path (verify's counterexamples).
    let mut sc = scenario::load(path).unwrap();
    scenario::apply_set(&mut sc, &set).unwrap();
    for s in &all {
        assert!(
            secret::secret_values(&sc).contains(s) || s == USER_PW,
            "{s} is a secret of the scenario"
        );
    }
    outputs.extend(counterexample_views(&sc));
    // Errors that echo the value of a secret field: a wrong type on the command line (a
    // list: digits alone are text for a text field), and
    // in a file (its excerpt shows the line).
    outputs.push((
        "--set error".into(),
        hmasim(
            &["check", path, "--set", "users.1.password=[918273645]"],
            &[],
        ),
    ));
    let bad = dir.join("bad.toml");
    std::fs::write(
        &bad,
        std::fs::read_to_string(&file)
            .unwrap()
            .replace(&format!("\"{SECOND_PW}\""), "918273645"),
    )
    .unwrap();
    outputs.push((
        "file error".into(),
        hmasim(&["check", bad.to_str().unwrap()], &[]),
    ));
    // A timeline `set` of a password that cannot apply, and one of the wrong type: the
    // error shows the `value` line, whose key does not say it is a secret.
    let src = std::fs::read_to_string(&file).unwrap();
    for (name, from, to) in [
        ("bad-index", "users.1.password", "users.9.password"),
        ("bad-type", &*format!("\"{SET_PW}\""), "564738291"),
    ] {
        let f = dir.join(format!("{name}.toml"));
        assert!(src.contains(from));
        std::fs::write(&f, src.replace(from, to)).unwrap();
        outputs.push((
            format!("{name} error"),
            hmasim(&["check", f.to_str().unwrap()], &[]),
        ));
    }
    let needles_err = [
        needles.clone(),
        vec!["918273645".to_string(), "564738291".to_string()],
    ]
    .concat();
    let mut found = Vec::new();
    for (what, text) in &outputs {
        found.extend(leaks(what, text, &needles_err));
    }
    assert!(found.is_empty(), "secrets in output:\n{}", found.join("\n"));
    // The reproduce line masks the override and says what to supply.
    let text = &outputs[0].1;
    let line = text.lines().find(|l| l.starts_with("reproduce: ")).unwrap();
    assert!(
        line.contains("'users.0.password=********'")
            && line.ends_with("# masked: supply the value of users.0.password"),
        "{line}"
    );
    // The timeline `set` of a password is noted, masked.
    assert!(
        text.contains("configuration change: users.1.password=********"),
        "{text}"
    );
    // The errors were reported (exit 2), their value masked.
    for (what, text) in &outputs[outputs.len() - 4..] {
        assert!(
            text.contains("error: ") && text.contains("********"),
            "{what}: {text}"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_scan_finds_the_passwords_the_messages_keep() {
    // The messages keep the real credentials (the parties compare them, a live emulator
    // sends them): the same scan over the messages themselves finds every one, so a scan
    // that finds nothing in the output means something.
    let dir = tmpdir("messages");
    let file = distinctive_scenario(&dir);
    let mut sc = scenario::load(file.to_str().unwrap()).unwrap();
    scenario::apply_set(&mut sc, &format!("users.0.password={USER_PW}")).unwrap();
    let upns = [
        "test@contoso.com".to_string(),
        "second@contoso.com".to_string(),
    ];
    let mut raw = format!("{:?}", sim::run(&sc, true).events);
    for c in sim::verify::verify(&sc).counterexamples {
        raw.push_str(&format!("{:?}", c.trace.events));
    }
    for pw in [USER_PW, CHANGE_PW] {
        let n = needles(&[pw.to_string()], &upns);
        assert!(
            !leaks("messages", &raw, &n).is_empty(),
            "the messages carry {pw}, and the scan sees it"
        );
    }
    // Basic credentials on the wire are base64 of `upn:password`, which the scan knows.
    let basic = b64(&format!("test@contoso.com:{USER_PW}"));
    assert!(
        raw.contains(&basic),
        "a Basic path carries the real credentials"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// A native mail app over `protocol` with the distinctive password [`LINE_PW`].
fn line_scenario(dir: &std::path::Path, protocol: &str, mailbox: &str) -> PathBuf {
    let head = common::native_mail(
        &format!("line-secrets-{protocol}"),
        &format!("a mail app over {protocol}"),
        mailbox,
        LINE_PW,
        protocol,
    );
    let src = format!(
        r#"{head}
[onprem]
imap_enabled = true
pop_enabled = true

[[exchange_online.authentication_policies]]
name = "Allow IMAP and POP"
allow_basic_auth_imap = true
allow_basic_auth_pop = true

[exchange_online]
default_authentication_policy = "Allow IMAP and POP"
"#
    );
    let f = dir.join(format!("line-{protocol}-{mailbox}.toml"));
    std::fs::write(&f, src).unwrap();
    f
}

const LINE_PW: &str = "Imap-P0p-Pw!x7";

#[test]
fn imap_login_authenticate_plain_and_pop_pass_never_show_the_password() {
    let dir = tmpdir("line");
    let upns = ["u@contoso.com".to_string()];
    let needles = needles(&[LINE_PW.to_string()], &upns);
    let mut outputs = Vec::new();
    // IMAP `LOGIN` and POP `USER`/`PASS`, as the mail app sends them, through every
    // output of the binary, to both Exchanges.
    for (protocol, mailbox) in [
        ("imap", "online"),
        ("pop", "online"),
        ("imap", "onprem"),
        ("pop", "onprem"),
    ] {
        let f = line_scenario(&dir, protocol, mailbox);
        let sc = scenario::load(f.to_str().unwrap()).unwrap();
        let raw = format!("{:?}", sim::run(&sc, true).events);
        assert!(
            raw.contains(LINE_PW),
            "the {protocol} session carries the password on the wire"
        );
        if mailbox == "online" {
            outputs.extend(every_output(f.to_str().unwrap(), &[], false, &dir));
        } else {
            let t = sim::run(&sc, true);
            outputs.push((format!("{protocol} {mailbox} text"), t.to_text()));
            outputs.push((format!("{protocol} {mailbox} json"), t.to_json()));
            outputs.push((format!("{protocol} {mailbox} mermaid"), t.to_mermaid()));
        }
    }
    // IMAP `AUTHENTICATE PLAIN` (with SASL-IR, and after a continuation) and POP
    // `AUTH PLAIN`: hand-written sessions delivered to Exchange Online in a run.
    use hmasim::protocol::line::sasl::Plain;
    use hmasim::protocol::line::session::{Credential, LineExchange, LineProtocol};
    let f = line_scenario(&dir, "imap", "online");
    let sc = scenario::load(f.to_str().unwrap()).unwrap();
    let mut built = sim::build(&sc);
    let exo = built
        .names
        .iter()
        .position(|n| n == "exchange-online")
        .map(|i| hmasim::kernel::ActorId(i as u32))
        .unwrap();
    let client = built.clients[0];
    let pw = Credential::Password {
        user: "u@contoso.com".into(),
        password: LINE_PW.into(),
    };
    let plain = Plain {
        authzid: String::new(),
        user: "u@contoso.com".into(),
        password: LINE_PW.into(),
    }
    .encode();
    let sessions = [
        LineExchange::imap_authenticate(&pw),
        LineExchange::commands(
            LineProtocol::Imap,
            vec!["a1 AUTHENTICATE PLAIN".into(), plain, "a2 LOGOUT".into()],
        ),
        LineExchange::pop_authenticate(&pw),
    ];
    for (i, s) in sessions.into_iter().enumerate() {
        let url = hmasim::protocol::Url::line(s.protocol(), "outlook.office365.com");
        let msg = hmasim::protocol::Message::line_session(url, 900 + i as u64, s, "by hand");
        built.world.schedule(
            hmasim::kernel::SimTime::from_micros(1 + i as u64),
            client,
            exo,
            msg,
        );
    }
    let t = sim::run_built(&sc, built, true);
    assert!(format!("{:?}", t.events).contains("AUTHENTICATE PLAIN"));
    outputs.push(("AUTHENTICATE PLAIN text".into(), t.to_text()));
    outputs.push(("AUTHENTICATE PLAIN json".into(), t.to_json()));
    outputs.push(("AUTHENTICATE PLAIN mermaid".into(), t.to_mermaid()));
    assert!(t
        .to_text()
        .contains("<masked PLAIN credentials of u@contoso.com>"));
    let mut found = Vec::new();
    for (what, text) in &outputs {
        found.extend(leaks(what, text, &needles));
    }
    assert!(found.is_empty(), "{found:#?}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// Entra ID publishes its HS256 signing keys in a JWKS: the secret a token is signed with.
/// No output of any bundled scenario shows one (every generation a key roll could reach),
/// and the JSON trace shows the published set with its `k` masked.
#[test]
fn no_output_shows_a_published_signing_key() {
    use hmasim::protocol::jwt::SigningKey;
    let dir = tmpdir("jwks");
    let mut found = Vec::new();
    let mut published = false;
    for b in BUNDLED {
        let sc = scenario::load(b.name).unwrap();
        let derived: Vec<SigningKey> = (1..=4)
            .map(|g| SigningKey::derive("evosts", g, sc.seed))
            .collect();
        let keys: Vec<String> = derived.iter().map(|k| k.to_jwk().k).collect();
        for (what, text) in every_output(b.name, &[], false, &dir) {
            // The key ids are public: seeing one shows these are the keys the run used.
            published |= text.contains(r#""k": "********""#)
                && derived
                    .iter()
                    .any(|k| text.contains(&format!(r#""kid": "{}""#, k.kid)));
            found.extend(leaks(&what, &text, &keys));
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    assert!(
        found.is_empty(),
        "signing keys in output:\n{}",
        found.join("\n")
    );
    assert!(published, "some bundled trace shows the published key set");
}
