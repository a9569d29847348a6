//! `harness compare --kernel K --variant A,B`: an interleaved run of the selected variants.
//! (Being built: issue 17.)

use std::collections::BTreeMap;
use std::process::ExitCode;

use anyhow::{Result, bail};

use crate::cli::CompareArgs;

pub fn compare(_args: &CompareArgs, _params: &BTreeMap<String, Vec<String>>) -> Result<ExitCode> {
    bail!("compare: the interleaved mode is not built yet")
}
