//! Conditional Access policies as admins export them: Microsoft Graph v1.0
//! `conditionalAccessPolicy` JSON, read into hmasim's [`CaPolicy`].
//!
//! A source holds a single policy object, an array of them, or a Graph list response
//! (`{"value": [...]}`); a directory holds one-policy files (`*.json`, read in file-name
//! order so the result does not depend on the file system). Location ids are resolved to
//! names through the scenario's `named_locations`.
//!
//! What hmasim models is read; what it does not model but Graph allows (service principal
//! risk, device filters, terms of use...) is kept out of the
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
//!                  "servicePrincipalRiskLevels": ["high"]},
//!   "grantControls": {"operator": "OR", "builtInControls": ["mfa"]}}"#;
//! let read = hmasim_scenario::graph::parse_graph(src, "policy.json", &[]).unwrap();
//! assert_eq!(read.policies[0].name, "Require MFA");
//! assert_eq!(
//!     read.warnings[0].to_string(),
//!     "policy.json: $.conditions.servicePrincipalRiskLevels: policy \"Require MFA\": \
//!      not modelled: evaluated as if it matched every sign-in"
//! );
//! assert_eq!(
//!     read.policies[0].unmodelled,
//!     ["conditions.servicePrincipalRiskLevels: not modelled: evaluated as if it matched every sign-in"]
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
use hmasim_protocol::device::is_guid;
use hmasim_protocol::policy::{
    CaPolicy, CaState, ClientAppType, DevicePlatform, GrantControl, InsiderRiskLevel,
    NamedLocation, Operator, RiskLevel, GUEST_TYPES,
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
    let mut out = GraphPolicies::default();
    for_each_source(
        path,
        "conditionalAccessPolicy",
        "the policy file",
        |src, shown| {
            let one = parse_graph(src, shown, named)?;
            out.policies.extend(one.policies);
            out.warnings.extend(one.warnings);
            Ok(())
        },
    )?;
    Ok(out)
}

/// Calls `f` with the text (decoded: UTF-8 or UTF-16 with a byte-order mark) and the shown
/// name of `path`, or of every `*.json` file of the directory `path` in file-name order,
/// within the caps of Graph exports.
fn for_each_source(
    path: &Path,
    resource: &str,
    what: &str,
    mut f: impl FnMut(&str, &str) -> Result<(), ScenarioError>,
) -> Result<(), ScenarioError> {
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
                        "a directory of Graph export files is limited to \
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
            .expected(format!(
                "Microsoft Graph {resource} JSON files (one object a file)"
            )));
        }
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
            let src = read_capped_at(&p, cap, kind, ErrorOrigin::File(shown.clone()), what)?;
            left = left.saturating_sub(src.len() as u64);
            f(&src, &shown)?;
        }
        Ok(())
    } else {
        let src = read_capped(
            path,
            Input::GraphFile,
            ErrorOrigin::File(shown.clone()),
            what,
        )?;
        f(&src, &shown)
    }
}

/// Reads Graph JSON from `src`; `file` names it in errors and warnings.
pub fn parse_graph(
    src: &str,
    file: &str,
    named: &[NamedLocation],
) -> Result<GraphPolicies, ScenarioError> {
    let (policies, warnings) = parse_documents(
        src,
        file,
        named,
        &Resource {
            name: "conditionalAccessPolicy",
            plural: "policies",
            what: "Conditional Access policies",
            single_keys: &["displayName", "state", "conditions", "grantControls"],
            item: |r, v, at| r.policy(v, at),
        },
    )?;
    Ok(GraphPolicies { policies, warnings })
}

/// One kind of Graph resource an export holds, and how to read one of them.
struct Resource<T> {
    /// Graph's name for it (`conditionalAccessPolicy`).
    name: &'static str,
    /// What several are called in messages (`policies`).
    plural: &'static str,
    /// What the document should hold, for the error when it holds none.
    what: &'static str,
    /// Keys that tell a single object of this kind.
    single_keys: &'static [&'static str],
    /// Reads one.
    item: fn(&mut Reader<'_>, &Value, &JPath) -> Result<T, ScenarioError>,
}

/// The Graph export shapes every resource comes in: a single object, an array of them, or
/// a list response `{"value": [...]}` (with a warning when it is one page of several).
fn parse_documents<T>(
    src: &str,
    file: &str,
    named: &[NamedLocation],
    res: &Resource<T>,
) -> Result<(Vec<T>, Vec<GraphWarning>), ScenarioError> {
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
        ScenarioError::new(origin(), format!("invalid JSON: {msg}"))
            .at_line_col(src, e.line(), e.column())
            .expected(format!("Microsoft Graph {} JSON", res.name))
    })?;
    let mut r = Reader {
        file,
        src,
        named,
        policy: None,
        warnings: Vec::new(),
    };
    let root = JPath::root();
    let mut out = Vec::new();
    match &doc {
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                out.push((res.item)(&mut r, v, &root.index(i))?);
            }
        }
        Value::Object(m) if m.contains_key("value") => {
            let at = root.key("value");
            let items = r.array(
                &m["value"],
                &at,
                &format!("an array of {} objects", res.name),
            )?;
            for (i, v) in items.iter().enumerate() {
                out.push((res.item)(&mut r, v, &at.index(i))?);
            }
            if m.get("@odata.nextLink").is_some_and(configured) {
                r.warn(
                    &root.key("@odata.nextLink"),
                    format!(
                        "the list is one page of several: the {} of the later pages are \
                         not in this file (export with every page followed)",
                        res.plural
                    ),
                );
            }
        }
        Value::Object(m) if res.single_keys.iter().any(|k| m.contains_key(*k)) => {
            out.push((res.item)(&mut r, &doc, &root)?);
        }
        other => {
            return Err(r.error(
                &root,
                format!(
                    "not {}: expected a {} object, an array of them or a Graph list \
                     response {{\"value\": [...]}}, found {}",
                    res.what,
                    res.name,
                    describe(other)
                ),
            ))
        }
    }
    Ok((out, r.warnings))
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
            _ => m.iter().any(|(k, v)| !is_annotation(k) && configured(v)),
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

