//! An external variant prepared on one problem: the [`Prepared`] the gate, the sequential
//! timing and the interleaved rounds drive like any other. `run` asks the worker for one
//! run; a batch is one `run {count}` message timed by the worker's own clock; the round
//! trip the harness sees around each message is kept, to report the overhead.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use kernels::{Instance, KernelError, Output, Prepared, Stage};

use super::inputs;
use super::protocol::{self, Answer};
use super::worker::Worker;

/// One problem held by one worker.
pub struct Session {
    pub worker: Arc<Mutex<Worker>>,
    /// The problem as its JSON line, resent when the worker holds another one.
    pub problem: String,
    /// Identifies the problem (entry, kernel, case, params).
    pub key: String,
    pub output: PathBuf,
    pub instance: Arc<dyn Instance>,
    /// The last batch: the worker's seconds per run, and the harness's per message.
    pub last: Option<(f64, f64)>,
    /// Since the problem was loaded: the worker's CPU seconds and its runs, where its
    /// process's CPU time can be read (None elsewhere).
    pub cpu: Option<(f64, u64)>,
}

impl Session {
    /// Sends the problem and waits for `ready`: the worker's setup seconds. A `skip` error
    /// becomes [`KernelError::Skipped`], another error a failure.
    pub fn load(&mut self) -> Result<f64, KernelError> {
        let mut w = self.worker.lock().expect("worker lock");
        let answer = w
            .ask(&self.problem, "problem")
            .map_err(KernelError::Failed)?;
        match answer {
            Answer::Ready { setup_s } => {
                w.current = Some(self.key.clone());
                Ok(setup_s)
            }
            Answer::Error {
                message,
                skip: true,
            } => Err(KernelError::Skipped(format!(
                "worker {}: {message}",
                w.entry.name
            ))),
            Answer::Error { message, .. } => Err(KernelError::Failed(format!(
                "worker {}: {message}",
                w.entry.name
            ))),
            Answer::Done { .. } => {
                let why = format!(
                    "worker {} answered `done` to `problem`: answer `ready`",
                    w.entry.name
                );
                Err(KernelError::Failed(w.fault(why)))
            }
        }
    }

    /// One `run {count}`: the worker's seconds per run. Reloads the problem first when the
    /// worker holds another one.
    fn batch(&mut self, count: u64) -> Result<f64, KernelError> {
        let held = self.worker.lock().expect("worker lock").current.clone();
        if held.as_deref() != Some(self.key.as_str()) {
            self.load()?;
        }
        let mut w = self.worker.lock().expect("worker lock");
        let cpu_before = w.cpu_seconds();
        let start = Instant::now();
        let answer = w
            .ask(&protocol::run_line(count), "run")
            .map_err(KernelError::Failed)?;
        let round_trip = start.elapsed().as_secs_f64();
        self.cpu = match (self.cpu, cpu_before, w.cpu_seconds()) {
            (Some((used, runs)), Some(before), Some(after)) => {
                Some((used + (after - before), runs + count))
            }
            _ => None,
        };
        let name = w.entry.name.clone();
        let per_run = match answer {
            Answer::Done {
                count: c,
                seconds_per_run,
            } if c == count => seconds_per_run,
            Answer::Error { message, .. } => {
                return Err(KernelError::Failed(format!("worker {name}: {message}")));
            }
            other => {
                return Err(KernelError::Failed(w.fault(format!(
                    "worker {name} answered {other:?} to `run` with count {count}: answer \
                     `done` with the same count"
                ))));
            }
        };
        self.last = Some((per_run, round_trip / count as f64));
        Ok(per_run)
    }
}

impl Prepared for Session {
    fn run(&mut self) -> Result<(), KernelError> {
        self.batch(1).map(|_| ())
    }

    /// The worker's `.npy`, checked (a `.npy`, float, finite, the kernel's shape) and made
    /// into the kernel's output; a bad file ends the worker like any fault.
    fn output(&self) -> Result<Output, KernelError> {
        let mut w = self.worker.lock().expect("worker lock");
        let name = w.entry.name.clone();
        let read = inputs::read(&name, &self.output)
            .and_then(|a| self.instance.external_output(a).map_err(|e| e.to_string()));
        read.map_err(|why| KernelError::Failed(w.fault(why)))
    }

    /// The last batch: `worker` (seconds per run, its clock) and `round_trip` (seconds per
    /// run as the harness saw it, the pipe included); and `worker_cpu`, the worker's CPU
    /// seconds per run over every batch since the problem was loaded (where they can be
    /// read), so that its CPU seconds per second of its clock say how many cores it kept busy.
    fn stages(&self) -> Vec<Stage> {
        let Some((worker, seen)) = self.last else {
            return Vec::new();
        };
        let d = |s: f64| std::time::Duration::from_secs_f64(s.max(0.0));
        let mut stages = vec![
            Stage {
                name: "worker",
                time: d(worker),
            },
            Stage {
                name: "round_trip",
                time: d(seen),
            },
        ];
        // /proc counts in ticks of 10 ms: below 0.2 s the figure would be off by over 5 %.
        if let Some((used, runs)) = self.cpu.filter(|&(used, runs)| runs > 0 && used >= 0.2) {
            stages.push(Stage {
                name: "worker_cpu",
                time: d(used / runs as f64),
            });
        }
        stages
    }

    fn run_self_timed(&mut self, count: u64) -> Option<Result<f64, KernelError>> {
        Some(self.batch(count))
    }
}
