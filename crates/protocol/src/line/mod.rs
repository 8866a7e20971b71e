//! IMAP, POP and SMTP as their own line protocols (issue 12 item 4): typed commands and
//! replies, parsers that refuse a malformed line with the reply the server sends
//! (IMAP `BAD`, POP `-ERR`, SMTP `500`), line-length limits, the SASL mechanisms the
//! clients use (`PLAIN`, `LOGIN`, `XOAUTH2`) and masking for the trace: the password of
//! `LOGIN`, `PASS`, `AUTH LOGIN` and `PLAIN` payloads is never shown.
//!
//! A parser reads one line without its CRLF ([`split_line`] finds it in a buffer). A
//! command parser returns `Err(reply)` when the line is refused: the reply is what the
//! server answers, so a server answers it as is.
//!
//! ```
//! use hmasim_protocol::line::{imap, sasl::Xoauth2};
//! let ir = Xoauth2 { user: "test@contoso.com".into(), token: "eyJ0".into() }.encode();
//! let c = imap::Command::parse(&format!("A1 AUTHENTICATE XOAUTH2 {ir}")).unwrap();
//! assert_eq!(c.tag, "A1");
//! let no = imap::Reply::authenticate_failed("A1");
//! assert_eq!(no.to_string(), "A1 NO AUTHENTICATE failed.");
//! ```

pub mod imap;
pub mod pop;
pub mod sasl;
pub mod session;
pub mod smtp;

/// Why a buffer holds no line yet, or a line that cannot be read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LineError {
    /// No CRLF yet: read more.
    Incomplete,
    /// The line exceeds the protocol's limit.
    TooLong,
    /// A bare CR or LF, a NUL, or bytes that are not UTF-8.
    Malformed,
}

/// The first line of `buf` (without its CRLF, as text) and the bytes after it, for a
/// protocol whose lines may hold `max` bytes.
pub fn split_line(buf: &[u8], max: usize) -> Result<(&str, &[u8]), LineError> {
    let Some(k) = buf.iter().position(|&b| b == b'\n' || b == b'\r' || b == 0) else {
        return Err(if buf.len() > max {
            LineError::TooLong
        } else {
            LineError::Incomplete
        });
    };
    if k > max {
        return Err(LineError::TooLong);
    }
    match (buf[k], buf.get(k + 1)) {
        (b'\r', Some(b'\n')) => {}
        (b'\r', None) => return Err(LineError::Incomplete),
        _ => return Err(LineError::Malformed),
    }
    let line = std::str::from_utf8(&buf[..k]).map_err(|_| LineError::Malformed)?;
    Ok((line, &buf[k + 2..]))
}

/// Whether a line holds a control character (other than tab) a parser must refuse.
pub(crate) fn has_control(line: &str) -> bool {
    line.chars().any(|c| c.is_control() && c != '\t')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_crlf_terminated_and_bounded() {
        assert_eq!(
            split_line(b"A1 NOOP\r\nrest", 100),
            Ok(("A1 NOOP", &b"rest"[..]))
        );
        assert_eq!(split_line(b"A1 NOOP", 100), Err(LineError::Incomplete));
        assert_eq!(split_line(b"A1 NOOP\r", 100), Err(LineError::Incomplete));
        assert_eq!(split_line(b"A1 NOOP\n", 100), Err(LineError::Malformed));
        assert_eq!(split_line(b"A1\0\r\n", 100), Err(LineError::Malformed));
        assert_eq!(split_line(b"\xff\r\n", 100), Err(LineError::Malformed));
        assert_eq!(split_line(&[b'a'; 11], 10), Err(LineError::TooLong));
        assert_eq!(split_line(b"0123456789a\r\n", 10), Err(LineError::TooLong));
    }
}
