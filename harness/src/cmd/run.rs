//! `harness run`: one variant on given inputs, its output saved as `.npy`.

use std::collections::BTreeMap;

use anyhow::{Context, Result, bail};

use super::plan;
use crate::cli::RunArgs;
use crate::render::fmt::fmt_time;
use kernels::gate::{self, Admission, run_guarded};

pub fn run(args: &RunArgs, params: &BTreeMap<String, Vec<String>>) -> Result<bool> {
    let plan = plan::plan(&args.select, params)?;
    let variant = plan
        .variant
        .clone()
        .context("--variant is required: which variant should run?")?;
    let job = match plan.jobs.as_slice() {
        [job] => job,
        _ => bail!(
            "the selection matches {} problems: give --case (and one value per parameter) to run one",
            plan.jobs.len()
        ),
    };
    let inputs = args
        .input
        .iter()
        .map(|p| kernels::io::read_f64(p))
        .collect::<Result<Vec<_>, _>>()?;
    plan::check_memory(job)?;
    let instance = job
        .kernel
        .instance(&job.case, &job.params, &inputs)
        .with_context(|| format!("{}/{}", job.kernel.name(), job.case))?;
    plan::check_instance_memory(instance.as_ref())?;
    let v = instance.variant(&variant)?;
    // No reference to compare with (the inputs are the user's): setup only, then one run.
    let setup = gate::setup(instance.as_ref(), v, super::policy(), &mut ()).map_err(|b| *b);
    let mut prepared = match setup {
        Ok((prepared, _)) => prepared,
        Err(Admission::NotRun(a)) => bail!(
            "{}/{}/{variant} is {}: {}",
            job.kernel.name(),
            job.case,
            a.label(),
            a.reason()
        ),
        Err(Admission::Failed(f)) => bail!("{}", f.reason),
        Err(Admission::Valid(_)) => unreachable!("setup never validates"),
    };
    let (result, time) = run_guarded(prepared.as_mut());
    result.map_err(anyhow::Error::msg)?;
    let output = prepared.output()?;
    for (i, (name, array)) in output.arrays.iter().enumerate() {
        let path = if i == 0 {
            args.save.clone()
        } else {
            let stem = args.save.file_stem().unwrap_or_default().to_string_lossy();
            args.save.with_file_name(format!("{stem}.{name}.npy"))
        };
        kernels::io::write_f64(&path, array)?;
        println!(
            "wrote {} ({name}, shape {:?})",
            path.display(),
            array.shape()
        );
    }
    println!(
        "{}/{}/{variant} [{}]: {}",
        job.kernel.name(),
        job.case,
        job.params,
        fmt_time(Some(time.as_secs_f64()))
    );
    Ok(true)
}
