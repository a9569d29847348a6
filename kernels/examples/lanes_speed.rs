use kernels::fft2d::lanes::{LaneFloat, Split, LanesFft};
use rustfft::FftDirection;
use std::time::Instant;
fn run<T: LaneFloat>(n: usize) {
    let fft = LanesFft::<T>::new(n, FftDirection::Forward);
    let mut s = fft.scratch();
    let mut data = vec![Split::<T::V>::default(); n];
    { let v: &mut [T] = bytemuck::cast_slice_mut(&mut data); for (i, x) in v.iter_mut().enumerate() { *x = T::from_f64(((i * 7) % 13) as f64 * 0.1).unwrap(); } }
    let reps = 1000;
    let t = Instant::now();
    for _ in 0..reps { fft.process(&mut data, &mut s); }
    let per = t.elapsed().as_secs_f64() / (reps * T::LANES) as f64;
    let mut planner = rustfft::FftPlanner::<T>::new();
    let f = planner.plan_fft_forward(n);
    let mut buf = vec![num_complex::Complex::<T>::default(); n * T::LANES];
    let mut sc = vec![num_complex::Complex::<T>::default(); f.get_inplace_scratch_len()];
    let t = Instant::now();
    for _ in 0..reps { f.process_with_scratch(&mut buf, &mut sc); }
    let per_r = t.elapsed().as_secs_f64() / (reps * T::LANES) as f64;
    println!("{} n={n}: lanes {:.2} us/transform, rustfft {:.2} us", std::any::type_name::<T>(), per * 1e6, per_r * 1e6);
}
fn main() { for n in [64, 256, 512, 1024, 4096] { run::<f64>(n); run::<f32>(n); } }
