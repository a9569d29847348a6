"""Richardson-Lucy references from the real aiapy.psf.deconvolve (aiapy 0.10.2, NumPy path).

    img = image (negative pixels set to 0);  P = rfft2(np.roll(psf, shape // 2))
    25 times:  ratio = img / irfft2(rfft2(est) * P);  est = est * irfft2(rfft2(ratio) * conj(P))

The inputs come from the harness itself, so that Rust and aiapy deconvolve the same bits:

    target/release/harness run --kernel deconv --case synthetic --n 256 --variant fft --save x.npy

writes x.npy (Rust's result, only compared here for information), x.image.npy and x.psf.npy.
The image is the harness's (the synthetic scene is generated in Rust only); for the trace case
it is read here with astropy (an independent FITS reader) and must equal the harness's (read
with fitsrs) exactly. The PSF given to aiapy is the numpy port of aiapy's psf() at this size
(scripts/psf_port.py, 171 A, no pre-flight core), not the harness's: the references are
independent of the Rust PSF kernel, whose difference from the port is printed.

Committed (float64, references/deconv/<case>_n<n>_{image,psf,deconvolved}.npy):
  synthetic 64^2 (32 KB per array: the naive oracle is checked against aiapy at this size),
  synthetic 256^2 (512 KB per array), trace 128^2 (its central crop, 128 KB per array).
  PSF: psf_port.psf(171, n) (the harness's default --sigma 0 --channel 171).
512^2 (2 MB per array) is not committed. Regenerate it on demand and validate against it:

    python scripts/make_deconv_references.py --n 512 --out /tmp/deconv512
    target/release/harness validate --kernel deconv --case synthetic --n 512 \\
        --reference /tmp/deconv512/synthetic_n512_deconvolved.npy

--time N times aiapy's NumPy deconvolve (25 iterations) on the N^2 synthetic scene, for the
speed ratio against the harness (run once; the figures go in the closing note).

Usage: python scripts/make_deconv_references.py [--n N --out DIR] [--time N]
"""

import argparse
import subprocess
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

from refs_common import ROOT, save, versions

HARNESS = ROOT / "target" / "release" / "harness"
SHARED = ROOT.parent / "shared"
TRACE = SHARED / "real-data" / "trace_171_1024.fits"
ITERATIONS = 25
CHANNEL = 171
COMMITTED = [("synthetic", 64), ("synthetic", 256), ("trace", 128)]
TOLERANCE = {
    "f64": "max|ref-out|/max|ref| <= B = 2*iterations*log2(R*C)*eps, and B/1e-3 relative where "
    "|ref| > 1e-3 max|ref|: every convolution rounds to ~eps*log2(RC) of the image's scale, two "
    "per iteration, adding up over the iterations; direct and FFT convolutions sum in other orders.",
    "f32": "the same bound with eps = 2^-24 (image, PSF spectrum and every FFT in f32).",
    "psf": "the harness's PSF (Rust PSF kernel) is compared with this one under the same bound",
}


def harness_inputs(case, n, workdir, iterations=ITERATIONS):
    """The harness's image and PSF for (case, n), and its own f64 FFT result."""
    if not HARNESS.exists():
        raise SystemExit(f"{HARNESS} is missing: run `cargo build --release --workspace` first")
    out = Path(workdir) / f"{case}_n{n}_it{iterations}.npy"
    subprocess.run(
        [str(HARNESS), "run", "--kernel", "deconv", "--case", case, "--n", str(n),
         "--iterations", str(iterations), "--channel", str(CHANNEL), "--variant", "fft",
         "--save", str(out)],
        check=True, stdout=subprocess.DEVNULL,
    )
    return (np.load(out.with_name(out.stem + ".image.npy")),
            np.load(out.with_name(out.stem + ".psf.npy")),
            np.load(out))


def trace_crop(n):
    """The central n x n of the TRACE image, read with astropy."""
    from astropy.io import fits

    data = fits.getdata(TRACE).astype(np.float64)
    i0, j0 = (data.shape[0] - n) // 2, (data.shape[1] - n) // 2
    return data[i0:i0 + n, j0:j0 + n]


