//! AD FS: the federation service. It signs users in (Integrated Windows Authentication
//! inside, a forms page outside, where requests arrive through the Web Application Proxy
//! with `X-MS-Proxy`), evaluates the access control policy of the relying party trust
//! (calling Entra MFA through its adapter when the policy asks for MFA) and posts a signed
//! token back to the relying party (Entra ID for Office 365, or Exchange's OWA).
#![deny(missing_docs)]

use hmasim_protocol::headers;
use std::sync::Arc;
pub mod setup;
use std::collections::BTreeMap;

use hmasim_base::SimDuration;
use hmasim_protocol::challenge::{Challenge, Credentials};
use hmasim_protocol::jwt::{Claims, KeySet, SigningKey};
use hmasim_protocol::oauth::Amr;
use hmasim_protocol::FaultCode;
use hmasim_protocol::PartyKind;
use hmasim_protocol::{
    apps, Body, Fault, Form, Kind, Message, Method, Net, Page, Stage, Token, TokenKind, Url,
};
use hmasim_protocol::{Env, Route};
use hmasim_protocol::{Label, Wire};

/// An access control policy on a relying party trust.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AccessPolicy {
    /// Permit everyone.
    PermitEveryone,
    /// Permit everyone and require MFA.
    RequireMfa,
    /// Permit everyone and require MFA from the extranet.
    RequireMfaExtranet,
    /// Permit everyone and require MFA for members of this group.
    RequireMfaGroup(String),
}

/// A relying party trust.
#[derive(Clone, Debug)]
pub struct RelyingParty {
    /// Its identifier (`wtrealm`), also the token audience.
    pub identifier: String,
    /// Where the token is posted.
    pub reply_url: String,
    /// Its access control policy.
    pub policy: AccessPolicy,
    /// The party the token is for, in traces.
    pub party: PartyKind,
    /// The stage of the post back.
    pub back_stage: Stage,
}

/// AD FS configuration.
#[derive(Clone, Debug)]
pub struct AdfsConfig {
    /// The federation service host (`sts.contoso.com`).
    pub host: String,
    /// The token-signing key.
    pub signing_key: SigningKey,
    /// The service account key Kerberos tickets are sealed with.
    pub kerberos: KeySet,
    /// Relying party trusts.
    pub relying_parties: Vec<RelyingParty>,
    /// Offer Integrated Windows Authentication to intranet requests.
    pub iwa_internal: bool,
    /// Lifetime of issued tokens.
    pub token_lifetime: SimDuration,
}

#[derive(Clone, Debug)]
struct Session {
    rp: usize,
    wctx: String,
    extranet: bool,
    upn: String,
    groups: Vec<String>,
    amr: Vec<String>,
    /// The request answered when the sign-in ends, with its trace label.
    held: Option<(Route, Wire, Label)>,
}

#[derive(Clone, Debug)]
enum Wait {
    Bind(String),
    Mfa(String),
    /// The active (WS-Trust) endpoint: the caller, its request, the user, extranet.
    Active(Route, Box<(Wire, Label)>, String, bool),
}

/// The `adfs` party.
#[derive(Clone, Debug)]
pub struct Adfs {
    // Shared by a world's clones: configuration only changes by `reconfigure`.
    cfg: Arc<AdfsConfig>,
    net: Net,
    sessions: BTreeMap<String, Session>,
    waits: BTreeMap<u64, Wait>,
    next_session: u64,
    next_token: u64,
}

impl Adfs {
    /// AD FS with `cfg`, reaching the directory and Entra MFA through `net`.
    pub fn new(cfg: AdfsConfig, net: Net) -> Self {
        Adfs {
            cfg: Arc::new(cfg),
            net,
            sessions: BTreeMap::new(),
            waits: BTreeMap::new(),
            next_session: 0,
            next_token: 0,
        }
    }

    /// Takes the configuration (and name resolution) of `fresh`, keeping sign-ins in
    /// flight.
    pub fn reconfigure(&mut self, fresh: Adfs) {
        self.cfg = fresh.cfg;
        self.net.adopt(fresh.net);
    }

    fn error_page(req: &Wire, code: FaultCode, message: String, diagnostics: String) -> Message {
        Message::response(req, 200, "AD FS shows an error page")
            .with_page(&Page::Error {
                code: diagnostics.clone(),
                message: message.clone(),
            })
            .with_fault(Fault {
                code,
                party: "adfs",
                message,
                diagnostics,
                symptom: None,
            })
    }

