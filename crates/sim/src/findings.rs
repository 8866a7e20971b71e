//! What `hmasim verify` tells an admin: a verdict per user, the findings grouped by the
//! control that closes them, each fix aimed at the object that exists in the tenant, and the
//! findings accepted on purpose (`--accept`).
//!
//! A fix is derived from two things only: the configuration (which authentication policy
//! applies to the user, which Conditional Access policy requires MFA, which device access
//! rule matches) and what the path's run said (the Conditional Access evaluation note, the
//! request that reached the mailbox with its credentials and device strings, who served
//! it). Never from a scenario's name. Each fix is also a [`Change`] to the scenario, so a
//! test can apply it and verify again: that is how a fix is shown to be aimed right.
//!
//! Findings are grouped by their change ("closing X closes N paths"); changes to one
//! authentication policy merge (one `Set-AuthenticationPolicy` with every flag the paths
//! need). Within a group, the paths of one user, client, method and outcome form a class;
//! its minimal counterexamples are the paths whose pinned signals contain no other path's
//! (a single one when it pins a subset of every other's). The text shows them (or, when
//! there are more than three, the values each signal takes, compactly).

use hmasim_protocol::headers;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use hmasim_protocol::apps;
use hmasim_protocol::challenge::Credentials;
use hmasim_protocol::display::escape_control as esc;
use hmasim_protocol::line::session::Credential;
use hmasim_protocol::policy::{CaPolicy, CaState, ClientAppType, DevicePlatform, GrantControl};
use hmasim_protocol::PartyKind;
use hmasim_scenario::accept::Exception;
use hmasim_scenario::{
    AccessLevel, AdfsPolicy, ClientKind, Date, DeviceCharacteristic, ExoAuthPolicy, Location,
    MailProtocol, OnpremAuthPolicy, Scenario,
};
use serde::Serialize;
use serde_json::{json, Value};

pub use crate::verify::Overall;
use crate::verify::{Counterexample, Method, PathSpec, Verdict, Verification};
use crate::Trace;

/// A change to the scenario that closes a path: what the admin's command does, as data.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Change {
    /// An existing Exchange Online authentication policy stops allowing Basic for these
    /// protocols.
    ExoPolicy {
        /// The policy.
        name: String,
        /// The protocols.
        protocols: BTreeSet<MailProtocol>,
    },
    /// A new Exchange Online authentication policy (it blocks Basic for every protocol)
    /// becomes the organization default: no policy applied to the user before.
    ExoNewDefault {
        /// Its name.
        name: String,
    },
    /// An existing on-premises authentication policy blocks legacy authentication for
    /// these protocols.
    OnpremPolicy {
        /// The policy.
        name: String,
        /// The protocols.
        protocols: BTreeSet<MailProtocol>,
    },
    /// A new on-premises authentication policy blocking legacy authentication for these
    /// protocols becomes the organization default.
    OnpremNewDefault {
        /// Its name.
        name: String,
        /// The protocols.
        protocols: BTreeSet<MailProtocol>,
    },
    /// An existing Conditional Access policy is changed (a Graph PATCH).
    CaPatch {
        /// Its position in the scenario's policies.
        index: usize,
        /// The policy as it is after the change.
        policy: Box<CaPolicy>,
        /// What the change does, in words (`{seen}` stands for the values the paths showed).
        what: String,
        /// The values the paths of the group showed for the condition (platforms...).
        seen: BTreeSet<String>,
        /// The PATCH body.
        body: String,
    },
    /// A new Conditional Access policy (a Graph POST).
    CaNew {
        /// The policy.
        policy: Box<CaPolicy>,
        /// The POST body.
        body: String,
    },
    /// OWA and ECP move to AD FS claims-based authentication (and the OWA relying party
    /// requires MFA, when it does not yet).
    OwaClaims {
        /// The OWA relying party's access control policy must change too.
        require_mfa: bool,
    },
    /// The OWA relying party trust requires MFA.
    AdfsOwaMfa,
    /// The user registers an MFA method (with a Temporary Access Pass the admin issues):
    /// what closes the registration interrupt where the guard permits it, from a trusted
    /// location.
    Registered {
        /// The user.
        upn: String,
        /// The trusted locations the paths came from.
        locations: BTreeSet<String>,
    },
    /// A Conditional Access policy on the user action "register security information"
    /// (a Graph POST): registration only from trusted locations.
    RegistrationGuard {
        /// The policy.
        policy: Box<CaPolicy>,
        /// The POST body.
        body: String,
    },
    /// A Conditional Access policy on the user action "register or join devices" (a Graph
    /// POST): registering a device requires MFA, so the password holder cannot register
    /// the device a filter for devices exempts.
    DeviceRegistrationGuard {
        /// The policy.
        policy: Box<CaPolicy>,
        /// The POST body.
        body: String,
    },
}

impl Change {
    /// Applies the change to `sc`, as the admin's command would change the tenant.
    pub fn apply(&self, sc: &mut Scenario) {
        match self {
            Change::ExoPolicy { name, protocols } => {
                for p in &mut sc.exchange_online.authentication_policies {
                    if &p.name == name {
                        for x in protocols {
                            *exo_flag(p, *x) = false;
                        }
                    }
                }
            }
            Change::ExoNewDefault { name } => {
                sc.exchange_online
                    .authentication_policies
                    .push(ExoAuthPolicy {
                        name: name.clone(),
                        ..ExoAuthPolicy::default()
                    });
                sc.exchange_online.default_authentication_policy = Some(name.clone());
            }
            Change::OnpremPolicy { name, protocols } => {
                for p in &mut sc.onprem.authentication_policies {
                    if &p.name == name {
                        for x in protocols {
                            *onprem_flag(p, *x) = true;
                        }
                    }
                }
            }
            Change::OnpremNewDefault { name, protocols } => {
                let mut p = OnpremAuthPolicy {
                    name: name.clone(),
                    ..OnpremAuthPolicy::default()
                };
                for x in protocols {
                    *onprem_flag(&mut p, *x) = true;
                }
                sc.onprem.authentication_policies.push(p);
                sc.onprem.default_authentication_policy = Some(name.clone());
            }
            Change::CaPatch { index, policy, .. } => {
                if let Some(p) = sc.conditional_access.get_mut(*index) {
                    *p = (**policy).clone();
                }
            }
            Change::Registered { upn, .. } => {
                for u in &mut sc.users {
                    if u.upn.eq_ignore_ascii_case(upn) {
                        u.mfa_registered = true;
                    }
                }
            }
            Change::CaNew { policy, .. }
            | Change::RegistrationGuard { policy, .. }
            | Change::DeviceRegistrationGuard { policy, .. } => {
                sc.conditional_access.push((**policy).clone())
            }
            Change::OwaClaims { require_mfa } => {
                sc.onprem.owa_adfs_claims = true;
                if *require_mfa {
                    sc.adfs.owa_policy = AdfsPolicy::RequireMfa;
                }
            }
            Change::AdfsOwaMfa => sc.adfs.owa_policy = AdfsPolicy::RequireMfa,
        }
    }

    /// What groups findings: two fixes with one key are one control.
    fn key(&self) -> String {
        match self {
            Change::ExoPolicy { name, .. } => format!("exo-policy {name}"),
            Change::ExoNewDefault { .. } => "exo-new-default".into(),
            Change::OnpremPolicy { name, .. } => format!("onprem-policy {name}"),
            Change::OnpremNewDefault { .. } => "onprem-new-default".into(),
            Change::CaPatch { index, body, .. } => format!("ca-patch {index} {body}"),
            Change::CaNew { body, .. } => format!("ca-new {body}"),
            Change::OwaClaims { .. } => "owa-claims".into(),
            Change::AdfsOwaMfa => "adfs-owa-mfa".into(),
            Change::RegistrationGuard { .. } => "registration-guard".into(),
            Change::DeviceRegistrationGuard { .. } => "device-registration-guard".into(),
            Change::Registered { upn, .. } => format!("registered {upn}"),
        }
    }

    /// Merges `other` (same key) into `self`: the union of the protocols.
    fn merge(&mut self, other: &Change) {
        match (self, other) {
            (Change::ExoPolicy { protocols: a, .. }, Change::ExoPolicy { protocols: b, .. })
            | (
                Change::OnpremPolicy { protocols: a, .. },
                Change::OnpremPolicy { protocols: b, .. },
            )
            | (
                Change::OnpremNewDefault { protocols: a, .. },
                Change::OnpremNewDefault { protocols: b, .. },
            ) => a.extend(b.iter().copied()),
            (Change::Registered { locations: a, .. }, Change::Registered { locations: b, .. }) => {
                a.extend(b.iter().cloned())
            }
            (Change::CaPatch { seen: a, .. }, Change::CaPatch { seen: b, .. }) => {
                a.extend(b.iter().cloned())
            }
            _ => {}
        }
    }

