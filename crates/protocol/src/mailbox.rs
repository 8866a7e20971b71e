//! The mailbox protocols an Exchange virtual directory speaks, parsed from what crosses the
//! wire (the request path, AutoDiscover v2's `Protocol` parameter), and the ActiveSync
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
    /// Every protocol, with the path prefix of its virtual directory (lower case).
    const PATHS: [(&'static str, MailboxProtocol); 8] = [
        ("/microsoft-server-activesync", MailboxProtocol::Activesync),
        ("/autodiscover", MailboxProtocol::Autodiscover),
        ("/mapi", MailboxProtocol::Mapi),
        ("/ews", MailboxProtocol::Ews),
        ("/oab", MailboxProtocol::Oab),
        ("/rpc", MailboxProtocol::Rpc),
        ("/imap", MailboxProtocol::Imap),
        ("/pop", MailboxProtocol::Pop),
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
        Self::PATHS
            .iter()
            .map(|(_, p)| *p)
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

#[cfg(test)]
mod tests {
    use super::*;

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
        assert_eq!(
            MailboxProtocol::of_path("/imap"),
            Some(MailboxProtocol::Imap)
        );
        assert_eq!(MailboxProtocol::of_path("/pop"), Some(MailboxProtocol::Pop));
        assert_eq!(MailboxProtocol::of_path("/owa"), None);
        assert_eq!(MailboxProtocol::of_path("/"), None);
        // A multi-byte character where a prefix would end is not a panic.
        assert_eq!(MailboxProtocol::of_path("/po\u{e9}"), None);
    }

    #[test]
    fn names_parse_back_ignoring_case() {
        for (_, p) in MailboxProtocol::PATHS {
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
