// The adapter's ceilings: a copy (bytes/s) and an FMA-bound loop (FLOP/s). See ceilings.rs.
// Prepended by the host: `alias real = f32;` (or f64), `const STEPS: u32 = …;` and
// `flat_workgroup`.

struct Params {
    // vec4 elements to copy, or invocations of the FMA loop.
    len: u32,
    pad0: u32,
    pad1: u32,
    pad2: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> src: array<vec4<real>>;
@group(0) @binding(2) var<storage, read_write> dst: array<vec4<real>>;

@compute @workgroup_size(64)
fn copy(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_id) lid: vec3<u32>,
) {
    let i = flat_workgroup(wid, nwg) * 64u + lid.x;
    if (i < params.len) {
        dst[i] = src[i];
    }
}

// Eight independent chains of vec4 multiply-adds (so the latency of one is hidden), STEPS
// times: 8·4·2·STEPS flops per invocation. x ← x·b + c with |b| < 1 stays bounded; the sum
// is stored so that nothing is optimised away.
@compute @workgroup_size(64)
fn fma_loop(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_id) lid: vec3<u32>,
) {
    let i = flat_workgroup(wid, nwg) * 64u + lid.x;
    if (i >= params.len) {
        return;
    }
    let b = src[0];
    let c = src[1];
    var x0 = vec4<real>(real(i & 7u)) * c;
    var x1 = x0 + c;
    var x2 = x1 + c;
    var x3 = x2 + c;
    var x4 = x3 + c;
    var x5 = x4 + c;
    var x6 = x5 + c;
    var x7 = x6 + c;
    for (var k = 0u; k < STEPS; k = k + 1u) {
        x0 = x0 * b + c;
        x1 = x1 * b + c;
        x2 = x2 * b + c;
        x3 = x3 * b + c;
        x4 = x4 * b + c;
        x5 = x5 * b + c;
        x6 = x6 * b + c;
        x7 = x7 * b + c;
    }
    dst[i % arrayLength(&dst)] = x0 + x1 + x2 + x3 + x4 + x5 + x6 + x7;
}
