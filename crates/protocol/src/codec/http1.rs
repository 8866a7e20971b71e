//! Raw HTTP/1.1 (RFC 9112): request bytes parsed into an `http::Request<Bytes>` under
//! limits, refusing malformed input with the `400` page IIS (HTTP.sys) answers, and
//! messages serialised back to bytes. `Content-Length` and `Transfer-Encoding: chunked`
//! bodies are read (a chunked body is handed on whole, its `Transfer-Encoding` replaced
//! by the `Content-Length` of what was read); any other transfer coding is `501`.

use bytes::Bytes;
use http::header::{HeaderName, HeaderValue, CONTENT_LENGTH, HOST, TRANSFER_ENCODING};
use http::{Method, Request, Response, Version};

/// The longest request line, in bytes (without its CRLF).
pub const MAX_REQUEST_LINE: usize = 8 * 1024;
/// The longest header line.
pub const MAX_HEADER_LINE: usize = 16 * 1024;
/// The most header fields.
pub const MAX_HEADERS: usize = 100;
/// The most bytes of the request line and headers together.
pub const MAX_HEAD: usize = 32 * 1024;
/// The largest body.
pub const MAX_BODY: usize = 4 * 1024 * 1024;

/// What a request is refused for, each with HTTP.sys's page.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BadRequest {
    /// A request line or framing that cannot be read.
    BadRequest,
    /// The method is not a token.
    InvalidVerb,
    /// The request target is not a valid URL.
    InvalidUrl,
    /// A header line is malformed (no colon, a space before it, a control character,
    /// an obsolete line folding).
    InvalidHeader,
    /// No `Host`, several, or one that is not a host name.
    InvalidHostname,
    /// The request line or headers exceed their limits.
    RequestTooLong,
    /// The body exceeds [`MAX_BODY`] (413).
    BodyTooLarge,
    /// A transfer coding other than `chunked` (501).
    NotImplemented,
    /// An HTTP version other than 1.0 and 1.1 (505).
    VersionNotSupported,
}

impl BadRequest {
    /// The status answered.
    pub const fn status(self) -> u16 {
        match self {
            BadRequest::BodyTooLarge => 413,
            BadRequest::NotImplemented => 501,
            BadRequest::VersionNotSupported => 505,
            _ => 400,
        }
    }
    /// The page's heading, as HTTP.sys writes it.
    pub const fn title(self) -> &'static str {
        match self {
            BadRequest::BadRequest => "Bad Request",
            BadRequest::InvalidVerb => "Bad Request - Invalid Verb",
            BadRequest::InvalidUrl => "Bad Request - Invalid URL",
            BadRequest::InvalidHeader => "Bad Request - Invalid Header",
            BadRequest::InvalidHostname => "Bad Request - Invalid Hostname",
            BadRequest::RequestTooLong => "Bad Request - Request Too Long",
            BadRequest::BodyTooLarge => "Request Entity Too Large",
            BadRequest::NotImplemented => "Not Implemented",
            BadRequest::VersionNotSupported => "HTTP Version Not Supported",
        }
    }
    /// The page's sentence, as HTTP.sys writes it.
    pub const fn detail(self) -> &'static str {
        match self {
            BadRequest::BadRequest => "HTTP Error 400. The request is badly formed.",
            BadRequest::InvalidVerb => "HTTP Error 400. The request verb is invalid.",
            BadRequest::InvalidUrl => "HTTP Error 400. The request URL is invalid.",
            BadRequest::InvalidHeader => "HTTP Error 400. The request has an invalid header name.",
            BadRequest::InvalidHostname => "HTTP Error 400. The request hostname is invalid.",
            BadRequest::RequestTooLong => "HTTP Error 400. The size of the request headers is too long.",
            BadRequest::BodyTooLarge => "HTTP Error 413. The page was not displayed because the request entity is too large.",
            BadRequest::NotImplemented => "HTTP Error 501. The request transfer encoding type is not supported.",
            BadRequest::VersionNotSupported => "HTTP Error 505. The request HTTP version is not supported.",
        }
    }
    /// The HTML page (`text/html; charset=us-ascii`, as HTTP.sys sends it).
    pub fn page(self) -> Vec<u8> {
        format!(
            "<!DOCTYPE HTML PUBLIC \"-//W3C//DTD HTML 4.01//EN\"\"http://www.w3.org/TR/html4/strict.dtd\">\r\n<HTML><HEAD><TITLE>{t}</TITLE>\r\n<META HTTP-EQUIV=\"Content-Type\" Content=\"text/html; charset=us-ascii\"></HEAD>\r\n<BODY><h2>{t}</h2>\r\n<hr><p>{d}</p>\r\n</BODY></HTML>\r\n",
            t = self.title(),
            d = self.detail()
        )
        .into_bytes()
    }
    /// The whole answer, as bytes on the connection.
    pub fn response(self) -> Vec<u8> {
        let page = self.page();
        let mut r = Response::new(Bytes::from(page));
        *r.status_mut() =
            http::StatusCode::from_u16(self.status()).unwrap_or(http::StatusCode::BAD_REQUEST);
        r.headers_mut().insert(
            http::header::CONTENT_TYPE,
            HeaderValue::from_static("text/html; charset=us-ascii"),
        );
        r.headers_mut()
            .insert(http::header::CONNECTION, HeaderValue::from_static("close"));
        write_response(&r)
    }
}

