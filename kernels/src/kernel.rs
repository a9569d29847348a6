//! What a kernel declares ([`Kernel`]) and the type-erased view the harness uses
//! ([`DynKernel`], [`Instance`]).
//!
//! A kernel owns its problem type, parameters, cases, reference files, tolerances and its
//! table of variants. The harness never sees the problem type: it asks a [`DynKernel`] for
//! an [`Instance`] (one problem, built from parameters and optional input arrays) and drives
//! every variant through it.

use std::marker::PhantomData;
use std::path::PathBuf;

use ndarray::ArrayD;

use crate::check::{Check, Output, Tolerance, compare_outputs};
use crate::error::KernelError;
use crate::params::{ParamSpec, Params};
use crate::variant::{Availability, Prepared, Variant, VariantInfo, Work};

/// A problem case of a kernel (`laue/strained`, `lm/odmr`, ...).
#[derive(Clone, Copy, Debug)]
pub struct Case {
    pub name: &'static str,
    pub about: &'static str,
}

/// A reference output for one problem: where it came from, and the arrays.
#[derive(Clone, Debug)]
pub struct Reference {
    /// e.g. `references/laue/strained_n32.npy` or `naive (computed)`.
    pub label: String,
    pub output: Output,
}

/// Everything a kernel declares. Implemented once per kernel, in its `mod.rs`.
pub trait Kernel: Sync + Send + 'static {
    type Problem: Send + Sync + 'static;

    const NAME: &'static str;
    /// The formula and where it comes from, in a few lines.
    const ABOUT: &'static str;

    fn cases() -> &'static [Case];
    fn params() -> &'static [ParamSpec];
    /// Parameter values when the user gives none, for a case.
    fn defaults(_case: &str) -> Params {
        Params::defaults(Self::params())
    }
    /// Builds one problem. `inputs` are user arrays (`harness run --input x.npy`), in the
    /// order the kernel documents; most kernels accept none and generate their data.
    fn problem(
        case: &str,
        params: &Params,
        inputs: &[ArrayD<f64>],
    ) -> Result<Self::Problem, KernelError>;
    /// The registry table of this kernel: every variant, in teaching order.
    fn variants() -> Vec<Box<dyn Variant<Self::Problem>>>;
    fn work(problem: &Self::Problem) -> Work;
    /// How close `variant` must come to the reference on this problem, with the reason.
    /// Depends on the variant's precision and, where the algorithm changes the arithmetic
    /// (an FFT on a slightly different grid), on its strategy.
    fn tolerance(problem: &Self::Problem, variant: &VariantInfo) -> Tolerance;
    /// The committed reference file(s) for this problem, if any (None: validate against the
    /// oracle variant computed here).
    fn reference_files(problem: &Self::Problem) -> Vec<(String, PathBuf)>;
    /// Compares an output with a reference. The default is the shared max-normalised check.
    fn check(
        problem: &Self::Problem,
        output: &Output,
        reference: &Output,
        tol: &Tolerance,
    ) -> Check {
        let _ = problem;
        compare_outputs(output, reference, tol)
    }
    /// Figures of a variant's validated output worth a column beside its time, in a few
    /// words (lm: the share of converged fits and the iterations per fit). None by default.
    fn describe(problem: &Self::Problem, output: &Output) -> Option<String> {
        let _ = (problem, output);
        None
    }
    /// Variants trusted as a reference when no file exists, best first (naive first; then an
    /// f64 variant that is itself validated against naive, for sizes where naive is too slow).
    fn oracles() -> &'static [&'static str] {
        &["naive"]
    }
    /// The variants to use where nothing was measured on the machine, best first: the
    /// planner (`harness plan`, `--variant best`) takes the first ready there, and falls
    /// back to its strategy rule without one. A kernel whose strategy rule would pick a
    /// slow variant names its fastest here, with the measurement that says so. None by
    /// default.
    fn rule_of_thumb() -> &'static [&'static str] {
        &[]
    }
    /// The default problems of the quick suite (`harness bench` without arguments).
    fn suite() -> Vec<(&'static str, Params)>;
    /// The problems of the `gpu` suite (`harness bench --suite gpu`): sizes at which a real
    /// GPU is busy for milliseconds rather than waiting on its launch overhead, or the same
    /// suite at sizes a software adapter runs in seconds ([`GpuScale::Tiny`], what CI runs
    /// through `scripts/device-check.sh --tiny`). None by default: a kernel without GPU
    /// variants has no GPU suite.
    fn gpu_suite(scale: GpuScale) -> Vec<(&'static str, Params)> {
        let _ = scale;
        Vec::new()
    }
    /// Bytes a run of this problem needs at least, from the parameters alone, so that the
    /// harness can refuse a run that cannot fit BEFORE building the problem (whose own data
    /// may be large: generated fits, images). None (the default): the harness falls back to
    /// an estimate from [`Kernel::work`]'s bytes once the problem is built, before any
    /// variant allocates its output.
    fn memory_estimate(case: &str, params: &Params) -> Option<u64> {
        let _ = (case, params);
        None
    }
    /// Seconds one run of the `naive` variant (the oracle) takes, estimated from the
    /// parameters alone: the very estimate its probe compares with
    /// [`crate::naive_time_limit_s`], so that the harness can say before anything starts how
    /// long a selection will run. None (the default): no estimate.
    fn naive_seconds(case: &str, params: &Params) -> Option<f64> {
        let _ = (case, params);
        None
    }
    /// The arrays an external worker is given for this problem (the protocol's `inputs`,
    /// docs/external.md), by name. None by default: the worker builds the problem from its
    /// parameters (laue, psf).
    fn external_inputs(problem: &Self::Problem) -> Vec<(&'static str, ArrayD<f64>)> {
        let _ = problem;
        Vec::new()
    }
    /// An external worker's output array as this kernel's [`Output`], holding the arrays
    /// [`Kernel::check`] reads (lm: the χ² recomputed from the fitted parameters with the
    /// kernel's own model). The check then compares only the arrays this returns. An error
    /// when the kernel has no external protocol.
    fn external_output(problem: &Self::Problem, array: ArrayD<f64>) -> Result<Output, KernelError> {
        let _ = (problem, array);
        Err(KernelError::Failed(format!(
            "the {} kernel has no external worker protocol (docs/external.md lists the kernels)",
            Self::NAME
        )))
    }
}

