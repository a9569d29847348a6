//! The planner: which variant to use for a problem on this machine. One rule, shared with
//! the report's advice ([`ranking`]: per variant its fastest validated row, fastest first),
//! applied to the latest runs measured on this machine at the nearest size; where nothing
//! was measured, the kernel's own rule of thumb (`Kernel::rule_of_thumb`: its fastest
//! variant where its developers measured one), else a documented rule by strategy
//! ([`rule`]).
//!
//! `harness plan --kernel deconv --n 1000` prints the choice and why; `--variant best` in
//! `run`, `bench` and `compare` runs it.

use std::path::{Path, PathBuf};

use kernels::{Instance, Strategy, VariantRef};

use crate::report::data::{Dataset, Entry};

/// Per variant (and runtime) its fastest validated row, fastest first: the order of the
/// report's "use X" sentences and of the planner's choice.
pub fn ranking<'a>(es: &[&'a Entry]) -> Vec<&'a Entry> {
    let mut best: Vec<&Entry> = Vec::new();
    for e in es.iter().copied().filter(|e| e.ok()) {
        let same = |b: &&mut &Entry| {
            b.row.variant == e.row.variant
                && b.machine == e.machine
                && b.row.runtime == e.row.runtime
        };
        match best.iter_mut().find(same) {
            Some(b) if b.median() <= e.median() => {}
            Some(b) => *b = e,
            None => best.push(e),
        }
    }
    best.sort_by(|a, b| a.median().total_cmp(&b.median()));
    best
}

/// What the planner chose for one problem.
#[derive(Clone, Debug, PartialEq)]
pub struct Choice {
    pub variant: &'static str,
    /// Threads of the measured row (None: the rule, run on every core).
    pub threads: Option<usize>,
    pub basis: Basis,
}

/// Why a variant was chosen.
#[derive(Clone, Debug, PartialEq)]
pub enum Basis {
    /// The fastest at the nearest size measured on this machine.
    Measured {
        /// The run folder's name.
        run: String,
        /// The size parameter and its value where it was measured (the problem's own
        /// size when `exact`).
        size_param: String,
        size: f64,
        exact: bool,
        median_s: f64,
        /// The next fastest there, and its median.
        runner_up: Option<(String, f64)>,
    },
    /// Nothing measured at these parameters on this machine: the kernel's rule of thumb.
    RuleOfThumb,
    /// Nothing measured at these parameters on this machine, and no rule of thumb of the
    /// kernel's is ready: [`rule`].
    Rule,
}

impl Choice {
    /// `factorised (measured: 12.3 ms at n = 64 in run X; runner-up parallel 2.1×)`.
    pub fn describe(&self) -> String {
        match &self.basis {
            Basis::Measured {
                run,
                size_param,
                size,
                exact,
                median_s,
                runner_up,
            } => {
                let at = format!("{size_param} = {}", crate::render::fmt::fmt_value(*size));
                let mut s = format!(
                    "{}: the fastest measured on this machine {} {at} ({}{}, run {run})",
                    self.variant,
                    if *exact { "at" } else { "at the nearest size," },
                    crate::render::fmt::fmt_time(Some(*median_s)),
                    self.threads
                        .map_or(String::new(), |t| format!(" on {t} thread(s)")),
                );
                if let Some((name, m)) = runner_up {
                    s.push_str(&format!("; runner-up {name}, {:.2}× slower", m / median_s));
                }
                s
            }
            Basis::RuleOfThumb | Basis::Rule => {
                let (rule, why) = self.rule().expect("a rule's basis");
                format!("{}: {NOTHING}, so {rule}: {why}", self.variant)
            }
        }
    }

    /// The choice in short, with the rule it followed apart (`harness plan` says each rule
    /// once under its list, not once per problem): `(line, Some((rule, its text)))`.
    pub fn describe_short(&self) -> (String, Option<(&'static str, &'static str)>) {
        match self.rule() {
            Some((rule, why)) => (
                format!("{}: {NOTHING}, so {rule} (below)", self.variant),
                Some((rule, why)),
            ),
            None => (self.describe(), None),
        }
    }

    /// The rule this choice followed and what it says; None for a measured choice.
    fn rule(&self) -> Option<(&'static str, &'static str)> {
        match self.basis {
            Basis::Measured { .. } => None,
            Basis::RuleOfThumb => Some(("the kernel's rule of thumb", RULE_OF_THUMB)),
            Basis::Rule => Some(("the rule", RULE)),
        }
    }
}

const NOTHING: &str = "nothing measured at these parameters on this machine";

/// What a kernel's rule of thumb is.
const RULE_OF_THUMB: &str = "its fastest where its developers measured; `harness bench` here \
    to decide on this machine";

/// The rule of thumb where nothing was measured, in the order tried.
pub const RULE: &str = "a cheaper algorithm first (algorithmic), then an FFT, then threads \
    (parallel), then SIMD (vectorised), then naive: the first that applies here and is not \
    skipped; GPU variants only when measured (a software adapter would lose to all of them)";

