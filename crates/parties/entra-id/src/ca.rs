//! Conditional Access evaluation.
//!
//! Semantics: policies have no order; every enabled policy that applies must be satisfied
//! (each policy's own AND/OR first, then all applying policies together); an applying
//! `block` wins; no applying policy means access is allowed; report-only policies are
//! evaluated and reported but never enforced.

use std::collections::BTreeMap;
use std::net::IpAddr;

use hmasim_protocol::address::{country_of, GeoRange};
use hmasim_protocol::apps;
use hmasim_protocol::device::{self, DeviceRecord};
use hmasim_protocol::policy::{
    CaPolicy, CaState, ClientAppType, DevicePlatform, GrantControl, InsiderRiskLevel,
    NamedLocation, Operator, RiskLevel, SignInFrequency,
};

/// The `Office365` app group, as far as hmasim knows its members: Exchange Online,
/// SharePoint Online and Microsoft Teams. A sign-in whose app id is the literal
/// `Office365` stands for "some Office 365 app" (what `whatif --app office365` asks).
pub const OFFICE365_APPS: [&str; 3] = [
    apps::EXCHANGE_ONLINE,
    "00000003-0000-0ff1-ce00-000000000000",
    "cc15fd57-2c6c-4117-a88c-83b1d56b4bbe",
];

/// What Entra ID knows about a sign-in when it evaluates Conditional Access. Built by
/// [`Tenant::facts`] from what arrived (see [`SignIn`]); `whatif` builds it the same way.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignInFacts {
    /// The user.
    pub upn: String,
    /// The user's groups.
    pub groups: Vec<String>,
    /// The user's directory roles (role template ids or names).
    pub roles: Vec<String>,
    /// The user's guest or external user type, `None` for a member of the tenant.
    pub guest: Option<String>,
    /// The cloud app's id (Exchange Online for every Exchange resource).
    pub app_id: String,
    /// The client app type. `exchangeActiveSync` and `other` are legacy (Basic)
    /// sign-ins, which satisfy no grant control (see [`SignInFacts::is_legacy`]).
    pub client_app: ClientAppType,
    /// The device platform the User-Agent reveals; `None` is unknown.
    pub platform: Option<DevicePlatform>,
    /// The source address of the sign-in, when known.
    pub address: Option<IpAddr>,
    /// The address's country in the tenant's geolocation table, when known.
    pub country: Option<String>,
    /// The named locations that contain the address, by name, in the tenant's order.
    pub locations: Vec<String>,
    /// One of those locations is marked trusted (what `AllTrusted` matches).
    pub trusted_location: bool,
    /// The registered device the sign-in proved with its device credential, as the
    /// directory holds it; `None` is an unregistered device (no credential, or one that
    /// does not verify), whose attributes are all null.
    pub device: Option<DeviceRecord>,
    /// The authentication flow the sign-in uses (`deviceCodeFlow`,
    /// `authenticationTransfer`), `None` for the ordinary flows every modelled path
    /// uses.
    pub auth_flow: Option<String>,
    /// The sign-in risk Identity Protection scored for this sign-in.
    pub sign_in_risk: RiskLevel,
    /// The user's risk in Identity Protection.
    pub user_risk: RiskLevel,
    /// The user's insider risk (Microsoft Purview adaptive protection).
    pub insider_risk: InsiderRiskLevel,
}

impl SignInFacts {
    /// A legacy-authentication (Basic) sign-in: it cannot do MFA, present a device or
    /// prove an approved app, so any applying policy that requires a control blocks it.
    pub fn is_legacy(&self) -> bool {
        self.client_app.is_legacy()
    }

    /// Where the sign-in comes from, for reasons.
    fn where_from(&self) -> String {
        let addr = self
            .address
            .map(|a| format!("{a}"))
            .unwrap_or_else(|| "an unknown address".into());
        match (self.locations.as_slice(), self.trusted_location) {
            ([], _) => format!("{addr} (in no named location)"),
            (l, true) => format!("{addr} (trusted location {})", l.join(", ")),
            (l, false) => format!("{addr} (location {})", l.join(", ")),
        }
    }
}

/// A user as Conditional Access sees them: groups and directory roles.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Member {
    /// Group names.
    pub groups: Vec<String>,
    /// Directory role names or template ids.
    pub roles: Vec<String>,
    /// Guest or external user type (`None`: a member).
    pub guest: Option<String>,
    /// The user's risk as Identity Protection holds it.
    pub user_risk: RiskLevel,
    /// The risk Identity Protection scores the user's sign-ins at (the scenario states it:
    /// Entra scores risk, not whoever signs in).
    pub sign_in_risk: RiskLevel,
    /// The user's insider risk.
    pub insider_risk: InsiderRiskLevel,
}

/// The tenant's side of every sign-in's facts: its named locations, its geolocation
/// table and its users. Entra ID holds one; `whatif` builds the same from the scenario.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Tenant {
    /// Named locations, in the tenant's order.
    pub named_locations: Vec<NamedLocation>,
    /// Which country each address range is in.
    pub geo: Vec<GeoRange>,
    /// Users by lower-case UPN.
    pub users: BTreeMap<String, Member>,
    /// The directory's registered devices, by lower-case device id.
    pub devices: BTreeMap<String, DeviceRecord>,
    /// The seed device keys derive from: what checks a presented device credential
    /// ([`device::credential_device`]).
    pub device_seed: u64,
}

