//! `cargo bench -- laue`: every Laue variant at the default suite sizes.
use criterion::{Criterion, criterion_group, criterion_main};

fn laue(c: &mut Criterion) {
    benches::bench_kernel(c, "laue");
}

criterion_group! { name = group; config = benches::config(); targets = laue }
criterion_main!(group);
