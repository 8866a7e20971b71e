//! Compact JWTs, signed and verified by computation.
//!
//! Real Entra ID signs with RS256 and publishes public keys in its metadata document. hmasim
//! signs with HS256 (HMAC-SHA256) and publishes the key material itself in the simulated
//! metadata: a signature costs about a microsecond instead of a millisecond, which keeps tens
//! of thousands of complete sign-ins per second within reach, and every property the flows
//! depend on is kept: a token verifies only against metadata that holds its `kid` *and* the
//! matching key, so a verifier with stale metadata rejects a token signed after a key
//! rollover because the HMAC it computes does not match, not because a flag says so.

use std::fmt;

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

type HmacSha256 = Hmac<Sha256>;

/// A signing key: key id and secret.
#[derive(Clone, PartialEq, Eq)]
pub struct SigningKey {
    /// The key id (`kid` header), as published in the metadata.
    pub kid: String,
    secret: [u8; 32],
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SigningKey({})", self.kid)
    }
}

impl SigningKey {
    /// The deterministic key of `issuer`'s key generation `generation` in a world seeded
    /// with `seed`. Its `kid` is derived from the secret, as a thumbprint would be.
    pub fn derive(issuer: &str, generation: u32, seed: u64) -> SigningKey {
        let mut h = Sha256::new();
        h.update(issuer.as_bytes());
        h.update(generation.to_le_bytes());
        h.update(seed.to_le_bytes());
        let secret: [u8; 32] = h.finalize().into();
        let kid = B64.encode(&Sha256::digest(secret)[..20]);
        SigningKey { kid, secret }
    }

    /// The key as a JSON Web Key (`kty` `oct`, `k` its secret, base64url): how the
    /// simulator's issuer publishes an HS256 key in its metadata.
    pub fn to_jwk(&self) -> crate::codec::oidc::Jwk {
        crate::codec::oidc::Jwk {
            kid: self.kid.clone(),
            k: B64.encode(self.secret),
        }
    }
    /// The key a published JSON Web Key holds; `None` when `k` is not 32 bytes of
    /// base64url.
    pub fn from_jwk(jwk: &crate::codec::oidc::Jwk) -> Option<SigningKey> {
        let secret: [u8; 32] = B64.decode(&jwk.k).ok()?.try_into().ok()?;
        Some(SigningKey {
            kid: jwk.kid.clone(),
            secret,
        })
    }

    fn mac(&self) -> HmacSha256 {
        // HMAC accepts keys of any length: this cannot fail.
        <HmacSha256 as Mac>::new_from_slice(&self.secret).expect("HMAC takes any key length")
    }
}

/// The signing metadata a verifier has cached: the keys it trusts.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct KeySet {
    /// The trusted keys.
    pub keys: Vec<SigningKey>,
}

impl KeySet {
    /// A key set holding `keys`.
    pub fn new(keys: Vec<SigningKey>) -> KeySet {
        KeySet { keys }
    }
    /// The published key set (JWKS).
    pub fn to_jwks(&self) -> crate::codec::oidc::Jwks {
        crate::codec::oidc::Jwks {
            keys: self.keys.iter().map(SigningKey::to_jwk).collect(),
        }
    }
    /// The keys of a published key set; `None` when one of them cannot be read.
    pub fn from_jwks(jwks: &crate::codec::oidc::Jwks) -> Option<KeySet> {
        jwks.keys
            .iter()
            .map(SigningKey::from_jwk)
            .collect::<Option<Vec<_>>>()
            .map(KeySet::new)
    }
    /// The key with id `kid`.
    pub fn get(&self, kid: &str) -> Option<&SigningKey> {
        self.keys.iter().find(|k| k.kid == kid)
    }
}

/// The JOSE header.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Header {
    /// Always `HS256` here.
    pub alg: String,
    /// `JWT`.
    pub typ: String,
    /// The key id.
    pub kid: String,
}

/// The claims of an Entra ID v1 access token (and of the other tokens hmasim mints).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// Audience: the resource the token is for.
    pub aud: String,
    /// Issuer.
    pub iss: String,
    /// Issued at (Unix seconds).
    pub iat: u64,
    /// Not before (Unix seconds).
    pub nbf: u64,
    /// Expires (Unix seconds).
    pub exp: u64,
    /// Authentication methods (`pwd`, `mfa`, `wia`, `fed`...).
    pub amr: Vec<String>,
    /// The application the token was issued to.
    pub appid: String,
    /// Scopes.
    pub scp: String,
    /// Tenant id.
    pub tid: String,
    /// The user.
    pub upn: String,
    /// Unique token identifier.
    pub uti: String,
}

impl Claims {
    /// Whether the authentication methods include multi-factor authentication.
    pub fn has_mfa(&self) -> bool {
        crate::oauth::Amr::has_mfa(&self.amr)
    }
}

/// Why a token does not verify.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum JwtError {
    /// Not three base64url parts of JSON.
    Malformed,
    /// The `kid` is not in the verifier's metadata.
    UnknownKey(String),
    /// The signature does not match the key the metadata holds for that `kid`.
    BadSignature(String),
    /// `exp` is past (Unix seconds: exp, now).
    Expired(u64, u64),
    /// `nbf` is in the future (Unix seconds: nbf, now).
    NotYetValid(u64, u64),
}

impl fmt::Display for JwtError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            JwtError::Malformed => f.write_str("the token is not a well-formed JWT"),
            JwtError::UnknownKey(k) => {
                write!(f, "no signing key with id '{k}' in the cached metadata")
            }
            JwtError::BadSignature(k) => write!(f, "the signature does not verify with key '{k}'"),
            JwtError::Expired(exp, now) => write!(f, "the token expired at {exp} (now {now})"),
            JwtError::NotYetValid(nbf, now) => {
                write!(f, "the token is not valid before {nbf} (now {now})")
            }
        }
    }
}

