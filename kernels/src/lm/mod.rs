//! Batched Levenberg–Marquardt: millions of small independent least-squares fits, the
//! workload of Gpufit (Przybylski et al., Sci. Rep. 7:15722, 2017) and of widefield ODMR
//! pipelines (one curve per camera pixel).
//!
//! Each fit minimises χ²(p) = Σ_k w·(y_k − f_k(p))² over the parameters p of a model f
//! (see [`model`]). Three cases:
//!
//! - `gauss2d` — Gpufit's benchmark exactly (`examples/Gpufit_Cpufit_Performance_Comparison.cpp`):
//!   2-D Gaussian on a 5×5 grid, true A = 500, x₀ = y₀ = 2, σ = 1, b = 10 each times
//!   U(0.9, 1.1) per fit; initial parameters the true ones times U(0.9, 1.1) again; Gaussian
//!   noise at SNR 10 as Gpufit defines it (σ_noise = 17.05, see [`data::gpufit_noise`]);
//!   no weights (w = 1); tolerance 1e-4, at most 10 iterations.
//! - `odmr` — two Lorentzian dips on a constant, 7 parameters, 101 frequencies evenly from
//!   2.80 to 2.94 GHz (numpy's `linspace`), true c ∈ U(0.99, 1.01), amp ∈ U(0.01, 0.03),
//!   fwhm ∈ U(0.008, 0.016) GHz, positions 2.84 and 2.90 GHz ± U(0.005); noise σ = 0.002;
//!   every pixel starts from the same guess (c = 1, fwhm = 0.012, amp = 0.02, nominal
//!   positions). Weights w = 1/σ², so that χ² ≈ n − p at the solution and the stopping
//!   rule tol·max(1, χ²) is relative, as in `gauss2d` (unweighted, χ² ≈ 0.0004 would
//!   make it an absolute 1e-4: a quarter of χ² itself).
//! - `odmr8` — the full NV spectrum: 8 dips (4 NV orientations × 2 transitions in a bias
//!   field) on a sloped baseline c + m·(ν − 2.87 GHz): 2 + 8·3 = 26 parameters, 201
//!   frequencies from 2.70 to 3.04 GHz, dips at 2.87 ± {0.025, 0.065, 0.105, 0.145} GHz
//!   ± U(0.005), m ∈ U(−0.05, 0.05) per GHz, other draws and noise as `odmr`. A case, not
//!   a `dips` parameter of `odmr`: the baseline model, band and grid change with it.
//!
//! The algorithm is Gpufit's (see [`naive`] for the loop). Outputs per fit: `params`
//! (fits × p), `chi2`, `iterations` (LM steps attempted, rejected ones included) and
//! `state`, Gpufit's `FitState` codes as f64: 0 converged, 1 max-iterations, 2 singular.
//!
//! Data are generated from `--seed` (see [`data`]) or given as input arrays, in this order:
//! `--input y.npy` (fits × points) `--input init.npy` (fits × parameters); `--fits` and
//! `--seed` are then ignored. `cargo run --release -p kernels --example lm_data` writes a
//! generated set (data, initial and true parameters, abscissae) as `.npy`.
//!
//! Validation is per fit, against scipy's MINPACK fits or the naive oracle: see
//! [`validation`].

use std::path::PathBuf;

use ndarray::{ArrayD, IxDyn};

use crate::check::{Check, Output, Tolerance};
use crate::error::KernelError;
use crate::kernel::{Case, GpuScale, Kernel};
use crate::params::{ParamKind, ParamSpec, Params};
use crate::variant::{NotApplicable, Variant, VariantInfo, Work};

pub mod data;
pub mod gpu;
pub mod library;
pub mod model;
pub mod naive;
pub mod parallel;
pub mod validation;
pub mod vectorised;

// workshop exercise modules: `harness new-variant` inserts lines below, `harness remove-variant` deletes them.

use model::{Gauss2d, Lorentzians, Model};

/// Which problem.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Gauss2d,
    Odmr,
    Odmr8,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::Gauss2d => "gauss2d",
            Kind::Odmr => "odmr",
            Kind::Odmr8 => "odmr8",
        }
    }

    /// Fits in the committed reference set (and the default `--fits`): small enough that
    /// each data file stays under 1 MB.
    pub fn reference_fits(self) -> usize {
        match self {
            Kind::Gauss2d | Kind::Odmr => 1024,
            Kind::Odmr8 => 512,
        }
    }

    /// Default iteration cap: Gpufit's 10 for its benchmark; the ODMR cases start every
    /// pixel from one guess and need more steps (20 lets > 99.9 % converge).
    pub fn max_iterations(self) -> usize {
        match self {
            Kind::Gauss2d => 10,
            Kind::Odmr => 20,
            Kind::Odmr8 => 30,
        }
    }
}

