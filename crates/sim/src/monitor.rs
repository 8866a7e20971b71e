//! The observer that records traces and derives the outcome from the messages alone.
//!
//! Whether mailbox data rests on MFA is decided from the credential the request it answers
//! actually carried on the wire (its `Authorization: Bearer` JWT, a posted id_token or SAML
//! assertion, a session cookie a response set, or an IMAP/POP session's `XOAUTH2` token),
//! looked up in the record of what the issuers really issued. The `token` label a sender writes on a message is a trace
//! annotation only: no verdict reads it. `docs/outcome.md` defines the outcome.

use hmasim_protocol::headers;
use std::collections::BTreeMap;

use hmasim_kernel::{ActorId, Delivery, EventKind, Observer, SimTime};
use hmasim_protocol::challenge::Credentials;
use hmasim_protocol::line::session::Credential;
use hmasim_protocol::{Body, Fault, FaultCode, Kind, Message, Token};

/// One recorded event.
#[derive(Clone, Debug)]
pub struct Event {
    /// Delivery order.
    pub seq: u64,
    /// Simulated ms.
    pub t_ms: u64,
    /// Sender.
    pub from: ActorId,
    /// Receiver.
    pub to: ActorId,
    /// Whether the network dropped it.
    pub dropped: bool,
    /// The message.
    pub msg: Message,
}

/// A run of faults not yet followed by mailbox data: the state "something is broken".
#[derive(Clone, Debug)]
pub struct Failing {
    /// The event where it went wrong (where the first refusal of the streak appeared).
    pub seq: u64,
    /// When, in simulated ms.
    pub t_ms: u64,
    /// That refusal.
    pub fault: Fault,
    /// What the user sees, from the latest fault that says.
    pub symptom: Option<String>,
}

/// What the monitor knows of one acting client.
#[derive(Clone, Debug)]
pub struct ClientView {
    /// The client.
    pub id: ActorId,
    /// When mailbox data first reached it (simulated ms).
    pub reached_ms: Option<u64>,
    /// Mailbox data reached it (or was synchronized for it) against a credential with MFA.
    pub with_mfa: bool,
    /// Mailbox data reached it (or was synchronized for it) without MFA.
    pub without_mfa: bool,
    /// Whose data first reached it.
    pub served_by: Option<&'static str>,
    /// Refusals that concern it since its last mailbox data.
    pub failing: Option<Failing>,
    /// The last time it gave up (a note with a symptom), until mailbox data reaches it.
    pub gave_up: Option<Failing>,
}

impl ClientView {
    fn new(id: ActorId) -> ClientView {
        ClientView {
            id,
            reached_ms: None,
            with_mfa: false,
            without_mfa: false,
            served_by: None,
            failing: None,
            gave_up: None,
        }
    }

    /// Access holds at the end: data reached it and nothing concerning it is broken.
    pub fn holds(&self) -> bool {
        self.reached_ms.is_some() && self.failing.is_none() && self.gave_up.is_none()
    }

    /// What broke last, if anything: the open streak, else the last give-up.
    pub fn broken(&self) -> Option<&Failing> {
        self.failing.as_ref().or(self.gave_up.as_ref())
    }

    /// A refusal that concerns this client; `own` when the client itself reports it.
    fn refused(&mut self, f: Failing, own: bool) {
        if own && f.symptom.is_some() {
            self.gave_up = Some(f.clone());
        }
        match &mut self.failing {
            Some(streak) => {
                if f.symptom.is_some() {
                    streak.symptom = f.symptom;
                }
            }
            None => self.failing = Some(f),
        }
    }
}

/// A request the monitor saw: the credential it carried (an index into the issued
/// credentials) and the user whose mailbox it concerns, when known. 16 bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Carried {
    cred: Option<u32>,
    user: Option<u32>,
}

/// Where a fault was first seen, so that a streak points at the refusal itself rather than
/// at the hop that relayed it.
#[derive(Clone, Debug)]
struct Origin {
    code: FaultCode,
    party: &'static str,
    message: String,
    seq: u64,
    t_ms: u64,
}

/// How many distinct faults keep their origin (it only places the diagnosis on an event;
/// no verdict depends on it).
const ORIGINS: usize = 16;

