//! A small, strict XML reader for the XML bodies of the flows (AutoDiscover POX, EWS
//! SOAP): elements, attributes, text, CDATA, comments and the five predefined entities
//! plus character references. A document type declaration is refused (no entity can be
//! defined, so none is expanded), as is anything not well-formed. Names keep their
//! prefix; [`Element::local`] is the name without it, which is what the readers match.

use std::fmt;

use crate::display::{is_secret_name, MASK};

/// How deep elements may nest before a document is refused.
pub const MAX_DEPTH: usize = 64;

/// An element.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Element {
    /// The qualified name (`t:Message`).
    pub name: String,
    /// The attributes in document order, values unescaped.
    pub attrs: Vec<(String, String)>,
    /// The content.
    pub children: Vec<Node>,
}

/// A piece of content.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Node {
    /// A child element.
    Element(Element),
    /// Text (entities and CDATA resolved).
    Text(String),
}

impl Element {
    /// The name without its prefix.
    pub fn local(&self) -> &str {
        local(&self.name)
    }
    /// The value of the attribute of this local name.
    pub fn attr(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(k, _)| local(k) == name && !k.starts_with("xmlns"))
            .map(|(_, v)| v.as_str())
    }
    /// The child elements.
    pub fn elements(&self) -> impl Iterator<Item = &Element> {
        self.children.iter().filter_map(|n| match n {
            Node::Element(e) => Some(e),
            Node::Text(_) => None,
        })
    }
    /// The first child element of this local name.
    pub fn child(&self, name: &str) -> Option<&Element> {
        self.elements().find(|e| e.local() == name)
    }
    /// The text content (the text children joined, trimmed).
    pub fn text(&self) -> String {
        let mut s = String::new();
        for n in &self.children {
            if let Node::Text(t) = n {
                s.push_str(t);
            }
        }
        s.trim().to_string()
    }
    /// The text of the child of this local name.
    pub fn child_text(&self, name: &str) -> Option<String> {
        self.child(name).map(Element::text)
    }
}

fn local(name: &str) -> &str {
    name.rsplit(':').next().unwrap_or(name)
}

/// Why bytes are not a well-formed document.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct XmlError {
    /// The byte offset of the fault.
    pub offset: usize,
    /// What is wrong.
    pub detail: &'static str,
}

impl fmt::Display for XmlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} at byte {}", self.detail, self.offset)
    }
}

impl std::error::Error for XmlError {}

/// Parses a whole document into its root element.
pub fn parse(bytes: &[u8]) -> Result<Element, XmlError> {
    Ok(parse_spans(bytes)?.0)
}

/// Parses, also returning the byte ranges of the content of every element named as a
/// secret (for [`mask`]).
fn parse_spans(bytes: &[u8]) -> Result<(Element, Vec<(usize, usize)>), XmlError> {
    let text = std::str::from_utf8(bytes).map_err(|e| XmlError {
        offset: e.valid_up_to(),
        detail: "not UTF-8",
    })?;
    let mut p = Parser {
        s: text,
        i: 0,
        secrets: Vec::new(),
    };
    if p.rest().starts_with('\u{feff}') {
        p.i += '\u{feff}'.len_utf8();
    }
    p.misc()?;
    if !p.rest().starts_with('<') {
        return Err(p.err("expected the root element"));
    }
    let root = p.element(0)?;
    p.misc()?;
    if p.i != p.s.len() {
        return Err(p.err("content after the root element"));
    }
    Ok((root, p.secrets))
}

struct Parser<'a> {
    s: &'a str,
    i: usize,
    secrets: Vec<(usize, usize)>,
}

