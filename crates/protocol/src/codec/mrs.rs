//! Outlook mobile's provisioning request to the Microsoft sync technology (MRS): the
//! on-premises ActiveSync endpoint of a mailbox, as JSON (`upn`, `protocol`, `url`; the
//! fields of the trace's `Body::Provision`). The wire format is not publicly documented:
//! this is hmasim's model, refused with an OData error as Microsoft's JSON APIs answer.

use serde_json::{json, Value};

use super::{ContentType, Encoded, Refusal, WireError};

/// The OData `400 BadRequest` refusal with `message`.
pub fn bad_request(message: &str) -> WireError {
    WireError::new(
        400,
        Refusal::OData {
            code: "BadRequest".into(),
            message: message.into(),
        },
    )
}

/// A provisioning request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Provision {
    /// The mailbox owner.
    pub upn: String,
    /// The on-premises ActiveSync URL.
    pub url: String,
}

impl Provision {
    /// The JSON body.
    pub fn encode(&self) -> Encoded {
        Encoded::new(
            ContentType::Json,
            json!({"upn": self.upn, "protocol": "activesync", "url": self.url})
                .to_string()
                .into_bytes(),
        )
    }
    /// Reads a posted body; anything else than the three strings (protocol
    /// `activesync`, an `https` URL) is `400 BadRequest`.
    pub fn decode(bytes: &[u8]) -> Result<Provision, WireError> {
        let bad = bad_request;
        let v: Value = serde_json::from_slice(bytes)
            .map_err(|_| bad("The request body is not valid JSON."))?;
        let s = |k: &str| v.get(k).and_then(Value::as_str);
        match (s("upn"), s("protocol"), s("url")) {
            (Some(upn), Some("activesync"), Some(url)) if url.starts_with("https://") && upn.contains('@') => {
                Ok(Provision {
                    upn: upn.into(),
                    url: url.into(),
                })
            }
            _ => Err(bad("Invalid provisioning request: expected upn, protocol 'activesync' and an https url.")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::Stamp;

    #[test]
    fn provisioning_round_trips_and_refuses() {
        let p = Provision {
            upn: "u@contoso.com".into(),
            url: "https://mail.contoso.com/Microsoft-Server-ActiveSync".into(),
        };
        assert_eq!(Provision::decode(&p.encode().bytes).unwrap(), p);
        for bad in [
            &b"{"[..],
            br#"{"upn":"u@c","protocol":"ews","url":"https://x"}"#,
            br#"{"upn":"u@c","protocol":"activesync","url":"http://x"}"#,
        ] {
            let e = Provision::decode(bad).unwrap_err();
            assert_eq!(e.status, 400);
            let body = String::from_utf8(e.encode(&Stamp::default()).bytes).unwrap();
            assert!(
                body.starts_with(r#"{"error":{"code":"BadRequest""#),
                "{body}"
            );
        }
    }
}
