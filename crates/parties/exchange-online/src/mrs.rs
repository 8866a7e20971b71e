//! The MRS provisioning API: receives Outlook mobile's provisioning request with AT1,
//! obtains AT2/RT2 on behalf of the user, provisions the cloud mailbox and keeps the
//! on-premises mailbox synchronized over ActiveSync with AT2, renewing it with RT2 in the
//! background.

use hmasim_protocol::codec;
use hmasim_protocol::headers;
use hmasim_protocol::refusal;
use std::collections::BTreeMap;
use std::sync::Arc;

use hmasim_base::{SimDuration, SimTime};
use hmasim_protocol::challenge::Credentials;
use hmasim_protocol::codec::{graph, mail, wbxml};
use hmasim_protocol::jwt::KeySet;
use hmasim_protocol::FaultCode;
use hmasim_protocol::{apps, Body, Fault, Form, Kind, Message, Method, Net, Retries, Stage, Url};
use hmasim_protocol::{Env, Route};
use hmasim_protocol::{Label, StatusCode, Wire};

pub use hmasim_protocol::net::{MAX_RETRIES, REQUEST_TIMEOUT, RETRY_BACKOFF};
/// The tag of the timer that times one of MRS's requests out (its argument is the
/// request's correlation id).
pub const TIMEOUT_TIMER: &str = "mrs-request-timeout";
const RETRY_TIMER: &str = "mrs-request-retry";
/// The timer at AT2's expiry minus the renewal margin: MRS renews AT2 with RT2 before it
/// expires, whatever its sync interval.
const RENEW_TIMER: &str = "mrs-token-renewal";
const STALE: &str = "Outlook mobile shows stale data: new mail and changes from the on-premises mailbox stop arriving";

/// MRS configuration.
#[derive(Clone, Debug)]
pub struct MrsConfig {
    /// Entra ID's signing metadata (to check AT1).
    pub entra_metadata: KeySet,
    /// How often the background sync runs.
    pub sync_interval: SimDuration,
    /// Renew AT2 with RT2 when it expires within this margin.
    pub refresh_margin: SimDuration,
    /// Allowed clock skew, seconds.
    pub skew_s: u64,
    /// Keep a copy of each request to resend it after a timeout. A world whose network
    /// loses nothing never needs one, and copying every request costs.
    pub retries: bool,
}

#[derive(Clone, Debug)]
struct Held {
    /// Its trace name, as the environment gave it ([`Env::issued_label`]).
    id: Option<String>,
    jwt: String,
    expires: SimTime,
}

#[derive(Clone, Debug)]
struct Synced {
    eas_url: Url,
    at1: String,
    at2: Option<Held>,
    rt2: Option<Held>,
    /// The client's provisioning request, answered after the first sync.
    /// With its trace label (which names the AT1 it carried).
    waiting: Option<(Route, Wire, Label)>,
    /// The ActiveSync `SyncKey` the last `Sync` answered (`0` before the first).
    sync_key: String,
}

#[derive(Clone, Debug)]
enum Purpose {
    Obo(String),
    Create(String),
    Sync(String),
    Refresh(String),
}

/// Counters of the background synchronization, for outcomes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SyncStats {
    /// Simulated ms of the last successful sync.
    pub last_success_ms: Option<u64>,
    /// Failed sync attempts.
    pub failed: u64,
    /// Successful syncs.
    pub succeeded: u64,
}

/// The `mrs` party.
#[derive(Clone, Debug)]
pub struct Mrs {
    // Shared by a world's clones: configuration only changes by `reconfigure`.
    cfg: Arc<MrsConfig>,
    net: Net,
    users: BTreeMap<String, Synced>,
    pending: BTreeMap<u64, Purpose>,
    timer_armed: bool,
    stats: SyncStats,
    /// Copies of requests in flight and requests waiting out their back-off.
    retries: Retries<Purpose>,
}

