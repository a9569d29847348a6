//! Shared code of the criterion benches: one bench file per kernel calls [`bench_kernel`],
//! which times every registered variant at the kernel's default suite sizes, after the
//! lifecycle gate validated it (a variant that fails is reported and not timed, as in the
//! harness). With the `profiling` feature, `cargo bench -- --profile-time 5` writes one
//! flamegraph per benchmark through [`FlamegraphProfiler`].

use std::hint::black_box;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::Duration;

use criterion::{BenchmarkId, Criterion};
use kernels::gate::{self, Admission, Policy, References};
use kernels::{DynKernel, registry};

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
    bench_dyn(c, k);
}

/// [`bench_kernel`] for any kernel, registered or not. Every variant goes through the one
/// lifecycle gate ([`kernels::gate`]): one that is not ready, fails setup, panics or
/// disagrees with the reference is reported on stderr and not timed, and the next one runs;
/// a panic while criterion times it is caught the same way. Returns each variant's id
/// and what became of it (`ok`, `skipped`, `n/a` or `failed`).
pub fn bench_dyn(c: &mut Criterion, k: &dyn DynKernel) -> Vec<(String, &'static str)> {
    let kernel = k.name();
    let policy = Policy::from_env().unwrap_or_else(|e| panic!("{e}"));
    let mut seen = Vec::new();
    let mut group = c.benchmark_group(kernel);
    for (case, params) in k.suite() {
        let instance = match k.instance(case, &params, &[]) {
            Ok(i) => i,
            Err(e) => {
                eprintln!("{kernel}/{case} [{params}]: {e}");
                continue;
            }
        };
        let mut refs = References::new(instance.as_ref(), None).expect("no file to read");
        let size = size_label(k, case, &params);
        for v in instance.variants() {
            let id = format!("{kernel}/{case}/{}", v.name());
            // Setup (plans, shader compilation, uploads) happens in the gate, untimed.
            let admission = gate::admit(instance.as_ref(), v, &mut refs, policy, &mut ());
            let mut admitted = match admission {
                Admission::Valid(a) => a,
                Admission::NotRun(a) => {
                    eprintln!("{id} [{params}]: {} ({})", a.label(), a.reason());
                    seen.push((id, a.label()));
                    continue;
                }
                Admission::Failed(f) => {
                    eprintln!("{id} [{params}]: failed, not timed: {}", f.reason);
                    seen.push((id, "failed"));
                    continue;
                }
            };
            let bench_id = BenchmarkId::new(format!("{case}/{}", v.name()), &size);
            let timed = catch_unwind(AssertUnwindSafe(|| {
                group.bench_function(bench_id, |b| {
                    b.iter(|| black_box(admitted.prepared.run()).expect("a validated variant runs"))
                });
            }));
            match timed {
                Ok(()) => seen.push((id, "ok")),
                Err(p) => {
                    eprintln!(
                        "{id} [{params}]: failed while timed: {}",
                        gate::panic_message(&p)
                    );
                    seen.push((id, "failed"));
                }
            }
        }
    }
    group.finish();
    seen
}

/// The size parameter, plus any parameter that differs from the case's defaults.
fn size_label(k: &dyn DynKernel, case: &str, params: &kernels::Params) -> String {
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
