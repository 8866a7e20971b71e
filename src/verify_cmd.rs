//! `hmasim verify`: explore every path to mailbox content, over every signal a password
//! holder controls and every configuration epoch, and report the single-factor ones.

use std::fmt::Write as _;
use std::path::PathBuf;

use serde_json::{json, Value};

use crate::cli::{check_output, load, write_atomic, CliError, Format};
use crate::scenario::{accept, Date, ErrorOrigin, ScenarioError};
use crate::sim::findings::{self, Report};
use crate::sim::verify::{self, Counterexample, Explored, Overall, PathSpec, Verification};
use crate::term::escape_control as esc;

/// The JSON format name of verify's report.
pub const FORMAT: &str = "hmasim-verify/2";

/// Arguments of `hmasim verify`.
#[derive(clap::Args, Debug)]
pub struct VerifyArgs {
    /// A scenario file or the name of a bundled scenario.
    pub scenario: String,
    /// The seed (default: the scenario's, or 1).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Output format (text or json).
    #[arg(long, value_enum, default_value = "text")]
    pub format: Format,
    /// Override a field by its dotted path (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub set: Vec<String>,
    /// Replace the scenario's Conditional Access policies with Graph JSON.
    #[arg(long = "ca-policies", value_name = "PATH")]
    pub ca_policies: Option<PathBuf>,
    /// Replace the scenario's named locations with Graph namedLocation JSON (applied
    /// before --ca-policies, whose location ids it resolves).
    #[arg(long = "named-locations", value_name = "PATH")]
    pub named_locations: Option<PathBuf>,
    /// Explore only this user (UPN).
    #[arg(long, value_name = "UPN")]
    pub user: Option<String>,
    /// Write the explored graph as Graphviz to this file.
    #[arg(long, value_name = "FILE")]
    pub dot: Option<PathBuf>,
    /// Write the report to this file instead of the standard output.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Accepted exceptions (TOML `[[accept]]` entries): matching findings are reported
    /// apart as ACCEPTED and do not fail the run.
    #[arg(long, value_name = "FILE")]
    pub accept: Option<PathBuf>,
    /// The day exceptions' expiry is judged on, YYYY-MM-DD (default: the scenario's
    /// `verify.today`, else the system's date).
    #[arg(long, value_name = "YYYY-MM-DD")]
    pub today: Option<String>,
}

/// The system's date (UTC): only the CLI reads the clock, only for `--accept`'s expiry.
fn system_date() -> Date {
    #[allow(clippy::disallowed_methods)]
    // the calendar day exceptions are judged on, outside the simulation
    let now = std::time::SystemTime::now();
    let secs = now
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    Date::from_unix_days((secs / 86_400) as i64)
}

/// Runs verify; `Ok(true)` when the result is not clean (a single-factor path, or
/// something unmodelled that could decide one).
pub fn run(a: VerifyArgs) -> Result<bool, CliError> {
    if a.format == Format::Mermaid {
        return Err(CliError::Output(
            "verify --format takes text or json (mermaid is for run)".into(),
        ));
    }
    for path in [&a.dot, &a.out].into_iter().flatten() {
        check_output(path)?;
    }
    let today_arg = a
        .today
        .as_deref()
        .map(|t| {
            Date::parse(t).map_err(|e| {
                CliError::Scenario(
                    ScenarioError::new(ErrorOrigin::Argument(format!("--today {t}")), e)
                        .expected("a date YYYY-MM-DD"),
                )
            })
        })
        .transpose()?;
    // The exceptions are read, and refused, before anything is explored.
    let exceptions = match &a.accept {
        Some(path) => accept::read_accept(path).map_err(CliError::Scenario)?,
        None => Vec::new(),
    };
    let mut sc = load(&a.scenario, a.seed, &a.set).map_err(CliError::Scenario)?;
    crate::whatif::prepare_locations(&mut sc, a.named_locations.as_deref())
        .map_err(CliError::Scenario)?;
    crate::whatif::prepare_policies(&mut sc, a.ca_policies.as_deref())
        .map_err(CliError::Scenario)?;
    // Only exceptions need a day; without them none is read.
    let today = today_arg
        .or(sc.verify.today)
        .or_else(|| (!exceptions.is_empty()).then(system_date));
    if let Some(upn) = &a.user {
        if sc.user(upn).is_none() {
            let known: Vec<&str> = sc.users.iter().map(|u| u.upn.as_str()).collect();
            return Err(CliError::Output(format!(
                "--user {}: no such user in scenario '{}' (expected one of: {})",
                esc(upn),
                esc(&sc.name),
                esc(&known.join(", "))
            )));
        }
    }
    #[allow(clippy::disallowed_methods)]
    // how long verify took, for the user; not in the simulation
    let started = std::time::Instant::now();
    let v = verify::verify_with(
        &sc,
        &verify::Options {
            user: a.user.clone(),
            ..verify::Options::default()
        },
    );
    let elapsed = started.elapsed();
    crate::term::eprint_line(&format!(
        "verify: explored {} paths in {} user classes ({} combinations pruned, {} events) in {:.1} ms",
        v.explored.paths,
        v.explored.classes,
        v.explored.pruned,
        v.events,
        elapsed.as_secs_f64() * 1e3
    ));
    if let Some(dot) = &a.dot {
        write_atomic(dot, &verify::to_dot(&v))?;
    }
    let report = findings::report(&sc, &v, &exceptions, today);
    let out = match a.format {
        Format::Json => {
            let mut s =
                serde_json::to_string_pretty(&to_json(&sc, &v, &report)).expect("plain JSON");
            s.push('\n');
            s
        }
        _ => to_text(&sc.name, sc.identity.model.as_str(), &v, &report),
    };
    match &a.out {
        Some(path) => write_atomic(path, &out)?,
        None => crate::term::print(&out),
    }
    Ok(report.fails())
}

