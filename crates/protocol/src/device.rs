//! Devices as Entra ID knows them: the attributes of a registered device object, the
//! Conditional Access filter for devices (`conditions.devices.deviceFilter`: its rule
//! language, parsed and evaluated), the device credential a registered device presents
//! on the wire, and the authentication flows of `conditions.authenticationFlows`.
//!
//! Semantics follow Microsoft's "Conditional Access: Filter for devices": the attributes
//! and the operators each supports, `-and` / `-or` and parentheses, string comparisons
//! that ignore case, `Contains` on a collection (`physicalIds`, `systemLabels`) matching a
//! whole element, and the policy behaviour for unregistered devices: a device absent from
//! the directory has every attribute null, so a positive operator (`-eq`, `-startsWith`,
//! `-endsWith`, `-contains`, `-in`) never matches it and a negative one (`-ne`,
//! `-notStartsWith`, `-notEndsWith`, `-notContains`, `-notIn`) always does. The
//! `extensionAttribute1..15` values are seen only on a device that is managed (an MDM app
//! id), compliant or hybrid joined (`ServerAD`); on any other registered device they are
//! null.
//!
//! ```
//! use hmasim_protocol::device::{DeviceRecord, Rule, TrustType};
//! let rule = Rule::parse(r#"device.trustType -ne "ServerAD" -and device.isCompliant -ne True"#).unwrap();
//! // An unregistered device: both negative comparisons match.
//! assert!(rule.matches(None));
//! let joined = DeviceRecord::new("11111111-2222-3333-4444-555555555555", TrustType::ServerAd);
//! assert!(!rule.matches(Some(&joined)));
//! assert!(Rule::parse("device.color -eq \"red\"").is_err());
//! ```

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::jwt::{self, Claims, SigningKey};

/// The header a registered device's sign-in carries its device credential in (the
/// primary refresh token cookie Windows' broker and the browser extension send to the
/// authorize endpoint).
pub static DEVICE_CREDENTIAL_HEADER: &http::HeaderName =
    &crate::headers::X_MS_REFRESH_TOKEN_CREDENTIAL;

/// The Device Registration Service's resource, as a token for it names its audience.
pub const DRS_RESOURCE: &str = "urn:ms-drs:enterpriseregistration.windows.net";
/// The Device Registration Service's host.
pub const DRS_HOST: &str = "enterpriseregistration.windows.net";
/// The path a client posts a device registration (Workplace join) to.
pub const DRS_ENROLL_PATH: &str = "/EnrollmentServer/device/";
/// The Microsoft Authentication Broker's client id: the app that signs in to the Device
/// Registration Service for a Workplace join.
pub const BROKER_CLIENT_ID: &str = "29d9ed98-a469-4536-ade2-f981bc1d605e";
/// Microsoft Intune's MDM application id (`mdmAppId` of an Intune-managed device).
pub const INTUNE_MDM_APP_ID: &str = "0000000a-0000-0000-c000-000000000000";

/// A device's trust type (`trustType`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum TrustType {
    /// Microsoft Entra registered (a personal device, Workplace join).
    #[serde(rename = "Workplace", alias = "workplace")]
    Workplace,
    /// Microsoft Entra joined.
    #[serde(rename = "AzureAD", alias = "azuread")]
    AzureAd,
    /// Microsoft Entra hybrid joined (joined to the on-premises domain too).
    #[serde(rename = "ServerAD", alias = "serverad")]
    ServerAd,
}

impl TrustType {
    /// Every value.
    pub const ALL: [TrustType; 3] = [
        TrustType::Workplace,
        TrustType::AzureAd,
        TrustType::ServerAd,
    ];
    /// The spelling of Entra's device object.
    pub const fn as_str(self) -> &'static str {
        match self {
            TrustType::Workplace => "Workplace",
            TrustType::AzureAd => "AzureAD",
            TrustType::ServerAd => "ServerAD",
        }
    }
    /// The value spelled `s` (case-insensitive).
    pub fn parse(s: &str) -> Option<TrustType> {
        Self::ALL
            .into_iter()
            .find(|t| t.as_str().eq_ignore_ascii_case(s))
    }
}

fn no() -> bool {
    false
}

/// A device object of the tenant's directory: what a filter for devices reads.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeviceRecord {
    /// `deviceId` (a GUID).
    pub id: String,
    /// `trustType`.
    pub trust_type: TrustType,
    /// `isCompliant` (Intune's compliance verdict).
    #[serde(default = "no")]
    pub is_compliant: bool,
    /// `displayName`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    /// `deviceOwnership` (`Personal` or `Company`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_ownership: Option<String>,
    /// `enrollmentProfileName`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enrollment_profile_name: Option<String>,
    /// `manufacturer`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub manufacturer: Option<String>,
    /// `mdmAppId`: the MDM that manages the device (Intune's is
    /// [`INTUNE_MDM_APP_ID`]); none for an unmanaged device.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mdm_app_id: Option<String>,
    /// `model`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// `operatingSystem`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operating_system: Option<String>,
    /// `operatingSystemVersion`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operating_system_version: Option<String>,
    /// `physicalIds`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub physical_ids: Vec<String>,
    /// `profileType` (`RegisteredDevice` when not set).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile_type: Option<String>,
    /// `systemLabels`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub system_labels: Vec<String>,
    /// `extensionAttribute1..15`, by number (`1` to `15`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub extension_attributes: BTreeMap<String, String>,
}

