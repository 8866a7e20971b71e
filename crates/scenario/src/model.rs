//! The scenario format.

use serde::{Deserialize, Serialize};

pub use hmasim_protocol::policy::{
    CaPolicy, CaState, ClientAppType, GrantControl, IdentityModel, Operator,
};
use hmasim_protocol::{FlowId, PartyKind};

use crate::Span;

/// The seed used when neither the scenario nor `--seed` gives one.
pub const DEFAULT_SEED: u64 = 1;

fn default_seed() -> u64 {
    DEFAULT_SEED
}
fn yes() -> bool {
    true
}

/// A whole scenario.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// The scenario's name.
    pub name: String,
    /// One line saying what it shows.
    #[serde(default)]
    pub summary: String,
    /// The documented flow whose step numbers the trace carries (a name from flows.md);
    /// inferred from the first user action when absent.
    #[serde(default)]
    pub flow: Option<String>,
    /// The seed of every random stream.
    #[serde(default = "default_seed")]
    pub seed: u64,
    /// How long to run.
    #[serde(default)]
    pub run: Run,
    /// The tenant.
    pub tenant: Tenant,
    /// How users sign in.
    #[serde(default)]
    pub identity: Identity,
    /// Users.
    pub users: Vec<User>,
    /// The clients they use.
    pub clients: Vec<Client>,
    /// Exchange on-premises and its namespaces.
    #[serde(default)]
    pub onprem: Onprem,
    /// The load balancer in front of Exchange on-premises.
    #[serde(default)]
    pub load_balancer: LoadBalancer,
    /// AD FS.
    #[serde(default)]
    pub adfs: Adfs,
    /// Entra ID settings.
    #[serde(default)]
    pub entra: Entra,
    /// Conditional Access policies.
    #[serde(default)]
    pub conditional_access: Vec<CaPolicy>,
    /// Conditional Access policies exported from Microsoft Graph (`conditionalAccessPolicy`
    /// JSON: a file or a directory of files), relative to the scenario file. Read when the
    /// scenario file is loaded and appended to `conditional_access` (see `graph`); bundled
    /// scenarios cannot use it.
    #[serde(default)]
    pub conditional_access_files: Vec<String>,
    /// The tenant's named locations: what the location ids of Graph policies stand for.
    #[serde(default)]
    pub named_locations: Vec<hmasim_protocol::policy::NamedLocation>,
    /// Latencies.
    #[serde(default)]
    pub network: Network,
    /// What happens, when.
    #[serde(default)]
    pub timeline: Vec<Action>,
}

/// Run length and guards.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Run {
    /// Simulated time to run for.
    #[serde(default = "Run::default_duration")]
    pub duration: Span,
    /// Give up after this many events.
    #[serde(default = "Run::default_max_events")]
    pub max_events: u64,
}

impl Run {
    fn default_duration() -> Span {
        Span(15 * 60_000)
    }
    fn default_max_events() -> u64 {
        1_000_000
    }
}

impl Default for Run {
    fn default() -> Self {
        Run {
            duration: Run::default_duration(),
            max_events: Run::default_max_events(),
        }
    }
}

/// The tenant.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tenant {
    /// The accepted (and federated) domain.
    pub domain: String,
    /// The tenant id (a GUID).
    pub tenant_id: String,
}

/// The identity model and federation settings.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Identity {
    /// `federated`, `phs` or `pta`.
    #[serde(default)]
    pub model: IdentityModel,
}

/// Where a mailbox lives.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MailboxLocation {
    /// Exchange Online.
    Online,
    /// Exchange Server on-premises.
    Onprem,
}

/// A user.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct User {
    /// User principal name (also the email address).
    pub upn: String,
    /// The password in Active Directory (and what the user types).
    #[serde(default = "User::default_password")]
    pub password: String,
    /// Where the mailbox lives.
    pub mailbox: MailboxLocation,
    /// Group memberships.
    #[serde(default)]
    pub groups: Vec<String>,
    /// Whether the user has registered for Entra MFA.
    #[serde(default = "yes")]
    pub mfa_registered: bool,
}

impl User {
    fn default_password() -> String {
        "P@ssw0rd!".to_string()
    }
}

/// A kind of client.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ClientKind {
    /// Outlook for Windows / Mac.
    OutlookDesktop,
    /// Outlook for iOS / Android.
    OutlookMobile,
    /// A web browser.
    Browser,
}

impl ClientKind {
    /// The party kind.
    pub fn party(self) -> PartyKind {
        match self {
            ClientKind::OutlookDesktop => PartyKind::OutlookDesktop,
            ClientKind::OutlookMobile => PartyKind::OutlookMobile,
            ClientKind::Browser => PartyKind::Browser,
        }
    }
}

