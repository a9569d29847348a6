// Richardson–Lucy with fused shared-memory FFTs: see gpu_shared.rs. Compiled twice: the row
// module (N = C/2, TWS = 2: entries start, ratio, update) and the column module (N = R,
// TWS = 1: entries convolve, correlate). The host prepends fft_shared.wgsl's constants,
// `const REAL_MAX: real = …;`, `flat_workgroup` and fft_shared.wgsl itself.

struct Params {
    rows: u32,
    // Real columns C, and the half spectrum's width C/2 + 1.
    cols: u32,
    half: u32,
    pad: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> image: array<real>;
@group(0) @binding(2) var<storage, read_write> estimate: array<real>;
// The half spectrum, R × (C/2 + 1), row-major.
@group(0) @binding(3) var<storage, read_write> spectrum: array<vec2<real>>;
// [iteration (1-based), first non-finite iteration, its first pixel, unused].
@group(0) @binding(4) var<storage, read_write> state: array<atomic<u32>, 4>;
// P = rfft2(k) / (R·C), R × (C/2 + 1).
@group(0) @binding(5) var<storage, read> transfer: array<vec2<real>>;
@group(0) @binding(6) var<storage, read> twiddles: array<vec2<real>>;

// Elements of one row each invocation holds between the inverse and forward transforms.
const PER: u32 = N / WG;

// The row's real pairs, forward: bit-reversed into s, transform, untangle into the row's
// C/2 + 1 bins of `spectrum`.
fn forward_row(r: u32, lid: u32) {
    dit(lid, real(-1.0));
    for (var k = lid; k <= N; k = k + WG) {
        spectrum[r * (N + 1u) + k] = r2c_bin(k);
    }
}

// The row's bins back to C·(real pairs), in natural order in s.
fn inverse_row(r: u32, lid: u32) {
    let row = r * (N + 1u);
    for (var k = lid; k < N; k = k + WG) {
        s[bitrev(k)] = c2r_bin(spectrum[row + k], spectrum[row + N - k], k);
    }
    dit(lid, real(1.0));
}

// A zero or overflowing denominator at pixel i: first iteration, then lowest pixel (as
// deconv/gpu.wgsl `ratio`; the test is on the operands: WGSL may assume no inf/NaN).
fn check_ratio(m: real, d: real, i: u32) {
    if (d == real(0) || abs(m) / REAL_MAX > abs(d)) {
        let k = atomicLoad(&state[0]);
        if (atomicLoad(&state[1]) >= k) {
            atomicMin(&state[2], i);
            atomicMin(&state[1], k);
        }
    }
}

// est = img; the spectrum of img.
@compute @workgroup_size(WG)
fn start(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_id) lid: vec3<u32>,
) {
    let r = flat_workgroup(wid, nwg);
    if (r >= params.rows) {
        return;
    }
    for (var j = lid.x; j < N; j = j + WG) {
        let i = r * params.cols + 2u * j;
        estimate[i] = image[i];
        estimate[i + 1u] = image[i + 1u];
        s[bitrev(j)] = vec2<real>(image[i], image[i + 1u]);
    }
    forward_row(r, lid.x);
}

// ratio = img / (est ⊛ k), from the convolved spectrum; then the spectrum of the ratio.
@compute @workgroup_size(WG)
fn ratio(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_id) lid: vec3<u32>,
) {
    let r = flat_workgroup(wid, nwg);
    if (r >= params.rows) {
        return;
    }
    inverse_row(r, lid.x);
    var held: array<vec2<real>, PER>;
    for (var q = 0u; q < PER; q = q + 1u) {
        let j = lid.x + q * WG;
        let d = s[j];
        let i = r * params.cols + 2u * j;
        let m = vec2<real>(image[i], image[i + 1u]);
        check_ratio(m.x, d.x, i);
        check_ratio(m.y, d.y, i + 1u);
        held[q] = m / d;
    }
    workgroupBarrier();
    for (var q = 0u; q < PER; q = q + 1u) {
        let j = lid.x + q * WG;
        s[bitrev(j)] = held[q];
    }
    forward_row(r, lid.x);
}

// est = est · (ratio ⋆ k); then the spectrum of the new estimate (the next iteration's).
@compute @workgroup_size(WG)
fn update(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_id) lid: vec3<u32>,
) {
    let r = flat_workgroup(wid, nwg);
    if (r >= params.rows) {
        return;
    }
    inverse_row(r, lid.x);
    var held: array<vec2<real>, PER>;
    for (var q = 0u; q < PER; q = q + 1u) {
        let j = lid.x + q * WG;
        let i = r * params.cols + 2u * j;
        let e = vec2<real>(estimate[i], estimate[i + 1u]) * s[j];
        estimate[i] = e.x;
        estimate[i + 1u] = e.y;
        held[q] = e;
    }
    workgroupBarrier();
    for (var q = 0u; q < PER; q = q + 1u) {
        let j = lid.x + q * WG;
        s[bitrev(j)] = held[q];
    }
    forward_row(r, lid.x);
    if (r == 0u && lid.x == 0u) {
        atomicAdd(&state[0], 1u);
    }
}

// Column l of the half spectrum: forward (decimation in frequency: bit-reversed out), the
// product with P (conj(P) for a correlation) at the bit-reversed index, inverse
// (decimation in time: natural out). Nothing is reordered.
fn column(l: u32, lid: u32, conjugate: bool) {
    let h = params.half;
    for (var j = lid; j < N; j = j + WG) {
        s[j] = spectrum[j * h + l];
    }
    dif(lid, real(-1.0));
    for (var j = lid; j < N; j = j + WG) {
        var p = transfer[bitrev(j) * h + l];
        if (conjugate) {
            p = conj(p);
        }
        s[j] = cmul(s[j], p);
    }
    dit(lid, real(1.0));
    for (var j = lid; j < N; j = j + WG) {
        spectrum[j * h + l] = s[j];
    }
}

@compute @workgroup_size(WG)
fn convolve(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_id) lid: vec3<u32>,
) {
    let l = flat_workgroup(wid, nwg);
    if (l >= params.half) {
        return;
    }
    column(l, lid.x, false);
}

@compute @workgroup_size(WG)
fn correlate(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_id) lid: vec3<u32>,
) {
    let l = flat_workgroup(wid, nwg);
    if (l >= params.half) {
        return;
    }
    column(l, lid.x, true);
}