    /// The control, in words, and the admin command that sets it.
    pub fn describe(&self, sc: &Scenario) -> (String, String) {
        let names = |ps: &BTreeSet<MailProtocol>| {
            ps.iter().map(|p| p.name()).collect::<Vec<_>>().join(", ")
        };
        match self {
            Change::ExoPolicy { name, protocols } => {
                let whose = if sc.exchange_online.default_authentication_policy.as_ref()
                    == Some(name)
                {
                    "the organization's default Exchange Online authentication policy"
                        .to_string()
                } else {
                    format!(
                        "the Exchange Online authentication policy assigned to {} (it wins over the organization default)",
                        users_with(sc, |u| u.authentication_policy.as_ref() == Some(name))
                    )
                };
                let flags: Vec<String> = protocols
                    .iter()
                    .map(|p| format!("-{}:$false", exo_flag_name(*p)))
                    .collect();
                (
                    format!(
                        "'{name}', {whose}, allows Basic authentication for {}: turn it off in that policy",
                        names(protocols)
                    ),
                    format!(
                        "Set-AuthenticationPolicy -Identity {} {}",
                        ps_quote(name),
                        flags.join(" ")
                    ),
                )
            }
            Change::ExoNewDefault { name } => (
                "no Exchange Online authentication policy applies to the user, so Basic authentication is allowed: a new policy (it blocks Basic for every protocol) as the organization default".to_string(),
                format!(
                    "New-AuthenticationPolicy -Name {q}; Set-OrganizationConfig -DefaultAuthenticationPolicy {q}",
                    q = ps_quote(name)
                ),
            ),
            Change::OnpremPolicy { name, protocols } => {
                let whose = if sc.onprem.default_authentication_policy.as_ref() == Some(name) {
                    "the organization's default on-premises authentication policy".to_string()
                } else {
                    format!(
                        "the on-premises authentication policy assigned to {} (it wins over the organization default)",
                        users_with(sc, |u| u.onprem_authentication_policy.as_ref() == Some(name))
                    )
                };
                let flags: Vec<String> = protocols
                    .iter()
                    .map(|p| format!("-{}", onprem_flag_name(*p)))
                    .collect();
                (
                    format!(
                        "'{name}', {whose}, does not block legacy authentication for {}: block it in that policy",
                        names(protocols)
                    ),
                    format!(
                        "Set-AuthenticationPolicy -Identity {} {}",
                        ps_quote(name),
                        flags.join(" ")
                    ),
                )
            }
            Change::OnpremNewDefault { name, protocols } => {
                let flags: Vec<String> = protocols
                    .iter()
                    .map(|p| format!("-{}", onprem_flag_name(*p)))
                    .collect();
                (
                    format!(
                        "no on-premises authentication policy applies to the user: a new one blocking legacy authentication for {} as the organization default",
                        names(protocols)
                    ),
                    format!(
                        "New-AuthenticationPolicy -Name {q} {}; Set-OrganizationConfig -DefaultAuthenticationPolicy {q}",
                        flags.join(" "),
                        q = ps_quote(name)
                    ),
                )
            }
            Change::CaPatch {
                policy,
                what,
                seen,
                body,
                ..
            } => (
                format!(
                    "Conditional Access policy '{}': {}",
                    policy.name,
                    what.replace("{seen}", &seen.iter().cloned().collect::<Vec<_>>().join(", "))
                ),
                ca_patch_command(policy, body),
            ),
            Change::CaNew { policy, body } => (
                format!(
                    "no Conditional Access policy requires MFA for this sign-in: a new policy '{}' for Office 365 Exchange Online, client app {}, grant MFA",
                    policy.name,
                    policy
                        .client_app_types
                        .iter()
                        .map(|t| t.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                format!(
                    "Invoke-MgGraphRequest -Method POST -Uri \"https://graph.microsoft.com/v1.0/identity/conditionalAccess/policies\" -ContentType \"application/json\" -Body '{}'",
                    body.replace('\'', "''")
                ),
            ),
            Change::OwaClaims { require_mfa } => {
                let mut cmd = OWA_ECP_ADFS.to_string();
                if *require_mfa {
                    cmd.push_str("; ");
                    cmd.push_str(&adfs_owa_command(sc));
                }
                (
                    format!(
                        "OWA and ECP use forms authentication on-premises: AD FS claims-based authentication for both{}",
                        if *require_mfa {
                            ", with an access control policy requiring MFA on the OWA relying party trust"
                        } else {
                            ""
                        }
                    ),
                    cmd,
                )
            }
            Change::Registered { upn, locations } => (
                format!(
                    "{upn} has no MFA method registered, and registration from a trusted location ({}) is what a registration guard permits: have the user register a method now, with a Temporary Access Pass (or, if the trusted network is trusted with this, accept it with --accept)",
                    locations.iter().cloned().collect::<Vec<_>>().join(", ")
                ),
                format!(
                    "Invoke-MgGraphRequest -Method POST -Uri \"https://graph.microsoft.com/v1.0/users/{upn}/authentication/temporaryAccessPassMethods\" -ContentType \"application/json\" -Body '{}'",
                    json!({"isUsableOnce": true, "lifetimeInMinutes": 60})
                ),
            ),
            Change::RegistrationGuard { body, .. } => (
                "the user has no MFA method registered, so whoever holds the password completes the registration interrupt: a Conditional Access policy on the user action 'register security information' (urn:user:registersecurityinfo) blocking it outside trusted locations (or a Temporary Access Pass for the first registration)".to_string(),
                format!(
                    "Invoke-MgGraphRequest -Method POST -Uri \"https://graph.microsoft.com/v1.0/identity/conditionalAccess/policies\" -ContentType \"application/json\" -Body '{}'",
                    body.replace('\'', "''")
                ),
            ),
            Change::DeviceRegistrationGuard { body, .. } => (
                "a filter for devices exempts a device the password holder can register itself (a Workplace join is open to whoever holds the password): a Conditional Access policy on the user action 'register or join devices' (urn:user:registerdevice) requiring MFA".to_string(),
                format!(
                    "Invoke-MgGraphRequest -Method POST -Uri \"https://graph.microsoft.com/v1.0/identity/conditionalAccess/policies\" -ContentType \"application/json\" -Body '{}'",
                    body.replace('\'', "''")
                ),
            ),
            Change::AdfsOwaMfa => (
                format!(
                    "the AD FS access control policy of the OWA relying party trust ({}) does not require MFA: require it",
                    match sc.adfs.owa_policy {
                        AdfsPolicy::PermitEveryone => "Permit everyone",
                        AdfsPolicy::RequireMfaExtranet => "MFA from the extranet only",
                        AdfsPolicy::RequireMfaGroup => "MFA for one group only",
                        AdfsPolicy::RequireMfa => "MFA",
                    }
                ),
                adfs_owa_command(sc),
            ),
        }
    }
}

/// AD FS claims-based authentication for ECP and OWA: ECP first (OWA redirects its admins
/// there), every other method off.
const OWA_ECP_ADFS: &str = "Set-EcpVirtualDirectory -Identity \"ecp (Default Web Site)\" -AdfsAuthentication $true -BasicAuthentication $false -DigestAuthentication $false -FormsAuthentication $false -WindowsAuthentication $false; Set-OwaVirtualDirectory -Identity \"owa (Default Web Site)\" -AdfsAuthentication $true -BasicAuthentication $false -DigestAuthentication $false -FormsAuthentication $false -OAuthAuthentication $false -WindowsAuthentication $false";

fn adfs_owa_command(sc: &Scenario) -> String {
    format!(
        "Set-AdfsRelyingPartyTrust -TargetIdentifier \"https://{}/owa/\" -AccessControlPolicyName \"Permit everyone and require MFA\"",
        sc.mail_host()
    )
}

/// A PowerShell double-quoted string (`` ` `` escapes `"`, `$` and itself).
fn ps_quote(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        if matches!(c, '"' | '$' | '`') {
            out.push('`');
        }
        out.push(c);
    }
    out.push('"');
    out
}

fn users_with(sc: &Scenario, f: impl Fn(&hmasim_scenario::User) -> bool) -> String {
    let users: Vec<&str> = sc
        .users
        .iter()
        .filter(|u| f(u))
        .map(|u| u.upn.as_str())
        .collect();
    if users.is_empty() {
        "no user".into()
    } else {
        users.join(", ")
    }
}

fn exo_flag(p: &mut ExoAuthPolicy, x: MailProtocol) -> &mut bool {
    match x {
        MailProtocol::Activesync => &mut p.allow_basic_auth_activesync,
        MailProtocol::Autodiscover => &mut p.allow_basic_auth_autodiscover,
        MailProtocol::Mapi => &mut p.allow_basic_auth_mapi,
        MailProtocol::Ews => &mut p.allow_basic_auth_web_services,
        MailProtocol::Oab => &mut p.allow_basic_auth_offline_address_book,
        MailProtocol::Rpc => &mut p.allow_basic_auth_rpc,
        MailProtocol::Imap => &mut p.allow_basic_auth_imap,
        MailProtocol::Pop => &mut p.allow_basic_auth_pop,
    }
}

fn onprem_flag(p: &mut OnpremAuthPolicy, x: MailProtocol) -> &mut bool {
    match x {
        MailProtocol::Activesync => &mut p.block_legacy_auth_activesync,
        MailProtocol::Autodiscover => &mut p.block_legacy_auth_autodiscover,
        MailProtocol::Mapi => &mut p.block_legacy_auth_mapi,
        MailProtocol::Ews => &mut p.block_legacy_auth_web_services,
        MailProtocol::Oab => &mut p.block_legacy_auth_offline_address_book,
        MailProtocol::Rpc => &mut p.block_legacy_auth_rpc,
        MailProtocol::Imap => &mut p.block_legacy_auth_imap,
        MailProtocol::Pop => &mut p.block_legacy_auth_pop,
    }
}

fn exo_flag_name(x: MailProtocol) -> &'static str {
    hmasim_exchange_online::allow_flag(crate::build::wire_protocol(x))
}

