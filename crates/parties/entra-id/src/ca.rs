//! Conditional Access evaluation.
//!
//! Semantics: policies have no order; every enabled policy that applies must be satisfied
//! (each policy's own AND/OR first, then all applying policies together); an applying
//! `block` wins; no applying policy means access is allowed; report-only policies are
//! evaluated and reported but never enforced.

use hmasim_protocol::apps;
use hmasim_protocol::policy::{CaPolicy, CaState, ClientAppType, GrantControl, Operator};

/// What Entra ID knows about a sign-in when it evaluates Conditional Access.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignInFacts {
    /// The user.
    pub upn: String,
    /// The user's groups.
    pub groups: Vec<String>,
    /// The cloud app's id (Exchange Online for every Exchange resource).
    pub app_id: String,
    /// The client app type.
    pub client_app: ClientAppType,
    /// The sign-in comes from a trusted named location.
    pub trusted_location: bool,
}

/// How one policy fared.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PolicyResult {
    /// Display name.
    pub name: String,
    /// State.
    pub state: CaState,
    /// Whether every condition matched.
    pub applies: bool,
    /// Why it applies or not (the condition that excluded it).
    pub reason: String,
    /// Its grant controls.
    pub controls: Vec<GrantControl>,
    /// How they combine.
    pub operator: Operator,
}

fn user_matches(entry: &str, f: &SignInFacts) -> bool {
    match entry {
        "All" => true,
        "None" | "GuestsOrExternalUsers" => false,
        e => match e.strip_prefix("group:") {
            Some(g) => f.groups.iter().any(|x| x.eq_ignore_ascii_case(g)),
            None => e.eq_ignore_ascii_case(&f.upn),
        },
    }
}

fn app_matches(entry: &str, app_id: &str) -> bool {
    match entry {
        "All" => true,
        "Office365" => app_id == apps::EXCHANGE_ONLINE,
        e => e.eq_ignore_ascii_case(app_id),
    }
}

fn client_app_matches(t: ClientAppType, actual: ClientAppType) -> bool {
    t == ClientAppType::All
        || t == actual
        || (t == ClientAppType::EasSupported && actual == ClientAppType::ExchangeActiveSync)
}

/// Evaluates one policy's conditions.
pub fn evaluate_policy(p: &CaPolicy, f: &SignInFacts) -> PolicyResult {
    let (applies, reason) = if p.state == CaState::Disabled {
        (false, "the policy is disabled".to_string())
    } else if !p.include_users.iter().any(|u| user_matches(u, f)) {
        (false, format!("users: {} is not included", f.upn))
    } else if let Some(x) = p.exclude_users.iter().find(|u| user_matches(u, f)) {
        (false, format!("users: excluded by {x}"))
    } else if !p
        .include_applications
        .iter()
        .any(|a| app_matches(a, &f.app_id))
    {
        (false, format!("applications: {} is not included", f.app_id))
    } else if !p
        .client_app_types
        .iter()
        .any(|t| client_app_matches(*t, f.client_app))
    {
        (
            false,
            format!(
                "client apps: {} is not selected",
                client_app_name(f.client_app)
            ),
        )
    } else if f.trusted_location && p.exclude_locations.iter().any(|l| l == "AllTrusted") {
        (
            false,
            "locations: the sign-in comes from a trusted location".to_string(),
        )
    } else {
        (true, "every condition matches".to_string())
    };
    PolicyResult {
        name: p.name.clone(),
        state: p.state,
        applies,
        reason,
        controls: p.grant.clone(),
        operator: p.operator,
    }
}

/// Evaluates every policy.
pub fn evaluate(policies: &[CaPolicy], f: &SignInFacts) -> Vec<PolicyResult> {
    policies.iter().map(|p| evaluate_policy(p, f)).collect()
}

/// The Graph name of a client app type.
pub fn client_app_name(t: ClientAppType) -> &'static str {
    match t {
        ClientAppType::All => "all",
        ClientAppType::Browser => "browser",
        ClientAppType::MobileAppsAndDesktopClients => "mobileAppsAndDesktopClients",
        ClientAppType::ExchangeActiveSync => "exchangeActiveSync",
        ClientAppType::EasSupported => "easSupported",
        ClientAppType::Other => "other",
    }
}

/// The Graph name of a grant control.
pub fn control_name(c: GrantControl) -> &'static str {
    match c {
        GrantControl::Block => "block",
        GrantControl::Mfa => "mfa",
        GrantControl::CompliantDevice => "compliantDevice",
        GrantControl::DomainJoinedDevice => "domainJoinedDevice",
        GrantControl::ApprovedApplication => "approvedApplication",
        GrantControl::CompliantApplication => "compliantApplication",
    }
}

