//! What a receiver learns of a refusal: the error a refusing service really writes,
//! decoded from the answer's body and headers.
//!
//! No real service writes an hmasim [`FaultCode`]. Entra ID writes its OAuth error JSON
//! (`error`, `error_description` starting `AADSTSnnnnn:`, `error_codes`) or its sign-in
//! error page; AD FS its error page with an `MSISnnnn` event code; Exchange (on-premises
//! and Online) an `X-MS-Diagnostics` header (`2000003;reason="...";error_category="..."`);
//! IMAP and POP their reply lines (`a1 NO LOGIN failed.`, `-ERR ...`); a load balancer
//! a `text/plain` line. [`read`] decodes those carriers into a [`Refused`]: the service's
//! code, its description and what an admin sees. [`Refused::fault`] turns it into the
//! receiver's [`Fault`] through one table ([`TABLE`]) from the service's code to a
//! [`FaultCode`]; a code the table does not know, and an answer without a carrier, fall
//! back to the receiver's own code ([`fault_of`]).
//!
//! ```
//! use hmasim_protocol::codec::{oauth::OAuthError, ContentType, Encoded, Stamp};
//! use hmasim_protocol::{refusal, FaultCode, Message, Method, Url};
//!
//! let req = Message::request(Method::POST, Url::https("login.microsoftonline.com", "/t"), 1, "r");
//! let e = OAuthError::invalid_credentials();
//! let answer = Message::response(&req.wire, 400, "refused")
//!     .with_encoded(Encoded::new(ContentType::Json, e.encode(&Stamp::default())));
//! let fault = refusal::fault_of(&answer.wire, "entra-id", FaultCode::TokenFailed);
//! assert_eq!(fault.code, FaultCode::InvalidCredentials);
//! assert_eq!(fault.diagnostics, "AADSTS50126");
//! ```

use crate::codec::oauth::OAuthError;
use crate::codec::ContentType;
use crate::message::{Fault, Wire};
use crate::{headers, FaultCode, Page};

/// Where a refusal was written: the carrier a service writes its error in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Carrier {
    /// Entra ID's token endpoint: the OAuth 2 error JSON.
    OAuthError,
    /// A sign-in error page (Entra ID's or AD FS's): its code and message.
    ErrorPage,
    /// Exchange's `X-MS-Diagnostics` header.
    Diagnostics,
    /// An IMAP or POP server's refusing reply line.
    Reply,
}

/// The code a service writes in its refusal.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ServiceCode {
    /// Entra ID's `AADSTSnnnnn`.
    Aadsts(u32),
    /// AD FS's event code `MSISnnnn`.
    Msis(u32),
    /// The number an Exchange `X-MS-Diagnostics` value starts with (`2000003`).
    Exchange(u32),
}

impl ServiceCode {
    /// The service whose code it is (a party id of the traces).
    pub fn party(self) -> &'static str {
        match self {
            ServiceCode::Aadsts(_) => "entra-id",
            ServiceCode::Msis(_) => "adfs",
            ServiceCode::Exchange(_) => "exchange",
        }
    }

    /// Reads `AADSTSnnnnn` or `MSISnnnn` at the start of `s` (what an error page's code
    /// or an event text begins with).
    fn parse_prefixed(s: &str) -> Option<ServiceCode> {
        let number = |rest: &str| -> Option<u32> {
            let digits: &str = &rest[..rest.bytes().take_while(u8::is_ascii_digit).count()];
            digits.parse().ok()
        };
        if let Some(rest) = s.strip_prefix("AADSTS") {
            number(rest).map(ServiceCode::Aadsts)
        } else if let Some(rest) = s.strip_prefix("MSIS") {
            number(rest).map(ServiceCode::Msis)
        } else {
            None
        }
    }
}

