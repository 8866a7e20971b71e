//! The topology table (issue 12 item 5): every host name a world answers for is answered
//! by one party per view, and every request a bundled scenario's parties send goes to the
//! party the table names for its host, in the view the sender resolves through (read from
//! the traces, not from a hand list).

use hmasim::protocol::Kind;
use hmasim::sim::topology::{Topology, View};

#[test]
fn each_host_is_answered_by_one_party_per_view_in_every_bundled_scenario() {
    for b in hmasim::scenario::BUNDLED.iter() {
        let sc = hmasim::scenario::load(b.name).unwrap();
        let t = Topology::of(&sc);
        assert_eq!(t.ambiguous(), vec![], "{}: hosts answered twice", b.name);
        let names: std::collections::BTreeSet<_> = t.rows.iter().map(|r| &r.name).collect();
        assert_eq!(
            names.len(),
            t.rows.len(),
            "{}: party ids are unique",
            b.name
        );
        let keys: std::collections::BTreeSet<_> = t.rows.iter().map(|r| &r.key).collect();
        assert_eq!(
            keys.len(),
            t.rows.len(),
            "{}: stream keys are unique",
            b.name
        );
    }
}

#[test]
fn a_host_answered_twice_in_one_view_is_reported() {
    // A scenario whose mail host is the AD FS host makes the two collide in the views
    // where both are answered (inside: the load balancer and AD FS).
    let mut sc = hmasim::scenario::load("mobile-onprem-hma").unwrap();
    let adfs = sc.adfs_host();
    hmasim::scenario::apply_set(&mut sc, &format!("onprem.mail_host={adfs}")).unwrap();
    let amb = Topology::of(&sc).ambiguous();
    assert!(amb.contains(&(View::Intranet, adfs.clone())), "{amb:?}");
}

#[test]
fn every_request_of_every_bundled_scenario_goes_where_the_table_resolves_its_host() {
    let mut checked = 0;
    for b in hmasim::scenario::BUNDLED.iter() {
        let sc = hmasim::scenario::load(b.name).unwrap();
        let t = Topology::of(&sc);
        let trace = hmasim::sim::run(&sc, true);
        for e in &trace.events {
            if e.msg.kind != Kind::Request || e.from == e.to {
                continue;
            }
            let Some(url) = &e.msg.url else { continue };
            let from = &t.rows[e.from.0 as usize];
            // Entra MFA's push reaches the user's device over the channel the device
            // registered (the route Entra holds for the user), not by name resolution:
            // it is addressed to one device, whichever host the notification names.
            let to = &t.rows[e.to.0 as usize];
            if from.name == "entra-id" && to.client.is_some() && url.path == "/notify" {
                continue;
            }
            let view = from
                .view
                .unwrap_or_else(|| panic!("{}: {} sends without a view", b.name, from.name));
            assert_eq!(
                t.resolve(view, &url.host),
                Some(e.to),
                "{}: event {} from {} to {} for {} (view {})",
                b.name,
                e.seq,
                from.name,
                trace.names[e.to.0 as usize],
                url.host,
                view.as_str()
            );
            checked += 1;
        }
    }
    assert!(checked > 500, "requests checked: {checked}");
}
