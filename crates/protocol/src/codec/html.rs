//! The HTML pages of the sign-in flows: sign-in, MFA, auto-post (WS-Federation `wresult`,
//! OIDC `form_post`) and error pages, as well-formed HTML5 a browser renders, with the
//! `<form>` a client parses back (its `action`, `method` and fields).

use super::{ContentType, DecodeError, Encoded};
use crate::body::{Form, MfaPrompt, Page};
use memchr::memmem::Finder;
use std::borrow::Cow;
use std::sync::LazyLock;

use crate::display::{is_secret_name, MASK};
use crate::Url;

/// The largest page read, in bytes.
pub const MAX_PAGE_BYTES: usize = 256 * 1024;

/// The characters [`escape`] replaces, as a table (one predictable look-up per byte).
const SPECIAL: [bool; 256] = {
    let mut t = [false; 256];
    t[b'&' as usize] = true;
    t[b'<' as usize] = true;
    t[b'>' as usize] = true;
    t[b'"' as usize] = true;
    t[b'\'' as usize] = true;
    t
};

/// `s` escaped for HTML text and double-quoted attribute values.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + s.len() / 8);
    escape_into(&mut out, s);
    out
}

/// [`escape`], appended to `out`.
fn escape_into(out: &mut String, s: &str) {
    let mut rest = s;
    // Runs without a character to escape are copied whole (the characters escaped are
    // ASCII, so a run ends on a character boundary).
    while let Some(k) = rest.bytes().position(|b| SPECIAL[b as usize]) {
        out.push_str(&rest[..k]);
        out.push_str(match rest.as_bytes()[k] {
            b'&' => "&amp;",
            b'<' => "&lt;",
            b'>' => "&gt;",
            b'"' => "&quot;",
            _ => "&#39;",
        });
        rest = &rest[k + 1..];
    }
    out.push_str(rest);
}

/// Writes the page around `body` (which writes the page's content into the buffer).
fn document(title: &str, onload: bool, body: impl FnOnce(&mut String)) -> Vec<u8> {
    let mut out = String::with_capacity(1024);
    out.push_str("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>");
    escape_into(&mut out, title);
    out.push_str("</title></head><body");
    if onload {
        out.push_str(" onload=\"document.forms[0].submit()\"");
    }
    out.push('>');
    body(&mut out);
    out.push_str("</body></html>\n");
    out.into_bytes()
}

fn hidden(out: &mut String, name: &str, value: &str) {
    out.push_str("<input type=\"hidden\" name=\"");
    escape_into(out, name);
    out.push_str("\" value=\"");
    escape_into(out, value);
    out.push_str("\">");
}

/// `<form id="ID" method="post" action="ACTION">`.
fn form_start(out: &mut String, id: &str, action: &Url) {
    out.push_str("<form id=\"");
    out.push_str(id);
    out.push_str("\" method=\"post\" action=\"");
    escape_into(out, &action.href());
    out.push_str("\">");
}

/// The page as HTML.
pub fn encode(page: &Page) -> Encoded {
    let bytes = match page {
        Page::SignIn { action, username } => document("Sign in to your account", false, |out| {
            form_start(out, "signin", action);
            out.push_str("<input type=\"email\" name=\"UserName\" value=\"");
            escape_into(out, username.as_deref().unwrap_or(""));
            out.push_str("\" autocomplete=\"username\"><input type=\"password\" name=\"Password\" autocomplete=\"current-password\"><button type=\"submit\">Sign in</button></form>");
        }),
        Page::Mfa { action, method } => document("Approve sign in request", false, |out| {
            form_start(out, "mfa", action);
            hidden(out, "Method", method.as_str());
            out.push_str("<p>Open your Authenticator app and approve the request to sign in.</p><button type=\"submit\">Approve</button></form>");
        }),
        Page::AutoPost { action, fields, .. } => document("Working...", true, |out| {
            form_start(out, "autopost", action);
            for (k, v) in &fields.0 {
                hidden(out, k, v);
            }
            out.push_str("<noscript><p>Script is disabled. Click Submit to continue.</p><button type=\"submit\">Submit</button></noscript></form>");
        }),
        Page::Error { code, message } => document("Sign in error", false, |out| {
            out.push_str("<main id=\"error\"><h1>Sorry, but we're having trouble signing you in.</h1><p id=\"code\">");
            escape_into(out, code);
            out.push_str("</p><p id=\"message\">");
            escape_into(out, message);
            out.push_str("</p></main>");
        }),
    };
    Encoded::new(ContentType::Html, bytes)
}

