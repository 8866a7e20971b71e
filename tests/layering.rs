//! The layering of the workspace (ARCHITECTURE.md, "Layers"), read from `cargo metadata`
//! (offline, no dependency resolution): which crate may build on which.
//!
//! - `hmasim-base` depends on nothing; `hmasim-kernel` on `hmasim-base` and no protocol.
//! - `hmasim-protocol` does not depend on `hmasim-kernel`, directly or not (issue 12
//!   item 1: the live emulator runs the same protocol code without the kernel).
//! - No party crate depends on the kernel, directly or not: every party is written against
//!   the protocol's `Env` (issue 12 item 1), which the simulator implements over the
//!   kernel's `Ctx`. A party crate never depends on another party, nor on `hmasim-sim`
//!   (the world builder calls each party crate's `from_scenario`, never the reverse); it
//!   may read its slice of the scenario (`hmasim-scenario`, which knows no kernel either).
//! - By source text: parties sign through the environment, and none reads the trace
//!   metadata of a message (issue 12 item 4; see `metadata_reads`).

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;

use serde_json::Value;

/// Every workspace crate and the workspace crates it depends on (normal and build
/// dependencies; dev-dependencies are left out, as they do not reach a user of the crate).
fn workspace_graph() -> (BTreeMap<String, BTreeSet<String>>, BTreeSet<String>) {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo)
        .args([
            "metadata",
            "--format-version",
            "1",
            "--no-deps",
            "--offline",
        ])
        .arg("--manifest-path")
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml"))
        .output()
        .expect("cargo metadata runs");
    assert!(
        out.status.success(),
        "cargo metadata: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let meta: Value = serde_json::from_slice(&out.stdout).expect("cargo metadata prints JSON");
    let packages = meta["packages"].as_array().expect("packages");
    let names: BTreeSet<String> = packages
        .iter()
        .map(|p| p["name"].as_str().unwrap().to_string())
        .collect();
    let mut graph = BTreeMap::new();
    let mut parties = BTreeSet::new();
    for p in packages {
        let name = p["name"].as_str().unwrap().to_string();
        let deps = p["dependencies"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|d| d["kind"].as_str() != Some("dev"))
            .map(|d| d["name"].as_str().unwrap().to_string())
            .filter(|d| names.contains(d))
            .collect();
        if p["manifest_path"]
            .as_str()
            .unwrap()
            .replace('\\', "/")
            .contains("/crates/parties/")
        {
            parties.insert(name.clone());
        }
        graph.insert(name, deps);
    }
    (graph, parties)
}

/// Every workspace crate `from` depends on, directly or through other workspace crates
/// (a crate outside the workspace cannot depend on one inside).
fn reaches(graph: &BTreeMap<String, BTreeSet<String>>, from: &str) -> BTreeSet<String> {
    let mut seen = BTreeSet::new();
    let mut todo = vec![from.to_string()];
    while let Some(c) = todo.pop() {
        for d in graph.get(&c).into_iter().flatten() {
            if seen.insert(d.clone()) {
                todo.push(d.clone());
            }
        }
    }
    seen
}

#[test]
fn the_protocol_and_the_base_do_not_depend_on_the_kernel() {
    let (graph, _) = workspace_graph();
    assert!(graph.contains_key("hmasim-protocol") && graph.contains_key("hmasim-kernel"));
    let protocol = reaches(&graph, "hmasim-protocol");
    assert!(
        !protocol.contains("hmasim-kernel"),
        "hmasim-protocol depends on hmasim-kernel: {protocol:?}"
    );
    assert_eq!(
        reaches(&graph, "hmasim-base"),
        BTreeSet::new(),
        "hmasim-base depends on no workspace crate"
    );
    assert!(
        !reaches(&graph, "hmasim-scenario").contains("hmasim-kernel"),
        "hmasim-scenario, which party crates read their configuration from, knows no kernel"
    );
    let kernel = reaches(&graph, "hmasim-kernel");
    assert_eq!(
        kernel,
        BTreeSet::from(["hmasim-base".to_string()]),
        "the kernel knows no protocol"
    );
}

#[test]
fn no_party_crate_depends_on_the_kernel_or_on_another_party() {
    let (graph, parties) = workspace_graph();
    assert!(parties.len() >= 9, "party crates found: {parties:?}");
    for p in &parties {
        let deps = reaches(&graph, p);
        assert!(
            !deps.contains("hmasim-kernel"),
            "{p} depends on hmasim-kernel: parties are written against hmasim_protocol::Env"
        );
        let others: Vec<_> = deps.intersection(&parties).collect();
        assert!(
            others.is_empty(),
            "{p} depends on other parties: {others:?}"
        );
        assert!(deps.contains("hmasim-protocol"), "{p} speaks the protocol");
        assert!(
            !deps.contains("hmasim-sim") && !deps.contains("hmasim"),
            "{p} depends on the simulator: the topology table calls the party, not the reverse"
        );
    }
}

