//! From the command line's selection to a list of problems ("jobs") and variant names.

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
    let kernels: Vec<&'static dyn DynKernel> = match &kernel_name {
        Some(name) => vec![registry::kernel(name)?],
        None => registry::kernels().collect(),
    };
    // Every parameter given must belong to at least one selected kernel.
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
    let mut jobs = Vec::new();
    for kernel in kernels {
        if let Some(c) = &case
            && !kernel.cases().iter().any(|kc| kc.name == c)
        {
            if kernel_name.is_some() {
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
            continue;
        }
        let own: Vec<_> = kernel
            .params()
            .iter()
            .filter(|p| given.contains_key(p.name))
            .collect();
        if own.is_empty() {
            for (c, params) in kernel.suite() {
                if case.as_deref().is_none_or(|want| want == c) {
                    jobs.push(Job {
                        kernel,
                        case: c.to_string(),
                        params,
                    });
                }
            }
            continue;
        }
        let cases: Vec<String> = match &case {
            Some(c) => vec![c.clone()],
            None => kernel.cases().iter().map(|c| c.name.to_string()).collect(),
        };
        for c in cases {
            let mut combos = vec![kernel.defaults(&c)];
            for spec in &own {
                let values = given[spec.name]
                    .iter()
                    .map(|t| spec.parse(t))
                    .collect::<Result<Vec<f64>, _>>()
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
