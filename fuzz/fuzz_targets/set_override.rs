//! Arbitrary `KEY=VALUE` lines applied with `apply_set` (`--set`) to a bundled scenario,
//! then the result validated and run. Must never panic.
//!
//! The first byte picks the bundled scenario; each line (the first 8) is one `--set` argument
//! (`[table]` and `[[array]]` headers prefix the keys, so scenario files as seeds yield
//! real keys). An accepted override must leave a valid scenario that survives the JSON
//! round trip; a rejected one must name the argument and leave the scenario untouched.
//! Whatever the overrides leave is built and run briefly (10 simulated minutes, 2,000
//! events) and its trace checked.
#![no_main]

use hmasim::scenario::{apply_set, parse, Format};
use hmasim_fuzz::{pick, run_checked, set_args, short};
use libfuzzer_sys::fuzz_target;

/// `--set` lines taken from one input: fewer than `whole_run` takes, for speed (each
/// override re-validates the whole scenario and replays its timeline and fix `set`s).
const MAX_LINES: usize = 8;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let mut sc = pick(data).clone();
    let mut accepted = false;
    for arg in set_args(&text).into_iter().take(MAX_LINES) {
        let before = sc.clone();
        match apply_set(&mut sc, &arg) {
            Ok(()) => accepted = true,
            Err(e) => {
                let msg = e.to_string();
                assert!(
                    msg.starts_with(&format!("--set {arg}: ")),
                    "a --set error does not name the argument: {msg}"
                );
                assert!(sc == before, "a rejected --set {arg} changed the scenario");
            }
        }
    }
    if let Err(e) = sc.validate() {
        panic!("accepted overrides left an invalid scenario: {e:?}");
    }
    if accepted {
        let json = serde_json::to_string(&sc).expect("a scenario serializes to JSON");
        match parse(&json, "roundtrip.json", Format::Json) {
            Ok(back) => assert_eq!(back, sc, "JSON round trip changed the scenario"),
            Err(e) => panic!("the JSON of an overridden scenario is rejected: {e}\n{json}"),
        }
    }
    run_checked(&short(sc));
});