impl DeviceRecord {
    /// A device `id` of trust type `trust` with no other attribute set.
    pub fn new(id: impl Into<String>, trust: TrustType) -> Self {
        DeviceRecord {
            id: id.into(),
            trust_type: trust,
            is_compliant: false,
            display_name: None,
            device_ownership: None,
            enrollment_profile_name: None,
            manufacturer: None,
            mdm_app_id: None,
            model: None,
            operating_system: None,
            operating_system_version: None,
            physical_ids: Vec::new(),
            profile_type: None,
            system_labels: Vec::new(),
            extension_attributes: BTreeMap::new(),
        }
    }

    /// What is wrong with the record, if anything: the id is not a GUID, an extension
    /// attribute number is outside 1 to 15.
    pub fn problem(&self) -> Option<String> {
        if !is_guid(&self.id) {
            return Some(format!("device id \"{}\" is not a GUID", self.id));
        }
        self.extension_attributes
            .keys()
            .find(|k| !matches!(k.parse::<u8>(), Ok(1..=15)))
            .map(|k| format!("extension attribute \"{k}\" is not a number from 1 to 15"))
    }

    /// Whether the values of `extensionAttribute1..15` are available at evaluation: the
    /// device is managed by an MDM, compliant or hybrid joined.
    pub fn extension_attributes_visible(&self) -> bool {
        self.mdm_app_id.is_some() || self.is_compliant || self.trust_type == TrustType::ServerAd
    }
}

/// Whether `s` is a GUID (8-4-4-4-12 hexadecimal digits).
pub fn is_guid(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    parts.len() == 5
        && parts
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(p, n)| p.len() == n && p.chars().all(|c| c.is_ascii_hexdigit()))
}

/// A deterministic device id (a GUID) for `name` in a world seeded with `seed`: what the
/// world builder gives a scenario device that names no id.
pub fn derived_id(name: &str, seed: u64) -> String {
    let k = SigningKey::derive(&format!("device-id {name}"), 1, seed);
    let hex: String = k
        .kid
        .bytes()
        .map(|b| format!("{:02x}", b))
        .collect::<String>();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

/// The device credential of device `id` registered to `upn` in a world seeded with
/// `seed`: a compact JWT signed with the device's own key (derived from the seed, which
/// only the device and the directory know), naming the device in `uti`. An attacker
/// who holds only the password cannot make one.
pub fn credential(id: &str, upn: &str, seed: u64) -> String {
    let claims = Claims {
        aud: DRS_RESOURCE.to_string(),
        iss: "device".to_string(),
        iat: crate::EPOCH_UNIX,
        nbf: crate::EPOCH_UNIX,
        exp: crate::EPOCH_UNIX + 10 * 365 * 86_400,
        amr: Vec::new(),
        appid: BROKER_CLIENT_ID.to_string(),
        scp: String::new(),
        tid: String::new(),
        upn: upn.to_ascii_lowercase(),
        uti: id.to_ascii_lowercase(),
    };
    jwt::sign(
        &claims,
        &SigningKey::derive(&format!("device {id}"), 1, seed),
    )
}

/// The device id a presented credential proves, when it is one [`credential`] made in a
/// world seeded with `seed` (its signature is checked by computing it again).
pub fn credential_device(value: &str, seed: u64) -> Option<String> {
    let (_, claims) = jwt::decode_unverified(value).ok()?;
    (credential(&claims.uti, &claims.upn, seed) == value).then_some(claims.uti)
}

/// The operating system a device registration reports, from the client's User-Agent
/// (`None` when it names none hmasim knows).
pub fn os_of_user_agent(ua: &str) -> Option<&'static str> {
    let has = |s: &str| ua.contains(s);
    if has("iPhone") || has("iPad") || has("Outlook-iOS") {
        Some("iOS")
    } else if has("Android") {
        Some("Android")
    } else if has("Windows") {
        Some("Windows")
    } else if has("Mac") {
        Some("MacMDM")
    } else if has("Linux") {
        Some("Linux")
    } else {
        None
    }
}

/// The attributes a filter for devices can read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Attr {
    /// `deviceId`.
    DeviceId,
    /// `displayName`.
    DisplayName,
    /// `deviceOwnership`.
    DeviceOwnership,
    /// `enrollmentProfileName`.
    EnrollmentProfileName,
    /// `isCompliant`.
    IsCompliant,
    /// `manufacturer`.
    Manufacturer,
    /// `mdmAppId`.
    MdmAppId,
    /// `model`.
    Model,
    /// `operatingSystem`.
    OperatingSystem,
    /// `operatingSystemVersion`.
    OperatingSystemVersion,
    /// `physicalIds` (a collection).
    PhysicalIds,
    /// `profileType`.
    ProfileType,
    /// `systemLabels` (a collection).
    SystemLabels,
    /// `trustType`.
    TrustType,
    /// `extensionAttribute1..15`.
    ExtensionAttribute(u8),
}

