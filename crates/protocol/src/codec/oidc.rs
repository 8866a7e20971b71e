//! OpenID Connect discovery: the metadata document (`issuer`, `authorization_endpoint`,
//! `token_endpoint`, `jwks_uri`...) and the JSON Web Key Set it points to. hmasim signs
//! HS256, so its keys are published as symmetric JWKs (`kty` `oct`, the key in `k`,
//! RFC 7517/7518) where Entra publishes RSA keys (`kty` `RSA`, `n`, `e`, `x5c`).

use serde_json::{json, Value};

use super::{ContentType, DecodeError, Encoded};

/// The OpenID Connect metadata document.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Metadata {
    /// `issuer`.
    pub issuer: String,
    /// `authorization_endpoint`.
    pub authorization_endpoint: String,
    /// `token_endpoint`.
    pub token_endpoint: String,
    /// `jwks_uri`.
    pub jwks_uri: String,
}

impl Metadata {
    /// The JSON body.
    pub fn encode(&self) -> Encoded {
        let v = json!({
            "issuer": self.issuer,
            "authorization_endpoint": self.authorization_endpoint,
            "token_endpoint": self.token_endpoint,
            "jwks_uri": self.jwks_uri,
            "response_types_supported": ["code", "id_token", "code id_token", "token id_token", "token"],
            "subject_types_supported": ["pairwise"],
            "id_token_signing_alg_values_supported": ["HS256"],
        });
        Encoded::new(ContentType::Json, v.to_string().into_bytes())
    }
    /// Reads the JSON body.
    pub fn decode(bytes: &[u8]) -> Result<Metadata, DecodeError> {
        const F: &str = "OpenID Connect metadata";
        let v = super::json_value(bytes, F)?;
        let s = |k: &str| super::json_str(&v, k, F);
        Ok(Metadata {
            issuer: s("issuer")?,
            authorization_endpoint: s("authorization_endpoint")?,
            token_endpoint: s("token_endpoint")?,
            jwks_uri: s("jwks_uri")?,
        })
    }
}

/// One JSON Web Key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Jwk {
    /// `kid`.
    pub kid: String,
    /// `k`: the symmetric key, base64url without padding.
    pub k: String,
}

/// A JSON Web Key Set.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Jwks {
    /// `keys`, in order.
    pub keys: Vec<Jwk>,
}

impl Jwks {
    /// The JSON body.
    pub fn encode(&self) -> Encoded {
        let keys: Vec<Value> = self
            .keys
            .iter()
            .map(|k| json!({"kty": "oct", "use": "sig", "alg": "HS256", "kid": k.kid, "k": k.k}))
            .collect();
        Encoded::new(
            ContentType::Json,
            json!({"keys": keys}).to_string().into_bytes(),
        )
    }
    /// Reads the JSON body; a key that is not an `oct` signing key with `kid` and `k` is
    /// refused.
    pub fn decode(bytes: &[u8]) -> Result<Jwks, DecodeError> {
        const F: &str = "JWKS";
        let v: Value = super::from_json(bytes).map_err(|e| DecodeError::new(F, e.to_string()))?;
        let keys = v
            .get("keys")
            .and_then(Value::as_array)
            .ok_or_else(|| DecodeError::new(F, "no keys array"))?;
        let mut out = Vec::with_capacity(keys.len());
        for k in keys {
            let s = |f: &str| k.get(f).and_then(Value::as_str);
            if s("kty") != Some("oct") {
                return Err(DecodeError::new(F, "a key whose kty is not oct"));
            }
            match (s("kid"), s("k")) {
                (Some(kid), Some(key)) => out.push(Jwk {
                    kid: kid.into(),
                    k: key.into(),
                }),
                _ => return Err(DecodeError::new(F, "a key without kid or k")),
            }
        }
        Ok(Jwks { keys: out })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_and_keys_round_trip() {
        let m = Metadata {
            issuer: "https://sts.windows.net/t/".into(),
            authorization_endpoint: "https://login.microsoftonline.com/t/oauth2/authorize".into(),
            token_endpoint: "https://login.microsoftonline.com/t/oauth2/token".into(),
            jwks_uri: "https://login.microsoftonline.com/common/discovery/keys".into(),
        };
        assert_eq!(Metadata::decode(&m.encode().bytes).unwrap(), m);
        let j = Jwks {
            keys: vec![Jwk {
                kid: "k1".into(),
                k: "c2VjcmV0".into(),
            }],
        };
        assert_eq!(Jwks::decode(&j.encode().bytes).unwrap(), j);
        assert!(Jwks::decode(br#"{"keys":[{"kty":"RSA","kid":"x"}]}"#).is_err());
        assert!(Metadata::decode(b"{").is_err());
    }
}
