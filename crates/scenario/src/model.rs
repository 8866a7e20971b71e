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
    /// without it, events carry no step numbers.
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
    /// The Web Application Proxy.
    #[serde(default)]
    pub wap: Wap,
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
    /// Parties whose clock is off (`[[clocks]] party = "entra-id", skew = "+6m"`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub clocks: Vec<Clock>,
    /// What `hmasim verify` explores.
    #[serde(default)]
    pub verify: VerifyScope,
    /// The documented fix (fault scenarios).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fix: Option<Fix>,
    /// Exchange Online settings.
    #[serde(default)]
    pub exchange_online: ExchangeOnline,
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

/// The identity model and directory synchronization.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Identity {
    /// `federated`, `phs` or `pta`.
    #[serde(default)]
    pub model: IdentityModel,
    /// How often Entra Connect synchronizes the directory (password changes reach Entra ID
    /// at the next cycle).
    #[serde(default = "Identity::default_sync")]
    pub sync_interval: Span,
    /// Federated: AD FS sends password-expiry claims, so Entra ID can act on password
    /// changes (revoke refresh tokens once the change has synced).
    #[serde(default)]
    pub password_expiry_claims: bool,
    /// PTA: password writeback is enabled, so Entra ID learns of password changes.
    #[serde(default)]
    pub password_writeback: bool,
}

impl<'de> Deserialize<'de> for ExchangeVersion {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = ExchangeVersion;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("one of `2010`, `2013`, `2016`, `2019`")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<ExchangeVersion, E> {
                match v {
                    "2010" => Ok(ExchangeVersion::V2010),
                    "2013" => Ok(ExchangeVersion::V2013),
                    "2016" => Ok(ExchangeVersion::V2016),
                    "2019" => Ok(ExchangeVersion::V2019),
                    _ => Err(E::unknown_variant(v, &["2010", "2013", "2016", "2019"])),
                }
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<ExchangeVersion, E> {
                self.visit_str(&v.to_string())
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<ExchangeVersion, E> {
                self.visit_str(&v.to_string())
            }
        }
        d.deserialize_any(V)
    }
}

impl Identity {
    fn default_sync() -> Span {
        Span(30 * 60_000)
    }
}

impl Default for Identity {
    fn default() -> Self {
        Identity {
            model: IdentityModel::Federated,
            sync_interval: Identity::default_sync(),
            password_expiry_claims: false,
            password_writeback: false,
        }
    }
}

/// The Exchange Server version hosting an on-premises mailbox, written `"2019"` or `2019`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub enum ExchangeVersion {
    /// Exchange 2010 (no OAuth).
    #[serde(rename = "2010")]
    V2010,
    /// Exchange 2013.
    #[serde(rename = "2013")]
    V2013,
    /// Exchange 2016.
    #[serde(rename = "2016")]
    V2016,
    /// Exchange 2019.
    #[default]
    #[serde(rename = "2019")]
    V2019,
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
    /// The Exchange version of the server hosting an on-premises mailbox.
    #[serde(default)]
    pub exchange_version: ExchangeVersion,
    /// Exchange Online authentication policy assigned to the user (`Set-User
    /// -AuthenticationPolicy`), overriding the organization default.
    #[serde(default)]
    pub authentication_policy: Option<String>,
    /// Exchange on-premises authentication policy assigned to the user.
    #[serde(default)]
    pub onprem_authentication_policy: Option<String>,
    /// Directory roles the user holds (names such as `Global Administrator`, or role
    /// template ids), as Conditional Access's role conditions read them.
    #[serde(default)]
    pub roles: Vec<String>,
    /// A guest or external user of this type (Graph's `guestOrExternalUserTypes`:
    /// `internalGuest`, `b2bCollaborationGuest`, `b2bCollaborationMember`,
    /// `b2bDirectConnectUser`, `otherExternalUser`, `serviceProvider`); absent for a member.
    #[serde(default)]
    pub guest: Option<String>,
    /// The user risk Entra ID Protection holds for the user (`none`, `low`, `medium`,
    /// `high`): what a policy's `userRiskLevels` condition reads. Entra scores it, not
    /// the attacker; `hmasim verify` explores every level a policy distinguishes.
    #[serde(default, skip_serializing_if = "is_default")]
    pub user_risk: hmasim_protocol::policy::RiskLevel,
    /// The sign-in risk Identity Protection scores for this user's sign-ins in the run
    /// (`none`, `low`, `medium`, `high`): what `signInRiskLevels` reads.
    #[serde(default, skip_serializing_if = "is_default")]
    pub sign_in_risk: hmasim_protocol::policy::RiskLevel,
    /// The insider risk Microsoft Purview's adaptive protection assigns the user (`none`,
    /// `minor`, `moderate`, `elevated`): what `insiderRiskLevels` reads.
    #[serde(default, skip_serializing_if = "is_default")]
    pub insider_risk: hmasim_protocol::policy::InsiderRiskLevel,
}

fn is_default<T: Default + PartialEq>(x: &T) -> bool {
    *x == T::default()
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
    /// A mobile OS mail app speaking ActiveSync with Basic authentication.
    NativeMail,
}

impl ClientKind {
    /// The party kind.
    pub fn party(self) -> PartyKind {
        match self {
            ClientKind::OutlookDesktop => PartyKind::OutlookDesktop,
            ClientKind::OutlookMobile => PartyKind::OutlookMobile,
            ClientKind::Browser => PartyKind::Browser,
            ClientKind::NativeMail => PartyKind::NativeMail,
        }
    }

    /// Its stable id (`outlook-desktop`, `browser`...), as scenarios and traces spell it.
    pub const fn as_str(self) -> &'static str {
        match self {
            ClientKind::OutlookDesktop => "outlook-desktop",
            ClientKind::OutlookMobile => "outlook-mobile",
            ClientKind::Browser => "browser",
            ClientKind::NativeMail => "native-mail",
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

impl std::fmt::Display for ClientKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(self.as_str())
    }
}

impl std::fmt::Display for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(self.as_str())
    }
}

impl Location {
    /// As scenarios spell it: `internal`, `external`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Location::Internal => "internal",
            Location::External => "external",
        }
    }
}