/// Where a client sits.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Location {
    /// On the corporate network.
    Internal,
    /// On the Internet.
    #[default]
    External,
}

/// The device's management state.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DeviceState {
    /// Not managed.
    #[default]
    Unmanaged,
    /// Enrolled in Intune and compliant.
    Compliant,
    /// Hybrid Entra joined.
    DomainJoined,
}

/// The client's platform.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Platform {
    /// Windows.
    #[default]
    Windows,
    /// macOS.
    Macos,
    /// iOS.
    Ios,
    /// Android.
    Android,
}

/// A client a user holds.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Client {
    /// Its id in traces; defaults to the kind (`outlook-mobile`...).
    #[serde(default)]
    pub id: Option<String>,
    /// What it is.
    pub kind: ClientKind,
    /// Whose it is (a UPN from `users`).
    pub user: String,
    /// Platform.
    #[serde(default)]
    pub platform: Platform,
    /// Network location.
    #[serde(default)]
    pub location: Location,
    /// Device state.
    #[serde(default)]
    pub device: DeviceState,
}

impl Client {
    /// The id the client carries in traces.
    pub fn party_id(&self) -> String {
        self.id
            .clone()
            .unwrap_or_else(|| self.kind.party().id().to_string())
    }
}

/// How Exchange on-premises is published to the Internet.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Publishing {
    /// Through the Web Application Proxy (pass-through publishing).
    #[default]
    Wap,
    /// The load balancer faces the Internet directly.
    Direct,
}

/// Exchange Server on-premises.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Onprem {
    /// AutoDiscover host; default `autodiscover.<domain>`.
    #[serde(default)]
    pub autodiscover_host: Option<String>,
    /// Mail host (OWA, ActiveSync, MAPI, EWS); default `mail.<domain>`.
    #[serde(default)]
    pub mail_host: Option<String>,
    /// ExternalURL of the ActiveSync virtual directory; default
    /// `https://<mail_host>/Microsoft-Server-ActiveSync`.
    #[serde(default)]
    pub activesync_external_url: Option<String>,
    /// Hybrid modern authentication: the EvoSTS auth server is configured.
    #[serde(default = "yes")]
    pub hybrid_modern_auth: bool,
    /// EvoSTS is the default authorization endpoint (`IsDefaultAuthorizationEndpoint`).
    #[serde(default = "yes")]
    pub evosts_default_authorization_endpoint: bool,
    /// OWA and ECP use AD FS claims-based authentication.
    #[serde(default = "yes")]
    pub owa_adfs_claims: bool,
    /// How the namespaces are reached from the Internet.
    #[serde(default)]
    pub publishing: Publishing,
}

impl Default for Onprem {
    fn default() -> Self {
        Onprem {
            autodiscover_host: None,
            mail_host: None,
            activesync_external_url: None,
            hybrid_modern_auth: true,
            evosts_default_authorization_endpoint: true,
            owa_adfs_claims: true,
            publishing: Publishing::Wap,
        }
    }
}

/// How the load balancer handles TLS.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TlsMode {
    /// Terminate and re-encrypt: Exchange sees `https://`.
    #[default]
    Bridging,
    /// Terminate and forward in clear: Exchange sees `http://`.
    Offloading,
}

/// The load balancer.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoadBalancer {
    /// TLS bridging or offloading.
    #[serde(default)]
    pub tls: TlsMode,
}

/// The AD FS access control policy on the Office 365 relying party trust.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AdfsPolicy {
    /// Permit everyone.
    #[default]
    PermitEveryone,
    /// Permit everyone and require MFA.
    RequireMfa,
    /// Permit everyone and require MFA from the extranet.
    RequireMfaExtranet,
    /// Permit everyone and require MFA for members of `adfs.mfa_group`.
    RequireMfaGroup,
}

/// AD FS.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Adfs {
    /// Federation service host; default `sts.<domain>`.
    #[serde(default)]
    pub host: Option<String>,
    /// Access control policy of the Office 365 relying party trust.
    #[serde(default)]
    pub office365_policy: AdfsPolicy,
    /// Access control policy of the Exchange OWA/ECP relying party trusts.
    #[serde(default)]
    pub owa_policy: AdfsPolicy,
    /// The group for `require-mfa-group`.
    #[serde(default)]
    pub mfa_group: Option<String>,
}

/// Entra ID settings.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Entra {
    /// Access token lifetime (the source's default: 1 hour).
    #[serde(default = "Entra::default_at")]
    pub access_token_lifetime: Span,
    /// Refresh token lifetime (the source's default: 14 days).
    #[serde(default = "Entra::default_rt")]
    pub refresh_token_lifetime: Span,
    /// Entra ID accepts MFA performed by AD FS for the federated domain
    /// (`federatedIdpMfaBehavior = acceptIfMfaDoneByFederatedIdp`).
    #[serde(default = "yes")]
    pub accept_adfs_mfa: bool,
}