fn onprem_flag_name(x: MailProtocol) -> &'static str {
    hmasim_exchange_onprem::legacy_flag(crate::build::wire_protocol(x))
}

/// The fix for one path: the change and, when the run shows a configuration object that
/// let the path through but must stay (an ActiveSync allow rule), a note naming it.
#[derive(Clone, Debug)]
pub struct Fix {
    /// The change that closes the path.
    pub change: Change,
    /// What else the admin should know about the path (the object that let it through).
    pub note: Option<String>,
}

impl Fix {
    /// The control, in words (with the note), and the command.
    pub fn describe(&self, sc: &Scenario) -> (String, String) {
        let (control, command) = self.change.describe(sc);
        match &self.note {
            Some(n) => (format!("{control} ({n})"), command),
            None => (control, command),
        }
    }
}

/// What the path's run says about how data reached the client.
struct Ran<'a> {
    /// The legacy request that reached the mailbox: protocol, credentials scheme, host.
    legacy: Option<(MailProtocol, &'static str, &'a hmasim_protocol::Message)>,
    /// Who served the data.
    served_by: Option<PartyKind>,
    /// The lines of every Conditional Access evaluation note, in order.
    ca_lines: Vec<&'a str>,
}

fn read_trace<'a>(trace: &'a Trace, client: &str) -> Ran<'a> {
    let mut legacy = None;
    let mut ca_lines = Vec::new();
    for e in &trace.events {
        let m = &e.msg;
        if m.kind == hmasim_protocol::message::Kind::Note
            && m.meta
                .summary
                .starts_with("Entra ID evaluates Conditional Access")
        {
            if let hmasim_protocol::Body::Lines(l) = &m.body {
                ca_lines.extend(l.iter().map(String::as_str));
            }
        }
        if m.kind != hmasim_protocol::message::Kind::Request
            || trace.names.get(e.from.0 as usize).map(String::as_str) != Some(client)
        {
            continue;
        }
        // An IMAP or POP session with a password is Basic to its protocol.
        let session = m.line.as_deref().map(|l| {
            (
                l.protocol().mailbox_protocol(),
                matches!(l.credential(), Some(Credential::Password { .. })),
            )
        });
        let scheme = match (
            session,
            m.header_value(&headers::AUTHORIZATION)
                .and_then(Credentials::parse),
        ) {
            (Some((_, true)), _) => "Basic",
            (Some(_), _) => continue,
            (None, Some(Credentials::Basic { .. })) => "Basic",
            (None, Some(Credentials::Negotiate(_))) => "Kerberos",
            _ => continue,
        };
        let proto = session
            .map(|(p, _)| p)
            .or_else(|| m.url.as_ref().and_then(|u| u.mailbox_protocol()))
            .and_then(|w| {
                MailProtocol::ALL
                    .into_iter()
                    .find(|p| crate::build::wire_protocol(*p) == w)
            });
        if let Some(p) = proto {
            legacy = Some((p, scheme, m));
        }
    }
    Ran {
        legacy,
        served_by: trace
            .outcome
            .served_by
            .as_deref()
            .and_then(PartyKind::from_id),
        ca_lines,
    }
}

/// The fix for a counterexample: the registration guard when the path registered MFA with
/// the password, else [`fix_for`].
pub fn fix_for_counterexample(sc: &Scenario, c: &Counterexample) -> Fix {
    if c.path.signals.registers_device {
        // verify reports a registration path only when its twin without the
        // registration is closed: the registration is what opens it.
        return device_registration_fix(sc);
    }
    if c.verdict == Verdict::RegistersMfaWithPassword {
        // The guard permits registration from trusted locations: from there only the
        // user's own registration closes the interrupt.
        let trusted: BTreeSet<String> = crate::ca_tenant(sc)
            .named_locations
            .iter()
            .filter(|n| n.trusted && c.path.signals.locations.contains(&n.name))
            .map(|n| n.name.clone())
            .collect();
        if !trusted.is_empty() || c.path.location == Location::Internal {
            let mut locations = trusted;
            if locations.is_empty() {
                locations.insert("the corporate network".into());
            }
            return Fix {
                change: Change::Registered {
                    upn: c.path.user.clone(),
                    locations,
                },
                note: None,
            };
        }
        let body = crate::verify::registration_policy_body();
        let policy = hmasim_scenario::graph::parse_graph(&body, "verify", &sc.named_locations)
            .ok()
            .and_then(|r| r.policies.into_iter().next())
            .expect("verify's registration policy reads back");
        return Fix {
            change: Change::RegistrationGuard {
                policy: Box::new(policy),
                body,
            },
            note: None,
        };
    }
    fix_for(sc, &c.path, &c.trace)
}

/// The device registration guard: a policy requiring MFA for `urn:user:registerdevice`.
pub fn device_registration_fix(sc: &Scenario) -> Fix {
    let body = crate::verify::device_registration_policy_body();
    let policy = hmasim_scenario::graph::parse_graph(&body, "verify", &sc.named_locations)
        .ok()
        .and_then(|r| r.policies.into_iter().next())
        .expect("verify's device registration policy reads back");
    Fix {
        change: Change::DeviceRegistrationGuard {
            policy: Box::new(policy),
            body,
        },
        note: None,
    }
}

/// The fix for a path that reached mailbox data without MFA, aimed at what exists in the
/// tenant: derived from `sc`'s configuration and from `trace`, the path's run.
pub fn fix_for(sc: &Scenario, path: &PathSpec, trace: &Trace) -> Fix {
    let ran = read_trace(trace, path.client.as_str());
    let user = sc
        .users
        .iter()
        .find(|u| u.upn.eq_ignore_ascii_case(&path.user));
    if let Some((proto, _scheme, req)) = ran.legacy {
        let online = ran.served_by == Some(PartyKind::ExchangeOnline)
            || req
                .url
                .as_ref()
                .is_some_and(|u| u.host.eq_ignore_ascii_case("outlook.office365.com"));
        if online {
            let change = match user
                .and_then(|u| u.authentication_policy.as_ref())
                .or(sc.exchange_online.default_authentication_policy.as_ref())
                .filter(|n| {
                    sc.exchange_online
                        .authentication_policies
                        .iter()
                        .any(|p| &p.name == *n)
                }) {
                Some(name) => Change::ExoPolicy {
                    name: name.clone(),
                    protocols: BTreeSet::from([proto]),
                },
                None => Change::ExoNewDefault {
                    name: fresh_name(
                        "Block Basic",
                        sc.exchange_online
                            .authentication_policies
                            .iter()
                            .map(|p| &p.name),
                    ),
                },
            };
            return Fix { change, note: None };
        }
        let note = (proto == MailProtocol::Activesync)
            .then(|| activesync_admission(sc, req))
            .flatten();
        let change = match user
            .and_then(|u| u.onprem_authentication_policy.as_ref())
            .or(sc.onprem.default_authentication_policy.as_ref())
            .filter(|n| {
                sc.onprem
                    .authentication_policies
                    .iter()
                    .any(|p| &p.name == *n)
            }) {
            Some(name) => Change::OnpremPolicy {
                name: name.clone(),
                protocols: BTreeSet::from([proto]),
            },
            None => Change::OnpremNewDefault {
                name: fresh_name(
                    "Block Legacy",
                    sc.onprem.authentication_policies.iter().map(|p| &p.name),
                ),
                protocols: BTreeSet::from([proto]),
            },
        };
        return Fix { change, note };
    }
    if path.client == ClientKind::Browser && ran.served_by == Some(PartyKind::ExchangeOnprem) {
        let change = if !sc.onprem.owa_adfs_claims {
            Change::OwaClaims {
                require_mfa: sc.adfs.owa_policy != AdfsPolicy::RequireMfa,
            }
        } else {
            Change::AdfsOwaMfa
        };
        return Fix { change, note: None };
    }
    ca_fix(sc, path, &ran)
}

