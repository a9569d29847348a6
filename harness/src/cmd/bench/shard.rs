//! `bench --shard i/n`: the i-th of n deterministic slices of the selection, so that a Slurm
//! or HyperQueue job array spreads one suite over nodes (`scripts/slurm-array.sh`), and
//! `harness report` merges the slices back (same `selection` in `run.json`).
//!
//! The rule: the plan's problems are grouped by (kernel, case), whole groups only, because
//! the quick suite estimates a row's time from the same variant's row at a smaller size of
//! the same case: a size ladder kept together gets the estimates, hence the skips, of the
//! unsharded run. Each group weighs its problems times its kernel's selected variants
//! (rows per thread count: the same on every node, whatever its cores). Groups go, heaviest
//! first (ties: plan order), to the slice with the least weight so far (ties: the lowest
//! index); each slice runs its groups in plan order. Every group lands in exactly one
//! slice, so the slices together make the unsharded rows. One difference remains in the
//! quick suite: a case's first problem may be estimated from another case of the same
//! kernel when that case ran before it in the same process; in another slice it is not
//! estimated, and so may be timed where the unsharded run skipped it for time
//! (`--suite full` skips nothing for time).

use anyhow::{Result, bail};

use crate::cli::BenchArgs;
use crate::cmd::plan::{Job, Plan};
use crate::results::Shard;

/// `--shard i/n`, checked: 1 ≤ i ≤ n.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Spec {
    pub index: usize,
    pub count: usize,
}

/// Parses `i/n` strictly: two decimal numbers, nothing else, 1 ≤ i ≤ n.
pub fn parse(text: &str) -> Result<Spec> {
    let usage = "give --shard i/n with 1 ≤ i ≤ n, e.g. --shard 2/3 for the second of three slices";
    let number = |s: &str| {
        (!s.is_empty() && s.len() <= 9 && s.bytes().all(|b| b.is_ascii_digit()))
            .then(|| s.parse::<usize>().ok())
            .flatten()
    };
    let Some((i, n)) = text.split_once('/') else {
        bail!("--shard {text}: not of the form i/n; {usage}");
    };
    let (Some(index), Some(count)) = (number(i), number(n)) else {
        bail!("--shard {text}: i and n must be whole numbers; {usage}");
    };
    if count == 0 {
        bail!("--shard {text}: there must be at least one slice; {usage}");
    }
    if index == 0 || index > count {
        bail!("--shard {text}: slices are numbered 1 to {count}; {usage}");
    }
    Ok(Spec { index, count })
}

/// The groups of the plan: (kernel, case) in order of first appearance, each with its jobs'
/// indices and its weight.
fn groups(plan: &Plan) -> Vec<(Vec<usize>, usize)> {
    let mut keys: Vec<(&str, &str)> = Vec::new();
    let mut groups: Vec<(Vec<usize>, usize)> = Vec::new();
    for (i, job) in plan.jobs.iter().enumerate() {
        let key = (job.kernel.name(), job.case.as_str());
        let g = match keys.iter().position(|k| *k == key) {
            Some(g) => g,
            None => {
                keys.push(key);
                groups.push((Vec::new(), 0));
                keys.len() - 1
            }
        };
        groups[g].0.push(i);
        groups[g].1 += variants(plan, job);
    }
    groups
}

/// Rows of one job per thread count: its kernel's selected variants.
fn variants(plan: &Plan, job: &Job) -> usize {
    job.kernel
        .variants()
        .iter()
        .filter(|v| plan.wants(v.name))
        .count()
}

/// The slice each group goes to (0-based), by the rule in the module doc.
fn assign(weights: &[usize], count: usize) -> Vec<usize> {
    let mut order: Vec<usize> = (0..weights.len()).collect();
    // Stable: equal weights keep plan order.
    order.sort_by_key(|&g| std::cmp::Reverse(weights[g]));
    let mut load = vec![0usize; count];
    let mut slice_of = vec![0usize; weights.len()];
    for g in order {
        let lightest = (0..count).min_by_key(|&s| (load[s], s)).unwrap_or(0);
        load[lightest] += weights[g];
        slice_of[g] = lightest;
    }
    slice_of
}

