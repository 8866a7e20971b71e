//! Exchange Server on-premises (Mailbox role): AutoDiscover v2, ActiveSync, MAPI over HTTP,
//! OWA, and the auth server configuration of hybrid modern authentication with its cached
//! EvoSTS signing metadata.
//!
//! Every decision is taken from the request as Exchange receives it: a Bearer token is
//! verified against the metadata Exchange has cached (so a key rollover it has not picked up
//! fails by computation), and its audience is compared with the URL Exchange actually sees
//! (so TLS offloading in front of it fails with diagnostics 2000003).
#![deny(missing_docs)]

use hmasim_protocol::codec::autodiscover::{v2_protocol, V2Answer};
use hmasim_protocol::codec::oidc::Jwks;
use hmasim_protocol::codec::ContentType;
use hmasim_protocol::headers;
use std::sync::Arc;
pub mod setup;
use std::collections::{BTreeMap, BTreeSet};

use hmasim_base::SimDuration;
use hmasim_protocol::challenge::{Challenge, Credentials};
use hmasim_protocol::jwt::{JwtError, KeySet};
use hmasim_protocol::line::session::{Credential, Decision, LineExchange, LineProtocol};
use hmasim_protocol::{
    apps, Body, Fault, Kind, Message, Method, Net, Page, Stage, Url, UserAction,
};
use hmasim_protocol::{ActiveSyncQuery, DeviceCharacteristic, FaultCode, MailboxProtocol};
use hmasim_protocol::{Env, Route};
use hmasim_protocol::{Label, Wire};

/// How often the arbitration mailbox refreshes the EvoSTS auth metadata: every eight hours.
pub const METADATA_CYCLE: SimDuration = SimDuration::from_hours(8);
pub use hmasim_protocol::apps::METADATA_HOST;
const ARBITRATION_TIMER: &str = "arbitration-mailbox-metadata-refresh";
const SCHEDULED_TIMER: &str = "scheduled-task-metadata-refresh";

/// An ActiveSync access level.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Access {
    /// Allow.
    Allow,
    /// Quarantine.
    Quarantine,
    /// Block.
    Block,
}

/// The health of the arbitration mailbox's metadata refresh.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MetadataRefresh {
    /// Runs and succeeds.
    Healthy,
    /// Runs and fails (event log only).
    Failing,
    /// Does not run.
    Absent,
}

/// Exchange on-premises configuration.
#[derive(Clone, Debug)]
pub struct OnpremConfig {
    /// Tenant id (in `trusted_issuers`).
    pub tenant_id: String,
    /// Accepted domain.
    pub domain: String,
    /// Mail host (`mail.contoso.com`).
    pub mail_host: String,
    /// The ActiveSync virtual directory's ExternalURL.
    pub activesync_url: String,
    /// The EvoSTS auth server is configured (hybrid modern authentication).
    pub hybrid_modern_auth: bool,
    /// EvoSTS is the default authorization endpoint.
    pub evosts_default: bool,
    /// OWA/ECP use AD FS claims-based authentication.
    pub owa_adfs_claims: bool,
    /// The AD FS host OWA redirects to.
    pub adfs_host: String,
    /// Cached EvoSTS signing metadata.
    pub evosts_metadata: KeySet,
    /// The AD FS token-signing certificate OWA trusts.
    pub adfs_trust: KeySet,
    /// The arbitration mailbox's 8-hourly metadata refresh.
    pub metadata_refresh: MetadataRefresh,
    /// A scheduled task running the refresh cmdlet this often.
    pub scheduled_refresh: Option<SimDuration>,
    /// UPNs (lower case) of mailboxes still on Exchange 2010, which cannot do OAuth.
    pub legacy_mailboxes: BTreeSet<String>,
    /// Protocols whose legacy (non-OAuth) authentication is blocked, by lower-case UPN
    /// (the user's authentication policy, or the organization default).
    pub legacy_blocked: BTreeMap<String, BTreeSet<MailboxProtocol>>,
    /// The policy that blocks it, by lower-case UPN, for diagnostics.
    pub legacy_policy: BTreeMap<String, String>,
    /// ActiveSync `DefaultAccessLevel`.
    pub eas_default: Access,
    /// ActiveSync device access rules: (`DeviceType`, `DeviceModel` or `UserAgent`, value,
    /// level).
    pub eas_rules: Vec<(DeviceCharacteristic, String, Access)>,
    /// The key Kerberos tickets for this server's service account are sealed with.
    pub kerberos: KeySet,
    /// The IMAP4 services run.
    pub imap_enabled: bool,
    /// The POP3 services run.
    pub pop_enabled: bool,
    /// UPNs (lower case) of the mailboxes hosted here.
    pub mailboxes: BTreeSet<String>,
    /// Allowed clock skew on token times, seconds.
    pub skew_s: u64,
}

/// What a pending directory check was for.
#[derive(Clone, Debug)]
struct PendingBind {
    client: Route,
    req: Wire,
    /// The request's trace label: its answer takes its step.
    label: Label,
}

/// The `exchange-onprem` party.
#[derive(Clone, Debug)]
pub struct ExchangeOnprem {
    // Shared by a world's clones: configuration only changes by `reconfigure`.
    cfg: Arc<OnpremConfig>,
    net: Net,
    binds: BTreeMap<u64, PendingBind>,
    /// The EvoSTS auth metadata as cached now.
    metadata: KeySet,
    metadata_requests: BTreeSet<u64>,
}

impl ExchangeOnprem {
    /// Exchange with `cfg`, reaching Active Directory through `net`.
    pub fn new(cfg: OnpremConfig, net: Net) -> Self {
        let metadata = cfg.evosts_metadata.clone();
        ExchangeOnprem {
            cfg: Arc::new(cfg),
            net,
            binds: BTreeMap::new(),
            metadata,
            metadata_requests: BTreeSet::new(),
        }
    }

    /// Replaces the cached EvoSTS metadata (the arbitration mailbox's refresh or
    /// `Set-AuthServer EvoSts -RefreshAuthMetadata`).
    pub fn refresh_metadata(&mut self, keys: KeySet) {
        self.metadata = keys;
    }