const NAMED_ATTRS: [(&str, Attr); 14] = [
    ("deviceId", Attr::DeviceId),
    ("displayName", Attr::DisplayName),
    ("deviceOwnership", Attr::DeviceOwnership),
    ("enrollmentProfileName", Attr::EnrollmentProfileName),
    ("isCompliant", Attr::IsCompliant),
    ("manufacturer", Attr::Manufacturer),
    ("mdmAppId", Attr::MdmAppId),
    ("model", Attr::Model),
    ("operatingSystem", Attr::OperatingSystem),
    ("operatingSystemVersion", Attr::OperatingSystemVersion),
    ("physicalIds", Attr::PhysicalIds),
    ("profileType", Attr::ProfileType),
    ("systemLabels", Attr::SystemLabels),
    ("trustType", Attr::TrustType),
];

impl Attr {
    fn parse(name: &str) -> Option<Attr> {
        if let Some(n) = name
            .get(..18)
            .filter(|p| p.eq_ignore_ascii_case("extensionAttribute"))
            .map(|_| &name[18..])
        {
            return n
                .parse::<u8>()
                .ok()
                .filter(|n| (1..=15).contains(n))
                .map(Attr::ExtensionAttribute);
        }
        // Older documentation spells the physical ids `devicePhysicalIDs`.
        if name.eq_ignore_ascii_case("devicePhysicalIds") {
            return Some(Attr::PhysicalIds);
        }
        NAMED_ATTRS
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, a)| *a)
    }

    /// The operators the documentation lists for the attribute.
    fn supports(self, op: Op) -> bool {
        use Op::*;
        match self {
            Attr::DeviceId | Attr::MdmAppId => matches!(op, Eq | Ne | In | NotIn),
            Attr::DeviceOwnership | Attr::IsCompliant | Attr::ProfileType | Attr::TrustType => {
                matches!(op, Eq | Ne)
            }
            Attr::PhysicalIds | Attr::SystemLabels => matches!(op, Contains | NotContains),
            _ => true,
        }
    }
}

/// The comparison operators of the rule language.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    /// `-eq`.
    Eq,
    /// `-ne`.
    Ne,
    /// `-startsWith`.
    StartsWith,
    /// `-notStartsWith`.
    NotStartsWith,
    /// `-endsWith`.
    EndsWith,
    /// `-notEndsWith`.
    NotEndsWith,
    /// `-contains`.
    Contains,
    /// `-notContains`.
    NotContains,
    /// `-in`.
    In,
    /// `-notIn`.
    NotIn,
}

const OPS: [(&str, Op); 10] = [
    ("eq", Op::Eq),
    ("ne", Op::Ne),
    ("startsWith", Op::StartsWith),
    ("notStartsWith", Op::NotStartsWith),
    ("endsWith", Op::EndsWith),
    ("notEndsWith", Op::NotEndsWith),
    ("contains", Op::Contains),
    ("notContains", Op::NotContains),
    ("in", Op::In),
    ("notIn", Op::NotIn),
];

impl Op {
    /// Whether the operator is negative (`-ne`, `-notStartsWith`...): on a null value
    /// (an unregistered device) it matches.
    pub fn negative(self) -> bool {
        matches!(
            self,
            Op::Ne | Op::NotStartsWith | Op::NotEndsWith | Op::NotContains | Op::NotIn
        )
    }
    /// The positive operator this one negates (itself when positive).
    fn positive(self) -> Op {
        match self {
            Op::Ne => Op::Eq,
            Op::NotStartsWith => Op::StartsWith,
            Op::NotEndsWith => Op::EndsWith,
            Op::NotContains => Op::Contains,
            Op::NotIn => Op::In,
            p => p,
        }
    }
}

/// A rule's value: a string, a boolean, or a list of strings (for `-in` / `-notIn`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Value {
    /// A string.
    Str(String),
    /// `True` or `False`.
    Bool(bool),
    /// `["a", "b"]`.
    List(Vec<String>),
}

/// A parsed rule expression.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Expr {
    /// `device.ATTR -OP VALUE`.
    Cmp(Attr, Op, Value),
    /// Every operand holds.
    And(Vec<Expr>),
    /// One operand holds.
    Or(Vec<Expr>),
}

/// Why a rule does not parse: what, and where (a byte offset into the rule).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RuleError {
    /// Byte offset of the problem in the rule text.
    pub offset: usize,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for RuleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "at character {}: {}", self.offset + 1, self.message)
    }
}

impl std::error::Error for RuleError {}

/// A filter-for-devices rule: its text and its parsed expression. Serialized as its text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rule {
    text: String,
    expr: Expr,
}

/// The longest rule Entra accepts (characters).
pub const MAX_RULE_CHARS: usize = 3072;

