//! Workshop mode: learners write their own variant next to ours.
//!
//! - `harness new-variant --kernel K --case C --name N` writes `kernels/src/K/exercise_N.rs`
//!   from [`template`] and registers it between the two marker comments of the kernel's
//!   `mod.rs` ([`insert_registration`]);
//! - `harness remove-variant --variant K/C/N` (or `--all-exercises`) deletes both again
//!   ([`remove_registration`]);
//! - `harness explain --kernel K` prints the formula, every variant with its idea and file,
//!   and the ladder of speedups from the latest run folder ([`explain()`](explain::explain)).
//!
//! Registration is text: each inserted line ends with [`TAG`], so removal deletes exactly
//! the lines new-variant wrote and nothing else (the rest of the build is never touched).

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow, bail};
use kernels::registry;

pub mod explain;

pub use explain::explain;

/// Marker above the exercise `mod` declarations in each kernel's `mod.rs`.
pub const MOD_MARKER: &str = "// workshop exercise modules:";
/// Marker inside each kernel's `variants()` table.
pub const VARIANT_MARKER: &str = "// workshop exercise variants:";
/// Ends every line new-variant inserts; remove-variant deletes only lines that carry it.
pub const TAG: &str = "// workshop exercise";

/// Per kernel: the problem type the exercise implements `Variant<_>` for. The output's
/// shape and array names are derived at run time from the kernel's naive variant (its
/// output before it has run), so this table is all the template needs.
pub const KERNELS: &[(&str, &str)] = &[
    ("laue", "LaueProblem"),
    ("psf", "PsfProblem"),
    ("lm", "LmProblem"),
    ("deconv", "DeconvProblem"),
];

/// The problem type of a kernel, or an error listing the kernels.
pub fn problem_type(kernel: &str) -> Result<&'static str> {
    KERNELS
        .iter()
        .find(|(k, _)| *k == kernel)
        .map(|(_, p)| *p)
        .ok_or_else(|| {
            anyhow!(
                "unknown kernel `{kernel}`: one of {}",
                KERNELS
                    .iter()
                    .map(|(k, _)| *k)
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        })
}

/// A variant name: lowercase ASCII letters, digits and `_`, starting with a letter, at most
/// 40 characters, not a Rust keyword and not the name of an existing variant.
pub fn validate_name(name: &str, existing: &[&str]) -> Result<()> {
    const KEYWORDS: &[&str] = &[
        "as", "async", "await", "box", "break", "const", "continue", "crate", "dyn", "else",
        "enum", "extern", "false", "fn", "for", "gen", "if", "impl", "in", "let", "loop", "match",
        "mod", "move", "mut", "pub", "ref", "return", "self", "static", "struct", "super", "trait",
        "true", "try", "type", "unsafe", "use", "where", "while", "yield",
    ];
    let first_ok = name.chars().next().is_some_and(|c| c.is_ascii_lowercase());
    let rest_ok = name
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if !first_ok || !rest_ok || name.len() > 40 {
        bail!(
            "`{name}` is not a valid variant name: use lowercase letters, digits and _, \
             starting with a letter, at most 40 characters (e.g. my_simd)"
        );
    }
    if KEYWORDS.contains(&name) {
        bail!("`{name}` is a Rust keyword: pick another name (e.g. my_{name})");
    }
    if existing.contains(&name) {
        bail!("a variant called `{name}` already exists in this kernel: pick another name");
    }
    Ok(())
}

/// The module name of an exercise.
pub fn module_name(name: &str) -> String {
    format!("exercise_{name}")
}

