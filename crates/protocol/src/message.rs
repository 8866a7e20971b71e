//! Messages: HTTP requests and responses, redirects, timers and notes, each split into
//! what crosses the wire ([`Wire`], all a receiver gets) and what only the trace sees
//! ([`Meta`]).

use std::borrow::Cow;

use crate::flows::Stage;
use crate::headers::{self, HeaderName};
use crate::line::session::LineExchange;
use crate::{Body, FaultCode, Token, Url};

/// What a message is (contract `kind`; `dropped` is decided by the network, not here).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// An HTTP request (or a request-like call between services).
    Request,
    /// An HTTP response.
    Response,
    /// An HTTP 302 response; its `url` is the `Location`.
    Redirect,
    /// A timer an actor set for itself.
    Timer,
    /// A note: something a party did or decided without sending a message.
    Note,
}

impl Kind {
    /// The contract's name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Kind::Request => "request",
            Kind::Response => "response",
            Kind::Redirect => "redirect",
            Kind::Timer => "timer",
            Kind::Note => "note",
        }
    }
}

/// HTTP methods: the `http` crate's (`Method::GET`, `Method::POST`...).
pub use http::Method;
/// HTTP statuses: the `http` crate's (`StatusCode::UNAUTHORIZED`...).
pub use http::StatusCode;

/// A refusal, as the refusing party reports it (contract `failure`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fault {
    /// Stable code (its string is the contract's snake_case).
    pub code: FaultCode,
    /// Who refused.
    pub party: &'static str,
    /// A human sentence.
    pub message: String,
    /// The header or event text a real admin would see.
    pub diagnostics: String,
    /// What the user sees (set by the client that gives up).
    pub symptom: Option<Cow<'static, str>>,
}

/// What crosses the wire: the part of a message its receiver sees. A party's handler
/// receives a `Wire` (a request, a response, a timer it set...), never the [`Message`]
/// around it, so it cannot read the trace's [`Meta`] of what it received.
///
/// Bodies are still the typed [`Body`]: the codecs (bytes to typed bodies and back) land
/// in a later step of issue 12, which adds the encoded `body: Bytes` and its
/// `content_type` here; until then `body` stands for the bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Wire {
    /// Request, response, redirect, timer or note.
    pub kind: Kind,
    /// Request method.
    pub method: Option<Method>,
    /// Request URL, or a redirect's `Location`.
    pub url: Option<Url>,
    /// Response status.
    pub status: Option<StatusCode>,
    /// Headers in wire order.
    /// (Names are `http::HeaderName`s from [`crate::headers`]; values stay strings, see
    /// that module.)
    pub headers: Vec<(HeaderName, String)>,
    /// The body.
    pub body: Body,
    /// Correlation id: a response carries its request's (what the connection it answers
    /// on tells a real client); a timer's argument.
    pub conv: u64,
    /// An IMAP or POP session (issue 12 item 4): the client's command lines on a request
    /// to an `imaps`/`pop3s` URL (no method), the server's replies on its answer (no
    /// status). `None` on HTTP messages. Boxed: most messages are HTTP.
    pub line: Option<Box<LineExchange>>,
}

/// What the trace, the monitor and the environment know of a message and its receiver
/// never sees: the documented step it realizes, its one-line summary, the label of the
/// token it carries, the tokens it issues, the refusal it reports, whether traces leave
/// it out. A sender writes it beside what it sends (the builders of [`Message`]).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Meta {
    /// The id of the token this message carries (`AT1`...).
    pub token: Option<String>,
    /// What the message does.
    pub stage: Option<Stage>,
    /// One line a trainer can read aloud.
    pub summary: Cow<'static, str>,
    /// Tokens minted in this message (by the issuer, on its response).
    /// (Shared: the monitor keeps each token's record without copying it.)
    pub issued: Vec<std::sync::Arc<Token>>,
    /// A refusal reported by this message.
    pub fault: Option<Box<Fault>>,
    /// Bookkeeping that traces leave out (a request timeout: when it matters, the party
    /// reports the failure in a message or note of its own).
    pub quiet: bool,
    /// The sender asks its environment to give this message the stage of the message it
    /// is handling ([`Message::same_stage`]): a reply "at the request's stage" is labelled
    /// by the environment, so the party never reads the request's trace metadata. Settled
    /// (and cleared) when sent, by [`Message::settle`].
    pub same_stage: bool,
    /// The sender relays what it received ([`Message::relayed`]): the environment gives
    /// the message the whole metadata of the message being handled (a relay passes the
    /// step, summary, token label and refusal on; tokens are issued once, by their issuer,
    /// so a relayed answer issues none). Settled (and cleared) when sent.
    pub relayed: bool,
}

