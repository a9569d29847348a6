"""A faithful numpy port of aiapy 0.10.2's `aiapy.psf.psf`, with the grid size N as a parameter.

aiapy fixes the grid at 4096 x 4096 (`_psf` allocates `np.zeros((4096, 4096))`). This port
keeps every operation of aiapy/psf/psf.py in the same order and with the same numpy calls,
so that at N = 4096 it reproduces aiapy bit for bit (make_psf_references.py checks this on a
reduced set of diffraction orders), and at any other N it computes the same formulas:

    x = column + 0.5, y = row + 0.5, centre cx0 = cy0 = 0.5*N + 0.5
    spikes = sum over orders m in -100..100, m != 0, and the filter's angles a of
             sinc(m / mesh_ratio)^2 * exp(-w*(x - (0.5*N + dx*m + 0.5))^2 - w*(y - (0.5*N + dy*m + 0.5))^2)
             with dx = spacing*cos(a), dy = spacing*sin(a), mesh_ratio = 363/34
    core   = exp(-w*(x - 0.5*N - 0.5)^2 - w*(y - 0.5*N - 0.5)^2)
    filter = (1 - 0.82)*spikes/sum(spikes) + 0.82*core/sum(core)
    psf    = roll(|fft2(fft2(focal_plane) * fft2(entrance))|, N/2 on both axes) / N^2

Quirks kept on purpose (the Rust kernel reproduces them):
- `width` (4.5 px, or the pre-flight value) is the exponent's coefficient, not a sigma.
- (1 - 0.82) is 0.18000000000000005 in f64, and it multiplies before the division.
- Two *forward* FFTs: the composite is an index-reversed circular convolution times N^2.
- Angles go from degrees to radians as astropy does (value * (pi/180), checked equal).

Usage (as a module): `from psf_port import psf, entrance, focal_plane, composite`.
"""

import numpy as np

CHANNELS = (94, 131, 171, 193, 211, 304, 335)
AREA_NOT_MESH = 0.82
MESH_PITCH_UM = 363.0
MESH_WIDTH_UM = 34.0
DEFAULT_WIDTH = 4.5
FOCAL_PLANE_ANGLES = (45.0, -45.0)

# aiapy.psf.psf.filter_mesh_parameters: angle_arm (deg), spacing_e, spacing_fp (px),
# pre-flight core width (px).
MESH = {
    94: ((49.81, 40.16, -40.28, -49.92), 8.99, 0.207, 0.951),
    131: ((50.27, 40.17, -39.70, -49.95), 12.37, 0.289, 1.033),
    171: ((49.81, 39.57, -40.13, -50.38), 16.26, 0.377, 0.962),
    193: ((49.82, 39.57, -40.12, -50.37), 18.39, 0.425, 1.512),
    211: ((49.78, 40.08, -40.34, -49.95), 19.97, 0.465, 1.199),
    304: ((49.76, 40.18, -40.14, -49.90), 28.87, 0.670, 1.247),
    335: ((50.40, 39.80, -39.64, -50.25), 31.83, 0.738, 0.962),
}

ORDERS = np.arange(-100, 101, 1)


def width(channel, use_preflightcore=False):
    return MESH[channel][3] if use_preflightcore else DEFAULT_WIDTH


def _filter_psf(n, angles_deg, spacing, w, orders):
    """aiapy's `_psf` on an n x n grid: spike sum plus core, each normalised to its share."""
    psf = np.zeros((n, n), dtype=float)
    nx, ny = psf.shape
    width_x = w
    width_y = w
    x = np.outer(np.ones(ny), np.arange(nx) + 0.5)
    y = np.outer(np.arange(ny) + 0.5, np.ones(nx))
    area_not_mesh = AREA_NOT_MESH
    # astropy: (363 um / 34 um).decompose().value
    mesh_ratio = MESH_PITCH_UM / MESH_WIDTH_UM
    # astropy's np.cos on a Quantity in degrees multiplies the value by pi/180
    # (make_psf_references.py checks the equality against astropy for every channel).
    radians = np.asarray(angles_deg, dtype=float) * (np.pi / 180)
    spacing_x = spacing * np.cos(radians)
    spacing_y = spacing * np.sin(radians)
    for order in orders:
        if order == 0:
            continue
        intensity = np.sinc(order / mesh_ratio) ** 2  # I_0
        for dx, dy in zip(spacing_x, spacing_y, strict=True):
            x_centered = x - (0.5 * nx + dx * order + 0.5)
            y_centered = y - (0.5 * ny + dy * order + 0.5)
            psf += np.exp(-width_x * x_centered * x_centered - width_y * y_centered * y_centered) * intensity
    psf_core = np.exp(-width_x * (x - 0.5 * nx - 0.5) ** 2 - width_y * (y - 0.5 * ny - 0.5) ** 2)
    return (1 - area_not_mesh) * psf / psf.sum() + area_not_mesh * psf_core / psf_core.sum()


def spike_geometry(channel, focal_plane):
    """(angles in degrees, spacing in px) of one filter of one channel."""
    angles, spacing_e, spacing_fp, _ = MESH[channel]
    if focal_plane:
        return FOCAL_PLANE_ANGLES, spacing_fp
    return angles, spacing_e


def entrance(channel, n=4096, use_preflightcore=False, orders=ORDERS):
    angles, spacing = spike_geometry(channel, False)
    return _filter_psf(n, angles, spacing, width(channel, use_preflightcore), orders)


def focal_plane(channel, n=4096, use_preflightcore=False, orders=ORDERS):
    angles, spacing = spike_geometry(channel, True)
    return _filter_psf(n, angles, spacing, width(channel, use_preflightcore), orders)


def composite(psf_focal_plane, psf_entrance):
    """aiapy's composite: two forward FFTs, roll by half a grid, divide by the pixel count."""
    psf = abs(np.fft.fft2(np.fft.fft2(psf_focal_plane) * np.fft.fft2(psf_entrance)))
    psf = np.roll(np.roll(psf, psf.shape[1] // 2, axis=1), psf.shape[0] // 2, axis=0)
    return psf / (psf.shape[0] * psf.shape[1])


def psf_parts(channel, n=4096, use_preflightcore=False, orders=ORDERS):
    """(entrance, focal_plane, composite) for one channel on an n x n grid."""
    e = entrance(channel, n, use_preflightcore, orders)
    fp = focal_plane(channel, n, use_preflightcore, orders)
    return e, fp, composite(fp, e)


def psf(channel, n=4096, use_preflightcore=False, orders=ORDERS):
    """The composite PSF of `aiapy.psf.psf(channel * u.angstrom)`, on an n x n grid."""
    return psf_parts(channel, n, use_preflightcore, orders)[2]
