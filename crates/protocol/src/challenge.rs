//! `WWW-Authenticate` challenges and `Authorization` credentials.

use std::fmt;

use base64::Engine as _;

use crate::apps;

/// One `WWW-Authenticate` header value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Challenge {
    /// `Bearer` with its auth-params in wire order (none for a bare `Bearer`).
    Bearer(Vec<(String, String)>),
    /// `Basic realm="..."`.
    Basic {
        /// The realm, the host name for Exchange.
        realm: String,
    },
    /// `Negotiate`, optionally with a token (Kerberos for Integrated Windows Authentication).
    Negotiate(Option<String>),
}

/// Why a header value is not a challenge.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChallengeError(pub String);

impl fmt::Display for ChallengeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "malformed WWW-Authenticate value: {}", self.0)
    }
}
impl std::error::Error for ChallengeError {}

impl Challenge {
    /// The Bearer challenge of Exchange (on-premises, hybrid modern auth enabled) for tenant
    /// `tenant_id` and accepted domain `domain`, exactly as flows.md gives it. Without an
    /// `authorization_uri` (EvoSTS not the default authorization endpoint) that parameter is
    /// left out.
    pub fn bearer_exchange(tenant_id: &str, domain: &str, authorization_uri: Option<&str>) -> Self {
        let mut p = vec![
            ("client_id".to_string(), apps::EXCHANGE_ONLINE.to_string()),
            (
                "trusted_issuers".to_string(),
                format!(
                    "{}@{tenant_id},{}@{domain}",
                    apps::ENTRA_PRINCIPAL,
                    apps::EXCHANGE_SERVER
                ),
            ),
            (
                "token_types".to_string(),
                "app_asserted_user_v1 service_asserted_app_v1".to_string(),
            ),
        ];
        if let Some(uri) = authorization_uri {
            p.push(("authorization_uri".to_string(), uri.to_string()));
        }
        Challenge::Bearer(p)
    }

    /// Adds `error="..."` to a Bearer challenge (as Exchange does for a rejected token).
    pub fn with_error(mut self, error: &str) -> Self {
        if let Challenge::Bearer(p) = &mut self {
            p.push(("error".to_string(), error.to_string()));
        }
        self
    }

    /// A Bearer auth-param by name.
    pub fn param(&self, name: &str) -> Option<&str> {
        match self {
            Challenge::Bearer(p) => p
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.as_str()),
            Challenge::Basic { realm } if name.eq_ignore_ascii_case("realm") => Some(realm),
            _ => None,
        }
    }

    /// Parses one header value.
    pub fn parse(s: &str) -> Result<Challenge, ChallengeError> {
        let s = s.trim();
        let (scheme, rest) = match s.split_once(' ') {
            Some((a, b)) => (a, b.trim()),
            None => (s, ""),
        };
        let params = parse_params(rest).ok_or_else(|| ChallengeError(s.to_string()))?;
        let is = |name: &str| scheme.eq_ignore_ascii_case(name);
        match () {
            () if is("bearer") => Ok(Challenge::Bearer(params)),
            () if is("basic") => {
                let realm = params
                    .into_iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case("realm"))
                    .map(|(_, v)| v)
                    .unwrap_or_default();
                Ok(Challenge::Basic { realm })
            }
            () if is("negotiate") => Ok(Challenge::Negotiate(
                (!rest.is_empty()).then(|| rest.to_string()),
            )),
            _ => Err(ChallengeError(s.to_string())),
        }
    }
}

fn parse_params(s: &str) -> Option<Vec<(String, String)>> {
    let mut out = Vec::new();
    let mut rest = s.trim();
    while !rest.is_empty() {
        let eq = rest.find('=')?;
        let key = rest[..eq].trim().to_string();
        rest = rest[eq + 1..].trim_start();
        let value;
        if let Some(r) = rest.strip_prefix('"') {
            let end = r.find('"')?;
            value = r[..end].to_string();
            rest = &r[end + 1..];
        } else {
            let end = rest.find(',').unwrap_or(rest.len());
            value = rest[..end].trim().to_string();
            rest = &rest[end..];
        }
        out.push((key, value));
        rest = rest.trim_start();
        rest = rest.strip_prefix(',').unwrap_or(rest).trim_start();
    }
    Some(out)
}

impl fmt::Display for Challenge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Challenge::Bearer(p) => {
                f.write_str("Bearer")?;
                for (i, (k, v)) in p.iter().enumerate() {
                    for piece in [if i == 0 { " " } else { ", " }, k, "=\"", v, "\""] {
                        f.write_str(piece)?;
                    }
                }
                Ok(())
            }
            Challenge::Basic { realm } => write!(f, "Basic realm=\"{realm}\""),
            Challenge::Negotiate(None) => f.write_str("Negotiate"),
            Challenge::Negotiate(Some(t)) => write!(f, "Negotiate {t}"),
        }
    }
}

/// One `Authorization` header value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Credentials {
    /// `Bearer` alone: the client advertises modern authentication and asks where to get a
    /// token.
    EmptyBearer,
    /// `Bearer <compact JWT>`.
    Bearer(String),
    /// `Basic base64(user:password)`.
    Basic {
        /// The user name (a UPN).
        user: String,
        /// The password.
        password: String,
    },
    /// `Negotiate <ticket>`.
    Negotiate(String),
}

