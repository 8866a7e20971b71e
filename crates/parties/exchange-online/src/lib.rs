//! Exchange Online: AutoDiscover v2, ActiveSync, MAPI over HTTP and OWA for cloud
//! mailboxes, plus the two services Outlook mobile uses for on-premises mailboxes: the
//! stateless [`translator::ProtocolTranslator`] and the [`mrs::Mrs`] provisioning API that
//! trades AT1 for AT2 on behalf of the user and keeps the on-premises mailbox in sync.
#![deny(missing_docs)]

pub mod mrs;
pub mod setup;
pub mod translator;

use hmasim_protocol::headers;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use hmasim_protocol::challenge::{Challenge, Credentials};
use hmasim_protocol::jwt::KeySet;
use hmasim_protocol::Wire;
use hmasim_protocol::{apps, Body, Fault, Form, Kind, Mailbox, Message, Method, Net, Stage, Url};
use hmasim_protocol::{Env, Route};
use hmasim_protocol::{FaultCode, MailboxProtocol};

/// Where a user's mailbox lives, as Exchange Online's directory knows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Home {
    /// A cloud mailbox.
    Online,
    /// An on-premises mailbox (a mail user in Exchange Online).
    Onprem,
}

/// Exchange Online configuration.
#[derive(Clone, Debug)]
pub struct ExoConfig {
    /// Users by lower-case UPN and where their mailbox is.
    pub users: BTreeMap<String, Home>,
    /// The on-premises AutoDiscover host, for redirects of on-premises mailboxes.
    pub onprem_autodiscover_host: String,
    /// Entra ID's signing metadata.
    pub entra_metadata: KeySet,
    /// Allowed clock skew, seconds.
    pub skew_s: u64,
    /// Users with an authentication policy (their own or the organization default), by
    /// lower-case UPN: the policy name and the protocols it allows Basic for. Users without
    /// one may use Basic everywhere.
    pub basic_policy: BTreeMap<String, (String, BTreeSet<MailboxProtocol>)>,
}

/// The `exchange-online` party.
#[derive(Clone, Debug)]
pub struct ExchangeOnline {
    // Shared by a world's clones: configuration only changes by `reconfigure`.
    cfg: Arc<ExoConfig>,
    net: Net,
    /// Cloud mailboxes provisioned for on-premises users by MRS.
    provisioned: BTreeSet<String>,
    /// Basic sign-ins waiting for Entra ID: (client, request, user, protocol).
    legacy: BTreeMap<u64, (Route, Wire, String, MailboxProtocol)>,
}

/// The resource of OWA in Exchange Online.
pub const OWA_URL: &str = "https://outlook.office.com/owa/";

impl ExchangeOnline {
    /// Exchange Online with `cfg`.
    pub fn new(cfg: ExoConfig, net: Net) -> Self {
        ExchangeOnline {
            cfg: Arc::new(cfg),
            net,
            provisioned: BTreeSet::new(),
            legacy: BTreeMap::new(),
        }
    }