/// Inserts `pub mod exercise_<name>;` below [`MOD_MARKER`] and
/// `Box::new(exercise_<name>::Exercise),` below [`VARIANT_MARKER`], each at its marker's
/// indentation and tagged with [`TAG`].
pub fn insert_registration(src: &str, name: &str) -> Result<String> {
    let module = module_name(name);
    let mut out = Vec::new();
    let (mut mods, mut variants) = (0, 0);
    for line in src.lines() {
        out.push(line.to_string());
        let indent: String = line.chars().take_while(|c| c.is_whitespace()).collect();
        if line.trim_start().starts_with(MOD_MARKER) {
            out.push(format!("{indent}pub mod {module}; {TAG}"));
            mods += 1;
        } else if line.trim_start().starts_with(VARIANT_MARKER) {
            out.push(format!("{indent}Box::new({module}::Exercise), {TAG}"));
            variants += 1;
        }
    }
    if mods != 1 || variants != 1 {
        bail!(
            "expected one `{MOD_MARKER}` and one `{VARIANT_MARKER}` line in the kernel's mod.rs, \
             found {mods} and {variants}"
        );
    }
    Ok(join_lines(&out, src))
}

/// Deletes the lines [`insert_registration`] wrote for `name` (`None`: for every exercise).
pub fn remove_registration(src: &str, name: Option<&str>) -> String {
    let module = name.map(module_name);
    let keep = |line: &str| {
        let tagged = line.trim_end().ends_with(TAG);
        let ours = match &module {
            Some(m) => {
                line.contains(&format!("mod {m};")) || line.contains(&format!("({m}::Exercise)"))
            }
            None => true,
        };
        !(tagged && ours)
    };
    let out: Vec<String> = src
        .lines()
        .filter(|l| keep(l))
        .map(str::to_string)
        .collect();
    join_lines(&out, src)
}

/// The names of the exercises registered in a kernel's `mod.rs`.
pub fn registered_exercises(src: &str) -> Vec<String> {
    src.lines()
        .filter(|l| l.trim_end().ends_with(TAG))
        .filter_map(|l| {
            let rest = l.trim_start().strip_prefix("pub mod exercise_")?;
            Some(rest.split(';').next()?.to_string())
        })
        .collect()
}

fn join_lines(lines: &[String], original: &str) -> String {
    let mut s = lines.join("\n");
    if original.ends_with('\n') {
        s.push('\n');
    }
    s
}

/// Start and end of the region a learner fills in (the test replaces what lies between).
pub const TODO_START: &str = "// ===== TODO (workshop): your code goes here =====";
pub const TODO_END: &str = "// ===== end of TODO =====";

/// The source of a new exercise.
pub fn template(kernel: &str, case: &str, name: &str) -> Result<String> {
    let problem = problem_type(kernel)?;
    let id = format!("{kernel}/{case}/{name}");
    let file = format!("kernels/src/{kernel}/{}.rs", module_name(name));
    Ok(format!(
        r#"//! `{kernel}/*/{name}` — your exercise, made by `harness new-variant`.
//!
//! The job: fill in `run` below so that it computes what `kernels/src/{kernel}/naive.rs`
//! computes (the formula, the oracle), then make it faster. Other variants in this folder
//! are the worked solutions (`harness explain --kernel {kernel}` lists them with their ideas).
//!
//! Next steps:
//!
//! ```text
//! cargo build --release -p harness
//! ./target/release/harness validate --variant {id}
//! ./target/release/harness bench --kernel {kernel} --case {case}
//! ```
//!
//! Remove it with `./target/release/harness remove-variant --variant {id}`.

use super::{problem};
use crate::check::Output;
use crate::error::KernelError;
use crate::variant::{{Prepared, Variant, VariantInfo, zeroed_output}};

// Write F32 instead of F64 if you compute in f32: the tolerance follows.
const INFO: VariantInfo = variant!(
    "{name}",
    Exercise,
    F64,
    "EXERCISE, not written yet: fill in `run` in {file} (it outputs zeros until you do)"
);

pub struct Exercise;

impl Variant<{problem}> for Exercise {{
    fn info(&self) -> &VariantInfo {{
        &INFO
    }}
    /// Setup, timed apart from `run`: allocate buffers, precompute tables here.
    fn prepare(&self, problem: &{problem}) -> Result<Box<dyn Prepared>, KernelError> {{
        Ok(Box::new(Run {{
            problem: problem.clone(),
            // Zeros in the arrays (names, shapes) that naive.rs, the oracle, outputs.
            output: zeroed_output(&super::naive::Naive, problem)?,
        }}))
    }}
}}

"#
    ) + &run_template(kernel, problem))
}

