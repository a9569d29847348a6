//! `harness`: validate, benchmark and report every variant of every kernel.
//!
//! Every variant is validated against a reference before it is timed; one that fails is
//! reported with its error and never timed. See `harness --help` and reports/README.md.
//!
//! Layers, as in criterion: measurement ([`measure`], [`memory`], [`ceilings`]) →
//! statistics ([`stats`]) → sinks (the terminal table and the CSV in [`bench`](mod@bench) /
//! [`results`]; HTML and Markdown in [`report`]).

pub mod bench;
pub mod ceilings;
pub mod cli;
pub mod commands;
pub mod events;
pub mod jobs;
pub mod machine;
pub mod measure;
pub mod memory;
pub mod profile;
pub mod report;
pub mod results;
pub mod stats;
pub mod validate;
pub mod workshop;

use std::process::ExitCode;

use cli::Cmd;

/// The command line's entry point (the binary's `main` is this plus the allocator).
pub fn main() -> ExitCode {
    let parsed = match cli::parse() {
        Ok(p) => p,
        Err(e) => e.exit(),
    };
    let as_code = |r: anyhow::Result<bool>| {
        r.map(|ok| {
            if ok {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        })
    };
    let result = match parsed.cli.command {
        Some(Cmd::List(select)) => as_code(commands::list(&select, &parsed.params)),
        Some(Cmd::Validate(args)) => as_code(commands::validate_cmd(&args, &parsed.params)),
        Some(Cmd::Bench(args)) => bench::bench(&args, &parsed.params),
        Some(Cmd::Profile(args)) => as_code(profile::profile_cmd(&args, &parsed.params)),
        Some(Cmd::Run(args)) => as_code(commands::run(&args, &parsed.params)),
        Some(Cmd::Report(args)) => as_code(report::report_cmd(&args)),
        Some(Cmd::CheckPng(args)) => as_code(report::image::check_png(&args.png, args.min_ink)),
        Some(Cmd::NewVariant(a)) => workshop::workspace_root()
            .and_then(|root| workshop::new_variant(&root, &a.kernel, &a.case, &a.name))
            .map(|_| ExitCode::SUCCESS),
        Some(Cmd::RemoveVariant(a)) => workshop::workspace_root()
            .and_then(|root| workshop::remove_variant(&root, a.variant.as_deref()))
            .map(|_| ExitCode::SUCCESS),
        Some(Cmd::Explain(a)) => {
            workshop::explain(&a.kernel, &a.reports).map(|_| ExitCode::SUCCESS)
        }
        // The main job: validate and time the default suite, then report on that run.
        None => bench::bench(&bench::default_args(), &parsed.params).and_then(|code| {
            let args = cli::ReportArgs {
                runs: Vec::new(),
                root: "reports".into(),
                out: "reports".into(),
            };
            report::report_cmd(&args)?;
            Ok(code)
        }),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}
