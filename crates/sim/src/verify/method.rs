//! The ways a client authenticates to a mailbox, as verify explores them: a closed
//! vocabulary whose strings are the `method` of `hmasim-verify/2` paths and of `--accept`
//! files (`docs/verify.md`).

use std::cmp::Ordering;
use std::fmt;

use hmasim_scenario::{AuthMethod, MailProtocol};

/// One way to authenticate (a path's `method`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Method {
    /// `web`: the browser signs in to Outlook on the web.
    Web,
    /// `modern`: Outlook desktop with modern authentication.
    Modern,
    /// `modern-autodetect`: Outlook mobile with modern authentication, found by AutoDetect.
    ModernAutodetect,
    /// `basic-autodiscover`: Basic to AutoDiscover.
    BasicAutodiscover,
    /// `basic-mapi`: Basic to MAPI over HTTP.
    BasicMapi,
    /// `basic-ews`: Basic to EWS.
    BasicEws,
    /// `basic-oab`: Basic to the offline address book.
    BasicOab,
    /// `basic-rpc`: Basic to Outlook Anywhere (RPC over HTTP).
    BasicRpc,
    /// `basic-activesync`: Basic to ActiveSync.
    BasicActivesync,
    /// `basic-imap`: Basic (`LOGIN`) to IMAP.
    BasicImap,
    /// `basic-pop`: Basic (`USER`/`PASS`) to POP.
    BasicPop,
    /// `basic-activesync-manual`: Outlook mobile set up by hand for ActiveSync, without
    /// AutoDetect.
    BasicActivesyncManual,
    /// `iwa-mapi`: Windows integrated authentication (Kerberos) to MAPI, on the internal
    /// network.
    IwaMapi,
}

