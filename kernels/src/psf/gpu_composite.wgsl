// aiapy's composite after the row transforms: see gpu_composite.rs. Compiled once per side N
// and precision; the host prepends fft_shared.wgsl's constants (N = the grid's side,
// TWS = 1), `flat_workgroup` and fft_shared.wgsl itself. On entry z_e and z_fp hold the
// row transforms of the two filters (complex, N × N, row-major). The four-step composite
// compiles this file too, with N a sub-line's length, for its bindings and
// `spectra_product` (gpu_composite_four_step.wgsl, appended).

@group(0) @binding(0) var<storage, read> z_e: array<vec2<real>>;
@group(0) @binding(1) var<storage, read_write> z_fp: array<vec2<real>>;
// e^{−2πi·m/N}, m < N/2, rounded from f64 on the host.
@group(0) @binding(2) var<storage, read> twiddles: array<vec2<real>>;
@group(0) @binding(3) var<storage, read_write> psf: array<real>;

// Elements of a column each invocation holds while the other column is transformed.
const PER: u32 = N / WG;

// The N-point column section of both filters at base, base + stride, …: their forward
// transforms (decimation in frequency: bit-reversed out, so the two spectra line up index
// for index) and their product, left in s in that bit-reversed order, ready for a
// decimation in time. The four-step composite calls it on its sub-columns
// (gpu_composite_four_step.wgsl). Call from uniform control flow (barriers).
fn spectra_product(base: u32, stride: u32, lid: u32) {
    for (var j = lid; j < N; j = j + WG) {
        s[j] = z_e[base + j * stride];
    }
    dif(lid, real(-1.0));
    var held: array<vec2<real>, PER>;
    for (var q = 0u; q < PER; q = q + 1u) {
        held[q] = s[lid + q * WG];
    }
    workgroupBarrier();
    for (var j = lid; j < N; j = j + WG) {
        s[j] = z_fp[base + j * stride];
    }
    dif(lid, real(-1.0));
    for (var q = 0u; q < PER; q = q + 1u) {
        let j = lid + q * WG;
        s[j] = cmul(s[j], held[q]);
    }
}

// Column l: both filters' column transforms and their product (`spectra_product`), and
// the column transform of the second fft2 (decimation in time: bit-reversed in, natural
// out). The second fft2 runs its columns first: a 2-D DFT is the same in either order of
// axes.
@compute @workgroup_size(WG)
fn product(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_id) lid: vec3<u32>,
) {
    let l = flat_workgroup(wid, nwg);
    if (l >= N) {
        return;
    }
    spectra_product(l, N, lid.x);
    dit(lid.x, real(-1.0));
    for (var j = lid.x; j < N; j = j + WG) {
        z_fp[j * N + l] = s[j];
    }
}

// Row r: the row transform of the second fft2, then |·| / N² into the PSF rolled by N/2 in
// both axes (numpy.roll): z's row r, column j lands at ((r + N/2) mod N, (j + N/2) mod N).
@compute @workgroup_size(WG)
fn finish(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_id) lid: vec3<u32>,
) {
    let r = flat_workgroup(wid, nwg);
    if (r >= N) {
        return;
    }
    for (var j = lid.x; j < N; j = j + WG) {
        s[bitrev(j)] = z_fp[r * N + j];
    }
    dit(lid.x, real(-1.0));
    let row = ((r + N / 2u) % N) * N;
    let scale = real(N) * real(N);
    for (var j = lid.x; j < N; j = j + WG) {
        let v = s[j];
        psf[row + (j + N / 2u) % N] = sqrt(v.x * v.x + v.y * v.y) / scale;
    }
}