/// A refusal as the receiver reads it off the wire.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refused {
    /// Where it was written.
    pub carrier: Carrier,
    /// The service's code, when the carrier holds one the reader recognises.
    pub code: Option<ServiceCode>,
    /// The RFC 6749 `error` of an OAuth error JSON (`invalid_grant`...).
    pub error: Option<String>,
    /// What the service says went wrong (the description after `AADSTSnnnnn: `, the
    /// page's message, the diagnostics' `reason`, the reply line).
    pub description: String,
    /// What an admin sees: `AADSTSnnnnn`, the page's code as written, the
    /// `X-MS-Diagnostics` value, the reply line.
    pub diagnostics: String,
}

/// Which carriers a row of [`TABLE`] applies to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Where {
    /// Wherever the code is written.
    Any,
    /// Only in this carrier.
    Only(Carrier),
}

/// The one mapping from a service's error code to the [`FaultCode`] a receiver learns.
///
/// Entra ID's codes come from "Microsoft Entra authentication and authorization error
/// codes"; AD FS's `MSIS` event codes and Exchange's `X-MS-Diagnostics` numbers from the
/// answers the parties write (`docs/wire.md`, "Refusals"). One code with two meanings is
/// told apart by where it is written, which the receiver knows from its own request (a
/// token request gets JSON, a browser sign-in a page): `AADSTS80001` on a sign-in page is
/// the pass-through agent that does not answer, at the token endpoint the federated
/// identity provider Entra ID cannot reach for a password grant (`invalid_grant`).
/// `AADSTS53003` is Conditional Access blocking the sign-in, also when the blocked
/// action is the MFA registration: the receiver cannot tell the two apart, and the trace
/// keeps the refusing party's own record. `AADSTS50076` (MFA required, refused to a
/// password grant, which cannot perform it) is Conditional Access stopping the sign-in
/// too.
pub const TABLE: &[(ServiceCode, Where, FaultCode)] = &[
    (
        ServiceCode::Aadsts(50008),
        Where::Any,
        FaultCode::FederationRejected,
    ),
    (
        ServiceCode::Aadsts(50013),
        Where::Any,
        FaultCode::InvalidGrant,
    ),
    (
        ServiceCode::Aadsts(50034),
        Where::Any,
        FaultCode::UnknownUser,
    ),
    (
        ServiceCode::Aadsts(50058),
        Where::Any,
        FaultCode::SessionExpired,
    ),
    (
        ServiceCode::Aadsts(50076),
        Where::Any,
        FaultCode::BlockedByConditionalAccess,
    ),
    (
        ServiceCode::Aadsts(50079),
        Where::Any,
        FaultCode::MfaRegistrationRequired,
    ),
    (
        ServiceCode::Aadsts(50097),
        Where::Any,
        FaultCode::DeviceRegistrationUnauthorized,
    ),
    (
        ServiceCode::Aadsts(50126),
        Where::Any,
        FaultCode::InvalidCredentials,
    ),
    (
        ServiceCode::Aadsts(50173),
        Where::Any,
        FaultCode::InvalidGrant,
    ),
    (
        ServiceCode::Aadsts(53000),
        Where::Any,
        FaultCode::DeviceNotCompliant,
    ),
    (
        ServiceCode::Aadsts(53003),
        Where::Any,
        FaultCode::BlockedByConditionalAccess,
    ),
    (
        ServiceCode::Aadsts(53004),
        Where::Any,
        FaultCode::MfaRegistrationBlockedByRisk,
    ),
    (
        ServiceCode::Aadsts(53005),
        Where::Any,
        FaultCode::AppNotApproved,
    ),
    (
        ServiceCode::Aadsts(70003),
        Where::Any,
        FaultCode::UnsupportedGrantType,
    ),
    (
        ServiceCode::Aadsts(70008),
        Where::Any,
        FaultCode::InvalidGrant,
    ),
    (
        ServiceCode::Aadsts(70043),
        Where::Any,
        FaultCode::InvalidGrant,
    ),
    (
        ServiceCode::Aadsts(80001),
        Where::Only(Carrier::ErrorPage),
        FaultCode::PtaAgentUnreachable,
    ),
    (
        ServiceCode::Aadsts(80001),
        Where::Only(Carrier::OAuthError),
        FaultCode::InvalidGrant,
    ),
    (
        ServiceCode::Aadsts(500011),
        Where::Any,
        FaultCode::InvalidResource,
    ),
    (
        ServiceCode::Aadsts(500121),
        Where::Any,
        FaultCode::MfaDenied,
    ),
    (
        ServiceCode::Aadsts(700082),
        Where::Any,
        FaultCode::InvalidGrant,
    ),
    (
        ServiceCode::Aadsts(9002313),
        Where::Any,
        FaultCode::InvalidGrant,
    ),
    (
        ServiceCode::Msis(7007),
        Where::Any,
        FaultCode::UnknownRelyingParty,
    ),
    (
        ServiceCode::Msis(7012),
        Where::Any,
        FaultCode::MfaUnreachable,
    ),
    (
        ServiceCode::Msis(7042),
        Where::Any,
        FaultCode::UnknownSession,
    ),
    (
        ServiceCode::Msis(7068),
        Where::Any,
        FaultCode::InvalidCredentials,
    ),
    (ServiceCode::Msis(7089), Where::Any, FaultCode::MfaRequired),
    (
        ServiceCode::Msis(9642),
        Where::Any,
        FaultCode::DirectoryUnreachable,
    ),
    (
        ServiceCode::Exchange(2000000),
        Where::Any,
        FaultCode::OauthNotConfigured,
    ),
    (
        ServiceCode::Exchange(2000001),
        Where::Any,
        FaultCode::InvalidSignature,
    ),
    (
        ServiceCode::Exchange(2000002),
        Where::Any,
        FaultCode::InvalidToken,
    ),
    (
        ServiceCode::Exchange(2000003),
        Where::Any,
        FaultCode::AudienceMismatch,
    ),
    (
        ServiceCode::Exchange(2000005),
        Where::Any,
        FaultCode::MailboxNotFound,
    ),
    (
        ServiceCode::Exchange(2000008),
        Where::Any,
        FaultCode::TokenExpired,
    ),
];

