//! Determinism, as the contract promises it: the same scenario, seed and overrides print
//! byte-identical output, whatever the process, the run before it, the order of the
//! `--set` flags or the output format; and the text view's `reproduce:` line is enough to
//! get the same run back.

use std::process::{Command, Output};

use hmasim::scenario::{apply_set, load, BUNDLED};
use hmasim::sim::Trace;

fn hmasim(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_hmasim"))
        .args(args)
        .output()
        .expect("the binary runs")
}

/// Standard output of a run that must succeed.
fn stdout_of(args: &[&str]) -> Vec<u8> {
    let o = hmasim(args);
    assert_eq!(
        o.status.code(),
        Some(0),
        "hmasim {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(!o.stdout.is_empty(), "hmasim {}: no output", args.join(" "));
    o.stdout
}

fn trace(name: &str, sets: &[&str]) -> Trace {
    let mut sc = load(name).unwrap();
    for s in sets {
        apply_set(&mut sc, s).unwrap();
    }
    hmasim::sim::run(&sc, true)
}

// ---------------------------------------------------------------------------------------
// Repeated runs.

#[test]
fn json_is_byte_identical_across_repeated_runs_in_one_process() {
    let first: Vec<String> = BUNDLED
        .iter()
        .map(|b| trace(b.name, &[]).to_json())
        .collect();
    // Again, in reverse order: no run may leave state behind that changes the next one.
    for (b, want) in BUNDLED.iter().zip(&first).rev() {
        assert_eq!(&trace(b.name, &[]).to_json(), want, "{}", b.name);
    }
    // And from other threads at the same time.
    std::thread::scope(|s| {
        let handles: Vec<_> = BUNDLED
            .iter()
            .map(|b| s.spawn(move || trace(b.name, &[]).to_json()))
            .collect();
        for ((b, h), want) in BUNDLED.iter().zip(handles).zip(&first) {
            assert_eq!(&h.join().unwrap(), want, "{} on a thread", b.name);
        }
    });
}

#[test]
fn json_is_byte_identical_across_processes_and_matches_the_library() {
    for b in BUNDLED {
        let one = stdout_of(&["run", b.name, "--format", "json"]);
        let two = stdout_of(&["run", b.name, "--format", "json"]);
        assert!(
            one == two,
            "{}: two processes printed different JSON",
            b.name
        );
        assert_eq!(
            String::from_utf8(one).unwrap(),
            trace(b.name, &[]).to_json(),
            "{}: the binary and the library disagree",
            b.name
        );
    }
}

// ---------------------------------------------------------------------------------------
// `--set` flag order.

/// Overrides of different keys that do not depend on each other, per scenario.
const SETS: &[(&str, &[&str])] = &[
    (
        "mobile-onprem-hma",
        &[
            "identity.model=pta",
            "network.jitter_ms=17",
            "network.latency_ms=33",
            "load_balancer.tls=offloading",
            "seed=99",
        ],
    ),
    (
        "desktop-exo-adfs-mfa",
        &[
            "identity.model=phs",
            "network.jitter_ms=3",
            "clients.0.location=internal",
            "entra.access_token_lifetime=2h",
        ],
    ),
    (
        "web-onprem-external",
        &[
            "network.latency_ms=7",
            "adfs.owa_policy=permit-everyone",
            "seed=12345",
            "users.0.mfa_registered=false",
        ],
    ),
];

fn run_args<'a>(name: &'a str, format: &'a str, sets: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec!["run", name, "--format", format];
    for s in sets {
        args.extend(["--set", s]);
    }
    args
}

#[test]
fn set_flag_order_does_not_change_a_byte() {
    for (name, sets) in SETS {
        let forward: Vec<&str> = sets.to_vec();
        let backward: Vec<&str> = sets.iter().rev().copied().collect();
        let rotated: Vec<&str> = sets[1..].iter().chain(&sets[..1]).copied().collect();
        for format in ["json", "text"] {
            let want = stdout_of(&run_args(name, format, &forward));
            for order in [&backward, &rotated] {
                assert!(
                    stdout_of(&run_args(name, format, order)) == want,
                    "{name} --format {format}: --set order {order:?} changed the output"
                );
            }
            // The flags matter at all (else the comparison above proves nothing).
            assert!(
                stdout_of(&run_args(name, format, &[])) != want,
                "{name}: the overrides changed nothing"
            );
        }
    }
}

// ---------------------------------------------------------------------------------------
// One run, three renderings.

/// What every rendering says of an event: from, to and what it is.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Seen {
    from: String,
    to: String,
    kind: String,
    step: Option<u64>,
}

/// The events of the contract's JSON trace.
fn from_json(json: &str) -> Vec<Seen> {
    let doc: serde_json::Value = serde_json::from_str(json).unwrap();
    doc["events"]
        .as_array()
        .unwrap()
        .iter()
        .enumerate()
        .map(|(i, e)| {
            assert_eq!(e["seq"].as_u64(), Some(i as u64), "seq of event {i}");
            Seen {
                from: e["from"].as_str().unwrap().to_string(),
                to: e["to"].as_str().unwrap().to_string(),
                kind: e["kind"].as_str().unwrap().to_string(),
                step: e["step"]["n"].as_u64(),
            }
        })
        .collect()
}

