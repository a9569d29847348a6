//! `harness plan` (which variant to use for a problem on this machine, and why) and the
//! `best` pseudo-variant of `run`, `bench` and `compare`, both through [`crate::planner`].

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Result, bail};
use tracing::info;

use super::plan::{self, Plan};
use crate::cli::PlanArgs;
use crate::planner::{self, Choice};

/// The pseudo-variant name that asks the planner.
pub const BEST: &str = "best";

/// `harness plan`: one line per problem of the selection: the choice and why.
pub fn plan_cmd(args: &PlanArgs, params: &BTreeMap<String, Vec<String>>) -> Result<bool> {
    let plan = plan::plan(&args.select, params)?;
    let data = planner::measurements(&args.root)?;
    let machine = planner::this_machine();
    let here = data
        .entries
        .iter()
        .filter(|e| data.machines[e.machine].key == machine)
        .count();
    println!(
        "measured rows: {} under {} ({here} from this machine)",
        data.entries.len(),
        args.root.display(),
    );
    if here == 0 && !data.entries.is_empty() {
        // Say whose they are: a fingerprint that differs only in a detail (a build from
        // before the CPU's family was recorded, memory resized) is for the user to judge.
        println!("  this machine:  {machine}");
        for (i, m) in data.machines.iter().enumerate() {
            let rows = data.entries.iter().filter(|e| e.machine == i).count();
            println!("  measured on:   {} ({rows} rows)", m.key);
        }
    }
    // Each rule followed is said once, under the list (it is as long as the list's lines).
    let mut rules: Vec<(&str, &str)> = Vec::new();
    for job in &plan.jobs {
        let instance = super::instance_of(job)?;
        let label = planner::label(instance.as_ref());
        match planner::choose(&data, &machine, instance.as_ref()) {
            Some(c) => {
                let (line, rule) = c.describe_short();
                println!("{label}\n  use {line}");
                if let Some(rule) = rule.filter(|r| !rules.contains(r)) {
                    rules.push(rule);
                }
            }
            None => println!("{label}\n  no variant can run here"),
        }
    }
    for (rule, why) in rules {
        println!("\n{rule}: {why}");
    }
    Ok(true)
}

/// Replaces `best` in the plan's variants by the planner's choice (measurements under
/// `root`). Every problem of the plan must get the same choice: a selection whose sizes
/// want different variants is refused with the choices, so that no problem is timed with
/// another's best.
pub fn resolve_best(plan: &mut Plan, root: &Path) -> Result<()> {
    let Some(list) = &plan.variant else {
        return Ok(());
    };
    if !list.iter().any(|v| v == BEST) {
        return Ok(());
    }
    let data = planner::measurements(root)?;
    let machine = planner::this_machine();
    let mut choices: Vec<(String, Choice)> = Vec::new();
    for job in &plan.jobs {
        let instance = super::instance_of(job)?;
        let Some(c) = planner::choose(&data, &machine, instance.as_ref()) else {
            bail!(
                "best: no variant of {} can run here",
                planner::label(instance.as_ref())
            );
        };
        choices.push((planner::label(instance.as_ref()), c));
    }
    let chosen = choices[0].1.variant;
    if choices.iter().any(|(_, c)| c.variant != chosen) {
        let each: Vec<String> = choices
            .iter()
            .map(|(l, c)| format!("{l} → {}", c.variant))
            .collect();
        bail!(
            "best differs between the selected problems ({}): select one size at a time, or \
             name the variants",
            each.join("; ")
        );
    }
    // Said once agreed: a refusal stays one line.
    for (label, c) in &choices {
        info!("best for {label}: {}", c.describe());
    }
    let list = plan.variant.as_mut().expect("checked above");
    list.retain(|v| v != BEST);
    if !list.iter().any(|v| v == chosen) {
        list.push(chosen.to_string());
    }
    Ok(())
}
