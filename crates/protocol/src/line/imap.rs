//! IMAP4rev1 (RFC 3501) as Exchange's IMAP4 service speaks it, for what the clients do:
//! `CAPABILITY`, `STARTTLS`, `LOGIN`, `AUTHENTICATE PLAIN` and `XOAUTH2` (with an
//! initial response, RFC 4959 `SASL-IR`, or after a `+` continuation), `SELECT`,
//! `FETCH` of one message, `NOOP` and `LOGOUT`; tagged `OK`/`NO`/`BAD` replies with
//! Exchange's texts.

use std::fmt;

use super::has_control;
use super::sasl::{mask_payload, Mechanism};
use crate::display::MASK;

/// The longest command line read (RFC 7162's recommendation for servers).
pub const MAX_LINE: usize = 8192;

/// A command's verb and arguments.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verb {
    /// `CAPABILITY`.
    Capability,
    /// `STARTTLS`.
    StartTls,
    /// `LOGIN user password`.
    Login {
        /// The user.
        user: String,
        /// The password.
        password: String,
    },
    /// `AUTHENTICATE mechanism [initial-response]`.
    Authenticate {
        /// The mechanism.
        mechanism: Mechanism,
        /// The base64 initial response, if given on the line.
        initial: Option<String>,
    },
    /// `SELECT mailbox`.
    Select(String),
    /// `FETCH n items` (one message by sequence number).
    Fetch {
        /// The sequence number.
        seq: u32,
        /// The data items (`BODY[]`, `RFC822`...), as written.
        items: String,
    },
    /// `NOOP`.
    Noop,
    /// `LOGOUT`.
    Logout,
}

/// A tagged command.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Command {
    /// The tag.
    pub tag: String,
    /// The verb.
    pub verb: Verb,
}

/// Exchange's text for a command it cannot parse.
pub const COMMAND_ERROR: &str = "Command Error. 12";

fn is_tag_char(c: char) -> bool {
    c.is_ascii_graphic() && !matches!(c, '(' | ')' | '{' | '%' | '*' | '"' | '\\' | '+' | ']')
}

/// Splits arguments: atoms, and quoted strings with `\"` and `\\` escapes. A literal
/// (`{n}`) is not accepted on a command line here.
fn args(s: &str) -> Option<Vec<String>> {
    let mut out = Vec::new();
    let mut chars = s.chars().peekable();
    loop {
        match chars.peek() {
            None => return Some(out),
            Some(' ') => {
                chars.next();
                if out.is_empty() || chars.peek() == Some(&' ') || chars.peek().is_none() {
                    return None;
                }
            }
            Some('"') => {
                chars.next();
                let mut v = String::new();
                loop {
                    match chars.next()? {
                        '"' => break,
                        '\\' => match chars.next()? {
                            c @ ('"' | '\\') => v.push(c),
                            _ => return None,
                        },
                        c => v.push(c),
                    }
                }
                if !matches!(chars.peek(), None | Some(' ')) {
                    return None;
                }
                out.push(v);
            }
            Some('{') => return None,
            Some(_) => {
                let mut v = String::new();
                while let Some(&c) = chars.peek() {
                    if c == ' ' {
                        break;
                    }
                    if matches!(c, '"' | '{' | '\\') {
                        return None;
                    }
                    v.push(c);
                    chars.next();
                }
                out.push(v);
            }
        }
    }
}

/// An argument as a quoted string when it needs one.
pub fn quote(s: &str) -> String {
    if !s.is_empty()
        && s.chars().all(|c| {
            c.is_ascii_graphic() && !matches!(c, '(' | ')' | '{' | '%' | '*' | '"' | '\\' | ']')
        })
    {
        s.to_string()
    } else {
        format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
    }
}

impl Command {
    /// A command.
    pub fn new(tag: &str, verb: Verb) -> Command {
        Command {
            tag: tag.into(),
            verb,
        }
    }

