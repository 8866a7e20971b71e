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

use bytes::Bytes;
use serde_json::Value;
use std::fmt;
use std::sync::{Arc, OnceLock};

use crate::display::{is_secret_name, MASK};

pub mod autodiscover;
pub mod dirsync;
pub mod ecp;
pub mod ews;
pub mod graph;
pub mod html;
pub mod http1;
pub(crate) mod json;
pub mod mail;
pub mod mapi;
pub mod mrs;
pub mod oab;
pub mod oauth;
pub mod oidc;
pub mod owa;
pub mod rpc;
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
    /// `application/mapi-http` (MAPI over HTTP: text meta-tags, then a binary body).
    MapiHttp,
    /// `application/rpc` (RPC over HTTP: DCE/RPC PDUs, binary).
    Rpc,
}

impl ContentType {
    /// Every content type.
    pub const ALL: [ContentType; 8] = [
        ContentType::Json,
        ContentType::Xml,
        ContentType::Form,
        ContentType::Html,
        ContentType::Wbxml,
        ContentType::Text,
        ContentType::MapiHttp,
        ContentType::Rpc,
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
            ContentType::MapiHttp => mapi::MEDIA_TYPE,
            ContentType::Rpc => rpc::MEDIA_TYPE,
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
            ContentType::MapiHttp => mapi::MEDIA_TYPE,
            ContentType::Rpc => rpc::MEDIA_TYPE,
        }
    }

    /// The content type a header value names (parameters ignored, case-insensitive;
    /// `application/xml` and `application/soap+xml` read as [`ContentType::Xml`]).
    pub fn parse(header: &str) -> Option<ContentType> {
        // The value a service writes ([`ContentType::as_str`]): one comparison each.
        if let Some(c) = Self::ALL.into_iter().find(|c| c.as_str() == header) {
            return Some(c);
        }
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
        !matches!(
            self,
            ContentType::Wbxml | ContentType::MapiHttp | ContentType::Rpc
        )
    }
}

impl fmt::Display for ContentType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An encoded body: its bytes and the content type they travel as.
///
/// The bytes are shared (`Bytes`): a relay forwarding a body, the trace recording it and
/// a world cloned for a run share one buffer. What a receiver decodes from them (a form,
/// a page, a WBXML command, a mailbox answer) is kept beside them, so the monitor, each
/// relay and the receiver decode a body once between them. The kept views are a function
/// of the bytes alone (the bytes never change), so keeping them decides nothing.
#[derive(Clone)]
pub struct Encoded {
    /// The `Content-Type`.
    pub content_type: ContentType,
    /// The bytes.
    pub bytes: Bytes,
    views: Arc<Views>,
}

/// What has been decoded of one [`Encoded`]'s bytes, at most once each.
#[derive(Default)]
struct Views {
    form: OnceLock<Option<crate::Form>>,
    page: OnceLock<Option<crate::Page>>,
    wbxml: OnceLock<Result<wbxml::Command, DecodeError>>,
    mailbox: OnceLock<Result<MailboxAnswer, DecodeError>>,
    carries: OnceLock<bool>,
}

impl PartialEq for Encoded {
    fn eq(&self, other: &Encoded) -> bool {
        self.content_type == other.content_type && self.bytes == other.bytes
    }
}

impl Eq for Encoded {}

impl fmt::Debug for Encoded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Encoded")
            .field("content_type", &self.content_type)
            .field("bytes", &self.bytes)
            .finish()
    }
}

impl Encoded {
    /// An encoded body.
    pub fn new(content_type: ContentType, bytes: impl Into<Bytes>) -> Encoded {
        Encoded {
            content_type,
            bytes: bytes.into(),
            views: Arc::default(),
        }
    }

    /// The form these bytes are (`application/x-www-form-urlencoded` only), decoded once.
    pub fn form(&self) -> Option<&crate::Form> {
        self.views
            .form
            .get_or_init(|| {
                (self.content_type == ContentType::Form)
                    .then(|| crate::Form::decode(&self.bytes).ok())
                    .flatten()
            })
            .as_ref()
    }

    /// The page these bytes are (`text/html` only), decoded once.
    pub fn page(&self) -> Option<&crate::Page> {
        self.views
            .page
            .get_or_init(|| {
                (self.content_type == ContentType::Html)
                    .then(|| html::decode(&self.bytes).ok())
                    .flatten()
            })
            .as_ref()
    }