/// An attribute as written: its name, its raw value (character references unresolved),
/// and the byte span of the value in the page.
type RawAttr<'a> = (&'a str, &'a str, (usize, usize));

/// A start tag: its name as written, where its attributes begin, and the byte after it.
/// Attributes are read when asked for ([`Tag::attrs`]), so a tag the reader skips costs
/// no allocation.
struct Tag<'a> {
    s: &'a str,
    name: &'a str,
    attrs_at: usize,
    end: usize,
}

impl<'a> Tag<'a> {
    /// Whether the tag is named `n` (lower case; tag names are case-insensitive).
    fn is(&self, n: &str) -> bool {
        self.name.eq_ignore_ascii_case(n)
    }
    /// The tag's attributes in order.
    fn attrs(&self) -> Attrs<'a> {
        Attrs {
            s: self.s,
            i: self.attrs_at,
            done: false,
        }
    }
    /// The value of the first attribute named `n` (lower case), references resolved.
    fn attr(&self, n: &str) -> Option<Cow<'a, str>> {
        self.attrs()
            .find(|(k, _, _)| k.eq_ignore_ascii_case(n))
            .map(|(_, v, _)| unescape(v))
    }
}

/// The attributes of a start tag, read from the byte after its name; once done, `i` is
/// the byte after the tag.
struct Attrs<'a> {
    s: &'a str,
    i: usize,
    done: bool,
}

impl<'a> Iterator for Attrs<'a> {
    type Item = RawAttr<'a>;
    fn next(&mut self) -> Option<RawAttr<'a>> {
        if self.done {
            return None;
        }
        let (s, b) = (self.s, self.s.as_bytes());
        let mut i = self.i;
        while b.get(i).is_some_and(|&c| is(c, WS | SLASH)) {
            i += 1;
        }
        match b.get(i) {
            None => {
                self.done = true;
                self.i = i;
                return None;
            }
            Some(b'>') => {
                self.done = true;
                self.i = i + 1;
                return None;
            }
            _ => {}
        }
        let n = s[i..]
            .bytes()
            .position(|c| is(c, WS | EQ | GT | SLASH))
            .unwrap_or(s.len() - i);
        let key = &s[i..i + n];
        i += n.max(1);
        if b.get(i) != Some(&b'=') {
            self.i = i;
            return Some((key, "", (i, i)));
        }
        i += 1;
        let (start, end, next) = match b.get(i) {
            Some(q @ (b'"' | b'\'')) => {
                let e = memchr::memchr(*q, &b[i + 1..]).map_or(s.len(), |e| i + 1 + e);
                (i + 1, e, (e + 1).min(s.len()))
            }
            _ => {
                let e = s[i..]
                    .bytes()
                    .position(|c| is(c, WS | GT))
                    .map_or(s.len(), |e| i + e);
                (i, e, e)
            }
        };
        self.i = next;
        Some((key, &s[start..end], (start, end)))
    }
}

/// Byte classes of the tag scanner, as bits of [`CLASS`]: ASCII white space, `>`, `/`,
/// `=`. A look-up per byte keeps the scan's branches predictable.
const WS: u8 = 1;
const GT: u8 = 2;
const SLASH: u8 = 4;
const EQ: u8 = 8;
const CLASS: [u8; 256] = {
    let mut t = [0u8; 256];
    t[b' ' as usize] = WS;
    t[b'\t' as usize] = WS;
    t[b'\n' as usize] = WS;
    t[0x0C] = WS;
    t[b'\r' as usize] = WS;
    t[b'>' as usize] = GT;
    t[b'/' as usize] = SLASH;
    t[b'=' as usize] = EQ;
    t
};

