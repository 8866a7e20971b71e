//! Stable failure codes: the refusals' vocabulary.
//!
//! A [`FaultCode`] names why a party refused, as the contract's `failure.code` and
//! `clients[].lost.code`. Its [`FaultCode::as_str`] is the stable snake_case string users'
//! scripts match on; `docs/outcome.md` (section "Failure codes") lists every one. Parties
//! and the simulator compare codes as this enum, never as strings.

use std::fmt;

/// Why a party refused (contract `failure.code`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum FaultCode {
    /// `access_denied` (a client): The mailbox service answered the client's data request with an
    /// error the client cannot act on.
    AccessDenied,
    /// `app_not_approved` (entra-id): Conditional Access requires an approved client app or app
    /// protection policy (AADSTS53005).
    AppNotApproved,
    /// `audience_mismatch` (exchange-onprem, exchange-online): The access token's audience is not
    /// the URL the service received (2000003).
    AudienceMismatch,
    /// `autodiscover_failed` (autodetect): AutoDetect found no usable AutoDiscover answer for the
    /// mailbox.
    AutodiscoverFailed,
    /// `autodiscover_unreachable` (autodetect): AutoDetect could not connect to the AutoDiscover
    /// endpoint.
    AutodiscoverUnreachable,
    /// `bad_authority` (a client): The `authorization_uri` of a Bearer challenge is not a URL.
    BadAuthority,
    /// `bad_autodiscover_url` (autodetect): AutoDiscover returned a malformed URL.
    BadAutodiscoverUrl,
    /// `bad_redirect` (a client): A 302 without a usable `Location`.
    BadRedirect,
    /// `basic_auth_blocked` (exchange-online): An authentication policy blocks Basic authentication
    /// for the protocol.
    BasicAuthBlocked,
    /// `basic_auth_disabled` (exchange-online): Basic authentication is turned off for the
    /// protocol.
    BasicAuthDisabled,
    /// `blocked_by_conditional_access` (entra-id): A Conditional Access policy blocks the sign-in
    /// (AADSTS53003).
    BlockedByConditionalAccess,
    /// `claims_rejected` (exchange-onprem): OWA refuses the WS-Federation sign-in token (audience
    /// or user mismatch).
    ClaimsRejected,
    /// `device_blocked` (exchange-onprem): An ActiveSync device access rule or the default access
    /// level blocks the device.
    DeviceBlocked,
    /// `device_not_compliant` (entra-id): Conditional Access requires a compliant or domain-joined
    /// device (AADSTS53000).
    DeviceNotCompliant,
    /// `device_quarantined` (exchange-onprem): An ActiveSync device access rule or the default
    /// access level quarantines the device.
    DeviceQuarantined,
    /// `device_registration_failed` (a client): The client could not register its device with Entra
    /// ID.
    DeviceRegistrationFailed,
    /// `device_registration_unauthorized` (entra-id): The user may not register devices.
    DeviceRegistrationUnauthorized,
    /// `directory_unreachable` (adfs): AD FS cannot reach Active Directory to check the
    /// credentials.
    DirectoryUnreachable,
    /// `discovery_failed` (a client): The client found no endpoint for the mailbox.
    DiscoveryFailed,
    /// `event_limit` (hmasim): The run stopped at `run.max_events`: the outcome covers only part of
    /// it.
    EventLimit,
    /// `federation_rejected` (entra-id): Entra ID refuses the federated token AD FS issued.
    FederationRejected,
    /// `invalid_credentials` (adfs, entra-id, exchange-onprem): Wrong user name or password.
    InvalidCredentials,
    /// `invalid_grant` (entra-id): The token endpoint refuses the grant: a code redeemed already, a
    /// refresh token expired or revoked, a sign-in frequency reached.
    InvalidGrant,
    /// `invalid_resource` (entra-id): The requested resource is not an application the tenant
    /// knows.
    InvalidResource,
    /// `invalid_signature` (exchange-onprem): Exchange cannot verify the token's signature with its
    /// cached EvoSTS metadata.
    InvalidSignature,
    /// `invalid_token` (exchange-onprem, exchange-online): The token is not valid (not yet valid,
    /// malformed, wrong issuer).
    InvalidToken,
    /// `ip_restricted` (the edge (load balancer, WAP, Exchange)): IP restrictions at the edge do
    /// not include the caller's source address (HTTP 403.6).
    IpRestricted,
    /// `kerberos_failed` (a client): The client could not get a Kerberos ticket from Active
    /// Directory.
    KerberosFailed,
    /// `legacy_auth_blocked` (exchange-onprem): An authentication policy blocks legacy (Basic)
    /// authentication.
    LegacyAuthBlocked,
    /// `mailbox_not_found` (exchange-onprem, exchange-online): No mailbox for the token's user on
    /// that side.
    MailboxNotFound,
    /// `mfa_denied` (adfs, entra-id): The user denied (or did not answer) the MFA prompt.
    MfaDenied,
    /// `mfa_registration_blocked` (entra-id): The user must register for MFA and the registration
    /// policy does not allow it from here.
    MfaRegistrationBlocked,
    /// `mfa_registration_blocked_by_risk` (entra-id): The user must register for MFA in a risky
    /// session, which Entra ID blocks.
    MfaRegistrationBlockedByRisk,
    /// `mfa_registration_required` (entra-id): MFA is required and the user has no method
    /// registered.
    MfaRegistrationRequired,
    /// `mfa_required` (adfs): The access control policy requires MFA, which the active (user name
    /// and password) endpoint cannot do.
    MfaRequired,
    /// `mfa_unreachable` (adfs): AD FS cannot reach its MFA provider.
    MfaUnreachable,
    /// `no_authorization_uri` (a client): The Bearer challenge has no `authorization_uri` (EvoSTS
    /// is not the default authorization endpoint).
    NoAuthorizationUri,
    /// `no_code` (a client): The redirect back to the client carries no authorization code.
    NoCode,
    /// `no_modern_auth` (a client): The client (a mail app) only does Basic.
    NoModernAuth,
    /// `no_www_authenticate` (autodetect): The 401 carries no `WWW-Authenticate` header.
    NoWwwAuthenticate,
    /// `not_published` (wap): The Web Application Proxy publishes no application for the host.
    NotPublished,
    /// `oauth_not_configured` (exchange-onprem): OAuth is not enabled on Exchange on-premises.
    OauthNotConfigured,
    /// `oauth_not_supported_by_mailbox_server` (exchange-onprem): The mailbox is on a server
    /// version that cannot do OAuth (Exchange 2010).
    OauthNotSupportedByMailboxServer,
    /// `obo_failed` (exchange-online): MRS could not get a token on behalf of the user.
    OboFailed,
    /// `preauthentication` (autodetect): A pre-authentication device in front of Exchange redirects
    /// the request to a sign-in page.
    Preauthentication,
    /// `pta_agent_unreachable` (entra-id): No pass-through authentication agent answers.
    PtaAgentUnreachable,
    /// `redirect_loop` (autodetect): AutoDiscover redirects too many times.
    RedirectLoop,
    /// `refresh_failed` (a client): The client could not renew its access token.
    RefreshFailed,
    /// `service_disabled` (exchange-onprem): The protocol's service is not started: the connection
    /// is refused.
    ServiceDisabled,
    /// `session_expired` (entra-id): The sign-in session is no longer known (AADSTS50058).
    SessionExpired,
    /// `sign_in_failed` (a client): The sign-in page answered with something the client cannot
    /// follow.
    SignInFailed,
    /// `sync_failed` (a client, exchange-online): A background synchronization (the client's or
    /// MRS's) failed.
    SyncFailed,
    /// `timeout` (a client, exchange-online): No answer before the request timed out.
    Timeout,
    /// `token_expired` (exchange-onprem): The access token has expired.
    TokenExpired,
    /// `token_failed` (a client): The token endpoint answered with an error the client cannot act
    /// on.
    TokenFailed,
    /// `unauthorized` (a client): A 401 the client cannot answer (no challenge it supports).
    Unauthorized,
    /// `unknown_relying_party` (adfs): AD FS has no relying party trust for the requested
    /// identifier.
    UnknownRelyingParty,
    /// `unknown_session` (adfs): AD FS does not know the sign-in session.
    UnknownSession,
    /// `unknown_user` (entra-id): Entra ID has no such user.
    UnknownUser,
    /// `unreachable` (a client, exchange-online): The party could not connect to the host it
    /// called.
    Unreachable,
    /// `unsupported_grant_type` (entra-id): The token endpoint does not support the grant type.
    UnsupportedGrantType,
}

