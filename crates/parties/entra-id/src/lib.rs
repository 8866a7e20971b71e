//! Microsoft Entra ID (EvoSTS): the authorize and token endpoints, home realm discovery
//! (federated domains go to AD FS), password hash sync and pass-through authentication,
//! Conditional Access, Entra MFA (also for the AD FS adapter), authorization codes,
//! on-behalf-of and refresh grants. Tokens are compact JWTs signed with the current EvoSTS
//! key.
#![deny(missing_docs)]

pub mod ca;
pub mod setup;

use hmasim_protocol::headers;
use hmasim_protocol::refusal;
use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::sync::Arc;

use hmasim_base::SimDuration;
use hmasim_protocol::address::Cidr;
use hmasim_protocol::challenge::Credentials;
use hmasim_protocol::codec::oauth::{OAuthError, TokenAnswerRef};
use hmasim_protocol::codec::{dirsync, ContentType, Encoded, Stamp};
use hmasim_protocol::device::{self, DeviceRecord, TrustType};
use hmasim_protocol::jwt::{self, Claims, KeySet, SigningKey};
use hmasim_protocol::oauth::{Amr, GrantType, RequestedTokenUse, ResponseMode, Scope};
use hmasim_protocol::policy::{CaPolicy, ClientAppType, GrantControl, IdentityModel};
use hmasim_protocol::{
    apps, Body, Fault, Form, Kind, Message, Method, Net, Page, Stage, Token, TokenKind, Url,
    UserAction, EPOCH_UNIX,
};
use hmasim_protocol::{error_stamp, Env, Route};
use hmasim_protocol::{FaultCode, MfaPrompt};
use hmasim_protocol::{Label, Wire};

pub use hmasim_protocol::apps::METADATA_HOST;

use ca::{SignInFacts, Verdict};

/// A user as Entra ID knows it (synced from Active Directory).
#[derive(Clone, Debug)]
pub struct EntraUser {
    /// The password as synced (PHS); unused under federation and PTA.
    pub password: String,
    /// Groups.
    pub groups: Vec<String>,
    /// Registered for Entra MFA.
    pub mfa_registered: bool,
    /// Where MFA prompts for the AD FS adapter are pushed (the user's device).
    pub mfa_device: Option<Route>,
}

/// Entra ID configuration.
#[derive(Clone, Debug)]
pub struct EntraConfig {
    /// Tenant id.
    pub tenant_id: String,
    /// The tenant's domain.
    pub domain: String,
    /// How the domain signs in.
    pub model: IdentityModel,
    /// The AD FS host (federated).
    pub adfs_host: String,
    /// The AD FS token-signing certificate (federation trust).
    pub adfs_trust: KeySet,
    /// Accept MFA performed by AD FS.
    pub accept_adfs_mfa: bool,
    /// Users by lower-case UPN.
    pub users: BTreeMap<String, EntraUser>,
    /// Conditional Access policies.
    pub policies: Vec<CaPolicy>,
    /// The signing key at the start of the run (generation 1).
    pub signing_key: SigningKey,
    /// The seed later key generations derive from.
    pub key_seed: u64,
    /// Whether a password change that reaches Entra ID by directory synchronization
    /// revokes the user's refresh tokens: password hash sync, federation with password-expiry
    /// claims, or pass-through authentication with password writeback.
    pub sync_revokes: bool,
    /// Today's defaults: access tokens live a random 60 to 90 minutes (the lifetimes above
    /// are then the refresh token's only).
    pub randomized_access_lifetime: bool,
    /// Access token lifetime.
    pub access_lifetime: SimDuration,
    /// Refresh token lifetime.
    pub refresh_lifetime: SimDuration,
    /// Client apps that count as approved client apps.
    pub approved_apps: Vec<String>,
    /// Resources (audiences) that belong to the Exchange Online app: its own and the
    /// on-premises namespaces registered as its service principal names.
    pub exchange_resources: Vec<String>,
    /// Named locations, geolocation and users' groups and roles: what Conditional Access
    /// derives a sign-in's facts from ([`ca::Tenant::facts`]).
    pub tenant: Arc<ca::Tenant>,
    /// The address ranges of the Microsoft services that relay a client's sign-in
    /// (Exchange Online for Basic authentication): from them, Entra ID takes the client's
    /// address from `X-Forwarded-For`; from anyone else, the connection's address.
    pub relays: Vec<Cidr>,
    /// Clients whose app an Intune app protection policy covers.
    pub app_protected: BTreeSet<Route>,
}

#[derive(Clone, Debug)]
struct Session {
    client_id: String,
    resource: String,
    redirect_uri: String,
    form_post: bool,
    upn: String,
    amr: Vec<String>,
    source: Route,
    client_app: ClientAppType,
    evaluated: Option<Vec<ca::PolicyResult>>,
    /// The address the sign-in came from.
    address: Option<IpAddr>,
    /// The client's `User-Agent` (Conditional Access reads the device platform from it).
    user_agent: String,
    /// The device credential the client presented, if any.
    device_credential: Option<String>,
}

#[derive(Clone, Debug)]
struct Grant {
    upn: String,
    client_id: String,
    resource: String,
    amr: Vec<String>,
    /// The interactive authentication the code stands for.
    auth: Authenticated,
}

/// An interactive authentication, as a token family remembers it: when it happened (what
/// sign-in frequency counts from) and the device credential the sign-in presented (a
/// renewal is judged on the device the sign-in proved).
#[derive(Clone, Debug)]
struct Authenticated {
    at_ms: u64,
    device_credential: Option<String>,
}

#[derive(Clone, Debug)]
enum Wait {
    /// A legacy (Basic) sign-in relayed by Exchange Online, waiting for the password check.
    Legacy {
        client: Route,
        req: Wire,
        upn: String,
        app: ClientAppType,
    },
    Pta {
        session: String,
        client: Route,
        req: Wire,
    },
    Push {
        adfs: Route,
        req: Wire,
    },
}

/// The `entra-id` party.
#[derive(Clone, Debug)]
pub struct EntraId {
    // Shared by a world's clones: configuration only changes by `reconfigure`.
    cfg: Arc<EntraConfig>,
    net: Net,
    /// Shared records (`Arc`): deciding on a session reads a copy of the handle, not of
    /// the session; a change copies a record only while a world's clone shares it.
    sessions: BTreeMap<String, Arc<Session>>,
    codes: BTreeMap<String, Grant>,
    waits: BTreeMap<u64, Wait>,
    /// `uti` of every token issued -> its trace id.
    ids: BTreeMap<String, String>,
    /// Refresh-token family -> generations issued so far.
    generations: BTreeMap<u64, u32>,
    /// Refresh-token family -> the name its tokens carry in traces (`1`, `2`, `1b`...).
    family_names: BTreeMap<u64, String>,
    /// Trace id of every access or refresh token -> its family.
    token_family: BTreeMap<String, u64>,
    /// Refresh-token family -> when the user last authenticated interactively for it (ms):
    /// a sign-in's family its code's authentication, an on-behalf-of family its parent's.
    family_auth: BTreeMap<u64, Authenticated>,
    /// Families issued to a user's client (sign-ins) and on behalf of a user (OBO).
    signins: u64,
    obos: u64,
    next_session: u64,
    next_family: u64,
    next_id_token: u64,
    /// Signing keys, oldest first; the last one signs.
    keys: Vec<SigningKey>,
    /// Passwords as last synchronized (password hash sync), overriding the configuration.
    synced: BTreeMap<String, String>,
    /// Refresh tokens issued before this instant (ms) are revoked, by user.
    revoked_before: BTreeMap<String, u64>,
    /// Users (lower-case UPN) who registered an MFA method during the run, at the
    /// registration interrupt: tenant state, kept across reconfigurations.
    registered: std::collections::BTreeSet<String>,
    /// Devices the Device Registration Service registered during the run (Workplace
    /// joins), by lower-case device id: tenant state, kept across reconfigurations.
    joined: BTreeMap<String, DeviceRecord>,
}

fn page(req: &Wire, stage: Stage, summary: &'static str, p: Page) -> Message {
    Message::response(req, 200, summary).at(stage).with_page(&p)
}

