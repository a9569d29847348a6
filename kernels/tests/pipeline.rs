//! The pipeline kernel: `serial` is deconv's `fft` variant image by image (bit for bit) and
//! aiapy's output where deconv has a committed reference; every variant matches `serial`
//! at several sizes (GPU ones on the software adapter, tiny); timelines are well formed.

use kernels::io::read_output;
use kernels::registry;
mod common;

use common::{Outcome, against_variant, assert_passes, instance};
use kernels::{Availability, Event, Instance, Output};

fn variants() -> Vec<&'static str> {
    common::variants("pipeline")
}

fn stack(overrides: &[(&str, f64)]) -> Box<dyn Instance> {
    instance("pipeline", "deconv-stack", overrides)
}

/// Runs `v` once; None (reason printed) when it cannot run here. A GPU variant skipped for
/// want of an adapter fails under HARNESS_REQUIRE_GPU=1.
fn run(inst: &dyn Instance, v: &str) -> Option<(Output, Vec<Event>)> {
    if common::not_run(inst, common::variant(inst, v)).is_some() {
        return None;
    }
    let mut p = common::prepare(inst, v);
    p.run().unwrap_or_else(|e| panic!("{v}: {e}"));
    Some((p.output().unwrap(), p.events()))
}

/// deconv's single-image problem that image `seed` of a synthetic stack is.
fn synthetic_image(n: f64, seed: f64, iterations: f64) -> Box<dyn Instance> {
    instance(
        "deconv",
        "synthetic",
        &[("n", n), ("seed", seed), ("iterations", iterations)],
    )
}

fn trace_exists() -> bool {
    kernels::deconv::scene::trace_path().exists()
}

#[test]
fn serial_is_deconvs_fft_variant_image_by_image() {
    // Same parameters, one image at a time through deconv's own kernel: equal to the bit.
    let (n, k, seed, iterations) = (32.0, 3, 7.0, 4.0);
    let inst = stack(&[
        ("n", n),
        ("images", k as f64),
        ("trace", 2.0),
        ("seed", seed),
        ("iterations", iterations),
    ]);
    let (out, _) = run(inst.as_ref(), "serial").unwrap();
    let mut singles: Vec<(String, Box<dyn Instance>)> = (0..k)
        .map(|m| {
            let single = synthetic_image(n, seed + m as f64, iterations);
            (format!("synthetic seed {}", seed + m as f64), single)
        })
        .collect();
    if trace_exists() {
        for _ in 0..2 {
            let single = instance("deconv", "trace", &[("n", n), ("iterations", iterations)]);
            singles.push(("trace".into(), single));
        }
    }
    assert_eq!(out.arrays.len(), singles.len());
    for (m, (what, single)) in singles.iter().enumerate() {
        let mut p = common::prepare(&**single, "fft");
        p.run().unwrap();
        let want = p.output().unwrap().get("deconvolved").unwrap().clone();
        let got = &out.arrays[m];
        assert_eq!(got.0, format!("deconvolved_{m:02}"));
        assert!(got.1 == want, "image {m} ({what}) differs from deconv/fft");
    }
}

#[test]
fn serial_and_gpu_match_aiapy_where_deconv_has_a_reference() {
    // deconv's committed aiapy outputs: synthetic seed 1 at 64², TRACE at 128² (25
    // iterations, AIA 171 Å). A one-image stack with those parameters is that problem.
    let mut problems = vec![(
        "synthetic_n64",
        stack(&[("n", 64.0), ("images", 1.0), ("trace", 0.0)]),
    )];
    if trace_exists() {
        problems.push((
            "trace_n128",
            stack(&[("n", 128.0), ("images", 0.0), ("trace", 1.0)]),
        ));
    }
    let dir = kernels::io::references_dir().unwrap().join("deconv");
    for (key, inst) in problems {
        let file = dir.join(format!("{key}_deconvolved.npy"));
        let aiapy = read_output(&[("deconvolved_00".to_string(), file)]).unwrap();
        for v in ["serial", "threads-over-images", "gpu-serial"] {
            if let Some((out, _)) = run(inst.as_ref(), v) {
                let check = common::check(&*inst, v, &out, &aiapy);
                assert_passes(Outcome::Checked(check), &format!("{key}/{v} vs aiapy"));
            }
        }
    }
}

