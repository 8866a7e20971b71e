//! The sign-in web view shared by every client: what to do with each answer of an
//! interactive sign-in.

use hmasim_protocol::challenge::Challenge;
use hmasim_protocol::codec::oauth::OAuthError;
use hmasim_protocol::codec::{self, ContentType, DecodeError};
use hmasim_protocol::headers;
use hmasim_protocol::refusal;
use hmasim_protocol::{Body, Fault, Form, Message, Method, Page, Stage, Url};
use hmasim_protocol::{FaultCode, MfaPrompt};
use hmasim_protocol::{Label, StatusCode, Wire};

use crate::{ClientConfig, ClientKind};

/// The redirect URI of Outlook for iOS and Android.
pub const NATIVE_REDIRECT_MOBILE: &str = "msauth.com.microsoft.Outlook://auth";

/// What the web view does next.
pub(crate) enum Next {
    /// Send this request.
    Send(Box<Message>),
    /// Get a Kerberos ticket with the first request, then send the second with it.
    Kerberos(Box<Message>, Box<Message>),
    /// The sign-in returned an authorization code to the native redirect URI.
    Code(String),
    /// Mailbox content arrived (a browser session).
    Mailbox,
    /// The sign-in failed.
    Fail(Fault),
}

fn get(cfg: &ClientConfig, url: Url, label: impl Into<Label>, summary: &'static str) -> Message {
    with_device(
        cfg,
        Message::request(Method::GET, url, 0, summary)
            .header(&headers::USER_AGENT, cfg.user_agent.clone())
            .labelled(&label.into()),
    )
}

/// `m` with the device credential of a registered device when it goes to Entra ID's
/// authorize endpoint (where the broker or the browser's sign-in extension attaches it).
pub(crate) fn with_device(cfg: &ClientConfig, m: Message) -> Message {
    let to_authorize = m
        .url
        .as_ref()
        .is_some_and(|u| u.path.to_ascii_lowercase().ends_with("/oauth2/authorize"));
    match &cfg.device_credential {
        Some(c) if to_authorize => {
            m.header(hmasim_protocol::device::DEVICE_CREDENTIAL_HEADER, c.clone())
        }
        _ => m,
    }
}