fn aad_error(
    req: &Wire,
    label: impl Into<Label>,
    code: FaultCode,
    aadsts: &str,
    message: String,
) -> Message {
    Message::response(req, 200, "Entra ID shows an error page")
        .labelled(&label.into())
        .with_page(&Page::Error {
            code: aadsts.to_string(),
            message: message.clone(),
        })
        .with_fault(Fault {
            code,
            party: "entra-id",
            message,
            diagnostics: aadsts.to_string(),
            symptom: None,
        })
}

/// The error page for a sign-in session Entra ID no longer knows.
fn session_expired(req: &Wire, label: impl Into<Label>) -> Message {
    aad_error(
        req,
        label,
        FaultCode::SessionExpired,
        "AADSTS50058",
        "the sign-in session was not found".into(),
    )
}

/// The RFC 6749 `error` Entra ID's token endpoint writes for a refusal: `invalid_grant`
/// for a refused grant or credentials, `interaction_required` for a Conditional Access
/// block (`AADSTS53003`, as password-spray tools record the endpoint's answer), else the
/// fault's own name (`unsupported_grant_type`, `invalid_resource`).
fn oauth_error_name(code: FaultCode) -> &'static str {
    match code {
        FaultCode::InvalidCredentials => "invalid_grant",
        FaultCode::BlockedByConditionalAccess => "interaction_required",
        c => c.as_str(),
    }
}

fn token_error(
    req: &Wire,
    stamp: Stamp,
    label: impl Into<Label>,
    error: FaultCode,
    aadsts: &str,
    message: String,
) -> Message {
    let body = OAuthError {
        error: oauth_error_name(error).into(),
        code: aadsts
            .strip_prefix("AADSTS")
            .and_then(|n| n.parse().ok())
            .unwrap_or_default(),
        message: message.clone(),
    };
    Message::response(req, 400, "the token endpoint refuses the grant")
        .labelled(&label.into())
        .with_encoded(Encoded::new(ContentType::Json, body.encode(&stamp)))
        .with_fault(Fault {
            code: error,
            party: "entra-id",
            message,
            diagnostics: aadsts.to_string(),
            symptom: None,
        })
}

impl EntraId {
    /// Entra ID with `cfg`, reaching the PTA agent and users' devices through `net`.
    pub fn new(cfg: EntraConfig, net: Net) -> Self {
        EntraId {
            net,
            sessions: BTreeMap::new(),
            codes: BTreeMap::new(),
            waits: BTreeMap::new(),
            ids: BTreeMap::new(),
            generations: BTreeMap::new(),
            family_names: BTreeMap::new(),
            token_family: BTreeMap::new(),
            family_auth: BTreeMap::new(),
            signins: 0,
            obos: 0,
            next_session: 0,
            next_family: 0,
            next_id_token: 0,
            keys: vec![cfg.signing_key.clone()],
            synced: BTreeMap::new(),
            revoked_before: BTreeMap::new(),
            registered: std::collections::BTreeSet::new(),
            joined: BTreeMap::new(),
            cfg: Arc::new(cfg),
        }
    }

    /// Takes the configuration (and name resolution) of `fresh`, keeping the run's state:
    /// keys, sessions, issued tokens, synchronized passwords and revocations.
    pub fn reconfigure(&mut self, fresh: EntraId) {
        self.cfg = fresh.cfg;
        self.net.adopt(fresh.net);
    }

    /// The signing metadata Entra ID publishes: every key, newest first.
    pub fn metadata(&self) -> KeySet {
        KeySet::new(self.keys.iter().rev().cloned().collect())
    }

    fn signing_key(&self) -> &SigningKey {
        self.keys.last().expect("there is always a key")
    }

    /// Rolls the signing key: a new generation signs from now on; the old one stays
    /// published.
    pub fn rotate_key(&mut self) -> &SigningKey {
        let generation = self.keys.len() as u32 + 1;
        self.keys
            .push(SigningKey::derive("evosts", generation, self.cfg.key_seed));
        self.signing_key()
    }

    fn password_ok(&self, upn: &str, password: &str) -> bool {
        let key = upn.to_ascii_lowercase();
        match self.synced.get(&key) {
            Some(p) => p == password,
            None => self
                .cfg
                .users
                .get(&key)
                .is_some_and(|u| u.password == password),
        }
    }

    fn federated(&self, upn: &str) -> bool {
        self.cfg.model == IdentityModel::Federated
            && upn
                .rsplit_once('@')
                .is_some_and(|(_, d)| d.eq_ignore_ascii_case(&self.cfg.domain))
    }

    fn federation_redirect(&self, req: &Wire, session: &str, upn: &str) -> Message {
        let loc = Url::https(&self.cfg.adfs_host, "/adfs/ls/")
            .with("client-request-id", session)
            .with("wa", "wsignin1.0")
            .with("wtrealm", apps::O365_REALM)
            .with("wctx", session)
            .with("username", upn);
        Message::redirect(
            req,
            loc,
            "federated domain: Entra ID sends the sign-in to AD FS",
        )
        .at(Stage::FederationRedirect)
    }

    fn authorize(&mut self, req: Wire, from: Route, ctx: &mut impl Env) {
        let url = req.url.clone().expect("requests have URLs");
        let p = |k: &str| url.param(k).unwrap_or("").to_string();
        let redirect_uri = p("redirect_uri");
        let form_post = url.param("response_mode").and_then(ResponseMode::parse)
            == Some(ResponseMode::FormPost);
        let client_app = if form_post && redirect_uri.starts_with("https://") {
            ClientAppType::Browser
        } else {
            ClientAppType::MobileAppsAndDesktopClients
        };
        self.next_session += 1;
        let id = format!("S{}", self.next_session);
        let upn = p("login_hint");
        self.sessions.insert(
            id.clone(),
            Arc::new(Session {
                client_id: p("client_id"),
                resource: p("resource"),
                redirect_uri,
                form_post,
                upn: upn.clone(),
                amr: Vec::new(),
                source: from,
                client_app,
                evaluated: None,
                address: self.net.source(from),
                user_agent: req
                    .header_value(&headers::USER_AGENT)
                    .unwrap_or("")
                    .to_string(),
                device_credential: req
                    .header_value(device::DEVICE_CREDENTIAL_HEADER)
                    .map(str::to_string),
            }),
        );
        tracing::debug!(t_ms = ctx.now().as_millis(), party = "entra-id", session = %id, client_id = %p("client_id"), "authorize");
        let reply = if !upn.is_empty() && self.federated(&upn) {
            self.federation_redirect(&req, &id, &upn)
        } else {
            let action = Url::parse(apps::ENTRA_LOGIN)
                .expect("constant URL")
                .with("ctx", id);
            page(
                &req,
                Stage::EntraSignInPage,
                "Entra ID sign-in page",
                Page::SignIn {
                    action,
                    username: (!upn.is_empty()).then_some(upn),
                },
            )
        };
        ctx.send(from, reply);
    }

    fn login(&mut self, req: Wire, from: Route, ctx: &mut impl Env) {
        let id = req
            .url
            .as_ref()
            .and_then(|u| u.param("ctx"))
            .unwrap_or("")
            .to_string();
        let Some(f) = req.form() else {
            return ctx.send(from, Message::response(&req, 400, "no form"));
        };
        let upn = f.get("UserName").unwrap_or("").to_string();
        let password = f.get("Password").map(str::to_string);
        let Some(s) = self.sessions.get_mut(&id).map(Arc::make_mut) else {
            return ctx.send(from, session_expired(&req, ctx.label()));
        };
        s.upn = upn.clone();
        if self.federated(&upn) {
            let r = self.federation_redirect(&req, &id, &upn);
            return ctx.send(from, r);
        }
        if !self.cfg.users.contains_key(&upn.to_ascii_lowercase()) {
            return ctx.send(
                from,
                aad_error(
                    &req,
                    Some(Stage::Credentials),
                    FaultCode::UnknownUser,
                    "AADSTS50034",
                    format!("the user account {upn} does not exist in the directory"),
                ),
            );
        };
        let Some(password) = password else {
            let action = Url::parse(apps::ENTRA_LOGIN)
                .expect("constant URL")
                .with("ctx", id);
            return ctx.send(
                from,
                page(
                    &req,
                    Stage::EntraSignInPage,
                    "Entra ID asks for the password",
                    Page::SignIn {
                        action,
                        username: Some(upn),
                    },
                ),
            );
        };
        match self.cfg.model {
            IdentityModel::Pta => {
                let bind = Message::request(
                    Method::POST,
                    Url::https(&format!("dc.{}", self.cfg.domain), "/pta/validate"),
                    0,
                    "pass-through authentication: the on-premises agent checks the password",
                )
                .with_body(Body::Bind { upn, password })
                .at(Stage::Credentials);
                match self.net.request(ctx, bind) {
                    Ok(conv) => {
                        self.waits.insert(
                            conv,
                            Wait::Pta {
                                session: id,
                                client: from,
                                req,
                            },
                        );
                    }
                    Err(_) => ctx.send(
                        from,
                        aad_error(
                            &req,
                            Some(Stage::Credentials),
                            FaultCode::PtaAgentUnreachable,
                            "AADSTS80001",
                            "no pass-through authentication agent is available".into(),
                        ),
                    ),
                }
            }
            _ => {
                if self.password_ok(&upn, &password) {
                    self.signed_in(req, from, ctx, &id, vec!["pwd".into()]);
                } else {
                    ctx.send(
                        from,
                        aad_error(
                            &req,
                            Some(Stage::Credentials),
                            FaultCode::InvalidCredentials,
                            "AADSTS50126",
                            "invalid username or password".into(),
                        ),
                    );
                }
            }
        }
    }

