"""Python peers: the implementations a user would otherwise reach for, on the exact problems
of a harness run, written as rows of the harness's CSV so that `harness report` shows them in
the same tables and charts.

    python scripts/peers.py [RUN_DIR] [--budget 1.0] [--only laue] [--limit 60] [--slow]

RUN_DIR is a folder made by `harness bench` (default: the latest under reports/). The
problems are read from its results.csv (every kernel, case and parameter set measured there);
the rows go to RUN_DIR/peers.csv (peers-1.csv, ... if it exists: nothing is overwritten),
appended and flushed one by one, with exactly the columns of results.csv.

Every peer is validated before it is timed, with the harness's error measure
max|ref - out| / max|ref| and the tolerance the harness used for its f64 variants on that
problem. The reference is the committed file (references/manifest.json) for these
parameters, else the oracle output the harness saved in RUN_DIR/images/. A peer that fails is
written as failed with its error, never timed.

Timing mirrors harness/src/measure.rs: warm-up until two successive batch medians agree
within 5 %, samples until the budget and a minimum count (short runs grouped so that a
sample lasts budget/200), median with a bootstrap 95 % interval, spread = IQR / median,
outliers by Tukey's fences, "noisy" above the run's threshold. Setup (Numba compilation,
array preparation) is timed apart.

Peers:
  laue    py-loops (the course's scalar loops; only at n = 32), py-numpy (broadcasting),
          py-numexpr, py-numba, py-numba-parallel (if those packages are installed)
  psf     py-aiapy (aiapy.psf.psf; aiapy fixes N = 4096 and takes minutes: needs --slow)
  lm      py-scipy (scipy.optimize.least_squares, method "lm", per fit, analytic Jacobian), on
          the harness's data set (kernels/examples/lm_data.rs), checked by chi^2 on the fits the
          harness's naive variant converged
  deconv  py-aiapy (aiapy.psf.deconvolve, NumPy), on the harness's image and PSF (`harness run`),
          checked against the harness's f64 FFT variant
A peer that cannot run (package missing, no reference, inputs not found) is written as
"skipped" with the reason.

Install: python3 -m venv .venv && .venv/bin/pip install -r scripts/requirements.txt
"""

import argparse
import cmath
import csv
import json
import math
import os
import platform
import re
import shutil
import subprocess
import tempfile
import sys
import time
import tracemalloc
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
REFERENCES = ROOT / "references"

STABLE = 0.05  # warm-up: successive batch medians within 5 %
WARMUP_SHARE = 0.3  # at most 30 % of the budget on warm-up
TARGET_SAMPLES = 200.0
RESAMPLES = 2000
CONFIDENCE = 0.95


class Skip(Exception):
    """A peer that cannot run on this problem here; the message is the reason."""


# ---- machine fingerprint (the same fields, computed the same way, as harness/src/machine.rs)


def machine():
    cpuinfo = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    cpu = next((l.split(":", 1)[1].strip() for l in cpuinfo.splitlines() if l.startswith("model name")),
               platform.machine())
    flags = next((l.split(":", 1)[1].split() for l in cpuinfo.splitlines() if l.startswith("flags")), [])
    simd = next((f for f in ("avx512f", "avx2", "avx", "sse4_2", "asimd") if f in flags), "scalar")
    kib = 0.0
    if Path("/proc/meminfo").exists():
        m = re.search(r"MemTotal:\s+(\d+)", Path("/proc/meminfo").read_text())
        kib = float(m.group(1)) if m else 0.0
    os_name = platform.system()
    if Path("/etc/os-release").exists():
        m = re.search(r'^PRETTY_NAME="?([^"\n]*)"?', Path("/etc/os-release").read_text(), re.M)
        os_name = m.group(1) if m else os_name
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:
        cores = os.cpu_count() or 1
    try:
        commit = subprocess.run(["git", "rev-parse", "--short=12", "HEAD"], cwd=ROOT, capture_output=True,
                                text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT,
                               capture_output=True, text=True).stdout.strip()
        commit += "-dirty" if dirty else ""
    except (OSError, subprocess.CalledProcessError):
        commit = "unknown"
    return {
        "cpu": cpu, "cores": cores, "simd": f"{simd} (numpy dispatch)",
        "memory_gib": round(kib / 1048576 * 10) / 10, "os": os_name,
        "gpu_adapter": "n/a (Python peers run on the CPU)", "gpu_type": "none", "gpu_backend": "none",
        "rustc": "", "git_commit": commit,
    }


