//! OAuth 2 parameter values a receiver decides on, parsed: the token endpoint's
//! `grant_type`, the authorize request's `response_mode`, the on-behalf-of
//! `requested_token_use`, and the `amr` (authentication methods references) values of a
//! token. The strings are the ones Microsoft identity platform documents ("Microsoft
//! identity platform and OAuth 2.0 authorization code flow" for `grant_type` and
//! `response_mode`, "Microsoft identity platform and OAuth 2.0 On-Behalf-Of flow" for the
//! JWT bearer grant and `requested_token_use`, "Access token claims reference" for `scp`
//! and `amr`; RFC 6749, 7523 and 8176 underneath); they are compared exactly, as the
//! service does, and an unknown value parses to `None`.

/// The token endpoint's `grant_type`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GrantType {
    /// `password`: resource owner password credentials (a legacy sign-in).
    Password,
    /// `authorization_code`: redeem an authorization code.
    AuthorizationCode,
    /// `refresh_token`: redeem a refresh token.
    RefreshToken,
    /// `urn:ietf:params:oauth:grant-type:jwt-bearer`: a JWT assertion (on-behalf-of).
    JwtBearer,
}

impl GrantType {
    const ALL: [GrantType; 4] = [
        GrantType::Password,
        GrantType::AuthorizationCode,
        GrantType::RefreshToken,
        GrantType::JwtBearer,
    ];

    /// The parameter value.
    pub const fn as_str(self) -> &'static str {
        match self {
            GrantType::Password => "password",
            GrantType::AuthorizationCode => "authorization_code",
            GrantType::RefreshToken => "refresh_token",
            GrantType::JwtBearer => "urn:ietf:params:oauth:grant-type:jwt-bearer",
        }
    }

    /// The grant type a parameter value names, if any.
    pub fn parse(s: &str) -> Option<GrantType> {
        Self::ALL.into_iter().find(|g| g.as_str() == s)
    }
}

/// The authorize request's `response_mode`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ResponseMode {
    /// `query`: the code comes back in the redirect's query string.
    Query,
    /// `fragment`: in the redirect's fragment.
    Fragment,
    /// `form_post`: in a form the browser posts to the redirect URI.
    FormPost,
}

impl ResponseMode {
    /// The parameter value.
    pub const fn as_str(self) -> &'static str {
        match self {
            ResponseMode::Query => "query",
            ResponseMode::Fragment => "fragment",
            ResponseMode::FormPost => "form_post",
        }
    }

    /// The response mode a parameter value names, if any.
    pub fn parse(s: &str) -> Option<ResponseMode> {
        [
            ResponseMode::Query,
            ResponseMode::Fragment,
            ResponseMode::FormPost,
        ]
        .into_iter()
        .find(|m| m.as_str() == s)
    }
}

/// The on-behalf-of request's `requested_token_use`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RequestedTokenUse {
    /// `on_behalf_of`: the only value the flow defines.
    OnBehalfOf,
}

impl RequestedTokenUse {
    /// The parameter value.
    pub const fn as_str(self) -> &'static str {
        match self {
            RequestedTokenUse::OnBehalfOf => "on_behalf_of",
        }
    }

    /// The value a parameter names, if any.
    pub fn parse(s: &str) -> Option<RequestedTokenUse> {
        (s == RequestedTokenUse::OnBehalfOf.as_str()).then_some(RequestedTokenUse::OnBehalfOf)
    }
}

/// A `scp` (scope) value of a token hmasim decides on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    /// `offline_access`: the scope of a refresh token.
    OfflineAccess,
}

impl Scope {
    /// The claim value.
    pub const fn as_str(self) -> &'static str {
        match self {
            Scope::OfflineAccess => "offline_access",
        }
    }

    /// The scope a whole `scp` value is, if it is one scope hmasim models.
    pub fn parse(s: &str) -> Option<Scope> {
        (s == Scope::OfflineAccess.as_str()).then_some(Scope::OfflineAccess)
    }
}

/// An `amr` value of a token.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Amr {
    /// `pwd`: a password.
    Pwd,
    /// `mfa`: multiple factors.
    Mfa,
}

impl Amr {
    /// The claim value.
    pub const fn as_str(self) -> &'static str {
        match self {
            Amr::Pwd => "pwd",
            Amr::Mfa => "mfa",
        }
    }

    /// The method a claim value names, if it is one hmasim models.
    pub fn parse(s: &str) -> Option<Amr> {
        [Amr::Pwd, Amr::Mfa].into_iter().find(|a| a.as_str() == s)
    }

    /// Whether an `amr` list says multiple factors.
    pub fn has_mfa<S: AsRef<str>>(amr: &[S]) -> bool {
        amr.iter().any(|m| Amr::parse(m.as_ref()) == Some(Amr::Mfa))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_parse_back_exactly() {
        for g in GrantType::ALL {
            assert_eq!(GrantType::parse(g.as_str()), Some(g));
        }
        assert_eq!(GrantType::parse("Password"), None);
        assert_eq!(GrantType::parse(""), None);
        assert_eq!(
            ResponseMode::parse("form_post"),
            Some(ResponseMode::FormPost)
        );
        assert_eq!(ResponseMode::parse("query"), Some(ResponseMode::Query));
        assert_eq!(ResponseMode::parse("FORM_POST"), None);
        assert_eq!(
            RequestedTokenUse::parse("on_behalf_of"),
            Some(RequestedTokenUse::OnBehalfOf)
        );
        assert_eq!(RequestedTokenUse::parse("on-behalf-of"), None);
    }

    #[test]
    fn a_scope_is_the_whole_value() {
        assert_eq!(Scope::parse("offline_access"), Some(Scope::OfflineAccess));
        assert_eq!(Scope::parse("offline_access openid"), None);
        assert_eq!(Scope::parse("user_impersonation"), None);
    }

    #[test]
    fn mfa_is_read_from_the_amr_list() {
        assert!(Amr::has_mfa(&["pwd", "mfa"]));
        assert!(!Amr::has_mfa(&["pwd"]));
        assert!(!Amr::has_mfa(&["MFA"]));
        assert!(!Amr::has_mfa::<&str>(&[]));
        assert_eq!(Amr::parse("pwd"), Some(Amr::Pwd));
    }
}
