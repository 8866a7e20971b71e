//! `--set dotted.path=value` overrides, validated as the file is.

use serde_json::Value;

use crate::error::{closest, ErrorOrigin, ScenarioError};
use crate::limits::{too_deep, Input, MAX_NESTING};
use crate::parse::with_candidates;
use crate::Scenario;

/// Applies one `KEY=VALUE` override. `KEY` is a dotted path through the scenario
/// (`identity.model`, `users.0.mailbox`, `conditional_access.0.state`); `VALUE` is read as
/// a TOML value (`true`, `42`, `"text"`, `["a", "b"]`) or, failing that, as a bare string;
/// a field that holds text keeps the text as typed (`users.0.password=123456`).
/// The result is validated like a file; errors name the `--set` argument.
pub fn apply_set(scenario: &mut Scenario, arg: &str) -> Result<(), ScenarioError> {
    let origin = || ErrorOrigin::Set(arg.to_string());
    let updated = set_raw(scenario, arg)?;
    validate(&updated).map_err(|inv| {
        ScenarioError::new(origin(), format!("{} (at `{}`)", inv.message, inv.path))
            .expected(inv.expected)
    })?;
    // A `set` of the timeline or of the fix that the override brings in or breaks: the
    // error names the argument given, and where in it the offending `set` is.
    check_sets(&updated).map_err(|(path, e)| {
        let kv = match &e.origin {
            ErrorOrigin::Set(kv) => format!(" `{kv}`"),
            _ => String::new(),
        };
        let mut named = ScenarioError::new(origin(), format!("{} (at `{path}`{kv})", e.message));
        named.expected = e.expected;
        named.hint = e.hint;
        named
    })?;
    *scenario = updated;
    Ok(())
}

/// Checks every `set` of the timeline and of the fix, in the order a run applies them:
/// the fix's overrides one after the other, then the timeline's `set`s one after the other
/// (with the fix, its timeline merged in time order) on top. Each must apply and leave the
/// scenario valid, and no timeline `set` may change the clients (their number, order, ids
/// or kinds): the world is built once, before the timeline runs. Returns the dotted path
/// of the offending entry with the error.
pub(crate) fn check_sets(scenario: &Scenario) -> Result<(), (String, ScenarioError)> {
    let entries =
        |timeline: &[crate::Action], section: &str| -> Vec<(crate::Span, String, String)> {
            timeline
                .iter()
                .enumerate()
                .filter_map(|(i, a)| {
                    Some((
                        a.at,
                        format!("{section}.{i}.value"),
                        format!("{}={}", a.key.as_ref()?, a.value.as_ref()?),
                    ))
                })
                .collect()
        };
    let timeline = entries(&scenario.timeline, "timeline");
    replay(scenario, &timeline)?;
    if let Some(fix) = &scenario.fix {
        let mut fixed = scenario.clone();
        for (i, kv) in fix.set.iter().enumerate() {
            fixed = apply_checked(&fixed, kv).map_err(|e| (format!("fix.set.{i}"), e))?;
        }
        let mut merged = timeline;
        merged.extend(entries(&fix.timeline, "fix.timeline"));
        // A stable sort, as `apply_fix` merges: same-instant entries keep their order.
        merged.sort_by_key(|(at, _, _)| *at);
        replay(&fixed, &merged)?;
    }
    Ok(())
}