#[test]
fn every_variant_matches_serial() {
    // Power-of-two sides (the GPU variants run), a side that is not one (they are n/a),
    // odd sizes with a Gaussian PSF, one image alone, more images than threads.
    let problems: [&[(&str, f64)]; 5] = [
        &[
            ("n", 32.0),
            ("images", 3.0),
            ("trace", 1.0),
            ("iterations", 3.0),
        ],
        &[
            ("n", 16.0),
            ("images", 5.0),
            ("trace", 0.0),
            ("iterations", 2.0),
            ("seed", 11.0),
        ],
        &[
            ("n", 24.0),
            ("images", 4.0),
            ("trace", 1.0),
            ("iterations", 2.0),
        ],
        &[
            ("n", 15.0),
            ("images", 3.0),
            ("trace", 0.0),
            ("sigma", 1.5),
            ("iterations", 3.0),
        ],
        &[
            ("n", 64.0),
            ("images", 1.0),
            ("trace", 0.0),
            ("iterations", 2.0),
        ],
    ];
    for overrides in problems {
        let inst = stack(overrides);
        for v in variants().into_iter().filter(|v| *v != "serial") {
            let what = format!("pipeline/{v} {overrides:?}");
            let outcome = against_variant(inst.as_ref(), v, "serial");
            if let Outcome::NotRun(a) = &outcome {
                let not_applicable = matches!(a, Availability::NotApplicable(_));
                if matches!(v, "vectorised" | "fft") {
                    assert!(not_applicable, "{what}");
                }
                if v.starts_with("gpu") && overrides[0].1 == 24.0 {
                    assert!(not_applicable, "{what}: {a:?}");
                }
            }
            assert_passes(outcome, &what);
        }
    }
}

#[test]
fn cpu_variants_equal_their_engines_to_the_bit() {
    // threads-over-images runs each image on one thread with the lanes arithmetic where
    // both sides stay in lanes: threads-inside-image's, whatever the thread counts.
    let inst = stack(&[
        ("n", 32.0),
        ("images", 5.0),
        ("trace", 0.0),
        ("iterations", 3.0),
    ]);
    let (inside, _) = run(inst.as_ref(), "threads-inside-image").unwrap();
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(3)
        .build()
        .unwrap();
    let (over, _) = pool.install(|| run(inst.as_ref(), "threads-over-images").unwrap());
    assert!(
        over.arrays == inside.arrays,
        "over-images differs from inside-image"
    );
    // A side with a prime factor above 7 (22 = 2·11, 13): rustfft's fft engine, serial's.
    let odd = stack(&[
        ("rows", 22.0),
        ("cols", 13.0),
        ("images", 3.0),
        ("trace", 0.0),
        ("sigma", 1.5),
        ("iterations", 3.0),
    ]);
    let (serial, _) = run(odd.as_ref(), "serial").unwrap();
    let (over, _) = pool.install(|| run(odd.as_ref(), "threads-over-images").unwrap());
    assert!(
        over.arrays == serial.arrays,
        "over-images at 22×13 differs from serial"
    );
    // gpu-overlapped runs gpu-serial's submissions, in another order of host work.
    if let (Some((a, _)), Some((b, _))) = (
        run(inst.as_ref(), "gpu-serial"),
        run(inst.as_ref(), "gpu-overlapped"),
    ) {
        assert!(a.arrays == b.arrays, "gpu-serial and gpu-overlapped differ");
    }
}

/// The pipeline problem of `overrides` (for the GPU stack's own API).
fn problem(overrides: &[(&str, f64)]) -> kernels::pipeline::PipelineProblem {
    use kernels::Kernel;
    use kernels::pipeline::Pipeline;
    let mut params = kernels::Params::defaults(Pipeline::params());
    for &(name, value) in overrides {
        params = params.with(name, value);
    }
    Pipeline::problem("deconv-stack", &params, &[]).unwrap()
}

#[test]
fn gpu_serial_is_deconvs_gpu_f32_image_by_image() {
    // The same plan, shaders and f32 roundings as deconv's gpu-f32: equal to the bit.
    let (n, k, seed, iterations) = (32.0, 3, 5.0, 4.0);
    let inst = stack(&[
        ("n", n),
        ("images", k as f64),
        ("trace", 0.0),
        ("seed", seed),
        ("iterations", iterations),
    ]);
    let Some((out, _)) = run(inst.as_ref(), "gpu-serial") else {
        return;
    };
    for m in 0..k {
        let single = synthetic_image(n, seed + m as f64, iterations);
        let Some((want, _)) = run(single.as_ref(), "gpu-f32") else {
            return;
        };
        let want = want.get("deconvolved").unwrap();
        assert!(
            out.arrays[m].1 == *want,
            "image {m} differs from deconv/gpu-f32"
        );
    }
}