impl Mrs {
    /// MRS with `cfg`, reaching Entra ID, Exchange Online and on-premises through `net`.
    pub fn new(cfg: MrsConfig, net: Net) -> Self {
        let retries = Retries::new(cfg.retries, TIMEOUT_TIMER, RETRY_TIMER);
        Mrs {
            cfg: Arc::new(cfg),
            net,
            users: BTreeMap::new(),
            pending: BTreeMap::new(),
            timer_armed: false,
            stats: SyncStats::default(),
            retries,
        }
    }

    /// The background synchronization counters.
    pub fn stats(&self) -> &SyncStats {
        &self.stats
    }

    fn send(&mut self, ctx: &mut impl Env, msg: Message, purpose: Purpose) {
        self.send_attempt(ctx, msg, purpose, 0)
    }

    fn send_attempt(&mut self, ctx: &mut impl Env, msg: Message, purpose: Purpose, attempt: u32) {
        let copy = self.retries.copy(&msg);
        match self.net.request(ctx, msg) {
            Ok(conv) => {
                self.pending.insert(conv, purpose);
                self.retries.track(ctx, conv, copy, attempt);
            }
            Err(host) => {
                let upn = match &purpose {
                    Purpose::Obo(u)
                    | Purpose::Create(u)
                    | Purpose::Sync(u)
                    | Purpose::Refresh(u) => u.clone(),
                };
                let fault = Fault {
                    code: FaultCode::Unreachable,
                    party: "mrs",
                    message: format!("MRS cannot reach {}", host.0),
                    diagnostics: format!("name resolution or connection failure for {}", host.0),
                    symptom: None,
                };
                self.fail(ctx, &upn, fault);
            }
        }
    }