fn fresh_name<'a>(base: &str, taken: impl Iterator<Item = &'a String> + Clone) -> String {
    (1..)
        .map(|i| {
            if i == 1 {
                base.to_string()
            } else {
                format!("{base} {i}")
            }
        })
        .find(|n| !taken.clone().any(|t| t.eq_ignore_ascii_case(n)))
        .unwrap_or_else(|| base.to_string())
}

/// The ActiveSync device access decision that admitted a Basic request, when an allow rule
/// (rather than the default level) made it: the rule, and why it stays.
fn activesync_admission(sc: &Scenario, req: &hmasim_protocol::Message) -> Option<String> {
    let query = req
        .url
        .as_ref()
        .map(hmasim_protocol::ActiveSyncQuery::parse)
        .unwrap_or_default();
    let device_type = query.device_type.as_deref().unwrap_or("");
    let model = req.header_value(&headers::X_DEVICE_MODEL).unwrap_or("");
    let agent = req.header_value(&headers::USER_AGENT).unwrap_or("");
    let rules = &sc.onprem.activesync.device_rules;
    let matching: Vec<_> = rules
        .iter()
        .filter(|r| match r.characteristic {
            DeviceCharacteristic::DeviceType => r.query.eq_ignore_ascii_case(device_type),
            DeviceCharacteristic::DeviceModel => r.query.eq_ignore_ascii_case(model),
            DeviceCharacteristic::UserAgent => r.query.eq_ignore_ascii_case(agent),
        })
        .collect();
    let allowing = matching
        .iter()
        .find(|r| r.access_level == AccessLevel::Allow)?;
    if matching
        .iter()
        .any(|r| r.access_level != AccessLevel::Allow)
        || sc.onprem.activesync.default_access_level == AccessLevel::Allow
    {
        return None;
    }
    let (ch, claimed) = match allowing.characteristic {
        DeviceCharacteristic::DeviceType => ("DeviceType", device_type),
        DeviceCharacteristic::DeviceModel => ("DeviceModel", model),
        DeviceCharacteristic::UserAgent => ("UserAgent", agent),
    };
    let stays = if allowing.query.eq_ignore_ascii_case("OutlookService") {
        "; the rule must stay: Exchange Online's MRS syncs Outlook mobile with it"
    } else {
        ""
    };
    Some(format!(
        "the ActiveSync device access rule {ch} '{}' (Allow) admitted this Basic client, which claimed {ch} '{}': the {ch} is a string the client writes, so a device access rule cannot tell an attacker from the device it names{stays}",
        allowing.query, claimed
    ))
}

/// How strongly a reason points at the policy to fix (lower first).
fn reason_rank(reason: &str) -> Option<u8> {
    let r = reason;
    Some(if r.starts_with("device platforms:") {
        1
    } else if r.starts_with("locations:") {
        2
    } else if r.starts_with("users: excluded by") {
        3
    } else if r.starts_with("client apps:") {
        4
    } else if r.starts_with("applications:") {
        5
    } else if r.starts_with("users:") {
        6
    } else if r.starts_with("devices:") {
        7
    } else {
        return None;
    })
}

fn state_name(s: CaState) -> &'static str {
    match s {
        CaState::Enabled => "enabled",
        CaState::Disabled => "disabled",
        CaState::ReportOnly => "report-only",
    }
}

/// What Entra ID knew of the path's sign-in, from its pinned signals (the platform's sample
/// User-Agent when the client sent its own).
fn path_facts(sc: &Scenario, path: &PathSpec) -> Option<hmasim_entra_id::ca::SignInFacts> {
    let s = &path.signals;
    let client_app = ClientAppType::ALL
        .into_iter()
        .find(|t| t.as_str() == s.client_app)?;
    let ua = s.user_agent.clone().or_else(|| {
        DevicePlatform::parse(&s.platform)
            .map(|p| hmasim_entra_id::ca::sample_user_agent(p).to_string())
    });
    Some(crate::ca_tenant(sc).facts(&hmasim_entra_id::ca::SignIn {
        upn: &path.user,
        address: Some(s.address),
        user_agent: ua.as_deref(),
        client_app,
        app_id: apps::EXCHANGE_ONLINE,
        device_credential: None,
        registered: None,
        auth_flow: None,
    }))
}

/// The Conditional Access fix for a modern path: the MFA policy the evaluation note shows
/// not applying (or only reporting), patched where it let the path through; a new policy
/// when no MFA policy exists.
fn ca_fix(sc: &Scenario, path: &PathSpec, ran: &Ran<'_>) -> Fix {
    type Best = ((usize, u8, usize), CaPolicy, String, BTreeSet<String>);
    let mut best: Option<Best> = None;
    let facts = path_facts(sc, path);
    for (i, p) in sc.conditional_access.iter().enumerate() {
        if p.state == CaState::Disabled || !p.grant.contains(&GrantControl::Mfa) {
            continue;
        }
        let head = format!("{} [{}]: ", p.name, state_name(p.state));
        for line in ran.ca_lines.iter().filter_map(|l| l.strip_prefix(&head)) {
            let (applies, rest) = if let Some(r) = line.strip_prefix("applies (") {
                (true, r)
            } else if let Some(r) = line.strip_prefix("does not apply (") {
                (false, r)
            } else {
                continue;
            };
            let reason = rest
                .rfind(") -> ")
                .map(|i| &rest[..i])
                .unwrap_or_else(|| rest.strip_suffix(')').unwrap_or(rest));
            let candidate = if applies && p.state == CaState::ReportOnly {
                let mut q = p.clone();
                q.state = CaState::Enabled;
                Some((
                    0,
                    q,
                    "it is report-only, so it never enforces MFA: turn it on".to_string(),
                    BTreeSet::new(),
                ))
            } else if !applies {
                reason_rank(reason).and_then(|rank| {
                    patch_for(sc, p, reason, &path.user)
                        .map(|(q, what, seen)| (rank, q, what, seen))
                })
            } else {
                None
            };
            let Some((rank, mut q, what, mut seen)) = candidate else {
                continue;
            };
            // The note names the first condition that failed; later ones hide behind it.
            // The patched policy must apply to this sign-in's facts, patched further if
            // needed; the candidate needing the fewest changes wins.
            let mut whats = vec![what];
            if let Some(f) = &facts {
                let mut applies = false;
                for _ in 0..4 {
                    let r = hmasim_entra_id::ca::evaluate_policy(&q, f);
                    if r.applies {
                        applies = true;
                        break;
                    }
                    match patch_for(sc, &q, &r.reason, &path.user) {
                        Some((next, w, more)) => {
                            q = next;
                            whats.push(w);
                            seen.extend(more);
                        }
                        None => break,
                    }
                }
                if !applies {
                    continue;
                }
            }
            let key = (whats.len(), rank, i);
            if best.as_ref().is_none_or(|b| key < b.0) {
                best = Some((key, q, whats.join("; and "), seen));
            }
        }
    }
    if let Some(((_, _, index), policy, what, seen)) = best {
        let body = patch_body(sc, &sc.conditional_access[index], &policy).to_string();
        return Fix {
            change: Change::CaPatch {
                index,
                policy: Box::new(policy),
                what,
                seen,
                body,
            },
            note: None,
        };
    }
    let (name, app_type) = if path.client == ClientKind::Browser {
        (
            "Exchange Online: require MFA for browsers",
            ClientAppType::Browser,
        )
    } else {
        (
            "Exchange Online: require MFA for mobile apps and desktop clients",
            ClientAppType::MobileAppsAndDesktopClients,
        )
    };
    let mut policy = CaPolicy::new(name, vec![GrantControl::Mfa]);
    policy.include_applications = vec![apps::EXCHANGE_ONLINE.to_string()];
    policy.client_app_types = vec![app_type];
    policy.operator = hmasim_protocol::policy::Operator::Or;
    let body = crate::verify::ca_mfa_body(name, app_type.as_str());
    Fix {
        change: Change::CaNew {
            policy: Box::new(policy),
            body,
        },
        note: None,
    }
}

