//! `hmasim verify`: every way a user can reach mailbox content, explored by simulation.
//!
//! For each user, each client kind in the scenario's scope and each network location, the
//! explorer builds one world and branches it (a clone per choice) over the ways that client
//! can authenticate: modern authentication through the documented flow, or a legacy path
//! (Basic on ActiveSync, AutoDiscover, MAPI, EWS, OAB, RPC; Kerberos inside; ActiveSync
//! configured by hand). Each branch runs to its end; a branch whose client gets mailbox data
//! without MFA is a counterexample, reported with its trace and the control that closes it.
//! The explored tree is a petgraph graph, written as Graphviz with `--dot`.

use hmasim_clients::Auth;
use hmasim_scenario::{
    Action, ActionKind, AuthMethod, Client, ClientKind, DeviceState, Location, MailProtocol,
    MailboxLocation, Platform, Scenario, Span,
};
use petgraph::graph::{DiGraph, NodeIndex};
use serde::Serialize;

use crate::{build, build::client_auth, run_built, Party, Trace};

/// One way to reach a mailbox.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PathSpec {
    /// The user.
    pub user: String,
    /// The client kind.
    pub client: &'static str,
    /// `internal` or `external`.
    pub location: &'static str,
    /// How it authenticates: `modern`, `basic-activesync`, `iwa-mapi`...
    pub method: String,
}

/// How a path ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Mailbox data, and every token behind it rests on MFA.
    MailboxWithMfa,
    /// Mailbox data without MFA: a counterexample.
    MailboxWithoutMfa,
    /// No mailbox data.
    NoAccess,
}

/// One explored path.
#[derive(Clone, Debug, Serialize)]
pub struct Explored {
    /// The path.
    #[serde(flatten)]
    pub path: PathSpec,
    /// How it ended.
    pub verdict: Verdict,
    /// The refusal that stopped it, if any.
    pub stopped_by: Option<String>,
    /// Mailbox data reached the client and its access still held at the end of the path's
    /// run (`hmasim diff` compares it: access it had with MFA and lost is a regression).
    #[serde(skip)]
    pub holds_at_end: bool,
}

/// A path to mailbox content without MFA.
#[derive(Clone, Debug)]
pub struct Counterexample {
    /// The path.
    pub path: PathSpec,
    /// The control that would have closed it.
    pub control: String,
    /// The admin command that sets it.
    pub command: String,
    /// The run of that path.
    pub trace: Trace,
}

/// What verify found.
#[derive(Debug)]
pub struct Verification {
    /// The client kinds in scope.
    pub scope: Vec<&'static str>,
    /// Every explored path.
    pub paths: Vec<Explored>,
    /// Events simulated across every branch (the explored states).
    pub events: u64,
    /// The paths that reach mailbox content without MFA.
    pub counterexamples: Vec<Counterexample>,
    /// The explored tree.
    pub graph: DiGraph<String, String>,
    /// Conditional Access conditions hmasim does not model, in policies that are not
    /// disabled: each could change a verdict, so verify will not call the tenant clean.
    pub unmodelled: Vec<String>,
}

impl Verification {
    /// Whether verify can call the configuration clean: no counterexample, and nothing it
    /// did not model that could change that.
    pub fn clean(&self) -> bool {
        self.counterexamples.is_empty() && self.unmodelled.is_empty()
    }
}

fn kind_name(k: ClientKind) -> &'static str {
    match k {
        ClientKind::Browser => "browser",
        ClientKind::OutlookDesktop => "outlook-desktop",
        ClientKind::OutlookMobile => "outlook-mobile",
        ClientKind::NativeMail => "native-mail",
    }
}

