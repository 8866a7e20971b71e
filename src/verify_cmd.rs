//! `hmasim verify`: explore every path to mailbox content and report those without MFA.

use std::fmt::Write as _;
use std::path::PathBuf;

use serde_json::{json, Value};

use crate::cli::{check_output, load, write_atomic, CliError, Format};
use crate::scenario::{accept, Date, ErrorOrigin, ScenarioError};
use crate::sim::findings::{self, Report};
use crate::sim::verify::{self, Verdict, Verification};
use crate::term::escape_control as esc;

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
    /// Write the explored graph as Graphviz to this file.
    #[arg(long, value_name = "FILE")]
    pub dot: Option<PathBuf>,
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

/// Runs verify; `Ok(true)` when a counterexample was found.
pub fn run(a: VerifyArgs) -> Result<bool, CliError> {
    if a.format == Format::Mermaid {
        return Err(CliError::Output(
            "verify --format takes text or json (mermaid is for run)".into(),
        ));
    }
    if let Some(dot) = &a.dot {
        check_output(dot)?;
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
    crate::whatif::prepare_policies(&mut sc, a.ca_policies.as_deref())
        .map_err(CliError::Scenario)?;
    let today = today_arg.or(sc.verify.today).or_else(|| {
        // Only exceptions need a day; without them none is read.
        (!exceptions.is_empty()).then(system_date)
    });
    #[allow(clippy::disallowed_methods)]
    // how long verify took, for the user; not in the simulation
    let started = std::time::Instant::now();
    let v = verify::verify(&sc);
    let elapsed = started.elapsed();
    eprintln!(
        "verify: explored {} paths ({} events) in {:.1} ms",
        v.paths.len(),
        v.events,
        elapsed.as_secs_f64() * 1e3
    );
    if let Some(dot) = &a.dot {
        write_atomic(dot, &verify::to_dot(&v))?;
    }
    let report = findings::report(&sc, &v, &exceptions, today);
    let out = match a.format {
        Format::Json => {
            let mut s = serde_json::to_string_pretty(&to_json(
                &sc.name,
                sc.identity.model.as_str(),
                &v,
                &report,
            ))
            .expect("plain JSON");
            s.push('\n');
            s
        }
        _ => to_text(&sc.name, sc.identity.model.as_str(), &v, &report),
    };
    crate::term::print(&out);
    Ok(report.fails())
}

fn to_json(name: &str, model: &str, v: &Verification, report: &Report) -> Value {
    let mut out = json!({
        "format": "hmasim-verify/1",
        "scenario": name,
        "identity_model": model,
        "scope": v.scope,
        "explored": {"paths": v.paths.len(), "events": v.events},
        "clean": v.clean(),
        "unmodelled": v.unmodelled,
        "paths": v.paths,
        "counterexamples": v.counterexamples.iter().map(|c| json!({
            "user": c.path.user,
            "client": c.path.client,
            "location": c.path.location,
            "method": c.path.method,
            "control": c.control,
            "command": c.command,
            "trace": serde_json::from_str::<Value>(&c.trace.to_json()).expect("the trace is JSON"),
        })).collect::<Vec<_>>(),
    });
    if let Value::Object(m) = &mut out {
        m.insert("verdict".into(), json!(report.verdict));
        m.extend(report.to_json(v));
    }
    out
}

fn to_text(name: &str, model: &str, v: &Verification, report: &Report) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "hmasim verify {} (identity model {model})", esc(name));
    let _ = writeln!(s, "in scope: {}", v.scope.join(", "));
    let _ = writeln!(
        s,
        "explored: {} paths, {} events\n",
        v.paths.len(),
        v.events
    );
    for p in &v.paths {
        let verdict = match p.verdict {
            Verdict::MailboxWithMfa => "mailbox with MFA".to_string(),
            Verdict::MailboxWithoutMfa => "MAILBOX WITHOUT MFA".to_string(),
            Verdict::NoAccess => format!("no access ({})", p.stopped_by.as_deref().unwrap_or("-")),
        };
        let _ = writeln!(
            s,
            "  {:<22} {:<16} {:<8} {:<24} {}",
            esc(&p.path.user),
            p.path.client,
            p.path.location,
            esc(&p.path.method),
            esc(&verdict)
        );
    }
    s.push('\n');
    s.push_str(&report.to_text(v));
    s.push('\n');
    match report.verdict {
        findings::Overall::NotClean => {
            let _ = writeln!(
                s,
                "NOT CLEAN: {} path(s) reach mailbox content without MFA",
                report.findings.iter().map(|f| f.closes).sum::<usize>()
            );
        }
        findings::Overall::NotProven => {
            let _ = writeln!(s, "NOT PROVEN CLEAN: no simulated path reaches mailbox content without MFA, but these conditions are not modelled and could change a verdict:");
            for u in &v.unmodelled {
                let _ = writeln!(s, "  - {}", esc(u));
            }
        }
        findings::Overall::Clean if report.accepted.is_empty() => {
            let _ = writeln!(
                s,
                "CLEAN: no path in scope reaches mailbox content without MFA"
            );
        }
        findings::Overall::Clean => {
            let _ = writeln!(
                s,
                "CLEAN: no path in scope reaches mailbox content without MFA, except the accepted ones above"
            );
        }
    }
    s
}