fn post(
    cfg: &ClientConfig,
    url: Url,
    form: Form,
    label: impl Into<Label>,
    summary: &'static str,
) -> Message {
    Message::request(Method::POST, url, 0, summary)
        .header(&headers::USER_AGENT, cfg.user_agent.clone())
        .header(&headers::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .with_form(form)
        .labelled(&label.into())
}

fn send(m: Message) -> Next {
    Next::Send(Box::new(m))
}

fn kerberos(ticket: Message, retry: Message) -> Next {
    Next::Kerberos(Box::new(ticket), Box::new(retry))
}

/// Reacts to one answer during an interactive sign-in. `label` is the answer's trace label
/// as the environment gives it ([`hmasim_protocol::Env::label`]): following a redirect or
/// an auto-post page continues the answer's step.
pub(crate) fn step(
    cfg: &ClientConfig,
    resp: &Wire,
    label: &Label,
    request_url: Option<Url>,
) -> Next {
    match read_mail(resp) {
        Mail::Arrived => return Next::Mailbox,
        Mail::Unreadable(d) => {
            return Next::Fail(unreadable(resp, "exchange", FaultCode::AccessDenied, &d))
        }
        Mail::Not => {}
    }
    match (resp.status, resp.page()) {
        (Some(StatusCode::FOUND), _) => {
            let Some(loc) = resp.url.clone() else {
                return Next::Fail(fault_of(resp, "service", FaultCode::BadRedirect));
            };
            // A native redirect URI (`urn:ietf:wg:oauth:2.0:oob`) is the only kind that
            // is not web: the code is for the app, not a page to load.
            if !loc.is_web() {
                return match loc.param("code") {
                    Some(code) => Next::Code(code.to_string()),
                    None => Next::Fail(fault_of(resp, "entra-id", FaultCode::NoCode)),
                };
            }
            send(get(
                cfg,
                loc,
                label.clone(),
                "the client follows the redirect",
            ))
        }
        (Some(StatusCode::OK), Some(Page::SignIn { action, username })) => {
            let form = match username {
                None if action.host.starts_with("login.") => {
                    Form::new().with("UserName", cfg.upn.clone())
                }
                _ => Form::new()
                    .with("UserName", cfg.upn.clone())
                    .with("Password", cfg.password.clone()),
            };
            let (stage, summary) = if form.get("Password").is_some() {
                (
                    Stage::Credentials,
                    "the user enters the user name and password",
                )
            } else {
                (
                    Stage::EntraSignInPage,
                    "the user enters the user name; Entra ID finds the user's domain",
                )
            };
            send(post(cfg, action.clone(), form, Some(stage), summary))
        }
        (Some(StatusCode::OK), Some(Page::Mfa { action, method })) => {
            // At the registration interrupt whoever is signing in registers a method of
            // their own; a push to the user's phone needs the user.
            let approved = cfg.approve_mfa || *method == MfaPrompt::RegisterSecurityInfo;
            let form = Form::new().with("approved", approved.to_string());
            send(post(
                cfg,
                action.clone(),
                form,
                Some(Stage::MfaDone),
                "the user completes MFA",
            ))
        }
        (Some(StatusCode::OK), Some(Page::AutoPost { action, fields })) => {
            let m = post(
                cfg,
                action.clone(),
                fields.clone(),
                label.clone(),
                "the page posts the signed-in session on",
            )
            // The post carries the token the page names (its label, as the environment
            // gives it).
            .carrying_label(label);
            send(m)
        }
        (Some(StatusCode::UNAUTHORIZED), _) => {
            let negotiate = resp
                .header_values(&headers::WWW_AUTHENTICATE)
                .filter_map(|v| Challenge::parse(v).ok())
                .any(|c| matches!(c, Challenge::Negotiate(_)));
            let Some(url) = request_url else {
                return Next::Fail(fault_of(resp, "service", FaultCode::Unauthorized));
            };
            if !negotiate {
                return Next::Fail(fault_of(resp, "service", FaultCode::Unauthorized));
            }
            if cfg.kerberos {
                let ticket = Message::request(
                    Method::POST,
                    Url::https(&format!("dc.{}", cfg.domain), "/kerberos/tgs"),
                    0,
                    "the client asks the domain controller for a Kerberos service ticket",
                )
                .with_body(Body::KerberosRequest {
                    upn: cfg.upn.clone(),
                    spn: format!("HTTP/{}", url.host),
                })
                .at(Stage::IwaSignIn);
                kerberos(
                    ticket,
                    get(
                        cfg,
                        url,
                        Some(Stage::IwaSignIn),
                        "the client retries with its Kerberos ticket",
                    ),
                )
            } else {
                let mut forms = url;
                forms.set_param("wauth", "urn:oasis:names:tc:SAML:1.0:am:password");
                send(get(
                    cfg,
                    forms,
                    Some(Stage::IwaSignIn),
                    "no Kerberos here: the client asks for the forms sign-in",
                ))
            }
        }
        _ => Next::Fail(fault_of(resp, "service", FaultCode::SignInFailed)),
    }
}

/// What a client reads of an answer that may carry mail.
pub(crate) enum Mail {
    /// A mailbox answer with at least one message, decoded.
    Arrived,
    /// No mailbox answer: a refusal, a page, an empty mailbox.
    Not,
    /// A `200` in a mailbox protocol's format the client cannot read.
    Unreadable(DecodeError),
}

/// Reads `resp` with the decoder of its `Content-Type` ([`codec::read_mailbox`]): mail
/// arrived when it carries at least one message, or the mailbox's data a legacy
/// protocol serves (AutoDiscover settings, the address book manifest, ECP's options).
pub(crate) fn read_mail(resp: &Wire) -> Mail {
    // An IMAP or POP answer: mail is a fetched message among its replies.
    if resp.line.is_some() {
        return if resp.carries_mailbox() {
            Mail::Arrived
        } else {
            Mail::Not
        };
    }
    match &resp.body {
        Body::Encoded(e) if resp.status == Some(StatusCode::OK) => {
            let ct = resp.content_type().unwrap_or(e.content_type);
            // A page, a form or a text is mail only when it carries mailbox data (ECP's
            // options); whatever else it is, it is not a failure to read mail. (The
            // body's kept reading answers, with its cheap look first.)
            if ct == e.content_type
                && matches!(
                    ct,
                    ContentType::Html | ContentType::Form | ContentType::Text
                )
            {
                return if e.carries_mailbox() {
                    Mail::Arrived
                } else {
                    Mail::Not
                };
            }
            // (Read once for the monitor and the client, when the body's own type is
            // the header's.)
            let other;
            let read = if ct == e.content_type {
                e.mailbox().map_err(Clone::clone)
            } else {
                other = codec::read_mailbox(ct, &e.bytes);
                other.as_ref().map_err(Clone::clone)
            };
            match read {
                Ok(m) if m.carries_data() => Mail::Arrived,
                Ok(_) => Mail::Not,
                // A page or a form is not a mailbox answer; bytes of a mailbox format
                // that do not read are the client's failure to read them.
                Err(_)
                    if matches!(
                        ct,
                        ContentType::Html | ContentType::Form | ContentType::Text
                    ) =>
                {
                    Mail::Not
                }
                Err(d) => Mail::Unreadable(d),
            }
        }
        _ => Mail::Not,
    }
}

/// The client's failure to read a mailbox answer `resp` from `party`.
pub(crate) fn unreadable(
    resp: &Wire,
    party: &'static str,
    code: FaultCode,
    d: &DecodeError,
) -> Fault {
    Fault {
        code,
        party,
        message: format!("the client cannot read the answer: {d}"),
        diagnostics: format!("HTTP {}: {d}", resp.status_number()),
        symptom: None,
    }
}

/// What the client learns of a refusal: the error the refusing service wrote, decoded
/// ([`refusal::fault_of`]), or a generic fault from the status and a text body's first
/// line.
pub(crate) fn fault_of(resp: &Wire, party: &'static str, code: FaultCode) -> Fault {
    refusal::fault_of(resp, party, code)
}

/// The OAuth error code a token endpoint's error answer writes (`error=invalid_grant`,
/// its first `error=` line), parsed.
pub(crate) fn oauth_error(resp: &Wire) -> Option<FaultCode> {
    if resp.content_type() != Some(ContentType::Json) {
        return None;
    }
    OAuthError::decode(resp.bytes())
        .ok()
        .and_then(|e| FaultCode::parse(&e.error))
}

/// Where in its work a client was when it gave up (what the user was waiting for).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Phase {
    /// Finding the mailbox (AutoDetect).
    Detect,
    /// Connecting to the mailbox server.
    Connect,
    /// Signing in (a web sign-in, Kerberos, device registration).
    SignIn,
    /// Getting or renewing a token.
    Token,
    /// Using the mailbox (a request or a background sync).
    Use,
}

