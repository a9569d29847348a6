//! Shared code of the criterion benches: one bench file per kernel calls [`bench_kernel`],
//! which times every registered variant at the kernel's default suite sizes, after
//! validating it (a variant that fails validation is reported and not timed, as in the
//! harness). With the `profiling` feature, `cargo bench -- --profile-time 5` writes one
//! flamegraph per benchmark through [`FlamegraphProfiler`].

use std::hint::black_box;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion};
use kernels::{Availability, Instance, registry};

/// The configuration every bench file uses: short enough for ~30 variants per kernel.
pub fn config() -> Criterion {
    let c = Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    #[cfg(feature = "profiling")]
    let c = c.with_profiler(FlamegraphProfiler::default());
    c.configure_from_args()
}

/// Benchmarks every variant of `kernel` on each problem of its default suite.
/// `BenchmarkId` = `case/variant` and the problem's parameters, so `cargo bench -- laue`
/// or `cargo bench -- strained/parallel` filter as expected.
pub fn bench_kernel(c: &mut Criterion, kernel: &str) {
    let k = registry::kernel(kernel).expect("registered kernel");
    let mut group = c.benchmark_group(kernel);
    for (case, params) in k.suite() {
        let instance = match k.instance(case, &params, &[]) {
            Ok(i) => i,
            Err(e) => {
                eprintln!("{kernel}/{case} [{params}]: {e}");
                continue;
            }
        };
        for v in instance.variants() {
            let id = format!("{kernel}/{case}/{}", v.name);
            match instance.probe(v.name) {
                Ok(Availability::Ready) => {}
                Ok(a) => {
                    eprintln!("{id} [{params}]: {} ({})", a.label(), a.reason());
                    continue;
                }
                Err(e) => {
                    eprintln!("{id}: {e}");
                    continue;
                }
            }
            // Setup (plans, shader compilation, uploads) happens here, outside the timing.
            let mut prepared = match instance.prepare(v.name) {
                Ok(p) => p,
                Err(e) => {
                    eprintln!("{id}: setup failed: {e}");
                    continue;
                }
            };
            if let Err(why) = validated(instance.as_ref(), v.name, prepared.as_mut()) {
                eprintln!("{id} [{params}]: not timed: {why}");
                continue;
            }
            let size = size_label(k, case, &params);
            group.bench_function(BenchmarkId::new(format!("{case}/{}", v.name), &size), |b| {
                b.iter(|| black_box(prepared.run()).expect("a validated variant runs"))
            });
        }
    }
    group.finish();
}

