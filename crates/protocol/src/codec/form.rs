//! `application/x-www-form-urlencoded` (RFC 6749 Appendix B, the HTML form encoding):
//! names and values in UTF-8, every byte outside `*-._`, digits and ASCII letters
//! percent-encoded (upper-case hex), a space written `+`.

use crate::display::{is_secret_name, MASK};

/// The longest form body read, in bytes (Entra answers larger bodies with an error too).
pub const MAX_FORM_BYTES: usize = 64 * 1024;
/// The most fields a form may carry.
pub const MAX_FIELDS: usize = 256;

/// The encoded body of these fields, in order.
pub fn encode<K: AsRef<str>, V: AsRef<str>>(fields: &[(K, V)]) -> Vec<u8> {
    let len: usize = fields
        .iter()
        .map(|(k, v)| k.as_ref().len() + v.as_ref().len() + 2)
        .sum();
    let mut out = Vec::with_capacity(len + len / 8);
    for (i, (k, v)) in fields.iter().enumerate() {
        if i > 0 {
            out.push(b'&');
        }
        encode_into(&mut out, k.as_ref());
        out.push(b'=');
        encode_into(&mut out, v.as_ref());
    }
    out
}

/// Which bytes a form writes as they are: `*-._`, digits and ASCII letters.
const UNRESERVED: [bool; 256] = {
    let mut t = [false; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        t[b] = matches!(c, b'*' | b'-' | b'.' | b'_' | b'0'..=b'9' | b'A'..=b'Z' | b'a'..=b'z');
        b += 1;
    }
    t
};

fn encode_into(out: &mut Vec<u8>, s: &str) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut rest = s.as_bytes();
    while !rest.is_empty() {
        // Runs of bytes written as they are go in one copy (a JWT is one run); a table
        // look-up per byte keeps the scan free of hard-to-predict branches.
        let run = rest
            .iter()
            .position(|&b| !UNRESERVED[b as usize])
            .unwrap_or(rest.len());
        out.extend_from_slice(&rest[..run]);
        let Some(&b) = rest.get(run) else { break };
        if b == b' ' {
            out.push(b'+');
        } else {
            out.extend_from_slice(&[b'%', HEX[(b >> 4) as usize], HEX[(b & 15) as usize]]);
        }
        rest = &rest[run + 1..];
    }
}

/// Why bytes are not a form.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FormError {
    /// A `%` not followed by two hex digits, at this byte offset.
    BadPercent(usize),
    /// A name or value that is not UTF-8 once decoded.
    NotUtf8,
    /// More than [`MAX_FORM_BYTES`] bytes or [`MAX_FIELDS`] fields.
    TooLarge,
}

impl std::fmt::Display for FormError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FormError::BadPercent(at) => {
                write!(f, "a '%' not followed by two hex digits at byte {at}")
            }
            FormError::NotUtf8 => f.write_str("a name or value is not UTF-8"),
            FormError::TooLarge => f.write_str("the form is too large"),
        }
    }
}

impl std::error::Error for FormError {}

