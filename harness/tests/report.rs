//! The report as a user gets it: a short real `harness bench` run into a temporary folder,
//! then `harness report`, then checks on what a reader sees (tables, charts, the image,
//! the advice) and that every number shown is the CSV's. Plus synthetic runs for what a
//! short run cannot show: a failed variant never presented as a result, Python peers and
//! several machines merged.

#[path = "support/runs.rs"]
mod runs;

use std::path::{Path, PathBuf};
use std::process::Command;

use harness::render::fmt::{fmt_ratio, fmt_time};
use harness::results::{self, Row, Status};
use kernels::{Precision, Strategy};

fn harness() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_harness"));
    // Mesa's software Vulkan warns without a private runtime dir; keep test output clean.
    let xdg = std::env::temp_dir().join(format!("harness-xdg-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&xdg);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::set_permissions(&xdg, std::fs::Permissions::from_mode(0o700));
    }
    c.env("XDG_RUNTIME_DIR", xdg);
    c
}

fn only_subdir(dir: &Path) -> PathBuf {
    let mut subs: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect();
    assert_eq!(
        subs.len(),
        1,
        "one new folder in {}: {subs:?}",
        dir.display()
    );
    subs.pop().unwrap()
}

/// The rows of the Markdown table under `**title**`, as cells by column name.
fn md_table(md: &str, title: &str) -> Vec<Vec<(String, String)>> {
    let start = md
        .find(&format!("**{title}**"))
        .unwrap_or_else(|| panic!("no table `{title}` in:\n{md}"));
    let lines: Vec<&str> = md[start..]
        .lines()
        .skip(2)
        .take_while(|l| l.starts_with('|'))
        .collect();
    let cells = |l: &str| -> Vec<String> {
        l.trim_matches('|')
            .split(" | ")
            .map(|c| c.trim().to_string())
            .collect()
    };
    let header = cells(lines[0]);
    lines[2..]
        .iter()
        .map(|l| header.iter().cloned().zip(cells(l)).collect())
        .collect()
}

fn get<'a>(row: &'a [(String, String)], col: &str) -> &'a str {
    &row.iter()
        .find(|(h, _)| h == col)
        .unwrap_or_else(|| panic!("no column {col}"))
        .1
}

/// The HTML table rows (`<tr ...>...</tr>`) that contain `needle`.
fn html_rows<'a>(html: &'a str, needle: &str) -> Vec<&'a str> {
    html.split("<tr class=")
        .skip(1)
        .map(|r| &r[..r.find("</tr>").unwrap_or(r.len())])
        .filter(|r| r.contains(needle))
        .collect()
}

