//! Raw HTTP into and out of the wire (issue 12 "Bad input"): a request parsed from bytes by
//! [`crate::codec::http1::parse_request`] becomes the [`Wire`] a party receives
//! ([`Wire::from_http`]), and a [`Wire`] a party sends becomes an `http::Request` or
//! `http::Response` that [`crate::codec::http1::write_request`] and `write_response`
//! serialise ([`Wire::to_http_request`], [`Wire::to_http_response`]).
//!
//! What [`Wire::from_http`] builds:
//!
//! - the method; the URL from the absolute-form target as sent, else from the scheme the
//!   connection gives (`https` over TLS, else `http`), the `Host` header (lower case, the
//!   scheme's default port dropped, another port kept) and the origin-form target (its
//!   query decoded, as [`Url::parse`] does);
//! - every header in wire order with its value: UTF-8 when the bytes are, else read as
//!   ISO-8859-1 (RFC 9110's `obs-text`, one character a byte), so no byte is lost;
//! - the body: none when empty; else [`Body::Encoded`] with the [`ContentType`] its
//!   `Content-Type` names. A body whose type hmasim does not know (or that names none) is
//!   kept byte for byte as [`ContentType::Text`], its `Content-Type` header as sent: no
//!   receiver decodes it as a form, JSON, XML, WBXML or MAPI (each checks the media type
//!   first, [`Wire::content_type`], which falls back to the body's `Text`), so it gets the
//!   refusal a real service gives a body it cannot read.
//!
//! A request without a host (HTTP/1.0 in origin-form without `Host`) is refused: no party
//! could be addressed by it.

use std::fmt;

use bytes::Bytes;
use http::{HeaderValue, Request, Response};

use crate::codec::{ContentType, Encoded};
use crate::headers::{self, HeaderName};
use crate::message::{Kind, Wire};
use crate::{Body, Url};

/// Why a raw request is not a [`Wire`], or a [`Wire`] not an HTTP message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RawError {
    /// An origin-form request without a `Host` (HTTP/1.0): no URL.
    NoHost,
    /// The target and host do not make a URL.
    BadUrl(String),
    /// The message is not an HTTP request (for `to_http_request`) or response (for
    /// `to_http_response`): a line session, a timer, a note, a request without method.
    NotHttp(&'static str),
    /// Its body does not travel over HTTP (a directory bind, an MFA push...): the variant.
    BodyNotHttp(&'static str),
    /// A header value holds a byte HTTP refuses (a control character): the header's name.
    BadHeader(String),
}

impl fmt::Display for RawError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RawError::NoHost => f.write_str("the request names no host"),
            RawError::BadUrl(u) => write!(f, "the request's target is not a URL: {u}"),
            RawError::NotHttp(what) => write!(f, "not an HTTP message: {what}"),
            RawError::BodyNotHttp(what) => write!(f, "a {what} body does not travel over HTTP"),
            RawError::BadHeader(n) => write!(f, "header {n} holds a byte HTTP refuses"),
        }
    }
}

impl std::error::Error for RawError {}

/// A header value's text: UTF-8 when it is, else ISO-8859-1.
fn value_text(v: &HeaderValue) -> String {
    match std::str::from_utf8(v.as_bytes()) {
        Ok(s) => s.to_string(),
        Err(_) => v.as_bytes().iter().map(|&b| char::from(b)).collect(),
    }
}

/// The host of a `Host` header or authority, lower case, without the default port of
/// `scheme`.
fn host_of(authority: &str, scheme: &str) -> String {
    let a = authority.trim().to_ascii_lowercase();
    let default = if scheme == "https" { ":443" } else { ":80" };
    match a.strip_suffix(default) {
        Some(h) if !h.is_empty() => h.to_string(),
        _ => a,
    }
}

