//! Well-known application ids and issuers of the Microsoft cloud, as they appear in the
//! 401 challenges and tokens of the documented flows.

/// Office 365 Exchange Online (`client_id` of Exchange's Bearer challenge; `appid` of AT2).
pub const EXCHANGE_ONLINE: &str = "00000002-0000-0ff1-ce00-000000000000";
/// The Exchange Server principal in `trusted_issuers`.
pub const EXCHANGE_SERVER: &str = "00000004-0000-0ff1-ce00-000000000000";
/// The Microsoft Entra ID (ACS) principal in `trusted_issuers`.
pub const ENTRA_PRINCIPAL: &str = "00000001-0000-0000-c000-000000000000";
/// Outlook for iOS and Android.
pub const OUTLOOK_MOBILE: &str = "27922004-5251-4030-b22d-91ecd9a37ea4";
/// Microsoft Office (Outlook desktop).
pub const OUTLOOK_DESKTOP: &str = "d3590ed6-52b3-4102-aeff-aad2292ab01c";
/// The Exchange Online resource (audience of AT1).
pub const EXO_RESOURCE: &str = "https://outlook.office365.com";
/// The authorization endpoint Exchange on-premises advertises (EvoSTS auth server).
pub const EVOSTS_AUTHORIZE: &str = "https://login.windows.net/common/oauth2/authorize";
/// The authorization endpoint Exchange Online advertises.
pub const ENTRA_AUTHORIZE: &str = "https://login.microsoftonline.com/common/oauth2/authorize";
/// Entra ID's token endpoint.
pub const ENTRA_TOKEN: &str = "https://login.microsoftonline.com/common/oauth2/token";
/// Where AD FS posts the sign-in back to Entra ID.
pub const ENTRA_LOGIN_SRF: &str = "https://login.microsoftonline.com/login.srf";
/// Entra ID's own credential endpoint (PHS/PTA).
pub const ENTRA_LOGIN: &str = "https://login.microsoftonline.com/common/login";
/// Entra ID's MFA endpoint in the sign-in page.
pub const ENTRA_MFA: &str = "https://login.microsoftonline.com/common/SAS/ProcessAuth";
/// The Entra MFA service the AD FS adapter calls.
pub const ENTRA_MFA_CONNECTOR: &str =
    "https://adnotifications.windowsazure.com/StrongAuthenticationService.svc/Connector/BeginTwoWayAuthentication";
/// The Office 365 relying party of AD FS.
pub const O365_REALM: &str = "urn:federation:MicrosoftOnline";
/// Where Exchange fetches the EvoSTS auth metadata (the auth server's metadata URL host).
pub const METADATA_HOST: &str = "accounts.accesscontrol.windows.net";
/// The redirect URI of native Outlook clients.
pub const NATIVE_REDIRECT: &str = "urn:ietf:wg:oauth:2.0:oob";

/// The party id an application id stands for in trace output (`client` of a token).
pub fn client_party(appid: &str) -> &'static str {
    match appid {
        OUTLOOK_MOBILE => "outlook-mobile",
        OUTLOOK_DESKTOP => "outlook-desktop",
        EXCHANGE_ONLINE => "exchange-online",
        _ => "unknown",
    }
}

/// The issuer (`iss`) of Entra ID v1 tokens for tenant `tid`.
pub fn entra_issuer(tid: &str) -> String {
    ["https://sts.windows.net/", tid, "/"].concat()
}
