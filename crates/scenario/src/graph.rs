//! Conditional Access policies as admins export them: Microsoft Graph v1.0
//! `conditionalAccessPolicy` JSON, read into hmasim's [`CaPolicy`].
//!
//! A source holds a single policy object, an array of them, or a Graph list response
//! (`{"value": [...]}`); a directory holds one-policy files (`*.json`, read in file-name
//! order so the result does not depend on the file system). Location ids are resolved to
//! names through the scenario's `named_locations`.
//!
//! What hmasim models is read; what it does not model but Graph allows (risk levels, device
//! filters, session controls, authentication strengths, terms of use...) is kept out of the
//! evaluation and reported: as a [`GraphWarning`] naming the file, the JSON path and the
//! policy, and in the policy's [`CaPolicy::unmodelled`] list, so whoever evaluates the
//! policy later can say so too. What is not a policy (wrong shape or type, unknown enum
//! value, missing required field) is a [`ScenarioError`] naming the file and the JSON path.
//!
//! ```
//! let src = r#"{"displayName": "Require MFA", "state": "enabled",
//!   "conditions": {"users": {"includeUsers": ["All"]},
//!                  "applications": {"includeApplications": ["Office365"]},
//!                  "clientAppTypes": ["mobileAppsAndDesktopClients"],
//!                  "signInRiskLevels": ["high"]},
//!   "grantControls": {"operator": "OR", "builtInControls": ["mfa"]}}"#;
//! let read = hmasim_scenario::graph::parse_graph(src, "policy.json", &[]).unwrap();
//! assert_eq!(read.policies[0].name, "Require MFA");
//! assert_eq!(
//!     read.warnings[0].to_string(),
//!     "policy.json: $.conditions.signInRiskLevels: policy \"Require MFA\": \
//!      not modelled: evaluated as if it matched every sign-in"
//! );
//! assert_eq!(
//!     read.policies[0].unmodelled,
//!     ["conditions.signInRiskLevels: not modelled: evaluated as if it matched every sign-in"]
//! );
//! ```

use std::fmt;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use crate::error::{closest, ErrorOrigin, ScenarioError};
use crate::limits::{
    read_capped, read_capped_at, too_deep, too_large, Input, GRAPH_DIRECTORY_MAX_ENTRIES,
};
use crate::model::Invalid;
use crate::parse::invalid_error;
use crate::Scenario;
use hmasim_protocol::policy::{
    CaPolicy, CaState, ClientAppType, DevicePlatform, GrantControl, NamedLocation, Operator,
};

/// Something in a policy that hmasim read but does not model (or could not resolve).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GraphWarning {
    /// The file it came from.
    pub file: String,
    /// The JSON path of the field (`$.value[0].conditions.signInRiskLevels`).
    pub path: String,
    /// The policy's display name (`None` for the document itself, e.g. a paged list).
    pub policy: Option<String>,
    /// What is not modelled and what hmasim does instead.
    pub message: String,
}

impl fmt::Display for GraphWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.policy {
            Some(p) => write!(
                f,
                "{}: {}: policy \"{p}\": {}",
                self.file, self.path, self.message
            ),
            None => write!(f, "{}: {}: {}", self.file, self.path, self.message),
        }
    }
}

/// Policies read from Graph JSON, and what was reported while reading them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GraphPolicies {
    /// The policies, in document order (files in file-name order).
    pub policies: Vec<CaPolicy>,
    /// Warnings, in document order.
    pub warnings: Vec<GraphWarning>,
}