impl Wire {
    /// The request a party receives for the raw request `req` (parsed by
    /// [`crate::codec::http1::parse_request`]) that arrived over TLS or not. See the
    /// [module docs](self) for what each part becomes. The correlation id is 0.
    pub fn from_http(req: &Request<Bytes>, tls: bool) -> Result<Wire, RawError> {
        let uri = req.uri();
        let url = if let (Some(scheme), Some(auth)) = (uri.scheme_str(), uri.authority()) {
            let scheme = scheme.to_ascii_lowercase();
            let target = uri.path_and_query().map_or("/", |p| p.as_str());
            format!("{scheme}://{}{target}", host_of(auth.as_str(), &scheme))
        } else {
            let scheme = if tls { "https" } else { "http" };
            let host = req
                .headers()
                .get(http::header::HOST)
                .map(value_text)
                .filter(|h| !h.trim().is_empty())
                .ok_or(RawError::NoHost)?;
            // `OPTIONS *` asks about the server, not a resource: its URL is the root.
            let target = match uri.path_and_query().map_or("/", |p| p.as_str()) {
                "*" => "/",
                t => t,
            };
            format!("{scheme}://{}{target}", host_of(&host, scheme))
        };
        let url = Url::parse(&url).map_err(|_| RawError::BadUrl(url))?;
        let headers: Vec<(HeaderName, String)> = req
            .headers()
            .iter()
            .map(|(n, v)| (n.clone(), value_text(v)))
            .collect();
        let body = if req.body().is_empty() {
            Body::Empty
        } else {
            let ct = req
                .headers()
                .get(http::header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .and_then(ContentType::parse)
                .unwrap_or(ContentType::Text);
            Body::Encoded(Encoded::new(ct, req.body().to_vec()))
        };
        Ok(Wire {
            kind: Kind::Request,
            method: Some(req.method().clone()),
            url: Some(url),
            status: None,
            headers,
            body,
            conv: 0,
            line: None,
        })
    }

    /// This request as an `http::Request` (origin-form target, `Host` from the URL when
    /// the headers name none, the body's bytes with its `Content-Type` when the headers
    /// name none): what [`crate::codec::http1::write_request`] serialises.
    pub fn to_http_request(&self) -> Result<Request<Bytes>, RawError> {
        if self.kind != Kind::Request || self.line.is_some() {
            return Err(RawError::NotHttp("not an HTTP request"));
        }
        let method = self
            .method
            .clone()
            .ok_or(RawError::NotHttp("a request without method"))?;
        let url = self
            .url
            .as_ref()
            .ok_or(RawError::NotHttp("a request without URL"))?;
        let mut target = url.to_string();
        target.drain(..url.origin().len().min(target.len()));
        if target.is_empty() {
            target.push('/');
        }
        let mut b = Request::builder().method(method).uri(target.as_str());
        let mut named_host = false;
        for (n, v) in &self.headers {
            named_host |= *n == http::header::HOST;
            b = b.header(n, header_value(n, v)?);
        }
        if !named_host {
            b = b.header(
                http::header::HOST,
                header_value(&http::header::HOST, &url.host)?,
            );
        }
        let (body, ct) = self.http_body()?;
        if let Some(ct) = ct.filter(|_| self.header_value(&headers::CONTENT_TYPE).is_none()) {
            b = b.header(http::header::CONTENT_TYPE, ct.as_str());
        }
        b.body(body).map_err(|_| {
            RawError::BadUrl(self.url.as_ref().map(Url::to_string).unwrap_or_default())
        })
    }

    /// This response (or redirect) as an `http::Response`: its status, headers and body
    /// (with its `Content-Type` when the headers name none), what
    /// [`crate::codec::http1::write_response`] serialises.
    pub fn to_http_response(&self) -> Result<Response<Bytes>, RawError> {
        if !matches!(self.kind, Kind::Response | Kind::Redirect) || self.line.is_some() {
            return Err(RawError::NotHttp("not an HTTP response"));
        }
        let status = self
            .status
            .ok_or(RawError::NotHttp("a response without status"))?;
        let mut b = Response::builder().status(status);
        for (n, v) in &self.headers {
            b = b.header(n, header_value(n, v)?);
        }
        let (body, ct) = self.http_body()?;
        if let Some(ct) = ct.filter(|_| self.header_value(&headers::CONTENT_TYPE).is_none()) {
            b = b.header(http::header::CONTENT_TYPE, ct.as_str());
        }
        b.body(body)
            .map_err(|_| RawError::NotHttp("a response http refuses"))
    }

    /// The body's bytes over HTTP and their content type: an encoded body's, a note's
    /// lines as plain text (the 403.6 page of an edge), nothing for none.
    fn http_body(&self) -> Result<(Bytes, Option<ContentType>), RawError> {
        Ok(match &self.body {
            Body::Empty => (Bytes::new(), None),
            Body::Encoded(e) => (e.bytes.clone(), Some(e.content_type)),
            Body::Lines(l) => (Bytes::from(l.join("\r\n")), Some(ContentType::Text)),
            Body::MfaRequest { .. } => return Err(RawError::BodyNotHttp("MFA request")),
            Body::MfaResult { .. } => return Err(RawError::BodyNotHttp("MFA result")),
            Body::Bind { .. } => return Err(RawError::BodyNotHttp("directory bind")),
            Body::KerberosRequest { .. } => return Err(RawError::BodyNotHttp("Kerberos request")),
            Body::Directory { .. } => return Err(RawError::BodyNotHttp("directory answer")),
            Body::Action(_) => return Err(RawError::BodyNotHttp("timeline input")),
            Body::DirectorySync(_) => return Err(RawError::BodyNotHttp("directory sync")),
            Body::Timer(_) => return Err(RawError::BodyNotHttp("timer")),
        })
    }
}

/// `v` as a header value, or the error naming the header.
fn header_value(n: &HeaderName, v: &str) -> Result<HeaderValue, RawError> {
    HeaderValue::from_str(v).map_err(|_| RawError::BadHeader(headers::display_name(n).to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::http1::{parse_request, write_request, write_response};
    use crate::{Form, Message, Method};

    fn parse(raw: &[u8]) -> Request<Bytes> {
        parse_request(raw).expect("parses").0
    }

    #[test]
    fn an_origin_form_request_takes_its_url_from_host_and_the_connection() {
        let r = parse(b"GET /EWS/Exchange.asmx?a=b%40c HTTP/1.1\r\nHost: Mail.Contoso.com:443\r\nAuthorization: Bearer x\r\n\r\n");
        let w = Wire::from_http(&r, true).unwrap();
        assert_eq!(w.kind, Kind::Request);
        assert_eq!(w.method, Some(Method::GET));
        let u = w.url.as_ref().unwrap();
        assert_eq!(
            u.to_string(),
            "https://mail.contoso.com/EWS/Exchange.asmx?a=b%40c"
        );
        assert_eq!(u.param("a"), Some("b@c"));
        assert_eq!(w.header_value(&headers::AUTHORIZATION), Some("Bearer x"));
        assert_eq!(w.headers[0].0, http::header::HOST, "headers in wire order");
        assert_eq!(w.body, Body::Empty);
        let plain = Wire::from_http(
            &parse(b"GET / HTTP/1.1\r\nHost: x.test:8080\r\n\r\n"),
            false,
        );
        assert_eq!(
            plain.unwrap().url.unwrap().to_string(),
            "http://x.test:8080/"
        );
    }

    #[test]
    fn an_absolute_form_request_keeps_its_scheme_and_host() {
        let r = parse(b"GET http://Login.Microsoftonline.com:443/common/oauth2/token HTTP/1.1\r\nHost: other.test\r\n\r\n");
        let w = Wire::from_http(&r, false).unwrap();
        assert_eq!(
            w.url.unwrap().to_string(),
            "http://login.microsoftonline.com:443/common/oauth2/token",
            "the port is the default of https, not of http"
        );
    }

    #[test]
    fn the_body_is_encoded_with_the_type_its_content_type_names() {
        let r = parse(b"POST /t HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded; charset=utf-8\r\nContent-Length: 7\r\n\r\na=1&b=2");
        let w = Wire::from_http(&r, true).unwrap();
        assert_eq!(w.content_type(), Some(ContentType::Form));
        assert_eq!(w.form().unwrap().get("b"), Some("2"));
        for (ct, want) in [
            ("application/json", ContentType::Json),
            ("application/soap+xml", ContentType::Xml),
            ("application/vnd.ms-sync.wbxml", ContentType::Wbxml),
            ("text/html", ContentType::Html),
        ] {
            let raw = format!(
                "POST / HTTP/1.1\r\nHost: x\r\nContent-Type: {ct}\r\nContent-Length: 1\r\n\r\nz"
            );
            let w = Wire::from_http(&parse(raw.as_bytes()), true).unwrap();
            assert_eq!(w.body.content_type(), Some(want), "{ct}");
        }
    }

    #[test]
    fn a_body_of_an_unknown_type_stays_as_sent_and_reads_as_text() {
        let r = parse(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Type: image/png\r\nContent-Length: 3\r\n\r\n\x89PN");
        let w = Wire::from_http(&r, true).unwrap();
        assert_eq!(w.bytes(), b"\x89PN");
        assert_eq!(w.content_type(), Some(ContentType::Text));
        assert_eq!(w.header_value(&headers::CONTENT_TYPE), Some("image/png"));
        assert_eq!(w.form(), None, "not read as a form");
        let none = parse(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\na=1");
        assert_eq!(Wire::from_http(&none, true).unwrap().form(), None);
    }

    #[test]
    fn a_value_that_is_not_utf8_reads_as_latin1_and_no_host_is_refused() {
        let r = parse(b"GET / HTTP/1.1\r\nHost: x\r\nX-Name: caf\xe9\r\n\r\n");
        let w = Wire::from_http(&r, true).unwrap();
        assert_eq!(
            w.header_value(&HeaderName::from_static("x-name")),
            Some("caf\u{e9}")
        );
        let old = parse(b"GET / HTTP/1.0\r\n\r\n");
        assert_eq!(Wire::from_http(&old, true), Err(RawError::NoHost));
        let star = parse(b"OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n");
        assert_eq!(Wire::from_http(&star, true).unwrap().url.unwrap().path, "/");
    }

    #[test]
    fn a_request_round_trips_through_write_request_and_parse_request() {
        let form = Form::new()
            .with("grant_type", "refresh_token")
            .with("refresh_token", "r");
        let m = Message::request(
            Method::POST,
            Url::parse("https://login.microsoftonline.com/common/oauth2/token?api-version=1.0")
                .unwrap(),
            0,
            "token",
        )
        .header(&headers::USER_AGENT, "Microsoft Office/16.0")
        .with_form(form.clone());
        let req = m.wire.to_http_request().unwrap();
        let bytes = write_request(&req);
        let back = Wire::from_http(&parse(&bytes), true).unwrap();
        assert_eq!(back.method, m.method);
        assert_eq!(back.url, m.url);
        assert_eq!(back.form(), Some(&form));
        assert_eq!(
            back.header_value(&headers::USER_AGENT),
            Some("Microsoft Office/16.0")
        );
        assert_eq!(
            back.header_value(&http::header::HOST),
            Some("login.microsoftonline.com")
        );
        // And back again: the same request.
        let again = Wire::from_http(
            &parse(&write_request(&back.to_http_request().unwrap())),
            true,
        );
        assert_eq!(again.unwrap(), back);
    }

    #[test]
    fn answers_become_responses_and_what_is_not_http_is_refused() {
        let req = Message::request(Method::GET, Url::https("x.test", "/"), 0, "r");
        let ok = Message::response(&req, 200, "ok")
            .with_encoded(Encoded::new(ContentType::Json, b"{}".to_vec()));
        let bytes = write_response(&ok.wire.to_http_response().unwrap());
        let text = String::from_utf8(bytes).unwrap();
        assert!(text.starts_with("HTTP/1.1 200 OK\r\n"), "{text}");
        assert!(
            text.contains("content-type: application/json; charset=utf-8\r\n"),
            "{text}"
        );
        assert!(text.ends_with("\r\n\r\n{}"), "{text}");
        let edge = Message::ip_rejected(&req, "wap")
            .wire
            .to_http_response()
            .unwrap();
        assert_eq!(edge.status(), 403);
        assert!(req.wire.to_http_response().is_err());
        assert!(ok.wire.to_http_request().is_err());
        let bad = Message::response(&req, 200, "x").header(&headers::SERVER, "a\nb");
        assert_eq!(
            bad.wire.to_http_response().unwrap_err(),
            RawError::BadHeader("Server".into())
        );
        let bind = Message::response(&req, 200, "x").with_body(Body::Bind {
            upn: "u".into(),
            password: "p".into(),
        });
        assert!(matches!(
            bind.wire.to_http_response(),
            Err(RawError::BodyNotHttp(_))
        ));
    }
}
