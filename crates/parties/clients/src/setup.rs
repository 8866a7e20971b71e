//! A client's configuration from its slice of the scenario (issue 12 item 5: the world
//! builder's topology table calls this; a timeline `set` calls it again for the fresh
//! configuration).

use hmasim_base::SimDuration;
use hmasim_protocol::line::session::LineProtocol;
use hmasim_protocol::{Net, Url};
use hmasim_scenario::{
    AuthMethod, ClientKind, DeviceState, Location, MailProtocol, MailboxLocation, Platform,
    Scenario, User,
};

use crate::{Auth, Client, ClientConfig, ClientKind as CK};

/// Where Outlook mobile's AutoDetect answers.
pub const AUTODETECT_HOST: &str = "prod-autodetect.outlookmobile.com";
/// Where Outlook mobile's protocol translator answers.
pub const TRANSLATOR_HOST: &str = "prod-global.outlookmobile.com";
/// Outlook on the web in Exchange Online.
const OWA_URL: &str = "https://outlook.office.com/owa/";

impl Client {
    /// The client `c` of `sc`, whose user is `user`, with its network view `net`;
    /// `retries` keeps copies of requests for resending (the run can lose a message).
    pub fn from_scenario(
        sc: &Scenario,
        c: &hmasim_scenario::Client,
        user: &User,
        retries: bool,
        net: Net,
    ) -> Client {
        let mail_host = sc.mail_host();
        let internal = c.location == Location::Internal;
        let mailbox_url = match (c.kind, user.mailbox) {
            (ClientKind::Browser, MailboxLocation::Online) => {
                Url::parse(OWA_URL).expect("constant URL")
            }
            (ClientKind::Browser, MailboxLocation::Onprem) => Url::https(&mail_host, "/owa/"),
            (_, MailboxLocation::Online) => Url::https("outlook.office365.com", "/mapi/emsmdb/")
                .with("MailboxId", user.upn.clone()),
            (_, MailboxLocation::Onprem) => {
                Url::https(&mail_host, "/mapi/emsmdb/").with("MailboxId", user.upn.clone())
            }
        };
        let auth = client_auth(c, user.mailbox, &mail_host);
        let (presented_ua, presented_device) = presented(c);
        let seed = sc.seed;
        let cfg = ClientConfig {
            retries,
            auth,
            device: presented_device,
            id: c.party_id(),
            kind: match c.kind {
                ClientKind::OutlookDesktop => CK::OutlookDesktop,
                ClientKind::OutlookMobile => CK::OutlookMobile,
                ClientKind::Browser => CK::Browser,
                ClientKind::NativeMail => CK::NativeMail,
            },
            upn: user.upn.clone(),
            password: user.password.clone(),
            user_agent: presented_ua,
            kerberos: internal && c.device.domain_joined(),
            mailbox_url,
            autodetect_url: Url::https(AUTODETECT_HOST, "/detect")
                .with("services", "office365,outlook,google,icloud,yahoo")
                .with("protocols", "eas,rest-cloud,rest-outlook")
                .with("timeout", "20"),
            translator_url: Url::https(TRANSLATOR_HOST, "/api/v1/provision"),
            domain: sc.tenant.domain.to_ascii_lowercase(),
            approve_mfa: true,
            sync_interval: SimDuration::from_millis(c.sync_interval.ms()),
            device_credential: c
                .device
                .record(&c.party_id(), c.platform, seed)
                .map(|r| hmasim_protocol::device::credential(&r.id, &user.upn, seed)),
            register_device: c.device == DeviceState::Registers,
            device_name: c.device_name.clone(),
        };
        Client::new(cfg, net)
    }
}

