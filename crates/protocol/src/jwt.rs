//! Compact JWTs, signed and verified by computation.
//!
//! Real Entra ID signs with RS256 and publishes public keys in its metadata document. hmasim
//! signs with HS256 (HMAC-SHA256) and publishes the key material itself in the simulated
//! metadata: a signature costs about a microsecond instead of a millisecond, which keeps tens
//! of thousands of complete sign-ins per second within reach, and every property the flows
//! depend on is kept: a token verifies only against metadata that holds its `kid` *and* the
//! matching key, so a verifier with stale metadata rejects a token signed after a key
//! rollover because the HMAC it computes does not match, not because a flag says so.

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

type HmacSha256 = Hmac<Sha256>;

/// A signing key: key id and secret.
///
/// A key carries, shared by its clones, what every signature and verification with it
/// would otherwise recompute: the HMAC keyed with its secret, and the encoded JOSE header
/// of its `kid` with the HMAC state after it (issue 12 item 10). Both are derived from the
/// key alone, so a token is byte for byte what it was without them.
#[derive(Clone)]
pub struct SigningKey {
    /// The key id (`kid` header), as published in the metadata.
    pub kid: String,
    secret: [u8; 32],
    prepared: Arc<Prepared>,
}

/// What a [`SigningKey`] precomputes.
struct Prepared {
    /// The `kid` the header below names (`SigningKey::kid` is public: a key whose `kid`
    /// was changed after it was made signs the slow way).
    kid: String,
    /// The HMAC keyed with the secret, nothing absorbed yet.
    mac: HmacSha256,
    /// `base64url(header) + "."`: how every token this key signs begins.
    header: String,
    /// `mac` after absorbing `header`.
    after_header: HmacSha256,
}

impl PartialEq for SigningKey {
    fn eq(&self, other: &SigningKey) -> bool {
        self.kid == other.kid && self.secret == other.secret
    }
}

impl Eq for SigningKey {}

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
        SigningKey::with_secret(kid, secret)
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
        Some(SigningKey::with_secret(jwk.kid.clone(), secret))
    }

    fn with_secret(kid: String, secret: [u8; 32]) -> SigningKey {
        // HMAC accepts keys of any length: this cannot fail.
        let mac = <HmacSha256 as Mac>::new_from_slice(&secret).expect("HMAC takes any key length");
        let header = encoded_header(&kid);
        let mut after_header = mac.clone();
        after_header.update(header.as_bytes());
        SigningKey {
            prepared: Arc::new(Prepared {
                kid: kid.clone(),
                mac,
                header,
                after_header,
            }),
            kid,
            secret,
        }
    }

    /// The HMAC keyed with this key's secret.
    fn mac(&self) -> HmacSha256 {
        self.prepared.mac.clone()
    }
}

/// `base64url(JSON of the JOSE header naming kid) + "."`.
fn encoded_header(kid: &str) -> String {
    let header = Header {
        alg: "HS256".into(),
        typ: "JWT".into(),
        kid: kid.to_string(),
    };
    // Serializing a plain struct of strings cannot fail.
    let h = serde_json::to_vec(&header).expect("header serializes");
    let mut out = B64.encode(h);
    out.push('.');
    out
}