/// Bytes a validated run of a problem needs at least, from its nominal bytes (`Work.bytes`:
/// inputs read and outputs written): the variant's own arrays and as much again for the
/// reference it is checked against. Scratch space comes on top, so this is a lower bound
/// that refuses only what certainly cannot fit. The harness applies it to every built
/// problem; kernels whose nominal bytes follow from the parameters use it in
/// [`Kernel::memory_estimate`] too, so that both checks give the same number.
pub fn run_memory(nominal_bytes: f64) -> u64 {
    let bytes = 2.0 * nominal_bytes;
    if bytes >= u64::MAX as f64 {
        u64::MAX
    } else {
        // NaN and negative values (no work) become 0.
        bytes as u64
    }
}

/// A variant of one kernel, resolved once by name ([`Instance::variant`]) and then passed
/// around by value: no lookup by string after that.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VariantRef {
    kernel: &'static str,
    index: usize,
    /// Name, strategy, precision, idea, file.
    pub info: VariantInfo,
}

impl VariantRef {
    /// A handle to entry `index` of an instance's table. Only for instances that extend a
    /// kernel's table (the harness's external variants, numbered after the kernel's own);
    /// everything else gets its handles from [`Instance::variants`].
    pub fn new(kernel: &'static str, index: usize, info: VariantInfo) -> VariantRef {
        VariantRef {
            kernel,
            index,
            info,
        }
    }
    /// The position in its instance's table.
    pub fn index(&self) -> usize {
        self.index
    }
    pub fn name(&self) -> &'static str {
        self.info.name
    }
    pub fn kernel(&self) -> &'static str {
        self.kernel
    }
}

/// The sizes of the `gpu` suite ([`Kernel::gpu_suite`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GpuScale {
    /// What a data-centre GPU needs to be measured at all (issue 19's sizes).
    Device,
    /// The same problems shrunk until lavapipe runs them in seconds: the suite's plumbing
    /// (selection, validation, the device-check script) tested without a GPU.
    Tiny,
}

