//! The stable ids of the parties of flows.md.

use std::fmt;

/// Every kind of party, with the stable id that traces carry.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PartyKind {
    /// Outlook for Windows / Mac.
    OutlookDesktop,
    /// Outlook for iOS / Android.
    OutlookMobile,
    /// A web browser (OWA, ECP).
    Browser,
    /// A mobile OS mail app speaking ActiveSync.
    NativeMail,
    /// The AutoDetect service used by Outlook mobile.
    Autodetect,
    /// Exchange Online.
    ExchangeOnline,
    /// The protocol translator in front of Exchange Online for Outlook mobile.
    ProtocolTranslator,
    /// The MRS provisioning API inside Exchange Online.
    Mrs,
    /// Exchange Server on-premises.
    ExchangeOnprem,
    /// The load balancer in front of Exchange on-premises.
    LoadBalancer,
    /// Microsoft Entra ID (EvoSTS).
    EntraId,
    /// AD FS.
    Adfs,
    /// Web Application Proxy.
    Wap,
    /// On-premises Active Directory.
    ActiveDirectory,
}

impl PartyKind {
    /// Every party kind, in the order of flows.md.
    pub const ALL: [PartyKind; 14] = [
        PartyKind::OutlookDesktop,
        PartyKind::OutlookMobile,
        PartyKind::Browser,
        PartyKind::NativeMail,
        PartyKind::Autodetect,
        PartyKind::ExchangeOnline,
        PartyKind::ProtocolTranslator,
        PartyKind::Mrs,
        PartyKind::ExchangeOnprem,
        PartyKind::LoadBalancer,
        PartyKind::EntraId,
        PartyKind::Adfs,
        PartyKind::Wap,
        PartyKind::ActiveDirectory,
    ];

    /// The stable id, as in flows.md.
    pub const fn id(self) -> &'static str {
        match self {
            PartyKind::OutlookDesktop => "outlook-desktop",
            PartyKind::OutlookMobile => "outlook-mobile",
            PartyKind::Browser => "browser",
            PartyKind::NativeMail => "native-mail",
            PartyKind::Autodetect => "autodetect",
            PartyKind::ExchangeOnline => "exchange-online",
            PartyKind::ProtocolTranslator => "protocol-translator",
            PartyKind::Mrs => "mrs",
            PartyKind::ExchangeOnprem => "exchange-onprem",
            PartyKind::LoadBalancer => "load-balancer",
            PartyKind::EntraId => "entra-id",
            PartyKind::Adfs => "adfs",
            PartyKind::Wap => "wap",
            PartyKind::ActiveDirectory => "active-directory",
        }
    }

    /// The kind with stable id `id`.
    pub fn from_id(id: &str) -> Option<PartyKind> {
        PartyKind::ALL.into_iter().find(|p| p.id() == id)
    }

    /// Whether this party is a client the user holds.
    pub const fn is_client(self) -> bool {
        matches!(
            self,
            PartyKind::OutlookDesktop
                | PartyKind::OutlookMobile
                | PartyKind::Browser
                | PartyKind::NativeMail
        )
    }
}

impl fmt::Display for PartyKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.id())
    }
}