/// The shard's plan: its groups' jobs, in plan order. Refuses more slices than groups (a
/// slice would be empty).
pub fn slice(plan: &Plan, spec: Spec) -> Result<Plan> {
    let groups = groups(plan);
    if spec.count > groups.len() {
        bail!(
            "--shard {}/{}: this selection has {} group(s) of problems (kernel, case) to slice, \
             and slices take whole groups; give at most {} slices",
            spec.index,
            spec.count,
            groups.len(),
            groups.len()
        );
    }
    let weights: Vec<usize> = groups.iter().map(|g| g.1).collect();
    let slice_of = assign(&weights, spec.count);
    let mut keep: Vec<usize> = groups
        .iter()
        .zip(&slice_of)
        .filter(|(_, s)| **s == spec.index - 1)
        .flat_map(|(g, _)| g.0.iter().copied())
        .collect();
    keep.sort_unstable();
    Ok(Plan {
        jobs: keep
            .into_iter()
            .map(|i| {
                let j = &plan.jobs[i];
                Job {
                    kernel: j.kernel,
                    case: j.case.clone(),
                    params: j.params.clone(),
                }
            })
            .collect(),
        variant: plan.variant.clone(),
    })
}

/// What `run.json` records of a shard: its place and the unsharded selection's hash.
pub fn record(spec: Spec, plan: &Plan, args: &BenchArgs) -> Shard {
    Shard {
        index: spec.index,
        count: spec.count,
        selection: selection(plan, args),
    }
}

/// A stable hash (16 hex digits) of the unsharded selection: every problem, the variants,
/// and the options that change the rows. The same on every machine and every build (not
/// std's hasher, which is randomised per process).
pub fn selection(plan: &Plan, args: &BenchArgs) -> String {
    let mut text = String::from("harness bench selection v1\n");
    for job in &plan.jobs {
        text += &format!("{}/{} [{}]\n", job.kernel.name(), job.case, job.params);
    }
    text += &format!(
        "variant={:?}\nthreads={:?}\nthread_scaling={}\nsuite={:?}\ntime_limit={:?}\n\
         budget={:?}\nmin_samples={}\ninterleave={}\nbaseline={:?}\n",
        plan.variant,
        args.threads,
        args.thread_scaling,
        args.limits.suite,
        args.limits.time_limit,
        args.budget,
        args.min_samples,
        args.interleave,
        args.baseline,
    );
    format!("{:016x}", fnv1a(text.as_bytes()))
}

