//! POP3 (RFC 1939, `AUTH` of RFC 5034) as Exchange's POP3 service speaks it: `CAPA`,
//! `USER`/`PASS`, `AUTH XOAUTH2` and `AUTH PLAIN` (an initial response, or a `+`
//! continuation), `STAT`, `RETR` (a dot-stuffed multi-line answer) and `QUIT`.

use std::fmt;

use super::has_control;
use super::sasl::{mask_payload, Mechanism};
use crate::display::MASK;

/// The longest command line (RFC 2449's 255 octets; an `AUTH` line or SASL response may
/// be longer, RFC 5034, up to [`MAX_AUTH_LINE`]).
pub const MAX_LINE: usize = 255;
/// The longest `AUTH` line or SASL response.
pub const MAX_AUTH_LINE: usize = 12288;

/// A POP3 command.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Command {
    /// `CAPA`.
    Capa,
    /// `USER name`.
    User(String),
    /// `PASS password` (the rest of the line: a password may hold spaces).
    Pass(String),
    /// `AUTH mechanism [initial-response]`.
    Auth {
        /// The mechanism.
        mechanism: Mechanism,
        /// The base64 initial response.
        initial: Option<String>,
    },
    /// `STAT`.
    Stat,
    /// `RETR n`.
    Retr(u32),
    /// `QUIT`.
    Quit,
}

/// Exchange's text for a command it cannot read.
pub const PROTOCOL_ERROR: &str = "Protocol error. 14";

impl Command {
    /// Parses a command line (without CRLF); a malformed one is answered `-ERR`.
    pub fn parse(line: &str) -> Result<Command, Reply> {
        let bad = || Reply::Err(PROTOCOL_ERROR.into());
        let (verb, rest) = line.split_once(' ').unwrap_or((line, ""));
        let verb = verb.to_ascii_uppercase();
        let limit = if verb == "AUTH" {
            MAX_AUTH_LINE
        } else {
            MAX_LINE
        };
        if line.len() > limit || has_control(line) {
            return Err(bad());
        }
        let one = |s: &str| (!s.is_empty() && !s.contains(' ')).then(|| s.to_string());
        Ok(match verb.as_str() {
            "CAPA" if rest.is_empty() => Command::Capa,
            "STAT" if rest.is_empty() => Command::Stat,
            "QUIT" if rest.is_empty() => Command::Quit,
            "USER" => Command::User(one(rest).ok_or_else(bad)?),
            "PASS" if !rest.is_empty() => Command::Pass(rest.to_string()),
            "RETR" => Command::Retr(rest.parse().ok().filter(|&n| n > 0).ok_or_else(bad)?),
            "AUTH" => {
                let (m, ir) = rest
                    .split_once(' ')
                    .map_or((rest, None), |(m, i)| (m, Some(i)));
                Command::Auth {
                    mechanism: Mechanism::parse(m)
                        .filter(|m| *m != Mechanism::Login)
                        .ok_or_else(bad)?,
                    initial: match ir {
                        Some(i) => Some(one(i).ok_or_else(bad)?),
                        None => None,
                    },
                }
            }
            _ => return Err(bad()),
        })
    }

    /// The line as the trace shows it: `PASS` and a `PLAIN` initial response masked.
    pub fn masked(&self) -> String {
        match self {
            Command::Pass(_) => format!("PASS {MASK}"),
            Command::Auth {
                mechanism,
                initial: Some(i),
            } => format!(
                "AUTH {} {}",
                mechanism.as_str(),
                mask_payload(*mechanism, i)
            ),
            c => c.to_string(),
        }
    }
}

impl fmt::Display for Command {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Command::Capa => f.write_str("CAPA"),
            Command::User(u) => write!(f, "USER {u}"),
            Command::Pass(p) => write!(f, "PASS {p}"),
            Command::Auth { mechanism, initial } => {
                write!(f, "AUTH {}", mechanism.as_str())?;
                match initial {
                    Some(i) => write!(f, " {i}"),
                    None => Ok(()),
                }
            }
            Command::Stat => f.write_str("STAT"),
            Command::Retr(n) => write!(f, "RETR {n}"),
            Command::Quit => f.write_str("QUIT"),
        }
    }
}

/// A server reply.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reply {
    /// `+OK text`.
    Ok(String),
    /// `-ERR text`.
    Err(String),
    /// `+ text`: go on with the SASL exchange.
    Continue(String),
    /// `+OK text` then the lines of a message, dot-stuffed, ended by `.`.
    Message {
        /// The status text.
        text: String,
        /// The message (RFC 5322, CRLF line ends).
        message: String,
    },
}

/// Exchange's greeting.
pub const GREETING: &str = "The Microsoft Exchange POP3 service is ready.";
/// Exchange Online's answer to refused credentials.
pub const AUTH_FAILED: &str = "Authentication failure: unknown user name or bad password.";

