//! The plan of a command: from the command line's selection to a list of problems ("jobs")
//! and variant names, and the memory checks that refuse a problem too big for the machine.

use std::collections::BTreeMap;

use anyhow::{Context, Result, bail};
use kernels::registry::{self, VariantId};
use kernels::{DynKernel, Params};

use crate::cli::Select;

/// One problem to build: a kernel, a case and its parameter values.
pub struct Job {
    pub kernel: &'static dyn DynKernel,
    pub case: String,
    pub params: Params,
}

/// The variants asked for (None: all of the kernel's).
pub struct Plan {
    pub jobs: Vec<Job>,
    pub variant: Option<String>,
}

/// Expands the selection. Without parameters: each kernel's default suite (filtered by
/// case). With parameters: every combination of the given values, for each selected case.
pub fn plan(select: &Select, given: &BTreeMap<String, Vec<String>>) -> Result<Plan> {
    let (kernel_name, case, variant) = names(select)?;
    let kernels: Vec<&'static dyn DynKernel> = match &kernel_name {
        Some(name) => vec![registry::kernel(name)?],
        None => registry::kernels().collect(),
    };
    check_params(&kernels, given)?;
    let mut jobs = Vec::new();
    for kernel in kernels {
        jobs.extend(jobs_of(
            kernel,
            case.as_deref(),
            kernel_name.is_some(),
            given,
        )?);
    }
    if jobs.is_empty() {
        bail!(
            "nothing selected: no kernel has case `{}`",
            case.unwrap_or_default()
        );
    }
    if let Some(v) = &variant {
        let known: Vec<_> = jobs[0].kernel.variants().iter().map(|i| i.name).collect();
        if jobs
            .iter()
            .all(|j| !j.kernel.variants().iter().any(|i| i.name == v))
        {
            bail!("unknown variant `{v}`: valid ones are {}", known.join(", "));
        }
    }
    Ok(Plan { jobs, variant })
}

/// Kernel, case and variant names: a full id given as `--variant` names all three.
fn names(select: &Select) -> Result<(Option<String>, Option<String>, Option<String>)> {
    let (mut kernel_name, mut case, mut variant) = (
        select.kernel.clone(),
        select.case.clone(),
        select.variant.clone(),
    );
    if let Some(v) = &select.variant
        && v.contains('/')
    {
        let id = VariantId::parse(v)?;
        for (flag, given, from_id) in [
            ("kernel", &kernel_name, &id.kernel),
            ("case", &case, &id.case),
        ] {
            if let Some(g) = given
                && g != from_id
            {
                bail!("--{flag} {g} contradicts --variant {v}");
            }
        }
        kernel_name = Some(id.kernel.clone());
        case = Some(id.case.clone());
        variant = Some(id.variant.clone());
    }
    Ok((kernel_name, case, variant))
}