    /// Takes the configuration of `fresh`, keeping the run's state (cached metadata,
    /// pending checks).
    pub fn reconfigure(&mut self, fresh: ExchangeOnprem) {
        self.cfg = fresh.cfg;
        self.net.adopt(fresh.net);
    }

    /// The timers Exchange runs from the start: the arbitration mailbox's refresh cycle and
    /// the scheduled task, if any.
    pub fn initial_timers(&self) -> Vec<(SimDuration, Message)> {
        let mut t = Vec::new();
        if self.cfg.metadata_refresh != MetadataRefresh::Absent {
            t.push((METADATA_CYCLE, Message::timer(ARBITRATION_TIMER)));
        }
        if let Some(every) = self.cfg.scheduled_refresh {
            t.push((every, Message::timer(SCHEDULED_TIMER)));
        }
        t
    }

    fn fetch_metadata(&mut self, ctx: &mut impl Env, summary: &'static str) {
        let url = Url::https(
            METADATA_HOST,
            &format!("/{}/metadata/json/1", self.cfg.tenant_id),
        );
        let req = Message::request(Method::GET, url, 0, summary);
        if let Ok(conv) = self.net.request(ctx, req) {
            self.metadata_requests.insert(conv);
        }
    }

    fn on_timer(&mut self, msg: &Wire, ctx: &mut impl Env) {
        match &msg.body {
            Body::Timer(ARBITRATION_TIMER) => {
                match self.cfg.metadata_refresh {
                    MetadataRefresh::Healthy => self.fetch_metadata(ctx, "the arbitration mailbox (OrganizationCapabilityManagement) refreshes the EvoSTS auth metadata"),
                    MetadataRefresh::Failing => ctx.note(Message::note("MSExchange AuthAdmin: the EvoSTS auth metadata refresh failed").with_body(Body::Lines(vec![
                        "source: MSExchange AuthAdmin".into(),
                        "the arbitration mailbox with OrganizationCapabilityManagement could not refresh the metadata of auth server EvoSts".into(),
                    ]))),
                    MetadataRefresh::Absent => return,
                }
                ctx.timer(METADATA_CYCLE, Message::timer(ARBITRATION_TIMER));
            }
            Body::Timer(SCHEDULED_TIMER) => {
                self.fetch_metadata(
                    ctx,
                    "scheduled task: Set-AuthServer EvoSts -RefreshAuthMetadata",
                );
                if let Some(every) = self.cfg.scheduled_refresh {
                    ctx.timer(every, Message::timer(SCHEDULED_TIMER));
                }
            }
            _ => {}
        }
    }

    fn bearer_challenge(&self) -> Option<Challenge> {
        self.cfg.hybrid_modern_auth.then(|| {
            Challenge::bearer_exchange(
                &self.cfg.tenant_id,
                &self.cfg.domain,
                self.cfg.evosts_default.then_some(apps::EVOSTS_AUTHORIZE),
            )
        })
    }

    fn challenge(
        &self,
        req: &Wire,
        status_summary: &'static str,
        label: impl Into<Label>,
    ) -> Message {
        let mut m = Message::response(req, 401, status_summary).labelled(&label.into());
        if let Some(b) = self.bearer_challenge() {
            m = m.header(&headers::WWW_AUTHENTICATE, b.to_string());
        }
        m.header(
            &headers::WWW_AUTHENTICATE,
            Challenge::Basic {
                realm: self.cfg.mail_host.clone(),
            }
            .to_string(),
        )
    }

    /// The mailbox answer to `req`, authenticated as `upn`: the request body read with
    /// its protocol's decoder and the mailbox in its protocol's answer
    /// ([`hmasim_protocol::codec::mail::answer`]).
    fn mailbox(
        &self,
        ctx: &impl Env,
        req: &Wire,
        upn: &str,
        summary: &'static str,
        label: impl Into<Label>,
    ) -> Message {
        let now_unix = hmasim_protocol::unix_now(ctx);
        hmasim_protocol::codec::mail::answer(req, upn, now_unix, summary).labelled(&label.into())
    }

    /// The LDAP bind that checks Basic credentials against Active Directory, at the step
    /// of the request being handled.
    fn basic_bind(&self, upn: String, password: String) -> Message {
        Message::request(
            Method::POST,
            Url::https(&format!("dc.{}", self.cfg.domain), "/ldap/bind"),
            0,
            "Exchange checks Basic credentials against Active Directory",
        )
        .with_body(Body::Bind { upn, password })
        .same_stage()
    }

