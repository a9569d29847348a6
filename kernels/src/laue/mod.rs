//! Laue sum: 2-D diffraction of a small crystal.
//!
//! ```text
//! I(h, k) = | Σ_(n,m) ∈ crystal  exp(2πi (h·p_n + k·p_m)) |²
//! ```
//!
//! From the ESRF/silx training course "Optimization of compute-bound Python code"
//! (`silx-kit/silx-training`, `optimization/`). Three cases:
//!
//! - `square` — every cell of an N × N lattice, p = (n, m);
//! - `circle` — the cells with r = √((n − N/2)² + (m − N/2)²) ≤ N/2 (inclusive: 795 cells at
//!   N = 32), unstrained, p = (n, m);
//! - `strained` — the same disc with the displacement s(r) = e0·(1 + tanh((r − N/2)/w)):
//!   p_n = n + s·(n − N/2), p_m = m + s·(m − N/2).
//!
//! The reciprocal coordinates are numpy's `arange(H − 0.5, H + 0.5, 1/(oversampling·N))`
//! reproduced exactly (see [`arange`]): the course's reference files depend on its last bits.
//!
//! Work: one complex multiply-add per (h, k, cell) term, 8 flops — what the factorised form
//! really does, and the yardstick for every variant.

use std::path::PathBuf;

use ndarray::{ArrayD, IxDyn};

use crate::check::{Output, Tolerance};
use crate::error::KernelError;
use std::f64::consts::{PI, TAU};

use crate::kernel::{Case, GpuScale, Kernel};
use crate::params::{ParamKind, ParamSpec, Params};
use crate::variant::{Precision, Strategy, Variant, VariantInfo, Work};

pub mod factorised;
pub mod fft;
pub mod gpu;
pub mod naive;
pub mod parallel;
pub mod vectorised;

// workshop exercise modules: `harness new-variant` inserts lines below, `harness remove-variant` deletes them.

/// Which crystal.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shape {
    Square,
    Circle,
    Strained,
}

/// One Laue problem: the crystal's cells and the reciprocal-space grid.
#[derive(Clone, Debug)]
pub struct LaueProblem {
    pub shape: Shape,
    /// Cells per side of the lattice.
    pub n: usize,
    pub oversampling: usize,
    pub e0: f64,
    pub w: f64,
    /// Reciprocal coordinates along the first output axis (numpy `arange` semantics).
    pub h: Vec<f64>,
    /// Reciprocal coordinates along the second output axis.
    pub k: Vec<f64>,
    /// Whether the parameters are the course's defaults apart from N and oversampling, so
    /// that committed references apply.
    defaults: bool,
}

impl LaueProblem {
    pub fn new(
        shape: Shape,
        n: usize,
        oversampling: usize,
        h0: f64,
        k0: f64,
        e0: f64,
        w: f64,
    ) -> Self {
        let step = 1.0 / (oversampling * n) as f64;
        LaueProblem {
            shape,
            n,
            oversampling,
            e0,
            w,
            h: arange(h0 - 0.5, h0 + 0.5, step),
            k: arange(k0 - 0.5, k0 + 0.5, step),
            defaults: h0 == 0.0 && k0 == 4.0 && e0 == 0.01 && w == 5.0,
        }
    }

    /// Position of cell (n, m), or `None` when the cell is outside the crystal. This is the
    /// formula of the module docs, written once; every variant takes its cells from here.
    pub fn cell(&self, n: usize, m: usize) -> Option<(f64, f64)> {
        let (n, m) = (n as f64, m as f64);
        let centre = self.n as f64 / 2.0;
        let r = ((n - centre).powi(2) + (m - centre).powi(2)).sqrt();
        match self.shape {
            Shape::Square => Some((n, m)),
            Shape::Circle if r <= centre => Some((n, m)),
            Shape::Strained if r <= centre => {
                let s = self.e0 * (1.0 + ((r - centre) / self.w).tanh());
                Some((n + s * (n - centre), m + s * (m - centre)))
            }
            Shape::Circle | Shape::Strained => None,
        }
    }

    /// Every cell of the crystal, row-major.
    pub fn cells(&self) -> Vec<(f64, f64)> {
        (0..self.n)
            .flat_map(|n| (0..self.n).map(move |m| (n, m)))
            .filter_map(|(n, m)| self.cell(n, m))
            .collect()
    }