/// A path as JSON: who, what, how, and every pinned signal.
pub fn path_json(p: &PathSpec) -> Value {
    json!({
        "user": p.user,
        "client": p.client,
        "location": p.location,
        "method": p.method,
        "continued": p.continued,
        "signals": {
            "user_agent": p.signals.user_agent,
            "platform": p.signals.platform,
            "source_address": p.signals.source_address.map(|a| a.to_string()),
            "address": p.signals.address.to_string(),
            "locations": p.signals.locations,
            "client_app_type": p.signals.client_app,
            "device_type": p.signals.device_type,
            "device_model": p.signals.device_model,
            "mfa_registered": p.signals.mfa_registered,
            "registers_device": p.signals.registers_device,
            "device_name": p.signals.device_name,
        },
    })
}

/// A path's JSON with its risk levels, when verify explored risk (additive: a path
/// without risk conditions in the tenant has no `risk` key).
fn with_risk(p: &PathSpec, mut v: Value) -> Value {
    if let (Some(r), Some(sig)) = (
        p.signals.risk,
        v.get_mut("signals").and_then(Value::as_object_mut),
    ) {
        sig.insert(
            "risk".into(),
            json!({
                "sign_in": r.sign_in.as_str(),
                "user": r.user.as_str(),
                "insider": r.insider.as_str(),
            }),
        );
    }
    v
}

/// The coverage table as JSON: one entry per enforced or report-only policy, totals,
/// and the groups and roles no user holds.
pub fn coverage_json(c: &verify::Coverage) -> Value {
    json!({
        "policies": c.policies.iter().map(|p| json!({
            "name": p.name,
            "state": p.state,
            "evaluated": p.evaluated.as_str(),
            "fields": p.fields,
        })).collect::<Vec<_>>(),
        "totals": {
            "policies": c.policies.len(),
            "fully": c.count(verify::Evaluated::Fully),
            "partly": c.count(verify::Evaluated::Partly),
            "not_at_all": c.count(verify::Evaluated::NotAtAll),
            "disabled": c.disabled,
        },
        "unheld": c.unheld,
    })
}

/// The coverage table as text.
fn coverage_text(c: &verify::Coverage) -> String {
    let mut s = String::new();
    if c.policies.is_empty() && c.disabled == 0 {
        return s;
    }
    let _ = writeln!(s, "coverage: {}", c.totals_line());
    for p in &c.policies {
        let state = if p.state == "enabled" {
            String::new()
        } else {
            " [report-only]".to_string()
        };
        let what = match p.evaluated {
            verify::Evaluated::Fully => "evaluated fully".to_string(),
            verify::Evaluated::Partly => {
                format!("evaluated partly (not evaluated: {})", p.fields.join(", "))
            }
            verify::Evaluated::NotAtAll => format!(
                "NOT evaluated at all (not evaluated: {})",
                p.fields.join(", ")
            ),
        };
        let _ = writeln!(s, "  {}{state}: {}", esc(&p.name), esc(&what));
    }
    // One line per group or role, however many policies name it (a baseline names its
    // break-glass group in every policy); the JSON keeps one entry per policy.
    let mut unheld: Vec<((&str, &str), Vec<&str>)> = Vec::new();
    for u in &c.unheld {
        let key = (u.kind, u.id.as_str());
        match unheld.iter_mut().find(|(k, _)| *k == key) {
            Some((_, policies)) => policies.push(&u.policy),
            None => unheld.push((key, vec![&u.policy])),
        }
    }
    for ((kind, id), policies) in &unheld {
        const SHOWN: usize = 2;
        let mut named: Vec<String> = policies
            .iter()
            .take(SHOWN)
            .map(|p| esc(p).into_owned())
            .collect();
        if policies.len() > SHOWN {
            named.push(format!("{} more", policies.len() - SHOWN));
        }
        let _ = writeln!(
            s,
            "  note: {kind} {} is held by none of the scenario's users; named by {} ({})",
            esc(id),
            match policies.len() {
                1 => "1 policy".to_string(),
                n => format!("{n} policies"),
            },
            named.join(", ")
        );
    }
    s.push('\n');
    s
}