    /// Verifies a Bearer token as Exchange's OAuth module does; on failure, the 401 to send.
    fn verify_bearer(
        &self,
        ctx: &impl Env,
        req: &Wire,
        jwt_str: &str,
        now_unix: u64,
    ) -> Result<String, Box<Message>> {
        let url = req.url.as_ref().expect("requests have URLs");
        let reject = |code: FaultCode, message: String, diag: String| -> Box<Message> {
            let mut m =
                Message::response(req, 401, "Exchange rejects the access token").same_stage();
            if let Some(b) = self.bearer_challenge() {
                m = m.header(
                    &headers::WWW_AUTHENTICATE,
                    b.with_error("invalid_token").to_string(),
                );
            }
            Box::new(
                m.header(
                    &headers::WWW_AUTHENTICATE,
                    Challenge::Basic {
                        realm: self.cfg.mail_host.clone(),
                    }
                    .to_string(),
                )
                .header(&headers::X_MS_DIAGNOSTICS, diag.clone())
                .with_fault(Fault {
                    code,
                    party: "exchange-onprem",
                    message,
                    diagnostics: diag,
                    symptom: None,
                }),
            )
        };
        if !self.cfg.hybrid_modern_auth {
            return Err(reject(FaultCode::OauthNotConfigured, "OAuth is not enabled on Exchange on-premises".into(),
                "2000000;reason=\"OAuth authentication is not configured for this server.\";error_category=\"invalid_token\"".into()));
        }
        let claims = match ctx.verify(jwt_str, &self.metadata, now_unix, self.cfg.skew_s) {
            Ok(c) => c,
            Err(e @ (JwtError::UnknownKey(_) | JwtError::BadSignature(_))) => {
                return Err(reject(FaultCode::InvalidSignature, format!("Exchange cannot verify the token signature with its cached EvoSTS metadata: {e}"),
                    format!("2000001;reason=\"The signing key of the token is not in the cached auth metadata of auth server 'EvoSts' ({e}).\";error_category=\"invalid_signature\"")))
            }
            Err(e @ JwtError::Expired(..)) => {
                return Err(reject(FaultCode::TokenExpired, format!("the access token has expired: {e}"),
                    "2000008;reason=\"The token has expired.\";error_category=\"invalid_token\"".into()))
            }
            Err(e) => {
                return Err(reject(FaultCode::InvalidToken, format!("the token is not valid: {e}"),
                    format!("2000002;reason=\"{e}\";error_category=\"invalid_token\"")))
            }
        };
        let actual = url.origin();
        if !claims.aud.eq_ignore_ascii_case(&actual) {
            let reason = format!(
                "2000003;reason=\"The hostname component of the audience claim value is invalid. Expected '{}'. Actual '{}'.\";error_category=\"invalid_resource\"",
                claims.aud, actual
            );
            return Err(reject(
                FaultCode::AudienceMismatch,
                format!(
                    "the token's audience {} does not match the URL Exchange received, {actual}",
                    claims.aud
                ),
                reason,
            ));
        }
        if !self
            .cfg
            .mailboxes
            .contains(&claims.upn.to_ascii_lowercase())
        {
            return Err(reject(FaultCode::MailboxNotFound, format!("no on-premises mailbox for {}", claims.upn),
                "2000005;reason=\"The user specified by the user-context in the token does not exist.\";error_category=\"invalid_user\"".into()));
        }
        if self
            .cfg
            .legacy_mailboxes
            .contains(&claims.upn.to_ascii_lowercase())
        {
            // Exchange 2016/2019 proxies the request to the Exchange 2010 server hosting the
            // mailbox, which cannot authenticate OAuth: the client ends up disconnected.
            return Err(reject(
                FaultCode::OauthNotSupportedByMailboxServer,
                format!("the mailbox of {} is on Exchange 2010, which does not support OAuth; the proxied request is refused", claims.upn),
                "HTTP 401 from the Exchange 2010 mailbox server: OAuth is not a supported authentication method (proxy from Exchange 2016/2019)".into(),
            ));
        }
        Ok(claims.upn)
    }

    fn protected(&mut self, req: Wire, from: Route, ctx: &mut impl Env, challenge_stage: Stage) {
        let now_unix = hmasim_protocol::unix_now(ctx);
        let creds = req
            .header_value(&headers::AUTHORIZATION)
            .and_then(Credentials::parse);
        let protocol = req.url.as_ref().and_then(Url::mailbox_protocol);
        // ActiveSync device access applies to every ActiveSync client, OAuth or not.
        if protocol == Some(MailboxProtocol::Activesync)
            && !matches!(creds, None | Some(Credentials::EmptyBearer))
        {
            if let Some(refusal) = self.device_access(&req) {
                return ctx.send(from, refusal);
            }
        }
        if let Some(Credentials::Basic { user, .. }) = &creds {
            if let Some(refusal) = self.legacy_refusal(&req, user, protocol, "Basic") {
                return ctx.send(from, refusal);
            }
        }
        let reply = match creds {
            None | Some(Credentials::EmptyBearer) => self.challenge(
                &req,
                "401: authenticate; Bearer challenge names where to get a token",
                Some(challenge_stage),
            ),
            Some(Credentials::Bearer(t)) => match self.verify_bearer(ctx, &req, &t, now_unix) {
                Ok(upn) => self.mailbox(
                    ctx,
                    &req,
                    &upn,
                    "Exchange verifies the token and serves the mailbox",
                    ctx.label(),
                ),
                Err(m) => *m,
            },
            Some(Credentials::Basic { user, password }) => {
                let bind = self.basic_bind(user, password);
                match self.net.request(ctx, bind) {
                    Ok(conv) => {
                        self.binds.insert(
                            conv,
                            PendingBind {
                                client: from,
                                req,
                                label: ctx.label(),
                            },
                        );
                        return;
                    }
                    Err(_) => Message::response(&req, 500, "no domain controller reachable"),
                }
            }
            Some(Credentials::Negotiate(ticket)) => {
                let host = req.url.as_ref().map(|u| u.host.clone()).unwrap_or_default();
                match ctx.verify(&ticket, &self.cfg.kerberos, now_unix, self.cfg.skew_s) {
                    Ok(c) if c.aud.eq_ignore_ascii_case(&format!("HTTP/{host}")) && self.cfg.mailboxes.contains(&c.upn.to_ascii_lowercase()) => {
                        match self.legacy_refusal(&req, &c.upn, protocol, "Kerberos") {
                            Some(refusal) => refusal,
                            None => self.mailbox(ctx, &req, &c.upn, "Exchange accepts the Kerberos ticket (Integrated Windows Authentication) and serves the mailbox", ctx.label()),
                        }
                    }
                    _ => self.challenge(&req, "401: the Kerberos ticket is not valid here", Some(challenge_stage)),
                }
            }
        };
        ctx.send(from, reply);
    }

