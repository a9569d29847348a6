//! `harness report` (the HTML report and Markdown summary of run folders, built by
//! [`crate::report`]) and `harness check-png`.

use anyhow::{Context, Result};

use crate::cli::{CheckPngArgs, ReportArgs};

pub fn report_cmd(args: &ReportArgs) -> Result<bool> {
    let runs = if args.runs.is_empty() {
        vec![crate::results::latest_run(&args.root).with_context(|| {
            format!(
                "no run folder under {}: run `harness bench` first, or name run folders",
                args.root.display()
            )
        })?]
    } else {
        args.runs.clone()
    };
    let w = crate::report::write(&runs, &args.out)?;
    println!(
        "report:  {}\nsummary: {}",
        w.html.display(),
        w.markdown.display()
    );
    Ok(true)
}

pub fn check_png(args: &CheckPngArgs) -> Result<bool> {
    crate::report::image::check_png(&args.png, args.min_ink)
}
