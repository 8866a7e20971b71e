//! The HTML pages of the sign-in flows: sign-in, MFA, auto-post (WS-Federation `wresult`,
//! OIDC `form_post`) and error pages, as well-formed HTML5 a browser renders, with the
//! `<form>` a client parses back (its `action`, `method` and fields).

use super::{ContentType, DecodeError, Encoded};
use crate::body::{Form, MfaPrompt, Page};
use std::borrow::Cow;

use crate::display::{is_secret_name, MASK};
use crate::Url;

/// The largest page read, in bytes.
pub const MAX_PAGE_BYTES: usize = 256 * 1024;

/// `s` escaped for HTML text and double-quoted attribute values.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn document(title: &str, onload: bool, body: &str) -> Vec<u8> {
    let onload = if onload {
        " onload=\"document.forms[0].submit()\""
    } else {
        ""
    };
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{}</title></head><body{onload}>{body}</body></html>\n",
        escape(title)
    )
    .into_bytes()
}

fn hidden(name: &str, value: &str) -> String {
    format!(
        "<input type=\"hidden\" name=\"{}\" value=\"{}\">",
        escape(name),
        escape(value)
    )
}

/// The page as HTML.
pub fn encode(page: &Page) -> Encoded {
    let bytes = match page {
        Page::SignIn { action, username } => document(
            "Sign in to your account",
            false,
            &format!(
                "<form id=\"signin\" method=\"post\" action=\"{}\"><input type=\"email\" name=\"UserName\" value=\"{}\" autocomplete=\"username\"><input type=\"password\" name=\"Password\" autocomplete=\"current-password\"><button type=\"submit\">Sign in</button></form>",
                escape(&action.to_string()),
                escape(username.as_deref().unwrap_or(""))
            ),
        ),
        Page::Mfa { action, method } => document(
            "Approve sign in request",
            false,
            &format!(
                "<form id=\"mfa\" method=\"post\" action=\"{}\">{}<p>Open your Authenticator app and approve the request to sign in.</p><button type=\"submit\">Approve</button></form>",
                escape(&action.to_string()),
                hidden("Method", method.as_str())
            ),
        ),
        Page::AutoPost { action, fields, .. } => {
            let inputs: String = fields.0.iter().map(|(k, v)| hidden(k, v)).collect();
            document(
                "Working...",
                true,
                &format!(
                    "<form id=\"autopost\" method=\"post\" action=\"{}\">{inputs}<noscript><p>Script is disabled. Click Submit to continue.</p><button type=\"submit\">Submit</button></noscript></form>",
                    escape(&action.to_string())
                ),
            )
        }
        Page::Error { code, message } => document(
            "Sign in error",
            false,
            &format!(
                "<main id=\"error\"><h1>Sorry, but we're having trouble signing you in.</h1><p id=\"code\">{}</p><p id=\"message\">{}</p></main>",
                escape(code),
                escape(message)
            ),
        ),
    };
    Encoded::new(ContentType::Html, bytes)
}

/// A start tag: its name (lower case) and attributes with the byte range of each value.
/// An attribute: its name, its value, and the byte span of the value in the page.
type Attr<'a> = (Cow<'a, str>, Cow<'a, str>, (usize, usize));

struct Tag<'a> {
    name: Cow<'a, str>,
    attrs: Vec<Attr<'a>>,
    end: usize,
}

impl Tag<'_> {
    fn attr(&self, n: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(k, _, _)| k == n)
            .map(|(_, v, _)| v.as_ref())
    }
}