/// The verdict over every enforced, applying policy, given which controls the sign-in
/// satisfies.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Every applying policy is satisfied (or none applies).
    Grant,
    /// An applying policy blocks.
    Block(String),
    /// Unsatisfied policies: MFA would satisfy all of them.
    NeedMfa,
    /// A policy needs a control the sign-in cannot provide now.
    Unsatisfiable(String, GrantControl),
}

/// Combines the enforced applying policies. `has` says whether a control is satisfied.
pub fn verdict(results: &[PolicyResult], has: impl Fn(GrantControl) -> bool) -> Verdict {
    let enforced: Vec<&PolicyResult> = results
        .iter()
        .filter(|r| r.applies && r.state == CaState::Enabled)
        .collect();
    if let Some(b) = enforced
        .iter()
        .find(|r| r.controls.contains(&GrantControl::Block))
    {
        return Verdict::Block(b.name.clone());
    }
    let sat = |r: &PolicyResult, with_mfa: bool| {
        let ok = |c: &GrantControl| has(*c) || (with_mfa && *c == GrantControl::Mfa);
        match r.operator {
            Operator::And => r.controls.iter().all(ok),
            Operator::Or => r.controls.iter().any(ok) || r.controls.is_empty(),
        }
    };
    let unsatisfied: Vec<&&PolicyResult> = enforced.iter().filter(|r| !sat(r, false)).collect();
    if unsatisfied.is_empty() {
        return Verdict::Grant;
    }
    if let Some(r) = unsatisfied.iter().find(|r| !sat(r, true)) {
        let missing = r
            .controls
            .iter()
            .copied()
            .find(|c| !has(*c) && *c != GrantControl::Mfa)
            .unwrap_or(GrantControl::Mfa);
        return Verdict::Unsatisfiable(r.name.clone(), missing);
    }
    Verdict::NeedMfa
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(types: Vec<ClientAppType>, grant: Vec<GrantControl>, op: Operator) -> CaPolicy {
        CaPolicy {
            name: "p".into(),
            state: CaState::Enabled,
            include_users: vec!["All".into()],
            exclude_users: vec![],
            include_applications: vec!["Office365".into()],
            client_app_types: types,
            exclude_locations: vec![],
            grant,
            operator: op,
        }
    }

    fn facts(t: ClientAppType) -> SignInFacts {
        SignInFacts {
            upn: "u@contoso.com".into(),
            groups: vec![],
            app_id: apps::EXCHANGE_ONLINE.into(),
            client_app: t,
            trusted_location: false,
        }
    }

    #[test]
    fn browser_policy_does_not_apply_to_desktop() {
        let p = policy(
            vec![ClientAppType::Browser],
            vec![GrantControl::Mfa],
            Operator::And,
        );
        let r = evaluate_policy(&p, &facts(ClientAppType::MobileAppsAndDesktopClients));
        assert!(!r.applies);
        assert!(r.reason.contains("mobileAppsAndDesktopClients"));
        assert_eq!(verdict(&[r], |_| false), Verdict::Grant);
    }

    #[test]
    fn and_or_block_and_report_only() {
        let f = facts(ClientAppType::MobileAppsAndDesktopClients);
        let and = evaluate_policy(
            &policy(
                vec![ClientAppType::All],
                vec![GrantControl::ApprovedApplication, GrantControl::Mfa],
                Operator::And,
            ),
            &f,
        );
        assert_eq!(
            verdict(std::slice::from_ref(&and), |c| c
                == GrantControl::ApprovedApplication),
            Verdict::NeedMfa
        );
        assert_eq!(
            verdict(std::slice::from_ref(&and), |_| false),
            Verdict::Unsatisfiable("p".into(), GrantControl::ApprovedApplication)
        );
        let or = evaluate_policy(
            &policy(
                vec![ClientAppType::All],
                vec![GrantControl::CompliantDevice, GrantControl::Mfa],
                Operator::Or,
            ),
            &f,
        );
        assert_eq!(
            verdict(std::slice::from_ref(&or), |c| c
                == GrantControl::CompliantDevice),
            Verdict::Grant
        );
        let mut block = policy(
            vec![ClientAppType::All],
            vec![GrantControl::Block],
            Operator::Or,
        );
        block.name = "b".into();
        let b = evaluate_policy(&block, &f);
        assert_eq!(
            verdict(&[or.clone(), b.clone()], |_| true),
            Verdict::Block("b".into())
        );
        block.state = CaState::ReportOnly;
        let b = evaluate_policy(&block, &f);
        assert!(b.applies);
        assert_eq!(verdict(&[b], |_| false), Verdict::Grant);
    }
}
