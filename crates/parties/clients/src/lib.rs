//! The clients a user holds: Outlook desktop, Outlook mobile and a web browser. Each acts
//! for its user: it follows redirects, fills sign-in forms with the user's credentials,
//! approves MFA prompts, redeems authorization codes and presents tokens, the way the real
//! client's sign-in web view does. Which pages appear and which tokens come back is up to
//! the services; the client only reacts.
#![deny(missing_docs)]

pub mod setup;
mod web;

use hmasim_protocol::codec;
use hmasim_protocol::headers;
use hmasim_protocol::refusal;
use std::collections::BTreeMap;

use hmasim_base::{SimDuration, SimTime};
use hmasim_protocol::challenge::{Challenge, Credentials};
use hmasim_protocol::codec::mail;
use hmasim_protocol::line::session::{LineExchange, LineProtocol};
use hmasim_protocol::Env;
use hmasim_protocol::FaultCode;
use hmasim_protocol::{
    apps, Body, DetectAnswer, Fault, Form, Kind, Message, Method, Net, Retries, Stage, Url,
    UserAction,
};
use hmasim_protocol::{StatusCode, Wire};

pub use web::NATIVE_REDIRECT_MOBILE;

/// What kind of client this is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClientKind {
    /// Outlook for Windows / Mac.
    OutlookDesktop,
    /// Outlook for iOS / Android.
    OutlookMobile,
    /// A web browser.
    Browser,
    /// A mobile OS mail app (ActiveSync with Basic).
    NativeMail,
}

/// How a client authenticates to the mailbox.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Auth {
    /// OAuth: the documented hybrid modern authentication flows.
    Modern,
    /// Basic credentials on every request to `url` (a legacy protocol endpoint); for an
    /// `imaps://` or `pop3s://` URL, an IMAP `LOGIN` or POP `USER`/`PASS` session.
    Basic {
        /// The endpoint.
        url: Url,
    },
    /// Integrated Windows Authentication (Kerberos) to `url`, from inside.
    Iwa {
        /// The endpoint.
        url: Url,
    },
}

/// A client's configuration.
#[derive(Clone, Debug)]
pub struct ClientConfig {
    /// The id it carries in traces.
    pub id: String,
    /// What it is.
    pub kind: ClientKind,
    /// The user's UPN.
    pub upn: String,
    /// The password the user types.
    pub password: String,
    /// The User-Agent it sends.
    pub user_agent: String,
    /// Whether it can do Kerberos (domain-joined, on the corporate network).
    pub kerberos: bool,
    /// Where the mailbox is reached: the MAPI URL for Outlook desktop, the OWA URL for the
    /// browser (Outlook mobile discovers it through AutoDetect).
    pub mailbox_url: Url,
    /// The AutoDetect URL (Outlook mobile).
    pub autodetect_url: Url,
    /// The protocol translator's provisioning URL (Outlook mobile).
    pub translator_url: Url,
    /// The user's domain (for the KDC host).
    pub domain: String,
    /// Whether the user approves MFA prompts.
    pub approve_mfa: bool,
    /// How often the client synchronizes in the background once signed in.
    pub sync_interval: SimDuration,
    /// How it authenticates.
    pub auth: Auth,
    /// Keep a copy of each request to resend it after a timeout. A world whose network
    /// loses nothing never needs one, and copying every request costs.
    pub retries: bool,
    /// ActiveSync `DeviceType` and device model it reports.
    pub device: (String, String),
    /// The device credential of the client's registered device, presented to Entra ID's
    /// authorize endpoint in the [`hmasim_protocol::device::DEVICE_CREDENTIAL_HEADER`]
    /// header; `None` for a device Entra ID does not know.
    pub device_credential: Option<String>,
    /// Before its first modern sign-in, the client registers its device with the Device
    /// Registration Service (a Workplace join, as anyone holding the password can try)
    /// and presents the credential it gets from then on.
    pub register_device: bool,
    /// The display name it reports for the device it registers (`None`:
    /// `<client id>-device`).
    pub device_name: Option<String>,
}

/// The renewal window: the client renews its access token when 5 minutes or less of its
/// lifetime remain, from a timer set at expiry minus this margin when the token arrives
/// (independent of the sync interval), and on any background tick inside the window.
pub const REFRESH_MARGIN: SimDuration = SimDuration::from_mins(5);
const RENEW_TIMER: &str = "client-token-renewal";
pub use hmasim_protocol::net::{MAX_RETRIES, REQUEST_TIMEOUT, RETRY_BACKOFF};
const SYNC_TIMER: &str = "client-background-sync";
/// The tag of the timer that times one of the client's requests out (its argument is the
/// request's correlation id).
pub const TIMEOUT_TIMER: &str = "client-request-timeout";
const RETRY_TIMER: &str = "client-request-retry";

/// What a pending request of the client was for.
#[derive(Clone, Debug)]
enum Purpose {
    Detect,
    Connect,
    Web(Option<Url>),
    Kerberos(Box<Message>),
    Token,
    Use,
    /// A background refresh of the access token.
    Refresh,
    /// A background synchronization.
    Sync,
    /// The device registration (Workplace join) at the Device Registration Service.
    Enroll,
}

/// Where the client is in its work.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    /// Nothing asked yet.
    Idle,
    /// Working.
    Busy,
    /// The user's mailbox is on screen.
    Done,
    /// The client gave up.
    Failed,
}

/// A held token.
#[derive(Clone, Debug)]
struct Held {
    /// Its trace name, as the environment gave it ([`Env::issued_label`]).
    id: Option<String>,
    jwt: String,
}

/// An Outlook desktop, Outlook mobile or browser party.
#[derive(Clone, Debug)]
pub struct Client {
    cfg: ClientConfig,
    net: Net,
    pending: BTreeMap<u64, Purpose>,
    phase: Phase,
    detect: Option<DetectAnswer>,
    resource: String,
    access: Option<Held>,
    refresh: Option<Held>,
    access_expires: SimTime,
    /// Outlook is running (background activity on).
    open: bool,
    timer_armed: bool,
    /// Copies of requests in flight and requests waiting out their back-off.
    retries: Retries<Purpose>,
    /// The client is registering its device (its sign-in is for the Device Registration
    /// Service, and the password holder cannot approve an MFA prompt).
    enrolling: bool,
    /// The ActiveSync `SyncKey` of the last `Sync` answer read (`0` before the first).
    sync_key: String,
}

