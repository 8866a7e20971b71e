//! Tenant policy vocabulary shared by scenarios and parties: the identity model and
//! Conditional Access policies in the shape of Microsoft Graph's `conditionalAccessPolicy`
//! (enum values spelled as Graph spells them).

use serde::{Deserialize, Serialize};

/// How Entra ID signs users of the domain in.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum IdentityModel {
    /// Federated: Entra ID redirects the sign-in to AD FS.
    #[default]
    Federated,
    /// Password hash synchronization: Entra ID checks the synced hash itself.
    Phs,
    /// Pass-through authentication: Entra ID asks an on-premises agent to check the password.
    Pta,
}

impl IdentityModel {
    /// Every model.
    pub const ALL: [IdentityModel; 3] = [
        IdentityModel::Federated,
        IdentityModel::Phs,
        IdentityModel::Pta,
    ];
    /// The name used in scenarios and traces.
    pub const fn as_str(self) -> &'static str {
        match self {
            IdentityModel::Federated => "federated",
            IdentityModel::Phs => "phs",
            IdentityModel::Pta => "pta",
        }
    }
}

/// A policy's state.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum CaState {
    /// Enforced.
    #[default]
    #[serde(rename = "enabled")]
    Enabled,
    /// Ignored.
    #[serde(rename = "disabled")]
    Disabled,
    /// Evaluated and reported, never enforced.
    #[serde(rename = "enabledForReportingButNotEnforced")]
    ReportOnly,
}

/// Conditional Access client app types.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum ClientAppType {
    /// Every client app.
    #[serde(rename = "all")]
    All,
    /// Browsers.
    #[serde(rename = "browser")]
    Browser,
    /// Modern-authentication mobile apps and desktop clients.
    #[serde(rename = "mobileAppsAndDesktopClients")]
    MobileAppsAndDesktopClients,
    /// Exchange ActiveSync clients (Basic).
    #[serde(rename = "exchangeActiveSync")]
    ExchangeActiveSync,
    /// Exchange ActiveSync clients on supported platforms.
    #[serde(rename = "easSupported")]
    EasSupported,
    /// Other legacy clients (IMAP, POP, MAPI, EWS, Autodiscover Basic...).
    #[serde(rename = "other")]
    Other,
}

/// Built-in grant controls.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum GrantControl {
    /// Block access.
    #[serde(rename = "block")]
    Block,
    /// Require multi-factor authentication.
    #[serde(rename = "mfa")]
    Mfa,
    /// Require a device marked compliant (Intune).
    #[serde(rename = "compliantDevice")]
    CompliantDevice,
    /// Require a hybrid Entra joined device.
    #[serde(rename = "domainJoinedDevice")]
    DomainJoinedDevice,
    /// Require an approved client app.
    #[serde(rename = "approvedApplication")]
    ApprovedApplication,
    /// Require an app protection policy.
    #[serde(rename = "compliantApplication")]
    CompliantApplication,
}

/// How a policy combines its grant controls.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum Operator {
    /// Every control.
    #[default]
    #[serde(rename = "AND")]
    And,
    /// One of the controls.
    #[serde(rename = "OR")]
    Or,
}

impl CaState {
    /// Every state.
    pub const ALL: [CaState; 3] = [CaState::Enabled, CaState::Disabled, CaState::ReportOnly];
    /// The Graph spelling.
    pub const fn as_str(self) -> &'static str {
        match self {
            CaState::Enabled => "enabled",
            CaState::Disabled => "disabled",
            CaState::ReportOnly => "enabledForReportingButNotEnforced",
        }
    }
}

impl ClientAppType {
    /// Every client app type, in Graph's documentation order.
    pub const ALL: [ClientAppType; 6] = [
        ClientAppType::All,
        ClientAppType::Browser,
        ClientAppType::MobileAppsAndDesktopClients,
        ClientAppType::ExchangeActiveSync,
        ClientAppType::EasSupported,
        ClientAppType::Other,
    ];
    /// The Graph spelling.
    pub const fn as_str(self) -> &'static str {
        match self {
            ClientAppType::All => "all",
            ClientAppType::Browser => "browser",
            ClientAppType::MobileAppsAndDesktopClients => "mobileAppsAndDesktopClients",
            ClientAppType::ExchangeActiveSync => "exchangeActiveSync",
            ClientAppType::EasSupported => "easSupported",
            ClientAppType::Other => "other",
        }
    }

    /// The client app type a Graph spelling names (exactly), if any.
    pub fn parse(s: &str) -> Option<ClientAppType> {
        ClientAppType::ALL.into_iter().find(|c| c.as_str() == s)
    }
    /// Legacy authentication (Basic): Exchange ActiveSync and the other legacy clients.
    /// Such a sign-in can satisfy no grant control.
    pub const fn is_legacy(self) -> bool {
        matches!(
            self,
            ClientAppType::ExchangeActiveSync | ClientAppType::Other
        )
    }
}