/// Whether byte `c` is of one of the classes in `mask`.
fn is(c: u8, mask: u8) -> bool {
    CLASS[c as usize] & mask != 0
}

/// The start tags of a document, in order (comments skipped).
fn tags(s: &str) -> Tags<'_> {
    Tags { s, i: 0 }
}

/// The iterator [`tags`] returns.
struct Tags<'a> {
    s: &'a str,
    i: usize,
}

impl<'a> Iterator for Tags<'a> {
    type Item = Tag<'a>;
    fn next(&mut self) -> Option<Tag<'a>> {
        let (s, b) = (self.s, self.s.as_bytes());
        let mut i = self.i;
        while let Some(k) = memchr::memchr(b'<', &b[i..]) {
            i += k + 1;
            if s[i..].starts_with("!--") {
                i = memchr::memmem::find(&b[i..], b"-->").map_or(s.len(), |e| i + e + 3);
                continue;
            }
            if !b.get(i).is_some_and(u8::is_ascii_alphabetic) {
                continue;
            }
            let n = s[i..]
                .bytes()
                .position(|c| is(c, WS | GT | SLASH))
                .unwrap_or(s.len() - i);
            let mut tag = Tag {
                s,
                name: &s[i..i + n],
                attrs_at: i + n,
                end: 0,
            };
            let mut attrs = tag.attrs();
            for _ in attrs.by_ref() {}
            tag.end = attrs.i;
            self.i = attrs.i;
            return Some(tag);
        }
        self.i = s.len();
        None
    }
}

/// Character references resolved (an unknown one kept as written, as browsers do).
pub(crate) fn unescape(raw: &str) -> Cow<'_, str> {
    if !raw.contains('&') {
        return Cow::Borrowed(raw);
    }
    let mut out = String::with_capacity(raw.len());
    let mut rest = raw;
    while let Some(k) = rest.find('&') {
        out.push_str(&rest[..k]);
        rest = &rest[k..];
        let end = rest.find(';').filter(|&e| e <= 10);
        let c = end.and_then(|e| match &rest[1..e] {
            "amp" => Some('&'),
            "lt" => Some('<'),
            "gt" => Some('>'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            n => n
                .strip_prefix("#x")
                .or_else(|| n.strip_prefix("#X"))
                .and_then(|h| u32::from_str_radix(h, 16).ok())
                .or_else(|| n.strip_prefix('#').and_then(|d| d.parse().ok()))
                .and_then(char::from_u32),
        });
        match (c, end) {
            (Some(c), Some(e)) => {
                out.push(c);
                rest = &rest[e + 1..];
            }
            _ => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    Cow::Owned(out)
}

/// A form as a client parses it from a page.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HtmlForm {
    /// The form's `id`.
    pub id: String,
    /// `action`.
    pub action: String,
    /// `method`, lower case (`post` unless written otherwise... HTML's default is `get`).
    pub method: String,
    /// The named inputs' names and values, in document order.
    pub fields: Vec<(String, String)>,
}

/// The first `<form>` of a page and its inputs.
pub fn parse_form(bytes: &[u8]) -> Result<HtmlForm, DecodeError> {
    let f = form_of(page_text(bytes)?)?;
    Ok(HtmlForm {
        id: f.id.into_owned(),
        action: f.action.into_owned(),
        method: f.method.into_owned(),
        fields: f
            .fields
            .into_iter()
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect(),
    })
}

/// [`HtmlForm`] borrowing from the page where no character reference was resolved.
struct FormRef<'a> {
    id: Cow<'a, str>,
    action: Cow<'a, str>,
    method: Cow<'a, str>,
    fields: Vec<(Cow<'a, str>, Cow<'a, str>)>,
}

impl FormRef<'_> {
    fn get(&self, n: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(k, _)| k == n)
            .map(|(_, v)| v.as_ref())
    }
}

