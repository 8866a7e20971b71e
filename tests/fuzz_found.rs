//! Regression tests for the misbehaviours the cargo-fuzz campaigns found (docs/fuzzing.md).
//! Their minimized inputs are also in `fuzz/regressions/<target>/`, which the CI smoke
//! replays through the fuzz targets themselves.

use hmasim::scenario::{apply_set, load, parse, ErrorOrigin, Format};

/// Found by `set_override`: `--set` validated the model but not the named locations and
/// the policies naming them, so an override was accepted (and run) that the same scenario
/// written as a file is refused for: a policy naming an unknown location, two named
/// locations with one id. `apply_set` promises the file's validation.
#[test]
fn set_validates_locations_as_a_file_does() {
    let base = load("desktop-exo-ca").unwrap();
    for (arg, json) in [
        (
            r#"conditional_access=[{name = "x", grant = ["mfa"], exclude_locations = ["Nowhere"]}]"#,
            r#"[{"name": "x", "grant": ["mfa"], "exclude_locations": ["Nowhere"]}]"#,
        ),
        (
            r#"named_locations=[{id = "a", name = "A"}, {id = "a", name = "B"}]"#,
            r#"[{"id": "a", "name": "A"}, {"id": "a", "name": "B"}]"#,
        ),
    ] {
        // The same scenario as a file is refused...
        let mut raw = serde_json::to_value(&base).unwrap();
        let key = arg.split_once('=').unwrap().0;
        raw[key] = serde_json::from_str(json).unwrap();
        let file = parse(&raw.to_string(), "sc.json", Format::Json).unwrap_err();
        assert!(file.to_string().starts_with("sc.json:"), "{file}");
        // ...and so is the override, naming the argument, leaving the scenario untouched.
        let mut sc = base.clone();
        let e = apply_set(&mut sc, arg).unwrap_err();
        assert_eq!(e.origin, ErrorOrigin::Set(arg.to_string()), "{e}");
        assert!(
            e.message.contains("location"),
            "{arg}: the message does not say what is wrong: {e}"
        );
        assert_eq!(sc, base);
    }
    // A policy naming a declared location is still accepted.
    let mut sc = base.clone();
    apply_set(
        &mut sc,
        r#"named_locations=[{id = "a", name = "HQ", trusted = true}]"#,
    )
    .unwrap();
    apply_set(
        &mut sc,
        r#"conditional_access=[{name = "x", grant = ["mfa"], exclude_locations = ["HQ"]}]"#,
    )
    .unwrap();
}

/// Found by `set_override`: an override that brings a bad `set` into the timeline or the
/// fix was refused with an error naming that inner `set` as if it were the argument
/// (`--set nope=1: unknown key`), an argument the user never gave. The error names the
/// argument given and where the offending `set` sits in it.
#[test]
fn a_bad_inner_set_is_reported_against_the_argument_given() {
    let base = load("token-lifetime").unwrap();
    for (arg, at) in [
        (
            r#"timeline=[{at = "1s", do = "set", key = "nope", value = "1"}]"#,
            "timeline.0.value",
        ),
        (r#"fix.set=["loa_balancer.tls=bridging"]"#, "fix.set.0"),
    ] {
        let mut sc = base.clone();
        let e = apply_set(&mut sc, arg).unwrap_err();
        assert_eq!(e.origin, ErrorOrigin::Set(arg.to_string()), "{e}");
        let text = e.to_string();
        assert!(
            text.starts_with(&format!("--set {arg}: unknown key")),
            "{text}"
        );
        assert!(text.contains(&format!("(at `{at}` `")), "{text}");
        assert_eq!(sc, base);
    }
}

/// Found by `graph_reader`: a policy writing a key twice (`grantControls` here) is read
/// with the last value, as serde_json keeps it, but the error about it was placed by the
/// first, where the path does not exist: the error lost its line:col and excerpt. It now
/// points at the offending value of the last one.
#[test]
fn a_graph_error_under_a_duplicated_key_keeps_its_place() {
    // The fuzzer's input named an unknown grant control, an error when it was found and a
    // per-policy warning since newer values degrade only their policy: the same place with
    // a value of the wrong type keeps it an error.
    let found = include_str!("../fuzz/regressions/graph_reader/duplicate-key-error-located.json");
    let read = hmasim::scenario::graph::parse_graph(found, "dup.json", &[]).unwrap();
    assert_eq!(
        read.warnings[0].path,
        "$.value[0].grantControls.builtInControls[0]"
    );
    let src = &found.replace("\"dtion\"", "42");
    let e = hmasim::scenario::graph::parse_graph(src, "dup.json", &[]).unwrap_err();
    let text = e.to_string();
    assert!(
        text.starts_with("dup.json: $.value[0].grantControls.builtInControls[0]: expected a string, found the number 42"),
        "{text}"
    );
    let line = src.lines().position(|l| l.contains("42")).unwrap() + 1;
    assert_eq!(e.position.map(|p| p.0), Some(line), "{text}");
    assert!(
        text.contains("| 42\n") || text.contains("  42\n"),
        "the excerpt shows the value: {text}"
    );
}

/// Found by CI's fuzz smoke of `graph_reader` after the export reader learnt encodings: a
/// file that is not text was reported as "the export file" inside a directory and as
/// "the policy file" alone. A directory now reads exactly as its files do one by one.
#[test]
fn a_directory_of_exports_reads_as_its_files() {
    let bytes = include_bytes!("../fuzz/regressions/graph_reader/directory-reads-as-its-files.bin");
    let dir = std::env::temp_dir().join(format!("hmasim-fuzz-found-dir-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("p00.json");
    std::fs::write(&file, bytes).unwrap();
    let alone = hmasim::scenario::graph::read_graph(&file, &[])
        .unwrap_err()
        .to_string();
    let in_dir = hmasim::scenario::graph::read_graph(&dir, &[])
        .unwrap_err()
        .to_string();
    assert_eq!(alone, in_dir);
    assert!(alone.contains("cannot read the policy file"), "{alone}");
}
