//! A small absolute-URL type: scheme, host, path and an ordered, decoded query.

use std::borrow::Cow;
use std::fmt;
use std::ops::{Deref, DerefMut};
use std::sync::Arc;

use crate::MailboxProtocol;

/// An absolute URL: `http`/`https` (scheme and host lower case, the path at least `/`), a
/// custom-scheme redirect URI such as `msauth.com.microsoft.Outlook://auth` (kept as sent:
/// case and an empty path survive), or an opaque URI such as `urn:ietf:wg:oauth:2.0:oob`
/// (no authority: `host` is empty and `path` holds what follows the scheme). Query
/// parameters keep their order and are stored decoded; [`fmt::Display`] percent-encodes
/// them (so `test@contoso.com` renders as `test%40contoso.com`, as in AutoDiscover
/// requests).
///
/// Cloning a `Url` is cheap: its parts are shared, and written only through
/// [`std::ops::DerefMut`], which copies them first if another clone holds them (a relay
/// forwarding a request, the trace recording it and a cloned world share one).
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Url(Arc<UrlParts>);

/// The parts of a [`Url`], read (and written) through it.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct UrlParts {
    /// `https` or `http` (lower case), or a custom scheme for native redirect URIs, as sent.
    /// `http` and `https` are borrowed constants: a URL parsed, built or cloned does not
    /// allocate its scheme.
    pub scheme: Cow<'static, str>,
    /// Host name, lower case for `http`/`https`; empty for an opaque URI.
    pub host: String,
    /// Path: starting with `/` for `http`/`https`; as sent otherwise (it may be empty).
    pub path: String,
    /// Decoded query parameters in order.
    pub query: Vec<(String, String)>,
}

/// Why a string is not a [`Url`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UrlError(pub String);

impl fmt::Display for UrlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "not an absolute URL: {}", self.0)
    }
}

impl std::error::Error for UrlError {}

impl Deref for Url {
    type Target = UrlParts;
    fn deref(&self) -> &UrlParts {
        &self.0
    }
}

impl DerefMut for Url {
    /// The parts to write: copied first if another clone shares them.
    fn deref_mut(&mut self) -> &mut UrlParts {
        Arc::make_mut(&mut self.0)
    }
}

impl fmt::Debug for Url {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Url")
            .field("scheme", &self.scheme)
            .field("host", &self.host)
            .field("path", &self.path)
            .field("query", &self.query)
            .finish()
    }
}

impl Url {
    fn of(parts: UrlParts) -> Url {
        Url(Arc::new(parts))
    }

    /// Parses `scheme://host/path?query`, or an opaque `scheme:rest?query` for a scheme
    /// other than `http` and `https` (`urn:ietf:wg:oauth:2.0:oob`).
    pub fn parse(s: &str) -> Result<Url, UrlError> {
        let err = || UrlError(s.to_string());
        let colon = memchr::memchr(b':', s.as_bytes()).ok_or_else(err)?;
        let scheme = &s[..colon];
        if scheme.is_empty()
            || !scheme.as_bytes()[0].is_ascii_alphabetic()
            || !scheme
                .bytes()
                .all(|c| c.is_ascii_alphanumeric() || c == b'+' || c == b'.' || c == b'-')
        {
            return Err(err());
        }
        let web = scheme.eq_ignore_ascii_case("http") || scheme.eq_ignore_ascii_case("https");
        let after = &s[colon + 1..];
        let (rest, opaque) = match after.strip_prefix("//") {
            Some(r) => (r, false),
            None if !web => (after, true),
            None => return Err(err()),
        };
        let (hostpath, query) = match memchr::memchr(b'?', rest.as_bytes()) {
            Some(q) => (&rest[..q], Some(&rest[q + 1..])),
            None => (rest, None),
        };
        let (host, path) = if opaque {
            ("", hostpath)
        } else {
            match memchr::memchr(b'/', hostpath.as_bytes()) {
                Some(i) => (&hostpath[..i], &hostpath[i..]),
                None => (hostpath, if web { "/" } else { "" }),
            }
        };
        if (!opaque && host.is_empty())
            || (opaque && path.is_empty())
            || has_white_space(host)
            || has_white_space(path)
        {
            return Err(err());
        }
        let mut parts = if web {
            UrlParts {
                scheme: if scheme.eq_ignore_ascii_case("https") {
                    Cow::Borrowed("https")
                } else {
                    Cow::Borrowed("http")
                },
                host: host.to_ascii_lowercase(),
                path: path.to_string(),
                query: Vec::new(),
            }
        } else {
            UrlParts {
                scheme: Cow::Owned(scheme.to_string()),
                host: host.to_string(),
                path: path.to_string(),
                query: Vec::new(),
            }
        };
        if let Some(q) = query {
            let q = q.as_bytes();
            let mut at = 0;
            while at <= q.len() {
                let end = memchr::memchr(b'&', &q[at..]).map_or(q.len(), |k| at + k);
                let pair = &q[at..end];
                if !pair.is_empty() {
                    let (k, v) = match memchr::memchr(b'=', pair) {
                        Some(e) => (&pair[..e], &pair[e + 1..]),
                        None => (pair, &pair[pair.len()..]),
                    };
                    parts.query.push((decode_bytes(k), decode_bytes(v)));
                }
                at = end + 1;
            }
        }
        Ok(Url::of(parts))
    }