    /// The ActiveSync command these bytes are, decoded once ([`wbxml::decode`]).
    pub fn wbxml(&self) -> Result<&wbxml::Command, &DecodeError> {
        self.views
            .wbxml
            .get_or_init(|| wbxml::decode(&self.bytes))
            .as_ref()
    }

    /// The mailbox answer these bytes are, read once ([`read_mailbox`] with this body's
    /// content type).
    pub fn mailbox(&self) -> Result<&MailboxAnswer, &DecodeError> {
        self.views
            .mailbox
            .get_or_init(|| match self.content_type {
                ContentType::Wbxml => match self.wbxml() {
                    Ok(wbxml::Command::SyncResponse(s)) if s.status == 1 => Ok(MailboxAnswer {
                        format: "ActiveSync Sync",
                        items: s.items.clone(),
                        data: Vec::new(),
                    }),
                    Ok(c) => Err(not_sync(c)),
                    Err(e) => Err(e.clone()),
                },
                ct => read_mailbox(ct, &self.bytes),
            })
            .as_ref()
    }

    /// Whether these bytes carry mailbox content ([`carries_mailbox`]), read once.
    pub fn carries_mailbox(&self) -> bool {
        *self.views.carries.get_or_init(|| match self.content_type {
            // What `mailbox` would say, read off the command itself: a relay or the monitor
            // asking does not copy the items into a mailbox answer no one reads.
            ContentType::Wbxml => matches!(
                self.wbxml(),
                Ok(wbxml::Command::SyncResponse(s)) if s.status == 1 && !s.items.is_empty()
            ),
            ct => {
                could_carry_mailbox(ct, &self.bytes)
                    && self.mailbox().is_ok_and(MailboxAnswer::carries_data)
            }
        })
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

impl Stamp {
    /// The stamp of an answer written at `unix_secs` (Unix time): the time as Entra writes
    /// it (`YYYY-MM-DD hh:mm:ssZ`) and GUIDs derived from `id` (what the caller numbers its
    /// answer by: its request's correlation and the time, say). Derived, not drawn, so an
    /// error answer takes nothing from its writer's seeded stream.
    pub fn at(unix_secs: u64, id: u64) -> Stamp {
        Stamp {
            trace_id: guid(id),
            correlation_id: guid(id ^ 0x5bd1_e995_c0de_cafe),
            timestamp: civil(unix_secs),
        }
    }
}

/// A GUID's text from two rounds of SplitMix64 over `seed`.
fn guid(seed: u64) -> String {
    fn mix(mut z: u64) -> u64 {
        z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    let (a, b) = (mix(seed), mix(mix(seed)));
    format!(
        "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
        a >> 32,
        (a >> 16) & 0xffff,
        a & 0xffff,
        b >> 48,
        b & 0xffff_ffff_ffff
    )
}

/// `YYYY-MM-DD hh:mm:ssZ` of a Unix time (the proleptic Gregorian calendar, by the
/// days-to-civil conversion of Howard Hinnant's "chrono-compatible low-level date
/// algorithms").
fn civil(unix_secs: u64) -> String {
    civil_with(unix_secs, b' ')
}

/// `YYYY-MM-DD<sep>hh:mm:ssZ`, written digit by digit (no formatting machinery: every
/// answer and mail item carries one). Years past 9999 keep all their digits.
fn civil_with(unix_secs: u64, sep: u8) -> String {
    let secs = unix_secs % 86_400;
    let (y, m, d) = civil_from_days((unix_secs / 86_400) as i64);
    if !(0..=9999).contains(&y) {
        return format!(
            "{y:04}-{m:02}-{d:02}{}{:02}:{:02}:{:02}Z",
            sep as char,
            secs / 3600,
            secs / 60 % 60,
            secs % 60
        );
    }
    let two = |v: u64| [b'0' + (v / 10) as u8, b'0' + (v % 10) as u8];
    let y = y as u64;
    let mut out = Vec::with_capacity(20);
    out.extend_from_slice(&two(y / 100));
    out.extend_from_slice(&two(y % 100));
    out.push(b'-');
    out.extend_from_slice(&two(u64::from(m)));
    out.push(b'-');
    out.extend_from_slice(&two(u64::from(d)));
    out.push(sep);
    out.extend_from_slice(&two(secs / 3600));
    out.push(b':');
    out.extend_from_slice(&two(secs / 60 % 60));
    out.push(b':');
    out.extend_from_slice(&two(secs % 60));
    out.push(b'Z');
    String::from_utf8(out).expect("ASCII digits")
}

/// The civil date (year, month, day; proleptic Gregorian) `days` days after 1970-01-01:
/// Howard Hinnant's `civil_from_days` ("chrono-compatible low-level date algorithms").
pub fn civil_from_days(days: i64) -> (i64, u8, u8) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u8;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u8;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
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
    from_json(bytes).map_err(|e| DecodeError::new(f, e.to_string()))
}

/// Deserializes JSON `bytes`, checked as UTF-8 once and then read as text: serde_json's
/// byte reader checks every string on its own, a branchy call per string. Bytes that are
/// not UTF-8 go to the byte reader, so the error reported is the one it gives.
pub(crate) fn from_json<'a, T: serde::Deserialize<'a>>(bytes: &'a [u8]) -> serde_json::Result<T> {
    match std::str::from_utf8(bytes) {
        Ok(text) => serde_json::from_str(text),
        Err(_) => serde_json::from_slice(bytes),
    }
}

/// One member of a JSON body as the typed decoders read it, without building a
/// `serde_json::Value` tree: a string, an unsigned integer, or anything else (read and
/// skipped). A decoder that asks for a string member finds `None` for a number, as the
/// `Value` lookups it replaces did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) enum Member {
    /// A JSON string.
    Str(String),
    /// A JSON number that is an unsigned integer.
    Num(u64),
    /// Anything else (another number, a boolean, null, an array, an object).
    #[default]
    Other,
}

impl Member {
    /// The string, if the member is one.
    pub(crate) fn into_str(self) -> Option<String> {
        match self {
            Member::Str(s) => Some(s),
            _ => None,
        }
    }
}

impl<'de> serde::Deserialize<'de> for Member {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Member, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Member;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_str<E>(self, v: &str) -> Result<Member, E> {
                Ok(Member::Str(v.to_string()))
            }
            fn visit_string<E>(self, v: String) -> Result<Member, E> {
                Ok(Member::Str(v))
            }
            fn visit_u64<E>(self, v: u64) -> Result<Member, E> {
                Ok(Member::Num(v))
            }
            fn visit_i64<E>(self, _: i64) -> Result<Member, E> {
                Ok(Member::Other)
            }
            fn visit_f64<E>(self, _: f64) -> Result<Member, E> {
                Ok(Member::Other)
            }
            fn visit_bool<E>(self, _: bool) -> Result<Member, E> {
                Ok(Member::Other)
            }
            fn visit_unit<E>(self) -> Result<Member, E> {
                Ok(Member::Other)
            }
            fn visit_none<E>(self) -> Result<Member, E> {
                Ok(Member::Other)
            }
            fn visit_some<D: serde::Deserializer<'de>>(self, d: D) -> Result<Member, D::Error> {
                serde::Deserialize::deserialize(d)
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut a: A) -> Result<Member, A::Error> {
                while a.next_element::<serde::de::IgnoredAny>()?.is_some() {}
                Ok(Member::Other)
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, mut a: A) -> Result<Member, A::Error> {
                while a
                    .next_entry::<serde::de::IgnoredAny, serde::de::IgnoredAny>()?
                    .is_some()
                {}
                Ok(Member::Other)
            }
        }
        d.deserialize_any(V)
    }
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
        // Nor do the MAPI and RPC answers modelled (mailbox rows).
        ContentType::MapiHttp | ContentType::Rpc => Some(bytes.to_vec()),
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

