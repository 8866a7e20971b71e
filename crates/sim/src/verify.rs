//! `hmasim verify`: every way someone who holds a user's password can reach mailbox
//! content, explored by simulation, over every signal that person controls and every
//! configuration epoch of the timeline.
//!
//! # What is explored
//!
//! For each class of users (see below), each client kind of the scenario's `[verify]`
//! scope, each network location (outside, inside), each configuration epoch and each way
//! the client can authenticate (modern authentication through the documented flow, or a
//! legacy path: Basic on ActiveSync, AutoDiscover, MAPI, EWS, OAB, RPC; Kerberos inside;
//! ActiveSync configured by hand), the explorer also pins every value of every signal the
//! password holder writes ([`Signals`]):
//!
//! - the `User-Agent`, and so the device platform Entra ID derives from it: one per
//!   platform an enforced Conditional Access policy names, plus one for every other
//!   platform and an unknown one (`linux` when no policy names it);
//! - the source address of its connections to cloud services (outside): the Internet,
//!   one address in each named location, in each MFA trusted range, in each range of
//!   `network.geo` and each client's own address; inside, the office's egress;
//! - the ActiveSync `DeviceType` and device model (Outlook mobile and native mail): the
//!   kind's own, each string an on-premises device access rule names, and one no rule
//!   names; on ActiveSync methods also each User-Agent a `UserAgent` rule names;
//! - the client app type follows from the method (browser, modern client, Exchange
//!   ActiveSync, other legacy).
//!
//! What the client cannot fake is not faked: device compliance and hybrid join (they need
//! the device's key), an approved app's app-protection state (the scenario's known client
//! keeps its own), Kerberos without the domain (only a domain-joined machine inside).
//!
//! # Reductions
//!
//! **Signal classes** ([`classes::Space`]): values that no policy or rule distinguishes
//! form one class, and one representative per class is explored. Platforms: only the
//! platforms an enforced policy names in `include_platforms`/`exclude_platforms` are told
//! apart (`all` matches every platform and the unknown one alike). Addresses: two
//! addresses that fall in the same named locations (and the same country, when a location
//! lists countries) give Entra the same facts; nothing else in the world reads a client's
//! address. Device strings: two (`DeviceType`, model) pairs that match the same device
//! access rules are treated alike by Exchange. A class of one value is left at the
//! client's own (`None` in [`Signals`]).
//!
//! **User classes** ([`classes::UserClass`]): users with identical groups, roles,
//! registration state, mailbox location, Exchange version, per-user authentication
//! policies and known devices, none of whom is named anywhere else in the scenario, are
//! one class; the first is explored for all. `explored.pruned` counts the raw
//! combinations (members x raw signal values) that these reductions skipped.
//!
//! # Epochs
//!
//! Every timeline `set` (a configuration change: the identity model, a policy's state, an
//! authentication policy...) starts an [`Epoch`]. At each epoch's start the explorer signs
//! in afresh; from epoch 1 on it also follows the session signed in at the previous
//! epoch's start across the change (`continued`), as a run does: the world is
//! reconfigured in place and the client keeps its tokens. The path's scenario keeps the
//! timeline's configuration entries (`set`, directory syncs, key rotations, metadata
//! refreshes), not its faults (outages, partitions, crashes) nor password changes (the
//! attacker holds whatever password is current). [`Verification::transitions`] says when
//! a path opens or closes.
//!
//! # Verdicts
//!
//! A path is single-factor when mailbox data reached anyone without MFA, or when the
//! password holder completed the MFA registration interrupt (`AADSTS50079`, "More
//! information required") of a user without a method and then got the data: the MFA
//! rests on a method they registered ([`Verdict::RegistersMfaWithPassword`]). A policy in
//! effect with conditions or controls hmasim does not model that applies to a path's
//! sign-in (as Entra's evaluation note in the trace says), and every fact the scenario
//! marks unmodelled (`verify.unmodelled`), make the result NOT PROVEN ([`NotProven`]).
//! Precedence ([`Verification::verdict`]): a single-factor path makes it NOT CLEAN; else
//! anything unmodelled makes it NOT PROVEN; else CLEAN. Report-only policies never
//! enforce and disabled ones are ignored (Entra's evaluator does this), so neither makes
//! a result NOT PROVEN.
//!
//! Every explored path replays as a plain one-client scenario: [`path_scenario`].
//! The explored tree is a petgraph graph, written as Graphviz with `--dot`.

pub mod classes;
mod method;

use std::collections::BTreeMap;
use std::net::IpAddr;

use hmasim_clients::Auth;
use hmasim_protocol::policy::CaState;
use hmasim_scenario::{
    Action, ActionKind, AuthMethod, Client, ClientKind, DeviceState, Location, MailProtocol,
    MailboxLocation, Platform, Scenario, Span,
};
use petgraph::graph::{DiGraph, NodeIndex};
use serde::Serialize;

use crate::{build, build::client_auth, run_built, Party, Trace};

pub use classes::{Risk, UserClass};
pub use method::Method;

/// How long a fresh sign-in is followed (simulated ms).
pub const FRESH_MS: u64 = 10 * 60_000;
/// How long a session that continues across a configuration change is followed after
/// the change (simulated ms): longer than a client's 30-minute background sync.
pub const CONTINUED_MS: u64 = 40 * 60_000;

/// What the password holder pins for one path: every attacker-controlled signal, with
/// what Entra derives from it for display. `None` is the client's own value.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Signals {
    /// The `User-Agent` sent (`None`: the client kind's own).
    pub user_agent: Option<String>,
    /// The device platform Entra derives from the User-Agent actually sent (display).
    pub platform: String,
    /// The source address of connections to cloud services (`None`: the location's
    /// default, the Internet address outside, the office egress inside).
    pub source_address: Option<IpAddr>,
    /// The address actually used (display).
    pub address: IpAddr,
    /// The named locations that address falls in (display).
    pub locations: Vec<String>,
    /// The ActiveSync `DeviceType` reported (`None`: the kind's own).
    pub device_type: Option<String>,
    /// The ActiveSync device model reported (`None`: the kind's own).
    pub device_model: Option<String>,
    /// The client app type the method presents to Conditional Access (display).
    pub client_app: &'static str,
    /// Whether the user has an MFA method registered (tenant state, as the scenario
    /// says; display).
    pub mfa_registered: bool,
    /// The password holder first registers a device of its own with the Device
    /// Registration Service (a Workplace join) and signs in from it: explored only when a
    /// policy has a filter for devices (no other decision reads a Workplace-joined,
    /// non-compliant device differently from an unregistered one).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub registers_device: bool,
    /// The risk levels Identity Protection holds for the path (`None`: no enforced
    /// policy has a risk condition, so none was explored). Not the attacker's choice:
    /// Entra scores it, and verify explores every class of levels.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub risk: Option<Risk>,
    /// The display name reported for that device (`None`: `<client id>-device`): one per
    /// string a filter compares `displayName` with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_name: Option<String>,
}