    /// The refusal of legacy authentication by the user's authentication policy, if any.
    fn legacy_refusal(
        &self,
        req: &Wire,
        user: &str,
        protocol: Option<MailboxProtocol>,
        method: &str,
    ) -> Option<Message> {
        let protocol = protocol?;
        let upn = user.to_ascii_lowercase();
        let blocked = self
            .cfg
            .legacy_blocked
            .get(&upn)
            .is_some_and(|p| p.contains(&protocol));
        if !blocked {
            return None;
        }
        let policy = self
            .cfg
            .legacy_policy
            .get(&upn)
            .cloned()
            .unwrap_or_default();
        let flag = legacy_flag(protocol);
        let diagnostics = match req.line.as_deref() {
            Some(_) => format!(
                "{}: authentication policy '{policy}': {flag} = True",
                Self::line_refusal_text(req)
            ),
            None => format!("HTTP 401: authentication policy '{policy}': {flag} = True"),
        };
        Some(
            Self::refused(req, "the authentication policy blocks legacy authentication")
                .same_stage()
                .with_fault(Fault {
                    code: FaultCode::LegacyAuthBlocked,
                    party: "exchange-onprem",
                    message: format!("{method} authentication to {protocol} is blocked for {user} by authentication policy '{policy}' ({flag})"),
                    diagnostics,
                    symptom: None,
                }),
        )
    }

    /// A refusal of `req` in its own protocol: a line session's replies with its
    /// credential refused (`a1 NO LOGIN failed.`, `-ERR Authentication failure...`), else
    /// an HTTP 401.
    fn refused(req: &Wire, summary: &'static str) -> Message {
        match req.line.as_deref() {
            Some(session) => {
                Message::line_answer(req, session.answer(false, &Decision::Refused), summary)
            }
            None => Message::response(req, 401, summary),
        }
    }

    /// The reply line a refused line session shows first.
    fn line_refusal_text(req: &Wire) -> String {
        req.line
            .as_deref()
            .and_then(|s| s.answer(false, &Decision::Refused).refusal())
            .unwrap_or_else(|| "connection closed".into())
    }

    /// An IMAP or POP session on the mail host (ports 993 and 995). The service must run
    /// (`MSExchangeIMAP4`, `MSExchangePOP3`: a stopped one refuses the connection). A
    /// password (`LOGIN`, `PASS`, `AUTHENTICATE PLAIN`) is legacy authentication:
    /// `BlockLegacyAuthImap` / `BlockLegacyAuthPop` of the user's authentication policy,
    /// then a bind at Active Directory. `XOAUTH2` is refused: hybrid modern
    /// authentication does not cover IMAP and POP on-premises.
    fn line_session(&mut self, req: Wire, from: Route, ctx: &mut impl Env) {
        let Some(session) = req.line.as_deref() else {
            return;
        };
        let line = session.protocol();
        let protocol = line.mailbox_protocol();
        let running = match line {
            LineProtocol::Imap => self.cfg.imap_enabled,
            LineProtocol::Pop => self.cfg.pop_enabled,
        };
        if !running {
            let service = match line {
                LineProtocol::Imap => "MSExchangeIMAP4",
                LineProtocol::Pop => "MSExchangePOP3",
            };
            let reply = Message::line_answer(
                &req,
                LineExchange::no_service(line),
                "the service is not running: the connection is refused",
            )
            .with_fault(Fault {
                code: FaultCode::ServiceDisabled,
                party: "exchange-onprem",
                message: format!("the {service} service is not started"),
                diagnostics: format!("connection refused: {service} stopped"),
                symptom: None,
            });
            return ctx.send(from, reply);
        }
        let reply = match session.credential() {
            Some(Credential::Password { user, password }) => {
                if let Some(refusal) = self.legacy_refusal(&req, &user, Some(protocol), "Basic") {
                    refusal
                } else {
                    let bind = self.basic_bind(user, password);
                    match self.net.request(ctx, bind) {
                        Ok(conv) => {
                            let label = ctx.label();
                            self.binds.insert(
                                conv,
                                PendingBind {
                                    client: from,
                                    req,
                                    label,
                                },
                            );
                            return;
                        }
                        Err(_) => Self::refused(&req, "no domain controller reachable"),
                    }
                }
            }
            Some(Credential::Bearer { user, .. }) => {
                Self::refused(&req, "Exchange on-premises does not accept OAuth on IMAP or POP")
                    .same_stage()
                    .with_fault(Fault {
                        code: FaultCode::InvalidToken,
                        party: "exchange-onprem",
                        message: format!("XOAUTH2 for {user} refused: hybrid modern authentication does not cover {protocol} on-premises"),
                        diagnostics: Self::line_refusal_text(&req),
                        symptom: None,
                    })
            }
            None => Message::line_answer(
                &req,
                session.answer(false, &Decision::Refused),
                "Exchange answers a session that never authenticates",
            )
            .same_stage(),
        };
        ctx.send(from, reply);
    }

    /// ActiveSync device access: the most restrictive matching rule, else the default level.
    fn device_access(&self, req: &Wire) -> Option<Message> {
        let url = req.url.as_ref()?;
        let device_type = ActiveSyncQuery::device_type_of(url).unwrap_or("");
        let model = req.header_value(&headers::X_DEVICE_MODEL).unwrap_or("");
        let agent = req.header_value(&headers::USER_AGENT).unwrap_or("");
        let matching: Vec<&(DeviceCharacteristic, String, Access)> = self
            .cfg
            .eas_rules
            .iter()
            .filter(|(ch, q, _)| match ch {
                DeviceCharacteristic::DeviceType => q.eq_ignore_ascii_case(device_type),
                DeviceCharacteristic::UserAgent => q.eq_ignore_ascii_case(agent),
                DeviceCharacteristic::DeviceModel => q.eq_ignore_ascii_case(model),
            })
            .collect();
        let (level, why) = match matching.iter().max_by_key(|(_, _, a)| *a) {
            Some((ch, q, a)) => (*a, format!("device access rule {ch} '{q}'")),
            None => (self.cfg.eas_default, "DefaultAccessLevel".to_string()),
        };
        let (code, what) = match level {
            Access::Allow => return None,
            Access::Block => (FaultCode::DeviceBlocked, "blocked"),
            Access::Quarantine => (FaultCode::DeviceQuarantined, "quarantined"),
        };
        Some(
            Message::response(req, 403, "ActiveSync device access refuses the device")
                .same_stage()
                .with_fault(Fault {
                    code,
                    party: "exchange-onprem",
                    message: format!("the ActiveSync device (DeviceType '{device_type}', model '{model}') is {what} by {why}"),
                    diagnostics: format!("ActiveSync device access: {what} ({why})"),
                    symptom: None,
                }),
        )
    }