/// Every Rust source file under `crates/parties`, with its text.
fn party_sources() -> Vec<(std::path::PathBuf, String)> {
    let root = std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/crates/parties"));
    let mut dirs = vec![root.to_path_buf()];
    let mut sources = Vec::new();
    while let Some(p) = dirs.pop() {
        if p.is_dir() {
            for e in std::fs::read_dir(&p).expect("read_dir") {
                dirs.push(e.expect("entry").path());
            }
        } else if p.extension().is_some_and(|x| x == "rs") {
            let text = std::fs::read_to_string(&p).expect("read");
            sources.push((p, text));
        }
    }
    sources
}

/// Parties sign and verify tokens through `Env::sign` and `Env::verify`, never by calling
/// `jwt::sign`/`jwt::verify` themselves: an environment with real keys (the live emulator,
/// RS256) then changes how every party signs and checks without changing a party.
#[test]
fn parties_sign_and_verify_through_the_environment() {
    let sources = party_sources();
    let mut offenders = Vec::new();
    for (p, text) in &sources {
        for (n, line) in text.lines().enumerate() {
            if line.contains("jwt::sign(") || line.contains("jwt::verify(") {
                offenders.push(format!("{}:{}", p.display(), n + 1));
            }
        }
    }
    assert!(sources.len() >= 9, "party sources found: {}", sources.len());
    assert!(
        offenders.is_empty(),
        "use env.sign/env.verify: {offenders:?}"
    );
}

/// The lines of a party's source (its code before any `#[cfg(test)]` module) that would
/// read the trace metadata of a message, by name: a grep-level check, so it sees what
/// the source says, not what the types allow. The types already stop a handler: it
/// receives a `Wire`, which has no metadata, and an `Env::label` is opaque. What is left
/// to catch is a party reaching around them: touching a `Meta` (`.meta`: a party writes
/// its own metadata through `Message`'s builders and never reads any), splitting a
/// `Message` it holds, building a `Label` from metadata, or a handler that takes a
/// `Message`.
fn metadata_reads(text: &str) -> Vec<(usize, &'static str)> {
    let code = text.split("#[cfg(test)]").next().unwrap_or("");
    let mut found = Vec::new();
    for (n, line) in code.lines().enumerate() {
        let line = line.split("//").next().unwrap_or("");
        let meta_field = line.match_indices(".meta").any(|(i, _)| {
            !line[i + 5..].starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_')
        });
        if meta_field {
            found.push((n + 1, "reads a message's Meta"));
        }
        if line.contains(".split()") {
            found.push((n + 1, "splits a Message into its wire and metadata"));
        }
        if line.contains("Label::of(") {
            found.push((n + 1, "builds a Label from metadata"));
        }
        if line.contains("fn handle(") && !line.contains(": Wire") {
            found.push((n + 1, "a handler that does not take a Wire"));
        }
    }
    found
}

#[test]
fn the_metadata_check_finds_each_way_of_reading_metadata() {
    let source = "\
pub fn handle(&mut self, msg: Message, ctx: &mut impl Env) {}
let s = resp.meta.stage;
let (wire, meta) = held.split();
let l = Label::of(&m);
let keys = self.metadata(); // a comment may say .meta
pub fn handle(&mut self, msg: Wire, ctx: &mut impl Env) {}
#[cfg(test)]
mod tests { fn t() { let _ = env.sent[0].1.meta.stage; } }
";
    let lines: Vec<usize> = metadata_reads(source).iter().map(|(n, _)| *n).collect();
    assert_eq!(lines, vec![1, 2, 3, 4]);
}

/// No party reads the trace metadata of a message (issue 12 item 4): see
/// [`metadata_reads`] for what the check looks for and why it is by source text.
#[test]
fn no_party_reads_the_metadata_of_a_message() {
    let sources = party_sources();
    let mut offenders = Vec::new();
    let mut handlers = 0;
    for (p, text) in &sources {
        handlers += text.matches("pub fn handle(").count();
        for (n, why) in metadata_reads(text) {
            offenders.push(format!("{}:{n}: {why}", p.display()));
        }
    }
    assert!(sources.len() >= 9, "party sources found: {}", sources.len());
    assert!(handlers >= 11, "party handlers found: {handlers}");
    assert!(offenders.is_empty(), "{offenders:#?}");
}
