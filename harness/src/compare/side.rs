//! One side of a comparison: a run folder, or the shard folders of one suite given as a
//! comma-separated list (`reports/s1,reports/s2,reports/s3`), read with the report's
//! reader ([`Dataset`]).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use anyhow::{Result, bail};

use super::{Fingerprint, SideInfo};
use crate::report::data::{Dataset, Entry};
use crate::report::shards;

/// A side, loaded.
pub struct Side {
    /// `A` or `B`, for messages.
    pub name: &'static str,
    pub data: Dataset,
    pub info: SideInfo,
}

/// The folders one argument names: itself when it is a folder (even with a comma in its
/// name), else its comma-separated parts.
pub fn folders_of(arg: &Path) -> Vec<PathBuf> {
    match arg.to_str() {
        Some(text) if text.contains(',') && !arg.is_dir() => text
            .split(',')
            .filter(|p| !p.trim().is_empty())
            .map(PathBuf::from)
            .collect(),
        _ => vec![arg.to_path_buf()],
    }
}

impl Side {
    /// Loads side `name` (`A` or `B`) from its argument; refuses what is not a run folder
    /// and several folders that are not the shards of one suite on one machine.
    pub fn load(name: &'static str, arg: &Path) -> Result<Side> {
        let folders = folders_of(arg);
        for dir in &folders {
            if !dir.is_dir() {
                bail!(
                    "compare: RUN_{name} {} is not a folder: give a run folder made by `harness bench` (or shard folders separated by commas)",
                    dir.display()
                );
            }
        }
        let data =
            Dataset::load(&folders).map_err(|e| anyhow::anyhow!("compare: RUN_{name}: {e:#}"))?;
        if folders.len() > 1 {
            check_one_suite(name, &data)?;
        }
        // The machine of the harness's own rows (peers may name it differently).
        let machine = data
            .entries
            .iter()
            .find(|e| e.is_rust())
            .or(data.entries.first())
            .map_or(0, |e| e.machine);
        let info = info_of(&folders, &data, machine);
        Ok(Side { name, data, info })
    }

    /// The side's rows, each with the folder it came from.
    pub fn entries(&self) -> impl Iterator<Item = (&Entry, &Path)> {
        self.data
            .entries
            .iter()
            .map(|e| (e, self.data.runs[e.run].path.as_path()))
    }
}

/// Several folders on one side must be the slices of one suite: each a shard run, all of
/// the same selection, count and machine, no slice twice.
fn check_one_suite(name: &str, data: &Dataset) -> Result<()> {
    let hint = "give one run folder per side, or the shard folders of one `bench --shard` suite";
    if let Some(run) = data
        .runs
        .iter()
        .find(|r| r.manifest.as_ref().and_then(|m| m.shard.as_ref()).is_none())
    {
        bail!(
            "compare: RUN_{name}: {} is not a shard run (its run.json has no `shard`): {hint}",
            run.path.display()
        );
    }
    let suites = shards::suites(data);
    if suites.len() > 1 {
        let first = |s: &shards::ShardSuite| data.runs[s.runs[0].1].path.display().to_string();
        bail!(
            "compare: RUN_{name}: {} and {} are shards of different suites or machines: {hint}",
            first(&suites[0]),
            first(&suites[1])
        );
    }
    if let Some(i) = suites.first().and_then(|s| s.repeated().first().copied()) {
        bail!(
            "compare: RUN_{name}: shard {i}/{} is given twice: give each shard folder once",
            suites[0].count
        );
    }
    Ok(())
}

fn info_of(folders: &[PathBuf], data: &Dataset, machine: usize) -> SideInfo {
    let m = data.machines.get(machine).cloned().unwrap_or_default();
    let commits: BTreeSet<String> = data
        .machines
        .iter()
        .flat_map(|m| m.commits.iter().cloned())
        .collect();
    let suites = shards::suites(data);
    SideInfo {
        folders: folders.iter().map(|f| f.display().to_string()).collect(),
        run_ids: data.runs.iter().map(|r| r.id.clone()).collect(),
        machine: Fingerprint {
            cpu: m.cpu,
            cores: m.cores,
            memory_gib: m.memory_gib,
            os: m.os,
        },
        commits: commits.into_iter().collect(),
        shards: suites
            .first()
            .filter(|_| folders.len() > 1)
            .map(|s| (s.count, s.selection.clone())),
    }
}