    fn owa(&mut self, req: Wire, from: Route, ctx: &mut impl Env) {
        let url = req.url.clone().expect("requests have URLs");
        let realm = format!("https://{}/owa/", self.cfg.mail_host);
        let form = req.form();
        match (&req.method, &form) {
            (Some(Method::POST), Some(f)) if f.get("wresult").is_some() => {
                let now_unix = hmasim_protocol::unix_now(ctx);
                let reply = match ctx.verify(
                    f.get("wresult").unwrap_or(""),
                    &self.cfg.adfs_trust,
                    now_unix,
                    self.cfg.skew_s,
                ) {
                    Ok(c)
                        if c.aud == realm
                            && self.cfg.mailboxes.contains(&c.upn.to_ascii_lowercase()) =>
                    {
                        self.mailbox(
                            ctx,
                            &req,
                            &c.upn,
                            "Exchange accepts the AD FS claims; OWA opens",
                            Some(Stage::UseToken),
                        )
                    }
                    Ok(c) => Message::response(
                        &req,
                        403,
                        "the AD FS claims are not for this OWA or user",
                    )
                    .with_fault(Fault {
                        code: FaultCode::ClaimsRejected,
                        party: "exchange-onprem",
                        message: format!("token for {} / {} not accepted by OWA", c.aud, c.upn),
                        diagnostics: "WS-Federation sign-in rejected: audience or user mismatch"
                            .into(),
                        symptom: None,
                    }),
                    Err(e) => Message::response(&req, 403, "the AD FS token does not verify")
                        .with_fault(Fault {
                            code: FaultCode::ClaimsRejected,
                            party: "exchange-onprem",
                            message: e.to_string(),
                            diagnostics: format!("WS-Federation sign-in rejected: {e}"),
                            symptom: None,
                        }),
                };
                ctx.send(from, reply);
            }
            (Some(Method::POST), Some(f)) if f.get("Password").is_some() => {
                let bind = Message::request(
                    Method::POST,
                    Url::https(&format!("dc.{}", self.cfg.domain), "/ldap/bind"),
                    0,
                    "OWA forms sign-in checks the password against Active Directory",
                )
                .with_body(Body::Bind {
                    upn: f.get("UserName").unwrap_or("").to_string(),
                    password: f.get("Password").unwrap_or("").to_string(),
                })
                .at(Stage::Credentials);
                if let Ok(conv) = self.net.request(ctx, bind) {
                    self.binds.insert(
                        conv,
                        PendingBind {
                            client: from,
                            req,
                            label: ctx.label(),
                        },
                    );
                }
            }
            _ if self.cfg.owa_adfs_claims => {
                let loc = Url::https(&self.cfg.adfs_host, "/adfs/ls/")
                    .with("wa", "wsignin1.0")
                    .with("wtrealm", realm)
                    .with("wctx", format!("rm=0&id=passive&ru={}", url.path));
                ctx.send(
                    from,
                    Message::redirect(
                        &req,
                        loc,
                        "OWA redirects to AD FS (claims-based authentication)",
                    )
                    .at(Stage::RedirectToIdp),
                );
            }
            _ => {
                let page = Page::SignIn {
                    action: Url::https(&self.cfg.mail_host, "/owa/auth.owa"),
                    username: None,
                };
                ctx.send(
                    from,
                    Message::response(&req, 200, "OWA forms-based sign-in page")
                        .at(Stage::Credentials)
                        .with_page(&page),
                );
            }
        }
    }

    fn bind_answered(&mut self, resp: Wire, ctx: &mut impl Env) {
        let Some(p) = self.binds.remove(&resp.conv) else {
            return;
        };
        let ok = matches!(resp.body, Body::Directory { ok: true, .. });
        let line_user = p
            .req
            .line
            .as_deref()
            .and_then(LineExchange::credential)
            .map(|c| c.user().to_string());
        let upn = match p.req.form() {
            _ if line_user.is_some() => line_user.unwrap_or_default(),
            Some(f) => f.get("UserName").unwrap_or("").to_string(),
            _ => match p
                .req
                .header_value(&headers::AUTHORIZATION)
                .and_then(Credentials::parse)
            {
                Some(Credentials::Basic { user, .. }) => user,
                _ => String::new(),
            },
        };
        let served = ok && self.cfg.mailboxes.contains(&upn.to_ascii_lowercase());
        if let Some(session) = p.req.line.as_deref() {
            let reply = if served {
                Message::line_answer(
                    &p.req,
                    session.answer(false,
                        &Decision::Accepted {
                            message: mailbox_message(&upn),
                        },
                    ),
                    format!(
                        "Basic credentials accepted by Active Directory; Exchange serves the mailbox over {}",
                        session.protocol().name()
                    ),
                )
                .labelled(&Some(Stage::UseToken).into())
            } else {
                Self::refused(&p.req, "the credentials were rejected")
                    .labelled(&p.label)
                    .with_fault(Fault {
                        code: FaultCode::InvalidCredentials,
                        party: "exchange-onprem",
                        message: format!("Active Directory rejected the password of {upn}"),
                        diagnostics: format!(
                            "{}: Logon failure: unknown user name or bad password",
                            Self::line_refusal_text(&p.req)
                        ),
                        symptom: None,
                    })
            };
            return ctx.send(p.client, reply);
        }
        let reply = if served {
            self.mailbox(
                ctx,
                &p.req,
                &upn,
                "Basic/forms credentials accepted by Active Directory; mailbox served",
                Some(Stage::UseToken),
            )
        } else {
            self.challenge(&p.req, "401: the credentials were rejected", p.label)
                .with_fault(Fault {
                    code: FaultCode::InvalidCredentials,
                    party: "exchange-onprem",
                    message: format!("Active Directory rejected the password of {upn}"),
                    diagnostics: "HTTP 401: Logon failure: unknown user name or bad password"
                        .into(),
                    symptom: None,
                })
        };
        ctx.send(p.client, reply);
    }
}