    /// Parses a command line (without CRLF). A line without a valid tag is answered
    /// `* BAD Command Error. 12`; one with a tag but an unknown verb or bad arguments,
    /// `tag BAD Command Error. 12`.
    pub fn parse(line: &str) -> Result<Command, Reply> {
        if line.len() > MAX_LINE || has_control(line) {
            return Err(Reply::untagged_bad());
        }
        let (tag, rest) = line.split_once(' ').unwrap_or((line, ""));
        if tag.is_empty() || !tag.chars().all(is_tag_char) {
            return Err(Reply::untagged_bad());
        }
        let bad = || Reply::tagged(tag, Status::Bad, COMMAND_ERROR);
        let (verb, rest) = rest.split_once(' ').unwrap_or((rest, ""));
        let a = args(rest).ok_or_else(bad)?;
        let verb = match (verb.to_ascii_uppercase().as_str(), a.as_slice()) {
            ("CAPABILITY", []) => Verb::Capability,
            ("STARTTLS", []) => Verb::StartTls,
            ("NOOP", []) => Verb::Noop,
            ("LOGOUT", []) => Verb::Logout,
            ("LOGIN", [u, p]) => Verb::Login {
                user: u.clone(),
                password: p.clone(),
            },
            ("AUTHENTICATE", [m, rest @ ..]) if rest.len() <= 1 => Verb::Authenticate {
                mechanism: Mechanism::parse(m)
                    .filter(|m| *m != Mechanism::Login)
                    .ok_or_else(bad)?,
                initial: rest.first().cloned(),
            },
            ("SELECT", [m]) => Verb::Select(m.clone()),
            ("FETCH", [n, items]) => Verb::Fetch {
                seq: n.parse().ok().filter(|&n| n > 0).ok_or_else(bad)?,
                items: items.clone(),
            },
            _ => return Err(bad()),
        };
        Ok(Command {
            tag: tag.into(),
            verb,
        })
    }

    /// The line as the trace shows it: `LOGIN`'s password and a `PLAIN` initial
    /// response masked.
    pub fn masked(&self) -> String {
        match &self.verb {
            Verb::Login { user, .. } => format!("{} LOGIN {} {MASK}", self.tag, quote(user)),
            Verb::Authenticate {
                mechanism,
                initial: Some(i),
            } => {
                format!(
                    "{} AUTHENTICATE {} {}",
                    self.tag,
                    mechanism.as_str(),
                    mask_payload(*mechanism, i)
                )
            }
            _ => self.to_string(),
        }
    }
}

impl fmt::Display for Command {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ", self.tag)?;
        match &self.verb {
            Verb::Capability => f.write_str("CAPABILITY"),
            Verb::StartTls => f.write_str("STARTTLS"),
            Verb::Noop => f.write_str("NOOP"),
            Verb::Logout => f.write_str("LOGOUT"),
            Verb::Login { user, password } => {
                write!(f, "LOGIN {} {}", quote(user), quote(password))
            }
            Verb::Authenticate { mechanism, initial } => {
                write!(f, "AUTHENTICATE {}", mechanism.as_str())?;
                match initial {
                    Some(i) => write!(f, " {i}"),
                    None => Ok(()),
                }
            }
            Verb::Select(m) => write!(f, "SELECT {}", quote(m)),
            Verb::Fetch { seq, items } => write!(f, "FETCH {seq} {items}"),
        }
    }
}

/// A tagged reply's status.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    /// `OK`.
    Ok,
    /// `NO`.
    No,
    /// `BAD`.
    Bad,
}

impl Status {
    /// The word.
    pub const fn as_str(self) -> &'static str {
        match self {
            Status::Ok => "OK",
            Status::No => "NO",
            Status::Bad => "BAD",
        }
    }
}

/// A server reply.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reply {
    /// `tag STATUS text`.
    Tagged {
        /// The tag.
        tag: String,
        /// The status.
        status: Status,
        /// The text (with its response code, e.g. `[READ-WRITE] SELECT completed.`).
        text: String,
    },
    /// `* text` (the greeting, `CAPABILITY`, `EXISTS`, `BAD`, `BYE`...).
    Untagged(String),
    /// `+ text`: go on with the SASL exchange.
    Continue(String),
    /// `* n FETCH (BODY[] {len}` CRLF message `)`: one message's content.
    Fetch {
        /// The sequence number.
        seq: u32,
        /// The message (RFC 5322, CRLF line ends).
        message: String,
    },
}

/// Exchange's greeting.
pub const GREETING: &str = "OK The Microsoft Exchange IMAP4 service is ready.";
/// Exchange Online's capabilities before TLS (no `AUTH=` and `LOGINDISABLED`: RFC 3501
/// forbids `LOGIN` on a clear connection).
pub const CAPABILITY_PLAIN: &str =
    "CAPABILITY IMAP4 IMAP4rev1 LOGINDISABLED STARTTLS CHILDREN IDLE NAMESPACE LITERAL+";
