//! The Web Application Proxy's configuration from its slice of the scenario (issue 12
//! item 5).

use std::collections::BTreeSet;
use std::net::IpAddr;

use hmasim_protocol::{Directory, Net};
use hmasim_scenario::{OwaPublishing, Publishing, Scenario};

use crate::Wap;

impl Wap {
    /// The proxy as `sc` configures it: `published` are the names it publishes (AD FS and
    /// Exchange's namespaces) and who answers each, `peers` the view that shows each
    /// connection's source address, `azure` the Azure addresses IP restrictions refuse,
    /// enforced here when the proxy is the Internet's front door (`onprem.publishing =
    /// "wap"`).
    pub fn from_scenario(
        sc: &Scenario,
        azure: &BTreeSet<IpAddr>,
        published: Directory,
        peers: Net,
    ) -> Wap {
        let adfs_host = sc.adfs_host();
        let mail_host = sc.mail_host();
        Wap::new(published, true, &adfs_host, "WAP01")
            .preauthenticating(sc.wap.preauthentication)
            .preauthenticating_owa(
                (sc.onprem.owa_adfs_claims
                    && sc.wap.owa_publishing == OwaPublishing::Preauthentication)
                    .then(|| format!("https://{mail_host}/owa/")),
            )
            .blocking(
                if sc.onprem.publishing == Publishing::Wap {
                    azure.clone()
                } else {
                    BTreeSet::new()
                },
                peers,
            )
    }
}
