//! External variants (issue 18, docs/external.md): any implementation, in any language,
//! registered in `external.toml` and run as a worker process that speaks protocol 1 over
//! stdin/stdout. The harness validates its output against the same reference with the same
//! tolerance as its own variants, times it with the same statistics (its `run {count}`
//! batches timed by the worker's clock) and shows it in the same tables.
//!
//! - [`registry`]: the TOML file, checked before anything runs.
//! - [`kernel`]: a kernel with its external variants appended to its table.
//! - [`session`]: one problem held by one worker (the [`kernels::Prepared`] that is timed).
//! - [`worker`]: the process, its timeouts and faults; [`protocol`]: the messages;
//!   [`inputs`]: the `.npy` files.
//!
//! State of one command: the registration (installed once by `main`), the probes' verdicts,
//! the run folder and one worker per (variant, case), stopped by [`shutdown`].

pub mod inputs;
pub mod kernel;
pub mod protocol;
pub mod registry;
pub mod session;
pub mod worker;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use anyhow::Result;
use kernels::{Availability, DynKernel, Params};

use registry::Entry;
use worker::Worker;

/// The default registration file's name, looked for in the current folder only (a binary
/// run from elsewhere, e.g. a test's temporary folder, must not pick up the repository's).
pub const DEFAULT_FILE: &str = "external.toml";

/// The installed registration: one extended kernel per kernel with entries.
static KERNELS: OnceLock<Vec<&'static kernel::Extended>> = OnceLock::new();
/// Probe verdicts by entry name (a probe runs once per command).
static PROBES: Mutex<Vec<(String, Availability)>> = Mutex::new(Vec::new());
/// The run folder workers read and write in.
static RUN_FOLDER: Mutex<Option<PathBuf>> = Mutex::new(None);
/// The private folder made for a command without a run folder, removed by [`shutdown`].
static TEMP_FOLDER: Mutex<Option<PathBuf>> = Mutex::new(None);
/// The workers of a command: one per (entry name, case).
type Pool = HashMap<(String, String), Arc<Mutex<Worker>>>;
static WORKERS: Mutex<Option<Pool>> = Mutex::new(None);

/// The registration file to use: `--external FILE`, else `external.toml` in the current
/// folder (the repository root, where README's commands run), else none. Only the current
/// folder: a harness started elsewhere (a test in its crate's folder, a copy of the binary
/// on another machine) does not pick up this checkout's peers behind the user's back.
pub fn registration_file(given: Option<&Path>) -> Option<PathBuf> {
    if let Some(path) = given {
        return Some(path.to_path_buf());
    }
    Some(PathBuf::from(DEFAULT_FILE)).filter(|p| p.is_file())
}

/// Loads and installs a registration for this process (once; `main` does it before any
/// command). A bad file is an error (exit code 2, nothing written).
pub fn install(path: &Path) -> Result<()> {
    let entries: Vec<Arc<Entry>> = registry::load(path)?.into_iter().map(Arc::new).collect();
    let mut extended = Vec::new();
    for k in kernels::registry::kernels() {
        let mine: Vec<_> = entries
            .iter()
            .filter(|e| e.kernel == k.name())
            .cloned()
            .collect();
        if !mine.is_empty() {
            extended.push(&*Box::leak(Box::new(kernel::Extended::new(k, mine))));
        }
    }
    tracing::debug!(
        "external: {} variant(s) from {}",
        entries.len(),
        path.display()
    );
    KERNELS
        .set(extended)
        .map_err(|_| anyhow::anyhow!("a registration is already installed in this process"))
}