/// Reads Graph JSON from a file, or from every `*.json` file of a directory in file-name
/// order. `named` resolves location ids. Errors name the file and the JSON path.
pub fn read_graph(path: &Path, named: &[NamedLocation]) -> Result<GraphPolicies, ScenarioError> {
    let shown = path.display().to_string();
    if path.is_dir() {
        let origin = || ErrorOrigin::File(shown.clone());
        let entries = std::fs::read_dir(path)
            .map_err(|e| ScenarioError::new(origin(), format!("cannot read the directory: {e}")))?;
        let mut files: Vec<(String, PathBuf)> = Vec::new();
        // Every entry counts toward the cap, so a huge directory is refused without being
        // walked to its end.
        for (n, entry) in entries.enumerate() {
            if n >= GRAPH_DIRECTORY_MAX_ENTRIES {
                return Err(ScenarioError::new(
                    origin(),
                    format!(
                        "a directory of Graph policy files is limited to \
                         {GRAPH_DIRECTORY_MAX_ENTRIES} entries"
                    ),
                )
                .expected(format!(
                    "at most {GRAPH_DIRECTORY_MAX_ENTRIES} entries (see docs/limits.md)"
                )));
            }
            let Ok(entry) = entry else { continue };
            let p = entry.path();
            if p.is_file()
                && p.extension()
                    .is_some_and(|x| x.to_string_lossy().eq_ignore_ascii_case("json"))
            {
                let name = p
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
                files.push((name, p));
            }
        }
        files.sort();
        if files.is_empty() {
            return Err(ScenarioError::new(
                ErrorOrigin::File(shown),
                "the directory holds no `.json` file",
            )
            .expected("Microsoft Graph conditionalAccessPolicy JSON files (one policy a file)"));
        }
        let mut out = GraphPolicies::default();
        // The files share one budget: the directory's cap, each file within its own.
        let mut left = Input::GraphDirectory.max_bytes();
        for (_, p) in files {
            // Once the budget left is below a file's cap, a file over it takes the
            // directory over its own.
            let (cap, kind) = if left < Input::GraphFile.max_bytes() {
                (left, Input::GraphDirectory)
            } else {
                (Input::GraphFile.max_bytes(), Input::GraphFile)
            };
            let shown = p.display().to_string();
            let src = read_capped_at(
                &p,
                cap,
                kind,
                ErrorOrigin::File(shown.clone()),
                "the policy file",
            )?;
            left -= src.len() as u64;
            let one = parse_graph(&src, &shown, named)?;
            out.policies.extend(one.policies);
            out.warnings.extend(one.warnings);
        }
        Ok(out)
    } else {
        read_file(path, named)
    }
}

fn read_file(path: &Path, named: &[NamedLocation]) -> Result<GraphPolicies, ScenarioError> {
    let shown = path.display().to_string();
    let src = read_capped(
        path,
        Input::GraphFile,
        ErrorOrigin::File(shown.clone()),
        "the policy file",
    )?;
    parse_graph(&src, &shown, named)
}

/// Reads Graph JSON from `src`; `file` names it in errors and warnings.
pub fn parse_graph(
    src: &str,
    file: &str,
    named: &[NamedLocation],
) -> Result<GraphPolicies, ScenarioError> {
    let origin = || ErrorOrigin::File(file.to_string());
    if src.len() as u64 > Input::GraphFile.max_bytes() {
        return Err(too_large(origin(), Input::GraphFile));
    }
    if let Some(at) = too_deep(src, false) {
        return Err(crate::parse::too_deep_error(origin(), src, at));
    }
    let doc: Value = serde_json::from_str(src).map_err(|e| {
        let full = e.to_string();
        let msg = full.split(" at line ").next().unwrap_or(&full).to_string();
        ScenarioError::new(
            ErrorOrigin::File(file.to_string()),
            format!("invalid JSON: {msg}"),
        )
        .at_line_col(src, e.line(), e.column())
        .expected("Microsoft Graph conditionalAccessPolicy JSON")
    })?;
    let mut r = Reader {
        file,
        src,
        named,
        policy: None,
        warnings: Vec::new(),
    };
    let root = JPath::root();
    let mut policies = Vec::new();
    match &doc {
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                policies.push(r.policy(v, &root.index(i))?);
            }
        }
        Value::Object(m) if m.contains_key("value") => {
            let at = root.key("value");
            let items = r.array(
                &m["value"],
                &at,
                "an array of conditionalAccessPolicy objects",
            )?;
            for (i, v) in items.iter().enumerate() {
                policies.push(r.policy(v, &at.index(i))?);
            }
            if m.get("@odata.nextLink").is_some_and(configured) {
                r.warn(
                    &root.key("@odata.nextLink"),
                    "the list is one page of several: the policies of the later pages are \
                     not in this file (export with every page followed)"
                        .to_string(),
                );
            }
        }
        Value::Object(m)
            if ["displayName", "state", "conditions", "grantControls"]
                .iter()
                .any(|k| m.contains_key(*k)) =>
        {
            policies.push(r.policy(&doc, &root)?);
        }
        other => {
            return Err(r.error(
                &root,
                format!(
                    "not Conditional Access policies: expected a conditionalAccessPolicy \
                     object, an array of them or a Graph list response {{\"value\": [...]}}, \
                     found {}",
                    describe(other)
                ),
            ))
        }
    }
    Ok(GraphPolicies {
        policies,
        warnings: r.warnings,
    })
}