def aiapy_deconvolve(image, psf, iterations=ITERATIONS):
    """aiapy.psf.deconvolve on a minimal sunpy Map (NumPy path, no cupy)."""
    import sunpy.map
    from aiapy.psf import deconvolve

    r, c = image.shape
    header = {
        "cunit1": "arcsec", "cunit2": "arcsec", "ctype1": "HPLN-TAN", "ctype2": "HPLT-TAN",
        "cdelt1": 0.6, "cdelt2": 0.6, "crpix1": (c + 1) / 2, "crpix2": (r + 1) / 2,
        "crval1": 0.0, "crval2": 0.0, "date-obs": "2020-01-01T00:00:00",
    }
    smap = sunpy.map.Map(image, header)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return deconvolve(smap, psf=psf, iterations=iterations, clip_negative=True,
                          use_gpu=False).data


def reference(case, n, workdir):
    from psf_port import psf as port_psf

    image, rust_psf, rust = harness_inputs(case, n, workdir)
    if case == "trace":
        astropy_image = trace_crop(n)
        assert np.array_equal(astropy_image, image), "fitsrs and astropy read different pixels"
    psf = port_psf(CHANNEL, n)
    psf_err = np.abs(rust_psf - psf).max() / psf.max()
    out = aiapy_deconvolve(image, psf)
    err = np.abs(rust - out).max() / np.abs(out).max()
    print(f"  {case} n={n}: harness PSF vs port {psf_err:.2e}; harness fft (its own PSF) vs "
          f"aiapy (port PSF) {err:.2e}")
    return image, psf, out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, help="one synthetic size, written to --out (not committed)")
    ap.add_argument("--out", type=Path, help="folder for --n (plain .npy files, no manifest)")
    ap.add_argument("--time", type=int, metavar="N", help="time aiapy's deconvolve at N^2")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as work:
        if args.time:
            # The scene only: with --iterations 0 the harness does no deconvolution.
            image, psf, _ = harness_inputs("synthetic", args.time, work, iterations=0)
            aiapy_deconvolve(image[:64, :64], psf[:64, :64], 1)  # imports and warm-up
            times = []
            for _ in range(3):
                start = time.perf_counter()
                aiapy_deconvolve(image, psf)
                times.append(time.perf_counter() - start)
            print(f"aiapy.psf.deconvolve {args.time}^2, {ITERATIONS} iterations: "
                  f"min {min(times):.2f} s, median {sorted(times)[1]:.2f} s "
                  f"(numpy {np.__version__}, 3 runs)")
            return
        if args.n:
            if not args.out:
                raise SystemExit("--n needs --out: only the committed sizes go to references/")
            args.out.mkdir(parents=True, exist_ok=True)
            for name, array in zip(("image", "psf", "deconvolved"), reference("synthetic", args.n, work)):
                np.save(args.out / f"synthetic_n{args.n}_{name}.npy", array)
            print(f"wrote {args.out}/synthetic_n{args.n}_*.npy")
            return
        for case, n in COMMITTED:
            arrays = reference(case, n, work)
            for name, array in zip(("image", "psf", "deconvolved"), arrays):
                save("deconv", f"{case}_n{n}_{name}", array, {
                    "kernel": "deconv", "case": case, "array": name,
                    "params": {"n": n, "iterations": ITERATIONS, "sigma": 0, "seed": 1,
                               "clip": 1, "channel": CHANNEL},
                    "psf": f"scripts/psf_port.py psf({CHANNEL}, {n}): aiapy 0.10.2's psf() on an "
                           f"{n}x{n} grid, no pre-flight core",
                    "generator": "scripts/make_deconv_references.py: inputs from `harness run`"
                                 + (" (image read with astropy)" if case == "trace" else "")
                                 + ", output from aiapy.psf.deconvolve(iterations=25, "
                                   "clip_negative=True, use_gpu=False)",
                    "versions": versions("numpy", "aiapy", "sunpy", "astropy"),
                    "tolerance": TOLERANCE,
                })


if __name__ == "__main__":
    main()