    fn obo(&mut self, ctx: &mut impl Env, upn: &str) {
        let Some(u) = self.users.get(upn) else { return };
        let form = Form::new()
            .with("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer")
            .with("client_id", apps::EXCHANGE_ONLINE)
            .with(
                "client_assertion_type",
                "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            )
            .with("assertion", u.at1.clone())
            .with("requested_token_use", "on_behalf_of")
            .with("resource", u.eas_url.origin());
        // The label of the AT1 the client's provisioning request carried.
        let at1_label = u
            .waiting
            .as_ref()
            .map(|(_, _, label)| label.clone())
            .unwrap_or_default();
        let msg = Message::request(
            Method::POST,
            Url::parse(apps::ENTRA_TOKEN).expect("constant URL"),
            0,
            "MRS asks Entra ID for AT2 on behalf of AT1",
        )
        .with_form(form)
        .at(Stage::Obo)
        .carrying_label(&at1_label);
        self.send(ctx, msg, Purpose::Obo(upn.to_string()));
    }

    fn sync(&mut self, ctx: &mut impl Env, upn: &str) {
        let Some(u) = self.users.get(upn) else { return };
        let Some(at2) = &u.at2 else { return };
        let url = u
            .eas_url
            .clone()
            .with("Cmd", "Sync")
            .with("User", upn)
            .with("DeviceId", "MRS0000000000000000000000000000")
            .with("DeviceType", "OutlookService");
        let msg = Message::request(
            Method::POST,
            url,
            0,
            "MRS synchronizes the on-premises mailbox over ActiveSync with AT2",
        )
        .header(
            &headers::AUTHORIZATION,
            Credentials::bearer_header(&at2.jwt),
        )
        .header(&headers::MS_AS_PROTOCOL_VERSION, "16.1")
        .header(
            &headers::USER_AGENT,
            "Outlook-iOS-Android/1.0 (OutlookService)",
        )
        .at(Stage::Sync)
        .carrying_opt(at2.id.clone())
        .with_encoded(mail::sync_request(&u.sync_key));
        self.send(ctx, msg, Purpose::Sync(upn.to_string()));
    }

    fn refresh(&mut self, ctx: &mut impl Env, upn: &str) {
        let Some(u) = self.users.get(upn) else { return };
        let Some(rt2) = &u.rt2 else {
            return self.sync(ctx, upn);
        };
        let form = Form::new()
            .with("grant_type", "refresh_token")
            .with("client_id", apps::EXCHANGE_ONLINE)
            .with("refresh_token", rt2.jwt.clone())
            .with("resource", u.eas_url.origin());
        let msg = Message::request(
            Method::POST,
            Url::parse(apps::ENTRA_TOKEN).expect("constant URL"),
            0,
            "MRS renews AT2 with RT2",
        )
        .with_form(form)
        .at(Stage::Sync)
        .carrying_opt(rt2.id.clone());
        self.send(ctx, msg, Purpose::Refresh(upn.to_string()));
    }

    fn fail(&mut self, ctx: &mut impl Env, upn: &str, fault: Fault) {
        self.stats.failed += 1;
        tracing::info!(t_ms = ctx.now().as_millis(), party = "mrs", upn, code = %fault.code, "sync failed");
        if let Some(u) = self.users.get_mut(upn) {
            match u.waiting.take() {
                Some((client, req, _)) => {
                    let reply =
                        Message::response(&req, 502, "MRS cannot reach the on-premises mailbox")
                            .at(Stage::Sync)
                            .with_fault(fault);
                    ctx.send(client, reply);
                }
                None => {
                    // A background sync: the user sees the last data synchronized.
                    let fault = Fault {
                        symptom: Some(STALE.into()),
                        ..fault
                    };
                    ctx.note(
                        Message::note(
                            "MRS background sync failed: Outlook mobile keeps showing stale data",
                        )
                        .at(Stage::Sync)
                        .with_fault(fault),
                    );
                }
            }
        }
    }

    /// Takes the configuration (and name resolution) of `fresh`, keeping the mailboxes in
    /// sync and their tokens.
    pub fn reconfigure(&mut self, fresh: Mrs) {
        self.cfg = fresh.cfg;
        self.net.adopt(fresh.net);
    }

    fn provision(&mut self, req: Wire, from: Route, ctx: &mut impl Env) {
        let now_unix = hmasim_protocol::unix_now(ctx);
        let at1 = match req
            .header_value(&headers::AUTHORIZATION)
            .and_then(Credentials::parse)
        {
            Some(Credentials::Bearer(t)) => t,
            _ => {
                ctx.send(
                    from,
                    Message::response(&req, 401, "provisioning needs AT1").at(Stage::Provision),
                );
                return;
            }
        };
        let claims = match ctx.verify(&at1, &self.cfg.entra_metadata, now_unix, self.cfg.skew_s) {
            Ok(c) if c.aud == apps::EXO_RESOURCE => c,
            other => {
                let why = match other {
                    Ok(c) => format!("AT1 audience {} is not Exchange Online", c.aud),
                    Err(e) => e.to_string(),
                };
                let fault = Fault {
                    code: FaultCode::InvalidToken,
                    party: "mrs",
                    message: why.clone(),
                    diagnostics: why,
                    symptom: None,
                };
                ctx.send(
                    from,
                    Message::response(&req, 401, "MRS rejects AT1")
                        .at(Stage::Provision)
                        .with_fault(fault),
                );
                return;
            }
        };
        let provision = codec::mrs::Provision::decode(req.bytes()).and_then(|p| {
            Url::parse(&p.url).map_err(|e| codec::mrs::bad_request(&format!("url: {e}")))
        });
        let eas_url = match provision {
            Ok(u) => u,
            Err(e) => {
                let stamp = hmasim_protocol::error_stamp(&req, &*ctx);
                let m = Message::response(
                    &req,
                    e.status,
                    "no ActiveSync endpoint in the provisioning request",
                )
                .with_encoded(e.encode(&stamp))
                .at(Stage::Provision);
                ctx.send(from, m);
                return;
            }
        };
        let upn = claims.upn.to_ascii_lowercase();
        self.users.insert(
            upn.clone(),
            Synced {
                eas_url: eas_url.clone(),
                at1,
                at2: None,
                rt2: None,
                waiting: Some((from, req, ctx.label())),
                sync_key: "0".into(),
            },
        );
        self.obo(ctx, &upn);
    }

    fn answered(&mut self, resp: Wire, ctx: &mut impl Env) {
        let Some(purpose) = self.pending.remove(&resp.conv) else {
            return;
        };
        self.retries.answered(resp.conv);
        let now = ctx.now();
        match purpose {
            Purpose::Obo(upn) | Purpose::Refresh(upn) => match resp.token_answer() {
                Some(t) => {
                    if let Some(u) = self.users.get_mut(&upn) {
                        let first = u.at2.is_none();
                        let expires = now + SimDuration::from_secs(t.expires_in);
                        u.at2 = Some(Held {
                            id: ctx.issued_label(&t.access_token),
                            jwt: t.access_token,
                            expires,
                        });
                        let renew_at = SimTime::from_micros(
                            expires
                                .as_micros()
                                .saturating_sub(self.cfg.refresh_margin.as_micros()),
                        );
                        ctx.timer(renew_at.since(now), Message::timer(RENEW_TIMER));
                        if let Some(jwt) = t.refresh_token {
                            u.rt2 = Some(Held {
                                id: ctx.issued_label(&jwt),
                                jwt,
                                expires: SimTime::MAX,
                            });
                        }
                        if first {
                            let create = Message::request(
                                Method::POST,
                                Url::https("outlook.office365.com", "/provisioning/mailbox"),
                                0,
                                "MRS provisions the cloud mailbox if it is missing",
                            )
                            .with_encoded(
                                codec::mrs::Provision {
                                    upn: upn.clone(),
                                    url: u.eas_url.href(),
                                }
                                .encode(),
                            )
                            .at(Stage::MailboxCreate);
                            self.send(ctx, create, Purpose::Create(upn));
                        } else {
                            self.sync(ctx, &upn);
                        }
                    }
                }
                _ => {
                    let status = resp.status_number();
                    // Entra ID's OAuth error JSON says why (`AADSTS50173`...).
                    let fault = refusal::read(&resp)
                        .map(|r| r.fault("entra-id", FaultCode::OboFailed))
                        .unwrap_or_else(|| Fault {
                            code: FaultCode::OboFailed,
                            party: "entra-id",
                            message: "Entra ID refused the on-behalf-of request".into(),
                            diagnostics: format!("HTTP {status}"),
                            symptom: None,
                        });
                    self.fail(ctx, &upn, fault);
                }
            },
            Purpose::Create(upn) => {
                if matches!(resp.status, Some(StatusCode::OK | StatusCode::CREATED)) {
                    self.sync(ctx, &upn);
                }
            }
            Purpose::Sync(upn) => {
                // MRS reads the ActiveSync answer as any ActiveSync client does.
                let synced = match resp.body {
                    Body::Encoded(ref e) if resp.status == Some(StatusCode::OK) => {
                        match e.wbxml() {
                            Ok(wbxml::Command::SyncResponse(s))
                                if s.status == 1 && !s.items.is_empty() =>
                            {
                                Some(s)
                            }
                            _ => None,
                        }
                    }
                    _ => None,
                };
                if let Some(s) = synced {
                    self.stats.succeeded += 1;
                    self.stats.last_success_ms = Some(now.as_millis());
                    let waiting = self.users.get_mut(&upn).and_then(|u| {
                        u.sync_key.clone_from(&s.sync_key);
                        u.waiting.take()
                    });
                    if let Some((client, req, _)) = waiting {
                        // Outlook mobile reads its mail from the cloud service over REST:
                        // the messages synchronized, as Graph's `messages`.
                        let reply = Message::response(
                            &req,
                            200,
                            "the on-premises mailbox data reaches Outlook mobile",
                        )
                        .at(Stage::Sync)
                        .with_encoded(graph::Messages::encode_of(&upn, &s.items));
                        ctx.send(client, reply);
                    }
                    if !self.timer_armed {
                        self.timer_armed = true;
                        ctx.timer(
                            self.cfg.sync_interval,
                            Message::timer("mrs-background-sync"),
                        );
                    }
                } else {
                    let diag = resp
                        .header_value(&headers::X_MS_DIAGNOSTICS)
                        .unwrap_or("")
                        .to_string();
                    let status = resp.status_number();
                    // Exchange's `X-MS-Diagnostics` says why (`2000008;reason=...`).
                    let fault = refusal::read(&resp)
                        .map(|r| r.fault("exchange-onprem", FaultCode::SyncFailed))
                        .unwrap_or_else(|| Fault {
                            code: FaultCode::SyncFailed,
                            party: "exchange-onprem",
                            message: format!("ActiveSync answered HTTP {status}"),
                            diagnostics: diag,
                            symptom: None,
                        });
                    self.fail(ctx, &upn, fault);
                    if !self.timer_armed {
                        self.timer_armed = true;
                        ctx.timer(
                            self.cfg.sync_interval,
                            Message::timer("mrs-background-sync"),
                        );
                    }
                }
            }
        }
    }
}

/// The party runs on anything that implements [`Env`] (the simulator's `SimEnv` does):
/// `hmasim-sim`'s `Party` calls these two as its `Actor` implementation.
impl Mrs {
    /// MRS's worker restarts: requests in flight and clients' waiting provisioning calls are
    /// lost (the client times out and retries); the mailbox sync state is in its database
    /// and survives; the background schedule starts again.
    pub fn restart(&mut self, ctx: &mut impl Env) {
        self.pending.clear();
        self.retries.clear();
        for u in self.users.values_mut() {
            u.waiting = None;
        }
        self.timer_armed = !self.users.is_empty();
        if self.timer_armed {
            ctx.timer(
                self.cfg.sync_interval,
                Message::timer("mrs-background-sync"),
            );
        }
    }