struct Parser<'a> {
    s: &'a str,
    i: usize,
}

impl<'a> Parser<'a> {
    fn err<T>(&self, at: usize, message: impl Into<String>) -> Result<T, RuleError> {
        Err(RuleError {
            offset: at,
            message: message.into(),
        })
    }
    fn ws(&mut self) {
        while let Some(c) = self.s[self.i..].chars().next() {
            if c.is_whitespace() {
                self.i += c.len_utf8();
            } else {
                break;
            }
        }
    }
    fn peek(&mut self) -> Option<char> {
        self.ws();
        self.s[self.i..].chars().next()
    }
    /// A word of letters, digits, `_` and `.` at the cursor.
    fn word(&mut self) -> &'a str {
        self.ws();
        let start = self.i;
        while let Some(c) = self.s[self.i..].chars().next() {
            if c.is_ascii_alphanumeric() || c == '_' || c == '.' {
                self.i += 1;
            } else {
                break;
            }
        }
        &self.s[start..self.i]
    }
    /// `-and` / `-or` at the cursor (consumed when it is `want`).
    fn keyword(&mut self, want: &str) -> bool {
        self.ws();
        let save = self.i;
        if self.s[self.i..].starts_with('-') {
            self.i += 1;
            let w = self.word();
            if w.eq_ignore_ascii_case(want) {
                return true;
            }
        }
        self.i = save;
        false
    }
    fn or(&mut self) -> Result<Expr, RuleError> {
        let mut parts = vec![self.and()?];
        while self.keyword("or") {
            parts.push(self.and()?);
        }
        Ok(if parts.len() == 1 {
            parts.remove(0)
        } else {
            Expr::Or(parts)
        })
    }
    fn and(&mut self) -> Result<Expr, RuleError> {
        let mut parts = vec![self.primary()?];
        while self.keyword("and") {
            parts.push(self.primary()?);
        }
        Ok(if parts.len() == 1 {
            parts.remove(0)
        } else {
            Expr::And(parts)
        })
    }
    fn primary(&mut self) -> Result<Expr, RuleError> {
        match self.peek() {
            Some('(') => {
                let open = self.i;
                self.i += 1;
                let e = self.or()?;
                if self.peek() != Some(')') {
                    return self.err(open, "this parenthesis is never closed");
                }
                self.i += 1;
                Ok(e)
            }
            None => self.err(self.i, "expected a comparison (device.ATTRIBUTE -OPERATOR VALUE), found the end of the rule"),
            _ => self.comparison(),
        }
    }
    fn comparison(&mut self) -> Result<Expr, RuleError> {
        self.ws();
        let at = self.i;
        let w = self.word();
        let Some(name) = w
            .get(..7)
            .filter(|p| p.eq_ignore_ascii_case("device."))
            .map(|_| &w[7..])
        else {
            return self.err(
                at,
                if w.is_empty() {
                    "expected device.ATTRIBUTE".to_string()
                } else {
                    format!("expected device.ATTRIBUTE, found \"{w}\"")
                },
            );
        };
        let Some(attr) = Attr::parse(name) else {
            let mut names: Vec<&str> = NAMED_ATTRS.iter().map(|(n, _)| *n).collect();
            names.push("extensionAttribute1..15");
            return self.err(
                at + 7,
                format!(
                    "unknown device attribute \"{name}\" (known: {})",
                    names.join(", ")
                ),
            );
        };
        self.ws();
        let op_at = self.i;
        if !self.s[self.i..].starts_with('-') {
            return self.err(
                op_at,
                "expected an operator such as -eq after the attribute",
            );
        }
        self.i += 1;
        let o = self.word();
        let Some(op) = OPS
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(o))
            .map(|(_, op)| *op)
        else {
            let names: Vec<String> = OPS.iter().map(|(n, _)| format!("-{n}")).collect();
            return self.err(
                op_at,
                format!("unknown operator \"-{o}\" (known: {})", names.join(", ")),
            );
        };
        if !attr.supports(op) {
            return self.err(
                op_at,
                format!("device.{name} does not support the operator -{o}"),
            );
        }
        let value = self.value()?;
        let val_at = op_at;
        let value = match (op, value) {
            (Op::In | Op::NotIn, Value::List(l)) => Value::List(l),
            (Op::In | Op::NotIn, _) => {
                return self.err(val_at, format!("-{o} takes a list such as [\"a\", \"b\"]"))
            }
            (_, Value::List(_)) => {
                return self.err(val_at, format!("-{o} takes one value, not a list"))
            }
            (_, Value::Str(s)) if attr == Attr::IsCompliant => {
                match s.to_ascii_lowercase().as_str() {
                    "true" => Value::Bool(true),
                    "false" => Value::Bool(false),
                    _ => return self.err(val_at, "device.isCompliant takes True or False"),
                }
            }
            (_, Value::Bool(_)) if attr != Attr::IsCompliant => {
                return self.err(
                    val_at,
                    format!("device.{name} takes a string, not a boolean"),
                )
            }
            (_, v) => v,
        };
        Ok(Expr::Cmp(attr, op, value))
    }
    fn string(&mut self) -> Result<String, RuleError> {
        let at = self.i;
        let q = self.s[self.i..].chars().next().unwrap_or('"');
        self.i += 1;
        match self.s[self.i..].find(q) {
            Some(end) => {
                let v = self.s[self.i..self.i + end].to_string();
                self.i += end + 1;
                Ok(v)
            }
            None => self.err(at, "this string is never closed"),
        }
    }
    fn value(&mut self) -> Result<Value, RuleError> {
        match self.peek() {
            Some('"' | '\'') => Ok(Value::Str(self.string()?)),
            Some('[') => {
                self.i += 1;
                let mut out = Vec::new();
                loop {
                    match self.peek() {
                        Some('"' | '\'') => out.push(self.string()?),
                        Some(']') if out.is_empty() => {}
                        _ => return self.err(self.i, "expected a quoted string in the list"),
                    }
                    match self.peek() {
                        Some(',') => self.i += 1,
                        Some(']') => {
                            self.i += 1;
                            return Ok(Value::List(out));
                        }
                        _ => return self.err(self.i, "expected , or ] in the list"),
                    }
                }
            }
            _ => {
                let at = self.i;
                let w = self.word();
                match w.to_ascii_lowercase().as_str() {
                    "true" => Ok(Value::Bool(true)),
                    "false" => Ok(Value::Bool(false)),
                    "" => self.err(
                        at,
                        "expected a value (a quoted string, True, False or a list)",
                    ),
                    _ => self.err(at, format!("expected a quoted string, found \"{w}\"")),
                }
            }
        }
    }
}