    /// Output shape: (len(h), len(k)).
    pub fn shape(&self) -> [usize; 2] {
        [self.h.len(), self.k.len()]
    }

    /// Worst-case bound on the difference of two f64 variants relative to the peak:
    /// 8u·Φ from phase rounding plus 4u·C from summing C terms in two different orders
    /// (u = 2⁻⁵³, Φ the largest phase of any term; see `Laue::tolerance`).
    pub fn f64_phase_bound(&self) -> f64 {
        let u = f64::EPSILON / 2.0;
        let cells = self.cells();
        let max_abs = |v: &[f64]| v.iter().fold(0.0f64, |m, x| m.max(x.abs()));
        let max_p = cells
            .iter()
            .fold(0.0f64, |m, &(a, b)| m.max(a.abs()).max(b.abs()));
        let phi = 2.0 * PI * (max_abs(&self.h) + max_abs(&self.k)) * max_p;
        8.0 * u * phi + 4.0 * u * cells.len() as f64
    }

    /// Largest distance between numpy's `arange` grid and the exact grid h₀ + i/M, summed
    /// over both axes (what the FFT variant's tolerance allows for).
    pub fn grid_mismatch(&self) -> f64 {
        let m = (self.oversampling * self.n) as f64;
        let off = |axis: &[f64]| {
            axis.iter()
                .enumerate()
                .map(|(i, &v)| (v - (axis[0] + i as f64 / m)).abs())
                .fold(0.0, f64::max)
        };
        off(&self.h) + off(&self.k)
    }

    /// Wraps a row-major intensity buffer as the kernel's output.
    pub fn output(&self, intensity: Vec<f64>) -> Output {
        let array = ArrayD::from_shape_vec(IxDyn(&self.shape()), intensity)
            .expect("variants write exactly len(h)·len(k) values");
        Output::single("intensity", array)
    }
}

/// Exact `sin_cos` every `RESYNC` entries of a phase table, a complex-multiply recurrence
/// in between: the recurrence drifts by about one ulp per step, so 16 steps stay near
/// 2e-15, far below the f64 tolerance, while cutting libm calls sixteenfold.
pub const RESYNC: usize = 16;

/// Calls `f(i, cos, sin)` with e^{2πi·`axis[i]`·p} for every i of an evenly spaced axis
/// (numpy `arange`: `axis[i] = axis[0] + i·δ`).
#[inline]
pub fn for_each_phase(axis: &[f64], p: f64, mut f: impl FnMut(usize, f64, f64)) {
    let step = if axis.len() > 1 {
        axis[1] - axis[0]
    } else {
        0.0
    };
    let (ss, sc) = (TAU * step * p).sin_cos();
    for start in (0..axis.len()).step_by(RESYNC) {
        let (mut s, mut c) = (TAU * axis[start] * p).sin_cos();
        for i in start..(start + RESYNC).min(axis.len()) {
            f(i, c, s);
            (c, s) = (c * sc - s * ss, c * ss + s * sc);
        }
    }
}

/// numpy's `arange(start, stop, step)` to the last bit: length ⌈(stop − start)/step⌉ and
/// element i = start + i·δ with δ = (start + step) − start (not `step` itself).
pub fn arange(start: f64, stop: f64, step: f64) -> Vec<f64> {
    let len = arange_len(start, stop, step);
    let delta = (start + step) - start;
    (0..len).map(|i| start + i as f64 * delta).collect()
}

/// The length of [`arange`]`(start, stop, step)`, ⌈(stop − start)/step⌉.
pub fn arange_len(start: f64, stop: f64, step: f64) -> usize {
    ((stop - start) / step).ceil().max(0.0) as usize
}

/// Output points of a problem from its parameters: len(h)·len(k), as
/// [`LaueProblem::new`] builds the axes (without building them).
fn points_of(p: &Params) -> Option<usize> {
    let (n, oversampling) = (p.usize("n").ok()?, p.usize("oversampling").ok()?);
    let step = 1.0 / (oversampling * n) as f64;
    let axis = |centre: f64| arange_len(centre - 0.5, centre + 0.5, step);
    axis(p.get("h").ok()?).checked_mul(axis(p.get("k").ok()?))
}

/// The crystal of a case (None for a name that is not one).
fn shape_of(case: &str) -> Option<Shape> {
    match case {
        "square" => Some(Shape::Square),
        "circle" => Some(Shape::Circle),
        "strained" => Some(Shape::Strained),
        _ => None,
    }
}

