// Laue sum in f64, one invocation per output point (i, j): see gpu.rs for the design and
// its error bound. Needs `flat_workgroup` (kernels::gpu::WGSL_FLAT_WORKGROUP) prepended.
// WGSL has no f64 sin/cos: the phase is reduced exactly and a polynomial does the rest.

struct Params {
    nh: u32,
    nk: u32,
    ncells: u32,
    // Cells summed into one partial sum before it joins the total (blocked summation).
    block: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
// Cell positions (x, y).
@group(0) @binding(1) var<storage, read> cells: array<vec2<f64>>;
// Reciprocal axes, numpy's arange values.
@group(0) @binding(2) var<storage, read> h: array<f64>;
@group(0) @binding(3) var<storage, read> k: array<f64>;
@group(0) @binding(4) var<storage, read_write> intensity: array<f64>;

// (sin, cos) of 2π·t, t in turns.
fn sincos_turns(t: f64) -> vec2<f64> {
    let r = t - round(t);                  // exact: |r| ≤ 1/2 turn
    let q = round(4.0lf * r);              // nearest quarter turn, −2..2
    // r − q/4 is exact (Sterbenz); |x| ≤ π/4.
    let x = (r - 0.25lf * q) * 6.283185307179586lf;
    let z = x * x;
    // fdlibm's __kernel_sin and __kernel_cos minimax polynomials on [−π/4, π/4].
    let s = x + x * z * (-1.66666666666666324348e-01lf + z * (8.33333333332248946124e-03lf
        + z * (-1.98412698298579493134e-04lf + z * (2.75573137070700676789e-06lf
        + z * (-2.50507602534068634195e-08lf + z * 1.58969099521155010221e-10lf)))));
    let c = 1.0lf - (0.5lf * z - z * z * (4.16666666666666019037e-02lf
        + z * (-1.38888888888741095749e-03lf + z * (2.48015872894767294178e-05lf
        + z * (-2.75573143513906633035e-07lf + z * (2.08757232129817482790e-09lf
        + z * -1.13596475577881948265e-11lf))))));
    // Rotate by q quarter turns: odd q swaps (sin, cos) → (cos, −sin); q = ±2 negates both.
    let qi = u32(i32(q) & 3);
    let odd = (qi & 1u) == 1u;
    let sign = select(1.0lf, -1.0lf, (qi & 2u) != 0u);
    return vec2<f64>(select(s, c, odd), select(c, -s, odd)) * sign;
}

@compute @workgroup_size(64)
fn main(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_id) lid: vec3<u32>,
) {
    let o = flat_workgroup(wid, nwg) * 64u + lid.x;
    if (o >= params.nh * params.nk) {
        return;
    }
    let hi = h[o / params.nk];
    let kj = k[o % params.nk];
    var re = 0.0lf;
    var im = 0.0lf;
    for (var start = 0u; start < params.ncells; start += params.block) {
        let end = min(start + params.block, params.ncells);
        var block_re = 0.0lf;
        var block_im = 0.0lf;
        for (var c = start; c < end; c++) {
            let p = cells[c];
            // The naive variant's phase, h·x + k·y turns, in f64.
            let sc = sincos_turns(hi * p.x + kj * p.y);
            block_re += sc.y;
            block_im += sc.x;
        }
        re += block_re;
        im += block_im;
    }
    intensity[o] = re * re + im * im;
}