#[test]
fn gpu_stack_runs_the_fused_path_and_counts_its_passes() {
    // deconv's plan through the stack that was built: 4 global-memory passes per iteration
    // on the fused path; forced onto the Stockham fallback, 4 transforms of 6 passes (64²)
    // and 4 element-wise passes. Both engines match serial, 3 slots in flight.
    use kernels::deconv::engine::gpu::Path;
    use kernels::pipeline::device::GpuStack;
    use kernels::pipeline::{Clock, Stack, Timeline};
    let overrides = [
        ("n", 64.0),
        ("images", 4.0),
        ("trace", 0.0),
        ("iterations", 3.0),
    ];
    let inst = stack(&overrides);
    if run(inst.as_ref(), "gpu-serial").is_none() {
        return;
    }
    let p = problem(&overrides);
    let (serial, _) = run(inst.as_ref(), "serial").unwrap();
    let cases = [
        (false, Path::Fused, 4),
        (true, Path::Stockham { fft_passes: 6 }, 28),
    ];
    for (stockham, path, passes) in cases {
        let mut gpu = match stockham {
            false => GpuStack::new(&p, 3),
            true => GpuStack::stockham(&p, 3),
        }
        .unwrap();
        assert_eq!(gpu.path(), path);
        assert_eq!(gpu.path().global_passes_per_iteration(), passes);
        let (out, timeline) = (Stack::new(&p), Timeline::default());
        let mut next = 0..p.len();
        gpu.process(&p.images, || next.next(), &out, &timeline, Clock::start())
            .unwrap();
        let check = common::check(&*inst, "gpu-overlapped", &p.output(&out), &serial);
        assert_passes(Outcome::Checked(check), &format!("{path:?} vs serial"));
        assert_eq!(timeline.events().len(), 3 * p.len(), "{path:?}: a timeline");
    }
}

#[test]
fn workers_over_images_use_lanes_where_both_sides_stay_in_lanes() {
    use kernels::Kernel;
    use kernels::deconv::Deconv;
    use kernels::deconv::engine::Worker;
    let worker = |rows: f64, cols: f64| {
        let params = kernels::Params::defaults(Deconv::params())
            .with("rows", rows)
            .with("cols", cols)
            .with("sigma", 1.5);
        Worker::new(&Deconv::problem("synthetic", &params, &[]).unwrap()).name()
    };
    for (rows, cols) in [(16.0, 30.0), (15.0, 20.0), (24.0, 9.0), (7.0, 7.0)] {
        assert_eq!(worker(rows, cols), "lanes", "{rows}×{cols}");
    }
    for (rows, cols) in [(22.0, 13.0), (16.0, 11.0), (254.0, 16.0)] {
        assert_eq!(worker(rows, cols), "fft", "{rows}×{cols}");
    }
}

#[test]
fn every_variant_matches_serial_at_rectangles() {
    // Odd and even sides, rows W-divisible or not, C odd or even; 16×32 has power-of-two
    // sides (the GPU variants run), the others do not (they say n/a). The TRACE crop is
    // the rectangle too.
    for (rows, cols) in [(15.0, 20.0), (24.0, 9.0), (16.0, 30.0), (16.0, 32.0)] {
        let inst = stack(&[
            ("rows", rows),
            ("cols", cols),
            ("images", 2.0),
            ("trace", 1.0),
            ("sigma", 1.5),
            ("iterations", 3.0),
        ]);
        let (serial, _) = run(inst.as_ref(), "serial").unwrap();
        let shape = [rows as usize, cols as usize];
        assert!(serial.arrays.iter().all(|(_, a)| a.shape() == shape));
        for v in variants().into_iter().filter(|v| *v != "serial") {
            let what = format!("pipeline/{v} at {rows}×{cols}");
            let outcome = against_variant(inst.as_ref(), v, "serial");
            if let Outcome::NotRun(a) = &outcome {
                let not_applicable = matches!(a, Availability::NotApplicable(_));
                if !v.starts_with("gpu") && v != "hybrid" {
                    assert!(
                        not_applicable == matches!(v, "vectorised" | "fft"),
                        "{what}: {a:?}"
                    );
                }
                if v.starts_with("gpu") && cols != 32.0 {
                    assert!(not_applicable, "{what}: {a:?}");
                }
            }
            assert_passes(outcome, &what);
        }
    }
}