    fn login_srf(&mut self, req: Wire, from: Route, ctx: &mut impl Env) {
        let Some(f) = req.form() else {
            return ctx.send(from, Message::response(&req, 400, "no form"));
        };
        let id = f.get("wctx").unwrap_or("").to_string();
        let now = hmasim_protocol::unix_now(ctx);
        let claims = match ctx.verify(
            f.get("wresult").unwrap_or(""),
            &self.cfg.adfs_trust,
            now,
            300,
        ) {
            Ok(c) if c.aud == apps::O365_REALM => c,
            Ok(c) => {
                return ctx.send(
                    from,
                    aad_error(
                        &req,
                        ctx.label(),
                        FaultCode::FederationRejected,
                        "AADSTS50008",
                        format!("the SAML token is for {}, not Office 365", c.aud),
                    ),
                )
            }
            Err(e) => {
                return ctx.send(
                    from,
                    aad_error(
                        &req,
                        ctx.label(),
                        FaultCode::FederationRejected,
                        "AADSTS50008",
                        format!("the SAML token from AD FS does not verify: {e}"),
                    ),
                )
            }
        };
        if !self.sessions.contains_key(&id) {
            return ctx.send(from, session_expired(&req, ctx.label()));
        }
        let mut amr: Vec<String> = claims
            .amr
            .iter()
            .filter(|m| Amr::parse(m) != Some(Amr::Mfa))
            .cloned()
            .collect();
        if amr.is_empty() {
            amr.push("pwd".into());
        }
        if claims.has_mfa() && self.cfg.accept_adfs_mfa {
            amr.push("mfa".into());
        }
        if let Some(s) = self.sessions.get_mut(&id).map(Arc::make_mut) {
            s.upn = claims.upn;
        }
        self.signed_in(req, from, ctx, &id, amr);
    }

    /// The cloud app a request for `resource` by `client_id` signs in to, as Conditional
    /// Access names it.
    fn app_of(&self, client_id: &str, resource: &str) -> String {
        if client_id == apps::EXCHANGE_ONLINE
            || self
                .cfg
                .exchange_resources
                .iter()
                .any(|r| r.eq_ignore_ascii_case(resource))
        {
            apps::EXCHANGE_ONLINE.to_string()
        } else if resource == device::DRS_RESOURCE {
            // Signing in to the Device Registration Service is the user action
            // "register or join devices".
            hmasim_protocol::policy::REGISTER_DEVICE.to_string()
        } else {
            resource.to_string()
        }
    }

    fn facts(&self, s: &Session) -> SignInFacts {
        let app_id = self.app_of(&s.client_id, &s.resource);
        self.cfg.tenant.facts(&ca::SignIn {
            upn: &s.upn,
            address: s.address,
            user_agent: Some(s.user_agent.as_str()).filter(|u| !u.is_empty()),
            client_app: s.client_app,
            app_id: &app_id,
            device_credential: s.device_credential.as_deref(),
            registered: Some(&self.joined),
            auth_flow: None,
        })
    }

    /// Where a request relayed by `from` really comes from: the forwarded client address
    /// when `from` is a Microsoft relay, else the connection's own address.
    fn source_of(&self, req: &Wire, from: Route) -> Option<IpAddr> {
        let peer = self.net.source(from)?;
        if self.cfg.relays.iter().any(|r| r.contains(peer)) {
            if let Some(fwd) = req
                .header_value(&headers::X_FORWARDED_FOR)
                .and_then(|v| v.split(',').next())
                .and_then(|v| v.trim().parse().ok())
            {
                return Some(fwd);
            }
        }
        Some(peer)
    }

    /// Whether the sign-in satisfies grant control `c`. The device controls read the
    /// device the sign-in proved with its credential (an unregistered device satisfies
    /// neither).
    fn has(&self, s: &Session, c: GrantControl) -> bool {
        let device = || self.facts(s).device;
        match c {
            GrantControl::Block => false,
            GrantControl::Mfa => Amr::has_mfa(&s.amr),
            GrantControl::CompliantDevice => device().is_some_and(|d| d.is_compliant),
            GrantControl::DomainJoinedDevice => {
                device().is_some_and(|d| d.trust_type == TrustType::ServerAd)
            }
            GrantControl::ApprovedApplication => self.cfg.approved_apps.contains(&s.client_id),
            // An app protection policy (Intune) must apply to the approved app on this device.
            GrantControl::CompliantApplication => {
                self.cfg.approved_apps.contains(&s.client_id)
                    && self.cfg.app_protected.contains(&s.source)
            }
        }
    }

    /// The user is authenticated: evaluate Conditional Access and go on.
    fn signed_in(
        &mut self,
        req: Wire,
        from: Route,
        ctx: &mut impl Env,
        id: &str,
        amr: Vec<String>,
    ) {
        let Some(s) = self.sessions.get_mut(id).map(Arc::make_mut) else {
            return;
        };
        s.amr = amr;
        let s = s.clone();
        let results = ca::evaluate(&self.cfg.policies, &self.facts(&s));
        let mut lines: Vec<String> = evaluation_lines(&results)
            .into_iter()
            .zip(&results)
            .zip(&self.cfg.policies)
            .map(|((line, r), p)| {
                let controls: Vec<&str> = r.controls.iter().map(|c| ca::control_name(*c)).collect();
                // A session control shapes what follows the grant: say so where it applies.
                let session = match p.sign_in_frequency {
                    Some(f) if r.applies => format!("; session: sign-in frequency {f}"),
                    _ => String::new(),
                };
                format!(
                    "{line} -> {:?} {}{session}",
                    r.operator,
                    controls.join(", ")
                )
            })
            .collect();
        if lines.is_empty() {
            lines.push("no Conditional Access policy is configured".into());
        }
        let note = Message::note("Entra ID evaluates Conditional Access")
            .at(Stage::CaEvaluated)
            .with_body(Body::Lines(lines));
        ctx.note(note);
        let enforced: Vec<GrantControl> = results
            .iter()
            .filter(|r| r.applies && r.state == hmasim_protocol::policy::CaState::Enabled)
            .flat_map(|r| r.controls.iter().copied())
            .filter(|c| *c != GrantControl::Block)
            .collect();
        if !enforced.is_empty() {
            let lines = enforced
                .iter()
                .map(|c| {
                    format!(
                        "{}: {}",
                        ca::control_name(*c),
                        if self.has(&s, *c) {
                            "satisfied"
                        } else {
                            "required"
                        }
                    )
                })
                .collect();
            ctx.note(
                Message::note("Conditional Access grant controls for this sign-in")
                    .at(Stage::CaControls)
                    .with_body(Body::Lines(lines)),
            );
        }
        if let Some(sess) = self.sessions.get_mut(id).map(Arc::make_mut) {
            sess.evaluated = Some(results);
        }
        self.decide(req, from, ctx, id);
    }

