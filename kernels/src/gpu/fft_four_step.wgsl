// One pass of the four-step FFT: see fft_four_step.rs. Each workgroup transforms one
// N-point sub-line out of workgroup memory (fft_shared.wgsl's `dit`) and, when TWIDDLE is
// true, multiplies its output point e by e^{SIGN·2πi·i·e/L} (i: the sub-line's index within
// its line, L = N1·N2 the line's length). The host prepends fft_shared.wgsl's constants,
// `const SIGN: real = …;`, `const TWIDDLE: bool = …;`, `flat_workgroup` and fft_shared.wgsl.

struct Lines {
    // Sub-lines in this dispatch: `inner` per line, lines one after another.
    count: u32,
    inner: u32,
    // Point j of sub-line i of line b: b·line_stride + i·inner_stride + j·elem_stride.
    inner_stride: u32,
    line_stride: u32,
    elem_stride: u32,
    pad0: u32,
    pad1: u32,
    pad2: u32,
}

@group(0) @binding(0) var<uniform> lines: Lines;
@group(0) @binding(1) var<storage, read_write> data: array<vec2<real>>;
// e^{−2πi·m/N}, m < N/2: the sub-line transform's own table.
@group(0) @binding(2) var<storage, read> twiddles: array<vec2<real>>;
// e^{−2πi·m/L}, m < L: the twiddles between the two steps (i·e < L always).
@group(0) @binding(3) var<storage, read> steps: array<vec2<real>>;

@compute @workgroup_size(WG)
fn sub_lines(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_id) lid: vec3<u32>,
) {
    let t = flat_workgroup(wid, nwg);
    if (t >= lines.count) {
        return;
    }
    let i = t % lines.inner;
    let base = (t / lines.inner) * lines.line_stride + i * lines.inner_stride;
    for (var j = lid.x; j < N; j = j + WG) {
        s[bitrev(j)] = data[base + j * lines.elem_stride];
    }
    dit(lid.x, SIGN);
    for (var e = lid.x; e < N; e = e + WG) {
        var v = s[e];
        if (TWIDDLE) {
            let w = steps[i * e];
            v = cmul(v, vec2<real>(w.x, -SIGN * w.y));
        }
        data[base + e * lines.elem_stride] = v;
    }
}