impl Client {
    /// A client with `cfg`, reaching services through `net`.
    pub fn new(cfg: ClientConfig, net: Net) -> Self {
        let cfg_retries = cfg.retries;
        Client {
            cfg,
            net,
            pending: BTreeMap::new(),
            phase: Phase::Idle,
            detect: None,
            resource: String::new(),
            access: None,
            refresh: None,
            access_expires: SimTime::ZERO,
            open: false,
            timer_armed: false,
            retries: Retries::new(cfg_retries, TIMEOUT_TIMER, RETRY_TIMER),
            enrolling: false,
            sync_key: "0".into(),
        }
    }

    /// The app was killed and started again: requests in flight and their retries are
    /// forgotten, background work stops until the user opens it again. The tokens survive
    /// (they are kept in the platform's credential store).
    pub fn lose_volatile_state(&mut self) {
        self.pending.clear();
        self.retries.clear();
        self.timer_armed = false;
        self.open = false;
        if self.phase == Phase::Busy {
            self.phase = Phase::Idle;
        }
    }

    /// Takes the configuration (and name resolution) of `fresh`, keeping the session: the
    /// tokens, what the user knows (a changed password), what is in flight.
    pub fn reconfigure(&mut self, fresh: Client) {
        let password = std::mem::take(&mut self.cfg.password);
        let mailbox_url = self.cfg.mailbox_url.clone();
        // A device registered during the run stays registered.
        let credential = self.cfg.device_credential.take();
        self.cfg = fresh.cfg;
        self.cfg.password = password;
        self.cfg.mailbox_url = mailbox_url;
        if self.cfg.device_credential.is_none() {
            self.cfg.device_credential = credential;
        }
        self.net.adopt(fresh.net);
    }

    /// Background work once signed in: renew the access token when it is about to expire,
    /// then synchronize.
    fn tick(&mut self, ctx: &mut impl Env) {
        if self.access.is_none() {
            return;
        }
        if ctx.now() + REFRESH_MARGIN >= self.access_expires {
            return self.renew(ctx);
        }
        self.background_sync(ctx);
    }

    /// Arms the renewal timer of the access token just received: at its expiry minus
    /// [`REFRESH_MARGIN`].
    fn arm_renewal(&mut self, ctx: &mut impl Env) {
        let at = SimTime::from_micros(
            self.access_expires
                .as_micros()
                .saturating_sub(REFRESH_MARGIN.as_micros()),
        );
        ctx.timer(at.since(ctx.now()), Message::timer(RENEW_TIMER));
    }

    /// Renews the access token with the refresh token, unless a renewal is in flight.
    fn renew(&mut self, ctx: &mut impl Env) {
        if self.pending.values().any(|p| matches!(p, Purpose::Refresh)) {
            return;
        }
        {
            let Some(rt) = self.refresh.clone() else {
                return;
            };
            let client_id = match self.cfg.kind {
                ClientKind::OutlookMobile => apps::OUTLOOK_MOBILE,
                _ => apps::OUTLOOK_DESKTOP,
            };
            let form = Form::new()
                .with("grant_type", "refresh_token")
                .with("client_id", client_id)
                .with("refresh_token", rt.jwt)
                .with("resource", self.resource.clone());
            let m = self
                .request(
                    Method::POST,
                    Url::parse(apps::ENTRA_TOKEN).expect("constant URL"),
                    "the client renews its access token with the refresh token",
                    None,
                )
                .with_form(form)
                .carrying_opt(rt.id);
            self.send(ctx, m, Purpose::Refresh);
        }
    }

    fn background_sync(&mut self, ctx: &mut impl Env) {
        let Some(at) = self.access.clone() else {
            return;
        };
        let auth = Credentials::bearer_header(&at.jwt);
        let url = match (self.cfg.kind, &self.detect) {
            // On-premises mailboxes are kept in sync by MRS; the app reads what it cached.
            (ClientKind::OutlookMobile, Some(d)) if d.onprem => return,
            (ClientKind::OutlookMobile, Some(d)) => d.url.clone().with("Cmd", "Sync"),
            (ClientKind::OutlookMobile, None)
            | (ClientKind::Browser | ClientKind::NativeMail, _) => return,
            (ClientKind::OutlookDesktop, _) => self.cfg.mailbox_url.clone(),
        };
        let m = self
            .request(
                Method::POST,
                url,
                "background synchronization with the access token",
                None,
            )
            .header(&headers::AUTHORIZATION, auth)
            .carrying_opt(at.id);
        let m = self.with_mail_request(m);
        self.send(ctx, m, Purpose::Sync);
    }

    fn arm(&mut self, ctx: &mut impl Env) {
        if self.cfg.kind != ClientKind::Browser && self.open && !self.timer_armed {
            self.timer_armed = true;
            ctx.timer(self.cfg.sync_interval, Message::timer(SYNC_TIMER));
        }
    }

    /// A background failure: the user sees it, the client keeps trying unless it needs the
    /// user to sign in.
    fn background_failure(&mut self, ctx: &mut impl Env, mut fault: Fault, needs_sign_in: bool) {
        let symptom = if needs_sign_in {
            match self.cfg.kind {
                ClientKind::OutlookMobile => "Outlook mobile asks the user to sign in again",
                _ => "Outlook asks the user to sign in again (Need Password)",
            }
        } else {
            match self.cfg.kind {
                ClientKind::OutlookMobile => "Outlook mobile cannot refresh the mailbox",
                _ => "Outlook shows Disconnected",
            }
        };
        fault.symptom = Some(symptom.into());
        if needs_sign_in {
            self.phase = Phase::Failed;
            self.access = None;
            self.open = false;
        }
        ctx.note(
            Message::note(if needs_sign_in {
                "the client needs the user to sign in again"
            } else {
                "background synchronization failed"
            })
            .with_fault(fault),
        );
    }

