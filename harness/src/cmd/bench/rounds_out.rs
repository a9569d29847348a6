//! `bench --rounds-out FILE` (hidden): the child side of `compare --against-bin`, so that
//! two builds of the harness can time the same problem one round each in turn.
//!
//! The protocol, one JSON object per line on FILE (`-`: standard output), requests one per
//! line on standard input:
//!
//! 1. at once, before anything is built: `{"protocol": 1, "harness": "<version>",
//!    "git_commit": "<commit>"}` (a parent refuses a child whose first line is not this, with
//!    its protocol number);
//! 2. once every selected variant of the one problem is through the gate and warmed up:
//!    `{"ready": [{"variant": "parallel", "status": "ok", "reason": ""}, ...]}` (status ok,
//!    failed, skipped or n/a, as in a results row);
//! 3. per request `round`: one round of the variants still timed, each its batch once in a
//!    shuffled order ([`crate::measure::rounds::Session`]): `{"round": 1, "seconds":
//!    {"parallel": 1.2e-5, ...}, "failed": {"other": "failed while timing: ..."}}` (seconds
//!    per run; a variant that ever failed is in `failed`, not in `seconds`);
//! 4. request `quit`, or the end of standard input: the child exits with code 0.
//!
//! No run folder is made, nothing else is written to FILE.

use std::io::{BufRead as _, Write};
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use kernels::gate::{self, Admission, References};
use kernels::{Instance, VariantRef};
use serde_json::{Map, Value, json};

use super::{STOP, limits};
use crate::cli::BenchArgs;
use crate::cmd::plan::Plan;
use crate::cmd::{instance_of, policy, selected};
use crate::measure::machine;
use crate::measure::rounds::{Entrant, Session};

/// The protocol's version: a parent and a child must agree on it.
pub const PROTOCOL: u64 = 1;

/// Serves the protocol for the plan's one problem; see the module docs.
pub(super) fn serve(plan: &Plan, args: &BenchArgs) -> Result<ExitCode> {
    limits::check_options(args)?;
    let [job] = plan.jobs.as_slice() else {
        bail!(
            "--rounds-out: the selection matches {} problems; give --case and one value per \
             parameter (one problem)",
            plan.jobs.len()
        );
    };
    let threads = match args.threads.as_slice() {
        [] => std::thread::available_parallelism().map_or(1, |n| n.get()),
        [t] if *t >= 1 => *t,
        _ => bail!("--rounds-out: give one thread count (--threads T) or none"),
    };
    let mut sink = Sink::open(
        args.rounds_out
            .as_deref()
            .expect("serve is for --rounds-out"),
    )?;
    sink.line(&json!({
        "protocol": PROTOCOL,
        "harness": env!("CARGO_PKG_VERSION"),
        "git_commit": machine::git_commit(),
    }))?;
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .thread_name(|i| format!("harness-worker-{i}"))
        .build()?;
    let instance = instance_of(job)?;
    let variants = selected(instance.as_ref(), plan);
    let (gated, mut admitted) = pool.install(|| admit_all(instance.as_ref(), &variants))?;
    let timed: Vec<&'static str> = admitted.iter().map(|(name, _)| *name).collect();
    let mut entrants: Vec<Entrant> = admitted
        .iter_mut()
        .map(|(_, a)| Entrant {
            first: a.first_run.as_secs_f64(),
            prepared: a.prepared.as_mut(),
        })
        .collect();
    let mut session =
        pool.install(|| Session::warm_up(&mut entrants, args.budget, &STOP, &mut |_, _| {}));
    sink.line(&ready(&gated, &timed, &session))?;
    for request in std::io::stdin().lock().lines() {
        match request.context("--rounds-out: reading a request")?.trim() {
            "round" => {
                let samples = pool.install(|| session.round());
                sink.line(&round(session.rounds, &timed, samples))?;
            }
            "quit" => break,
            other => bail!("--rounds-out: unknown request `{other}`: send `round` or `quit`"),
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// One selected variant after the gate: its status and why.
struct Gated {
    variant: VariantRef,
    status: &'static str,
    reason: String,
}

/// Every variant through the gate: each one's status, and the valid ones prepared.
type Admitted = Vec<(&'static str, gate::Admitted)>;

fn admit_all(instance: &dyn Instance, variants: &[VariantRef]) -> Result<(Vec<Gated>, Admitted)> {
    let mut refs = References::new(instance, None)?;
    let (mut gated, mut valid) = (Vec::new(), Vec::new());
    for &variant in variants {
        let admission = gate::admit(instance, variant, &mut refs, policy(), &mut ());
        let status = admission.label();
        let reason = match admission {
            Admission::Valid(a) => {
                valid.push((variant.name(), a));
                String::new()
            }
            Admission::NotRun(a) => a.reason().to_string(),
            Admission::Failed(f) => f.reason,
        };
        gated.push(Gated {
            variant,
            status,
            reason,
        });
    }
    Ok((gated, valid))
}

/// The `ready` line: every selected variant's status after the gate and the warm-up.
fn ready(gated: &[Gated], timed: &[&str], session: &Session) -> Value {
    let list: Vec<Value> = gated
        .iter()
        .map(|g| {
            let failure = timed
                .iter()
                .position(|t| *t == g.variant.name())
                .and_then(|i| session.failure(i));
            let (status, reason) = match failure {
                Some(why) => ("failed", why.to_string()),
                None => (g.status, g.reason.clone()),
            };
            json!({"variant": g.variant.name(), "status": status, "reason": reason})
        })
        .collect();
    json!({ "ready": list })
}

/// One `round` line: the seconds per run of each variant still timed, and the failed ones.
fn round(number: usize, timed: &[&str], samples: Vec<Result<f64, String>>) -> Value {
    let (mut seconds, mut failed) = (Map::new(), Map::new());
    for (name, sample) in timed.iter().zip(samples) {
        match sample {
            Ok(s) => seconds.insert(name.to_string(), json!(s)),
            Err(why) => failed.insert(name.to_string(), json!(why)),
        };
    }
    json!({"round": number, "seconds": seconds, "failed": failed})
}

/// Where the protocol's lines go: standard output (`-`) or a file appended to.
struct Sink(Box<dyn Write>);

impl Sink {
    fn open(path: &std::path::Path) -> Result<Sink> {
        if path.as_os_str() == "-" {
            return Ok(Sink(Box::new(std::io::stdout())));
        }
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .with_context(|| {
                format!(
                    "--rounds-out {}: cannot open it for appending; give a writable path or -",
                    path.display()
                )
            })?;
        Ok(Sink(Box::new(file)))
    }

    /// One line, flushed at once (the parent waits for it).
    fn line(&mut self, value: &Value) -> Result<()> {
        writeln!(self.0, "{value}")?;
        self.0.flush()?;
        Ok(())
    }
}