/// The end of a new exercise: the prepared state whose `run` the learner fills in.
fn run_template(kernel: &str, problem: &str) -> String {
    format!(
        r#"struct Run {{
    problem: {problem},
    output: Output,
}}

impl Prepared for Run {{
    /// The timed work: compute the output of `self.problem` into `self.output`.
    fn run(&mut self) -> Result<(), KernelError> {{
        {TODO_START}
        // Read the inputs from `self.problem` (see `{problem}` in
        // kernels/src/{kernel}/mod.rs) and write every array of `self.output`
        // (`self.output.arrays[i].1` is an ndarray of f64). Until you do, the output stays
        // zero and `harness validate` shows where it differs from the reference.
        let _ = &self.problem;
        {TODO_END}
        Ok(())
    }}
    fn output(&self) -> Result<Output, KernelError> {{
        Ok(self.output.clone())
    }}
}}
"#
    )
}

/// The workspace root: the nearest folder above the current one holding kernels/src.
pub fn workspace_root() -> Result<PathBuf> {
    let here = std::env::current_dir()?;
    here.ancestors()
        .find(|d| d.join("kernels/src/registry.rs").is_file())
        .map(Path::to_path_buf)
        .ok_or_else(|| {
            anyhow!(
                "run this from inside the project (no kernels/src/registry.rs above {})",
                here.display()
            )
        })
}