impl Credentials {
    /// An `Authorization` value's scheme and the rest, trimmed.
    fn split(s: &str) -> (&str, &str) {
        let s = s.trim();
        match s.split_once(' ') {
            Some((a, b)) => (a, b.trim()),
            None => (s, ""),
        }
    }

    /// The `Authorization` value carrying Bearer `token` (what `Credentials::Bearer`
    /// displays), written without a copy of the token first.
    pub fn bearer_header(token: &str) -> String {
        ["Bearer ", token].concat()
    }

    /// The token of a `Bearer` value, borrowed (`Some("")` for an empty Bearer): what
    /// [`Credentials::parse`] gives as `Bearer` or `EmptyBearer`, without copying the
    /// token. `None` for any other scheme.
    pub fn bearer_token(s: &str) -> Option<&str> {
        let (scheme, rest) = Credentials::split(s);
        scheme.eq_ignore_ascii_case("bearer").then_some(rest)
    }

    /// Parses an `Authorization` value; `None` when it is not one of the known schemes.
    pub fn parse(s: &str) -> Option<Credentials> {
        let (scheme, rest) = Credentials::split(s);
        // Schemes are case-insensitive; compared without a lower-case copy (every request
        // the monitor sees is parsed).
        let is = |name: &str| scheme.eq_ignore_ascii_case(name);
        match () {
            () if is("bearer") && rest.is_empty() => Some(Credentials::EmptyBearer),
            () if is("bearer") => Some(Credentials::Bearer(rest.to_string())),
            () if is("basic") => {
                let raw = base64::engine::general_purpose::STANDARD
                    .decode(rest)
                    .ok()?;
                let raw = String::from_utf8(raw).ok()?;
                let (user, password) = raw.split_once(':')?;
                Some(Credentials::Basic {
                    user: user.to_string(),
                    password: password.to_string(),
                })
            }
            () if is("negotiate") && !rest.is_empty() => {
                Some(Credentials::Negotiate(rest.to_string()))
            }
            _ => None,
        }
    }
}

impl fmt::Display for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Credentials::EmptyBearer => f.write_str("Bearer"),
            Credentials::Bearer(t) => write!(f, "Bearer {t}"),
            Credentials::Basic { user, password } => write!(
                f,
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
            ),
            Credentials::Negotiate(t) => write!(f, "Negotiate {t}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bearer_header_is_what_the_credential_displays() {
        for t in ["eyJ.a.b", "x", "a b"] {
            assert_eq!(
                Credentials::bearer_header(t),
                Credentials::Bearer(t.into()).to_string()
            );
        }
    }

    #[test]
    fn a_bearer_token_is_what_parsing_gives_as_bearer() {
        for v in [
            "Bearer eyJ.a.b",
            "bearer   x ",
            " BEARER",
            "Bearer",
            "Basic dTpw",
            "Negotiate t",
            "",
            "Bearerx y",
        ] {
            let want = match Credentials::parse(v) {
                Some(Credentials::Bearer(t)) => Some(t),
                Some(Credentials::EmptyBearer) => Some(String::new()),
                _ => None,
            };
            assert_eq!(
                Credentials::bearer_token(v).map(str::to_string),
                want,
                "{v:?}"
            );
        }
    }

    #[test]
    fn exchange_bearer_challenge_is_exactly_the_documented_one() {
        let c = Challenge::bearer_exchange(
            "<tenant id>",
            "contoso.com",
            Some("https://login.windows.net/common/oauth2/authorize"),
        );
        assert_eq!(
            c.to_string(),
            "Bearer client_id=\"00000002-0000-0ff1-ce00-000000000000\", \
             trusted_issuers=\"00000001-0000-0000-c000-000000000000@<tenant id>,00000004-0000-0ff1-ce00-000000000000@contoso.com\", \
             token_types=\"app_asserted_user_v1 service_asserted_app_v1\", \
             authorization_uri=\"https://login.windows.net/common/oauth2/authorize\""
        );
        assert_eq!(Challenge::parse(&c.to_string()).unwrap(), c);
        let basic = Challenge::Basic {
            realm: "mail.contoso.com".into(),
        };
        assert_eq!(basic.to_string(), "Basic realm=\"mail.contoso.com\"");
        assert_eq!(Challenge::parse(&basic.to_string()).unwrap(), basic);
    }

    #[test]
    fn missing_authorization_uri_is_visible() {
        let c = Challenge::bearer_exchange("t", "contoso.com", None);
        assert_eq!(c.param("authorization_uri"), None);
        let c = c.with_error("invalid_token");
        assert!(c.to_string().ends_with(", error=\"invalid_token\""));
    }

    #[test]
    fn credentials_round_trip() {
        for c in [
            Credentials::EmptyBearer,
            Credentials::Bearer("a.b.c".into()),
            Credentials::Basic {
                user: "u@contoso.com".into(),
                password: "p:w".into(),
            },
            Credentials::Negotiate("YII".into()),
        ] {
            assert_eq!(Credentials::parse(&c.to_string()), Some(c));
        }
        assert_eq!(Credentials::parse("Digest x"), None);
    }
}