/// The client's device, as Entra ID's directory knows it. Written as a string
/// (`unmanaged`, `compliant`, `domain-joined`, `registers`) or as a table of a registered
/// device's attributes (`{ id = "GUID", trust_type = "Workplace", is_compliant = true,
/// operating_system = "Windows", extension_attributes = { 1 = "SAW" }, ... }`). A
/// registered device presents its device credential to Entra ID on every sign-in;
/// `compliant` and `domain-joined` are registered devices with attributes the world
/// builder derives (an Intune-managed, compliant Entra-joined device; a hybrid joined one).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum DeviceState {
    /// Not registered with Entra ID: it presents no device credential.
    #[default]
    Unmanaged,
    /// Enrolled in Intune and compliant.
    Compliant,
    /// Hybrid Entra joined.
    DomainJoined,
    /// Not registered: the client registers it with the Device Registration Service
    /// (a Workplace join, as a password holder can) before its first sign-in.
    Registers,
    /// A registered device with these attributes.
    Registered(Box<hmasim_protocol::device::DeviceRecord>),
}

impl DeviceState {
    /// The spellings of the string form.
    pub const NAMES: [&'static str; 4] = ["unmanaged", "compliant", "domain-joined", "registers"];

    /// The directory's record of this device, for the client `name` in a world seeded
    /// with `seed` (derived ids and attributes for `compliant` and `domain-joined`), or
    /// `None` for a device Entra ID does not know.
    pub fn record(
        &self,
        name: &str,
        platform: Platform,
        seed: u64,
    ) -> Option<hmasim_protocol::device::DeviceRecord> {
        use hmasim_protocol::device::{derived_id, DeviceRecord, TrustType, INTUNE_MDM_APP_ID};
        let os = match platform {
            Platform::Windows => "Windows",
            Platform::Macos => "MacMDM",
            Platform::Ios => "iOS",
            Platform::Android => "Android",
        };
        let mut r = match self {
            DeviceState::Unmanaged | DeviceState::Registers => return None,
            DeviceState::Registered(r) => return Some((**r).clone()),
            DeviceState::Compliant => {
                let mut r = DeviceRecord::new(derived_id(name, seed), TrustType::AzureAd);
                r.is_compliant = true;
                r.mdm_app_id = Some(INTUNE_MDM_APP_ID.to_string());
                r.device_ownership = Some("Company".to_string());
                r
            }
            DeviceState::DomainJoined => {
                let mut r = DeviceRecord::new(derived_id(name, seed), TrustType::ServerAd);
                r.device_ownership = Some("Company".to_string());
                r
            }
        };
        r.operating_system = Some(os.to_string());
        Some(r)
    }

    /// Whether the device is hybrid joined (it can get Kerberos tickets inside).
    pub fn domain_joined(&self) -> bool {
        match self {
            DeviceState::DomainJoined => true,
            DeviceState::Registered(r) => {
                r.trust_type == hmasim_protocol::device::TrustType::ServerAd
            }
            _ => false,
        }
    }
}

impl Serialize for DeviceState {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            DeviceState::Unmanaged => s.serialize_str("unmanaged"),
            DeviceState::Compliant => s.serialize_str("compliant"),
            DeviceState::DomainJoined => s.serialize_str("domain-joined"),
            DeviceState::Registers => s.serialize_str("registers"),
            DeviceState::Registered(r) => r.serialize(s),
        }
    }
}

impl<'de> Deserialize<'de> for DeviceState {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = DeviceState;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(
                    "one of `unmanaged`, `compliant`, `domain-joined`, `registers`, or a table of a registered device's attributes",
                )
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<DeviceState, E> {
                Ok(match v {
                    "unmanaged" => DeviceState::Unmanaged,
                    "compliant" => DeviceState::Compliant,
                    "domain-joined" => DeviceState::DomainJoined,
                    "registers" => DeviceState::Registers,
                    _ => return Err(E::unknown_variant(v, &DeviceState::NAMES)),
                })
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                m: A,
            ) -> Result<DeviceState, A::Error> {
                let r = hmasim_protocol::device::DeviceRecord::deserialize(
                    serde::de::value::MapAccessDeserializer::new(m),
                )?;
                Ok(DeviceState::Registered(Box::new(r)))
            }
        }
        d.deserialize_any(V)
    }
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
    /// How often the client synchronizes in the background once signed in (and checks
    /// whether its access token needs renewing).
    #[serde(default = "Client::default_sync")]
    pub sync_interval: Span,
    /// How the client authenticates: modern (OAuth), Basic, or Integrated Windows
    /// Authentication (Outlook desktop inside).
    #[serde(default)]
    pub auth: AuthMethod,
    /// The protocol a Basic or IWA client speaks (default: ActiveSync for mobile clients,
    /// MAPI over HTTP for Outlook desktop).
    #[serde(default)]
    pub protocol: Option<MailProtocol>,
    /// Outlook mobile uses AutoDetect (false: ActiveSync configured by hand, with Basic).
    #[serde(default = "yes")]
    pub autodetect: bool,
    /// An Intune app protection policy applies to the app.
    #[serde(default)]
    pub app_protection: bool,
    /// The address the client's connections to cloud services come from (default: the
    /// office's egress `network.office_egress` inside, `network.internet_address`
    /// outside). Entra ID derives named locations and the country from it.
    #[serde(default)]
    pub source_address: Option<std::net::IpAddr>,
    /// The `User-Agent` the client sends, instead of its kind's and platform's own (what
    /// a password holder writes; Entra ID derives the device platform from it).
    #[serde(default)]
    pub user_agent: Option<String>,
    /// The ActiveSync `DeviceType` the client reports, instead of its kind's own.
    #[serde(default)]
    pub device_type: Option<String>,
    /// The ActiveSync device model the client reports, instead of its kind's own.
    #[serde(default)]
    pub device_model: Option<String>,
    /// The display name the client reports for a device it registers
    /// (`device = "registers"`), instead of `<client id>-device`: the registering client
    /// chooses it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_name: Option<String>,
}

/// How a client authenticates to the mailbox.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AuthMethod {
    /// OAuth (hybrid modern authentication).
    #[default]
    Modern,
    /// Basic authentication (user name and password on every request).
    Basic,
    /// Integrated Windows Authentication (Kerberos), from inside.
    Iwa,
}

/// The mailbox protocols whose authentication the policies control.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum MailProtocol {
    /// Exchange ActiveSync.
    Activesync,
    /// AutoDiscover.
    Autodiscover,
    /// MAPI over HTTP.
    Mapi,
    /// Exchange Web Services.
    Ews,
    /// The offline address book.
    Oab,
    /// Outlook Anywhere (RPC over HTTP).
    Rpc,
    /// IMAP4 (a session modelled as one request).
    Imap,
    /// POP3 (a session modelled as one request).
    Pop,
}