/// Replaces the scenario's Conditional Access policies with those of `path` (a file or
/// a directory), as `--ca-policies` does. Returns the warnings.
pub fn replace_policies(
    sc: &mut Scenario,
    path: &Path,
) -> Result<Vec<GraphWarning>, ScenarioError> {
    let read = read_graph(path, &sc.named_locations)?;
    sc.conditional_access = read.policies;
    Ok(read.warnings)
}

/// One line per unmodelled field of every policy: `policy "NAME": FIELD: not
/// modelled: ...`, in policy order. Empty when hmasim models everything the policies say.
pub fn unmodelled_warnings(policies: &[CaPolicy]) -> Vec<String> {
    policies
        .iter()
        .flat_map(|p| {
            p.unmodelled
                .iter()
                .map(move |u| format!("policy \"{}\": {u}", p.name))
        })
        .collect()
}

/// Reads the scenario's `conditional_access_files` (relative to `scenario_file`, whose
/// source is `src`) and appends their policies to `conditional_access`.
pub(crate) fn load_scenario_files(
    sc: &mut Scenario,
    scenario_file: &Path,
    src: &str,
) -> Result<(), ScenarioError> {
    let base = scenario_file
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let origin = ErrorOrigin::File(scenario_file.display().to_string());
    let mut added = Vec::new();
    for (i, entry) in sc.conditional_access_files.iter().enumerate() {
        let path = base.join(entry);
        if !path.exists() {
            return Err(invalid_error(
                origin,
                src,
                &Invalid {
                    path: format!("conditional_access_files.{i}"),
                    key: "conditional_access_files".into(),
                    value: entry.clone(),
                    message: format!("no file or directory `{}`", path.display()),
                    expected: "a Graph conditionalAccessPolicy JSON file or a directory of \
                               them, relative to the scenario file"
                        .into(),
                },
            ));
        }
        added.extend(read_graph(&path, &sc.named_locations)?.policies);
    }
    sc.conditional_access.extend(added);
    Ok(())
}

/// Checks what serde cannot in the scenario's own named locations and policies: ids and
/// names are unique, and every location a policy names is `All`, `AllTrusted` or the
/// name of a named location.
pub(crate) fn check(sc: &Scenario) -> Result<(), Invalid> {
    let bad = |path: String, key: &str, value: &str, message: String, expected: String| Invalid {
        path,
        key: key.to_string(),
        value: value.to_string(),
        message,
        expected,
    };
    let named = &sc.named_locations;
    for (i, l) in named.iter().enumerate() {
        for (key, v, same) in [
            (
                "id",
                &l.id,
                named[..i].iter().any(|o| o.id.eq_ignore_ascii_case(&l.id)),
            ),
            (
                "name",
                &l.name,
                named[..i]
                    .iter()
                    .any(|o| o.name.eq_ignore_ascii_case(&l.name)),
            ),
        ] {
            if v.trim().is_empty() || same {
                return Err(bad(
                    format!("named_locations.{i}.{key}"),
                    key,
                    v,
                    format!("named location {key} `{v}` is empty or already taken"),
                    format!("a unique, non-empty {key}"),
                ));
            }
        }
    }
    let names: Vec<&str> = named.iter().map(|l| l.name.as_str()).collect();
    for (i, p) in sc.conditional_access.iter().enumerate() {
        for (key, list) in [
            ("include_locations", &p.include_locations),
            ("exclude_locations", &p.exclude_locations),
        ] {
            for l in list {
                if l == "All" || l == "AllTrusted" || names.iter().any(|n| n == l) {
                    continue;
                }
                let mut expected = String::from("`All`, `AllTrusted`");
                for n in &names {
                    expected.push_str(&format!(", `{n}`"));
                }
                let by_id = named.iter().find(|n| n.id.eq_ignore_ascii_case(l));
                let message = match by_id {
                    Some(n) => format!(
                        "location `{l}` is a named location's id: policies in a scenario \
                         file name it `{}`",
                        n.name
                    ),
                    None => format!("unknown location `{l}`"),
                };
                return Err(bad(
                    format!("conditional_access.{i}.{key}"),
                    key,
                    l,
                    message,
                    format!("{expected} (a `named_locations` name)"),
                ));
            }
        }
    }
    Ok(())
}

/// A JSON path, printed as `$.value[2].conditions.clientAppTypes[0]`.
#[derive(Clone, Debug, Default)]
struct JPath(Vec<Seg>);

#[derive(Clone, Debug)]
enum Seg {
    Key(String),
    Index(usize),
}

