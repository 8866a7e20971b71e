fn main() {
    let name = std::env::args()
        .nth(1)
        .unwrap_or("mobile-onprem-hma".into());
    let all = name == "all";
    let names: Vec<String> = if all {
        hmasim_scenario::BUNDLED
            .iter()
            .map(|b| b.name.to_string())
            .collect()
    } else {
        vec![name]
    };
    for n in names {
        for model in ["federated", "phs", "pta"] {
            let mut sc = hmasim_scenario::load(&n).unwrap();
            hmasim_scenario::apply_set(&mut sc, &format!("identity.model={model}")).unwrap();
            for a in std::env::args().skip(2) {
                hmasim_scenario::apply_set(&mut sc, &a).unwrap();
            }
            let t = hmasim_sim::run(&sc, true);
            if all {
                let steps: Vec<u8> = t
                    .events
                    .iter()
                    .filter_map(|e| t.step(&e.msg).map(|s| s.1))
                    .collect();
                let mut d = steps.clone();
                d.dedup();
                println!(
                    "{n:25} {model:9} access={} mfa={} fail={:?} steps={:?}",
                    t.outcome.mailbox_access,
                    t.outcome.mfa_satisfied,
                    t.outcome.failure.as_ref().map(|f| f.code.clone()),
                    d
                );
            } else {
                print!("{}", t.to_text());
                return;
            }
        }
    }
}
