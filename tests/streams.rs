//! Stable random streams (issue 12 item 8): each party's random stream is keyed by its
//! stable id (its kind and the scenario's name for it), not by its position in the world,
//! so adding parties that do not act leaves the run of those that do unchanged: a user's
//! run is the same in a one-user world and in a bigger one.

use hmasim::scenario::{load, Scenario, BUNDLED};
use serde_json::Value;

/// `sc` with `n` more users, each with a client of the first client's kind, none of which
/// appears in the timeline. They are appended, so the parties after the clients in the
/// world (every service) move to other positions.
fn with_bystanders(sc: &Scenario, n: usize) -> Scenario {
    let mut big = sc.clone();
    for i in 0..n {
        let mut user = sc.users[0].clone();
        user.upn = format!("bystander{i}@{}", sc.tenant.domain);
        let mut client = sc.clients[0].clone();
        client.id = Some(format!("bystander-{i}"));
        client.user = user.upn.clone();
        big.users.push(user);
        big.clients.push(client);
    }
    big.validate().expect("bystanders keep the scenario valid");
    big
}

/// What the acting parties did: the trace's events and the tokens issued.
fn acted(sc: &Scenario) -> (Value, Value) {
    let json: Value = serde_json::from_str(&hmasim::sim::run(sc, true).to_json()).unwrap();
    (json["events"].clone(), json["tokens"].clone())
}

#[test]
fn a_clients_run_does_not_change_when_unrelated_clients_and_users_are_added() {
    let mut compared = 0;
    for b in BUNDLED {
        let sc = load(b.name).unwrap();
        if sc.clients.is_empty() || sc.users.is_empty() {
            continue;
        }
        let alone = acted(&sc);
        assert!(
            alone.0.as_array().is_some_and(|e| !e.is_empty()),
            "{}: the run records events",
            b.name
        );
        for n in [1, 3] {
            let crowd = acted(&with_bystanders(&sc, n));
            assert!(
                alone.0 == crowd.0,
                "{} with {n} bystander(s): the events changed",
                b.name
            );
            assert!(
                alone.1 == crowd.1,
                "{} with {n} bystander(s): the tokens changed",
                b.name
            );
        }
        compared += 1;
    }
    assert!(compared >= 10, "only {compared} scenarios compared");
}
