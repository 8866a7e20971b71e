//! hmasim: a deterministic discrete-event simulator of the hybrid modern-authentication
//! connection flows between Outlook clients and Microsoft Exchange.
//!
//! This crate is the command line and a facade over the workspace:
//! - [`kernel`]: simulated time, event queue, actors, network;
//! - [`protocol`]: messages, challenges, JWTs, the documented flow catalogue;
//! - [`scenario`]: the scenario format, its validation and the bundled scenarios;
//! - [`sim`]: the world builder, runs, outcomes and trace formats.
//!
//! ```
//! let mut sc = hmasim::scenario::load("desktop-exo-adfs-mfa").unwrap();
//! hmasim::scenario::apply_set(&mut sc, "identity.model=phs").unwrap();
//! let trace = hmasim::sim::run(&sc, false);
//! // Leaving federation removes the AD FS MFA from the path: access without MFA.
//! assert!(trace.outcome.mailbox_access && !trace.outcome.mfa_satisfied);
//! ```
#![deny(missing_docs)]
// Scenario errors are fatal and rare; their size (spans, excerpt, hints) costs nothing.
#![allow(clippy::result_large_err)]

pub mod cli;
pub mod diff_cmd;
pub mod term;
pub mod verify_cmd;
pub mod whatif;

pub use hmasim_kernel as kernel;
pub use hmasim_protocol as protocol;
pub use hmasim_scenario as scenario;
pub use hmasim_sim as sim;