/// Watches a run: optionally records every event, and always tracks what the outcome needs
/// (the credentials issued, which credential each request carried, mailbox data per
/// client, refusals per client, MRS synchronization).
///
/// Its memory grows with the run and never forgets anything a verdict needs: one compact
/// entry (32 bytes of key and value) per request seen, kept until the end of the run so a
/// duplicate of any answer, however late, is judged against the request it answers. A run
/// has at most `run.max_events` deliveries, which bounds it (docs/outcome.md gives the
/// figures).
#[derive(Debug, Default)]
pub struct Monitor {
    record: bool,
    stop_on_access: bool,
    mrs: Option<ActorId>,
    seq: u64,
    /// Recorded events (when recording).
    pub events: Vec<Event>,
    /// Every token issued, in issue order.
    tokens: Vec<std::sync::Arc<Token>>,
    /// The indices into `tokens` (and `creds`) ordered by the tokens' compact
    /// serialization: the look-up of a credential seen on the wire ([`Monitor::issued`])
    /// without a copy of every token issued.
    by_jwt: Vec<u32>,
    /// Per issued credential: whether the issuer's record has `mfa` in its `amr`, and
    /// whose it is.
    creds: Vec<(bool, Option<u32>)>,
    /// Users seen (lower-case UPNs), interned.
    users: Vec<String>,
    user_ix: BTreeMap<String, u32>,
    /// Session cookies set by responses (`name=value`), to the credential of the request
    /// each answered.
    cookies: BTreeMap<Box<str>, Option<u32>>,
    /// Requests awaiting their first answer, by (requester, responder, correlation id).
    carried: BTreeMap<(ActorId, ActorId, u64), Carried>,
    /// Requests answered already: a duplicated answer (an injected fault) is judged
    /// against the request it answers, as the first copy was, and ignored otherwise, as
    /// its receiver ignores it.
    answered: BTreeMap<(ActorId, ActorId, u64), Carried>,
    /// The requests in flight of the parties that time requests out (the acting clients
    /// and MRS), by requester and correlation id, to their responder and the user whose
    /// mailbox each concerns. When the requester's timeout fires first, it abandons the
    /// request: a late answer is then ignored, as the requester ignores it. A timeout of
    /// one of MRS's requests is a failure for that user's mobile client.
    open: BTreeMap<(ActorId, u64), (ActorId, Option<u32>)>,
    /// The user the delivery MRS is handling concerns (its notes follow it).
    mrs_ctx: Option<u32>,
    /// Users whose mailbox MRS syncs, to the acting clients that provisioned it.
    links: BTreeMap<u32, Vec<ActorId>>,
    origins: Vec<Origin>,
    /// The first refusal between other parties (a service refusing a relay, AutoDetect or
    /// MRS) since mailbox data last reached anyone: the root cause of what a client is
    /// refused next.
    upstream: Option<Failing>,
    /// The acting clients, in the scenario's order.
    pub clients: Vec<ClientView>,
    /// Mailbox data was served to some party against a credential without MFA (or none).
    pub without_mfa: bool,
    /// Mailbox data was served at all.
    pub data_served: bool,
    /// Faults anywhere since the last mailbox data, if any (the view of a run with no
    /// acting client).
    pub failing: Option<Failing>,
    /// MRS's successful synchronizations (ms).
    pub mrs_successes: Vec<u64>,
    /// MRS's failed synchronizations.
    pub mrs_failures: u64,
    /// Bookkeeping messages (request timeouts, retry back-offs) seen but not recorded.
    pub quiet: u64,
    /// The mailbox servers, by actor, with their party ids: whose data an answer is.
    servers: Vec<(ActorId, &'static str)>,
    /// For a party that received mailbox data (a relay, MRS), the server it came from:
    /// what it passes on is that server's data.
    data_from: BTreeMap<ActorId, &'static str>,
    /// Events recorded, by kind: delivered messages and timers, drops, notes.
    pub shown: (u64, u64, u64),
}

impl Monitor {
    /// A monitor for a world whose acting clients are `clients` and whose MRS is `mrs`.
    pub fn new(clients: Vec<ActorId>, mrs: Option<ActorId>, record: bool) -> Monitor {
        Monitor {
            record,
            clients: clients.into_iter().map(ClientView::new).collect(),
            mrs,
            ..Monitor::default()
        }
    }

