//! Bounded inputs and safe outputs through the binary (docs/limits.md): byte caps per kind
//! of input, regular files only, a nesting cap, one-line excerpts, minimum periods, a
//! timeline `set` that cannot restructure the world, and output paths that are regular
//! files or nothing.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use hmasim::scenario::limits::{Input, GRAPH_DIRECTORY_MAX_ENTRIES, MAX_NESTING};

/// Runs the binary, failing if it takes more than `limit`.
fn hmasim_within(args: &[&str], limit: Duration) -> Output {
    let child = Command::new(env!("CARGO_BIN_EXE_hmasim"))
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary runs");
    let id = child.id();
    let (tx, rx) = std::sync::mpsc::channel();
    // Reading the pipes while waiting: a long message must not block the child.
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(limit) {
        Ok(o) => o.expect("output"),
        Err(_) => {
            let _ = Command::new("kill").arg(id.to_string()).status();
            let shown: Vec<String> = args.iter().map(|a| a.chars().take(80).collect()).collect();
            panic!("hmasim {shown:?} still runs after {limit:?}");
        }
    }
}

fn hmasim(args: &[&str]) -> Output {
    hmasim_within(args, Duration::from_secs(120))
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Exit 2 with `needle` in the message.
fn refused(o: &Output, needle: &str) {
    let e = stderr(o);
    assert_eq!(o.status.code(), Some(2), "{e}");
    assert!(e.contains(needle), "expected {needle:?} in:\n{e}");
    assert!(!e.contains("panicked"), "{e}");
}

fn tmpdir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("hmasim-limits-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn mkfifo(p: &Path) {
    let ok = Command::new("mkfifo").arg(p).status().expect("mkfifo runs");
    assert!(ok.success());
}

/// The bundled `mobile-onprem-hma` scenario with `extra` appended.
fn scenario_with(dir: &Path, name: &str, extra: &str) -> PathBuf {
    let src = hmasim::scenario::bundled("mobile-onprem-hma")
        .unwrap()
        .source;
    let p = dir.join(name);
    std::fs::write(&p, format!("{src}\n{extra}")).unwrap();
    p
}

// ---- input caps ----

#[test]
fn devices_fifos_and_directories_are_not_read_and_end_at_once() {
    let d = tmpdir("special");
    let fifo = d.join("scenario.toml");
    mkfifo(&fifo);
    let quick = Duration::from_secs(10);
    for arg in ["/dev/zero", s(&fifo)] {
        let o = hmasim_within(&["check", arg], quick);
        refused(&o, "not a regular file");
    }
    refused(
        &hmasim_within(&["check", s(&d)], quick),
        "it is a directory",
    );
    // The same for Graph policy files, named by the CLI or by the scenario.
    let o = hmasim_within(
        &["run", "mobile-onprem-hma", "--ca-policies", "/dev/zero"],
        quick,
    );
    refused(&o, "not a regular file");
    let sc = scenario_with(&d, "files.toml", "");
    let src = std::fs::read_to_string(&sc).unwrap();
    std::fs::write(
        &sc,
        src.replacen(
            "[tenant]",
            "conditional_access_files = [\"/dev/zero\"]\n[tenant]",
            1,
        ),
    )
    .unwrap();
    refused(
        &hmasim_within(&["check", s(&sc)], quick),
        "not a regular file",
    );
}

#[test]
fn a_scenario_file_above_its_cap_is_refused() {
    let d = tmpdir("big");
    let p = d.join("big.toml");
    let f = std::fs::File::create(&p).unwrap();
    f.set_len(Input::ScenarioFile.max_bytes() + 1).unwrap();
    refused(
        &hmasim(&["check", s(&p)]),
        "a scenario file is limited to 4 MiB",
    );
    // At the cap it is read (and then found invalid, not too large).
    f.set_len(Input::ScenarioFile.max_bytes()).unwrap();
    let o = hmasim(&["check", s(&p)]);
    assert_eq!(o.status.code(), Some(2));
    assert!(!stderr(&o).contains("limited to"), "{}", stderr(&o));
}

#[test]
fn a_set_value_above_its_cap_is_refused() {
    let big = format!(
        "name=\"{}\"",
        "x".repeat(Input::SetValue.max_bytes() as usize)
    );
    refused(
        &hmasim(&["check", "mobile-onprem-hma", "--set", &big]),
        "a --set value is limited to 64 KiB",
    );
    let fits = format!("summary=\"{}\"", "x".repeat(1000));
    assert_eq!(
        hmasim(&["check", "mobile-onprem-hma", "--set", &fits])
            .status
            .code(),
        Some(0)
    );
}

#[test]
fn graph_files_and_directories_are_capped() {
    let d = tmpdir("graph");
    let big = d.join("big.json");
    std::fs::File::create(&big)
        .unwrap()
        .set_len(Input::GraphFile.max_bytes() + 1)
        .unwrap();
    refused(
        &hmasim(&["run", "mobile-onprem-hma", "--ca-policies", s(&big)]),
        "a Graph policy file is limited to 16 MiB",
    );
    // Too many entries: refused before any file is read.
    let many = d.join("many");
    std::fs::create_dir(&many).unwrap();
    for i in 0..=GRAPH_DIRECTORY_MAX_ENTRIES {
        std::fs::write(many.join(format!("p{i:04}.json")), "[]").unwrap();
    }
    refused(
        &hmasim(&["run", "mobile-onprem-hma", "--ca-policies", s(&many)]),
        "limited to 1000 entries",
    );
    // Files each within their cap, together above the directory's.
    let heavy = d.join("heavy");
    std::fs::create_dir(&heavy).unwrap();
    let each = Input::GraphFile.max_bytes() as usize - 1;
    let body = format!("[]{}", " ".repeat(each - 2));
    let files = Input::GraphDirectory.max_bytes() as usize / each + 1;
    for i in 0..files {
        std::fs::write(heavy.join(format!("p{i}.json")), &body).unwrap();
    }
    refused(
        &hmasim(&["run", "mobile-onprem-hma", "--ca-policies", s(&heavy)]),
        "a directory of Graph policy files is limited to 64 MiB",
    );
    std::fs::remove_dir_all(&d).unwrap();
}

// ---- nesting ----

#[test]
fn deep_nesting_is_a_located_error_in_every_syntax() {
    let d = tmpdir("deep");
    let n = 100_000;
    let cases = [
        (
            "arrays.toml",
            format!("name = {}{}\n", "[".repeat(n), "]".repeat(n)),
        ),
        (
            "tables.toml",
            format!("name = {}1{}\n", "{a = ".repeat(n), "}".repeat(n)),
        ),
        ("dotted.toml", format!("{} = 1\n", vec!["a"; n].join("."))),
        ("header.toml", format!("[{}]\n", vec!["a"; n].join("."))),
        (
            "arrays.json",
            format!("{{\"name\": {}{}}}\n", "[".repeat(n), "]".repeat(n)),
        ),
        (
            "objects.json",
            format!("{{\"name\": {}1{}}}\n", "{\"a\": ".repeat(n), "}".repeat(n)),
        ),
    ];
    for (name, src) in cases {
        let p = d.join(name);
        std::fs::write(&p, src).unwrap();
        let o = hmasim(&["check", s(&p)]);
        refused(&o, &format!("nested deeper than {MAX_NESTING} levels"));
        let e = stderr(&o);
        assert!(e.contains(&format!("{name}:1:")), "{e}");
    }
    // Just under the cap is parsed (and found to be the wrong type, not too deep).
    let p = d.join("ok.toml");
    // (The document's own table is the first level, as a JSON document's object is.)
    let k = MAX_NESTING - 1;
    std::fs::write(&p, format!("name = {}{}\n", "[".repeat(k), "]".repeat(k))).unwrap();
    let e = stderr(&hmasim(&["check", s(&p)]));
    assert!(!e.contains("nested deeper"), "{e}");
    // Graph JSON and --set values too.
    let g = d.join("deep.json");
    std::fs::write(&g, format!("{}{}", "[".repeat(n), "]".repeat(n))).unwrap();
    refused(
        &hmasim(&["run", "mobile-onprem-hma", "--ca-policies", s(&g)]),
        "nested deeper than 32 levels",
    );
    let v = format!("summary={}{}", "[".repeat(1000), "]".repeat(1000));
    refused(
        &hmasim(&["check", "mobile-onprem-hma", "--set", &v]),
        "nests deeper than 32 levels",
    );
}

// ---- excerpts ----

#[test]
fn an_error_deep_in_a_long_line_shows_one_screen_line_with_the_caret_in_place() {
    let d = tmpdir("long");
    let p = d.join("long.json");
    let line = format!("{{\"name\": \"{}\", \"zzzz\": 1}}", "a".repeat(1_000_000));
    std::fs::write(&p, format!("{line}\n")).unwrap();
    let o = hmasim(&["check", s(&p)]);
    refused(&o, "unknown field `zzzz`");
    let e = stderr(&o);
    let head = e.lines().next().unwrap();
    // `error: PATH:LINE:COL: message`
    let col: usize = head.split(':').nth(3).unwrap().parse().unwrap();
    assert!(col > 1_000_000, "{head}");
    let shown = e.lines().nth(2).unwrap().strip_prefix("1 | ").unwrap();
    let carets = e.lines().nth(3).unwrap().strip_prefix("  | ").unwrap();
    assert!(shown.chars().count() <= 100, "{shown}");
    assert!(shown.starts_with('…'), "{shown}");
    assert!(shown.contains("\"zzzz\""), "{shown}");
    let at = carets.find('^').unwrap();
    let want = line.chars().nth(col - 1).unwrap();
    assert_eq!(shown.chars().nth(at), Some(want), "{e}");
    // The context before the caret is the line's own.
    let before: String = shown.chars().skip(1).take(at - 1).collect();
    assert!(line[..col - 1].ends_with(&before), "{e}");
}

// ---- minimum periods ----

#[test]
fn every_period_has_a_minimum_and_zero_or_negative_is_a_located_error() {
    let d = tmpdir("periods");
    let src = hmasim::scenario::bundled("mobile-onprem-hma")
        .unwrap()
        .source;
    // (table to add the field under, field, dotted path)
    let fields = [
        ("[identity]", "sync_interval", "identity.sync_interval"),
        ("[[clients]]", "sync_interval", "clients.0.sync_interval"),
        (
            "[exchange_online]",
            "mrs_sync_interval",
            "exchange_online.mrs_sync_interval",
        ),
        (
            "[onprem]",
            "scheduled_metadata_refresh",
            "onprem.scheduled_metadata_refresh",
        ),
    ];
    for (table, field, path) in fields {
        let with = |value: &str| {
            let body = if src.contains(&format!("{table}\n")) {
                src.replacen(
                    &format!("{table}\n"),
                    &format!("{table}\n{field} = {value}\n"),
                    1,
                )
            } else {
                format!("{src}\n{table}\n{field} = {value}\n")
            };
            let p = d.join(format!("{field}.toml"));
            std::fs::write(&p, body.as_bytes()).unwrap();
            hmasim(&["check", s(&p)])
        };
        for zero in ["0", "\"0s\"", "\"999ms\""] {
            let o = with(zero);
            refused(&o, "below the shortest period, 1s");
            let e = stderr(&o);
            assert!(e.contains(&format!("(at `{path}`)")), "{e}");
            assert!(e.contains(&format!("| {field} = {zero}")), "{e}");
        }
        for negative in ["-1", "\"-1s\""] {
            refused(&with(negative), field.split('.').next().unwrap_or(""));
        }
        assert_eq!(
            with("\"1s\"").status.code(),
            Some(0),
            "{}",
            stderr(&with("\"1s\""))
        );
        // --set is held to the same minimum.
        let o = hmasim(&["check", "mobile-onprem-hma", "--set", &format!("{path}=0s")]);
        refused(&o, "below the shortest period");
        let o = hmasim(&[
            "check",
            "mobile-onprem-hma",
            "--set",
            &format!("{path}=-5m"),
        ]);
        refused(&o, "invalid value");
    }
}

// ---- timeline set and the world's structure ----

fn timeline_set(key: &str, value: &str) -> String {
    format!("[[timeline]]\nat = \"10m\"\ndo = \"set\"\nkey = \"{key}\"\nvalue = '{value}'\n")
}

#[test]
fn a_timeline_set_that_changes_the_clients_is_refused_at_its_line() {
    let d = tmpdir("structure");
    let two = r#"[{kind = "outlook-mobile", user = "test@contoso.com", platform = "ios"}, {kind = "browser", user = "test@contoso.com"}]"#;
    let cases = [
        ("add", "clients", two),
        ("remove", "clients", "[]"),
        ("kind", "clients.0.kind", "browser"),
        ("rename", "clients.0.id", "phone"),
    ];
    for (name, key, value) in cases {
        let p = scenario_with(&d, &format!("{name}.toml"), &timeline_set(key, value));
        let lines = std::fs::read_to_string(&p).unwrap().lines().count();
        let o = hmasim(&["check", s(&p)]);
        refused(&o, "a timeline `set` cannot change the clients");
        let e = stderr(&o);
        // Located at the entry's `value` line (the last line of the file).
        assert!(e.contains(&format!("{name}.toml:{lines}:")), "{e}");
        assert!(e.contains("(at `timeline.1.value`)"), "{e}");
        // And `run` refuses it too, before running.
        assert_eq!(hmasim(&["run", s(&p)]).status.code(), Some(2));
    }
    // Past the end of the clients: located too.
    let p = scenario_with(
        &d,
        "past.toml",
        &timeline_set("clients.1.sync_interval", "5m"),
    );
    refused(&hmasim(&["check", s(&p)]), "is not an index of `clients`");
    // One set after another: the second indexes a client the first removed.
    let both = format!(
        "{}{}",
        timeline_set("clients", two),
        timeline_set("clients.1.kind", "native-mail"),
    );
    let p = scenario_with(&d, "both.toml", &both);
    refused(&hmasim(&["check", s(&p)]), "(at `timeline.1.value`)");
    // A change of a client's settings is a configuration change, accepted.
    let p = scenario_with(
        &d,
        "ok.toml",
        &timeline_set("clients.0.sync_interval", "5m"),
    );
    assert_eq!(hmasim(&["check", s(&p)]).status.code(), Some(0));
    // So is changing the clients before the run.
    let o = hmasim(&[
        "check",
        "mobile-onprem-hma",
        "--set",
        &format!("clients={two}"),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
}

#[test]
fn a_fix_timeline_set_that_changes_the_clients_is_refused() {
    let d = tmpdir("fixstructure");
    let fix = "[fix]\nsummary = \"x\"\n[[fix.timeline]]\nat = \"1m\"\ndo = \"set\"\nkey = \"clients.0.kind\"\nvalue = \"browser\"\n";
    let p = scenario_with(&d, "fix.toml", fix);
    let o = hmasim(&["check", s(&p)]);
    refused(&o, "a timeline `set` cannot change the clients");
    assert!(
        stderr(&o).contains("(at `fix.timeline.0.value`)"),
        "{}",
        stderr(&o)
    );
}

// ---- output paths ----

#[test]
fn output_paths_that_are_not_regular_files_are_refused_before_the_run() {
    let d = tmpdir("out");
    let fifo = d.join("fifo");
    mkfifo(&fifo);
    let target = d.join("target.txt");
    std::fs::write(&target, "keep").unwrap();
    let link = d.join("link.txt");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    let cases: [(&str, &str); 6] = [
        ("/dev/full", "not a regular file"),
        ("/dev/null", "not a regular file"),
        (s(&fifo), "not a regular file"),
        (s(&d), "is a directory"),
        (s(&link), "is a symbolic link"),
        ("/nonexistent-dir/out.txt", "does not exist"),
    ];
    let quick = Duration::from_secs(20);
    for (out, why) in cases {
        // The scenario is invalid too: the output path is judged first, before any work.
        let o = hmasim_within(&["run", "no-such-scenario", "--out", out], quick);
        refused(&o, why);
        assert!(
            stderr(&o).contains(&format!("error: {out}: ")),
            "{}",
            stderr(&o)
        );
        let o = hmasim_within(&["verify", "no-such-scenario", "--dot", out], quick);
        refused(&o, why);
    }
    // Nothing was replaced or left behind.
    use std::os::unix::fs::FileTypeExt;
    assert!(std::fs::metadata("/dev/full")
        .unwrap()
        .file_type()
        .is_char_device());
    assert!(std::fs::symlink_metadata(&fifo)
        .unwrap()
        .file_type()
        .is_fifo());
    assert!(std::fs::symlink_metadata(&link)
        .unwrap()
        .file_type()
        .is_symlink());
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "keep");
    let names: Vec<String> = std::fs::read_dir(&d)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(names.iter().all(|n| !n.contains(".hmasim-")), "{names:?}");
}

#[test]
fn a_regular_output_file_is_replaced_whole_with_no_temporary_file_left() {
    let d = tmpdir("outok");
    let out = d.join("trace.json");
    std::fs::write(&out, "old").unwrap();
    let o = hmasim(&["run", "web-exo", "--format", "json", "--out", s(&out)]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let text = std::fs::read_to_string(&out).unwrap();
    assert!(text.starts_with('{'), "{text}");
    let dot = d.join("graph.dot");
    let o = hmasim(&["verify", "web-exo", "--dot", s(&dot)]);
    assert_ne!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(std::fs::read_to_string(&dot).unwrap().contains("digraph"));
    let names: Vec<String> = std::fs::read_dir(&d)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names.len(), 2, "{names:?}");
}

// ---- properties: the nesting cap and the excerpt window over generated inputs ----

mod properties {
    use hmasim::scenario::{parse, Format};
    use proptest::prelude::*;

    use super::MAX_NESTING;

    /// A value nested `kinds.len()` deep: each level an array, or an inline table / object.
    fn nested(kinds: &[bool], toml: bool) -> String {
        let mut v = "1".to_string();
        for &table in kinds.iter().rev() {
            v = match (table, toml) {
                (true, true) => format!("{{k = {v}}}"),
                (true, false) => format!("{{\"k\": {v}}}"),
                (false, _) => format!("[{v}]"),
            };
        }
        v
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 256, .. ProptestConfig::default() })]

        #[test]
        fn the_nesting_cap_holds_exactly_at_its_depth(
            kinds in prop::collection::vec(any::<bool>(), 1..80),
            toml in any::<bool>(),
            key_parts in 0usize..4,
        ) {
            // A field under `name` (a string), so past the cap the error is the nesting,
            // under it the type.
            let (src, depth) = if toml {
                let key = std::iter::once("name")
                    .chain(std::iter::repeat_n("k", key_parts))
                    .collect::<Vec<_>>()
                    .join(".");
                (format!("{key} = {}\n", nested(&kinds, true)), kinds.len() + key_parts + 1)
            } else {
                (format!("{{\"name\": {}}}", nested(&kinds, false)), kinds.len() + 1)
            };
            let format = if toml { Format::Toml } else { Format::Json };
            let e = parse(&src, "p", format).expect_err("never a valid scenario");
            let deep = e.message.contains("nested deeper than");
            prop_assert_eq!(deep, depth > MAX_NESTING, "{} levels: {}", depth, e);
            if deep {
                prop_assert_eq!(e.position.map(|p| p.0), Some(1), "{}", e);
            }
        }

        #[test]
        fn the_caret_stays_under_the_erring_character(
            len in 1usize..3000,
            at in 0usize..3000,
            width in 1usize..400,
            wide in any::<bool>(),
        ) {
            let at = at % len;
            // Distinct characters, some of them multi-byte, so a misplaced caret shows.
            let line: Vec<char> = (0..len)
                .map(|i| {
                    let c = (b'a' + (i % 26) as u8) as char;
                    if wide && i % 7 == 0 { 'é' } else { c }
                })
                .collect();
            let line: String = line.into_iter().collect();
            let offset = line.char_indices().nth(at).unwrap().0;
            let e = hmasim::scenario::ScenarioError::new(
                hmasim::scenario::ErrorOrigin::File("f".into()),
                "bad",
            )
            .at_offset(&line, offset, width);
            let text = e.to_string();
            let lines: Vec<&str> = text.lines().collect();
            let pad = " ".repeat(lines[2].find('|').unwrap());
            let shown = lines[2].split_once("| ").unwrap().1;
            let carets = lines[3].strip_prefix(&format!("{pad}| ")).unwrap();
            prop_assert!(shown.chars().count() <= 100);
            let caret = carets.chars().take_while(|c| *c == ' ').count();
            let marks = carets.chars().filter(|c| *c == '^').count();
            // At most to the end of the line (or one past it, at its end).
            prop_assert!(marks >= 1 && caret + marks <= shown.chars().count().max(caret + 1));
            prop_assert_eq!(shown.chars().nth(caret), line.chars().nth(at), "{}", text);
        }
    }
}