impl JPath {
    fn root() -> Self {
        JPath(Vec::new())
    }
    fn key(&self, k: &str) -> Self {
        let mut p = self.clone();
        p.0.push(Seg::Key(k.to_string()));
        p
    }
    fn index(&self, i: usize) -> Self {
        let mut p = self.clone();
        p.0.push(Seg::Index(i));
        p
    }
    /// The path below the policy at `policy` (`conditions.users`), for the policy's own
    /// `unmodelled` list.
    fn relative_to(&self, policy: &JPath) -> String {
        let mut s = JPath(self.0[policy.0.len().min(self.0.len())..].to_vec()).to_string();
        s.drain(..1);
        s.trim_start_matches('.').to_string()
    }
}

impl fmt::Display for JPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("$")?;
        for s in &self.0 {
            match s {
                Seg::Key(k) if k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') => {
                    write!(f, ".{k}")?
                }
                Seg::Key(k) => write!(f, "['{k}']")?,
                Seg::Index(i) => write!(f, "[{i}]")?,
            }
        }
        Ok(())
    }
}

/// Graph's value for "not configured": null, false, empty, or an object that is switched
/// off (`isEnabled: false`) or holds nothing configured.
fn configured(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(_) => true,
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(m) => match m.get("isEnabled") {
            Some(Value::Bool(b)) => *b,
            _ => m.iter().any(|(k, v)| !k.contains('@') && configured(v)),
        },
    }
}

fn describe(v: &Value) -> String {
    match v {
        Value::Null => "null".into(),
        Value::Bool(b) => format!("the boolean {b}"),
        Value::Number(n) => format!("the number {n}"),
        Value::String(s) => format!("the string \"{s}\""),
        Value::Array(_) => "an array".into(),
        Value::Object(_) => "an object".into(),
    }
}

fn is_guid(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    parts.len() == 5
        && parts
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(p, n)| p.len() == n && p.chars().all(|c| c.is_ascii_hexdigit()))
}

/// Policy fields that describe the object rather than what it does.
const METADATA: [&str; 6] = [
    "id",
    "description",
    "createdDateTime",
    "modifiedDateTime",
    "templateId",
    "deletedDateTime",
];

/// What hmasim does instead, by the section an unmodelled field sits in.
fn consequence(rel: &str) -> &'static str {
    if rel.starts_with("conditions.") {
        "evaluated as if it matched every sign-in"
    } else if rel.starts_with("grantControls.") {
        "hmasim does not require it"
    } else if rel.starts_with("sessionControls.") {
        "session controls do not change whether access is granted"
    } else {
        "ignored"
    }
}

struct Reader<'a> {
    file: &'a str,
    src: &'a str,
    named: &'a [NamedLocation],
    /// The policy being read: its name and path, and its unmodelled fields so far.
    policy: Option<(String, JPath, Vec<String>)>,
    warnings: Vec<GraphWarning>,
}

