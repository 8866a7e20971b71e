//! The two reductions of the explorer: attacker-controlled signal values grouped into
//! equivalence classes by what the tenant's policies and rules distinguish, and users
//! grouped into classes of identical policy-relevant facts. See the module docs of
//! [`super`] and `docs/verify.md`.

use std::collections::BTreeMap;
use std::net::IpAddr;

use hmasim_entra_id::ca::{platform_from_user_agent, sample_user_agent, SignIn, Tenant};
use hmasim_protocol::policy::{
    CaPolicy, CaState, ClientAppType, DevicePlatform, InsiderRiskLevel, RiskLevel,
};
use hmasim_scenario::{ActionKind, ClientKind, DeviceCharacteristic, Scenario, User};

/// A User-Agent no platform rule recognizes: Entra reads it as an unknown platform.
pub const UNKNOWN_USER_AGENT: &str = "python-requests/2.32.3";
/// A `DeviceType` no device access rule names.
pub const OTHER_DEVICE_TYPE: &str = "SAMSUNGSMG998B";
/// A device model no device access rule names.
pub const OTHER_DEVICE_MODEL: &str = "SM-G998B";

/// The raw platform values a User-Agent can make Entra derive: each Conditional Access
/// platform and an unknown one.
pub const RAW_PLATFORMS: usize = 7;

/// An ActiveSync (`DeviceType`, device model) pair; `None` is the client's own.
pub type DeviceStrings = (Option<String>, Option<String>);

/// The candidate values of each attacker-controlled signal, reduced to one
/// representative per class.
#[derive(Clone, Debug)]
pub struct Space {
    /// User-Agents, one per platform class (`None`: the client's own).
    pub user_agents: Vec<Option<String>>,
    /// Source addresses from outside, one per location class (`None`: the scenario's
    /// Internet address).
    pub addresses: Vec<Option<IpAddr>>,
    /// Raw candidate addresses before the reduction.
    pub raw_addresses: usize,
    /// Rules of the on-premises ActiveSync device access (characteristic, query).
    rules: Vec<(DeviceCharacteristic, String)>,
    /// The risk levels to explore, one combination per class, "no risk detected" first;
    /// empty when no enforced policy has a risk condition (nothing to tell apart).
    pub risks: Vec<Risk>,
    /// Raw risk combinations before the reduction (1 without risk conditions).
    pub raw_risks: usize,
    /// Whether a detected risk can only close a path closed without it: no enforced
    /// policy lists the level `none` (a policy that applies more often only closes).
    pub risk_monotone: bool,
}

/// The risk Entra ID Protection (and Purview's adaptive protection) holds for one path:
/// the sign-in's, the user's and the insider risk level. Entra scores them, not the
/// attacker, so verify explores every class of levels a policy distinguishes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
pub struct Risk {
    /// Sign-in risk.
    pub sign_in: RiskLevel,
    /// User risk.
    pub user: RiskLevel,
    /// Insider risk.
    pub insider: InsiderRiskLevel,
}

impl Risk {
    /// Whether any risk is detected (a level other than `none`).
    pub fn detected(self) -> bool {
        self != Risk::default()
    }
    /// How reports write it: `sign-in risk high, user risk medium` (the detected levels).
    pub fn describe(self) -> String {
        let mut v = Vec::new();
        if self.sign_in != RiskLevel::None {
            v.push(format!("sign-in risk {}", self.sign_in.as_str()));
        }
        if self.user != RiskLevel::None {
            v.push(format!("user risk {}", self.user.as_str()));
        }
        if self.insider != InsiderRiskLevel::None {
            v.push(format!("insider risk {}", self.insider.as_str()));
        }
        if v.is_empty() {
            "no risk detected".to_string()
        } else {
            v.join(", ")
        }
    }
}

/// One representative level per class of `levels`: two levels are in one class when
/// every list of `lists` holds both or neither. The class of `none` comes first and is
/// represented by `none`; each other class by its highest level.
fn level_classes<L: Copy + PartialEq>(levels: &[L], lists: &[&Vec<L>]) -> Vec<L> {
    let sig = |l: L| -> Vec<bool> { lists.iter().map(|x| x.contains(&l)).collect() };
    let mut out: Vec<L> = vec![levels[0]];
    let mut seen: Vec<Vec<bool>> = vec![sig(levels[0])];
    for l in levels.iter().rev() {
        let s = sig(*l);
        if !seen.contains(&s) {
            seen.push(s);
            out.push(*l);
        }
    }
    out
}

