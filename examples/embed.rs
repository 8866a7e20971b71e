//! Embedding hmasim in your own tests: build a tenant through the library API, run it, and
//! inspect the outcome, the tokens and the messages.
//!
//! `cargo run --example embed`
//!
//! The question asked here is an architect's: "we are moving contoso.com from federation
//! to password hash sync; our desktop MFA lives in an AD FS access control policy. Who keeps
//! MFA?" The answer comes from the simulated messages, not from a rule.

use hmasim::protocol::Kind;
use hmasim::scenario::{self, AdfsPolicy, IdentityModel};

fn main() {
    // Start from a bundled scenario (or `scenario::load("path/to/tenant.toml")`).
    let mut tenant = scenario::load("desktop-onprem-adfs-mfa").expect("bundled scenario");
    assert_eq!(tenant.adfs.office365_policy, AdfsPolicy::RequireMfa);

    for model in IdentityModel::ALL {
        // Change the tenant with plain Rust (or with `scenario::apply_set`, like `--set`).
        tenant.identity.model = model;
        let trace = hmasim::sim::run(&tenant, true);
        let o = &trace.outcome;

        // Which token reached the mailbox, and on which authentication methods?
        let at = trace
            .tokens
            .iter()
            .find(|t| t.id == "AT1")
            .expect("an access token");
        let adfs_involved = trace
            .events
            .iter()
            .any(|e| trace.names[e.to.0 as usize] == "adfs" && e.msg.kind == Kind::Request);
        println!(
            "{:<9} mailbox access: {:<5} MFA: {:<5} AT1 amr {:?}; AD FS on the path: {}",
            model.as_str(),
            o.mailbox_access,
            o.mfa_satisfied,
            at.amr,
            adfs_involved
        );
    }

    // The same check a security engineer would put in a test suite:
    tenant.identity.model = IdentityModel::Phs;
    let o = hmasim::sim::run_until_access(&tenant);
    assert!(
        o.mailbox_access && !o.mfa_satisfied,
        "leaving federation drops the AD FS MFA"
    );
    // Adding a Conditional Access policy restores it.
    scenario::apply_set(&mut tenant, "conditional_access=[{name = \"Require MFA\", client_app_types = [\"mobileAppsAndDesktopClients\"], grant = [\"mfa\"]}]").expect("valid override");
    let o = hmasim::sim::run_until_access(&tenant);
    assert!(o.mailbox_access && o.mfa_satisfied);
    println!(
        "with a Conditional Access policy requiring MFA: mailbox access {}, MFA {}",
        o.mailbox_access, o.mfa_satisfied
    );
}