    fn decide(&mut self, req: Wire, from: Route, ctx: &mut impl Env, id: &str) {
        let Some(s) = self.sessions.get(id).cloned() else {
            return;
        };
        let results: &[ca::PolicyResult] = s.evaluated.as_deref().unwrap_or_default();
        match ca::verdict_for(results, &self.facts(&s), |c| self.has(&s, c)) {
            Verdict::Grant => self.complete(req, from, ctx, id),
            Verdict::Block(name) => ctx.send(
                from,
                aad_error(
                    &req,
                    Some(Stage::CaControls),
                    FaultCode::BlockedByConditionalAccess,
                    "AADSTS53003",
                    format!("access has been blocked by Conditional Access policy '{name}'"),
                ),
            ),
            Verdict::NeedMfa => {
                let upn = s.upn.to_ascii_lowercase();
                let registered = self.registered.contains(&upn)
                    || self.cfg.users.get(&upn).is_some_and(|u| u.mfa_registered);
                if !registered {
                    // A sign-in risk-based policy does not let a risky session register
                    // MFA: the sign-in is blocked (AADSTS53004), as Microsoft documents
                    // for "Require multifactor authentication for elevated sign-in risk".
                    if let Some(p) = results.iter().find(|r| {
                        r.applies
                            && r.state == hmasim_protocol::policy::CaState::Enabled
                            && r.controls.contains(&GrantControl::Mfa)
                            && self
                                .cfg
                                .policies
                                .iter()
                                .any(|p| p.name == r.name && !p.sign_in_risk_levels.is_empty())
                    }) {
                        return ctx.send(
                            from,
                            aad_error(
                                &req,
                                Some(Stage::CaControls),
                                FaultCode::MfaRegistrationBlockedByRisk,
                                "AADSTS53004",
                                format!(
                                    "Conditional Access policy '{}' requires MFA for this risky sign-in, and a user without a method cannot register one in a risky session",
                                    p.name
                                ),
                            ),
                        );
                    }
                    return self.registration(req, from, ctx, id, &s);
                }
                let action = Url::parse(apps::ENTRA_MFA)
                    .expect("constant URL")
                    .with("ctx", id);
                ctx.send(
                    from,
                    page(
                        &req,
                        Stage::MfaPrompt,
                        "Conditional Access calls Entra MFA: the user is prompted",
                        Page::Mfa {
                            action,
                            method: MfaPrompt::PhoneAppNotification,
                        },
                    ),
                );
            }
            Verdict::Unsatisfiable(name, control) => {
                let (code, aadsts) = match control {
                    GrantControl::CompliantDevice | GrantControl::DomainJoinedDevice => {
                        (FaultCode::DeviceNotCompliant, "AADSTS53000")
                    }
                    _ => (FaultCode::AppNotApproved, "AADSTS53005"),
                };
                ctx.send(
                    from,
                    aad_error(
                        &req,
                        Some(Stage::CaControls),
                        code,
                        aadsts,
                        format!(
                            "Conditional Access policy '{name}' requires {}",
                            ca::control_name(control)
                        ),
                    ),
                );
            }
        }
    }

    /// The registration interrupt (`AADSTS50079`, "More information required") of a
    /// user without an MFA method: Conditional Access judges the user action
    /// `urn:user:registersecurityinfo` with the same sign-in facts; when nothing blocks it,
    /// whoever is signing in (whoever holds the password) registers a method of their own.
    fn registration(&mut self, req: Wire, from: Route, ctx: &mut impl Env, id: &str, s: &Session) {
        let mut facts = self.facts(s);
        facts.app_id = hmasim_protocol::policy::REGISTER_SECURITY_INFO.to_string();
        let results = ca::evaluate(&self.cfg.policies, &facts);
        let lines = evaluation_lines(&results);
        ctx.note(
            Message::note(
                "Entra ID evaluates Conditional Access for the user action 'register security information'",
            )
            .at(Stage::MfaPrompt)
            .with_body(Body::Lines(lines)),
        );
        // A user without a method can satisfy no control at registration (a Temporary
        // Access Pass is not modelled): any applying requirement refuses it.
        match ca::verdict(&results, |_| false) {
            Verdict::Grant => {
                let action = Url::parse(apps::ENTRA_MFA)
                    .expect("constant URL")
                    .with("ctx", id)
                    .with("register", "1");
                ctx.send(
                    from,
                    page(
                        &req,
                        Stage::MfaPrompt,
                        "More information required (AADSTS50079): the user must register an MFA method now",
                        Page::Mfa {
                            action,
                            method: MfaPrompt::RegisterSecurityInfo,
                        },
                    ),
                );
            }
            Verdict::Block(name) | Verdict::Unsatisfiable(name, _) => ctx.send(
                from,
                aad_error(
                    &req,
                    Some(Stage::MfaPrompt),
                    FaultCode::MfaRegistrationBlocked,
                    "AADSTS53003",
                    format!(
                        "{} must register for multi-factor authentication, and Conditional Access policy '{name}' blocks registering security information here",
                        s.upn
                    ),
                ),
            ),
            Verdict::NeedMfa => ctx.send(
                from,
                aad_error(
                    &req,
                    Some(Stage::MfaPrompt),
                    FaultCode::MfaRegistrationRequired,
                    "AADSTS50079",
                    format!(
                        "{} must register for multi-factor authentication, and registering requires MFA the user cannot do yet",
                        s.upn
                    ),
                ),
            ),
        }
    }

    /// The Device Registration Service: a Workplace join. The request carries an access
    /// token for the service (whose sign-in Conditional Access judged as the user action
    /// `urn:user:registerdevice`) and the attributes the device reports; the service adds a
    /// device object (trust type `Workplace`, not compliant, not managed) and returns the
    /// device id and the credential the device presents from then on.
    fn enroll(&mut self, req: Wire, from: Route, ctx: &mut impl Env) {
        let now = hmasim_protocol::unix_now(ctx);
        let bearer = match req
            .header_value(&headers::AUTHORIZATION)
            .and_then(Credentials::parse)
        {
            Some(Credentials::Bearer(t)) => t,
            _ => String::new(),
        };
        let claims = match ctx.verify(&bearer, &self.metadata(), now, 300) {
            Ok(c) if c.aud == device::DRS_RESOURCE => c,
            _ => {
                return ctx.send(
                    from,
                    Message::response(
                        &req,
                        401,
                        "the Device Registration Service refuses the request",
                    )
                    .with_fault(Fault {
                        code: FaultCode::DeviceRegistrationUnauthorized,
                        party: "entra-id",
                        message: "no valid access token for the Device Registration Service".into(),
                        diagnostics: "AADSTS50097".into(),
                        symptom: None,
                    }),
                )
            }
        };
        let n = self.joined.len() + 1;
        let id = device::derived_id(&format!("drs {} {n}", claims.upn), self.cfg.key_seed);
        let mut r = DeviceRecord::new(id.clone(), TrustType::Workplace);
        if let Some(f) = req.form() {
            let get = |k: &str| f.get(k).map(str::to_string);
            r.display_name = get("displayName");
            r.operating_system = get("osType");
            r.operating_system_version = get("osVersion");
            r.device_ownership = Some("Personal".to_string());
        }
        self.joined.insert(id.to_ascii_lowercase(), r);
        let credential = device::credential(&id, &claims.upn, self.cfg.key_seed);
        ctx.note(
            Message::note("the Device Registration Service registers a device (Workplace join)")
                .with_body(Body::Lines(vec![
                    format!(
                        "device {id} registered to {} (trustType Workplace, not compliant)",
                        claims.upn
                    ),
                    format!(
                        "the registration token's methods: {}",
                        claims.amr.join(", ")
                    ),
                ])),
        );
        ctx.send(
            from,
            Message::response(
                &req,
                200,
                "the Device Registration Service returns the device's identity",
            )
            .with_form(
                Form::new()
                    .with("DeviceId", id)
                    .with("DeviceCredential", credential),
            ),
        );
    }