    /// Basic authentication: the user's authentication policy first, then a legacy sign-in
    /// at Entra ID (where Conditional Access sees a legacy client app type).
    fn basic(
        &mut self,
        req: Wire,
        from: Route,
        ctx: &mut impl Env,
        user: String,
        password: String,
        protocol: MailboxProtocol,
    ) {
        let upn = user.to_ascii_lowercase();
        if let Some((policy, allowed)) = self.cfg.basic_policy.get(&upn) {
            if !allowed.contains(&protocol) {
                let flag = allow_flag(protocol);
                let reply = Self::refuse(
                    &req,
                    FaultCode::BasicAuthBlocked,
                    format!("Basic authentication to {protocol} is blocked for {user} by authentication policy '{policy}' ({flag} = False)"),
                    format!("HTTP 401: authentication policy '{policy}': {flag} = False"),
                );
                return ctx.send(from, reply);
            }
        }
        let app_type = if protocol == MailboxProtocol::Activesync {
            "exchangeActiveSync"
        } else {
            "other"
        };
        let form = Form::new()
            .with("grant_type", "password")
            .with("client_id", apps::EXCHANGE_ONLINE)
            .with("username", user.clone())
            .with("password", password)
            .with("resource", apps::EXO_RESOURCE)
            .with("client_app_type", app_type);
        let mut signin = Message::request(
            Method::POST,
            Url::parse(apps::ENTRA_TOKEN).expect("constant URL"),
            0,
            "Exchange Online signs the Basic user in at Entra ID (legacy authentication)",
        )
        .with_body(Body::Form(form));
        // Conditional Access judges the client, not Exchange Online: forward where the
        // client connected from and what it said it is.
        if let Some(addr) = self.net.source(from) {
            signin = signin.header(&headers::X_FORWARDED_FOR, addr.to_string());
        }
        if let Some(ua) = req.header_value(&headers::USER_AGENT) {
            signin = signin.header(&headers::USER_AGENT, ua.to_string());
        }
        match self.net.request(ctx, signin) {
            Ok(conv) => {
                self.legacy.insert(conv, (from, req, user, protocol));
            }
            Err(_) => ctx.send(
                from,
                Self::refuse(
                    &req,
                    FaultCode::Unreachable,
                    "Exchange Online cannot reach Entra ID".into(),
                    String::new(),
                ),
            ),
        }
    }

    fn legacy_answered(&mut self, resp: Wire, ctx: &mut impl Env) {
        let Some((client, req, user, protocol)) = self.legacy.remove(&resp.conv) else {
            return;
        };
        let reply = match resp.body {
            Body::Token(_) => Message::response(
                &req,
                200,
                "Basic sign-in accepted: Exchange Online serves the mailbox (no MFA on this path)",
            )
            .with_body(Body::Mailbox(Mailbox {
                source: "exchange-online",
                upn: user,
                items: items_of(protocol),
            })),
            _ => {
                // Entra ID's refusal, as its answer wrote it, becomes Exchange Online's.
                let m = Message::response(&req, 401, "Exchange Online refuses the Basic sign-in");
                match resp.refusal {
                    Some(f) => m.with_fault(*f),
                    None => m,
                }
            }
        };
        ctx.send(client, reply);
    }

    /// Takes the configuration of `fresh`, keeping the provisioned mailboxes.
    pub fn reconfigure(&mut self, fresh: ExchangeOnline) {
        self.cfg = fresh.cfg;
        self.net.adopt(fresh.net);
    }

    fn challenge(&self, req: &Wire, stage: Stage) -> Message {
        let bearer = Challenge::Bearer(vec![
            ("client_id".into(), apps::EXCHANGE_ONLINE.into()),
            (
                "trusted_issuers".into(),
                format!("{}@*", apps::ENTRA_PRINCIPAL),
            ),
            (
                "token_types".into(),
                "app_asserted_user_v1 service_asserted_app_v1".into(),
            ),
            ("authorization_uri".into(), apps::ENTRA_AUTHORIZE.into()),
        ]);
        Message::response(
            req,
            401,
            "401: Bearer challenge with the Entra ID authorization URL",
        )
        .at(stage)
        .header(&headers::WWW_AUTHENTICATE, bearer.to_string())
        .header(
            &headers::WWW_AUTHENTICATE,
            Challenge::Basic {
                realm: "outlook.office365.com".into(),
            }
            .to_string(),
        )
    }

    fn refuse(req: &Wire, code: FaultCode, message: String, diagnostics: String) -> Message {
        Message::response(req, 401, "Exchange Online rejects the request")
            .same_stage()
            .with_fault(Fault {
                code,
                party: "exchange-online",
                message,
                diagnostics,
                symptom: None,
            })
    }