/// `harness new-variant`: writes the exercise file, registers it, says what to do next.
pub fn new_variant(root: &Path, kernel: &str, case: &str, name: &str) -> Result<PathBuf> {
    problem_type(kernel)?;
    let k = registry::kernel(kernel)?;
    if !k.cases().iter().any(|c| c.name == case) {
        bail!(
            "kernel `{kernel}` has no case `{case}`: one of {}",
            k.cases()
                .iter()
                .map(|c| c.name)
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    let mod_rs = root.join("kernels/src").join(kernel).join("mod.rs");
    let src = std::fs::read_to_string(&mod_rs)
        .with_context(|| format!("reading {}", mod_rs.display()))?;
    // Names known to this binary plus exercises registered in the source since it was built.
    let registered = registered_exercises(&src);
    let mut existing: Vec<&str> = k.variants().iter().map(|v| v.name).collect();
    existing.extend(registered.iter().map(String::as_str));
    validate_name(name, &existing)?;
    let file = root
        .join("kernels/src")
        .join(kernel)
        .join(format!("{}.rs", module_name(name)));
    // symlink_metadata: a dangling symbolic link at that name is taken too (following it
    // would write the template wherever it points, outside the repository).
    if std::fs::symlink_metadata(&file).is_ok() {
        bail!(
            "{} already exists: pick another name or remove it first",
            file.display()
        );
    }
    let updated = insert_registration(&src, name)?;
    write_exercise(&file, &template(kernel, case, name)?)?;
    // mod.rs whole or not at all (a full disk must not cut the kernel's source), keeping
    // its permissions.
    let perms = std::fs::metadata(&mod_rs).map(|m| m.permissions());
    let read_only = perms.as_ref().is_ok_and(|p| p.readonly());
    let registered = if read_only {
        Err(anyhow!(
            "{} is read-only: make it writable (chmod u+w)",
            mod_rs.display()
        ))
    } else {
        crate::results::write_whole(&mod_rs, true, |w| {
            use std::io::Write as _;
            w.write_all(updated.as_bytes())?;
            if let Ok(p) = &perms {
                w.get_ref().set_permissions(p.clone())?;
            }
            Ok(())
        })
    };
    if let Err(e) = registered {
        // Not registered: take the exercise away again, so that a retry is not refused
        // as "already exists".
        let _ = std::fs::remove_file(&file);
        bail!("{e:#} (nothing was created: run new-variant again once it can be written)");
    }
    let rel = file
        .strip_prefix(root)
        .unwrap_or(&file)
        .display()
        .to_string();
    let id = format!("{kernel}/{case}/{name}");
    println!("created {rel} and registered it in kernels/src/{kernel}/mod.rs\n");
    println!("next:");
    println!("  1. open {rel} and fill in the TODO in `run` (naive.rs next to it is the formula)");
    println!("  2. cargo build --release -p harness");
    println!("  3. ./target/release/harness validate --variant {id}");
    println!("  4. ./target/release/harness bench --kernel {kernel} --case {case}");
    println!("  5. ./target/release/harness explain --kernel {kernel}   (the worked solutions)");
    println!("remove it again: ./target/release/harness remove-variant --variant {id}");
    Ok(file)
}

/// Creates the exercise file, never through a symbolic link or over an existing file
/// (`create_new`: O_EXCL), and removes it again when its text cannot be written whole.
fn write_exercise(file: &Path, text: &str) -> Result<()> {
    use std::io::Write as _;
    let mut f = std::fs::File::create_new(file).map_err(|e| {
        if e.kind() == std::io::ErrorKind::AlreadyExists {
            anyhow::anyhow!(
                "{} already exists: pick another name or remove it first",
                file.display()
            )
        } else {
            anyhow::anyhow!(
                "cannot create {} ({e}): check the folder's permissions",
                file.display()
            )
        }
    })?;
    if let Err(e) = f.write_all(text.as_bytes()).and_then(|()| f.sync_all()) {
        drop(f);
        let _ = std::fs::remove_file(file);
        bail!(
            "writing {} failed ({e}): free some disk space and run new-variant again (nothing was created)",
            file.display()
        );
    }
    Ok(())
}

/// `harness remove-variant`: `id` is `kernel/case/name` or `kernel/name`; `None` removes every
/// exercise of every kernel. Returns the files deleted.
pub fn remove_variant(root: &Path, id: Option<&str>) -> Result<Vec<PathBuf>> {
    let targets: Vec<(String, Option<String>)> = match id {
        Some(id) => {
            let parts: Vec<&str> = id.split('/').collect();
            let (kernel, name) = match parts.as_slice() {
                [k, _, n] | [k, n] => (k.to_string(), n.to_string()),
                _ => bail!("--variant takes kernel/case/name (e.g. laue/strained/my_simd)"),
            };
            problem_type(&kernel)?;
            vec![(kernel, Some(name))]
        }
        None => KERNELS.iter().map(|(k, _)| (k.to_string(), None)).collect(),
    };
    let mut removed = Vec::new();
    for (kernel, name) in targets {
        let dir = root.join("kernels/src").join(&kernel);
        let mod_rs = dir.join("mod.rs");
        let src = std::fs::read_to_string(&mod_rs)
            .with_context(|| format!("reading {}", mod_rs.display()))?;
        let names = match &name {
            Some(n) => {
                if !registered_exercises(&src).contains(n)
                    && !dir.join(format!("{}.rs", module_name(n))).exists()
                {
                    bail!(
                        "`{kernel}/{n}` is not a workshop exercise (only variants made by new-variant can be removed)"
                    );
                }
                vec![n.clone()]
            }
            None => registered_exercises(&src),
        };
        std::fs::write(&mod_rs, remove_registration(&src, name.as_deref()))
            .with_context(|| format!("writing {}", mod_rs.display()))?;
        for n in names {
            let file = dir.join(format!("{}.rs", module_name(&n)));
            if file.exists() {
                std::fs::remove_file(&file)
                    .with_context(|| format!("deleting {}", file.display()))?;
                println!(
                    "removed {}",
                    file.strip_prefix(root).unwrap_or(&file).display()
                );
                removed.push(file);
            }
        }
    }
    if removed.is_empty() {
        println!("no workshop exercise to remove");
    } else {
        println!("rebuild: cargo build --release -p harness");
    }
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn template_is_valid_for_every_kernel() {
        for (k, p) in KERNELS {
            let t = template(k, "c", "mine").unwrap();
            assert!(t.contains(&format!("impl Variant<{p}> for Exercise")));
            assert!(t.contains(TODO_START) && t.contains(TODO_END));
        }
    }
}
