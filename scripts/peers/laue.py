"""Laue peers: the ESRF/silx course "Optimization of compute-bound Python code", as a harness worker.

    scripts/.venv/bin/python scripts/peers/laue.py MODE      MODE: loops | numpy | numexpr | numba | numba-parallel

I(h, k) = |sum over cells exp(2 pi i (h p_n + k p_m))|^2 on an (oversampling n)^2 grid around
(h, k) = (H, K), for a square crystal, a circular one, or a circular one with a radial strain
(p = n + s (n - c), s = e0 (1 + tanh((r - c) / w))). The output's rows follow h, as the harness's
naive variant. The loops are the course's first version (time ~ n^4: register them with
max_n = 32); the others are its NumPy, NumExpr and Numba versions.
"""

import cmath
import math
import os
import sys

import numpy as np

from protocol import Refuse, need, serve

CASES = ("square", "circle", "strained")


def axes(problem):
    """The reciprocal-space sample points h and k (the course's np.arange grids)."""
    n, over = int(problem.param("n")), int(problem.param("oversampling"))
    step = 1 / (over * n)
    h0, k0 = problem.param("h"), problem.param("k")
    return np.arange(h0 - 0.5, h0 + 0.5, step), np.arange(k0 - 0.5, k0 + 0.5, step)


def cells(problem):
    """The cell positions (p_n, p_m) of the crystal, flattened, strain applied."""
    n, case = int(problem.param("n")), problem.case
    nn, mm = np.meshgrid(np.arange(n, dtype=float), np.arange(n, dtype=float), indexing="ij")
    nn, mm = nn.ravel(), mm.ravel()
    if case == "square":
        return nn, mm
    c = n / 2
    r = np.sqrt((nn - c) ** 2 + (mm - c) ** 2)
    inside = r <= c
    nn, mm, r = nn[inside], mm[inside], r[inside]
    if case == "circle":
        return nn, mm
    s = problem.param("e0") * (1 + np.tanh((r - c) / problem.param("w")))
    return nn + s * (nn - c), mm + s * (mm - c)


def loops(problem):
    """The course's first version: four loops, one complex exponential per term."""
    h, k = axes(problem)
    n_cells, centre = int(problem.param("n")), problem.param("n") / 2
    case = problem.case
    e0, w = (problem.param("e0"), problem.param("w")) if case == "strained" else (0.0, 1.0)

    def run():
        result = np.zeros((h.size, k.size))
        for i, v in enumerate(h):
            for j, u in enumerate(k):
                tmp = 0j
                for n in range(n_cells):
                    for m in range(n_cells):
                        pn, pm = float(n), float(m)
                        if case != "square":
                            r = math.sqrt((n - centre) ** 2 + (m - centre) ** 2)
                            if r > centre:
                                continue
                            if case == "strained":
                                s = e0 * (1 + math.tanh((r - centre) / w))
                                pn, pm = n + s * (n - centre), m + s * (m - centre)
                        tmp += cmath.exp(2j * math.pi * (v * pn + u * pm))
                result[i, j] = abs(tmp) ** 2
        return result

    return run


def blocks(h, per_row_bytes, limit=64 << 20):
    """Slices of h rows whose temporaries stay under `limit` bytes (NumPy would otherwise
    allocate (h, k, cells) complex numbers at once: gigabytes at n = 128)."""
    rows = max(1, int(limit // max(per_row_bytes, 1)))
    return [slice(i, min(i + rows, h.size)) for i in range(0, h.size, rows)]


def numpy_version(problem):
    """NumPy broadcasting over (h, k, cells), in blocks of h rows to bound memory."""
    h, k = axes(problem)
    pn, pm = cells(problem)

    def run():
        out = np.empty((h.size, k.size))
        for b in blocks(h, 16 * k.size * pn.size):
            s = np.exp(2j * np.pi * (h[b, None, None] * pn[None, None, :] + k[None, :, None] * pm[None, None, :]))
            out[b] = np.abs(s.sum(axis=2)) ** 2
        return out

    return run


def numexpr_version(problem):
    """The same broadcasting with the exponential evaluated by NumExpr on every core."""
    ne = need("numexpr")
    h, k = axes(problem)
    pn, pm = cells(problem)
    ne.set_num_threads(len(os.sched_getaffinity(0)))

    def run():
        out = np.empty((h.size, k.size))
        for b in blocks(h, 16 * k.size * pn.size):
            hh, kk = h[b, None, None], k[None, :, None]
            pnn, pmm = pn[None, None, :], pm[None, None, :]
            s = ne.evaluate("exp(6.283185307179586j * (hh * pnn + kk * pmm))")
            out[b] = np.abs(s.sum(axis=2)) ** 2
        return out

    return run


_NUMBA = {}


def numba_kernels():
    """The course's Numba loops, compiled lazily once per worker: a serial and a prange one."""
    if not _NUMBA:
        numba = need("numba")

        def body(h, k, pn, pm, out, i):
            for j in range(k.size):
                re = 0.0
                im = 0.0
                for c in range(pn.size):
                    ph = 2 * np.pi * (h[i] * pn[c] + k[j] * pm[c])
                    re += np.cos(ph)
                    im += np.sin(ph)
                out[i, j] = re * re + im * im

        inner = numba.njit(body)

        @numba.njit
        def serial(h, k, pn, pm, out):
            for i in range(h.size):
                inner(h, k, pn, pm, out, i)

        @numba.njit(parallel=True)
        def parallel(h, k, pn, pm, out):
            for i in numba.prange(h.size):
                inner(h, k, pn, pm, out, i)

        _NUMBA.update(serial=serial, parallel=parallel)
    return _NUMBA


def numba_version(parallel):
    def prepare(problem):
        f = numba_kernels()["parallel" if parallel else "serial"]
        h, k = axes(problem)
        pn, pm = cells(problem)
        out = np.empty((h.size, k.size))
        # Compile for these argument types (contiguous float64 arrays) now: part of the setup.
        f(h[:2].copy(), k[:2].copy(), pn[:2].copy(), pm[:2].copy(), np.empty((2, 2)))

        def run():
            f(h, k, pn, pm, out)
            return out

        return run

    return prepare


MODES = {
    "loops": loops,
    "numpy": numpy_version,
    "numexpr": numexpr_version,
    "numba": numba_version(parallel=False),
    "numba-parallel": numba_version(parallel=True),
}


def main():
    if len(sys.argv) != 2 or sys.argv[1] not in MODES:
        print(f"usage: laue.py MODE   (MODE: {' | '.join(MODES)})", file=sys.stderr)
        sys.exit(2)
    make = MODES[sys.argv[1]]

    def prepare(problem):
        if problem.case not in CASES:
            raise Refuse(f"unknown laue case {problem.case!r}: this worker knows {', '.join(CASES)}")
        return make(problem)

    serve("laue", prepare)


if __name__ == "__main__":
    main()
