"""A synthetic time-lapse of volumes (T, Z, Y, X): nuclei that move in x, y and z, grow and leave.

For tests, benchmarks, the documentation's figures and the napari sample data
("time-lapse of volumes"). Each nucleus is an ellipsoid with a texture; it
drifts (in z too, slower than in the plane, as in a real embryo), its radii
change smoothly over time, and it may drift out of the volume, through a side
or through the top or bottom plane (its id then never comes back). The image
has an uneven background, blur, Poisson and Gaussian noise and a 16-bit
camera offset, like :func:`~.synthetic.synthetic_timelapse`.
"""

from __future__ import annotations

import numpy as np

from .synthetic import _blur

__all__ = ["synthetic_volumes"]


def synthetic_volumes(n_times: int = 6, n_planes: int = 8, shape: tuple[int, int] = (96, 96),
                      n_nuclei: int = 4, seed: int = 0, *, radius: tuple[float, float] = (0.1, 0.15),
                      z_radius: tuple[float, float] = (1.5, 2.5), speed: float = 0.02,
                      z_speed: float = 0.35, growth: float = 0.04, leaving: int = 1,
                      photons: float = 400.0, read_noise: float = 8.0
                      ) -> tuple[np.ndarray, np.ndarray]:
    """Nuclei-like ellipsoids moving through a stack of volumes, and their labels.

    Parameters
    ----------
    n_times : int
        Time points.
    n_planes : int
        z planes per volume.
    shape : (rows, cols)
        Plane size.
    n_nuclei : int
        Nuclei at the first time point (ids 1..n_nuclei, one id per nucleus over t and z).
    seed : int
        Random seed; the same seed gives the same stack.
    radius : (low, high)
        In-plane radius range, as a fraction of the smaller side.
    z_radius : (low, high)
        Radius along z, in planes.
    speed : float
        Standard deviation of the in-plane velocity per time point (fraction of the smaller side).
    z_speed : float
        Standard deviation of the velocity along z, in planes per time point.
    growth : float
        Standard deviation of the relative change of the radii per time point.
    leaving : int
        How many nuclei (the last ids) head out of the volume, through a side
        or through the top or bottom plane, and leave it during the series.
    photons, read_noise : float
        Poisson (photons per unit of signal) and Gaussian (counts) noise.

    Returns
    -------
    image : uint16 array (n_times, n_planes, rows, cols)
    labels : uint16 array (n_times, n_planes, rows, cols)
        Overlapping nuclei go to the lower id.
    """
    rng = np.random.default_rng(seed)
    rows, cols = shape
    size = min(shape)
    nuclei = []
    for i in range(n_nuclei):
        centre = rng.uniform([0.3 * n_planes, 0.25 * rows, 0.25 * cols],
                             [0.7 * n_planes, 0.75 * rows, 0.75 * cols])
        velocity = rng.normal(0, [z_speed, speed * size, speed * size])
        if i >= n_nuclei - leaving:  # heads for the nearest way out, fast enough to leave in time
            way = rng.integers(2)
            target = (np.array([-3 * z_radius[1], centre[1], centre[2]]) if way == 0 else
                      np.array([centre[0], centre[1], -2.0 * radius[1] * size]))
            velocity = (target - centre) / max(1.0, 0.7 * n_times)
        nuclei.append({"id": i + 1, "centre": centre, "velocity": velocity,
                       "radii": np.array([rng.uniform(*z_radius), *(rng.uniform(*radius, 2) * size)]),
                       "brightness": rng.uniform(0.5, 1.0)})
    texture = _blur(rng.random(shape).astype(np.float32), 2.0)
    texture = 0.7 + 0.6 * (texture - texture.min()) / (np.ptp(texture) + 1e-6)
    rr, cc = np.mgrid[0:rows, 0:cols].astype(np.float32)
    background = 0.05 + 0.05 * (cc / cols) + 0.03 * (rr / rows)
    images = np.zeros((n_times, n_planes, rows, cols), np.uint16)
    labels = np.zeros((n_times, n_planes, rows, cols), np.uint16)
    for t in range(n_times):
        for z in range(n_planes):
            signal = background.copy()
            for nucleus in nuclei:
                inside = _section(nucleus, z, rr, cc)
                if inside is None:
                    continue
                labels[t, z][inside & (labels[t, z] == 0)] = nucleus["id"]
                signal[inside] += nucleus["brightness"] * texture[inside]
            counts = rng.poisson(_blur(signal, 1.5) * photons).astype(np.float32)
            noisy = counts + rng.normal(0, read_noise, shape) + 32768
            images[t, z] = np.clip(noisy, 0, 65535).astype(np.uint16)
        for nucleus in nuclei:
            nucleus["centre"] = nucleus["centre"] + nucleus["velocity"]
            nucleus["radii"] = nucleus["radii"] * np.clip(1 + rng.normal(0, growth), 0.85, 1.15)
    return images, labels


def _section(nucleus: dict, z: int, rr: np.ndarray, cc: np.ndarray) -> np.ndarray | None:
    """The nucleus's cross-section on plane ``z`` (None when the plane misses it)."""
    (cz, cr, ccol), (az, ar, ac) = nucleus["centre"], nucleus["radii"]
    reach = 1 - ((z - cz) / az) ** 2
    if reach <= 0:
        return None
    inside = ((rr - cr) / ar) ** 2 + ((cc - ccol) / ac) ** 2 <= reach
    return inside if inside.any() else None