/// Either model, for code that works one fit at a time (`with_model!` dispatches).
#[derive(Clone, Debug)]
pub enum AnyModel {
    Gauss2d(Gauss2d),
    Lorentzians(Lorentzians),
}

/// Runs `$body` with `$m` bound to the problem's concrete model (monomorphised per model).
macro_rules! with_model {
    ($model:expr, |$m:ident| $body:expr) => {
        match $model {
            $crate::lm::AnyModel::Gauss2d($m) => $body,
            $crate::lm::AnyModel::Lorentzians($m) => $body,
        }
    };
}
pub(crate) use with_model;

/// One batch of fits.
#[derive(Clone, Debug)]
pub struct LmProblem {
    pub kind: Kind,
    pub model: AnyModel,
    pub fits: usize,
    pub points: usize,
    pub n_params: usize,
    /// Data, fit-major: y[i·points + k].
    pub y: Vec<f64>,
    /// Initial parameters, fit-major.
    pub init: Vec<f64>,
    /// True parameters when generated here.
    pub truth: Option<Vec<f64>>,
    /// Weight of every point in χ² (1 for gauss2d, 1/σ² for the ODMR cases).
    pub weight: f64,
    pub tolerance: f64,
    pub max_iterations: usize,
    /// `Some(seed)` when generated here (not given as input arrays).
    pub seed: Option<u64>,
}

impl LmProblem {
    pub fn data(&self, fit: usize) -> &[f64] {
        &self.y[fit * self.points..][..self.points]
    }
    pub fn initial(&self, fit: usize) -> &[f64] {
        &self.init[fit * self.n_params..][..self.n_params]
    }
    /// χ² of parameters `p` for fit `fit`, in f64, the way the validation recomputes it.
    pub fn chi_square(&self, fit: usize, p: &[f64]) -> f64 {
        let y = self.data(fit);
        with_model!(&self.model, |m| (0..self.points)
            .map(|k| self.weight * (y[k] - m.value(k, p)).powi(2))
            .sum())
    }
}

/// Gpufit's fit states (`FitState` in Gpufit's `constants.h`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    Converged = 0,
    MaxIterations = 1,
    Singular = 2,
}

impl State {
    pub fn code(self) -> f64 {
        self as u8 as f64
    }
}

/// What one fit returns besides its parameters.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct FitOutcome {
    pub chi2: f64,
    pub iterations: usize,
    pub state: State,
}

/// The results of a batch, ready to become the kernel's output.
#[derive(Clone, Debug, Default)]
pub struct Fits {
    pub n_params: usize,
    pub params: Vec<f64>,
    pub chi2: Vec<f64>,
    pub iterations: Vec<f64>,
    pub state: Vec<f64>,
}

impl Fits {
    /// Output buffers, filled with NaN so that a fit a variant forgets shows up.
    pub fn new(fits: usize, n_params: usize) -> Fits {
        Fits {
            n_params,
            params: vec![f64::NAN; fits * n_params],
            chi2: vec![f64::NAN; fits],
            iterations: vec![f64::NAN; fits],
            state: vec![f64::NAN; fits],
        }
    }

    pub fn record(&mut self, fit: usize, o: FitOutcome) {
        self.chi2[fit] = o.chi2;
        self.iterations[fit] = o.iterations as f64;
        self.state[fit] = o.state.code();
    }

    pub fn output(&self) -> Output {
        let fits = self.chi2.len();
        let arr = |v: &[f64], shape: &[usize]| {
            ArrayD::from_shape_vec(IxDyn(shape), v.to_vec()).expect("sizes match")
        };
        Output {
            arrays: vec![
                ("params".into(), arr(&self.params, &[fits, self.n_params])),
                ("chi2".into(), arr(&self.chi2, &[fits])),
                ("iterations".into(), arr(&self.iterations, &[fits])),
                ("state".into(), arr(&self.state, &[fits])),
            ],
        }
    }
}

/// The LM kernel's declaration.
pub struct Lm;

/// Seed of the committed reference sets.
pub const DEFAULT_SEED: f64 = 1.0;
/// Gpufit's convergence tolerance, used for every case.
pub const DEFAULT_TOLERANCE: f64 = 1e-4;
/// ODMR noise standard deviation.
pub const ODMR_NOISE: f64 = 0.002;