/// The risk combinations of one configuration (see [`Space::risks`]), their raw count,
/// and whether the exploration may stop at "no risk detected" for closed paths.
fn risk_space(sc: &Scenario) -> (Vec<Risk>, usize, bool) {
    let enforced: Vec<&CaPolicy> = sc
        .conditional_access
        .iter()
        .filter(|p| p.state == CaState::Enabled)
        .collect();
    if !enforced.iter().any(|p| p.has_risk_condition()) {
        return (Vec::new(), 1, true);
    }
    let sign_in: Vec<&Vec<RiskLevel>> = enforced
        .iter()
        .map(|p| &p.sign_in_risk_levels)
        .filter(|l| !l.is_empty())
        .collect();
    let user: Vec<&Vec<RiskLevel>> = enforced
        .iter()
        .map(|p| &p.user_risk_levels)
        .filter(|l| !l.is_empty())
        .collect();
    let insider: Vec<&Vec<InsiderRiskLevel>> = enforced
        .iter()
        .map(|p| &p.insider_risk_levels)
        .filter(|l| !l.is_empty())
        .collect();
    let monotone = !sign_in
        .iter()
        .chain(&user)
        .any(|l| l.contains(&RiskLevel::None))
        && !insider.iter().any(|l| l.contains(&InsiderRiskLevel::None));
    let s = level_classes(&RiskLevel::ALL, &sign_in);
    let u = level_classes(&RiskLevel::ALL, &user);
    let i = level_classes(&InsiderRiskLevel::ALL, &insider);
    let raw = [sign_in.len(), user.len(), insider.len()]
        .iter()
        .map(|n| if *n > 0 { 4 } else { 1 })
        .product();
    let mut out = Vec::new();
    for &sign_in in &s {
        for &user in &u {
            for &insider in &i {
                out.push(Risk {
                    sign_in,
                    user,
                    insider,
                });
            }
        }
    }
    (out, raw, monotone)
}

/// Addresses to stand for "outside every range the tenant names", tried in order
/// (benchmarking, shared address space, documentation ranges): the first in no range.
const OUTSIDE_CANDIDATES: [&str; 5] = [
    "198.18.0.1",
    "100.64.0.1",
    "198.19.255.254",
    "2001:db8:ffff:ffff::1",
    "192.0.0.170",
];

/// Platforms that an enforced policy names (in an include or exclude list).
fn named_platforms(sc: &Scenario) -> Vec<DevicePlatform> {
    let mut out: Vec<DevicePlatform> = Vec::new();
    for p in sc
        .conditional_access
        .iter()
        .filter(|p| p.state == CaState::Enabled)
    {
        for x in p.include_platforms.iter().chain(&p.exclude_platforms) {
            if *x != DevicePlatform::All && !out.contains(x) {
                out.push(*x);
            }
        }
    }
    out
}

impl Space {
    /// The reduced space of `sc` over every configuration its timeline gives it: the
    /// scenario as written and after each timeline `set`, in time order (a policy the
    /// timeline enables, or a location it adds, names values of its own).
    pub fn of(sc: &Scenario) -> Space {
        let mut space = Space::of_one(sc);
        let mut sets: Vec<&hmasim_scenario::Action> = sc
            .timeline
            .iter()
            .filter(|a| a.action == hmasim_scenario::ActionKind::Set)
            .collect();
        sets.sort_by_key(|a| a.at);
        let mut current = sc.clone();
        for a in sets {
            if let (Some(k), Some(v)) = (&a.key, &a.value) {
                if hmasim_scenario::apply_set(&mut current, &format!("{k}={v}")).is_ok() {
                    space = space.merge(Space::of_one(&current));
                }
            }
        }
        space
    }