/// The harness's view of a kernel.
pub trait DynKernel: Sync + Send {
    fn name(&self) -> &'static str;
    fn about(&self) -> &'static str;
    fn cases(&self) -> &'static [Case];
    fn params(&self) -> &'static [ParamSpec];
    fn defaults(&self, case: &str) -> Params;
    fn suite(&self) -> Vec<(&'static str, Params)>;
    /// [`Kernel::gpu_suite`].
    fn gpu_suite(&self, scale: GpuScale) -> Vec<(&'static str, Params)>;
    fn variants(&self) -> Vec<VariantInfo>;
    /// [`Kernel::memory_estimate`]: bytes needed at least, before the problem is built.
    fn memory_estimate(&self, case: &str, params: &Params) -> Option<u64>;
    /// [`Kernel::naive_seconds`]: one run of the naive variant, before the problem is built.
    fn naive_seconds(&self, case: &str, params: &Params) -> Option<f64>;
    fn instance(
        &self,
        case: &str,
        params: &Params,
        inputs: &[ArrayD<f64>],
    ) -> Result<Box<dyn Instance>, KernelError>;
}

/// One problem of one kernel, with its variants. Variants are resolved once
/// ([`Instance::variant`]); the lifecycle that prepares and runs them is
/// [`crate::gate`]'s alone.
pub trait Instance: Send + Sync {
    fn kernel(&self) -> &'static str;
    fn case(&self) -> &str;
    fn params(&self) -> &Params;
    fn work(&self) -> Work;
    /// Every variant of the kernel, in its table's order.
    fn variants(&self) -> Vec<VariantRef>;
    /// The variant called `name`, or an error listing the valid names.
    fn variant(&self, name: &str) -> Result<VariantRef, KernelError>;
    fn probe(&self, variant: VariantRef) -> Availability;
    /// Setup of a ready variant. Call it through [`crate::gate`], which guards it.
    fn prepare(&self, variant: VariantRef) -> Result<Box<dyn Prepared>, KernelError>;
    fn tolerance(&self, variant: VariantRef) -> Tolerance;
    fn reference_files(&self) -> Vec<(String, PathBuf)>;
    fn check(&self, variant: VariantRef, output: &Output, reference: &Output) -> Check;
    /// [`Kernel::describe`] of an output of this problem.
    fn describe(&self, output: &Output) -> Option<String>;
    /// [`Kernel::oracles`], resolved (names the table does not hold are left out).
    fn oracles(&self) -> Vec<VariantRef>;
    /// [`Kernel::rule_of_thumb`], resolved (names the table does not hold are left out).
    fn rule_of_thumb(&self) -> Vec<VariantRef>;
    /// [`Kernel::external_inputs`] of this problem.
    fn external_inputs(&self) -> Vec<(&'static str, ArrayD<f64>)>;
    /// [`Kernel::external_output`] of this problem.
    fn external_output(&self, array: ArrayD<f64>) -> Result<Output, KernelError>;
    /// The tolerance a variant described by `info` (one outside the kernel's table: an
    /// external variant) gets on this problem.
    fn tolerance_for(&self, info: &VariantInfo) -> Tolerance;
    /// [`Instance::check`] for a variant described by `info`.
    fn check_for(&self, info: &VariantInfo, output: &Output, reference: &Output) -> Check;
}

/// Adapts a [`Kernel`] to [`DynKernel`]. `registry.rs` holds one per kernel.
pub struct KernelEntry<K: Kernel>(PhantomData<K>);

impl<K: Kernel> KernelEntry<K> {
    pub const fn new() -> Self {
        KernelEntry(PhantomData)
    }
}

impl<K: Kernel> Default for KernelEntry<K> {
    fn default() -> Self {
        Self::new()
    }
}

impl<K: Kernel> DynKernel for KernelEntry<K> {
    fn name(&self) -> &'static str {
        K::NAME
    }
    fn about(&self) -> &'static str {
        K::ABOUT
    }
    fn cases(&self) -> &'static [Case] {
        K::cases()
    }
    fn params(&self) -> &'static [ParamSpec] {
        K::params()
    }
    fn defaults(&self, case: &str) -> Params {
        K::defaults(case)
    }
    fn suite(&self) -> Vec<(&'static str, Params)> {
        K::suite()
    }
    fn gpu_suite(&self, scale: GpuScale) -> Vec<(&'static str, Params)> {
        K::gpu_suite(scale)
    }
    fn variants(&self) -> Vec<VariantInfo> {
        K::variants().iter().map(|v| *v.info()).collect()
    }
    fn memory_estimate(&self, case: &str, params: &Params) -> Option<u64> {
        K::memory_estimate(case, params)
    }
    fn naive_seconds(&self, case: &str, params: &Params) -> Option<f64> {
        K::naive_seconds(case, params)
    }
    fn instance(
        &self,
        case: &str,
        params: &Params,
        inputs: &[ArrayD<f64>],
    ) -> Result<Box<dyn Instance>, KernelError> {
        let case =
            K::cases()
                .iter()
                .find(|c| c.name == case)
                .ok_or_else(|| KernelError::Unknown {
                    what: "case",
                    given: format!("{}/{case}", K::NAME),
                    valid: K::cases()
                        .iter()
                        .map(|c| c.name)
                        .collect::<Vec<_>>()
                        .join(", "),
                })?;
        params.validate(K::params())?;
        Ok(Box::new(KernelInstance::<K> {
            case: case.name,
            params: params.clone(),
            problem: K::problem(case.name, params, inputs)?,
            variants: K::variants(),
        }))
    }
}

