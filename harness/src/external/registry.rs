//! `external.toml`: the registration of external variants (docs/external.md), parsed and
//! checked in full before anything runs. Every refusal is one line naming the file and the
//! entry, and the command exits with code 2 having written nothing.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Result, bail};
use kernels::{DynKernel, Precision, Strategy, registry};
use serde::Deserialize;

/// Seconds the harness waits for one answer of a worker when the entry gives none.
pub const DEFAULT_TIMEOUT_S: f64 = 600.0;

/// Kernels with an external protocol (docs/external.md: their inputs and output).
pub const KERNELS: [&str; 4] = ["laue", "psf", "lm", "deconv"];

/// One `[[variant]]` as written; unknown keys are refused.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    name: String,
    kernel: String,
    cases: Option<Vec<String>>,
    strategy: Option<String>,
    precision: Option<String>,
    command: Vec<String>,
    #[serde(default)]
    env: BTreeMap<String, String>,
    workdir: Option<PathBuf>,
    probe: Option<Vec<String>>,
    setup: Option<String>,
    timeout_s: Option<f64>,
    max_n: Option<u64>,
    seconds_per_run: Option<f64>,
}

/// One external variant, checked and resolved: paths absolute, defaults filled in.
#[derive(Clone, Debug)]
pub struct Entry {
    /// Unique, and the variant's name in every table (letters, digits, `-`, `_`, `.`).
    pub name: String,
    pub kernel: &'static str,
    pub cases: Vec<String>,
    /// The label as written (python, jax, c++, ...; default `external`).
    pub label: String,
    /// [`Strategy::Python`] for the label `python`, else [`Strategy::External`].
    pub strategy: Strategy,
    pub precision: Precision,
    /// The program (absolute when it was given as a relative path) and its arguments.
    pub command: Vec<String>,
    pub env: BTreeMap<String, String>,
    /// Absolute: relative to the TOML file's folder.
    pub workdir: PathBuf,
    pub probe: Option<Vec<String>>,
    pub setup: Option<String>,
    pub timeout_s: f64,
    pub max_n: Option<u64>,
    /// One run's time as the registration declares it: the time limit's estimate for a
    /// worker that no smaller problem can calibrate (a peer that fixes its size).
    pub seconds_per_run: Option<f64>,
    /// The registration file, for messages.
    pub file: PathBuf,
}

/// Parses and checks a registration file.
pub fn load(path: &Path) -> Result<Vec<Entry>> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        anyhow::anyhow!(
            "cannot read {} ({e}): give an existing file to --external",
            path.display()
        )
    })?;
    let folder = absolute(path.parent().unwrap_or(Path::new(".")))?;
    let mut entries: Vec<Entry> = Vec::new();
    for raw in raw_entries(&text, path)? {
        let entry = resolve(raw, path, &folder)?;
        if entries.iter().any(|e| e.name == entry.name) {
            bail!(
                "{}: variant `{}` is registered twice: give each entry its own name",
                path.display(),
                entry.name
            );
        }
        entries.push(entry);
    }
    Ok(entries)
}

/// The `[[variant]]` tables as written, each refusal naming the entry (by its name, or its
/// position when it has none).
fn raw_entries(text: &str, path: &Path) -> Result<Vec<Raw>> {
    let first_line = |m: &str| m.lines().next().unwrap_or("").to_string();
    let table: toml::Table = toml::from_str(text).map_err(|e| {
        anyhow::anyhow!(
            "{}: not a valid registration ({}{}): fix it as docs/external.md shows",
            path.display(),
            first_line(e.message()),
            e.span()
                .map(|s| format!(" at byte {}", s.start))
                .unwrap_or_default()
        )
    })?;
    if let Some(key) = table.keys().find(|k| *k != "variant") {
        bail!(
            "{}: unknown key `{key}`: the file holds only [[variant]] tables (docs/external.md)",
            path.display()
        );
    }
    let items = match table.get("variant") {
        None => return Ok(Vec::new()),
        Some(toml::Value::Array(items)) => items.clone(),
        Some(_) => bail!(
            "{}: `variant` must be a list of tables: write each entry under [[variant]]",
            path.display()
        ),
    };
    let mut raws = Vec::new();
    for (i, item) in items.into_iter().enumerate() {
        let name = item
            .get("name")
            .and_then(toml::Value::as_str)
            .map_or_else(|| format!("#{}", i + 1), |n| format!("`{n}`"));
        let raw: Raw = item.try_into().map_err(|e: toml::de::Error| {
            anyhow::anyhow!(
                "{}: variant {name}: {}: fix it as docs/external.md shows",
                path.display(),
                first_line(e.message())
            )
        })?;
        raws.push(raw);
    }
    Ok(raws)
}

