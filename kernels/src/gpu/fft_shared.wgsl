// Shared-memory radix-2 FFT of one N-point sequence held in workgroup memory: see
// fft_shared.rs. A library, not a shader: the host prepends
//   alias real = f32;  (or f64)
//   const N: u32 = …;      the transform length (a power of two ≥ 2)
//   const LOG2N: u32 = …;
//   const WG: u32 = …;     invocations per workgroup (≤ N/2)
//   const TWS: u32 = …;    twiddle stride: `twiddles` holds e^{−2πi·m/(TWS·N)}
// and the user shader declares `twiddles` (array<vec2<real>>) at a binding of its choice.

var<workgroup> s: array<vec2<real>, N>;

fn cmul(a: vec2<real>, b: vec2<real>) -> vec2<real> {
    return vec2<real>(a.x * b.x - a.y * b.y, a.x * b.y + a.y * b.x);
}

fn conj(a: vec2<real>) -> vec2<real> {
    return vec2<real>(a.x, -a.y);
}

// Index j with its LOG2N low bits reversed (LOG2N ≥ 1, so the shift is < 32).
fn bitrev(j: u32) -> u32 {
    return reverseBits(j) >> (32u - LOG2N);
}

// e^{sign·2πi·m/(TWS·N)}, sign = −1 (forward) or +1 (inverse): the table, conjugated.
fn twiddle(m: u32, sign: real) -> vec2<real> {
    let w = twiddles[m];
    return vec2<real>(w.x, -sign * w.y);
}

// Decimation in time, in place: s in bit-reversed order → its DFT in natural order.
// Butterfly b of the stage with half-length h pairs j = (b / h)·2h + k and j + h, k = b mod h,
// with the twiddle e^{sign·2πi·k/(2h)}. Call from uniform control flow (barriers).
fn dit(lid: u32, sign: real) {
    for (var h = 1u; h < N; h = h * 2u) {
        workgroupBarrier();
        let step = (N / (2u * h)) * TWS;
        for (var b = lid; b < N / 2u; b = b + WG) {
            let k = b & (h - 1u);
            let j = (b - k) * 2u + k;
            let u = s[j];
            let v = cmul(s[j + h], twiddle(k * step, sign));
            s[j] = u + v;
            s[j + h] = u - v;
        }
    }
    workgroupBarrier();
}

// Decimation in frequency, in place: s in natural order → its DFT in bit-reversed order.
fn dif(lid: u32, sign: real) {
    for (var h = N / 2u; h >= 1u; h = h / 2u) {
        workgroupBarrier();
        let step = (N / (2u * h)) * TWS;
        for (var b = lid; b < N / 2u; b = b + WG) {
            let k = b & (h - 1u);
            let j = (b - k) * 2u + k;
            let u = s[j];
            let v = s[j + h];
            s[j] = u + v;
            s[j + h] = cmul(u - v, twiddle(k * step, sign));
        }
    }
    workgroupBarrier();
}

// Real-to-complex: s holds Z = DFT_N(z), z[j] = x[2j] + i·x[2j+1] of a real row x of 2N
// points, in natural order; returns X[k] = DFT_2N(x)[k], 0 ≤ k ≤ N (TWS = 2: the table is
// e^{−2πi·m/(2N)}). X[k] = E + e^{−2πik/2N}·O, E = (Z[k] + conj Z[N−k])/2,
// O = −i·(Z[k] − conj Z[N−k])/2.
fn r2c_bin(k: u32) -> vec2<real> {
    let zk = s[k % N];
    let zc = conj(s[(N - k) % N]);
    let e = real(0.5) * (zk + zc);
    let d = real(0.5) * (zk - zc);
    let o = vec2<real>(d.y, -d.x);
    return e + cmul(o, twiddle(k, real(-1.0)));
}

// Complex-to-real, the inverse of `r2c_bin` times 2N (unnormalised, as realfft): from X[k]
// and X[N−k] of a Hermitian half spectrum, Z'[k] = (X[k] + conj X[N−k])
// + i·e^{+2πik/2N}·(X[k] − conj X[N−k]); the inverse DFT_N of Z' is 2N·(x[2j] + i·x[2j+1]).
fn c2r_bin(xk: vec2<real>, xnk: vec2<real>, k: u32) -> vec2<real> {
    let e = xk + conj(xnk);
    let o = cmul(xk - conj(xnk), twiddle(k, real(1.0)));
    return e + vec2<real>(-o.y, o.x);
}
