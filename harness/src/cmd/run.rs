//! `harness run`: one variant on given inputs, its output saved as `.npy`.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

use super::plan;
use crate::cli::RunArgs;
use crate::render::fmt::fmt_time;
use kernels::gate::{self, Admission, run_guarded};

pub fn run(args: &RunArgs, params: &BTreeMap<String, Vec<String>>) -> Result<bool> {
    let mut plan = plan::plan(&args.select, params)?;
    super::choose::resolve_best(&mut plan, Path::new("reports"))?;
    let variant = match plan.variant.as_deref() {
        Some([one]) => one.clone(),
        Some(list) => bail!(
            "run takes one variant, not {} ({}): give a single --variant",
            list.len(),
            list.join(", ")
        ),
        None => bail!("--variant is required: which variant should run?"),
    };
    let job = match plan.jobs.as_slice() {
        [job] => job,
        _ => bail!(
            "the selection matches {} problems: give --case (and one value per parameter) to run one",
            plan.jobs.len()
        ),
    };
    for p in &args.input {
        check_input(p)?;
    }
    check_outputs_free(&args.save)?;
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
    let paths: Vec<PathBuf> = output
        .arrays
        .iter()
        .enumerate()
        .map(|(i, (name, _))| output_path(&args.save, i, name))
        .collect();
    save_all(&paths, &output.arrays)?;
    for (path, (name, array)) in paths.iter().zip(&output.arrays) {
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

/// Where output array `i` (named `name`) goes: the first under `--save`, the others next to
/// it as `<stem>.<name>.npy`.
fn output_path(save: &Path, i: usize, name: &str) -> PathBuf {
    if i == 0 {
        save.to_path_buf()
    } else {
        let stem = save.file_stem().unwrap_or_default().to_string_lossy();
        save.with_file_name(format!("{stem}.{name}.npy"))
    }
}

/// A user's input: an ordinary file that can be opened (a FIFO would block forever), the
/// cause said as it is, before the computation.
fn check_input(path: &Path) -> Result<()> {
    crate::results::check_regular(path)?;
    std::fs::File::open(path).map(|_| ()).map_err(|e| {
        anyhow::anyhow!(
            "cannot read the input {} ({e}): check the path and its permissions",
            path.display()
        )
    })
}

/// Before anything is computed: `--save` and any `<stem>.*.npy` next to it are free (the
/// other arrays of a multi-output kernel take those names), and the folder exists and takes
/// files, each refusal with its real cause.
fn check_outputs_free(save: &Path) -> Result<()> {
    if std::fs::symlink_metadata(save).is_ok() {
        bail!(
            "{} exists (the harness never overwrites a file): choose another --save name",
            save.display()
        );
    }
    let dir = match save.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let entries = std::fs::read_dir(&dir).map_err(|e| {
        anyhow::anyhow!(
            "cannot write {}: its folder {} ({e}): create the folder or give another --save path",
            save.display(),
            dir.display()
        )
    })?;
    let stem = save.file_stem().unwrap_or_default().to_string_lossy();
    let prefix = format!("{stem}.");
    if let Some(taken) = entries.flatten().map(|e| e.file_name()).find(|n| {
        let n = n.to_string_lossy();
        n.starts_with(&prefix) && n.ends_with(".npy")
    }) {
        bail!(
            "{} exists (the other arrays of {} would be saved next to it as {stem}.<array>.npy; the harness never overwrites a file): choose another --save name",
            dir.join(taken).display(),
            save.display()
        );
    }
    // The folder takes files (permissions, a read-only file system), found out now rather
    // than after the computation.
    let probe = dir.join(format!(".{stem}.{}.probe", std::process::id()));
    match std::fs::File::create_new(&probe) {
        Ok(_) => {
            let _ = std::fs::remove_file(&probe);
            Ok(())
        }
        Err(e) => bail!(
            "cannot write {} ({e}): choose a writable folder or fix its permissions",
            save.display()
        ),
    }
}

/// Saves every output array or none: each through a temporary file, and the ones already
/// written removed again if a later one fails (a full disk leaves no cut `.npy` and no
/// partial set behind).
fn save_all(paths: &[PathBuf], arrays: &[(String, ndarray::ArrayD<f64>)]) -> Result<()> {
    if let Some(taken) = paths.iter().find(|p| std::fs::symlink_metadata(p).is_ok()) {
        bail!(
            "{} exists (the harness never overwrites a file): choose another --save name",
            taken.display()
        );
    }
    let mut done: Vec<&PathBuf> = Vec::new();
    for (path, (_, array)) in paths.iter().zip(arrays) {
        let written = crate::results::write_whole(path, false, |w| {
            use ndarray_npy::WriteNpyExt as _;
            array.write_npy(&mut *w)?;
            Ok(w.flush()?)
        });
        if let Err(e) = written {
            for p in &done {
                let _ = std::fs::remove_file(p);
            }
            return Err(e);
        }
        done.push(path);
    }
    Ok(())
}
