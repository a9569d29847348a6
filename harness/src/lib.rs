//! `harness`: validate, benchmark and report every variant of every kernel.
//!
//! Every variant is validated against a reference before it is timed; one that fails is
//! reported with its error and never timed. See `harness --help` and reports/README.md.
//!
//! Layers, each using only those below it:
//!
//! - [`cli`]: the arguments of every command.
//! - [`logging`]: log levels on the terminal (`-q`, `-v`, `-vv`, `RUST_LOG`) and each run
//!   folder's `run.log` at debug.
//! - [`cmd`]: the commands, all thin and the same shape: a plan ([`cmd::plan`]: which
//!   problems and variants) → per variant the one lifecycle, [`kernels::gate`] (probe →
//!   guarded prepare → one guarded run → validation against the reference) → the command's
//!   work (timing, sampling) → sinks (terminal, CSV, run folder, report).
//! - [`measure`]: timing ([`measure::timing`]), statistics ([`measure::stats`]), memory,
//!   the machine's ceilings and fingerprint — as in criterion: measurement → statistics.
//! - [`profile`]: the sampler, folded stacks, flamegraphs and differential graphs.
//! - [`results`]: what runs leave on disk (run folders, CSV rows, `run.json`, the
//!   timelines' data).
//! - [`compare`]: two run folders (or shard sets) row by row: ratios, verdicts, the gate.
//! - [`report`]: from run folders to the HTML report and the Markdown summary.
//! - [`render`]: the one set of formatting and SVG helpers every sink uses (times, ratios,
//!   escaping, palettes, the timelines).
//! - [`external`]: variants outside this crate (any language), registered in
//!   `external.toml` and run as worker processes (docs/external.md).
//! - [`workshop`]: scaffolding a learner's own variant, and `explain`.

pub mod cli;
pub mod cmd;
pub mod compare;
pub mod external;
pub mod logging;
pub mod measure;
pub mod planner;
pub mod profile;
pub mod render;
pub mod report;
pub mod results;
pub mod workshop;

use std::process::ExitCode;

/// The command line's entry point (the binary's `main` is this plus the allocator).
pub fn main() -> ExitCode {
    quiet_when_stdout_closes();
    let parsed = match cli::parse() {
        Ok(p) => p,
        Err(e) => e.exit(),
    };
    if let Err(e) = logging::init(parsed.cli.log) {
        eprintln!("error: {e}");
        return ExitCode::from(2);
    }
    // A malformed HARNESS_* value is refused before anything starts.
    if let Err(e) = kernels::check_environment() {
        eprintln!("error: {e}");
        return ExitCode::from(2);
    }
    // The registration is checked before a command that runs variants starts: a bad one
    // writes nothing. Commands that read results only (report, explain, ...) ignore it.
    if runs_variants(parsed.cli.command.as_ref())
        && let Some(file) = external::registration_file(parsed.cli.external.as_deref())
        && let Err(e) = external::install(&file)
    {
        eprintln!("error: {e:#}");
        return ExitCode::from(2);
    }
    let code = match cmd::execute(parsed.cli.command, &parsed.params) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    };
    external::shutdown();
    code
}

/// Whether a command runs variants (and so has external ones, docs/external.md). No
/// catch-all arm: a new command must say.
fn runs_variants(command: Option<&cli::Cmd>) -> bool {
    use cli::Cmd;
    match command {
        None
        | Some(Cmd::List(_) | Cmd::Validate(_) | Cmd::Bench(_) | Cmd::Compare(_))
        | Some(Cmd::Profile(_) | Cmd::Run(_) | Cmd::Plan(_)) => true,
        Some(
            Cmd::Report(_)
            | Cmd::CheckPng(_)
            | Cmd::NewVariant(_)
            | Cmd::RemoveVariant(_)
            | Cmd::Explain(_),
        ) => false,
    }
}

/// `harness list | head -3`: once the reader has gone, `println!` panics ("failed printing
/// to stdout: Broken pipe") with a backtrace. Exit quietly instead, with the status of a
/// Unix tool killed by SIGPIPE (141). SIGPIPE itself stays ignored (Rust's default): a
/// worker that dies must be a write error on its pipe, a failed row, not the harness's end.
fn quiet_when_stdout_closes() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let payload = info.payload();
        let message = payload
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| payload.downcast_ref::<&str>().copied())
            .unwrap_or("");
        if message.starts_with("failed printing to stdout") && message.contains("Broken pipe") {
            std::process::exit(141);
        }
        default(info);
    }));
}