    fn mfa_done(&mut self, req: Wire, from: Route, ctx: &mut impl Env) {
        let id = req
            .url
            .as_ref()
            .and_then(|u| u.param("ctx"))
            .unwrap_or("")
            .to_string();
        let approved = req
            .form()
            .is_some_and(|f| f.get("approved").and_then(|v| v.parse::<bool>().ok()) == Some(true));
        if !approved {
            return ctx.send(
                from,
                aad_error(
                    &req,
                    Some(Stage::MfaDone),
                    FaultCode::MfaDenied,
                    "AADSTS500121",
                    "the MFA request was denied".into(),
                ),
            );
        }
        let registering = req
            .url
            .as_ref()
            .and_then(|u| u.param("register"))
            .and_then(|v| v.parse::<u8>().ok())
            == Some(1);
        if registering {
            if let Some(s) = self.sessions.get(&id) {
                let upn = s.upn.to_ascii_lowercase();
                ctx.note(
                    Message::note("security information registered: a new MFA method for the user")
                        .at(Stage::MfaDone)
                        .with_body(Body::Lines(vec![format!(
                            "{upn} now has an MFA method, registered by whoever completed this sign-in"
                        )])),
                );
                self.registered.insert(upn);
            }
        }
        match self.sessions.get_mut(&id).map(Arc::make_mut) {
            Some(s) => {
                if !Amr::has_mfa(&s.amr) {
                    s.amr.push("mfa".into());
                }
                self.decide(req, from, ctx, &id);
            }
            None => ctx.send(from, session_expired(&req, Some(Stage::MfaDone))),
        }
    }

    fn complete(&mut self, req: Wire, from: Route, ctx: &mut impl Env, id: &str) {
        let Some(s) = self.sessions.remove(id) else {
            return;
        };
        if s.form_post {
            self.next_id_token += 1;
            let tid = format!("ID{}", self.next_id_token);
            let token = self.mint(
                ctx,
                &tid,
                TokenKind::Id,
                &s.client_id,
                &s.client_id,
                &s.upn,
                &s.amr,
                self.cfg.access_lifetime,
                None,
            );
            let code = self.code(ctx, &s);
            let fields = Form::new()
                .with("code", code)
                .with("id_token", token.jwt.clone())
                .with("state", "OpenIdConnect");
            let action = Url::parse(&s.redirect_uri)
                .unwrap_or_else(|_| Url::https("outlook.office.com", "/owa/"));
            let mut m = page(
                &req,
                Stage::SessionBack,
                "Entra ID posts the authenticated session back to the app",
                Page::AutoPost { action, fields },
            )
            // The page names, for the trace, the token its form posts.
            .carrying(tid);
            m = m.issuing(token);
            ctx.send(from, m);
        } else {
            let code = self.code(ctx, &s);
            let mut loc = Url::parse(&s.redirect_uri)
                .unwrap_or_else(|_| Url::parse(apps::NATIVE_REDIRECT).expect("constant URI"));
            loc.set_param("code", code);
            ctx.send(
                from,
                Message::redirect(
                    &req,
                    loc,
                    "Entra ID returns an authorization code to the client",
                )
                .at(Stage::AuthCode),
            );
        }
    }

    fn code(&mut self, ctx: &mut impl Env, s: &Session) -> String {
        let mut b = [0u8; 12];
        ctx.fill_bytes(&mut b);
        let code = format!("0.A{}", jwt::hex(&b));
        self.codes.insert(
            code.clone(),
            Grant {
                upn: s.upn.clone(),
                client_id: s.client_id.clone(),
                resource: s.resource.clone(),
                amr: s.amr.clone(),
                auth: Authenticated {
                    at_ms: ctx.now().as_millis(),
                    device_credential: s.device_credential.clone(),
                },
            },
        );
        code
    }

    #[allow(clippy::too_many_arguments)]
    fn mint(
        &mut self,
        ctx: &mut impl Env,
        id: &str,
        kind: TokenKind,
        appid: &str,
        aud: &str,
        upn: &str,
        amr: &[String],
        life: SimDuration,
        obo_of: Option<String>,
    ) -> Token {
        let now_ms = ctx.now().as_millis();
        let now = hmasim_protocol::unix_now(ctx);
        let mut b = [0u8; 16];
        ctx.fill_bytes(&mut b);
        let uti = jwt::hex(&b);
        let claims = Claims {
            aud: aud.to_string(),
            iss: apps::entra_issuer(&self.cfg.tenant_id),
            iat: now,
            nbf: now,
            exp: now + life.as_secs(),
            amr: amr.to_vec(),
            appid: appid.to_string(),
            scp: match kind {
                TokenKind::Refresh => Scope::OfflineAccess.as_str().into(),
                TokenKind::Id => "openid".into(),
                _ => "user_impersonation".into(),
            },
            tid: self.cfg.tenant_id.clone(),
            upn: upn.to_string(),
            uti: uti.clone(),
        };
        let jwt = ctx.sign(&claims, self.signing_key());
        self.ids.insert(uti, id.to_string());
        // The record takes the claims' strings: they were signed and are not needed again.
        Token {
            id: id.to_string(),
            kind,
            issuer: "entra-id",
            client: apps::client_party(appid).to_string(),
            audience: claims.aud,
            obo_of,
            amr: claims.amr,
            issued_ms: now_ms,
            expires_ms: now_ms + life.as_millis(),
            jwt,
            upn: claims.upn,
        }
    }

    /// Opens a new refresh-token family. Its tokens are named after the articles: `1` for
    /// a user's client (AT1/RT1), `2` for the tokens Exchange Online gets on behalf of it
    /// (AT2/RT2); a later family of the same role adds a letter (`1b`, `1c`, `2b`...), so a
    /// second sign-in is never taken for the on-behalf-of pair. Renewals add `.N`.
    fn new_family(&mut self, on_behalf: bool) -> u64 {
        self.next_family += 1;
        let (role, n) = if on_behalf {
            self.obos += 1;
            ("2", self.obos)
        } else {
            self.signins += 1;
            ("1", self.signins)
        };
        self.family_names
            .insert(self.next_family, format!("{role}{}", family_letters(n)));
        self.next_family
    }

    /// Issues an access/refresh pair of family `family` and answers `req` with it.
    #[allow(clippy::too_many_arguments)]
    fn issue_pair(
        &mut self,
        req: &Wire,
        ctx: &mut impl Env,
        family: u64,
        appid: &str,
        resource: &str,
        upn: &str,
        amr: &[String],
        obo_of: Option<String>,
        label: impl Into<Label>,
        summary: &'static str,
    ) -> Message {
        let generation = self.generations.entry(family).or_insert(0);
        *generation += 1;
        let name = self
            .family_names
            .get(&family)
            .cloned()
            .unwrap_or_else(|| family.to_string());
        let suffix = if *generation == 1 {
            name
        } else {
            format!("{name}.{}", *generation - 1)
        };
        let at_life = if self.cfg.randomized_access_lifetime {
            // Today's default: a random lifetime between 60 and 90 minutes.
            SimDuration::from_secs(3600 + ctx.next_u64() % 1801)
        } else {
            self.cfg.access_lifetime
        };
        let at = self.mint(
            ctx,
            &format!("AT{suffix}"),
            TokenKind::Access,
            appid,
            resource,
            upn,
            amr,
            at_life,
            obo_of.clone(),
        );
        let rt = self.mint(
            ctx,
            &format!("RT{suffix}"),
            TokenKind::Refresh,
            appid,
            resource,
            upn,
            amr,
            self.cfg.refresh_lifetime,
            obo_of,
        );
        let body = TokenAnswerRef {
            token_type: "Bearer",
            resource,
            scope: "user_impersonation",
            expires_in: at_life.as_secs(),
            access_token: &at.jwt,
            refresh_token: Some(&rt.jwt),
            id_token: None,
        };
        let mut m = Message::response(req, 200, summary)
            .labelled(&label.into())
            .with_encoded(body.encode());
        self.token_family.insert(at.id.clone(), family);
        self.token_family.insert(rt.id.clone(), family);
        m = m.issuing(at);
        m = m.issuing(rt);
        m
    }

