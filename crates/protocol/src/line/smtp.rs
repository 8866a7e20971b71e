//! SMTP submission (RFC 5321, `AUTH` of RFC 4954, `STARTTLS` of RFC 3207) as Exchange
//! Online's `smtp.office365.com` speaks it: `EHLO` with its capabilities, `STARTTLS`,
//! `AUTH LOGIN` with its base64 prompts, `AUTH XOAUTH2` and `AUTH PLAIN`, `MAIL FROM`,
//! `RCPT TO`, `DATA` (dot-stuffed), `RSET`, `NOOP`, `QUIT`; multi-line replies with
//! enhanced status codes (RFC 3463).

use std::fmt;

use super::has_control;
use super::sasl::{mask_payload, Mechanism};
use crate::display::MASK;

/// The longest command line (RFC 5321's 512 octets with CRLF).
pub const MAX_LINE: usize = 510;
/// The longest `AUTH` line or SASL response (RFC 4954's 12288 octets).
pub const MAX_AUTH_LINE: usize = 12288;
/// The longest line of message content (RFC 5321's 1000 octets with CRLF).
pub const MAX_TEXT_LINE: usize = 998;

/// An SMTP command.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Command {
    /// `EHLO domain`.
    Ehlo(String),
    /// `HELO domain`.
    Helo(String),
    /// `STARTTLS`.
    StartTls,
    /// `AUTH mechanism [initial-response]`.
    Auth {
        /// The mechanism.
        mechanism: Mechanism,
        /// The base64 initial response.
        initial: Option<String>,
    },
    /// `MAIL FROM:<address>`.
    MailFrom(String),
    /// `RCPT TO:<address>`.
    RcptTo(String),
    /// `DATA`.
    Data,
    /// `RSET`.
    Rset,
    /// `NOOP`.
    Noop,
    /// `QUIT`.
    Quit,
}

/// A reply: a code, an enhanced status code and its lines of text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reply {
    /// The three-digit code.
    pub code: u16,
    /// The text lines (the enhanced status code, if any, starts the first).
    pub lines: Vec<String>,
}

impl Reply {
    /// A one-line reply.
    pub fn new(code: u16, text: &str) -> Reply {
        Reply {
            code,
            lines: vec![text.to_string()],
        }
    }
    /// `500 5.5.2 Syntax error, command unrecognized`: a line that cannot be read.
    pub fn syntax_error() -> Reply {
        Reply::new(500, "5.5.2 Syntax error, command unrecognized")
    }
    /// `500 5.5.2 Line too long`.
    pub fn line_too_long() -> Reply {
        Reply::new(500, "5.5.2 Line too long")
    }
    /// `501 5.5.4 Invalid arguments`.
    pub fn invalid_arguments() -> Reply {
        Reply::new(501, "5.5.4 Invalid arguments")
    }
    /// `535 5.7.3 Authentication unsuccessful`: refused credentials.
    pub fn auth_unsuccessful() -> Reply {
        Reply::new(535, "5.7.3 Authentication unsuccessful")
    }
    /// `535 5.7.139`: SMTP AUTH is turned off for the organization.
    pub fn smtp_auth_disabled() -> Reply {
        Reply::new(535, "5.7.139 Authentication unsuccessful, SmtpClientAuthentication is disabled for the Tenant.")
    }
    /// `530 5.7.57 Client not authenticated to send mail.`
    pub fn not_authenticated() -> Reply {
        Reply::new(530, "5.7.57 Client not authenticated to send mail.")
    }
    /// `235 2.7.0 Authentication successful`.
    pub fn auth_successful() -> Reply {
        Reply::new(235, "2.7.0 Authentication successful")
    }
    /// `334 VXNlcm5hbWU6` then `334 UGFzc3dvcmQ6`: `AUTH LOGIN`'s prompts.
    pub fn login_prompt(password: bool) -> Reply {
        Reply::new(
            334,
            if password {
                super::sasl::LOGIN_PASSWORD
            } else {
                super::sasl::LOGIN_USERNAME
            },
        )
    }
    /// Exchange Online's `EHLO` answer: before TLS `STARTTLS` is offered and `AUTH` is
    /// not; after it, `AUTH LOGIN XOAUTH2`.
    pub fn ehlo(server: &str, client_ip: &str, tls: bool) -> Reply {
        let mut lines = vec![
            format!("{server} Hello [{client_ip}]"),
            "SIZE 157286400".into(),
            "PIPELINING".into(),
            "DSN".into(),
            "ENHANCEDSTATUSCODES".into(),
        ];
        if tls {
            lines.push("AUTH LOGIN XOAUTH2".into());
        } else {
            lines.push("STARTTLS".into());
        }
        lines.extend([
            "8BITMIME".into(),
            "BINARYMIME".into(),
            "CHUNKING".into(),
            "SMTPUTF8".into(),
        ]);
        Reply { code: 250, lines }
    }
    /// The capabilities an `EHLO` reply lists (its lines after the first).
    pub fn capabilities(&self) -> &[String] {
        self.lines.get(1..).unwrap_or(&[])
    }
    /// The bytes on the wire (`250-...` continuation lines, `250 ...` the last).
    pub fn encode(&self) -> Vec<u8> {
        format!("{self}\r\n").into_bytes()
    }
    /// Reads one reply from the start of `buf` (all its lines), and the bytes after it.
    /// `None` when the bytes are not (yet) a whole reply or the lines disagree.
    pub fn parse(buf: &[u8]) -> Option<(Reply, &[u8])> {
        let mut rest = buf;
        let mut lines = Vec::new();
        let mut code = None;
        loop {
            let (l, next) = super::split_line(rest, MAX_AUTH_LINE).ok()?;
            rest = next;
            let c: u16 = l
                .get(..3)?
                .parse()
                .ok()
                .filter(|c| (200..600).contains(c))?;
            if code.is_some_and(|k| k != c) {
                return None;
            }
            code = Some(c);
            let (sep, text) = (l.as_bytes().get(3).copied(), l.get(4..).unwrap_or(""));
            lines.push(text.to_string());
            match sep {
                Some(b'-') => continue,
                Some(b' ') | None => return Some((Reply { code: c, lines }, rest)),
                _ => return None,
            }
        }
    }
}

