//! The admin's diagnosis: from the refusal where things went wrong and the scenario's
//! configuration, the cause and the command that fixes it. Every admin command in a fix
//! stands between backticks, complete and runnable as printed (`tests/commands.rs` checks
//! each against the cmdlet's required parameters). This is a runbook keyed on what
//! the parties said (the failure code) and on the configuration, never on a scenario name.

use hmasim_scenario::{
    IdentityModel, MetadataRefresh, Publishing, Scenario, TlsMode, TokenDefaults,
};

use hmasim_protocol::FaultCode;

use crate::monitor::Failing;
use crate::Diagnosis;

/// Diagnoses a failing run.
pub(crate) fn diagnose(sc: &Scenario, f: &Failing) -> Diagnosis {
    let mail = sc.mail_host();
    let rotated = sc
        .timeline
        .iter()
        .find(|a| a.action == hmasim_scenario::ActionKind::RotateEvostsKey)
        .map(|a| a.at);
    let (cause, fix): (String, String) = match f.fault.code {
        FaultCode::AudienceMismatch if sc.load_balancer.tls == TlsMode::Offloading => (
            format!("the load balancer offloads TLS (load_balancer.tls = offloading): Exchange receives http://{mail} while AT2's audience is https://{mail}, so the audience check fails (2000003); TLS offloading is not supported for OAuth"),
            "configure TLS bridging on the load balancer (terminate and re-encrypt): load_balancer.tls = bridging".into(),
        ),
        FaultCode::AudienceMismatch => (
            "the token's audience does not match the URL Exchange receives".into(),
            "make the namespace clients use, the ExternalURL and the token audience the same https:// URL".into(),
        ),
        FaultCode::InvalidSignature => {
            let refresh = match sc.onprem.auth_metadata_refresh {
                MetadataRefresh::Healthy => "the arbitration mailbox refreshes it only every 8 hours",
                MetadataRefresh::Failing => "the arbitration mailbox's 8-hourly refresh is failing (MSExchange AuthAdmin events)",
                MetadataRefresh::Absent => "no arbitration mailbox refreshes it",
            };
            (
                format!(
                    "EvoSTS rolled its signing key{} and Exchange's cached EvoSTS metadata does not hold the new key: {refresh}",
                    rotated.map(|t| format!(" at +{t}")).unwrap_or_default()
                ),
                "run `Set-AuthServer EvoSts -RefreshAuthMetadata` now, and as a scheduled task every 24 hours".into(),
            )
        }
        FaultCode::NoAuthorizationUri => (
            "EvoSTS is not the default authorization endpoint (onprem.evosts_default_authorization_endpoint = false): the 401 carries no authorization_uri".into(),
            "`Set-AuthServer EvoSts -IsDefaultAuthorizationEndpoint $true` (check with `Get-AuthServer EvoSts | fl IsDefaultAuthorizationEndpoint`)".into(),
        ),
        FaultCode::NoWwwAuthenticate => (
            "a device in front of Exchange answers the unauthenticated request itself (load_balancer.intercepts_unauthenticated = true): the 401 has no WWW-Authenticate header".into(),
            "let unauthenticated AutoDiscover and ActiveSync requests through to Exchange (remove the authentication profile on the device)".into(),
        ),
        FaultCode::IpRestricted => (
            "IP restrictions at the edge leave out the Azure ranges AutoDetect and Exchange Online connect from (onprem.allow_azure_ranges = false)".into(),
            "allow the Azure datacenter and Exchange Online IP ranges to reach AutoDiscover and ActiveSync: onprem.allow_azure_ranges = true".into(),
        ),
        FaultCode::Preauthentication => (
            format!("the Web Application Proxy publishes {mail} and AutoDiscover with AD FS pre-authentication (wap.preauthentication = true); AutoDetect and MRS cannot sign in to it"),
            "publish AutoDiscover and ActiveSync with pass-through pre-authentication: wap.preauthentication = false".into(),
        ),
        FaultCode::OauthNotSupportedByMailboxServer => (
            "the mailbox is on Exchange 2010 while EvoSTS is the default authorization endpoint: clients attempt OAuth, which Exchange 2010 cannot do".into(),
            {
                let moves: Vec<String> = sc
                    .users
                    .iter()
                    .filter(|u| u.mailbox == hmasim_scenario::MailboxLocation::Onprem && u.exchange_version == hmasim_scenario::ExchangeVersion::V2010)
                    .map(|u| format!("`New-MoveRequest -Identity {}`", u.upn))
                    .collect();
                format!(
                    "move the Exchange 2010 mailboxes to an Exchange 2016/2019 database ({}), then remove the Exchange 2010 servers",
                    if moves.is_empty() { "a New-MoveRequest for each".to_string() } else { moves.join(", ") }
                )
            },
        ),
        FaultCode::InvalidGrant if f.fault.diagnostics.contains("AADSTS50173") => (
            format!(
                "the user's password changed in Active Directory and the change synced to Entra ID ({}), which revoked the refresh tokens",
                match sc.identity.model {
                    IdentityModel::Phs => "password hash sync",
                    IdentityModel::Federated => "federation with password-expiry claims",
                    IdentityModel::Pta => "pass-through authentication with password writeback",
                }
            ),
            "the user signs in again with the new password (the access token stays valid until it expires)".into(),
        ),
        FaultCode::InvalidGrant if f.fault.diagnostics.contains("AADSTS700082") => (
            format!(
                "the refresh token expired after {} without use",
                match sc.entra.token_defaults {
                    TokenDefaults::Source => sc.entra.refresh_token_lifetime.to_string(),
                    TokenDefaults::Current => "90d".into(),
                }
            ),
            "the user signs in again; a longer refresh token lifetime (today's Entra ID default: 90 days of inactivity) makes it rarer: entra.token_defaults = current".into(),
        ),
        FaultCode::InvalidGrant if f.fault.diagnostics.contains("AADSTS70043") => (
            format!(
                "Conditional Access sign-in frequency: {}",
                f.fault
                    .message
                    .split_once("(policy ")
                    .map(|(_, rest)| rest.trim_end_matches(')'))
                    .unwrap_or(&f.fault.message)
            ),
            "the user signs in again interactively when the client asks, as the policy intends; if the interval is too short for the persona, lengthen the policy's sign-in frequency (`sessionControls.signInFrequency`, `sign_in_frequency` in a scenario)".into(),
        ),
        FaultCode::Unreachable | FaultCode::AutodiscoverUnreachable | FaultCode::DiscoveryFailed | FaultCode::AutodiscoverFailed => unreachable(sc, f),
        FaultCode::Timeout => {
            let outage = sc.timeline.iter().find(|a| a.action == hmasim_scenario::ActionKind::Outage);
            (
                match outage {
                    Some(a) => format!("{} is down from +{} to +{}", a.party.as_deref().unwrap_or("a party"), a.at, a.until.map(|u| u.to_string()).unwrap_or_default()),
                    None => "a party did not answer".into(),
                },
                "restore the unreachable party; clients and MRS retry on their next cycle".into(),
            )
        }
        FaultCode::InvalidToken | FaultCode::TokenExpired if !sc.clocks.is_empty() && (f.fault.message.contains("not valid before") || f.fault.code == FaultCode::TokenExpired) => {
            let clocks: Vec<String> = sc.clocks.iter().map(|c| format!("{} off by {} ms", c.party, c.skew.0)).collect();
            (
                format!("clock skew ({}): the token's validity falls outside the verifiers' 5-minute tolerance", clocks.join(", ")),
                "synchronize the servers' clocks with NTP (`w32tm /resync` on each Windows server)".into(),
            )
        }
        FaultCode::BlockedByConditionalAccess => (f.fault.message.clone(), "review the Conditional Access policy's conditions and grant controls".into()),
        FaultCode::MfaRegistrationRequired => (f.fault.message.clone(), "have the user register for Entra MFA".into()),
        FaultCode::MfaRegistrationBlocked => (f.fault.message.clone(), "have the user register for Entra MFA from a location the registration policy allows, or issue a Temporary Access Pass".into()),
        _ => (f.fault.message.clone(), "see the diagnostics of the refusal".into()),
    };
    Diagnosis {
        cause,
        event: f.seq,
        fix,
    }
}