impl Entra {
    fn default_at() -> Span {
        Span(3_600_000)
    }
    fn default_rt() -> Span {
        Span(14 * 86_400_000)
    }
}

impl Default for Entra {
    fn default() -> Self {
        Entra {
            access_token_lifetime: Entra::default_at(),
            refresh_token_lifetime: Entra::default_rt(),
            accept_adfs_mfa: true,
        }
    }
}

/// Latencies.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Network {
    /// Default one-way latency in ms.
    #[serde(default = "Network::default_latency")]
    pub latency_ms: u64,
    /// Default jitter bound in ms (uniform, seeded).
    #[serde(default = "Network::default_jitter")]
    pub jitter_ms: u64,
    /// Links with their own latency.
    #[serde(default)]
    pub links: Vec<Link>,
}

impl Network {
    fn default_latency() -> u64 {
        20
    }
    fn default_jitter() -> u64 {
        5
    }
}

impl Default for Network {
    fn default() -> Self {
        Network {
            latency_ms: Network::default_latency(),
            jitter_ms: Network::default_jitter(),
            links: Vec::new(),
        }
    }
}

/// One directed link's latency.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Link {
    /// Sender party id.
    pub from: String,
    /// Receiver party id.
    pub to: String,
    /// One-way latency in ms.
    pub latency_ms: u64,
    /// Jitter bound in ms.
    #[serde(default)]
    pub jitter_ms: u64,
}

/// What a user does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ActionKind {
    /// Add the account in Outlook mobile.
    AddAccount,
    /// Start Outlook desktop.
    StartOutlook,
    /// Open OWA in the browser.
    OpenOwa,
}

/// One timeline entry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Action {
    /// When.
    pub at: Span,
    /// The client id (see [`Client::party_id`]).
    pub client: String,
    /// What the user does.
    #[serde(rename = "do")]
    pub action: ActionKind,
}

/// A cross-reference or value that does not hold, found after parsing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Invalid {
    /// The dotted path of the field (`clients.0.user`).
    pub path: String,
    /// The key as written in the file (`user`), to locate it.
    pub key: String,
    /// The offending value as written.
    pub value: String,
    /// What is wrong.
    pub message: String,
    /// What was expected.
    pub expected: String,
}

impl Scenario {
    /// The accepted domain's AutoDiscover host.
    pub fn autodiscover_host(&self) -> String {
        self.onprem
            .autodiscover_host
            .clone()
            .unwrap_or_else(|| format!("autodiscover.{}", self.tenant.domain))
    }
    /// The on-premises mail host.
    pub fn mail_host(&self) -> String {
        self.onprem
            .mail_host
            .clone()
            .unwrap_or_else(|| format!("mail.{}", self.tenant.domain))
    }
    /// The ActiveSync ExternalURL.
    pub fn activesync_url(&self) -> String {
        self.onprem
            .activesync_external_url
            .clone()
            .unwrap_or_else(|| format!("https://{}/Microsoft-Server-ActiveSync", self.mail_host()))
    }
    /// The AD FS host.
    pub fn adfs_host(&self) -> String {
        self.adfs
            .host
            .clone()
            .unwrap_or_else(|| format!("sts.{}", self.tenant.domain))
    }
    /// The documented flow the trace is numbered against, if any.
    pub fn flow_id(&self) -> Option<FlowId> {
        self.flow.as_deref().and_then(FlowId::from_name)
    }
    /// The user with `upn`.
    pub fn user(&self, upn: &str) -> Option<&User> {
        self.users.iter().find(|u| u.upn.eq_ignore_ascii_case(upn))
    }

