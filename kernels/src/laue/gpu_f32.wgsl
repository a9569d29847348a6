// Laue sum in f32, one invocation per output point (i, j): see gpu.rs for the design and
// its error bound. Needs `flat_workgroup` (kernels::gpu::WGSL_FLAT_WORKGROUP) prepended.

struct Params {
    nh: u32,
    nk: u32,
    ncells: u32,
    // Cells summed into one partial sum before it joins the total (blocked summation).
    block: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
// Per cell, phases in turns as 32-bit fixed point (turns · 2³², wrapping = modulo one turn):
// (frac(h₀·x), frac(δh·x), frac(k₀·y), frac(δk·y)), computed in f64 on the host.
@group(0) @binding(1) var<storage, read> cells: array<vec4<u32>>;
@group(0) @binding(2) var<storage, read_write> intensity: array<f32>;

// 2π / 2³²: radians per fixed-point unit.
const RADIANS_PER_UNIT: f32 = 1.4629180792671596e-9;

// (sin, cos) of 2π·p/2³². The quadrant comes from the top bits, exactly; the polynomial
// only sees |x| ≤ π/4, so no driver's sin/cos accuracy (WGSL promises only 2⁻¹¹) matters.
fn sincos_turns(p: u32) -> vec2<f32> {
    let q = (p + 0x20000000u) >> 30u;        // nearest quarter turn (mod 4)
    let rem = bitcast<i32>(p - (q << 30u));  // in [−2²⁹, 2²⁹): at most 1/8 turn
    let x = f32(rem) * RADIANS_PER_UNIT;     // |x| ≤ π/4
    let z = x * x;
    // Cephes sinf/cosf minimax polynomials on [−π/4, π/4] (about 1 ulp).
    let s = x + x * z * (-1.6666654611e-1 + z * (8.3321608736e-3 + z * -1.9515295891e-4));
    let c = 1.0 - 0.5 * z
        + z * z * (4.166664568298827e-2 + z * (-1.388731625493765e-3 + z * 2.443315711809948e-5));
    // Rotate by q quarter turns: odd q swaps (sin, cos) → (cos, −sin); q ≥ 2 negates both.
    let odd = (q & 1u) == 1u;
    let sign = select(1.0, -1.0, (q & 2u) != 0u);
    return vec2<f32>(select(s, c, odd), select(c, -s, odd)) * sign;
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
    let i = o / params.nk;
    let j = o % params.nk;
    var re = 0.0;
    var im = 0.0;
    for (var start = 0u; start < params.ncells; start += params.block) {
        let end = min(start + params.block, params.ncells);
        var block_re = 0.0;
        var block_im = 0.0;
        for (var c = start; c < end; c++) {
            let t = cells[c];
            // h_i·x + k_j·y in turns, modulo one turn, exactly (u32 arithmetic wraps).
            let sc = sincos_turns(t.x + i * t.y + t.z + j * t.w);
            block_re += sc.y;
            block_im += sc.x;
        }
        re += block_re;
        im += block_im;
    }
    intensity[o] = re * re + im * im;
}
