//! Property tests over seeds and identity models: the outcomes of the documented flows do
//! not depend on the seed (only timings and token bytes do), and removing the flow's one
//! MFA control always shows up as access without MFA in the tokens' `amr`.
//!
//! `PROPTEST_CASES=2000 cargo test --test properties` for a long run.

use proptest::prelude::*;

const MODELS: [&str; 3] = ["federated", "phs", "pta"];

fn names() -> impl Strategy<Value = &'static str> {
    // The nine documented flows (fault scenarios have their own properties).
    let flows = hmasim::scenario::BUNDLED
        .iter()
        .map(|b| b.name)
        .filter(|n| hmasim::protocol::FlowId::from_name(n).is_some());
    prop::sample::select(flows.collect::<Vec<_>>())
}

fn load(name: &str, seed: u64, model: &str, extra: &[String]) -> hmasim::scenario::Scenario {
    let mut sc = hmasim::scenario::load(name).unwrap();
    hmasim::scenario::apply_set(&mut sc, &format!("identity.model={model}")).unwrap();
    for e in extra {
        hmasim::scenario::apply_set(&mut sc, e).unwrap();
    }
    sc.seed = seed;
    sc
}

/// The scenario's one MFA control, switched off.
fn mfa_off(name: &str) -> String {
    if name.contains("adfs-mfa") {
        "adfs.office365_policy=permit-everyone".into()
    } else if name.starts_with("web-onprem") {
        "adfs.owa_policy=permit-everyone".into()
    } else {
        "conditional_access.0.state=disabled".into()
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, .. ProptestConfig::default() })]

    #[test]
    fn every_flow_reaches_the_mailbox_and_mfa_holds_where_documented(name in names(), seed in any::<u64>(), model in prop::sample::select(MODELS.to_vec()), jitter in 0u64..40) {
        let sc = load(name, seed, model, &[format!("network.jitter_ms={jitter}")]);
        let t = hmasim::sim::run(&sc, true);
        prop_assert!(t.outcome.mailbox_access, "{} {} seed {}", name, model, seed);
        let lost = name.ends_with("adfs-mfa") && model != "federated";
        prop_assert_eq!(t.outcome.mfa_satisfied, !lost);
        // Every token that reached mailbox data: its amr says the same as the verdict.
        let access: Vec<_> = t.tokens.iter().filter(|x| x.kind == hmasim::protocol::TokenKind::Access || x.kind == hmasim::protocol::TokenKind::Id || x.kind == hmasim::protocol::TokenKind::Saml).collect();
        prop_assert!(access.iter().any(|x| x.has_mfa() != lost));
    }

    #[test]
    fn switching_off_the_mfa_control_yields_access_without_mfa(name in names(), seed in any::<u64>(), model in prop::sample::select(MODELS.to_vec())) {
        let sc = load(name, seed, model, &[mfa_off(name)]);
        let t = hmasim::sim::run(&sc, true);
        prop_assert!(t.outcome.mailbox_access);
        prop_assert!(!t.outcome.mfa_satisfied);
        prop_assert!(t.tokens.iter().all(|x| !x.amr.iter().any(|m| m == "mfa")));
    }

    #[test]
    fn fast_path_agrees_with_the_recorded_run(name in names(), seed in any::<u64>(), model in prop::sample::select(MODELS.to_vec())) {
        let sc = load(name, seed, model, &[]);
        let full = hmasim::sim::run(&sc, true).outcome;
        let fast = hmasim::sim::run_until_access(&sc);
        prop_assert_eq!(full.mailbox_access, fast.mailbox_access);
        prop_assert_eq!(full.mfa_satisfied, fast.mfa_satisfied);
        prop_assert_eq!(full.served_by, fast.served_by);
    }

    #[test]
    fn determinism_over_seeds(name in names(), seed in any::<u64>()) {
        let sc = load(name, seed, "federated", &[]);
        prop_assert_eq!(hmasim::sim::run(&sc, true).to_json(), hmasim::sim::run(&sc, true).to_json());
    }
}