    fn protected(
        &self,
        ctx: &impl Env,
        req: &Wire,
        now_unix: u64,
        challenge_stage: Stage,
        items: &'static str,
    ) -> Message {
        match req
            .header_value(&headers::AUTHORIZATION)
            .and_then(Credentials::parse)
        {
            Some(Credentials::Bearer(t)) => {
                match ctx.verify(&t, &self.cfg.entra_metadata, now_unix, self.cfg.skew_s) {
                    Ok(c) if c.aud == apps::EXO_RESOURCE => {
                        match self.cfg.users.get(&c.upn.to_ascii_lowercase()) {
                            Some(Home::Online) => Message::response(
                                req,
                                200,
                                "Exchange Online verifies the token and serves the mailbox",
                            )
                            .same_stage()
                            .with_body(Body::Mailbox(Mailbox {
                                source: "exchange-online",
                                upn: c.upn,
                                items,
                            })),
                            _ => Self::refuse(
                                req,
                                FaultCode::MailboxNotFound,
                                format!("{} has no mailbox in Exchange Online", c.upn),
                                "HTTP 404: mailbox not found".into(),
                            ),
                        }
                    }
                    Ok(c) => Self::refuse(
                        req,
                        FaultCode::AudienceMismatch,
                        format!("token audience {} is not Exchange Online", c.aud),
                        format!("invalid audience '{}'", c.aud),
                    ),
                    Err(e) => Self::refuse(
                        req,
                        FaultCode::InvalidToken,
                        format!("the token does not verify: {e}"),
                        format!("Bearer error=\"invalid_token\": {e}"),
                    ),
                }
            }
            Some(Credentials::Basic { .. }) => Self::refuse(
                req,
                FaultCode::BasicAuthDisabled,
                "Basic authentication is disabled in Exchange Online".into(),
                "HTTP 401: Basic authentication is disabled".into(),
            ),
            _ => self.challenge(req, challenge_stage),
        }
    }
}

/// The Exchange Online authentication policy flag for a protocol.
pub fn allow_flag(protocol: MailboxProtocol) -> &'static str {
    match protocol {
        MailboxProtocol::Activesync => "AllowBasicAuthActiveSync",
        MailboxProtocol::Autodiscover => "AllowBasicAuthAutodiscover",
        MailboxProtocol::Mapi => "AllowBasicAuthMapi",
        MailboxProtocol::Ews => "AllowBasicAuthWebServices",
        MailboxProtocol::Oab => "AllowBasicAuthOfflineAddressBook",
        MailboxProtocol::Rpc => "AllowBasicAuthRpc",
        MailboxProtocol::Imap => "AllowBasicAuthImap",
        MailboxProtocol::Pop => "AllowBasicAuthPop",
    }
}

fn items_of(protocol: MailboxProtocol) -> &'static str {
    match protocol {
        MailboxProtocol::Activesync => "mail, calendar, contacts (ActiveSync)",
        _ => "mailbox (Outlook, legacy protocol)",
    }
}

/// The party runs on anything that implements [`Env`] (the simulator's `SimEnv` does):
/// `hmasim-sim`'s `Party` calls these two as its `Actor` implementation.
impl ExchangeOnline {
    /// Comes back after a crash: the default keeps everything (no volatile state).
    pub fn restart(&mut self) {}