/// Exchange Online's capabilities after `STARTTLS`.
pub const CAPABILITY_TLS: &str = "CAPABILITY IMAP4 IMAP4rev1 AUTH=PLAIN AUTH=XOAUTH2 SASL-IR UIDPLUS MOVE ID UNSELECT CHILDREN IDLE NAMESPACE LITERAL+";

impl Reply {
    /// A tagged reply.
    pub fn tagged(tag: &str, status: Status, text: &str) -> Reply {
        Reply::Tagged {
            tag: tag.into(),
            status,
            text: text.into(),
        }
    }
    /// `* BAD Command Error. 12`.
    pub fn untagged_bad() -> Reply {
        Reply::Untagged(format!("BAD {COMMAND_ERROR}"))
    }
    /// `tag NO AUTHENTICATE failed.`: Exchange's answer to refused SASL credentials.
    pub fn authenticate_failed(tag: &str) -> Reply {
        Reply::tagged(tag, Status::No, "AUTHENTICATE failed.")
    }
    /// `tag NO LOGIN failed.`.
    pub fn login_failed(tag: &str) -> Reply {
        Reply::tagged(tag, Status::No, "LOGIN failed.")
    }
    /// `tag OK VERB completed.`, Exchange's success text.
    pub fn completed(tag: &str, verb: &str) -> Reply {
        Reply::tagged(tag, Status::Ok, &format!("{verb} completed."))
    }

    /// Reads one reply from the start of `buf` (a `FETCH` with its literal), and the
    /// bytes after it. `None` when the bytes are not (yet) a whole reply.
    pub fn parse(buf: &[u8]) -> Option<(Reply, &[u8])> {
        let (line, rest) = super::split_line(buf, MAX_LINE).ok()?;
        if let Some(t) = line.strip_prefix("+") {
            return Some((Reply::Continue(t.trim_start().to_string()), rest));
        }
        if let Some(t) = line.strip_prefix("* ") {
            let mut w = t.splitn(3, ' ');
            if let (Some(n), Some("FETCH"), Some(items)) = (w.next(), w.next(), w.next()) {
                let seq: u32 = n.parse().ok()?;
                let len: usize = items.strip_suffix('}')?.rsplit_once('{')?.1.parse().ok()?;
                let body = rest.get(..len)?;
                let after = rest.get(len..)?.strip_prefix(b")\r\n")?;
                return Some((
                    Reply::Fetch {
                        seq,
                        message: String::from_utf8(body.to_vec()).ok()?,
                    },
                    after,
                ));
            }
            return Some((Reply::Untagged(t.to_string()), rest));
        }
        let (tag, t) = line.split_once(' ')?;
        let (s, text) = t.split_once(' ').unwrap_or((t, ""));
        let status = match s {
            "OK" => Status::Ok,
            "NO" => Status::No,
            "BAD" => Status::Bad,
            _ => return None,
        };
        Some((Reply::tagged(tag, status, text), rest))
    }

    /// The bytes on the wire, CRLF included.
    pub fn encode(&self) -> Vec<u8> {
        format!("{self}\r\n").into_bytes()
    }

    /// Whether this reply carries mailbox content (a fetched message).
    pub fn carries_mailbox(&self) -> bool {
        matches!(self, Reply::Fetch { message, .. } if !message.is_empty())
    }
}

impl fmt::Display for Reply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reply::Tagged { tag, status, text } => write!(f, "{tag} {} {text}", status.as_str()),
            Reply::Untagged(t) => write!(f, "* {t}"),
            Reply::Continue(t) => write!(f, "+ {t}"),
            Reply::Fetch { seq, message } => write!(
                f,
                "* {seq} FETCH (BODY[] {{{}}}\r\n{message})",
                message.len()
            ),
        }
    }
}