const PARAMS: &[ParamSpec] = &[
    ParamSpec {
        name: "fits",
        help: "number of independent fits",
        kind: ParamKind::Int {
            min: 1,
            max: 100_000_000,
        },
        default: 1024.0,
        is_size: true,
    },
    ParamSpec {
        name: "seed",
        help: "seed of the generated data (SplitMix64)",
        kind: ParamKind::Int {
            min: 0,
            max: 1 << 53,
        },
        default: DEFAULT_SEED,
        is_size: false,
    },
    ParamSpec {
        name: "tolerance",
        help: "stop when |Δχ²| < tolerance·max(1, χ²)",
        kind: ParamKind::Float {
            min: 1e-15,
            max: 1.0,
        },
        default: DEFAULT_TOLERANCE,
        is_size: false,
    },
    ParamSpec {
        name: "max_iterations",
        help: "LM steps per fit at most (default per case: 10 gauss2d, 20 odmr, 30 odmr8)",
        kind: ParamKind::Int {
            min: 1,
            max: 10_000,
        },
        default: 10.0,
        is_size: false,
    },
];

const CASES: &[Case] = &[
    Case {
        name: "gauss2d",
        about: "Gpufit's benchmark: 2-D Gaussian + background, 5×5 points, 5 parameters, SNR 10",
    },
    Case {
        name: "odmr",
        about: "ODMR pixel: constant − 2 Lorentzian dips, 101 frequencies, 7 parameters",
    },
    Case {
        name: "odmr8",
        about: "full NV spectrum: sloped baseline − 8 Lorentzian dips, 201 frequencies, 26 parameters",
    },
];

fn kind_of(case: &str) -> Kind {
    match case {
        "gauss2d" => Kind::Gauss2d,
        "odmr" => Kind::Odmr,
        "odmr8" => Kind::Odmr8,
        other => unreachable!("case `{other}` is checked against CASES before this call"),
    }
}

/// numpy's `linspace(start, stop, n)` to the last bit: start + k·step, the last point = stop.
pub fn linspace(start: f64, stop: f64, n: usize) -> Vec<f64> {
    let step = (stop - start) / (n - 1) as f64;
    (0..n)
        .map(|k| {
            if k == n - 1 {
                stop
            } else {
                k as f64 * step + start
            }
        })
        .collect()
}

/// The model of a case.
pub fn model_of(kind: Kind) -> AnyModel {
    match kind {
        Kind::Gauss2d => AnyModel::Gauss2d(Gauss2d),
        Kind::Odmr => AnyModel::Lorentzians(Lorentzians {
            freqs: linspace(2.80, 2.94, 101),
            dips: 2,
            slope: false,
            centre: 2.87,
        }),
        Kind::Odmr8 => AnyModel::Lorentzians(Lorentzians {
            freqs: linspace(2.70, 3.04, 201),
            dips: 8,
            slope: true,
            centre: 2.87,
        }),
    }
}

/// Nominal dip positions of the ODMR cases (GHz).
fn nominal_positions(kind: Kind) -> Vec<f64> {
    match kind {
        Kind::Gauss2d => Vec::new(),
        Kind::Odmr => vec![2.84, 2.90],
        Kind::Odmr8 => [-0.145, -0.105, -0.065, -0.025, 0.025, 0.065, 0.105, 0.145]
            .iter()
            .map(|d| 2.87 + d)
            .collect(),
    }
}