#[test]
fn report_from_a_short_real_run() {
    let tmp = tempfile::tempdir().unwrap();
    let runs = tmp.path().join("runs");
    let out = harness()
        .args([
            "bench", "--kernel", "laue", "--case", "square", "--n", "8,16",
        ])
        .args(["--budget", "0.05", "--threads", "1,2", "--out"])
        .arg(&runs)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() || out.status.code() == Some(1),
        "bench failed: {stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let run = only_subdir(&runs);
    let manifest = results::RunManifest::read(&run).expect("run.json");
    assert!(!manifest.interrupted && manifest.finished.is_some());
    assert!(!manifest.ceilings.is_empty(), "ceilings measured");
    assert!(
        manifest
            .ceilings
            .iter()
            .all(|c| c.gemm_f64_gflops > 0.0 && c.copy_gbps > 0.0)
    );
    assert_eq!(
        manifest.images.len(),
        2,
        "one image per problem: {:?}",
        manifest.images
    );
    let rows = results::read_rows(&run.join("results.csv")).unwrap();
    assert_eq!(rows.len(), manifest.rows);
    assert!(
        rows.iter()
            .all(|r| r.cpu == manifest.machine.cpu && !r.git_commit.is_empty())
    );

    let reports = tmp.path().join("reports");
    let out = harness()
        .arg("report")
        .arg(&run)
        .arg("--out")
        .arg(&reports)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let dir = only_subdir(&reports);
    let html = std::fs::read_to_string(dir.join("report.html")).unwrap();
    let md = std::fs::read_to_string(dir.join("report.md")).unwrap();

    // What a reader sees: tables, four charts, the output image, the advice.
    assert!(html.starts_with("<!DOCTYPE html>") && html.trim_end().ends_with("</html>"));
    assert!(!html.contains("<script"), "no JavaScript");
    assert!(
        !html.contains("src=\"http"),
        "nothing fetched from the network"
    );
    for title in [
        "time per run at n = 16",
        "time per run against n",
        "speedup against threads",
        "roofline",
    ] {
        assert!(html.contains(title), "chart `{title}` missing");
    }
    assert!(html.matches("<svg").count() >= 4, "inline SVG charts");
    // The run kept its samples: one strip plot per problem (n = 8, n = 16), after its table.
    assert_eq!(
        html.matches("distribution of the samples").count(),
        2 * 2,
        "title in the figure's label and in the chart, per problem"
    );
    for n in [8, 16] {
        let title = format!("laue/square · e0=0.01 h=0 k=4 n={n} oversampling=3 w=5: distribution");
        assert!(html.contains(&title), "`{title}` missing");
    }
    assert!(!html.contains("chart not drawn"));
    assert!(
        html.contains("data:image/png;base64,iVBORw0KGgo"),
        "inline PNG image"
    );
    assert!(
        html.contains("log scale"),
        "Laue intensities are drawn on a log scale"
    );
    assert!(md.contains("At n = 16, use "), "advice per size:\n{md}");
    assert!(md.contains("Growth exponents:"));
    assert!(md.contains("Amdahl serial fraction"));

    // Every number shown is the CSV's: median, CI and speedup vs naive, row by row.
    for r in rows.iter().filter(|r| r.status == Status::Ok) {
        let title = format!("laue/square · {}", r.params);
        let table = md_table(&md, &title);
        let shown = table
            .iter()
            .find(|c| get(c, "variant") == r.variant && get(c, "threads") == r.threads.to_string())
            .unwrap_or_else(|| panic!("{} ×{} missing from `{title}`", r.variant, r.threads));
        assert_eq!(get(shown, "median"), fmt_time(r.median_s), "{}", r.variant);
        let ci = if r.samples > 1 {
            format!("{} – {}", fmt_time(r.ci_low_s), fmt_time(r.ci_high_s))
        } else {
            "-".into()
        };
        assert_eq!(get(shown, "95% CI"), ci);
        let naive = rows
            .iter()
            .filter(|n| n.variant == "naive" && n.params == r.params && n.status == Status::Ok)
            .filter_map(|n| n.median_s)
            .fold(f64::INFINITY, f64::min);
        assert_eq!(
            get(shown, "speedup vs naive"),
            fmt_ratio(Some(naive / r.median_s.unwrap()))
        );
        assert!(get(shown, "status").starts_with("ok"));
        // The HTML row of the same variant shows the same median.
        let needle = format!("<td>{}</td>", r.variant);
        assert!(
            html_rows(&html, &needle)
                .iter()
                .any(|row| row.contains(&fmt_time(r.median_s))),
            "HTML row of {} ×{} lacks {}",
            r.variant,
            r.threads,
            fmt_time(r.median_s)
        );
    }
    // Rows that were not timed show their status and reason, no numbers.
    for r in rows.iter().filter(|r| r.status != Status::Ok) {
        let table = md_table(&md, &format!("laue/square · {}", r.params));
        let shown = table
            .iter()
            .find(|c| get(c, "variant") == r.variant && get(c, "threads") == r.threads.to_string())
            .unwrap();
        assert_eq!(get(shown, "median"), "");
        assert_eq!(get(shown, "status"), r.status.to_string());
        assert_eq!(get(shown, "notes"), r.reason);
    }

    // A second report never overwrites the first.
    let again = harness()
        .arg("report")
        .arg(&run)
        .arg("--out")
        .arg(&reports)
        .output()
        .unwrap();
    assert!(again.status.success());
    assert_eq!(std::fs::read_dir(&reports).unwrap().count(), 2);
}