/// The policy changed so the condition in `reason` no longer lets the sign-in through, and
/// what the change does.
fn patch_for(
    sc: &Scenario,
    p: &CaPolicy,
    reason: &str,
    upn: &str,
) -> Option<(CaPolicy, String, BTreeSet<String>)> {
    patch_for_inner(sc, p, reason, upn).map(|(q, what, seen)| (q, what, seen.into_iter().collect()))
}

fn patch_for_inner(
    sc: &Scenario,
    p: &CaPolicy,
    reason: &str,
    upn: &str,
) -> Option<(CaPolicy, String, Option<String>)> {
    let mut q = p.clone();
    let deliberate = "; if the exclusion is deliberate (a break-glass account), accept the finding with --accept";
    if let Some(r) = reason.strip_prefix("device platforms: ") {
        let platform = r.split(' ').next().unwrap_or("");
        if r.ends_with("is not included") {
            q.include_platforms = vec![DevicePlatform::All];
            return Some((q, format!(
                "its device platforms ({}) miss {{seen}}, and the platform comes from the User-Agent the client writes: include all platforms",
                p.include_platforms.iter().map(|d| d.as_str()).collect::<Vec<_>>().join(", ")
            ), Some(platform.to_string())));
        }
        let d = DevicePlatform::parse(platform)?;
        q.exclude_platforms.retain(|x| *x != d);
        return Some((q, format!(
            "it excludes the platform {platform}, which the client claims in its User-Agent: remove the exclusion"
        ), None));
    }
    if let Some(r) = reason.strip_prefix("locations: ") {
        if r.ends_with("is not included") {
            q.include_locations = vec!["All".into()];
            return Some((
                q,
                "its locations condition leaves this source address out: include all locations"
                    .into(),
                None,
            ));
        }
        let trusted = r.contains("trusted location");
        let hit: Vec<String> = p
            .exclude_locations
            .iter()
            .filter(|l| {
                l.as_str() == "All"
                    || (l.as_str() == "AllTrusted" && trusted)
                    || (l.as_str() != "AllTrusted" && r.contains(l.as_str()))
            })
            .cloned()
            .collect();
        if hit.is_empty() {
            return None;
        }
        q.exclude_locations.retain(|l| !hit.contains(l));
        return Some((q, format!(
            "its exclusion of the location {} lets this sign-in through ({r}): remove the exclusion{deliberate}",
            hit.join(", ")
        ), None));
    }
    if let Some(x) = reason.strip_prefix("users: excluded by ") {
        let (what, list, entry) = if let Some(g) = x.strip_prefix("group ") {
            ("group", &mut q.exclude_groups, g)
        } else if let Some(r) = x.strip_prefix("role ") {
            ("role", &mut q.exclude_roles, r)
        } else {
            ("user entry", &mut q.exclude_users, x)
        };
        list.retain(|e| !e.eq_ignore_ascii_case(entry));
        return Some((q, format!(
            "its exclusion of the {what} '{entry}' lets {upn} through: remove the exclusion{deliberate}"
        ), None));
    }
    if let Some(r) = reason.strip_prefix("client apps: ") {
        let t = ClientAppType::ALL
            .into_iter()
            .find(|t| r.starts_with(&format!("{} ", t.as_str())))?;
        q.client_app_types.push(t);
        return Some((
            q,
            format!("its client app types miss {}: add it", t.as_str()),
            None,
        ));
    }
    if reason.starts_with("applications: ") {
        if reason.ends_with("is not included") {
            q.include_applications
                .push(apps::EXCHANGE_ONLINE.to_string());
            return Some((
                q,
                "it does not include Office 365 Exchange Online: include it".into(),
                None,
            ));
        }
        let by = reason.rsplit(" is excluded by ").next()?;
        q.exclude_applications.retain(|a| a != by);
        return Some((
            q,
            format!("it excludes the application {by}: remove the exclusion"),
            None,
        ));
    }
    if reason.starts_with("devices: ") {
        // The device the path presented (none, for a password holder's sign-in) is left
        // out by the filter: an unregistered device has every attribute null, so a
        // positive operator never matches it in include mode, and an exclude filter names
        // the device it exempts.
        let f = p.device_filter.as_ref()?;
        q.device_filter = None;
        return Some((
            q,
            format!(
                "its filter for devices ({} {}) leaves this sign-in's device out ({}); a device without a registration has every attribute null: remove the filter (or write it so that an unregistered device is in scope: negative operators in include mode){deliberate}",
                match f.mode {
                    hmasim_protocol::device::FilterMode::Include => "include",
                    hmasim_protocol::device::FilterMode::Exclude => "exclude",
                },
                f.rule.text(),
                reason.trim_start_matches("devices: ")
            ),
            None,
        ));
    }
    if reason.ends_with("is not included") && reason.starts_with("users: ") {
        let _ = sc;
        // A policy scoped by groups, roles or guest types is a persona's policy (the
        // contractors', the admins'): putting one more user in it is not the fix an admin
        // would make, so such a policy is no candidate and a policy of its own is offered.
        let by_persona = !(p.include_groups.is_empty()
            && p.include_roles.is_empty()
            && p.include_guests.is_empty());
        if by_persona && !p.include_users.iter().any(|u| u.contains('@')) {
            return None;
        }
        q.include_users.push(upn.to_string());
        return Some((
            q,
            format!("it does not include {upn}: include the user"),
            None,
        ));
    }
    None
}

/// Graph's location ids for hmasim's location entries.
fn location_ids(sc: &Scenario, list: &[String]) -> Vec<String> {
    list.iter()
        .map(|l| {
            sc.named_locations
                .iter()
                .find(|n| n.name.eq_ignore_ascii_case(l))
                .map(|n| n.id.clone())
                .unwrap_or_else(|| l.clone())
        })
        .collect()
}

/// The Graph PATCH body that turns `before` into `after`: each changed part of the
/// policy written whole (a `conditions` sub-object, or the state).
fn patch_body(sc: &Scenario, before: &CaPolicy, after: &CaPolicy) -> Value {
    let mut body = serde_json::Map::new();
    let mut cond = serde_json::Map::new();
    if before.state != after.state {
        body.insert("state".into(), json!(after.state.as_str()));
    }
    let users_changed = before.include_users != after.include_users
        || before.exclude_users != after.exclude_users
        || before.include_groups != after.include_groups
        || before.exclude_groups != after.exclude_groups
        || before.include_roles != after.include_roles
        || before.exclude_roles != after.exclude_roles;
    if users_changed {
        let split = |list: &[String]| -> (Vec<String>, Vec<String>) {
            let mut users = Vec::new();
            let mut groups = Vec::new();
            for e in list {
                match e.strip_prefix("group:") {
                    Some(g) => groups.push(g.to_string()),
                    None => users.push(e.clone()),
                }
            }
            (users, groups)
        };
        let (iu, mut ig) = split(&after.include_users);
        let (xu, mut xg) = split(&after.exclude_users);
        ig.extend(after.include_groups.iter().cloned());
        xg.extend(after.exclude_groups.iter().cloned());
        cond.insert(
            "users".into(),
            json!({
                "includeUsers": iu, "excludeUsers": xu,
                "includeGroups": ig, "excludeGroups": xg,
                "includeRoles": after.include_roles, "excludeRoles": after.exclude_roles,
            }),
        );
    }
    if before.include_applications != after.include_applications
        || before.exclude_applications != after.exclude_applications
    {
        cond.insert(
            "applications".into(),
            json!({"includeApplications": after.include_applications, "excludeApplications": after.exclude_applications}),
        );
    }
    if before.client_app_types != after.client_app_types {
        let types: Vec<&str> = after.client_app_types.iter().map(|t| t.as_str()).collect();
        cond.insert("clientAppTypes".into(), json!(types));
    }
    if before.include_platforms != after.include_platforms
        || before.exclude_platforms != after.exclude_platforms
    {
        let f = |l: &[DevicePlatform]| l.iter().map(|d| d.as_str()).collect::<Vec<_>>();
        cond.insert(
            "platforms".into(),
            json!({"includePlatforms": f(&after.include_platforms), "excludePlatforms": f(&after.exclude_platforms)}),
        );
    }
    if before.include_locations != after.include_locations
        || before.exclude_locations != after.exclude_locations
    {
        let value = if after.include_locations.is_empty() && after.exclude_locations.is_empty() {
            Value::Null
        } else {
            let include = if after.include_locations.is_empty() {
                vec!["All".to_string()]
            } else {
                location_ids(sc, &after.include_locations)
            };
            json!({"includeLocations": include, "excludeLocations": location_ids(sc, &after.exclude_locations)})
        };
        cond.insert("locations".into(), value);
    }
    if before.device_filter != after.device_filter {
        cond.insert(
            "devices".into(),
            match &after.device_filter {
                None => json!({"deviceFilter": null}),
                Some(f) => json!({"deviceFilter": f}),
            },
        );
    }
    if !cond.is_empty() {
        body.insert("conditions".into(), Value::Object(cond));
    }
    Value::Object(body)
}

