"""AIA PSF peer: aiapy.psf.psf itself (NumPy, on the CPU), as a harness worker.

    scripts/.venv/bin/python scripts/peers/psf.py

aiapy computes the PSF on a fixed 4096 x 4096 grid: a problem with another n is answered
"skipped" (the harness's own variants take any even n). One run takes minutes (216 s for
171 A on the development machine), so its external.toml entry raises the message timeout.
"""

from protocol import Skip, need, serve

AIAPY_N = 4096


def prepare(problem):
    n = int(problem.param("n"))
    if n != AIAPY_N:
        raise Skip(f"aiapy fixes N = {AIAPY_N} (this problem has n = {n})")
    aiapy_psf = need("aiapy.psf")
    units = need("astropy.units")
    channel = int(problem.param("channel")) * units.angstrom
    preflight = bool(problem.param("preflight", 0))
    return lambda: aiapy_psf.psf(channel, use_preflightcore=preflight, use_gpu=False)


if __name__ == "__main__":
    serve("psf", prepare)
