//! Entra ID's token endpoint: the token request (a form), the token response JSON and the
//! OAuth 2 error JSON (`error`, `error_description`, `error_codes`, `timestamp`,
//! `trace_id`, `correlation_id`, `error_uri`), with the `AADSTS` codes of Microsoft
//! Entra's error reference.

use serde_json::{json, Value};

use super::{form, ContentType, DecodeError, Encoded, Member, Refusal, Stamp, WireError};
use crate::oauth::GrantType;

/// An OAuth 2 error of Entra ID's token endpoint.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OAuthError {
    /// The RFC 6749 `error` (`invalid_request`, `invalid_grant`...).
    pub error: String,
    /// The `AADSTS` number.
    pub code: u32,
    /// The message after `AADSTSnnnn: `.
    pub message: String,
}

impl OAuthError {
    /// `AADSTS900144`: a required parameter is missing from the body.
    pub fn missing_parameter(name: &str) -> OAuthError {
        OAuthError {
            error: "invalid_request".into(),
            code: 900144,
            message: format!("The request body must contain the following parameter: '{name}'."),
        }
    }
    /// `AADSTS90014`: a field the credential needs is missing.
    pub fn missing_field(name: &str) -> OAuthError {
        OAuthError {
            error: "invalid_request".into(),
            code: 90014,
            message: format!(
                "The required field '{name}' is missing from the credential. Ensure that you have all the necessary parameters for the login request."
            ),
        }
    }
    /// `AADSTS50126`: the user name or password is wrong.
    pub fn invalid_credentials() -> OAuthError {
        OAuthError {
            error: "invalid_grant".into(),
            code: 50126,
            message: "Error validating credentials due to invalid username or password.".into(),
        }
    }
    /// `AADSTS70003`: the grant type is not one the endpoint supports.
    pub fn unsupported_grant_type(grant_type: &str) -> OAuthError {
        OAuthError {
            error: "unsupported_grant_type".into(),
            code: 70003,
            message: format!("The app requested an unsupported grant type '{grant_type}'."),
        }
    }
    /// `AADSTSnnnn: message`.
    pub fn description(&self) -> String {
        format!("AADSTS{}: {}", self.code, self.message)
    }
    /// The error JSON, with the stamp's ids and time in the description and fields.
    pub fn encode(&self, stamp: &Stamp) -> Vec<u8> {
        let description = format!(
            "{}\r\nTrace ID: {}\r\nCorrelation ID: {}\r\nTimestamp: {}",
            self.description(),
            stamp.trace_id,
            stamp.correlation_id,
            stamp.timestamp
        );
        json!({
            "error": self.error,
            "error_description": description,
            "error_codes": [self.code],
            "timestamp": stamp.timestamp,
            "trace_id": stamp.trace_id,
            "correlation_id": stamp.correlation_id,
            "error_uri": format!("https://login.microsoftonline.com/error?code={}", self.code),
        })
        .to_string()
        .into_bytes()
    }
    /// Reads an error JSON back (what a client reads of a 400).
    pub fn decode(bytes: &[u8]) -> Result<OAuthError, DecodeError> {
        const F: &str = "OAuth error JSON";
        let v: Value = super::from_json(bytes).map_err(|e| DecodeError::new(F, e.to_string()))?;
        let error = str_field(&v, "error", F)?;
        let d = str_field(&v, "error_description", F)?;
        let code = v["error_codes"][0]
            .as_u64()
            .and_then(|c| u32::try_from(c).ok())
            .ok_or_else(|| DecodeError::new(F, "no error_codes"))?;
        let first = d.split("\r\n").next().unwrap_or("");
        let message = first
            .strip_prefix(&format!("AADSTS{code}: "))
            .ok_or_else(|| DecodeError::new(F, "the description does not start with its code"))?;
        Ok(OAuthError {
            error,
            code,
            message: message.to_string(),
        })
    }
    /// The refusal as the token endpoint answers it (400).
    pub fn refuse(self) -> WireError {
        WireError::new(400, Refusal::OAuth(self))
    }
}

use super::json_str as str_field;

/// A token request as the endpoint reads it: its grant type and every field in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenRequest {
    /// `grant_type`.
    pub grant_type: GrantType,
    /// Every field, `grant_type` included, in wire order.
    pub fields: Vec<(String, String)>,
}