    /// Keeps the `SyncKey` of an ActiveSync answer just read, for the next `Sync`.
    fn synced(&mut self, resp: &Wire) {
        if let Body::Encoded(e) = &resp.body {
            if let Ok(codec::wbxml::Command::SyncResponse(s)) = e.wbxml() {
                self.sync_key.clone_from(&s.sync_key);
            }
        }
    }

    /// `m` with the body its mailbox endpoint reads ([`mail::request_body`]): a WBXML
    /// `Sync` to ActiveSync, a SOAP `FindItem` to EWS, the POX request to AutoDiscover.
    fn with_mail_request(&self, m: Message) -> Message {
        let endpoint = m
            .url
            .as_ref()
            .and_then(|u| mail::Endpoint::of_path(&u.path));
        match endpoint.and_then(|e| mail::request_body(e, &self.sync_key, &self.cfg.upn)) {
            Some(body) => m.with_encoded(body),
            None => m,
        }
    }

    /// Where the client is.
    pub fn phase(&self) -> Phase {
        self.phase
    }

    /// The client's configuration.
    pub fn config(&self) -> &ClientConfig {
        &self.cfg
    }

    fn send(&mut self, ctx: &mut impl Env, msg: Message, purpose: Purpose) {
        self.send_attempt(ctx, msg, purpose, 0)
    }

    fn send_attempt(&mut self, ctx: &mut impl Env, msg: Message, purpose: Purpose, attempt: u32) {
        let copy = self.retries.copy(&msg);
        let host = msg.url.as_ref().map(|u| u.host.clone()).unwrap_or_default();
        let purpose = match purpose {
            Purpose::Web(_) => Purpose::Web(msg.url.clone()),
            p => p,
        };
        match self.net.request(ctx, msg) {
            Ok(conv) => {
                self.pending.insert(conv, purpose);
                self.retries.track(ctx, conv, copy, attempt);
            }
            Err(_) => {
                let fault = Fault {
                    code: FaultCode::Unreachable,
                    party: "network",
                    message: format!("{} cannot reach {host}", self.cfg.id),
                    diagnostics: format!("the name {host} does not resolve or the connection fails from this network"),
                    symptom: None,
                };
                self.fail(ctx, fault, &purpose);
            }
        }
    }

    fn request(
        &self,
        method: Method,
        url: Url,
        summary: &'static str,
        stage: Option<Stage>,
    ) -> Message {
        Message::request(method, url, 0, summary)
            .header(&headers::USER_AGENT, self.cfg.user_agent.clone())
            .at_opt(stage)
    }

    /// Switches how the client authenticates (an explorer branching a world does this).
    pub fn set_auth(&mut self, auth: Auth) {
        self.cfg.auth = auth;
    }

    /// Switches whether the client registers its device before signing in (an explorer
    /// branching a world over the password holder's device registration does this).
    pub fn set_register_device(&mut self, register: bool, device_name: Option<String>) {
        self.cfg.register_device = register;
        self.cfg.device_name = device_name;
        if register {
            // The password holder's own machine: not the user's registered or joined one.
            self.cfg.device_credential = None;
            self.cfg.kerberos = false;
        }
    }

    /// Registers the device: an interactive sign-in for the Device Registration Service
    /// (the user action "register or join devices"), then the registration itself.
    fn enroll(&mut self, ctx: &mut impl Env) {
        self.enrolling = true;
        self.sign_in_as(
            ctx,
            apps::ENTRA_AUTHORIZE,
            hmasim_protocol::device::DRS_RESOURCE.to_string(),
            (
                hmasim_protocol::device::BROKER_CLIENT_ID,
                apps::NATIVE_REDIRECT,
            ),
        );
    }

    /// Posts the registration with the service's access token.
    fn join(&mut self, ctx: &mut impl Env, token: &str) {
        use hmasim_protocol::device::{DRS_ENROLL_PATH, DRS_HOST};
        let os =
            hmasim_protocol::device::os_of_user_agent(&self.cfg.user_agent).unwrap_or("Windows");
        let form = Form::new()
            .with(
                "displayName",
                self.cfg
                    .device_name
                    .clone()
                    .unwrap_or_else(|| format!("{}-device", self.cfg.id)),
            )
            .with("osType", os)
            .with("osVersion", "10.0.22631");
        let m = self
            .request(
                Method::POST,
                Url::https(DRS_HOST, DRS_ENROLL_PATH).with("api-version", "2.0"),
                "the client registers its device with the Device Registration Service",
                None,
            )
            .header(&headers::AUTHORIZATION, Credentials::bearer_header(token))
            .with_form(form);
        self.send(ctx, m, Purpose::Enroll);
    }

    /// Switches what the client presents: its `User-Agent` and its ActiveSync
    /// `DeviceType` and device model (an explorer branching a world over what a password
    /// holder can write does this).
    pub fn set_presented(&mut self, user_agent: String, device: (String, String)) {
        self.cfg.user_agent = user_agent;
        self.cfg.device = device;
    }

    fn legacy(&mut self, ctx: &mut impl Env, url: Url, credentials: Credentials) {
        let (device_type, model) = self.cfg.device.clone();
        let url = if url.path_starts_with("/microsoft-server-activesync") {
            hmasim_protocol::ActiveSyncQuery {
                cmd: Some("Sync".into()),
                user: Some(self.cfg.upn.clone()),
                device_id: None,
                device_type: Some(device_type),
            }
            .write(url)
        } else {
            url
        };
        let m = self
            .request(
                Method::POST,
                url,
                "the client connects with legacy authentication",
                None,
            )
            .header(&headers::AUTHORIZATION, credentials.to_string())
            .header(&headers::X_DEVICE_MODEL, model);
        let m = self.with_mail_request(m);
        self.send(ctx, m, Purpose::Use);
    }

