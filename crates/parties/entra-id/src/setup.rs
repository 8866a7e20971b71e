//! Entra ID's configuration from its slice of the scenario (issue 12 item 5).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use hmasim_base::SimDuration;
use hmasim_protocol::jwt::KeySet;
use hmasim_protocol::{apps, keys, Net, Route};
use hmasim_scenario::{IdentityModel, Scenario, TokenDefaults};

use crate::ca::{Member, Tenant};
use crate::{EntraConfig, EntraId, EntraUser};

/// The address range of Microsoft's services in a simulated world (a documentation
/// range, RFC 5737): Entra ID takes a relayed sign-in's client address from
/// `X-Forwarded-For` only from there.
pub const MICROSOFT_SERVICES: &str = "192.0.2.0/24";

impl EntraId {
    /// Entra ID as `sc` configures it, with its network view `net`. `clients` are the
    /// routes to the scenario's clients, in file order: a user's first client is where
    /// MFA prompts are pushed, and the clients with app protection are the approved
    /// client apps' devices.
    pub fn from_scenario(sc: &Scenario, clients: &[Route], net: Net) -> EntraId {
        let seed = sc.seed;
        let domain = sc.tenant.domain.to_ascii_lowercase();
        let mail_host = sc.mail_host();
        let mut user_device: BTreeMap<String, Route> = BTreeMap::new();
        let mut app_protected = BTreeSet::new();
        for (c, route) in sc.clients.iter().zip(clients) {
            user_device
                .entry(c.user.to_ascii_lowercase())
                .or_insert(*route);
            if c.app_protection {
                app_protected.insert(*route);
            }
        }
        let users = sc
            .users
            .iter()
            .map(|u| {
                let k = u.upn.to_ascii_lowercase();
                let dev = user_device.get(&k).copied();
                (
                    k,
                    EntraUser {
                        password: u.password.clone(),
                        groups: u.groups.clone(),
                        mfa_registered: u.mfa_registered,
                        mfa_device: dev,
                    },
                )
            })
            .collect();
        EntraId::new(
            EntraConfig {
                tenant_id: sc.tenant.tenant_id.clone(),
                domain,
                model: sc.identity.model,
                adfs_host: sc.adfs_host(),
                adfs_trust: KeySet::new(vec![keys::adfs_token_signing(seed)]),
                accept_adfs_mfa: sc.entra.accept_adfs_mfa,
                users,
                policies: sc.conditional_access.clone(),
                signing_key: keys::evosts(seed),
                key_seed: seed,
                sync_revokes: match sc.identity.model {
                    IdentityModel::Phs => true,
                    IdentityModel::Federated => sc.identity.password_expiry_claims,
                    IdentityModel::Pta => sc.identity.password_writeback,
                },
                randomized_access_lifetime: sc.entra.token_defaults == TokenDefaults::Current,
                access_lifetime: SimDuration::from_millis(sc.entra.access_token_lifetime.ms()),
                refresh_lifetime: match sc.entra.token_defaults {
                    TokenDefaults::Source => {
                        SimDuration::from_millis(sc.entra.refresh_token_lifetime.ms())
                    }
                    // Today's default: 90 days of inactivity.
                    TokenDefaults::Current => SimDuration::from_hours(90 * 24),
                },
                approved_apps: vec![apps::OUTLOOK_MOBILE.to_string()],
                exchange_resources: vec![
                    apps::EXO_RESOURCE.to_string(),
                    "https://outlook.office.com".to_string(),
                    format!("https://{mail_host}"),
                ],
                tenant: Arc::new(ca_tenant(sc)),
                relays: vec![MICROSOFT_SERVICES.parse().expect("constant range")],
                app_protected,
            },
            net,
        )
    }
}

/// What Conditional Access knows of the tenant: named locations (with the MFA trusted
/// IPs), the geolocation table, and each user's groups and roles. Entra ID evaluates with
/// it, and `whatif` too, so both derive a sign-in's facts the same way.
pub fn ca_tenant(sc: &Scenario) -> Tenant {
    Tenant {
        named_locations: sc.effective_named_locations(),
        geo: sc.network.geo.clone(),
        users: sc
            .users
            .iter()
            .map(|u| {
                (
                    u.upn.to_ascii_lowercase(),
                    Member {
                        groups: u.groups.clone(),
                        roles: u.roles.clone(),
                        guest: u.guest.clone(),
                        user_risk: u.user_risk,
                        sign_in_risk: u.sign_in_risk,
                        insider_risk: u.insider_risk,
                    },
                )
            })
            .collect(),
        // The directory's devices: each client's registered device.
        devices: sc
            .clients
            .iter()
            .filter_map(|c| c.device.record(&c.party_id(), c.platform, sc.seed))
            .map(|r| (r.id.to_ascii_lowercase(), r))
            .collect(),
        device_seed: sc.seed,
    }
}