impl Meta {
    /// The trace name of the token with compact serialization `token` among those this
    /// message issues (what an environment's [`crate::Env::issued_label`] answers).
    pub fn issued_label(&self, token: &str) -> Option<String> {
        self.issued
            .iter()
            .find(|t| t.jwt == token)
            .map(|t| t.id.clone())
    }
}

/// The trace label of the message being handled, as its environment gives it
/// ([`crate::Env::label`]): opaque to the party, which can only store it (with a request
/// it holds for a later answer) and put it on what it sends ([`Message::labelled`],
/// [`Message::carrying_label`]). That is how a held request's answer takes the request's
/// step without the party reading the request's metadata.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Label {
    stage: Option<Stage>,
    token: Option<String>,
}

impl Label {
    /// The label of a message with this metadata. For environments.
    pub fn of(meta: &Meta) -> Label {
        Label {
            stage: meta.stage,
            token: meta.token.clone(),
        }
    }
    /// A label with `stage` and no token: for a party that names the step itself.
    pub fn stage(stage: Option<Stage>) -> Label {
        Label { stage, token: None }
    }
    /// This label, with `stage` when it has none.
    pub fn or_stage(mut self, stage: Stage) -> Label {
        self.stage.get_or_insert(stage);
        self
    }
}

impl From<Option<Stage>> for Label {
    fn from(stage: Option<Stage>) -> Label {
        Label::stage(stage)
    }
}

impl From<Stage> for Label {
    fn from(stage: Stage) -> Label {
        Label::stage(Some(stage))
    }
}

/// One message between two parties, as the world carries it: the [`Wire`] part its
/// receiver gets, and the trace's [`Meta`]. It dereferences to its wire part, so a sender
/// builds and edits what it sends in place.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Message {
    /// What crosses the wire.
    pub wire: Wire,
    /// What only the trace, the monitor and the environment see.
    pub meta: Meta,
}

impl std::ops::Deref for Message {
    type Target = Wire;
    fn deref(&self) -> &Wire {
        &self.wire
    }
}

impl std::ops::DerefMut for Message {
    fn deref_mut(&mut self) -> &mut Wire {
        &mut self.wire
    }
}