impl MailProtocol {
    /// The protocol on the wire: the `MailboxProtocol` of its Exchange virtual directory.
    pub fn wire(self) -> hmasim_protocol::MailboxProtocol {
        use hmasim_protocol::MailboxProtocol as W;
        match self {
            MailProtocol::Activesync => W::Activesync,
            MailProtocol::Autodiscover => W::Autodiscover,
            MailProtocol::Mapi => W::Mapi,
            MailProtocol::Ews => W::Ews,
            MailProtocol::Oab => W::Oab,
            MailProtocol::Rpc => W::Rpc,
            MailProtocol::Imap => W::Imap,
            MailProtocol::Pop => W::Pop,
        }
    }
    /// Every protocol.
    pub const ALL: [MailProtocol; 8] = [
        MailProtocol::Activesync,
        MailProtocol::Autodiscover,
        MailProtocol::Mapi,
        MailProtocol::Ews,
        MailProtocol::Oab,
        MailProtocol::Rpc,
        MailProtocol::Imap,
        MailProtocol::Pop,
    ];
    /// The name as written in scenarios.
    pub fn name(self) -> &'static str {
        match self {
            MailProtocol::Activesync => "activesync",
            MailProtocol::Autodiscover => "autodiscover",
            MailProtocol::Mapi => "mapi",
            MailProtocol::Ews => "ews",
            MailProtocol::Oab => "oab",
            MailProtocol::Rpc => "rpc",
            MailProtocol::Imap => "imap",
            MailProtocol::Pop => "pop",
        }
    }
}

/// An Exchange Online authentication policy (`New-AuthenticationPolicy`): a new policy
/// blocks Basic for every protocol unless re-enabled.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExoAuthPolicy {
    /// Its name.
    pub name: String,
    /// `AllowBasicAuthActiveSync`.
    #[serde(default)]
    pub allow_basic_auth_activesync: bool,
    /// `AllowBasicAuthAutodiscover`.
    #[serde(default)]
    pub allow_basic_auth_autodiscover: bool,
    /// `AllowBasicAuthMapi`.
    #[serde(default)]
    pub allow_basic_auth_mapi: bool,
    /// `AllowBasicAuthWebServices`.
    #[serde(default)]
    pub allow_basic_auth_web_services: bool,
    /// `AllowBasicAuthOfflineAddressBook`.
    #[serde(default)]
    pub allow_basic_auth_offline_address_book: bool,
    /// `AllowBasicAuthRpc`.
    #[serde(default)]
    pub allow_basic_auth_rpc: bool,
    /// `AllowBasicAuthOutlookService`.
    #[serde(default)]
    pub allow_basic_auth_outlook_service: bool,
    /// `AllowBasicAuthImap`.
    #[serde(default)]
    pub allow_basic_auth_imap: bool,
    /// `AllowBasicAuthPop`.
    #[serde(default)]
    pub allow_basic_auth_pop: bool,
}

impl ExoAuthPolicy {
    /// Whether the policy allows Basic for `p`.
    pub fn allows_basic(&self, p: MailProtocol) -> bool {
        match p {
            MailProtocol::Activesync => self.allow_basic_auth_activesync,
            MailProtocol::Autodiscover => self.allow_basic_auth_autodiscover,
            MailProtocol::Mapi => self.allow_basic_auth_mapi,
            MailProtocol::Ews => self.allow_basic_auth_web_services,
            MailProtocol::Oab => self.allow_basic_auth_offline_address_book,
            MailProtocol::Rpc => self.allow_basic_auth_rpc,
            MailProtocol::Imap => self.allow_basic_auth_imap,
            MailProtocol::Pop => self.allow_basic_auth_pop,
        }
    }
}

/// An Exchange Server authentication policy (`New-AuthenticationPolicy` on-premises).
/// hmasim reads "legacy" as every non-OAuth method: Basic, NTLM and Kerberos.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OnpremAuthPolicy {
    /// Its name.
    pub name: String,
    /// `BlockLegacyAuthActiveSync`.
    #[serde(default)]
    pub block_legacy_auth_activesync: bool,
    /// `BlockLegacyAuthAutodiscover`.
    #[serde(default)]
    pub block_legacy_auth_autodiscover: bool,
    /// `BlockLegacyAuthMapi`.
    #[serde(default)]
    pub block_legacy_auth_mapi: bool,
    /// `BlockLegacyAuthWebServices`.
    #[serde(default)]
    pub block_legacy_auth_web_services: bool,
    /// `BlockLegacyAuthOfflineAddressBook`.
    #[serde(default)]
    pub block_legacy_auth_offline_address_book: bool,
    /// `BlockLegacyAuthRpc`.
    #[serde(default)]
    pub block_legacy_auth_rpc: bool,
    /// `BlockLegacyAuthImap`.
    #[serde(default)]
    pub block_legacy_auth_imap: bool,
    /// `BlockLegacyAuthPop`.
    #[serde(default)]
    pub block_legacy_auth_pop: bool,
}

impl OnpremAuthPolicy {
    /// Whether the policy blocks legacy authentication for `p`.
    pub fn blocks_legacy(&self, p: MailProtocol) -> bool {
        match p {
            MailProtocol::Activesync => self.block_legacy_auth_activesync,
            MailProtocol::Autodiscover => self.block_legacy_auth_autodiscover,
            MailProtocol::Mapi => self.block_legacy_auth_mapi,
            MailProtocol::Ews => self.block_legacy_auth_web_services,
            MailProtocol::Oab => self.block_legacy_auth_offline_address_book,
            MailProtocol::Rpc => self.block_legacy_auth_rpc,
            MailProtocol::Imap => self.block_legacy_auth_imap,
            MailProtocol::Pop => self.block_legacy_auth_pop,
        }
    }
}

/// An ActiveSync access level.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AccessLevel {
    /// Allow.
    #[default]
    Allow,
    /// Block.
    Block,
    /// Quarantine (no data until an admin allows the device).
    Quarantine,
}

/// What an ActiveSync device access rule matches on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum DeviceCharacteristic {
    /// The device type (`OutlookService`, `iPhone`...).
    DeviceType,
    /// The device model (`Outlook for iOS and Android`, `iPhone`...).
    DeviceModel,
    /// The `User-Agent` the device sends (`Apple-iPhone15C2/2104.1`...).
    UserAgent,
}

/// An ActiveSync device access rule (`New-ActiveSyncDeviceAccessRule`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeviceRule {
    /// `DeviceType` or `DeviceModel`.
    pub characteristic: DeviceCharacteristic,
    /// The value matched.
    pub query: String,
    /// What the rule does.
    pub access_level: AccessLevel,
}