    /// The reduced space of one configuration.
    fn of_one(sc: &Scenario) -> Space {
        // Platforms: a policy tells apart only the platforms it names; every other
        // platform, and an unknown one, fall in one class (`all` matches them all, a
        // named platform none of them).
        let named = named_platforms(sc);
        let user_agents = if named.is_empty() {
            vec![None]
        } else {
            let mut v: Vec<Option<String>> = named
                .iter()
                .map(|p| Some(sample_user_agent(*p).to_string()))
                .collect();
            let rest = [
                DevicePlatform::Linux,
                DevicePlatform::Android,
                DevicePlatform::Ios,
                DevicePlatform::Windows,
                DevicePlatform::Macos,
                DevicePlatform::WindowsPhone,
            ]
            .into_iter()
            .find(|p| !named.contains(p));
            v.push(Some(
                rest.map_or(UNKNOWN_USER_AGENT, sample_user_agent)
                    .to_string(),
            ));
            v
        };
        // A device the password holder registers reports the operating system its
        // User-Agent names, and a filter for devices can read it: then one User-Agent per
        // operating system a registration can report.
        let mut user_agents = user_agents;
        if sc.conditional_access.iter().any(|p| {
            p.device_filter
                .as_ref()
                .is_some_and(|f| f.rule.reads(hmasim_protocol::device::Attr::OperatingSystem))
        }) {
            for p in [
                DevicePlatform::Windows,
                DevicePlatform::Macos,
                DevicePlatform::Ios,
                DevicePlatform::Android,
                DevicePlatform::Linux,
            ] {
                let ua = Some(sample_user_agent(p).to_string());
                if !user_agents.contains(&ua) {
                    user_agents.push(ua);
                }
            }
        }
        // Addresses: one in each named location, each MFA trusted range, each range of
        // the geolocation table, each client's own, the Internet; two addresses that
        // fall in the same named locations (with the same country, when a location
        // lists countries) form one class.
        let tenant = crate::build::ca_tenant(sc);
        let locs = sc.effective_named_locations();
        let mut raw: Vec<IpAddr> = vec![sc.network.internet_address];
        // One host in every range of every named location (a location may hold several
        // ranges, each with other neighbours), and one for each country location.
        for l in &locs {
            raw.extend(l.ip_ranges.iter().map(|r| r.host()));
            if l.ip_ranges.is_empty() {
                raw.extend(l.sample_address(&sc.network.geo));
            }
        }
        raw.extend(sc.network.mfa_trusted_ips.iter().map(|r| r.host()));
        raw.extend(sc.network.geo.iter().map(|g| g.range.host()));
        raw.extend(sc.clients.iter().filter_map(|c| c.source_address));
        // And one outside everything the tenant names: the Internet default may itself
        // sit in a named location, and then "anywhere else" is a class of its own.
        let named = |a: IpAddr| {
            locs.iter()
                .any(|l| l.ip_ranges.iter().any(|r| r.contains(a)))
                || sc.network.mfa_trusted_ips.iter().any(|r| r.contains(a))
                || sc.network.geo.iter().any(|g| g.range.contains(a))
        };
        raw.extend(
            OUTSIDE_CANDIDATES
                .iter()
                .map(|c| c.parse::<IpAddr>().expect("constant address"))
                .find(|a| !named(*a)),
        );
        let mut unique: Vec<IpAddr> = Vec::new();
        for a in raw {
            if !unique.contains(&a) {
                unique.push(a);
            }
        }
        let raw = unique;
        let by_country = locs.iter().any(|l| !l.countries.is_empty());
        let mut seen: BTreeMap<(Vec<String>, bool, Option<String>), ()> = BTreeMap::new();
        let mut addresses = Vec::new();
        for a in &raw {
            let (locations, trusted, country) = where_from(&tenant, *a);
            let key = (locations, trusted, country.filter(|_| by_country));
            if seen.insert(key, ()).is_none() {
                addresses.push(if *a == sc.network.internet_address {
                    None
                } else {
                    Some(*a)
                });
            }
        }
        let (risks, raw_risks, risk_monotone) = risk_space(sc);
        Space {
            risks,
            raw_risks,
            risk_monotone,
            user_agents,
            addresses,
            raw_addresses: raw.len(),
            rules: sc
                .onprem
                .activesync
                .device_rules
                .iter()
                .map(|r| (r.characteristic, r.query.clone()))
                .collect(),
        }
    }

    /// The User-Agents to try on an ActiveSync method: one per platform class, and each
    /// string a `UserAgent` device access rule names (Exchange compares the whole string,
    /// so a rule's string is its only value; its platform is the one Entra derives from
    /// it). Also the raw count.
    pub fn activesync_user_agents(&self) -> Vec<Option<String>> {
        let mut v = self.user_agents.clone();
        for (c, q) in &self.rules {
            if *c == DeviceCharacteristic::UserAgent && !v.contains(&Some(q.clone())) {
                v.push(Some(q.clone()));
            }
        }
        v
    }

    /// The union of two spaces: every representative of either (so that two
    /// configurations explored with it pin the same values, as `hmasim diff` needs).
    pub fn merge(mut self, other: Space) -> Space {
        for ua in other.user_agents {
            if !self.user_agents.contains(&ua) {
                self.user_agents.push(ua);
            }
        }
        for a in other.addresses {
            if !self.addresses.contains(&a) {
                self.addresses.push(a);
            }
        }
        self.raw_addresses = self.raw_addresses.max(other.raw_addresses);
        if self.risks.is_empty() {
            self.risks = other.risks;
        } else {
            for r in other.risks {
                if !self.risks.contains(&r) {
                    self.risks.push(r);
                }
            }
        }
        self.raw_risks = self.raw_risks.max(other.raw_risks);
        self.risk_monotone &= other.risk_monotone;
        for r in other.rules {
            if !self.rules.contains(&r) {
                self.rules.push(r);
            }
        }
        self
    }

