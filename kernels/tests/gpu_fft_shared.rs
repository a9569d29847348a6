//! The shared-memory FFT (kernels::gpu::fft_shared) against rustfft and against the Stockham
//! path (kernels::gpu::fft): batched rows at every power of two from 2 to 4096, grids,
//! forward and inverse, f32 and f64 (where the adapter's workgroup memory holds the row:
//! queried, printed); real rows (r2c, c2r) against rustfft; and the plans' global-memory
//! pass counts, so that a regression to more passes fails.
//!
//! Tolerance: the same bound as tests/gpu_fft.rs (Higham, Thm 24.2): a radix-2 FFT with
//! twiddles rounded once from f64 has relative RMS error ≤ 7·log₂(n)·u (u = 2⁻²⁴ in f32,
//! 2⁻⁵³ in f64): the error grows with the number of butterfly levels, log₂ n. A real row
//! of 2n points adds one untangling level (one complex product and two sums per bin), so
//! its bound uses log₂(2n) + 1 levels. Against Stockham, both sides carry their own error:
//! twice the bound.

use kernels::Precision;
use kernels::gpu::GpuContext;
use kernels::gpu::fft::{Direction, GpuFft, Shape};
use kernels::gpu::fft_shared::{Fft2d, SharedFft, SharedReal, fits};
mod common;

use common::fft::{ctx, on_gpu, precisions, random, reference, relative_rms, unit_roundoff};
use num_complex::Complex64;

/// Shared vs rustfft and vs Stockham, both directions, at `shape` with `levels` = log₂ of
/// the transform size.
fn check(c: &'static GpuContext, p: Precision, shape: Shape, levels: u32, seed: u64) {
    let shared = SharedFft::new(c, p, shape).unwrap();
    let stockham = GpuFft::new(c, p, shape).unwrap();
    let x = random(shape.len(), seed, p);
    let bound = 7.0 * levels.max(1) as f64 * unit_roundoff(p);
    for d in [Direction::Forward, Direction::Inverse] {
        let got = on_gpu(
            p,
            &x,
            |v| shared.run_host(v, d).unwrap(),
            |v| shared.run_host(v, d).unwrap(),
        );
        let old = on_gpu(
            p,
            &x,
            |v| stockham.run_host(v, d).unwrap(),
            |v| stockham.run_host(v, d).unwrap(),
        );
        let want = reference(&x, shape, d);
        let (err, vs_old) = (relative_rms(&got, &want), relative_rms(&got, &old));
        eprintln!("{shape:?} {p} {d:?}: {err:.2e} vs rustfft, {vs_old:.2e} vs Stockham");
        assert!(err <= bound, "{shape:?} {p} {d:?}: {err:e} > {bound:e}");
        assert!(
            vs_old <= 2.0 * bound,
            "{shape:?} {p} {d:?}: {vs_old:e} vs Stockham"
        );
    }
}

#[test]
fn rows_of_every_power_of_two_match_rustfft_and_stockham() {
    let Some(c) = ctx() else { return };
    eprintln!(
        "{}: {} bytes of workgroup memory",
        c.summary().name,
        c.max_workgroup_storage_bytes()
    );
    for p in precisions(c) {
        for log2 in 1..=12u32 {
            let n = 1usize << log2;
            if !fits(c, p, n) {
                eprintln!("{p} n = {n}: does not fit workgroup memory (Stockham fallback)");
                assert!(SharedFft::new(c, p, Shape::Rows { batch: 1, n }).is_err());
                continue;
            }
            let batch = (4096 / n).clamp(1, 3);
            check(c, p, Shape::Rows { batch, n }, log2, log2 as u64);
        }
    }
    // f32 must reach 4096 points on any adapter with WebGPU's 16 KiB default? No: 4096·8 =
    // 32 KiB. Every Vulkan adapter we target (lavapipe, NVIDIA) offers at least that.
    assert!(fits(c, Precision::F32, 4096), "f32 rows of 4096 must fit");
}

#[test]
fn grids_match_rustfft_and_stockham() {
    let Some(c) = ctx() else { return };
    for p in precisions(c) {
        check(c, p, Shape::Grid { rows: 64, cols: 64 }, 12, 64);
        let tall = Shape::Grid {
            rows: 256,
            cols: 32,
        };
        check(c, p, tall, 13, 256);
    }
}