impl fmt::Display for Reply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.lines.len().max(1);
        for i in 0..n {
            let sep = if i + 1 == n { ' ' } else { '-' };
            if i > 0 {
                f.write_str("\r\n")?;
            }
            write!(
                f,
                "{}{sep}{}",
                self.code,
                self.lines.get(i).map_or("", String::as_str)
            )?;
        }
        Ok(())
    }
}

fn path(arg: &str, prefix: &str) -> Option<String> {
    let rest = arg
        .get(..prefix.len())
        .filter(|p| p.eq_ignore_ascii_case(prefix))
        .map(|_| &arg[prefix.len()..])?;
    let rest = rest.trim_start();
    let end = rest.find('>')?;
    let inner = rest.strip_prefix('<')?.get(..end - 1)?;
    // Parameters (SIZE=, BODY=) may follow the path.
    if inner.contains(['<', ' ']) || !(inner.is_empty() || inner.contains('@')) {
        return None;
    }
    Some(inner.to_string())
}

impl Command {
    /// Parses a command line (without CRLF). A line that is too long is `500 5.5.2 Line
    /// too long`; an unknown verb or a mangled line, `500 5.5.2`; bad arguments to a
    /// known verb, `501 5.5.4`.
    pub fn parse(line: &str) -> Result<Command, Reply> {
        let (verb, rest) = line.split_once(' ').unwrap_or((line, ""));
        let verb = verb.to_ascii_uppercase();
        let limit = if verb == "AUTH" {
            MAX_AUTH_LINE
        } else {
            MAX_LINE
        };
        if line.len() > limit {
            return Err(Reply::line_too_long());
        }
        if has_control(line) {
            return Err(Reply::syntax_error());
        }
        let arg = || Reply::invalid_arguments();
        let domain = |s: &str| {
            (!s.is_empty() && !s.contains(' '))
                .then(|| s.to_string())
                .ok_or_else(arg)
        };
        Ok(match verb.as_str() {
            "EHLO" => Command::Ehlo(domain(rest)?),
            "HELO" => Command::Helo(domain(rest)?),
            "STARTTLS" if rest.is_empty() => Command::StartTls,
            "DATA" if rest.is_empty() => Command::Data,
            "RSET" if rest.is_empty() => Command::Rset,
            "NOOP" => Command::Noop,
            "QUIT" if rest.is_empty() => Command::Quit,
            "STARTTLS" | "DATA" | "RSET" | "QUIT" => return Err(arg()),
            "MAIL" => Command::MailFrom(path(rest, "FROM:").ok_or_else(arg)?),
            "RCPT" => Command::RcptTo(
                path(rest, "TO:")
                    .filter(|p| !p.is_empty())
                    .ok_or_else(arg)?,
            ),
            "AUTH" => {
                let (m, ir) = rest
                    .split_once(' ')
                    .map_or((rest, None), |(m, i)| (m, Some(i)));
                Command::Auth {
                    mechanism: Mechanism::parse(m)
                        .ok_or_else(|| Reply::new(504, "5.7.4 Unrecognized authentication type"))?,
                    initial: match ir {
                        Some(i) if !i.is_empty() && !i.contains(' ') => Some(i.to_string()),
                        Some(_) => return Err(arg()),
                        None => None,
                    },
                }
            }
            _ => return Err(Reply::syntax_error()),
        })
    }

