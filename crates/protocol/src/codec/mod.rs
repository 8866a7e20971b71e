//! Bodies as the bytes a real client parses (issue 12 item 3): for every body the flows
//! carry, an encoder to bytes and a content type, and a typed decoder that refuses
//! malformed bytes.
//!
//! A decoder of a *request* body answers what the real service answers to such bytes: a
//! [`WireError`] (status, content type and the documented error shape, rendered by
//! [`WireError::encode`] with the [`Stamp`] of the answer). A decoder of a *response*
//! body, which a client reads, fails with a [`DecodeError`] (the client's failure to read
//! it). Nothing here reads a clock or draws a random number: the ids and times a real
//! service writes into an error come from the caller's [`Stamp`].
//!
//! [`mask`] shows an encoded body with every secret replaced by [`MASK`], for the trace;
//! [`carries_mailbox`] recognises a response that carries mailbox content from its bytes
//! and content type alone. `docs/wire.md` lists each format, its content type, the
//! documentation it follows and the errors it answers.
//!
//! ```
//! use hmasim_protocol::codec::{form, ContentType};
//! let body = form::encode(&[("grant_type", "password"), ("username", "a b+c@contoso.com")]);
//! assert_eq!(body, b"grant_type=password&username=a+b%2Bc%40contoso.com");
//! let fields = form::decode(&body).unwrap();
//! assert_eq!(fields[1].1, "a b+c@contoso.com");
//! assert_eq!(ContentType::parse("application/x-www-form-urlencoded; charset=utf-8"),
//!     Some(ContentType::Form));
//! ```

use serde_json::Value;
use std::fmt;

use crate::display::{is_secret_name, MASK};

pub mod autodiscover;
pub mod ews;
pub mod graph;
pub mod html;
pub mod http1;
pub mod mrs;
pub mod oauth;
pub mod oidc;
pub mod wbxml;
pub mod xml;

pub mod form;

/// The media types the flows' bodies travel as.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ContentType {
    /// `application/json` (AutoDiscover v2, token responses, OpenID metadata, Graph).
    Json,
    /// `text/xml` (AutoDiscover POX, EWS SOAP).
    Xml,
    /// `application/x-www-form-urlencoded` (token requests, form posts).
    Form,
    /// `text/html` (sign-in, MFA, auto-post and error pages).
    Html,
    /// `application/vnd.ms-sync.wbxml` (ActiveSync commands).
    Wbxml,
    /// `text/plain`.
    Text,
}

impl ContentType {
    /// Every content type.
    pub const ALL: [ContentType; 6] = [
        ContentType::Json,
        ContentType::Xml,
        ContentType::Form,
        ContentType::Html,
        ContentType::Wbxml,
        ContentType::Text,
    ];

    /// The `Content-Type` header value a service sends.
    pub const fn as_str(self) -> &'static str {
        match self {
            ContentType::Json => "application/json; charset=utf-8",
            ContentType::Xml => "text/xml; charset=utf-8",
            ContentType::Form => "application/x-www-form-urlencoded",
            ContentType::Html => "text/html; charset=utf-8",
            ContentType::Wbxml => "application/vnd.ms-sync.wbxml",
            ContentType::Text => "text/plain; charset=utf-8",
        }
    }

    /// The media type alone (what follows no `;`).
    pub const fn media_type(self) -> &'static str {
        match self {
            ContentType::Json => "application/json",
            ContentType::Xml => "text/xml",
            ContentType::Form => "application/x-www-form-urlencoded",
            ContentType::Html => "text/html",
            ContentType::Wbxml => "application/vnd.ms-sync.wbxml",
            ContentType::Text => "text/plain",
        }
    }

    /// The content type a header value names (parameters ignored, case-insensitive;
    /// `application/xml` and `application/soap+xml` read as [`ContentType::Xml`]).
    pub fn parse(header: &str) -> Option<ContentType> {
        let media = header.split(';').next().unwrap_or("").trim();
        if media.eq_ignore_ascii_case("application/xml")
            || media.eq_ignore_ascii_case("application/soap+xml")
        {
            return Some(ContentType::Xml);
        }
        Self::ALL
            .into_iter()
            .find(|c| c.media_type().eq_ignore_ascii_case(media))
    }

    /// Whether the bytes of this type are text (shown as a string in the trace) rather
    /// than binary (shown as base64).
    pub const fn is_text(self) -> bool {
        !matches!(self, ContentType::Wbxml)
    }
}

impl fmt::Display for ContentType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An encoded body: its bytes and the content type they travel as.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Encoded {
    /// The `Content-Type`.
    pub content_type: ContentType,
    /// The bytes.
    pub bytes: Vec<u8>,
}

impl Encoded {
    /// An encoded body.
    pub fn new(content_type: ContentType, bytes: Vec<u8>) -> Encoded {
        Encoded {
            content_type,
            bytes,
        }
    }
}

