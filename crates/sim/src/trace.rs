//! The result of a run: events, tokens and outcome, and their renderings (contract JSON,
//! trainer text, Mermaid sequence diagram).

use hmasim_protocol::headers;
use std::fmt::Write as _;

use hmasim_protocol::display::{escape_control, header_value};
use hmasim_protocol::{Body, FaultCode, FlowId, Kind, Message, Token};
use serde::Serialize;
use serde_json::{json, Value};

use crate::monitor::Event;

/// Version tag of the JSON trace format.
pub const FORMAT: &str = "hmasim-trace/1";

/// A refusal in the outcome (contract `failure`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Failure {
    /// Stable code (serialized as its snake_case string).
    pub code: FaultCode,
    /// Who refused.
    pub party: String,
    /// A human sentence.
    pub message: String,
    /// What a real admin would see.
    pub diagnostics: String,
}

/// How MRS's background synchronization fared (the MRS path only).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SyncStats {
    /// Simulated ms of the last successful sync.
    pub last_success_ms: Option<u64>,
    /// The longest window without a successful sync, up to the end of the run.
    pub longest_gap_ms: u64,
    /// Failed sync attempts.
    pub failed: u64,
}

/// What went wrong, why, and what fixes it: for the admin.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Diagnosis {
    /// The configuration or timeline cause.
    pub cause: String,
    /// The `seq` of the message where it went wrong.
    pub event: u64,
    /// The command or setting that fixes it.
    pub fix: String,
}

/// When and why a client lost access it had, or what stopped a client that never had it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Lost {
    /// Simulated ms of the refusal.
    pub t_ms: u64,
    /// The refusal's stable code.
    pub code: FaultCode,
    /// Why, in words (the refusing party's sentence).
    pub why: String,
}

/// The verdict for one acting client (contract `outcome.clients[]`). `docs/outcome.md`
/// defines each field.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ClientOutcome {
    /// The client's party id.
    pub client: String,
    /// Its user's UPN.
    pub user: String,
    /// Mailbox data reached it.
    pub reached: bool,
    /// Mailbox data reached it (or MRS synchronized it for it) on a credential with MFA.
    pub reached_with_mfa: bool,
    /// Mailbox data reached it (or MRS synchronized it for it) on a credential without
    /// MFA, or on no credential at all.
    pub reached_without_mfa: bool,
    /// Data reached it and nothing that concerns it is broken at the end of the run.
    pub holds_at_end: bool,
    /// The access it had and lost: `null` while it holds, or when it never had access.
    pub lost: Option<Lost>,
    /// What stopped it when data never reached it (additive to the contract).
    pub stopped: Option<Lost>,
    /// Whose data first reached it (not rendered: the verdict line names it for the
    /// first client).
    #[serde(skip)]
    pub served_by: Option<String>,
}

impl ClientOutcome {
    /// The verdict in words: "reached with MFA; holds at the end", "reached with MFA;
    /// lost at +15d 00:00:00.397 because ...", "no mailbox data: stopped at ... by ...".
    pub fn words(&self) -> String {
        let at = |t: u64| hmasim_kernel::SimTime::from_millis(t);
        if !self.reached {
            return match &self.stopped {
                Some(s) => format!(
                    "no mailbox data; stopped at {} by {}: {}",
                    at(s.t_ms),
                    s.code,
                    s.why
                ),
                None => "no mailbox data (nothing refused it: the run ended first)".into(),
            };
        }
        let how = match (self.reached_with_mfa, self.reached_without_mfa) {
            (true, false) => "reached with MFA",
            (false, _) => "reached WITHOUT MFA",
            (true, true) => "reached with MFA and also WITHOUT MFA",
        };
        match &self.lost {
            Some(l) => format!(
                "{how}; lost at {} because {} ({})",
                at(l.t_ms),
                l.why,
                l.code
            ),
            None => format!("{how}; holds at the end"),
        }
    }
}

