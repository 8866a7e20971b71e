//! Arbitrary bytes through the Microsoft Graph `conditionalAccessPolicy` reader
//! (`--ca-policies`). Must never panic.
//!
//! The bytes are read as one Graph JSON file against the named locations of a base
//! scenario the input's length picks: every other input the tenant of
//! `tests/fixtures/graph/tenant.toml` (the only one with named locations, which the
//! fixtures' location ids resolve against), else a bundled scenario. A rejection must be located (it names the file and has
//! a line:col); warnings must name the file. Accepted policies replace the scenario's, as
//! `--ca-policies` does; they are evaluated for every user, client app type, platform and
//! location, and the scenario is built and run briefly (10 simulated minutes, 2,000
//! events). When the scenario format accepts the result (as JSON), it must be unchanged.
//!
//! Bytes holding NUL bytes are also split there into the files of a directory
//! (`p00.json`, `p01.json`...), read as `--ca-policies DIR` reads them: the result must
//! be that of the files one by one, in order.
#![no_main]

use std::path::PathBuf;

use hmasim::protocol::policy::{ClientAppType, DevicePlatform, GrantControl};
use hmasim::scenario::graph::{parse_graph, read_graph, GraphPolicies};
use hmasim::scenario::Scenario;
use hmasim::scenario::{parse, ErrorOrigin, Format, ScenarioError};
use hmasim_entra_id::ca::{evaluate, verdict_for, SignInFacts};
use hmasim_fuzz::{bundled, run_checked, short};
use libfuzzer_sys::fuzz_target;

/// Files a directory input is split into, at most.
const MAX_FILES: usize = 8;

/// The tenant of the Graph fixtures, its policies files left out (they are the seeds).
fn graph_tenant() -> &'static Scenario {
    static PARSED: std::sync::OnceLock<Scenario> = std::sync::OnceLock::new();
    PARSED.get_or_init(|| {
        let src = include_str!("../../tests/fixtures/graph/tenant.toml")
            .replace("conditional_access_files = [\"list.json\"]", "");
        parse(&src, "tenant.toml", Format::Toml).expect("the Graph fixtures' tenant parses")
    })
}

/// The base scenario for an input of `len` bytes.
fn base(len: usize) -> &'static Scenario {
    let all = bundled();
    if len % 2 == 0 {
        graph_tenant()
    } else {
        &all[(len / 2) % all.len()]
    }
}

fn assert_located(e: &ScenarioError, file: &str) {
    let msg = e.to_string();
    assert!(msg.starts_with(file), "error does not name the file: {msg}");
    assert!(e.position.is_some(), "error has no line:col: {msg}");
    if let ErrorOrigin::JsonPath { path, .. } = &e.origin {
        assert!(path.starts_with('$'), "not a JSON path: {path}");
    }
}

fn check_read(read: &GraphPolicies, file: &str) {
    for w in &read.warnings {
        assert!(
            w.to_string().starts_with(file),
            "warning without its file: {w}"
        );
        assert!(
            w.path.starts_with('$'),
            "warning without its JSON path: {w}"
        );
    }
    for p in &read.policies {
        assert!(!p.name.trim().is_empty(), "a policy without a name");
        assert!(
            !p.client_app_types.is_empty(),
            "a policy without client app types"
        );
    }
}

/// The directory of the directory form: in memory (`/dev/shm`) where there is one, as
/// creating files on a disk file system costs more than the rest of an execution.
fn directory() -> PathBuf {
    let shm = std::path::Path::new("/dev/shm");
    let base = if shm.is_dir() {
        shm.to_path_buf()
    } else {
        std::env::temp_dir()
    };
    base.join(format!("hmasim-fuzz-graph-{}", std::process::id()))
}