#[test]
fn rectangles_are_labelled_and_need_a_gaussian_psf() {
    use kernels::Kernel;
    use kernels::pipeline::Pipeline;
    let problem = |overrides: &[(&str, f64)]| {
        let mut params = kernels::Params::defaults(Pipeline::params())
            .with("images", 2.0)
            .with("trace", 0.0)
            .with("iterations", 1.0);
        for &(name, value) in overrides {
            params = params.with(name, value);
        }
        Pipeline::problem("deconv-stack", &params, &[])
    };
    let p = problem(&[("rows", 12.0), ("cols", 20.0), ("sigma", 1.5)]).unwrap();
    assert!(p.label.contains("2 synthetic 12×20"), "{}", p.label);
    assert_eq!((p.first().rows(), p.first().cols()), (12, 20));
    // --cols alone: n × cols.
    let p = problem(&[("n", 12.0), ("cols", 20.0), ("sigma", 1.5)]).unwrap();
    assert_eq!((p.first().rows(), p.first().cols()), (12, 20));
    // The AIA PSF (sigma 0) is square only: the error says to give --sigma.
    let err = problem(&[("rows", 12.0), ("cols", 20.0)])
        .unwrap_err()
        .to_string();
    assert!(err.contains("--sigma") && err.contains("12×20"), "{err}");
}

/// The events of one lane, indexed by image (exactly one per image).
fn lane(events: &[Event], name: &str, k: usize) -> Vec<Event> {
    let mut out: Vec<Option<Event>> = vec![None; k];
    for e in events.iter().filter(|e| e.lane == name) {
        assert!(
            out[e.image].is_none(),
            "two {name} events for image {}",
            e.image
        );
        out[e.image] = Some(e.clone());
    }
    out.into_iter()
        .enumerate()
        .map(|(m, e)| e.unwrap_or_else(|| panic!("no {name} event for image {m}")))
        .collect()
}

#[test]
fn timelines_are_well_formed() {
    let k = 4;
    let inst = stack(&[
        ("n", 16.0),
        ("images", k as f64),
        ("trace", 0.0),
        ("iterations", 2.0),
    ]);
    for v in variants() {
        let Some((_, events)) = run(inst.as_ref(), v) else {
            continue;
        };
        for e in &events {
            assert!(e.start <= e.end, "{v}: {e:?}");
            assert!(
                ["upload", "compute", "download", "cpu"].contains(&e.lane),
                "{v}: {e:?}"
            );
            assert!(e.image < k, "{v}: {e:?}");
        }
        match v {
            "serial" | "threads-inside-image" => {
                let cpu = lane(&events, "cpu", k);
                for m in 1..k {
                    assert!(
                        cpu[m].start >= cpu[m - 1].end,
                        "{v}: one image after another"
                    );
                }
            }
            "threads-over-images" => {
                lane(&events, "cpu", k);
            }
            "gpu-serial" | "gpu-overlapped" => {
                let (up, comp, down) = (
                    lane(&events, "upload", k),
                    lane(&events, "compute", k),
                    lane(&events, "download", k),
                );
                for m in 0..k {
                    assert!(
                        up[m].end <= comp[m].start,
                        "{v}: image {m} computed before its upload"
                    );
                    assert!(
                        comp[m].end <= down[m].start,
                        "{v}: image {m} read before computed"
                    );
                    if m > 0 {
                        assert!(comp[m].start >= comp[m - 1].end, "{v}: one queue");
                    }
                }
                for m in 1..k {
                    if v == "gpu-serial" {
                        // Strictly in turn: nothing of image m before m−1 is back.
                        assert!(up[m].start >= down[m - 1].end, "{v}: image {m}");
                    } else {
                        // Overlapped: image m is staged and queued while m−1 computes.
                        assert!(
                            up[m].start < comp[m - 1].end,
                            "{v}: image {m} not overlapped"
                        );
                    }
                }
            }
            "hybrid" => {
                // Every image done exactly once, by the GPU or by a CPU worker.
                for m in 0..k {
                    let by: Vec<_> = events
                        .iter()
                        .filter(|e| e.image == m && (e.lane == "cpu" || e.lane == "compute"))
                        .collect();
                    assert_eq!(by.len(), 1, "hybrid: image {m} done {} times", by.len());
                }
            }
            other => panic!("{other}: add its timeline's invariants here"),
        }
    }
}

