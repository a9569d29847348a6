"""AIA PSF references: the numpy port (any N) checked against the real aiapy (N = 4096).

Steps:
1. check-port: the port (scripts/psf_port.py) against aiapy 0.10.2 bit for bit at N = 4096 on
   a reduced set of diffraction orders (aiapy's own `diffraction_orders` argument), for the
   entrance filter, the focal-plane filter and the composite; plus astropy's degree-to-radian
   conversion and mesh ratio for every channel.

Usage: python scripts/make_psf_references.py [--skip-port-check]
"""

import argparse
import time

import numpy as np

import psf_port

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


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--skip-port-check", action="store_true")
    args = ap.parse_args()
    if not args.skip_port_check:
        check_port()


if __name__ == "__main__":
    main()
