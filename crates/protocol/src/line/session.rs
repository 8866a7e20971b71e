//! One IMAP or POP session as it travels in the simulator (issue 12 item 4): the client's
//! command lines, pipelined after the greeting, in one message to the server's host and
//! port; the server's replies, greeting first, in one answer. A session is a
//! [`LineExchange`] on [`crate::Wire::line`]; its target is a [`crate::Url`] of scheme
//! `imaps` (port 993) or `pop3s` (port 995), implicit TLS, with no HTTP method.
//!
//! The server side is pure: [`LineExchange::credential`] reads the credential of the
//! session's authentication command with the typed parsers, the server decides on it
//! (its own policy, a directory or Entra ID), and [`LineExchange::answer`] writes the
//! replies of the whole session for that decision, with Exchange's texts. A malformed
//! line gets the parser's refusal (`BAD Command Error. 12`, `-ERR Protocol error. 14`) and
//! the session goes on, as a real server's does.
//!
//! ```
//! use hmasim_protocol::line::session::{Decision, LineExchange, LineProtocol};
//! let s = LineExchange::imap_login("u@contoso.com", "pw");
//! assert!(s.credential().is_some());
//! let refused = s.answer(true, &Decision::Refused);
//! assert!(!refused.carries_mailbox());
//! assert_eq!(refused.refusal().as_deref(), Some("a1 NO LOGIN failed."));
//! assert_eq!(LineProtocol::Imap.port(), 993);
//! ```

use super::imap;
use super::pop;
use super::sasl::{Mechanism, Plain, Xoauth2};
use crate::MailboxProtocol;

/// A line protocol a mail client speaks to its server.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum LineProtocol {
    /// IMAP4rev1 over implicit TLS (`imaps`, port 993).
    Imap,
    /// POP3 over implicit TLS (`pop3s`, port 995).
    Pop,
}

impl LineProtocol {
    /// The URL scheme of its implicit-TLS port (`imaps`, `pop3s`).
    pub const fn scheme(self) -> &'static str {
        match self {
            LineProtocol::Imap => "imaps",
            LineProtocol::Pop => "pop3s",
        }
    }
    /// The implicit-TLS port: 993 for IMAP, 995 for POP.
    pub const fn port(self) -> u16 {
        match self {
            LineProtocol::Imap => 993,
            LineProtocol::Pop => 995,
        }
    }
    /// The protocol a scheme names (`imaps`, `pop3s`, ignoring case).
    pub fn of_scheme(s: &str) -> Option<LineProtocol> {
        [LineProtocol::Imap, LineProtocol::Pop]
            .into_iter()
            .find(|p| p.scheme().eq_ignore_ascii_case(s))
    }
    /// Its name in text (`IMAP`, `POP`).
    pub const fn name(self) -> &'static str {
        match self {
            LineProtocol::Imap => "IMAP",
            LineProtocol::Pop => "POP",
        }
    }
    /// The mailbox protocol authentication policies name it by.
    pub const fn mailbox_protocol(self) -> MailboxProtocol {
        match self {
            LineProtocol::Imap => MailboxProtocol::Imap,
            LineProtocol::Pop => MailboxProtocol::Pop,
        }
    }
    /// The media type the trace names a session's events by (`text/x-imap`,
    /// `text/x-pop3`; not registered types: the lines are the protocol's own).
    pub const fn content_type(self) -> &'static str {
        match self {
            LineProtocol::Imap => "text/x-imap",
            LineProtocol::Pop => "text/x-pop3",
        }
    }
}

/// The credential a session's authentication command carries.
#[derive(Clone, PartialEq, Eq)]
pub enum Credential {
    /// A password: IMAP `LOGIN` or `AUTHENTICATE PLAIN`, POP `USER`/`PASS` or `AUTH PLAIN`
    /// (Basic authentication).
    Password {
        /// The user.
        user: String,
        /// The password.
        password: String,
    },
    /// A bearer token: `AUTHENTICATE XOAUTH2` / `AUTH XOAUTH2`.
    Bearer {
        /// The `user=` of the payload.
        user: String,
        /// The access token.
        token: String,
    },
}