/// Every parameter given must belong to at least one selected kernel.
fn check_params(
    kernels: &[&'static dyn DynKernel],
    given: &BTreeMap<String, Vec<String>>,
) -> Result<()> {
    for name in given.keys() {
        if !kernels
            .iter()
            .any(|k| k.params().iter().any(|p| p.name == name))
        {
            bail!(
                "--{name} is not a parameter of {}: see `harness list` for each kernel's parameters",
                kernels
                    .iter()
                    .map(|k| k.name())
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
    }
    Ok(())
}

/// One kernel's jobs: its suite (filtered by case) when none of its parameters is given,
/// else every combination of the values given. A case the kernel lacks is an error when the
/// kernel was named, and selects nothing of it otherwise.
fn jobs_of(
    kernel: &'static dyn DynKernel,
    case: Option<&str>,
    kernel_named: bool,
    given: &BTreeMap<String, Vec<String>>,
) -> Result<Vec<Job>> {
    if let Some(c) = case
        && !kernel.cases().iter().any(|kc| kc.name == c)
    {
        if kernel_named {
            bail!(
                "unknown case `{}/{c}`: valid ones are {}",
                kernel.name(),
                kernel
                    .cases()
                    .iter()
                    .map(|c| c.name)
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
        return Ok(Vec::new());
    }
    let own: Vec<_> = kernel
        .params()
        .iter()
        .filter(|p| given.contains_key(p.name))
        .collect();
    if own.is_empty() {
        return Ok(kernel
            .suite()
            .into_iter()
            .filter(|(c, _)| case.is_none_or(|want| want == *c))
            .map(|(c, params)| Job {
                kernel,
                case: c.to_string(),
                params,
            })
            .collect());
    }
    let cases: Vec<String> = match case {
        Some(c) => vec![c.to_string()],
        None => kernel.cases().iter().map(|c| c.name.to_string()).collect(),
    };
    let mut jobs = Vec::new();
    for c in cases {
        let mut combos = vec![kernel.defaults(&c)];
        for spec in &own {
            let values = given[spec.name]
                .iter()
                .map(|t| parse_value(spec, t))
                .collect::<Result<Vec<f64>>>()
                .with_context(|| format!("kernel {}", kernel.name()))?;
            combos = combos
                .into_iter()
                .flat_map(|p| values.iter().map(move |&v| p.clone().with(spec.name, v)))
                .collect();
        }
        jobs.extend(combos.into_iter().map(|params| Job {
            kernel,
            case: c.clone(),
            params,
        }));
    }
    Ok(jobs)
}

/// Largest integer an f64 parameter holds exactly (2^53): every integer up to it, and only
/// some beyond it.
const EXACT_INTEGER_MAX: u64 = 1 << 53;

/// One value of a parameter, as [`kernels::ParamSpec::parse`] reads it, except that an
/// integer written out in digits must be kept exactly: parameters are f64, so a seed of
/// 9007199254740993 would silently become ...992 (another seed, other data).
fn parse_value(spec: &kernels::ParamSpec, text: &str) -> Result<f64> {
    let digits = text.trim().trim_start_matches(['+', '-']);
    if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
        let magnitude = digits.trim_start_matches('0');
        let exact = magnitude.len() < 16
            || magnitude
                .parse::<u128>()
                .is_ok_and(|v| v <= EXACT_INTEGER_MAX as u128);
        if !exact {
            bail!(
                "--{} {}: integers above 2^53 = {EXACT_INTEGER_MAX} cannot be kept exactly \
                 (the value would silently change); give at most {EXACT_INTEGER_MAX}",
                spec.name,
                text.trim()
            );
        }
    }
    Ok(spec.parse(text)?)
}

/// Memory this process may still allocate, in bytes: the least of Linux's `MemAvailable`,
/// the address-space limit (`ulimit -v`) less the address space in use, and
/// `HARNESS_MEMORY_LIMIT` when set ([`kernels::memory::available`]); None when none can be
/// read (no check). A malformed `HARNESS_MEMORY_LIMIT` is refused at start-up
/// ([`kernels::check_environment`]); here it reads as None, and the checks below say it.
pub fn memory_available() -> Option<u64> {
    kernels::memory::available().ok().flatten().map(|a| a.bytes)
}

fn refuse_if_too_big(what: &str, estimate: u64, how: &str) -> Result<()> {
    if let Some(available) = kernels::memory::available()?
        && estimate > available.bytes
    {
        bail!(
            "{what} needs at least {} ({how}) but {} are available ({}): choose smaller sizes",
            fmt_gb(estimate),
            fmt_gb(available.bytes),
            available.bound
        );
    }
    Ok(())
}

/// Bytes in GB with one decimal (`1100.0 GB`), in exponent form beyond a petabyte so that
/// a size that overflows every machine never prints as a long row of digits.
fn fmt_gb(bytes: u64) -> String {
    let gb = bytes as f64 / 1e9;
    if gb < 1e6 {
        format!("{gb:.1} GB")
    } else {
        format!("{gb:.1e} GB")
    }
}

/// Refuses a job whose kernel estimates, from the parameters alone, more memory than is
/// available: checked before the problem is built.
pub fn check_memory(job: &Job) -> Result<()> {
    match job.kernel.memory_estimate(&job.case, &job.params) {
        Some(bytes) => refuse_if_too_big(
            &format!("{}/{} [{}]", job.kernel.name(), job.case, job.params),
            bytes,
            "the kernel's estimate",
        ),
        None => Ok(()),
    }
}

/// The generic estimate for a built problem, checked before any variant allocates
/// ([`kernels::kernel::run_memory`]: 2 × its nominal bytes, for the variant's own arrays
/// and the reference it is validated against; a lower bound).
pub fn check_instance_memory(instance: &dyn kernels::Instance) -> Result<()> {
    refuse_if_too_big(
        &format!(
            "{}/{} [{}]",
            instance.kernel(),
            instance.case(),
            instance.params()
        ),
        kernels::kernel::run_memory(instance.work().bytes),
        "2 × the problem's input and output bytes",
    )
}