    fn token(&mut self, req: Wire, from: Route, ctx: &mut impl Env) {
        // A body that is not a form has no `grant_type`: Entra ID's AADSTS900144.
        let Some(f) = req.form() else {
            let refusal = OAuthError::missing_parameter("grant_type").refuse();
            let answer = Message::response(
                &req,
                refusal.status,
                "the token endpoint cannot read the request",
            )
            .with_encoded(refusal.encode(&error_stamp(&req, &*ctx)));
            return ctx.send(from, answer);
        };
        let now = hmasim_protocol::unix_now(ctx);
        let reply = match f.get("grant_type").and_then(GrantType::parse) {
            Some(GrantType::Password) => {
                let f = f.clone();
                return self.legacy_signin(req, from, ctx, &f);
            }
            Some(GrantType::AuthorizationCode) => {
                match self.codes.remove(f.get("code").unwrap_or("")) {
                    Some(g) => {
                        let fam = self.new_family(false);
                        self.family_auth.insert(fam, g.auth.clone());
                        self.issue_pair(
                            &req,
                            ctx,
                            fam,
                            &g.client_id,
                            &g.resource,
                            &g.upn,
                            &g.amr,
                            None,
                            Stage::TokensIssued,
                            "Entra ID issues access and refresh tokens",
                        )
                    }
                    None => token_error(
                        &req,
                        error_stamp(&req, &*ctx),
                        ctx.label(),
                        FaultCode::InvalidGrant,
                        "AADSTS70008",
                        "the authorization code is invalid or has expired".into(),
                    ),
                }
            }
            Some(GrantType::JwtBearer)
                if f.get("requested_token_use")
                    .and_then(RequestedTokenUse::parse)
                    == Some(RequestedTokenUse::OnBehalfOf) =>
            {
                let keys = self.metadata();
                match ctx.verify(f.get("assertion").unwrap_or(""), &keys, now, 300) {
                    Ok(c)
                        if f.get("client_id") == Some(apps::EXCHANGE_ONLINE)
                            && c.aud == apps::EXO_RESOURCE =>
                    {
                        let resource = f.get("resource").unwrap_or("").to_string();
                        if self
                            .cfg
                            .exchange_resources
                            .iter()
                            .any(|r| r.eq_ignore_ascii_case(&resource))
                        {
                            let parent = self.ids.get(&c.uti).cloned();
                            let fam = self.new_family(true);
                            if let Some(auth) = parent
                                .as_ref()
                                .and_then(|p| self.token_family.get(p))
                                .and_then(|f| self.family_auth.get(f))
                                .cloned()
                            {
                                self.family_auth.insert(fam, auth);
                            }
                            self.issue_pair(
                                &req,
                                ctx,
                                fam,
                                apps::EXCHANGE_ONLINE,
                                &resource,
                                &c.upn,
                                &c.amr,
                                parent,
                                Stage::Obo,
                                "Entra ID issues AT2/RT2 on behalf of the user",
                            )
                        } else {
                            token_error(&req, error_stamp(&req, &*ctx), Some(Stage::Obo), FaultCode::InvalidResource, "AADSTS500011", format!("the resource principal named {resource} was not found in the tenant"))
                        }
                    }
                    Ok(c) => token_error(
                        &req,
                        error_stamp(&req, &*ctx),
                        Some(Stage::Obo),
                        FaultCode::InvalidGrant,
                        "AADSTS50013",
                        format!(
                            "the assertion's audience {} is not the calling application",
                            c.aud
                        ),
                    ),
                    Err(e) => token_error(
                        &req,
                        error_stamp(&req, &*ctx),
                        Some(Stage::Obo),
                        FaultCode::InvalidGrant,
                        "AADSTS50013",
                        format!("the assertion does not verify: {e}"),
                    ),
                }
            }
            Some(GrantType::RefreshToken) => {
                let keys = self.metadata();
                match ctx.verify(f.get("refresh_token").unwrap_or(""), &keys, now, 0) {
                    Ok(c) if Scope::parse(&c.scp) == Some(Scope::OfflineAccess) && self.revoked_before.get(&c.upn.to_ascii_lowercase()).is_some_and(|t| c.iat < EPOCH_UNIX + t / 1000) => {
                        token_error(&req, error_stamp(&req, &*ctx), ctx.label(), FaultCode::InvalidGrant, "AADSTS50173", "the provided grant has been revoked: the user changed or reset their password".into())
                    }
                    Ok(c) if Scope::parse(&c.scp) == Some(Scope::OfflineAccess) => {
                        let fam = self
                            .ids
                            .get(&c.uti)
                            .and_then(|id| self.token_family.get(id))
                            .copied()
                            .unwrap_or(0);
                        if let Some(refused) = self.sign_in_frequency_check(&req, from, ctx, fam, &c) {
                            return ctx.send(from, refused);
                        }
                        self.issue_pair(
                            &req,
                            ctx,
                            fam,
                            &c.appid,
                            &c.aud,
                            &c.upn,
                            &c.amr,
                            None,
                            ctx.label().or_stage(Stage::TokensIssued),
                            "Entra ID redeems the refresh token",
                        )
                    }
                    Ok(_) => token_error(&req, error_stamp(&req, &*ctx),
                        ctx.label(),
                        FaultCode::InvalidGrant,
                        "AADSTS9002313",
                        "not a refresh token".into(),
                    ),
                    Err(e @ jwt::JwtError::Expired(..)) => token_error(&req, error_stamp(&req, &*ctx),
                        ctx.label(),
                        FaultCode::InvalidGrant,
                        "AADSTS700082",
                        format!("the refresh token has expired due to inactivity ({e})"),
                    ),
                    Err(e) => token_error(&req, error_stamp(&req, &*ctx),
                        ctx.label(),
                        FaultCode::InvalidGrant,
                        "AADSTS9002313",
                        format!("the refresh token is not valid: {e}"),
                    ),
                }
            }
            _ => token_error(
                &req,
                error_stamp(&req, &*ctx),
                ctx.label(),
                FaultCode::UnsupportedGrantType,
                "AADSTS70003",
                format!(
                    "grant type '{}' is not supported",
                    f.get("grant_type").unwrap_or("")
                ),
            ),
        };
        ctx.send(from, reply);
    }

    /// Conditional Access sign-in frequency on a refresh-token redemption: Entra ID judges
    /// the renewal with the facts of the request that carries it (the device being the one
    /// the interactive sign-in proved, unless the request presents its own) and, when an enforced
    /// policy that applies sets a frequency and more time has passed since the user's
    /// last interactive authentication, refuses it (`invalid_grant`, `AADSTS70043`): the
    /// client must sign the user in again interactively.
    fn sign_in_frequency_check(
        &self,
        req: &Wire,
        from: Route,
        ctx: &mut impl Env,
        family: u64,
        c: &Claims,
    ) -> Option<Message> {
        let auth = self.family_auth.get(&family)?;
        if !self
            .cfg
            .policies
            .iter()
            .any(|p| p.sign_in_frequency.is_some())
        {
            return None;
        }
        let app_id = self.app_of(&c.appid, &c.aud);
        let user_agent = req
            .header_value(&headers::USER_AGENT)
            .filter(|u| !u.is_empty());
        let facts = self.cfg.tenant.facts(&ca::SignIn {
            upn: &c.upn,
            address: self.source_of(req, from),
            user_agent,
            client_app: ClientAppType::MobileAppsAndDesktopClients,
            app_id: &app_id,
            device_credential: req
                .header_value(device::DEVICE_CREDENTIAL_HEADER)
                .or(auth.device_credential.as_deref()),
            registered: Some(&self.joined),
            auth_flow: None,
        });
        let (policy, freq) = ca::sign_in_frequency(&self.cfg.policies, &facts)?;
        let now_ms = ctx.now().as_millis();
        let elapsed = now_ms.saturating_sub(auth.at_ms);
        if elapsed <= freq.seconds() * 1000 {
            return None;
        }
        let ago = SimDuration::from_millis(elapsed);
        let line = format!(
            "{policy}: sign-in frequency {freq}; the user last signed in interactively {} ago: the refresh token is refused",
            clock(ago)
        );
        ctx.note(
            Message::note("Entra ID checks the Conditional Access sign-in frequency")
                .labelled(&ctx.label())
                .with_body(Body::Lines(vec![line])),
        );
        Some(token_error(req, error_stamp(req, &*ctx),
            ctx.label(),
            FaultCode::InvalidGrant,
            "AADSTS70043",
            format!(
                "the refresh token has expired or is invalid due to sign-in frequency checks by Conditional Access (policy '{policy}', sign-in frequency {freq}; last interactive sign-in {} ago)",
                clock(ago)
            ),
        ))
    }