impl std::fmt::Debug for Credential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Credential::Password { user, .. } => write!(f, "Password({user}, <masked>)"),
            Credential::Bearer { user, .. } => write!(f, "Bearer({user})"),
        }
    }
}

impl Credential {
    /// The user it names.
    pub fn user(&self) -> &str {
        match self {
            Credential::Password { user, .. } | Credential::Bearer { user, .. } => user,
        }
    }
}

/// What the server decided on the session's credential.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Signed in: the mailbox holds `message` (RFC 5322, CRLF line ends) as message 1.
    Accepted {
        /// The one message the session can fetch.
        message: String,
    },
    /// The credential is refused (`NO LOGIN failed.`, `-ERR Authentication failure...`).
    Refused,
}

/// One session's lines: the client's commands or the server's replies.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LineExchange {
    /// The client's command lines (without CRLF), in order, pipelined after the greeting.
    Commands {
        /// The protocol.
        protocol: LineProtocol,
        /// The lines as written (a SASL response after a `+` continuation is a line too).
        lines: Vec<String>,
    },
    /// The IMAP server's replies, greeting first.
    Imap {
        /// The replies.
        replies: Vec<imap::Reply>,
    },
    /// The POP server's replies, greeting first.
    Pop {
        /// The replies.
        replies: Vec<pop::Reply>,
    },
}

/// Exchange's text for a command sent before authentication.
pub const IMAP_INVALID_STATE: &str = "Command received in Invalid state.";
/// Exchange's IMAP sign-off.
pub const IMAP_BYE: &str = "BYE Microsoft Exchange Server IMAP4 server signing off.";
/// Exchange on-premises' capabilities on its TLS port (no `XOAUTH2`: hybrid modern
/// authentication does not cover IMAP).
pub const IMAP_CAPABILITY_ONPREM: &str = "CAPABILITY IMAP4 IMAP4rev1 AUTH=NTLM AUTH=GSSAPI AUTH=PLAIN UIDPLUS CHILDREN IDLE NAMESPACE LITERAL+";
/// Exchange's POP text for a command sent before authentication.
pub const POP_INVALID_STATE: &str = "Command is not valid in this state.";
/// Exchange's POP answer to accepted credentials.
pub const POP_LOGGED_ON: &str = "User successfully logged on.";
/// Exchange's POP sign-off.
pub const POP_BYE: &str = "Microsoft Exchange Server POP3 server signing off.";

/// Where a session's authentication stands while its lines are walked.
#[derive(Clone, Copy, PartialEq, Eq)]
enum State {
    Before,
    In,
    Refused,
}

impl LineExchange {
    /// A client's session: `lines` of `protocol`.
    pub fn commands(protocol: LineProtocol, lines: Vec<String>) -> LineExchange {
        LineExchange::Commands { protocol, lines }
    }

    /// The IMAP session of a Basic client: `LOGIN`, `SELECT INBOX`, `FETCH 1 (BODY[])`,
    /// `LOGOUT`, pipelined.
    pub fn imap_login(user: &str, password: &str) -> LineExchange {
        let login = imap::Command::new(
            "a1",
            imap::Verb::Login {
                user: user.into(),
                password: password.into(),
            },
        );
        LineExchange::commands(
            LineProtocol::Imap,
            vec![
                login.to_string(),
                "a2 SELECT INBOX".into(),
                "a3 FETCH 1 (BODY[])".into(),
                "a4 LOGOUT".into(),
            ],
        )
    }

    /// The IMAP session of a client with `mechanism` (`PLAIN` with a password, `XOAUTH2`
    /// with a token) and an initial response (SASL-IR).
    pub fn imap_authenticate(credential: &Credential) -> LineExchange {
        let (mechanism, ir) = sasl_ir(credential);
        LineExchange::commands(
            LineProtocol::Imap,
            vec![
                format!("a1 AUTHENTICATE {} {ir}", mechanism.as_str()),
                "a2 SELECT INBOX".into(),
                "a3 FETCH 1 (BODY[])".into(),
                "a4 LOGOUT".into(),
            ],
        )
    }