impl TokenRequest {
    /// The parameters each grant requires besides `grant_type` and `client_id`, and
    /// whether a missing one is a missing credential field (`AADSTS90014`) rather than a
    /// missing body parameter (`AADSTS900144`).
    pub fn required(grant: GrantType) -> &'static [(&'static str, bool)] {
        match grant {
            GrantType::Password => &[("username", true), ("password", true)],
            GrantType::AuthorizationCode => &[("code", false), ("redirect_uri", false)],
            GrantType::RefreshToken => &[("refresh_token", false)],
            GrantType::JwtBearer => &[("assertion", false), ("requested_token_use", false)],
        }
    }

    /// A request of this grant with these further fields (after `grant_type`).
    pub fn new(grant_type: GrantType, rest: &[(&str, &str)]) -> TokenRequest {
        let mut fields = vec![("grant_type".to_string(), grant_type.as_str().to_string())];
        fields.extend(rest.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        TokenRequest { grant_type, fields }
    }

    /// The value of a field.
    pub fn get(&self, name: &str) -> Option<&str> {
        form::get(&self.fields, name)
    }

    /// The encoded body.
    pub fn encode(&self) -> Encoded {
        Encoded::new(ContentType::Form, form::encode(&self.fields))
    }

    /// Reads a posted body as the token endpoint does: a body that is not a form, or has
    /// no `grant_type`, lacks `grant_type` (`AADSTS900144`); an unknown grant is
    /// `AADSTS70003`; then `client_id` and the grant's own parameters are required.
    pub fn decode(bytes: &[u8]) -> Result<TokenRequest, WireError> {
        let fields = form::decode(bytes)
            .map_err(|_| OAuthError::missing_parameter("grant_type").refuse())?;
        let g = form::get(&fields, "grant_type")
            .filter(|g| !g.is_empty())
            .ok_or_else(|| OAuthError::missing_parameter("grant_type").refuse())?;
        let grant_type =
            GrantType::parse(g).ok_or_else(|| OAuthError::unsupported_grant_type(g).refuse())?;
        let present = |k: &str| form::get(&fields, k).is_some_and(|v| !v.is_empty());
        if !present("client_id") {
            return Err(OAuthError::missing_parameter("client_id").refuse());
        }
        for &(k, credential) in Self::required(grant_type) {
            if !present(k) {
                let e = if credential {
                    OAuthError::missing_field(k)
                } else {
                    OAuthError::missing_parameter(k)
                };
                return Err(e.refuse());
            }
        }
        Ok(TokenRequest { grant_type, fields })
    }
}

/// The token endpoint's success answer (v1 endpoint fields).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenAnswer {
    /// `token_type` (`Bearer`).
    pub token_type: String,
    /// `resource`.
    pub resource: String,
    /// `scope`.
    pub scope: String,
    /// `expires_in`, seconds.
    pub expires_in: u64,
    /// `access_token` (a compact JWT).
    pub access_token: String,
    /// `refresh_token`.
    pub refresh_token: Option<String>,
    /// `id_token`.
    pub id_token: Option<String>,
}

/// A token endpoint's success answer to write, borrowing its members (an issuer writes the
/// tokens it keeps a record of without copying them): [`TokenAnswer`]'s bytes.
#[derive(Clone, Copy, Debug)]
pub struct TokenAnswerRef<'a> {
    /// `token_type` (`Bearer`).
    pub token_type: &'a str,
    /// `resource`.
    pub resource: &'a str,
    /// `scope`.
    pub scope: &'a str,
    /// `expires_in`, seconds (`ext_expires_in` is the same).
    pub expires_in: u64,
    /// `access_token`.
    pub access_token: &'a str,
    /// `refresh_token`.
    pub refresh_token: Option<&'a str>,
    /// `id_token`.
    pub id_token: Option<&'a str>,
}

impl TokenAnswerRef<'_> {
    /// The JSON body (members in alphabetical order, as Entra ID's answers are
    /// recorded).
    pub fn encode(&self) -> Encoded {
        let tokens = self.access_token.len()
            + self.id_token.map_or(0, str::len)
            + self.refresh_token.map_or(0, str::len);
        let mut bytes = Vec::with_capacity(tokens + 256);
        super::json::Object::new(&mut bytes)
            .str("access_token", self.access_token)
            .num("expires_in", self.expires_in)
            .num("ext_expires_in", self.expires_in)
            .opt_str("id_token", self.id_token)
            .opt_str("refresh_token", self.refresh_token)
            .str("resource", self.resource)
            .str("scope", self.scope)
            .str("token_type", self.token_type)
            .end();
        Encoded::new(ContentType::Json, bytes)
    }
}

