//! The Exchange Control Panel's options page (`/ecp/`): the HTML a browser renders after
//! the sign-in, with the mailbox's own settings ("My account": the display name and
//! address, automatic replies, forwarding, the mobile devices...), as `text/html`.
//!
//! **Modelled** (ECP's markup is not documented): an HTML5 page whose `<main
//! id="ecp-options" data-mailbox="ADDRESS">` holds a heading and one `<dl>` of the
//! options, `<dt>` the name and `<dd>` the value, text escaped as HTML. A page that
//! reads as one and shows at least one option is the mailbox data ECP serves
//! ([`super::carries_mailbox`]); a sign-in or error page is not.

use super::html::{escape, unescape};
use super::{ContentType, DecodeError, Encoded};

const F: &str = "ECP options page";
const MAIN: &str = "<main id=\"ecp-options\" data-mailbox=\"";

/// The options page of one mailbox.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OptionsPage {
    /// The mailbox's address.
    pub mailbox: String,
    /// The options shown, name and value, in order.
    pub options: Vec<(String, String)>,
}

impl OptionsPage {
    /// The page of `upn`'s mailbox as a new mailbox shows it: derived from the address
    /// alone.
    pub fn of(upn: &str) -> OptionsPage {
        let upn = upn.to_ascii_lowercase();
        let local = upn.split('@').next().unwrap_or(&upn).to_string();
        let o = |n: &str, v: &str| (n.to_string(), v.to_string());
        OptionsPage {
            options: vec![
                o("Display name", &local),
                o("Email address", &upn),
                o("Automatic replies", "Off"),
                o("Forwarding", "Off"),
                o("Inbox rules", "0"),
                o("Mobile devices", "0"),
                o("Retention policy", "Default MRM Policy"),
            ],
            mailbox: upn,
        }
    }

    /// The HTML page (`text/html; charset=utf-8`).
    pub fn encode(&self) -> Encoded {
        let mut s = format!(
            "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Options</title></head><body>{MAIN}{}\"><h1>My account</h1><dl>",
            escape(&self.mailbox)
        );
        for (name, value) in &self.options {
            s.push_str(&format!(
                "<dt>{}</dt><dd>{}</dd>",
                escape(name),
                escape(value)
            ));
        }
        s.push_str("</dl></main></body></html>");
        Encoded::new(ContentType::Html, s.into_bytes())
    }

    /// Reads the page: UTF-8, the `ecp-options` main element with its mailbox, then
    /// `<dt>`/`<dd>` pairs up to `</dl></main>`. Any other page is refused.
    pub fn decode(bytes: &[u8]) -> Result<OptionsPage, DecodeError> {
        let bad = |d: &str| DecodeError::new(F, d);
        let s = std::str::from_utf8(bytes).map_err(|_| bad("not UTF-8"))?;
        let at = s
            .find(MAIN)
            .ok_or_else(|| bad("no ecp-options main element"))?
            + MAIN.len();
        let end = s[at..]
            .find('"')
            .ok_or_else(|| bad("an unterminated data-mailbox"))?
            + at;
        let mailbox = unescape(&s[at..end]).into_owned();
        let mut rest = &s[end..];
        rest = rest
            .strip_prefix("\">")
            .and_then(|r| r.find("<dl>").map(|k| &r[k + 4..]))
            .ok_or_else(|| bad("no list of options"))?;
        let mut options = Vec::new();
        loop {
            if rest.starts_with("</dl></main>") {
                break;
            }
            let name;
            (name, rest) = element(rest, "dt").ok_or_else(|| bad("an option without its name"))?;
            let value;
            (value, rest) =
                element(rest, "dd").ok_or_else(|| bad("an option without its value"))?;
            options.push((name, value));
        }
        Ok(OptionsPage { mailbox, options })
    }
}

/// The text of `<tag>TEXT</tag>` at the start of `s` and what follows it.
fn element<'a>(s: &'a str, tag: &str) -> Option<(String, &'a str)> {
    let s = s.strip_prefix(&format!("<{tag}>"))?;
    let close = format!("</{tag}>");
    let k = s.find(&close)?;
    let text = &s[..k];
    (!text.contains('<')).then(|| (unescape(text).into_owned(), &s[k + close.len()..]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::carries_mailbox;

    #[test]
    fn the_options_page_round_trips_and_is_mailbox_data() {
        let p = OptionsPage::of("Test@Contoso.com");
        let e = p.encode();
        let text = String::from_utf8(e.bytes.to_vec()).unwrap();
        assert!(text.starts_with("<!DOCTYPE html>"));
        assert!(text.contains("<dt>Email address</dt><dd>test@contoso.com</dd>"));
        assert_eq!(OptionsPage::decode(&e.bytes).unwrap(), p);
        assert!(carries_mailbox(e.content_type, &e.bytes));
        let odd = OptionsPage {
            mailbox: "a&\"b@c".into(),
            options: vec![("<x>".into(), "& y".into())],
        };
        assert_eq!(OptionsPage::decode(&odd.encode().bytes).unwrap(), odd);
    }

    #[test]
    fn other_pages_and_malformed_ones_are_refused() {
        let good = OptionsPage::of("u@contoso.com").encode().bytes;
        for n in [0, 20, good.len() / 2, good.len() - 27] {
            assert!(OptionsPage::decode(&good[..n]).is_err(), "{n}");
        }
        let text = String::from_utf8(good.to_vec()).unwrap();
        for bad in [
            text.replace("<dd>Off</dd>", "<dd>Off"),
            text.replace("<dt>Forwarding</dt>", ""),
            text.replace("ecp-options", "options"),
            text.replace("<dd>0</dd>", "<dd><b>0</b></dd>"),
        ] {
            assert!(OptionsPage::decode(bad.as_bytes()).is_err(), "{bad}");
            assert!(!carries_mailbox(ContentType::Html, bad.as_bytes()));
        }
        assert!(OptionsPage::decode(&[0xff, 0xfe]).is_err());
    }
}
