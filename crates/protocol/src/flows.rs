//! The nine documented flows and the step numbers of their source articles.
//!
//! Parties tag each message with the [`Stage`] it realizes (what they are doing, in their
//! own terms). A flow's catalogue maps stages to the numbered steps of the article the flow
//! comes from, so a trace can say "step 17 of mobile-onprem-hma" without any party knowing
//! the numbering. A stage a flow does not document carries no step.

use std::fmt;

use serde::Serialize;

/// The documented flows of flows.md.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum FlowId {
    /// Web access, mailbox in Exchange Online.
    WebExo,
    /// Web access, mailbox on-premises, from inside.
    WebOnpremInternal,
    /// Web access, mailbox on-premises, from outside.
    WebOnpremExternal,
    /// Outlook desktop, Exchange Online, MFA by Conditional Access.
    DesktopExoCa,
    /// Outlook desktop, Exchange Online, MFA by AD FS.
    DesktopExoAdfsMfa,
    /// Outlook desktop, Exchange on-premises (HMA), MFA by Conditional Access.
    DesktopOnpremCa,
    /// Outlook desktop, Exchange on-premises (HMA), MFA by AD FS.
    DesktopOnpremAdfsMfa,
    /// Outlook mobile, Exchange Online.
    MobileExo,
    /// Outlook mobile, Exchange on-premises, hybrid modern auth through MRS.
    MobileOnpremHma,
}

impl FlowId {
    /// Every flow, in the order of flows.md.
    pub const ALL: [FlowId; 9] = [
        FlowId::WebExo,
        FlowId::WebOnpremInternal,
        FlowId::WebOnpremExternal,
        FlowId::DesktopExoCa,
        FlowId::DesktopExoAdfsMfa,
        FlowId::DesktopOnpremCa,
        FlowId::DesktopOnpremAdfsMfa,
        FlowId::MobileExo,
        FlowId::MobileOnpremHma,
    ];