impl Reader<'_> {
    fn error(&self, at: &JPath, message: String) -> ScenarioError {
        let e = ScenarioError::new(
            ErrorOrigin::JsonPath {
                file: self.file.to_string(),
                path: at.to_string(),
            },
            message,
        );
        match locate(self.src, &at.0) {
            Some((offset, width)) => e.at_offset(self.src, offset, width),
            None => e,
        }
    }

    fn unknown(&self, at: &JPath, what: &str, value: &str, choices: &[&str]) -> ScenarioError {
        let e = self.error(
            at,
            format!(
                "unknown {what} \"{value}\", expected one of {}",
                choices.join(", ")
            ),
        );
        match closest(value, choices.iter().copied()) {
            Some(c) => e.hint(format!("did you mean \"{c}\"?")),
            None => e,
        }
    }

    /// Reports `message` about the field at `at`; inside a policy, also records it in the
    /// policy's `unmodelled` list as `FIELD: MESSAGE` (the field relative to the policy).
    fn warn(&mut self, at: &JPath, message: String) {
        let policy = self.policy.as_mut().map(|(name, base, unmodelled)| {
            unmodelled.push(format!("{}: {message}", at.relative_to(base)));
            name.clone()
        });
        self.warnings.push(GraphWarning {
            file: self.file.to_string(),
            path: at.to_string(),
            policy,
            message,
        });
    }

    /// Warns about a configured field hmasim does not model.
    fn unmodelled(&mut self, at: &JPath, v: &Value) {
        if !configured(v) {
            return;
        }
        let rel = match &self.policy {
            Some((_, base, _)) => at.relative_to(base),
            None => at.to_string(),
        };
        self.warn(at, format!("not modelled: {}", consequence(&rel)));
    }

    fn object<'v>(
        &self,
        v: &'v Value,
        at: &JPath,
        what: &str,
    ) -> Result<&'v Map<String, Value>, ScenarioError> {
        v.as_object()
            .ok_or_else(|| self.error(at, format!("expected {what}, found {}", describe(v))))
    }

    fn array<'v>(
        &self,
        v: &'v Value,
        at: &JPath,
        what: &str,
    ) -> Result<&'v Vec<Value>, ScenarioError> {
        v.as_array()
            .ok_or_else(|| self.error(at, format!("expected {what}, found {}", describe(v))))
    }

    fn string<'v>(&self, v: &'v Value, at: &JPath) -> Result<&'v str, ScenarioError> {
        v.as_str()
            .ok_or_else(|| self.error(at, format!("expected a string, found {}", describe(v))))
    }

    fn required<'v>(
        &self,
        m: &'v Map<String, Value>,
        at: &JPath,
        key: &str,
    ) -> Result<&'v Value, ScenarioError> {
        m.get(key)
            .ok_or_else(|| self.error(at, format!("missing required field \"{key}\"")))
    }

    /// An optional list of strings (absent or null: empty).
    fn strings(
        &self,
        m: &Map<String, Value>,
        at: &JPath,
        key: &str,
    ) -> Result<Vec<(JPath, String)>, ScenarioError> {
        let at = at.key(key);
        match m.get(key) {
            None | Some(Value::Null) => Ok(Vec::new()),
            Some(v) => self
                .array(v, &at, "an array of strings")?
                .iter()
                .enumerate()
                .map(|(i, x)| {
                    let p = at.index(i);
                    self.string(x, &p).map(|s| (p, s.to_string()))
                })
                .collect(),
        }
    }

    /// The enum value spelled `s` (case-insensitive), or an "unknown" error.
    fn choice<T: Copy>(
        &self,
        at: &JPath,
        what: &str,
        s: &str,
        choices: &[(&str, T)],
    ) -> Result<T, ScenarioError> {
        choices
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(s))
            .map(|(_, t)| *t)
            .ok_or_else(|| {
                let names: Vec<&str> = choices.iter().map(|(n, _)| *n).collect();
                self.unknown(at, what, s, &names)
            })
    }

    fn policy(&mut self, v: &Value, at: &JPath) -> Result<CaPolicy, ScenarioError> {
        let m = self.object(v, at, "a conditionalAccessPolicy object")?;
        let name_at = at.key("displayName");
        let name = self.string(self.required(m, at, "displayName")?, &name_at)?;
        if name.trim().is_empty() {
            return Err(self.error(&name_at, "the display name is empty".into()));
        }
        self.policy = Some((name.to_string(), at.clone(), Vec::new()));
        let out = self.policy_body(m, at, name);
        let unmodelled = self.policy.take().map(|p| p.2).unwrap_or_default();
        out.map(|mut p| {
            p.unmodelled = unmodelled;
            p
        })
    }

    fn policy_body(
        &mut self,
        m: &Map<String, Value>,
        at: &JPath,
        name: &str,
    ) -> Result<CaPolicy, ScenarioError> {
        let state_at = at.key("state");
        let state = self.string(self.required(m, at, "state")?, &state_at)?;
        let states: Vec<(&str, CaState)> = CaState::ALL.iter().map(|s| (s.as_str(), *s)).collect();
        let state = self.choice(&state_at, "state", state, &states)?;
        let cond_at = at.key("conditions");
        let conditions = self.object(self.required(m, at, "conditions")?, &cond_at, "an object")?;
        let grant_at = at.key("grantControls");
        let grant = self.required(m, at, "grantControls")?;
        let mut p = CaPolicy::new(name, Vec::new());
        p.state = state;
        self.conditions(&mut p, conditions, &cond_at)?;
        self.grant_controls(&mut p, grant, &grant_at)?;
        for (k, v) in m {
            let here = at.key(k);
            match k.as_str() {
                "displayName" | "state" | "conditions" | "grantControls" => {}
                "sessionControls" => {
                    if !v.is_null() {
                        let s = self.object(v, &here, "an object or null")?;
                        for (sk, sv) in s {
                            if !sk.contains('@') {
                                self.unmodelled(&here.key(sk), sv);
                            }
                        }
                    }
                }
                k if METADATA.contains(&k) || k.contains('@') => {}
                _ => self.unmodelled(&here, v),
            }
        }
        Ok(p)
    }

    fn conditions(
        &mut self,
        p: &mut CaPolicy,
        c: &Map<String, Value>,
        at: &JPath,
    ) -> Result<(), ScenarioError> {
        // Users.
        let users_at = at.key("users");
        let users = self.object(self.required(c, at, "users")?, &users_at, "an object")?;
        let user_list = |r: &Self, key: &str| -> Result<Vec<String>, ScenarioError> {
            r.strings(users, &users_at, key)?
                .into_iter()
                .map(|(vp, s)| {
                    if ["All", "None", "GuestsOrExternalUsers"].contains(&s.as_str())
                        || is_guid(&s)
                        || s.contains('@')
                    {
                        Ok(s)
                    } else {
                        Err(r.error(
                            &vp,
                            format!(
                                "unknown user \"{s}\", expected All, None, \
                                 GuestsOrExternalUsers, a user id (GUID) or a user principal name"
                            ),
                        ))
                    }
                })
                .collect()
        };
        p.include_users = user_list(self, "includeUsers")?;
        p.exclude_users = user_list(self, "excludeUsers")?;
        let plain = |r: &Self, key: &str| -> Result<Vec<String>, ScenarioError> {
            Ok(r.strings(users, &users_at, key)?
                .into_iter()
                .map(|(_, s)| s)
                .collect())
        };
        p.include_groups = plain(self, "includeGroups")?;
        p.exclude_groups = plain(self, "excludeGroups")?;
        p.include_roles = plain(self, "includeRoles")?;
        p.exclude_roles = plain(self, "excludeRoles")?;
        for (k, v) in users {
            if !matches!(
                k.as_str(),
                "includeUsers"
                    | "excludeUsers"
                    | "includeGroups"
                    | "excludeGroups"
                    | "includeRoles"
                    | "excludeRoles"
            ) && !k.contains('@')
            {
                self.unmodelled(&users_at.key(k), v);
            }
        }
        // Applications.
        let apps_at = at.key("applications");
        let apps = self.object(self.required(c, at, "applications")?, &apps_at, "an object")?;
        let app_list = |r: &Self, key: &str| -> Result<Vec<String>, ScenarioError> {
            r.strings(apps, &apps_at, key)?
                .into_iter()
                .map(|(vp, s)| {
                    if ["All", "None", "Office365", "MicrosoftAdminPortals"].contains(&s.as_str())
                        || is_guid(&s)
                    {
                        Ok(s)
                    } else {
                        Err(r.unknown(
                            &vp,
                            "application",
                            &s,
                            &[
                                "All",
                                "None",
                                "Office365",
                                "MicrosoftAdminPortals",
                                "an application id (GUID)",
                            ],
                        ))
                    }
                })
                .collect()
        };
        p.include_applications = app_list(self, "includeApplications")?;
        p.exclude_applications = app_list(self, "excludeApplications")?;
        // User actions: registering security information is modelled; any other user
        // action (registering a device) is not.
        for (vp, s) in self.strings(apps, &apps_at, "includeUserActions")? {
            if s.eq_ignore_ascii_case(hmasim_protocol::policy::REGISTER_SECURITY_INFO) {
                p.include_user_actions.push(s);
            } else {
                self.unmodelled(&vp, &serde_json::Value::String(s));
            }
        }
        for (k, v) in apps {
            if !matches!(
                k.as_str(),
                "includeApplications" | "excludeApplications" | "includeUserActions"
            ) && !k.contains('@')
            {
                self.unmodelled(&apps_at.key(k), v);
            }
        }
        // Client app types.
        let types_at = at.key("clientAppTypes");
        let types: Vec<(&str, ClientAppType)> = ClientAppType::ALL
            .iter()
            .map(|t| (t.as_str(), *t))
            .collect();
        let raw = self.array(
            self.required(c, at, "clientAppTypes")?,
            &types_at,
            "an array of client app types",
        )?;
        p.client_app_types = Vec::new();
        for (i, v) in raw.iter().enumerate() {
            let vp = types_at.index(i);
            let s = self.string(v, &vp)?;
            p.client_app_types
                .push(self.choice(&vp, "client app type", s, &types)?);
        }
        if p.client_app_types.is_empty() {
            // Not configured: every client app.
            p.client_app_types.push(ClientAppType::All);
        }
        // Platforms.
        let plat_at = at.key("platforms");
        if let Some(v) = c.get("platforms").filter(|v| !v.is_null()) {
            let plats = self.object(v, &plat_at, "an object or null")?;
            let platforms: Vec<(&str, DevicePlatform)> = DevicePlatform::ALL
                .iter()
                .map(|d| (d.as_str(), *d))
                .collect();
            let read = |key: &str| -> Result<Vec<DevicePlatform>, ScenarioError> {
                self.strings(plats, &plat_at, key)?
                    .into_iter()
                    .map(|(vp, s)| self.choice(&vp, "device platform", &s, &platforms))
                    .collect()
            };
            p.include_platforms = read("includePlatforms")?;
            p.exclude_platforms = read("excludePlatforms")?;
            for (k, v) in plats {
                if !matches!(k.as_str(), "includePlatforms" | "excludePlatforms")
                    && !k.contains('@')
                {
                    self.unmodelled(&plat_at.key(k), v);
                }
            }
        }
        // Locations.
        let loc_at = at.key("locations");
        if let Some(v) = c.get("locations").filter(|v| !v.is_null()) {
            let locs = self.object(v, &loc_at, "an object or null")?;
            p.include_locations = self.locations(locs, &loc_at, "includeLocations")?;
            p.exclude_locations = self.locations(locs, &loc_at, "excludeLocations")?;
            for (k, v) in locs {
                if !matches!(k.as_str(), "includeLocations" | "excludeLocations")
                    && !k.contains('@')
                {
                    self.unmodelled(&loc_at.key(k), v);
                }
            }
        }
        // Everything else: risk levels, devices, client applications, authentication
        // flows... not modelled.
        for (k, v) in c {
            if !matches!(
                k.as_str(),
                "users" | "applications" | "clientAppTypes" | "platforms" | "locations"
            ) && !k.contains('@')
            {
                self.unmodelled(&at.key(k), v);
            }
        }
        Ok(())
    }

    /// Location entries, ids resolved to named location names.
    fn locations(
        &mut self,
        m: &Map<String, Value>,
        at: &JPath,
        key: &str,
    ) -> Result<Vec<String>, ScenarioError> {
        let mut out = Vec::new();
        for (vp, s) in self.strings(m, at, key)? {
            if s == "All" || s == "AllTrusted" {
                out.push(s);
                continue;
            }
            let found = self
                .named
                .iter()
                .find(|n| n.id.eq_ignore_ascii_case(&s) || n.name.eq_ignore_ascii_case(&s));
            match found {
                Some(n) => out.push(n.name.clone()),
                None => {
                    self.warn(
                        &vp,
                        format!(
                            "location \"{s}\" is not among the scenario's named_locations: \
                             it matches no sign-in"
                        ),
                    );
                    out.push(s);
                }
            }
        }
        Ok(out)
    }

    fn grant_controls(
        &mut self,
        p: &mut CaPolicy,
        v: &Value,
        at: &JPath,
    ) -> Result<(), ScenarioError> {
        if v.is_null() {
            // A policy with session controls only: it grants without controls.
            return Ok(());
        }
        let g = self.object(v, at, "an object or null")?;
        let known: Vec<(&str, GrantControl)> =
            GrantControl::ALL.iter().map(|c| (c.as_str(), *c)).collect();
        for (vp, s) in self.strings(g, at, "builtInControls")? {
            match s.as_str() {
                "passwordChange" | "unknownFutureValue" => {
                    self.warn(
                        &vp,
                        format!("control \"{s}\" is not modelled: hmasim does not require it"),
                    );
                }
                _ => {
                    let mut names: Vec<&str> = known.iter().map(|(n, _)| *n).collect();
                    names.push("passwordChange");
                    let c = known
                        .iter()
                        .find(|(n, _)| n.eq_ignore_ascii_case(&s))
                        .map(|(_, c)| *c)
                        .ok_or_else(|| self.unknown(&vp, "grant control", &s, &names))?;
                    if !p.grant.contains(&c) {
                        p.grant.push(c);
                    }
                }
            }
        }
        let op_at = at.key("operator");
        p.operator = match g.get("operator").filter(|v| !v.is_null()) {
            Some(v) => {
                let s = self.string(v, &op_at)?;
                self.choice(
                    &op_at,
                    "operator",
                    s,
                    &[("AND", Operator::And), ("OR", Operator::Or)],
                )?
            }
            None if p.grant.len() > 1 => {
                return Err(self.error(
                    at,
                    "missing required field \"operator\" (AND or OR) for several controls".into(),
                ))
            }
            None => Operator::And,
        };
        for (k, v) in g {
            if !matches!(k.as_str(), "builtInControls" | "operator") && !k.contains('@') {
                self.unmodelled(&at.key(k), v);
            }
        }
        Ok(())
    }
}