impl TokenAnswer {
    /// The JSON body ([`TokenAnswerRef::encode`]).
    pub fn encode(&self) -> Encoded {
        TokenAnswerRef {
            token_type: &self.token_type,
            resource: &self.resource,
            scope: &self.scope,
            expires_in: self.expires_in,
            access_token: &self.access_token,
            refresh_token: self.refresh_token.as_deref(),
            id_token: self.id_token.as_deref(),
        }
        .encode()
    }
    /// Reads the JSON body (`expires_in` as a number or, as the v1 endpoint writes it,
    /// a string of digits).
    pub fn decode(bytes: &[u8]) -> Result<TokenAnswer, DecodeError> {
        const F: &str = "token response JSON";
        #[derive(serde::Deserialize)]
        struct In {
            #[serde(default)]
            token_type: Member,
            #[serde(default)]
            resource: Member,
            #[serde(default)]
            scope: Member,
            #[serde(default)]
            expires_in: Member,
            #[serde(default)]
            access_token: Member,
            #[serde(default)]
            refresh_token: Member,
            #[serde(default)]
            id_token: Member,
        }
        let v: In = super::from_json(bytes).map_err(|e| DecodeError::new(F, e.to_string()))?;
        let expires_in = match &v.expires_in {
            Member::Num(n) => Some(*n),
            Member::Str(s) => s.parse().ok(),
            Member::Other => None,
        }
        .ok_or_else(|| DecodeError::new(F, "no expires_in"))?;
        let need = |m: Member, k: &str| {
            m.into_str()
                .ok_or_else(|| DecodeError::new(F, format!("no string \"{k}\"")))
        };
        Ok(TokenAnswer {
            token_type: need(v.token_type, "token_type")?,
            resource: v.resource.into_str().unwrap_or_default(),
            scope: v.scope.into_str().unwrap_or_default(),
            expires_in,
            access_token: need(v.access_token, "access_token")?,
            refresh_token: v.refresh_token.into_str(),
            id_token: v.id_token.into_str(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_answer_is_written_as_a_sorted_object() {
        // The typed writer must give the bytes a `serde_json::Value` gives (members in
        // alphabetical order): recorded traces hold them.
        for (r, i) in [(None, None), (Some("r\"1"), Some("i<1"))] {
            let a = TokenAnswer {
                token_type: "Bearer".into(),
                resource: "https://outlook.office365.com".into(),
                scope: "user_impersonation".into(),
                expires_in: 3599,
                access_token: "a.b.c".into(),
                refresh_token: r.map(Into::into),
                id_token: i.map(Into::into),
            };
            let bytes = a.encode().bytes;
            let v: Value = serde_json::from_slice(&bytes).unwrap();
            assert_eq!(v.to_string().as_bytes(), &bytes[..]);
            assert_eq!(TokenAnswer::decode(&bytes).unwrap(), a);
        }
    }

    fn refusal(bytes: &[u8]) -> OAuthError {
        match TokenRequest::decode(bytes).unwrap_err() {
            WireError {
                status: 400,
                refusal: Refusal::OAuth(e),
            } => e,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_body_without_grant_type_is_aadsts900144() {
        let e = refusal(b"client_id=x&code=y");
        assert_eq!(e.code, 900144);
        let stamp = Stamp::default();
        let body = String::from_utf8(e.encode(&stamp)).unwrap();
        let v: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(v["error"], "invalid_request");
        assert_eq!(v["error_codes"][0], 900144);
        assert!(v["error_description"].as_str().unwrap().starts_with(
            "AADSTS900144: The request body must contain the following parameter: 'grant_type'.\r\nTrace ID: "
        ));
        assert_eq!(OAuthError::decode(body.as_bytes()).unwrap(), e);
        // Not a form at all: the endpoint finds no grant_type either.
        assert_eq!(refusal(b"grant_type=%zz").code, 900144);
        assert_eq!(refusal(b"grant_type=").code, 900144);
    }

    #[test]
    fn each_grant_requires_its_parameters() {
        let e = refusal(b"grant_type=bogus&client_id=c");
        assert_eq!(
            (e.code, e.error.as_str()),
            (70003, "unsupported_grant_type")
        );
        assert_eq!(
            e.message,
            "The app requested an unsupported grant type 'bogus'."
        );
        assert_eq!(
            refusal(b"grant_type=password").message,
            OAuthError::missing_parameter("client_id").message
        );
        let e = refusal(b"grant_type=password&client_id=c&username=u");
        assert_eq!((e.code, e.message.contains("'password'")), (90014, true));
        let e = refusal(b"grant_type=refresh_token&client_id=c");
        assert_eq!(
            (e.code, e.message.contains("'refresh_token'")),
            (900144, true)
        );
        let ok =
            TokenRequest::decode(b"grant_type=refresh_token&client_id=c&refresh_token=r").unwrap();
        assert_eq!(ok.grant_type, GrantType::RefreshToken);
        assert_eq!(ok.get("refresh_token"), Some("r"));
    }

    #[test]
    fn token_answers_read_back() {
        let a = TokenAnswer {
            token_type: "Bearer".into(),
            resource: "https://mail.contoso.com".into(),
            scope: "user_impersonation".into(),
            expires_in: 3599,
            access_token: "a.b.c".into(),
            refresh_token: Some("r".into()),
            id_token: None,
        };
        assert_eq!(TokenAnswer::decode(&a.encode().bytes).unwrap(), a);
        let s = br#"{"token_type":"Bearer","expires_in":"3599","access_token":"x"}"#;
        assert_eq!(TokenAnswer::decode(s).unwrap().expires_in, 3599);
        assert!(TokenAnswer::decode(br#"{"token_type":"Bearer"}"#).is_err());
    }
}