/// The ways a client kind can authenticate, at a location, to a mailbox.
fn methods(
    kind: ClientKind,
    location: Location,
    mailbox: MailboxLocation,
) -> Vec<(String, AuthMethod, Option<MailProtocol>, bool)> {
    let mut m = Vec::new();
    match kind {
        ClientKind::Browser => m.push(("web".to_string(), AuthMethod::Modern, None, true)),
        ClientKind::OutlookDesktop => {
            m.push(("modern".to_string(), AuthMethod::Modern, None, true));
            for p in [
                MailProtocol::Autodiscover,
                MailProtocol::Mapi,
                MailProtocol::Ews,
                MailProtocol::Oab,
                MailProtocol::Rpc,
            ] {
                m.push((
                    format!("basic-{}", p.name()),
                    AuthMethod::Basic,
                    Some(p),
                    true,
                ));
            }
            if location == Location::Internal && mailbox == MailboxLocation::Onprem {
                m.push((
                    "iwa-mapi".to_string(),
                    AuthMethod::Iwa,
                    Some(MailProtocol::Mapi),
                    true,
                ));
            }
        }
        ClientKind::OutlookMobile => {
            m.push((
                "modern-autodetect".to_string(),
                AuthMethod::Modern,
                None,
                true,
            ));
            m.push((
                "basic-activesync-manual".to_string(),
                AuthMethod::Modern,
                Some(MailProtocol::Activesync),
                false,
            ));
        }
        ClientKind::NativeMail => {
            for p in [
                MailProtocol::Activesync,
                MailProtocol::Imap,
                MailProtocol::Pop,
            ] {
                m.push((
                    format!("basic-{}", p.name()),
                    AuthMethod::Basic,
                    Some(p),
                    true,
                ));
            }
        }
    }
    m
}