/// How the run ended (contract `outcome`). The top-level fields are the first acting
/// client's verdict; `clients` has every acting client's.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Outcome {
    /// Mailbox data was served to any party (client, relay or MRS) against a credential
    /// without MFA at some point of the run (the safety property; not rendered, traces
    /// keep their format).
    #[serde(skip)]
    pub data_without_mfa: bool,
    /// The user's data reached the first acting client (even if it lost access later:
    /// see `clients[].holds_at_end`).
    pub mailbox_access: bool,
    /// Mailbox data reached the first acting client, and every credential on which
    /// mailbox data reached it rested on MFA.
    pub mfa_satisfied: bool,
    /// Whose data reached the first acting client.
    pub served_by: Option<String>,
    /// The refusal that stopped the user, if any.
    pub failure: Option<Failure>,
    /// What the user sees, if something went wrong.
    pub symptom: Option<String>,
    /// MRS background synchronization (null off the MRS path).
    pub sync: Option<SyncStats>,
    /// The admin's diagnosis when something went wrong.
    pub diagnosis: Option<Diagnosis>,
    /// One verdict per acting client, in the scenario's order.
    pub clients: Vec<ClientOutcome>,
}

/// A whole run.
#[derive(Clone, Debug)]
pub struct Trace {
    /// Scenario name.
    pub scenario: String,
    /// One-line summary of the scenario.
    pub summary: String,
    /// The seed used.
    pub seed: u64,
    /// `federated`, `phs` or `pta`.
    pub identity_model: &'static str,
    /// The documented flow steps are numbered against.
    pub flow: Option<FlowId>,
    /// Party names by actor index.
    pub names: Vec<String>,
    /// Every event, in delivery order.
    pub events: Vec<Event>,
    /// Every token issued.
    pub tokens: Vec<Token>,
    /// The outcome.
    pub outcome: Outcome,
    /// Events processed and why the run stopped.
    pub stats: String,
    /// The command line that reproduces the run, when the caller knows it (the CLI sets
    /// it with the scenario argument and every override); otherwise one is derived from
    /// the scenario's name, seed and identity model.
    pub reproduce: Option<String>,
}

impl Trace {
    /// The documented step an event realizes.
    pub fn step(&self, m: &Message) -> Option<(&'static str, u8)> {
        let flow = self.flow?;
        let n = flow.step_of(m.meta.stage?)?;
        Some((flow.name(), n))
    }

