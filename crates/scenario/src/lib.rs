//! Scenario files of hmasim.
//!
//! A scenario describes a tenant (domain, identity model, users, their clients, the
//! on-premises namespaces, load balancer, AD FS, Conditional Access), the network, a seed and
//! a timeline of what the users do. Files are TOML (JSON accepted). Unknown fields are
//! errors; every error carries the file, line and column and what was expected.
//!
//! ```
//! let s = hmasim_scenario::bundled("mobile-onprem-hma").unwrap();
//! let mut sc = hmasim_scenario::parse(s.source, s.name, hmasim_scenario::Format::Toml).unwrap();
//! hmasim_scenario::apply_set(&mut sc, "identity.model=phs").unwrap();
//! assert_eq!(sc.identity.model.as_str(), "phs");
//! ```
#![deny(missing_docs)]
// A scenario error is fatal and rare; its size (spans, excerpt, hints) costs nothing.
#![allow(clippy::result_large_err)]

pub mod accept;
mod bundled;
mod error;
pub mod graph;
pub mod limits;
mod model;
mod parse;
pub mod secret;
mod set;
mod span;

pub use accept::Date;
pub use bundled::{bundled, Bundled, BUNDLED};
pub use error::{ErrorOrigin, ScenarioError};
pub use hmasim_protocol::policy::{DevicePlatform, NamedLocation};
pub use model::*;
pub use parse::{load, parse, Format};
pub use set::{apply_fix, apply_set};
pub use span::Span;