def version(pkg):
    try:
        return metadata.version(pkg)
    except metadata.PackageNotFoundError:
        return None


def runtime():
    parts = [f"python {platform.python_version()}", f"numpy {np.__version__}"]
    for p in ("numexpr", "numba", "scipy", "aiapy"):
        if version(p):
            parts.append(f"{p} {version(p)}")
    return " · ".join(parts)


def stamp():
    return datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")


# ---- memory (as harness/src/memory.rs: VmHWM reset through /proc/self/clear_refs)


def rss():
    try:
        s = Path("/proc/self/status").read_text()
    except OSError:
        return None
    f = lambda k: int(re.search(rf"{k}:\s+(\d+)", s).group(1)) * 1024
    return f("VmRSS"), f("VmHWM")


def reset_rss_peak():
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


# ---- statistics (as harness/src/stats.rs)


def summary(samples):
    s = np.sort(np.asarray(samples, dtype=float))
    med = float(np.percentile(s, 50))
    if len(s) > 1:
        rng = np.random.default_rng(0x5EED)
        boot = np.median(s[rng.integers(0, len(s), (RESAMPLES, len(s)))], axis=1)
        lo, hi = np.percentile(boot, [50 * (1 - CONFIDENCE), 50 * (1 + CONFIDENCE)])
    else:
        lo = hi = med
    q1, q3 = np.percentile(s, [25, 75])
    iqr = q3 - q1
    mild = int(np.sum(((s < q1 - 1.5 * iqr) & (s >= q1 - 3 * iqr)) | ((s > q3 + 1.5 * iqr) & (s <= q3 + 3 * iqr))))
    severe = int(np.sum((s < q1 - 3 * iqr) | (s > q3 + 3 * iqr)))
    return {
        "median_s": med, "ci_low_s": float(lo), "ci_high_s": float(hi), "mean_s": float(s.mean()),
        "min_s": float(s[0]), "max_s": float(s[-1]), "spread": float(iqr / med) if med > 0 else 0.0,
        "samples": len(s), "outliers_mild": mild, "outliers_severe": severe,
    }


def measure(run, first, budget, min_samples):
    """Warm-up until stable, then samples (seconds per run); mirrors measure.rs."""
    out = {"warmup_runs": 1, "warmup_s": first, "iters_per_sample": 1, "warmup_stable": False, "note": ""}
    if first >= budget:
        out["samples"] = [first]
        out["note"] = "one run exceeded the budget: a single sample, no spread"
        return out
    estimate, previous, batches = first, None, 0
    checkable = first < budget / 4
    while checkable and (out["warmup_s"] < WARMUP_SHARE * budget or batches < 2):
        runs = int(min(max(math.ceil(budget / 50 / estimate), 1), 10_000))
        times = []
        for _ in range(runs):
            t = time.perf_counter()
            run()
            times.append(time.perf_counter() - t)
        batches += 1
        out["warmup_runs"] += runs
        out["warmup_s"] += sum(times)
        med = float(np.median(times))
        estimate = max(med, 1e-9)
        if previous is not None:
            change = abs(med - previous) / previous
            if change <= STABLE:
                out["warmup_stable"] = True
                break
            last_change = change
        previous = med
    if not checkable:
        out["note"] = "one run is over a quarter of the budget: warm-up not checked (raise --budget)"
    elif not out["warmup_stable"]:
        out["note"] = (f"warm-up did not settle within {100 * WARMUP_SHARE:.0f}% of the budget "
                       f"(last two batch medians {100 * last_change:.1f}% apart)")
    iters = max(1, math.ceil(budget / TARGET_SAMPLES / estimate))
    out["iters_per_sample"] = iters
    samples, timed = [], 0.0
    while (len(samples) < max(min_samples, 1) or timed < budget) and len(samples) < 5000:
        t = time.perf_counter()
        for _ in range(iters):
            run()
        dt = time.perf_counter() - t
        samples.append(dt / iters)
        timed += dt
        if timed >= 3 * budget:
            break
    out["samples"] = samples
    return out