    /// Handles one message (or timer) from `from`.
    pub fn handle(&mut self, msg: Wire, ctx: &mut impl Env) {
        let from = ctx.caller();
        match msg.kind {
            Kind::Request => self.provision(msg, from, ctx),
            Kind::Response | Kind::Redirect => self.answered(msg, ctx),
            Kind::Timer if matches!(msg.body, Body::Timer(RETRY_TIMER)) => {
                if let Some((m, p, attempt)) = self.retries.due(msg.conv) {
                    self.send_attempt(ctx, m, p, attempt);
                }
            }
            Kind::Timer if matches!(msg.body, Body::Timer(TIMEOUT_TIMER)) => {
                let Some(p) = self.pending.remove(&msg.conv) else {
                    return;
                };
                if let Some(p) =
                    self.retries
                        .timed_out(ctx, msg.conv, p, "no answer: MRS retries the request")
                {
                    let upn = match p {
                        Purpose::Obo(u)
                        | Purpose::Create(u)
                        | Purpose::Sync(u)
                        | Purpose::Refresh(u) => u,
                    };
                    let fault = Fault {
                        code: FaultCode::Timeout,
                        party: "mrs",
                        message: format!("no answer within {} s", REQUEST_TIMEOUT.as_secs()),
                        diagnostics: "the request timed out: the endpoint is unreachable or down"
                            .into(),
                        symptom: None,
                    };
                    self.fail(ctx, &upn, fault);
                }
            }
            Kind::Timer if matches!(msg.body, Body::Timer(RENEW_TIMER)) => {
                let now = ctx.now();
                let due: Vec<String> = self
                    .users
                    .iter()
                    .filter(|(_, u)| {
                        u.at2
                            .as_ref()
                            .is_some_and(|a| a.expires <= now + self.cfg.refresh_margin)
                    })
                    .map(|(k, _)| k.clone())
                    .collect();
                for upn in due {
                    let renewing = self
                        .pending
                        .values()
                        .any(|p| matches!(p, Purpose::Refresh(u) if *u == upn));
                    if !renewing {
                        self.refresh(ctx, &upn);
                    }
                }
            }
            Kind::Timer => {
                let now = ctx.now();
                let upns: Vec<String> = self.users.keys().cloned().collect();
                for upn in upns {
                    let renew = self.users[&upn]
                        .at2
                        .as_ref()
                        .is_some_and(|a| a.expires <= now + self.cfg.refresh_margin);
                    if renew {
                        self.refresh(ctx, &upn);
                    } else {
                        self.sync(ctx, &upn);
                    }
                }
                ctx.timer(
                    self.cfg.sync_interval,
                    Message::timer("mrs-background-sync"),
                );
            }
            Kind::Note => {}
        }
    }
}