/// ActiveSync access on-premises.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ActiveSyncAccess {
    /// `Set-ActiveSyncOrganizationSettings -DefaultAccessLevel`.
    #[serde(default)]
    pub default_access_level: AccessLevel,
    /// Device access rules.
    #[serde(default)]
    pub device_rules: Vec<DeviceRule>,
}

/// What `hmasim verify` explores.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VerifyScope {
    /// The client kinds in scope.
    #[serde(default = "VerifyScope::all")]
    pub clients: Vec<ClientKind>,
    /// The day accepted exceptions are judged on (`YYYY-MM-DD`; `hmasim verify --today`
    /// overrides it; without either, the CLI takes the system's date). Read only to decide
    /// whether an exception has expired, never by the simulation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub today: Option<crate::Date>,
    /// Facts of the tenant outside Conditional Access that hmasim does not model and that
    /// could decide a path (a third-party MFA provider, an IP restriction on a proxy in
    /// front of Exchange...): each makes verify's result NOT PROVEN.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unmodelled: Vec<UnmodelledFact>,
}

/// A fact of the tenant that hmasim does not model, as the scenario marks it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UnmodelledFact {
    /// The object it belongs to (`adfs`, `exchange-onprem`, a policy's name...).
    pub object: String,
    /// The field or setting.
    pub field: String,
    /// Why it could change a verdict.
    #[serde(default)]
    pub why: String,
}

impl VerifyScope {
    fn all() -> Vec<ClientKind> {
        vec![
            ClientKind::Browser,
            ClientKind::OutlookDesktop,
            ClientKind::OutlookMobile,
            ClientKind::NativeMail,
        ]
    }
}

impl Default for VerifyScope {
    fn default() -> Self {
        VerifyScope {
            clients: VerifyScope::all(),
            today: None,
            unmodelled: Vec::new(),
        }
    }
}

impl Client {
    fn default_sync() -> Span {
        Span(30 * 60_000)
    }

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
    /// The arbitration mailbox's 8-hourly refresh of the EvoSTS auth metadata.
    #[serde(default)]
    pub auth_metadata_refresh: MetadataRefresh,
    /// A scheduled task running `Set-AuthServer EvoSts -RefreshAuthMetadata` this often.
    #[serde(default)]
    pub scheduled_metadata_refresh: Option<Span>,
    /// The edge accepts connections from the Azure ranges AutoDetect and Exchange Online
    /// connect from (IP restrictions must include them).
    #[serde(default = "yes")]
    pub allow_azure_ranges: bool,
    /// Authentication policies.
    #[serde(default)]
    pub authentication_policies: Vec<OnpremAuthPolicy>,
    /// The organization's default authentication policy (`Set-OrganizationConfig
    /// -DefaultAuthenticationPolicy`).
    #[serde(default)]
    pub default_authentication_policy: Option<String>,
    /// ActiveSync device access.
    #[serde(default)]
    pub activesync: ActiveSyncAccess,
    /// The IMAP4 services run (they are off after setup).
    #[serde(default)]
    pub imap_enabled: bool,
    /// The POP3 services run (they are off after setup).
    #[serde(default)]
    pub pop_enabled: bool,
}

/// The health of the on-premises EvoSTS metadata refresh (the arbitration mailbox with the
/// `OrganizationCapabilityManagement` capability).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MetadataRefresh {
    /// Runs every eight hours and succeeds.
    #[default]
    Healthy,
    /// Runs every eight hours and fails (events from `MSExchange AuthAdmin`).
    Failing,
    /// Does not run.
    Absent,
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
            auth_metadata_refresh: MetadataRefresh::Healthy,
            scheduled_metadata_refresh: None,
            allow_azure_ranges: true,
            authentication_policies: Vec::new(),
            default_authentication_policy: None,
            activesync: ActiveSyncAccess::default(),
            imap_enabled: false,
            pop_enabled: false,
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
    /// The device answers unauthenticated requests itself, with a 401 that carries no
    /// `WWW-Authenticate` header (an authentication profile in front of Exchange).
    #[serde(default)]
    pub intercepts_unauthenticated: bool,
}

/// The Web Application Proxy.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Wap {
    /// Exchange's namespaces are published with AD FS pre-authentication instead of
    /// pass-through.
    #[serde(default)]
    pub preauthentication: bool,
    /// How Outlook on the web and ECP are published when Exchange uses AD FS claims-based
    /// authentication: with AD FS pre-authentication (the documented external flow: WAP
    /// redirects to AD FS) or pass-through (Exchange redirects).
    #[serde(default)]
    pub owa_publishing: OwaPublishing,
}

/// How the Web Application Proxy publishes Outlook on the web.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum OwaPublishing {
    /// AD FS pre-authentication for the OWA relying party.
    #[default]
    Preauthentication,
    /// Pass-through: Exchange itself redirects to AD FS.
    PassThrough,
}

/// Which token lifetimes Entra ID uses by default.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TokenDefaults {
    /// The source's: the lifetimes in `access_token_lifetime` and `refresh_token_lifetime`
    /// (1 hour, 14 days of inactivity).
    #[default]
    Source,
    /// Today's Entra ID defaults: access tokens live a random 60 to 90 minutes, refresh
    /// tokens 90 days of inactivity (the two lifetime fields are then ignored).
    Current,
}

/// Exchange Online settings.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExchangeOnline {
    /// How often MRS synchronizes on-premises mailboxes in the background.
    #[serde(default = "ExchangeOnline::default_mrs")]
    pub mrs_sync_interval: Span,
    /// Authentication policies.
    #[serde(default)]
    pub authentication_policies: Vec<ExoAuthPolicy>,
    /// The organization's default authentication policy (`Set-OrganizationConfig
    /// -DefaultAuthenticationPolicy`); without one, Basic is allowed.
    #[serde(default)]
    pub default_authentication_policy: Option<String>,
}

impl ExchangeOnline {
    fn default_mrs() -> Span {
        Span(5 * 60_000)
    }
}