fn synthetic_row(
    variant: &str,
    strategy: Strategy,
    size: f64,
    median: Option<f64>,
    status: Status,
) -> Row {
    Row {
        run_id: "synthetic".into(),
        kernel: "laue".into(),
        case: "strained".into(),
        variant: variant.into(),
        strategy,
        precision: Precision::F64,
        params: format!("e0=0.01 h=0 k=4 n={size} oversampling=3 w=5")
            .parse()
            .unwrap(),
        size_param: "n".into(),
        size,
        threads: 1,
        status,
        median_s: median,
        ci_low_s: median.map(|m| 0.99 * m),
        ci_high_s: median.map(|m| 1.01 * m),
        spread: median.map(|_| 0.02),
        samples: 10,
        flops: 1e9,
        bytes: 1e6,
        cpu: "Test CPU".into(),
        cores: 2,
        memory_gib: 8.0,
        os: "Test OS".into(),
        runtime: if strategy == Strategy::Python {
            "python 3 · numpy 2"
        } else {
            "rust"
        }
        .into(),
        timestamp: "20260101T000000Z".into(),
        ..Row::default()
    }
}

fn write_run(dir: &Path, file: &str, rows: &[Row]) {
    std::fs::create_dir_all(dir).unwrap();
    let mut w = csv::Writer::from_path(dir.join(file)).unwrap();
    for r in rows {
        w.serialize(r).unwrap();
    }
    w.flush().unwrap();
}

#[test]
fn failed_variants_are_never_presented_and_peers_and_machines_merge() {
    let tmp = tempfile::tempdir().unwrap();
    let run = tmp.path().join("20260101T000000Z-laue");
    let mut broken = synthetic_row(
        "vectorised",
        Strategy::Vectorised,
        32.0,
        Some(0.123456),
        Status::Failed,
    );
    broken.reason = "validation failed, not timed: error 3.0e-2 (tolerance 1e-13)".into();
    broken.error = Some(3e-2);
    write_run(
        &run,
        "results.csv",
        &[
            synthetic_row("naive", Strategy::Naive, 16.0, Some(0.01), Status::Ok),
            synthetic_row("naive", Strategy::Naive, 32.0, Some(0.16), Status::Ok),
            synthetic_row("gpu-f32", Strategy::Gpu, 16.0, Some(0.02), Status::Ok),
            synthetic_row("gpu-f32", Strategy::Gpu, 32.0, Some(0.04), Status::Ok),
            broken,
        ],
    );
    write_run(
        &run,
        "peers.csv",
        &[synthetic_row(
            "py-numba",
            Strategy::Python,
            32.0,
            Some(0.5),
            Status::Ok,
        )],
    );
    // The same problems on another machine.
    let other = tmp.path().join("20260102T000000Z-laue");
    let mut row = synthetic_row("naive", Strategy::Naive, 32.0, Some(0.08), Status::Ok);
    row.cpu = "Other CPU".into();
    write_run(&other, "results.csv", &[row]);

    // A profile left by a profiling run is linked under its kernel.
    std::fs::write(run.join("flamegraph-laue-strained-naive.svg"), "<svg/>").unwrap();
    let reports = tmp.path().join("reports");
    let w = harness::report::write(&[run, other], &reports).unwrap();
    let html = std::fs::read_to_string(&w.html).unwrap();
    let md = std::fs::read_to_string(&w.markdown).unwrap();
    assert!(
        !html.contains("distribution of the samples"),
        "no samples files, no distribution"
    );
    for text in [&html, &md] {
        assert!(
            !text.contains(&fmt_time(Some(0.123456))),
            "a failed variant's time is shown"
        );
        assert!(text.contains("vectorised FAILED at n = 32: validation failed, not timed"));
        assert!(text.contains("it is not presented as a result"));
        assert!(text.contains("py-numba"), "peers appear in the same tables");
        assert!(text.contains("M2"), "the second machine is labelled");
        assert!(text.contains("Other CPU"));
    }
    assert!(
        html.contains("href=\"../../20260101T000000Z-laue/flamegraph-laue-strained-naive.svg\"")
    );
    assert!(md.contains("(../../20260101T000000Z-laue/flamegraph-laue-strained-naive.svg)"));
    assert!(
        harness::cmd::bench::is_picture(&[96, 96]) && !harness::cmd::bench::is_picture(&[65536, 7])
    );
    // Crossover and GPU advice from the sizes: the GPU loses at 16 and wins at 32.
    assert!(
        md.contains("Crossover: the fastest changes from naive at n = 16 to gpu-f32 at n = 32"),
        "{md}"
    );
    assert!(md.contains("GPU: gpu-f32"), "{md}");
    assert!(
        md.contains("starts to pay for its transfers at n = 32"),
        "{md}"
    );
    assert!(md.contains("Python peers at n = 32"));
    // Machine column present with two machines.
    let table = md_table(
        &md,
        "laue/strained · e0=0.01 h=0 k=4 n=32 oversampling=3 w=5",
    );
    assert!(
        table
            .iter()
            .any(|c| get(c, "machine") == "M2" && get(c, "median") == "80.0 ms")
    );
    assert!(
        table
            .iter()
            .any(|c| get(c, "variant") == "vectorised" && get(c, "median").is_empty())
    );
}

