//! `cargo bench -- psf`: every psf variant at the default suite sizes.
use criterion::{Criterion, criterion_group, criterion_main};

fn psf(c: &mut Criterion) {
    benches::bench_kernel(c, "psf");
}

criterion_group! { name = group; config = benches::config(); targets = psf }
criterion_main!(group);