    fn sign_in(&mut self, req: Wire, from: Route, ctx: &mut impl Env) {
        let url = req.url.clone().expect("requests have URLs");
        let extranet = req.header_value(&headers::X_MS_PROXY).is_some();
        // A credentials post for an existing session.
        if let (Some(Method::POST), Some(id)) = (
            &req.method,
            url.param("client-request-id").map(str::to_string),
        ) {
            if let Some(f) = req.form() {
                let (upn, password) = (
                    f.get("UserName").unwrap_or("").to_string(),
                    f.get("Password").unwrap_or("").to_string(),
                );
                let Some(s) = self.sessions.get_mut(&id) else {
                    ctx.send(
                        from,
                        Self::error_page(
                            &req,
                            FaultCode::UnknownSession,
                            "the sign-in session expired".into(),
                            "MSIS7042".into(),
                        ),
                    );
                    return;
                };
                s.upn = upn.clone();
                s.amr = vec!["pwd".into()];
                s.held = Some((from, req, ctx.label()));
                let bind = Message::request(
                    Method::POST,
                    Url::https(&dc_host(&self.cfg.host), "/ldap/bind"),
                    0,
                    "AD FS validates the credentials against Active Directory",
                )
                .with_body(Body::Bind { upn, password })
                .at(Stage::Credentials);
                match self.net.request(ctx, bind) {
                    Ok(conv) => {
                        self.waits.insert(conv, Wait::Bind(id));
                    }
                    Err(_) => self.fail(
                        ctx,
                        &id,
                        FaultCode::DirectoryUnreachable,
                        "AD FS cannot reach a domain controller".into(),
                        "MSIS9642".into(),
                    ),
                }
                return;
            }
        }
        let realm = url.param("wtrealm").unwrap_or("").to_string();
        let Some(rp) = self
            .cfg
            .relying_parties
            .iter()
            .position(|r| r.identifier.eq_ignore_ascii_case(&realm))
        else {
            ctx.send(
                from,
                Self::error_page(
                    &req,
                    FaultCode::UnknownRelyingParty,
                    format!("no relying party trust for '{realm}'"),
                    "MSIS7007: The requested relying party trust is unspecified or unsupported."
                        .into(),
                )
                .at(Stage::AdfsSignInPage),
            );
            return;
        };
        self.next_session += 1;
        let id = format!("A{}", self.next_session);
        let wctx = url.param("wctx").unwrap_or("").to_string();
        let mut session = Session {
            rp,
            wctx,
            extranet,
            upn: String::new(),
            groups: Vec::new(),
            amr: Vec::new(),
            held: None,
        };
        let wants_forms = url
            .param("wauth")
            .is_some_and(|w| w.contains("am:password"));
        if !extranet && self.cfg.iwa_internal && !wants_forms {
            match req
                .header_value(&headers::AUTHORIZATION)
                .and_then(Credentials::parse)
            {
                Some(Credentials::Negotiate(ticket)) => {
                    let now = hmasim_protocol::unix_now(ctx);
                    match ctx.verify(&ticket, &self.cfg.kerberos, now, 300) {
                        Ok(c)
                            if c.aud
                                .eq_ignore_ascii_case(&format!("HTTP/{}", self.cfg.host)) =>
                        {
                            // Group memberships come in the ticket's authorization data.
                            session.groups = c.scp.split_whitespace().map(str::to_string).collect();
                            session.upn = c.upn;
                            session.amr = vec!["wia".into()];
                            session.held = Some((from, req, ctx.label()));
                            self.sessions.insert(id.clone(), session);
                            self.policy(ctx, &id);
                        }
                        _ => {
                            let m =
                                Message::response(&req, 401, "AD FS rejects the Kerberos ticket")
                                    .at(Stage::IwaSignIn)
                                    .header(
                                        &headers::WWW_AUTHENTICATE,
                                        Challenge::Negotiate(None).to_string(),
                                    );
                            ctx.send(from, m);
                        }
                    }
                }
                _ => {
                    let m = Message::response(
                        &req,
                        401,
                        "AD FS asks for Integrated Windows Authentication",
                    )
                    .at(Stage::IwaSignIn)
                    .header(
                        &headers::WWW_AUTHENTICATE,
                        Challenge::Negotiate(None).to_string(),
                    );
                    ctx.send(from, m);
                }
            }
            return;
        }
        let action = Url::https(&self.cfg.host, "/adfs/ls/").with("client-request-id", id.clone());
        let username = url.param("username").map(str::to_string);
        self.sessions.insert(id, session);
        let page = Message::response(&req, 200, "AD FS forms sign-in page")
            .at(Stage::AdfsSignInPage)
            .with_page(&Page::SignIn { action, username });
        ctx.send(from, page);
    }

