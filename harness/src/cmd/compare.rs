//! `harness compare`: how much faster one variant is than another, said with the interval
//! the measurements support and a verdict.
//!
//! Two modes, one command:
//! - no run folder given: an interleaved run ([`interleaved`]) of the selected variants of
//!   each problem, every ratio paired round by round against a baseline variant;
//! - two run folders ([`runs`]): a row per (kernel, case, variant, parameters, threads)
//!   present in both, the ratio of medians with its interval; `--fail-above` turns it into
//!   a regression gate.

mod interleaved;
mod runs;

use std::collections::BTreeMap;
use std::process::ExitCode;

use anyhow::Result;

use crate::cli::CompareArgs;

pub fn compare(args: &CompareArgs, params: &BTreeMap<String, Vec<String>>) -> Result<ExitCode> {
    match args.runs.as_slice() {
        [] => interleaved::compare(args, params),
        [a, b] => runs::compare(args, params, a, b),
        [_] => anyhow::bail!(
            "compare: give two run folders (RUN_A RUN_B), or none with --kernel and --variant A,B \
             for an interleaved run"
        ),
        _ => unreachable!("clap allows at most two run folders"),
    }
}
