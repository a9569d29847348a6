//! Runs that are slices of one suite (`bench --shard i/n`, e.g. one per job of a Slurm
//! array): same `selection`, same `count`, same machine. Their rows already load into one
//! [`Dataset`] (rows of different slices never collide); this says which runs belong
//! together and what is missing, for the report's notes and for `harness compare`, which
//! accepts the slices of one suite as one side.

use std::collections::BTreeMap;

use super::data::{Dataset, key_of_machine};

/// The slices of one suite found among a dataset's runs.
#[derive(Clone, Debug, PartialEq)]
pub struct ShardSuite {
    pub selection: String,
    pub count: usize,
    /// The machine's key ([`super::data::machine_key`]).
    pub machine: String,
    /// (shard index, index into [`Dataset::runs`]), by shard index then run.
    pub runs: Vec<(usize, usize)>,
}

impl ShardSuite {
    /// Shard indices of `1..=count` that no run covers.
    pub fn missing(&self) -> Vec<usize> {
        (1..=self.count)
            .filter(|i| !self.runs.iter().any(|(j, _)| j == i))
            .collect()
    }

    /// Shard indices present in more than one run.
    pub fn repeated(&self) -> Vec<usize> {
        let mut seen = BTreeMap::new();
        for (i, _) in &self.runs {
            *seen.entry(*i).or_insert(0usize) += 1;
        }
        seen.into_iter()
            .filter(|(_, n)| *n > 1)
            .map(|(i, _)| i)
            .collect()
    }
}

/// Every suite some run of `data` is a slice of, in the order of their first run.
pub fn suites(data: &Dataset) -> Vec<ShardSuite> {
    let mut out: Vec<ShardSuite> = Vec::new();
    for (ri, run) in data.runs.iter().enumerate() {
        let Some(m) = &run.manifest else { continue };
        let Some(s) = &m.shard else { continue };
        let machine = key_of_machine(&m.machine);
        let same = |x: &&mut ShardSuite| {
            x.selection == s.selection && x.count == s.count && x.machine == machine
        };
        match out.iter_mut().find(|x| same(x)) {
            Some(suite) => suite.runs.push((s.index, ri)),
            None => out.push(ShardSuite {
                selection: s.selection.clone(),
                count: s.count,
                machine,
                runs: vec![(s.index, ri)],
            }),
        }
    }
    for suite in &mut out {
        suite.runs.sort();
    }
    out
}

/// What the report says about the shard suites of its runs: which runs were merged, which
/// slices are missing or repeated.
pub fn notes(data: &Dataset) -> Vec<String> {
    suites(data)
        .iter()
        .map(|s| {
            let label = data
                .machines
                .iter()
                .find(|m| m.key == s.machine)
                .map_or_else(|| s.machine.clone(), |m| m.short());
            let runs: Vec<String> = s
                .runs
                .iter()
                .map(|(i, r)| format!("{} ({i}/{})", data.runs[*r].id, s.count))
                .collect();
            let mut note = format!(
                "Runs {} are shards of one suite (selection {}) on {label}: their rows are shown as one run.",
                runs.join(", "),
                s.selection
            );
            let list = |v: Vec<usize>| {
                v.iter()
                    .map(|i| format!("{i}/{}", s.count))
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            if !s.missing().is_empty() {
                note.push_str(&format!(
                    " Shard(s) {} are not among the runs given: their rows are missing (add their folders).",
                    list(s.missing())
                ));
            }
            if !s.repeated().is_empty() {
                note.push_str(&format!(
                    " Shard(s) {} were given more than once: where they measured the same thing, the later row is shown.",
                    list(s.repeated())
                ));
            }
            note
        })
        .collect()
}
