//! `hmasim diff BEFORE AFTER`: the (user, client, path) outcomes that change between two
//! configurations, the change review before a rollout.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::PathBuf;

use serde_json::json;

use crate::cli::{load, CliError, Format};
use crate::scenario::{self, ScenarioError};
use crate::sim::verify::{self, Verdict};
use crate::term::escape_control as esc;

/// Arguments of `hmasim diff`.
#[derive(clap::Args, Debug)]
pub struct DiffArgs {
    /// The configuration before the change (a scenario file or bundled name).
    pub before: String,
    /// The configuration after; when left out, AFTER is BEFORE with --set-after and
    /// --ca-policies-after applied.
    pub after: Option<String>,
    /// Override a field of AFTER (repeatable).
    #[arg(long = "set-after", value_name = "KEY=VALUE")]
    pub set_after: Vec<String>,
    /// Replace AFTER's Conditional Access policies with Graph JSON.
    #[arg(long = "ca-policies-after", value_name = "PATH")]
    pub ca_policies_after: Option<PathBuf>,
    /// Replace AFTER's named locations with Graph namedLocation JSON (applied before
    /// --ca-policies-after).
    #[arg(long = "named-locations-after", value_name = "PATH")]
    pub named_locations_after: Option<PathBuf>,
    /// Output format (text or json).
    #[arg(long, value_enum, default_value = "text")]
    pub format: Format,
}

/// A path's outcome as diff compares it: the verdict, and whether the access held at the
/// end of the path's run (the per-client view of the outcome).
type Seen = (Verdict, bool);

fn name(v: Seen) -> &'static str {
    match v {
        (Verdict::MailboxWithMfa, true) => "mailbox with MFA",
        (Verdict::MailboxWithMfa, false) => "mailbox with MFA, then lost",
        (Verdict::MailboxWithoutMfa, _) => "mailbox WITHOUT MFA",
        (Verdict::RegistersMfaWithPassword, _) => "registers MFA with only the password",
        (Verdict::NoAccess, _) => "no access",
    }
}

/// The pinned signals of a path, as diff shows them.
fn signals_of(p: &verify::PathSpec) -> String {
    let s = &p.signals;
    let mut out = format!("platform {} from {}", s.platform, s.address);
    if let (None, None) = (&s.device_type, &s.device_model) {
    } else {
        out.push_str(&format!(
            " device {}/{}",
            s.device_type.as_deref().unwrap_or("-"),
            s.device_model.as_deref().unwrap_or("-")
        ));
    }
    if let Some(r) = s.risk.filter(|r| r.detected()) {
        // A path at a detected risk is run only where it can differ (see verify's
        // risk exploration): missing on one side, it is closed there.
        out.push_str(&format!(" at {}", r.describe()));
    }
    if p.continued {
        out.push_str(" continued");
    }
    out
}

/// What a change does to one path: loses MFA, loses access it had with MFA (never
/// reached, or reached and then lost), opens a path without MFA, or none of these.
fn regression(before: Option<Seen>, after: Option<Seen>) -> Option<&'static str> {
    use Verdict::*;
    let single = |v: Option<Seen>| v.is_some_and(|(v, _)| v.single_factor());
    match (before, after) {
        _ if single(before) => None,
        (Some((MailboxWithMfa, _)), a) if single(a) => Some("loses MFA"),
        (_, a) if single(a) => Some("opens a path without MFA"),
        // Legitimate access lost; closing a path that had no MFA is the point of a change.
        (Some((MailboxWithMfa, true)), Some((NoAccess, _) | (MailboxWithMfa, false))) => {
            Some("loses access")
        }
        _ => None,
    }
}