impl<'a> Parser<'a> {
    fn rest(&self) -> &'a str {
        &self.s[self.i..]
    }
    fn err(&self, detail: &'static str) -> XmlError {
        XmlError {
            offset: self.i,
            detail,
        }
    }
    fn ws(&mut self) {
        let r = self.rest();
        self.i += r.len() - r.trim_start_matches([' ', '\t', '\r', '\n']).len();
    }
    fn skip_past(&mut self, end: &str, detail: &'static str) -> Result<usize, XmlError> {
        match self.rest().find(end) {
            Some(k) => {
                let at = self.i + k;
                self.i = at + end.len();
                Ok(at)
            }
            None => Err(self.err(detail)),
        }
    }
    /// Whitespace, comments and processing instructions outside the root.
    fn misc(&mut self) -> Result<(), XmlError> {
        loop {
            self.ws();
            let r = self.rest();
            if r.starts_with("<?") {
                self.skip_past("?>", "unterminated processing instruction")?;
            } else if r.starts_with("<!--") {
                self.skip_past("-->", "unterminated comment")?;
            } else if r.starts_with("<!") {
                return Err(self.err("a document type declaration is not accepted"));
            } else {
                return Ok(());
            }
        }
    }
    fn name(&mut self) -> Result<String, XmlError> {
        let r = self.rest();
        let n = r
            .find(|c: char| c.is_whitespace() || matches!(c, '/' | '>' | '=' | '<' | '"' | '\''))
            .unwrap_or(r.len());
        if n == 0 {
            return Err(self.err("expected a name"));
        }
        let first = r.chars().next().unwrap_or(' ');
        if first.is_ascii_digit() || matches!(first, '-' | '.' | '&' | ';') {
            return Err(self.err("a name cannot start so"));
        }
        self.i += n;
        Ok(r[..n].to_string())
    }
    fn element(&mut self, depth: usize) -> Result<Element, XmlError> {
        if depth >= MAX_DEPTH {
            return Err(self.err("elements nested too deep"));
        }
        self.i += 1; // '<'
        let name = self.name()?;
        let mut attrs: Vec<(String, String)> = Vec::new();
        loop {
            let before = self.i;
            self.ws();
            let r = self.rest();
            if let Some(r) = r.strip_prefix("/>") {
                let _ = r;
                self.i += 2;
                return Ok(Element {
                    name,
                    attrs,
                    children: Vec::new(),
                });
            }
            if r.starts_with('>') {
                self.i += 1;
                break;
            }
            if self.i == before {
                return Err(self.err("expected white space before an attribute"));
            }
            let k = self.name()?;
            self.ws();
            if !self.rest().starts_with('=') {
                return Err(self.err("expected '=' after an attribute name"));
            }
            self.i += 1;
            self.ws();
            let q = self.rest().chars().next();
            let q = match q {
                Some(q @ ('"' | '\'')) => q,
                _ => return Err(self.err("expected a quoted attribute value")),
            };
            self.i += 1;
            let start = self.i;
            let end = self.s[start..]
                .find(q)
                .map(|k| start + k)
                .ok_or_else(|| self.err("unterminated attribute value"))?;
            let raw = &self.s[start..end];
            if raw.contains('<') {
                return Err(self.err("'<' in an attribute value"));
            }
            let v = unescape(raw).ok_or(XmlError {
                offset: start,
                detail: "bad entity reference",
            })?;
            if attrs.iter().any(|(a, _)| *a == k) {
                return Err(self.err("an attribute given twice"));
            }
            attrs.push((k, v));
            self.i = end + 1;
        }
        let content_start = self.i;
        let mut children = Vec::new();
        loop {
            let r = self.rest();
            if r.is_empty() {
                return Err(self.err("unterminated element"));
            }
            if r.starts_with("</") {
                let content_end = self.i;
                self.i += 2;
                let end = self.name()?;
                if end != name {
                    return Err(self.err("end tag does not match its start tag"));
                }
                self.ws();
                if !self.rest().starts_with('>') {
                    return Err(self.err("expected '>' closing an end tag"));
                }
                self.i += 1;
                if is_secret_name(local(&name)) {
                    self.secrets.push((content_start, content_end));
                }
                return Ok(Element {
                    name,
                    attrs,
                    children,
                });
            }
            if r.starts_with("<!--") {
                self.skip_past("-->", "unterminated comment")?;
            } else if let Some(c) = r.strip_prefix("<![CDATA[") {
                let end = c
                    .find("]]>")
                    .ok_or_else(|| self.err("unterminated CDATA"))?;
                children.push(Node::Text(c[..end].to_string()));
                self.i += "<![CDATA[".len() + end + 3;
            } else if r.starts_with("<?") {
                self.skip_past("?>", "unterminated processing instruction")?;
            } else if r.starts_with("<!") {
                return Err(self.err("a declaration inside an element"));
            } else if r.starts_with('<') {
                children.push(Node::Element(self.element(depth + 1)?));
            } else {
                let n = r.find('<').unwrap_or(r.len());
                let raw = &r[..n];
                if raw.contains("]]>") {
                    return Err(self.err("']]>' in text"));
                }
                let t = unescape(raw).ok_or_else(|| self.err("bad entity reference"))?;
                children.push(Node::Text(t));
                self.i += n;
            }
        }
    }
}