/// One way to reach a mailbox.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PathSpec {
    /// The user (a class representative).
    pub user: String,
    /// The client kind (serialized as its id, `outlook-mobile`...).
    #[serde(serialize_with = "as_str_of_kind")]
    pub client: ClientKind,
    /// Where it connects from (serialized as `internal` or `external`).
    #[serde(serialize_with = "as_str_of_location")]
    pub location: Location,
    /// How it authenticates: `modern`, `basic-activesync`, `iwa-mapi`...
    pub method: Method,
    /// What the password holder pins.
    pub signals: Signals,
    /// Signed in at the previous epoch's start and followed across the change that
    /// starts this epoch (false: a fresh sign-in at this epoch's start).
    pub continued: bool,
}

fn as_str_of_kind<S: serde::Serializer>(k: &ClientKind, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(k.as_str())
}

fn as_str_of_location<S: serde::Serializer>(l: &Location, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(l.as_str())
}

// Paths sort as they did when the client and location were their strings: every listing
// keeps its order.
impl Ord for PathSpec {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        let key = |p: &PathSpec| {
            (
                p.user.clone(),
                p.client.as_str(),
                p.location.as_str(),
                p.method,
                p.signals.clone(),
                p.continued,
            )
        };
        key(self).cmp(&key(other))
    }
}

impl PartialOrd for PathSpec {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl PathSpec {
    /// The path without its epoch-relative part: the same path in another epoch has the
    /// same key.
    pub fn key(&self) -> String {
        match self.signals.risk {
            Some(r) => format!("{} risk={r:?}", self.key_without_risk()),
            None => self.key_without_risk(),
        }
    }

    /// The key of the same path whatever risk Entra scores it at.
    pub fn key_without_risk(&self) -> String {
        format!(
            "{} {} {} {} ua={} addr={} dev={}/{}{}",
            self.user,
            self.client,
            self.location,
            self.method,
            self.signals.user_agent.as_deref().unwrap_or("-"),
            self.signals
                .source_address
                .map(|a| a.to_string())
                .unwrap_or_else(|| "-".into()),
            self.signals.device_type.as_deref().unwrap_or("-"),
            self.signals.device_model.as_deref().unwrap_or("-"),
            match (self.signals.registers_device, &self.signals.device_name) {
                (false, _) => String::new(),
                (true, None) => " registers-device".to_string(),
                (true, Some(n)) => format!(" registers-device name={n}"),
            },
        )
    }
}

/// How a path ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Mailbox data, and every token behind it rests on MFA the user did.
    MailboxWithMfa,
    /// Mailbox data without MFA: a counterexample.
    MailboxWithoutMfa,
    /// The user had no MFA method; whoever holds the password completed the registration
    /// interrupt and then reached mailbox data: a counterexample ("registers MFA with
    /// only the password").
    RegistersMfaWithPassword,
    /// No mailbox data.
    NoAccess,
}

impl Verdict {
    /// Whether the path is single-factor (a counterexample).
    pub fn single_factor(self) -> bool {
        matches!(
            self,
            Verdict::MailboxWithoutMfa | Verdict::RegistersMfaWithPassword
        )
    }
    /// How reports name it.
    pub fn label(self) -> &'static str {
        match self {
            Verdict::MailboxWithMfa => "mailbox with MFA",
            Verdict::MailboxWithoutMfa => "MAILBOX WITHOUT MFA",
            Verdict::RegistersMfaWithPassword => "REGISTERS MFA WITH ONLY THE PASSWORD",
            Verdict::NoAccess => "no access",
        }
    }
}

/// Something verify cannot evaluate that could decide a path.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct NotProven {
    /// The policy (or, for a fact outside Conditional Access, the object).
    pub policy: String,
    /// The field hmasim does not model (`conditions.signInRiskLevels`...).
    pub field: String,
    /// Why it could change the verdict.
    pub why: String,
}

/// One configuration epoch: from a configuration change to the next.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Epoch {
    /// Start, in simulated ms.
    pub from_ms: u64,
    /// End (the next change, or the scenario's duration).
    pub to_ms: u64,
    /// What starts it (`start`, or the timeline `set`s, secrets masked).
    pub cause: String,
}

/// One explored path.
#[derive(Clone, Debug, Serialize)]
pub struct Explored {
    /// The path.
    #[serde(flatten)]
    pub path: PathSpec,
    /// The epoch (index into [`Verification::epochs`]).
    pub epoch: usize,
    /// How it ended.
    pub verdict: Verdict,
    /// The refusal that stopped it, if any.
    pub stopped_by: Option<String>,
    /// Mailbox data reached the client and its access still held at the end of the path's
    /// run (`hmasim diff` compares it: access it had with MFA and lost is a regression).
    pub holds_at_end: bool,
    /// What verify cannot evaluate on this path.
    pub not_proven: Vec<NotProven>,
}

/// A single-factor path.
#[derive(Clone, Debug)]
pub struct Counterexample {
    /// The path.
    pub path: PathSpec,
    /// The epoch it is found in.
    pub epoch: usize,
    /// How it ended ([`Verdict::single_factor`]).
    pub verdict: Verdict,
    /// The control that would have closed it.
    pub control: String,
    /// The admin command that sets it.
    pub command: String,
    /// The run of that path.
    pub trace: Trace,
    /// "MFA only if risk is detected": the path is single-factor when Identity
    /// Protection detects no risk, and closed at this detected risk (an enforced
    /// risk-based policy closes it). `None`: single-factor whatever the risk.
    pub closed_at_risk: Option<Risk>,
}

/// A path whose verdict changes from one epoch to the next (fresh sign-ins).
#[derive(Clone, Debug, Serialize)]
pub struct Transition {
    /// The path (as explored in the later epoch).
    pub path: PathSpec,
    /// When it changes (the later epoch's start), simulated ms.
    pub at_ms: u64,
    /// Its verdict before.
    pub before: Verdict,
    /// Its verdict after.
    pub after: Verdict,
}

/// How much was explored.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    /// Paths run (one simulation each).
    pub paths: usize,
    /// User classes explored.
    pub classes: usize,
    /// Raw combinations (users x raw signal values) covered by a representative and not
    /// run.
    pub pruned: usize,
}

/// The overall result, by precedence.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Overall {
    /// No single-factor path, nothing unmodelled.
    Clean,
    /// A single-factor path.
    NotClean,
    /// No single-factor path, but something unmodelled could decide one.
    NotProven,
}

