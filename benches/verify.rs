//! `verify` of the largest bundled scenario (`secure-hybrid`: every client kind, two users,
//! mailboxes online and on-premises) in each of the three identity models, target under one
//! second for all three (and the federated one with risk-based policies and an unmodelled
//! one: the cost of risk exploration and of the refined rule's replays); and of a generated tenant of 500 users and 10 Conditional Access
//! policies (groups, roles, platforms, named locations), target under five seconds on one
//! core; and of the 35-policy persona baseline of `tests/fixtures/baseline` (Graph beta,
//! Windows PowerShell 5.1 export, four users of four personas, every risk class), target
//! under five seconds. Each prints the paths explored and the raw combinations its classes
//! pruned before criterion measures.
//! In test mode (`cargo test --benches`) the generated tenant has 5 users.

#![allow(clippy::disallowed_methods)] // a bench times itself
#![allow(missing_docs)] // criterion_group! generates an undocumented fn

use std::hint::black_box;
use std::time::Instant;

use criterion::{criterion_group, Criterion};
use hmasim::scenario::{apply_set, load, Scenario};
use hmasim::sim::verify::{verify, Verification};

/// Test mode: `cargo bench` passes `--bench`; `cargo test --benches` does not.
fn smoke() -> bool {
    !std::env::args().any(|a| a == "--bench")
}

fn hybrid() -> Vec<Scenario> {
    ["federated", "phs", "pta"]
        .iter()
        .map(|m| {
            let mut sc = load("secure-hybrid").expect("bundled");
            apply_set(&mut sc, &format!("identity.model={m}")).expect("valid");
            sc
        })
        .collect()
}

/// A tenant of `users` users and 10 policies: secure-hybrid's configuration, users spread
/// over two mailbox locations, three groups and two roles, half of them unregistered for
/// MFA every seventh; policies scoped by group, role, platform and named location.
fn generated(users: usize) -> Scenario {
    let mut sc = load("secure-hybrid").expect("bundled");
    sc.clients.clear();
    sc.timeline.clear();
    let groups = ["sales", "engineering", "admins"];
    let list: Vec<String> = (0..users)
        .map(|i| {
            let mailbox = if i % 3 == 0 { "onprem" } else { "online" };
            let roles = if i % 50 == 0 {
                "[\"Global Administrator\"]"
            } else {
                "[]"
            };
            format!(
                "{{upn = \"user{i}@contoso.com\", mailbox = \"{mailbox}\", groups = [\"{}\"], roles = {roles}, mfa_registered = {}}}",
                groups[i % groups.len()],
                i % 7 != 0
            )
        })
        .collect();
    apply_set(&mut sc, &format!("users=[{}]", list.join(", "))).expect("valid users");
    apply_set(
        &mut sc,
        "named_locations=[{id = \"loc-hq\", name = \"HQ\", trusted = true, ip_ranges = [\"203.0.113.0/24\"]}, {id = \"loc-partner\", name = \"Partner\", ip_ranges = [\"100.64.0.0/16\", \"2001:db8:1::/48\"]}]",
    )
    .expect("valid locations");
    let exo = "00000002-0000-0ff1-ce00-000000000000";
    let policies = [
        format!("{{name = \"Web MFA\", include_applications = [\"{exo}\"], client_app_types = [\"browser\"], grant = [\"mfa\"]}}"),
        format!("{{name = \"Desktop MFA\", include_applications = [\"{exo}\"], client_app_types = [\"mobileAppsAndDesktopClients\"], grant = [\"mfa\"]}}"),
        format!("{{name = \"Block legacy\", include_applications = [\"{exo}\"], client_app_types = [\"exchangeActiveSync\", \"other\"], grant = [\"block\"]}}"),
        format!("{{name = \"Mobile approved app\", include_applications = [\"{exo}\"], client_app_types = [\"mobileAppsAndDesktopClients\"], include_platforms = [\"iOS\", \"android\"], grant = [\"approvedApplication\"]}}"),
        "{name = \"Admins MFA everywhere\", include_users = [], include_roles = [\"Global Administrator\"], grant = [\"mfa\"]}".to_string(),
        "{name = \"Engineering compliant\", include_users = [], include_groups = [\"engineering\"], exclude_locations = [\"AllTrusted\"], include_locations = [\"All\"], grant = [\"mfa\", \"compliantDevice\"], operator = \"OR\"}".to_string(),
        "{name = \"Block linux\", include_platforms = [\"linux\"], grant = [\"block\"]}".to_string(),
        "{name = \"Partner MFA\", include_locations = [\"Partner\"], grant = [\"mfa\"]}".to_string(),
        "{name = \"Sales report-only\", state = \"enabledForReportingButNotEnforced\", include_users = [], include_groups = [\"sales\"], grant = [\"block\"]}".to_string(),
        "{name = \"Old pilot\", state = \"disabled\", include_platforms = [\"windows\"], grant = [\"block\"]}".to_string(),
    ];
    apply_set(
        &mut sc,
        &format!("conditional_access=[{}]", policies.join(", ")),
    )
    .expect("valid policies");
    sc
}

