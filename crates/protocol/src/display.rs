//! What output may show of a message: secrets masked, control characters escaped.
//!
//! The messages the parties exchange keep the real credentials (a party checks a password
//! by comparing it, a live emulator sends it on): masking happens where a message is
//! rendered, here, for every view (JSON, text, Mermaid) alike.
//!
//! ```
//! use hmasim_protocol::display::{escape_control, header_value};
//! use hmasim_protocol::headers;
//! // base64("test@contoso.com:P@ssw0rd!")
//! let basic = "Basic dGVzdEBjb250b3NvLmNvbTpQQHNzdzByZCE=";
//! assert_eq!(
//!     header_value(&headers::AUTHORIZATION, basic),
//!     "Basic <masked credentials of test@contoso.com>"
//! );
//! assert_eq!(escape_control("a\u{1b}[2Jb"), "a\\u{1b}[2Jb");
//! ```

use std::borrow::Cow;

use crate::headers::{self, HeaderName};

use crate::challenge::Credentials;

/// What a masked secret is shown as.
pub const MASK: &str = "********";

/// Whether a field, form or JSON key by this name holds a secret (a password or a client
/// secret): `password`, `Password`, `new_password`, `passwd`, `pwd`, `client_secret`,
/// `secret`..., whatever the case and separators.
pub fn is_secret_name(name: &str) -> bool {
    let n: String = name
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_lowercase())
        .collect();
    n == "pwd" || n == "passwd" || n.ends_with("password") || n.ends_with("secret")
}

/// A header value as output shows it: the credentials of `Authorization: Basic` (and
/// `Proxy-Authorization`) are replaced by `<masked credentials of USER>`, the user read
/// from the base64; every other value is shown as sent.
pub fn header_value<'a>(name: &HeaderName, value: &'a str) -> Cow<'a, str> {
    if !(*name == headers::AUTHORIZATION || name == http::header::PROXY_AUTHORIZATION) {
        return Cow::Borrowed(value);
    }
    let scheme = value.split_whitespace().next().unwrap_or("");
    if !scheme.eq_ignore_ascii_case("basic") {
        return Cow::Borrowed(value);
    }
    Cow::Owned(match Credentials::parse(value) {
        Some(Credentials::Basic { user, .. }) => format!("Basic <masked credentials of {user}>"),
        _ => "Basic <masked credentials>".to_string(),
    })
}

/// Whether `c` must not reach a terminal raw: C0 and C1 controls, DEL, and the Unicode
/// format characters that reorder or hide text (bidirectional overrides and isolates,
/// zero-width characters, the byte-order mark) or break a line (U+2028, U+2029).
pub fn is_unsafe_char(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{200b}'..='\u{200f}'
                | '\u{2028}'..='\u{202e}'
                | '\u{2066}'..='\u{2069}'
                | '\u{feff}'
        )
}

/// `s` with every unsafe character (see [`is_unsafe_char`]) shown escaped as `\u{1b}`, for
/// a value that must stay on one line (a name, a summary, a header). The line and paragraph
/// separators (U+2028, U+2029) count as unsafe: JavaScript's `.` does not match them, so a
/// Mermaid or JSON reader could see a line break where none was written.
pub fn escape_control(s: &str) -> Cow<'_, str> {
    escape(s, false)
}

/// As [`escape_control`], but line feeds are kept: for a whole multi-line output whose own
/// line breaks are meant.
pub fn escape_control_lines(s: &str) -> Cow<'_, str> {
    escape(s, true)
}

fn escape(s: &str, keep_newlines: bool) -> Cow<'_, str> {
    let unsafe_char = |c: char| is_unsafe_char(c) && !(keep_newlines && c == '\n');
    if !s.chars().any(unsafe_char) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if unsafe_char(c) {
            out.push_str(&format!("\\u{{{:x}}}", c as u32));
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_credentials_are_masked_with_the_user_named() {
        let c = Credentials::Basic {
            user: "test@contoso.com".into(),
            password: "P@ssw0rd!".into(),
        }
        .to_string();
        let shown = header_value(&HeaderName::from_static("authorization"), &c);
        assert_eq!(shown, "Basic <masked credentials of test@contoso.com>");
        assert_eq!(
            header_value(&headers::AUTHORIZATION, "Basic !!notbase64"),
            "Basic <masked credentials>"
        );
        assert_eq!(
            header_value(&headers::AUTHORIZATION, "Bearer abc"),
            "Bearer abc"
        );
        assert_eq!(header_value(&HeaderName::from_static("x-other"), &c), c);
    }

    #[test]
    fn secret_names() {
        for n in [
            "password",
            "Password",
            "new_password",
            "passwd",
            "client_secret",
            "pwd",
        ] {
            assert!(is_secret_name(n), "{n}");
        }
        for n in ["UserName", "upn", "wresult", "code", "client_id"] {
            assert!(!is_secret_name(n), "{n}");
        }
    }

    #[test]
    fn control_characters_are_escaped() {
        assert_eq!(escape_control("ok"), "ok");
        assert_eq!(escape_control("a\u{7}b\rc\n"), "a\\u{7}b\\u{d}c\\u{a}");
        assert_eq!(escape_control_lines("a\u{1b}\nb"), "a\\u{1b}\nb");
        assert_eq!(escape_control("\u{9b}\u{202e}x"), "\\u{9b}\\u{202e}x");
        assert_eq!(escape_control("é café ü"), "é café ü");
    }
}
