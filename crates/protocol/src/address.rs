//! Source addresses and what Entra ID derives from them: IP ranges (CIDR, IPv4 and IPv6),
//! the named locations that contain an address, and its country from the tenant's
//! simulated geolocation table.
//!
//! A server knows where a request comes from by the address of the connection it arrived
//! on, never by who the caller says it is. hmasim gives every party an address (the world
//! builder's table) and hands each server the table of the peers that connect to it
//! directly: what a socket's peer address tells a real server.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The id Entra ID gives the legacy "MFA trusted IPs" location (the per-user MFA service
/// settings' trusted IP ranges), which `AllTrusted` includes.
pub const MFA_TRUSTED_IPS_ID: &str = "00000000-0000-0000-0000-000000000000";

/// An IP range in CIDR notation (`203.0.113.0/24`, `2001:db8::/32`); a bare address is a
/// range of one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Cidr {
    /// The network address (host bits cleared).
    pub addr: IpAddr,
    /// The prefix length (0 to 32 for IPv4, 0 to 128 for IPv6).
    pub prefix: u8,
}

/// Why a string is not a [`Cidr`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CidrError(pub String);

impl fmt::Display for CidrError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for CidrError {}

fn bits(a: IpAddr) -> (u128, u8) {
    match a {
        IpAddr::V4(v) => (u32::from(v) as u128, 32),
        IpAddr::V6(v) => (u128::from(v), 128),
    }
}

fn mask(width: u8, prefix: u8) -> u128 {
    if prefix == 0 {
        0
    } else {
        let all = if width == 128 {
            u128::MAX
        } else {
            (1u128 << width) - 1
        };
        all & (all << (width - prefix))
    }
}

impl Cidr {
    /// Whether `a` lies in the range (an IPv4 address is never in an IPv6 range).
    pub fn contains(&self, a: IpAddr) -> bool {
        let (net, width) = bits(self.addr);
        let (x, w) = bits(a);
        width == w && (x & mask(width, self.prefix)) == net
    }

    /// The first address of the range (the one hmasim picks to stand for it).
    pub fn first(&self) -> IpAddr {
        self.addr
    }

    /// An address inside the range: the first host address when the range has more than
    /// one (so `203.0.113.0/24` gives `203.0.113.1`).
    pub fn host(&self) -> IpAddr {
        let (net, width) = bits(self.addr);
        let v = if self.prefix < width { net + 1 } else { net };
        match self.addr {
            IpAddr::V4(_) => IpAddr::V4((v as u32).into()),
            IpAddr::V6(_) => IpAddr::V6(v.into()),
        }
    }
}

impl FromStr for Cidr {
    type Err = CidrError;
    fn from_str(s: &str) -> Result<Cidr, CidrError> {
        let err = |why: &str| CidrError(format!("`{s}` is not an IP range: {why}"));
        let (a, p) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s, None),
        };
        let addr: IpAddr = a
            .trim()
            .parse()
            .map_err(|_| err("expected an IPv4 or IPv6 address before the `/`"))?;
        let (net, width) = bits(addr);
        let prefix = match p {
            None => width,
            Some(p) => p
                .trim()
                .parse::<u8>()
                .ok()
                .filter(|n| *n <= width)
                .ok_or_else(|| err(&format!("the prefix length must be 0 to {width}")))?,
        };
        let cleared = net & mask(width, prefix);
        let addr = match addr {
            IpAddr::V4(_) => IpAddr::V4((cleared as u32).into()),
            IpAddr::V6(_) => IpAddr::V6(cleared.into()),
        };
        Ok(Cidr { addr, prefix })
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

impl Serialize for Cidr {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Cidr {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Cidr, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// One row of the tenant's simulated geolocation table: the addresses of `range` are in
/// `country` (ISO 3166-1 alpha-2).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GeoRange {
    /// The range.
    pub range: Cidr,
    /// Its country code (`US`, `FR`...).
    pub country: String,
}

/// The country of `a` in the geolocation table (the first row that contains it).
pub fn country_of(a: IpAddr, geo: &[GeoRange]) -> Option<&str> {
    geo.iter()
        .find(|g| g.range.contains(a))
        .map(|g| g.country.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn ranges_contain_their_addresses_only() {
        let r: Cidr = "203.0.113.0/24".parse().unwrap();
        assert!(r.contains(ip("203.0.113.7")));
        assert!(r.contains(ip("203.0.113.255")));
        assert!(!r.contains(ip("203.0.114.1")));
        assert!(!r.contains(ip("2001:db8::1")));
        assert_eq!(r.host(), ip("203.0.113.1"));
        let host: Cidr = "198.51.100.20".parse().unwrap();
        assert_eq!(host.to_string(), "198.51.100.20/32");
        assert!(host.contains(ip("198.51.100.20")) && !host.contains(ip("198.51.100.21")));
        assert_eq!(host.host(), ip("198.51.100.20"));
        let all: Cidr = "0.0.0.0/0".parse().unwrap();
        assert!(all.contains(ip("8.8.8.8")) && !all.contains(ip("::1")));
        let v6: Cidr = "2001:db8:abcd::/48".parse().unwrap();
        assert!(v6.contains(ip("2001:db8:abcd:12::1")));
        assert!(!v6.contains(ip("2001:db8:abce::1")));
        let all6: Cidr = "::/0".parse().unwrap();
        assert!(all6.contains(ip("2001:db8::1")));
    }

    #[test]
    fn host_bits_are_cleared_and_bad_ranges_refused() {
        let r: Cidr = "10.1.2.3/8".parse().unwrap();
        assert_eq!(r.to_string(), "10.0.0.0/8");
        for bad in [
            "10.0.0.0/33",
            "10.0.0/8",
            "x/8",
            "2001:db8::/129",
            "10.0.0.0/-1",
            "",
        ] {
            assert!(bad.parse::<Cidr>().is_err(), "{bad}");
        }
    }

    #[test]
    fn countries_come_from_the_table() {
        let geo = vec![GeoRange {
            range: "198.51.100.0/24".parse().unwrap(),
            country: "US".into(),
        }];
        assert_eq!(country_of(ip("198.51.100.9"), &geo), Some("US"));
        assert_eq!(country_of(ip("192.0.2.1"), &geo), None);
    }
}
