// Richardson–Lucy's element-wise steps on the device (the FFTs are kernels::gpu::fft): see
// gpu.rs. Prepended by the host: `alias real = f32;` (or f64), `const REAL_MAX: real = …;`
// (the largest finite value) and `flat_workgroup` (kernels::gpu::WGSL_FLAT_WORKGROUP).

struct Params {
    // Pixels R·C.
    len: u32,
    pad0: u32,
    pad1: u32,
    pad2: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
// The clipped image.
@group(0) @binding(1) var<storage, read> image: array<real>;
@group(0) @binding(2) var<storage, read_write> estimate: array<real>;
// The complex array the FFTs transform (imaginary parts 0 on input).
@group(0) @binding(3) var<storage, read_write> work: array<vec2<real>>;
// [iteration (1-based), first non-finite iteration, its first pixel, unused]; the host
// resets it to [1, MAX, MAX, 0] at the start of each run.
@group(0) @binding(4) var<storage, read_write> state: array<atomic<u32>, 4>;

fn pixel(
    wid: vec3<u32>,
    nwg: vec3<u32>,
    lid: vec3<u32>,
) -> u32 {
    return flat_workgroup(wid, nwg) * 64u + lid.x;
}

// est = img; work = img + 0i.
@compute @workgroup_size(64)
fn start(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_id) lid: vec3<u32>,
) {
    let i = pixel(wid, nwg, lid);
    if (i >= params.len) {
        return;
    }
    estimate[i] = image[i];
    work[i] = vec2<real>(image[i], real(0));
}

// work = img / Re(work) + 0i, where Re(work) is est ⊛ psf. A zero denominator, or one so
// small that the ratio overflows, is recorded (first iteration, then lowest pixel); the
// division is done regardless, as aiapy does. WGSL may assume there are no infinities or
// NaNs, so the test is on the operands (d = 0, or |img|/REAL_MAX > |d|), not on the result.
@compute @workgroup_size(64)
fn ratio(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_id) lid: vec3<u32>,
) {
    let i = pixel(wid, nwg, lid);
    if (i >= params.len) {
        return;
    }
    let d = work[i].x;
    let m = image[i];
    work[i] = vec2<real>(m / d, real(0));
    if (d == real(0) || abs(m) / REAL_MAX > abs(d)) {
        let k = atomicLoad(&state[0]);
        // Earlier iterations were separate dispatches: a smaller value here is final.
        if (atomicLoad(&state[1]) >= k) {
            atomicMin(&state[2], i);
            atomicMin(&state[1], k);
        }
    }
}

// est = est · Re(work) (the correction ratio ⋆ psf); work = est + 0i for the next
// iteration; the iteration count moves on.
@compute @workgroup_size(64)
fn update(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_id) lid: vec3<u32>,
) {
    let i = pixel(wid, nwg, lid);
    if (i >= params.len) {
        return;
    }
    let e = estimate[i] * work[i].x;
    estimate[i] = e;
    work[i] = vec2<real>(e, real(0));
    if (i == 0u) {
        atomicAdd(&state[0], 1u);
    }
}
