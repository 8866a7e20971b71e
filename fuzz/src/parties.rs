//! Raw HTTP into every service party (issue 12 "Bad input"): the services of a bundled
//! scenario's world built once as the simulator builds them (`Topology::of`, each row's
//! `make`), a raw request parsed (`http1::parse_request`), read into a `Wire`
//! (`Wire::from_http`) and handed to each service through a `Recording` environment, and
//! what each sends back checked and encoded to bytes. Shared by the `party_http` fuzz
//! target and `tests/party_http.rs` (which includes this file by path), so both assert the
//! same.

use hmasim::kernel::ActorId;
use hmasim::protocol::bytes::Bytes;
use hmasim::protocol::codec::{self, http1, ContentType};
use hmasim::protocol::env::Recording;
use hmasim::protocol::http::Request;
use std::collections::VecDeque;

use hmasim::protocol::{Kind, Message, Meta, Route, Wire};
use hmasim::scenario::{parse, Format, Scenario, BUNDLED};
use hmasim::sim::{Party, Topology};

/// The bundled scenario whose world the services come from: federated, mailbox on
/// premises, with AD FS and WAP in the path (every world holds every service; this one
/// uses them all).
pub const SCENARIO: &str = "desktop-onprem-adfs-mfa";

/// The services of a world, by party id, with the host names they answer for.
#[derive(Clone)]
pub struct Services {
    /// Each service party, by its id, as the world builds it.
    pub parties: Vec<(String, Party)>,
    /// The host names the world's services answer for (deduplicated, in table order).
    pub hosts: Vec<String>,
    /// The actor of each party, as the world numbers it (what routes to it carry).
    pub actors: Vec<ActorId>,
    /// The route answers go back over: the first client's, as the world numbers it.
    pub caller: Route,
}

impl Services {
    /// The services of `sc`'s world.
    pub fn of(sc: &Scenario) -> Services {
        let topo = Topology::of(sc);
        let wiring = topo.wiring(sc);
        let mut parties = Vec::new();
        let mut actors = Vec::new();
        let mut hosts: Vec<String> = Vec::new();
        for (i, row) in topo.rows.iter().enumerate() {
            if row.client.is_some() {
                continue;
            }
            let me = ActorId(i as u32);
            parties.push((row.name.clone(), (row.make)(sc, &wiring, me, row)));
            actors.push(me);
            for (h, _) in &row.answers {
                if !hosts.contains(h) {
                    hosts.push(h.clone());
                }
            }
        }
        Services {
            parties,
            actors,
            hosts,
            caller: Route::to_actor(ActorId(0)),
        }
    }

    /// The services of [`SCENARIO`].
    pub fn bundled() -> Services {
        let b = BUNDLED
            .iter()
            .find(|b| b.name == SCENARIO)
            .expect("the scenario is bundled");
        Services::of(&parse(b.source, b.name, Format::Toml).expect("bundled scenarios parse"))
    }
}

/// What one service did with one request: everything it and the services it reached sent,
/// in order, with whether it went back to the caller (an answer) or elsewhere (a request
/// passed on or made, an answer between services).
pub struct Handled {
    /// The party's id.
    pub party: String,
    /// `(answer, message)`: each message sent, `answer` when it went to the caller.
    pub sent: Vec<(bool, Message)>,
}

/// Hands `wire` to `party` through a fresh `Recording` whose caller is `caller`.
pub fn handle(party: &mut Party, wire: Wire, caller: Route) -> Recording {
    let mut env = Recording::new(caller);
    handle_in(party, wire, &mut env);
    env
}

/// Hands `wire` to `party` through `env`.
pub fn handle_in(party: &mut Party, wire: Wire, env: &mut Recording) {
    match party {
        Party::Client(p) => p.handle(wire, env),
        Party::AutoDetect(p) => p.handle(wire, env),
        Party::ExchangeOnline(p) => p.handle(wire, env),
        Party::Translator(p) => p.handle(wire, env),
        Party::Mrs(p) => p.handle(wire, env),
        Party::ExchangeOnprem(p) => p.handle(wire, env),
        Party::LoadBalancer(p) => p.handle(wire, env),
        Party::EntraId(p) => p.handle(wire, env),
        Party::Adfs(p) => p.handle(wire, env),
        Party::Wap(p) => p.handle(wire, env),
        Party::ActiveDirectory(p) => p.handle(wire, env),
    }
}

/// Messages delivered between services for one request handed to one service (a chain
/// of lookups: Exchange asks Active Directory, Entra ID asks AD FS...).
pub const MAX_HOPS: usize = 32;