/// The body as the JSON trace shows it (issue 12 item 3, `../shared/contract.md`): a JSON
/// body as its JSON value, a text body (XML, HTML, form) as a string, a binary one (WBXML)
/// as `{"base64": ...}`; secrets masked as [`mask`] masks them.
pub fn trace_value(e: &Encoded) -> Value {
    use base64::Engine as _;
    match e.content_type {
        ContentType::Json => match serde_json::from_slice::<Value>(&e.bytes) {
            Ok(mut v) => {
                mask_value(&mut v);
                v
            }
            Err(_) => Value::String(
                String::from_utf8_lossy(&mask(ContentType::Json, &e.bytes)).into_owned(),
            ),
        },
        ct if ct.is_text() => {
            Value::String(String::from_utf8_lossy(&mask(ct, &e.bytes)).into_owned())
        }
        _ => serde_json::json!({
            "base64": base64::engine::general_purpose::STANDARD.encode(&e.bytes)
        }),
    }
}

/// The body as the text trace's detail line shows it (`None`: no line): a page by its
/// kind and form target, an AutoDiscover, AutoDetect or provisioning answer by its
/// fields, an OAuth error as its `error=` and `error_description=` lines; forms and token
/// answers are left out (the event's summary says what they do); anything else as
/// [`trace_value`] shows it.
pub fn digest(e: &Encoded) -> Option<Value> {
    use serde_json::json;
    if let Some(v) = mailbox_digest(e) {
        return Some(v);
    }
    if is_mailbox_request(e) {
        // Like a form, the request's summary says what it asks.
        return None;
    }
    match e.content_type {
        ContentType::Form => None,
        // Plain text reads as its lines, like a note's.
        ContentType::Text => std::str::from_utf8(&e.bytes)
            .ok()
            .map(|t| Value::from(t.lines().map(Value::from).collect::<Vec<_>>())),
        ContentType::Html => Some(match html::decode(&e.bytes) {
            Ok(page) => page.digest(),
            Err(_) => trace_value(e),
        }),
        ContentType::Json => {
            if oauth::TokenAnswer::decode(&e.bytes).is_ok() {
                None
            } else if let Ok(err) = oauth::OAuthError::decode(&e.bytes) {
                let v: Value = serde_json::from_slice(&e.bytes).unwrap_or_default();
                Some(json!([
                    format!("error={}", v["error"].as_str().unwrap_or(&err.error)),
                    format!("error_description={}", err.description()),
                ]))
            } else if let Ok(r) = dirsync::SyncResults::decode(&e.bytes) {
                Some(json!(r.lines()))
            } else if let Ok(p) = mrs::Provision::decode(&e.bytes) {
                Some(json!({"upn": p.upn, "protocol": "activesync", "url": p.url}))
            } else if let Ok(d) = autodiscover::DetectJson::decode(&e.bytes) {
                Some(
                    json!({"protocol": d.protocol, "url": d.url, "aad": d.aad, "onprem": d.onprem}),
                )
            } else if let Ok(a) = autodiscover::V2Answer::decode(&e.bytes) {
                Some(json!({"Protocol": a.protocol, "Url": a.url}))
            } else if let Ok(k) = oidc::Jwks::decode(&e.bytes) {
                Some(
                    json!({"keys": k.keys.iter().map(|k| json!({"kid": k.kid})).collect::<Vec<_>>()}),
                )
            } else {
                Some(trace_value(e))
            }
        }
        _ => Some(trace_value(e)),
    }
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
            // A symmetric JSON Web Key's `k` is its secret.
            let symmetric = m.get("kty").and_then(serde_json::Value::as_str) == Some("oct");
            for (k, x) in m.iter_mut() {
                if is_secret_name(k) || (symmetric && k == "k") {
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

/// The mailbox answer a response's bytes hold, read with the decoder of its content type:
/// an EWS `FindItem` response, an AutoDiscover POX settings response or an offline
/// address book manifest (XML, told apart by their root element), a Graph `messages`
/// collection or OWA's `FindItem` JSON (JSON), an ActiveSync `Sync` response (WBXML), a
/// MAPI/HTTP `Execute` response, an RPC over HTTP stream, or ECP's options page (HTML).
/// `Err` when the bytes are not one (what a client fails to read); the items and data may
/// be none.
pub fn read_mailbox(content_type: ContentType, bytes: &[u8]) -> Result<MailboxAnswer, DecodeError> {
    let (format, items, data) = match content_type {
        ContentType::Xml => match xml_root(bytes) {
            Some("Autodiscover") => {
                let r = autodiscover::PoxResponse::decode(bytes)?;
                let data = std::iter::once(format!("User/DisplayName {}", r.display_name))
                    .chain(
                        r.protocols
                            .iter()
                            .map(|p| format!("Protocol {} {}", p.kind, p.server)),
                    )
                    .collect();
                ("AutoDiscover POX settings", Vec::new(), data)
            }
            Some("OAB") => {
                let m = oab::Manifest::decode(bytes)?;
                let data = m.lists.iter().map(|l| format!("OAL {}", l.name)).collect();
                ("OAB manifest", Vec::new(), data)
            }
            _ => (
                "EWS FindItem",
                ews::FindItemResponse::decode(bytes)?.items,
                Vec::new(),
            ),
        },
        ContentType::Json => match graph::Messages::decode(bytes) {
            Ok(m) => ("Graph messages", m.value, Vec::new()),
            Err(e) => match owa::FindItemJson::decode(bytes) {
                Ok(o) => ("OWA FindItem", o.items, Vec::new()),
                Err(_) => return Err(e),
            },
        },
        ContentType::Wbxml => match wbxml::decode(bytes)? {
            wbxml::Command::SyncResponse(s) if s.status == 1 => {
                ("ActiveSync Sync", s.items, Vec::new())
            }
            c => return Err(not_sync(&c)),
        },
        ContentType::MapiHttp => (
            "MAPI Execute",
            mapi::ExecuteResponse::decode(bytes)?.rows,
            Vec::new(),
        ),
        ContentType::Rpc => match rpc::OutStream::decode(bytes)?.answer {
            Ok(rows) => ("RPC over HTTP EcDoRpcExt2", rows, Vec::new()),
            Err(status) => {
                return Err(DecodeError::new(
                    "RPC over HTTP stream",
                    format!("a fault, status 0x{status:08X}"),
                ))
            }
        },
        ContentType::Html => {
            let p = ecp::OptionsPage::decode(bytes)?;
            let data = p.options.iter().map(|(n, v)| format!("{n}: {v}")).collect();
            ("ECP options", Vec::new(), data)
        }
        ct => {
            return Err(DecodeError::new(
                "mailbox answer",
                format!("{} is not a mailbox protocol's", ct.media_type()),
            ))
        }
    };
    Ok(MailboxAnswer {
        format,
        items,
        data,
    })
}

/// The local name of the root element of an XML document (after the declaration,
/// processing instructions, comments and a doctype), without parsing the rest; `None`
/// when there is none.
fn xml_root(bytes: &[u8]) -> Option<&str> {
    let find = |hay: &[u8], needle: &[u8]| hay.windows(needle.len()).position(|w| w == needle);
    let mut rest = bytes;
    loop {
        rest = &rest[rest.iter().position(|&b| b == b'<')?..];
        let skip = if rest.starts_with(b"<!--") {
            find(&rest[4..], b"-->")? + 7
        } else if rest.starts_with(b"<?") {
            find(&rest[2..], b"?>")? + 4
        } else if rest.starts_with(b"<!") {
            rest.iter().position(|&b| b == b'>')? + 1
        } else {
            break;
        };
        rest = &rest[skip..];
    }
    let rest = &rest[1..];
    let end = rest
        .iter()
        .position(|&b| b.is_ascii_whitespace() || b == b'>' || b == b'/')
        .unwrap_or(rest.len());
    let name = std::str::from_utf8(&rest[..end]).ok()?;
    Some(name.rsplit(':').next().unwrap_or(name))
}

/// A mailbox answer as [`read_mailbox`] reads it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MailboxAnswer {
    /// The protocol's answer (`EWS FindItem`, `ActiveSync Sync`, `MAPI Execute`...).
    pub format: &'static str,
    /// The messages it carries.
    pub items: Vec<MailItem>,
    /// The mailbox data other than messages it carries, one line each: the settings of
    /// an AutoDiscover POX answer (the user's name, each protocol), the address lists of
    /// an offline address book manifest, the options of ECP's page. Empty for an answer
    /// of messages.
    pub data: Vec<String>,
}

impl MailboxAnswer {
    /// Whether it carries mailbox content: at least one message or one line of data.
    pub fn carries_data(&self) -> bool {
        !self.items.is_empty() || !self.data.is_empty()
    }
}

/// Whether a response with these bytes and content type carries mailbox content: an EWS
/// `FindItem` response with at least one item, a Graph `messages` collection or an OWA
/// `FindItem` answer with at least one message, an ActiveSync `Sync` response that adds
/// at least one item, a MAPI/HTTP `Execute` response or an RPC over HTTP stream with at
/// least one row; and the legacy answers that carry a mailbox's data without messages: an
/// AutoDiscover POX settings response (not its `Error`), an offline address book manifest
/// with at least one address list, ECP's options page. Decided from the bytes alone (the
/// MFA monitor's test), never from trace metadata.
pub fn carries_mailbox(content_type: ContentType, bytes: &[u8]) -> bool {
    could_carry_mailbox(content_type, bytes)
        && read_mailbox(content_type, bytes).is_ok_and(|m| m.carries_data())
}

/// Whether bytes of this type could be a mailbox answer at all. Most answers are not: a
/// look for the marker every one of them holds spares a parse (the monitor asks of every
/// answer). (An XML element name is never escaped; a JSON document without a `\u`
/// escape spells its keys and values as they read.)
fn could_carry_mailbox(content_type: ContentType, bytes: &[u8]) -> bool {
    use memchr::memmem::Finder;
    use std::sync::LazyLock;
    // The searchers are built once (building one per look costs more than most looks).
    static MARKERS: LazyLock<[Finder<'static>; 6]> = LazyLock::new(|| {
        [
            "FindItemResponseMessage",
            "OAL",
            "Account",
            "essage",
            "\\u",
            "ecp-options",
        ]
        .map(Finder::new)
    });
    let has = |i: usize| MARKERS[i].find(bytes).is_some();
    match content_type {
        ContentType::Xml => has(0) || has(1) || has(2),
        ContentType::Json => has(3) || has(4),
        ContentType::Html => has(5),
        ContentType::Wbxml | ContentType::MapiHttp | ContentType::Rpc => true,
        _ => false,
    }
}

fn not_sync(c: &wbxml::Command) -> DecodeError {
    DecodeError::new("ActiveSync Sync response", format!("a {}", c.name()))
}

/// The text trace's line of a mailbox answer: its protocol, how many items and their
/// subjects.
fn mailbox_digest(e: &Encoded) -> Option<Value> {
    let m = read_mailbox(e.content_type, &e.bytes).ok()?;
    if !m.data.is_empty() {
        return Some(serde_json::json!({"mailbox": m.format, "data": m.data}));
    }
    Some(serde_json::json!({
        "mailbox": m.format,
        "items": m.items.len(),
        "subjects": m.items.iter().map(|i| i.subject.as_str()).collect::<Vec<_>>(),
    }))
}

/// Whether `e` is a request a mailbox protocol reads the mailbox with (an ActiveSync
/// command request, an EWS `FindItem`, an AutoDiscover POX request).
fn is_mailbox_request(e: &Encoded) -> bool {
    match e.content_type {
        ContentType::Wbxml => matches!(
            wbxml::decode(&e.bytes),
            Ok(wbxml::Command::SyncRequest { .. }
                | wbxml::Command::FolderSyncRequest { .. }
                | wbxml::Command::ProvisionRequest { .. })
        ),
        ContentType::Xml => {
            ews::FindItem::decode(&e.bytes).is_ok()
                || autodiscover::PoxRequest::decode(&e.bytes).is_ok()
        }
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

impl MailItem {
    /// The messages a mailbox server shows of `upn`'s Inbox at `unix_now` (Unix
    /// seconds): three messages derived from the user alone (senders at the user's
    /// domain, subjects naming the user, ids from a hash of the address) received 3, 26
    /// and 50 hours before now. Deterministic: no random number, the server's clock.
    pub fn sample(upn: &str, unix_now: u64) -> Vec<MailItem> {
        let upn = upn.to_ascii_lowercase();
        let (local, domain) = upn.split_once('@').unwrap_or((upn.as_str(), "contoso.com"));
        let hash = upn.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
        });
        [
            (
                3,
                "it-helpdesk",
                ["Welcome to your mailbox, ", local].concat(),
            ),
            (26, "calendar", "Weekly team meeting: agenda".to_string()),
            (50, "payroll", "Your payslip is available".to_string()),
        ]
        .into_iter()
        .enumerate()
        .map(|(i, (hours, sender, subject))| MailItem {
            id: hex16((hash & 0xFFFF_0000_0000_0000) | (i as u64 + 1)),
            subject,
            from: [sender, "@", domain].concat(),
            received: iso8601(unix_now.saturating_sub(hours * 3600)),
        })
        .collect()
    }
}

/// `n` as sixteen upper-case hex digits (`format!("{n:016X}")`).
fn hex16(n: u64) -> String {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    (0..16)
        .rev()
        .map(|k| char::from(HEX[((n >> (k * 4)) & 15) as usize]))
        .collect()
}

/// Days since 1970-01-01 of a civil date (Howard Hinnant's `days_from_civil`).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// `YYYY-MM-DDThh:mm:ssZ` of a Unix time (ISO 8601, as EWS, Graph and ActiveSync write
/// times).
pub fn iso8601(unix_secs: u64) -> String {
    civil_with(unix_secs, b'T')
}

/// The Unix time of `YYYY-MM-DDThh:mm:ss` with an optional fraction and `Z`.
pub fn parse_iso8601(s: &str) -> Option<u64> {
    let s = s.strip_suffix('Z').unwrap_or(s);
    let (date, time) = s.split_once('T')?;
    let time = time.split('.').next()?;
    let n = |p: &str| p.parse::<i64>().ok();
    let d: Vec<i64> = date.split('-').map(n).collect::<Option<_>>()?;
    let t: Vec<i64> = time.split(':').map(n).collect::<Option<_>>()?;
    let ([y, mo, da], [h, mi, se]) = (d.as_slice(), t.as_slice()) else {
        return None;
    };
    if !(0..=9999).contains(y)
        || !(1..=12).contains(mo)
        || !(1..=31).contains(da)
        || *h > 23
        || *mi > 59
        || *se > 60
    {
        return None;
    }
    let secs = days_from_civil(*y, *mo, *da) * 86_400 + h * 3600 + mi * 60 + se;
    u64::try_from(secs).ok()
}

const WEEKDAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// The HTTP date (RFC 9110's IMF-fixdate, `Thu, 01 Jan 2026 00:00:00 GMT`) of a Unix time.
pub fn http_date(unix_secs: u64) -> String {
    let c = civil(unix_secs);
    let (y, m, d) = (&c[0..4], &c[5..7], &c[8..10]);
    let month = MONTHS[m.parse::<usize>().unwrap_or(1).clamp(1, 12) - 1];
    format!(
        "{}, {d} {month} {y} {} GMT",
        WEEKDAYS[(unix_secs / 86_400 % 7) as usize],
        &c[11..19]
    )
}

/// The Unix time of an IMF-fixdate.
pub fn parse_http_date(s: &str) -> Option<u64> {
    let (_, rest) = s.split_once(", ")?;
    let p: Vec<&str> = rest.split(' ').collect();
    let [d, mon, y, time, "GMT"] = p.as_slice() else {
        return None;
    };
    let m = MONTHS.iter().position(|x| x == mon)? + 1;
    parse_iso8601(&format!("{y}-{m:02}-{d}T{time}Z"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex16_writes_what_format_writes() {
        for n in [0, 1, 0xABC, 0xFFFF_0000_0000_0003, u64::MAX] {
            assert_eq!(hex16(n), format!("{n:016X}"));
        }
    }

    #[test]
    fn civil_times_are_written_as_the_format_macro_writes_them() {
        for t in [
            0u64,
            59,
            3_599,
            86_399,
            1_767_225_600,
            4_102_444_799,
            253_402_300_800,
        ] {
            let (y, m, d) = civil_from_days((t / 86_400) as i64);
            let s = t % 86_400;
            let want = format!(
                "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
                s / 3600,
                s / 60 % 60,
                s % 60
            );
            assert_eq!(iso8601(t), want);
            assert_eq!(civil(t), want.replacen('T', " ", 1));
        }
    }

    #[test]
    fn the_root_of_an_xml_document_is_found_past_its_prolog() {
        assert_eq!(
            xml_root(b"<?xml version=\"1.0\"?><OAB><OAL/></OAB>"),
            Some("OAB")
        );
        assert_eq!(
            xml_root(b"<!-- <OAB> --><?pi x?><!DOCTYPE a><s:Envelope xmlns:s=\"u\"/>"),
            Some("Envelope")
        );
        assert_eq!(xml_root(b"<!-- unterminated <OAB>"), None);
        assert_eq!(xml_root(b"no markup"), None);
        assert_eq!(xml_root(b"<"), Some(""));
    }

    #[test]
    fn a_stamp_is_the_civil_time_and_guids_derived_from_its_id() {
        let s = Stamp::at(1_767_225_600, 7);
        assert_eq!(s.timestamp, "2026-01-01 00:00:00Z");
        assert_eq!(
            Stamp::at(1_772_366_461, 7).timestamp,
            "2026-03-01 12:01:01Z"
        );
        assert_eq!(Stamp::at(951_782_400, 0).timestamp, "2000-02-29 00:00:00Z");
        assert_eq!(s, Stamp::at(1_767_225_600, 7), "derived, not drawn");
        assert_ne!(s.trace_id, Stamp::at(1_767_225_600, 8).trace_id);
        assert_ne!(s.trace_id, s.correlation_id);
        let parts: Vec<usize> = s.trace_id.split('-').map(str::len).collect();
        assert_eq!(parts, [8, 4, 4, 4, 12], "{}", s.trace_id);
    }

    #[test]
    fn the_trace_shows_json_as_json_text_as_a_masked_string_and_binary_as_base64() {
        let json = Encoded::new(
            ContentType::Json,
            br#"{"password":"s3cret","a":1}"#.to_vec(),
        );
        assert_eq!(
            trace_value(&json),
            serde_json::json!({"password": MASK, "a": 1})
        );
        let form = Encoded::new(ContentType::Form, b"UserName=u&Password=s3cret".to_vec());
        let shown = trace_value(&form);
        assert!(
            shown.as_str().is_some_and(|s| !s.contains("s3cret")),
            "{shown}"
        );
        let bin = Encoded::new(ContentType::Wbxml, vec![3, 1, 0x6a, 0]);
        assert_eq!(trace_value(&bin), serde_json::json!({"base64": "AwFqAA=="}));
        assert_eq!(digest(&form), None, "a form's summary says what it does");
    }

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
    fn times_are_written_and_read_back() {
        assert_eq!(iso8601(1_767_225_600), "2026-01-01T00:00:00Z");
        assert_eq!(http_date(1_767_225_600), "Thu, 01 Jan 2026 00:00:00 GMT");
        assert_eq!(http_date(951_782_400), "Tue, 29 Feb 2000 00:00:00 GMT");
        for t in [0, 951_782_400, 1_767_225_600, 1_772_366_461, 4_102_444_799] {
            assert_eq!(parse_iso8601(&iso8601(t)), Some(t));
            assert_eq!(parse_http_date(&http_date(t)), Some(t));
        }
        assert_eq!(
            parse_iso8601("2026-01-01T00:00:00.000Z"),
            Some(1_767_225_600)
        );
        for bad in [
            "",
            "2026-13-01T00:00:00Z",
            "2026-01-01",
            "x-01-01T00:00:00Z",
        ] {
            assert_eq!(parse_iso8601(bad), None, "{bad}");
        }
    }

    #[test]
    fn sample_mail_is_the_users_and_the_clocks() {
        let a = MailItem::sample("Test@Contoso.com", 1_767_236_400);
        assert_eq!(a, MailItem::sample("test@contoso.com", 1_767_236_400));
        assert_eq!(a.len(), 3);
        assert_eq!(a[0].subject, "Welcome to your mailbox, test");
        assert_eq!(a[0].from, "it-helpdesk@contoso.com");
        assert_eq!(a[0].received, "2026-01-01T00:00:00Z");
        let b = MailItem::sample("other@fabrikam.com", 1_767_236_400);
        assert_ne!(a[0].id, b[0].id);
        assert_eq!(b[1].from, "calendar@fabrikam.com");
        let ids: std::collections::BTreeSet<_> = a.iter().map(|m| &m.id).collect();
        assert_eq!(ids.len(), 3);
    }

    #[test]
    fn a_mailbox_answer_is_read_by_its_protocols_decoder() {
        let items = MailItem::sample("u@contoso.com", 1_767_236_400);
        let answers = [
            ews::FindItemResponse {
                items: items.clone(),
            }
            .encode(),
            graph::Messages {
                user: "u@contoso.com".into(),
                value: items.clone(),
            }
            .encode(),
            owa::FindItemJson {
                items: items.clone(),
            }
            .encode(),
            mapi::ExecuteResponse {
                start_unix: 1_767_236_400,
                rows: items.clone(),
            }
            .encode(),
        ];
        for e in &answers {
            let m = read_mailbox(e.content_type, &e.bytes).unwrap();
            assert_eq!(m.items.len(), 3, "{}", m.format);
            assert!(carries_mailbox(e.content_type, &e.bytes));
            let d = digest(e).unwrap();
            assert_eq!(d["mailbox"], m.format);
            assert_eq!(d["subjects"][0], "Welcome to your mailbox, u");
        }
        assert_eq!(
            digest(&mail::sync_request("0")),
            None,
            "its summary says it"
        );
        assert_eq!(digest(&mail::find_item_request()), None);
        assert!(read_mailbox(ContentType::Html, b"<p>").is_err());
        assert!(read_mailbox(ContentType::Json, b"{}").is_err());
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