/// Explores every path of every user of `sc` within its scope.
pub fn verify(sc: &Scenario) -> Verification {
    let mut graph: DiGraph<String, String> = DiGraph::new();
    let root = graph.add_node(format!(
        "tenant {} ({})",
        sc.tenant.domain,
        sc.identity.model.as_str()
    ));
    let mut paths = Vec::new();
    let mut counterexamples = Vec::new();
    let mut events = 0;
    let scope: Vec<ClientKind> = sc.verify.clients.clone();
    for user in &sc.users {
        let unode = graph.add_node(format!("user {}", user.upn));
        graph.add_edge(root, unode, String::new());
        for &kind in &scope {
            for location in [Location::External, Location::Internal] {
                let loc = if location == Location::Internal {
                    "internal"
                } else {
                    "external"
                };
                let cnode = graph.add_node(format!("{} {loc}", kind_name(kind)));
                graph.add_edge(unode, cnode, String::new());
                // The device this user has for this kind, if the scenario says; corporate
                // machines inside are domain-joined, anything else unmanaged.
                let known = sc
                    .clients
                    .iter()
                    .find(|c| c.kind == kind && c.user.eq_ignore_ascii_case(&user.upn));
                let device = known.map(|c| c.device).unwrap_or(
                    if location == Location::Internal && kind != ClientKind::NativeMail {
                        DeviceState::DomainJoined
                    } else {
                        DeviceState::Unmanaged
                    },
                );
                let platform = known.map(|c| c.platform).unwrap_or(match kind {
                    ClientKind::OutlookMobile | ClientKind::NativeMail => Platform::Ios,
                    _ => Platform::Windows,
                });
                let client = Client {
                    id: None,
                    kind,
                    user: user.upn.clone(),
                    platform,
                    location,
                    device,
                    sync_interval: Span(30 * 60_000),
                    auth: AuthMethod::Modern,
                    protocol: None,
                    autodetect: true,
                    app_protection: known.is_some_and(|c| c.app_protection),
                    // A known client keeps its address only where it sits (inside or out).
                    source_address: known
                        .filter(|c| c.location == location)
                        .and_then(|c| c.source_address),
                    user_agent: None,
                    device_type: None,
                    device_model: None,
                };
                let mut base = sc.clone();
                base.clients = vec![client.clone()];
                let action = match kind {
                    ClientKind::Browser => ActionKind::OpenOwa,
                    ClientKind::OutlookDesktop => ActionKind::StartOutlook,
                    _ => ActionKind::AddAccount,
                };
                base.timeline = vec![Action::on_client(Span(0), action, kind_name(kind))];
                base.run.duration = Span(10 * 60_000);
                base.fix = None;
                // One world per choice point, branched per method.
                let world = build(&base);
                for (name, auth, protocol, autodetect) in methods(kind, location, user.mailbox) {
                    let variant = Client {
                        auth,
                        protocol,
                        autodetect,
                        ..client.clone()
                    };
                    let mut branch_sc = base.clone();
                    branch_sc.clients = vec![variant.clone()];
                    let mut branch = world.clone();
                    let auth: Auth = client_auth(&variant, user.mailbox, &sc.mail_host());
                    if let Party::Client(c) = branch.world.actor_mut(branch.clients[0]) {
                        c.set_auth(auth);
                    }
                    let trace = run_built(&branch_sc, branch, true);
                    events += trace.events.len() as u64;
                    let o = &trace.outcome;
                    // Single-factor when mailbox data reached anyone without MFA (the
                    // safety flag), even if access was lost afterwards.
                    let verdict = if o.data_without_mfa {
                        Verdict::MailboxWithoutMfa
                    } else if o.mailbox_access {
                        Verdict::MailboxWithMfa
                    } else {
                        Verdict::NoAccess
                    };
                    let path = PathSpec {
                        user: user.upn.clone(),
                        client: kind_name(kind),
                        location: loc,
                        method: name.clone(),
                    };
                    let leaf = graph.add_node(match verdict {
                        Verdict::MailboxWithMfa => "mailbox with MFA".to_string(),
                        Verdict::MailboxWithoutMfa => "MAILBOX WITHOUT MFA".to_string(),
                        Verdict::NoAccess => format!(
                            "no access ({})",
                            o.failure
                                .as_ref()
                                .map(|f| f.code.as_str())
                                .unwrap_or("none")
                        ),
                    });
                    graph.add_edge(cnode, leaf, name.clone());
                    paths.push(Explored {
                        path: path.clone(),
                        verdict,
                        stopped_by: o
                            .failure
                            .as_ref()
                            .map(|f| format!("{} at {}", f.code, f.party)),
                        holds_at_end: o.clients.first().is_some_and(|c| c.holds_at_end),
                    });
                    if verdict == Verdict::MailboxWithoutMfa {
                        let (control, command) =
                            crate::findings::fix_for(sc, &path, &trace).describe(sc);
                        counterexamples.push(Counterexample {
                            path,
                            control,
                            command,
                            trace,
                        });
                    }
                }
            }
        }
    }
    let unmodelled = sc
        .conditional_access
        .iter()
        .filter(|p| p.state != hmasim_scenario::CaState::Disabled && !p.unmodelled.is_empty())
        .map(|p| format!("policy '{}': {}", p.name, p.unmodelled.join(", ")))
        .collect();
    Verification {
        scope: scope.iter().map(|k| kind_name(*k)).collect(),
        paths,
        events,
        counterexamples,
        graph,
        unmodelled,
    }
}

/// The Microsoft Graph request that creates a Conditional Access policy requiring MFA for
/// Office 365 Exchange Online and one client app type, with its body as JSON (the
/// `conditionalAccessPolicy` resource, which `--ca-policies` reads back).
pub fn ca_mfa_body(display_name: &str, client_app_type: &str) -> String {
    serde_json::json!({
        "displayName": display_name,
        "state": "enabled",
        "conditions": {
            "users": {"includeUsers": ["All"]},
            "applications": {"includeApplications": [hmasim_protocol::apps::EXCHANGE_ONLINE]},
            "clientAppTypes": [client_app_type],
        },
        "grantControls": {"operator": "OR", "builtInControls": ["mfa"]},
    })
    .to_string()
}

/// The explored tree in Graphviz.
pub fn to_dot(v: &Verification) -> String {
    format!("{:?}", petgraph::dot::Dot::with_config(&v.graph, &[]))
}

/// A node index's label (for tests).
pub fn label(v: &Verification, n: NodeIndex) -> &str {
    &v.graph[n]
}