    /// The POP session of a Basic client: `USER`, `PASS`, `STAT`, `RETR 1`, `QUIT`.
    pub fn pop_login(user: &str, password: &str) -> LineExchange {
        LineExchange::commands(
            LineProtocol::Pop,
            vec![
                pop::Command::User(user.into()).to_string(),
                pop::Command::Pass(password.into()).to_string(),
                "STAT".into(),
                "RETR 1".into(),
                "QUIT".into(),
            ],
        )
    }

    /// The POP session of a client with `AUTH` and an initial response.
    pub fn pop_authenticate(credential: &Credential) -> LineExchange {
        let (mechanism, ir) = sasl_ir(credential);
        LineExchange::commands(
            LineProtocol::Pop,
            vec![
                format!("AUTH {} {ir}", mechanism.as_str()),
                "STAT".into(),
                "RETR 1".into(),
                "QUIT".into(),
            ],
        )
    }

    /// The protocol of the session.
    pub fn protocol(&self) -> LineProtocol {
        match self {
            LineExchange::Commands { protocol, .. } => *protocol,
            LineExchange::Imap { .. } => LineProtocol::Imap,
            LineExchange::Pop { .. } => LineProtocol::Pop,
        }
    }

    /// The credential of the session's first authentication command, read with the typed
    /// parsers; `None` for the server's replies, a session without one, or one whose
    /// SASL payload does not decode.
    pub fn credential(&self) -> Option<Credential> {
        let LineExchange::Commands { protocol, lines } = self else {
            return None;
        };
        let mut i = 0;
        let mut pop_user: Option<String> = None;
        while i < lines.len() {
            let line = &lines[i];
            i += 1;
            match protocol {
                LineProtocol::Imap => match imap::Command::parse(line).map(|c| c.verb) {
                    Ok(imap::Verb::Login { user, password }) => {
                        return Some(Credential::Password { user, password })
                    }
                    Ok(imap::Verb::Authenticate { mechanism, initial }) => {
                        return sasl_credential(mechanism, &sasl_payload(initial, lines, &mut i)?);
                    }
                    _ => {}
                },
                LineProtocol::Pop => match pop::Command::parse(line) {
                    Ok(pop::Command::User(u)) => pop_user = Some(u),
                    Ok(pop::Command::Pass(password)) => {
                        if let Some(user) = pop_user.take() {
                            return Some(Credential::Password { user, password });
                        }
                    }
                    Ok(pop::Command::Auth { mechanism, initial }) => {
                        return sasl_credential(mechanism, &sasl_payload(initial, lines, &mut i)?);
                    }
                    _ => {}
                },
            }
        }
        None
    }

    /// The server's answer to this session (the client's commands) for `decision` on its
    /// credential: every line answered in order, greeting first, with Exchange's texts.
    /// `oauth` says whether it offers
    /// `XOAUTH2` (Exchange Online) in its capabilities. A session without an
    /// authentication command is answered as refused wherever it needs one.
    pub fn answer(&self, oauth: bool, decision: &Decision) -> LineExchange {
        let LineExchange::Commands { protocol, lines } = self else {
            return self.clone();
        };
        match protocol {
            LineProtocol::Imap => LineExchange::Imap {
                replies: imap_replies(lines, oauth, decision),
            },
            LineProtocol::Pop => LineExchange::Pop {
                replies: pop_replies(lines, decision),
            },
        }
    }

    /// The answer of a server that does not run (a refused connection): no line at all.
    pub fn no_service(protocol: LineProtocol) -> LineExchange {
        match protocol {
            LineProtocol::Imap => LineExchange::Imap {
                replies: Vec::new(),
            },
            LineProtocol::Pop => LineExchange::Pop {
                replies: Vec::new(),
            },
        }
    }

    /// Whether this answer carries mailbox content (an IMAP `FETCH` literal, a POP `RETR`
    /// message), judged from its replies ([`imap::Reply::carries_mailbox`]).
    pub fn carries_mailbox(&self) -> bool {
        match self {
            LineExchange::Commands { .. } => false,
            LineExchange::Imap { replies, .. } => replies.iter().any(imap::Reply::carries_mailbox),
            LineExchange::Pop { replies, .. } => replies.iter().any(pop::Reply::carries_mailbox),
        }
    }