    fn kind(e: &Event) -> &'static str {
        if e.dropped {
            "dropped"
        } else {
            e.msg.kind.as_str()
        }
    }

    /// The contract's JSON trace, pretty-printed, with a final newline.
    pub fn to_json(&self) -> String {
        let events: Vec<Value> = self
            .events
            .iter()
            .map(|e| {
                let m = &e.msg;
                json!({
                    "seq": e.seq,
                    "t_ms": e.t_ms,
                    "from": self.names[e.from.0 as usize],
                    "to": self.names[e.to.0 as usize],
                    "kind": Self::kind(e),
                    "method": m.method.as_ref().map(|x| x.as_str()),
                    "url": m.url.as_ref().map(|u| u.to_string()),
                    "status": m.status.map(|s| s.as_u16()),
                    "headers": m.headers.iter().map(|(k, v)| json!([headers::display_name(k), header_value(k, v)])).collect::<Vec<_>>(),
                    "content_type": match m.line.as_deref() {
                        // An IMAP or POP session: its lines, masked by the protocol's Masker.
                        Some(l) => Some(l.protocol().content_type()),
                        None => m.content_type().map(|c| c.media_type()),
                    },
                    "body": match m.line.as_deref() {
                        Some(l) => json!(l.masked_lines()),
                        None => m.body.to_json(),
                    },
                    "token": m.meta.token,
                    "step": self.step(m).map(|(flow, n)| json!({"flow": flow, "n": n})),
                    "summary": m.meta.summary,
                })
            })
            .collect();
        let doc = json!({
            "format": FORMAT,
            "scenario": self.scenario,
            "seed": self.seed,
            "identity_model": self.identity_model,
            "events": events,
            "tokens": self.tokens,
            "outcome": self.outcome,
        });
        let mut s = serde_json::to_string_pretty(&doc).expect("plain JSON values serialize");
        s.push('\n');
        s
    }

    /// The essential line of an event: what a trainer points at.
    fn essential(&self, m: &Message) -> Vec<String> {
        let mut out = Vec::new();
        match (m.kind, m.line.as_deref()) {
            // An IMAP or POP session: where it goes, then its lines (masked).
            (Kind::Request, Some(l)) => {
                let url = m.url.as_ref().map(|u| u.to_string()).unwrap_or_default();
                out.push(format!("{url} (port {})", l.protocol().port()));
                out.extend(l.masked_lines().into_iter().map(|x| format!("C: {x}")));
            }
            (Kind::Response, Some(l)) => {
                out.extend(l.masked_lines().into_iter().map(|x| format!("S: {x}")));
            }
            (Kind::Request, None) => {
                let url = m.url.as_ref().map(|u| u.to_string()).unwrap_or_default();
                out.push(format!(
                    "{} {url}",
                    m.method.as_ref().map(|x| x.as_str()).unwrap_or("")
                ));
                if let Some(t) = &m.meta.token {
                    out.push(format!("carries {t}"));
                } else if let Some(a) = m.header_value(&headers::AUTHORIZATION) {
                    let masked = header_value(&headers::AUTHORIZATION, a);
                    let shown = if matches!(masked, std::borrow::Cow::Borrowed(_))
                        && a.chars().count() > 40
                    {
                        format!("{}...", a.chars().take(24).collect::<String>())
                    } else {
                        masked.into_owned()
                    };
                    out.push(format!("Authorization: {shown}"));
                }
            }
            (Kind::Redirect, _) => out.push(format!(
                "302 -> {}",
                m.url.as_ref().map(|u| u.to_string()).unwrap_or_default()
            )),
            (Kind::Response, None) => {
                out.push(format!("{}", m.status_number()));
                for (k, v) in &m.headers {
                    if *k == headers::WWW_AUTHENTICATE || *k == headers::X_MS_DIAGNOSTICS {
                        out.push(format!("{}: {v}", headers::display_name(k)));
                    }
                }
            }
            (Kind::Timer | Kind::Note, _) => {}
        }
        for t in &m.meta.issued {
            out.push(format!(
                "issues {} ({}): client {}, aud {}, amr [{}]{}",
                t.id,
                kind_name(t),
                t.client,
                t.audience,
                t.amr.join(","),
                t.obo_of
                    .as_ref()
                    .map(|p| format!(", on behalf of {p}"))
                    .unwrap_or_default()
            ));
        }
        match m.body.digest() {
            None | Some(Value::Null) => {}
            Some(Value::Array(lines)) => out.extend(
                lines
                    .iter()
                    .filter_map(|l| l.as_str().map(|s| format!("- {s}"))),
            ),
            Some(v) if m.meta.issued.is_empty() => out.push(v.to_string()),
            Some(_) => {}
        }
        if let Some(f) = &m.meta.fault {
            out.push(format!("! {}: {}", f.code, f.message));
        }
        // Every value can come from input (names, UPNs, policy names): one line each, no
        // control character reaches the terminal.
        out.into_iter()
            .map(|l| escape_control(&l).into_owned())
            .collect()
    }

    /// The trainer's view: numbered steps with time, parties, essentials and step numbers,
    /// then the tokens and the verdict.
    pub fn to_text(&self) -> String {
        let mut s = String::new();
        let flow = self
            .flow
            .map(|f| format!(", flow {} ({})", f.name(), f.source()))
            .unwrap_or_default();
        let _ = writeln!(
            s,
            "hmasim {}: {}",
            escape_control(&self.scenario),
            escape_control(&self.summary)
        );
        let _ = writeln!(
            s,
            "seed {}, identity model {}{flow}",
            self.seed, self.identity_model
        );
        match &self.reproduce {
            Some(r) => {
                let _ = writeln!(s, "reproduce: {}", escape_control(r));
            }
            None => {
                let _ = writeln!(
                    s,
                    "reproduce: hmasim run {} --seed {} --set identity.model={}",
                    escape_control(&self.scenario),
                    self.seed,
                    self.identity_model
                );
            }
        }
        s.push('\n');
        for e in &self.events {
            let m = &e.msg;
            let step = self
                .step(m)
                .map(|(_, n)| format!("[step {n}]"))
                .unwrap_or_default();
            let from = escape_control(&self.names[e.from.0 as usize]);
            let to = escape_control(&self.names[e.to.0 as usize]);
            let arrow = if e.from == e.to {
                from.into_owned()
            } else {
                format!("{from} -> {to}")
            };
            let time = hmasim_kernel::SimTime::from_millis(e.t_ms);
            let head = format!("{:>4}  {time}  {:<8} {arrow} {step}", e.seq, Self::kind(e));
            let _ = writeln!(s, "{}", head.trim_end());
            let _ = writeln!(s, "      {}", escape_control(&m.meta.summary));
            for line in self.essential(m) {
                let _ = writeln!(s, "        {line}");
            }
        }
        s.push('\n');
        if !self.tokens.is_empty() {
            let _ = writeln!(s, "tokens:");
            for t in &self.tokens {
                let _ = writeln!(
                    s,
                    "  {:<6} {:<7} issuer {}, client {}, aud {}, amr [{}], {} -> {}{}",
                    t.id,
                    kind_name(t),
                    escape_control(t.issuer),
                    escape_control(&t.client),
                    escape_control(&t.audience),
                    t.amr.join(","),
                    hmasim_kernel::SimTime::from_millis(t.issued_ms),
                    hmasim_kernel::SimTime::from_millis(t.expires_ms),
                    t.obo_of
                        .as_ref()
                        .map(|p| format!(", on behalf of {p}"))
                        .unwrap_or_default()
                );
            }
            s.push('\n');
        }
        let o = &self.outcome;
        let first = o.clients.first();
        let lost = first
            .and_then(|c| c.lost.as_ref())
            .map(|l| format!(", lost at {}", hmasim_kernel::SimTime::from_millis(l.t_ms)))
            .unwrap_or_default();
        let _ = writeln!(
            s,
            "VERDICT: mailbox access {}; MFA {}",
            if o.mailbox_access {
                format!(
                    "YES{}{lost}",
                    o.served_by
                        .as_ref()
                        .map(|p| format!(" (served by {p})"))
                        .unwrap_or_default()
                )
            } else {
                "NO".to_string()
            },
            if o.mfa_satisfied {
                "satisfied"
            } else if o.mailbox_access {
                "NOT satisfied: mailbox data reached the client without MFA"
            } else {
                "not applicable (no mailbox data)"
            }
        );
        for c in &o.clients {
            let _ = writeln!(s, "  {} ({}): {}", c.client, c.user, c.words());
        }
        if o.data_without_mfa && !o.clients.iter().any(|c| c.reached_without_mfa) {
            let _ = writeln!(
                s,
                "  MFA NOT satisfied elsewhere: mailbox data was served without MFA to a party other than the acting clients"
            );
        }
        if let Some(f) = &o.failure {
            let _ = writeln!(s, "failure: {} at {}: {}", f.code, f.party, f.message);
            let _ = writeln!(s, "diagnostics: {}", f.diagnostics);
        }
        if let Some(sym) = &o.symptom {
            let _ = writeln!(s, "the user sees: {sym}");
        }
        if let Some(sync) = &o.sync {
            let last = sync
                .last_success_ms
                .map(|t| hmasim_kernel::SimTime::from_millis(t).to_string())
                .unwrap_or_else(|| "never".into());
            let gap = hmasim_kernel::SimDuration::from_millis(sync.longest_gap_ms);
            let _ = writeln!(
                s,
                "MRS sync: last success {last}, longest gap {}, failed attempts {}",
                fmt_span(gap),
                sync.failed
            );
        }
        if let Some(d) = &o.diagnosis {
            let _ = writeln!(s, "\nDIAGNOSIS");
            let _ = writeln!(
                s,
                "  symptom: {}",
                o.symptom
                    .as_deref()
                    .unwrap_or("(none reported by the client)")
            );
            let at = self.events.iter().find(|e| e.seq == d.event);
            match at {
                Some(e) => {
                    let _ = writeln!(
                        s,
                        "  went wrong at: event {} ({} -> {}): {}",
                        d.event,
                        self.names[e.from.0 as usize],
                        self.names[e.to.0 as usize],
                        e.msg.meta.summary
                    );
                }
                None => {
                    let _ = writeln!(s, "  went wrong at: event {}", d.event);
                }
            }
            let _ = writeln!(s, "  cause: {}", d.cause);
            let _ = writeln!(s, "  fix: {}", d.fix);
        }
        let _ = writeln!(s, "({})", self.stats);
        s
    }

    /// A Mermaid sequence diagram (renders on GitHub inside a ```mermaid block).
    ///
    /// Every participant gets an id of its own, `p<index>_<ASCII letters of the name>`,
    /// which no Mermaid keyword, punctuation or empty name can break and no two parties
    /// share; the name as given is the participant's alias. Labels and aliases keep their
    /// punctuation as Mermaid entity codes (`#59;` for `;`), so every diagram parses.
    pub fn to_mermaid(&self) -> String {
        let mut s = String::from("sequenceDiagram\n");
        let mut seen: Vec<usize> = Vec::new();
        for e in &self.events {
            for a in [e.from.0 as usize, e.to.0 as usize] {
                if !seen.contains(&a) {
                    seen.push(a);
                }
            }
        }
        let mut ids = vec![String::new(); self.names.len()];
        for (i, a) in seen.iter().enumerate() {
            ids[*a] = mermaid_id(i, &self.names[*a]);
            let _ = writeln!(
                s,
                "    participant {} as {}",
                ids[*a],
                mermaid_text(&self.names[*a])
            );
        }
        for e in &self.events {
            let m = &e.msg;
            let from = &ids[e.from.0 as usize];
            let to = &ids[e.to.0 as usize];
            let step = self
                .step(m)
                .map(|(_, n)| format!("[{n}] "))
                .unwrap_or_default();
            let label = match (m.kind, m.line.as_deref()) {
                // An IMAP or POP session reads as what it does: `IMAP LOGIN as u@...`,
                // `a1 NO LOGIN failed.`
                (Kind::Request | Kind::Response, Some(l)) => format!("{step}{}", l.describe()),
                (Kind::Request, None) => {
                    let u = m
                        .url
                        .as_ref()
                        .map(|u| format!("{}{}", u.host, u.path))
                        .unwrap_or_default();
                    format!(
                        "{step}{} {u}{}",
                        m.method.as_ref().map(|x| x.as_str()).unwrap_or(""),
                        m.meta
                            .token
                            .as_ref()
                            .map(|t| format!(" ({t})"))
                            .unwrap_or_default()
                    )
                }
                (Kind::Redirect, _) => format!(
                    "{step}302 to {}",
                    m.url.as_ref().map(|u| u.host.clone()).unwrap_or_default()
                ),
                (Kind::Response, None) => {
                    let status = m.status_number();
                    let issued: Vec<&str> = m.meta.issued.iter().map(|t| t.id.as_str()).collect();
                    let extra = if issued.is_empty() {
                        String::new()
                    } else {
                        format!(" {}", issued.join("+"))
                    };
                    format!(
                        "{step}{status}{extra} {}",
                        without_status(&m.meta.summary, status)
                    )
                }
                (Kind::Timer | Kind::Note, _) => format!("{step}{}", m.meta.summary),
            };
            let mut label = mermaid_text(&label);
            // A note shows its detail lines (the policies evaluated, the change made).
            if matches!(m.kind, Kind::Note) || e.from == e.to {
                if let Body::Lines(lines) = &m.body {
                    for l in lines {
                        label.push_str("<br/>");
                        label.push_str(&mermaid_text(l));
                    }
                }
            }
            if e.dropped {
                let _ = writeln!(s, "    {from}-x{to}: dropped: {label}");
            } else if e.from == e.to {
                let _ = writeln!(s, "    Note over {from}: {label}");
            } else if m.kind == Kind::Request {
                let _ = writeln!(s, "    {from}->>{to}: {label}");
            } else {
                let _ = writeln!(s, "    {from}-->>{to}: {label}");
            }
        }
        s
    }
}

