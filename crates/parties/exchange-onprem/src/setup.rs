//! Exchange Server's configuration from its slice of the scenario (issue 12 item 5).

use std::collections::{BTreeMap, BTreeSet};

use hmasim_base::SimDuration;
use hmasim_protocol::jwt::KeySet;
use hmasim_protocol::{keys, DeviceCharacteristic as Wire, MailboxProtocol, Net};
use hmasim_scenario::{
    AccessLevel, DeviceCharacteristic, ExchangeVersion, MailProtocol, MailboxLocation, Scenario,
};

use crate::{Access, ExchangeOnprem, MetadataRefresh, OnpremConfig};

impl ExchangeOnprem {
    /// Exchange Server as `sc` configures it, with its network view `net`.
    pub fn from_scenario(sc: &Scenario, net: Net) -> ExchangeOnprem {
        let seed = sc.seed;
        let (legacy_blocked, legacy_policy) = legacy_blocks(sc);
        ExchangeOnprem::new(
            OnpremConfig {
                tenant_id: sc.tenant.tenant_id.clone(),
                domain: sc.tenant.domain.to_ascii_lowercase(),
                mail_host: sc.mail_host(),
                activesync_url: sc.activesync_url(),
                hybrid_modern_auth: sc.onprem.hybrid_modern_auth,
                evosts_default: sc.onprem.evosts_default_authorization_endpoint,
                owa_adfs_claims: sc.onprem.owa_adfs_claims,
                adfs_host: sc.adfs_host(),
                evosts_metadata: KeySet::new(vec![keys::evosts(seed)]),
                adfs_trust: KeySet::new(vec![keys::adfs_token_signing(seed)]),
                metadata_refresh: match sc.onprem.auth_metadata_refresh {
                    hmasim_scenario::MetadataRefresh::Healthy => MetadataRefresh::Healthy,
                    hmasim_scenario::MetadataRefresh::Failing => MetadataRefresh::Failing,
                    hmasim_scenario::MetadataRefresh::Absent => MetadataRefresh::Absent,
                },
                scheduled_refresh: sc
                    .onprem
                    .scheduled_metadata_refresh
                    .map(|s| SimDuration::from_millis(s.ms())),
                legacy_mailboxes: sc
                    .users
                    .iter()
                    .filter(|u| {
                        u.mailbox == MailboxLocation::Onprem
                            && u.exchange_version == ExchangeVersion::V2010
                    })
                    .map(|u| u.upn.to_ascii_lowercase())
                    .collect(),
                legacy_blocked,
                legacy_policy,
                eas_default: access(sc.onprem.activesync.default_access_level),
                eas_rules: sc
                    .onprem
                    .activesync
                    .device_rules
                    .iter()
                    .map(|r| {
                        let ch = match r.characteristic {
                            DeviceCharacteristic::DeviceType => Wire::DeviceType,
                            DeviceCharacteristic::DeviceModel => Wire::DeviceModel,
                            DeviceCharacteristic::UserAgent => Wire::UserAgent,
                        };
                        (ch, r.query.clone(), access(r.access_level))
                    })
                    .collect(),
                kerberos: KeySet::new(vec![keys::krbtgt(seed)]),
                imap_enabled: sc.onprem.imap_enabled,
                pop_enabled: sc.onprem.pop_enabled,
                mailboxes: sc
                    .users
                    .iter()
                    .filter(|u| u.mailbox == MailboxLocation::Onprem)
                    .map(|u| u.upn.to_ascii_lowercase())
                    .collect(),
                skew_s: 300,
            },
            net,
        )
    }
}

fn access(a: AccessLevel) -> Access {
    match a {
        AccessLevel::Allow => Access::Allow,
        AccessLevel::Block => Access::Block,
        AccessLevel::Quarantine => Access::Quarantine,
    }
}

/// Each user's on-premises authentication policy: the protocols it blocks legacy
/// authentication for, and its name.
#[allow(clippy::type_complexity)]
fn legacy_blocks(
    sc: &Scenario,
) -> (
    BTreeMap<String, BTreeSet<MailboxProtocol>>,
    BTreeMap<String, String>,
) {
    let (mut blocked, mut names) = (BTreeMap::new(), BTreeMap::new());
    for u in &sc.users {
        let name = u
            .onprem_authentication_policy
            .as_ref()
            .or(sc.onprem.default_authentication_policy.as_ref());
        if let Some(p) = name.and_then(|n| {
            sc.onprem
                .authentication_policies
                .iter()
                .find(|p| &p.name == n)
        }) {
            let upn = u.upn.to_ascii_lowercase();
            blocked.insert(
                upn.clone(),
                MailProtocol::ALL
                    .iter()
                    .filter(|x| p.blocks_legacy(**x))
                    .map(|x| x.wire())
                    .collect(),
            );
            names.insert(upn, p.name.clone());
        }
    }
    (blocked, names)
}
