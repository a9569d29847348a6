// Whole transforms out of workgroup memory, one per workgroup: see fft_shared.rs. The host
// prepends fft_shared.wgsl's constants, `const SIGN: real = -1.0;` (+1.0 inverse),
// `flat_workgroup` and fft_shared.wgsl itself.

struct Batch {
    // Transforms in the batch; element j of transform b is at b·batch_stride + j·elem_stride.
    count: u32,
    elem_stride: u32,
    batch_stride: u32,
    pad: u32,
}

@group(0) @binding(0) var<uniform> batch: Batch;
@group(0) @binding(1) var<storage, read_write> data: array<vec2<real>>;
// e^{−2πi·m/N}, m < N/2, rounded from f64 on the host.
@group(0) @binding(2) var<storage, read> twiddles: array<vec2<real>>;

// One complex transform in place: load bit-reversed, decimation in time, store in order.
@compute @workgroup_size(WG)
fn c2c(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_id) lid: vec3<u32>,
) {
    let b = flat_workgroup(wid, nwg);
    if (b >= batch.count) {
        return;
    }
    let base = b * batch.batch_stride;
    for (var j = lid.x; j < N; j = j + WG) {
        s[bitrev(j)] = data[base + j * batch.elem_stride];
    }
    dit(lid.x, SIGN);
    for (var j = lid.x; j < N; j = j + WG) {
        data[base + j * batch.elem_stride] = s[j];
    }
}

// Rows of 2N reals (`data` read as N complex pairs) to N + 1 bins each, in `spectrum`.
@group(0) @binding(3) var<storage, read_write> spectrum: array<vec2<real>>;

@compute @workgroup_size(WG)
fn r2c(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_id) lid: vec3<u32>,
) {
    let b = flat_workgroup(wid, nwg);
    if (b >= batch.count) {
        return;
    }
    for (var j = lid.x; j < N; j = j + WG) {
        s[bitrev(j)] = data[b * N + j];
    }
    dit(lid.x, real(-1.0));
    for (var k = lid.x; k <= N; k = k + WG) {
        spectrum[b * (N + 1u) + k] = r2c_bin(k);
    }
}

// The inverse of `r2c`, unnormalised (2N·x): N + 1 bins of `spectrum` to 2N reals in `data`.
@compute @workgroup_size(WG)
fn c2r(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_id) lid: vec3<u32>,
) {
    let b = flat_workgroup(wid, nwg);
    if (b >= batch.count) {
        return;
    }
    let row = b * (N + 1u);
    for (var k = lid.x; k < N; k = k + WG) {
        s[bitrev(k)] = c2r_bin(spectrum[row + k], spectrum[row + N - k], k);
    }
    dit(lid.x, real(1.0));
    for (var j = lid.x; j < N; j = j + WG) {
        data[b * N + j] = s[j];
    }
}