/// What arrived at Entra ID for one sign-in: the only inputs of [`Tenant::facts`].
#[derive(Clone, Copy, Debug)]
pub struct SignIn<'a> {
    /// The user signing in.
    pub upn: &'a str,
    /// The source address of the connection (or, from a Microsoft service that relays a
    /// client's sign-in, the client address it forwards).
    pub address: Option<IpAddr>,
    /// The `User-Agent` header the client sent.
    pub user_agent: Option<&'a str>,
    /// The client app type the request presents.
    pub client_app: ClientAppType,
    /// The cloud app the sign-in is for.
    pub app_id: &'a str,
    /// The device credential the client presented (the
    /// [`device::DEVICE_CREDENTIAL_HEADER`] header), if any.
    pub device_credential: Option<&'a str>,
    /// Devices registered during the run (by the Device Registration Service), beside
    /// the tenant's own, by lower-case id.
    pub registered: Option<&'a BTreeMap<String, DeviceRecord>>,
    /// The authentication flow the sign-in uses, if it is one of
    /// `conditions.authenticationFlows` (none of hmasim's paths is yet).
    pub auth_flow: Option<&'a str>,
}

impl Tenant {
    /// The one derivation of a sign-in's facts, shared by a run and `whatif`: the
    /// platform from the User-Agent, the locations and country from the source address,
    /// groups, roles and risk levels from the directory (Identity Protection's scores, as
    /// the scenario states them), the device from the credential presented (looked up in
    /// the directory; a credential that does not verify, or names no registered device, is
    /// an unregistered device). Nothing comes from who the caller is.
    pub fn facts(&self, s: &SignIn<'_>) -> SignInFacts {
        let member = self.users.get(&s.upn.to_ascii_lowercase());
        let country = s
            .address
            .and_then(|a| country_of(a, &self.geo))
            .map(str::to_string);
        let inside: Vec<&NamedLocation> = match s.address {
            Some(a) => self
                .named_locations
                .iter()
                .filter(|n| n.contains(a, country.as_deref()))
                .collect(),
            None => Vec::new(),
        };
        SignInFacts {
            upn: s.upn.to_string(),
            groups: member.map(|m| m.groups.clone()).unwrap_or_default(),
            roles: member.map(|m| m.roles.clone()).unwrap_or_default(),
            guest: member.and_then(|m| m.guest.clone()),
            app_id: s.app_id.to_string(),
            client_app: s.client_app,
            platform: s.user_agent.and_then(platform_from_user_agent),
            address: s.address,
            country,
            trusted_location: inside.iter().any(|n| n.trusted),
            locations: inside.iter().map(|n| n.name.clone()).collect(),
            device: s
                .device_credential
                .and_then(|c| device::credential_device(c, self.device_seed))
                .and_then(|id| {
                    self.devices
                        .get(&id)
                        .or_else(|| s.registered.and_then(|r| r.get(&id)))
                })
                .cloned(),
            auth_flow: s.auth_flow.map(str::to_string),
            sign_in_risk: member.map(|m| m.sign_in_risk).unwrap_or_default(),
            user_risk: member.map(|m| m.user_risk).unwrap_or_default(),
            insider_risk: member.map(|m| m.insider_risk).unwrap_or_default(),
        }
    }
}

/// A User-Agent that Entra ID reads as `platform` (what `whatif --platform` presents).
pub fn sample_user_agent(platform: DevicePlatform) -> &'static str {
    match platform {
        DevicePlatform::Ios => "Outlook-iOS/2.0",
        DevicePlatform::Android => "Outlook-Android/2.0",
        DevicePlatform::Windows | DevicePlatform::All => {
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64)"
        }
        DevicePlatform::WindowsPhone => "Mozilla/5.0 (Windows Phone 10.0)",
        DevicePlatform::Macos => "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_0)",
        DevicePlatform::Linux => "Mozilla/5.0 (X11; Linux x86_64)",
    }
}

