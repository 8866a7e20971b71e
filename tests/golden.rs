//! Golden traces: every bundled scenario's JSON trace, one snapshot file each (and the
//! default scenario's text and Mermaid views), reviewed as snapshots. A change in any message, header, token or step shows up
//! here as a diff to review (`cargo insta review`).

#[test]
fn json_trace_of_every_bundled_scenario() {
    for b in hmasim::scenario::BUNDLED.iter() {
        let sc = hmasim::scenario::load(b.name).unwrap();
        let json = hmasim::sim::run(&sc, true).to_json();
        insta::assert_snapshot!(format!("{}.json", b.name), json);
    }
}

#[test]
fn text_view_of_the_default_scenario() {
    let sc = hmasim::scenario::load("mobile-onprem-hma").unwrap();
    insta::assert_snapshot!(
        "mobile-onprem-hma.txt",
        hmasim::sim::run(&sc, true).to_text()
    );
}

#[test]
fn mermaid_view_of_the_default_scenario() {
    let sc = hmasim::scenario::load("mobile-onprem-hma").unwrap();
    insta::assert_snapshot!(
        "mobile-onprem-hma.mmd",
        hmasim::sim::run(&sc, true).to_mermaid()
    );
}