    /// The URL as text (what `Display` writes), built in one buffer: the scheme, `://`
    /// and the host (`:` alone for an opaque URL), the path, and the query's pairs
    /// percent-encoded.
    pub fn href(&self) -> String {
        let query: usize = self.query.iter().map(|(k, v)| k.len() + v.len() + 2).sum();
        let mut out =
            Vec::with_capacity(self.scheme.len() + 3 + self.host.len() + self.path.len() + query);
        out.extend_from_slice(self.scheme.as_bytes());
        if self.host.is_empty() {
            out.push(b':');
        } else {
            out.extend_from_slice(b"://");
            out.extend_from_slice(self.host.as_bytes());
        }
        out.extend_from_slice(self.path.as_bytes());
        for (i, (k, v)) in self.query.iter().enumerate() {
            out.push(if i == 0 { b'?' } else { b'&' });
            encode_into(&mut out, k);
            out.push(b'=');
            encode_into(&mut out, v);
        }
        // Every part is a `str` or ASCII written by `encode_into`.
        String::from_utf8(out).expect("a URL's text is UTF-8")
    }

    /// Whether this is an `http` or `https` URL (not a native redirect URI).
    pub fn is_web(&self) -> bool {
        self.scheme == "https" || self.scheme == "http"
    }

    /// `https://host` + `path`, no query.
    pub fn https(host: &str, path: &str) -> Url {
        Url::of(UrlParts {
            scheme: Cow::Borrowed("https"),
            host: host.to_ascii_lowercase(),
            path: path.into(),
            query: Vec::new(),
        })
    }

    /// The target of an IMAP or POP session to `host`: `imaps://host` or `pop3s://host`
    /// (the scheme names the implicit-TLS port, 993 or 995; no path).
    pub fn line(protocol: crate::line::session::LineProtocol, host: &str) -> Url {
        Url::of(UrlParts {
            scheme: protocol.scheme().into(),
            host: host.to_ascii_lowercase(),
            path: String::new(),
            query: Vec::new(),
        })
    }

    /// The line protocol this URL's scheme names (`imaps`, `pop3s`), if any.
    pub fn line_protocol(&self) -> Option<crate::line::session::LineProtocol> {
        crate::line::session::LineProtocol::of_scheme(&self.scheme)
    }

    /// Adds a query parameter (builder style).
    pub fn with(mut self, key: &str, value: impl Into<String>) -> Url {
        self.query.push((key.to_string(), value.into()));
        self
    }

    /// The first value of query parameter `key`.
    pub fn param(&self, key: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v.as_str())
    }

    /// Replaces (or adds) query parameter `key`.
    pub fn set_param(&mut self, key: &str, value: impl Into<String>) {
        let value = value.into();
        match self
            .query
            .iter_mut()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
        {
            Some(p) => p.1 = value,
            None => self.query.push((key.to_string(), value)),
        }
    }

    /// `scheme://host`, the form of an audience claim.
    pub fn origin(&self) -> String {
        format!("{}://{}", self.scheme, self.host)
    }

    /// Whether the path starts with `prefix`, ignoring ASCII case (Exchange virtual
    /// directories are case-insensitive).
    pub fn path_starts_with(&self, prefix: &str) -> bool {
        self.path
            .get(..prefix.len())
            .is_some_and(|head| head.eq_ignore_ascii_case(prefix))
    }
}

impl Url {
    /// The mailbox protocol an Exchange virtual directory on this path speaks.
    pub fn mailbox_protocol(&self) -> Option<MailboxProtocol> {
        MailboxProtocol::of_path(&self.path)
    }
}

impl fmt::Display for Url {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.href())
    }
}

impl serde::Serialize for Url {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// Bytes a URL carries as they are (RFC 3986 unreserved); every other byte is `%XX`.
/// A table look-up per byte: one predictable branch, whatever the mix of characters.
const UNRESERVED: [bool; 256] = {
    let mut t = [false; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        t[b] = c.is_ascii_alphanumeric() || matches!(c, b'-' | b'.' | b'_' | b'~');
        b += 1;
    }
    t
};

/// Appends `s` percent-encoded to `out`: unreserved runs copied whole, every other byte
/// as `%XX` in upper-case hex.
fn encode_into(out: &mut Vec<u8>, s: &str) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let bytes = s.as_bytes();
    let mut run = 0;
    for (i, &b) in bytes.iter().enumerate() {
        if UNRESERVED[usize::from(b)] {
            continue;
        }
        out.extend_from_slice(&bytes[run..i]);
        out.extend_from_slice(&[b'%', HEX[usize::from(b >> 4)], HEX[usize::from(b & 15)]]);
        run = i + 1;
    }
    out.extend_from_slice(&bytes[run..]);
}