/// How a scenario client authenticates: modern, or legacy against its protocol's endpoint
/// at the mailbox's host (an HTTP virtual directory, or the IMAP or POP port: an
/// `imaps://`/`pop3s://` URL).
pub fn client_auth(c: &hmasim_scenario::Client, mailbox: MailboxLocation, mail_host: &str) -> Auth {
    let protocol = c.protocol.unwrap_or(match c.kind {
        ClientKind::OutlookDesktop | ClientKind::Browser => MailProtocol::Mapi,
        _ => MailProtocol::Activesync,
    });
    let host = match mailbox {
        MailboxLocation::Online => "outlook.office365.com",
        MailboxLocation::Onprem => mail_host,
    };
    let url = match protocol {
        // Line protocols on their own ports, not HTTP paths (issue 12 item 4).
        MailProtocol::Imap => Url::line(LineProtocol::Imap, host),
        MailProtocol::Pop => Url::line(LineProtocol::Pop, host),
        p => Url::https(host, legacy_path(p)),
    };
    match (c.auth, c.kind) {
        (_, ClientKind::NativeMail) | (AuthMethod::Basic, _) => Auth::Basic { url },
        (AuthMethod::Modern, ClientKind::OutlookMobile) if !c.autodetect => Auth::Basic { url },
        (AuthMethod::Iwa, _) => Auth::Iwa { url },
        _ => Auth::Modern,
    }
}

/// The path of an HTTP mailbox protocol's endpoint (IMAP and POP have none: they are
/// line protocols, addressed by an `imaps`/`pop3s` URL).
fn legacy_path(p: MailProtocol) -> &'static str {
    match p {
        MailProtocol::Activesync => "/Microsoft-Server-ActiveSync",
        MailProtocol::Autodiscover => "/autodiscover/autodiscover.xml",
        MailProtocol::Mapi => "/mapi/emsmdb/",
        MailProtocol::Ews => "/EWS/Exchange.asmx",
        MailProtocol::Oab => "/OAB/oab.xml",
        MailProtocol::Rpc => "/rpc/rpcproxy.dll",
        MailProtocol::Imap | MailProtocol::Pop => "/",
    }
}

/// What a client presents on the wire: its `User-Agent`, and its ActiveSync `DeviceType`
/// and device model; the scenario's values when it sets them (what a password holder
/// writes), else its kind's and platform's own. The explorer of `hmasim verify` sets the
/// same on a branched world.
pub fn presented(c: &hmasim_scenario::Client) -> (String, (String, String)) {
    let device = default_device(c.kind, c.platform);
    (
        c.user_agent
            .clone()
            .unwrap_or_else(|| user_agent(c.kind, c.platform).to_string()),
        (
            c.device_type
                .clone()
                .unwrap_or_else(|| device.0.to_string()),
            c.device_model
                .clone()
                .unwrap_or_else(|| device.1.to_string()),
        ),
    )
}

/// The ActiveSync `DeviceType` and model a client kind reports on its own.
pub fn default_device(kind: ClientKind, platform: Platform) -> (&'static str, &'static str) {
    match (kind, platform) {
        (ClientKind::OutlookMobile, _) => ("Outlook", "Outlook for iOS and Android"),
        (ClientKind::NativeMail, Platform::Android) => ("Android", "Android"),
        (ClientKind::NativeMail, _) => ("iPhone", "iPhone"),
        _ => ("", ""),
    }
}

/// The `User-Agent` a client kind sends on its own.
pub fn user_agent(kind: ClientKind, platform: Platform) -> &'static str {
    match (kind, platform) {
        (ClientKind::NativeMail, Platform::Android) => "Android-Mail/2024.11 (Android 14)",
        (ClientKind::NativeMail, _) => "Apple-iPhone15C2/2104.1 (iOS 17.6)",
        (ClientKind::OutlookMobile, Platform::Android) => "Outlook-Android/2.0",
        (ClientKind::OutlookMobile, _) => "Outlook-iOS/2.0",
        (ClientKind::OutlookDesktop, Platform::Macos) => "Outlook-Mac/16.90 (Macintosh; Mac OS X 14.6)",
        (ClientKind::OutlookDesktop, _) => "Microsoft Office/16.0 (Windows NT 10.0; Microsoft Outlook 16.0.17928; Pro)",
        (ClientKind::Browser, Platform::Macos) => "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_6) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.6 Safari/605.1.15",
        (ClientKind::Browser, Platform::Ios) => "Mozilla/5.0 (iPhone; CPU iPhone OS 17_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.6 Mobile/15E148 Safari/604.1",
        (ClientKind::Browser, Platform::Android) => "Mozilla/5.0 (Linux; Android 14) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0 Mobile Safari/537.36",
        (ClientKind::Browser, Platform::Windows) => "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36 Edg/130.0.0.0",
    }
}
