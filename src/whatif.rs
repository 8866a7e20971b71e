//! `hmasim whatif`: one sign-in against the scenario's Conditional Access policies, like
//! the Entra What If tool. Every policy is listed (applies or not, and which condition
//! excluded it), then the combined result (block, grant with these controls, or no
//! policy) and what happens to this sign-in with the given device. Exit 0, or 2 on bad
//! input.
//!
//! Also home of `--ca-policies PATH` for the other commands ([`prepare_policies`]).

use std::path::{Path, PathBuf};

use clap::{Args, ValueEnum};
use hmasim_entra_id::ca::{self, Combined, PolicyResult, SignInFacts, Verdict};
use serde_json::{json, Value};

use crate::cli::CliError;
use crate::protocol::apps;
use crate::protocol::device::{credential, derived_id, DeviceRecord, TrustType};
use crate::protocol::policy::{
    CaPolicy, CaState, ClientAppType, DevicePlatform, GrantControl, Operator,
};
use crate::scenario::{graph, DeviceState, ErrorOrigin, Scenario, ScenarioError};

/// Arguments of `hmasim whatif`.
#[derive(Args, Debug)]
pub struct WhatifArgs {
    /// A scenario file or the name of a bundled scenario.
    pub scenario: String,
    /// The user signing in (default: the scenario's first user).
    #[arg(long, value_name = "UPN")]
    pub user: Option<String>,
    /// The cloud app: exchange-online, office365 (some Office 365 app), an application id,
    /// or a user action (urn:user:registersecurityinfo, urn:user:registerdevice).
    #[arg(long, value_name = "APP")]
    pub app: String,
    /// The sign-in's client app type.
    #[arg(
        long = "client-app",
        value_enum,
        ignore_case = true,
        value_name = "TYPE"
    )]
    pub client_app: ClientAppArg,
    /// The device platform (default: unknown): the sign-in presents a User-Agent that
    /// Entra ID reads as this platform.
    #[arg(long, value_enum, ignore_case = true, value_name = "P")]
    pub platform: Option<PlatformArg>,
    /// The User-Agent the client sends (instead of --platform); Entra ID derives the
    /// platform from it.
    #[arg(long = "user-agent", value_name = "UA", conflicts_with = "platform")]
    pub user_agent: Option<String>,
    /// Where the sign-in comes from: internal (the office's egress address,
    /// `network.office_egress`), external (`network.internet_address`), or the name or id
    /// of a named location (an address inside it).
    #[arg(
        long,
        default_value = "external",
        value_name = "internal|external|NAME"
    )]
    pub location: String,
    /// The source address of the sign-in (instead of --location); Entra ID derives the
    /// named locations and the country from it.
    #[arg(long, value_name = "IP")]
    pub address: Option<std::net::IpAddr>,
    /// The device's state: unmanaged presents no device credential (an unregistered
    /// device); the others present the credential of a device the directory holds, whose
    /// attributes device filters and the device grant controls read.
    #[arg(long, value_enum, default_value = "unmanaged")]
    pub device: DeviceArg,
    /// Sign in from this registered device of the scenario (`clients.N.device`, by its
    /// device id) instead of --device.
    #[arg(long = "device-id", value_name = "GUID", conflicts_with = "device")]
    pub device_id: Option<String>,
    /// The client is an approved client app under an app protection policy, as Outlook
    /// mobile is (satisfies approvedApplication and compliantApplication).
    #[arg(long)]
    pub approved_client: bool,
    /// A directory role the user holds for this evaluation, beside the roles the scenario
    /// gives them (`users.N.roles`), for policies that include or exclude roles
    /// (repeatable).
    #[arg(long = "role", value_name = "ROLE")]
    pub roles: Vec<String>,
    /// The sign-in risk Identity Protection scores this sign-in at (none, low, medium,
    /// high; default: the user's `sign_in_risk`).
    #[arg(long = "sign-in-risk", value_name = "LEVEL")]
    pub sign_in_risk: Option<String>,
    /// The user's risk (none, low, medium, high; default: the user's `user_risk`).
    #[arg(long = "user-risk", value_name = "LEVEL")]
    pub user_risk: Option<String>,
    /// The user's insider risk (none, minor, moderate, elevated; default: the user's
    /// `insider_risk`).
    #[arg(long = "insider-risk", value_name = "LEVEL")]
    pub insider_risk: Option<String>,
    /// Replace the scenario's Conditional Access policies with Microsoft Graph
    /// conditionalAccessPolicy JSON (a file, or a directory of one-policy files).
    #[arg(long = "ca-policies", value_name = "PATH")]
    pub ca_policies: Option<PathBuf>,
    /// Replace the scenario's named locations with Microsoft Graph namedLocation JSON
    /// (IP and country locations; a file, or a directory of one-location files).
    #[arg(long = "named-locations", value_name = "PATH")]
    pub named_locations: Option<PathBuf>,
    /// Override a scenario field by its dotted path (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub set: Vec<String>,
    /// Output format.
    #[arg(long, value_enum, default_value = "text")]
    pub format: WhatifFormat,
}