    /// The flow's name.
    pub const fn name(self) -> &'static str {
        match self {
            FlowId::WebExo => "web-exo",
            FlowId::WebOnpremInternal => "web-onprem-internal",
            FlowId::WebOnpremExternal => "web-onprem-external",
            FlowId::DesktopExoCa => "desktop-exo-ca",
            FlowId::DesktopExoAdfsMfa => "desktop-exo-adfs-mfa",
            FlowId::DesktopOnpremCa => "desktop-onprem-ca",
            FlowId::DesktopOnpremAdfsMfa => "desktop-onprem-adfs-mfa",
            FlowId::MobileExo => "mobile-exo",
            FlowId::MobileOnpremHma => "mobile-onprem-hma",
        }
    }

    /// The flow named `name`.
    pub fn from_name(name: &str) -> Option<FlowId> {
        FlowId::ALL.into_iter().find(|f| f.name() == name)
    }

    /// The source article (file in `shared/seeds/`) the numbering comes from.
    pub const fn source(self) -> &'static str {
        match self {
            FlowId::WebExo | FlowId::WebOnpremInternal | FlowId::WebOnpremExternal => {
                "002_b0a75a151977d765.txt"
            }
            FlowId::DesktopExoCa
            | FlowId::DesktopExoAdfsMfa
            | FlowId::DesktopOnpremCa
            | FlowId::DesktopOnpremAdfsMfa => "001_e36b2ce3cf623bd0.txt",
            FlowId::MobileExo => "000_0f966adcc6096fb6.txt",
            FlowId::MobileOnpremHma => "003_116fdacafd1bcb8d.txt",
        }
    }

    /// The documented steps of the flow, in order.
    pub fn steps(self) -> &'static [StepDef] {
        use Stage::*;
        macro_rules! s {
            ($n:expr, $fed:expr, $title:expr, [$($st:ident),*]) => {
                StepDef { n: $n, federated_only: $fed, title: $title, stages: &[$($st),*] }
            };
        }
        match self {
            FlowId::WebExo => &[
                s!(
                    1,
                    false,
                    "Browser opens https://outlook.office.com/owa",
                    [OpenOwa]
                ),
                s!(
                    2,
                    false,
                    "Exchange Online redirects to Entra ID (federated: via AD FS and back)",
                    [
                        RedirectToIdp,
                        EntraSignIn,
                        EntraSignInPage,
                        FederationRedirect,
                        AdfsSignInPage,
                        IwaSignIn,
                        Credentials,
                        BackToEntra
                    ]
                ),
                s!(
                    3,
                    false,
                    "Entra ID applies Conditional Access (browser)",
                    [CaEvaluated]
                ),
                s!(
                    4,
                    false,
                    "Conditional Access calls Entra MFA; the user is prompted",
                    [MfaPrompt]
                ),
                s!(5, false, "The user completes MFA", [MfaDone]),
                s!(
                    6,
                    false,
                    "Entra ID redirects the session back to Exchange Online; OWA opens",
                    [SessionBack, UseToken]
                ),
            ],
            FlowId::WebOnpremInternal | FlowId::WebOnpremExternal => &[
                s!(
                    1,
                    false,
                    "Browser opens https://mail.contoso.com/owa",
                    [OpenOwa]
                ),
                s!(
                    2,
                    false,
                    "Exchange (or WAP) redirects to AD FS",
                    [RedirectToIdp]
                ),
                s!(
                    3,
                    false,
                    "AD FS signs the user in (IWA inside, forms outside)",
                    [AdfsSignInPage, IwaSignIn, Credentials]
                ),
                s!(
                    4,
                    false,
                    "An AD FS access control policy calls Entra MFA; the user is prompted",
                    [AdfsMfaPrompt, MfaPrompt]
                ),
                s!(
                    5,
                    false,
                    "The user completes MFA; AD FS posts the claims to Exchange",
                    [MfaDone, AdfsMfaDone, AdfsClaimsBack]
                ),
                s!(6, false, "OWA opens", [UseToken]),
            ],
            FlowId::DesktopExoCa | FlowId::DesktopOnpremCa => &[
                s!(1, false, "Outlook connects to Exchange", [ClientConnects]),
                s!(
                    2,
                    false,
                    "Exchange returns the Entra ID endpoint to get a token from",
                    [AuthorityReturned]
                ),
                s!(
                    3,
                    false,
                    "Outlook connects to Entra ID at that URL",
                    [EntraSignIn]
                ),
                s!(
                    4,
                    true,
                    "Federated: Entra ID redirects to AD FS",
                    [FederationRedirect]
                ),
                s!(
                    5,
                    false,
                    "The user enters credentials",
                    [AdfsSignInPage, EntraSignInPage, Credentials]
                ),
                s!(6, true, "AD FS redirects back to Entra ID", [BackToEntra]),
                s!(
                    7,
                    false,
                    "Entra ID applies Conditional Access (mobile apps and desktop clients)",
                    [CaEvaluated]
                ),
                s!(
                    8,
                    false,
                    "Conditional Access calls Entra MFA; the user is prompted",
                    [MfaPrompt]
                ),
                s!(9, false, "The user completes MFA", [MfaDone]),
                s!(
                    10,
                    false,
                    "Entra ID issues access and refresh tokens to Outlook",
                    [AuthCode, TokensIssued]
                ),
                s!(
                    11,
                    false,
                    "Outlook presents the access token to Exchange and gets the mailbox",
                    [UseToken]
                ),
            ],
            FlowId::DesktopExoAdfsMfa | FlowId::DesktopOnpremAdfsMfa => &[
                s!(1, false, "Outlook connects to Exchange", [ClientConnects]),
                s!(
                    2,
                    false,
                    "Exchange returns the Entra ID endpoint to get a token from",
                    [AuthorityReturned]
                ),
                s!(3, false, "Outlook connects to Entra ID", [EntraSignIn]),
                s!(
                    4,
                    true,
                    "Federated: Entra ID redirects to AD FS",
                    [FederationRedirect]
                ),
                s!(
                    5,
                    false,
                    "The user enters credentials",
                    [AdfsSignInPage, EntraSignInPage, Credentials]
                ),
                s!(
                    6,
                    true,
                    "An AD FS access control policy calls Entra MFA; the user is prompted",
                    [AdfsMfaPrompt, MfaPrompt]
                ),
                s!(7, true, "The user completes MFA", [MfaDone, AdfsMfaDone]),
                s!(8, true, "AD FS redirects back to Entra ID", [BackToEntra]),
                s!(
                    9,
                    false,
                    "Entra ID issues access and refresh tokens",
                    [AuthCode, TokensIssued]
                ),
                s!(
                    10,
                    false,
                    "Outlook presents the access token to Exchange and gets the mailbox",
                    [UseToken]
                ),
            ],
            FlowId::MobileExo => &[
                s!(1, false, "Outlook mobile connects to AutoDetect", [Detect]),
                s!(
                    2,
                    false,
                    "AutoDiscover v2 at Exchange Online answers 302 with the ActiveSync URL",
                    [AutodiscoverExo, AutodiscoverRedirect]
                ),
                s!(
                    3,
                    false,
                    "AutoDetect calls ActiveSync with an empty Bearer",
                    [EasProbe]
                ),
                s!(
                    4,
                    false,
                    "Exchange Online answers 401 with the Entra ID authorization URL",
                    [EasChallenge]
                ),
                s!(
                    5,
                    false,
                    "AutoDetect returns the Entra ID endpoint to the client",
                    [DetectAnswer]
                ),
                s!(
                    6,
                    false,
                    "The client connects to Entra ID and enters the email address",
                    [EntraSignIn, EntraSignInPage]
                ),
                s!(
                    7,
                    true,
                    "Federated: redirected to WAP",
                    [FederationRedirect]
                ),
                s!(
                    8,
                    true,
                    "WAP proxies to AD FS; sign-in page",
                    [AdfsSignInPage]
                ),
                s!(9, false, "The user enters credentials", [Credentials]),
                s!(10, true, "Redirected back to Entra ID", [BackToEntra]),
                s!(
                    11,
                    false,
                    "Entra ID applies Conditional Access",
                    [CaEvaluated]
                ),
                s!(
                    12,
                    false,
                    "Device state, app protection and/or MFA required",
                    [CaControls]
                ),
                s!(
                    13,
                    false,
                    "The user satisfies the policy and completes MFA",
                    [MfaPrompt, MfaDone]
                ),
                s!(
                    14,
                    false,
                    "Entra ID returns access and refresh tokens",
                    [AuthCode, TokensIssued]
                ),
                s!(
                    15,
                    false,
                    "The client uses the access token on Exchange Online",
                    [UseToken]
                ),
            ],
            FlowId::MobileOnpremHma => &[
                s!(1, false, "Outlook mobile connects to AutoDetect", [Detect]),
                s!(
                    2,
                    false,
                    "AutoDetect: anonymous AutoDiscover v2 request to Exchange Online",
                    [AutodiscoverExo]
                ),
                s!(
                    3,
                    false,
                    "Mailbox on-premises: 302 to the on-premises AutoDiscover URL",
                    [AutodiscoverRedirect]
                ),
                s!(
                    4,
                    false,
                    "Anonymous AutoDiscover v2 on-premises gives the ActiveSync URL",
                    [AutodiscoverOnprem]
                ),
                s!(
                    5,
                    false,
                    "Empty Bearer to on-premises ActiveSync: 401 with authorization_uri",
                    [EasProbe, EasChallenge]
                ),
                s!(
                    6,
                    false,
                    "AutoDetect returns the Entra ID endpoint to the client",
                    [DetectAnswer]
                ),
                s!(
                    7,
                    false,
                    "The client connects to Entra ID and enters the email address",
                    [EntraSignIn, EntraSignInPage]
                ),
                s!(
                    8,
                    true,
                    "Federated: redirected to WAP",
                    [FederationRedirect]
                ),
                s!(
                    9,
                    true,
                    "WAP proxies to AD FS; sign-in page",
                    [AdfsSignInPage]
                ),
                s!(10, false, "The user enters credentials", [Credentials]),
                s!(11, true, "Redirected back to Entra ID", [BackToEntra]),
                s!(
                    12,
                    false,
                    "Entra ID applies Conditional Access",
                    [CaEvaluated]
                ),
                s!(
                    13,
                    false,
                    "Device state, app protection and/or MFA enforced",
                    [CaControls]
                ),
                s!(
                    14,
                    false,
                    "The user satisfies the policy and completes MFA",
                    [MfaPrompt, MfaDone]
                ),
                s!(
                    15,
                    false,
                    "Entra ID returns AT1/RT1 (Outlook mobile, audience Exchange Online)",
                    [AuthCode, TokensIssued]
                ),
                s!(
                    16,
                    false,
                    "Provisioning request with AT1 and the on-premises ActiveSync endpoint",
                    [Provision]
                ),
                s!(
                    17,
                    false,
                    "MRS: on-behalf-of AT1, gets AT2/RT2 for https://mail.contoso.com",
                    [Obo]
                ),
                s!(
                    18,
                    false,
                    "The mailbox is provisioned in Exchange Online if missing",
                    [MailboxCreate]
                ),
                s!(
                    19,
                    false,
                    "MRS syncs on-premises ActiveSync with AT2; data reaches the client",
                    [Sync, UseToken]
                ),
            ],
        }
    }

    /// The step number `stage` realizes in this flow, if the flow documents it.
    pub fn step_of(self, stage: Stage) -> Option<u8> {
        self.steps()
            .iter()
            .find(|s| s.stages.contains(&stage))
            .map(|s| s.n)
    }
}