/// The kernel with its external variants when any are registered, else the kernel.
pub fn extend(k: &'static dyn DynKernel) -> &'static dyn DynKernel {
    match KERNELS
        .get()
        .and_then(|ks| ks.iter().find(|e| e.inner.name() == k.name()))
    {
        Some(e) => *e,
        None => k,
    }
}

/// The runtime column of an external variant's rows (its label), or None for ours.
pub fn runtime_of(kernel: &str, variant: &str) -> Option<String> {
    let ks = KERNELS.get()?;
    let k = ks.iter().find(|e| e.inner.name() == kernel)?;
    k.entries
        .iter()
        .find(|e| e.name == variant)
        .map(|e| e.label.clone())
}

/// The `seconds_per_run` an external variant's registration declares, if any.
pub fn declared_seconds_per_run(kernel: &str, variant: &str) -> Option<f64> {
    let ks = KERNELS.get()?;
    let k = ks.iter().find(|e| e.inner.name() == kernel)?;
    k.entries
        .iter()
        .find(|e| e.name == variant)?
        .seconds_per_run
}

/// Workers of this command read and write in `path` (a bench's run folder) from now on;
/// workers of an earlier folder are stopped.
pub fn set_run_folder(path: &Path) {
    shutdown();
    let path = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    *RUN_FOLDER.lock().expect("lock") = Some(path);
}

/// The run folder, or (commands without one: validate, profile) a private folder under the
/// system's temporary folder, made on first use.
fn run_folder() -> Result<PathBuf, String> {
    let mut slot = RUN_FOLDER.lock().expect("lock");
    if let Some(p) = slot.as_ref() {
        return Ok(p.clone());
    }
    let stamp = crate::results::utc_stamp();
    let dir = std::env::temp_dir().join(format!("harness-external-{}-{stamp}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| {
        format!(
            "cannot create {} ({e}): set TMPDIR to a writable folder",
            dir.display()
        )
    })?;
    *slot = Some(dir.clone());
    *TEMP_FOLDER.lock().expect("lock") = Some(dir.clone());
    Ok(dir)
}

/// The worker of (entry, case), started on first use (again after a fault).
fn worker_for(entry: &Arc<Entry>, case: &str) -> Result<Arc<Mutex<Worker>>, String> {
    let mut all = WORKERS.lock().expect("lock");
    let map = all.get_or_insert_with(HashMap::new);
    let key = (entry.name.clone(), case.to_string());
    if let Some(w) = map.get(&key)
        && w.lock().expect("lock").dead.is_none()
    {
        return Ok(Arc::clone(w));
    }
    let stderr = run_folder()?
        .join("external")
        .join(format!("{}.stderr.txt", entry.name));
    let w = Arc::new(Mutex::new(Worker::start(Arc::clone(entry), stderr)?));
    map.insert(key, Arc::clone(&w));
    Ok(w)
}

/// Stops every worker (`quit`, then killed if it lingers) and reaps it. The private folder
/// of a command without a run folder goes too, unless a fault left a worker's stderr in it
/// (the failed line names that file).
pub fn shutdown() {
    let workers = WORKERS.lock().expect("lock").take();
    for (_, w) in workers.into_iter().flatten() {
        if let Ok(mut w) = w.lock() {
            w.stop(true);
        }
    }
    let Some(temp) = TEMP_FOLDER.lock().expect("lock").take() else {
        return;
    };
    let faults = std::fs::read_dir(temp.join("external"))
        .into_iter()
        .flatten()
        .flatten()
        .any(|e| e.file_name().to_string_lossy().ends_with(".stderr.txt"));
    if !faults {
        let _ = std::fs::remove_dir_all(&temp);
    }
    let mut slot = RUN_FOLDER.lock().expect("lock");
    if slot.as_ref() == Some(&temp) {
        *slot = None;
    }
}

/// Whether an entry can run this problem: `max_n`, then its probe command (run once per
/// command: exit 0 = available; otherwise skipped with the first line of its output).
fn probe(entry: &Entry, params: &Params) -> Availability {
    if let (Some(max), Ok(n)) = (entry.max_n, params.get("n"))
        && n > max as f64
    {
        return Availability::Skipped(format!(
            "n = {n} is above max_n = {max} of {} in {}",
            entry.name,
            entry.file.display()
        ));
    }
    let mut cache = PROBES.lock().expect("lock");
    if let Some((_, a)) = cache.iter().find(|(n, _)| *n == entry.name) {
        return a.clone();
    }
    let verdict = run_probe(entry);
    tracing::debug!("external probe: {}: {verdict:?}", entry.name);
    cache.push((entry.name.clone(), verdict.clone()));
    verdict
}

/// Runs the entry's probe (or, without one, checks that a program given as a path exists).
fn run_probe(entry: &Entry) -> Availability {
    let hint = worker::setup_hint(entry);
    let Some(probe) = &entry.probe else {
        let program = Path::new(&entry.command[0]);
        if program.is_absolute() && !program.exists() {
            return Availability::Skipped(format!("{} not found{hint}", program.display()));
        }
        return Availability::Ready;
    };
    let child = std::process::Command::new(&probe[0])
        .args(&probe[1..])
        .envs(&entry.env)
        .current_dir(&entry.workdir)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn();
    let mut child = match child {
        Ok(c) => c,
        Err(e) => {
            return Availability::Skipped(format!(
                "cannot run the probe `{}` ({e}){hint}",
                probe[0]
            ));
        }
    };
    let deadline = Instant::now() + Duration::from_secs_f64(entry.timeout_s.min(60.0));
    let status = loop {
        match child.try_wait() {
            Ok(Some(s)) => break Some(s),
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(10)),
            _ => break None,
        }
    };
    let Some(status) = status else {
        let _ = child.kill();
        let _ = child.wait();
        return Availability::Skipped(format!(
            "the probe `{}` did not finish{hint}",
            probe.join(" ")
        ));
    };
    if status.success() {
        return Availability::Ready;
    }
    let output = child
        .wait_with_output()
        .map(|o| [o.stdout, o.stderr].concat())
        .unwrap_or_default();
    let text = String::from_utf8_lossy(&output);
    let first = text
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("no output");
    Availability::Skipped(format!("{}{hint}", protocol::shorten(first)))
}