/// The strategies of [`RULE`], in its order.
const RULE_ORDER: [Strategy; 5] = [
    Strategy::Algorithmic,
    Strategy::Fft,
    Strategy::Parallel,
    Strategy::Vectorised,
    Strategy::Naive,
];

/// The choice for `instance`'s problem: the fastest variant measured on the machine
/// `machine_key` (rows of `data`) at the same kernel, case and other parameters and the
/// nearest size (in ratio), among those ready here; else the first of the kernel's rule of
/// thumb that is ready; else [`rule`].
pub fn choose(data: &Dataset, machine_key: &str, instance: &dyn Instance) -> Option<Choice> {
    let ready: Vec<VariantRef> = instance
        .variants()
        .into_iter()
        .filter(|v| instance.probe(*v).is_ready())
        .collect();
    let of_thumb = || {
        let names = instance.rule_of_thumb();
        let first = names
            .iter()
            .find(|v| ready.iter().any(|r| r.info.name == v.info.name))?;
        Some(Choice {
            variant: first.info.name,
            threads: None,
            basis: Basis::RuleOfThumb,
        })
    };
    measured(data, machine_key, instance, &ready)
        .or_else(of_thumb)
        .or_else(|| rule(&ready))
}

/// [`RULE`] among the variants ready here.
pub fn rule(ready: &[VariantRef]) -> Option<Choice> {
    RULE_ORDER.iter().find_map(|s| {
        ready
            .iter()
            .find(|v| v.info.strategy == *s)
            .map(|v| Choice {
                variant: v.info.name,
                threads: None,
                basis: Basis::Rule,
            })
    })
}

fn measured(
    data: &Dataset,
    machine_key: &str,
    instance: &dyn Instance,
    ready: &[VariantRef],
) -> Option<Choice> {
    let (kernel, case, params) = (instance.kernel(), instance.case(), instance.params());
    let mine: Vec<&Entry> = data
        .entries
        .iter()
        .filter(|e| {
            data.machines[e.machine].key == machine_key
                && e.row.kernel == kernel
                && e.row.case == case
                && e.is_rust()
                && ready.iter().any(|v| v.info.name == e.row.variant)
        })
        .collect();
    let size_param = mine
        .iter()
        .map(|e| e.row.size_param.clone())
        .find(|s| !s.is_empty())?;
    let want = params.get(&size_param).ok()?;
    let rest = params.without(&size_param);
    let same_rest = |e: &&Entry| e.row.params.without(&size_param) == rest;
    // Nearest in ratio (a factor 2 either way is as far); ties go to the larger size.
    let distance = |e: &Entry| {
        let s = e.row.params.get(&size_param).unwrap_or(f64::NAN);
        ((s / want).ln().abs(), -s)
    };
    let nearest = mine
        .iter()
        .copied()
        .filter(|e| e.ok())
        .filter(same_rest)
        .min_by(|a, b| distance(a).partial_cmp(&distance(b)).expect("finite sizes"))?;
    let size = nearest.row.params.get(&size_param).ok()?;
    let at: Vec<&Entry> = mine
        .iter()
        .copied()
        .filter(|e| e.row.params == nearest.row.params)
        .collect();
    let ranked = ranking(&at);
    let best = ranked.first()?;
    let variant = ready
        .iter()
        .find(|v| v.info.name == best.row.variant)?
        .info
        .name;
    Some(Choice {
        variant,
        threads: Some(best.row.threads),
        basis: Basis::Measured {
            run: data.runs[best.run].id.clone(),
            size_param,
            size,
            exact: size == want,
            median_s: best.median(),
            runner_up: ranked.get(1).map(|r| (r.row.variant.clone(), r.median())),
        },
    })
}

/// Every run folder under `root` (folders holding a `results.csv`), for [`Dataset::load`].
pub fn run_folders(root: &Path) -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(root)
        .map(|d| {
            d.flatten()
                .map(|e| e.path())
                .filter(|p| p.join("results.csv").is_file())
                .collect()
        })
        .unwrap_or_default();
    dirs.sort();
    dirs
}

/// The rows measured under `root`: an empty dataset when there are none (then every
/// choice comes from the rule), an error only for a folder that cannot be read.
pub fn measurements(root: &Path) -> anyhow::Result<Dataset> {
    let dirs = run_folders(root);
    if dirs.is_empty() {
        return Ok(Dataset::default());
    }
    Dataset::load(&dirs)
}

/// The key under which this machine's rows are kept (CPU, cores, memory, OS).
pub fn this_machine() -> String {
    crate::measure::machine::Machine::identity().fingerprint()
}

/// The parameters of a problem, for messages.
pub fn label(instance: &dyn Instance) -> String {
    format!(
        "{}/{} [{}]",
        instance.kernel(),
        instance.case(),
        instance.params()
    )
}
