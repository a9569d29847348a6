//! `cargo bench -- lm`: every lm variant at the default suite sizes.
use criterion::{Criterion, criterion_group, criterion_main};

fn lm(c: &mut Criterion) {
    benches::bench_kernel(c, "lm");
}

criterion_group! { name = group; config = benches::config(); targets = lm }
criterion_main!(group);
