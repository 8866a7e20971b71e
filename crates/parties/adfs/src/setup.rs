//! AD FS's configuration from its slice of the scenario (issue 12 item 5).

use hmasim_base::SimDuration;
use hmasim_protocol::jwt::KeySet;
use hmasim_protocol::{apps, keys, Net, PartyKind, Stage};
use hmasim_scenario::{AdfsPolicy, Scenario};

use crate::{AccessPolicy, Adfs, AdfsConfig, RelyingParty};

impl Adfs {
    /// AD FS as `sc` configures it (the Office 365 and OWA relying parties and their
    /// access control policies), with its network view `net`.
    pub fn from_scenario(sc: &Scenario, net: Net) -> Adfs {
        let mail_host = sc.mail_host();
        let policy = |p: AdfsPolicy| match p {
            AdfsPolicy::PermitEveryone => AccessPolicy::PermitEveryone,
            AdfsPolicy::RequireMfa => AccessPolicy::RequireMfa,
            AdfsPolicy::RequireMfaExtranet => AccessPolicy::RequireMfaExtranet,
            AdfsPolicy::RequireMfaGroup => {
                AccessPolicy::RequireMfaGroup(sc.adfs.mfa_group.clone().unwrap_or_default())
            }
        };
        Adfs::new(
            AdfsConfig {
                host: sc.adfs_host(),
                signing_key: keys::adfs_token_signing(sc.seed),
                kerberos: KeySet::new(vec![keys::krbtgt(sc.seed)]),
                relying_parties: vec![
                    RelyingParty {
                        identifier: apps::O365_REALM.to_string(),
                        reply_url: apps::ENTRA_LOGIN_SRF.to_string(),
                        policy: policy(sc.adfs.office365_policy),
                        party: PartyKind::EntraId,
                        back_stage: Stage::BackToEntra,
                    },
                    RelyingParty {
                        identifier: format!("https://{mail_host}/owa/"),
                        reply_url: format!("https://{mail_host}/owa/"),
                        policy: policy(sc.adfs.owa_policy),
                        party: PartyKind::ExchangeOnprem,
                        back_stage: Stage::AdfsClaimsBack,
                    },
                ],
                iwa_internal: true,
                token_lifetime: SimDuration::from_hours(1),
            },
            net,
        )
    }
}
