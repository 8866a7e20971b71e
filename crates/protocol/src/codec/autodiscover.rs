//! AutoDiscover: the v2 JSON answer (`{"Protocol","Url"}`) and its JSON error, the POX
//! request Outlook desktop posts (`EMailAddress`, `AcceptableResponseSchema`) and the POX
//! response and error, and AutoDetect's answer to Outlook mobile.

use serde_json::{json, Value};

use super::xml::{self, escape};
use super::{ContentType, DecodeError, Encoded, Refusal, Stamp, WireError};
use crate::mailbox::MailboxProtocol;

/// The POX request schema.
pub const REQUEST_SCHEMA: &str =
    "http://schemas.microsoft.com/exchange/autodiscover/outlook/requestschema/2006";
/// The POX response schema Outlook asks for.
pub const RESPONSE_SCHEMA: &str =
    "http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a";
/// The namespace of the outer `Autodiscover` element of a POX response.
pub const OUTER_RESPONSE_SCHEMA: &str =
    "http://schemas.microsoft.com/exchange/autodiscover/responseschema/2006";

/// AutoDiscover v2's answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct V2Answer {
    /// `Protocol` (`ActiveSync`, `EWS`...; v2 echoes the protocol asked for).
    pub protocol: String,
    /// `Url`.
    pub url: String,
}

impl V2Answer {
    /// The JSON body.
    pub fn encode(&self) -> Encoded {
        Encoded::new(
            ContentType::Json,
            json!({"Protocol": self.protocol, "Url": self.url})
                .to_string()
                .into_bytes(),
        )
    }
    /// Reads the JSON body.
    pub fn decode(bytes: &[u8]) -> Result<V2Answer, DecodeError> {
        const F: &str = "AutoDiscover v2 JSON";
        let v = super::json_value(bytes, F)?;
        let s = |k: &str| super::json_str(&v, k, F);
        Ok(V2Answer {
            protocol: s("Protocol")?,
            url: s("Url")?,
        })
    }
}

/// The protocol an AutoDiscover v2 request asks for, read from its `Protocol` query value
/// (case-insensitive). An unknown value is answered `400 InvalidProtocol`.
pub fn v2_protocol(value: &str) -> Result<MailboxProtocol, WireError> {
    MailboxProtocol::parse(&value.to_ascii_lowercase())
        .filter(|p| matches!(p, MailboxProtocol::Activesync | MailboxProtocol::Ews | MailboxProtocol::Autodiscover))
        .ok_or_else(|| {
            WireError::new(
                400,
                Refusal::AutodiscoverV2 {
                    code: "InvalidProtocol".into(),
                    message: format!(
                        "The given protocol value '{value}' is invalid. Supported values are 'ActiveSync, AutodiscoverV1, Ews'"
                    ),
                },
            )
        })
}

/// The POX request Outlook desktop posts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PoxRequest {
    /// `EMailAddress`.
    pub email: String,
    /// `AcceptableResponseSchema`.
    pub schema: String,
}

impl PoxRequest {
    /// A request for `email` in Outlook's response schema.
    pub fn outlook(email: &str) -> PoxRequest {
        PoxRequest {
            email: email.into(),
            schema: RESPONSE_SCHEMA.into(),
        }
    }
    /// The XML body.
    pub fn encode(&self) -> Encoded {
        let s = format!(
            "<?xml version=\"1.0\" encoding=\"utf-8\"?><Autodiscover xmlns=\"{REQUEST_SCHEMA}\"><Request><EMailAddress>{}</EMailAddress><AcceptableResponseSchema>{}</AcceptableResponseSchema></Request></Autodiscover>",
            escape(&self.email),
            escape(&self.schema)
        );
        Encoded::new(ContentType::Xml, s.into_bytes())
    }
    /// Reads a posted body as Exchange does: not well-formed, not an `Autodiscover`
    /// request or without `EMailAddress` is `ErrorCode` 600 `Invalid Request`; a schema
    /// other than Outlook's is `ErrorCode` 601 (the provider is not available).
    pub fn decode(bytes: &[u8]) -> Result<PoxRequest, WireError> {
        let invalid = || pox_refusal(600, "Invalid Request");
        let root = xml::parse(bytes).map_err(|_| invalid())?;
        if root.local() != "Autodiscover" {
            return Err(invalid());
        }
        let req = root.child("Request").ok_or_else(invalid)?;
        let email = req
            .child_text("EMailAddress")
            .filter(|e| e.contains('@'))
            .ok_or_else(invalid)?;
        let schema = req
            .child_text("AcceptableResponseSchema")
            .ok_or_else(invalid)?;
        if schema != RESPONSE_SCHEMA {
            return Err(pox_refusal(601, "Provider is not available"));
        }
        Ok(PoxRequest { email, schema })
    }
}