impl Overall {
    /// The JSON spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Overall::Clean => "clean",
            Overall::NotClean => "not_clean",
            Overall::NotProven => "not_proven",
        }
    }
}

/// What verify found.
#[derive(Debug)]
pub struct Verification {
    /// The client kinds in scope.
    pub scope: Vec<&'static str>,
    /// The configuration epochs.
    pub epochs: Vec<Epoch>,
    /// Every explored path.
    pub paths: Vec<Explored>,
    /// Events simulated across every branch (the explored states).
    pub events: u64,
    /// The single-factor paths.
    pub counterexamples: Vec<Counterexample>,
    /// Everything unmodelled that could decide a path, deduplicated.
    pub not_proven: Vec<NotProven>,
    /// How much was explored and pruned.
    pub explored: Counts,
    /// The user classes.
    pub user_classes: Vec<UserClass>,
    /// Paths that open or close from one epoch to the next.
    pub transitions: Vec<Transition>,
    /// The explored tree.
    pub graph: DiGraph<String, String>,
    /// How much of the tenant's Conditional Access the verdict covers.
    pub coverage: Coverage,
}

/// How far hmasim evaluates one policy.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Evaluated {
    /// Every field it has.
    Fully,
    /// Some fields are not evaluated (listed).
    Partly,
    /// Its fields that are evaluated leave it applying to no sign-in, or requiring nothing
    /// hmasim knows: what it really does is not evaluated at all.
    NotAtAll,
}

impl Evaluated {
    /// The JSON spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Evaluated::Fully => "fully",
            Evaluated::Partly => "partly",
            Evaluated::NotAtAll => "not_at_all",
        }
    }
}

/// One policy's line of the coverage table.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PolicyCoverage {
    /// The policy's name.
    pub name: String,
    /// Its state (Graph's spelling).
    pub state: &'static str,
    /// How far it is evaluated.
    pub evaluated: Evaluated,
    /// The fields not evaluated (relative to the policy: `conditions.devices`...), and the
    /// scenario's `verify.unmodelled` facts about it.
    pub fields: Vec<String>,
}

/// A group or directory role a policy names that none of the scenario's users holds
/// (informational: the condition decides nothing for the users explored).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Unheld {
    /// The policy.
    pub policy: String,
    /// `group` or `role`.
    pub kind: &'static str,
    /// The group or role as the policy names it.
    pub id: String,
}

/// How much of the tenant's Conditional Access hmasim evaluates: one line per enforced or
/// report-only policy, in the scenario's order.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Coverage {
    /// Enforced and report-only policies.
    pub policies: Vec<PolicyCoverage>,
    /// Disabled policies (ignored, as Entra ignores them).
    pub disabled: usize,
    /// Groups and roles named by a policy that no user of the scenario holds.
    pub unheld: Vec<Unheld>,
}

impl Coverage {
    /// How many policies are evaluated so.
    pub fn count(&self, e: Evaluated) -> usize {
        self.policies.iter().filter(|p| p.evaluated == e).count()
    }
    /// The totals in words: `31 of 34 policies evaluated fully, 2 partly, 1 not at all`.
    pub fn totals_line(&self) -> String {
        format!(
            "{} of {} policies evaluated fully, {} partly, {} not at all{}",
            self.count(Evaluated::Fully),
            self.policies.len(),
            self.count(Evaluated::Partly),
            self.count(Evaluated::NotAtAll),
            if self.disabled > 0 {
                format!(" ({} disabled, ignored)", self.disabled)
            } else {
                String::new()
            }
        )
    }
}

/// Whether what hmasim evaluates of `p` leaves it applying to no sign-in or requiring
/// nothing it knows, while fields it does not evaluate say more.
fn evaluated_to_nothing(
    p: &hmasim_protocol::policy::CaPolicy,
    locations: &[hmasim_protocol::policy::NamedLocation],
) -> bool {
    let none = |l: &[String]| l.is_empty() || l.iter().all(|x| x == "None");
    let no_users = none(&p.include_users)
        && p.include_groups.is_empty()
        && p.include_roles.is_empty()
        && p.include_guests.is_empty();
    let no_apps = none(&p.include_applications) && p.include_user_actions.is_empty();
    let all_excluded = p.exclude_applications.iter().any(|a| a == "All")
        || p.exclude_users.iter().any(|u| u == "All")
        || p.exclude_locations.iter().any(|l| l == "All")
        || p.exclude_platforms
            .contains(&hmasim_protocol::policy::DevicePlatform::All);
    let no_client_apps = p.client_app_types.is_empty();
    // Every included location is one hmasim does not model (or does not know): it matches
    // no sign-in.
    let no_locations = !p.include_locations.is_empty()
        && p.include_locations.iter().all(|l| {
            l != "All"
                && l != "AllTrusted"
                && locations
                    .iter()
                    .find(|n| n.name.eq_ignore_ascii_case(l) || n.id.eq_ignore_ascii_case(l))
                    .is_none_or(|n| n.unmodelled.is_some())
        });
    let requires_nothing =
        p.grant.is_empty() && p.unmodelled.iter().any(|f| f.starts_with("grantControls"));
    no_users || no_apps || all_excluded || no_client_apps || no_locations || requires_nothing
}

/// The coverage table of `sc`'s Conditional Access.
pub fn coverage(sc: &Scenario) -> Coverage {
    let mut out = Coverage::default();
    let locations = sc.effective_named_locations();
    let holds = |kind: &str, id: &str| {
        sc.users.iter().any(|u| {
            let list = if kind == "group" { &u.groups } else { &u.roles };
            list.iter().any(|g| g.eq_ignore_ascii_case(id))
        })
    };
    for p in &sc.conditional_access {
        if p.state == CaState::Disabled {
            out.disabled += 1;
            continue;
        }
        let mut fields: Vec<String> = Vec::new();
        for f in &p.unmodelled {
            let field = f.split_once(": ").map_or(f.as_str(), |x| x.0).to_string();
            if !fields.contains(&field) {
                fields.push(field);
            }
        }
        for f in sc.verify.unmodelled.iter().filter(|f| f.object == p.name) {
            if !fields.contains(&f.field) {
                fields.push(f.field.clone());
            }
        }
        let evaluated = if fields.is_empty() {
            Evaluated::Fully
        } else if evaluated_to_nothing(p, &locations) {
            Evaluated::NotAtAll
        } else {
            Evaluated::Partly
        };
        out.policies.push(PolicyCoverage {
            name: p.name.clone(),
            state: p.state.as_str(),
            evaluated,
            fields,
        });
        let groups = p
            .include_groups
            .iter()
            .chain(&p.exclude_groups)
            .map(String::as_str)
            .chain(
                p.include_users
                    .iter()
                    .chain(&p.exclude_users)
                    .filter_map(|u| u.strip_prefix("group:")),
            );
        for g in groups {
            let u = Unheld {
                policy: p.name.clone(),
                kind: "group",
                id: g.to_string(),
            };
            if !holds("group", g) && !out.unheld.contains(&u) {
                out.unheld.push(u);
            }
        }
        for r in p.include_roles.iter().chain(&p.exclude_roles) {
            let u = Unheld {
                policy: p.name.clone(),
                kind: "role",
                id: r.clone(),
            };
            if !holds("role", r) && !out.unheld.contains(&u) {
                out.unheld.push(u);
            }
        }
    }
    out
}