/// Hands the raw request `req` (parsed by `http1::parse_request`), as received over TLS
/// or not, to every service of `services` in turn (each keeps the state it builds, as a
/// server does). What a service sends to another service is delivered to it, with the
/// sender as its caller, up to [`MAX_HOPS`] deliveries, so lookups are answered and the
/// answer to the caller comes back; timers do not fire. `None` when `req` is not a
/// request a party could receive (no host). Every message sent is encoded to bytes on the
/// way ([`encode`]); nothing here may panic.
pub fn feed(services: &mut Services, req: &Request<Bytes>, tls: bool) -> Option<Vec<Handled>> {
    let wire = Wire::from_http(req, tls).ok()?;
    let caller = services.caller;
    let mut out = Vec::new();
    for first in 0..services.parties.len() {
        let mut queue = VecDeque::from([(first, caller, wire.clone(), Meta::default())]);
        let mut sent = Vec::new();
        let mut hops = 0;
        while let Some((at, from, w, meta)) = queue.pop_front() {
            if hops == MAX_HOPS {
                break;
            }
            hops += 1;
            let mut env = Recording::new(from);
            env.handled = meta;
            handle_in(&mut services.parties[at].1, w, &mut env);
            let me = Route::to_actor(services.actors[at]);
            for (to, m) in env.sent {
                let _ = encode(&m.wire);
                if let Some(next) = services.actors.iter().position(|a| *a == to.actor()) {
                    queue.push_back((next, me, m.wire.clone(), m.meta.clone()));
                }
                sent.push((to == caller, m));
            }
        }
        out.push(Handled {
            party: services.parties[first].0.clone(),
            sent,
        });
    }
    Some(out)
}

/// The bytes of a message over HTTP/1.1 (`None` for what does not travel over HTTP: a
/// directory bind, an MFA push...).
pub fn encode(w: &Wire) -> Option<Vec<u8>> {
    match w.kind {
        Kind::Request => w.to_http_request().ok().map(|r| http1::write_request(&r)),
        _ => w.to_http_response().ok().map(|r| http1::write_response(&r)),
    }
}

/// Whether `answer` (what a party sent back to the caller of an HTTP request) is a
/// well-formed HTTP answer: a response or redirect with a status, no line session, and a
/// body, if any, whose bytes read as the content type it names (JSON parses, XML reads,
/// a form decodes, WBXML decodes, HTML and text are UTF-8, MAPI/HTTP has its meta-tags);
/// and, when its headers and body are HTTP's, that it encodes to bytes starting with its
/// status line. The error says what is wrong.
pub fn check_answer(answer: &Wire) -> Result<(), String> {
    if !matches!(answer.kind, Kind::Response | Kind::Redirect) {
        return Err(format!("answered with a {}", answer.kind.as_str()));
    }
    let status = answer.status.ok_or("an answer without status")?;
    if answer.line.is_some() {
        return Err("a line session answering HTTP".into());
    }
    if answer.kind == Kind::Redirect && answer.url.is_none() {
        return Err("a redirect without Location".into());
    }
    if !answer.bytes().is_empty() {
        let ct = answer.content_type().ok_or("a body without content type")?;
        matches_type(ct, answer.bytes()).map_err(|e| format!("{status}: {e}"))?;
    }
    if let Some(bytes) = encode(answer) {
        let line = format!("HTTP/1.1 {} ", status.as_u16());
        if !bytes.starts_with(line.as_bytes()) {
            return Err(format!("encoded without its status line {line:?}"));
        }
    }
    Ok(())
}

/// Whether `bytes` read as `ct`.
pub fn matches_type(ct: ContentType, bytes: &[u8]) -> Result<(), String> {
    let utf8 = || std::str::from_utf8(bytes).map_err(|e| format!("{ct:?} not UTF-8: {e}"));
    match ct {
        ContentType::Json => serde_json::from_slice::<serde_json::Value>(bytes)
            .map(drop)
            .map_err(|e| format!("JSON: {e}")),
        ContentType::Xml => codec::xml::parse(bytes)
            .map(drop)
            .map_err(|e| format!("XML: {e:?}")),
        ContentType::Form => codec::form::decode(bytes)
            .map(drop)
            .map_err(|e| format!("form: {e:?}")),
        ContentType::Wbxml => codec::wbxml::decode_node(bytes)
            .map(drop)
            .map_err(|e| format!("WBXML: {e:?}")),
        ContentType::Html => {
            let s = utf8()?;
            s.to_ascii_lowercase()
                .contains("<html")
                .then_some(())
                .ok_or_else(|| "HTML without <html".to_string())
        }
        ContentType::Text => utf8().map(drop),
        ContentType::MapiHttp => {
            // Meta-tags (`PROCESSING`, `DONE`) as CRLF lines, then the binary body.
            bytes
                .windows(4)
                .any(|w| w == b"\r\n\r\n")
                .then_some(())
                .ok_or_else(|| "MAPI/HTTP without its meta-tags".to_string())
        }
        ContentType::Rpc => codec::rpc::OutStream::decode(bytes)
            .map(drop)
            .map_err(|e| format!("RPC over HTTP: {e}")),
    }
}
