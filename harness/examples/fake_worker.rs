//! A worker of protocol 1 (docs/external.md) for the Laue kernel, written in Rust: the
//! example of how to write one, and the worker `harness/tests/external.rs` drives in every
//! fault mode. The mode is the first argument:
//!
//! - `correct`: the Laue intensity by a direct loop over the crystal's cells (sin and cos
//!   of each phase), timed with its own monotonic clock;
//! - `wrong`: the same, one value perturbed by 1 %;
//! - `crash` (exits at the first `run`), `hang` (never answers `run`), `garbage` (answers
//!   `run` with a line that is not JSON), `wrong-version` (`ready` with protocol 2);
//! - `wrong-shape` (writes the transpose of a row), `nan`, `not-npy` (writes text),
//!   `int-dtype` (writes int64), `no-output` (writes nothing), `skip` and `refuse` (answer
//!   every problem with an error, with and without `"skip": true`);
//! - `fixed-N` (e.g. `fixed-64`): `correct` at n = N, `skip` at every other n (a peer
//!   that fixes its size, as aiapy's PSF fixes N = 4096).
//!
//! cargo run --release -p harness --example fake_worker -- correct

use std::f64::consts::PI;
use std::io::{BufRead, Write};
use std::time::Instant;

use kernels::laue::{LaueProblem, Shape};
use ndarray::{Array1, Array2};
use ndarray_npy::WriteNpyExt;
use serde_json::{Value, json};

fn main() {
    let mode = std::env::args().nth(1).unwrap_or_else(|| "correct".into());
    eprintln!("fake worker: mode {mode}");
    eprintln!("fake worker: pid {}", std::process::id());
    let mut out = std::io::stdout().lock();
    let mut problem: Option<(LaueProblem, String)> = None;
    let mut written = false;
    for line in std::io::stdin().lock().lines() {
        let Ok(line) = line else { return };
        let msg: Value = serde_json::from_str(&line).expect("the harness sends JSON");
        let answer = match msg["op"].as_str() {
            Some("problem") => {
                eprintln!("fake worker: problem {}", msg["params"]);
                written = false;
                let fixed = mode
                    .strip_prefix("fixed-")
                    .map(|n| n.parse::<f64>().unwrap());
                if mode == "skip" || fixed.is_some_and(|n| msg["params"]["n"].as_f64() != Some(n)) {
                    json!({"op": "error", "skip": true, "message": "this fake worker skips everything"})
                } else if mode == "refuse" {
                    json!({"op": "error", "message": "this fake worker refuses every problem"})
                } else {
                    problem = Some((laue_problem(&msg), msg["output"].as_str().unwrap().into()));
                    let version = if mode == "wrong-version" { 2 } else { 1 };
                    json!({"op": "ready", "protocol": version, "setup_s": 0.0})
                }
            }
            Some("run") => {
                let (p, path) = problem.as_ref().expect("a problem before run");
                match run(&mode, p, path, msg["count"].as_u64().unwrap(), &mut written) {
                    Some(answer) => answer,
                    None => continue,
                }
            }
            _ => return,
        };
        writeln!(out, "{answer}").unwrap();
        out.flush().unwrap();
    }
}

/// The problem from its parameters, as the harness's kernel builds its crystal.
fn laue_problem(msg: &Value) -> LaueProblem {
    let p = &msg["params"];
    let f = |k: &str| p[k].as_f64().unwrap();
    let shape = match msg["case"].as_str().unwrap() {
        "square" => Shape::Square,
        "circle" => Shape::Circle,
        _ => Shape::Strained,
    };
    LaueProblem::new(
        shape,
        f("n") as usize,
        f("oversampling") as usize,
        f("h"),
        f("k"),
        f("e0"),
        f("w"),
    )
}

/// One `run {count}`: the answer, or None for a mode that answers nothing.
fn run(mode: &str, p: &LaueProblem, path: &str, count: u64, written: &mut bool) -> Option<Value> {
    match mode {
        "crash" => {
            eprintln!("fake worker: crashing on purpose");
            std::process::exit(3);
        }
        "hang" => loop {
            std::thread::sleep(std::time::Duration::from_secs(60));
        },
        "garbage" => {
            println!("this is not an answer");
            return None;
        }
        _ => {}
    }
    let start = Instant::now();
    let mut intensity = Array2::zeros((0, 0));
    for _ in 0..count {
        intensity = laue(p);
    }
    let seconds = start.elapsed().as_secs_f64();
    if !*written {
        write_output(mode, intensity, path);
        *written = true;
    }
    Some(json!({"op": "done", "count": count, "seconds_per_run": seconds / count as f64}))
}

/// I(h, k) = |Σ exp(2πi(h·x + k·y))|² over the crystal's cells, as sums of cos and sin.
fn laue(p: &LaueProblem) -> Array2<f64> {
    let cells = p.cells();
    Array2::from_shape_fn((p.h.len(), p.k.len()), |(i, j)| {
        let (mut re, mut im) = (0.0, 0.0);
        for &(x, y) in &cells {
            let phase = 2.0 * PI * (p.h[i] * x + p.k[j] * y);
            re += phase.cos();
            im += phase.sin();
        }
        re * re + im * im
    })
}

/// Writes the output, spoiled as the mode says.
fn write_output(mode: &str, mut intensity: Array2<f64>, path: &str) {
    let file = || std::fs::File::create(path).unwrap();
    match mode {
        "no-output" => {}
        "not-npy" => std::fs::write(path, "these are not numbers").unwrap(),
        "int-dtype" => intensity.mapv(|v| v as i64).write_npy(file()).unwrap(),
        "wrong-shape" => Array1::from_iter(intensity).write_npy(file()).unwrap(),
        _ => {
            if mode == "wrong" {
                let peak = intensity.fold(0.0f64, |m, &v| m.max(v));
                intensity[[0, 0]] += 1e-3 * peak;
            }
            if mode == "nan" {
                intensity[[0, 0]] = f64::NAN;
            }
            intensity.write_npy(file()).unwrap();
        }
    }
}