impl GrantControl {
    /// Every built-in control hmasim models, in Graph's documentation order.
    pub const ALL: [GrantControl; 6] = [
        GrantControl::Block,
        GrantControl::Mfa,
        GrantControl::CompliantDevice,
        GrantControl::DomainJoinedDevice,
        GrantControl::ApprovedApplication,
        GrantControl::CompliantApplication,
    ];
    /// The Graph spelling.
    pub const fn as_str(self) -> &'static str {
        match self {
            GrantControl::Block => "block",
            GrantControl::Mfa => "mfa",
            GrantControl::CompliantDevice => "compliantDevice",
            GrantControl::DomainJoinedDevice => "domainJoinedDevice",
            GrantControl::ApprovedApplication => "approvedApplication",
            GrantControl::CompliantApplication => "compliantApplication",
        }
    }
}

impl Operator {
    /// The Graph spelling.
    pub const fn as_str(self) -> &'static str {
        match self {
            Operator::And => "AND",
            Operator::Or => "OR",
        }
    }
}

fn all() -> Vec<String> {
    vec!["All".to_string()]
}
fn all_apps() -> Vec<ClientAppType> {
    vec![ClientAppType::All]
}

/// Device platforms of the `platforms` condition (Graph's `conditionalAccessDevicePlatform`,
/// spelled as Graph spells them; the lower-case spellings are accepted too).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum DevicePlatform {
    /// Every platform, also unknown ones.
    #[serde(rename = "all")]
    All,
    /// Android.
    #[serde(rename = "android")]
    Android,
    /// iOS and iPadOS.
    #[serde(rename = "iOS", alias = "ios")]
    Ios,
    /// Windows.
    #[serde(rename = "windows")]
    Windows,
    /// Windows Phone (retired; found in older exports).
    #[serde(rename = "windowsPhone", alias = "windowsphone")]
    WindowsPhone,
    /// macOS.
    #[serde(rename = "macOS", alias = "macos")]
    Macos,
    /// Linux.
    #[serde(rename = "linux")]
    Linux,
}

impl DevicePlatform {
    /// Every value, in Graph's documentation order.
    pub const ALL: [DevicePlatform; 7] = [
        DevicePlatform::Android,
        DevicePlatform::Ios,
        DevicePlatform::Windows,
        DevicePlatform::WindowsPhone,
        DevicePlatform::Macos,
        DevicePlatform::Linux,
        DevicePlatform::All,
    ];
    /// The Graph spelling.
    pub const fn as_str(self) -> &'static str {
        match self {
            DevicePlatform::All => "all",
            DevicePlatform::Android => "android",
            DevicePlatform::Ios => "iOS",
            DevicePlatform::Windows => "windows",
            DevicePlatform::WindowsPhone => "windowsPhone",
            DevicePlatform::Macos => "macOS",
            DevicePlatform::Linux => "linux",
        }
    }
    /// The platform spelled `s` (Graph's spelling, case-insensitive).
    pub fn parse(s: &str) -> Option<DevicePlatform> {
        Self::ALL
            .into_iter()
            .find(|p| p.as_str().eq_ignore_ascii_case(s))
    }
}

/// Graph's guest and external user types, as `guestOrExternalUserTypes` spells them.
pub const GUEST_TYPES: [&str; 6] = [
    "internalGuest",
    "b2bCollaborationGuest",
    "b2bCollaborationMember",
    "b2bDirectConnectUser",
    "otherExternalUser",
    "serviceProvider",
];

/// A sign-in or user risk level as Entra ID Protection scores it (Graph's `riskLevel`:
/// `none`, `low`, `medium`, `high`; `hidden` and `unknownFutureValue` are not levels a
/// sign-in is scored at, and the Graph reader reports them).
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum RiskLevel {
    /// No risk detected.
    #[default]
    None,
    /// Low.
    Low,
    /// Medium.
    Medium,
    /// High.
    High,
}

impl RiskLevel {
    /// Every level, lowest first.
    pub const ALL: [RiskLevel; 4] = [
        RiskLevel::None,
        RiskLevel::Low,
        RiskLevel::Medium,
        RiskLevel::High,
    ];
    /// The Graph spelling.
    pub const fn as_str(self) -> &'static str {
        match self {
            RiskLevel::None => "none",
            RiskLevel::Low => "low",
            RiskLevel::Medium => "medium",
            RiskLevel::High => "high",
        }
    }
    /// The level spelled `s` (case-insensitive).
    pub fn parse(s: &str) -> Option<RiskLevel> {
        Self::ALL
            .into_iter()
            .find(|l| l.as_str().eq_ignore_ascii_case(s))
    }
}