fn form_of(s: &str) -> Result<FormRef<'_>, DecodeError> {
    const F: &str = "HTML page";
    let mut tags = tags(s);
    let form = tags
        .by_ref()
        .find(|t| t.is("form"))
        .ok_or_else(|| DecodeError::new(F, "no <form>"))?;
    static CLOSE: LazyLock<Finder<'static>> = LazyLock::new(|| Finder::new("</form"));
    let close = CLOSE
        .find(&s.as_bytes()[form.end..])
        .map_or(s.len(), |k| form.end + k);
    let fields = tags
        .take_while(|t| t.end <= close)
        .filter(|t| t.is("input"))
        .filter_map(|t| {
            // The first `name` and the first `value`, read in one pass over the tag.
            let (mut name, mut value) = (None, None);
            for (k, v, _) in t.attrs() {
                if name.is_none() && k.eq_ignore_ascii_case("name") {
                    name = Some(v);
                } else if value.is_none() && k.eq_ignore_ascii_case("value") {
                    value = Some(v);
                }
            }
            Some((unescape(name?), value.map(unescape).unwrap_or_default()))
        })
        .collect();
    let method = match form.attr("method") {
        Some(m) if m.bytes().any(|c| c.is_ascii_uppercase()) => Cow::Owned(m.to_ascii_lowercase()),
        Some(m) => m,
        None => Cow::Borrowed("get"),
    };
    Ok(FormRef {
        id: form.attr("id").unwrap_or_default(),
        action: form.attr("action").unwrap_or_default(),
        method,
        fields,
    })
}

fn page_text(bytes: &[u8]) -> Result<&str, DecodeError> {
    const F: &str = "HTML page";
    if bytes.len() > MAX_PAGE_BYTES {
        return Err(DecodeError::new(F, "too large"));
    }
    let s = std::str::from_utf8(bytes).map_err(|_| DecodeError::new(F, "not UTF-8"))?;
    if !s
        .trim_start()
        .get(..15)
        .is_some_and(|d| d.eq_ignore_ascii_case("<!DOCTYPE html>"))
    {
        return Err(DecodeError::new(F, "no <!DOCTYPE html>"));
    }
    Ok(s)
}

fn text_of(s: &str, id: &str) -> Option<String> {
    let open = format!("<p id=\"{id}\">");
    let k = s.find(&open)? + open.len();
    let e = s[k..].find("</p>")? + k;
    Some(unescape(&s[k..e]).into_owned())
}

/// Reads a page back into the [`Page`] it shows.
pub fn decode(bytes: &[u8]) -> Result<Page, DecodeError> {
    const F: &str = "HTML page";
    let s = page_text(bytes)?;
    static ERROR: LazyLock<Finder<'static>> = LazyLock::new(|| Finder::new("<main id=\"error\">"));
    if ERROR.find(bytes).is_some() {
        return Ok(Page::Error {
            code: text_of(s, "code")
                .ok_or_else(|| DecodeError::new(F, "an error page without its code"))?,
            message: text_of(s, "message").unwrap_or_default(),
        });
    }
    let f = form_of(s)?;
    if f.method != "post" {
        return Err(DecodeError::new(F, "the form does not post"));
    }
    let action = Url::parse(&f.action).map_err(|e| DecodeError::new(F, format!("action: {e}")))?;
    match f.id.as_ref() {
        "signin" => Ok(Page::SignIn {
            action,
            username: f
                .get("UserName")
                .filter(|u| !u.is_empty())
                .map(str::to_string),
        }),
        "mfa" => {
            let method = match f.get("Method") {
                Some("PhoneAppNotification") => MfaPrompt::PhoneAppNotification,
                Some("RegisterSecurityInfo") => MfaPrompt::RegisterSecurityInfo,
                _ => return Err(DecodeError::new(F, "an MFA page without a known Method")),
            };
            Ok(Page::Mfa { action, method })
        }
        "autopost" => Ok(Page::AutoPost {
            action,
            fields: Form(
                f.fields
                    .into_iter()
                    .map(|(k, v)| (k.into_owned(), v.into_owned()))
                    .collect(),
            ),
        }),
        other => Err(DecodeError::new(
            F,
            format!("a form of unknown id '{other}'"),
        )),
    }
}

