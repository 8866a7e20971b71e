//! Mermaid's own parser reads every diagram hmasim writes: each bundled scenario's (and its
//! fix's), and diagrams whose party names and labels are hostile (Mermaid keywords,
//! punctuation, empty names, non-ASCII, control characters).
//!
//! The parser is the `mermaid` package from the npm registry, run under Node with jsdom by
//! `tests/mermaid/parse.mjs`; `.ci/run` installs it (`npm ci` in `tests/mermaid`). When
//! Node or the packages are missing these tests fail, saying how to install them, unless
//! `HMASIM_SKIP_MERMAID=1` is set (then they say loudly that they were skipped).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use hmasim::scenario::{self, Action, ActionKind, Span, BUNDLED};
use hmasim::sim;

const SKIP_VAR: &str = "HMASIM_SKIP_MERMAID";

fn project() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/mermaid")
}

/// Why Mermaid's parser cannot run here, if it cannot.
fn missing() -> Option<String> {
    let node = Command::new("node").arg("--version").output();
    if !node.is_ok_and(|o| o.status.success()) {
        return Some("`node` is not on PATH (Node 18 or later is needed)".into());
    }
    if !project()
        .join("node_modules/mermaid/package.json")
        .is_file()
        || !project().join("node_modules/jsdom/package.json").is_file()
    {
        return Some(format!(
            "the npm packages are not installed: run `npm ci` in {}",
            project().display()
        ));
    }
    None
}

/// Whether the tests can run; panics (fails the test) when they cannot and no one said
/// they may be skipped.
fn available() -> bool {
    match missing() {
        None => true,
        Some(why) if std::env::var_os(SKIP_VAR).is_some_and(|v| v == "1") => {
            eprintln!("\n*** SKIPPED: Mermaid parse test: {why} ({SKIP_VAR}=1) ***\n");
            false
        }
        Some(why) => panic!(
            "Mermaid's parser cannot run: {why}. `.ci/run` installs it; set {SKIP_VAR}=1 to skip \
             these tests knowingly."
        ),
    }
}

/// Parses each `(name, diagram)` with Mermaid; returns the failures, one line each.
fn mermaid_failures(diagrams: &[(String, String)]) -> Vec<String> {
    let dir = std::env::temp_dir().join(format!(
        "hmasim-mermaid-{}-{}",
        std::process::id(),
        diagrams.len()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let mut files = Vec::new();
    for (i, (name, text)) in diagrams.iter().enumerate() {
        let safe: String = name
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
            .take(40)
            .collect();
        let f = dir.join(format!("{i:03}-{safe}.mmd"));
        std::fs::write(&f, text).unwrap();
        files.push(f);
    }
    let out = Command::new("node")
        .arg(project().join("parse.mjs"))
        .args(&files)
        .current_dir(project())
        .output()
        .expect("node runs");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        matches!(out.status.code(), Some(0 | 1)),
        "parse.mjs could not run Mermaid ({:?}):\n{stdout}\n{stderr}",
        out.status
    );
    let _ = std::fs::remove_dir_all(&dir);
    let failures: Vec<String> = stdout
        .lines()
        .filter(|l| l.starts_with("FAIL "))
        .map(str::to_string)
        .collect();
    let ok = stdout.lines().filter(|l| l.starts_with("ok ")).count();
    assert_eq!(
        ok + failures.len(),
        diagrams.len(),
        "parse.mjs must report every diagram:\n{stdout}\n{stderr}"
    );
    failures
}

fn assert_all_parse(diagrams: &[(String, String)]) {
    let failures = mermaid_failures(diagrams);
    assert!(
        failures.is_empty(),
        "{} of {} diagrams do not parse:\n{}",
        failures.len(),
        diagrams.len(),
        failures.join("\n")
    );
}

/// `(id, alias)` of every `participant` line.
fn participants(mmd: &str) -> Vec<(String, String)> {
    mmd.lines()
        .filter_map(|l| l.trim().strip_prefix("participant "))
        .map(|p| {
            let (id, alias) = p.split_once(" as ").expect("an alias");
            (id.to_string(), alias.to_string())
        })
        .collect()
}

#[test]
fn the_parser_rejects_a_broken_diagram() {
    if !available() {
        return;
    }
    // What hmasim wrote before participant ids were derived safely: a client named `end`.
    let broken = "sequenceDiagram\n    participant end as end\n    end->>end: a; b\n";
    let good = "sequenceDiagram\n    participant p0_end as end\n    p0_end->>p0_end: a#59; b\n";
    let failures = mermaid_failures(&[
        ("broken".into(), broken.into()),
        ("good".into(), good.into()),
    ]);
    assert_eq!(failures.len(), 1, "{failures:?}");
    assert!(failures[0].contains("broken"), "{failures:?}");
}

#[test]
fn every_bundled_scenarios_diagram_parses() {
    if !available() {
        return;
    }
    let mut diagrams = Vec::new();
    for b in BUNDLED {
        let mut sc = scenario::load(b.name).unwrap();
        diagrams.push((b.name.to_string(), sim::run(&sc, true).to_mermaid()));
        if sc.fix.is_some() {
            scenario::apply_fix(&mut sc).unwrap();
            diagrams.push((
                format!("{}-fixed", b.name),
                sim::run(&sc, true).to_mermaid(),
            ));
        }
    }
    for (name, d) in &diagrams {
        // A response label prints its status once (`[5] 401 authenticate...`).
        for status in ["200", "302", "401", "403", "500"] {
            assert!(
                !d.contains(&format!(" {status} {status}")),
                "{name}: a label prints {status} twice"
            );
        }
    }
    assert_all_parse(&diagrams);
}

/// Names no Mermaid lexer must see raw: keywords, punctuation, empty, non-ASCII, control
/// characters, names that differ only in punctuation.
const HOSTILE: &[&str] = &[
    "end",
    "alt",
    "loop",
    "box",
    "Note",
    "note",
    "participant",
    "rect",
    "critical",
    "else",
    "create",
    "destroy",
    "actor",
    "autonumber",
    "links",
    "link",
    "title",
    "opt",
    "par",
    "and",
    "break",
    "activate",
    "deactivate",
    "over",
    "as",
    "left of",
    "properties",
    "details",
    "",
    " ",
    "a-b",
    "a_b",
    "a b",
    "a.b",
    "a;b",
    "a#b",
    "a:b",
    "a,b",
    "a->>b",
    "a-->>b",
    "a-xb",
    "%%",
    "%%{init: {}}%%",
    "#59;",
    "<b>bold</b>",
    "\"quoted\"",
    "{x}",
    "[x]",
    "(x)",
    "'x'",
    "`x`",
    "\\",
    "&amp;",
    "x\u{1b}[31my",
    "bell\u{7}",
    "cr\rlf\nnl",
    "tab\tx",
    "café",
    "日本",
    "Ωmega",
    "wrap:x",
    "nowrap:y",
    "+x",
    "-x",
    "end end",
    "1",
    "--",
    "->>",
];

/// A tiny deterministic generator (no dependency): a 64-bit LCG.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }
    fn pick<'a>(&mut self, xs: &[&'a str]) -> &'a str {
        xs[(self.next() as usize) % xs.len()]
    }
}