/// Decodes the refusal `resp` carries, if it carries one the reader knows: an IMAP or
/// POP refusing reply, an `X-MS-Diagnostics` header, an OAuth error JSON, a sign-in error
/// page. Malformed bytes are no refusal (`None`), never a panic.
pub fn read(resp: &Wire) -> Option<Refused> {
    if let Some(line) = resp.line.as_deref() {
        return line.refusal().map(|text| Refused {
            carrier: Carrier::Reply,
            code: None,
            error: None,
            description: text.clone(),
            diagnostics: text,
        });
    }
    if let Some(diag) = resp.header_value(&headers::X_MS_DIAGNOSTICS) {
        if let Some(r) = diagnostics(diag) {
            return Some(r);
        }
    }
    match resp.content_type() {
        Some(ContentType::Json) => OAuthError::decode(resp.bytes()).ok().map(|e| Refused {
            carrier: Carrier::OAuthError,
            code: Some(ServiceCode::Aadsts(e.code)),
            diagnostics: format!("AADSTS{}", e.code),
            error: Some(e.error),
            description: e.message,
        }),
        Some(ContentType::Html) => match resp.page() {
            Some(Page::Error { code, message }) => Some(Refused {
                carrier: Carrier::ErrorPage,
                code: ServiceCode::parse_prefixed(code),
                error: None,
                description: message.clone(),
                diagnostics: code.clone(),
            }),
            _ => None,
        },
        _ => None,
    }
}