impl Default for ExchangeOnline {
    fn default() -> Self {
        ExchangeOnline {
            mrs_sync_interval: ExchangeOnline::default_mrs(),
            authentication_policies: Vec::new(),
            default_authentication_policy: None,
        }
    }
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
    /// The source's lifetimes, or today's Entra ID defaults.
    #[serde(default)]
    pub token_defaults: TokenDefaults,
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
            token_defaults: TokenDefaults::Source,
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
    /// Parties that cannot reach others at all (a firewall or proxy in between).
    #[serde(default)]
    pub partitions: Vec<Partition>,
    /// Injected faults: latency distributions, loss, duplication, reordering.
    #[serde(default, skip_serializing_if = "Faults::is_off")]
    pub faults: Faults,
    /// The public address the office's connections to cloud services leave from (NAT):
    /// where an internal client appears to come from.
    #[serde(default = "Network::default_office_egress")]
    pub office_egress: std::net::IpAddr,
    /// Where an external client connects from by default (a home or mobile network).
    #[serde(default = "Network::default_internet_address")]
    pub internet_address: std::net::IpAddr,
    /// The legacy MFA trusted IPs (Entra's location `00000000-0000-0000-0000-000000000000`,
    /// trusted, included in `AllTrusted`). Default: the office's egress range.
    #[serde(default = "Network::default_mfa_trusted_ips")]
    pub mfa_trusted_ips: Vec<hmasim_protocol::address::Cidr>,
    /// The simulated geolocation table: which country each address range is in, for
    /// country-based named locations.
    #[serde(default)]
    pub geo: Vec<hmasim_protocol::address::GeoRange>,
}

/// A real number written in a scenario (a probability, a log-normal sigma). Validated
/// finite, so equality is total.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Real(pub f64);

impl Eq for Real {}

impl Real {
    /// True for zero.
    pub fn is_zero(&self) -> bool {
        self.0 == 0.0
    }
}

/// A latency distribution (`dist = "fixed" | "uniform" | "normal" | "log-normal"`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "dist", rename_all = "kebab-case", deny_unknown_fields)]
pub enum LatencyDist {
    /// Always `ms`.
    Fixed {
        /// Latency, ms.
        ms: u64,
    },
    /// Uniform between `min_ms` and `max_ms`.
    Uniform {
        /// Lower bound, ms.
        min_ms: u64,
        /// Upper bound, ms.
        max_ms: u64,
    },
    /// Normal (clamped at zero).
    Normal {
        /// Mean, ms.
        mean_ms: u64,
        /// Standard deviation, ms.
        sd_ms: u64,
    },
    /// Log-normal around `median_ms` with shape `sigma`.
    LogNormal {
        /// Median, ms.
        median_ms: u64,
        /// Standard deviation of the underlying normal.
        sigma: Real,
    },
}

/// Faults of one kind of link: the defaults, or one directed link's own.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LinkFaultSpec {
    /// Latency distribution replacing the latency and jitter.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency: Option<LatencyDist>,
    /// Probability that a message is lost (0 to 1).
    #[serde(default, skip_serializing_if = "Real::is_zero")]
    pub loss: Real,
    /// Probability that a message is delivered twice (0 to 1).
    #[serde(default, skip_serializing_if = "Real::is_zero")]
    pub duplicate: Real,
    /// Lift the FIFO guarantee on the link.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub reorder: bool,
}

/// One directed link's faults (they replace the defaults for that link).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LinkFault {
    /// Sender party id.
    pub from: String,
    /// Receiver party id.
    pub to: String,
    /// Latency distribution replacing the latency and jitter.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency: Option<LatencyDist>,
    /// Probability that a message is lost (0 to 1).
    #[serde(default, skip_serializing_if = "Real::is_zero")]
    pub loss: Real,
    /// Probability that a message is delivered twice (0 to 1).
    #[serde(default, skip_serializing_if = "Real::is_zero")]
    pub duplicate: Real,
    /// Lift the FIFO guarantee on the link.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub reorder: bool,
}

impl LinkFault {
    /// The link's settings.
    pub fn spec(&self) -> LinkFaultSpec {
        LinkFaultSpec {
            latency: self.latency,
            loss: self.loss,
            duplicate: self.duplicate,
            reorder: self.reorder,
        }
    }
}

/// `network.faults`: injected network faults.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Faults {
    /// Latency distribution of every link without its own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency: Option<LatencyDist>,
    /// Default loss probability.
    #[serde(default, skip_serializing_if = "Real::is_zero")]
    pub loss: Real,
    /// Default duplication probability.
    #[serde(default, skip_serializing_if = "Real::is_zero")]
    pub duplicate: Real,
    /// Reorder every link.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub reorder: bool,
    /// Links with their own faults.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub links: Vec<LinkFault>,
}

impl Faults {
    /// True when no fault is configured.
    pub fn is_off(&self) -> bool {
        *self == Faults::default()
    }
    /// The defaults as one link's settings.
    pub fn defaults(&self) -> LinkFaultSpec {
        LinkFaultSpec {
            latency: self.latency,
            loss: self.loss,
            duplicate: self.duplicate,
            reorder: self.reorder,
        }
    }
}

/// One party's clock offset (`[[clocks]] party = "entra-id", skew = "+6m"`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Clock {
    /// The party, by id.
    pub party: String,
    /// How far its clock is ahead (`"6m"`, `"+6m"`) or behind (`"-6m"`).
    pub skew: Skew,
}

/// A signed clock offset in milliseconds, written `"+6m"`, `"-30s"`, `"90s"` or as a number
/// of milliseconds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Skew(pub i64);

impl std::fmt::Display for Skew {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let sign = if self.0 < 0 { "-" } else { "+" };
        write!(f, "{sign}{}", crate::Span(self.0.unsigned_abs()))
    }
}

impl Serialize for Skew {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Skew {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Skew, D::Error> {
        use serde::de;
        struct V;
        impl de::Visitor<'_> for V {
            type Value = Skew;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a signed duration such as \"+6m\", \"-30s\" or \"90s\"")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Skew, E> {
                let t = v.trim();
                let (neg, rest) = match t.strip_prefix('-') {
                    Some(r) => (true, r),
                    None => (false, t.strip_prefix('+').unwrap_or(t)),
                };
                crate::Span::parse(rest)
                    .and_then(|s| i64::try_from(s.ms()).ok())
                    .map(|ms| Skew(if neg { -ms } else { ms }))
                    .ok_or_else(|| E::invalid_value(de::Unexpected::Str(v), &self))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Skew, E> {
                Ok(Skew(v))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Skew, E> {
                i64::try_from(v)
                    .map(Skew)
                    .map_err(|_| E::invalid_value(de::Unexpected::Unsigned(v), &self))
            }
        }
        d.deserialize_any(V)
    }
}

/// One directed partition: `from` cannot open connections to `to`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Partition {
    /// The party that cannot connect.
    pub from: String,
    /// The party it cannot reach.
    pub to: String,
}

