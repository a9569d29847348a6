//! Where `harness profile` writes: its folder, and file names that never overwrite.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

use crate::results::new_folder;

/// Where the files go.
pub struct Out {
    pub dir: PathBuf,
    /// `profile.json` (or `profile-1.json`, ...: an earlier one is never overwritten).
    pub manifest: PathBuf,
}

impl Out {
    /// `into`'s `flamegraphs/` when given (an existing run folder), else a new folder
    /// `profile-<label>` under `out`.
    pub fn create(into: Option<&Path>, out: &Path, label: &str) -> Result<Out> {
        let dir = match into {
            Some(run) => {
                if !run.is_dir() {
                    bail!("--into {}: not a folder", run.display());
                }
                let d = run.join("flamegraphs");
                std::fs::create_dir_all(&d)?;
                d
            }
            None => new_folder(out, &format!("profile-{label}"))?.0,
        };
        let manifest = dir.join(unique_stem(&dir, "profile", &["{}.json"]) + ".json");
        Ok(Out { dir, manifest })
    }
}

/// `stem`, or `stem-1`, `stem-2`, ... : the first for which none of the `files` (templates
/// with `{}` for the stem) exists (files are never overwritten).
pub fn unique_stem(dir: &Path, stem: &str, files: &[&str]) -> String {
    (0..)
        .map(|i| {
            if i == 0 {
                stem.to_string()
            } else {
                format!("{stem}-{i}")
            }
        })
        .find(|s| files.iter().all(|f| !dir.join(f.replace("{}", s)).exists()))
        .expect("an unused name")
}

/// Writes a new file; an existing one is an error, never overwritten.
pub fn write_new(path: &Path, bytes: &[u8]) -> Result<()> {
    use std::io::Write;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .with_context(|| format!("creating {}", path.display()))?;
    f.write_all(bytes)?;
    Ok(())
}

/// `n=64 oversampling=2` → `n64-oversampling2` (for file names).
pub fn slug(text: &str) -> String {
    text.split_whitespace()
        .map(|kv| {
            kv.chars()
                .filter(|c| c.is_ascii_alphanumeric() || *c == '.' || *c == '_')
                .collect::<String>()
        })
        .collect::<Vec<_>>()
        .join("-")
}