    fn needs_mfa(&self, s: &Session) -> bool {
        match &self.cfg.relying_parties[s.rp].policy {
            AccessPolicy::PermitEveryone => false,
            AccessPolicy::RequireMfa => true,
            AccessPolicy::RequireMfaExtranet => s.extranet,
            AccessPolicy::RequireMfaGroup(g) => s.groups.iter().any(|x| x.eq_ignore_ascii_case(g)),
        }
    }

    fn policy(&mut self, ctx: &mut impl Env, id: &str) {
        let Some(s) = self.sessions.get(id) else {
            return;
        };
        if self.needs_mfa(s) && !Amr::has_mfa(&s.amr) {
            let req = Message::request(
                Method::POST,
                Url::parse(apps::ENTRA_MFA_CONNECTOR).expect("constant URL"),
                0,
                "the AD FS access control policy calls Entra MFA through the adapter",
            )
            .with_body(Body::MfaRequest {
                upn: s.upn.clone(),
                method: "PhoneAppNotification",
            })
            .at(Stage::AdfsMfaPrompt);
            match self.net.request(ctx, req) {
                Ok(conv) => {
                    self.waits.insert(conv, Wait::Mfa(id.to_string()));
                }
                Err(_) => self.fail(
                    ctx,
                    id,
                    FaultCode::MfaUnreachable,
                    "AD FS cannot reach Entra MFA".into(),
                    "MSIS7012: An error occurred while processing the request (Azure MFA adapter)"
                        .into(),
                ),
            }
            return;
        }
        self.issue(ctx, id);
    }

    fn issue(&mut self, ctx: &mut impl Env, id: &str) {
        let Some(mut s) = self.sessions.remove(id) else {
            return;
        };
        let Some((client, req, _)) = s.held.take() else {
            return;
        };
        let rp = &self.cfg.relying_parties[s.rp];
        let now_ms = ctx.now().as_millis();
        let now = hmasim_protocol::unix_now(ctx);
        let mut uti = [0u8; 8];
        ctx.fill_bytes(&mut uti);
        let claims = Claims {
            aud: rp.identifier.clone(),
            iss: format!("http://{}/adfs/services/trust", self.cfg.host),
            iat: now,
            nbf: now,
            exp: now + self.cfg.token_lifetime.as_secs(),
            amr: s.amr.clone(),
            appid: String::new(),
            scp: String::new(),
            tid: String::new(),
            upn: s.upn.clone(),
            uti: hmasim_protocol::jwt::hex(&uti),
        };
        let jwt = ctx.sign(&claims, &self.cfg.signing_key);
        self.next_token += 1;
        let token_id = format!("SAML{}", self.next_token);
        let token = Token {
            id: token_id.clone(),
            kind: TokenKind::Saml,
            issuer: "adfs",
            client: rp.party.id().to_string(),
            audience: rp.identifier.clone(),
            obo_of: None,
            amr: s.amr.clone(),
            issued_ms: now_ms,
            expires_ms: now_ms + self.cfg.token_lifetime.as_millis(),
            jwt: jwt.clone(),
            upn: claims.upn,
        };
        let fields = Form::new()
            .with("wa", "wsignin1.0")
            .with("wresult", jwt)
            .with("wctx", s.wctx.clone());
        let page = Page::AutoPost {
            action: Url::parse(&rp.reply_url).unwrap_or_else(|_| Url::https(&self.cfg.host, "/")),
            fields,
        };
        let summary = if rp.party == PartyKind::EntraId {
            "AD FS posts the signed token back to Entra ID"
        } else {
            "AD FS posts the claims to Exchange"
        };
        let mut m = Message::response(&req, 200, summary)
            .at(rp.back_stage)
            .with_page(&page)
            // The page names, for the trace, the token its form posts.
            .carrying(token_id);
        m = m.issuing(token);
        ctx.send(client, m);
    }

    fn fail(
        &mut self,
        ctx: &mut impl Env,
        id: &str,
        code: FaultCode,
        message: String,
        diagnostics: String,
    ) {
        if let Some((client, req, label)) = self.sessions.remove(id).and_then(|mut s| s.held.take())
        {
            ctx.send(
                client,
                Self::error_page(&req, code, message, diagnostics).labelled(&label),
            );
        }
    }

    /// The active endpoint: user name and password, no interaction, so no MFA.
    fn active(&mut self, req: Wire, from: Route, ctx: &mut impl Env) {
        let Body::Bind { upn, password } = &req.body else {
            return ctx.send(from, Message::response(&req, 400, "no credentials"));
        };
        let extranet = req.header_value(&headers::X_MS_PROXY).is_some();
        let (upn, password) = (upn.clone(), password.clone());
        let bind = Message::request(
            Method::POST,
            Url::https(&dc_host(&self.cfg.host), "/ldap/bind"),
            0,
            "AD FS validates the credentials against Active Directory",
        )
        .with_body(Body::Bind {
            upn: upn.clone(),
            password,
        });
        if let Ok(conv) = self.net.request(ctx, bind) {
            self.waits.insert(
                conv,
                Wait::Active(from, Box::new((req, ctx.label())), upn, extranet),
            );
        }
    }