    /// Handles one message (or timer) from `from`.
    pub fn handle(&mut self, req: Wire, ctx: &mut impl Env) {
        let from = ctx.caller();
        match req.kind {
            Kind::Request => {}
            Kind::Response => return self.legacy_answered(req, ctx),
            _ => return,
        }
        let Some(url) = req.url.clone() else { return };
        if let (Some(protocol), Some(Credentials::Basic { user, password })) = (
            url.mailbox_protocol(),
            req.header_value(&headers::AUTHORIZATION)
                .and_then(Credentials::parse),
        ) {
            return self.basic(req, from, ctx, user, password, protocol);
        }
        let now_unix = hmasim_protocol::unix_now(ctx);
        tracing::debug!(t_ms = ctx.now().as_millis(), party = "exchange-online", %url, "request");
        let reply = if url.path_starts_with("/autodiscover/autodiscover.json") {
            let email = url.param("Email").unwrap_or("").to_string();
            let count: u32 = url
                .param("RedirectCount")
                .and_then(|c| c.parse().ok())
                .unwrap_or(0);
            match self.cfg.users.get(&email.to_ascii_lowercase()) {
                Some(Home::Onprem) => {
                    let mut loc = Url::https(
                        &self.cfg.onprem_autodiscover_host,
                        "/autodiscover/autodiscover.json",
                    )
                    .with("Email", email)
                    .with("Protocol", url.param("Protocol").unwrap_or("activesync"));
                    loc.set_param("RedirectCount", (count + 1).to_string());
                    Message::redirect(
                        &req,
                        loc,
                        "the mailbox is on-premises: 302 to the on-premises AutoDiscover",
                    )
                    .at(Stage::AutodiscoverRedirect)
                }
                Some(Home::Online) => {
                    let loc = Url::https("outlook.office365.com", "/Microsoft-Server-ActiveSync");
                    Message::redirect(
                        &req,
                        loc,
                        "the mailbox is in Exchange Online: 302 to its ActiveSync URL",
                    )
                    .at(Stage::AutodiscoverRedirect)
                }
                None => Message::response(&req, 404, "AutoDiscover v2: no such user")
                    .at(Stage::AutodiscoverRedirect),
            }
        } else if url.host == "outlook.office.com" && url.path_starts_with("/owa") {
            match &req.body {
                Body::Form(f) if f.get("id_token").is_some() => {
                    match ctx.verify(
                        f.get("id_token").unwrap_or(""),
                        &self.cfg.entra_metadata,
                        now_unix,
                        self.cfg.skew_s,
                    ) {
                        Ok(c)
                            if c.aud == apps::EXCHANGE_ONLINE
                                && self.cfg.users.get(&c.upn.to_ascii_lowercase())
                                    == Some(&Home::Online) =>
                        {
                            Message::response(
                                &req,
                                200,
                                "OWA validates the id token and opens the mailbox",
                            )
                            .at(Stage::UseToken)
                            .header(
                                &headers::SET_COOKIE,
                                "OpenIdConnect.token.v1=...; secure; HttpOnly",
                            )
                            .with_body(Body::Mailbox(Mailbox {
                                source: "exchange-online",
                                upn: c.upn,
                                items: "OWA: inbox, calendar, contacts",
                            }))
                        }
                        Ok(c) => Self::refuse(
                            &req,
                            FaultCode::InvalidToken,
                            format!("id token for {} / {} not accepted by OWA", c.aud, c.upn),
                            "OWA: invalid id token".into(),
                        ),
                        Err(e) => Self::refuse(
                            &req,
                            FaultCode::InvalidToken,
                            e.to_string(),
                            format!("OWA: {e}"),
                        ),
                    }
                }
                _ => {
                    let loc = Url::parse(apps::ENTRA_AUTHORIZE)
                        .expect("constant URL")
                        .with("client_id", apps::EXCHANGE_ONLINE)
                        .with("redirect_uri", OWA_URL)
                        .with("resource", "https://outlook.office.com")
                        .with("response_mode", "form_post")
                        .with("response_type", "code id_token")
                        .with("scope", "openid");
                    Message::redirect(&req, loc, "OWA redirects the browser to Entra ID")
                        .at(Stage::RedirectToIdp)
                }
            }
        } else if url.path_starts_with("/microsoft-server-activesync") {
            self.protected(
                ctx,
                &req,
                now_unix,
                Stage::EasChallenge,
                "mail, calendar, contacts (ActiveSync)",
            )
        } else if url.path_starts_with("/mapi") || url.path_starts_with("/ews") {
            self.protected(
                ctx,
                &req,
                now_unix,
                Stage::AuthorityReturned,
                "mailbox (MAPI over HTTP, cached mode)",
            )
        } else if url.path_starts_with("/provisioning/mailbox") && req.method == Some(Method::POST)
        {
            let upn = match &req.body {
                Body::Provision { upn, .. } => upn.to_ascii_lowercase(),
                _ => String::new(),
            };
            if self.provisioned.insert(upn) {
                Message::response(
                    &req,
                    201,
                    "the cloud mailbox for the on-premises user is created",
                )
                .at(Stage::MailboxCreate)
            } else {
                Message::response(&req, 200, "the cloud mailbox already exists")
                    .at(Stage::MailboxCreate)
            }
        } else {
            Message::response(&req, 404, "not found")
        };
        ctx.send(from, reply);
    }
}