/// Real rows of `cols` points: r2c against rustfft's first cols/2 + 1 bins, and c2r of
/// that spectrum back to cols·x.
fn check_real(c: &'static GpuContext, p: Precision, rows: usize, cols: usize) {
    let n = cols / 2;
    let plan = SharedReal::new(c, p, rows, cols).unwrap();
    // Real values: the real parts of `random`, in pairs as the GPU reads them.
    let x: Vec<f64> = random(rows * cols, cols as u64, p)
        .iter()
        .map(|v| v.re)
        .collect();
    let mut spectrum_want = Vec::with_capacity(rows * (n + 1));
    for row in x.chunks(cols) {
        let z: Vec<Complex64> = row.iter().map(|&v| Complex64::new(v, 0.0)).collect();
        let shape = Shape::Rows { batch: 1, n: cols };
        spectrum_want.extend_from_slice(&reference(&z, shape, Direction::Forward)[..=n]);
    }
    let levels = cols.trailing_zeros() as f64 + 1.0;
    let bound = 7.0 * levels * unit_roundoff(p);
    let (spectrum, back) = match p {
        Precision::F32 => real_round_trip::<f32>(&plan, &x, cols),
        Precision::F64 => real_round_trip::<f64>(&plan, &x, cols),
    };
    let err = relative_rms(&spectrum, &spectrum_want);
    let want_back: Vec<Complex64> = x
        .iter()
        .map(|&v| Complex64::new(cols as f64 * v, 0.0))
        .collect();
    let back_err = relative_rms(&back, &want_back);
    eprintln!("real {rows}×{cols} {p}: r2c {err:.2e}, c2r∘r2c {back_err:.2e} (bound {bound:.1e})");
    assert!(err <= bound, "r2c {rows}×{cols} {p}: {err:e} > {bound:e}");
    // The round trip: two transforms, each within its bound.
    assert!(
        back_err <= 2.0 * bound,
        "c2r {rows}×{cols} {p}: {back_err:e}"
    );
}

/// r2c of `x`, then c2r of the device's spectrum: (spectrum, 2n·x as complex).
fn real_round_trip<R>(plan: &SharedReal, x: &[f64], cols: usize) -> (Vec<Complex64>, Vec<Complex64>)
where
    R: kernels::gpu::Element + kernels::fft2d::Float,
    [R; 2]: kernels::gpu::Element,
{
    let cast = |v: f64| R::from_f64(v).unwrap();
    let widen = |v: R| v.to_f64().unwrap();
    let mut real: Vec<R> = x.iter().map(|&v| cast(v)).collect();
    let bins = x.len() / cols * (cols / 2 + 1);
    let garbage = cast(f64::from(u16::MAX));
    let mut spectrum = vec![[garbage; 2]; bins];
    plan.run_host(&mut real, &mut spectrum, Direction::Forward)
        .unwrap();
    let forward: Vec<Complex64> = spectrum
        .iter()
        .map(|v| Complex64::new(widen(v[0]), widen(v[1])))
        .collect();
    real.fill(garbage);
    plan.run_host(&mut real, &mut spectrum, Direction::Inverse)
        .unwrap();
    let back = real
        .iter()
        .map(|&v| Complex64::new(widen(v), 0.0))
        .collect();
    (forward, back)
}

#[test]
fn real_rows_of_every_power_of_two_match_rustfft() {
    let Some(c) = ctx() else { return };
    for p in precisions(c) {
        for log2 in 2..=12u32 {
            let cols = 1usize << log2;
            if !fits(c, p, cols / 2) {
                eprintln!("{p} real rows of {cols}: half does not fit workgroup memory");
                continue;
            }
            check_real(c, p, (2048 / cols).clamp(1, 3), cols);
        }
    }
}

/// The plans' global-memory passes: a 2-D transform is 2 (rows, columns) on the shared
/// path, where Stockham needs one per radix-4 stage (+ a copy for an odd count).
#[test]
fn plans_count_global_memory_passes() {
    let Some(c) = ctx() else { return };
    let grid = Shape::Grid {
        rows: 256,
        cols: 256,
    };
    let plan = Fft2d::new(c, Precision::F32, grid).unwrap();
    assert!(
        matches!(plan, Fft2d::Shared(_)),
        "256² f32 must take the shared path"
    );
    assert_eq!(plan.global_passes(), 2);
    let rows = Fft2d::new(c, Precision::F32, Shape::Rows { batch: 4, n: 4096 }).unwrap();
    assert_eq!(rows.global_passes(), 1);
    // Stockham: 4 radix-4 stages per axis of 256.
    assert_eq!(
        GpuFft::new(c, Precision::F32, grid)
            .unwrap()
            .global_passes(),
        8
    );
    // 2⁹ = radix 2 + 4 radix 4 = 5 stages per axis: 10, even, no copy; 2⁹ × 2⁴: 5 + 2 + copy.
    let odd = Shape::Grid {
        rows: 16,
        cols: 512,
    };
    assert_eq!(
        GpuFft::new(c, Precision::F32, odd).unwrap().global_passes(),
        8
    );
}