/// An insider risk level (Microsoft Purview Insider Risk Management's adaptive protection,
/// Graph's `insiderRiskLevel`: `none`, `minor`, `moderate`, `elevated`).
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum InsiderRiskLevel {
    /// No insider risk.
    #[default]
    None,
    /// Minor.
    Minor,
    /// Moderate.
    Moderate,
    /// Elevated.
    Elevated,
}

impl InsiderRiskLevel {
    /// Every level, lowest first.
    pub const ALL: [InsiderRiskLevel; 4] = [
        InsiderRiskLevel::None,
        InsiderRiskLevel::Minor,
        InsiderRiskLevel::Moderate,
        InsiderRiskLevel::Elevated,
    ];
    /// The Graph spelling.
    pub const fn as_str(self) -> &'static str {
        match self {
            InsiderRiskLevel::None => "none",
            InsiderRiskLevel::Minor => "minor",
            InsiderRiskLevel::Moderate => "moderate",
            InsiderRiskLevel::Elevated => "elevated",
        }
    }
    /// The level spelled `s` (case-insensitive).
    pub fn parse(s: &str) -> Option<InsiderRiskLevel> {
        Self::ALL
            .into_iter()
            .find(|l| l.as_str().eq_ignore_ascii_case(s))
    }
}

/// A named location of the tenant (Graph's `namedLocation`): what a location id in a
/// policy's `locations` condition stands for.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NamedLocation {
    /// Its id, as policies exported from Graph refer to it.
    pub id: String,
    /// Its display name, as hmasim's policies and `whatif --location` refer to it.
    pub name: String,
    /// Marked as a trusted location (matched by `AllTrusted`).
    #[serde(default)]
    pub trusted: bool,
    /// The IP ranges it holds (an IP-range location).
    #[serde(default)]
    pub ip_ranges: Vec<crate::address::Cidr>,
    /// The countries it holds, ISO 3166-1 alpha-2 (a country location), looked up in the
    /// tenant's geolocation table (`network.geo`).
    #[serde(default)]
    pub countries: Vec<String>,
    /// A country location also holds addresses whose country is unknown.
    #[serde(default)]
    pub include_unknown_countries: bool,
    /// Why hmasim cannot evaluate this location (a kind it does not model, such as a
    /// compliant network, or countries looked up by the Authenticator's GPS): it matches
    /// no sign-in, and a policy that names it is not fully evaluated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unmodelled: Option<String>,
}

impl NamedLocation {
    /// Whether a sign-in from `addr` (whose country the geolocation table gives as
    /// `country`) comes from this location.
    pub fn contains(&self, addr: std::net::IpAddr, country: Option<&str>) -> bool {
        if self.unmodelled.is_some() {
            return false;
        }
        self.ip_ranges.iter().any(|r| r.contains(addr))
            || match country {
                Some(c) => self.countries.iter().any(|x| x.eq_ignore_ascii_case(c)),
                None => self.include_unknown_countries && !self.countries.is_empty(),
            }
    }

    /// An address that stands for this location: in its first range, else one of the
    /// geolocation table in one of its countries.
    pub fn sample_address(&self, geo: &[crate::address::GeoRange]) -> Option<std::net::IpAddr> {
        self.ip_ranges.first().map(|r| r.host()).or_else(|| {
            geo.iter()
                .find(|g| {
                    self.countries
                        .iter()
                        .any(|c| c.eq_ignore_ascii_case(&g.country))
                })
                .map(|g| g.range.host())
        })
    }
}

/// The user action "register security information": what a user without an MFA method
/// does at the registration interrupt (`AADSTS50079`, "More information required").
pub const REGISTER_SECURITY_INFO: &str = "urn:user:registersecurityinfo";

/// The user action "register or join devices": a Workplace join (or Entra join) at the
/// Device Registration Service. A policy that includes it applies to the registration only.
pub const REGISTER_DEVICE: &str = "urn:user:registerdevice";