/// The size parameter, plus any parameter that differs from the case's defaults.
fn size_label(k: &dyn kernels::DynKernel, case: &str, params: &kernels::Params) -> String {
    let defaults = k.defaults(case);
    k.params()
        .iter()
        .filter_map(|spec| {
            let v = params.get(spec.name).ok()?;
            (spec.is_size || defaults.get(spec.name).ok() != Some(v))
                .then(|| format!("{}={v}", spec.name))
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// Runs once and compares with the committed reference, or with the first oracle that can
/// run at this size.
fn validated(
    instance: &dyn Instance,
    variant: &str,
    prepared: &mut dyn kernels::Prepared,
) -> Result<(), String> {
    prepared.run().map_err(|e| e.to_string())?;
    let output = prepared.output().map_err(|e| e.to_string())?;
    let files = instance.reference_files();
    let reference = if !files.is_empty() {
        kernels::io::read_output(&files).map_err(|e| e.to_string())?
    } else {
        let oracle = instance
            .oracles()
            .iter()
            .find(|o| matches!(instance.probe(o), Ok(Availability::Ready)))
            .ok_or("no reference file and no oracle can run at this size")?;
        if *oracle == variant {
            return Ok(());
        }
        let mut o = instance.prepare(oracle).map_err(|e| e.to_string())?;
        o.run().map_err(|e| e.to_string())?;
        o.output().map_err(|e| e.to_string())?
    };
    let check = instance
        .check(variant, &output, &reference)
        .map_err(|e| e.to_string())?;
    if check.passed() {
        Ok(())
    } else {
        Err(format!(
            "validation failed: error {:.2e} > {:.0e}",
            check.error(),
            check.tolerance.max_norm
        ))
    }
}

/// criterion's profiler hook driving pprof: active only in `--profile-time` mode, so the
/// analysis stays out of the flamegraph. (pprof's own criterion feature pins criterion 0.5.)
///
/// It uses the harness's sampler and folding, so the graphs read like `harness profile`'s:
/// frames above the thread's start cut, rayon's recursion shown as one `[rayon]` frame, the
/// workers of rayon's global pool (named `bench-w-N` here) merged into one root. Writes
/// `flamegraph.svg`, `flamegraph.folded` and `flamegraph.top.txt` into criterion's
/// `target/criterion/<group>/<id>/profile/`, and prints the sample count.
#[cfg(feature = "profiling")]
pub struct FlamegraphProfiler {
    sampler: Option<(harness::profile::Sampler, Option<f64>)>,
}

#[cfg(feature = "profiling")]
impl Default for FlamegraphProfiler {
    fn default() -> Self {
        // Unnamed, the global pool's workers would be roots named by thread id, one each.
        // (Fails harmlessly if the pool already exists: its threads then keep their names.)
        let _ = rayon::ThreadPoolBuilder::new()
            .thread_name(|i| format!("bench-w-{i}"))
            .build_global();
        FlamegraphProfiler { sampler: None }
    }
}

#[cfg(feature = "profiling")]
impl criterion::profiler::Profiler for FlamegraphProfiler {
    fn start_profiling(&mut self, id: &str, _dir: &std::path::Path) {
        // 1000 Hz is asked for; this kernel delivers about 250 Hz per CPU (see STACK.md).
        match harness::profile::Sampler::start() {
            Ok(s) => self.sampler = Some((s, harness::profile::process_cpu_s())),
            Err(e) => eprintln!("{id}: no profile: {e:#}"),
        }
    }

    fn stop_profiling(&mut self, id: &str, dir: &std::path::Path) {
        use harness::profile::folded::{Folded, Rayon, Threads};
        let Some((sampler, cpu0)) = self.sampler.take() else {
            return;
        };
        let cpu = cpu0
            .zip(harness::profile::process_cpu_s())
            .map(|(a, b)| b - a);
        let result = (|| -> Result<String, String> {
            let raw = sampler
                .finish()
                .map_err(|e| format!("flamegraph failed: {e:#}"))?;
            let folded = Folded::from_raw(&raw, Threads::Merged, Rayon::Collapsed);
            let samples = folded.total();
            let rate = cpu
                .filter(|c| *c > 0.0)
                .map(|c| format!(" (≈{:.0} per CPU-second)", samples as f64 / c))
                .unwrap_or_default();
            std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
            let write = |name: &str, text: String| {
                std::fs::write(dir.join(name), text).map_err(|e| format!("{name}: {e}"))
            };
            write("flamegraph.folded", folded.to_text())?;
            write("flamegraph.top.txt", folded.top().render(15, "samples"))?;
            if samples == 0 {
                return Err(format!(
                    "0 samples{rate}, no flamegraph: the CPU time was spent in threads that \
                     block SIGPROF (a GPU driver's, such as Mesa lavapipe's) or in libc \
                     (blocklisted)"
                ));
            }
            let path = dir.join("flamegraph.svg");
            let file = std::fs::File::create(&path).map_err(|e| e.to_string())?;
            harness::profile::flamegraph(
                &folded.lines(),
                &harness::profile::Labels {
                    title: id,
                    subtitle: &format!(
                        "{samples} samples{rate}: criterion --profile-time (the timed routine \
                         only, no analysis) · rayon workers merged"
                    ),
                    unit: "samples",
                },
                false,
                std::io::BufWriter::new(file),
            )
            .map_err(|e| format!("flamegraph failed: {e:#}"))?;
            Ok(format!("{samples} samples{rate} → {}", path.display()))
        })();
        match result {
            Ok(line) => eprintln!("{id}: {line}"),
            Err(e) => eprintln!("{id}: {e}"),
        }
    }
}