/// The event header lines of the text view:
/// `{seq:>4}  {time}  {kind:<8} {from} -> {to} [step n]` (just `{from}` for a party's own
/// timers and notes), with `seq` counted to check none is missing.
fn from_text(text: &str) -> Vec<Seen> {
    let mut out = Vec::new();
    for line in text.lines() {
        let Some(seq) = line.get(..4).and_then(|s| s.trim().parse::<usize>().ok()) else {
            continue;
        };
        let Some(rest) = line[4..].strip_prefix("  +") else {
            continue;
        };
        assert_eq!(seq, out.len(), "text event numbers: {line}");
        // The time is `HH:MM:SS.mmm` or `Nd HH:MM:SS.mmm`; two spaces end it.
        let (_, rest) = rest.split_once("  ").expect("time then two spaces");
        let (kind, rest) = rest.split_once(' ').expect("kind then a space");
        let rest = rest.trim();
        let (arrow, step) = match rest.rsplit_once(" [step ") {
            Some((a, n)) => (a, Some(n.trim_end_matches(']').parse().unwrap())),
            None => match rest.strip_prefix("[step ") {
                Some(n) => ("", Some(n.trim_end_matches(']').parse().unwrap())),
                None => (rest, None),
            },
        };
        let (from, to) = arrow.split_once(" -> ").unwrap_or((arrow, arrow));
        out.push(Seen {
            from: from.to_string(),
            to: to.to_string(),
            kind: kind.to_string(),
            step,
        });
    }
    out
}

/// Text of a Mermaid alias or label with its entity codes (`#59;`) decoded.
fn mermaid_decode(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(i) = rest.find('#') {
        out.push_str(&rest[..i]);
        let tail = &rest[i + 1..];
        match tail
            .split_once(';')
            .and_then(|(n, r)| Some((n.parse::<u32>().ok()?, r)))
        {
            Some((n, r)) => {
                out.push(char::from_u32(n).expect("an entity code is a character"));
                rest = r;
            }
            None => {
                out.push('#');
                rest = tail;
            }
        }
    }
    out.push_str(rest);
    out
}

/// The arrows (and self-notes) of the Mermaid diagram, with the kind they can tell:
/// `request` (`->>`), `answer` (`-->>`: response, redirect, a message between parties),
/// `dropped` (`-x`) and `self` (`Note over`).
fn from_mermaid(mmd: &str) -> Vec<Seen> {
    let mut out = Vec::new();
    // Participant ids are opaque: each is read back as its alias, the party's name.
    let mut names = std::collections::BTreeMap::new();
    for line in mmd.lines().skip(1) {
        let line = line.trim();
        if let Some(p) = line.strip_prefix("participant ") {
            let (id, alias) = p
                .split_once(" as ")
                .expect("every participant has an alias");
            names.insert(id.to_string(), mermaid_decode(alias));
            continue;
        }
        let (head, label) = line.split_once(": ").expect("an arrow has a label");
        let (from, to, kind) = if let Some(p) = head.strip_prefix("Note over ") {
            (p, p, "self")
        } else if let Some((f, t)) = head.split_once("-->>") {
            (f, t, "answer")
        } else if let Some((f, t)) = head.split_once("->>") {
            (f, t, "request")
        } else if let Some((f, t)) = head.split_once("-x") {
            (f, t, "dropped")
        } else {
            panic!("not a Mermaid arrow: {line}");
        };
        let label = label.strip_prefix("dropped: ").unwrap_or(label);
        let step = label
            .strip_prefix('[')
            .and_then(|l| l.split_once("] "))
            .and_then(|(n, _)| n.parse().ok());
        let name = |id: &str| {
            names
                .get(id)
                .cloned()
                .expect("an arrow names a participant")
        };
        out.push(Seen {
            from: name(from),
            to: name(to),
            kind: kind.to_string(),
            step,
        });
    }
    out
}

/// What the Mermaid diagram shows of a JSON event.
fn as_mermaid(e: &Seen) -> Seen {
    let kind = if e.kind == "dropped" {
        "dropped"
    } else if e.from == e.to {
        "self"
    } else if e.kind == "request" {
        "request"
    } else {
        "answer"
    };
    Seen {
        from: e.from.clone(),
        to: e.to.clone(),
        kind: kind.to_string(),
        step: e.step,
    }
}

fn assert_same_events(t: &Trace, what: &str) {
    let json = from_json(&t.to_json());
    let text = from_text(&t.to_text());
    let mmd = from_mermaid(&t.to_mermaid());
    assert!(!json.is_empty(), "{what}: no events");
    assert_eq!(json.len(), t.events.len(), "{what}: JSON event count");
    assert_eq!(text.len(), json.len(), "{what}: text and JSON event counts");
    assert_eq!(
        mmd.len(),
        json.len(),
        "{what}: Mermaid and JSON event counts"
    );
    for (i, j) in json.iter().enumerate() {
        assert_eq!(&text[i], j, "{what}: event {i} in text vs JSON");
        assert_eq!(
            mmd[i],
            as_mermaid(j),
            "{what}: event {i} in Mermaid vs JSON"
        );
    }
}

