//! Active Directory's configuration from its slice of the scenario (issue 12 item 5).

use hmasim_base::SimDuration;
use hmasim_protocol::{keys, Net};
use hmasim_scenario::Scenario;

use crate::{Account, ActiveDirectory, AdConfig};

impl ActiveDirectory {
    /// Active Directory as `sc` configures it (its accounts, realm and Entra Connect
    /// sync interval), with its network view `net`.
    pub fn from_scenario(sc: &Scenario, net: Net) -> ActiveDirectory {
        let accounts = sc
            .users
            .iter()
            .map(|u| {
                (
                    u.upn.to_ascii_lowercase(),
                    Account {
                        password: u.password.clone(),
                        groups: u.groups.clone(),
                    },
                )
            })
            .collect();
        ActiveDirectory::new(
            AdConfig {
                accounts,
                kerberos_key: keys::krbtgt(sc.seed),
                realm: sc.tenant.domain.to_ascii_lowercase().to_ascii_uppercase(),
                sync_interval: SimDuration::from_millis(sc.identity.sync_interval.ms()),
            },
            net,
        )
    }
}
