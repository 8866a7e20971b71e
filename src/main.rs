//! The `hmasim` binary: a thin shell over [`hmasim::cli`].

fn main() -> std::process::ExitCode {
    hmasim::cli::main_with(std::env::args())
}
