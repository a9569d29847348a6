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
use crate::variant::{Availability, Precision, Prepared, Strategy, Variant, Work};

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
    /// The default problems of the quick suite (`harness bench` without arguments).
    fn suite() -> Vec<(&'static str, Params)>;
    /// Bytes a run of this problem needs at least, from the parameters alone, so that the
    /// harness can refuse a run that cannot fit BEFORE building the problem (whose own data
    /// may be large: generated fits, images). None (the default): the harness falls back to
    /// an estimate from [`Kernel::work`]'s bytes once the problem is built, before any
    /// variant allocates its output.
    fn memory_estimate(case: &str, params: &Params) -> Option<u64> {
        let _ = (case, params);
        None
    }
}

/// Static facts about a variant, for listings.
#[derive(Clone, Debug, serde::Serialize)]
pub struct VariantInfo {
    pub name: &'static str,
    pub strategy: Strategy,
    pub precision: Precision,
    pub idea: &'static str,
    pub file: &'static str,
}

impl VariantInfo {
    fn of<P>(v: &dyn Variant<P>) -> VariantInfo {
        VariantInfo {
            name: v.name(),
            strategy: v.strategy(),
            precision: v.precision(),
            idea: v.idea(),
            file: v.file(),
        }
    }
}

/// The harness's view of a kernel.
pub trait DynKernel: Sync + Send {
    fn name(&self) -> &'static str;
    fn about(&self) -> &'static str;
    fn cases(&self) -> &'static [Case];
    fn params(&self) -> &'static [ParamSpec];
    fn defaults(&self, case: &str) -> Params;
    fn suite(&self) -> Vec<(&'static str, Params)>;
    fn variants(&self) -> Vec<VariantInfo>;
    /// [`Kernel::memory_estimate`]: bytes needed at least, before the problem is built.
    fn memory_estimate(&self, case: &str, params: &Params) -> Option<u64>;
    fn instance(
        &self,
        case: &str,
        params: &Params,
        inputs: &[ArrayD<f64>],
    ) -> Result<Box<dyn Instance>, KernelError>;
}

/// One problem of one kernel, with its variants.
pub trait Instance: Send + Sync {
    fn kernel(&self) -> &'static str;
    fn case(&self) -> &str;
    fn params(&self) -> &Params;
    fn work(&self) -> Work;
    fn variants(&self) -> Vec<VariantInfo>;
    fn info(&self, variant: &str) -> Result<VariantInfo, KernelError>;
    fn probe(&self, variant: &str) -> Result<Availability, KernelError>;
    fn prepare(&self, variant: &str) -> Result<Box<dyn Prepared>, KernelError>;
    fn tolerance(&self, variant: &str) -> Result<Tolerance, KernelError>;
    fn reference_files(&self) -> Vec<(String, PathBuf)>;
    fn check(
        &self,
        variant: &str,
        output: &Output,
        reference: &Output,
    ) -> Result<Check, KernelError>;
    /// [`Kernel::describe`] of an output of this problem.
    fn describe(&self, output: &Output) -> Option<String>;
    fn oracles(&self) -> &'static [&'static str];
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
    fn variants(&self) -> Vec<VariantInfo> {
        K::variants()
            .iter()
            .map(|v| VariantInfo::of(v.as_ref()))
            .collect()
    }
    fn memory_estimate(&self, case: &str, params: &Params) -> Option<u64> {
        K::memory_estimate(case, params)
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
    fn find(&self, name: &str) -> Result<&dyn Variant<K::Problem>, KernelError> {
        self.variants
            .iter()
            .find(|v| v.name() == name)
            .map(|v| v.as_ref())
            .ok_or_else(|| KernelError::Unknown {
                what: "variant",
                given: format!("{}/{}/{name}", K::NAME, self.case),
                valid: self
                    .variants
                    .iter()
                    .map(|v| v.name())
                    .collect::<Vec<_>>()
                    .join(", "),
            })
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
    fn variants(&self) -> Vec<VariantInfo> {
        self.variants
            .iter()
            .map(|v| VariantInfo::of(v.as_ref()))
            .collect()
    }
    fn info(&self, variant: &str) -> Result<VariantInfo, KernelError> {
        Ok(VariantInfo::of(self.find(variant)?))
    }
    fn probe(&self, variant: &str) -> Result<Availability, KernelError> {
        Ok(self.find(variant)?.probe(&self.problem))
    }
    fn prepare(&self, variant: &str) -> Result<Box<dyn Prepared>, KernelError> {
        let v = self.find(variant)?;
        match v.probe(&self.problem) {
            Availability::Ready => v.prepare(&self.problem),
            other => Err(KernelError::Failed(format!(
                "{}/{}/{variant} is {}: {}",
                K::NAME,
                self.case,
                other.label(),
                other.reason()
            ))),
        }
    }
    fn tolerance(&self, variant: &str) -> Result<Tolerance, KernelError> {
        Ok(K::tolerance(&self.problem, &self.info(variant)?))
    }
    fn reference_files(&self) -> Vec<(String, PathBuf)> {
        K::reference_files(&self.problem)
    }
    fn check(
        &self,
        variant: &str,
        output: &Output,
        reference: &Output,
    ) -> Result<Check, KernelError> {
        let tol = self.tolerance(variant)?;
        Ok(K::check(&self.problem, output, reference, &tol))
    }
    fn describe(&self, output: &Output) -> Option<String> {
        K::describe(&self.problem, output)
    }
    fn oracles(&self) -> &'static [&'static str] {
        K::oracles()
    }
}
