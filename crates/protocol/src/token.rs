//! Issued tokens, as the trace's `tokens` array records them.

use serde::Serialize;

/// What a token is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TokenKind {
    /// An OAuth 2 access token (AT).
    Access,
    /// An OAuth 2 refresh token (RT).
    Refresh,
    /// An OpenID Connect id token.
    Id,
    /// An AD FS (SAML / WS-Federation) security token.
    Saml,
}

/// One issued token (contract `TOKEN`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Token {
    /// `AT1`, `RT1`, `AT2`... as in the articles.
    pub id: String,
    /// Access, refresh, id or SAML.
    pub kind: TokenKind,
    /// The party that issued it.
    pub issuer: &'static str,
    /// The party it was issued to (its `appid`).
    pub client: String,
    /// `aud`.
    pub audience: String,
    /// The token it was obtained on behalf of.
    pub obo_of: Option<String>,
    /// Authentication methods.
    pub amr: Vec<String>,
    /// Simulated ms at issue.
    pub issued_ms: u64,
    /// Simulated ms at expiry.
    pub expires_ms: u64,
    /// The compact serialization.
    pub jwt: String,
    /// The user it was issued for (its `upn` claim), as the issuer's own record says: what
    /// the trace's monitor reads instead of decoding every token issued. Not rendered (the
    /// contract's TOKEN has no such field; the JWT shows it).
    #[serde(skip)]
    pub upn: String,
}

impl Token {
    /// Whether the token rests on multi-factor authentication.
    pub fn has_mfa(&self) -> bool {
        crate::oauth::Amr::has_mfa(&self.amr)
    }
}
