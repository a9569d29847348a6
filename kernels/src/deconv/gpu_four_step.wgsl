// Richardson–Lucy's column step when columns of R points do not fit workgroup memory: the
// middle pass of a four-step convolution, see gpu_four_step.rs. One workgroup takes
// sub-line k1 of column l (rows k1·N .. k1·N + N − 1 of the half spectrum, as pass A left
// them): forward (decimation in frequency: bit-reversed out), the product with P at row bin
// k1 + N1·k2 (conj(P) for a correlation), inverse (decimation in time: natural out), then
// the inverse four-step's twiddles e^{+2πi·k1·j2/R}. The host prepends fft_shared.wgsl's
// constants (N = N2, TWS = 1), `const N1: u32 = …;`, `flat_workgroup` and fft_shared.wgsl.

struct Params {
    rows: u32,
    cols: u32,
    // The half spectrum's width C/2 + 1.
    half: u32,
    pad: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
// The half spectrum, R × (C/2 + 1), row-major.
@group(0) @binding(1) var<storage, read_write> spectrum: array<vec2<real>>;
// P = rfft2(k) / (R·C), R × (C/2 + 1), rows in natural order.
@group(0) @binding(2) var<storage, read> transfer: array<vec2<real>>;
// e^{−2πi·m/N}, m < N/2.
@group(0) @binding(3) var<storage, read> twiddles: array<vec2<real>>;
// e^{−2πi·m/R}, m < R.
@group(0) @binding(4) var<storage, read> steps: array<vec2<real>>;

fn sub_column(t: u32, lid: u32, conjugate: bool) {
    let h = params.half;
    // Consecutive workgroups take consecutive columns (neighbouring addresses).
    let l = t % h;
    let k1 = t / h;
    let base = k1 * N * h + l;
    for (var j = lid; j < N; j = j + WG) {
        s[j] = spectrum[base + j * h];
    }
    dif(lid, real(-1.0));
    for (var j = lid; j < N; j = j + WG) {
        var p = transfer[(k1 + N1 * bitrev(j)) * h + l];
        if (conjugate) {
            p = conj(p);
        }
        s[j] = cmul(s[j], p);
    }
    dit(lid, real(1.0));
    for (var j = lid; j < N; j = j + WG) {
        spectrum[base + j * h] = cmul(s[j], conj(steps[k1 * j]));
    }
}

@compute @workgroup_size(WG)
fn convolve(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_id) lid: vec3<u32>,
) {
    let t = flat_workgroup(wid, nwg);
    if (t >= params.half * N1) {
        return;
    }
    sub_column(t, lid.x, false);
}

@compute @workgroup_size(WG)
fn correlate(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_id) lid: vec3<u32>,
) {
    let t = flat_workgroup(wid, nwg);
    if (t >= params.half * N1) {
        return;
    }
    sub_column(t, lid.x, true);
}