impl Method {
    /// Every method.
    pub const ALL: &'static [Method] = &[
        Method::Web,
        Method::Modern,
        Method::ModernAutodetect,
        Method::BasicAutodiscover,
        Method::BasicMapi,
        Method::BasicEws,
        Method::BasicOab,
        Method::BasicRpc,
        Method::BasicActivesync,
        Method::BasicImap,
        Method::BasicPop,
        Method::BasicActivesyncManual,
        Method::IwaMapi,
    ];

    /// The stable string (JSON `method`, `--accept` files).
    pub const fn as_str(self) -> &'static str {
        match self {
            Method::Web => "web",
            Method::Modern => "modern",
            Method::ModernAutodetect => "modern-autodetect",
            Method::BasicAutodiscover => "basic-autodiscover",
            Method::BasicMapi => "basic-mapi",
            Method::BasicEws => "basic-ews",
            Method::BasicOab => "basic-oab",
            Method::BasicRpc => "basic-rpc",
            Method::BasicActivesync => "basic-activesync",
            Method::BasicImap => "basic-imap",
            Method::BasicPop => "basic-pop",
            Method::BasicActivesyncManual => "basic-activesync-manual",
            Method::IwaMapi => "iwa-mapi",
        }
    }

    /// The method whose string is `s` (exactly, after trimming), if any.
    pub fn parse(s: &str) -> Option<Method> {
        let s = s.trim();
        Method::ALL.iter().copied().find(|m| m.as_str() == s)
    }

    /// Basic to `p`.
    pub const fn basic(p: MailProtocol) -> Method {
        match p {
            MailProtocol::Autodiscover => Method::BasicAutodiscover,
            MailProtocol::Mapi => Method::BasicMapi,
            MailProtocol::Ews => Method::BasicEws,
            MailProtocol::Oab => Method::BasicOab,
            MailProtocol::Rpc => Method::BasicRpc,
            MailProtocol::Activesync => Method::BasicActivesync,
            MailProtocol::Imap => Method::BasicImap,
            MailProtocol::Pop => Method::BasicPop,
        }
    }

    /// How the client is set up for it: its auth setting, the protocol it is pinned to
    /// and whether it uses AutoDetect.
    pub const fn setting(self) -> (AuthMethod, Option<MailProtocol>, bool) {
        match self {
            Method::Web | Method::Modern | Method::ModernAutodetect => {
                (AuthMethod::Modern, None, true)
            }
            Method::BasicAutodiscover => {
                (AuthMethod::Basic, Some(MailProtocol::Autodiscover), true)
            }
            Method::BasicMapi => (AuthMethod::Basic, Some(MailProtocol::Mapi), true),
            Method::BasicEws => (AuthMethod::Basic, Some(MailProtocol::Ews), true),
            Method::BasicOab => (AuthMethod::Basic, Some(MailProtocol::Oab), true),
            Method::BasicRpc => (AuthMethod::Basic, Some(MailProtocol::Rpc), true),
            Method::BasicActivesync => (AuthMethod::Basic, Some(MailProtocol::Activesync), true),
            Method::BasicImap => (AuthMethod::Basic, Some(MailProtocol::Imap), true),
            Method::BasicPop => (AuthMethod::Basic, Some(MailProtocol::Pop), true),
            // Outlook mobile keeps modern auth but is pointed at ActiveSync by hand.
            Method::BasicActivesyncManual => {
                (AuthMethod::Modern, Some(MailProtocol::Activesync), false)
            }
            Method::IwaMapi => (AuthMethod::Iwa, Some(MailProtocol::Mapi), true),
        }
    }

    /// The client app type it presents to Conditional Access (display).
    pub const fn client_app(self) -> &'static str {
        match self {
            Method::Web => "browser",
            Method::Modern | Method::ModernAutodetect => "mobileAppsAndDesktopClients",
            Method::BasicActivesync | Method::BasicActivesyncManual => "exchangeActiveSync",
            Method::IwaMapi => "none (Kerberos to Exchange on-premises)",
            Method::BasicAutodiscover
            | Method::BasicMapi
            | Method::BasicEws
            | Method::BasicOab
            | Method::BasicRpc
            | Method::BasicImap
            | Method::BasicPop => "other",
        }
    }

    /// Whether it speaks ActiveSync, so that device strings reach Exchange.
    pub const fn is_activesync(self) -> bool {
        matches!(
            self,
            Method::BasicActivesync | Method::BasicActivesyncManual
        )
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

// Paths sort by the method's string, as they did when it was one: output order is kept.
impl Ord for Method {
    fn cmp(&self, other: &Self) -> Ordering {
        self.as_str().cmp(other.as_str())
    }
}

impl PartialOrd for Method {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl serde::Serialize for Method {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_are_unique_and_parse_back() {
        let mut seen = std::collections::BTreeSet::new();
        for &m in Method::ALL {
            assert!(seen.insert(m.as_str()), "{m} twice");
            assert_eq!(Method::parse(m.as_str()), Some(m));
            assert_eq!(Method::parse(&format!(" {m} ")), Some(m));
        }
        assert_eq!(Method::parse("Basic-IMAP"), None);
        assert_eq!(Method::parse("basic-smtp"), None);
    }

    #[test]
    fn basic_names_its_protocol() {
        for p in [
            MailProtocol::Autodiscover,
            MailProtocol::Mapi,
            MailProtocol::Ews,
            MailProtocol::Oab,
            MailProtocol::Rpc,
            MailProtocol::Activesync,
            MailProtocol::Imap,
            MailProtocol::Pop,
        ] {
            let m = Method::basic(p);
            assert_eq!(m.as_str(), format!("basic-{}", p.name()));
            assert_eq!(m.setting(), (AuthMethod::Basic, Some(p), true));
        }
    }

    #[test]
    fn the_client_app_follows_the_method() {
        assert_eq!(Method::Web.client_app(), "browser");
        assert_eq!(
            Method::ModernAutodetect.client_app(),
            "mobileAppsAndDesktopClients"
        );
        assert_eq!(
            Method::BasicActivesyncManual.client_app(),
            "exchangeActiveSync"
        );
        assert_eq!(
            Method::IwaMapi.client_app(),
            "none (Kerberos to Exchange on-premises)"
        );
        assert_eq!(Method::BasicImap.client_app(), "other");
        assert!(
            Method::BasicActivesync.is_activesync() && !Method::ModernAutodetect.is_activesync()
        );
    }
}