fn pox_refusal(code: u16, message: &str) -> WireError {
    // Exchange answers POX errors with 200 and the error in the body.
    WireError::new(
        200,
        Refusal::AutodiscoverPox {
            code,
            message: message.into(),
        },
    )
}

/// The POX error response.
pub fn encode_pox_error(code: u16, message: &str, stamp: &Stamp) -> Vec<u8> {
    format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?><Autodiscover xmlns=\"{OUTER_RESPONSE_SCHEMA}\"><Response><Error Time=\"{}\" Id=\"{}\"><ErrorCode>{code}</ErrorCode><Message>{}</Message><DebugData /></Error></Response></Autodiscover>",
        escape(&stamp.timestamp),
        escape(&stamp.trace_id),
        escape(message)
    )
    .into_bytes()
}

/// One `Protocol` of a POX response.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PoxProtocol {
    /// `Type`: `EXCH` (inside), `EXPR` (Outlook Anywhere, outside), `WEB`.
    pub kind: String,
    /// `Server`.
    pub server: String,
    /// `EwsUrl`.
    pub ews_url: String,
}

/// The POX response: the user and the protocols to connect with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PoxResponse {
    /// `DisplayName`.
    pub display_name: String,
    /// The `Protocol` elements, in order.
    pub protocols: Vec<PoxProtocol>,
}

impl PoxResponse {
    /// The XML body.
    pub fn encode(&self) -> Encoded {
        let mut s = format!(
            "<?xml version=\"1.0\" encoding=\"utf-8\"?><Autodiscover xmlns=\"{OUTER_RESPONSE_SCHEMA}\"><Response xmlns=\"{RESPONSE_SCHEMA}\"><User><DisplayName>{}</DisplayName></User><Account><AccountType>email</AccountType><Action>settings</Action>",
            escape(&self.display_name)
        );
        for p in &self.protocols {
            s.push_str(&format!(
                "<Protocol><Type>{}</Type><Server>{}</Server><EwsUrl>{}</EwsUrl></Protocol>",
                escape(&p.kind),
                escape(&p.server),
                escape(&p.ews_url)
            ));
        }
        s.push_str("</Account></Response></Autodiscover>");
        Encoded::new(ContentType::Xml, s.into_bytes())
    }
    /// Reads the XML body; an `Error` response is reported as such.
    pub fn decode(bytes: &[u8]) -> Result<PoxResponse, DecodeError> {
        const F: &str = "AutoDiscover POX response";
        let root = xml::parse(bytes).map_err(|e| DecodeError::new(F, e.to_string()))?;
        let resp = root
            .child("Response")
            .filter(|_| root.local() == "Autodiscover")
            .ok_or_else(|| DecodeError::new(F, "no Autodiscover/Response"))?;
        if let Some(e) = resp.child("Error") {
            return Err(DecodeError::new(
                F,
                format!(
                    "ErrorCode {}: {}",
                    e.child_text("ErrorCode").unwrap_or_default(),
                    e.child_text("Message").unwrap_or_default()
                ),
            ));
        }
        let display_name = resp
            .child("User")
            .and_then(|u| u.child_text("DisplayName"))
            .ok_or_else(|| DecodeError::new(F, "no User/DisplayName"))?;
        let account = resp
            .child("Account")
            .ok_or_else(|| DecodeError::new(F, "no Account"))?;
        let protocols = account
            .elements()
            .filter(|e| e.local() == "Protocol")
            .map(|p| PoxProtocol {
                kind: p.child_text("Type").unwrap_or_default(),
                server: p.child_text("Server").unwrap_or_default(),
                ews_url: p.child_text("EwsUrl").unwrap_or_default(),
            })
            .collect();
        Ok(PoxResponse {
            display_name,
            protocols,
        })
    }
}

