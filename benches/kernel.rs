//! Placeholder until the kernel bench lands.
fn main() {}