/// Generates the data of a case (see the module docs for the distributions).
pub fn generate(kind: Kind, fits: usize, seed: u64) -> data::Generated {
    let model = model_of(kind);
    match (&model, kind) {
        (AnyModel::Gauss2d(m), _) => {
            const TRUE: [f64; 5] = [500.0, 2.0, 2.0, 1.0, 10.0];
            data::generate(
                fits,
                m.points(),
                5,
                seed,
                data::gpufit_noise(TRUE[0], TRUE[3], 10.0),
                |rng, truth, init| {
                    // Gpufit: a + b·U(0, 1) with a = 0.9, b = 0.2, for the true and then
                    // the initial parameters.
                    for (t, nominal) in truth.iter_mut().zip(TRUE) {
                        *t = nominal * rng.between(0.9, 1.1);
                    }
                    for (i, t) in init.iter_mut().zip(truth.iter()) {
                        *i = t * rng.between(0.9, 1.1);
                    }
                },
                |k, p| m.value(k, p),
            )
        }
        (AnyModel::Lorentzians(m), _) => {
            let positions = nominal_positions(kind);
            let first = m.first_dip();
            data::generate(
                fits,
                m.points(),
                m.params(),
                seed,
                ODMR_NOISE,
                |rng, truth, init| {
                    truth[0] = rng.between(0.99, 1.01);
                    init[0] = 1.0;
                    if m.slope {
                        truth[1] = rng.between(-0.05, 0.05);
                        init[1] = 0.0;
                    }
                    for (d, &pos) in positions.iter().enumerate() {
                        let (t, i) = (
                            &mut truth[first + 3 * d..][..3],
                            &mut init[first + 3 * d..][..3],
                        );
                        t[0] = rng.between(0.008, 0.016);
                        t[1] = pos + rng.between(-0.005, 0.005);
                        t[2] = rng.between(0.01, 0.03);
                        i.copy_from_slice(&[0.012, pos, 0.02]);
                    }
                },
                |k, p| m.value(k, p),
            )
        }
    }
}

impl Kernel for Lm {
    /// x as `examples/lm_data.rs` writes it, y (fits × points), init (fits × parameters).
    fn external_inputs(p: &LmProblem) -> Vec<(&'static str, ArrayD<f64>)> {
        let x = match &p.model {
            AnyModel::Lorentzians(m) => crate::external::table(&m.freqs, 1),
            AnyModel::Gauss2d(_) => {
                let side = model::GAUSS_SIDE;
                let grid: Vec<f64> = (0..side * side)
                    .flat_map(|k| [(k % side) as f64, (k / side) as f64])
                    .collect();
                crate::external::table(&grid, 2)
            }
        };
        vec![
            ("x", x),
            ("y", crate::external::table(&p.y, p.points)),
            ("init", crate::external::table(&p.init, p.n_params)),
        ]
    }
    /// The fitted parameters with the χ² recomputed by the kernel's own model, each fit
    /// reported converged: the check then holds the worker to the reference's χ², as it
    /// does another algorithm (the library variant), with no step counts to compare.
    fn external_output(p: &LmProblem, array: ArrayD<f64>) -> Result<Output, KernelError> {
        crate::external::expect_shape(Self::NAME, &array, &[p.fits, p.n_params])?;
        let params: Vec<f64> = array.iter().copied().collect();
        let chi2: Vec<f64> = (0..p.fits)
            .map(|i| p.chi_square(i, &params[i * p.n_params..][..p.n_params]))
            .collect();
        let state = vec![State::Converged.code(); p.fits];
        let vector =
            |v: Vec<f64>| ArrayD::from_shape_vec(IxDyn(&[p.fits]), v).expect("one per fit");
        Ok(Output {
            arrays: vec![
                ("params".into(), array),
                ("chi2".into(), vector(chi2)),
                ("state".into(), vector(state)),
            ],
        })
    }
    type Problem = LmProblem;
    const NAME: &'static str = "lm";
    const ABOUT: &'static str = "batched Levenberg–Marquardt, Gpufit's algorithm: min Σ w(y − f(p))² for \
        every fit; Gpufit's 2-D Gaussian benchmark and ODMR Lorentzian dips (Przybylski et al. 2017; QDMPy).";

