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
    /// `access_denied`.
    AccessDenied,
    /// `app_not_approved`.
    AppNotApproved,
    /// `audience_mismatch`.
    AudienceMismatch,
    /// `autodiscover_failed`.
    AutodiscoverFailed,
    /// `autodiscover_unreachable`.
    AutodiscoverUnreachable,
    /// `bad_authority`.
    BadAuthority,
    /// `bad_autodiscover_url`.
    BadAutodiscoverUrl,
    /// `bad_redirect`.
    BadRedirect,
    /// `basic_auth_blocked`.
    BasicAuthBlocked,
    /// `basic_auth_disabled`.
    BasicAuthDisabled,
    /// `blocked_by_conditional_access`.
    BlockedByConditionalAccess,
    /// `claims_rejected`.
    ClaimsRejected,
    /// `device_blocked`.
    DeviceBlocked,
    /// `device_not_compliant`.
    DeviceNotCompliant,
    /// `device_quarantined`.
    DeviceQuarantined,
    /// `device_registration_failed`.
    DeviceRegistrationFailed,
    /// `device_registration_unauthorized`.
    DeviceRegistrationUnauthorized,
    /// `directory_unreachable`.
    DirectoryUnreachable,
    /// `discovery_failed`.
    DiscoveryFailed,
    /// `event_limit`.
    EventLimit,
    /// `federation_rejected`.
    FederationRejected,
    /// `invalid_credentials`.
    InvalidCredentials,
    /// `invalid_grant`.
    InvalidGrant,
    /// `invalid_resource`.
    InvalidResource,
    /// `invalid_signature`.
    InvalidSignature,
    /// `invalid_token`.
    InvalidToken,
    /// `ip_restricted`.
    IpRestricted,
    /// `kerberos_failed`.
    KerberosFailed,
    /// `legacy_auth_blocked`.
    LegacyAuthBlocked,
    /// `mailbox_not_found`.
    MailboxNotFound,
    /// `mfa_denied`.
    MfaDenied,
    /// `mfa_registration_blocked`.
    MfaRegistrationBlocked,
    /// `mfa_registration_blocked_by_risk`.
    MfaRegistrationBlockedByRisk,
    /// `mfa_registration_required`.
    MfaRegistrationRequired,
    /// `mfa_required`.
    MfaRequired,
    /// `mfa_unreachable`.
    MfaUnreachable,
    /// `no_authorization_uri`.
    NoAuthorizationUri,
    /// `no_code`.
    NoCode,
    /// `no_modern_auth`.
    NoModernAuth,
    /// `no_www_authenticate`.
    NoWwwAuthenticate,
    /// `not_published`.
    NotPublished,
    /// `oauth_not_configured`.
    OauthNotConfigured,
    /// `oauth_not_supported_by_mailbox_server`.
    OauthNotSupportedByMailboxServer,
    /// `obo_failed`.
    OboFailed,
    /// `preauthentication`.
    Preauthentication,
    /// `pta_agent_unreachable`.
    PtaAgentUnreachable,
    /// `redirect_loop`.
    RedirectLoop,
    /// `refresh_failed`.
    RefreshFailed,
    /// `service_disabled`.
    ServiceDisabled,
    /// `session_expired`.
    SessionExpired,
    /// `sign_in_failed`.
    SignInFailed,
    /// `sync_failed`.
    SyncFailed,
    /// `timeout`.
    Timeout,
    /// `token_expired`.
    TokenExpired,
    /// `token_failed`.
    TokenFailed,
    /// `unauthorized`.
    Unauthorized,
    /// `unknown_relying_party`.
    UnknownRelyingParty,
    /// `unknown_session`.
    UnknownSession,
    /// `unknown_user`.
    UnknownUser,
    /// `unreachable`.
    Unreachable,
    /// `unsupported_grant_type`.
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