/// Reads an `X-MS-Diagnostics` value: `NNNNNNN;reason="...";error_category="..."`. A
/// value that does not start with a number is no refusal the reader knows.
fn diagnostics(value: &str) -> Option<Refused> {
    let (number, rest) = value.split_once(';').unwrap_or((value, ""));
    let number: u32 = number.trim().parse().ok()?;
    let reason = rest
        .split_once("reason=\"")
        .and_then(|(_, r)| r.split_once('"'))
        .map(|(r, _)| r.to_string())
        .unwrap_or_default();
    Some(Refused {
        carrier: Carrier::Diagnostics,
        code: Some(ServiceCode::Exchange(number)),
        error: None,
        description: reason,
        diagnostics: value.to_string(),
    })
}

impl Refused {
    /// The [`FaultCode`] the service's code stands for ([`TABLE`]); for an OAuth error
    /// whose `AADSTS` code the table does not know, its `error` when that is a code of
    /// the vocabulary (`invalid_grant`, `unsupported_grant_type`, `invalid_resource`).
    pub fn fault_code(&self) -> Option<FaultCode> {
        let by_table = self.code.and_then(|code| {
            TABLE
                .iter()
                .find(|(c, w, _)| {
                    *c == code && (*w == Where::Any || *w == Where::Only(self.carrier))
                })
                .map(|(_, _, f)| *f)
        });
        by_table.or_else(|| self.error.as_deref().and_then(FaultCode::parse))
    }

    /// The receiver's record of the refusal: the table's code (else `fallback`), the
    /// service that wrote an `AADSTS` or `MSIS` code (else `party`, who the receiver
    /// asked), the description and the diagnostics.
    pub fn fault(&self, party: &'static str, fallback: FaultCode) -> Fault {
        let party = match self.code {
            Some(c @ (ServiceCode::Aadsts(_) | ServiceCode::Msis(_))) => c.party(),
            _ => party,
        };
        Fault {
            code: self.fault_code().unwrap_or(fallback),
            party,
            message: match self.carrier {
                Carrier::Reply => format!("the server answers {}", self.description),
                _ => self.description.clone(),
            },
            diagnostics: self.diagnostics.clone(),
            symptom: None,
        }
    }
}

