"""Deconvolution peer: aiapy.psf.deconvolve itself (Richardson-Lucy with NumPy FFTs, on the CPU),
as a harness worker.

    scripts/.venv/bin/python scripts/peers/deconv.py

It runs on the harness's own inputs, `image` and `psf` (n x n, the PSF normalised and centred as
aiapy expects), with the problem's `iterations` and `clip` (aiapy's clip_negative), so that the
only difference from the harness's variants is the FFT library's rounding.
"""

import numpy as np

from protocol import Refuse, need, serve


class ArrayMap:
    """The little of a sunpy Map that aiapy.psf.deconvolve touches (sunpy itself is not needed)."""

    def __init__(self, data):
        self.data, self.meta, self.plot_settings, self.mask = data, {}, {}, None

    def _new_instance(self, data, meta, **_):
        return data


def prepare(problem):
    deconvolve = need("aiapy.psf").deconvolve
    image, psf = problem.load("image"), problem.load("psf")
    if image.ndim != 2 or image.shape != psf.shape:
        raise Refuse(f"image {image.shape} and psf {psf.shape} must be two arrays of the same n x n shape")
    iterations = int(problem.param("iterations", 25))
    clip = bool(problem.param("clip", 1))
    smap = ArrayMap(np.asarray(image, dtype=np.float64))
    return lambda: deconvolve(smap, psf=psf, iterations=iterations, clip_negative=clip, use_gpu=False)


if __name__ == "__main__":
    serve("deconv", prepare)