    fn mfa_connector(&mut self, req: Wire, from: Route, ctx: &mut impl Env) {
        let Body::MfaRequest { upn, method } = &req.body else {
            return ctx.send(from, Message::response(&req, 400, "no MFA request"));
        };
        let user = self.cfg.users.get(&upn.to_ascii_lowercase());
        let device = user.filter(|u| u.mfa_registered).and_then(|u| u.mfa_device);
        let Some(device) = device else {
            let m = Message::response(&req, 200, "Entra MFA: the user is not registered")
                .at(Stage::AdfsMfaDone)
                .with_body(Body::MfaResult {
                    upn: upn.clone(),
                    approved: false,
                });
            return ctx.send(from, m);
        };
        let push = Message::request(
            Method::POST,
            Url::https("mobileappcommunicator.auth.microsoft.com", "/notify"),
            0,
            "Entra MFA pushes an approval request to the user's device",
        )
        .with_body(Body::MfaRequest {
            upn: upn.clone(),
            method,
        })
        .at(Stage::MfaPrompt);
        let conv = self.net.conv();
        let mut push = push;
        push.conv = conv;
        ctx.send(device, push);
        self.waits.insert(conv, Wait::Push { adfs: from, req });
    }

    /// A Basic sign-in on behalf of a legacy client (Exchange Online relays it): check the
    /// password the identity model's way, then Conditional Access for a legacy client app,
    /// which can satisfy no grant control.
    fn legacy_signin(&mut self, req: Wire, from: Route, ctx: &mut impl Env, f: &Form) {
        let upn = f.get("username").unwrap_or("").to_string();
        let password = f.get("password").unwrap_or("").to_string();
        let app = match f.get("client_app_type").and_then(ClientAppType::parse) {
            Some(ClientAppType::ExchangeActiveSync) => ClientAppType::ExchangeActiveSync,
            _ => ClientAppType::Other,
        };
        let check = match self.cfg.model {
            IdentityModel::Phs => {
                return self.legacy_decide(
                    req,
                    from,
                    ctx,
                    &upn,
                    app,
                    self.password_ok(&upn, &password),
                )
            }
            _ if self.federated(&upn) => Message::request(
                Method::POST,
                Url::https(
                    &self.cfg.adfs_host,
                    "/adfs/services/trust/2005/usernamemixed",
                ),
                0,
                "legacy sign-in: Entra ID asks AD FS's active endpoint (WS-Trust)",
            )
            .with_body(Body::Bind {
                upn: upn.clone(),
                password,
            }),
            _ => Message::request(
                Method::POST,
                Url::https(&format!("dc.{}", self.cfg.domain), "/pta/validate"),
                0,
                "legacy sign-in: the pass-through agent checks the password",
            )
            .with_body(Body::Bind {
                upn: upn.clone(),
                password,
            }),
        };
        match self.net.request(ctx, check) {
            Ok(conv) => {
                self.waits.insert(
                    conv,
                    Wait::Legacy {
                        client: from,
                        req,
                        upn,
                        app,
                    },
                );
            }
            Err(_) => ctx.send(
                from,
                token_error(
                    &req,
                    error_stamp(&req, &*ctx),
                    None,
                    FaultCode::InvalidGrant,
                    "AADSTS80001",
                    "the identity provider cannot be reached".into(),
                ),
            ),
        }
    }

    fn legacy_decide(
        &mut self,
        req: Wire,
        from: Route,
        ctx: &mut impl Env,
        upn: &str,
        app: ClientAppType,
        ok: bool,
    ) {
        if !ok {
            return ctx.send(
                from,
                token_error(
                    &req,
                    error_stamp(&req, &*ctx),
                    None,
                    FaultCode::InvalidCredentials,
                    "AADSTS50126",
                    "invalid username or password".into(),
                ),
            );
        }
        // Exchange Online relays the client's sign-in: the client's address and
        // User-Agent come in its forwarded headers.
        let address = self.source_of(&req, from);
        let facts = self.cfg.tenant.facts(&ca::SignIn {
            upn,
            address,
            user_agent: req.header_value(&headers::USER_AGENT),
            client_app: app,
            app_id: apps::EXCHANGE_ONLINE,
            // Basic authentication carries no device credential.
            device_credential: None,
            registered: None,
            auth_flow: None,
        });
        let results = ca::evaluate(&self.cfg.policies, &facts);
        let lines = evaluation_lines(&results);
        ctx.note(
            Message::note("Entra ID evaluates Conditional Access for a legacy sign-in")
                .with_body(Body::Lines(lines)),
        );
        // A legacy client can satisfy no grant control: any that applies blocks it.
        let reply = match ca::verdict_for(&results, &facts, |_| false) {
            Verdict::Grant => {
                let fam = self.new_family(false);
                self.issue_pair(
                    &req,
                    ctx,
                    fam,
                    apps::EXCHANGE_ONLINE,
                    apps::EXO_RESOURCE,
                    upn,
                    &["pwd".to_string()],
                    None,
                    Stage::TokensIssued,
                    "Entra ID accepts the legacy sign-in (no MFA possible)",
                )
            }
            Verdict::Block(name) | Verdict::Unsatisfiable(name, _) => token_error(
                &req,
                error_stamp(&req, &*ctx),
                None,
                FaultCode::BlockedByConditionalAccess,
                "AADSTS53003",
                format!("Conditional Access policy '{name}' blocks the legacy client"),
            ),
            // A password grant that needs MFA is refused with AADSTS50076 (flows.md,
            // "ROPC"), not the AADSTS53003 of a blocking policy.
            Verdict::NeedMfa => token_error(
                &req,
                error_stamp(&req, &*ctx),
                None,
                FaultCode::BlockedByConditionalAccess,
                "AADSTS50076",
                "Conditional Access requires MFA, which a legacy client cannot perform".into(),
            ),
        };
        ctx.send(from, reply.at_opt(None));
    }

    fn answered(&mut self, resp: Wire, ctx: &mut impl Env) {
        if let Some(Wait::Legacy { .. }) = self.waits.get(&resp.conv) {
            let Some(Wait::Legacy {
                client,
                req,
                upn,
                app,
            }) = self.waits.remove(&resp.conv)
            else {
                return;
            };
            let now = hmasim_protocol::unix_now(ctx);
            let fields = match resp.page() {
                Some(Page::AutoPost { fields, .. }) => Some(fields),
                _ => resp.form(),
            };
            let ok = match (&resp.body, fields) {
                (Body::Directory { ok, .. }, _) => *ok,
                (_, Some(f)) => ctx
                    .verify(
                        f.get("wresult").unwrap_or(""),
                        &self.cfg.adfs_trust,
                        now,
                        300,
                    )
                    .is_ok_and(|c| c.aud == apps::O365_REALM),
                _ => false,
            };
            if !ok {
                if let Some(refused) = refusal::read(&resp) {
                    // AD FS's refusal, read from its error page (`MSIS7068: ...`), is the
                    // grant's refusal: Entra ID writes its own OAuth error, and keeps
                    // what it learned from AD FS as its record.
                    let fault = refused.fault("adfs", FaultCode::InvalidCredentials);
                    let m = token_error(
                        &req,
                        error_stamp(&req, &*ctx),
                        None,
                        FaultCode::InvalidGrant,
                        "AADSTS50126",
                        fault.message.clone(),
                    )
                    .with_fault(fault);
                    return ctx.send(client, m);
                }
            }
            return self.legacy_decide(req, client, ctx, &upn, app, ok);
        }
        match self.waits.remove(&resp.conv) {
            Some(Wait::Pta {
                session,
                client,
                req,
            }) => {
                if matches!(resp.body, Body::Directory { ok: true, .. }) {
                    self.signed_in(req, client, ctx, &session, vec!["pwd".into()]);
                } else {
                    ctx.send(
                        client,
                        aad_error(
                            &req,
                            Some(Stage::Credentials),
                            FaultCode::InvalidCredentials,
                            "AADSTS50126",
                            "invalid username or password (checked by the pass-through agent)"
                                .into(),
                        ),
                    );
                }
            }
            Some(Wait::Push { adfs, req }) => {
                let (upn, approved) = match &resp.body {
                    Body::MfaResult { upn, approved } => (upn.clone(), *approved),
                    _ => (String::new(), false),
                };
                let m = Message::response(
                    &req,
                    200,
                    "Entra MFA reports the result to the AD FS adapter",
                )
                .at(Stage::AdfsMfaDone)
                .with_body(Body::MfaResult { upn, approved });
                ctx.send(adfs, m);
            }
            Some(Wait::Legacy { .. }) | None => {}
        }
    }
}

fn state_name(s: hmasim_protocol::policy::CaState) -> &'static str {
    match s {
        hmasim_protocol::policy::CaState::Enabled => "enabled",
        hmasim_protocol::policy::CaState::Disabled => "disabled",
        hmasim_protocol::policy::CaState::ReportOnly => "report-only",
    }
}