impl Verification {
    /// The overall verdict: NOT CLEAN over NOT PROVEN over CLEAN.
    pub fn verdict(&self) -> Overall {
        if !self.counterexamples.is_empty() {
            Overall::NotClean
        } else if !self.not_proven.is_empty() {
            Overall::NotProven
        } else {
            Overall::Clean
        }
    }
    /// Whether verify proves the configuration clean.
    pub fn clean(&self) -> bool {
        self.verdict() == Overall::Clean
    }
}

/// Options of [`verify_with`].
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// Explore only this user (case-insensitive UPN); every other user is left out.
    pub user: Option<String>,
    /// Also pin the signal values these scenarios' policies and rules distinguish (`hmasim
    /// diff` explores both configurations over the same values).
    pub signals_of: Vec<Scenario>,
}

/// The ways a client kind can authenticate, at a location, to a mailbox.
fn methods(kind: ClientKind, location: Location, mailbox: MailboxLocation) -> Vec<Method> {
    let mut m = Vec::new();
    match kind {
        ClientKind::Browser => m.push(Method::Web),
        ClientKind::OutlookDesktop => {
            m.push(Method::Modern);
            for p in [
                MailProtocol::Autodiscover,
                MailProtocol::Mapi,
                MailProtocol::Ews,
                MailProtocol::Oab,
                MailProtocol::Rpc,
            ] {
                m.push(Method::basic(p));
            }
            if location == Location::Internal && mailbox == MailboxLocation::Onprem {
                m.push(Method::IwaMapi);
            }
        }
        ClientKind::OutlookMobile => {
            m.push(Method::ModernAutodetect);
            m.push(Method::BasicActivesyncManual);
        }
        ClientKind::NativeMail => {
            for p in [
                MailProtocol::Activesync,
                MailProtocol::Imap,
                MailProtocol::Pop,
            ] {
                m.push(Method::basic(p));
            }
        }
    }
    m
}

/// Whether ActiveSync device strings reach Exchange on this method.
fn uses_device_strings(kind: ClientKind, method: Method) -> bool {
    classes::speaks_activesync(kind) && method.is_activesync()
}

/// The configuration epochs of `sc`: one from the start, and one from each instant
/// (within the run) at which the timeline changes the configuration.
pub fn epochs(sc: &Scenario) -> Vec<Epoch> {
    let end = sc.run.duration.ms();
    let mut starts: BTreeMap<u64, Vec<String>> = BTreeMap::new();
    starts.insert(0, Vec::new());
    for a in &sc.timeline {
        if a.action == ActionKind::Set && a.at.ms() > 0 && a.at.ms() < end {
            let kv = format!(
                "{}={}",
                a.key.as_deref().unwrap_or(""),
                a.value.as_deref().unwrap_or("")
            );
            starts
                .entry(a.at.ms())
                .or_default()
                .push(format!("set {}", hmasim_scenario::secret::mask_set(&kv)));
        }
    }
    let list: Vec<(u64, Vec<String>)> = starts.into_iter().collect();
    list.iter()
        .enumerate()
        .map(|(i, (from, causes))| Epoch {
            from_ms: *from,
            to_ms: list.get(i + 1).map_or(end.max(*from), |n| n.0),
            cause: if causes.is_empty() {
                "start".to_string()
            } else {
                causes.join("; ")
            },
        })
        .collect()
}

/// The timeline entries a path's scenario keeps: configuration, not faults, not what
/// users do on their own clients, not password changes.
fn kept(a: &Action) -> bool {
    matches!(
        a.action,
        ActionKind::Set
            | ActionKind::DirectorySync
            | ActionKind::RotateEvostsKey
            | ActionKind::RefreshAuthMetadata
    )
}

/// The device a path's client has: the scenario's known client of that kind for the
/// user, else a domain-joined machine inside (not for native mail), an unmanaged device
/// outside.
fn known_client<'a>(sc: &'a Scenario, kind: ClientKind, upn: &str) -> Option<&'a Client> {
    sc.clients
        .iter()
        .find(|c| c.kind == kind && c.user.eq_ignore_ascii_case(upn))
}

