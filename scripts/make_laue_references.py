"""Laue references, from the ESRF/silx course's formulas, in numpy.

    I(h, k) = |sum over cells of exp(2*pi*i*(h*p_n + k*p_m))|^2

square: every cell of N x N; circle: cells with r <= N/2 (centre N/2), unstrained;
strained: the same disc displaced by s = e0*(1 + tanh((r - N/2)/w)).
h = arange(H - 0.5, H + 0.5, 1/(oversampling*N)), k likewise around K (numpy's arange, whose
step is not exactly 1/(oversampling*N): the references depend on that).

Usage: python scripts/make_laue_references.py [--check-seed ../shared/seed-references]
"""

import argparse
from pathlib import Path

import numpy as np

from refs_common import save, versions

H, K, E0, W = 0.0, 4.0, 0.01, 5.0
TOLERANCE = {
    "f64": "8u*Phi + 4u*C of max|ref| (u = 2^-53, Phi = largest phase, C = cells): phase rounding "
    "and summation order, worst case (1.3e-12 at N = 32). FFT variant: plus 4*pi*N*(e_h+e_k) "
    "for numpy's arange grid.",
    "f32": "1e-4: phase error ~2^-24*2*pi rad per term after reduction modulo one turn, "
    "plus sqrt(C)*2^-24 from accumulating C terms in f32.",
}


def cells(case, n):
    """Positions (p_n, p_m) of the crystal's cells, row-major."""
    nn, mm = np.meshgrid(np.arange(n, dtype=np.float64), np.arange(n, dtype=np.float64), indexing="ij")
    nn, mm = nn.ravel(), mm.ravel()
    if case == "square":
        return nn, mm
    c = n / 2
    r = np.sqrt((nn - c) ** 2 + (mm - c) ** 2)
    inside = r <= c
    nn, mm, r = nn[inside], mm[inside], r[inside]
    if case == "circle":
        return nn, mm
    s = E0 * (1 + np.tanh((r - c) / W))
    return nn + s * (nn - c), mm + s * (mm - c)


def laue(case, n, oversampling):
    h = np.arange(H - 0.5, H + 0.5, 1 / (oversampling * n))
    k = np.arange(K - 0.5, K + 0.5, 1 / (oversampling * n))
    p_n, p_m = cells(case, n)
    total = np.zeros((h.size, k.size), dtype=np.complex128)
    for a, b in zip(p_n, p_m):
        total += np.exp(2j * np.pi * (h[:, None] * a + k[None, :] * b))
    return np.abs(total) ** 2


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--check-seed", type=Path, help="folder with the course's reference_sq.npy / reference_ci.npy")
    args = ap.parse_args()
    for n in (32, 16):
        for case in ("square", "circle", "strained"):
            out = laue(case, n, 3)
            save("laue", f"{case}_n{n}_os3", out, {
                "kernel": "laue", "case": case,
                "params": {"n": n, "oversampling": 3, "h": H, "k": K, "e0": E0, "w": W},
                "generator": "scripts/make_laue_references.py (numpy, course formulas)",
                "versions": versions("numpy"),
                "tolerance": TOLERANCE,
            })
            if args.check_seed and n == 32 and case in ("square", "strained"):
                seed = np.load(args.check_seed / ("reference_sq.npy" if case == "square" else "reference_ci.npy"))
                err = np.abs(seed - out).max() / seed.max()
                print(f"  vs course's file: {err:.2e}")
                assert err < 1e-13, f"{case}: {err}"


if __name__ == "__main__":
    main()
