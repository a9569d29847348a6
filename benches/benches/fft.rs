//! `cargo bench -- fft`: the building blocks of `deconv/*/lanes`. One column strip's worth
//! of transforms (8 f64 or 16 f32 sequences of length n), by `LanesFft` (one sequence per
//! SIMD lane, mixed-radix Stockham: 1024 and 4096 radix 8 with a 2 or none, 1000 = 8·5³,
//! 1200 = 8·2·5²·3, 1960 = 8·7²·5) and by rustfft (one sequence after another, AVX inside
//! each); and one strip's convolution (forward, product, inverse), by two `LanesFft`
//! calls and by `LanesConvolution` (in place, depth first).
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use kernels::fft2d::lanes::{LaneFloat, LanesConvolution, LanesFft, Split};
use num_complex::Complex;
use rustfft::{FftDirection, FftPlanner};

fn strip<T: LaneFloat>(c: &mut Criterion, precision: &str) {
    let mut group = c.benchmark_group(format!("fft/{precision}"));
    for n in [1000usize, 1024, 1200, 1960, 4096] {
        group.throughput(Throughput::Elements((n * T::LANES) as u64));
        let lanes = LanesFft::<T>::new(n, FftDirection::Forward);
        let mut scratch = lanes.scratch();
        let mut data = vec![Split::<T::V>::default(); n];
        bytemuck::cast_slice_mut::<_, T>(&mut data)
            .iter_mut()
            .enumerate()
            .for_each(|(i, x)| *x = T::from_usize(i % 7).unwrap());
        group.bench_function(BenchmarkId::new("lanes", n), |b| {
            b.iter(|| lanes.process(&mut data, &mut scratch))
        });
        let rust = FftPlanner::<T>::new().plan_fft_forward(n);
        let mut buf = vec![Complex::<T>::default(); n * T::LANES];
        let mut s = vec![Complex::<T>::default(); rust.get_inplace_scratch_len()];
        group.bench_function(BenchmarkId::new("rustfft", n), |b| {
            b.iter(|| rust.process_with_scratch(&mut buf, &mut s))
        });
        let inverse = LanesFft::<T>::new(n, FftDirection::Inverse);
        let h = data.clone();
        let times = |a: Split<T::V>, b: Split<T::V>| Split {
            re: a.re * b.re - a.im * b.im,
            im: a.re * b.im + a.im * b.re,
        };
        group.bench_function(BenchmarkId::new("convolution/stockham", n), |b| {
            b.iter(|| {
                lanes.process_then(&mut data, &mut scratch, |k, x| times(x, h[k]));
                inverse.process(&mut data, &mut scratch);
            })
        });
        let conv = LanesConvolution::<T>::new(n);
        let mut conv_scratch = conv.scratch();
        group.bench_function(BenchmarkId::new("convolution/in-place", n), |b| {
            b.iter(|| conv.process(&mut data, &mut conv_scratch, |k, x| times(x, h[k])))
        });
    }
    group.finish();
}

fn fft(c: &mut Criterion) {
    strip::<f64>(c, "f64");
    strip::<f32>(c, "f32");
}

criterion_group! { name = group; config = benches::config(); targets = fft }
criterion_main!(group);