fn ca_patch_command(p: &CaPolicy, body: &str) -> String {
    let body = body.replace('\'', "''");
    match &p.id {
        Some(id) => format!(
            "Invoke-MgGraphRequest -Method PATCH -Uri \"https://graph.microsoft.com/v1.0/identity/conditionalAccess/policies/{id}\" -ContentType \"application/json\" -Body '{body}'"
        ),
        None => {
            let odata = p.name.replace('\'', "''");
            format!(
                "$policy = Get-MgIdentityConditionalAccessPolicy -Filter {}; Invoke-MgGraphRequest -Method PATCH -Uri \"https://graph.microsoft.com/v1.0/identity/conditionalAccess/policies/$($policy.Id)\" -ContentType \"application/json\" -Body '{body}'",
                ps_quote(&format!("displayName eq '{odata}'")).replace("`$", "$")
            )
        }
    }
}

/// The signals a counterexample pins, by name: the location, and each signal the password
/// holder set to something other than the client's own (with what Entra derives from it),
/// the epoch when it is not the first, and a missing MFA registration.
pub fn signals(c: &Counterexample) -> BTreeMap<String, String> {
    let p = &c.path;
    let s = &p.signals;
    let mut m = BTreeMap::from([("location".to_string(), p.location.as_str().to_string())]);
    if let Some(ua) = &s.user_agent {
        m.insert("user_agent".into(), ua.clone());
        m.insert("platform".into(), s.platform.clone());
    }
    if let Some(a) = s.source_address {
        m.insert("source_address".into(), a.to_string());
        if !s.locations.is_empty() {
            m.insert("named_locations".into(), s.locations.join(", "));
        }
    }
    if let Some(d) = &s.device_type {
        m.insert("device_type".into(), d.clone());
    }
    if let Some(d) = &s.device_model {
        m.insert("device_model".into(), d.clone());
    }
    if !s.mfa_registered {
        m.insert("registration".into(), "unregistered".into());
    }
    if s.registers_device {
        m.insert(
            "device_registration".into(),
            match &s.device_name {
                None => "registers a device".into(),
                Some(n) => format!("registers a device named {n}"),
            },
        );
    }
    if c.epoch > 0 || p.continued {
        m.insert(
            "epoch".into(),
            format!(
                "{}{}",
                c.epoch,
                if p.continued { " (continued)" } else { "" }
            ),
        );
    }
    m
}

/// Every value an exception's selector can compare, whether pinned or the client's own.
fn facts(c: &Counterexample) -> BTreeMap<&'static str, Vec<String>> {
    let p = &c.path;
    let s = &p.signals;
    let mut addr = vec![s.address.to_string()];
    addr.extend(s.locations.iter().cloned());
    BTreeMap::from([
        ("location", vec![p.location.as_str().to_string()]),
        ("platform", vec![s.platform.clone()]),
        ("user_agent", s.user_agent.iter().cloned().collect()),
        ("source_address", addr),
        ("client_app_type", vec![s.client_app.to_string()]),
        ("device_type", s.device_type.iter().cloned().collect()),
        ("device_model", s.device_model.iter().cloned().collect()),
        (
            "registration",
            vec![if s.mfa_registered {
                "registered"
            } else {
                "unregistered"
            }
            .to_string()],
        ),
    ])
}

/// The paths of one user, client and method within a group.
#[derive(Clone, Debug, Serialize)]
pub struct PathClass {
    /// The user.
    pub user: String,
    /// The client kind.
    pub client: &'static str,
    /// How it authenticates.
    pub method: Method,
    /// How the paths ended (`MAILBOX WITHOUT MFA`, `REGISTERS MFA WITH ONLY THE PASSWORD`).
    pub outcome: &'static str,
    /// The minimal counterexamples: the paths of the class whose pinned signals contain
    /// no other path's (one, when one pins a subset of every other's), deduplicated.
    pub minimal: Vec<BTreeMap<String, String>>,
    /// Every value each signal takes across the class (`own` where a path leaves the
    /// signal at the client's own value).
    pub signals: BTreeMap<String, Vec<String>>,
    /// The counterexamples in the class (indices into `Verification::counterexamples`).
    #[serde(skip)]
    pub members: Vec<usize>,
}

fn classes(v: &Verification, members: &[usize]) -> Vec<PathClass> {
    let mut by: BTreeMap<(String, &'static str, Method, &'static str), Vec<usize>> =
        BTreeMap::new();
    for &i in members {
        let c = &v.counterexamples[i];
        let p = &c.path;
        by.entry((
            p.user.clone(),
            p.client.as_str(),
            p.method,
            c.verdict.label(),
        ))
        .or_default()
        .push(i);
    }
    by.into_iter()
        .map(|((user, client, method, outcome), members)| {
            let sigs: Vec<BTreeMap<String, String>> = members
                .iter()
                .map(|&i| signals(&v.counterexamples[i]))
                .collect();
            let subset = |a: &BTreeMap<String, String>, b: &BTreeMap<String, String>| {
                a.iter().all(|(k, x)| b.get(k) == Some(x))
            };
            let mut minimal: Vec<BTreeMap<String, String>> = Vec::new();
            for a in &sigs {
                let strictly_smaller = sigs.iter().any(|b| b.len() < a.len() && subset(b, a));
                if !strictly_smaller && !minimal.contains(a) {
                    minimal.push(a.clone());
                }
            }
            let mut signals: BTreeMap<String, Vec<String>> = BTreeMap::new();
            for s in &sigs {
                for (k, x) in s {
                    let e = signals.entry(k.clone()).or_default();
                    if !e.contains(x) {
                        e.push(x.clone());
                    }
                }
            }
            for (k, e) in signals.iter_mut() {
                if sigs.iter().any(|s| !s.contains_key(k)) {
                    e.push("own".into());
                }
            }
            PathClass {
                user,
                client,
                method,
                outcome,
                minimal,
                signals,
                members,
            }
        })
        .collect()
}

/// One control and every path it closes.
#[derive(Clone, Debug)]
pub struct Finding {
    /// The control, in words.
    pub control: String,
    /// The command that sets it.
    pub command: String,
    /// The change, for re-verification.
    pub change: Change,
    /// How many paths it closes.
    pub closes: usize,
    /// The paths, by class.
    pub classes: Vec<PathClass>,
    /// The finding's class: single-factor whatever the risk, or only when Identity
    /// Protection detects no risk.
    pub class: FindingClass,
    /// For [`FindingClass::MfaOnlyIfRiskDetected`]: the detected risks that close the
    /// paths (`sign-in risk high`...).
    pub closed_at_risk: BTreeSet<String>,
}

/// What kind of finding: how sure the password holder is to get in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FindingClass {
    /// The password alone gets in, whatever risk Entra ID Protection scores.
    SingleFactor,
    /// "MFA only if risk is detected": the password alone gets in when Identity
    /// Protection detects no risk (as it often does not, for a password holder signing
    /// in from an ordinary place); a risk-based policy closes the path only at a detected
    /// level. The fix does not depend on risk.
    MfaOnlyIfRiskDetected,
}

impl FindingClass {
    /// The JSON spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            FindingClass::SingleFactor => "single_factor",
            FindingClass::MfaOnlyIfRiskDetected => "mfa_only_if_risk_detected",
        }
    }
}