impl Reply {
    /// The bytes on the wire.
    pub fn encode(&self) -> Vec<u8> {
        match self {
            Reply::Ok(t) => format!("+OK {t}\r\n").into_bytes(),
            Reply::Err(t) => format!("-ERR {t}\r\n").into_bytes(),
            Reply::Continue(t) => format!("+ {t}\r\n").into_bytes(),
            Reply::Message { text, message } => {
                let mut out = format!("+OK {text}\r\n");
                let body = message.strip_suffix("\r\n").unwrap_or(message);
                if !message.is_empty() {
                    for l in body.split("\r\n") {
                        if l.starts_with('.') {
                            out.push('.');
                        }
                        out.push_str(l);
                        out.push_str("\r\n");
                    }
                }
                out.push_str(".\r\n");
                out.into_bytes()
            }
        }
    }

    /// Reads one reply from the start of `buf`; `multiline` when the command was `RETR`
    /// (its `+OK` is followed by the message). `None` when not (yet) a whole reply.
    pub fn parse(buf: &[u8], multiline: bool) -> Option<(Reply, &[u8])> {
        let (line, mut rest) = super::split_line(buf, MAX_AUTH_LINE).ok()?;
        if let Some(t) = line.strip_prefix("-ERR") {
            return Some((Reply::Err(t.trim_start().into()), rest));
        }
        if let Some(t) = line.strip_prefix("+OK") {
            let text = t.trim_start().to_string();
            if !multiline {
                return Some((Reply::Ok(text), rest));
            }
            let mut message = String::new();
            loop {
                let (l, next) = super::split_line(rest, 998 + 1).ok()?;
                rest = next;
                if l == "." {
                    return Some((Reply::Message { text, message }, rest));
                }
                message.push_str(l.strip_prefix('.').unwrap_or(l));
                message.push_str("\r\n");
            }
        }
        line.strip_prefix('+')
            .map(|t| (Reply::Continue(t.trim_start().into()), rest))
    }

    /// Whether this reply carries mailbox content (a retrieved message).
    pub fn carries_mailbox(&self) -> bool {
        matches!(self, Reply::Message { message, .. } if !message.is_empty())
    }
}

/// Masks the client's lines of one session in order (see [`crate::line::imap::Masker`]).
#[derive(Clone, Debug, Default)]
pub struct Masker {
    pending: Option<Mechanism>,
}

impl Masker {
    /// The line as the trace shows it.
    pub fn mask(&mut self, line: &str) -> String {
        if let Some(m) = self.pending.take() {
            return mask_payload(m, line);
        }
        match Command::parse(line) {
            Ok(c) => {
                if let Command::Auth {
                    mechanism,
                    initial: None,
                } = c
                {
                    self.pending = Some(mechanism);
                }
                c.masked()
            }
            Err(_)
                if line
                    .get(..4)
                    .is_some_and(|v| v.eq_ignore_ascii_case("PASS")) =>
            {
                format!("PASS {MASK}")
            }
            Err(_) => line.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::line::sasl::Xoauth2;

    #[test]
    fn commands_parse_and_print_back() {
        let ir = Xoauth2 {
            user: "u@contoso.com".into(),
            token: "t".repeat(2000),
        }
        .encode();
        for c in [
            Command::Capa,
            Command::User("test@contoso.com".into()),
            Command::Pass("pass with spaces".into()),
            Command::Auth {
                mechanism: Mechanism::Xoauth2,
                initial: Some(ir),
            },
            Command::Auth {
                mechanism: Mechanism::Xoauth2,
                initial: None,
            },
            Command::Stat,
            Command::Retr(1),
            Command::Quit,
        ] {
            assert_eq!(Command::parse(&c.to_string()).unwrap(), c, "{c}");
        }
        for bad in [
            "",
            "FROB",
            "USER",
            "USER a b",
            "RETR 0",
            "RETR x",
            "AUTH LOGIN",
            "STAT now",
            "PASS",
        ] {
            assert_eq!(
                Command::parse(bad).unwrap_err(),
                Reply::Err(PROTOCOL_ERROR.into()),
                "{bad}"
            );
        }
        assert!(Command::parse(&format!("USER {}", "u".repeat(MAX_LINE))).is_err());
    }

    #[test]
    fn a_message_is_dot_stuffed() {
        let r = Reply::Message {
            text: "".into(),
            message: "Subject: x\r\n\r\n.leading dot\r\n".into(),
        };
        let wire = r.encode();
        assert!(String::from_utf8_lossy(&wire).contains("\r\n..leading dot\r\n.\r\n"));
        assert_eq!(Reply::parse(&wire, true).unwrap().0, r);
        assert!(r.carries_mailbox());
        let e = Reply::Err(AUTH_FAILED.into());
        assert_eq!(
            e.encode(),
            b"-ERR Authentication failure: unknown user name or bad password.\r\n"
        );
        assert_eq!(Reply::parse(&e.encode(), false).unwrap().0, e);
    }

    #[test]
    fn passwords_never_reach_the_trace() {
        let mut m = Masker::default();
        assert_eq!(m.mask("USER u"), "USER u");
        assert_eq!(m.mask("PASS hunter2"), "PASS ********");
        assert_eq!(m.mask("pass hunter2\u{7}"), "PASS ********");
        assert_eq!(m.mask("AUTH PLAIN"), "AUTH PLAIN");
        assert_eq!(m.mask("AGh1bnRlcjI="), "********");
        // Found by tests/wire.rs: a multi-byte character across the fourth byte.
        assert_eq!(m.mask("&A2ב AUTHENTICATE PLAIN"), "&A2ב AUTHENTICATE PLAIN");
    }
}
