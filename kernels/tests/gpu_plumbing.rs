//! The GPU plumbing on whatever adapter is here (lavapipe in CI): buffers round-trip,
//! shader errors become `Err`, the pipeline cache, dispatch beyond 65 535 workgroups,
//! binding limits, timestamps. Without an adapter these tests pass with a note, unless
//! `HARNESS_REQUIRE_GPU=1`.

use kernels::gpu::{self, Binding, GpuContext, Timer, WGSL_FLAT_WORKGROUP};
mod common;

use common::gpu_required;

fn ctx() -> Option<&'static GpuContext> {
    match gpu::context() {
        Ok(c) => Some(c),
        Err(e) if gpu_required() => panic!("HARNESS_REQUIRE_GPU=1 but {e}"),
        Err(e) => {
            eprintln!("skipped: {e}");
            None
        }
    }
}

/// y[i] = 2·x[i] + 1 for i < n, one invocation per element, `WG` per workgroup.
fn affine_shader(wg: u32) -> String {
    format!(
        "{WGSL_FLAT_WORKGROUP}
@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> y: array<f32>;
@compute @workgroup_size({wg})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_id) lid: vec3<u32>) {{
    let i = flat_workgroup(wid, nwg) * {wg}u + lid.x;
    if (i >= arrayLength(&y)) {{ return; }}
    y[i] = 2.0 * x[i] + 1.0;
}}"
    )
}

#[test]
fn adapter_is_described() {
    let Some(c) = ctx() else { return };
    let a = gpu::adapter().unwrap();
    eprintln!("{a:?}");
    assert_eq!(a.backend, "Vulkan");
    assert!(!a.name.is_empty());
    assert_eq!(a.software, a.device_type == "Cpu");
    assert_eq!(a.shader_f64, c.has_f64());
    assert_eq!(a.timestamps, c.has_timestamps());
}

#[test]
fn buffers_round_trip() {
    let Some(c) = ctx() else { return };
    let data: Vec<f64> = (0..1001).map(|i| i as f64 * 0.1 - 7.0).collect();
    let b = c.storage_from("roundtrip", &data).unwrap();
    assert_eq!(c.read::<f64>(&b).unwrap(), data);
    c.write(&b, 8, &[42.0f64]).unwrap();
    assert_eq!(c.read::<f64>(&b).unwrap()[1], 42.0);
    // An odd number of bytes' worth is impossible with Element types, but empty arrays are fine.
    let empty = c.storage_from::<f32>("empty", &[]).unwrap();
    assert_eq!(empty.bytes(), 0);
    assert!(c.write(&b, 8 * 1001, &[1.0f64]).is_err());
}

#[test]
fn readbacks_larger_than_a_copy_chunk_arrive_whole_and_widened() {
    let Some(c) = ctx() else { return };
    // 3.3 MiB of f32: the host copy is shared out in 1 MiB chunks, the last one partial.
    let data: Vec<f32> = (0..865_000).map(|i| (i as f32).sin() * 1e3).collect();
    let b = c.storage_from("big", &data).unwrap();
    let readback = c.readback("big readback", b.bytes()).unwrap();
    for widened in [false, true] {
        let mut enc = c.encoder("big", None);
        enc.download(&b, &readback);
        enc.submit().unwrap();
        if widened {
            let mut out = vec![f64::NAN; data.len()];
            readback
                .read_converted(&mut out, |v: f32| v as f64)
                .unwrap();
            assert!(out.iter().zip(&data).all(|(&o, &d)| o == d as f64));
        } else {
            let mut out = vec![f32::NAN; data.len()];
            readback.read_into(&mut out).unwrap();
            assert_eq!(out, data);
        }
    }
    // More values than the buffer holds is an error, not a short read.
    let mut too_many = vec![0.0f64; data.len() + 1];
    assert!(
        readback
            .read_converted(&mut too_many, |v: f32| v as f64)
            .is_err()
    );
}

#[test]
fn uploads_larger_than_a_copy_chunk_arrive_whole() {
    let Some(c) = ctx() else { return };
    // 3.3 MiB written into the staging memory in 1 MiB ranges, the last one partial.
    let data: Vec<f32> = (0..865_001).map(|i| (i as f32).cos() * 1e3).collect();
    let staging = c.staging("big staging", 4 * data.len() as u64).unwrap();
    let device = c.storage("big", 4 * data.len() as u64).unwrap();
    staging.write(&data).unwrap();
    let mut enc = c.encoder("big upload", None);
    enc.upload(&staging, &device);
    enc.submit().unwrap();
    assert_eq!(c.read::<f32>(&device).unwrap(), data);
    // More than the staging memory holds is an error.
    assert!(staging.write(&[data.as_slice(), &[1.0]].concat()).is_err());
}

