//! Messages: HTTP requests and responses, redirects, timers and notes.

use std::borrow::Cow;

use crate::flows::Stage;
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

/// HTTP methods used in the flows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    /// GET.
    Get,
    /// POST.
    Post,
}

impl Method {
    /// The method's name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
        }
    }
}

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

/// One message between two parties.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Message {
    /// Request, response, redirect, timer or note.
    pub kind: Kind,
    /// Request method.
    pub method: Option<Method>,
    /// Request URL, or a redirect's `Location`.
    pub url: Option<Url>,
    /// Response status.
    pub status: Option<u16>,
    /// Headers in wire order.
    pub headers: Vec<(&'static str, String)>,
    /// The body.
    pub body: Body,
    /// The id of the token this message carries (`AT1`...).
    pub token: Option<String>,
    /// What the message does.
    pub stage: Option<Stage>,
    /// One line a trainer can read aloud.
    pub summary: Cow<'static, str>,
    /// Correlation id: a response carries its request's.
    pub conv: u64,
    /// Tokens minted in this message (by the issuer, on its response).
    pub issued: Vec<Token>,
    /// A refusal reported by this message.
    pub fault: Option<Box<Fault>>,
    /// Bookkeeping that traces leave out (a request timeout: when it matters, the party
    /// reports the failure in a message or note of its own).
    pub quiet: bool,
    /// The sender asks its environment to give this message the stage of the message it
    /// is handling ([`Message::same_stage`]): a reply "at the request's stage" is labelled
    /// by the environment, so the party never reads the request's trace metadata. Settled
    /// (and cleared) when sent, by [`Message::settle_stage`].
    pub same_stage: bool,
}

impl Message {
    fn new(kind: Kind, summary: impl Into<Cow<'static, str>>) -> Message {
        Message {
            kind,
            method: None,
            url: None,
            status: None,
            headers: Vec::new(),
            body: Body::Empty,
            token: None,
            stage: None,
            summary: summary.into(),
            conv: 0,
            issued: Vec::new(),
            fault: None,
            quiet: false,
            same_stage: false,
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

    /// A response to `req` with `status`, keeping its correlation id.
    pub fn response(req: &Message, status: u16, summary: impl Into<Cow<'static, str>>) -> Message {
        let mut m = Message::new(Kind::Response, summary);
        m.status = Some(status);
        m.conv = req.conv;
        m
    }

    /// A 302 redirect answering `req`, to `location`.
    pub fn redirect(
        req: &Message,
        location: Url,
        summary: impl Into<Cow<'static, str>>,
    ) -> Message {
        let mut m = Message::new(Kind::Redirect, summary);
        m.status = Some(302);
        m.headers.push(("Location", location.to_string()));
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
        m.quiet = true;
        m
    }

    /// A note.
    pub fn note(summary: impl Into<Cow<'static, str>>) -> Message {
        Message::new(Kind::Note, summary)
    }

    /// The 403.6 an edge device (proxy, load balancer, firewall in front of IIS) sends to a
    /// source outside its IP allow list, reported by `party`.
    pub fn ip_rejected(req: &Message, party: &'static str) -> Message {
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
    pub fn header(mut self, name: &'static str, value: impl Into<String>) -> Message {
        self.headers.push((name, value.into()));
        self
    }
    /// Sets the body (builder style).
    pub fn with_body(mut self, body: Body) -> Message {
        self.body = body;
        self
    }
    /// Sets the stage (builder style).
    pub fn at(mut self, stage: Stage) -> Message {
        self.stage = Some(stage);
        self
    }
    /// Sets the stage when there is one (builder style).
    pub fn at_opt(mut self, stage: Option<Stage>) -> Message {
        self.stage = stage;
        self
    }
    /// Asks the environment to give this message the stage of the message being handled
    /// when it is sent (builder style): how a reply takes its request's stage without
    /// the party reading it. Only for a message sent while handling that request; a
    /// request held for a later answer is labelled explicitly.
    pub fn same_stage(mut self) -> Message {
        self.same_stage = true;
        self
    }
    /// For environments, on sending: when the sender asked for [`Message::same_stage`],
    /// sets the stage to `handled` (the stage of the message being handled) and clears
    /// the request.
    pub fn settle_stage(&mut self, handled: Option<Stage>) {
        if std::mem::take(&mut self.same_stage) {
            self.stage = handled;
        }
    }
    /// Names the carried token (builder style).
    pub fn carrying(mut self, token: impl Into<String>) -> Message {
        self.token = Some(token.into());
        self
    }
    /// Attaches a refusal (builder style).
    pub fn with_fault(mut self, fault: Fault) -> Message {
        self.fault = Some(Box::new(fault));
        self
    }

    /// The first header named `name` (case-insensitive).
    pub fn header_value(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    /// Every header named `name` (case-insensitive), in wire order.
    pub fn header_values<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.headers
            .iter()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    /// Whether this message carries mailbox content.
    pub fn carries_mailbox(&self) -> bool {
        matches!(self.body, Body::Mailbox(_))
    }
}