    /// An IMAP or POP session with the user's password, its commands pipelined after the
    /// greeting: `LOGIN`, `SELECT`, `FETCH`, `LOGOUT`, or `USER`, `PASS`, `STAT`, `RETR`,
    /// `QUIT`.
    fn line_session(&mut self, ctx: &mut impl Env, url: Url) {
        let session = match url.line_protocol() {
            Some(LineProtocol::Pop) => LineExchange::pop_login(&self.cfg.upn, &self.cfg.password),
            _ => LineExchange::imap_login(&self.cfg.upn, &self.cfg.password),
        };
        let summary = format!(
            "the client connects to {}:{}: {}",
            url.host,
            session.protocol().port(),
            session.describe()
        );
        let m = Message::line_session(url, 0, session, summary);
        self.send(ctx, m, Purpose::Use);
    }

    fn start(&mut self, ctx: &mut impl Env) {
        self.phase = Phase::Busy;
        if self.cfg.register_device
            && self.cfg.device_credential.is_none()
            && self.cfg.auth == Auth::Modern
            && self.cfg.kind != ClientKind::NativeMail
        {
            return self.enroll(ctx);
        }
        match self.cfg.auth.clone() {
            Auth::Basic { url } if url.line_protocol().is_some() => {
                return self.line_session(ctx, url);
            }
            Auth::Basic { url } => {
                let c = Credentials::Basic {
                    user: self.cfg.upn.clone(),
                    password: self.cfg.password.clone(),
                };
                return self.legacy(ctx, url, c);
            }
            Auth::Iwa { url } => {
                let ticket = Message::request(
                    Method::POST,
                    Url::https(&format!("dc.{}", self.cfg.domain), "/kerberos/tgs"),
                    0,
                    "the client asks the domain controller for a Kerberos service ticket",
                )
                .with_body(Body::KerberosRequest {
                    upn: self.cfg.upn.clone(),
                    spn: format!("HTTP/{}", url.host),
                });
                let retry = self.with_mail_request(self.request(
                    Method::POST,
                    url,
                    "the client connects with Integrated Windows Authentication",
                    None,
                ));
                return self.send(ctx, ticket, Purpose::Kerberos(Box::new(retry)));
            }
            Auth::Modern => {}
        }
        match self.cfg.kind {
            ClientKind::OutlookMobile => {
                let m = self
                    .request(
                        Method::GET,
                        self.cfg.autodetect_url.clone(),
                        "Outlook mobile asks AutoDetect where the mailbox lives",
                        Some(Stage::Detect),
                    )
                    .header(&headers::X_EMAIL, self.cfg.upn.clone());
                self.send(ctx, m, Purpose::Detect);
            }
            ClientKind::OutlookDesktop => {
                let m = self
                    .request(
                        Method::POST,
                        self.cfg.mailbox_url.clone(),
                        "Outlook connects to Exchange, advertising modern auth (empty Bearer)",
                        Some(Stage::ClientConnects),
                    )
                    .header(
                        &headers::AUTHORIZATION,
                        Credentials::EmptyBearer.to_string(),
                    )
                    .header(&headers::X_CLIENT_APPLICATION, "Outlook/16.0.17928.20114");
                self.send(ctx, m, Purpose::Connect);
            }
            ClientKind::NativeMail => {
                let fault = Fault {
                    code: FaultCode::NoModernAuth,
                    party: "native-mail",
                    message: "this mail app only does Basic".into(),
                    diagnostics: String::new(),
                    symptom: None,
                };
                self.fail(ctx, fault, &Purpose::Connect);
            }
            ClientKind::Browser => {
                let m = self.request(
                    Method::GET,
                    self.cfg.mailbox_url.clone(),
                    "the browser opens Outlook on the web",
                    Some(Stage::OpenOwa),
                );
                self.send(ctx, m, Purpose::Web(None));
            }
        }
    }

    /// Starts the interactive sign-in at `authority`.
    fn sign_in(&mut self, ctx: &mut impl Env, authority: &str, resource: String) {
        let app = match self.cfg.kind {
            ClientKind::OutlookMobile => (apps::OUTLOOK_MOBILE, web::NATIVE_REDIRECT_MOBILE),
            _ => (apps::OUTLOOK_DESKTOP, apps::NATIVE_REDIRECT),
        };
        self.sign_in_as(ctx, authority, resource, app)
    }

    /// Starts the interactive sign-in at `authority` as the app `(client id, redirect URI)`.
    fn sign_in_as(
        &mut self,
        ctx: &mut impl Env,
        authority: &str,
        resource: String,
        (client_id, redirect): (&str, &str),
    ) {
        let Ok(base) = Url::parse(authority) else {
            let fault = Fault {
                code: FaultCode::BadAuthority,
                party: "exchange-onprem",
                message: format!("authorization_uri '{authority}' is not a URL"),
                diagnostics: authority.to_string(),
                symptom: None,
            };
            return self.fail(ctx, fault, &Purpose::Connect);
        };
        self.resource = resource.clone();
        let url = base
            .with("client_id", client_id)
            .with("resource", resource)
            .with("response_type", "code")
            .with("redirect_uri", redirect)
            .with("login_hint", self.cfg.upn.clone());
        let m = self.request(
            Method::GET,
            url,
            if self.enrolling {
                "the client signs in to the Device Registration Service to register its device"
            } else {
                "the client connects to Entra ID at the authorization URL"
            },
            if self.enrolling {
                None
            } else {
                Some(Stage::EntraSignIn)
            },
        );
        let m = web::with_device(&self.cfg, m);
        self.send(ctx, m, Purpose::Web(None));
    }