/// A side beyond the adapter's workgroup memory is not the one-dispatch path's: f64 rows of
/// 2¹³ points (128 KiB, beyond lavapipe's and NVIDIA's limits) take the four-step (their
/// factors 64 and 128 fit); tests/gpu_four_step_forced.rs shows the Stockham fallback
/// beyond that.
#[test]
fn sides_beyond_workgroup_memory_leave_the_one_dispatch_path() {
    let Some(c) = ctx() else { return };
    let p = precisions(c).pop().unwrap();
    let n = 1usize << 13;
    assert!(!fits(c, p, n) || c.max_workgroup_storage_bytes() >= 16 * n as u64);
    if fits(c, p, n) {
        eprintln!("{p} {n}-point rows fit this adapter: no fallback to test");
        return;
    }
    let plan = Fft2d::new(c, p, Shape::Rows { batch: 1, n }).unwrap();
    assert!(matches!(plan, Fft2d::FourStep(_)));
    let err = SharedFft::new(c, p, Shape::Rows { batch: 1, n })
        .err()
        .unwrap();
    assert!(err.0.contains("workgroup memory"), "{err}");
}

/// Deconvolution's plan: 4 global-memory passes per iteration on the fused path; the
/// Stockham path needs 4 transforms of 8 passes (256²) + 4 element-wise passes.
#[test]
fn deconvolution_plan_counts_global_passes_per_iteration() {
    use kernels::deconv::gpu::Path;
    let Some(c) = ctx() else { return };
    let fused = Path::plan(c, Precision::F32, 256, 256, false).unwrap();
    assert_eq!(fused, Path::Fused);
    assert_eq!(fused.global_passes_per_iteration(), 4);
    let old = Path::plan(c, Precision::F32, 256, 256, true).unwrap();
    assert_eq!(old, Path::Stockham { fft_passes: 8 });
    assert_eq!(old.global_passes_per_iteration(), 36);
    // Rows of 2 reals (C/2 = 1 point) cannot be packed: the Stockham path.
    let narrow = Path::plan(c, Precision::F32, 8, 2, false).unwrap();
    assert!(matches!(narrow, Path::Stockham { .. }), "{narrow:?}");
}

/// The PSF composite's plan: 4 global-memory passes with the spectrum product and the
/// finish fused into the transforms' passes; the Stockham fallback needs 3 transforms of
/// 8 passes (256²), a product pass and a finish pass.
#[test]
fn composite_plan_counts_global_passes() {
    use kernels::psf::gpu_composite::CompositePath;
    let Some(c) = ctx() else { return };
    let fused = CompositePath::plan(c, Precision::F32, 256, false).unwrap();
    assert_eq!(fused, CompositePath::Fused);
    assert_eq!(fused.global_passes(), 4);
    let old = CompositePath::plan(c, Precision::F32, 256, true).unwrap();
    assert_eq!(old, CompositePath::Stockham { fft_passes: 8 });
    assert_eq!(old.global_passes(), 26);
}

/// A shader that fails to compile (here: the library without the constants it needs, as
/// a driver's compiler might reject a valid one) comes back as an error naming the shader,
/// never a panic, and the context stays usable. (Workgroup memory beyond the adapter's
/// limit is NOT rejected by wgpu 30 on lavapipe at pipeline creation: `fits` is the guard.)
#[test]
fn a_shader_that_fails_to_compile_is_an_error_not_a_panic() {
    use kernels::gpu::Binding;
    use kernels::gpu::fft_shared::shader_prelude;
    let Some(c) = ctx() else { return };
    let source = format!(
        "{}
const SIGN: real = -1.0;
{}",
        shader_prelude(c, Precision::F32, 8, 1).replace("const N: u32 = 8u;", ""),
        include_str!("../src/gpu/fft_shared_c2c.wgsl")
    );
    use Binding::{ReadOnly, ReadWrite, Uniform};
    let err = c
        .pipeline(
            "fft-shared-broken",
            &source,
            "c2c",
            &[Uniform, ReadWrite, ReadOnly],
        )
        .err()
        .expect("a shader without N must not compile");
    assert!(err.0.contains("fft-shared-broken"), "{err}");
    // The device goes on: a transform that fits still works.
    check(c, Precision::F32, Shape::Rows { batch: 1, n: 8 }, 3, 8);
}