/// The start tags of a document, in order (comments skipped).
fn tags(s: &str) -> Vec<Tag<'_>> {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while let Some(k) = s[i..].find('<') {
        i += k + 1;
        if s[i..].starts_with("!--") {
            i = s[i..].find("-->").map_or(s.len(), |e| i + e + 3);
            continue;
        }
        if !b.get(i).is_some_and(u8::is_ascii_alphabetic) {
            continue;
        }
        let n = s[i..]
            .find(|c: char| c.is_ascii_whitespace() || c == '>' || c == '/')
            .unwrap_or(s.len() - i);
        let name = lower(&s[i..i + n]);
        i += n;
        let mut attrs = Vec::new();
        loop {
            while b
                .get(i)
                .is_some_and(|c| c.is_ascii_whitespace() || *c == b'/')
            {
                i += 1;
            }
            match b.get(i) {
                None => break,
                Some(b'>') => {
                    i += 1;
                    break;
                }
                _ => {}
            }
            let n = s[i..]
                .find(|c: char| c.is_ascii_whitespace() || matches!(c, '=' | '>' | '/'))
                .unwrap_or(s.len() - i);
            let key = lower(&s[i..i + n]);
            i += n.max(1);
            if b.get(i) != Some(&b'=') {
                attrs.push((key, Cow::Borrowed(""), (i, i)));
                continue;
            }
            i += 1;
            let (start, end, next) = match b.get(i) {
                Some(q @ (b'"' | b'\'')) => {
                    let q = *q as char;
                    let e = s[i + 1..].find(q).map_or(s.len(), |e| i + 1 + e);
                    (i + 1, e, (e + 1).min(s.len()))
                }
                _ => {
                    let e = s[i..]
                        .find(|c: char| c.is_ascii_whitespace() || c == '>')
                        .map_or(s.len(), |e| i + e);
                    (i, e, e)
                }
            };
            attrs.push((key, unescape(&s[start..end]), (start, end)));
            i = next;
        }
        out.push(Tag {
            name,
            attrs,
            end: i,
        });
    }
    out
}

/// `name` in lower case, borrowed when it is already.
fn lower(name: &str) -> Cow<'_, str> {
    if name.bytes().any(|c| c.is_ascii_uppercase()) {
        Cow::Owned(name.to_ascii_lowercase())
    } else {
        Cow::Borrowed(name)
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
    const F: &str = "HTML page";
    let s = page_text(bytes)?;
    let tags = tags(s);
    let start = tags
        .iter()
        .position(|t| t.name == "form")
        .ok_or_else(|| DecodeError::new(F, "no <form>"))?;
    let form = &tags[start];
    let close = s[form.end..]
        .find("</form")
        .map_or(s.len(), |k| form.end + k);
    let fields = tags[start + 1..]
        .iter()
        .take_while(|t| t.end <= close)
        .filter(|t| t.name == "input")
        .filter_map(|t| {
            Some((
                t.attr("name")?.to_string(),
                t.attr("value").unwrap_or("").to_string(),
            ))
        })
        .collect();
    Ok(HtmlForm {
        id: form.attr("id").unwrap_or("").to_string(),
        action: form.attr("action").unwrap_or("").to_string(),
        method: form.attr("method").unwrap_or("get").to_ascii_lowercase(),
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
    if s.contains("<main id=\"error\">") {
        return Ok(Page::Error {
            code: text_of(s, "code")
                .ok_or_else(|| DecodeError::new(F, "an error page without its code"))?,
            message: text_of(s, "message").unwrap_or_default(),
        });
    }
    let f = parse_form(bytes)?;
    if f.method != "post" {
        return Err(DecodeError::new(F, "the form does not post"));
    }
    let action = Url::parse(&f.action).map_err(|e| DecodeError::new(F, format!("action: {e}")))?;
    let get = |n: &str| {
        f.fields
            .iter()
            .find(|(k, _)| k == n)
            .map(|(_, v)| v.clone())
    };
    match f.id.as_str() {
        "signin" => Ok(Page::SignIn {
            action,
            username: get("UserName").filter(|u| !u.is_empty()),
        }),
        "mfa" => {
            let method = match get("Method").as_deref() {
                Some("PhoneAppNotification") => MfaPrompt::PhoneAppNotification,
                Some("RegisterSecurityInfo") => MfaPrompt::RegisterSecurityInfo,
                _ => return Err(DecodeError::new(F, "an MFA page without a known Method")),
            };
            Ok(Page::Mfa { action, method })
        }
        "autopost" => Ok(Page::AutoPost {
            action,
            fields: Form(f.fields),
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
    for t in tags(s).iter().filter(|t| t.name == "input") {
        let secret = t.attr("name").is_some_and(is_secret_name)
            || t.attr("type")
                .is_some_and(|v| v.eq_ignore_ascii_case("password"));
        if secret {
            spans.extend(
                t.attrs
                    .iter()
                    .filter(|(k, _, _)| k == "value")
                    .map(|(_, _, sp)| *sp),
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