/// The device platform a User-Agent header reveals, as Entra ID reads it.
pub fn platform_from_user_agent(ua: &str) -> Option<DevicePlatform> {
    let has = |s: &str| ua.contains(s);
    if has("Outlook-iOS") || has("iPhone") || has("iPad") {
        Some(DevicePlatform::Ios)
    } else if has("Windows Phone") {
        Some(DevicePlatform::WindowsPhone)
    } else if has("Outlook-Android") || has("Android") {
        Some(DevicePlatform::Android)
    } else if has("Windows NT") || has("Windows") {
        Some(DevicePlatform::Windows)
    } else if has("Macintosh") || has("Mac OS X") || has("Outlook-Mac") {
        Some(DevicePlatform::Macos)
    } else if has("Linux") {
        Some(DevicePlatform::Linux)
    } else {
        None
    }
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

fn in_list(list: &[String], x: &str) -> bool {
    list.iter().any(|v| v.eq_ignore_ascii_case(x))
}

fn user_matches(entry: &str, f: &SignInFacts) -> bool {
    match entry {
        "All" => true,
        "None" => false,
        // The older keyword: every guest or external user.
        "GuestsOrExternalUsers" => f.guest.is_some(),
        e => match e.strip_prefix("group:") {
            Some(g) => in_list(&f.groups, g),
            None => e.eq_ignore_ascii_case(&f.upn),
        },
    }
}

fn app_matches(entry: &str, app_id: &str) -> bool {
    match entry {
        "All" => true,
        "None" => false,
        "Office365" => app_id == "Office365" || OFFICE365_APPS.contains(&app_id),
        e => e.eq_ignore_ascii_case(app_id),
    }
}

fn client_app_matches(t: ClientAppType, actual: ClientAppType) -> bool {
    t == ClientAppType::All
        || t == actual
        || (t == ClientAppType::EasSupported && actual == ClientAppType::ExchangeActiveSync)
}

fn platform_matches(entry: DevicePlatform, actual: Option<DevicePlatform>) -> bool {
    entry == DevicePlatform::All || Some(entry) == actual
}

fn location_matches(entry: &str, f: &SignInFacts) -> bool {
    match entry {
        "All" => true,
        "AllTrusted" => f.trusted_location,
        e => in_list(&f.locations, e),
    }
}

/// Why the policy does not apply to the sign-in, or `None` when every condition matches.
fn excluded_by(p: &CaPolicy, f: &SignInFacts) -> Option<String> {
    if p.state == CaState::Disabled {
        return Some("the policy is disabled".to_string());
    }
    let guest_in = |list: &[String]| {
        f.guest
            .as_deref()
            .is_some_and(|g| in_list(list, g) || in_list(list, "all"))
    };
    let included = p.include_users.iter().any(|u| user_matches(u, f))
        || p.include_groups.iter().any(|g| in_list(&f.groups, g))
        || p.include_roles.iter().any(|r| in_list(&f.roles, r))
        || guest_in(&p.include_guests);
    if !included {
        return Some(format!("users: {} is not included", f.upn));
    }
    if let Some(x) = p.exclude_users.iter().find(|u| user_matches(u, f)) {
        return Some(format!("users: excluded by {x}"));
    }
    if let Some(g) = p.exclude_groups.iter().find(|g| in_list(&f.groups, g)) {
        return Some(format!("users: excluded by group {g}"));
    }
    if let Some(r) = p.exclude_roles.iter().find(|r| in_list(&f.roles, r)) {
        return Some(format!("users: excluded by role {r}"));
    }
    if guest_in(&p.exclude_guests) {
        return Some(format!(
            "users: excluded as a guest or external user ({})",
            f.guest.as_deref().unwrap_or("")
        ));
    }
    // A policy on a user action applies to that action only; a user action is matched
    // only by such a policy.
    let user_action = f.app_id.starts_with("urn:user:");
    if !p.include_user_actions.is_empty() || user_action {
        if !in_list(&p.include_user_actions, &f.app_id) {
            return Some(if user_action {
                format!("user actions: {} is not included", f.app_id)
            } else {
                format!(
                    "applications: the policy targets user actions, not {}",
                    f.app_id
                )
            });
        }
    } else if !p
        .include_applications
        .iter()
        .any(|a| app_matches(a, &f.app_id))
    {
        return Some(format!("applications: {} is not included", f.app_id));
    }
    if let Some(a) = p
        .exclude_applications
        .iter()
        .filter(|_| !user_action)
        .find(|a| app_matches(a, &f.app_id))
    {
        return Some(format!("applications: {} is excluded by {a}", f.app_id));
    }
    if !p
        .client_app_types
        .iter()
        .any(|t| client_app_matches(*t, f.client_app))
    {
        return Some(format!(
            "client apps: {} is not selected",
            client_app_name(f.client_app)
        ));
    }
    let platform = f.platform.map_or("unknown", DevicePlatform::as_str);
    if !p.include_platforms.is_empty()
        && !p
            .include_platforms
            .iter()
            .any(|e| platform_matches(*e, f.platform))
    {
        return Some(format!("device platforms: {platform} is not included"));
    }
    if p.exclude_platforms
        .iter()
        .any(|e| platform_matches(*e, f.platform))
    {
        return Some(format!("device platforms: {platform} is excluded"));
    }
    if !p.include_locations.is_empty()
        && !p.include_locations.iter().any(|l| location_matches(l, f))
    {
        return Some(format!("locations: {} is not included", f.where_from()));
    }
    if let Some(l) = p.exclude_locations.iter().find(|l| location_matches(l, f)) {
        return Some(match l.as_str() {
            "AllTrusted" => format!(
                "locations: the sign-in comes from a trusted location: {}",
                f.where_from()
            ),
            "All" => "locations: every location is excluded".to_string(),
            _ => format!("locations: {} is excluded", f.where_from()),
        });
    }
    if let Some(filter) = &p.device_filter {
        if !filter.in_scope(f.device.as_ref()) {
            let which = match &f.device {
                None => "the unregistered device".to_string(),
                Some(d) => format!("device {} ({})", d.id, d.trust_type.as_str()),
            };
            return Some(match filter.mode {
                device::FilterMode::Include => {
                    format!(
                        "devices: {which} does not match the filter {}",
                        filter.rule.text()
                    )
                }
                device::FilterMode::Exclude => {
                    format!(
                        "devices: {which} is excluded by the filter {}",
                        filter.rule.text()
                    )
                }
            });
        }
    }
    if !p.transfer_methods.is_empty()
        && !f
            .auth_flow
            .as_deref()
            .is_some_and(|a| in_list(&p.transfer_methods, a))
    {
        return Some(format!(
            "authentication flows: the sign-in uses {}, not {}",
            f.auth_flow.as_deref().unwrap_or("no transfer method"),
            p.transfer_methods.join(", ")
        ));
    }
    // Risk conditions (Entra ID Protection): a configured list applies to the levels it
    // names only.
    if !p.sign_in_risk_levels.is_empty() && !p.sign_in_risk_levels.contains(&f.sign_in_risk) {
        return Some(format!(
            "sign-in risk: {} is not included",
            f.sign_in_risk.as_str()
        ));
    }
    if !p.user_risk_levels.is_empty() && !p.user_risk_levels.contains(&f.user_risk) {
        return Some(format!(
            "user risk: {} is not included",
            f.user_risk.as_str()
        ));
    }
    if !p.insider_risk_levels.is_empty() && !p.insider_risk_levels.contains(&f.insider_risk) {
        return Some(format!(
            "insider risk: {} is not included",
            f.insider_risk.as_str()
        ));
    }
    None
}

/// Evaluates one policy's conditions.
pub fn evaluate_policy(p: &CaPolicy, f: &SignInFacts) -> PolicyResult {
    let (applies, reason) = match excluded_by(p, f) {
        Some(why) => (false, why),
        None => (true, "every condition matches".to_string()),
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

/// The sign-in frequency Conditional Access demands of a sign-in with `facts`: of the
/// enabled policies that apply to it and set one, the shortest (Entra enforces the most
/// restrictive when several apply), with the name of the policy that sets it. Report-only
/// and disabled policies enforce nothing, so they shorten nothing.
pub fn sign_in_frequency(
    policies: &[CaPolicy],
    facts: &SignInFacts,
) -> Option<(String, SignInFrequency)> {
    policies
        .iter()
        .filter(|p| p.state == CaState::Enabled)
        .filter_map(|p| p.sign_in_frequency.map(|f| (p, f)))
        .filter(|(p, _)| evaluate_policy(p, facts).applies)
        .min_by_key(|(_, f)| f.seconds())
        .map(|(p, f)| (p.name.clone(), f))
}

/// The Graph name of a client app type.
pub fn client_app_name(t: ClientAppType) -> &'static str {
    t.as_str()
}

/// The Graph name of a grant control.
pub fn control_name(c: GrantControl) -> &'static str {
    c.as_str()
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

/// Combines the enforced applying policies for a modern-authentication sign-in. `has`
/// says whether a control is satisfied. See [`verdict_for`], which also knows legacy
/// sign-ins.
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

/// Combines the enforced applying policies for the sign-in `f`. A legacy (Basic)
/// sign-in satisfies no grant control whatever `has` says: it cannot do MFA, present a
/// device or prove an approved app, so the first applying policy that requires any control
/// blocks it (as an applying `block` does).
pub fn verdict_for(
    results: &[PolicyResult],
    f: &SignInFacts,
    has: impl Fn(GrantControl) -> bool,
) -> Verdict {
    if !f.is_legacy() {
        return verdict(results, has);
    }
    let enforced = || {
        results
            .iter()
            .filter(|r| r.applies && r.state == CaState::Enabled)
    };
    if let Some(b) = enforced().find(|r| r.controls.contains(&GrantControl::Block)) {
        return Verdict::Block(b.name.clone());
    }
    match enforced().find(|r| !r.controls.is_empty()) {
        Some(r) => Verdict::Block(r.name.clone()),
        None => Verdict::Grant,
    }
}

/// What one enforced, applying policy requires.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Requirement {
    /// The policy.
    pub policy: String,
    /// Its grant controls.
    pub controls: Vec<GrantControl>,
    /// How they combine.
    pub operator: Operator,
}

/// The combined result of every enforced, applying policy (what the Entra What If tool
/// sums up): block, or grant with these controls, or no policy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Combined {
    /// The policy that blocks, and why, when the sign-in is blocked.
    pub block: Option<(String, String)>,
    /// Each enforced, applying policy that requires controls, in policy order.
    pub requirements: Vec<Requirement>,
    /// The controls to satisfy, flattened: every requirement holds when `operator` over
    /// `controls` holds, exactly so when `exact`.
    pub controls: Vec<GrantControl>,
    /// `AND`, `OR`, or `None` when nothing is required (or the sign-in is blocked).
    pub operator: Option<Operator>,
    /// Whether `controls` and `operator` say exactly what `requirements` say. Not so when
    /// policies mix an `OR` of several controls with other requirements: `operator` is then
    /// `AND` over `requirements`, and `controls` lists every control involved.
    pub exact: bool,
    /// How many enforced policies apply.
    pub applying: usize,
}