    fn active_answered(
        &mut self,
        ctx: &mut impl Env,
        waiting: (Route, (Wire, Label), String, bool),
        directory: (bool, Vec<String>),
    ) {
        let (client, (req, label), upn, extranet) = waiting;
        let (ok, groups) = directory;
        let rp = self
            .cfg
            .relying_parties
            .iter()
            .position(|r| r.identifier == apps::O365_REALM)
            .unwrap_or(0);
        let session = Session {
            rp,
            wctx: String::new(),
            extranet,
            upn: upn.clone(),
            groups,
            amr: vec!["pwd".into()],
            held: Some((client, req.clone(), label)),
        };
        if !ok {
            return ctx.send(
                client,
                Self::error_page(
                    &req,
                    FaultCode::InvalidCredentials,
                    "Active Directory rejected the user name or password".into(),
                    "MSIS7068: incorrect user ID or password".into(),
                ),
            );
        }
        if self.needs_mfa(&session) {
            return ctx.send(client, Self::error_page(&req, FaultCode::MfaRequired, format!("the access control policy requires MFA for {upn}, which the active endpoint cannot perform"), "MSIS7089: the access control policy requires multi-factor authentication".into()));
        }
        self.next_session += 1;
        let id = format!("A{}", self.next_session);
        self.sessions.insert(id.clone(), session);
        self.issue(ctx, &id);
    }

    fn answered(&mut self, resp: Wire, ctx: &mut impl Env) {
        if let Some(Wait::Active(..)) = self.waits.get(&resp.conv) {
            let Some(Wait::Active(client, req, upn, extranet)) = self.waits.remove(&resp.conv)
            else {
                return;
            };
            let (ok, groups) = match resp.body {
                Body::Directory { ok, groups, .. } => (ok, groups),
                _ => (false, Vec::new()),
            };
            return self.active_answered(ctx, (client, *req, upn, extranet), (ok, groups));
        }
        match self.waits.remove(&resp.conv) {
            Some(Wait::Bind(id)) => match resp.body {
                Body::Directory {
                    ok: true, groups, ..
                } => {
                    if let Some(s) = self.sessions.get_mut(&id) {
                        s.groups = groups;
                    }
                    self.policy(ctx, &id);
                }
                _ => self.fail(
                    ctx,
                    &id,
                    FaultCode::InvalidCredentials,
                    "Active Directory rejected the user name or password".into(),
                    "MSIS7068: incorrect user ID or password".into(),
                ),
            },
            Some(Wait::Mfa(id)) => match resp.body {
                Body::MfaResult { approved: true, .. } => {
                    if let Some(s) = self.sessions.get_mut(&id) {
                        s.amr.push("mfa".into());
                    }
                    self.issue(ctx, &id);
                }
                _ => self.fail(
                    ctx,
                    &id,
                    FaultCode::MfaDenied,
                    "the MFA request was not approved".into(),
                    "Azure MFA adapter: authentication failed".into(),
                ),
            },
            Some(Wait::Active(..)) | None => {}
        }
    }
}

fn dc_host(adfs_host: &str) -> String {
    let domain = adfs_host.split_once('.').map_or(adfs_host, |(_, d)| d);
    format!("dc.{domain}")
}

/// The party runs on anything that implements [`Env`]: `hmasim-sim`'s `Party` calls
/// these as its `Actor` implementation.
impl Adfs {
    /// Forgets nothing: the party keeps its state across a restart.
    pub fn restart(&mut self) {}

    /// Handles one message (or timer).
    pub fn handle(&mut self, msg: Wire, ctx: &mut impl Env) {
        let from = ctx.caller();
        match msg.kind {
            Kind::Request => {
                if msg
                    .url
                    .as_ref()
                    .is_some_and(|u| u.path_starts_with("/adfs/ls"))
                {
                    self.sign_in(msg, from, ctx);
                } else if msg
                    .url
                    .as_ref()
                    .is_some_and(|u| u.path_starts_with("/adfs/services/trust"))
                {
                    self.active(msg, from, ctx);
                } else {
                    ctx.send(from, Message::response(&msg, 404, "not an AD FS endpoint"));
                }
            }
            Kind::Response | Kind::Redirect => self.answered(msg, ctx),
            _ => {}
        }
    }
}
