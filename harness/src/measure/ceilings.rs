//! The machine's ceilings for the roofline, measured by the harness itself once per run:
//! a GEMM peak (faer, the best compute rate a real code reaches here) in f64 and f32, and a
//! copy bandwidth (a memcpy of buffers larger than the last-level cache), for each thread
//! count of the run, each the best of [`ROUNDS`] rounds spread over the measurement. A run
//! then uses the best of these and the ones kept for the machine
//! ([`super::ceilings_store`]), since a busy minute makes a ceiling look lower than it is.
//!
//! A row's limit is min(peak, arithmetic intensity × bandwidth), the roofline model; its
//! "% of roofline" is its GFLOP/s over that limit.

use kernels::Precision;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use faer::linalg::matmul::matmul;
use faer::{Accum, Mat, Par};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

/// The ceilings at one thread count.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct Ceiling {
    pub threads: usize,
    /// Best of several n × n GEMMs, 2n³ flops each.
    pub gemm_f64_gflops: f64,
    pub gemm_f32_gflops: f64,
    /// Bytes read plus bytes written per second by a large copy (STREAM's convention).
    pub copy_gbps: f64,
    pub gemm_n: usize,
    pub copy_mib: usize,
}

impl Ceiling {
    /// The roofline limit in GFLOP/s for a kernel of arithmetic intensity `ai` (flop/byte).
    pub fn limit_gflops(&self, ai: f64, precision: Precision) -> f64 {
        let peak = if precision == Precision::F32 {
            self.gemm_f32_gflops
        } else {
            self.gemm_f64_gflops
        };
        peak.min(ai * self.copy_gbps)
    }
}

/// The ceiling that applies to a row measured on `threads` threads (the nearest measured
/// count at or below it, else the smallest).
pub fn for_threads(ceilings: &[Ceiling], threads: usize) -> Option<&Ceiling> {
    ceilings
        .iter()
        .filter(|c| c.threads <= threads)
        .max_by_key(|c| c.threads)
        .or_else(|| ceilings.iter().min_by_key(|c| c.threads))
}

/// Last-level cache size in bytes (Linux sysfs), for sizing the copy.
fn llc_bytes() -> Option<usize> {
    (0..8).rev().find_map(|i| {
        let s =
            std::fs::read_to_string(format!("/sys/devices/system/cpu/cpu0/cache/index{i}/size"))
                .ok()?;
        let s = s.trim();
        let (num, mult) = match s.strip_suffix('K') {
            Some(n) => (n, 1 << 10),
            None => match s.strip_suffix('M') {
                Some(n) => (n, 1 << 20),
                None => (s, 1),
            },
        };
        num.parse::<usize>().ok().map(|n| n * mult)
    })
}

/// Rounds of measurements: each round times every ceiling at every thread count once, and
/// each ceiling is the best of its rounds. Spreading the repetitions over the whole
/// measurement (rather than three GEMMs in a row) lets a burst of other work spoil one
/// round, not the ceiling; the first round also serves as the warm-up (thread wake-up, code
/// in cache), which best-of discards. Four rounds make as many calls as the warm-up plus
/// three repetitions did before, so the time spent is the same.
pub const ROUNDS: usize = 4;

/// Seconds of one call of `f`.
fn time_once(mut f: impl FnMut()) -> f64 {
    let t = Instant::now();
    f();
    t.elapsed().as_secs_f64()
}

/// GFLOP/s of one n × n GEMM (`a`, `b` given, result in `c`) on the current pool.
macro_rules! gemm_gflops {
    ($a:expr, $b:expr, $c:expr) => {{
        let n = $a.nrows();
        let t = time_once(|| {
            matmul(
                $c.as_mut(),
                Accum::Replace,
                $a.as_ref(),
                $b.as_ref(),
                1.0,
                Par::rayon(0),
            );
        });
        std::hint::black_box(&$c);
        2.0 * (n as f64).powi(3) / t / 1e9
    }};
}