impl std::fmt::Display for BadRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.detail())
    }
}

impl std::error::Error for BadRequest {}

/// Why bytes do not (yet) make a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ParseError {
    /// The bytes end before the request does: read more.
    Incomplete,
    /// The request is refused.
    Bad(BadRequest),
}

impl From<BadRequest> for ParseError {
    fn from(b: BadRequest) -> ParseError {
        ParseError::Bad(b)
    }
}

fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// The next line (without CRLF) from `at`, and where the following one starts. A bare
/// LF or CR is refused.
fn line(b: &[u8], at: usize, max: usize) -> Result<(&[u8], usize), ParseError> {
    let rest = &b[at..];
    match rest.iter().position(|&c| c == b'\n' || c == b'\r') {
        Some(k) if k > max => Err(BadRequest::RequestTooLong.into()),
        Some(k) => match (rest[k], rest.get(k + 1)) {
            (b'\r', Some(b'\n')) => Ok((&rest[..k], at + k + 2)),
            (b'\r', None) => Err(ParseError::Incomplete),
            _ => Err(BadRequest::BadRequest.into()),
        },
        None if rest.len() > max => Err(BadRequest::RequestTooLong.into()),
        None => Err(ParseError::Incomplete),
    }
}

/// Parses one request from the start of `bytes`: the request and how many bytes it
/// took (what follows is the next pipelined request).
pub fn parse_request(bytes: &[u8]) -> Result<(Request<Bytes>, usize), ParseError> {
    // A client may send empty lines before a request (RFC 9112 section 2.2).
    let mut at = 0;
    while bytes[at..].starts_with(b"\r\n") {
        at += 2;
    }
    let (rl, mut at) = line(bytes, at, MAX_REQUEST_LINE)?;
    let mut parts = rl.split(|&c| c == b' ');
    let (m, t, v) = match (parts.next(), parts.next(), parts.next(), parts.next()) {
        (Some(m), Some(t), Some(v), None) => (m, t, v),
        _ => return Err(BadRequest::BadRequest.into()),
    };
    if m.is_empty() || !m.iter().all(|&c| is_tchar(c)) {
        return Err(BadRequest::InvalidVerb.into());
    }
    let method = Method::from_bytes(m).map_err(|_| BadRequest::InvalidVerb)?;
    let version = match v {
        b"HTTP/1.1" => Version::HTTP_11,
        b"HTTP/1.0" => Version::HTTP_10,
        v if v.starts_with(b"HTTP/")
            && v.len() == 8
            && v[5].is_ascii_digit()
            && v[6] == b'.'
            && v[7].is_ascii_digit() =>
        {
            return Err(BadRequest::VersionNotSupported.into())
        }
        _ => return Err(BadRequest::BadRequest.into()),
    };
    let target_ok = t == b"*" && method == Method::OPTIONS
        || t.first() == Some(&b'/')
        || t.starts_with(b"http://")
        || t.starts_with(b"https://");
    if !target_ok || t.iter().any(|&c| c <= b' ' || c >= 0x7F) {
        return Err(BadRequest::InvalidUrl.into());
    }
    let uri: http::Uri = std::str::from_utf8(t)
        .ok()
        .and_then(|s| s.parse().ok())
        .ok_or(BadRequest::InvalidUrl)?;

    let mut builder = Request::builder().method(method).uri(uri).version(version);
    let mut count = 0;
    let mut hosts = 0;
    let mut length: Option<usize> = None;
    let mut chunked = false;
    loop {
        let (h, next) = line(bytes, at, MAX_HEADER_LINE)?;
        at = next;
        if at > MAX_HEAD {
            return Err(BadRequest::RequestTooLong.into());
        }
        if h.is_empty() {
            break;
        }
        count += 1;
        if count > MAX_HEADERS {
            return Err(BadRequest::RequestTooLong.into());
        }
        if matches!(h[0], b' ' | b'\t') {
            return Err(BadRequest::InvalidHeader.into()); // obsolete line folding
        }
        let colon = h
            .iter()
            .position(|&c| c == b':')
            .ok_or(BadRequest::InvalidHeader)?;
        let (name, value) = (&h[..colon], &h[colon + 1..]);
        if name.is_empty() || !name.iter().all(|&c| is_tchar(c)) {
            return Err(BadRequest::InvalidHeader.into());
        }
        let value = trim_ows(value);
        if value.iter().any(|&c| (c < b' ' && c != b'\t') || c == 0x7F) {
            return Err(BadRequest::InvalidHeader.into());
        }
        let name = HeaderName::from_bytes(name).map_err(|_| BadRequest::InvalidHeader)?;
        let value = HeaderValue::from_bytes(value).map_err(|_| BadRequest::InvalidHeader)?;
        if name == HOST {
            hosts += 1;
            let ok = value.to_str().is_ok_and(valid_host);
            if !ok || hosts > 1 {
                return Err(BadRequest::InvalidHostname.into());
            }
        } else if name == CONTENT_LENGTH {
            let s = value.as_bytes();
            if s.is_empty() || !s.iter().all(u8::is_ascii_digit) || s.len() > 12 {
                return Err(BadRequest::BadRequest.into());
            }
            let n: usize = std::str::from_utf8(s)
                .ok()
                .and_then(|s| s.parse().ok())
                .ok_or(BadRequest::BadRequest)?;
            if length.is_some_and(|l| l != n) {
                return Err(BadRequest::BadRequest.into());
            }
            length = Some(n);
        } else if name == TRANSFER_ENCODING {
            if chunked || !value.as_bytes().eq_ignore_ascii_case(b"chunked") {
                return Err(BadRequest::NotImplemented.into());
            }
            chunked = true;
        }
        builder = builder.header(name, value);
    }
    if version == Version::HTTP_11 && hosts == 0 {
        return Err(BadRequest::InvalidHostname.into());
    }
    if chunked && length.is_some() {
        return Err(BadRequest::BadRequest.into());
    }
    let body = if chunked {
        let (body, end) = dechunk(bytes, at)?;
        at = end;
        body
    } else {
        let n = length.unwrap_or(0);
        if n > MAX_BODY {
            return Err(BadRequest::BodyTooLarge.into());
        }
        if bytes.len() - at < n {
            return Err(ParseError::Incomplete);
        }
        let b = bytes[at..at + n].to_vec();
        at += n;
        b
    };
    let mut req = builder
        .body(Bytes::from(body))
        .map_err(|_| BadRequest::BadRequest)?;
    if chunked {
        // The body is handed on whole: its framing becomes a length.
        let n = req.body().len();
        req.headers_mut().remove(TRANSFER_ENCODING);
        req.headers_mut()
            .insert(CONTENT_LENGTH, HeaderValue::from(n));
    }
    Ok((req, at))
}