/// The client app type of a sign-in (a policy's `all` and `easSupported` are selectors,
/// not sign-ins).
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ClientAppArg {
    /// A browser.
    #[value(name = "browser")]
    Browser,
    /// A modern-authentication mobile app or desktop client.
    #[value(name = "mobileAppsAndDesktopClients")]
    MobileAppsAndDesktopClients,
    /// An Exchange ActiveSync client with Basic authentication (legacy).
    #[value(name = "exchangeActiveSync")]
    ExchangeActiveSync,
    /// Another legacy client: AutoDiscover, EWS, MAPI, OAB, RPC, IMAP, POP, SMTP with Basic.
    #[value(name = "other")]
    Other,
}

impl From<ClientAppArg> for ClientAppType {
    fn from(a: ClientAppArg) -> Self {
        match a {
            ClientAppArg::Browser => ClientAppType::Browser,
            ClientAppArg::MobileAppsAndDesktopClients => ClientAppType::MobileAppsAndDesktopClients,
            ClientAppArg::ExchangeActiveSync => ClientAppType::ExchangeActiveSync,
            ClientAppArg::Other => ClientAppType::Other,
        }
    }
}

/// A device platform.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum PlatformArg {
    /// Android.
    Android,
    /// iOS.
    Ios,
    /// Windows.
    Windows,
    /// macOS.
    Macos,
    /// Linux.
    Linux,
}

impl From<PlatformArg> for DevicePlatform {
    fn from(p: PlatformArg) -> Self {
        match p {
            PlatformArg::Android => DevicePlatform::Android,
            PlatformArg::Ios => DevicePlatform::Ios,
            PlatformArg::Windows => DevicePlatform::Windows,
            PlatformArg::Macos => DevicePlatform::Macos,
            PlatformArg::Linux => DevicePlatform::Linux,
        }
    }
}

/// A device state.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum DeviceArg {
    /// Not managed.
    Unmanaged,
    /// Enrolled in Intune and compliant.
    Compliant,
    /// Hybrid Entra joined.
    DomainJoined,
    /// Microsoft Entra registered (a Workplace join): registered, not compliant.
    Registered,
}

impl DeviceArg {
    fn as_str(self) -> &'static str {
        match self {
            DeviceArg::Unmanaged => "unmanaged",
            DeviceArg::Compliant => "compliant",
            DeviceArg::DomainJoined => "domain-joined",
            DeviceArg::Registered => "registered",
        }
    }
}

/// Output formats of `whatif`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum WhatifFormat {
    /// For a screen.
    Text,
    /// One JSON object.
    Json,
}

/// Applies `--named-locations PATH` (when given): the scenario's named locations become
/// those of the Graph `namedLocation` export, and every warning is printed to standard
/// error. Runs before `--ca-policies`, whose location ids it resolves.
pub fn prepare_locations(sc: &mut Scenario, path: Option<&Path>) -> Result<(), ScenarioError> {
    if let Some(p) = path {
        for w in graph::replace_named_locations(sc, p)? {
            crate::term::eprint_line(&format!(
                "warning: {}",
                crate::term::escape_control(&w.to_string())
            ));
        }
    }
    Ok(())
}

/// Applies `--ca-policies PATH` (when given) to a loaded scenario, and prints every
/// warning about what the policies say that hmasim does not model to standard error.
pub fn prepare_policies(sc: &mut Scenario, path: Option<&Path>) -> Result<(), ScenarioError> {
    for w in policy_warnings(sc, path)? {
        crate::term::eprint_line(&format!("warning: {}", crate::term::escape_control(&w)));
    }
    Ok(())
}