    /// The line as the trace shows it: a `PLAIN` or `LOGIN` initial response masked.
    pub fn masked(&self) -> String {
        match self {
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
            Command::Ehlo(d) => write!(f, "EHLO {d}"),
            Command::Helo(d) => write!(f, "HELO {d}"),
            Command::StartTls => f.write_str("STARTTLS"),
            Command::Auth { mechanism, initial } => {
                write!(f, "AUTH {}", mechanism.as_str())?;
                match initial {
                    Some(i) => write!(f, " {i}"),
                    None => Ok(()),
                }
            }
            Command::MailFrom(a) => write!(f, "MAIL FROM:<{a}>"),
            Command::RcptTo(a) => write!(f, "RCPT TO:<{a}>"),
            Command::Data => f.write_str("DATA"),
            Command::Rset => f.write_str("RSET"),
            Command::Noop => f.write_str("NOOP"),
            Command::Quit => f.write_str("QUIT"),
        }
    }
}

/// A message as `DATA` sends it: dot-stuffed lines, then `.`.
pub fn encode_data(message: &str) -> Vec<u8> {
    let mut out = String::new();
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

/// Reads `DATA` content from the start of `buf`: the message and the bytes after its
/// `.` line. A line over [`MAX_TEXT_LINE`] is `500 5.5.2 Line too long`; `Ok(None)` when
/// the terminating line has not arrived yet.
pub fn decode_data(buf: &[u8]) -> Result<Option<(String, &[u8])>, Reply> {
    let mut rest = buf;
    let mut message = String::new();
    loop {
        match super::split_line(rest, MAX_TEXT_LINE) {
            Ok((l, next)) => {
                rest = next;
                if l == "." {
                    return Ok(Some((message, rest)));
                }
                message.push_str(l.strip_prefix('.').unwrap_or(l));
                message.push_str("\r\n");
            }
            Err(super::LineError::Incomplete) => return Ok(None),
            Err(super::LineError::TooLong) => return Err(Reply::line_too_long()),
            Err(super::LineError::Malformed) => return Err(Reply::syntax_error()),
        }
    }
}

/// Masks the client's lines of one session in order: `AUTH LOGIN`'s user name is shown
/// decoded and its password masked, a `PLAIN` response masked, whatever the prompts.
#[derive(Clone, Debug, Default)]
pub struct Masker {
    /// The SASL responses still expected, by mechanism, and for `LOGIN` how many.
    pending: Option<(Mechanism, u8)>,
}

impl Masker {
    /// The line as the trace shows it.
    pub fn mask(&mut self, line: &str) -> String {
        if let Some((m, left)) = self.pending.take() {
            if m == Mechanism::Login && left == 2 {
                self.pending = Some((m, 1));
                return match super::sasl::decode_base64(line)
                    .ok()
                    .and_then(|b| String::from_utf8(b).ok())
                {
                    Some(u) if !has_control(&u) => format!("<user name {u}>"),
                    _ => line.to_string(),
                };
            }
            return if m == Mechanism::Xoauth2 {
                line.to_string()
            } else {
                MASK.to_string()
            };
        }
        match Command::parse(line) {
            Ok(c) => {
                if let Command::Auth { mechanism, initial } = &c {
                    self.pending = match (mechanism, initial) {
                        (Mechanism::Login, None) => Some((Mechanism::Login, 2)),
                        (Mechanism::Login, Some(_)) => Some((Mechanism::Login, 1)),
                        (m, None) => Some((*m, 1)),
                        _ => None,
                    };
                }
                c.masked()
            }
            Err(_) => line.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::line::sasl::{encode_base64, Xoauth2};

    #[test]
    fn commands_parse_and_print_back() {
        for c in [
            Command::Ehlo("client.contoso.com".into()),
            Command::StartTls,
            Command::Auth {
                mechanism: Mechanism::Login,
                initial: None,
            },
            Command::Auth {
                mechanism: Mechanism::Xoauth2,
                initial: Some(
                    Xoauth2 {
                        user: "u@c".into(),
                        token: "t".repeat(3000),
                    }
                    .encode(),
                ),
            },
            Command::MailFrom("test@contoso.com".into()),
            Command::MailFrom(String::new()),
            Command::RcptTo("b@fabrikam.com".into()),
            Command::Data,
            Command::Quit,
        ] {
            assert_eq!(Command::parse(&c.to_string()).unwrap(), c, "{c}");
        }
        assert_eq!(
            Command::parse("mail from: <a@b> SIZE=10").unwrap(),
            Command::MailFrom("a@b".into())
        );
    }

    #[test]
    fn malformed_lines_get_500_and_501() {
        assert_eq!(Command::parse("FROB").unwrap_err().code, 500);
        assert_eq!(
            Command::parse("EHLO a\u{1b}").unwrap_err(),
            Reply::syntax_error()
        );
        assert_eq!(
            Command::parse(&format!("EHLO {}", "a".repeat(MAX_LINE))).unwrap_err(),
            Reply::line_too_long()
        );
        for l in [
            "EHLO",
            "MAIL FROM:a@b",
            "MAIL TO:<a@b>",
            "RCPT TO:<>",
            "DATA now",
            "AUTH LOGIN a b",
        ] {
            assert_eq!(
                Command::parse(l).unwrap_err(),
                Reply::invalid_arguments(),
                "{l}"
            );
        }
        assert_eq!(Command::parse("AUTH NTLM").unwrap_err().code, 504);
    }

    #[test]
    fn replies_read_back_with_exchange_onlines_texts() {
        let e = Reply::ehlo("AM0PR01CA0001.outlook.office365.com", "192.0.2.1", false);
        let wire = e.encode();
        let s = String::from_utf8(wire.clone()).unwrap();
        assert!(s.starts_with("250-AM0PR01CA0001.outlook.office365.com Hello [192.0.2.1]\r\n"));
        assert!(s.ends_with("250 SMTPUTF8\r\n"));
        assert!(e.capabilities().contains(&"STARTTLS".to_string()));
        assert!(Reply::ehlo("s", "i", true)
            .capabilities()
            .contains(&"AUTH LOGIN XOAUTH2".to_string()));
        assert_eq!(Reply::parse(&wire).unwrap().0, e);
        assert_eq!(
            Reply::smtp_auth_disabled().to_string(),
            "535 5.7.139 Authentication unsuccessful, SmtpClientAuthentication is disabled for the Tenant."
        );
        assert_eq!(
            Reply::auth_unsuccessful().to_string(),
            "535 5.7.3 Authentication unsuccessful"
        );
        assert!(Reply::parse(b"250-a\r\n251 b\r\n").is_none());
        assert!(Reply::parse(b"250-a\r\n").is_none());
    }

    #[test]
    fn data_is_dot_stuffed() {
        let m = "Subject: x\r\n\r\n.hidden\r\n..two\r\n";
        let wire = encode_data(m);
        let (back, rest) = decode_data(&wire).unwrap().unwrap();
        assert_eq!((back.as_str(), rest), (m, &b""[..]));
        assert_eq!(decode_data(b"no end\r\n"), Ok(None));
        assert_eq!(
            decode_data(format!("{}\r\n.\r\n", "x".repeat(MAX_TEXT_LINE + 1)).as_bytes()),
            Err(Reply::line_too_long())
        );
    }

    #[test]
    fn auth_login_password_is_masked() {
        let mut m = Masker::default();
        assert_eq!(m.mask("AUTH LOGIN"), "AUTH LOGIN");
        assert_eq!(
            m.mask(&encode_base64(b"test@contoso.com")),
            "<user name test@contoso.com>"
        );
        assert_eq!(m.mask(&encode_base64(b"hunter2")), "********");
        assert_eq!(
            m.mask("MAIL FROM:<test@contoso.com>"),
            "MAIL FROM:<test@contoso.com>"
        );
        assert_eq!(
            m.mask(&format!("AUTH LOGIN {}", encode_base64(b"u"))),
            "AUTH LOGIN ********"
        );
        assert_eq!(m.mask(&encode_base64(b"hunter2")), "********");
        assert_eq!(m.mask("AUTH PLAIN"), "AUTH PLAIN");
        assert_eq!(m.mask("AHUAaHVudGVyMg=="), "********");
    }
}