/// Masks the client's lines of one session in order: a command through
/// [`Command::masked`], and the SASL response that follows an `AUTHENTICATE` without
/// an initial response by its mechanism. A line that does not parse is shown masked
/// whole when it could be such a response.
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
                if let Verb::Authenticate {
                    mechanism,
                    initial: None,
                } = c.verb
                {
                    self.pending = Some(mechanism);
                }
                c.masked()
            }
            Err(_) => {
                // Not a command: a LOGIN with a literal or a mangled line may still hold
                // a password after its second word.
                let mut w = line.splitn(3, ' ');
                match (w.next(), w.next(), w.next()) {
                    (Some(t), Some(v), Some(_)) if v.eq_ignore_ascii_case("LOGIN") => {
                        format!("{t} {v} {MASK}")
                    }
                    _ => line.to_string(),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::line::sasl::{Plain, Xoauth2};

    #[test]
    fn commands_parse_and_print_back() {
        let cmds = [
            Command::new("a1", Verb::Capability),
            Command::new("a2", Verb::StartTls),
            Command::new(
                "a3",
                Verb::Login {
                    user: "test@contoso.com".into(),
                    password: "P \"w\\d".into(),
                },
            ),
            Command::new(
                "a4",
                Verb::Authenticate {
                    mechanism: Mechanism::Xoauth2,
                    initial: Some(
                        Xoauth2 {
                            user: "u".into(),
                            token: "t".into(),
                        }
                        .encode(),
                    ),
                },
            ),
            Command::new(
                "a5",
                Verb::Authenticate {
                    mechanism: Mechanism::Plain,
                    initial: None,
                },
            ),
            Command::new("a6", Verb::Select("INBOX".into())),
            Command::new(
                "a7",
                Verb::Fetch {
                    seq: 1,
                    items: "BODY[]".into(),
                },
            ),
            Command::new("a8", Verb::Logout),
        ];
        for c in cmds {
            assert_eq!(Command::parse(&c.to_string()).unwrap(), c, "{c}");
        }
        assert_eq!(
            Command::parse("x login u p").unwrap().verb,
            Verb::Login {
                user: "u".into(),
                password: "p".into()
            }
        );
    }

    #[test]
    fn malformed_lines_are_bad() {
        assert_eq!(
            Command::parse("").unwrap_err().to_string(),
            "* BAD Command Error. 12"
        );
        assert_eq!(
            Command::parse("+ x").unwrap_err().to_string(),
            "* BAD Command Error. 12"
        );
        for l in [
            "a1 FROB",
            "a1 LOGIN onlyuser",
            "a1 LOGIN {5}",
            "a1 LOGIN \"u p",
            "a1 AUTHENTICATE LOGIN",
            "a1 FETCH 0 BODY[]",
            "a1 SELECT  INBOX",
            "a1 CAPABILITY x",
        ] {
            assert_eq!(
                Command::parse(l).unwrap_err(),
                Reply::tagged("a1", Status::Bad, COMMAND_ERROR),
                "{l}"
            );
        }
        assert!(Command::parse(&format!("a1 SELECT {}", "x".repeat(MAX_LINE))).is_err());
        assert!(Command::parse("a1 NOOP\u{7}").is_err());
    }

    #[test]
    fn replies_read_back() {
        let replies = [
            Reply::Untagged(GREETING.into()),
            Reply::Untagged(CAPABILITY_TLS.into()),
            Reply::Continue(String::new()),
            Reply::authenticate_failed("a1"),
            Reply::completed("a2", "AUTHENTICATE"),
            Reply::tagged("a3", Status::Ok, "[READ-WRITE] SELECT completed."),
            Reply::Fetch {
                seq: 1,
                message: "Subject: hi\r\n\r\nbody)\r\n".into(),
            },
        ];
        let mut wire = Vec::new();
        for r in &replies {
            wire.extend(r.encode());
        }
        let mut rest = &wire[..];
        for r in &replies {
            let (got, next) = Reply::parse(rest).unwrap();
            assert_eq!(&got, r);
            rest = next;
        }
        assert!(rest.is_empty());
        assert!(replies[6].carries_mailbox() && !replies[5].carries_mailbox());
    }

    #[test]
    fn passwords_never_reach_the_trace() {
        let mut m = Masker::default();
        assert_eq!(
            m.mask("a1 LOGIN test@contoso.com hunter2"),
            "a1 LOGIN test@contoso.com ********"
        );
        assert_eq!(m.mask("a1 LOGIN {16}"), "a1 LOGIN ********");
        let plain = Plain {
            authzid: String::new(),
            user: "u@c".into(),
            password: "hunter2".into(),
        }
        .encode();
        assert_eq!(
            m.mask(&format!("a2 AUTHENTICATE PLAIN {plain}")),
            "a2 AUTHENTICATE PLAIN <masked PLAIN credentials of u@c>"
        );
        assert_eq!(m.mask("a3 AUTHENTICATE PLAIN"), "a3 AUTHENTICATE PLAIN");
        assert_eq!(m.mask(&plain), "<masked PLAIN credentials of u@c>");
        assert_eq!(m.mask("a4 NOOP"), "a4 NOOP");
    }
}
