//! Exchange Online: AutoDiscover v2, ActiveSync, MAPI over HTTP and OWA for cloud
//! mailboxes, plus the two services Outlook mobile uses for on-premises mailboxes: the
//! stateless [`translator::ProtocolTranslator`] and the [`mrs::Mrs`] provisioning API that
//! trades AT1 for AT2 on behalf of the user and keeps the on-premises mailbox in sync.
#![deny(missing_docs)]

pub mod mrs;
pub mod setup;
pub mod translator;

use hmasim_protocol::codec;
use hmasim_protocol::headers;
use hmasim_protocol::refusal;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use hmasim_protocol::challenge::{Challenge, Credentials};
use hmasim_protocol::codec::mail;
use hmasim_protocol::jwt::KeySet;
use hmasim_protocol::line::session::{Credential, Decision};
use hmasim_protocol::Wire;
use hmasim_protocol::{apps, Fault, Form, Kind, Message, Method, Net, Stage, Url};
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
    /// Basic sign-ins waiting for Entra ID: (client, request, user).
    legacy: BTreeMap<u64, (Route, Wire, String)>,
}

/// The resource of OWA in Exchange Online.
pub const OWA_URL: &str = "https://outlook.office.com/owa/";
/// The host of OWA in Exchange Online.
pub const OWA_HOST: &str = "outlook.office.com";

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
                    format!("{}: authentication policy '{policy}': {flag} = False", refusal_of(&req)),
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
        .with_form(form);
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
                self.legacy.insert(conv, (from, req, user));
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
        let Some((client, req, user)) = self.legacy.remove(&resp.conv) else {
            return;
        };
        let reply = match (resp.token_answer(), req.line.as_deref()) {
            (Some(_), Some(session)) => Message::line_answer(
                &req,
                session.answer(true,
                    &Decision::Accepted {
                        message: mailbox_message(&user),
                    },
                ),
                format!(
                    "Basic sign-in accepted: Exchange Online serves the mailbox over {} (no MFA on this path)",
                    session.protocol().name()
                ),
            ),
            (Some(_), None) => mail::answer(
                &req,
                &user,
                hmasim_protocol::unix_now(ctx),
                "Basic sign-in accepted: Exchange Online serves the mailbox (no MFA on this path)",
            ),
            // Exchange Online reads Entra ID's refusal from its error JSON and answers
            // in its own protocol's shape (`a1 NO LOGIN failed.`, a 401): what it
            // learned is its record of the refusal, not something its answer carries.
            (_, Some(session)) => {
                let m = Message::line_answer(
                    &req,
                    session.answer(true, &Decision::Refused),
                    "Exchange Online refuses the Basic sign-in",
                );
                match refusal::read(&resp) {
                    Some(r) => m.with_fault(r.fault("entra-id", FaultCode::TokenFailed)),
                    None => m,
                }
            }
            _ => {
                let m = Message::response(&req, 401, "Exchange Online refuses the Basic sign-in");
                match refusal::read(&resp) {
                    Some(r) => m.with_fault(r.fault("entra-id", FaultCode::TokenFailed)),
                    None => m,
                }
            }
        };
        ctx.send(client, reply);
    }

    /// An IMAP or POP session (`outlook.office365.com`, ports 993 and 995): the
    /// credential of its authentication command decides. A password (`LOGIN`, `PASS`,
    /// `AUTHENTICATE PLAIN`) is Basic: the authentication policy's `AllowBasicAuthImap` /
    /// `AllowBasicAuthPop`, then a legacy sign-in at Entra ID, as for any Basic protocol.
    /// `XOAUTH2` carries an access token for Exchange Online, verified like a Bearer.
    fn line_session(&mut self, req: Wire, from: Route, ctx: &mut impl Env) {
        let Some(session) = req.line.as_deref() else {
            return;
        };
        let protocol = session.protocol().mailbox_protocol();
        let reply = match session.credential() {
            Some(Credential::Password { user, password }) => {
                return self.basic(req, from, ctx, user, password, protocol)
            }
            Some(Credential::Bearer { user, token }) => {
                let now_unix = hmasim_protocol::unix_now(ctx);
                match ctx.verify(&token, &self.cfg.entra_metadata, now_unix, self.cfg.skew_s) {
                    Ok(c)
                        if c.aud == apps::EXO_RESOURCE
                            && c.upn.eq_ignore_ascii_case(&user)
                            && self.cfg.users.get(&c.upn.to_ascii_lowercase())
                                == Some(&Home::Online) =>
                    {
                        Message::line_answer(
                            &req,
                            session.answer(true,
                                &Decision::Accepted {
                                    message: mailbox_message(&c.upn),
                                },
                            ),
                            format!(
                                "Exchange Online verifies the XOAUTH2 token and serves the mailbox over {}",
                                session.protocol().name()
                            ),
                        )
                        .same_stage()
                    }
                    Ok(c) => Self::refuse(
                        &req,
                        FaultCode::InvalidToken,
                        format!(
                            "the XOAUTH2 token (audience {}, user {}) does not open {user}'s mailbox in Exchange Online",
                            c.aud, c.upn
                        ),
                        format!("{}: invalid audience or user", refusal_of(&req)),
                    ),
                    Err(e) => Self::refuse(
                        &req,
                        FaultCode::InvalidToken,
                        format!("the XOAUTH2 token does not verify: {e}"),
                        format!("{}: {e}", refusal_of(&req)),
                    ),
                }
            }
            // No authentication command (or one that does not decode): each line is
            // answered, and nothing is served.
            None => Message::line_answer(
                &req,
                session.answer(true, &Decision::Refused),
                "Exchange Online answers a session that never authenticates",
            )
            .same_stage(),
        };
        ctx.send(from, reply);
    }

    /// Takes the configuration of `fresh`, keeping the provisioned mailboxes.
    pub fn reconfigure(&mut self, fresh: ExchangeOnline) {
        self.cfg = fresh.cfg;
        self.net.adopt(fresh.net);
    }

    /// Exchange's 401 to a Bearer token its OAuth module refuses, as Exchange
    /// on-premises writes it (flows.md, "TLS offloading"): the Bearer challenge with
    /// `error="invalid_token"`, the Basic one, and `X-MS-Diagnostics` (`diagnostics`,
    /// also the refusal's record).
    fn reject_token(req: &Wire, code: FaultCode, message: String, diagnostics: String) -> Message {
        Message::response(req, 401, "Exchange Online rejects the access token")
            .same_stage()
            .header(
                &headers::WWW_AUTHENTICATE,
                Self::bearer().with_error("invalid_token").to_string(),
            )
            .header(
                &headers::WWW_AUTHENTICATE,
                Challenge::Basic {
                    realm: "outlook.office365.com".into(),
                }
                .to_string(),
            )
            .header(&headers::X_MS_DIAGNOSTICS, diagnostics.clone())
            .with_fault(Fault {
                code,
                party: "exchange-online",
                message,
                diagnostics,
                symptom: None,
            })
    }

    fn bearer() -> Challenge {
        Challenge::Bearer(vec![
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
        ])
    }

    fn challenge(&self, req: &Wire, stage: Stage) -> Message {
        let bearer = Self::bearer();
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
        let answer = match req.line.as_deref() {
            // A line session is refused in its own protocol: `a1 NO LOGIN failed.`.
            Some(session) => Message::line_answer(
                req,
                session.answer(true, &Decision::Refused),
                "Exchange Online rejects the sign-in",
            ),
            None => Message::response(req, 401, "Exchange Online rejects the request"),
        };
        answer.same_stage().with_fault(Fault {
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
    ) -> Message {
        match req
            .header_value(&headers::AUTHORIZATION)
            .and_then(Credentials::parse)
        {
            Some(Credentials::Bearer(t)) => {
                match ctx.verify(&t, &self.cfg.entra_metadata, now_unix, self.cfg.skew_s) {
                    Ok(c) if c.aud == apps::EXO_RESOURCE => {
                        match self.cfg.users.get(&c.upn.to_ascii_lowercase()) {
                            Some(Home::Online) => mail::answer(
                                req,
                                &c.upn,
                                now_unix,
                                "Exchange Online verifies the token and serves the mailbox",
                            )
                            .same_stage(),
                            _ => Self::reject_token(
                                req,
                                FaultCode::MailboxNotFound,
                                format!("{} has no mailbox in Exchange Online", c.upn),
                                "2000005;reason=\"The user specified by the user-context in the token does not exist.\";error_category=\"invalid_user\"".into(),
                            ),
                        }
                    }
                    Ok(c) => Self::reject_token(
                        req,
                        FaultCode::AudienceMismatch,
                        format!("token audience {} is not Exchange Online", c.aud),
                        format!(
                            "2000003;reason=\"The audience claim value is invalid '{}'.\";error_category=\"invalid_resource\"",
                            c.aud
                        ),
                    ),
                    Err(e) => Self::reject_token(
                        req,
                        FaultCode::InvalidToken,
                        format!("the token does not verify: {e}"),
                        format!("2000002;reason=\"{e}\";error_category=\"invalid_token\""),
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

/// The message an IMAP `FETCH` or POP `RETR` of `upn`'s mailbox returns (RFC 5322).
fn mailbox_message(upn: &str) -> String {
    format!(
        "From: Exchange Online <no-reply@microsoft.com>\r\nTo: {upn}\r\nSubject: Welcome to your mailbox\r\nMessage-ID: <1@outlook.office365.com>\r\n\r\nMail in {upn}'s Exchange Online mailbox.\r\n"
    )
}

/// How a refusal on `req` reads in its diagnostics: `HTTP 401`, or the session's reply.
fn refusal_of(req: &Wire) -> String {
    match req.line.as_deref() {
        Some(s) => s
            .answer(true, &Decision::Refused)
            .refusal()
            .unwrap_or_else(|| "connection closed".into()),
        None => "HTTP 401".into(),
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
        if req.line.is_some() {
            return self.line_session(req, from, ctx);
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
        } else if url.host.eq_ignore_ascii_case(OWA_HOST) && url.path_starts_with("/owa") {
            match req.form() {
                Some(f) if f.get("id_token").is_some() => {
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
                            let mut m = mail::answer(
                                &req,
                                &c.upn,
                                now_unix,
                                "OWA validates the id token and opens the mailbox",
                            )
                            .at(Stage::UseToken);
                            // The session cookie first, as before the body was encoded.
                            m.headers.insert(
                                0,
                                (
                                    headers::SET_COOKIE.clone(),
                                    "OpenIdConnect.token.v1=...; secure; HttpOnly".into(),
                                ),
                            );
                            m
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
            self.protected(ctx, &req, now_unix, Stage::EasChallenge)
        } else if url.path_starts_with("/mapi") || url.path_starts_with("/ews") {
            self.protected(ctx, &req, now_unix, Stage::AuthorityReturned)
        } else if url.path_starts_with("/provisioning/mailbox") && req.method == Some(Method::POST)
        {
            let upn = match codec::mrs::Provision::decode(req.bytes()) {
                Ok(p) => p.upn.to_ascii_lowercase(),
                Err(_) => String::new(),
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

#[cfg(test)]
mod tests {
    use hmasim_base::ActorId;
    use hmasim_protocol::codec::oauth::TokenAnswer;
    use hmasim_protocol::codec::{mail, read_mailbox, wbxml, ContentType, Encoded};
    use hmasim_protocol::env::Recording;
    use hmasim_protocol::jwt::{Claims, SigningKey};
    use hmasim_protocol::line::session::{Credential, LineExchange, LineProtocol};
    use hmasim_protocol::{Directory, StatusCode};

    use super::*;

    const ENTRA: ActorId = ActorId(3);
    const CLIENT: ActorId = ActorId(9);

    fn key() -> SigningKey {
        SigningKey::derive("evosts", 1, 7)
    }

    /// Exchange Online with one cloud mailbox; `imap_allowed` is the user's policy's
    /// `AllowBasicAuthImap`.
    fn exo(imap_allowed: bool) -> ExchangeOnline {
        let mut directory = Directory::new();
        directory.insert("login.microsoftonline.com", ENTRA);
        let allowed = if imap_allowed {
            BTreeSet::from([MailboxProtocol::Imap])
        } else {
            BTreeSet::new()
        };
        let cfg = ExoConfig {
            users: BTreeMap::from([("u@contoso.com".to_string(), Home::Online)]),
            onprem_autodiscover_host: "autodiscover.contoso.com".into(),
            entra_metadata: KeySet::new(vec![key()]),
            skew_s: 300,
            basic_policy: BTreeMap::from([(
                "u@contoso.com".to_string(),
                ("Block Basic".to_string(), allowed),
            )]),
        };
        ExchangeOnline::new(cfg, Net::new(directory))
    }

    fn session(s: LineExchange) -> Message {
        let host = "outlook.office365.com";
        Message::line_session(Url::line(s.protocol(), host), 4, s, "session")
    }

    fn answer_lines(m: &Message) -> &LineExchange {
        m.line.as_deref().expect("a line answer")
    }

    #[test]
    fn a_password_blocked_by_the_policy_is_a_refused_login() {
        let mut exo = exo(false);
        let mut env = Recording::new(Route::to_actor(CLIENT));
        exo.handle(
            session(LineExchange::imap_login("u@contoso.com", "pw")).wire,
            &mut env,
        );
        let (to, answer) = env.sent.pop().expect("an answer");
        assert_eq!(to.actor(), CLIENT);
        assert_eq!((answer.method.clone(), answer.status), (None, None));
        let lines = answer_lines(&answer);
        assert_eq!(lines.refusal().as_deref(), Some("a1 NO LOGIN failed."));
        assert!(!answer.carries_mailbox());
        let fault = answer.meta.fault.as_deref().expect("the refusal");
        assert_eq!(fault.code, FaultCode::BasicAuthBlocked);
        assert!(
            fault.message.contains("AllowBasicAuthImap"),
            "{}",
            fault.message
        );
        // POP is not allowed by this policy either: its own refusal text.
        exo.handle(
            session(LineExchange::pop_login("u@contoso.com", "pw")).wire,
            &mut env,
        );
        let (_, pop) = env.sent.pop().expect("an answer");
        assert_eq!(
            answer_lines(&pop).refusal().as_deref(),
            Some("-ERR Authentication failure: unknown user name or bad password.")
        );
    }

    #[test]
    fn an_allowed_password_signs_in_at_entra_and_the_session_fetches_the_mail() {
        let mut exo = exo(true);
        let mut env = Recording::new(Route::to_actor(CLIENT));
        exo.handle(
            session(LineExchange::imap_login("u@contoso.com", "pw")).wire,
            &mut env,
        );
        let (to, signin) = env.sent.pop().expect("a legacy sign-in");
        assert_eq!(to.actor(), ENTRA);
        match signin.form() {
            Some(f) => {
                assert_eq!(f.get("grant_type"), Some("password"));
                assert_eq!(f.get("client_app_type"), Some("other"));
            }
            None => panic!("not a form: {:?}", signin.body),
        }
        env.caller = Route::to_actor(ENTRA);
        let token = Message::response(&signin.wire, 200, "tokens").with_encoded(
            TokenAnswer {
                token_type: "Bearer".into(),
                resource: apps::EXO_RESOURCE.into(),
                scope: String::new(),
                expires_in: 3600,
                access_token: "a.b.c".into(),
                refresh_token: None,
                id_token: None,
            }
            .encode(),
        );
        exo.handle(token.wire, &mut env);
        let (to, answer) = env.sent.pop().expect("the session's answer");
        assert_eq!(to.actor(), CLIENT);
        assert_eq!(answer.conv, 4);
        assert!(answer.carries_mailbox());
    }

    fn token(aud: &str, upn: &str) -> String {
        let now = hmasim_protocol::EPOCH_UNIX;
        Recording::new(Route::to_actor(ENTRA)).sign(
            &Claims {
                aud: aud.into(),
                iss: "https://sts.windows.net/t/".into(),
                iat: now,
                nbf: now,
                exp: now + 3600,
                amr: vec!["pwd".into(), "mfa".into()],
                appid: "app".into(),
                scp: "IMAP.AccessAsUser.All".into(),
                tid: "t".into(),
                upn: upn.into(),
                uti: "x".into(),
            },
            &key(),
        )
    }

    #[test]
    fn a_refused_bearer_token_is_written_as_exchanges_401_and_read_back() {
        let mut exo = exo(true);
        let mut env = Recording::new(Route::to_actor(CLIENT));
        for (t, code, number) in [
            (
                token("https://graph.microsoft.com", "u@contoso.com"),
                FaultCode::AudienceMismatch,
                "2000003;",
            ),
            (
                token(apps::EXO_RESOURCE, "other@contoso.com"),
                FaultCode::MailboxNotFound,
                "2000005;",
            ),
            ("not.a.jwt".to_string(), FaultCode::InvalidToken, "2000002;"),
        ] {
            let req = Message::request(
                Method::POST,
                Url::https("outlook.office365.com", "/EWS/Exchange.asmx"),
                5,
                "EWS",
            )
            .header(&headers::AUTHORIZATION, format!("Bearer {t}"));
            exo.handle(req.wire, &mut env);
            let (_, answer) = env.sent.pop().expect("an answer");
            assert_eq!(answer.status, Some(StatusCode::UNAUTHORIZED));
            let challenges: Vec<&str> = answer.header_values(&headers::WWW_AUTHENTICATE).collect();
            assert!(
                challenges[0].starts_with("Bearer ")
                    && challenges[0].contains("error=\"invalid_token\""),
                "{challenges:?}"
            );
            let diag = answer
                .header_value(&headers::X_MS_DIAGNOSTICS)
                .expect("diagnostics");
            assert!(diag.starts_with(number), "{diag}");
            // What a receiver reads is what Exchange Online recorded.
            let read = refusal::fault_of(&answer.wire, "exchange-online", FaultCode::AccessDenied);
            let record = answer.meta.fault.as_deref().expect("the record");
            assert_eq!((read.code, record.code), (code, code));
            assert_eq!(read.diagnostics, record.diagnostics);
        }
    }

    #[test]
    fn xoauth2_with_an_exchange_online_token_is_served_and_any_other_is_refused() {
        // XOAUTH2 needs no Basic: the policy that blocks Basic does not apply.
        let mut exo = exo(false);
        let mut env = Recording::new(Route::to_actor(CLIENT));
        let bearer = |t: String| Credential::Bearer {
            user: "u@contoso.com".into(),
            token: t,
        };
        let good = token(apps::EXO_RESOURCE, "u@contoso.com");
        for s in [
            LineExchange::imap_authenticate(&bearer(good.clone())),
            LineExchange::pop_authenticate(&bearer(good)),
        ] {
            exo.handle(session(s).wire, &mut env);
            let (_, answer) = env.sent.pop().expect("an answer");
            assert!(answer.carries_mailbox(), "{:?}", answer_lines(&answer));
        }
        for t in [
            token("https://graph.microsoft.com", "u@contoso.com"),
            token(apps::EXO_RESOURCE, "other@contoso.com"),
            "not.a.jwt".to_string(),
        ] {
            exo.handle(
                session(LineExchange::imap_authenticate(&bearer(t))).wire,
                &mut env,
            );
            let (_, answer) = env.sent.pop().expect("an answer");
            assert_eq!(
                answer_lines(&answer).refusal().as_deref(),
                Some("a1 NO AUTHENTICATE failed.")
            );
            assert_eq!(
                answer.meta.fault.as_deref().map(|f| f.code),
                Some(FaultCode::InvalidToken)
            );
        }
    }

    #[test]
    fn a_malformed_command_is_answered_bad_and_nothing_is_served() {
        let mut exo = exo(true);
        let mut env = Recording::new(Route::to_actor(CLIENT));
        let s = LineExchange::commands(
            LineProtocol::Imap,
            vec!["a1 LOGIN onlyuser".into(), "a2 LOGOUT".into()],
        );
        exo.handle(session(s).wire, &mut env);
        let (_, answer) = env.sent.pop().expect("an answer");
        assert_eq!(
            answer_lines(&answer).refusal().as_deref(),
            Some("a1 BAD Command Error. 12")
        );
        assert!(!answer.carries_mailbox());
    }

    /// A Basic request to `path` with `body`, the legacy sign-in accepted by Entra ID:
    /// Exchange Online's answer.
    fn basic_answer(path: &str, body: Option<Encoded>) -> Message {
        let mut directory = Directory::new();
        directory.insert("login.microsoftonline.com", ENTRA);
        let cfg = ExoConfig {
            users: BTreeMap::from([("user@contoso.com".to_string(), Home::Online)]),
            onprem_autodiscover_host: "mail.contoso.com".into(),
            entra_metadata: KeySet::default(),
            skew_s: 300,
            basic_policy: BTreeMap::new(),
        };
        let mut exo = ExchangeOnline::new(cfg, Net::new(directory));
        let mut env = Recording::new(Route::to_actor(ActorId(0)));
        let basic = Credentials::Basic {
            user: "user@contoso.com".into(),
            password: "pw".into(),
        };
        let mut req = Message::request(
            Method::POST,
            Url::https("outlook.office365.com", path),
            7,
            "use",
        )
        .header(&headers::AUTHORIZATION, basic.to_string());
        if let Some(b) = body {
            req = req.with_encoded(b);
        }
        exo.handle(req.wire, &mut env);
        let (to, signin) = env.sent.pop().expect("a legacy sign-in");
        assert_eq!(to.actor(), ENTRA);
        env.caller = Route::to_actor(ENTRA);
        let token = Message::response(&signin.wire, 200, "tokens").with_encoded(
            TokenAnswer {
                token_type: "Bearer".into(),
                resource: apps::EXO_RESOURCE.into(),
                scope: "full_access_as_user".into(),
                expires_in: 3600,
                access_token: "a.b.c".into(),
                refresh_token: None,
                id_token: None,
            }
            .encode(),
        );
        exo.handle(token.wire, &mut env);
        env.sent.pop().expect("an answer").1
    }

    #[test]
    fn a_basic_sync_is_answered_in_wbxml_and_bytes_it_cannot_read_are_refused() {
        let ok = basic_answer(
            "/Microsoft-Server-ActiveSync",
            Some(mail::sync_request("0")),
        );
        assert_eq!(ok.content_type(), Some(ContentType::Wbxml));
        assert!(ok.carries_mailbox());
        let m = read_mailbox(ContentType::Wbxml, ok.bytes()).unwrap();
        assert_eq!(m.items[0].from, "it-helpdesk@contoso.com");
        let junk = basic_answer(
            "/Microsoft-Server-ActiveSync",
            Some(Encoded::new(ContentType::Wbxml, vec![0x03, 0x01])),
        );
        assert_eq!(junk.status, Some(StatusCode::BAD_REQUEST));
        assert!(!junk.carries_mailbox());
        let not_request = basic_answer(
            "/Microsoft-Server-ActiveSync",
            Some(wbxml::Command::SyncError { status: 1 }.encode()),
        );
        assert_eq!(not_request.status, Some(StatusCode::OK));
        assert!(!not_request.carries_mailbox());
        let soap = basic_answer(
            "/EWS/Exchange.asmx",
            Some(Encoded::new(ContentType::Xml, b"<x/>".to_vec())),
        );
        assert_eq!(soap.status, Some(StatusCode::INTERNAL_SERVER_ERROR));
        let mapi = basic_answer("/mapi/emsmdb/", None);
        assert_eq!(mapi.content_type(), Some(ContentType::MapiHttp));
        assert!(mapi.carries_mailbox());
    }
}