/// What an attribute holds on one device.
enum Held<'a> {
    One(Option<&'a str>),
    Many(&'a [String]),
    Flag(Option<bool>),
}

fn held(attr: Attr, d: Option<&DeviceRecord>) -> Held<'_> {
    let Some(d) = d else {
        return match attr {
            Attr::PhysicalIds | Attr::SystemLabels => Held::Many(&[]),
            Attr::IsCompliant => Held::Flag(None),
            _ => Held::One(None),
        };
    };
    match attr {
        Attr::DeviceId => Held::One(Some(&d.id)),
        Attr::DisplayName => Held::One(d.display_name.as_deref()),
        Attr::DeviceOwnership => Held::One(d.device_ownership.as_deref()),
        Attr::EnrollmentProfileName => Held::One(d.enrollment_profile_name.as_deref()),
        Attr::IsCompliant => Held::Flag(Some(d.is_compliant)),
        Attr::Manufacturer => Held::One(d.manufacturer.as_deref()),
        Attr::MdmAppId => Held::One(d.mdm_app_id.as_deref()),
        Attr::Model => Held::One(d.model.as_deref()),
        Attr::OperatingSystem => Held::One(d.operating_system.as_deref()),
        Attr::OperatingSystemVersion => Held::One(d.operating_system_version.as_deref()),
        Attr::PhysicalIds => Held::Many(&d.physical_ids),
        Attr::ProfileType => Held::One(Some(
            d.profile_type.as_deref().unwrap_or("RegisteredDevice"),
        )),
        Attr::SystemLabels => Held::Many(&d.system_labels),
        Attr::TrustType => Held::One(Some(d.trust_type.as_str())),
        Attr::ExtensionAttribute(n) => Held::One(
            d.extension_attributes
                .get(&n.to_string())
                .filter(|_| d.extension_attributes_visible())
                .map(String::as_str),
        ),
    }
}

fn lower(s: &str) -> String {
    s.to_lowercase()
}

fn positive_holds(op: Op, have: &str, v: &Value) -> bool {
    let h = lower(have);
    match (op, v) {
        (Op::Eq, Value::Str(s)) => h == lower(s),
        (Op::StartsWith, Value::Str(s)) => h.starts_with(&lower(s)),
        (Op::EndsWith, Value::Str(s)) => h.ends_with(&lower(s)),
        (Op::Contains, Value::Str(s)) => h.contains(&lower(s)),
        (Op::In, Value::List(l)) => l.iter().any(|s| h == lower(s)),
        _ => false,
    }
}

impl Expr {
    fn matches(&self, d: Option<&DeviceRecord>) -> bool {
        match self {
            Expr::And(v) => v.iter().all(|e| e.matches(d)),
            Expr::Or(v) => v.iter().any(|e| e.matches(d)),
            Expr::Cmp(attr, op, value) => {
                let pos = op.positive();
                // A null value matches no positive comparison; its negation matches.
                let positive = match (held(*attr, d), value) {
                    (Held::One(Some(h)), v) => positive_holds(pos, h, v),
                    (Held::One(None), _) | (Held::Flag(None), _) => false,
                    (Held::Flag(Some(h)), Value::Bool(b)) => pos == Op::Eq && h == *b,
                    (Held::Flag(_), _) => false,
                    // On a collection, Contains matches one whole element.
                    (Held::Many(items), Value::Str(s)) => {
                        pos == Op::Contains && items.iter().any(|i| i.eq_ignore_ascii_case(s))
                    }
                    (Held::Many(_), _) => false,
                };
                positive != op.negative()
            }
        }
    }