/// `bytes` in lower-case hex, two digits a byte: how token ids (`uti`) and authorization
/// codes are written. One allocation, no formatting machinery (a token's `uti` is minted
/// on every sign-in).
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(DIGITS[usize::from(b >> 4)] as char);
        out.push(DIGITS[usize::from(b & 15)] as char);
    }
    out
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
    /// Reads claims written exactly as [`Claims::write_json`] writes them (members in its
    /// order, no white space, strings without escapes), without serde's dispatch; `None`
    /// for any other JSON, which the caller reads with serde. What it accepts, it reads
    /// as serde would (a test holds it to that).
    fn read_canonical(b: &[u8]) -> Option<Claims> {
        // One UTF-8 check of the whole payload: every string is then a slice of it, cut
        // at ASCII quotes.
        struct R<'a>(&'a str);
        impl R<'_> {
            fn lit(&mut self, l: &str) -> Option<()> {
                self.0 = self.0.strip_prefix(l)?;
                Some(())
            }
            fn str(&mut self) -> Option<String> {
                self.lit("\"")?;
                let b = self.0.as_bytes();
                let end = memchr::memchr2(b'"', b'\\', b)?;
                // An escape, or a control byte JSON does not allow raw: serde's to read.
                if b[end] != b'"' || b[..end].iter().any(|&c| c < 0x20) {
                    return None;
                }
                let s = self.0.get(..end)?.to_string();
                self.0 = self.0.get(end + 1..)?;
                Some(s)
            }
            fn num(&mut self) -> Option<u64> {
                let b = self.0.as_bytes();
                let n = b.iter().take_while(|c| c.is_ascii_digit()).count();
                // A leading zero, or a number too large for u64: serde's to judge.
                if n == 0 || n > 20 || (n > 1 && b[0] == b'0') {
                    return None;
                }
                let v = self.0.get(..n)?.parse().ok()?;
                self.0 = self.0.get(n..)?;
                Some(v)
            }
        }
        let mut r = R(std::str::from_utf8(b).ok()?);
        r.lit("{\"aud\":")?;
        let aud = r.str()?;
        r.lit(",\"iss\":")?;
        let iss = r.str()?;
        r.lit(",\"iat\":")?;
        let iat = r.num()?;
        r.lit(",\"nbf\":")?;
        let nbf = r.num()?;
        r.lit(",\"exp\":")?;
        let exp = r.num()?;
        r.lit(",\"amr\":[")?;
        let mut amr = Vec::new();
        if r.lit("]").is_none() {
            loop {
                amr.push(r.str()?);
                if r.lit("]").is_some() {
                    break;
                }
                r.lit(",")?;
            }
        }
        r.lit(",\"appid\":")?;
        let appid = r.str()?;
        r.lit(",\"scp\":")?;
        let scp = r.str()?;
        r.lit(",\"tid\":")?;
        let tid = r.str()?;
        r.lit(",\"upn\":")?;
        let upn = r.str()?;
        r.lit(",\"uti\":")?;
        let uti = r.str()?;
        r.lit("}")?;
        r.0.is_empty().then_some(Claims {
            aud,
            iss,
            iat,
            nbf,
            exp,
            amr,
            appid,
            scp,
            tid,
            upn,
            uti,
        })
    }

    /// Appends the claims' JSON, the bytes their `Serialize` gives (members in field
    /// order), written without serde's per-byte escaping of strings that need none.
    pub fn write_json(&self, out: &mut Vec<u8>) {
        crate::codec::json::Object::new(out)
            .str("aud", &self.aud)
            .str("iss", &self.iss)
            .num("iat", self.iat)
            .num("nbf", self.nbf)
            .num("exp", self.exp)
            .strs("amr", &self.amr)
            .str("appid", &self.appid)
            .str("scp", &self.scp)
            .str("tid", &self.tid)
            .str("upn", &self.upn)
            .str("uti", &self.uti)
            .end();
    }
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
    let p = &key.prepared;
    // The header and the HMAC state after it are the key's own, unless its `kid` was
    // changed after it was made.
    let (header, mut mac) = if p.kid == key.kid {
        (Cow::Borrowed(p.header.as_str()), p.after_header.clone())
    } else {
        let header = encoded_header(&key.kid);
        let mut mac = key.mac();
        mac.update(header.as_bytes());
        (Cow::Owned(header), mac)
    };
    // Serializing a plain struct of strings and integers cannot fail.
    let mut json = Vec::with_capacity(512);
    claims.write_json(&mut json);
    let mut out = String::with_capacity(header.len() + json.len() * 4 / 3 + 48);
    out.push_str(&header);
    let payload = out.len();
    B64.encode_string(json, &mut out);
    mac.update(&out.as_bytes()[payload..]);
    let sig = mac.finalize().into_bytes();
    out.push('.');
    B64.encode_string(sig, &mut out);
    out
}

/// The JOSE header, borrowing from the decoded bytes: what verification reads of it.
#[derive(Deserialize)]
struct HeaderRef<'a> {
    #[allow(dead_code)] // required, as in `Header`
    #[serde(borrow)]
    alg: Cow<'a, str>,
    #[allow(dead_code)] // required, as in `Header`
    #[serde(borrow)]
    typ: Cow<'a, str>,
    #[serde(borrow)]
    kid: Cow<'a, str>,
}

/// The three parts of a compact JWT, split on its two dots.
fn parts(jwt: &str) -> Result<(&str, &str, &str), JwtError> {
    let mut dots = memchr::memchr_iter(b'.', jwt.as_bytes());
    let (Some(i), Some(j), None) = (dots.next(), dots.next(), dots.next()) else {
        return Err(JwtError::Malformed);
    };
    Ok((&jwt[..i], &jwt[i + 1..j], &jwt[j + 1..]))
}

