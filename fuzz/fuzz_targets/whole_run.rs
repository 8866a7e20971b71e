//! Arbitrary bytes as a scenario, run and rendered. Must never panic.
//!
//! The bytes are a scenario (TOML, else JSON) when they parse as one. Most mutated inputs
//! do not, so they are then read as `--set` lines over the bundled scenario their first
//! byte picks (`[table]` headers prefix the keys), and whatever the overrides leave valid
//! is run: this way most executions reach the simulator with a varied scenario. Runs are
//! capped (1 simulated hour, 20,000 events) to keep each execution fast; the renderings
//! and a few invariants of the contract's trace are checked.
#![no_main]

use hmasim::scenario::{apply_set, parse, Format};
use hmasim_fuzz::{capped, pick, set_args};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let parsed = parse(&text, "fuzz.toml", Format::Toml)
        .ok()
        .or_else(|| parse(&text, "fuzz.json", Format::Json).ok());
    let sc = parsed.unwrap_or_else(|| {
        let mut sc = pick(data).clone();
        for arg in set_args(&text) {
            let _ = apply_set(&mut sc, &arg);
        }
        sc
    });
    let sc = capped(sc);

    let trace = hmasim::sim::run(&sc, true);
    let json = trace.to_json();
    let txt = trace.to_text();
    let mmd = trace.to_mermaid();

    // The contract's trace: events numbered in delivery order, in simulated-time order.
    hmasim_fuzz::check_trace(&trace);
    let doc: serde_json::Value = serde_json::from_str(&json).expect("to_json is JSON");
    assert_eq!(
        doc["events"].as_array().map(Vec::len),
        Some(trace.events.len())
    );
    assert!(txt.contains("VERDICT: "));
    assert!(mmd.starts_with("sequenceDiagram\n"));

    // The fast path must not panic either.
    let _ = hmasim::sim::run_until_access(&sc);
});
