//! A kernel whose variants misbehave on purpose (never registered): one panics in setup,
//! one panics in its first run, one panics only once it is being timed, one returns NaN,
//! one a wrong answer, and good ones around them. The fault tests of `validate`, `bench`,
//! `profile` (harness/tests) and of the criterion bench harness (benches/tests) drive it and
//! check that each bad variant is a failed row with its reason while the others carry on.
//!
//! Shared as a source file (`#[path]`), so that it stays test-only in both crates.

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};

use kernels::kernel::KernelEntry;
use kernels::{
    Case, Kernel, KernelError, Output, ParamKind, ParamSpec, Params, Prepared, Tolerance, Variant,
    VariantInfo, Work, variant,
};
use ndarray::{ArrayD, IxDyn};

pub struct Faulty;

pub const FAULTY_PARAMS: &[ParamSpec] = &[ParamSpec {
    name: "n",
    help: "unused",
    kind: ParamKind::Int { min: 1, max: 10 },
    default: 3.0,
    is_size: true,
}];

#[derive(Clone, Copy)]
enum Behaviour {
    Right,
    Wrong,
    Nan,
    PanicInSetup,
    PanicInRun,
    /// Right on its first (validated) run, then panics: a fault only timing can meet.
    PanicWhenTimed,
}

struct FaultyVariant(VariantInfo, Behaviour);

struct FaultyRun(Behaviour, Option<Vec<f64>>, AtomicUsize);

impl Prepared for FaultyRun {
    fn run(&mut self) -> Result<(), KernelError> {
        let runs = self.2.fetch_add(1, Ordering::Relaxed);
        self.1 = Some(match self.0 {
            Behaviour::Right => vec![1.0, 2.0, 3.0],
            Behaviour::Wrong => vec![1.0, 2.0, 4.0],
            Behaviour::Nan => vec![1.0, f64::NAN, 3.0],
            Behaviour::PanicInRun => panic!("deliberate panic in run"),
            Behaviour::PanicWhenTimed if runs > 0 => panic!("deliberate panic while timed"),
            Behaviour::PanicWhenTimed => vec![1.0, 2.0, 3.0],
            Behaviour::PanicInSetup => unreachable!(),
        });
        Ok(())
    }
    fn output(&self) -> Result<Output, KernelError> {
        let v = self
            .1
            .clone()
            .ok_or(KernelError::Failed("not run".into()))?;
        Ok(Output::single(
            "y",
            ArrayD::from_shape_vec(IxDyn(&[3]), v).unwrap(),
        ))
    }
}

impl Variant<()> for FaultyVariant {
    fn info(&self) -> &VariantInfo {
        &self.0
    }
    fn prepare(&self, _: &()) -> Result<Box<dyn Prepared>, KernelError> {
        if let Behaviour::PanicInSetup = self.1 {
            panic!("deliberate panic in setup");
        }
        Ok(Box::new(FaultyRun(self.1, None, AtomicUsize::new(0))))
    }
}

const IDEA: &str = "a fault for the hardening tests";

impl Kernel for Faulty {
    type Problem = ();
    const NAME: &'static str = "faulty";
    const ABOUT: &'static str = "test double";
    fn cases() -> &'static [Case] {
        &[Case {
            name: "only",
            about: "",
        }]
    }
    fn params() -> &'static [ParamSpec] {
        FAULTY_PARAMS
    }
    fn problem(_: &str, _: &Params, _: &[ArrayD<f64>]) -> Result<(), KernelError> {
        Ok(())
    }
    fn variants() -> Vec<Box<dyn Variant<()>>> {
        use Behaviour::*;
        let v = |info, b| Box::new(FaultyVariant(info, b)) as Box<dyn Variant<()>>;
        vec![
            v(variant!("naive", Naive, F64, IDEA), Right),
            v(variant!("panics", Vectorised, F64, IDEA), PanicInRun),
            v(
                variant!("setup-panics", Vectorised, F64, IDEA),
                PanicInSetup,
            ),
            v(variant!("nan", Vectorised, F64, IDEA), Nan),
            v(variant!("wrong", Vectorised, F64, IDEA), Wrong),
            v(
                variant!("panics-when-timed", Vectorised, F64, IDEA),
                PanicWhenTimed,
            ),
            v(variant!("right", Vectorised, F64, IDEA), Right),
        ]
    }
    fn work(_: &()) -> Work {
        Work {
            flops: 3.0,
            bytes: 24.0,
            items: 3.0,
        }
    }
    fn tolerance(_: &(), _: &VariantInfo) -> Tolerance {
        Tolerance {
            max_norm: 1e-12,
            relative: None,
            reason: "exact arithmetic",
        }
    }
    fn reference_files(_: &()) -> Vec<(String, PathBuf)> {
        Vec::new()
    }
    fn suite() -> Vec<(&'static str, Params)> {
        vec![("only", Params::defaults(FAULTY_PARAMS))]
    }
}

pub static FAULTY: KernelEntry<Faulty> = KernelEntry::new();