/// Cells of an n × n crystal of this shape, as many as [`LaueProblem::cells`] lists,
/// counted row by row without building them. The disc's test r ≤ N/2 in integers: with
/// c = N/2, (2i − N)² + (2j − N)² ≤ N² is (i − c)² + (j − c)² ≤ c² times 4, exact, and the
/// float test agrees (both sides are exact multiples of ¼, far from a rounding step).
pub fn cell_count(shape: Shape, n: usize) -> usize {
    if shape == Shape::Square {
        return n * n;
    }
    let n2 = (n as i128) * (n as i128);
    (0..n as i128)
        .map(|i| {
            let room = n2 - (2 * i - n as i128).pow(2);
            if room < 0 {
                return 0;
            }
            // |2j − N| ≤ s, s = ⌊√room⌋: j from ⌈(N − s)/2⌉ to ⌊(N + s)/2⌋, within 0..N.
            let s = room.isqrt();
            let lo = (n as i128 - s + 1).div_euclid(2).max(0);
            let hi = (n as i128 + s).div_euclid(2).min(n as i128 - 1);
            (hi - lo + 1).max(0) as usize
        })
        .sum()
}

/// Nominal bytes of a problem: the f64 intensity written at every point, and each cell's
/// position (two f64) read.
fn nominal_bytes(points: f64, cells: f64) -> f64 {
    8.0 * points + 16.0 * cells
}

/// The Laue kernel's declaration.
pub struct Laue;

const PARAMS: &[ParamSpec] = &[
    ParamSpec {
        name: "n",
        help: "cells per side of the crystal lattice",
        kind: ParamKind::Int { min: 1, max: 4096 },
        default: 32.0,
        is_size: true,
    },
    ParamSpec {
        name: "oversampling",
        help: "output points per reciprocal unit and cell (output is (oversampling·n)²)",
        kind: ParamKind::Int { min: 1, max: 64 },
        default: 3.0,
        is_size: false,
    },
    ParamSpec {
        name: "h",
        help: "centre H of the first reciprocal axis",
        kind: ParamKind::Float {
            min: -1e3,
            max: 1e3,
        },
        default: 0.0,
        is_size: false,
    },
    ParamSpec {
        name: "k",
        help: "centre K of the second reciprocal axis",
        kind: ParamKind::Float {
            min: -1e3,
            max: 1e3,
        },
        default: 4.0,
        is_size: false,
    },
    ParamSpec {
        name: "e0",
        help: "strain amplitude (strained case)",
        kind: ParamKind::Float { min: 0.0, max: 1.0 },
        default: 0.01,
        is_size: false,
    },
    ParamSpec {
        name: "w",
        help: "width of the strain profile in cells (strained case)",
        kind: ParamKind::Float {
            min: 1e-3,
            max: 1e6,
        },
        default: 5.0,
        is_size: false,
    },
];

const CASES: &[Case] = &[
    Case {
        name: "square",
        about: "every cell of an N×N lattice",
    },
    Case {
        name: "circle",
        about: "the disc r ≤ N/2, unstrained",
    },
    Case {
        name: "strained",
        about: "the disc r ≤ N/2 with the tanh displacement",
    },
];

impl Kernel for Laue {
    fn external_output(p: &LaueProblem, array: ArrayD<f64>) -> Result<Output, KernelError> {
        crate::external::expect_shape(Self::NAME, &array, &p.shape())?;
        Ok(Output::single("intensity", array))
    }
    type Problem = LaueProblem;
    const NAME: &'static str = "laue";
    const ABOUT: &'static str = "I(h,k) = |Σ_cells exp(2πi(h·p_n + k·p_m))|²: 2-D diffraction of a \
        square, circular or strained circular crystal (ESRF/silx course \"Optimization of \
        compute-bound Python code\").";