/// One entry checked against the kernels, with its defaults and absolute paths.
fn resolve(raw: Raw, file: &Path, folder: &Path) -> Result<Entry> {
    let at = |what: String| anyhow::anyhow!("{}: variant `{}`: {what}", file.display(), raw.name);
    check_name(&raw.name).map_err(at)?;
    let kernel = find_kernel(&raw.kernel).map_err(at)?;
    if kernel.variants().iter().any(|v| v.name == raw.name) {
        return Err(at(format!(
            "the {} kernel has a variant of this name: choose another name",
            raw.kernel
        )));
    }
    let cases = match raw.cases.clone() {
        Some(c) if c.is_empty() => return Err(at("cases is empty: list at least one".into())),
        Some(c) => c,
        None => kernel.cases().iter().map(|c| c.name.to_string()).collect(),
    };
    if let Some(bad) = cases
        .iter()
        .find(|c| !kernel.cases().iter().any(|k| k.name == *c))
    {
        let valid: Vec<_> = kernel.cases().iter().map(|c| c.name).collect();
        return Err(at(format!(
            "unknown case `{bad}` of {}: valid ones are {}",
            raw.kernel,
            valid.join(", ")
        )));
    }
    let precision = match raw.precision.as_deref().unwrap_or("f64") {
        "f64" => Precision::F64,
        "f32" => Precision::F32,
        other => return Err(at(format!("precision `{other}`: write f64 or f32"))),
    };
    if raw.command.is_empty() || raw.command[0].is_empty() {
        return Err(at(
            "command is empty: give the program and its arguments".into()
        ));
    }
    if raw.probe.as_ref().is_some_and(|p| p.is_empty()) {
        return Err(at(
            "probe is empty: give a command or leave probe out".into()
        ));
    }
    let timeout_s = raw.timeout_s.unwrap_or(DEFAULT_TIMEOUT_S);
    if !(timeout_s > 0.0 && timeout_s <= 86400.0) {
        return Err(at(format!(
            "timeout_s = {timeout_s}: give seconds above 0, at most 86400"
        )));
    }
    if let Some(s) = raw.seconds_per_run
        && !(s > 0.0 && s.is_finite())
    {
        return Err(at(format!(
            "seconds_per_run = {s}: give the time of one run in seconds, above 0"
        )));
    }
    let workdir = folder.join(raw.workdir.as_deref().unwrap_or(Path::new(".")));
    let label = raw.strategy.clone().unwrap_or_else(|| "external".into());
    Ok(Entry {
        strategy: if label == "python" {
            Strategy::Python
        } else {
            Strategy::External
        },
        command: program_path(raw.command, &workdir),
        probe: raw.probe.map(|p| program_path(p, &workdir)),
        kernel: kernel.name(),
        name: raw.name,
        cases,
        label,
        precision,
        env: raw.env,
        workdir,
        setup: raw.setup,
        timeout_s,
        max_n: raw.max_n,
        seconds_per_run: raw.seconds_per_run,
        file: file.to_path_buf(),
    })
}

/// The name becomes a file name in the run folder (`external/<name>/...`): only characters
/// that cannot leave it or need quoting.
fn check_name(name: &str) -> std::result::Result<(), String> {
    let ok = !name.is_empty()
        && !name.starts_with('.')
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if ok {
        Ok(())
    } else {
        Err(
            "the name must be 1 to 64 letters, digits, `-`, `_` or `.`, not starting with `.`"
                .into(),
        )
    }
}