/// Applies `--ca-policies PATH` (when given) and returns the warnings: those of the Graph
/// reader for PATH, or the unmodelled fields of the scenario's own policies.
fn policy_warnings(sc: &mut Scenario, path: Option<&Path>) -> Result<Vec<String>, ScenarioError> {
    Ok(match path {
        Some(p) => graph::replace_policies(sc, p)?
            .iter()
            .map(ToString::to_string)
            .collect(),
        None => graph::unmodelled_warnings(&sc.conditional_access),
    })
}

fn arg_error(flag: &str, value: &str, message: String) -> ScenarioError {
    ScenarioError::new(ErrorOrigin::Argument(format!("{flag} {value}")), message)
}

/// The app id `--app` names.
fn app_id(app: &str) -> Result<String, ScenarioError> {
    let guid = {
        let parts: Vec<&str> = app.split('-').collect();
        parts.len() == 5
            && parts
                .iter()
                .zip([8, 4, 4, 4, 12])
                .all(|(p, n)| p.len() == n && p.chars().all(|c| c.is_ascii_hexdigit()))
    };
    match app.to_ascii_lowercase().as_str() {
        "exchange-online" => Ok(apps::EXCHANGE_ONLINE.to_string()),
        "office365" => Ok("Office365".to_string()),
        a @ ("urn:user:registersecurityinfo" | "urn:user:registerdevice") => Ok(a.to_string()),
        _ if guid => Ok(app.to_ascii_lowercase()),
        _ => Err(arg_error("--app", app, "unknown cloud app".into())
            .expected("exchange-online, office365, an application id (GUID) or a user action (urn:user:registersecurityinfo, urn:user:registerdevice)")),
    }
}

fn app_label(id: &str) -> String {
    match id {
        apps::EXCHANGE_ONLINE => format!("Exchange Online ({id})"),
        "Office365" => "an Office 365 app (Office365)".to_string(),
        _ => id.to_string(),
    }
}

fn controls_text(controls: &[GrantControl], op: Operator) -> String {
    let names: Vec<&str> = controls.iter().map(|c| c.as_str()).collect();
    names.join(match op {
        Operator::And => " AND ",
        Operator::Or => " OR ",
    })
}

fn state_text(s: CaState) -> &'static str {
    match s {
        CaState::Enabled => "enabled",
        CaState::Disabled => "disabled",
        CaState::ReportOnly => "report-only",
    }
}

/// Everything `whatif` computed.
struct Report {
    scenario: String,
    facts: SignInFacts,
    device: String,
    approved_client: bool,
    policies: Vec<CaPolicy>,
    results: Vec<PolicyResult>,
    combined: Combined,
    verdict: Verdict,
    warnings: Vec<String>,
}