#[test]
fn a_shader_error_is_an_err_with_the_message() {
    let Some(c) = ctx() else { return };
    let err = c
        .pipeline(
            "broken",
            "@compute @workgroup_size(1) fn main() { let x: f32 = undefined_thing; }",
            "main",
            &[],
        )
        .err()
        .expect("an undefined identifier must not compile");
    assert!(err.0.contains("undefined_thing"), "{err}");
    // A binding the shader declares differently from the layout is a validation error too.
    let err = c
        .pipeline(
            "mismatch",
            &affine_shader(64),
            "main",
            &[Binding::ReadOnly, Binding::Uniform],
        )
        .err()
        .expect("layout mismatch");
    assert!(err.0.contains("mismatch"), "{err}");
    // The device is still usable afterwards.
    let b = c.storage_from("after", &[1.0f32, 2.0]).unwrap();
    assert_eq!(c.read::<f32>(&b).unwrap(), vec![1.0, 2.0]);
}

#[test]
fn the_pipeline_cache_compiles_once_per_name() {
    let Some(c) = ctx() else { return };
    let bindings = [Binding::ReadOnly, Binding::ReadWrite];
    let a = c
        .pipeline("cache-affine", &affine_shader(64), "main", &bindings)
        .unwrap();
    let b = c
        .pipeline("cache-affine", &affine_shader(64), "main", &bindings)
        .unwrap();
    assert!(std::sync::Arc::ptr_eq(&a, &b));
    assert!(
        c.pipeline("cache-affine", &affine_shader(32), "main", &bindings)
            .is_err()
    );
}

#[test]
fn dispatch_beyond_65535_workgroups_and_stage_timing() {
    let Some(c) = ctx() else { return };
    // Workgroups of one invocation: 70 001 elements need more than 65 535 workgroups in x.
    let n = 70_001usize;
    let x: Vec<f32> = (0..n).map(|i| (i % 1000) as f32).collect();
    let pipeline = c
        .pipeline(
            "affine-wg1",
            &affine_shader(1),
            "main",
            &[Binding::ReadOnly, Binding::ReadWrite],
        )
        .unwrap();
    let input = c.storage("x", 4 * n as u64).unwrap();
    let output = c.storage("y", 4 * n as u64).unwrap();
    let staging = c.staging("x staging", 4 * n as u64).unwrap();
    let readback = c.readback("y readback", 4 * n as u64).unwrap();
    let bind = c
        .bind(&pipeline, &[(&input).into(), (&output).into()])
        .unwrap();
    let mut timer = Timer::new(c, 4).unwrap();
    let mut y = vec![f32::NAN; n];
    for _ in 0..2 {
        timer.reset();
        timer.time("upload", || staging.write(&x)).unwrap();
        let mut enc = c.encoder("affine", Some(&mut timer));
        enc.stage("upload");
        enc.upload(&staging, &input);
        enc.stage("compute");
        enc.dispatch(&pipeline, &bind, n as u32);
        enc.stage("download");
        enc.download(&output, &readback);
        enc.submit().unwrap();
        timer
            .time("download", || readback.read_into(&mut y))
            .unwrap();
    }
    for (i, (&a, &b)) in x.iter().zip(&y).enumerate() {
        assert_eq!(b, 2.0 * a + 1.0, "element {i}");
    }
    let stages = timer.stages();
    eprintln!("{stages:?}");
    let names: Vec<_> = stages.iter().map(|s| s.name).collect();
    // With timestamps: device copies and dispatch plus host staging; without: host times,
    // the submission counting as compute.
    assert_eq!(names, ["upload", "compute", "download"]);
    assert!(stages.iter().all(|s| s.time.as_nanos() > 0), "{stages:?}");
}

#[test]
fn ranges_of_a_buffer_bind_as_chunks() {
    let Some(c) = ctx() else { return };
    // The binding limit, with a clear error, without allocating that much.
    let err = c
        .check_binding("a huge array", c.max_binding_bytes() + 4)
        .unwrap_err();
    assert!(err.0.contains("GpuContext::chunks"), "{err}");
    // Bind the second half of a buffer (offset 256-aligned) and transform only that.
    let n = 512usize;
    let x: Vec<f32> = (0..n).map(|i| i as f32).collect();
    let pipeline = c
        .pipeline(
            "affine-wg64",
            &affine_shader(64),
            "main",
            &[Binding::ReadOnly, Binding::ReadWrite],
        )
        .unwrap();
    let input = c.storage_from("x", &x).unwrap();
    let output = c.storage_from("y", &vec![0.0f32; n]).unwrap();
    let half = (n / 2 * 4) as u64;
    let bind = c
        .bind(
            &pipeline,
            &[input.slice(half..2 * half), output.slice(half..2 * half)],
        )
        .unwrap();
    let mut enc = c.encoder("chunk", None);
    enc.dispatch(&pipeline, &bind, (n as u32 / 2).div_ceil(64));
    enc.submit().unwrap();
    let y = c.read::<f32>(&output).unwrap();
    for i in 0..n {
        let want = if i < n / 2 { 0.0 } else { 2.0 * x[i] + 1.0 };
        assert_eq!(y[i], want, "{i}");
    }
    // A misaligned offset is an error, not a panic.
    assert!(
        c.bind(&pipeline, &[input.slice(4..half), output.slice(0..half)])
            .is_err()
    );
}