/// 64-bit FNV-1a (Fowler, Noll, Vo): a few lines, stable everywhere.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_are_parsed_strictly() {
        assert_eq!(parse("1/3").unwrap(), Spec { index: 1, count: 3 });
        assert_eq!(parse("3/3").unwrap(), Spec { index: 3, count: 3 });
        for bad in [
            "3/2",
            "0/0",
            "0/3",
            "a/b",
            "1/0",
            "1/3/4",
            "",
            "/",
            "1/",
            "/3",
            " 1/3",
            "+1/3",
            "-1/3",
            "1.0/3",
            "99999999999/99999999999",
        ] {
            let e = parse(bad).expect_err(bad).to_string();
            assert!(e.starts_with(&format!("--shard {bad}:")), "{e}");
            assert!(e.contains("give --shard i/n"), "{e}");
        }
    }

    #[test]
    fn fnv1a_known_values() {
        // The published test vectors of 64-bit FNV-1a.
        assert_eq!(fnv1a(b""), 0xcbf29ce484222325);
        assert_eq!(fnv1a(b"a"), 0xaf63dc4c8601ec8c);
        assert_eq!(fnv1a(b"foobar"), 0x85944171f73967e8);
    }

    #[test]
    fn groups_are_balanced_heaviest_first() {
        // Weights 7, 7, 7 over 3 slices: one each, in order.
        assert_eq!(assign(&[7, 7, 7], 3), vec![0, 1, 2]);
        // 10 → slice 0, 6 → slice 1, 5 → slice 1 (6 < 10), 4 → slice 0 (10 < 11).
        assert_eq!(assign(&[5, 10, 4, 6], 2), vec![1, 0, 0, 1]);
        // One slice takes all.
        assert_eq!(assign(&[3, 1, 2], 1), vec![0, 0, 0]);
        // Every group is in exactly one slice, whatever the weights.
        let w = [9, 1, 1, 1, 8, 2, 2, 7];
        let s = assign(&w, 3);
        let loads: Vec<usize> = (0..3)
            .map(|k| {
                w.iter()
                    .zip(&s)
                    .filter(|(_, x)| **x == k)
                    .map(|(w, _)| w)
                    .sum()
            })
            .collect();
        assert_eq!(loads.iter().sum::<usize>(), w.iter().sum::<usize>());
        assert!(
            loads.iter().max().unwrap() - loads.iter().min().unwrap() <= 2,
            "{loads:?}"
        );
    }

    fn laue_suite() -> Plan {
        let select = crate::cli::Select {
            kernel: Some("laue".into()),
            ..Default::default()
        };
        crate::cmd::plan::plan(&select, &std::collections::BTreeMap::new()).unwrap()
    }

    fn names(plan: &Plan) -> Vec<String> {
        plan.jobs
            .iter()
            .map(|j| format!("{}/{} [{}]", j.kernel.name(), j.case, j.params))
            .collect()
    }

    #[test]
    fn slices_partition_the_plan_by_whole_cases() {
        let plan = laue_suite();
        let all = names(&plan);
        let cases = groups(&plan).len();
        assert!(cases >= 3 && all.len() > cases, "a suite of size ladders");
        for count in 1..=cases {
            let mut union = Vec::new();
            let mut case_slices = std::collections::BTreeMap::new();
            for index in 1..=count {
                let part = slice(&plan, Spec { index, count }).unwrap();
                assert!(!part.jobs.is_empty(), "{index}/{count} is empty");
                for j in &part.jobs {
                    let slices = case_slices.entry(j.case.clone()).or_insert_with(Vec::new);
                    if !slices.contains(&index) {
                        slices.push(index);
                    }
                }
                union.extend(names(&part));
            }
            assert!(
                case_slices.values().all(|s| s.len() == 1),
                "a case split over slices: {case_slices:?}"
            );
            union.sort();
            let mut expected = all.clone();
            expected.sort();
            assert_eq!(union, expected, "{count} slices");
        }
        let e = slice(
            &plan,
            Spec {
                index: 1,
                count: cases + 1,
            },
        )
        .err()
        .unwrap();
        assert!(
            e.to_string()
                .contains(&format!("give at most {cases} slices")),
            "{e}"
        );
    }

    #[test]
    fn selection_hash_is_stable_and_tells_selections_apart() {
        let plan = laue_suite();
        let args = crate::cmd::bench::default_args();
        let h = selection(&plan, &args);
        assert_eq!(h.len(), 16);
        assert_eq!(h, selection(&laue_suite(), &args), "stable");
        // The shard itself is not part of the selection.
        let sharded = BenchArgs {
            shard: Some("2/3".into()),
            ..args.clone()
        };
        assert_eq!(h, selection(&plan, &sharded));
        let other_budget = BenchArgs {
            budget: 2.0,
            ..args.clone()
        };
        assert_ne!(h, selection(&plan, &other_budget));
        let fewer = Plan {
            jobs: slice(&plan, Spec { index: 1, count: 2 }).unwrap().jobs,
            variant: None,
        };
        assert_ne!(h, selection(&fewer, &args));
    }
}