/// Paths accepted by one exception.
#[derive(Clone, Debug)]
pub struct Accepted {
    /// The exception.
    pub exception: Exception,
    /// The control that would close them, and its command.
    pub control: String,
    /// The command.
    pub command: String,
    /// The paths, by class.
    pub classes: Vec<PathClass>,
}

/// An exception that needs the admin's attention.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Stale {
    /// Past its expiry date: it accepts nothing (it would match this many paths).
    Expired(Exception, usize),
    /// It matches no path without MFA.
    Unmatched(Exception),
}

/// A user's verdict.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum UserState {
    /// No path of the user reaches mailbox data without MFA (accepted ones aside), and
    /// nothing unmodelled could change that.
    Clean,
    /// A path reaches mailbox data without MFA.
    NotClean,
    /// No path does, but a policy that can apply to the user has conditions hmasim does not
    /// model.
    NotProven,
}

/// One user's verdict.
#[derive(Clone, Debug, Serialize)]
pub struct UserVerdict {
    /// The user.
    pub user: String,
    /// The verdict.
    pub verdict: UserState,
    /// Paths explored.
    pub paths: usize,
    /// Paths without MFA not accepted.
    pub open: usize,
    /// Paths without MFA accepted.
    pub accepted: usize,
}

/// Everything verify reports to the admin, derived from a [`Verification`].
#[derive(Clone, Debug)]
pub struct Report {
    /// Each user's verdict, in the scenario's order.
    pub users: Vec<UserVerdict>,
    /// The findings, largest group first.
    pub findings: Vec<Finding>,
    /// The accepted paths, by exception.
    pub accepted: Vec<Accepted>,
    /// Expired and unmatched exceptions.
    pub stale: Vec<Stale>,
    /// The verdict.
    pub verdict: Overall,
    /// The day exceptions were judged on.
    pub today: Option<Date>,
}

/// Whether `e`, for `user`, selects the path of `c` (explored for `user`'s class).
fn matches_for(e: &Exception, user: &str, c: &Counterexample) -> bool {
    let f = facts(c);
    e.user.eq_ignore_ascii_case(user)
        && e.client.is_none_or(|k| k == c.path.client)
        && e.method
            .as_deref()
            .is_none_or(|m| Method::parse(m) == Some(c.path.method))
        && e.signals.pinned().iter().all(|(k, x)| {
            f.get(*k)
                .is_some_and(|vs| vs.iter().any(|y| y.eq_ignore_ascii_case(x)))
        })
}

/// The users a path explored for `representative` stands for (its user class).
fn members_of<'a>(v: &'a Verification, representative: &'a str) -> Vec<&'a str> {
    v.user_classes
        .iter()
        .find(|c| c.representative.eq_ignore_ascii_case(representative))
        .map(|c| c.members.iter().map(String::as_str).collect())
        .unwrap_or_else(|| vec![representative])
}

/// The representative whose paths stand for `upn`.
fn representative_of<'a>(v: &'a Verification, upn: &'a str) -> &'a str {
    v.user_classes
        .iter()
        .find(|c| c.members.iter().any(|m| m.eq_ignore_ascii_case(upn)))
        .map(|c| c.representative.as_str())
        .unwrap_or(upn)
}

/// Builds the report: every counterexample's fix, grouped; exceptions applied on `today`
/// (required when `exceptions` is not empty; an exception holds through its expiry day).
pub fn report(
    sc: &Scenario,
    v: &Verification,
    exceptions: &[Exception],
    today: Option<Date>,
) -> Report {
    let live = |e: &Exception| today.is_some_and(|t| !e.expired(t));
    // The first live exception that accepts a path for one user.
    let accepts = |user: &str, c: &Counterexample| {
        exceptions
            .iter()
            .position(|e| live(e) && matches_for(e, user, c))
    };
    // A path explored for a user class is accepted when it is accepted for every member
    // (each user's verdict below counts it per member).
    let accepted_by: Vec<Option<usize>> = v
        .counterexamples
        .iter()
        .map(|c| {
            let per: Vec<Option<usize>> = members_of(v, &c.path.user)
                .into_iter()
                .map(|m| accepts(m, c))
                .collect();
            per.iter().all(Option::is_some).then(|| per[0]).flatten()
        })
        .collect();
    let used: BTreeSet<usize> = v
        .counterexamples
        .iter()
        .flat_map(|c| {
            members_of(v, &c.path.user)
                .into_iter()
                .filter_map(|m| accepts(m, c))
                .collect::<Vec<_>>()
        })
        .collect();
    let fixes: Vec<Fix> = v
        .counterexamples
        .iter()
        .map(|c| fix_for_counterexample(sc, c))
        .collect();
    // Groups of open paths, by the change's key; changes of one key merge.
    let mut groups: Vec<(String, Fix, Vec<usize>)> = Vec::new();
    let mut notes: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (i, f) in fixes.iter().enumerate() {
        if accepted_by[i].is_some() {
            continue;
        }
        let class = if v.counterexamples[i].closed_at_risk.is_some() {
            FindingClass::MfaOnlyIfRiskDetected
        } else {
            FindingClass::SingleFactor
        };
        let key = format!("{} {}", class.as_str(), f.change.key());
        if let Some(n) = &f.note {
            notes.entry(key.clone()).or_default().insert(n.clone());
        }
        match groups.iter_mut().find(|g| g.0 == key) {
            Some(g) => {
                g.1.change.merge(&f.change);
                g.2.push(i);
            }
            None => groups.push((key, f.clone(), vec![i])),
        }
    }
    let mut findings: Vec<Finding> = groups
        .into_iter()
        .map(|(key, mut fix, members)| {
            fix.note = notes
                .get(&key)
                .map(|n| n.iter().cloned().collect::<Vec<_>>().join("; "));
            let (control, command) = fix.describe(sc);
            let closed_at_risk: BTreeSet<String> = members
                .iter()
                .filter_map(|i| v.counterexamples[*i].closed_at_risk)
                .map(|r| r.describe())
                .collect();
            Finding {
                control,
                command,
                change: fix.change,
                closes: members.len(),
                classes: classes(v, &members),
                class: if closed_at_risk.is_empty() {
                    FindingClass::SingleFactor
                } else {
                    FindingClass::MfaOnlyIfRiskDetected
                },
                closed_at_risk,
            }
        })
        .collect();
    findings.sort_by(|a, b| {
        a.class
            .cmp(&b.class)
            .then(b.closes.cmp(&a.closes))
            .then(a.control.cmp(&b.control))
    });
    let mut accepted = Vec::new();
    for (ei, e) in exceptions.iter().enumerate() {
        let mut by_fix: Vec<(String, Vec<usize>)> = Vec::new();
        for (i, a) in accepted_by.iter().enumerate() {
            if *a == Some(ei) {
                let (control, _) = fixes[i].describe(sc);
                match by_fix.iter_mut().find(|g| g.0 == control) {
                    Some(g) => g.1.push(i),
                    None => by_fix.push((control, vec![i])),
                }
            }
        }
        for (_, members) in by_fix {
            let (control, command) = fixes[members[0]].describe(sc);
            accepted.push(Accepted {
                exception: e.clone(),
                control,
                command,
                classes: classes(v, &members),
            });
        }
    }
    let stale = exceptions
        .iter()
        .enumerate()
        .filter_map(|(ei, e)| {
            if !live(e) {
                let would = v
                    .counterexamples
                    .iter()
                    .filter(|c| {
                        members_of(v, &c.path.user)
                            .into_iter()
                            .any(|m| matches_for(e, m, c))
                    })
                    .count();
                Some(Stale::Expired(e.clone(), would))
            } else if !used.contains(&ei) {
                Some(Stale::Unmatched(e.clone()))
            } else {
                None
            }
        })
        .collect();
    // Users verify explored (all of them, or the one `--user` names).
    let users = sc
        .users
        .iter()
        .filter(|u| {
            let rep = representative_of(v, &u.upn);
            v.paths.iter().any(|p| p.path.user == rep)
        })
        .map(|u| {
            // A user's paths are its class representative's.
            let rep = representative_of(v, &u.upn);
            let mine = |i: &usize| v.counterexamples[*i].path.user == rep;
            let all: Vec<usize> = (0..v.counterexamples.len()).filter(mine).collect();
            let acc = all
                .iter()
                .filter(|i| accepts(&u.upn, &v.counterexamples[**i]).is_some())
                .count();
            let open = all.len() - acc;
            let verdict = if open > 0 {
                UserState::NotClean
            } else if v
                .paths
                .iter()
                .any(|p| p.path.user == rep && !p.not_proven.is_empty())
            {
                UserState::NotProven
            } else {
                UserState::Clean
            };
            UserVerdict {
                user: u.upn.clone(),
                verdict,
                paths: v.paths.iter().filter(|p| p.path.user == rep).count(),
                open,
                accepted: acc,
            }
        })
        .collect();
    let verdict = if !findings.is_empty() {
        Overall::NotClean
    } else if !v.not_proven.is_empty() {
        Overall::NotProven
    } else {
        Overall::Clean
    };
    Report {
        users,
        findings,
        accepted,
        stale,
        verdict,
        today,
    }
}