/// The persona baseline applied to its tenant, as `hmasim verify tenant.toml
/// --ca-policies policies --named-locations named-locations.json` reads them.
fn baseline() -> Scenario {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/baseline");
    let mut sc = load(dir.join("tenant.toml").to_str().expect("UTF-8 path")).expect("the fixture");
    hmasim::scenario::graph::replace_named_locations(&mut sc, &dir.join("named-locations.json"))
        .expect("the named locations");
    hmasim::scenario::graph::replace_policies(&mut sc, &dir.join("policies"))
        .expect("the baseline");
    sc
}

/// secure-hybrid (federated) with risk-based policies (MFA at medium or high sign-in
/// risk, MFA at high user risk) and an all-users MFA policy carrying a field hmasim does
/// not model: what risk exploration and the replays of the refined NOT PROVEN rule cost
/// next to the plain `secure-hybrid`.
fn risky() -> Scenario {
    use hmasim::protocol::policy::{CaPolicy, GrantControl, Operator, RiskLevel};
    let mut sc = load("secure-hybrid").expect("bundled");
    let mut sign_in = CaPolicy::new("Risky sign-ins MFA", vec![GrantControl::Mfa]);
    sign_in.sign_in_risk_levels = vec![RiskLevel::Medium, RiskLevel::High];
    let mut user = CaPolicy::new("Risky users MFA", vec![GrantControl::Mfa]);
    user.user_risk_levels = vec![RiskLevel::High];
    user.operator = Operator::And;
    let mut unmodelled = CaPolicy::new("All users MFA, device filter", vec![GrantControl::Mfa]);
    unmodelled.unmodelled =
        vec!["conditions.devices: not modelled: evaluated as if it matched every sign-in".into()];
    sc.conditional_access.extend([sign_in, user, unmodelled]);
    sc
}

/// Raw combinations verify did not run because a class representative stood for them
/// (signal values and users, `explored.pruned`).
fn pruned(v: &Verification) -> usize {
    v.explored.pruned
}

fn print_figures() {
    let note = if smoke() {
        " [smoke run: not a measurement]"
    } else {
        ""
    };
    let scs = hybrid();
    let start = Instant::now();
    let (mut paths, mut events, mut classes) = (0, 0, 0);
    for sc in &scs {
        let v = black_box(verify(sc));
        assert!(v.counterexamples.is_empty());
        paths += v.paths.len();
        events += v.events;
        classes += pruned(&v);
    }
    eprintln!(
        "verify secure-hybrid, 3 identity models: {paths} paths explored, {classes} raw combinations pruned, {events} events in {:.1} ms{note}",
        start.elapsed().as_secs_f64() * 1e3
    );
    let users = if smoke() { 5 } else { 500 };
    let sc = generated(users);
    let start = Instant::now();
    let v = black_box(verify(&sc));
    eprintln!(
        "verify generated tenant, {users} users, 10 policies: {} paths explored, {} user classes, {} raw combinations pruned, {} events in {:.1} ms{note}",
        v.paths.len(),
        v.explored.classes,
        pruned(&v),
        v.events,
        start.elapsed().as_secs_f64() * 1e3
    );
    let sc = baseline();
    let start = Instant::now();
    let v = black_box(verify(&sc));
    assert!(v.counterexamples.is_empty());
    eprintln!(
        "verify persona baseline, {} policies, {} users: {} paths explored, {} user classes, {} raw combinations pruned, {} events in {:.1} ms{note}",
        sc.conditional_access.len(),
        sc.users.len(),
        v.paths.len(),
        v.explored.classes,
        pruned(&v),
        v.events,
        start.elapsed().as_secs_f64() * 1e3
    );
    let sc = risky();
    let start = Instant::now();
    let v = black_box(verify(&sc));
    eprintln!(
        "verify secure-hybrid with risk-based and unmodelled policies: {} paths explored ({} at a detected risk), {} raw combinations pruned, {} events (replays included) in {:.1} ms, verdict {}{note}",
        v.paths.len(),
        v.paths.iter().filter(|p| p.path.signals.risk.is_some_and(|r| r.detected())).count(),
        pruned(&v),
        v.events,
        start.elapsed().as_secs_f64() * 1e3,
        v.verdict().as_str()
    );
}

fn bench(c: &mut Criterion) {
    let scs = hybrid();
    c.bench_function("verify/secure-hybrid/3-models", |b| {
        b.iter(|| {
            scs.iter()
                .map(|s| black_box(verify(s)).paths.len())
                .sum::<usize>()
        })
    });
    let risky = risky();
    c.bench_function("verify/secure-hybrid/risk-and-unmodelled", |b| {
        b.iter(|| black_box(verify(&risky)).paths.len())
    });
    let users = if smoke() { 5 } else { 500 };
    let sc = generated(users);
    let mut group = c.benchmark_group("verify/generated");
    group.sample_size(10);
    group.bench_function(format!("{users}-users-10-policies"), |b| {
        b.iter(|| black_box(verify(&sc)).paths.len())
    });
    group.finish();
    let sc = baseline();
    let mut group = c.benchmark_group("verify/baseline");
    group.sample_size(10);
    group.bench_function("35-policies-4-personas", |b| {
        b.iter(|| black_box(verify(&sc)).paths.len())
    });
    group.finish();
}

criterion_group!(benches, bench);

fn main() {
    print_figures();
    benches();
    Criterion::default().configure_from_args().final_summary();
}
