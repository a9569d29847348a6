//! `cargo bench -- deconv`: every deconv variant at the default suite sizes.
use criterion::{Criterion, criterion_group, criterion_main};

fn deconv(c: &mut Criterion) {
    benches::bench_kernel(c, "deconv");
}

criterion_group! { name = group; config = benches::config(); targets = deconv }
criterion_main!(group);
