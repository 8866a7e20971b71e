//! AutoDetect: the cloud service Outlook mobile asks where a mailbox lives and how to sign
//! in. It runs anonymous AutoDiscover v2 queries (Exchange Online first, following its
//! 302 to on-premises), then probes ActiveSync with an empty Bearer to learn the Entra ID
//! authorization URL from the 401 challenge. It connects from Azure, so on-premises
//! namespaces must be reachable from the Internet without pre-authentication.
#![deny(missing_docs)]

use hmasim_protocol::headers;
use hmasim_protocol::refusal;
pub mod setup;
use std::collections::BTreeMap;

use hmasim_protocol::challenge::Challenge;
use hmasim_protocol::codec::autodiscover::V2Answer;
use hmasim_protocol::codec::ContentType;
use hmasim_protocol::FaultCode;
use hmasim_protocol::{DetectAnswer, Fault, Kind, Message, Method, Net, Stage, Url};
use hmasim_protocol::{Env, Route};
use hmasim_protocol::{StatusCode, Wire};

/// Most AutoDiscover redirects AutoDetect follows for one query.
pub const MAX_REDIRECTS: u32 = 10;

#[derive(Clone, Debug)]
struct Job {
    client: Route,
    req: Wire,
    email: String,
    redirects: u32,
    eas_url: Option<Url>,
    onprem: bool,
}

/// The `autodetect` party.
#[derive(Clone, Debug)]
pub struct AutoDetect {
    net: Net,
    jobs: BTreeMap<u64, Job>,
}

impl AutoDetect {
    /// AutoDetect reaching the Internet through `net`.
    pub fn new(net: Net) -> Self {
        AutoDetect {
            net,
            jobs: BTreeMap::new(),
        }
    }

    /// Takes the name resolution of `fresh`, keeping discoveries in flight.
    pub fn reconfigure(&mut self, fresh: AutoDetect) {
        self.net.adopt(fresh.net);
    }

    fn next(&mut self, ctx: &mut impl Env, job: Job, msg: Message) {
        let host = msg.url.as_ref().map(|u| u.host.clone()).unwrap_or_default();
        match self.net.request(ctx, msg) {
            Ok(conv) => {
                self.jobs.insert(conv, job);
            }
            Err(_) => self.give_up(
                ctx,
                job,
                FaultCode::AutodiscoverUnreachable,
                format!("AutoDetect cannot reach {host}"),
                format!("connection to {host} failed from the AutoDetect service (Azure)"),
            ),
        }
    }

    fn give_up(
        &mut self,
        ctx: &mut impl Env,
        job: Job,
        code: FaultCode,
        message: String,
        diagnostics: String,
    ) {
        let fault = Fault {
            code,
            party: "autodetect",
            message,
            diagnostics,
            symptom: None,
        };
        let reply = Message::response(&job.req, 404, "AutoDetect cannot discover the mailbox")
            .at(Stage::DetectAnswer)
            .with_fault(fault);
        ctx.send(job.client, reply);
    }

    fn probe(&mut self, ctx: &mut impl Env, job: Job) {
        let url = job.eas_url.clone().expect("probe after discovery");
        let msg = Message::request(
            Method::GET,
            url,
            0,
            "AutoDetect calls ActiveSync with an empty Bearer to learn the authority",
        )
        .header(&headers::AUTHORIZATION, "Bearer")
        .at(Stage::EasProbe);
        self.next(ctx, job, msg);
    }