    /// Checks what serde cannot: references between fields and value ranges.
    pub fn validate(&self) -> Result<(), Invalid> {
        let bad =
            |path: String, key: &str, value: &str, message: String, expected: String| Invalid {
                path,
                key: key.to_string(),
                value: value.to_string(),
                message,
                expected,
            };
        if let Some(f) = &self.flow {
            if FlowId::from_name(f).is_none() {
                let names: Vec<_> = FlowId::ALL.iter().map(|f| f.name()).collect();
                return Err(bad(
                    "flow".into(),
                    "flow",
                    f,
                    format!("unknown flow `{f}`"),
                    format!("one of {}", names.join(", ")),
                ));
            }
        }
        if !self.tenant.domain.contains('.') || self.tenant.domain.contains(char::is_whitespace) {
            return Err(bad(
                "tenant.domain".into(),
                "domain",
                &self.tenant.domain,
                "not a DNS domain".into(),
                "a domain such as `contoso.com`".into(),
            ));
        }
        if self.users.is_empty() {
            return Err(bad(
                "users".into(),
                "users",
                "[]",
                "no users".into(),
                "at least one [[users]] entry".into(),
            ));
        }
        for (i, u) in self.users.iter().enumerate() {
            if !u.upn.contains('@') {
                return Err(bad(
                    format!("users.{i}.upn"),
                    "upn",
                    &u.upn,
                    "not a user principal name".into(),
                    "`name@domain`".into(),
                ));
            }
            if self.users[..i]
                .iter()
                .any(|o| o.upn.eq_ignore_ascii_case(&u.upn))
            {
                return Err(bad(
                    format!("users.{i}.upn"),
                    "upn",
                    &u.upn,
                    format!("user `{}` is listed twice", u.upn),
                    "each UPN once".into(),
                ));
            }
        }
        let upns: Vec<_> = self.users.iter().map(|u| u.upn.as_str()).collect();
        let mut ids: Vec<String> = Vec::new();
        for (i, c) in self.clients.iter().enumerate() {
            if self.user(&c.user).is_none() {
                return Err(bad(
                    format!("clients.{i}.user"),
                    "user",
                    &c.user,
                    format!("unknown user `{}`", c.user),
                    format!("one of the users: {}", upns.join(", ")),
                ));
            }
            let id = c.party_id();
            if ids.contains(&id) || PartyKind::from_id(&id).is_some_and(|p| !p.is_client()) {
                return Err(bad(
                    format!("clients.{i}.id"),
                    if c.id.is_some() { "id" } else { "kind" },
                    &id,
                    format!("client id `{id}` is already taken"),
                    "a unique `id` for each client".into(),
                ));
            }
            ids.push(id);
        }
        let parties: Vec<String> = PartyKind::ALL
            .iter()
            .filter(|p| !p.is_client())
            .map(|p| p.id().to_string())
            .chain(ids.iter().cloned())
            .collect();
        for (i, l) in self.network.links.iter().enumerate() {
            for (key, v) in [("from", &l.from), ("to", &l.to)] {
                if !parties.contains(v) {
                    return Err(bad(
                        format!("network.links.{i}.{key}"),
                        key,
                        v,
                        format!("unknown party `{v}`"),
                        format!("one of {}", parties.join(", ")),
                    ));
                }
            }
        }
        let mut last = 0;
        for (i, a) in self.timeline.iter().enumerate() {
            if !ids.contains(&a.client) {
                return Err(bad(
                    format!("timeline.{i}.client"),
                    "client",
                    &a.client,
                    format!("unknown client `{}`", a.client),
                    format!("one of the clients: {}", ids.join(", ")),
                ));
            }
            if a.at.ms() < last {
                return Err(bad(
                    format!("timeline.{i}.at"),
                    "at",
                    &a.at.to_string(),
                    "timeline entries out of order".into(),
                    format!("a time at or after {}", crate::Span(last)),
                ));
            }
            last = a.at.ms();
            let kind = self
                .clients
                .iter()
                .find(|c| c.party_id() == a.client)
                .map(|c| c.kind);
            let fits = matches!(
                (kind, a.action),
                (Some(ClientKind::OutlookMobile), ActionKind::AddAccount)
                    | (Some(ClientKind::OutlookDesktop), ActionKind::StartOutlook)
                    | (Some(ClientKind::Browser), ActionKind::OpenOwa)
            );
            if !fits {
                let expected = match kind {
                    Some(ClientKind::OutlookMobile) => "`add-account` for outlook-mobile",
                    Some(ClientKind::OutlookDesktop) => "`start-outlook` for outlook-desktop",
                    _ => "`open-owa` for a browser",
                };
                let v = serde_json::to_value(a.action)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_string))
                    .unwrap_or_default();
                return Err(bad(
                    format!("timeline.{i}.do"),
                    "do",
                    &v,
                    format!("`{v}` is not something client `{}` does", a.client),
                    expected.into(),
                ));
            }
        }
        if self.adfs.mfa_group.is_none()
            && (self.adfs.office365_policy == AdfsPolicy::RequireMfaGroup
                || self.adfs.owa_policy == AdfsPolicy::RequireMfaGroup)
        {
            return Err(bad(
                "adfs.mfa_group".into(),
                "office365_policy",
                "require-mfa-group",
                "`require-mfa-group` needs `adfs.mfa_group`".into(),
                "adfs.mfa_group = \"GROUP\"".into(),
            ));
        }
        if self.run.duration.ms() == 0 {
            return Err(bad(
                "run.duration".into(),
                "duration",
                "0",
                "the run has no time".into(),
                "a positive duration".into(),
            ));
        }
        Ok(())
    }
}