impl FaultCode {
    /// Every code, in the order of their strings.
    pub const ALL: &'static [FaultCode] = &[
        FaultCode::AccessDenied,
        FaultCode::AppNotApproved,
        FaultCode::AudienceMismatch,
        FaultCode::AutodiscoverFailed,
        FaultCode::AutodiscoverUnreachable,
        FaultCode::BadAuthority,
        FaultCode::BadAutodiscoverUrl,
        FaultCode::BadRedirect,
        FaultCode::BasicAuthBlocked,
        FaultCode::BasicAuthDisabled,
        FaultCode::BlockedByConditionalAccess,
        FaultCode::ClaimsRejected,
        FaultCode::DeviceBlocked,
        FaultCode::DeviceNotCompliant,
        FaultCode::DeviceQuarantined,
        FaultCode::DeviceRegistrationFailed,
        FaultCode::DeviceRegistrationUnauthorized,
        FaultCode::DirectoryUnreachable,
        FaultCode::DiscoveryFailed,
        FaultCode::EventLimit,
        FaultCode::FederationRejected,
        FaultCode::InvalidCredentials,
        FaultCode::InvalidGrant,
        FaultCode::InvalidResource,
        FaultCode::InvalidSignature,
        FaultCode::InvalidToken,
        FaultCode::IpRestricted,
        FaultCode::KerberosFailed,
        FaultCode::LegacyAuthBlocked,
        FaultCode::MailboxNotFound,
        FaultCode::MfaDenied,
        FaultCode::MfaRegistrationBlocked,
        FaultCode::MfaRegistrationBlockedByRisk,
        FaultCode::MfaRegistrationRequired,
        FaultCode::MfaRequired,
        FaultCode::MfaUnreachable,
        FaultCode::NoAuthorizationUri,
        FaultCode::NoCode,
        FaultCode::NoModernAuth,
        FaultCode::NoWwwAuthenticate,
        FaultCode::NotPublished,
        FaultCode::OauthNotConfigured,
        FaultCode::OauthNotSupportedByMailboxServer,
        FaultCode::OboFailed,
        FaultCode::Preauthentication,
        FaultCode::PtaAgentUnreachable,
        FaultCode::RedirectLoop,
        FaultCode::RefreshFailed,
        FaultCode::ServiceDisabled,
        FaultCode::SessionExpired,
        FaultCode::SignInFailed,
        FaultCode::SyncFailed,
        FaultCode::Timeout,
        FaultCode::TokenExpired,
        FaultCode::TokenFailed,
        FaultCode::Unauthorized,
        FaultCode::UnknownRelyingParty,
        FaultCode::UnknownSession,
        FaultCode::UnknownUser,
        FaultCode::Unreachable,
        FaultCode::UnsupportedGrantType,
    ];

    /// The stable snake_case string of the contract.
    pub const fn as_str(self) -> &'static str {
        match self {
            FaultCode::AccessDenied => "access_denied",
            FaultCode::AppNotApproved => "app_not_approved",
            FaultCode::AudienceMismatch => "audience_mismatch",
            FaultCode::AutodiscoverFailed => "autodiscover_failed",
            FaultCode::AutodiscoverUnreachable => "autodiscover_unreachable",
            FaultCode::BadAuthority => "bad_authority",
            FaultCode::BadAutodiscoverUrl => "bad_autodiscover_url",
            FaultCode::BadRedirect => "bad_redirect",
            FaultCode::BasicAuthBlocked => "basic_auth_blocked",
            FaultCode::BasicAuthDisabled => "basic_auth_disabled",
            FaultCode::BlockedByConditionalAccess => "blocked_by_conditional_access",
            FaultCode::ClaimsRejected => "claims_rejected",
            FaultCode::DeviceBlocked => "device_blocked",
            FaultCode::DeviceNotCompliant => "device_not_compliant",
            FaultCode::DeviceQuarantined => "device_quarantined",
            FaultCode::DeviceRegistrationFailed => "device_registration_failed",
            FaultCode::DeviceRegistrationUnauthorized => "device_registration_unauthorized",
            FaultCode::DirectoryUnreachable => "directory_unreachable",
            FaultCode::DiscoveryFailed => "discovery_failed",
            FaultCode::EventLimit => "event_limit",
            FaultCode::FederationRejected => "federation_rejected",
            FaultCode::InvalidCredentials => "invalid_credentials",
            FaultCode::InvalidGrant => "invalid_grant",
            FaultCode::InvalidResource => "invalid_resource",
            FaultCode::InvalidSignature => "invalid_signature",
            FaultCode::InvalidToken => "invalid_token",
            FaultCode::IpRestricted => "ip_restricted",
            FaultCode::KerberosFailed => "kerberos_failed",
            FaultCode::LegacyAuthBlocked => "legacy_auth_blocked",
            FaultCode::MailboxNotFound => "mailbox_not_found",
            FaultCode::MfaDenied => "mfa_denied",
            FaultCode::MfaRegistrationBlocked => "mfa_registration_blocked",
            FaultCode::MfaRegistrationBlockedByRisk => "mfa_registration_blocked_by_risk",
            FaultCode::MfaRegistrationRequired => "mfa_registration_required",
            FaultCode::MfaRequired => "mfa_required",
            FaultCode::MfaUnreachable => "mfa_unreachable",
            FaultCode::NoAuthorizationUri => "no_authorization_uri",
            FaultCode::NoCode => "no_code",
            FaultCode::NoModernAuth => "no_modern_auth",
            FaultCode::NoWwwAuthenticate => "no_www_authenticate",
            FaultCode::NotPublished => "not_published",
            FaultCode::OauthNotConfigured => "oauth_not_configured",
            FaultCode::OauthNotSupportedByMailboxServer => "oauth_not_supported_by_mailbox_server",
            FaultCode::OboFailed => "obo_failed",
            FaultCode::Preauthentication => "preauthentication",
            FaultCode::PtaAgentUnreachable => "pta_agent_unreachable",
            FaultCode::RedirectLoop => "redirect_loop",
            FaultCode::RefreshFailed => "refresh_failed",
            FaultCode::ServiceDisabled => "service_disabled",
            FaultCode::SessionExpired => "session_expired",
            FaultCode::SignInFailed => "sign_in_failed",
            FaultCode::SyncFailed => "sync_failed",
            FaultCode::Timeout => "timeout",
            FaultCode::TokenExpired => "token_expired",
            FaultCode::TokenFailed => "token_failed",
            FaultCode::Unauthorized => "unauthorized",
            FaultCode::UnknownRelyingParty => "unknown_relying_party",
            FaultCode::UnknownSession => "unknown_session",
            FaultCode::UnknownUser => "unknown_user",
            FaultCode::Unreachable => "unreachable",
            FaultCode::UnsupportedGrantType => "unsupported_grant_type",
        }
    }

    /// The code whose string is `s`, if there is one.
    pub fn parse(s: &str) -> Option<FaultCode> {
        FaultCode::ALL.iter().copied().find(|c| c.as_str() == s)
    }
}

impl fmt::Display for FaultCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

impl serde::Serialize for FaultCode {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_are_unique_sorted_snake_case_and_parse_back() {
        for w in FaultCode::ALL.windows(2) {
            assert!(w[0].as_str() < w[1].as_str(), "{} then {}", w[0], w[1]);
        }
        for &c in FaultCode::ALL {
            let s = c.as_str();
            assert!(
                !s.is_empty() && !s.starts_with('_') && !s.ends_with('_') && !s.contains("__"),
                "{s}"
            );
            assert!(
                s.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'),
                "{s}"
            );
            assert_eq!(FaultCode::parse(s), Some(c));
        }
        assert_eq!(FaultCode::parse("Invalid_Grant"), None);
    }
}