impl PoxResponse {
    /// The settings Exchange answers for `upn`'s mailbox served at `host`: the display
    /// name (the address's local part), `EXCH` (the mailbox's GUID at its domain, as
    /// Exchange 2013 and later name the server of a mailbox) and `EXPR` (Outlook
    /// Anywhere at `host`), both with the EWS URL at `host`. Derived from the address
    /// and the host alone.
    pub fn settings(upn: &str, host: &str) -> PoxResponse {
        let upn = upn.to_ascii_lowercase();
        let (local, domain) = upn.split_once('@').unwrap_or((upn.as_str(), host));
        let hash = upn.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
        });
        let ews_url = format!("https://{host}/EWS/Exchange.asmx");
        PoxResponse {
            display_name: local.to_string(),
            protocols: vec![
                PoxProtocol {
                    kind: "EXCH".into(),
                    server: format!("{}@{domain}", super::guid(hash)),
                    ews_url: ews_url.clone(),
                },
                PoxProtocol {
                    kind: "EXPR".into(),
                    server: host.to_string(),
                    ews_url,
                },
            ],
        }
    }
}

/// What Exchange answers the POX request `bytes` that `upn` posted, authenticated, to
/// `host`: the settings of the mailbox ([`PoxResponse::settings`]); the refusals of
/// [`PoxRequest::decode`] (600, 601); `ErrorCode` 500 `The email address can't be
/// found.` when the address asked for is not the user's own mailbox (the model grants no
/// access to another's).
pub fn answer_pox(bytes: &[u8], upn: &str, host: &str) -> Result<PoxResponse, WireError> {
    let req = PoxRequest::decode(bytes)?;
    if !req.email.eq_ignore_ascii_case(upn) {
        return Err(pox_refusal(500, "The email address can't be found."));
    }
    Ok(PoxResponse::settings(upn, host))
}

/// AutoDetect's answer to Outlook mobile (the modelled JSON of `Body::Detect`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DetectJson {
    /// `protocol`.
    pub protocol: String,
    /// `url`.
    pub url: String,
    /// `aad`: the authorization URL of the 401 challenge.
    pub aad: Option<String>,
    /// `onprem`.
    pub onprem: bool,
}