    fn redeem(&mut self, ctx: &mut impl Env, code: &str) {
        let (client_id, redirect) = match self.cfg.kind {
            _ if self.enrolling => (
                hmasim_protocol::device::BROKER_CLIENT_ID,
                apps::NATIVE_REDIRECT,
            ),
            ClientKind::OutlookMobile => (apps::OUTLOOK_MOBILE, web::NATIVE_REDIRECT_MOBILE),
            _ => (apps::OUTLOOK_DESKTOP, apps::NATIVE_REDIRECT),
        };
        let form = Form::new()
            .with("grant_type", "authorization_code")
            .with("client_id", client_id)
            .with("code", code)
            .with("redirect_uri", redirect)
            .with("resource", self.resource.clone());
        let m = self
            .request(
                Method::POST,
                Url::parse(apps::ENTRA_TOKEN).expect("constant URL"),
                "the client redeems the authorization code for tokens",
                Some(Stage::TokensIssued),
            )
            .with_form(form);
        self.send(ctx, m, Purpose::Token);
    }

    fn use_token(&mut self, ctx: &mut impl Env) {
        let Some(at) = self.access.clone() else {
            return;
        };
        let auth = Credentials::bearer_header(&at.jwt);
        let m = match (self.cfg.kind, &self.detect) {
            (ClientKind::OutlookMobile, Some(d)) if d.onprem => self
                .request(Method::POST, self.cfg.translator_url.clone(), "Outlook mobile sends the provisioning request with AT1 and the on-premises ActiveSync URL", Some(Stage::Provision))
                .header(&headers::AUTHORIZATION, auth)
                .with_encoded(codec::mrs::Provision { upn: self.cfg.upn.clone(), url: d.url.href() }.encode()),
            (ClientKind::OutlookMobile, Some(d)) => self
                .request(Method::POST, d.url.clone().with("Cmd", "Sync"), "Outlook mobile uses the access token on Exchange Online", Some(Stage::UseToken))
                .header(&headers::AUTHORIZATION, auth),
            _ => self
                .request(Method::POST, self.cfg.mailbox_url.clone(), "Outlook presents the access token to Exchange", Some(Stage::UseToken))
                .header(&headers::AUTHORIZATION, auth),
        };
        let m = match (self.cfg.kind, &self.detect) {
            (ClientKind::OutlookMobile, Some(d)) if d.onprem => m,
            _ => self.with_mail_request(m),
        };
        self.send(ctx, m.carrying_opt(at.id), Purpose::Use);
    }

    fn done(&mut self, ctx: &mut impl Env) {
        self.phase = Phase::Done;
        self.open = true;
        self.arm(ctx);
        let what = match self.cfg.kind {
            ClientKind::OutlookMobile => "Outlook mobile shows the mailbox",
            ClientKind::OutlookDesktop => "Outlook desktop shows the mailbox",
            ClientKind::Browser => "Outlook on the web opens the mailbox",
            ClientKind::NativeMail => "the mail app shows the mailbox",
        };
        ctx.note(Message::note(what));
    }

    fn fail(&mut self, ctx: &mut impl Env, mut fault: Fault, purpose: &Purpose) {
        self.phase = Phase::Failed;
        let symptom = web::symptom(self.cfg.kind, phase(purpose), &fault);
        fault.symptom = Some(symptom.into());
        tracing::info!(t_ms = ctx.now().as_millis(), party = %self.cfg.id, code = %fault.code, "client gives up");
        ctx.note(Message::note("the client gives up").with_fault(fault));
    }

    /// Gives up with what the user sees written by the caller.
    fn fail_showing(&mut self, ctx: &mut impl Env, mut fault: Fault, symptom: String) {
        self.phase = Phase::Failed;
        fault.symptom = Some(symptom.into());
        ctx.note(Message::note("the client gives up").with_fault(fault));
    }

