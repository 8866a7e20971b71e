//! The `hmasim` command line (see `shared/contract.md`): `run`, `list`, `check`.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

use crate::scenario::{self, ScenarioError, BUNDLED};

/// Exit code: the command ran.
pub const EXIT_OK: u8 = 0;
/// Exit code: the command found what it looks for (verify: a path without MFA).
pub const EXIT_FINDINGS: u8 = 1;
/// Exit code: bad input (scenario, `--set`, arguments, output path).
pub const EXIT_BAD_INPUT: u8 = 2;

/// The name `hmasim` runs with no arguments.
pub const DEFAULT_SCENARIO: &str = "mobile-onprem-hma";

#[derive(Parser, Debug)]
#[command(
    name = "hmasim",
    version,
    about = "Discrete-event simulator of hybrid modern-authentication flows between Outlook and Exchange"
)]
struct Cli {
    /// Log what the parties do (-v info, -vv debug); RUST_LOG works too.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    verbose: u8,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Simulate one scenario and print its trace and verdict (exit 0 whatever the verdict).
    Run(RunArgs),
    /// List the bundled scenarios.
    List,
    /// Validate a scenario without running it (exit 0 valid, 2 invalid).
    Check {
        /// A scenario file or the name of a bundled scenario.
        scenario: String,
        /// Override a field by its dotted path, e.g. identity.model=phs (repeatable).
        #[arg(long = "set", value_name = "KEY=VALUE")]
        set: Vec<String>,
        /// Also print the world the scenario builds: its parties, the hosts each answers
        /// for and the links between them.
        #[arg(long)]
        topology: bool,
        /// The format of the topology (json: `hmasim-topology/1`).
        #[arg(long, value_enum, default_value = "text", requires = "topology")]
        format: CheckFormat,
    },
    /// Evaluate one sign-in against Conditional Access, like the Entra What If tool
    /// (exit 0, 2 on bad input).
    Whatif(crate::whatif::WhatifArgs),
    /// Explore every path to mailbox content; exit 1 when one reaches it without MFA.
    Verify(crate::verify_cmd::VerifyArgs),
    /// Compare the path outcomes of two configurations; exit 1 when a path loses MFA or access.
    Diff(crate::diff_cmd::DiffArgs),
}

/// Output formats of `check --topology`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum CheckFormat {
    /// The validation line, then the parties and links.
    Text,
    /// The topology as JSON (`hmasim-topology/1`).
    Json,
}

/// Output formats of `run`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Numbered steps for a screen.
    Text,
    /// The contract's JSON trace.
    Json,
    /// A Mermaid sequence diagram.
    Mermaid,
}

#[derive(clap::Args, Debug)]
struct RunArgs {
    /// A scenario file or the name of a bundled scenario.
    scenario: String,
    /// The seed (default: the scenario's, or 1).
    #[arg(long)]
    seed: Option<u64>,
    /// Output format.
    #[arg(long, value_enum, default_value = "text")]
    format: Format,
    /// Write the output to this file (atomically) instead of standard output.
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
    /// Override a field by its dotted path, e.g. identity.model=phs (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    set: Vec<String>,
    /// Apply the scenario's documented fix (its [fix] section) before running.
    #[arg(long)]
    apply_fix: bool,
    /// Replace the scenario's Conditional Access policies with Microsoft Graph
    /// conditionalAccessPolicy JSON (a file, or a directory of one-policy files).
    #[arg(long = "ca-policies", value_name = "PATH")]
    ca_policies: Option<PathBuf>,
    /// Replace the scenario's named locations with Microsoft Graph namedLocation JSON
    /// (IP and country locations; a file, or a directory of one-location files).
    #[arg(long = "named-locations", value_name = "PATH")]
    named_locations: Option<PathBuf>,
}

/// Why the command line stopped early.
#[derive(Debug)]
pub enum CliError {
    /// A scenario or override was rejected.
    Scenario(ScenarioError),
    /// The output could not be written.
    Output(String),
    /// The command ran and found what it looks for (verify: a path without MFA): exit 1.
    Findings,
}