impl std::error::Error for JwtError {}

/// Signs `claims` with `key`, giving `header.payload.signature` in base64url.
pub fn sign(claims: &Claims, key: &SigningKey) -> String {
    let header = Header {
        alg: "HS256".into(),
        typ: "JWT".into(),
        kid: key.kid.clone(),
    };
    // Serializing plain structs of strings and integers cannot fail.
    let h = serde_json::to_vec(&header).expect("header serializes");
    let p = serde_json::to_vec(claims).expect("claims serialize");
    let mut out = String::with_capacity(64 + p.len() * 4 / 3 + 44);
    B64.encode_string(h, &mut out);
    out.push('.');
    B64.encode_string(p, &mut out);
    let mut mac = key.mac();
    mac.update(out.as_bytes());
    let sig = mac.finalize().into_bytes();
    out.push('.');
    B64.encode_string(sig, &mut out);
    out
}

/// Splits and decodes a JWT without checking its signature.
pub fn decode_unverified(jwt: &str) -> Result<(Header, Claims), JwtError> {
    let mut parts = jwt.split('.');
    let (Some(h), Some(p), Some(_), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(JwtError::Malformed);
    };
    let h = B64.decode(h).map_err(|_| JwtError::Malformed)?;
    let p = B64.decode(p).map_err(|_| JwtError::Malformed)?;
    let header: Header = serde_json::from_slice(&h).map_err(|_| JwtError::Malformed)?;
    let claims: Claims = serde_json::from_slice(&p).map_err(|_| JwtError::Malformed)?;
    Ok((header, claims))
}

/// Verifies `jwt` against the cached metadata `keys` at Unix time `now`, allowing `skew`
/// seconds of clock skew on `nbf` and `exp`. The audience is the caller's to check.
pub fn verify(jwt: &str, keys: &KeySet, now: u64, skew: u64) -> Result<Claims, JwtError> {
    let (header, claims) = decode_unverified(jwt)?;
    let key = keys
        .get(&header.kid)
        .ok_or_else(|| JwtError::UnknownKey(header.kid.clone()))?;
    let dot = jwt.rfind('.').ok_or(JwtError::Malformed)?;
    let sig = B64
        .decode(&jwt[dot + 1..])
        .map_err(|_| JwtError::Malformed)?;
    let mut mac = key.mac();
    mac.update(&jwt.as_bytes()[..dot]);
    mac.verify_slice(&sig)
        .map_err(|_| JwtError::BadSignature(header.kid.clone()))?;
    if now + skew < claims.nbf {
        return Err(JwtError::NotYetValid(claims.nbf, now));
    }
    if now >= claims.exp + skew {
        return Err(JwtError::Expired(claims.exp, now));
    }
    Ok(claims)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_set_is_published_as_a_jwks_and_read_back_and_the_trace_masks_its_secrets() {
        let keys = KeySet::new(vec![
            SigningKey::derive("evosts", 1, 7),
            SigningKey::derive("evosts", 2, 7),
        ]);
        let enc = keys.to_jwks().encode();
        let back = crate::codec::oidc::Jwks::decode(&enc.bytes).unwrap();
        assert_eq!(KeySet::from_jwks(&back), Some(keys.clone()));
        let shown = crate::codec::trace_value(&enc).to_string();
        assert!(shown.contains(&keys.keys[0].kid), "{shown}");
        assert!(!shown.contains(&keys.to_jwks().keys[0].k), "{shown}");
        let short = crate::codec::oidc::Jwk {
            kid: "x".into(),
            k: "AAAA".into(),
        };
        assert_eq!(SigningKey::from_jwk(&short), None);
    }

    fn claims() -> Claims {
        Claims {
            aud: "https://mail.contoso.com".into(),
            iss: "https://sts.windows.net/t/".into(),
            iat: 100,
            nbf: 100,
            exp: 3700,
            amr: vec!["pwd".into(), "mfa".into()],
            appid: crate::apps::EXCHANGE_ONLINE.into(),
            scp: "full_access_as_user".into(),
            tid: "t".into(),
            upn: "test@contoso.com".into(),
            uti: "x".into(),
        }
    }

    #[test]
    fn signs_and_verifies() {
        let k = SigningKey::derive("evosts", 1, 42);
        let jwt = sign(&claims(), &k);
        assert!(jwt.starts_with("eyJ"));
        let keys = KeySet::new(vec![k]);
        assert_eq!(verify(&jwt, &keys, 200, 300).unwrap(), claims());
        assert_eq!(
            verify(&jwt, &keys, 4100, 300),
            Err(JwtError::Expired(3700, 4100))
        );
    }

    #[test]
    fn stale_metadata_fails_by_computation() {
        let old = SigningKey::derive("evosts", 1, 42);
        let new = SigningKey::derive("evosts", 2, 42);
        let jwt = sign(&claims(), &new);
        let stale = KeySet::new(vec![old.clone()]);
        assert!(matches!(
            verify(&jwt, &stale, 200, 0),
            Err(JwtError::UnknownKey(_))
        ));
        // A forged token that claims the trusted kid but is signed with another key.
        let forged_key = SigningKey {
            kid: old.kid.clone(),
            ..new
        };
        let forged = sign(&claims(), &forged_key);
        assert!(matches!(
            verify(&forged, &stale, 200, 0),
            Err(JwtError::BadSignature(_))
        ));
        assert_eq!(verify("a.b", &stale, 0, 0), Err(JwtError::Malformed));
    }
}