    /// Names the mailbox servers (`exchange-online`, `exchange-onprem`) by actor: an
    /// answer with mailbox data is served by its sender when it is one, else by the
    /// server whose data its sender last received (a relay, MRS passing it on).
    pub fn with_servers(mut self, servers: Vec<(ActorId, &'static str)>) -> Monitor {
        self.servers = servers;
        self
    }

    /// Stops the run as soon as every client has reached its mailbox.
    pub fn stop_on_access(mut self) -> Monitor {
        self.stop_on_access = true;
        self
    }

    /// Records something the runner did (an outage, a configuration change) as a note.
    pub fn runner_note(&mut self, time: SimTime, actor: ActorId, msg: Message) {
        let ev = Delivery {
            time,
            from: actor,
            to: actor,
            kind: EventKind::Note,
            msg: &msg,
        };
        self.see(&ev, false);
    }

    fn user(&mut self, upn: &str) -> u32 {
        // A UPN already in lower case (the usual one) is looked up without a copy.
        if !upn.bytes().any(|b| b.is_ascii_uppercase()) {
            if let Some(&i) = self.user_ix.get(upn) {
                return i;
            }
        }
        let upn = upn.to_ascii_lowercase();
        if let Some(&i) = self.user_ix.get(&upn) {
            return i;
        }
        let i = self.users.len() as u32;
        self.users.push(upn.clone());
        self.user_ix.insert(upn, i);
        i
    }

    /// Every token issued, in issue order, taken out of the monitor (for the trace, at
    /// the end of a run: the monitor no longer knows them afterwards).
    pub fn take_tokens(&mut self) -> Vec<Token> {
        self.by_jwt.clear();
        std::mem::take(&mut self.tokens)
            .into_iter()
            .map(std::sync::Arc::unwrap_or_clone)
            .collect()
    }

    /// Where `jwt` is (or would be) in `by_jwt`.
    fn find_issued(&self, jwt: &str) -> Result<usize, usize> {
        self.by_jwt
            .binary_search_by(|&i| self.tokens[i as usize].jwt.as_str().cmp(jwt))
    }

    /// The index of the credential issued with compact serialization `jwt`.
    fn issued(&self, jwt: &str) -> Option<u32> {
        self.find_issued(jwt).ok().map(|k| self.by_jwt[k])
    }

    fn issue(&mut self, t: &std::sync::Arc<Token>) {
        let Err(at) = self.find_issued(&t.jwt) else {
            return;
        };
        // The issuer's own record says whose token it is (the `upn` it signed into the
        // claims) and how the user authenticated: reading it is not trusting a wire.
        let user = Some(t.upn.as_str())
            .filter(|u| !u.is_empty())
            .map(|u| self.user(u));
        let ix = self.creds.len() as u32;
        self.creds.push((t.has_mfa(), user));
        self.by_jwt.insert(at, ix);
        self.tokens.push(t.clone());
    }

    /// The credential a request carries on the wire: a Bearer JWT, a posted id_token or
    /// SAML assertion (or the assertion and refresh token of a token grant), or a session
    /// cookie. `None` for Basic, Negotiate, no credential, or anything no issuer issued (a
    /// forged JWT).
    fn credential(&self, m: &Message) -> Option<u32> {
        if let Some(session) = m.line.as_deref() {
            // An IMAP or POP session: the token of its `XOAUTH2` command; a password
            // (`LOGIN`, `PASS`, `PLAIN`) is no issued credential.
            return match session.credential() {
                Some(Credential::Bearer { token, .. }) => self.issued(&token),
                _ => None,
            };
        }
        if let Some(a) = m.header_value(&headers::AUTHORIZATION) {
            return match Credentials::bearer_token(a) {
                Some("") => self.posted(m).or_else(|| self.cookie(m)),
                Some(t) => self.issued(t),
                None => None,
            };
        }
        self.posted(m).or_else(|| self.cookie(m))
    }

    fn posted(&self, m: &Message) -> Option<u32> {
        let f = m.form()?;
        ["wresult", "id_token", "assertion", "refresh_token"]
            .iter()
            .filter_map(|k| f.get(k))
            .find_map(|v| self.issued(v))
    }

    fn cookie(&self, m: &Message) -> Option<u32> {
        m.header_values(&headers::COOKIE)
            .flat_map(|c| c.split(';'))
            .find_map(|c| self.cookies.get(c.trim()).copied())
            .flatten()
    }

    /// Where this fault first appeared since mailbox data last reached a client.
    fn origin(&mut self, f: &Fault, seq: u64, t_ms: u64) -> (u64, u64) {
        if let Some(o) = self
            .origins
            .iter()
            .find(|o| o.code == f.code && o.party == f.party && o.message == f.message)
        {
            return (o.seq, o.t_ms);
        }
        if self.origins.len() == ORIGINS {
            self.origins.remove(0);
        }
        self.origins.push(Origin {
            code: f.code,
            party: f.party,
            message: f.message.clone(),
            seq,
            t_ms,
        });
        (seq, t_ms)
    }

    fn client_mut(&mut self, id: ActorId) -> Option<&mut ClientView> {
        self.clients.iter_mut().find(|c| c.id == id)
    }

    /// The acting clients whose mailbox MRS syncs for `user` (every linked client when the
    /// user is not known).
    fn linked(&self, user: Option<u32>) -> Vec<ActorId> {
        match user {
            Some(u) => self.links.get(&u).cloned().unwrap_or_default(),
            None => self.links.values().flatten().copied().collect(),
        }
    }

    fn see(&mut self, ev: &Delivery<'_, Message>, dropped: bool) {
        let m = ev.msg;
        if m.meta.quiet {
            return;
        }
        let seq = self.seq;
        self.seq += 1;
        let t_ms = ev.time.as_millis();
        for t in &m.meta.issued {
            self.issue(t);
        }
        if self.record {
            match (dropped, m.kind) {
                (true, _) => self.shown.1 += 1,
                (false, Kind::Note) => self.shown.2 += 1,
                _ => self.shown.0 += 1,
            }
            self.events.push(Event {
                seq,
                t_ms,
                from: ev.from,
                to: ev.to,
                dropped,
                msg: m.clone(),
            });
        }
        let answer = matches!(m.kind, Kind::Response | Kind::Redirect);
        if dropped {
            // The answer will never come, but a duplicate of it may: the request is
            // remembered as answered, with its credential.
            if answer {
                let key = (ev.to, ev.from, m.conv);
                if let Some(c) = self.carried.remove(&key) {
                    self.answered.insert(key, c);
                }
            }
            return;
        }
        match m.kind {
            Kind::Request => self.request(ev),
            Kind::Response | Kind::Redirect => self.answer(ev, seq, t_ms),
            Kind::Note => {
                if let Some(f) = &m.meta.fault {
                    let (oseq, ot) = self.origin(f, seq, t_ms);
                    let failing = Failing {
                        seq: oseq,
                        t_ms: ot,
                        fault: (**f).clone(),
                        symptom: f.symptom.as_ref().map(|s| s.to_string()),
                    };
                    let mut concerned = Vec::new();
                    if Some(ev.from) == self.mrs {
                        self.mrs_failures += 1;
                        concerned = self.linked(self.mrs_ctx);
                    } else if self.clients.iter().any(|c| c.id == ev.from) {
                        concerned.push(ev.from);
                    }
                    let root = self.root(&failing);
                    for c in concerned {
                        let own = c == ev.from;
                        if let Some(v) = self.client_mut(c) {
                            v.refused(root.clone(), own);
                        }
                    }
                    self.global(failing);
                }
            }
            Kind::Timer => {}
        }
    }

    /// What a client is refused for: the upstream refusal that started it, if one is
    /// open, with what the client's own message says the user sees.
    fn root(&self, f: &Failing) -> Failing {
        match &self.upstream {
            Some(u) => Failing {
                symptom: f.symptom.clone(),
                ..u.clone()
            },
            None => f.clone(),
        }
    }

    fn global(&mut self, f: Failing) {
        match &mut self.failing {
            Some(streak) => {
                if f.symptom.is_some() {
                    streak.symptom = f.symptom;
                }
            }
            None => self.failing = Some(f),
        }
    }

    fn request(&mut self, ev: &Delivery<'_, Message>) {
        let m = ev.msg;
        let key = (ev.from, ev.to, m.conv);
        // A duplicate of a request changes nothing: its answers are matched to the
        // first copy's entry.
        if self.answered.contains_key(&key) || self.carried.contains_key(&key) {
            return;
        }
        let cred = self.credential(m);
        // Outlook mobile's provisioning request names the mailbox it asks MRS to sync.
        let provision = (m.method == Some(hmasim_protocol::Method::POST)
            && m.content_type() == Some(hmasim_protocol::codec::ContentType::Json))
        .then(|| hmasim_protocol::codec::mrs::Provision::decode(m.bytes()).ok())
        .flatten()
        .map(|p| p.upn);
        let user = match cred.and_then(|c| self.creds[c as usize].1) {
            Some(u) => Some(u),
            None => match (&provision, m.url.as_ref().and_then(|u| u.param("User"))) {
                (Some(upn), _) => Some(self.user(upn)),
                (_, Some(upn)) => {
                    let upn = upn.to_string();
                    Some(self.user(&upn))
                }
                _ => None,
            },
        };
        if let Some(upn) = &provision {
            // The mobile client asks MRS to sync this mailbox for it: MRS's background
            // failures for this user are this client's.
            if self.clients.iter().any(|c| c.id == ev.from) {
                let u = self.user(upn);
                let linked = self.links.entry(u).or_default();
                if !linked.contains(&ev.from) {
                    linked.push(ev.from);
                }
            }
        }
        if Some(ev.from) == self.mrs || self.clients.iter().any(|c| c.id == ev.from) {
            self.open.insert((ev.from, m.conv), (ev.to, user));
        }
        self.carried.insert(key, Carried { cred, user });
    }

    fn answer(&mut self, ev: &Delivery<'_, Message>, seq: u64, t_ms: u64) {
        let m = ev.msg;
        let key = (ev.to, ev.from, m.conv);
        let (req, first) = match self.carried.remove(&key) {
            Some(c) => {
                self.answered.insert(key, c);
                (Some(c), true)
            }
            None => match self.answered.get(&key) {
                Some(c) => (Some(*c), false),
                None => (None, true),
            },
        };
        let cred = req.and_then(|c| c.cred);
        let mfa = cred.is_some_and(|c| self.creds[c as usize].0);
        if first {
            let user = self.open.remove(&(ev.to, m.conv)).and_then(|(_, u)| u);
            if Some(ev.to) == self.mrs {
                self.mrs_ctx = req.and_then(|c| c.user).or(user);
            }
        }
        for v in m.header_values(&headers::SET_COOKIE) {
            let pair = v.split(';').next().unwrap_or("").trim();
            if !pair.is_empty() {
                self.cookies.insert(pair.into(), cred);
            }
        }
        if m.carries_mailbox() {
            // Whose data it is: its sender's, or the data its sender received.
            let source = self
                .servers
                .iter()
                .find(|(id, _)| *id == ev.from)
                .map(|(_, name)| *name)
                .or_else(|| self.data_from.get(&ev.from).copied());
            if let Some(source) = source {
                self.data_from.insert(ev.to, source);
            }
            // The safety property counts every copy that crossed the wire.
            self.data_served = true;
            if !mfa {
                self.without_mfa = true;
            }
            if !first {
                // The receiver already had its answer and ignores this one.
                return;
            }
            self.failing = None;
            self.upstream = None;
            self.origins.clear();
            let mut concerned = Vec::new();
            if Some(ev.to) == self.mrs {
                self.mrs_successes.push(t_ms);
                concerned = self.linked(req.and_then(|c| c.user));
                for c in &concerned {
                    if let Some(v) = self.client_mut(*c) {
                        // Fresh data synchronized for it: what it shows is current again.
                        v.failing = None;
                        if mfa {
                            v.with_mfa = true;
                        } else {
                            v.without_mfa = true;
                        }
                    }
                }
                concerned.clear();
            }
            if self.clients.iter().any(|c| c.id == ev.to) {
                concerned.push(ev.to);
            }
            for c in concerned {
                if let Some(v) = self.client_mut(c) {
                    v.failing = None;
                    v.gave_up = None;
                    if mfa {
                        v.with_mfa = true;
                    } else {
                        v.without_mfa = true;
                    }
                    if v.reached_ms.is_none() {
                        v.reached_ms = Some(t_ms);
                        v.served_by = source;
                    }
                }
            }
            return;
        }
        let Some(f) = &m.meta.fault else { return };
        if !first {
            // A duplicated refusal answers a request already completed: its receiver
            // ignores it, and so does the outcome.
            return;
        }
        let (oseq, ot) = self.origin(f, seq, t_ms);
        let failing = Failing {
            seq: oseq,
            t_ms: ot,
            fault: (**f).clone(),
            symptom: f.symptom.as_ref().map(|s| s.to_string()),
        };
        if Some(ev.from) == self.mrs {
            self.mrs_failures += 1;
        }
        if self.clients.iter().any(|c| c.id == ev.to) {
            let root = self.root(&failing);
            if let Some(v) = self.client_mut(ev.to) {
                v.refused(root, false);
            }
        } else if self.upstream.is_none() {
            self.upstream = Some(failing.clone());
        }
        self.global(failing);
    }

    /// Requests the monitor remembers (awaiting an answer, and answered already).
    pub fn tracked(&self) -> usize {
        self.carried.len() + self.answered.len()
    }

    /// Whether every client has reached its mailbox.
    pub fn all_reached(&self) -> bool {
        !self.clients.is_empty() && self.clients.iter().all(|c| c.reached_ms.is_some())
    }
}

impl Observer<Message> for Monitor {
    fn delivered(&mut self, ev: &Delivery<'_, Message>) {
        if let Body::Timer(tag) = ev.msg.body {
            let timeout = tag == hmasim_exchange_online::mrs::TIMEOUT_TIMER
                || tag == hmasim_clients::TIMEOUT_TIMER;
            // The requester gives the request up: it is answered as far as the verdict
            // goes (a late answer is ignored, but any mailbox data in it still counts for
            // the safety flag).
            let abandoned = if timeout {
                self.open.remove(&(ev.to, ev.msg.conv))
            } else {
                None
            };
            if let Some((to, _)) = abandoned {
                let key = (ev.to, to, ev.msg.conv);
                if let Some(c) = self.carried.remove(&key) {
                    self.answered.insert(key, c);
                }
            }
            if Some(ev.to) == self.mrs {
                // A timeout of one of MRS's requests concerns that request's user; the
                // background timer concerns every user.
                self.mrs_ctx = abandoned.and_then(|(_, u)| u);
            }
        }
        if ev.msg.meta.quiet {
            self.quiet += 1;
            return;
        }
        if ev.kind == EventKind::Timer && !self.record {
            self.seq += 1;
            return;
        }
        self.see(ev, false);
    }
    fn dropped(&mut self, ev: &Delivery<'_, Message>) {
        self.see(ev, true);
    }
    fn noted(&mut self, ev: &Delivery<'_, Message>) {
        self.see(ev, false);
    }
    fn should_stop(&self) -> bool {
        self.stop_on_access && self.all_reached()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hmasim_protocol::codec::{ews, ContentType, MailItem};
    use hmasim_protocol::jwt::{self, Claims, SigningKey};
    use hmasim_protocol::{Method, TokenKind, Url};

    const CLIENT: ActorId = ActorId(0);
    const EXCHANGE: ActorId = ActorId(1);
    const RELAY: ActorId = ActorId(2);

    /// A token as Entra ID issues it: the issuer's record and the compact JWT.
    fn token(id: &str, amr: &[&str], key: &SigningKey) -> Token {
        let claims = Claims {
            aud: "https://outlook.office365.com".into(),
            iss: "https://sts.windows.net/t/".into(),
            iat: 0,
            nbf: 0,
            exp: 3600,
            amr: amr.iter().map(|s| s.to_string()).collect(),
            appid: "outlook".into(),
            scp: "user_impersonation".into(),
            tid: "t".into(),
            upn: "test@contoso.com".into(),
            uti: id.into(),
        };
        Token {
            id: id.into(),
            kind: TokenKind::Access,
            issuer: "entra-id",
            client: "outlook-desktop".into(),
            audience: claims.aud.clone(),
            obo_of: None,
            amr: claims.amr.clone(),
            issued_ms: 0,
            expires_ms: 3_600_000,
            jwt: jwt::sign(&claims, key),
            upn: claims.upn.clone(),
        }
    }

    fn key() -> SigningKey {
        SigningKey::derive("entra-id", 0, 1)
    }

    fn deliver(mon: &mut Monitor, t_ms: u64, from: ActorId, to: ActorId, m: &Message) {
        mon.delivered(&Delivery {
            time: SimTime::from_millis(t_ms),
            from,
            to,
            kind: EventKind::Message,
            msg: m,
        });
    }

    /// Entra ID's answer issuing `t` (the monitor learns what was issued from it).
    fn issue(mon: &mut Monitor, t: &Token) {
        let req = Message::request(
            Method::POST,
            Url::https("login.microsoftonline.com", "/token"),
            999,
            "redeem",
        );
        let mut m = Message::response(&req, 200, "tokens");
        m.meta.issued.push(std::sync::Arc::new(t.clone()));
        deliver(mon, 1, ActorId(3), CLIENT, &m);
    }

    fn use_req(conv: u64, bearer: &str) -> Message {
        Message::request(
            Method::POST,
            Url::https("outlook.office365.com", "/mapi"),
            conv,
            "use",
        )
        .header(&headers::AUTHORIZATION, format!("Bearer {bearer}"))
    }

    /// An EWS `FindItem` answer with the user's Inbox.
    fn mailbox(req: &Message) -> Message {
        let items = MailItem::sample("test@contoso.com", 1_767_225_600);
        Message::response(req, 200, "mail").with_encoded(ews::FindItemResponse { items }.encode())
    }

    #[test]
    fn mailbox_data_is_recognised_from_the_bytes_and_served_by_the_sender_or_its_source() {
        let k = key();
        let at = token("AT1", &["pwd", "mfa"], &k);
        let mut mon = monitor().with_servers(vec![(EXCHANGE, "exchange-online")]);
        issue(&mut mon, &at);
        // An empty Inbox and a SOAP fault are no mailbox data, whatever the summary says.
        let req = use_req(1, &at.jwt);
        deliver(&mut mon, 2, CLIENT, EXCHANGE, &req);
        let empty = Message::response(&req, 200, "serves the mailbox")
            .with_encoded(ews::FindItemResponse { items: vec![] }.encode());
        deliver(&mut mon, 3, EXCHANGE, CLIENT, &empty);
        let fault = Message::response(&req, 500, "serves the mailbox").with_encoded(
            hmasim_protocol::codec::Encoded::new(
                ContentType::Xml,
                ews::SoapFault::invalid().encode(),
            ),
        );
        deliver(&mut mon, 3, EXCHANGE, CLIENT, &fault);
        assert!(!mon.data_served && mon.clients[0].reached_ms.is_none());
        // Relayed: the relay's delivery is the server's data.
        let req = use_req(2, &at.jwt);
        deliver(&mut mon, 4, RELAY, EXCHANGE, &req);
        deliver(&mut mon, 5, EXCHANGE, RELAY, &mailbox(&req));
        let req = use_req(3, &at.jwt);
        deliver(&mut mon, 6, CLIENT, RELAY, &req);
        deliver(&mut mon, 7, RELAY, CLIENT, &mailbox(&req));
        assert_eq!(mon.clients[0].served_by, Some("exchange-online"));
        assert!(mon.clients[0].with_mfa && mon.data_served);
    }

    fn refusal(req: &Message) -> Message {
        Message::response(req, 400, "no").with_fault(Fault {
            code: FaultCode::InvalidGrant,
            party: "entra-id",
            message: "the code was redeemed already".into(),
            diagnostics: "AADSTS54005".into(),
            symptom: None,
        })
    }

    fn monitor() -> Monitor {
        Monitor::new(vec![CLIENT], None, false)
    }

    #[test]
    fn mfa_comes_from_the_bearer_jwt_not_from_the_label() {
        let k = key();
        let (with, without) = (
            token("AT1", &["pwd", "mfa"], &k),
            token("AT2", &["pwd"], &k),
        );
        // The label names the MFA token, the wire carries the single-factor one.
        let mut mon = monitor();
        issue(&mut mon, &with);
        issue(&mut mon, &without);
        let req = use_req(1, &without.jwt).carrying("AT1");
        deliver(&mut mon, 2, CLIENT, EXCHANGE, &req);
        deliver(&mut mon, 3, EXCHANGE, CLIENT, &mailbox(&req));
        assert!(mon.without_mfa && mon.clients[0].without_mfa);
        assert!(!mon.clients[0].with_mfa);
        // No label at all, the MFA token on the wire: MFA.
        let mut mon = monitor();
        issue(&mut mon, &with);
        let req = use_req(1, &with.jwt);
        deliver(&mut mon, 2, CLIENT, EXCHANGE, &req);
        deliver(&mut mon, 3, EXCHANGE, CLIENT, &mailbox(&req));
        assert!(!mon.without_mfa && mon.clients[0].with_mfa);
    }

    #[test]
    fn a_forged_jwt_claiming_mfa_is_not_mfa() {
        let k = key();
        let real = token("AT1", &["pwd"], &k);
        // Same claims with `mfa` added, signed with a key of the attacker's.
        let forged = token(
            "AT1",
            &["pwd", "mfa"],
            &SigningKey::derive("attacker", 0, 1),
        );
        let mut mon = monitor();
        issue(&mut mon, &real);
        let req = use_req(1, &forged.jwt).carrying("AT1");
        deliver(&mut mon, 2, CLIENT, EXCHANGE, &req);
        deliver(&mut mon, 3, EXCHANGE, CLIENT, &mailbox(&req));
        assert!(mon.without_mfa, "a JWT no issuer issued carries no MFA");
    }

    #[test]
    fn an_imap_session_is_judged_by_its_xoauth2_token_and_its_fetch_reply() {
        use hmasim_protocol::line::session::{Credential, Decision, LineExchange};
        let k = key();
        let (with, without) = (
            token("AT1", &["pwd", "mfa"], &k),
            token("AT2", &["pwd"], &k),
        );
        let bearer = |t: &Token| Credential::Bearer {
            user: "test@contoso.com".into(),
            token: t.jwt.clone(),
        };
        let fetched = Decision::Accepted {
            message: "Subject: hi\r\n\r\nbody\r\n".into(),
        };
        for (session, mfa) in [
            (LineExchange::imap_authenticate(&bearer(&with)), true),
            (LineExchange::pop_authenticate(&bearer(&with)), true),
            (LineExchange::imap_authenticate(&bearer(&without)), false),
            (LineExchange::imap_login("test@contoso.com", "pw"), false),
            (LineExchange::pop_login("test@contoso.com", "pw"), false),
        ] {
            let mut mon = monitor().with_servers(vec![(EXCHANGE, "exchange-online")]);
            issue(&mut mon, &with);
            issue(&mut mon, &without);
            let url = Url::line(session.protocol(), "outlook.office365.com");
            // The label names the MFA token whatever the session carries: not read.
            let req = Message::line_session(url, 1, session.clone(), "s").carrying("AT1");
            deliver(&mut mon, 2, CLIENT, EXCHANGE, &req);
            // A refused session is no mailbox data.
            let no = session.answer(true, &Decision::Refused);
            let refused = Message::line_answer(&req, no, "no");
            let mut probe = monitor();
            deliver(&mut probe, 2, CLIENT, EXCHANGE, &req);
            deliver(&mut probe, 3, EXCHANGE, CLIENT, &refused);
            assert!(probe.clients[0].reached_ms.is_none());
            let ok = session.answer(true, &fetched);
            deliver(
                &mut mon,
                3,
                EXCHANGE,
                CLIENT,
                &Message::line_answer(&req, ok, "ok"),
            );
            let v = &mon.clients[0];
            assert_eq!((v.with_mfa, v.without_mfa), (mfa, !mfa), "{session:?}");
            assert_eq!(v.served_by, Some("exchange-online"));
        }
    }

    #[test]
    fn basic_and_no_credential_are_not_mfa() {
        for auth in [Some("Basic dGVzdDpwdw=="), Some("Negotiate YIIC"), None] {
            let mut mon = monitor();
            let mut req = Message::request(
                Method::POST,
                Url::https("mail.contoso.com", "/eas"),
                1,
                "basic",
            );
            if let Some(a) = auth {
                req = req.header(&headers::AUTHORIZATION, a);
            }
            deliver(&mut mon, 2, CLIENT, EXCHANGE, &req);
            deliver(&mut mon, 3, EXCHANGE, CLIENT, &mailbox(&req));
            assert!(
                mon.clients[0].without_mfa && !mon.clients[0].with_mfa,
                "{auth:?}"
            );
        }
    }

    #[test]
    fn a_posted_assertion_and_the_session_cookie_it_opens_carry_its_mfa() {
        let k = key();
        let id = token("ID1", &["pwd", "mfa"], &k);
        let mut mon = monitor();
        issue(&mut mon, &id);
        let post = Message::request(
            Method::POST,
            Url::https("outlook.office.com", "/owa/"),
            1,
            "form_post",
        )
        .with_form(hmasim_protocol::Form::new().with("id_token", id.jwt.clone()));
        deliver(&mut mon, 2, CLIENT, EXCHANGE, &post);
        let opened = Message::response(&post, 302, "session").header(
            &headers::SET_COOKIE,
            "OpenIdConnect.token.v1=abc; secure; HttpOnly",
        );
        deliver(&mut mon, 3, EXCHANGE, CLIENT, &opened);
        // The next request carries only the cookie.
        let get = Message::request(
            Method::GET,
            Url::https("outlook.office.com", "/owa/"),
            2,
            "inbox",
        )
        .header(&headers::COOKIE, "OpenIdConnect.token.v1=abc");
        deliver(&mut mon, 4, CLIENT, EXCHANGE, &get);
        deliver(&mut mon, 5, EXCHANGE, CLIENT, &mailbox(&get));
        assert!(mon.clients[0].with_mfa && !mon.without_mfa);
        // A cookie no response set is no credential.
        let other = Message::request(
            Method::GET,
            Url::https("outlook.office.com", "/owa/"),
            3,
            "inbox",
        )
        .header(&headers::COOKIE, "OpenIdConnect.token.v1=made-up");
        deliver(&mut mon, 6, CLIENT, EXCHANGE, &other);
        deliver(&mut mon, 7, EXCHANGE, CLIENT, &mailbox(&other));
        assert!(mon.without_mfa);
    }

    /// Before, the monitor forgot the oldest of more than 4,096 requests awaiting an
    /// answer, and judged the answer to a forgotten one "without MFA".
    #[test]
    fn no_number_of_requests_in_flight_changes_the_verdict() {
        let k = key();
        let at = token("AT1", &["pwd", "mfa"], &k);
        let mut mon = monitor();
        issue(&mut mon, &at);
        let first = use_req(1, &at.jwt);
        deliver(&mut mon, 2, CLIENT, EXCHANGE, &first);
        for conv in 2..10_000 {
            deliver(&mut mon, 3, RELAY, EXCHANGE, &use_req(conv, &at.jwt));
        }
        assert_eq!(mon.tracked(), 9_999);
        deliver(&mut mon, 4, EXCHANGE, CLIENT, &mailbox(&first));
        assert!(!mon.without_mfa && mon.clients[0].with_mfa);
        assert!(mon.clients[0].holds());
    }

    #[test]
    fn a_duplicated_refusal_after_the_success_is_ignored() {
        let k = key();
        let at = token("AT1", &["pwd", "mfa"], &k);
        let mut mon = monitor();
        issue(&mut mon, &at);
        let req = use_req(1, &at.jwt);
        deliver(&mut mon, 2, CLIENT, EXCHANGE, &req);
        // The request was duplicated: the server answered twice, success first.
        deliver(&mut mon, 3, EXCHANGE, CLIENT, &mailbox(&req));
        deliver(&mut mon, 4, EXCHANGE, CLIENT, &refusal(&req));
        assert!(mon.clients[0].holds(), "{:?}", mon.clients[0]);
        assert!(mon.failing.is_none());
        // A refusal answering an open request is the client's.
        let again = use_req(2, &at.jwt);
        deliver(&mut mon, 5, CLIENT, EXCHANGE, &again);
        deliver(&mut mon, 6, EXCHANGE, CLIENT, &refusal(&again));
        let v = &mon.clients[0];
        assert!(!v.holds() && v.reached_ms == Some(3));
        assert_eq!(v.failing.as_ref().map(|f| f.t_ms), Some(6));
    }

    #[test]
    fn an_answer_after_the_requester_timed_out_is_ignored_like_a_duplicate() {
        let k = key();
        let at = token("AT1", &["pwd", "mfa"], &k);
        let mut mon = monitor();
        issue(&mut mon, &at);
        let req = use_req(1, &at.jwt);
        deliver(&mut mon, 2, CLIENT, EXCHANGE, &req);
        // The client's timeout fires first: it gives the request up.
        mon.delivered(&Delivery {
            time: SimTime::from_millis(60_002),
            from: CLIENT,
            to: CLIENT,
            kind: EventKind::Timer,
            msg: &Message::timer_for(hmasim_clients::TIMEOUT_TIMER, 1),
        });
        deliver(&mut mon, 70_000, EXCHANGE, CLIENT, &mailbox(&req));
        assert!(mon.clients[0].reached_ms.is_none(), "the client ignored it");
        assert!(
            mon.data_served && !mon.without_mfa,
            "it still crossed the wire"
        );
        assert_eq!(mon.quiet, 1);
    }

    #[test]
    fn a_refusal_answered_to_one_client_is_not_anothers() {
        let other = ActorId(4);
        let mut mon = Monitor::new(vec![CLIENT, other], None, false);
        let a = Message::request(
            Method::POST,
            Url::https("mail.contoso.com", "/eas"),
            1,
            "basic",
        );
        deliver(&mut mon, 1, CLIENT, EXCHANGE, &a);
        deliver(&mut mon, 2, EXCHANGE, CLIENT, &mailbox(&a));
        let b = Message::request(
            Method::POST,
            Url::https("mail.contoso.com", "/eas"),
            1,
            "basic",
        );
        deliver(&mut mon, 3, other, EXCHANGE, &b);
        deliver(&mut mon, 4, EXCHANGE, other, &refusal(&b));
        assert!(mon.clients[0].holds());
        assert!(mon.clients[1].reached_ms.is_none() && mon.clients[1].failing.is_some());
    }
}