/// The byte offset and width (up to the end of its first line) of the value at `path`
/// in the JSON text `src`.
fn locate(src: &str, path: &[Seg]) -> Option<(usize, usize)> {
    let b = src.as_bytes();
    let mut i = skip_ws(b, 0);
    for seg in path {
        match seg {
            Seg::Key(k) => {
                if b.get(i) != Some(&b'{') {
                    return None;
                }
                i += 1;
                loop {
                    i = skip_ws(b, i);
                    if b.get(i) != Some(&b'"') {
                        return None;
                    }
                    let end = skip_string(b, i);
                    let key: String = serde_json::from_str(src.get(i..end)?).ok()?;
                    i = skip_ws(b, end);
                    if b.get(i) != Some(&b':') {
                        return None;
                    }
                    i = skip_ws(b, i + 1);
                    if key == *k {
                        break;
                    }
                    i = skip_ws(b, skip_value(b, i));
                    if b.get(i) != Some(&b',') {
                        return None;
                    }
                    i += 1;
                }
            }
            Seg::Index(n) => {
                if b.get(i) != Some(&b'[') {
                    return None;
                }
                i = skip_ws(b, i + 1);
                for _ in 0..*n {
                    i = skip_ws(b, skip_value(b, i));
                    if b.get(i) != Some(&b',') {
                        return None;
                    }
                    i = skip_ws(b, i + 1);
                }
            }
        }
    }
    if i >= b.len() {
        return None;
    }
    let end = skip_value(b, i);
    let line_end = src[i..].find('\n').map_or(src.len(), |n| i + n);
    Some((i, end.min(line_end).saturating_sub(i).max(1)))
}