#[test]
fn json_text_and_mermaid_describe_the_same_events() {
    for b in BUNDLED {
        assert_same_events(&trace(b.name, &[]), b.name);
    }
    // Runs that fail, drop or wander off the documented path too.
    for (name, sets) in [
        (
            "mobile-onprem-hma",
            &["onprem.hybrid_modern_auth=false"][..],
        ),
        ("web-onprem-external", &["load_balancer.tls=offloading"][..]),
        ("desktop-onprem-ca", &["users.0.mfa_registered=false"][..]),
        (
            "mobile-exo",
            &["identity.model=pta", "network.jitter_ms=40"][..],
        ),
        ("web-exo", &["run.max_events=5"][..]),
    ] {
        assert_same_events(&trace(name, sets), &format!("{name} {sets:?}"));
    }
}

#[test]
fn the_text_parser_reads_every_header_shape() {
    // Each shape the text view prints, so the comparison above cannot pass by skipping.
    let text = "   0  +00:00:00.000  note     browser \n      s\n\
                \x20  1  +1d 02:00:00.023  request  browser -> exchange-online [step 12]\n\
                \x20  2  +00:00:01.000  dropped  a -> b \n";
    let seen = from_text(text);
    assert_eq!(seen.len(), 3, "{seen:?}");
    assert_eq!(seen[0].from, "browser");
    assert_eq!(seen[0].to, "browser");
    assert_eq!(seen[0].step, None);
    assert_eq!(seen[1].to, "exchange-online");
    assert_eq!(seen[1].step, Some(12));
    assert_eq!(
        (seen[2].kind.as_str(), seen[2].to.as_str()),
        ("dropped", "b")
    );
}

#[test]
#[should_panic(expected = "text event numbers")]
fn the_text_parser_notices_a_missing_event() {
    from_text("   0  +00:00:00.000  note     a \n   2  +00:00:00.000  note     a \n");
}

// ---------------------------------------------------------------------------------------
// One line reproduces a run.

/// The `reproduce:` line of a text view, as arguments for the binary.
fn reproduce_args(text: &str) -> Vec<String> {
    let line = text
        .lines()
        .take(4)
        .find_map(|l| l.strip_prefix("reproduce: hmasim "))
        .unwrap_or_else(|| panic!("no `reproduce: hmasim ...` line in the header:\n{text}"));
    line.split_whitespace().map(str::to_string).collect()
}

fn reproduces(args: &[&str]) {
    let out = String::from_utf8(stdout_of(args)).unwrap();
    let again = reproduce_args(&out);
    let again: Vec<&str> = again.iter().map(String::as_str).collect();
    let out2 = String::from_utf8(stdout_of(&again)).unwrap();
    assert!(
        out == out2,
        "`hmasim {}` is not reproduced by its line `hmasim {}`",
        args.join(" "),
        again.join(" ")
    );
}

#[test]
fn the_header_names_seed_and_model_and_its_reproduce_line_reproduces_the_run() {
    for b in BUNDLED {
        reproduces(&["run", b.name]);
    }
    for (seed, model) in [
        ("42", "pta"),
        ("18446744073709551615", "phs"),
        ("0", "federated"),
    ] {
        let set = format!("identity.model={model}");
        let args = ["run", "desktop-exo-adfs-mfa", "--seed", seed, "--set", &set];
        let out = String::from_utf8(stdout_of(&args)).unwrap();
        assert!(
            out.lines()
                .nth(1)
                .is_some_and(|l| l.starts_with(&format!("seed {seed}, identity model {model}"))),
            "{out}"
        );
        reproduces(&args);
        // The JSON trace of the same run says the same.
        let json_args = [&args[..], &["--format", "json"]].concat();
        let doc: serde_json::Value =
            serde_json::from_slice(&stdout_of(&json_args)).expect("JSON output");
        assert_eq!(doc["seed"].to_string(), seed);
        assert_eq!(doc["identity_model"], model);
    }
}

#[test]
fn the_reproduce_line_carries_every_override() {
    reproduces(&["run", "web-exo", "--set", "network.jitter_ms=17"]);
}

#[test]
fn the_reproduce_line_of_a_scenario_file_reproduces_it() {
    let dir = std::env::temp_dir().join(format!("hmasim-determinism-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("slow-web-exo.toml");
    // Same `name` as the bundled scenario, different network: the line must not run the
    // bundled one.
    let src = BUNDLED
        .iter()
        .find(|b| b.name == "web-exo")
        .unwrap()
        .source
        .replace("seed = 1\n", "seed = 1\n\n[network]\nlatency_ms = 300\n");
    std::fs::write(&file, src).unwrap();
    let path = file.to_str().unwrap();
    reproduces(&["run", path]);
    let _ = std::fs::remove_dir_all(&dir);
}