impl std::fmt::Display for CliError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CliError::Scenario(e) => write!(f, "{e}"),
            CliError::Output(e) => f.write_str(e),
            CliError::Findings => f.write_str("findings reported"),
        }
    }
}

/// The overrides in a canonical order: by key, keeping the given order for one key (the
/// last wins). The order of the flags on the command line then never changes a run.
pub fn canonical(sets: &[String]) -> Vec<&String> {
    let mut v: Vec<&String> = sets.iter().collect();
    v.sort_by_key(|kv| {
        kv.split_once('=')
            .map_or(kv.as_str(), |(k, _)| k)
            .trim()
            .to_string()
    });
    v
}

/// Loads a scenario and applies the overrides, as `run` and `check` do.
pub fn load(
    name: &str,
    seed: Option<u64>,
    sets: &[String],
) -> Result<scenario::Scenario, ScenarioError> {
    let mut sc = scenario::load(name)?;
    for s in canonical(sets) {
        scenario::apply_set(&mut sc, s)?;
    }
    if let Some(seed) = seed {
        sc.seed = seed;
    }
    Ok(sc)
}

/// Renders a scenario run in `format`.
pub fn render(sc: &scenario::Scenario, format: Format, reproduce: Option<String>) -> String {
    let mut trace = crate::sim::run(sc, true);
    trace.reproduce = reproduce;
    if trace.stats.ends_with("event limit reached") {
        eprintln!(
            "warning: the run hit run.max_events ({}) before its end; the outcome is partial",
            sc.run.max_events
        );
    }
    match format {
        // The views escape what comes from input; this keeps any raw control character
        // out of a file or terminal all the same.
        Format::Text => crate::term::shown(&trace.to_text()).into_owned(),
        Format::Json => trace.to_json(),
        Format::Mermaid => crate::term::shown(&trace.to_mermaid()).into_owned(),
    }
}

/// The command that reproduces a `run`: the scenario argument as given, the seed in
/// force, every override in order, and the fix and policy files when used. The value of
/// an override of a secret field (`users.0.password=...`) is masked, and a trailing shell
/// comment names the values the reader must supply.
fn reproduce_line(a: &RunArgs, seed: u64) -> String {
    let mut parts = vec![
        "hmasim".to_string(),
        "run".to_string(),
        quote(&a.scenario),
        "--seed".to_string(),
        seed.to_string(),
    ];
    let mut masked = Vec::new();
    for kv in canonical(&a.set) {
        parts.push("--set".into());
        let shown = scenario::secret::mask_set(kv);
        if shown != kv.as_str() {
            masked.push(kv.split_once('=').map_or(kv.as_str(), |(k, _)| k.trim()));
        }
        parts.push(quote(&shown));
    }
    if a.apply_fix {
        parts.push("--apply-fix".into());
    }
    if let Some(p) = &a.named_locations {
        parts.push("--named-locations".into());
        parts.push(quote(&p.display().to_string()));
    }
    if let Some(p) = &a.ca_policies {
        parts.push("--ca-policies".into());
        parts.push(quote(&p.display().to_string()));
    }
    let mut line = parts.join(" ");
    if !masked.is_empty() {
        line.push_str(&format!(
            "  # masked: supply the value of {}",
            masked.join(", ")
        ));
    }
    line
}

/// Quotes a shell word when it needs it (POSIX single quotes).
fn quote(w: &str) -> String {
    if !w.is_empty()
        && w.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=:@,+".contains(c))
    {
        w.to_string()
    } else {
        format!("'{}'", w.replace('\'', "'\\''"))
    }
}