    fn answered(&mut self, resp: Wire, ctx: &mut impl Env) {
        let Some(purpose) = self.pending.remove(&resp.conv) else {
            return;
        };
        self.retries.answered(resp.conv);
        match purpose {
            Purpose::Refresh => {
                return match resp.token_answer() {
                    Some(t) => {
                        self.access_expires = ctx.now() + SimDuration::from_secs(t.expires_in);
                        self.access = Some(Held {
                            id: ctx.issued_label(&t.access_token),
                            jwt: t.access_token,
                        });
                        if let Some(r) = t.refresh_token.map(|jwt| Held {
                            id: ctx.issued_label(&jwt),
                            jwt,
                        }) {
                            self.refresh = Some(r);
                        }
                        self.arm_renewal(ctx);
                        self.background_sync(ctx);
                    }
                    _ => {
                        // The token endpoint's error, as its body writes it.
                        let invalid_grant =
                            web::oauth_error(&resp) == Some(FaultCode::InvalidGrant);
                        self.background_failure(
                            ctx,
                            web::fault_of(&resp, "entra-id", FaultCode::RefreshFailed),
                            invalid_grant,
                        )
                    }
                };
            }
            Purpose::Sync => {
                match web::read_mail(&resp) {
                    web::Mail::Arrived => self.synced(&resp),
                    web::Mail::Not => self.background_failure(
                        ctx,
                        web::fault_of(&resp, "exchange", FaultCode::SyncFailed),
                        false,
                    ),
                    web::Mail::Unreadable(d) => self.background_failure(
                        ctx,
                        web::unreadable(&resp, "exchange", FaultCode::SyncFailed, &d),
                        false,
                    ),
                }
                return;
            }
            _ if self.phase != Phase::Busy => return,
            _ => {}
        }
        match purpose {
            Purpose::Refresh | Purpose::Sync => {}
            Purpose::Detect => match DetectAnswer::decode(resp.bytes()) {
                Some(d) => {
                    let aad = d.aad.clone();
                    self.detect = Some(d);
                    match aad {
                        Some(uri) => self.sign_in(ctx, &uri, apps::EXO_RESOURCE.to_string()),
                        None => {
                            let fault = Fault {
                                code: FaultCode::NoAuthorizationUri,
                                party: "exchange-onprem",
                                message: "the ActiveSync 401 carries no authorization_uri: EvoSTS is not the default authorization endpoint".into(),
                                diagnostics: "Get-AuthServer EvoSts | fl IsDefaultAuthorizationEndpoint".into(),
                                symptom: None,
                            };
                            self.fail(ctx, fault, &Purpose::Detect);
                        }
                    }
                }
                _ => self.fail(
                    ctx,
                    web::fault_of(&resp, "autodetect", FaultCode::DiscoveryFailed),
                    &Purpose::Detect,
                ),
            },
            Purpose::Connect => {
                match web::read_mail(&resp) {
                    web::Mail::Arrived => {
                        self.synced(&resp);
                        return self.done(ctx);
                    }
                    web::Mail::Unreadable(d) => {
                        let fault = web::unreadable(&resp, "exchange", FaultCode::AccessDenied, &d);
                        return self.fail(ctx, fault, &Purpose::Connect);
                    }
                    web::Mail::Not => {}
                }
                let bearer = resp
                    .header_values(&headers::WWW_AUTHENTICATE)
                    .filter_map(|v| Challenge::parse(v).ok())
                    .find(|c| matches!(c, Challenge::Bearer(_)));
                match bearer.as_ref().and_then(|b| b.param("authorization_uri")) {
                    Some(uri) if resp.status == Some(StatusCode::UNAUTHORIZED) => {
                        let uri = uri.to_string();
                        let resource = self.cfg.mailbox_url.origin();
                        self.sign_in(ctx, &uri, resource);
                    }
                    _ => {
                        let mut fault =
                            web::fault_of(&resp, "exchange", FaultCode::NoAuthorizationUri);
                        if resp.status == Some(StatusCode::UNAUTHORIZED)
                            && refusal::read(&resp).is_none()
                        {
                            fault.message = "Exchange offers no Bearer authorization_uri: Outlook falls back to Basic".into();
                            fault.diagnostics = resp
                                .header_values(&headers::WWW_AUTHENTICATE)
                                .collect::<Vec<_>>()
                                .join(" | ");
                        }
                        self.fail(ctx, fault, &Purpose::Connect);
                    }
                }
            }
            Purpose::Enroll => match (resp.form(), resp.status) {
                (Some(f), Some(StatusCode::OK)) if f.get("DeviceCredential").is_some() => {
                    self.cfg.device_credential = f.get("DeviceCredential").map(str::to_string);
                    self.enrolling = false;
                    // The service's tokens are not the mailbox's.
                    self.access = None;
                    self.refresh = None;
                    self.resource.clear();
                    self.start(ctx);
                }
                _ => self.fail(
                    ctx,
                    web::fault_of(&resp, "entra-id", FaultCode::DeviceRegistrationFailed),
                    &Purpose::Enroll,
                ),
            },
            Purpose::Web(url) => {
                let next = if self.enrolling {
                    // The password holder cannot approve an MFA prompt on the user's phone.
                    let mut cfg = self.cfg.clone();
                    cfg.approve_mfa = false;
                    web::step(&cfg, &resp, &ctx.label(), url)
                } else {
                    web::step(&self.cfg, &resp, &ctx.label(), url)
                };
                match next {
                    web::Next::Send(m) => self.send(ctx, *m, Purpose::Web(None)),
                    web::Next::Kerberos(ticket_req, retry) => {
                        self.send(ctx, *ticket_req, Purpose::Kerberos(retry))
                    }
                    web::Next::Code(code) => self.redeem(ctx, &code),
                    web::Next::Mailbox => self.done(ctx),
                    web::Next::Fail(f) => self.fail(ctx, f, &Purpose::Web(None)),
                }
            }
            Purpose::Kerberos(retry) => match resp.body {
                Body::Directory {
                    ticket: Some(t), ..
                } => {
                    let m = retry.header(
                        &headers::AUTHORIZATION,
                        Credentials::Negotiate(t).to_string(),
                    );
                    self.send(ctx, m, Purpose::Web(None));
                }
                _ => self.fail(
                    ctx,
                    web::fault_of(&resp, "active-directory", FaultCode::KerberosFailed),
                    &Purpose::Web(None),
                ),
            },
            Purpose::Token => match resp.token_answer() {
                Some(t) => {
                    self.access_expires = ctx.now() + SimDuration::from_secs(t.expires_in);
                    self.access = Some(Held {
                        id: ctx.issued_label(&t.access_token),
                        jwt: t.access_token,
                    });
                    self.refresh = t.refresh_token.map(|jwt| Held {
                        id: ctx.issued_label(&jwt),
                        jwt,
                    });
                    if self.enrolling {
                        let token = self
                            .access
                            .as_ref()
                            .map(|a| a.jwt.clone())
                            .unwrap_or_default();
                        return self.join(ctx, &token);
                    }
                    if self.refresh.is_some() {
                        self.arm_renewal(ctx);
                    }
                    self.use_token(ctx);
                }
                _ => self.fail(
                    ctx,
                    web::fault_of(&resp, "entra-id", FaultCode::TokenFailed),
                    &Purpose::Token,
                ),
            },
            Purpose::Use => match web::read_mail(&resp) {
                web::Mail::Arrived => {
                    self.synced(&resp);
                    self.done(ctx);
                }
                web::Mail::Not if resp.line.is_some() => {
                    let line = resp.line.as_deref().expect("a line answer");
                    // The server's reply is what the user sees: `a1 NO LOGIN failed.`,
                    // `-ERR ...`, or no greeting at all.
                    let shown = line.refusal().unwrap_or_else(|| line.describe());
                    // What the reply line says is all the client learns.
                    let fault = match refusal::read(&resp) {
                        Some(r) => r.fault("exchange", FaultCode::AccessDenied),
                        None => Fault {
                            code: FaultCode::AccessDenied,
                            party: "exchange",
                            message: format!("the server answers {shown}"),
                            diagnostics: shown.clone(),
                            symptom: None,
                        },
                    };
                    let symptom =
                        format!("the mail app shows \"{shown}\" and asks for the password again");
                    self.fail_showing(ctx, fault, symptom);
                }
                web::Mail::Not => self.fail(
                    ctx,
                    web::fault_of(&resp, "exchange", FaultCode::AccessDenied),
                    &Purpose::Use,
                ),
                web::Mail::Unreadable(d) => self.fail(
                    ctx,
                    web::unreadable(&resp, "exchange", FaultCode::AccessDenied, &d),
                    &Purpose::Use,
                ),
            },
        }
    }

