// One Stockham autosort pass (radix 2 or 4) of a batch of complex FFTs: see fft.rs.
// Prepended by the host: `alias real = f32;` (or f64), `const SIGN: real = -1.0;` (forward;
// +1.0 inverse) and `flat_workgroup` (kernels::gpu::WGSL_FLAT_WORKGROUP).

struct Pass {
    // Transform length n, the length p of the sub-transforms already done, n / radix.
    n: u32,
    p: u32,
    t: u32,
    batch: u32,
    // Element j of transform b lives at b·batch_stride + j·elem_stride.
    elem_stride: u32,
    batch_stride: u32,
    // Consecutive invocations take consecutive transforms (column passes: coalesced) rather
    // than consecutive butterflies of one transform (row passes).
    batch_fastest: u32,
    // Twiddle e^{−2πi·q·k/(radix·p)} is twiddles[q·k·tw_step], tw_step = n / (radix·p).
    tw_step: u32,
}

@group(0) @binding(0) var<uniform> pass_: Pass;
@group(0) @binding(1) var<storage, read> src: array<vec2<real>>;
@group(0) @binding(2) var<storage, read_write> dst: array<vec2<real>>;
// twiddles[m] = e^{−2πi·m/n}, m < n, rounded from f64 on the host.
@group(0) @binding(3) var<storage, read> twiddles: array<vec2<real>>;

fn cmul(a: vec2<real>, b: vec2<real>) -> vec2<real> {
    return vec2<real>(a.x * b.x - a.y * b.y, a.x * b.y + a.y * b.x);
}

// e^{SIGN·2πi·m/n}: the forward table, conjugated for the inverse.
fn twiddle(m: u32) -> vec2<real> {
    let w = twiddles[m];
    return vec2<real>(w.x, -SIGN * w.y);
}

// Multiplication by e^{SIGN·iπ/2} = SIGN·i.
fn quarter(a: vec2<real>) -> vec2<real> {
    return SIGN * vec2<real>(-a.y, a.x);
}

// (butterfly i, transform base offset) of invocation g; i ≥ t means past the end.
fn locate(g: u32) -> vec2<u32> {
    var i: u32;
    var b: u32;
    if (pass_.batch_fastest != 0u) {
        b = g % pass_.batch;
        i = g / pass_.batch;
    } else {
        i = g % pass_.t;
        b = g / pass_.t;
    }
    return vec2<u32>(i, b * pass_.batch_stride);
}

@compute @workgroup_size(64)
fn radix2(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_id) lid: vec3<u32>,
) {
    let g = flat_workgroup(wid, nwg) * 64u + lid.x;
    if (g >= pass_.t * pass_.batch) {
        return;
    }
    let at = locate(g);
    let i = at.x;
    let s = pass_.elem_stride;
    let k = i & (pass_.p - 1u);
    let u0 = src[at.y + i * s];
    let u1 = cmul(src[at.y + (i + pass_.t) * s], twiddle(k * pass_.tw_step));
    let j = (i - k) * 2u + k;
    dst[at.y + j * s] = u0 + u1;
    dst[at.y + (j + pass_.p) * s] = u0 - u1;
}

@compute @workgroup_size(64)
fn radix4(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_id) lid: vec3<u32>,
) {
    let g = flat_workgroup(wid, nwg) * 64u + lid.x;
    if (g >= pass_.t * pass_.batch) {
        return;
    }
    let at = locate(g);
    let i = at.x;
    let s = pass_.elem_stride;
    let t = pass_.t;
    let p = pass_.p;
    let k = i & (p - 1u);
    let m = k * pass_.tw_step;
    let u0 = src[at.y + i * s];
    let u1 = cmul(src[at.y + (i + t) * s], twiddle(m));
    let u2 = cmul(src[at.y + (i + 2u * t) * s], twiddle(2u * m));
    let u3 = cmul(src[at.y + (i + 3u * t) * s], twiddle(3u * m));
    // The 4-point DFT as two levels of radix-2 butterflies.
    let a0 = u0 + u2;
    let a1 = u0 - u2;
    let a2 = u1 + u3;
    let a3 = quarter(u1 - u3);
    let j = (i - k) * 4u + k;
    dst[at.y + j * s] = a0 + a2;
    dst[at.y + (j + p) * s] = a1 + a3;
    dst[at.y + (j + 2u * p) * s] = a0 - a2;
    dst[at.y + (j + 3u * p) * s] = a1 - a3;
}