/// A Conditional Access policy (the subset of Graph's shape that hmasim models).
///
/// The fields after `operator` were added for policies read from Microsoft Graph; they
/// all default to "not configured", so scenario files written before them read the same.
/// `include_users` defaults to `All`: a policy meant for some groups or roles only must
/// say `include_users = []`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CaPolicy {
    /// Display name.
    pub name: String,
    /// Enabled, disabled or report-only.
    #[serde(default)]
    pub state: CaState,
    /// Users in scope: `All`, `None`, UPNs or `group:NAME`.
    #[serde(default = "all")]
    pub include_users: Vec<String>,
    /// Users excluded: UPNs or `group:NAME`.
    #[serde(default)]
    pub exclude_users: Vec<String>,
    /// Cloud apps: `All`, `Office365` or an application id
    /// (`00000002-0000-0ff1-ce00-000000000000` for Exchange Online).
    #[serde(default = "all")]
    pub include_applications: Vec<String>,
    /// Client app types.
    #[serde(default = "all_apps")]
    pub client_app_types: Vec<ClientAppType>,
    /// Locations excluded (`AllTrusted` exempts the internal network).
    #[serde(default)]
    pub exclude_locations: Vec<String>,
    /// Grant controls.
    pub grant: Vec<GrantControl>,
    /// How the grant controls combine.
    #[serde(default)]
    pub operator: Operator,
    /// Groups in scope (names or object ids, as the users' `groups` list them).
    #[serde(default)]
    pub include_groups: Vec<String>,
    /// Groups excluded.
    #[serde(default)]
    pub exclude_groups: Vec<String>,
    /// Directory roles in scope (role template ids or names).
    #[serde(default)]
    pub include_roles: Vec<String>,
    /// Directory roles excluded.
    #[serde(default)]
    pub exclude_roles: Vec<String>,
    /// Cloud apps excluded (same values as `include_applications`).
    #[serde(default)]
    pub exclude_applications: Vec<String>,
    /// Device platforms in scope; empty means the condition is not configured.
    #[serde(default)]
    pub include_platforms: Vec<DevicePlatform>,
    /// Device platforms excluded.
    #[serde(default)]
    pub exclude_platforms: Vec<DevicePlatform>,
    /// Locations in scope: `All`, `AllTrusted` or named location names; empty means the
    /// condition is not configured.
    #[serde(default)]
    pub include_locations: Vec<String>,
    /// Guest and external user types in scope (Graph's `guestOrExternalUserTypes`:
    /// `internalGuest`, `b2bCollaborationGuest`, `b2bCollaborationMember`,
    /// `b2bDirectConnectUser`, `otherExternalUser`, `serviceProvider`).
    #[serde(default)]
    pub include_guests: Vec<String>,
    /// Guest and external user types excluded.
    #[serde(default)]
    pub exclude_guests: Vec<String>,
    /// User actions in scope (Graph's `conditions.applications.includeUserActions`):
    /// `urn:user:registersecurityinfo` ([`REGISTER_SECURITY_INFO`]). A policy that lists
    /// a user action applies to that action only, never to a sign-in to a cloud app.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub include_user_actions: Vec<String>,
    /// Graph fields of the policy that hmasim does not model (`conditions.signInRiskLevels`,
    /// `grantControls.termsOfUse`...): each was reported as a warning when the policy was
    /// read, and each can change the real verdict.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unmodelled: Vec<String>,
    /// The policy's object id in Entra ID (Graph's `id`), when known: what a Graph request
    /// that changes the policy addresses. Without it, commands look the policy up by name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The filter for devices (Graph's `conditions.devices.deviceFilter`); `None` is not
    /// configured. See [`crate::device`] for the rule language and its semantics on
    /// unregistered devices.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_filter: Option<crate::device::DeviceFilter>,
    /// The authentication flows the policy is limited to (Graph's
    /// `conditions.authenticationFlows.transferMethods`: `deviceCodeFlow`,
    /// `authenticationTransfer`); empty is not configured. A configured policy applies
    /// only to sign-ins that use one of them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub transfer_methods: Vec<String>,
    /// The sign-in frequency session control (Graph's `sessionControls.signInFrequency`):
    /// how long after the user's last interactive authentication Entra ID still renews
    /// the session silently (`"4h"`, `"1d"`, `"everyTime"`). It shortens sessions in runs;
    /// it never decides whether a password alone is granted access.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sign_in_frequency: Option<SignInFrequency>,
    /// Sign-in risk levels in scope (Graph's `conditions.signInRiskLevels`); empty means
    /// the condition is not configured. The policy applies only to a sign-in that
    /// Identity Protection scores at one of them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sign_in_risk_levels: Vec<RiskLevel>,
    /// User risk levels in scope (Graph's `conditions.userRiskLevels`); empty means not
    /// configured.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub user_risk_levels: Vec<RiskLevel>,
    /// Insider risk levels in scope (Graph's `conditions.insiderRiskLevels`, Microsoft
    /// Purview's adaptive protection); empty means not configured.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub insider_risk_levels: Vec<InsiderRiskLevel>,
}