fn evaluate(a: &WhatifArgs) -> Result<Report, ScenarioError> {
    let mut sc = crate::cli::load(&a.scenario, None, &a.set)?;
    prepare_locations(&mut sc, a.named_locations.as_deref())?;
    let warnings = policy_warnings(&mut sc, a.ca_policies.as_deref())?;
    let user = match &a.user {
        None => sc.users[0].clone(),
        Some(u) => sc.user(u).cloned().ok_or_else(|| {
            let upns: Vec<&str> = sc.users.iter().map(|u| u.upn.as_str()).collect();
            arg_error("--user", u, "not a user of the scenario".into())
                .expected(format!("one of {}", upns.join(", ")))
        })?,
    };
    let app_id = app_id(&a.app)?;
    let named = sc.effective_named_locations();
    let address = match (a.address, a.location.to_ascii_lowercase().as_str()) {
        (Some(ip), _) => ip,
        (None, "internal") => sc.network.office_egress,
        (None, "external") => sc.network.internet_address,
        (None, _) => {
            let found = named.iter().find(|n| {
                n.name.eq_ignore_ascii_case(&a.location) || n.id.eq_ignore_ascii_case(&a.location)
            });
            match found {
                Some(n) => n.sample_address(&sc.network.geo).ok_or_else(|| {
                    arg_error(
                        "--location",
                        &a.location,
                        "the location holds no IP range, and no range of the geolocation table (network.geo) is in its countries".into(),
                    )
                    .expected("--address IP, or a location with ip_ranges".to_string())
                })?,
                None => {
                    let mut names = vec!["internal", "external"];
                    names.extend(named.iter().map(|n| n.name.as_str()));
                    return Err(arg_error(
                        "--location",
                        &a.location,
                        "not a location of the scenario".into(),
                    )
                    .expected(format!(
                        "one of {} (named locations come from the scenario's named_locations)",
                        names.join(", ")
                    )));
                }
            }
        }
    };
    let user_agent = a.user_agent.clone().or_else(|| {
        a.platform
            .map(|p| ca::sample_user_agent(p.into()).to_string())
    });
    // The device: a credential of a device the directory holds, as a registered
    // device's sign-in presents it.
    let mut tenant = hmasim_sim::ca_tenant(&sc);
    let device_id = match (&a.device_id, a.device) {
        (Some(id), _) => {
            if !tenant.devices.contains_key(&id.to_ascii_lowercase()) {
                let ids: Vec<&str> = tenant.devices.values().map(|d| d.id.as_str()).collect();
                return Err(arg_error(
                    "--device-id",
                    id,
                    "not a registered device of the scenario".into(),
                )
                .expected(if ids.is_empty() {
                    "a device id declared as clients.N.device = { id = ... }".to_string()
                } else {
                    format!("one of {}", ids.join(", "))
                }));
            }
            Some(id.clone())
        }
        (None, DeviceArg::Unmanaged) => None,
        (None, d) => {
            let platform = match a.platform {
                Some(PlatformArg::Ios) => crate::scenario::Platform::Ios,
                Some(PlatformArg::Android) => crate::scenario::Platform::Android,
                Some(PlatformArg::Macos) => crate::scenario::Platform::Macos,
                _ => crate::scenario::Platform::Windows,
            };
            let state = match d {
                DeviceArg::Compliant => DeviceState::Compliant,
                DeviceArg::DomainJoined => DeviceState::DomainJoined,
                _ => DeviceState::Registered(Box::new(DeviceRecord::new(
                    derived_id("whatif", sc.seed),
                    TrustType::Workplace,
                ))),
            };
            let rec = state
                .record("whatif", platform, sc.seed)
                .expect("a registered state has a record");
            let id = rec.id.clone();
            tenant.devices.insert(id.to_ascii_lowercase(), rec);
            Some(id)
        }
    };
    let credential = device_id.map(|id| credential(&id, &user.upn, sc.seed));
    // The same derivation Entra ID runs on a sign-in that arrives.
    let mut facts = tenant.facts(&ca::SignIn {
        upn: &user.upn,
        address: Some(address),
        user_agent: user_agent.as_deref(),
        client_app: a.client_app.into(),
        app_id: &app_id,
        device_credential: credential.as_deref(),
        registered: None,
        auth_flow: None,
    });
    for r in &a.roles {
        if !facts.roles.iter().any(|x| x.eq_ignore_ascii_case(r)) {
            facts.roles.push(r.clone());
        }
    }
    use hmasim_protocol::policy::{InsiderRiskLevel, RiskLevel};
    let level = |flag: &str, v: &str| {
        RiskLevel::parse(v).ok_or_else(|| {
            arg_error(flag, v, "not a risk level".into()).expected("none, low, medium or high")
        })
    };
    if let Some(v) = &a.sign_in_risk {
        facts.sign_in_risk = level("--sign-in-risk", v)?;
    }
    if let Some(v) = &a.user_risk {
        facts.user_risk = level("--user-risk", v)?;
    }
    if let Some(v) = &a.insider_risk {
        facts.insider_risk = InsiderRiskLevel::parse(v).ok_or_else(|| {
            arg_error("--insider-risk", v, "not an insider risk level".into())
                .expected("none, minor, moderate or elevated")
        })?;
    }
    let results = ca::evaluate(&sc.conditional_access, &facts);
    let combined = ca::combine(&results, &facts);
    let verdict = ca::verdict_for(&results, &facts, |c| match c {
        GrantControl::Block | GrantControl::Mfa => false,
        GrantControl::CompliantDevice => facts.device.as_ref().is_some_and(|d| d.is_compliant),
        GrantControl::DomainJoinedDevice => facts
            .device
            .as_ref()
            .is_some_and(|d| d.trust_type == TrustType::ServerAd),
        GrantControl::ApprovedApplication | GrantControl::CompliantApplication => a.approved_client,
    });
    let device = match (&a.device_id, &facts.device) {
        (Some(_), Some(d)) => format!("{} ({})", d.id, d.trust_type.as_str()),
        _ => a.device.as_str().to_string(),
    };
    Ok(Report {
        scenario: sc.name.clone(),
        facts,
        device,
        approved_client: a.approved_client,
        policies: sc.conditional_access,
        results,
        combined,
        verdict,
        warnings,
    })
}