    fn walk(&self, f: &mut impl FnMut(Attr, Op)) {
        match self {
            Expr::And(v) | Expr::Or(v) => v.iter().for_each(|e| e.walk(f)),
            Expr::Cmp(a, o, _) => f(*a, *o),
        }
    }
}

impl Rule {
    /// Parses a rule of the filter-for-devices language.
    pub fn parse(text: &str) -> Result<Rule, RuleError> {
        if text.chars().count() > MAX_RULE_CHARS {
            return Err(RuleError {
                offset: 0,
                message: format!("the rule is longer than Entra's {MAX_RULE_CHARS} characters"),
            });
        }
        let mut p = Parser { s: text, i: 0 };
        let expr = p.or()?;
        p.ws();
        if p.i < text.len() {
            return p.err(
                p.i,
                "expected -and, -or or the end of the rule after a comparison",
            );
        }
        Ok(Rule {
            text: text.to_string(),
            expr,
        })
    }

    /// The rule's text.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The parsed expression.
    pub fn expr(&self) -> &Expr {
        &self.expr
    }

    /// Whether the rule matches the device `d` (`None`: an unregistered device, every
    /// attribute null).
    pub fn matches(&self, d: Option<&DeviceRecord>) -> bool {
        self.expr.matches(d)
    }

    /// Whether the rule reads attribute `attr`.
    pub fn reads(&self, attr: Attr) -> bool {
        let mut found = false;
        self.expr.walk(&mut |a, _| found |= a == attr);
        found
    }

    /// Every string the rule compares attribute `attr` with (for a value a client
    /// chooses, the candidates that can make a comparison match).
    pub fn literals(&self, attr: Attr) -> Vec<String> {
        fn walk(e: &Expr, attr: Attr, out: &mut Vec<String>) {
            match e {
                Expr::And(v) | Expr::Or(v) => v.iter().for_each(|e| walk(e, attr, out)),
                Expr::Cmp(a, _, v) if *a == attr => match v {
                    Value::Str(s) => out.push(s.clone()),
                    Value::List(l) => out.extend(l.iter().cloned()),
                    Value::Bool(_) => {}
                },
                Expr::Cmp(..) => {}
            }
        }
        let mut out = Vec::new();
        walk(&self.expr, attr, &mut out);
        out.dedup();
        out
    }

    /// Whether the rule reads only positive operators, only negative ones, or both
    /// (`(positive, negative)` counts): what the documentation's table of unregistered
    /// devices is keyed on.
    pub fn operator_kinds(&self) -> (usize, usize) {
        let (mut pos, mut neg) = (0, 0);
        self.expr.walk(&mut |_, o| {
            if o.negative() {
                neg += 1
            } else {
                pos += 1
            }
        });
        (pos, neg)
    }
}

impl Serialize for Rule {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.text)
    }
}

impl<'de> Deserialize<'de> for Rule {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        Rule::parse(&text).map_err(|e| serde::de::Error::custom(format!("device filter rule {e}")))
    }
}

/// Whether the devices a filter matches are in the policy's scope or excluded from it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FilterMode {
    /// The policy applies only to devices the rule matches.
    Include,
    /// The policy applies to every device except those the rule matches.
    Exclude,
}

/// A policy's filter for devices (`conditions.devices.deviceFilter`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeviceFilter {
    /// Include or exclude the devices the rule matches.
    pub mode: FilterMode,
    /// The rule.
    pub rule: Rule,
}

impl DeviceFilter {
    /// Whether the policy is in scope for device `d` (`None`: unregistered).
    pub fn in_scope(&self, d: Option<&DeviceRecord>) -> bool {
        self.rule.matches(d) == (self.mode == FilterMode::Include)
    }
}

/// The authentication flows of `conditions.authenticationFlows.transferMethods`.
pub const TRANSFER_METHODS: [&str; 2] = ["deviceCodeFlow", "authenticationTransfer"];

#[cfg(test)]
mod tests {
    use super::*;

    fn dev() -> DeviceRecord {
        let mut d = DeviceRecord::new("aaaaaaaa-0000-1111-2222-bbbbbbbbbbbb", TrustType::AzureAd);
        d.display_name = Some("CONTOSO-LT-042".into());
        d.manufacturer = Some("Microsoft Corporation".into());
        d.model = Some("Surface Laptop 5".into());
        d.operating_system = Some("Windows".into());
        d.operating_system_version = Some("10.0.22631".into());
        d.device_ownership = Some("Company".into());
        d.mdm_app_id = Some(INTUNE_MDM_APP_ID.into());
        d.physical_ids = vec!["[ZTDId]:abc".into(), "[HWID]:h:1".into()];
        d.system_labels = vec!["M365Managed".into()];
        d.extension_attributes.insert("1".into(), "SAW".into());
        d
    }

