//! Exchange Online's parties from their slice of the scenario (issue 12 item 5): Exchange
//! Online itself, MRS and the protocol translator.

use std::collections::{BTreeMap, BTreeSet};

use hmasim_base::SimDuration;
use hmasim_protocol::jwt::KeySet;
use hmasim_protocol::{keys, MailboxProtocol, Net};
use hmasim_scenario::{MailProtocol, MailboxLocation, Scenario};

use crate::mrs::{Mrs, MrsConfig};
use crate::translator::ProtocolTranslator;
use crate::{ExchangeOnline, ExoConfig, Home};

impl ExchangeOnline {
    /// Exchange Online as `sc` configures it, with its network view `net`.
    pub fn from_scenario(sc: &Scenario, net: Net) -> ExchangeOnline {
        let users = sc
            .users
            .iter()
            .map(|u| {
                (
                    u.upn.to_ascii_lowercase(),
                    if u.mailbox == MailboxLocation::Online {
                        Home::Online
                    } else {
                        Home::Onprem
                    },
                )
            })
            .collect();
        ExchangeOnline::new(
            ExoConfig {
                users,
                onprem_autodiscover_host: sc.autodiscover_host(),
                entra_metadata: KeySet::new(vec![keys::evosts(sc.seed)]),
                skew_s: 300,
                basic_policy: basic_policies(sc),
            },
            net,
        )
    }
}

impl Mrs {
    /// MRS as `sc` configures it; `retries` keeps copies of requests for resending.
    pub fn from_scenario(sc: &Scenario, retries: bool, net: Net) -> Mrs {
        Mrs::new(
            MrsConfig {
                entra_metadata: KeySet::new(vec![keys::evosts(sc.seed)]),
                sync_interval: SimDuration::from_millis(sc.exchange_online.mrs_sync_interval.ms()),
                refresh_margin: SimDuration::from_mins(5),
                retries,
                skew_s: 300,
            },
            net,
        )
    }
}

impl ProtocolTranslator {
    /// The protocol translator (it has no configuration of its own), with its view of
    /// Exchange Online's provisioning API, `net`.
    pub fn from_scenario(_sc: &Scenario, net: Net) -> ProtocolTranslator {
        ProtocolTranslator::new(net)
    }
}

/// Each user's Exchange Online authentication policy (their own, else the organization
/// default): its name and the protocols it allows Basic for.
fn basic_policies(sc: &Scenario) -> BTreeMap<String, (String, BTreeSet<MailboxProtocol>)> {
    let mut out = BTreeMap::new();
    for u in &sc.users {
        let name = u
            .authentication_policy
            .as_ref()
            .or(sc.exchange_online.default_authentication_policy.as_ref());
        if let Some(p) = name.and_then(|n| {
            sc.exchange_online
                .authentication_policies
                .iter()
                .find(|p| &p.name == n)
        }) {
            let allowed = MailProtocol::ALL
                .iter()
                .filter(|x| p.allows_basic(**x))
                .map(|x| x.wire())
                .collect();
            out.insert(u.upn.to_ascii_lowercase(), (p.name.clone(), allowed));
        }
    }
    out
}