    fn cases() -> &'static [Case] {
        CASES
    }

    fn params() -> &'static [ParamSpec] {
        PARAMS
    }

    fn defaults(case: &str) -> Params {
        let kind = kind_of(case);
        Params::defaults(PARAMS)
            .with("fits", kind.reference_fits() as f64)
            .with("max_iterations", kind.max_iterations() as f64)
    }

    fn problem(case: &str, p: &Params, inputs: &[ArrayD<f64>]) -> Result<LmProblem, KernelError> {
        let kind = kind_of(case);
        let model = model_of(kind);
        let (points, n_params) = with_model!(&model, |m| (m.points(), m.params()));
        let (fits, y, init, truth, seed) = match inputs {
            [] => {
                let seed = p.usize("seed")? as u64;
                let g = generate(kind, p.usize("fits")?, seed);
                (p.usize("fits")?, g.y, g.init, Some(g.truth), Some(seed))
            }
            [y, init] => {
                let fits = y.shape().first().copied().unwrap_or(0);
                if y.shape() != [fits, points] || init.shape() != [fits, n_params] {
                    return Err(KernelError::Input(format!(
                        "lm/{case} takes y (fits × {points}) then init (fits × {n_params}); got {:?} and {:?}",
                        y.shape(),
                        init.shape()
                    )));
                }
                // Refused here, for every variant alike, as --fits refuses 0: a batch of no
                // fits has nothing to time or validate (and the GPU variants' chunking and
                // bindings assume at least one fit).
                if fits == 0 {
                    return Err(KernelError::Input(format!(
                        "lm/{case}: y and init hold 0 fits (shapes {:?} and {:?}): give at least \
                         one fit (one row each)",
                        y.shape(),
                        init.shape()
                    )));
                }
                (
                    fits,
                    y.iter().copied().collect(),
                    init.iter().copied().collect(),
                    None,
                    None,
                )
            }
            _ => {
                return Err(KernelError::Input(format!(
                    "lm/{case} takes either no input arrays (data generated from --seed) or two: \
                     --input y.npy (fits × {points}) --input init.npy (fits × {n_params}); got {}",
                    inputs.len()
                )));
            }
        };
        Ok(LmProblem {
            kind,
            weight: match kind {
                Kind::Gauss2d => 1.0,
                Kind::Odmr | Kind::Odmr8 => 1.0 / (ODMR_NOISE * ODMR_NOISE),
            },
            model,
            fits,
            points,
            n_params,
            y,
            init,
            truth,
            tolerance: p.get("tolerance")?,
            max_iterations: p.usize("max_iterations")?,
            seed,
        })
    }

    fn variants() -> Vec<Box<dyn Variant<LmProblem>>> {
        vec![
            Box::new(naive::Naive),
            Box::new(vectorised::Vectorised),
            Box::new(parallel::Parallel),
            Box::new(library::Library),
            // The fits are independent nonlinear least-squares problems, each a handful of
            // parameters over tens of points: nothing for a transform to diagonalise.
            Box::new(NotApplicable::new(
                variant!(
                    "fft",
                    Fft,
                    F64,
                    "n/a: independent nonlinear fits have no transform structure"
                ),
                "independent nonlinear fits have no transform structure: no convolution or \
                 shift-invariant sum for an FFT to diagonalise",
            )),
            Box::new(gpu::Gpu::F32),
            Box::new(gpu::Gpu::F64),
            // workshop exercise variants: `harness new-variant` inserts lines below, `harness remove-variant` deletes them.
        ]
    }

    /// Items are fits (the harness reports fits/s). Flops count ONE Gauss–Newton pass per
    /// fit — per point the model and its gradient (~10 + 4p), JᵀWJ (p(p+1)) and the
    /// gradient and χ² (2p + 3), plus p³/3 for the solve — since the real count depends on
    /// the iterations each fit takes: multiply by iterations + 1 for the work done.
    fn work(p: &LmProblem) -> Work {
        let (n, k) = (p.points as f64, p.n_params as f64);
        let per_pass = n * (10.0 + 4.0 * k + k * (k + 1.0) + 2.0 * k + 3.0) + k * k * k / 3.0;
        Work {
            flops: p.fits as f64 * per_pass,
            bytes: 8.0 * p.fits as f64 * (n + 2.0 * k + 3.0),
            items: p.fits as f64,
        }
    }

    fn tolerance(_p: &LmProblem, v: &VariantInfo) -> Tolerance {
        validation::tolerance(v.precision)
    }

    fn reference_files(p: &LmProblem) -> Vec<(String, PathBuf)> {
        if p.seed != Some(DEFAULT_SEED as u64) || p.fits != p.kind.reference_fits() {
            return Vec::new();
        }
        // A HARNESS_REFERENCES naming no folder is reported by the gate's resolution.
        let Ok(dir) = crate::io::references_dir().map(|d| d.join("lm")) else {
            return Vec::new();
        };
        let files: Vec<_> = ["params", "chi2", "state"]
            .iter()
            .map(|a| {
                (
                    a.to_string(),
                    dir.join(format!("{}_{a}.npy", p.kind.name())),
                )
            })
            .collect();
        if files.iter().all(|(_, f)| f.exists()) {
            files
        } else {
            Vec::new()
        }
    }

    fn check(p: &LmProblem, output: &Output, reference: &Output, tol: &Tolerance) -> Check {
        validation::check(p, output, reference, tol)
    }

    /// Above naive's time limit, vectorised (f64, the same algorithm with an analytic
    /// Jacobian, itself checked against naive and the references) stands in.
    fn describe(_problem: &LmProblem, output: &Output) -> Option<String> {
        let get = |name: &str| {
            output
                .arrays
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, a)| a)
        };
        let state = get("state")?;
        let fits = state.len().max(1) as f64;
        let converged = state
            .iter()
            .filter(|&&s| s == State::Converged.code())
            .count() as f64
            / fits;
        // Gpufit's steps, or MINPACK's function evaluations for the library (another count).
        let (steps, what) = match (get("iterations"), get("evaluations")) {
            (Some(a), _) => (a, "iterations"),
            (None, Some(a)) => (a, "evaluations"),
            (None, None) => return None,
        };
        let mean = steps.iter().sum::<f64>() / fits;
        Some(format!(
            "converged {:.1}%, {mean:.1} {what} per fit",
            100.0 * converged
        ))
    }
    fn oracles() -> &'static [&'static str] {
        &["naive", "vectorised"]
    }

    /// From the parameters alone, before the data are generated (at the largest `--fits`
    /// the data alone are 28 GB for gauss2d). Per fit, in f64 (8 bytes a value), with n
    /// points and k parameters:
    ///
    /// - the problem: data, initial and true parameters, n + 2k;
    /// - the prepared variant's copy of the problem (every variant clones it), n + 2k;
    /// - the variant's results (parameters, χ², iterations, state), k + 3, and the output
    ///   arrays copied from them, k + 3;
    /// - the reference they are validated against (the oracle's output, or the files), k + 3.
    ///
    /// bytes = 8 · fits · (2n + 7k + 9): 752 a fit for gauss2d, 2 080 for odmr, 4 744 for
    /// odmr8. A lower bound, as the harness wants: the GPU variants' buffers (on a software
    /// adapter, in host memory too) and the per-thread scratch of one fit come on top, but
    /// a selection without GPU variants does not need the former and the latter is small.
    /// Input arrays (`--input`) are already in memory when this is asked, and `--fits` does
    /// not describe them.
    fn memory_estimate(case: &str, p: &Params) -> Option<u64> {
        // An unknown case is the instance's to refuse, with the valid names.
        let kind = CASES
            .iter()
            .any(|c| c.name == case)
            .then(|| kind_of(case))?;
        let model = model_of(kind);
        let (n, k) = with_model!(&model, |m| (m.points() as u64, m.params() as u64));
        let fits = p.usize("fits").ok()? as u64;
        Some(8 * fits * (2 * n + 7 * k + 9))
    }

    fn naive_seconds(case: &str, p: &Params) -> Option<f64> {
        let kind = CASES
            .iter()
            .any(|c| c.name == case)
            .then(|| kind_of(case))?;
        let model = model_of(kind);
        let (n, k) = with_model!(&model, |m| (m.points(), m.params()));
        Some(naive::seconds(p.usize("fits").ok()?, n, k))
    }

    fn suite() -> Vec<(&'static str, Params)> {
        vec![
            ("gauss2d", Self::defaults("gauss2d")),
            ("gauss2d", Self::defaults("gauss2d").with("fits", 100_000.0)),
            ("odmr", Self::defaults("odmr")),
            ("odmr", Self::defaults("odmr").with("fits", 65_536.0)),
            ("odmr8", Self::defaults("odmr8")),
        ]
    }

    fn gpu_suite(scale: GpuScale) -> Vec<(&'static str, Params)> {
        // Gpufit's scale: 10⁶ and 10⁷ fits of the 2-D Gaussian, 10⁶ ODMR pixels (a 1000²
        // widefield image).
        let (small, large) = match scale {
            GpuScale::Device => (1e6, 1e7),
            GpuScale::Tiny => (256.0, 1024.0),
        };
        vec![
            ("gauss2d", Self::defaults("gauss2d").with("fits", small)),
            ("gauss2d", Self::defaults("gauss2d").with("fits", large)),
            ("odmr", Self::defaults("odmr").with("fits", small)),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn linspace_matches_numpy() {
        // numpy 2.x: np.linspace(2.80, 2.94, 101)[[1, 50, 99]].
        let x = linspace(2.80, 2.94, 101);
        assert_eq!(x.len(), 101);
        assert_eq!(x[100], 2.94);
        assert_eq!(x[1], 1.0 * ((2.94 - 2.80) / 100.0) + 2.80);
    }

    #[test]
    fn the_first_fits_do_not_depend_on_the_batch_size() {
        let a = generate(Kind::Odmr, 3, 5);
        let b = generate(Kind::Odmr, 10, 5);
        assert_eq!(a.y[..], b.y[..a.y.len()]);
        assert_eq!(a.truth[..], b.truth[..a.truth.len()]);
    }
}
