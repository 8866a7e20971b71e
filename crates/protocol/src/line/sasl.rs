//! The SASL mechanisms of the mail protocols: `PLAIN` (RFC 4616), `LOGIN` (its base64
//! prompts `Username:` and `Password:`) and `XOAUTH2` (`user=...^Aauth=Bearer ...^A^A`,
//! as Microsoft documents for Exchange Online's IMAP, POP and SMTP), base64-encoded on
//! the wire.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;

use crate::display::MASK;

/// A SASL mechanism.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mechanism {
    /// `PLAIN`.
    Plain,
    /// `LOGIN`.
    Login,
    /// `XOAUTH2`.
    Xoauth2,
}

impl Mechanism {
    /// The mechanism's name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Mechanism::Plain => "PLAIN",
            Mechanism::Login => "LOGIN",
            Mechanism::Xoauth2 => "XOAUTH2",
        }
    }
    /// The mechanism a name names (case-insensitive).
    pub fn parse(s: &str) -> Option<Mechanism> {
        [Mechanism::Plain, Mechanism::Login, Mechanism::Xoauth2]
            .into_iter()
            .find(|m| m.as_str().eq_ignore_ascii_case(s))
    }
}

/// Why a SASL payload cannot be read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SaslError {
    /// Not base64.
    NotBase64,
    /// Not the mechanism's format.
    Malformed,
}

/// Decodes a base64 payload (`=` alone is the empty payload, RFC 4954).
pub fn decode_base64(s: &str) -> Result<Vec<u8>, SaslError> {
    if s == "=" {
        return Ok(Vec::new());
    }
    STANDARD.decode(s).map_err(|_| SaslError::NotBase64)
}

/// Encodes bytes as base64.
pub fn encode_base64(b: &[u8]) -> String {
    STANDARD.encode(b)
}

/// `PLAIN` credentials.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Plain {
    /// The authorization identity (empty: the same as `user`).
    pub authzid: String,
    /// The authentication identity.
    pub user: String,
    /// The password.
    pub password: String,
}

impl Plain {
    /// The base64 payload `authzid NUL user NUL password`.
    pub fn encode(&self) -> String {
        encode_base64(format!("{}\0{}\0{}", self.authzid, self.user, self.password).as_bytes())
    }
    /// Reads a base64 payload.
    pub fn decode(s: &str) -> Result<Plain, SaslError> {
        let b = decode_base64(s)?;
        let t = String::from_utf8(b).map_err(|_| SaslError::Malformed)?;
        let mut p = t.split('\0');
        match (p.next(), p.next(), p.next(), p.next()) {
            (Some(z), Some(u), Some(w), None) if !u.is_empty() => Ok(Plain {
                authzid: z.into(),
                user: u.into(),
                password: w.into(),
            }),
            _ => Err(SaslError::Malformed),
        }
    }
}

/// `XOAUTH2` credentials.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Xoauth2 {
    /// `user=`: the mailbox.
    pub user: String,
    /// The access token after `auth=Bearer `.
    pub token: String,
}

impl Xoauth2 {
    /// The base64 payload.
    pub fn encode(&self) -> String {
        encode_base64(
            format!("user={}\x01auth=Bearer {}\x01\x01", self.user, self.token).as_bytes(),
        )
    }
    /// Reads a base64 payload.
    pub fn decode(s: &str) -> Result<Xoauth2, SaslError> {
        let b = decode_base64(s)?;
        let t = String::from_utf8(b).map_err(|_| SaslError::Malformed)?;
        let body = t.strip_suffix("\x01\x01").ok_or(SaslError::Malformed)?;
        let mut user = None;
        let mut token = None;
        for kv in body.split('\x01') {
            if let Some(u) = kv.strip_prefix("user=") {
                user = Some(u);
            } else if let Some(a) = kv.strip_prefix("auth=") {
                let (scheme, tok) = a.split_once(' ').ok_or(SaslError::Malformed)?;
                if !scheme.eq_ignore_ascii_case("Bearer") {
                    return Err(SaslError::Malformed);
                }
                token = Some(tok);
            } else {
                return Err(SaslError::Malformed);
            }
        }
        match (user, token) {
            (Some(u), Some(t)) if !u.is_empty() && !t.is_empty() => Ok(Xoauth2 {
                user: u.into(),
                token: t.into(),
            }),
            _ => Err(SaslError::Malformed),
        }
    }
}

/// `LOGIN`'s first prompt, base64 of `Username:`.
pub const LOGIN_USERNAME: &str = "VXNlcm5hbWU6";
/// `LOGIN`'s second prompt, base64 of `Password:`.
pub const LOGIN_PASSWORD: &str = "UGFzc3dvcmQ6";

/// A payload of `mechanism` as the trace shows it: `PLAIN` as
/// `<masked PLAIN credentials of USER>`, `XOAUTH2` as sent (it carries a bearer token,
/// which the trace shows as it shows `Authorization: Bearer`).
pub fn mask_payload(mechanism: Mechanism, payload: &str) -> String {
    match mechanism {
        Mechanism::Plain => match Plain::decode(payload) {
            Ok(p) => format!("<masked PLAIN credentials of {}>", p.user),
            Err(_) => MASK.to_string(),
        },
        Mechanism::Xoauth2 => payload.to_string(),
        Mechanism::Login => MASK.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xoauth2_is_microsofts_format() {
        let x = Xoauth2 {
            user: "test@contoso.onmicrosoft.com".into(),
            token: "EwBAAl3BAAUFFpUAo7J3Ve0bjLBWZWCclRC3EoAA".into(),
        };
        // The example of "Authenticate an IMAP, POP or SMTP connection using OAuth".
        assert_eq!(
            x.encode(),
            "dXNlcj10ZXN0QGNvbnRvc28ub25taWNyb3NvZnQuY29tAWF1dGg9QmVhcmVyIEV3QkFBbDNCQUFVRkZwVUFvN0ozVmUwYmpMQldaV0NjbFJDM0VvQUEBAQ=="
        );
        assert_eq!(Xoauth2::decode(&x.encode()).unwrap(), x);
        for bad in [
            "!!",
            "dXNlcj0=",
            &encode_base64(b"user=u\x01auth=Basic x\x01\x01"),
            &encode_base64(b"user=\x01auth=Bearer t\x01\x01"),
        ] {
            assert!(Xoauth2::decode(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn plain_round_trips_and_masks() {
        let p = Plain {
            authzid: String::new(),
            user: "u@contoso.com".into(),
            password: "P@ss".into(),
        };
        assert_eq!(Plain::decode(&p.encode()).unwrap(), p);
        assert_eq!(
            mask_payload(Mechanism::Plain, &p.encode()),
            "<masked PLAIN credentials of u@contoso.com>"
        );
        assert_eq!(mask_payload(Mechanism::Plain, "garbage"), MASK);
        assert!(Plain::decode(&encode_base64(b"only-one")).is_err());
        assert_eq!(
            String::from_utf8(decode_base64(LOGIN_PASSWORD).unwrap()).unwrap(),
            "Password:"
        );
    }
}