/// Combines the enforced, applying policies of `results` for the sign-in `f`: policies
/// have no order, every one must be satisfied (each by its own AND/OR), an applying
/// `block` wins, a legacy sign-in is blocked by any policy that requires a control, and
/// report-only policies are left out.
pub fn combine(results: &[PolicyResult], f: &SignInFacts) -> Combined {
    let enforced: Vec<&PolicyResult> = results
        .iter()
        .filter(|r| r.applies && r.state == CaState::Enabled)
        .collect();
    let requirements: Vec<Requirement> = enforced
        .iter()
        .filter(|r| !r.controls.is_empty() && !r.controls.contains(&GrantControl::Block))
        .map(|r| Requirement {
            policy: r.name.clone(),
            controls: r.controls.clone(),
            operator: r.operator,
        })
        .collect();
    let mut out = Combined {
        block: None,
        requirements,
        controls: Vec::new(),
        operator: None,
        exact: true,
        applying: enforced.len(),
    };
    if let Some(b) = enforced
        .iter()
        .find(|r| r.controls.contains(&GrantControl::Block))
    {
        out.block = Some((b.name.clone(), format!("policy '{}' blocks access", b.name)));
        return out;
    }
    if f.is_legacy() {
        if let Some(r) = out.requirements.first() {
            let names: Vec<&str> = r.controls.iter().map(|c| c.as_str()).collect();
            out.block = Some((
                r.policy.clone(),
                format!(
                    "a legacy-authentication client ({}) cannot satisfy {} required by policy '{}'",
                    f.client_app.as_str(),
                    names.join(if r.operator == Operator::And {
                        " and "
                    } else {
                        " or "
                    }),
                    r.policy
                ),
            ));
            return out;
        }
    }
    // Each requirement as a clause (an OR of controls); AND requirements give one clause
    // per control. Then drop duplicates and clauses implied by smaller ones.
    let mut clauses: Vec<Vec<GrantControl>> = Vec::new();
    for r in &out.requirements {
        if r.operator == Operator::And || r.controls.len() == 1 {
            clauses.extend(r.controls.iter().map(|c| vec![*c]));
        } else {
            let mut c = r.controls.clone();
            c.dedup();
            clauses.push(c);
        }
    }
    let implied = |c: &Vec<GrantControl>, d: &Vec<GrantControl>| d.iter().all(|x| c.contains(x));
    let mut kept: Vec<Vec<GrantControl>> = Vec::new();
    for (i, c) in clauses.iter().enumerate() {
        let redundant = clauses.iter().enumerate().any(|(j, d)| {
            j != i && implied(c, d) && (d.len() < c.len() || (d.len() == c.len() && j < i))
        });
        if !redundant {
            kept.push(c.clone());
        }
    }
    for c in kept.iter().flatten() {
        if !out.controls.contains(c) {
            out.controls.push(*c);
        }
    }
    out.operator = match kept.as_slice() {
        [] => None,
        [one] if one.len() > 1 => Some(Operator::Or),
        many => {
            out.exact = many.iter().all(|c| c.len() == 1);
            Some(Operator::And)
        }
    };
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(types: Vec<ClientAppType>, grant: Vec<GrantControl>, op: Operator) -> CaPolicy {
        let mut p = CaPolicy::new("p", grant);
        p.include_applications = vec!["Office365".into()];
        p.client_app_types = types;
        p.operator = op;
        p
    }

    fn facts(t: ClientAppType) -> SignInFacts {
        SignInFacts {
            upn: "u@contoso.com".into(),
            groups: vec![],
            roles: vec![],
            guest: None,
            app_id: apps::EXCHANGE_ONLINE.into(),
            client_app: t,
            platform: None,
            address: None,
            country: None,
            locations: vec![],
            trusted_location: false,
            device: None,
            auth_flow: None,
            sign_in_risk: RiskLevel::None,
            user_risk: RiskLevel::None,
            insider_risk: InsiderRiskLevel::None,
        }
    }

    fn mfa() -> CaPolicy {
        policy(
            vec![ClientAppType::All],
            vec![GrantControl::Mfa],
            Operator::And,
        )
    }

    fn desktop() -> SignInFacts {
        facts(ClientAppType::MobileAppsAndDesktopClients)
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

    #[test]
    fn groups_and_roles_include_and_exclude() {
        let mut f = desktop();
        f.groups = vec!["MFA-Users".into()];
        f.roles = vec!["62e90394-69f5-4237-9190-012177145e10".into()];
        let mut p = mfa();
        p.include_users = vec![];
        assert_eq!(
            evaluate_policy(&p, &f).reason,
            "users: u@contoso.com is not included"
        );
        p.include_groups = vec!["mfa-users".into()];
        assert!(
            evaluate_policy(&p, &f).applies,
            "groups match case-insensitively"
        );
        p.include_groups = vec![];
        p.include_roles = vec!["62E90394-69F5-4237-9190-012177145E10".into()];
        assert!(evaluate_policy(&p, &f).applies);
        p.exclude_roles = vec!["62e90394-69f5-4237-9190-012177145e10".into()];
        let r = evaluate_policy(&p, &f);
        assert!(!r.applies);
        assert_eq!(
            r.reason,
            "users: excluded by role 62e90394-69f5-4237-9190-012177145e10"
        );
        let mut p = mfa();
        p.exclude_groups = vec!["MFA-Users".into()];
        assert_eq!(
            evaluate_policy(&p, &f).reason,
            "users: excluded by group MFA-Users"
        );
        // The old spelling still works.
        let mut p = mfa();
        p.exclude_users = vec!["group:MFA-Users".into()];
        assert_eq!(
            evaluate_policy(&p, &f).reason,
            "users: excluded by group:MFA-Users"
        );
    }

    #[test]
    fn applications_include_office365_and_exclude() {
        let f = desktop();
        let mut p = mfa();
        p.include_applications = vec!["All".into()];
        p.exclude_applications = vec!["Office365".into()];
        let r = evaluate_policy(&p, &f);
        assert_eq!(
            r.reason,
            format!(
                "applications: {} is excluded by Office365",
                apps::EXCHANGE_ONLINE
            )
        );
        p.exclude_applications = vec!["00000003-0000-0ff1-ce00-000000000000".into()];
        assert!(evaluate_policy(&p, &f).applies);
        p.include_applications = vec!["None".into()];
        assert!(!evaluate_policy(&p, &f).applies);
        // "Some Office 365 app": matched by Office365 and All, not by the Exchange id.
        let mut o = desktop();
        o.app_id = "Office365".into();
        let mut p = mfa();
        assert!(evaluate_policy(&p, &o).applies);
        p.include_applications = vec![apps::EXCHANGE_ONLINE.into()];
        assert!(!evaluate_policy(&p, &o).applies);
    }

    #[test]
    fn platforms_include_exclude_and_unknown() {
        let mut f = desktop();
        let mut p = mfa();
        p.include_platforms = vec![DevicePlatform::Android, DevicePlatform::Ios];
        assert_eq!(
            evaluate_policy(&p, &f).reason,
            "device platforms: unknown is not included"
        );
        f.platform = Some(DevicePlatform::Windows);
        assert_eq!(
            evaluate_policy(&p, &f).reason,
            "device platforms: windows is not included"
        );
        f.platform = Some(DevicePlatform::Ios);
        assert!(evaluate_policy(&p, &f).applies);
        p.include_platforms = vec![DevicePlatform::All];
        p.exclude_platforms = vec![DevicePlatform::Ios];
        assert_eq!(
            evaluate_policy(&p, &f).reason,
            "device platforms: iOS is excluded"
        );
        f.platform = None;
        assert!(
            evaluate_policy(&p, &f).applies,
            "`all` covers unknown platforms"
        );
    }

    #[test]
    fn facts_come_from_the_address_the_user_agent_and_the_directory() {
        let loc = |name: &str, range: &str, trusted| NamedLocation {
            id: name.into(),
            name: name.into(),
            trusted,
            ip_ranges: vec![range.parse().unwrap()],
            ..NamedLocation::default()
        };
        let tenant = Tenant {
            named_locations: vec![
                loc("Office", "203.0.113.0/24", true),
                loc("Wide", "203.0.0.0/16", false),
            ],
            geo: vec![GeoRange {
                range: "203.0.0.0/16".parse().unwrap(),
                country: "FR".into(),
            }],
            users: [(
                "u@contoso.com".to_string(),
                Member {
                    groups: vec!["Sales".into()],
                    roles: vec!["Global Administrator".into()],
                    guest: None,
                    user_risk: RiskLevel::High,
                    ..Member::default()
                },
            )]
            .into(),
            ..Tenant::default()
        };
        let sign_in = |addr: &str, ua: Option<&'static str>| SignIn {
            upn: "U@contoso.com",
            address: Some(addr.parse().unwrap()),
            user_agent: ua,
            client_app: ClientAppType::Browser,
            app_id: apps::EXCHANGE_ONLINE,
            device_credential: None,
            registered: None,
            auth_flow: None,
        };
        let f = tenant.facts(&sign_in(
            "203.0.113.9",
            Some("Mozilla/5.0 (X11; Linux x86_64)"),
        ));
        assert_eq!(f.locations, ["Office", "Wide"]);
        assert!(f.trusted_location);
        assert_eq!(f.country.as_deref(), Some("FR"));
        assert_eq!(f.platform, Some(DevicePlatform::Linux));
        assert_eq!(f.groups, ["Sales"]);
        assert_eq!(f.roles, ["Global Administrator"]);
        assert_eq!(
            f.user_risk,
            RiskLevel::High,
            "risk comes from the directory"
        );
        assert_eq!(f.sign_in_risk, RiskLevel::None);
        let f = tenant.facts(&sign_in("203.0.200.1", None));
        assert_eq!(f.locations, ["Wide"]);
        assert!(!f.trusted_location);
        assert_eq!(f.platform, None);
        let f = tenant.facts(&sign_in("198.51.100.1", Some("Outlook-iOS/2.0")));
        assert!(f.locations.is_empty() && f.country.is_none());
        assert_eq!(f.platform, Some(DevicePlatform::Ios));
        // whatif's sample user agents read back as their platform.
        for p in DevicePlatform::ALL {
            if p != DevicePlatform::All {
                assert_eq!(platform_from_user_agent(sample_user_agent(p)), Some(p));
            }
        }
    }

    #[test]
    fn locations_named_trusted_and_all() {
        let mut f = desktop();
        let mut p = mfa();
        p.include_locations = vec!["All".into()];
        p.exclude_locations = vec!["AllTrusted".into()];
        assert!(evaluate_policy(&p, &f).applies);
        f.trusted_location = true;
        assert_eq!(
            evaluate_policy(&p, &f).reason,
            "locations: the sign-in comes from a trusted location: an unknown address (in no named location)"
        );
        let mut p = mfa();
        p.include_locations = vec!["Branch office".into()];
        f.trusted_location = false;
        assert_eq!(
            evaluate_policy(&p, &f).reason,
            "locations: an unknown address (in no named location) is not included"
        );
        f.locations = vec!["branch office".into()];
        assert!(evaluate_policy(&p, &f).applies);
        p.include_locations = vec![];
        p.exclude_locations = vec!["Branch office".into()];
        assert_eq!(
            evaluate_policy(&p, &f).reason,
            "locations: an unknown address (location branch office) is excluded"
        );
        p.exclude_locations = vec!["All".into()];
        assert_eq!(
            evaluate_policy(&p, &f).reason,
            "locations: every location is excluded"
        );
        let mut p = mfa();
        p.include_locations = vec!["AllTrusted".into()];
        f.trusted_location = true;
        assert!(evaluate_policy(&p, &f).applies);
    }

    #[test]
    fn risk_conditions_apply_at_the_levels_they_name() {
        let mut f = desktop();
        let mut p = mfa();
        p.sign_in_risk_levels = vec![RiskLevel::Medium, RiskLevel::High];
        assert_eq!(
            evaluate_policy(&p, &f).reason,
            "sign-in risk: none is not included"
        );
        f.sign_in_risk = RiskLevel::High;
        assert!(evaluate_policy(&p, &f).applies);
        let mut p = mfa();
        p.user_risk_levels = vec![RiskLevel::High];
        assert_eq!(
            evaluate_policy(&p, &f).reason,
            "user risk: none is not included"
        );
        f.user_risk = RiskLevel::High;
        assert!(evaluate_policy(&p, &f).applies);
        let mut p = mfa();
        p.insider_risk_levels = vec![InsiderRiskLevel::Elevated];
        assert_eq!(
            evaluate_policy(&p, &f).reason,
            "insider risk: none is not included"
        );
        f.insider_risk = InsiderRiskLevel::Elevated;
        assert!(evaluate_policy(&p, &f).applies);
        // Not configured: every level.
        f.sign_in_risk = RiskLevel::Low;
        assert!(evaluate_policy(&mfa(), &f).applies);
    }

    #[test]
    fn legacy_sign_ins_satisfy_no_control() {
        for t in [ClientAppType::ExchangeActiveSync, ClientAppType::Other] {
            let f = facts(t);
            assert!(f.is_legacy());
            let r = evaluate(&[mfa()], &f);
            assert!(r[0].applies);
            // Even when the caller believes MFA is done, Basic cannot carry it.
            assert_eq!(verdict_for(&r, &f, |_| true), Verdict::Block("p".into()));
            let c = combine(&r, &f);
            let (name, why) = c.block.expect("blocked");
            assert_eq!(name, "p");
            assert!(why.contains("cannot satisfy mfa"), "{why}");
            // No applying policy: a legacy sign-in is allowed (Conditional Access has
            // nothing to say; other controls must stop it).
            let mut browser_only = mfa();
            browser_only.client_app_types = vec![ClientAppType::Browser];
            let r = evaluate(&[browser_only], &f);
            assert_eq!(verdict_for(&r, &f, |_| false), Verdict::Grant);
        }
        let f = facts(ClientAppType::ExchangeActiveSync);
        let mut eas = mfa();
        eas.client_app_types = vec![ClientAppType::EasSupported];
        assert!(evaluate_policy(&eas, &f).applies);
        // A modern sign-in is unchanged.
        let f = desktop();
        let r = evaluate(&[mfa()], &f);
        assert_eq!(verdict_for(&r, &f, |_| false), Verdict::NeedMfa);
        assert_eq!(verdict_for(&r, &f, |_| true), Verdict::Grant);
    }

    #[test]
    fn combine_flattens_and_reports_only_enforced_policies() {
        let f = desktop();
        let named = |n: &str, grant: Vec<GrantControl>, op: Operator| {
            let mut p = policy(vec![ClientAppType::All], grant, op);
            p.name = n.into();
            p
        };
        // Nothing applies.
        let c = combine(&[], &f);
        assert_eq!((c.block, c.operator, c.applying), (None, None, 0));
        // One AND policy and one OR policy absorbed by it.
        let a = named("a", vec![GrantControl::Mfa], Operator::And);
        let b = named(
            "b",
            vec![GrantControl::Mfa, GrantControl::CompliantDevice],
            Operator::Or,
        );
        let c = combine(&evaluate(&[a.clone(), b.clone()], &f), &f);
        assert_eq!(c.controls, vec![GrantControl::Mfa]);
        assert_eq!(c.operator, Some(Operator::And));
        assert!(c.exact);
        assert_eq!(c.requirements.len(), 2);
        // One OR policy alone.
        let c = combine(&evaluate(std::slice::from_ref(&b), &f), &f);
        assert_eq!(
            (c.controls.clone(), c.operator),
            (
                vec![GrantControl::Mfa, GrantControl::CompliantDevice],
                Some(Operator::Or)
            )
        );
        // Two different ORs cannot be flattened exactly.
        let d = named(
            "d",
            vec![
                GrantControl::DomainJoinedDevice,
                GrantControl::ApprovedApplication,
            ],
            Operator::Or,
        );
        let c = combine(&evaluate(&[b.clone(), d], &f), &f);
        assert_eq!(c.operator, Some(Operator::And));
        assert!(!c.exact);
        assert_eq!(c.controls.len(), 4);
        // Report-only policies are left out; a block wins.
        let mut r = named("r", vec![GrantControl::CompliantDevice], Operator::And);
        r.state = CaState::ReportOnly;
        let c = combine(&evaluate(&[a.clone(), r.clone()], &f), &f);
        assert_eq!(c.controls, vec![GrantControl::Mfa]);
        let x = named("x", vec![GrantControl::Block], Operator::Or);
        let c = combine(&evaluate(&[a, r, x], &f), &f);
        assert_eq!(c.block.map(|b| b.0), Some("x".to_string()));
        assert_eq!(c.operator, None);
    }

    #[test]
    fn platform_from_the_user_agents_clients_send() {
        for (ua, p) in [
            ("Outlook-iOS/2.0", DevicePlatform::Ios),
            ("Outlook-Android/2.0", DevicePlatform::Android),
            (
                "Microsoft Office/16.0 (Windows NT 10.0; Microsoft Outlook 16.0.17928; Pro)",
                DevicePlatform::Windows,
            ),
            (
                "Outlook-Mac/16.90 (Macintosh; Mac OS X 14.6)",
                DevicePlatform::Macos,
            ),
            (
                "Mozilla/5.0 (iPhone; CPU iPhone OS 17_6 like Mac OS X) AppleWebKit/605.1.15",
                DevicePlatform::Ios,
            ),
            (
                "Mozilla/5.0 (Linux; Android 14) AppleWebKit/537.36",
                DevicePlatform::Android,
            ),
            (
                "Mozilla/5.0 (X11; Linux x86_64) Firefox/130.0",
                DevicePlatform::Linux,
            ),
        ] {
            assert_eq!(platform_from_user_agent(ua), Some(p), "{ua}");
        }
        assert_eq!(platform_from_user_agent(""), None);
    }

    #[test]
    fn device_filters_read_the_device_the_credential_proves() {
        use hmasim_protocol::device::{DeviceFilter, FilterMode, Rule, TrustType};
        let id = "aaaaaaaa-0000-1111-2222-bbbbbbbbbbbb";
        let mut joined = DeviceRecord::new(id, TrustType::ServerAd);
        joined.operating_system = Some("Windows".into());
        let tenant = Tenant {
            devices: [(id.to_string(), joined)].into(),
            device_seed: 5,
            ..Tenant::default()
        };
        let cred = device::credential(id, "u@contoso.com", 5);
        let sign_in = |c: Option<&'static str>| SignIn {
            upn: "u@contoso.com",
            address: None,
            user_agent: None,
            client_app: ClientAppType::MobileAppsAndDesktopClients,
            app_id: apps::EXCHANGE_ONLINE,
            device_credential: c,
            registered: None,
            auth_flow: None,
        };
        let cred: &'static str = Box::leak(cred.into_boxed_str());
        let f = tenant.facts(&sign_in(Some(cred)));
        assert_eq!(
            f.device.as_ref().map(|d| d.trust_type),
            Some(TrustType::ServerAd)
        );
        // A credential of another world (or none) is an unregistered device.
        let other: &'static str =
            Box::leak(device::credential(id, "u@contoso.com", 6).into_boxed_str());
        assert_eq!(tenant.facts(&sign_in(Some(other))).device, None);
        let none = tenant.facts(&sign_in(None));
        assert_eq!(none.device, None);
        // "MFA except on hybrid joined devices": excluded for the joined device only.
        let mut p = mfa();
        p.device_filter = Some(DeviceFilter {
            mode: FilterMode::Exclude,
            rule: Rule::parse(r#"device.trustType -eq "ServerAD""#).unwrap(),
        });
        let r = evaluate_policy(&p, &f);
        assert!(!r.applies);
        assert_eq!(
            r.reason,
            format!("devices: device {id} (ServerAD) is excluded by the filter device.trustType -eq \"ServerAD\"")
        );
        assert!(
            evaluate_policy(&p, &none).applies,
            "an unregistered device matches no -eq"
        );
        // Include mode with a negative operator: the unregistered device is in scope.
        p.device_filter = Some(DeviceFilter {
            mode: FilterMode::Include,
            rule: Rule::parse(r#"device.trustType -ne "ServerAD""#).unwrap(),
        });
        assert!(evaluate_policy(&p, &none).applies);
        assert_eq!(
            evaluate_policy(&p, &f).reason,
            format!("devices: device {id} (ServerAD) does not match the filter device.trustType -ne \"ServerAD\"")
        );
        // A device registered during the run is found too.
        let reg: BTreeMap<String, DeviceRecord> =
            [(id.to_string(), DeviceRecord::new(id, TrustType::Workplace))].into();
        let empty = Tenant {
            device_seed: 5,
            ..Tenant::default()
        };
        let mut s = sign_in(Some(cred));
        s.registered = Some(&reg);
        assert_eq!(
            empty.facts(&s).device.map(|d| d.trust_type),
            Some(TrustType::Workplace)
        );
    }

    #[test]
    fn authentication_flows_limit_a_policy_to_the_flows_it_names() {
        let mut f = desktop();
        let mut p = mfa();
        p.transfer_methods = vec!["deviceCodeFlow".into()];
        assert_eq!(
            evaluate_policy(&p, &f).reason,
            "authentication flows: the sign-in uses no transfer method, not deviceCodeFlow"
        );
        f.auth_flow = Some("deviceCodeFlow".into());
        assert!(evaluate_policy(&p, &f).applies);
        f.auth_flow = Some("authenticationTransfer".into());
        assert!(!evaluate_policy(&p, &f).applies);
        p.transfer_methods.push("authenticationTransfer".into());
        assert!(evaluate_policy(&p, &f).applies);
        // Not configured: every flow.
        p.transfer_methods.clear();
        assert!(evaluate_policy(&p, &f).applies);
    }
}
