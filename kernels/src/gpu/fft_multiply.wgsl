// data[i] = scale · data[i] · spectrum[i] (spectrum conjugated when `conjugate` ≠ 0): the
// element-wise step between a forward and an inverse FFT (convolution, correlation).
// Prepended by the host: `alias real = f32;` (or f64) and `flat_workgroup`.

struct Multiply {
    len: u32,
    conjugate: u32,
    // A `real` at byte 8: f32 (then 4 bytes of padding) or f64.
    scale: real,
}

@group(0) @binding(0) var<uniform> multiply_: Multiply;
@group(0) @binding(1) var<storage, read_write> data: array<vec2<real>>;
@group(0) @binding(2) var<storage, read> spectrum: array<vec2<real>>;

@compute @workgroup_size(64)
fn multiply(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_id) lid: vec3<u32>,
) {
    let i = flat_workgroup(wid, nwg) * 64u + lid.x;
    if (i >= multiply_.len) {
        return;
    }
    let a = data[i];
    var b = spectrum[i];
    if (multiply_.conjugate != 0u) {
        b.y = -b.y;
    }
    data[i] = multiply_.scale * vec2<real>(a.x * b.x - a.y * b.y, a.x * b.y + a.y * b.x);
}