    /// The ActiveSync device strings to try for a client kind (`(None, None)`: its own):
    /// its own, each string a device access rule names, and one no rule names; two
    /// pairs that match the same rules form one class. Also the raw count.
    pub fn devices(&self, own: (&str, &str)) -> (Vec<DeviceStrings>, usize) {
        if self
            .rules
            .iter()
            .all(|(c, _)| *c == DeviceCharacteristic::UserAgent)
        {
            return (vec![(None, None)], 1);
        }
        let pick = |ch: DeviceCharacteristic, own: &str, other: &str| {
            let mut v = vec![own.to_string()];
            for (c, q) in &self.rules {
                if *c == ch && !v.iter().any(|x| x.eq_ignore_ascii_case(q)) {
                    v.push(q.clone());
                }
            }
            v.push(other.to_string());
            v
        };
        let types = pick(DeviceCharacteristic::DeviceType, own.0, OTHER_DEVICE_TYPE);
        let models = pick(DeviceCharacteristic::DeviceModel, own.1, OTHER_DEVICE_MODEL);
        let mut seen: BTreeMap<Vec<bool>, ()> = BTreeMap::new();
        let mut out = Vec::new();
        for t in &types {
            for m in &models {
                let key: Vec<bool> = self
                    .rules
                    .iter()
                    .filter(|(c, _)| *c != DeviceCharacteristic::UserAgent)
                    .map(|(c, q)| match c {
                        DeviceCharacteristic::DeviceType => q.eq_ignore_ascii_case(t),
                        _ => q.eq_ignore_ascii_case(m),
                    })
                    .collect();
                if seen.insert(key, ()).is_none() {
                    out.push((
                        Some(t.clone()).filter(|t| t != own.0),
                        Some(m.clone()).filter(|m| m != own.1),
                    ));
                }
            }
        }
        (out, types.len() * models.len())
    }
}

/// The named locations an address falls in (by name), whether one is trusted, and its
/// country, as Entra ID derives them.
pub fn where_from(tenant: &Tenant, a: IpAddr) -> (Vec<String>, bool, Option<String>) {
    let f = tenant.facts(&SignIn {
        upn: "",
        address: Some(a),
        user_agent: None,
        client_app: ClientAppType::Browser,
        app_id: "",
        device_credential: None,
        registered: None,
        auth_flow: None,
    });
    (f.locations, f.trusted_location, f.country)
}

/// The platform Entra derives from a User-Agent, spelled as Graph spells it.
pub fn platform_name(ua: &str) -> &'static str {
    platform_from_user_agent(ua).map_or("unknown", DevicePlatform::as_str)
}

/// A class of users whose policy-relevant facts are identical: exploring the first
/// stands for every member.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct UserClass {
    /// The member explored.
    pub representative: String,
    /// Every member, the representative first.
    pub members: Vec<String>,
}

/// Groups `users` into classes. Two users are in one class when they have the same
/// groups, roles, registration state, mailbox location, Exchange version and per-user
/// authentication policies, the same devices in `clients`, and neither is named
/// anywhere else in the scenario (a policy's user list, a timeline entry...). A
/// timeline `set` of a `users.` key keeps every user apart.
pub fn user_classes(sc: &Scenario, users: &[&User]) -> Vec<UserClass> {
    let apart = sc.timeline.iter().any(|a| {
        a.action == ActionKind::Set && a.key.as_deref().is_some_and(|k| k.starts_with("users"))
    });
    let mut rest = sc.clone();
    rest.users.clear();
    rest.clients.clear();
    let text = serde_json::to_string(&rest)
        .unwrap_or_default()
        .to_ascii_lowercase();
    let sorted = |v: &[String]| {
        let mut v: Vec<String> = v.iter().map(|s| s.to_ascii_lowercase()).collect();
        v.sort();
        v
    };
    let mut classes: BTreeMap<String, UserClass> = BTreeMap::new();
    let mut order: Vec<String> = Vec::new();
    for u in users {
        let upn = u.upn.to_ascii_lowercase();
        let devices: Vec<String> = sc
            .clients
            .iter()
            .filter(|c| c.user.eq_ignore_ascii_case(&u.upn))
            .map(|c| {
                format!(
                    "{:?}",
                    (
                        c.kind,
                        c.platform,
                        c.location,
                        &c.device,
                        c.app_protection,
                        c.source_address
                    )
                )
            })
            .collect();
        let named = apart || text.contains(&upn);
        let key = format!(
            "{:?}",
            (
                named.then_some(&upn),
                sorted(&u.groups),
                sorted(&u.roles),
                u.mfa_registered,
                u.mailbox,
                u.exchange_version,
                &u.authentication_policy,
                &u.onprem_authentication_policy,
                devices,
            )
        );
        match classes.get_mut(&key) {
            Some(c) => c.members.push(u.upn.clone()),
            None => {
                order.push(key.clone());
                classes.insert(
                    key,
                    UserClass {
                        representative: u.upn.clone(),
                        members: vec![u.upn.clone()],
                    },
                );
            }
        }
    }
    order
        .into_iter()
        .filter_map(|k| classes.remove(&k))
        .collect()
}

