"""AIA PSF references: the numpy port (any N) checked against the real aiapy (N = 4096).

Steps:
1. check-port: the port (scripts/psf_port.py) against aiapy 0.10.2 bit for bit at N = 4096 on
   a reduced set of diffraction orders (aiapy's own `diffraction_orders` argument), for the
   entrance filter, the focal-plane filter and the composite; plus astropy's degree-to-radian
   conversion and mesh ratio for every channel.

2. references from the port (complete arrays where small enough, never > 1 MB a file):
   - N = 256, 171 A: psf, entrance, focal_plane (512 KB each);
   - N = 64, every channel, with and without the pre-flight core: psf (32 KB each);
   - N = 512, 171 A: extracts (a full 512^2 float64 array is 2 MB): psf crop 256 + stride4
     + row + column + stats; entrance and focal_plane crop 128 + row + column + stats.
3. extracts of the REAL aiapy at N = 4096, 171 A (aiapy fixes N; ~4 minutes on 2 cores, or
   --aiapy-output FILE saved by an earlier run): psf crop 256 + stride16 + row + column +
   stats. (A 512 x 512 crop would be 2 MB: the 256 crop plus the every-16th-pixel grid
   cover the core and the whole array in 1 MB.)

Extracts, as kernels/src/psf/mod.rs (`extract`) rebuilds them from a full output:
  crop C     a[N/2 - C/2 : N/2 + C/2, same]    rowS/column: a[N/2, :] / a[:, N/2]
  strideS    a[::S, ::S]                       stats: [max, sum, argmax row, argmax column]
File names: c<channel>[pf]_n<N>_<array>[-<extract>].npy.

Usage: python scripts/make_psf_references.py [--skip-port-check] [--aiapy-output FILE]
"""

import argparse
import time
from pathlib import Path

import numpy as np

import psf_port
from refs_common import save, versions

REDUCED_ORDERS = np.array([-100, -37, 0, 1, 2])


def check_port():
    """The port reproduces aiapy 0.10.2 to the last bit (at aiapy's fixed N = 4096)."""
    import astropy.units as u
    from aiapy.psf import psf as aiapy_psf_module
    from aiapy.psf.psf import _psf, filter_mesh_parameters

    # Geometry: astropy's unit handling against the port's plain floats, every channel.
    for preflight in (False, True):
        table = filter_mesh_parameters(use_preflightcore=preflight)
        for channel in psf_port.CHANNELS:
            info = table[channel * u.angstrom]
            angles, spacing_e, spacing_fp, _ = psf_port.MESH[channel]
            assert np.array_equal(info["angle_arm"].to_value(u.deg), angles), channel
            assert info["spacing_e"].value == spacing_e and info["spacing_fp"].value == spacing_fp
            assert info["width"].value == psf_port.width(channel, preflight)
            mesh_ratio = (info["mesh_pitch"] / info["mesh_width"]).decompose().value
            assert mesh_ratio == psf_port.MESH_PITCH_UM / psf_port.MESH_WIDTH_UM
            for focal_plane in (False, True):
                a, s = psf_port.spike_geometry(channel, focal_plane)
                a_q = u.Quantity(a, "deg")
                s_q = info["spacing_fp" if focal_plane else "spacing_e"]
                radians = np.asarray(a) * (np.pi / 180)
                assert np.array_equal((s_q * np.cos(a_q)).value, s * np.cos(radians))
                assert np.array_equal((s_q * np.sin(a_q)).value, s * np.sin(radians))
    print("port geometry: identical to aiapy/astropy for every channel")

    # Arrays at N = 4096 on a few orders (0 included: aiapy skips it).
    n = 4096
    for channel, preflight in ((171, False), (94, True)):
        t = time.perf_counter()
        info = filter_mesh_parameters(use_preflightcore=preflight)[channel * u.angstrom]
        ref_e = _psf(info, info["angle_arm"], REDUCED_ORDERS, use_gpu=False)
        ref_fp = _psf(info, u.Quantity([45.0, -45.0], "deg"), REDUCED_ORDERS, focal_plane=True, use_gpu=False)
        e, fp, comp = psf_port.psf_parts(channel, n, preflight, REDUCED_ORDERS)
        assert np.array_equal(e, ref_e), f"{channel} entrance differs"
        assert np.array_equal(fp, ref_fp), f"{channel} focal plane differs"
        if not preflight:
            ref = aiapy_psf_module(channel * u.angstrom, use_preflightcore=preflight,
                                   diffraction_orders=REDUCED_ORDERS, use_gpu=False)
            assert np.array_equal(comp, ref), f"{channel} composite differs"
        print(f"port vs aiapy {channel} A preflight={preflight} orders={REDUCED_ORDERS.tolist()}: "
              f"bit-identical ({time.perf_counter() - t:.0f} s)")