    fn m(rule: &str, d: Option<&DeviceRecord>) -> bool {
        Rule::parse(rule)
            .unwrap_or_else(|e| panic!("{rule}: {e}"))
            .matches(d)
    }

    #[test]
    fn every_operator_on_a_registered_device() {
        let d = dev();
        let d = Some(&d);
        for (rule, want) in [
            (r#"device.displayName -eq "contoso-lt-042""#, true),
            (r#"device.displayName -ne "CONTOSO-LT-042""#, false),
            (r#"device.displayName -startsWith "CONTOSO""#, true),
            (r#"device.displayName -notStartsWith "CONTOSO""#, false),
            (r#"device.displayName -endsWith "042""#, true),
            (r#"device.displayName -notEndsWith "042""#, false),
            (r#"device.model -contains "Laptop""#, true),
            (r#"device.model -notContains "Surface""#, false),
            (
                r#"device.operatingSystemVersion -in ["10.0.19045", "10.0.22631"]"#,
                true,
            ),
            (
                r#"device.operatingSystemVersion -notIn ["10.0.22631"]"#,
                false,
            ),
            (
                r#"device.deviceId -eq "AAAAAAAA-0000-1111-2222-BBBBBBBBBBBB""#,
                true,
            ),
            (
                r#"device.mdmAppId -in ["0000000a-0000-0000-c000-000000000000"]"#,
                true,
            ),
            (r#"device.isCompliant -eq False"#, true),
            (r#"device.isCompliant -eq "True""#, false),
            (r#"device.trustType -eq "AzureAD""#, true),
            (r#"device.profileType -eq "RegisteredDevice""#, true),
            (r#"device.deviceOwnership -ne "Personal""#, true),
            (r#"device.manufacturer -startsWith 'Microsoft'"#, true),
            // A collection's Contains matches a whole element, not a substring.
            (r#"device.physicalIds -contains "[ZTDId]:abc""#, true),
            (r#"device.physicalIds -contains "ZTDId""#, false),
            (r#"device.systemLabels -notContains "MultiUser""#, true),
            (r#"device.extensionAttribute1 -eq "SAW""#, true),
            (r#"device.extensionAttribute2 -eq "SAW""#, false),
            (r#"device.extensionAttribute2 -ne "SAW""#, true),
            (r#"DEVICE.TRUSTTYPE -EQ "azuread""#, true),
        ] {
            assert_eq!(m(rule, d), want, "{rule}");
        }
    }

    #[test]
    fn and_binds_tighter_than_or_and_parentheses_group() {
        let d = dev();
        let d = Some(&d);
        // false -and false -or true  ==  (false -and false) -or true
        let r =
            r#"device.model -eq "x" -and device.model -eq "y" -or device.trustType -eq "AzureAD""#;
        assert!(m(r, d));
        // false -and (false -or true)
        let r = r#"device.model -eq "x" -and (device.model -eq "y" -or device.trustType -eq "AzureAD")"#;
        assert!(!m(r, d));
        let r = r#"((device.trustType -eq "AzureAD")) -and device.isCompliant -ne True"#;
        assert!(m(r, d));
        assert!(matches!(
            Rule::parse(r#"device.model -eq "a" -or device.model -eq "b" -and device.model -eq "c""#)
                .unwrap()
                .expr(),
            Expr::Or(v) if v.len() == 2 && matches!(v[1], Expr::And(_))
        ));
    }

    #[test]
    fn errors_say_what_and_where() {
        for (rule, at, what) in [
            ("", 0, "expected a comparison"),
            (
                r#"device.colour -eq "red""#,
                7,
                "unknown device attribute \"colour\"",
            ),
            (
                r#"device.model -match "x""#,
                13,
                "unknown operator \"-match\"",
            ),
            (
                r#"device.trustType -startsWith "Az""#,
                17,
                "does not support the operator",
            ),
            (r#"device.physicalIds -eq "x""#, 19, "does not support"),
            (r#"device.model -eq "x"#, 17, "never closed"),
            (r#"(device.model -eq "x""#, 0, "parenthesis is never closed"),
            (r#"device.model -in "x""#, 13, "takes a list"),
            (r#"device.model -eq ["x"]"#, 13, "not a list"),
            (r#"device.isCompliant -eq "yes""#, 19, "True or False"),
            (r#"device.model -eq True"#, 13, "not a boolean"),
            (r#"device.model -eq x"#, 17, "expected a quoted string"),
            (r#"model -eq "x""#, 0, "expected device.ATTRIBUTE"),
            (
                r#"device.model -eq "x" device.model -eq "y""#,
                21,
                "expected -and, -or",
            ),
            (
                r#"device.extensionAttribute16 -eq "x""#,
                7,
                "unknown device attribute",
            ),
            (
                r#"device.model -eq "x" -and"#,
                25,
                "found the end of the rule",
            ),
        ] {
            let e = Rule::parse(rule).expect_err(rule);
            assert!(e.message.contains(what), "{rule}: {e}");
            assert_eq!(e.offset, at, "{rule}: {e}");
        }
        let long = format!(r#"device.model -eq "{}""#, "x".repeat(MAX_RULE_CHARS));
        assert!(Rule::parse(&long).unwrap_err().message.contains("3072"));
    }

    /// Microsoft's table "Policy behavior with filter for devices", row by row: whether
    /// the device filter applies (the rule matches) for each registration state.
    #[test]
    fn the_documented_table_of_registration_states() {
        let positive = r#"device.operatingSystem -eq "Windows""#;
        let negative = r#"device.operatingSystem -ne "iOS""#;
        let pos_ext = r#"device.extensionAttribute1 -eq "SAW""#;
        let neg_ext = r#"device.extensionAttribute1 -ne "Kiosk""#;
        let mut registered = dev();
        registered.extension_attributes.clear();
        let mut intune = dev();
        intune.extension_attributes.insert("1".into(), "SAW".into());
        let mut unmanaged =
            DeviceRecord::new("bbbbbbbb-0000-1111-2222-cccccccccccc", TrustType::Workplace);
        unmanaged.operating_system = Some("Windows".into());
        unmanaged
            .extension_attributes
            .insert("1".into(), "SAW".into());
        let mut hybrid = unmanaged.clone();
        hybrid.trust_type = TrustType::ServerAd;
        // 1. Positive operators, unregistered device: not applied.
        assert!(!m(positive, None));
        assert!(!m(pos_ext, None));
        // 2. Positive operators, attributes other than extensionAttributes, registered.
        assert!(m(positive, Some(&registered)));
        // 3. Positive operators with extensionAttributes, managed by Intune.
        assert!(m(pos_ext, Some(&intune)));
        // 4. ... not managed by Intune: only when compliant or hybrid joined.
        assert!(!m(pos_ext, Some(&unmanaged)));
        assert!(m(pos_ext, Some(&hybrid)));
        let mut compliant = unmanaged.clone();
        compliant.is_compliant = true;
        assert!(m(pos_ext, Some(&compliant)));
        // 5. Negative operators, unregistered device: applied.
        assert!(m(negative, None));
        assert!(m(neg_ext, None));
        // 6. Negative operators, attributes other than extensionAttributes, registered.
        assert!(m(negative, Some(&registered)));
        assert!(!m(
            r#"device.operatingSystem -ne "Windows""#,
            Some(&registered)
        ));
        // 7. Negative operators with extensionAttributes, managed by Intune.
        assert!(m(neg_ext, Some(&intune)));
        assert!(!m(r#"device.extensionAttribute1 -ne "SAW""#, Some(&intune)));
        // 8. ... not managed by Intune: the value is null unless compliant or hybrid.
        assert!(m(
            r#"device.extensionAttribute1 -ne "SAW""#,
            Some(&unmanaged)
        ));
        assert!(!m(r#"device.extensionAttribute1 -ne "SAW""#, Some(&hybrid)));
        // The mode decides what a match means for the policy.
        let f = |mode, rule: &str| DeviceFilter {
            mode,
            rule: Rule::parse(rule).unwrap(),
        };
        assert!(!f(FilterMode::Include, positive).in_scope(None));
        assert!(f(FilterMode::Exclude, positive).in_scope(None));
        assert!(f(FilterMode::Include, negative).in_scope(None));
        assert!(!f(FilterMode::Exclude, negative).in_scope(None));
        assert_eq!(Rule::parse(positive).unwrap().operator_kinds(), (1, 0));
    }

    #[test]
    fn credentials_prove_the_device_and_need_the_seed() {
        let id = derived_id("outlook-desktop", 7);
        assert!(is_guid(&id));
        assert_eq!(id, derived_id("outlook-desktop", 7));
        assert_ne!(id, derived_id("outlook-mobile", 7));
        let c = credential(&id, "U@contoso.com", 7);
        assert_eq!(credential_device(&c, 7), Some(id.clone()));
        assert_eq!(credential_device(&c, 8), None, "another world's key");
        assert_eq!(credential_device("not a jwt", 7), None);
        // A credential forged for the id with another key does not verify.
        let forged = credential(&id, "u@contoso.com", 99);
        assert_eq!(credential_device(&forged, 7), None);
    }

    #[test]
    fn filters_serialize_as_their_text() {
        let f = DeviceFilter {
            mode: FilterMode::Exclude,
            rule: Rule::parse(r#"device.trustType -eq "ServerAD""#).unwrap(),
        };
        let j = serde_json::to_string(&f).unwrap();
        assert_eq!(
            j,
            r#"{"mode":"exclude","rule":"device.trustType -eq \"ServerAD\""}"#
        );
        assert_eq!(serde_json::from_str::<DeviceFilter>(&j).unwrap(), f);
        let bad = r#"{"mode":"include","rule":"device.x -eq \"1\""}"#;
        let e = serde_json::from_str::<DeviceFilter>(bad)
            .unwrap_err()
            .to_string();
        assert!(e.contains("unknown device attribute"), "{e}");
    }
}