/// Whether a client kind's ActiveSync device strings can reach a device access rule.
pub fn speaks_activesync(kind: ClientKind) -> bool {
    matches!(kind, ClientKind::OutlookMobile | ClientKind::NativeMail)
}

#[cfg(test)]
mod tests {
    use super::*;
    use hmasim_scenario::{AccessLevel, DeviceRule};

    fn scenario() -> Scenario {
        hmasim_scenario::load("secure-desktop").expect("bundled")
    }

    #[test]
    fn platforms_no_policy_names_are_one_class() {
        let mut sc = scenario();
        assert_eq!(Space::of(&sc).user_agents, [None]);
        sc.conditional_access[0].include_platforms = vec![DevicePlatform::Ios];
        let s = Space::of(&sc);
        let platforms: Vec<&str> = s
            .user_agents
            .iter()
            .map(|u| platform_name(u.as_deref().unwrap_or("")))
            .collect();
        assert_eq!(platforms, ["iOS", "linux"]);
        // A report-only policy splits nothing.
        sc.conditional_access[0].state = CaState::ReportOnly;
        assert_eq!(Space::of(&sc).user_agents, [None]);
        // Every platform named: the rest is the unknown platform.
        sc.conditional_access[0].state = CaState::Enabled;
        sc.conditional_access[0].include_platforms = DevicePlatform::ALL.to_vec();
        let s = Space::of(&sc);
        assert_eq!(s.user_agents.last(), Some(&Some(UNKNOWN_USER_AGENT.into())));
        assert_eq!(platform_name(UNKNOWN_USER_AGENT), "unknown");
    }

    #[test]
    fn addresses_in_the_same_locations_are_one_class() {
        let mut sc = scenario();
        sc.network.mfa_trusted_ips.clear();
        sc.named_locations.clear();
        sc.network.geo.clear();
        assert_eq!(Space::of(&sc).addresses, [None]);
        sc.named_locations
            .push(hmasim_protocol::policy::NamedLocation {
                id: "b".into(),
                name: "Branch".into(),
                ip_ranges: vec!["198.18.0.0/24".parse().unwrap()],
                ..Default::default()
            });
        // An address of the geolocation table inside the branch: no location lists
        // countries, so it is the branch's class.
        sc.network.geo = vec![hmasim_protocol::address::GeoRange {
            range: "198.18.0.128/25".parse().unwrap(),
            country: "FR".into(),
        }];
        let s = Space::of(&sc);
        assert_eq!(s.addresses.len(), 2, "{:?}", s.addresses);
        // The Internet, the branch's range, the table's range, and one address outside
        // every range (198.18.0.1 is the branch's: the next candidate).
        assert_eq!(s.raw_addresses, 4);
    }

    #[test]
    fn device_strings_matching_the_same_rules_are_one_class() {
        let mut sc = scenario();
        assert_eq!(
            Space::of(&sc).devices(("iPhone", "iPhone")),
            (vec![(None, None)], 1)
        );
        sc.onprem.activesync.device_rules = vec![DeviceRule {
            characteristic: DeviceCharacteristic::DeviceType,
            query: "OutlookService".into(),
            access_level: AccessLevel::Allow,
        }];
        let (classes, raw) = Space::of(&sc).devices(("iPhone", "iPhone"));
        // The own type (matching no rule) and the rule's type; the model is no rule's.
        assert_eq!(
            classes,
            [(None, None), (Some("OutlookService".into()), None)]
        );
        assert_eq!(raw, 3 * 2);
    }
}