fn trim_ows(v: &[u8]) -> &[u8] {
    let s = v
        .iter()
        .position(|&c| c != b' ' && c != b'\t')
        .unwrap_or(v.len());
    let e = v
        .iter()
        .rposition(|&c| c != b' ' && c != b'\t')
        .map_or(s, |e| e + 1);
    &v[s..e]
}

/// A `Host` value: a DNS name or an IPv4 address, optionally with a port, or a bracketed
/// IPv6 literal.
fn valid_host(h: &str) -> bool {
    let (host, port) = match h.rsplit_once(':') {
        Some((h, p)) if !h.contains(':') || h.ends_with(']') => (h, Some(p)),
        _ => (h, None),
    };
    if port.is_some_and(|p| p.is_empty() || p.len() > 5 || !p.bytes().all(|c| c.is_ascii_digit())) {
        return false;
    }
    if let Some(v6) = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        return v6.parse::<std::net::Ipv6Addr>().is_ok();
    }
    !host.is_empty()
        && host.len() <= 253
        && host.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && l.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'-')
        })
}

/// The body of a chunked message starting at `at`, and where the message ends.
fn dechunk(b: &[u8], mut at: usize) -> Result<(Vec<u8>, usize), ParseError> {
    let mut body = Vec::new();
    loop {
        let (l, next) = line(b, at, 1024)?;
        let size = l.split(|&c| c == b';').next().unwrap_or(b"");
        let size = trim_ows(size);
        if size.is_empty() || size.len() > 8 || !size.iter().all(u8::is_ascii_hexdigit) {
            return Err(BadRequest::BadRequest.into());
        }
        let n = usize::from_str_radix(std::str::from_utf8(size).unwrap_or("x"), 16)
            .map_err(|_| BadRequest::BadRequest)?;
        at = next;
        if n == 0 {
            // Trailer fields, then the empty line.
            loop {
                let (t, next) = line(b, at, MAX_HEADER_LINE)?;
                at = next;
                if t.is_empty() {
                    return Ok((body, at));
                }
                if !t.contains(&b':') {
                    return Err(BadRequest::BadRequest.into());
                }
            }
        }
        if body.len() + n > MAX_BODY {
            return Err(BadRequest::BodyTooLarge.into());
        }
        if b.len() - at < n + 2 {
            return Err(ParseError::Incomplete);
        }
        body.extend_from_slice(&b[at..at + n]);
        if &b[at + n..at + n + 2] != b"\r\n" {
            return Err(BadRequest::BadRequest.into());
        }
        at += n + 2;
    }
}

