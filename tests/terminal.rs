//! Terminal safety: control characters from any input (a scenario's name and summary, a
//! UPN, a client id, a Graph policy's displayName, a `--set` value, the scenario argument)
//! reach standard output and standard error escaped (`\u{1b}`), in every text output, the
//! logs and the error messages; never raw.

use std::path::PathBuf;
use std::process::Command;

fn tmpdir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("hmasim-terminal-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Standard output and standard error of the binary.
fn hmasim(args: &[&str]) -> (String, String) {
    let o = Command::new(env!("CARGO_BIN_EXE_hmasim"))
        .args(args)
        .env_remove("RUST_LOG")
        .output()
        .expect("the binary runs");
    assert!(
        matches!(o.status.code(), Some(0..=2)),
        "hmasim {args:?}: {:?}",
        o.status
    );
    (
        String::from_utf8(o.stdout).expect("UTF-8 output"),
        String::from_utf8(o.stderr).expect("UTF-8 errors"),
    )
}

/// The raw control characters (other than line feeds) in `text`.
fn raw_controls(text: &str) -> Vec<String> {
    text.chars()
        .filter(|c| c.is_control() && *c != '\n')
        .map(|c| format!("{:?}", c))
        .collect()
}

fn assert_safe(what: &str, text: &str) {
    let raw = raw_controls(text);
    assert!(
        raw.is_empty(),
        "{what}: raw control characters {raw:?} in:\n{text}"
    );
}

/// A scenario whose name, summary, UPN and client id carry ESC, BEL and CR.
fn hostile_scenario(dir: &std::path::Path) -> PathBuf {
    let src = hmasim::scenario::BUNDLED
        .iter()
        .find(|b| b.name == "desktop-exo-ca")
        .unwrap()
        .source
        .replacen(
            "name = \"desktop-exo-ca\"",
            "name = \"evil\\u001b[2J\\u0007\\rname\"",
            1,
        )
        .replacen("summary = \"", "summary = \"\\u001b]0;title\\u0007 \\r", 1)
        .replace("test@contoso.com", "te\\u001b[31mst\\u0007\\r@contoso.com")
        .replace(
            "kind = \"outlook-desktop\"",
            "kind = \"outlook-desktop\"\nid = \"desk\\u001b[1mtop\\u0007\"",
        )
        .replace(
            "client = \"outlook-desktop\"",
            "client = \"desk\\u001b[1mtop\\u0007\"",
        );
    let f = dir.join("hostile.toml");
    std::fs::write(&f, src).unwrap();
    f
}

/// Graph policies whose displayName carries ESC, BEL and CR.
fn hostile_policies(dir: &std::path::Path) -> PathBuf {
    let src = std::fs::read_to_string(
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/graph/unmodelled.json"),
    )
    .unwrap()
    .replacen(
        "\"displayName\": \"CA020",
        "\"displayName\": \"\\u001b[5mCA020\\u0007\\r",
        1,
    );
    assert!(src.contains("\\u001b[5mCA020"));
    let f = dir.join("policies.json");
    std::fs::write(&f, src).unwrap();
    f
}

#[test]
fn hostile_names_upns_and_policy_names_are_shown_escaped() {
    let dir = tmpdir("hostile");
    let sc = hostile_scenario(&dir);
    let sc = sc.to_str().unwrap();
    let pol = hostile_policies(&dir);
    let pol = pol.to_str().unwrap();
    // The file is a valid scenario: what follows runs it, it does not reject it.
    let (check, err) = hmasim(&["check", sc]);
    assert!(check.contains(": valid ("), "{check}{err}");
    let mut outputs: Vec<(String, String, String)> = Vec::new();
    for args in [
        vec!["run", sc],
        vec!["run", sc, "--format", "mermaid"],
        vec!["run", sc, "--format", "json"],
        vec!["run", sc, "-vv"],
        vec!["run", sc, "--ca-policies", pol],
        vec!["check", sc],
        vec!["verify", sc],
        vec!["verify", sc, "--ca-policies", pol],
        vec!["diff", sc, "--ca-policies-after", pol],
        vec![
            "whatif",
            sc,
            "--app",
            "exchange-online",
            "--client-app",
            "browser",
            "--ca-policies",
            pol,
        ],
        vec![
            "whatif",
            sc,
            "--app",
            "exchange-online",
            "--client-app",
            "browser",
        ],
    ] {
        let (out, err) = hmasim(&args);
        outputs.push((args.join(" "), out, err));
    }
    for (what, out, err) in &outputs {
        assert_safe(&format!("{what} (stdout)"), out);
        assert_safe(&format!("{what} (stderr)"), err);
    }
    // Shown escaped, not dropped: the reader sees what the input holds.
    let run_text = &outputs[0].1;
    assert!(
        run_text.starts_with("hmasim evil\\u{1b}[2J\\u{7}\\u{d}name: \\u{1b}]0;title\\u{7} \\u{d}"),
        "{run_text}"
    );
    // Bodies are shown as JSON, which escapes them its own way.
    assert!(
        run_text.contains("te\\u001b[31mst\\u0007\\r@contoso.com"),
        "{run_text}"
    );
    let verify_text = &outputs[6].1;
    assert!(
        verify_text.contains("te\\u{1b}[31mst\\u{7}\\u{d}@contoso.com"),
        "{verify_text}"
    );
    assert!(run_text.contains("desk\\u{1b}[1mtop\\u{7}"), "{run_text}");
    let whatif = &outputs[9].1;
    assert!(whatif.contains("\\u{1b}[5mCA020\\u{7}\\u{d}"), "{whatif}");
    let verify = &outputs[7].1;
    assert!(verify.contains("\\u{1b}[5mCA020"), "{verify}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn error_messages_escape_what_they_echo() {
    let dir = tmpdir("errors");
    let sc = hostile_scenario(&dir);
    let sc = sc.to_str().unwrap();
    for args in [
        vec!["run", "no-such\u{1b}[2J\u{7}\r-scenario"],
        vec![
            "run",
            "web-exo",
            "--set",
            "identity.model=ph\u{1b}[31ms\u{7}\r",
        ],
        vec!["run", "web-exo", "--set", "no\u{1b}such.key=1"],
        vec!["check", sc, "--set", "clients.0.user=nobody\u{1b}@x"],
        vec!["run", "web-exo", "--format", "te\u{1b}xt\u{7}"],
        vec![
            "whatif",
            "web-exo",
            "--app",
            "evil\u{1b}app",
            "--client-app",
            "browser",
        ],
    ] {
        let (out, err) = hmasim(&args);
        assert!(err.contains("error"), "{args:?}: {err}");
        assert_safe(&format!("{args:?} (stderr)"), &err);
        assert_safe(&format!("{args:?} (stdout)"), &out);
    }
    let _ = std::fs::remove_dir_all(&dir);
}