fn explored_json(e: &Explored) -> Value {
    let mut v = with_risk(&e.path, path_json(&e.path));
    let m = v.as_object_mut().expect("an object");
    m.insert("epoch".into(), json!(e.epoch));
    m.insert("verdict".into(), json!(e.verdict));
    m.insert("stopped_by".into(), json!(e.stopped_by));
    m.insert("holds_at_end".into(), json!(e.holds_at_end));
    m.insert("not_proven".into(), json!(e.not_proven));
    v
}

fn counterexample_json(c: &Counterexample) -> Value {
    let mut v = with_risk(&c.path, path_json(&c.path));
    let m = v.as_object_mut().expect("an object");
    if let Some(r) = c.closed_at_risk {
        m.insert("closed_at_risk".into(), json!(r.describe()));
    }
    m.insert("epoch".into(), json!(c.epoch));
    m.insert("verdict".into(), json!(c.verdict));
    m.insert(
        "trace".into(),
        serde_json::from_str::<Value>(&c.trace.to_json()).expect("the trace is JSON"),
    );
    v
}

/// The `hmasim-verify/2` document.
pub fn to_json(sc: &crate::scenario::Scenario, v: &Verification, report: &Report) -> Value {
    let mut doc = json!({
        "format": FORMAT,
        "scenario": sc.name,
        "service_date": Value::Null,
        "identity_model": sc.identity.model.as_str(),
        "scope": v.scope,
        "verdict": report.verdict.as_str(),
        "epochs": v.epochs.iter().enumerate().map(|(i, e)| json!({
            "from_ms": e.from_ms,
            "to_ms": e.to_ms,
            "cause": e.cause,
            "paths": v.paths.iter().filter(|p| p.epoch == i).map(explored_json).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
        "transitions": v.transitions.iter().map(|t| {
            let mut p = path_json(&t.path);
            let m = p.as_object_mut().expect("an object");
            m.insert("at_ms".into(), json!(t.at_ms));
            m.insert("before".into(), json!(t.before));
            m.insert("after".into(), json!(t.after));
            p
        }).collect::<Vec<_>>(),
        "not_proven": v.not_proven,
        "coverage": coverage_json(&v.coverage),
        "user_classes": v.user_classes,
        "explored": {
            "paths": v.explored.paths,
            "classes": v.explored.classes,
            "pruned": v.explored.pruned,
            "events": v.events,
        },
    });
    if let Value::Object(m) = &mut doc {
        m.extend(report.to_json(v, counterexample_json));
    }
    doc
}

fn signals_text(p: &PathSpec) -> String {
    let s = &p.signals;
    let mut out = format!("platform {}, from {}", s.platform, s.address);
    if !s.locations.is_empty() {
        let _ = write!(out, " ({})", s.locations.join(", "));
    }
    if let Some(ua) = &s.user_agent {
        let _ = write!(out, ", User-Agent \"{ua}\"");
    }
    if s.device_type.is_some() || s.device_model.is_some() {
        let _ = write!(
            out,
            ", DeviceType {} model {}",
            s.device_type.as_deref().unwrap_or("(own)"),
            s.device_model.as_deref().unwrap_or("(own)")
        );
    }
    if !s.mfa_registered {
        out.push_str(", no MFA method registered");
    }
    if s.registers_device {
        out.push_str(", after registering a device of its own (Workplace join)");
        if let Some(n) = &s.device_name {
            let _ = write!(out, " named \"{n}\"");
        }
    }
    if let Some(r) = s.risk {
        let _ = write!(out, ", {}", r.describe());
    }
    if p.continued {
        out.push_str(", session continued from the previous epoch");
    }
    out
}

fn to_text(name: &str, model: &str, v: &Verification, report: &Report) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "hmasim verify {} (identity model {model})", esc(name));
    let _ = writeln!(s, "in scope: {}", v.scope.join(", "));
    let _ = writeln!(
        s,
        "explored: {} paths in {} user classes ({} combinations pruned), {} events",
        v.explored.paths, v.explored.classes, v.explored.pruned, v.events
    );
    for (i, e) in v.epochs.iter().enumerate() {
        let _ = writeln!(
            s,
            "epoch {i}: {} ms to {} ms, {}",
            e.from_ms,
            e.to_ms,
            esc(&e.cause)
        );
    }
    s.push('\n');
    s.push_str(&coverage_text(&v.coverage));
    // One line per epoch, user, client, location, method and outcome, in the order first
    // explored: the signals that made no difference are counted, not listed (a baseline's
    // 2,688 paths fold to a screenful). The JSON lists every path.
    struct Row {
        key: (usize, String, String, String, String, String),
        platforms: Vec<String>,
        addresses: Vec<String>,
        paths: usize,
    }
    let mut rows: Vec<Row> = Vec::new();
    let mut at: std::collections::BTreeMap<(usize, String, String, String, String, String), usize> =
        std::collections::BTreeMap::new();
    for p in &v.paths {
        let mut verdict = match p.verdict {
            verify::Verdict::NoAccess => {
                format!("no access ({})", p.stopped_by.as_deref().unwrap_or("-"))
            }
            x => x.label().to_string(),
        };
        if let Some(r) = p.path.signals.risk.filter(|r| r.detected()) {
            let _ = write!(verdict, " at {}", r.describe());
        }
        let method = if p.path.signals.registers_device {
            format!("{}+register-device", p.path.method)
        } else {
            p.path.method.to_string()
        };
        let key = (
            p.epoch,
            p.path.user.clone(),
            p.path.client.to_string(),
            p.path.location.to_string(),
            method,
            verdict,
        );
        let i = *at.entry(key.clone()).or_insert_with(|| {
            rows.push(Row {
                key,
                platforms: Vec::new(),
                addresses: Vec::new(),
                paths: 0,
            });
            rows.len() - 1
        });
        let row = &mut rows[i];
        row.paths += 1;
        let platform = p.path.signals.platform.clone();
        if !row.platforms.contains(&platform) {
            row.platforms.push(platform);
        }
        let address = p.path.signals.address.to_string();
        if !row.addresses.contains(&address) {
            row.addresses.push(address);
        }
    }
    let many = |v: &[String], what: &str| match v {
        [one] => one.clone(),
        _ => format!("{} {what}", v.len()),
    };
    for r in &rows {
        let (epoch, user, client, location, method, verdict) = &r.key;
        let _ = writeln!(
            s,
            "  e{} {:<22} {:<16} {:<8} {:<24} {:<8} {:<15} {}{}",
            epoch,
            esc(user),
            client,
            location,
            esc(method),
            esc(&many(&r.platforms, "platforms")),
            many(&r.addresses, "addresses"),
            esc(verdict),
            if r.paths > 1 {
                format!(" ({} paths)", r.paths)
            } else {
                String::new()
            }
        );
    }
    s.push('\n');
    for t in &v.transitions {
        let _ = writeln!(
            s,
            "at {} ms: {} on {} ({}), {} [{}]: {} -> {}",
            t.at_ms,
            esc(&t.path.user),
            t.path.client,
            t.path.location,
            t.path.method.as_str(),
            esc(&signals_text(&t.path)),
            t.before.label(),
            t.after.label()
        );
    }
    if !v.transitions.is_empty() {
        s.push('\n');
    }
    s.push_str(&report.to_text(v));
    s.push('\n');
    match report.verdict {
        Overall::Clean if !report.accepted.is_empty() => {
            let _ = writeln!(
                s,
                "CLEAN: no path in scope reaches mailbox content without MFA, except the accepted ones above"
            );
        }
        Overall::Clean => {
            let _ = writeln!(
                s,
                "CLEAN: no path in scope reaches mailbox content without MFA"
            );
        }
        Overall::NotProven => {
            let _ = writeln!(s, "NOT PROVEN: no simulated path reaches mailbox content without MFA, but these are not modelled and could decide one:");
        }
        Overall::NotClean => {
            let _ = writeln!(
                s,
                "NOT CLEAN: {} path(s) reach mailbox content with only the password",
                report.findings.iter().map(|f| f.closes).sum::<usize>()
            );
        }
    }
    for n in &v.not_proven {
        let _ = writeln!(
            s,
            "  - not proven: {} {}: {}",
            esc(&n.policy),
            esc(&n.field),
            esc(&n.why)
        );
    }
    s
}
