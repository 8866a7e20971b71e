//! The offline address book's manifest, `oab.xml` (`/OAB/{guid}/oab.xml`): what Outlook
//! downloads first to learn which address lists the server publishes and which files
//! hold them ([MS-OXOAB] 2.1, "OAB Manifest"): an `OAB` root with one `OAL` element per
//! address list (attributes `id`, `dn`, `name`), each naming its files (`Full`, the
//! whole list; `Diff` and `Template` are not modelled) with the attributes `seq`, `ver`,
//! `size`, `uncompressedsize` and `SHA`, the file's name as text.
//!
//! An answer that lists at least one address list is the mailbox data the offline
//! address book serves ([`super::carries_mailbox`]): the model keeps counting it as
//! such, as it did when the answer was a marker.

use super::xml::{self, escape};
use super::{ContentType, DecodeError, Encoded};

/// The manifest.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Manifest {
    /// The address lists, in order.
    pub lists: Vec<AddressList>,
}

/// One `OAL` of the manifest and its full download.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AddressList {
    /// `id`: the list's GUID.
    pub id: String,
    /// `dn`: the list's distinguished name (`/o=.../cn=addrlists/cn=oabs/cn=...`).
    pub dn: String,
    /// `name`: its display name (`\Default Offline Address Book`).
    pub name: String,
    /// `Full/@seq`: the sequence number of the generation.
    pub seq: u32,
    /// `Full/@ver`: the format version (32 for OAB version 4).
    pub ver: u32,
    /// `Full/@size`: the compressed file's size in bytes.
    pub size: u64,
    /// `Full/@uncompressedsize`.
    pub uncompressed: u64,
    /// `Full/@SHA`: the file's SHA-1, 40 hexadecimal digits.
    pub sha: String,
    /// The file name (`{guid}-data-{seq}.lzx`).
    pub file: String,
}

impl AddressList {
    /// The default offline address book of the organization whose mail domain is
    /// `domain`, derived from the domain alone (no random number): its GUID, a first
    /// generation and sizes from a hash of the name.
    pub fn default_for(domain: &str) -> AddressList {
        let domain = domain.to_ascii_lowercase();
        let hash = domain.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
        });
        let id = super::guid(hash);
        let org = domain.split('.').next().unwrap_or(&domain).to_string();
        AddressList {
            file: format!("{id}-data-1.lzx"),
            dn: format!("/o={org}/cn=addrlists/cn=oabs/cn=Default Offline Address Book"),
            name: "\\Default Offline Address Book".into(),
            seq: 1,
            ver: 32,
            size: 4_096 + (hash & 0x0FFF),
            uncompressed: 16_384 + (hash & 0x3FFF),
            sha: format!(
                "{:016x}{:016x}{:08x}",
                hash,
                hash.rotate_left(17),
                hash >> 32
            ),
            id,
        }
    }
}

impl Manifest {
    /// The XML body (`text/xml`).
    pub fn encode(&self) -> Encoded {
        let mut s = String::from("<?xml version=\"1.0\" encoding=\"utf-8\"?><OAB>");
        for l in &self.lists {
            s.push_str(&format!(
                "<OAL id=\"{}\" dn=\"{}\" name=\"{}\"><Full seq=\"{}\" ver=\"{}\" size=\"{}\" uncompressedsize=\"{}\" SHA=\"{}\">{}</Full></OAL>",
                escape(&l.id),
                escape(&l.dn),
                escape(&l.name),
                l.seq,
                l.ver,
                l.size,
                l.uncompressed,
                escape(&l.sha),
                escape(&l.file)
            ));
        }
        s.push_str("</OAB>");
        Encoded::new(ContentType::Xml, s.into_bytes())
    }

    /// Reads the XML body: an `OAB` root whose `OAL` elements each have `id`, `dn`,
    /// `name` and a `Full` with numeric `seq`, `ver`, `size` and `uncompressedsize`, a
    /// `SHA` and a file name.
    pub fn decode(bytes: &[u8]) -> Result<Manifest, DecodeError> {
        const F: &str = "OAB manifest";
        let root = xml::parse(bytes).map_err(|e| DecodeError::new(F, e.to_string()))?;
        if root.local() != "OAB" {
            return Err(DecodeError::new(F, "the root is not OAB"));
        }
        let mut lists = Vec::new();
        for oal in root.elements().filter(|e| e.local() == "OAL") {
            let attr = |e: &xml::Element, n: &str| {
                e.attr(n)
                    .map(str::to_string)
                    .ok_or_else(|| DecodeError::new(F, format!("no {}/@{n}", e.local())))
            };
            let full = oal
                .child("Full")
                .ok_or_else(|| DecodeError::new(F, "an OAL without Full"))?;
            let num = |n: &str| -> Result<u64, DecodeError> {
                attr(full, n)?
                    .parse()
                    .map_err(|_| DecodeError::new(F, format!("Full/@{n} is not a number")))
            };
            let small = |n: &str| -> Result<u32, DecodeError> {
                u32::try_from(num(n)?)
                    .map_err(|_| DecodeError::new(F, format!("Full/@{n} is too large")))
            };
            let file = full.text();
            if file.is_empty() {
                return Err(DecodeError::new(F, "a Full without its file name"));
            }
            lists.push(AddressList {
                id: attr(oal, "id")?,
                dn: attr(oal, "dn")?,
                name: attr(oal, "name")?,
                seq: small("seq")?,
                ver: small("ver")?,
                size: num("size")?,
                uncompressed: num("uncompressedsize")?,
                sha: attr(full, "SHA")?,
                file,
            });
        }
        Ok(Manifest { lists })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::carries_mailbox;

    #[test]
    fn the_manifest_round_trips_and_is_mailbox_data() {
        let m = Manifest {
            lists: vec![AddressList::default_for("contoso.com")],
        };
        let e = m.encode();
        let text = String::from_utf8(e.bytes.to_vec()).unwrap();
        assert!(text.starts_with("<?xml version=\"1.0\" encoding=\"utf-8\"?><OAB><OAL id=\""));
        assert!(text.contains(
            "dn=\"/o=contoso/cn=addrlists/cn=oabs/cn=Default Offline Address Book\" name=\"\\Default Offline Address Book\"><Full seq=\"1\" ver=\"32\""
        ));
        assert_eq!(Manifest::decode(&e.bytes).unwrap(), m);
        assert!(carries_mailbox(e.content_type, &e.bytes));
        let empty = Manifest { lists: vec![] }.encode();
        assert_eq!(Manifest::decode(&empty.bytes).unwrap().lists, vec![]);
        assert!(!carries_mailbox(empty.content_type, &empty.bytes));
    }

    #[test]
    fn malformed_manifests_are_refused() {
        let good = Manifest {
            lists: vec![AddressList::default_for("contoso.com")],
        }
        .encode()
        .bytes;
        for n in [0, 10, good.len() / 2, good.len() - 1] {
            assert!(Manifest::decode(&good[..n]).is_err(), "{n}");
        }
        let text = String::from_utf8(good.to_vec()).unwrap();
        for bad in [
            text.replace("seq=\"1\"", "seq=\"one\""),
            text.replace("<OAB>", "<OAX>").replace("</OAB>", "</OAX>"),
            text.replace(" dn=", " dx="),
            text.replace("ver=\"32\"", "ver=\"99999999999\""),
        ] {
            assert!(Manifest::decode(bad.as_bytes()).is_err(), "{bad}");
            assert!(!carries_mailbox(ContentType::Xml, bad.as_bytes()));
        }
    }
}
