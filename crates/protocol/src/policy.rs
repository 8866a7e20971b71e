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

fn all() -> Vec<String> {
    vec!["All".to_string()]
}
fn all_apps() -> Vec<ClientAppType> {
    vec![ClientAppType::All]
}

/// A Conditional Access policy (the subset of Graph's shape that hmasim models).
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
}