impl Default for Network {
    fn default() -> Self {
        Network {
            latency_ms: Network::default_latency(),
            jitter_ms: Network::default_jitter(),
            links: Vec::new(),
            partitions: Vec::new(),
            faults: Faults::default(),
            office_egress: Network::default_office_egress(),
            internet_address: Network::default_internet_address(),
            mfa_trusted_ips: Network::default_mfa_trusted_ips(),
            geo: Vec::new(),
        }
    }
}

impl Network {
    fn default_latency() -> u64 {
        20
    }
    fn default_jitter() -> u64 {
        5
    }
    fn default_office_egress() -> std::net::IpAddr {
        std::net::IpAddr::V4([203, 0, 113, 10].into())
    }
    fn default_internet_address() -> std::net::IpAddr {
        std::net::IpAddr::V4([198, 51, 100, 20].into())
    }
    fn default_mfa_trusted_ips() -> Vec<hmasim_protocol::address::Cidr> {
        vec!["203.0.113.0/24".parse().expect("constant range")]
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

/// What happens at a point of the timeline.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ActionKind {
    /// The user adds the account in Outlook mobile (`client`).
    AddAccount,
    /// The user starts Outlook desktop, or opens Outlook mobile again (`client`).
    StartOutlook,
    /// The user opens OWA in the browser (`client`).
    OpenOwa,
    /// The user asks the client to synchronize now (`client`).
    SyncNow,
    /// The user closes Outlook: background activity stops (`client`).
    CloseOutlook,
    /// The user answers a sign-in prompt with their credentials (`client`).
    SignIn,
    /// The user's password is changed in Active Directory (`user`, optional `password`).
    ChangePassword,
    /// A directory synchronization cycle runs now (Entra Connect).
    DirectorySync,
    /// Entra ID (EvoSTS) rolls its token-signing key.
    RotateEvostsKey,
    /// The admin runs `Set-AuthServer EvoSts -RefreshAuthMetadata` on Exchange on-premises.
    RefreshAuthMetadata,
    /// A party is unreachable from `at` to `until` (`party`).
    Outage,
    /// A configuration field changes (`key`, `value`: the same as `--set KEY=VALUE`).
    Set,
    /// Messages from `from` to `to` are lost from `at` to `until` (both ways with
    /// `two_way = true`).
    Partition,
    /// A party crashes at `at` and restarts at `until`, losing its volatile state (`party`).
    Crash,
}

impl ActionKind {
    /// The name as written in scenarios.
    pub fn name(self) -> String {
        serde_json::to_value(self)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default()
    }
    /// Whether the action is something a user does on a client.
    pub fn is_client_action(self) -> bool {
        matches!(
            self,
            ActionKind::AddAccount
                | ActionKind::StartOutlook
                | ActionKind::OpenOwa
                | ActionKind::SyncNow
                | ActionKind::CloseOutlook
                | ActionKind::SignIn
        )
    }
}

/// One timeline entry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Action {
    /// When.
    pub at: Span,
    /// What happens.
    #[serde(rename = "do")]
    pub action: ActionKind,
    /// The client (for user actions), by id (see [`Client::party_id`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client: Option<String>,
    /// The user (for `change-password`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// The new password (for `change-password`; default: a fresh one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
    /// The party (for `outage`), by id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub party: Option<String>,
    /// When an outage ends.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until: Option<Span>,
    /// The dotted path (for `set`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// The new value (for `set`), written as for `--set`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    /// The sending side (for `partition`), by party id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    /// The receiving side (for `partition`), by party id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
    /// Whether a partition cuts both directions (default: only `from -> to`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub two_way: Option<bool>,
}

impl Action {
    /// A user action on a client.
    pub fn on_client(at: Span, action: ActionKind, client: &str) -> Action {
        Action {
            at,
            action,
            client: Some(client.to_string()),
            user: None,
            password: None,
            party: None,
            until: None,
            key: None,
            value: None,
            from: None,
            to: None,
            two_way: None,
        }
    }
}

