//! The report: one self-contained HTML file and a Markdown summary from one or more run
//! folders, written into a new folder (never over an earlier report); `harness report`
//! ([`crate::cmd::report`]) runs it.
//!
//! Layers: [`data`] loads rows and machines, [`model`] computes what the report says
//! (tables, fits, advice, chart series), [`charts`] / [`image`] draw, [`html`] and
//! [`markdown`] lay out (numbers and escaping from [`crate::render`]).

pub mod charts;
pub mod data;
pub mod html;
pub mod image;
pub mod markdown;
pub mod model;
pub mod shards;

use std::path::PathBuf;

use std::io::Write as _;

use anyhow::Result;

/// Where a report was written.
pub struct Written {
    pub dir: PathBuf,
    pub html: PathBuf,
    pub markdown: PathBuf,
}

/// Builds the report of `runs` into a new folder under `out`.
pub fn write(runs: &[PathBuf], out: &std::path::Path) -> Result<Written> {
    for r in runs {
        data::check_run_dir(r)?;
    }
    let dataset = data::Dataset::load(runs)?;
    let (dir, _) = crate::results::new_folder(out, "report")?;
    let report = model::Report::build(&dataset, &dir);
    let html = dir.join("report.html");
    let markdown = dir.join("report.md");
    // Each file whole or not at all (a full disk leaves no empty report.html); on failure
    // the new folder goes too, so that what is left is never a report that looks complete.
    let written = write_file(&html, &html::render(&report))
        .and_then(|()| write_file(&markdown, &markdown::render(&report)));
    if let Err(e) = written {
        let _ = std::fs::remove_file(&html);
        let _ = std::fs::remove_dir(&dir);
        return Err(e);
    }
    Ok(Written {
        dir,
        html,
        markdown,
    })
}

/// Writes one report file through a temporary name (see [`crate::results::write_whole`]).
fn write_file(path: &std::path::Path, text: &str) -> Result<()> {
    crate::results::write_whole(path, false, |w| Ok(w.write_all(text.as_bytes())?))
}
