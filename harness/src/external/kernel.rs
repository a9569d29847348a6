//! A kernel with its external variants appended to its table: [`Extended`] is a
//! [`DynKernel`] like the kernel it wraps, so that plans, `list`, `validate`, `bench`
//! (sequential and interleaved), `compare` and the time estimates see external variants as
//! just more entrants. Its instances delegate the kernel's own variants and handle the
//! external ones (numbered after them): probe, worker session, the kernel's tolerance and
//! check for the entry's precision.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use kernels::{
    Availability, Case, Check, DynKernel, GpuScale, Instance, KernelError, Output, ParamSpec,
    Params, Prepared, Tolerance, VariantInfo, VariantRef, Work,
};
use ndarray::ArrayD;

use super::protocol::{self, PROTOCOL};
use super::registry::Entry;
use super::session::Session;
use super::worker::inside;

/// A kernel and the external entries registered for it.
pub struct Extended {
    pub inner: &'static dyn DynKernel,
    pub entries: Vec<Arc<Entry>>,
    /// One per entry (names leaked once per registration: the table holds `&'static str`).
    pub infos: Vec<VariantInfo>,
}

impl Extended {
    pub fn new(inner: &'static dyn DynKernel, entries: Vec<Arc<Entry>>) -> Extended {
        let infos = entries
            .iter()
            .map(|e| VariantInfo {
                name: Box::leak(e.name.clone().into_boxed_str()),
                strategy: e.strategy,
                precision: e.precision,
                idea: Box::leak(
                    format!("external ({}): {}", e.label, e.command.join(" ")).into_boxed_str(),
                ),
                file: Box::leak(e.file.display().to_string().into_boxed_str()),
            })
            .collect();
        Extended {
            inner,
            entries,
            infos,
        }
    }
}

impl DynKernel for Extended {
    fn name(&self) -> &'static str {
        self.inner.name()
    }
    fn about(&self) -> &'static str {
        self.inner.about()
    }
    fn cases(&self) -> &'static [Case] {
        self.inner.cases()
    }
    fn params(&self) -> &'static [ParamSpec] {
        self.inner.params()
    }
    fn defaults(&self, case: &str) -> Params {
        self.inner.defaults(case)
    }
    fn suite(&self) -> Vec<(&'static str, Params)> {
        self.inner.suite()
    }
    fn gpu_suite(&self, scale: GpuScale) -> Vec<(&'static str, Params)> {
        self.inner.gpu_suite(scale)
    }
    fn variants(&self) -> Vec<VariantInfo> {
        let mut v = self.inner.variants();
        v.extend(self.infos.iter().copied());
        v
    }
    fn memory_estimate(&self, case: &str, params: &Params) -> Option<u64> {
        self.inner.memory_estimate(case, params)
    }
    fn naive_seconds(&self, case: &str, params: &Params) -> Option<f64> {
        self.inner.naive_seconds(case, params)
    }
    fn instance(
        &self,
        case: &str,
        params: &Params,
        inputs: &[ArrayD<f64>],
    ) -> Result<Box<dyn Instance>, KernelError> {
        let inner: Arc<dyn Instance> = Arc::from(self.inner.instance(case, params, inputs)?);
        let base = inner.variants().len();
        let refs = (0..self.entries.len())
            .filter(|&i| self.entries[i].cases.iter().any(|c| c == case))
            .map(|i| VariantRef::new(self.inner.name(), base + i, self.infos[i]))
            .collect();
        Ok(Box::new(ExtendedInstance {
            inner,
            base,
            entries: self.entries.clone(),
            refs,
        }))
    }
}

/// One problem: the kernel's instance and the external variants of its case.
struct ExtendedInstance {
    inner: Arc<dyn Instance>,
    /// The kernel's own variant count: external variant `i` has index `base + i`.
    base: usize,
    entries: Vec<Arc<Entry>>,
    /// The external variants registered for this case.
    refs: Vec<VariantRef>,
}

impl ExtendedInstance {
    /// The entry behind a variant, or None for one of the kernel's own.
    fn entry(&self, v: VariantRef) -> Option<&Arc<Entry>> {
        v.index()
            .checked_sub(self.base)
            .and_then(|i| self.entries.get(i))
    }

    /// Sends the problem to the worker of (entry, case) and waits until it is ready.
    fn session(&self, entry: &Arc<Entry>) -> Result<Session, KernelError> {
        let run = super::run_folder().map_err(KernelError::Failed)?;
        let stem = format!(
            "{}-{}-{}",
            self.inner.kernel(),
            self.inner.case(),
            slug(&self.inner.params().to_string())
        );
        let folder = run.join("external").join(&entry.name);
        let output = folder.join(format!("{stem}.npy"));
        let inputs =
            super::inputs::write(&folder.join("inputs"), &stem, &self.inner.external_inputs())
                .map_err(KernelError::Failed)?;
        for path in inputs.iter().map(|(_, p)| p).chain([&output]) {
            inside(&run, path).map_err(KernelError::Failed)?;
        }
        let _ = std::fs::remove_file(&output);
        let problem = protocol::Problem {
            op: "problem",
            protocol: PROTOCOL,
            kernel: self.inner.kernel(),
            case: self.inner.case(),
            precision: entry.precision.as_str(),
            params: params_json(self.inner.params()),
            inputs: inputs.into_iter().collect::<BTreeMap<String, PathBuf>>(),
            output: output.clone(),
        };
        let worker = super::worker_for(entry, self.inner.case()).map_err(KernelError::Failed)?;
        let mut session = Session {
            worker,
            problem: serde_json::to_string(&problem).expect("plain JSON"),
            key: format!("{stem}@{}", run.display()),
            output,
            instance: Arc::clone(&self.inner),
            last: None,
            cpu: Some((0.0, 0)),
        };
        session.load()?;
        Ok(session)
    }
}

