//! The scenarios embedded in the binary.

/// One bundled scenario.
#[derive(Clone, Copy, Debug)]
pub struct Bundled {
    /// Its name (what `hmasim run NAME` takes).
    pub name: &'static str,
    /// The TOML source.
    pub source: &'static str,
}

macro_rules! bundle {
    ($($name:literal),* $(,)?) => {
        /// Every bundled scenario, in `hmasim list` order.
        pub const BUNDLED: &[Bundled] = &[
            $(Bundled { name: $name, source: include_str!(concat!("../../../scenarios/", $name, ".toml")) }),*
        ];
    };
}

bundle!(
    "web-exo",
    "web-onprem-internal",
    "web-onprem-external",
    "desktop-exo-ca",
    "desktop-exo-adfs-mfa",
    "desktop-onprem-ca",
    "desktop-onprem-adfs-mfa",
    "mobile-exo",
    "mobile-onprem-hma",
    "fault-tls-offloading",
    "fault-stale-evosts-metadata",
    "fault-no-authorization-uri",
    "fault-no-www-authenticate",
    "fault-autodiscover-blocked",
    "fault-preauth-activesync",
    "fault-wrong-externalurl",
    "fault-exchange2010",
    "fault-entra-unreachable",
    "password-change-federated",
    "password-change-phs",
    "password-change-pta",
    "token-lifetime",
    "secure-web",
    "secure-desktop",
    "secure-mobile",
    "secure-hybrid",
);

/// The bundled scenario named `name`.
pub fn bundled(name: &str) -> Option<Bundled> {
    BUNDLED.iter().copied().find(|b| b.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_bundled_scenario_parses_and_is_named_after_its_file() {
        for b in BUNDLED {
            let s = crate::parse(b.source, b.name, crate::Format::Toml)
                .unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(s.name, b.name);
            assert!(!s.summary.is_empty());
        }
    }
}