impl Wire {
    /// The first header named `name` (names are case-insensitive: a `HeaderName` is
    /// lower case).
    pub fn header_value(&self, name: &HeaderName) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
    /// Every header named `name`, in wire order.
    pub fn header_values<'a>(&'a self, name: &'a HeaderName) -> impl Iterator<Item = &'a str> + 'a {
        self.headers
            .iter()
            .filter(move |(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
    /// The status as a number, 0 when there is none (for messages that quote it).
    pub fn status_number(&self) -> u16 {
        self.status.map_or(0, |s| s.as_u16())
    }
    /// The content type the message's `Content-Type` header names, else its body's.
    pub fn content_type(&self) -> Option<crate::codec::ContentType> {
        match (self.header_value(&headers::CONTENT_TYPE), &self.body) {
            // The header its sender wrote for the encoded body: no parsing.
            (Some(v), Body::Encoded(e)) if v == e.content_type.as_str() => Some(e.content_type),
            (Some(v), _) => {
                crate::codec::ContentType::parse(v).or_else(|| self.body.content_type())
            }
            (None, _) => self.body.content_type(),
        }
    }
    /// The body's bytes (empty when it has none or is not encoded).
    pub fn bytes(&self) -> &[u8] {
        self.body.bytes()
    }
    /// The page this message's body is: an HTML body that reads as one of the pages the
    /// flows show (`None` otherwise).
    pub fn page(&self) -> Option<&crate::Page> {
        self.encoded()
            .filter(|_| self.content_type() == Some(crate::codec::ContentType::Html))
            .and_then(|e| e.page())
    }
    /// The form this message's body is: its `Content-Type` is
    /// `application/x-www-form-urlencoded` and its bytes decode as one (`None` otherwise).
    pub fn form(&self) -> Option<&crate::Form> {
        self.encoded()
            .filter(|_| self.content_type() == Some(crate::codec::ContentType::Form))
            .and_then(|e| e.form())
    }
    /// The encoded body, if the body is bytes.
    pub fn encoded(&self) -> Option<&crate::codec::Encoded> {
        match &self.body {
            Body::Encoded(e) => Some(e),
            _ => None,
        }
    }
    /// The token endpoint's success answer this message is, read from its bytes: a `200`
    /// whose JSON body decodes as one (`None` for anything else, an error answer or bytes
    /// that are not a token response).
    pub fn token_answer(&self) -> Option<crate::codec::oauth::TokenAnswer> {
        (self.status == Some(StatusCode::OK)
            && self.content_type() == Some(crate::codec::ContentType::Json))
        .then(|| crate::codec::oauth::TokenAnswer::decode(self.bytes()).ok())
        .flatten()
    }
    /// Whether this message carries mailbox content: an encoded mailbox answer, as
    /// [`crate::codec::carries_mailbox`] reads it from the bytes and the `Content-Type`
    /// they came with, or an IMAP/POP answer whose replies carry a fetched message.
    pub fn carries_mailbox(&self) -> bool {
        if self.line.as_ref().is_some_and(|l| l.carries_mailbox()) {
            return true;
        }
        match &self.body {
            Body::Encoded(e) => match self.content_type() {
                None => e.carries_mailbox(),
                Some(ct) if ct == e.content_type => e.carries_mailbox(),
                Some(ct) => crate::codec::carries_mailbox(ct, &e.bytes),
            },
            _ => false,
        }
    }
}

impl Message {
    fn new(kind: Kind, summary: impl Into<Cow<'static, str>>) -> Message {
        Message {
            wire: Wire {
                kind,
                method: None,
                url: None,
                status: None,
                headers: Vec::new(),
                body: Body::Empty,
                conv: 0,
                line: None,
            },
            meta: Meta {
                summary: summary.into(),
                ..Meta::default()
            },
        }
    }

    /// A request.
    pub fn request(
        method: Method,
        url: Url,
        conv: u64,
        summary: impl Into<Cow<'static, str>>,
    ) -> Message {
        let mut m = Message::new(Kind::Request, summary);
        m.method = Some(method);
        m.url = Some(url);
        m.conv = conv;
        m
    }

    /// An IMAP or POP session to `url` (scheme `imaps` or `pop3s`, [`Url::line`]): the
    /// client's command lines, no HTTP method.
    pub fn line_session(
        url: Url,
        conv: u64,
        session: LineExchange,
        summary: impl Into<Cow<'static, str>>,
    ) -> Message {
        let mut m = Message::new(Kind::Request, summary);
        m.url = Some(url);
        m.conv = conv;
        m.line = Some(Box::new(session));
        m
    }

    /// The server's answer to the line session `req`: its replies, no HTTP status.
    pub fn line_answer(
        req: &Wire,
        replies: LineExchange,
        summary: impl Into<Cow<'static, str>>,
    ) -> Message {
        let mut m = Message::new(Kind::Response, summary);
        m.conv = req.conv;
        m.line = Some(Box::new(replies));
        m
    }

    /// A response to `req` with `status` (a constant of the sender's, 100 to 999), keeping
    /// its correlation id.
    pub fn response(req: &Wire, status: u16, summary: impl Into<Cow<'static, str>>) -> Message {
        let mut m = Message::new(Kind::Response, summary);
        m.status = Some(StatusCode::from_u16(status).expect("a status between 100 and 999"));
        m.conv = req.conv;
        m
    }

    /// A 302 redirect answering `req`, to `location`.
    pub fn redirect(req: &Wire, location: Url, summary: impl Into<Cow<'static, str>>) -> Message {
        let mut m = Message::new(Kind::Redirect, summary);
        m.status = Some(StatusCode::FOUND);
        m.headers.push((headers::LOCATION.clone(), location.href()));
        m.url = Some(location);
        m.conv = req.conv;
        m
    }

    /// A timer with a tag.
    pub fn timer(tag: &'static str) -> Message {
        let mut m = Message::new(Kind::Timer, tag);
        m.body = Body::Timer(tag);
        m
    }

    /// A timer with a tag and an argument (carried in `conv`, e.g. the correlation id of a
    /// request to time out). Such timers are bookkeeping: traces leave them out.
    pub fn timer_for(tag: &'static str, arg: u64) -> Message {
        let mut m = Message::timer(tag);
        m.conv = arg;
        m.meta.quiet = true;
        m
    }

    /// A note.
    pub fn note(summary: impl Into<Cow<'static, str>>) -> Message {
        Message::new(Kind::Note, summary)
    }

    /// The 403.6 an edge device (proxy, load balancer, firewall in front of IIS) sends to a
    /// source outside its IP allow list, reported by `party`.
    pub fn ip_rejected(req: &Wire, party: &'static str) -> Message {
        Message::response(
            req,
            403,
            "the edge rejects the connection: source IP not allowed",
        )
        .same_stage()
        .with_body(Body::Lines(vec![
            "HTTP Error 403.6 - Forbidden: the IP address of the client has been rejected".into(),
        ]))
        .with_fault(Fault {
            code: FaultCode::IpRestricted,
            party,
            message:
                "IP restrictions at the edge do not include the ranges the caller connects from"
                    .into(),
            diagnostics: "HTTP 403.6: the client IP address is not in the allowed ranges".into(),
            symptom: None,
        })
    }

    /// Adds a header (builder style).
    pub fn header(mut self, name: &HeaderName, value: impl Into<String>) -> Message {
        self.headers.push((name.clone(), value.into()));
        self
    }
    /// Sets the body (builder style).
    pub fn with_body(mut self, body: Body) -> Message {
        self.body = body;
        self
    }
    /// Sets an HTML page body (`text/html; charset=utf-8`) and its `Content-Type` header
    /// (builder style).
    pub fn with_page(self, page: &crate::Page) -> Message {
        self.with_encoded(crate::codec::html::encode(page))
    }
    /// Sets a form body (`application/x-www-form-urlencoded`) and its `Content-Type`
    /// header (builder style).
    pub fn with_form(self, form: crate::Form) -> Message {
        self.with_encoded(form.encode())
    }
    /// Sets an encoded body and its `Content-Type` header, unless the sender wrote one
    /// (builder style): what a real sender puts on the wire.
    pub fn with_encoded(mut self, body: crate::codec::Encoded) -> Message {
        if self.header_value(&headers::CONTENT_TYPE).is_none() {
            self.headers.push((
                headers::CONTENT_TYPE.clone(),
                body.content_type.as_str().to_string(),
            ));
        }
        self.body = Body::Encoded(body);
        self
    }
    /// Sets the stage (builder style).
    pub fn at(mut self, stage: Stage) -> Message {
        self.meta.stage = Some(stage);
        self
    }
    /// Sets the stage when there is one (builder style).
    pub fn at_opt(mut self, stage: Option<Stage>) -> Message {
        self.meta.stage = stage;
        self
    }
    /// Takes the stage of `label` (builder style): the step of a request held for a
    /// later answer, whose [`crate::Env::label`] the party saved.
    pub fn labelled(mut self, label: &Label) -> Message {
        self.meta.stage = label.stage;
        self
    }
    /// Names the token `label` says its message carried (builder style): a party passing
    /// on a credential it was given, whose [`crate::Env::label`] it saved.
    pub fn carrying_label(mut self, label: &Label) -> Message {
        self.meta.token.clone_from(&label.token);
        self
    }
    /// Asks the environment to give this message the stage of the message being handled
    /// when it is sent (builder style): how a reply takes its request's stage without
    /// the party reading it. Only for a message sent while handling that request; a
    /// request held for a later answer takes its saved [`Label`].
    pub fn same_stage(mut self) -> Message {
        self.meta.same_stage = true;
        self
    }
    /// What a relay sends on: `wire` (the request or answer it received, as it edited
    /// it), with the whole metadata of the message being handled, which the environment
    /// gives it when it is sent ([`Meta::relayed`]).
    pub fn relayed(wire: Wire) -> Message {
        Message {
            wire,
            meta: Meta {
                relayed: true,
                ..Meta::default()
            },
        }
    }
    /// For environments, on sending: settles what the sender asked of the environment,
    /// from `handled`, the metadata of the message being handled: a [`Message::relayed`]
    /// message takes all of it (but the tokens, issued once by their issuer, on the
    /// first hop), a [`Message::same_stage`] one its stage. Clears both requests.
    pub fn settle(&mut self, handled: &Meta) {
        if self.meta.relayed {
            let answer = matches!(self.wire.kind, Kind::Response | Kind::Redirect);
            self.meta = Meta {
                token: handled.token.clone(),
                stage: handled.stage,
                summary: handled.summary.clone(),
                // Not cloned only to be dropped: an answer's tokens stay with their issuer.
                issued: if answer {
                    Vec::new()
                } else {
                    handled.issued.clone()
                },
                fault: handled.fault.clone(),
                quiet: handled.quiet,
                same_stage: false,
                relayed: false,
            };
            return;
        }
        if std::mem::take(&mut self.meta.same_stage) {
            self.meta.stage = handled.stage;
        }
    }
    /// Records a token minted in this message (builder style; for its issuer).
    pub fn issuing(mut self, token: crate::Token) -> Message {
        self.meta.issued.push(std::sync::Arc::new(token));
        self
    }
    /// Names the carried token when there is one (builder style).
    pub fn carrying_opt(mut self, token: Option<String>) -> Message {
        self.meta.token = token;
        self
    }
    /// Names the carried token (builder style).
    pub fn carrying(mut self, token: impl Into<String>) -> Message {
        self.meta.token = Some(token.into());
        self
    }
    /// Attaches a refusal (builder style): the trace's record ([`Meta::fault`]) only.
    /// Nothing of it crosses the wire: a receiver learns a refusal from the error body
    /// and headers the refusing service writes ([`crate::refusal::read`]).
    pub fn with_fault(mut self, fault: Fault) -> Message {
        self.meta.fault = Some(Box::new(fault));
        self
    }
    /// The message's parts: what crosses the wire, and the trace's metadata.
    pub fn split(self) -> (Wire, Meta) {
        (self.wire, self.meta)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::token::TokenKind;

    fn token(id: &str) -> Token {
        Token {
            id: id.into(),
            kind: TokenKind::Access,
            issuer: "entra-id",
            client: "app".into(),
            audience: "https://mail.contoso.com".into(),
            obo_of: None,
            amr: vec!["pwd".into()],
            issued_ms: 0,
            expires_ms: 1,
            jwt: "a.b.c".into(),
            upn: String::new(),
        }
    }

    fn refusal() -> Fault {
        Fault {
            code: FaultCode::InvalidGrant,
            party: "entra-id",
            message: "the grant is refused".into(),
            diagnostics: "AADSTS70008".into(),
            symptom: None,
        }
    }

    /// The metadata of an answer that issued a token, carried one and refused.
    fn handled() -> Meta {
        Message::response(&Message::note("x").wire, 400, "upstream refuses")
            .at(Stage::TokensIssued)
            .carrying("AT1")
            .issuing(token("AT2"))
            .with_fault(refusal())
            .meta
    }

    #[test]
    fn a_relayed_answer_takes_the_handled_metadata_but_issues_no_token() {
        let wire = Message::response(&Message::note("x").wire, 400, "").wire;
        let mut relayed = Message::relayed(wire);
        relayed.settle(&handled());
        let want = Meta {
            issued: Vec::new(),
            ..handled()
        };
        assert_eq!(relayed.meta, want);
        assert!(!relayed.meta.relayed && !relayed.meta.same_stage);
    }

    #[test]
    fn a_relayed_request_takes_the_handled_metadata_whole() {
        let wire = Message::request(Method::GET, Url::https("x.test", "/"), 1, "").wire;
        let mut relayed = Message::relayed(wire);
        relayed.settle(&handled());
        assert_eq!(relayed.meta, handled());
    }

    #[test]
    fn settling_keeps_what_a_sender_wrote_unless_it_asked_the_environment() {
        let mut own = Message::note("own").at(Stage::Sync);
        own.settle(&handled());
        assert_eq!(
            (own.meta.stage, own.meta.summary.as_ref()),
            (Some(Stage::Sync), "own")
        );
        let mut same = Message::note("own").same_stage();
        same.settle(&handled());
        assert_eq!(
            (same.meta.stage, same.meta.summary.as_ref(), same.meta.token),
            (Some(Stage::TokensIssued), "own", None)
        );
    }

    #[test]
    fn a_label_puts_the_held_stage_and_token_on_what_is_sent_later() {
        let label = Label::of(&handled());
        let m = Message::note("later")
            .labelled(&label)
            .carrying_label(&label);
        assert_eq!(m.meta.stage, Some(Stage::TokensIssued));
        assert_eq!(m.meta.token.as_deref(), Some("AT1"));
        let none = Label::default().or_stage(Stage::Obo);
        assert_eq!(
            Message::note("n").labelled(&none).meta.stage,
            Some(Stage::Obo)
        );
        let kept = Label::of(&handled()).or_stage(Stage::Obo);
        assert_eq!(
            Message::note("n").labelled(&kept).meta.stage,
            Some(Stage::TokensIssued)
        );
    }

    #[test]
    fn a_refusal_stays_in_the_trace_and_never_crosses_the_wire() {
        let bare = Message::response(&Message::note("x").wire, 401, "no");
        let answer = bare.clone().with_fault(refusal());
        // The receiver's part is the same with or without the trace's record: no field
        // of a `Wire` carries an hmasim `Fault` (`Wire::refusal` is gone).
        assert_eq!(answer.wire, bare.wire);
        assert_eq!(answer.meta.fault.as_deref(), Some(&refusal()));
        let note = Message::note("gave up").with_fault(refusal());
        assert!(note.meta.fault.is_some());
    }
}