/// The parts as the files of a directory, read with `read_graph`, against each file
/// read alone.
fn check_directory(parts: &[&[u8]], named: &[hmasim::protocol::policy::NamedLocation]) {
    let dir = directory();
    std::fs::create_dir_all(&dir).expect("a temporary directory");
    // The files of the previous execution beyond this one's are removed; the others are
    // overwritten.
    for i in parts.len()..MAX_FILES {
        let _ = std::fs::remove_file(dir.join(format!("p{i:02}.json")));
    }
    let mut want = Ok(GraphPolicies::default());
    for (i, part) in parts.iter().enumerate() {
        let path = dir.join(format!("p{i:02}.json"));
        std::fs::write(&path, part).expect("write a policy file");
        let shown = path.display().to_string();
        let one = match std::str::from_utf8(part) {
            Ok(src) => parse_graph(src, &shown, named),
            Err(_) => read_graph(&path, named),
        };
        if let Ok(acc) = &mut want {
            match one {
                Ok(r) => {
                    acc.policies.extend(r.policies);
                    acc.warnings.extend(r.warnings);
                }
                Err(e) => want = Err(e),
            }
        }
    }
    let got = read_graph(&dir, named);
    match (&got, &want) {
        (Ok(g), Ok(w)) => assert_eq!(g, w, "the directory reads otherwise than its files"),
        (Err(g), Err(w)) => {
            assert_eq!(
                g.to_string(),
                w.to_string(),
                "the directory fails otherwise"
            );
            // An error of the JSON is located in its file; a file that is not UTF-8 is
            // named.
            assert!(g.to_string().starts_with(&dir.display().to_string()), "{g}");
        }
        _ => panic!("directory {got:?} against files {want:?}"),
    }
}

fuzz_target!(|data: &[u8]| {
    let base = base(data.len());
    let text = String::from_utf8_lossy(data);
    let read = match parse_graph(&text, "fuzz.json", &base.named_locations) {
        Ok(read) => read,
        Err(e) => {
            assert_located(&e, "fuzz.json");
            if data.contains(&0) {
                let parts: Vec<&[u8]> = data.split(|&b| b == 0).take(MAX_FILES).collect();
                check_directory(&parts, &base.named_locations);
            }
            return;
        }
    };
    check_read(&read, "fuzz.json");
    if data.contains(&0) {
        let parts: Vec<&[u8]> = data.split(|&b| b == 0).take(MAX_FILES).collect();
        check_directory(&parts, &base.named_locations);
    }

    // Evaluated for every sign-in the scenario's users could make.
    for u in &base.users {
        for client_app in ClientAppType::ALL {
            for platform in DevicePlatform::ALL.map(Some).into_iter().chain([None]) {
                let locations = base
                    .named_locations
                    .iter()
                    .map(|l| (vec![l.name.clone()], l.trusted))
                    .chain([(Vec::new(), false)]);
                for (locations, trusted_location) in locations {
                    let f = SignInFacts {
                        upn: u.upn.clone(),
                        groups: u.groups.clone(),
                        roles: u.roles.clone(),
                        guest: u.guest.clone(),
                        app_id: hmasim::protocol::apps::EXCHANGE_ONLINE.to_string(),
                        client_app,
                        platform,
                        address: None,
                        country: None,
                        locations,
                        trusted_location,
                        device: None,
                        auth_flow: None,
                        sign_in_risk: u.sign_in_risk,
                        user_risk: u.user_risk,
                        insider_risk: u.insider_risk,
                    };
                    let results = evaluate(&read.policies, &f);
                    assert_eq!(results.len(), read.policies.len());
                    let _ = verdict_for(&results, &f, |c| c == GrantControl::Mfa);
                }
            }
        }
    }

    // Replaced into the scenario, as `--ca-policies` does, and run.
    let mut sc = base.clone();
    sc.conditional_access = read.policies;
    // What the scenario format accepts of it must be what was read.
    let json = serde_json::to_string(&sc).expect("a scenario serializes to JSON");
    if let Ok(back) = parse(&json, "roundtrip.json", Format::Json) {
        assert_eq!(back, sc, "JSON round trip changed the policies");
    }
    run_checked(&short(sc));
});