    /// The first refusal of an answer, as the client reads it: an IMAP tagged `NO` or
    /// `BAD` (or an untagged `BAD`), a POP `-ERR`; `None` when there is none.
    pub fn refusal(&self) -> Option<String> {
        match self {
            LineExchange::Commands { .. } => None,
            LineExchange::Imap { replies, .. } => replies
                .iter()
                .find(|r| match r {
                    imap::Reply::Tagged { status, .. } => *status != imap::Status::Ok,
                    imap::Reply::Untagged(t) => t.starts_with("BAD "),
                    _ => false,
                })
                .map(|r| r.to_string()),
            LineExchange::Pop { replies, .. } => replies
                .iter()
                .find(|r| matches!(r, pop::Reply::Err(_)))
                .map(|r| String::from_utf8_lossy(&r.encode()).trim_end().to_string()),
        }
    }

    /// The lines as the trace shows them: the client's through the protocol's `Masker`
    /// (no password ever), the server's as sent (a fetched message line by line).
    pub fn masked_lines(&self) -> Vec<String> {
        match self {
            LineExchange::Commands { protocol, lines } => match protocol {
                LineProtocol::Imap => {
                    let mut m = imap::Masker::default();
                    lines.iter().map(|l| m.mask(l)).collect()
                }
                LineProtocol::Pop => {
                    let mut m = pop::Masker::default();
                    lines.iter().map(|l| m.mask(l)).collect()
                }
            },
            LineExchange::Imap { replies, .. } => {
                split_wire(replies.iter().flat_map(imap::Reply::encode))
            }
            LineExchange::Pop { replies, .. } => {
                split_wire(replies.iter().flat_map(pop::Reply::encode))
            }
        }
    }

    /// The bytes on the wire (CRLF-terminated lines): the client's lines or the server's
    /// encoded replies.
    pub fn encode(&self) -> Vec<u8> {
        match self {
            LineExchange::Commands { lines, .. } => lines
                .iter()
                .flat_map(|l| l.bytes().chain(*b"\r\n"))
                .collect(),
            LineExchange::Imap { replies, .. } => replies.iter().flat_map(|r| r.encode()).collect(),
            LineExchange::Pop { replies, .. } => replies.iter().flat_map(|r| r.encode()).collect(),
        }
    }

    /// A one-line description: `IMAP LOGIN as u@contoso.com` for a client's session, the
    /// first refusal or `mailbox data` for an answer.
    pub fn describe(&self) -> String {
        match self {
            LineExchange::Commands { protocol, lines } => {
                let how = match (protocol, self.credential()) {
                    (_, Some(Credential::Bearer { user, .. })) => {
                        format!("XOAUTH2 as {user}")
                    }
                    (LineProtocol::Imap, Some(Credential::Password { user, .. })) => {
                        let plain = lines.iter().any(|l| {
                            imap::Command::parse(l)
                                .is_ok_and(|c| matches!(c.verb, imap::Verb::Authenticate { .. }))
                        });
                        if plain {
                            format!("AUTHENTICATE PLAIN as {user}")
                        } else {
                            format!("LOGIN as {user}")
                        }
                    }
                    (LineProtocol::Pop, Some(Credential::Password { user, .. })) => {
                        format!("USER/PASS as {user}")
                    }
                    (_, None) => "session without credentials".into(),
                };
                format!("{} {how}", protocol.name())
            }
            _ => match (self.carries_mailbox(), self.refusal()) {
                (true, _) => format!("{} mailbox data", self.protocol().name()),
                (false, Some(r)) => r,
                (false, None) if self.masked_lines().is_empty() => "connection refused".into(),
                (false, None) => format!("{} session without mailbox data", self.protocol().name()),
            },
        }
    }
}

fn sasl_ir(credential: &Credential) -> (Mechanism, String) {
    match credential {
        Credential::Password { user, password } => (
            Mechanism::Plain,
            Plain {
                authzid: String::new(),
                user: user.clone(),
                password: password.clone(),
            }
            .encode(),
        ),
        Credential::Bearer { user, token } => (
            Mechanism::Xoauth2,
            Xoauth2 {
                user: user.clone(),
                token: token.clone(),
            }
            .encode(),
        ),
    }
}