#[test]
fn check_png_tells_blank_from_drawn() {
    let tmp = tempfile::tempdir().unwrap();
    let blank = tmp.path().join("blank.png");
    let drawn = tmp.path().join("drawn.png");
    let (w, h) = (64u32, 64u32);
    std::fs::write(
        &blank,
        harness::report::image::encode_png(&vec![255; (w * h * 3) as usize], w, h).unwrap(),
    )
    .unwrap();
    let pixels: Vec<u8> = (0..w * h)
        .flat_map(|i| harness::report::image::viridis((i % w) as f64 / w as f64))
        .collect();
    std::fs::write(
        &drawn,
        harness::report::image::encode_png(&pixels, w, h).unwrap(),
    )
    .unwrap();
    let status = |p: &Path| harness().arg("check-png").arg(p).status().unwrap();
    assert_eq!(status(&blank).code(), Some(1));
    assert!(status(&drawn).success());
}

#[test]
fn shards_of_one_suite_make_one_report() {
    use harness::results::Shard;
    use runs::{Spec, machine, row, samples, write_run};
    let tmp = tempfile::tempdir().unwrap();
    let m = machine("Test CPU");
    // Three slices of one suite (sizes 16, 32, 64), each with its samples kept.
    let shards: Vec<PathBuf> = [16u32, 32, 64]
        .iter()
        .enumerate()
        .map(|(i, &n)| {
            write_run(
                &tmp.path().join(format!("20260101T00000{i}Z-laue")),
                Spec {
                    machine: &m,
                    shard: Some(Shard {
                        index: i + 1,
                        count: 3,
                        selection: "5eed".into(),
                    }),
                    rows: vec![
                        (
                            row("naive", n),
                            Some(samples(1e-5 * f64::from(n * n), 0.02, 30, 1)),
                        ),
                        (
                            row("parallel", n),
                            Some(samples(1e-6 * f64::from(n * n), 0.02, 30, 2)),
                        ),
                    ],
                },
            )
        })
        .collect();
    let reports = tmp.path().join("reports");
    let w = harness::report::write(&shards, &reports).unwrap();
    let html = std::fs::read_to_string(&w.html).unwrap();
    let md = std::fs::read_to_string(&w.markdown).unwrap();
    assert!(!md.contains("M2"), "one machine: {md}");
    assert!(
        md.contains("Runs 20260101T000000Z-laue (1/3), 20260101T000001Z-laue (2/3), 20260101T000002Z-laue (3/3) are shards of one suite (selection 5eed) on M1"),
        "{md}"
    );
    assert!(!md.contains("are not among the runs given"));
    for n in [16, 32, 64] {
        let table = md_table(
            &md,
            &format!("laue/strained · e0=0.01 h=0 k=4 n={n} oversampling=3 w=5"),
        );
        assert_eq!(table.len(), 2, "both variants of shard n = {n}");
    }
    // Every problem's samples drawn, from whichever shard kept them.
    assert_eq!(html.matches("distribution of the samples").count(), 2 * 3);
    assert!(
        html.contains("time per run against n"),
        "one scaling curve across the shards"
    );
    // Two of three slices: the report says which is missing.
    let w = harness::report::write(&shards[..2], &reports).unwrap();
    let md = std::fs::read_to_string(&w.markdown).unwrap();
    assert!(
        md.contains("Shard(s) 3/3 are not among the runs given: their rows are missing"),
        "{md}"
    );
}