impl Instance for ExtendedInstance {
    fn kernel(&self) -> &'static str {
        self.inner.kernel()
    }
    fn case(&self) -> &str {
        self.inner.case()
    }
    fn params(&self) -> &Params {
        self.inner.params()
    }
    fn work(&self) -> Work {
        self.inner.work()
    }
    fn variants(&self) -> Vec<VariantRef> {
        let mut v = self.inner.variants();
        v.extend(self.refs.iter().copied());
        v
    }
    fn variant(&self, name: &str) -> Result<VariantRef, KernelError> {
        match self.refs.iter().find(|r| r.name() == name) {
            Some(r) => Ok(*r),
            None => self.inner.variant(name),
        }
    }
    fn probe(&self, variant: VariantRef) -> Availability {
        match self.entry(variant) {
            None => self.inner.probe(variant),
            Some(entry) => super::probe(entry, self.inner.params()),
        }
    }
    fn prepare(&self, variant: VariantRef) -> Result<Box<dyn Prepared>, KernelError> {
        match self.entry(variant) {
            None => self.inner.prepare(variant),
            Some(entry) => match self.probe(variant) {
                Availability::Ready => Ok(Box::new(self.session(entry)?)),
                other => Err(KernelError::Failed(format!(
                    "{} is {}: {}",
                    entry.name,
                    other.label(),
                    other.reason()
                ))),
            },
        }
    }
    fn tolerance(&self, variant: VariantRef) -> Tolerance {
        match self.entry(variant) {
            None => self.inner.tolerance(variant),
            Some(_) => self.inner.tolerance_for(&variant.info),
        }
    }
    fn reference_files(&self) -> Vec<(String, PathBuf)> {
        self.inner.reference_files()
    }
    fn check(&self, variant: VariantRef, output: &Output, reference: &Output) -> Check {
        match self.entry(variant) {
            None => self.inner.check(variant, output, reference),
            Some(_) => {
                let reference = returned_by_worker(reference, output);
                self.inner.check_for(&variant.info, output, &reference)
            }
        }
    }
    fn describe(&self, output: &Output) -> Option<String> {
        self.inner.describe(output)
    }
    fn oracles(&self) -> Vec<VariantRef> {
        self.inner.oracles()
    }
    fn rule_of_thumb(&self) -> Vec<VariantRef> {
        self.inner.rule_of_thumb()
    }
    fn external_inputs(&self) -> Vec<(&'static str, ArrayD<f64>)> {
        self.inner.external_inputs()
    }
    fn external_output(&self, array: ArrayD<f64>) -> Result<Output, KernelError> {
        self.inner.external_output(array)
    }
    fn tolerance_for(&self, info: &VariantInfo) -> Tolerance {
        self.inner.tolerance_for(info)
    }
    fn check_for(&self, info: &VariantInfo, output: &Output, reference: &Output) -> Check {
        self.inner.check_for(info, output, reference)
    }
}

/// Parameters as JSON numbers, integers without a fraction.
fn params_json(params: &Params) -> BTreeMap<String, serde_json::Value> {
    params
        .iter()
        .map(|(k, v)| {
            let value = if v.fract() == 0.0 && v.abs() < 9.0e15 {
                serde_json::Value::from(v as i64)
            } else {
                serde_json::Value::from(v)
            };
            (k.to_string(), value)
        })
        .collect()
}

/// `n=32 oversampling=3` → `n32-oversampling3`: a file name part.
fn slug(params: &str) -> String {
    params
        .split_whitespace()
        .map(|p| p.replace('=', ""))
        .collect::<Vec<_>>()
        .join("-")
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_') {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// The reference arrays a worker's output can be compared with: those it returns, and the
/// extracts of those (`psf-column`, `psf-stats`: an extract is named `<array>-<kind>`, as
/// the PSF's references at N = 4096 are). A PSF worker returns the PSF alone, not the
/// intermediate filters; keeping exact names only left nothing to compare at 4096 (aiapy's
/// peer FAILED there with error 0 and no reason).
fn returned_by_worker(reference: &Output, output: &Output) -> Output {
    let returned = |name: &str| {
        output.get(name).is_some()
            || name
                .split_once('-')
                .is_some_and(|(array, _)| output.get(array).is_some())
    };
    Output {
        arrays: reference
            .arrays
            .iter()
            .filter(|(name, _)| returned(name))
            .cloned()
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_worker_is_compared_on_its_arrays_and_their_extracts_only() {
        let a = || ndarray::ArrayD::<f64>::zeros(ndarray::IxDyn(&[2]));
        let reference = Output {
            arrays: [
                "psf",
                "psf-column",
                "psf-stats",
                "entrance",
                "entrance-column",
            ]
            .iter()
            .map(|n| (n.to_string(), a()))
            .collect(),
        };
        let kept = returned_by_worker(&reference, &Output::single("psf", a()));
        let names: Vec<&str> = kept.arrays.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["psf", "psf-column", "psf-stats"]);
    }
}
