// The four-step composite's two fused passes: see gpu_composite_four_step.rs. Appended to
// gpu_composite.wgsl (bindings 0–3, `spectra_product`); the host prepends fft_shared.wgsl's
// constants with N the sub-line's length (N2 for `sub_column_product`, N1 for
// `sub_row_finish`; TWS = 1, `twiddles` the N-point table), `const N1`, `const N2` and
// `const SIDE` (the grid's side, N1·N2).

// e^{−2πi·m/SIDE}, m < SIDE: the twiddles between a four-step's two passes.
@group(0) @binding(4) var<storage, read> steps: array<vec2<real>>;

// Sub-column k1 of column l (rows k1·N2 … k1·N2 + N2 − 1, where the forward column pass A
// left both filters): pass B of both forward transforms and their product
// (`spectra_product`), then pass B of the second transform, which runs with the inverse
// sign (see the module docs): a decimation in time (bit-reversed in, natural out) and the
// twiddles e^{+2πi·k1·j2/SIDE}, as fft_four_step's inverse pass B.
@compute @workgroup_size(WG)
fn sub_column_product(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_id) lid: vec3<u32>,
) {
    let t = flat_workgroup(wid, nwg);
    if (t >= SIDE * N1) {
        return;
    }
    // Consecutive workgroups take consecutive columns (neighbouring addresses).
    let l = t % SIDE;
    let k1 = t / SIDE;
    let base = k1 * N2 * SIDE + l;
    spectra_product(base, SIDE, lid.x);
    dit(lid.x, real(1.0));
    for (var j = lid.x; j < N; j = j + WG) {
        z_fp[base + j * SIDE] = cmul(s[j], conj(steps[k1 * j]));
    }
}

// Sub-row j2 of row r (columns j2, j2 + N2, …, as fft_four_step's inverse pass B left
// it): the second transform's last pass A (inverse sign: natural order out), then |·| /
// SIDE² into the PSF at the negated and rolled position: element (r, c) of the inverse-sign
// transform is bin (−r, −c) of the forward one, which numpy.roll by SIDE/2 puts at
// ((SIDE/2 − r) mod SIDE, (SIDE/2 − c) mod SIDE).
@compute @workgroup_size(WG)
fn sub_row_finish(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_id) lid: vec3<u32>,
) {
    let t = flat_workgroup(wid, nwg);
    if (t >= SIDE * N2) {
        return;
    }
    let j2 = t % N2;
    let r = t / N2;
    for (var j1 = lid.x; j1 < N; j1 = j1 + WG) {
        s[bitrev(j1)] = z_fp[r * SIDE + j2 + j1 * N2];
    }
    dit(lid.x, real(1.0));
    let row = ((SIDE / 2u + SIDE - r) % SIDE) * SIDE;
    let scale = real(SIDE) * real(SIDE);
    for (var j1 = lid.x; j1 < N; j1 = j1 + WG) {
        let v = s[j1];
        let c = j2 + j1 * N2;
        psf[row + (SIDE / 2u + SIDE - c) % SIDE] = sqrt(v.x * v.x + v.y * v.y) / scale;
    }
}