/// The party runs on anything that implements [`Env`]: `hmasim-sim`'s `Party` calls
/// these as its `Actor` implementation.
impl EntraId {
    /// Forgets nothing: the party keeps its state across a restart.
    pub fn restart(&mut self) {}

    /// Handles one message (or timer).
    pub fn handle(&mut self, msg: Wire, ctx: &mut impl Env) {
        let from = ctx.caller();
        if let Body::Action(UserAction::RotateKey) = &msg.body {
            let kid = self.rotate_key().kid.clone();
            tracing::info!(t_ms = ctx.now().as_millis(), party = "entra-id", %kid, "signing key rolled");
            ctx.note(
                Message::note("EvoSTS rolls its token-signing key; new tokens are signed with it")
                    .with_body(Body::Lines(vec![
                        format!("new signing key: {kid}"),
                        format!("published keys: {}", self.keys.len()),
                    ])),
            );
            return;
        }
        match msg.kind {
            Kind::Request => {}
            Kind::Response | Kind::Redirect => return self.answered(msg, ctx),
            _ => return,
        }
        let Some(url) = msg.url.as_ref() else { return };
        let endpoint = Endpoint::parse(&url.host, &url.path);
        if endpoint == Endpoint::Metadata {
            let reply = Message::response(&msg, 200, "EvoSTS publishes its signing metadata")
                .header(&headers::CONTENT_TYPE, "application/json")
                .with_encoded(self.metadata().to_jwks().encode());
            ctx.send(from, reply.same_stage());
        } else if let Body::DirectorySync(changes) = &msg.body {
            let mut results = Vec::new();
            for c in changes {
                let upn = c.upn.to_ascii_lowercase();
                if self.cfg.model == IdentityModel::Phs {
                    self.synced.insert(upn.clone(), c.password.clone());
                }
                if self.cfg.sync_revokes {
                    self.revoked_before.insert(upn.clone(), c.changed_ms);
                }
                results.push(dirsync::Applied {
                    upn,
                    revoked: self.cfg.sync_revokes,
                });
            }
            ctx.send(
                from,
                Message::response(&msg, 200, "Entra ID applies the directory changes")
                    .with_encoded(dirsync::SyncResults { results }.encode()),
            );
        } else {
            match endpoint {
                Endpoint::Authorize => self.authorize(msg, from, ctx),
                Endpoint::Token => self.token(msg, from, ctx),
                Endpoint::Login => self.login(msg, from, ctx),
                Endpoint::LoginSrf => self.login_srf(msg, from, ctx),
                Endpoint::ProcessAuth => self.mfa_done(msg, from, ctx),
                Endpoint::DeviceEnroll => self.enroll(msg, from, ctx),
                Endpoint::MfaConnector => self.mfa_connector(msg, from, ctx),
                Endpoint::Metadata | Endpoint::Unknown => ctx.send(
                    from,
                    Message::response(&msg, 404, "not an Entra ID endpoint"),
                ),
            }
        }
    }
}

/// The host of the MFA connector AD FS's Azure MFA adapter and the NPS extension call.
pub const MFA_CONNECTOR_HOST: &str = "adnotifications.windowsazure.com";

/// An Entra ID endpoint, parsed once from the host and path a request was addressed to
/// (issue 12 item 7: the handler decides on this enum, not on strings). Paths compare
/// ignoring ASCII case.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Endpoint {
    /// The signing metadata (`METADATA_HOST`).
    Metadata,
    /// `.../oauth2/authorize` (v1 or v2, any tenant).
    Authorize,
    /// `.../oauth2/token` (v1 or v2, any tenant).
    Token,
    /// `/common/login`: the credentials posted to the sign-in page.
    Login,
    /// `/login.srf`: a federated sign-in's WS-Federation answer.
    LoginSrf,
    /// `.../SAS/ProcessAuth`: the MFA prompt completed.
    ProcessAuth,
    /// The Device Registration Service's enrolment (`DRS_HOST`, `DRS_ENROLL_PATH`).
    DeviceEnroll,
    /// The MFA connector ([`MFA_CONNECTOR_HOST`]).
    MfaConnector,
    /// Anything else: answered 404.
    Unknown,
}

impl Endpoint {
    /// The endpoint `host` and `path` name.
    pub fn parse(host: &str, path: &str) -> Endpoint {
        let path = path.to_ascii_lowercase();
        if host.eq_ignore_ascii_case(METADATA_HOST) {
            Endpoint::Metadata
        } else if path.ends_with("/oauth2/authorize") {
            Endpoint::Authorize
        } else if path.ends_with("/oauth2/token") {
            Endpoint::Token
        } else if path == "/common/login" {
            Endpoint::Login
        } else if path == "/login.srf" {
            Endpoint::LoginSrf
        } else if path.ends_with("/sas/processauth") {
            Endpoint::ProcessAuth
        } else if host.eq_ignore_ascii_case(device::DRS_HOST)
            && path.eq_ignore_ascii_case(device::DRS_ENROLL_PATH)
        {
            Endpoint::DeviceEnroll
        } else if host.eq_ignore_ascii_case(MFA_CONNECTOR_HOST) {
            Endpoint::MfaConnector
        } else {
            Endpoint::Unknown
        }
    }
}

#[cfg(test)]
mod endpoint_tests {
    use super::*;

    #[test]
    fn requests_route_by_host_and_path_whatever_the_case() {
        let login = "login.microsoftonline.com";
        for (host, path, want) in [
            (METADATA_HOST, "/x/metadata/json/1", Endpoint::Metadata),
            (login, "/common/oauth2/authorize", Endpoint::Authorize),
            (login, "/contoso.com/OAuth2/Authorize", Endpoint::Authorize),
            (login, "/common/oauth2/token", Endpoint::Token),
            (login, "/common/login", Endpoint::Login),
            (login, "/login.srf", Endpoint::LoginSrf),
            (login, "/common/SAS/ProcessAuth", Endpoint::ProcessAuth),
            (
                device::DRS_HOST,
                device::DRS_ENROLL_PATH,
                Endpoint::DeviceEnroll,
            ),
            (
                MFA_CONNECTOR_HOST,
                "/StrongAuthenticationService.svc/Connector",
                Endpoint::MfaConnector,
            ),
            (login, "/common/login/more", Endpoint::Unknown),
            (login, "/", Endpoint::Unknown),
        ] {
            assert_eq!(Endpoint::parse(host, path), want, "{host}{path}");
        }
    }
}

/// One line per policy of a Conditional Access evaluation, as Entra ID's notes show it:
/// `NAME [STATE]: applies (REASON)` or `does not apply (REASON)`.
fn evaluation_lines(results: &[ca::PolicyResult]) -> Vec<String> {
    results
        .iter()
        .map(|r| {
            format!(
                "{} [{}]: {} ({})",
                r.name,
                state_name(r.state),
                if r.applies {
                    "applies"
                } else {
                    "does not apply"
                },
                r.reason
            )
        })
        .collect()
}

/// The letter a later token family of one role adds to its name: none for the first,
/// `b` for the second ... `z`, then `aa`, `ab`...
/// `3h 05m`, `2d 4h 00m`: how long ago, for a trace line.
fn clock(d: SimDuration) -> String {
    let m = d.as_millis() / 60_000;
    let (days, h, min) = (m / 1440, m / 60 % 24, m % 60);
    if days > 0 {
        format!("{days}d {h}h {min:02}m")
    } else {
        format!("{h}h {min:02}m")
    }
}

fn family_letters(n: u64) -> String {
    if n <= 1 {
        return String::new();
    }
    let mut n = n;
    let mut out = Vec::new();
    while n > 0 {
        n -= 1;
        out.push(b'a' + (n % 26) as u8);
        n /= 26;
    }
    out.reverse();
    String::from_utf8(out).expect("ASCII letters")
}

#[cfg(test)]
mod family_name_tests {
    use super::family_letters;

    #[test]
    fn later_families_get_letters() {
        assert_eq!(family_letters(1), "");
        assert_eq!(family_letters(2), "b");
        assert_eq!(family_letters(26), "z");
        assert_eq!(family_letters(27), "aa");
        assert_eq!(family_letters(28), "ab");
    }
}