/// Percent-decodes `s` (`+` stays `+`).
pub fn decode(s: &str) -> String {
    decode_bytes(s.as_bytes())
}

/// Whether `s` holds white space (as `char::is_whitespace` sees it), checked a byte at a
/// time: only a control byte, a space or a non-ASCII byte can begin one.
fn has_white_space(s: &str) -> bool {
    s.bytes().any(|b| b <= b' ' || b >= 0x80) && s.contains(char::is_whitespace)
}

/// [`decode`] of bytes cut from a `str` at ASCII delimiters (so they are UTF-8).
fn decode_bytes(bytes: &[u8]) -> String {
    if memchr::memchr(b'%', bytes).is_none() {
        // Cut from a `str` at ASCII bytes: still UTF-8.
        return String::from_utf8_lossy(bytes).into_owned();
    }
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                out.push(h * 16 + l);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    // Valid UTF-8 (the usual case) is kept without a second copy.
    String::from_utf8(out).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

fn hex(b: u8) -> Option<u8> {
    (b as char).to_digit(16).map(|d| d as u8)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn autodiscover_url_round_trips_with_the_documented_encoding() {
        let s = "https://autodiscover.contoso.com/autodiscover/autodiscover.json?Email=test%40contoso.com&Protocol=activesync&RedirectCount=3";
        let u = Url::parse(s).unwrap();
        assert_eq!(u.param("Email"), Some("test@contoso.com"));
        assert_eq!(u.param("redirectcount"), Some("3"));
        assert_eq!(u.to_string(), s);
    }

    #[test]
    fn encoding_and_decoding_are_byte_exact() {
        let u = Url::https("x.test", "/p")
            .with("k y", "a&b=c/ü~._-")
            .with("e", "")
            .with("%", "100%");
        assert_eq!(
            u.to_string(),
            "https://x.test/p?k%20y=a%26b%3Dc%2F%C3%BC~._-&e=&%25=100%25"
        );
        assert_eq!(Url::parse(&u.to_string()).unwrap(), u);
        assert_eq!(decode("plain+text"), "plain+text");
        assert_eq!(decode("%C3%BC%41"), "üA");
        // A decoded byte sequence that is not UTF-8 is shown with replacement characters.
        assert_eq!(decode("%FFa"), "\u{fffd}a");
    }

    #[test]
    fn rejects_relative_and_garbage() {
        assert!(Url::parse("/owa").is_err());
        assert!(Url::parse("https://").is_err());
        assert!(Url::parse("ht tp://x").is_err());
        assert_eq!(decode("%4"), "%4");
        assert_eq!(decode("a%zz"), "a%zz");
    }

    #[test]
    fn native_redirect_uris_print_as_sent() {
        let oob = Url::parse("urn:ietf:wg:oauth:2.0:oob").unwrap();
        assert_eq!(oob.to_string(), "urn:ietf:wg:oauth:2.0:oob");
        assert!(!oob.is_web());
        let mut code = oob.clone();
        code.set_param("code", "0.Ab");
        assert_eq!(code.to_string(), "urn:ietf:wg:oauth:2.0:oob?code=0.Ab");
        assert_eq!(Url::parse(&code.to_string()).unwrap(), code);
        let mobile = Url::parse("msauth.com.microsoft.Outlook://auth").unwrap();
        assert_eq!(mobile.to_string(), "msauth.com.microsoft.Outlook://auth");
        assert_eq!(
            Url::parse("msauth.com.microsoft.Outlook://auth?code=x")
                .unwrap()
                .to_string(),
            "msauth.com.microsoft.Outlook://auth?code=x"
        );
        // http and https stay canonical; an opaque form is not a web URL.
        assert_eq!(
            Url::parse("HTTPS://Mail.Contoso.com").unwrap().to_string(),
            "https://mail.contoso.com/"
        );
        assert!(Url::parse("https:mail.contoso.com").is_err());
        assert!(Url::parse("urn:").is_err());
        assert!(Url::parse("1urn:x").is_err());
    }

    #[test]
    fn origin_keeps_the_scheme() {
        let u = Url::parse("http://MAIL.contoso.com/Microsoft-Server-ActiveSync").unwrap();
        assert_eq!(u.origin(), "http://mail.contoso.com");
        assert!(u.path_starts_with("/microsoft-server-activesync"));
    }
}