TOLERANCE = {
    "f64": "max|ref-out|/max|ref| <= 1e-13 and |ref-out|/|ref| <= 1e-6 where ref > 1e-10*max: "
    "exponentials within 2 ulp, <= 800 positive terms per pixel, three 2-D FFTs (<= 1e-14 of the "
    "peak); the relative bound at the mask edge is set by the FFT's absolute noise floor "
    "(~3e-17 of the peak: numpy's complex fft2 vs realfft differ by up to 4e-8 relative there).",
    "f32": "GPU spike sums in f32, composite in f64: 1e-6 of the peak; relative 2e-5 where ref > 1e-10*max "
    "(one f32 rounding per offset, three in the exponent e, Vulkan's (3 + 2|e|)-ulp exp at |e| <= 25).",
}


def extract(a, kind, size=None):
    n = a.shape[0]
    mid = n // 2
    if kind == "crop":
        return a[mid - size // 2: mid + size // 2, mid - size // 2: mid + size // 2]
    if kind == "row":
        return a[mid, :]
    if kind == "column":
        return a[:, mid]
    if kind.startswith("stride"):
        s = int(kind[len("stride"):])
        return a[::s, ::s]
    if kind == "stats":
        at = np.unravel_index(np.argmax(a), a.shape)
        return np.array([a.max(), a.sum(), at[0], at[1]], dtype=np.float64)
    raise ValueError(kind)


def prefix(channel, n, preflight):
    return f"c{channel}{'pf' if preflight else ''}_n{n}_"


def entry(channel, n, preflight, array, generator, what, packages=("numpy",)):
    return {
        "kernel": "psf", "case": "aia",
        "params": {"channel": channel, "n": n, "preflight": int(preflight)},
        "array": array,
        "what": what,
        "generator": generator,
        "versions": versions(*packages),
        "tolerance": TOLERANCE,
    }


PORT = "scripts/make_psf_references.py (numpy port of aiapy 0.10.2, scripts/psf_port.py)"


def port_references():
    t = time.perf_counter()
    e, fp, psf = psf_port.psf_parts(171, 256)
    for name, a in (("psf", psf), ("entrance", e), ("focal_plane", fp)):
        save("psf", prefix(171, 256, False) + name, a, entry(171, 256, False, name, PORT, "complete array"))
    for channel in psf_port.CHANNELS:
        for preflight in (False, True):
            psf = psf_port.psf(channel, 64, preflight)
            save("psf", prefix(channel, 64, preflight) + "psf", psf,
                 entry(channel, 64, preflight, "psf", PORT, "complete array"))
    e, fp, psf = psf_port.psf_parts(171, 512)
    for name, a, kinds in (
        ("psf", psf, (("crop", 256), ("stride4", None), ("row", None), ("column", None), ("stats", None))),
        ("entrance", e, (("crop", 128), ("row", None), ("column", None), ("stats", None))),
        ("focal_plane", fp, (("crop", 128), ("row", None), ("column", None), ("stats", None))),
    ):
        for kind, size in kinds:
            save("psf", f"{prefix(171, 512, False)}{name}-{kind}", extract(a, kind, size),
                 entry(171, 512, False, name, PORT, f"extract {kind}" + (f" {size}" if size else "")))
    print(f"port references: {time.perf_counter() - t:.0f} s")


def aiapy_references(cached):
    import astropy.units as u
    from aiapy.psf import psf as aiapy_psf

    if cached is not None:
        psf = np.load(cached)
        how = f"aiapy.psf.psf(171*u.angstrom), the full array of an earlier run loaded from {cached.name}"
    else:
        t = time.perf_counter()
        psf = aiapy_psf(171 * u.angstrom, use_gpu=False)
        how = f"aiapy.psf.psf(171*u.angstrom) computed here in {time.perf_counter() - t:.0f} s"
    assert psf.shape == (4096, 4096)
    at = np.unravel_index(np.argmax(psf), psf.shape)
    print(f"aiapy 171 A: max {psf.max()!r} at {tuple(int(i) for i in at)}, sum {psf.sum()!r}")
    # The value quoted in aiapy's issue tracker.
    assert abs(psf.max() - 0.641652124483507) < 1e-15 and tuple(at) == (2048, 2048)
    assert abs(psf.sum() - 1) < 1e-12
    generator = f"scripts/make_psf_references.py: {how}"
    for kind, size in (("crop", 256), ("stride16", None), ("row", None), ("column", None), ("stats", None)):
        save("psf", f"{prefix(171, 4096, False)}psf-{kind}", extract(psf, kind, size),
             entry(171, 4096, False, "psf", generator, f"extract {kind}" + (f" {size}" if size else ""),
                   ("numpy", "aiapy", "astropy", "sunpy")))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--skip-port-check", action="store_true")
    ap.add_argument("--skip-aiapy", action="store_true", help="do not write the N = 4096 aiapy extracts")
    ap.add_argument("--aiapy-output", type=Path, help="a .npy of aiapy.psf.psf(171*u.angstrom) from an earlier run")
    args = ap.parse_args()
    if not args.skip_port_check:
        check_port()
    port_references()
    if not args.skip_aiapy:
        aiapy_references(args.aiapy_output)


if __name__ == "__main__":
    main()
