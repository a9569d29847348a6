// Batched Levenberg–Marquardt, one invocation per fit (Gpufit's design): the whole loop of
// `naive.rs` — scaling, damped LDLᵀ solve, trial, accept/reject, stop — runs in one
// invocation.
//
// Where the arrays live. What a pass over the points touches at every point — parameters,
// trial point, Jacobian row, and the sums of the gradient and of JᵀWJ's upper triangle —
// is private and indexed only by constants, so it stays in registers. What the solve
// indexes by row and column lives in the scratch buffer `work`, element-major (element e
// of fit f at e·count + f, `ix`, so that neighbouring invocations touch neighbouring
// words): two slots for JᵀWJ, the current one and the trial point's (accepting a step
// swaps them), the factorised damped system, the two gradients, the scaling and the step.
//
// The host (`gpu.rs`) prepends the case's part: `alias R`, the sizes P, N, PP = P·P and
// PT = P(P+1)/2, `expr` (e^x in R), `model(k)` (value at point k from `trial`, gradient
// into `jac`), and functions written out term by term: `load(fit)`, `store(fit)`,
// `step()`, `accumulate(r, sw)`, `save()` and the solve's sums `dot_*`. Written out,
// because lavapipe (Mesa's software driver) ends a shader invocation after 65 535 loop
// iterations in all, which a loop over P² terms at every point would exceed (odmr8:
// 201·351 per pass); what remains are loops over points, steps, and rows and columns.

struct Config {
    // Fits in this chunk (fit 0 of its bindings is the chunk's first).
    count: u32,
    max_iterations: u32,
    pad0: u32,
    pad1: u32,
}

@group(0) @binding(0) var<uniform> cfg: Config;
// [tolerance, weight, centre, abscissae...]
@group(0) @binding(1) var<storage, read> consts: array<R>;
// Data (count × N) and initial parameters (count × P) of the chunk.
@group(0) @binding(2) var<storage, read> y: array<R>;
@group(0) @binding(3) var<storage, read> init: array<R>;
// Results: parameters (count × P) and [χ², iterations, state] per fit.
@group(0) @binding(4) var<storage, read_write> out_params: array<R>;
@group(0) @binding(5) var<storage, read_write> out_info: array<R>;
// Scratch: 3·PP + 4·P elements per fit (offsets below).
@group(0) @binding(6) var<storage, read_write> work: array<R>;

// Offsets in a fit's scratch: JᵀWJ slots 0 and 1, the factorised system (L below the
// diagonal, D on it), the gradient at p and at the trial point, scaling s, step δ.
const SLOT0: u32 = 0u;
const A: u32 = 2u * PP;
const G: u32 = 3u * PP;
const GT: u32 = 3u * PP + P;
const S: u32 = 3u * PP + 2u * P;
const DELTA: u32 = 3u * PP + 3u * P;

var<private> fit_index: u32;
var<private> p: array<R, P>;
var<private> trial: array<R, P>;
var<private> jac: array<R, P>;
// Sums of a pass: gradient and packed upper triangle of JᵀWJ (PT = P(P+1)/2 terms).
var<private> gt: array<R, P>;
var<private> ht: array<R, PT>;
// Offsets of the current JᵀWJ (H) and the trial point's (HT): the two slots.
var<private> H: u32;
var<private> HT: u32;

// Index in `work` of element e of this fit's scratch.
fn ix(e: u32) -> u32 {
    return e * cfg.count + fit_index;
}

// χ² at `trial`, with its gradient at GT and its JᵀWJ (upper triangle) at HT. W = w·I:
// residuals and Jacobian rows are scaled by √w, so that the sums come out weighted.
fn coefficients(fit: u32, w: R) -> R {
    gt = array<R, P>();
    ht = array<R, PT>();
    let sw = sqrt(w);
    var chi2 = R(0);
    for (var k = 0u; k < N; k++) {
        let r = (y[fit * N + k] - model(k)) * sw;
        chi2 += r * r;
        accumulate(r, sw);
    }
    save();
    return chi2;
}

// The trial point becomes the current one: swap the JᵀWJ slots, copy p and g.
fn accept() {
    p = trial;
    let t = H;
    H = HT;
    HT = t;
    for (var i = 0u; i < P; i++) {
        work[ix(G + i)] = work[ix(GT + i)];
    }
}

// Solves (H + λ·diag(s))·δ = g, s_i = max(s_i, H_ii), by LDLᵀ into A; false when a pivot
// is not positive (singular).
fn damped_solve(lambda: R) -> bool {
    for (var j = 0u; j < P; j++) {
        let hjj = work[ix(H + j * P + j)];
        let s = max(work[ix(S + j)], hjj);
        work[ix(S + j)] = s;
        let d = hjj + lambda * s - dot_d(j);
        if (!(d > R(0))) {
            return false;
        }
        work[ix(A + j * P + j)] = d;
        for (var i = j + 1u; i < P; i++) {
            work[ix(A + i * P + j)] = (work[ix(H + j * P + i)] - dot_l(i, j)) / d;
        }
    }
    // L·z = g, D·w = z, Lᵀ·δ = w.
    for (var i = 0u; i < P; i++) {
        work[ix(DELTA + i)] = work[ix(G + i)] - dot_forward(i);
    }
    for (var r = 0u; r < P; r++) {
        let i = P - 1u - r;
        work[ix(DELTA + i)] = work[ix(DELTA + i)] / work[ix(A + i * P + i)] - dot_back(i);
    }
    return true;
}

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_id) lid: vec3<u32>) {
    let fit = flat_workgroup(wid, nwg) * 64u + lid.x;
    if (fit >= cfg.count) {
        return;
    }
    fit_index = fit;
    H = SLOT0;
    HT = SLOT0 + PP;
    let tol = consts[0];
    let w = consts[1];
    load(fit);
    for (var i = 0u; i < P; i++) {
        work[ix(S + i)] = R(0);
    }
    var chi2 = coefficients(fit, w);
    accept();
    var lambda = R(0.001);
    var state = 1u;
    var iterations = cfg.max_iterations;
    for (var it = 1u; it <= cfg.max_iterations; it++) {
        if (!damped_solve(lambda)) {
            state = 2u;
            iterations = it;
            break;
        }
        step();
        let trial_chi2 = coefficients(fit, w);
        let converged = abs(trial_chi2 - chi2) < tol * max(trial_chi2, R(1));
        if (trial_chi2 < chi2) {
            accept();
            chi2 = trial_chi2;
            lambda *= R(0.1);
        } else {
            lambda *= R(10);
        }
        if (converged) {
            state = 0u;
            iterations = it;
            break;
        }
    }
    store(fit);
    out_info[fit * 3u] = chi2;
    out_info[fit * 3u + 1u] = R(iterations);
    out_info[fit * 3u + 2u] = R(state);
}