#[test]
fn gpu_variants_report_their_stages() {
    let inst = stack(&[
        ("n", 16.0),
        ("images", 3.0),
        ("trace", 0.0),
        ("iterations", 1.0),
    ]);
    for v in ["gpu-serial", "gpu-overlapped", "hybrid"] {
        if !common::probe(&*inst, v).is_ready() {
            continue;
        }
        let mut p = common::prepare(&*inst, v);
        p.run().unwrap();
        let names: Vec<_> = p.stages().iter().map(|s| s.name).collect();
        for stage in ["upload", "compute", "download"] {
            assert!(names.contains(&stage), "{v}: {names:?}");
        }
    }
}

#[test]
fn work_counts_images_and_the_label_says_what_the_stack_is() {
    let inst = stack(&[
        ("n", 16.0),
        ("images", 3.0),
        ("trace", 2.0),
        ("iterations", 2.0),
    ]);
    let single = instance("deconv", "synthetic", &[("n", 16.0), ("iterations", 2.0)]);
    let k = if trace_exists() { 5.0 } else { 3.0 };
    assert_eq!(inst.work().items, k);
    assert_eq!(inst.work().flops, k * single.work().flops);
    let empty = registry::kernel("pipeline").unwrap().instance(
        "deconv-stack",
        &registry::kernel("pipeline")
            .unwrap()
            .defaults("deconv-stack")
            .with("images", 0.0)
            .with("trace", 0.0),
        &[],
    );
    assert!(empty.is_err(), "an empty stack is refused");
}

#[test]
fn hybrids_tail_rule_takes_an_image_only_if_it_ends_no_later() {
    use kernels::pipeline::hybrid::{Side, claim};
    // Times in ms (whole numbers: the ties below are exact).
    let side = |per_image: f64, lanes: usize, committed: usize| Side {
        per_image,
        lanes,
        committed,
    };
    // A CPU worker asks for itself: one free lane.
    let worker = |c: f64| side(c, 1, 0);

    // GPU 10× slower than a CPU worker (lavapipe's case): g = 10, c = 1, two CPU workers.
    let (g, c) = (10.0, 1.0);
    // Idle, against the CPU side doing all 6: 10 > ⌈6/2⌉·1 = 3, so it stays out...
    assert!(!claim(side(g, 1, 0), side(c, 2, 0), 6));
    // ...while the CPU workers take every image, even the last one.
    assert!(claim(worker(c), side(g, 1, 0), 6));
    assert!(claim(worker(c), side(g, 1, 0), 1));
    // A long stack is worth its help: 10 ≤ ⌈30/2⌉ = 15...
    assert!(claim(side(g, 1, 0), side(c, 2, 0), 30));
    // ...but 3 in flight are 3 images committed: a 4th would be done at 40 > 15.
    assert!(!claim(side(g, 1, 3), side(c, 2, 0), 30));
    // The CPU side's held images count: 10 ≤ ⌈(2 + 18)/2⌉ = 10 (a tie takes).
    assert!(claim(side(g, 1, 0), side(c, 2, 2), 18));

    // GPU 10× faster (a real GPU's case): g = 1, c = 10.
    let (g, c) = (1.0, 10.0);
    // A CPU worker stays out of a short stack: 10 > (0 + 6)·1...
    assert!(!claim(worker(c), side(g, 1, 0), 6));
    // ...and joins a long one: 10 ≤ (3 in flight + 7)·1 = 10.
    assert!(claim(worker(c), side(g, 1, 3), 7));
    assert!(!claim(worker(c), side(g, 1, 3), 6));
    // The GPU takes even the last image with 2 in flight: (2 + 1)·1 ≤ 10.
    assert!(claim(side(g, 1, 2), side(c, 4, 0), 1));

    // Equal speeds: both take in the middle of a stack, and either the last image when
    // both are free (a tie)...
    let e = 5.0;
    assert!(claim(side(e, 1, 2), side(e, 1, 0), 6));
    assert!(claim(worker(e), side(e, 1, 2), 6));
    assert!(claim(side(e, 1, 0), worker(e), 1));
    assert!(claim(worker(e), side(e, 1, 0), 1));
    // ...but a GPU holding 2 leaves the last one to the free CPU worker: 15 > 5.
    assert!(!claim(side(e, 1, 2), side(e, 1, 0), 1));
    assert!(claim(worker(e), side(e, 1, 2), 1));

    // A side that has stopped (no lanes) never finishes: the other takes everything left,
    // however slow. Nothing left: nobody takes.
    assert!(claim(side(1000.0, 1, 3), side(1.0, 0, 0), 1));
    assert!(!claim(side(1.0, 1, 0), side(1000.0, 1, 0), 0));
}

