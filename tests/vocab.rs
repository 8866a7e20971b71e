//! The typed vocabulary: every stable string the contract promises comes from an enum, and
//! each string is unique, snake_case and documented.

use std::collections::BTreeSet;

use hmasim::protocol::FaultCode;

/// The codes `docs/outcome.md` lists in its "Failure codes" table.
fn documented_codes() -> BTreeSet<String> {
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/outcome.md"))
        .expect("docs/outcome.md");
    let table = doc
        .split_once("## Failure codes")
        .expect("a Failure codes section")
        .1;
    let table = table.split("\n## ").next().unwrap_or(table);
    table
        .lines()
        .filter_map(|l| l.strip_prefix("| `"))
        .filter_map(|l| l.split_once('`').map(|(code, _)| code.to_string()))
        .collect()
}

fn is_snake_case(s: &str) -> bool {
    !s.is_empty()
        && s.split('_')
            .all(|w| !w.is_empty() && w.bytes().all(|b| b.is_ascii_lowercase()))
}

#[test]
fn every_fault_code_is_unique_snake_case_and_documented() {
    let documented = documented_codes();
    let mut seen = BTreeSet::new();
    for &c in FaultCode::ALL {
        let s = c.as_str();
        assert!(is_snake_case(s), "{s:?} is not snake_case");
        assert!(seen.insert(s), "{s:?} is the string of two codes");
        assert!(
            documented.contains(s),
            "{s:?} is not in docs/outcome.md's Failure codes"
        );
        assert_eq!(FaultCode::parse(s), Some(c));
        assert_eq!(c.to_string(), s);
        assert_eq!(serde_json::to_value(c).unwrap(), serde_json::json!(s));
    }
    // And the table lists no code the simulator cannot raise.
    let extra: Vec<_> = documented
        .iter()
        .filter(|d| !seen.contains(d.as_str()))
        .collect();
    assert!(
        extra.is_empty(),
        "documented but not a FaultCode: {extra:?}"
    );
}

#[test]
fn the_snake_case_check_refuses_what_it_should() {
    for bad in [
        "",
        "Invalid_grant",
        "invalid-grant",
        "_x",
        "x_",
        "a__b",
        "token2",
    ] {
        assert!(!is_snake_case(bad), "{bad:?}");
    }
}

/// The methods `docs/verify.md` lists in its table of methods (cells may name several).
fn documented_methods() -> BTreeSet<String> {
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/verify.md"))
        .expect("docs/verify.md");
    let table = doc
        .split_once("| method | client kinds | how |")
        .expect("a table of methods")
        .1;
    table
        .lines()
        .skip(2) // the header's end and the |---| row
        .take_while(|l| l.starts_with('|'))
        .filter_map(|l| l.split('|').nth(1))
        .flat_map(|cell| {
            cell.split(',')
                .map(|m| m.trim().trim_matches('`').to_string())
        })
        .collect()
}

#[test]
fn every_verify_method_is_unique_kebab_case_and_documented() {
    use hmasim::sim::verify::Method;
    let documented = documented_methods();
    let mut seen = BTreeSet::new();
    for &m in Method::ALL {
        let s = m.as_str();
        assert!(is_snake_case(&s.replace('-', "_")), "{s:?}");
        assert!(seen.insert(s), "{s:?} is the string of two methods");
        assert!(
            documented.contains(s),
            "{s:?} is not in docs/verify.md's methods"
        );
        assert_eq!(Method::parse(s), Some(m));
        assert_eq!(serde_json::to_value(m).unwrap(), serde_json::json!(s));
    }
    let extra: Vec<_> = documented
        .iter()
        .filter(|d| !seen.contains(d.as_str()))
        .collect();
    assert!(extra.is_empty(), "documented but not a Method: {extra:?}");
}