    fn cases() -> &'static [Case] {
        CASES
    }

    fn params() -> &'static [ParamSpec] {
        PARAMS
    }

    fn problem(case: &str, p: &Params, inputs: &[ArrayD<f64>]) -> Result<LaueProblem, KernelError> {
        if !inputs.is_empty() {
            return Err(KernelError::Input(
                "the Laue kernel takes no input arrays: its crystal is set by --case, --n, --e0 and --w".into(),
            ));
        }
        let Some(shape) = shape_of(case) else {
            unreachable!("case `{case}` is checked against CASES before this call")
        };
        Ok(LaueProblem::new(
            shape,
            p.usize("n")?,
            p.usize("oversampling")?,
            p.get("h")?,
            p.get("k")?,
            p.get("e0")?,
            p.get("w")?,
        ))
    }

    fn variants() -> Vec<Box<dyn Variant<LaueProblem>>> {
        vec![
            Box::new(naive::Naive),
            Box::new(vectorised::Vectorised),
            Box::new(parallel::Parallel),
            Box::new(fft::Fft),
            Box::new(factorised::Factorised),
            Box::new(gpu::Gpu::F32),
            Box::new(gpu::Gpu::F64),
            // workshop exercise variants: `harness new-variant` inserts lines below, `harness remove-variant` deletes them.
        ]
    }

    fn work(p: &LaueProblem) -> Work {
        let [nh, nk] = p.shape();
        let cells = cell_count(p.shape, p.n) as f64;
        let points = (nh * nk) as f64;
        Work {
            flops: 8.0 * points * cells,
            bytes: nominal_bytes(points, cells),
            items: points,
        }
    }

    /// The generic estimate ([`crate::kernel::run_memory`]) of the nominal bytes, which
    /// follow from the parameters: the FFT at n = 4096, oversampling 64 (550 GB of output)
    /// is refused before anything is built.
    fn memory_estimate(case: &str, p: &Params) -> Option<u64> {
        let cells = cell_count(shape_of(case)?, p.usize("n").ok()?);
        let points = points_of(p)?;
        Some(crate::kernel::run_memory(nominal_bytes(
            points as f64,
            cells as f64,
        )))
    }

    fn naive_seconds(_case: &str, p: &Params) -> Option<f64> {
        Some(naive::seconds(points_of(p)?, p.usize("n").ok()?))
    }

    /// Tolerances for `max|ref − out| / max|ref|`, the course's measure.
    fn tolerance(p: &LaueProblem, v: &VariantInfo) -> Tolerance {
        match (v.precision, v.strategy) {
            // The FFT evaluates on the exact grid h₀ + i/M; numpy's `arange` grid differs by
            // e_h = max_i |h_i − (h₀ + i/M)| (a few ulps times i). Moving h by e moves each
            // phase by ≤ 2π·e·N, and |S|² relative to its peak by ≤ 2·2π·N·e.
            (Precision::F64, Strategy::Fft) => Tolerance {
                max_norm: p.f64_phase_bound() + 4.0 * PI * p.n as f64 * p.grid_mismatch(),
                relative: None,
                reason: "f64 phase rounding (as other f64 variants) plus the FFT's exact grid \
                         h₀ + i/M against numpy's arange grid: ≤ 4π·N·(e_h + e_k) of the peak",
            },
            // Each term is e^{iφ} with |φ| ≤ Φ = 2π·(max|h| + max|k|)·max|p|; a variant rounds
            // φ about twice (product and sum, then the 2π scaling) before sin/cos, so two f64
            // variants' phases differ by ≤ 4u·Φ (u = 2⁻⁵³). A phase error δ moves |S|² by at
            // most 2δ of its peak C². Summing C unit terms in another order changes S by
            // ≤ (C−1)u·C, i.e. |S|² by ≤ 2Cu of the peak, per variant. Worst case
            // 8u·Φ + 4u·C: 1.3e-12 at N = 32 strained, 1e-11 at N = 128. Measured errors are
            // ~100× smaller because rounding errors average out (≈1e-14 at N = 32; the
            // course's own versions reach 0–4e-15).
            (Precision::F64, _) => Tolerance {
                max_norm: p.f64_phase_bound(),
                relative: None,
                reason: "f64: phases up to Φ = 2π·(max|h|+max|k|)·max|p| rad are rounded a few times; \
                         worst case 8u·Φ + 4u·C of the peak with C terms summed in another order (1.3e-12 at N = 32)",
            },
            // Phases reduced modulo one turn in f64 before the f32 exponential keep each
            // term's angle error near 2⁻²⁴·2π ≈ 4e-7 rad; accumulating C unit terms in f32
            // adds about √C·2⁻²⁴ relative to the peak: ≲1e-5 at N = 128.
            (Precision::F32, _) => Tolerance {
                max_norm: 1e-4,
                relative: None,
                reason: "f32: phase error ≈ 2⁻²⁴·2π rad per term after reduction modulo one turn, \
                         plus √C·2⁻²⁴ from accumulating C terms in f32 (≲1e-5 at N = 128)",
            },
        }
    }

    fn reference_files(p: &LaueProblem) -> Vec<(String, PathBuf)> {
        if !p.defaults {
            return Vec::new();
        }
        let case = match p.shape {
            Shape::Square => "square",
            Shape::Circle => "circle",
            Shape::Strained => "strained",
        };
        // A HARNESS_REFERENCES naming no folder is reported by the gate's resolution.
        let Ok(dir) = crate::io::references_dir() else {
            return Vec::new();
        };
        let path = dir
            .join("laue")
            .join(format!("{case}_n{}_os{}.npy", p.n, p.oversampling));
        if path.exists() {
            vec![("intensity".to_string(), path)]
        } else {
            Vec::new()
        }
    }

    /// Above the naive loop's time limit, factorised (f64, itself checked against naive and
    /// the references) stands in as the reference.
    fn oracles() -> &'static [&'static str] {
        &["naive", "factorised"]
    }

    fn suite() -> Vec<(&'static str, Params)> {
        let d = Params::defaults(PARAMS);
        vec![
            ("square", d.clone()),
            ("circle", d.clone()),
            ("strained", d.clone()),
            ("strained", d.with("n", 128.0)),
        ]
    }

    fn gpu_suite(scale: GpuScale) -> Vec<(&'static str, Params)> {
        // N = 128 and 256: 147 k and 590 k output points over 16 k and 65 k cells, enough
        // invocations to fill an H200; the oracle is the factorised GEMM (naive: minutes).
        let sizes: &[f64] = match scale {
            GpuScale::Device => &[128.0, 256.0],
            GpuScale::Tiny => &[8.0, 12.0],
        };
        let d = Params::defaults(PARAMS);
        sizes
            .iter()
            .map(|&n| ("strained", d.clone().with("n", n)))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arange_matches_numpy_to_the_last_bit() {
        // Values printed by numpy 2.x for arange(-0.5, 0.5, 1/96) and arange(3.5, 4.5, 1/96).
        let h = arange(-0.5, 0.5, 1.0 / 96.0);
        assert_eq!(h.len(), 96);
        assert_eq!(h[1] - h[0], 0.010416666666666685);
        let k = arange(3.5, 4.5, 1.0 / 96.0);
        assert_eq!(k.len(), 96);
        assert_eq!(k[1] - k[0], 0.010416666666666519);
        assert_eq!(k[95], 3.5 + 95.0 * 0.010416666666666519);
    }

    #[test]
    fn cells_are_counted_without_building_them() {
        for n in [1, 2, 3, 4, 7, 8, 31, 32, 33, 100, 257] {
            for shape in [Shape::Square, Shape::Circle, Shape::Strained] {
                let p = LaueProblem::new(shape, n, 2, 0.0, 4.0, 0.01, 5.0);
                assert_eq!(cell_count(shape, n), p.cells().len(), "{shape:?} n = {n}");
            }
        }
    }

    #[test]
    fn the_estimates_from_parameters_match_the_built_problem() {
        use crate::kernel::Kernel as _;
        for (case, n, os) in [("square", 32, 3), ("circle", 33, 5), ("strained", 64, 1)] {
            let params = Laue::defaults(case)
                .with("n", n as f64)
                .with("oversampling", os as f64)
                .with("h", 0.3);
            let p = Laue::problem(case, &params, &[]).unwrap();
            let work = Laue::work(&p);
            assert_eq!(
                Laue::memory_estimate(case, &params),
                Some(crate::kernel::run_memory(work.bytes)),
                "{case}"
            );
            let points = p.h.len() * p.k.len();
            assert_eq!(points_of(&params), Some(points), "{case}");
            assert_eq!(
                Laue::naive_seconds(case, &params),
                Some(naive::seconds(points, n))
            );
        }
    }

    #[test]
    fn the_disc_is_inclusive() {
        let p = LaueProblem::new(Shape::Circle, 32, 3, 0.0, 4.0, 0.01, 5.0);
        assert_eq!(p.cells().len(), 795);
        let sq = LaueProblem::new(Shape::Square, 32, 3, 0.0, 4.0, 0.01, 5.0);
        assert_eq!(sq.cells().len(), 1024);
    }
}