/// A SASL exchange's payload: the initial response on the command line (IMAP's
/// `SASL-IR`, POP's `AUTH` argument), else the client's next line, which `i` then moves
/// past.
fn sasl_payload(initial: Option<String>, lines: &[String], i: &mut usize) -> Option<String> {
    initial.or_else(|| {
        let next = lines.get(*i).cloned();
        *i += 1;
        next
    })
}

fn sasl_credential(mechanism: Mechanism, payload: &str) -> Option<Credential> {
    match mechanism {
        Mechanism::Plain => Plain::decode(payload).ok().map(|p| Credential::Password {
            user: p.user,
            password: p.password,
        }),
        Mechanism::Xoauth2 => Xoauth2::decode(payload).ok().map(|x| Credential::Bearer {
            user: x.user,
            token: x.token,
        }),
        Mechanism::Login => None,
    }
}

fn split_wire(bytes: impl Iterator<Item = u8>) -> Vec<String> {
    let b: Vec<u8> = bytes.collect();
    let text = String::from_utf8_lossy(&b);
    let mut out: Vec<String> = text.split("\r\n").map(str::to_string).collect();
    if out.last().is_some_and(String::is_empty) {
        out.pop();
    }
    out
}

fn imap_replies(lines: &[String], oauth: bool, decision: &Decision) -> Vec<imap::Reply> {
    use imap::{Reply, Status, Verb};
    let mut out = vec![Reply::Untagged(imap::GREETING.into())];
    let mut state = State::Before;
    let mut selected = false;
    let mut i = 0;
    while i < lines.len() {
        let line = &lines[i];
        i += 1;
        let c = match imap::Command::parse(line) {
            Ok(c) => c,
            Err(bad) => {
                out.push(bad);
                continue;
            }
        };
        let tag = c.tag.as_str();
        let authed = state == State::In;
        match c.verb {
            Verb::Capability => {
                out.push(Reply::Untagged(
                    if oauth {
                        imap::CAPABILITY_TLS
                    } else {
                        IMAP_CAPABILITY_ONPREM
                    }
                    .into(),
                ));
                out.push(Reply::completed(tag, "CAPABILITY"));
            }
            Verb::Noop => out.push(Reply::completed(tag, "NOOP")),
            Verb::StartTls => {
                // Implicit TLS already: RFC 3501 refuses STARTTLS here.
                out.push(Reply::tagged(tag, Status::Bad, IMAP_INVALID_STATE))
            }
            Verb::Logout => {
                out.push(Reply::Untagged(IMAP_BYE.into()));
                out.push(Reply::completed(tag, "LOGOUT"));
                break;
            }
            Verb::Login { .. } | Verb::Authenticate { .. } if state != State::Before => {
                out.push(Reply::tagged(tag, Status::Bad, IMAP_INVALID_STATE))
            }
            Verb::Login { .. } | Verb::Authenticate { .. } => {
                let login = matches!(c.verb, Verb::Login { .. });
                let xoauth2 = matches!(
                    c.verb,
                    Verb::Authenticate {
                        mechanism: Mechanism::Xoauth2,
                        ..
                    }
                );
                if let Verb::Authenticate { initial: None, .. } = c.verb {
                    out.push(Reply::Continue(String::new()));
                    i += 1;
                }
                let accepted = matches!(decision, Decision::Accepted { .. }) && (oauth || !xoauth2);
                if accepted {
                    state = State::In;
                    out.push(Reply::completed(
                        tag,
                        if login { "LOGIN" } else { "AUTHENTICATE" },
                    ));
                } else {
                    state = State::Refused;
                    out.push(if login {
                        Reply::login_failed(tag)
                    } else {
                        Reply::authenticate_failed(tag)
                    });
                }
            }
            Verb::Select(_) if authed => {
                selected = true;
                out.push(Reply::Untagged("1 EXISTS".into()));
                out.push(Reply::Untagged("0 RECENT".into()));
                out.push(Reply::tagged(
                    tag,
                    Status::Ok,
                    "[READ-WRITE] SELECT completed.",
                ));
            }
            Verb::Fetch { seq, .. } if authed && selected => match decision {
                Decision::Accepted { message } if seq == 1 => {
                    out.push(Reply::Fetch {
                        seq,
                        message: message.clone(),
                    });
                    out.push(Reply::completed(tag, "FETCH"));
                }
                _ => out.push(Reply::tagged(
                    tag,
                    Status::Bad,
                    "The specified message set is invalid.",
                )),
            },
            Verb::Select(_) | Verb::Fetch { .. } => {
                out.push(Reply::tagged(tag, Status::Bad, IMAP_INVALID_STATE))
            }
        }
    }
    out
}