fn version_str(v: Version) -> &'static str {
    if v == Version::HTTP_10 {
        "HTTP/1.0"
    } else {
        "HTTP/1.1"
    }
}

fn write_headers(out: &mut Vec<u8>, headers: &http::HeaderMap, body_len: usize) {
    let mut has_length = false;
    for (k, v) in headers {
        if k == TRANSFER_ENCODING {
            continue; // the body is written whole, with its length
        }
        has_length |= k == CONTENT_LENGTH;
        out.extend_from_slice(k.as_str().as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(v.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    if !has_length && body_len > 0 {
        out.extend_from_slice(format!("content-length: {body_len}\r\n").as_bytes());
    }
    out.extend_from_slice(b"\r\n");
}

/// A request as bytes (its body with a `content-length`).
pub fn write_request(r: &Request<Bytes>) -> Vec<u8> {
    // Absolute-form (a request to a proxy) stays absolute; else origin-form.
    let target = if r.uri().scheme().is_some() {
        r.uri().to_string()
    } else {
        r.uri()
            .path_and_query()
            .map_or("/", |p| p.as_str())
            .to_string()
    };
    let mut out =
        format!("{} {} {}\r\n", r.method(), target, version_str(r.version())).into_bytes();
    write_headers(&mut out, r.headers(), r.body().len());
    out.extend_from_slice(r.body());
    out
}

/// A response as bytes (its body with a `content-length`, always, so the connection can
/// carry the next one).
pub fn write_response(r: &Response<Bytes>) -> Vec<u8> {
    let s = r.status();
    let mut out = format!(
        "{} {} {}\r\n",
        version_str(r.version()),
        s.as_u16(),
        s.canonical_reason().unwrap_or("Unknown")
    )
    .into_bytes();
    let mut headers = r.headers().clone();
    if !headers.contains_key(CONTENT_LENGTH) {
        headers.insert(CONTENT_LENGTH, HeaderValue::from(r.body().len()));
    }
    write_headers(&mut out, &headers, r.body().len());
    out.extend_from_slice(r.body());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bad(b: &[u8]) -> BadRequest {
        match parse_request(b) {
            Err(ParseError::Bad(e)) => e,
            other => panic!(
                "{:?} for {}",
                other.map(|(r, _)| r),
                String::from_utf8_lossy(b)
            ),
        }
    }

    #[test]
    fn a_token_request_is_read_whole() {
        let raw = b"POST /common/oauth2/token HTTP/1.1\r\nHost: login.microsoftonline.com\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 19\r\n\r\ngrant_type=passwordGET / HTTP/1.1\r\n";
        let (r, used) = parse_request(raw).unwrap();
        assert_eq!(r.method(), Method::POST);
        assert_eq!(r.uri().path(), "/common/oauth2/token");
        assert_eq!(r.headers()["host"], "login.microsoftonline.com");
        assert_eq!(&r.body()[..], b"grant_type=password");
        assert_eq!(&raw[used..], b"GET / HTTP/1.1\r\n");
        let (again, n) = parse_request(&write_request(&r)).unwrap();
        assert_eq!(
            (again.uri(), again.headers(), again.body()),
            (r.uri(), r.headers(), r.body())
        );
        assert_eq!(n, write_request(&r).len());
    }

    #[test]
    fn an_absolute_form_target_writes_back_absolute() {
        // Found by the http_request fuzz target: written back in origin-form, the
        // target lost its scheme and authority.
        // (Header names are written in lower case, as the http crate keeps them.)
        let raw =
            b"GET http://mail.contoso.com/owa/?a=1 HTTP/1.1\r\nhost: mail.contoso.com\r\n\r\n";
        let (r, _) = parse_request(raw).unwrap();
        assert_eq!(r.uri().host(), Some("mail.contoso.com"));
        assert_eq!(write_request(&r), raw);
        let (star, _) = parse_request(b"OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n").unwrap();
        assert!(write_request(&star).starts_with(b"OPTIONS * HTTP/1.1\r\n"));
    }

    #[test]
    fn chunked_bodies_are_read() {
        let raw = b"POST /EWS/Exchange.asmx HTTP/1.1\r\nHost: mail.contoso.com\r\nTransfer-Encoding: chunked\r\n\r\n4;ext=1\r\nWiki\r\n5\r\npedia\r\n0\r\nX-Trailer: 1\r\n\r\n";
        let (r, used) = parse_request(raw).unwrap();
        assert_eq!(&r.body()[..], b"Wikipedia");
        assert_eq!(used, raw.len());
        assert_eq!(r.headers()["content-length"], "9");
        assert!(!r.headers().contains_key("transfer-encoding"));
        assert_eq!(
            bad(b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nz\r\n"),
            BadRequest::BadRequest
        );
        assert_eq!(
            bad(b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n"),
            BadRequest::NotImplemented
        );
        assert_eq!(bad(b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n"), BadRequest::BadRequest);
    }

    #[test]
    fn malformed_requests_get_http_sys_answers() {
        assert_eq!(
            bad(b"G(T / HTTP/1.1\r\nHost: a\r\n\r\n"),
            BadRequest::InvalidVerb
        );
        assert_eq!(
            bad(b"GET nopath HTTP/1.1\r\nHost: a\r\n\r\n"),
            BadRequest::InvalidUrl
        );
        assert_eq!(bad(b"GET / HTTP/1.1\r\n\r\n"), BadRequest::InvalidHostname);
        assert_eq!(
            bad(b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n"),
            BadRequest::InvalidHostname
        );
        assert_eq!(
            bad(b"GET / HTTP/1.1\r\nHost: bad host\r\n\r\n"),
            BadRequest::InvalidHostname
        );
        assert_eq!(
            bad(b"GET / HTTP/1.1\r\nHost : a\r\n\r\n"),
            BadRequest::InvalidHeader
        );
        assert_eq!(
            bad(b"GET / HTTP/1.1\r\nHost: a\r\n folded\r\n\r\n"),
            BadRequest::InvalidHeader
        );
        assert_eq!(
            bad(b"GET / HTTP/1.1\r\nHost: a\r\nX: a\x01b\r\n\r\n"),
            BadRequest::InvalidHeader
        );
        assert_eq!(bad(b"GET / HTTP/1.1\nHost: a\n\n"), BadRequest::BadRequest);
        assert_eq!(
            bad(b"GET / HTTP/2.0\r\nHost: a\r\n\r\n"),
            BadRequest::VersionNotSupported
        );
        assert_eq!(
            bad(b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n"),
            BadRequest::BadRequest
        );
        assert_eq!(
            bad(b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n"),
            BadRequest::BadRequest
        );
        assert_eq!(
            bad(format!(
                "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: {}\r\n\r\n",
                MAX_BODY + 1
            )
            .as_bytes()),
            BadRequest::BodyTooLarge
        );
        let long = format!("GET /{} HTTP/1.1\r\n", "a".repeat(MAX_REQUEST_LINE));
        assert_eq!(bad(long.as_bytes()), BadRequest::RequestTooLong);
        let many: String = (0..=MAX_HEADERS).map(|i| format!("X-{i}: v\r\n")).collect();
        assert_eq!(
            bad(format!("GET / HTTP/1.1\r\nHost: a\r\n{many}\r\n").as_bytes()),
            BadRequest::RequestTooLong
        );
        assert_eq!(
            parse_request(b"GET / HTTP/1.1\r\nHost: a\r\n").unwrap_err(),
            ParseError::Incomplete
        );
        assert_eq!(
            parse_request(b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nab")
                .unwrap_err(),
            ParseError::Incomplete
        );
        let page = String::from_utf8(BadRequest::InvalidHostname.response()).unwrap();
        assert!(page.starts_with("HTTP/1.1 400 Bad Request\r\n"), "{page}");
        assert!(page.contains("<h2>Bad Request - Invalid Hostname</h2>"));
    }
}