/// Runs diff; `Ok(true)` when a path loses MFA or access.
pub fn run(a: DiffArgs) -> Result<bool, CliError> {
    if a.format == Format::Mermaid {
        return Err(CliError::Output(
            "diff --format takes text or json (mermaid is for run)".into(),
        ));
    }
    let before = load(&a.before, None, &[]).map_err(CliError::Scenario)?;
    let mut after = match &a.after {
        Some(p) => load(p, None, &[]).map_err(CliError::Scenario)?,
        None => before.clone(),
    };
    for kv in crate::cli::canonical(&a.set_after) {
        scenario::apply_set(&mut after, kv).map_err(|e: ScenarioError| CliError::Scenario(e))?;
    }
    crate::whatif::prepare_locations(&mut after, a.named_locations_after.as_deref())
        .map_err(CliError::Scenario)?;
    crate::whatif::prepare_policies(&mut after, a.ca_policies_after.as_deref())
        .map_err(CliError::Scenario)?;
    // Epoch by epoch: the same path (user, client, location, method, pinned signals,
    // fresh or continued) at the same instant of both configurations. The instants are
    // the epoch starts of either; a path of an epoch stands for every instant it covers
    // (a continued session only for its epoch's start).
    let key = |at: u64, p: &verify::Explored| {
        (
            at,
            p.path.user.clone(),
            p.path.client.as_str(),
            p.path.location.as_str(),
            p.path.method,
            signals_of(&p.path),
        )
    };
    let vb = verify::verify_with(
        &before,
        &verify::Options {
            signals_of: vec![after.clone()],
            ..verify::Options::default()
        },
    );
    let va = verify::verify_with(
        &after,
        &verify::Options {
            signals_of: vec![before.clone()],
            ..verify::Options::default()
        },
    );
    let mut starts: Vec<u64> = vb
        .epochs
        .iter()
        .chain(&va.epochs)
        .map(|e| e.from_ms)
        .collect();
    starts.sort_unstable();
    starts.dedup();
    let instants = |v: &verify::Verification, p: &verify::Explored| -> Vec<u64> {
        let e = &v.epochs[p.epoch];
        let last = p.epoch + 1 == v.epochs.len();
        starts
            .iter()
            .copied()
            .filter(|t| {
                *t == e.from_ms || (!p.path.continued && *t > e.from_ms && (*t < e.to_ms || last))
            })
            .collect()
    };
    let mut rows: BTreeMap<_, (Option<Seen>, Option<Seen>)> = BTreeMap::new();
    for p in &vb.paths {
        for t in instants(&vb, p) {
            rows.entry(key(t, p)).or_default().0 = Some((p.verdict, p.holds_at_end));
        }
    }
    for p in &va.paths {
        for t in instants(&va, p) {
            rows.entry(key(t, p)).or_default().1 = Some((p.verdict, p.holds_at_end));
        }
    }
    let changes: Vec<_> = rows.into_iter().filter(|(_, (b, a))| b != a).collect();
    let regressions = changes
        .iter()
        .filter(|(_, (b, a))| regression(*b, *a).is_some())
        .count();
    let out = match a.format {
        Format::Json => {
            let doc = json!({
                "format": "hmasim-diff/1",
                "before": before.name,
                "after": after.name,
                "changes": changes.iter().map(|((at, user, client, location, method, signals), (b, a))| json!({
                    "at_ms": at, "user": user, "client": client, "location": location, "method": method, "signals": signals,
                    "before": b.map(name), "after": a.map(name), "regression": regression(*b, *a),
                })).collect::<Vec<_>>(),
                "regressions": regressions,
            });
            let mut s = serde_json::to_string_pretty(&doc).expect("plain JSON");
            s.push('\n');
            s
        }
        _ => {
            let mut s = String::new();
            let _ = writeln!(
                s,
                "hmasim diff {} -> {}",
                esc(&before.name),
                if a.after.is_some() {
                    esc(&after.name)
                } else {
                    "(with overrides)".into()
                }
            );
            if changes.is_empty() {
                let _ = writeln!(s, "no path changes its outcome");
            }
            for ((at, user, client, location, method, signals), (b, a)) in &changes {
                let flag = regression(*b, *a)
                    .map(|r| format!("  <- {r}"))
                    .unwrap_or_default();
                let _ = writeln!(
                    s,
                    "  at {at} ms {:<22} {client:<16} {location:<8} {:<24} [{}] {} -> {}{flag}",
                    esc(user),
                    method.as_str(),
                    esc(signals),
                    b.map(name).unwrap_or("-"),
                    a.map(name).unwrap_or("-")
                );
            }
            let _ = writeln!(s, "{regressions} path(s) lose MFA or access");
            s
        }
    };
    crate::term::print(&out);
    Ok(regressions > 0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use Verdict::*;

    #[test]
    fn access_had_with_mfa_and_lost_is_a_regression() {
        // Reached with MFA and held, then after the change reached with MFA but lost
        // before the end of the run: the per-client view says access is lost.
        assert_eq!(
            regression(Some((MailboxWithMfa, true)), Some((MailboxWithMfa, false))),
            Some("loses access")
        );
        assert_eq!(
            regression(Some((MailboxWithMfa, true)), Some((NoAccess, false))),
            Some("loses access")
        );
        // Access that was already lost before the change is not lost by it.
        assert_eq!(
            regression(Some((MailboxWithMfa, false)), Some((NoAccess, false))),
            None
        );
        assert_eq!(
            regression(
                Some((MailboxWithMfa, false)),
                Some((MailboxWithoutMfa, true))
            ),
            Some("loses MFA")
        );
        assert_eq!(
            regression(Some((MailboxWithoutMfa, true)), Some((NoAccess, false))),
            None
        );
        assert_eq!(name((MailboxWithMfa, false)), "mailbox with MFA, then lost");
    }
}