impl fmt::Display for FlowId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One documented step.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StepDef {
    /// Its number in the article.
    pub n: u8,
    /// Whether it exists only in the federated identity model.
    pub federated_only: bool,
    /// A short restatement.
    pub title: &'static str,
    /// The stages that realize it.
    pub stages: &'static [Stage],
}

/// The documented step an event realizes (contract `step`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Step {
    /// The flow's name.
    pub flow: &'static str,
    /// The step number in the flow's source article.
    pub n: u8,
}

/// What a message does, in the parties' own terms.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Stage {
    /// The browser opens OWA.
    OpenOwa,
    /// A service redirects the browser to its identity provider.
    RedirectToIdp,
    /// Outlook connects to Exchange advertising modern auth (empty Bearer).
    ClientConnects,
    /// Exchange's 401 with the Entra ID authorization URL.
    AuthorityReturned,
    /// The client reaches Entra ID's authorize endpoint.
    EntraSignIn,
    /// Entra ID's own sign-in page (managed domain: PHS or PTA).
    EntraSignInPage,
    /// Entra ID sends a federated sign-in to AD FS (through WAP from outside).
    FederationRedirect,
    /// AD FS's forms sign-in page (through WAP from outside).
    AdfsSignInPage,
    /// Integrated Windows Authentication at AD FS (Negotiate / Kerberos).
    IwaSignIn,
    /// The user's credentials, and their validation against the directory.
    Credentials,
    /// AD FS posts the sign-in back to Entra ID.
    BackToEntra,
    /// An AD FS access control policy calls Entra MFA.
    AdfsMfaPrompt,
    /// Entra MFA reports the result to AD FS.
    AdfsMfaDone,
    /// AD FS posts the claims to Exchange (on-premises web).
    AdfsClaimsBack,
    /// Entra ID evaluates Conditional Access.
    CaEvaluated,
    /// Entra ID enforces device state, app protection and/or MFA.
    CaControls,
    /// The user is prompted for MFA.
    MfaPrompt,
    /// The user completes MFA.
    MfaDone,
    /// Entra ID returns an authorization code to the client.
    AuthCode,
    /// Entra ID issues tokens.
    TokensIssued,
    /// Entra ID sends the browser session back to the service (web).
    SessionBack,
    /// The client presents its token to the service and gets mailbox content.
    UseToken,
    /// Outlook mobile asks AutoDetect.
    Detect,
    /// AutoDetect's anonymous AutoDiscover v2 request to Exchange Online.
    AutodiscoverExo,
    /// Exchange Online's AutoDiscover 302.
    AutodiscoverRedirect,
    /// AutoDiscover v2 on-premises and its JSON answer.
    AutodiscoverOnprem,
    /// AutoDetect's unauthenticated ActiveSync request (empty Bearer).
    EasProbe,
    /// The ActiveSync 401 with the Bearer challenge.
    EasChallenge,
    /// AutoDetect's answer to the client.
    DetectAnswer,
    /// The provisioning request with AT1 (client -> protocol translator -> MRS).
    Provision,
    /// MRS's on-behalf-of exchange of AT1 for AT2.
    Obo,
    /// Provisioning the mailbox in Exchange Online.
    MailboxCreate,
    /// MRS synchronizing on-premises ActiveSync with AT2.
    Sync,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalogue_is_numbered_one_to_n() {
        for f in FlowId::ALL {
            for (i, s) in f.steps().iter().enumerate() {
                assert_eq!(s.n as usize, i + 1, "{f} step {}", s.n);
            }
            assert_eq!(FlowId::from_name(f.name()), Some(f));
        }
        assert_eq!(FlowId::MobileOnpremHma.steps().len(), 19);
        assert_eq!(FlowId::MobileOnpremHma.step_of(Stage::Obo), Some(17));
        assert_eq!(FlowId::DesktopExoAdfsMfa.step_of(Stage::CaEvaluated), None);
    }
}