fn base_client(sc: &Scenario, kind: ClientKind, upn: &str, location: Location) -> Client {
    let known = known_client(sc, kind, upn);
    let device = known.map(|c| c.device.clone()).unwrap_or(
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
    Client {
        id: None,
        kind,
        user: upn.to_string(),
        platform,
        location,
        device,
        sync_interval: Span(30 * 60_000),
        auth: AuthMethod::Modern,
        protocol: None,
        autodetect: true,
        app_protection: known.is_some_and(|c| c.app_protection),
        source_address: None,
        user_agent: None,
        device_type: None,
        device_model: None,
        device_name: None,
    }
}

/// The plain one-client scenario that replays `path` in `epoch`: the path's client with
/// every pinned signal set (`user_agent`, `device_type`, `device_model`,
/// `source_address`), its sign-in at the epoch's start (the previous epoch's start for a
/// `continued` path), the timeline's configuration entries kept, the documented fix
/// dropped. Running it gives the verdict the explorer reports for the path.
pub fn path_scenario(sc: &Scenario, path: &PathSpec, epoch: usize) -> Scenario {
    let ep = epochs(sc);
    let e = &ep[epoch.min(ep.len() - 1)];
    let start = if path.continued && epoch > 0 {
        ep[epoch - 1].from_ms
    } else {
        e.from_ms
    };
    let (kind, location) = (path.client, path.location);
    let mailbox = sc
        .user(&path.user)
        .map_or(MailboxLocation::Online, |u| u.mailbox);
    let mut client = base_client(sc, kind, &path.user, location);
    if let Some((auth, protocol, autodetect)) = methods(kind, location, mailbox)
        .into_iter()
        .find(|m| *m == path.method)
        .map(Method::setting)
    {
        client.auth = auth;
        client.protocol = protocol;
        client.autodetect = autodetect;
    }
    client.source_address = path.signals.source_address;
    client.user_agent = path.signals.user_agent.clone();
    client.device_type = path.signals.device_type.clone();
    client.device_model = path.signals.device_model.clone();
    if path.signals.registers_device {
        client.device = DeviceState::Registers;
        client.device_name = path.signals.device_name.clone();
    }
    let mut out = sc.clone();
    out.clients = vec![client];
    // The path's user alone: no other user's configuration reaches this sign-in, and a
    // world of 500 users costs its copies on every branch. Kept whole when a timeline
    // `set` addresses users by position.
    let by_position = sc
        .timeline
        .iter()
        .any(|a| a.key.as_deref().is_some_and(|k| k.starts_with("users.")));
    if !by_position {
        out.users.retain(|u| u.upn.eq_ignore_ascii_case(&path.user));
    }
    if let Some(r) = path.signals.risk {
        for u in out
            .users
            .iter_mut()
            .filter(|u| u.upn.eq_ignore_ascii_case(&path.user))
        {
            u.sign_in_risk = r.sign_in;
            u.user_risk = r.user;
            u.insider_risk = r.insider;
        }
    }
    let action = match kind {
        ClientKind::Browser => ActionKind::OpenOwa,
        ClientKind::OutlookDesktop => ActionKind::StartOutlook,
        _ => ActionKind::AddAccount,
    };
    let mut timeline: Vec<Action> = sc.timeline.iter().filter(|a| kept(a)).cloned().collect();
    timeline.push(Action::on_client(Span(start), action, kind.as_str()));
    timeline.sort_by_key(|a| a.at.ms());
    out.timeline = timeline;
    out.run.duration = Span(if path.continued && epoch > 0 {
        e.from_ms + CONTINUED_MS
    } else {
        e.from_ms + FRESH_MS
    });
    out.fix = None;
    out
}

/// The signals of a path, with what Entra derives from them.
fn signals(
    sc: &Scenario,
    tenant: &hmasim_entra_id::ca::Tenant,
    client: &Client,
    method: Method,
    registered: bool,
) -> Signals {
    let (ua, _) = build::presented(client);
    let address = sc.client_address(client);
    let (locations, _, _) = classes::where_from(tenant, address);
    Signals {
        user_agent: client.user_agent.clone(),
        platform: classes::platform_name(&ua).to_string(),
        source_address: client.source_address,
        address,
        locations,
        device_type: client.device_type.clone(),
        device_model: client.device_model.clone(),
        client_app: method.client_app(),
        mfa_registered: registered,
        registers_device: client.device == DeviceState::Registers,
        risk: None,
        device_name: client.device_name.clone(),
    }
}

/// The display names a password holder registering a device tries: its own default and
/// every string a filter for devices compares `displayName` with.
pub fn device_names(sc: &Scenario) -> Vec<Option<String>> {
    let mut out = vec![None];
    for p in &sc.conditional_access {
        if let Some(f) = &p.device_filter {
            for l in f.rule.literals(hmasim_protocol::device::Attr::DisplayName) {
                if !out.contains(&Some(l.clone())) {
                    out.push(Some(l));
                }
            }
        }
    }
    out
}

/// The key of `path` without its device registration: the path it would be without it.
pub fn twin_key(path: &PathSpec) -> String {
    let mut p = path.clone();
    p.signals.registers_device = false;
    p.signals.device_name = None;
    p.key()
}

/// Whether some policy's decision can depend on a device the password holder registers
/// itself: a filter for devices. A Workplace-joined device is not compliant and not hybrid
/// joined, so without a filter it is treated exactly as an unregistered one and the
/// registration needs no exploration of its own.
pub fn device_dependent(sc: &Scenario) -> bool {
    // Any state: a timeline `set` can enable a disabled policy. A `set` that writes a
    // filter into a policy counts too.
    sc.conditional_access
        .iter()
        .any(|p| p.device_filter.is_some())
        || sc.timeline.iter().any(|a| {
            a.key
                .as_deref()
                .is_some_and(|k| k.starts_with("conditional_access") && k.contains("device_filter"))
        })
}

/// Whether the client completed the MFA registration interrupt in this run.
fn registered_in(trace: &Trace) -> bool {
    trace.events.iter().any(|e| {
        e.from.0 == 0
            && e.msg.url.as_ref().is_some_and(|u| {
                u.path.ends_with("/SAS/ProcessAuth") && u.param("register") == Some("1")
            })
    })
}

/// How a path's run ended, from its trace.
fn verdict_of(trace: &Trace) -> Verdict {
    let o = &trace.outcome;
    // Single-factor when mailbox data reached anyone without MFA (the safety flag), even
    // if access was lost afterwards, or when the MFA behind the data is a method the
    // password holder registered.
    if o.data_without_mfa {
        Verdict::MailboxWithoutMfa
    } else if o.mailbox_access && registered_in(trace) {
        Verdict::RegistersMfaWithPassword
    } else if o.mailbox_access {
        Verdict::MailboxWithMfa
    } else {
        Verdict::NoAccess
    }
}

/// One unmodelled thing of a policy that applies to a path.
struct Unmodelled {
    /// The policy's name.
    policy: String,
    /// What is reported.
    np: NotProven,
    /// Whether it could open a path the evaluated part closes: the policy may apply to
    /// fewer sign-ins than hmasim evaluates (a condition read as matching every sign-in,
    /// an exclusion it cannot evaluate, a named location it does not model), or be
    /// satisfied by a control hmasim does not know (an `OR` of controls). A control
    /// missing from an `AND` (`passwordChange`, `termsOfUse`) only requires more, and a
    /// session control does not decide access: neither can open a path.
    opening: bool,
}

/// Whether an unmodelled field of `p` (relative to the policy, `grantControls.termsOfUse`)
/// could open a path that the evaluated part of `p` closes. See [`Unmodelled::opening`].
fn could_open(p: &hmasim_protocol::policy::CaPolicy, field: &str) -> bool {
    if field.starts_with("sessionControls") {
        return false;
    }
    if field.starts_with("grantControls") {
        return p.operator == hmasim_protocol::policy::Operator::Or && !p.grant.is_empty();
    }
    true
}

/// The enforced policies with unmodelled fields (their own, and the scenario's
/// `verify.unmodelled` facts about them) that Entra's evaluation notes in the trace show
/// applying to this path's sign-in (every modelled condition matched).
fn unmodelled_on(sc: &Scenario, trace: &Trace) -> Vec<Unmodelled> {
    let mut out: Vec<Unmodelled> = Vec::new();
    let lines: Vec<&String> = trace
        .events
        .iter()
        .filter(|e| {
            e.msg
                .meta
                .summary
                .starts_with("Entra ID evaluates Conditional Access")
        })
        .filter_map(|e| match &e.msg.body {
            hmasim_protocol::Body::Lines(l) => Some(l),
            _ => None,
        })
        .flatten()
        .collect();
    // The evaluation line says the state the policy had at that sign-in (a timeline `set`
    // may have enabled it): only an enabled one is judged.
    for p in &sc.conditional_access {
        let facts: Vec<&hmasim_scenario::UnmodelledFact> = sc
            .verify
            .unmodelled
            .iter()
            .filter(|f| f.object == p.name)
            .collect();
        if p.unmodelled.is_empty() && facts.is_empty() {
            continue;
        }
        let applies = format!("{} [enabled]: applies (", p.name);
        if !lines.iter().any(|l| l.starts_with(&applies)) {
            continue;
        }
        for f in &p.unmodelled {
            // The Graph reader writes `FIELD: what it did about it`.
            let (field, note) = f.split_once(": ").unwrap_or((f.as_str(), ""));
            let np = NotProven {
                policy: p.name.clone(),
                field: field.to_string(),
                why: format!(
                    "hmasim does not model {field}{}; the policy applies to this sign-in under every modelled condition, so it could decide it",
                    if note.is_empty() { String::new() } else { format!(" ({note})") }
                ),
            };
            if !out.iter().any(|u| u.np == np) {
                out.push(Unmodelled {
                    policy: p.name.clone(),
                    opening: could_open(p, field),
                    np,
                });
            }
        }
        for f in facts {
            let np = NotProven {
                policy: p.name.clone(),
                field: f.field.clone(),
                why: if f.why.is_empty() {
                    "the scenario marks it unmodelled; the policy applies to this sign-in under every modelled condition".to_string()
                } else {
                    f.why.clone()
                },
            };
            if !out.iter().any(|u| u.np == np) {
                out.push(Unmodelled {
                    policy: p.name.clone(),
                    opening: true,
                    np,
                });
            }
        }
    }
    out
}

/// What is NOT PROVEN about a path that the simulation found closed. A policy's grant and
/// block controls can only close paths, never open one, so an unmodelled policy that
/// applies decides the path only if the path would be single-factor without it: the path
/// is replayed with every such policy treated as not applying (repeatedly, when the
/// replay meets other unmodelled policies further on). Still closed: the verdict rests on
/// what was evaluated and nothing is NOT PROVEN. Open: the unmodelled policies could be
/// all that closes it, and they are NOT PROVEN. Also returns the events replayed.
fn closed_not_proven(
    sc: &Scenario,
    path: &PathSpec,
    epoch: usize,
    trace: &Trace,
) -> (Vec<NotProven>, u64) {
    let mut found: Vec<Unmodelled> = unmodelled_on(sc, trace)
        .into_iter()
        .filter(|u| u.opening)
        .collect();
    let mut events = 0;
    let mut removed: Vec<String> = Vec::new();
    loop {
        let fresh: Vec<String> = found
            .iter()
            .map(|u| u.policy.clone())
            .filter(|p| !removed.contains(p))
            .collect();
        if fresh.is_empty() {
            return (Vec::new(), events);
        }
        removed.extend(fresh);
        removed.sort();
        removed.dedup();
        let mut without = path_scenario(sc, path, epoch);
        for p in without
            .conditional_access
            .iter_mut()
            .filter(|p| removed.contains(&p.name))
        {
            neutralize(p);
        }
        let replay = crate::run(&without, true);
        events += replay.events.len() as u64;
        if verdict_of(&replay).single_factor() {
            return (found.into_iter().map(|u| u.np).collect(), events);
        }
        for u in unmodelled_on(&without, &replay) {
            if u.opening && !found.iter().any(|f| f.np == u.np) {
                found.push(u);
            }
        }
    }
}

/// A policy made to apply to no sign-in (its state stays for the timeline's `set`s, which
/// may address it, and it is disabled too).
fn neutralize(p: &mut hmasim_protocol::policy::CaPolicy) {
    p.state = CaState::Disabled;
    p.include_users = vec!["None".to_string()];
    p.include_groups.clear();
    p.include_roles.clear();
    p.include_guests.clear();
    p.include_user_actions.clear();
    p.include_applications = vec!["None".to_string()];
}

/// Explores every path of every user of `sc` within its scope.
pub fn verify(sc: &Scenario) -> Verification {
    verify_with(sc, &Options::default())
}

/// Explores every path of `sc` within its scope, with options.
pub fn verify_with(sc: &Scenario, opts: &Options) -> Verification {
    let mut graph: DiGraph<String, String> = DiGraph::new();
    let root = graph.add_node(format!(
        "tenant {} ({})",
        sc.tenant.domain,
        sc.identity.model.as_str()
    ));
    let ep = epochs(sc);
    let space = opts.signals_of.iter().fold(classes::Space::of(sc), |s, o| {
        s.merge(classes::Space::of(o))
    });
    let tenant = build::ca_tenant(sc);
    let devices_matter = device_dependent(sc) || opts.signals_of.iter().any(device_dependent);
    let names = opts.signals_of.iter().fold(device_names(sc), |mut acc, o| {
        for n in device_names(o) {
            if !acc.contains(&n) {
                acc.push(n);
            }
        }
        acc
    });
    let users: Vec<&hmasim_scenario::User> = sc
        .users
        .iter()
        .filter(|u| {
            opts.user
                .as_ref()
                .is_none_or(|x| x.eq_ignore_ascii_case(&u.upn))
        })
        .collect();
    let user_classes = classes::user_classes(sc, &users);
    let mut paths: Vec<Explored> = Vec::new();
    let mut counterexamples = Vec::new();
    let mut events = 0;
    let mut raw = 0usize;
    let scope: Vec<ClientKind> = sc.verify.clients.clone();
    for uc in &user_classes {
        let Some(user) = sc.user(&uc.representative) else {
            continue;
        };
        let unode = graph.add_node(format!("user {} ({} in class)", user.upn, uc.members.len()));
        graph.add_edge(root, unode, String::new());
        for &kind in &scope {
            for location in [Location::External, Location::Internal] {
                let known = known_client(sc, kind, &user.upn);
                // Inside, connections leave by the office's egress (or the known
                // client's own address there); outside, every address class.
                let (addresses, raw_addresses): (Vec<Option<IpAddr>>, usize) =
                    if location == Location::Internal {
                        (
                            vec![known
                                .filter(|c| c.location == location)
                                .and_then(|c| c.source_address)],
                            1,
                        )
                    } else {
                        (space.addresses.clone(), space.raw_addresses)
                    };
                let cnode = graph.add_node(format!("{} {}", kind.as_str(), location.as_str()));
                graph.add_edge(unode, cnode, String::new());
                let own = build::default_device(
                    kind,
                    base_client(sc, kind, &user.upn, location).platform,
                );
                for (ai, address) in addresses.iter().enumerate() {
                    for epoch in 0..ep.len() {
                        for continued in [false, true] {
                            if continued && epoch == 0 {
                                continue;
                            }
                            // Verdicts of this address, epoch and session with no risk
                            // detected, by the path's key without risk.
                            let mut at_none: BTreeMap<String, Verdict> = BTreeMap::new();
                            let risk_list: Vec<Option<Risk>> = if space.risks.is_empty() {
                                vec![None]
                            } else {
                                space.risks.iter().copied().map(Some).collect()
                            };
                            for (ri, risk) in risk_list.iter().enumerate() {
                                // A detected risk can only add applying policies: where
                                // that only closes, a path closed with no risk detected
                                // stays closed and is not run again.
                                if ri > 0
                                    && space.risk_monotone
                                    && !at_none.values().any(|v| v.single_factor())
                                {
                                    continue;
                                }
                                let mut client = base_client(sc, kind, &user.upn, location);
                                client.source_address = *address;
                                let first = methods(kind, location, user.mailbox);
                                let mut base_signals =
                                    signals(sc, &tenant, &client, first[0], user.mfa_registered);
                                base_signals.risk = *risk;
                                let base_path = PathSpec {
                                    user: user.upn.clone(),
                                    client: kind,
                                    location,
                                    method: first[0],
                                    signals: base_signals,
                                    continued,
                                };
                                // One world per choice point, branched per method and signal.
                                let base = path_scenario(sc, &base_path, epoch);
                                let world = build(&base);
                                for name in first.clone() {
                                    let (auth, protocol, autodetect) = name.setting();
                                    let (devices, raw_devices) = if uses_device_strings(kind, name)
                                    {
                                        space.devices(own)
                                    } else {
                                        (vec![(None, None)], 1)
                                    };
                                    let user_agents = if uses_device_strings(kind, name) {
                                        space.activesync_user_agents()
                                    } else {
                                        space.user_agents.clone()
                                    };
                                    // The password holder's own device registration,
                                    // only where a filter for devices can tell it apart.
                                    let mut registrations: Vec<(bool, Option<String>)> =
                                        vec![(false, None)];
                                    if devices_matter
                                        && auth == AuthMethod::Modern
                                        && kind != ClientKind::NativeMail
                                    {
                                        registrations
                                            .extend(names.iter().map(|n| (true, n.clone())));
                                    }
                                    if ai == 0 && ri == 0 {
                                        raw += uc.members.len()
                                            * classes::RAW_PLATFORMS
                                            * raw_addresses
                                            * raw_devices
                                            * registrations.len()
                                            * space.raw_risks;
                                    }
                                    for ua in &user_agents {
                                        for ((dt, dm), (registers, device_name)) in devices
                                            .iter()
                                            .flat_map(|d| registrations.iter().map(move |r| (d, r)))
                                        {
                                            let registers = *registers;
                                            let variant = Client {
                                                auth,
                                                protocol,
                                                autodetect,
                                                user_agent: ua.clone(),
                                                device_type: dt.clone(),
                                                device_model: dm.clone(),
                                                device: if registers {
                                                    DeviceState::Registers
                                                } else {
                                                    client.device.clone()
                                                },
                                                device_name: device_name.clone(),
                                                ..client.clone()
                                            };
                                            let mut path = PathSpec {
                                                method: name,
                                                signals: signals(
                                                    sc,
                                                    &tenant,
                                                    &variant,
                                                    name,
                                                    user.mfa_registered,
                                                ),
                                                ..base_path.clone()
                                            };
                                            path.signals.risk = *risk;
                                            let plain = path.key_without_risk();
                                            if ri > 0
                                                && space.risk_monotone
                                                && !at_none
                                                    .get(&plain)
                                                    .is_some_and(|v| v.single_factor())
                                            {
                                                continue;
                                            }
                                            let branch_sc = path_scenario(sc, &path, epoch);
                                            let mut branch = world.clone();
                                            let auth: Auth = client_auth(
                                                &variant,
                                                user.mailbox,
                                                &sc.mail_host(),
                                            );
                                            let (ua_sent, device) = build::presented(&variant);
                                            if let Party::Client(c) =
                                                branch.world.actor_mut(branch.clients[0])
                                            {
                                                c.set_auth(auth);
                                                c.set_presented(ua_sent, device);
                                                c.set_register_device(
                                                    registers,
                                                    device_name.clone(),
                                                );
                                            }
                                            let trace = run_built(&branch_sc, branch, true);
                                            events += trace.events.len() as u64;
                                            let o = &trace.outcome;
                                            let verdict = verdict_of(&trace);
                                            if ri == 0 {
                                                at_none.insert(plain.clone(), verdict);
                                            }
                                            let leaf = graph.add_node(match verdict {
                                                Verdict::NoAccess => format!(
                                                    "no access ({})",
                                                    o.failure
                                                        .as_ref()
                                                        .map(|f| f.code.as_str())
                                                        .unwrap_or("none")
                                                ),
                                                v => v.label().to_string(),
                                            });
                                            graph.add_edge(
                                                cnode,
                                                leaf,
                                                format!(
                                                    "{name} epoch {epoch}{} ua {} from {}{}{}",
                                                    if continued { " continued" } else { "" },
                                                    path.signals.platform,
                                                    path.signals.address,
                                                    match (&dt, &dm) {
                                                        (None, None) => String::new(),
                                                        _ => format!(
                                                            " device {}/{}",
                                                            dt.as_deref().unwrap_or("-"),
                                                            dm.as_deref().unwrap_or("-")
                                                        ),
                                                    },
                                                    match risk {
                                                        Some(r) if r.detected() =>
                                                            format!(" {}", r.describe()),
                                                        _ => String::new(),
                                                    }
                                                ),
                                            );
                                            let not_proven = if verdict.single_factor() {
                                                unmodelled_on(sc, &trace)
                                                    .into_iter()
                                                    .map(|u| u.np)
                                                    .collect()
                                            } else {
                                                let (np, reruns) =
                                                    closed_not_proven(sc, &path, epoch, &trace);
                                                events += reruns;
                                                np
                                            };
                                            paths.push(Explored {
                                                path: path.clone(),
                                                epoch,
                                                verdict,
                                                stopped_by: o
                                                    .failure
                                                    .as_ref()
                                                    .map(|f| format!("{} at {}", f.code, f.party)),
                                                holds_at_end: o
                                                    .clients
                                                    .first()
                                                    .is_some_and(|c| c.holds_at_end),
                                                not_proven,
                                            });
                                            // A continued session is a new finding only
                                            // when the change opens it: the fresh sign-in
                                            // of the previous epoch was not single-factor
                                            // already. A path at a detected risk is a
                                            // finding of its own only when it is closed
                                            // with no risk detected (a policy that names
                                            // the level `none`).
                                            let already = (continued
                                                && paths.iter().any(|p| {
                                                    !p.path.continued
                                                        && p.epoch + 1 == epoch
                                                        && p.path.key() == path.key()
                                                        && p.verdict.single_factor()
                                                }))
                                                || (ri > 0
                                                    && at_none
                                                        .get(&plain)
                                                        .is_some_and(|v| v.single_factor()));
                                            // A path opened by the device registration is
                                            // its own finding only when the same path
                                            // without the registration is closed (else
                                            // that path's fix closes both).
                                            let via_registration = registers
                                                && paths.iter().rev().any(|p| {
                                                    p.epoch == epoch
                                                        && p.path.continued == continued
                                                        && !p.path.signals.registers_device
                                                        && p.path.key() == twin_key(&path)
                                                        && !p.verdict.single_factor()
                                                });
                                            let twin_open = registers && !via_registration;
                                            if verdict.single_factor() && !already && !twin_open {
                                                let (control, command) = if via_registration {
                                                    device_registration_control(sc)
                                                } else if verdict
                                                    == Verdict::RegistersMfaWithPassword
                                                {
                                                    registration_control()
                                                } else {
                                                    crate::findings::fix_for(sc, &path, &trace)
                                                        .describe(sc)
                                                };
                                                counterexamples.push(Counterexample {
                                                    path,
                                                    epoch,
                                                    verdict,
                                                    control,
                                                    command,
                                                    trace,
                                                    closed_at_risk: None,
                                                });
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
    // "MFA only if risk is detected": a single-factor path with no risk detected that a
    // detected risk closes (the same path, epoch and session at another level).
    if !space.risks.is_empty() {
        let mut closed: BTreeMap<(String, usize, bool), Risk> = BTreeMap::new();
        for p in paths.iter().rev() {
            if let Some(r) = p.path.signals.risk.filter(|r| r.detected()) {
                if !p.verdict.single_factor() {
                    closed.insert((p.path.key_without_risk(), p.epoch, p.path.continued), r);
                }
            }
        }
        for c in counterexamples
            .iter_mut()
            .filter(|c| c.path.signals.risk.is_some_and(|r| !r.detected()))
        {
            c.closed_at_risk = closed
                .get(&(c.path.key_without_risk(), c.epoch, c.path.continued))
                .copied();
        }
    }
    // When a path opens or closes: fresh sign-ins of consecutive epochs compared.
    let mut by_key: BTreeMap<(String, usize), Verdict> = BTreeMap::new();
    for p in paths.iter().filter(|p| !p.path.continued) {
        by_key.insert((p.path.key(), p.epoch), p.verdict);
    }
    let transitions = paths
        .iter()
        .filter(|p| !p.path.continued && p.epoch > 0)
        .filter_map(|p| {
            let before = *by_key.get(&(p.path.key(), p.epoch - 1))?;
            (before != p.verdict).then(|| Transition {
                path: p.path.clone(),
                at_ms: ep[p.epoch].from_ms,
                before,
                after: p.verdict,
            })
        })
        .collect();
    let mut not_proven: Vec<NotProven> = paths
        .iter()
        .flat_map(|p| p.not_proven.iter().cloned())
        .chain(
            sc.verify
                .unmodelled
                .iter()
                .filter(|f| !names_policy(sc, &f.object))
                .map(|f| NotProven {
                    policy: f.object.clone(),
                    field: f.field.clone(),
                    why: if f.why.is_empty() {
                        "the scenario marks it unmodelled".to_string()
                    } else {
                        f.why.clone()
                    },
                }),
        )
        .collect();
    not_proven.sort();
    not_proven.dedup();
    let explored = Counts {
        paths: paths.len(),
        classes: user_classes.len(),
        pruned: raw.saturating_sub(paths.len()),
    };
    Verification {
        scope: scope.iter().map(|k| k.as_str()).collect(),
        epochs: ep,
        paths,
        events,
        counterexamples,
        not_proven,
        explored,
        user_classes,
        transitions,
        graph,
        coverage: coverage(sc),
    }
}

/// Whether `object` names one of the scenario's Conditional Access policies: a
/// `verify.unmodelled` fact about a policy decides only the paths that policy could.
fn names_policy(sc: &Scenario, object: &str) -> bool {
    sc.conditional_access.iter().any(|p| p.name == object)
}

/// The Graph `conditionalAccessPolicy` that guards MFA registration: the user action
/// `urn:user:registersecurityinfo` allowed only from trusted locations.
pub fn registration_policy_body() -> String {
    serde_json::json!({
        "displayName": "Register security information only from trusted locations",
        "state": "enabled",
        "conditions": {
            "users": {"includeUsers": ["All"]},
            "applications": {"includeUserActions": [hmasim_protocol::policy::REGISTER_SECURITY_INFO]},
            "locations": {"includeLocations": ["All"], "excludeLocations": ["AllTrusted"]},
            "clientAppTypes": ["all"],
        },
        "grantControls": {"operator": "OR", "builtInControls": ["block"]},
    })
    .to_string()
}

/// The Graph `conditionalAccessPolicy` that guards device registration: the user action
/// `urn:user:registerdevice` requires MFA.
pub fn device_registration_policy_body() -> String {
    serde_json::json!({
        "displayName": "Require MFA to register or join devices",
        "state": "enabled",
        "conditions": {
            "users": {"includeUsers": ["All"]},
            "applications": {"includeUserActions": [hmasim_protocol::policy::REGISTER_DEVICE]},
            "clientAppTypes": ["all"],
        },
        "grantControls": {"operator": "OR", "builtInControls": ["mfa"]},
    })
    .to_string()
}

fn device_registration_control(sc: &Scenario) -> (String, String) {
    crate::findings::device_registration_fix(sc).describe(sc)
}

fn registration_control() -> (String, String) {
    (
        "a Conditional Access policy on the user action 'register security information' (urn:user:registersecurityinfo) blocking it outside trusted locations (or a Temporary Access Pass for the first registration)".to_string(),
        format!(
            "Invoke-MgGraphRequest -Method POST -Uri \"https://graph.microsoft.com/v1.0/identity/conditionalAccess/policies\" -ContentType \"application/json\" -Body '{}'",
            registration_policy_body()
        ),
    )
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