/// The message an IMAP `FETCH` or POP `RETR` of `upn`'s mailbox returns (RFC 5322).
fn mailbox_message(upn: &str) -> String {
    format!(
        "From: Administrator <administrator@{domain}>\r\nTo: {upn}\r\nSubject: Welcome to your mailbox\r\n\r\nMail in {upn}'s on-premises mailbox.\r\n",
        domain = upn.rsplit('@').next().unwrap_or(upn)
    )
}

/// The on-premises authentication policy flag for a protocol.
pub fn legacy_flag(protocol: MailboxProtocol) -> &'static str {
    match protocol {
        MailboxProtocol::Activesync => "BlockLegacyAuthActiveSync",
        MailboxProtocol::Autodiscover => "BlockLegacyAuthAutodiscover",
        MailboxProtocol::Mapi => "BlockLegacyAuthMapi",
        MailboxProtocol::Ews => "BlockLegacyAuthWebServices",
        MailboxProtocol::Oab => "BlockLegacyAuthOfflineAddressBook",
        MailboxProtocol::Rpc => "BlockLegacyAuthRpc",
        MailboxProtocol::Imap => "BlockLegacyAuthImap",
        MailboxProtocol::Pop => "BlockLegacyAuthPop",
    }
}

/// The party runs on anything that implements [`Env`] (the simulator's `SimEnv` does):
/// `hmasim-sim`'s `Party` calls these two as its `Actor` implementation.
impl ExchangeOnprem {
    /// Comes back after a crash: the default keeps everything (no volatile state).
    pub fn restart(&mut self) {}