/// The page with the value of every input named as a secret, or of type `password`,
/// replaced by [`MASK`]; `None` when it is not UTF-8.
pub fn mask(bytes: &[u8]) -> Option<Vec<u8>> {
    let s = std::str::from_utf8(bytes).ok()?;
    let mut spans: Vec<(usize, usize)> = Vec::new();
    for t in tags(s).filter(|t| t.is("input")) {
        let secret = t.attr("name").is_some_and(|n| is_secret_name(&n))
            || t.attr("type")
                .is_some_and(|v| v.eq_ignore_ascii_case("password"));
        if secret {
            spans.extend(
                t.attrs()
                    .filter(|(k, _, _)| k.eq_ignore_ascii_case("value"))
                    .map(|(_, _, sp)| sp),
            );
        }
    }
    let mut out = Vec::with_capacity(bytes.len());
    let mut at = 0;
    for (a, b) in spans {
        if a < at {
            continue;
        }
        out.extend_from_slice(&bytes[at..a]);
        out.extend_from_slice(MASK.as_bytes());
        at = b;
    }
    out.extend_from_slice(&bytes[at..]);
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pages() -> Vec<Page> {
        let action = Url::https("login.microsoftonline.com", "/common/login").with("ctx", "a b&c");
        vec![
            Page::SignIn {
                action: action.clone(),
                username: Some("test@contoso.com".into()),
            },
            Page::SignIn {
                action: action.clone(),
                username: None,
            },
            Page::Mfa {
                action: action.clone(),
                method: MfaPrompt::RegisterSecurityInfo,
            },
            Page::AutoPost {
                action: action.clone(),
                fields: Form::new()
                    .with("wresult", "<t:RequestSecurityTokenResponse x=\"1\">")
                    .with("wctx", "a&b"),
            },
            Page::Error {
                code: "AADSTS53003".into(),
                message: "Access has been blocked by Conditional Access policies. <b>".into(),
            },
        ]
    }

    #[test]
    fn pages_read_back() {
        for p in pages() {
            let e = encode(&p);
            assert_eq!(
                decode(&e.bytes).unwrap(),
                p,
                "{}",
                String::from_utf8_lossy(&e.bytes)
            );
        }
    }

    #[test]
    fn a_client_finds_the_form() {
        let f = parse_form(&encode(&pages()[3]).bytes).unwrap();
        assert_eq!(f.method, "post");
        assert_eq!(f.fields[1], ("wctx".into(), "a&b".into()));
        // Hand-written HTML: unquoted and single-quoted attributes, upper case.
        let page = b"<!doctype html><HTML><FORM METHOD=POST action='https://sts.contoso.com/adfs/ls/' id=signin><INPUT name=UserName value=u&amp;v><input name=Password type=password value=pw></FORM>";
        let f = parse_form(page).unwrap();
        assert_eq!(
            (f.action.as_str(), f.fields[0].1.as_str()),
            ("https://sts.contoso.com/adfs/ls/", "u&v")
        );
        assert!(decode(b"<html>no doctype</html>").is_err());
        assert!(decode(b"<!DOCTYPE html><p>no form</p>").is_err());
        let shown = mask(page).unwrap();
        assert!(!String::from_utf8(shown).unwrap().contains("pw"));
    }

    #[test]
    fn secret_hidden_fields_are_masked() {
        let p = Page::AutoPost {
            action: Url::https("a.contoso.com", "/"),
            fields: Form::new()
                .with("client_secret", "s3cr3t")
                .with("code", "c0de"),
        };
        let shown = String::from_utf8(mask(&encode(&p).bytes).unwrap()).unwrap();
        assert!(
            !shown.contains("s3cr3t") && shown.contains("c0de"),
            "{shown}"
        );
    }
}