fn skip_ws(b: &[u8], mut i: usize) -> usize {
    while i < b.len() && b[i].is_ascii_whitespace() {
        i += 1;
    }
    i
}

/// From the opening quote at `i`, the index after the closing one.
fn skip_string(b: &[u8], i: usize) -> usize {
    let mut j = i + 1;
    while j < b.len() {
        match b[j] {
            b'\\' => j += 2,
            b'"' => return j + 1,
            _ => j += 1,
        }
    }
    b.len()
}

fn skip_value(b: &[u8], i: usize) -> usize {
    match b.get(i) {
        Some(b'"') => skip_string(b, i),
        Some(b'{') | Some(b'[') => {
            let mut depth = 0usize;
            let mut j = i;
            while j < b.len() {
                match b[j] {
                    b'"' => {
                        j = skip_string(b, j);
                        continue;
                    }
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => {
                        depth -= 1;
                        if depth == 0 {
                            return j + 1;
                        }
                    }
                    _ => {}
                }
                j += 1;
            }
            b.len()
        }
        _ => {
            let mut j = i;
            while j < b.len() && !matches!(b[j], b',' | b']' | b'}') && !b[j].is_ascii_whitespace()
            {
                j += 1;
            }
            j
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locates_values_by_path() {
        let src =
            "{\n  \"a\": [1, {\"b\": \"x\\\"y\"}, {\"c\": [true, \"desktop\"]}],\n  \"d\": null\n}";
        let p = [
            Seg::Key("a".into()),
            Seg::Index(2),
            Seg::Key("c".into()),
            Seg::Index(1),
        ];
        let (off, w) = locate(src, &p).unwrap();
        assert_eq!(&src[off..off + w], "\"desktop\"");
        let (off, w) = locate(src, &[Seg::Key("d".into())]).unwrap();
        assert_eq!(&src[off..off + w], "null");
        assert_eq!(locate(src, &[Seg::Key("zz".into())]), None);
    }

    #[test]
    fn json_paths_print_as_graph_tools_do() {
        let p = JPath::root().key("value").index(2).key("@odata.type");
        assert_eq!(p.to_string(), "$.value[2]['@odata.type']");
        let base = JPath::root().key("value").index(2);
        let f = base.key("conditions").key("signInRiskLevels");
        assert_eq!(f.relative_to(&base), "conditions.signInRiskLevels");
    }

    #[test]
    fn configured_means_not_null_empty_or_switched_off() {
        for (v, want) in [
            ("null", false),
            ("[]", false),
            ("\"\"", false),
            ("false", false),
            ("{\"isEnabled\": false, \"value\": 4}", false),
            ("{\"deviceFilter\": null, \"includeDevices\": []}", false),
            ("[\"high\"]", true),
            ("\"high\"", true),
            ("{\"isEnabled\": true}", true),
            (
                "{\"deviceFilter\": {\"mode\": \"include\", \"rule\": \"x\"}}",
                true,
            ),
        ] {
            let v: Value = serde_json::from_str(v).unwrap();
            assert_eq!(configured(&v), want, "{v}");
        }
    }
}