fn find_kernel(name: &str) -> std::result::Result<&'static dyn DynKernel, String> {
    if !KERNELS.contains(&name) {
        return Err(format!(
            "unknown kernel `{name}`: external variants exist for {}",
            KERNELS.join(", ")
        ));
    }
    registry::kernel(name).map_err(|e| e.to_string())
}

/// A program given as a relative path with a folder (`scripts/.venv/bin/python`) is taken
/// relative to the working directory, made absolute so that it does not depend on how the
/// platform resolves it; a bare name (`python3`) is looked up on PATH.
fn program_path(mut command: Vec<String>, workdir: &Path) -> Vec<String> {
    let program = Path::new(&command[0]);
    if program.is_relative() && command[0].contains('/') {
        command[0] = workdir.join(program).to_string_lossy().into_owned();
    }
    command
}

fn absolute(path: &Path) -> Result<PathBuf> {
    let path = if path.as_os_str().is_empty() {
        Path::new(".")
    } else {
        path
    };
    std::path::absolute(path).map_err(|e| {
        anyhow::anyhow!(
            "cannot resolve {} ({e}): give an absolute path",
            path.display()
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Vec<Entry>> {
        let dir = std::env::temp_dir().join(format!("harness-registry-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(format!("t{}.toml", text.len()));
        std::fs::write(&path, text).unwrap();
        load(&path)
    }

    #[test]
    fn three_lines_get_the_defaults() {
        let e =
            parse("[[variant]]\nname = \"mine\"\nkernel = \"laue\"\ncommand = [\"w\"]\n").unwrap();
        assert_eq!(e[0].cases, ["square", "circle", "strained"]);
        assert_eq!(e[0].strategy, Strategy::External);
        assert_eq!(e[0].precision, Precision::F64);
        assert_eq!(e[0].timeout_s, DEFAULT_TIMEOUT_S);
    }

    #[test]
    fn refusals_name_the_entry() {
        let cases = [
            (
                "[[variant]]\nname=\"a\"\nkernel=\"laue\"\ncommand=[\"w\"]\nbogus=1\n",
                "variant `a`: unknown field `bogus`",
            ),
            (
                "[[variant]]\nkernel=\"laue\"\ncommand=[\"w\"]\n",
                "variant #1: missing field `name`",
            ),
            ("colour = 1\n", "unknown key `colour`"),
            (
                "[[variant]]\nname=\"a\"\nkernel=\"laue\"\ncommand=[\"w\"]\nseconds_per_run=0\n",
                "variant `a`: seconds_per_run = 0",
            ),
            (
                "[[variant]]\nname=\"a\"\nkernel=\"nope\"\ncommand=[\"w\"]\n",
                "unknown kernel",
            ),
            (
                "[[variant]]\nname=\"a\"\nkernel=\"laue\"\ncases=[\"x\"]\ncommand=[\"w\"]\n",
                "unknown case `x`",
            ),
            (
                "[[variant]]\nname=\"a\"\nkernel=\"laue\"\ncommand=[\"w\"]\n[[variant]]\nname=\"a\"\nkernel=\"laue\"\ncommand=[\"w\"]\n",
                "twice",
            ),
            (
                "[[variant]]\nname=\"../a\"\nkernel=\"laue\"\ncommand=[\"w\"]\n",
                "letters",
            ),
            (
                "[[variant]]\nname=\"naive\"\nkernel=\"laue\"\ncommand=[\"w\"]\n",
                "has a variant",
            ),
            (
                "[[variant]]\nname=\"a\"\nkernel=\"laue\"\nprecision=\"f16\"\ncommand=[\"w\"]\n",
                "f16",
            ),
            (
                "[[variant]]\nname=\"a\"\nkernel=\"laue\"\ncommand=[]\n",
                "command is empty",
            ),
            ("[[variant\n", "not a valid registration"),
        ];
        for (text, want) in cases {
            let e = parse(text).expect_err(text).to_string();
            assert!(e.contains(want), "{text}: {e}");
            assert!(!e.contains('\n'), "one line: {e}");
        }
    }
}
