//! Outlook mobile's provisioning request to the Microsoft sync technology (MRS): the
//! on-premises ActiveSync endpoint of a mailbox, as JSON (`upn`, `protocol`, `url`; the
//! fields of the trace's `Body::Provision`). The wire format is not publicly documented:
//! this is hmasim's model, refused with an OData error as Microsoft's JSON APIs answer.

use super::{ContentType, Encoded, Member, Refusal, WireError};

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
        // Members in alphabetical order, as a `serde_json::Value` writes them.
        #[derive(serde::Serialize)]
        struct Out<'a> {
            protocol: &'a str,
            upn: &'a str,
            url: &'a str,
        }
        let out = Out {
            protocol: "activesync",
            upn: &self.upn,
            url: &self.url,
        };
        let bytes = serde_json::to_vec(&out).expect("a struct of strings serializes");
        Encoded::new(ContentType::Json, bytes)
    }
    /// Reads a posted body; anything else than the three strings (protocol
    /// `activesync`, an `https` URL) is `400 BadRequest`.
    pub fn decode(bytes: &[u8]) -> Result<Provision, WireError> {
        let bad = bad_request;
        #[derive(serde::Deserialize)]
        struct In {
            #[serde(default)]
            upn: Member,
            #[serde(default)]
            protocol: Member,
            #[serde(default)]
            url: Member,
        }
        const INVALID: &str =
            "Invalid provisioning request: expected upn, protocol 'activesync' and an https url.";
        let v: In = super::from_json(bytes).map_err(|_| {
            // JSON of another shape (an array, a member twice) is an invalid request,
            // not invalid JSON.
            match super::from_json::<serde::de::IgnoredAny>(bytes) {
                Ok(_) => bad(INVALID),
                Err(_) => bad("The request body is not valid JSON."),
            }
        })?;
        fn s(m: &Member) -> Option<&str> {
            match m {
                Member::Str(s) => Some(s.as_str()),
                _ => None,
            }
        }
        match (s(&v.upn), s(&v.protocol), s(&v.url)) {
            (Some(upn), Some("activesync"), Some(url))
                if url.starts_with("https://") && upn.contains('@') =>
            {
                Ok(Provision {
                    upn: upn.into(),
                    url: url.into(),
                })
            }
            _ => Err(bad(INVALID)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_provisioning_request_is_written_as_a_sorted_object() {
        let p = Provision {
            upn: "u@contoso.com".into(),
            url: "https://mail.contoso.com/Microsoft-Server-ActiveSync".into(),
        };
        let bytes = p.encode().bytes;
        let v: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(v.to_string().as_bytes(), &bytes[..]);
        // JSON of another shape is an invalid request, not invalid JSON.
        let e = Provision::decode(b"[1]").unwrap_err();
        assert!(
            e.to_string().contains("Invalid provisioning request"),
            "{e}"
        );
    }
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
            let body = String::from_utf8(e.encode(&Stamp::default()).bytes.to_vec()).unwrap();
            assert!(
                body.starts_with(r#"{"error":{"code":"BadRequest""#),
                "{body}"
            );
        }
    }
}
