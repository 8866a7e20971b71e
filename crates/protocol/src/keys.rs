//! The signing keys of a simulated world, derived from its seed: what the parties that
//! sign and the parties that check must agree on (issue 12 item 5: each party crate builds
//! its own state from the scenario, so the key names live here, not in the world builder).

use crate::jwt::SigningKey;

/// EvoSTS's (Entra ID's) token-signing key, generation 1.
pub fn evosts(seed: u64) -> SigningKey {
    SigningKey::derive("evosts", 1, seed)
}

/// AD FS's token-signing key.
pub fn adfs_token_signing(seed: u64) -> SigningKey {
    SigningKey::derive("adfs-token-signing", 1, seed)
}

/// The Kerberos ticket-granting key of the domain (`krbtgt`).
pub fn krbtgt(seed: u64) -> SigningKey {
    SigningKey::derive("krbtgt", 1, seed)
}