fn class_line(c: &PathClass) -> String {
    let more = c.members.len() - c.minimal.len().min(c.members.len());
    let sigs = if c.minimal.len() <= 3 {
        let list: Vec<String> = c.minimal.iter().map(fmt_signals).collect();
        let mut out = format!("minimal: {}", list.join(" or "));
        if more > 0 {
            let _ = write!(out, "; {more} more path(s) pin more signals");
        }
        out
    } else {
        c.signals
            .iter()
            .map(|(k, vs)| format!("{k}: {}", vs.join(" | ")))
            .collect::<Vec<_>>()
            .join(", ")
    };
    format!(
        "{} on {}, {}: {} [{}]",
        esc(&c.user),
        c.client,
        c.method,
        c.outcome,
        esc(&sigs)
    )
}

fn fmt_signals(m: &BTreeMap<String, String>) -> String {
    m.iter()
        .map(|(k, x)| format!("{k}: {x}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn served_line(t: &Trace) -> Option<String> {
    let last = t.events.iter().rev().find(|e| e.msg.carries_mailbox())?;
    Some(format!(
        "served: event {} {} -> {}: {}",
        last.seq,
        esc(&t.names[last.from.0 as usize]),
        esc(&t.names[last.to.0 as usize]),
        esc(&last.msg.meta.summary)
    ))
}

impl Report {
    /// Whether verify exits 1: a finding not accepted, or something not proven.
    pub fn fails(&self) -> bool {
        self.verdict != Overall::Clean
    }

    /// The per-user verdicts, findings, accepted findings and stale exceptions as text.
    pub fn to_text(&self, v: &Verification) -> String {
        let mut s = String::new();
        let _ = writeln!(s, "per user:");
        for u in &self.users {
            let what = match u.verdict {
                UserState::Clean => format!("clean ({} paths)", u.paths),
                UserState::NotClean => {
                    format!("NOT CLEAN: {} of {} paths without MFA", u.open, u.paths)
                }
                UserState::NotProven => format!("NOT PROVEN ({} paths)", u.paths),
            };
            let acc = if u.accepted > 0 {
                format!(", {} accepted", u.accepted)
            } else {
                String::new()
            };
            let _ = writeln!(s, "  {:<28} {what}{acc}", esc(&u.user));
        }
        let ordinary = self
            .findings
            .iter()
            .filter(|f| f.class == FindingClass::SingleFactor)
            .count();
        if !self.findings.is_empty() {
            let total: usize = self.findings.iter().map(|f| f.closes).sum();
            let _ = writeln!(
                s,
                "\nFINDINGS: {total} path(s) reach mailbox content without MFA; {} control(s) close them",
                self.findings.len()
            );
            for (n, f) in self.findings.iter().enumerate() {
                if n == ordinary {
                    let _ = writeln!(
                        s,
                        "\nMFA ONLY IF RISK IS DETECTED: {} path(s) reach mailbox content with only the password when Entra ID Protection detects no risk; a risk-based policy closes them only at a detected level, and a password holder signing in from an ordinary place is often scored low or not at all",
                        self.findings[n..].iter().map(|f| f.closes).sum::<usize>()
                    );
                }
                let _ = writeln!(
                    s,
                    "\n{}. closing this closes {} path(s): {}",
                    n + 1,
                    f.closes,
                    esc(&f.control)
                );
                if !f.closed_at_risk.is_empty() {
                    let _ = writeln!(
                        s,
                        "   closed only at: {}",
                        esc(&f
                            .closed_at_risk
                            .iter()
                            .cloned()
                            .collect::<Vec<_>>()
                            .join("; "))
                    );
                }
                let _ = writeln!(s, "   command: {}", esc(&f.command));
                for c in &f.classes {
                    let _ = writeln!(s, "   - {}", class_line(c));
                    if let Some(line) = served_line(&v.counterexamples[c.members[0]].trace) {
                        let _ = writeln!(s, "     {line}");
                    }
                }
            }
            let _ = writeln!(
                s,
                "\n   traces: hmasim verify ... --format json (findings[].paths[].trace)"
            );
        }
        if !self.accepted.is_empty() {
            let _ = writeln!(
                s,
                "\nACCEPTED (exceptions of --accept, not counted against the tenant):"
            );
            for a in &self.accepted {
                let e = &a.exception;
                let _ = writeln!(
                    s,
                    "  - {} ({}, expires {}): \"{}\"",
                    esc(&e.user),
                    esc(&e.at),
                    e.expires,
                    esc(&e.justification)
                );
                for c in &a.classes {
                    let _ = writeln!(s, "      {}", class_line(c));
                }
                let _ = writeln!(s, "      would be closed by: {}", esc(&a.control));
            }
        }
        if !self.stale.is_empty() {
            let _ = writeln!(s, "\nEXCEPTIONS TO REVIEW:");
            for st in &self.stale {
                match st {
                    Stale::Expired(e, n) => {
                        let _ = writeln!(
                            s,
                            "  - {} ({}): EXPIRED on {} (today {}): it accepts nothing; it would match {n} path(s)",
                            esc(&e.user),
                            esc(&e.at),
                            e.expires,
                            self.today.map(|d| d.to_string()).unwrap_or_default()
                        );
                    }
                    Stale::Unmatched(e) => {
                        let _ = writeln!(
                            s,
                            "  - {} ({}): matches no path without MFA: remove it",
                            esc(&e.user),
                            esc(&e.at)
                        );
                    }
                }
            }
        }
        s
    }

    /// The report's fields of `hmasim-verify/2`: `findings`, `accepted`, `exceptions` and
    /// `users` (each path keeps its trace in the `hmasim-trace/1` shape).
    pub fn to_json(
        &self,
        v: &Verification,
        path_json: impl Fn(&Counterexample) -> Value,
    ) -> serde_json::Map<String, Value> {
        let path = |i: usize| path_json(&v.counterexamples[i]);
        let classes_json = |cs: &[PathClass]| -> Value {
            cs.iter()
                .map(|c| {
                    json!({
                        "user": c.user, "client": c.client, "method": c.method,
                        "outcome": c.outcome, "minimal": c.minimal, "signals": c.signals,
                        "paths": c.members.len(),
                    })
                })
                .collect()
        };
        let findings: Vec<Value> = self
            .findings
            .iter()
            .map(|f| {
                json!({
                    "class": f.class.as_str(),
                    "closed_at_risk": f.closed_at_risk,
                    "control": f.control,
                    "closes": f.closes,
                    "command": f.command,
                    "classes": classes_json(&f.classes),
                    "paths": f.classes.iter().flat_map(|c| c.members.iter().map(|&i| path(i))).collect::<Vec<_>>(),
                })
            })
            .collect();
        let accepted: Vec<Value> = self
            .accepted
            .iter()
            .map(|a| {
                json!({
                    "user": a.exception.user,
                    "justification": a.exception.justification,
                    "expires": a.exception.expires,
                    "at": a.exception.at,
                    "control": a.control,
                    "command": a.command,
                    "classes": classes_json(&a.classes),
                    "paths": a.classes.iter().flat_map(|c| c.members.iter().map(|&i| path(i))).collect::<Vec<_>>(),
                })
            })
            .collect();
        let stale: Vec<Value> = self
            .stale
            .iter()
            .map(|st| match st {
                Stale::Expired(e, n) => json!({
                    "status": "expired", "user": e.user, "at": e.at,
                    "expires": e.expires, "justification": e.justification, "would_match": n,
                }),
                Stale::Unmatched(e) => json!({
                    "status": "unmatched", "user": e.user, "at": e.at,
                    "expires": e.expires, "justification": e.justification,
                }),
            })
            .collect();
        let mut m = serde_json::Map::new();
        m.insert("users".into(), json!(self.users));
        m.insert("findings".into(), Value::Array(findings));
        m.insert("accepted".into(), Value::Array(accepted));
        m.insert("exceptions".into(), Value::Array(stale));
        m.insert("today".into(), json!(self.today));
        m
    }
}