# ---- references


def parse_params(text):
    return {k: float(v) for k, v in (kv.split("=", 1) for kv in text.split())}


def find_reference(problem, run_dir, manifest):
    """(label, array) of the committed reference for these parameters, else the harness's
    saved oracle output for this problem, else None."""
    for rel, entry in manifest.items():
        if entry.get("kernel") != problem["kernel"] or entry.get("case") != problem["case"]:
            continue
        if entry.get("role", "output") != "output":
            continue
        mp = entry.get("params", {})
        if all(k in problem["params"] and abs(float(v) - problem["params"][k]) <= 1e-12 * max(1, abs(float(v)))
               for k, v in mp.items() if isinstance(v, (int, float))):
            return rel, np.load(ROOT / rel)
    for img in problem["run"].get("images", []):
        if (img["kernel"], img["case"], img["params"]) == (problem["kernel"], problem["case"], problem["params_str"]):
            return f"{img['source']} (saved by the harness run)", np.load(run_dir / img["file"])
    return None


# ---- Laue (ESRF/silx course "Optimization of compute-bound Python code")


def laue_axes(p):
    n, os_ = int(p["n"]), int(p["oversampling"])
    step = 1 / (os_ * n)
    h = np.arange(p["h"] - 0.5, p["h"] + 0.5, step)
    k = np.arange(p["k"] - 0.5, p["k"] + 0.5, step)
    return h, k


def laue_cells(case, p):
    n = int(p["n"])
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
    s = p["e0"] * (1 + np.tanh((r - c) / p["w"]))
    return nn + s * (nn - c), mm + s * (mm - c)


def laue_loops(case, p):
    """The course's first version: four loops, one complex exponential per term."""
    if int(p["n"]) != 32:
        raise Skip("the Python loops run only at n = 32: their time grows as n^4, minutes beyond")
    h, k = laue_axes(p)
    n_cells, centre, e0, w = int(p["n"]), p["n"] / 2, p["e0"], p["w"]

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

    return run, 1