/// The ids and time a real service writes into an error answer (Entra's `trace_id`,
/// `correlation_id` and `timestamp`, AutoDiscover's `Id` and `Time`): given by the
/// caller (from its clock and seeded stream), never read here.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stamp {
    /// The trace id (a GUID).
    pub trace_id: String,
    /// The correlation id (a GUID).
    pub correlation_id: String,
    /// The time, `YYYY-MM-DD hh:mm:ssZ`.
    pub timestamp: String,
}

impl Default for Stamp {
    /// Zero GUIDs at the simulation's epoch (2026-01-01 00:00:00Z).
    fn default() -> Stamp {
        Stamp {
            trace_id: "00000000-0000-0000-0000-000000000000".into(),
            correlation_id: "00000000-0000-0000-0000-000000000000".into(),
            timestamp: "2026-01-01 00:00:00Z".into(),
        }
    }
}

/// What a real service answers to a request body (or request) it cannot accept: the
/// status and the refusal, rendered in the service's documented shape by [`encode`](
/// WireError::encode).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WireError {
    /// The HTTP status.
    pub status: u16,
    /// What is refused, in the vocabulary of the service that refuses it.
    pub refusal: Refusal,
}

/// A refusal, one variant per error shape.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Refusal {
    /// Entra ID's token endpoint: the OAuth 2 error JSON.
    OAuth(oauth::OAuthError),
    /// AutoDiscover v2's JSON error (`ErrorCode`, `ErrorMessage`).
    AutodiscoverV2 {
        /// `ErrorCode`, e.g. `InvalidProtocol`.
        code: String,
        /// `ErrorMessage`.
        message: String,
    },
    /// AutoDiscover POX's `Error` response (`ErrorCode` 600 `Invalid Request`...).
    AutodiscoverPox {
        /// `ErrorCode`.
        code: u16,
        /// `Message`.
        message: String,
    },
    /// An EWS SOAP fault (`ErrorSchemaValidation`, `ErrorInvalidRequest`).
    Soap(ews::SoapFault),
    /// An ActiveSync command answered with its protocol-error status (HTTP 200).
    ActiveSync(wbxml::Command),
    /// A JSON API's OData error `{"error":{"code","message"}}` (Graph, provisioning).
    OData {
        /// `code`, e.g. `BadRequest`.
        code: String,
        /// `message`.
        message: String,
    },
    /// IIS (HTTP.sys) or Kestrel's plain `400 Bad Request` page.
    Http(http1::BadRequest),
}

impl WireError {
    /// A refusal with its status.
    pub fn new(status: u16, refusal: Refusal) -> WireError {
        WireError { status, refusal }
    }

    /// The answer's body, as the service writes it.
    pub fn encode(&self, stamp: &Stamp) -> Encoded {
        match &self.refusal {
            Refusal::OAuth(e) => Encoded::new(ContentType::Json, e.encode(stamp)),
            Refusal::AutodiscoverV2 { code, message } => Encoded::new(
                ContentType::Json,
                serde_json::json!({"ErrorCode": code, "ErrorMessage": message})
                    .to_string()
                    .into_bytes(),
            ),
            Refusal::AutodiscoverPox { code, message } => Encoded::new(
                ContentType::Xml,
                autodiscover::encode_pox_error(*code, message, stamp),
            ),
            Refusal::Soap(f) => Encoded::new(ContentType::Xml, f.encode()),
            Refusal::ActiveSync(c) => Encoded::new(ContentType::Wbxml, wbxml::encode(c)),
            Refusal::OData { code, message } => Encoded::new(
                ContentType::Json,
                serde_json::json!({"error": {"code": code, "message": message,
                    "innerError": {"date": stamp.timestamp, "request-id": stamp.trace_id,
                    "client-request-id": stamp.correlation_id}}})
                .to_string()
                .into_bytes(),
            ),
            Refusal::Http(b) => Encoded::new(ContentType::Html, b.page()),
        }
    }
}

impl fmt::Display for WireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.refusal {
            Refusal::OAuth(e) => write!(f, "{} {}", self.status, e.description()),
            Refusal::AutodiscoverV2 { code, message } => {
                write!(f, "{} {code}: {message}", self.status)
            }
            Refusal::AutodiscoverPox { code, message } => {
                write!(f, "{} ErrorCode {code}: {message}", self.status)
            }
            Refusal::Soap(s) => write!(f, "{} {}: {}", self.status, s.code.as_str(), s.message),
            Refusal::ActiveSync(c) => write!(f, "{} ActiveSync {}", self.status, c.name()),
            Refusal::OData { code, message } => write!(f, "{} {code}: {message}", self.status),
            Refusal::Http(b) => write!(f, "{} {}", self.status, b.detail()),
        }
    }
}

impl std::error::Error for WireError {}

/// Why a client could not read a response body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DecodeError {
    /// The format expected (`"token response JSON"`...).
    pub format: &'static str,
    /// What is wrong.
    pub detail: String,
}