impl DetectJson {
    /// The JSON body.
    pub fn encode(&self) -> Encoded {
        Encoded::new(
            ContentType::Json,
            json!({"protocol": self.protocol, "url": self.url, "aad": self.aad, "onprem": self.onprem})
                .to_string()
                .into_bytes(),
        )
    }
    /// Reads the JSON body.
    pub fn decode(bytes: &[u8]) -> Result<DetectJson, DecodeError> {
        const F: &str = "AutoDetect JSON";
        let v: Value = super::from_json(bytes).map_err(|e| DecodeError::new(F, e.to_string()))?;
        let s = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_string);
        Ok(DetectJson {
            protocol: s("protocol").ok_or_else(|| DecodeError::new(F, "no protocol"))?,
            url: s("url").ok_or_else(|| DecodeError::new(F, "no url"))?,
            aad: match v.get("aad") {
                None | Some(Value::Null) => None,
                Some(Value::String(a)) => Some(a.clone()),
                Some(_) => return Err(DecodeError::new(F, "aad is not a string")),
            },
            onprem: v
                .get("onprem")
                .and_then(Value::as_bool)
                .ok_or_else(|| DecodeError::new(F, "no onprem"))?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v2_answer_is_the_documented_json() {
        let a = V2Answer {
            protocol: "ActiveSync".into(),
            url: "https://mail.contoso.com/Microsoft-Server-ActiveSync".into(),
        };
        assert_eq!(
            &a.encode().bytes[..],
            &br#"{"Protocol":"ActiveSync","Url":"https://mail.contoso.com/Microsoft-Server-ActiveSync"}"#[..]
        );
        assert_eq!(V2Answer::decode(&a.encode().bytes).unwrap(), a);
        assert!(V2Answer::decode(br#"{"Protocol":1}"#).is_err());
        assert_eq!(
            v2_protocol("ActiveSync").unwrap(),
            MailboxProtocol::Activesync
        );
        let e = v2_protocol("Bogus").unwrap_err();
        assert_eq!(e.status, 400);
        let body = e.encode(&Stamp::default()).bytes;
        assert!(String::from_utf8(body.to_vec())
            .unwrap()
            .starts_with(r#"{"ErrorCode":"InvalidProtocol""#));
    }

    #[test]
    fn pox_request_and_its_errors() {
        let r = PoxRequest::outlook("test@contoso.com");
        assert_eq!(PoxRequest::decode(&r.encode().bytes).unwrap(), r);
        for bad in [
            &b"<Autodiscover/>"[..],
            b"not xml",
            b"<Other><Request/></Other>",
        ] {
            let e = PoxRequest::decode(bad).unwrap_err();
            assert!(
                matches!(e.refusal, Refusal::AutodiscoverPox { code: 600, .. }),
                "{e}"
            );
            let shown = String::from_utf8(e.encode(&Stamp::default()).bytes.to_vec()).unwrap();
            assert!(shown.contains("<ErrorCode>600</ErrorCode><Message>Invalid Request</Message>"));
        }
        let other = PoxRequest {
            email: "a@b".into(),
            schema: "urn:x".into(),
        }
        .encode()
        .bytes;
        assert!(matches!(
            PoxRequest::decode(&other).unwrap_err().refusal,
            Refusal::AutodiscoverPox { code: 601, .. }
        ));
    }

    #[test]
    fn pox_response_round_trips() {
        let r = PoxResponse {
            display_name: "Test <User>".into(),
            protocols: vec![PoxProtocol {
                kind: "EXPR".into(),
                server: "mail.contoso.com".into(),
                ews_url: "https://mail.contoso.com/EWS/Exchange.asmx".into(),
            }],
        };
        assert_eq!(PoxResponse::decode(&r.encode().bytes).unwrap(), r);
        let err = encode_pox_error(600, "Invalid Request", &Stamp::default());
        assert!(PoxResponse::decode(&err)
            .unwrap_err()
            .detail
            .contains("600"));
        assert!(!crate::codec::carries_mailbox(ContentType::Xml, &err));
    }

    #[test]
    fn exchange_answers_the_users_own_settings() {
        let req = PoxRequest::outlook("Test@contoso.com").encode().bytes;
        let r = answer_pox(&req, "test@contoso.com", "mail.contoso.com").unwrap();
        assert_eq!(
            r,
            PoxResponse::settings("test@contoso.com", "mail.contoso.com")
        );
        assert_eq!(r.display_name, "test");
        assert_eq!(r.protocols[0].kind, "EXCH");
        assert!(r.protocols[0].server.ends_with("@contoso.com"));
        assert_eq!(r.protocols[1].server, "mail.contoso.com");
        let body = r.encode();
        let text = String::from_utf8(body.bytes.to_vec()).unwrap();
        assert!(text.contains(&format!(
            "<Autodiscover xmlns=\"{OUTER_RESPONSE_SCHEMA}\"><Response xmlns=\"{RESPONSE_SCHEMA}\">"
        )));
        assert!(crate::codec::carries_mailbox(
            body.content_type,
            &body.bytes
        ));
        let m = crate::codec::read_mailbox(body.content_type, &body.bytes).unwrap();
        assert_eq!(m.format, "AutoDiscover POX settings");
        // Another's mailbox, and bytes that are not a request.
        let e = answer_pox(&req, "other@contoso.com", "mail.contoso.com").unwrap_err();
        assert!(matches!(
            e.refusal,
            Refusal::AutodiscoverPox { code: 500, .. }
        ));
        assert_eq!(e.status, 200);
        for bad in [&b""[..], b"\xff\xfe", b"<Autodiscover><Request>"] {
            let e = answer_pox(bad, "test@contoso.com", "mail.contoso.com").unwrap_err();
            assert!(matches!(
                e.refusal,
                Refusal::AutodiscoverPox { code: 600, .. }
            ));
            let shown = e.encode(&Stamp::default());
            assert!(!crate::codec::carries_mailbox(
                shown.content_type,
                &shown.bytes
            ));
        }
    }
}
