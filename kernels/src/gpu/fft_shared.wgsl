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

// One radix-2 stage of half-length h (only h = 1 is used: the odd stage of an odd log₂ N).
// Butterfly b pairs j = (b / h)·2h + k and j + h, k = b mod h, twiddle e^{sign·2πi·k/(2h)}:
// before the difference in frequency (`dif`), after it in time.
fn radix2(h: u32, lid: u32, sign: real, dif: bool) {
    workgroupBarrier();
    let step = (N / (2u * h)) * TWS;
    for (var b = lid; b < N / 2u; b = b + WG) {
        let k = b & (h - 1u);
        let j = (b - k) * 2u + k;
        let w = twiddle(k * step, sign);
        let u = s[j];
        if (dif) {
            let v = s[j + h];
            s[j] = u + v;
            s[j + h] = cmul(u - v, w);
        } else {
            let v = cmul(s[j + h], w);
            s[j] = u + v;
            s[j + h] = u - v;
        }
    }
}

// Decimation in time, in place: s in bit-reversed order → its DFT in natural order. The
// radix-2 stages of half-lengths h and 2h are done together (radix 2², one barrier per
// pair): invocation group b takes j, j + h, j + 2h, j + 3h, j = (b / h)·4h + k, k = b mod h,
// with twiddles e^{sign·2πi·k/(2h)} (stage h) and e^{sign·2πi·k/(4h)}, e^{…(k + h)/(4h)}
// (stage 2h). Call from uniform control flow (barriers).
fn dit(lid: u32, sign: real) {
    var h = 1u;
    if ((LOG2N & 1u) == 1u) {
        radix2(1u, lid, sign, false);
        h = 2u;
    }
    for (; h < N; h = h * 4u) {
        workgroupBarrier();
        let step2 = (N / (2u * h)) * TWS;
        let step4 = (N / (4u * h)) * TWS;
        for (var b = lid; b < N / 4u; b = b + WG) {
            let k = b & (h - 1u);
            let j = (b - k) * 4u + k;
            let w2 = twiddle(k * step2, sign);
            let x0 = s[j];
            let x1 = cmul(s[j + h], w2);
            let x2 = s[j + 2u * h];
            let x3 = cmul(s[j + 3u * h], w2);
            let b2 = cmul(x2 + x3, twiddle(k * step4, sign));
            let b3 = cmul(x2 - x3, twiddle((k + h) * step4, sign));
            let a0 = x0 + x1;
            let a1 = x0 - x1;
            s[j] = a0 + b2;
            s[j + 2u * h] = a0 - b2;
            s[j + h] = a1 + b3;
            s[j + 3u * h] = a1 - b3;
        }
    }
    workgroupBarrier();
}

// Decimation in frequency, in place: s in natural order → its DFT in bit-reversed order.
// The stages of half-lengths 2h and h together (the mirror of `dit`), from h = N/4 down;
// an odd log₂ N ends with the radix-2 stage h = 1.
fn dif(lid: u32, sign: real) {
    for (var h = N / 4u; h >= 1u; h = h / 4u) {
        workgroupBarrier();
        let step2 = (N / (2u * h)) * TWS;
        let step4 = (N / (4u * h)) * TWS;
        for (var b = lid; b < N / 4u; b = b + WG) {
            let k = b & (h - 1u);
            let j = (b - k) * 4u + k;
            let x0 = s[j];
            let x1 = s[j + h];
            let x2 = s[j + 2u * h];
            let x3 = s[j + 3u * h];
            let a0 = x0 + x2;
            let a1 = x1 + x3;
            let a2 = cmul(x0 - x2, twiddle(k * step4, sign));
            let a3 = cmul(x1 - x3, twiddle((k + h) * step4, sign));
            let w2 = twiddle(k * step2, sign);
            s[j] = a0 + a1;
            s[j + h] = cmul(a0 - a1, w2);
            s[j + 2u * h] = a2 + a3;
            s[j + 3u * h] = cmul(a2 - a3, w2);
        }
    }
    if ((LOG2N & 1u) == 1u) {
        radix2(1u, lid, sign, true);
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