    /// The refresh token the client holds, by id (for later token refreshes).
    pub fn refresh_token_id(&self) -> Option<&str> {
        self.refresh.as_ref().and_then(|r| r.id.as_deref())
    }
}

/// The phase the user sees a failure of the work in.
fn phase(p: &Purpose) -> web::Phase {
    match p {
        Purpose::Detect => web::Phase::Detect,
        Purpose::Connect => web::Phase::Connect,
        Purpose::Web(_) | Purpose::Kerberos(_) | Purpose::Enroll => web::Phase::SignIn,
        Purpose::Token | Purpose::Refresh => web::Phase::Token,
        Purpose::Use | Purpose::Sync => web::Phase::Use,
    }
}

/// The party runs on anything that implements [`Env`]: `hmasim-sim`'s `Party` calls
/// these as its `Actor` implementation.
impl Client {
    /// Loses the in-memory state (tokens in flight, the sign-in under way).
    pub fn restart(&mut self) {
        self.lose_volatile_state();
    }

    /// Handles one message (or timer).
    pub fn handle(&mut self, msg: Wire, ctx: &mut impl Env) {
        match (&msg.kind, &msg.body) {
            (_, Body::Action(a)) => match a {
                UserAction::NewPassword(p) => self.cfg.password = p.clone(),
                UserAction::CloseOutlook => self.open = false,
                UserAction::SignIn => {
                    // The user answers the sign-in prompt: a fresh interactive sign-in.
                    self.access = None;
                    self.refresh = None;
                    self.open = true;
                    self.start(ctx);
                }
                UserAction::SyncNow if self.phase == Phase::Done => self.tick(ctx),
                UserAction::AddAccount | UserAction::StartOutlook | UserAction::OpenOwa(_) => {
                    if let UserAction::OpenOwa(u) = a {
                        self.cfg.mailbox_url = u.clone();
                    }
                    self.open = true;
                    if self.phase == Phase::Done && self.refresh.is_some() {
                        // Already signed in: pick up where the app left off.
                        self.tick(ctx);
                        self.arm(ctx);
                    } else if self.phase != Phase::Busy {
                        self.start(ctx);
                    }
                }
                _ => {}
            },
            (Kind::Timer, Body::Timer(RETRY_TIMER)) => {
                if let Some((m, p, attempt)) = self.retries.due(msg.conv) {
                    self.send_attempt(ctx, m, p, attempt);
                }
            }
            (Kind::Timer, Body::Timer(TIMEOUT_TIMER)) => {
                let Some(p) = self.pending.remove(&msg.conv) else {
                    return;
                };
                let live =
                    matches!(p, Purpose::Refresh | Purpose::Sync) || self.phase == Phase::Busy;
                if !live {
                    self.retries.answered(msg.conv);
                    return;
                }
                // As the real clients do: try again after an exponential back-off.
                if let Some(p) = self.retries.timed_out(
                    ctx,
                    msg.conv,
                    p,
                    "no answer: the client retries the request",
                ) {
                    let fault = Fault {
                        code: FaultCode::Timeout,
                        party: "network",
                        message: format!("no answer within {} s", REQUEST_TIMEOUT.as_secs()),
                        diagnostics: "the request timed out: the service is unreachable or down"
                            .into(),
                        symptom: None,
                    };
                    match p {
                        Purpose::Refresh | Purpose::Sync => {
                            self.background_failure(ctx, fault, false)
                        }
                        other if self.phase == Phase::Busy => self.fail(ctx, fault, &other),
                        _ => {}
                    }
                }
            }
            // Only a signed-in, running client renews; a closed one renews when it is
            // opened again (`tick`).
            (Kind::Timer, Body::Timer(RENEW_TIMER))
                if self.open
                    && self.phase == Phase::Done
                    && self.access.is_some()
                    && ctx.now() + REFRESH_MARGIN >= self.access_expires =>
            {
                self.renew(ctx);
            }
            (Kind::Timer, Body::Timer(RENEW_TIMER)) => {}
            (Kind::Timer, _) => {
                self.timer_armed = false;
                if self.open && self.phase == Phase::Done {
                    self.tick(ctx);
                    self.arm(ctx);
                }
            }
            (Kind::Request, Body::MfaRequest { upn, .. }) => {
                let reply = Message::response(
                    &msg,
                    200,
                    if self.cfg.approve_mfa {
                        "the user approves the sign-in on the Authenticator app"
                    } else {
                        "the user denies the sign-in"
                    },
                )
                .at(Stage::MfaDone)
                .with_body(Body::MfaResult {
                    upn: upn.clone(),
                    approved: self.cfg.approve_mfa,
                });
                ctx.answer(reply);
            }
            (Kind::Response | Kind::Redirect, _) => self.answered(msg, ctx),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use hmasim_base::ActorId;
    use hmasim_protocol::env::Recording;
    use hmasim_protocol::{Directory, Meta, Route};

    use super::*;

    const EXCHANGE: ActorId = ActorId(1);

    fn desktop() -> Client {
        let mut directory = Directory::new();
        directory.insert("mail.contoso.com", EXCHANGE);
        let url = |p: &str| Url::https("mail.contoso.com", p);
        let cfg = ClientConfig {
            id: "outlook-desktop".into(),
            kind: ClientKind::OutlookDesktop,
            upn: "user@contoso.com".into(),
            password: "pw".into(),
            user_agent: "Microsoft Office/16.0".into(),
            kerberos: false,
            mailbox_url: url("/mapi/emsmdb/"),
            autodetect_url: url("/autodetect"),
            translator_url: url("/translator"),
            domain: "contoso.com".into(),
            approve_mfa: true,
            sync_interval: SimDuration::from_mins(5),
            auth: Auth::Modern,
            retries: false,
            device: ("WindowsOutlook".into(), "PC".into()),
            device_credential: None,
            register_device: false,
            device_name: None,
        };
        Client::new(cfg, Net::new(directory))
    }

    /// Starts Outlook and answers its first request (to the mailbox) with `answer`,
    /// delivered with trace metadata `meta` the client never sees; returns the fault the
    /// client reports.
    fn connect_answered(answer: impl Fn(&Wire) -> Message, meta: Meta) -> Fault {
        let mut client = desktop();
        let mut env = Recording::new(Route::to_actor(ActorId(0)));
        let start = Message::note("start").with_body(Body::Action(UserAction::StartOutlook));
        client.handle(start.wire, &mut env);
        let (to, req) = env.sent.pop().expect("the client connects");
        assert_eq!(to.actor(), EXCHANGE);
        let (wire, _) = answer(&req.wire).split();
        env.handled = meta;
        client.handle(wire, &mut env);
        let note = env.notes.pop().expect("the client gives up");
        *note.meta.fault.expect("with a refusal")
    }

    fn basic_only(req: &Wire) -> Message {
        Message::response(req, 401, "401")
            .header(&headers::WWW_AUTHENTICATE, "Basic realm=\"mail\"")
    }

    #[test]
    fn a_401_without_authorization_uri_is_read_from_its_challenges_not_its_metadata() {
        // What the trace knows of the answer (here a made-up refusal) changes nothing.
        let trace_only = Message::note("x")
            .with_fault(Fault {
                code: FaultCode::AudienceMismatch,
                party: "exchange-onprem",
                message: "not on the wire".into(),
                diagnostics: String::new(),
                symptom: None,
            })
            .meta;
        for meta in [Meta::default(), trace_only] {
            let fault = connect_answered(basic_only, meta);
            assert_eq!(fault.code, FaultCode::NoAuthorizationUri);
            assert_eq!(fault.diagnostics, "Basic realm=\"mail\"");
            assert!(fault.message.contains("no Bearer authorization_uri"));
        }
    }

    #[test]
    fn a_mailbox_answer_the_client_cannot_read_is_its_failure_not_a_panic() {
        use hmasim_protocol::codec::{ContentType, Encoded};
        for (ct, bytes) in [
            (
                ContentType::MapiHttp,
                &b"PROCESSING\r\nDONE\r\n\r\n\x01"[..],
            ),
            (ContentType::Xml, &b"<s:Envelope"[..]),
            (ContentType::Wbxml, &b"\x03\x01"[..]),
        ] {
            let garbled = |req: &Wire| {
                Message::response(req, 200, "mail?").with_encoded(Encoded::new(ct, bytes.to_vec()))
            };
            let fault = connect_answered(garbled, Meta::default());
            assert_eq!(fault.code, FaultCode::AccessDenied, "{ct}");
            assert!(fault.message.contains("cannot read"), "{}", fault.message);
        }
    }

    #[test]
    fn a_refusal_written_in_the_answer_is_the_clients_failure() {
        // The refusing party's record (`with_fault`) says one thing, its answer's
        // `X-MS-Diagnostics` another: the client learns what the header says, and a
        // different header teaches it a different code.
        fn refused(diag: &'static str) -> impl Fn(&Wire) -> Message {
            move |req: &Wire| {
                basic_only(req)
                    .header(&headers::X_MS_DIAGNOSTICS, diag)
                    .with_fault(Fault {
                        code: FaultCode::OauthNotConfigured,
                        party: "exchange-onprem",
                        message: "the trace's record, not on the wire".into(),
                        diagnostics: String::new(),
                        symptom: None,
                    })
            }
        }
        let audience = "2000003;reason=\"The hostname component of the audience claim value is invalid. Expected 'https://mail.contoso.com'. Actual 'http://mail.contoso.com'.\";error_category=\"invalid_resource\"";
        let fault = connect_answered(refused(audience), Meta::default());
        assert_eq!(fault.code, FaultCode::AudienceMismatch);
        assert!(
            fault.message.starts_with("The hostname component"),
            "{}",
            fault.message
        );
        assert_eq!(fault.diagnostics, audience);
        let expired = "2000008;reason=\"The token has expired.\";error_category=\"invalid_token\"";
        let fault = connect_answered(refused(expired), Meta::default());
        assert_eq!(
            (fault.code, fault.message.as_str()),
            (FaultCode::TokenExpired, "The token has expired.")
        );
        // A code the table does not know: the client's own code, the service's words.
        let unknown = "9999999;reason=\"Something else.\"";
        let fault = connect_answered(refused(unknown), Meta::default());
        assert_eq!(fault.code, FaultCode::NoAuthorizationUri);
        assert_eq!(fault.message, "Something else.");
    }

    #[test]
    fn a_token_endpoints_refusal_is_read_from_its_error_json() {
        use hmasim_protocol::codec::oauth::OAuthError;
        use hmasim_protocol::codec::{ContentType, Encoded, Stamp};
        let answer = |code: u32| {
            let e = OAuthError {
                error: "invalid_grant".into(),
                code,
                message: "as Entra ID wrote it".into(),
            };
            let req = Message::request(Method::POST, Url::https("login.test", "/token"), 1, "r");
            Message::response(&req.wire, 400, "refused")
                .with_encoded(Encoded::new(ContentType::Json, e.encode(&Stamp::default())))
                .wire
        };
        for (code, expected) in [
            (50126, FaultCode::InvalidCredentials),
            (53003, FaultCode::BlockedByConditionalAccess),
            (50173, FaultCode::InvalidGrant),
            // Unknown to the table: the OAuth `error` is the code.
            (12345, FaultCode::InvalidGrant),
        ] {
            let f = web::fault_of(&answer(code), "entra-id", FaultCode::TokenFailed);
            assert_eq!(f.code, expected, "AADSTS{code}");
            assert_eq!(f.diagnostics, format!("AADSTS{code}"));
            assert_eq!(
                (f.party, f.message.as_str()),
                ("entra-id", "as Entra ID wrote it")
            );
        }
    }
}