/// The documented fix of a fault scenario: overrides and timeline actions that
/// `hmasim run NAME --apply-fix` adds.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Fix {
    /// What the fix is, in one line (the admin's command or setting).
    #[serde(default)]
    pub summary: String,
    /// Overrides, as `--set` takes them.
    #[serde(default)]
    pub set: Vec<String>,
    /// Extra timeline actions.
    #[serde(default)]
    pub timeline: Vec<Action>,
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
    /// The named locations Entra ID evaluates: the scenario's, then the legacy MFA
    /// trusted IPs (`network.mfa_trusted_ips`) as the trusted location
    /// `00000000-0000-0000-0000-000000000000`, unless the scenario names that id itself.
    pub fn effective_named_locations(&self) -> Vec<hmasim_protocol::policy::NamedLocation> {
        use hmasim_protocol::address::MFA_TRUSTED_IPS_ID;
        let mut out = self.named_locations.clone();
        if !self.network.mfa_trusted_ips.is_empty()
            && !out.iter().any(|n| n.id == MFA_TRUSTED_IPS_ID)
        {
            out.push(hmasim_protocol::policy::NamedLocation {
                id: MFA_TRUSTED_IPS_ID.to_string(),
                name: "MFA Trusted IPs".to_string(),
                trusted: true,
                ip_ranges: self.network.mfa_trusted_ips.clone(),
                countries: Vec::new(),
                include_unknown_countries: false,
                unmodelled: None,
            });
        }
        out
    }

    /// The address client `c`'s connections to cloud services come from.
    pub fn client_address(&self, c: &Client) -> std::net::IpAddr {
        c.source_address.unwrap_or(match c.location {
            Location::Internal => self.network.office_egress,
            Location::External => self.network.internet_address,
        })
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

    fn validate_timeline(
        &self,
        section: &str,
        timeline: &[Action],
        clients: &[String],
        parties: &[String],
    ) -> Result<(), Invalid> {
        let bad =
            |path: String, key: &str, value: &str, message: String, expected: String| Invalid {
                path,
                key: key.to_string(),
                value: value.to_string(),
                message,
                expected,
            };
        let mut last = 0;
        for (i, a) in timeline.iter().enumerate() {
            let path = |f: &str| format!("{section}.{i}.{f}");
            if a.at.ms() < last {
                return Err(bad(
                    path("at"),
                    "at",
                    &a.at.to_string(),
                    "timeline entries out of order".into(),
                    format!("a time at or after {}", crate::Span(last)),
                ));
            }
            last = a.at.ms();
            let name = a.action.name();
            let need = |field: &str, v: &Option<String>| -> Result<(), Invalid> {
                match v {
                    Some(_) => Ok(()),
                    None => Err(bad(
                        path("do"),
                        "do",
                        &name,
                        format!("`{name}` needs `{field}`"),
                        format!("`{field} = ...` in the same entry"),
                    )),
                }
            };
            if a.action.is_client_action() {
                need("client", &a.client)?;
                let c = a.client.as_deref().unwrap_or("");
                let Some(kind) = self
                    .clients
                    .iter()
                    .find(|x| x.party_id() == c)
                    .map(|x| x.kind)
                else {
                    return Err(bad(
                        path("client"),
                        "client",
                        c,
                        format!("unknown client `{c}`"),
                        format!("one of the clients: {}", clients.join(", ")),
                    ));
                };
                let fits = match a.action {
                    ActionKind::AddAccount => {
                        matches!(kind, ClientKind::OutlookMobile | ClientKind::NativeMail)
                    }
                    ActionKind::OpenOwa => kind == ClientKind::Browser,
                    ActionKind::StartOutlook | ActionKind::SyncNow | ActionKind::CloseOutlook => {
                        kind != ClientKind::Browser
                    }
                    _ => true,
                };
                if !fits {
                    let expected = match kind {
                        ClientKind::OutlookMobile => "add-account, start-outlook, sync-now, close-outlook or sign-in for Outlook mobile",
                        ClientKind::OutlookDesktop => "start-outlook, sync-now, close-outlook or sign-in for Outlook desktop",
                        ClientKind::Browser => "open-owa or sign-in for a browser",
                        ClientKind::NativeMail => "start-outlook (open the mail app), sync-now, close-outlook or sign-in for a native mail app",
                    };
                    return Err(bad(
                        path("do"),
                        "do",
                        &name,
                        format!("`{name}` is not something client `{c}` does"),
                        expected.into(),
                    ));
                }
            }
            match a.action {
                ActionKind::ChangePassword => {
                    need("user", &a.user)?;
                    let u = a.user.as_deref().unwrap_or("");
                    if self.user(u).is_none() {
                        let upns: Vec<_> = self.users.iter().map(|u| u.upn.as_str()).collect();
                        return Err(bad(
                            path("user"),
                            "user",
                            u,
                            format!("unknown user `{u}`"),
                            format!("one of the users: {}", upns.join(", ")),
                        ));
                    }
                }
                ActionKind::Outage => {
                    need("party", &a.party)?;
                    let p = a.party.as_deref().unwrap_or("");
                    if !parties.iter().any(|x| x == p) {
                        return Err(bad(
                            path("party"),
                            "party",
                            p,
                            format!("unknown party `{p}`"),
                            format!("one of {}", parties.join(", ")),
                        ));
                    }
                    match a.until {
                        None => {
                            return Err(bad(
                                path("do"),
                                "do",
                                &name,
                                "`outage` needs `until`".into(),
                                "`until = \"...\"`, after `at`".into(),
                            ))
                        }
                        Some(u) if u <= a.at => {
                            return Err(bad(
                                path("until"),
                                "until",
                                &u.to_string(),
                                format!("the outage ends ({u}) before it starts ({})", a.at),
                                format!("a time after {}", a.at),
                            ))
                        }
                        _ => {}
                    }
                }
                ActionKind::Set => {
                    need("key", &a.key)?;
                    need("value", &a.value)?;
                }
                ActionKind::Partition | ActionKind::Crash => {
                    let fields: &[(&str, &Option<String>)] = if a.action == ActionKind::Crash {
                        &[("party", &a.party)]
                    } else {
                        &[("from", &a.from), ("to", &a.to)]
                    };
                    for (field, v) in fields {
                        need(field, v)?;
                        let p = v.as_deref().unwrap_or("");
                        if !parties.iter().any(|x| x == p) {
                            return Err(bad(
                                path(field),
                                field,
                                p,
                                format!("unknown party `{p}`"),
                                format!("one of {}", parties.join(", ")),
                            ));
                        }
                    }
                    let what = if a.action == ActionKind::Crash {
                        "the party restarts"
                    } else {
                        "the partition heals"
                    };
                    match a.until {
                        None => {
                            return Err(bad(
                                path("do"),
                                "do",
                                &name,
                                format!("`{name}` needs `until`"),
                                "`until = \"...\"`, after `at`".into(),
                            ))
                        }
                        Some(u) if u <= a.at => {
                            return Err(bad(
                                path("until"),
                                "until",
                                &u.to_string(),
                                format!("{what} ({u}) before it starts ({})", a.at),
                                format!("a time after {}", a.at),
                            ))
                        }
                        _ => {}
                    }
                }
                _ => {}
            }
        }
        Ok(())
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
        for (i, u) in self.users.iter().enumerate() {
            if let Some(g) = &u.guest {
                if !hmasim_protocol::policy::GUEST_TYPES.contains(&g.as_str()) {
                    return Err(bad(
                        format!("users.{i}.guest"),
                        "guest",
                        g,
                        format!("`{g}` is not a guest or external user type"),
                        format!("one of {}", hmasim_protocol::policy::GUEST_TYPES.join(", ")),
                    ));
                }
            }
        }
        let country_ok = |c: &str| c.len() == 2 && c.bytes().all(|b| b.is_ascii_alphabetic());
        for (i, n) in self.named_locations.iter().enumerate() {
            if let Some(c) = n.countries.iter().find(|c| !country_ok(c)) {
                return Err(bad(
                    format!("named_locations.{i}.countries"),
                    "countries",
                    c,
                    format!("`{c}` is not a country code"),
                    "ISO 3166-1 alpha-2 codes such as `US` or `FR`".into(),
                ));
            }
        }
        for (i, g) in self.network.geo.iter().enumerate() {
            if !country_ok(&g.country) {
                return Err(bad(
                    format!("network.geo.{i}.country"),
                    "country",
                    &g.country,
                    format!("`{}` is not a country code", g.country),
                    "an ISO 3166-1 alpha-2 code such as `US` or `FR`".into(),
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
            if let DeviceState::Registered(r) = &c.device {
                if let Some(problem) = r.problem() {
                    return Err(bad(
                        format!("clients.{i}.device"),
                        "device",
                        &r.id,
                        problem,
                        "a device id that is a GUID and extension attributes numbered 1 to 15"
                            .into(),
                    ));
                }
            }
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
        for (i, p) in self.network.partitions.iter().enumerate() {
            for (key, v) in [("from", &p.from), ("to", &p.to)] {
                if !parties.contains(v) {
                    return Err(bad(
                        format!("network.partitions.{i}.{key}"),
                        key,
                        v,
                        format!("unknown party `{v}`"),
                        format!("one of {}", parties.join(", ")),
                    ));
                }
            }
        }
        let prob = |path: String, key: &str, r: Real| -> Result<(), Invalid> {
            if r.0.is_finite() && (0.0..=1.0).contains(&r.0) {
                Ok(())
            } else {
                Err(bad(
                    path,
                    key,
                    &r.0.to_string(),
                    format!("`{key}` is a probability"),
                    "a number from 0 to 1".into(),
                ))
            }
        };
        let dist = |path: String, d: &Option<LatencyDist>| -> Result<(), Invalid> {
            match d {
                Some(LatencyDist::Uniform { min_ms, max_ms }) if min_ms > max_ms => Err(bad(
                    path,
                    "latency",
                    &format!("{min_ms}..{max_ms}"),
                    "`min_ms` is above `max_ms`".into(),
                    "min_ms <= max_ms".into(),
                )),
                Some(LatencyDist::LogNormal { sigma, .. })
                    if !(sigma.0.is_finite() && (0.0..=10.0).contains(&sigma.0)) =>
                {
                    Err(bad(
                        path,
                        "latency",
                        &sigma.0.to_string(),
                        "`sigma` out of range".into(),
                        "a number from 0 to 10".into(),
                    ))
                }
                _ => Ok(()),
            }
        };
        let f = &self.network.faults;
        prob("network.faults.loss".into(), "loss", f.loss)?;
        prob("network.faults.duplicate".into(), "duplicate", f.duplicate)?;
        dist("network.faults.latency".into(), &f.latency)?;
        for (i, l) in f.links.iter().enumerate() {
            for (key, v) in [("from", &l.from), ("to", &l.to)] {
                if !parties.contains(v) {
                    return Err(bad(
                        format!("network.faults.links.{i}.{key}"),
                        key,
                        v,
                        format!("unknown party `{v}`"),
                        format!("one of {}", parties.join(", ")),
                    ));
                }
            }
            prob(format!("network.faults.links.{i}.loss"), "loss", l.loss)?;
            prob(
                format!("network.faults.links.{i}.duplicate"),
                "duplicate",
                l.duplicate,
            )?;
            dist(format!("network.faults.links.{i}.latency"), &l.latency)?;
        }
        for (i, c) in self.clocks.iter().enumerate() {
            if !parties.contains(&c.party) {
                return Err(bad(
                    format!("clocks.{i}.party"),
                    "party",
                    &c.party,
                    format!("unknown party `{}`", c.party),
                    format!("one of {}", parties.join(", ")),
                ));
            }
            if c.skew.0.unsigned_abs() > 365 * 86_400_000 {
                return Err(bad(
                    format!("clocks.{i}.skew"),
                    "skew",
                    &c.skew.to_string(),
                    "clock skew above a year".into(),
                    "a skew within a year, such as \"+6m\"".into(),
                ));
            }
        }
        let exo_policies: Vec<&str> = self
            .exchange_online
            .authentication_policies
            .iter()
            .map(|p| p.name.as_str())
            .collect();
        let onprem_policies: Vec<&str> = self
            .onprem
            .authentication_policies
            .iter()
            .map(|p| p.name.as_str())
            .collect();
        let mut refs: Vec<(String, &str, &str, &Vec<&str>)> = Vec::new();
        if let Some(d) = &self.exchange_online.default_authentication_policy {
            refs.push((
                "exchange_online.default_authentication_policy".into(),
                "default_authentication_policy",
                d,
                &exo_policies,
            ));
        }
        if let Some(d) = &self.onprem.default_authentication_policy {
            refs.push((
                "onprem.default_authentication_policy".into(),
                "default_authentication_policy",
                d,
                &onprem_policies,
            ));
        }
        for (i, u) in self.users.iter().enumerate() {
            if let Some(p) = &u.authentication_policy {
                refs.push((
                    format!("users.{i}.authentication_policy"),
                    "authentication_policy",
                    p,
                    &exo_policies,
                ));
            }
            if let Some(p) = &u.onprem_authentication_policy {
                refs.push((
                    format!("users.{i}.onprem_authentication_policy"),
                    "onprem_authentication_policy",
                    p,
                    &onprem_policies,
                ));
            }
        }
        for (path, key, name, known) in refs {
            if !known.contains(&name) {
                return Err(bad(
                    path,
                    key,
                    name,
                    format!("unknown authentication policy `{name}`"),
                    format!(
                        "one of the policies defined: {}",
                        if known.is_empty() {
                            "(none)".to_string()
                        } else {
                            known.join(", ")
                        }
                    ),
                ));
            }
        }
        self.validate_timeline("timeline", &self.timeline, &ids, &parties)?;
        if let Some(fix) = &self.fix {
            self.validate_timeline("fix.timeline", &fix.timeline, &ids, &parties)?;
            for (i, kv) in fix.set.iter().enumerate() {
                if !kv.contains('=') {
                    return Err(bad(
                        format!("fix.set.{i}"),
                        "set",
                        kv,
                        "an override without `=`".into(),
                        "KEY=VALUE, as --set takes it".into(),
                    ));
                }
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
        // Every period that schedules something again and again: zero would fire forever at
        // one instant, and a sub-second one only spends events.
        let mut periods: Vec<(String, &str, Span)> = vec![
            (
                "identity.sync_interval".into(),
                "sync_interval",
                self.identity.sync_interval,
            ),
            (
                "exchange_online.mrs_sync_interval".into(),
                "mrs_sync_interval",
                self.exchange_online.mrs_sync_interval,
            ),
        ];
        if let Some(p) = self.onprem.scheduled_metadata_refresh {
            periods.push((
                "onprem.scheduled_metadata_refresh".into(),
                "scheduled_metadata_refresh",
                p,
            ));
        }
        for (i, c) in self.clients.iter().enumerate() {
            periods.push((
                format!("clients.{i}.sync_interval"),
                "sync_interval",
                c.sync_interval,
            ));
        }
        let min = crate::limits::MIN_PERIOD;
        for (path, key, span) in periods {
            if span < min {
                return Err(bad(
                    path,
                    key,
                    // Located by its path: the value may be written `0`, `"0s"` or `"0ms"`.
                    "",
                    format!("`{key}` is {span}, below the shortest period, {min}"),
                    format!("a period of at least {min} (see docs/limits.md)"),
                ));
            }
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