/// Applies timeline `set`s in order to a copy of `base`, checking each result and that the
/// clients stay those of `base`.
fn replay(
    base: &Scenario,
    entries: &[(crate::Span, String, String)],
) -> Result<(), (String, ScenarioError)> {
    let before = clients_of(base);
    let mut current = base.clone();
    for (_, path, kv) in entries {
        // The clients are compared before the result is validated: a timeline entry that
        // names a client the `set` renamed is a consequence, not the cause.
        let next = set_raw(&current, kv).map_err(|e| (path.clone(), e))?;
        let after = clients_of(&next);
        if after != before {
            let list = |v: &[(String, String)]| {
                if v.is_empty() {
                    return "none".to_string();
                }
                v.iter()
                    .map(|(id, kind)| {
                        if id == kind {
                            id.clone()
                        } else {
                            format!("{id} ({kind})")
                        }
                    })
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            let e = ScenarioError::new(
                ErrorOrigin::Set(kv.clone()),
                format!(
                    "a timeline `set` cannot change the clients, built once before the run: \
                     it turns [{}] into [{}]",
                    list(&before),
                    list(&after)
                ),
            )
            .expected("a change of settings that keeps every client, its id and its kind")
            .hint("add, remove or retype clients in the file or with --set, before the run");
            return Err((path.clone(), e));
        }
        validated(&next, kv).map_err(|e| (path.clone(), e))?;
        current = next;
    }
    Ok(())
}

/// The clients as the world builder lays them out: in order, each with its party id and
/// kind. (Every other party is always built, whatever the configuration.)
fn clients_of(sc: &Scenario) -> Vec<(String, String)> {
    sc.clients
        .iter()
        .map(|c| (c.party_id(), c.kind.party().id().to_string()))
        .collect()
}

/// One override applied to `sc` and validated, as a run would apply it.
fn apply_checked(sc: &Scenario, kv: &str) -> Result<Scenario, ScenarioError> {
    let s = set_raw(sc, kv)?;
    validated(&s, kv)?;
    Ok(s)
}

/// Validates an overridden scenario as `parse` validates a file: the model's rules and
/// those of named locations and the policies naming them (unique ids and names, known
/// locations), so an override cannot slip past `check` what a file could not.
fn validate(scenario: &Scenario) -> Result<(), crate::model::Invalid> {
    scenario
        .validate()
        .and_then(|()| crate::graph::check(scenario))
}

/// `s` (the result of override `kv`) validated, errors naming the override.
fn validated(s: &Scenario, kv: &str) -> Result<(), ScenarioError> {
    validate(s).map_err(|inv| {
        ScenarioError::new(
            ErrorOrigin::Set(kv.to_string()),
            format!("{} (at `{}`)", inv.message, inv.path),
        )
        .expected(inv.expected)
    })
}

/// Applies one override without validating the result.
pub(crate) fn set_raw(scenario: &Scenario, arg: &str) -> Result<Scenario, ScenarioError> {
    let origin = || ErrorOrigin::Set(arg.to_string());
    let Some((key, raw)) = arg.split_once('=') else {
        return Err(ScenarioError::new(origin(), "missing `=`")
            .expected("KEY=VALUE, e.g. identity.model=phs"));
    };
    let key = key.trim();
    let kind = Input::SetValue;
    if raw.len() as u64 > kind.max_bytes() {
        return Err(crate::limits::too_large(origin(), kind));
    }
    // Judged as the value is parsed: as the value of a TOML key.
    if let Some(at) = too_deep(&format!("v = {raw}"), true) {
        return Err(ScenarioError::new(
            origin(),
            format!(
                "the value nests deeper than {MAX_NESTING} levels (at byte {})",
                at.saturating_sub(4)
            ),
        )
        .expected(format!(
            "at most {MAX_NESTING} levels of arrays and tables (see docs/limits.md)"
        )));
    }
    let value = parse_value(raw.trim());
    // The scenario serializes to JSON without loss (every type here is plain data).
    let mut tree = serde_json::to_value(scenario).expect("a scenario always serializes");
    let mut node = &mut tree;
    let mut walked = Vec::new();
    // A field left out of the serialized form because it is empty (`clocks`,
    // `network.faults`...) is created on the way; if serde then says the field does not
    // exist, the user gets this error instead.
    let mut created: Vec<(String, ScenarioError)> = Vec::new();
    let parts: Vec<&str> = key.split('.').collect();
    for (index, &part) in parts.iter().enumerate() {
        let here = if walked.is_empty() {
            "the scenario".to_string()
        } else {
            format!("`{}`", walked.join("."))
        };
        node = match node {
            Value::Object(map) => {
                if !map.contains_key(part) {
                    let keys: Vec<&str> = map.keys().map(String::as_str).collect();
                    let mut e =
                        ScenarioError::new(origin(), format!("unknown key `{part}` in {here}"))
                            .expected(format!(
                                "one of {}",
                                keys.iter()
                                    .map(|k| format!("`{k}`"))
                                    .collect::<Vec<_>>()
                                    .join(", ")
                            ));
                    if let Some(c) = closest(part, keys.iter().copied()) {
                        e = e.hint(format!(
                            "did you mean `{}`?",
                            walked
                                .iter()
                                .map(|s: &&str| s.to_string())
                                .chain([c.to_string()])
                                .collect::<Vec<_>>()
                                .join(".")
                        ));
                    }
                    created.push((part.to_string(), e));
                    let fresh = if index + 1 == parts.len() {
                        Value::Null
                    } else {
                        Value::Object(Default::default())
                    };
                    map.insert(part.to_string(), fresh);
                }
                map.get_mut(part).expect("checked above")
            }
            Value::Array(items) => {
                let len = items.len();
                match part.parse::<usize>() {
                    Ok(i) if i < len => &mut items[i],
                    _ => {
                        return Err(ScenarioError::new(
                            origin(),
                            format!("`{part}` is not an index of {here}"),
                        )
                        .expected(format!("an index from 0 to {}", len.saturating_sub(1))))
                    }
                }
            }
            _ => {
                return Err(
                    ScenarioError::new(origin(), format!("{here} has no field `{part}`"))
                        .expected(format!("`{}` itself as the key", walked.join("."))),
                )
            }
        };
        walked.push(part);
    }
    // A string field keeps what was typed: `users.0.password=123456` sets the text
    // `123456`, not the integer TOML would read (a password, an id or a name made of
    // digits, `true`...). The raw text is used, so `007` stays `007`.
    let value = if node.is_string() && (value.is_number() || value.is_boolean()) {
        Value::String(raw.trim().to_string())
    } else {
        value
    };
    *node = value;
    serde_json::from_value(tree).map_err(|e| {
        let msg = e.to_string();
        // Serde names the field it does not know: if it is one created here, say so the
        // way an unknown key is said.
        let unknown = msg
            .strip_prefix("unknown field `")
            .and_then(|r| r.split('`').next())
            .map(str::to_string);
        match unknown.and_then(|w| created.into_iter().rev().find(|(p, _)| *p == w)) {
            Some((_, e)) => e,
            None => with_candidates(ScenarioError::new(origin(), msg.clone()), &msg),
        }
    })
}

fn parse_value(raw: &str) -> Value {
    match toml::from_str::<toml::Table>(&format!("v = {raw}")) {
        Ok(mut t) => t
            .remove("v")
            .and_then(|v| serde_json::to_value(v).ok())
            .unwrap_or(Value::String(raw.to_string())),
        Err(_) => Value::String(raw.to_string()),
    }
}

/// Applies the scenario's documented fix: its overrides, then its timeline actions merged
/// into the timeline in time order. An error when the scenario declares no fix.
pub fn apply_fix(scenario: &mut Scenario) -> Result<(), ScenarioError> {
    let Some(fix) = scenario.fix.clone() else {
        return Err(ScenarioError::new(ErrorOrigin::Argument(scenario.name.clone()), "this scenario declares no fix")
            .expected("a scenario with a [fix] section (the fault-*, password-change-* and token-lifetime scenarios)"));
    };
    for kv in &fix.set {
        apply_set(scenario, kv)?;
    }
    scenario.timeline.extend(fix.timeline.iter().cloned());
    // A stable sort keeps same-instant entries in the order written.
    scenario.timeline.sort_by_key(|a| a.at);
    validate(scenario).map_err(|inv| {
        ScenarioError::new(
            ErrorOrigin::Argument(scenario.name.clone()),
            format!(
                "the fix leaves the scenario invalid: {} (at `{}`)",
                inv.message, inv.path
            ),
        )
        .expected(inv.expected)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_string_field_keeps_digits_and_words_as_typed() {
        let mut sc = crate::load("mobile-onprem-hma").unwrap();
        apply_set(&mut sc, "users.0.password=007123").unwrap();
        assert_eq!(sc.users[0].password, "007123");
        apply_set(&mut sc, "users.0.password=true").unwrap();
        assert_eq!(sc.users[0].password, "true");
        // A field that is not a string still reads the TOML value.
        apply_set(&mut sc, "seed=42").unwrap();
        assert_eq!(sc.seed, 42);
    }
}