/// Policy fields that describe the object rather than what it does.
const METADATA: [&str; 7] = [
    "id",
    "description",
    "createdDateTime",
    "modifiedDateTime",
    "templateId",
    "deletedDateTime",
    "partialEnablementStrategy",
];

/// The first place under a policy's `conditions` or `grantControls` where Windows
/// PowerShell's `ConvertTo-Json` wrote an object it did not descend into as a string
/// (`@{key=value; ...}`, `System.Object[]`).
fn truncated(v: &Value, at: &JPath) -> Option<JPath> {
    fn walk(v: &Value, at: &JPath) -> Option<JPath> {
        match v {
            Value::String(s) => {
                let s = s.trim();
                ((s.starts_with("@{") && s.ends_with('}'))
                    || s == "System.Object[]"
                    || s == "System.Collections.Hashtable"
                    || s.starts_with("Microsoft.Graph.PowerShell.Models."))
                .then(|| at.clone())
            }
            Value::Array(a) => a
                .iter()
                .enumerate()
                .find_map(|(i, x)| walk(x, &at.index(i))),
            Value::Object(m) => m
                .iter()
                .filter(|(k, _)| !is_annotation(k))
                .find_map(|(k, x)| walk(x, &at.key(k))),
            _ => None,
        }
    }
    let m = v.as_object()?;
    ["conditions", "grantControls", "sessionControls"]
        .iter()
        .find_map(|k| m.get(*k).and_then(|x| walk(x, &at.key(k))))
}

/// Authentication method combinations that are a single factor.
const SINGLE_FACTOR_COMBINATIONS: [&str; 5] = [
    "password",
    "sms",
    "federatedSingleFactor",
    "x509CertificateSingleFactor",
    "email",
];

/// The allowed combinations of Entra's built-in authentication strengths, by id.
fn builtin_strength(id: &str) -> Option<&'static [&'static str]> {
    const MULTIFACTOR: &[&str] = &[
        "windowsHelloForBusiness",
        "fido2",
        "x509CertificateMultiFactor",
        "deviceBasedPush",
        "temporaryAccessPassOneTime",
        "temporaryAccessPassMultiUse",
        "password,microsoftAuthenticatorPush",
        "password,softwareOath",
        "password,hardwareOath",
        "password,sms",
        "password,voice",
        "federatedMultiFactor",
        "microsoftAuthenticatorPush,federatedSingleFactor",
        "softwareOath,federatedSingleFactor",
        "hardwareOath,federatedSingleFactor",
        "sms,federatedSingleFactor",
        "voice,federatedSingleFactor",
    ];
    const PASSWORDLESS: &[&str] = &[
        "windowsHelloForBusiness",
        "fido2",
        "x509CertificateMultiFactor",
        "deviceBasedPush",
    ];
    const PHISHING_RESISTANT: &[&str] = &[
        "windowsHelloForBusiness",
        "fido2",
        "x509CertificateMultiFactor",
    ];
    match id {
        "00000000-0000-0000-0000-000000000002" => Some(MULTIFACTOR),
        "00000000-0000-0000-0000-000000000003" => Some(PASSWORDLESS),
        "00000000-0000-0000-0000-000000000004" => Some(PHISHING_RESISTANT),
        _ => None,
    }
}