fn unreachable(sc: &Scenario, f: &Failing) -> (String, String) {
    let ext = sc.activesync_url();
    let host = ext
        .split("://")
        .nth(1)
        .and_then(|r| r.split('/').next())
        .unwrap_or("");
    let known = [sc.mail_host(), sc.autodiscover_host()];
    if !known.iter().any(|h| h.eq_ignore_ascii_case(host)) {
        return (
            format!("AutoDiscover returns the ActiveSync virtual directory's ExternalURL {ext}, which is not reachable from the Internet"),
            format!("`Set-ActiveSyncVirtualDirectory -Identity \"Microsoft-Server-ActiveSync (Default Web Site)\" -ExternalUrl https://{}/Microsoft-Server-ActiveSync`", sc.mail_host()),
        );
    }
    if let Some(p) = sc.network.partitions.iter().find(|p| p.to == "entra-id") {
        return (
            format!("{} cannot reach Entra ID (login.microsoftonline.com, login.windows.net); hybrid modern authentication needs every client to reach it", p.from),
            "allow the client network to reach Entra ID's endpoints (proxy and firewall rules)".into(),
        );
    }
    if sc.onprem.publishing == Publishing::Wap && !sc.network.partitions.is_empty() {
        let p = &sc.network.partitions[0];
        return (
            format!("{} cannot reach {}", p.from, p.to),
            "open the path between them".into(),
        );
    }
    (
        f.fault.message.clone(),
        "make AutoDiscover and ActiveSync reachable from the Internet".into(),
    )
}