def _blocks(h, per_row_bytes, limit=64 << 20):
    rows = max(1, int(limit // max(per_row_bytes, 1)))
    return [slice(i, min(i + rows, h.size)) for i in range(0, h.size, rows)]


def laue_numpy(case, p):
    """NumPy broadcasting over (h, k, cells), in blocks of h rows to bound memory."""
    h, k = laue_axes(p)
    pn, pm = laue_cells(case, p)

    def run():
        out = np.empty((h.size, k.size))
        for b in _blocks(h, 16 * k.size * pn.size):
            s = np.exp(2j * np.pi * (h[b, None, None] * pn[None, None, :] + k[None, :, None] * pm[None, None, :]))
            out[b] = np.abs(s.sum(axis=2)) ** 2
        return out

    return run, 1


def laue_numexpr(case, p):
    try:
        import numexpr as ne
    except ImportError:
        raise Skip("numexpr is not installed (pip install -r scripts/requirements.txt)")
    h, k = laue_axes(p)
    pn, pm = laue_cells(case, p)
    ne.set_num_threads(len(os.sched_getaffinity(0)))

    def run():
        out = np.empty((h.size, k.size))
        for b in _blocks(h, 16 * k.size * pn.size):
            hh, kk = h[b, None, None], k[None, :, None]
            pnn, pmm = pn[None, None, :], pm[None, None, :]
            s = ne.evaluate("exp(6.283185307179586j * (hh * pnn + kk * pmm))")
            out[b] = np.abs(s.sum(axis=2)) ** 2
        return out

    return run, ne.get_num_threads() if hasattr(ne, "get_num_threads") else ne.nthreads


_NUMBA = {}


def _numba_kernels():
    if not _NUMBA:
        try:
            import numba
        except ImportError:
            raise Skip("numba is not installed (pip install -r scripts/requirements.txt)")

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

        _NUMBA.update(serial=serial, parallel=parallel, threads=numba.get_num_threads)
    return _NUMBA


def laue_numba(parallel):
    def make(case, p):
        kern = _numba_kernels()
        f = kern["parallel" if parallel else "serial"]
        h, k = laue_axes(p)
        pn, pm = laue_cells(case, p)
        out = np.empty((h.size, k.size))
        # Compile for these argument types (contiguous float64 arrays): part of the setup.
        f(h[:2].copy(), k[:2].copy(), pn[:2].copy(), pm[:2].copy(), np.empty((2, 2)))

        def run():
            f(h, k, pn, pm, out)
            return out

        return run, kern["threads"]() if parallel else 1

    return make


# ---- the other kernels' peers (run when their references and inputs exist)


class _ArrayMap:
    """The little of a sunpy Map that aiapy.psf.deconvolve touches."""

    def __init__(self, data):
        self.data, self.meta, self.plot_settings, self.mask = data, {}, {}, None

    def _new_instance(self, data, meta, **_):
        return data


def psf_aiapy(case, p, slow=False):
    try:
        import aiapy.psf
        import astropy.units as u
    except ImportError:
        raise Skip("aiapy is not installed (pip install -r scripts/requirements.txt)")
    n = int(p.get("n", 4096))
    if n != 4096:
        raise Skip(f"aiapy fixes the grid at N = 4096 (this problem has n = {n})")
    if not slow:
        raise Skip("aiapy's PSF takes minutes per run here (216 s for 171 A): pass --slow to time it")
    channel = int(p.get("channel", 171))
    preflight = bool(p.get("preflight", 0))
    return (lambda: aiapy.psf.psf(channel * u.angstrom, use_preflightcore=preflight, use_gpu=False)), 1


HARNESS = ROOT / "target" / "release" / "harness"
LM_DATA = ROOT / "target" / "release" / "examples" / "lm_data"


def _flag_value(v):
    return str(int(v)) if float(v).is_integer() else repr(float(v))


def harness_run(kernel, case, p, variant, workdir):
    """Runs `harness run` on exactly this problem; returns the path of its saved output (the
    side arrays it writes, such as deconv's .image.npy and .psf.npy, lie next to it)."""
    if not HARNESS.exists():
        raise Skip(f"{HARNESS} is missing: run `cargo build --release --workspace` first")
    out = Path(workdir) / f"{kernel}-{case}-{variant}.npy"
    flags = [a for k, v in sorted(p.items()) for a in (f"--{k}", _flag_value(v))]
    subprocess.run([str(HARNESS), "run", "--kernel", kernel, "--case", case, "--variant", variant,
                    *flags, "--save", str(out)], check=True, stdout=subprocess.DEVNULL)
    return out


def deconv_aiapy(case, p, workdir):
    """aiapy.psf.deconvolve on the harness's own image and PSF for this problem (written by
    `harness run`), checked against the harness's f64 FFT variant: the same bits in, so the
    only differences are the FFT libraries' rounding (numpy's pocketfft vs RustFFT)."""
    try:
        from aiapy.psf import deconvolve
    except ImportError:
        raise Skip("aiapy is not installed (pip install -r scripts/requirements.txt)")
    out = harness_run("deconv", case, p, "fft", workdir)
    image = np.load(out.with_name(out.stem + ".image.npy"))
    psf = np.load(out.with_name(out.stem + ".psf.npy"))
    reference = ("harness deconv/%s/fft output on the same image and PSF" % case, np.load(out))
    iterations = int(p.get("iterations", 25))
    clip = bool(p.get("clip", 1))
    smap = _ArrayMap(np.asarray(image, dtype=float))
    run = lambda: deconvolve(smap, psf=psf, iterations=iterations, clip_negative=clip, use_gpu=False)
    return run, 1, reference


def lm_scipy(case, p, workdir):
    """scipy.optimize.least_squares(method="lm") fit by fit, with the analytic Jacobian and
    scipy's default tolerances (what a user would write), on the harness's own data set
    (kernels/examples/lm_data.rs). Checked like the harness checks its variants: on every fit
    the harness's naive variant converged, the peer's chi^2 may not exceed it by more than
    the problem's --tolerance * max(1, chi^2) (kernels/src/lm/validation.rs)."""
    try:
        from scipy.optimize import least_squares
    except ImportError:
        raise Skip("scipy is not installed (pip install -r scripts/requirements.txt)")
    sys.path.insert(0, str(ROOT / "scripts"))
    import make_lm_references as lm

    if case not in lm.WEIGHT:
        raise Skip(f"no scipy model written for lm/{case}")
    if not LM_DATA.exists():
        raise Skip(f"{LM_DATA} is missing: run `cargo build --release --workspace --examples`")
    fits, seed = int(p.get("fits", 1024)), int(p.get("seed", 1))
    subprocess.run([str(LM_DATA), case, str(fits), str(seed), str(workdir)], check=True,
                   stdout=subprocess.DEVNULL)
    y, init, x = (np.load(Path(workdir) / f"{case}_{n}.npy") for n in ("y", "init", "x"))
    out = harness_run("lm", case, p, "naive", workdir)
    chi2_h = np.load(out.with_name(out.stem + ".chi2.npy"))
    state_h = np.load(out.with_name(out.stem + ".state.npy"))
    sw, tol = math.sqrt(lm.WEIGHT[case]), float(p.get("tolerance", 1e-4))

    def run():
        params = np.empty_like(init)
        for i in range(len(y)):
            params[i] = least_squares(lambda q: sw * (lm.model(case, q, x)[0] - y[i]), init[i],
                                      jac=lambda q: sw * lm.model(case, q, x)[1], method="lm").x
        return params

    def check(params):
        chi2 = np.array([np.sum((sw * (lm.model(case, q, x)[0] - yi)) ** 2) for q, yi in zip(params, y)])
        ok = state_h == 0
        if not np.any(ok):
            return None, tol, "the harness converged no fit of this problem: nothing to compare"
        excess = (chi2[ok] - chi2_h[ok]) / np.maximum(1.0, chi2_h[ok])
        return float(max(np.max(excess), 0.0)), tol, (
            f"chi^2 excess over the harness's naive fit on its {int(ok.sum())} converged fits")

    return run, 1, ("harness lm/%s/naive chi^2 (its converged fits)" % case, check)


def peers_for(kernel):
    """(variant, precision, maker) per kernel; makers take (case, params, problem, manifest, args,
    workdir) and return (run, threads) or (run, threads, reference): a reference of their own,
    (label, array) or (label, check) with check(out) -> (error, tolerance, what was compared)."""
    return {
        "laue": [
            ("py-loops", "f64", lambda c, p, *_: laue_loops(c, p)),
            ("py-numpy", "f64", lambda c, p, *_: laue_numpy(c, p)),
            ("py-numexpr", "f64", lambda c, p, *_: laue_numexpr(c, p)),
            ("py-numba", "f64", lambda c, p, *_: laue_numba(False)(c, p)),
            ("py-numba-parallel", "f64", lambda c, p, *_: laue_numba(True)(c, p)),
        ],
        "psf": [("py-aiapy", "f64", lambda c, p, pr, m, a, w: psf_aiapy(c, p, a.slow))],
        "deconv": [("py-aiapy", "f64", lambda c, p, pr, m, a, w: deconv_aiapy(c, p, w))],
        "lm": [("py-scipy", "f64", lambda c, p, pr, m, a, w: lm_scipy(c, p, w))],
    }.get(kernel, [])


# ---- the run


def latest_run(root):
    runs = sorted(d for d in root.iterdir() if (d / "results.csv").is_file())
    if not runs:
        sys.exit(f"no run folder under {root}: run `harness bench` first")
    return runs[-1]


def problems_of(run_dir, run_json):
    with open(run_dir / "results.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    seen, out = set(), []
    for r in rows:
        key = (r["kernel"], r["case"], r["params"])
        if key in seen:
            continue
        seen.add(key)
        same = [x for x in rows if (x["kernel"], x["case"], x["params"]) == key]
        # The harness's f64 tolerance on this problem: naive's, else the tightest f64 one.
        tols = [float(x["tolerance"]) for x in same if x["tolerance"] and x["precision"] == "f64"]
        naive = [float(x["tolerance"]) for x in same if x["tolerance"] and x["variant"] == "naive"]
        out.append({
            "kernel": r["kernel"], "case": r["case"], "params_str": r["params"], "params": parse_params(r["params"]),
            "size_param": r["size_param"], "size": float(r["size"] or 0), "flops": float(r["flops"] or 0),
            "bytes": float(r["bytes"] or 0), "items": float(r["items"] or 0),
            "tolerance": naive[0] if naive else (min(tols) if tols else None), "run": run_json,
        })
    out.sort(key=lambda p: (p["kernel"], p["case"], p["size"]))
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("run_dir", nargs="?", type=Path, help="a run folder of `harness bench` (default: the latest)")
    ap.add_argument("--budget", type=float, default=1.0, help="seconds of timed runs per peer (default 1)")
    ap.add_argument("--min-samples", type=int, default=3)
    ap.add_argument("--only", action="append", help="kernel or peer name to run (repeatable)")
    ap.add_argument("--limit", type=float, default=60.0,
                    help="skip a peer whose estimated time per run exceeds this (s), from its smaller sizes")
    ap.add_argument("--slow", action="store_true", help="also run peers that take minutes (aiapy's PSF)")
    args = ap.parse_args()
    run_dir = args.run_dir or latest_run(ROOT / "reports")
    run_json = json.loads((run_dir / "run.json").read_text()) if (run_dir / "run.json").exists() else {}
    manifest_path = REFERENCES / "manifest.json"
    manifest = json.loads(manifest_path.read_text()) if manifest_path.exists() else {}
    with open(run_dir / "results.csv", newline="") as f:
        columns = next(csv.reader(f))
    out_path = run_dir / "peers.csv"
    i = 0
    while out_path.exists():
        i += 1
        out_path = run_dir / f"peers-{i}.csv"

    fp = machine()
    harness_machine = run_json.get("machine", {})
    same_machine = all(harness_machine.get(k) == fp[k] for k in ("cpu", "cores", "memory_gib", "os"))
    if not same_machine:
        print(f"note: this machine differs from the run's ({harness_machine.get('cpu')}); "
              "its rows will be reported as another machine, without roofline", file=sys.stderr)
    ceilings = run_json.get("ceilings", []) if same_machine else []
    noisy_threshold = run_json.get("noisy_threshold", 0.1)
    rt = runtime()
    run_id = f"{run_dir.name}+peers-{stamp()}"
    print(f"peers: {rt}\nproblems from {run_dir}\nrows to {out_path}")

    f = open(out_path, "x", newline="")
    writer = csv.DictWriter(f, fieldnames=columns, extrasaction="ignore")
    writer.writeheader()
    f.flush()
    last_time = {}  # (peer, case) -> (work, seconds) of its last measured size
    try:
        for problem in problems_of(run_dir, run_json):
            peers = peers_for(problem["kernel"])
            if args.only:
                peers = [x for x in peers if problem["kernel"] in args.only or x[0] in args.only]
            if not peers:
                continue
            print(f"\n{problem['kernel']}/{problem['case']} [{problem['params_str']}]")
            for name, precision, make in peers:
                row = {c: "" for c in columns}
                row.update(fp)
                row.update({
                    "run_id": run_id, "kernel": problem["kernel"], "case": problem["case"], "variant": name,
                    "strategy": "python", "precision": precision, "params": problem["params_str"],
                    "size_param": problem["size_param"], "size": problem["size"], "threads": 1,
                    "flops": problem["flops"], "bytes": problem["bytes"], "items": problem["items"],
                    "runtime": rt, "timestamp": stamp(), "noisy": "false", "warmup_stable": "false",
                    "samples": 0, "iters_per_sample": 0, "outliers_mild": 0, "outliers_severe": 0, "warmup_runs": 0,
                })
                run_one(row, name, make, problem, manifest, args, last_time, ceilings, noisy_threshold, run_dir)
                writer.writerow(row)
                f.flush()
                med = row["median_s"]
                print(f"  {name:<20} {row['status']:<8} {('%.3g s' % med) if med != '' else '-':>10}  "
                      f"{row['reason']}")
    except KeyboardInterrupt:
        print("\ninterrupted: finished rows are kept", file=sys.stderr)
        f.close()
        sys.exit(130)
    f.close()
    print(f"\nrows: {out_path}\nreport: harness report {run_dir}")


def run_one(row, name, make, problem, manifest, args, last_time, ceilings, noisy_threshold, run_dir):
    key = (name, problem["kernel"], problem["case"])
    if key in last_time and problem["flops"] > 0:
        work, seconds = last_time[key]
        estimate = seconds * problem["flops"] / work
        if estimate > args.limit:
            row.update(status="skipped", reason=f"estimated {estimate:.0f} s per run from its smaller sizes, "
                                                f"over --limit {args.limit:.0f} s")
            return
    reference = find_reference(problem, run_dir, manifest)
    workdir = tempfile.mkdtemp(prefix="peers-")
    try:
        start = time.perf_counter()
        made = make(problem["case"], problem["params"], problem, manifest, args, workdir)
        run, threads = made[0], made[1]
        if len(made) > 2:
            reference = made[2]
        row["setup_s"] = time.perf_counter() - start
        row["threads"] = threads
        if reference is None:
            raise Skip("no reference for these parameters (no committed file, no image saved by the run)")
        # Validation run, with the memory measured around it.
        reset = reset_rss_peak()
        base = rss()
        trace = name != "py-loops"  # tracemalloc would slow the scalar loops several-fold
        if trace:
            tracemalloc.start()
        t = time.perf_counter()
        out = run()
        first = time.perf_counter() - t
        if trace:
            row["heap_peak_bytes"] = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
        if reset and base and rss():
            row["base_rss_mib"] = base[0] / 1048576
            row["peak_rss_mib"] = rss()[1] / 1048576
    except Skip as e:
        row.update(status="skipped", reason=str(e))
        return
    except Exception as e:  # a peer that crashes is a failure of that peer, not of the run
        row.update(status="failed", reason=f"{type(e).__name__}: {e}")
        return
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    label, ref = reference
    row["reference"] = label
    out = np.asarray(out, dtype=float)
    if callable(ref):
        error, tol, compared = ref(out)
        if error is None:
            row.update(status="skipped", reason=compared)
            return
    else:
        if out.shape != ref.shape:
            row.update(status="failed",
                       reason=f"validation failed, not timed: shape {out.shape} != reference {ref.shape}")
            return
        scale = np.max(np.abs(ref))
        error = float(np.max(np.abs(ref - out)) / scale) if scale > 0 else float(np.max(np.abs(out)))
        tol = problem["tolerance"] if problem["tolerance"] is not None else 1e-12
        compared = "max|ref - out| / max|ref|; tolerance: the harness's f64 tolerance on this problem"
    row["error"], row["tolerance"] = error, tol
    if not (error <= tol) or not np.all(np.isfinite(out)):
        row.update(status="failed", reason=f"validation failed, not timed: error {error:.2e} "
                                           f"(tolerance {tol:.0e}; {compared})")
        return
    m = measure(run, first, args.budget, args.min_samples)
    s = summary(m["samples"])
    row.update(s)
    row.update(status="ok", reason=m["note"], iters_per_sample=m["iters_per_sample"], warmup_runs=m["warmup_runs"],
               warmup_s=m["warmup_s"], warmup_stable=str(m["warmup_stable"]).lower(),
               noisy=str(s["spread"] > noisy_threshold).lower())
    med = s["median_s"]
    last_time[(name, problem["kernel"], problem["case"])] = (problem["flops"], med)
    if med > 0:
        row["gflops"] = problem["flops"] / med / 1e9
        row["gbps"] = problem["bytes"] / med / 1e9
        row["items_per_s"] = problem["items"] / med
        usable = [c for c in ceilings if c["threads"] <= row["threads"]] or ceilings
        if usable and problem["bytes"] > 0:
            c = max(usable, key=lambda c: c["threads"])
            peak = c["gemm_f32_gflops"] if row["precision"] == "f32" else c["gemm_f64_gflops"]
            row["peak_gflops"], row["peak_gbps"] = peak, c["copy_gbps"]
            limit = min(peak, problem["flops"] / problem["bytes"] * c["copy_gbps"])
            row["roofline_pct"] = 100 * row["gflops"] / limit


if __name__ == "__main__":
    main()