/// Checks, before any work, that `path` can take an output: it is absent or a regular
/// file (never a directory, device, FIFO, socket or symbolic link: hmasim does not follow
/// links, so a planted link cannot choose what it replaces), in an existing directory where
/// a file can be created.
pub fn check_output(path: &Path) -> Result<(), CliError> {
    let bad = |why: &str| CliError::Output(format!("{}: {why}", path.display()));
    match std::fs::symlink_metadata(path) {
        Ok(m) if m.file_type().is_symlink() => {
            return Err(bad(
                "is a symbolic link; hmasim does not follow links for its output \
                 (give the path of the file itself)",
            ))
        }
        Ok(m) if m.is_dir() => return Err(bad("is a directory; expected a file path")),
        Ok(m) if !m.is_file() => {
            return Err(bad(
                "is not a regular file (a device, FIFO or socket); hmasim writes only \
                 regular files",
            ))
        }
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(bad(&format!("cannot use it for the output: {e}"))),
    }
    let dir = parent_dir(path);
    if !dir.is_dir() {
        return Err(bad(&format!(
            "the directory {} does not exist",
            dir.display()
        )));
    }
    // A file can be created beside it (the temporary file the write goes through).
    let (tmp, file) = create_temp(path).map_err(|e| bad(&format!("cannot write there: {e}")))?;
    drop(file);
    let _ = std::fs::remove_file(&tmp);
    Ok(())
}

/// The directory `path` is in (`.` for a bare file name).
fn parent_dir(path: &Path) -> PathBuf {
    match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// A new temporary file beside `path`, created exclusively (never an existing file or a
/// link someone left there).
fn create_temp(path: &Path) -> std::io::Result<(PathBuf, std::fs::File)> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "out".into());
    let dir = parent_dir(path);
    let mut n = 0u32;
    loop {
        let tmp = dir.join(format!(".{name}.hmasim-{}-{n}.tmp", std::process::id()));
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)
        {
            Ok(f) => return Ok((tmp, f)),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && n < 100 => n += 1,
            Err(e) => return Err(e),
        }
    }
}

/// Writes `text` to `path` atomically: a temporary file beside it, then a rename, so a
/// failed run never leaves a partial file, nor the temporary one. `path` is checked again
/// first (see [`check_output`]).
pub fn write_atomic(path: &Path, text: &str) -> Result<(), CliError> {
    check_output(path)?;
    replace_via_temp(path, text)
        .map_err(|e| CliError::Output(format!("{}: cannot write the output: {e}", path.display())))
}