    /// Handles one message (or timer) from `from`.
    pub fn handle(&mut self, req: Wire, ctx: &mut impl Env) {
        let from = ctx.caller();
        match (req.kind, &req.body) {
            (_, Body::Action(UserAction::RefreshAuthMetadata)) => {
                return self.fetch_metadata(
                    ctx,
                    "the admin runs Set-AuthServer EvoSts -RefreshAuthMetadata",
                );
            }
            (Kind::Timer, _) => return self.on_timer(&req, ctx),
            (Kind::Response, _) if self.metadata_requests.remove(&req.conv) => {
                // The JWKS Entra ID publishes; an answer that is not one leaves the cached
                // metadata as it was (stale, as a failed refresh leaves it).
                if let Some(keys) = (req.status == Some(hmasim_protocol::StatusCode::OK)
                    && req.content_type() == Some(ContentType::Json))
                .then(|| Jwks::decode(req.bytes()).ok())
                .flatten()
                .and_then(|j| KeySet::from_jwks(&j))
                {
                    self.metadata = keys;
                }
                return;
            }
            (Kind::Response, _) => return self.bind_answered(req, ctx),
            (Kind::Request, _) => {}
            _ => return,
        }
        if req.line.is_some() {
            return self.line_session(req, from, ctx);
        }
        let Some(url) = req.url.clone() else { return };
        tracing::debug!(t_ms = ctx.now().as_millis(), party = "exchange-onprem", %url, "request");
        if url.path_starts_with("/autodiscover/autodiscover.json") {
            let protocol = url.param("Protocol").and_then(MailboxProtocol::parse);
            let reply = match protocol {
                Some(MailboxProtocol::Activesync) => {
                    Message::response(&req, 200, "AutoDiscover v2 answers with the ActiveSync URL")
                        .header(&headers::CONTENT_TYPE, "application/json")
                        .with_encoded(
                            V2Answer {
                                protocol: "activesync".into(),
                                url: self.cfg.activesync_url.clone(),
                            }
                            .encode(),
                        )
                }
                Some(p @ (MailboxProtocol::Ews | MailboxProtocol::Mapi)) => {
                    Message::response(&req, 200, "AutoDiscover v2 answers")
                        .header(&headers::CONTENT_TYPE, "application/json")
                        .with_encoded(
                            V2Answer {
                                protocol: p.as_str().into(),
                                url: format!("https://{}/EWS/Exchange.asmx", self.cfg.mail_host),
                            }
                            .encode(),
                        )
                }
                _ => {
                    let m = Message::response(&req, 400, "AutoDiscover v2: unknown protocol");
                    // An unknown `Protocol` gets AutoDiscover's InvalidProtocol error.
                    match v2_protocol(url.param("Protocol").unwrap_or("")) {
                        Err(e) => {
                            let stamp = hmasim_protocol::error_stamp(&req, &*ctx);
                            m.with_encoded(e.encode(&stamp))
                        }
                        Ok(_) => m,
                    }
                }
            };
            ctx.send(from, reply.at(Stage::AutodiscoverOnprem));
        } else if url.mailbox_protocol() == Some(MailboxProtocol::Activesync) {
            self.protected(req, from, ctx, Stage::EasChallenge);
        } else if url.path_starts_with("/autodiscover/autodiscover.xml")
            || url.path_starts_with("/mapi")
            || url.path_starts_with("/ews")
            || url.path_starts_with("/oab")
            || url.path_starts_with("/rpc")
        {
            self.protected(req, from, ctx, Stage::AuthorityReturned);
        } else if url.path_starts_with("/owa") || url.path_starts_with("/ecp") {
            self.owa(req, from, ctx);
        } else {
            ctx.send(
                from,
                Message::response(&req, 404, "no such virtual directory"),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use hmasim_base::ActorId;
    use hmasim_protocol::env::Recording;
    use hmasim_protocol::{Directory, Method, StatusCode};

    use super::*;

    const DC: ActorId = ActorId(5);

    fn exchange() -> ExchangeOnprem {
        let mut directory = Directory::new();
        directory.insert("dc.contoso.com", DC);
        let cfg = OnpremConfig {
            tenant_id: "tenant".into(),
            domain: "contoso.com".into(),
            mail_host: "mail.contoso.com".into(),
            activesync_url: "https://mail.contoso.com/Microsoft-Server-ActiveSync".into(),
            hybrid_modern_auth: false,
            evosts_default: false,
            owa_adfs_claims: false,
            adfs_host: "sts.contoso.com".into(),
            evosts_metadata: KeySet::default(),
            adfs_trust: KeySet::default(),
            metadata_refresh: MetadataRefresh::Healthy,
            scheduled_refresh: None,
            legacy_mailboxes: BTreeSet::new(),
            legacy_blocked: BTreeMap::new(),
            legacy_policy: BTreeMap::new(),
            eas_default: Access::Allow,
            eas_rules: Vec::new(),
            kerberos: KeySet::default(),
            imap_enabled: false,
            pop_enabled: false,
            mailboxes: BTreeSet::from(["user@contoso.com".to_string()]),
            skew_s: 300,
        };
        ExchangeOnprem::new(cfg, Net::new(directory))
    }

    /// Sends `req` with the user's Basic credentials, lets Active Directory accept them,
    /// and returns Exchange's answer.
    fn basic_answer(path: &str, body: Option<hmasim_protocol::codec::Encoded>) -> Message {
        let mut exchange = exchange();
        let client = Route::to_actor(ActorId(0));
        let mut env = Recording::new(client);
        let basic = Credentials::Basic {
            user: "user@contoso.com".into(),
            password: "pw".into(),
        };
        let mut req =
            Message::request(Method::POST, Url::https("mail.contoso.com", path), 7, "use")
                .header(&headers::AUTHORIZATION, basic.to_string());
        if let Some(b) = body {
            req = req.with_encoded(b);
        }
        exchange.handle(req.wire, &mut env);
        let (_, bind) = env.sent.pop().expect("a bind");
        env.caller = Route::to_actor(DC);
        let ok = Message::response(&bind.wire, 200, "ok").with_body(Body::Directory {
            ok: true,
            groups: Vec::new(),
            ticket: None,
        });
        exchange.handle(ok.wire, &mut env);
        env.sent.pop().expect("an answer").1
    }

    #[test]
    fn mailbox_answers_are_the_protocols_own_bytes() {
        use hmasim_protocol::codec::{mail, read_mailbox, ContentType};
        for (path, body, ct) in [
            (
                "/Microsoft-Server-ActiveSync",
                Some(mail::sync_request("0")),
                ContentType::Wbxml,
            ),
            (
                "/EWS/Exchange.asmx",
                Some(mail::find_item_request()),
                ContentType::Xml,
            ),
            ("/mapi/emsmdb/", None, ContentType::MapiHttp),
        ] {
            let answer = basic_answer(path, body);
            assert_eq!(answer.status, Some(StatusCode::OK), "{path}");
            assert_eq!(answer.content_type(), Some(ct), "{path}");
            assert!(answer.carries_mailbox(), "{path}");
            let m = read_mailbox(ct, answer.bytes()).unwrap();
            assert_eq!(m.items[0].subject, "Welcome to your mailbox, user");
        }
    }

    #[test]
    fn legacy_answers_are_the_protocols_own_bytes() {
        use hmasim_protocol::codec::{autodiscover, mail, read_mailbox, ContentType, Encoded};
        let pox = mail::request_body(mail::Endpoint::AutodiscoverPox, "0", "user@contoso.com");
        for (path, body, ct, format) in [
            (
                "/autodiscover/autodiscover.xml",
                pox,
                ContentType::Xml,
                "AutoDiscover POX settings",
            ),
            ("/OAB/oab.xml", None, ContentType::Xml, "OAB manifest"),
            (
                "/rpc/rpcproxy.dll",
                None,
                ContentType::Rpc,
                "RPC over HTTP EcDoRpcExt2",
            ),
            // ECP signs in with its forms page, like OWA.
            (
                "/ecp/",
                Some(Encoded::new(
                    ContentType::Form,
                    b"UserName=user%40contoso.com&Password=pw".to_vec(),
                )),
                ContentType::Html,
                "ECP options",
            ),
        ] {
            let answer = basic_answer(path, body);
            assert_eq!(answer.status, Some(StatusCode::OK), "{path}");
            assert_eq!(answer.content_type(), Some(ct), "{path}");
            assert!(answer.carries_mailbox(), "{path}");
            let m = read_mailbox(ct, answer.bytes()).unwrap();
            assert_eq!(m.format, format);
        }
        // A POX request for another mailbox, or none at all: the POX error, no settings.
        for body in [
            Some(autodiscover::PoxRequest::outlook("other@contoso.com").encode()),
            None,
        ] {
            let answer = basic_answer("/autodiscover/autodiscover.xml", body);
            assert_eq!(answer.status, Some(StatusCode::OK));
            let text = String::from_utf8(answer.bytes().to_vec()).unwrap();
            assert!(text.contains("<Error "), "{text}");
            assert!(!answer.carries_mailbox());
        }
    }

    #[test]
    fn request_bodies_exchange_cannot_read_are_refused_as_it_refuses_them() {
        use hmasim_protocol::codec::{ews, wbxml, ContentType, Encoded};
        // Not WBXML: HTTP.sys's 400 page.
        let junk = Encoded::new(ContentType::Wbxml, b"<Sync/>".to_vec());
        let a = basic_answer("/Microsoft-Server-ActiveSync", Some(junk));
        assert_eq!(a.status, Some(StatusCode::BAD_REQUEST));
        assert!(!a.carries_mailbox());
        // WBXML of a Sync that is not a request: 200 with Status 4.
        let wrong = wbxml::Command::SyncError { status: 1 }.encode();
        let a = basic_answer("/Microsoft-Server-ActiveSync", Some(wrong));
        assert_eq!(a.status, Some(StatusCode::OK));
        assert_eq!(
            wbxml::decode(a.bytes()).unwrap(),
            wbxml::Command::SyncError { status: 4 }
        );
        assert!(!a.carries_mailbox());
        // No body at all is not WBXML either.
        let a = basic_answer("/Microsoft-Server-ActiveSync", None);
        assert_eq!(a.status, Some(StatusCode::BAD_REQUEST));
        // EWS: a SOAP fault, HTTP 500.
        let bad = Encoded::new(ContentType::Xml, b"<soap:Envelope".to_vec());
        let a = basic_answer("/EWS/Exchange.asmx", Some(bad));
        assert_eq!(a.status, Some(StatusCode::INTERNAL_SERVER_ERROR));
        let text = String::from_utf8(a.bytes().to_vec()).unwrap();
        assert!(text.contains("a:ErrorInvalidRequest"), "{text}");
        assert!(ews::FindItemResponse::decode(a.bytes()).is_err());
        assert!(!a.carries_mailbox());
    }

    /// A Basic ActiveSync request is held while Active Directory checks the password; the
    /// refusal that answers it later takes the request's step, from the label Exchange
    /// saved, not the step of the directory's answer it is handling then.
    #[test]
    fn a_held_basic_request_is_answered_at_its_own_step() {
        let mut exchange = exchange();
        let client = Route::to_actor(ActorId(0));
        let mut env = Recording::new(client);
        env.handled.stage = Some(Stage::EasChallenge);
        let basic = Credentials::Basic {
            user: "user@contoso.com".into(),
            password: "wrong".into(),
        };
        let req = Message::request(
            Method::POST,
            Url::https("mail.contoso.com", "/Microsoft-Server-ActiveSync"),
            7,
            "sync",
        )
        .header(&headers::AUTHORIZATION, basic.to_string());
        exchange.handle(req.wire, &mut env);
        let (to, bind) = env.sent.pop().expect("a bind");
        assert_eq!(to.actor(), DC);
        env.caller = Route::to_actor(DC);
        env.handled.stage = Some(Stage::Sync);
        let refused = Message::response(&bind.wire, 200, "no").with_body(Body::Directory {
            ok: false,
            groups: Vec::new(),
            ticket: None,
        });
        exchange.handle(refused.wire, &mut env);
        let (to, answer) = env.sent.pop().expect("an answer");
        assert_eq!(to, client);
        assert_eq!(answer.status, Some(StatusCode::UNAUTHORIZED));
        assert_eq!(answer.conv, 7);
        assert_eq!(answer.meta.stage, Some(Stage::EasChallenge));
    }

    fn session(s: LineExchange) -> Message {
        Message::line_session(Url::line(s.protocol(), "mail.contoso.com"), 3, s, "session")
    }

    fn lines(m: &Message) -> &LineExchange {
        m.line.as_deref().expect("a line answer")
    }

    #[test]
    fn a_stopped_service_refuses_the_connection_without_a_greeting() {
        let mut exchange = exchange();
        let mut env = Recording::new(Route::to_actor(ActorId(0)));
        exchange.handle(
            session(LineExchange::imap_login("user@contoso.com", "pw")).wire,
            &mut env,
        );
        let (_, answer) = env.sent.pop().expect("an answer");
        assert!(lines(&answer).masked_lines().is_empty());
        // Exchange's record of it; the client sees only the missing greeting.
        assert_eq!(
            answer.meta.fault.as_deref().map(|f| f.code),
            Some(FaultCode::ServiceDisabled)
        );
    }

    #[test]
    fn block_legacy_auth_imap_refuses_the_login_before_the_directory_is_asked() {
        let mut exchange = exchange();
        Arc::make_mut(&mut exchange.cfg).imap_enabled = true;
        Arc::make_mut(&mut exchange.cfg).pop_enabled = true;
        Arc::make_mut(&mut exchange.cfg).legacy_blocked.insert(
            "user@contoso.com".into(),
            BTreeSet::from([MailboxProtocol::Imap]),
        );
        let mut env = Recording::new(Route::to_actor(ActorId(0)));
        exchange.handle(
            session(LineExchange::imap_login("user@contoso.com", "pw")).wire,
            &mut env,
        );
        let (_, answer) = env.sent.pop().expect("an answer");
        assert_eq!(
            lines(&answer).refusal().as_deref(),
            Some("a1 NO LOGIN failed.")
        );
        // What the client reads is the reply line; the policy is in Exchange's record.
        let read = hmasim_protocol::refusal::read(&answer.wire).expect("a refusing reply");
        assert_eq!(read.description, "a1 NO LOGIN failed.");
        let fault = answer.meta.fault.as_deref().expect("a refusal");
        assert_eq!(fault.code, FaultCode::LegacyAuthBlocked);
        assert!(fault.message.contains("BlockLegacyAuthImap"));
        assert!(env.sent.is_empty());
        // POP is not blocked: its password goes to Active Directory, and the session is
        // served once the directory accepts it.
        exchange.handle(
            session(LineExchange::pop_login("user@contoso.com", "pw")).wire,
            &mut env,
        );
        let (to, bind) = env.sent.pop().expect("a bind");
        assert_eq!(to.actor(), DC);
        env.caller = Route::to_actor(DC);
        let ok = Message::response(&bind.wire, 200, "ok").with_body(Body::Directory {
            ok: true,
            groups: Vec::new(),
            ticket: None,
        });
        exchange.handle(ok.wire, &mut env);
        let (to, answer) = env.sent.pop().expect("the session's answer");
        assert_eq!((to.actor(), answer.conv), (ActorId(0), 3));
        assert!(answer.carries_mailbox());
    }

    #[test]
    fn xoauth2_is_refused_on_premises() {
        let mut exchange = exchange();
        Arc::make_mut(&mut exchange.cfg).imap_enabled = true;
        let mut env = Recording::new(Route::to_actor(ActorId(0)));
        let bearer = Credential::Bearer {
            user: "user@contoso.com".into(),
            token: "eyJ0.x.y".into(),
        };
        exchange.handle(
            session(LineExchange::imap_authenticate(&bearer)).wire,
            &mut env,
        );
        let (_, answer) = env.sent.pop().expect("an answer");
        assert_eq!(
            lines(&answer).refusal().as_deref(),
            Some("a1 NO AUTHENTICATE failed.")
        );
        assert!(!answer.carries_mailbox());
    }
}