fn fmt_span(d: hmasim_kernel::SimDuration) -> String {
    let ms = d.as_millis();
    let (h, m, s) = (ms / 3_600_000, ms % 3_600_000 / 60_000, ms % 60_000 / 1000);
    if h >= 24 {
        format!("{}d {:02}h{:02}m", h / 24, h % 24, m)
    } else {
        format!("{h}h{m:02}m{s:02}s")
    }
}

fn kind_name(t: &Token) -> &'static str {
    match t.kind {
        hmasim_protocol::TokenKind::Access => "access",
        hmasim_protocol::TokenKind::Refresh => "refresh",
        hmasim_protocol::TokenKind::Id => "id",
        hmasim_protocol::TokenKind::Saml => "saml",
    }
}

/// The summary of a response without the status it may start with (`401: authenticate`),
/// so a label that prints the status prints it once.
fn without_status(summary: &str, status: u16) -> &str {
    let code = status.to_string();
    match summary.strip_prefix(code.as_str()) {
        Some(rest) if !rest.starts_with(|c: char| c.is_ascii_alphanumeric()) => {
            rest.trim_start_matches([':', ' ', '-'])
        }
        _ => summary,
    }
}

/// The id of the `index`-th participant: `p<index>`, then `_` and the ASCII letters and
/// digits of its name (at most 32), for a reader of the source. The index makes it unique
/// (two names that differ only in punctuation never share a lifeline) and the leading `p`
/// and digit keep it from ever being a Mermaid keyword (`end`, `alt`, `Note`...).
fn mermaid_id(index: usize, name: &str) -> String {
    let readable: String = name
        .chars()
        .filter_map(|c| match c {
            c if c.is_ascii_alphanumeric() => Some(c),
            '-' | '_' | '.' | ' ' => Some('_'),
            _ => None,
        })
        .take(32)
        .collect();
    let readable = readable.trim_matches('_');
    if readable.is_empty() {
        format!("p{index}")
    } else {
        format!("p{index}_{readable}")
    }
}

/// Text for a Mermaid label or alias: the characters Mermaid reads as syntax (`;` ends a
/// statement, `#` starts an entity, `%` a directive, `<` `>` HTML, `"`) become entity codes
/// (`#59;`), which Mermaid shows as the character; control characters are escaped as in
/// the text view (`\u{1b}`); an empty text becomes `-`.
fn mermaid_text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in escape_control(s).chars() {
        match c {
            ';' | '#' | '%' | '"' | '<' | '>' | '&' | '`' => {
                let _ = write!(out, "#{};", c as u32);
            }
            c => out.push(c),
        }
    }
    let trimmed = out.trim();
    if trimmed.is_empty() {
        return "-".into();
    }
    // `wrap:` or `nowrap:` at the start of a label is a Mermaid directive, not text.
    let lower = trimmed.to_ascii_lowercase();
    if lower.starts_with("wrap:") || lower.starts_with("nowrap:") {
        return trimmed.replacen(':', "#58;", 1);
    }
    trimmed.to_string()
}