#[test]
fn hybrids_times_per_image_come_from_the_timeline() {
    use kernels::pipeline::hybrid::PerImage;
    use std::time::Duration;
    let ms = Duration::from_millis;
    let event = |lane, image, start, end| Event {
        lane,
        image,
        start: ms(start),
        end: ms(end),
    };
    // CPU: images of 4 and 6 ms (mean 5). GPU: 3 images from the first upload (1 ms) to
    // the last download (31 ms): 10 ms each, whatever the overlap inside.
    let mut events = vec![event("cpu", 0, 0, 4), event("cpu", 1, 4, 10)];
    for (m, t) in [(2, 1), (3, 11), (4, 21)] {
        events.push(event("upload", m, t, t + 1));
        events.push(event("compute", m, t + 1, t + 9));
        events.push(event("download", m, t + 9, t + 10));
    }
    let (cpu, gpu) = PerImage::measured(&events);
    assert!((cpu.unwrap() - 0.005).abs() < 1e-12, "{cpu:?}");
    assert!((gpu.unwrap() - 0.010).abs() < 1e-12, "{gpu:?}");
    // A side that did no image measured nothing.
    let (cpu, gpu) = PerImage::measured(&events[..2]);
    assert!(cpu.is_some() && gpu.is_none());
    assert_eq!(PerImage::measured(&[]), (None, None));
}

#[test]
fn hybrid_does_every_image_once_with_one_or_many_workers() {
    // One pool thread (one CPU worker) and more threads than images: whichever side the
    // rule picks, every image is done once and matches serial.
    let inst = stack(&[
        ("n", 16.0),
        ("images", 3.0),
        ("trace", 0.0),
        ("iterations", 2.0),
    ]);
    for threads in [1, 5] {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        pool.install(|| {
            let what = format!("pipeline/hybrid on {threads} thread(s)");
            assert_passes(against_variant(inst.as_ref(), "hybrid", "serial"), &what);
            if let Some((_, events)) = run(inst.as_ref(), "hybrid") {
                for m in 0..3 {
                    let by = events
                        .iter()
                        .filter(|e| e.image == m && (e.lane == "cpu" || e.lane == "compute"))
                        .count();
                    assert_eq!(by, 1, "{what}: image {m} done {by} times");
                }
            }
        });
    }
}

#[test]
fn hybrid_with_a_side_that_is_never_worth_it_is_the_other_side_alone() {
    // The rule's times given, not measured: which side does what is then certain.
    use kernels::Kernel;
    use kernels::pipeline::hybrid::{Hybrid, PerImage};
    use kernels::pipeline::{Pipeline, PipelineProblem};
    let overrides = [
        ("n", 16.0),
        ("images", 4.0),
        ("trace", 0.0),
        ("iterations", 2.0),
    ];
    let inst = stack(&overrides);
    if run(inst.as_ref(), "hybrid").is_none() {
        return;
    }
    let mut params = kernels::Params::defaults(Pipeline::params());
    for (name, value) in overrides {
        params = params.with(name, value);
    }
    let p: PipelineProblem = Pipeline::problem("deconv-stack", &params, &[]).unwrap();
    let (serial, _) = run(inst.as_ref(), "serial").unwrap();
    let cases = [
        (
            "a free GPU: it does all",
            PerImage { cpu: 1.0, gpu: 0.0 },
            "compute",
        ),
        (
            "a GPU 100× slower: the CPU does all",
            PerImage {
                cpu: 1.0,
                gpu: 100.0,
            },
            "cpu",
        ),
    ];
    for (what, times, only) in cases {
        let mut prepared = Hybrid::prepare_with(&p, times).unwrap();
        prepared.run().unwrap();
        let check = common::check(&*inst, "hybrid", &prepared.output().unwrap(), &serial);
        assert_passes(Outcome::Checked(check), what);
        let events = prepared.events();
        let done: Vec<usize> = lane(&events, only, 4).iter().map(|e| e.image).collect();
        assert_eq!(done, [0, 1, 2, 3], "{what}");
        let other = if only == "cpu" { "compute" } else { "cpu" };
        assert!(events.iter().all(|e| e.lane != other), "{what}: {events:?}");
    }
}