/// What the user sees when the client gives up.
pub(crate) fn symptom(kind: ClientKind, during: Phase, fault: &Fault) -> String {
    match (kind, during, fault.code) {
        (ClientKind::OutlookMobile, Phase::Detect, FaultCode::NoAuthorizationUri) => "Outlook mobile shows the legacy Basic ActiveSync sign-in dialog instead of modern authentication".into(),
        (ClientKind::OutlookMobile, Phase::Detect, _) => "Outlook mobile cannot discover the mailbox: AutoDetect finds no account".into(),
        (ClientKind::OutlookMobile, Phase::Use, _) => "Outlook mobile signs in but shows no mail: the on-premises data is stale or missing".into(),
        (ClientKind::OutlookDesktop, Phase::Connect, FaultCode::NoAuthorizationUri) => "Outlook desktop falls back to Basic and prompts for a password".into(),
        (ClientKind::OutlookDesktop, Phase::Use, _) => "Outlook desktop stays disconnected and keeps prompting for credentials".into(),
        (ClientKind::NativeMail, _, _) => format!("the mail app keeps asking for the password: {}", fault.message),
        (ClientKind::Browser, _, _) => format!("the browser shows an error instead of Outlook on the web: {}", fault.message),
        (_, Phase::SignIn | Phase::Token, _) => format!("the sign-in window shows an error: {}", fault.message),
        _ => format!("the client cannot reach the mailbox: {}", fault.message),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hmasim_protocol::codec::{Encoded, Stamp};

    fn answer(status: u16, body: Body) -> Wire {
        let req = Message::request(Method::GET, Url::https("x.test", "/"), 1, "r");
        Message::response(&req.wire, status, "a summary the client never sees")
            .with_body(body)
            .wire
    }

    #[test]
    fn a_token_endpoints_error_code_is_read_from_its_body() {
        let error = |e: OAuthError| {
            let req = Message::request(Method::POST, Url::https("x.test", "/"), 1, "r");
            Message::response(&req.wire, 400, "s")
                .with_encoded(Encoded::new(ContentType::Json, e.encode(&Stamp::default())))
                .wire
        };
        let refused = error(OAuthError::invalid_credentials());
        assert_eq!(oauth_error(&refused), Some(FaultCode::InvalidGrant));
        let other = error(OAuthError::unsupported_grant_type("x"));
        assert_eq!(oauth_error(&other), Some(FaultCode::UnsupportedGrantType));
        assert_eq!(oauth_error(&answer(400, Body::Empty)), None);
        // The same JSON under another content type is not read as an OAuth error.
        let mut text = refused.clone();
        text.headers.clear();
        text.headers
            .push((headers::CONTENT_TYPE.clone(), "text/plain".into()));
        assert_eq!(oauth_error(&text), None);
    }

    #[test]
    fn an_unexplained_answer_is_described_from_the_wire() {
        let text = answer(
            500,
            Body::Encoded(Encoded::new(
                ContentType::Text,
                b"no domain controller\r\n".to_vec(),
            )),
        );
        let f = fault_of(&text, "exchange", FaultCode::SyncFailed);
        assert_eq!(
            (f.code, f.party, f.message.as_str(), f.diagnostics.as_str()),
            (
                FaultCode::SyncFailed,
                "exchange",
                "unexpected answer: HTTP 500 (no domain controller)",
                "HTTP 500"
            )
        );
        let bare = fault_of(&answer(503, Body::Empty), "exchange", FaultCode::SyncFailed);
        assert_eq!(bare.message, "unexpected answer: HTTP 503");
    }
}