/// `raw` with entity and character references resolved, `None` when one is malformed.
fn unescape(raw: &str) -> Option<String> {
    if !raw.contains('&') {
        return Some(raw.to_string());
    }
    let mut out = String::with_capacity(raw.len());
    let mut rest = raw;
    while let Some(k) = rest.find('&') {
        out.push_str(&rest[..k]);
        rest = &rest[k + 1..];
        let end = rest.find(';')?;
        let ent = &rest[..end];
        let c = match ent {
            "lt" => '<',
            "gt" => '>',
            "amp" => '&',
            "quot" => '"',
            "apos" => '\'',
            _ => {
                let n = if let Some(h) = ent.strip_prefix("#x") {
                    u32::from_str_radix(h, 16).ok()?
                } else if let Some(d) = ent.strip_prefix('#') {
                    d.parse().ok()?
                } else {
                    return None;
                };
                let c = char::from_u32(n)?;
                if c == '\0' {
                    return None;
                }
                c
            }
        };
        out.push(c);
        rest = &rest[end + 1..];
    }
    out.push_str(rest);
    Some(out)
}

/// `s` escaped for text or a double-quoted attribute value.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

/// The document with the content of every element named as a secret replaced by
/// [`MASK`], byte for byte otherwise; `None` when it is not well-formed.
pub fn mask(bytes: &[u8]) -> Option<Vec<u8>> {
    let (_, mut spans) = parse_spans(bytes).ok()?;
    spans.sort_unstable();
    let mut out = Vec::with_capacity(bytes.len());
    let mut at = 0;
    for (s, e) in spans {
        if s < at {
            continue; // inside a secret already masked
        }
        out.extend_from_slice(&bytes[at..s]);
        out.extend_from_slice(MASK.as_bytes());
        at = e;
    }
    out.extend_from_slice(&bytes[at..]);
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_elements_attributes_and_entities() {
        let d = br#"<?xml version="1.0"?><!-- c --><a:R xmlns:a="u" k='v &amp; w'><b>x &lt; y<![CDATA[<z>]]></b><c/></a:R>"#;
        let e = parse(d).unwrap();
        assert_eq!(e.local(), "R");
        assert_eq!(e.attr("k"), Some("v & w"));
        assert_eq!(e.child_text("b").unwrap(), "x < y<z>");
        assert!(e.child("c").is_some());
    }

    #[test]
    fn refuses_what_is_not_well_formed() {
        for bad in [
            &b"<a><b></a></b>"[..],
            b"<a>",
            b"<a x=1/>",
            b"<a>&bogus;</a>",
            b"<!DOCTYPE a [<!ENTITY e 'x'>]><a>&e;</a>",
            b"<a/><b/>",
            b"text",
            b"<a x='1' x='2'/>",
            b"\xff<a/>",
        ] {
            assert!(parse(bad).is_err(), "{}", String::from_utf8_lossy(bad));
        }
        let deep = "<a>".repeat(MAX_DEPTH + 1);
        assert!(parse(deep.as_bytes()).is_err());
    }

    #[test]
    fn masks_secret_elements_only() {
        let d = b"<r><Password>p&amp;ss</Password><User>u</User></r>";
        assert_eq!(
            mask(d).unwrap(),
            b"<r><Password>********</Password><User>u</User></r>"
        );
        assert_eq!(mask(b"<r>"), None);
    }
}
