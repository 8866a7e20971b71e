//! The mailbox protocols Exchange speaks, parsed from what crosses the wire (an HTTP
//! request's virtual directory path, AutoDiscover v2's `Protocol` parameter; IMAP and POP
//! sessions name theirs by their URL scheme), and the ActiveSync
//! device characteristics a device access rule compares. Parties decide on these enums,
//! never on the strings.

use std::fmt;

/// A mailbox protocol, as authentication policies name it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum MailboxProtocol {
    /// Exchange ActiveSync (`/Microsoft-Server-ActiveSync`).
    Activesync,
    /// AutoDiscover (`/autodiscover`).
    Autodiscover,
    /// MAPI over HTTP (`/mapi`).
    Mapi,
    /// Exchange Web Services (`/EWS`).
    Ews,
    /// The offline address book (`/OAB`).
    Oab,
    /// Outlook Anywhere, RPC over HTTP (`/rpc`).
    Rpc,
    /// IMAP4.
    Imap,
    /// POP3.
    Pop,
}

impl MailboxProtocol {
    /// Every protocol.
    pub const ALL: [MailboxProtocol; 8] = [
        MailboxProtocol::Activesync,
        MailboxProtocol::Autodiscover,
        MailboxProtocol::Mapi,
        MailboxProtocol::Ews,
        MailboxProtocol::Oab,
        MailboxProtocol::Rpc,
        MailboxProtocol::Imap,
        MailboxProtocol::Pop,
    ];

    /// The protocols of HTTP virtual directories, with their path prefix (lower case).
    /// IMAP and POP are not among them: they are line protocols on their own ports
    /// ([`crate::line::session`]).
    const PATHS: [(&'static str, MailboxProtocol); 6] = [
        ("/microsoft-server-activesync", MailboxProtocol::Activesync),
        ("/autodiscover", MailboxProtocol::Autodiscover),
        ("/mapi", MailboxProtocol::Mapi),
        ("/ews", MailboxProtocol::Ews),
        ("/oab", MailboxProtocol::Oab),
        ("/rpc", MailboxProtocol::Rpc),
    ];

    /// The name authentication policies and AutoDiscover v2 use (`activesync`, `ews`...).
    pub const fn as_str(self) -> &'static str {
        match self {
            MailboxProtocol::Activesync => "activesync",
            MailboxProtocol::Autodiscover => "autodiscover",
            MailboxProtocol::Mapi => "mapi",
            MailboxProtocol::Ews => "ews",
            MailboxProtocol::Oab => "oab",
            MailboxProtocol::Rpc => "rpc",
            MailboxProtocol::Imap => "imap",
            MailboxProtocol::Pop => "pop",
        }
    }

    /// The protocol a name stands for, ignoring case (AutoDiscover v2's
    /// `Protocol=ActiveSync`).
    pub fn parse(s: &str) -> Option<MailboxProtocol> {
        Self::ALL
            .into_iter()
            .find(|p| p.as_str().eq_ignore_ascii_case(s))
    }

    /// The protocol whose virtual directory `path` is in, ignoring case.
    pub fn of_path(path: &str) -> Option<MailboxProtocol> {
        Self::PATHS
            .iter()
            .find(|(prefix, _)| {
                path.get(..prefix.len())
                    .is_some_and(|head| head.eq_ignore_ascii_case(prefix))
            })
            .map(|(_, p)| *p)
    }
}

impl fmt::Display for MailboxProtocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

/// What an ActiveSync device access rule compares (`New-ActiveSyncDeviceAccessRule
/// -Characteristic`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum DeviceCharacteristic {
    /// The `DeviceType` query parameter.
    DeviceType,
    /// The `X-DeviceModel` header (ActiveSync's device model).
    DeviceModel,
    /// The whole `User-Agent` header.
    UserAgent,
}

impl DeviceCharacteristic {
    /// The cmdlet's name for it.
    pub const fn as_str(self) -> &'static str {
        match self {
            DeviceCharacteristic::DeviceType => "DeviceType",
            DeviceCharacteristic::DeviceModel => "DeviceModel",
            DeviceCharacteristic::UserAgent => "UserAgent",
        }
    }
}

impl fmt::Display for DeviceCharacteristic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