struct KernelInstance<K: Kernel> {
    case: &'static str,
    params: Params,
    problem: K::Problem,
    variants: Vec<Box<dyn Variant<K::Problem>>>,
}

impl<K: Kernel> KernelInstance<K> {
    fn get(&self, v: VariantRef) -> &dyn Variant<K::Problem> {
        assert_eq!(
            v.kernel,
            K::NAME,
            "variant {} of another kernel used on {}",
            v.info.name,
            K::NAME
        );
        self.variants[v.index].as_ref()
    }

    fn handle(&self, index: usize) -> VariantRef {
        VariantRef {
            kernel: K::NAME,
            index,
            info: *self.variants[index].info(),
        }
    }
}

impl<K: Kernel> Instance for KernelInstance<K> {
    fn kernel(&self) -> &'static str {
        K::NAME
    }
    fn case(&self) -> &str {
        self.case
    }
    fn params(&self) -> &Params {
        &self.params
    }
    fn work(&self) -> Work {
        K::work(&self.problem)
    }
    fn variants(&self) -> Vec<VariantRef> {
        (0..self.variants.len()).map(|i| self.handle(i)).collect()
    }
    fn variant(&self, name: &str) -> Result<VariantRef, KernelError> {
        self.variants
            .iter()
            .position(|v| v.info().name == name)
            .map(|i| self.handle(i))
            .ok_or_else(|| KernelError::Unknown {
                what: "variant",
                given: format!("{}/{}/{name}", K::NAME, self.case),
                valid: self
                    .variants
                    .iter()
                    .map(|v| v.info().name)
                    .collect::<Vec<_>>()
                    .join(", "),
            })
    }
    fn probe(&self, variant: VariantRef) -> Availability {
        self.get(variant).probe(&self.problem)
    }
    fn prepare(&self, variant: VariantRef) -> Result<Box<dyn Prepared>, KernelError> {
        let v = self.get(variant);
        match v.probe(&self.problem) {
            Availability::Ready => v.prepare(&self.problem),
            other => Err(KernelError::Failed(format!(
                "{}/{}/{} is {}: {}",
                K::NAME,
                self.case,
                variant.info.name,
                other.label(),
                other.reason()
            ))),
        }
    }
    fn tolerance(&self, variant: VariantRef) -> Tolerance {
        K::tolerance(&self.problem, self.get(variant).info())
    }
    fn reference_files(&self) -> Vec<(String, PathBuf)> {
        K::reference_files(&self.problem)
    }
    fn check(&self, variant: VariantRef, output: &Output, reference: &Output) -> Check {
        let tol = self.tolerance(variant);
        K::check(&self.problem, output, reference, &tol)
    }
    fn describe(&self, output: &Output) -> Option<String> {
        K::describe(&self.problem, output)
    }
    fn oracles(&self) -> Vec<VariantRef> {
        K::oracles()
            .iter()
            .filter_map(|name| self.variant(name).ok())
            .collect()
    }
    fn rule_of_thumb(&self) -> Vec<VariantRef> {
        K::rule_of_thumb()
            .iter()
            .filter_map(|name| self.variant(name).ok())
            .collect()
    }
    fn external_inputs(&self) -> Vec<(&'static str, ArrayD<f64>)> {
        K::external_inputs(&self.problem)
    }
    fn external_output(&self, array: ArrayD<f64>) -> Result<Output, KernelError> {
        K::external_output(&self.problem, array)
    }
    fn tolerance_for(&self, info: &VariantInfo) -> Tolerance {
        K::tolerance(&self.problem, info)
    }
    fn check_for(&self, info: &VariantInfo, output: &Output, reference: &Output) -> Check {
        let tol = K::tolerance(&self.problem, info);
        K::check(&self.problem, output, reference, &tol)
    }
}