/// Bytes read plus written per second copying `src` into `dst`, split over the pool.
fn copy_gbps(src: &[f64], dst: &mut [f64]) -> f64 {
    let chunk = src.len().div_ceil(rayon::current_num_threads());
    let t = time_once(|| {
        dst.par_chunks_mut(chunk)
            .zip(src.par_chunks(chunk))
            .for_each(|(d, s)| d.copy_from_slice(s));
        std::hint::black_box(&*dst);
    });
    2.0 * std::mem::size_of_val(src) as f64 / t / 1e9
}

/// Measures the ceilings at each thread count (about a second each on a small machine).
pub fn measure(threads: &[usize]) -> Vec<Ceiling> {
    measure_until(threads, &AtomicBool::new(false))
}

/// The buffers every measurement uses, allocated once. The first round pays their page
/// faults, and best-of discards it.
struct Buffers {
    a64: Mat<f64>,
    b64: Mat<f64>,
    c64: Mat<f64>,
    a32: Mat<f32>,
    b32: Mat<f32>,
    c32: Mat<f32>,
    src: Vec<f64>,
    dst: Vec<f64>,
}

impl Buffers {
    fn new(gemm_n: usize, copy_bytes: usize) -> Buffers {
        let a64 = Mat::<f64>::from_fn(gemm_n, gemm_n, |i, j| ((i * 7 + j * 3) % 11) as f64 * 0.125);
        let a32 = Mat::<f32>::from_fn(gemm_n, gemm_n, |i, j| ((i * 7 + j * 3) % 11) as f32 * 0.125);
        Buffers {
            b64: a64.clone(),
            c64: Mat::<f64>::zeros(gemm_n, gemm_n),
            b32: a32.clone(),
            c32: Mat::<f32>::zeros(gemm_n, gemm_n),
            a64,
            a32,
            src: vec![1.0f64; copy_bytes / 8],
            dst: vec![0.0f64; copy_bytes / 8],
        }
    }

    /// One round at one thread count (on the current pool): each ceiling's rate, raising
    /// the best in `c`.
    fn round(&mut self, c: &mut Ceiling) {
        let f64_ = gemm_gflops!(self.a64, self.b64, self.c64);
        let f32_ = gemm_gflops!(self.a32, self.b32, self.c32);
        let copy = copy_gbps(&self.src, &mut self.dst);
        c.gemm_f64_gflops = c.gemm_f64_gflops.max(f64_);
        c.gemm_f32_gflops = c.gemm_f32_gflops.max(f32_);
        c.copy_gbps = c.copy_gbps.max(copy);
    }
}

/// [`measure`], cut short once `stop` is set (the bench's Ctrl-C): the ceilings measured so
/// far, which an interrupted run does not need anyway (a rate never measured is 0).
pub fn measure_until(threads: &[usize], stop: &AtomicBool) -> Vec<Ceiling> {
    let copy_bytes = llc_bytes()
        .map(|l| 2 * l)
        .unwrap_or(256 << 20)
        .clamp(64 << 20, 512 << 20);
    let gemm_n = 1024;
    let mut counts: Vec<usize> = threads.to_vec();
    counts.sort_unstable();
    counts.dedup();
    let pools: Vec<(usize, rayon::ThreadPool)> = counts
        .into_iter()
        .filter_map(|t| {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(t)
                .thread_name(|i| format!("harness-ceiling-{i}"))
                .build()
                .ok()?;
            Some((t, pool))
        })
        .collect();
    let mut buffers = Buffers::new(gemm_n, copy_bytes);
    let mut ceilings: Vec<Ceiling> = pools
        .iter()
        .map(|(t, _)| Ceiling {
            threads: *t,
            gemm_n,
            copy_mib: copy_bytes >> 20,
            ..Ceiling::default()
        })
        .collect();
    for _ in 0..ROUNDS {
        for ((_, pool), c) in pools.iter().zip(ceilings.iter_mut()) {
            if stop.load(Ordering::Relaxed) {
                // Each round measures all three, so a count is either measured or not.
                ceilings.retain(|c| c.gemm_f64_gflops > 0.0);
                return ceilings;
            }
            pool.install(|| buffers.round(c));
        }
    }
    ceilings
}