impl Report {
    fn location_text(&self) -> String {
        let f = &self.facts;
        let addr = f
            .address
            .map(|a| a.to_string())
            .unwrap_or_else(|| "unknown address".into());
        let country = f
            .country
            .as_ref()
            .map(|c| format!(", country {c}"))
            .unwrap_or_default();
        let trust = if f.trusted_location {
            "trusted"
        } else {
            "untrusted"
        };
        if f.locations.is_empty() {
            format!("{addr}{country}: in no named location ({trust})")
        } else {
            format!("{addr}{country}: {} ({trust})", f.locations.join(", "))
        }
    }

    fn result_text(&self) -> String {
        let c = &self.combined;
        if let Some((_, why)) = &c.block {
            return format!("block: {why}");
        }
        if c.applying == 0 {
            return "no policy applies: Conditional Access does not restrict this sign-in".into();
        }
        match c.operator {
            None => "grant: the applying policies require no control".into(),
            Some(_) if !c.exact => {
                let parts: Vec<String> = c
                    .requirements
                    .iter()
                    .map(|r| {
                        format!(
                            "'{}' ({})",
                            r.policy,
                            controls_text(&r.controls, r.operator)
                        )
                    })
                    .collect();
                format!(
                    "grant when every policy is satisfied: {}",
                    parts.join(" AND ")
                )
            }
            Some(Operator::Or) => {
                format!(
                    "grant with one of {}",
                    controls_text(&c.controls, Operator::Or)
                )
            }
            Some(Operator::And) => {
                format!("grant with {}", controls_text(&c.controls, Operator::And))
            }
        }
    }

    fn outcome(&self) -> (&'static str, String) {
        match &self.verdict {
            Verdict::Grant if self.combined.applying == 0 => (
                "grant",
                "access is granted (no enforced policy applies)".into(),
            ),
            Verdict::Grant => (
                "grant",
                "access is granted: every applying policy is satisfied".into(),
            ),
            Verdict::NeedMfa => (
                "mfa",
                "the user is prompted for MFA; access is granted once it is done".into(),
            ),
            Verdict::Block(name) => (
                "block",
                match &self.combined.block {
                    Some((_, why)) => format!("access is blocked: {why}"),
                    None => format!("access is blocked by policy '{name}'"),
                },
            ),
            Verdict::Unsatisfiable(name, c) => (
                "unsatisfiable",
                format!(
                    "access fails: policy '{name}' requires {}, which this sign-in cannot provide \
                     (device {}, {})",
                    c.as_str(),
                    self.device,
                    if self.approved_client {
                        "approved client app"
                    } else {
                        "not an approved client app"
                    }
                ),
            ),
        }
    }

    fn to_text(&self) -> String {
        let f = &self.facts;
        let mut out = format!(
            "whatif {}: {} signs in to {}\n  client app {}, platform {}, location {}, device {}{}{}\n",
            self.scenario,
            f.upn,
            app_label(&f.app_id),
            f.client_app.as_str(),
            f.platform.map_or("unknown", DevicePlatform::as_str),
            self.location_text(),
            self.device,
            if self.approved_client {
                ", approved client app"
            } else {
                ""
            },
            if (f.sign_in_risk, f.user_risk, f.insider_risk) == Default::default() {
                String::new()
            } else {
                format!(
                    ", sign-in risk {}, user risk {}, insider risk {}",
                    f.sign_in_risk.as_str(),
                    f.user_risk.as_str(),
                    f.insider_risk.as_str()
                )
            }
        );
        out.push_str(&format!("\nPOLICIES ({})\n", self.results.len()));
        if self.results.is_empty() {
            out.push_str("  no Conditional Access policy is configured\n");
        }
        for (r, p) in self.results.iter().zip(&self.policies) {
            let grant = if r.controls.contains(&GrantControl::Block) {
                "block".to_string()
            } else if r.controls.is_empty() {
                "no control".to_string()
            } else {
                controls_text(&r.controls, r.operator)
            };
            let mut tail = match (r.applies, r.state) {
                (true, CaState::ReportOnly) => format!("; would require {grant} (not enforced)"),
                (true, _) => format!("; requires {grant}"),
                _ => String::new(),
            };
            // A session control: it shortens the session this sign-in gets, in runs.
            if let (true, Some(f)) = (r.applies, p.sign_in_frequency) {
                tail.push_str(&format!("; session: sign-in frequency {f}"));
            }
            out.push_str(&format!(
                "  {:<14}  {} [{}]: {}{tail}\n",
                if r.applies {
                    "applies"
                } else {
                    "does not apply"
                },
                crate::term::escape_control(&r.name),
                state_text(r.state),
                crate::term::escape_control(&r.reason)
            ));
        }
        out.push_str(&format!("\nRESULT: {}\n", self.result_text()));
        out.push_str(&format!("OUTCOME: {}\n", self.outcome().1));
        if !self.warnings.is_empty() {
            out.push_str("\nWARNINGS (what the policies say that hmasim does not model)\n");
            for w in &self.warnings {
                out.push_str(&format!("  {}\n", crate::term::escape_control(w)));
            }
        }
        out
    }

