//! The pipeline kernel: `serial` is deconv's `fft` variant image by image (bit for bit) and
//! aiapy's output where deconv has a committed reference; every variant matches `serial`
//! at several sizes (GPU ones on the software adapter, tiny); timelines are well formed.

use kernels::io::read_output;
use kernels::registry;
use kernels::testing::{Outcome, against_variant, assert_passes, instance, missing_gpu_is_failure};
use kernels::{Availability, Event, Instance, Output, Strategy};

fn variants() -> Vec<&'static str> {
    registry::kernel("pipeline")
        .unwrap()
        .variants()
        .iter()
        .map(|v| v.name)
        .collect()
}

fn stack(overrides: &[(&str, f64)]) -> Box<dyn Instance> {
    instance("pipeline", "deconv-stack", overrides)
}

/// Runs `v` once; None (reason printed) when it cannot run here. A GPU variant skipped for
/// want of an adapter fails under HARNESS_REQUIRE_GPU=1.
fn run(inst: &dyn Instance, v: &str) -> Option<(Output, Vec<Event>)> {
    let a = inst.probe(v).unwrap();
    if !a.is_ready() {
        let gpu = inst.info(v).unwrap().strategy == Strategy::Gpu;
        assert!(
            !(gpu && missing_gpu_is_failure(&a)),
            "{v} is skipped ({}) but HARNESS_REQUIRE_GPU=1",
            a.reason()
        );
        eprintln!("pipeline/{v}: {} ({})", a.label(), a.reason());
        return None;
    }
    let mut p = inst.prepare(v).unwrap();
    p.run().unwrap_or_else(|e| panic!("{v}: {e}"));
    Some((p.output().unwrap(), p.events()))
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
            let single = instance(
                "deconv",
                "synthetic",
                &[
                    ("n", n),
                    ("seed", seed + m as f64),
                    ("iterations", iterations),
                ],
            );
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
        let mut p = single.prepare("fft").unwrap();
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
    let dir = kernels::io::references_dir().join("deconv");
    for (key, inst) in problems {
        let file = dir.join(format!("{key}_deconvolved.npy"));
        let aiapy = read_output(&[("deconvolved_00".to_string(), file)]).unwrap();
        for v in ["serial", "threads-over-images", "gpu-serial"] {
            if let Some((out, _)) = run(inst.as_ref(), v) {
                let check = inst.check(v, &out, &aiapy).unwrap();
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
fn cpu_variants_equal_serial_to_the_bit() {
    // threads-over-images runs serial's arithmetic per image, whichever thread takes it.
    let inst = stack(&[
        ("n", 32.0),
        ("images", 5.0),
        ("trace", 0.0),
        ("iterations", 3.0),
    ]);
    let (serial, _) = run(inst.as_ref(), "serial").unwrap();
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(3)
        .build()
        .unwrap();
    let (over, _) = pool.install(|| run(inst.as_ref(), "threads-over-images").unwrap());
    assert!(over.arrays == serial.arrays);
    // gpu-overlapped runs gpu-serial's submissions, in another order of host work.
    if let (Some((a, _)), Some((b, _))) = (
        run(inst.as_ref(), "gpu-serial"),
        run(inst.as_ref(), "gpu-overlapped"),
    ) {
        assert!(a.arrays == b.arrays, "gpu-serial and gpu-overlapped differ");
    }
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
        if !inst.probe(v).unwrap().is_ready() {
            continue;
        }
        let mut p = inst.prepare(v).unwrap();
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