/// The temporary file and the rename; the temporary file is removed on any failure.
fn replace_via_temp(path: &Path, text: &str) -> std::io::Result<()> {
    let (tmp, mut file) = create_temp(path)?;
    let result = file
        .write_all(text.as_bytes())
        .and_then(|()| file.sync_all())
        .and_then(|()| {
            drop(file);
            std::fs::rename(&tmp, path)
        });
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

fn init_logging(verbose: u8) {
    use tracing_subscriber::EnvFilter;
    let filter = match (std::env::var("RUST_LOG"), verbose) {
        (Ok(f), _) => EnvFilter::new(f),
        (Err(_), 0) => return,
        (Err(_), 1) => EnvFilter::new("info"),
        (Err(_), _) => EnvFilter::new("debug"),
    };
    // The parties stamp every event with simulated time (`t_ms`); no wall clock is shown.
    // Logged values are escaped (no colours of our own, no raw control character).
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .without_time()
        .with_target(false)
        .with_ansi(false)
        .with_writer(|| crate::term::SafeStderr)
        .try_init();
}

/// Runs the command line with `args` (including the program name); returns the exit code.
pub fn main_with(args: impl IntoIterator<Item = String>) -> ExitCode {
    let cli = match Cli::try_parse_from(args) {
        Ok(c) => c,
        Err(e) => {
            // clap echoes the arguments it refuses: escaped like every other output.
            let text = e.render().to_string();
            if e.use_stderr() {
                crate::term::eprint_line(text.trim_end());
            } else {
                crate::term::print(&text);
            }
            return ExitCode::from(if e.use_stderr() {
                EXIT_BAD_INPUT
            } else {
                EXIT_OK
            });
        }
    };
    init_logging(cli.verbose);
    match try_main(cli.command) {
        Ok(()) => ExitCode::from(EXIT_OK),
        Err(CliError::Findings) => ExitCode::from(EXIT_FINDINGS),
        Err(e) => {
            crate::term::eprint_line(&format!("error: {e}"));
            ExitCode::from(EXIT_BAD_INPUT)
        }
    }
}

fn try_main(command: Option<Command>) -> Result<(), CliError> {
    let command = command.unwrap_or(Command::Run(RunArgs {
        scenario: DEFAULT_SCENARIO.into(),
        seed: None,
        format: Format::Text,
        out: None,
        set: Vec::new(),
        apply_fix: false,
        ca_policies: None,
        named_locations: None,
    }));
    match command {
        Command::List => {
            let mut out = String::new();
            for b in BUNDLED {
                let sc = scenario::parse(b.source, b.name, scenario::Format::Toml)
                    .map_err(CliError::Scenario)?;
                out.push_str(&format!(
                    "{:<28} {}\n",
                    b.name,
                    crate::term::escape_control(&sc.summary)
                ));
            }
            crate::term::print(&out);
            Ok(())
        }
        Command::Check {
            scenario,
            set,
            topology,
            format,
        } => {
            let sc = load(&scenario, None, &set).map_err(CliError::Scenario)?;
            let table = topology.then(|| hmasim_sim::Topology::of(&sc));
            if let (Some(t), CheckFormat::Json) = (&table, format) {
                let json = serde_json::to_string_pretty(&t.to_json(&sc)).expect("JSON value");
                crate::term::print(&format!("{json}\n"));
                return Ok(());
            }
            let mut out = format!(
                "{}: valid ({} users, {} clients, {} timeline entries, identity model {})\n",
                crate::term::escape_control(&scenario),
                sc.users.len(),
                sc.clients.len(),
                sc.timeline.len(),
                sc.identity.model.as_str()
            );
            if let Some(t) = &table {
                out.push_str(&t.to_text(&sc));
            }
            crate::term::print(&out);
            Ok(())
        }
        Command::Whatif(a) => crate::whatif::run(a),
        Command::Diff(a) => match crate::diff_cmd::run(a)? {
            true => Err(CliError::Findings),
            false => Ok(()),
        },
        Command::Verify(a) => match crate::verify_cmd::run(a)? {
            true => Err(CliError::Findings),
            false => Ok(()),
        },
        Command::Run(a) => {
            if let Some(path) = &a.out {
                check_output(path)?;
            }
            let mut sc = load(&a.scenario, a.seed, &a.set).map_err(CliError::Scenario)?;
            if a.apply_fix {
                scenario::apply_fix(&mut sc).map_err(CliError::Scenario)?;
            }
            crate::whatif::prepare_locations(&mut sc, a.named_locations.as_deref())
                .map_err(CliError::Scenario)?;
            crate::whatif::prepare_policies(&mut sc, a.ca_policies.as_deref())
                .map_err(CliError::Scenario)?;
            let text = render(&sc, a.format, Some(reproduce_line(&a, sc.seed)));
            match a.out {
                Some(path) => write_atomic(&path, &text),
                None => {
                    let mut stdout = std::io::stdout().lock();
                    let _ = stdout.write_all(text.as_bytes());
                    Ok(())
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The files of `dir` whose name marks them as hmasim's temporary files.
    fn temps(dir: &Path) -> Vec<String> {
        std::fs::read_dir(dir)
            .unwrap()
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.contains(".hmasim-"))
            .collect()
    }

    #[test]
    fn a_failed_rename_leaves_no_temporary_file() {
        let dir = std::env::temp_dir().join(format!("hmasim-cli-{}", std::process::id()));
        let target = dir.join("taken");
        std::fs::create_dir_all(target.join("inside")).unwrap();
        // Renaming a file over a non-empty directory fails after the temporary file is
        // written: it must go.
        assert!(replace_via_temp(&target, "text").is_err());
        assert_eq!(temps(&dir), Vec::<String>::new());
        // The checked path refuses the directory before writing anything.
        assert!(write_atomic(&target, "text").is_err());
        assert_eq!(temps(&dir), Vec::<String>::new());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