/// Parses a JSON body of format `f`.
pub(crate) fn json_value(bytes: &[u8], f: &'static str) -> Result<Value, DecodeError> {
    serde_json::from_slice(bytes).map_err(|e| DecodeError::new(f, e.to_string()))
}

/// The string member `k` of a JSON body of format `f`.
pub(crate) fn json_str(v: &Value, k: &str, f: &'static str) -> Result<String, DecodeError> {
    v.get(k)
        .and_then(Value::as_str)
        .map(str::to_string)
        .ok_or_else(|| DecodeError::new(f, format!("no string \"{k}\"")))
}

impl DecodeError {
    /// A decode error.
    pub fn new(format: &'static str, detail: impl Into<String>) -> DecodeError {
        DecodeError {
            format,
            detail: detail.into(),
        }
    }
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "malformed {}: {}", self.format, self.detail)
    }
}

impl std::error::Error for DecodeError {}

/// The body as the trace may show it: every secret (a field, key, element or input named
/// as a password or secret, see [`is_secret_name`]) replaced by [`MASK`], the rest as
/// sent. A text body that is not well-formed cannot be masked field by field and is
/// replaced whole by a note of its length.
pub fn mask(content_type: ContentType, bytes: &[u8]) -> Vec<u8> {
    let masked = match content_type {
        ContentType::Form => Some(form::mask(bytes)),
        ContentType::Json => mask_json(bytes),
        ContentType::Xml => xml::mask(bytes),
        ContentType::Html => html::mask(bytes),
        // The ActiveSync commands modelled carry no secret.
        ContentType::Wbxml => Some(bytes.to_vec()),
        ContentType::Text => std::str::from_utf8(bytes).ok().map(|_| bytes.to_vec()),
    };
    masked.unwrap_or_else(|| {
        format!(
            "<{} bytes of malformed {}, not shown>",
            bytes.len(),
            content_type.media_type()
        )
        .into_bytes()
    })
}

fn mask_json(bytes: &[u8]) -> Option<Vec<u8>> {
    let mut v: serde_json::Value = serde_json::from_slice(bytes).ok()?;
    mask_value(&mut v);
    Some(v.to_string().into_bytes())
}

/// Masks, in place, every value of a JSON object key named as a secret, at any depth.
pub fn mask_value(v: &mut serde_json::Value) {
    match v {
        serde_json::Value::Object(m) => {
            for (k, x) in m.iter_mut() {
                if is_secret_name(k) {
                    *x = serde_json::Value::String(MASK.into());
                } else {
                    mask_value(x);
                }
            }
        }
        serde_json::Value::Array(a) => a.iter_mut().for_each(mask_value),
        _ => {}
    }
}

/// Whether a response with these bytes and content type carries mailbox content: an EWS
/// `FindItem` response with at least one item, a Graph `messages` collection with at
/// least one message, or an ActiveSync `Sync` response that adds at least one item.
/// Decided from the bytes alone (the MFA monitor's test), never from trace metadata.
pub fn carries_mailbox(content_type: ContentType, bytes: &[u8]) -> bool {
    match content_type {
        ContentType::Xml => ews::FindItemResponse::decode(bytes)
            .map(|r| !r.items.is_empty())
            .unwrap_or(false),
        ContentType::Json => graph::Messages::decode(bytes)
            .map(|m| !m.value.is_empty())
            .unwrap_or(false),
        ContentType::Wbxml => matches!(
            wbxml::decode(bytes),
            Ok(wbxml::Command::SyncResponse(s)) if !s.items.is_empty()
        ),
        _ => false,
    }
}

/// One message of a mailbox, as EWS, Graph and ActiveSync each carry it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MailItem {
    /// The item id (EWS `ItemId`, Graph `id`, ActiveSync `ServerId`).
    pub id: String,
    /// The subject.
    pub subject: String,
    /// The sender's address.
    pub from: String,
    /// When it was received, ISO 8601 (`2026-01-01T00:00:00Z`).
    pub received: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_types_parse_back() {
        for c in ContentType::ALL {
            assert_eq!(ContentType::parse(c.as_str()), Some(c));
            assert_eq!(ContentType::parse(&c.media_type().to_uppercase()), Some(c));
        }
        assert_eq!(
            ContentType::parse("application/soap+xml; charset=utf-8"),
            Some(ContentType::Xml)
        );
        assert_eq!(ContentType::parse("image/png"), None);
    }

    #[test]
    fn malformed_text_is_not_shown() {
        let shown = mask(ContentType::Json, br#"{"password":"hunter2""#);
        assert!(!String::from_utf8_lossy(&shown).contains("hunter2"));
        let shown = mask(
            ContentType::Json,
            br#"{"a":[{"client_secret":"s3"}],"b":1}"#,
        );
        assert_eq!(shown, br#"{"a":[{"client_secret":"********"}],"b":1}"#);
    }
}