/// Calls `f` with the base64url-decoded bytes of `part`: on the stack when they fit
/// (every token hmasim signs), else in a vector. The decoding accepts exactly what
/// `Engine::decode` accepts.
fn decoded<R>(part: &str, f: impl FnOnce(&[u8]) -> R) -> Result<R, JwtError> {
    const STACK: usize = 768;
    if part.len() <= STACK / 3 * 4 {
        let mut buf = [0u8; STACK];
        let n = B64
            .decode_slice(part, &mut buf)
            .map_err(|_| JwtError::Malformed)?;
        Ok(f(&buf[..n]))
    } else {
        let v = B64.decode(part).map_err(|_| JwtError::Malformed)?;
        Ok(f(&v))
    }
}

/// Splits and decodes a JWT without checking its signature.
pub fn decode_unverified(jwt: &str) -> Result<(Header, Claims), JwtError> {
    let (h, p, _) = parts(jwt)?;
    let header: Header =
        decoded(h, |b| crate::codec::from_json(b))?.map_err(|_| JwtError::Malformed)?;
    let claims: Claims =
        decoded(p, |b| crate::codec::from_json(b))?.map_err(|_| JwtError::Malformed)?;
    Ok((header, claims))
}

/// Verifies `jwt` against the cached metadata `keys` at Unix time `now`, allowing `skew`
/// seconds of clock skew on `nbf` and `exp`. The audience is the caller's to check.
pub fn verify(jwt: &str, keys: &KeySet, now: u64, skew: u64) -> Result<Claims, JwtError> {
    let (h, p, s) = parts(jwt)?;
    // The same checks in the same order as decoding the whole token first: a malformed
    // header or payload is `Malformed` before the key is looked up.
    // A header that is, byte for byte, the one a published key writes names that key (it
    // is well-formed: the key wrote it); any other is read as JSON.
    let own = keys.keys.iter().find(|k| {
        let p = &k.prepared;
        p.kid == k.kid && p.header.len() == h.len() + 1 && p.header.starts_with(h)
    });
    let key = match own {
        Some(k) => Ok(k),
        None => decoded(h, |b| {
            crate::codec::from_json::<HeaderRef<'_>>(b)
                .map(|hd| keys.get(&hd.kid).ok_or_else(|| hd.kid.into_owned()))
        })?
        .map_err(|_| JwtError::Malformed)?,
    };
    let claims: Claims = decoded(p, |b| {
        Claims::read_canonical(b).map_or_else(|| crate::codec::from_json(b), Ok)
    })?
    .map_err(|_| JwtError::Malformed)?;
    let key = key.map_err(JwtError::UnknownKey)?;
    let signed = &jwt[..h.len() + 1 + p.len()];
    let valid = decoded(s, |sig| {
        let pr = &key.prepared;
        // A token that begins with the key's own header resumes the HMAC after it.
        let mac = match signed.strip_prefix(pr.header.as_str()) {
            Some(rest) => {
                let mut mac = pr.after_header.clone();
                mac.update(rest.as_bytes());
                mac
            }
            None => {
                let mut mac = key.mac();
                mac.update(signed.as_bytes());
                mac
            }
        };
        mac.verify_slice(sig).is_ok()
    })?;
    if !valid {
        return Err(JwtError::BadSignature(key.kid.clone()));
    }
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
    fn hex_is_two_lower_case_digits_a_byte() {
        let bytes = [0u8, 9, 10, 15, 16, 127, 128, 255];
        let want: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(hex(&bytes), want);
        assert_eq!(hex(&[]), "");
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

    /// Signing as it was before keys carried their prepared header and HMAC.
    fn reference_sign(claims: &Claims, key: &SigningKey) -> String {
        let header = Header {
            alg: "HS256".into(),
            typ: "JWT".into(),
            kid: key.kid.clone(),
        };
        let h = serde_json::to_vec(&header).unwrap();
        let p = serde_json::to_vec(claims).unwrap();
        let mut out = String::new();
        B64.encode_string(h, &mut out);
        out.push('.');
        B64.encode_string(p, &mut out);
        let mut mac = <HmacSha256 as Mac>::new_from_slice(&key.secret).unwrap();
        mac.update(out.as_bytes());
        out.push('.');
        B64.encode_string(mac.finalize().into_bytes(), &mut out);
        out
    }

    proptest::proptest! {
        #[test]
        fn canonical_claims_are_read_as_serde_reads_them(
            strs in proptest::collection::vec("[ -~\u{e9}\u{2713}\\\\\"\u{1}]{0,12}", 9),
            nums in proptest::collection::vec(proptest::prelude::any::<u64>(), 3),
            amr in proptest::collection::vec("[a-z\\\\\"]{0,4}", 0..3),
        ) {
            let c = Claims {
                aud: strs[0].clone(),
                iss: strs[1].clone(),
                iat: nums[0],
                nbf: nums[1],
                exp: nums[2],
                amr,
                appid: strs[2].clone(),
                scp: strs[3].clone(),
                tid: strs[4].clone(),
                upn: strs[5].clone(),
                uti: strs[6].clone(),
            };
            let mut json = Vec::new();
            c.write_json(&mut json);
            let serde: Claims = serde_json::from_slice(&json).unwrap();
            proptest::prop_assert_eq!(&serde, &c);
            // What the fast reader accepts, it reads as serde does; an escape is serde's.
            if let Some(fast) = Claims::read_canonical(&json) {
                proptest::prop_assert_eq!(fast, serde);
            } else {
                proptest::prop_assert!(json.contains(&b'\\'));
            }
            // Any other bytes: the fast reader declines or agrees with serde.
            let spaced = String::from_utf8(json.clone()).unwrap().replacen(",\"iss\"", ", \"iss\"", 1);
            proptest::prop_assert!(Claims::read_canonical(spaced.as_bytes()).is_none());
            for cut in [1, json.len() / 2, json.len() - 1] {
                if let Some(fast) = Claims::read_canonical(&json[..cut]) {
                    proptest::prop_assert_eq!(Some(fast), serde_json::from_slice(&json[..cut]).ok());
                }
            }
        }
    }

    #[test]
    fn prepared_keys_sign_byte_for_byte_as_before() {
        let k = SigningKey::derive("evosts", 1, 42);
        assert_eq!(sign(&claims(), &k), reference_sign(&claims(), &k));
        let mut long = claims();
        long.upn = "\"quoted\" ü".repeat(200);
        assert_eq!(sign(&long, &k), reference_sign(&long, &k));
        let keys = KeySet::new(vec![k.clone()]);
        assert_eq!(verify(&sign(&long, &k), &keys, 200, 0).unwrap(), long);
        // A key whose public kid was changed after it was made signs with that kid.
        let mut renamed = k.clone();
        renamed.kid = "other".into();
        assert_eq!(
            sign(&claims(), &renamed),
            reference_sign(&claims(), &renamed)
        );
        assert_ne!(renamed, k);
    }

    #[test]
    fn verification_refuses_what_decoding_refuses_first() {
        let k = SigningKey::derive("evosts", 1, 42);
        let jwt = sign(&claims(), &k);
        let (h, rest) = jwt.split_once('.').unwrap();
        let (p, sig) = rest.split_once('.').unwrap();
        let enc = |s: &str| B64.encode(s);
        let bad = [
            "a.b".to_string(),
            format!("{h}.{p}"),
            format!("{h}.{p}.{sig}.x"),
            format!("{}.{p}.{sig}", enc(r#"{"alg":"HS256","kid":"x"}"#)),
            format!("{h}.{}.{sig}", enc(r#"{"upn":"u"}"#)),
            format!("{h}.{}.{sig}", enc("not json")),
            format!("!!.{p}.{sig}"),
        ];
        for t in bad {
            assert!(decode_unverified(&t).is_err(), "{t}");
            assert_eq!(
                verify(&t, &KeySet::new(vec![k.clone()]), 200, 0),
                Err(JwtError::Malformed),
                "{t}"
            );
        }
        // A signature of the wrong length or bytes, and an unknown key.
        let keys = KeySet::new(vec![k.clone()]);
        assert!(matches!(
            verify(&format!("{h}.{p}.{}", &sig[..20]), &keys, 200, 0),
            Err(JwtError::BadSignature(_))
        ));
        assert!(matches!(
            verify(&format!("{h}.{p}.***"), &keys, 200, 0),
            Err(JwtError::Malformed)
        ));
        let other = KeySet::new(vec![SigningKey::derive("evosts", 2, 42)]);
        assert_eq!(
            verify(&jwt, &other, 200, 0),
            Err(JwtError::UnknownKey(k.kid))
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
            ..new.clone()
        };
        let forged = sign(&claims(), &forged_key);
        assert!(matches!(
            verify(&forged, &stale, 200, 0),
            Err(JwtError::BadSignature(_))
        ));
        assert_eq!(verify("a.b", &stale, 0, 0), Err(JwtError::Malformed));
    }
}
