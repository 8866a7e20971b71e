//! The command line as users' scripts call it: exit codes, messages, output files.

use std::path::PathBuf;
use std::process::{Command, Output};

fn hmasim(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_hmasim"))
        .args(args)
        .output()
        .expect("the binary runs")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn tmpdir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("hmasim-cli-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[test]
fn no_arguments_runs_the_default_scenario() {
    let o = hmasim(&[]);
    assert_eq!(o.status.code(), Some(0));
    let out = String::from_utf8(o.stdout).unwrap();
    assert!(out.starts_with("hmasim mobile-onprem-hma:"));
    assert!(out.contains("[step 19]"));
    assert!(out.contains("VERDICT: mailbox access YES (served by exchange-onprem); MFA satisfied"));
}

#[test]
fn list_names_every_bundled_scenario() {
    let o = hmasim(&["list"]);
    assert_eq!(o.status.code(), Some(0));
    let out = String::from_utf8(o.stdout).unwrap();
    for b in hmasim::scenario::BUNDLED {
        assert!(out.lines().any(|l| l.starts_with(b.name)), "{}", b.name);
    }
    assert_eq!(out.lines().count(), hmasim::scenario::BUNDLED.len());
}

#[test]
fn check_accepts_valid_and_rejects_invalid() {
    assert_eq!(hmasim(&["check", "web-exo"]).status.code(), Some(0));
    let d = tmpdir("check");
    let bad = d.join("bad.toml");
    std::fs::write(&bad, "name = \"x\"\n[tenant]\ndomain = \"contoso.com\"\ntenant_id = \"t\"\n[identity]\nmodle = \"phs\"\n").unwrap();
    let o = hmasim(&["check", bad.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    let e = stderr(&o);
    assert!(e.contains("bad.toml:6:1: unknown field `modle`"), "{e}");
    assert!(e.contains("did you mean `identity.model`?"), "{e}");
    assert!(e.contains("6 | modle = \"phs\""), "{e}");
}

/// `check --topology` shows the world the scenario builds, from the same table the
/// simulator builds it from: the parties of a run's trace, the hosts each answers for, and
/// links that follow the configuration (publishing through the proxy or directly).
#[test]
fn check_topology_prints_the_table_the_world_is_built_from() {
    let o = hmasim(&["check", "mobile-onprem-hma", "--topology"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let text = String::from_utf8(o.stdout).unwrap();
    assert!(
        text.contains("parties:") && text.contains("links:"),
        "{text}"
    );
    let sc = hmasim::scenario::load("mobile-onprem-hma").unwrap();
    for name in &hmasim::sim::run(&sc, false).names {
        assert!(
            text.contains(&format!("  {name}  zone ")),
            "{name} listed: {text}"
        );
    }
    assert!(
        text.contains("outlook-mobile -> wap ")
            && !text.contains("outlook-mobile -> load-balancer "),
        "{text}"
    );

    let json = |sets: &[&str]| -> serde_json::Value {
        let mut args = vec![
            "check",
            "mobile-onprem-hma",
            "--topology",
            "--format",
            "json",
        ];
        for s in sets {
            args.extend(["--set", s]);
        }
        let o = hmasim(&args);
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        serde_json::from_slice(&o.stdout).expect("JSON")
    };
    let wap = json(&[]);
    assert_eq!(wap["format"], "hmasim-topology/1");
    let front = |v: &serde_json::Value| -> Vec<String> {
        v["links"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|l| {
                l["from"] == "outlook-mobile"
                    && l["hosts"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .any(|h| h == "mail.contoso.com")
            })
            .map(|l| l["to"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(front(&wap), vec!["wap"]);
    let direct = json(&["onprem.publishing=direct"]);
    assert_eq!(front(&direct), vec!["load-balancer"]);
    // A partition removes the link from the sender's view.
    let cut = json(&["network.partitions=[{from = \"outlook-mobile\", to = \"wap\"}]"]);
    assert_eq!(front(&cut), Vec::<String>::new());

    // The JSON format without the table is refused before any output.
    let o = hmasim(&["check", "mobile-onprem-hma", "--format", "json"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(o.stdout.is_empty());
}

#[test]
fn bad_input_is_one_located_message_and_exit_2() {
    let d = tmpdir("bad");
    let cases: [(&str, &str, &str); 6] = [
        ("syntax.toml", "name = \"x\"\n[tenant\n", "syntax.toml:2:"),
        ("type.toml", "name = 3\n", "type.toml:1:8: invalid type: integer `3`, expected a string"),
        ("missing.toml", "name = \"x\"\n", "missing field `tenant`"),
        ("enum.json", "{\"name\": \"x\", \"tenant\": {\"domain\": \"contoso.com\", \"tenant_id\": \"t\"}, \"identity\": {\"model\": \"adfs\"}, \"users\": [], \"clients\": []}", "enum.json:1:"),
        ("user.toml", include_str!("../scenarios/web-exo.toml"), ""),
        ("party.toml", "", ""),
    ];
    for (file, src, want) in cases.iter().take(4) {
        let p = d.join(file);
        std::fs::write(&p, src).unwrap();
        let o = hmasim(&["run", p.to_str().unwrap()]);
        assert_eq!(o.status.code(), Some(2), "{file}");
        assert!(o.stdout.is_empty(), "{file}: no output on bad input");
        let e = stderr(&o);
        assert!(e.starts_with("error: "), "{file}: {e}");
        assert!(e.contains(want), "{file}: expected {want:?} in {e}");
    }
    // A cross-reference error points at the line that holds the bad value.
    let src = cases[4].1.replace(
        "user = \"test@contoso.com\"",
        "user = \"nobody@contoso.com\"",
    );
    let p = d.join("user.toml");
    std::fs::write(&p, &src).unwrap();
    let o = hmasim(&["check", p.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    let line = src.lines().position(|l| l.contains("nobody@")).unwrap() + 1;
    assert!(
        stderr(&o).contains(&format!(
            "user.toml:{line}:9: unknown user `nobody@contoso.com`"
        )),
        "{}",
        stderr(&o)
    );
    // An unknown party in a link.
    let src = format!(
        "{}\n[[network.links]]\nfrom = \"browser\"\nto = \"exchange-onlin\"\nlatency_ms = 5\n",
        cases[4].1
    );
    let p = d.join("party.toml");
    std::fs::write(&p, &src).unwrap();
    let o = hmasim(&["check", p.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("unknown party `exchange-onlin`"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn unknown_scenario_and_bad_set_name_the_problem() {
    let o = hmasim(&["run", "mobile-onprem-hmx"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("did you mean `mobile-onprem-hma`?"),
        "{}",
        stderr(&o)
    );
    let o = hmasim(&["run", "web-exo", "--set", "identity.model=federatd"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("--set identity.model=federatd: unknown variant `federatd`"),
        "{}",
        stderr(&o)
    );
    let o = hmasim(&["run", "web-exo", "--set", "tenant.nope=1"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("unknown key `nope` in `tenant`"),
        "{}",
        stderr(&o)
    );
    let o = hmasim(&["run", "web-exo", "--set", "users.5.mailbox=online"]);
    assert!(
        stderr(&o).contains("`5` is not an index of `users`"),
        "{}",
        stderr(&o)
    );
    let o = hmasim(&["run", "web-exo", "--set", "noequals"]);
    assert_eq!(o.status.code(), Some(2));
    let o = hmasim(&["run", "web-exo", "--seed", "x"]);
    assert_eq!(o.status.code(), Some(2));
    let o = hmasim(&["run", "web-exo", "--format", "yaml"]);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn out_is_written_whole_or_not_at_all() {
    let d = tmpdir("out");
    let f = d.join("trace.json");
    let o = hmasim(&[
        "run",
        "web-exo",
        "--format",
        "json",
        "--out",
        f.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0));
    assert!(o.stdout.is_empty());
    let v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&f).unwrap()).unwrap();
    assert_eq!(v["scenario"], "web-exo");
    // Bad input: the existing file is untouched and no temporary file remains.
    let before = std::fs::read(&f).unwrap();
    let o = hmasim(&[
        "run",
        "web-exo",
        "--set",
        "seed=-1",
        "--out",
        f.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(std::fs::read(&f).unwrap(), before);
    assert_eq!(
        std::fs::read_dir(&d).unwrap().count(),
        1,
        "no temporary file left behind"
    );
    // A directory that does not exist is a clear error.
    let missing = d.join("no/such/dir/trace.json");
    let o = hmasim(&["run", "web-exo", "--out", missing.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("does not exist"), "{}", stderr(&o));
}

#[test]
fn formats_show_the_same_run() {
    let json = hmasim(&["run", "desktop-onprem-ca", "--format", "json"]);
    let text = hmasim(&["run", "desktop-onprem-ca"]);
    let mermaid = hmasim(&["run", "desktop-onprem-ca", "--format", "mermaid"]);
    let v: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    let n = v["events"].as_array().unwrap().len();
    let text = String::from_utf8(text.stdout).unwrap();
    let mermaid = String::from_utf8(mermaid.stdout).unwrap();
    assert!(text.contains(&format!("\n{:>4}  ", n - 1)) && !text.contains(&format!("\n{n:>4}  ")));
    assert!(mermaid.starts_with("sequenceDiagram\n"));
    assert_eq!(
        mermaid
            .lines()
            .filter(|l| l.contains("->>")
                || l.contains("-->>")
                || l.contains("Note over")
                || l.contains("-x"))
            .count(),
        n
    );
}

#[test]
fn seed_flag_and_identity_model_reach_the_output() {
    let o = hmasim(&[
        "run",
        "web-exo",
        "--format",
        "json",
        "--seed",
        "42",
        "--set",
        "identity.model=pta",
    ]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(
        (v["seed"].as_u64(), v["identity_model"].as_str()),
        (Some(42), Some("pta"))
    );
    let a = hmasim(&["run", "web-exo", "--format", "json"]).stdout;
    let b = hmasim(&["run", "web-exo", "--format", "json"]).stdout;
    assert_eq!(a, b, "two runs without --seed are identical");
}

#[test]
fn apply_fix_runs_the_documented_fix() {
    let broken = hmasim(&["run", "fault-tls-offloading", "--format", "json"]);
    let fixed = hmasim(&[
        "run",
        "fault-tls-offloading",
        "--format",
        "json",
        "--apply-fix",
    ]);
    assert_eq!(
        (broken.status.code(), fixed.status.code()),
        (Some(0), Some(0))
    );
    let b: serde_json::Value = serde_json::from_slice(&broken.stdout).unwrap();
    let f: serde_json::Value = serde_json::from_slice(&fixed.stdout).unwrap();
    assert_eq!(b["outcome"]["mailbox_access"], false);
    assert_eq!(b["outcome"]["failure"]["code"], "audience_mismatch");
    assert!(b["outcome"]["diagnosis"]["fix"]
        .as_str()
        .unwrap()
        .contains("bridging"));
    assert!(b["outcome"]["diagnosis"]["event"].is_u64());
    assert_eq!(
        (
            f["outcome"]["mailbox_access"].as_bool(),
            f["outcome"]["mfa_satisfied"].as_bool()
        ),
        (Some(true), Some(true))
    );
    let text = String::from_utf8(hmasim(&["run", "fault-no-authorization-uri"]).stdout).unwrap();
    let tail: Vec<&str> = text.lines().rev().take(6).collect();
    assert!(
        tail.iter().any(|l| l
            .starts_with("  fix: `Set-AuthServer EvoSts -IsDefaultAuthorizationEndpoint $true`")),
        "{text}"
    );
    let o = hmasim(&["run", "web-exo", "--apply-fix"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("declares no fix"));
}

#[test]
fn set_reaches_fields_left_out_while_empty() {
    // `clocks` and `network.faults` are not written out while empty; --set creates them.
    let o = hmasim(&[
        "run",
        "mobile-onprem-hma",
        "--format",
        "json",
        "--set",
        "clocks=[{party = \"exchange-onprem\", skew = \"-6m\"}]",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["outcome"]["failure"]["code"], "invalid_token");
    let o = hmasim(&[
        "run",
        "web-exo",
        "--format",
        "json",
        "--set",
        "network.faults.loss=0.3",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(v["events"]
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e["kind"] == "dropped"));
    // A key that is no field is still the located, explained error.
    let o = hmasim(&["run", "web-exo", "--set", "network.faults.los=0.3"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("unknown key `los` in `network.faults`"),
        "{}",
        stderr(&o)
    );
}
