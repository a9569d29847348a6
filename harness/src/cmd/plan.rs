//! The plan of a command: from the command line's selection to a list of problems ("jobs")
//! and variant names, and the memory checks that refuse a problem too big for the machine.

use std::collections::BTreeMap;

use anyhow::{Context, Result, bail};
use kernels::registry::{self, VariantId};
use kernels::{DynKernel, Params, Strategy};

use crate::cli::{Select, Suite};

/// One problem to build: a kernel, a case and its parameter values.
pub struct Job {
    pub kernel: &'static dyn DynKernel,
    pub case: String,
    pub params: Params,
}

/// The variants asked for (None: all of the kernel's), by short name, in the order given.
pub struct Plan {
    pub jobs: Vec<Job>,
    pub variant: Option<Vec<String>>,
}

impl Plan {
    /// Whether the variant named `name` is selected.
    pub fn wants(&self, name: &str) -> bool {
        self.variant
            .as_ref()
            .is_none_or(|list| list.iter().any(|w| w == name))
    }
}

/// Expands the selection. Without parameters: each kernel's default suite (filtered by
/// case). With parameters: every combination of the given values, for each selected case.
pub fn plan(select: &Select, given: &BTreeMap<String, Vec<String>>) -> Result<Plan> {
    plan_suite(select, given, Suite::Quick)
}

/// [`plan`] for a suite: a GPU suite replaces the default problems by the kernels'
/// [`DynKernel::gpu_suite`] and, unless variants are named, selects the GPU variants.
pub fn plan_suite(
    select: &Select,
    given: &BTreeMap<String, Vec<String>>,
    suite: Suite,
) -> Result<Plan> {
    let Some(scale) = suite.gpu_scale() else {
        return plan_problems(select, given, &|k| k.suite());
    };
    let mut plan = plan_problems(select, given, &|k| k.gpu_suite(scale))?;
    if plan.variant.is_none() {
        let mut gpu: Vec<String> = Vec::new();
        for job in &plan.jobs {
            for v in job.kernel.variants() {
                if v.strategy == Strategy::Gpu && !gpu.iter().any(|g| g == v.name) {
                    gpu.push(v.name.to_string());
                }
            }
        }
        plan.variant = Some(gpu);
    }
    Ok(plan)
}

/// A kernel's default problems (its quick suite or its GPU suite).
type Problems<'a> = &'a dyn Fn(&'static dyn DynKernel) -> Vec<(&'static str, Params)>;

fn plan_problems(
    select: &Select,
    given: &BTreeMap<String, Vec<String>>,
    problems: Problems,
) -> Result<Plan> {
    let (kernel_name, case, variant) = names(select)?;
    let kernels: Vec<&'static dyn DynKernel> = match &kernel_name {
        Some(name) => vec![crate::external::extend(registry::kernel(name)?)],
        None => registry::kernels().map(crate::external::extend).collect(),
    };
    check_params(&kernels, given)?;
    let mut jobs = Vec::new();
    for kernel in kernels {
        jobs.extend(jobs_of(
            kernel,
            case.as_deref(),
            kernel_name.is_some(),
            given,
            problems,
        )?);
    }
    if jobs.is_empty() {
        match case {
            Some(case) => bail!("nothing selected: no kernel has case `{case}` in this suite"),
            None => bail!(
                "nothing selected: {} no problem in this suite (see `harness list`)",
                kernel_name.map_or("the kernels have".to_string(), |k| format!("{k} has"))
            ),
        }
    }
    for v in variant
        .iter()
        .flatten()
        .filter(|v| *v != super::choose::BEST)
    {
        if jobs
            .iter()
            .all(|j| !j.kernel.variants().iter().any(|i| i.name == v))
        {
            let known: Vec<_> = jobs[0].kernel.variants().iter().map(|i| i.name).collect();
            bail!("unknown variant `{v}`: valid ones are {}", known.join(", "));
        }
    }
    Ok(Plan { jobs, variant })
}

/// The plan at debug level (so in the run folder's `run.log`): one line per problem and
/// variant, with the thread counts `threads_of` gives its strategy.
pub fn log_plan(plan: &Plan, threads_of: impl Fn(Strategy) -> Vec<usize>) {
    tracing::debug!(
        "plan: {} problem(s), variant {}",
        plan.jobs.len(),
        plan.variant
            .as_ref()
            .map_or_else(|| "(all)".to_string(), |v| v.join(","))
    );
    for job in &plan.jobs {
        for v in job.kernel.variants().iter().filter(|v| plan.wants(v.name)) {
            let threads: Vec<String> = threads_of(v.strategy)
                .iter()
                .map(ToString::to_string)
                .collect();
            tracing::debug!(
                "plan: {}/{}/{} [{}] · {} · threads {}",
                job.kernel.name(),
                job.case,
                v.name,
                job.params,
                v.strategy,
                threads.join(",")
            );
        }
    }
}

/// Kernel name, case name and variant names, as the selection gives them.
type Names = (Option<String>, Option<String>, Option<Vec<String>>);

/// Kernel, case and variant names. `--variant` is one name or a comma-separated list
/// (`factorised,parallel`); a full id (`laue/strained/parallel`) in it names the kernel and
/// case too, which every other id and flag must agree with.
fn names(select: &Select) -> Result<Names> {
    let (mut kernel_name, mut case) = (select.kernel.clone(), select.case.clone());
    let Some(text) = &select.variant else {
        return Ok((kernel_name, case, None));
    };
    let mut variants: Vec<String> = Vec::new();
    for item in text.split(',').map(str::trim) {
        if item.is_empty() {
            bail!(
                "--variant {text}: an empty name in the list; give names separated by single \
                 commas (e.g. --variant factorised,parallel)"
            );
        }
        let name = if item.contains('/') {
            let id = VariantId::parse(item)?;
            for (flag, slot, from_id) in [
                ("kernel", &mut kernel_name, &id.kernel),
                ("case", &mut case, &id.case),
            ] {
                match slot {
                    Some(g) if g != from_id => bail!("--{flag} {g} contradicts --variant {item}"),
                    _ => *slot = Some(from_id.clone()),
                }
            }
            id.variant
        } else {
            item.to_string()
        };
        if variants.contains(&name) {
            bail!("--variant {text}: `{name}` is given twice; give each variant once");
        }
        variants.push(name);
    }
    Ok((kernel_name, case, Some(variants)))
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
    problems: Problems,
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
        return Ok(problems(kernel)
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
