//! The protocol layer of hmasim: what the parties say to each other.
//!
//! This crate knows HTTP-shaped messages, OAuth 2 and AD FS exchanges, tokens and the
//! numbering of the documented flows; it knows no party's behaviour. It does not depend on
//! `hmasim-kernel`: time and actor addresses come from `hmasim-base`, and a party runs
//! against this crate's [`Env`] (its clock, random stream, sending, answering, timers,
//! notes and signing). Every party crate depends on it, never on another party.
//!
//! - [`Message`]: one HTTP request or response (or a note, timer, user action): its
//!   [`Wire`] part (headers in wire order, a typed [`Body`]), all its receiver gets, and
//!   the trace's [`Meta`] (the token it carries, the semantic [`Stage`] it realizes).
//! - [`Url`]: a small URL type that renders query strings the way Exchange and Entra ID do.
//! - [`challenge`]: `WWW-Authenticate` Bearer, Basic and Negotiate challenges, formatted and
//!   parsed.
//! - [`jwt`]: compact JWTs signed and verified by computation (HMAC-SHA256; see the module
//!   docs for why), with the claims of an Entra ID v1 access token.
//! - [`flows`]: the nine documented flows and the step numbers a [`Stage`] takes in each.
//!
//! ```
//! use hmasim_protocol::{challenge::Challenge, Url};
//! let c = Challenge::bearer_exchange("00000000-1111-2222-3333-444444444444", "contoso.com",
//!     Some("https://login.windows.net/common/oauth2/authorize"));
//! let header = c.to_string();
//! assert!(header.starts_with("Bearer client_id=\"00000002-0000-0ff1-ce00-000000000000\""));
//! assert_eq!(Challenge::parse(&header).unwrap(), c);
//! let u = Url::parse("https://mail.contoso.com/Microsoft-Server-ActiveSync").unwrap();
//! assert_eq!(u.origin(), "https://mail.contoso.com");
//! ```
#![deny(missing_docs)]

pub mod address;
pub mod apps;
pub mod body;
pub mod challenge;
pub mod codec;
pub mod device;
pub mod directory;
pub mod display;
pub mod env;
pub mod fault;
pub mod flows;
pub mod headers;
pub mod jwt;
pub mod keys;
pub mod line;
pub mod mailbox;
pub mod message;
pub mod net;
pub mod oauth;
pub mod party;
pub mod policy;
pub mod raw;
pub mod refusal;
pub mod token;
pub mod url;

/// The `bytes` crate, whose `Bytes` raw HTTP bodies are (`http::Request<Bytes>`).
pub use bytes;
/// The `http` crate, whose types the wire uses (`http::Method`, `http::HeaderName`).
pub use http;

pub use body::{Body, DetectAnswer, Form, MfaPrompt, Page, PasswordChange, UserAction};
pub use directory::Directory;
pub use env::{Env, Route};
pub use fault::FaultCode;
pub use flows::{FlowId, Stage, Step};
pub use hmasim_base::TimerId;
pub use mailbox::{ActiveSyncQuery, DeviceCharacteristic, MailboxProtocol};
pub use message::{Fault, Kind, Label, Message, Meta, Method, StatusCode, Wire};
pub use net::{Net, Relay, Retries, Unreachable};
pub use party::PartyKind;
pub use token::{Token, TokenKind};
pub use url::Url;

/// Unix time (seconds) of simulated instant zero: 2026-01-01T00:00:00Z. Token `iat`,
/// `nbf` and `exp` claims are this plus the simulated seconds.
pub const EPOCH_UNIX: u64 = 1_767_225_600;

/// The Unix time, in whole seconds, on the clock of the party handling `ctx`: the epoch
/// plus the simulated time plus the party's clock skew (the kernel's `Ctx::local_now`).
/// What a party writes into `iat`/`nbf`/`exp` and checks them against. Without skew this
/// is exactly `EPOCH_UNIX + now_ms / 1000`.
pub fn unix_now(ctx: &impl Env) -> u64 {
    let us = i128::from(ctx.now().as_micros()) + i128::from(ctx.skew_micros());
    (i128::from(EPOCH_UNIX) + us.div_euclid(1_000_000)).max(0) as u64
}

/// The [`codec::Stamp`] of an error answer to `req` written now on `ctx`'s clock: ids
/// derived from the request's correlation and the time, not drawn from the party's
/// seeded stream (so an error answer moves no other value of a run).
pub fn error_stamp(req: &Wire, ctx: &impl Env) -> codec::Stamp {
    codec::Stamp::at(
        unix_now(ctx),
        req.conv.rotate_left(32) ^ ctx.now().as_millis(),
    )
}