/// OData metadata rather than a policy field: `@odata.*` keys, `*@odata.type` and the
/// other instance annotations, and action or function entries (`#microsoft.graph.restore`).
fn is_annotation(k: &str) -> bool {
    k.contains('@') || k.starts_with('#')
}

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

    /// Reports `message` about the field at `at` without marking the policy: something
    /// hmasim evaluates, or knows to be irrelevant to the verdict, that the reader should
    /// still see.
    fn note(&mut self, at: &JPath, message: String) {
        let policy = self.policy.as_ref().map(|(name, _, _)| name.clone());
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

    /// A value hmasim does not know (a keyword newer than it, say) in a list of the
    /// policy: a located warning, recorded in the policy's `unmodelled` list, and never an
    /// error for the whole set. The caller reads the policy conservatively (it applies to
    /// fewer sign-ins and requires less), so a verdict that rests on it is NOT PROVEN,
    /// never wrongly CLEAN.
    fn unknown_value(&mut self, at: &JPath, what: &str, value: &str, choices: &[&str]) {
        let hint = closest(value, choices.iter().copied())
            .map(|c| format!(" (did you mean \"{c}\"?)"))
            .unwrap_or_default();
        self.warn(
            at,
            format!(
                "unknown {what} \"{value}\"{hint}: not modelled: the policy is read as {} \
                 (known values: {})",
                if what == "grant control" {
                    "requiring only the controls hmasim knows"
                } else {
                    "if it applied to fewer sign-ins"
                },
                choices.join(", ")
            ),
        );
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
        if let Some(cut) = truncated(v, at) {
            // Windows PowerShell's ConvertTo-Json stops at -Depth 2 by default and writes
            // what lies deeper as a string ("@{includeUsers=System.Object[]; ...}"): the
            // policy's conditions are lost, so it is kept but evaluated as applying to no
            // sign-in, and a verdict that needs it is NOT PROVEN.
            self.warn(
                &cut,
                "truncated by ConvertTo-Json (its -Depth, 2 by default, was too small): \
                 not modelled: the policy is not evaluated; export again with \
                 `ConvertTo-Json -Depth 10`"
                    .to_string(),
            );
            let state = m
                .get("state")
                .and_then(Value::as_str)
                .and_then(|s| {
                    CaState::ALL
                        .iter()
                        .find(|x| x.as_str().eq_ignore_ascii_case(s))
                })
                .copied()
                .unwrap_or_default();
            let mut p = CaPolicy::new(name, Vec::new());
            p.state = state;
            p.include_users = Vec::new();
            p.include_applications = Vec::new();
            p.unmodelled = self.policy.take().map(|p| p.2).unwrap_or_default();
            return Ok(p);
        }
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
        p.id = m.get("id").and_then(Value::as_str).map(str::to_string);
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
                            if sk == "signInFrequency" {
                                p.sign_in_frequency = self.sign_in_frequency(sv, &here.key(sk))?;
                                continue;
                            }
                            if !is_annotation(sk) && configured(sv) {
                                // Sign-in frequency, persistent browser, continuous access
                                // evaluation, app-enforced restrictions: they shape sessions
                                // after access is granted, never whether a password alone
                                // is granted it.
                                self.note(
                                    &here.key(sk),
                                    "session control: no effect on single-factor reachability \
                                     (it shapes the session once access is granted)"
                                        .to_string(),
                                );
                            }
                        }
                    }
                }
                k if METADATA.contains(&k) || is_annotation(k) => {}
                _ => self.unmodelled(&here, v),
            }
        }
        Ok(p)
    }

    /// `sessionControls.signInFrequency` (Graph's `signInFrequencySessionControl`):
    /// `isEnabled`, `frequencyInterval` (`timeBased` with `value` and `type` hours or
    /// days, or `everyTime`) and `authenticationType` (both kinds mean an interactive
    /// sign-in again for a refresh token, so both are read alike). Enforced by Entra ID in
    /// runs; a value newer than hmasim is a located note and enforces nothing (it only
    /// shortens sessions, so the verdict does not rest on it).
    fn sign_in_frequency(
        &mut self,
        v: &Value,
        at: &JPath,
    ) -> Result<Option<hmasim_protocol::policy::SignInFrequency>, ScenarioError> {
        use hmasim_protocol::policy::SignInFrequency;
        if v.is_null() {
            return Ok(None);
        }
        let o = self.object(v, at, "a signInFrequencySessionControl object or null")?;
        let enabled_at = at.key("isEnabled");
        match o.get("isEnabled") {
            None | Some(Value::Null) | Some(Value::Bool(true)) => {}
            Some(Value::Bool(false)) => return Ok(None),
            Some(_) => return Err(self.error(&enabled_at, "expected true or false".into())),
        }
        let interval_at = at.key("frequencyInterval");
        let interval = match o.get("frequencyInterval").filter(|v| !v.is_null()) {
            Some(v) => self.string(v, &interval_at)?,
            None => "timeBased",
        };
        for k in o.keys() {
            if !matches!(
                k.as_str(),
                "isEnabled" | "frequencyInterval" | "value" | "type" | "authenticationType"
            ) && !is_annotation(k)
                && configured(&o[k])
            {
                self.note(
                    &at.key(k),
                    "not modelled: no effect on single-factor reachability (a session control)"
                        .into(),
                );
            }
        }
        match interval {
            "everyTime" => Ok(Some(SignInFrequency::EveryTime)),
            "timeBased" => {
                let value_at = at.key("value");
                let value = match self.required(o, at, "value")? {
                    Value::Number(n) if n.is_i64() => n.as_i64().unwrap_or(0),
                    _ => {
                        return Err(self
                            .error(&value_at, "expected a whole number of hours or days".into()))
                    }
                };
                let type_at = at.key("type");
                let unit = self.string(self.required(o, at, "type")?, &type_at)?;
                match unit {
                    "hours" | "days" => SignInFrequency::periodic(value, unit)
                        .map(Some)
                        .map_err(|e| self.error(&value_at, e)),
                    u => {
                        self.note(
                            &type_at,
                            format!(
                                "unknown sign-in frequency type \"{u}\" (known: hours, days): \
                                 not enforced in runs; no effect on single-factor reachability"
                            ),
                        );
                        Ok(None)
                    }
                }
            }
            other => {
                self.note(
                    &interval_at,
                    format!(
                        "unknown sign-in frequency interval \"{other}\" (known: timeBased, \
                         everyTime): not enforced in runs; no effect on single-factor reachability"
                    ),
                );
                Ok(None)
            }
        }
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
        const USER_KEYWORDS: [&str; 3] = ["All", "None", "GuestsOrExternalUsers"];
        let user_list = |r: &mut Self, key: &str| -> Result<Vec<String>, ScenarioError> {
            let mut out = Vec::new();
            for (vp, s) in r.strings(users, &users_at, key)? {
                if USER_KEYWORDS.contains(&s.as_str()) || is_guid(&s) || s.contains('@') {
                    out.push(s);
                } else {
                    r.unknown_value(
                        &vp,
                        "user",
                        &s,
                        &["All", "None", "GuestsOrExternalUsers", "a user id", "a UPN"],
                    );
                    // An unknown exclusion may exclude anyone: read it as excluding
                    // everyone, so the policy never applies more than Entra's would.
                    if key.starts_with("exclude") {
                        out.push("All".to_string());
                    }
                }
            }
            Ok(out)
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
        p.include_guests = self.guests(users, &users_at, "includeGuestsOrExternalUsers")?;
        p.exclude_guests = self.guests(users, &users_at, "excludeGuestsOrExternalUsers")?;
        for (k, v) in users {
            if !matches!(
                k.as_str(),
                "includeUsers"
                    | "excludeUsers"
                    | "includeGroups"
                    | "excludeGroups"
                    | "includeRoles"
                    | "excludeRoles"
                    | "includeGuestsOrExternalUsers"
                    | "excludeGuestsOrExternalUsers"
            ) && !is_annotation(k)
            {
                self.unmodelled(&users_at.key(k), v);
            }
        }
        // Applications.
        let apps_at = at.key("applications");
        let apps = self.object(self.required(c, at, "applications")?, &apps_at, "an object")?;
        let app_list = |r: &mut Self, key: &str| -> Result<Vec<String>, ScenarioError> {
            let mut out = Vec::new();
            for (vp, s) in r.strings(apps, &apps_at, key)? {
                if ["All", "None", "Office365", "MicrosoftAdminPortals"].contains(&s.as_str())
                    || is_guid(&s)
                {
                    out.push(s);
                } else {
                    r.unknown_value(
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
                    );
                    if key.starts_with("exclude") {
                        out.push("All".to_string());
                    }
                }
            }
            Ok(out)
        };
        p.include_applications = app_list(self, "includeApplications")?;
        p.exclude_applications = app_list(self, "excludeApplications")?;
        // User actions: registering security information and registering or joining
        // devices are modelled; any other user action is not.
        for (vp, s) in self.strings(apps, &apps_at, "includeUserActions")? {
            if s.eq_ignore_ascii_case(hmasim_protocol::policy::REGISTER_SECURITY_INFO)
                || s.eq_ignore_ascii_case(hmasim_protocol::policy::REGISTER_DEVICE)
            {
                p.include_user_actions.push(s);
            } else {
                self.unmodelled(&vp, &serde_json::Value::String(s));
            }
        }
        for (k, v) in apps {
            if !matches!(
                k.as_str(),
                "includeApplications" | "excludeApplications" | "includeUserActions"
            ) && !is_annotation(k)
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
            match types.iter().find(|(n, _)| n.eq_ignore_ascii_case(s)) {
                Some((_, t)) => p.client_app_types.push(*t),
                None => {
                    let names: Vec<&str> = types.iter().map(|(n, _)| *n).collect();
                    self.unknown_value(&vp, "client app type", s, &names);
                }
            }
        }
        if raw.is_empty() {
            // Not configured: every client app. (A list of unknown types alone selects
            // none that hmasim knows.)
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
            let names: Vec<&str> = platforms.iter().map(|(n, _)| *n).collect();
            let read =
                |r: &mut Self, key: &str| -> Result<(Vec<DevicePlatform>, bool), ScenarioError> {
                    let mut out = Vec::new();
                    let mut unknown = false;
                    for (vp, s) in r.strings(plats, &plat_at, key)? {
                        match platforms.iter().find(|(n, _)| n.eq_ignore_ascii_case(&s)) {
                            Some((_, d)) => out.push(*d),
                            None => {
                                r.unknown_value(&vp, "device platform", &s, &names);
                                unknown = true;
                            }
                        }
                    }
                    Ok((out, unknown))
                };
            let (include, inc_unknown) = read(self, "includePlatforms")?;
            let (exclude, exc_unknown) = read(self, "excludePlatforms")?;
            p.include_platforms = include;
            p.exclude_platforms = exclude;
            // An unknown platform in the list: read the policy as applying to no platform
            // rather than to more than Entra would (an emptied include list would mean
            // "not configured").
            if exc_unknown || (inc_unknown && p.include_platforms.is_empty()) {
                p.exclude_platforms = vec![DevicePlatform::All];
            }
            for (k, v) in plats {
                if !matches!(k.as_str(), "includePlatforms" | "excludePlatforms")
                    && !is_annotation(k)
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
                    && !is_annotation(k)
                {
                    self.unmodelled(&loc_at.key(k), v);
                }
            }
        }
        // Devices: the filter for devices (and the deprecated device states).
        let dev_at = at.key("devices");
        if let Some(v) = c.get("devices").filter(|v| !v.is_null()) {
            let devices = self.object(v, &dev_at, "an object or null")?;
            self.devices(p, devices, &dev_at)?;
        }
        // Authentication flows.
        let flows_at = at.key("authenticationFlows");
        if let Some(v) = c.get("authenticationFlows").filter(|v| !v.is_null()) {
            let flows = self.object(v, &flows_at, "an object or null")?;
            self.authentication_flows(p, flows, &flows_at)?;
        }
        // Risk levels (Entra ID Protection; insider risk from Purview's adaptive
        // protection).
        self.risk_levels(p, c, at)?;
        // Everything else: client applications, times... not modelled.
        for (k, v) in c {
            if !matches!(
                k.as_str(),
                "users"
                    | "applications"
                    | "clientAppTypes"
                    | "platforms"
                    | "locations"
                    | "devices"
                    | "authenticationFlows"
                    | "signInRiskLevels"
                    | "userRiskLevels"
                    | "insiderRiskLevels"
            ) && !is_annotation(k)
            {
                self.unmodelled(&at.key(k), v);
            }
        }
        Ok(())
    }

    /// `conditions.devices`: `deviceFilter {mode, rule}`, evaluated (see
    /// [`hmasim_protocol::device`]); the deprecated `includeDevices` / `excludeDevices`
    /// (and `*DeviceStates`) are read as the filter they stand for (`All`; `Compliant`,
    /// `DomainJoined`). A rule that does not parse, or a mode hmasim does not know, is a
    /// located warning for this policy (its filter is then not evaluated: the policy is
    /// read as if it matched every device, and a path it applies to is NOT PROVEN).
    fn devices(
        &mut self,
        p: &mut CaPolicy,
        d: &Map<String, Value>,
        at: &JPath,
    ) -> Result<(), ScenarioError> {
        use hmasim_protocol::device::{DeviceFilter, FilterMode, Rule};
        let mut legacy_excluded: Vec<&'static str> = Vec::new();
        for (k, v) in d {
            let here = at.key(k);
            match k.as_str() {
                "deviceFilter" if !v.is_null() => {
                    let f = self.object(v, &here, "a conditionalAccessFilter object or null")?;
                    let mode_at = here.key("mode");
                    let mode = self.string(self.required(f, &here, "mode")?, &mode_at)?;
                    let rule_at = here.key("rule");
                    let rule = self.string(self.required(f, &here, "rule")?, &rule_at)?;
                    for (fk, fv) in f {
                        if !matches!(fk.as_str(), "mode" | "rule") && !is_annotation(fk) {
                            self.unmodelled(&here.key(fk), fv);
                        }
                    }
                    let mode = match mode.to_ascii_lowercase().as_str() {
                        "include" => FilterMode::Include,
                        "exclude" => FilterMode::Exclude,
                        _ => {
                            self.warn(
                                &mode_at,
                                format!(
                                    "unknown filter mode \"{mode}\" (known: include, exclude): \
                                     not modelled: {}",
                                    consequence("conditions.")
                                ),
                            );
                            continue;
                        }
                    };
                    match Rule::parse(rule) {
                        Ok(rule) => p.device_filter = Some(DeviceFilter { mode, rule }),
                        Err(e) => self.warn(
                            &rule_at,
                            format!(
                                "the filter for devices does not parse ({e}): not modelled: {}",
                                consequence("conditions.")
                            ),
                        ),
                    }
                }
                "includeDevices" | "includeDeviceStates" => {
                    for (vp, s) in self.strings(d, at, k)? {
                        if !s.eq_ignore_ascii_case("All") {
                            self.unknown_value(&vp, "device state", &s, &["All"]);
                        }
                    }
                }
                "excludeDevices" | "excludeDeviceStates" => {
                    for (vp, s) in self.strings(d, at, k)? {
                        match s.to_ascii_lowercase().as_str() {
                            "compliant" => legacy_excluded.push(r#"device.isCompliant -eq True"#),
                            "domainjoined" => {
                                legacy_excluded.push(r#"device.trustType -eq "ServerAD""#)
                            }
                            _ => self.unknown_value(
                                &vp,
                                "device state",
                                &s,
                                &["Compliant", "DomainJoined"],
                            ),
                        }
                    }
                }
                k if is_annotation(k) => {}
                _ => self.unmodelled(&here, v),
            }
        }
        if p.device_filter.is_none() && !legacy_excluded.is_empty() {
            legacy_excluded.dedup();
            let rule = Rule::parse(&legacy_excluded.join(" -or ")).expect("constant rules parse");
            p.device_filter = Some(DeviceFilter {
                mode: FilterMode::Exclude,
                rule,
            });
        }
        Ok(())
    }

    /// `conditions.authenticationFlows.transferMethods`: a comma-separated list of
    /// `deviceCodeFlow` and `authenticationTransfer`. The policy then applies only to
    /// sign-ins that use one of them. An unknown method is a located warning and is kept
    /// as written: it matches no flow hmasim models (the policy applies to fewer
    /// sign-ins).
    fn authentication_flows(
        &mut self,
        p: &mut CaPolicy,
        f: &Map<String, Value>,
        at: &JPath,
    ) -> Result<(), ScenarioError> {
        use hmasim_protocol::device::TRANSFER_METHODS;
        for (k, v) in f {
            let here = at.key(k);
            match k.as_str() {
                "transferMethods" => {
                    if v.is_null() {
                        continue;
                    }
                    let list = self.string(v, &here)?;
                    for m in list.split(',').map(str::trim).filter(|m| !m.is_empty()) {
                        match TRANSFER_METHODS.iter().find(|t| t.eq_ignore_ascii_case(m)) {
                            Some(t) => p.transfer_methods.push(t.to_string()),
                            None => {
                                self.unknown_value(
                                    &here,
                                    "authentication flow",
                                    m,
                                    &TRANSFER_METHODS,
                                );
                                p.transfer_methods.push(m.to_string());
                            }
                        }
                    }
                }
                k if is_annotation(k) => {}
                _ => self.unmodelled(&here, v),
            }
        }
        Ok(())
    }

    /// `signInRiskLevels`, `userRiskLevels` (Graph's `riskLevel` collection: `low`,
    /// `medium`, `high`, `hidden`, `none`, `unknownFutureValue`) and `insiderRiskLevels`
    /// (a flags enum, `minor,moderate,elevated`, written as one comma-separated string or
    /// as a list). `hidden` and `unknownFutureValue` are not levels a sign-in is scored
    /// at: each is reported, and matches no sign-in; a list of nothing else makes the
    /// policy apply to no sign-in (never to more than Entra would).
    fn risk_levels(
        &mut self,
        p: &mut CaPolicy,
        c: &Map<String, Value>,
        at: &JPath,
    ) -> Result<(), ScenarioError> {
        let mut unmatched = false;
        for key in ["signInRiskLevels", "userRiskLevels"] {
            let mut out = Vec::new();
            let list = self.strings(c, at, key)?;
            let any = !list.is_empty();
            for (vp, s) in list {
                match RiskLevel::parse(&s) {
                    Some(l) => {
                        if !out.contains(&l) {
                            out.push(l)
                        }
                    }
                    None if s == "hidden" || s == "unknownFutureValue" => self.warn(
                        &vp,
                        format!(
                            "risk level \"{s}\" is not a level hmasim scores a sign-in at: \
                             not modelled: it matches no sign-in"
                        ),
                    ),
                    None => self.unknown_value(
                        &vp,
                        "risk level",
                        &s,
                        &[
                            "none",
                            "low",
                            "medium",
                            "high",
                            "hidden",
                            "unknownFutureValue",
                        ],
                    ),
                }
            }
            unmatched |= any && out.is_empty();
            if key == "signInRiskLevels" {
                p.sign_in_risk_levels = out;
            } else {
                p.user_risk_levels = out;
            }
        }
        let key = "insiderRiskLevels";
        let iat = at.key(key);
        let raw: Vec<(JPath, String)> = match c.get(key) {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::String(s)) => s
                .split(',')
                .map(str::trim)
                .filter(|t| !t.is_empty())
                .map(|t| (iat.clone(), t.to_string()))
                .collect(),
            Some(_) => self.strings(c, at, key)?,
        };
        let any = !raw.is_empty();
        let mut out = Vec::new();
        for (vp, s) in raw {
            match InsiderRiskLevel::parse(&s) {
                Some(l) => {
                    if !out.contains(&l) {
                        out.push(l)
                    }
                }
                None => self.unknown_value(
                    &vp,
                    "insider risk level",
                    &s,
                    &["minor", "moderate", "elevated"],
                ),
            }
        }
        unmatched |= any && out.is_empty();
        p.insider_risk_levels = out;
        if unmatched {
            p.exclude_platforms = vec![DevicePlatform::All];
        }
        Ok(())
    }

    /// `includeGuestsOrExternalUsers` / `excludeGuestsOrExternalUsers`: the guest and
    /// external user types (`guestOrExternalUserTypes`, comma-separated). Guests of every
    /// external tenant (`externalTenants.membershipKind` `all`) are modelled; a list of
    /// tenants is not (the scenario's guests name no home tenant): an include then selects
    /// no guest and an exclude excludes every guest, and the policy is marked.
    fn guests(
        &mut self,
        users: &Map<String, Value>,
        users_at: &JPath,
        key: &str,
    ) -> Result<Vec<String>, ScenarioError> {
        let at = users_at.key(key);
        let Some(v) = users.get(key).filter(|v| !v.is_null()) else {
            return Ok(Vec::new());
        };
        let o = self.object(v, &at, "an object or null")?;
        let types_at = at.key("guestOrExternalUserTypes");
        let raw = match o.get("guestOrExternalUserTypes") {
            None | Some(Value::Null) => "",
            Some(t) => self.string(t, &types_at)?,
        };
        let mut out = Vec::new();
        for t in raw.split(',').map(str::trim).filter(|t| !t.is_empty()) {
            match GUEST_TYPES.iter().find(|g| g.eq_ignore_ascii_case(t)) {
                Some(g) => out.push(g.to_string()),
                None => {
                    self.unknown_value(&types_at, "guest or external user type", t, &GUEST_TYPES);
                    if key.starts_with("exclude") {
                        out.push("all".to_string());
                    }
                }
            }
        }
        let tenants_at = at.key("externalTenants");
        if let Some(t) = o.get("externalTenants").filter(|v| !v.is_null()) {
            let t = self.object(t, &tenants_at, "an object or null")?;
            match t.get("membershipKind").and_then(Value::as_str) {
                None | Some("all") => {}
                Some(kind) => {
                    self.warn(
                        &tenants_at.key("membershipKind"),
                        format!(
                            "guests of listed external tenants (membershipKind \"{kind}\"): not \
                             modelled: read as {}",
                            if key.starts_with("exclude") {
                                "excluding every guest"
                            } else {
                                "including no guest"
                            }
                        ),
                    );
                    out = if key.starts_with("exclude") {
                        vec!["all".to_string()]
                    } else {
                        Vec::new()
                    };
                }
            }
        }
        Ok(out)
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
                Some(n) => {
                    if let Some(why) = n.unmodelled.clone() {
                        self.warn(&vp, format!("location \"{}\": {why}", n.name));
                    }
                    out.push(n.name.clone())
                }
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
                    match known.iter().find(|(n, _)| n.eq_ignore_ascii_case(&s)) {
                        Some((_, c)) => {
                            if !p.grant.contains(c) {
                                p.grant.push(*c);
                            }
                        }
                        // Read as requiring nothing more: a verdict that needs it is NOT
                        // PROVEN.
                        None => self.unknown_value(&vp, "grant control", &s, &names),
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
        if let Some(sv) = g.get("authenticationStrength").filter(|v| !v.is_null()) {
            self.strength(p, sv, &at.key("authenticationStrength"))?;
        }
        for (k, v) in g {
            if !matches!(
                k.as_str(),
                "builtInControls" | "operator" | "authenticationStrength"
            ) && !is_annotation(k)
            {
                self.unmodelled(&at.key(k), v);
            }
        }
        Ok(())
    }

    /// `grantControls.authenticationStrength`, combined with the built-in controls under the
    /// policy's operator, as Entra does. A strength is satisfied by the method combinations
    /// it allows: hmasim's users sign in with a password and approve Entra MFA's push
    /// (`password,microsoftAuthenticatorPush`) or AD FS's MFA (`federatedMultiFactor`), and
    /// an attacker holds only the password (`password`). So a strength that allows a
    /// single-factor combination is satisfied by the password alone; one that allows what
    /// hmasim's users do is MFA; one that allows neither (passwordless, phishing-resistant)
    /// is a control no simulated sign-in can satisfy.
    fn strength(&mut self, p: &mut CaPolicy, v: &Value, at: &JPath) -> Result<(), ScenarioError> {
        let o = self.object(v, at, "an authenticationStrengthPolicy object or null")?;
        let id = o.get("id").and_then(Value::as_str).unwrap_or("");
        let name = o
            .get("displayName")
            .and_then(Value::as_str)
            .unwrap_or(id)
            .to_string();
        let mut combos: Vec<String> = self
            .strings(o, at, "allowedCombinations")?
            .into_iter()
            .map(|(_, s)| s)
            .collect();
        if combos.is_empty() {
            combos = match builtin_strength(id) {
                Some(c) => c.iter().map(|s| s.to_string()).collect(),
                None => {
                    self.warn(
                        at,
                        format!(
                            "authentication strength \"{name}\" without its allowedCombinations \
                             (export it with them): not modelled: hmasim does not require it"
                        ),
                    );
                    return Ok(());
                }
            };
        }
        let has = |c: &str| combos.iter().any(|x| x.eq_ignore_ascii_case(c));
        let single = SINGLE_FACTOR_COMBINATIONS.iter().find(|c| has(c));
        let mfa = has("password,microsoftAuthenticatorPush") || has("federatedMultiFactor");
        let and = p.operator == Operator::And;
        match (single, mfa) {
            (Some(c), _) => {
                self.note(
                    at,
                    format!(
                        "authentication strength \"{name}\" allows the single-factor \
                         combination \"{c}\": a password alone satisfies it"
                    ),
                );
                // Satisfied by any sign-in: under OR the policy requires nothing; under AND
                // it adds nothing.
                if !and {
                    p.grant.clear();
                }
            }
            (None, true) => {
                if !p.grant.contains(&GrantControl::Mfa) {
                    p.grant.push(GrantControl::Mfa);
                }
            }
            (None, false) => {
                self.note(
                    at,
                    format!(
                        "authentication strength \"{name}\" allows only methods no simulated \
                         user holds ({}): no sign-in satisfies it",
                        combos.join("; ")
                    ),
                );
                if and || p.grant.is_empty() {
                    p.grant = vec![GrantControl::Block];
                }
            }
        }
        Ok(())
    }
}

/// The byte offset and width of the value at the dotted scenario `path` (`users.0.guest`,
/// `timeline.0.client`) in the JSON text `src`: how a validation error of a JSON scenario
/// file is placed, whatever escapes the value is written with.
pub(crate) fn locate_dotted(src: &str, path: &str) -> Option<(usize, usize)> {
    let segs: Vec<Seg> = path
        .split('.')
        .map(|p| match p.parse::<usize>() {
            Ok(i) => Seg::Index(i),
            Err(_) => Seg::Key(p.to_string()),
        })
        .collect();
    locate(src, &segs)
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
                // Of duplicate keys serde_json keeps the last, so the value read is the
                // last one's: the whole object is scanned.
                let mut found = None;
                loop {
                    i = skip_ws(b, i);
                    if b.get(i) != Some(&b'"') {
                        break;
                    }
                    let end = skip_string(b, i);
                    let key: String = serde_json::from_str(src.get(i..end)?).ok()?;
                    i = skip_ws(b, end);
                    if b.get(i) != Some(&b':') {
                        return None;
                    }
                    i = skip_ws(b, i + 1);
                    if key == *k {
                        found = Some(i);
                    }
                    i = skip_ws(b, skip_value(b, i));
                    if b.get(i) != Some(&b',') {
                        break;
                    }
                    i += 1;
                }
                i = found?;
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

/// Named locations read from Microsoft Graph `namedLocation` exports, and what was
/// reported while reading them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GraphLocations {
    /// The locations, in document order (files in file-name order).
    pub locations: Vec<NamedLocation>,
    /// Warnings, in document order.
    pub warnings: Vec<GraphWarning>,
}

/// Reads Graph `namedLocation` JSON (`ipNamedLocation`, `countryNamedLocation`) from a
/// file, or from every `*.json` file of a directory in file-name order, in every shape
/// [`read_graph`] takes (one object, an array, a `value` list; UTF-8 or UTF-16).
pub fn read_named_locations(path: &Path) -> Result<GraphLocations, ScenarioError> {
    let mut out = GraphLocations::default();
    for_each_source(
        path,
        "namedLocation",
        "the named-location file",
        |src, shown| {
            let one = parse_named_locations(src, shown)?;
            out.locations.extend(one.locations);
            out.warnings.extend(one.warnings);
            Ok(())
        },
    )?;
    Ok(out)
}

/// Reads Graph `namedLocation` JSON from `src`; `file` names it in errors and warnings.
/// IP locations give `ip_ranges` (IPv4 and IPv6 CIDR) and `trusted` (`isTrusted`);
/// country locations give `countries` (`countriesAndRegions`) and
/// `include_unknown_countries`. A kind hmasim does not model (a compliant network, or
/// countries looked up by the Authenticator app's GPS) is kept with
/// [`NamedLocation::unmodelled`] set and a warning: it matches no sign-in, and a policy
/// that names it is marked as not fully evaluated.
pub fn parse_named_locations(src: &str, file: &str) -> Result<GraphLocations, ScenarioError> {
    let (locations, warnings) = parse_documents(
        src,
        file,
        &[],
        &Resource {
            name: "namedLocation",
            plural: "locations",
            what: "named locations",
            single_keys: &["displayName"],
            item: |r, v, at| r.named_location(v, at),
        },
    )?;
    Ok(GraphLocations {
        locations,
        warnings,
    })
}

/// Replaces the scenario's named locations with those of `path`, as `--named-locations`
/// does. Returns the warnings.
pub fn replace_named_locations(
    sc: &mut Scenario,
    path: &Path,
) -> Result<Vec<GraphWarning>, ScenarioError> {
    let read = read_named_locations(path)?;
    sc.named_locations = read.locations;
    Ok(read.warnings)
}

impl Reader<'_> {
    fn named_location(&mut self, v: &Value, at: &JPath) -> Result<NamedLocation, ScenarioError> {
        let m = self.object(v, at, "a namedLocation object")?;
        let id_at = at.key("id");
        let id = self
            .string(self.required(m, at, "id")?, &id_at)?
            .to_string();
        let name_at = at.key("displayName");
        let name = self
            .string(self.required(m, at, "displayName")?, &name_at)?
            .to_string();
        if name.trim().is_empty() || id.trim().is_empty() {
            return Err(self.error(at, "the id and the display name must not be empty".into()));
        }
        let kind = m
            .get("@odata.type")
            .and_then(Value::as_str)
            .map(|t| {
                t.trim_start_matches('#')
                    .trim_start_matches("microsoft.graph.")
            })
            .map(str::to_string)
            .unwrap_or_else(|| {
                if m.contains_key("ipRanges") {
                    "ipNamedLocation".into()
                } else if m.contains_key("countriesAndRegions") {
                    "countryNamedLocation".into()
                } else {
                    String::new()
                }
            });
        let mut loc = NamedLocation {
            id,
            name,
            ..NamedLocation::default()
        };
        let bool_of = |r: &Self, key: &str| -> Result<bool, ScenarioError> {
            match m.get(key) {
                None | Some(Value::Null) => Ok(false),
                Some(Value::Bool(b)) => Ok(*b),
                Some(other) => Err(r.error(
                    &at.key(key),
                    format!("expected a boolean, found {}", describe(other)),
                )),
            }
        };
        let mut known: Vec<&str> = vec!["id", "displayName", "createdDateTime", "modifiedDateTime"];
        match kind.as_str() {
            "ipNamedLocation" => {
                known.extend(["ipRanges", "isTrusted"]);
                loc.trusted = bool_of(self, "isTrusted")?;
                let ranges_at = at.key("ipRanges");
                let ranges = match m.get("ipRanges") {
                    None | Some(Value::Null) => &Vec::new(),
                    Some(v) => self.array(v, &ranges_at, "an array of IP ranges")?,
                };
                for (i, r) in ranges.iter().enumerate() {
                    let rat = ranges_at.index(i);
                    let o = self.object(r, &rat, "an IP range object")?;
                    let cat = rat.key("cidrAddress");
                    let cidr = self.string(self.required(o, &rat, "cidrAddress")?, &cat)?;
                    let parsed = cidr
                        .parse::<hmasim_protocol::address::Cidr>()
                        .map_err(|e| self.error(&cat, e.to_string()))?;
                    loc.ip_ranges.push(parsed);
                }
            }
            "countryNamedLocation" => {
                known.extend([
                    "countriesAndRegions",
                    "includeUnknownCountriesAndRegions",
                    "countryLookupMethod",
                ]);
                loc.include_unknown_countries = bool_of(self, "includeUnknownCountriesAndRegions")?;
                for (vp, c) in self.strings(m, at, "countriesAndRegions")? {
                    if c.len() != 2 || !c.bytes().all(|b| b.is_ascii_alphabetic()) {
                        return Err(self.error(
                            &vp,
                            format!("\"{c}\" is not a country code (ISO 3166-1 alpha-2)"),
                        ));
                    }
                    loc.countries.push(c.to_ascii_uppercase());
                }
                let method_at = at.key("countryLookupMethod");
                match m.get("countryLookupMethod") {
                    None | Some(Value::Null) => {}
                    Some(v) => match self.string(v, &method_at)? {
                        "clientIpAddress" => {}
                        other => {
                            let why = format!(
                                "countries looked up by \"{other}\" (hmasim knows the sign-in's \
                                 address, not the Authenticator app's GPS): not modelled, the \
                                 location matches no sign-in"
                            );
                            self.warn(&method_at, why.clone());
                            loc.unmodelled = Some(why);
                        }
                    },
                }
            }
            other => {
                let why = format!(
                    "location kind \"{}\" is not modelled: it matches no sign-in",
                    if other.is_empty() { "unknown" } else { other }
                );
                self.warn(at, why.clone());
                loc.unmodelled = Some(why);
                return Ok(loc);
            }
        }
        for (k, v) in m {
            if !known.contains(&k.as_str()) && !is_annotation(k) && configured(v) {
                self.warn(&at.key(k), "not modelled: ignored".to_string());
            }
        }
        Ok(loc)
    }
}
