//! Arbitrary bytes through the scenario parser (TOML and JSON) and through `--set`.
//!
//! Must never panic. Beyond "no panic", it checks what the contract promises of bad input
//! (the message names the file or the `--set` argument) and that an accepted scenario
//! survives the JSON round trip `apply_set` itself relies on.
#![no_main]

use hmasim::scenario::{apply_set, parse, Format, Scenario};
use hmasim_fuzz::{pick, set_args};
use libfuzzer_sys::fuzz_target;

fn check_parse(text: &str, origin: &str, format: Format) {
    match parse(text, origin, format) {
        Ok(sc) => {
            assert!(sc.validate().is_ok(), "parse accepted an invalid scenario");
            let json = serde_json::to_string(&sc).expect("a scenario serializes to JSON");
            match parse(&json, "roundtrip.json", Format::Json) {
                Ok(back) => assert_eq!(back, sc, "JSON round trip changed the scenario"),
                Err(e) => panic!("the JSON of an accepted scenario is rejected: {e}\n{json}"),
            }
        }
        Err(e) => {
            let msg = e.to_string();
            assert!(
                msg.starts_with(origin),
                "error does not name the file: {msg}"
            );
        }
    }
}

fn check_sets(base: &Scenario, args: &[String]) {
    let mut sc = base.clone();
    for arg in args {
        let before = sc.clone();
        match apply_set(&mut sc, arg) {
            Ok(()) => assert!(
                sc.validate().is_ok(),
                "--set {arg} left an invalid scenario"
            ),
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
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    check_parse(&text, "fuzz.toml", Format::Toml);
    check_parse(&text, "fuzz.json", Format::Json);
    check_sets(pick(data), &set_args(&text));
});