/// A sign-in frequency (Graph's `signInFrequencySessionControl`): periodic
/// reauthentication after a number of hours (1 to 23) or days (1 to 365), or
/// reauthentication every time. Written in scenarios as `"4h"`, `"7d"` or `"everyTime"`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum SignInFrequency {
    /// Periodic reauthentication every this many hours.
    Hours(u32),
    /// Periodic reauthentication every this many days.
    Days(u32),
    /// Reauthentication every time (Graph's `frequencyInterval` `everyTime`); Entra allows
    /// five minutes of clock skew, so a session is renewed within five minutes of the
    /// authentication and refused after.
    EveryTime,
}

impl SignInFrequency {
    /// The interval after the last interactive authentication past which a renewal is
    /// refused, in seconds.
    pub const fn seconds(self) -> u64 {
        match self {
            SignInFrequency::Hours(h) => h as u64 * 3600,
            SignInFrequency::Days(d) => d as u64 * 86_400,
            SignInFrequency::EveryTime => 300,
        }
    }

    /// The frequency of Graph's `value` and `type` (`hours` or `days`), checked against
    /// the ranges Entra accepts.
    pub fn periodic(value: i64, unit: &str) -> Result<SignInFrequency, String> {
        let (max, make): (i64, fn(u32) -> SignInFrequency) = match unit {
            "hours" => (23, SignInFrequency::Hours),
            "days" => (365, SignInFrequency::Days),
            u => {
                return Err(format!(
                    "unknown sign-in frequency type \"{u}\" (expected hours or days)"
                ))
            }
        };
        if (1..=max).contains(&value) {
            Ok(make(value as u32))
        } else {
            Err(format!(
                "a sign-in frequency of {value} {unit} is out of range (1 to {max} {unit})"
            ))
        }
    }
}

impl std::fmt::Display for SignInFrequency {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SignInFrequency::Hours(h) => write!(f, "{h}h"),
            SignInFrequency::Days(d) => write!(f, "{d}d"),
            SignInFrequency::EveryTime => f.write_str("everyTime"),
        }
    }
}

impl TryFrom<String> for SignInFrequency {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        let t = s.trim();
        if t.eq_ignore_ascii_case("everyTime") || t.eq_ignore_ascii_case("every-time") {
            return Ok(SignInFrequency::EveryTime);
        }
        let expected = "expected a sign-in frequency such as \"4h\", \"7d\" or \"everyTime\"";
        let Some(last) = t.chars().last() else {
            return Err(format!("an empty sign-in frequency: {expected}"));
        };
        let unit = match last {
            'h' => "hours",
            'd' => "days",
            _ => return Err(format!("\"{s}\" is not a sign-in frequency: {expected}")),
        };
        let n: i64 = t[..t.len() - 1]
            .parse()
            .map_err(|_| format!("\"{s}\" is not a sign-in frequency: {expected}"))?;
        SignInFrequency::periodic(n, unit)
    }
}

impl From<SignInFrequency> for String {
    fn from(f: SignInFrequency) -> String {
        f.to_string()
    }
}

impl CaPolicy {
    /// Whether the policy has a risk condition (sign-in, user or insider risk).
    pub fn has_risk_condition(&self) -> bool {
        !self.sign_in_risk_levels.is_empty()
            || !self.user_risk_levels.is_empty()
            || !self.insider_risk_levels.is_empty()
    }

    /// A policy named `name` that applies to every sign-in and grants with `grant`
    /// (AND): the starting point of a policy built in code.
    pub fn new(name: impl Into<String>, grant: Vec<GrantControl>) -> Self {
        CaPolicy {
            name: name.into(),
            state: CaState::Enabled,
            include_users: all(),
            exclude_users: Vec::new(),
            include_applications: all(),
            client_app_types: all_apps(),
            exclude_locations: Vec::new(),
            grant,
            operator: Operator::And,
            include_groups: Vec::new(),
            exclude_groups: Vec::new(),
            include_roles: Vec::new(),
            exclude_roles: Vec::new(),
            exclude_applications: Vec::new(),
            include_platforms: Vec::new(),
            exclude_platforms: Vec::new(),
            include_locations: Vec::new(),
            include_guests: Vec::new(),
            exclude_guests: Vec::new(),
            include_user_actions: Vec::new(),
            unmodelled: Vec::new(),
            id: None,
            device_filter: None,
            transfer_methods: Vec::new(),
            sign_in_frequency: None,
            sign_in_risk_levels: Vec::new(),
            user_risk_levels: Vec::new(),
            insider_risk_levels: Vec::new(),
        }
    }
}