    fn answered(&mut self, resp: Wire, ctx: &mut impl Env) {
        let Some(mut job) = self.jobs.remove(&resp.conv) else {
            return;
        };
        let v2 = (resp.content_type() == Some(ContentType::Json))
            .then(|| V2Answer::decode(resp.bytes()).ok())
            .flatten();
        match (resp.status, v2) {
            (Some(StatusCode::FOUND), _) => {
                let Some(loc) = resp.url.clone() else { return };
                job.redirects += 1;
                if job.redirects > MAX_REDIRECTS {
                    return self.give_up(
                        ctx,
                        job,
                        FaultCode::RedirectLoop,
                        "too many AutoDiscover redirects".into(),
                        format!("RedirectCount exceeded {MAX_REDIRECTS}"),
                    );
                }
                if loc.path_starts_with("/adfs/") {
                    let diag = format!("302 to {loc}");
                    return self.give_up(ctx, job, FaultCode::Preauthentication, "a pre-authentication device in front of Exchange redirects AutoDetect to AD FS".into(), diag);
                }
                if loc.path_starts_with("/autodiscover/autodiscover.json") {
                    job.onprem = true;
                    let msg = Message::request(
                        Method::GET,
                        loc,
                        0,
                        "AutoDetect: anonymous AutoDiscover v2 request on-premises",
                    )
                    .at(Stage::AutodiscoverOnprem);
                    self.next(ctx, job, msg);
                } else {
                    job.eas_url = Some(loc);
                    self.probe(ctx, job);
                }
            }
            (Some(StatusCode::OK), Some(V2Answer { url, .. })) => match Url::parse(&url) {
                Ok(u) => {
                    job.eas_url = Some(u);
                    self.probe(ctx, job);
                }
                Err(_) => self.give_up(
                    ctx,
                    job,
                    FaultCode::BadAutodiscoverUrl,
                    format!("AutoDiscover returned a malformed URL: {url}"),
                    url.clone(),
                ),
            },
            (Some(StatusCode::UNAUTHORIZED), _) => {
                let challenges: Vec<Challenge> = resp
                    .header_values(&headers::WWW_AUTHENTICATE)
                    .filter_map(|v| Challenge::parse(v).ok())
                    .collect();
                if challenges.is_empty() {
                    let server = resp
                        .header_value(&headers::SERVER)
                        .unwrap_or("unknown")
                        .to_string();
                    return self.give_up(
                        ctx,
                        job,
                        FaultCode::NoWwwAuthenticate,
                        "the ActiveSync 401 has no WWW-Authenticate header".into(),
                        format!("401 without WWW-Authenticate (answered by: {server})"),
                    );
                }
                let aad = challenges.iter().find_map(|c| match c {
                    Challenge::Bearer(_) => c.param("authorization_uri").map(str::to_string),
                    _ => None,
                });
                let answer = DetectAnswer {
                    protocol: "activesync".into(),
                    url: job.eas_url.clone().expect("probed"),
                    aad,
                    onprem: job.onprem,
                };
                let summary = if answer.aad.is_some() {
                    "AutoDetect returns the Entra ID endpoint to the client"
                } else {
                    "AutoDetect found no authorization_uri: Basic only"
                };
                let reply = Message::response(&job.req, 200, summary)
                    .at(Stage::DetectAnswer)
                    .with_encoded(answer.encode());
                ctx.send(job.client, reply);
            }
            (status, _) => {
                let diag = refusal::read(&resp)
                    .map(|r| r.diagnostics)
                    .unwrap_or_else(|| format!("HTTP {}", status.map_or(0, |s| s.as_u16())));
                self.give_up(
                    ctx,
                    job,
                    FaultCode::AutodiscoverFailed,
                    format!(
                        "unexpected answer during discovery: HTTP {}",
                        status.map_or(0, |s| s.as_u16())
                    ),
                    diag,
                );
            }
        }
    }
}

/// The party runs on anything that implements [`Env`] (the simulator's `SimEnv` does):
/// `hmasim-sim`'s `Party` calls these two as its `Actor` implementation.
impl AutoDetect {
    /// Requests in flight are forgotten: their senders time out and retry.
    pub fn restart(&mut self) {
        self.jobs.clear();
    }

    /// Handles one message (or timer) from `from`.
    pub fn handle(&mut self, msg: Wire, ctx: &mut impl Env) {
        let from = ctx.caller();
        match msg.kind {
            Kind::Request => {
                let email = msg
                    .header_value(&headers::X_EMAIL)
                    .unwrap_or("")
                    .to_string();
                let url = Url::https("outlook.office365.com", "/autodiscover/autodiscover.json")
                    .with("Email", email.clone())
                    .with("Protocol", "activesync")
                    .with("RedirectCount", "2");
                let job = Job {
                    client: from,
                    req: msg,
                    email,
                    redirects: 0,
                    eas_url: None,
                    onprem: false,
                };
                let q = Message::request(
                    Method::GET,
                    url,
                    0,
                    "AutoDetect: anonymous AutoDiscover v2 request to Exchange Online",
                )
                .at(Stage::AutodiscoverExo);
                tracing::debug!(t_ms = ctx.now().as_millis(), party = "autodetect", email = %job.email, "detect");
                self.next(ctx, job, q);
            }
            Kind::Response | Kind::Redirect => self.answered(msg, ctx),
            _ => {}
        }
    }
}