fn pop_replies(lines: &[String], decision: &Decision) -> Vec<pop::Reply> {
    use pop::{Command, Reply};
    let mut out = vec![Reply::Ok(pop::GREETING.into())];
    let mut state = State::Before;
    let mut user = false;
    let accepted = matches!(decision, Decision::Accepted { .. });
    let mut i = 0;
    while i < lines.len() {
        let line = &lines[i];
        i += 1;
        let c = match Command::parse(line) {
            Ok(c) => c,
            Err(bad) => {
                out.push(bad);
                continue;
            }
        };
        let authed = state == State::In;
        match c {
            // Its status line only: the capability list after it is not modelled (no
            // client of the simulator reads it).
            Command::Capa => out.push(Reply::Ok("Capability list follows".into())),
            Command::Quit => {
                out.push(Reply::Ok(POP_BYE.into()));
                break;
            }
            Command::User(_) if state == State::Before => {
                user = true;
                out.push(Reply::Ok(String::new()));
            }
            Command::Pass(_) if state == State::Before && user => {
                if accepted {
                    state = State::In;
                    out.push(Reply::Ok(POP_LOGGED_ON.into()));
                } else {
                    state = State::Refused;
                    out.push(Reply::Err(pop::AUTH_FAILED.into()));
                }
            }
            Command::Auth { initial, .. } if state == State::Before => {
                if initial.is_none() {
                    out.push(Reply::Continue(String::new()));
                    i += 1;
                }
                if accepted {
                    state = State::In;
                    out.push(Reply::Ok(POP_LOGGED_ON.into()));
                } else {
                    state = State::Refused;
                    out.push(Reply::Err(pop::AUTH_FAILED.into()));
                }
            }
            Command::Stat if authed => {
                let size = match decision {
                    Decision::Accepted { message } => message.len(),
                    Decision::Refused => 0,
                };
                out.push(Reply::Ok(format!("1 {size}")));
            }
            Command::Retr(n) if authed => match decision {
                Decision::Accepted { message } if n == 1 => out.push(Reply::Message {
                    text: String::new(),
                    message: message.clone(),
                }),
                _ => out.push(Reply::Err("The specified message is out of range.".into())),
            },
            _ => out.push(Reply::Err(POP_INVALID_STATE.into())),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAIL: &str = "From: a@contoso.com\r\nTo: u@contoso.com\r\nSubject: hi\r\n\r\nbody\r\n";

    fn accepted() -> Decision {
        Decision::Accepted {
            message: MAIL.into(),
        }
    }

    #[test]
    fn an_imap_login_session_reads_its_password_and_fetches_on_success() {
        let s = LineExchange::imap_login("u@contoso.com", "pw d");
        assert_eq!(
            s.credential(),
            Some(Credential::Password {
                user: "u@contoso.com".into(),
                password: "pw d".into()
            })
        );
        let a = s.answer(true, &accepted());
        assert!(a.carries_mailbox());
        assert_eq!(a.refusal(), None);
        let lines = a.masked_lines();
        assert_eq!(
            lines[0],
            "* OK The Microsoft Exchange IMAP4 service is ready."
        );
        assert_eq!(lines[1], "a1 OK LOGIN completed.");
        assert!(lines.contains(&"a4 OK LOGOUT completed.".to_string()));
        // The answer reads back with the typed parser.
        let wire = a.encode();
        let mut rest = &wire[..];
        let mut fetched = false;
        while let Some((r, next)) = imap::Reply::parse(rest) {
            fetched |= r.carries_mailbox();
            rest = next;
        }
        assert!(fetched && rest.is_empty());
        assert_eq!(s.masked_lines()[0], "a1 LOGIN u@contoso.com ********");
        assert!(!s.masked_lines().join("\n").contains("pw d"));
    }

    #[test]
    fn a_refused_imap_login_is_no_and_later_commands_are_out_of_state() {
        let s = LineExchange::imap_login("u@contoso.com", "pw");
        let a = s.answer(false, &Decision::Refused);
        assert!(!a.carries_mailbox());
        assert_eq!(a.refusal().as_deref(), Some("a1 NO LOGIN failed."));
        assert!(a
            .masked_lines()
            .contains(&"a2 BAD Command received in Invalid state.".to_string()));
    }

    #[test]
    fn malformed_lines_get_the_documented_refusals() {
        let s = LineExchange::commands(
            LineProtocol::Imap,
            vec!["a1 FROB".into(), "".into(), "a2 LOGOUT".into()],
        );
        assert_eq!(s.credential(), None);
        let a = s.answer(true, &Decision::Refused);
        assert_eq!(
            a.masked_lines(),
            vec![
                "* OK The Microsoft Exchange IMAP4 service is ready.",
                "a1 BAD Command Error. 12",
                "* BAD Command Error. 12",
                "* BYE Microsoft Exchange Server IMAP4 server signing off.",
                "a2 OK LOGOUT completed.",
            ]
        );
        assert_eq!(a.refusal().as_deref(), Some("a1 BAD Command Error. 12"));
        let p = LineExchange::commands(LineProtocol::Pop, vec!["FROB".into(), "QUIT".into()]);
        let a = p.answer(true, &Decision::Refused);
        assert_eq!(a.refusal().as_deref(), Some("-ERR Protocol error. 14"));
    }

    #[test]
    fn sasl_sessions_carry_their_credential_and_mask_it() {
        let pw = Credential::Password {
            user: "u@contoso.com".into(),
            password: "hunter2".into(),
        };
        let s = LineExchange::imap_authenticate(&pw);
        assert_eq!(s.credential(), Some(pw.clone()));
        assert_eq!(s.describe(), "IMAP AUTHENTICATE PLAIN as u@contoso.com");
        assert!(!s.masked_lines().join("\n").contains("aHVudGVyMg"));
        let bearer = Credential::Bearer {
            user: "u@contoso.com".into(),
            token: "eyJ0.x.y".into(),
        };
        let s = LineExchange::imap_authenticate(&bearer);
        assert_eq!(s.credential(), Some(bearer.clone()));
        // On-premises offers no XOAUTH2: refused whatever was decided.
        let a = s.answer(false, &accepted());
        assert_eq!(a.refusal().as_deref(), Some("a1 NO AUTHENTICATE failed."));
        assert!(s.answer(true, &accepted()).carries_mailbox());
        let p = LineExchange::pop_authenticate(&bearer);
        assert_eq!(p.credential(), Some(bearer));
        // A continuation: the payload is the next line.
        let c = LineExchange::commands(
            LineProtocol::Pop,
            vec!["AUTH PLAIN".into(), sasl_ir(&pw).1, "QUIT".into()],
        );
        assert_eq!(c.credential(), Some(pw));
        assert_eq!(
            c.masked_lines()[1],
            "<masked PLAIN credentials of u@contoso.com>"
        );
    }

    #[test]
    fn a_pop_session_retrieves_on_success_and_errs_on_refusal() {
        let s = LineExchange::pop_login("u@contoso.com", "pw");
        assert_eq!(s.masked_lines()[1], "PASS ********");
        let a = s.answer(true, &accepted());
        assert!(a.carries_mailbox());
        let r = s.answer(true, &Decision::Refused);
        assert_eq!(
            r.refusal().as_deref(),
            Some("-ERR Authentication failure: unknown user name or bad password.")
        );
        assert!(!r.carries_mailbox());
        assert_eq!(
            LineExchange::no_service(LineProtocol::Pop).describe(),
            "connection refused"
        );
    }
}
