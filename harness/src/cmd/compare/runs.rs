//! `harness compare RUN_A RUN_B`: two run folders, row by row. (Being built: issue 17.)

use std::path::Path;
use std::process::ExitCode;

use anyhow::{Result, bail};

use crate::cli::CompareArgs;

pub fn compare(_args: &CompareArgs, _a: &Path, _b: &Path) -> Result<ExitCode> {
    bail!("compare: comparing run folders is not built yet")
}
