//! `harness list`: every kernel/case/variant with its strategy, status and reason.

use std::collections::BTreeMap;

use anyhow::Result;

use super::{build, plan};
use crate::cli::Select;

pub fn list(select: &Select, params: &BTreeMap<String, Vec<String>>) -> Result<bool> {
    let plan = plan::plan(select, params)?;
    let mut last_kernel = "";
    for job in &plan.jobs {
        let k = job.kernel;
        if k.name() != last_kernel {
            last_kernel = k.name();
            println!("\n{} — {}", k.name(), k.about());
            for p in k.params() {
                println!("    --{:<14} {} (default {})", p.name, p.help, p.default);
            }
        }
        // Listing builds the problem but runs nothing: no memory check.
        let instance = build(job)?;
        println!("  {}/{}  [{}]", k.name(), job.case, job.params);
        for variant in super::selected(instance.as_ref(), &plan) {
            let (v, a) = (variant.info, instance.probe(variant));
            println!(
                "    {:<34} {:<12} {:<4} {:<8} {}",
                format!("{}/{}/{}", k.name(), job.case, v.name),
                crate::external::runtime_of(k.name(), v.name)
                    .unwrap_or_else(|| v.strategy.as_str().into()),
                v.precision.as_str(),
                a.label(),
                if a.is_ready() { v.idea } else { a.reason() }
            );
        }
    }
    Ok(true)
}