#[test]
fn hostile_party_names_and_labels_parse_and_keep_their_own_lifelines() {
    if !available() {
        return;
    }
    let sc = scenario::load("mobile-onprem-hma").unwrap();
    let base = sim::run(&sc, true);
    let mut rng = Lcg(9);
    let mut diagrams = Vec::new();
    for round in 0..40 {
        let mut t = base.clone();
        // Every party gets a hostile name, distinct from the others (the round-robin
        // offset makes each round pair different names with different parties).
        let n = t.names.len();
        t.names = (0..n)
            .map(|i| HOSTILE[(i + round * 7) % HOSTILE.len()].to_string())
            .collect();
        for e in &mut t.events {
            let label: String = (0..1 + rng.next() % 4)
                .map(|_| rng.pick(HOSTILE))
                .collect::<Vec<_>>()
                .join(" ");
            e.msg.meta.summary = label.clone().into();
            if let hmasim::protocol::Body::Lines(lines) = &mut e.msg.body {
                lines.push(label);
            }
        }
        let d = t.to_mermaid();
        let ps = participants(&d);
        let ids: BTreeSet<&str> = ps.iter().map(|(id, _)| id.as_str()).collect();
        assert_eq!(
            ids.len(),
            ps.len(),
            "round {round}: two parties share an id:\n{d}"
        );
        for (id, _) in &ps {
            assert!(
                id.starts_with('p') && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'),
                "round {round}: unsafe id `{id}`"
            );
        }
        assert!(
            !d.contains('\u{1b}') && !d.contains('\r'),
            "round {round}: a raw control character"
        );
        diagrams.push((format!("hostile-{round}"), d));
    }
    assert_all_parse(&diagrams);
}

#[test]
fn clients_with_hostile_ids_each_get_a_lifeline_and_the_diagram_parses() {
    if !available() {
        return;
    }
    let mut sc = scenario::load("desktop-exo-ca").unwrap();
    let template = sc.clients[0].clone();
    let ids = [
        "end",
        "alt",
        "Note",
        "participant",
        "box",
        "a-b",
        "a_b",
        "a b",
        "a;b",
        "#x",
        "",
        "日本",
        "x\u{1b}y",
    ];
    for (i, id) in ids.iter().enumerate() {
        let mut c = template.clone();
        c.id = Some(id.to_string());
        sc.clients.push(c);
        sc.timeline.push(Action::on_client(
            Span(1000 * (i as u64 + 1)),
            ActionKind::StartOutlook,
            id,
        ));
    }
    sc.conditional_access[0].name = "end; alt #1 %%{init}%% <b>\"q\"</b> & more".into();
    let t = sim::run(&sc, true);
    let d = t.to_mermaid();
    let ps = participants(&d);
    let distinct: BTreeSet<&str> = ps.iter().map(|(id, _)| id.as_str()).collect();
    assert_eq!(
        distinct.len(),
        ps.len(),
        "two clients share a lifeline:\n{d}"
    );
    // Every client that acted has its own participant.
    assert!(ps.len() > ids.len(), "{d}");
    assert!(
        d.contains("#59;"),
        "punctuation is kept as entity codes:\n{d}"
    );
    assert_all_parse(&[("hostile-clients".into(), d)]);
}