    fn to_json(&self) -> String {
        let f = &self.facts;
        let names = |cs: &[GrantControl]| cs.iter().map(|c| c.as_str()).collect::<Vec<_>>();
        let policies: Vec<Value> = self
            .results
            .iter()
            .zip(&self.policies)
            .map(|(r, p)| {
                let mut v = json!({
                    "name": r.name,
                    "state": r.state.as_str(),
                    "applies": r.applies,
                    "enforced": r.applies && r.state == CaState::Enabled,
                    "reason": r.reason,
                    "controls": names(&r.controls),
                    "operator": r.operator.as_str(),
                    "unmodelled": p.unmodelled,
                });
                // Additive: only a policy that sets one carries its sign-in frequency.
                if let (Some(f), Value::Object(m)) = (p.sign_in_frequency, &mut v) {
                    m.insert("sign_in_frequency".into(), json!(f.to_string()));
                }
                v
            })
            .collect();
        let c = &self.combined;
        let (verdict, message) = self.outcome();
        let doc = json!({
            "scenario": self.scenario,
            "sign_in": {
                "user": f.upn,
                "app": f.app_id,
                "client_app": f.client_app.as_str(),
                "legacy": f.is_legacy(),
                "platform": f.platform.map(DevicePlatform::as_str),
                "address": f.address.map(|a| a.to_string()),
                "country": f.country,
                "locations": f.locations,
                "trusted_location": f.trusted_location,
                "device": self.device,
                "registered_device": f.device.as_ref().map(|d| json!({
                    "id": d.id,
                    "trust_type": d.trust_type.as_str(),
                    "is_compliant": d.is_compliant,
                })),
                "approved_client": self.approved_client,
                "groups": f.groups,
                "roles": f.roles,
                "sign_in_risk": f.sign_in_risk.as_str(),
                "user_risk": f.user_risk.as_str(),
                "insider_risk": f.insider_risk.as_str(),
            },
            "policies": policies,
            "result": {
                "block": c.block.is_some(),
                "blocked_by": c.block.as_ref().map(|b| &b.0),
                "controls": names(&c.controls),
                "operator": c.operator.map(Operator::as_str),
                "exact": c.exact,
                "requirements": c.requirements.iter().map(|r| json!({
                    "policy": r.policy,
                    "controls": names(&r.controls),
                    "operator": r.operator.as_str(),
                })).collect::<Vec<_>>(),
                "summary": self.result_text(),
            },
            "outcome": {"verdict": verdict, "message": message},
            "warnings": self.warnings,
        });
        let mut s = serde_json::to_string_pretty(&doc).expect("plain JSON");
        s.push('\n');
        s
    }
}

/// Runs `hmasim whatif`.
pub fn run(a: WhatifArgs) -> Result<(), CliError> {
    let report = evaluate(&a).map_err(CliError::Scenario)?;
    let text = match a.format {
        WhatifFormat::Text => report.to_text(),
        WhatifFormat::Json => report.to_json(),
    };
    crate::term::print(&text);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn apps_by_name_or_id() {
        assert_eq!(app_id("exchange-online").unwrap(), apps::EXCHANGE_ONLINE);
        assert_eq!(app_id("Office365").unwrap(), "Office365");
        assert_eq!(
            app_id("00000003-0000-0FF1-CE00-000000000000").unwrap(),
            "00000003-0000-0ff1-ce00-000000000000"
        );
        let e = app_id("sharepoint").unwrap_err().to_string();
        assert!(e.starts_with("--app sharepoint: unknown cloud app"), "{e}");
    }
}
