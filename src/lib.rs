//! hmasim: a deterministic discrete-event simulator of hybrid modern authentication.