/// What a receiver learns from an answer: the refusal it carries ([`read`],
/// [`Refused::fault`]), or, when it carries none, a generic fault with `fallback`, from
/// its status and the first line of a `text/plain` body (a load balancer's "no virtual
/// server for ...").
pub fn fault_of(resp: &Wire, party: &'static str, fallback: FaultCode) -> Fault {
    match read(resp) {
        Some(r) => r.fault(party, fallback),
        None => Fault {
            code: fallback,
            party,
            message: match std::str::from_utf8(resp.bytes())
                .ok()
                .filter(|_| resp.content_type() == Some(ContentType::Text))
                .and_then(|t| t.lines().next())
                .filter(|l| !l.is_empty())
            {
                Some(first) => {
                    format!("unexpected answer: HTTP {} ({first})", resp.status_number())
                }
                None => format!("unexpected answer: HTTP {}", resp.status_number()),
            },
            diagnostics: format!("HTTP {}", resp.status_number()),
            symptom: None,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::{Encoded, Stamp};
    use crate::line::session::{Decision, LineExchange};
    use crate::{Message, Method, Url};

    fn answer(status: u16) -> Message {
        let req = Message::request(Method::GET, Url::https("x.test", "/"), 1, "r");
        Message::response(&req.wire, status, "a summary no receiver sees")
    }

    fn json(status: u16, bytes: &[u8]) -> Wire {
        answer(status)
            .with_encoded(Encoded::new(ContentType::Json, bytes.to_vec()))
            .wire
    }

    #[test]
    fn an_oauth_error_json_gives_its_aadsts_code_and_description() {
        let e = OAuthError {
            error: "interaction_required".into(),
            code: 53003,
            message: "Access has been blocked by Conditional Access policies.".into(),
        };
        let stamp = Stamp {
            trace_id: "t".into(),
            correlation_id: "c".into(),
            timestamp: "2026-01-01 00:00:00Z".into(),
        };
        let r = read(&json(400, &e.encode(&stamp))).expect("a refusal");
        assert_eq!(r.carrier, Carrier::OAuthError);
        assert_eq!(r.code, Some(ServiceCode::Aadsts(53003)));
        assert_eq!(r.error.as_deref(), Some("interaction_required"));
        // The description without its code and Entra's trace tail.
        assert_eq!(r.description, e.message);
        let f = r.fault("somebody", FaultCode::TokenFailed);
        assert_eq!(f.code, FaultCode::BlockedByConditionalAccess);
        assert_eq!(
            (f.party, f.diagnostics.as_str()),
            ("entra-id", "AADSTS53003")
        );
    }

    #[test]
    fn one_code_two_meanings_is_told_apart_by_where_it_is_written() {
        let page = answer(200)
            .with_page(&Page::Error {
                code: "AADSTS80001".into(),
                message: "no agent".into(),
            })
            .wire;
        let r = read(&page).expect("an error page");
        assert_eq!(r.carrier, Carrier::ErrorPage);
        assert_eq!(r.fault_code(), Some(FaultCode::PtaAgentUnreachable));
        let e = OAuthError {
            error: "invalid_grant".into(),
            code: 80001,
            message: "the identity provider cannot be reached".into(),
        };
        let token = json(400, &e.encode(&Stamp::default()));
        assert_eq!(
            read(&token).and_then(|r| r.fault_code()),
            Some(FaultCode::InvalidGrant)
        );
    }

    #[test]
    fn an_adfs_error_page_gives_its_msis_code() {
        let page = answer(200)
            .with_page(&Page::Error {
                code: "MSIS7068: incorrect user ID or password".into(),
                message: "Active Directory rejected the user name or password".into(),
            })
            .wire;
        let f = fault_of(&page, "entra-id", FaultCode::SignInFailed);
        assert_eq!(f.code, FaultCode::InvalidCredentials);
        assert_eq!(f.party, "adfs");
        assert_eq!(f.diagnostics, "MSIS7068: incorrect user ID or password");
        assert_eq!(
            f.message,
            "Active Directory rejected the user name or password"
        );
        // A page whose code names no known service: the receiver's code, the page's words.
        let other = answer(200)
            .with_page(&Page::Error {
                code: "Azure MFA adapter: authentication failed".into(),
                message: "the MFA request was not approved".into(),
            })
            .wire;
        let f = fault_of(&other, "adfs", FaultCode::SignInFailed);
        assert_eq!((f.code, f.party), (FaultCode::SignInFailed, "adfs"));
        assert_eq!(f.message, "the MFA request was not approved");
    }

    #[test]
    fn exchanges_diagnostics_header_gives_its_number_and_reason() {
        let value = "2000003;reason=\"The hostname component of the audience claim value is invalid. Expected 'https://mail.contoso.com'. Actual 'http://mail.contoso.com'.\";error_category=\"invalid_resource\"";
        let wire = answer(401)
            .header(&headers::WWW_AUTHENTICATE, "Bearer error=\"invalid_token\"")
            .header(&headers::X_MS_DIAGNOSTICS, value)
            .wire;
        let r = read(&wire).expect("diagnostics");
        assert_eq!(r.code, Some(ServiceCode::Exchange(2000003)));
        assert!(r.description.starts_with("The hostname component"));
        let f = r.fault("exchange-onprem", FaultCode::Unauthorized);
        assert_eq!(f.code, FaultCode::AudienceMismatch);
        assert_eq!(
            (f.party, f.diagnostics.as_str()),
            ("exchange-onprem", value)
        );
        // The number changes, the code follows.
        let expired = answer(401)
            .header(
                &headers::X_MS_DIAGNOSTICS,
                "2000008;reason=\"The token has expired.\";error_category=\"invalid_token\"",
            )
            .wire;
        assert_eq!(
            fault_of(&expired, "exchange", FaultCode::Unauthorized).code,
            FaultCode::TokenExpired
        );
    }

    #[test]
    fn a_refusing_reply_line_is_what_the_receiver_learns() {
        let session = LineExchange::imap_login("user@contoso.com", "pw");
        let req = Message::line_session(
            Url::line(session.protocol(), "imap.test"),
            1,
            session.clone(),
            "s",
        );
        let refused =
            Message::line_answer(&req.wire, session.answer(false, &Decision::Refused), "no");
        let r = read(&refused.wire).expect("a reply");
        assert_eq!(r.carrier, Carrier::Reply);
        assert_eq!(r.description, "a1 NO LOGIN failed.");
        let f = r.fault("exchange", FaultCode::AccessDenied);
        assert_eq!(f.code, FaultCode::AccessDenied);
        assert_eq!(f.message, "the server answers a1 NO LOGIN failed.");
        // An accepted session refuses nothing.
        let ok = Message::line_answer(
            &req.wire,
            session.answer(
                false,
                &Decision::Accepted {
                    message: "m".into(),
                },
            ),
            "ok",
        );
        assert_eq!(read(&ok.wire), None);
    }

    #[test]
    fn malformed_or_missing_carriers_fall_back_without_a_panic() {
        for bytes in [
            &b""[..],
            b"{",
            b"not json",
            b"{\"error\":\"invalid_grant\"}",
            b"{\"error\":\"invalid_grant\",\"error_description\":\"AADSTS1: x\",\"error_codes\":[\"one\"]}",
            b"{\"error\":\"invalid_grant\",\"error_description\":\"no code here\",\"error_codes\":[5]}",
            b"\xff\xfe",
        ] {
            let w = json(400, bytes);
            assert_eq!(read(&w), None, "{bytes:?}");
            let f = fault_of(&w, "entra-id", FaultCode::TokenFailed);
            assert_eq!(f.code, FaultCode::TokenFailed);
            assert_eq!(f.message, "unexpected answer: HTTP 400");
        }
        for value in ["", "x", ";reason=\"a\"", "12x;reason=\"a", "99999999999;"] {
            let w = answer(401).header(&headers::X_MS_DIAGNOSTICS, value).wire;
            assert_eq!(read(&w), None, "{value}");
        }
        // A reason without its closing quote still gives the number.
        let w = answer(401)
            .header(&headers::X_MS_DIAGNOSTICS, "2000002;reason=\"cut")
            .wire;
        assert_eq!(
            read(&w).and_then(|r| r.fault_code()),
            Some(FaultCode::InvalidToken)
        );
        let html = answer(200)
            .with_encoded(Encoded::new(
                ContentType::Html,
                b"<main id=\"error\"><p".to_vec(),
            ))
            .wire;
        assert_eq!(read(&html), None);
        let text = answer(404)
            .with_encoded(Encoded::new(
                ContentType::Text,
                b"no virtual server for x\r\n".to_vec(),
            ))
            .wire;
        assert_eq!(
            fault_of(&text, "load-balancer", FaultCode::Unreachable).message,
            "unexpected answer: HTTP 404 (no virtual server for x)"
        );
    }

    #[test]
    fn mfa_required_of_a_password_grant_is_conditional_access_stopping_it() {
        let e = OAuthError {
            error: "interaction_required".into(),
            code: 50076,
            message: "Conditional Access requires MFA".into(),
        };
        let f = fault_of(
            &json(400, &e.encode(&Stamp::default())),
            "entra-id",
            FaultCode::TokenFailed,
        );
        assert_eq!(f.code, FaultCode::BlockedByConditionalAccess);
        assert_eq!(f.diagnostics, "AADSTS50076");
    }

    #[test]
    fn the_table_maps_each_code_once_per_carrier() {
        for (i, (c, w, _)) in TABLE.iter().enumerate() {
            for (c2, w2, _) in &TABLE[i + 1..] {
                let overlap = c == c2 && (*w == Where::Any || *w2 == Where::Any || w == w2);
                assert!(!overlap, "{c:?} twice");
            }
        }
    }
}