/// The fields of an encoded body, in order (empty pieces between `&`s skipped, a piece
/// without `=` a name with an empty value).
pub fn decode(bytes: &[u8]) -> Result<Vec<(String, String)>, FormError> {
    if bytes.len() > MAX_FORM_BYTES {
        return Err(FormError::TooLarge);
    }
    let mut fields = Vec::new();
    // One UTF-8 check of the whole body: a name or value cut from it at ASCII `&` and
    // `=` and not escaped is then a slice of it, without a check of its own.
    let text = std::str::from_utf8(bytes).ok();
    let cut = |from: usize, to: usize| text.and_then(|t| t.get(from..to));
    let mut at = 0;
    while at <= bytes.len() {
        let end = memchr::memchr(b'&', &bytes[at..]).map_or(bytes.len(), |k| at + k);
        let piece = &bytes[at..end];
        if !piece.is_empty() {
            if fields.len() == MAX_FIELDS {
                return Err(FormError::TooLarge);
            }
            let eq = memchr::memchr(b'=', piece).unwrap_or(piece.len());
            let k = unescape(&piece[..eq], at, cut(at, at + eq))?;
            let v_at = (at + eq + 1).min(end);
            let v = unescape(&bytes[v_at..end], at + eq + 1, cut(v_at, end))?;
            fields.push((k, v));
        }
        at = end + 1;
    }
    Ok(fields)
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// `raw` decoded; `text` is `raw` as text when the caller knows it is UTF-8.
fn unescape(raw: &[u8], offset: usize, text: Option<&str>) -> Result<String, FormError> {
    // Most names and values need no decoding (a JWT, a GUID): copied in one go.
    let Some(first) = memchr::memchr2(b'+', b'%', raw) else {
        if let Some(t) = text {
            return Ok(t.to_string());
        }
        return std::str::from_utf8(raw)
            .map(str::to_string)
            .map_err(|_| FormError::NotUtf8);
    };
    let mut out = Vec::with_capacity(raw.len());
    out.extend_from_slice(&raw[..first]);
    let mut i = first;
    // At an escape: decode it, then copy the run up to the next one whole.
    while i < raw.len() {
        if raw[i] == b'+' {
            out.push(b' ');
            i += 1;
        } else {
            let h = raw.get(i + 1).copied().and_then(hex);
            let l = raw.get(i + 2).copied().and_then(hex);
            match (h, l) {
                (Some(h), Some(l)) => out.push(h << 4 | l),
                _ => return Err(FormError::BadPercent(offset + i)),
            }
            i += 3;
        }
        let run = memchr::memchr2(b'+', b'%', &raw[i..]).unwrap_or(raw.len() - i);
        out.extend_from_slice(&raw[i..i + run]);
        i += run;
    }
    String::from_utf8(out).map_err(|_| FormError::NotUtf8)
}

/// The first value of `name`.
pub fn get<'a>(fields: &'a [(String, String)], name: &str) -> Option<&'a str> {
    fields
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// The body with the value of every field named as a secret replaced by [`MASK`], the
/// rest byte for byte. Works on malformed bodies too: a name that does not decode is
/// read leniently (its bytes as they are), so a secret is masked whatever else is wrong.
pub fn mask(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len());
    for (i, piece) in bytes.split(|&b| b == b'&').enumerate() {
        if i > 0 {
            out.push(b'&');
        }
        let eq = piece.iter().position(|&b| b == b'=');
        let name_raw = &piece[..eq.unwrap_or(piece.len())];
        let name = unescape(name_raw, 0, None)
            .unwrap_or_else(|_| String::from_utf8_lossy(name_raw).into_owned());
        match eq {
            Some(eq) if is_secret_name(&name) => {
                out.extend_from_slice(&piece[..=eq]);
                out.extend_from_slice(MASK.as_bytes());
            }
            _ => out.extend_from_slice(piece),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc_6749_appendix_b_example() {
        // The appendix's example value " %&+£€".
        assert_eq!(encode(&[("v", " %&+£€")]), b"v=+%25%26%2B%C2%A3%E2%82%AC");
        assert_eq!(
            decode(b"v=+%25%26%2B%C2%A3%E2%82%AC").unwrap()[0].1,
            " %&+£€"
        );
    }

    #[test]
    fn malformed_bytes_are_refused() {
        assert_eq!(decode(b"a=%zz"), Err(FormError::BadPercent(2)));
        assert_eq!(decode(b"a=%4"), Err(FormError::BadPercent(2)));
        assert_eq!(decode(b"a=%ff"), Err(FormError::NotUtf8));
        assert_eq!(
            decode(&vec![b'a'; MAX_FORM_BYTES + 1]),
            Err(FormError::TooLarge)
        );
        assert_eq!(
            decode(b"&a&&b=1").unwrap(),
            vec![("a".into(), "".into()), ("b".into(), "1".into())]
        );
    }

    #[test]
    fn secrets_are_masked_even_in_a_malformed_body() {
        let b = b"username=u&password=p%40ss&Pass%77ord=x&client_secret=%zz";
        assert_eq!(
            mask(b),
            b"username=u&password=********&Pass%77ord=********&client_secret=********"
        );
    }
}
