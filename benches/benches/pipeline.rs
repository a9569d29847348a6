//! `cargo bench -- pipeline`: every pipeline variant at the default suite sizes.
use criterion::{Criterion, criterion_group, criterion_main};

fn pipeline(c: &mut Criterion) {
    benches::bench_kernel(c, "pipeline");
}

criterion_group! { name = group; config = benches::config(); targets = pipeline }
criterion_main!(group);