/// The query of an ActiveSync request in its plain (not base64) form, MS-ASHTTP 2.2.1.1.1:
/// `Cmd`, `User`, `DeviceId`, `DeviceType`, parsed once from the URL (parameter names
/// ignore case). Exchange's device access rules read `DeviceType` here.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ActiveSyncQuery {
    /// `Cmd` (`Sync`, `FolderSync`, `Provision`...).
    pub cmd: Option<String>,
    /// `User`.
    pub user: Option<String>,
    /// `DeviceId`.
    pub device_id: Option<String>,
    /// `DeviceType` (`iPhone`, `Android`, `Outlook`, `OutlookService`...).
    pub device_type: Option<String>,
}

impl ActiveSyncQuery {
    /// The ActiveSync parameters of `url`'s query.
    pub fn parse(url: &crate::Url) -> ActiveSyncQuery {
        let get = |k: &str| url.param(k).map(str::to_string);
        ActiveSyncQuery {
            cmd: get("Cmd"),
            user: get("User"),
            device_id: get("DeviceId"),
            device_type: ActiveSyncQuery::device_type_of(url).map(str::to_string),
        }
    }

    /// `url`'s `DeviceType` parameter, borrowed (what [`ActiveSyncQuery::parse`] reads into
    /// `device_type`): device access rules read it on every request.
    pub fn device_type_of(url: &crate::Url) -> Option<&str> {
        url.param("DeviceType")
    }

    /// `url` with these parameters appended, in MS-ASHTTP's order (`Cmd`, `User`,
    /// `DeviceId`, `DeviceType`; those set only).
    pub fn write(&self, mut url: crate::Url) -> crate::Url {
        for (k, v) in [
            ("Cmd", &self.cmd),
            ("User", &self.user),
            ("DeviceId", &self.device_id),
            ("DeviceType", &self.device_type),
        ] {
            if let Some(v) = v {
                url = url.with(k, v.clone());
            }
        }
        url
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_activesync_query_parses_and_writes_back() {
        let url = crate::Url::parse(
            "https://mail.contoso.com/Microsoft-Server-ActiveSync?cmd=Sync&User=u%40contoso.com&DEVICETYPE=iPhone",
        )
        .unwrap();
        let q = ActiveSyncQuery::parse(&url);
        assert_eq!(q.cmd.as_deref(), Some("Sync"));
        assert_eq!(q.user.as_deref(), Some("u@contoso.com"));
        assert_eq!(q.device_type.as_deref(), Some("iPhone"));
        assert_eq!(q.device_id, None);
        let base = crate::Url::https("mail.contoso.com", "/Microsoft-Server-ActiveSync");
        assert_eq!(
            q.write(base).to_string(),
            "https://mail.contoso.com/Microsoft-Server-ActiveSync?Cmd=Sync&User=u%40contoso.com&DeviceType=iPhone"
        );
        assert_eq!(
            ActiveSyncQuery::parse(&crate::Url::https("h", "/")),
            ActiveSyncQuery::default()
        );
    }

    #[test]
    fn paths_name_their_protocol_whatever_the_case() {
        assert_eq!(
            MailboxProtocol::of_path("/Microsoft-Server-ActiveSync"),
            Some(MailboxProtocol::Activesync)
        );
        assert_eq!(
            MailboxProtocol::of_path("/EWS/Exchange.asmx"),
            Some(MailboxProtocol::Ews)
        );
        // IMAP and POP are line protocols, not paths.
        assert_eq!(MailboxProtocol::of_path("/imap"), None);
        assert_eq!(MailboxProtocol::of_path("/pop"), None);
        assert_eq!(MailboxProtocol::of_path("/owa"), None);
        assert_eq!(MailboxProtocol::of_path("/"), None);
        // A multi-byte character where a prefix would end is not a panic.
        assert_eq!(MailboxProtocol::of_path("/po\u{e9}"), None);
    }

    #[test]
    fn names_parse_back_ignoring_case() {
        for p in MailboxProtocol::ALL {
            assert_eq!(MailboxProtocol::parse(p.as_str()), Some(p));
            assert_eq!(
                MailboxProtocol::parse(&p.as_str().to_ascii_uppercase()),
                Some(p)
            );
        }
        assert_eq!(
            MailboxProtocol::parse("ActiveSync"),
            Some(MailboxProtocol::Activesync)
        );
        assert_eq!(MailboxProtocol::parse("smtp"), None);
        assert_eq!(MailboxProtocol::parse(""), None);
    }

    #[test]
    fn characteristics_print_as_the_cmdlet_names_them() {
        assert_eq!(DeviceCharacteristic::DeviceType.to_string(), "DeviceType");
        assert_eq!(DeviceCharacteristic::DeviceModel.to_string(), "DeviceModel");
        assert_eq!(DeviceCharacteristic::UserAgent.to_string(), "UserAgent");
    }
}
